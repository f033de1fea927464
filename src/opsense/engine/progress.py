"""Progress of long engine calls: a throttled callback, and a file the ``opsense`` command watches.

:func:`opsense.run_gd` takes ``progress=``, a callable ``progress(done, total)`` called with the
number of gradient steps done and the call's total, at most every :data:`INTERVAL` seconds and
once at the end. Without one, and when the environment variable :data:`ENV` names a file (the
``opsense run`` command sets it for the kernel it starts), the engine appends ``"done total"``
lines to that file, from which the command draws a bar with an ETA inside a long notebook cell.
"""

from __future__ import annotations

import os
import time

__all__ = ["ENV", "INTERVAL", "Throttled", "file_reporter", "reporter"]

#: Environment variable naming the progress file (set by ``opsense run``; unset: no reports).
ENV = "OPSENSE_PROGRESS"
#: Smallest interval between two reports of one call, seconds.
INTERVAL = 0.25


class Throttled:
    """Call ``fn(done, total)`` at most every ``interval`` seconds, and always when ``done == total``.

    Parameters
    ----------
    fn : callable
        ``fn(done: int, total: int)``.
    interval : float, keyword-only
        Seconds between calls.
    """

    def __init__(self, fn, *, interval: float = INTERVAL):
        self.fn, self.interval, self.last = fn, float(interval), -float("inf")

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - self.last >= self.interval:
            self.last = now
            self.fn(int(done), int(total))


def file_reporter(path: str | os.PathLike):
    """A ``progress(done, total)`` that appends ``"done total"`` lines to ``path``.

    A file that cannot be written is ignored: progress is never worth failing a run for.

    Parameters
    ----------
    path : path
        The progress file.
    """
    def report(done: int, total: int) -> None:
        try:
            with open(path, "a", encoding="utf-8") as f:
                f.write(f"{done} {total}\n")
        except OSError:
            pass
    return report


def reporter(progress):
    """The throttled reporter of one engine call: ``progress``, else the :data:`ENV` file, else ``None``.

    Parameters
    ----------
    progress : callable or None

    Raises
    ------
    ValueError
        If ``progress`` is neither ``None`` nor callable.
    """
    if progress is None:
        path = os.environ.get(ENV)
        return Throttled(file_reporter(path)) if path else None
    if not callable(progress):
        raise ValueError(f"progress must be a callable progress(done, total) or None, got {type(progress).__name__}")
    return Throttled(progress)
