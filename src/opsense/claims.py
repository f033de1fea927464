"""Claims as data: every chapter ends by checking its predictions against its measurements.

A :class:`~opsense.Claim` records what is claimed (``statement``), the measured value at full
precision, numeric bounds (an interval ``[lo, hi]``, or a ``target`` with ``rtol`` or
``atol``), the **basis** of the bounds and the **verdict**:

basis
    ``"theory"``: a number the papers (or a proof restated on the page) predict;
    ``"derived-on-page"``: a result derived in the chapter itself;
    ``"specification"``: a threshold of ours, stated on the page;
    ``"identity"``: exact algebra, checked to rounding error.
form
    how the bounds test the claim: ``"value"`` (a number with a band), ``"bound"`` (one
    side only), ``"scaling"`` (a slope fitted across a parameter range), ``"paired-ratio"``
    (a ratio between paired conditions of the same instances), ``"identity"``.
verdict
    ``"holds"``; ``"fails"``; or ``"does not reproduce"``: the claim does not hold, and the
    chapter documents why (``expected_failure``). Such a claim is counted apart and does
    not make the chapter fail; it is never dropped.

A claim measured over independent instances carries an :class:`~opsense.stats.Interval`
(pass one as ``measured``): its mean is ``measured``, its 95% interval ``[ci_lo, ci_hi]``
and ``n`` the number of instances. Its ``test`` says how the interval meets the bounds:
``"overlaps"`` (the interval meets ``[lo, hi]``: the data are consistent with a predicted
number and its model tolerance; the default of :func:`~opsense.close`) or ``"inside"``
(the whole interval lies in ``[lo, hi]``: a bound or a band holds for the mean with 95%
confidence; the default of :func:`~opsense.between`, :func:`~opsense.at_most` and
:func:`~opsense.at_least`).

The verdict is a function of the numbers alone (:func:`~opsense.claims.verdict_of`), so any tool can
re-check a stored claim. :func:`~opsense.evaluate_claims` turns a chapter's claims into a
:class:`~opsense.ClaimTable`, which a notebook displays as a rounded table *and* as the
machine-readable bundle ``MIME_TYPE``; it also writes ``claims.json`` when asked,
and raises :class:`~opsense.ClaimsFailed` when a claim fails. :func:`~opsense.read_claims` validates a
stored document and re-derives every verdict.
"""

from __future__ import annotations

import html
import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field

from . import _validate as v
from .stats import Interval

__all__ = ["BASES", "FORMS", "TESTS", "VERDICTS", "MIME_TYPE", "Claim", "ClaimTable", "ClaimsFailed", "ClaimsDataError",
           "between", "at_most", "at_least", "close", "verdict_of", "format_value", "format_measured",
           "evaluate_claims", "read_claims", "bundle_document", "write_json_atomic"]

BASES = ("theory", "derived-on-page", "specification", "identity")
FORMS = ("value", "bound", "scaling", "paired-ratio", "identity")
#: How a measured value meets the bounds: the value itself, or an instance interval that
#: overlaps them or lies inside them.
TESTS = ("value", "overlaps", "inside")
VERDICTS = ("holds", "fails", "does not reproduce")
#: The mime type of the machine-readable claims bundle in an executed notebook. Its value is
#: the JSON document as text (a ``text/`` type is stored as a string, so that nbval's
#: sanitizers apply to it as to the rounded table; see :func:`~opsense.claims.bundle_document`).
MIME_TYPE = "text/vnd.opsense.claims+json"
SCHEMA = 2
#: Schemas :func:`read_claims` accepts (version 1 had no intervals and no form).
READABLE_SCHEMAS = (1, 2)


class ClaimsFailed(AssertionError):
    """At least one claim of a chapter fails (a claim that "does not reproduce" does not count)."""


class ClaimsDataError(ValueError):
    """A stored claims document is not valid."""


# ----------------------------------------------------------------------------- values
def format_value(x) -> str:
    """A number as the tables print it: 3 significant digits (``nan``, ``inf`` as such).

    Parameters
    ----------
    x : number, bool, str or None
    """
    if x is None:
        return ""
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, (int, float)):
        x = float(x)
        if math.isnan(x):
            return "nan"
        return f"{x:.3g}"
    return str(x)


def _side(x: float, b: float) -> int:
    return (x > b) - (x < b)


