"""The shared plotting helpers (opsense.plotting) and the shared argument checks."""

import matplotlib

matplotlib.use("Agg")  # tests only; the chapters keep the inline backend

import numpy as np
import pytest

import opsense as ops
from opsense import plotting


def test_power_fit_line_passes_through_the_fitted_law():
    x = np.array([1.0, 2.0, 4.0, 8.0])
    fit = ops.fit_line(np.log(x), np.log(3.0 * x**-0.5))
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
