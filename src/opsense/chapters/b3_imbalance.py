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
initializations (balanced, random, imbalanced) on ``instances`` independent instances
(target, operators and initializations re-drawn, :func:`opsense.instance_seeds`), compresses
:math:`\\Delta` onto the redundant directions of :math:`\\mathbb R^k` (:func:`opsense.redundant_imbalance`)
and compares the late linear rate with :math:`2\\eta\\lambda_{\\min}(\\Delta_{\\rm red})` and with the
slowest non-zero mode of the loss Hessian at the limit (:func:`slow_hessian`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..config import Cost, gd_cost, parameter_check, regime
from ..analysis import fit_power, hitting_time, late_rate, rate_ratio, signal_time
from ..claims import Claim, at_least, between, close
from ..engine.factors import imbalance, imbalance_increment, initial_factors, redundant_imbalance
from ..engine.gd import GDResult, run_gd
from ..engine.problems import Problem, check_factor_pair, check_problem, instance_seeds, psd_problems
from ..plotting import figure, param_label
from ..stats import Interval, instance_interval_or_nan as _interval

__all__ = ["PRESETS", "EPS", "FLOOR", "check", "cost", "horizon", "Setup", "setup", "init_summary", "Runs", "run",
           "IdentityVerification", "verify_identity", "run_identity", "identity_summary", "imbalance_drift",
           "Drift", "run_drift", "drift_summary", "BalancedVerification", "verify_balanced", "balanced_summary",
           "rip_shrink", "slow_hessian", "trigger_time", "LateRate", "Rates", "late_rates",
           "rates_summary", "final_errors", "final_summary", "glue_values", "claims",
           "plot_three_initializations", "plot_identity_drift", "plot_rates", "evaluate"]

#: Parameter sets: ``book`` (n 20, about 10 s) and ``paper`` (n 50, rank 3). ``iters`` is the horizon
#: of every run, by default the one :func:`horizon` derives from the predicted rate (a smaller value
#: is raised to it).
PRESETS = {
    "book": dict(n=20, r=2, k=4, m=600, kappa=2.0, alpha=0.2, eta=0.1, instances=5, iters=3410, seed=0),
    "paper": dict(n=50, r=3, k=5, m=2000, kappa=2.0, alpha=0.2, eta=0.1, instances=5, iters=3460, seed=0),
}

#: Trigger: relative residual ``<= EPS`` ends the fast phase (data only).
EPS = 1e-2
#: Fits ignore squared relative errors below this (the float64 floor is about 1e-30).
FLOOR = 1e-24
#: Steps of the one-step identity verification (at most ``iters``).
IDENTITY_STEPS = 300
#: Chunk length of :func:`imbalance_drift`.
DRIFT_EVERY = 10
#: The three initializations, in the order of the runs on the general operator.
INITS = ("balanced", "random", "imbalanced")

#: Largest operator (entries m * n^2; two per instance are held) and largest work iters * m * n^2 * instances.
MAX_ENTRIES = 20_000_000
MAX_WORK = 1e12
#: The horizon ends this many plateau times 1 / (eta alpha^2) after twice the signal phase.
HORIZON_PLATEAUS = 12
#: Fewest and most instances.
MIN_INSTANCES, MAX_INSTANCES = 3, 50
#: Model tolerances (see :func:`claims` and the page).
TOL_DRIFT, TOL_POWER, TOL_FACT, TOL_MODE = 0.1, 0.08, 0.05, 0.02
#: Lower end of the sensing band, in units of the Gaussian edge s-.
LOW_EDGE = 0.9


def horizon(P) -> int:
    """The horizon of every run: ``iters``, raised to the horizon derived from the predicted rate,
    ``2 signal_time + HORIZON_PLATEAUS / (eta alpha^2)``, when shorter.

    The imbalanced run's slow modes decay at a rate of order ``eta alpha^2`` once the signal phase
    (:func:`opsense.signal_time`, a generous estimate, taken twice) is over; the late fit uses the
    second half of the stretch after the trigger.

    Parameters
    ----------
    P : Parameters
        Uses ``n, kappa, alpha, eta, iters``.

    Returns
    -------
    int
        The derived horizon rounded up to a multiple of 10, or ``iters`` if larger.
    """
    t = 2 * signal_time(P.alpha, eta=P.eta, kappa=P.kappa, n=P.n) + HORIZON_PLATEAUS / (P.eta * P.alpha ** 2)
    return max(int(P.iters), int(np.ceil(t / 10.0)) * 10)


@parameter_check
def check(P) -> None:
    """Refuse infeasible parameters of the chapter, naming the parameter; warn outside the regime.

    **Regime** (what the claims are stated for; outside it the run goes ahead with an
    :class:`opsense.config.OutsideRegimeWarning`): ``10 <= n <= 60``, ``r <= n / 5``,
    ``1 <= k - r <= 3``, ``m >= 5 n (k + r)`` (``m / (r (n1 + n2)) >= 2.5 (k + r) / r``),
    ``kappa <= 4``, ``alpha`` in ``[0.1, 0.4]`` with ``eta alpha^2 <= 0.02``, ``eta <= 0.1``, at least
    5 instances. Refused: ``k`` outside ``(r, n]``, ``m`` below the sampling bound, ``alpha > 1``,
    ``eta`` above the safe step ``1/(3 sigma_1(A*(y)))`` of any instance, and the memory and work
    limits (``iters`` below the derived horizon is raised to it, :func:`horizon`).

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (attributes ``n, r, k, m, kappa, alpha, eta, instances, iters, seed``).

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
    B = v.integer("instances", P.instances, minimum=1)
    if not MIN_INSTANCES <= B <= MAX_INSTANCES:
        raise ValueError(f"parameter instances must be in [{MIN_INSTANCES}, {MAX_INSTANCES}] (an interval over "
                         f"independent instances), got {B}")
    iters = v.integer("iters", P.iters, minimum=1)
    seed = v.integer("seed", P.seed, minimum=0)
    if m * n * n > MAX_ENTRIES:
        raise ValueError(f"parameter m must keep m * n^2 <= {MAX_ENTRIES:,} (the operators' memory), "
                         f"got {m} * {n}^2")
    iters = max(iters, horizon(P))
    if iters * m * n * n * B > MAX_WORK:
        raise ValueError(f"parameter iters must keep iters * m * n^2 * instances <= {MAX_WORK:.0e} (running "
                         f"time), got {iters} * {m} * {n}^2 * {B}")
    for s in instance_seeds(seed, B):
        problems = psd_problems(n, r, m, kappa=kappa, seed=s)
        safe = min(_safe_eta(p) for p in (problems.symmetric, problems.general))
        if eta > safe:
            raise ValueError(f"parameter eta must be <= {safe:.3g} = 1/(3 sigma_1(A*(y))) for the operators of "
                             f"every instance (the engine's safe step size), got {eta}")
    regime("b3_imbalance", [
        (10 <= n <= 60, f"10 <= n <= 60 (n = {n})"),
        (5 * r <= n, f"r <= n / 5 (r = {r}, n = {n})"),
        (k - r <= 3, f"k - r <= 3 (k - r = {k - r})"),
        (m >= 5 * n * (k + r), f"m >= 5 n (k + r) = {5 * n * (k + r)} (m = {m})"),
        (kappa <= 4, f"kappa <= 4 (kappa = {kappa:g})"),
        (0.1 <= alpha <= 0.4, f"0.1 <= alpha <= 0.4 (alpha = {alpha:g})"),
        (eta * alpha ** 2 <= 0.02, f"eta alpha^2 <= 0.02 ({eta * alpha ** 2:.3g})"),
        (eta <= 0.1, f"eta <= 0.1 (eta = {eta:g})"),
        (B >= 5, f"at least 5 instances ({B})"),
    ])


def cost(P) -> Cost:
    """What the chapter's runs cost, from the parameters alone (pure arithmetic, nothing is run).

    ``work`` sums :func:`run` (per instance five Gaussian runs of ``iters`` steps: the three
    initializations, balanced, symmetric; one identity run), :func:`run_identity` (``min(300, iters)``
    single steps, five operator passes each with :func:`opsense.imbalance_increment`) and
    :func:`run_drift` (per instance three runs of ``n0``, ``2 n0`` and ``4 n0`` steps), each Gaussian step
    ``n^2 (2 m + 3 k)``, and :func:`late_rates` (two Hessians of size ``2 n k`` per instance).
    ``n0`` is the largest trigger time of the imbalanced runs rounded up to 10, which depends on
    the data; it is estimated as ``2.5 * signal_time(alpha)`` (:func:`opsense.signal_time`), at
    most ``iters``. ``memory_bytes``: the two ``m x n^2`` operators of every instance and the factors
    and curves of the runs.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (already checked by :func:`check`).

    Returns
    -------
    opsense.config.Cost
    """
    n, r, k, m, iters, B = int(P.n), int(P.r), int(P.k), int(P.m), horizon(P), int(P.instances)
    g = dict(n1=n, n2=n, k=k, r=r, every=10)
    w_gen, b_gen = gd_cost(3 * B, iters, m=m, **g)
    w_one, b_one = gd_cost(B, iters, m=m, **g)
    w_fac, b_fac = gd_cost(B, iters, m=0, **g)
    steps = min(IDENTITY_STEPS, iters)
    w_ident = steps * n * n * (5.0 * m + 6 * k)
    t_eps = min(iters, 2.5 * signal_time(P.alpha, eta=P.eta, kappa=P.kappa, n=n))
    n0 = max(DRIFT_EVERY, int(np.ceil(t_eps / DRIFT_EVERY)) * DRIFT_EVERY)
    w_drift = 7.0 * n0 * B * n * n * (2 * m + 3 * k)
    w_hess = 2.0 * B * m * (2 * n * k) ** 2
    memory = 8.0 * 2 * B * m * n * n + b_gen + 2 * b_one + b_fac + 8.0 * 2 * m * 2 * n * k
    return Cost(memory_bytes=memory, work=w_gen + 2 * w_one + w_fac + w_ident + w_drift + w_hess,
                drivers=("iters", "m", "n", "alpha", "k", "instances"))


def _safe_eta(problem: Problem) -> float:
    return 1.0 / (3.0 * float(problem.spectral_sigma[0]))


def _need(name: str, value, cls):
    """Return ``value`` if it is a ``cls`` (a result of this chapter)."""
    if not isinstance(value, cls):
        raise ValueError(f"{name} must be a {cls.__name__}, got {type(value).__name__}")
    return value




def _inside(iv) -> dict:
    """``test="inside"`` for an interval; nothing for a NaN (a failed fit: the claim then fails)."""
    return {"test": "inside"} if isinstance(iv, Interval) else {}


def _fmt(iv) -> str:
    return str(iv) if isinstance(iv, Interval) else "nan (a fit failed)"


# ----------------------------------------------------------------------------- the three runs
@dataclass(frozen=True)
class Setup:
    """The chapter's problems and initial factors, one entry per instance.

    Attributes
    ----------
    problems : list of PsdProblems
        Per instance, one PSD ground truth measured by a symmetric, a general and the identity operator.
    inits : list of dict of str to (ndarray of shape (n, k), ndarray of shape (n, k))
        Per instance, initial factors ``(U0, V0)`` for each of ``INITS`` (the same ``U0``).
    delta0 : list of dict of str to ndarray of shape (k, k)
        Their imbalances :math:`\\Delta_0`.
    seeds : list of int
        The instance seeds.
    alpha : float
        The initialization scale.
    """

    problems: list
    inits: list
    delta0: list
    seeds: list
    alpha: float


def setup(P) -> Setup:
    """Build the problems and the three initializations of every instance.

    Parameters
    ----------
    P : Parameters
        Checked by :func:`check`.

    Returns
    -------
    Setup
    """
    seeds = instance_seeds(P.seed, P.instances)
    problems = [psd_problems(P.n, P.r, P.m, kappa=P.kappa, seed=s) for s in seeds]
    inits = [{name: initial_factors(P.n, P.n, P.k, P.alpha, init=name, seed=s) for name in INITS} for s in seeds]
    delta0 = [{name: imbalance(*ini[name]) for name in INITS} for ini in inits]
    return Setup(problems, inits, delta0, seeds, float(P.alpha))


def init_summary(s: Setup) -> str:
    """The eigenvalues of :math:`\\Delta_0/\\alpha^2` of each initialization (first instance), and the
    smallest eigenvalue of the imbalanced one on every instance, as text.

    Parameters
    ----------
    s : Setup
    """
    lines = []
    for name in INITS:
        ev = np.linalg.eigvalsh(s.delta0[0][name]) / s.alpha ** 2
        lines.append(f"{name:>10}: eigenvalues of Delta_0 / alpha^2 = " + str(np.round(ev, 3) + 0.0))
    lam = _lam0_over_alpha2(s)
    lines.append(f"imbalanced, every instance: lambda_min(Delta_0) / alpha^2 = {', '.join(f'{x:.3f}' for x in lam)} "
                 f"(8/9 = 0.889 only for n >> k)")
    return "\n".join(lines)


def _lam0_over_alpha2(s: Setup) -> np.ndarray:
    return np.array([np.linalg.eigvalsh(d["imbalanced"])[0] for d in s.delta0]) / s.alpha ** 2


@dataclass(frozen=True)
class Runs:
    """The chapter's gradient-descent runs; every curve has one row per instance.

    Attributes
    ----------
    general : dict of str to GDResult
        Each of ``INITS`` on the general Gaussian operators (one batch of instances each).
    balanced : GDResult
        :math:`U_0 = V_0` on the symmetric operators.
    symmetric : GDResult
        The symmetric parameterization :math:`XX^\\top` on the symmetric operators, :math:`X_0 = U_0`.
    factorization : GDResult
        The imbalanced initialization on the identity operator (matrix factorization).
    k : int
    alpha : float
    """

    general: dict
    balanced: GDResult
    symmetric: GDResult
    factorization: GDResult
    k: int
    alpha: float


def run(P, s: Setup) -> Runs:
    """Run the three initializations and the balanced, symmetric and factorization runs, each as one
    batch of the instances (each instance its own problem and initialization).

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
    stack = lambda name, j: np.stack([ini[name][j] for ini in s.inits])  # noqa: E731
    kw = dict(eta=P.eta, iters=horizon(P), record_every=10)
    gen = {name: run_gd([p.general for p in s.problems], init=(stack(name, 0), stack(name, 1)), **kw)
           for name in INITS}
    sym_probs = [p.symmetric for p in s.problems]
    bal = run_gd(sym_probs, init=(stack("balanced", 0), stack("balanced", 1)), **kw)
    sym = run_gd(sym_probs, parameterization="symmetric", init=stack("balanced", 0), **kw)
    fac = run_gd([p.identity for p in s.problems], init=(stack("imbalanced", 0), stack("imbalanced", 1)), **kw)
    return Runs(gen, bal, sym, fac, int(P.k), float(P.alpha))


def _curves(runs: Runs, b: int = 0) -> np.ndarray:
    """Squared relative errors of instance ``b``, shape (4, T): balanced (symmetric operator), then
    the three initializations on the general operator."""
    rows = [runs.balanced.rel_error[b]] + [runs.general[name].rel_error[b] for name in INITS]
    return np.vstack(rows) ** 2


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
    """:func:`verify_identity` along the imbalanced run on the general operator of the first instance.

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
    return verify_identity(s.problems[0].general, *s.inits[0]["imbalanced"], eta=P.eta,
                           steps=min(IDENTITY_STEPS, horizon(P)))


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
    """The drift of the imbalance at a fixed flow time, for ``eta``, ``eta/2``, ``eta/4``, per instance.

    Attributes
    ----------
    etas : ndarray of shape (3,)
    T_eps : ndarray of shape (instances,)
        First iteration of each imbalanced run with relative residual ``<= EPS`` (NaN if never).
    n0 : int
        Steps at ``eta`` up to the flow time ``tau`` (``2 n0``, ``4 n0`` at ``eta/2``, ``eta/4``): the
        largest ``T_eps``, rounded up to 10.
    tau : float
        The flow time ``eta n0``.
    drift_tau : ndarray of shape (3, instances)
        :math:`\\|\\Delta_\\tau-\\Delta_0\\|_F` of each run at ``tau``.
    slopes : ndarray of shape (instances,)
        Per instance, the log-log slope of ``drift_tau`` against ``etas`` (predicted 1).
    """

    etas: np.ndarray
    T_eps: np.ndarray
    n0: int
    tau: float
    drift_tau: np.ndarray
    slopes: np.ndarray

    @property
    def iv(self):
        """Instance interval of ``slopes``."""
        return _interval(self.slopes)


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
    """Run the imbalanced initialization of every instance with ``eta``, ``eta/2``, ``eta/4`` up to the
    flow time ``tau = eta n0`` (``n0`` the largest trigger time of the imbalanced runs of ``runs``;
    the whole horizon if one never triggers) and fit the drift at ``tau`` against ``eta``.

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
    gen = _need("runs", runs, Runs).general["imbalanced"]
    T_eps = np.array([trigger_time(gen.t, gen.residual[b], epsilon=EPS) for b in range(gen.batch_size)])
    T = horizon(P)
    stop = float(np.max(T_eps)) if np.all(np.isfinite(T_eps)) else float(T)
    n0 = max(DRIFT_EVERY, int(np.ceil(min(stop, T) / DRIFT_EVERY)) * DRIFT_EVERY)
    etas = np.array([P.eta, P.eta / 2, P.eta / 4])
    U0 = np.stack([ini["imbalanced"][0] for ini in s.inits])
    V0 = np.stack([ini["imbalanced"][1] for ini in s.inits])
    D0 = np.stack([d["imbalanced"] for d in s.delta0])
    probs = [p.general for p in s.problems]
    drift = []
    for i, e in enumerate(etas):
        res = run_gd(probs, init=(U0, V0), eta=float(e), iters=n0 * 2 ** i, record_every=n0 * 2 ** i)
        drift.append(np.linalg.norm((imbalance(res.U, res.V) - D0).reshape(len(probs), -1), axis=1))
    drift = np.array(drift)
    slopes = np.array([fit_power(etas, drift[:, b]).estimate for b in range(drift.shape[1])])
    return Drift(etas, T_eps, n0, float(P.eta * n0), drift, slopes)


def drift_summary(d: Drift) -> str:
    """The flow time, the drifts at it (mean over instances), and the fitted slopes, as text.

    Parameters
    ----------
    d : Drift
    """
    return (f"largest T_eps = {np.nanmax(d.T_eps):.0f}, tau = {d.tau:.0f}; mean drift at tau: "
            + ", ".join(f"{x:.3e}" for x in d.drift_tau.mean(axis=1))
            + f" at eta = {', '.join(f'{e:g}' for e in d.etas)}"
            + f"\nlog-log slope of the drift against eta: {_fmt(d.iv)}")


# ----------------------------------------------------------------------------- balanced = symmetric
@dataclass(frozen=True)
class BalancedVerification:
    """The balanced runs on the symmetric operators against the :math:`XX^\\top` runs (every instance).

    Attributes
    ----------
    same_factors : bool
        :math:`U_T` and :math:`V_T` are bitwise equal on every instance.
    unequal_entries : int
        Number of entries where :math:`U_T \\ne V_T` (0 when bitwise equal).
    sym_gap : float
        Largest relative gap between the two error curves.
    window : (float, float)
        ``(T/4, T)``.
    ratio : ndarray of shape (instances,)
        :func:`opsense.rate_ratio` of each balanced run's squared error on ``window``.
    ratio_power : float
        The same for any pure power law on the same grid (independent of its exponent).
    """

    same_factors: bool
    unequal_entries: int
    sym_gap: float
    window: tuple
    ratio: np.ndarray
    ratio_power: float


def verify_balanced(runs: Runs) -> BalancedVerification:
    """Verify that the balanced runs on the symmetric operators are the :math:`XX^\\top` runs, and
    measure their rate ratio on ``[T/4, T]``.

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
    w = (T / 4, T)
    ratio = np.array([rate_ratio(bal.t, bal.rel_error[b] ** 2, window=w) for b in range(bal.batch_size)])
    t = bal.t[1:].astype(float)
    return BalancedVerification(unequal == 0, unequal, gap, w, ratio, rate_ratio(t, t ** -2.0, window=w))


def balanced_summary(b: BalancedVerification) -> str:
    """The bitwise equality, the gap to the :math:`XX^\\top` runs and the rate ratio, as text.

    Parameters
    ----------
    b : BalancedVerification
    """
    return (f"F_T == G_T bitwise on every instance: {b.same_factors}; relative gap to the XX^T runs: "
            f"{b.sym_gap:.1e}\n"
            f"rate ratio 2nd / 1st half of [T/4, T]: {_fmt(_interval(b.ratio))} (any power law {b.ratio_power:.3f}, "
            f"linear 1)")


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




def slow_hessian(problem: Problem, U, V, *, r: int) -> tuple[np.ndarray, np.ndarray]:
    """The slow curvatures of the loss at the limit that ``(U, V)`` approaches.

    The limit of an imbalanced run has :math:`V` of rank ``r``: its ``k - r`` smallest singular
    directions ``Q`` (:func:`opsense.redundant_imbalance`) collapse. At the limit point
    :math:`(U, V(I - QQ^\\top))` the residual vanishes, so the Hessian of
    :math:`\\tfrac12\\|\\mathcal A(UV^\\top) - y\\|^2` is :math:`J^\\top J` with
    :math:`J(\\dot U, \\dot V) = \\mathcal A(\\dot UV^\\top + U\\dot V^\\top)`. Its zero eigenvalues are the
    directions along the set of solutions; the next ``(n2 - r)(k - r)`` eigenvalues, of order
    :math:`\\lambda(\\Delta_{\\rm red})`, belong to the redundant block :math:`\\dot V = ZQ^\\top`. Gradient descent
    contracts each such mode by :math:`1 - \\eta\\lambda` per step, so the squared error decays
    asymptotically at :math:`-2\\ln(1 - \\eta\\lambda_1)` with :math:`\\lambda_1` the smallest of them.

    Parameters
    ----------
    problem : Problem
        Gaussian or identity operator.
    U : ndarray of shape (n1, k)
    V : ndarray of shape (n2, k)
        A late iterate (its error well below the signal scale).
    r : int, keyword-only
        Rank of the target, ``1 <= r < k``.

    Returns
    -------
    slow : ndarray of shape ((n2 - r)(k - r),)
        The slow eigenvalues, increasing.
    gap : float
        The next eigenvalue divided by the largest slow one (how well the block is separated).
    """
    problem = check_problem(problem)
    U, V = check_factor_pair(problem, U, V)
    k = U.shape[1]
    r = v.integer("r", r, minimum=1, maximum=k - 1)
    n1, n2 = problem.target.shape
    _, Q = redundant_imbalance(imbalance(U, V), V, r=r)
    Vl = V - V @ Q @ Q.T
    A = problem.operator.matrix
    A3 = np.eye(n1 * n2).reshape(-1, n1, n2) if A is None else A.reshape(-1, n1, n2)
    if problem.operator.symmetric:
        A3 = 0.5 * (A3 + np.swapaxes(A3, 1, 2))
    JU = np.einsum("mil,lj->mij", A3, Vl).reshape(A3.shape[0], -1)
    JV = np.einsum("mil,ij->mlj", A3, U).reshape(A3.shape[0], -1)
    J = np.hstack([JU, JV])
    ev = np.linalg.eigvalsh(J.T @ J)
    nz = int(np.count_nonzero(ev <= 1e-9 * ev[-1]))
    ns = (n2 - r) * (k - r)
    return ev[nz:nz + ns], float(ev[nz + ns] / ev[nz + ns - 1]) if nz + ns < ev.size else float("inf")


@dataclass(frozen=True)
class LateRate:
    """The late linear rate of the imbalanced runs (one per instance) against the imbalance.

    Attributes
    ----------
    rho, r2 : ndarray of shape (instances,)
        Fitted decay rate of the squared relative error per iteration (NaN if it could not be
        fitted) and the fit's coefficient of determination.
    lam0, lam_red : ndarray of shape (instances,)
        :math:`\\lambda_{\\min}(\\Delta_0)` and :math:`\\lambda_{\\min}(\\Delta_{\\rm red})`.
    lam_h : ndarray of shape (instances,)
        The smallest slow Hessian eigenvalue :math:`\\lambda_1` of :func:`slow_hessian`.
    gap : ndarray of shape (instances,)
        Separation of the slow block (:func:`slow_hessian`).
    eta : float
    """

    rho: np.ndarray
    r2: np.ndarray
    lam0: np.ndarray
    lam_red: np.ndarray
    lam_h: np.ndarray
    gap: np.ndarray
    eta: float

    @property
    def c(self) -> np.ndarray:
        """:math:`\\rho / (2\\eta\\lambda_{\\min}(\\Delta_0))`."""
        return self.rho / (2 * self.eta * self.lam0)

    @property
    def R(self) -> np.ndarray:
        """:math:`\\rho / (2\\eta\\lambda_{\\min}(\\Delta_{\\rm red}))`."""
        return self.rho / (2 * self.eta * self.lam_red)

    @property
    def iota(self) -> np.ndarray:
        """:math:`\\lambda_{\\min}(\\Delta_{\\rm red}) / \\lambda_{\\min}(\\Delta_0)` (>= 1 by interlacing)."""
        return self.lam_red / self.lam0

    @property
    def rho_h(self) -> np.ndarray:
        """The asymptotic rate of the slowest mode, :math:`-2\\ln(1 - \\eta\\lambda_1)`."""
        return -2 * np.log1p(-self.eta * self.lam_h)

    @property
    def excess(self) -> np.ndarray:
        """:math:`\\rho / \\rho_h` (>= 1: the window still holds faster slow modes)."""
        return self.rho / self.rho_h

    @property
    def kappa_h(self) -> np.ndarray:
        """:math:`\\lambda_1 / \\lambda_{\\min}(\\Delta_{\\rm red})`: the operator's curvature on the slowest mode."""
        return self.lam_h / self.lam_red


@dataclass(frozen=True)
class Rates:
    """The late rates of the imbalanced runs (sensing, factorization) and the curvature factors.

    Attributes
    ----------
    sensing, factorization : LateRate
    shrink : float
        :func:`rip_shrink` of the chapter's sizes, :math:`s_- = (1 - \\sqrt{n(k-r)/m})^2`.
    shrink_hi : float
        :math:`s_+ = (1 - \\sqrt{n/m})^2`, the edge for a single redundant column.
    eta : float
    """

    sensing: LateRate
    factorization: LateRate
    shrink: float
    shrink_hi: float
    eta: float


def _fit_late(res: GDResult, b: int, start: float):
    """Late rate fit of run ``b`` of a result from ``start``; ``None`` if it cannot be fitted."""
    if not np.isfinite(start):
        return None
    err2 = res.rel_error[b] ** 2
    if np.count_nonzero((err2 > FLOOR) & (res.t >= start)) < 4:
        return None
    return late_rate(res.t, err2, start=start, floor=FLOOR)


def late_rates(P, s: Setup, runs: Runs) -> Rates:
    """Fit the late rate of the imbalanced runs and compare it with the imbalance and the Hessian.

    The rate of the squared relative error is fitted on the second half of the stretch between
    the trigger time (relative residual ``<= EPS``) and the last record above ``FLOOR``; the
    redundant directions are read off the final :math:`V_T`, and :func:`slow_hessian` is
    evaluated at the final iterate.

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
    _need("s", s, Setup)
    out = {}
    for name, res, kind in (("sensing", runs.general["imbalanced"], "general"),
                            ("factorization", runs.factorization, "identity")):
        cols = {key: [] for key in ("rho", "r2", "lam0", "lam_red", "lam_h", "gap")}
        for b in range(res.batch_size):
            fit = _fit_late(res, b, trigger_time(res.t, res.residual[b], epsilon=EPS))
            delta0 = s.delta0[b]["imbalanced"]
            slow, gap = slow_hessian(getattr(s.problems[b], kind), res.U[b], res.V[b], r=P.r)
            cols["rho"].append(fit.estimate if fit is not None else np.nan)
            cols["r2"].append(fit.r2 if fit is not None else np.nan)
            cols["lam0"].append(np.linalg.eigvalsh(delta0)[0])
            cols["lam_red"].append(redundant_imbalance(delta0, res.V[b], r=P.r)[0][0])
            cols["lam_h"].append(slow[0])
            cols["gap"].append(gap)
        out[name] = LateRate(**{key: np.array(x, dtype=float) for key, x in cols.items()}, eta=float(P.eta))
    return Rates(out["sensing"], out["factorization"], rip_shrink(P.n, P.k, P.r, P.m),
                 float((1 - np.sqrt(P.n / P.m)) ** 2), float(P.eta))


def rates_summary(rates: Rates) -> str:
    """The fitted rates and the ratios ``c``, ``R``, ``iota``, ``rho / rho_h``, as instance intervals.

    Parameters
    ----------
    rates : Rates
    """
    lines = []
    for name in ("sensing", "factorization"):
        q = getattr(rates, name)
        lines.append(f"{name}: rho = {_fmt(_interval(q.rho, log=True))} (smallest R^2 {np.min(q.r2):.4f})")
        lines.append(f"    R = rho / (2 eta lam_min(Delta_red)) = {_fmt(_interval(q.R, log=True))}")
        lines.append(f"    c = rho / (2 eta lam_min(Delta_0)) = {_fmt(_interval(q.c, log=True))}, "
                     f"iota = {_fmt(_interval(q.iota, log=True))}")
        lines.append(f"    rho / rho_h (slowest Hessian mode) = {_fmt(_interval(q.excess, log=True))}, "
                     f"lam_1 / lam_min(Delta_red) = {_fmt(_interval(q.kappa_h, log=True))}")
    lines.append(f"Gaussian edges: s- = (1 - sqrt(n(k-r)/m))^2 = {rates.shrink:.3f}, "
                 f"s+ = (1 - sqrt(n/m))^2 = {rates.shrink_hi:.3f}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the check
def final_errors(runs: Runs) -> dict:
    """The final squared relative error of each run, per instance.

    Parameters
    ----------
    runs : Runs

    Returns
    -------
    dict
        ``bal_sym``, ``bal_gen``, ``random``, ``imbalanced`` to ndarray of shape (instances,).
    """
    _need("runs", runs, Runs)
    out = {"bal_sym": runs.balanced.rel_error[:, -1] ** 2}
    for key, name in (("bal_gen", "balanced"), ("random", "random"), ("imbalanced", "imbalanced")):
        out[key] = runs.general[name].rel_error[:, -1] ** 2
    return out


def _results(runs, ver, drift, bal, rates) -> None:
    for name, value, cls in (("runs", runs, Runs), ("ver", ver, IdentityVerification), ("drift", drift, Drift),
                             ("bal", bal, BalancedVerification), ("rates", rates, Rates)):
        _need(name, value, cls)


def _margin(runs: Runs) -> np.ndarray:
    final = final_errors(runs)
    return np.minimum(final["bal_sym"], final["bal_gen"]) / final["imbalanced"]


def final_summary(runs: Runs) -> str:
    """The final squared relative errors (geometric means over instances) and the paired margin, as text.

    Parameters
    ----------
    runs : Runs
    """
    final = final_errors(runs)
    means = {key: f"{np.exp(np.mean(np.log(x))):.2g}" for key, x in final.items()}
    return (f"final squared relative errors (geometric mean over instances): {means}\n"
            f"paired margin (balanced runs / imbalanced): {_fmt(_interval(_margin(runs), log=True))}\n"
            f"paired ratio random / imbalanced: {_fmt(_interval(final['random'] / final['imbalanced'], log=True))}")


def _g(iv, attr):
    return float(f"{getattr(iv, attr):.3g}") if isinstance(iv, Interval) else float("nan")


def glue_values(runs: Runs, ver: IdentityVerification, drift: Drift, bal: BalancedVerification,
                rates: Rates, s: Setup) -> dict:
    """The numbers the chapter's prose quotes, by glue name (rounded as the prose shows them).

    Parameters
    ----------
    runs : Runs
    ver : IdentityVerification
    drift : Drift
    bal : BalancedVerification
    rates : Rates
    s : Setup

    Returns
    -------
    dict
    """
    _results(runs, ver, drift, bal, rates)
    _need("s", s, Setup)
    lam = _lam0_over_alpha2(s)
    out = {"b3_identity_disc": float(f"{ver.discrepancy.max():.1g}"),
           "b3_sym_gap": float(f"{bal.sym_gap:.1g}"),
           "b3_ratio_power": round(bal.ratio_power, 3),
           "b3_instances": len(s.seeds),
           "b3_lam0_min": round(float(lam.min()), 2), "b3_lam0_max": round(float(lam.max()), 2)}
    ivs = {"drift": drift.iv, "ratio": _interval(bal.ratio), "margin": _interval(_margin(runs), log=True)}
    for name, key in (("sensing", "sens"), ("factorization", "fact")):
        q = getattr(rates, name)
        for attr in ("c", "R", "iota", "excess", "kappa_h"):
            ivs[f"{key}_{attr}"] = _interval(getattr(q, attr), log=True)
    for key, iv in ivs.items():
        for attr in ("mean", "lo", "hi"):
            out[f"b3_{key}_{attr}"] = _g(iv, attr)
    out["b3_shrink"] = round(rates.shrink, 2)
    out["b3_shrink_hi"] = round(rates.shrink_hi, 2)
    out["b3_T"] = int(runs.balanced.t[-1])
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
    sens, fact = rates.sensing, rates.factorization
    return [
        between("b3.identity", "one-step identity along the trajectory, largest relative discrepancy",
                float(ver.discrepancy.max()), 0.0, 1e-12, basis="identity",
                tolerance="float64 rounding (<= 1e-12)"),
        close("b3.drift-order", "log-log slope of the drift at fixed flow time against eta, per instance",
              drift.iv, 1.0, atol=TOL_DRIFT, basis="derived-on-page", form="scaling",
              tolerance=f"±{TOL_DRIFT:g} around 1 (O(eta^2) per step over 1/eta steps; O(eta) corrections); "
                        "excludes 2 (per-step order) and 0"),
        between("b3.balanced-exact", "F0 = G0, symmetric operators: max(entries with F_T != G_T, relative gap "
                "to the XX^T error curves)",
                max(float(bal.unequal_entries), bal.sym_gap), 0.0, 1e-12, basis="identity",
                tolerance="exact (identical formula): F_T == G_T bitwise, gap rounding only (<= 1e-12)"),
        close("b3.balanced-sublinear", "balanced runs: rate ratio 2nd / 1st half of [T/4, T], per instance",
              _interval(bal.ratio), bal.ratio_power, atol=TOL_POWER, basis="theory", form="value",
                **_inside(_interval(bal.ratio)),
              tolerance=f"any power law: {bal.ratio_power:.2f} ±{TOL_POWER:g} (the tail's time offset); linear: 1"),
        at_least("b3.ordering", "final squared error: factor by which the imbalanced run is below both balanced "
                 "runs of its instance", _interval(_margin(runs), log=True), 10.0, basis="specification",
                 form="paired-ratio",
                **_inside(_interval(_margin(runs), log=True)),
                 tolerance="linear vs sublinear over the horizon (>= 10)"),
        close("b3.rate-factorization", "factorization: rate / (2 eta lambda_min(Delta_red)), per instance",
              _interval(fact.R, log=True), 1.0, rtol=TOL_FACT, basis="derived-on-page", form="value",
                **_inside(_interval(fact.R, log=True)),
              tolerance=f"±{TOL_FACT:.0%} (linearization; O(eta lambda), drift, the second redundant mode)"),
        at_least("b3.rate-sensing-slowest-mode", "sensing: smallest over the instances of rate / (-2 ln(1 - eta "
                 "lambda_1)), lambda_1 the slowest Hessian mode at the limit", float(np.min(sens.excess)),
                 1.0 - TOL_MODE, basis="derived-on-page", form="bound",
                 tolerance=f"the slowest mode bounds the rate from below; -{TOL_MODE:.0%} for the fit and the "
                           "Hessian evaluated at T"),
        between("b3.rate-sensing", "sensing: rate / (2 eta lambda_min(Delta_red)), per instance",
                _interval(sens.R, log=True), LOW_EDGE * rates.shrink, 1.0, basis="derived-on-page",
                **_inside(_interval(sens.R, log=True)),
                tolerance=f"[{LOW_EDGE:g} s-, 1], s- = (1 - sqrt(n(k-r)/m))^2: the slowest mode's curvature sits "
                          "at the lower Gaussian edge, lowered by the coupling; 1 = the mean curvature"),
        at_least("b3.rate-vs-delta0", "sensing: smallest over the instances of c = rate / (2 eta lambda_min(Delta_0))",
                 float(np.min(sens.c)), LOW_EDGE * rates.shrink, basis="derived-on-page", form="bound",
                 tolerance=f"c = R iota >= {LOW_EDGE:g} s-, iota >= 1 (interlacing); no upper bound"),
    ]


# ----------------------------------------------------------------------------- figures
_LABELS = ["F₀ = G₀, symmetric operator (= XXᵀ)", "F₀ = G₀, general operator",
           "independent, equal scale", "scales α and α/3"]


def plot_three_initializations(runs: Runs):
    """The squared relative errors of the four runs of every instance, semilog and log-log.

    Parameters
    ----------
    runs : Runs

    Returns
    -------
    fig, axes
    """
    if not isinstance(runs, Runs):
        raise ValueError(f"runs must be a Runs, got {type(runs).__name__}")
    t = runs.balanced.t
    title = f"k = {runs.k}, {param_label('alpha', runs.alpha)}, {runs.balanced.batch_size} instances"
    fig, axes = figure(2, width=9.6, height=3.8)
    for ax, sl, logx in ((axes[0], slice(None), False), (axes[1], slice(1, None), True)):
        for b in range(runs.balanced.batch_size):
            for j, row in enumerate(_curves(runs, b)):
                ax.plot(t[sl], row[sl], color=f"C{j}", lw=1, alpha=0.8, label=_LABELS[j] if b == 0 else None)
        ax.set_yscale("log")
        if logx:
            ax.set_xscale("log")
        ax.set(xlabel="iteration t", ylabel="squared relative error",
               title=title + (": log-log" if logx else ": semilog"))
        ax.legend(fontsize=8)
    return fig, axes


def plot_identity_drift(ver: IdentityVerification, drift: Drift):
    """Two panels: the identity along a trajectory, and the drift at the flow time divided by ``eta``.

    Parameters
    ----------
    ver : IdentityVerification
        From :func:`verify_identity`.
    drift : Drift
        From :func:`run_drift`; one line per instance (flat: drift proportional to ``eta``).

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
    for b in range(drift.drift_tau.shape[1]):
        ax.loglog(drift.etas, drift.drift_tau[:, b] / drift.etas, "o-", lw=1, ms=4,
                  label=f"instance {b + 1}: drift slope {drift.slopes[b]:.2f}")
    ax.set_xlabel("step size η")
    ax.set_ylabel("‖Δ_τ − Δ_0‖_F / η")
    ax.set_title(f"drift / η at flow time τ = {drift.tau:g}: flat")
    ax.tick_params(axis="x", which="minor", labelbottom=False)
    ax.legend(fontsize=7)
    return fig, axes


def plot_rates(rates: Rates):
    """Per instance, the sensing rate in units of ``2 eta lambda_min(Delta_red)`` next to the slowest
    Hessian mode, and the factorization ratio.

    Parameters
    ----------
    rates : Rates

    Returns
    -------
    fig, ax
    """
    if not isinstance(rates, Rates):
        raise ValueError(f"rates must be a Rates, got {type(rates).__name__}")
    fig, ax = figure(1, width=6.4, height=3.6)
    sens, fact = rates.sensing, rates.factorization
    x = np.arange(1, sens.rho.size + 1)
    ax.plot(x, sens.R, "o", label="sensing: ρ / (2η λ_min(Δ_red))")
    ax.plot(x, sens.rho_h / (2 * rates.eta * sens.lam_red), "v", label="sensing: slowest Hessian mode, same units")
    ax.plot(x, fact.R, "s", label="factorization: ρ / (2η λ_min(Δ_red))")
    ax.axhspan(rates.shrink, rates.shrink_hi, color="0.9", zorder=0, label="Gaussian edges [s₋, s₊]")
    ax.axhline(1.0, color="k", lw=0.8, ls=":")
    ax.set(xlabel="instance", ylabel="rate / (2η λ_min(Δ_red))", ylim=(0, 1.2),
           title="late rate against the restricted imbalance")
    ax.set_xticks(x)
    ax.legend(fontsize=8)
    return fig, ax


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
