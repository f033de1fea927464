"""Chapter ``a4_low_rank``: the implicit low-rank bias of small initialization (paper A).

With width :math:`k\\ge\\max(n_1,n_2)` the model :math:`UV^\\top` can represent every matrix,
yet gradient descent from a small random start returns an iterate whose tail
:math:`\\sigma_{r+1}(U_TV_T^\\top)` is polynomially small in the scale :math:`\\alpha`.
:func:`run` makes one batched run over a sweep of small :math:`\\alpha` plus one large
:math:`\\alpha` (step :func:`opsense.step_sizes`), counts the effective rank
(:func:`opsense.effective_rank`) and fits the tail against :math:`\\alpha`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..book import rounded
from ..config import Cost, gd_cost, parameter_check
from ..analysis import Fit, effective_rank, fit_power
from ..claims import Claim, at_least, at_most, between, close
from ..engine.gd import GDResult, run_gd, step_sizes
from ..engine.problems import Problem, make_problem
from ..plotting import figure, param_label, plot_power_fit

__all__ = ["PRESETS", "MAX_ENTRIES", "MAX_WORK", "MAX_GRAM", "check", "cost", "LowRank", "run",
           "summary", "exponent_line",
           "glue_values", "claims", "evaluate", "plot_low_rank"]

ALPHAS = [10.0 ** -e for e in range(2, 7)]   # 1e-2 ... 1e-6
#: Parameter sets: ``book`` (20 x 30, rank 2, about a second) and ``paper`` (50 x 50, rank 3).
PRESETS = {
    "book": dict(n1=20, n2=30, r=2, sigma=[1.0, 0.5], m=300, k=30, alphas=ALPHAS, alpha_large=1.0, eta=0.25,
                 iters=1500, tau=0.01, seed=0),
    "paper": dict(n1=50, n2=50, r=3, sigma=[1.0, 0.75, 0.5], m=1500, k=50, alphas=ALPHAS, alpha_large=1.0, eta=0.25,
                  iters=2500, tau=0.01, seed=0),
}

#: Largest operator (m * n1 * n2 entries, 8 bytes each).
MAX_ENTRIES = 200_000_000
#: Largest amount of work: iters * (number of runs) * n1 * n2 * (m + k).
MAX_WORK = 2e12
#: Largest runs * k^2: the engine records the k x k imbalance of every run.
MAX_GRAM = 50_000_000

RECORD_EVERY = 10
#: Training losses below this are rounding noise: the page shows only the bound.
LOSS_FLOOR = 1e-20




@parameter_check
def check(P) -> None:
    """Refuse infeasible parameters of the chapter, naming the parameter.

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
    if r >= min(n1, n2):
        raise ValueError(f"r must be < min(n1, n2) = {min(n1, n2)} (the tail sigma_(r+1) is measured), got {r}")
    v.positive_values("sigma", P.sigma, size=r)
    m = v.integer("m", P.m, minimum=1)
    v.sampled(m, r=r, n1=n1, n2=n2)
    k = v.integer("k", P.k, minimum=1)
    if k < max(n1, n2):
        raise ValueError(f"k must be >= max(n1, n2) = {max(n1, n2)} in this chapter, got {k}")
    v.integer("seed", P.seed, minimum=0)
    iters = v.integer("iters", P.iters, minimum=1)
    alphas = v.sweep("alphas", P.alphas, lambda n, x: v.real(n, x, positive=True))
    if len(set(alphas)) < 2:
        raise ValueError(f"alphas must hold at least two distinct values > 0 (a power law is fitted), got {alphas}")
    alpha_large = v.real("alpha_large", P.alpha_large, positive=True)
    if alpha_large <= max(alphas):
        raise ValueError(f"alpha_large must exceed every value of alphas, got {alpha_large}")
    v.real("tau", P.tau, positive=True, below=1.0)
    eta = v.real("eta", P.eta, positive=True)
    if m * n1 * n2 > MAX_ENTRIES:
        raise ValueError(f"m must keep m * n1 * n2 <= {MAX_ENTRIES:,} (the operator's memory), "
                         f"got {m} * {n1} * {n2}")
    runs = len(alphas) + 1
    if runs * k * k > MAX_GRAM:
        raise ValueError(f"k must keep runs * k^2 <= {MAX_GRAM:,} (the k x k imbalance of every run), "
                         f"got {runs} * {k}^2")
    work = iters * runs * n1 * n2 * (m + k)
    if work > MAX_WORK:
        raise ValueError(f"iters must keep iters * runs * n1 * n2 * (m + k) <= {MAX_WORK:.0e} (run time), "
                         f"got {work:.2e} with {runs} runs")
    # the small-alpha runs keep eta: it must be below the engine's safe bound there
    prob = make_problem(n1, n2, r, m, sigma=P.sigma, seed=P.seed)
    s1 = float(prob.spectral_sigma[0])
    safe = step_sizes(prob, k=k, alpha=alphas, seed=P.seed, eta=1.0 / (3.0 * s1))
    if eta > safe.min():
        raise ValueError(f"eta must be <= {safe.min():.3g}, the safe step min(1/(3 sigma_1(A*(y))), 1/L0) "
                         f"of opsense.step_sizes at the small alphas (larger steps may diverge), got {eta:g}")






