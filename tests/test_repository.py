"""Consistency of the repository: pins, environment files, citation metadata, chapters, and the
shape of the package (import graph, chapter modules, notebook cells)."""

import ast
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


def test_every_requirement_of_pyproject_is_met_by_the_lock():
    """After changing pyproject.toml run `make lock`; this test says what is out of date. The
    library's own dependencies (and the Colab extra) are ranges, the tools' extras exact pins."""
    from packaging.requirements import Requirement

    project = PYPROJECT["project"]
    extras = project["optional-dependencies"]
    lock = _lock()
    stale = []
    for req in list(project["dependencies"]) + [r for e in extras.values() for r in e]:
        parsed = Requirement(req)
        key = re.sub(r"[-_.]+", "-", parsed.name).lower()
        if key not in lock or not parsed.specifier.contains(lock[key], prereleases=True):
            stale.append(f"{req} (lock: {lock.get(key)})")
    assert not stale, f"requirements-lock.txt is out of date, run `make lock`: {stale}"
    ranged = list(project["dependencies"]) + list(extras["colab"])
    assert not any("==" in r for r in ranged), "the library's dependencies and the Colab extra are ranges, not pins"


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
    stderr = [i for i, c in enumerate(code) for o in c.outputs if o.get("name") == "stderr"]
    assert not stderr, (f"{path.name}: code cells {stderr} print to stderr (a warning on the page, and a "
                        "path that differs on every machine for nbval); fix the cause and re-execute")
    assert "papermill" not in nb.metadata, f"{path.name}: papermill metadata (never run papermill over book/)"
    tags = [c.metadata.get("tags", []) for c in code]
    assert not any("injected-parameters" in t for t in tags), f"{path.name}: papermill's injected cell"
    assert sum("parameters" in t for t in tags) == 1, f"{path.name}: needs exactly one cell tagged parameters"
    assert f"book/{path.stem}" in _toc_files(), f"{path.name} is not listed in _toc.yml"
    title = next((line for c in nb.cells if c.cell_type == "markdown" for line in c.source.splitlines()
                  if line.startswith("# ")), "")
    assert "$" not in title, (f"{path.name}: the title {title!r} has math; it is shown as raw TeX in the "
                              "sidebar of every page that loads no MathJax (write the symbol in Unicode)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_installs_itself_on_colab(path):
    """The Colab launch button opens a bare runtime: a chapter's first cell installs this
    repository's package there (and does nothing elsewhere); the site hides the cell."""
    nb = nbformat.read(path, as_version=4)
    if not any("evaluate_claims(" in c.source for c in nb.cells):
        pytest.skip(f"{path.name} is not an experiment chapter (no claims): it reads the repository's files")
    first = nb.cells[0]
    repo = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["repository"]["url"]
    assert first.cell_type == "code" and 'if "google.colab" in sys.modules:' in first.source, (
        f"{path.name}: the first cell must be the Colab install cell (see CONTRIBUTING.md)")
    branch = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["repository"]["branch"]
    # the colab extra (ranges, not the lock's pins, which would fight Colab's own packages), at the
    # branch the launch buttons open; release builds rewrite both to the tag (release workflow)
    assert f'"opsense[colab] @ git+{repo.rstrip("/")}@{branch}"' in first.source, (
        f"{path.name}: must install opsense[colab] from this repository at {branch}")
    assert "remove-cell" in first.metadata.get("tags", []), f"{path.name}: the Colab cell must be tagged remove-cell"


# ----------------------------------------------------------------------------- the shape of the package
PACKAGE = ROOT / "src" / "opsense"
MODULES = {".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): p
           for p in PACKAGE.rglob("*.py")}
CHAPTER_MODULES = sorted(m for m in MODULES if m.startswith("opsense.chapters.") and m != "opsense.chapters")


def _imports(module: str) -> set[str]:
    """The package modules that ``module`` imports (at any depth of its code, lazy imports included)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            names = ([prefix] if node.module else []) + [f"{prefix}.{a.name}" for a in node.names]
        else:
            continue
        out |= {n for n in names if n in MODULES}
    out.discard(module)
    return out


def _cycle(graph: dict) -> list[str] | None:
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def test_no_import_cycle_inside_the_package():
    """Package __init__ modules re-export downwards only; no module may import one that imports it back."""
    graph = {m: {i for i in _imports(m) if not (MODULES[i].name == "__init__.py" and m.startswith(i + "."))}
             for m in MODULES}
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_layers_import_downwards_only():
    for m in MODULES:
        deps = _imports(m)
        if m.startswith("opsense.engine"):
            bad = {d for d in deps if not (d.startswith("opsense.engine") or d == "opsense._validate")}
            assert not bad, f"{m} (engine) imports {bad}: the engine uses only itself and _validate"
        if m.startswith("opsense.chapters."):
            bad = {d for d in deps if d.startswith("opsense.tools") or (d.startswith("opsense.chapters.") and d != m)}
            assert not bad, f"{m} imports {bad}: a chapter imports the engine and the toolkit only"
        if m in ("opsense._validate",):
            assert not deps, f"{m} imports {deps}: generic checks only"


def test_every_chapter_notebook_has_its_module_and_every_module_its_notebook():
    stems = {p.stem for p in NOTEBOOKS}
    modules = {m.rpartition(".")[2] for m in CHAPTER_MODULES}
    assert stems == modules, f"notebooks without a module: {stems - modules}; modules without a notebook: {modules - stems}"
    for m in CHAPTER_MODULES:
        text = MODULES[m].read_text(encoding="utf-8")
        assert re.search(r"^PRESETS = \{", text, re.M) and re.search(r"^def check\(P\)", text, re.M), (
            f"{m}: needs PRESETS and check(P)")


def _code_imports(source: str) -> set[str]:
    lines = [ln[:len(ln) - len(ln.lstrip())] + "pass" if ln.lstrip().startswith(("%", "!")) else ln
             for ln in source.splitlines()]
    tree = ast.parse("\n".join(lines))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            out |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                    for a in node.names}
    return out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_import_only_the_package_and_their_own_chapter(path):
    nb = nbformat.read(path, as_version=4)
    own = f"opsense.chapters.{path.stem}"
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for name in _code_imports(cell.source):
            if name == "opsense" or not (name == "opsense" or name.startswith("opsense.")):
                continue
            assert name == own, f"{path.name} imports {name}; a chapter imports only opsense and {own}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_code_cells_are_short(path):
    """Every code cell but the parameters cell (declarations, one per line) has at most 15 lines."""
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and "parameters" not in cell.metadata.get("tags", []):
            n = len(cell.source.strip().splitlines())
            assert n <= 15, f"{path.name}, cell {i}: {n} lines (at most 15: move the work into {path.stem}.py)"


def test_the_import_check_sees_a_forbidden_import():
    """The checks above can fail: they flag a notebook cell importing another chapter or a submodule."""
    assert _code_imports("from opsense.chapters import b1_symmetric as ch") == {"opsense.chapters.b1_symmetric"}
    assert _code_imports("from opsense.engine import gd\nimport numpy") == {"opsense.engine.gd", "numpy"}
    assert _code_imports("from opsense import configure, plotting") == {"opsense", "opsense.plotting"}
    assert _cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"] and _cycle({"a": {"b"}, "b": set()}) is None


def _public_functions():
    import importlib
    import inspect

    for name in sorted(MODULES):
        if name.endswith("__main__"):
            continue
        mod = importlib.import_module(name)
        for attr in getattr(mod, "__all__", []):
            obj = getattr(mod, attr, None)
            if inspect.isfunction(obj) and obj.__module__ == name:
                yield f"{name}.{attr}", obj


def test_every_public_function_documents_its_parameters():
    """numpydoc: every public function with parameters has a Parameters section."""
    import inspect

    missing = []
    for qual, fn in _public_functions():
        params = [p for p in inspect.signature(fn).parameters.values() if p.name not in ("self", "cls")]
        doc = inspect.getdoc(fn) or ""
        if params and not re.search(r"^Parameters\n-{10}", doc, re.M):
            missing.append(qual)
    assert not missing, f"{len(missing)} public functions without a numpydoc Parameters section: {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_chapter_links_its_sources_and_states_its_regime(path):
    """Each chapter points to its entry on the Sources page and its check(P) states its regime."""
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert f"sources-{path.stem}" in text, f"{path.name}: link the Sources page ({{ref}}`... <sources-{path.stem}>`)"
    assert f"(sources-{path.stem})=" in (ROOT / "book" / "sources.md").read_text(encoding="utf-8")
    module = MODULES[f"opsense.chapters.{path.stem}"].read_text(encoding="utf-8")
    assert "regime(" in module, f"{path.stem}: check(P) must state its regime (opsense.config.regime)"


def test_no_book_page_points_to_private_notes():
    for page in sorted((ROOT / "book").glob("*.md")) + NOTEBOOKS:
        text = page.read_text(encoding="utf-8").lower()
        for phrase in ("our notes", "the notes", "shared/papers"):
            assert phrase not in text, f"{page.name} mentions {phrase!r}: cite the Sources page instead"
