"""Chapter ``b3_imbalance``: the imbalance drives the convergence of asymmetric GD (paper B).

For :math:`X = UV^\\top` (paper B writes :math:`FG^\\top`) the *imbalance* is the
:math:`k\\times k` matrix :math:`\\Delta = U^\\top U - V^\\top V`. One gradient step
:math:`U' = U - \\eta DV`, :math:`V' = V - \\eta D^\\top U` with
:math:`D = \\mathcal A^*(\\mathcal A(UV^\\top) - y)` changes it by exactly

.. math::

    \\Delta' - \\Delta = \\eta^2\\,(V^\\top D^\\top D V - U^\\top D D^\\top U)
    = \\eta^2\\,(\\nabla_U^\\top \\nabla_U - \\nabla_V^\\top \\nabla_V),

because the terms of order :math:`\\eta` cancel (:func:`opsense.imbalance_increment`).
This module verifies the identity along trajectories of the engine
(:func:`verify_identity`, :func:`imbalance_drift`), runs the chapter's three
initializations (balanced, random, imbalanced), compresses :math:`\\Delta` onto the
redundant directions of :math:`\\mathbb R^k` (:func:`opsense.redundant_imbalance`) and
compares the late linear rate with :math:`2\\eta\\lambda_{\\min}(\\Delta_{\\rm red})`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..config import Cost, gd_cost, parameter_check
from ..analysis import Fit, fit_power, hitting_time, late_rate, signal_time
from ..claims import Claim, at_least, between
from ..engine.factors import imbalance, imbalance_increment, initial_factors, redundant_imbalance
from ..engine.gd import GDResult, run_gd
from ..engine.problems import Problem, PsdProblems, check_factor_pair, check_problem, psd_problems
from ..plotting import figure, param_label, plot_curves

__all__ = ["PRESETS", "EPS", "FLOOR", "check", "cost", "Setup", "setup", "init_summary", "Runs", "run",
           "IdentityVerification", "verify_identity", "run_identity", "identity_summary", "imbalance_drift",
           "Drift", "run_drift", "drift_summary", "BalancedVerification", "verify_balanced", "balanced_summary",
           "rip_shrink", "trigger_time", "LateRate", "Rates", "late_rates",
           "rates_summary", "final_errors", "final_summary", "glue_values", "claims",
           "plot_three_initializations", "plot_identity_drift", "evaluate"]

#: Parameter sets: ``book`` (n 20, about 10 s) and ``paper`` (n 50, rank 3).
PRESETS = {
    "book": dict(n=20, r=2, k=4, m=600, kappa=2.0, alpha=0.2, eta=0.1, iters=8000, seed=0),
    "paper": dict(n=50, r=3, k=5, m=1500, kappa=2.0, alpha=0.2, eta=0.1, iters=12000, seed=0),
}

#: Trigger: relative residual ``<= EPS`` ends the fast phase (data only).
EPS = 1e-2
#: Fits ignore squared relative errors below this (the float64 floor is about 1e-30).
FLOOR = 1e-24
#: Steps of the one-step identity verification (at most ``iters``).
IDENTITY_STEPS = 300
#: Chunk length of the drift runs.
DRIFT_EVERY = 10
#: The three initializations, in the order of the batch on the general operator.
INITS = ("balanced", "random", "imbalanced")

#: Largest operator (entries m * n^2; two are held) and largest work iters * m * n^2.
MAX_ENTRIES = 20_000_000
MAX_WORK = 2e11
#: The horizon must reach this many plateau times 1 / (eta alpha^2).
HORIZON_PLATEAUS = 8


@parameter_check
def check(P) -> None:
    """Refuse infeasible parameters of the chapter, naming the parameter.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (attributes ``n, r, k, m, kappa, alpha, eta, iters, seed``).

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
    alpha = v.real("alpha", P.alpha, positive=True)
    if alpha > 1:
        raise ValueError(f"parameter alpha must be in (0, 1] (a small initialization; sigma_1(X*) = 1), "
                         f"got {alpha}")
    eta = v.real("eta", P.eta, positive=True)
    iters = v.integer("iters", P.iters, minimum=1)
    seed = v.integer("seed", P.seed, minimum=0)
    if m * n * n > MAX_ENTRIES:
        raise ValueError(f"parameter m must keep m * n^2 <= {MAX_ENTRIES:,} (the operators' memory), "
                         f"got {m} * {n}^2")
    horizon = int(np.ceil(HORIZON_PLATEAUS / (eta * alpha ** 2)))
    if iters < horizon:
        raise ValueError(f"parameter iters must be >= {horizon} = {HORIZON_PLATEAUS} / (eta alpha^2) (the late "
                         f"fits need a horizon long after the plateau ends at 1 / (eta alpha^2)), got {iters}")
    if iters * m * n * n > MAX_WORK:
        raise ValueError(f"parameter iters must keep iters * m * n^2 <= {MAX_WORK:.0e} (running time), "
                         f"got {iters} * {m} * {n}^2")
    problems = psd_problems(n, r, m, kappa=kappa, seed=seed)
    safe = min(_safe_eta(p) for p in (problems.symmetric, problems.general))
    if eta > safe:
        raise ValueError(f"parameter eta must be <= {safe:.3g} = 1/(3 sigma_1(A*(y))) for these operators "
                         f"(the engine's safe step size), got {eta}")






