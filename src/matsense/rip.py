"""The restricted isometry property, seen empirically.

For a Gaussian operator :math:`\\mathcal A` with i.i.d. :math:`\\mathcal N(0,1/m)`
entries and a fixed matrix :math:`X \\ne 0`, the measurements
:math:`\\langle A_i, X\\rangle` are i.i.d. :math:`\\mathcal N(0, \\|X\\|_F^2/m)`, so

.. math::

    \\frac{\\|\\mathcal A(X)\\|_2^2}{\\|X\\|_F^2} \\sim \\frac{\\chi^2_m}{m},
    \\qquad \\text{mean } 1, \\quad \\text{standard deviation } \\sqrt{2/m}.

:func:`isometry_ratios` draws one operator per ``m`` and many random rank-``r``
matrices, and returns these ratios; their spread shrinks like :math:`m^{-1/2}`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _validate as v
from .operators import SensingOperator
from .problems import low_rank_target

__all__ = ["IsometryRatios", "isometry_ratios", "check_parameters", "plot_ratios"]


@dataclass(frozen=True)
class IsometryRatios:
    """Ratios :math:`\\|\\mathcal A(X)\\|_2^2 / \\|X\\|_F^2` for several ``m``.

    Attributes
    ----------
    m_values : ndarray of int, shape (k,)
        Numbers of measurements, increasing.
    ratios : ndarray, shape (k, trials)
        ``ratios[i, j]`` is the ratio of the ``j``-th random matrix under the
        operator drawn for ``m_values[i]``; the same matrices are used for every ``m``.
    shape : tuple of int
        ``(n1, n2)``.
    r : int
        Rank of the random matrices.
    seed : int
        The seed everything was drawn from.
    """

    m_values: np.ndarray
    ratios: np.ndarray
    shape: tuple[int, int]
    r: int
    seed: int

    @property
    def trials(self) -> int:
        """Number of random matrices per ``m``."""
        return self.ratios.shape[1]

    def mean(self) -> np.ndarray:
        """Sample mean of the ratios for each ``m``, shape (k,)."""
        return self.ratios.mean(axis=1)

    def std(self) -> np.ndarray:
        """Sample standard deviation (``ddof=1``) of the ratios for each ``m``, shape (k,)."""
        return self.ratios.std(axis=1, ddof=1)

    def max_deviation(self) -> np.ndarray:
        """``max_j |ratio - 1|`` for each ``m``: a lower bound on the RIP constant of order ``r``."""
        return np.abs(self.ratios - 1.0).max(axis=1)

    def predicted_std(self) -> np.ndarray:
        """Expected spread over random matrices for one operator, ``sqrt(2/m * (1 - 1/(n1*n2)))``."""
        d = self.shape[0] * self.shape[1]
        return np.sqrt(2.0 / self.m_values * (1.0 - 1.0 / d))


def _m_values(m_values) -> np.ndarray:
    ms = v.sweep("m_values", m_values, lambda name, x: v.integer(name, x, minimum=1))
    if len(ms) < 2 or len(set(ms)) != len(ms):
        raise ValueError(f"m_values must hold at least two distinct integers >= 1, got {ms}")
    return np.array(sorted(ms), dtype=np.int64)


def check_parameters(*, n1, n2, r, m_values, trials, seed, results_dir=None) -> None:
    """Validate the parameters of the RIP chapter; raise ValueError naming the first bad one."""
    n1, n2, r = v.shape_rank(n1, n2, r)
    _m_values(m_values)
    v.integer("trials", trials, minimum=10)
    v.integer("seed", seed, minimum=0)
    if results_dir is not None and (not isinstance(results_dir, str) or not results_dir):
        raise ValueError(f"results_dir must be None or a non-empty path string, got {results_dir!r}")


def isometry_ratios(m_values, n1: int, n2: int, r: int, *, trials: int = 500,
                    seed: int = 0) -> IsometryRatios:
    """Empirical distribution of ``||A(X)||^2 / ||X||_F^2`` over random rank-``r`` matrices.

    For each ``m`` one Gaussian operator (i.i.d. ``N(0, 1/m)`` entries, so that
    ``E[A*A] = I``) is drawn; the same ``trials`` random rank-``r`` matrices
    ``X = U V^T`` (Haar-random orthonormal ``U``, ``V``, unit singular values) are
    measured by every operator.

    Parameters
    ----------
    m_values : sequence of int
        At least two distinct numbers of measurements (sorted on output).
    n1, n2 : int
        Shape of the matrices.
    r : int
        Rank of the random matrices, ``1 <= r <= min(n1, n2)``.
    trials : int, keyword-only
        Number of random matrices, ``>= 10``.
    seed : int, keyword-only
        Seed of the operators and of the matrices (independent streams).

    Returns
    -------
    IsometryRatios

    Raises
    ------
    ValueError
        If an argument is out of range; the message names it.

    Examples
    --------
    >>> res = isometry_ratios([50, 200], 10, 10, 2, trials=100, seed=0)
    >>> res.ratios.shape
    (2, 100)
    """
    ms = _m_values(m_values)
    check_parameters(n1=n1, n2=n2, r=r, m_values=ms, trials=trials, seed=seed)
    op_seeds, x_seeds = np.random.SeedSequence(seed).spawn(2)
    op_seeds = op_seeds.generate_state(len(ms))
    x_seeds = x_seeds.generate_state(trials)
    X = np.stack([low_rank_target(n1, n2, r, seed=int(s)).X for s in x_seeds])  # (trials, n1, n2)
    norms2 = np.einsum("tij,tij->t", X, X)
    ratios = np.empty((len(ms), trials))
    for i, (m, s) in enumerate(zip(ms, op_seeds)):
        y = SensingOperator.gaussian(int(m), n1, n2, seed=int(s)).forward(X)  # (trials, m)
        ratios[i] = np.einsum("tm,tm->t", y, y) / norms2
    return IsometryRatios(m_values=ms, ratios=ratios, shape=(int(n1), int(n2)), r=int(r), seed=int(seed))


def plot_ratios(res: IsometryRatios, *, fit=None):
    """The chapter's figure: the ratios per ``m`` (violins) and their spread against ``m``.

    Parameters
    ----------
    res : IsometryRatios
    fit : matsense.analysis.Fit, keyword-only, optional
        Power-law fit of ``res.std()`` against ``res.m_values`` (drawn if given).

    Returns
    -------
    fig, (ax_distribution, ax_spread)
    """
    from .plotting import figure, plot_power_fit, value_ticks

    if not isinstance(res, IsometryRatios):
        raise ValueError(f"res must be an IsometryRatios, got {type(res).__name__}")
    m = res.m_values.astype(float)
    std, pred = res.std(), res.predicted_std()
    fig, (ax1, ax2) = figure(ncols=2, width=9.0, height=3.6)
    pos = np.arange(len(m))
    ax1.violinplot(res.ratios.T, positions=pos, widths=0.8, showextrema=False)
    ax1.plot(pos, 1 + np.sqrt(2 / m), "k--", lw=1, label=r"$1 \pm \sqrt{2/m}$")
    ax1.plot(pos, 1 - np.sqrt(2 / m), "k--", lw=1)
    ax1.axhline(1.0, color="0.4", lw=0.8)
    ax1.set_xticks(pos, [str(x) for x in res.m_values])
    ax1.set_xlabel("number of measurements m")
    ax1.set_ylabel(r"$\|\mathcal{A}(X)\|_2^2 \,/\, \|X\|_F^2$")
    ax1.set_title(f"rank-{res.r} matrices, {res.shape[0]}×{res.shape[1]}")
    ax1.legend(loc="upper right")

    ax2.loglog(m, std, "o", label="measured std")
    ax2.loglog(m, pred, "k--", lw=1, label=r"theory $\sqrt{(2/m)(1-1/(n_1 n_2))}$")
    if fit is not None:
        plot_power_fit(ax2, m, fit, "-", lw=1)
    value_ticks(ax2.xaxis, res.m_values)
    value_ticks(ax2.yaxis, [t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0) if std.min() / 1.5 <= t <= std.max() * 1.5])
    ax2.set_xlabel("number of measurements m")
    ax2.set_ylabel("standard deviation of the ratio")
    ax2.set_title("spread against m")
    ax2.legend()
    return fig, (ax1, ax2)
