"""Chapter ``b2_asymmetric``: the asymmetric parameterization converges linearly, at a rate set by alpha.

Gradient descent on :math:`UV^\\top` (paper B's :math:`FG^\\top`, Xiong, Ding & Du, ICLR 2024)
from the imbalanced start :math:`U_0=\\alpha\\tilde U`, :math:`V_0=\\tfrac\\alpha3\\tilde V`: with
``k = r`` the rate does not depend on :math:`\\alpha`; with ``k > r`` it is proportional to
:math:`\\alpha^2`. The **2x2 diagonal toy** (matrix factorization of :math:`\\mathrm{diag}(1,0)`
from :math:`U_0=\\alpha I`, :math:`V_0=\\tfrac\\alpha3 I`) makes the :math:`\\alpha^2` exact: its redundant
entry obeys a closed recursion in the imbalance :math:`\\Delta=f^2-g^2` and the product
:math:`p=fg` (:func:`diagonal_toy`, :func:`toy_recursion`, :func:`toy_rate`).

The experiments of the page: :func:`problem` and :func:`run_widths` (``k = r`` and
``k > r`` sweeps over alpha), :func:`run_toy`, :func:`rates`, and :func:`compare` (the PSD
target of the previous chapter solved by :math:`XX^\\top` and by :math:`UV^\\top`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..config import Cost, gd_cost, parameter_check
from ..analysis import Fit, burn_in_time, fit_power, fit_rate, late_rate, rate_ratio, signal_time
from ..claims import Claim, at_most, between, close
from ..engine.gd import GDResult, run_gd
from ..engine.operators import SensingOperator
from ..engine.problems import LowRankTarget, Problem, make_problem, psd_problems
from ..plotting import figure, param_label, plot_curves

__all__ = ["PRESETS", "FLOOR", "C1", "C2", "check", "cost", "diagonal_toy", "toy_recursion", "toy_rate", "WidthRuns",
           "ToyRuns", "Rates", "Comparison", "problem", "run_widths", "run_toy", "rates", "compare",
           "summary_toy", "summary_rates", "summary_compare", "glue_values", "glue_fits", "claims",
           "plot_widths", "plot_toy_and_rates", "plot_compare", "evaluate"]

#: Parameter sets: ``book`` (n 20, about 10 s) and ``paper`` (n 50, r 3, longer horizons).
PRESETS = {
    "book": dict(n=20, r=2, kappa=2.0, m=600, k=4, alphas_exact=[0.02, 0.05, 0.1, 0.2],
                 alphas=[0.1, 0.14, 0.2, 0.28, 0.4], alphas_toy=[0.1, 0.2, 0.4], alpha=0.2,
                 eta=0.1, iters_exact=3000, iters=13000, iters_compare=8000, seed=0),
    "paper": dict(n=50, r=3, kappa=2.0, m=2000, k=5, alphas_exact=[0.02, 0.05, 0.1, 0.2],
                  alphas=[0.1, 0.14, 0.2, 0.28, 0.4], alphas_toy=[0.1, 0.2, 0.4], alpha=0.2,
                  eta=0.1, iters_exact=4000, iters=14000, iters_compare=12000, seed=0),
}

#: Fits ignore squared relative errors below this (the float64 floor is about 1e-30).
FLOOR = 1e-24
#: The ``k > r`` and toy fit windows: ``[C1, C2] / (eta alpha^2)`` after the signal phase.
C1, C2 = 8, 12
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


@parameter_check
def check(P) -> None:
    """Refuse infeasible parameters of the chapter, naming the parameter.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (attributes ``n, r, kappa, m, k, alphas_exact, alphas,
        alphas_toy, alpha, eta, iters_exact, iters, iters_compare, seed``), types already checked.

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
    if P.eta > MAX_ETA:
        raise ValueError(f"parameter eta must be <= {MAX_ETA} (gradient descent is stable for "
                         f"eta <= 1/(3 sigma_1(A*(y))), sigma_1(X*) = 1), got {P.eta}")
    need_m = 3 * n * (k + r)
    if m < need_m:
        raise ValueError(f"parameter m must be >= 3 n (k + r) = {need_m} (the RIP of order k + r), got {m}")
    if m * n * n > MAX_ENTRIES:
        raise ValueError(f"parameter m must keep m * n**2 <= {MAX_ENTRIES:,} (the operators' memory), "
                         f"got {m} * {n}**2")
    for name, least in (("alphas_exact", 2), ("alphas", 3), ("alphas_toy", 1)):
        scales = list(getattr(P, name))
        if len(set(scales)) != len(scales) or not least <= len(scales) <= MAX_SCALES:
            why = {2: "a spread of rates", 3: "a log-log slope of rates", 1: "one toy run each"}[least]
            raise ValueError(f"parameter {name} must hold {least} to {MAX_SCALES} distinct scales ({why}), "
                             f"got {scales}")
    for name in ("alphas_exact", "alphas", "alphas_toy", "alpha"):
        scales = getattr(P, name)
        scales = scales if isinstance(scales, list) else [scales]
        bad = [a for a in scales if P.eta * a * a > MAX_SCALE]
        if bad:
            raise ValueError(f"parameter {name} must have eta * alpha**2 <= {MAX_SCALE:g} (a small "
                             f"initialization; the toy's rate within 2%), got {bad} with eta = {P.eta:g}")
    sig = lambda a: signal_time(a, eta=P.eta, kappa=P.kappa, n=n)  # noqa: E731
    v.at_least("iters_exact", P.iters_exact, max(200, 4 * sig(min(P.alphas_exact))),
               "the late fit after the signal phase of the smallest of alphas_exact")
    for name in ("alphas", "alphas_toy"):
        a = min(getattr(P, name))
        v.at_least("iters", P.iters, C2 / (P.eta * a ** 2) + max(1000, 2 * sig(a)),
                   f"the window of the smallest of {name}")
    v.at_least("iters_compare", P.iters_compare, 16 / (P.eta * P.alpha ** 2) + max(1000, 2 * sig(P.alpha)),
               "a window [8, 16+] / (eta alpha^2) after the signal phase")
    for name in ("iters_exact", "iters", "iters_compare"):
        if getattr(P, name) > MAX_ITERS:
            raise ValueError(f"parameter {name} must be <= {MAX_ITERS:,} (run time), got {getattr(P, name)}")
    work = (float(P.iters_exact) * len(P.alphas_exact) + float(P.iters) * len(P.alphas)
            + 2.0 * P.iters_compare) * m * n * n
    if work > MAX_WORK:
        raise ValueError(f"parameter iters must keep (iters_exact len(alphas_exact) + iters len(alphas) + "
                         f"2 iters_compare) m n**2 <= {MAX_WORK:.0e} (run time), got {work:.2e}")
    if P.seed < 0:
        raise ValueError(f"parameter seed must be an integer >= 0, got {P.seed}")








