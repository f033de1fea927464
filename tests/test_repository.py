"""Consistency of the repository: pins, environment files, citation metadata, chapters."""

import re
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


def _lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements-lock.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_every_pin_of_pyproject_is_in_the_lock():
    """After changing pyproject.toml run `make lock`; this test says what is out of date."""
    project = PYPROJECT["project"]
    reqs = list(project["dependencies"])
    for extra in ("book", "test"):
        reqs += project["optional-dependencies"][extra]
    lock = _lock()
    stale = []
    for req in reqs:
        name, _, version = req.partition("==")
        key = re.sub(r"[-_.]+", "-", name.split("[")[0].strip()).lower()
        if lock.get(key) != version.strip():
            stale.append(f"{req} (lock: {lock.get(key)})")
    assert not stale, f"requirements-lock.txt is out of date, run `make lock`: {stale}"


def test_environment_yml_installs_the_lock():
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert "-r requirements-lock.txt" in pip and "-e ." in pip


def test_citation_version_matches_the_package():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["type"] == "software" and "preferred-citation" not in cff
    assert str(cff["version"]) == PYPROJECT["project"]["version"]
    dois = {str(ref.get("doi")) for ref in cff["references"]}
    assert {"10.1109/TIT.2025.3530335", "10.48550/arXiv.2310.01769"} <= dois


def _toc_files() -> set[str]:
    text = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    return set(re.findall(r"(?:file|root):\s*(\S+)", text))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_is_committed_executed_and_listed(path):
    """nbval compares only cells that were executed, so every chapter must be committed
    executed, top to bottom, without papermill traces, with one parameters cell."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    counts = [c.execution_count for c in code]
    assert None not in counts, f"{path.name}: cells not executed; run `make execute NB=book/{path.name}`"
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: not executed top to bottom: {counts}"
    assert not any(o.output_type == "error" for c in code for o in c.outputs), f"{path.name}: error output"
    assert "papermill" not in nb.metadata, f"{path.name}: papermill metadata (never run papermill over book/)"
    tags = [c.metadata.get("tags", []) for c in code]
    assert not any("injected-parameters" in t for t in tags), f"{path.name}: papermill's injected cell"
    assert sum("parameters" in t for t in tags) == 1, f"{path.name}: needs exactly one cell tagged parameters"
    assert f"book/{path.stem}" in _toc_files(), f"{path.name} is not listed in _toc.yml"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_installs_itself_on_colab(path):
    """The Colab launch button opens a bare runtime: a chapter's first cell installs this
    repository's package there (and does nothing elsewhere); the site hides the cell."""
    nb = nbformat.read(path, as_version=4)
    if not any("check_claims(" in c.source for c in nb.cells):
        pytest.skip(f"{path.name} is not an experiment chapter (no claims): it reads the repository's files")
    first = nb.cells[0]
    repo = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["repository"]["url"]
    assert first.cell_type == "code" and 'if "google.colab" in sys.modules:' in first.source, (
        f"{path.name}: the first cell must be the Colab install cell (see CONTRIBUTING.md)")
    assert f"opsense[book] @ git+{repo.rstrip('/')}" in first.source, f"{path.name}: installs another repository"
    assert "remove-cell" in first.metadata.get("tags", []), f"{path.name}: the Colab cell must be tagged remove-cell"
