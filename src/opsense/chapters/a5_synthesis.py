"""Chapter ``a5_synthesis``: paper A and paper B side by side.

Three experiments, each batched over the runs that share an operator:

1. :func:`run_readings`: one run from paper B's imbalanced start
   :math:`(\\alpha, \\alpha/3)`; the imbalance :math:`\\Delta_t=U_t^\\top U_t-V_t^\\top V_t` is small
   against the signal (paper A's balance) and positive definite at scale :math:`\\alpha^2`
   (paper B's imbalance) at once.
2. :func:`run_options`: vanilla small and large :math:`\\alpha` and the one-step rebalancing
   (:func:`opsense.rebalance` through ``run_gd(..., rebalance_tol=epsilon)``), at a width
   :math:`k_B` of paper B's regime and at :math:`k\\ge\\max(n_1,n_2)`.
3. :func:`phase_diagram`: recovery success against the number of measurements ``m`` and
   the width ``k``. The operators are nested (the first ``m`` rows of one Gaussian matrix);
   each seed has its own target and initialization; for each ``(m, seed)`` one call of
   :func:`opsense.run_gd` advances all widths (the engine is the only gradient-descent loop).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..book import rounded
from ..config import Cost, gd_cost, parameter_check
from ..analysis import Fit, fit_rate
from ..claims import Claim, at_least, at_most, between
from ..engine.factors import imbalance, initial_factors
from ..engine.gd import DivergenceError, GDResult, run_gd, step_sizes
from ..engine.operators import SensingOperator
from ..engine.problems import Problem, low_rank_target, make_problem
from ..plotting import figure, param_label

__all__ = ["PRESETS", "MAX_ENTRIES", "MAX_WORK", "MAX_GRAM", "MAX_STEPS", "check", "cost", "Readings", "run_readings",
           "readings_summary", "Options", "run_options", "options_summary", "PhaseDiagram", "phase_diagram",
           "run_phase_diagram", "phase_summary", "glue_values", "claims", "evaluate", "plot_options",
           "plot_phase_diagram"]

#: Parameter sets: ``book`` (20 x 30, rank 2, several seconds) and ``paper`` (50 x 50, rank 3).
PRESETS = {
    "book": dict(n1=20, n2=30, r=2, sigma=[1.0, 0.5], m=300, k_b=4, k=30, alpha_b=0.1, eta_b=0.1, iters_b=4000,
                 alphas=[1e-3, 0.3], eta=0.25, iters=3000, epsilon=0.01,
                 ratios=[1.0, 1.25, 1.5, 1.75, 2.0, 3.0, 5.0], ks=[2, 4, 30], n_seeds=5, alpha_pd=1e-6,
                 iters_pd=800, tol=0.01, seed=0),
    "paper": dict(n1=50, n2=50, r=3, sigma=[1.0, 0.75, 0.5], m=1500, k_b=5, k=50, alpha_b=0.1, eta_b=0.1,
                  iters_b=6000, alphas=[1e-3, 0.3], eta=0.25, iters=4000, epsilon=0.01,
                  ratios=[1.0, 1.5, 2.0, 3.0, 4.0, 5.0], ks=[3, 6, 50], n_seeds=5, alpha_pd=1e-6, iters_pd=1200,
                  tol=0.01, seed=0),
}

#: Largest operator (m * n1 * n2 entries, 8 bytes each), for experiments 1-2 and the phase diagram.
MAX_ENTRIES = 200_000_000
#: Largest amount of work: sum over the runs of iters * n1 * n2 * (m + k).
MAX_WORK = 2e12
#: Largest runs * k^2 of one engine call: the engine records the k x k imbalance of every run.
MAX_GRAM = 50_000_000
#: Largest number of gradient steps of the phase diagram's calls: len(ratios) * n_seeds * iters_pd.
MAX_STEPS = 5_000_000

RECORD_EVERY = 10
#: Step size of the phase diagram, times sigma_1(A*(y)).
ETA_SCALE = 0.25
#: Values at the float64 floor are rounding noise: the page shows only a bound.
FLOOR = 1e-12
#: Floor of the relative residual for the late-rate fits.
RATE_FLOOR = 1e-13


def _m_values(ratios, r: int, n1: int, n2: int) -> list[int]:
    return [max(1, int(round(x * r * (n1 + n2)))) for x in ratios]




@parameter_check
def check(P) -> None:
    """Refuse infeasible parameters of the chapter, naming the parameter.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (attributes as in :data:`PRESETS`).

    Raises
    ------
    ValueError
        For the first infeasible value; the message starts ``"parameter <name> must"``.
    """
    n1, n2, r = v.shape_rank(P.n1, P.n2, P.r)
    v.positive_values("sigma", P.sigma, size=r)
    m = v.integer("m", P.m, minimum=1)
    v.sampled(m, r=r, n1=n1, n2=n2)
    k_b = v.integer("k_b", P.k_b, minimum=1)
    k = v.integer("k", P.k, minimum=1)
    if not r < k_b < max(n1, n2):
        raise ValueError(f"k_b must satisfy r < k_b < max(n1, n2) (paper B's regime), i.e. "
                         f"{r} < k_b < {max(n1, n2)}, got {k_b}")
    if k < max(n1, n2):
        raise ValueError(f"k must be >= max(n1, n2) = {max(n1, n2)} (paper A's regime), got {k}")
    v.integer("seed", P.seed, minimum=0)
    alpha_b = v.real("alpha_b", P.alpha_b, positive=True)
    eta_b = v.real("eta_b", P.eta_b, positive=True)
    iters_b = v.integer("iters_b", P.iters_b, minimum=1)
    if iters_b < 2 * RECORD_EVERY:
        raise ValueError(f"iters_b must be >= {2 * RECORD_EVERY} (the late rate is fitted on the recorded "
                         f"points of the second half, every {RECORD_EVERY} steps), got {iters_b}")
    alphas = v.sweep("alphas", P.alphas, lambda n, x: v.real(n, x, positive=True))
    if len(alphas) != 2 or not alphas[0] < alphas[1]:
        raise ValueError(f"alphas must be [small, large] with small < large, got {alphas}")
    eta = v.real("eta", P.eta, positive=True)
    iters = v.integer("iters", P.iters, minimum=1)
    v.real("epsilon", P.epsilon, positive=True, below=1.0)
    ratios = v.sweep("ratios", P.ratios, lambda n, x: v.real(n, x, positive=True))
    if len(ratios) < 2 or any(b <= a for a, b in zip(ratios, ratios[1:])):
        raise ValueError(f"ratios must hold at least two strictly increasing values, got {ratios}")
    ms = _m_values(ratios, r, n1, n2)
    if len(set(ms)) != len(ms):
        raise ValueError(f"ratios must give distinct numbers of measurements m = round(ratio r (n1 + n2)), "
                         f"got {ms}; space them further")
    ks = v.sweep("ks", P.ks, lambda n, x: v.integer(n, x, minimum=r))
    n_seeds = v.integer("n_seeds", P.n_seeds, minimum=1)
    v.real("alpha_pd", P.alpha_pd, positive=True)
    iters_pd = v.integer("iters_pd", P.iters_pd, minimum=1)
    v.real("tol", P.tol, positive=True)
    for name, mm in (("m", m), ("ratios", ms[-1])):
        if mm * n1 * n2 > MAX_ENTRIES:
            raise ValueError(f"{name} must keep m * n1 * n2 <= {MAX_ENTRIES:,} (the operator's memory), "
                             f"got {mm} * {n1} * {n2}")
    if 4 * k * k > MAX_GRAM:
        raise ValueError(f"k must keep 4 * k^2 <= {MAX_GRAM:,} (the k x k imbalance of every run), got k = {k}")
    if len(ks) * max(ks) ** 2 > MAX_GRAM:
        raise ValueError(f"ks must keep len(ks) * max(ks)^2 <= {MAX_GRAM:,} (the k x k imbalance of every run), "
                         f"got {len(ks)} * {max(ks)}^2")
    if len(ms) * n_seeds * iters_pd > MAX_STEPS:
        raise ValueError(f"n_seeds must keep len(ratios) * n_seeds * iters_pd <= {MAX_STEPS:,} (run time of the "
                         f"phase diagram), got {len(ms)} * {n_seeds} * {iters_pd}")
    work = n1 * n2 * (iters_b * (m + k_b) + 6 * iters * (m + k)
                      + sum(n_seeds * len(ks) * iters_pd * (mm + max(ks)) for mm in ms))
    if work > MAX_WORK:
        raise ValueError(f"iters must keep the work, sum of iters * n1 * n2 * (m + k) over all runs (iters, "
                         f"iters_b, iters_pd), <= {MAX_WORK:.0e} (run time), got {work:.2e}")
    # step sizes used as given must be below the engine's safe bound min(1/(3 sigma_1(A*(y))), 1/L0)
    prob = make_problem(n1, n2, r, m, sigma=P.sigma, seed=P.seed)
    cap = 1.0 / (3.0 * float(prob.spectral_sigma[0]))
    safe_b = float(step_sizes(prob, k=k_b, alpha=alpha_b, seed=P.seed, eta=cap)[0])
    if eta_b > safe_b:
        raise ValueError(f"eta_b must be <= {safe_b:.3g}, the safe step min(1/(3 sigma_1(A*(y))), 1/L0) of "
                         f"opsense.step_sizes (larger steps may diverge), got {eta_b:g}")
    safe = float(step_sizes(prob, k=[k_b, k], alpha=alphas[0], seed=P.seed, eta=cap).min())
    if eta > safe:
        raise ValueError(f"eta must be <= {safe:.3g}, the safe step min(1/(3 sigma_1(A*(y))), 1/L0) of "
                         f"opsense.step_sizes at the small alpha (larger steps may diverge), got {eta:g}")






def cost(P) -> Cost:
    """What the three experiments cost, from the parameters alone (pure arithmetic, nothing is run).

    ``work`` sums :func:`run_readings` (one run of ``iters_b`` steps at ``k_b``), :func:`run_options`
    (six runs of ``iters`` steps at width ``k``, the batch's padding) and :func:`run_phase_diagram`
    (for each ``m`` of ``ratios``, ``n_seeds * len(ks)`` runs of ``iters_pd`` steps at width
    ``max(ks)``), each step ``n1 n2 (2 m + 3 k)``; reruns after a divergence are not counted.
    ``memory_bytes``: the larger of the ``m x n1 n2`` operator and the phase diagram's master matrix
    of the largest ``m`` with its rescaled temporary and the operator's copy (three of that size),
    plus the factors and curves of the results the page keeps.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (already checked by :func:`check`).

    Returns
    -------
    opsense.config.Cost
    """
    n1, n2, r, m = int(P.n1), int(P.n2), int(P.r), int(P.m)
    k_b, k = int(P.k_b), max(int(P.k), int(P.k_b))
    g = dict(n1=n1, n2=n2, r=r, every=RECORD_EVERY)
    w1, b1 = gd_cost(1, int(P.iters_b), m=m, k=k_b, **g)
    w2, b2 = gd_cost(6, int(P.iters), m=m, k=k, **g)
    ms = _m_values(P.ratios, r, n1, n2)
    runs, K, T = int(P.n_seeds) * len(P.ks), max(int(x) for x in P.ks), int(P.iters_pd)
    pd = [gd_cost(runs, T, m=mm, n1=n1, n2=n2, k=K, r=r, every=T) for mm in ms]
    operators = 8.0 * max(m, 3 * max(ms)) * n1 * n2
    return Cost(memory_bytes=operators + b1 + b2 + pd[-1][1], work=w1 + w2 + sum(w for w, _ in pd),
                drivers=("iters_pd", "n_seeds", "ratios", "ks", "iters", "m", "k", "n1", "n2", "iters_b"))


def _problem(P) -> Problem:
    return make_problem(P.n1, P.n2, P.r, P.m, sigma=P.sigma, seed=P.seed)


def _txt(x: float) -> str:
    return f"{x:.1e}" if x > FLOOR else f"< {FLOOR:.0e}"


# ---------------------------------------------------------------------------- 1. both readings
@dataclass(frozen=True)
class Readings:
    """Experiment 1: one run from paper B's imbalanced start.

    Attributes
    ----------
    result : GDResult
        One run (``init="imbalanced"``), width ``k_b``.
    sigma_r : float
        Smallest singular value of the target.
    alpha, eta : float
        Initialization scale and step size.
    lam0, lamT : float
        :math:`\\lambda_{\\min}(\\Delta_0)` and :math:`\\lambda_{\\min}(\\Delta_T)`.
    drift : float
        :math:`\\|\\Delta_T-\\Delta_0\\|` (operator norm).
    late : Fit
        Linear rate of the relative test error over the second half of the run.
    seconds : float
        Run time.
    """

    result: GDResult
    sigma_r: float
    alpha: float
    eta: float
    lam0: float
    lamT: float
    drift: float
    late: Fit
    seconds: float = 0.0

    @property
    def imbalance_max(self) -> float:
        """:math:`\\max_t\\|\\Delta_t\\|/\\sigma_r`."""
        return float(self.result.imbalance_op[0].max() / self.sigma_r)


def run_readings(P) -> Readings:
    """Experiment 1 with the parameters ``P`` (see :data:`PRESETS`).

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure`, already checked by :func:`check`.

    Returns
    -------
    Readings
    """
    start = time.perf_counter()
    problem = _problem(P)
    U0, V0 = initial_factors(P.n1, P.n2, P.k_b, P.alpha_b, init="imbalanced", seed=P.seed)
    rb = run_gd(problem, k=P.k_b, alpha=P.alpha_b, eta=P.eta_b, iters=P.iters_b, init="imbalanced", seed=P.seed,
                record_every=RECORD_EVERY)
    D0, DT = imbalance(U0, V0), imbalance(rb.U[0], rb.V[0])
    late = fit_rate(rb.t, rb.rel_error[0], window=(P.iters_b / 2, P.iters_b))
    return Readings(rb, float(problem.target.sigma.min()), float(P.alpha_b), float(P.eta_b),
                    float(np.linalg.eigvalsh(D0)[0]), float(np.linalg.eigvalsh(DT)[0]),
                    float(np.linalg.norm(DT - D0, 2)), late, time.perf_counter() - start)


def readings_summary(exp: Readings) -> str:
    """What experiment 1 prints: the largest imbalance, both smallest eigenvalues, drift and late rate.

    Parameters
    ----------
    exp : Readings

    Returns
    -------
    str
    """
    a2 = exp.alpha ** 2
    rate = exp.late.estimate
    return "\n".join([
        f"max_t ||Delta_t|| / sigma_r = {exp.imbalance_max:.3f}",
        f"lambda_min(Delta_0) = {exp.lam0:.3e} = {exp.lam0 / a2:.3f} alpha^2;  lambda_min(Delta_T) = {exp.lamT:.3e}",
        f"drift ||Delta_T - Delta_0|| = {exp.drift:.2e};  late rate {rate:.2e} per step "
        f"= {rate / (exp.eta * exp.lam0):.2f} mu lambda_min(Delta_0); test error {exp.result.rel_error[0, -1]:.1e}"])


# ---------------------------------------------------------------------------- 2. the options
@dataclass(frozen=True)
class Options:
    """Experiment 2: vanilla small and large ``alpha``, and the one-step fix, at two widths.

    Attributes
    ----------
    vanilla : GDResult
        Four runs: ``(k_b, small), (k_b, large), (k, small), (k, large)``.
    fixed : GDResult
        Two runs at the small ``alpha`` with the rebalancing step: widths ``k_b`` and ``k``.
    rates : ndarray of shape (4,)
        Late linear rate of the relative residual of each vanilla run (NaN: at the floor already).
    trigger_index : ndarray of int, shape (2,)
        Index into ``fixed.t`` of the rebalancing step.
    at_trigger : ndarray of shape (2,)
        Relative test error of the fixed runs at the step.
    iters : int
    seconds : float
        Run time.
    """

    vanilla: GDResult
    fixed: GDResult
    rates: np.ndarray
    trigger_index: np.ndarray
    at_trigger: np.ndarray
    iters: int
    seconds: float = 0.0


def _late_rate(res: GDResult, b: int, iters: int) -> float:
    keep = res.residual[b] > RATE_FLOOR
    if np.count_nonzero(keep & (res.t >= iters / 2)) < 2:
        return float("nan")                  # at the floor already: no late phase to fit
    return fit_rate(res.t, res.residual[b], window=(iters / 2, iters), floor=RATE_FLOOR).estimate


def run_options(P) -> Options:
    """Experiment 2 with the parameters ``P`` (see :data:`PRESETS`).

    The large ``alpha`` gets the step :func:`opsense.step_sizes` (``min(eta, 1/L0)``); the
    fixed runs apply :func:`opsense.rebalance` once the relative residual is ``<= epsilon``.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure`, already checked by :func:`check`.

    Returns
    -------
    Options
    """
    start = time.perf_counter()
    problem = _problem(P)
    k_v = [P.k_b, P.k_b, P.k, P.k]
    a_v = [P.alphas[0], P.alphas[1]] * 2
    vanilla = run_gd(problem, k=k_v, alpha=a_v, eta=step_sizes(problem, k=k_v, alpha=a_v, seed=P.seed, eta=P.eta),
                     iters=P.iters, seed=P.seed, record_every=RECORD_EVERY)
    fixed = run_gd(problem, k=[P.k_b, P.k], alpha=P.alphas[0], eta=P.eta, iters=P.iters, seed=P.seed,
                   record_every=RECORD_EVERY, rebalance_tol=P.epsilon)
    rates = np.array([_late_rate(vanilla, b, P.iters) for b in range(4)])
    trig = np.array([int(np.searchsorted(fixed.t, fixed.rebalanced_at[b])) for b in range(2)])
    at_trigger = np.array([float(fixed.rel_error[b, trig[b]]) for b in range(2)])
    return Options(vanilla, fixed, rates, trig, at_trigger, int(P.iters), time.perf_counter() - start)


def options_summary(exp: Options) -> str:
    """The table of experiment 2: test error, residual and late rate of every run.

    Parameters
    ----------
    exp : Options

    Returns
    -------
    str
    """
    van, fix = exp.vanilla, exp.fixed
    lines = [f"{'run':<28} {'test error':>10} {'residual':>10} {'late rate':>10}"]
    for b in range(van.batch_size):
        name = f"vanilla k={van.k[b]}, alpha={van.alpha[b]:g}"
        lines.append(f"{name:<28} {_txt(van.rel_error[b, -1]):>10} {_txt(van.residual[b, -1]):>10} "
                     f"{exp.rates[b]:>10.1e}")
    for b in range(fix.batch_size):
        name = f"fix k={fix.k[b]}, alpha={fix.alpha[b]:g}"
        lines.append(f"{name:<28} {_txt(fix.rel_error[b, -1]):>10} {_txt(fix.residual[b, -1]):>10}   (step at t = "
                     f"{fix.rebalanced_at[b]}, test error there {exp.at_trigger[b]:.1e})")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- 3. the phase diagram
@dataclass(frozen=True)
class PhaseDiagram:
    """Recovery success over numbers of measurements, widths and seeds.

    Attributes
    ----------
    ratios : ndarray of shape (M,)
        ``m / (r (n1 + n2))`` for each number of measurements.
    m_values : ndarray of int, shape (M,)
    ks : ndarray of int, shape (K,)
    seeds : ndarray of int, shape (S,)
        Seed of each target.
    test_error : ndarray of shape (M, K, S)
        Final relative test error :math:`\\|U_TV_T^\\top-X^\\star\\|_F/\\|X^\\star\\|_F`
        (``inf`` if the run diverged: a failure).
    eta : ndarray of shape (M, S)
        Step size of each run: ``eta_scale / sigma_1(A*(y))``.
    tol : float
        Success means ``test_error < tol``.
    r, n1, n2 : int
    sigma : ndarray of shape (r,)
        Singular values of every target, decreasing.
    seconds : float
        Run time.
    """

    ratios: np.ndarray
    m_values: np.ndarray
    ks: np.ndarray
    seeds: np.ndarray
    test_error: np.ndarray
    eta: np.ndarray
    tol: float
    r: int
    n1: int
    n2: int
    sigma: np.ndarray
    seconds: float = 0.0

    @property
    def kappa(self) -> float:
        """Condition number of the targets, ``sigma_1 / sigma_r``."""
        return float(self.sigma[0] / self.sigma[-1])

    @property
    def success(self) -> np.ndarray:
        """Boolean ndarray of shape (M, K, S): ``test_error < tol``."""
        return self.test_error < self.tol

    @property
    def rate(self) -> np.ndarray:
        """Success rate over the seeds, ndarray of shape (M, K)."""
        return self.success.mean(axis=2)

    @property
    def diverged(self) -> int:
        """Number of runs that diverged (counted as failures)."""
        return int(np.count_nonzero(np.isinf(self.test_error)))

    def transition(self, level: float = 0.5) -> np.ndarray:
        """Smallest ratio whose success rate is ``>= level``, per ``k`` (NaN if none).

        Parameters
        ----------
        level : float in (0, 1]

        Returns
        -------
        ndarray of shape (K,)
        """
        level = v.real("level", level, positive=True)
        out = np.full(len(self.ks), np.nan)
        for j in range(len(self.ks)):
            idx = np.flatnonzero(self.rate[:, j] >= level)
            if idx.size:
                out[j] = self.ratios[idx[0]]
        return out

    def largest_drop(self) -> np.ndarray:
        """Per ``k``, the largest decrease of the success rate from one ratio to any larger one, shape (K,)."""
        rate = self.rate
        best_before = np.maximum.accumulate(rate, axis=0)
        return np.max(best_before - rate, axis=0)


def _final_errors(problem: Problem, ks: list[int], *, alpha: float, eta: float, iters: int, seed: int) -> np.ndarray:
    """Final relative test errors of the widths ``ks`` (one engine call; ``inf`` for a diverged run)."""
    try:
        res = run_gd(problem, k=ks, alpha=alpha, eta=eta, iters=iters, seed=seed, record_every=iters)
        return res.rel_error[:, -1]
    except DivergenceError:  # at least one width diverged: run them one by one to find which
        out = np.empty(len(ks))
        for j, k in enumerate(ks):
            try:
                out[j] = run_gd(problem, k=k, alpha=alpha, eta=eta, iters=iters, seed=seed,
                                record_every=iters).rel_error[0, -1]
            except DivergenceError:
                out[j] = np.inf
        return out


def phase_diagram(n1: int, n2: int, r: int, *, sigma, ratios, ks, n_seeds: int, alpha: float,
                  iters: int, eta_scale: float = ETA_SCALE, tol: float = 1e-2, seed: int = 0) -> PhaseDiagram:
    """Recovery success of small-initialization gradient descent against ``m`` and ``k``.

    For each number of measurements ``m = round(ratio * r * (n1 + n2))`` the operator is
    the first ``m`` rows of one Gaussian matrix, rescaled to entries ``N(0, 1/m)`` (so the
    operators are nested). Seed ``s`` has its own target (:func:`opsense.low_rank_target`,
    Haar singular vectors, singular values ``sigma``) and its own initialization
    (:func:`opsense.initial_factors`, nested in ``k``). For each ``(m, s)`` one call of
    :func:`opsense.run_gd` runs every width, with the step size
    ``eta_scale / sigma_1(A*(y))`` of that problem; all the seeds of one ``m`` advance
    together in one batched call (a list of problems sharing the operator). A run that
    diverges (:class:`opsense.DivergenceError`) counts as a failure (test error ``inf``):
    then the seeds of that ``m`` are run again one by one to find it.

    Parameters
    ----------
    n1, n2, r : int
        Shape and rank of the targets.
    sigma : sequence of r floats > 0, keyword-only
        Singular values of every target.
    ratios : sequence of float > 0, keyword-only
        Strictly increasing values of ``m / (r (n1 + n2))``; the ``m`` must be distinct.
    ks : sequence of int >= r, keyword-only
        Widths of the factors.
    n_seeds : int >= 1, keyword-only
        Targets and initializations per ``(m, k)``.
    alpha : float > 0, keyword-only
        Initialization scale.
    iters : int >= 1, keyword-only
        Gradient steps of every run.
    eta_scale : float in (0, 1), keyword-only
        Step size times :math:`\\sigma_1(\\mathcal A^*(y))`, an estimate of :math:`\\|X^\\star\\|`.
    tol : float > 0, keyword-only
        Success threshold on the final relative test error.
    seed : int >= 0, keyword-only
        Seed of the Gaussian matrix, the targets and the initializations.

    Returns
    -------
    PhaseDiagram
    """
    n1, n2, r = v.shape_rank(n1, n2, r)
    sig = v.array("sigma", sigma, shape=(r,))
    if np.any(sig <= 0):
        raise ValueError(f"sigma must hold {r} positive values, got {sig.tolist()}")
    rat = v.sweep("ratios", ratios, lambda n, x: v.real(n, x, positive=True))
    if any(b <= a for a, b in zip(rat, rat[1:])):
        raise ValueError(f"ratios must be strictly increasing, got {rat}")
    ms_ = _m_values(rat, r, n1, n2)
    if len(set(ms_)) != len(ms_):
        raise ValueError(f"ratios give repeated numbers of measurements {ms_}; space them further")
    kk = v.sweep("ks", ks, lambda n, x: v.integer(n, x, minimum=r))
    n_seeds = v.integer("n_seeds", n_seeds, minimum=1)
    alpha = v.real("alpha", alpha, positive=True)
    iters = v.integer("iters", iters, minimum=1)
    eta_scale = v.real("eta_scale", eta_scale, positive=True, below=1.0)
    tol = v.real("tol", tol, positive=True)
    seed = v.integer("seed", seed, minimum=0)

    start = time.perf_counter()
    s_mat, s_tgt, s_init = np.random.SeedSequence(seed).spawn(3)
    master = np.random.default_rng(s_mat).standard_normal((ms_[-1], n1 * n2))
    tseeds = [int(x) for x in s_tgt.generate_state(n_seeds)]
    iseeds = [int(x) % (2 ** 31) for x in s_init.generate_state(n_seeds)]
    targets = [low_rank_target(n1, n2, r, sigma=sig, seed=ts) for ts in tseeds]
    errors = np.empty((len(ms_), len(kk), n_seeds))
    etas = np.empty((len(ms_), n_seeds))
    K = len(kk)
    for i, m in enumerate(ms_):
        op = SensingOperator.from_matrix(master[:m] / np.sqrt(m), n1, n2)
        probs = [Problem.from_parts(targets[s], op) for s in range(n_seeds)]
        etas[i] = [eta_scale / float(p.spectral_sigma[0]) for p in probs]
        try:   # every (seed, width) of this m in one batched engine call, seed-major
            res = run_gd([p for p in probs for _ in kk], k=kk * n_seeds, alpha=alpha,
                         eta=np.repeat(etas[i], K).tolist(), iters=iters,
                         seed=[iseeds[s] for s in range(n_seeds) for _ in kk], record_every=iters)
            errors[i] = res.rel_error[:, -1].reshape(n_seeds, K).T
        except DivergenceError:
            for s in range(n_seeds):
                errors[i, :, s] = _final_errors(probs[s], kk, alpha=alpha, eta=etas[i, s], iters=iters,
                                                seed=iseeds[s])
    return PhaseDiagram(np.asarray(rat), np.asarray(ms_), np.asarray(kk), np.asarray(tseeds), errors, etas,
                        tol, r, n1, n2, np.sort(sig)[::-1], time.perf_counter() - start)


def run_phase_diagram(P) -> PhaseDiagram:
    """Experiment 3 with the parameters ``P`` (see :data:`PRESETS`).

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure`, already checked by :func:`check`.

    Returns
    -------
    PhaseDiagram
    """
    return phase_diagram(P.n1, P.n2, P.r, sigma=P.sigma, ratios=P.ratios, ks=P.ks, n_seeds=P.n_seeds,
                         alpha=P.alpha_pd, iters=P.iters_pd, tol=P.tol, seed=P.seed)


def phase_summary(pd: PhaseDiagram) -> str:
    """The success rates, transitions and the sample sizes they are compared with.

    Parameters
    ----------
    pd : PhaseDiagram

    Returns
    -------
    str
    """
    trans = pd.transition(0.5)
    kappa, r, n1, n2 = pd.kappa, pd.r, pd.n1, pd.n2
    lines = ["success rate (rows: k; columns: m / (r (n1 + n2)) = " + ", ".join(f"{x:g}" for x in pd.ratios) + ")"]
    for j, kk in enumerate(pd.ks):
        rates = "  ".join(f"{x:4.2f}" for x in pd.rate[:, j])
        lines.append(f"k = {kk:>3}: {rates}   transition at {trans[j]:g}")
    lines.append(f"diverged runs (counted as failures): {pd.diverged}")
    lines.append(f"dimension of the rank-r matrices: r (n1 + n2 - r) / (r (n1 + n2)) = {(n1 + n2 - r) / (n1 + n2):.3f}")
    lines.append(f"reconstructed sufficient size kappa^8 r^2 (n1 + n2) / (r (n1 + n2)) = kappa^8 r = "
                 f"{kappa ** 8 * r:.0f} (up to constants), i.e. m >~ {kappa ** 8 * r ** 2 * (n1 + n2):.0f} "
                 f"vs n1 n2 = {n1 * n2}")
    return "\n".join(lines)



# ---------------------------------------------------------------------------- glue and claims
def glue_values(readings: Readings, options: Options, pd: PhaseDiagram) -> dict:
    """The numbers the chapter's prose quotes, by glue name (rounded as the page shows them).

    Parameters
    ----------
    readings : Readings
    options : Options
    pd : PhaseDiagram

    Returns
    -------
    dict of str to float, int or str
    """
    rb, van, fix = readings, options.vanilla, options.fixed
    rates = options.rates
    trans = pd.transition(0.5)
    kappa, r, n1, n2 = pd.kappa, pd.r, pd.n1, pd.n2
    finite = trans[np.isfinite(trans)]
    a_small, a_large = float(van.alpha[0]), float(van.alpha[1])
    return {
        "a5_imb_max": rounded(rb.imbalance_max, 2), "a5_lam0_rel": rounded(rb.lam0 / rb.alpha ** 2, 3),
        "a5_lam_ratio": rounded(rb.lamT / rb.lam0, 3), "a5_drift_b": rounded(rb.drift, 2), "a5_lam0": rounded(rb.lam0, 2),
        "a5_late_b": rounded(rb.late.estimate, 2), "a5_late_b_rel": rounded(rb.late.estimate / (rb.eta * rb.lam0), 2),
        "a5_k": int(van.k[2]), "a5_kb": int(van.k[0]), "a5_eta": float(fix.eta[0]),
        "a5_test_small_A": rounded(van.rel_error[2, -1], 2), "a5_test_large_A": rounded(van.rel_error[3, -1], 2),
        "a5_res_large_A": _txt(van.residual[3, -1]), "a5_trig_A": int(fix.rebalanced_at[1]),
        "a5_at_trig_A": rounded(options.at_trigger[1], 2), "a5_test_fix_A": rounded(fix.rel_error[1, -1], 2),
        "a5_res_fix_A": _txt(fix.residual[1, -1]),
        "a5_rate_small_B": rounded(rates[0], 2), "a5_rate_large_B": rounded(rates[1], 2),
        "a5_alpha_ratio2": rounded((a_large / a_small) ** 2, 2), "a5_trig_B": int(fix.rebalanced_at[0]),
        "a5_test_fix_B": _txt(fix.rel_error[0, -1]), "a5_test_small_B": rounded(van.rel_error[0, -1], 2),
        "a5_max_drop": rounded(pd.largest_drop().max(), 2),
        "a5_trans_min": rounded(finite.min()) if finite.size else float("nan"),
        "a5_trans_max": rounded(finite.max()) if finite.size else float("nan"),
        "a5_dof": rounded((n1 + n2 - r) / (n1 + n2)), "a5_theory": rounded(kappa ** 8 * r),
        "a5_theory_over_entries": rounded(kappa ** 8 * r ** 2 * (n1 + n2) / (n1 * n2), 2),
    }


def _decades_margin(*conditions) -> float:
    """Smallest margin, in decades, of conditions ``(value, bound, below)``: ``value < bound`` when
    ``below``, else ``value > bound``; ``>= 0`` exactly when every condition holds (NaN propagates)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        margins = [np.log10(bound / value) if below else np.log10(value / bound)
                   for value, bound, below in ((np.float64(x), np.float64(y), z) for x, y, z in conditions)]
    return float(np.min(margins))


def claims(readings: Readings, options: Options, pd: PhaseDiagram) -> list[Claim]:
    """The chapter's claims (see the page's "Claims" section for the basis of each tolerance).

    Parameters
    ----------
    readings : Readings
    options : Options
    pd : PhaseDiagram

    Returns
    -------
    list of Claim
    """
    rb, van, fix = readings, options.vanilla, options.fixed
    k, k_b = int(van.k[2]), int(van.k[0])
    rates = options.rates
    trans = pd.transition(0.5)
    below_one = float(np.nextafter(1.0, 0.0))
    return [
        between("a5.A-balanced", "max_t ||Delta_t|| / sigma_r, paper B's start", rb.imbalance_max, 0.0, 0.1,
                basis="derived-on-page", tolerance="0.1 sigma_r (order alpha^2)"),
        between("a5.B-imbalanced", "lambda_min(Delta_T) / lambda_min(Delta_0), with lambda_min(Delta_0) > 0",
                rb.lamT / rb.lam0 if rb.lam0 > 0 else -1.0, 0.5, 1.5, basis="derived-on-page",
                tolerance="drift of order mu"),
        at_least("a5.A-generalization", f"k = {k}: smallest margin (decades) of test error small alpha < 1e-2 "
                 "and large alpha > 0.3", _decades_margin((van.rel_error[2, -1], 1e-2, True),
                                                          (van.rel_error[3, -1], 0.3, False)),
                 0.0, basis="theory", tolerance=f"thresholds of chapter a1 (measured "
                 f"{van.rel_error[2, -1]:.2g} and {van.rel_error[3, -1]:.2g})"),
        at_most("a5.B-slow-end", f"k = {k_b}: late rate at small alpha / late rate at large alpha",
                float(rates[0] / rates[1]), below_one, basis="theory", tolerance="strictly below 1"),
        at_least("a5.fix-both", f"k = {k_b}: smallest margin (decades) of fix test error < 1e-8 and vanilla "
                 "small alpha > 1e-4", _decades_margin((fix.rel_error[0, -1], 1e-8, True),
                                                       (van.rel_error[0, -1], 1e-4, False)),
                 0.0, basis="theory", tolerance="orders of magnitude"),
        at_least("a5.fix-frozen", f"k = {k}: test error after the fix / its value at the trigger",
                 float(fix.rel_error[1, -1] / options.at_trigger[1]), 0.5, basis="derived-on-page",
                 tolerance="factor 2"),
        at_most("a5.monotone", "largest decrease of the success rate as m grows, over every k",
                float(pd.largest_drop().max()), 0.0, basis="derived-on-page", tolerance="exact (nested operators)"),
        at_most("a5.transition", "largest transition ratio m / (r (n1 + n2)) over k (NaN: never reached)",
                float(np.max(trans)), float(np.nextafter(5.0, 0.0)), basis="specification",
                tolerance="below 5 (specification)"),
    ]


def evaluate(P) -> list[Claim]:
    """The chapter's whole computation, as its notebook runs it, and its claims.

    The notebook's calls, in its order: :func:`run_readings`, :func:`run_options`,
    :func:`run_phase_diagram` and :func:`claims`.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure`.

    Returns
    -------
    list of Claim
        The list that the notebook passes to :func:`opsense.evaluate_claims`.
    """
    readings = run_readings(P)
    options = run_options(P)
    pd = run_phase_diagram(P)
    return claims(readings, options, pd)


# ---------------------------------------------------------------------------- figures
def plot_options(exp: Options, *, labels_vanilla=None, labels_fixed=None):
    """Figure of experiment 2: test error over time, one panel per width.

    Parameters
    ----------
    exp : Options
    labels_vanilla, labels_fixed : sequences of str, keyword-only, optional
        One legend entry per run (default: the option and ``alpha``).

    Returns
    -------
    fig, axes
    """
    if not isinstance(exp, Options):
        raise ValueError(f"exp must be an Options experiment, got {type(exp).__name__}")
    vanilla, fixed = exp.vanilla, exp.fixed
    if labels_vanilla is None:
        labels_vanilla = [f"vanilla, {param_label('alpha', float(a))}" for a in vanilla.alpha]
    if labels_fixed is None:
        labels_fixed = [f"one-step fix, {param_label('alpha', float(a))}" for a in fixed.alpha]
    if len(labels_vanilla) != vanilla.batch_size or len(labels_fixed) != fixed.batch_size:
        raise ValueError("labels_vanilla and labels_fixed need one entry per run")
    ks = list(dict.fromkeys(int(k) for k in vanilla.k))
    fig, axes = figure(ncols=len(ks), width=5.0 * len(ks), height=3.8)
    axes = np.atleast_1d(axes)
    for ax, k in zip(axes, ks):
        c = 0
        for res, labels, ls in ((vanilla, labels_vanilla, "-"), (fixed, labels_fixed, "--")):
            for b in np.flatnonzero(res.k == k):
                ax.semilogy(res.t, np.maximum(res.rel_error[b], 1e-17), ls=ls, color=f"C{c}", label=labels[b])
                if res.rebalanced_at[b] >= 0:
                    ax.axvline(res.rebalanced_at[b], color=f"C{c}", ls=":", lw=1)
                c += 1
        ax.set_xlabel("iteration t")
        ax.set_ylabel("relative test error")
        ax.set_title(f"k = {k}")
        ax.legend()
    return fig, axes


def plot_phase_diagram(diagram: PhaseDiagram):
    """Success rate against ``m / (r (n1 + n2))`` and ``k``: a map and one curve per ``k``.

    Parameters
    ----------
    diagram : PhaseDiagram

    Returns
    -------
    fig, (ax_map, ax_curves)
    """
    if not isinstance(diagram, PhaseDiagram):
        raise ValueError(f"diagram must be a PhaseDiagram, got {type(diagram).__name__}")
    rate = diagram.rate
    fig, (ax1, ax2) = figure(ncols=2, width=10.0, height=3.8)
    im = ax1.imshow(rate.T, origin="lower", aspect="auto", cmap="viridis", vmin=0, vmax=1)
    ax1.set_xticks(range(len(diagram.ratios)), [f"{x:g}" for x in diagram.ratios])
    ax1.set_yticks(range(len(diagram.ks)), [str(k) for k in diagram.ks])
    for i in range(rate.shape[0]):
        for j in range(rate.shape[1]):
            ax1.text(i, j, f"{rate[i, j]:.2g}", ha="center", va="center", fontsize=8,
                     color="k" if rate[i, j] > 0.5 else "w")
    ax1.set_xlabel("m / (r (n1 + n2))")
    ax1.set_ylabel("width k")
    ax1.set_title(f"success rate (test error < {diagram.tol:g}), {diagram.seeds.size} seeds")
    ax1.grid(False)
    fig.colorbar(im, ax=ax1, label="success rate")
    styles = ["o-", "s--", "^:", "D-.", "v-"]
    for j, k in enumerate(diagram.ks):
        ax2.plot(diagram.ratios, rate[:, j], styles[j % len(styles)], ms=7 - j, label=f"k = {k}")
    ax2.axhline(0.5, color="k", ls=":", lw=1)
    ax2.set_xlabel("m / (r (n1 + n2))")
    ax2.set_ylabel("success rate")
    ax2.set_title(f"{diagram.n1} x {diagram.n2}, rank {diagram.r}")
    ax2.legend()
    return fig, (ax1, ax2)
