"""Chapter ``a2_phases``: three phases and incremental learning (paper A), over independent instances.

While :math:`U_tV_t^\\top` is small, the lifted factor :math:`W_t=[U_t;V_t]` follows the
power iteration :math:`W_{t+1}\\approx(I+\\mu\\mathcal D(\\mathcal A^*y))W_t`, so
:math:`\\sigma_i(U_tV_t^\\top)` grows like :math:`\\alpha^2(1+\\mu\\tilde\\sigma_i)^{2t}` and
reaches :math:`\\sigma_i/2` after :math:`\\ln(1/\\alpha)/\\ln(1+\\mu\\tilde\\sigma_i)+O(1)`
steps (our derivation, proved on the page for the linearized iteration). Near the end the
error contracts linearly at the local rate :func:`local_rate` (the smallest non-zero curvature of
the loss at the balanced factorization of :math:`X^\\star`), down to a floor set by :math:`\\alpha`.

:func:`escape_slopes` gives the slopes, :func:`hitting_times` measures the times on recorded
runs, :func:`escape_fits` fits them against :math:`\\ln(1/\\alpha)`, :func:`two_stage_slope` is
our refinement for the second direction and :func:`slope_tolerance` the largest slope error
that integer hitting times can cause. :func:`run` is the chapter's main experiment (independent
instances x ``alphas`` in one batched run, continued until the error stops decreasing) and
:func:`run_sweeps` its sweeps over ``m`` and ``k``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..analysis import Fit, fit_line, fit_rate, hitting_time
from ..claims import Claim, at_least, at_most, between, close
from ..config import Cost, gd_cost, parameter_check, regime
from ..engine.gd import GDResult, run_gd
from ..engine.problems import Problem, check_problem, instance_seeds, make_problem
from ..plotting import figure
from ..stats import Interval, instance_interval

__all__ = ["PRESETS", "check", "cost", "EscapeSlopes", "escape_slopes", "local_rate", "slope_tolerance",
           "hitting_times", "escape_fits", "two_stage_slope", "first_time", "Runs", "run_to_plateau", "continue_runs",
           "Experiment", "Sweeps", "problems", "describe", "run", "run_sweeps", "timing", "phases_summary",
           "escape_summary", "rates_summary", "floor_summary", "sweeps_summary", "glue_values", "claims",
           "evaluate", "plot_phases", "plot_escape", "plot_floors"]

_ALPHAS = [10.0 ** -e for e in range(2, 11, 2)]   # 1e-2, 1e-4, ..., 1e-10

#: Parameter sets of the chapter: ``book`` (20 x 30, rank 3) and ``paper`` (50 x 50, rank 3).
#: ``m_sweep`` is the second number of measurements of the floor sweep, ``ks`` the other widths
#: of the phase-I sweep, ``iters`` the most steps of a run (the horizons come from the rates).
PRESETS = {
    "book": dict(n1=20, n2=30, r=3, sigma=[1.0, 0.8, 0.6], m=400, m_sweep=800, k=30, ks=[10, 60],
                 alphas=list(_ALPHAS), eta=0.25, instances=12, iters=1500, seed=0),
    "paper": dict(n1=50, n2=50, r=3, sigma=[1.0, 0.8, 0.6], m=1200, m_sweep=2400, k=50, ks=[10, 100],
                  alphas=list(_ALPHAS), eta=0.25, instances=12, iters=2000, seed=0),
}

#: Independent instances of the sweeps (the first ones of the main experiment: paired).
SWEEP_INSTANCES = 5
#: Instances whose floor alphas are continued to the plateau (the first ones of the main experiment).
FLOOR_INSTANCES = 8
#: Largest entries of the operators of one batch (one ``m x n1 n2`` matrix per instance, 8 bytes each).
MAX_ENTRIES = 400_000_000
#: Largest work, the ``work`` of :func:`cost`.
MAX_WORK = 2e12
#: Largest recorded singular values of the escape stage.
MAX_RECORDS = 50_000_000
#: Largest initialization scale: the linearization needs :math:`X_0` far below :math:`X^\star`.
MAX_ALPHA = 0.1
#: Largest ``eta * sigma_1`` (the proposition needs ``mu sigma_1(A*y) < 1``; gradient descent is stable).
MAX_ETA_SIGMA = 0.5
#: Levels that time the phases: the end of phase I (test error first below 0.9) and the test error 0.5.
END_LEVEL, HALF_LEVEL = 0.9, 0.5
#: Alignment level of the width sweep: sine of the angle to the top-r spaces of A*(y).
ALIGN_LEVEL = 0.2
#: Alphas at most this large time the floor (larger ones end in the slow, sublinear regime).
FLOOR_ALPHA_MAX = 1e-3
#: Plateau criterion: a run has reached its floor when a chunk of ``ln(10)/rate`` steps (one decade
#: at the predicted local rate) lowers its error by less than 10%.
PLATEAU_RATIO = 0.9
#: The k = r runs stop at this relative test error (exact recovery, no floor); the local rate is
#: fitted where their error lies in ``EXACT_WINDOW``.
EXACT_LEVEL, EXACT_WINDOW = 1e-11, (1e-10, 1e-6)
#: The phase-III rate at k > r is fitted where the error lies between 1e-2 and this multiple of the floor.
FLOOR_MARGIN = 30.0
#: Model tolerance of the local rate at k = r: the window starts four decades below the start of
#: phase III, where the faster modes (at least 10% faster, see the page) have decayed.
RATE_RTOL = 0.05
#: Paired ratio floor(k) / error(k = r) at the same alpha that shows the floor (at least two decades).
FLOOR_PAIR_MIN = 100.0
#: The floor exponent lies in (0, 2]: the floor falls with alpha, and not faster than the alpha^2 of
#: the start (the directions outside the signal are not contracted at first order).
GAMMA_BAND = (0.0, 2.0)


def _escape_horizon(alpha_min: float, eta: float, sigma_r: float) -> int:
    """Steps to learn the last direction at the smallest ``alpha``: 1.25 times the slowest
    escape time ``ln(1/alpha)/ln(1 + eta sigma_r)``, plus 20."""
    return int(math.ceil(1.25 * math.log(1.0 / alpha_min) / math.log1p(eta * sigma_r))) + 20


def _floor_alphas(alphas) -> list[float]:
    """The alphas (decreasing) that time the floor: those ``<= FLOOR_ALPHA_MAX``."""
    return [a for a in sorted(alphas, reverse=True) if a <= FLOOR_ALPHA_MAX]


def _sweep_alphas(alphas) -> list[float]:
    """The alphas of the m-sweep: the largest, middle and smallest floor alphas."""
    fl = _floor_alphas(alphas)
    return sorted({fl[0], fl[len(fl) // 2], fl[-1]}, reverse=True)


@parameter_check
def check(P) -> None:
    """Refuse infeasible parameters of the chapter, naming the parameter; warn outside the regime.

    The regime the chapter's claims cover (a run outside it goes ahead with one
    ``OutsideRegimeWarning``): ``n1, n2 >= 6 r``; ``2.5 <= m / (r (n1 + n2)) <= 4`` (below,
    the gap :math:`\\tilde\\sigma_r > \\tilde\\sigma_{r+1}` is not reliable; above,
    :math:`\\tilde\\sigma_1` is too close to :math:`\\sigma_1` for the escape slope to tell the two
    predictions apart) and ``m_sweep >= 1.5 m``; ``kappa = sigma_1 / sigma_r <= 2`` with
    consecutive ratios ``sigma_(i+1) / sigma_i <= 0.85``; ``k`` and every width of ``ks``
    ``>= 2 r``; ``alphas <= 0.01`` spanning at least 6 decades, with at least three of them
    ``<= 1e-3``; ``0.15 <= eta sigma_1 <= 0.3``; ``instances >= 12`` (the spread of
    :math:`\\tilde\\sigma_1` over instances is about half its offset from :math:`\\sigma_1`).

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (attributes ``n1, n2, r, sigma, m, m_sweep, k, ks, alphas,
        eta, instances, iters, seed``).

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
    m_sweep = v.integer("m_sweep", P.m_sweep, minimum=1)
    if m_sweep <= m:
        raise ValueError(f"parameter m_sweep must be > m = {m} (the floor is compared at more measurements), "
                         f"got {m_sweep}")
    k = v.integer("k", P.k, minimum=r + 1)
    ks = v.sweep("ks", P.ks, lambda n, x: v.integer(n, x, minimum=r + 1))
    if not ks or k in ks or len(set(ks)) != len(ks):
        raise ValueError(f"parameter ks must hold distinct widths > r = {r}, other than k = {k} "
                         f"(the phase-I sweep), got {ks}")
    alphas = v.sweep("alphas", P.alphas, lambda n, x: v.real(n, x, positive=True))
    if len(alphas) < 3 or len(set(alphas)) != len(alphas):
        raise ValueError(f"parameter alphas must hold at least three distinct values > 0 (a slope is fitted), "
                         f"got {alphas}")
    if max(alphas) > MAX_ALPHA:
        raise ValueError(f"parameter alphas must hold values <= {MAX_ALPHA:g} (the escape-time law is for a "
                         f"small initialization), got {max(alphas):g}")
    if len(_floor_alphas(alphas)) < 2:
        raise ValueError(f"parameter alphas must hold at least two values <= {FLOOR_ALPHA_MAX:g} (the floor's "
                         f"exponent is fitted on them), got {alphas}")
    eta = v.real("eta", P.eta, positive=True)
    if eta * max(sigma) > MAX_ETA_SIGMA:
        raise ValueError(f"parameter eta must be <= {MAX_ETA_SIGMA:g} / sigma_1 = {MAX_ETA_SIGMA / max(sigma):.4g} "
                         f"(mu sigma_1(A*y) < 1 and stable gradient descent), got {eta:g}")
    n_inst = v.integer("instances", P.instances, minimum=SWEEP_INSTANCES)
    iters = v.integer("iters", P.iters, minimum=1)
    need = _escape_horizon(min(alphas), eta, min(sigma))
    if iters < 2 * need:
        raise ValueError(f"parameter iters must be >= {2 * need} (twice the escape horizon: 1.25 times "
                         f"ln(1/alpha)/ln(1 + eta sigma_r) at the smallest alpha, plus 20 steps), got {iters}")
    B = n_inst * len(alphas)
    if n_inst * m * n1 * n2 > MAX_ENTRIES or SWEEP_INSTANCES * m_sweep * n1 * n2 > MAX_ENTRIES:
        raise ValueError(f"parameter instances must keep instances * m * n1 * n2 <= {MAX_ENTRIES:,} (the "
                         f"operators of one batch), got {n_inst} * {m} * {n1 * n2} (and 5 * m_sweep * n1 * n2)")
    if B * (need + 1) * min(n1, n2, k) > MAX_RECORDS:
        raise ValueError(f"parameter instances must keep runs * (escape horizon + 1) * min(n1, n2, k) <= "
                         f"{MAX_RECORDS:,} (recorded every step), got {B} * {need + 1} * {min(n1, n2, k)}")
    if cost(P).work > MAX_WORK:
        raise ValueError(f"parameter iters must keep the work of cost(P) <= {MAX_WORK:g}, got {cost(P).work:.3g}")
    v.integer("seed", P.seed, minimum=0)
    ratio = m / (r * (n1 + n2))
    span = math.log10(max(alphas) / min(alphas))
    cons = max(b / a for a, b in zip(sorted(sigma, reverse=True), sorted(sigma, reverse=True)[1:]))
    kappa = max(sigma) / min(sigma)
    regime("a2_phases", [
        (min(n1, n2) >= 6 * r, f"n1, n2 >= 6 r = {6 * r} (n1 = {n1}, n2 = {n2})"),
        (2.5 <= ratio <= 4.0, f"2.5 <= m / (r (n1 + n2)) <= 4 ({ratio:.3g})"),
        (m_sweep >= 1.5 * m, f"m_sweep >= 1.5 m = {1.5 * m:g} (m_sweep = {m_sweep})"),
        (kappa <= 2.0, f"kappa = sigma_1 / sigma_r <= 2 ({kappa:.3g})"),
        (cons <= 0.85, f"sigma_(i+1) / sigma_i <= 0.85 ({cons:.3g})"),
        (min([k] + ks) >= 2 * r, f"k and every width of ks >= 2 r = {2 * r} (k = {k}, ks = {ks})"),
        (max(alphas) <= 0.01 and span >= 6, f"alphas <= 0.01 spanning >= 6 decades (max {max(alphas):g}, "
                                            f"{span:.3g} decades)"),
        (len(_floor_alphas(alphas)) >= 3, f"at least three alphas <= {FLOOR_ALPHA_MAX:g} "
                                          f"({len(_floor_alphas(alphas))})"),
        (0.15 <= eta * max(sigma) <= 0.3, f"0.15 <= eta sigma_1 <= 0.3 ({eta * max(sigma):.3g})"),
        (n_inst >= 12, f"instances >= 12 ({n_inst})"),
    ])


