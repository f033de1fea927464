"""Reproduction reports: the claims of every chapter, where they were produced, in how long.

Two sources of claims, both read as data (never from rendered HTML):

* a *run folder* written by ``opsense run`` (one sub-folder per chapter with
  ``claims.json``, ``run.json`` and the executed notebook, plus ``environment.json``):
  :func:`collect` reads it, :func:`write_report` writes ``report.md``,
  ``report.html`` and ``report.json`` (the *record*) into it;
* the *committed chapters* of the book (``book/*.ipynb`` with their outputs):
  :class:`BookReport` reads the claims bundle (``opsense.claims.MIME_TYPE``) that each
  chapter displays, and the record of the last full re-run (``book/reproduction.json``), for
  the book's "Reproduction report" page (built by :mod:`opsense.tools.sphinxext`).

Every claim is re-checked from its numbers (:func:`opsense.read_claims`); every table has the
same summary line, ``N claims: H hold, D do not reproduce (documented), F unexpected``.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import os
import platform
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..claims import (MIME_TYPE, VERDICTS, Claim, ClaimsDataError, bundle_document, read_claims,
                      summary_line as _line, write_json_atomic)

__all__ = ["ChapterResult", "environment", "collect", "counts", "summary_line", "to_markdown", "to_html",
           "write_report", "record", "read_record", "committed_claims", "BookReport", "RECORD_NAME",
           "RECORD_VERSION"]

#: The record of the last full re-run, relative to the book's root.
RECORD_NAME = "book/reproduction.json"
RECORD_FORMAT = "opsense-reproduction-record"
RECORD_VERSION = 2

COLUMNS = ("chapter", "id", "statement", "predicted", "measured", "basis", "verdict")


# ----------------------------------------------------------------------------- environment
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas(kernel_threads: int | None = None) -> dict:
    """NumPy's BLAS as threadpoolctl sees it (:func:`opsense.blas.info`), with the threads the
    chapters' kernels were given and the thread variables set."""
    from .. import blas

    try:
        out = blas.info()
    except Exception as err:  # noqa: BLE001 - a record is still written without it
        out = {"name": "unknown", "source": f"threadpoolctl failed: {type(err).__name__}"}
    if kernel_threads is not None:
        out["kernel_threads"] = int(kernel_threads)
    threads = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
               if k in os.environ}
    if threads:
        out["thread_env"] = threads
    return out


def _git(root: Path) -> dict:
    def run(*args):
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              timeout=20, check=True).stdout.strip()
    try:
        commit = run("rev-parse", "HEAD")
        dirty = bool(run("status", "--porcelain", "--untracked-files=no"))
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "dirty": None}


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def environment(root: str | os.PathLike | None = None, *, kernel_threads: int | None = None) -> dict:
    """Where and with what numbers are produced now.

    Parameters
    ----------
    root : path, optional
        The repository (for its git commit).
    kernel_threads : int, keyword-only, optional
        The BLAS threads given to the chapters' kernels (``opsense run --threads``).

    Returns
    -------
    dict
        ``date`` (UTC, ISO 8601), ``python``, ``platform``, ``cpu``, ``cpu_count``,
        ``numpy``, ``blas`` (:func:`opsense.blas.info`: library, version, kernel in use and the
        machine's native one, threads; ``kernel_threads``),
        ``matplotlib``, ``opsense``, ``papermill``, ``git`` (commit, dirty) of ``root``.
        No host or user names.
    """
    import numpy as np

    from .. import __version__

    root = Path(root) if root is not None else Path.cwd()
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "platform": platform.platform(terse=True),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "blas": _blas(kernel_threads),
        "matplotlib": _version("matplotlib"),
        "opsense": __version__,
        "papermill": _version("papermill"),
        "git": _git(root),
    }


