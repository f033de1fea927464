"""What a chapter run will cost, before it starts: memory from the parameters, time from the
record of the last full re-run.

Every chapter module has ``cost(P)`` (:class:`opsense.config.Cost`: peak memory and the
dominant arithmetic ``work``, in operator-entry touches). The time of a run is modelled as

    seconds = OVERHEAD + (recorded - OVERHEAD) * work(P) / work(book)

where ``recorded`` is the chapter's time in ``book/reproduction.json`` (its ``book`` preset) and
``OVERHEAD`` (kernel start, imports) is not scaled. Batched runs share each pass over the
operator, so the true time grows more slowly than ``work`` for the larger presets: the estimate
errs on the long side (measured: 2-4 times the paper presets' times). It is used to show costs
and to ask for ``--yes`` before very long runs; without a record the time is unknown.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RECORDS", "Estimate", "estimate", "machine_memory", "record_path", "recorded_seconds", "all_recorded"]

#: The part of a chapter's run time that does not grow with its work (kernel start, imports), seconds.
OVERHEAD = 2.0


@dataclass(frozen=True)
class Estimate:
    """The estimated cost of one chapter run.

    Attributes
    ----------
    chapter : str
    memory_bytes : float
        Peak memory of the largest arrays.
    seconds : float or None
        Estimated run time; ``None`` when the record has no time for the chapter.
    drivers : tuple of str
        The parameters that drive the work, most influential first.
    measured : bool
        ``seconds`` is the time the record of this very preset measured (not scaled).
    """

    chapter: str
    memory_bytes: float
    seconds: float | None
    drivers: tuple
    measured: bool = False

    def text(self) -> str:
        """``"about 1.2 GB, about 3 min"``: rounded for people."""
        t = "time unknown (no record)" if self.seconds is None else f"about {duration(self.seconds)}"
        return f"about {size(self.memory_bytes)}, {t}"


def size(nbytes: float) -> str:
    """Bytes as ``"12 MB"`` / ``"3.4 GB"``.

    Parameters
    ----------
    nbytes : float
    """
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{nbytes:.0f} B"


def duration(seconds: float) -> str:
    """Seconds as ``"40 s"``, ``"3.5 min"`` or ``"2.1 h"``.

    Parameters
    ----------
    seconds : float
    """
    if seconds < 90:
        return f"{seconds:.2g} s"
    if seconds < 5400:
        return f"{seconds / 60:.2g} min"
    return f"{seconds / 3600:.2g} h"


def machine_memory() -> float:
    """Physical memory of this machine in bytes (``inf`` if unknown)."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return float("inf")


#: The record of the last full re-run of each preset, below the book's root (``make reproduce``
#: writes the book preset's, ``make reproduce PRESET=paper`` the paper preset's).
RECORDS = {"book": "book/reproduction.json", "paper": "book/reproduction-paper.json"}


def record_path(root: str | os.PathLike, preset: str = "book") -> Path:
    """Where the record of ``preset``'s last full re-run lives.

    Parameters
    ----------
    root : path
    preset : str
    """
    return Path(root) / RECORDS.get(preset, f"book/reproduction-{preset}.json")


def recorded_seconds(root: str | os.PathLike, preset: str = "book") -> dict[str, float]:
    """``{chapter: seconds}`` of the chapters the record of ``preset`` ran with that preset's values.

    Parameters
    ----------
    root : path
        The book's root (the records below it, :data:`RECORDS`).
    preset : str
        ``"book"`` (default) or ``"paper"``.
    """
    try:
        doc = json.loads(record_path(root, preset).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    plain = ({}, {"preset": preset}) if preset != "book" else ({}, {"preset": "book"})
    out = {}
    for ch in (doc.get("chapters") or []) if isinstance(doc, dict) else []:
        if (isinstance(ch, dict) and ch.get("status") == "ok" and (ch.get("parameters") or {}) in plain
                and (preset == "book" or ch.get("parameters"))
                and isinstance(ch.get("duration_s"), (int, float)) and ch["duration_s"] > 0):
            out[str(ch.get("chapter"))] = float(ch["duration_s"])
    return out


def all_recorded(root: str | os.PathLike) -> dict[str, dict[str, float]]:
    """``{preset: {chapter: seconds}}`` of every record there is (:func:`recorded_seconds`).

    Parameters
    ----------
    root : path
    """
    return {p: recorded_seconds(root, p) for p in RECORDS}


def estimate(chapter, values: dict, *, recorded: dict[str, float]) -> Estimate | None:
    """The estimated cost of running ``chapter`` with ``values`` (as ``Chapter.validate`` returns).

    Parameters
    ----------
    chapter : opsense.tools.catalog.Chapter
    values : dict
        The given parameters (the others take the preset's).
    recorded : dict, keyword-only
        ``{chapter: seconds}`` of the book preset's record (:func:`recorded_seconds`), or
        ``{preset: {chapter: seconds}}`` of several records (:func:`all_recorded`): the time is then
        scaled from the record of the run's own preset when it has the chapter, else from the book's.

    Returns
    -------
    Estimate or None
        ``None`` if the chapter module has no ``cost``.

    Notes
    -----
    Calls :func:`opsense.configure`, so ``values`` must already have passed the chapter's check.
    """
    from ..config import configure

    module = chapter.module
    if not callable(getattr(module, "cost", None)):
        return None
    given = {k: v for k, v in values.items() if k not in ("preset", "results_dir")}
    preset = values.get("preset", "book")
    c = module.cost(configure(module, preset, **given))
    records = recorded if all(isinstance(x, dict) for x in recorded.values()) and recorded else {"book": recorded}
    base_preset = preset if chapter.name in records.get(preset, {}) else "book"
    seconds, measured = None, False
    if chapter.name in records.get(base_preset, {}):
        base = module.cost(configure(module, base_preset))
        t = records[base_preset][chapter.name]
        fixed = min(OVERHEAD, 0.5 * t)
        ratio = c.work / base.work if base.work > 0 else 1.0
        seconds = fixed + (t - fixed) * ratio
        measured = base_preset == preset and abs(ratio - 1.0) < 1e-9
    return Estimate(chapter.name, float(c.memory_bytes), seconds, tuple(c.drivers), measured)