def cost(P) -> Cost:
    """An upper bound on what :func:`run` and :func:`run_sweeps` cost, from the parameters alone.

    Every run of every batch is counted at the cap ``iters`` (the runs stop earlier, at their
    criterion), each step ``n1 n2 (2 m + 3 k)`` plus the recording, at most ``min(n1, n2) n1 n2``
    per run and step: the main batch (``instances * len(alphas)`` runs), the ``m_sweep`` batch
    (``5 * 3`` runs), the ``k = r`` batch (5 runs) and the width batch (``5 len(ks)`` runs).
    ``memory_bytes``: the operators of the largest batch (one ``m x n1 n2`` matrix per instance)
    and the curves.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (already checked by :func:`check`).

    Returns
    -------
    opsense.config.Cost
    """
    n1, n2, r, m, k, iters = int(P.n1), int(P.n2), int(P.r), int(P.m), int(P.k), int(P.iters)
    ms, S = int(P.m_sweep), SWEEP_INSTANCES
    B = int(P.instances) * len(P.alphas)
    s = min(n1, n2)
    work, mem_curves = 0.0, 0.0
    for runs, mm, kk in ((B, m, k), (S * 3, ms, k), (S, m, r), (S * len(P.ks), m, max(P.ks))):
        w, b = gd_cost(runs, iters, m=mm, n1=n1, n2=n2, k=kk, r=r, every=1)
        work += w + float(runs) * iters * s * n1 * n2
        mem_curves = max(mem_curves, b)
    mem = 8.0 * max(int(P.instances) * m, S * ms) * n1 * n2 + mem_curves
    return Cost(memory_bytes=mem, work=work, drivers=("iters", "instances", "alphas", "m", "m_sweep", "n1", "n2", "k"))


