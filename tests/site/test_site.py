"""Checks of the built HTML site (run by `make test` after the clean build).

Parametrized over the documents of _toc.yml, so a new chapter is checked as
soon as it is listed there.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from bs4 import BeautifulSoup

from sitelib import toc_documents

DOCS = toc_documents()
_SOUPS: dict[Path, BeautifulSoup] = {}


def soup_of(path: Path) -> BeautifulSoup:
    if path not in _SOUPS:
        _SOUPS[path] = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
    return _SOUPS[path]


def page(site: Path, doc: str) -> Path:
    path = site / f"{doc}.html"
    assert path.is_file(), f"{doc} is in _toc.yml but {path.relative_to(site)} was not built"
    return path


def article(soup: BeautifulSoup):
    """The page's own content (without navigation and footer)."""
    return soup.find("article") or soup.find("main") or soup.body


def test_toc_is_not_empty():
    assert DOCS[0] == "book/intro" and len(DOCS) >= 3, DOCS


@pytest.mark.parametrize("doc", DOCS)
def test_page_exists_and_has_title(site, doc):
    soup = soup_of(page(site, doc))
    h1 = article(soup).find("h1")
    assert h1 is not None and h1.get_text(strip=True), f"{doc}: no <h1> title"


@pytest.mark.parametrize("doc", DOCS)
def test_no_error_or_traceback_output(site, doc):
    soup = soup_of(page(site, doc))
    bad = soup.select("div.output.error, div.output.traceback, div.output.stderr, .cell_output .traceback")
    assert not bad, f"{doc}: {len(bad)} error/traceback/stderr output(s), first: {bad[0].get_text()[:300]!r}"
    text = article(soup).get_text(" ")
    for marker in ("Traceback (most recent call last)", "Error executing", "ExecutionError"):
        assert marker not in text, f"{doc}: page shows {marker!r}"


@pytest.mark.parametrize("doc", DOCS)
def test_prose_shows_no_numpy_reprs(site, doc):
    """Glued numbers read as numbers: ``glue(name, round(x, 2))`` of a NumPy scalar would show
    ``np.float64(0.53)`` in the text; chapters glue ``float(...)`` (code cells are not checked)."""
    soup = soup_of(page(site, doc))
    for code in soup.select("div.cell_input, pre, code"):
        code.decompose()
    text = article(soup).get_text(" ")
    found = re.findall(r"np\.(?:float|int|uint|bool_|str_)\w*\([^)]*\)", text)
    assert not found, f"{doc}: the prose shows NumPy reprs {found[:5]} (glue float(...) instead)"


@pytest.mark.parametrize("doc", DOCS)
def test_cross_references_resolved(site, doc):
    body = article(soup_of(page(site, doc)))
    # Sphinx renders a reference it could not resolve as a bare span.xref, not a link.
    loose = [x for x in body.select(".xref") if x.find_parent("a") is None]
    assert not loose, f"{doc}: unresolved references: {[x.get_text() for x in loose][:10]}"
    for el in body.find_all(string=True):
        if el.find_parent(["pre", "code", "script", "style"]) is None:
            assert "??" not in el, f"{doc}: unresolved number '??' in {el.strip()[:120]!r}"


@pytest.mark.parametrize("doc", DOCS)
def test_internal_links_and_anchors(site, doc):
    path = page(site, doc)
    missing = []
    for a in soup_of(path).find_all("a", href=True):
        href = a["href"]
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or href.startswith(("mailto:", "javascript:")):
            continue
        target = path if not parts.path else (path.parent / unquote(parts.path)).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            missing.append(href)
            continue
        if parts.fragment and target.suffix == ".html":
            frag = unquote(parts.fragment)
            if soup_of(target).find(id=frag) is None and soup_of(target).find(attrs={"name": frag}) is None:
                missing.append(href)
    assert not missing, f"{doc}: broken internal links: {sorted(set(missing))}"


@pytest.mark.parametrize("doc", DOCS)
def test_math_is_served_locally(site, doc):
    soup = soup_of(page(site, doc))
    scripts = [s.get("src", "") for s in soup.find_all("script")]
    remote = [s for s in scripts if "mathjax" in s.lower() and urlsplit(s).scheme]
    assert not remote, f"{doc}: MathJax loaded from the network: {remote}"
    if soup.select(".math"):
        local = [s for s in scripts if urlsplit(s).path.endswith("_static/mathjax/tex-mml-chtml.js")]
        assert local, f"{doc}: has math but does not load _static/mathjax/tex-mml-chtml.js"


