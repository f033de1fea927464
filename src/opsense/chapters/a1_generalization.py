"""Chapter ``a1_generalization``: generalization needs small initialization (paper A).

With :math:`k \\gg r` columns and :math:`m < n_1n_2` measurements, the factorized model
:math:`UV^\\top` interpolates the data with infinitely many matrices far from
:math:`X^\\star`; gradient descent from a small random initialization
:math:`U_0=\\alpha\\tilde U`, :math:`V_0=\\alpha\\tilde V` still finds one close to it, with a
test error polynomially small in :math:`\\alpha` (Soltanolkotabi, Stöger & Xie).

:func:`alpha_sweep` runs factorized gradient descent on one sensing problem for every
pair (initialization scale ``alpha``, initialization seed), batched, plus exact-rank
runs (``k = r``), each with the step size of :func:`opsense.step_sizes`;
:class:`AlphaSweep` holds the final test errors and training losses and fits the
exponent of the test error against ``alpha``. :func:`run` is the chapter's experiment.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..book import rounded
from ..config import Cost, gd_cost, parameter_check
from ..analysis import Fit, fit_power
from ..claims import Claim, at_least, at_most, between
from ..engine.gd import GDResult, run_gd, step_sizes
from ..engine.problems import Problem, check_problem, make_problem
from ..plotting import figure, param_label

__all__ = ["PRESETS", "check", "cost", "AlphaSweep", "alpha_sweep", "Experiment", "problem", "describe", "run",
           "timing", "summary", "exponent_summary", "glue_values", "claims", "evaluate", "plot_generalization"]

_ALPHAS = [1.0, 0.3, 0.1] + [10.0 ** -e for e in range(2, 9)]   # 1 ... 1e-8

#: Parameter sets of the chapter: ``book`` (20 x 30, rank 2, about a second) and ``paper`` (50 x 50, rank 3).
PRESETS = {
    "book": dict(n1=20, n2=30, r=2, sigma=[1.0, 0.5], m=300, k=30, alphas=list(_ALPHAS), eta=0.25,
                 iters=1000, n_seeds=3, alpha_fit_max=1e-2, seed=0),
    "paper": dict(n1=50, n2=50, r=3, sigma=[1.0, 0.75, 0.5], m=1500, k=50, alphas=list(_ALPHAS), eta=0.25,
                  iters=2000, n_seeds=3, alpha_fit_max=1e-2, seed=0),
}

#: Largest entries of the operator (m * n1 * n2, 400 MB of float64; its rank is computed once).
MAX_ENTRIES = 50_000_000
#: Largest work of the sweep, iters * runs * m * n1 * n2 (about 10 times the paper preset).
MAX_WORK = 3_000_000_000_000
#: Largest entries of the stacked factors, runs * (n1 + n2) * k.
MAX_FACTOR_ENTRIES = 50_000_000
#: Largest initialization scale (larger ones make the step of :func:`opsense.step_sizes` vanish).
MAX_ALPHA = 10.0
#: Largest ``eta * sigma_1`` (gradient descent is stable well below 1).
MAX_ETA_SIGMA = 0.5
#: Recording interval of the curves (iterations).
RECORD_EVERY = 10


def _horizon(alpha_min: float, eta: float, sigma_r: float) -> int:
    """Steps the smallest ``alpha`` needs: twice its escape time plus 100 steps of refinement."""
    escape = max(0.0, math.log(1.0 / alpha_min)) / math.log1p(eta * sigma_r)
    return int(math.ceil(2.0 * escape)) + 100




@parameter_check
def check(P) -> None:
    """Refuse infeasible parameters of the chapter, naming the parameter.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (attributes ``n1, n2, r, sigma, m, k, alphas, eta,
        iters, n_seeds, alpha_fit_max, seed``).

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
    if m * n1 * n2 > MAX_ENTRIES:
        raise ValueError(f"parameter m must keep m * n1 * n2 <= {MAX_ENTRIES:,} (the operator's memory and the "
                         f"computation of its rank), got {m} * {n1} * {n2}")
    k = v.integer("k", P.k, minimum=r)
    alphas = v.sweep("alphas", P.alphas, lambda n, x: v.real(n, x, positive=True))
    if len(alphas) < 2 or len(set(alphas)) != len(alphas):
        raise ValueError(f"parameter alphas must hold at least two distinct values > 0, got {alphas}")
    if max(alphas) > MAX_ALPHA:
        raise ValueError(f"parameter alphas must hold values <= {MAX_ALPHA:g} (larger factors make the "
                         f"step size vanish), got {max(alphas):g}")
    eta = v.real("eta", P.eta, positive=True)
    if eta * max(sigma) > MAX_ETA_SIGMA:
        raise ValueError(f"parameter eta must be <= {MAX_ETA_SIGMA:g} / sigma_1 = {MAX_ETA_SIGMA / max(sigma):.4g} "
                         f"(stability of gradient descent), got {eta:g}")
    n_seeds = v.integer("n_seeds", P.n_seeds, minimum=2)
    fit_max = v.real("alpha_fit_max", P.alpha_fit_max, positive=True)
    if sum(a <= fit_max for a in alphas) < 2:
        raise ValueError(f"parameter alpha_fit_max must be >= at least two of alphas {alphas} "
                         f"(the power law is fitted on alpha <= alpha_fit_max), got {fit_max:g}")
    iters = v.integer("iters", P.iters, minimum=1)
    need = _horizon(min(alphas), eta, min(sigma))
    if iters < need:
        raise ValueError(f"parameter iters must be >= {need} (twice the escape time ln(1/alpha)/ln(1 + eta sigma_r) "
                         f"of the smallest alpha, plus 100 steps of refinement), got {iters}")
    runs = n_seeds * len(alphas) + 2
    if iters * runs * m * n1 * n2 > MAX_WORK:
        raise ValueError(f"parameter iters must keep iters * runs * m * n1 * n2 <= {MAX_WORK:,} (time; "
                         f"runs = n_seeds * len(alphas) + 2 = {runs}), got {iters} * {runs} * {m} * {n1} * {n2}")
    if runs * (n1 + n2) * k > MAX_FACTOR_ENTRIES:
        raise ValueError(f"parameter k must keep runs * (n1 + n2) * k <= {MAX_FACTOR_ENTRIES:,} (memory; "
                         f"runs = {runs}), got {runs} * {n1 + n2} * {k}")
    v.integer("seed", P.seed, minimum=0)