# ---------------------------------------------------------------------------- predictions
@dataclass(frozen=True)
class EscapeSlopes:
    """Predicted slopes of the hitting times against :math:`\\ln(1/\\alpha)`.

    Attributes
    ----------
    spectral : ndarray of shape (r,)
        :math:`1/\\ln(1+\\mu\\,\\sigma_i(\\mathcal A^*y))`, the linearized law with the
        spectral estimate's singular values.
    truth : ndarray of shape (r,)
        :math:`1/\\ln(1+\\mu\\,\\sigma_i)`, the same with the true singular values (the alternative).
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


def local_rate(problem: Problem, *, eta: float) -> tuple[float, float]:
    """Predicted local rate of phase III: ``-ln(1 - eta * lam)``, with ``lam`` the smallest non-zero
    curvature of the loss at the balanced factorization of the target.

    At :math:`U=U_\\star\\Sigma_\\star^{1/2}`, :math:`V=V_\\star\\Sigma_\\star^{1/2}` the loss is zero and its
    Hessian is :math:`L^\\top L` for the linear map :math:`L(dU,dV)=\\mathcal A(dU\\,V^\\top+U\\,dV^\\top)`;
    gradient descent multiplies each eigendirection by :math:`1-\\mu\\lambda`. ``lam`` is the smallest
    of its ``min(m, r (n1 + n2) - r^2)`` non-zero eigenvalues (the ``r^2`` others are the
    invariance :math:`U\\to UG`, :math:`V\\to VG^{-\\top}`). For the identity operator ``lam = sigma_r``.

    Parameters
    ----------
    problem : Problem
    eta : float > 0, keyword-only

    Returns
    -------
    (rate, lam) : (float, float)
        ``rate`` per step (positive) and ``lam``.
    """
    problem = check_problem(problem)
    eta = v.real("eta", eta, positive=True)
    tgt = problem.target
    n1, n2 = tgt.shape
    r = tgt.r
    half = np.sqrt(tgt.sigma)
    U, V = tgt.U * half, tgt.V * half
    mat = problem.operator.matrix
    if mat is None:
        lam = float(np.min(tgt.sigma))
    else:
        A = mat.reshape(-1, n1, n2)
        LU = np.einsum("mij,jb->mib", A, V).reshape(A.shape[0], -1)
        LV = np.einsum("mij,ib->mjb", A, U).reshape(A.shape[0], -1)
        s2 = np.linalg.svd(np.hstack([LU, LV]), compute_uv=False) ** 2
        keep = min(A.shape[0], r * (n1 + n2) - r * r)
        lam = float(np.sort(s2)[::-1][keep - 1])
    if not 0 < eta * lam < 1:
        return math.nan, lam
    return float(-math.log1p(-eta * lam)), lam


def slope_tolerance(alphas) -> float:
    """Largest error of a least-squares slope of integer hitting times against :math:`\\ln(1/\\alpha)`.

    A first recorded step exceeds the continuous crossing time by ``e`` in ``[0, 1)``; the slope
    of these errors is at most :math:`\\sum_{x_j>\\bar x}(x_j-\\bar x)/\\sum_j(x_j-\\bar x)^2` (all
    errors 1 above the mean ``x``, 0 below), in steps per unit of :math:`\\ln(1/\\alpha)`.

    Parameters
    ----------
    alphas : array_like of shape (A,), positive, at least two distinct

    Returns
    -------
    float
    """
    alphas = v.array("alphas", alphas, ndim=1)
    if np.any(alphas <= 0) or np.unique(alphas).size < 2:
        raise ValueError("alphas must hold at least two distinct positive values")
    x = np.log(1.0 / alphas)
    d = x - x.mean()
    return float(d[d > 0].sum() / np.sum(d * d))


def hitting_times(result, sigma, *, fraction: float = 0.5) -> np.ndarray:
    """First recorded ``t`` with :math:`\\sigma_i(X_t)\\ge` ``fraction`` :math:`\\cdot\\sigma_i`, per run and ``i``.

    Parameters
    ----------
    result : GDResult or Runs
        Recorded runs (use ``record_every=1``: the times are only as fine as the records).
    sigma : array_like of shape (r,), positive
        Reference singular values (the truth's).
    fraction : float in (0, 1], keyword-only

    Returns
    -------
    ndarray of shape (B, r)
        NaN where the level is never reached.
    """
    if not isinstance(result, (GDResult, Runs)):
        raise ValueError(f"result must be a GDResult or Runs, got {type(result).__name__}")
    sigma = v.array("sigma", sigma, ndim=1)
    if sigma.size == 0 or np.any(sigma <= 0):
        raise ValueError("sigma must hold at least one positive value")
    if sigma.size > result.singular_values.shape[2]:
        raise ValueError(f"sigma has {sigma.size} values but the runs record only "
                         f"{result.singular_values.shape[2]} singular values")
    fraction = v.real("fraction", fraction, positive=True)
    if fraction > 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    B = result.singular_values.shape[0]
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


def _level_rate(t, curve, hi: float, lo: float) -> float:
    """Decay rate of ``curve`` fitted where it lies in ``[lo, hi]`` after first falling below ``hi``."""
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo < hi):
        return math.nan
    start = first_time(t, curve, hi)
    if not np.isfinite(start):
        return math.nan
    sel = (t >= start) & (curve >= lo) & (curve <= hi) & np.isfinite(curve)
    if np.count_nonzero(sel) < 3:
        return math.nan
    return float(fit_rate(t[sel], curve[sel]).estimate)


def _ratio(a, b):
    """``a / b`` elementwise as floats, NaN where ``b`` is 0 or either is NaN."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(b != 0, a / np.where(b != 0, b, 1.0), np.nan)
    return float(out) if out.ndim == 0 else out


def _int(x: float) -> int:
    """``int(x)``, or -1 for NaN (a time never reached)."""
    return int(x) if np.isfinite(x) else -1


def _iv(values, *, log: bool = False, drop: bool = False):
    """:func:`opsense.instance_interval` of the values: a NaN interval if one is not finite (or not
    positive when ``log``), so that a claim on it fails instead of raising; with ``drop`` (for
    quantities only shown) such values are left out."""
    x = np.asarray(values, dtype=float).ravel()
    ok = np.isfinite(x) & ((x > 0) if log else True)
    if drop:
        x, ok = x[ok], ok[ok]
    if np.count_nonzero(ok) < 2 or (not ok.all()):
        nan = math.nan
        return Interval(nan, nan, nan, int(np.count_nonzero(ok)), tuple(float(y) for y in x), 0.95, log)
    return instance_interval(x, log=log)


# ---------------------------------------------------------------------------- runs to a criterion
@dataclass(frozen=True)
class Runs:
    """Recorded curves of a batch run to a stopping criterion: every step of the escape stage,
    then every ``every`` steps.

    Attributes
    ----------
    t : ndarray of shape (T,)
        Recorded iterations.
    rel_error : ndarray of shape (B, T)
        :math:`\\|X_t-X^\\star\\|_F/\\|X^\\star\\|_F`.
    singular_values : ndarray of shape (B, T, s)
        Leading singular values of :math:`X_t`.
    angle_spectral, angle_truth : ndarray of shape (B, T)
        Sines of the angles to the top-``r`` spaces of :math:`\\mathcal A^*(y)` and of :math:`X^\\star`.
    stopped : ndarray of bool, shape (B,)
        Whether the run met the criterion (plateau or level) before the step cap.
    steps : int
        Steps run.
    U, V : ndarray of shape (B, n1, K), (B, n2, K)
        Final factors.
    """

    t: np.ndarray
    rel_error: np.ndarray
    singular_values: np.ndarray
    angle_spectral: np.ndarray
    angle_truth: np.ndarray
    stopped: np.ndarray
    steps: int
    U: np.ndarray
    V: np.ndarray


def run_to_plateau(problems, *, k, alphas, seeds, eta: float, escape: int, chunk: int, cap: int,
                   every: int = 1, level: float | None = None) -> Runs:
    """One batched run: ``escape`` steps recorded at every step, then chunks of ``chunk`` steps
    (recorded every ``every``) until every run has reached its floor, or its error is below
    ``level`` if given, or ``cap`` steps are done (:func:`continue_runs`).

    ``chunk = 0`` runs the escape stage only.

    Parameters
    ----------
    problems : sequence of Problem
        One per run (repeat a problem for several runs on it).
    k, alphas, seeds : int or sequence, keyword-only
        Width, initialization scale and initialization seed of each run.
    eta : float, keyword-only
    escape, chunk, cap, every : int, keyword-only
    level : float, keyword-only, optional

    Returns
    -------
    Runs
    """
    escape = v.integer("escape", escape, minimum=1)
    chunk = v.integer("chunk", chunk, minimum=0)
    cap = v.integer("cap", cap, minimum=escape)
    res = run_gd(list(problems), k=k, alpha=alphas, eta=eta, iters=escape, seed=seeds, record_every=1)
    runs = Runs(t=res.t.astype(float), rel_error=res.rel_error, singular_values=res.singular_values,
                angle_spectral=res.angle_spectral, angle_truth=res.angle_truth,
                stopped=np.ones(res.rel_error.shape[0], dtype=bool), steps=escape, U=res.U, V=res.V)
    if not chunk:
        return runs
    return continue_runs(runs, list(problems), range(len(problems)), eta=eta, chunk=chunk, cap=cap, every=every,
                         level=level)


def continue_runs(runs: Runs, problems, index, *, eta: float, chunk: int, cap: int, every: int = 1,
                  level: float | None = None) -> Runs:
    """Continue the runs ``index`` of ``runs`` from their final factors, in chunks of ``chunk`` steps
    recorded every ``every``, until each has reached its floor (the last chunk lowered its relative
    test error by less than ``1 - PLATEAU_RATIO``), or is below ``level`` if given, or ``cap``
    steps are done in all.

    Parameters
    ----------
    runs : Runs
    problems : sequence of Problem
        The problem of each run of ``runs``.
    index : sequence of int
        The runs to continue.
    eta : float, keyword-only
    chunk, cap, every : int, keyword-only
    level : float, keyword-only, optional

    Returns
    -------
    Runs
        The continued runs only (their earlier curves included), in the order of ``index``.
    """
    idx = [int(i) for i in index]
    chunk = v.integer("chunk", chunk, minimum=1)
    every = v.integer("every", every, minimum=1)
    probs = [problems[i] for i in idx]
    s = runs.singular_values.shape[2]
    parts = [(runs.t, runs.rel_error[idx], runs.singular_values[idx], runs.angle_spectral[idx],
              runs.angle_truth[idx])]
    U, V = runs.U[idx], runs.V[idx]
    steps = runs.steps
    stopped = np.zeros(len(idx), dtype=bool)
    while steps < cap:
        n = min(chunk, cap - steps)
        part = run_gd(probs, init=(U, V), eta=eta, iters=n, record_every=min(every, n))
        e0, e1 = part.rel_error[:, 0], part.rel_error[:, -1]
        parts.append((part.t[1:] + steps, part.rel_error[:, 1:], part.singular_values[:, 1:, :s],
                      part.angle_spectral[:, 1:], part.angle_truth[:, 1:]))
        steps += n
        U, V = part.U, part.V
        stopped = (e1 <= level) if level is not None else ((e1 >= PLATEAU_RATIO * e0) & (n == chunk))
        if stopped.all():
            break
    cat = [np.concatenate(x, axis=1 if i else 0) for i, x in enumerate(zip(*parts))]
    return Runs(t=cat[0].astype(float), rel_error=cat[1], singular_values=cat[2], angle_spectral=cat[3],
                angle_truth=cat[4], stopped=stopped, steps=steps, U=U, V=V)


# ---------------------------------------------------------------------------- the experiment
@dataclass(frozen=True)
class Experiment:
    """The chapter's main experiment over independent instances: phases, escape times, rates, floors.

    Arrays have one row per instance ``j`` (target, operator and initialization re-drawn) and,
    where they have one, a column per ``alpha`` (decreasing).

    Attributes
    ----------
    problems : list of Problem
    seeds : list of int
    runs : Runs
        The escape stage (every step) of ``instances * len(alphas)`` runs, instance-major (run ``j * A + a``).
    floor_runs : Runs
        The runs of the first ``FLOOR_INSTANCES`` instances at the floor alphas, continued to
        the plateau (run ``j * Af + a``).
    floor_alphas : ndarray of shape (Af,)
        The alphas ``<= FLOOR_ALPHA_MAX``.
    alphas : ndarray of shape (A,)
    eta : float
    k : int
    hits : ndarray of shape (I, A, r)
        Hitting times :math:`t_i` of :math:`\\sigma_i/2`.
    slopes, r2 : ndarray of shape (I, r)
        Fitted slopes of :math:`t_i` against :math:`\\ln(1/\\alpha)` and their :math:`R^2`.
    pred, alt : ndarray of shape (I, r)
        :math:`1/\\ln(1+\\mu\\tilde\\sigma_i)` (the prediction) and :math:`1/\\ln(1+\\mu\\sigma_i)`
        (the alternative).
    tol : float
        :func:`slope_tolerance` of the alphas, in steps per unit of :math:`\\ln(1/\\alpha)`.
    b2_lo, b2_hi : ndarray of shape (I,)
        The bracket for the second slope, widened by ``tol``.
    g1, g1_pred : ndarray of shape (I,)
        ln-growth per step of :math:`\\sigma_1(X_t)` on :math:`[t_1/4,3t_1/4]` at the smallest
        ``alpha``, and :math:`2\\ln(1+\\mu\\tilde\\sigma_1)`.
    sigma_late, b2_two_stage : ndarray of shape (I,)
        Late rate of direction 2 and :func:`two_stage_slope` with it.
    t_end, t_half : ndarray of shape (I,)
        At the smallest ``alpha``: end of phase I (test error first below 0.9) and first step
        with test error below 0.5.
    ang_spec_end, ang_truth_end : ndarray of shape (I,)
        Sines of the angles to :math:`\\mathcal A^*(y)` and to :math:`X^\\star` at ``t_end``.
    floors : ndarray of shape (F, Af)
        Relative test error at the end of ``floor_runs`` (the floor: the plateau criterion of
        :func:`continue_runs`).
    gamma : ndarray of shape (F,)
        Slope of :math:`\\ln(\\text{floor})` against :math:`\\ln\\alpha` over the floor alphas.
    rate3 : ndarray of shape (F,)
        Phase-III rate fitted at the smallest ``alpha`` (error between 1e-2 and 30 times the floor).
    rho, lam : ndarray of shape (I,)
        The predicted local rate and curvature (:func:`local_rate`).
    seconds : float
    """

    problems: list
    seeds: list
    runs: Runs
    floor_runs: Runs
    floor_alphas: np.ndarray
    alphas: np.ndarray
    eta: float
    k: int
    hits: np.ndarray
    slopes: np.ndarray
    r2: np.ndarray
    pred: np.ndarray
    alt: np.ndarray
    tol: float
    b2_lo: np.ndarray
    b2_hi: np.ndarray
    g1: np.ndarray
    g1_pred: np.ndarray
    sigma_late: np.ndarray
    b2_two_stage: np.ndarray
    t_end: np.ndarray
    t_half: np.ndarray
    ang_spec_end: np.ndarray
    ang_truth_end: np.ndarray
    floors: np.ndarray
    gamma: np.ndarray
    rate3: np.ndarray
    rho: np.ndarray
    lam: np.ndarray
    seconds: float

    @property
    def n(self) -> int:
        """Number of instances."""
        return len(self.problems)

    @property
    def order_violations(self) -> int:
        """Instances whose hitting times at the smallest ``alpha`` are not strictly increasing,
        :math:`t_1<t_2<\\dots`."""
        return int(np.count_nonzero(~np.all(np.diff(self.hits[:, -1], axis=1) > 0, axis=1)))

    @property
    def gap_slopes(self) -> np.ndarray:
        """Per instance, the smallest fitted slope of a gap :math:`t_{i+1}-t_i` against :math:`\\ln(1/\\alpha)`,
        :math:`\\min_i(b_{i+1}-b_i)`."""
        return np.min(np.diff(self.slopes, axis=1), axis=1)

    def curve(self, name: str, j: int = 0, a: int = -1, *, floor: bool = False) -> np.ndarray:
        """The recorded curve ``name`` (a :class:`Runs` attribute) of instance ``j`` at alpha index ``a``
        (of ``alphas``, or of ``floor_alphas`` from ``floor_runs`` when ``floor``)."""
        if floor:
            A = len(self.floor_alphas)
            return getattr(self.floor_runs, name)[j * A + (a % A)]
        A = len(self.alphas)
        return getattr(self.runs, name)[j * A + (a % A)]


def problems(P) -> list[Problem]:
    """The chapter's independent instances: ``P.instances`` rank-``r`` targets, each with its own
    ``m`` Gaussian measurements (seeds :func:`opsense.instance_seeds`).

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (uses ``n1, n2, r, m, sigma, instances, seed``).

    Returns
    -------
    list of Problem
    """
    return [make_problem(P.n1, P.n2, P.r, P.m, sigma=P.sigma, seed=s) for s in instance_seeds(P.seed, P.instances)]


def describe(probs, *, k: int, eta: float) -> str:
    """Lines on the instances: shape, rank, singular values, ``m``, ``k``, the step, and per instance the
    leading singular values of :math:`\\mathcal A^*(y)`.

    Parameters
    ----------
    probs : Problem or list of Problem
    k : int, keyword-only
        Width of the factors.
    eta : float, keyword-only
        Step size.

    Returns
    -------
    str
    """
    probs = [probs] if isinstance(probs, Problem) else list(probs)
    prob = check_problem(probs[0])
    n1, n2 = prob.target.shape
    r = prob.target.r
    lines = [f"X*: {n1} x {n2}, rank {r}, singular values {prob.target.sigma.tolist()}; m = {prob.operator.m}, "
             f"k = {k}, mu = {eta}; {len(probs)} independent instances"]
    for j, p in enumerate(probs):
        lines.append(f"instance {j}: leading singular values of A*(y) {np.round(p.spectral_sigma[:r + 1], 3).tolist()}")
    return "\n".join(lines)


def _chunk(rho) -> int:
    """Steps of one decade at the slowest predicted local rate."""
    rho = np.asarray(rho, dtype=float)
    rmin = float(np.nanmin(rho)) if np.isfinite(rho).any() else math.nan
    return int(math.ceil(math.log(10.0) / rmin)) if np.isfinite(rmin) and rmin > 0 else 50


def run(P, probs: list | None = None) -> Experiment:
    """Run the chapter's main experiment with the parameters ``P`` (see :data:`PRESETS`).

    One batched run over instances x ``alphas`` (each instance its own target, operator and
    initialization seed), recorded at every step up to the escape horizon, then continued in
    chunks of one decade at the predicted local rate until every run has reached its floor.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure`.
    probs : list of Problem, optional
        The instances (:func:`problems`); built from ``P`` if omitted.

    Returns
    -------
    Experiment
    """
    probs = problems(P) if probs is None else [check_problem(p) for p in probs]
    seeds = instance_seeds(P.seed, len(probs))
    alphas = np.array(sorted(P.alphas, reverse=True), dtype=float)
    eta, k = float(P.eta), int(P.k)
    I, A, r = len(probs), len(alphas), probs[0].target.r
    rl = [local_rate(p, eta=eta) for p in probs]
    rho, lam = np.array([x[0] for x in rl]), np.array([x[1] for x in rl])
    t0 = time.perf_counter()
    esc = _escape_horizon(alphas.min(), eta, min(P.sigma))
    all_probs = [p for p in probs for _ in alphas]
    runs = run_to_plateau(all_probs, k=k, alphas=[a for _ in probs for a in alphas],
                          seeds=[s for s in seeds for _ in alphas], eta=eta, escape=esc, chunk=0, cap=esc)
    fa = np.array(_floor_alphas(alphas))
    F = min(FLOOR_INSTANCES, I)
    keep = [j * A + int(np.flatnonzero(alphas == a)[0]) for j in range(F) for a in fa]
    ch = _chunk(rho[:F])
    floor_runs = continue_runs(runs, all_probs, keep, eta=eta, chunk=ch, cap=int(P.iters), every=max(1, ch // 10))
    seconds = time.perf_counter() - t0
    t = runs.t
    sig = probs[0].target.sigma
    hits = hitting_times(runs, sig).reshape(I, A, r)
    slopes, r2 = np.full((I, r), np.nan), np.full((I, r), np.nan)
    for j in range(I):
        for i, f in enumerate(escape_fits(alphas, hits[j])):
            slopes[j, i], r2[j, i] = f.slope, f.r2
    pred = np.array([escape_slopes(p, eta=eta).spectral for p in probs])
    alt = np.array([escape_slopes(p, eta=eta).truth for p in probs])
    tol = slope_tolerance(alphas)
    b2_lo = np.minimum(pred[:, 1], alt[:, 1]) - tol
    b2_hi = np.maximum(pred[:, 1], alt[:, 1]) + tol
    g1, g1_pred, sl, b2ts = (np.full(I, np.nan) for _ in range(4))
    t_end, t_half, a_s, a_t = (np.full(I, np.nan) for _ in range(4))
    floors = floor_runs.rel_error[:, -1].reshape(F, fa.size)
    rate3 = np.array([_level_rate(floor_runs.t, floor_runs.rel_error[j * fa.size + fa.size - 1], 1e-2,
                                  FLOOR_MARGIN * floors[j, -1]) for j in range(F)])
    for j, p in enumerate(probs):
        sv = runs.singular_values[j * A + A - 1]
        t1, t2 = hits[j, -1, 0], hits[j, -1, 1]
        g1[j] = -_rate(t, sv[:, 0], t1 / 4, 3 * t1 / 4)
        g1_pred[j] = 2 * np.log1p(eta * p.spectral_sigma[0])
        g2 = -_rate(t, sv[:, 1], t1 + (t2 - t1) / 4, t2 - (t2 - t1) / 4)
        sl[j] = (math.exp(g2 / 2) - 1) / eta if np.isfinite(g2) else math.nan
        if np.isfinite(slopes[j, 0]) and slopes[j, 0] > 0 and np.isfinite(sl[j]) and sl[j] > 0:
            b2ts[j] = two_stage_slope(slopes[j, 0], eta=eta, sigma_early=float(p.spectral_sigma[1]), sigma_late=sl[j])
        err = runs.rel_error[j * A + A - 1]
        t_end[j] = first_time(t, err, END_LEVEL)
        t_half[j] = first_time(t, err, HALF_LEVEL)
        if np.isfinite(t_end[j]):
            idx = int(np.searchsorted(t, t_end[j]))
            a_s[j] = runs.angle_spectral[j * A + A - 1, idx]
            a_t[j] = runs.angle_truth[j * A + A - 1, idx]
    gamma = np.array([fit_line(np.log(fa), np.log(floors[j])).slope if np.all(floors[j] > 0) else math.nan
                      for j in range(F)])
    return Experiment(problems=probs, seeds=seeds, runs=runs, floor_runs=floor_runs, floor_alphas=fa, alphas=alphas, eta=eta, k=k, hits=hits, slopes=slopes,
                      r2=r2, pred=pred, alt=alt, tol=tol, b2_lo=b2_lo, b2_hi=b2_hi, g1=g1, g1_pred=g1_pred,
                      sigma_late=sl, b2_two_stage=b2ts, t_end=t_end, t_half=t_half, ang_spec_end=a_s,
                      ang_truth_end=a_t, floors=floors, gamma=gamma, rate3=rate3, rho=rho, lam=lam,
                      seconds=seconds)


# ---------------------------------------------------------------------------- the sweeps
@dataclass(frozen=True)
class Sweeps:
    """The sweeps over ``m`` (the floor), ``k = r`` (no floor; the local rate) and ``ks`` (phase I), on the
    first ``SWEEP_INSTANCES`` instances of the main experiment (same targets and initialization seeds).

    Attributes
    ----------
    m, m_sweep : int
    alphas_m : ndarray of shape (Am,)
        Alphas of the m-sweep.
    floors_m : ndarray of shape (S, Am)
        Floors at ``m_sweep``.
    gamma_base, gamma_m : ndarray of shape (S,)
        Floor exponents on ``alphas_m`` at ``m`` (from the main experiment) and at ``m_sweep``.
    rho_m : ndarray of shape (S,)
        Predicted local rates at ``m_sweep``.
    alpha_exact : float
        Alpha of the ``k = r`` runs.
    runs_exact : Runs
        The ``k = r`` runs, stopped at ``EXACT_LEVEL``.
    err_exact, floor_pair : ndarray of shape (S,)
        Their final errors, and the main experiment's floor at the same alpha (width ``k``).
    rate_exact : ndarray of shape (S,)
        Their rate fitted where the error lies in ``EXACT_WINDOW``.
    rho : ndarray of shape (S,)
        The predicted local rates (:func:`local_rate`) of these instances.
    ks : list of int
        The widths of the phase-I sweep, increasing (the main ``k`` included).
    t_align : ndarray of shape (S, len(ks))
        First step with the sine of the angle to the top-``r`` spaces of :math:`\\mathcal A^*(y)`
        below ``ALIGN_LEVEL``, per width (smallest alpha).
    seconds : float
    """

    m: int
    m_sweep: int
    alphas_m: np.ndarray
    floors_m: np.ndarray
    gamma_base: np.ndarray
    gamma_m: np.ndarray
    rho_m: np.ndarray
    alpha_exact: float
    runs_exact: Runs
    err_exact: np.ndarray
    floor_pair: np.ndarray
    rate_exact: np.ndarray
    rho: np.ndarray
    ks: list
    t_align: np.ndarray
    seconds: float


def run_sweeps(P, exp: Experiment) -> Sweeps:
    """Run the chapter's sweeps on the first ``SWEEP_INSTANCES`` instances of ``exp``.

    * ``m_sweep`` measurements (same targets and initialization seeds, an operator with more
      rows), at the largest, middle and smallest floor alphas, run to the plateau: the floor exponent.
    * ``k = r`` at the largest floor alpha, run until the error is below ``EXACT_LEVEL``
      (horizon from the predicted local rate): no floor, and the local rate itself.
    * the widths ``ks`` at the smallest alpha, for the escape horizon: the alignment time.

    Parameters
    ----------
    P : Parameters
    exp : Experiment
        From :func:`run` with the same ``P``.

    Returns
    -------
    Sweeps
    """
    if not isinstance(exp, Experiment):
        raise ValueError(f"exp must be an a2_phases Experiment, got {type(exp).__name__}")
    S = min(SWEEP_INSTANCES, exp.n)
    seeds, probs, eta, r = exp.seeds[:S], exp.problems[:S], exp.eta, exp.problems[0].target.r
    t0 = time.perf_counter()
    # m-sweep
    am = np.array(_sweep_alphas(exp.alphas))
    pm = [make_problem(P.n1, P.n2, P.r, P.m_sweep, sigma=P.sigma, seed=s) for s in seeds]
    rho_m = np.array([local_rate(p, eta=eta)[0] for p in pm])
    ch_m = _chunk(rho_m)
    rm = run_to_plateau([p for p in pm for _ in am], k=exp.k, alphas=[a for _ in pm for a in am],
                        seeds=[s for s in seeds for _ in am], eta=eta,
                        escape=_escape_horizon(am.min(), eta, min(P.sigma)), chunk=ch_m, cap=int(P.iters),
                        every=max(1, ch_m // 5))
    floors_m = rm.rel_error[:, -1].reshape(S, am.size)
    idx = [int(np.flatnonzero(exp.floor_alphas == a)[0]) for a in am]

    def gam(fl):
        return fit_line(np.log(am), np.log(fl)).slope if np.all(fl > 0) else math.nan

    gamma_m = np.array([gam(floors_m[j]) for j in range(S)])
    gamma_base = np.array([gam(exp.floors[j, idx]) for j in range(S)])
    # k = r: exact recovery at the largest floor alpha
    a_ex = float(_floor_alphas(exp.alphas)[0])
    rho = exp.rho[:S]
    horizon = _escape_horizon(a_ex, eta, min(P.sigma)) + int(math.ceil(
        1.5 * math.log(1.0 / EXACT_LEVEL) / float(np.nanmin(rho)))) if np.isfinite(rho).any() else int(P.iters)
    esc = _escape_horizon(a_ex, eta, min(P.sigma))
    rx = run_to_plateau(probs, k=r, alphas=a_ex, seeds=seeds, eta=eta, escape=esc, chunk=_chunk(rho),
                        cap=max(esc, min(int(P.iters), horizon)), every=5, level=EXACT_LEVEL)
    err_exact = rx.rel_error[:, -1]
    floor_pair = exp.floors[:S, 0]
    rate_exact = np.array([_level_rate(rx.t, rx.rel_error[j], EXACT_WINDOW[1], EXACT_WINDOW[0]) for j in range(S)])
    # widths: phase I at the smallest alpha, until the alignment level (at most the escape horizon)
    ks = sorted([int(x) for x in P.ks])
    T = _escape_horizon(float(exp.alphas.min()), eta, min(P.sigma))
    rk = run_to_plateau([p for p in probs for _ in ks], k=[kk for _ in probs for kk in ks],
                        alphas=float(exp.alphas.min()), seeds=[s for s in seeds for _ in ks], eta=eta,
                        escape=T, chunk=0, cap=T)
    all_ks = sorted(ks + [exp.k])
    t_align = np.full((S, len(all_ks)), np.nan)
    for j in range(S):
        for c, kk in enumerate(all_ks):
            ang = exp.curve("angle_spectral", j) if kk == exp.k else rk.angle_spectral[j * len(ks) + ks.index(kk)]
            tt = exp.runs.t if kk == exp.k else rk.t
            t_align[j, c] = first_time(tt, ang, ALIGN_LEVEL)
    return Sweeps(m=int(P.m), m_sweep=int(P.m_sweep), alphas_m=am, floors_m=floors_m, gamma_base=gamma_base,
                  gamma_m=gamma_m, rho_m=rho_m, alpha_exact=a_ex, runs_exact=rx, err_exact=err_exact,
                  floor_pair=floor_pair, rate_exact=rate_exact, rho=rho, ks=all_ks, t_align=t_align,
                  seconds=time.perf_counter() - t0)


# ---------------------------------------------------------------------------- text
def timing(exp: Experiment, sw: Sweeps | None = None) -> str:
    """One line: runs, steps and the wall-clock time.

    Parameters
    ----------
    exp : Experiment
    sw : Sweeps, optional

    Returns
    -------
    str
    """
    out = (f"{exp.runs.rel_error.shape[0]} runs ({exp.n} instances x {len(exp.alphas)} alphas) x "
           f"{exp.runs.steps} steps in {exp.seconds:.1f} s")
    if sw is not None:
        out += f"; sweeps in {sw.seconds:.1f} s"
    return out


def phases_summary(exp: Experiment) -> str:
    """Lines on the phases at the smallest ``alpha``, per instance: end of phase I, the angles there,
    :math:`t_{0.5}`, the hitting times and the floor.

    Parameters
    ----------
    exp : Experiment

    Returns
    -------
    str
    """
    lines = [f"alpha = {exp.alphas[-1]:.0e}:"]
    for j in range(exp.n):
        hits = [_int(x) for x in exp.hits[j, -1]]
        lines.append(f"instance {j}: end of phase I t = {exp.t_end[j]:.0f} (sin angle to A*(y) "
                     f"{exp.ang_spec_end[j]:.3f}, to X* {exp.ang_truth_end[j]:.3f}), t_0.5 = {exp.t_half[j]:.0f}, "
                     f"t_i = {hits}" + (f", floor {exp.floors[j, -1]:.1e}" if j < exp.floors.shape[0] else ""))
    return "\n".join(lines)


def _slope_ratios(exp: Experiment):
    """Per-instance ratios fitted / predicted and fitted / alternative of the first slope."""
    return _ratio(exp.slopes[:, 0], exp.pred[:, 0]), _ratio(exp.slopes[:, 0], exp.alt[:, 0])


def escape_summary(exp: Experiment) -> str:
    """Hitting times of instance 0, then per instance the fitted first slope, its prediction and the
    alternative, and the intervals of the ratios.

    Parameters
    ----------
    exp : Experiment

    Returns
    -------
    str
    """
    r = exp.hits.shape[2]
    lines = [f"instance 0: {'alpha':>7} " + " ".join(f"{'t_' + str(i + 1):>5}" for i in range(r))]
    for a, row in zip(exp.alphas, exp.hits[0]):
        lines.append(f"{'':12}{a:>7.0e} " + " ".join(f"{x:>5.0f}" for x in row))
    rp, ra = _slope_ratios(exp)
    for j in range(exp.n):
        lines.append(f"instance {j}: b_1 = {exp.slopes[j, 0]:.3f}, 1/ln(1+mu sigma_1(A*y)) = {exp.pred[j, 0]:.3f}, "
                     f"1/ln(1+mu sigma_1) = {exp.alt[j, 0]:.3f}; ratios {rp[j]:.4f}, {ra[j]:.4f}")
    lines.append(f"fitted / predicted: {_iv(rp, log=True)}; tolerance ± {100 * _rel_tol(exp):.2f}%")
    lines.append(f"fitted / alternative: {_iv(ra, log=True)}")
    return "\n".join(lines)


def _rel_tol(exp: Experiment) -> float:
    """The slope tolerance relative to the smallest predicted first slope."""
    return float(exp.tol / np.nanmin(exp.pred[:, 0]))


def rates_summary(exp: Experiment) -> str:
    """Lines: the phase-I growth, the late rate of direction 2, the two-stage slope (intervals over instances).

    Parameters
    ----------
    exp : Experiment

    Returns
    -------
    str
    """
    return "\n".join([
        f"phase-I growth of sigma_1 / 2 ln(1 + mu sigma_1(A*y)): {_iv(_ratio(exp.g1, exp.g1_pred), log=True)}",
        f"late rate of direction 2, sigma'_2: {_iv(exp.sigma_late)} (sigma_2 = {exp.problems[0].target.sigma[1]:g})",
        f"two-stage slope / fitted b_2: {_iv(_ratio(exp.b2_two_stage, exp.slopes[:, 1]), log=True)}",
        f"b_2 position in its bracket (0 = low end, 1 = high end): "
        f"{_iv(_ratio(exp.slopes[:, 1] - exp.b2_lo, exp.b2_hi - exp.b2_lo))}",
    ])


def floor_summary(exp: Experiment) -> str:
    """Floors per alpha (geometric mean over instances), the floor exponent and the phase-III rate.

    Parameters
    ----------
    exp : Experiment

    Returns
    -------
    str
    """
    gm = np.exp(np.nanmean(np.log(exp.floors), axis=0))
    lines = [f"floor (geometric mean over {exp.floors.shape[0]} instances): " +
             ", ".join(f"{a:.0e}: {f:.1e}" for a, f in zip(exp.floor_alphas, gm)),
             f"floor exponent (alpha <= {FLOOR_ALPHA_MAX:g}): {_iv(exp.gamma)}",
             f"predicted local rate -ln(1 - mu lam): {_iv(exp.rho)}; fitted phase-III rate / predicted at "
             f"k = {exp.k}: {_iv(_ratio(exp.rate3, exp.rho[:exp.rate3.size]), log=True, drop=True)}",
             f"runs that reached their plateau: {int(exp.floor_runs.stopped.sum())} of {exp.floor_runs.stopped.size} "
             f"(after {exp.floor_runs.steps} steps)"]
    return "\n".join(lines)


def sweeps_summary(sw: Sweeps) -> str:
    """Lines on the sweeps: the floor exponent at two ``m``, the ``k = r`` runs, the phase-I angle per width.

    Parameters
    ----------
    sw : Sweeps

    Returns
    -------
    str
    """
    return "\n".join([
        f"floor exponent on alphas {[float(f'{a:.0e}') for a in sw.alphas_m]}: m = {sw.m}: {_iv(sw.gamma_base)}; "
        f"m = {sw.m_sweep}: {_iv(sw.gamma_m)}; ratio {_iv(_ratio(sw.gamma_m, sw.gamma_base), log=True)}",
        f"k = r at alpha = {sw.alpha_exact:.0e}: final error {_iv(sw.err_exact, log=True)} after "
        f"{sw.runs_exact.steps} steps; floor at k > r / that: {_iv(_ratio(sw.floor_pair, sw.err_exact), log=True)}",
        f"k = r local rate fitted / predicted: {_iv(_ratio(sw.rate_exact, sw.rho), log=True)}",
        f"first step with sin angle to A*(y) < {ALIGN_LEVEL:g}: " + "; ".join(
            f"k = {kk}: {_iv(sw.t_align[:, c])}" for c, kk in enumerate(sw.ks)),
    ])


def glue_values(exp: Experiment, sw: Sweeps) -> dict:
    """The numbers the chapter's prose quotes, by glue name (rounded as the prose shows them).

    Parameters
    ----------
    exp : Experiment
    sw : Sweeps

    Returns
    -------
    dict
    """
    rp, ra = _slope_ratios(exp)
    ivp, iva = _iv(rp, log=True), _iv(ra, log=True)
    p0 = exp.problems[0]
    r = p0.target.r
    n1, n2 = p0.target.shape
    g = _iv(exp.gamma)
    gr = _iv(_ratio(sw.gamma_m, sw.gamma_base), log=True)
    rx = _iv(_ratio(sw.rate_exact, sw.rho), log=True)
    r3 = _iv(_ratio(exp.rate3, exp.rho[:exp.rate3.size]), log=True, drop=True)
    ak = _iv(_ratio(sw.t_align[:, 0], sw.t_align[:, -1]), log=True)

    def rd(x, n=3):
        return round(float(x), n)

    return {
        "a2_n": exp.n, "a2_ratio_m": rd(p0.operator.m / (r * (n1 + n2)), 2),
        "a2_alpha_min": float(exp.alphas[-1]), "a2_alpha_max": float(exp.alphas[0]),
        "a2_tol_pct": rd(100 * _rel_tol(exp), 2), "a2_tol": rd(exp.tol, 4),
        "a2_gap_pct": rd(100 * float(np.nanmean(1 - exp.alt[:, 0] / exp.pred[:, 0]) * -1), 1),
        "a2_rp": rd(ivp.mean, 4), "a2_rp_lo": rd(ivp.lo, 4), "a2_rp_hi": rd(ivp.hi, 4),
        "a2_ra": rd(iva.mean, 3), "a2_ra_lo": rd(iva.lo, 3), "a2_ra_hi": rd(iva.hi, 3),
        "a2_r2_min": rd(np.nanmin(exp.r2), 5),
        "a2_order_violations": exp.order_violations,
        "a2_gap_slope": rd(_iv(exp.gap_slopes).mean, 2), "a2_gap_slope_lo": rd(_iv(exp.gap_slopes).lo, 2),
        "a2_gamma": rd(g.mean, 2), "a2_gamma_lo": rd(g.lo, 2), "a2_gamma_hi": rd(g.hi, 2),
        "a2_gamma_m": rd(_iv(sw.gamma_m).mean, 2), "a2_gamma_base": rd(_iv(sw.gamma_base).mean, 2),
        "a2_gamma_ratio": rd(gr.mean, 2), "a2_gamma_ratio_lo": rd(gr.lo, 2), "a2_gamma_ratio_hi": rd(gr.hi, 2),
        "a2_m": sw.m, "a2_m_sweep": sw.m_sweep,
        "a2_rho": rd(_iv(exp.rho).mean, 4), "a2_rho_nosense": rd(-math.log1p(-exp.eta * float(min(p0.target.sigma))), 4),
        "a2_rate_exact": rd(rx.mean, 3), "a2_rate_exact_lo": rd(rx.lo, 3), "a2_rate_exact_hi": rd(rx.hi, 3),
        "a2_rate3": rd(r3.mean, 2), "a2_rate3_lo": rd(r3.lo, 2), "a2_rate3_hi": rd(r3.hi, 2),
        "a2_alpha_exact": sw.alpha_exact, "a2_err_exact": float(f"{np.nanmax(sw.err_exact):.1e}"),
        "a2_floor_pair": float(f"{_iv(_ratio(sw.floor_pair, sw.err_exact), log=True).mean:.1e}"),
        "a2_k_lo": sw.ks[0], "a2_k_hi": sw.ks[-1],
        "a2_ang_ratio": rd(ak.mean, 2), "a2_ang_ratio_lo": rd(ak.lo, 2), "a2_ang_ratio_hi": rd(ak.hi, 2),
        "a2_ang_spec": rd(_iv(exp.ang_spec_end).mean, 3), "a2_ang_truth": rd(_iv(exp.ang_truth_end).mean, 3),
    }


# ---------------------------------------------------------------------------- claims
def claims(exp: Experiment, sw: Sweeps) -> list[Claim]:
    """The chapter's claims (see the page's "Claims" section for the basis of each bound).

    Parameters
    ----------
    exp : Experiment
    sw : Sweeps

    Returns
    -------
    list of Claim
    """
    rp, ra = _slope_ratios(exp)
    tol = _rel_tol(exp)
    n = exp.n
    end_ratio = _ratio(exp.ang_spec_end, exp.ang_truth_end)
    err_end = np.array([exp.curve("rel_error", j)[:int(exp.t_end[j]) + 1].min() if np.isfinite(exp.t_end[j])
                        else math.nan for j in range(n)])
    pos2 = _ratio(exp.slopes[:, 1] - exp.b2_lo, exp.b2_hi - exp.b2_lo)
    return [
        at_most("a2.alignment-first", f"at alpha = {exp.alphas[-1]:.0e}, end of phase I (test error first < "
                f"{END_LEVEL:g}): sin angle to A*(y) / sin angle to X* ({n} instances)",
                _iv(end_ratio, log=True), 1.0, basis="derived-on-page", form="bound",
                tolerance="< 1: the power method aligns with A*(y), not yet with X*"),
        close("a2.phase1-growth", "ln-growth per step of sigma_1(X_t) in phase I / 2 ln(1 + mu sigma_1(A*y)) "
              "(smallest alpha)", _iv(_ratio(exp.g1, exp.g1_pred), log=True), 1.0, rtol=0.02,
              basis="derived-on-page", tolerance="2% (linearized law)"),
        between("a2.linear-fit", "smallest R^2 of t_i against ln(1/alpha), all instances and directions",
                float(np.nanmin(exp.r2)) if np.isfinite(exp.r2).any() else math.nan, 0.999, 1.0,
                basis="derived-on-page", tolerance=">= 0.999 (integer times)"),
        close("a2.slope-1", "fitted slope of t_1 against ln(1/alpha) / 1/ln(1 + mu sigma_1(A*y)), per instance",
              _iv(rp, log=True), 1.0, rtol=tol, basis="derived-on-page", form="scaling",
              tolerance=f"± {100 * tol:.2f}%: the largest slope error of integer hitting times over the "
                        f"ln(1/alpha) range"),
        at_most("a2.slope-1-alternative", "fitted slope of t_1 / 1/ln(1 + mu sigma_1) (the alternative with the "
                "target's sigma_1), per instance: excluded", _iv(ra, log=True), 1.0 - tol,
                basis="derived-on-page", form="scaling", tolerance="interval below 1 - the same tolerance"),
        between("a2.slope-2", "position of the fitted slope of t_2 in its bracket [1/ln(1+mu sigma~_2), "
                "1/ln(1+mu sigma_2)] ± tol (0 and 1 the ends), per instance", _iv(pos2), 0.0, 1.0,
                basis="derived-on-page", form="value", tolerance="inside the bracket (heuristic)"),
        close("a2.two-stage", "two-stage slope of t_2 with the measured late rate / fitted slope, per instance",
              _iv(_ratio(exp.b2_two_stage, exp.slopes[:, 1]), log=True), 1.0, rtol=0.05,
              basis="derived-on-page", tolerance="5% of the fitted slope"),
        at_most("a2.incremental", f"t_1 < t_2 < ... at alpha = {exp.alphas[-1]:.0e} (instances violating, of "
                f"{exp.n})", float(exp.order_violations), 0.0, basis="derived-on-page", tolerance="exact"),
        at_least("a2.incremental-gap", "smallest slope of a gap t_(i+1) - t_i against ln(1/alpha), per instance",
                 _iv(exp.gap_slopes), exp.tol, basis="derived-on-page", form="scaling",
                 tolerance="the gaps widen with ln(1/alpha) by more than the rounding tolerance"),
        close("a2.local-rate", f"k = r: rate fitted where the error is in [{EXACT_WINDOW[0]:g}, {EXACT_WINDOW[1]:g}] "
              "/ -ln(1 - mu lam_min), per instance", _iv(_ratio(sw.rate_exact, sw.rho), log=True), 1.0,
              rtol=RATE_RTOL, basis="derived-on-page", tolerance=f"{100 * RATE_RTOL:g}% (window)"),
        at_least("a2.floor-k", f"floor at k = {exp.k} / error at k = r, same alpha = {sw.alpha_exact:.0e} and "
                 "instances (k = r stops at 1e-11)", _iv(_ratio(sw.floor_pair, sw.err_exact), log=True),
                 FLOOR_PAIR_MIN, basis="derived-on-page", form="paired-ratio",
                 tolerance="at least two decades: k = r has no directions outside the signal"),
        between("a2.floor-alpha", f"exponent of the floor against alpha (alpha <= {FLOOR_ALPHA_MAX:g}), per instance",
                _iv(exp.gamma), GAMMA_BAND[0], GAMMA_BAND[1], basis="derived-on-page", form="scaling",
                tolerance="(0, 2]: falls with alpha, not faster than alpha^2"),
        at_least("a2.floor-m", f"floor exponent at m = {sw.m_sweep} / at m = {sw.m}, same targets and "
                 "initializations", _iv(_ratio(sw.gamma_m, sw.gamma_base), log=True), 1.0, basis="derived-on-page",
                 form="paired-ratio", tolerance="> 1: the exponent grows with m"),
        at_least("a2.phase1-k", f"alignment time (sin angle to A*(y) < {ALIGN_LEVEL:g}), k = {sw.ks[0]} / "
                 f"k = {sw.ks[-1]}, same instances", _iv(_ratio(sw.t_align[:, 0], sw.t_align[:, -1]), log=True), 1.0,
                 basis="derived-on-page", form="paired-ratio", tolerance="> 1: a wider start aligns sooner"),
    ]


def evaluate(P) -> list[Claim]:
    """The chapter's whole computation, as its notebook runs it, and its claims.

    The notebook's calls, in its order: :func:`problems`, :func:`run`, :func:`run_sweeps` and
    :func:`claims`.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure`.

    Returns
    -------
    list of Claim
        The list that the notebook passes to :func:`opsense.evaluate_claims`.
    """
    probs = problems(P)
    exp = run(P, probs)
    sw = run_sweeps(P, exp)
    return claims(exp, sw)


# ---------------------------------------------------------------------------- figures
def plot_phases(exp: Experiment, *, instance: int = 0):
    """Figure of the three phases at the smallest ``alpha``.

    Left: test error of every instance (thin) and, for ``instance``, the sines of the alignment
    angles with the spectral estimate and with the truth. Right: the leading singular values of
    :math:`U_tV_t^\\top` of ``instance`` with the levels :math:`\\sigma_i/2`. Vertical lines: the
    end of phase I and the hitting times; the time axis ends at ``2 max_i t_i + 50``.

    Parameters
    ----------
    exp : Experiment
    instance : int, keyword-only

    Returns
    -------
    fig, (ax_error, ax_sv)
    """
    if not isinstance(exp, Experiment):
        raise ValueError(f"exp must be an a2_phases Experiment, got {type(exp).__name__}")
    j = v.integer("instance", instance, minimum=0, maximum=exp.n - 1)
    sigma = exp.problems[j].target.sigma
    t = exp.runs.t
    t_hits = exp.hits[j, -1][np.isfinite(exp.hits[j, -1])]
    t_max = float(min(t[-1], 2 * t_hits.max() + 50)) if t_hits.size else float(t[-1])
    fig, (ax1, ax2) = figure(ncols=2, width=10.0, height=3.8)
    for q in range(exp.n):
        ax1.semilogy(t, exp.curve("rel_error", q), color="C0", lw=0.6 if q != j else 1.6, alpha=0.5 if q != j else 1,
                     label="relative test error (thin: other instances)" if q == j else None)
    ax1.semilogy(t, exp.curve("angle_spectral", j), color="C1", label="sin angle to top-r of A*(y)")
    ax1.semilogy(t, exp.curve("angle_truth", j), color="C2", label="sin angle to top-r of X*")
    sv = exp.curve("singular_values", j)
    for i in range(min(sv.shape[1], sigma.size + 2)):
        ax2.semilogy(t, sv[:, i], color=f"C{i}", label=f"σ_{i + 1}(UVᵀ)")
        if i < sigma.size:
            ax2.axhline(sigma[i] / 2, color=f"C{i}", ls=":", lw=1)
    t_end = exp.t_end[j]
    t_last = float(t_hits.max()) if t_hits.size else float(t[-1])
    for name, lo, hi in (("I", 0.0, t_end), ("II", t_end, t_last), ("III", t_last, t_max)):
        if np.isfinite(lo) and np.isfinite(hi) and hi > lo:
            ax1.text((lo + hi) / 2, 1.02, name, transform=ax1.get_xaxis_transform(), ha="center",
                     va="bottom", fontsize=9, color="0.3")
    for ax in (ax1, ax2):
        if np.isfinite(t_end):
            ax.axvline(t_end, color="0.3", ls="--", lw=1)
        for th in t_hits:
            ax.axvline(th, color="0.6", ls="-.", lw=1)
        ax.set_xlabel("iteration t")
        ax.set_xlim(0, t_max)
    ax1.set_ylabel("error / sine of angle")
    ax1.set_title(f"α = {exp.alphas[-1]:g}, k = {exp.k}: phases (instance {j})", pad=16)
    ax2.set_ylabel("singular value")
    ax2.set_title("incremental learning (dotted: σ_i/2)")
    ax1.legend(fontsize=7.5)
    ax2.legend(fontsize=7.5)
    return fig, (ax1, ax2)


def _interval_bar(ax, x, iv, color, label):
    """Draw an instance interval as an error bar at ``x``."""
    if np.isfinite(iv.mean):
        ax.errorbar([x], [iv.mean], yerr=[[iv.mean - iv.lo], [iv.hi - iv.mean]], fmt="s", color=color,
                    capsize=4, ms=6, label=label)


def plot_escape(exp: Experiment):
    """Escape times and their slopes over the instances.

    Left: :math:`t_1` against :math:`\\ln(1/\\alpha)`, one colour per instance, with each
    instance's predicted slope (dotted) through its mean. Right: per instance, the fitted slope
    divided by the prediction :math:`1/\\ln(1+\\mu\\tilde\\sigma_1)` and by the alternative
    :math:`1/\\ln(1+\\mu\\sigma_1)` (points), their 95% intervals (squares with bars) and the
    tolerance band around 1.

    Parameters
    ----------
    exp : Experiment

    Returns
    -------
    fig, (ax_times, ax_ratios)
    """
    if not isinstance(exp, Experiment):
        raise ValueError(f"exp must be an a2_phases Experiment, got {type(exp).__name__}")
    x = np.log(1.0 / exp.alphas)
    fig, (ax1, ax2) = figure(ncols=2, width=10.0, height=3.8)
    for j in range(exp.n):
        times = exp.hits[j, :, 0]
        ax1.plot(x, times, "o", color=f"C{j % 10}", ms=4, label=f"instance {j}" if j < 3 else None)
        if np.isfinite(times).any():
            ax1.plot(x, np.nanmean(times) + exp.pred[j, 0] * (x - x.mean()), ":", color=f"C{j % 10}", lw=1)
    ax1.set_xlabel("ln(1/α)")
    ax1.set_ylabel("t_1 (iterations)")
    ax1.set_title("t_1 per instance; dotted: slope 1/ln(1+μσ̃_1)")
    ax1.legend(fontsize=7.5)
    rp, ra = _slope_ratios(exp)
    tol = _rel_tol(exp)
    ax2.axhspan(1 - tol, 1 + tol, color="0.85", label="1 ± tolerance")
    jit = np.linspace(-0.12, 0.12, exp.n)
    ax2.plot(0 + jit, rp, "o", color="C0", ms=4, label="fitted / 1/ln(1+μσ̃_1)")
    ax2.plot(1 + jit, ra, "o", color="C3", ms=4, label="fitted / 1/ln(1+μσ_1)")
    _interval_bar(ax2, 0.3, _iv(rp, log=True), "C0", "95% interval")
    _interval_bar(ax2, 1.3, _iv(ra, log=True), "C3", None)
    ax2.set_xticks([0, 1])
    ax2.set_xticklabels(["prediction (A*(y))", "alternative (X*)"])
    ax2.set_xlim(-0.5, 1.6)
    ax2.set_ylabel("fitted slope / predicted slope")
    ax2.set_title(f"slope of t_1, {exp.n} instances")
    ax2.legend(fontsize=7.5)
    return fig, (ax1, ax2)


def plot_floors(exp: Experiment, sw: Sweeps, *, instance: int = 0):
    """Phase III: linear contraction to a floor set by :math:`\\alpha`.

    Left: test error of ``instance`` for every ``alpha`` (width ``k``) and of the ``k = r`` runs,
    with the predicted local rate (dashed). Right: the floor against :math:`\\alpha`, one point per
    instance, at ``m`` and ``m_sweep``, with the geometric means joined.

    Parameters
    ----------
    exp : Experiment
    sw : Sweeps
    instance : int, keyword-only

    Returns
    -------
    fig, (ax_curves, ax_floors)
    """
    if not isinstance(exp, Experiment) or not isinstance(sw, Sweeps):
        raise ValueError("exp and sw must be an a2_phases Experiment and its Sweeps")
    j = v.integer("instance", instance, minimum=0, maximum=min(exp.n, sw.err_exact.size) - 1)
    fig, (ax1, ax2) = figure(ncols=2, width=10.0, height=3.8)
    t = exp.floor_runs.t
    for a in range(len(exp.floor_alphas)):
        ax1.semilogy(t, exp.curve("rel_error", j, a, floor=True), color=f"C{a}", lw=1.2,
                     label=f"α = {exp.floor_alphas[a]:.0e}")
    tx = sw.runs_exact.t
    ex = sw.runs_exact.rel_error[j]
    ax1.semilogy(tx, ex, color="k", lw=1.2, label=f"k = r, α = {sw.alpha_exact:.0e}")
    rho = float(sw.rho[j])
    t0 = first_time(tx, ex, 1e-2)
    if np.isfinite(t0) and np.isfinite(rho):
        tt = np.linspace(t0, float(tx[-1]), 50)
        ax1.semilogy(tt, 1e-2 * np.exp(-rho * (tt - t0)), "--", color="0.4", lw=1,
                     label=f"predicted local rate {rho:.3f}/step")
    ax1.set_ylim(1e-16, 2)
    ax1.set_xlabel("iteration t")
    ax1.set_ylabel("relative test error")
    ax1.set_title(f"instance {j}: k = {exp.k} stops at a floor, k = r does not")
    ax1.legend(fontsize=7)
    jit = np.exp(np.linspace(-0.15, 0.15, exp.floors.shape[0]))
    for a, al in enumerate(exp.floor_alphas):
        ax2.loglog(al * jit, exp.floors[:, a], "o", color="C0", ms=3.5, label=f"m = {sw.m}" if a == 0 else None)
    ax2.loglog(exp.floor_alphas, np.exp(np.nanmean(np.log(exp.floors), axis=0)), "-", color="C0", lw=1)
    js = np.exp(np.linspace(-0.15, 0.15, sw.floors_m.shape[0]))
    for a, al in enumerate(sw.alphas_m):
        ax2.loglog(al * js, sw.floors_m[:, a], "^", color="C3", ms=4, label=f"m = {sw.m_sweep}" if a == 0 else None)
    ax2.loglog(sw.alphas_m, np.exp(np.nanmean(np.log(sw.floors_m), axis=0)), "-", color="C3", lw=1)
    ax2.set_xlabel("α")
    ax2.set_ylabel("floor (final relative test error)")
    ax2.set_title("the floor is set by α; its exponent grows with m")
    ax2.legend(fontsize=7.5)
    return fig, (ax1, ax2)