def test_mathjax_files_present(site):
    js = site / "_static" / "mathjax" / "tex-mml-chtml.js"
    fonts = list((site / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    assert js.is_file() and js.stat().st_size > 500_000, "MathJax bundle missing from _static/mathjax"
    assert len(fonts) >= 20, f"MathJax fonts missing ({len(fonts)} found)"


def test_book_metadata_replaces_jupyter_book_defaults(site):
    html = "\n".join(p.read_text(encoding="utf-8") for p in site.rglob("*.html"))
    for leak in ("github.com/executablebooks", "binder-examples",
                 "My Jupyter Book", "The Jupyter Book community"):
        assert leak not in html, f"a Jupyter Book default leaks into the site: {leak!r}"
    root = soup_of(page(site, DOCS[0]))
    assert "opsense" in root.title.get_text()
    assert "github.com/opsense-companion/opsense" in html
    footer = " ".join(f.get_text(" ") for f in root.select("footer"))
    assert "2026" in footer and "The opsense companion authors" in footer, footer[:300]


def test_bibliography_lists_both_papers(site):
    text = soup_of(page(site, "book/bibliography")).get_text(" ")
    for doi in ("10.1109/TIT.2025.3530335", "10.48550/arXiv.2310.01769"):
        assert doi in text, f"bibliography misses DOI {doi}"


def test_linkchecker_internal_links(site):
    """`linkchecker` (internal links only). As root it drops to user nobody, who must
    be able to read the site, so it checks a world-readable copy."""
    exe = shutil.which("linkchecker") or str(Path(sys.executable).with_name("linkchecker"))
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        copy = Path(tmp) / "html"
        shutil.copytree(site, copy)
        for p in [copy, *copy.rglob("*")]:
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        proc = subprocess.run([exe, "--no-status", "--no-warnings", str(copy / "index.html")],
                              capture_output=True, text=True, cwd=tmp, timeout=300)
    assert proc.returncode == 0, f"linkchecker found broken links:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"


def test_footer_names_the_build_and_links_the_licences(site):
    """The footer says which version and commit the site was built from (the Makefile fills it
    in) and links both licence files."""
    # A fresh parse: another test removes the <code> elements from the cached soups.
    root = BeautifulSoup(page(site, DOCS[0]).read_text(encoding="utf-8"), "html.parser")
    footer = root.select_one(".extra_footer")
    assert footer is not None, "no extra_footer on the root page"
    build = footer.select_one(".opsense-build")
    assert build is not None, "the footer does not name the build (built without the Makefile?)"
    text = build.get_text(" ", strip=True)
    assert re.search(r"opsense \d+\.\d+\.\d+", text), text
    assert re.search(r"commit [0-9a-f]{7,12}|commit unknown", text), text
    links = {a.get_text(" ", strip=True): a["href"] for a in footer.find_all("a", href=True)}
    for name, target in (("MIT licence", "LICENSE"), ("CC BY 4.0", "LICENSE-TEXT")):
        assert name in links and links[name].endswith("/" + target), f"footer: {name} not linked to {target}: {links}"


def test_pdf_is_linked_when_built(site):
    """With TeX (`make test` sets OPSENSE_EXPECT_PDF), `make pdf` runs first and every page's
    sidebar links the copy of the PDF in the site root; without it no page links a PDF."""
    pdf = site / "opsense.pdf"
    expected = os.environ.get("OPSENSE_EXPECT_PDF") == "1"
    if expected:
        assert pdf.is_file() and pdf.read_bytes()[:5] == b"%PDF-", "the site has no opsense.pdf (make pdf first)"
    for doc in DOCS:
        path = page(site, doc)
        links = [a["href"] for a in soup_of(path).select(".opsense-pdf-download a[href]")]
        if pdf.is_file():
            assert len(links) == 1, f"{doc}: PDF links {links}"
            assert (path.parent / links[0]).resolve() == pdf.resolve(), f"{doc}: {links[0]} is not the PDF"
        else:
            assert not links, f"{doc}: links a PDF that the site does not have: {links}"
