"""``opsense bench``: the benchmark runs in one process and reports ratios; bad options are refused."""

import json

from opsense.tools import cli


def test_bench_reports_every_variant_and_the_instance_batching(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = cli.main(["bench", "--n", "6", "--r", "1", "--k", "2", "--m", "40", "--iters", "10", "--repeats", "1",
                     "--instances", "2", "--conditions", "2", "--json", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "two-pass bound" in text and "instances-x-conditions" in text and "one-per-instance" in text
    res = json.loads(out.read_text())
    ib = res["instances"]
    assert ib["instances"] == 2 and ib["conditions"] == 2
    for name in ("one-per-instance", "instances-x-conditions"):
        d = ib[name]
        assert d["batched_ms"] > 0 and d["loop_ms"] > 0 and abs(d["speedup"] - d["loop_ms"] / d["batched_ms"]) < 1e-12
    assert set(res["speedup"]) == {"engine-1", "engine-16", "engine-64"}


def test_bench_refuses_a_bad_option_with_one_line(capsys):
    assert cli.main(["bench", "--instances", "1"]) == 2
    err = capsys.readouterr().err
    assert "instances must be an integer >= 2" in err and "Traceback" not in err


def test_size_table_and_sweep_throughput_are_measured_and_printed():
    from opsense.tools import bench

    rows = bench.size_table(sizes=((8, 100),), batches=(1, 3), repeats=1, budget_s=0.05)
    (row,) = rows
    assert row["n"] == 8 and row["plain_ms"] > 0 and row["engine_ms"] > 0 and row["bound_ms"] > 0
    assert set(row["batch_ms"]) == {1, 3} and row["engine_all_ms"] > 0
    text = bench._size_report(rows)
    assert "a batch of 3 costs" in text and "/plain" in text
    assert row["sym_plain_ms"] > 0 and row["sym_engine_ms"] > 0 and "packed operator" in text
    sw = bench.sweep_throughput(points=2, workers=(1,))
    assert sw[1]["points_per_min"] > 0 and "1 worker: " in bench._sweep_report(sw)


def test_the_plain_symmetric_reference_is_the_engines_gd():
    """The benchmark's dense reference computes the same GD as the engine's packed one."""
    import numpy as np

    import opsense as ops
    from opsense.tools import bench

    pr = ops.make_problem(6, 6, 2, 80, psd=True, seed=1)
    U0, _ = ops.initial_factors(6, 6, 3, 0.3, seed=0)
    _, _, errs = bench._plain(pr.operator.matrix, pr.y, pr.target.X, U0, None, 0.1, 200, every=10)
    res = ops.run_gd(pr, k=3, alpha=0.3, eta=0.1, seed=0, iters=200, parameterization="symmetric")
    assert np.max(np.abs(res.error[0, :20] - errs)) <= 1e-12 * max(errs)
