"""Chapter ``b2_asymmetric``: the asymmetric parameterization converges linearly, at a rate set by alpha.

Gradient descent on :math:`UV^\\top` (paper B's :math:`FG^\\top`, Xiong, Ding & Du, ICLR 2024)
from the imbalanced start :math:`U_0=\\alpha\\tilde U`, :math:`V_0=\\tfrac\\alpha3\\tilde V`: with
``k = r`` the rate does not depend on :math:`\\alpha`; with ``k > r`` it is proportional to
:math:`\\alpha^2` and to :math:`\\eta`. Every rate is measured on ``instances`` independent
instances (target, operator and initialization re-drawn, :func:`opsense.instance_seeds`), and the
scalings are log-log slopes fitted per instance, reported with their 95% instance interval.
The **2x2 diagonal toy** (matrix factorization of :math:`\\mathrm{diag}(1,0)` from
:math:`U_0=\\alpha I`, :math:`V_0=\\tfrac\\alpha3 I`) makes the :math:`\\alpha^2` exact: its redundant
entry obeys a closed recursion in the imbalance :math:`\\Delta=f^2-g^2` and the product
:math:`p=fg` (:func:`diagonal_toy`, :func:`toy_recursion`, :func:`toy_rate`).

The experiments of the page: :func:`problems`, :func:`run_widths` (``k = r`` and ``k > r``
sweeps over alpha and eta, one batch of instances per condition), :func:`run_toy`,
:func:`rates`, and :func:`compare` (the PSD target of the previous chapter solved by
:math:`XX^\\top` and by :math:`UV^\\top`, on every instance).

Every horizon is derived from the predicted time scale of its run (:func:`horizons`): the
signal phase (:func:`opsense.signal_time`, twice) plus ``C2 / (eta alpha^2)`` for ``k > r`` and the toy,
``EXACT_SPAN * kappa / eta`` for ``k = r``, ``C_COMPARE / (eta alpha^2)`` for the comparison.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..config import Cost, gd_cost, parameter_check, regime
from ..analysis import burn_in_time, fit_power, fit_rate, late_rate, rate_ratio, signal_time
from ..claims import Claim, at_least, at_most, between, close
from ..engine.gd import GDResult, run_gd
from ..engine.operators import SensingOperator
from ..engine.problems import LowRankTarget, Problem, instance_seeds, make_problem, psd_problems
from ..plotting import figure, param_label, plot_curves, value_ticks
from ..stats import Interval, instance_interval_or_nan as _interval

__all__ = ["PRESETS", "FLOOR", "C1", "C2", "check", "cost", "horizons", "diagonal_toy", "toy_recursion",
           "toy_rate", "WidthRuns", "ToyRuns", "Rates", "Comparison", "problems", "run_widths", "run_toy",
           "rates", "compare", "summary_toy", "summary_rates", "summary_compare", "glue_values", "glue_fits",
           "claims", "plot_widths", "plot_toy_and_rates", "plot_compare", "evaluate"]

#: Parameter sets: ``book`` (n 20, about 15 s) and ``paper`` (n 50, r 3). ``iters``, ``iters_exact`` and
#: ``iters_compare`` are the horizons of the slowest run of each sweep, set to the horizon
#: :func:`horizons` derives from the predicted rates (a smaller value is raised to it); the other
#: runs of the sweep scale with it.
PRESETS = {
    "book": dict(n=20, r=2, kappa=2.0, m=600, k=4, instances=5, alphas_exact=[0.02, 0.05, 0.1, 0.2],
                 alphas=[0.14, 0.2, 0.28, 0.4], etas=[0.025, 0.05, 0.1], alpha_eta=0.4,
                 alphas_toy=[0.1, 0.2, 0.4], alpha=0.2, eta=0.1, iters_exact=1790, iters=6560,
                 iters_compare=4410, seed=0),
    "paper": dict(n=50, r=3, kappa=2.0, m=2000, k=5, instances=5, alphas_exact=[0.02, 0.05, 0.1, 0.2],
                  alphas=[0.14, 0.2, 0.28, 0.4], etas=[0.025, 0.05, 0.1], alpha_eta=0.4,
                  alphas_toy=[0.1, 0.2, 0.4], alpha=0.2, eta=0.1, iters_exact=1840, iters=6630,
                  iters_compare=4480, seed=0),
}

#: Fits ignore squared relative errors below this (the float64 floor is about 1e-30).
FLOOR = 1e-24
#: The ``k > r`` and toy fit windows: ``[C1, C2] / (eta alpha^2)`` after the signal phase.
C1, C2 = 8, 12
#: ``k = r`` horizon after the signal phase: ``EXACT_SPAN kappa / eta`` (the rate is of order
#: ``eta sigma_r = eta / kappa``; the error falls from 1e-4 to the floor in about 46 such times).
EXACT_SPAN = 60
#: The comparison's horizon after the signal phase, ``C_COMPARE / (eta alpha^2)`` (its window starts at C1).
C_COMPARE = 16
#: Largest step size: gradient descent is stable for eta <= 1/(3 sigma_1(A*(y))), sigma_1(X*) = 1.
MAX_ETA = 0.2
#: Largest condition number (the signal phase lasts about kappa times longer).
MAX_KAPPA = 10.0
#: Largest eta * alpha**2 of every scale: a small initialization, and the toy's 2% tolerance.
MAX_SCALE = 0.02
#: Largest number of entries of one operator (m x n x n floats).
MAX_ENTRIES = 50_000_000
#: Largest sensing work (iterations x runs x m x n**2 multiply-adds; about ten minutes).
MAX_WORK = 5e12
#: Largest horizon of a run (the loop is Python: about a minute per million iterations).
MAX_ITERS = 2_000_000
#: Largest number of scales in one list (the batch of a sweep).
MAX_SCALES = 20
#: Fewest and most independent instances (an interval needs several; the claims use at least 5).
MIN_INSTANCES, MAX_INSTANCES = 3, 50
#: Model tolerances of the three scaling slopes (see :func:`claims` and the page).
TOL_ALPHA, TOL_ETA, TOL_EXACT = 0.1, 0.1, 0.05
#: Model tolerances of the comparison's rate ratios (linear 1; power law: its own value on the window).
TOL_LINEAR, TOL_POWER = 0.1, 0.08


def horizons(P) -> dict:
    """The horizon of every run, derived from its predicted time scale, and scaled by the parameters.

    ``k > r`` and toy: ``2 signal_time(alpha, eta) + C2 / (eta alpha^2)`` (the fit window ends
    ``C2 / (eta alpha^2)`` after the signal phase); ``k = r``: ``2 signal_time + EXACT_SPAN kappa / eta``;
    comparison: ``2 signal_time + C_COMPARE / (eta alpha^2)``. Each sweep's derived horizons are
    multiplied by ``max(1, iters / (its largest))`` (``iters_exact``, ``iters_compare`` likewise): the
    presets run exactly the derived horizons, a larger ``iters`` lengthens every run of its sweep,
    and a smaller one is raised to the derived horizon (the claims need it).

    Parameters
    ----------
    P : Parameters
        Uses ``n, kappa, eta, alphas_exact, alphas, etas, alpha_eta, alphas_toy, alpha``, the three
        ``iters`` and the ``k > r`` conditions of ``conditions``.

    Returns
    -------
    dict
        ``"exact"``: list of int (per scale of ``alphas_exact``), ``"over"``: list of int (per
        condition), ``"toy"``: list of int (per scale of ``alphas_toy``), ``"compare"``: int;
        ``"need"``: the derived (unscaled) largest horizon of each sweep.
    """
    sig = lambda a, e: 2 * signal_time(a, eta=e, kappa=P.kappa, n=P.n)  # noqa: E731
    exact = [sig(a, P.eta) + EXACT_SPAN * P.kappa / P.eta for a in P.alphas_exact]
    over = [sig(a, e) + C2 / (e * a * a) for a, e in conditions(P)]
    toy = [C2 / (P.eta * a * a) + 1000 for a in P.alphas_toy]
    comp = sig(P.alpha, P.eta) + C_COMPARE / (P.eta * P.alpha ** 2)
    need = {"exact": max(exact), "over": max(over), "compare": comp}
    fx, fo = max(1.0, P.iters_exact / need["exact"]), max(1.0, P.iters / need["over"])
    up = lambda x: int(np.ceil(x / 10.0)) * 10  # noqa: E731  (a multiple of the record step)
    return {"exact": [up(fx * x) for x in exact], "over": [up(fo * x) for x in over],
            "toy": [up(fo * x) for x in toy], "compare": up(max(P.iters_compare, comp)), "need": need}


def conditions(P) -> list:
    """The ``k > r`` conditions ``(alpha, eta)``: ``alphas`` at ``eta``, then ``etas`` at ``alpha_eta``.

    A condition of the eta sweep that is already in the alpha sweep is run once.

    Parameters
    ----------
    P : Parameters

    Returns
    -------
    list of (float, float)
    """
    out = [(float(a), float(P.eta)) for a in P.alphas]
    for e in P.etas:
        c = (float(P.alpha_eta), float(e))
        if c not in out:
            out.append(c)
    return out


@parameter_check
def check(P) -> None:
    """Refuse infeasible parameters of the chapter, naming the parameter; warn outside the regime.

    **Regime** (what the claims are stated for; a run outside it goes ahead with an
    :class:`opsense.config.OutsideRegimeWarning`): ``10 <= n <= 60``, ``r <= n / 5``,
    ``1 <= k - r <= 3``, ``m >= 3 n (k + r)`` (the RIP of order ``k + r``, refused below), condition
    number ``kappa <= 4``, every scale ``alpha <= 0.4`` with ``eta alpha^2 <= 0.02`` (refused above),
    step sizes ``eta <= 0.1``, at least 5 instances, and sweeps wide enough for a slope:
    ``max(alphas) / min(alphas) >= 2``, ``max(etas) / min(etas) >= 2``,
    ``max(alphas_exact) / min(alphas_exact) >= 4``.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (attributes ``n, r, kappa, m, k, instances, alphas_exact,
        alphas, etas, alpha_eta, alphas_toy, alpha, eta, iters_exact, iters, iters_compare, seed``),
        types already checked.

    Raises
    ------
    ValueError
        For the first infeasible value: ``"parameter <name> must ..."``.
    """
    n, r, k, m = P.n, P.r, P.k, P.m
    if n < 2:
        raise ValueError(f"parameter n must be >= 2 (room for a redundant column), got {n}")
    if not 1 <= r <= n - 1:
        raise ValueError(f"parameter r must be in [1, n - 1] = [1, {n - 1}], got {r}")
    if not r < k <= n:
        raise ValueError(f"parameter k must satisfy r < k <= n (over-parameterized, r={r}, n={n}), got {k}")
    if not 1.0 <= P.kappa <= MAX_KAPPA:
        raise ValueError(f"parameter kappa must be in [1, {MAX_KAPPA:g}] (the signal phase lasts about kappa "
                         f"times longer), got {P.kappa}")
    for name in ("eta", "etas"):
        vals = getattr(P, name)
        vals = vals if isinstance(vals, list) else [vals]
        if any(e > MAX_ETA for e in vals):
            raise ValueError(f"parameter {name} must be <= {MAX_ETA} (gradient descent is stable for "
                             f"eta <= 1/(3 sigma_1(A*(y))), sigma_1(X*) = 1), got {getattr(P, name)}")
    if not MIN_INSTANCES <= P.instances <= MAX_INSTANCES:
        raise ValueError(f"parameter instances must be in [{MIN_INSTANCES}, {MAX_INSTANCES}] (an interval over "
                         f"independent instances), got {P.instances}")
    need_m = 3 * n * (k + r)
    if m < need_m:
        raise ValueError(f"parameter m must be >= 3 n (k + r) = {need_m} (the RIP of order k + r), got {m}")
    if m * n * n > MAX_ENTRIES:
        raise ValueError(f"parameter m must keep m * n**2 <= {MAX_ENTRIES:,} (the operators' memory), "
                         f"got {m} * {n}**2")
    for name, least in (("alphas_exact", 2), ("alphas", 3), ("etas", 3), ("alphas_toy", 1)):
        scales = list(getattr(P, name))
        if len(set(scales)) != len(scales) or not least <= len(scales) <= MAX_SCALES:
            why = {2: "a slope of rates", 3: "a log-log slope of rates", 1: "one toy run each"}[least]
            raise ValueError(f"parameter {name} must hold {least} to {MAX_SCALES} distinct values ({why}), "
                             f"got {scales}")
    for name in ("alphas_exact", "alphas", "alphas_toy", "alpha"):
        scales = getattr(P, name)
        scales = scales if isinstance(scales, list) else [scales]
        bad = [a for a in scales if P.eta * a * a > MAX_SCALE]
        if bad:
            raise ValueError(f"parameter {name} must have eta * alpha**2 <= {MAX_SCALE:g} (a small "
                             f"initialization; the toy's rate within 2%), got {bad} with eta = {P.eta:g}")
    bad = [e for e in P.etas if e * P.alpha_eta ** 2 > MAX_SCALE]
    if bad:
        raise ValueError(f"parameter alpha_eta must have eta * alpha_eta**2 <= {MAX_SCALE:g} for every eta of "
                         f"etas, got eta = {bad} with alpha_eta = {P.alpha_eta:g}")
    h = horizons(P)
    for name, key in (("iters_exact", "exact"), ("iters", "over"), ("iters_compare", "compare")):
        longest = max(h[key]) if isinstance(h[key], list) else h[key]
        if getattr(P, name) > MAX_ITERS or longest > MAX_ITERS:
            raise ValueError(f"parameter {name} must keep the horizons <= {MAX_ITERS:,} (run time), got "
                             f"{getattr(P, name)} (longest derived horizon {longest})")
    work = (float(sum(h["exact"])) + float(sum(h["over"])) + 2.0 * h["compare"]) * P.instances * m * n * n
    if work > MAX_WORK:
        raise ValueError(f"parameter iters must keep the sensing work (horizons x instances x m n**2) <= "
                         f"{MAX_WORK:.0e} (run time), got {work:.2e}")
    if P.seed < 0:
        raise ValueError(f"parameter seed must be an integer >= 0, got {P.seed}")
    ratio = lambda xs: max(xs) / min(xs)  # noqa: E731
    all_alphas = list(P.alphas_exact) + list(P.alphas) + [P.alpha_eta, P.alpha]
    regime("b2_asymmetric", [
        (10 <= n <= 60, f"10 <= n <= 60 (n = {n})"),
        (5 * r <= n, f"r <= n / 5 (r = {r}, n = {n})"),
        (k - r <= 3, f"k - r <= 3 (k - r = {k - r})"),
        (P.kappa <= 4, f"kappa <= 4 (kappa = {P.kappa:g})"),
        (max(all_alphas) <= 0.4, f"alpha <= 0.4 (largest {max(all_alphas):g})"),
        (max(list(P.etas) + [P.eta]) <= 0.1, f"eta <= 0.1 (largest {max(list(P.etas) + [P.eta]):g})"),
        (P.instances >= 5, f"at least 5 instances ({P.instances})"),
        (ratio(P.alphas) >= 2, f"max(alphas) / min(alphas) >= 2 ({ratio(P.alphas):.3g})"),
        (ratio(P.etas) >= 2, f"max(etas) / min(etas) >= 2 ({ratio(P.etas):.3g})"),
        (ratio(P.alphas_exact) >= 4, f"max(alphas_exact) / min(alphas_exact) >= 4 ({ratio(P.alphas_exact):.3g})"),
    ])


def cost(P) -> Cost:
    """What the chapter's runs cost, from the parameters alone (pure arithmetic, nothing is run).

    ``work`` sums :func:`run_widths` (``instances`` runs per scale of ``alphas_exact`` at ``k = r``
    and per ``k > r`` condition, each of its horizon from :func:`horizons`), :func:`run_toy`
    (``len(alphas_toy)`` 2 x 2 identity runs) and :func:`compare` (two batches of ``instances`` runs
    of the comparison horizon), each Gaussian step ``n^2 (2 m + 3 k)``. ``memory_bytes``: the
    ``instances`` general operators (``m x n^2`` each) of :func:`problems` and the ``2 instances``
    operators of :func:`compare`, held together, and the factors and curves of the batches.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (already checked by :func:`check`).

    Returns
    -------
    opsense.config.Cost
    """
    n, r, m, k, B = int(P.n), int(P.r), int(P.m), int(P.k), int(P.instances)
    g = dict(m=m, n1=n, n2=n, r=r)
    h = horizons(P)
    batches = [gd_cost(B, T, k=r, every=max(1, T // 500), **g) for T in h["exact"]]
    batches += [gd_cost(B, T, k=k, every=max(1, T // 500), **g) for T in h["over"]]
    batches += [gd_cost(1, T, m=0, n1=2, n2=2, k=2, r=1, every=10) for T in h["toy"]]
    batches += [gd_cost(B, h["compare"], k=k, every=max(1, h["compare"] // 400), **g)] * 2
    work = sum(w for w, _ in batches)
    memory = 8.0 * (3 * B * m * n * n + 2 * sum(h["toy"])) + sum(b for _, b in batches)
    return Cost(memory_bytes=memory, work=work,
                drivers=("iters", "instances", "alphas", "etas", "m", "n", "iters_compare", "iters_exact",
                         "alphas_exact"))


# ---------------------------------------------------------------------------- the 2x2 toy
def diagonal_toy(alpha, *, ratio: float = 1 / 3) -> tuple[Problem, tuple[np.ndarray, np.ndarray]]:
    """The 2x2 diagonal toy problem of the asymmetric parameterization.

    Matrix factorization (identity operator) of :math:`\\Sigma=\\mathrm{diag}(1,0)`
    with :math:`k=2>r=1`, from :math:`U_0=\\alpha I_2`, :math:`V_0=\\mathrm{ratio}\\cdot\\alpha I_2`
    (paper B's :math:`F_0, G_0`). Gradient descent keeps both factors diagonal; the
    :math:`(2,2)` entries follow :func:`toy_recursion`.

    Parameters
    ----------
    alpha : float > 0 or sequence of them
        Initialization scale(s); a sequence gives stacked initial factors (one per run).
    ratio : float in (0, 1), keyword-only
        Scale of :math:`V_0` relative to :math:`U_0` (paper B uses 1/3).

    Returns
    -------
    problem : Problem
    init : (U0, V0)
        Arrays of shape (2, 2), or (B, 2, 2) for a sequence of ``alpha``; pass as
        ``run_gd(problem, init=init, ...)``.
    """
    alphas = v.sweep("alpha", alpha, lambda nm, x: v.real(nm, x, positive=True))
    ratio = v.real("ratio", ratio, positive=True, below=1.0)
    target = LowRankTarget(X=np.diag([1.0, 0.0]), U=np.array([[1.0], [0.0]]), V=np.array([[1.0], [0.0]]),
                           sigma=np.array([1.0]), psd=False)
    prob = Problem.from_parts(target, SensingOperator.identity(2, 2))
    U0 = np.stack([a * np.eye(2) for a in alphas])
    V0 = ratio * U0
    if np.ndim(alpha) == 0:
        U0, V0 = U0[0], V0[0]
    return prob, (U0, V0)


def toy_recursion(alpha: float, *, eta: float, iters: int, ratio: float = 1 / 3) -> tuple[np.ndarray, np.ndarray]:
    """Closed recursion of the redundant entry of the 2x2 toy.

    With :math:`\\Delta_t=f_t^2-g_t^2` and :math:`p_t=f_tg_t` (the :math:`(2,2)` entries of
    :math:`U_t, V_t`), gradient descent gives exactly
    :math:`\\Delta_{t+1}=(1-\\eta^2p_t^2)\\Delta_t` and
    :math:`p_{t+1}=p_t\\,(1-\\eta\\sqrt{\\Delta_t^2+4p_t^2}+\\eta^2p_t^2)`,
    from :math:`\\Delta_0=(1-\\mathrm{ratio}^2)\\alpha^2`, :math:`p_0=\\mathrm{ratio}\\,\\alpha^2`.

    Parameters
    ----------
    alpha : float > 0
    eta : float > 0, keyword-only
    iters : int >= 1, keyword-only
    ratio : float in (0, 1), keyword-only

    Returns
    -------
    Delta, p : ndarrays of shape (iters + 1,)
    """
    alpha = v.real("alpha", alpha, positive=True)
    eta = v.real("eta", eta, positive=True)
    iters = v.integer("iters", iters, minimum=1)
    ratio = v.real("ratio", ratio, positive=True, below=1.0)
    if eta * alpha ** 2 * (1 + ratio ** 2) >= 1:
        raise ValueError(f"alpha and eta must satisfy eta * alpha**2 * (1 + ratio**2) < 1, "
                         f"got {eta * alpha ** 2 * (1 + ratio ** 2):.3g}")
    D = np.empty(iters + 1)
    p = np.empty(iters + 1)
    D[0], p[0] = (1 - ratio ** 2) * alpha ** 2, ratio * alpha ** 2
    for t in range(iters):
        D[t + 1] = D[t] * (1 - eta ** 2 * p[t] ** 2)
        p[t + 1] = p[t] * (1 - eta * np.sqrt(D[t] ** 2 + 4 * p[t] ** 2) + eta ** 2 * p[t] ** 2)
    return D, p


def toy_rate(alpha, *, eta: float, ratio: float = 1 / 3):
    """Predicted asymptotic rate :math:`2\\eta(1-\\mathrm{ratio}^2)\\alpha^2` of the toy's squared error.

    For ``ratio = 1/3`` this is :math:`\\tfrac{16}{9}\\eta\\alpha^2` per iteration
    (first order in :math:`\\eta\\alpha^2`).

    Parameters
    ----------
    alpha : float > 0 or array_like
    eta : float > 0, keyword-only
    ratio : float in (0, 1), keyword-only

    Returns
    -------
    float or ndarray
    """
    a = np.asarray(alpha, dtype=np.float64)
    if a.size == 0 or np.any(~np.isfinite(a)) or np.any(a <= 0):
        raise ValueError(f"alpha must contain finite values > 0, got {alpha!r}")
    eta = v.real("eta", eta, positive=True)
    ratio = v.real("ratio", ratio, positive=True, below=1.0)
    out = 2.0 * eta * (1.0 - ratio ** 2) * a ** 2
    return float(out) if out.ndim == 0 else out


# ---------------------------------------------------------------------------- the experiments
def _nan_if_unmeasurable(fn, *args, **kwargs):
    """``fn(...)``, or NaN when the curve does not allow the fit (a claim on it then fails)."""
    try:
        return fn(*args, **kwargs)
    except ValueError:
        return float("nan")


def _estimate(fit) -> float:
    return fit if isinstance(fit, float) else fit.estimate


def _r2(fit) -> float:
    return fit if isinstance(fit, float) else fit.r2




def _inside(iv) -> dict:
    """``test="inside"`` for an interval; nothing for a NaN (a failed fit: the claim then fails)."""
    return {"test": "inside"} if isinstance(iv, Interval) else {}


def problems(P) -> list:
    """The ``instances`` sensing problems: general rank-``r`` targets measured by ``m`` Gaussian matrices.

    Instance ``i`` draws its target, its operator and (in :func:`run_widths`) its initialization
    from ``opsense.instance_seeds(seed, instances)[i]``.

    Parameters
    ----------
    P : Parameters
        Uses ``n, r, m, kappa, instances, seed``.

    Returns
    -------
    list of Problem
    """
    return [make_problem(P.n, P.n, P.r, P.m, kappa=P.kappa, seed=s) for s in instance_seeds(P.seed, P.instances)]


def _run_until(probs, sigma, T: int, after: float, **kw) -> GDResult:
    """One batch of :func:`opsense.run_gd` on ``probs`` with horizon ``T``, run again once, longer, if
    a run's signal phase ended too late for its window (``t_b + after > T``): the criterion, not the
    estimate, decides the horizon."""
    res = run_gd(probs, iters=T, record_every=max(1, T // 500), **kw)
    t_b = np.array([burn_in_time(res.member(b), sigma[b])[0] for b in range(res.batch_size)])
    late = np.where(np.isfinite(t_b), t_b, 2.0 * T) + after
    if np.all(late <= T):
        return res
    T2 = int(np.ceil(1.25 * late.max() / 10.0)) * 10
    return run_gd(probs, iters=T2, record_every=max(1, T2 // 500), **kw)


@dataclass(frozen=True)
class WidthRuns:
    """The sweeps from paper B's imbalanced start, one batch of instances per condition.

    Attributes
    ----------
    exact : list of GDResult
        ``k = r``, one batch per scale of ``alphas_exact``; curves of shape (instances, T_a).
    over : list of GDResult
        ``k > r``, one batch per condition of ``conditions``; curves of shape (instances, T_c).
    alphas_exact : ndarray of shape (A,)
    conds : ndarray of shape (C, 2)
        The ``(alpha, eta)`` of each ``k > r`` condition.
    alpha_idx, eta_idx : ndarray of int
        Rows of ``conds`` forming the alpha sweep (at ``eta``) and the eta sweep (at ``alpha_eta``).
    r, k : int
    sigma : ndarray of shape (instances, r)
        Singular values of each instance's target.
    """

    exact: list
    over: list
    alphas_exact: np.ndarray
    conds: np.ndarray
    alpha_idx: np.ndarray
    eta_idx: np.ndarray
    r: int
    k: int
    sigma: np.ndarray


def run_widths(P, probs: list) -> WidthRuns:
    """Run the ``k = r`` and the ``k > r`` sweeps (``init="imbalanced"``), one batch of instances each.

    Each call of :func:`opsense.run_gd` takes the list of the instances' problems (each its own
    operator) with their own initialization seeds, at one condition and its own horizon
    (:func:`horizons`); within an instance, only alpha and eta change between conditions.

    Parameters
    ----------
    P : Parameters
    probs : list of Problem
        From :func:`problems`.

    Returns
    -------
    WidthRuns
    """
    seeds = instance_seeds(P.seed, P.instances)
    h = horizons(P)
    sigma = [p.target.sigma for p in probs]
    kw = dict(init="imbalanced", seed=seeds)
    exact = [_run_until(probs, sigma, T, EXACT_SPAN * P.kappa / (2 * P.eta), k=P.r, alpha=a, eta=P.eta, **kw)
             for a, T in zip(P.alphas_exact, h["exact"])]
    conds = conditions(P)
    over = [_run_until(probs, sigma, T, C2 / (e * a * a), k=P.k, alpha=a, eta=e, **kw)
            for (a, e), T in zip(conds, h["over"])]
    alpha_idx = [conds.index((float(a), float(P.eta))) for a in P.alphas]
    eta_idx = [conds.index((float(P.alpha_eta), float(e))) for e in P.etas]
    sigma = np.stack([p.target.sigma for p in probs])
    return WidthRuns(exact, over, np.array(P.alphas_exact, dtype=float), np.array(conds), np.array(alpha_idx),
                     np.array(eta_idx), P.r, P.k, sigma)


@dataclass(frozen=True)
class ToyRuns:
    """The 2x2 toy, one run per scale, against its closed recursion.

    Attributes
    ----------
    result : GDResult
        Curves of shape (len(alphas), T).
    alphas : ndarray of shape (J,)
    eta : float
    p_gap, d_gap : float
        Largest relative gap at the last iterate between GD and the recursion, for ``p`` and ``Delta``.
    d_keep : ndarray of shape (J,)
        ``Delta_T / Delta_0`` of the recursion.
    d_lower : ndarray of shape (J,)
        The proved lower bound ``1 - eta alpha^2 / 2``.
    """

    result: GDResult
    alphas: np.ndarray
    eta: float
    p_gap: float
    d_gap: float
    d_keep: np.ndarray
    d_lower: np.ndarray


def run_toy(P) -> ToyRuns:
    """Run the toy for every scale of ``alphas_toy`` (the toy horizon of :func:`horizons` of the
    smallest scale) and compare it with :func:`toy_recursion`.

    Parameters
    ----------
    P : Parameters
        Uses ``alphas_toy, eta`` and the horizons.

    Returns
    -------
    ToyRuns
    """
    T = max(horizons(P)["toy"])
    toy, init = diagonal_toy(P.alphas_toy)
    rt = run_gd(toy, init=init, eta=P.eta, iters=T, record_every=10)
    rec = [toy_recursion(a, eta=P.eta, iters=T) for a in P.alphas_toy]
    f, g = rt.U[:, 1, 1], rt.V[:, 1, 1]
    p_gap = max(abs(f[b] * g[b] / rec[b][1][-1] - 1) for b in range(len(rec)))
    d_gap = max(abs((f[b] ** 2 - g[b] ** 2) / rec[b][0][-1] - 1) for b in range(len(rec)))
    d_keep = np.array([D[-1] / D[0] for D, _ in rec])
    a = np.array(P.alphas_toy, dtype=float)
    return ToyRuns(rt, a, P.eta, float(p_gap), float(d_gap), d_keep, 1 - P.eta * a ** 2 / 2)


@dataclass(frozen=True)
class Rates:
    """The fitted rates of the sweeps, per condition and instance, and the slopes per instance.

    Attributes
    ----------
    alphas_exact : ndarray of shape (A,)
    rate_x : ndarray of shape (A, I)
        ``k = r``: late rate per iteration of the squared relative error (:func:`opsense.late_rate`),
        per scale and instance.
    r2_x : float
        Smallest semilog R^2 of those fits.
    slope_x : ndarray of shape (I,)
        Per instance, log-log slope of ``rate_x`` against ``alphas_exact`` (predicted 0).
    conds : ndarray of shape (C, 2)
        ``(alpha, eta)`` of the ``k > r`` conditions.
    rate_o : ndarray of shape (C, I)
        ``k > r``: rates on ``[t_b + C1, t_b + C2] / (eta alpha^2)`` per condition and instance.
    r2_o : float
        Smallest semilog R^2 of those fits.
    alphas, etas : ndarray
        The two sweeps (``alphas`` at ``eta``, ``etas`` at ``alpha_eta``).
    alpha_idx, eta_idx : ndarray of int
        Their rows of ``conds`` / ``rate_o``.
    slope_a, slope_e : ndarray of shape (I,)
        Per instance, log-log slope of the rate against alpha (predicted 2) and eta (predicted 1).
    alphas_toy : ndarray of shape (L,)
    rate_t, pred_t : ndarray of shape (L,)
        The toy's fitted rates and :func:`toy_rate`.
    eta : float
    r, k : int
    """

    alphas_exact: np.ndarray
    rate_x: np.ndarray
    r2_x: float
    slope_x: np.ndarray
    conds: np.ndarray
    rate_o: np.ndarray
    r2_o: float
    alphas: np.ndarray
    etas: np.ndarray
    alpha_idx: np.ndarray
    eta_idx: np.ndarray
    slope_a: np.ndarray
    slope_e: np.ndarray
    alphas_toy: np.ndarray
    rate_t: np.ndarray
    pred_t: np.ndarray
    eta: float
    r: int
    k: int

    @property
    def c_o(self) -> np.ndarray:
        """``rate_o / (eta alpha^2)`` per condition and instance, ``ndarray of shape (C, I)``."""
        return self.rate_o / (self.conds[:, 1:] * self.conds[:, :1] ** 2)

    @property
    def iv_alpha(self):
        """Instance interval of ``slope_a`` (NaN if a slope is missing)."""
        return _interval(self.slope_a)

    @property
    def iv_eta(self):
        """Instance interval of ``slope_e``."""
        return _interval(self.slope_e)

    @property
    def iv_exact(self):
        """Instance interval of ``slope_x``."""
        return _interval(self.slope_x)


def _window_rates(res: GDResult, alpha, eta, sigma):
    """Per run of a batch (one condition): the rate on ``[t_b + C1, t_b + C2] / (eta alpha^2)``."""
    t_b = np.array([burn_in_time(res.member(b), sigma[b])[0] for b in range(res.batch_size)])
    fits = [_nan_if_unmeasurable(fit_rate, res.t, res.rel_error[b] ** 2, floor=FLOOR,
                                 window=(t_b[b] + C1 / (eta * alpha ** 2), t_b[b] + C2 / (eta * alpha ** 2)))
            if np.isfinite(t_b[b]) and t_b[b] + C2 / (eta * alpha ** 2) <= res.t[-1] else float("nan")
            for b in range(res.batch_size)]
    return np.array([_estimate(f) for f in fits]), np.array([_r2(f) for f in fits])


def _slopes(x, rates):
    """Per instance (column of ``rates``), the log-log slope against ``x``; NaN where unmeasurable."""
    out = []
    for col in np.asarray(rates).T:
        ok = np.all(np.isfinite(col)) and np.all(col > 0)
        out.append(fit_power(x, col).estimate if ok else float("nan"))
    return np.array(out)


def rates(runs: WidthRuns, toy: ToyRuns) -> Rates:
    """Fit the rates: late fits for ``k = r``, windows after the signal phase for ``k > r`` and the toy.

    Parameters
    ----------
    runs : WidthRuns
    toy : ToyRuns

    Returns
    -------
    Rates
    """
    if not isinstance(runs, WidthRuns) or not isinstance(toy, ToyRuns):
        raise ValueError("runs must be a WidthRuns and toy a ToyRuns")
    rate_x, r2_x = [], []
    for res in runs.exact:
        row, r2 = [], []
        for b in range(res.batch_size):
            t_b = burn_in_time(res.member(b), runs.sigma[b])[0]
            f = (_nan_if_unmeasurable(late_rate, res.t, res.rel_error[b] ** 2, start=t_b, floor=FLOOR)
                 if np.isfinite(t_b) else float("nan"))
            row.append(_estimate(f))
            r2.append(_r2(f))
        rate_x.append(row)
        r2_x.append(r2)
    rate_x = np.array(rate_x)
    rate_o, r2_o = zip(*[_window_rates(res, a, e, runs.sigma) for res, (a, e) in zip(runs.over, runs.conds)])
    rate_o = np.array(rate_o)
    alphas = runs.conds[runs.alpha_idx, 0]
    etas = runs.conds[runs.eta_idx, 1]
    eta = float(runs.conds[runs.alpha_idx[0], 1])
    rate_t = np.array([_window_rates(toy.result.member(b), a, eta, [[1.0]])[0][0]
                       for b, a in enumerate(toy.alphas)])
    return Rates(runs.alphas_exact, rate_x, float(np.nanmin(r2_x)) if np.isfinite(r2_x).all() else float("nan"),
                 _slopes(runs.alphas_exact, rate_x), runs.conds, rate_o,
                 float(np.min(r2_o)) if np.isfinite(r2_o).all() else float("nan"), alphas, etas,
                 runs.alpha_idx, runs.eta_idx, _slopes(alphas, rate_o[runs.alpha_idx]),
                 _slopes(etas, rate_o[runs.eta_idx]), toy.alphas, rate_t,
                 np.atleast_1d(toy_rate(toy.alphas, eta=eta)), eta, runs.r, runs.k)


@dataclass(frozen=True)
class Comparison:
    """The PSD targets of the previous chapter, solved by ``XX^T`` and by ``UV^T``, on every instance.

    Attributes
    ----------
    symmetric, asymmetric : GDResult
        One run per instance (curves of shape (instances, T)): symmetric GD with the symmetrized
        operator, asymmetric GD (``init="imbalanced"``) with a general operator of the same ``m``.
    windows : ndarray of shape (instances, 2)
        ``(t_b + C1 / (eta alpha^2), T)`` per instance, ending earlier if the ``UV^T`` error nears the floor.
    ratio_sym, ratio_asym : ndarray of shape (instances,)
        :func:`opsense.rate_ratio` on each window: ``XX^T`` and ``UV^T``.
    ratio_power : ndarray of shape (instances,)
        The same for any pure power law ``t^-gamma`` on the same window (independent of ``gamma``).
    r2_asym : ndarray of shape (instances,)
        Semilog R^2 of the ``UV^T`` fit on each window.
    err_sym, err_asym : ndarray of shape (instances,)
        Final squared relative errors; ``final = err_asym / err_sym``.
    k : int
    alpha : float
    """

    symmetric: GDResult
    asymmetric: GDResult
    windows: np.ndarray
    ratio_sym: np.ndarray
    ratio_asym: np.ndarray
    ratio_power: np.ndarray
    r2_asym: np.ndarray
    err_sym: np.ndarray
    err_asym: np.ndarray
    k: int
    alpha: float

    @property
    def final(self) -> np.ndarray:
        """``err_asym / err_sym`` per instance."""
        return self.err_asym / self.err_sym


def compare(P) -> Comparison:
    """Solve the PSD targets of chapter ``b1_symmetric`` (same size and spectrum) both ways, per instance.

    Parameters
    ----------
    P : Parameters
        Uses ``n, r, m, kappa, k, alpha, eta, instances, seed`` and the comparison horizon.

    Returns
    -------
    Comparison
    """
    seeds = instance_seeds(P.seed, P.instances)
    pp = [psd_problems(P.n, P.r, P.m, kappa=P.kappa, seed=s) for s in seeds]
    T = horizons(P)["compare"]
    kw = dict(k=P.k, alpha=P.alpha, eta=P.eta, iters=T, seed=seeds, record_every=max(1, T // 400))
    cs = run_gd([p.symmetric for p in pp], parameterization="symmetric", **kw)
    ca = run_gd([p.general for p in pp], init="imbalanced", **kw)
    tc = cs.t
    out = {key: [] for key in ("w", "rs", "ra", "rp", "r2")}
    for b, p in enumerate(pp):
        t_b = burn_in_time(ca.member(b), p.general.target.sigma)[0]
        e2s, e2a = cs.rel_error[b] ** 2, ca.rel_error[b] ** 2
        above = tc[e2a > 1e6 * FLOOR]                   # end the window before the float64 floor
        wc = (float(t_b + C1 / (P.eta * P.alpha ** 2)), float(min(T, above[-1])))
        ok = np.isfinite(wc[0]) and wc[0] < wc[1]
        fit = _nan_if_unmeasurable(fit_rate, tc, e2a, window=wc, floor=FLOOR) if ok else float("nan")
        out["w"].append(wc)
        out["rs"].append(_nan_if_unmeasurable(rate_ratio, tc, e2s, window=wc) if ok else float("nan"))
        out["ra"].append(_nan_if_unmeasurable(rate_ratio, tc, e2a, window=wc, floor=FLOOR) if ok else float("nan"))
        out["rp"].append(_nan_if_unmeasurable(rate_ratio, tc[1:], tc[1:] ** -2.0, window=wc) if ok
                         else float("nan"))
        out["r2"].append(_r2(fit))
    return Comparison(cs, ca, np.array(out["w"]), np.array(out["rs"]), np.array(out["ra"]), np.array(out["rp"]),
                      np.array(out["r2"]), cs.rel_error[:, -1] ** 2, ca.rel_error[:, -1] ** 2, P.k, P.alpha)


# ---------------------------------------------------------------------------- printed tables, glue, claims
def summary_toy(toy: ToyRuns) -> str:
    """The gaps between GD and the recursion, and the kept imbalance against its proved bound.

    Parameters
    ----------
    toy : ToyRuns
    """
    return (f"GD vs closed recursion at t = {toy.result.t[-1]}: p {toy.p_gap:.1e}, Delta {toy.d_gap:.1e} "
            f"(relative)\n"
            f"Delta_T / Delta_0: {', '.join(f'{x:.5f}' for x in toy.d_keep)} | proved lower bounds: "
            f"{', '.join(f'{x:.5f}' for x in toy.d_lower)}")


def _fmt(iv) -> str:
    return str(iv) if isinstance(iv, Interval) else "nan (a fit failed)"


def summary_rates(rt: Rates) -> str:
    """The rates of the sweeps (mean over instances), the slopes with their instance intervals, the toy.

    Parameters
    ----------
    rt : Rates
    """
    mean = lambda x: ", ".join(f"{v:.3g}" for v in np.mean(x, axis=1))  # noqa: E731
    return "\n".join([
        f"k = r : mean rates {mean(rt.rate_x)} at alpha = {', '.join(f'{a:g}' for a in rt.alphas_exact)} "
        f"| min R^2 {rt.r2_x:.5f}",
        f"        slope vs alpha (predicted 0): {_fmt(rt.iv_exact)}",
        f"k > r : mean rates {mean(rt.rate_o[rt.alpha_idx])} at alpha = {', '.join(f'{a:g}' for a in rt.alphas)} "
        f"(eta {rt.eta:g}) | min R^2 {rt.r2_o:.4f}",
        f"        slope vs alpha (predicted 2): {_fmt(rt.iv_alpha)}",
        f"        mean rates {mean(rt.rate_o[rt.eta_idx])} at eta = {', '.join(f'{e:g}' for e in rt.etas)} "
        f"(alpha {rt.conds[rt.eta_idx[0], 0]:g})",
        f"        slope vs eta (predicted 1): {_fmt(rt.iv_eta)}",
        f"        rate / (eta alpha^2): {rt.c_o.min():.3f} to {rt.c_o.max():.3f} over conditions and instances",
        f"toy   : {', '.join(f'{x:.3e}' for x in rt.rate_t)} | (16/9) eta alpha^2: "
        f"{', '.join(f'{x:.3e}' for x in rt.pred_t)}",
    ])


def summary_compare(cmp: Comparison) -> str:
    """The rate ratios on the windows and the final errors, as instance intervals.

    Parameters
    ----------
    cmp : Comparison
    """
    return (f"rate ratio 2nd / 1st half of the window: XX^T {_fmt(_interval(cmp.ratio_sym))} (any power law "
            f"{_fmt(_interval(cmp.ratio_power))}), FG^T {_fmt(_interval(cmp.ratio_asym))} (linear 1)\n"
            f"FG^T semilog R^2 on the window: smallest {np.min(cmp.r2_asym):.5f}\n"
            f"final squared relative errors: XX^T {_fmt(_interval(cmp.err_sym, log=True))}, "
            f"FG^T {_fmt(_interval(cmp.err_asym, log=True))}; paired ratio {_fmt(_interval(cmp.final, log=True))}")


def _g(iv, attr):
    return float(getattr(iv, attr)) if isinstance(iv, Interval) else float("nan")


def glue_values(rt: Rates, toy: ToyRuns, cmp: Comparison) -> dict:
    """The numbers the chapter's prose quotes, by glue name (glued with 3 significant digits).

    Parameters
    ----------
    rt : Rates
    toy : ToyRuns
    cmp : Comparison
    """
    out = {"b2_instances": int(rt.rate_o.shape[1])}
    for key, iv in (("exact", rt.iv_exact), ("alpha", rt.iv_alpha), ("eta", rt.iv_eta),
                    ("ratio_sym", _interval(cmp.ratio_sym)), ("ratio_asym", _interval(cmp.ratio_asym)),
                    ("ratio_power", _interval(cmp.ratio_power)), ("final", _interval(cmp.final, log=True))):
        for attr in ("mean", "lo", "hi"):
            out[f"b2_{key}_{attr}"] = _g(iv, attr)
    out.update({
        "b2_rate_x_min": float(np.mean(rt.rate_x, axis=1).min()),
        "b2_rate_x_max": float(np.mean(rt.rate_x, axis=1).max()),
        "b2_c_min": float(rt.c_o.min()), "b2_c_max": float(rt.c_o.max()),
        "b2_toy_dev": float(np.max(np.abs(rt.rate_t / rt.pred_t - 1))), "b2_p_gap": max(toy.p_gap, toy.d_gap),
        "b2_T": int(cmp.symmetric.t[-1]),
    })
    return out


def glue_fits(rt: Rates, cmp: Comparison) -> dict:
    """The R^2 the prose quotes, rounded to 5 decimals (glue them with 5 significant digits).

    Parameters
    ----------
    rt : Rates
    cmp : Comparison
    """
    return {"b2_r2_o": round(rt.r2_o, 5), "b2_r2_a": round(float(np.min(cmp.r2_asym)), 5)}


def claims(rt: Rates, toy: ToyRuns, cmp: Comparison) -> list[Claim]:
    """The chapter's claims (the page states the basis of each tolerance).

    Parameters
    ----------
    rt : Rates
    toy : ToyRuns
    cmp : Comparison

    Returns
    -------
    list of Claim
    """
    excess = float(np.max(np.maximum(toy.d_lower - toy.d_keep, toy.d_keep - 1.0)))
    n = rt.rate_o.shape[1]
    out = [
        between("b2.exact-linear", f"k = r: smallest semilog R^2 of the late fits ({n} instances x scales)",
                rt.r2_x, 0.999, 1.0, basis="theory", tolerance="straight semilog line"),
        close("b2.exact-alpha-free", "k = r: log-log slope of the rate against alpha, per instance",
              rt.iv_exact, 0.0, atol=TOL_EXACT, basis="theory", form="scaling",
              tolerance=f"±{TOL_EXACT:g} around 0 (the late fit mixes near-equal slow modes: a few % per "
                        "instance); excludes the k > r slope 2 and any slope >= 0.1"),
        between("b2.overparam-linear", f"k > r: smallest semilog R^2 of the window fits ({n} instances x conditions)",
                rt.r2_o, 0.99, 1.0, basis="theory", tolerance="straight semilog line on the window"),
        close("b2.overparam-alpha2", "k > r: log-log slope of the rate against alpha, per instance", rt.iv_alpha,
              2.0, atol=TOL_ALPHA, basis="theory", form="scaling",
              tolerance=f"±{TOL_ALPHA:g} around 2 (Thm 1.3; O(eta alpha^2) and drift corrections); "
                        "excludes slopes 1 and 3"),
        close("b2.overparam-eta1", "k > r: log-log slope of the rate against eta, per instance", rt.iv_eta,
              1.0, atol=TOL_ETA, basis="derived-on-page", form="scaling",
              tolerance=f"±{TOL_ETA:g} around 1 (rate 2 eta lambda: finite-eta and drift corrections); "
                        "excludes slopes 0.5 and 2"),
        between("b2.toy-recursion", "toy: GD vs the closed (Delta, p) recursion, rel. gap",
                max(toy.p_gap, toy.d_gap), 0.0, 1e-9, basis="identity", tolerance="exact identity; float64 rounding"),
        at_most("b2.toy-imbalance", "toy: largest excess of Delta_T / Delta_0 beyond [1 - eta alpha^2 / 2, 1]",
                excess, 0.0, basis="derived-on-page", tolerance="proved"),
    ]
    for a, x, p in zip(rt.alphas_toy, rt.rate_t, rt.pred_t):
        out.append(close(f"b2.toy-rate-a{a:g}", f"toy, alpha = {a:g}: rate of the squared error", x, p,
                         rtol=0.02, basis="derived-on-page", tolerance="2%: proposition, eta alpha^2 <= 0.02"))
    out += [
        at_most("b2.compare-orders", "PSD target: final error FG^T / XX^T at the same t, paired per instance",
                _interval(cmp.final, log=True), 0.1, basis="specification", form="paired-ratio",
                **_inside(_interval(cmp.final, log=True)),
                tolerance="an order of magnitude or more (XX^T about 1/(eta T)^2; FG^T e^(-0.4 x 16) x 1e-4 "
                          "at the slowest rate constant measured)"),
        close("b2.compare-asym-linear", "PSD target, FG^T: rate ratio 2nd / 1st half of the window",
              _interval(cmp.ratio_asym), 1.0, atol=TOL_LINEAR, basis="theory", form="value",
                **_inside(_interval(cmp.ratio_asym)),
              tolerance=f"linear: 1 ±{TOL_LINEAR:g} (slower redundant modes still decaying); "
                        "a power law gives about 0.7"),
        between("b2.compare-asym-fit", "PSD target, FG^T: smallest semilog R^2 on the windows",
                float(np.min(cmp.r2_asym)), 0.99, 1.0, basis="theory", tolerance="straight semilog line"),
        close("b2.compare-sym-sublinear", "PSD target, XX^T: rate ratio 2nd / 1st half of the window",
              _interval(cmp.ratio_sym), float(np.mean(cmp.ratio_power)), atol=TOL_POWER, basis="theory",
              form="value",
                **_inside(_interval(cmp.ratio_sym)),
              tolerance=f"any power law t^-gamma: {np.mean(cmp.ratio_power):.2f} ±{TOL_POWER:g} (the tail's time "
                        "offset); linear: 1"),
    ]
    return out


# ---------------------------------------------------------------------------- figures
def plot_widths(runs: WidthRuns):
    """The squared relative errors of the first instance's ``k = r`` and ``k > r`` alpha sweeps (semilog).

    Parameters
    ----------
    runs : WidthRuns

    Returns
    -------
    fig, (ax_exact, ax_over)
    """
    if not isinstance(runs, WidthRuns):
        raise ValueError(f"runs must be a WidthRuns, got {type(runs).__name__}")
    fig, axes = figure(2, width=9.6, height=3.8)
    ax = axes[0]
    for res, a in zip(runs.exact, runs.alphas_exact):
        ax.semilogy(res.t, res.rel_error[0] ** 2, label=f"FGᵀ, {param_label('alpha', float(a))}")
    ax.set(xlabel="iteration t", ylabel="squared relative error", title=f"k = {runs.r} = r (instance 1)")
    ax = axes[1]
    for i in runs.alpha_idx:
        res, a = runs.over[i], runs.conds[i, 0]
        ax.semilogy(res.t, res.rel_error[0] ** 2, label=f"FGᵀ, {param_label('alpha', float(a))}")
    ax.set(xlabel="iteration t", ylabel="squared relative error",
           title=f"k = {runs.k} > r (instance 1, {param_label('eta', float(runs.conds[runs.alpha_idx[0], 1]))})")
    for ax in axes:
        ax.set_ylim(1e-31, 10)
        ax.legend()
    return fig, tuple(axes)


def _points(ax, x, values, marker, label):
    """Every instance as a faint point, the mean as a line, the 95% interval as an error bar."""
    values = np.asarray(values, dtype=float)
    for col in values.T:
        ax.plot(x, col, marker, alpha=0.35, ms=4, color="0.4", ls="none")
    mean = values.mean(axis=1)
    if values.shape[1] >= 2:
        half = np.array([_interval(row).halfwidth if isinstance(_interval(row), Interval) else 0.0
                         for row in values])
    else:
        half = np.zeros_like(mean)
    ax.errorbar(x, mean, yerr=half, fmt=marker + "-", capsize=3, label=label)


def plot_toy_and_rates(toy: ToyRuns, rt: Rates):
    """The toy's errors with their predicted slopes, and the fitted rates against alpha and eta (log-log).

    Each instance is a grey point; the lines join the means, with the 95% instance interval.

    Parameters
    ----------
    toy : ToyRuns
    rt : Rates

    Returns
    -------
    fig, (ax_toy, ax_alpha, ax_eta)
    """
    if not isinstance(toy, ToyRuns) or not isinstance(rt, Rates):
        raise ValueError("toy must be a ToyRuns and rt a Rates")
    res = toy.result
    fig, axes = figure(3, width=13.5, height=3.9)
    plot_curves(axes[0], res.t, res.rel_error ** 2, [f"toy, {param_label('alpha', a)}" for a in toy.alphas],
                ylabel="squared error", title="2×2 toy (dashed: rate (16/9)ηα²)")
    for line, a, b in zip(list(axes[0].get_lines()), toy.alphas, range(len(toy.alphas))):
        i = np.searchsorted(res.t, C1 / (toy.eta * a ** 2))
        axes[0].plot(res.t, res.rel_error[b, i] ** 2 * np.exp(-toy_rate(a, eta=toy.eta) * (res.t - res.t[i])),
                     "--", color=line.get_color(), lw=1)
    axes[0].set_ylim(1e-31, 10)
    ax = axes[1]
    _points(ax, rt.alphas_exact, rt.rate_x, "o", f"FGᵀ, k = {rt.r} = r")
    _points(ax, rt.alphas, rt.rate_o[rt.alpha_idx], "s",
            f"FGᵀ, k = {rt.k} > r (slope {np.nanmean(rt.slope_a):.2f})")
    ax.loglog(rt.alphas_toy, rt.rate_t, "^", label="2×2 toy")
    grid = np.geomspace(min(rt.alphas_exact.min(), rt.alphas_toy.min()),
                        max(rt.alphas.max(), rt.alphas_toy.max()), 50)
    ax.loglog(grid, toy_rate(grid, eta=rt.eta), "k--", lw=1, label="(16/9)ηα²")
    ax.set(xscale="log", yscale="log", xlabel="initialization scale α", ylabel="rate per iteration",
           title=f"rates against α ({param_label('eta', rt.eta)})")
    ax.legend(fontsize=8)
    ax = axes[2]
    a_eta = float(rt.conds[rt.eta_idx[0], 0])
    _points(ax, rt.etas, rt.rate_o[rt.eta_idx], "s", f"FGᵀ, k = {rt.k} > r (slope {np.nanmean(rt.slope_e):.2f})")
    ge = np.geomspace(rt.etas.min(), rt.etas.max(), 20)
    ref = np.mean(rt.rate_o[rt.eta_idx[-1]]) / rt.etas[-1]
    ax.loglog(ge, ref * ge, "k:", lw=1, label="slope 1")
    ax.set(xscale="log", yscale="log", xlabel="step size η", ylabel="rate per iteration",
           title=f"rates against η ({param_label('alpha', a_eta)})")
    ax.legend(fontsize=8)
    value_ticks(axes[1].xaxis, sorted(set(rt.alphas_exact) | set(rt.alphas) | set(rt.alphas_toy)))
    value_ticks(axes[2].xaxis, rt.etas)
    return fig, tuple(axes)


def plot_compare(cmp: Comparison):
    """``XX^T`` against ``UV^T`` on the PSD targets (every instance): semilog and log-log.

    Parameters
    ----------
    cmp : Comparison

    Returns
    -------
    fig, (ax_semilog, ax_loglog)
    """
    if not isinstance(cmp, Comparison):
        raise ValueError(f"cmp must be a Comparison, got {type(cmp).__name__}")
    tc = cmp.symmetric.t
    title = f"PSD targets of chapter 1, k = {cmp.k}, {param_label('alpha', cmp.alpha)}"
    fig, axes = figure(2, width=9.6, height=3.8)
    for ax, sl, logx in ((axes[0], slice(None), False), (axes[1], slice(1, None), True)):
        for b in range(cmp.symmetric.batch_size):
            ax.plot(tc[sl], cmp.symmetric.rel_error[b, sl] ** 2, color="C0", lw=1,
                    label="XXᵀ (symmetric)" if b == 0 else None)
            ax.plot(tc[sl], cmp.asymmetric.rel_error[b, sl] ** 2, color="C1", lw=1,
                    label="FGᵀ (asymmetric, α and α/3)" if b == 0 else None)
        ax.set_yscale("log")
        if logx:
            ax.set_xscale("log")
        ax.axvspan(*cmp.windows[0], color="0.9", zorder=0, label="rate-ratio window (instance 1)")
        ax.set(xlabel="iteration t", ylabel="squared relative error",
               title=title + (": log-log" if logx else ": semilog"))
        ax.legend(fontsize=8)
    return fig, tuple(axes)


def evaluate(P) -> list[Claim]:
    """Run the chapter's whole computation as its notebook does, and return its claims.

    The same calls, in the same order and with the same arguments, as ``book/b2_asymmetric.ipynb``
    (without its figures, printed tables and glue).

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure`.

    Returns
    -------
    list of Claim
        The list the notebook passes to :func:`opsense.evaluate_claims`.
    """
    probs = problems(P)
    runs = run_widths(P, probs)
    toy = run_toy(P)
    fits = rates(runs, toy)
    cmp = compare(P)
    return claims(fits, toy, cmp)