def cost(P) -> Cost:
    """What :func:`run` and :func:`describe` cost, from the parameters alone (pure arithmetic, nothing is run).

    ``work``: ``runs = n_seeds * len(alphas) + 2`` runs of ``iters`` steps, each step
    ``n1 n2 (2 m + 3 k)``, plus the rank of the operator that :func:`describe` computes (an SVD,
    ``m n1 n2 min(m, n1 n2)``). ``memory_bytes``: the ``m x n1 n2`` operator twice (the SVD works
    on a copy), the stacked factors ``runs (n1 + n2) k`` and the curves.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (already checked by :func:`check`).

    Returns
    -------
    opsense.config.Cost
    """
    n1, n2, r, m, k = int(P.n1), int(P.n2), int(P.r), int(P.m), int(P.k)
    runs = int(P.n_seeds) * len(P.alphas) + 2
    w, b = gd_cost(runs, int(P.iters), m=m, n1=n1, n2=n2, k=k, r=r, every=RECORD_EVERY)
    w_rank = float(m) * n1 * n2 * min(m, n1 * n2)
    return Cost(memory_bytes=8.0 * 2 * m * n1 * n2 + b, work=w + w_rank,
                drivers=("iters", "n_seeds", "alphas", "m", "n1", "n2", "k"))