def format_measured(x: float, bounds=()) -> str:
    """``x`` with 3 significant digits, or more where fewer would round it onto or across a bound.

    Parameters
    ----------
    x : float
    bounds : sequence of float, optional
        The bounds ``x`` is compared with (infinite ones are ignored).

    Returns
    -------
    str
        At least 3 significant digits, and enough to show the difference from every finite
        bound to one more digit (0.99988 against 0.999 shows as ``0.99988``, never ``1``);
        the form always lies on the same side of every bound as ``x`` itself.
    """
    x = float(x)
    if not math.isfinite(x):
        return format_value(x)
    finite = [float(b) for b in bounds if b is not None and math.isfinite(b)]
    start = 3
    for b in finite:
        if x != b and x != 0.0:
            start = max(start, math.ceil(math.log10(abs(x) / abs(x - b))) + 1)
    for digits in range(min(start, 17), 18):
        text = f"{x:.{digits}g}"
        if all(_side(float(text), b) == _side(x, b) for b in finite):
            return text
    return repr(x)


# ----------------------------------------------------------------------------- one claim
@dataclass(frozen=True)
class Claim:
    """One checked claim (build it with :func:`~opsense.between`, :func:`at_most`, :func:`at_least`
    or :func:`close`).

    Attributes
    ----------
    id : str
        Stable identifier, ``"<chapter prefix>.<name>"``, e.g. ``"b1.tail-slope"``.
    statement : str
        What is claimed, in words.
    measured : float
        The measured value, at full precision (``nan`` if it could not be measured).
    basis : str
        One of ``BASES``.
    lo, hi : float or None
        The interval ``[lo, hi]`` (``-inf``/``inf`` for a one-sided bound); for a
        ``close`` claim, the interval that ``target`` and ``rtol``/``atol`` give.
    target, rtol, atol : float or None
        For a ``close`` claim: the prediction and its relative or absolute tolerance.
    tolerance : str
        Where the bounds come from, in words.
    expected_failure : str or None
        The documented reason why this claim is expected not to hold; with it a claim
        outside its bounds is "does not reproduce" instead of "fails".
    form : str
        One of ``FORMS``.
    test : str
        One of ``TESTS``: ``"value"`` for a single measurement, else how the instance
        interval ``[ci_lo, ci_hi]`` meets ``[lo, hi]``.
    ci_lo, ci_hi : float or None
        The 95% interval over independent instances (``None`` for a single measurement).
    n : int or None
        The number of independent instances.
    values : tuple of float
        The per-instance values (empty for a single measurement).
    verdict : str
        One of ``VERDICTS``, derived from the numbers by :func:`~opsense.claims.verdict_of`.
    """

    id: str
    statement: str
    measured: float
    basis: str
    lo: float
    hi: float
    target: float | None = None
    rtol: float | None = None
    atol: float | None = None
    tolerance: str = ""
    expected_failure: str | None = None
    form: str = "value"
    test: str = "value"
    ci_lo: float | None = None
    ci_hi: float | None = None
    n: int | None = None
    values: tuple = ()
    verdict: str = field(default="", compare=False)

    def __post_init__(self):
        object.__setattr__(self, "verdict", verdict_of(self.measured, self.lo, self.hi, self.expected_failure,
                                                       test=self.test, ci=(self.ci_lo, self.ci_hi)))

    @property
    def holds(self) -> bool:
        return self.verdict == "holds"

    def predicted(self) -> str:
        """The prediction as text: ``[lo, hi]``, ``<= hi``, ``>= lo`` or ``target ± tol``."""
        if self.target is not None:
            if self.rtol is not None:
                return f"{format_value(self.target)} ± {format_value(100.0 * self.rtol)}%"
            return f"{format_value(self.target)} ± {format_value(self.atol)}"
        if self.lo == -math.inf:
            return f"<= {format_value(self.hi)}"
        if self.hi == math.inf:
            return f">= {format_value(self.lo)}"
        return f"[{format_value(self.lo)}, {format_value(self.hi)}]"

    def measured_text(self) -> str:
        """The measured value with enough digits that it is never rounded onto a bound; for an
        instance interval, ``"mean [ci_lo, ci_hi] (n=N)"``."""
        if self.test == "value":
            return format_measured(self.measured, (self.lo, self.hi))
        bounds = (self.lo, self.hi)
        return (f"{format_value(self.measured)} [{format_measured(self.ci_lo, bounds)}, "
                f"{format_measured(self.ci_hi, bounds)}] (n={self.n})")

    def to_dict(self) -> dict:
        d = asdict(self)
        for key in ("measured", "lo", "hi", "ci_lo", "ci_hi"):
            d[key] = _json_float(d[key])
        d["values"] = [_json_float(x) for x in self.values]
        return d


