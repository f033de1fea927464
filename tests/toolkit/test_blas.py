"""The BLAS under NumPy, through threadpoolctl: its kernel, its threads, the machine's load."""

import os

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from opsense import blas


def _threads():
    return [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"][0]


def test_info_names_the_library_its_kernel_and_threads():
    i = blas.info()
    assert i["name"] == "openblas" and i["version"] and i["source"] == "threadpoolctl"
    assert i["architecture"] and i["native_architecture"] == i["architecture"] and i["threads"] >= 1


def test_limit_threads_is_applied_and_validated():
    with threadpool_limits(limits=None):          # restores the original limits afterwards
        assert blas.limit_threads(1) == 1 == _threads()
        with pytest.raises(ValueError, match="threads must be an integer >= 1"):
            blas.limit_threads(0)


def test_configure_applies_the_kernels_thread_count(monkeypatch):
    from opsense import configure
    from opsense.chapters import rip

    with threadpool_limits(limits=None):
        threadpool_limits(limits=os.cpu_count() or 1, user_api="blas")
        before = _threads()
        configure(rip, "book")
        assert _threads() == before                # unset: untouched
        monkeypatch.setenv(blas.ENV, "1")
        configure(rip, "book")
        assert _threads() == 1
        monkeypatch.setenv(blas.ENV, "two")
        with pytest.raises(ValueError, match="OPSENSE_BLAS_THREADS must be an integer >= 1"):
            configure(rip, "book")


def test_a_forced_kernel_is_seen_against_the_native_one(monkeypatch):
    """OPENBLAS_CORETYPE set (as it was behind a stale record): the probe runs without it."""
    native = blas.info()["architecture"]
    monkeypatch.setenv(blas.CORETYPE, "Prescott")
    assert blas.native_architecture() == native
    note = blas.non_native_warning({"architecture": "Prescott", "native_architecture": native,
                                    "coretype": "Prescott"})
    assert note and "Prescott kernel" in note and f"native {native}" in note
    assert blas.non_native_warning({"architecture": native, "native_architecture": native, "coretype": ""}) is None
    assert blas.non_native_warning({"name": "openblas", "configuration": "Haswell"}) is None   # an older record


def test_load_warning_counts_the_free_cores_against_those_needed(monkeypatch):
    monkeypatch.setattr(blas, "busy_cores", lambda interval=0.25: 1.6)
    msg = blas.load_warning(2, needed=2)
    assert msg.startswith("warning: this machine is loaded (1.6 of 2 cores busy with other work, 2 needed)")
    monkeypatch.setattr(blas, "busy_cores", lambda interval=0.25: 0.9)
    assert blas.load_warning(2, needed=1) is None          # one free core is enough for one
    assert blas.load_warning(2, needed=2) is not None
    monkeypatch.setattr(blas, "busy_cores", lambda interval=0.25: 0.3)
    assert blas.load_warning(2, needed=2) is None
    monkeypatch.setattr(blas, "busy_cores", lambda interval=0.25: None)
    assert blas.load_warning(2, needed=2) is None


def test_busy_cores_measures_a_busy_loop():
    import threading
    import time

    idle = blas.busy_cores(0.2)
    assert idle is not None and 0.0 <= idle <= (os.cpu_count() or 1) + 1e-9
    stop = time.perf_counter() + 0.6

    def spin():
        while time.perf_counter() < stop:
            pass

    th = threading.Thread(target=spin)
    th.start()
    busy = blas.busy_cores(0.3)
    th.join()
    assert busy >= 0.7                                     # at least the spinning core
    with pytest.raises(ValueError, match="interval must be a number of seconds"):
        blas.busy_cores(0)


def test_one_thread_gives_the_same_engine_numbers():
    """The record's numbers do not depend on the thread count at the book's size (n = 20)."""
    import opsense as ops

    prob = ops.make_problem(20, 20, 2, 600, seed=0)
    with threadpool_limits(limits=None):
        blas.limit_threads(1)
        one = ops.run_gd(prob, k=4, alpha=[0.1] * 8, eta=0.1, seed=list(range(8)), iters=100).error
        threadpool_limits(limits=os.cpu_count() or 1, user_api="blas")
        many = ops.run_gd(prob, k=4, alpha=[0.1] * 8, eta=0.1, seed=list(range(8)), iters=100).error
    assert np.max(np.abs(one - many)) <= 1e-12 * np.max(one)


def test_the_report_flags_a_record_made_under_a_forced_kernel():
    from opsense.tools.report import environment_rows

    env = {"blas": {"name": "openblas", "version": "0.3.31", "architecture": "Prescott",
                    "native_architecture": "Haswell", "coretype": "Prescott", "threads": 2, "kernel_threads": 1}}
    rows = dict(environment_rows(env))
    assert "native Haswell" in rows["warning"] and "Prescott kernel, 1 thread per chapter" in rows["BLAS"]
    env["blas"].update(architecture="Haswell", coretype="")
    assert "warning" not in dict(environment_rows(env))