# ---------------------------------------------------------------------------- the alpha sweep
@dataclass(frozen=True)
class AlphaSweep:
    """Final test errors and training losses over initialization scales and seeds.

    Attributes
    ----------
    alphas : ndarray of shape (A,)
        Initialization scales, decreasing.
    seeds : ndarray of int, shape (S,)
        Initialization seeds (the problem is the same for all).
    k : int
        Width of the over-parameterized runs.
    test_error : ndarray of shape (S, A)
        Final relative test error :math:`\\|U_TV_T^\\top-X^\\star\\|_F/\\|X^\\star\\|_F`.
    train_loss : ndarray of shape (S, A)
        Final training loss :math:`\\tfrac12\\|\\mathcal A(U_TV_T^\\top)-y\\|_2^2`.
    sigma_extra : ndarray of shape (S, A)
        Final :math:`\\sigma_{r+1}(U_TV_T^\\top)`, the largest singular value beyond the rank
        of the target (0 if ``k = r``).
    eta : ndarray of shape (S, A)
        Step size of each run (:func:`opsense.step_sizes`).
    exact_alphas : ndarray of shape (E,)
        Scales of the exact-rank runs (``k = r``, first seed); may be empty.
    exact_error, exact_loss : ndarray of shape (E,)
        Their final test errors and training losses.
    result : GDResult
        The whole batch: the ``S * A`` runs seed-major (run ``s * A + a``), then the ``E`` exact runs.
    """

    alphas: np.ndarray
    seeds: np.ndarray
    k: int
    test_error: np.ndarray
    train_loss: np.ndarray
    sigma_extra: np.ndarray
    eta: np.ndarray
    exact_alphas: np.ndarray
    exact_error: np.ndarray
    exact_loss: np.ndarray
    result: GDResult

    def exponents(self, *, alpha_max: float) -> list[Fit]:
        """Per seed, the log-log slope of test error against ``alpha`` over ``alpha <= alpha_max``.

        Parameters
        ----------
        alpha_max : float > 0, keyword-only
            Largest scale in the fit (the polynomial regime); at least two scales must qualify.

        Returns
        -------
        list of Fit, one per seed
            ``estimate`` is the exponent :math:`\\gamma` in ``error ~ C alpha**gamma``.
        """
        alpha_max = v.real("alpha_max", alpha_max, positive=True)
        if np.count_nonzero(self.alphas <= alpha_max) < 2:
            raise ValueError(f"alpha_max={alpha_max:g} leaves fewer than two scales among {self.alphas.tolist()}")
        return [fit_power(self.alphas, err, window=(0.0, alpha_max)) for err in self.test_error]

    def monotone(self) -> np.ndarray:
        """Per seed, whether the test error strictly decreases with ``alpha``: ndarray of bool, shape (S,)."""
        return np.all(np.diff(self.test_error, axis=1) < 0, axis=1)

    def run_index(self, seed_index: int, alpha_index: int) -> int:
        """Index in ``result`` of the run with the given seed and scale positions.

        Parameters
        ----------
        seed_index : int
            Position in ``seeds``.
        alpha_index : int
            Position in ``alphas``.

        Returns
        -------
        int
        """
        s = v.integer("seed_index", seed_index, minimum=0, maximum=len(self.seeds) - 1)
        a = v.integer("alpha_index", alpha_index, minimum=0, maximum=len(self.alphas) - 1)
        return s * len(self.alphas) + a


def alpha_sweep(problem: Problem, *, k: int, alphas, seeds, eta: float, iters: int,
                exact_alphas=(), record_every: int = 50) -> AlphaSweep:
    """Run factorized gradient descent for every (seed, alpha) pair in one batch.

    Parameters
    ----------
    problem : Problem
        Asymmetric problem; every run shares its operator.
    k : int >= r, keyword-only
        Width of the factors of the over-parameterized runs.
    alphas : sequence of float > 0, keyword-only
        At least two distinct initialization scales (sorted decreasingly on output).
    seeds : sequence of int >= 0, keyword-only
        Distinct initialization seeds.
    eta : float > 0, keyword-only
        Step size; runs whose initial factors are large get ``min(eta, 1/L0)``
        (:func:`opsense.step_sizes`).
    iters : int >= 1, keyword-only
        Number of gradient steps of every run.
    exact_alphas : sequence of float > 0, keyword-only
        Scales of extra runs with ``k = r`` (exact parameterization), first seed.
    record_every : int >= 1, keyword-only
        Recording interval of the curves in ``AlphaSweep.result``.

    Returns
    -------
    AlphaSweep

    Raises
    ------
    ValueError
        If an argument is out of range; the message names it.
    """
    problem = check_problem(problem)
    r = problem.target.r
    k = v.integer("k", k, minimum=r)
    a = sorted(v.sweep("alphas", alphas, lambda n, x: v.real(n, x, positive=True)), reverse=True)
    if len(a) < 2 or len(set(a)) != len(a):
        raise ValueError(f"alphas must hold at least two distinct values > 0, got {a}")
    s = v.sweep("seeds", seeds, lambda n, x: v.integer(n, x, minimum=0))
    if len(set(s)) != len(s):
        raise ValueError(f"seeds must be distinct, got {s}")
    e = [] if len(exact_alphas) == 0 else v.sweep("exact_alphas", exact_alphas,
                                                   lambda n, x: v.real(n, x, positive=True))
    iters = v.integer("iters", iters, minimum=1)
    ks = [k] * (len(s) * len(a)) + [r] * len(e)
    al = [x for _ in s for x in a] + list(e)
    se = [y for y in s for _ in a] + [s[0]] * len(e)
    etas = step_sizes(problem, k=ks, alpha=al, seed=se, eta=eta)
    res = run_gd(problem, k=ks, alpha=al, eta=etas.tolist(), seed=se, iters=iters, record_every=record_every)
    S, A, n = len(s), len(a), len(s) * len(a)
    extra = res.singular_values[:n, -1, r] if res.singular_values.shape[2] > r else np.zeros(n)
    return AlphaSweep(alphas=np.array(a), seeds=np.array(s), k=k,
                      test_error=res.rel_error[:n, -1].reshape(S, A), train_loss=res.loss[:n, -1].reshape(S, A),
                      sigma_extra=extra.reshape(S, A), eta=etas[:n].reshape(S, A),
                      exact_alphas=np.array(e, dtype=float), exact_error=res.rel_error[n:, -1],
                      exact_loss=res.loss[n:, -1], result=res)


