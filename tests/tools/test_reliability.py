"""Reliability of the command as a user meets it: concurrent runs, interrupts, reused folders, records.

These tests run the real console script in subprocesses (the fastest chapter, small sizes).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["-p", "trials", "200", "-p", "m_values", "[25, 100, 400]", "--no-progress"]


def _opsense() -> list[str]:
    exe = Path(sys.executable).with_name("opsense")
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "opsense.tools.cli"]


def _env():
    return {**os.environ, "OPSENSE_BOOK": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}


def _run(args, cwd, timeout=300):
    return subprocess.run(_opsense() + args, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=_env())


def test_two_runs_into_one_folder_exactly_one_succeeds_and_reports_its_own_numbers(tmp_path):
    out = tmp_path / "shared"
    procs = [subprocess.Popen(_opsense() + ["run", "rip", "-p", "seed", str(s), "--out", str(out), *SMALL],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=_env())
             for s in (1, 2)]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    codes = sorted(r[0] for r in results)
    assert codes == [0, 2], results
    winner = 1 + [r[0] for r in results].index(0)
    loser = results[[r[0] for r in results].index(2)]
    assert "used by another run" in loser[2] or "not empty" in loser[2], loser[2]
    assert "Traceback" not in loser[2]
    doc = json.loads((out / "claims.json").read_text())
    assert doc["parameters"]["seed"] == winner                      # the folder holds the winner's run
    run = json.loads((out / "run.json").read_text())
    assert run["parameters"]["seed"] == winner and run["status"] == "ok"
    assert not list(tmp_path.glob(".shared.*")), "lock or partial folder left behind"

    # the folder can be reused only with --force, and report keeps the run's own command
    again = _run(["run", "rip", "-p", "seed", "3", "--out", str(out), *SMALL], tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr
    forced = _run(["run", "rip", "-p", "seed", "3", "--out", str(out), "--force", *SMALL], tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert json.loads((out / "claims.json").read_text())["parameters"]["seed"] == 3
    command = json.loads((out / "report.json").read_text())["command"]
    assert command.startswith("opsense run rip -p seed 3") and "'[25, 100, 400]'" in command  # shell-quoted
    rep = _run(["report", str(out)], tmp_path)
    assert rep.returncode == 0, rep.stderr
    assert json.loads((out / "report.json").read_text())["command"] == command


@pytest.mark.parametrize("delay", [0.3, 1.5, 6.0])
def test_an_interrupt_at_any_moment_exits_130_cleanly_and_marks_the_record(tmp_path, delay):
    out = tmp_path / "interrupted"
    proc = subprocess.Popen(_opsense() + ["run", "b1_symmetric", "--out", str(out), "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=_env())
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    code = proc.wait(timeout=120)
    _, err = proc.communicate()
    assert code == 130, err
    assert "Traceback" not in err and "interrupted" in err
    assert not list(tmp_path.glob(".interrupted.*")), "lock or partial folder left behind"
    if out.exists():                                   # interrupted after the folder was taken
        run = json.loads((out / "run.json").read_text())
        assert run["status"] == "interrupted"
        rep = _run(["report", str(out)], tmp_path)
        assert rep.returncode == 1 and "interrupted" in rep.stdout


def test_a_read_only_folder_is_refused_before_any_work(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        res = _run(["run", "rip", "--out", str(locked / "out"), *SMALL], tmp_path)
        assert res.returncode == 2 and "cannot write" in res.stderr and "Traceback" not in res.stderr
    finally:
        locked.chmod(0o700)


def test_unwritable_outputs_are_refused_before_any_work(tmp_path):
    res = _run(["run", "rip", "--out", "/proc/opsense-out", *SMALL], tmp_path)
    assert res.returncode == 2 and "cannot write" in res.stderr and "Traceback" not in res.stderr
    res = _run(["run", "rip", "--record", "/proc/x.json", *SMALL], tmp_path)
    assert res.returncode == 2 and "--record" in res.stderr and not (tmp_path / "runs").exists()
