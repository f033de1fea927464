"""The Reproduction report page cannot go stale: a Sphinx build, a changed record or chapter, a rebuild."""

import json
import shutil
from pathlib import Path

import nbformat
import pytest

import json as _json

from opsense.claims import MIME_TYPE
from opsense.tools import report

sphinx_application = pytest.importorskip("sphinx.application")

ROOT = Path(__file__).resolve().parents[2]


def _build(src: Path, out: Path) -> str:
    app = sphinx_application.Sphinx(str(src), str(src), str(out / "html"), str(out / "doctrees"), "html",
                                     status=None, warning=None, freshenv=False)
    app.build()
    return (out / "html" / "index.html").read_text(encoding="utf-8")


@pytest.fixture()
def book(tmp_path):
    """A one-chapter book (the committed rip chapter), a record of it, and a Sphinx project showing both."""
    root = tmp_path / "book-root"
    (root / "book").mkdir(parents=True)
    shutil.copy(ROOT / "book" / "rip.ipynb", root / "book" / "rip.ipynb")
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: book/rip\n")
    src = tmp_path / "site"
    src.mkdir()
    (src / "conf.py").write_text(f"extensions = ['opsense.tools.sphinxext']\nopsense_book_root = {str(root)!r}\n")
    (src / "index.rst").write_text("Report\n======\n\n.. opsense-report:: summary\n\n.. opsense-report:: claims\n\n"
                                   ".. opsense-report:: record\n")
    return root, src, tmp_path / "out"


def _record(root: Path, command: str) -> None:
    b = report.BookReport(root, record_path=root / "none.json")
    rec = report.record(b.results, report.environment(ROOT), command=command)
    (root / report.RECORD_NAME).write_text(json.dumps(rec))


def test_the_page_follows_a_changed_record_and_a_changed_chapter(book):
    root, src, out = book
    committed, _ = report.committed_claims(nbformat.read(root / "book" / "rip.ipynb", as_version=4))
    n = len(committed)
    assert all(c.verdict == "holds" for c in committed)
    _record(root, "opsense run --all FIRST-RECORD")
    page = _build(src, out)
    assert "FIRST-RECORD" in page and f"{n} claims: {n} hold, 0 do not reproduce (documented), 0 unexpected" in page
    _record(root, "opsense run --all SECOND-RECORD")
    page = _build(src, out)                        # incremental: only the record changed
    assert "SECOND-RECORD" in page and "FIRST-RECORD" not in page

    nb = nbformat.read(root / "book" / "rip.ipynb", as_version=4)
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            text = (o.get("data") or {}).get(MIME_TYPE)
            if text:
                doc = _json.loads(text)
                doc["claims"][0].update(measured=-0.9, verdict="fails")
                if doc["claims"][0].get("test", "value") != "value":  # an interval claim: move its interval too
                    doc["claims"][0].update(ci_lo=-0.95, ci_hi=-0.85)
                o["data"][MIME_TYPE] = _json.dumps(doc)
    nbformat.write(nb, root / "book" / "rip.ipynb")
    page = _build(src, out)                        # incremental: only the chapter changed
    assert f"{n} claims: {n - 1} hold, 0 do not reproduce (documented), 1 unexpected" in page and "-0.9" in page


def test_an_unknown_part_is_an_error(book, tmp_path):
    root, src, out = book
    (src / "index.rst").write_text("Report\n======\n\n.. opsense-report:: everything\n")
    warnings = tmp_path / "warnings.txt"
    with open(warnings, "w") as fh:
        app = sphinx_application.Sphinx(str(src), str(src), str(out / "html"), str(out / "doctrees"), "html",
                                         status=None, warning=fh)
        app.build()
    assert "opsense-report takes one of summary, counts, claims, record" in warnings.read_text()


def test_the_build_states_its_version_and_commit(tmp_path, monkeypatch):
    import subprocess

    import opsense
    from opsense.tools import sphinxext

    src = tmp_path / "site"
    src.mkdir()
    (src / "conf.py").write_text("extensions = ['opsense.tools.sphinxext']\n")
    (src / "index.rst").write_text("Cite\n====\n\n.. opsense-build::\n")
    monkeypatch.setenv("OPSENSE_BUILD_COMMIT", "0123abc")
    html = _build(src, tmp_path / "out")
    assert f"<strong>{opsense.__version__}</strong>" in html and "0123abc" in html
    monkeypatch.delenv("OPSENSE_BUILD_COMMIT")
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    version, commit = sphinxext.build_identity(ROOT)
    assert version == opsense.__version__
    if head.returncode == 0:  # a clone: the real HEAD (possibly with local changes)
        assert commit.startswith(head.stdout.strip())
    assert sphinxext.build_identity(tmp_path)[1].startswith("unknown")  # no git repository there


def test_verdict_badges_and_teaser_come_from_the_committed_chapter(book, tmp_path):
    import nbformat as nbf

    from opsense.tools import sphinxext

    root, src, out = book
    text, cls = sphinxext.verdict_text(root, "rip")
    claims, _ = report.committed_claims(nbf.read(root / "book" / "rip.ipynb", 4))
    assert cls in ("opsense-holds", "opsense-dnr") and str(sum(c.verdict == "holds" for c in claims)) in text
    png = sphinxext.teaser_png(root, "rip", "rip-ratios")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="no cell"):
        sphinxext.teaser_png(root, "rip", "no-such-figure")
    with pytest.raises(ValueError, match="no chapter notebook"):
        sphinxext.verdict_text(root, "nope")
    (src / "index.rst").write_text("Intro\n=====\n\nRIP: :opsense-verdict:`rip`\n\n"
                                   ".. opsense-teaser:: rip rip-ratios\n\n   The isometry.\n")
    html = _build(src, out)
    assert f'class="opsense-verdict {cls}">{text}<' in html
    assert '<figure class="opsense-teaser"><img src="data:image/png;base64,' in html and "The isometry." in html
