"""One figure style for the whole book, and small helpers that use it.

:func:`figure` applies the book style (sizes, fonts, grid, colour cycle) and
returns ``(fig, axes)``; :func:`plot_curves` draws a family of curves with
legends that name the varying parameter; :func:`save` writes a figure into a
results folder when one is set (PNG at twice the screen resolution, and PDF).

Readable at the size the book shows a figure: the site shows every figure at most
``DISPLAY_WIDTH`` inches wide (the text column, about 690 CSS pixels), so a wider
figure is scaled down there. :func:`figure` therefore scales the fonts of a figure
wider than that by ``width / DISPLAY_WIDTH``: legends are then at least
``legend.fontsize`` (9 pt) as shown, whatever the figure's width. In a notebook it
also switches the inline backend to ``retina`` (PNG at twice ``figure.dpi``, shown at
its 1x size): sharp on high-density screens and in the PDF. SVG is avoided on
purpose: nbval compares ``image/svg+xml`` outputs as exact strings, PNG not.
"""

from __future__ import annotations

import os

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

__all__ = ["STYLE", "DISPLAY_WIDTH", "PNG_DPI", "figure", "font_scale", "plot_curves", "plot_power_fit",
           "value_ticks", "param_label", "save"]

#: Width in inches at which the site shows a figure at 1:1 (its text column is about
#: 690 CSS px, at ``figure.dpi`` 100); wider figures are scaled down to it.
DISPLAY_WIDTH = 6.8

#: Resolution of the PNG files :func:`save` writes (twice ``figure.dpi``, as the inline
#: ``retina`` format).
PNG_DPI = 200

#: Book style: applied by :func:`figure` (font sizes then scaled for wide figures).
STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": PNG_DPI,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9.5,
    "ytick.labelsize": 9.5,
    "legend.fontsize": 9,
    "legend.title_fontsize": 9.5,
    "figure.titlesize": 12,
    "legend.frameon": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.6,
    "axes.prop_cycle": mpl.cycler(color=["#1f4e79", "#c0504d", "#4f9d69", "#e39b2d", "#7b5ea7",
                                         "#3fa7b5", "#8c564b", "#d16ba5"]),
}

_FONT_KEYS = ("font.size", "axes.titlesize", "axes.labelsize", "xtick.labelsize", "ytick.labelsize",
              "legend.fontsize", "legend.title_fontsize", "figure.titlesize")
_retina_done = False


def _inline_retina() -> None:
    """In an IPython kernel with the inline backend: show figures as 2x PNG ("retina")."""
    global _retina_done
    if _retina_done:
        return
    _retina_done = True
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is there whenever a kernel is
        return
    if get_ipython() is None or "inline" not in str(mpl.get_backend()):
        return
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    set_matplotlib_formats("retina")


def font_scale(width: float) -> float:
    """Factor by which :func:`figure` scales the book's font sizes.

    Parameters
    ----------
    width : float
        Width of the figure in inches.

    Returns
    -------
    float
        1 up to ``DISPLAY_WIDTH``, ``width / DISPLAY_WIDTH`` beyond, so that the text
        keeps its size once the site scales the figure down to its column.
    """
    return max(1.0, float(width) / DISPLAY_WIDTH)


_SYMBOLS = {"alpha": "α", "eta": "η", "mu": "μ", "sigma": "σ", "kappa": "κ", "delta": "δ"}


def figure(ncols: int = 1, nrows: int = 1, *, width: float = 6.4, height: float = 3.6, **kwargs):
    """A new figure in the book style.

    Parameters
    ----------
    ncols, nrows : int
        Grid of axes.
    width, height : float, keyword-only
        Size in inches of the whole figure.
    **kwargs
        Passed to ``matplotlib.pyplot.subplots``.

    Returns
    -------
    fig, axes
        ``axes`` is one Axes or an array of them, as from ``subplots``.
    """
    if not (isinstance(ncols, int) and ncols >= 1 and isinstance(nrows, int) and nrows >= 1):
        raise ValueError(f"ncols and nrows must be integers >= 1, got {ncols!r}, {nrows!r}")
    if not (width > 0 and height > 0):
        raise ValueError(f"width and height must be > 0, got {width!r}, {height!r}")
    scale = font_scale(width)
    mpl.rcParams.update(STYLE)
    mpl.rcParams.update({key: STYLE[key] * scale for key in _FONT_KEYS})
    _inline_retina()
    return plt.subplots(nrows, ncols, figsize=(width, height), layout="constrained", **kwargs)