def cost(P) -> Cost:
    """What :func:`run` costs, from the parameters alone (pure arithmetic, nothing is run).

    ``work``: ``len(alphas) + 1`` runs of ``iters`` steps, each step ``n1 n2 (2 m + 3 k)``.
    ``memory_bytes``: the ``m x n1 n2`` operator, the stacked factors ``runs (n1 + n2) k`` and the
    curves ``runs * records * (min(n1, n2, k) + 2 r + 9)`` (a record every 10 steps), 8 bytes each.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (already checked by :func:`check`).

    Returns
    -------
    opsense.config.Cost
    """
    n1, n2, r, m, k = int(P.n1), int(P.n2), int(P.r), int(P.m), int(P.k)
    runs = len(P.alphas) + 1
    w, b = gd_cost(runs, int(P.iters), m=m, n1=n1, n2=n2, k=k, r=r, every=RECORD_EVERY)
    return Cost(memory_bytes=8.0 * m * n1 * n2 + b, work=w, drivers=("iters", "alphas", "m", "n1", "n2", "k"))


@dataclass(frozen=True)
class LowRank:
    """The chapter's experiment.

    Attributes
    ----------
    problem : Problem
    result : GDResult
        ``B`` runs: the small ``alphas`` in decreasing order, then ``alpha_large``.
    erank : ndarray of int, shape (B, T)
        Effective rank of every run at every recorded iteration.
    tail : ndarray of shape (B,)
        :math:`\\sigma_{r+1}(U_TV_T^\\top)`.
    top_err : ndarray of shape (B,)
        Largest relative error of the top ``r`` singular values at the end.
    small : ndarray of int, shape (A,)
        Indices of the small-``alpha`` runs (those fitted).
    fit : Fit
        Power-law fit of ``tail[small]`` against ``alpha``.
    rho : float
        :math:`\\ln(1+\\mu\\tilde\\sigma_{r+1})/\\ln(1+\\mu\\tilde\\sigma_r)`, from the spectrum
        of :math:`\\mathcal A^*(y)`.
    r : int
    tau : float
        Threshold of the effective rank.
    seconds : float
        Run time of :func:`run`.
    """

    problem: Problem
    result: GDResult
    erank: np.ndarray
    tail: np.ndarray
    top_err: np.ndarray
    small: np.ndarray
    fit: Fit
    rho: float
    r: int
    tau: float
    seconds: float = 0.0

    @property
    def i_min(self) -> int:
        """Index of the run at the smallest ``alpha``."""
        return int(self.small[-1])

    @property
    def i_large(self) -> int:
        """Index of the large-``alpha`` run."""
        return self.result.batch_size - 1


def run(P) -> LowRank:
    """Run the chapter's experiment with the parameters ``P`` (see :data:`PRESETS`).

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure`, already checked by :func:`check`.

    Returns
    -------
    LowRank
    """
    start = time.perf_counter()
    problem = make_problem(P.n1, P.n2, P.r, P.m, sigma=P.sigma, seed=P.seed)
    alpha_b = sorted((float(a) for a in P.alphas), reverse=True) + [float(P.alpha_large)]
    etas = step_sizes(problem, k=P.k, alpha=alpha_b, seed=P.seed, eta=P.eta)
    res = run_gd(problem, k=P.k, alpha=alpha_b, eta=etas, iters=P.iters, seed=P.seed, record_every=RECORD_EVERY)
    erank = effective_rank(res.singular_values, rel_threshold=P.tau)
    sv = res.singular_values[:, -1]                                  # (B, s) at the end
    tail = sv[:, P.r]
    top_err = np.abs(sv[:, :P.r] / problem.target.sigma - 1).max(axis=1)
    small = np.arange(len(alpha_b) - 1)
    fit = fit_power(np.asarray(alpha_b)[small], tail[small])
    s_spec = problem.spectral_sigma
    rho = float(np.log1p(P.eta * s_spec[P.r]) / np.log1p(P.eta * s_spec[P.r - 1]))
    return LowRank(problem, res, erank, tail, top_err, small, fit, rho, int(P.r), float(P.tau),
                   time.perf_counter() - start)


