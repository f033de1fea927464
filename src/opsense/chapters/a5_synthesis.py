"""Chapter ``a5_synthesis``: paper A and paper B side by side.

Three experiments; the first two over ``n_instances`` independent instances (target, Gaussian
operator and initialization re-drawn, :func:`opsense.instance_seeds`), batched in
:func:`opsense.run_gd`:

1. :func:`run_readings`: runs from paper B's imbalanced start :math:`(\\alpha, \\alpha/3)`; the
   imbalance :math:`\\Delta_t=U_t^\\top U_t-V_t^\\top V_t` is small against the signal (paper A's
   balance) and positive definite at scale :math:`\\alpha^2` (paper B's imbalance) at once.
2. :func:`run_options`: vanilla small and large :math:`\\alpha` and the one-step rebalancing
   (:func:`opsense.rebalance` through ``run_gd(..., rebalance_tol=epsilon)``), at a width
   :math:`k_B` of paper B's regime from paper B's start :math:`(\\alpha, \\alpha/3)`, and at
   :math:`k\\ge\\max(n_1,n_2)` from paper A's start :math:`(\\alpha, \\alpha)`.
3. :func:`phase_diagram`: recovery success against the number of measurements ``m`` and
   the width ``k``. The operators are nested (the first ``m`` rows of one Gaussian matrix);
   each seed has its own target and initialization; for each ``m`` one call of
   :func:`opsense.run_gd` advances all seeds and widths.

Horizons
    Each step count must be at least the horizon the predicted rates require
    (:func:`min_horizons`): the escape and fit of the weakest direction,
    :math:`(\\ln(1/\\alpha)+\\ln(1/\\epsilon))/(\\mu\\sigma_r)`, and for paper B's late phase a
    window of at least two e-folds of its rate scale :math:`\\mu\\alpha^2`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..book import rounded
from ..config import Cost, gd_cost, parameter_check, regime
from ..analysis import fit_rate, late_rate
from ..claims import Claim, at_least, at_most, between
from ..engine.factors import imbalance, initial_factors
from ..engine.gd import DivergenceError, GDResult, run_gd, step_sizes
from ..engine.operators import SensingOperator
from ..engine.problems import Problem, instance_seeds, low_rank_target, make_problem
from ..plotting import figure, param_label
from ..stats import Interval, instance_interval

__all__ = ["PRESETS", "MAX_ENTRIES", "MAX_WORK", "MAX_GRAM", "MAX_STEPS", "MIN_INSTANCES", "check", "cost",
           "min_horizons", "assumptions", "Readings", "run_readings", "readings_summary", "Options", "run_options",
           "options_summary", "PhaseDiagram", "phase_diagram", "run_phase_diagram", "phase_summary", "glue_values",
           "claims", "evaluate", "plot_readings", "plot_options", "plot_phase_diagram"]

#: Parameter sets: ``book`` (20 x 30, rank 2) and ``paper`` (50 x 50, rank 3).
PRESETS = {
    "book": dict(n1=20, n2=30, r=2, sigma=[1.0, 0.5], m=300, k_b=4, k=30, alpha_b=0.1, eta_b=0.1, iters_b=4000,
                 alphas=[1e-3, 0.3], eta=0.2, iters=1500, epsilon=0.01,
                 ratios=[1.0, 1.25, 1.5, 1.75, 2.0, 3.0, 5.0], ks=[2, 4, 30], n_seeds=5, alpha_pd=1e-6,
                 iters_pd=800, tol=0.01, n_instances=5, seed=0),
    "paper": dict(n1=50, n2=50, r=3, sigma=[1.0, 0.75, 0.5], m=1500, k_b=5, k=50, alpha_b=0.1, eta_b=0.1,
                  iters_b=6000, alphas=[1e-3, 0.3], eta=0.25, iters=2000, epsilon=0.01,
                  ratios=[1.0, 1.5, 2.0, 3.0, 4.0, 5.0], ks=[3, 6, 50], n_seeds=5, alpha_pd=1e-6, iters_pd=1200,
                  tol=0.01, n_instances=5, seed=0),
}

#: Largest operator entries held at once (n_instances * m * n1 * n2, or the phase diagram's matrix).
MAX_ENTRIES = 200_000_000
#: Largest amount of work: sum over the runs of iters * n1 * n2 * (m + k).
MAX_WORK = 2e12
#: Largest runs * k^2 of one engine call: the engine records the k x k imbalance of every run.
MAX_GRAM = 50_000_000
#: Largest number of gradient steps of the phase diagram's calls: len(ratios) * n_seeds * iters_pd.
MAX_STEPS = 5_000_000
#: Fewest independent instances of a fitted quantity.
MIN_INSTANCES = 5

RECORD_EVERY = 10
#: Step size of the phase diagram, times sigma_1(A*(y)).
ETA_SCALE = 0.25
#: Values at the float64 floor are rounding noise: the page shows only a bound.
FLOOR = 1e-12
#: Floor of the relative residual for the late-rate fits.
RATE_FLOOR = 1e-13
#: A run has converged (in training) when its final relative residual is at most this.
CONVERGED = 1e-6


def _m_values(ratios, r: int, n1: int, n2: int) -> list[int]:
    return [max(1, int(round(x * r * (n1 + n2)))) for x in ratios]


def _fit_time(alpha: float, eta: float, sigma_r: float, eps: float) -> int:
    """Escape and fit of the weakest direction: ``(ln(1/alpha) + ln(1/eps)) / (eta sigma_r)`` steps."""
    return int(math.ceil((math.log(1.0 / alpha) + math.log(1.0 / eps)) / (eta * sigma_r)))


def min_horizons(P) -> dict:
    """The smallest step counts the predicted rates allow, per experiment.

    ``iters_b``: the late rate of paper B's phase, of order ``eta_b alpha_b^2``, is fitted over
    the second half of the run, which must cover two e-folds of that scale and start after the
    escape and fit of the weakest direction: ``max(4 / (eta_b alpha_b^2), 2 T_fit)``.
    ``iters``: the same for the small ``alpha`` of experiment 2 (``4 T_fit``), the window of its
    late rate starting after the fit. ``iters_pd``: ``2 T_fit`` at ``alpha_pd`` and the phase
    diagram's step ``ETA_SCALE / sigma_1`` (a lower estimate of ``ETA_SCALE / sigma_1(A*(y))``
    is not available before the operator; ``sigma_1(X*)`` gives the predicted scale).
    ``T_fit = (ln(1/alpha) + ln(1/epsilon)) / (eta sigma_r)``.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (attributes as in :data:`PRESETS`).

    Returns
    -------
    dict of str to int
    """
    sr, s1 = min(float(s) for s in P.sigma), max(float(s) for s in P.sigma)
    eps = float(P.epsilon)
    return {
        "iters_b": int(max(math.ceil(4.0 / (P.eta_b * P.alpha_b ** 2)), 2 * _fit_time(P.alpha_b, P.eta_b, sr, eps))),
        "iters": 4 * _fit_time(min(P.alphas), P.eta, sr, eps),
        "iters_pd": 2 * _fit_time(P.alpha_pd, ETA_SCALE / (1.5 * s1), sr, min(eps, float(P.tol))),
    }


def assumptions(P) -> str:
    """Which run of the page lies inside which paper's stated or reconstructed assumptions.

    Paper A (reconstructed): any width ``k >= r``, RIP of order about ``2 r + 1``, hence
    ``m`` of order ``kappa^8 r^2 (n1 + n2)`` Gaussian measurements. Paper B (reconstructed):
    ``r < k``, RIP of order about ``k`` with ``delta`` of order ``1/sqrt(k)``, hence ``m`` at
    least of order ``k (n1 + n2)``; the start ``(alpha, alpha/3)``.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure`.

    Returns
    -------
    str
    """
    n1, n2, r, m = int(P.n1), int(P.n2), int(P.r), int(P.m)
    kappa = max(P.sigma) / min(P.sigma)
    need_a = kappa ** 8 * r ** 2 * (n1 + n2)
    rows = [("experiment 1, k_b = %d, (alpha, alpha/3)" % P.k_b, P.k_b, "B"),
            ("experiment 2, k_b = %d, (alpha, alpha/3)" % P.k_b, P.k_b, "B"),
            ("experiment 2, k = %d, (alpha, alpha)" % P.k, P.k, "A")]
    lines = [f"{'run (m = %d)' % m:<42} {'paper':>5} {'B: m >= k (n1+n2)':>19} {'A: m >~ kappa^8 r^2 (n1+n2)':>28}"]
    for name, k, paper in rows:
        b = "yes" if m >= k * (n1 + n2) else f"no ({k * (n1 + n2)})"
        a = "yes" if m >= need_a else f"no ({need_a:.0f})"
        lines.append(f"{name:<42} {paper:>5} {b:>19} {a:>28}")
    lines.append(f"phase diagram: m / (r (n1 + n2)) from {min(P.ratios):g} to {max(P.ratios):g}, ks = {list(P.ks)}: "
                 f"below both papers' sample sizes (a measurement, not a test of either paper)")
    return "\n".join(lines)


@parameter_check
def check(P) -> None:
    """Refuse infeasible parameters of the chapter, naming the parameter, and state its regime.

    The regime the claims are stated for (a run outside it goes ahead with one
    :class:`opsense.config.OutsideRegimeWarning`): ``m >= 3 r (n1 + n2)``; paper B's runs inside
    paper B's sample size ``m >= k_b (n1 + n2)``; ``kappa <= 3``; ``eta sigma_1 <= 0.25`` and
    ``eta_b sigma_1 <= 0.1``; ``alpha_b <= 0.1``; the small ``alphas[0] <= 1e-2 sqrt(sigma_1)`` and
    the large ``alphas[1] >= 0.3 sqrt(sigma_1)``; ``epsilon <= 0.01``; ``n_instances >= 5``. The
    wide runs (``k >= max(n1, n2)``) lie outside paper B's assumptions at every ``m < n1 n2``, and
    every run lies below paper A's reconstructed sample size: :func:`assumptions` lists them, and
    the page says which claim tests what.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (attributes as in :data:`PRESETS`).

    Raises
    ------
    ValueError
        For the first infeasible value; the message starts ``"parameter <name> must"``.
    """
    n1, n2, r = v.shape_rank(P.n1, P.n2, P.r)
    sig = v.positive_values("sigma", P.sigma, size=r)
    m = v.integer("m", P.m, minimum=1)
    v.sampled(m, r=r, n1=n1, n2=n2)
    k_b = v.integer("k_b", P.k_b, minimum=1)
    k = v.integer("k", P.k, minimum=1)
    if not r < k_b < max(n1, n2):
        raise ValueError(f"k_b must satisfy r < k_b < max(n1, n2) (paper B's regime), i.e. "
                         f"{r} < k_b < {max(n1, n2)}, got {k_b}")
    if k < max(n1, n2):
        raise ValueError(f"k must be >= max(n1, n2) = {max(n1, n2)} (paper A's regime), got {k}")
    v.integer("seed", P.seed, minimum=0)
    n_inst = v.integer("n_instances", P.n_instances, minimum=2)
    alpha_b = v.real("alpha_b", P.alpha_b, positive=True, below=1.0)
    eta_b = v.real("eta_b", P.eta_b, positive=True)
    iters_b = v.integer("iters_b", P.iters_b, minimum=1)
    alphas = v.sweep("alphas", P.alphas, lambda n, x: v.real(n, x, positive=True))
    if len(alphas) != 2 or not alphas[0] < alphas[1] or alphas[1] >= 1:
        raise ValueError(f"alphas must be [small, large] with small < large < 1, got {alphas}")
    eta = v.real("eta", P.eta, positive=True)
    iters = v.integer("iters", P.iters, minimum=1)
    eps = v.real("epsilon", P.epsilon, positive=True, below=1.0)
    ratios = v.sweep("ratios", P.ratios, lambda n, x: v.real(n, x, positive=True))
    if len(ratios) < 2 or any(b <= a for a, b in zip(ratios, ratios[1:])):
        raise ValueError(f"ratios must hold at least two strictly increasing values, got {ratios}")
    ms = _m_values(ratios, r, n1, n2)
    if len(set(ms)) != len(ms):
        raise ValueError(f"ratios must give distinct numbers of measurements m = round(ratio r (n1 + n2)), "
                         f"got {ms}; space them further")
    ks = v.sweep("ks", P.ks, lambda n, x: v.integer(n, x, minimum=r))
    n_seeds = v.integer("n_seeds", P.n_seeds, minimum=1)
    v.real("alpha_pd", P.alpha_pd, positive=True, below=1.0)
    iters_pd = v.integer("iters_pd", P.iters_pd, minimum=1)
    tol = v.real("tol", P.tol, positive=True)
    need = min_horizons(P)
    for name, have in (("iters_b", iters_b), ("iters", iters), ("iters_pd", iters_pd)):
        if have < need[name]:
            raise ValueError(f"{name} must be >= {need[name]}, the horizon the predicted rates require "
                             f"(opsense.chapters.a5_synthesis.min_horizons), got {have}")
    if iters_b < 2 * RECORD_EVERY:
        raise ValueError(f"iters_b must be >= {2 * RECORD_EVERY} (the late rate is fitted on the recorded "
                         f"points of the second half, every {RECORD_EVERY} steps), got {iters_b}")
    for name, mm, copies in (("m", m, n_inst), ("ratios", ms[-1], 3)):
        if copies * mm * n1 * n2 > MAX_ENTRIES:
            raise ValueError(f"{name} must keep {'n_instances' if name == 'm' else '3'} * m * n1 * n2 <= "
                             f"{MAX_ENTRIES:,} (the operators' memory), got {copies} * {mm} * {n1} * {n2}")
    if 2 * n_inst * k * k > MAX_GRAM:
        raise ValueError(f"k must keep 2 n_instances k^2 <= {MAX_GRAM:,} (the k x k imbalance of every run), "
                         f"got k = {k}")
    if len(ms) * n_seeds * iters_pd > MAX_STEPS:
        raise ValueError(f"n_seeds must keep len(ratios) * n_seeds * iters_pd <= {MAX_STEPS:,} (run time of the "
                         f"phase diagram), got {len(ms)} * {n_seeds} * {iters_pd}")
    if n_seeds * len(ks) * max(ks) ** 2 > MAX_GRAM:
        raise ValueError(f"ks must keep n_seeds * len(ks) * max(ks)^2 <= {MAX_GRAM:,} (the k x k imbalance of "
                         f"every run), got {n_seeds} * {len(ks)} * {max(ks)}^2")
    work = cost(P).work
    if work > MAX_WORK:
        raise ValueError(f"iters must keep the work (opsense.config.Cost) <= {MAX_WORK:.0e} (run time), "
                         f"got {work:.2e}")
    # step sizes used as given must be below the engine's safe bound min(1/(3 sigma_1(A*(y))), 1/L0)
    for s in instance_seeds(P.seed, n_inst):
        prob = make_problem(n1, n2, r, m, sigma=sig, seed=s)
        cap = 1.0 / (3.0 * float(prob.spectral_sigma[0]))
        safe_b = float(step_sizes(prob, k=k_b, alpha=alpha_b, seed=s, eta=cap)[0])   # (alpha, alpha): the larger L0
        if eta_b > safe_b:
            raise ValueError(f"eta_b must be <= {safe_b:.3g} (instance seed {s}), the safe step "
                             f"min(1/(3 sigma_1(A*(y))), 1/L0) of opsense.step_sizes (larger steps may diverge), "
                             f"got {eta_b:g}")
        safe = float(step_sizes(prob, k=[k_b, k], alpha=alphas[0], seed=s, eta=cap).min())
        if eta > safe:
            raise ValueError(f"eta must be <= {safe:.3g} (instance seed {s}), the safe step "
                             f"min(1/(3 sigma_1(A*(y))), 1/L0) of opsense.step_sizes at the small alpha (larger "
                             f"steps may diverge), got {eta:g}")
    s1, sr = max(sig), min(sig)
    rr = r * (n1 + n2)
    regime("a5_synthesis", [
        (m >= 3 * rr, f"m >= 3 r (n1 + n2) = {3 * rr} (m = {m})"),
        (m >= k_b * (n1 + n2), f"paper B's runs: m >= k_b (n1 + n2) = {k_b * (n1 + n2)}, the sample size of an RIP "
                               f"of order k_b (m = {m})"),
        (s1 <= 3 * sr, f"kappa <= 3 (kappa = {s1 / sr:.3g})"),
        (eta * s1 <= 0.25, f"eta sigma_1 <= 0.25 (got {eta * s1:.3g})"),
        (eta_b * s1 <= 0.1, f"eta_b sigma_1 <= 0.1 (got {eta_b * s1:.3g})"),
        (alpha_b <= 0.1, f"alpha_b <= 0.1 (got {alpha_b:g})"),
        (alphas[0] <= 1e-2 * math.sqrt(s1), f"small alpha <= 1e-2 sqrt(sigma_1) (got {alphas[0]:g})"),
        (alphas[1] >= 0.3 * math.sqrt(s1), f"large alpha >= 0.3 sqrt(sigma_1) (got {alphas[1]:g})"),
        (eps <= 0.01, f"epsilon <= 0.01 (got {eps:g})"),
        (n_inst >= MIN_INSTANCES, f"n_instances >= {MIN_INSTANCES} (got {n_inst})"),
    ])


def cost(P) -> Cost:
    """What the three experiments cost, from the parameters alone (pure arithmetic, nothing is run).

    ``work`` sums :func:`run_readings` (``n_instances`` runs of ``iters_b`` steps at ``k_b``),
    :func:`run_options` (per instance six runs of ``iters`` steps, at ``k_b`` and ``k``) and
    :func:`run_phase_diagram` (for each ``m`` of ``ratios``, ``n_seeds * len(ks)`` runs of
    ``iters_pd`` steps at width ``max(ks)``), each step ``n1 n2 (2 m + 3 k)``; reruns after a
    divergence are not counted. ``memory_bytes``: the larger of the instances' operators and the
    phase diagram's master matrix of the largest ``m`` with its rescaled temporary and the
    operator's copy (three of that size), plus the factors and curves of the results the page keeps.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (already checked by :func:`check`).

    Returns
    -------
    opsense.config.Cost
    """
    n1, n2, r, m, N = int(P.n1), int(P.n2), int(P.r), int(P.m), int(P.n_instances)
    k_b, k = int(P.k_b), max(int(P.k), int(P.k_b))
    g = dict(n1=n1, n2=n2, r=r, every=RECORD_EVERY)
    w1, b1 = gd_cost(N, int(P.iters_b), m=m, k=k_b, **g)
    w2, b2 = gd_cost(3 * N, int(P.iters), m=m, k=k_b, **g)
    w3, b3 = gd_cost(3 * N, int(P.iters), m=m, k=k, **g)
    ms = _m_values(P.ratios, r, n1, n2)
    runs, K, T = int(P.n_seeds) * len(P.ks), max(int(x) for x in P.ks), int(P.iters_pd)
    pd = [gd_cost(runs, T, m=mm, n1=n1, n2=n2, k=K, r=r, every=T) for mm in ms]
    operators = 8.0 * max(2 * N * m, 3 * max(ms)) * n1 * n2
    return Cost(memory_bytes=operators + b1 + b2 + b3 + pd[-1][1], work=w1 + w2 + w3 + sum(w for w, _ in pd),
                drivers=("iters_pd", "n_instances", "n_seeds", "ratios", "ks", "iters", "m", "k", "n1", "n2",
                         "iters_b"))


def _problems(P) -> tuple[list, list]:
    seeds = instance_seeds(P.seed, P.n_instances)
    return seeds, [make_problem(P.n1, P.n2, P.r, P.m, sigma=P.sigma, seed=s) for s in seeds]


def _txt(x: float) -> str:
    return f"{x:.1e}" if x > FLOOR else f"< {FLOOR:.0e}"


def _iv(values, log: bool = False) -> Interval:
    return instance_interval(np.asarray(values, dtype=float), log=log)


def _ivtext(iv: Interval, digits: int = 3) -> str:
    """``mean [lo, hi]`` rounded to ``digits`` significant digits (the page's text)."""
    return f"{rounded(iv.mean, digits)} [{rounded(iv.lo, digits)}, {rounded(iv.hi, digits)}]"


# ---------------------------------------------------------------------------- 1. both readings
#: Initial draws for the distribution of lambda_min(Delta_0) / alpha^2 (no gradient descent: cheap).
N_DRAWS = 400


@dataclass(frozen=True)
class Readings:
    """Experiment 1: ``N`` instances from paper B's imbalanced start.

    Attributes
    ----------
    result : GDResult
        ``N`` runs (``init="imbalanced"``), width ``k_b``, one per instance.
    sigma_r : float
        Smallest singular value of the targets.
    alpha, eta : float
        Initialization scale and step size.
    lam0, lamT : ndarray of shape (N,)
        :math:`\\lambda_{\\min}(\\Delta_0)` and :math:`\\lambda_{\\min}(\\Delta_T)`.
    drift : ndarray of shape (N,)
        :math:`\\|\\Delta_T-\\Delta_0\\|` (operator norm).
    late : ndarray of shape (N,)
        Linear rate of the relative test error over the second half of each run.
    draws : ndarray of shape (N_DRAWS,)
        :math:`\\lambda_{\\min}(\\Delta_0)/\\alpha^2` of paper B's start for ``N_DRAWS`` independent
        initializations at the chapter's ``n1, n2, k_b`` (the first ``N`` are the instances').
    seconds : float
        Run time.
    """

    result: GDResult
    sigma_r: float
    alpha: float
    eta: float
    lam0: np.ndarray
    lamT: np.ndarray
    drift: np.ndarray
    late: np.ndarray
    draws: np.ndarray
    seconds: float = 0.0

    @property
    def imbalance_max(self) -> np.ndarray:
        """:math:`\\max_t\\|\\Delta_t\\|/\\sigma_r` per instance, shape (N,)."""
        return self.result.imbalance_op.max(axis=1) / self.sigma_r


def run_readings(P) -> Readings:
    """Experiment 1 with the parameters ``P`` (see :data:`PRESETS`).

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure`, already checked by :func:`check`.

    Returns
    -------
    Readings
    """
    start = time.perf_counter()
    seeds, probs = _problems(P)
    rb = run_gd(probs, k=P.k_b, alpha=P.alpha_b, eta=P.eta_b, iters=P.iters_b, init="imbalanced", seed=seeds,
                record_every=RECORD_EVERY)
    lam0, lamT, drift, late = (np.empty(len(seeds)) for _ in range(4))
    for j, s in enumerate(seeds):
        D0 = imbalance(*initial_factors(P.n1, P.n2, P.k_b, P.alpha_b, init="imbalanced", seed=s))
        DT = imbalance(rb.U[j], rb.V[j])
        lam0[j], lamT[j] = np.linalg.eigvalsh(D0)[0], np.linalg.eigvalsh(DT)[0]
        drift[j] = np.linalg.norm(DT - D0, 2)
        late[j] = fit_rate(rb.t, rb.rel_error[j], window=(P.iters_b / 2, P.iters_b)).estimate
    draws = np.array([np.linalg.eigvalsh(imbalance(*initial_factors(P.n1, P.n2, P.k_b, 1.0, init="imbalanced",
                                                                    seed=s)))[0]
                      for s in instance_seeds(P.seed, max(N_DRAWS, len(seeds)))])
    return Readings(rb, float(min(P.sigma)), float(P.alpha_b), float(P.eta_b), lam0, lamT, drift, late, draws,
                    time.perf_counter() - start)


def readings_summary(exp: Readings) -> str:
    """What experiment 1 prints: mean [95% interval] over the instances of each reading.

    Parameters
    ----------
    exp : Readings

    Returns
    -------
    str
    """
    a2 = exp.alpha ** 2
    q = np.quantile(exp.draws, [0.05, 0.5, 0.95])
    return "\n".join([
        f"{exp.lam0.size} instances, mean [95% interval]:",
        f"  max_t ||Delta_t|| / sigma_r            {_iv(exp.imbalance_max)}",
        f"  lambda_min(Delta_0) / alpha^2          {_iv(exp.lam0 / a2)}   (8/9 = 0.889 only for n >> k)",
        f"  lambda_min(Delta_T) / lambda_min(D_0)  {_iv(exp.lamT / exp.lam0)}",
        f"  drift / lambda_min(Delta_0)            {_iv(exp.drift / exp.lam0, log=True)}",
        f"  late rate / (mu lambda_min(Delta_0))   {_iv(exp.late / (exp.eta * exp.lam0), log=True)}",
        f"  final test error                       {_iv(exp.result.rel_error[:, -1], log=True)}",
        f"lambda_min(Delta_0) / alpha^2 over {exp.draws.size} initializations: 5% {q[0]:.3f}, median {q[1]:.3f}, "
        f"95% {q[2]:.3f}; fraction <= 0: {np.mean(exp.draws <= 0):.3f}"])


def plot_readings(exp: Readings):
    """Figure of experiment 1: ``||Delta_t|| / sigma_r`` per instance, and the distribution of
    ``lambda_min(Delta_0) / alpha^2`` against the large-``n`` value 8/9.

    Parameters
    ----------
    exp : Readings

    Returns
    -------
    fig, axes (1 x 2)
    """
    if not isinstance(exp, Readings):
        raise ValueError(f"exp must be a Readings experiment, got {type(exp).__name__}")
    fig, axes = figure(ncols=2, width=10.0, height=3.6)
    res = exp.result
    for j in range(res.batch_size):
        axes[0].semilogy(res.t, res.imbalance_op[j] / exp.sigma_r, color="C0", lw=1, alpha=0.7,
                         label="‖Δ_t‖ / σ_r, each instance" if j == 0 else None)
        axes[0].axhline(exp.lam0[j] / exp.sigma_r, color="C1", lw=0.8, ls=":",
                        label="λ_min(Δ_0) / σ_r" if j == 0 else None)
    axes[0].set_xlabel("iteration t")
    axes[0].set_title(f"(a) paper B's start, {param_label('alpha', exp.alpha)}")
    axes[0].legend(fontsize=7)
    axes[1].hist(exp.draws, bins=30, color="C0", alpha=0.7, label=f"{exp.draws.size} initializations")
    axes[1].plot(exp.lam0 / exp.alpha ** 2, np.zeros_like(exp.lam0), "k|", ms=20, label="the instances")
    axes[1].axvline(8 / 9, color="k", ls="--", lw=1, label="8/9 (n ≫ k)")
    axes[1].set_xlabel("λ_min(Δ_0) / α²")
    axes[1].set_ylabel("count")
    axes[1].set_title("(b) the smallest initial imbalance")
    axes[1].legend(fontsize=7)
    return fig, axes


# ---------------------------------------------------------------------------- 2. the options
@dataclass(frozen=True)
class Options:
    """Experiment 2 over ``N`` instances: vanilla small and large ``alpha``, and the one-step fix.

    Attributes
    ----------
    vanilla_b, vanilla_a : GDResult
        ``2 N`` runs each, run ``2 j`` the small and ``2 j + 1`` the large ``alpha`` of instance
        ``j``: width ``k_b`` from paper B's start, width ``k`` from paper A's start.
    fixed_b, fixed_a : GDResult
        ``N`` runs each at the small ``alpha`` with the rebalancing step (same widths and starts).
    rates_b : ndarray of shape (2, N)
        Late linear rate of the relative residual of the vanilla ``k_b`` runs (small, large).
    at_trigger_a, at_trigger_b : ndarray of shape (N,)
        Relative test error of the fixed runs at the rebalancing step.
    iters : int
    seconds : float
        Run time.
    """

    vanilla_b: GDResult
    vanilla_a: GDResult
    fixed_b: GDResult
    fixed_a: GDResult
    rates_b: np.ndarray
    at_trigger_a: np.ndarray
    at_trigger_b: np.ndarray
    iters: int
    seconds: float = 0.0

    @property
    def test_a(self) -> np.ndarray:
        """Final relative test error of the vanilla width-``k`` runs, shape (2, N): small, large ``alpha``."""
        return self.vanilla_a.rel_error[:, -1].reshape(-1, 2).T

    @property
    def test_b(self) -> np.ndarray:
        """Final relative test error of the vanilla width-``k_b`` runs, shape (2, N)."""
        return self.vanilla_b.rel_error[:, -1].reshape(-1, 2).T

    @property
    def residual_a(self) -> np.ndarray:
        """Final relative residual of the vanilla width-``k`` runs, shape (2, N)."""
        return self.vanilla_a.residual[:, -1].reshape(-1, 2).T


def _late_rate(res: GDResult, b: int, iters: int) -> float:
    """Late rate of run ``b``'s relative residual: the second half of ``[iters / 2, t_floor]``; a run
    at the floor before ``iters / 2`` gets the window's second half from the end of its fit instead."""
    err = res.residual[b]
    above = np.flatnonzero(err > RATE_FLOOR)
    t_floor = float(res.t[above[-1]]) if above.size else 0.0
    start = iters / 2 if t_floor > iters / 2 + 4 * RECORD_EVERY else t_floor / 4
    try:
        return late_rate(res.t, err, start=start, floor=RATE_FLOOR).estimate
    except ValueError:
        return float("nan")