def _json_float(x):
    """Floats for JSON: ``inf`` and ``nan`` as strings (strict JSON has neither)."""
    if x is None:
        return None
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def _from_json_float(name, x):
    if isinstance(x, str) and x in ("nan", "inf", "-inf"):
        return float(x)
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise ClaimsDataError(f"{name} must be a number, got {x!r}")
    return float(x)


def verdict_of(measured: float, lo: float, hi: float, expected_failure: str | None = None, *,
               test: str = "value", ci=(None, None)) -> str:
    """The verdict of a claim from its numbers: "holds" if the measurement meets ``[lo, hi]``,
    else "does not reproduce" when an ``expected_failure`` reason is given, else "fails".

    Parameters
    ----------
    measured, lo, hi : float
    expected_failure : str or None
    test : str, keyword-only
        ``"value"``: ``lo <= measured <= hi``; ``"overlaps"``: the interval ``ci`` meets
        ``[lo, hi]``; ``"inside"``: ``ci`` lies within ``[lo, hi]``.
    ci : (float, float), keyword-only
        The instance interval, for the interval tests.
    """
    if test == "value":
        ok = bool(lo <= measured <= hi)  # False for nan
    else:
        c_lo, c_hi = (math.nan if x is None else float(x) for x in ci)
        if test == "overlaps":
            ok = bool(c_lo <= hi and c_hi >= lo and c_lo <= c_hi)
        elif test == "inside":
            ok = bool(lo <= c_lo <= c_hi <= hi)
        else:
            raise ValueError(f"test must be one of {', '.join(TESTS)}, got {test!r}")
    if ok:
        return "holds"
    return "does not reproduce" if expected_failure else "fails"


def _interval_fields(measured, test, default_test, form, basis, lo, hi):
    """``(measured, extra Claim fields)`` for a value or an :class:`~opsense.stats.Interval`."""
    if form is None:
        form = "identity" if basis == "identity" else ("bound" if math.isinf(lo) or math.isinf(hi) else "value")
    form = v.choice("form", form, FORMS)
    if not isinstance(measured, Interval):
        if test not in (None, "value"):
            raise ValueError(f"test={test!r} needs an Interval as measured (opsense.stats.instance_interval)")
        return measured, {"form": form}
    test = v.choice("test", default_test if test is None else test, TESTS[1:])
    return measured.mean, {"form": form, "test": test, "ci_lo": float(measured.lo), "ci_hi": float(measured.hi),
                           "n": int(measured.n), "values": tuple(float(x) for x in measured.values)}


def _common(id, statement, measured, basis, tolerance, expected_failure):
    if not isinstance(id, str) or not id or any(c.isspace() for c in id):
        raise ValueError(f"id must be a non-empty string without spaces, got {id!r}")
    if not isinstance(statement, str) or not statement:
        raise ValueError(f"statement must be a non-empty string, got {statement!r}")
    if isinstance(measured, bool):
        raise ValueError(f"measured must be a real number, not a bool (claim {id}); "
                         "measure a number and bound it instead")
    if isinstance(measured, (str, bytes)):
        raise ValueError(f"measured must be a real number, got {measured!r} (claim {id})")
    try:
        m = float(measured)
    except (TypeError, ValueError):
        raise ValueError(f"measured must be a real number, got {measured!r} (claim {id})") from None
    basis = v.choice("basis", basis, BASES)
    if not isinstance(tolerance, str):
        raise ValueError(f"tolerance must be a string, got {tolerance!r}")
    if expected_failure is not None and (not isinstance(expected_failure, str) or not expected_failure.strip()):
        raise ValueError("expected_failure must be None or a non-empty reason")
    return m, basis