def cost(P) -> Cost:
    """What the chapter's runs cost, from the parameters alone (pure arithmetic, nothing is run).

    ``work`` sums :func:`run_widths` (``len(alphas_exact)`` runs of ``iters_exact`` steps at
    ``k = r``, ``len(alphas)`` runs of ``iters`` steps at ``k``), :func:`run_toy` (``len(alphas_toy)``
    2 x 2 identity runs of ``iters`` steps) and :func:`compare` (two runs of ``iters_compare``
    steps), each Gaussian step ``n^2 (2 m + 3 k)``. ``memory_bytes``: three ``m x n^2`` operators
    (the problem of :func:`problem`, kept by the page, and the two of :func:`compare`), the
    factors and curves of every batch and the toy's recursions.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (already checked by :func:`check`).

    Returns
    -------
    opsense.config.Cost
    """
    n, r, m, k = int(P.n), int(P.r), int(P.m), int(P.k)
    g = dict(m=m, n1=n, n2=n, r=r)
    batches = [
        gd_cost(len(P.alphas_exact), int(P.iters_exact), k=r, every=10, **g),
        gd_cost(len(P.alphas), int(P.iters), k=k, every=max(1, int(P.iters) // 1000), **g),
        gd_cost(len(P.alphas_toy), int(P.iters), m=0, n1=2, n2=2, k=2, r=1, every=10),
        gd_cost(2, int(P.iters_compare), k=k, every=max(1, int(P.iters_compare) // 400), **g),
    ]
    work = sum(w for w, _ in batches)
    memory = 8.0 * (3 * m * n * n + 2 * len(P.alphas_toy) * (int(P.iters) + 1)) + sum(b for _, b in batches)
    return Cost(memory_bytes=memory, work=work,
                drivers=("iters", "alphas", "m", "n", "iters_compare", "iters_exact", "alphas_exact"))


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


def problem(P) -> Problem:
    """The sensing problem: a general rank-``r`` target measured by ``m`` Gaussian matrices.

    Parameters
    ----------
    P : Parameters
        Uses ``n, r, m, kappa, seed``.

    Returns
    -------
    Problem
    """
    return make_problem(P.n, P.n, P.r, P.m, kappa=P.kappa, seed=P.seed)


@dataclass(frozen=True)
class WidthRuns:
    """The two sweeps over alpha from paper B's imbalanced start (the same U~, V~ in a batch).

    Attributes
    ----------
    exact : GDResult
        ``k = r``, one run per scale of ``alphas_exact``; curves of shape (len(alphas_exact), T).
    over : GDResult
        ``k > r``, one run per scale of ``alphas``; curves of shape (len(alphas), T').
    r, k : int
    sigma : ndarray of shape (r,)
        Singular values of the target.
    """

    exact: GDResult
    over: GDResult
    r: int
    k: int
    sigma: np.ndarray


def run_widths(P, prob: Problem) -> WidthRuns:
    """Run the ``k = r`` and the ``k > r`` sweeps over alpha (``init="imbalanced"``).

    Parameters
    ----------
    P : Parameters
    prob : Problem
        From :func:`problem`.

    Returns
    -------
    WidthRuns
    """
    asym = dict(init="imbalanced", eta=P.eta, seed=P.seed)
    rx = run_gd(prob, k=P.r, alpha=P.alphas_exact, iters=P.iters_exact, record_every=10, **asym)
    ro = run_gd(prob, k=P.k, alpha=P.alphas, iters=P.iters, record_every=max(1, P.iters // 1000), **asym)
    return WidthRuns(rx, ro, P.r, P.k, prob.target.sigma)


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
    """Run the toy for every scale of ``alphas_toy`` and compare it with :func:`toy_recursion`.

    Parameters
    ----------
    P : Parameters
        Uses ``alphas_toy, eta, iters``.

    Returns
    -------
    ToyRuns
    """
    toy, init = diagonal_toy(P.alphas_toy)
    rt = run_gd(toy, init=init, eta=P.eta, iters=P.iters, record_every=10)
    rec = [toy_recursion(a, eta=P.eta, iters=P.iters) for a in P.alphas_toy]
    f, g = rt.U[:, 1, 1], rt.V[:, 1, 1]
    p_gap = max(abs(f[b] * g[b] / rec[b][1][-1] - 1) for b in range(len(rec)))
    d_gap = max(abs((f[b] ** 2 - g[b] ** 2) / rec[b][0][-1] - 1) for b in range(len(rec)))
    d_keep = np.array([D[-1] / D[0] for D, _ in rec])
    a = np.array(P.alphas_toy, dtype=float)
    return ToyRuns(rt, a, P.eta, float(p_gap), float(d_gap), d_keep, 1 - P.eta * a ** 2 / 2)


@dataclass(frozen=True)
class Rates:
    """The fitted rates of the three sweeps.

    Attributes
    ----------
    alphas_exact : ndarray of shape (A,)
    rate_x : ndarray of shape (A,)
        ``k = r``: late rate per iteration of the squared relative error (:func:`opsense.late_rate`).
    r2_x : float
        Smallest semilog R^2 of those fits.
    spread : float
        ``(max - min) / mean`` of ``rate_x``.
    alphas : ndarray of shape (J,)
    rate_o : ndarray of shape (J,)
        ``k > r``: rates on ``[t_b + C1, t_b + C2] / (eta alpha^2)``.
    r2_o : float
        Smallest semilog R^2 of those fits.
    slope : float
        Log-log slope of ``rate_o`` against ``alphas``.
    slope_fit : Fit or None
    alphas_toy : ndarray of shape (L,)
    rate_t, pred_t : ndarray of shape (L,)
        The toy's fitted rates and :func:`toy_rate`.
    eta : float
    r, k : int
    """

    alphas_exact: np.ndarray
    rate_x: np.ndarray
    r2_x: float
    spread: float
    alphas: np.ndarray
    rate_o: np.ndarray
    r2_o: float
    slope: float
    slope_fit: Fit | None
    alphas_toy: np.ndarray
    rate_t: np.ndarray
    pred_t: np.ndarray
    eta: float
    r: int
    k: int

    @property
    def c_o(self) -> np.ndarray:
        """``rate_o / (eta alpha^2)``, ``ndarray of shape (J,)``."""
        return self.rate_o / (self.eta * self.alphas ** 2)


def _window_rates(res: GDResult, scales, sigma, eta):
    t_b = burn_in_time(res, sigma)
    fits = [_nan_if_unmeasurable(fit_rate, res.t, res.rel_error[b] ** 2, floor=FLOOR,
                                 window=(t_b[b] + C1 / (eta * a ** 2), t_b[b] + C2 / (eta * a ** 2)))
            for b, a in enumerate(scales)]
    return np.array([_estimate(f) for f in fits]), float(min(_r2(f) for f in fits))


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
    rx, ro = runs.exact, runs.over
    eta = float(rx.eta[0])
    t_bx = burn_in_time(rx, runs.sigma)
    fx = [_nan_if_unmeasurable(late_rate, rx.t, rx.rel_error[b] ** 2, start=t_bx[b], floor=FLOOR)
          for b in range(rx.batch_size)]
    rate_x = np.array([_estimate(f) for f in fx])
    spread = float(np.ptp(rate_x) / rate_x.mean())
    rate_o, r2_o = _window_rates(ro, ro.alpha, runs.sigma, eta)
    slope = _nan_if_unmeasurable(fit_power, ro.alpha, rate_o)
    rate_t, _ = _window_rates(toy.result, toy.alphas, [1.0], eta)
    return Rates(rx.alpha.copy(), rate_x, float(min(_r2(f) for f in fx)), spread, ro.alpha.copy(), rate_o, r2_o,
                 _estimate(slope), None if isinstance(slope, float) else slope, toy.alphas, rate_t,
                 np.atleast_1d(toy_rate(toy.alphas, eta=eta)), eta, runs.r, runs.k)


@dataclass(frozen=True)
class Comparison:
    """The PSD target of the previous chapter, solved by ``XX^T`` and by ``UV^T`` (paper B's ``FG^T``).

    Attributes
    ----------
    symmetric, asymmetric : GDResult
        One run each (curves of shape (1, T)): symmetric GD with the symmetrized operator,
        asymmetric GD (``init="imbalanced"``) with a general operator of the same ``m``.
    window : (float, float)
        ``(t_b + 8 / (eta alpha^2), T)``, ending earlier if the ``UV^T`` error nears the floor.
    ratio_sym, ratio_asym, ratio_power : float
        :func:`opsense.rate_ratio` on the window: ``XX^T``, ``UV^T`` and a pure power law.
    r2_asym : float
        Semilog R^2 of the ``UV^T`` fit on the window.
    err_sym, err_asym : float
        Final squared relative errors; ``final = err_asym / err_sym``.
    k : int
    alpha : float
    """

    symmetric: GDResult
    asymmetric: GDResult
    window: tuple
    ratio_sym: float
    ratio_asym: float
    ratio_power: float
    r2_asym: float
    err_sym: float
    err_asym: float
    k: int
    alpha: float

    @property
    def final(self) -> float:
        """``err_asym / err_sym``."""
        return self.err_asym / self.err_sym


def compare(P) -> Comparison:
    """Solve the PSD target of chapter ``b1_symmetric`` (same size, spectrum, seed) both ways.

    Parameters
    ----------
    P : Parameters
        Uses ``n, r, m, kappa, k, alpha, eta, iters_compare, seed``.

    Returns
    -------
    Comparison
    """
    pp = psd_problems(P.n, P.r, P.m, kappa=P.kappa, seed=P.seed)
    kw = dict(k=P.k, alpha=P.alpha, eta=P.eta, iters=P.iters_compare, seed=P.seed,
              record_every=max(1, P.iters_compare // 400))
    cs = run_gd(pp.symmetric, parameterization="symmetric", **kw)
    ca = run_gd(pp.general, init="imbalanced", **kw)
    tc = cs.t
    t_bc = burn_in_time(ca, pp.general.target.sigma)[0]
    e2s, e2a = cs.rel_error[0] ** 2, ca.rel_error[0] ** 2
    above = tc[e2a > 1e6 * FLOOR]                   # end the window before the float64 floor
    wc = (float(t_bc + 8 / (P.eta * P.alpha ** 2)), float(min(P.iters_compare, above[-1])))
    fit_a = _nan_if_unmeasurable(fit_rate, tc, e2a, window=wc, floor=FLOOR)
    return Comparison(
        cs, ca, wc, _nan_if_unmeasurable(rate_ratio, tc, e2s, window=wc),
        _nan_if_unmeasurable(rate_ratio, tc, e2a, window=wc, floor=FLOOR),
        _nan_if_unmeasurable(rate_ratio, tc[1:], tc[1:] ** -2.0, window=wc), _r2(fit_a),
        float(e2s[-1]), float(e2a[-1]), P.k, P.alpha)


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


def summary_rates(rt: Rates) -> str:
    """The rates of the three sweeps, with spread, slope and the toy's prediction.

    Parameters
    ----------
    rt : Rates
    """
    return "\n".join([
        f"k = r : {', '.join(f'{x:.4f}' for x in rt.rate_x)} | spread {rt.spread:.3f}, min R^2 {rt.r2_x:.5f}",
        f"k > r : {', '.join(f'{x:.2e}' for x in rt.rate_o)} | log-log slope {rt.slope:.3f}, "
        f"min R^2 {rt.r2_o:.4f}",
        f"    rate / (eta alpha^2): {', '.join(f'{x:.3f}' for x in rt.c_o)}",
        f"toy   : {', '.join(f'{x:.3e}' for x in rt.rate_t)} | (16/9) eta alpha^2: "
        f"{', '.join(f'{x:.3e}' for x in rt.pred_t)}",
    ])


def summary_compare(cmp: Comparison) -> str:
    """The rate ratios on the window and the final errors.

    Parameters
    ----------
    cmp : Comparison
    """
    wc = cmp.window
    return (f"window [{wc[0]:.0f}, {wc[1]:.0f}]: rate ratio XX^T {cmp.ratio_sym:.3f} (power law "
            f"{cmp.ratio_power:.3f}), FG^T {cmp.ratio_asym:.3f} (linear 1); FG^T semilog R^2 {cmp.r2_asym:.5f}\n"
            f"final squared relative errors: XX^T {cmp.err_sym:.2e}, FG^T {cmp.err_asym:.2e}, "
            f"ratio {cmp.final:.1e}")


def glue_values(rt: Rates, toy: ToyRuns, cmp: Comparison) -> dict:
    """The numbers the chapter's prose quotes, by glue name (glued with 3 significant digits).

    Parameters
    ----------
    rt : Rates
    toy : ToyRuns
    cmp : Comparison
    """
    return {
        "b2_spread": rt.spread, "b2_rate_x_min": float(rt.rate_x.min()), "b2_rate_x_max": float(rt.rate_x.max()),
        "b2_slope": rt.slope, "b2_c_min": float(rt.c_o.min()), "b2_c_max": float(rt.c_o.max()),
        "b2_toy_dev": float(np.max(np.abs(rt.rate_t / rt.pred_t - 1))), "b2_p_gap": max(toy.p_gap, toy.d_gap),
        "b2_ratio_sym": cmp.ratio_sym, "b2_ratio_power": cmp.ratio_power, "b2_ratio_asym": cmp.ratio_asym,
        "b2_final": cmp.final, "b2_err_sym": cmp.err_sym, "b2_err_asym": cmp.err_asym,
        "b2_T": int(cmp.symmetric.t[-1]),
    }


def glue_fits(rt: Rates, cmp: Comparison) -> dict:
    """The R^2 the prose quotes, rounded to 5 decimals (glue them with 5 significant digits).

    Parameters
    ----------
    rt : Rates
    cmp : Comparison
    """
    return {"b2_r2_o": round(rt.r2_o, 5), "b2_r2_a": round(cmp.r2_asym, 5)}


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
    out = [
        between("b2.exact-linear", "k = r: smallest semilog R^2 of the late fits", rt.r2_x, 0.999, 1.0,
                basis="theory", tolerance="straight semilog line"),
        between("b2.exact-alpha-free", "k = r: spread (max - min) / mean of the rates", rt.spread, 0.0, 0.10,
                basis="theory", tolerance="10%: independent of alpha up to O(alpha^2)"),
        between("b2.overparam-linear", "k > r: smallest semilog R^2 of the window fits", rt.r2_o, 0.99, 1.0,
                basis="theory", tolerance="straight semilog line on the window"),
        close("b2.overparam-alpha2", "k > r: log-log slope of rate vs alpha (same F~, G~)", rt.slope, 2.0,
              atol=0.15, basis="theory", tolerance="±0.15: rate ~ alpha^2 (Thm 1.3)"),
        between("b2.toy-recursion", "toy: GD vs the closed (Delta, p) recursion, rel. gap",
                max(toy.p_gap, toy.d_gap), 0.0, 1e-9, basis="identity", tolerance="exact identity; float64 rounding"),
        at_most("b2.toy-imbalance", "toy: largest excess of Delta_T / Delta_0 beyond [1 - eta alpha^2 / 2, 1]",
                excess, 0.0, basis="derived-on-page", tolerance="proved"),
    ]
    for a, x, p in zip(rt.alphas_toy, rt.rate_t, rt.pred_t):
        out.append(close(f"b2.toy-rate-a{a:g}", f"toy, alpha = {a:g}: rate of the squared error", x, p,
                         rtol=0.02, basis="derived-on-page", tolerance="2%: proposition, eta alpha^2 <= 0.02"))
    out += [
        between("b2.compare-orders", "PSD target: final error FG^T / XX^T at the same t", cmp.final, 0.0, 1e-2,
                basis="specification", tolerance="two orders of magnitude or more"),
        between("b2.compare-asym-linear", "PSD target, FG^T: rate ratio 2nd / 1st half", cmp.ratio_asym,
                0.8, 1.25, basis="theory", tolerance="linear: 1; ±20% slowest-mode transient"),
        between("b2.compare-asym-fit", "PSD target, FG^T: semilog R^2 on the window", cmp.r2_asym, 0.99, 1.0,
                basis="theory", tolerance="straight semilog line"),
        between("b2.compare-sym-sublinear", "PSD target, XX^T: rate ratio 2nd / 1st half", cmp.ratio_sym,
                0.0, 0.75, basis="theory", tolerance=f"power law: {cmp.ratio_power:.2f}; linear: 1"),
    ]
    return out


# ---------------------------------------------------------------------------- figures
def plot_widths(runs: WidthRuns):
    """The squared relative errors of the ``k = r`` and the ``k > r`` sweeps (semilog).

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
    for ax, res, kk in [(axes[0], runs.exact, runs.r), (axes[1], runs.over, runs.k)]:
        plot_curves(ax, res.t, res.rel_error ** 2, [f"FGᵀ, {param_label('alpha', a)}" for a in res.alpha],
                    ylabel="squared relative error", title=f"k = {kk}" + (" = r" if kk == runs.r else " > r"))
        ax.set_ylim(1e-31, 10)
    return fig, tuple(axes)


def plot_toy_and_rates(toy: ToyRuns, rt: Rates):
    """The toy's errors with their predicted slopes, and every fitted rate against alpha (log-log).

    Parameters
    ----------
    toy : ToyRuns
    rt : Rates

    Returns
    -------
    fig, (ax_toy, ax_rates)
    """
    if not isinstance(toy, ToyRuns) or not isinstance(rt, Rates):
        raise ValueError("toy must be a ToyRuns and rt a Rates")
    res = toy.result
    fig, axes = figure(2, width=9.6, height=3.8)
    plot_curves(axes[0], res.t, res.rel_error ** 2, [f"toy, {param_label('alpha', a)}" for a in toy.alphas],
                ylabel="squared error", title="2×2 toy (dashed: rate (16/9)ηα²)")
    for line, a, b in zip(list(axes[0].get_lines()), toy.alphas, range(len(toy.alphas))):
        i = np.searchsorted(res.t, C1 / (toy.eta * a ** 2))
        axes[0].plot(res.t, res.rel_error[b, i] ** 2 * np.exp(-toy_rate(a, eta=toy.eta) * (res.t - res.t[i])),
                     "--", color=line.get_color(), lw=1)
    axes[0].set_ylim(1e-31, 10)
    ax = axes[1]
    ax.loglog(rt.alphas_exact, rt.rate_x, "o-", label=f"FGᵀ, k = {rt.r} = r")
    ax.loglog(rt.alphas, rt.rate_o, "s-", label=f"FGᵀ, k = {rt.k} > r (slope {rt.slope:.2f})")
    ax.loglog(rt.alphas_toy, rt.rate_t, "^", label="2×2 toy")
    grid = np.geomspace(min(rt.alphas_exact.min(), rt.alphas_toy.min()),
                        max(rt.alphas.max(), rt.alphas_toy.max()), 50)
    ax.loglog(grid, toy_rate(grid, eta=rt.eta), "k--", lw=1, label="(16/9)ηα²")
    ax.set(xlabel="initialization scale α", ylabel="rate per iteration", title="fitted rates against α")
    ax.tick_params(axis="x", which="minor", labelbottom=False)
    ax.legend()
    return fig, tuple(axes)


def plot_compare(cmp: Comparison):
    """``XX^T`` against ``UV^T`` on the PSD target: semilog and log-log, with the rate-ratio window.

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
    labels = [f"XXᵀ (symmetric), k = {cmp.k}", f"FGᵀ (asymmetric, α and α/3), k = {cmp.k}"]
    curves = np.vstack([cmp.symmetric.rel_error, cmp.asymmetric.rel_error]) ** 2
    title = f"PSD target of chapter 1, {param_label('alpha', cmp.alpha)}"
    fig, axes = figure(2, width=9.6, height=3.8)
    plot_curves(axes[0], tc, curves, labels, ylabel="squared relative error", title=title + ": semilog")
    plot_curves(axes[1], tc[1:], curves[:, 1:], labels, logx=True, ylabel="squared relative error",
                title="log-log")
    for ax in axes:
        ax.axvspan(*cmp.window, color="0.9", zorder=0, label="rate-ratio window")
        ax.legend()
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
    prob = problem(P)
    runs = run_widths(P, prob)
    toy = run_toy(P)
    fits = rates(runs, toy)
    cmp = compare(P)
    return claims(fits, toy, cmp)
