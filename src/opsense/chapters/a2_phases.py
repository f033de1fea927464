"""Chapter ``a2_phases``: three phases and incremental learning (paper A).

While :math:`U_tV_t^\\top` is small, the lifted factor :math:`W_t=[U_t;V_t]` follows the
power iteration :math:`W_{t+1}\\approx(I+\\mu\\mathcal D(\\mathcal A^*y))W_t`, so
:math:`\\sigma_i(U_tV_t^\\top)` grows like :math:`\\alpha^2(1+\\mu\\tilde\\sigma_i)^{2t}` and
reaches :math:`\\sigma_i/2` after :math:`\\ln(1/\\alpha)/\\ln(1+\\mu\\tilde\\sigma_i)+O(1)`
steps (our derivation, proved on the page for the linearized iteration).

:func:`escape_slopes` gives these slopes, :func:`hitting_times` measures the times on
recorded runs, :func:`escape_fits` fits them against :math:`\\ln(1/\\alpha)`, and
:func:`two_stage_slope` is our refinement for the second direction. :func:`run` is the
chapter's experiment: one batched run over ``alpha``, recorded at every step.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..config import Cost, gd_cost, parameter_check
from ..analysis import Fit, fit_line, fit_rate, hitting_time
from ..claims import Claim, at_most, between, close
from ..engine.gd import GDResult, run_gd
from ..engine.problems import Problem, check_problem, make_problem
from ..plotting import figure

__all__ = ["PRESETS", "check", "cost", "EscapeSlopes", "escape_slopes", "hitting_times", "escape_fits",
           "two_stage_slope", "first_time", "Experiment", "problem", "describe", "run", "timing",
           "phases_summary", "escape_summary", "rates_summary", "glue_values", "claims", "evaluate", "plot_phases",
           "plot_escape"]

_ALPHAS = [10.0 ** -e for e in range(2, 11)]   # 1e-2 ... 1e-10

#: Parameter sets of the chapter: ``book`` (20 x 30, rank 2, about a second) and ``paper`` (50 x 50, rank 3).
PRESETS = {
    "book": dict(n1=20, n2=30, r=2, sigma=[1.0, 0.5], m=400, k=30, alphas=list(_ALPHAS), eta=0.25, iters=400,
                 seed=0),
    "paper": dict(n1=50, n2=50, r=3, sigma=[1.0, 0.7, 0.5], m=2000, k=50, alphas=list(_ALPHAS), eta=0.25,
                  iters=700, seed=0),
}

#: Largest entries of the operator (m * n1 * n2, about 1.6 GB of float64).
MAX_ENTRIES = 200_000_000
#: Largest work, iters * len(alphas) * (m + min(n1, n2)) * n1 * n2 (30 times the paper preset).
MAX_WORK = 1_000_000_000_000
#: Largest recorded singular values, len(alphas) * (iters + 1) * min(n1, n2, k) (every step is recorded).
MAX_RECORDS = 50_000_000
#: Largest entries of the stacked factors, len(alphas) * (n1 + n2) * k.
MAX_FACTOR_ENTRIES = 50_000_000
#: Largest initialization scale: the linearization needs :math:`X_0` far below :math:`X^\star`.
MAX_ALPHA = 0.1
#: Largest ``eta * sigma_1`` (the proposition needs ``mu sigma_1(A*y) < 1``; gradient descent is stable).
MAX_ETA_SIGMA = 0.5
#: Level of the alignment angle and of the test error that time the phases.
ALIGN_LEVEL, HALF_LEVEL = 0.05, 0.5


def _horizon(alpha_min: float, eta: float, sigma_r: float) -> int:
    """Steps to learn the last direction at the smallest ``alpha``: 1.25 times the slowest
    escape time ``ln(1/alpha)/ln(1 + eta sigma_r)``, plus 20."""
    return int(math.ceil(1.25 * math.log(1.0 / alpha_min) / math.log1p(eta * sigma_r))) + 20




@parameter_check
def check(P) -> None:
    """Refuse infeasible parameters of the chapter, naming the parameter.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (attributes ``n1, n2, r, sigma, m, k, alphas, eta,
        iters, seed``).

    Raises
    ------
    ValueError
        For the first infeasible value; the message starts ``"parameter <name> must"``.
    """
    n1, n2, r = v.shape_rank(P.n1, P.n2, P.r)
    if r < 2:
        raise ValueError(f"parameter r must be >= 2 (the chapter times the second direction), got {r}")
    if r >= min(n1, n2):
        raise ValueError(f"parameter r must be < min(n1, n2) = {min(n1, n2)} (the alignment rate uses "
                         f"sigma_(r+1)(A*y)), got {r}")
    sigma = v.sweep("sigma", P.sigma, lambda n, x: v.real(n, x, positive=True))
    if len(sigma) != r or len(set(sigma)) != r:
        raise ValueError(f"parameter sigma must hold r = {r} distinct singular values > 0 (the directions are "
                         f"learned one at a time), got {sigma}")
    m = v.integer("m", P.m, minimum=1)
    v.sampled(m, r=r, n1=n1, n2=n2)
    if m * n1 * n2 > MAX_ENTRIES:
        raise ValueError(f"parameter m must keep m * n1 * n2 <= {MAX_ENTRIES:,} (the operator's memory), "
                         f"got {m} * {n1} * {n2}")
    k = v.integer("k", P.k, minimum=r)
    alphas = v.sweep("alphas", P.alphas, lambda n, x: v.real(n, x, positive=True))
    if len(alphas) < 2 or len(set(alphas)) != len(alphas):
        raise ValueError(f"parameter alphas must hold at least two distinct values > 0 (a slope is fitted), "
                         f"got {alphas}")
    if max(alphas) > MAX_ALPHA:
        raise ValueError(f"parameter alphas must hold values <= {MAX_ALPHA:g} (the escape-time law is for a "
                         f"small initialization), got {max(alphas):g}")
    eta = v.real("eta", P.eta, positive=True)
    if eta * max(sigma) > MAX_ETA_SIGMA:
        raise ValueError(f"parameter eta must be <= {MAX_ETA_SIGMA:g} / sigma_1 = {MAX_ETA_SIGMA / max(sigma):.4g} "
                         f"(mu sigma_1(A*y) < 1 and stable gradient descent), got {eta:g}")
    iters = v.integer("iters", P.iters, minimum=1)
    need = _horizon(min(alphas), eta, min(sigma))
    if iters < need:
        raise ValueError(f"parameter iters must be >= {need} (1.25 times the escape time ln(1/alpha)/ln(1 + eta "
                         f"sigma_r) of the smallest alpha, plus 20 steps), got {iters}")
    B, s = len(alphas), min(n1, n2)
    if iters * B * (m + s) * n1 * n2 > MAX_WORK:
        raise ValueError(f"parameter iters must keep iters * len(alphas) * (m + min(n1, n2)) * n1 * n2 <= "
                         f"{MAX_WORK:,} (time), got {iters} * {B} * {m + s} * {n1 * n2}")
    if B * (iters + 1) * min(s, k) > MAX_RECORDS:
        raise ValueError(f"parameter iters must keep len(alphas) * (iters + 1) * min(n1, n2, k) <= {MAX_RECORDS:,} "
                         f"(recorded every step), got {B} * {iters + 1} * {min(s, k)}")
    if B * (n1 + n2) * k > MAX_FACTOR_ENTRIES:
        raise ValueError(f"parameter k must keep len(alphas) * (n1 + n2) * k <= {MAX_FACTOR_ENTRIES:,} (memory), "
                         f"got {B} * {n1 + n2} * {k}")
    v.integer("seed", P.seed, minimum=0)






def cost(P) -> Cost:
    """What :func:`run` costs, from the parameters alone (pure arithmetic, nothing is run).

    ``work``: ``len(alphas)`` runs of ``iters`` steps, each step ``n1 n2 (2 m + 3 k)``, plus the
    recording at every step (QR and SVD of the factors, ``min(n1, n2) n1 n2`` per run and step,
    the term of :func:`check`). ``memory_bytes``: the ``m x n1 n2`` operator, the stacked factors
    and the curves (``len(alphas) (iters + 1) (min(n1, n2, k) + 2 r + 9)``).

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (already checked by :func:`check`).

    Returns
    -------
    opsense.config.Cost
    """
    n1, n2, r, m, k, iters = int(P.n1), int(P.n2), int(P.r), int(P.m), int(P.k), int(P.iters)
    B = len(P.alphas)
    w, b = gd_cost(B, iters, m=m, n1=n1, n2=n2, k=k, r=r, every=1)
    w_rec = float(B) * (iters + 1) * min(n1, n2) * n1 * n2
    return Cost(memory_bytes=8.0 * m * n1 * n2 + b, work=w + w_rec,
                drivers=("iters", "alphas", "m", "n1", "n2", "k"))


# ---------------------------------------------------------------------------- escape times
@dataclass(frozen=True)
class EscapeSlopes:
    """Predicted slopes of the hitting times against :math:`\\ln(1/\\alpha)`.

    Attributes
    ----------
    spectral : ndarray of shape (r,)
        :math:`1/\\ln(1+\\mu\\,\\sigma_i(\\mathcal A^*y))`, the linearized law with the
        spectral estimate's singular values.
    truth : ndarray of shape (r,)
        :math:`1/\\ln(1+\\mu\\,\\sigma_i)`, the same with the true singular values.
    """

    spectral: np.ndarray
    truth: np.ndarray


def escape_slopes(problem: Problem, *, eta: float) -> EscapeSlopes:
    """Slopes ``1/ln(1 + eta*sigma)`` for the spectral estimate's and the true singular values.

    Parameters
    ----------
    problem : Problem
    eta : float > 0, keyword-only
        Step size (paper A's ``mu``).

    Returns
    -------
    EscapeSlopes
    """
    problem = check_problem(problem)
    eta = v.real("eta", eta, positive=True)
    r = problem.target.r
    return EscapeSlopes(spectral=1.0 / np.log1p(eta * problem.spectral_sigma[:r]),
                        truth=1.0 / np.log1p(eta * problem.target.sigma))


def hitting_times(result: GDResult, sigma, *, fraction: float = 0.5) -> np.ndarray:
    """First recorded ``t`` with :math:`\\sigma_i(X_t)\\ge` ``fraction`` :math:`\\cdot\\sigma_i`, per run and ``i``.

    Parameters
    ----------
    result : GDResult
        Recorded runs (use a small ``record_every``: the times are only as fine as the records).
    sigma : array_like of shape (r,), positive
        Reference singular values (the truth's).
    fraction : float in (0, 1], keyword-only

    Returns
    -------
    ndarray of shape (B, r)
        NaN where the level is never reached.
    """
    if not isinstance(result, GDResult):
        raise ValueError(f"result must be a GDResult, got {type(result).__name__}")
    sigma = v.array("sigma", sigma, ndim=1)
    if sigma.size == 0 or np.any(sigma <= 0):
        raise ValueError("sigma must hold at least one positive value")
    if sigma.size > result.singular_values.shape[2]:
        raise ValueError(f"sigma has {sigma.size} values but the runs record only "
                         f"{result.singular_values.shape[2]} singular values")
    fraction = v.real("fraction", fraction, positive=True)
    if fraction > 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    B = result.batch_size
    out = np.empty((B, sigma.size))
    for b in range(B):
        for i, s in enumerate(sigma):
            out[b, i] = hitting_time(result.t, result.singular_values[b, :, i], fraction * s,
                                     direction="above").time
    return out


_NAN_FIT = Fit(math.nan, math.nan, math.nan, math.nan, math.nan, 0)


def escape_fits(alphas, times) -> list[Fit]:
    """Least-squares lines of the hitting times against :math:`\\ln(1/\\alpha)`, one per direction.

    Parameters
    ----------
    alphas : array_like of shape (B,), positive
    times : array_like of shape (B, r)
        From :func:`hitting_times` (NaN entries are left out).

    Returns
    -------
    list of Fit, one per column of ``times``
        ``estimate`` is the slope (iterations per unit of :math:`\\ln(1/\\alpha)`); all NaN
        for a direction with fewer than two finite times.
    """
    alphas = v.array("alphas", alphas, ndim=1)
    if np.any(alphas <= 0):
        raise ValueError("alphas must be positive")
    times = np.asarray(times, dtype=float)
    if times.ndim != 2 or times.shape[0] != alphas.size:
        raise ValueError(f"times must have shape ({alphas.size}, r), got {times.shape}")
    x = np.log(1.0 / alphas)
    out = []
    for i in range(times.shape[1]):
        ok = np.isfinite(times[:, i])
        out.append(fit_line(x[ok], times[ok, i]) if np.unique(x[ok]).size >= 2 else _NAN_FIT)
    return out


def two_stage_slope(b1: float, *, eta: float, sigma_early: float, sigma_late: float) -> float:
    """Slope of the second hitting time when its growth rate changes once direction 1 is learned.

    Direction 2 grows by the factor :math:`(1+\\mu\\tilde\\sigma)^2` per step in
    :math:`U_tV_t^\\top`, with :math:`\\tilde\\sigma` = ``sigma_early`` until the first
    direction is learned (at :math:`b_1\\ln(1/\\alpha)+O(1)`) and ``sigma_late``
    afterwards. It must grow by :math:`2\\ln(1/\\alpha)+O(1)` in logarithm, so its
    slope is

    .. math:: b_2 = b_1 + \\frac{1 - b_1\\ln(1+\\mu\\sigma_{\\rm early})}{\\ln(1+\\mu\\sigma_{\\rm late})}.

    Parameters
    ----------
    b1 : float > 0
        Slope of the first hitting time.
    eta : float > 0, keyword-only
        Step size.
    sigma_early, sigma_late : float > 0, keyword-only
        Growth rates of direction 2 before and after direction 1 is learned.

    Returns
    -------
    float
    """
    b1 = v.real("b1", b1, positive=True)
    eta = v.real("eta", eta, positive=True)
    se = v.real("sigma_early", sigma_early, positive=True)
    sl = v.real("sigma_late", sigma_late, positive=True)
    return float(b1 + (1.0 - b1 * np.log1p(eta * se)) / np.log1p(eta * sl))


def first_time(t, curve, level: float, *, direction: str = "below") -> float:
    """First recorded ``t`` at which ``curve`` is past ``level`` (NaN if never).

    Parameters
    ----------
    t : array_like of shape (T,), increasing
    curve : array_like of shape (T,)
    level : float
    direction : {"below", "above"}, keyword-only

    Returns
    -------
    float
    """
    return hitting_time(t, curve, level, direction=direction).time


def _rate(t, curve, lo: float, hi: float) -> float:
    """``fit_rate`` of ``curve`` on ``[lo, hi]``; NaN if the window holds fewer than two usable points."""
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        return math.nan
    sel = (t >= lo) & (t <= hi) & np.isfinite(curve) & (curve > 0)
    if np.count_nonzero(sel) < 2:
        return math.nan
    return float(fit_rate(t, curve, window=(lo, hi)).estimate)


def _ratio(a: float, b: float) -> float:
    """``a / b`` as a float, NaN if ``b`` is 0 or either is NaN."""
    return float(a) / float(b) if float(b) != 0 else math.nan


def _int(x: float) -> int:
    """``int(x)``, or -1 for NaN (a time never reached)."""
    return int(x) if np.isfinite(x) else -1


# ---------------------------------------------------------------------------- the experiment
@dataclass(frozen=True)
class Experiment:
    """The chapter's experiment: the runs, their phases, escape times and growth rates.

    Attributes
    ----------
    problem : Problem
    result : GDResult
        One run per ``alpha`` (same initialization seed), recorded at every step.
    alphas : ndarray of shape (B,)
        Initialization scales, decreasing (run ``b`` has ``alphas[b]``).
    eta : float
    hits : ndarray of shape (B, r)
        Hitting times :math:`t_i` of :math:`\\sigma_i/2` (:func:`hitting_times`).
    t_align, t_half, err_at_align : float
        At the smallest ``alpha``: first step with the sine of the angle to the top-``r``
        spaces of :math:`\\mathcal A^*(y)` below 0.05, first step with test error below 0.5,
        and the test error at ``t_align`` (NaN if never reached).
    err_before_align : float
        Smallest test error over :math:`t\\le t_{\\rm align}` at the smallest ``alpha``.
    fits : list of Fit
        :math:`t_i` against :math:`\\ln(1/\\alpha)`, one per direction (:func:`escape_fits`).
    slopes : EscapeSlopes
        The predicted slopes.
    b_tol, b2_lo, b2_hi : float
        One step over the range of :math:`\\ln(1/\\alpha)`, and the bracket for the second slope
        widened by it.
    g1, g1_pred : float
        Fitted ln-growth per step of :math:`\\sigma_1(X_t)` on :math:`[t_1/4, 3t_1/4]` and
        :math:`2\\ln(1+\\mu\\tilde\\sigma_1)`.
    sigma_late : float
        Late rate :math:`\\sigma'_2=(e^{g_2/2}-1)/\\mu` of direction 2, from its ln-growth
        :math:`g_2` on the middle half of :math:`[t_1, t_2]`.
    b2_two_stage : float
        :func:`two_stage_slope` with the fitted :math:`b_1` and :math:`\\sigma'_2`.
    ang_rate, ang_pred : float
        Decay rate of the alignment angle on :math:`[t_{\\rm align}/2, t_{\\rm align}]` and the
        derived lower bound :math:`\\ln\\frac{1+\\mu\\tilde\\sigma_r}{1+\\mu\\tilde\\sigma_{r+1}}`.
    seconds : float
        Wall-clock time of the runs.
    """

    problem: Problem
    result: GDResult
    alphas: np.ndarray
    eta: float
    hits: np.ndarray
    t_align: float
    t_half: float
    err_at_align: float
    err_before_align: float
    fits: list[Fit]
    slopes: EscapeSlopes
    b_tol: float
    b2_lo: float
    b2_hi: float
    g1: float
    g1_pred: float
    sigma_late: float
    b2_two_stage: float
    ang_rate: float
    ang_pred: float
    seconds: float

    @property
    def index(self) -> int:
        """The run of the smallest ``alpha`` (the last)."""
        return len(self.alphas) - 1

    @property
    def order_violations(self) -> int:
        """Number of runs whose hitting times are not strictly increasing, :math:`t_1<t_2<\\dots`."""
        return int(np.count_nonzero(~np.all(np.diff(self.hits, axis=1) > 0, axis=1)))


def problem(P) -> Problem:
    """The chapter's sensing problem: rank-``r`` target and ``m`` Gaussian measurements.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (uses ``n1, n2, r, m, sigma, seed``).

    Returns
    -------
    Problem
    """
    return make_problem(P.n1, P.n2, P.r, P.m, sigma=P.sigma, seed=P.seed)


def describe(prob: Problem, *, k: int, eta: float) -> str:
    """Two lines on the problem: shape, rank, singular values, ``m``, ``k``, the step and the
    leading singular values of :math:`\\mathcal A^*(y)`.

    Parameters
    ----------
    prob : Problem
    k : int, keyword-only
        Width of the factors.
    eta : float, keyword-only
        Step size.

    Returns
    -------
    str
    """
    prob = check_problem(prob)
    n1, n2 = prob.target.shape
    r = prob.target.r
    return (f"X*: {n1} x {n2}, rank {r}, singular values {prob.target.sigma.tolist()}; m = {prob.operator.m}, "
            f"k = {k}, mu = {eta}\n"
            f"leading singular values of A*(y): {np.round(prob.spectral_sigma[:r + 2], 3).tolist()}")


def run(P, prob: Problem | None = None) -> Experiment:
    """Run the chapter's experiment with the parameters ``P`` (see :data:`PRESETS`).

    One batched run over ``alpha`` (all runs share the operator and the initialization
    seed ``P.seed``), recorded at every step, and its analysis.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure`.
    prob : Problem, optional
        The chapter's problem (:func:`problem`); built from ``P`` if omitted.

    Returns
    -------
    Experiment
    """
    prob = problem(P) if prob is None else check_problem(prob)
    alphas = np.array(sorted(P.alphas, reverse=True), dtype=float)
    eta = float(P.eta)
    t0 = time.perf_counter()
    res = run_gd(prob, k=P.k, alpha=alphas.tolist(), eta=eta, iters=P.iters, seed=P.seed, record_every=1)
    seconds = time.perf_counter() - t0
    r = prob.target.r
    s_spec = prob.spectral_sigma
    hits = hitting_times(res, prob.target.sigma)
    b = len(alphas) - 1
    t = res.t.astype(float)
    t_align = first_time(t, res.angle_spectral[b], ALIGN_LEVEL)
    t_half = first_time(t, res.rel_error[b], HALF_LEVEL)
    if np.isfinite(t_align):
        err_at_align = float(res.rel_error[b, int(t_align)])
        err_before_align = float(res.rel_error[b, :int(t_align) + 1].min())
    else:
        err_at_align = err_before_align = math.nan
    fits = escape_fits(alphas, hits)
    slopes = escape_slopes(prob, eta=eta)
    b_tol = 1.0 / math.log(alphas.max() / alphas.min())   # one step over the range of ln(1/alpha)
    b2_lo = float(min(slopes.spectral[1], slopes.truth[1]) - b_tol)
    b2_hi = float(max(slopes.spectral[1], slopes.truth[1]) + b_tol)
    t1, t2 = hits[b, 0], hits[b, 1]
    g1 = -_rate(t, res.singular_values[b, :, 0], t1 / 4, 3 * t1 / 4)
    g2 = -_rate(t, res.singular_values[b, :, 1], t1 + (t2 - t1) / 4, t2 - (t2 - t1) / 4)
    sigma_late = (math.exp(g2 / 2) - 1) / eta
    b1 = fits[0].slope
    b2_two_stage = (two_stage_slope(b1, eta=eta, sigma_early=float(s_spec[1]), sigma_late=sigma_late)
                    if np.isfinite(b1) and b1 > 0 and np.isfinite(sigma_late) and sigma_late > 0 else math.nan)
    ang_rate = _rate(t, res.angle_spectral[b], t_align / 2, t_align)
    ang_pred = float(np.log((1 + eta * s_spec[r - 1]) / (1 + eta * s_spec[r])))
    return Experiment(problem=prob, result=res, alphas=alphas, eta=eta, hits=hits, t_align=t_align,
                      t_half=t_half, err_at_align=err_at_align, err_before_align=err_before_align, fits=fits,
                      slopes=slopes, b_tol=b_tol, b2_lo=b2_lo, b2_hi=b2_hi, g1=g1,
                      g1_pred=float(2 * np.log1p(eta * s_spec[0])), sigma_late=sigma_late,
                      b2_two_stage=b2_two_stage, ang_rate=ang_rate, ang_pred=ang_pred, seconds=seconds)


def timing(exp: Experiment) -> str:
    """One line: runs, steps and the wall-clock time.

    Parameters
    ----------
    exp : Experiment

    Returns
    -------
    str
    """
    return (f"{exp.result.batch_size} runs x {int(exp.result.t[-1])} steps, recorded at every step, "
            f"in {exp.seconds:.1f} s")


def phases_summary(exp: Experiment) -> str:
    """One line on the phases at the smallest ``alpha``: alignment time, the test error there,
    :math:`t_{0.5}`, the hitting times and the final test error.

    Parameters
    ----------
    exp : Experiment

    Returns
    -------
    str
    """
    b = exp.index
    hits = [_int(x) for x in exp.hits[b]]
    return (f"alpha = {exp.alphas[b]:.0e}: t_align = {exp.t_align:.0f} (test error there {exp.err_at_align:.3f}), "
            f"t_0.5 = {exp.t_half:.0f}, t_i = {hits}, final test error {exp.result.rel_error[b, -1]:.1e}")


def escape_summary(exp: Experiment) -> str:
    """The table of hitting times per ``alpha``, then the fitted and predicted slopes.

    Parameters
    ----------
    exp : Experiment

    Returns
    -------
    str
    """
    r = exp.hits.shape[1]
    lines = [f"{'alpha':>7} " + " ".join(f"{'t_' + str(i + 1):>5}" for i in range(r))]
    for a, row in zip(exp.alphas, exp.hits):
        lines.append(f"{a:>7.0e} " + " ".join(f"{x:>5.0f}" for x in row))
    for i, f in enumerate(exp.fits):
        lines.append(f"i = {i + 1}: fitted slope {f.slope:.3f} (R^2 = {f.r2:.5f}); 1/ln(1+mu sigma_i(A*y)) = "
                     f"{exp.slopes.spectral[i]:.3f}, 1/ln(1+mu sigma_i) = {exp.slopes.truth[i]:.3f}")
    return "\n".join(lines)


def rates_summary(exp: Experiment) -> str:
    """Four lines: the phase-I growth, the late rate of direction 2, the two-stage slope and
    the decay rate of the alignment angle, each with its prediction.

    Parameters
    ----------
    exp : Experiment

    Returns
    -------
    str
    """
    s_spec = exp.problem.spectral_sigma
    s2 = float(exp.problem.target.sigma[1])
    return "\n".join([
        f"phase-I growth of sigma_1: {exp.g1:.4f} per step; 2 ln(1 + mu sigma_1(A*y)) = {exp.g1_pred:.4f}",
        f"late rate of direction 2: sigma'_2 = {exp.sigma_late:.3f} (sigma_2 = {s2:g}, "
        f"sigma_2(A*y) = {s_spec[1]:.3f})",
        f"two-stage slope b_2 = {exp.b2_two_stage:.3f}; fitted {exp.fits[1].slope:.3f}",
        f"decay rate of the alignment angle: {exp.ang_rate:.3f} per step (at least {exp.ang_pred:.3f} predicted)",
    ])


def glue_values(exp: Experiment) -> dict:
    """The numbers the chapter's prose quotes, by glue name (rounded as the prose shows them).

    Parameters
    ----------
    exp : Experiment

    Returns
    -------
    dict
    """
    f1, f2 = exp.fits[0], exp.fits[1]
    s_spec = exp.problem.spectral_sigma
    return {
        "a2_alpha_min": float(exp.alphas[-1]), "a2_alpha_max": float(exp.alphas[0]),
        "a2_t_align": _int(exp.t_align), "a2_t_half": _int(exp.t_half),
        "a2_err_at_align": round(exp.err_at_align, 3),
        "a2_ang_rate": round(exp.ang_rate, 3), "a2_ang_pred": round(exp.ang_pred, 3),
        "a2_g1": round(exp.g1, 4), "a2_g1_pred": round(exp.g1_pred, 4),
        "a2_r2_1": round(f1.r2, 5), "a2_r2_2": round(f2.r2, 5),
        "a2_b1": round(f1.slope, 3), "a2_b1_pred": round(float(exp.slopes.spectral[0]), 3),
        "a2_b1_relerr": round(float(100 * abs(f1.slope / exp.slopes.spectral[0] - 1)), 1),
        "a2_b2": round(f2.slope, 3), "a2_b2_lo": round(exp.b2_lo, 3), "a2_b2_hi": round(exp.b2_hi, 3),
        "a2_b_tol": round(exp.b_tol, 3), "a2_s2_spec": round(float(s_spec[1]), 3),
        "a2_s2": float(exp.problem.target.sigma[1]), "a2_sigma_late": round(exp.sigma_late, 3),
        "a2_b2_two_stage": round(exp.b2_two_stage, 3),
        "a2_b2_two_stage_relerr": round(100 * abs(_ratio(exp.b2_two_stage, f2.slope) - 1), 1),
        "a2_order_violations": exp.order_violations,
        "a2_gap_max_alpha": _int(exp.hits[0, 1] - exp.hits[0, 0]),
        "a2_gap_min_alpha": _int(exp.hits[-1, 1] - exp.hits[-1, 0]),
    }


def claims(exp: Experiment) -> list[Claim]:
    """The chapter's claims (see the page's "Claims" section for the basis of each bound).

    Parameters
    ----------
    exp : Experiment

    Returns
    -------
    list of Claim
    """
    f1, f2 = exp.fits[0], exp.fits[1]
    return [
        between("a2.alignment-first", f"at alpha = {exp.alphas[-1]:.0e}: smallest test error up to alignment "
                f"(angle to A*(y) < {ALIGN_LEVEL:g} at t = {exp.t_align:.0f}; test error < {HALF_LEVEL:g} "
                f"only at t = {exp.t_half:.0f})",
                exp.err_before_align, 0.9, math.inf, basis="specification",
                tolerance="error > 0.9 up to t_align"),
        close("a2.phase1-growth", "ln-growth per step of sigma_1(X_t) in phase I (smallest alpha)",
              exp.g1, exp.g1_pred, rtol=0.02, basis="derived-on-page", tolerance="2% (linearized law)"),
        between("a2.linear-fit", "smallest R^2 of t_1, t_2 against ln(1/alpha)", min(f1.r2, f2.r2), 0.999, 1.0,
                basis="derived-on-page", tolerance=">= 0.999 (integer times)"),
        close("a2.slope-1", "slope of t_1 against ln(1/alpha)", f1.slope, float(exp.slopes.spectral[0]),
              rtol=0.10, basis="derived-on-page", tolerance="10%: 1/ln(1+mu sigma_1(A*y))"),
        between("a2.slope-2", "slope of t_2 against ln(1/alpha)", f2.slope, exp.b2_lo, exp.b2_hi,
                basis="derived-on-page",
                tolerance="between the values for sigma_2(A*y) and sigma_2, ± one step over the alpha range"),
        close("a2.two-stage", "slope of t_2 from the two-stage formula with the measured late rate, "
              "divided by the fitted slope", _ratio(exp.b2_two_stage, f2.slope), 1.0, rtol=0.05,
              basis="derived-on-page", tolerance="5% of the fitted slope"),
        at_most("a2.incremental", f"t_1 < t_2 < ... for every alpha (runs violating, of {len(exp.alphas)})",
                float(exp.order_violations), 0.0, basis="derived-on-page", tolerance="exact"),
    ]


def evaluate(P) -> list[Claim]:
    """The chapter's whole computation, as its notebook runs it, and its claims.

    The notebook's calls, in its order: :func:`problem`, :func:`run` and :func:`claims`.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure`.

    Returns
    -------
    list of Claim
        The list that the notebook passes to :func:`opsense.evaluate_claims`.
    """
    prob = problem(P)
    exp = run(P, prob)
    return claims(exp)


# ---------------------------------------------------------------------------- figures
def plot_phases(exp: Experiment):
    """Figure of the three phases at the smallest ``alpha``.

    Left: test error and the sines of the alignment angles with the spectral estimate
    and with the truth. Right: the leading singular values of :math:`U_tV_t^\\top` with
    the levels :math:`\\sigma_i/2`. Vertical lines: the alignment time and the hitting
    times; the time axis ends at ``2 max_i t_i + 50`` (or at the last step).

    Parameters
    ----------
    exp : Experiment

    Returns
    -------
    fig, (ax_error, ax_sv)
    """
    if not isinstance(exp, Experiment):
        raise ValueError(f"exp must be an a2_phases Experiment, got {type(exp).__name__}")
    result, b = exp.result, exp.index
    sigma = exp.problem.target.sigma
    t = result.t
    t_hits = exp.hits[b][np.isfinite(exp.hits[b])]
    t_max = int(min(t[-1], 2 * t_hits.max() + 50)) if t_hits.size else int(t[-1])
    fig, (ax1, ax2) = figure(ncols=2, width=10.0, height=3.8)
    ax1.semilogy(t, result.rel_error[b], label="relative test error")
    ax1.semilogy(t, result.angle_spectral[b], label="sin angle to top-r of A*(y)")
    ax1.semilogy(t, result.angle_truth[b], label="sin angle to top-r of X*")
    nsv = min(result.singular_values.shape[2], sigma.size + 2)
    for i in range(nsv):
        ax2.semilogy(t, result.singular_values[b, :, i], color=f"C{i}", label=f"σ_{i + 1}(UVᵀ)")
        if i < sigma.size:
            ax2.axhline(sigma[i] / 2, color=f"C{i}", ls=":", lw=1)
    t_last = float(t_hits.max()) if t_hits.size else float(t[-1])
    for name, lo, hi in (("I", 0.0, exp.t_align), ("II", exp.t_align, t_last), ("III", t_last, float(t_max))):
        if np.isfinite(lo) and np.isfinite(hi) and hi > lo:
            ax1.text((lo + hi) / 2, 1.02, name, transform=ax1.get_xaxis_transform(), ha="center",
                     va="bottom", fontsize=9, color="0.3")
    for ax in (ax1, ax2):
        if np.isfinite(exp.t_align):
            ax.axvline(exp.t_align, color="0.3", ls="--", lw=1)
        for th in t_hits:
            ax.axvline(th, color="0.6", ls="-.", lw=1)
        ax.set_xlabel("iteration t")
        ax.set_xlim(0, t_max)
    ax1.set_ylabel("error / sine of angle")
    ax1.set_title(f"α = {result.alpha[b]:g}, k = {result.k[b]}: phases", pad=16)
    ax2.set_ylabel("singular value")
    ax2.set_title("incremental learning (dotted: σ_i/2)")
    ax1.legend(fontsize=7.5)
    ax2.legend(fontsize=7.5)
    return fig, (ax1, ax2)


def plot_escape(exp: Experiment, *, directions: int = 2):
    """Hitting times against :math:`\\ln(1/\\alpha)` with the fitted and predicted slopes.

    Parameters
    ----------
    exp : Experiment
    directions : int, keyword-only
        How many directions to draw (the first ones, at most ``r``).

    Returns
    -------
    fig, ax
    """
    if not isinstance(exp, Experiment):
        raise ValueError(f"exp must be an a2_phases Experiment, got {type(exp).__name__}")
    nd = v.integer("directions", directions, minimum=1, maximum=exp.hits.shape[1])
    x = np.log(1.0 / exp.alphas)
    slopes = exp.slopes
    fig, ax = figure(width=6.4, height=3.8)
    for i, f in enumerate(exp.fits[:nd]):
        times = exp.hits[:, i]
        ax.plot(x, times, "o", color=f"C{i}", label=f"t_{i + 1}: first σ_{i + 1}(UVᵀ) ≥ σ_{i + 1}/2")
        ax.plot(x, f.intercept + f.slope * x, "-", color=f"C{i}", lw=1, label=f"fit: slope {f.slope:.2f}")
        xm, ym = x.mean(), np.nanmean(times) if np.isfinite(times).any() else math.nan
        ax.plot(x, ym + slopes.spectral[i] * (x - xm), ":", color=f"C{i}", lw=1.2,
                label=f"1/ln(1+μσ_{i + 1}(A*y)) = {slopes.spectral[i]:.2f}")
        if i > 0:
            ax.plot(x, ym + slopes.truth[i] * (x - xm), "--", color=f"C{i}", lw=1,
                    label=f"1/ln(1+μσ_{i + 1}) = {slopes.truth[i]:.2f}")
    ax.set_xlabel("ln(1/α)")
    ax.set_ylabel("hitting time (iterations)")
    ax.set_title("escape times are linear in ln(1/α)")
    ax.legend(fontsize=7.5)
    return fig, ax