# ---------------------------------------------------------------------------- the experiment
@dataclass(frozen=True)
class Experiment:
    """The chapter's experiment: the sweep and the power-law fits of its test errors.

    Attributes
    ----------
    problem : Problem
    sweep : AlphaSweep
    fits : list of Fit
        Per seed, test error against ``alpha`` on log-log axes over ``alpha <= alpha_fit_max``.
    alpha_fit_max : float
    iters : int
    seconds : float
        Wall-clock time of the sweep.
    """

    problem: Problem
    sweep: AlphaSweep
    fits: list[Fit]
    alpha_fit_max: float
    iters: int
    seconds: float

    @property
    def gamma(self) -> np.ndarray:
        """The fitted exponents, one per seed: ndarray of shape (S,)."""
        return np.array([f.estimate for f in self.fits])

    @property
    def rho(self) -> float:
        """:math:`\\rho=\\|(\\mathcal A^*\\mathcal A-I)X^\\star\\|` (operator norm)."""
        return float(np.linalg.norm(self.problem.spectral - self.problem.target.X, 2))


def problem(P) -> Problem:
    """The chapter's sensing problem: rank-``r`` target and ``m`` Gaussian measurements.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (uses ``n1, n2, r, m, sigma, seed``).

    Returns
    -------
    Problem
    """
    return make_problem(P.n1, P.n2, P.r, P.m, sigma=P.sigma, seed=P.seed)


def describe(prob: Problem, *, k: int) -> str:
    """Two lines on the problem: shape, rank, singular values, width, ``m`` and :math:`\\dim\\ker\\mathcal A`.

    Parameters
    ----------
    prob : Problem
    k : int, keyword-only
        Width of the factors.

    Returns
    -------
    str
    """
    prob = check_problem(prob)
    n1, n2 = prob.target.shape
    r, m = prob.target.r, prob.operator.m
    kernel_dim = n1 * n2 - int(np.linalg.matrix_rank(prob.operator.matrix))
    return (f"X*: {n1} x {n2}, rank {r}, singular values {prob.target.sigma.tolist()}; k = {k}\n"
            f"m = {m} = {m / (n1 * n2):.2f} n1 n2 = {m / (r * (n1 + n2)):.1f} r (n1 + n2); "
            f"dim ker A = {kernel_dim}")


def run(P, prob: Problem | None = None) -> Experiment:
    """Run the chapter's sweep with the parameters ``P`` (see :data:`PRESETS`).

    ``n_seeds`` initialization seeds ``seed, seed + 1, ...`` for every ``alpha``, and two
    exact-width runs (``k = r``) at the largest and the smallest ``alpha``.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure`.
    prob : Problem, optional
        The chapter's problem (:func:`problem`); built from ``P`` if omitted.

    Returns
    -------
    Experiment
    """
    prob = problem(P) if prob is None else check_problem(prob)
    seeds = list(range(P.seed, P.seed + P.n_seeds))
    t0 = time.perf_counter()
    sweep = alpha_sweep(prob, k=P.k, alphas=P.alphas, seeds=seeds, eta=P.eta, iters=P.iters,
                        exact_alphas=[max(P.alphas), min(P.alphas)], record_every=RECORD_EVERY)
    seconds = time.perf_counter() - t0
    return Experiment(prob, sweep, sweep.exponents(alpha_max=P.alpha_fit_max), float(P.alpha_fit_max),
                      int(P.iters), seconds)


