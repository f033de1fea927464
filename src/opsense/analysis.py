"""Fits on recorded curves: linear rates, power laws, hitting times, windows, effective rank.

Every fit returns a :class:`Fit` with the estimate and measures of its quality
(coefficient of determination and the standard error of the slope).
"""

from __future__ import annotations

from dataclasses import dataclass

import math

import numpy as np

from . import _validate as v

__all__ = ["Fit", "Hit", "fit_line", "fit_rate", "fit_power", "hitting_time", "rate_window", "late_rate",
           "rate_ratio", "effective_rank", "burn_in_time", "signal_time", "predicted_time", "settle_index"]


@dataclass(frozen=True)
class Fit:
    """Least-squares line ``y = slope * x + intercept`` on the selected points.

    Attributes
    ----------
    estimate : float
        The quantity asked for (the slope, or minus the slope for a rate).
    slope, intercept : float
    r2 : float
        Coefficient of determination (1 = the points lie on the line).
    stderr : float
        Standard error of the slope (0 with two points).
    npoints : int
    """

    estimate: float
    slope: float
    intercept: float
    r2: float
    stderr: float
    npoints: int


def _window(name, x, y, window):
    x = v.array(f"{name} x", x, ndim=1)
    y = np.asarray(y, dtype=np.float64)
    if y.shape != x.shape:
        raise ValueError(f"{name}: x and y must have the same shape, got {x.shape} and {y.shape}")
    keep = np.ones(x.shape, bool)
    if window is not None:
        ok = isinstance(window, (tuple, list, np.ndarray)) and len(window) == 2
        try:
            ok = ok and bool(np.isfinite(float(window[0])) and float(window[0]) < float(window[1]))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"window must be a pair (lo, hi) of numbers with lo < hi, got {window!r}")
        keep &= (x >= window[0]) & (x <= window[1])
    return x, y, keep