def _stack(results: list) -> GDResult:
    """One :class:`opsense.GDResult` from several with the same recorded iterations (runs concatenated)."""
    from dataclasses import fields, replace
    first = results[0]
    out = {}
    for f in fields(first):
        x = getattr(first, f.name)
        if f.name in ("parameterization", "t") or x is None:
            continue
        out[f.name] = np.concatenate([getattr(r, f.name) for r in results], axis=0)
    return replace(first, **out)


def run_options(P) -> Options:
    """Experiment 2 with the parameters ``P`` (see :data:`PRESETS`).

    The large ``alpha`` gets the step :func:`opsense.step_sizes` (``min(eta, 1/L0)``); the
    fixed runs apply :func:`opsense.rebalance` once the relative residual is ``<= epsilon``.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure`, already checked by :func:`check`.

    Returns
    -------
    Options
    """
    start = time.perf_counter()
    seeds, probs = _problems(P)
    a2 = [float(P.alphas[0]), float(P.alphas[1])]
    out = {}
    for name, k, init in (("b", int(P.k_b), "imbalanced"), ("a", int(P.k), "random")):
        # per instance, its two runs share the operator (one matrix-matrix product per step)
        out["vanilla_" + name] = _stack([run_gd(p, k=k, alpha=a2, eta=step_sizes(p, k=k, alpha=a2, seed=s, eta=P.eta),
                                                iters=P.iters, init=init, seed=s, record_every=RECORD_EVERY,
                                                tol=CONVERGED) for p, s in zip(probs, seeds)])
        out["fixed_" + name] = run_gd(probs, k=k, alpha=P.alphas[0], eta=P.eta, iters=P.iters, init=init,
                                      seed=seeds, record_every=RECORD_EVERY, rebalance_tol=P.epsilon, tol=CONVERGED)
    van_b = out["vanilla_b"]
    rates = np.array([_late_rate(van_b, b, P.iters) for b in range(van_b.batch_size)]).reshape(-1, 2).T
    trig = {}
    for name in ("a", "b"):
        fx = out["fixed_" + name]
        trig[name] = np.array([float(fx.rel_error[b, int(np.searchsorted(fx.t, fx.rebalanced_at[b]))])
                               if fx.rebalanced_at[b] >= 0 else float("nan") for b in range(fx.batch_size)])
    return Options(out["vanilla_b"], out["vanilla_a"], out["fixed_b"], out["fixed_a"], rates, trig["a"], trig["b"],
                   int(P.iters), time.perf_counter() - start)


