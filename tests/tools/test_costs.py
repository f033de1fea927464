"""Costs before work: memory refused when it does not fit, long runs need --yes, list shows costs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opsense.tools import catalog, cli, costs

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = {c.name: c for c in catalog.discover(ROOT)}


@pytest.fixture()
def no_kernel(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPSENSE_BOOK", str(ROOT))

    def refuse(*args, **kwargs):
        raise AssertionError("a kernel was about to start")

    monkeypatch.setattr(cli, "_run_one", refuse)
    return tmp_path


def test_estimates_scale_the_recorded_time_beyond_the_overhead_by_the_work():
    import opsense as ops

    rip = CHAPTERS["rip"]
    book = costs.estimate(rip, {}, recorded={"rip": 10.0})
    assert book.seconds == pytest.approx(10.0) and book.memory_bytes > 0 and book.drivers
    bigger = costs.estimate(rip, {"trials": 1000}, recorded={"rip": 10.0})
    ratio = rip.module.cost(ops.configure(rip.module, "book", trials=1000)).work / \
        rip.module.cost(ops.configure(rip.module, "book")).work
    assert ratio == pytest.approx(2.0, rel=0.01)                         # rip's work is linear in trials
    assert bigger.seconds == pytest.approx(costs.OVERHEAD + (10.0 - costs.OVERHEAD) * ratio)
    assert costs.estimate(rip, {}, recorded={}).seconds is None
    assert costs.size(1.5e9) == "1.5 GB" and costs.duration(30) == "30 s" and costs.duration(600) == "10 min"


def test_the_record_gives_the_book_presets_times(tmp_path):
    (tmp_path / "book").mkdir()
    rec = {"chapters": [{"chapter": "rip", "status": "ok", "parameters": {}, "duration_s": 2.5},
                        {"chapter": "b1_symmetric", "status": "ok", "parameters": {"seed": 1}, "duration_s": 9.0},
                        {"chapter": "a1_generalization", "status": "error", "parameters": {}, "duration_s": 1.0}]}
    (tmp_path / "book" / "reproduction.json").write_text(json.dumps(rec))
    assert costs.recorded_seconds(tmp_path) == {"rip": 2.5}      # only default runs that finished
    (tmp_path / "book" / "reproduction.json").write_text("{")
    assert costs.recorded_seconds(tmp_path) == {}


def test_a_run_that_does_not_fit_in_memory_is_refused(no_kernel, monkeypatch, capsys):
    monkeypatch.setattr(costs, "machine_memory", lambda: 1e6)
    code = cli.main(["run", "rip", "--out", str(no_kernel / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "of memory" in err and "trials" in err and not (no_kernel / "out").exists()


def test_a_long_run_needs_yes(no_kernel, monkeypatch, capsys):
    monkeypatch.setattr(costs, "recorded_seconds", lambda root, preset="book": {"rip": 3600.0} if preset == "book" else {})
    code = cli.main(["run", "rip", "--out", str(no_kernel / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "--yes" in err and "60 min" in err and "trials" in err
    with pytest.raises(AssertionError, match="kernel was about to start"):
        cli.main(["run", "rip", "--out", str(no_kernel / "out"), "--yes"])
    with pytest.raises(AssertionError, match="kernel was about to start"):
        cli.main(["run", "rip", "--out", str(no_kernel / "out2"), "--max-minutes", "120"])


def test_list_shows_the_cost_of_every_preset(no_kernel, capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert out.count("  cost: book about") == len(CHAPTERS) and "(measured in the last full re-run)" in out
    assert cli.main(["list", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert all(set(d["cost"]) == {"book", "paper"} for d in doc)
    assert all(d["cost"]["paper"]["memory_bytes"] >= d["cost"]["book"]["memory_bytes"] for d in doc)


def test_a_paper_preset_record_gives_the_paper_time_and_marks_it_measured(tmp_path):
    import opsense as ops

    rip = CHAPTERS["rip"]
    (tmp_path / "book").mkdir()
    paper = {"chapters": [{"chapter": "rip", "status": "ok", "parameters": {"preset": "paper"}, "duration_s": 40.0},
                          {"chapter": "b1_symmetric", "status": "ok", "parameters": {"preset": "paper", "seed": 2},
                           "duration_s": 9.0}]}
    costs.record_path(tmp_path, "paper").write_text(json.dumps(paper))
    assert costs.recorded_seconds(tmp_path, "paper") == {"rip": 40.0}
    assert costs.all_recorded(tmp_path) == {"book": {}, "paper": {"rip": 40.0}}
    rec = {"book": {"rip": 10.0}, "paper": {"rip": 40.0}}
    e = costs.estimate(rip, {"preset": "paper"}, recorded=rec)
    assert e.seconds == pytest.approx(40.0) and e.measured
    b = costs.estimate(rip, {"preset": "book"}, recorded=rec)
    assert b.seconds == pytest.approx(10.0) and b.measured
    scaled = costs.estimate(rip, {"preset": "paper", "trials": 2000}, recorded=rec)   # from the paper record
    ratio = rip.module.cost(ops.configure(rip.module, "paper", trials=2000)).work / \
        rip.module.cost(ops.configure(rip.module, "paper")).work
    assert not scaled.measured and scaled.seconds == pytest.approx(costs.OVERHEAD + (40.0 - costs.OVERHEAD) * ratio)
    only_book = costs.estimate(rip, {"preset": "paper"}, recorded={"book": {"rip": 10.0}, "paper": {}})
    assert not only_book.measured and only_book.seconds > 10.0