def environment_rows(env: dict) -> list[tuple[str, str]]:
    """``(label, value)`` rows of an :func:`environment` dict, for tables."""
    blas = env.get("blas") or {}
    blas_text = " ".join(x for x in (blas.get("name", ""), blas.get("version", "")) if x)
    parts = [f"{blas['architecture']} kernel" if blas.get("architecture") else "",
             (f"{blas['kernel_threads']} thread{'s' if blas['kernel_threads'] != 1 else ''} per chapter"
              if blas.get("kernel_threads") else f"{blas['threads']} threads" if blas.get("threads") else "")]
    extra = blas.get("configuration") or ", ".join(x for x in parts if x)
    if extra:
        blas_text += f" ({extra})"
    if blas.get("thread_env"):
        blas_text += "; " + ", ".join(f"{k}={v}" for k, v in blas["thread_env"].items())
    git = env.get("git") or {}
    commit = git.get("commit", "unknown")
    if git.get("dirty"):
        commit += " (with uncommitted changes)"
    from ..blas import non_native_warning

    kernel_note = non_native_warning(blas)
    return [
        *([("warning", kernel_note)] if kernel_note else []),
        ("date (UTC)", env.get("date", "")),
        ("git commit", commit),
        ("opsense", env.get("opsense", "")),
        ("Python", env.get("python", "")),
        ("platform", env.get("platform", "")),
        ("CPU", f"{env.get('cpu', '')}, {env.get('cpu_count', '?')} logical cores"),
        ("NumPy", env.get("numpy", "")),
        ("BLAS", blas_text or "unknown"),
        ("Matplotlib", env.get("matplotlib", "")),
        ("papermill", env.get("papermill", "")),
    ]


# ----------------------------------------------------------------------------- results
@dataclass
class ChapterResult:
    """The outcome of one chapter.

    Attributes
    ----------
    chapter : str
    claims : list of Claim
    status : str
        ``"ok"``, ``"claims failed"``, ``"error"`` (a cell failed before the claims),
        ``"no claims"``, ``"parameters refused"`` or ``"invalid claims"`` (a stored claims
        document that is not valid).
    duration_s : float or None
        Execution time of the notebook (papermill's), if known.
    parameters : dict
        The parameters given to the run (beyond the defaults).
    error : str
        What went wrong, if anything.
    """

    chapter: str
    claims: list = field(default_factory=list)
    status: str = "ok"
    duration_s: float | None = None
    parameters: dict = field(default_factory=dict)
    error: str = ""

    @property
    def failed(self) -> list:
        return [c for c in self.claims if c.verdict == "fails"]

    def to_dict(self) -> dict:
        return {"chapter": self.chapter, "status": self.status, "duration_s": self.duration_s,
                "parameters": self.parameters, "error": self.error, "claims": [c.to_dict() for c in self.claims]}


def counts(results) -> dict:
    """``{verdict: number of claims}`` over all results.

    Parameters
    ----------
    results : list of ChapterResult
    """
    return {v: sum(c.verdict == v for r in results for c in r.claims) for v in VERDICTS}


def summary_line(results) -> str:
    """``"N claims: H hold, D do not reproduce (documented), F unexpected"``, plus the chapters that did not finish.

    Parameters
    ----------
    results : list of ChapterResult
    """
    line = _line(counts(results))
    broken = [r.chapter for r in results if r.status not in ("ok", "claims failed")]
    if broken:
        line += f"; {len(broken)} chapter(s) did not finish: {', '.join(broken)}"
    return line


def _load_json(path: Path):
    """``(document, error)``; ``(None, "")`` when the file does not exist."""
    if not path.is_file():
        return None, ""
    try:
        return json.loads(path.read_text(encoding="utf-8")), ""
    except (OSError, UnicodeDecodeError, ValueError) as err:
        return None, f"{path.name} is not valid JSON ({type(err).__name__}: {err})"


