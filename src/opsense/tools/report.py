"""Reproduction reports: the claims of every chapter, where they were produced, in how long.

Two sources of claims:

* a *run folder* written by ``opsense run`` (one sub-folder per chapter with
  ``claims.json``, ``run.json`` and the executed notebook, plus ``environment.json``):
  :func:`collect` reads it, :func:`write_report` writes ``report.md``,
  ``report.html`` and ``report.json`` (the *record*) into it;
* the *committed chapters* of the book (``book/*.ipynb`` with their outputs):
  :class:`BookReport` reads the claims tables that the chapters display, and the
  record of the last full re-run (``book/reproduction.json``), for the book's
  "Reproduction report" page.

Every table has the same summary line, ``N claims, N hold, N fail``.
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
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from .claims import format_value

__all__ = ["ChapterResult", "environment", "collect", "summary", "summary_line", "to_markdown", "to_html",
           "write_report", "record", "BookReport", "RECORD_NAME"]

#: The record of the last full re-run, relative to the book's root.
RECORD_NAME = "book/reproduction.json"

COLUMNS = ("chapter", "id", "statement", "predicted", "measured", "tolerance", "verdict")


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


def _blas() -> dict:
    """BLAS of numpy: threadpoolctl's view when installed, else numpy's build configuration."""
    out: dict = {}
    try:
        from threadpoolctl import threadpool_info  # optional

        libs = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if libs:
            i = libs[0]
            out = {"name": i.get("internal_api", ""), "version": i.get("version") or "",
                   "threads": i.get("num_threads"), "architecture": i.get("architecture") or "",
                   "source": "threadpoolctl"}
    except Exception:  # noqa: BLE001 - optional and best effort
        out = {}
    if not out:
        try:
            import numpy as np

            cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
            detail = cfg.get("openblas configuration", "")
            out = {"name": cfg.get("name", ""), "version": cfg.get("version", ""),
                   "configuration": detail.strip(), "source": "numpy.show_config"}
        except Exception:  # noqa: BLE001
            out = {"name": "unknown", "source": "numpy.show_config failed"}
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


def environment(root: str | os.PathLike | None = None) -> dict:
    """Where and with what numbers are produced now.

    Returns
    -------
    dict
        ``date`` (UTC, ISO 8601), ``python``, ``platform``, ``cpu``, ``cpu_count``,
        ``numpy``, ``blas`` (name, version, configuration or threads),
        ``matplotlib``, ``opsense``, ``papermill``, ``git`` (commit, dirty) of ``root``.
        No host or user names.
    """
    import numpy as np

    from . import __version__

    root = Path(root) if root is not None else Path.cwd()
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "platform": platform.platform(terse=True),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "blas": _blas(),
        "matplotlib": _version("matplotlib"),
        "opsense": __version__,
        "papermill": _version("papermill"),
        "git": _git(root),
    }


def environment_rows(env: dict) -> list[tuple[str, str]]:
    """``(label, value)`` rows of an :func:`environment` dict, for tables."""
    blas = env.get("blas") or {}
    blas_text = " ".join(x for x in (blas.get("name", ""), blas.get("version", "")) if x)
    extra = blas.get("configuration") or (f"{blas.get('threads')} threads" if blas.get("threads") else "")
    if extra:
        blas_text += f" ({extra})"
    if blas.get("thread_env"):
        blas_text += "; " + ", ".join(f"{k}={v}" for k, v in blas["thread_env"].items())
    git = env.get("git") or {}
    commit = git.get("commit", "unknown")
    if git.get("dirty"):
        commit += " (with uncommitted changes)"
    return [
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
    claims : list of dict
        Each with ``id``, ``statement``, ``predicted``, ``measured``, ``tolerance``, ``holds``.
    status : str
        ``"ok"``, ``"claims failed"``, ``"error"`` (a cell failed before the claims) or
        ``"no claims"``.
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
        return [c for c in self.claims if not c.get("holds")]


def summary(results) -> tuple[int, int, int]:
    """``(claims, hold, fail)`` over all results."""
    n = sum(len(r.claims) for r in results)
    bad = sum(len(r.failed) for r in results)
    return n, n - bad, bad


def summary_line(results) -> str:
    """``"N claims, N hold, N fail"``."""
    n, ok, bad = summary(results)
    return f"{n} claims, {ok} hold, {bad} fail"


def _load_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def collect(folder: str | os.PathLike, *, order: list[str] | None = None) -> list[ChapterResult]:
    """Every chapter result under ``folder`` (its ``claims.json`` and ``run.json`` files).

    Parameters
    ----------
    folder : path
        A folder written by ``opsense run`` (one chapter) or ``opsense run --all``.
    order : list of str, optional
        Chapter names in the order wanted (the book's); others follow by name.

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
        claims = _load_json(d / "claims.json")
        run = _load_json(d / "run.json") or {}
        name = (claims or {}).get("chapter") or run.get("chapter") or d.name
        res = ChapterResult(chapter=name, claims=list((claims or {}).get("claims", [])),
                            duration_s=run.get("duration_s"), parameters=run.get("parameters", {}),
                            error=run.get("error", ""))
        if run.get("status"):
            res.status = run["status"]
        elif claims is None:
            res.status = "no claims"
        elif res.failed:
            res.status = "claims failed"
        if res.status == "ok" and res.failed:
            res.status = "claims failed"
        results.append(res)
    rank = {name: i for i, name in enumerate(order or [])}
    results.sort(key=lambda r: (rank.get(r.chapter, len(rank)), r.chapter))
    return results


def _verdict(claim) -> str:
    return "holds" if claim.get("holds") else "FAILS"


def _seconds(x) -> str:
    return "" if x is None else f"{x:.1f} s"


def _md(text) -> str:
    return str(text).replace("|", r"\|").replace("\n", " ")


def to_markdown(results, env: dict | None = None, *, title: str = "Reproduction report",
                note: str = "") -> str:
    """The report as Markdown: environment, chapters (status, time), every claim, summary line last."""
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
            lines.append("| " + " | ".join(_md(x) for x in (
                r.chapter, c.get("id", ""), c.get("statement", ""), c.get("predicted", ""),
                format_value(c.get("measured")), c.get("tolerance", ""), _verdict(c))) + " |")
    lines.append("")
    broken = [r for r in results if r.status not in ("ok", "claims failed")]
    if broken:
        lines += [f"{len(broken)} chapter(s) stopped before checking their claims: "
                  + ", ".join(f"{r.chapter} ({r.status})" for r in broken), ""]
    lines += [summary_line(results), ""]
    return "\n".join(lines)


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;
vertical-align:top}.fail{color:#b00020;font-weight:bold}.ok{color:#1b5e20}"""


def _table(headers, rows, *, cls="") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    c = f' class="{cls}"' if cls else ""
    return f"<table{c}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


#: Styles of the tables on the book's page (the theme's colours where it defines them).
PAGE_CSS = ("<style>table.opsense-report{border-collapse:collapse;margin:.5em 0 1em;font-size:.9em}"
            "table.opsense-report th,table.opsense-report td{vertical-align:top;text-align:left;"
            "padding:.3em .5em;border-bottom:1px solid var(--pst-color-border,#ccc)}"
            "table.opsense-report .fail{color:#b00020;font-weight:bold}"
            "table.opsense-report .ok{color:#1b7a2f}</style>")


def _verdict_html(claim) -> str:
    return '<span class="ok">holds</span>' if claim.get("holds") else '<span class="fail">FAILS</span>'


def to_html(results, env: dict | None = None, *, title: str = "Reproduction report", note: str = "") -> str:
    """The report as a standalone HTML page (same content as :func:`to_markdown`)."""
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
    rows = [(e(r.chapter), e(c.get("id", "")), e(c.get("statement", "")), e(str(c.get("predicted", ""))),
             e(format_value(c.get("measured"))), e(c.get("tolerance", "")), _verdict_html(c))
            for r in results for c in r.claims]
    parts.append("<h2>Claims</h2>" + _table(COLUMNS, rows, cls="opsense-report"))
    broken = [r for r in results if r.status not in ("ok", "claims failed")]
    if broken:
        parts.append(f"<p class=\"fail\">{len(broken)} chapter(s) stopped before checking their claims: "
                     + e(", ".join(f"{r.chapter} ({r.status})" for r in broken)) + "</p>")
    parts.append(f"<p><strong>{e(summary_line(results))}</strong></p></body></html>")
    return "".join(parts)


def record(results, env: dict | None, *, command: str = "") -> dict:
    """The JSON record of a run: environment, every chapter (status, time, claims), summary."""
    n, ok, bad = summary(results)
    return {"format": "opsense-reproduction-record", "version": 1, "command": command,
            "environment": env or {}, "chapters": [asdict(r) for r in results],
            "summary": {"claims": n, "hold": ok, "fail": bad, "line": summary_line(results)}}


def write_report(folder: str | os.PathLike, results, env: dict | None = None, *, command: str = "",
                 note: str = "") -> dict[str, Path]:
    """Write ``report.md``, ``report.html`` and ``report.json`` into ``folder``; return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"md": folder / "report.md", "html": folder / "report.html", "json": folder / "report.json"}
    paths["md"].write_text(to_markdown(results, env, note=note), encoding="utf-8")
    paths["html"].write_text(to_html(results, env, note=note), encoding="utf-8")
    paths["json"].write_text(json.dumps(record(results, env, command=command), indent=1, default=str) + "\n",
                             encoding="utf-8")
    return paths


# ----------------------------------------------------------------------------- the book's page
class _ClaimsTableParser(HTMLParser):
    """Rows of the ``<table class="opsense-claims">`` that :func:`opsense.check_claims` displays."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self._in_table = self._in_cell = False
        self._row: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and "opsense-claims" in (dict(attrs).get("class") or ""):
            self._in_table = True
        elif self._in_table and tag == "tr":
            self._row = []
        elif self._in_table and tag == "td" and self._row is not None:
            self._in_cell = True
            self._row.append("")

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_table = False
        elif tag == "tr" and self._row is not None:
            if self._row:
                self.rows.append(self._row)
            self._row = None
        elif tag == "td":
            self._in_cell = False

    def handle_data(self, data):
        if self._in_cell and self._row is not None:
            self._row[-1] += data


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


def committed_claims(nb) -> tuple[list[dict], str]:
    """The claims table a committed chapter displays, and an error text if it shows one."""
    rows, error = [], ""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                error = f"{out.get('ename')}: {out.get('evalue')}"
            text = (out.get("data") or {}).get("text/html")
            if text and "opsense-claims" in (text if isinstance(text, str) else "".join(text)):
                p = _ClaimsTableParser()
                p.feed(text if isinstance(text, str) else "".join(text))
                rows = p.rows
    claims = [dict(zip(("id", "statement", "predicted", "measured", "tolerance"), r[:5]), holds=(r[5] == "yes"))
              for r in rows if len(r) >= 6]
    return claims, error


class BookReport:
    """The book's "Reproduction report": committed claims, and the record of the last full re-run.

    Parameters
    ----------
    root : path, optional
        The book's root (found from the current directory by default).
    record_path : path, optional
        The record to show (default ``book/reproduction.json``), as written by
        ``opsense run --all --record PATH``.
    """

    def __init__(self, root=None, record_path=None):
        import nbformat

        from .chapters import discover, find_root

        self.root = find_root() if root is None else Path(root)
        self.chapters = [c for c in discover(self.root) if c.in_toc]
        self.results: list[ChapterResult] = []
        self.theorems: dict[str, list[Result]] = {}
        self.titles = {c.name: c.title for c in self.chapters}
        self.python = {}
        for ch in self.chapters:
            nb = nbformat.read(ch.path, as_version=4)
            claims, error = committed_claims(nb)
            status = "error" if error else ("no claims" if not claims else
                                            "claims failed" if any(not c["holds"] for c in claims) else "ok")
            self.results.append(ChapterResult(ch.name, claims, status, error=error))
            self.theorems[ch.name] = chapter_results(nb)
            self.python[ch.name] = (nb.metadata.get("language_info") or {}).get("version", "")
        path = Path(record_path) if record_path is not None else self.root / RECORD_NAME
        self.record_path = path
        self.record = _load_json(path) if path.is_file() else None

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
            ``same`` (claims with equal measured value at 3 significant digits and equal
            verdict), ``total`` (committed claims), ``differ`` (list of ``(chapter, id,
            committed, recorded)``), ``missing`` (chapters absent from the record).
        """
        rec = {c["chapter"]: c for c in (self.record or {}).get("chapters", [])}
        same, differ, missing = 0, [], []
        for r in self.results:
            if r.chapter not in rec:
                missing.append(r.chapter)
                continue
            recorded = {c["id"]: c for c in rec[r.chapter].get("claims", [])}
            for c in r.claims:
                o = recorded.get(c["id"])
                if o is not None and format_value(o.get("measured")) == c["measured"] and bool(o.get("holds")) == c["holds"]:
                    same += 1
                else:
                    differ.append((r.chapter, c["id"], c["measured"], "absent" if o is None else format_value(o.get("measured"))))
        return {"same": same, "total": sum(len(r.claims) for r in self.results), "differ": differ,
                "missing": missing}

    # -- HTML pieces for the page
    def claims_html(self) -> str:
        """Every claim of every chapter: chapter, results restated, claim, prediction, measured,
        tolerance, verdict; one row group per chapter; summary line last."""
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
                if i == 0:
                    span = f' rowspan="{len(claims)}"' if len(claims) > 1 else ""
                    row += [f"<td{span}>{link}</td>", f"<td{span}>{thms}</td>"]
                if c is None:
                    row.append(f'<td colspan="5">{e(r.error or "no claims table in the committed notebook")}</td>')
                else:
                    row += [f"<td><code>{e(c['id'])}</code><br>{e(c['statement'])}</td>", f"<td>{e(c['predicted'])}</td>",
                            f"<td>{e(c['measured'])}</td>", f"<td>{e(c['tolerance'])}</td>", f"<td>{_verdict_html(c)}</td>"]
                rows.append("<tr>" + "".join(row) + "</tr>")
        head = "".join(f"<th>{h}</th>" for h in ("chapter", "results restated", "claim", "prediction",
                                                 "measured", "tolerance", "verdict"))
        return (f'{PAGE_CSS}<table class="opsense-report"><thead><tr>{head}</tr></thead>'
                f'<tbody>{"".join(rows)}</tbody></table><p><strong>{e(self.summary)}</strong></p>')

    def record_html(self) -> str:
        """The record: when, where and how fast the last full re-run went, and whether it agrees."""
        e = html.escape
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
    r = BookReport()
    print(r.summary)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main())
