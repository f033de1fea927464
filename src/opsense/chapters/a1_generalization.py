"""Chapter ``a1_generalization``: generalization needs small initialization (paper A).

With :math:`k \\gg r` columns and :math:`m < n_1n_2` measurements, the factorized model
:math:`UV^\\top` interpolates the data with infinitely many matrices far from
:math:`X^\\star`; gradient descent from a small random initialization
:math:`U_0=\\alpha\\tilde U`, :math:`V_0=\\alpha\\tilde V` still finds one close to it, with a
test error polynomially small in :math:`\\alpha` (Soltanolkotabi, Stöger & Xie; the shape of
the statement is reconstructed, see the page).

:func:`alpha_sweep` runs factorized gradient descent on ``n_instances`` independent
instances (target, operator and initialization re-drawn, :func:`opsense.instance_seeds`) for
every initialization scale ``alpha``, batched in one call, plus exact-rank runs (``k = r``).
Every run is measured at its own **convergence time** (:func:`settle_index`): the first
record after the data are fitted at which the relative residual has stopped decreasing on the
time scale ``2 / (eta sigma_r)`` of the linear phase, or at which the data are interpolated.
:class:`AlphaSweep` holds the test errors there and at twice that time, and fits the exponent
of the test error against ``alpha`` per instance. :func:`run` is the chapter's experiment.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..book import rounded
from ..config import Cost, gd_cost, parameter_check, regime
from ..analysis import INTERP_TOL, Fit, fit_power, predicted_time, settle_index
from ..claims import Claim, at_least, at_most, between
from ..engine.gd import GDResult, run_gd, step_sizes
from ..engine.problems import Problem, check_problem, instance_seeds, make_problem
from ..plotting import figure, param_label
from ..stats import Interval, instance_interval

__all__ = ["PRESETS", "check", "cost", "predicted_time", "needed_iters", "settle_index", "AlphaSweep",
           "alpha_sweep", "Experiment", "problems", "describe", "run", "timing", "summary",
           "exponent_summary", "glue_values", "claims", "evaluate", "plot_generalization"]

_ALPHAS = [1.0] + [10.0 ** -e for e in range(2, 7)]   # 1, then 1e-2 ... 1e-6

#: Parameter sets of the chapter: ``book`` (20 x 30, rank 2, a few seconds) and ``paper`` (50 x 50, rank 3).
#: ``iters`` is the step budget of every run; :func:`check` refuses less than :func:`needed_iters`.
PRESETS = {
    "book": dict(n1=20, n2=30, r=2, sigma=[1.0, 0.5], m=300, k=30, alphas=list(_ALPHAS), eta=0.25,
                 iters=1100, n_instances=5, alpha_fit_max=1e-2, seed=0),
    "paper": dict(n1=50, n2=50, r=3, sigma=[1.0, 0.75, 0.5], m=1200, k=50, alphas=list(_ALPHAS), eta=0.25,
                  iters=1100, n_instances=5, alpha_fit_max=1e-2, seed=0),
}

#: Largest entries of one operator (m * n1 * n2; every instance has its own).
MAX_ENTRIES = 10_000_000
#: Largest work of the sweep, iters * runs * m * n1 * n2 (about 10 times the paper preset).
MAX_WORK = 2_000_000_000_000
#: Largest entries of the stacked factors, runs * (n1 + n2) * k.
MAX_FACTOR_ENTRIES = 50_000_000
#: Largest runs * k^2 of one instance's batch (the engine forms the k x k imbalance of every run).
MAX_GRAM = 50_000_000
#: Largest initialization scale (larger ones make the step of :func:`opsense.step_sizes` vanish).
MAX_ALPHA = 10.0
#: Largest ``eta * sigma_1`` (gradient descent is stable well below 1).
MAX_ETA_SIGMA = 0.5
#: Recording interval of the curves (iterations).
RECORD_EVERY = 5
#: Number of instances the claims need (the regime; intervals are Student-t over instances).
MIN_INSTANCES = 5


def needed_iters(alphas, *, eta: float, sigma_r: float) -> int:
    """The smallest step budget :func:`check` accepts: ``3 * predicted_time(min(alphas))``, at least 200.

    Each run is measured at its convergence time ``t_c`` and again at ``2 t_c``; the factor 3
    leaves room for ``t_c`` to exceed the prediction by half.

    Parameters
    ----------
    alphas : sequence of float > 0
    eta, sigma_r : float > 0, keyword-only

    Returns
    -------
    int
    """
    a = v.sweep("alphas", alphas, lambda n, x: v.real(n, x, positive=True))
    return max(200, int(math.ceil(3.0 * predicted_time(min(a), eta=eta, sigma_r=sigma_r))))


@parameter_check
def check(P) -> None:
    """Refuse infeasible parameters of the chapter, naming the parameter; state its regime.

    **Regime** (where the chapter's claims are checked; a run outside it goes ahead with an
    :class:`~opsense.config.OutsideRegimeWarning`): ``3 r (n1 + n2) <= m <= n1 n2 / 2``
    (enough measurements for the ``r (n1 + n2)`` degrees of freedom, and a kernel of ``A`` of at
    least half the space, so that interpolation decides nothing); ``k >= min(n1, n2)`` (the
    model can interpolate with any matrix); ``kappa <= 3``; ``eta sigma_1 <= 0.25``; the
    largest ``alpha`` at least ``0.5 sqrt(sigma_1)`` and the smallest at most
    ``1e-4 sqrt(sigma_1)``; ``alpha_fit_max <= 1e-2 sqrt(sigma_1)`` with at least three scales
    in the fit; at least 5 instances. The paper's own (reconstructed) assumptions are much
    stronger (an RIP constant polynomially small in ``1/kappa`` and ``1/r``); see the page.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (attributes ``n1, n2, r, sigma, m, k, alphas, eta,
        iters, n_instances, alpha_fit_max, seed``).

    Raises
    ------
    ValueError
        For the first infeasible value; the message starts ``"parameter <name> must"``.
    """
    n1, n2, r = v.shape_rank(P.n1, P.n2, P.r)
    sigma = v.sweep("sigma", P.sigma, lambda n, x: v.real(n, x, positive=True))
    if len(sigma) != r:
        raise ValueError(f"parameter sigma must hold r = {r} singular values > 0, got {len(sigma)}: {sigma}")
    m = v.integer("m", P.m, minimum=1)
    v.sampled(m, r=r, n1=n1, n2=n2)
    if m >= n1 * n2:
        raise ValueError(f"parameter m must be < n1 n2 = {n1 * n2} (an under-determined problem: with m >= n1 n2 "
                         f"interpolation determines X*), got {m}")
    if m * n1 * n2 > MAX_ENTRIES:
        raise ValueError(f"parameter m must keep m * n1 * n2 <= {MAX_ENTRIES:,} (the memory of each instance's "
                         f"operator), got {m} * {n1} * {n2}")
    k = v.integer("k", P.k, minimum=r)
    alphas = v.sweep("alphas", P.alphas, lambda n, x: v.real(n, x, positive=True))
    if len(alphas) < 2 or len(set(alphas)) != len(alphas):
        raise ValueError(f"parameter alphas must hold at least two distinct values > 0, got {alphas}")
    if max(alphas) > MAX_ALPHA:
        raise ValueError(f"parameter alphas must hold values <= {MAX_ALPHA:g} (larger factors make the "
                         f"step size vanish), got {max(alphas):g}")
    eta = v.real("eta", P.eta, positive=True)
    s1, sr = max(sigma), min(sigma)
    if eta * s1 > MAX_ETA_SIGMA:
        raise ValueError(f"parameter eta must be <= {MAX_ETA_SIGMA:g} / sigma_1 = {MAX_ETA_SIGMA / s1:.4g} "
                         f"(stability of gradient descent), got {eta:g}")
    n_inst = v.integer("n_instances", P.n_instances, minimum=2)
    fit_max = v.real("alpha_fit_max", P.alpha_fit_max, positive=True)
    n_fit = sum(a <= fit_max for a in alphas)
    if n_fit < 2:
        raise ValueError(f"parameter alpha_fit_max must be >= at least two of alphas {alphas} "
                         f"(the power law is fitted on alpha <= alpha_fit_max), got {fit_max:g}")
    if fit_max >= max(alphas):
        raise ValueError(f"parameter alpha_fit_max must be < the largest alpha {max(alphas):g} (the largest "
                         f"scale is the unregularized reference), got {fit_max:g}")
    iters = v.integer("iters", P.iters, minimum=1)
    need = needed_iters(alphas, eta=eta, sigma_r=sr)
    if iters < need:
        raise ValueError(f"parameter iters must be >= {need} (three times the predicted end of the fast phases "
                         f"at the smallest alpha: escape ln(sigma_r/alpha^2)/(2 ln(1 + eta sigma_r)) plus "
                         f"refinement ln(1/alpha^2)/(eta sigma_r)), got {iters}")
    runs = n_inst * (len(alphas) + 2)
    if iters * runs * m * n1 * n2 > MAX_WORK:
        raise ValueError(f"parameter iters must keep iters * runs * m * n1 * n2 <= {MAX_WORK:,} (time; "
                         f"runs = n_instances * (len(alphas) + 2) = {runs}), got {iters} * {runs} * {m} * {n1} * {n2}")
    if (len(alphas) + 2) * (n1 + n2) * k > MAX_FACTOR_ENTRIES:
        raise ValueError(f"parameter k must keep (len(alphas) + 2) * (n1 + n2) * k <= {MAX_FACTOR_ENTRIES:,} "
                         f"(memory of one instance's batch), got {len(alphas) + 2} * {n1 + n2} * {k}")
    if (len(alphas) + 2) * k * k > MAX_GRAM:
        raise ValueError(f"parameter k must keep (len(alphas) + 2) * k^2 <= {MAX_GRAM:,} (the k x k imbalance "
                         f"that the engine records for every run), got {len(alphas) + 2} * {k}^2")
    v.integer("seed", P.seed, minimum=0)
    ratio = m / (r * (n1 + n2))
    regime("a1_generalization", [
        (m >= 3 * r * (n1 + n2), f"m >= 3 r (n1 + n2) = {3 * r * (n1 + n2)} (m = {m}, m / (r (n1 + n2)) = {ratio:.2g})"),
        (2 * m <= n1 * n2, f"m <= n1 n2 / 2 = {n1 * n2 // 2} (m = {m})"),
        (k >= min(n1, n2), f"k >= min(n1, n2) = {min(n1, n2)} (k = {k})"),
        (s1 <= 3 * sr, f"kappa <= 3 (kappa = {s1 / sr:.3g})"),
        (eta * s1 <= 0.25, f"eta sigma_1 <= 0.25 (eta sigma_1 = {eta * s1:.3g})"),
        (max(alphas) >= 0.5 * math.sqrt(s1), f"largest alpha >= 0.5 sqrt(sigma_1) = {0.5 * math.sqrt(s1):.3g} "
                                              f"(got {max(alphas):g})"),
        (min(alphas) <= 1e-4 * math.sqrt(s1), f"smallest alpha <= 1e-4 sqrt(sigma_1) (got {min(alphas):g})"),
        (fit_max <= 1e-2 * math.sqrt(s1), f"alpha_fit_max <= 1e-2 sqrt(sigma_1) (got {fit_max:g})"),
        (n_fit >= 3, f"at least 3 scales in the fit (got {n_fit})"),
        (n_inst >= MIN_INSTANCES, f"n_instances >= {MIN_INSTANCES} (got {n_inst})"),
    ])


def cost(P) -> Cost:
    """What :func:`run` and :func:`describe` cost, from the parameters alone (pure arithmetic, nothing is run).

    ``work``: ``n_instances`` batches of ``len(alphas) + 2`` runs of ``iters`` steps, each step
    ``n1 n2 (2 m + 3 k)``, plus the rank of the first operator that :func:`describe` computes (an
    SVD, ``m n1 n2 min(m, n1 n2)``). ``memory_bytes``: the ``n_instances`` operators ``m x n1 n2``
    plus one copy for the SVD, the stacked factors and the curves.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (already checked by :func:`check`).

    Returns
    -------
    opsense.config.Cost
    """
    n1, n2, r, m, k = int(P.n1), int(P.n2), int(P.r), int(P.m), int(P.k)
    runs = int(P.n_instances) * (len(P.alphas) + 2)
    w, b = gd_cost(runs, int(P.iters), m=m, n1=n1, n2=n2, k=k, r=r, every=RECORD_EVERY)
    w_rank = float(m) * n1 * n2 * min(m, n1 * n2)
    return Cost(memory_bytes=8.0 * (int(P.n_instances) + 1) * m * n1 * n2 + b, work=w + w_rank,
                drivers=("iters", "n_instances", "alphas", "m", "n1", "n2", "k"))


# ---------------------------------------------------------------------------- the alpha sweep
@dataclass(frozen=True)
class AlphaSweep:
    """Test errors over initialization scales and independent instances, at convergence.

    Attributes
    ----------
    alphas : ndarray of shape (A,)
        Initialization scales, decreasing.
    seeds : ndarray of int, shape (N,)
        Instance seeds: target, operator and initialization of instance ``i`` come from ``seeds[i]``.
    k : int
        Width of the over-parameterized runs.
    iters : int
        Step budget of every run.
    t_conv : ndarray of int, shape (N, A)
        Convergence time of every run (:func:`settle_index`; ``-1`` if never reached).
    converged : ndarray of bool, shape (N, A)
        Whether the run converged by ``iters / 2`` (so that ``2 t_conv`` was recorded).
    test_error : ndarray of shape (N, A)
        Relative test error :math:`\\|U_tV_t^\\top-X^\\star\\|_F/\\|X^\\star\\|_F` at ``t_conv``
        (at ``iters`` where the run did not converge).
    test_error_late : ndarray of shape (N, A)
        The same at ``2 t_conv`` (at ``iters`` where that lies beyond the budget).
    residual : ndarray of shape (N, A)
        Relative residual :math:`\\|\\mathcal A(U_tV_t^\\top)-y\\|/\\|y\\|` at ``t_conv``.
    residual_end, test_error_end : ndarray of shape (N, A)
        Relative residual and test error at ``iters``.
    sigma_extra : ndarray of shape (N, A)
        :math:`\\sigma_{r+1}(U_tV_t^\\top)` at ``t_conv``.
    eta : ndarray of shape (N, A)
        Step size of each run (:func:`opsense.step_sizes`).
    exact_alphas : ndarray of shape (E,)
        Scales of the exact-rank runs (``k = r``); may be empty.
    exact_error : ndarray of shape (N, E)
        Their test errors at ``iters``.
    results : list of GDResult
        One batch per instance: its ``A`` runs (decreasing ``alpha``), then its ``E`` exact runs.
    """

    alphas: np.ndarray
    seeds: np.ndarray
    k: int
    iters: int
    t_conv: np.ndarray
    converged: np.ndarray
    test_error: np.ndarray
    test_error_late: np.ndarray
    residual: np.ndarray
    residual_end: np.ndarray
    test_error_end: np.ndarray
    sigma_extra: np.ndarray
    eta: np.ndarray
    exact_alphas: np.ndarray
    exact_error: np.ndarray
    results: list

    def exponents(self, *, alpha_max: float, late: bool = False) -> list[Fit]:
        """Per instance, the log-log slope of test error against ``alpha`` over ``alpha <= alpha_max``.

        Parameters
        ----------
        alpha_max : float > 0, keyword-only
            Largest scale in the fit (the polynomial regime); at least two scales must qualify.
        late : bool, keyword-only
            Fit the errors at twice the convergence time instead.

        Returns
        -------
        list of Fit, one per instance
            ``estimate`` is the exponent :math:`\\gamma` in ``error ~ C alpha**gamma``.
        """
        alpha_max = v.real("alpha_max", alpha_max, positive=True)
        if np.count_nonzero(self.alphas <= alpha_max) < 2:
            raise ValueError(f"alpha_max={alpha_max:g} leaves fewer than two scales among {self.alphas.tolist()}")
        errors = self.test_error_late if late else self.test_error
        return [fit_power(self.alphas, err, window=(0.0, alpha_max)) for err in errors]

    def monotone(self) -> np.ndarray:
        """Per instance, whether the test error strictly decreases with ``alpha``: ndarray of bool, shape (N,)."""
        return np.all(np.diff(self.test_error, axis=1) < 0, axis=1)


def alpha_sweep(problems, *, k: int, alphas, seeds, eta: float, iters: int,
                exact_alphas=(), record_every: int = RECORD_EVERY) -> AlphaSweep:
    """Run factorized gradient descent for every (instance, alpha) pair and measure it at convergence.

    One batched :func:`opsense.run_gd` call per instance (its runs share its operator, which the
    engine then applies to all of them at once); instance ``i`` solves ``problems[i]`` from
    initialization seed ``seeds[i]``.

    Parameters
    ----------
    problems : sequence of Problem
        Independent asymmetric problems of one shape, rank and ``m``.
    k : int >= r, keyword-only
        Width of the factors of the over-parameterized runs.
    alphas : sequence of float > 0, keyword-only
        At least two distinct initialization scales (sorted decreasingly on output).
    seeds : sequence of int >= 0, keyword-only
        One initialization seed per problem.
    eta : float > 0, keyword-only
        Step size; runs whose initial factors are large get ``min(eta, 1/L0)``
        (:func:`opsense.step_sizes`).
    iters : int >= 1, keyword-only
        Step budget of every run.
    exact_alphas : sequence of float > 0, keyword-only
        Scales of extra runs with ``k = r`` (exact parameterization) on every instance.
    record_every : int >= 1, keyword-only
        Recording interval of the curves.

    Returns
    -------
    AlphaSweep

    Raises
    ------
    ValueError
        If an argument is out of range; the message names it.
    """
    if isinstance(problems, Problem) or not isinstance(problems, (list, tuple)) or not problems:
        raise ValueError("problems must be a non-empty sequence of Problem (independent instances)")
    probs = [check_problem(p) for p in problems]
    r = probs[0].target.r
    k = v.integer("k", k, minimum=r)
    a = sorted(v.sweep("alphas", alphas, lambda n, x: v.real(n, x, positive=True)), reverse=True)
    if len(a) < 2 or len(set(a)) != len(a):
        raise ValueError(f"alphas must hold at least two distinct values > 0, got {a}")
    s = v.sweep("seeds", seeds, lambda n, x: v.integer(n, x, minimum=0))
    if len(s) != len(probs):
        raise ValueError(f"seeds must hold one seed per problem ({len(probs)}), got {len(s)}")
    e = [] if len(exact_alphas) == 0 else v.sweep("exact_alphas", exact_alphas,
                                                   lambda n, x: v.real(n, x, positive=True))
    iters = v.integer("iters", iters, minimum=1)
    every = v.integer("record_every", record_every, minimum=1)
    N, A, E = len(probs), len(a), len(e)
    out = {name: np.zeros((N, A)) for name in ("err", "late", "res", "res_end", "err_end", "extra", "eta")}
    t_conv = np.full((N, A), -1, dtype=int)
    exact_error = np.zeros((N, E))
    results = []
    for i, (prob, seed) in enumerate(zip(probs, s)):
        etas = step_sizes(prob, k=[k] * A + [r] * E, alpha=a + e, seed=seed, eta=eta)
        res = run_gd(prob, k=[k] * A + [r] * E, alpha=a + e, eta=etas.tolist(), seed=seed, iters=iters,
                     record_every=every)
        results.append(res)
        sr = float(prob.target.sigma[-1])
        fitted = 0.5 * sr / float(np.linalg.norm(prob.target.X))
        for j in range(A):
            lag = int(math.ceil(2.0 / (float(etas[j]) * sr) / every))
            c = settle_index(res.residual[j], res.rel_error[j], lag=lag, fitted=fitted)
            last = res.t.size - 1
            jc = c if c >= 0 else last
            jl = int(np.searchsorted(res.t, 2 * res.t[jc])) if c >= 0 else last
            t_conv[i, j] = int(res.t[c]) if c >= 0 else -1
            out["err"][i, j], out["res"][i, j] = res.rel_error[j, jc], res.residual[j, jc]
            out["late"][i, j] = res.rel_error[j, min(jl, last)]
            out["res_end"][i, j], out["err_end"][i, j] = res.residual[j, -1], res.rel_error[j, -1]
            out["extra"][i, j] = res.singular_values[j, jc, r] if res.singular_values.shape[2] > r else 0.0
            out["eta"][i, j] = etas[j]
        exact_error[i] = res.rel_error[A:, -1]
    converged = (t_conv >= 0) & (2 * t_conv <= iters)
    return AlphaSweep(alphas=np.array(a), seeds=np.array(s), k=k, iters=iters, t_conv=t_conv, converged=converged,
                      test_error=out["err"], test_error_late=out["late"], residual=out["res"],
                      residual_end=out["res_end"], test_error_end=out["err_end"], sigma_extra=out["extra"],
                      eta=out["eta"], exact_alphas=np.array(e, dtype=float), exact_error=exact_error,
                      results=results)


# ---------------------------------------------------------------------------- the experiment
@dataclass(frozen=True)
class Experiment:
    """The chapter's experiment: the sweep and the power-law fits of its test errors.

    Attributes
    ----------
    problems : list of Problem
        The independent instances.
    sweep : AlphaSweep
    fits, fits_late : list of Fit
        Per instance, test error against ``alpha`` on log-log axes over ``alpha <= alpha_fit_max``,
        at the convergence time and at twice it.
    alpha_fit_max : float
    eta : float
        The step size asked for (small scales keep it).
    seconds : float
        Wall-clock time of the sweep.
    """

    problems: list
    sweep: AlphaSweep
    fits: list
    fits_late: list
    alpha_fit_max: float
    eta: float
    seconds: float

    @property
    def gamma(self) -> np.ndarray:
        """The fitted exponents, one per instance: ndarray of shape (N,)."""
        return np.array([f.estimate for f in self.fits])

    @property
    def gamma_late(self) -> np.ndarray:
        """The exponents fitted at twice the convergence time: ndarray of shape (N,)."""
        return np.array([f.estimate for f in self.fits_late])

    def gamma_interval(self) -> Interval:
        """Mean exponent over the instances with its 95% interval."""
        return instance_interval(self.gamma)

    def ratio_interval(self) -> Interval:
        """Test error at the largest ``alpha`` over that at the smallest, per instance (geometric interval)."""
        e = self.sweep.test_error
        return instance_interval(e[:, 0] / e[:, -1], log=True)

    def horizon_interval(self) -> Interval:
        """Exponent at twice the convergence time over the exponent at it, per instance (geometric interval)."""
        return instance_interval(self.gamma_late / self.gamma, log=True)


def problems(P) -> list:
    """The chapter's ``n_instances`` independent sensing problems (:func:`opsense.instance_seeds`).

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (uses ``n1, n2, r, m, sigma, n_instances, seed``).

    Returns
    -------
    list of Problem
    """
    return [make_problem(P.n1, P.n2, P.r, P.m, sigma=P.sigma, seed=s)
            for s in instance_seeds(P.seed, P.n_instances)]


def describe(probs, *, k: int) -> str:
    """Three lines on the problems: shape, rank, singular values, width, ``m``, :math:`\\dim\\ker\\mathcal A`.

    Parameters
    ----------
    probs : list of Problem
        The instances (the kernel dimension is computed for the first).
    k : int, keyword-only
        Width of the factors.

    Returns
    -------
    str
    """
    if isinstance(probs, Problem) or not isinstance(probs, (list, tuple)) or not probs:
        raise ValueError("probs must be a non-empty list of Problem")
    prob = check_problem(probs[0])
    n1, n2 = prob.target.shape
    r, m = prob.target.r, prob.operator.m
    kernel_dim = n1 * n2 - int(np.linalg.matrix_rank(prob.operator.matrix))
    return (f"{len(probs)} instances (target, operator and initialization re-drawn)\n"
            f"X*: {n1} x {n2}, rank {r}, singular values {prob.target.sigma.tolist()}; k = {k}\n"
            f"m = {m} = {m / (n1 * n2):.2f} n1 n2 = {m / (r * (n1 + n2)):.1f} r (n1 + n2); "
            f"dim ker A = {kernel_dim} (first instance)")


def run(P, probs: list | None = None) -> Experiment:
    """Run the chapter's sweep with the parameters ``P`` (see :data:`PRESETS`).

    Every ``alpha`` on every instance, and two exact-width runs (``k = r``) per instance at the
    largest and the smallest ``alpha``.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure`.
    probs : list of Problem, optional
        The chapter's problems (:func:`problems`); built from ``P`` if omitted.

    Returns
    -------
    Experiment
    """
    probs = problems(P) if probs is None else list(probs)
    seeds = instance_seeds(P.seed, len(probs))
    t0 = time.perf_counter()
    sweep = alpha_sweep(probs, k=P.k, alphas=P.alphas, seeds=seeds, eta=P.eta, iters=P.iters,
                        exact_alphas=[max(P.alphas), min(P.alphas)])
    seconds = time.perf_counter() - t0
    fmax = float(P.alpha_fit_max)
    return Experiment(probs, sweep, sweep.exponents(alpha_max=fmax), sweep.exponents(alpha_max=fmax, late=True),
                      fmax, float(P.eta), seconds)


def timing(exp: Experiment) -> str:
    """One line: runs, instances, step budget and the wall-clock time of the sweep.

    Parameters
    ----------
    exp : Experiment

    Returns
    -------
    str
    """
    sw = exp.sweep
    runs = sum(res.batch_size for res in sw.results)
    return f"{runs} runs ({len(sw.seeds)} instances) x {sw.iters} steps in {exp.seconds:.1f} s"


def summary(exp: Experiment) -> str:
    """The table the chapter prints: per ``alpha`` the step, the convergence times, the test
    errors over the instances, the drift to twice the convergence time, the visible fraction of
    the error and :math:`\\sigma_{r+1}`; then the exact-width runs.

    Parameters
    ----------
    exp : Experiment

    Returns
    -------
    str
    """
    sw = exp.sweep
    lines = [f"{'alpha':>7} {'eta':>6} {'t_c':>11} {'test error at t_c':>19} {'err(2t_c)/err':>14} "
             f"{'res/err':>8} {'sigma_r+1':>10}"]
    for j, a in enumerate(sw.alphas):
        e, tc = sw.test_error[:, j], sw.t_conv[:, j]
        drift = sw.test_error_late[:, j] / e
        vis = sw.residual[:, j] / e
        lines.append(f"{a:>7.0e} {sw.eta[0, j]:>6.3f} {tc.min():>5d}..{tc.max():<5d} {e.min():>8.2g} .. {e.max():<8.2g}"
                     f" {drift.min():>6.2f}..{drift.max():<6.2f} {vis.max():>8.1e} {sw.sigma_extra[:, j].max():>10.2g}")
    r = int(exp.problems[0].target.r)
    for c, a in enumerate(sw.exact_alphas):
        lines.append(f"k = r = {r}, alpha = {a:.0e}: largest test error at the budget {sw.exact_error[:, c].max():.0e}")
    return "\n".join(lines)


def exponent_summary(exp: Experiment) -> str:
    """Two lines: the fitted exponent per instance with its interval, and the paired ratios.

    Parameters
    ----------
    exp : Experiment

    Returns
    -------
    str
    """
    g = exp.gamma
    return (f"gamma per instance: {np.round(g, 2).tolist()}; mean {exp.gamma_interval()}\n"
            f"error(alpha max) / error(alpha min): {exp.ratio_interval()}; "
            f"gamma(2 t_c) / gamma(t_c): {exp.horizon_interval()}")


def glue_values(exp: Experiment) -> dict:
    """The numbers the chapter's prose quotes, by glue name (rounded as the prose shows them).

    Parameters
    ----------
    exp : Experiment

    Returns
    -------
    dict
    """
    sw = exp.sweep
    prob = exp.problems[0]
    n1, n2 = prob.target.shape
    r, m = prob.target.r, prob.operator.m
    sigma_r = float(prob.target.sigma[-1])
    j_small = int(np.argmin(sw.alphas))
    fit = sw.alphas <= exp.alpha_fit_max
    g, q, h = exp.gamma_interval(), exp.ratio_interval(), exp.horizon_interval()
    drift = sw.test_error_late[:, fit] / sw.test_error[:, fit]
    return {
        "a1_runs": int(sum(res.batch_size for res in sw.results)), "a1_iters": int(sw.iters),
        "a1_n_inst": int(len(sw.seeds)), "a1_k": int(sw.k), "a1_eta": float(exp.eta),
        "a1_m_ratio": rounded(m / (r * (n1 + n2)), 2), "a1_m_frac": rounded(m / (n1 * n2), 2),
        "a1_alpha_max": float(sw.alphas[0]), "a1_alpha_min": float(sw.alphas[j_small]),
        "a1_alpha_fit_max": exp.alpha_fit_max, "a1_sigma_r": sigma_r,
        "a1_need": needed_iters(sw.alphas, eta=exp.eta, sigma_r=sigma_r),
        "a1_tpred_min": int(round(predicted_time(float(sw.alphas[j_small]), eta=exp.eta, sigma_r=sigma_r))),
        "a1_tc_min": int(sw.t_conv[:, j_small].min()), "a1_tc_max": int(sw.t_conv[:, j_small].max()),
        "a1_not_converged": int(np.count_nonzero(~sw.converged)),
        "a1_visible_large": rounded((sw.residual_end[:, 0] / sw.test_error_end[:, 0]).max(), 2),
        "a1_visible_small": rounded((sw.residual[:, j_small] / sw.test_error[:, j_small]).min(), 2),
        "a1_err_large": rounded(sw.test_error[:, 0].min(), 2),
        "a1_sv_extra_large": rounded(sw.sigma_extra[:, 0].min(), 2),
        "a1_err_small": rounded(sw.test_error[:, j_small].max(), 2),
        "a1_gamma_mean": round(g.mean, 2), "a1_gamma_lo": round(g.lo, 2), "a1_gamma_hi": round(g.hi, 2),
        "a1_gamma_min": round(float(exp.gamma.min()), 2), "a1_gamma_max": round(float(exp.gamma.max()), 2),
        "a1_gamma_r2": round(min(f.r2 for f in exp.fits), 3),
        "a1_ratio_mean": rounded(q.mean, 2), "a1_ratio_lo": rounded(q.lo, 2), "a1_ratio_hi": rounded(q.hi, 2),
        "a1_hor_mean": round(h.mean, 3), "a1_hor_lo": round(h.lo, 3), "a1_hor_hi": round(h.hi, 3),
        "a1_drift_min": round(float(drift.min()), 2), "a1_drift_max": round(float(drift.max()), 2),
        "a1_monotone_violations": int(np.count_nonzero(~sw.monotone())),
        "a1_err_exact": rounded(sw.exact_error.max(), 1),
        "a1_gamma_pred": round(21 / 16, 3),
    }


def claims(exp: Experiment) -> list[Claim]:
    """The chapter's claims (see the page's "Claims" section for the basis of each bound).

    Parameters
    ----------
    exp : Experiment

    Returns
    -------
    list of Claim
    """
    sw = exp.sweep
    N = len(sw.seeds)
    a_max, a_min = float(sw.alphas[0]), float(sw.alphas[-1])
    r = int(exp.problems[0].target.r)
    g = exp.gamma_interval()
    fit = f"alpha <= {exp.alpha_fit_max:g}"
    return [
        at_most("a1.converged", f"runs not converged by half the budget (of {sw.converged.size}; linear phase over "
                f"or data interpolated, {N} instances)", float(np.count_nonzero(~sw.converged)), 0.0,
                basis="derived-on-page", tolerance="exact count (criterion derived on the page)"),
        at_most("a1.interpolates", f"largest visible fraction ||A(X_T) - y|| / ||y|| over the relative test error, "
                f"alpha = {a_max:g}, at the budget ({N} instances)",
                float((sw.residual_end[:, 0] / sw.test_error_end[:, 0]).max()), INTERP_TOL,
                basis="derived-on-page", tolerance="1e-3: at least 99.9% of the error lies in ker A (the lemma)"),
        at_least("a1.ratio", f"test error at alpha = {a_max:g} over that at alpha = {a_min:g}, paired per instance "
                 "(geometric mean, 95% interval)", exp.ratio_interval(), 10.0, basis="theory", form="paired-ratio",
                 tolerance="an order of magnitude: excludes an error that does not depend on alpha"),
        at_least("a1.exponent", f"log-log slope gamma of the test error against alpha ({fit}), mean over {N} "
                 "instances (95% interval)", g, 0.0, basis="theory", form="scaling",
                 tolerance="interval above 0: polynomial decay; excludes an alpha-independent floor"),
        between("a1.exponent-horizon", "gamma at twice the convergence time over gamma at it, paired per "
                "instance (geometric mean, 95% interval)", exp.horizon_interval(), 0.9, 1.1,
                basis="specification", form="paired-ratio",
                tolerance="within 10%: the exponent belongs to alpha, not to the stopping time"),
        at_least("a1.exponent-predecessor", f"gamma ({fit}) against the symmetric predecessor's exponent 21/16 "
                 "(reconstructed; error <= C alpha^(21/16) forces a slope >= 21/16)", g, 21 / 16,
                 basis="theory", form="scaling", tolerance="interval above 21/16",
                 expected_failure="the predecessor's exponent is proved under an RIP constant polynomially small "
                 "in 1/kappa and 1/r, i.e. far more measurements than m = "
                 f"{exp.problems[0].operator.m}; the measured slope is smaller and grows with m"),
        at_most("a1.monotone", f"instances whose test error does not decrease strictly with alpha (of {N})",
                float(np.count_nonzero(~sw.monotone())), 0.0, basis="derived-on-page", tolerance="exact count"),
        at_most("a1.exact-width", f"largest test error with k = r = {r} at the smallest and largest alpha, "
                f"{N} instances, at the budget", float(sw.exact_error.max()), 1e-8, basis="derived-on-page",
                tolerance="1e-8: exact recovery (the lemma), finite budget"),
    ]


def evaluate(P) -> list[Claim]:
    """The chapter's whole computation, as its notebook runs it, and its claims.

    The notebook's calls, in its order: :func:`problems`, :func:`run` and :func:`claims`.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure`.

    Returns
    -------
    list of Claim
        The list that the notebook passes to :func:`opsense.evaluate_claims`.
    """
    probs = problems(P)
    exp = run(P, probs)
    return claims(exp)


# ---------------------------------------------------------------------------- the figure
def plot_generalization(exp: Experiment, *, curves_instance: int = 0):
    """Figure of the chapter.

    Left: test error at convergence against ``alpha`` (log-log), one line per instance, with the
    visible part (relative residual) at the same time, the exact-rank runs and the power law
    ``alpha**gamma`` with the mean exponent over ``alpha <= alpha_fit_max``. Right: test error
    against the iteration for each ``alpha`` on one instance, its convergence times marked.

    Parameters
    ----------
    exp : Experiment
    curves_instance : int, keyword-only
        Position of the instance whose curves are drawn on the right.

    Returns
    -------
    fig, (ax_alpha, ax_time)
    """
    if not isinstance(exp, Experiment):
        raise ValueError(f"exp must be an a1_generalization Experiment, got {type(exp).__name__}")
    sw = exp.sweep
    ci = v.integer("curves_instance", curves_instance, minimum=0, maximum=len(sw.seeds) - 1)
    exponent = float(exp.gamma.mean())
    fig, (ax1, ax2) = figure(ncols=2, width=10.0, height=3.8)
    a = sw.alphas
    for i, err in enumerate(sw.test_error):
        ax1.loglog(a, err, "o-", color="C0", alpha=0.6, ms=3.5, lw=1.0,
                   label=f"test error at t_c, k = {sw.k} ({len(sw.seeds)} instances)" if i == 0 else None)
        ax1.loglog(a, sw.residual[i], "s:", color="C1", alpha=0.6, ms=3, lw=0.8,
                   label="relative residual at t_c" if i == 0 else None)
    if sw.exact_alphas.size:
        r = int(exp.problems[0].target.r)
        for c, al in enumerate(sw.exact_alphas):
            ax1.loglog(np.full(len(sw.seeds), al), np.maximum(sw.exact_error[:, c], 1e-17), "D", color="C2", ms=5,
                       label=f"test error, k = r = {r}" if c == 0 else None)
    sel = a <= exp.alpha_fit_max
    c0 = np.exp(np.mean(np.log(sw.test_error[:, sel]) - exponent * np.log(a[sel])))
    ax1.loglog(a[sel], c0 * a[sel] ** exponent, "k--", lw=1.2, label=f"mean fit: α^{exponent:.2f}")
    ax1.set_xlabel("initialization scale α")
    ax1.set_ylabel("relative test error / residual")
    ax1.set_title("at convergence, asymmetric UVᵀ")
    ax1.legend(fontsize=7.5)
    res = sw.results[ci]
    for j, al in enumerate(a):
        line, = ax2.semilogy(res.t, res.rel_error[j], label=param_label("alpha", float(al)))
        tc = sw.t_conv[ci, j]
        if tc >= 0:
            ax2.semilogy([tc], [sw.test_error[ci, j]], "o", color=line.get_color(), ms=5)
    ax2.set_xlabel("iteration t")
    ax2.set_ylabel("relative test error")
    ax2.set_title(f"k = {sw.k}, instance {ci}; dots: convergence time t_c")
    ax2.legend(fontsize=7.5, ncols=2)
    return fig, (ax1, ax2)