def collect(folder: str | os.PathLike, *, order: list[str] | None = None) -> list[ChapterResult]:
    """Every chapter result under ``folder`` (its ``claims.json`` and ``run.json`` files).

    Parameters
    ----------
    folder : path
        A folder written by ``opsense run`` (one chapter) or ``opsense run --all``.
    order : list of str, keyword-only, optional
        Chapter names in the order wanted (the book's); others follow by name.

    Returns
    -------
    list of ChapterResult
        A claims document that is not valid gives the status ``"invalid claims"``, never success.

    Raises
    ------
    FileNotFoundError
        If ``folder`` is not a folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    dirs = sorted({p.parent for p in folder.rglob("claims.json")} | {p.parent for p in folder.rglob("run.json")})
    results = []
    for d in dirs:
        doc, bad = _load_json(d / "claims.json")
        run, run_bad = _load_json(d / "run.json")
        if run is not None and not isinstance(run, dict):
            run, run_bad = None, "run.json is not a JSON object"
        elif isinstance(run, dict) and not (isinstance(run.get("status", ""), str)
                                            and isinstance(run.get("duration_s", 0.0) or 0.0, (int, float))
                                            and isinstance(run.get("parameters", {}) or {}, dict)):
            run, run_bad = None, "run.json has a field of the wrong type (status, duration_s or parameters)"
        bad = bad or (f"{d / 'run.json'}: {run_bad}" if run_bad else "")
        run = run if isinstance(run, dict) else {}
        res = ChapterResult(chapter=run.get("chapter") or d.name, duration_s=run.get("duration_s"),
                            parameters=run.get("parameters") or {}, error=run.get("error") or "")
        if doc is not None:
            try:
                table = read_claims(doc, source=str(d / "claims.json"))
                res.chapter, res.claims = table.chapter, table.claims
            except ClaimsDataError as err:
                bad = str(err)
        if bad:
            res.status, res.error = "invalid claims", bad
        elif run.get("status"):
            res.status = run["status"]
        elif doc is None:
            res.status = "no claims"
        if res.status == "ok" and res.failed:
            res.status = "claims failed"
        if res.status == "ok" and not res.claims:
            res.status = "no claims"
        results.append(res)
    rank = {name: i for i, name in enumerate(order or [])}
    results.sort(key=lambda r: (rank.get(r.chapter, len(rank)), r.chapter))
    return results


def _seconds(x) -> str:
    return "" if x is None else f"{x:.1f} s"


def _md(text) -> str:
    return str(text).replace("|", r"\|").replace("\n", " ")


def _claim_cells(chapter: str, c: Claim) -> tuple:
    return (chapter, c.id, c.statement, c.predicted(), c.measured_text(), c.basis, c.verdict)


def to_markdown(results, env: dict | None = None, *, title: str = "Reproduction report",
                note: str = "") -> str:
    """The report as Markdown: environment, chapters (status, time), every claim, summary line last.

    Parameters
    ----------
    results : list of ChapterResult
    env : dict, optional
        From :func:`environment`.
    title, note : str, keyword-only
    """
    lines = [f"# {title}", ""]
    if note:
        lines += [note, ""]
    if env:
        lines += ["## Environment", "", "| | |", "|---|---|"]
        lines += [f"| {_md(k)} | {_md(v)} |" for k, v in environment_rows(env)]
        lines.append("")
    lines += ["## Chapters", "", "| chapter | status | time | claims | parameters | error |",
              "|---|---|---:|---:|---|---|"]
    for r in results:
        params = ", ".join(f"{k}={v!r}" for k, v in r.parameters.items())
        lines.append(f"| {_md(r.chapter)} | {r.status} | {_seconds(r.duration_s)} | {len(r.claims)} | "
                     f"{_md(params)} | {_md(r.error.splitlines()[0] if r.error else '')} |")
    times = [r.duration_s for r in results if r.duration_s is not None]
    if times:
        lines += ["", f"Execution time of all chapters: {sum(times):.1f} s."]
    lines += ["", "## Claims", "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in results:
        for c in r.claims:
            lines.append("| " + " | ".join(_md(x) for x in _claim_cells(r.chapter, c)) + " |")
    lines += ["", summary_line(results), ""]
    return "\n".join(lines)


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;
vertical-align:top}.fail{color:#b00020;font-weight:bold}.ok{color:#1b5e20}.dnr{color:#8a5a00}"""


def _table(headers, rows, *, cls="") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    c = f' class="{cls}"' if cls else ""
    return f"<table{c}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