def between(id: str, statement: str, measured, lo: float, hi: float, *, basis: str, tolerance: str = "",
            expected_failure: str | None = None, form: str | None = None, test: str | None = None) -> Claim:
    """The measured value lies in ``[lo, hi]`` (either may be infinite, not both).

    Parameters
    ----------
    id, statement : str
    measured : float or Interval
        A single measurement, or an :class:`~opsense.stats.Interval` over independent instances.
    lo, hi : float
        ``lo <= hi``.
    basis : str, keyword-only
        One of ``BASES``.
    tolerance : str, keyword-only
        Where the bounds come from.
    expected_failure : str, keyword-only, optional
        Documented reason for an expected failure ("does not reproduce").
    form : str, keyword-only, optional
        One of ``FORMS``; by default ``"identity"`` for that basis, ``"bound"`` when one
        side is infinite, else ``"value"``.
    test : str, keyword-only, optional
        For an interval: ``"inside"`` (default: the whole interval in ``[lo, hi]``) or
        ``"overlaps"``.

    Returns
    -------
    Claim
    """
    for name, b in (("lo", lo), ("hi", hi)):
        if isinstance(b, bool) or not isinstance(b, (int, float)) or math.isnan(b):
            raise ValueError(f"{name} must be a real number, got {b!r}")
    lo, hi = float(lo), float(hi)
    if lo > hi or (math.isinf(lo) and math.isinf(hi)):
        raise ValueError(f"lo and hi must satisfy lo <= hi and not both be infinite, got [{lo}, {hi}]")
    basis = v.choice("basis", basis, BASES)
    measured, extra = _interval_fields(measured, test, "inside", form, basis, lo, hi)
    m, basis = _common(id, statement, measured, basis, tolerance, expected_failure)
    return Claim(id, statement, m, basis, lo, hi, tolerance=tolerance, expected_failure=expected_failure, **extra)


def at_most(id: str, statement: str, measured, hi: float, *, basis: str, tolerance: str = "",
            expected_failure: str | None = None, form: str | None = None, test: str | None = None) -> Claim:
    """The measured value is ``<= hi`` (see :func:`~opsense.between`).

    Parameters
    ----------
    id, statement, measured, hi, basis, tolerance, expected_failure, form, test
        As for :func:`~opsense.between` (``lo = -inf``).
    """
    return between(id, statement, measured, -math.inf, hi, basis=basis, tolerance=tolerance,
                   expected_failure=expected_failure, form=form, test=test)


def at_least(id: str, statement: str, measured, lo: float, *, basis: str, tolerance: str = "",
             expected_failure: str | None = None, form: str | None = None, test: str | None = None) -> Claim:
    """The measured value is ``>= lo`` (see :func:`~opsense.between`).

    Parameters
    ----------
    id, statement, measured, lo, basis, tolerance, expected_failure, form, test
        As for :func:`~opsense.between` (``hi = inf``).
    """
    return between(id, statement, measured, lo, math.inf, basis=basis, tolerance=tolerance,
                   expected_failure=expected_failure, form=form, test=test)


def close(id: str, statement: str, measured, target: float, *, rtol: float | None = None,
          atol: float | None = None, basis: str, tolerance: str = "",
          expected_failure: str | None = None, form: str | None = None, test: str | None = None) -> Claim:
    """The measured value is within ``rtol`` (relative) or ``atol`` (absolute) of ``target``.

    Parameters
    ----------
    id, statement : str
    measured : float or Interval
        A single measurement, or an :class:`~opsense.stats.Interval` over independent instances.
    target : float
    rtol, atol : float > 0, keyword-only
        Exactly one of them: the model tolerance (for an interval, the instance spread is
        the interval's own).
    basis, tolerance, expected_failure, form : keyword-only
        As for :func:`~opsense.between`.
    test : str, keyword-only, optional
        For an interval: ``"overlaps"`` (default: the interval meets ``target ± tol``) or
        ``"inside"``.

    Returns
    -------
    Claim
    """
    target = v.real("target", target)
    if (rtol is None) == (atol is None):
        raise ValueError("give exactly one of rtol or atol")
    if rtol is not None:
        rtol = v.real("rtol", rtol, positive=True)
        half = rtol * abs(target)
    else:
        atol = v.real("atol", atol, positive=True)
        half = atol
    basis = v.choice("basis", basis, BASES)
    lo, hi = target - half, target + half
    measured, extra = _interval_fields(measured, test, "overlaps", form, basis, lo, hi)
    m, basis = _common(id, statement, measured, basis, tolerance, expected_failure)
    return Claim(id, statement, m, basis, lo, hi, target=target, rtol=rtol, atol=atol,
                 tolerance=tolerance, expected_failure=expected_failure, **extra)


# ----------------------------------------------------------------------------- a chapter's claims
def _counts(claims) -> dict:
    return {verdict: sum(c.verdict == verdict for c in claims) for verdict in VERDICTS}


