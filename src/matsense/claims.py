"""Claims: every chapter ends by checking its predictions against its measurements.

A :class:`~matsense.Claim` holds an id, the statement, the prediction, the measured value,
the tolerance and whether it holds. :func:`~matsense.check_claims` turns a list of claims
into a rounded table (so nbval can compare it), writes ``claims.json`` when asked,
and raises :class:`~matsense.ClaimsFailed` listing every claim that does not hold.
"""

from __future__ import annotations

import html
import json
import math
import os
from dataclasses import asdict, dataclass

from . import _validate as v

__all__ = ["Claim", "ClaimTable", "ClaimsFailed", "claim_between", "claim_close", "claim_true", "check_claims"]


class ClaimsFailed(AssertionError):
    """At least one claim of a chapter does not hold."""


def format_value(x) -> str:
    """A value as the claims tables print it (3 significant digits, yes/no, nan)."""
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        if math.isnan(x):
            return "nan"
        return f"{x:.3g}"
    return str(x)


@dataclass(frozen=True)
class Claim:
    """One checked claim.

    Attributes
    ----------
    id : str
        Stable identifier, e.g. ``"B1.tail-slope"``.
    statement : str
        What is claimed, in words.
    predicted : str
        The prediction (value or range), as text.
    measured : float, bool or str
        What the experiment gave.
    tolerance : str
        The tolerance and where it comes from.
    holds : bool
    """

    id: str
    statement: str
    predicted: str
    measured: float | bool | str
    tolerance: str
    holds: bool


def _measured(name, x):
    if isinstance(x, bool):
        return x
    try:
        return float(x)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {x!r}") from None


def claim_between(id: str, statement: str, measured, lo: float, hi: float, *, tolerance: str) -> Claim:
    """The measured value lies in ``[lo, hi]``."""
    m = _measured("measured", measured)
    lo, hi = v.real("lo", lo), v.real("hi", hi)
    if lo > hi:
        raise ValueError(f"lo must be <= hi, got {lo} > {hi}")
    return Claim(id, statement, f"[{format_value(lo)}, {format_value(hi)}]", m, tolerance, bool(lo <= m <= hi))


def claim_close(id: str, statement: str, measured, predicted: float, *, rtol: float | None = None,
                atol: float | None = None, tolerance: str) -> Claim:
    """The measured value is within ``rtol`` (relative) or ``atol`` (absolute) of the prediction."""
    m = _measured("measured", measured)
    p = v.real("predicted", predicted)
    if (rtol is None) == (atol is None):
        raise ValueError("give exactly one of rtol or atol")
    bound = v.real("rtol", rtol, positive=True) * abs(p) if rtol is not None else v.real("atol", atol, positive=True)
    what = f"{format_value(p)} ± {format_value(rtol * 100.0)}%" if rtol is not None else f"{format_value(p)} ± {format_value(atol)}"
    return Claim(id, statement, what, m, tolerance, bool(abs(m - p) <= bound))


def claim_true(id: str, statement: str, holds: bool, *, measured, predicted: str, tolerance: str) -> Claim:
    """A claim whose test is computed by the caller (an ordering, a monotonicity...)."""
    if not isinstance(holds, bool):
        holds = bool(holds)
    m = measured if isinstance(measured, (bool, str)) else _measured("measured", measured)
    return Claim(id, statement, str(predicted), m, tolerance, holds)


class ClaimTable:
    """The claims of one chapter, rendered rounded as text and HTML."""

    columns = ("id", "statement", "predicted", "measured", "tolerance", "holds")

    def __init__(self, chapter: str, claims: list[Claim]):
        self.chapter = chapter
        self.claims = list(claims)

    @property
    def failed(self) -> list[Claim]:
        return [c for c in self.claims if not c.holds]

    def rows(self) -> list[list[str]]:
        return [[format_value(getattr(c, col)) for col in self.columns] for c in self.claims]

    def __repr__(self) -> str:
        rows = [list(self.columns)] + self.rows()
        widths = [max(len(r[i]) for r in rows) for i in range(len(self.columns))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
        n, bad = len(self.claims), len(self.failed)
        lines.append(f"{n} claims, {n - bad} hold, {bad} fail")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{c}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in self.rows())
        n, bad = len(self.claims), len(self.failed)
        return (f'<table class="matsense-claims"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
                f"<p>{n} claims, {n - bad} hold, {bad} fail</p>")

    def to_json(self) -> dict:
        return {"chapter": self.chapter, "claims": [asdict(c) for c in self.claims]}


def check_claims(claims, *, chapter: str, results_dir: str | os.PathLike | None = None,
                 parameters: dict | None = None) -> ClaimTable:
    """Check a chapter's claims: table, optional ``claims.json``, error if any fails.

    Parameters
    ----------
    claims : list of Claim
    chapter : str, keyword-only
        The chapter's name (its notebook stem).
    results_dir : path, keyword-only, optional
        If given, ``claims.json`` is written there (the folder is created).
    parameters : dict, keyword-only, optional
        The chapter's parameters, stored in ``claims.json``.

    Returns
    -------
    ClaimTable
        Displayed as a rounded table in a notebook.

    Raises
    ------
    ClaimsFailed
        After writing ``claims.json``, if any claim does not hold; the message lists them.
    """
    claims = list(claims)
    if not claims or not all(isinstance(c, Claim) for c in claims):
        raise ValueError("claims must be a non-empty list of Claim")
    if not isinstance(chapter, str) or not chapter:
        raise ValueError(f"chapter must be a non-empty string, got {chapter!r}")
    table = ClaimTable(chapter, claims)
    if results_dir is not None:
        os.makedirs(results_dir, exist_ok=True)
        doc = table.to_json()
        if parameters is not None:
            doc["parameters"] = {k: val for k, val in parameters.items() if _jsonable(val)}
        with open(os.path.join(results_dir, "claims.json"), "w") as fh:
            json.dump(doc, fh, indent=2, default=float)
    if table.failed:
        lines = [f"  {c.id}: {c.statement} -- predicted {c.predicted}, measured {format_value(c.measured)} ({c.tolerance})"
                 for c in table.failed]
        raise ClaimsFailed(f"{len(table.failed)} of {len(claims)} claims of chapter {chapter!r} do not hold:\n"
                           + "\n".join(lines))
    return table


def _jsonable(x) -> bool:
    try:
        json.dumps(x)
        return True
    except TypeError:
        return False