#: Styles of the tables on the book's page (the theme's colours where it defines them).
PAGE_CSS = ("<style>div.opsense-scroll{overflow-x:auto;max-width:100%}"
            "table.opsense-report{border-collapse:collapse;margin:.5em 0 1em;font-size:.9em}"
            "table.opsense-report th,table.opsense-report td{vertical-align:top;text-align:left;"
            "padding:.3em .5em;border-bottom:1px solid var(--pst-color-border,#ccc)}"
            "table.opsense-report .fail{color:#b00020;font-weight:bold}"
            "table.opsense-report .dnr{color:#8a5a00;font-weight:bold}"
            "table.opsense-report .ok{color:#1b7a2f}</style>")

_VERDICT_CLASS = {"holds": "ok", "fails": "fail", "does not reproduce": "dnr"}


def _verdict_html(claim: Claim) -> str:
    text = html.escape(claim.verdict)
    if claim.expected_failure and claim.verdict != "holds":
        text += f"<br><small>{html.escape(claim.expected_failure)}</small>"
    return f'<span class="{_VERDICT_CLASS[claim.verdict]}">{text}</span>'


def to_html(results, env: dict | None = None, *, title: str = "Reproduction report", note: str = "") -> str:
    """The report as a standalone HTML page (same content as :func:`to_markdown`).

    Parameters
    ----------
    results : list of ChapterResult
    env : dict, optional
    title, note : str, keyword-only
    """
    e = html.escape
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{e(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{e(title)}</h1>"]
    if note:
        parts.append(f"<p>{e(note)}</p>")
    if env:
        parts.append("<h2>Environment</h2>" + _table(["", ""], [(e(k), e(str(v))) for k, v in environment_rows(env)]))
    rows = [(e(r.chapter), e(r.status), _seconds(r.duration_s), str(len(r.claims)),
             e(", ".join(f"{k}={v!r}" for k, v in r.parameters.items())), f"<pre>{e(r.error)}</pre>" if r.error else "")
            for r in results]
    parts.append("<h2>Chapters</h2>" + _table(["chapter", "status", "time", "claims", "parameters", "error"], rows))
    rows = [tuple(e(x) for x in _claim_cells(r.chapter, c)[:-1]) + (_verdict_html(c),)
            for r in results for c in r.claims]
    parts.append("<h2>Claims</h2>" + _table(COLUMNS, rows, cls="opsense-report"))
    parts.append(f"<p><strong>{e(summary_line(results))}</strong></p></body></html>")
    return "".join(parts)


def record(results, env: dict | None, *, command: str = "") -> dict:
    """The JSON record of a run: environment, every chapter (status, time, claims), summary.

    Parameters
    ----------
    results : list of ChapterResult
    env : dict or None
    command : str, keyword-only
    """
    return {"format": RECORD_FORMAT, "version": RECORD_VERSION, "command": command,
            "environment": env or {}, "chapters": [r.to_dict() for r in results],
            "summary": {**counts(results), "claims": sum(len(r.claims) for r in results),
                        "line": summary_line(results)}}


def read_record(doc, *, source: str = "record") -> list[ChapterResult]:
    """The chapter results of a record written by :func:`record`, every claim re-checked.

    Parameters
    ----------
    doc : dict
    source : str, keyword-only
        Named in error messages.

    Raises
    ------
    ClaimsDataError
        If ``doc`` is not a record of this version, or a claim in it is not valid.
    """
    if not isinstance(doc, dict) or doc.get("format") != RECORD_FORMAT:
        raise ClaimsDataError(f"{source}: not an opsense reproduction record")
    if doc.get("version") != RECORD_VERSION:
        raise ClaimsDataError(f"{source}: record version {doc.get('version')!r}, expected {RECORD_VERSION} "
                              "(re-record it with make reproduce)")
    out = []
    for i, ch in enumerate(doc.get("chapters") or []):
        if not isinstance(ch, dict) or not isinstance(ch.get("chapter"), str):
            raise ClaimsDataError(f"{source}: chapters[{i}] is not a chapter result")
        claims = []
        if ch.get("claims"):
            claims = read_claims({"schema": 1, "chapter": ch["chapter"], "claims": ch["claims"]},
                                 source=f"{source}: {ch['chapter']}").claims
        out.append(ChapterResult(ch["chapter"], claims, str(ch.get("status", "")), ch.get("duration_s"),
                                 ch.get("parameters") or {}, str(ch.get("error") or "")))
    return out


def write_report(folder: str | os.PathLike, results, env: dict | None = None, *, command: str = "",
                 note: str = "") -> dict[str, Path]:
    """Write ``report.md``, ``report.html`` and ``report.json`` into ``folder`` (each atomically).

    Parameters
    ----------
    folder : path
    results : list of ChapterResult
    env : dict, optional
    command : str, keyword-only
        The command that produced the results.
    note : str, keyword-only
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"md": folder / "report.md", "html": folder / "report.html", "json": folder / "report.json"}
    for key, text in (("md", to_markdown(results, env, note=note)), ("html", to_html(results, env, note=note))):
        tmp = paths[key].with_name(f".tmp-{paths[key].name}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, paths[key])
    write_json_atomic(paths["json"], record(results, env, command=command))
    return paths


# ----------------------------------------------------------------------------- the book's page
_DIRECTIVE = re.compile(r"^\s*(?::{3,}|`{3,})\{prf:(theorem|proposition|lemma|corollary|conjecture)\}[ \t]*(.*)$")
_LABEL = re.compile(r"^\s*:label:\s*(\S+)")
_GREEK = {"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "Delta": "Δ", "epsilon": "ε", "eta": "η",
          "kappa": "κ", "lambda": "λ", "mu": "μ", "sigma": "σ", "Sigma": "Σ", "tau": "τ"}


def plain_title(title: str) -> str:
    """A directive title with its inline math ``$...$`` turned into plain text for a table cell
    (``$\\tfrac{16}{9}\\eta\\alpha^2$`` becomes ``16/9·ηα^2``)."""
    def math(m):
        t = re.sub(r"\\[td]?frac\{([^{}]*)\}\{([^{}]*)\}", r"\1/\2·", m.group(1))
        t = re.sub(r"\\([A-Za-z]+)", lambda g: _GREEK.get(g.group(1), ""), t)
        return t.replace("{", "").replace("}", "").replace("··", "·").strip("·")
    return re.sub(r"\$([^$]+)\$", math, title)


@dataclass
class Result:
    """A result restated in a chapter: a ``prf`` theorem, proposition, lemma..."""

    kind: str
    title: str
    label: str


def chapter_results(nb) -> list[Result]:
    """The theorem-like directives of a notebook's markdown cells, in order."""
    out = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.splitlines()
        for i, line in enumerate(lines):
            m = _DIRECTIVE.match(line)
            if not m:
                continue
            label = ""
            for nxt in lines[i + 1:i + 6]:
                lm = _LABEL.match(nxt)
                if lm:
                    label = lm.group(1)
                    break
            out.append(Result(m.group(1), plain_title(m.group(2).strip()), label))
    return out


def committed_claims(nb, *, source: str = "notebook") -> tuple[list[Claim], str]:
    """The claims a committed chapter displays (its ``opsense.claims.MIME_TYPE`` bundle),
    and an error text if it shows an error or its bundle is missing or invalid.

    Parameters
    ----------
    nb : NotebookNode
    source : str, keyword-only
        Named in error messages.
    """
    doc, error = None, ""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                error = f"{out.get('ename')}: {out.get('evalue')}"
            data = (out.get("data") or {}).get(MIME_TYPE)
            if data is not None:
                doc = data
    if doc is None:
        return [], error or "no claims in the committed notebook"
    try:
        return read_claims(bundle_document(doc), source=source).claims, error
    except ClaimsDataError as err:
        return [], str(err)


class BookReport:
    """The book's "Reproduction report": committed claims, and the record of the last full re-run.

    Parameters
    ----------
    root : path, optional
        The book's root (found from the current directory by default).
    record_path : path, optional
        The record to show (default ``book/reproduction.json``), as written by
        ``opsense run --all --record PATH``.

    Attributes
    ----------
    sources : list of Path
        Every file the page depends on (the chapters' notebooks and the record).
    """

    def __init__(self, root=None, record_path=None):
        import nbformat

        from .catalog import discover, find_root

        self.root = find_root() if root is None else Path(root)
        self.chapters = [c for c in discover(self.root) if c.in_toc]
        self.results: list[ChapterResult] = []
        self.theorems: dict[str, list[Result]] = {}
        self.titles = {c.name: c.title for c in self.chapters}
        for ch in self.chapters:
            nb = nbformat.read(ch.path, as_version=4)
            claims, error = committed_claims(nb, source=ch.path.name)
            status = ("error" if error else "no claims" if not claims else
                      "claims failed" if any(c.verdict == "fails" for c in claims) else "ok")
            self.results.append(ChapterResult(ch.name, claims, status, error=error))
            self.theorems[ch.name] = chapter_results(nb)
        path = Path(record_path) if record_path is not None else self.root / RECORD_NAME
        self.record_path = path
        self.sources = [c.path for c in self.chapters] + [path]
        self.record, self.record_error, self.recorded = None, "", []
        if path.is_file():
            self.record, self.record_error = _load_json(path)
            if self.record is not None:
                try:
                    self.recorded = read_record(self.record, source=path.name)
                except ClaimsDataError as err:
                    self.record, self.record_error = None, str(err)

    @property
    def summary(self) -> str:
        """Summary line of the committed chapters."""
        return summary_line(self.results)

    # -- comparison with the record
    def agreement(self) -> dict:
        """Compare the committed claims with the record's.

        Returns
        -------
        dict
            ``same`` (claims with the same measured value to 3 significant digits and the same
            verdict), ``total`` (committed claims), ``differ`` (list of ``(chapter, id,
            committed, recorded)``), ``missing`` (chapters absent from the record).
        """
        rec = {r.chapter: {c.id: c for c in r.claims} for r in self.recorded}
        same, differ, missing = 0, [], []
        for r in self.results:
            if r.chapter not in rec:
                missing.append(r.chapter)
                continue
            for c in r.claims:
                o = rec[r.chapter].get(c.id)
                if o is not None and f"{o.measured:.3g}" == f"{c.measured:.3g}" and o.verdict == c.verdict:
                    same += 1
                else:
                    differ.append((r.chapter, c.id, c.measured_text(), "absent" if o is None else o.measured_text()))
        return {"same": same, "total": sum(len(r.claims) for r in self.results), "differ": differ,
                "missing": missing}

    # -- HTML pieces for the page
    def claims_html(self) -> str:
        """Every claim of every chapter: chapter, results restated, claim, prediction, measured,
        basis, verdict; one row group per chapter; summary line last."""
        e = html.escape
        rows = []
        for r in self.results:
            link = f'<a href="{e(r.chapter)}.html">{e(self.titles.get(r.chapter) or r.chapter)}</a>'
            thms = "<br>".join(
                (f'<a href="{e(r.chapter)}.html#{e(t.label)}">{e(t.title or t.kind)}</a>' if t.label else e(t.title))
                for t in self.theorems.get(r.chapter, [])) or "&mdash;"
            claims = r.claims or [None]
            for i, c in enumerate(claims):
                row = []
                if c is None:
                    row.append(f'<td colspan="5">{e(r.error or "no claims in the committed notebook")}</td>')
                else:
                    why = (f"<br><small><em>Why it does not reproduce:</em> {e(c.expected_failure)}</small>"
                           if c.expected_failure and c.verdict != "holds" else "")
                    row += [f"<td>{_verdict_html(c)}</td>",
                            f"<td><code>{e(c.id)}</code><br>{e(c.statement)}{why}</td>",
                            f"<td>{e(c.predicted())}</td>", f"<td>{e(c.measured_text())}</td>",
                            f"<td>{e(c.basis)} ({e(c.form)})<br><small>{e(c.tolerance)}</small></td>"]
                if i == 0:
                    span = f' rowspan="{len(claims)}"' if len(claims) > 1 else ""
                    row += [f"<td{span}>{link}</td>", f"<td{span}>{thms}</td>"]
                rows.append("<tr>" + "".join(row) + "</tr>")
        head = "".join(f"<th>{h}</th>" for h in ("verdict", "claim", "prediction", "measured", "basis",
                                                 "chapter", "results restated"))
        return (f'{PAGE_CSS}<div class="opsense-scroll"><table class="opsense-report"><thead><tr>{head}</tr></thead>'
                f'<tbody>{"".join(rows)}</tbody></table></div><p><strong>{e(self.summary)}</strong></p>')

    def counts_html(self) -> str:
        """The claims counted by verdict: by basis, by form, and by how they are measured."""
        from ..claims import BASES, FORMS

        e = html.escape
        allc = [c for r in self.results for c in r.claims]

        def table(title, groups):
            rows = []
            for name, cl in groups:
                rows.append((e(name), str(len(cl)), *(str(sum(c.verdict == v for c in cl)) for v in VERDICTS)))
            rows.append(("<strong>all</strong>", str(len(allc)),
                         *(str(sum(c.verdict == v for c in allc)) for v in VERDICTS)))
            return _table([title, "claims", *VERDICTS], rows, cls="opsense-report")

        by_basis = [(b, [c for c in allc if c.basis == b]) for b in BASES]
        by_form = [(f, [c for c in allc if c.form == f]) for f in FORMS]
        by_measure = [("over independent instances", [c for c in allc if c.n is not None]),
                      ("single measurement", [c for c in allc if c.n is None])]
        return PAGE_CSS + table("basis", by_basis) + table("form", by_form) + table("measured", by_measure)

    def record_html(self) -> str:
        """The record: when, where and how fast the last full re-run went, and whether it agrees."""
        e = html.escape
        if self.record_error:
            return (f"<p>The record {e(self.record_path.name)} cannot be read: {e(self.record_error)}. Run "
                    "<code>make reproduce</code> to record a new one.</p>")
        if not self.record:
            return (f"<p>No full re-run has been recorded yet ({e(RECORD_NAME)} is missing): run "
                    "<code>make reproduce</code> (or <code>opsense run --all --record "
                    f"{e(RECORD_NAME)}</code>) to record one.</p>")
        env = self.record.get("environment", {})
        parts = [f"<p>Recorded with <code>{e(self.record.get('command') or 'opsense run --all')}</code> on "
                 f"{e(env.get('date', '?'))} (UTC), at commit <code>{e((env.get('git') or {}).get('commit', '?')[:12])}"
                 f"</code>{' with uncommitted changes' if (env.get('git') or {}).get('dirty') else ''}. "
                 f"Its summary: <strong>{e((self.record.get('summary') or {}).get('line', '?'))}</strong>.</p>"]
        parts.append("<h4>Environment</h4>" + _table(["", ""], [(e(k), e(str(v))) for k, v in environment_rows(env)],
                                                     cls="opsense-report"))
        rows, total = [], 0.0
        for c in self.record.get("chapters", []):
            d = c.get("duration_s")
            total += d or 0.0
            rows.append((e(c.get("chapter", "")), e(c.get("status", "")), _seconds(d), str(len(c.get("claims", [])))))
        rows.append(("<strong>all</strong>", "", f"<strong>{_seconds(total)}</strong>", ""))
        parts.append("<h4>Execution time of each chapter</h4>"
                     + _table(["chapter", "status", "time", "claims"], rows, cls="opsense-report"))
        agree = self.agreement()
        text = (f"The committed chapters and this re-run agree on {agree['same']} of {agree['total']} claims "
                "(same measured value to 3 significant digits, same verdict).")
        if agree["missing"]:
            text += f" Chapters not in the record (added or renamed since): {', '.join(agree['missing'])}."
        parts.append(f"<p>{e(text)}</p>")
        if agree["differ"]:
            parts.append(_table(["chapter", "claim", "committed", "re-run"],
                                [tuple(e(str(x)) for x in d) for d in agree["differ"]], cls="opsense-report"))
        return PAGE_CSS + "".join(parts)


def _main(argv=None) -> int:  # pragma: no cover - debugging aid
    print(BookReport().summary)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main())
