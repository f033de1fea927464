"""``opsense robustness``: the spec is valid against every chapter's own rules, the record merges and
reads back, the page's parts render, and a real (tiny) run writes a record."""

from __future__ import annotations

import importlib
import json
import shutil
import warnings
from pathlib import Path

import pytest

import opsense as ops
from opsense.tools import cli
from opsense.tools import robustness as rb
from opsense.tools.catalog import discover
from opsense.tools.sweep import wilson_interval

ROOT = Path(__file__).resolve().parents[2]
SPEC = rb.load_spec(ROOT)


def test_the_spec_covers_every_chapter_with_claims_and_has_enough_seeds():
    chapters = [c.name for c in discover(ROOT) if c.in_toc]
    assert set(SPEC["chapters"]) == set(chapters), "book/robustness.yml must list every chapter of the book"
    assert int(SPEC["seeds"].split(":")[1]) - int(SPEC["seeds"].split(":")[0]) >= rb.MIN_SEEDS


@pytest.mark.parametrize("job", [j for j in rb.plan_jobs(SPEC) if j.label != "book"],
                         ids=lambda j: f"{j.chapter}-{j.label}")
def test_every_other_set_passes_its_chapters_check_inside_the_regime(job):
    ch = importlib.import_module(f"opsense.chapters.{job.chapter}")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ops.config.OutsideRegimeWarning)  # outside the regime: the test fails
        P = ops.configure(ch, "book", **job.given)
    assert all(getattr(P, k) == v for k, v in job.given.items())
    assert job.given, "a set must change at least one parameter"


def test_bad_specs_are_refused(tmp_path, monkeypatch):
    (tmp_path / "book").mkdir()
    path = tmp_path / rb.SPEC
    for text, message in (("seeds: '0:10'\nother_seeds: '0:5'\nchapters: {rip: []}\n", "at least 50"),
                          ("seeds: '0:50'\nother_seeds: 'x'\nchapters: {rip: []}\n", "other_seeds"),
                          ("seeds: '0:50'\nother_seeds: '0:5'\nchapters: {rip: [7]}\n", "parameter sets"),
                          ("seeds: '0:50'\n", "chapters"), ("{", "not valid YAML")):
        path.write_text(text)
        with pytest.raises(rb.RobustnessError, match=message):
            rb.load_spec(tmp_path)
    with pytest.raises(rb.RobustnessError, match="not in book/robustness.yml"):
        rb.plan_jobs(SPEC, ["nope"])


def test_jobs_and_their_sweep_command_lines():
    jobs = rb.plan_jobs(SPEC, ["rip"])
    assert [j.label for j in jobs][0] == "book" and jobs[0].seeds == SPEC["seeds"] and jobs[0].given == {}
    argv = rb.sweep_argv(jobs[1], Path("/tmp/x"), workers=2, yes=True)
    assert argv[:4] == ["sweep", "rip", "--seeds", SPEC["other_seeds"]] and "--workers" in argv and "--yes" in argv
    assert all(f"--grid" in argv for _ in jobs[1].given)


def _claim(cid, passed, n, worst_cmd="opsense run rip -p seed 3"):
    return {"id": cid, "statement": "s", "basis": "theory", "form": "value", "points": n, "holds": passed,
            "does_not_reproduce": 0, "fails": n - passed, "pass_rate": passed / n,
            "pass_ci": list(wilson_interval(passed, n)),
            "worst": {"verdict": "fails" if passed < n else "holds", "command": worst_cmd}}


def test_record_merge_weak_claims_and_page_parts():
    env = {"cpu": "test cpu", "cpu_count": 2}
    first = [{"chapter": "rip", "set": "book", "given": {}, "seeds": "0:50", "points": {"finished": 50},
              "minutes": 3.0, "claims": [_claim("rip.a", 50, 50), _claim("rip.b", 40, 50)]}]
    rec = rb.merge_record(rb.read_record("/nonexistent.json"), first, spec=SPEC, environment=env)
    again = [{"chapter": "rip", "set": "set1", "given": {"n1": 16, "n2": 24}, "seeds": "0:10",
              "points": {"finished": 10}, "minutes": 1.0, "claims": [_claim("rip.a", 10, 10)]}]
    rec = rb.merge_record(rec, again, spec=SPEC, environment=env)
    assert [(r["chapter"], r["set"]) for r in rec["runs"]] == [("rip", "book"), ("rip", "set1")]
    weak = rb.weak_claims(rec)
    assert [c["id"] for c in weak] == ["rip.b"] and weak[0]["pass_rate"] == 0.8
    assert "1 of them pass at fewer than 95%" in rb.page_summary(rec, SPEC) and "test cpu" in rb.page_summary(rec, SPEC)
    assert "opsense run rip -p seed 3" in rb.page_weak(rec) and "rip.b" in rb.page_weak(rec)
    assert "Not swept yet" in rb.page_missing(rec, SPEC) and "rip (book)" not in rb.page_missing(rec, SPEC)
    assert rb.page_table(rec).count("<tr") == 4  # header + three rows
    assert rb.page_figure(rec)[:8] == b"\x89PNG\r\n\x1a\n"
    empty = rb.read_record("/nonexistent.json")
    assert rb.page_figure(empty) is None and "No sweep has been recorded yet" in rb.page_summary(empty, SPEC)


def test_a_bad_record_is_refused(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(rb.RobustnessError, match="not a robustness record"):
        rb.read_record(path)


def test_the_cost_of_the_spec_is_estimated_from_the_record():
    seconds, unknown = rb.spec_cost(ROOT, SPEC)
    assert seconds > 0 and "on one core" in rb.page_cost(ROOT, SPEC)


def test_a_tiny_robustness_run_writes_a_record(tmp_path, monkeypatch):
    """Two seeds of rip's book preset and two of a smaller set, on one local worker; then a re-run resumes."""
    root = tmp_path / "root"
    (root / "book").mkdir(parents=True)
    shutil.copy(ROOT / "book" / "rip.ipynb", root / "book" / "rip.ipynb")
    shutil.copy(ROOT / "book" / "reproduction.json", root / "book" / "reproduction.json")
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: book/rip\n")
    (root / rb.SPEC).write_text("seeds: '0:2'\nother_seeds: '5:7'\nchapters:\n  rip:\n    - {trials: 100}\n")
    monkeypatch.setattr(rb, "MIN_SEEDS", 2)
    monkeypatch.setenv("OPSENSE_BOOK", str(root))
    monkeypatch.chdir(tmp_path)
    record = tmp_path / "robustness.json"
    code = cli.main(["robustness", "--workers", "1", "--out", str(tmp_path / "sweeps"), "--record", str(record)])
    assert code in (0, 1)
    rec = rb.read_record(record)
    assert [(r["set"], r["points"]["finished"]) for r in rec["runs"]] == [("book", 2), ("set1", 2)]
    assert rec["runs"][1]["given"] == {"trials": 100} and all(r["claims"] for r in rec["runs"])
    assert cli.main(["robustness", "--workers", "1", "--out", str(tmp_path / "sweeps"), "--record", str(record)]) == code
    assert cli.main(["robustness", "nope", "--record", str(record)]) == 2
