"""Small helpers for the notebook pages: glued numbers and the presets table.

Chapters print rounded numbers only and glue plain Python floats (never NumPy scalars,
whose repr would reach the prose).
"""

from __future__ import annotations

import numbers

__all__ = ["rounded", "glue_all", "presets_table", "timing"]


def rounded(x, digits: int = 3):
    """``x`` as a plain Python number with ``digits`` significant digits (ints and strings unchanged).

    Parameters
    ----------
    x : number or str
    digits : int
        Significant digits of a float.
    """
    if isinstance(x, bool) or isinstance(x, str):
        return x
    if isinstance(x, numbers.Integral):
        return int(x)
    if isinstance(x, numbers.Real):
        return float(f"{float(x):.{digits}g}")
    raise ValueError(f"rounded takes a number or a string, got {type(x).__name__}")


def glue_all(values: dict, *, digits: int = 3) -> None:
    """Glue every ``name: value`` with myst-nb (``display=False``), numbers rounded by :func:`rounded`.

    Parameters
    ----------
    values : dict of str to number or str
    digits : int, keyword-only
        Significant digits of floats.
    """
    from myst_nb import glue

    if not isinstance(values, dict) or not all(isinstance(k, str) and k for k in values):
        raise ValueError("values must be a dict with non-empty string keys")
    for key, val in values.items():
        glue(key, rounded(val, digits), display=False)


def presets_table(presets: dict) -> str:
    """The presets of a chapter as a text table: one row per parameter, one column per preset.

    Parameters
    ----------
    presets : dict of dict
        ``{preset: {parameter: value}}``, as a chapter module's ``PRESETS``.
    """
    if not isinstance(presets, dict) or not presets or not all(isinstance(p, dict) for p in presets.values()):
        raise ValueError("presets must be a non-empty dict of dicts")
    names = list(presets)
    keys = list(next(iter(presets.values())))
    rows = [["parameter", *names]] + [[k, *(str(presets[n][k]) for n in names)] for k in keys]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def timing(*experiments) -> str:
    """The line a chapter's timing cell prints: the run time of its computations.

    Parameters
    ----------
    *experiments : objects with a ``seconds`` attribute (float)
        The chapter's experiments (dataclasses returned by its ``run`` functions).

    Returns
    -------
    str
    """
    if not experiments or not all(isinstance(getattr(e, "seconds", None), (int, float)) for e in experiments):
        raise ValueError("timing takes one or more experiments with a `seconds` attribute")
    return f"run time of the chapter's computations: {sum(e.seconds for e in experiments):.1f} s"
