"""Chapter ``rip``: matrix sensing and the restricted isometry property, seen empirically.

For a Gaussian operator :math:`\\mathcal A` with i.i.d. :math:`\\mathcal N(0,1/m)`
entries and a fixed matrix :math:`X \\ne 0`, the measurements
:math:`\\langle A_i, X\\rangle` are i.i.d. :math:`\\mathcal N(0, \\|X\\|_F^2/m)`, so

.. math::

    \\frac{\\|\\mathcal A(X)\\|_2^2}{\\|X\\|_F^2} \\sim \\frac{\\chi^2_m}{m},
    \\qquad \\text{mean } 1, \\quad \\text{variance } 2/m.

:func:`isometry_ratios` draws ``operators`` independent instances; each has its own random
rank-``r`` matrices and one operator per ``m``, and returns the ratios. Their spread
shrinks like :math:`m^{-1/2}`. :func:`rip_constant` estimates, for each operator, the upper
isometry constant :math:`\\delta^+ = \\max \\|\\mathcal A(X)\\|_2^2/\\|X\\|_F^2 - 1` over rank-``r``
matrices by a projected power iteration (a lower bound on the true constant), which Gordon's
inequality bounds by :math:`(1 + w/\\sqrt m)^2 - 1` with :math:`w \\le \\sqrt r(\\sqrt{n_1}+\\sqrt{n_2})`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..analysis import Fit, fit_power
from ..claims import Claim, at_most, close
from ..config import Cost, parameter_check, regime
from ..engine.operators import SensingOperator
from ..engine.problems import instance_seeds
from ..plotting import figure, value_ticks
from ..stats import Interval, instance_interval

__all__ = ["PRESETS", "check", "cost", "IsometryRatios", "Experiment", "isometry_ratios", "rip_constant",
           "random_low_rank", "gordon_bound", "run", "summary", "glue_values", "claims", "plot_ratios", "evaluate"]

#: Parameter sets of the chapter: ``book`` (20 x 20, 8 instances) and ``paper`` (50 x 50, rank 3, 5 instances).
PRESETS = {
    "book": dict(n1=20, n2=20, r=2, m_values=[25, 50, 100, 200, 400, 800], trials=500, operators=8, seed=0),
    "paper": dict(n1=50, n2=50, r=3, m_values=[50, 100, 200, 400, 800, 1600, 3200], trials=1000, operators=5,
                  seed=0),
}

#: Largest number of stored ratios (instances x m values x trials) and of operator entries (m x n1 x n2).
MAX_RATIOS = 10_000_000
MAX_ENTRIES = 200_000_000
MAX_OPERATORS = 100
#: The power iteration of :func:`rip_constant` starts from this fraction of the sampled matrices
#: (those with the largest ratios) and runs until its best ratio gains less than POWER_TOL (relative)
#: over 10 steps, at most POWER_STEPS steps (the cost estimate counts the maximum).
START_FRACTION = 0.004
POWER_STEPS = 300
POWER_TOL = 1e-5
#: Deviation above Gordon's expected supremum allowed for one operator, in units of 1/sqrt(m)
#: (the supremum is 1/sqrt(m)-Lipschitz in the Gaussian entries: exceeded with probability e^{-t^2/2}).
GORDON_T = 4.0


@parameter_check
def check(P) -> None:
    """Refuse infeasible parameters of the chapter, naming the parameter; state the regime.

    **Regime.** A textbook fact about Gaussian operators: the :math:`\\chi^2_m/m` law of the ratio
    holds for every ``m >= 1`` and every matrix, so no condition is needed for the ratio
    claims; Gordon's bound holds for every ``m``. The spread is fitted against ``m``, so the
    sweep needs at least three values, and ``trials >= 100`` random matrices per operator
    (the spread of one operator is then measured to about 6 %). Runs with fewer than 5 independent
    operators are refused (intervals need them).

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (attributes ``n1, n2, r, m_values, trials, operators, seed``).

    Raises
    ------
    ValueError
        For the first infeasible value.
    """
    n1, n2, r = v.shape_rank(P.n1, P.n2, P.r)
    ms = _m_values(P.m_values, fewest=3)  # the chapter fits a slope through them
    trials = v.integer("trials", P.trials, minimum=10)
    operators = v.integer("operators", P.operators, minimum=5, maximum=MAX_OPERATORS)
    v.integer("seed", P.seed, minimum=0)
    if operators * len(ms) * trials > MAX_RATIOS:
        raise ValueError(f"parameter trials must keep operators * len(m_values) * trials <= {MAX_RATIOS:,} "
                         f"(memory), got {operators} * {len(ms)} * {trials}")
    if int(ms.max()) * n1 * n2 > MAX_ENTRIES:
        raise ValueError(f"parameter m_values must keep max(m_values) * n1 * n2 <= {MAX_ENTRIES:,} "
                         f"(the operator's memory), got {int(ms.max())} * {n1} * {n2}")
    regime("rip", [
        (trials >= 100, f"trials >= 100 random matrices per operator (trials = {trials}): the spread of one "
                        "operator is then known to about 6 %, which the tolerances assume"),
        (r < min(n1, n2), f"r < min(n1, n2) (low rank; r = {r})"),
    ])


def cost(P) -> Cost:
    """What :func:`run` costs, from the parameters alone (pure arithmetic, nothing is run).

    ``work = operators * n1 n2 sum(m_values) * trials * (1 + 2 POWER_STEPS START_FRACTION)`` at most:
    every operator measures its instance's ``trials`` random matrices (``m n1 n2`` multiply-adds
    each), and the power iteration applies it and its adjoint ``POWER_STEPS`` times to
    ``trials * START_FRACTION`` starts. ``memory_bytes`` counts the stack of matrices
    (``trials * n1 * n2``), the largest operator (``max(m) * n1 * n2``), its measurements
    (``trials * max(m)``) and the ratios (``operators * len(m_values) * trials``), 8 bytes each.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (already checked by :func:`check`).

    Returns
    -------
    opsense.config.Cost
    """
    n1, n2, trials, I = int(P.n1), int(P.n2), int(P.trials), int(P.operators)
    ms = [int(m) for m in P.m_values]
    work = float(I) * trials * n1 * n2 * sum(ms) * (1 + 2 * POWER_STEPS * START_FRACTION)
    memory = 8.0 * (trials * n1 * n2 + max(ms) * n1 * n2 + trials * max(ms) + I * len(ms) * trials)
    return Cost(memory_bytes=memory, work=work, drivers=("trials", "operators", "m_values", "n1", "n2"))


def _m_values(m_values, *, fewest: int = 2) -> np.ndarray:
    ms = v.sweep("m_values", m_values, lambda name, x: v.integer(name, x, minimum=1))
    if len(ms) < fewest or len(set(ms)) != len(ms):
        raise ValueError(f"parameter m_values must hold at least {fewest} distinct integers >= 1, got {ms}")
    return np.array(sorted(ms), dtype=np.int64)


def gordon_bound(m, n1: int, n2: int, r: int, *, t: float = 0.0) -> np.ndarray:
    """Gordon's bound on the upper isometry constant over rank-``r`` matrices.

    :math:`\\mathbb E \\sup \\|\\mathcal A(X)\\|_2 \\le 1 + w/\\sqrt m` over unit-norm rank-``r``
    ``X``, with the Gaussian width :math:`w \\le \\sqrt r(\\sqrt{n_1} + \\sqrt{n_2})`; the supremum
    exceeds its mean by ``t / sqrt(m)`` with probability at most :math:`e^{-t^2/2}`.

    Parameters
    ----------
    m : array_like of int
        Numbers of measurements.
    n1, n2, r : int
        Shape and rank.
    t : float, keyword-only
        Deviation allowed above the mean, in units of ``1/sqrt(m)``.

    Returns
    -------
    ndarray
        :math:`(1 + (w + t)/\\sqrt m)^2 - 1`, one value per ``m``.
    """
    m = np.asarray(m, dtype=float)
    w = np.sqrt(r) * (np.sqrt(n1) + np.sqrt(n2))
    return (1 + (w + float(t)) / np.sqrt(m)) ** 2 - 1


@dataclass(frozen=True)
class IsometryRatios:
    """Ratios :math:`\\|\\mathcal A(X)\\|_2^2 / \\|X\\|_F^2` on independent instances for several ``m``.

    Attributes
    ----------
    m_values : ndarray of int, shape (M,)
        Numbers of measurements, increasing.
    ratios : ndarray, shape (I, M, trials)
        ``ratios[i, j, l]``: the ``l``-th random matrix of instance ``i`` under the operator drawn
        for instance ``i`` and ``m_values[j]`` (each instance has its own matrices and operators).
    delta_plus : ndarray, shape (I, M)
        Estimated upper isometry constant of each operator (:func:`rip_constant`), a lower bound
        on the true one.
    shape : tuple of int
        ``(n1, n2)``.
    r : int
        Rank of the random matrices.
    seed : int
        The seed everything was drawn from.
    """

    m_values: np.ndarray
    ratios: np.ndarray
    delta_plus: np.ndarray
    shape: tuple[int, int]
    r: int
    seed: int

    @property
    def trials(self) -> int:
        """Number of random matrices per operator."""
        return self.ratios.shape[2]

    @property
    def instances(self) -> int:
        """Number of independent instances (operators per ``m``)."""
        return self.ratios.shape[0]

    def mean(self) -> np.ndarray:
        """Sample mean of the ratios per instance and ``m``, shape (I, M)."""
        return self.ratios.mean(axis=2)

    def std(self) -> np.ndarray:
        """Sample standard deviation (``ddof=1``) per instance and ``m``, shape (I, M)."""
        return self.ratios.std(axis=2, ddof=1)

    def max_deviation(self) -> np.ndarray:
        """``max_l |ratio - 1|`` per instance and ``m``: a lower bound on the RIP constant of order ``r``."""
        return np.abs(self.ratios - 1.0).max(axis=2)

    def predicted_std(self) -> np.ndarray:
        """Expected spread over random matrices for one operator, ``sqrt(2/m * (1 - 1/(n1*n2)))``, shape (M,)."""
        d = self.shape[0] * self.shape[1]
        return np.sqrt(2.0 / self.m_values * (1.0 - 1.0 / d))


def rip_constant(op: SensingOperator, starts, r: int, *, steps: int = POWER_STEPS) -> float:
    """Estimate the upper isometry constant of ``op`` over rank-``r`` matrices by a power iteration.

    From each start, ``X <- P_r(A*A(X)) / ||.||_F`` (``P_r``: best rank-``r`` approximation):
    the ratio :math:`\\|\\mathcal A(X)\\|^2/\\|X\\|_F^2` of each iterate is a lower bound on
    :math:`1 + \\delta^+_r`. It stops once the best ratio gained less than ``POWER_TOL``
    (relative) over the last 10 steps, or after ``steps`` steps.

    Parameters
    ----------
    op : SensingOperator
        A Gaussian operator (``op.matrix`` of shape ``(m, n1 n2)``).
    starts : ndarray of shape (S, n1, n2)
        Starting matrices (rank ``r``, any norm).
    r : int
        Rank.
    steps : int, keyword-only
        Largest number of power steps.

    Returns
    -------
    float
        The largest ratio found, minus 1.
    """
    X = v.array("starts", starts, ndim=3)
    r = v.integer("r", r, minimum=1)
    steps = v.integer("steps", steps, minimum=1)
    S, n1, n2 = X.shape
    A = op.matrix
    X = X / np.linalg.norm(X, axis=(1, 2), keepdims=True)
    best, history = 0.0, []
    for step in range(steps + 1):
        y = A @ X.reshape(S, n1 * n2).T  # (m, S)
        best = max(best, float(np.max(np.einsum("ms,ms->s", y, y))))
        history.append(best)
        if step >= 10 and history[-1] - history[-11] <= POWER_TOL * history[-1]:
            break
        Y = (A.T @ y).T.reshape(S, n1, n2)
        W, s, Zt = np.linalg.svd(Y, full_matrices=False)
        X = (W[:, :, :r] * s[:, None, :r]) @ Zt[:, :r, :]
        X /= np.linalg.norm(X, axis=(1, 2), keepdims=True)
    return best - 1.0


def isometry_ratios(m_values, n1: int, n2: int, r: int, *, trials: int = 500, operators: int = 5,
                    seed: int = 0) -> IsometryRatios:
    """Empirical distribution of ``||A(X)||^2 / ||X||_F^2`` over random rank-``r`` matrices, per instance.

    Instance ``i`` (seed ``opsense.instance_seeds(seed, operators)[i]``) draws its own ``trials``
    random rank-``r`` matrices ``X = U V^T`` (:func:`random_low_rank`: Haar-random orthonormal
    ``U``, ``V``, unit singular values) and, for each ``m``, its own Gaussian operator (i.i.d. ``N(0, 1/m)`` entries, so that
    ``E[A*A] = I``), which measures all of them; the power iteration of :func:`rip_constant`
    starts from the ``ceil(START_FRACTION trials)`` matrices with the largest ratios.

    Parameters
    ----------
    m_values : sequence of int
        At least two distinct numbers of measurements (sorted on output).
    n1, n2 : int
        Shape of the matrices.
    r : int
        Rank of the random matrices, ``1 <= r <= min(n1, n2)``.
    trials : int, keyword-only
        Number of random matrices per instance, ``>= 10``.
    operators : int, keyword-only
        Number of independent instances, ``>= 2``.
    seed : int, keyword-only
        Seed of the instances.

    Returns
    -------
    IsometryRatios

    Raises
    ------
    ValueError
        If an argument is out of range; the message names it.

    Examples
    --------
    >>> res = isometry_ratios([50, 200], 10, 10, 2, trials=100, operators=2, seed=0)
    >>> res.ratios.shape
    (2, 2, 100)
    """
    n1, n2, r = v.shape_rank(n1, n2, r)
    ms = _m_values(m_values)
    trials = v.integer("trials", trials, minimum=10)
    operators = v.integer("operators", operators, minimum=2)
    seed = v.integer("seed", seed, minimum=0)
    n_starts = int(np.ceil(START_FRACTION * trials))
    ratios = np.empty((operators, len(ms), trials))
    delta = np.empty((operators, len(ms)))
    for i, s in enumerate(instance_seeds(seed, operators)):
        op_seeds, x_seed = np.random.SeedSequence(s).spawn(2)
        op_seeds = op_seeds.generate_state(len(ms))
        X = random_low_rank(n1, n2, r, trials, seed=int(x_seed.generate_state(1)[0]))  # (trials, n1, n2)
        norms2 = np.einsum("tij,tij->t", X, X)
        for j, (m, so) in enumerate(zip(ms, op_seeds)):
            op = SensingOperator.gaussian(int(m), n1, n2, seed=int(so))
            y = op.forward(X)  # (trials, m)
            ratios[i, j] = np.einsum("tm,tm->t", y, y) / norms2
            top = np.argsort(ratios[i, j])[-n_starts:]
            delta[i, j] = rip_constant(op, X[top], r)
    return IsometryRatios(m_values=ms, ratios=ratios, delta_plus=delta, shape=(int(n1), int(n2)), r=int(r),
                          seed=int(seed))


def random_low_rank(n1: int, n2: int, r: int, trials: int, *, seed: int) -> np.ndarray:
    """``trials`` random rank-``r`` matrices ``U V^T`` with Haar-random orthonormal ``U``, ``V``.

    The same law as :func:`opsense.low_rank_target` with unit singular values, drawn as one batch.

    Parameters
    ----------
    n1, n2, r : int
        Shape and rank, ``1 <= r <= min(n1, n2)``.
    trials : int
        Number of matrices.
    seed : int, keyword-only

    Returns
    -------
    ndarray of shape (trials, n1, n2)
    """
    n1, n2, r = v.shape_rank(n1, n2, r)
    trials = v.integer("trials", trials, minimum=1)
    rng = np.random.default_rng(v.integer("seed", seed, minimum=0))
    out = []
    for n in (n1, n2):
        q, rr = np.linalg.qr(rng.standard_normal((trials, n, r)))
        out.append(q * np.sign(np.diagonal(rr, axis1=1, axis2=2))[:, None, :])  # sign fix: Haar
    return out[0] @ np.swapaxes(out[1], 1, 2)


def _slopes(x, Y) -> np.ndarray:
    """Log-log slope of each row of ``Y`` (shape (I, M)) against ``x``."""
    return np.array([fit_power(x, y).estimate for y in np.asarray(Y, dtype=float)])


@dataclass(frozen=True)
class Experiment:
    """The chapter's experiment: the ratios and the fits over the instances.

    Attributes
    ----------
    ratios : IsometryRatios
    fit : Fit
        Least-squares line of ``log std`` against ``log m`` for the spread averaged over the instances.
    spread_slopes : ndarray of shape (I,)
        Log-log slope of the spread against ``m``, per instance.
    variance_ratio : ndarray of shape (I,)
        Measured variance over predicted variance ``2/m (1 - 1/(n1 n2))``, averaged over ``m``, per instance.
    delta_slopes : ndarray of shape (I,)
        Log-log slope of the estimated isometry constant against ``m``, per instance.
    gordon_slope : float
        The same slope of Gordon's bound (``t = 0``) over the same ``m``.
    """

    ratios: IsometryRatios
    fit: Fit
    spread_slopes: np.ndarray
    variance_ratio: np.ndarray
    delta_slopes: np.ndarray
    gordon_slope: float


def run(P) -> Experiment:
    """Run the chapter's experiment with the parameters ``P`` (see :data:`PRESETS`).

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure`.
    """
    res = isometry_ratios(P.m_values, P.n1, P.n2, P.r, trials=P.trials, operators=P.operators, seed=P.seed)
    std = res.std()
    ms = res.m_values
    var_ratio = (std ** 2 / res.predicted_std()[None, :] ** 2).mean(axis=1)
    g = gordon_bound(ms, *res.shape, res.r)
    return Experiment(res, fit_power(ms, std.mean(axis=0)), _slopes(ms, std), var_ratio,
                      _slopes(ms, res.delta_plus), float(fit_power(ms, g).estimate))


def summary(exp: Experiment) -> str:
    """The table the chapter prints: mean, spread, predicted spread and isometry constants per ``m``.

    Parameters
    ----------
    exp : Experiment
    """
    res = exp.ratios
    g = gordon_bound(res.m_values, *res.shape, res.r)
    lines = [f"n1 = {res.shape[0]}, n2 = {res.shape[1]}, r = {res.r}, {res.instances} instances, "
             f"{res.trials} random matrices per operator (mean over the instances; range of the spread)",
             f"{'m':>6} {'mean':>7} {'std':>7} {'(min - max)':>14} {'theory':>7} {'max|ratio-1|':>13}"
             f" {'delta+ est.':>12} {'Gordon':>7}"]
    std = res.std()
    for j, m in enumerate(res.m_values):
        lines.append(f"{m:>6d} {res.mean()[:, j].mean():>7.3f} {std[:, j].mean():>7.3f} "
                     f"{std[:, j].min():>6.3f} - {std[:, j].max():<5.3f} {res.predicted_std()[j]:>7.3f} "
                     f"{res.max_deviation()[:, j].mean():>13.3f} {res.delta_plus[:, j].mean():>12.3f} {g[j]:>7.3f}")
    lines.append(f"spread slope per instance: {_iv(exp.spread_slopes)}; variance / 2/m: {_iv(exp.variance_ratio)}")
    lines.append(f"delta+ slope per instance: {_iv(exp.delta_slopes)}; Gordon's: {exp.gordon_slope:.3f}")
    return "\n".join(lines)


def _iv(values) -> Interval:
    return instance_interval(values)


def _isotropy(res: IsometryRatios) -> float:
    """Largest |pooled mean of the ratio - 1| over m, in standard errors sqrt(2/m (1/(I T) + 1/(I d)))."""
    d = res.shape[0] * res.shape[1]
    I, T = res.instances, res.trials
    se = np.sqrt(2 / res.m_values * (1 / (I * T) + 1 / (I * d)))
    return float(np.max(np.abs(res.ratios.mean(axis=(0, 2)) - 1) / se))


def glue_values(exp: Experiment) -> dict:
    """The numbers the chapter's prose quotes, by glue name.

    Parameters
    ----------
    exp : Experiment
    """
    res = exp.ratios
    ratio = res.std() / res.predicted_std()[None, :]
    worst = res.delta_plus / gordon_bound(res.m_values, *res.shape, res.r)[None, :]
    return {"rip_slope": str(_iv(exp.spread_slopes)), "rip_variance": str(_iv(exp.variance_ratio)),
            "rip_std_ratio_min": float(ratio.min()), "rip_std_ratio_max": float(ratio.max()),
            "rip_instances": int(res.instances), "rip_isotropy": _isotropy(res),
            "rip_delta_slope": str(_iv(exp.delta_slopes)), "rip_gordon_slope": float(exp.gordon_slope),
            "rip_delta_largest_m": float(res.delta_plus[:, -1].mean()),
            "rip_dev_largest_m": float(res.max_deviation()[:, -1].mean()),
            "rip_gordon_min": float(worst.min()), "rip_gordon_max": float(worst.max()),
            "rip_m_largest": int(res.m_values[-1])}


def claims(exp: Experiment) -> list[Claim]:
    """The chapter's claims (see the page for the basis of each tolerance).

    Parameters
    ----------
    exp : Experiment
    """
    res = exp.ratios
    worst = float(np.max(res.delta_plus / gordon_bound(res.m_values, *res.shape, res.r, t=GORDON_T)[None, :]))
    return [
        close("rip.spread-slope", "log-log slope of the spread of the ratio against m (per instance)",
              _iv(exp.spread_slopes), -0.5, atol=0.02, basis="theory", form="scaling",
              tolerance="-1/2 (variance exactly 2/m (1 - 1/(n1 n2))) ± 0.02 for the bias of a sample std "
                        "(< 1e-3) with margin; excludes -0.45 and -0.55"),
        close("rip.variance", "measured variance / predicted 2/m (1 - 1/(n1 n2)), mean over m (per instance)",
              _iv(exp.variance_ratio), 1.0, rtol=0.03, basis="theory", form="value",
              tolerance="1 (exact, unbiased sample variance) ± 3 % margin; excludes a constant other than 2"),
        at_most("rip.isotropy", "largest |pooled mean of the ratio - 1| over m, in standard errors",
                _isotropy(res), 4.0, basis="theory",
                tolerance="4 standard errors sqrt(2/m (1/(I trials) + 1/(I n1 n2))): E A*A = Id"),
        at_most("rip.delta-gordon", "largest estimated delta+ / Gordon's bound (mean + 4/sqrt(m)), all operators",
                worst, 1.0, basis="theory",
                tolerance="Gordon's inequality with w <= sqrt(r)(sqrt(n1) + sqrt(n2)); exceeded with "
                          "probability <= e^-8 per operator"),
        close("rip.delta-scaling", "log-log slope of the estimated delta+ against m (per instance)",
              _iv(exp.delta_slopes), exp.gordon_slope, atol=0.05, basis="derived-on-page", form="scaling",
              tolerance=f"the slope of Gordon's (1 + w/sqrt m)^2 - 1 over these m ({exp.gordon_slope:.3f}; "
                        f"-1/2 for m >> w^2) ± 0.05 (the estimate's distance to the bound drifts slowly)"),
    ]


def plot_ratios(res: IsometryRatios, *, fit=None):
    """The chapter's figure: the ratios per ``m``, their spread and the isometry constants against ``m``.

    Parameters
    ----------
    res : IsometryRatios
    fit : opsense.analysis.Fit, keyword-only, optional
        Power-law fit of the spread (averaged over the instances) against ``res.m_values`` (drawn if given).

    Returns
    -------
    fig, (ax_distribution, ax_spread, ax_delta)
    """
    if not isinstance(res, IsometryRatios):
        raise ValueError(f"res must be an IsometryRatios, got {type(res).__name__}")
    m = res.m_values.astype(float)
    std, pred = res.std(), res.predicted_std()
    fig, (ax1, ax2, ax3) = figure(ncols=3, width=13.0, height=3.8)
    pos = np.arange(len(m))
    ax1.violinplot(res.ratios.transpose(1, 0, 2).reshape(len(m), -1).T, positions=pos, widths=0.8,
                   showextrema=False)
    ax1.plot(pos, 1 + np.sqrt(2 / m), "k--", lw=1, label=r"$1 \pm \sqrt{2/m}$")
    ax1.plot(pos, 1 - np.sqrt(2 / m), "k--", lw=1)
    ax1.axhline(1.0, color="0.4", lw=0.8)
    ax1.set_xticks(pos, [str(x) for x in res.m_values])
    ax1.set_xlabel("number of measurements m")
    ax1.set_ylabel(r"$\|\mathcal{A}(X)\|_2^2 \,/\, \|X\|_F^2$")
    ax1.set_title(f"rank-{res.r} matrices, {res.shape[0]}×{res.shape[1]} ({res.instances} instances)")
    ax1.legend(loc="upper right")

    I = res.instances
    xs = m[None, :] * np.exp(np.linspace(-0.06, 0.06, I))[:, None]
    ax2.loglog(xs.ravel(), std.ravel(), "o", ms=3, alpha=0.6, label="measured std (one point per instance)")
    ax2.loglog(m, pred, "k--", lw=1, label=r"theory $\sqrt{(2/m)(1-1/(n_1 n_2))}$")
    if fit is not None:
        ax2.loglog(m, np.exp(fit.intercept) * m ** fit.slope, "-", lw=1, label=f"fit, slope {fit.slope:.3f}")
    value_ticks(ax2.xaxis, res.m_values)
    value_ticks(ax2.yaxis, [t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
                            if std.min() / 1.5 <= t <= std.max() * 1.5])
    ax2.set_xlabel("number of measurements m")
    ax2.set_ylabel("standard deviation of the ratio")
    ax2.set_title("spread against m")
    ax2.legend(fontsize="small")

    ax3.loglog(xs.ravel(), res.delta_plus.ravel(), "s", ms=3, alpha=0.6, color="C1",
               label=r"estimated $\delta^+$ (power iteration)")
    ax3.loglog(xs.ravel(), res.max_deviation().ravel(), "o", ms=3, alpha=0.6, color="C2",
               label=r"max over the samples of |ratio − 1|")
    ax3.loglog(m, gordon_bound(m, *res.shape, res.r), "k--", lw=1, label=r"Gordon $(1 + w/\sqrt{m})^2 - 1$")
    w = np.sqrt(res.r) * (np.sqrt(res.shape[0]) + np.sqrt(res.shape[1]))
    ax3.loglog(m, 2 * w / np.sqrt(m), ":", color="gray", lw=1, label=r"$2w/\sqrt{m}$ (slope −1/2)")
    value_ticks(ax3.xaxis, res.m_values)
    ax3.set_xlabel("number of measurements m")
    ax3.set_ylabel("isometry constant (upper side)")
    ax3.set_title("the worst rank-r matrix against m")
    ax3.legend(fontsize="small", loc="lower left")
    return fig, (ax1, ax2, ax3)


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
