"""Reproduction reports: environment, run folders, the committed chapters' claims, the record."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

import opsense as ms
from opsense import report
from opsense.chapters import discover

ROOT = Path(__file__).resolve().parents[1]


def test_environment_names_python_numpy_blas_cpu_version_and_commit():
    env = report.environment(ROOT)
    for key in ("date", "python", "platform", "cpu", "cpu_count", "numpy", "blas", "opsense", "git"):
        assert env[key], key
    assert env["opsense"] == ms.__version__ and env["blas"]["name"]
    assert re.fullmatch(r"[0-9a-f]{40}|unknown", env["git"]["commit"])
    rows = dict(report.environment_rows(env))
    assert {"Python", "NumPy", "BLAS", "CPU", "opsense", "git commit"} <= set(rows)
    json.dumps(env)  # the record is JSON


def _claims_table():
    claims = [ms.claim_between("t.a", "a | b", 0.123456, 0, 1, tolerance="tol <1>"),
              ms.claim_true("t.b", "ordered", True, measured=True, predicted="yes", tolerance="exact")]
    return ms.check_claims(claims, chapter="t")


def test_committed_claims_are_read_back_from_the_displayed_table():
    table = _claims_table()
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("ms.check_claims(...)")
    cell.outputs = [nbformat.v4.new_output("execute_result", data={"text/html": table._repr_html_(),
                                                                    "text/plain": repr(table)})]
    nb.cells = [nbformat.v4.new_markdown_cell(":::{prf:theorem} Paper B, Theorem 1.3 (informal)\n"
                                              ":label: thm-b\n:nonumber:\n\nText\n:::"), cell]
    claims, error = report.committed_claims(nb)
    assert error == ""
    assert claims == [
        {"id": "t.a", "statement": "a | b", "predicted": "[0, 1]", "measured": "0.123", "tolerance": "tol <1>",
         "holds": True},
        {"id": "t.b", "statement": "ordered", "predicted": "yes", "measured": "yes", "tolerance": "exact",
         "holds": True}]
    assert report.chapter_results(nb) == [report.Result("theorem", "Paper B, Theorem 1.3 (informal)", "thm-b")]


def test_markdown_and_html_reports_end_with_the_summary_line(tmp_path):
    results = [report.ChapterResult("a", [{"id": "a.1", "statement": "s", "predicted": "p", "measured": 1.23456,
                                           "tolerance": "t", "holds": True}], "ok", 2.5),
               report.ChapterResult("b", [], "error", 1.0, error="cell In[3] raised ValueError: x")]
    md = report.to_markdown(results, report.environment(ROOT))
    assert md.rstrip().splitlines()[-1] == "1 claims, 1 hold, 0 fail"
    assert "| a | a.1 | s | p | 1.23 | t | holds |" in md
    assert "1 chapter(s) stopped before checking their claims: b (error)" in md
    paths = report.write_report(tmp_path, results, None, command="test")
    rec = json.loads(paths["json"].read_text())
    assert rec["summary"]["line"] == "1 claims, 1 hold, 0 fail" and rec["chapters"][1]["status"] == "error"
    assert "1 claims, 1 hold, 0 fail" in paths["html"].read_text()


def test_collect_orders_chapters_like_the_book(tmp_path):
    for name in ("zeta", "alpha"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "claims.json").write_text(json.dumps(
            {"chapter": name, "claims": [{"id": f"{name}.1", "statement": "", "predicted": "", "measured": 1.0,
                                          "tolerance": "", "holds": name == "alpha"}]}))
    got = report.collect(tmp_path, order=["zeta", "alpha"])
    assert [r.chapter for r in got] == ["zeta", "alpha"]
    assert [r.status for r in got] == ["claims failed", "ok"]
    assert report.summary_line(got) == "2 claims, 1 hold, 1 fail"


def test_book_report_reads_every_committed_chapter():
    book = report.BookReport(ROOT)
    names = [c.name for c in discover(ROOT) if c.in_toc]
    assert [r.chapter for r in book.results] == names
    for r in book.results:
        assert r.claims, f"{r.chapter}: no claims table found in the committed notebook"
        assert r.status == "ok", f"{r.chapter}: {r.status} {r.error}"
    assert re.fullmatch(r"\d+ claims, \d+ hold, 0 fail", book.summary)
    html = book.claims_html()
    assert html.count("<tr>") == 1 + sum(len(r.claims) for r in book.results)
    assert book.summary in html


def test_book_report_compares_the_record_with_the_committed_claims(tmp_path):
    book = report.BookReport(ROOT, record_path=tmp_path / "none.json")
    assert book.record is None and "No full re-run has been recorded yet" in book.record_html()
    first = book.results[0]
    chapters = [{"chapter": first.chapter, "status": "ok", "duration_s": 3.25,
                 "claims": [dict(c, measured=c["measured"]) for c in first.claims]}]
    chapters[0]["claims"][0] = dict(chapters[0]["claims"][0], measured="changed")
    rec = {"environment": report.environment(ROOT), "chapters": chapters, "command": "opsense run --all",
           "summary": {"line": "x claims, x hold, 0 fail"}}
    (tmp_path / "rec.json").write_text(json.dumps(rec))
    book = report.BookReport(ROOT, record_path=tmp_path / "rec.json")
    agree = book.agreement()
    assert agree["same"] == len(first.claims) - 1 and len(agree["differ"]) == 1
    assert agree["missing"] == [r.chapter for r in book.results[1:]]
    html = book.record_html()
    assert "3.2 s" in html and "opsense run --all" in html and "NumPy" in html


@pytest.mark.skipif(not (ROOT / report.RECORD_NAME).is_file(), reason="no book/reproduction.json recorded yet")
def test_recorded_reproduction_is_well_formed():
    rec = json.loads((ROOT / report.RECORD_NAME).read_text(encoding="utf-8"))
    assert rec["format"] == "opsense-reproduction-record"
    assert re.fullmatch(r"\d+ claims, \d+ hold, \d+ fail", rec["summary"]["line"])
    assert rec["environment"]["git"]["commit"] and rec["environment"]["numpy"]
    assert all(c["duration_s"] > 0 for c in rec["chapters"])
    text = (ROOT / report.RECORD_NAME).read_text(encoding="utf-8")
    assert "/home/" not in text and "/work/" not in text, "the record must not hold local paths"


def test_result_titles_lose_their_dollar_math():
    from opsense.report import plain_title

    assert plain_title(r"rate $\tfrac{16}{9}\eta\alpha^2$ (derived)") == "rate 16/9·ηα^2 (derived)"
    assert plain_title(r"decays like $1/t$") == "decays like 1/t"
    assert plain_title("Paper B, Theorem 1.3 (informal)") == "Paper B, Theorem 1.3 (informal)"