def cost(P) -> Cost:
    """What the chapter's runs cost, from the parameters alone (pure arithmetic, nothing is run).

    ``work`` sums :func:`run` (five Gaussian runs of ``iters`` steps: the three initializations,
    balanced, symmetric; one identity run), :func:`run_identity` (``min(300, iters)`` single
    steps, five operator passes each with :func:`opsense.imbalance_increment`) and
    :func:`run_drift` (three runs of ``4 n0`` steps in chunks of 10, ``21`` passes per chunk),
    each Gaussian step ``n^2 (2 m + 3 k)``. ``n0`` is the trigger time of the imbalanced run
    rounded up to 10, which depends on the data; it is estimated as
    ``2.5 * signal_time(alpha)`` (:func:`opsense.signal_time`; measured 570 and 540
    against 506 and 552 for ``book`` and ``paper``), at most ``iters``. ``memory_bytes``: the two
    ``m x n^2`` operators of :func:`setup` and the factors and curves of the runs.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (already checked by :func:`check`).

    Returns
    -------
    opsense.config.Cost
    """
    n, r, k, m, iters = int(P.n), int(P.r), int(P.k), int(P.m), int(P.iters)
    g = dict(n1=n, n2=n, k=k, r=r, every=10)
    w_gen, b_gen = gd_cost(3, iters, m=m, **g)
    w_one, b_one = gd_cost(1, iters, m=m, **g)
    w_fac, b_fac = gd_cost(1, iters, m=0, **g)
    steps = min(IDENTITY_STEPS, iters)
    w_ident = steps * n * n * (5.0 * m + 6 * k)
    t_eps = min(iters, 2.5 * signal_time(P.alpha, eta=P.eta, kappa=P.kappa, n=n))
    n0 = max(DRIFT_EVERY, int(np.ceil(t_eps / DRIFT_EVERY)) * DRIFT_EVERY)
    chunks = 4 * n0 // DRIFT_EVERY
    w_drift = 3.0 * chunks * n * n * ((2 * DRIFT_EVERY + 1) * m + 3 * DRIFT_EVERY * k)
    memory = 8.0 * 2 * m * n * n + b_gen + 2 * b_one + b_fac
    return Cost(memory_bytes=memory, work=w_gen + 2 * w_one + w_fac + w_ident + w_drift,
                drivers=("iters", "m", "n", "alpha", "k"))


def _safe_eta(problem: Problem) -> float:
    return 1.0 / (3.0 * float(problem.spectral_sigma[0]))


def _need(name: str, value, cls):
    """Return ``value`` if it is a ``cls`` (a result of this chapter)."""
    if not isinstance(value, cls):
        raise ValueError(f"{name} must be a {cls.__name__}, got {type(value).__name__}")
    return value


# ----------------------------------------------------------------------------- the three runs
@dataclass(frozen=True)
class Setup:
    """The chapter's problems and initial factors.

    Attributes
    ----------
    problems : PsdProblems
        One PSD ground truth measured by a symmetric, a general and the identity operator.
    inits : dict of str to (ndarray of shape (n, k), ndarray of shape (n, k))
        Initial factors ``(U0, V0)`` for each of ``INITS`` (the same ``U0``).
    delta0 : dict of str to ndarray of shape (k, k)
        Their imbalances :math:`\\Delta_0`.
    alpha : float
        The initialization scale.
    """

    problems: PsdProblems
    inits: dict
    delta0: dict
    alpha: float


def setup(P) -> Setup:
    """Build the problems and the three initializations of the parameters ``P``.

    Parameters
    ----------
    P : Parameters
        Checked by :func:`check`.

    Returns
    -------
    Setup
    """
    problems = psd_problems(P.n, P.r, P.m, kappa=P.kappa, seed=P.seed)
    inits = {s: initial_factors(P.n, P.n, P.k, P.alpha, init=s, seed=P.seed) for s in INITS}
    return Setup(problems, inits, {s: imbalance(*inits[s]) for s in INITS}, float(P.alpha))