def param_label(name: str, value, *, fmt: str = "g") -> str:
    """Legend text such as ``"α = 0.001"`` or ``"k = 4"``.

    Parameters
    ----------
    name : str
        Parameter name (``alpha``, ``eta``, ``k``... become Greek letters where they have one).
    value : number
    fmt : str, keyword-only
    """
    sym = _SYMBOLS.get(name, name)
    return f"{sym} = {value:{fmt}}" if isinstance(value, (int, float, np.number)) else f"{sym} = {value}"


def plot_curves(ax, t, curves, labels, *, logy: bool = True, logx: bool = False,
                xlabel: str = "iteration t", ylabel: str = "", title: str | None = None, **kwargs):
    """Plot one curve per row of ``curves`` against ``t`` with labelled axes.

    Parameters
    ----------
    ax : matplotlib Axes
    t : array (T,)
    curves : array (B, T)
    labels : sequence of B str
        Legend entries (use :func:`param_label`).
    logy, logx : bool, keyword-only
        Log scales (rates are shown on a log y axis).
    xlabel, ylabel, title : str, keyword-only
    **kwargs
        Passed to ``ax.plot``.
    """
    curves = np.atleast_2d(np.asarray(curves, dtype=float))
    t = np.asarray(t, dtype=float)
    if curves.shape[1] != t.shape[0] or len(labels) != curves.shape[0]:
        raise ValueError(f"curves must have shape (len(labels), len(t)) = ({len(labels)}, {t.shape[0]}), "
                         f"got {curves.shape}")
    for row, lab in zip(curves, labels):
        ax.plot(t, row, label=lab, **kwargs)
    if logy:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend()
    return ax


def plot_power_fit(ax, x, fit, fmt: str = "k:", *, label: str | None = None, **kwargs):
    """Draw the fitted power law ``exp(intercept) * x**slope`` of a log-log :class:`~opsense.Fit`.

    Parameters
    ----------
    ax : matplotlib Axes
    x : array (P,)
        Abscissae (positive) at which to draw the line.
    fit : Fit
        A fit of ``log y`` against ``log x`` (:func:`opsense.fit_line` on logs, or
        :func:`opsense.fit_power`).
    fmt : str
        Matplotlib format string.
    label : str, keyword-only
        Legend entry; default ``"fit: slope <slope>"``.
    """
    x = np.asarray(x, dtype=float)
    if label is None:
        label = f"fit: slope {fit.slope:.2f}"
    return ax.loglog(x, np.exp(fit.intercept) * x ** fit.slope, fmt, label=label, **kwargs)


def value_ticks(axis, values, *, fmt: str = "g"):
    """Put one labelled major tick at each of ``values`` on ``axis`` (``ax.xaxis`` or ``ax.yaxis``)
    and hide the minor tick labels of a log scale.

    Parameters
    ----------
    axis : matplotlib Axis
    values : sequence of float
    fmt : str, keyword-only
        Format of the labels.
    """
    from matplotlib.ticker import NullFormatter

    values = list(values)
    axis.set_ticks(values, [f"{x:{fmt}}" for x in values])
    axis.set_minor_formatter(NullFormatter())


def save(fig, name: str, results_dir) -> str | None:
    """Save ``fig`` as ``results_dir/name.png`` (at ``PNG_DPI``) and ``results_dir/name.pdf``
    (vector) if ``results_dir`` is set; return the path of the PNG.

    Parameters
    ----------
    fig : matplotlib Figure
    name : str
        File name without extension.
    results_dir : str or None
        Folder (created if needed); ``None`` saves nothing.
    """
    if results_dir is None:
        return None
    if not isinstance(name, str) or not name or os.sep in name:
        raise ValueError(f"name must be a plain file stem, got {name!r}")
    os.makedirs(results_dir, exist_ok=True)
    stem = os.path.join(os.fspath(results_dir), name)
    fig.savefig(f"{stem}.png", dpi=PNG_DPI, bbox_inches="tight")
    fig.savefig(f"{stem}.pdf", bbox_inches="tight")
    return f"{stem}.png"
