"""Chapter parameters: presets, validated overrides, and the chapter's own check.

Every chapter's ``parameters`` cell declares typed defaults, ``None`` meaning "the
preset's value". :func:`~opsense.configure` merges them with the chosen preset of the chapter
module, validates each value against the type of the preset's value (:func:`~opsense.config.merge`),
then calls the chapter's ``check``, so a wrong value is refused with one message that
names the parameter, before any work starts: in the notebook, and in the command line
before any kernel starts.
"""

from __future__ import annotations

import ast
import numbers
import os
from dataclasses import dataclass
from types import SimpleNamespace

__all__ = ["Parameters", "Cost", "gd_cost", "merge", "configure", "parameter_check", "regime",
           "OutsideRegimeWarning"]

import functools
import warnings


class OutsideRegimeWarning(UserWarning):
    """A run lies outside the regime the papers' statements cover; its claims may not hold."""


def regime(chapter: str, conditions) -> list[str]:
    """Check the regime a chapter's theory covers; warn once for a run outside it.

    A chapter's ``check(P)`` refuses what cannot run at all and calls this for what runs
    but lies outside the papers' assumptions (sizes, ``m / (r (n1 + n2))``, ``kappa``,
    ``alpha``, ``eta``): the run goes ahead with one printed warning, naming each
    condition it violates, that the claims are not covered there.

    Parameters
    ----------
    chapter : str
        The chapter's name, for the message.
    conditions : iterable of (bool, str)
        ``(holds, what the theory needs)``, e.g.
        ``(m >= 4 * r * (n1 + n2), "m >= 4 r (n1 + n2) = 240 (m = 200)")``.

    Returns
    -------
    list of str
        The violated conditions (empty inside the regime).
    """
    if not isinstance(chapter, str) or not chapter:
        raise ValueError(f"chapter must be a non-empty string, got {chapter!r}")
    out = []
    for item in conditions:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], str)):
            raise ValueError(f"conditions must be (bool, str) pairs, got {item!r}")
        if not item[0]:
            out.append(item[1])
    if out:
        warnings.warn(f"chapter {chapter}: outside the regime the papers cover ({'; '.join(out)}); "
                      "the run goes ahead, but its claims are not covered there and may not hold",
                      OutsideRegimeWarning, stacklevel=2)
    return out


def _check(name, value, like):
    """Validate ``value`` against the preset value ``like`` (same kind, positive numbers)."""
    if isinstance(like, bool):
        if not isinstance(value, bool):
            raise ValueError(f"parameter {name} must be True or False, got {value!r}")
    elif isinstance(like, numbers.Integral):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError(f"parameter {name} must be an integer, got {value!r}")
        if value < 0 or (like > 0 and value == 0):
            raise ValueError(f"parameter {name} must be an integer >= {0 if like == 0 else 1}, got {value}")
        value = int(value)
    elif isinstance(like, numbers.Real):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value == value:
            raise ValueError(f"parameter {name} must be a real number, got {value!r}")
        if not 0 < value < float("inf"):
            raise ValueError(f"parameter {name} must be a finite number > 0, got {value}")
        value = float(value)
    elif isinstance(like, str):
        if not isinstance(value, str):
            raise ValueError(f"parameter {name} must be a string, got {value!r}")
    elif isinstance(like, (list, tuple)):
        if isinstance(value, str):  # papermill -p passes lists as text: "[0.1, 0.01]"
            try:
                value = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                raise ValueError(f"parameter {name} must be a list such as [1, 2], got {value!r}") from None
        if not isinstance(value, (list, tuple)) or len(value) == 0:
            raise ValueError(f"parameter {name} must be a non-empty list, got {value!r}")
        item = like[0]
        value = [_check(f"{name}[{i}]", x, item) for i, x in enumerate(value)]
    return value


@dataclass(frozen=True)
class Cost:
    """What a chapter run costs, from its parameters alone (a chapter module's ``cost(P)``).

    Attributes
    ----------
    memory_bytes : float
        Peak memory of the largest arrays the run holds at once (operators, stacked factors,
        recorded curves), in bytes.
    work : float
        The dominant arithmetic, in operator-entry touches: the sum over the gradient-descent
        runs of iterations times ``m * n1 * n2`` (Gaussian operators) or ``n1 * n2 * k`` (the
        identity), plus any other heavy term. Comparable between parameter sets of one
        chapter, not between chapters.
    drivers : tuple of str
        The parameters that drive ``work``, most influential first.
    """

    memory_bytes: float
    work: float
    drivers: tuple = ()


