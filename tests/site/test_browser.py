"""The built site in a real browser (headless Debian `chromium`): after the page's JavaScript ran,
every page shows typeset math (MathJax, served by the site), every chapter shows its figures, no
page shows a traceback or logs an uncaught error or a missing file. A screenshot of each page is
saved to _build/screenshots/ (look at them after `make test`).

Skipped, with the reason in pytest's summary, when no `chromium` is installed
(Debian/Ubuntu: `apt-get install chromium`; `.ci/run` installs it when it can).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest
from bs4 import BeautifulSoup

from sitelib import ROOT, toc_documents

DOCS = toc_documents()
SCREENSHOTS = ROOT / "_build" / "screenshots"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# sphinx-thebe emits its config script twice on every page (harmless, see the toolchain notes).
ALLOWED_CONSOLE = ("Identifier 'THEBE_JS_URL' has already been declared",)


def _browser() -> str | None:
    given = os.environ.get("OPSENSE_CHROMIUM")
    if given:
        return given
    return next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)


@dataclass
class Rendered:
    dom: BeautifulSoup
    console: list[str]
    screenshot: Path
    returncode: int


def _render(browser: str, page: Path, shot: Path) -> Rendered:
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
             f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
             "--window-size=1280,1600", "--virtual-time-budget=8000", "--hide-scrollbars",
             f"--screenshot={shot}", "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=180)
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line or "net::ERR_" in line]
    return Rendered(BeautifulSoup(proc.stdout, "html.parser"), console, shot, proc.returncode)


@pytest.fixture(scope="session")
def rendered(site) -> dict[str, Rendered]:
    browser = _browser()
    if browser is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium): browser checks skipped")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    jobs = {doc: (site / f"{doc}.html", SCREENSHOTS / f"{doc.replace('/', '__')}.png") for doc in DOCS}
    for _, shot in jobs.values():
        shot.unlink(missing_ok=True)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {doc: pool.submit(_render, browser, page, shot) for doc, (page, shot) in jobs.items()}
        return {doc: f.result() for doc, f in futures.items()}


def _article(soup: BeautifulSoup):
    return soup.find("article") or soup.find("main") or soup.body or soup


def _notebook_images(doc: str) -> int:
    """Figures a notebook displays (image outputs; glue(..., display=False) outputs are not shown)."""
    path = ROOT / f"{doc}.ipynb"
    if not path.is_file():
        return 0
    nb = nbformat.read(path, as_version=4)
    return sum(1 for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
               if o.get("output_type") in ("display_data", "execute_result")
               and any(k.startswith("image/") for k in o.get("data", {})))


def _is_chapter(doc: str) -> bool:
    path = ROOT / f"{doc}.ipynb"
    if not path.is_file():
        return False
    nb = nbformat.read(path, as_version=4)
    return any("parameters" in c.metadata.get("tags", []) for c in nb.cells) and \
        any(c.cell_type == "code" and "evaluate_claims(" in c.source for c in nb.cells)


@pytest.mark.parametrize("doc", DOCS)
def test_page_renders_without_errors(rendered, doc):
    r = rendered[doc]
    assert r.returncode == 0 and r.dom.find("body") is not None, f"{doc}: the browser failed ({r.returncode})"
    body = _article(r.dom)
    text = body.get_text(" ")
    assert "Traceback (most recent call last)" not in text, f"{doc}: shows a traceback"
    assert not body.select(".output.error, .output.traceback"), f"{doc}: shows an error output"
    bad = [c for c in r.console if ("Uncaught" in c or "net::ERR_" in c or ":ERROR:CONSOLE" in c)
           and not any(a in c for a in ALLOWED_CONSOLE)]
    assert not bad, f"{doc}: console errors or missing files:\n" + "\n".join(bad[:10])


@pytest.mark.parametrize("doc", DOCS)
def test_math_is_typeset(site, rendered, doc):
    static = BeautifulSoup((site / f"{doc}.html").read_text(encoding="utf-8"), "html.parser")
    formulas = _article(static).select(".math")
    if not formulas:
        return  # nothing to typeset on this page
    dom = _article(rendered[doc].dom)
    typeset = dom.find_all("mjx-container")
    assert len(typeset) > 0, f"{doc}: {len(formulas)} formulas but none typeset by MathJax"
    errors = dom.find_all("mjx-merror")
    assert not errors, f"{doc}: MathJax errors: {[e.get('data-mjx-error') for e in errors][:5]}"
    raw = [m for m in dom.select(".math") if not m.find("mjx-container")]
    assert not raw, f"{doc}: {len(raw)} formulas left as raw TeX, e.g. {raw[0].get_text()[:80]!r}"


@pytest.mark.parametrize("doc", DOCS)
def test_figures_are_shown(site, rendered, doc):
    expected = _notebook_images(doc)
    if _is_chapter(doc):
        assert expected >= 1, f"{doc}: a chapter shows at least one figure"
    page = site / f"{doc}.html"
    imgs = [i for i in _article(rendered[doc].dom).find_all("img") if i.get("src")]
    assert len(imgs) >= expected, f"{doc}: {expected} figures in the notebook, {len(imgs)} <img> on the page"
    for img in imgs:
        src = urlsplit(img["src"])
        if src.scheme in ("", "file"):
            target = Path(unquote(src.path)) if src.scheme == "file" else (page.parent / unquote(src.path))
            assert target.is_file() and target.stat().st_size > 0, f"{doc}: image {img['src']} missing"


@pytest.mark.parametrize("doc", DOCS)
def test_screenshot_saved(rendered, doc):
    shot = rendered[doc].screenshot
    assert shot.is_file() and shot.stat().st_size > 10_000, f"{doc}: no screenshot at {shot}"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