def timing(exp: Experiment) -> str:
    """One line: runs, steps and the wall-clock time of the sweep.

    Parameters
    ----------
    exp : Experiment

    Returns
    -------
    str
    """
    return f"{exp.sweep.result.batch_size} runs x {exp.iters} steps in {exp.seconds:.1f} s"


def summary(exp: Experiment) -> str:
    """The table the chapter prints: per ``alpha`` the step, the test errors over the seeds,
    the largest training loss and :math:`\\sigma_{r+1}`; then the exact-width runs.

    Parameters
    ----------
    exp : Experiment

    Returns
    -------
    str
    """
    sw = exp.sweep
    lines = [f"{'alpha':>7} {'eta':>6} {'test error':>20} {'training loss':>14} {'sigma_r+1':>10}"]
    for j, a in enumerate(sw.alphas):
        e = sw.test_error[:, j]
        lines.append(f"{a:>7.0e} {sw.eta[0, j]:>6.3f} {e.min():>9.2g} .. {e.max():<8.2g} "
                     f"{sw.train_loss[:, j].max():>14.0e} {sw.sigma_extra[:, j].max():>10.2g}")
    r = exp.problem.target.r
    for a, e, f in zip(sw.exact_alphas, sw.exact_error, sw.exact_loss):
        lines.append(f"k = r = {r}, alpha = {a:.0e}: test error {e:.0e}, training loss {f:.0e}")
    return "\n".join(lines)


