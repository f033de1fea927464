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


def test_book_helpers_round_time_and_tabulate():
    from dataclasses import dataclass

    from opsense import book

    assert book.rounded(0.123456, 2) == 0.12 and isinstance(book.rounded(np.float64(3.14159)), float)
    assert book.rounded(7) == 7 and book.rounded("x") == "x"
    with pytest.raises(ValueError, match="number or a string"):
        book.rounded([1.0])

    @dataclass
    class Exp:
        seconds: float

    assert book.timing(Exp(1.25), Exp(2.0)) == "run time of the chapter's computations: 3.2 s"
    with pytest.raises(ValueError, match="seconds"):
        book.timing(object())
    table = book.presets_table({"book": {"n": 20, "k": 3}, "paper": {"n": 50, "k": 5}})
    assert table.splitlines()[0].split() == ["parameter", "book", "paper"] and "50" in table
    with pytest.raises(ValueError, match="presets"):
        book.presets_table({})


def test_positive_values_names_the_argument():
    from opsense import _validate as v

    assert v.positive_values("sigma", [1, 0.5], size=2) == [1.0, 0.5]
    for kwargs, match in [(dict(value=[1.0], size=2), "sigma must hold 2 values"),
                          (dict(value=[1.0, -1.0]), r"sigma\[1\] must be > 0"),
                          (dict(value=[1.0, 1.0], distinct=True), "distinct"),
                          (dict(value=[1.0], least=2), "at least 2")]:
        with pytest.raises(ValueError, match=match):
            v.positive_values("sigma", **kwargs)
