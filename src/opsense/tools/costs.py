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

__all__ = ["Estimate", "estimate", "machine_memory", "recorded_seconds"]

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
    """

    chapter: str
    memory_bytes: float
    seconds: float | None
    drivers: tuple

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


def recorded_seconds(root: str | os.PathLike) -> dict[str, float]:
    """``{chapter: seconds}`` of the chapters the record ran with their defaults (the book preset).

    Parameters
    ----------
    root : path
        The book's root (``book/reproduction.json`` below it).
    """
    path = Path(root) / "book" / "reproduction.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    out = {}
    for ch in (doc.get("chapters") or []) if isinstance(doc, dict) else []:
        if (isinstance(ch, dict) and ch.get("status") == "ok" and not ch.get("parameters")
                and isinstance(ch.get("duration_s"), (int, float)) and ch["duration_s"] > 0):
            out[str(ch.get("chapter"))] = float(ch["duration_s"])
    return out


def estimate(chapter, values: dict, *, recorded: dict[str, float]) -> Estimate | None:
    """The estimated cost of running ``chapter`` with ``values`` (as ``Chapter.validate`` returns).

    Parameters
    ----------
    chapter : opsense.tools.catalog.Chapter
    values : dict
        The given parameters (the others take the preset's).
    recorded : dict of str to float, keyword-only
        From :func:`recorded_seconds`.

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
    c = module.cost(configure(module, values.get("preset", "book"), **given))
    seconds = None
    if chapter.name in recorded:
        base = module.cost(configure(module, "book"))
        t = recorded[chapter.name]
        fixed = min(OVERHEAD, 0.5 * t)
        seconds = fixed + (t - fixed) * (c.work / base.work if base.work > 0 else 1.0)
    return Estimate(chapter.name, float(c.memory_bytes), seconds, tuple(c.drivers))