def exponent_summary(exp: Experiment) -> str:
    """One line: the fitted exponent per seed, its mean and standard deviation.

    Parameters
    ----------
    exp : Experiment

    Returns
    -------
    str
    """
    g = exp.gamma
    return f"gamma per seed: {np.round(g, 2).tolist()}, mean {g.mean():.2f}, std {g.std(ddof=1):.2f}"


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
    g = exp.gamma
    sigma_r = float(exp.problem.target.sigma[-1])
    rho = exp.rho
    j_small = int(np.argmin(sw.alphas))
    return {
        "a1_runs": int(sw.result.batch_size), "a1_iters": exp.iters, "a1_n_seeds": int(len(sw.seeds)),
        "a1_alpha_max": float(sw.alphas[0]), "a1_alpha_min": float(sw.alphas[j_small]),
        "a1_alpha_fit_max": exp.alpha_fit_max, "a1_sigma_r": sigma_r,
        "a1_loss_large": rounded(sw.train_loss[:, 0].max(), 2),
        "a1_err_large": rounded(sw.test_error[:, 0].min(), 2),
        "a1_sv_extra_large": rounded(sw.sigma_extra[:, 0].min(), 2),
        "a1_err_small": rounded(sw.test_error[:, j_small].max(), 2),
        "a1_gamma_mean": round(float(g.mean()), 2), "a1_gamma_std": round(float(g.std(ddof=1)), 2),
        "a1_gamma_min": round(float(g.min()), 2), "a1_gamma_max": round(float(g.max()), 2),
        "a1_gamma_r2": round(min(f.r2 for f in exp.fits), 3),
        "a1_monotone_violations": int(np.count_nonzero(~sw.monotone())),
        "a1_err_exact": rounded(sw.exact_error.max(), 1),
        "a1_rho": round(rho, 2), "a1_rho_ratio": round(rho / sigma_r, 2),
        "a1_p3": round(2 * (1 - rho / sigma_r), 2),
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
    g = exp.gamma
    j_small = int(np.argmin(sw.alphas))
    r = exp.problem.target.r
    n_bad = int(np.count_nonzero(~sw.monotone()))
    return [
        between("a1.small-alpha", f"largest test error over seeds at the smallest alpha ({sw.alphas[j_small]:.0e})",
                float(sw.test_error[:, j_small].max()), 0.0, 1e-3, basis="specification",
                tolerance="below 1e-3 (poly(alpha) error)"),
        between("a1.large-alpha-loss", f"largest training loss at the largest alpha ({sw.alphas[0]:g})",
                float(sw.train_loss[:, 0].max()), 0.0, 1e-8, basis="specification",
                tolerance="below 1e-8 (interpolation)"),
        at_least("a1.large-alpha-error", f"smallest test error at the largest alpha ({sw.alphas[0]:g})",
                 float(sw.test_error[:, 0].min()), 0.3, basis="specification",
                 tolerance="above 0.3 (no generalization)"),
        at_least("a1.exponent", f"log-log slope of test error vs alpha (alpha <= {exp.alpha_fit_max:g}), "
                 f"smallest over {len(sw.seeds)} seeds; mean {g.mean():.2f} ± {g.std(ddof=1):.2f}",
                 float(g.min()), 0.0, basis="theory", tolerance="sign only (exponent of the paper not verified)"),
        at_most("a1.monotone", "test error strictly increasing in alpha, for every seed (number of seeds violating)",
                float(n_bad), 0.0, basis="theory", tolerance="exact"),
        between("a1.exact-width", f"largest test error with k = r = {r} (smallest and largest alpha)",
                float(sw.exact_error.max()), 0.0, 1e-8, basis="derived-on-page",
                tolerance="1e-8: exact recovery, finite horizon"),
    ]


def evaluate(P) -> list[Claim]:
    """The chapter's whole computation, as its notebook runs it, and its claims.

    The notebook's calls, in its order: :func:`problem`, :func:`run` and :func:`claims`.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure`.

    Returns
    -------
    list of Claim
        The list that the notebook passes to :func:`opsense.evaluate_claims`.
    """
    prob = problem(P)
    exp = run(P, prob)
    return claims(exp)


# ---------------------------------------------------------------------------- the figure
def plot_generalization(exp: Experiment, *, curves_seed: int = 0):
    """Figure of the chapter.

    Left: final test error (per seed) and training loss against ``alpha`` (log-log),
    with the exact-rank runs and the fitted power law ``alpha**gamma`` (mean exponent over
    the seeds) over ``alpha <= alpha_fit_max``, through the geometric mean of the first
    seed's errors there. Right: test error against the iteration for each ``alpha``.

    Parameters
    ----------
    exp : Experiment
    curves_seed : int, keyword-only
        Position of the seed whose curves are drawn on the right.

    Returns
    -------
    fig, (ax_alpha, ax_time)
    """
    if not isinstance(exp, Experiment):
        raise ValueError(f"exp must be an a1_generalization Experiment, got {type(exp).__name__}")
    sweep = exp.sweep
    sj = v.integer("curves_seed", curves_seed, minimum=0, maximum=len(sweep.seeds) - 1)
    exponent = float(exp.gamma.mean())
    fig, (ax1, ax2) = figure(ncols=2, width=10.0, height=3.8)
    a = sweep.alphas
    for j, (s, err) in enumerate(zip(sweep.seeds, sweep.test_error)):
        ax1.loglog(a, err, "o-", color="C0", alpha=0.5 + 0.5 / (j + 1), ms=4,
                   label=f"test error, k = {sweep.k}, seed {s}")
    ax1.loglog(a, sweep.train_loss.max(axis=0), "s--", color="C1", ms=4,
               label=f"training loss (max over seeds), k = {sweep.k}")
    if sweep.exact_alphas.size:
        r = int(sweep.result.k[-1])
        ax1.loglog(sweep.exact_alphas, np.maximum(sweep.exact_error, 1e-17), "D", color="C2", ms=6,
                   label=f"test error, k = r = {r}")
    sel = a <= exp.alpha_fit_max
    c = np.exp(np.mean(np.log(sweep.test_error[0, sel]) - exponent * np.log(a[sel])))
    ax1.loglog(a[sel], c * a[sel] ** exponent, "k:", lw=1.2, label=f"fit: α^{exponent:.2f}")
    ax1.set_xlabel("initialization scale α")
    ax1.set_ylabel("relative test error / training loss")
    ax1.set_title("end of training, asymmetric UVᵀ")
    ax1.legend(fontsize=7.5)
    res = sweep.result
    for i, al in enumerate(a):
        b = sweep.run_index(sj, i)
        ax2.semilogy(res.t, res.rel_error[b], label=param_label("alpha", float(al)))
    ax2.set_xlabel("iteration t")
    ax2.set_ylabel("relative test error")
    ax2.set_title(f"k = {sweep.k}, seed {sweep.seeds[sj]}")
    ax2.legend(fontsize=7.5, ncols=2)
    return fig, (ax1, ax2)
