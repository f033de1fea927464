"""``opsense sweep``: grids of points on Dask, resumable folders, the summary.

The runs use the ``rip`` chapter with small values (a point takes well under a second). The
command runs in a subprocess (as users run it), on a LocalCluster or on a scheduler and workers
this file starts on 127.0.0.1.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pa = pytest.importorskip("pyarrow")
pytest.importorskip("distributed")
import pyarrow.parquet as pq  # noqa: E402

from opsense.tools import cli, sweep  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OPSENSE_BOOK": str(ROOT), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
       "MKL_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
#: The claims of one rip point, whatever the chapter's current claims are.
RIP_CLAIMS = None


def rip_claims() -> set[str]:
    global RIP_CLAIMS
    if RIP_CLAIMS is None:
        import opsense as ops
        from opsense.chapters import rip

        RIP_CLAIMS = {c.id for c in rip.evaluate(ops.configure(rip, "book", n1=10, trials=100))}
    return RIP_CLAIMS


#: A small grid: 2 values x 2 seeds = 4 points, each with rip's claims (and every claim holds there).
SMALL = ["--grid", "n1=10,20", "--grid", "trials=100", "--seeds", "0:2"]
#: Points of about a second on a loaded machine, so that a kill or a Ctrl-C lands mid-sweep.
SLOW = ["--grid", "trials=2000", "--seeds", "0:4"]


def sweep_cmd(*args, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "opsense.tools.cli", "sweep", *args, "--no-progress"],
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def finish(proc: subprocess.Popen, timeout: float = 180) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"sweep did not finish in {timeout} s:\n{err[-3000:]}")
    return proc.returncode, out, err


def table(folder: Path) -> list[dict]:
    return pq.read_table(folder / "results.parquet").to_pylist()


def mtimes(folder: Path) -> dict:
    return {p.name: p.stat().st_mtime_ns for p in (folder / "points").glob("*.json")}


def expected_measured(grid: dict, seeds) -> dict:
    """``{(seed, claim): measured}`` computed here, without Dask (the chapter is deterministic)."""
    import opsense as ops
    from opsense.chapters import rip

    out = {}
    for s in seeds:
        for c in rip.evaluate(ops.configure(rip, "book", seed=s, **grid)):
            out[(s, c.id)] = c.measured
    return out


def assert_complete(folder: Path, n_points: int) -> list[dict]:
    rows = table(folder)
    keys = [(r["point"], r["claim"]) for r in rows]
    assert len(keys) == len(set(keys)) == len(rip_claims()) * n_points, "a point duplicated or lost"
    assert len({r["point"] for r in rows}) == n_points == len(mtimes(folder))
    assert {r["claim"] for r in rows} == rip_claims()
    with open(folder / "results.csv", encoding="utf-8") as fh:
        assert sum(1 for _ in fh) == 1 + len(rows)
    return rows


# ----------------------------------------------------------------------------- LocalCluster
def test_local_cluster_sweep_gives_grid_x_claims_and_a_rerun_skips_everything(tmp_path):
    out = tmp_path / "s"
    code, stdout, err = finish(sweep_cmd("rip", *SMALL, "--workers", "2", "--out", str(out)))
    assert code == 0, err[-3000:]
    rows = assert_complete(out, 4)
    assert {(r["param_n1"], r["seed"]) for r in rows} == {(10, 0), (10, 1), (20, 0), (20, 1)}
    assert {r["param_trials"] for r in rows} == {100} and {r["param_m_values"] for r in rows} == {
        "[25, 50, 100, 200, 400, 800]"}
    assert all(r["verdict"] == "holds" and r["opsense_version"] and r["commit"] and r["runtime_s"] > 0 for r in rows)
    assert set(rows[0]) >= {"measured", "lo", "hi", "basis", "form", "verdict", "ci_lo", "ci_hi", "n"}
    assert "rip.spread-slope" in stdout and "pass 4/4" in stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["points"] == {"planned": 4, "finished": 4, "errored": 0, "missing": 0}
    before = mtimes(out)

    code, stdout, err = finish(sweep_cmd("rip", *SMALL, "--workers", "2", "--out", str(out)))
    assert code == 0, err[-3000:]
    assert "4 already done, 0 to run" in err and "estimated cost" not in err
    assert mtimes(out) == before, "a finished point was computed again"
    assert table(out) == rows


# ----------------------------------------------------------------------------- a cluster of our own
@pytest.fixture
def cluster(tmp_path):
    """A `dask scheduler` and two `dask worker` processes (no nanny) on 127.0.0.1; stopped at the end."""
    from distributed import Client

    sched_file = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--no-dashboard", "--scheduler-file", str(sched_file)],
                              env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 60
        while not sched_file.is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(sched_file.read_text())["address"]
        for _ in range(2):
            procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address,
                                           "--nthreads", "1", "--no-nanny", "--no-dashboard", "--host", "127.0.0.1"],
                                          env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        client = Client(address, timeout=60)
        client.wait_for_workers(2, timeout=90)
        yield address, client, procs
    finally:
        with_client = locals().get("client")
        if with_client is not None:
            with_client.close()
        for p in procs[::-1]:
            p.terminate()
        for p in procs[::-1]:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def test_sweep_on_an_existing_scheduler_and_workers(tmp_path, cluster):
    address, client, _ = cluster
    out = tmp_path / "s"
    code, _, err = finish(sweep_cmd("rip", *SMALL, "--scheduler", address, "--out", str(out)))
    assert code == 0, err[-3000:]
    rows = assert_complete(out, 4)
    want = expected_measured({"n1": 20, "trials": 100}, [0, 1])
    got = {(r["seed"], r["claim"]): r["measured"] for r in rows if r["param_n1"] == 20}
    assert got == want
    assert client.scheduler_info()["workers"], "the cluster is left running for its owner"


def test_a_worker_killed_mid_sweep_loses_no_point(tmp_path, cluster):
    address, client, procs = cluster
    pids = client.run(os.getpid)
    out = tmp_path / "s"
    proc = sweep_cmd("rip", *SLOW, "--scheduler", address, "--out", str(out))
    killed, deadline = None, time.monotonic() + 120
    while killed is None and time.monotonic() < deadline and proc.poll() is None:
        busy = [addr for addr, keys in client.processing().items() if any("opsense-" in str(k) for k in keys)]
        if busy:
            killed = pids[busy[0]]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.05)
    assert killed is not None, "no worker was seen computing a point"
    code, _, err = finish(proc)
    assert code == 0, err[-3000:]
    assert_complete(out, 4)
    assert not any((out / "errors").iterdir())


# ----------------------------------------------------------------------------- Ctrl-C
def test_an_interrupted_sweep_keeps_its_points_and_resumes_to_the_same_table(tmp_path):
    out = tmp_path / "s"
    proc = sweep_cmd("rip", *SLOW, "--workers", "1", "--out", str(out))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not (
            (out / "points").is_dir() and any((out / "points").glob("*.json"))):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    code, _, err = finish(proc)
    assert code == 130, err[-3000:]
    assert "interrupted" in err and "Traceback" not in err
    kept = mtimes(out)
    assert 1 <= len(kept) <= 4
    if len(kept) < 4:
        assert len(table(out)) == len(rip_claims()) * len(kept), "the table holds what finished"
    assert not (out / ".sweep.lock").exists()

    code, _, err = finish(sweep_cmd("rip", *SLOW, "--workers", "1", "--out", str(out)))
    assert code == 0, err[-3000:]
    assert f"{len(kept)} already done, {4 - len(kept)} to run" in err
    rows = assert_complete(out, 4)
    assert {k: v for k, v in mtimes(out).items() if k in kept} == kept
    want = expected_measured({"trials": 2000}, range(4))
    assert {(r["seed"], r["claim"]): r["measured"] for r in rows} == want


# ----------------------------------------------------------------------------- bad command lines
@pytest.fixture
def no_cluster(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPSENSE_BOOK", str(ROOT))

    def refuse(*a, **k):
        raise AssertionError("a cluster was about to start")

    monkeypatch.setattr(sweep, "_client", refuse)
    return tmp_path


def run_cli(capsys, *argv):
    try:
        code = cli.main(["sweep", *argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv, named", [
    (["--grid", "n3=1,2"], "n3"),                          # unknown name
    (["--grid", "n1=0,10"], "n1=0"),                       # infeasible value
    (["--grid", "r=2,30"], "r=30"),                        # infeasible with the preset's n1, n2
    (["--grid", "n1=10", "--grid", "r=5,12"], "r=12"),     # infeasible combination
    (["--grid", "n1="], "n1"),                             # empty list
    (["--grid", "n1=10,,20"], "n1"),                       # empty value
    (["--grid", "n1=10,10"], "n1"),                        # a value twice
    (["--grid", "n1"], "--grid"),                          # no values at all
    (["--grid", "trials=abc"], "trials"),                  # wrong type
    (["--grid", "m_values=[25,50]"], "m_values"),          # the chapter's own check (3 values at least)
    (["--grid", "preset=paper"], "--preset"),
    (["--seeds", "3:1"], "--seeds"),
    (["--seeds", "a:b"], "--seeds"),
    (["--seeds", "0:2", "--grid", "seed=1,2"], "--seeds"),
    (["--workers", "0"], "--workers"),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "--workers"),
    (["--scheduler", "localhost"], "--scheduler"),
    (["--retries", "-1"], "--retries"),
    (["--max-minutes", "0"], "--max-minutes"),
    (["--json", "x.txt"], "--json"),
])
def test_a_bad_grid_is_refused_before_any_worker_starts(capsys, no_cluster, argv, named):
    code, out, err = run_cli(capsys, "rip", *argv, "--out", "s")
    assert code == 2, err
    lines = err.strip().splitlines()
    assert lines[-1].startswith("opsense: error:") and named in lines[-1], err
    assert "Traceback" not in err and not (no_cluster / "s").exists()


def test_unknown_chapter_and_a_sweep_too_long(capsys, no_cluster):
    code, _, err = run_cli(capsys, "ripp", "--out", "s")
    assert code == 2 and "unknown chapter 'ripp'" in err
    code, _, err = run_cli(capsys, "rip", "--seeds", "0:50", "--max-minutes", "0.0001", "--workers", "1", "--out", "s")
    assert code == 2 and "--yes" in err and not (no_cluster / "s").exists()


def test_a_folder_of_another_sweep_or_in_use_is_refused(capsys, no_cluster):
    folder = no_cluster / "s"
    folder.mkdir()
    (folder / "sweep.json").write_text(json.dumps({"format": sweep.FORMAT, "chapter": "rip", "preset": "book",
                                                   "grid": {"n1": ["10"]}, "seeds": None, "n_points": 1,
                                                   "fingerprint": "0" * 16, "command": "opsense sweep rip"}))
    code, _, err = run_cli(capsys, "rip", "--grid", "n1=10,20", "--out", str(folder))
    assert code == 2 and "holds another sweep" in err and "n1=10" in err
    other = no_cluster / "t"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    code, _, err = run_cli(capsys, "rip", "--out", str(other))
    assert code == 2 and "holds no sweep" in err
    # a sweep into a folder whose lock is held by a live process
    busy = no_cluster / "u"
    busy.mkdir()
    import socket

    (busy / ".sweep.lock").write_text(f"{os.getpid()} {socket.gethostname()}\n")
    code, _, err = run_cli(capsys, "rip", "--grid", "n1=10", "--workers", "1", "--out", str(busy))
    assert code == 2 and "used by another sweep" in err
    assert (busy / ".sweep.lock").exists()


# ----------------------------------------------------------------------------- the statistics
@pytest.mark.parametrize("k, n, lo, hi", [
    # Newcombe (1998), Statistics in Medicine 17:857, Table I (method 3, Wilson score without correction)
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
    (5, 10, 0.2366, 0.7634),
    (10, 10, 0.7225, 1.0),
])
def test_wilson_interval_against_known_values(k, n, lo, hi):
    a, b = sweep.wilson_interval(k, n)
    assert a == pytest.approx(lo, abs=6e-5) and b == pytest.approx(hi, abs=6e-5)


def test_wilson_interval_refuses_bad_counts():
    assert all(math.isnan(x) for x in sweep.wilson_interval(0, 0))
    for k, n in ((3, 2), (-1, 4), (1.5, 3)):
        with pytest.raises(ValueError, match="k and n"):
            sweep.wilson_interval(k, n)


def _claim(id_, measured, lo, hi, verdict, **kw):
    return {"id": id_, "statement": "s", "measured": measured, "lo": lo, "hi": hi, "basis": "theory",
            "form": "value", "test": "value", "verdict": verdict, "ci_lo": None, "ci_hi": None, "n": None, **kw}


def test_summary_counts_verdicts_and_finds_the_worst_point(tmp_path, capsys):
    ids = [f"{i:020x}" for i in range(4)]
    (tmp_path / "points").mkdir()
    (tmp_path / "sweep.json").write_text(json.dumps({
        "format": sweep.FORMAT, "chapter": "rip", "preset": "book", "grid": {"n1": ["10", "20", "30"]},
        "seeds": None, "n_points": 4, "fingerprint": "f" * 16, "command": "opsense sweep rip", "points": ids}))
    measured = [-0.5, -0.61, -0.75]   # the third is farthest outside [-0.6, -0.4]
    for i, (pid, m) in enumerate(zip(ids, measured)):
        verdict = "holds" if -0.6 <= m <= -0.4 else "fails"
        claims = [_claim("x.slope", m, -0.6, -0.4, verdict),
                  _claim("x.dnr", 2.0 + i, "-inf", 1.0, "does not reproduce", expected_failure="why"),
                  _claim("x.band", 1.0, 0.0, 2.0, "holds" if i != 1 else "fails", test="inside",
                         ci_lo=0.5 if i != 1 else -0.25, ci_hi=1.5, n=5)]
        doc = {"point": pid, "chapter": "rip", "preset": "book", "given": {"n1": 10 * (i + 1)},
               "raw": {"n1": str(10 * (i + 1))}, "parameters": {"n1": 10 * (i + 1), "seed": 0}, "regime": [],
               "runtime_s": 0.1, "opsense_version": "0.1.0", "commit": "abc", "claims": claims}
        (tmp_path / "points" / f"{pid}.json").write_text(json.dumps(doc))
    s = sweep.summarize(tmp_path)
    assert s["points"] == {"planned": 4, "finished": 3, "errored": 0, "missing": 1}
    by = {c["id"]: c for c in s["claims"]}
    slope = by["x.slope"]
    assert (slope["holds"], slope["fails"], slope["pass_rate"]) == (1, 2, pytest.approx(1 / 3))
    assert slope["pass_ci"] == pytest.approx(list(sweep.wilson_interval(1, 3)))
    assert (slope["measured_min"], slope["measured_max"]) == (-0.75, -0.5)
    assert slope["worst"]["point"] == ids[2] and slope["worst"]["outside_by"] == pytest.approx(0.15)
    assert slope["worst"]["command"] == "opsense run rip -p n1 30 --preset book"
    dnr = by["x.dnr"]   # documented non-reproduction: passes, but does not hold
    assert (dnr["pass_rate"], dnr["holds_rate"], dnr["does_not_reproduce"]) == (1.0, 0.0, 3)
    assert dnr["worst"]["point"] == ids[2] and dnr["worst"]["outside_by"] == pytest.approx(3.0)
    band = by["x.band"]  # an interval claim: the interval's distance outside
    assert band["worst"]["point"] == ids[1] and band["worst"]["outside_by"] == pytest.approx(0.25)

    report = tmp_path / "report.json"
    code = cli.main(["sweep", "--summary", str(tmp_path), "--json", str(report)])
    out = capsys.readouterr().out
    assert code == 1   # a claim fails at some point
    assert "x.slope" in out and "pass 1/3" in out and "opsense run rip -p n1 30 --preset book" in out
    assert "1 not run yet" in out
    assert json.loads(report.read_text())["claims"][0]["id"] == "x.slope"
    assert json.loads((tmp_path / "summary.json").read_text()) == json.loads(report.read_text())


def test_summary_of_a_folder_without_a_sweep(capsys, tmp_path):
    code, _, err = run_cli(capsys, "--summary", str(tmp_path))
    assert code == 2 and "not a sweep folder" in err
    code, _, err = run_cli(capsys, "rip", "--summary", str(tmp_path))
    assert code == 2 and "--summary" in err


def test_grid_syntax_and_point_identity():
    assert sweep.parse_grid(["m_values=[25,50,100],[50, 100, 200]", "init='a,b',c"]) == {
        "m_values": ["[25,50,100]", "[50, 100, 200]"], "init": ["'a,b'", "c"]}
    assert sweep.parse_seeds("2:5") == [2, 3, 4] and sweep.parse_seeds(None) is None
    a = sweep.point_id("rip", "book", {"n1": 10, "seed": 0})
    assert a == sweep.point_id("rip", "book", {"seed": 0, "n1": 10}) != sweep.point_id("rip", "paper", {"n1": 10,
                                                                                                          "seed": 0})


def test_an_unreachable_scheduler_is_a_usage_error(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPSENSE_BOOK", str(ROOT))
    code, _, err = run_cli(capsys, "rip", "--seeds", "0:1", "--scheduler", "tcp://127.0.0.1:1",
                           "--connect-timeout", "1", "--out", "s")
    assert code == 2 and "--scheduler tcp://127.0.0.1:1: cannot connect" in err and "Traceback" not in err
    assert not (tmp_path / "s" / ".sweep.lock").exists() and not list((tmp_path / "s" / "points").iterdir())


def test_a_value_refused_alone_is_accepted_with_the_grid_values_that_make_it_feasible():
    """kappa = 3 needs a longer horizon than the preset's: refused alone, accepted with it."""
    from opsense.tools import catalog

    ch = catalog.get_chapter("x2_start", catalog.discover(ROOT))
    with pytest.raises(sweep.SweepError, match=r"--grid kappa=3.0: .*iters must be >= \d+"):
        sweep.plan_points(ch, "book", {"kappa": ["3.0"]}, None)
    need = ch.module.PRESETS["book"]["iters"] * 2
    (point,) = sweep.plan_points(ch, "book", {"kappa": ["3.0"], "iters": [str(need)], "iters_compare": [str(2 * need)]},
                                 None)
    assert point.parameters["kappa"] == 3.0 and point.parameters["iters"] == need
    with pytest.raises(sweep.SweepError, match=r"--grid kappa=3.0"):   # a point that still holds it alone
        sweep.plan_points(ch, "book", {"kappa": ["3.0"], "iters": [str(need), "1710"],
                                       "iters_compare": [str(2 * need)]}, None)
