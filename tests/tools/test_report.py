"""Reproduction reports: environment, run folders, the committed chapters' claims, the record."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

import opsense as ops
from opsense.tools import report
from opsense.tools.catalog import discover

ROOT = Path(__file__).resolve().parents[2]


def test_environment_names_python_numpy_blas_cpu_version_and_commit():
    env = report.environment(ROOT)
    for key in ("date", "python", "platform", "cpu", "cpu_count", "numpy", "blas", "opsense", "git"):
        assert env[key], key
    assert env["opsense"] == ops.__version__ and env["blas"]["name"]
    assert re.fullmatch(r"[0-9a-f]{40}|unknown", env["git"]["commit"])
    rows = dict(report.environment_rows(env))
    assert {"Python", "NumPy", "BLAS", "CPU", "opsense", "git commit"} <= set(rows)
    json.dumps(env)  # the record is JSON


def _claims_table():
    claims = [ops.between("t.a", "a | b", 0.123456, 0, 1, basis="theory", tolerance="tol <1>"),
              ops.at_least("t.b", "gap of an ordering", 2.0, 0.0, basis="specification", tolerance="exact")]
    return ops.evaluate_claims(claims, chapter="t")


def test_committed_claims_are_read_back_as_data_not_from_the_html():
    table = _claims_table()
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("ops.evaluate_claims(...)")
    cell.outputs = [nbformat.v4.new_output("execute_result", data=table._repr_mimebundle_())]
    nb.cells = [nbformat.v4.new_markdown_cell(":::{prf:theorem} Paper B, Theorem 1.3 (informal)\n"
                                              ":label: thm-b\n:nonumber:\n\nText\n:::"), cell]
    nb = nbformat.reads(nbformat.writes(nb), as_version=4)       # as stored on disk
    claims, error = report.committed_claims(nb)
    assert error == ""
    assert claims == table.claims and claims[0].measured == 0.123456   # full precision, not "0.123"
    stored = nb.cells[1].outputs[0]["data"]
    stored["text/html"] = "<table class='opsense-claims'>garbage</table>"
    assert report.committed_claims(nb)[0] == table.claims              # the HTML is never read
    del stored[ops.claims.MIME_TYPE]
    assert report.committed_claims(nb) == ([], "no claims in the committed notebook")
    assert report.chapter_results(nb) == [report.Result("theorem", "Paper B, Theorem 1.3 (informal)", "thm-b")]


def test_markdown_and_html_reports_end_with_the_summary_line(tmp_path):
    claim = ops.between("a.1", "s", 1.23456, 0.0, 2.0, basis="theory", tolerance="t")
    dnr = ops.at_most("a.2", "s2", 3.0, 2.0, basis="theory", expected_failure="known reason")
    results = [report.ChapterResult("a", [claim, dnr], "ok", 2.5),
               report.ChapterResult("b", [], "error", 1.0, error="cell In[3] raised ValueError: x")]
    md = report.to_markdown(results, report.environment(ROOT))
    line = "2 claims: 1 hold, 1 do not reproduce (documented), 0 unexpected; 1 chapter(s) did not finish: b"
    assert md.rstrip().splitlines()[-1] == line
    assert "| a | a.1 | s | [0, 2] | 1.23 | theory | holds |" in md
    paths = report.write_report(tmp_path, results, None, command="test")
    rec = json.loads(paths["json"].read_text())
    assert rec["summary"]["line"] == line and rec["chapters"][1]["status"] == "error"
    assert report.read_record(rec)[0].claims == [claim, dnr]
    html = paths["html"].read_text()
    assert line in html and "known reason" in html


def test_collect_orders_chapters_like_the_book(tmp_path):
    for name, m in (("zeta", 2.0), ("alpha", 0.5)):
        (tmp_path / name).mkdir()
        doc = ops.ClaimTable(name, [ops.between(f"{name}.1", "s", m, 0.0, 1.0, basis="theory")]).to_json()
        (tmp_path / name / "claims.json").write_text(json.dumps(doc))
    got = report.collect(tmp_path, order=["zeta", "alpha"])
    assert [r.chapter for r in got] == ["zeta", "alpha"]
    assert [r.status for r in got] == ["claims failed", "ok"]
    assert report.summary_line(got) == "2 claims: 1 hold, 0 do not reproduce (documented), 1 unexpected"


def test_book_report_reads_every_committed_chapter():
    book = report.BookReport(ROOT)
    names = [c.name for c in discover(ROOT) if c.in_toc]
    assert [r.chapter for r in book.results] == names
    for r in book.results:
        assert r.claims, f"{r.chapter}: no claims table found in the committed notebook"
        assert r.status == "ok", f"{r.chapter}: {r.status} {r.error}"
    assert re.fullmatch(r"\d+ claims: \d+ hold, \d+ do not reproduce \(documented\), 0 unexpected", book.summary)
    for r in book.results:
        for c in r.claims:
            assert c.basis in ("theory", "derived-on-page", "specification", "identity")
            assert c.id.startswith(r.chapter.split("_")[0] + "."), c.id
    html = book.claims_html()
    assert html.count("<tr>") == 1 + sum(len(r.claims) for r in book.results)
    assert book.summary in html


def test_book_report_compares_the_record_with_the_committed_claims(tmp_path):
    book = report.BookReport(ROOT, record_path=tmp_path / "none.json")
    assert book.record is None and "No full re-run has been recorded yet" in book.record_html()
    first = book.results[0]
    changed = [first.claims[0].__class__(**{**vars(first.claims[0]), "measured": first.claims[0].measured * 1.5})]
    results = [report.ChapterResult(first.chapter, changed + first.claims[1:], "ok", 3.25)]
    rec = report.record(results, report.environment(ROOT), command="opsense run --all")
    (tmp_path / "rec.json").write_text(json.dumps(rec))
    book = report.BookReport(ROOT, record_path=tmp_path / "rec.json")
    agree = book.agreement()
    assert agree["same"] == len(first.claims) - 1 and len(agree["differ"]) == 1
    assert agree["missing"] == [r.chapter for r in book.results[1:]]
    html = book.record_html()
    assert "3.2 s" in html and "opsense run --all" in html and "NumPy" in html
    (tmp_path / "old.json").write_text(json.dumps({**rec, "version": 1}))
    old = report.BookReport(ROOT, record_path=tmp_path / "old.json")
    assert "re-record it with make reproduce" in old.record_html()
    (tmp_path / "bad.json").write_text("{")
    assert "cannot be read" in report.BookReport(ROOT, record_path=tmp_path / "bad.json").record_html()


@pytest.mark.skipif(not (ROOT / report.RECORD_NAME).is_file(), reason="no book/reproduction.json recorded yet")
def test_recorded_reproduction_is_well_formed():
    rec = json.loads((ROOT / report.RECORD_NAME).read_text(encoding="utf-8"))
    assert rec["format"] == "opsense-reproduction-record" and rec["version"] == report.RECORD_VERSION
    assert report.read_record(rec)
    assert re.fullmatch(r"\d+ claims: \d+ hold, \d+ do not reproduce \(documented\), \d+ unexpected", rec["summary"]["line"])
    assert rec["environment"]["git"]["commit"] and rec["environment"]["numpy"]
    assert all(c["duration_s"] > 0 for c in rec["chapters"])
    text = (ROOT / report.RECORD_NAME).read_text(encoding="utf-8")
    assert "/home/" not in text and "/work/" not in text, "the record must not hold local paths"


def test_result_titles_lose_their_dollar_math():
    from opsense.tools.report import plain_title

    assert plain_title(r"rate $\tfrac{16}{9}\eta\alpha^2$ (derived)") == "rate 16/9·ηα^2 (derived)"
    assert plain_title(r"decays like $1/t$") == "decays like 1/t"
    assert plain_title("Paper B, Theorem 1.3 (informal)") == "Paper B, Theorem 1.3 (informal)"
