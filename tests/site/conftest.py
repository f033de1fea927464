"""Fixtures for the checks of the built HTML site.

`make test` builds the site from clean and runs these tests with
OPSENSE_SITE_DIR pointing at the HTML folder; then a missing folder is an
error. Without the variable they check _build/html (the output of `make book`)
and are skipped when it does not exist.
"""

import os
from pathlib import Path

import pytest

from sitelib import ROOT


@pytest.fixture(scope="session")
def site() -> Path:
    given = os.environ.get("OPSENSE_SITE_DIR")
    path = Path(given) if given else ROOT / "_build" / "html"
    if not path.is_absolute():
        path = ROOT / path
    if not (path / "index.html").is_file():
        if given:
            pytest.fail(f"OPSENSE_SITE_DIR={given}: no index.html there; build the site first")
        pytest.skip("no built site in _build/html (run `make book`, or `make test`)")
    return path