def init_summary(s: Setup) -> str:
    """The eigenvalues of :math:`\\Delta_0/\\alpha^2` of each initialization, as text.

    Parameters
    ----------
    s : Setup
    """
    lines = []
    for name in INITS:
        ev = np.linalg.eigvalsh(s.delta0[name]) / s.alpha ** 2
        lines.append(f"{name:>10}: eigenvalues of Delta_0 / alpha^2 = " + str(np.round(ev, 3) + 0.0))
    return "\n".join(lines)


@dataclass(frozen=True)
class Runs:
    """The chapter's gradient-descent runs.

    Attributes
    ----------
    general : GDResult
        Batch of the three initializations of ``INITS`` on the general Gaussian operator.
    balanced : GDResult
        :math:`U_0 = V_0` on the symmetric operator.
    symmetric : GDResult
        The symmetric parameterization :math:`XX^\\top` on the symmetric operator, :math:`X_0 = U_0`.
    factorization : GDResult
        The imbalanced initialization on the identity operator (matrix factorization).
    k : int
    alpha : float
    """

    general: GDResult
    balanced: GDResult
    symmetric: GDResult
    factorization: GDResult
    k: int
    alpha: float


def run(P, s: Setup) -> Runs:
    """Run the three initializations (one batch) and the balanced, symmetric and factorization runs.

    Parameters
    ----------
    P : Parameters
        Checked by :func:`check`.
    s : Setup
        From :func:`setup` with the same ``P``.

    Returns
    -------
    Runs
    """
    _need("s", s, Setup)
    U0 = np.stack([s.inits[name][0] for name in INITS])
    V0 = np.stack([s.inits[name][1] for name in INITS])
    kw = dict(eta=P.eta, iters=P.iters)
    gen = run_gd(s.problems.general, init=(U0, V0), **kw)
    kw.update(k=P.k, alpha=P.alpha, seed=P.seed)
    bal = run_gd(s.problems.symmetric, init="balanced", **kw)
    sym = run_gd(s.problems.symmetric, parameterization="symmetric", **kw)
    fac = run_gd(s.problems.identity, init=s.inits["imbalanced"], eta=P.eta, iters=P.iters)
    return Runs(gen, bal, sym, fac, int(P.k), float(P.alpha))


def _curves(runs: Runs) -> np.ndarray:
    """Squared relative errors, shape (4, T): balanced (symmetric operator), then the general batch."""
    return np.vstack([runs.balanced.rel_error, runs.general.rel_error]) ** 2


# ----------------------------------------------------------------------------- the identity
@dataclass(frozen=True)
class IdentityVerification:
    """The one-step imbalance identity verified along an engine trajectory.

    Attributes
    ----------
    t : ndarray of int, shape (T,)
        Steps ``t = 0, ..., T-1`` (the step from ``t`` to ``t + 1``).
    discrepancy : ndarray of shape (T,)
        :math:`\\|(\\Delta_{t+1}-\\Delta_t) - \\eta^2(V_t^\\top D_t^\\top D_tV_t - U_t^\\top D_tD_t^\\top U_t)\\|_F`
        divided by :math:`\\|U_t^\\top U_t\\|_F + \\|V_t^\\top V_t\\|_F` (the scale of the rounding
        errors of :math:`\\Delta` itself).
    increment : ndarray of shape (T,)
        Frobenius norm of the predicted increment.
    change : ndarray of shape (T,)
        Frobenius norm of the measured change :math:`\\Delta_{t+1}-\\Delta_t`.
    eta : float
    """

    t: np.ndarray
    discrepancy: np.ndarray
    increment: np.ndarray
    change: np.ndarray
    eta: float


