"""``opsense sweep``: a chapter's claims over a grid of parameters and seeds, on Dask.

::

    opsense sweep CHAPTER [--grid NAME=V1,V2,...]... [--seeds A:B] [--preset NAME] [--out DIR]
                  [--workers N | --scheduler tcp://HOST:PORT] [--retries N] [--yes] [--max-minutes M]
    opsense sweep --summary DIR [--json FILE]

A *point* is one full parameter set of the chapter: its preset, the grid's values (the
Cartesian product of every ``--grid``) and a seed of ``--seeds A:B`` (``A, A+1, ..., B-1``).
Each point runs the chapter module's ``evaluate(P)`` (the notebook's whole computation, without
a kernel or figures) on a Dask worker and gives one row per claim.

Before anything starts, every point is validated by the chapter's own rules
(:meth:`opsense.tools.catalog.Chapter.validate`: the parameters cell's types, then
:func:`opsense.configure` and the chapter's ``check``), and the sweep's cost is estimated from
the chapter's ``cost(P)`` (memory per point against the memory of one worker; time from the
record of the last full re-run, as ``opsense run`` does, see :mod:`opsense.tools.costs`).

The output folder ``DIR`` (default ``runs/sweep-<chapter>-<8 hex digits of the spec>``) holds

``sweep.json``
    the spec: chapter, preset, grid, seeds, the command, and the identities of its points;
``points/<id>.json``
    one file per finished point (its full parameters, the claims, runtime, package version,
    commit), written to a temporary name then renamed (``os.replace``) as soon as the point
    finishes; ``errors/<id>.json`` for a point whose ``evaluate`` raised;
``results.parquet``, ``results.csv``
    the tidy table, one row per (point, claim): the union of ``points/``;
``summary.json``
    the figures ``summarize`` prints.

A point's identity is a hash of the chapter, the preset and its full parameter dict
(``point_id``), so re-running the same command skips every finished point, and an
interrupted sweep (Ctrl-C, or SIGTERM: exit status 130) keeps all it finished. A lock file
``DIR/.sweep.lock`` refuses a second sweep into the same folder while one runs, and a folder
holding another sweep (other chapter, preset, grid or seeds) is refused.

Exit status: 0 every point finished and every claim holds (or does not reproduce, as
documented) at every point; 1 a claim fails at some point or a point raised; 2 a wrong command
line (nothing was run); 130 interrupted.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import hashlib
import importlib
import itertools
import json
import math
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from .. import blas
from ._proc import pid_alive

__all__ = ["SweepError", "Point", "parse_grid", "parse_seeds", "point_id", "plan_points", "wilson_interval",
           "read_points", "table_rows", "write_table", "summarize", "summary_text", "run_sweep", "add_parser", "main"]

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
FORMAT, VERSION = "opsense-sweep", 1
#: The BLAS/OpenMP thread variables set to 1 in every worker (one thread per worker process).
BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
#: Read by :func:`opsense.configure`, which limits the BLAS of a running worker with threadpoolctl
#: (the variables above act only where NumPy is not loaded yet).
BLAS_THREADS_ENV = blas.ENV
#: The z of a two-sided 95% interval.
Z95 = 1.959963984540054
#: Fixed columns of the table, in order (the parameters come after ``seed`` as ``param_<name>``).
COLUMNS = ("point", "chapter", "preset", "seed")
CLAIM_COLUMNS = ("claim", "measured", "lo", "hi", "basis", "form", "test", "verdict", "ci_lo", "ci_hi", "n")
TAIL_COLUMNS = ("in_regime", "runtime_s", "opsense_version", "commit")
#: Dask's per-task overhead, seconds, added to the estimate of every point.
TASK_OVERHEAD = 0.01


class SweepError(ValueError):
    """A wrong sweep command line or output folder: one message, exit status 2."""


# ----------------------------------------------------------------------------- the grid
def _split_top(text: str) -> list[str]:
    """Split ``text`` at the commas outside brackets and quotes."""
    parts, depth, quote, cur = [], 0, "", []
    for ch in text:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "[({":
            depth += 1
        elif ch in "])}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    if depth != 0 or quote:
        raise SweepError(f"unbalanced brackets or quotes in {text!r}")
    return [p.strip() for p in parts]


def parse_grid(items) -> dict[str, list[str]]:
    """Parse ``--grid NAME=V1,V2,...`` options into ``{name: [raw value, ...]}``.

    Values are split at the commas outside brackets and quotes, so a list-valued parameter is
    written as ``opsense run -p`` takes it: ``m_values=[25,50,100],[50,100,200]`` is two values.

    Parameters
    ----------
    items : list of str
        The ``--grid`` options as typed.

    Returns
    -------
    dict of str to list of str
        The raw texts of each name's values, in the order given.

    Raises
    ------
    SweepError
        A malformed option, an empty list or an empty value, a name given twice, a value listed
        twice; the message quotes the option.
    """
    grid: dict[str, list[str]] = {}
    for item in items or []:
        name, eq, values = str(item).partition("=")
        name = name.strip()
        if not eq or not name:
            raise SweepError(f"--grid {item!r}: expected NAME=V1,V2,... (e.g. --grid n1=10,20)")
        if not re.fullmatch(r"[A-Za-z_]\w*", name):
            raise SweepError(f"--grid {item!r}: {name!r} is not a parameter name")
        if name in grid:
            raise SweepError(f"--grid {name} is given twice; list all its values in one --grid {name}=V1,V2,...")
        if not values.strip():
            raise SweepError(f"--grid {name}= gives no values; write --grid {name}=V1,V2,...")
        try:
            raws = _split_top(values)
        except SweepError as err:
            raise SweepError(f"--grid {name}: {err}") from None
        if any(not r for r in raws):
            raise SweepError(f"--grid {name}={values}: an empty value (two commas, or one at an end)")
        seen = set()
        for r in raws:
            key = repr(_parse_value(r))
            if key in seen:
                raise SweepError(f"--grid {name} lists {r} twice")
            seen.add(key)
        grid[name] = raws
    return grid


def _parse_value(raw: str):
    from .catalog import parse_value

    return parse_value(raw)


def parse_seeds(text: str | None) -> list[int] | None:
    """Parse ``--seeds A:B``: the seeds ``A, A+1, ..., B-1`` (``B`` excluded, as in Python).

    Parameters
    ----------
    text : str or None
        The option as typed (``None``: no ``--seeds``).

    Returns
    -------
    list of int or None

    Raises
    ------
    SweepError
        Unless ``A`` and ``B`` are integers with ``0 <= A < B``.
    """
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", str(text))
    if not m or int(m.group(1)) >= int(m.group(2)):
        raise SweepError(f"--seeds must be A:B with integers 0 <= A < B (the seeds A, ..., B-1), got {text!r}")
    return list(range(int(m.group(1)), int(m.group(2))))


@dataclass(frozen=True)
class Point:
    """One point of a sweep.

    Attributes
    ----------
    id : str
        ``point_id`` of the chapter, preset and full parameters.
    given : dict
        The grid's values and the seed (converted to the parameters' types).
    raw : dict
        The same as typed, for the ``opsense run`` command that reproduces the point.
    parameters : dict
        Every parameter of the chapter at this point (preset's values included, ``preset`` excluded).
    regime : tuple of str
        The regime conditions the point violates (empty inside the regime the theory covers).
    """

    id: str
    given: dict
    raw: dict
    parameters: dict
    regime: tuple = ()

    def label(self) -> str:
        """``"n1=10, seed=3"``: the point's varied values."""
        return ", ".join(f"{k}={self.raw.get(k, repr(v))}" for k, v in self.given.items()) or "the preset"


def point_id(chapter: str, preset: str, parameters: dict) -> str:
    """The identity of a point: a hash of its chapter, preset and full parameter dict.

    Parameters
    ----------
    chapter : str
        The chapter's name.
    preset : str
        The preset.
    parameters : dict
        Every parameter of the point (JSON-serialisable values).

    Returns
    -------
    str
        20 hexadecimal digits of the SHA-256 of the canonical JSON of the three.
    """
    doc = json.dumps({"chapter": chapter, "preset": preset, "parameters": parameters}, sort_keys=True,
                     separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(doc.encode("utf-8")).hexdigest()[:20]


def plan_points(chapter, preset: str, grid: dict[str, list[str]], seeds: list[int] | None) -> list[Point]:
    """Every point of a sweep, each validated by the chapter before anything runs.

    Parameters
    ----------
    chapter : opsense.tools.catalog.Chapter
        The chapter.
    preset : str
        A preset of the chapter.
    grid : dict of str to list of str
        From :func:`parse_grid`.
    seeds : list of int or None
        From :func:`parse_seeds`; ``None`` keeps the preset's (or the grid's) seed.

    Returns
    -------
    list of Point
        The Cartesian product of the grid's values (in the order given) and the seeds.

    Raises
    ------
    SweepError
        A name the chapter does not have (or ``preset``, ``results_dir``, ``seed`` twice), a value
        of the wrong type, or a point the chapter refuses; the message names the ``--grid``
        value or the point, and the parameter.
    """
    from ..config import OutsideRegimeWarning, configure
    from .catalog import RESERVED, ParameterError

    if preset not in chapter.presets:
        raise SweepError(f"--preset must be one of {', '.join(chapter.presets)} for chapter {chapter.name}, "
                         f"got {preset!r}")
    for name in grid:
        if name == "preset":
            raise SweepError("--grid preset=...: give the preset with --preset (one preset per sweep)")
        if name in RESERVED:
            raise SweepError(f"--grid {name}=...: {name} is set by the runner, not swept")
        try:
            chapter.parameter(name)
        except ParameterError as err:
            raise SweepError(f"--grid {name}: {err}") from None
    if seeds is not None:
        if "seed" in grid:
            raise SweepError("give the seeds either with --seeds A:B or with --grid seed=..., not both")
        try:
            chapter.parameter("seed")
        except ParameterError:
            raise SweepError(f"--seeds: chapter {chapter.name} has no parameter seed") from None
    axes = [(name, [(raw, _parse_value(raw)) for raw in raws]) for name, raws in grid.items()]
    if seeds is not None:
        axes.append(("seed", [(str(s), s) for s in seeds]))
    # every single value first, with the others at the preset. A value refused alone may be feasible
    # with the grid's other values (a longer horizon with a larger kappa), so its refusal is kept and
    # given only if a point holding it is refused too: the message then names that value
    alone: dict[tuple[str, str], SweepError] = {}
    for name, values in axes:
        for raw, value in values:
            try:
                _validate(chapter, preset, {name: value}, {name: raw}, where=f"--grid {name}={raw}"
                          if name in grid else f"--seeds (seed {raw})")
            except SweepError as err:
                alone[(name, raw)] = err
    points, seen = [], {}
    names = [name for name, _ in axes]
    for combo in itertools.product(*[values for _, values in axes]):
        given = {n: v for n, (_, v) in zip(names, combo)}
        raw = {n: r for n, (r, _) in zip(names, combo)}
        where = "grid point " + (", ".join(f"{k}={raw[k]}" for k in names) or "(the preset)")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", OutsideRegimeWarning)
            try:
                values = _validate(chapter, preset, given, raw, where=where)
            except SweepError:
                single = next((alone[(n, raw[n])] for n in names if (n, raw[n]) in alone), None)
                if single is not None:
                    raise single from None
                raise
            values.pop("preset", None)
            defaults = {p.name: p.default for p in chapter.parameters if p.name not in RESERVED}
            defaults.update(values)
            defaults.pop("preset", None)
            P = configure(chapter.module, preset, **defaults)
        regime = tuple(sorted({_regime_text(w.message) for w in caught if issubclass(w.category, OutsideRegimeWarning)}))
        full = {k: v for k, v in P.as_dict().items() if k not in ("preset", "results_dir")}
        pid = point_id(chapter.name, preset, full)
        if pid in seen:
            raise SweepError(f"{where} is the same parameter set as grid point {seen[pid]}; list each value once")
        seen[pid] = where.removeprefix("grid point ")
        points.append(Point(pid, dict(values), raw, full, regime))
    return points


def _regime_text(message) -> str:
    text = str(message)
    m = re.search(r"outside the regime the papers cover \((.*)\); the run goes ahead", text)
    return m.group(1) if m else text


def _validate(chapter, preset, given, raw, *, where):
    from .catalog import ParameterError

    given = dict(given)
    given["preset"] = preset
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return chapter.validate(given, raw={**raw, "preset": preset})
    except ParameterError as err:
        raise SweepError(f"{where}: {err}") from None


# ----------------------------------------------------------------------------- the worker side
@functools.lru_cache(maxsize=1)
def _source_fingerprint() -> str:
    """SHA-256 (16 hex digits) of the package's Python sources: the client and every worker must agree."""
    base = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in sorted(base.rglob("*.py")):
        h.update(str(path.relative_to(base)).encode())
        h.update(b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _worker_info() -> dict:
    """What a worker runs: the package's version and sources (``client.run`` calls it)."""
    from .. import __version__

    return {"opsense": __version__, "source": _source_fingerprint(), "python": sys.version.split()[0],
            "blas_env": {k: os.environ.get(k) for k in (*BLAS_VARS, BLAS_THREADS_ENV)}}


def _import(module: str) -> None:
    """Import ``module`` on a worker (``client.run``), so that the first point is not timed with it."""
    for var in BLAS_VARS:
        os.environ.setdefault(var, "1")
    importlib.import_module(module)


def _evaluate_point(module: str, preset: str, parameters: dict) -> dict:
    """Run one point on a worker: ``configure`` then the chapter module's ``evaluate``.

    Returns a dict with ``status`` ("ok" or "error"), the claims as dicts (or the error), the
    runtime, the package's version and source fingerprint. Only a lost worker makes Dask retry:
    an exception of ``evaluate`` is an outcome of the point, reported as such.
    """
    for var in BLAS_VARS:  # effective only where NumPy is not loaded yet; LocalCluster sets them at spawn
        os.environ.setdefault(var, "1")
    os.environ.setdefault(BLAS_THREADS_ENV, "1")   # configure() limits the BLAS with threadpoolctl
    import traceback

    from .. import __version__
    from ..config import OutsideRegimeWarning, configure

    out = {"opsense": __version__, "source": _source_fingerprint(), "pid": os.getpid()}
    t0 = time.perf_counter()
    try:
        mod = importlib.import_module(module)  # imported once per worker (see _warm_up)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OutsideRegimeWarning)
            P = configure(mod, preset, **parameters)
            claims = mod.evaluate(P)
        out.update(status="ok", claims=[c.to_dict() for c in claims])
    except Exception as err:  # noqa: BLE001 - the point's outcome, kept with its traceback
        out.update(status="error", error=f"{type(err).__name__}: {err}",
                   traceback="".join(traceback.format_exception(err))[-4000:])
    out["runtime_s"] = time.perf_counter() - t0
    return out


# ----------------------------------------------------------------------------- the folder
def _atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it onto ``path``."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _write_json(path: Path, doc) -> None:
    from ..claims import write_json_atomic

    write_json_atomic(path, doc)


class SweepLock:
    """``DIR/.sweep.lock``, created exclusively: a second sweep into ``DIR`` is refused at once.

    The file holds the process id and host of the sweep; a lock whose process is gone (on this
    host) is stale and taken over.

    Parameters
    ----------
    folder : Path
        The sweep's folder (it must exist).
    """

    def __init__(self, folder: Path):
        self.path = Path(folder) / ".sweep.lock"
        self.locked = False

    def __enter__(self):
        host = socket.gethostname()
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                try:
                    pid_text, _, other = self.path.read_text().strip().partition(" ")
                    pid = int(pid_text or 0)
                except (OSError, ValueError):
                    pid, other = 0, host
                if pid and other and other != host:
                    raise SweepError(f"output folder {self.path.parent} is used by a sweep on another machine "
                                     f"(process {pid}); if none runs, remove {self.path}") from None
                if pid and pid_alive(pid):
                    raise SweepError(f"output folder {self.path.parent} is used by another sweep (process {pid}); "
                                     "wait for it, or choose another --out") from None
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(f"{os.getpid()} {host}\n")
            self.locked = True
            return self
        raise SweepError(f"output folder {self.path.parent} is used by another sweep; choose another --out")

    def __exit__(self, *exc):
        if self.locked:
            self.path.unlink(missing_ok=True)
            self.locked = False
        return False


def _spec_fingerprint(chapter: str, preset: str, points) -> str:
    h = hashlib.sha256(json.dumps([chapter, preset, sorted(p.id for p in points)]).encode())
    return h.hexdigest()[:16]


def _check_folder(path: Path, root: Path, spec: dict) -> bool:
    """Check that ``path`` can hold this sweep; return whether it already holds it (a resume)."""
    book = (root / "book").resolve()
    if path == book or book in path.parents:
        raise SweepError(f"--out {path} is inside the book's sources ({book}); choose another folder")
    if path.exists() and not path.is_dir():
        raise SweepError(f"--out {path} exists and is not a folder")
    spec_file = path / "sweep.json"
    if spec_file.is_file():
        try:
            old = json.loads(spec_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            raise SweepError(f"--out {path}: its sweep.json is not readable; choose another folder") from None
        if not isinstance(old, dict) or old.get("format") != FORMAT:
            raise SweepError(f"--out {path}: its sweep.json is not an opsense sweep; choose another folder")
        if old.get("fingerprint") != spec["fingerprint"]:
            grid = ", ".join(f"{k}={','.join(v)}" for k, v in (old.get("grid") or {}).items()) or "none"
            raise SweepError(
                f"--out {path} holds another sweep (chapter {old.get('chapter')}, preset {old.get('preset')}, "
                f"grid {grid}, seeds {old.get('seeds')}, {old.get('n_points')} points); resume it with its own "
                f"command ({old.get('command')}) or choose another --out")
        return True
    if path.is_dir() and any(not p.name.startswith(".") for p in path.iterdir()):  # a lock: checked later
        raise SweepError(f"--out {path} exists, is not empty and holds no sweep (no sweep.json); choose another folder")
    parent = next((p for p in (path, *path.parents) if p.exists()), None)
    if parent is None or not os.access(parent, os.W_OK | os.X_OK):
        raise SweepError(f"--out {path}: cannot write in {parent}")
    return False


def read_points(folder) -> tuple[dict, list[dict], list[dict]]:
    """The spec and the finished and failed points of a sweep folder.

    Parameters
    ----------
    folder : path
        A folder written by ``opsense sweep``.

    Returns
    -------
    (dict, list of dict, list of dict)
        ``sweep.json``; the documents of ``points/*.json`` of the spec's points, in the spec's
        order; those of ``errors/*.json`` not finished since.

    Raises
    ------
    SweepError
        If the folder holds no sweep.
    """
    folder = Path(folder)
    try:
        spec = json.loads((folder / "sweep.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        raise SweepError(f"{folder} is not a sweep folder (no readable sweep.json)") from None
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise SweepError(f"{folder}/sweep.json is not an opsense sweep")
    order = {pid: i for i, pid in enumerate(spec.get("points") or [])}
    done, failed = {}, {}
    for sub, into in (("points", done), ("errors", failed)):
        for path in (folder / sub).glob("*.json") if (folder / sub).is_dir() else []:
            if path.name.startswith(".") or path.stem not in order:
                continue
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError):
                continue  # never a half-written file (atomic writes); an unreadable one is redone
            into[path.stem] = doc
    failed = {k: v for k, v in failed.items() if k not in done}
    key = lambda d: order.get(d.get("point"), 0)  # noqa: E731
    return spec, sorted(done.values(), key=key), sorted(failed.values(), key=key)


# ----------------------------------------------------------------------------- the table
def _cell(value):
    """A parameter's value for a table cell: lists and dicts as JSON text."""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    return value


def _float(x):
    if x is None:
        return None
    if isinstance(x, str):
        return float(x)  # "inf", "-inf", "nan" as stored in JSON
    return float(x)


def table_rows(points: list[dict]) -> list[dict]:
    """The tidy table: one row per (point, claim).

    Parameters
    ----------
    points : list of dict
        Point documents (:func:`read_points`).

    Returns
    -------
    list of dict
        Columns ``point, chapter, preset, seed``, one ``param_<name>`` per other parameter
        (lists as JSON text), ``claim, measured, lo, hi, basis, form, test, verdict, ci_lo,
        ci_hi, n``, then ``in_regime, runtime_s, opsense_version, commit``.
    """
    names = []
    for doc in points:
        for k in doc["parameters"]:
            if k != "seed" and k not in names:
                names.append(k)
    rows = []
    for doc in points:
        par = doc["parameters"]
        for c in doc["claims"]:
            row = {"point": doc["point"], "chapter": doc["chapter"], "preset": doc["preset"], "seed": par.get("seed")}
            row.update({f"param_{k}": _cell(par.get(k)) for k in names})
            row.update(claim=c["id"], measured=_float(c["measured"]), lo=_float(c["lo"]), hi=_float(c["hi"]),
                       basis=c["basis"], form=c.get("form", "value"), test=c.get("test", "value"),
                       verdict=c["verdict"], ci_lo=_float(c.get("ci_lo")), ci_hi=_float(c.get("ci_hi")),
                       n=c.get("n"))
            row.update(in_regime=not doc.get("regime"), runtime_s=doc["runtime_s"],
                       opsense_version=doc["opsense_version"], commit=doc["commit"])
            rows.append(row)
    return rows


def write_table(folder, points: list[dict]) -> dict[str, Path]:
    """Write ``results.parquet`` (pyarrow) and ``results.csv`` from the point documents, atomically.

    Parameters
    ----------
    folder : path
        The sweep folder.
    points : list of dict
        Point documents (:func:`read_points`).

    Returns
    -------
    dict
        ``{"parquet": path, "csv": path}``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = Path(folder)
    rows = table_rows(points)
    columns = list(rows[0]) if rows else list(COLUMNS + CLAIM_COLUMNS + TAIL_COLUMNS)
    floats = {"measured", "lo", "hi", "ci_lo", "ci_hi", "runtime_s"}
    arrays = {}
    for col in columns:
        values = [r.get(col) for r in rows]
        if col in floats:
            arrays[col] = pa.array(values, type=pa.float64())
        elif col in ("n", "seed"):
            arrays[col] = pa.array(values, type=pa.int64())
        elif not rows:
            arrays[col] = pa.array([], type=pa.string())
        else:
            arrays[col] = pa.array(values)
    table = pa.table(arrays)
    paths = {"parquet": folder / "results.parquet", "csv": folder / "results.csv"}
    _atomic_write(paths["parquet"], lambda tmp: pq.write_table(table, tmp))

    def write_csv(tmp):
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(columns)
            for r in rows:
                w.writerow(["" if r[c] is None else repr(r[c]) if isinstance(r[c], float) else r[c] for c in columns])

    _atomic_write(paths["csv"], write_csv)
    return paths


# ----------------------------------------------------------------------------- the summary
def wilson_interval(k: int, n: int, *, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``k / n`` (95% by default).

    Parameters
    ----------
    k : int
        Successes, ``0 <= k <= n``.
    n : int
        Trials, ``>= 1``.
    z : float, keyword-only
        The normal quantile (``1.96`` for 95%).

    Returns
    -------
    (float, float)
        ``(lo, hi)`` inside ``[0, 1]``; ``(nan, nan)`` when ``n == 0``.
    """
    if isinstance(k, bool) or isinstance(n, bool) or int(k) != k or int(n) != n or not 0 <= k <= n:
        raise ValueError(f"k and n must be integers with 0 <= k <= n, got k={k!r}, n={n!r}")
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    lo, hi = max(0.0, centre - half), min(1.0, centre + half)
    if k == 0:
        lo = 0.0
    if k == n:
        hi = 1.0
    return (lo, hi)


def _outside_by(c: dict) -> float:
    """How far a claim lies outside its bounds, in its own units (negative: inside by that margin);
    ``inf`` when it could not be measured."""
    lo, hi = _float(c["lo"]), _float(c["hi"])
    test = c.get("test", "value")
    if test == "value":
        x = _float(c["measured"])
        if math.isnan(x):
            return math.inf
        return max(lo - x, x - hi)
    a, b = _float(c.get("ci_lo")), _float(c.get("ci_hi"))
    if a is None or b is None or math.isnan(a) or math.isnan(b):
        return math.inf
    if test == "inside":
        return max(lo - a, b - hi)
    return max(a - hi, lo - b)  # overlaps


def _run_command(spec: dict, doc: dict) -> str:
    words = ["opsense", "run", spec["chapter"]]
    for k, raw in (doc.get("raw") or {}).items():
        words += ["-p", k, raw]
    words += ["--preset", spec["preset"]]
    return shlex.join(words)


def summarize(folder) -> dict:
    """Per claim of a sweep: pass rate and holds rate with Wilson 95% intervals, the range of
    ``measured`` and the worst point.

    A point *passes* a claim when its verdict is "holds" or "does not reproduce" (a documented
    non-reproduction: the chapter states why the prediction fails there); it fails it when the
    verdict is "fails". The holds rate counts "holds" only.

    Parameters
    ----------
    folder : path
        A folder written by ``opsense sweep``.

    Returns
    -------
    dict
        ``chapter``, ``preset``, ``points`` (planned, finished, errored, missing), ``counting``
        (how each verdict counts) and ``claims``: for each claim ``points``, ``holds``,
        ``does_not_reproduce``, ``fails``, ``pass_rate``, ``pass_ci``, ``holds_rate``,
        ``holds_ci``, ``measured_min``, ``measured_max``, ``unmeasured``, ``fails_in_regime`` and
        ``worst`` (the point farthest outside its bounds, or closest to them when all lie inside:
        ``outside_by`` in the claim's units, its parameters and the ``opsense run`` command that
        reproduces it).
    """
    spec, done, failed = read_points(folder)
    by_claim: dict[str, dict] = {}
    for doc in done:
        for c in doc["claims"]:
            s = by_claim.setdefault(c["id"], {"id": c["id"], "statement": c.get("statement", ""), "basis": c["basis"],
                                              "form": c.get("form", "value"), "points": 0, "holds": 0,
                                              "does_not_reproduce": 0, "fails": 0, "fails_in_regime": 0,
                                              "unmeasured": 0, "_values": [], "_worst": None})
            s["points"] += 1
            key = {"holds": "holds", "fails": "fails", "does not reproduce": "does_not_reproduce"}[c["verdict"]]
            s[key] += 1
            if c["verdict"] == "fails" and not doc.get("regime"):
                s["fails_in_regime"] += 1
            x = _float(c["measured"])
            if math.isnan(x):
                s["unmeasured"] += 1
            else:
                s["_values"].append(x)
            d = _outside_by(c)
            if s["_worst"] is None or d > s["_worst"][0]:
                s["_worst"] = (d, doc, c)
    claims = []
    for s in by_claim.values():
        n = s["points"]
        passed = s["holds"] + s["does_not_reproduce"]
        d, doc, c = s.pop("_worst")
        values = s.pop("_values")
        s.update(pass_rate=passed / n, pass_ci=list(wilson_interval(passed, n)), holds_rate=s["holds"] / n,
                 holds_ci=list(wilson_interval(s["holds"], n)),
                 measured_min=min(values) if values else None, measured_max=max(values) if values else None,
                 worst={"point": doc["point"], "given": doc.get("given") or {}, "outside_by": _json_num(d),
                        "measured": _json_num(_float(c["measured"])), "lo": _json_num(_float(c["lo"])),
                        "hi": _json_num(_float(c["hi"])), "test": c.get("test", "value"),
                        "ci_lo": _json_num(_float(c.get("ci_lo"))), "ci_hi": _json_num(_float(c.get("ci_hi"))),
                        "verdict": c["verdict"], "in_regime": not doc.get("regime"),
                        "command": _run_command(spec, doc)})
        claims.append(s)
    planned = int(spec.get("n_points") or len(spec.get("points") or []))
    return {"format": "opsense-sweep-summary", "version": VERSION, "chapter": spec.get("chapter"),
            "preset": spec.get("preset"), "command": spec.get("command"),
            "points": {"planned": planned, "finished": len(done), "errored": len(failed),
                       "missing": planned - len(done) - len(failed)},
            "counting": {"holds": "pass", "does not reproduce": "pass (documented: the chapter states why)",
                         "fails": "fail", "interval": "Wilson score, 95%"},
            "errors": [{"point": e["point"], "given": e.get("given") or {}, "error": e.get("error", "")}
                       for e in failed[:20]],
            "claims": claims}


def _json_num(x):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return None if x is None or math.isnan(x) else ("inf" if x > 0 else "-inf")
    return x


def _pct(x: float) -> str:
    return "nan" if x is None or math.isnan(x) else f"{100 * x:.3g}%"


def summary_text(summary: dict) -> str:
    """The summary as the command prints it (rounded numbers).

    Parameters
    ----------
    summary : dict
        From ``summarize``.
    """
    from ..claims import format_value

    pts = summary["points"]
    lines = [f"sweep of {summary['chapter']} (preset {summary['preset']}): {pts['finished']} of {pts['planned']} "
             f"points finished" + (f", {pts['errored']} raised" if pts["errored"] else "")
             + (f", {pts['missing']} not run yet (re-run the command to resume)" if pts["missing"] else ""),
             "pass = holds or does not reproduce (documented); fails count against. "
             "Intervals: Wilson 95%. worst: the point farthest outside its bounds "
             "(in the claim's units; negative: all inside, by that margin)."]
    for c in summary["claims"]:
        n, passed = c["points"], c["holds"] + c["does_not_reproduce"]
        lo, hi = c["pass_ci"]
        hlo, hhi = c["holds_ci"]
        lines.append("")
        lines.append(f"{c['id']} ({c['basis']}, {c['form']}): pass {passed}/{n} = {_pct(c['pass_rate'])} "
                     f"[{_pct(lo)}, {_pct(hi)}]; holds {c['holds']}/{n} = {_pct(c['holds_rate'])} "
                     f"[{_pct(hlo)}, {_pct(hhi)}]; does not reproduce {c['does_not_reproduce']}; fails {c['fails']}"
                     + (f" ({c['fails_in_regime']} inside the regime)" if c["fails"] else ""))
        rng = ("not measured" if c["measured_min"] is None
               else f"[{format_value(c['measured_min'])}, {format_value(c['measured_max'])}]")
        lines.append(f"  measured: {rng}" + (f" ({c['unmeasured']} points unmeasured)" if c["unmeasured"] else ""))
        w = c["worst"]
        given = ", ".join(f"{k}={v}" for k, v in w["given"].items()) or "the preset"
        bounds = f"[{format_value(_float(w['lo']))}, {format_value(_float(w['hi']))}]"
        meas = (format_value(_float(w["measured"])) if w["test"] == "value" else
                f"{format_value(_float(w['measured']))} [{format_value(_float(w['ci_lo']))}, "
                f"{format_value(_float(w['ci_hi']))}]")
        lines.append(f"  worst: {given}: measured {meas}, bounds {bounds}, outside by "
                     f"{format_value(_float(w['outside_by']))} ({w['verdict']})")
        lines.append(f"    reproduce: {w['command']}")
    for e in summary.get("errors") or []:
        given = ", ".join(f"{k}={v}" for k, v in e["given"].items()) or "the preset"
        lines.append(f"raised at {given}: {e['error']}")
    return "\n".join(lines)


def _summary_status(summary: dict) -> int:
    bad = summary["points"]["errored"] or any(c["fails"] for c in summary["claims"])
    return EXIT_FAIL if bad else EXIT_OK


def _write_summary(folder: Path, json_file: Path | None) -> dict:
    summary = summarize(folder)
    doc = json.loads(json.dumps(summary, default=repr))
    if _can_write(folder):
        _write_json(folder / "summary.json", doc)
    if json_file is not None:
        _write_json(json_file, doc)
    return summary


def _can_write(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


# ----------------------------------------------------------------------------- costs
def _estimate(chapter, preset, points, root, *, workers: int, worker_memory: float):
    """``(peak bytes of a point, seconds of the whole sweep or None, the point of that peak)``;
    refuse a point that does not fit in one worker's memory."""
    from ..config import configure
    from . import costs

    module = chapter.module
    if not callable(getattr(module, "cost", None)):
        return None, None
    recorded, base_preset = costs.recorded_seconds(root, preset), preset   # the preset's own record first
    if chapter.name not in recorded:
        recorded, base_preset = costs.recorded_seconds(root), "book"
    per_work = None
    if chapter.name in recorded:
        base = module.cost(configure(module, base_preset))
        t = recorded[chapter.name]
        fixed = min(costs.OVERHEAD, 0.5 * t)  # the kernel's start and imports: a sweep has neither
        per_work = (t - fixed) / base.work if base.work > 0 else None
    peak, seconds = 0.0, 0.0
    for p in points:
        c = module.cost(configure(module, preset, **p.parameters))
        if c.memory_bytes > 0.8 * worker_memory:
            raise SweepError(f"grid point {p.label()}: needs about {costs.size(c.memory_bytes)} of memory (driven by "
                             f"{', '.join(c.drivers) or 'the sizes'}), more than 80% of the "
                             f"{costs.size(worker_memory)} of one worker; use fewer --workers or smaller values")
        peak = max(peak, float(c.memory_bytes))
        if per_work is not None:
            seconds += per_work * c.work + TASK_OVERHEAD
    return peak, (seconds / max(1, workers) if per_work is not None else None)



def _check_time(seconds, n_todo, workers, *, yes: bool, max_minutes: float, peak) -> None:
    from . import costs

    if seconds is not None and seconds > 60 * max_minutes and not yes:
        raise SweepError(f"the sweep ({n_todo} points on {workers} worker{'s' if workers != 1 else ''}) is estimated to take "
                         f"{costs.duration(seconds)}; pass --yes to run it anyway, or --max-minutes to raise the "
                         f"limit")
    if peak is not None:
        print(f"estimated cost: {n_todo} points to run, about {costs.size(peak)} of memory per point"
              + (f", about {costs.duration(seconds)} on {workers} worker{'s' if workers != 1 else ''}" if seconds is not None else
                 ", time unknown (no record of the chapter)"), file=sys.stderr, flush=True)
    loaded = blas.load_warning(needed=workers)
    if loaded:
        print(loaded, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- running
def _commit(root: Path) -> str:
    try:
        return subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty", "--tags"],
                              capture_output=True, text=True, timeout=20, check=True).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


_SCHEDULER = re.compile(r"(tcp|tls|ucx|ws|wss|inproc)://[^\s:/]+(:\d{1,5})?/?")


@contextlib.contextmanager
def _client(args):
    """A Dask client: a LocalCluster of ``--workers`` processes, or the ``--scheduler``'s cluster."""
    import logging

    import dask
    from distributed import Client, LocalCluster

    cluster = None
    with dask.config.set({"distributed.scheduler.allowed-failures": max(3, args.retries),
                          "distributed.admin.tick.limit": "60s"}):
        if args.scheduler:
            try:
                client = Client(args.scheduler, timeout=args.connect_timeout, set_as_default=False)
            except (OSError, TimeoutError) as err:
                raise SweepError(f"--scheduler {args.scheduler}: cannot connect ({err})") from None
        else:
            env = {var: "1" for var in (*BLAS_VARS, BLAS_THREADS_ENV)}
            # The worker processes inherit an ignored SIGINT: a Ctrl-C at the terminal (sent to the whole
            # process group) reaches this command alone, which stops them in order.
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                cluster = LocalCluster(n_workers=args.workers or (os.cpu_count() or 1), threads_per_worker=1,
                                       processes=True, dashboard_address=None, silence_logs=logging.CRITICAL,
                                       env=env)
            finally:
                signal.signal(signal.SIGINT, previous)
            client = Client(cluster, set_as_default=False)
        try:
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.close(timeout=10)
            if cluster is not None:
                with contextlib.suppress(Exception):
                    cluster.close(timeout=10)


def _check_workers(client, args) -> tuple[int, float]:
    """The number of workers and the memory of the smallest; refuse workers running other code."""
    from . import costs

    try:
        client.wait_for_workers(1, timeout=args.connect_timeout)
    except TimeoutError:
        raise SweepError(f"--scheduler {args.scheduler}: no worker joined within {args.connect_timeout:g} s") from None
    infos = client.run(_worker_info)
    mine = _worker_info()
    other = {addr: i for addr, i in infos.items() if i["source"] != mine["source"]}
    if other:
        addr, info = next(iter(other.items()))
        raise SweepError(f"{len(other)} of {len(infos)} workers run other opsense code than this command (worker "
                         f"{addr}: opsense {info['opsense']}, sources {info['source']}; here: opsense "
                         f"{mine['opsense']}, sources {mine['source']}); install the same version on the workers")
    kwargs = {"n_workers": -1} if "n_workers" in _params(client.scheduler_info) else {}
    workers = client.scheduler_info(**kwargs)["workers"]
    limits = [float(w.get("memory_limit") or 0) for w in workers.values()]
    memory = min((m for m in limits if m > 0), default=costs.machine_memory())
    return len(workers), memory


def _params(fn) -> set:
    import inspect

    try:
        return set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return set()


def _sigterm_as_interrupt():
    """Treat SIGTERM (a batch system's time limit) like Ctrl-C; return the previous handler."""
    def handler(signum, frame):
        raise KeyboardInterrupt
    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:  # pragma: no cover - not the main thread
        return None


def _submit(client, module, preset, point, attempt, retries):
    return client.submit(_evaluate_point, module, preset, point.parameters, key=f"opsense-{point.id}-{attempt}",
                         retries=retries, pure=False)


def run_sweep(args) -> int:
    """Run ``opsense sweep`` (the parsed command line of :func:`opsense.tools.cli.main`).

    Parameters
    ----------
    args : argparse.Namespace
        ``chapter, grid, seeds, preset, out, workers, scheduler, retries, connect_timeout, yes,
        max_minutes, no_progress, summary, json``.

    Returns
    -------
    int
        The exit status (0, 1 or 130; a wrong command line raises :class:`SweepError`).
    """
    from .catalog import ParameterError, find_root

    json_file = _json_path(args.json)
    if args.summary:
        if args.chapter or args.grid or args.seeds or args.preset or args.out or args.scheduler or args.workers:
            raise SweepError("--summary DIR takes no CHAPTER, --grid, --seeds, --preset, --out, --workers or "
                             "--scheduler (only --json FILE)")
        folder = Path(args.summary)
        if not folder.is_dir():
            raise SweepError(f"--summary {args.summary}: no such folder")
        read_points(folder)  # a SweepError if it holds no sweep
        summary = _write_summary(folder, json_file)
        print(summary_text(summary))
        return _summary_status(summary)
    if not args.chapter:
        raise SweepError("give a CHAPTER to sweep (see opsense list), or --summary DIR")
    if args.workers is not None and args.scheduler:
        raise SweepError("--workers sets the size of the local cluster; with --scheduler the cluster has its own workers")
    if args.workers is not None and args.workers < 1:
        raise SweepError(f"--workers must be an integer >= 1, got {args.workers}")
    if args.scheduler and not _SCHEDULER.fullmatch(args.scheduler):
        raise SweepError(f"--scheduler must be an address such as tcp://HOST:PORT, got {args.scheduler!r}")
    if args.retries < 0:
        raise SweepError(f"--retries must be an integer >= 0, got {args.retries}")
    if not args.max_minutes > 0:
        raise SweepError(f"--max-minutes must be > 0, got {args.max_minutes:g}")
    if not args.connect_timeout > 0:
        raise SweepError(f"--connect-timeout must be > 0 seconds, got {args.connect_timeout:g}")
    grid = parse_grid(args.grid)
    seeds = parse_seeds(args.seeds)
    try:
        root = find_root()
        chapter = _chapter(root, args.chapter)
    except FileNotFoundError as err:
        raise SweepError(str(err)) from None
    except ParameterError as err:
        raise SweepError(str(err)) from None
    preset = args.preset or "book"
    points = plan_points(chapter, preset, grid, seeds)
    regime = sorted({r for p in points for r in p.regime})
    if regime:
        outside = sum(bool(p.regime) for p in points)
        print(f"warning: {outside} of {len(points)} points lie outside the regime the papers cover "
              f"({'; '.join(regime)}); their claims are not covered there", file=sys.stderr)
    fingerprint = _spec_fingerprint(chapter.name, preset, points)
    out = Path(args.out) if args.out else Path("runs") / f"sweep-{chapter.name}-{fingerprint[:8]}"
    out = out.expanduser().resolve()
    command = _command(args, chapter.name, out)
    spec = {"format": FORMAT, "version": VERSION, "chapter": chapter.name, "preset": preset, "grid": grid,
            "seeds": args.seeds, "n_points": len(points), "fingerprint": fingerprint, "command": command,
            "points": [p.id for p in points]}
    resume = _check_folder(out, root, spec)
    done_ids = _done_ids(out) if resume else set()
    todo = [p for p in points if p.id not in done_ids]
    workers = args.workers or (os.cpu_count() or 1)
    if not args.scheduler:
        from .costs import machine_memory

        peak, seconds = _estimate(chapter, preset, todo, root, workers=workers, worker_memory=machine_memory() / workers)
        _check_time(seconds, len(todo), workers, yes=args.yes, max_minutes=args.max_minutes, peak=peak if todo else None)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SweepError(f"--out {out}: cannot create it ({err.strerror})") from None
    previous = _sigterm_as_interrupt()
    try:
        with SweepLock(out):
            _check_folder(out, root, spec)  # again, under the lock: another sweep may have taken it meanwhile
            if not (out / "sweep.json").is_file():
                _write_json(out / "sweep.json", spec)
            (out / "points").mkdir(exist_ok=True)
            (out / "errors").mkdir(exist_ok=True)
            done_ids = _done_ids(out)  # again, under the lock
            todo = [p for p in points if p.id not in done_ids]
            print(f"sweep of {chapter.name}: {len(points)} points x claims into {_rel(out)}/; "
                  f"{len(points) - len(todo)} already done, {len(todo)} to run", file=sys.stderr, flush=True)
            status = EXIT_OK
            if todo:
                status = _execute(args, chapter, preset, todo, out, root)
            finished = _write_results(out, json_file)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if status == EXIT_INTERRUPTED:
        print(f"opsense: error: interrupted: the {finished['points']['finished']} finished points are kept in "
              f"{_rel(out)}/; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(summary_text(finished))
    print(f"\ntable: {_rel(out / 'results.parquet')} (and results.csv); summary: {_rel(out / 'summary.json')}",
          file=sys.stderr)
    return max(status, _summary_status(finished))


def _write_results(out: Path, json_file):
    _, done, _ = read_points(out)
    write_table(out, done)
    return _write_summary(out, json_file)


def _chapter(root: Path, name: str):
    """The chapter called ``name``: its notebook alone when it exists (fast), else the catalog's
    message listing the known chapters."""
    from .catalog import discover, get_chapter, load_chapter

    stem = Path(name).name.removesuffix(".ipynb")
    path = root / "book" / f"{stem}.ipynb"
    if re.fullmatch(r"\w+", stem) and path.is_file():
        ch = load_chapter(path)
        if ch is not None:
            return ch
    return get_chapter(name, discover(root))


def _json_path(text):
    if text is None:
        return None
    path = Path(text).expanduser().resolve()
    if path.suffix != ".json":
        raise SweepError(f"--json must name a .json file, got {text}")
    if not path.parent.is_dir() or not os.access(path.parent, os.W_OK | os.X_OK) or (
            path.exists() and not os.access(path, os.W_OK)):
        raise SweepError(f"--json {text}: cannot write there")
    return path


def _done_ids(out: Path) -> set:
    folder = out / "points"
    return {p.stem for p in folder.glob("*.json") if not p.name.startswith(".")} if folder.is_dir() else set()


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _command(args, chapter: str, out: Path) -> str:
    words = ["opsense", "sweep", chapter]
    for g in args.grid or []:
        words += ["--grid", g]
    if args.seeds:
        words += ["--seeds", args.seeds]
    if args.preset:
        words += ["--preset", args.preset]
    words += ["--out", _rel(out)]
    return shlex.join(words)


def _execute(args, chapter, preset, todo, out: Path, root: Path) -> int:
    """Run the points on Dask, writing each as it finishes; return 0, 1 (a point raised) or 130."""
    from tqdm.auto import tqdm

    from .. import __version__

    module = chapter.module.__name__
    commit = _commit(root)
    status = EXIT_OK
    client = bar = None
    try:
        with _client(args) as client:
            from distributed import as_completed

            n_workers, memory = _check_workers(client, args)
            if args.scheduler:
                peak, seconds = _estimate(chapter, preset, todo, root, workers=n_workers, worker_memory=memory)
                _check_time(seconds, len(todo), n_workers, yes=args.yes, max_minutes=args.max_minutes, peak=peak)
            mine = _source_fingerprint()
            client.run(_import, module)  # imports before the clock of the ETA starts
            futures = {}
            for p in todo:
                futures[_submit(client, module, preset, p, 0, args.retries)] = (p, 0)
            bar = tqdm(total=len(todo), unit="point", desc=chapter.name, smoothing=0, file=sys.stderr,
                       disable=args.no_progress, dynamic_ncols=True)
            raised = 0
            queue = as_completed(list(futures), loop=client.loop)
            for fut in queue:
                p, attempt = futures.pop(fut)
                try:
                    res = fut.result()
                except Exception as err:  # noqa: BLE001 - a lost worker (KilledWorker), a lost connection
                    fut.release()
                    if attempt < args.retries:
                        new = _submit(client, module, preset, p, attempt + 1, args.retries)
                        futures[new] = (p, attempt + 1)
                        queue.add(new)
                        continue
                    res = {"status": "error", "error": f"lost {attempt + 1} times: {type(err).__name__}: {err}",
                           "runtime_s": None, "opsense": __version__, "source": mine}
                fut.release()
                if res.get("source") != mine:
                    res = {**res, "status": "error",
                           "error": f"worker ran other opsense code (sources {res.get('source')}, here {mine})"}
                doc = {"point": p.id, "chapter": chapter.name, "preset": preset, "given": p.given, "raw": p.raw,
                       "parameters": p.parameters, "regime": list(p.regime), "runtime_s": res.get("runtime_s"),
                       "opsense_version": res.get("opsense"), "commit": commit,
                       "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
                if res["status"] == "ok":
                    doc["claims"] = res["claims"]
                    _write_json(out / "points" / f"{p.id}.json", doc)
                    (out / "errors" / f"{p.id}.json").unlink(missing_ok=True)
                else:
                    raised += 1
                    doc.update(error=res.get("error", ""), traceback=res.get("traceback", ""))
                    _write_json(out / "errors" / f"{p.id}.json", doc)
                    bar.set_postfix_str(f"{raised} raised", refresh=False)
                bar.update(1)
            if raised:
                status = EXIT_FAIL
    except KeyboardInterrupt:
        status = EXIT_INTERRUPTED
    finally:
        if bar is not None:
            bar.close()
    return status


# ----------------------------------------------------------------------------- the command line
def add_parser(sub) -> None:
    """Add the ``sweep`` subcommand to the ``opsense`` parser.

    Parameters
    ----------
    sub : argparse subparsers
        From ``ArgumentParser.add_subparsers``.
    """
    p = sub.add_parser("sweep", help="a chapter's claims over a grid of parameters and seeds, on Dask",
                       description="Evaluate a chapter's claims (its module's evaluate(P), no kernel, no figures) "
                                   "at every point of a grid, on a Dask cluster; one row per (point, claim) in "
                                   "DIR/results.parquet and results.csv; re-running the command resumes.")
    p.add_argument("chapter", nargs="?", metavar="CHAPTER", help="a chapter name (see opsense list)")
    p.add_argument("--grid", action="append", metavar="NAME=V1,V2,...",
                   help="values of one parameter (repeatable; the grid is their product); a list-valued one as "
                        "for run -p: --grid m_values=[25,50,100],[50,100,200]")
    p.add_argument("--seeds", metavar="A:B", help="also sweep the seed over A, A+1, ..., B-1")
    p.add_argument("--preset", metavar="NAME", help="the chapter's preset (default book)")
    p.add_argument("--out", metavar="DIR", help="output folder (default runs/sweep-<chapter>-<spec>/); "
                                                "the same command resumes into it")
    p.add_argument("--workers", type=int, metavar="N", help="processes of the local cluster (default: the CPU count)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on an existing Dask cluster instead")
    p.add_argument("--retries", type=int, default=3, metavar="N",
                   help="times a point lost with its worker is run again (default 3)")
    p.add_argument("--connect-timeout", type=float, default=30.0, metavar="S",
                   help="seconds to wait for the scheduler and its first worker (default 30)")
    p.add_argument("--yes", action="store_true", help="run even if the estimated time exceeds --max-minutes")
    p.add_argument("--max-minutes", type=float, default=30.0, metavar="M",
                   help="estimated time above which --yes is needed (default 30)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--summary", metavar="DIR", help="print the summary of a sweep folder (runs nothing)")
    p.add_argument("--json", metavar="FILE", help="also write the summary as JSON there (always: DIR/summary.json)")


def main(args) -> int:
    """Entry point of ``opsense sweep`` (called by :func:`opsense.tools.cli.main`).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line.

    Returns
    -------
    int
        The exit status.
    """
    return run_sweep(args)