def _loss_text(x: float) -> str:
    return f"{x:.1e}" if x > LOSS_FLOOR else f"< {LOSS_FLOOR:.0e}"


def summary(exp: LowRank) -> str:
    """The table of the runs: step, tail, top-``r`` error, test error, training loss, effective rank.

    Parameters
    ----------
    exp : LowRank

    Returns
    -------
    str
    """
    res = exp.result
    lines = [f"{'alpha':>7} {'eta':>6} {'sigma_r+1':>10} {'top-r rel':>10} {'test err':>9} {'train loss':>10} "
             f"{'erank':>6}"]
    for b in range(res.batch_size):
        lines.append(f"{res.alpha[b]:>7.0e} {res.eta[b]:>6.3f} {exp.tail[b]:>10.2e} {exp.top_err[b]:>10.1e} "
                     f"{res.rel_error[b, -1]:>9.1e} {_loss_text(res.loss[b, -1]):>10} {exp.erank[b, -1]:>6d}")
    return "\n".join(lines)


def exponent_line(exp: LowRank) -> str:
    """The fitted exponent of the tail, with the heuristic :math:`2(1-\\rho)`.

    Parameters
    ----------
    exp : LowRank

    Returns
    -------
    str
    """
    f = exp.fit
    return (f"fitted exponent {f.slope:.3f} ± {f.stderr:.3f} (R^2 = {f.r2:.4f}); "
            f"heuristic 2(1 - rho) = {2 * (1 - exp.rho):.3f}")

def glue_values(exp: LowRank) -> dict:
    """The numbers the chapter's prose quotes, by glue name (rounded as the page shows them).

    Parameters
    ----------
    exp : LowRank

    Returns
    -------
    dict of str to float, int or str
    """
    res, erank, tail = exp.result, exp.erank, exp.tail
    i_min, i_large = exp.i_min, exp.i_large
    ok = [float(res.alpha[b]) for b in exp.small if erank[b, -1] == exp.r]
    return {
        "a4_alpha_min": float(res.alpha[i_min]), "a4_alpha_max": float(res.alpha[0]), "a4_r": exp.r,
        "a4_top_err": rounded(exp.top_err[i_min], 2), "a4_test_min": rounded(res.rel_error[i_min, -1], 2),
        "a4_tail_max": rounded(tail[0], 2), "a4_tail_min": rounded(tail[i_min], 2),
        "a4_gamma": rounded(exp.fit.slope), "a4_gamma_se": rounded(exp.fit.stderr, 2), "a4_r2": rounded(exp.fit.r2, 4),
        "a4_gamma_heur": rounded(2 * (1 - exp.rho), 2), "a4_erank0": int(erank[:, 0].min()),
        "a4_erank_small": int(erank[i_min, -1]), "a4_alpha_rank_ok": max(ok) if ok else float("nan"),
        "a4_alpha_large": float(res.alpha[i_large]), "a4_loss_large": _loss_text(res.loss[i_large, -1]),
        "a4_test_large": rounded(res.rel_error[i_large, -1], 2), "a4_tail_large": rounded(tail[i_large], 2),
        "a4_erank_large": int(erank[i_large, -1]),
    }


