"""The whole book as one PDF (`make pdf`): enough pages, the chapters' text, typeset theorem boxes,
the bibliography and the figures.

`make test` runs this file after `make pdf` when TeX (latexmk, xelatex) is installed, with
OPSENSE_PDF naming the PDF; then a missing PDF is an error. Run on its own, it checks
_build/pdf/site/opsense.pdf and is skipped when TeX or the PDF is missing. Needs poppler's
`pdfinfo`, `pdftotext` and `pdfimages` (Debian: poppler-utils), skipped without them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from opsense.tools import catalog

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "_build" / "pdf" / "site" / "opsense.pdf"
POPPLER = ("pdfinfo", "pdftotext", "pdfimages")


@pytest.fixture(scope="module")
def pdf() -> Path:
    given = os.environ.get("OPSENSE_PDF")
    path = Path(given) if given else DEFAULT
    if not path.is_absolute():
        path = ROOT / path
    missing = [tool for tool in POPPLER if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (Debian: apt-get install poppler-utils)")
    if not path.is_file():
        if given:
            pytest.fail(f"OPSENSE_PDF={given}: no PDF there (run `make pdf`)")
        if shutil.which("latexmk") is None or shutil.which("xelatex") is None:
            pytest.skip("TeX (latexmk, xelatex) is not installed: no PDF to check")
        pytest.skip(f"no PDF at {path.relative_to(ROOT)} (run `make pdf`)")
    return path


@pytest.fixture(scope="module")
def pages(pdf) -> list[str]:
    """The text of each page (pdftotext separates pages by form feeds)."""
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    return [" ".join(p.split()) for p in out.split("\f")]


def test_is_a_whole_book(pdf, pages):
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    count = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    assert count >= 100, f"{count} pages: not the whole book"
    assert len([p for p in pages if p.strip()]) >= 0.9 * count, "most pages have no text"
    assert "opsense" in re.search(r"^Title:\s*(.*)$", info, re.M).group(1)


def test_every_chapter_is_in_it(pages):
    text = " ".join(pages)
    titles = catalog.toc_documents(ROOT)
    assert len(titles) >= 3
    # Each chapter's claims table names its claims "<stem>.<claim>": every chapter's claims are there.
    for doc in titles:
        stem = doc.rsplit("/", 1)[-1]
        if (ROOT / f"{doc}.ipynb").is_file() and (stem.split("_")[0] + ".") in text:
            continue
        if (ROOT / f"{doc}.ipynb").is_file():
            pytest.fail(f"{doc}: none of its claims ({stem.split('_')[0]}.*) in the PDF")


def test_theorem_boxes_are_typeset(pages):
    """sphinx-proof's boxes: numbered titles such as "Definition 4 (Restricted isometry property)"."""
    text = " ".join(pages)
    boxes = re.findall(r"\b(Theorem|Definition|Lemma|Proposition|Corollary)( \d+)? \(", text)
    assert len(boxes) >= 10, f"only {len(boxes)} theorem/definition boxes found"
    assert re.search(r"Definition \d+ \(Restricted isometry property\)", text), "the RIP definition box is missing"
    assert "Proof." in text or "Proof" in text


def test_math_is_typeset_not_raw(pages):
    text = " ".join(pages)
    for raw in ("\\begin{", "\\frac", "$$", "\\mathcal"):
        assert raw not in text, f"raw TeX {raw!r} in the PDF text"
    assert "??" not in text, "unresolved references (??) in the PDF"


def test_bibliography_lists_the_papers(pages):
    assert any("Bibliography" in p for p in pages), "no Bibliography page"
    text = " ".join(pages)
    # The entries as the plain style writes them (authors, then the title).
    assert re.search(r"Changzhi Xie\. Implicit balancing and regularization", text), \
        "paper A's bibliography entry is missing"
    assert re.search(r"Xiong.{0,80}\. How over-parameterization slows down gradient descent", text), \
        "paper B's bibliography entry is missing"


def test_figures_are_embedded(pdf):
    out = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in out.splitlines()[2:] if line.strip()]
    images = [r for r in rows if len(r) > 3 and r[2] == "image"]
    assert len(images) >= 15, f"only {len(images)} images in the PDF"
    assert max(int(r[3]) for r in images) >= 900, "no figure has even 900 px: figures are missing or tiny"
    assert pdf.stat().st_size > 1_000_000
