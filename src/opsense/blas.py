"""The BLAS under NumPy: which library and kernel, how many threads, and how loaded the machine is.

Everything here goes through ``threadpoolctl``, which sees the BLAS that NumPy actually
loaded (its ``architecture`` is the kernel OpenBLAS chose at run time, e.g. ``"Haswell"`` or
``"SkylakeX"``), and limits its threads in a running process.

Why one BLAS thread by default. The book's operators are small (a few MB at ``n = 20``); a
second thread gains little there, and it stalls when another job holds the other core (measured:
a paper preset ran 4 to 8 times slower with two threads on a loaded 2-core machine). Several
processes (``opsense sweep``'s workers) each take one thread. ``opsense run --threads N``
chooses otherwise for the chapters it runs (their kernels read :data:`ENV`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

__all__ = ["ENV", "info", "limit_threads", "threads_from_env", "native_architecture", "busy_cores", "load_warning",
           "non_native_warning"]

#: Environment variable read by :func:`opsense.configure`: the BLAS threads of a chapter's kernel.
ENV = "OPSENSE_BLAS_THREADS"
#: OpenBLAS's override of its run-time kernel choice.
CORETYPE = "OPENBLAS_CORETYPE"
#: A run is warned of a loaded machine when the free cores fall short of those it needs by more
#: than this (a busy shell or a finishing job is not a load).
LOADED_SLACK = 0.5


def _blas_libs() -> list[dict]:
    from threadpoolctl import threadpool_info

    import numpy  # noqa: F401 - load NumPy's BLAS so that threadpoolctl sees it

    return [i for i in threadpool_info() if i.get("user_api") == "blas"]


def native_architecture() -> str:
    """The kernel OpenBLAS picks on this machine by itself (without ``OPENBLAS_CORETYPE``).

    Returns
    -------
    str
        E.g. ``"Haswell"``; ``""`` when unknown (not OpenBLAS, or the probe failed).
    """
    if CORETYPE not in os.environ:
        libs = _blas_libs()
        return (libs[0].get("architecture") or "") if libs else ""
    env = {k: val for k, val in os.environ.items() if k != CORETYPE}
    code = ("import json, numpy; from threadpoolctl import threadpool_info; "
            "print(json.dumps([i.get('architecture') or '' for i in threadpool_info() if i.get('user_api') == 'blas']))")
    try:
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
                             check=True).stdout
        archs = json.loads(out.strip().splitlines()[-1])
        return archs[0] if archs else ""
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return ""


def info() -> dict:
    """The BLAS NumPy uses now.

    Returns
    -------
    dict
        ``name`` (threadpoolctl's ``internal_api``, e.g. ``"openblas"``), ``version``,
        ``architecture`` (the kernel in use), ``native_architecture`` (the one this machine gets
        without ``OPENBLAS_CORETYPE``), ``coretype`` (that variable's value, or ``""``),
        ``threads`` (the current limit), ``threading_layer`` and ``source`` (``"threadpoolctl"``).
        ``{"name": "unknown", ...}`` when no BLAS is visible.
    """
    libs = _blas_libs()
    if not libs:
        return {"name": "unknown", "version": "", "architecture": "", "native_architecture": "",
                "coretype": os.environ.get(CORETYPE, ""), "threads": None, "threading_layer": "",
                "source": "threadpoolctl"}
    i = libs[0]
    arch = i.get("architecture") or ""
    return {"name": i.get("internal_api", ""), "version": i.get("version") or "", "architecture": arch,
            "native_architecture": native_architecture() if CORETYPE in os.environ else arch,
            "coretype": os.environ.get(CORETYPE, ""), "threads": i.get("num_threads"),
            "threading_layer": i.get("threading_layer") or "", "source": "threadpoolctl"}


def limit_threads(threads: int) -> int:
    """Limit NumPy's BLAS to ``threads`` threads in this process (for the rest of its life).

    Parameters
    ----------
    threads : int >= 1

    Returns
    -------
    int
        The limit now in force (as threadpoolctl reads it back).

    Raises
    ------
    ValueError
        For a non-integer or a value below 1.
    """
    from threadpoolctl import threadpool_limits

    from . import _validate as v

    threads = v.integer("threads", threads, minimum=1)

    import numpy  # noqa: F401

    threadpool_limits(limits=threads, user_api="blas")
    libs = _blas_libs()
    return int(libs[0]["num_threads"]) if libs else threads


def threads_from_env() -> int | None:
    """The thread count named by :data:`ENV`, or ``None`` when it is unset.

    Raises
    ------
    ValueError
        When it is set to anything but an integer ``>= 1``.
    """
    raw = os.environ.get(ENV)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{ENV} must be an integer >= 1 (BLAS threads), got {raw!r}")
    return value


def _cpu_times():
    with open("/proc/stat", encoding="ascii") as fh:
        fields = [float(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)      # idle + iowait
    return sum(fields[:8]), idle


def busy_cores(interval: float = 0.25) -> float | None:
    """Cores busy now: the machine's CPU time over ``interval`` seconds (``/proc/stat``), or the
    1-minute load average where that file is missing.

    Parameters
    ----------
    interval : float > 0
        Seconds to sample over.

    Returns
    -------
    float or None
        Busy cores (between 0 and the core count); ``None`` when neither source is available.
    """
    if not isinstance(interval, (int, float)) or isinstance(interval, bool) or not 0 < interval <= 60:
        raise ValueError(f"interval must be a number of seconds in (0, 60], got {interval!r}")
    try:
        total0, idle0 = _cpu_times()
        time.sleep(interval)
        total1, idle1 = _cpu_times()
        span = total1 - total0
        if span > 0:
            return (os.cpu_count() or 1) * (1.0 - (idle1 - idle0) / span)
    except (OSError, ValueError, IndexError):
        pass
    try:
        return float(os.getloadavg()[0])
    except (OSError, AttributeError):
        return None


def load_warning(cpus: int | None = None, *, needed: int = 1) -> str | None:
    """A one-line warning when other work leaves fewer free cores than a run needs, else ``None``.

    Measured just before the run starts (:func:`busy_cores`), so it sees the jobs running now,
    not an average that still holds a finished one. Wall times then exceed the stated costs,
    and BLAS threads beyond the free cores stall.

    Parameters
    ----------
    cpus : int, optional
        Cores (default ``os.cpu_count()``).
    needed : int, keyword-only
        Cores the run will keep busy (chapters at a time times their BLAS threads, or workers).
    """
    cpus = cpus or os.cpu_count() or 1
    busy = busy_cores()
    if busy is None:
        return None
    free = cpus - busy
    if free >= min(needed, cpus) - LOADED_SLACK:
        return None
    return (f"warning: this machine is loaded ({busy:.1f} of {cpus} cores busy with other work, {needed} needed); "
            "wall times will exceed the stated costs, and BLAS threads beyond the free cores stall")


def non_native_warning(blas: dict) -> str | None:
    """A one-line warning when a recorded BLAS kernel is not the machine's own, else ``None``.

    Parameters
    ----------
    blas : dict
        As :func:`info` returns it (also from a record).
    """
    arch, native = blas.get("architecture") or "", blas.get("native_architecture") or ""
    if not blas.get("coretype") and (not native or arch == native):
        return None
    if arch and native and arch.lower() == native.lower():
        return None
    return (f"recorded under OpenBLAS's {arch or blas.get('coretype')} kernel (OPENBLAS_CORETYPE="
            f"{blas.get('coretype') or '?'}), not this machine's native {native or 'kernel'}: its timings "
            "(batched products especially) are not those of the machine's own kernel")
