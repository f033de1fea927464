"""The shared plotting helpers (opsense.plotting) and the shared argument checks."""

import matplotlib

matplotlib.use("Agg")  # tests only; the chapters keep the inline backend

import numpy as np
import pytest

import opsense as ms
from opsense import _validate as v
from opsense import plotting


def test_power_fit_line_passes_through_the_fitted_law():
    x = np.array([1.0, 2.0, 4.0, 8.0])
    fit = ms.fit_line(np.log(x), np.log(3.0 * x**-0.5))
    fig, ax = plotting.figure()
    (line,) = plotting.plot_power_fit(ax, x, fit)
    np.testing.assert_allclose(line.get_ydata(), 3.0 * x**-0.5, rtol=1e-12)
    assert line.get_label() == "fit: slope -0.50"
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    plotting.value_ticks(ax.xaxis, [1, 2, 4, 8])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "4", "8"]
    matplotlib.pyplot.close(fig)


def test_plot_curves_rejects_mismatched_labels():
    fig, ax = plotting.figure()
    with pytest.raises(ValueError, match="curves must have shape"):
        plotting.plot_curves(ax, np.arange(3), np.ones((2, 3)), ["only one"])
    matplotlib.pyplot.close(fig)


def test_problem_and_factor_checks_name_the_argument():
    pr = ms.make_problem(4, 5, 1, 20, seed=0)
    assert v.problem(pr) is pr
    with pytest.raises(ValueError, match="problem must be a opsense Problem"):
        v.problem(np.eye(3))
    with pytest.raises(ValueError, match="PSD target"):
        v.problem(pr, psd=True)
    U, V = v.factor_pair(pr, np.ones((4, 2)), np.ones((5, 2)), names=("F", "G"))
    assert U.dtype == V.dtype == np.float64
    with pytest.raises(ValueError, match=r"F and G must have shapes \(4, k\) and \(5, k\)"):
        v.factor_pair(pr, np.ones((4, 2)), np.ones((5, 3)), names=("F", "G"))
