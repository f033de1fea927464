"""``opsense robustness``: the sweeps behind the book's Robustness page, and their committed record.

::

    opsense robustness [CHAPTER ...] [--workers N | --scheduler tcp://HOST:PORT] [--out DIR]
                       [--record FILE] [--yes]

The spec ``book/robustness.yml`` lists, per chapter, the parameter sets to test: the book preset
over ``seeds`` (at least ``MIN_SEEDS`` seeds), and a few other sets inside the chapter's
stated regime, each over ``other_seeds``. Every (chapter, set) is one ``opsense sweep``
(:mod:`opsense.tools.sweep`: every point validated by the chapter's own rules before anything
starts, resumable, one row per point and claim) into ``DIR/<chapter>/<set>/`` (default
``DIR = runs/robustness``). Their summaries (pass rate with a Wilson 95% interval per claim, the
worst point and the command that reproduces it) are merged into the record ``--record``
(``make robustness``: ``book/robustness.json``), which the page reads at build time
(the ``{opsense-robustness}`` directive of :mod:`opsense.tools.sphinxext`). Chapters not given on the command
line keep their entries in the record; a chapter of the spec without an entry is shown on the
page as "not swept yet".

Exit status: 0 every sweep finished and no claim failed at any point; 1 a claim failed or a
point raised somewhere (the record is written all the same); 2 a wrong command line or spec.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SPEC", "RECORD", "MIN_SEEDS", "THRESHOLD", "RobustnessError", "Job", "load_spec", "plan_jobs",
           "sweep_argv", "merge_record", "read_record", "weak_claims", "run", "add_parser", "main", "page_summary",
           "page_table", "page_weak", "page_missing", "page_figure", "spec_cost", "page_cost"]

#: The spec and the record, below the book's root.
SPEC, RECORD = "book/robustness.yml", "book/robustness.json"
FORMAT, VERSION = "opsense-robustness", 1
#: Fewest seeds of the book preset (the issue that asked for the page: "over >= 50 seeds").
MIN_SEEDS = 50
#: A claim whose pass rate at the book preset is below this is listed on the page.
THRESHOLD = 0.95


class RobustnessError(ValueError):
    """A wrong command line or spec: one message, exit status 2."""


@dataclass(frozen=True)
class Job:
    """One sweep of the spec: a chapter, a parameter set and its seeds.

    Attributes
    ----------
    chapter : str
    label : str
        ``"book"`` for the book preset, else ``"set1"``, ``"set2"``, ...
    given : dict
        The parameters that differ from the book preset.
    seeds : str
        ``"A:B"``.
    """

    chapter: str
    label: str
    given: dict
    seeds: str

    def grid(self) -> list[str]:
        """The ``--grid`` options of this set (one value each)."""
        return [f"{k}={_text(v)}" for k, v in self.given.items()]


def _text(value) -> str:
    """A value as ``opsense run -p`` and ``sweep --grid`` read it back."""
    return repr(value) if not isinstance(value, str) else value


def _seed_count(text: str, where: str) -> int:
    m = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", str(text))
    if not m or int(m.group(1)) >= int(m.group(2)):
        raise RobustnessError(f"{where}: seeds must be 'A:B' with integers 0 <= A < B, got {text!r}")
    return int(m.group(2)) - int(m.group(1))


def load_spec(root) -> dict:
    """Read and check ``book/robustness.yml``.

    Parameters
    ----------
    root : path
        The book's root.

    Returns
    -------
    dict
        ``seeds``, ``other_seeds`` and ``chapters`` (``{name: [set dict, ...]}``), and
        ``fingerprint`` (SHA-256 of the file).

    Raises
    ------
    RobustnessError
        A missing or malformed spec, fewer than ``MIN_SEEDS`` book-preset seeds, a set that is
        not a mapping of parameter names.
    """
    import yaml

    path = Path(root) / SPEC
    try:
        text = path.read_text(encoding="utf-8")
        doc = yaml.safe_load(text) or {}
    except OSError as err:
        raise RobustnessError(f"{SPEC}: cannot read it ({err.strerror})") from None
    except yaml.YAMLError as err:
        raise RobustnessError(f"{SPEC}: not valid YAML ({err})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("chapters"), dict) or not doc["chapters"]:
        raise RobustnessError(f"{SPEC}: needs 'seeds', 'other_seeds' and a non-empty mapping 'chapters'")
    seeds, other = str(doc.get("seeds", "")), str(doc.get("other_seeds", ""))
    if _seed_count(seeds, f"{SPEC} seeds") < MIN_SEEDS:
        raise RobustnessError(f"{SPEC}: seeds must give at least {MIN_SEEDS} seeds of the book preset, got {seeds!r}")
    _seed_count(other, f"{SPEC} other_seeds")
    chapters = {}
    for name, sets in doc["chapters"].items():
        sets = sets or []
        if not isinstance(sets, list) or not all(isinstance(s, dict) and s and all(
                isinstance(k, str) and re.fullmatch(r"[A-Za-z_]\w*", k) for k in s) for s in sets):
            raise RobustnessError(f"{SPEC}: chapter {name}: give a list of parameter sets "
                                  "(mappings of parameter names to values), or nothing")
        chapters[str(name)] = [dict(s) for s in sets]
    return {"seeds": seeds, "other_seeds": other, "chapters": chapters,
            "fingerprint": hashlib.sha256(text.encode("utf-8")).hexdigest()}


def plan_jobs(spec: dict, chapters=None) -> list[Job]:
    """The sweeps of ``spec``, for ``chapters`` (default: all of the spec), in the spec's order.

    Parameters
    ----------
    spec : dict
        From :func:`load_spec`.
    chapters : list of str, optional

    Raises
    ------
    RobustnessError
        A chapter that the spec does not list.
    """
    names = list(spec["chapters"])
    wanted = names if not chapters else list(chapters)
    unknown = [c for c in wanted if c not in spec["chapters"]]
    if unknown:
        raise RobustnessError(f"chapter {unknown[0]} is not in {SPEC} (it lists: {', '.join(names)})")
    jobs = []
    for name in wanted:
        jobs.append(Job(name, "book", {}, spec["seeds"]))
        for i, s in enumerate(spec["chapters"][name], 1):
            jobs.append(Job(name, f"set{i}", s, spec["other_seeds"]))
    return jobs


def sweep_argv(job: Job, out: Path, *, workers=None, scheduler=None, yes: bool = False) -> list[str]:
    """The ``opsense`` command line of one job's sweep.

    Parameters
    ----------
    job : Job
    out : path
        The sweep's folder.
    workers, scheduler : optional, keyword-only
        As ``opsense sweep --workers`` / ``--scheduler``.
    yes : bool, keyword-only
    """
    argv = ["sweep", job.chapter, "--seeds", job.seeds, "--out", str(out), "--no-progress"]
    for g in job.grid():
        argv += ["--grid", g]
    if workers is not None:
        argv += ["--workers", str(int(workers))]
    if scheduler:
        argv += ["--scheduler", scheduler]
    if yes:
        argv += ["--yes", "--max-minutes", "1e6"]
    return argv


def _entry(job: Job, summary: dict, minutes: float) -> dict:
    keep = ("id", "statement", "basis", "form", "points", "holds", "does_not_reproduce", "fails", "pass_rate",
            "pass_ci", "holds_rate", "holds_ci", "measured_min", "measured_max", "worst")
    return {"chapter": job.chapter, "set": job.label, "given": job.given, "seeds": job.seeds,
            "points": summary["points"], "minutes": round(minutes, 2),
            "claims": [{k: c.get(k) for k in keep} for c in summary["claims"]]}


def read_record(path) -> dict:
    """The record at ``path``, or an empty one if there is none.

    Parameters
    ----------
    path : path

    Raises
    ------
    RobustnessError
        If the file exists but is not a robustness record.
    """
    path = Path(path)
    if not path.is_file():
        return {"format": FORMAT, "version": VERSION, "runs": []}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise RobustnessError(f"{path}: not a robustness record ({err})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("runs"), list):
        raise RobustnessError(f"{path}: not a robustness record (format {FORMAT!r})")
    return doc


def merge_record(record: dict, entries: list[dict], *, spec: dict, environment: dict) -> dict:
    """``record`` with the runs of ``entries`` replacing those of the same (chapter, set).

    Parameters
    ----------
    record : dict
        From :func:`read_record`.
    entries : list of dict
        One per finished job.
    spec : dict, keyword-only
        From :func:`load_spec` (the order of the runs follows it).
    environment : dict, keyword-only
        From :func:`opsense.tools.report.environment`.
    """
    runs = {(r["chapter"], r["set"]): r for r in record.get("runs", [])}
    for e in entries:
        runs[(e["chapter"], e["set"])] = {**e, "environment": environment}
    order = {name: i for i, name in enumerate(spec["chapters"])}
    ordered = sorted(runs.values(), key=lambda r: (order.get(r["chapter"], len(order)), r["set"] != "book", r["set"]))
    return {"format": FORMAT, "version": VERSION, "spec": spec["fingerprint"],
            "updated": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(), "runs": ordered}


def weak_claims(record: dict, *, threshold: float = THRESHOLD) -> list[dict]:
    """The (run, claim) pairs whose pass rate is below ``threshold``, lowest first.

    Parameters
    ----------
    record : dict
    threshold : float, keyword-only
    """
    out = []
    for r in record.get("runs", []):
        for c in r["claims"]:
            if c["pass_rate"] < threshold:
                out.append({"chapter": r["chapter"], "set": r["set"], "given": r["given"], **c})
    return sorted(out, key=lambda c: (c["pass_rate"], c["id"]))


def run(root, *, chapters=None, out=None, record=None, workers=None, scheduler=None, yes=False) -> int:
    """Run the spec's sweeps and write the record.

    Parameters
    ----------
    root : path
        The book's root.
    chapters : list of str, optional, keyword-only
    out : path, optional, keyword-only
        Folder of the sweeps (default ``runs/robustness``).
    record : path, optional, keyword-only
        The record to update (default: none; ``make robustness`` gives ``book/robustness.json``).
    workers, scheduler : optional, keyword-only
    yes : bool, keyword-only

    Returns
    -------
    int
        The exit status.
    """
    import argparse

    from ..claims import write_json_atomic
    from . import sweep
    from .report import environment

    parser = argparse.ArgumentParser(prog="opsense")
    sweep.add_parser(parser.add_subparsers(dest="command"))

    spec = load_spec(root)
    jobs = plan_jobs(spec, chapters)
    base = Path(out or "runs/robustness").expanduser().resolve()
    current = read_record(record) if record else None        # refuse a bad record before any work
    print(f"robustness: {len(jobs)} sweeps ({', '.join(sorted({j.chapter for j in jobs}))}) into {base}/",
          flush=True)
    entries, status = [], 0
    for job in jobs:
        folder = base / job.chapter / job.label
        t0 = time.perf_counter()
        try:
            code = sweep.main(parser.parse_args(sweep_argv(job, folder, workers=workers, scheduler=scheduler, yes=yes)))
        except sweep.SweepError as err:
            raise RobustnessError(f"{job.chapter} ({job.label}): {err}") from None
        if not (folder / "sweep.json").is_file():
            raise RobustnessError(f"{job.chapter} ({job.label}): the sweep wrote nothing into {folder}")
        if code == 130:
            return 130
        status = max(status, code)
        entries.append(_entry(job, sweep.summarize(folder), (time.perf_counter() - t0) / 60))
        if record:  # after every sweep: an interruption keeps what finished
            current = merge_record(current, entries, spec=spec, environment=environment(root))
            write_json_atomic(record, current)
    return status


def add_parser(sub) -> None:
    """Add the ``robustness`` subcommand to the ``opsense`` parser.

    Parameters
    ----------
    sub : argparse subparsers
    """
    p = sub.add_parser("robustness", help="the Robustness page's sweeps (book/robustness.yml) and their record",
                       description="Run, for every chapter of book/robustness.yml (or those given), the book preset "
                                   f"over >= {MIN_SEEDS} seeds and the listed parameter sets, as opsense sweep does; "
                                   "merge the summaries into --record.")
    p.add_argument("chapters", nargs="*", metavar="CHAPTER", help="only these chapters (default: all of the spec)")
    p.add_argument("--workers", type=int, metavar="N", help="processes of the local cluster (default: the CPU count)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on an existing Dask cluster instead")
    p.add_argument("--out", metavar="DIR", help="folder of the sweeps (default runs/robustness/); re-running resumes")
    p.add_argument("--record", metavar="FILE", help="the record to update (make robustness: book/robustness.json)")
    p.add_argument("--yes", action="store_true", help="do not ask before long sweeps")


def main(args) -> int:
    """Entry point of ``opsense robustness`` (called by :func:`opsense.tools.cli.main`).

    Parameters
    ----------
    args : argparse.Namespace
    """
    from .catalog import find_root

    if args.workers is not None and args.scheduler:
        raise RobustnessError("give --workers (a local cluster) or --scheduler (an existing one), not both")
    if args.record and not str(args.record).endswith(".json"):
        raise RobustnessError(f"--record must name a .json file, got {args.record}")
    return run(find_root(), chapters=args.chapters, out=args.out, record=args.record, workers=args.workers,
               scheduler=args.scheduler, yes=args.yes)


# ----------------------------------------------------------------------------- the page
def _given_text(given: dict) -> str:
    return ", ".join(f"{k}={_text(v)}" for k, v in given.items()) or "book preset"


def _esc(x) -> str:
    import html

    return html.escape(str(x))


def page_summary(record: dict, spec: dict) -> str:
    """One paragraph of plain text: what was swept, at what cost, and how many claims are weak.

    Parameters
    ----------
    record : dict
        From :func:`read_record`.
    spec : dict
        From :func:`load_spec`.
    """
    runs = record.get("runs", [])
    if not runs:
        return (f"No sweep has been recorded yet: run make robustness (the book preset of every chapter over "
                f"{_seed_count(spec['seeds'], 'seeds')} seeds, and the other sets over "
                f"{_seed_count(spec['other_seeds'], 'other_seeds')}).")
    swept = [c for c in spec["chapters"] if any(r["chapter"] == c for r in runs)]
    book = [r for r in runs if r["set"] == "book"]
    points = sum(r["points"]["finished"] for r in runs)
    claims = sum(len(r["claims"]) for r in book)
    minutes = sum(r.get("minutes", 0.0) for r in runs)
    env = (runs[0].get("environment") or {})
    weak = [c for c in weak_claims(record) if c["set"] == "book"]
    where = f" on {env.get('cpu', 'an unrecorded machine')} ({env.get('cpu_count', '?')} cores)"
    return (f"{len(swept)} of {len(spec['chapters'])} chapters swept: {len(runs)} sweeps, {points} chapter runs, "
            f"{claims} claims at the book preset; {len(weak)} of them pass at fewer than "
            f"{THRESHOLD:.0%} of the seeds. The sweeps took {minutes:.0f} min{where}.")


def page_table(record: dict) -> str:
    """HTML table: one row per (chapter, set, claim) with the pass rate and its interval.

    Parameters
    ----------
    record : dict
        From :func:`read_record`.
    """
    rows = []
    for r in record.get("runs", []):
        for c in r["claims"]:
            lo, hi = c["pass_ci"]
            low = c["pass_rate"] < THRESHOLD
            rows.append(f"<tr{' class=opsense-weak' if low else ''}><td>{100 * c['pass_rate']:.3g}%</td>"
                        f"<td>[{lo:.0%}, {hi:.0%}]</td><td>{c['points']}</td><td><code>{_esc(c['id'])}</code></td>"
                        f"<td>{_esc(_given_text(r['given']))}, seeds {_esc(r['seeds'])}</td>"
                        f"<td>{_esc(c['basis'])}</td><td>{c['holds']} / {c['does_not_reproduce']} / {c['fails']}</td></tr>")
    if not rows:
        return "<p>No sweep recorded yet.</p>"
    head = ("<tr><th>pass rate</th><th>95% interval</th><th>points</th><th>claim</th><th>parameters</th>"
            "<th>basis</th><th>holds / does not reproduce / fails</th></tr>")
    return (f'<div class="opsense-scroll"><table class="opsense-robustness"><thead>{head}</thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def page_weak(record: dict) -> str:
    """HTML list of the claims below ``THRESHOLD``, each with the command of its worst point.

    Parameters
    ----------
    record : dict
    """
    weak = weak_claims(record)
    if not record.get("runs"):
        return "<p>No sweep recorded yet.</p>"
    if not weak:
        return f"<p>Every swept claim passes at {THRESHOLD:.0%} of the points or more.</p>"
    items = []
    for c in weak:
        lo, hi = c["pass_ci"]
        w = c.get("worst") or {}
        items.append(f"<li><code>{_esc(c['id'])}</code> ({_esc(_given_text(c['given']))}): passes at "
                     f"{c['pass_rate']:.0%} [{lo:.0%}, {hi:.0%}] of {c['points']} points. Worst point: "
                     f"verdict {_esc(w.get('verdict', '?'))}; reproduce it with "
                     f"<code>{_esc(w.get('command', ''))}</code></li>")
    return f"<ul>{''.join(items)}</ul>"


def page_missing(record: dict, spec: dict) -> str:
    """HTML sentence naming the spec's chapters (and sets) without an entry in the record.

    Parameters
    ----------
    record, spec : dict
    """
    have = {(r["chapter"], r["set"]) for r in record.get("runs", [])}
    missing = [f"{j.chapter} ({j.label})" for j in plan_jobs(spec) if (j.chapter, j.label) not in have]
    if not missing:
        return "<p>Every chapter and parameter set of the spec has been swept.</p>"
    return f"<p>Not swept yet: {_esc(', '.join(missing))}.</p>"


def page_figure(record: dict) -> bytes | None:
    """PNG: one row per claim of the book preset, its pass rate with the Wilson 95% interval; the
    other sets' rates as open markers. ``None`` without a recorded sweep.

    Parameters
    ----------
    record : dict
    """
    import io

    from matplotlib.figure import Figure   # no pyplot: no backend is chosen or changed

    book = [r for r in record.get("runs", []) if r["set"] == "book"]
    if not book:
        return None
    others = {}
    for r in record.get("runs", []):
        if r["set"] != "book":
            for c in r["claims"]:
                others.setdefault((r["chapter"], c["id"]), []).append(c["pass_rate"])
    rows = [(r["chapter"], c) for r in book for c in r["claims"]]
    fig = Figure(figsize=(6.4, 0.6 + 0.16 * len(rows)), dpi=150)
    ax = fig.add_subplot()
    for i, (chapter, c) in enumerate(rows):
        lo, hi = c["pass_ci"]
        color = "C3" if c["pass_rate"] < THRESHOLD else "C0"
        ax.plot([lo, hi], [i, i], color=color, lw=1.5)
        ax.plot([c["pass_rate"]], [i], "o", color=color, ms=3)
        for x in others.get((chapter, c["id"]), []):
            ax.plot([x], [i], "o", mfc="none", mec="0.45", ms=3.5, mew=0.8)
    ax.axvline(THRESHOLD, color="0.5", ls=":", lw=1)
    ax.set_yticks(range(len(rows)), [c["id"] for _, c in rows], fontsize=5.5)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(0, 1.02)
    ax.set_xlabel("pass rate (dots: book preset with its 95% interval; open: other parameter sets)", fontsize=7)
    ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def spec_cost(root, spec: dict) -> tuple[float, list[str]]:
    """Estimated single-core seconds of the whole spec, from the record of the last full re-run
    (:mod:`opsense.tools.costs`: each set's work scaled from the book preset's measured time), and
    the chapters that record has no time for.

    Parameters
    ----------
    root : path
    spec : dict
    """
    from . import costs
    from .catalog import discover

    chapters = {c.name: c for c in discover(root)}
    recorded = costs.all_recorded(root)
    total, unknown = 0.0, []
    for job in plan_jobs(spec):
        ch = chapters.get(job.chapter)
        e = costs.estimate(ch, dict(job.given), recorded=recorded) if ch is not None else None
        if e is None or e.seconds is None:
            unknown.append(job.chapter)
            continue
        total += max(e.seconds - costs.OVERHEAD, 0.0) * _seed_count(job.seeds, "seeds")
    return total, sorted(set(unknown))


def page_cost(root, spec: dict) -> str:
    """One sentence: the estimated cost of the whole spec (:func:`spec_cost`).

    Parameters
    ----------
    root : path
    spec : dict
    """
    from . import costs

    seconds, unknown = spec_cost(root, spec)
    text = (f"Estimated cost of the whole spec, from the times of the last full re-run of the book: "
            f"{costs.duration(seconds)} on one core, so about {costs.duration(seconds / 2)} with two workers")
    return text + (f" (without {', '.join(unknown)}, which the re-run did not time)." if unknown else ".")