def verify_identity(problem: Problem, U0, V0, *, eta: float, steps: int) -> IdentityVerification:
    """Step the engine one iteration at a time and compare the measured change of the
    imbalance with :func:`opsense.imbalance_increment`.

    Parameters
    ----------
    problem : Problem
    U0 : ndarray of shape (n1, k)
    V0 : ndarray of shape (n2, k)
        Initial factors (e.g. from :func:`opsense.initial_factors`).
    eta : float > 0, keyword-only
        Step size.
    steps : int >= 1, keyword-only
        Number of steps verified.

    Returns
    -------
    IdentityVerification
    """
    problem = check_problem(problem)
    U, V = check_factor_pair(problem, U0, V0)
    eta = v.real("eta", eta, positive=True)
    steps = v.integer("steps", steps, minimum=1)
    disc, inc, chg = np.empty(steps), np.empty(steps), np.empty(steps)
    for t in range(steps):
        pred = imbalance_increment(problem, U, V, eta=eta)
        res = run_gd(problem, init=(U, V), eta=eta, iters=1, record_every=1)
        U1, V1 = res.U[0], res.V[0]
        change = imbalance(U1, V1) - imbalance(U, V)
        scale = np.linalg.norm(U.T @ U) + np.linalg.norm(V.T @ V)
        disc[t] = np.linalg.norm(change - pred) / scale
        inc[t], chg[t] = np.linalg.norm(pred), np.linalg.norm(change)
        U, V = U1, V1
    return IdentityVerification(np.arange(steps), disc, inc, chg, eta)


def run_identity(P, s: Setup) -> IdentityVerification:
    """:func:`verify_identity` along the imbalanced run on the general operator.

    Parameters
    ----------
    P : Parameters
    s : Setup

    Returns
    -------
    IdentityVerification
        Over ``min(300, iters)`` steps.
    """
    _need("s", s, Setup)
    return verify_identity(s.problems.general, *s.inits["imbalanced"], eta=P.eta,
                           steps=min(IDENTITY_STEPS, P.iters))


def identity_summary(ver: IdentityVerification) -> str:
    """The largest discrepancy and the largest one-step change, as text.

    Parameters
    ----------
    ver : IdentityVerification
    """
    return (f"largest relative discrepancy, {ver.t.size} steps: {ver.discrepancy.max():.1e}\n"
            f"largest change of Delta in one step: {ver.change.max():.2e}")


