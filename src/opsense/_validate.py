"""Argument checks shared by every public entry point.

Each check raises :class:`ValueError` with one message that names the argument
and says which values are allowed, before any work starts.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np


def integer(name: str, value, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an ``int``; reject bools, floats and out-of-range values."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be an integer <= {maximum}, got {value}")
    return value


def shape_rank(n1, n2, r) -> tuple[int, int, int]:
    """Return ``(n1, n2, r)`` as ints with ``n1, n2 >= 1`` and ``1 <= r <= min(n1, n2)``."""
    n1 = integer("n1", n1, minimum=1)
    n2 = integer("n2", n2, minimum=1)
    r = integer("r", r, minimum=1)
    if r > min(n1, n2):
        raise ValueError(f"r must be at most min(n1, n2) = {min(n1, n2)} (n1 = {n1}, n2 = {n2}), got {r}")
    return n1, n2, r


def real(name: str, value, *, positive: bool = False, nonnegative: bool = False,
         below: float | None = None) -> float:
    """Return ``value`` as a finite ``float`` with the requested sign."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    if nonnegative and value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    if below is not None and value >= below:
        raise ValueError(f"{name} must be < {below}, got {value}")
    return value


def positive_values(name: str, value, *, size: int | None = None, distinct: bool = False,
                    least: int = 1) -> list[float]:
    """A sequence of finite values ``> 0``: exactly ``size`` of them if given, at least ``least``,
    pairwise different if ``distinct``; returned as a list of floats."""
    vals = sweep(name, value, lambda n, x: real(n, x, positive=True))
    if size is not None and len(vals) != size:
        raise ValueError(f"{name} must hold {size} values > 0, got {len(vals)}: {vals}")
    if len(vals) < least:
        raise ValueError(f"{name} must hold at least {least} values > 0, got {vals}")
    if distinct and len(set(vals)) != len(vals):
        raise ValueError(f"{name} must hold distinct values, got {vals}")
    return vals


def choice(name: str, value, allowed: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``allowed``."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value


def array(name: str, value, *, ndim: int | tuple[int, ...] | None = None,
          shape: tuple[int | None, ...] | None = None) -> np.ndarray:
    """Return ``value`` as a finite float64 array of the given rank/shape.

    ``shape`` may contain ``None`` for a free axis.
    """
    try:
        complex_ = np.iscomplexobj(value)
    except ValueError:  # a ragged sequence
        raise ValueError(f"{name} must be a rectangular array of real numbers (rows of equal length)") from None
    if complex_:
        raise ValueError(f"{name} must be real, got a complex array")
    try:
        out = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of real numbers, got {type(value).__name__}") from None
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if out.ndim not in allowed:
            raise ValueError(f"{name} must have {' or '.join(map(str, allowed))} dimensions, "
                             f"got shape {out.shape}")
    if shape is not None:
        if out.ndim != len(shape) or any(s is not None and s != o for s, o in zip(shape, out.shape)):
            want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name} must have shape {want}, got {out.shape}")
    if out.size and not np.all(np.isfinite(out)):
        raise ValueError(f"{name} must contain only finite values")
    return out


def sweep(name: str, value, check) -> list:
    """A scalar or a 1-D sequence of scalars, each passed through ``check``."""
    if isinstance(value, (str, bytes)):
        raise ValueError(f"{name} must be a number or a sequence of numbers, got {value!r}")
    try:
        ndim = np.ndim(value)
    except ValueError:  # a ragged sequence
        raise ValueError(f"{name} must be a number or a flat sequence of numbers, got a ragged one") from None
    if ndim == 0:
        return [check(name, value.item() if isinstance(value, np.generic) else value)]
    if ndim != 1 or len(value) == 0:
        raise ValueError(f"{name} must be a number or a non-empty 1-D sequence of numbers")
    return [check(f"{name}[{i}]", v.item() if isinstance(v, np.generic) else v)
            for i, v in enumerate(value)]


def sampled(m: int, *, r: int, n1: int, n2: int, factor: float = 2.0) -> int:
    """Return ``m`` if it is at least ``factor * r * (n1 + n2)``: that many measurements for the
    about ``r (n1 + n2)`` degrees of freedom of a rank-``r`` matrix (the sensing regime both papers
    assume; below it ``A*A`` is far from the identity on low-rank matrices)."""
    need = int(np.ceil(factor * r * (n1 + n2)))
    if m < need:
        raise ValueError(f"m must be >= {factor:g} r (n1 + n2) = {need} (the sensing regime: enough measurements "
                         f"for the r (n1 + n2) degrees of freedom of X*), got {m}")
    return m


def at_least(name: str, value, needed: float, why: str):
    """Return ``value`` if ``value >= needed``; else raise naming the parameter ``name`` and the reason."""
    if value < needed:
        raise ValueError(f"parameter {name} must be >= {int(np.ceil(needed))} ({why}), got {value}")
    return value
