"""Process checks shared by the run and sweep folders' locks."""

from __future__ import annotations

import os

__all__ = ["pid_alive"]


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine (a lock's owner that died frees its lock).

    Parameters
    ----------
    pid : int

    Returns
    -------
    bool
        ``True`` also when the process exists but belongs to another user.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
