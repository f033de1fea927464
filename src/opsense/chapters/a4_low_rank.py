"""Chapter ``a4_low_rank``: the implicit low-rank bias of small initialization (paper A).

With width :math:`k\\ge\\max(n_1,n_2)` the model :math:`UV^\\top` can represent every matrix,
yet gradient descent from a small random start returns an iterate whose tail
:math:`\\sigma_{r+1}(U_tV_t^\\top)` is polynomially small in the scale :math:`\\alpha`.
:func:`run` makes, on each of ``n_instances`` independent instances (target, operator and
initialization re-drawn, :func:`opsense.instance_seeds`), one batched run over a sweep of small
:math:`\\alpha` plus one large :math:`\\alpha` (step :func:`opsense.step_sizes`), measures every run
at its convergence time (:func:`settle_index`: the linear phase is over, or the data are
interpolated), counts the effective rank (:func:`opsense.effective_rank`), fits the tail against
:math:`\\alpha` per instance and compares the exponent with the heuristic :math:`2(1-\\rho)`
read off the spectrum of :math:`\\mathcal A^*(y)`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..book import rounded
from ..config import Cost, gd_cost, parameter_check, regime
from ..analysis import Fit, effective_rank, fit_power, predicted_time, settle_index
from ..claims import Claim, at_least, at_most, close
from ..engine.gd import GDResult, run_gd, step_sizes
from ..engine.problems import Problem, instance_seeds, make_problem
from ..plotting import figure, param_label
from ..stats import Interval, instance_interval

__all__ = ["PRESETS", "MAX_ENTRIES", "MAX_WORK", "MAX_GRAM", "check", "cost", "predicted_time", "needed_iters",
           "settle_index", "LowRank", "run", "summary", "exponent_line", "glue_values", "claims", "evaluate",
           "plot_low_rank"]

ALPHAS = [10.0 ** -e for e in range(2, 7)]   # 1e-2 ... 1e-6
#: Parameter sets: ``book`` (20 x 30, rank 2, a few seconds) and ``paper`` (50 x 50, rank 3).
#: ``iters`` is the step budget of every run; :func:`check` refuses less than :func:`needed_iters`.
PRESETS = {
    "book": dict(n1=20, n2=30, r=2, sigma=[1.0, 0.5], m=300, k=30, alphas=ALPHAS, alpha_large=1.0, eta=0.25,
                 iters=800, tau=0.01, n_instances=5, seed=0),
    "paper": dict(n1=50, n2=50, r=3, sigma=[1.0, 0.75, 0.5], m=1200, k=50, alphas=ALPHAS, alpha_large=1.0,
                  eta=0.25, iters=800, tau=0.01, n_instances=5, seed=0),
}

#: Largest operator of one instance (m * n1 * n2 entries, 8 bytes each).
MAX_ENTRIES = 10_000_000
#: Largest amount of work: iters * (number of runs) * n1 * n2 * (m + k).
MAX_WORK = 2e12
#: Largest runs * k^2 of one instance's batch: the engine records the k x k imbalance of every run.
MAX_GRAM = 50_000_000
#: Largest ``eta * sigma_1`` (gradient descent is stable well below 1).
MAX_ETA_SIGMA = 0.5
RECORD_EVERY = 5
#: Number of instances the claims need.
MIN_INSTANCES = 5
#: Model tolerance of the heuristic exponent 2(1 - rho) (absolute, on the paired difference).
HEURISTIC_ATOL = 0.05
#: The heuristic linearizes around a small leftover: ``alpha^(1 - rho)`` at the largest fitted scale must stay below this.
LINEAR_MAX = 0.2


def needed_iters(alphas, *, eta: float, sigma_r: float) -> int:
    """The smallest step budget :func:`check` accepts: ``2 * predicted_time(min(alphas))``, at least 200.

    Parameters
    ----------
    alphas : sequence of float > 0
    eta, sigma_r : float > 0, keyword-only

    Returns
    -------
    int
    """
    a = v.sweep("alphas", alphas, lambda n, x: v.real(n, x, positive=True))
    return max(200, int(math.ceil(2.0 * predicted_time(min(a), eta=eta, sigma_r=sigma_r))))


@parameter_check
def check(P) -> None:
    """Refuse infeasible parameters of the chapter, naming the parameter; state its regime.

    **Regime** (where the claims are checked; outside it a run goes ahead with an
    :class:`~opsense.config.OutsideRegimeWarning`): ``3 r (n1 + n2) <= m <= n1 n2 / 2``;
    ``kappa <= 3``; ``eta sigma_1 <= 0.25``; small scales ``alphas`` at most ``1e-2 sqrt(sigma_1)``
    (at least three, the smallest at most ``1e-4 sqrt(sigma_1)``); ``alpha_large >= 0.5
    sqrt(sigma_1)``; ``tau <= sigma_r / (2 sigma_1)``; at least 5 instances. ``k >= max(n1, n2)``
    is required (the chapter's subject). Paper A's own (reconstructed) assumptions are much
    stronger; see the page.

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
    sigma = v.positive_values("sigma", P.sigma, size=r)
    m = v.integer("m", P.m, minimum=1)
    v.sampled(m, r=r, n1=n1, n2=n2)
    if m >= n1 * n2:
        raise ValueError(f"m must be < n1 n2 = {n1 * n2} (an under-determined problem), got {m}")
    k = v.integer("k", P.k, minimum=1)
    if k < max(n1, n2):
        raise ValueError(f"k must be >= max(n1, n2) = {max(n1, n2)} in this chapter, got {k}")
    v.integer("seed", P.seed, minimum=0)
    iters = v.integer("iters", P.iters, minimum=1)
    alphas = v.sweep("alphas", P.alphas, lambda n, x: v.real(n, x, positive=True))
    if len(set(alphas)) < 2 or len(set(alphas)) != len(alphas):
        raise ValueError(f"alphas must hold at least two distinct values > 0 (a power law is fitted), got {alphas}")
    alpha_large = v.real("alpha_large", P.alpha_large, positive=True)
    if alpha_large <= max(alphas):
        raise ValueError(f"alpha_large must exceed every value of alphas, got {alpha_large}")
    if alpha_large > 10.0:
        raise ValueError(f"alpha_large must be <= 10 (larger factors make the step size vanish), got {alpha_large}")
    tau = v.real("tau", P.tau, positive=True, below=1.0)
    eta = v.real("eta", P.eta, positive=True)
    s1, sr = max(sigma), min(sigma)
    if eta * s1 > MAX_ETA_SIGMA:
        raise ValueError(f"eta must be <= {MAX_ETA_SIGMA:g} / sigma_1 = {MAX_ETA_SIGMA / s1:.4g} (stability of "
                         f"gradient descent), got {eta:g}")
    n_inst = v.integer("n_instances", P.n_instances, minimum=2)
    if m * n1 * n2 > MAX_ENTRIES:
        raise ValueError(f"m must keep m * n1 * n2 <= {MAX_ENTRIES:,} (the memory of each instance's operator), "
                         f"got {m} * {n1} * {n2}")
    runs = len(alphas) + 1
    if runs * k * k > MAX_GRAM:
        raise ValueError(f"k must keep runs * k^2 <= {MAX_GRAM:,} (the k x k imbalance of every run), "
                         f"got {runs} * {k}^2")
    need = needed_iters(alphas, eta=eta, sigma_r=sr)
    if iters < need:
        raise ValueError(f"iters must be >= {need} (twice the predicted end of the fast phases at the smallest "
                         f"alpha: escape ln(sigma_r/alpha^2)/(2 ln(1 + eta sigma_r)) plus refinement "
                         f"ln(1/alpha^2)/(eta sigma_r)), got {iters}")
    work = iters * runs * n_inst * n1 * n2 * (m + k)
    if work > MAX_WORK:
        raise ValueError(f"iters must keep iters * runs * n_instances * n1 * n2 * (m + k) <= {MAX_WORK:.0e} "
                         f"(run time), got {work:.2e} with {runs} runs per instance")
    regime("a4_low_rank", [
        (m >= 3 * r * (n1 + n2), f"m >= 3 r (n1 + n2) = {3 * r * (n1 + n2)} (m = {m}, "
                                 f"m / (r (n1 + n2)) = {m / (r * (n1 + n2)):.2g})"),
        (2 * m <= n1 * n2, f"m <= n1 n2 / 2 = {n1 * n2 // 2} (m = {m})"),
        (s1 <= 3 * sr, f"kappa <= 3 (kappa = {s1 / sr:.3g})"),
        (eta * s1 <= 0.25, f"eta sigma_1 <= 0.25 (eta sigma_1 = {eta * s1:.3g})"),
        (max(alphas) <= 1e-2 * math.sqrt(s1), f"alphas <= 1e-2 sqrt(sigma_1) (largest {max(alphas):g})"),
        (min(alphas) <= 1e-4 * math.sqrt(s1), f"smallest alpha <= 1e-4 sqrt(sigma_1) (got {min(alphas):g})"),
        (len(alphas) >= 3, f"at least 3 small scales (got {len(alphas)})"),
        (alpha_large >= 0.5 * math.sqrt(s1), f"alpha_large >= 0.5 sqrt(sigma_1) (got {alpha_large:g})"),
        (tau <= sr / (2 * s1), f"tau <= sigma_r / (2 sigma_1) = {sr / (2 * s1):.3g} (got {tau:g})"),
        (n_inst >= MIN_INSTANCES, f"n_instances >= {MIN_INSTANCES} (got {n_inst})"),
    ])


def cost(P) -> Cost:
    """What :func:`run` costs, from the parameters alone (pure arithmetic, nothing is run).

    ``work``: ``n_instances`` batches of ``len(alphas) + 1`` runs of ``iters`` steps, each step
    ``n1 n2 (2 m + 3 k)``. ``memory_bytes``: the ``n_instances`` operators ``m x n1 n2``, the
    stacked factors and the curves of every batch (a record every 5 steps), 8 bytes each.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (already checked by :func:`check`).

    Returns
    -------
    opsense.config.Cost
    """
    n1, n2, r, m, k = int(P.n1), int(P.n2), int(P.r), int(P.m), int(P.k)
    runs = (len(P.alphas) + 1) * int(P.n_instances)
    w, b = gd_cost(runs, int(P.iters), m=m, n1=n1, n2=n2, k=k, r=r, every=RECORD_EVERY)
    return Cost(memory_bytes=8.0 * int(P.n_instances) * m * n1 * n2 + b, work=w,
                drivers=("iters", "n_instances", "alphas", "m", "n1", "n2", "k"))


@dataclass(frozen=True)
class LowRank:
    """The chapter's experiment over independent instances.

    Attributes
    ----------
    problems : list of Problem
        The ``N`` instances.
    results : list of GDResult
        One batch per instance: the ``A`` small ``alphas`` in decreasing order, then ``alpha_large``.
    alphas : ndarray of shape (A + 1,)
        The scales of every batch (the last is ``alpha_large``).
    t_conv : ndarray of int, shape (N, A + 1)
        Convergence time of every run (``-1`` if not reached within the budget).
    tail, sigma1, top_err, test_error : ndarray of shape (N, A + 1)
        At the convergence time: :math:`\\sigma_{r+1}(U_tV_t^\\top)`, :math:`\\sigma_1(U_tV_t^\\top)`,
        the largest relative error of the top ``r`` singular values, the relative test error.
    erank : ndarray of int, shape (N, A + 1)
        Effective rank at the convergence time.
    erank0 : ndarray of int, shape (N, A + 1)
        Effective rank at ``t = 0``.
    fits : list of Fit
        Per instance, the power law of ``tail`` against the small ``alphas``.
    rho : ndarray of shape (N,)
        :math:`\\ln(1+\\mu\\tilde\\sigma_{r+1})/\\ln(1+\\mu\\tilde\\sigma_r)` per instance, from the
        spectrum of :math:`\\mathcal A^*(y)`.
    r : int
    tau : float
        Threshold of the effective rank.
    iters : int
        Step budget.
    seconds : float
        Run time of :func:`run`.
    """

    problems: list
    results: list
    alphas: np.ndarray
    t_conv: np.ndarray
    tail: np.ndarray
    sigma1: np.ndarray
    top_err: np.ndarray
    test_error: np.ndarray
    erank: np.ndarray
    erank0: np.ndarray
    fits: list
    rho: np.ndarray
    r: int
    tau: float
    iters: int
    seconds: float = 0.0

    @property
    def gamma(self) -> np.ndarray:
        """Fitted tail exponents, one per instance."""
        return np.array([f.slope for f in self.fits])

    @property
    def heuristic(self) -> np.ndarray:
        """The heuristic exponents :math:`2(1-\\rho)`, one per instance."""
        return 2.0 * (1.0 - self.rho)

    def gamma_interval(self) -> Interval:
        """Mean tail exponent over the instances with its 95% interval."""
        return instance_interval(self.gamma)

    def difference_interval(self) -> Interval:
        """Fitted minus heuristic exponent, paired per instance, with its 95% interval."""
        return instance_interval(self.gamma - self.heuristic)

    @property
    def converged(self) -> np.ndarray:
        """Whether each run converged within the budget: ndarray of bool, shape (N, A + 1)."""
        return self.t_conv >= 0


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
    r = int(P.r)
    alpha_b = sorted((float(a) for a in P.alphas), reverse=True) + [float(P.alpha_large)]
    A = len(alpha_b) - 1
    seeds = instance_seeds(P.seed, P.n_instances)
    probs, results, rows = [], [], []
    for s in seeds:
        prob = make_problem(P.n1, P.n2, r, P.m, sigma=P.sigma, seed=s)
        etas = step_sizes(prob, k=P.k, alpha=alpha_b, seed=s, eta=P.eta)
        res = run_gd(prob, k=P.k, alpha=alpha_b, eta=etas, iters=P.iters, seed=s, record_every=RECORD_EVERY)
        sr = float(prob.target.sigma[-1])
        fitted = 0.5 * sr / float(np.linalg.norm(prob.target.X))
        er = effective_rank(res.singular_values, rel_threshold=P.tau)
        row = []
        for b in range(res.batch_size):
            lag = int(math.ceil(2.0 / (float(etas[b]) * sr) / RECORD_EVERY))
            c = settle_index(res.residual[b], res.rel_error[b], lag=lag, fitted=fitted)
            j = c if c >= 0 else res.t.size - 1
            sv = res.singular_values[b, j]
            row.append((int(res.t[c]) if c >= 0 else -1, sv[r], sv[0],
                        float(np.abs(sv[:r] / prob.target.sigma - 1).max()), res.rel_error[b, j], er[b, j], er[b, 0]))
        probs.append(prob)
        results.append(res)
        rows.append(row)
    cols = list(zip(*[list(zip(*row)) for row in rows]))          # per quantity: N tuples of A + 1 values
    t_conv, tail, s1, top, test, erank, erank0 = (np.array(c) for c in cols)
    a = np.asarray(alpha_b)
    fits = [fit_power(a[:A], tail[i, :A]) for i in range(len(seeds))]
    rho = np.array([np.log1p(P.eta * p.spectral_sigma[r]) / np.log1p(P.eta * p.spectral_sigma[r - 1]) for p in probs])
    return LowRank(probs, results, a, t_conv.astype(int), tail, s1, top, test, erank.astype(int),
                   erank0.astype(int), fits, rho, r, float(P.tau), int(P.iters), time.perf_counter() - start)


def summary(exp: LowRank) -> str:
    """The table of the runs: per ``alpha`` the step, convergence times, tail, top-``r`` error,
    test error and effective rank over the instances.

    Parameters
    ----------
    exp : LowRank

    Returns
    -------
    str
    """
    lines = [f"{'alpha':>7} {'eta':>6} {'t_c':>11} {'sigma_r+1 / sigma_1':>21} {'top-r rel':>9} "
             f"{'test err':>8} {'erank':>7}"]
    eta = exp.results[0].eta
    for b, a in enumerate(exp.alphas):
        tc, q = exp.t_conv[:, b], exp.tail[:, b] / exp.sigma1[:, b]
        lines.append(f"{a:>7.0e} {eta[b]:>6.3f} {tc.min():>5d}..{tc.max():<5d} {q.min():>9.2e} .. {q.max():<9.2e} "
                     f"{exp.top_err[:, b].max():>9.1e} {exp.test_error[:, b].max():>8.1e} "
                     f"{exp.erank[:, b].min():>3d}..{exp.erank[:, b].max():<3d}")
    return "\n".join(lines)


def exponent_line(exp: LowRank) -> str:
    """The fitted exponent of the tail per instance, with the heuristic :math:`2(1-\\rho)`.

    Parameters
    ----------
    exp : LowRank

    Returns
    -------
    str
    """
    return (f"tail exponent per instance {np.round(exp.gamma, 2).tolist()}; mean {exp.gamma_interval()}\n"
            f"heuristic 2(1 - rho) per instance {np.round(exp.heuristic, 2).tolist()}; "
            f"fitted - heuristic {exp.difference_interval()}")


def glue_values(exp: LowRank) -> dict:
    """The numbers the chapter's prose quotes, by glue name (rounded as the page shows them).

    Parameters
    ----------
    exp : LowRank

    Returns
    -------
    dict of str to float, int or str
    """
    A = len(exp.alphas) - 1
    i_min, i_large = A - 1, A
    g, d = exp.gamma_interval(), exp.difference_interval()
    prob = exp.problems[0]
    n1, n2 = prob.target.shape
    ok = [float(exp.alphas[b]) for b in range(A) if np.all(exp.erank[:, b] == exp.r)]
    return {
        "a4_alpha_min": float(exp.alphas[i_min]), "a4_alpha_max": float(exp.alphas[0]), "a4_r": exp.r,
        "a4_n_inst": int(len(exp.problems)), "a4_k": int(exp.results[0].k[0]),
        "a4_m_ratio": rounded(prob.operator.m / (exp.r * (n1 + n2)), 2), "a4_eta": float(exp.results[0].eta[0]),
        "a4_top_err": rounded(exp.top_err[:, i_min].max(), 2), "a4_test_min": rounded(exp.test_error[:, i_min].max(), 2),
        "a4_tail_max": rounded(exp.tail[:, 0].max(), 2), "a4_tail_min": rounded(exp.tail[:, i_min].min(), 2),
        "a4_gamma": round(g.mean, 2), "a4_gamma_lo": round(g.lo, 2), "a4_gamma_hi": round(g.hi, 2),
        "a4_heur_min": round(float(exp.heuristic.min()), 2), "a4_heur_max": round(float(exp.heuristic.max()), 2),
        "a4_diff": round(d.mean, 2), "a4_diff_lo": round(d.lo, 2), "a4_diff_hi": round(d.hi, 2),
        "a4_erank0": int(exp.erank0[:, :A].min()),
        "a4_erank_small": int(exp.erank[:, i_min].max()), "a4_alpha_rank_ok": max(ok) if ok else float("nan"),
        "a4_alpha_large": float(exp.alphas[i_large]), "a4_test_large": rounded(exp.test_error[:, i_large].min(), 2),
        "a4_tail_large": rounded((exp.tail[:, i_large] / exp.sigma1[:, i_large]).min(), 2),
        "a4_erank_large": int(exp.erank[:, i_large].min()),
        "a4_tc_max": int(exp.t_conv[:, :A].max()), "a4_iters": int(exp.iters),
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
    r, N = exp.r, len(exp.problems)
    A = len(exp.alphas) - 1
    a_min, a_large = float(exp.alphas[A - 1]), float(exp.alphas[A])
    tails = exp.tail[:, :A]
    not_monotone = int(np.count_nonzero(~np.all(tails[:, 1:] < tails[:, :-1], axis=1)))
    reasons = []
    if r >= 2:
        reasons.append("for r >= 2 the directions are learned one after the other: once the first is fitted the "
                       "residual A*A(X* - X_t) no longer has the spectrum of A*(y), and the remaining directions grow "
                       "at other rates than sigma_r(A*y), sigma_(r+1)(A*y) for the rest of the escape")
    lead = float(np.max(float(exp.alphas[0]) ** (1.0 - exp.rho)))
    if lead > LINEAR_MAX:
        reasons.append(f"the leftover alpha^(1 - rho) reaches {lead:.2g} > {LINEAR_MAX:g} at alpha = "
                       f"{float(exp.alphas[0]):g} (a small gap sigma_r(A*y) - sigma_(r+1)(A*y)): the linearization "
                       "behind the heuristic does not hold there")
    why = "; ".join(reasons) or None
    return [
        at_most("a4.converged", f"runs not converged within the budget (of {exp.t_conv.size}; {N} instances)",
                float(np.count_nonzero(~exp.converged)), 0.0, basis="derived-on-page",
                tolerance="exact count (criterion derived on the page)"),
        at_most("a4.erank-small", f"instances whose effective rank at convergence, alpha = {a_min:g}, differs "
                f"from r = {r} (of {N})", float(np.count_nonzero(exp.erank[:, A - 1] != r)), 0.0,
                basis="theory", tolerance=f"exact count at tau = {exp.tau:g}"),
        at_least("a4.tail-exponent", f"log-log slope of sigma_(r+1) at convergence against alpha "
                 f"(k >= max(n1, n2)), mean over {N} instances (95% interval)", exp.gamma_interval(), 0.0,
                 basis="theory", form="scaling", tolerance="interval above 0: the tail is polynomial in alpha"),
        close("a4.heuristic", "fitted tail exponent minus the heuristic 2(1 - rho), paired per instance "
              "(95% interval)", exp.difference_interval(), 0.0, atol=HEURISTIC_ATOL, basis="derived-on-page",
              form="paired-ratio", tolerance=f"interval meets ±{HEURISTIC_ATOL:g} (model tolerance of the heuristic)",
              expected_failure=why),
        at_most("a4.tail-monotone", f"instances whose tail does not decrease strictly as alpha decreases (of {N})",
                float(not_monotone), 0.0, basis="derived-on-page", tolerance="exact count"),
        at_most("a4.erank-large", f"instances whose effective rank at convergence, alpha = {a_large:g}, is at "
                f"most r = {r} (of {N})", float(np.count_nonzero(exp.erank[:, A] <= r)), 0.0,
                basis="derived-on-page", tolerance="exact count"),
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


def plot_low_rank(exp: LowRank, *, instance: int = 0):
    """Figure of the chapter (three panels).

    (a) the leading singular values of :math:`U_tV_t^\\top` on one instance for the smallest-``alpha``
    run (solid) and the large-``alpha`` run (dashed); (b) the effective rank over time for every run
    of that instance; (c) :math:`\\sigma_{r+1}` at convergence against ``alpha``, one line per instance,
    with the heuristic slope of each instance drawn through its smallest-``alpha`` point.

    Parameters
    ----------
    exp : LowRank
    instance : int, keyword-only
        The instance of panels (a) and (b).

    Returns
    -------
    fig, (ax_sv, ax_rank, ax_tail)
    """
    if not isinstance(exp, LowRank):
        raise ValueError(f"exp must be a LowRank experiment, got {type(exp).__name__}")
    i = v.integer("instance", instance, minimum=0, maximum=len(exp.problems) - 1)
    result, r = exp.results[i], exp.r
    A = len(exp.alphas) - 1
    small, large = A - 1, A
    erank = effective_rank(result.singular_values, rel_threshold=exp.tau)
    fig, (ax1, ax2, ax3) = figure(ncols=3, width=13.0, height=3.8)
    nsv = min(result.singular_values.shape[2], r + 3)
    for j in range(nsv):
        ax1.semilogy(result.t, result.singular_values[small, :, j], color=f"C{j}", label=f"σ_{j + 1}")
        ax1.semilogy(result.t, result.singular_values[large, :, j], color=f"C{j}", ls="--", lw=1.0, alpha=0.7)
    ax1.set_xlabel("iteration t")
    ax1.set_ylabel("σ_i(U_t V_tᵀ)")
    ax1.set_title(f"instance {i}: solid {param_label('alpha', float(exp.alphas[small]))}, "
                  f"dashed {param_label('alpha', float(exp.alphas[large]))}", fontsize=9)
    ax1.legend(ncols=2)
    for b in range(result.batch_size):
        ax2.step(result.t, erank[b], where="post", label=param_label("alpha", float(exp.alphas[b])))
    ax2.axhline(r, color="k", ls=":", lw=1)
    ax2.set_ylim(0, erank.max() + 1)
    ax2.set_xlabel("iteration t")
    ax2.set_ylabel(f"effective rank  #{{i: σ_i ≥ {exp.tau:g} σ_1}}")
    ax2.set_title(f"effective rank over time, instance {i}")
    ax2.legend(ncols=2)
    a = exp.alphas[:A]
    for n in range(len(exp.problems)):
        line, = ax3.loglog(a, exp.tail[n, :A], "o-", ms=3.5, lw=1.0, alpha=0.8,
                           label="σ_{r+1} at t_c, per instance" if n == 0 else None)
        h = float(exp.heuristic[n])
        ax3.loglog(a, exp.tail[n, A - 1] * (a / a[-1]) ** h, ":", color=line.get_color(), lw=1.0,
                   label="heuristic slope 2(1 − ρ)" if n == 0 else None)
    ax3.set_xlabel("initialization scale α")
    ax3.set_ylabel(f"σ_{r + 1} at convergence")
    ax3.set_title(f"the tail shrinks with α ({len(exp.problems)} instances)")
    ax3.legend(fontsize=8)
    return fig, (ax1, ax2, ax3)
