"""Re-executing chapters in place (make execute): papermill metadata stripped, this interpreter's kernel."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from opsense.tools import execute


def _notebook(tmp_path, *cells, tags=None):
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    if tags:
        nb.cells[0].metadata["tags"] = tags
    nb.metadata["papermill"] = {"parameters": {}}
    nb.cells[0].metadata["papermill"] = {"duration": 1.0}
    path = tmp_path / "chapter.ipynb"
    nbformat.write(nb, path)
    return path


def test_execute_in_place_strips_papermill_and_uses_notebook_folder(tmp_path):
    path = _notebook(tmp_path, "import os, sys\nprint(os.getcwd())\nprint(sys.executable)")
    execute.execute(path)
    nb = nbformat.read(path, as_version=4)
    out = nb.cells[0].outputs[0]["text"].split("\n")
    assert out[0] == str(tmp_path.resolve())
    import sys
    assert out[1] == sys.executable
    assert "papermill" not in nb.metadata and "papermill" not in nb.cells[0].metadata
    assert "execution" not in nb.cells[0].metadata and nb.cells[0].execution_count == 1


def test_execute_refuses_papermill_output_and_bad_paths(tmp_path):
    path = _notebook(tmp_path, "x = 1", tags=["injected-parameters"])
    with pytest.raises(ValueError, match="injected-parameters"):
        execute.execute(path)
    with pytest.raises(ValueError, match="path"):
        execute.execute(tmp_path / "missing.ipynb")
    (tmp_path / "notes.md").write_text("# not a notebook")
    with pytest.raises(ValueError, match="path"):
        execute.execute(tmp_path / "notes.md")
    with pytest.raises(SystemExit):
        execute.main([str(tmp_path / "notes.md")])

