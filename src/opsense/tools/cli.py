"""The ``opsense`` command: list, re-run and report the book's chapters.

::

    opsense list [CHAPTER...]                 every chapter and its parameters
    opsense run CHAPTER [-p NAME VALUE]... [--preset paper] [--out DIR] [--force] [--yes]
    opsense run --all [-p NAME VALUE]... [--preset paper] [--out DIR] [--record FILE]
    opsense report [DIR] [--record FILE]      one table of every claims.json under DIR
    opsense sweep CHAPTER [--grid NAME=V1,V2,...]... [--seeds A:B] [--out DIR] [--workers N | --scheduler ADDR]
    opsense sweep --summary DIR [--json FILE]  pass rates of a sweep (see opsense.tools.sweep)

``run`` executes a chapter with papermill into a new folder (default
``runs/<chapter>-<time>/``, never inside ``book/``): the executed notebook, its
figures, ``claims.json``, ``run.json`` (status and time), ``environment.json`` and
``report.md``/``report.html``/``report.json``. Parameters are checked against the
chapter's ``parameters`` cell (name, type) and by the chapter module itself
(:func:`opsense.configure`: presets, then the chapter's ``check``) before any
kernel starts or any folder is created, and so are the run's estimated memory
and time (:mod:`opsense.tools.costs`). The output folder is taken atomically
(``RunFolder``). The claims are read as data from the executed notebook,
never from rendered output.

Exit status: 0 when everything ran and every claim holds; 1 when a claim fails,
a cell raises or a record is invalid; 2 for a wrong command line (unknown
chapter or parameter, a value the chapter refuses, an output folder that is not
new or not writable, a run too large or too long without --yes); 130 when
interrupted (the folder then holds what finished, marked interrupted).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import shutil
import sys
import time
import warnings
from pathlib import Path

from ._proc import pid_alive

__all__ = ["main"]

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """A wrong command line: reported in one line, exit status 2."""


# ----------------------------------------------------------------------------- helpers
def _err(msg: str) -> None:
    print(f"opsense: error: {msg}", file=sys.stderr)


@contextlib.contextmanager
def _kernel_stderr(log):
    """Send the kernel's own messages (it inherits file descriptor 2) to the open file ``log``;
    yield a stream on the original standard error for the progress bar."""
    sys.stderr.flush()
    saved = os.dup(2)
    progress = os.fdopen(os.dup(saved), "w", buffering=1)
    os.dup2(log.fileno(), 2)
    try:
        yield progress
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        progress.close()


def _catalog():
    """The catalog module, imported on first use (the command starts without NumPy or nbformat)."""
    from . import catalog

    return catalog


def _config():
    """The config module (light: no NumPy)."""
    from .. import config

    return config


def _chapters(args) -> tuple[Path, list]:
    find_root, discover = _catalog().find_root, _catalog().discover
    try:
        root = find_root()
    except FileNotFoundError as err:
        raise UsageError(str(err)) from None
    chapters = discover(root)
    if not chapters:
        raise UsageError(f"no chapters found in {root / 'book'}")
    return root, chapters


def _parse_given(pairs, preset) -> tuple[dict, dict]:
    given, raw = {}, {}
    for name, text in pairs or []:
        if name in given:
            raise UsageError(f"parameter {name} is given twice")
        given[name], raw[name] = _catalog().parse_value(text), text
    if preset is not None:
        if "preset" in given:
            raise UsageError("give the preset either with --preset or with -p preset, not both")
        given["preset"], raw["preset"] = preset, preset
    return given, raw


RUN_MARKERS = ("run.json", "environment.json", "report.json")


def _new_folder(path: Path, root: Path, *, force: bool = False) -> Path:
    """Check that ``path`` can be the output folder: outside ``book/``, new or empty (or, with
    ``force``, a folder an earlier ``opsense run`` wrote), and writable; create nothing."""
    path = path.expanduser().resolve()
    book = (root / "book").resolve()
    if path == book or book in path.parents:
        raise UsageError(f"output folder {path} is inside the book's sources ({book}); choose another")
    if path.exists() and not path.is_dir():
        raise UsageError(f"output folder {path} exists and is not a folder; choose a new one")
    if path.is_dir() and any(path.iterdir()):
        if not force:
            raise UsageError(f"output folder {path} exists and is not empty; choose a new one "
                             "(or --force to replace an earlier run's folder)")
        if not any((path / m).is_file() for m in RUN_MARKERS) and not any(path.glob(f"*/{RUN_MARKERS[0]}")):
            raise UsageError(f"output folder {path} is not a folder written by opsense run; --force replaces "
                             "only those")
    parent = next((p for p in (path, *path.parents) if p.exists()), None)
    if parent is None or not _can_write_in(parent):
        raise UsageError(f"output folder {path}: cannot write in {parent}")
    return path


def _can_write_in(folder: Path) -> bool:
    """Whether a file can be created in ``folder`` (tried for real: permissions, read-only or
    pseudo file systems)."""
    import tempfile

    try:
        fd, probe = tempfile.mkstemp(prefix=".opsense-probe-", dir=folder)
    except OSError:
        return False
    os.close(fd)
    os.unlink(probe)
    return True


class RunFolder:
    """The output folder of one ``opsense run``, written atomically.

    A lock file ``.<name>.lock`` beside the folder (created exclusively; a stale one, whose
    process is gone, is taken over) makes a second run into the same folder fail at once.
    Everything is written into ``.<name>.partial`` beside it, renamed to the folder at the end:
    the folder appears complete, or not at all. An interrupted or failed run is finished the
    same way, its ``run.json`` saying so.
    """

    def __init__(self, path: Path, *, force: bool = False):
        self.path, self.force = path, force
        self.lock = path.parent / f".{path.name}.lock"
        self.partial = path.parent / f".{path.name}.partial"

    def __enter__(self) -> Path:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._take_lock()
            if self.partial.exists():       # left by a run that was killed: the lock is ours now
                shutil.rmtree(self.partial)
            self.partial.mkdir()
        except OSError as err:
            self._release()
            raise UsageError(f"cannot write the output folder {self.path}: {err.strerror}") from None
        return self.partial

    def _take_lock(self) -> None:
        for _ in range(2):
            try:
                fd = os.open(self.lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                try:
                    pid = int(self.lock.read_text().strip() or 0)
                except (OSError, ValueError):
                    pid = 0
                if pid and pid_alive(pid):
                    raise UsageError(f"output folder {self.path} is used by another run (process {pid}); "
                                     "choose a new one") from None
                self.lock.unlink(missing_ok=True)   # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(f"{os.getpid()}\n")
            self.locked = True
            return
        raise UsageError(f"output folder {self.path} is used by another run; choose a new one")

    def finish(self) -> None:
        """Move the partial folder into place (replacing an empty folder, or an earlier run's with force)."""
        if self.path.exists():
            if any(self.path.iterdir()):
                shutil.rmtree(self.path)    # checked by _new_folder: --force on an earlier run's folder
            else:
                self.path.rmdir()
        os.rename(self.partial, self.path)

    def _release(self) -> None:
        if getattr(self, "locked", False):
            self.lock.unlink(missing_ok=True)
            self.locked = False

    def __exit__(self, *exc):
        try:
            if self.partial.exists():
                self.finish()
        finally:
            self._release()
        return False


def _default_folder(stem: str) -> Path:
    base = Path("runs") / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, i = base, 1
    while path.exists():
        i += 1
        path = base.with_name(f"{base.name}-{i}")
    return path


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# ----------------------------------------------------------------------------- list
def _preset_costs(chapter, recorded) -> dict:
    """``{preset: Estimate}`` of a chapter's presets (empty if the module has no ``cost``)."""
    from . import costs

    out = {}
    for preset in chapter.presets:
        e = costs.estimate(chapter, {"preset": preset}, recorded=recorded)
        if e is not None:
            out[preset] = e
    return out


def _cmd_list(args) -> int:
    from . import costs

    root, chapters = _chapters(args)
    if args.chapters:
        chapters = [_catalog().get_chapter(n, chapters) for n in args.chapters]
    recorded = costs.all_recorded(root)
    if args.json:
        doc = [{"chapter": c.name, "title": c.title, "notebook": str(c.path.relative_to(root)),
                "in_toc": c.in_toc,
                "cost": {p: {"memory_bytes": e.memory_bytes, "seconds": e.seconds, "drivers": list(e.drivers),
                             "measured": e.measured}
                         for p, e in _preset_costs(c, recorded).items()},
                "parameters": [{"name": p.name, "type": p.type, "default": p.default, "help": p.help,
                                "presets": c.preset_values(p.name)} for p in c.parameters]}
               for c in chapters]
        print(json.dumps(doc, indent=1, default=repr))
        return EXIT_OK
    for k, c in enumerate(chapters):
        if k:
            print()
        flag = "" if c.in_toc else "  (not in _toc.yml yet)"
        line = f"{c.name}: {c.title}  [{c.path.relative_to(root)}]{flag}"
        if len(line) > LIST_WIDTH:
            line = f"{c.name}: {c.title}\n  [{c.path.relative_to(root)}]{flag}"
        print(line)
        est = _preset_costs(c, recorded)
        if est:
            _print_wrapped("cost: " + "; ".join(
                f"{p} {e.text()}" + (" (measured in the last full re-run)" if e.measured
                                     else " (estimated)" if e.seconds is not None else "")
                for p, e in est.items()), indent="  ", hang="        ")
        _print_parameters(c, est)
    return EXIT_OK


#: ``opsense list`` fits in this many columns.
LIST_WIDTH = 100
#: Columns of the parameter table: name (at least; wider for a long name), type, value (book;
#: paper), then the help.
_NAME_W, _TYPE_W, _VALUE_W = 14, 7, 22


def _print_wrapped(text: str, *, indent: str, hang: str, width: int = LIST_WIDTH) -> None:
    import textwrap

    print(textwrap.fill(text, width=width, initial_indent=indent, subsequent_indent=hang,
                        break_on_hyphens=False))


def _short_type(t: str) -> str:
    """``Optional[int]`` -> ``int`` (None always means "the preset's value")."""
    return t[len("Optional["):-1] if t.startswith("Optional[") and t.endswith("]") else (t or "?")


def _preset_help(help_: str, est: dict) -> str:
    """The ``preset`` parameter's help, with each preset's wall time from the records (measured, or
    scaled from another preset's measurement), so the stated cost is never a stale hand-written one."""
    from . import costs

    times = [f'"{name}" {"measured" if e.measured else "estimated"} about {costs.duration(e.seconds)}'
             for name, e in est.items() if e.seconds is not None]
    help_ = help_.replace(" (wall times: opsense list)", "")
    return help_ + ("; wall time: " + ", ".join(times) if times else "")


def _print_parameters(c, est: dict | None = None) -> None:
    """The parameter table of one chapter in :data:`LIST_WIDTH` columns: each parameter's value in the
    book and paper presets (not the cell's ``None``), and its help wrapped under the help column; the
    ``preset`` row states each preset's wall time (``est``: :func:`_preset_costs`)."""
    import textwrap

    name_w = max([_NAME_W] + [len(p.name) + 1 for p in c.parameters])
    head = "  " + "name".ljust(name_w) + "type".ljust(_TYPE_W) + "value (book; paper)".ljust(_VALUE_W)
    print(head + "help")
    col = " " * len(head)
    help_width = LIST_WIDTH - len(col)
    for p in c.parameters:
        presets = c.preset_values(p.name)
        if presets and p.default is None:
            vals = list(presets.values())
            value = repr(vals[0]) if all(x == vals[0] for x in vals) else "; ".join(repr(x) for x in vals)
        else:
            value = p.default_text
        help_ = p.help.replace(" (None: the preset's)", "").replace("(None: the preset's)", "").strip()
        if p.name in _catalog().RESERVED:
            help_ += " (set by opsense run: the --out folder)"
        if p.name == "preset" and est:
            help_ = _preset_help(help_, est)
        left = "  " + p.name.ljust(name_w - 1) + " " + _short_type(p.type).ljust(_TYPE_W - 1) + " "
        lines = textwrap.wrap(help_, width=help_width) or [""]
        if len(value) < _VALUE_W:   # (len(left) + _VALUE_W is the help column)
            print(left + value.ljust(_VALUE_W) + lines[0])
            rest = lines[1:]
        else:  # a long value gets its own line(s), the help follows under the help column
            for k, part in enumerate(textwrap.wrap(value, width=LIST_WIDTH - len(left)) or [value]):
                print((left if k == 0 else " " * len(left)) + part)
            rest = lines
        for line in rest:
            print(col + line)


# ----------------------------------------------------------------------------- run
def _error_text(err) -> tuple[str, str]:
    """(status, one-paragraph message) of an exception raised by papermill."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(err, PapermillExecutionError):
        first = (err.source or "").strip().splitlines()
        where = f"cell In[{err.exec_count}]" + (f" ({first[0][:60]!r}...)" if first else "")
        if err.ename == "ClaimsFailed":
            return "claims failed", f"{err.evalue}"
        if err.ename == "ValueError" and "configure(" in (err.source or ""):
            return "parameters refused", f"the chapter refused its parameters: {err.evalue}"
        return "error", f"{where} raised {err.ename}: {err.evalue}"
    return "error", f"{type(err).__name__}: {err}"


@contextlib.contextmanager
def _engine_progress(out: Path, stream, *, enabled: bool, name: str, poll: float = 0.25):
    """While a chapter runs, draw a second bar from the engine's progress file: the steps of the
    current ``run_gd`` call inside the running cell, with tqdm's rate and ETA for that call.

    The kernel inherits ``OPSENSE_PROGRESS`` (:mod:`opsense.engine.progress`) naming a file in the
    run's folder; the engine appends ``"done total"`` there, and a thread here follows it.
    """
    if not enabled:
        yield
        return
    import threading

    from tqdm.auto import tqdm

    from ..engine.progress import ENV

    path = out / ".engine-progress"
    path.write_text("")
    previous = os.environ.get(ENV)
    os.environ[ENV] = str(path)
    stop = threading.Event()

    def follow():
        bar, pos, total, calls = None, 0, None, 0
        while not stop.wait(poll):
            try:
                with open(path, encoding="utf-8") as f:
                    f.seek(pos)
                    chunk = f.read()
            except OSError:
                continue
            lines = chunk.splitlines()
            if not chunk.endswith("\n") and lines:  # a line still being written
                chunk = chunk[: chunk.rfind("\n") + 1]
                lines = lines[:-1]
            pos += len(chunk.encode("utf-8"))
            for line in lines:
                try:
                    done, tot = (int(x) for x in line.split())
                except ValueError:
                    continue
                if bar is None or tot != total or done < bar.n:  # a new engine call
                    calls += 1
                    total = tot
                    if bar is None:  # the follower polls every `poll` s: no throttling of its own
                        bar = tqdm(total=tot, desc=f"{name}: gradient steps", unit="step", file=stream,
                                   leave=False, dynamic_ncols=True, mininterval=0)
                    bar.set_postfix_str(f"engine call {calls}", refresh=False)
                    bar.reset(total=tot)
                bar.update(done - bar.n)
        if bar is not None:
            bar.close()

    thread = threading.Thread(target=follow, name="opsense-engine-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
        if previous is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = previous
        path.unlink(missing_ok=True)


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _log_failure(log, err) -> None:
    """Write what a user needs into ``kernel.log``: the failing cell, its error and traceback."""
    from papermill.exceptions import PapermillExecutionError

    log.flush()
    if isinstance(err, PapermillExecutionError):
        trace = _ANSI.sub("", "\n".join(err.traceback or []))
        log.write(f"\n=== the failing cell: In[{err.exec_count}] (cell {err.cell_index} of the notebook) ===\n"
                  f"{(err.source or '').rstrip()}\n\n=== its error ===\n{err.ename}: {err.evalue}\n\n"
                  f"=== traceback ===\n{trace}\n")
    else:
        log.write(f"\n=== the run failed before or outside a cell ===\n{type(err).__name__}: {err}\n")
    log.flush()


def _notebook_claims(nb_path: Path):
    """The claims bundle the executed notebook displays (``None`` if it has none)."""
    import nbformat

    from ..claims import MIME_TYPE

    try:
        nb = nbformat.read(nb_path, as_version=4)
    except (OSError, ValueError):
        return None, {}
    doc = None
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if MIME_TYPE in (out.get("data") or {}):
                doc = out["data"][MIME_TYPE]
    return doc, nb.metadata.get("papermill", {})


def _run_one(ch, values: dict, out: Path, *, progress: bool, timeout: int | None, command: str = ""):
    """Execute one chapter into ``out``; return its :class:`~opsense.tools.report.ChapterResult`."""
    import papermill as pm

    from ..claims import ClaimsDataError, bundle_document, read_claims, write_json_atomic
    from .report import ChapterResult

    out.mkdir(parents=True, exist_ok=True)
    params = dict(values)
    params["results_dir"] = str(out)
    nb_out = out / f"{ch.name}.ipynb"
    status, error, t0 = "ok", "", time.perf_counter()
    with open(out / "kernel.log", "w", encoding="utf-8") as log, _kernel_stderr(log) as bar, \
            _engine_progress(out, bar, enabled=progress, name=ch.name):
        try:
            pm.execute_notebook(str(ch.path), str(nb_out), parameters=params, cwd=str(ch.path.parent),
                                kernel_name="python3", language="python",
                                progress_bar={"desc": ch.name, "leave": True, "file": bar} if progress else False,
                                start_timeout=120, execution_timeout=timeout,
                                # the kernel's start-up log (a TCP notice) is noise in kernel.log
                                extra_arguments=["--IPKernelApp.log_level=ERROR"])
        except KeyboardInterrupt:
            status, error = "interrupted", "interrupted by the user (Ctrl-C)"
        except Exception as err:  # noqa: BLE001 - every failure is reported, the run goes on
            status, error = _error_text(err)
            _log_failure(log, err)
    wall = time.perf_counter() - t0
    doc, meta = _notebook_claims(nb_out)
    try:
        duration = float(meta.get("duration") or wall)
    except (TypeError, ValueError):
        duration = wall
    claims = []
    if doc is not None:
        try:
            claims = read_claims(bundle_document(doc), source=nb_out.name).claims
        except ClaimsDataError as err:
            status, error = "invalid claims", str(err)
    if status == "ok" and doc is None:
        status, error = "no claims", "the chapter ran but displayed no claims"
    run = {"chapter": ch.name, "notebook": nb_out.name, "status": status, "error": error,
           "parameters": values, "duration_s": round(duration, 2), "command": command,
           "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(time.time() - wall))}
    write_json_atomic(out / "run.json", json.loads(json.dumps(run, default=repr)))
    return ChapterResult(ch.name, claims, status, round(duration, 2), values, error)


def _validate_all(targets, given, raw, *, every: bool) -> dict[str, dict]:
    """Validate ``given`` for every target chapter; with ``every`` (--all), a name applies where declared."""
    plan = {}
    for ch in targets:
        if every:
            mine = {k: v for k, v in given.items() if any(p.name == k for p in ch.parameters)}
        else:
            mine = given
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", _config().OutsideRegimeWarning)
            plan[ch.name] = ch.validate(mine, raw=raw)
        for w in caught:
            if issubclass(w.category, _config().OutsideRegimeWarning):
                print(f"warning: {w.message}", file=sys.stderr)
            else:  # pragma: no cover - any other warning passes through unchanged
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if every:
        unknown = [k for k in given if not any(any(p.name == k for p in ch.parameters) for ch in targets)]
        if unknown:
            raise _catalog().ParameterError(f"no chapter has a parameter {', '.join(map(repr, unknown))}")
    return plan


def _print_claims(res, out=sys.stdout) -> None:
    for c in res.claims:
        mark = {"holds": "holds", "fails": "FAILS", "does not reproduce": "DNR"}[c.verdict]
        print(f"  {mark:5}  {c.id}: measured {c.measured_text()}, predicted {c.predicted()} ({c.basis})", file=out)
        if c.verdict == "does not reproduce":
            print(f"         expected: {c.expected_failure}", file=out)


def _check_costs(targets, plan, root, *, yes: bool, max_minutes: float, jobs: int = 1) -> None:
    """Refuse a run that needs more memory than the machine has, and one estimated to take longer
    than ``max_minutes`` unless ``yes``; say the estimate otherwise. With ``jobs`` chapters at a
    time, the ``jobs`` largest memory needs must fit together, and the time is the larger of
    the total over ``jobs`` and the longest chapter."""
    from . import costs

    if max_minutes <= 0:
        raise UsageError(f"--max-minutes must be > 0, got {max_minutes:g}")
    recorded = costs.all_recorded(root)
    estimates = [e for e in (costs.estimate(ch, plan[ch.name], recorded=recorded) for ch in targets) if e]
    memory = costs.machine_memory()
    for e in estimates:
        if e.memory_bytes > 0.8 * memory:
            raise UsageError(f"chapter {e.chapter}: these parameters need about {costs.size(e.memory_bytes)} of "
                             f"memory (driven by {', '.join(e.drivers) or 'the sizes'}), more than this machine's "
                             f"{costs.size(memory)} allow; lower them")
    together = sum(sorted((e.memory_bytes for e in estimates), reverse=True)[:jobs])
    if jobs > 1 and together > 0.8 * memory:
        raise UsageError(f"--jobs {jobs}: the {jobs} largest chapters need about {costs.size(together)} of memory "
                         f"together, more than this machine's {costs.size(memory)} allow; use fewer jobs")
    times = [e.seconds for e in estimates if e.seconds is not None]
    total = max(sum(times) / jobs, max(times, default=0.0))
    if total > 60 * max_minutes and not yes:
        slow = max(estimates, key=lambda e: e.seconds or 0.0)
        raise UsageError(f"the run is estimated to take {costs.duration(total)} (chapter {slow.chapter}: "
                         f"{costs.duration(slow.seconds)}, driven by {', '.join(slow.drivers) or 'the sizes'}); "
                         f"pass --yes to run it anyway, or --max-minutes to raise the limit")
    if estimates:
        known = any(e.seconds is not None for e in estimates)
        peak = max(e.memory_bytes for e in estimates)
        print(f"estimated cost: about {costs.size(peak)} of memory" + (" per chapter" if jobs > 1 else "")
              + (f", about {costs.duration(total)}" if known else "")
              + (f" with {jobs} chapters at a time" if jobs > 1 and known else ""), file=sys.stderr, flush=True)


def _command(args, given, raw, targets) -> str:
    """The command line of a run, shell-quoted so that it pastes back."""
    words = ["opsense", "run", "--all" if args.all else targets[0].name]
    for k, v in given.items():
        if k != "preset":
            words += ["-p", k, raw.get(k, repr(v))]
    if "preset" in given:
        words += ["--preset", given["preset"]]
    if args.out:
        words += ["--out", args.out]
    if getattr(args, "threads", 1) != 1:
        words += ["--threads", str(args.threads)]
    if getattr(args, "jobs", 1) != 1:
        words += ["--jobs", str(args.jobs)]
    return shlex.join(words)


def _print_outcome(res, out: Path, *, every: bool) -> None:
    """The line (and error or claims) printed when a chapter finishes."""
    from . import report

    took = f" ({res.duration_s:.1f} s)" if res.duration_s is not None else ""
    print(f"{res.chapter}: {res.status}, {report.summary_line([res])}{took}", flush=True)
    if res.error:
        for text in res.error.splitlines():
            print(f"  {text}", flush=True)
        if res.status not in ("claims failed", "interrupted"):
            where = f"{_rel(out)}/{res.chapter + '/' if every else ''}"
            print(f"  see {where}{res.chapter}.ipynb and {where}kernel.log", flush=True)
    elif not every:
        _print_claims(res)


def _run_parallel(targets, plan, work: Path, out: Path, *, jobs: int, timeout, command: str):
    """``run --all --jobs N``: ``N`` chapters at once, each in a process of its own (its kernel's
    standard error and environment are per process); results in the order of ``targets``.

    Returns
    -------
    (list of ChapterResult, int)
        The results of the chapters that ran (an interrupted run keeps the finished ones and marks
        the running ones interrupted), and the exit status.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from .report import ChapterResult

    print(f"running {len(targets)} chapters, {jobs} at a time (no progress bars)", file=sys.stderr, flush=True)
    done: dict[str, object] = {}
    interrupted = False
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = {pool.submit(_run_one, ch, plan[ch.name], work / ch.name, progress=False, timeout=timeout,
                               command=command): ch for ch in targets}
        for fut in as_completed(futures):
            ch = futures[fut]
            try:
                res = fut.result()
            except Exception as err:  # noqa: BLE001 - a lost process is that chapter's error, not the run's
                res = ChapterResult(ch.name, [], "error", None, plan[ch.name], f"the chapter's process failed: {err}")
            done[ch.name] = res
            _print_outcome(res, out, every=True)
    except KeyboardInterrupt:
        interrupted = True
        for fut in futures:
            fut.cancel()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if interrupted:
        for fut, ch in futures.items():
            if ch.name not in done and fut.done() and not fut.cancelled() and fut.exception() is None:
                done[ch.name] = fut.result()
    results = [done[ch.name] for ch in targets if ch.name in done]
    if interrupted or any(r.status == "interrupted" for r in results):
        return results, EXIT_INTERRUPTED
    return results, (EXIT_OK if all(r.status == "ok" for r in results) else EXIT_FAIL)


@contextlib.contextmanager
def _kernel_threads(threads: int):
    """Give the chapters' kernels (children of this process) ``threads`` BLAS threads."""
    from ..blas import ENV

    names = (ENV, "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    previous = {k: os.environ.get(k) for k in names}
    os.environ.update({k: str(threads) for k in names})
    try:
        yield
    finally:
        for k, val in previous.items():
            if val is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = val


def _cmd_run(args) -> int:
    from ..claims import write_json_atomic
    from . import report

    if bool(args.chapter) == bool(args.all):
        raise UsageError("give one CHAPTER or --all (see opsense list)")
    root, chapters = _chapters(args)
    get_chapter = _catalog().get_chapter
    targets = [c for c in chapters if c.in_toc] if args.all else [get_chapter(args.chapter, chapters)]
    given, raw = _parse_given(args.param, args.preset)
    plan = _validate_all(targets, given, raw, every=args.all)           # everything is checked before any kernel
    if args.timeout is not None and args.timeout <= 0:
        raise UsageError(f"--timeout must be a positive number of seconds, got {args.timeout}")
    cpus = os.cpu_count() or 1
    if not 1 <= args.threads <= cpus:
        raise UsageError(f"--threads must be an integer in [1, {cpus}] (this machine's cores), got {args.threads}")
    if args.jobs < 1 or (args.jobs > 1 and not args.all) or args.jobs * args.threads > cpus:
        raise UsageError(f"--jobs must be an integer >= 1, above 1 only with --all, and --jobs x --threads must not "
                         f"exceed this machine's {cpus} cores; got --jobs {args.jobs} --threads {args.threads}")
    out = _new_folder(Path(args.out) if args.out else _default_folder("all" if args.all else targets[0].name), root,
                      force=args.force)
    record = None
    if args.record:
        record = Path(args.record).expanduser().resolve()
        if record.suffix != ".json":
            raise UsageError(f"--record must name a .json file, got {args.record}")
        if not record.parent.is_dir() or not _can_write_in(record.parent) or (
                record.exists() and not os.access(record, os.W_OK)):
            raise UsageError(f"--record {args.record}: cannot write there")
    _check_costs(targets, plan, root, yes=args.yes, max_minutes=args.max_minutes, jobs=args.jobs)
    from .. import blas

    loaded = blas.load_warning(cpus, needed=args.jobs * args.threads)
    if loaded:
        print(f"opsense: {loaded}", file=sys.stderr, flush=True)
    command = _command(args, given, raw, targets)
    progress = not args.no_progress
    results, exit_code, t0 = [], EXIT_OK, time.perf_counter()
    with RunFolder(out, force=args.force) as work, _kernel_threads(args.threads):
        env = report.environment(root, kernel_threads=args.threads)
        write_json_atomic(work / "environment.json", env)
        if args.jobs > 1:
            results, exit_code = _run_parallel(targets, plan, work, out, jobs=args.jobs, timeout=args.timeout,
                                               command=command)
        for k, ch in enumerate(targets if args.jobs == 1 else []):
            folder = work / ch.name if args.all else work
            if args.all:
                print(f"[{k + 1}/{len(targets)}] {ch.name}", file=sys.stderr, flush=True)
            res = _run_one(ch, plan[ch.name], folder, progress=progress, timeout=args.timeout, command=command)
            results.append(res)
            _print_outcome(res, out, every=args.all)
            if res.status == "interrupted":
                exit_code = EXIT_INTERRUPTED
                break
            if res.status != "ok":
                exit_code = max(exit_code, EXIT_FAIL)
        wall = time.perf_counter() - t0
        paths = report.write_report(work, results, env, command=command)
        text = paths["md"].read_text(encoding="utf-8").rstrip()
    if record is not None and exit_code != EXIT_INTERRUPTED:
        write_json_atomic(record, json.loads((out / "report.json").read_text(encoding="utf-8")))
    print(f"outputs in {_rel(out)}/ (report.md, report.html" + (f", {targets[0].name}.ipynb" if not args.all else "")
          + ")" + (f"; record copied to {_rel(record)}" if record is not None and exit_code != EXIT_INTERRUPTED
                   else ""))
    if exit_code == EXIT_INTERRUPTED:
        _err(f"interrupted: the chapters that finished, and the interrupted one marked as such, are in {_rel(out)}/")
        return exit_code
    if args.all:
        print(f"wall time of opsense run --all: {wall:.1f} s")
        print()
        print(text)   # its last line is the summary line
    else:
        print(report.summary_line(results))
    return exit_code


# ----------------------------------------------------------------------------- report
def _latest_run(base: Path) -> Path:
    if not base.is_dir():
        raise UsageError(f"no run folder given and no {base}/ here: run `opsense run --all` first")
    cands = [d for d in base.iterdir() if d.is_dir() and (any(d.rglob("claims.json")) or any(d.rglob("run.json")))]
    if not cands:
        raise UsageError(f"no run with claims.json under {base}/: run `opsense run --all` first")
    def newest(d: Path):  # the run whose files were written last; ties (coarse clocks) go to the later name
        return (max(p.stat().st_mtime_ns for p in [d, *d.rglob("*")]), d.name)

    return max(cands, key=newest)


def _recorded_command(folder: Path) -> str:
    """The command that produced a run folder (from its report.json, else a run.json), if known:
    ``report`` never replaces a run's own record of how it was made."""
    for path in [folder / "report.json", *sorted(folder.rglob("run.json"))]:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            continue
        if isinstance(doc, dict) and isinstance(doc.get("command"), str) and doc["command"].startswith("opsense run"):
            return doc["command"]
    return ""


def _cmd_report(args) -> int:
    from . import report

    folder = Path(args.dir) if args.dir else _latest_run(Path("runs"))
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder")
    try:
        root = _catalog().find_root()
        order = [c.name for c in _catalog().discover(root)]
    except FileNotFoundError:
        root, order = None, []
    results = report.collect(folder, order=order)
    if not results:
        raise UsageError(f"no claims.json or run.json under {folder}")
    env_file = folder / "environment.json"
    note = ""
    if env_file.is_file():
        env = json.loads(env_file.read_text(encoding="utf-8"))
    else:
        env = report.environment(root)
        note = "The run folder has no environment.json: the environment below is the one of this report, not of the run."
    paths = report.write_report(folder, results, env, command=_recorded_command(folder) or
                                shlex.join(["opsense", "report", str(folder)]), note=note)
    if args.record:
        from ..claims import write_json_atomic

        write_json_atomic(Path(args.record), json.loads(paths["json"].read_text(encoding="utf-8")))
    if not args.dir:
        print(f"(report of the latest run: {_rel(folder)})", file=sys.stderr)
    print(paths["md"].read_text(encoding="utf-8").rstrip())
    print(f"\nwritten: {_rel(paths['md'])}, {_rel(paths['html'])}, {_rel(paths['json'])}", file=sys.stderr)
    bad = any(r.status != "ok" or r.failed for r in results)  # invalid claims are never success
    return EXIT_FAIL if bad else EXIT_OK


# ----------------------------------------------------------------------------- sweep
def _cmd_sweep(args) -> int:
    """``opsense sweep``: Dask and pyarrow are imported only here."""
    from . import sweep

    try:
        return sweep.main(args)
    except sweep.SweepError as err:
        raise UsageError(str(err)) from None


def _add_sweep_parser(sub) -> None:
    from . import sweep   # light at import: Dask and pyarrow load only when a sweep runs

    sweep.add_parser(sub)
    sub.choices["sweep"].set_defaults(func=_cmd_sweep)


def _cmd_robustness(args) -> int:
    from . import robustness, sweep

    try:
        return robustness.main(args)
    except (robustness.RobustnessError, sweep.SweepError) as err:
        raise UsageError(str(err)) from None


def _add_robustness_parser(sub) -> None:
    from . import robustness

    robustness.add_parser(sub)
    sub.choices["robustness"].set_defaults(func=_cmd_robustness)


# ----------------------------------------------------------------------------- main
class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit status 2 (argparse's own convention)
        self.print_usage(sys.stderr)
        _err(message)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = _Parser(prog="opsense", description="List, re-run and report the chapters of the opsense book.",
                     epilog="Exit status: 0 all claims hold; 1 a claim fails or a cell raises; 2 wrong command line.")
    parser.add_argument("--version", action="version", version=f"opsense {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("list", help="every chapter with its parameters (name, type, default, help)")
    p.add_argument("chapters", nargs="*", metavar="CHAPTER", help="only these chapters")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("run", help="execute a chapter (or --all) into a new folder, with its claims",
                       description="Execute chapters with papermill into a new folder: executed notebook, "
                                   "figures, claims.json, run.json, report.md/html/json.")
    p.add_argument("chapter", nargs="?", metavar="CHAPTER", help="a chapter name (see opsense list)")
    p.add_argument("--all", action="store_true", help="run every chapter of _toc.yml, in order")
    p.add_argument("-p", "--parameter", dest="param", nargs=2, action="append", metavar=("NAME", "VALUE"),
                   help="set a parameter; VALUE is a Python literal (20, 1e-3, [0.1, 0.05], None, True) "
                        "or a plain string. With --all it applies to every chapter that has NAME.")
    p.add_argument("--preset", metavar="NAME", help="the chapters' preset: book (default, fast) or paper")
    p.add_argument("--out", metavar="DIR", help="new output folder (default runs/<chapter or all>-<time>/)")
    p.add_argument("--record", metavar="FILE.json",
                   help="also copy the run's report.json there (maintainers: book/reproduction.json)")
    p.add_argument("--force", action="store_true",
                   help="replace the output folder if an earlier opsense run wrote it")
    p.add_argument("--yes", action="store_true",
                   help="run even if the estimated time exceeds --max-minutes")
    p.add_argument("--max-minutes", type=float, default=30.0, metavar="M",
                   help="estimated run time above which --yes is needed (default 30)")
    p.add_argument("--timeout", type=float, metavar="S", help="limit per cell, seconds (default none)")
    p.add_argument("--threads", type=int, default=1, metavar="N",
                   help="BLAS threads of each chapter's kernel (default 1: the book's operators are small, and a "
                        "second thread stalls on a loaded machine)")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="with --all: run N chapters at once, each in its own process (default 1; --jobs x "
                        "--threads at most the cores)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("report", help="one table of every claims.json under DIR (default: the latest run)")
    p.add_argument("dir", nargs="?", metavar="DIR", help="a folder written by opsense run")
    p.add_argument("--record", metavar="FILE.json", help="also copy report.json there")
    p.set_defaults(func=_cmd_report)

    _add_sweep_parser(sub)
    _add_robustness_parser(sub)

    p = sub.add_parser("bench", help="time the engine against a naive loop, a bandwidth bound and an instance loop",
                       description="The engine's benchmark, in one process: ratios against references measured "
                                   "in the same run (nothing is asserted).")
    from . import bench

    bench.add_arguments(p)
    p.set_defaults(func=_cmd_bench)
    return parser


def _cmd_bench(args) -> int:
    from . import bench

    try:
        return bench.run(args)
    except ValueError as err:
        raise UsageError(str(err)) from None


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``opsense`` console script; returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 every claim holds; 1 a claim fails, a cell raises or a record is invalid; 2 a wrong
        command line (nothing was run); 130 interrupted.
    """
    try:
        return _main(argv)
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `opsense list | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


def _main(argv) -> int:
    ParameterError = _catalog().ParameterError
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.func(args)
    except (UsageError, ParameterError) as err:
        _err(str(err))
        return EXIT_USAGE
    except PermissionError as err:
        _err(f"cannot write {err.filename or 'a file'}: permission denied")
        return EXIT_USAGE
    except OSError as err:
        if err.filename is None:
            raise
        _err(f"cannot write {err.filename}: {err.strerror}")
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
