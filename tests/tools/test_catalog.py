"""The catalog: chapters from _toc.yml, parameters from papermill, values checked by the chapter module."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill
import pytest

from opsense.tools import catalog as chapters
from opsense.tools.catalog import ParameterError, parse_value

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = chapters.discover(ROOT)
NAMES = [c.name for c in CHAPTERS]


# ----------------------------------------------------------------------------- discovery
def test_chapters_follow_the_toc_and_are_notebooks_with_claims():
    toc = [d for d in chapters.toc_documents(ROOT) if (ROOT / f"{d}.ipynb").is_file()]
    in_toc = [c.name for c in CHAPTERS if c.in_toc]
    assert in_toc, "no chapter found"
    assert in_toc == [Path(d).name for d in toc if chapters.load_chapter(ROOT / f"{d}.ipynb") is not None]
    assert "report" not in NAMES  # the report page is not a chapter


@pytest.mark.parametrize("chapter", CHAPTERS, ids=NAMES)
def test_parameters_agree_with_papermill(chapter):
    """The parameters are papermill's own reading of the cell, each with a type and a help comment."""
    expected = papermill.inspect_notebook(str(chapter.path))
    assert [p.name for p in chapter.parameters] == list(expected)
    for p in chapter.parameters:
        assert p.type and p.help, f"{chapter.name}.{p.name}: no type or help comment"
    assert {"preset", "seed", "results_dir"} <= {p.name for p in chapter.parameters}


@pytest.mark.parametrize("chapter", CHAPTERS, ids=NAMES)
def test_parameters_are_the_presets_keys_and_both_presets_pass_the_check(chapter):
    """Every parameter except preset and results_dir is a key of every preset, and vice versa;
    each preset, as given, passes the chapter's own check (no kernel)."""
    import opsense as ops

    names = {p.name for p in chapter.parameters} - {"preset", "results_dir"}
    assert set(chapter.presets) == {"book", "paper"}
    for preset, values in chapter.presets.items():
        assert set(values) == names, f"{chapter.name}: preset {preset} keys differ from the parameters cell"
        assert ops.configure(chapter.module, preset).preset == preset
        assert chapter.validate({"preset": preset}) == {"preset": preset}


def test_a_notebook_with_parameters_but_no_module_is_refused(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x: int = 1  # x")
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell]
    nbformat.write(nb, tmp_path / "no_such_chapter_zz.ipynb")
    with pytest.raises(ParameterError, match="no chapter module opsense.chapters.no_such_chapter_zz"):
        chapters.load_chapter(tmp_path / "no_such_chapter_zz.ipynb")
    plain = nbformat.v4.new_notebook()
    nbformat.write(plain, tmp_path / "notes.ipynb")
    assert chapters.load_chapter(tmp_path / "notes.ipynb") is None


@pytest.mark.parametrize("text, value", [
    ("20", 20), ("1e-3", 0.001), ("-2.5", -2.5), ("[0.1, 0.05]", [0.1, 0.05]), ("None", None),
    ("True", True), ("'paper'", "paper"), ("paper", "paper"), ("1,2", (1, 2)), ("a b", "a b")])
def test_parse_value_like_papermill(text, value):
    assert parse_value(text) == value


@pytest.mark.parametrize("ann, text, expected", [
    ("int", "3", 3), ("float", "3", 3.0), ("Optional[int]", "None", None), ("Optional[int]", "none", None),
    ("bool", "true", True), ("bool", "False", False), ("Optional[list]", "1,2", [1, 2]),
    ("Optional[str]", "123", "123"), ("str", "paper", "paper"), ("float", "inf", float("inf"))])
def test_values_are_converted_to_the_declared_type(ann, text, expected):
    p = chapters.Parameter("x", ann, None, "None", "")
    assert chapters._check_kind(p, parse_value(text), text) == expected


@pytest.mark.parametrize("ann, text", [
    ("int", "2.5"), ("int", "True"), ("int", "abc"), ("Optional[int]", "[1]"), ("Optional[list]", "0.1"),
    ("float", "x"), ("bool", "1"), ("list", "None")])
def test_values_of_the_wrong_type_are_refused(ann, text):
    p = chapters.Parameter("x", ann, None, "None", "")
    with pytest.raises(ParameterError, match=r"parameter x \(.*\) must be"):
        chapters._check_kind(p, parse_value(text), text)