def imbalance_drift(problem: Problem, U0, V0, *, eta, iters: int, every: int):
    """Drift :math:`\\|\\Delta_t-\\Delta_0\\|_F` of a batch of runs that differ only in ``eta``.

    The engine runs in chunks of ``every`` iterations (one batched call per chunk),
    and the imbalance is evaluated between chunks.

    Parameters
    ----------
    problem : Problem
    U0 : ndarray of shape (n1, k)
    V0 : ndarray of shape (n2, k)
        Initial factors shared by every run.
    eta : float or sequence of float > 0, keyword-only
        Step sizes, one run each.
    iters : int >= 1, keyword-only
        Total number of iterations (a multiple of ``every``).
    every : int >= 1, keyword-only
        Chunk length.

    Returns
    -------
    t : ndarray of int, shape (T,)
        Iterations ``0, every, 2 every, ..., iters``.
    drift : ndarray of shape (B, T)
        :math:`\\|\\Delta_t-\\Delta_0\\|_F` for each step size.
    """
    problem = check_problem(problem)
    U0, V0 = check_factor_pair(problem, U0, V0)
    etas = v.sweep("eta", eta, lambda n, x: v.real(n, x, positive=True))
    iters = v.integer("iters", iters, minimum=1)
    every = v.integer("every", every, minimum=1)
    if iters % every:
        raise ValueError(f"iters must be a multiple of every={every}, got {iters}")
    B = len(etas)
    U = np.repeat(U0[None], B, axis=0)
    V = np.repeat(V0[None], B, axis=0)
    D0 = imbalance(U0, V0)
    t, drift = [0], [np.zeros(B)]
    for c in range(iters // every):
        res = run_gd(problem, init=(U, V), eta=etas, iters=every, record_every=every)
        U, V = res.U, res.V
        t.append((c + 1) * every)
        drift.append(np.linalg.norm((imbalance(U, V) - D0).reshape(B, -1), axis=1))
    return np.asarray(t), np.stack(drift, axis=1)


@dataclass(frozen=True)
class Drift:
    """The drift of the imbalance at a fixed flow time, for ``eta``, ``eta/2``, ``eta/4``.

    Attributes
    ----------
    etas : ndarray of shape (3,)
    t : ndarray of int, shape (T,)
        Iterations of the drift curves.
    drift : ndarray of shape (3, T)
        :math:`\\|\\Delta_t-\\Delta_0\\|_F` per step size.
    T_eps : float
        First iteration of the imbalanced run with relative residual ``<= EPS`` (NaN if never).
    n0 : int
        Steps at ``eta`` up to the flow time ``tau`` (``2 n0``, ``4 n0`` at ``eta/2``, ``eta/4``).
    tau : float
        The flow time ``eta n0``.
    drift_tau : ndarray of shape (3,)
        The drift of each run at ``tau``.
    fit : Fit
        Power law of ``drift_tau`` against ``etas``.
    """

    etas: np.ndarray
    t: np.ndarray
    drift: np.ndarray
    T_eps: float
    n0: int
    tau: float
    drift_tau: np.ndarray
    fit: Fit


def trigger_time(t, residual, *, epsilon: float) -> float:
    """First recorded iteration with relative residual ``<= epsilon`` (NaN if never).

    The same data-only test that ``run_gd(..., rebalance_tol=epsilon)`` uses.

    Parameters
    ----------
    t : ndarray of shape (T,)
        Recorded iterations.
    residual : ndarray of shape (T,)
        Relative residual of one run.
    epsilon : float in (0, 1), keyword-only

    Returns
    -------
    float
    """
    epsilon = v.real("epsilon", epsilon, positive=True, below=1.0)
    return hitting_time(t, residual, epsilon).time


def run_drift(P, s: Setup, runs: Runs) -> Drift:
    """Run the imbalanced initialization with ``eta``, ``eta/2``, ``eta/4`` up to the flow time
    ``tau = eta T_eps`` (``T_eps`` from the imbalanced run of ``runs``; the whole horizon if it never
    triggers) and fit the drift at ``tau`` against ``eta``.

    Parameters
    ----------
    P : Parameters
    s : Setup
    runs : Runs

    Returns
    -------
    Drift
    """
    _need("s", s, Setup)
    gen = _need("runs", runs, Runs).general
    T_eps = trigger_time(gen.t, gen.residual[2], epsilon=EPS)
    stop = min(T_eps, P.iters) if np.isfinite(T_eps) else P.iters
    n0 = max(DRIFT_EVERY, int(np.ceil(stop / DRIFT_EVERY)) * DRIFT_EVERY)
    etas = np.array([P.eta, P.eta / 2, P.eta / 4])
    t, drift = imbalance_drift(s.problems.general, *s.inits["imbalanced"], eta=etas, iters=4 * n0,
                               every=DRIFT_EVERY)
    drift_tau = np.array([drift[i, t == n0 * 2 ** i][0] for i in range(3)])
    return Drift(etas, t, drift, float(T_eps), n0, float(P.eta * n0), drift_tau, fit_power(etas, drift_tau))


def drift_summary(d: Drift) -> str:
    """The trigger time, the flow time and the drifts at it, and the fitted slope, as text.

    Parameters
    ----------
    d : Drift
    """
    return (f"T_eps = {d.T_eps:.0f}, tau = {d.tau:.0f}; drift at tau: "
            + ", ".join(f"{x:.3e}" for x in d.drift_tau)
            + f"\nlog-log slope of the drift against eta: {d.fit.estimate:.3f}")


# ----------------------------------------------------------------------------- balanced = symmetric
@dataclass(frozen=True)
class BalancedVerification:
    """The balanced run on the symmetric operator against the :math:`XX^\\top` run.

    Attributes
    ----------
    same_factors : bool
        :math:`U_T` and :math:`V_T` are bitwise equal.
    unequal_entries : int
        Number of entries where :math:`U_T \\ne V_T` (0 when bitwise equal).
    sym_gap : float
        Largest relative gap between the two error curves.
    tail : Fit
        Log-log slope of the squared error on ``[T/4, T]``.
    """

    same_factors: bool
    unequal_entries: int
    sym_gap: float
    tail: Fit


def verify_balanced(runs: Runs) -> BalancedVerification:
    """Verify that the balanced run on the symmetric operator is the :math:`XX^\\top` run.

    Parameters
    ----------
    runs : Runs

    Returns
    -------
    BalancedVerification
    """
    bal, sym = _need("runs", runs, Runs).balanced, runs.symmetric
    T = float(bal.t[-1])
    unequal = int(np.count_nonzero(bal.U != bal.V))
    gap = float(np.max(np.abs(bal.error - sym.error) / sym.error))
    tail = fit_power(bal.t, bal.rel_error[0] ** 2, window=(T / 4, T))
    return BalancedVerification(unequal == 0, unequal, gap, tail)


def balanced_summary(b: BalancedVerification) -> str:
    """The bitwise equality, the gap to the :math:`XX^\\top` run and the tail slope, as text.

    Parameters
    ----------
    b : BalancedVerification
    """
    return (f"F_T == G_T bitwise: {b.same_factors}; relative gap to the XX^T run: {b.sym_gap:.1e}\n"
            f"log-log slope of the squared error on [T/4, T]: {b.tail.estimate:.3f}")


# ----------------------------------------------------------------------------- the late rate


def rip_shrink(n2: int, k: int, r: int, m: int) -> float:
    """Curvature factor :math:`(1-\\sqrt{n_2(k-r)/m})^2` of a Gaussian operator on the slow subspace.

    The redundant directions :math:`\\{U_{\\rm red}Z^\\top : Z\\in\\mathbb R^{n_2\\times(k-r)}\\}` form
    a subspace of dimension :math:`d = n_2(k-r)`; a Gaussian operator with ``m``
    measurements and :math:`\\mathcal N(0,1/m)` entries, restricted to it, is an
    ``m x d`` Gaussian matrix whose smallest squared singular value is about
    :math:`(1-\\sqrt{d/m})^2` (Marchenko-Pastur edge). Returns 0 when ``d >= m``.

    Parameters
    ----------
    n2 : int >= 1
        Rows of :math:`V`.
    k : int >= 2
        Columns of the factors.
    r : int
        Rank of the ground truth, ``1 <= r < k``.
    m : int >= 1
        Number of measurements.

    Returns
    -------
    float
    """
    n2 = v.integer("n2", n2, minimum=1)
    k = v.integer("k", k, minimum=2)
    r = v.integer("r", r, minimum=1, maximum=k - 1)
    m = v.integer("m", m, minimum=1)
    return float(max(0.0, 1.0 - np.sqrt(n2 * (k - r) / m)) ** 2)


@dataclass(frozen=True)
class LateRate:
    """The late linear rate of one imbalanced run against the imbalance.

    Attributes
    ----------
    rho : float
        Fitted decay rate of the squared relative error per iteration (NaN if it could not be fitted).
    r2 : float
        Coefficient of determination of the fit.
    lam0 : float
        :math:`\\lambda_{\\min}(\\Delta_0)`.
    lam_red : float
        :math:`\\lambda_{\\min}(\\Delta_{\\rm red})`.
    c : float
        :math:`\\rho / (2\\eta\\lambda_{\\min}(\\Delta_0))`.
    R : float
        :math:`\\rho / (2\\eta\\lambda_{\\min}(\\Delta_{\\rm red}))`.
    iota : float
        :math:`\\lambda_{\\min}(\\Delta_{\\rm red}) / \\lambda_{\\min}(\\Delta_0)`.
    """

    rho: float
    r2: float
    lam0: float
    lam_red: float
    c: float
    R: float
    iota: float


@dataclass(frozen=True)
class Rates:
    """The late rates of the imbalanced runs (sensing, factorization) and the curvature factor.

    Attributes
    ----------
    sensing, factorization : LateRate
    shrink : float
        :func:`rip_shrink` of the chapter's sizes.
    eta : float
    """

    sensing: LateRate
    factorization: LateRate
    shrink: float
    eta: float


def _fit_late(res: GDResult, start: float):
    """Late rate fit of a one-run result from ``start``; ``None`` if it cannot be fitted."""
    if not np.isfinite(start):
        return None
    err2 = res.rel_error[0] ** 2
    if np.count_nonzero((err2 > FLOOR) & (res.t >= start)) < 4:
        return None
    return late_rate(res.t, err2, start=start, floor=FLOOR)


def late_rates(P, s: Setup, runs: Runs) -> Rates:
    """Fit the late rate of the imbalanced runs and compare it with the imbalance.

    The rate of the squared relative error is fitted on the second half of the stretch between
    the trigger time (relative residual ``<= EPS``) and the last record above ``FLOOR``; the
    redundant directions are read off the final :math:`V_T`.

    Parameters
    ----------
    P : Parameters
    s : Setup
    runs : Runs

    Returns
    -------
    Rates
    """
    _need("runs", runs, Runs)
    delta0 = _need("s", s, Setup).delta0["imbalanced"]
    lam0 = float(np.linalg.eigvalsh(delta0)[0])
    out = {}
    for name, res in (("sensing", runs.general.member(2)), ("factorization", runs.factorization)):
        fit = _fit_late(res, trigger_time(res.t, res.residual[0], epsilon=EPS))
        rho, r2 = (fit.estimate, fit.r2) if fit is not None else (np.nan, np.nan)
        lam_red = float(redundant_imbalance(delta0, res.V[0], r=P.r)[0][0])
        out[name] = LateRate(float(rho), float(r2), lam0, lam_red, float(rho / (2 * P.eta * lam0)),
                             float(rho / (2 * P.eta * lam_red)), lam_red / lam0)
    return Rates(out["sensing"], out["factorization"], rip_shrink(P.n, P.k, P.r, P.m), float(P.eta))


def rates_summary(rates: Rates) -> str:
    """The fitted rates, the predictions and the ratios ``c``, ``R``, ``iota``, as text.

    Parameters
    ----------
    rates : Rates
    """
    lines = []
    for name in ("sensing", "factorization"):
        q = getattr(rates, name)
        lines.append(f"{name}: rho = {q.rho:.3e} (R^2 {q.r2:.4f}), "
                     f"2 eta lam_min(Delta_0) = {2 * rates.eta * q.lam0:.3e}, "
                     f"2 eta lam_min(Delta_red) = {2 * rates.eta * q.lam_red:.3e}")
        lines.append(f"    c = {q.c:.3f}, R = {q.R:.3f}, iota = {q.iota:.3f}")
    lines.append(f"Gaussian curvature factor s = (1 - sqrt(n(k-r)/m))^2 = {rates.shrink:.3f}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the check
def final_errors(runs: Runs) -> dict:
    """The final squared relative error of each run.

    Parameters
    ----------
    runs : Runs

    Returns
    -------
    dict
        ``bal_sym``, ``bal_gen``, ``random``, ``imbalanced`` to float.
    """
    _need("runs", runs, Runs)
    return {key: float(x) for key, x in zip(["bal_sym", "bal_gen", "random", "imbalanced"], _curves(runs)[:, -1])}


def _results(runs, ver, drift, bal, rates) -> None:
    for name, value, cls in (("runs", runs, Runs), ("ver", ver, IdentityVerification), ("drift", drift, Drift),
                             ("bal", bal, BalancedVerification), ("rates", rates, Rates)):
        _need(name, value, cls)


def _margin(runs: Runs) -> float:
    final = final_errors(runs)
    return min(final["bal_sym"], final["bal_gen"], final["random"]) / final["imbalanced"]


def final_summary(runs: Runs) -> str:
    """The final squared relative errors, rounded, as text.

    Parameters
    ----------
    runs : Runs
    """
    return "final squared relative errors: " + str({key: f"{x:.2g}" for key, x in final_errors(runs).items()})


def glue_values(runs: Runs, ver: IdentityVerification, drift: Drift, bal: BalancedVerification,
                rates: Rates) -> dict:
    """The numbers the chapter's prose quotes, by glue name (rounded as the prose shows them).

    Parameters
    ----------
    runs : Runs
    ver : IdentityVerification
    drift : Drift
    bal : BalancedVerification
    rates : Rates

    Returns
    -------
    dict
    """
    _results(runs, ver, drift, bal, rates)
    out = {"b3_identity_disc": float(f"{ver.discrepancy.max():.1g}"),
           "b3_drift_slope": float(f"{drift.fit.estimate:.3g}"),
           "b3_tail_slope": round(bal.tail.estimate, 2),
           "b3_sym_gap": float(f"{bal.sym_gap:.1g}"),
           "b3_margin": float(f"{_margin(runs):.2g}")}
    for name, key in (("sensing", "sens"), ("factorization", "fact")):
        q = getattr(rates, name)
        for attr in ("c", "R", "iota"):
            out[f"b3_{key}_{attr}"] = round(float(getattr(q, attr)), 2)
    out["b3_shrink"] = round(rates.shrink, 2)
    out["b3_R_lo"] = round(0.7 * rates.shrink, 3)
    out["b3_T"] = int(runs.general.t[-1])
    return out


def claims(runs: Runs, ver: IdentityVerification, drift: Drift, bal: BalancedVerification,
           rates: Rates) -> list[Claim]:
    """The chapter's claims (see the page for the basis of each tolerance).

    Parameters
    ----------
    runs : Runs
    ver : IdentityVerification
    drift : Drift
    bal : BalancedVerification
    rates : Rates

    Returns
    -------
    list of Claim
    """
    _results(runs, ver, drift, bal, rates)
    s = rates.shrink
    return [
        between("b3.identity", "one-step identity along the trajectory, largest relative discrepancy",
                float(ver.discrepancy.max()), 0.0, 1e-12, basis="identity",
                tolerance="float64 rounding (<= 1e-12)"),
        between("b3.drift-order", "log-log slope of the drift at fixed flow time against eta",
                drift.fit.estimate, 0.9, 1.1, basis="derived-on-page",
                tolerance="±0.1 around 1 (O(eta^2) per step, O(eta) corrections)"),
        between("b3.balanced-exact", "F0 = G0, symmetric operator: max(entries with F_T != G_T, relative gap "
                "to the XX^T error curve)",
                max(float(bal.unequal_entries), bal.sym_gap), 0.0, 1e-12, basis="identity",
                tolerance="exact (identical formula): F_T == G_T bitwise, gap rounding only (<= 1e-12)"),
        between("b3.balanced-sublinear", "balanced run: log-log slope of the squared error on [T/4, T]",
                bal.tail.estimate, -2.2, -1.6, basis="theory",
                tolerance="band of the symmetric chapter (1/t^2 tail under RIP)"),
        at_least("b3.ordering", "final squared error: factor by which the imbalanced run is below every other run",
                 _margin(runs), 10.0, basis="specification",
                 tolerance="linear vs sublinear or near-zero imbalance over the horizon (>= 10)"),
        between("b3.rate-factorization", "factorization: rate / (2 eta lambda_min(Delta_red))",
                rates.factorization.R, 0.95, 1.05, basis="derived-on-page",
                tolerance="±5% (linearization, O(eta lambda) and drift)"),
        between("b3.rate-sensing", "sensing: rate / (2 eta lambda_min(Delta_red))", rates.sensing.R,
                0.7 * s, 1.0, basis="derived-on-page",
                tolerance="[0.7 s, 1], s = (1 - sqrt(n(k-r)/m))^2 (Gaussian curvature)"),
        at_least("b3.rate-vs-delta0", "sensing: c = rate / (2 eta lambda_min(Delta_0))", rates.sensing.c,
                 0.7 * s, basis="derived-on-page",
                 tolerance="c = R iota >= 0.7 s, iota >= 1 (interlacing); no upper bound"),
    ]


# ----------------------------------------------------------------------------- figures
_LABELS = ["F₀ = G₀, symmetric operator (= XXᵀ)", "F₀ = G₀, general operator",
           "independent, equal scale", "scales α and α/3"]


def plot_three_initializations(runs: Runs):
    """The squared relative errors of the four runs, semilog and log-log.

    Parameters
    ----------
    runs : Runs

    Returns
    -------
    fig, axes
    """
    if not isinstance(runs, Runs):
        raise ValueError(f"runs must be a Runs, got {type(runs).__name__}")
    t, curves = runs.general.t, _curves(runs)
    title = f"k = {runs.k}, {param_label('alpha', runs.alpha)}"
    fig, axes = figure(2, width=9.6, height=3.8)
    plot_curves(axes[0], t, curves, _LABELS, title=title + ": semilog", ylabel="squared relative error")
    plot_curves(axes[1], t[1:], curves[:, 1:], _LABELS, logx=True, ylabel="squared relative error",
                title=title + ": log-log")
    return fig, axes


def plot_identity_drift(ver: IdentityVerification, drift: Drift):
    """Two panels: the identity along a trajectory, and the drift divided by ``eta`` against ``eta t``.

    Parameters
    ----------
    ver : IdentityVerification
        From :func:`verify_identity`.
    drift : Drift
        From :func:`run_drift`; the flow time shown is ``drift.tau``.

    Returns
    -------
    fig, axes
    """
    if not isinstance(ver, IdentityVerification):
        raise ValueError(f"ver must be an IdentityVerification, got {type(ver).__name__}")
    if not isinstance(drift, Drift):
        raise ValueError(f"drift must be a Drift, got {type(drift).__name__}")
    fig, axes = figure(2, width=9.6, height=3.6)
    ax = axes[0]
    ax.semilogy(ver.t, ver.change, label="measured one-step change of Δ")
    ax.semilogy(ver.t, ver.discrepancy, label="discrepancy with the identity, relative")
    ax.set_xlabel("iteration t")
    ax.set_ylabel("Frobenius norm")
    ax.set_title(f"the identity step by step, {param_label('eta', ver.eta)}")
    ax.legend()
    ax = axes[1]
    for e, d in zip(drift.etas, drift.drift):
        ax.plot(e * drift.t, d / e, label=param_label("eta", float(e)))
    ax.set_xlim(0, drift.tau)
    ax.set_xlabel("flow time ηt")
    ax.set_ylabel("‖Δ_t − Δ_0‖_F / η")
    ax.set_title("drift / η: the curves collapse")
    ax.legend()
    return fig, axes


def evaluate(P) -> list[Claim]:
    """Run the chapter's whole computation as its notebook does, and return its claims.

    The same calls, in the same order and with the same arguments, as ``book/b3_imbalance.ipynb``
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
    s = setup(P)
    runs = run(P, s)
    ident = run_identity(P, s)
    drift = run_drift(P, s, runs)
    bal = verify_balanced(runs)
    q = late_rates(P, s, runs)
    return claims(runs, ident, drift, bal, q)