def fit_line(x, y) -> Fit:
    """Ordinary least squares of ``y`` on ``x`` (finite points only, at least two).

    Parameters
    ----------
    x, y : array_like of shape (N,)

    Returns
    -------
    Fit
        ``estimate`` is the slope.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length, got {x.size} and {y.size}")
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 2 or np.ptp(x) == 0:
        raise ValueError(f"a line fit needs at least two finite points with distinct x, got {x.size}")
    xm, ym = x.mean(), y.mean()
    sxx = np.sum((x - xm) ** 2)
    slope = np.sum((x - xm) * (y - ym)) / sxx
    intercept = ym - slope * xm
    resid = y - (slope * x + intercept)
    sst = np.sum((y - ym) ** 2)
    r2 = 1.0 - np.sum(resid ** 2) / sst if sst > 0 else 1.0
    stderr = np.sqrt(np.sum(resid ** 2) / (x.size - 2) / sxx) if x.size > 2 else 0.0
    return Fit(float(slope), float(slope), float(intercept), float(r2), float(stderr), int(x.size))


def fit_rate(t, err, *, window: tuple[float, float] | None = None, floor: float = 0.0) -> Fit:
    """Linear convergence rate of a semilog curve: ``err(t) ~ C exp(-rate * t)``.

    Parameters
    ----------
    t : array_like (T,)
        Iterations.
    err : array_like (T,)
        A positive error curve.
    window : (t0, t1), keyword-only, optional
        Fit only ``t0 <= t <= t1``.
    floor : float >= 0, keyword-only
        Ignore points with ``err <= floor`` (e.g. the float64 floor).

    Returns
    -------
    Fit
        ``estimate`` is the rate per iteration, ``-d ln(err)/dt`` (positive for decay).
    """
    floor = v.real("floor", floor, nonnegative=True)
    t, err, keep = _window("fit_rate", t, err, window)
    keep &= np.isfinite(err) & (err > floor)
    f = fit_line(t[keep], np.log(err[keep]))
    return Fit(-f.slope, f.slope, f.intercept, f.r2, f.stderr, f.npoints)


def fit_power(x, y, *, window: tuple[float, float] | None = None) -> Fit:
    """Power-law exponent: slope of ``ln y`` against ``ln x``.

    Use it for a log-log window of an error curve (``x = t``) and for the
    log-log slope of rates against ``alpha``.

    Parameters
    ----------
    x, y : array_like (N,), positive
    window : (lo, hi), keyword-only, optional
        Keep only ``lo <= x <= hi``.

    Returns
    -------
    Fit
        ``estimate`` is the exponent.
    """
    x, y, keep = _window("fit_power", x, y, window)
    keep &= (x > 0) & (y > 0) & np.isfinite(y)
    return fit_line(np.log(x[keep]), np.log(y[keep]))


@dataclass(frozen=True)
class Hit:
    """First recorded time a curve crosses a level.

    Attributes
    ----------
    time : float
        First recorded ``t`` with the curve past the level (NaN if never).
    resolution : float
        Spacing to the previous record: the crossing happened in ``(time - resolution, time]``.
    """

    time: float
    resolution: float

    @property
    def hit(self) -> bool:
        return bool(np.isfinite(self.time))


def hitting_time(t, curve, level: float, *, direction: str = "below") -> Hit:
    """First recorded iteration at which ``curve <= level`` (``"below"``) or ``>= level`` (``"above"``).

    Parameters
    ----------
    t : array_like (T,), increasing
    curve : array_like (T,)
    level : float
    direction : {"below", "above"}, keyword-only

    Returns
    -------
    Hit
    """
    level = v.real("level", level)
    direction = v.choice("direction", direction, ("below", "above"))
    t, curve, _ = _window("hitting_time", t, curve, None)
    if np.any(np.diff(t) <= 0):
        raise ValueError("t must be strictly increasing (the recorded iterations)")
    past = curve <= level if direction == "below" else curve >= level
    idx = np.flatnonzero(past)
    if idx.size == 0:
        return Hit(float("nan"), float("nan"))
    i = int(idx[0])
    return Hit(float(t[i]), float(t[i] - t[i - 1]) if i > 0 else 0.0)


def effective_rank(singular_values, *, rel_threshold: float = 1e-2) -> np.ndarray:
    """Number of singular values at least ``rel_threshold`` times the largest one.

    Parameters
    ----------
    singular_values : array_like (..., s)
        Singular values along the last axis (e.g. ``GDResult.singular_values``).
    rel_threshold : float in (0, 1), keyword-only
        The count uses :math:`\\#\\{i:\\sigma_i\\ge\\tau\\,\\sigma_1\\}` with :math:`\\tau` this value.

    Returns
    -------
    ndarray of int (...)
        0 where every singular value is 0.
    """
    s = np.asarray(singular_values, dtype=np.float64)
    if s.ndim < 1 or s.shape[-1] < 1 or not np.all(np.isfinite(s)) or np.any(s < 0):
        raise ValueError("singular_values must be an array of finite values >= 0 with a last axis of length >= 1")
    tau = v.real("rel_threshold", rel_threshold, positive=True, below=1.0)
    top = s.max(axis=-1, keepdims=True)
    return np.where(top[..., 0] > 0, np.sum(s >= tau * top, axis=-1), 0).astype(int)



def rate_window(t, err, *, start: float, floor: float) -> tuple[float, float]:
    """The fit window for a late linear rate: the second half of ``[start, t_floor]``.

    ``t_floor`` is the last recorded iteration at which ``err > floor`` (the float64
    floor, or the end of the run). The first half of the stretch lets the faster
    modes die out; the window never reaches the floor.

    Parameters
    ----------
    t : array (T,)
    err : array (T,), positive
    start : float, keyword-only
        Beginning of the stretch (e.g. the trigger time).
    floor : float >= 0, keyword-only

    Returns
    -------
    (lo, hi) : tuple of float
    """
    t = v.array("t", t, ndim=1)
    err = np.asarray(err, dtype=float)
    if err.shape != t.shape:
        raise ValueError(f"err must have the shape of t {t.shape}, got {err.shape}")
    start = v.real("start", start, nonnegative=True)
    floor = v.real("floor", floor, nonnegative=True)
    above = np.flatnonzero((err > floor) & (t >= start))
    if above.size < 2:
        raise ValueError(f"start={start:g}: fewer than two recorded points after start lie above floor={floor:g}")
    hi = float(t[above[-1]])
    return start + (hi - start) / 2, hi


def late_rate(t, err, *, start: float, floor: float) -> Fit:
    """:func:`opsense.fit_rate` on :func:`rate_window` (``estimate`` = decay rate per iteration).

    Parameters
    ----------
    t : array_like of shape (T,)
        Recorded iterations.
    err : array_like of shape (T,)
        The decaying quantity (positive).
    start : float, keyword-only
        Beginning of the stretch.
    floor : float >= 0, keyword-only
        Values at or below it are ignored.
    """
    window = rate_window(t, err, start=start, floor=floor)
    return fit_rate(t, err, window=window, floor=floor)



def rate_ratio(t, err2, *, window: tuple[float, float], floor: float = 0.0) -> float:
    """Fitted rate on the second half of ``window`` divided by the rate on the first half.

    About 1 for linear convergence; about 1/2 for a :math:`1/t^2` tail on a window
    ``(a, 4a)``-like, since its local rate is :math:`2/t`.

    Parameters
    ----------
    t, err2 : array_like (T,)
    window : (t0, t1), keyword-only
    floor : float >= 0, keyword-only
        Passed to :func:`opsense.fit_rate`.

    Returns
    -------
    float
    """
    if len(window) != 2 or not window[0] < window[1]:
        raise ValueError(f"window must be a pair (t0, t1) with t0 < t1, got {window!r}")
    mid = 0.5 * (window[0] + window[1])
    first = fit_rate(t, err2, window=(window[0], mid), floor=floor).estimate
    second = fit_rate(t, err2, window=(mid, window[1]), floor=floor).estimate
    return float(second / first)



def burn_in_time(result: GDResult, sigma, *, rtol: float = 0.01) -> np.ndarray:
    """First recorded iteration at which the top-``r`` singular values are fitted.

    The end of the signal phase: every one of the ``r`` leading singular values of
    :math:`X_t` is within ``rtol`` (relative) of the target's.

    Parameters
    ----------
    result : GDResult
    sigma : array_like (r,)
        Singular values of the target.
    rtol : float in (0, 1), keyword-only

    Returns
    -------
    ndarray of shape (B,)
        NaN for a run that never gets there.
    """
    from .engine.gd import GDResult

    if not isinstance(result, GDResult):
        raise ValueError(f"result must be a GDResult, got {type(result).__name__}")
    sigma = v.array("sigma", sigma, ndim=1)
    if sigma.size == 0 or np.any(sigma <= 0):
        raise ValueError("sigma must be a non-empty 1-D array of values > 0")
    rtol = v.real("rtol", rtol, positive=True, below=1.0)
    r = sigma.size
    if result.singular_values.shape[2] < r:
        raise ValueError(f"sigma has {r} values but the runs record {result.singular_values.shape[2]}")
    ok = np.all(np.abs(result.singular_values[:, :, :r] / sigma - 1.0) <= rtol, axis=2)
    return np.where(ok.any(axis=1), result.t[np.argmax(ok, axis=1)], np.nan).astype(float)



def signal_time(alpha: float, *, eta: float, kappa: float, n: int) -> float:
    """A generous estimate of the length of the signal phase, :math:`\\kappa\\ln(100n/(\\kappa\\alpha^2))/\\eta`.

    The signal block starts with squared singular values of order :math:`\\alpha^2/n` and
    grows like :math:`(1+\\eta\\sigma_r)^{2t}` up to :math:`\\sigma_r=1/\\kappa`; the estimate is about
    twice that time (it is used only to refuse horizons that are too short).

    Parameters
    ----------
    alpha : float > 0
        Initialization scale.
    eta : float > 0, keyword-only
    kappa : float >= 1, keyword-only
    n : int >= 1, keyword-only

    Returns
    -------
    float
    """
    alpha = v.real("alpha", alpha, positive=True)
    eta = v.real("eta", eta, positive=True)
    kappa = v.real("kappa", kappa, positive=True)
    n = v.integer("n", n, minimum=1)
    return float(kappa * np.log(max(np.e, 100.0 * n / (kappa * alpha ** 2))) / eta)


#: A run has left its linear phase when its relative residual decreased by less than this
#: fraction over the window ``2 / (eta sigma_r)`` (a local rate below 5% of the linear rate).
SETTLE_TOL = 0.1
#: A run has interpolated when its relative residual is below this fraction of its relative
#: test error: at most 0.1% of the error is visible to the data, the rest lies in ker A.
INTERP_TOL = 1e-3


def predicted_time(alpha: float, *, eta: float, sigma_r: float) -> float:
    """The predicted end of the fast phases at scale ``alpha``: escape plus linear refinement.

    ``ln(sigma_r / alpha^2) / (2 ln(1 + eta sigma_r))`` steps for the smallest direction to
    grow from ``alpha^2`` to ``sigma_r`` (at the slowest rate ``1 + eta sigma_r``), plus
    ``ln(1 / alpha^2) / (eta sigma_r)`` steps of linear contraction at rate ``eta sigma_r``
    down to a floor no lower than ``alpha^2``.

    Parameters
    ----------
    alpha : float > 0
    eta : float > 0, keyword-only
    sigma_r : float > 0, keyword-only
        Smallest singular value of the target.

    Returns
    -------
    float
        Iterations (0 when ``alpha`` is of order ``sqrt(sigma_r)`` or larger).
    """
    alpha = v.real("alpha", alpha, positive=True)
    eta = v.real("eta", eta, positive=True)
    sigma_r = v.real("sigma_r", sigma_r, positive=True)
    escape = max(0.0, math.log(sigma_r / alpha ** 2)) / (2.0 * math.log1p(eta * sigma_r))
    refine = max(0.0, math.log(1.0 / alpha ** 2)) / (eta * sigma_r)
    return escape + refine


def settle_index(residual, rel_error, *, lag: int, fitted: float, tol: float = SETTLE_TOL,
                 interp: float = INTERP_TOL) -> int:
    """The record at which a run counts as converged, or -1 if none.

    The first record ``j`` at which either the relative residual is at most ``interp`` times the
    relative test error (interpolated: the error is invisible to the data), or, once the residual
    has fallen below ``fitted`` (every direction of the target learned), the residual decreased by
    less than the fraction ``tol`` over the last ``lag`` records (the linear phase is over).

    Parameters
    ----------
    residual, rel_error : array_like of shape (T,)
        Relative residual and relative test error of one run at its records.
    lag : int >= 1, keyword-only
        Window in records (``2 / (eta sigma_r)`` steps, rounded up).
    fitted : float > 0, keyword-only
        Residual level below which the data are fitted (``sigma_r / (2 ||X*||_F)``).
    tol, interp : float > 0, keyword-only

    Returns
    -------
    int
    """
    res = v.array("residual", residual, ndim=1)
    err = v.array("rel_error", rel_error, ndim=1)
    if res.shape != err.shape:
        raise ValueError(f"residual and rel_error must have the same shape, got {res.shape} and {err.shape}")
    lag = v.integer("lag", lag, minimum=1)
    fitted = v.real("fitted", fitted, positive=True)
    tol = v.real("tol", tol, positive=True)
    interp = v.real("interp", interp, positive=True)
    T = res.size
    ok = res <= interp * err
    below = np.flatnonzero(res <= fitted)
    if below.size and T > lag:
        flat = np.zeros(T, dtype=bool)
        flat[lag:] = res[:-lag] <= (1.0 + tol) * res[lag:]
        flat[:below[0] + lag] = False
        ok |= flat
    hits = np.flatnonzero(ok)
    return int(hits[0]) if hits.size else -1
