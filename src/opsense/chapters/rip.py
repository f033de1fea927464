"""Chapter ``rip``: matrix sensing and the restricted isometry property, seen empirically.

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

from .. import _validate as v
from ..config import Cost, parameter_check
from ..analysis import Fit, fit_power
from ..claims import Claim, at_most, between
from ..engine.operators import SensingOperator
from ..engine.problems import low_rank_target
from ..plotting import figure, plot_power_fit, value_ticks

__all__ = ["PRESETS", "check", "cost", "IsometryRatios", "Experiment", "isometry_ratios", "run", "summary",
           "glue_values", "claims", "plot_ratios", "evaluate"]

#: Parameter sets of the chapter: ``book`` (20 x 20, about a second) and ``paper`` (50 x 50, rank 3).
PRESETS = {
    "book": dict(n1=20, n2=20, r=2, m_values=[25, 50, 100, 200, 400, 800], trials=500, seed=0),
    "paper": dict(n1=50, n2=50, r=3, m_values=[50, 100, 200, 400, 800, 1600, 3200], trials=2000, seed=0),
}

#: Largest number of stored ratios (m values x trials) and of operator entries (m x n1 x n2).
MAX_RATIOS = 10_000_000
MAX_ENTRIES = 200_000_000


@parameter_check
def check(P) -> None:
    """Refuse infeasible parameters of the chapter, naming the parameter.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (attributes ``n1, n2, r, m_values, trials, seed``).

    Raises
    ------
    ValueError
        For the first infeasible value.
    """
    n1, n2, r = v.shape_rank(P.n1, P.n2, P.r)
    ms = _m_values(P.m_values, fewest=3)  # the chapter fits a slope through them
    trials = v.integer("trials", P.trials, minimum=10)
    v.integer("seed", P.seed, minimum=0)
    if len(ms) * trials > MAX_RATIOS:
        raise ValueError(f"parameter trials must keep len(m_values) * trials <= {MAX_RATIOS:,} "
                         f"(memory), got {len(ms)} * {trials}")
    if int(ms.max()) * n1 * n2 > MAX_ENTRIES:
        raise ValueError(f"parameter m_values must keep max(m_values) * n1 * n2 <= {MAX_ENTRIES:,} "
                         f"(the operator's memory), got {int(ms.max())} * {n1} * {n2}")


def cost(P) -> Cost:
    """What :func:`run` costs, from the parameters alone (pure arithmetic, nothing is run).

    ``work = trials * n1 * n2 * sum(m_values)``: every operator (one per ``m``) measures the
    stack of ``trials`` random matrices, ``m * n1 * n2`` multiply-adds per matrix.
    ``memory_bytes`` counts the stack of matrices (``trials * n1 * n2``), the largest
    operator (``max(m) * n1 * n2``), its measurements (``trials * max(m)``) and the ratios
    (``len(m_values) * trials``), 8 bytes each.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (already checked by :func:`check`).

    Returns
    -------
    opsense.config.Cost
    """
    n1, n2, trials = int(P.n1), int(P.n2), int(P.trials)
    ms = [int(m) for m in P.m_values]
    work = float(trials) * n1 * n2 * sum(ms)
    memory = 8.0 * (trials * n1 * n2 + max(ms) * n1 * n2 + trials * max(ms) + len(ms) * trials)
    return Cost(memory_bytes=memory, work=work, drivers=("trials", "m_values", "n1", "n2"))


def _m_values(m_values, *, fewest: int = 2) -> np.ndarray:
    ms = v.sweep("m_values", m_values, lambda name, x: v.integer(name, x, minimum=1))
    if len(ms) < fewest or len(set(ms)) != len(ms):
        raise ValueError(f"parameter m_values must hold at least {fewest} distinct integers >= 1, got {ms}")
    return np.array(sorted(ms), dtype=np.int64)


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
    n1, n2, r = v.shape_rank(n1, n2, r)
    ms = _m_values(m_values)
    trials = v.integer("trials", trials, minimum=10)
    seed = v.integer("seed", seed, minimum=0)
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


@dataclass(frozen=True)
class Experiment:
    """The chapter's experiment: the ratios and the power-law fit of their spread.

    Attributes
    ----------
    ratios : IsometryRatios
    fit : Fit
        Least-squares line of ``log std`` against ``log m``.
    """

    ratios: IsometryRatios
    fit: Fit


def run(P) -> Experiment:
    """Run the chapter's experiment with the parameters ``P`` (see :data:`PRESETS`).

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure`.
    """
    res = isometry_ratios(P.m_values, P.n1, P.n2, P.r, trials=P.trials, seed=P.seed)
    return Experiment(res, fit_power(res.m_values, res.std()))


def summary(exp: Experiment) -> str:
    """The table the chapter prints: mean, spread, predicted spread and max deviation per ``m``.

    Parameters
    ----------
    exp : Experiment
    """
    res = exp.ratios
    lines = [f"n1 = {res.shape[0]}, n2 = {res.shape[1]}, r = {res.r}, {res.trials} random matrices per operator",
             f"{'m':>6} {'mean':>7} {'std':>7} {'theory':>7} {'max|ratio-1|':>13}"]
    for row in zip(res.m_values, res.mean(), res.std(), res.predicted_std(), res.max_deviation()):
        lines.append(f"{row[0]:>6d} {row[1]:>7.3f} {row[2]:>7.3f} {row[3]:>7.3f} {row[4]:>13.3f}")
    lines.append(f"slope = {exp.fit.slope:.3f}, R^2 = {exp.fit.r2:.3f}")
    return "\n".join(lines)


def glue_values(exp: Experiment) -> dict:
    """The numbers the chapter's prose quotes, by glue name.

    Parameters
    ----------
    exp : Experiment
    """
    res = exp.ratios
    ratio = res.std() / res.predicted_std()
    return {"rip_slope": exp.fit.slope, "rip_r2": exp.fit.r2, "rip_std_ratio_min": ratio.min(),
            "rip_std_ratio_max": ratio.max(), "rip_dev_largest_m": res.max_deviation()[-1],
            "rip_m_largest": int(res.m_values[-1])}


def claims(exp: Experiment) -> list[Claim]:
    """The chapter's claims (see the page for the basis of each tolerance).

    Parameters
    ----------
    exp : Experiment
    """
    res = exp.ratios
    d = res.shape[0] * res.shape[1]
    se_mean = np.sqrt(2 / res.m_values * (1 / res.trials + 1 / d))   # std of a sample mean
    std_tol = max(0.2, 6 / np.sqrt(2 * res.trials))                   # relative error of a std
    worst_mean = float(np.max(np.abs(res.mean() - 1) / se_mean))
    worst_std = float(np.max(np.abs(np.log(res.std() / res.predicted_std()))))
    return [
        between("rip.spread-slope", "log-log slope of the spread of the ratio against m",
                exp.fit.slope, -0.6, -0.4, basis="theory", tolerance="±0.1 around -1/2 (chi-square law)"),
        at_most("rip.isotropy", "largest |sample mean of the ratio - 1| over m, in standard errors",
                worst_mean, 4.0, basis="theory",
                tolerance="4 standard errors sqrt(2/m (1/trials + 1/(n1 n2)))"),
        at_most("rip.spread-constant", "worst |log(measured / predicted spread)| over m",
                worst_std, float(np.log1p(std_tol)), basis="theory",
                tolerance=f"spread within a factor 1 + {std_tol:.2f} of the theory"),
    ]


def plot_ratios(res: IsometryRatios, *, fit=None):
    """The chapter's figure: the ratios per ``m`` (violins) and their spread against ``m``.

    Parameters
    ----------
    res : IsometryRatios
    fit : opsense.analysis.Fit, keyword-only, optional
        Power-law fit of ``res.std()`` against ``res.m_values`` (drawn if given).

    Returns
    -------
    fig, (ax_distribution, ax_spread)
    """
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


def evaluate(P) -> list[Claim]:
    """Run the chapter's whole computation as its notebook does, and return its claims.

    The same calls, in the same order and with the same arguments, as ``book/rip.ipynb``
    (without its figures, printed tables and glue).

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure`.

    Returns
    -------
    list of Claim
        The list the notebook passes to :func:`opsense.evaluate_claims`.
    """
    exp = run(P)
    return claims(exp)