def claims(exp: LowRank) -> list[Claim]:
    """The chapter's claims (see the page's "Claims" section for the basis of each tolerance).

    Parameters
    ----------
    exp : LowRank

    Returns
    -------
    list of Claim
    """
    res, fit, r = exp.result, exp.fit, exp.r
    i_min, i_large = exp.i_min, exp.i_large
    a_min = float(res.alpha[i_min])
    # strict decrease of the tail as alpha decreases: the largest ratio tail(next smaller alpha) / tail(alpha)
    tails = exp.tail[exp.small]
    worst_ratio = float(np.max(tails[1:] / tails[:-1]))
    return [
        at_least("a4.tail-exponent", "fitted exponent of sigma_{r+1}(X_T) against alpha (k >= max(n1, n2)) "
                 "minus 2 standard errors", fit.slope - 2 * fit.stderr, 0.0, basis="theory",
                 tolerance=f"> 0 by 2 standard errors (exponent {fit.slope:.3g}, std. error {fit.stderr:.2g})"),
        between("a4.fit-quality", "R^2 of the power-law fit of the tail", fit.r2, 0.9, 1.0,
                basis="specification", tolerance=">= 0.9"),
        at_most("a4.tail-monotone", "largest ratio sigma_{r+1}(X_T) at the next smaller alpha / at alpha "
                "(strict decrease: < 1)", worst_ratio, float(np.nextafter(1.0, 0.0)), basis="derived-on-page",
                tolerance="exact (< 1)"),
        between("a4.top-r", f"max relative error of the top r singular values at alpha = {a_min:g}",
                float(exp.top_err[i_min]), 0.0, 0.01, basis="specification", tolerance="1%"),
        close("a4.erank-small", f"effective rank at the end, alpha = {a_min:g}", float(exp.erank[i_min, -1]),
              float(r), atol=0.5, basis="theory", tolerance="exact count"),
        at_least("a4.erank-large", f"effective rank at the end, alpha = {float(res.alpha[i_large]):g} "
                 f"(exceeds r = {r})", float(exp.erank[i_large, -1]), float(r + 1), basis="derived-on-page",
                 tolerance="exact count"),
    ]


def evaluate(P) -> list[Claim]:
    """The chapter's whole computation, as its notebook runs it, and its claims.

    The notebook's calls, in its order: :func:`run` and :func:`claims`.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure`.

    Returns
    -------
    list of Claim
        The list that the notebook passes to :func:`opsense.evaluate_claims`.
    """
    exp = run(P)
    return claims(exp)


def plot_low_rank(exp: LowRank):
    """Figure of the chapter (three panels).

    (a) the leading singular values of :math:`U_tV_t^\\top` for the smallest-``alpha`` run
    (solid) and the large-``alpha`` run (dashed); (b) the effective rank over time for every
    run; (c) :math:`\\sigma_{r+1}` at the end against ``alpha``, log-log, with the fit.

    Parameters
    ----------
    exp : LowRank

    Returns
    -------
    fig, (ax_sv, ax_rank, ax_tail)
    """
    if not isinstance(exp, LowRank):
        raise ValueError(f"exp must be a LowRank experiment, got {type(exp).__name__}")
    result, erank, r, fit = exp.result, exp.erank, exp.r, exp.fit
    small, large = exp.i_min, exp.i_large
    a_fit, tail = result.alpha[exp.small], exp.tail[exp.small]
    fig, (ax1, ax2, ax3) = figure(ncols=3, width=13.0, height=3.8)
    nsv = min(result.singular_values.shape[2], r + 3)
    for i in range(nsv):
        ax1.semilogy(result.t, result.singular_values[small, :, i], color=f"C{i}", label=f"σ_{i + 1}")
        ax1.semilogy(result.t, result.singular_values[large, :, i], color=f"C{i}", ls="--", lw=1.0, alpha=0.7)
    ax1.set_xlabel("iteration t")
    ax1.set_ylabel("σ_i(U_t V_tᵀ)")
    ax1.set_title(f"solid {param_label('alpha', float(result.alpha[small]))}, "
                  f"dashed {param_label('alpha', float(result.alpha[large]))}, k = {int(result.k[small])}")
    ax1.legend(ncols=2)
    for b in range(result.batch_size):
        ax2.step(result.t, erank[b], where="post", label=param_label("alpha", float(result.alpha[b])))
    ax2.axhline(r, color="k", ls=":", lw=1)
    ax2.set_ylim(0, erank.max() + 1)
    ax2.set_xlabel("iteration t")
    ax2.set_ylabel(f"effective rank  #{{i: σ_i ≥ {exp.tau:g} σ_1}}")
    ax2.set_title("effective rank over time")
    ax2.legend(ncols=2)
    ax3.loglog(a_fit, tail, "o", label=f"σ_{r + 1}(U_T V_Tᵀ)")
    plot_power_fit(ax3, a_fit, fit, label=f"fit: α^{fit.slope:.2f} (R² = {fit.r2:.3f})")
    ax3.set_xlabel("initialization scale α")
    ax3.set_ylabel(f"σ_{r + 1} at the end")
    ax3.set_title("the tail shrinks with α")
    ax3.legend()
    return fig, (ax1, ax2, ax3)
