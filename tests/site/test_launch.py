"""Launch buttons: every notebook page opens *this* repository's notebook on Binder and Colab."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from bs4 import BeautifulSoup

from sitelib import ROOT, toc_documents

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
REPO = CONFIG["repository"]["url"].rstrip("/")           # https://github.com/OWNER/NAME
# Release builds pin the links to the tag (`make book LAUNCH_REF=vX.Y.Z`; the release workflow
# checks them with OPSENSE_LAUNCH_REF set to the same tag).
BRANCH = os.environ.get("OPSENSE_LAUNCH_REF") or CONFIG["repository"].get("branch", "main")
OWNER_NAME = urlsplit(REPO).path.strip("/")
NOTEBOOKS = [d for d in toc_documents() if (ROOT / f"{d}.ipynb").is_file()]
OTHERS = [d for d in toc_documents() if d not in NOTEBOOKS]


def launch_links(site: Path, doc: str) -> list[str]:
    """The links of the page's "launch" menu (sphinx-book-theme)."""
    soup = BeautifulSoup((site / f"{doc}.html").read_text(encoding="utf-8"), "html.parser")
    return [a["href"] for a in soup.select(".dropdown-launch-buttons a[href]")]


def test_configuration_points_at_this_repository():
    assert REPO == "https://github.com/opsense-companion/opsense"
    buttons = CONFIG["launch_buttons"]
    assert buttons["binderhub_url"] == "https://mybinder.org"
    assert buttons["colab_url"] == "https://colab.research.google.com"
    assert (ROOT / "environment.yml").is_file(), "Binder builds environment.yml at the repository root"


@pytest.mark.parametrize("doc", NOTEBOOKS)
def test_notebook_pages_launch_this_repository(site, doc):
    links = launch_links(site, doc)
    binder = [u for u in links if "mybinder.org" in u]
    colab = [u for u in links if "colab.research.google.com" in u]
    assert len(binder) == 1 and len(colab) == 1, f"{doc}: launch links {links}"
    b = urlsplit(binder[0])
    assert f"{b.scheme}://{b.netloc}{b.path}" == f"https://mybinder.org/v2/gh/{OWNER_NAME}/{BRANCH}", binder[0]
    assert parse_qs(b.query)["urlpath"] == [f"lab/tree/{doc}.ipynb"], binder[0]
    assert colab[0] == f"https://colab.research.google.com/github/{OWNER_NAME}/blob/{BRANCH}/{doc}.ipynb"


@pytest.mark.parametrize("doc", OTHERS)
def test_text_pages_have_no_launch_buttons(site, doc):
    assert launch_links(site, doc) == [], launch_links(site, doc)