def gd_cost(runs: int, iters: int, *, m: int, n1: int, n2: int, k: int, r: int, every: int) -> tuple[float, float]:
    """``(work, bytes)`` of one batch of :func:`opsense.run_gd`, for a chapter's ``cost``.

    Work: ``runs * iters * n1 n2 (2 m + 3 k)`` (two operator passes, ``m = 0`` for the identity
    operator, and three factor products per iteration). Memory: the final factors
    ``runs (n1 + n2) k`` and the recorded curves ``runs * records * (min(n1, n2, k) + 2 r + 9)``
    (the scalars the engine records per step), 8 bytes each.

    Parameters
    ----------
    runs, iters : int
        Runs of the batch and gradient steps of each.
    m, n1, n2, k, r : int, keyword-only
        Measurements (0 for the identity), shape, width and rank.
    every : int, keyword-only
        ``record_every``.

    Returns
    -------
    (float, float)
    """
    records = iters // every + 1 + (1 if iters % every else 0)
    work = float(runs) * iters * n1 * n2 * (2 * m + 3 * k)
    return work, 8.0 * runs * ((n1 + n2) * k + records * (min(n1, n2, k) + 2 * r + 9))


class Parameters(SimpleNamespace):
    """A chapter's validated parameters: one attribute per parameter, plus ``preset`` and
    ``results_dir``."""

    def as_dict(self) -> dict:
        return dict(vars(self))


def merge(preset: str, presets: dict, *, results_dir=None, **given) -> Parameters:
    """Merge parameters with a preset and check each value's type (no domain checks).

    Parameters
    ----------
    preset : str
        A key of ``presets``.
    presets : dict of dict
        ``{preset name: {parameter: value}}``; every preset has the same keys. The type
        of each value fixes what is accepted: ``bool``; ``int`` (``>= 1``, or ``>= 0``
        if the preset value is 0); ``float`` (finite, ``> 0``); ``str``; a non-empty
        ``list`` of such (a string such as ``"[0.1, 0.01]"`` is parsed).
    results_dir : str or None, keyword-only
    **given
        Parameter values; ``None`` takes the preset's value.

    Returns
    -------
    Parameters
    """
    if not isinstance(presets, dict) or not presets:
        raise ValueError("presets must be a non-empty dict of dicts")
    if not isinstance(preset, str) or preset not in presets:
        raise ValueError(f"parameter preset must be one of {', '.join(map(repr, presets))}; got {preset!r}")
    base = presets[preset]
    unknown = sorted(set(given) - set(base))
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(unknown)}; allowed: {', '.join(sorted(base))}")
    out = {}
    for name, like in base.items():
        value = given.get(name)
        out[name] = like if value is None else _check(name, value, like)
    if results_dir is not None and not isinstance(results_dir, (str, os.PathLike)):
        raise ValueError(f"parameter results_dir must be a path (string) or None, got {results_dir!r}")
    return Parameters(preset=preset, results_dir=None if results_dir is None else os.fspath(results_dir), **out)


def parameter_check(check):
    """Decorator for a chapter's ``check(P)``: every ``ValueError`` it raises starts with
    ``"parameter "``, so that the generic checks of ``opsense._validate`` (``"n1 must be an
    integer >= 1, got 0"``) speak of the chapter's parameter (``"parameter n1 must ..."``).

    Parameters
    ----------
    check : callable
        ``check(P)``, raising ``ValueError`` for an infeasible value.

    Returns
    -------
    callable
        The same check with its messages prefixed.
    """
    @functools.wraps(check)
    def wrapped(P):
        try:
            return check(P)
        except ValueError as err:
            msg = str(err)
            raise ValueError(msg if msg.startswith("parameter ") else f"parameter {msg}") from None

    return wrapped


def configure(chapter, preset: str = "book", *, results_dir=None, **given) -> Parameters:
    """A chapter's parameters: its preset, the given values, its own ``check``.

    The one path every parameter takes, in the notebook and in the command line alike
    (which calls it before any kernel starts).

    Parameters
    ----------
    chapter : module
        A chapter module (``opsense.chapters.<stem>``) with ``PRESETS`` (dict of dicts)
        and ``check(P)``, which raises ``ValueError`` naming the parameter for every
        infeasible value.
    preset : str
        A key of ``chapter.PRESETS`` (``"book"``: fast; ``"paper"``: the papers' sizes).
    results_dir : str or None, keyword-only
        Folder for figures and ``claims.json`` (created later by whoever writes).
    **given
        The chapter's parameters; ``None`` takes the preset's value.

    Returns
    -------
    Parameters

    Notes
    -----
    When the environment variable ``OPSENSE_BLAS_THREADS`` is set (``opsense run`` sets it for
    the chapters' kernels, ``opsense sweep`` for its workers), NumPy's BLAS is limited to that
    many threads (:func:`opsense.blas.limit_threads`).
    """
    presets = getattr(chapter, "PRESETS", None)
    check = getattr(chapter, "check", None)
    if not isinstance(presets, dict) or not callable(check):
        raise ValueError(f"chapter must be a chapter module with PRESETS and check(P), got {chapter!r}")
    P = merge(preset, presets, results_dir=results_dir, **given)
    check(P)
    from . import blas

    threads = blas.threads_from_env()    # set by ``opsense run --threads`` and the sweep's workers
    if threads is not None:
        blas.limit_threads(threads)
    return P
