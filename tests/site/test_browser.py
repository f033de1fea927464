"""The built site in a real browser (headless Debian `chromium`): after the page's JavaScript ran,
every page shows typeset math (MathJax, served by the site), every chapter shows its figures, no
page shows a traceback or logs an uncaught error or a missing file. A screenshot of each page is
saved to _build/screenshots/ (look at them after `make test`).

Layout, at a desktop width (1280 px) and a phone width (390 px): the page never scrolls sideways
(document scrollWidth <= clientWidth), no element outside a scroll container is wider than the
viewport, and every scroll container whose content does not fit shows the site's cue. The pages
are loaded from a copy of the site with layout_probe.js added (it writes what it measured into
the DOM); the phone width is a 390 px frame in a wrapper page, since headless Chromium's window
is at least 500 px wide.

Skipped, with the reason in pytest's summary, when no `chromium` is installed
(Debian/Ubuntu: `apt-get install chromium`; `.ci/run` installs it when it can).
"""

from __future__ import annotations

import json
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
PROBE = Path(__file__).with_name("layout_probe.js")
DESKTOP, PHONE = 1280, 390
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
    layout: dict | None  # what layout_probe.js measured (None: it did not report)


def _layout(dom: BeautifulSoup) -> dict | None:
    probe = dom.find(id="opsense-layout-probe")
    return json.loads(probe.string) if probe is not None and probe.string else None


def _render(browser: str, page: Path, shot: Path, width: int = DESKTOP) -> Rendered:
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
             f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
             f"--window-size={max(width, 500)},1600", "--virtual-time-budget=8000", "--hide-scrollbars",
             f"--screenshot={shot}", "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=180)
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line or "net::ERR_" in line]
    dom = BeautifulSoup(proc.stdout, "html.parser")
    return Rendered(dom, console, shot, proc.returncode, _layout(dom))


def _probed_copy(site: Path, tmp: Path) -> Path:
    """A copy of the site in which every page of _toc.yml loads layout_probe.js, and
    book/NAME.phone.html shows book/NAME.html in a PHONE-px frame and keeps the frame's report."""
    copy = tmp / "html"
    shutil.copytree(site, copy)
    shutil.copy(PROBE, copy / "_static" / PROBE.name)
    for doc in DOCS:
        page = copy / f"{doc}.html"
        up = "../" * doc.count("/")
        html = page.read_text(encoding="utf-8")
        page.write_text(html.replace("</body>", f'<script src="{up}_static/{PROBE.name}"></script></body>', 1),
                        encoding="utf-8")
        page.with_name(page.stem + ".phone.html").write_text(
            '<!DOCTYPE html><html><head><meta charset="utf-8"><title>phone</title></head>'
            '<body style="margin:0">'
            f'<iframe src="{page.name}" style="width:{PHONE}px;height:1600px;border:0;display:block"></iframe>'
            '<script>window.addEventListener("message", function (ev) {'
            ' var o = document.getElementById("opsense-layout-probe") || document.createElement("script");'
            ' o.type = "application/json"; o.id = "opsense-layout-probe"; o.textContent = ev.data;'
            ' document.head.appendChild(o); });</script></body></html>', encoding="utf-8")
    return copy


@pytest.fixture(scope="session")
def renders(site, tmp_path_factory) -> dict[tuple[str, int], Rendered]:
    """Every page at DESKTOP (the page itself) and at PHONE width (in its frame)."""
    browser = _browser()
    if browser is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium): browser checks skipped")
    copy = _probed_copy(site, tmp_path_factory.mktemp("probed-site"))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    jobs = {}
    for doc in DOCS:
        name = doc.replace("/", "__")
        jobs[doc, DESKTOP] = (copy / f"{doc}.html", SCREENSHOTS / f"{name}.png")
        jobs[doc, PHONE] = (copy / f"{doc}.phone.html", SCREENSHOTS / f"{name}@{PHONE}px.png")
    for _, shot in jobs.values():
        shot.unlink(missing_ok=True)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {key: pool.submit(_render, browser, page, shot, key[1]) for key, (page, shot) in jobs.items()}
        return {key: f.result() for key, f in futures.items()}


@pytest.fixture(scope="session")
def rendered(renders) -> dict[str, Rendered]:
    """Every page at DESKTOP width."""
    return {doc: r for (doc, width), r in renders.items() if width == DESKTOP}


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


def _describe(offenders: list[dict]) -> str:
    return "\n".join(f"  {o['width']} px wide, right edge at {o['right']} px: {o['el']} ({o['text'][:60]!r})"
                     for o in offenders[:5])


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
@pytest.mark.parametrize("doc", DOCS)
def test_page_fits_the_viewport(renders, doc, width):
    r = renders[doc, width]
    lay = r.layout
    assert lay is not None, f"{doc} at {width} px: the layout probe did not report (page failed to load?)"
    assert lay["width"] == width, f"{doc}: viewport is {lay['width']} px, not {width} px"
    assert lay["scrollWidth"] <= lay["width"], (
        f"{doc} at {width} px scrolls sideways: scrollWidth {lay['scrollWidth']} > {lay['width']}; "
        f"widest elements outside a scroll container:\n{_describe(lay['offenders'])}")
    assert not lay["offenders"], (f"{doc} at {width} px: elements wider than the viewport outside a scroll "
                                  f"container:\n{_describe(lay['offenders'])}")


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
@pytest.mark.parametrize("doc", DOCS)
def test_scroll_containers_show_a_cue(renders, doc, width):
    lay = renders[doc, width].layout
    assert lay is not None, f"{doc} at {width} px: the layout probe did not report"
    bare = [c for c in lay["containers"] if not c["cue"]]
    assert not bare, (f"{doc} at {width} px: {len(bare)} scroll container(s) overflow without the cue "
                      f"(class opsense-overflowing, set by _static/opsense.js), e.g. {bare[0]['el']}")


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
@pytest.mark.parametrize("doc", [d for d in DOCS if _is_chapter(d) or d == "book/report"])
def test_claims_tables_keep_the_verdict_in_view(renders, doc, width):
    """Each claims table (a chapter's, the report's) keeps its verdict column in view without
    scrolling: the report's is the first column, a chapter's the last (sticky at the right edge
    of the table's own scroll box)."""
    lay = renders[doc, width].layout
    assert lay is not None, f"{doc} at {width} px: the layout probe did not report"
    verdicts = lay.get("verdicts", [])
    assert verdicts, f"{doc}: no claims table with a verdict column"
    hidden = [v["table"] for v in verdicts if not v["visible"]]
    assert not hidden, f"{doc} at {width} px: the verdict column is out of view in {hidden[:3]}"


def test_figures_are_shown_at_full_resolution(renders):
    """Figures are PNG at twice the resolution they are shown at (the inline backend's "retina")
    on the chapters executed since opsense.plotting switched to it: at least the figure is never
    shown larger than its pixels."""
    shown = [im for (doc, width), r in renders.items() if width == DESKTOP and r.layout
             for im in r.layout.get("images", []) if im["naturalWidth"]]
    assert shown, "no figures measured"
    blurry = [im for im in shown if im["shownWidth"] > im["naturalWidth"] + 1]
    assert not blurry, f"figures shown wider than their pixels: {blurry[:3]}"
