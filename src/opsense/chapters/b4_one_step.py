"""Chapter ``b4_one_step``: one rebalancing step removes the curse of initialization (paper B, Sec. 5).

Vanilla asymmetric gradient descent from :math:`U_0 = \\alpha\\tilde U`,
:math:`V_0 = (\\alpha/3)\\tilde V` (paper B's :math:`F, G`) converges linearly at a rate of
order :math:`\\eta\\alpha^2`. Once the relative residual is at most :math:`\\epsilon`, one step
:func:`opsense.rebalance` (our reconstruction of the paper's step (5.1)) replaces
:math:`U \\leftarrow UP`, :math:`V \\leftarrow VP^{-\\top}`: the product :math:`UV^\\top` does not
move, every :math:`\\sigma_i(U)^2` becomes :math:`\\beta = \\|UV^\\top\\|_{op}` and the imbalance on
the redundant directions jumps from order :math:`\\alpha^2` to order :math:`\\beta`
(:func:`rebalance_report`). Afterwards the rate no longer depends on :math:`\\alpha`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..config import Cost, gd_cost, parameter_check
from ..analysis import Fit, fit_power, hitting_time, late_rate, signal_time
from ..claims import Claim, between
from ..engine.factors import imbalance, initial_factors, rebalance, redundant_imbalance
from ..engine.gd import GDResult, run_gd
from ..engine.problems import Problem, make_problem
from ..plotting import STYLE, figure, param_label

__all__ = ["PRESETS", "FLOOR", "check", "cost", "Runs", "run", "trigger_summary", "RebalanceReport",
           "rebalance_report", "rebalance_reports", "reports_table", "StepVerification",
           "verify_step", "step_summary", "Rates", "rates", "rates_summary", "glue_values", "claims", "plot_one_step",
           "plot_rates", "evaluate"]

#: Parameter sets: ``book`` (n 20, about 10 s) and ``paper`` (n 50, rank 3).
PRESETS = {
    "book": dict(n=20, r=2, k=4, m=600, kappa=2.0, alphas=[0.1, 0.2, 0.3, 0.4], eta=0.1, iters=16000,
                 iters_modified=3000, epsilon=0.01, seed=0),
    "paper": dict(n=50, r=3, k=5, m=1500, kappa=2.0, alphas=[0.1, 0.2, 0.3, 0.4], eta=0.1, iters=24000,
                  iters_modified=4000, epsilon=0.01, seed=0),
}

#: Fits ignore squared relative errors below this (the float64 floor is about 1e-30).
FLOOR = 1e-24
#: Recording interval of every run.
RECORD_EVERY = 10
#: Largest operator (entries m * n^2), number of alphas, and work (runs x iterations x m n^2).
MAX_ENTRIES = 20_000_000
MAX_ALPHAS = 12
MAX_WORK = 2e12
#: The vanilla horizon must reach this many plateau times 1 / (eta min(alphas)^2).
HORIZON_PLATEAUS = 8
#: The rebalanced runs need at least this many times kappa / eta = 1 / (eta sigma_r) iterations
#: (the trigger time grows like it; then the post-step fit).
MODIFIED_STEPS = 50
#: Largest trigger level (the step is taken close to the optimum).
MAX_EPSILON = 0.1


@parameter_check
def check(P) -> None:
    """Refuse infeasible parameters of the chapter, naming the parameter.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (attributes ``n, r, k, m, kappa, alphas, eta, iters,
        iters_modified, epsilon, seed``).

    Raises
    ------
    ValueError
        For the first infeasible value; the message starts with ``parameter <name> must``.
    """
    n = v.integer("n", P.n, minimum=2)
    r = v.integer("r", P.r, minimum=1, maximum=n - 1)
    k = v.integer("k", P.k, minimum=1)
    if not r < k <= n:
        raise ValueError(f"parameter k must satisfy r < k <= n (over-parameterized, r={r}, n={n}), got {k}")
    m = v.integer("m", P.m, minimum=1)
    v.sampled(m, r=r, n1=n, n2=n)
    kappa = v.real("kappa", P.kappa, positive=True)
    if kappa < 1:
        raise ValueError(f"parameter kappa must be a condition number >= 1, got {kappa}")
    if isinstance(P.alphas, (str, bytes)) or np.ndim(P.alphas) != 1:
        raise ValueError(f"parameter alphas must be a list of at least 2 distinct scales in (0, 1], got {P.alphas!r}")
    alphas = v.sweep("alphas", list(P.alphas), lambda nm, x: v.real(nm, x, positive=True))
    if not 2 <= len(alphas) <= MAX_ALPHAS or len(set(alphas)) != len(alphas) or max(alphas) > 1:
        raise ValueError(f"parameter alphas must hold 2 to {MAX_ALPHAS} distinct scales in (0, 1] (a slope "
                         f"against alpha is fitted; small initialization), got {alphas}")
    eta = v.real("eta", P.eta, positive=True)
    iters = v.integer("iters", P.iters, minimum=1)
    iters_mod = v.integer("iters_modified", P.iters_modified, minimum=1)
    epsilon = v.real("epsilon", P.epsilon, positive=True)
    if epsilon > MAX_EPSILON:
        raise ValueError(f"parameter epsilon must be in (0, {MAX_EPSILON}] (the step is taken close to the "
                         f"optimum), got {epsilon}")
    seed = v.integer("seed", P.seed, minimum=0)
    if m * n * n > MAX_ENTRIES:
        raise ValueError(f"parameter m must keep m * n^2 <= {MAX_ENTRIES:,} (the operator's memory), "
                         f"got {m} * {n}^2")
    need_mod = int(np.ceil(MODIFIED_STEPS * kappa / eta))
    if iters_mod < need_mod:
        raise ValueError(f"parameter iters_modified must be >= {need_mod} = {MODIFIED_STEPS} kappa / eta (the "
                         f"trigger time, of order 1 / (eta sigma_r), plus the post-step fit), got {iters_mod}")
    horizon = max(iters_mod, int(np.ceil(HORIZON_PLATEAUS / (eta * min(alphas) ** 2))))
    if iters < horizon:
        raise ValueError(f"parameter iters must be >= {horizon} = max(iters_modified, {HORIZON_PLATEAUS} / "
                         f"(eta min(alphas)^2)) (the vanilla rates need several e-folds, and the vanilla runs "
                         f"must reach every trigger time), got {iters}")
    work = (len(alphas) + 1) * (iters + iters_mod) * m * n * n
    if work > MAX_WORK:
        raise ValueError(f"parameter iters must keep (len(alphas) + 1) * (iters + iters_modified) * m * n^2 "
                         f"<= {MAX_WORK:.0e} (running time), got {work:.3g}")
    problem = make_problem(n, n, r, m, kappa=kappa, seed=seed)
    safe = 1.0 / (3.0 * float(problem.spectral_sigma[0]))
    if eta > safe:
        raise ValueError(f"parameter eta must be <= {safe:.3g} = 1/(3 sigma_1(A*(y))) for this operator "
                         f"(the engine's safe step size), got {eta}")






def cost(P) -> Cost:
    """What the chapter's runs cost, from the parameters alone (pure arithmetic, nothing is run).

    ``work`` sums :func:`run` (``len(alphas) + 1`` vanilla runs of ``iters`` steps, ``len(alphas)``
    rebalanced runs of ``iters_modified`` steps) and :func:`rebalance_reports` (each vanilla run
    again up to its trigger time), each step ``n^2 (2 m + 3 k)``. The trigger times depend on the
    data; each is estimated as ``2.5 * signal_time(alpha)`` (:func:`opsense.signal_time`;
    ``book``: 1984 in all against 1978 measured), at most ``iters_modified``. ``memory_bytes``: the
    ``m x n^2`` operator and the factors and curves of both batches.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (already checked by :func:`check`).

    Returns
    -------
    opsense.config.Cost
    """
    n, r, k, m = int(P.n), int(P.r), int(P.k), int(P.m)
    alphas = [float(a) for a in P.alphas]
    A = len(alphas)
    g = dict(m=m, n1=n, n2=n, k=k, r=r, every=RECORD_EVERY)
    w_van, b_van = gd_cost(A + 1, int(P.iters), **g)
    w_mod, b_mod = gd_cost(A, int(P.iters_modified), **g)
    t1 = [min(int(P.iters_modified), int(np.ceil(2.5 * signal_time(a, eta=P.eta, kappa=P.kappa, n=n))))
          for a in alphas]
    w_rep = sum(gd_cost(1, t, m=m, n1=n, n2=n, k=k, r=r, every=t)[0] for t in t1)
    memory = 8.0 * m * n * n + b_van + b_mod
    return Cost(memory_bytes=memory, work=w_van + w_mod + w_rep,
                drivers=("iters", "alphas", "m", "n", "iters_modified"))


def _need(name: str, value, cls):
    """Return ``value`` if it is a ``cls`` (a result of this chapter)."""
    if not isinstance(value, cls):
        raise ValueError(f"{name} must be a {cls.__name__}, got {type(value).__name__}")
    return value


# ----------------------------------------------------------------------------- the runs
@dataclass(frozen=True)
class Runs:
    """The vanilla and the rebalanced runs.

    Attributes
    ----------
    problem : Problem
    vanilla : GDResult
        One run per alpha with ``k`` columns, then one exact-parameterization run (``k = r``).
    modified : GDResult
        The same runs with one rebalancing step at the trigger ``rebalance_tol = epsilon``.
    alphas : ndarray of shape (A,)
    T1 : ndarray of int, shape (A,)
        Trigger times of the rebalanced runs (``-1``: never triggered).
    k, r : int
    eta, epsilon, kappa : float
    seed : int
    """

    problem: Problem
    vanilla: GDResult
    modified: GDResult
    alphas: np.ndarray
    T1: np.ndarray
    k: int
    r: int
    eta: float
    epsilon: float
    kappa: float
    seed: int


def run(P) -> Runs:
    """Run the vanilla batch (one run per alpha plus ``k = r``) and the rebalanced batch.

    Parameters
    ----------
    P : Parameters
        Checked by :func:`check`.

    Returns
    -------
    Runs
    """
    problem = make_problem(P.n, P.n, P.r, P.m, kappa=P.kappa, seed=P.seed)
    alphas = [float(a) for a in P.alphas]
    A = len(alphas)
    kw = dict(eta=P.eta, init="imbalanced", seed=P.seed, record_every=RECORD_EVERY)
    van = run_gd(problem, k=[P.k] * A + [P.r], alpha=alphas + [alphas[A // 2]], iters=P.iters, **kw)
    mod = run_gd(problem, k=P.k, alpha=alphas, iters=P.iters_modified, rebalance_tol=P.epsilon, **kw)
    return Runs(problem, van, mod, np.asarray(alphas), mod.rebalanced_at.copy(), int(P.k), int(P.r),
                float(P.eta), float(P.epsilon), float(P.kappa), int(P.seed))


def trigger_summary(runs: Runs) -> str:
    """The trigger times of the rebalanced runs, as text.

    Parameters
    ----------
    runs : Runs
    """
    _need("runs", runs, Runs)
    return "trigger times T1: " + str(dict(zip(runs.alphas.tolist(), runs.T1.tolist())))


# ----------------------------------------------------------------------------- the step itself


@dataclass(frozen=True)
class RebalanceReport:
    """What one rebalancing step did to a pair of factors.

    Attributes
    ----------
    beta : float
        :math:`\\beta = \\|UV^\\top\\|_{op}`.
    product_change : float
        :math:`\\|U'V'^\\top - UV^\\top\\|_F / \\|UV^\\top\\|_F` (0 up to rounding).
    sv_U_before, sv_U_after : ndarray of shape (k,)
        Squared singular values of ``U`` and ``U'``, decreasing (after: all :math:`\\beta`).
    imbalance_before, imbalance_after : ndarray of shape (k,)
        Eigenvalues of :math:`\\Delta` and :math:`\\Delta'`, increasing.
    imbalance_predicted : ndarray of shape (k,)
        :math:`\\beta - s_i^2/\\beta` for the ``k`` leading singular values :math:`s_i` of
        :math:`UV^\\top`, increasing (the exact spectrum of :math:`\\Delta'`).
    redundant_before, redundant_after : float
        Smallest eigenvalue of :math:`\\Delta` (resp. :math:`\\Delta'`) compressed onto the
        redundant subspace of ``V`` (resp. ``V'``), see :func:`opsense.redundant_imbalance`.
    U : ndarray of shape (n1, k)
    V : ndarray of shape (n2, k)
        The rebalanced factors.
    """

    beta: float
    product_change: float
    sv_U_before: np.ndarray
    sv_U_after: np.ndarray
    imbalance_before: np.ndarray
    imbalance_after: np.ndarray
    imbalance_predicted: np.ndarray
    redundant_before: float
    redundant_after: float
    U: np.ndarray
    V: np.ndarray


def rebalance_report(U, V, *, r: int) -> RebalanceReport:
    """Apply :func:`opsense.rebalance` to ``(U, V)`` and measure its effect.

    Parameters
    ----------
    U : ndarray of shape (n1, k)
        Full column rank (paper B's :math:`F`).
    V : ndarray of shape (n2, k)
        Paper B's :math:`G`.
    r : int, keyword-only
        Rank of the ground truth, ``1 <= r < k``.

    Returns
    -------
    RebalanceReport
    """
    U = v.array("U", U, ndim=2)
    V = v.array("V", V, shape=(None, U.shape[1]))
    k = U.shape[1]
    r = v.integer("r", r, minimum=1, maximum=k - 1)
    U1, V1 = rebalance(U, V)
    X, X1 = U @ V.T, U1 @ V1.T
    beta = float(np.linalg.norm(X, 2))
    s = np.linalg.svd(X, compute_uv=False)
    s = np.concatenate([s, np.zeros(max(0, k - s.size))])[:k]
    red0, _ = redundant_imbalance(imbalance(U, V), V, r=r)
    red1, _ = redundant_imbalance(imbalance(U1, V1), V1, r=r)
    return RebalanceReport(
        beta=beta, product_change=float(np.linalg.norm(X1 - X) / np.linalg.norm(X)),
        sv_U_before=np.linalg.svd(U, compute_uv=False) ** 2, sv_U_after=np.linalg.svd(U1, compute_uv=False) ** 2,
        imbalance_before=np.linalg.eigvalsh(imbalance(U, V)), imbalance_after=np.linalg.eigvalsh(imbalance(U1, V1)),
        imbalance_predicted=np.sort(beta - s ** 2 / beta), redundant_before=float(red0[0]),
        redundant_after=float(red1[0]), U=U1, V=V1)


def rebalance_reports(runs: Runs) -> list:
    """Rerun each vanilla trajectory up to its trigger time and report the step there.

    Parameters
    ----------
    runs : Runs

    Returns
    -------
    list of RebalanceReport or None
        One per alpha; ``None`` where the rebalanced run never triggered.
    """
    _need("runs", runs, Runs)
    n1, n2 = runs.problem.target.shape
    out = []
    for a, t1 in zip(runs.alphas, runs.T1):
        if t1 < 0:
            out.append(None)
            continue
        if t1 == 0:
            U, V = initial_factors(n1, n2, runs.k, float(a), init="imbalanced", seed=runs.seed)
        else:
            at = run_gd(runs.problem, k=runs.k, alpha=float(a), eta=runs.eta, iters=int(t1), init="imbalanced",
                        seed=runs.seed, record_every=int(t1))
            U, V = at.U[0], at.V[0]
        out.append(rebalance_report(U, V, r=runs.r))
    return out


@dataclass(frozen=True)
class StepVerification:
    """The proposition's quantities over the alphas (worst cases; NaN where a run never triggered).

    Attributes
    ----------
    product : float
        Largest relative change of :math:`UV^\\top`.
    lift : float
        Largest :math:`|\\sigma_i(U')^2/\\beta - 1|`.
    spectrum : float
        Largest :math:`|\\lambda_i(\\Delta') - (\\beta - s_i^2/\\beta)| / \\beta`.
    after : float
        Smallest redundant imbalance after the step over :math:`\\beta`.
    before : ndarray of shape (A,)
        Redundant imbalance before the step over :math:`\\alpha^2`, per alpha.
    """

    product: float
    lift: float
    spectrum: float
    after: float
    before: np.ndarray


def _lift(q) -> float:
    return float(np.max(np.abs(q.sv_U_after / q.beta - 1)))


def _spectrum(q) -> float:
    return float(np.max(np.abs(q.imbalance_after - q.imbalance_predicted)) / q.beta)


def verify_step(alphas, reports) -> StepVerification:
    """Collect the worst case of each quantity of the proposition over the alphas.

    Parameters
    ----------
    alphas : ndarray of shape (A,)
    reports : list of RebalanceReport or None
        From :func:`rebalance_reports`.

    Returns
    -------
    StepVerification
    """
    alphas = v.array("alphas", alphas, ndim=1)
    if len(reports) != alphas.size:
        raise ValueError(f"reports must hold one entry per alpha ({alphas.size}), got {len(reports)}")
    if any(q is None for q in reports):
        nan = float("nan")
        before = np.array([np.nan if q is None else q.redundant_before / a ** 2 for a, q in zip(alphas, reports)])
        return StepVerification(nan, nan, nan, nan, before)
    return StepVerification(product=max(q.product_change for q in reports), lift=max(_lift(q) for q in reports),
                      spectrum=max(_spectrum(q) for q in reports),
                      after=min(q.redundant_after / q.beta for q in reports),
                      before=np.array([q.redundant_before / a ** 2 for a, q in zip(alphas, reports)]))


def reports_table(alphas, reports) -> str:
    """The table of the step at each trigger time, as text.

    Parameters
    ----------
    alphas : ndarray of shape (A,)
    reports : list of RebalanceReport or None
    """
    lines = [" alpha   beta  |dX|/|X|  max|s^2/beta-1|  spectrum  before/a^2  after/beta"]
    for a, q in zip(alphas, reports):
        if q is None:
            lines.append(f"{a:>6.2f}  never triggered")
            continue
        lines.append(f"{a:>6.2f} {q.beta:>6.3f} {q.product_change:>9.1e} {_lift(q):>16.1e} {_spectrum(q):>9.1e}"
                     f" {q.redundant_before / a ** 2:>10.3f} {q.redundant_after / q.beta:>11.6f}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the rates
@dataclass(frozen=True)
class Rates:
    """Late rates of the vanilla and rebalanced runs.

    Attributes
    ----------
    alphas : ndarray of shape (A,)
    vanilla, modified : ndarray of shape (A,)
        Rates of the squared relative error per iteration (NaN where not measurable).
    exact : float
        Rate of the exact parameterization ``k = r``.
    speedup : ndarray of shape (A,)
        ``modified / vanilla``.
    slope : float
        Log-log slope of the speed-up against alpha (NaN if fewer than two finite values).
    """

    alphas: np.ndarray
    vanilla: np.ndarray
    modified: np.ndarray
    exact: float
    speedup: np.ndarray
    slope: float


def _rate(res: GDResult, i: int, start: float) -> float:
    """Late rate of run ``i`` of ``res`` from ``start``; NaN if it cannot be fitted."""
    err2 = res.rel_error[i] ** 2
    if not np.isfinite(start) or start < 0 or np.count_nonzero((err2 > FLOOR) & (res.t >= start)) < 4:
        return float("nan")
    return float(late_rate(res.t, err2, start=float(start), floor=FLOOR).estimate)


def rates(runs: Runs) -> Rates:
    """Fit every late rate on the second half of ``[trigger, last record above FLOOR]``.

    The vanilla run of each alpha uses the trigger time of its rebalanced twin (the same
    trajectory up to then); the ``k = r`` run uses its own.

    Parameters
    ----------
    runs : Runs

    Returns
    -------
    Rates
    """
    van, mod, T1 = _need("runs", runs, Runs).vanilla, runs.modified, runs.T1
    A = runs.alphas.size
    rho_mod = np.array([_rate(mod, i, T1[i]) for i in range(A)])
    rho_van = np.array([_rate(van, i, T1[i]) for i in range(A)])
    start = hitting_time(van.t, van.residual[-1], runs.epsilon).time
    rho_exact = _rate(van, van.batch_size - 1, start)
    speedup = rho_mod / rho_van
    ok = np.isfinite(speedup) & (speedup > 0)
    slope = fit_power(runs.alphas[ok], speedup[ok]).estimate if ok.sum() >= 2 else float("nan")
    return Rates(runs.alphas, rho_van, rho_mod, float(rho_exact), speedup, float(slope))


def rates_summary(q: Rates) -> str:
    """The rates per alpha, the speed-ups and the ``k = r`` rate, as text.

    Parameters
    ----------
    q : Rates
    """
    lines = [f"alpha {a:.2f}: vanilla {x:.3e}, rebalanced {y:.3e}, speed-up {s:.3g}"
             for a, x, y, s in zip(q.alphas, q.vanilla, q.modified, q.speedup)]
    lines.append(f"k = r: {q.exact:.3e}; log-log slope of the speed-up: {q.slope:.3f}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the check
def _bounds(runs: Runs) -> tuple[float, float]:
    """Upper end of the vs-exact band and the lower bound of the jump."""
    xs = runs.problem.target.sigma
    ratio_hi = 3 * max(1.0, runs.kappa / 2)
    jump_lo = 1 - 4 * (runs.epsilon * np.linalg.norm(xs) / xs[0]) ** 2
    return float(ratio_hi), float(jump_lo)


def glue_values(runs: Runs, step: StepVerification, q: Rates) -> dict:
    """The numbers the chapter's prose quotes, by glue name (rounded as the prose shows them).

    Parameters
    ----------
    runs : Runs
    step : StepVerification
    q : Rates

    Returns
    -------
    dict
    """
    _need("runs", runs, Runs)
    _need("step", step, StepVerification)
    _need("q", q, Rates)
    spread = q.modified.max() / q.modified.min() - 1
    return {"b4_spread": round(float(100 * spread), 1),
            "b4_rho_mod_min": float(f"{q.modified.min():.3g}"),
            "b4_rho_mod_max": float(f"{q.modified.max():.3g}"),
            "b4_rho_exact": float(f"{q.exact:.3g}"),
            "b4_exact_ratio": round(float(q.exact / q.modified.mean()), 2),
            "b4_slope": round(q.slope, 2),
            "b4_speedup_max": float(f"{q.speedup.max():.3g}"),
            "b4_speedup_min": float(f"{q.speedup.min():.3g}"),
            "b4_before_min": round(float(step.before.min()), 2),
            "b4_before_max": round(float(step.before.max()), 2),
            "b4_after_gap": float(f"{1 - step.after:.2g}"),
            "b4_product": float(f"{step.product:.1g}"),
            "b4_T1_min": int(runs.T1.min()),
            "b4_T1_max": int(runs.T1.max())}


def step_summary(step: StepVerification) -> str:
    """The worst cases of the step's quantities, rounded, as text.

    Parameters
    ----------
    step : StepVerification
    """
    return str({key: f"{getattr(step, key):.3g}" for key in ("product", "lift", "spectrum", "after")})


def claims(runs: Runs, step: StepVerification, q: Rates) -> list[Claim]:
    """The chapter's claims (see the page for the basis of each tolerance).

    Parameters
    ----------
    runs : Runs
    step : StepVerification
    q : Rates

    Returns
    -------
    list of Claim
    """
    _need("runs", runs, Runs)
    _need("step", step, StepVerification)
    _need("q", q, Rates)
    ratio_hi, jump_lo = _bounds(runs)
    spread = float(q.modified.max() / q.modified.min() - 1)
    return [
        between("b4.product", "the step leaves F G^T unchanged (largest relative change over alpha)",
                step.product, 0.0, 1e-12, basis="identity", tolerance="exact algebra, rounding only"),
        between("b4.lift", "after the step every sigma_i(F)^2 equals beta (largest relative deviation)",
                step.lift, 0.0, 1e-12, basis="identity", tolerance="exact algebra, rounding only"),
        between("b4.spectrum", "eigenvalues of the new imbalance equal beta - s_i^2/beta (error / beta)",
                step.spectrum, 0.0, 1e-10, basis="identity", tolerance="exact algebra, rounding only"),
        between("b4.jump", "1 - (smallest redundant imbalance after the step) / beta",
                1 - step.after, 0.0, 1 - jump_lo, basis="derived-on-page",
                tolerance="(||X - X*||/beta)^2 with ||X - X*|| ~ epsilon ||X*||_F, x4 for RIP"),
        between("b4.alpha-free", "post-step rates: max / min - 1 over alpha", spread, 0.0, 0.15,
                basis="theory", tolerance="15% (same rate for every alpha)"),
        between("b4.vs-exact", "k = r rate / mean post-step rate", q.exact / q.modified.mean(), 1 / 3, ratio_hi,
                basis="derived-on-page",
                tolerance="factor 3 (kappa <= 2), 1.5 kappa beyond: weak G costs about 1/kappa"),
        between("b4.speedup", "log-log slope of the speed-up over vanilla GD against alpha", q.slope,
                -2.3, -1.7, basis="theory", tolerance="±0.3 around -2 (finite-window bias of the smallest alpha)"),
    ]


# ----------------------------------------------------------------------------- figures
def plot_one_step(vanilla: GDResult, modified: GDResult, *, r: int):
    """Squared relative errors of vanilla runs (solid) and rebalanced runs (dashed, same colour).

    Parameters
    ----------
    vanilla : GDResult
        Batch whose first rows are over-parameterized runs, one per ``alpha`` of
        ``modified``, and whose last row is the exact-parameterization run (``k = r``).
    modified : GDResult
        The same runs with ``rebalance_tol`` set (its ``rebalanced_at`` marks the step).
    r : int, keyword-only
        Rank of the ground truth (for the legend).

    Returns
    -------
    fig, ax
    """
    if not isinstance(vanilla, GDResult) or not isinstance(modified, GDResult):
        raise ValueError("vanilla and modified must be GDResult")
    B = modified.batch_size
    if vanilla.batch_size != B + 1:
        raise ValueError(f"vanilla must hold the {B} runs of modified plus one k = r run, "
                         f"got {vanilla.batch_size} runs")
    r = v.integer("r", r, minimum=1)
    fig, ax = figure(1, width=9.6, height=4.0)
    colors = STYLE["axes.prop_cycle"].by_key()["color"]
    for i in range(B):
        c = colors[i % len(colors)]
        a, k = modified.alpha[i], int(modified.k[i])
        ax.plot(vanilla.t, vanilla.rel_error[i] ** 2, color=c, label=f"vanilla, k = {k}, {param_label('alpha', a)}")
        ax.plot(modified.t, modified.rel_error[i] ** 2, color=c, ls="--",
                label=f"one step rebalanced, {param_label('alpha', a)}")
        if modified.rebalanced_at[i] >= 0:
            ax.axvline(modified.rebalanced_at[i], color=c, lw=0.6, ls=":")
    ax.plot(vanilla.t, vanilla.rel_error[-1] ** 2, color="black", lw=1.2,
            label=f"exact parameterization k = r = {r}, {param_label('alpha', vanilla.alpha[-1])}")
    ax.set_yscale("log")
    ax.set_xlabel("iteration t")
    ax.set_ylabel("squared relative error")
    ax.set_title("asymmetric GD, vanilla vs one-step rebalancing (dotted: the step)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig, ax


def plot_rates(q: Rates, *, k: int, r: int):
    """Fitted rates against ``alpha`` (log-log) and the speed-up of the rebalanced runs.

    Parameters
    ----------
    q : Rates
        From :func:`rates` (rates that could not be measured, NaN, are left out).
    k, r : int, keyword-only
        Columns of the factors and rank of the ground truth (for the legends).

    Returns
    -------
    fig, axes
    """
    if not isinstance(q, Rates):
        raise ValueError(f"q must be a Rates, got {type(q).__name__}")
    k = v.integer("k", k, minimum=1)
    r = v.integer("r", r, minimum=1)
    alphas, rv, rm = q.alphas, q.vanilla, q.modified
    fig, axes = figure(2, width=9.6, height=3.6)
    ax = axes[0]
    ax.loglog(alphas, rv, "o-", label=f"vanilla, k = {k}")
    ax.loglog(alphas, rm, "s--", label=f"one step rebalanced, k = {k}")
    if np.isfinite(q.exact):
        ax.axhline(q.exact, color="black", lw=1.2, label=f"exact parameterization k = r = {r}")
    ax.loglog(alphas, rv[0] * (alphas / alphas[0]) ** 2, ":", color="gray", label="slope 2 (∝ α²)")
    ax.set_xlabel("initialization scale α")
    ax.set_ylabel("rate of the squared error per iteration")
    ax.set_title("late linear rates")
    ax.legend()
    ax = axes[1]
    ax.loglog(alphas, q.speedup, "o-", label="speed-up (rate ratio)")
    ax.loglog(alphas, q.speedup[0] * (alphas / alphas[0]) ** -2.0, ":", color="gray", label="slope −2 (∝ 1/α²)")
    ax.set_xlabel("initialization scale α")
    ax.set_ylabel("rebalanced rate / vanilla rate")
    ax.set_title("speed-up over vanilla GD")
    ax.legend()
    for ax in axes:
        ax.set_xticks(alphas, labels=[f"{a:g}" for a in alphas])
        ax.minorticks_off()
    return fig, axes


def evaluate(P) -> list[Claim]:
    """Run the chapter's whole computation as its notebook does, and return its claims.

    The same calls, in the same order and with the same arguments, as ``book/b4_one_step.ipynb``
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
    runs = run(P)
    reports = rebalance_reports(runs)
    q = rates(runs)
    step = verify_step(runs.alphas, reports)
    return claims(runs, step, q)