def summary_line(counts: dict) -> str:
    """``"N claims: H hold, D do not reproduce (documented), F unexpected"``."""
    n = sum(counts.values())
    return (f"{n} claims: {counts['holds']} hold, {counts['does not reproduce']} do not reproduce "
            f"(documented), {counts['fails']} unexpected")


class ClaimTable:
    """The claims of one chapter: a rounded table (text, HTML) and the data bundle."""

    columns = ("id", "statement", "predicted", "measured", "basis", "verdict")

    def __init__(self, chapter: str, claims: list[Claim], parameters: dict | None = None):
        self.chapter = chapter
        self.claims = list(claims)
        self.parameters = dict(parameters or {})

    @property
    def failed(self) -> list[Claim]:
        return [c for c in self.claims if c.verdict == "fails"]

    @property
    def counts(self) -> dict:
        return _counts(self.claims)

    def rows(self) -> list[list[str]]:
        return [[c.id, c.statement, c.predicted(), c.measured_text(), c.basis, c.verdict] for c in self.claims]

    def __repr__(self) -> str:
        rows = [list(self.columns)] + self.rows()
        widths = [max(len(r[i]) for r in rows) for i in range(len(self.columns))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
        lines.append(summary_line(self.counts))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{c}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
                       for row in self.rows())
        return (f'<table class="opsense-claims"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
                f"<p>{html.escape(summary_line(self.counts))}</p>")

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/plain": repr(self), "text/html": self._repr_html_(),
                MIME_TYPE: json.dumps(self.to_json(), allow_nan=False)}

    def to_json(self) -> dict:
        return {"schema": SCHEMA, "chapter": self.chapter, "counts": self.counts,
                "parameters": {k: val for k, val in self.parameters.items() if _jsonable(val)},
                "claims": [c.to_dict() for c in self.claims]}