def options_summary(exp: Options) -> str:
    """The table of experiment 2: mean [95% interval] over the instances (geometric for errors and rates).

    Parameters
    ----------
    exp : Options

    Returns
    -------
    str
    """
    van_b, van_a, fb, fa = exp.vanilla_b, exp.vanilla_a, exp.fixed_b, exp.fixed_a
    N = fb.batch_size

    def g(x):
        x = np.asarray(x, dtype=float)
        return str(_iv(np.maximum(x, FLOOR / 10), log=True)).rsplit(" (", 1)[0] if np.all(np.isfinite(x)) else "n/a"

    a_s, a_l = float(van_b.alpha[0]), float(van_b.alpha[1])
    lines = [f"{N} instances; test error, residual and late rate: geometric mean [95% interval]",
             f"{'run':<34} {'test error':>28} {'residual':>28} {'late rate':>26} {'converged':>9}"]
    for name, res, k, start in (("k_b", van_b, int(van_b.k[0]), "(a, a/3)"), ("k", van_a, int(van_a.k[0]), "(a, a)")):
        for i, a in enumerate((a_s, a_l)):
            sel = slice(i, None, 2)
            rate = g(exp.rates_b[i]) if name == "k_b" else ""
            lines.append(f"{f'vanilla k={k} {start}, alpha={a:g}':<34} {g(res.rel_error[sel, -1]):>28} "
                         f"{g(res.residual[sel, -1]):>28} {rate:>26} {int(res.converged[sel].sum()):>5}/{N}")
    for res, trig, start in ((fb, exp.at_trigger_b, "(a, a/3)"), (fa, exp.at_trigger_a, "(a, a)")):
        k = int(res.k[0])
        lines.append(f"{f'fix k={k} {start}, alpha={a_s:g}':<34} {g(res.rel_error[:, -1]):>28} "
                     f"{g(res.residual[:, -1]):>28} {'':>26} {int(res.converged.sum()):>5}/{N}")
        lines.append(f"{'':<34}   step at t = {int(res.rebalanced_at.min())} to {int(res.rebalanced_at.max())}, "
                     f"test error there {g(trig)}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- 3. the phase diagram
@dataclass(frozen=True)
class PhaseDiagram:
    """Recovery success over numbers of measurements, widths and seeds.

    Attributes
    ----------
    ratios : ndarray of shape (M,)
        ``m / (r (n1 + n2))`` for each number of measurements.
    m_values : ndarray of int, shape (M,)
    ks : ndarray of int, shape (K,)
    seeds : ndarray of int, shape (S,)
        Seed of each target.
    test_error : ndarray of shape (M, K, S)
        Final relative test error :math:`\\|U_TV_T^\\top-X^\\star\\|_F/\\|X^\\star\\|_F`
        (``inf`` if the run diverged: a failure).
    eta : ndarray of shape (M, S)
        Step size of each run: ``eta_scale / sigma_1(A*(y))``.
    tol : float
        Success means ``test_error < tol``.
    r, n1, n2 : int
    sigma : ndarray of shape (r,)
        Singular values of every target, decreasing.
    seconds : float
        Run time.
    """

    ratios: np.ndarray
    m_values: np.ndarray
    ks: np.ndarray
    seeds: np.ndarray
    test_error: np.ndarray
    eta: np.ndarray
    tol: float
    r: int
    n1: int
    n2: int
    sigma: np.ndarray
    seconds: float = 0.0

    @property
    def kappa(self) -> float:
        """Condition number of the targets, ``sigma_1 / sigma_r``."""
        return float(self.sigma[0] / self.sigma[-1])

    @property
    def success(self) -> np.ndarray:
        """Boolean ndarray of shape (M, K, S): ``test_error < tol``."""
        return self.test_error < self.tol

    @property
    def rate(self) -> np.ndarray:
        """Success rate over the seeds, ndarray of shape (M, K)."""
        return self.success.mean(axis=2)

    @property
    def diverged(self) -> int:
        """Number of runs that diverged (counted as failures)."""
        return int(np.count_nonzero(np.isinf(self.test_error)))

    def transition(self, level: float = 0.5) -> np.ndarray:
        """Smallest ratio whose success rate is ``>= level``, per ``k`` (NaN if none).

        Parameters
        ----------
        level : float in (0, 1]

        Returns
        -------
        ndarray of shape (K,)
        """
        level = v.real("level", level, positive=True)
        out = np.full(len(self.ks), np.nan)
        for j in range(len(self.ks)):
            idx = np.flatnonzero(self.rate[:, j] >= level)
            if idx.size:
                out[j] = self.ratios[idx[0]]
        return out

    def largest_drop(self) -> np.ndarray:
        """Per ``k``, the largest decrease of the success rate from one ratio to any larger one, shape (K,)."""
        rate = self.rate
        best_before = np.maximum.accumulate(rate, axis=0)
        return np.max(best_before - rate, axis=0)


def _final_errors(problem: Problem, ks: list[int], *, alpha: float, eta: float, iters: int, seed: int) -> np.ndarray:
    """Final relative test errors of the widths ``ks`` (one engine call; ``inf`` for a diverged run)."""
    try:
        res = run_gd(problem, k=ks, alpha=alpha, eta=eta, iters=iters, seed=seed, record_every=iters)
        return res.rel_error[:, -1]
    except DivergenceError:  # at least one width diverged: run them one by one to find which
        out = np.empty(len(ks))
        for j, k in enumerate(ks):
            try:
                out[j] = run_gd(problem, k=k, alpha=alpha, eta=eta, iters=iters, seed=seed,
                                record_every=iters).rel_error[0, -1]
            except DivergenceError:
                out[j] = np.inf
        return out


def phase_diagram(n1: int, n2: int, r: int, *, sigma, ratios, ks, n_seeds: int, alpha: float,
                  iters: int, eta_scale: float = ETA_SCALE, tol: float = 1e-2, seed: int = 0) -> PhaseDiagram:
    """Recovery success of small-initialization gradient descent against ``m`` and ``k``.

    For each number of measurements ``m = round(ratio * r * (n1 + n2))`` the operator is
    the first ``m`` rows of one Gaussian matrix, rescaled to entries ``N(0, 1/m)`` (so the
    operators are nested). Seed ``s`` has its own target (:func:`opsense.low_rank_target`,
    Haar singular vectors, singular values ``sigma``) and its own initialization
    (:func:`opsense.initial_factors`, nested in ``k``). For each ``(m, s)`` one call of
    :func:`opsense.run_gd` runs every width, with the step size
    ``eta_scale / sigma_1(A*(y))`` of that problem; all the seeds of one ``m`` advance
    together in one batched call (a list of problems sharing the operator). A run that
    diverges (:class:`opsense.DivergenceError`) counts as a failure (test error ``inf``):
    then the seeds of that ``m`` are run again one by one to find it.

    Parameters
    ----------
    n1, n2, r : int
        Shape and rank of the targets.
    sigma : sequence of r floats > 0, keyword-only
        Singular values of every target.
    ratios : sequence of float > 0, keyword-only
        Strictly increasing values of ``m / (r (n1 + n2))``; the ``m`` must be distinct.
    ks : sequence of int >= r, keyword-only
        Widths of the factors.
    n_seeds : int >= 1, keyword-only
        Targets and initializations per ``(m, k)``.
    alpha : float > 0, keyword-only
        Initialization scale.
    iters : int >= 1, keyword-only
        Gradient steps of every run.
    eta_scale : float in (0, 1), keyword-only
        Step size times :math:`\\sigma_1(\\mathcal A^*(y))`, an estimate of :math:`\\|X^\\star\\|`.
    tol : float > 0, keyword-only
        Success threshold on the final relative test error.
    seed : int >= 0, keyword-only
        Seed of the Gaussian matrix, the targets and the initializations.

    Returns
    -------
    PhaseDiagram
    """
    n1, n2, r = v.shape_rank(n1, n2, r)
    sig = v.array("sigma", sigma, shape=(r,))
    if np.any(sig <= 0):
        raise ValueError(f"sigma must hold {r} positive values, got {sig.tolist()}")
    rat = v.sweep("ratios", ratios, lambda n, x: v.real(n, x, positive=True))
    if any(b <= a for a, b in zip(rat, rat[1:])):
        raise ValueError(f"ratios must be strictly increasing, got {rat}")
    ms_ = _m_values(rat, r, n1, n2)
    if len(set(ms_)) != len(ms_):
        raise ValueError(f"ratios give repeated numbers of measurements {ms_}; space them further")
    kk = v.sweep("ks", ks, lambda n, x: v.integer(n, x, minimum=r))
    n_seeds = v.integer("n_seeds", n_seeds, minimum=1)
    alpha = v.real("alpha", alpha, positive=True)
    iters = v.integer("iters", iters, minimum=1)
    eta_scale = v.real("eta_scale", eta_scale, positive=True, below=1.0)
    tol = v.real("tol", tol, positive=True)
    seed = v.integer("seed", seed, minimum=0)

    start = time.perf_counter()
    s_mat, s_tgt, s_init = np.random.SeedSequence(seed).spawn(3)
    master = np.random.default_rng(s_mat).standard_normal((ms_[-1], n1 * n2))
    tseeds = [int(x) for x in s_tgt.generate_state(n_seeds)]
    iseeds = [int(x) % (2 ** 31) for x in s_init.generate_state(n_seeds)]
    targets = [low_rank_target(n1, n2, r, sigma=sig, seed=ts) for ts in tseeds]
    errors = np.empty((len(ms_), len(kk), n_seeds))
    etas = np.empty((len(ms_), n_seeds))
    K = len(kk)
    for i, m in enumerate(ms_):
        op = SensingOperator.from_matrix(master[:m] / np.sqrt(m), n1, n2)
        probs = [Problem.from_parts(targets[s], op) for s in range(n_seeds)]
        etas[i] = [eta_scale / float(p.spectral_sigma[0]) for p in probs]
        try:   # every (seed, width) of this m in one batched engine call, seed-major
            res = run_gd([p for p in probs for _ in kk], k=kk * n_seeds, alpha=alpha,
                         eta=np.repeat(etas[i], K).tolist(), iters=iters,
                         seed=[iseeds[s] for s in range(n_seeds) for _ in kk], record_every=iters)
            errors[i] = res.rel_error[:, -1].reshape(n_seeds, K).T
        except DivergenceError:
            for s in range(n_seeds):
                errors[i, :, s] = _final_errors(probs[s], kk, alpha=alpha, eta=etas[i, s], iters=iters,
                                                seed=iseeds[s])
    return PhaseDiagram(np.asarray(rat), np.asarray(ms_), np.asarray(kk), np.asarray(tseeds), errors, etas,
                        tol, r, n1, n2, np.sort(sig)[::-1], time.perf_counter() - start)


def run_phase_diagram(P) -> PhaseDiagram:
    """Experiment 3 with the parameters ``P`` (see :data:`PRESETS`).

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure`, already checked by :func:`check`.

    Returns
    -------
    PhaseDiagram
    """
    return phase_diagram(P.n1, P.n2, P.r, sigma=P.sigma, ratios=P.ratios, ks=P.ks, n_seeds=P.n_seeds,
                         alpha=P.alpha_pd, iters=P.iters_pd, tol=P.tol, seed=P.seed)


def phase_summary(pd: PhaseDiagram) -> str:
    """The success rates, transitions and the sample sizes they are compared with.

    Parameters
    ----------
    pd : PhaseDiagram

    Returns
    -------
    str
    """
    trans = pd.transition(0.5)
    kappa, r, n1, n2 = pd.kappa, pd.r, pd.n1, pd.n2
    lines = ["success rate (rows: k; columns: m / (r (n1 + n2)) = " + ", ".join(f"{x:g}" for x in pd.ratios) + ")"]
    for j, kk in enumerate(pd.ks):
        rates = "  ".join(f"{x:4.2f}" for x in pd.rate[:, j])
        lines.append(f"k = {kk:>3}: {rates}   transition at {trans[j]:g}")
    lines.append(f"diverged runs (counted as failures): {pd.diverged}")
    lines.append(f"dimension of the rank-r matrices: r (n1 + n2 - r) / (r (n1 + n2)) = {(n1 + n2 - r) / (n1 + n2):.3f}")
    lines.append(f"reconstructed sufficient size kappa^8 r^2 (n1 + n2) / (r (n1 + n2)) = kappa^8 r = "
                 f"{kappa ** 8 * r:.0f} (up to constants), i.e. m >~ {kappa ** 8 * r ** 2 * (n1 + n2):.0f} "
                 f"vs n1 n2 = {n1 * n2}")
    return "\n".join(lines)



# ---------------------------------------------------------------------------- glue and claims
def glue_values(readings: Readings, options: Options, pd: PhaseDiagram) -> dict:
    """The numbers the chapter's prose quotes, by glue name (rounded as the page shows them).

    Parameters
    ----------
    readings : Readings
    options : Options
    pd : PhaseDiagram

    Returns
    -------
    dict of str to float, int or str
    """
    rb, o = readings, options
    trans = pd.transition(0.5)
    kappa, r, n1, n2 = pd.kappa, pd.r, pd.n1, pd.n2
    finite = trans[np.isfinite(trans)]
    a_small, a_large = float(o.vanilla_b.alpha[0]), float(o.vanilla_b.alpha[1])
    test_a, test_b = o.test_a, o.test_b
    fb, fa = o.fixed_b, o.fixed_a
    q = np.quantile(rb.draws, [0.05, 0.95])
    return {
        "a5_n": int(rb.lam0.size), "a5_alpha_b": rb.alpha,
        "a5_imb_max": _ivtext(_iv(rb.imbalance_max), 2), "a5_lam0_rel": _ivtext(_iv(rb.lam0 / rb.alpha ** 2), 3),
        "a5_lam0_q05": rounded(q[0], 2), "a5_lam0_q95": rounded(q[1], 2), "a5_n_draws": int(rb.draws.size),
        "a5_lam_ratio": _ivtext(_iv(rb.lamT / rb.lam0), 3), "a5_drift_rel": _ivtext(_iv(100 * rb.drift / rb.lam0, log=True), 2),
        "a5_drift_rel_max": rounded(100 * float(np.max(rb.drift / rb.lam0)), 2),
        "a5_late_b_rel": _ivtext(_iv(rb.late / (rb.eta * rb.lam0), log=True), 2),
        "a5_k": int(o.vanilla_a.k[0]), "a5_kb": int(o.vanilla_b.k[0]), "a5_eta": float(fa.eta[0]),
        "a5_test_small_A": _ivtext(_iv(test_a[0], log=True), 2), "a5_test_large_A": _ivtext(_iv(test_a[1], log=True), 2),
        "a5_res_small_A": _ivtext(_iv(o.residual_a[0], log=True), 2),
        "a5_res_large_A": _txt(float(o.residual_a[1].max())),
        "a5_gen_ratio": _ivtext(_iv(test_a[1] / test_a[0], log=True), 2),
        "a5_trig_A": f"{int(fa.rebalanced_at.min())} to {int(fa.rebalanced_at.max())}",
        "a5_at_trig_A": _ivtext(_iv(o.at_trigger_a, log=True), 2),
        "a5_test_fix_A": _ivtext(_iv(fa.rel_error[:, -1], log=True), 2),
        "a5_res_fix_A": _txt(float(fa.residual[:, -1].max())),
        "a5_frozen": _ivtext(_iv(fa.rel_error[:, -1] / o.at_trigger_a, log=True), 2),
        "a5_rate_ratio_B": _ivtext(_iv(o.rates_b[0] / o.rates_b[1], log=True), 2),
        "a5_rate_small_B": _ivtext(_iv(o.rates_b[0], log=True), 2),
        "a5_rate_large_B": _ivtext(_iv(o.rates_b[1], log=True), 2),
        "a5_alpha_ratio2": rounded((a_large / a_small) ** 2, 2),
        "a5_trig_B": f"{int(fb.rebalanced_at.min())} to {int(fb.rebalanced_at.max())}",
        "a5_test_fix_B": _txt(float(fb.rel_error[:, -1].max())),
        "a5_test_small_B": _ivtext(_iv(test_b[0], log=True), 2),
        "a5_fix_gain_B": _ivtext(_iv(test_b[0] / np.maximum(fb.rel_error[:, -1], FLOOR / 10), log=True), 2),
        "a5_iters": int(o.iters), "a5_iters_b": int(readings.result.t[-1]),
        "a5_max_drop": rounded(pd.largest_drop().max(), 2),
        "a5_trans_min": rounded(finite.min()) if finite.size else float("nan"),
        "a5_trans_max": rounded(finite.max()) if finite.size else float("nan"),
        "a5_dof": rounded((n1 + n2 - r) / (n1 + n2)), "a5_theory": rounded(kappa ** 8 * r),
        "a5_theory_over_entries": rounded(kappa ** 8 * r ** 2 * (n1 + n2) / (n1 * n2), 2),
    }


#: Paper A's generalization, as a paired ratio: large-alpha over small-alpha test error, per instance.
GEN_RATIO = 10.0
#: Paper B's fix, as a paired ratio: vanilla small-alpha over fixed test error at width k_b.
FIX_GAIN = 100.0


def claims(readings: Readings, options: Options, pd: PhaseDiagram) -> list[Claim]:
    """The chapter's claims (see the page's "Claims" section for the basis of each tolerance).

    Parameters
    ----------
    readings : Readings
    options : Options
    pd : PhaseDiagram

    Returns
    -------
    list of Claim
    """
    rb, o = readings, options
    k, k_b = int(o.vanilla_a.k[0]), int(o.vanilla_b.k[0])
    trans = pd.transition(0.5)
    lam_ratio = np.where(rb.lam0 > 0, rb.lamT / np.where(rb.lam0 > 0, rb.lam0, 1.0), -1.0)
    rate_ratio = o.rates_b[0] / o.rates_b[1]
    fix_b = np.maximum(o.fixed_b.rel_error[:, -1], FLOOR / 10)        # at the float64 floor: a bound
    return [
        between("a5.A-balanced", "max_t ||Delta_t|| / sigma_r, paper B's start, per instance",
                _iv(rb.imbalance_max), 0.0, 0.1, basis="derived-on-page",
                tolerance="0.1 sigma_r (order alpha^2 + drift), whole interval"),
        between("a5.B-imbalanced", "lambda_min(Delta_T) / lambda_min(Delta_0), with lambda_min(Delta_0) > 0",
                _iv(lam_ratio), 0.5, 1.5, basis="derived-on-page",
                tolerance="Weyl: 1 -+ drift / lambda_min(Delta_0), whole interval"),
        at_least("a5.A-generalization", f"k = {k}, paper A's start: large-alpha / small-alpha test error, per instance",
                 _iv(o.test_a[1] / o.test_a[0], log=True), GEN_RATIO, basis="theory",
                 form="paired-ratio", tolerance=f">= {GEN_RATIO:g}, whole interval (paper A gives only an order)"),
        at_most("a5.B-slow-end", f"k = {k_b}, paper B's start: late rate at small alpha / at large alpha, per instance",
                _iv(rate_ratio, log=True) if np.all(np.isfinite(rate_ratio) & (rate_ratio > 0)) else float("nan"),
                1.0, basis="theory", form="paired-ratio", tolerance="< 1, whole interval (rate of order alpha^2)"),
        at_least("a5.fix-both", f"k = {k_b}, paper B's start: vanilla small-alpha / fixed test error, per instance",
                 _iv(o.test_b[0] / fix_b, log=True), FIX_GAIN, basis="theory", form="paired-ratio",
                 tolerance=f">= {FIX_GAIN:g}, whole interval (exact recovery against a slow end)"),
        at_least("a5.fix-frozen", f"k = {k}: test error after the fix / its value at the trigger, per instance",
                 _iv(o.fixed_a.rel_error[:, -1] / o.at_trigger_a, log=True), 0.5, basis="derived-on-page",
                 form="paired-ratio", tolerance="factor 2, whole interval"),
        at_most("a5.monotone", "largest decrease of the success rate as m grows, over every k",
                float(pd.largest_drop().max()), 0.0, basis="derived-on-page", tolerance="exact (nested operators)"),
        at_most("a5.transition", "largest transition ratio m / (r (n1 + n2)) over k (NaN: never reached)",
                float(np.max(trans)), float(np.nextafter(5.0, 0.0)), basis="specification",
                tolerance="below 5 (specification)"),
    ]


def evaluate(P) -> list[Claim]:
    """The chapter's whole computation, as its notebook runs it, and its claims.

    The notebook's calls, in its order: :func:`run_readings`, :func:`run_options`,
    :func:`run_phase_diagram` and :func:`claims`.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure`.

    Returns
    -------
    list of Claim
        The list that the notebook passes to :func:`opsense.evaluate_claims`.
    """
    readings = run_readings(P)
    options = run_options(P)
    pd = run_phase_diagram(P)
    return claims(readings, options, pd)


# ---------------------------------------------------------------------------- figures
def plot_options(exp: Options):
    """Figure of experiment 2: test error over time, one panel per width, every instance drawn.

    Parameters
    ----------
    exp : Options

    Returns
    -------
    fig, axes
    """
    if not isinstance(exp, Options):
        raise ValueError(f"exp must be an Options experiment, got {type(exp).__name__}")
    fig, axes = figure(ncols=2, width=10.0, height=3.8)
    for ax, van, fix, start in ((axes[0], exp.vanilla_b, exp.fixed_b, "(α, α/3)"),
                                (axes[1], exp.vanilla_a, exp.fixed_a, "(α, α)")):
        for i, ls in ((0, "-"), (1, "-")):
            for j, b in enumerate(range(i, van.batch_size, 2)):
                ax.semilogy(van.t, np.maximum(van.rel_error[b], 1e-17), ls=ls, color=f"C{i}", lw=1, alpha=0.7,
                            label=f"vanilla, {param_label('alpha', float(van.alpha[b]))}" if j == 0 else None)
        for b in range(fix.batch_size):
            ax.semilogy(fix.t, np.maximum(fix.rel_error[b], 1e-17), ls="--", color="C2", lw=1, alpha=0.7,
                        label=f"one-step fix, {param_label('alpha', float(fix.alpha[b]))}" if b == 0 else None)
        ax.set_xlabel("iteration t")
        ax.set_ylabel("relative test error")
        ax.set_title(f"k = {int(van.k[0])}, start {start}")
        ax.legend(fontsize=7)
    return fig, axes


def plot_phase_diagram(diagram: PhaseDiagram):
    """Success rate against ``m / (r (n1 + n2))`` and ``k``: a map and one curve per ``k``.

    Parameters
    ----------
    diagram : PhaseDiagram

    Returns
    -------
    fig, (ax_map, ax_curves)
    """
    if not isinstance(diagram, PhaseDiagram):
        raise ValueError(f"diagram must be a PhaseDiagram, got {type(diagram).__name__}")
    rate = diagram.rate
    fig, (ax1, ax2) = figure(ncols=2, width=10.0, height=3.8)
    im = ax1.imshow(rate.T, origin="lower", aspect="auto", cmap="viridis", vmin=0, vmax=1)
    ax1.set_xticks(range(len(diagram.ratios)), [f"{x:g}" for x in diagram.ratios])
    ax1.set_yticks(range(len(diagram.ks)), [str(k) for k in diagram.ks])
    for i in range(rate.shape[0]):
        for j in range(rate.shape[1]):
            ax1.text(i, j, f"{rate[i, j]:.2g}", ha="center", va="center", fontsize=8,
                     color="k" if rate[i, j] > 0.5 else "w")
    ax1.set_xlabel("m / (r (n1 + n2))")
    ax1.set_ylabel("width k")
    ax1.set_title(f"success rate (test error < {diagram.tol:g}), {diagram.seeds.size} seeds")
    ax1.grid(False)
    fig.colorbar(im, ax=ax1, label="success rate")
    styles = ["o-", "s--", "^:", "D-.", "v-"]
    for j, k in enumerate(diagram.ks):
        ax2.plot(diagram.ratios, rate[:, j], styles[j % len(styles)], ms=7 - j, label=f"k = {k}")
    ax2.axhline(0.5, color="k", ls=":", lw=1)
    ax2.set_xlabel("m / (r (n1 + n2))")
    ax2.set_ylabel("success rate")
    ax2.set_title(f"{diagram.n1} x {diagram.n2}, rank {diagram.r}")
    ax2.legend()
    return fig, (ax1, ax2)
