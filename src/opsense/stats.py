"""Intervals over independent instances: a mean and its 95% Student-t interval.

A fitted rate, exponent, constant or slope is measured on several *independent instances*
(target, operator and initialization all re-drawn) and reported as an :class:`Interval`.
Claims (:mod:`opsense.claims`) compare such an interval with a prediction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import _validate as v

__all__ = ["Interval", "instance_interval", "instance_interval_or_nan", "t_quantile"]


def _t_cdf(x: float, df: int) -> float:
    """CDF of Student's t with ``df`` degrees of freedom, by the regularized incomplete beta function."""
    if x == 0.0:
        return 0.5
    z = df / (df + x * x)
    tail = 0.5 * _betainc(0.5 * df, 0.5, z)
    return 1.0 - tail if x > 0 else tail


def _betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b) (continued fraction, Numerical Recipes 6.4)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    front = math.exp(lbeta + a * math.log(x) + b * math.log1p(-x))
    if x > (a + 1.0) / (a + b + 2.0):
        return 1.0 - _betainc(b, a, 1.0 - x)
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    f = d
    for i in range(1, 400):
        m = float(i)
        num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        for step in (num, -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + step * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + step / c
            c = c if abs(c) > tiny else tiny
            f *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return front * f / a


def t_quantile(p: float, df: int) -> float:
    """The ``p``-quantile of Student's t distribution with ``df`` degrees of freedom.

    Parameters
    ----------
    p : float
        In ``(0, 1)``.
    df : int
        ``>= 1``.

    Returns
    -------
    float
        ``q`` with ``P(T <= q) = p`` to about 1e-12 (bisection on the exact CDF);
        ``t_quantile(0.975, 4) = 2.776...``.
    """
    p = v.real("p", p)
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must lie in (0, 1), got {p}")
    df = v.integer("df", df, minimum=1)
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while _t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-13 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class Interval:
    """A mean over independent instances and its two-sided confidence interval.

    Attributes
    ----------
    mean : float
        The mean of ``values`` (the geometric mean when ``log``).
    lo, hi : float
        The interval: ``mean ± t_{(1+level)/2, n-1} s / sqrt(n)`` (on the logarithms when ``log``).
    n : int
        Number of instances.
    values : tuple of float
        The per-instance values, in instance order.
    level : float
        The confidence level (0.95).
    log : bool
        Whether the interval was taken on ``ln(values)`` (for ratios and positive rates).
    """

    mean: float
    lo: float
    hi: float
    n: int
    values: tuple
    level: float = 0.95
    log: bool = False

    @property
    def halfwidth(self) -> float:
        """Half the width of the interval, ``(hi - lo) / 2``."""
        return 0.5 * (self.hi - self.lo)

    def __str__(self) -> str:
        return f"{self.mean:.3g} [{self.lo:.3g}, {self.hi:.3g}] (n={self.n})"


def instance_interval(values, *, level: float = 0.95, log: bool = False) -> Interval:
    """Mean and Student-t confidence interval of per-instance values.

    Parameters
    ----------
    values : array_like, shape (n,)
        One value per independent instance, ``n >= 2``, all finite (all ``> 0`` when ``log``).
    level : float, keyword-only
        Confidence level in ``(0, 1)``; 0.95 by default.
    log : bool, keyword-only
        Take the interval on ``ln(values)`` and map it back (a geometric mean with a
        multiplicative interval): for ratios and rates, which are positive and skewed.

    Returns
    -------
    Interval
    """
    try:
        xs = [float(x) for x in values]
    except (TypeError, ValueError):
        raise ValueError(f"values must be a sequence of real numbers, got {values!r}") from None
    if len(xs) < 2:
        raise ValueError(f"values must hold at least 2 instances for an interval, got {len(xs)}")
    if not all(math.isfinite(x) for x in xs):
        raise ValueError(f"values must all be finite, got {xs}")
    level = v.real("level", level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if log and min(xs) <= 0:
        raise ValueError(f"values must all be > 0 for a log interval, got {xs}")
    ys = [math.log(x) for x in xs] if log else xs
    n = len(ys)
    mean = sum(ys) / n
    s = math.sqrt(sum((y - mean) ** 2 for y in ys) / (n - 1))
    half = t_quantile(0.5 * (1.0 + level), n - 1) * s / math.sqrt(n)
    lo, hi = mean - half, mean + half
    if log:
        mean, lo, hi = math.exp(mean), math.exp(lo), math.exp(hi)
    return Interval(mean, lo, hi, n, tuple(xs), level, bool(log))


def instance_interval_or_nan(values, *, level: float = 0.95, log: bool = False) -> Interval:
    """:func:`instance_interval`, or an all-NaN :class:`Interval` when the values do not allow one.

    For claims over instances where a fit can fail on some instance: fewer than 2 values, a
    value that is not finite, or (``log``) one that is not positive give ``mean = lo = hi = NaN``
    with the values kept, so that a claim tested on it fails (it never holds silently) and the
    values show which instance failed.

    Parameters
    ----------
    values : array_like, shape (n,)
    level : float, keyword-only
    log : bool, keyword-only

    Returns
    -------
    Interval
    """
    xs = np.asarray(values, dtype=float).ravel()
    if xs.size < 2 or not np.all(np.isfinite(xs)) or (log and np.any(xs <= 0)):
        nan = float("nan")
        return Interval(nan, nan, nan, int(xs.size), tuple(float(x) for x in xs), level, bool(log))
    return instance_interval(xs, level=level, log=log)
