"""The RIP experiment (opsense.rip) and the in-place executor (opsense._execute)."""

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from opsense import _execute
from opsense.rip import check_parameters, isometry_ratios


def test_shapes_sorting_and_determinism():
    a = isometry_ratios([200, 50], 8, 6, 2, trials=40, seed=3)
    b = isometry_ratios([50, 200], 8, 6, 2, trials=40, seed=3)
    assert a.ratios.shape == (2, 40) and a.trials == 40 and a.shape == (8, 6)
    assert a.m_values.tolist() == [50, 200]
    np.testing.assert_array_equal(a.ratios, b.ratios)
    c = isometry_ratios([50, 200], 8, 6, 2, trials=40, seed=4)
    assert not np.allclose(a.ratios, c.ratios)


def test_chi_square_law_of_the_ratio():
    res = isometry_ratios([30, 120, 480], 10, 12, 2, trials=2000, seed=0)
    # mean 1 (E A*A = I) within 5 standard errors; std sqrt(2/m) within 10 %
    se = np.sqrt(2 / res.m_values * (1 / res.trials + 1 / 120))
    assert np.all(np.abs(res.mean() - 1) <= 5 * se)
    np.testing.assert_allclose(res.std() / res.predicted_std(), 1.0, atol=0.1)
    slope = np.polyfit(np.log(res.m_values), np.log(res.std()), 1)[0]
    assert abs(slope + 0.5) < 0.05
    assert np.all(res.max_deviation() >= np.abs(res.ratios - 1).mean(axis=1))


def test_ratio_is_scale_invariant_rank_one_exact():
    # a rank-1 ratio computed by hand for one operator
    from opsense.operators import SensingOperator
    from opsense.problems import low_rank_target

    res = isometry_ratios([17, 40], 5, 4, 1, trials=10, seed=11)
    ss = np.random.SeedSequence(11).spawn(2)
    op_seed = int(ss[0].generate_state(2)[0])
    x_seed = int(ss[1].generate_state(10)[0])
    X = low_rank_target(5, 4, 1, seed=x_seed).X
    y = SensingOperator.gaussian(17, 5, 4, seed=op_seed).forward(3.0 * X)
    assert res.ratios[0, 0] == pytest.approx(y @ y / (9.0 * np.sum(X * X)), rel=1e-12)


@pytest.mark.parametrize("kwargs, name", [
    (dict(m_values=[10]), "m_values"),
    (dict(m_values=[10, 10]), "m_values"),
    (dict(m_values=[10, 0]), "m_values"),
    (dict(m_values="10,20"), "m_values"),
    (dict(n1=0), "n1"),
    (dict(n2=2.5), "n2"),
    (dict(r=7), "r"),
    (dict(trials=5), "trials"),
    (dict(seed=-1), "seed"),
    (dict(results_dir=3), "results_dir"),
])
def test_check_parameters_names_the_bad_one(kwargs, name):
    good = dict(n1=6, n2=6, r=2, m_values=[10, 20], trials=20, seed=0, results_dir=None)
    with pytest.raises(ValueError, match=name):
        check_parameters(**{**good, **kwargs})
    if name != "results_dir":
        args = {**good, **kwargs}
        args.pop("results_dir")
        with pytest.raises(ValueError, match=name):
            isometry_ratios(args.pop("m_values"), args.pop("n1"), args.pop("n2"), args.pop("r"), **args)


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
    _execute.execute(path)
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
        _execute.execute(path)
    with pytest.raises(ValueError, match="path"):
        _execute.execute(tmp_path / "missing.ipynb")
    (tmp_path / "notes.md").write_text("# not a notebook")
    with pytest.raises(ValueError, match="path"):
        _execute.execute(tmp_path / "notes.md")
    with pytest.raises(SystemExit):
        _execute.main([str(tmp_path / "notes.md")])


def test_plot_ratios_draws_both_panels():
    import matplotlib

    matplotlib.use("Agg")  # tests only; never in a notebook
    import matplotlib.pyplot as plt

    from opsense.analysis import fit_power
    from opsense.rip import plot_ratios

    res = isometry_ratios([20, 80], 6, 6, 1, trials=30, seed=0)
    fig, (ax1, ax2) = plot_ratios(res, fit=fit_power(res.m_values, res.std()))
    assert ax1.get_xlabel() and ax2.get_ylabel() and len(ax2.get_lines()) == 3
    plt.close(fig)
    with pytest.raises(ValueError, match="res"):
        plot_ratios(res.ratios)