def write_json_atomic(path: str | os.PathLike, doc) -> None:
    """Write ``doc`` as JSON to ``path`` atomically (a temporary file in the same folder, then rename).

    Parameters
    ----------
    path : path
        Destination; its folder must exist.
    doc : JSON-serialisable object
        Written with ``allow_nan=False`` (strict JSON).
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2, allow_nan=False)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def evaluate_claims(claims, *, chapter: str, parameters=None, results_dir: str | os.PathLike | None = None
                    ) -> ClaimTable:
    """Evaluate a chapter's claims: a table, optional ``claims.json``, an error if any fails.

    Parameters
    ----------
    claims : list of Claim
    chapter : str, keyword-only
        The chapter's name (its notebook stem).
    parameters : dict or namespace, keyword-only, optional
        The chapter's parameters, stored with the claims.
    results_dir : path, keyword-only, optional
        If given, ``claims.json`` is written there (atomically; the folder is created).

    Returns
    -------
    ClaimTable
        Displayed in a notebook as a rounded table, with the data bundle ``MIME_TYPE``.

    Raises
    ------
    ClaimsFailed
        If any claim fails; the table is displayed and ``claims.json`` written first.
    """
    claims = list(claims)
    if not claims or not all(isinstance(c, Claim) for c in claims):
        raise ValueError("claims must be a non-empty list of Claim")
    ids = [c.id for c in claims]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ValueError(f"claim ids must be unique within a chapter, repeated: {', '.join(dup)}")
    if not isinstance(chapter, str) or not chapter:
        raise ValueError(f"chapter must be a non-empty string, got {chapter!r}")
    if parameters is not None and not isinstance(parameters, dict):
        parameters = dict(vars(parameters))
    if parameters is not None:  # where the outputs go is not a parameter of the experiment
        parameters = {k: val for k, val in parameters.items() if k != "results_dir"}
    table = ClaimTable(chapter, claims, parameters)
    if results_dir is not None:
        os.makedirs(results_dir, exist_ok=True)
        write_json_atomic(os.path.join(results_dir, "claims.json"), table.to_json())
    if table.failed:
        _display_if_interactive(table)
        lines = [f"  {c.id}: {c.statement}: predicted {c.predicted()}, measured {c.measured_text()} "
                 f"({c.basis}; {c.tolerance})" for c in table.failed]
        raise ClaimsFailed(f"{len(table.failed)} of {len(claims)} claims of chapter {chapter!r} fail:\n"
                           + "\n".join(lines))
    return table


def bundle_document(data) -> dict:
    """The claims document of a stored ``MIME_TYPE`` output (text, lines of text, or a dict).

    Parameters
    ----------
    data : str, list of str or dict
        ``output["data"][MIME_TYPE]`` of an executed notebook.

    Returns
    -------
    dict

    Raises
    ------
    ClaimsDataError
        If the text is not JSON.
    """
    if isinstance(data, list):
        data = "".join(data)
    if isinstance(data, str):
        try:
            return json.loads(data)
        except ValueError as err:
            raise ClaimsDataError(f"the claims bundle is not valid JSON: {err}") from None
    return data


def _display_if_interactive(table) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython is a dependency of the book extra only
        return
    if get_ipython() is not None:
        display(table)


def read_claims(doc, *, source: str = "claims") -> ClaimTable:
    """Validate a stored claims document and re-derive every verdict from its numbers.

    Parameters
    ----------
    doc : dict
        As written by :func:`~opsense.evaluate_claims` (``claims.json``, or the notebook bundle).
    source : str, keyword-only
        Named in error messages (a path, say).

    Returns
    -------
    ClaimTable

    Raises
    ------
    ClaimsDataError
        If the document is not a valid claims document, or a stored verdict disagrees with
        the one its numbers give.
    """
    if not isinstance(doc, dict):
        raise ClaimsDataError(f"{source}: a claims document must be a JSON object, got {type(doc).__name__}")
    if doc.get("schema") not in READABLE_SCHEMAS:
        raise ClaimsDataError(f"{source}: unknown schema {doc.get('schema')!r} "
                              f"(expected one of {', '.join(map(str, READABLE_SCHEMAS))})")
    chapter = doc.get("chapter")
    raw = doc.get("claims")
    if not isinstance(chapter, str) or not chapter:
        raise ClaimsDataError(f"{source}: 'chapter' must be a non-empty string")
    if not isinstance(raw, list) or not raw:
        raise ClaimsDataError(f"{source}: 'claims' must be a non-empty list")
    out = []
    for i, c in enumerate(raw):
        where = f"{source}: claims[{i}]"
        if not isinstance(c, dict):
            raise ClaimsDataError(f"{where} must be an object")
        try:
            claim = Claim(
                id=str(c["id"]), statement=str(c["statement"]),
                measured=_from_json_float(f"{where}.measured", c["measured"]),
                basis=c["basis"] if c["basis"] in BASES else _bad(f"{where}.basis", c["basis"], BASES),
                lo=_from_json_float(f"{where}.lo", c["lo"]), hi=_from_json_float(f"{where}.hi", c["hi"]),
                target=None if c.get("target") is None else _from_json_float(f"{where}.target", c["target"]),
                rtol=c.get("rtol"), atol=c.get("atol"), tolerance=str(c.get("tolerance", "")),
                expected_failure=c.get("expected_failure") or None,
                form=_member(f"{where}.form", c.get("form", "value"), FORMS),
                test=_member(f"{where}.test", c.get("test", "value"), TESTS),
                ci_lo=None if c.get("ci_lo") is None else _from_json_float(f"{where}.ci_lo", c["ci_lo"]),
                ci_hi=None if c.get("ci_hi") is None else _from_json_float(f"{where}.ci_hi", c["ci_hi"]),
                n=_count(f"{where}.n", c.get("n")),
                values=tuple(_from_json_float(f"{where}.values", x) for x in _list(f"{where}.values",
                                                                                     c.get("values", []))))
        except KeyError as e:
            raise ClaimsDataError(f"{where} has no {e.args[0]!r}") from None
        stored = c.get("verdict")
        if stored != claim.verdict:
            raise ClaimsDataError(f"{where} ({claim.id}): stored verdict {stored!r} disagrees with its numbers, "
                                  f"which give {claim.verdict!r}")
        out.append(claim)
    params = doc.get("parameters") if isinstance(doc.get("parameters"), dict) else {}
    return ClaimTable(chapter, out, params)


def _member(name, value, allowed):
    return value if value in allowed else _bad(name, value, allowed)


def _count(name, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ClaimsDataError(f"{name} must be a positive integer or null, got {value!r}")
    return value


def _list(name, value):
    if not isinstance(value, list):
        raise ClaimsDataError(f"{name} must be a list, got {type(value).__name__}")
    return value


def _bad(name, value, allowed):
    raise ClaimsDataError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")


def _jsonable(x) -> bool:
    try:
        json.dumps(x, allow_nan=False)
        return True
    except (TypeError, ValueError):
        return False
