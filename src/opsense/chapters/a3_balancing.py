"""Chapter ``a3_balancing``: implicit balancing of the factors (paper A).

The lifted form
    With :math:`W=[U;V]\\in\\mathbb R^{(n_1+n_2)\\times k}` and the dilation
    :math:`\\mathcal D(Z)=\\begin{bmatrix}0&Z\\\\Z^\\top&0\\end{bmatrix}`, gradient descent on
    :math:`f(U,V)=\\tfrac12\\|\\mathcal A(UV^\\top)-y\\|_2^2` is exactly
    :math:`W_{t+1}=(I+\\mu\\,\\mathcal D(M_t))W_t` with
    :math:`M_t=\\mathcal A^*(y-\\mathcal A(U_tV_t^\\top))`. With :math:`J=\\mathrm{diag}(I_{n_1},-I_{n_2})`
    the imbalance is :math:`\\Delta=U^\\top U-V^\\top V=W^\\top JW`, and
    :math:`J\\mathcal D(Z)=-\\mathcal D(Z)J` gives
    :math:`\\Delta_{t+1}=\\Delta_t+\\mu^2\\,W_t^\\top\\mathcal D(M_t)J\\mathcal D(M_t)W_t`.
    :func:`verify_lifted` compares these formulas (:func:`opsense.lifted_step`,
    :func:`opsense.imbalance_increment`) with the engine along a trajectory.

The experiment
    :func:`run` checks both identities, then runs one batched gradient descent (an
    ``alpha`` sweep at a small step size and a step-size sweep at a tiny ``alpha``) with
    a Gaussian operator and the same runs with the identity operator (the control for the
    coupling :math:`\\|U_\\star^\\top U_t-V_\\star^\\top V_t\\|`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..book import rounded
from ..config import Cost, gd_cost, parameter_check
from ..analysis import Fit, fit_power
from ..claims import Claim, at_most, between, close
from ..engine.factors import dilation, imbalance, imbalance_increment, initial_factors, lifted_step, residual_matrix
from ..engine.gd import GDResult, run_gd, step_sizes
from ..engine.problems import Problem, check_factor_pair, check_problem, make_problem
from ..plotting import figure, param_label, plot_power_fit, value_ticks

__all__ = ["PRESETS", "MAX_ENTRIES", "MAX_WORK", "MAX_GRAM", "check", "cost",
           "LiftedVerification", "verify_lifted", "Balancing",
           "run", "identities_table", "summary", "glue_values", "claims", "evaluate", "plot_balancing"]

#: Parameter sets: ``book`` (20 x 30, rank 2, a few seconds) and ``paper`` (50 x 50, rank 3).
PRESETS = {
    "book": dict(n1=20, n2=30, r=2, sigma=[1.0, 0.5], m=300, k=30, alphas=[0.1, 0.03, 0.01], eta=0.01,
                 alpha_small=1e-6, etas=[0.01, 0.02, 0.04, 0.08], iters=8000,
                 check_times=[0, 100, 300, 1000, 3000], seed=0),
    "paper": dict(n1=50, n2=50, r=3, sigma=[1.0, 0.75, 0.5], m=1500, k=50, alphas=[0.1, 0.03, 0.01], eta=0.01,
                  alpha_small=1e-6, etas=[0.01, 0.02, 0.04, 0.08], iters=10000,
                  check_times=[0, 100, 300, 1000, 3000], seed=0),
}

#: Largest operator (m * n1 * n2 entries, 8 bytes each).
MAX_ENTRIES = 200_000_000
#: Largest amount of work: iters * (number of runs) * n1 * n2 * (m + k), summed over both operators.
MAX_WORK = 2e12
#: Largest runs * k^2: the engine records the k x k imbalance of every run.
MAX_GRAM = 50_000_000

RECORD_EVERY = 10
#: Rounding noise of the identities varies with the BLAS: the page shows only a bound below this.
NOISE_FLOOR = 1e-14


def _runs(P):
    """The runs of the batch: ``(alpha, eta)`` of the alpha sweep (decreasing alpha), then of the eta sweep."""
    alphas = sorted((float(a) for a in P.alphas), reverse=True)
    etas = [float(e) for e in P.etas]
    return alphas + [float(P.alpha_small)] * len(etas), [float(P.eta)] * len(alphas) + etas, len(alphas)


def _problems(P) -> tuple[Problem, Problem]:
    gauss = make_problem(P.n1, P.n2, P.r, P.m, sigma=P.sigma, seed=P.seed)
    ident = make_problem(P.n1, P.n2, P.r, sigma=P.sigma, operator="identity", seed=P.seed)
    return gauss, ident




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
    v.positive_values("sigma", P.sigma, size=r)
    m = v.integer("m", P.m, minimum=1)
    v.sampled(m, r=r, n1=n1, n2=n2)
    k = v.integer("k", P.k, minimum=r)
    v.integer("seed", P.seed, minimum=0)
    iters = v.integer("iters", P.iters, minimum=1)
    for name in ("alphas", "etas"):
        vals = v.sweep(name, getattr(P, name), lambda n, x: v.real(n, x, positive=True))
        if len(set(vals)) < 2:
            raise ValueError(f"{name} must hold at least two distinct values > 0 (a sweep), got {vals}")
    v.real("eta", P.eta, positive=True)
    v.real("alpha_small", P.alpha_small, positive=True)
    times = v.sweep("check_times", P.check_times, lambda n, x: v.integer(n, x, minimum=0))
    if any(b <= a for a, b in zip(times, times[1:])):
        raise ValueError(f"check_times must be strictly increasing, got {times}")
    if times[-1] > iters:
        raise ValueError(f"check_times must lie on the trajectory, at most iters = {iters}, got {times[-1]}")
    if m * n1 * n2 > MAX_ENTRIES:
        raise ValueError(f"m must keep m * n1 * n2 <= {MAX_ENTRIES:,} (the operator's memory), "
                         f"got {m} * {n1} * {n2}")
    alpha_b, eta_b, _ = _runs(P)
    if len(alpha_b) * k * k > MAX_GRAM:
        raise ValueError(f"k must keep runs * k^2 <= {MAX_GRAM:,} (the k x k imbalance of every run), "
                         f"got {len(alpha_b)} * {k}^2")
    work = (2 * iters * len(alpha_b) + times[-1] + 2 * len(times)) * n1 * n2 * (m + k)
    if work > MAX_WORK:
        raise ValueError(f"iters must keep iters * runs * n1 * n2 * (m + k) <= {MAX_WORK:.0e} (run time), "
                         f"got {work:.2e} with {len(alpha_b)} runs per operator")
    # step sizes: the engine's safe bound min(1/(3 sigma_1(A*(y))), 1/L0), for both operators;
    # the last run is the verification of the identities (smallest alpha, largest step size)
    alphas = alpha_b + [min(alpha_b[:len(P.alphas)])]
    steps = eta_b + [max(eta_b[len(P.alphas):])]
    names = ["eta"] * len(P.alphas) + ["etas"] * (len(steps) - len(P.alphas))
    safe = np.full(len(alphas), np.inf)
    for prob in _problems(P):
        s1 = float(prob.spectral_sigma[0])
        safe = np.minimum(safe, step_sizes(prob, k=k, alpha=alphas, seed=P.seed, eta=1.0 / (3.0 * s1)))
    for a, e, bound, name in zip(alphas, steps, safe, names):
        if e > bound:
            raise ValueError(f"{name} must be <= {bound:.3g} at alpha = {a:g}, the safe step "
                             f"min(1/(3 sigma_1(A*(y))), 1/L0) of opsense.step_sizes (larger steps may "
                             f"diverge), got {e:g}")






def cost(P) -> Cost:
    """What :func:`run` costs, from the parameters alone (pure arithmetic, nothing is run).

    ``work``: the ``len(alphas) + len(etas)`` runs of ``iters`` steps on the Gaussian operator
    (``n1 n2 (2 m + 3 k)`` per step) and on the identity (``3 n1 n2 k``), plus
    :func:`verify_lifted` (one run to ``max(check_times)``, and at each check time about nine
    operator passes: one engine step, :func:`opsense.lifted_step`, the residual and
    :func:`opsense.imbalance_increment`). ``memory_bytes``: the ``m x n1 n2`` operator and the
    factors and curves of both batches.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (already checked by :func:`check`).

    Returns
    -------
    opsense.config.Cost
    """
    n1, n2, r, m, k, iters = int(P.n1), int(P.n2), int(P.r), int(P.m), int(P.k), int(P.iters)
    B = len(P.alphas) + len(P.etas)
    g = dict(n1=n1, n2=n2, k=k, r=r, every=RECORD_EVERY)
    w_g, b_g = gd_cost(B, iters, m=m, **g)
    w_i, b_i = gd_cost(B, iters, m=0, **g)
    times = [int(t) for t in P.check_times]
    w_v = gd_cost(1, max(times), m=m, **g)[0] + 9.0 * len(times) * m * n1 * n2
    return Cost(memory_bytes=8.0 * m * n1 * n2 + b_g + b_i, work=w_g + w_i + w_v,
                drivers=("iters", "alphas", "etas", "m", "n1", "n2", "k"))


# ---------------------------------------------------------------------------- the lifted form
@dataclass(frozen=True)
class LiftedVerification:
    """The lifted recursion and the imbalance identity verified at points of an engine trajectory.

    Attributes
    ----------
    t : ndarray of int, shape (C,)
        Iterations at which the step ``t -> t + 1`` of the engine was verified.
    lifted : ndarray of shape (C,)
        :math:`\\|W^{\\rm engine}_{t+1}-(I+\\mu\\mathcal D(M_t))W_t\\|_F/\\|W^{\\rm engine}_{t+1}\\|_F`.
    identity : ndarray of shape (C,)
        :math:`\\|(\\Delta_{t+1}-\\Delta_t)-\\mu^2(\\nabla_U^\\top\\nabla_U-\\nabla_V^\\top\\nabla_V)\\|_F`
        divided by :math:`\\|U_t\\|_F^2+\\|V_t\\|_F^2`, the size of the Gram matrices whose
        difference is :math:`\\Delta` (the scale of its rounding errors).
    increment : ndarray of shape (C,)
        :math:`\\|\\mu^2(\\nabla_U^\\top\\nabla_U-\\nabla_V^\\top\\nabla_V)\\|_F`, the size of the
        predicted change, for comparison.
    lifted_form : ndarray of shape (C,)
        The same increment computed as :math:`\\mu^2 W_t^\\top\\mathcal D(M_t)J\\mathcal D(M_t)W_t`;
        discrepancy with the gradient form, divided by :math:`\\|U_t\\|_F^2+\\|V_t\\|_F^2`.
    eta : float
    """

    t: np.ndarray
    lifted: np.ndarray
    identity: np.ndarray
    increment: np.ndarray
    lifted_form: np.ndarray
    eta: float


def verify_lifted(problem: Problem, U0, V0, *, eta: float, times) -> LiftedVerification:
    """Run the engine and verify both exact identities at the given iterations.

    The engine (:func:`opsense.run_gd`) advances from ``(U0, V0)`` to each iteration of
    ``times`` in turn; there one more engine step is compared with
    :func:`opsense.lifted_step`, and the measured change of the imbalance with
    :math:`\\mu^2(\\nabla_U^\\top\\nabla_U-\\nabla_V^\\top\\nabla_V)`, where
    :math:`\\nabla_U=-MV` and :math:`\\nabla_V=-M^\\top U` (:func:`opsense.imbalance_increment`).

    Parameters
    ----------
    problem : Problem
    U0 : ndarray of shape (n1, k)
    V0 : ndarray of shape (n2, k)
    eta : float > 0, keyword-only
        Step size (paper A's :math:`\\mu`).
    times : sequence of int >= 0, keyword-only
        Strictly increasing iterations.

    Returns
    -------
    LiftedVerification
    """
    problem = check_problem(problem)
    U, V = check_factor_pair(problem, U0, V0, names=("U0", "V0"))
    eta = v.real("eta", eta, positive=True)
    ts = v.sweep("times", times, lambda n, x: v.integer(n, x, minimum=0))
    if any(b <= a for a, b in zip(ts, ts[1:])):
        raise ValueError(f"times must be strictly increasing, got {ts}")
    n1 = U.shape[0]
    J = np.diag(np.r_[np.ones(n1), -np.ones(V.shape[0])])
    rows = []
    now = 0
    for t in ts:
        if t > now:
            res = run_gd(problem, init=(U, V), eta=eta, iters=t - now, record_every=t - now)
            U, V = res.U[0], res.V[0]
            now = t
        res = run_gd(problem, init=(U, V), eta=eta, iters=1, record_every=1)
        U1, V1 = res.U[0], res.V[0]
        Ul, Vl = lifted_step(problem, U, V, eta=eta)
        W1 = np.vstack([U1, V1])
        lifted = np.linalg.norm(W1 - np.vstack([Ul, Vl])) / np.linalg.norm(W1)
        M = residual_matrix(problem, U, V)
        pred = imbalance_increment(problem, U, V, eta=eta)
        change = imbalance(U1, V1) - imbalance(U, V)
        scale = np.linalg.norm(U) ** 2 + np.linalg.norm(V) ** 2
        DW = dilation(M) @ np.vstack([U, V])
        pred_lifted = eta ** 2 * (DW.T @ J @ DW)
        rows.append((t, lifted, np.linalg.norm(change - pred) / scale, np.linalg.norm(pred),
                     np.linalg.norm(pred_lifted - pred) / scale))
        U, V, now = U1, V1, t + 1
    t, lifted, ident, inc, lf = (np.asarray(c) for c in zip(*rows))
    return LiftedVerification(t.astype(int), lifted, ident, inc, lf, eta)


# ---------------------------------------------------------------------------- the experiment
@dataclass(frozen=True)
class Balancing:
    """The chapter's experiment.

    Attributes
    ----------
    problem : Problem
        The Gaussian sensing problem.
    verification : LiftedVerification
        The identities, at the smallest ``alpha`` of the sweep and the largest step size.
    result, control : GDResult
        The ``B`` runs with the Gaussian and with the identity operator.
    alpha_runs, eta_runs : ndarray of int, shape (A,), (E,)
        Indices of the runs of the ``alpha`` sweep (decreasing ``alpha``) and of the step-size sweep.
    c0 : float
        :math:`\\|\\tilde U^\\top\\tilde U-\\tilde V^\\top\\tilde V\\|`.
    baseline : ndarray of shape (B,)
        :math:`\\|\\Delta_0\\|=\\alpha^2 c_0` of each run.
    drift : ndarray of shape (B,)
        :math:`\\|\\Delta_T-\\Delta_0\\|` of each run.
    ratio : ndarray of shape (B,)
        :math:`\\|\\Delta_T\\|/\\|\\Delta_0\\|`.
    fit : Fit
        Power-law fit of the drift against the step size (step-size runs).
    sigma_r : float
        Smallest singular value of the target.
    peak, peak_control : ndarray of shape (B,)
        Largest coupling over the trajectory, divided by ``sigma_r`` (Gaussian, identity).
    final : ndarray of shape (B,)
        Final coupling divided by ``sigma_r`` (Gaussian).
    small : ndarray of int, shape (S,)
        Runs with ``alpha <= min(alphas)``.
    seconds : float
        Run time of :func:`run`.
    """

    problem: Problem
    verification: LiftedVerification
    result: GDResult
    control: GDResult
    alpha_runs: np.ndarray
    eta_runs: np.ndarray
    c0: float
    baseline: np.ndarray
    drift: np.ndarray
    ratio: np.ndarray
    fit: Fit
    sigma_r: float
    peak: np.ndarray
    peak_control: np.ndarray
    final: np.ndarray
    small: np.ndarray
    seconds: float = 0.0


def run(P) -> Balancing:
    """Run the chapter's experiment with the parameters ``P`` (see :data:`PRESETS`).

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure`, already checked by :func:`check`.

    Returns
    -------
    Balancing
    """
    start = time.perf_counter()
    problem, ident = _problems(P)
    alpha_b, eta_b, A = _runs(P)
    U0, V0 = initial_factors(P.n1, P.n2, P.k, alpha_b[A - 1], seed=P.seed)
    chk = verify_lifted(problem, U0, V0, eta=max(P.etas), times=P.check_times)
    kw = dict(k=P.k, alpha=alpha_b, eta=eta_b, iters=P.iters, seed=P.seed, record_every=RECORD_EVERY)
    res = run_gd(problem, **kw)
    control = run_gd(ident, **kw)
    Ut, Vt = initial_factors(P.n1, P.n2, P.k, 1.0, seed=P.seed)          # U~, V~
    delta_tilde = imbalance(Ut, Vt)
    c0 = float(np.linalg.norm(delta_tilde, 2))
    a2 = np.asarray(alpha_b) ** 2
    base = a2 * c0
    delta_T = imbalance(res.U, res.V)
    drift = np.linalg.norm(delta_T - a2[:, None, None] * delta_tilde, ord=2, axis=(1, 2))
    ia, ie = np.arange(A), np.arange(A, len(alpha_b))
    sr = float(problem.target.sigma.min())
    return Balancing(
        problem=problem, verification=chk, result=res, control=control, alpha_runs=ia, eta_runs=ie, c0=c0,
        baseline=base, drift=drift, ratio=res.imbalance_op[:, -1] / base,
        fit=fit_power(np.asarray(eta_b)[ie], drift[ie]), sigma_r=sr, peak=res.coupling.max(axis=1) / sr,
        peak_control=control.coupling.max(axis=1) / sr, final=res.coupling[:, -1] / sr,
        small=np.flatnonzero(np.asarray(alpha_b) <= min(alpha_b[:A])), seconds=time.perf_counter() - start)


def _bound(x: float, floor: float = NOISE_FLOOR) -> str:
    """Rounding noise varies with the BLAS: show only a bound below ``floor``."""
    return f"< {floor:.0e}" if x < floor else f"{x:.1e}"


def identities_table(exp: Balancing) -> str:
    """The table of the verified identities at each checkpoint (noise shown as a bound).

    Parameters
    ----------
    exp : Balancing

    Returns
    -------
    str
    """
    c = exp.verification
    alpha = float(exp.result.alpha[exp.alpha_runs[-1]])
    lines = [f"alpha = {alpha:g}, mu = {c.eta:g}",
             f"{'t':>6} {'lifted':>9} {'identity':>9} {'two forms':>9} {'|increment|':>12}"]
    for row in zip(c.t, c.lifted, c.identity, c.lifted_form, c.increment):
        lines.append(f"{row[0]:>6d} {_bound(row[1]):>9} {_bound(row[2]):>9} {_bound(row[3]):>9} {row[4]:>12.1e}")
    return "\n".join(lines)


def summary(exp: Balancing) -> str:
    """The table of the trajectories: imbalance at both ends, drift and test error per run.

    Parameters
    ----------
    exp : Balancing

    Returns
    -------
    str
    """
    res = exp.result
    lines = [f"||U~^T U~ - V~^T V~|| = {exp.c0:.3f}",
             f"{'alpha':>8} {'mu':>6} {'||D_0||':>9} {'||D_T||':>9} {'ratio-1':>9} {'drift':>9} {'test err':>9}"]
    for b in range(res.batch_size):
        lines.append(f"{res.alpha[b]:>8.0e} {res.eta[b]:>6.2f} {exp.baseline[b]:>9.2e} {res.imbalance_op[b, -1]:>9.2e} "
                     f"{exp.ratio[b] - 1:>9.1e} {exp.drift[b]:>9.2e} {res.rel_error[b, -1]:>9.1e}")
    return "\n".join(lines)

def glue_values(exp: Balancing) -> dict:
    """The numbers the chapter's prose quotes, by glue name (rounded as the page shows them).

    Parameters
    ----------
    exp : Balancing

    Returns
    -------
    dict of str to float, int or str
    """
    c, res = exp.verification, exp.result
    ia, ie, small = exp.alpha_runs, exp.eta_runs, exp.small
    etas = res.eta[ie]
    peak = exp.peak[ie]
    return {
        "a3_lifted_err": _bound(c.lifted.max()), "a3_identity_err": _bound(c.identity.max()),
        "a3_inc_min": rounded(c.increment.min(), 2), "a3_inc_max": rounded(c.increment.max(), 2),
        "a3_c0": rounded(exp.c0), "a3_alpha_max": float(res.alpha[ia[0]]), "a3_alpha_min": float(res.alpha[ia[-1]]),
        "a3_eta": float(res.eta[ia[0]]), "a3_ratio_max_alpha": rounded(exp.ratio[ia[0]], 4),
        "a3_drift_alpha_min": rounded(exp.drift[ia].min(), 2), "a3_drift_alpha_max": rounded(exp.drift[ia].max(), 2),
        "a3_relchange_alpha_min": rounded(100 * abs(exp.ratio[ia[-1]] - 1), 2),
        "a3_alpha_small": float(res.alpha[ie[0]]), "a3_slope": rounded(exp.fit.slope),
        "a3_slope_r2": rounded(exp.fit.r2, 5), "a3_drift_per_mu": rounded(float(np.exp(exp.fit.intercept)), 2),
        "a3_y2": rounded(float(exp.problem.y @ exp.problem.y)),
        "a3_final_coupling": rounded(exp.final[small].max(), 2), "a3_final_coupling_large": rounded(exp.final[ia[0]], 2),
        "a3_peak_control": rounded(max(exp.peak_control[ie].max(), 1e-300), 2),
        "a3_peak_min": rounded(peak.min(), 2), "a3_peak_max": rounded(peak.max(), 2),
        "a3_peak_vs_spec": "above" if peak.max() > 0.05 else "below",
        "a3_peak_spread": rounded(peak.max() / peak.min()), "a3_mu_range": rounded(etas.max() / etas.min()),
    }


def claims(exp: Balancing) -> list[Claim]:
    """The chapter's claims (see the page's "Claims" section for the basis of each tolerance).

    Parameters
    ----------
    exp : Balancing

    Returns
    -------
    list of Claim
    """
    c, res = exp.verification, exp.result
    ia, ie = exp.alpha_runs, exp.eta_runs
    a_max, eta = float(res.alpha[ia[0]]), float(res.eta[ia[0]])
    a_min, a_small = float(res.alpha[ia[-1]]), float(res.alpha[ie[0]])
    peak = exp.peak[ie]
    return [
        at_most("a3.lifted", "max relative difference, engine step vs (I + mu D(M_t)) W_t",
                float(c.lifted.max()), 1e-12, basis="identity", tolerance="rounding (exact identity)"),
        at_most("a3.identity", "max discrepancy of Delta_{t+1} - Delta_t = mu^2 (gU'gU - gV'gV)",
                float(c.identity.max()), 1e-12, basis="identity",
                tolerance="rounding, relative to ||U||_F^2 + ||V||_F^2"),
        close("a3.conserved", f"||Delta_T|| / (alpha^2 ||U~'U~ - V~'V~||) at alpha = {a_max:g}, mu = {eta:g}",
              float(exp.ratio[ia[0]]), 1.0, rtol=0.01, basis="specification", tolerance="1% (drift of order mu)"),
        between("a3.drift-linear", f"log-log slope of ||Delta_T - Delta_0|| against mu at alpha = {a_small:g}",
                exp.fit.slope, 0.8, 1.2, basis="derived-on-page", tolerance="1 ± 0.2 (O(mu^2) corrections)"),
        between("a3.coupling-end", f"max final coupling / sigma_r over runs with alpha <= {a_min:g}",
                float(exp.final[exp.small].max()), 0.0, 0.05, basis="specification", tolerance="0.05 sigma_r"),
        between("a3.coupling-control", "max coupling / sigma_r over the whole trajectory, identity operator, "
                "mu sweep", float(exp.peak_control[ie].max()), 0.0, 0.05, basis="specification",
                tolerance="0.05 sigma_r"),
        between("a3.transient", "largest / smallest peak coupling over the mu sweep (Gaussian)",
                float(peak.max() / peak.min()), 1.0, 1.25, basis="derived-on-page",
                tolerance="25%: a gradient-flow feature"),
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


def plot_balancing(exp: Balancing):
    """Figure of the chapter (four panels).

    (a) :math:`\\|\\Delta_t\\|/\\|\\Delta_0\\|` for the runs of the ``alpha`` sweep;
    (b) the drift :math:`\\|\\Delta_T-\\Delta_0\\|` against the step size, log-log, with the fit;
    (c) the coupling :math:`\\|U_\\star^\\top U_t-V_\\star^\\top V_t\\|/\\sigma_r` under Gaussian sensing;
    (d) the same with the identity operator (no RIP error).

    Parameters
    ----------
    exp : Balancing

    Returns
    -------
    fig, axes (2 x 2)
    """
    if not isinstance(exp, Balancing):
        raise ValueError(f"exp must be a Balancing experiment, got {type(exp).__name__}")
    result, control, fit, sigma_r = exp.result, exp.control, exp.fit, exp.sigma_r
    ia, ie = [int(b) for b in exp.alpha_runs], [int(b) for b in exp.eta_runs]
    fig, axes = figure(ncols=2, nrows=2, width=10.0, height=7.0)
    ax = axes[0, 0]
    for b in ia:
        ax.plot(result.t, result.imbalance_op[b] / exp.baseline[b],
                label=f"{param_label('alpha', float(result.alpha[b]))}, {param_label('mu', float(result.eta[b]))}")
    ax.set_xlabel("iteration t")
    ax.set_ylabel("‖Δ_t‖ / ‖Δ_0‖  (operator norm)")
    ax.set_title("(a) the imbalance is conserved")
    ax.legend()
    ax = axes[0, 1]
    mus = result.eta[ie]
    ax.loglog(mus, exp.drift[ie], "o", label=f"measured, {param_label('alpha', float(result.alpha[ie[0]]))}")
    plot_power_fit(ax, mus, fit, label=f"fit: slope {fit.slope:.3f}")
    value_ticks(ax.xaxis, mus)
    ax.set_xlabel("step size μ")
    ax.set_ylabel("drift ‖Δ_T − Δ_0‖")
    ax.set_title("(b) the drift is linear in μ")
    ax.legend()
    for ax, res, title in ((axes[1, 0], result, "(c) coupling, Gaussian sensing"),
                           (axes[1, 1], control, "(d) coupling, identity operator (δ = 0)")):
        for b in ia + ie:
            ax.semilogy(res.t, np.maximum(res.coupling[b] / sigma_r, 1e-12),
                        label=f"{param_label('alpha', float(res.alpha[b]))}, {param_label('mu', float(res.eta[b]))}")
        ax.axhline(0.05, color="k", ls="--", lw=1, label="0.05")
        ax.set_xlabel("iteration t")
        ax.set_ylabel("‖U*ᵀU_t − V*ᵀV_t‖ / σ_r")
        ax.set_title(title)
    axes[1, 0].legend(fontsize=7, ncols=2)
    return fig, axes
