"""Helpers of the paper-A chapters on balancing, low rank and the synthesis.

The lifted form (``book/a3_balancing``)
    With :math:`W=[U;V]\\in\\mathbb R^{(n_1+n_2)\\times k}` and the dilation
    :math:`\\mathcal D(Z)=\\begin{bmatrix}0&Z\\\\Z^\\top&0\\end{bmatrix}`, gradient descent on
    :math:`f(U,V)=\\tfrac12\\|\\mathcal A(UV^\\top)-y\\|_2^2` is exactly
    :math:`W_{t+1}=(I+\\mu\\,\\mathcal D(M_t))W_t` with
    :math:`M_t=\\mathcal A^*(y-\\mathcal A(U_tV_t^\\top))`. With :math:`J=\\mathrm{diag}(I_{n_1},-I_{n_2})`
    the imbalance is :math:`\\Delta=U^\\top U-V^\\top V=W^\\top JW`, and
    :math:`J\\mathcal D(Z)=-\\mathcal D(Z)J` gives
    :math:`\\Delta_{t+1}=\\Delta_t+\\mu^2\\,W_t^\\top\\mathcal D(M_t)J\\mathcal D(M_t)W_t`.
    :func:`dilation`, :func:`residual_matrix` and :func:`lifted_step` implement these
    formulas; :func:`check_lifted` compares them with the engine along a trajectory.

Low rank (``book/a4_low_rank``)
    :func:`effective_rank` counts singular values above a fraction of the largest.

The phase diagram (``book/a5_synthesis``)
    :func:`phase_diagram` measures recovery success against the number of
    measurements ``m`` and the width ``k``: the loop over ``m`` is outside (nested
    Gaussian operators, the first ``m`` rows of one matrix), and inside one batched
    gradient descent per ``m`` advances every (seed, ``k``) pair; each seed has its own
    target and initialization, all runs of one ``m`` share the operator.

Figures: :func:`plot_balancing`, :func:`plot_low_rank`, :func:`plot_phase_diagram`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _validate as v
from .engine.factors import initial_factors
from .engine.gd import run_gd
from .engine.factors import imbalance, imbalance_increment
from .engine.operators import SensingOperator
from .engine.problems import Problem, low_rank_target

__all__ = ["check_parameters", "dilation", "residual_matrix", "lifted_step", "LiftedCheck", "check_lifted",
           "effective_rank", "PhaseDiagram", "phase_diagram", "plot_balancing", "plot_low_rank",
           "plot_options", "plot_phase_diagram"]


def check_parameters(*, n1: int, n2: int, r: int, sigma, seed: int, m: int | None = None,
                     k: int | None = None, **sweeps) -> None:
    """Validate the parameters of the chapters a3-a5; raise ValueError naming the first bad one.

    Parameters
    ----------
    n1, n2, r : int, keyword-only
        Shape and rank of the target (``1 <= r <= min(n1, n2)``).
    sigma : sequence of r floats > 0, keyword-only
        Singular values of the target.
    seed : int >= 0, keyword-only
    m : int >= 1, keyword-only, optional
        Number of measurements.
    k : int >= r, keyword-only, optional
        Width of the factors.
    **sweeps : sequences, keyword-only
        Named lists that need at least two distinct values (e.g. ``alphas``, ``etas``).
    """
    n1, n2, r = v.shape_rank(n1, n2, r)
    sig = v.array("sigma", sigma, ndim=1)
    if sig.size != r or np.any(sig <= 0):
        raise ValueError(f"sigma must hold r = {r} positive values, got {sig.tolist()}")
    v.integer("seed", seed, minimum=0)
    if m is not None:
        v.integer("m", m, minimum=1)
    if k is not None:
        v.integer("k", k, minimum=r)
    for name, values in sweeps.items():
        vals = v.sweep(name, values, lambda n, x: v.real(n, x, positive=True))
        if len(set(vals)) < 2:
            raise ValueError(f"{name} must hold at least two distinct values, got {vals}")


# ---------------------------------------------------------------------------- the lifted form






@dataclass(frozen=True)
class LiftedCheck:
    """The lifted recursion and the imbalance identity checked at points of an engine trajectory.

    Attributes
    ----------
    t : ndarray of int (C,)
        Iterations at which the step ``t -> t + 1`` of the engine was checked.
    lifted : ndarray (C,)
        :math:`\\|W^{\\rm engine}_{t+1}-(I+\\mu\\mathcal D(M_t))W_t\\|_F/\\|W^{\\rm engine}_{t+1}\\|_F`.
    identity : ndarray (C,)
        :math:`\\|(\\Delta_{t+1}-\\Delta_t)-\\mu^2(\\nabla_U^\\top\\nabla_U-\\nabla_V^\\top\\nabla_V)\\|_F`
        divided by :math:`\\|U_t\\|_F^2+\\|V_t\\|_F^2`, the size of the Gram matrices whose
        difference is :math:`\\Delta` (the scale of its rounding errors).
    increment : ndarray (C,)
        :math:`\\|\\mu^2(\\nabla_U^\\top\\nabla_U-\\nabla_V^\\top\\nabla_V)\\|_F`, the size of the
        predicted change, for comparison.
    lifted_form : ndarray (C,)
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


def check_lifted(problem: Problem, U0, V0, *, eta: float, times) -> LiftedCheck:
    """Run the engine and check both exact identities at the given iterations.

    The engine (:func:`opsense.run_gd`) advances from ``(U0, V0)`` to each
    iteration of ``times`` in turn; there one more engine step is compared with
    :func:`lifted_step`, and the measured change of the imbalance with
    :math:`\\mu^2(\\nabla_U^\\top\\nabla_U-\\nabla_V^\\top\\nabla_V)`, where
    :math:`\\nabla_U=-MV` and :math:`\\nabla_V=-M^\\top U` (:func:`opsense.imbalance.imbalance_increment`).

    Parameters
    ----------
    problem : Problem
    U0 : ndarray (n1, k)
    V0 : ndarray (n2, k)
    eta : float > 0, keyword-only
    times : sequence of int >= 0, keyword-only
        Strictly increasing iterations.

    Returns
    -------
    LiftedCheck
    """
    problem = v.problem(problem)
    U, V = v.factor_pair(problem, U0, V0, names=("U", "V"))
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
    return LiftedCheck(t.astype(int), lifted, ident, inc, lf, eta)


# ---------------------------------------------------------------------------- low rank


# ---------------------------------------------------------------------------- the phase diagram
@dataclass(frozen=True)
class PhaseDiagram:
    """Recovery success over numbers of measurements, widths and seeds.

    Attributes
    ----------
    ratios : ndarray (M,)
        ``m / (r (n1 + n2))`` for each number of measurements.
    m_values : ndarray of int (M,)
    ks : ndarray of int (K,)
    seeds : ndarray of int (S,)
        Seed of each target and initialization.
    test_error : ndarray (M, K, S)
        Final relative test error :math:`\\|U_TV_T^\\top-X^\\star\\|_F/\\|X^\\star\\|_F` (``inf`` if a run diverged).
    eta : ndarray (M, S)
        Step size of each run: ``eta_scale / sigma_1(A*(y))``.
    tol : float
        Success means ``test_error < tol``.
    r, n1, n2 : int
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

    @property
    def success(self) -> np.ndarray:
        """Boolean (M, K, S): ``test_error < tol``."""
        return self.test_error < self.tol

    @property
    def rate(self) -> np.ndarray:
        """Success rate over the seeds, (M, K)."""
        return self.success.mean(axis=2)

    def transition(self, level: float = 0.5) -> np.ndarray:
        """Smallest ratio whose success rate is ``>= level``, per ``k`` (NaN if none), shape (K,)."""
        level = v.real("level", level, positive=True)
        out = np.full(len(self.ks), np.nan)
        for j in range(len(self.ks)):
            idx = np.flatnonzero(self.rate[:, j] >= level)
            if idx.size:
                out[j] = self.ratios[idx[0]]
        return out

    def largest_drop(self) -> np.ndarray:
        """Per ``k``, the largest decrease of the success rate from one ratio to any larger one (K,)."""
        rate = self.rate
        best_before = np.maximum.accumulate(rate, axis=0)
        return np.max(best_before - rate, axis=0)


def phase_diagram(n1: int, n2: int, r: int, *, sigma, ratios, ks, n_seeds: int, alpha: float,
                  iters: int, eta_scale: float = 0.25, tol: float = 1e-2, seed: int = 0) -> PhaseDiagram:
    """Recovery success of small-initialization gradient descent against ``m`` and ``k``.

    For each number of measurements ``m = round(ratio * r * (n1 + n2))`` (loop outside),
    the operator is the first ``m`` rows of one Gaussian matrix, rescaled to entries
    ``N(0, 1/m)`` (so the operators are nested). Seed ``s`` has its own target
    (:func:`opsense.low_rank_target`, Haar singular vectors, singular values ``sigma``)
    and its own initialization (:func:`opsense.initial_factors`, nested in ``k``).
    Inside, one batched gradient descent advances all ``n_seeds * len(ks)`` runs: the
    same asymmetric update as :func:`opsense.run_gd` (each run has its own data ``y``,
    which the engine does not batch), with the step size
    ``eta_scale / sigma_1(A*(y))`` of its seed.

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
    ms_ = [max(1, int(round(x * r * (n1 + n2)))) for x in rat]
    if len(set(ms_)) != len(ms_):
        raise ValueError(f"ratios give repeated numbers of measurements {ms_}; space them further")
    kk = v.sweep("ks", ks, lambda n, x: v.integer(n, x, minimum=r))
    n_seeds = v.integer("n_seeds", n_seeds, minimum=1)
    alpha = v.real("alpha", alpha, positive=True)
    iters = v.integer("iters", iters, minimum=1)
    eta_scale = v.real("eta_scale", eta_scale, positive=True, below=1.0)
    tol = v.real("tol", tol, positive=True)
    seed = v.integer("seed", seed, minimum=0)

    s_mat, s_tgt, s_init = np.random.SeedSequence(seed).spawn(3)
    master = np.random.default_rng(s_mat).standard_normal((ms_[-1], n1 * n2))
    tseeds = [int(x) for x in s_tgt.generate_state(n_seeds)]
    iseeds = [int(x) % (2 ** 31) for x in s_init.generate_state(n_seeds)]
    targets = [low_rank_target(n1, n2, r, sigma=sig, seed=ts) for ts in tseeds]
    Xs = np.stack([tg.X for tg in targets])                       # (S, n1, n2)
    S, K, Kmax = n_seeds, len(kk), max(kk)
    U0 = np.zeros((S, K, n1, Kmax))
    V0 = np.zeros((S, K, n2, Kmax))
    for s in range(S):
        for j, k in enumerate(kk):
            U0[s, j, :, :k], V0[s, j, :, :k] = initial_factors(n1, n2, k, alpha, seed=iseeds[s])
    errors = np.empty((len(ms_), K, S))
    etas = np.empty((len(ms_), S))
    for i, m in enumerate(ms_):
        A = master[:m] / np.sqrt(m)
        Y = Xs.reshape(S, -1) @ A.T                              # (S, m)
        spec = (Y @ A).reshape(S, n1, n2)
        etas[i] = eta_scale / np.linalg.norm(spec, ord=2, axis=(1, 2))
        errors[i] = _batched_errors(A, Y, Xs, U0, V0, etas[i], iters).T
    return PhaseDiagram(np.asarray(rat), np.asarray(ms_), np.asarray(kk), np.asarray(tseeds), errors, etas,
                        tol, r, n1, n2)


def _batched_errors(A, Y, Xs, U0, V0, eta_s, iters):
    """Gradient descent for (S, K) runs sharing ``A``; final relative test errors (S, K)."""
    S, K, n1, Kmax = U0.shape
    n2 = V0.shape[2]
    B = S * K
    U = U0.reshape(B, n1, Kmax).copy()
    V = V0.reshape(B, n2, Kmax).copy()
    Yb = np.repeat(Y, K, axis=0)                                   # run b = s * K + j
    eta = np.repeat(eta_s, K)[:, None, None]
    alive = np.ones(B, bool)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(iters):
            res = np.matmul(U, np.swapaxes(V, 1, 2)).reshape(B, -1) @ A.T - Yb
            D = (res @ A).reshape(B, n1, n2)
            gU = np.matmul(D, V)
            gV = np.matmul(np.swapaxes(D, 1, 2), U)
            U -= eta * gU
            V -= eta * gV
            bad = ~np.isfinite(res).all(axis=1) | (np.abs(res).max(axis=1) > 1e8)
            if bad.any():  # a diverged run counts as a failure; freeze it at zero
                alive &= ~bad
                U[bad] = 0.0
                V[bad] = 0.0
    X = np.matmul(U, np.swapaxes(V, 1, 2)).reshape(S, K, n1, n2)
    err = np.linalg.norm((X - Xs[:, None]).reshape(S, K, -1), axis=2) / np.linalg.norm(
        Xs.reshape(S, -1), axis=1)[:, None]
    return np.where(alive.reshape(S, K), err, np.inf)


# ---------------------------------------------------------------------------- figures
def _result(name, res):
    from .gd import GDResult
    if not isinstance(res, GDResult):
        raise ValueError(f"{name} must be a GDResult, got {type(res).__name__}")
    return res


def plot_balancing(result, control, *, alpha_runs, eta_runs, baseline, drift, fit, sigma_r: float):
    """Figure of the balancing chapter (four panels).

    (a) :math:`\\|\\Delta_t\\|/\\|\\Delta_0\\|` for the runs of the ``alpha`` sweep;
    (b) the drift :math:`\\|\\Delta_T-\\Delta_0\\|` against the step size, log-log, with the fit;
    (c) the coupling :math:`\\|U_\\star^\\top U_t-V_\\star^\\top V_t\\|/\\sigma_r` under Gaussian sensing;
    (d) the same with the identity operator (no RIP error).

    Parameters
    ----------
    result, control : GDResult
        The same runs with the Gaussian and with the identity operator.
    alpha_runs, eta_runs : sequence of int, keyword-only
        Indices of the runs of the ``alpha`` sweep and of the step-size sweep.
    baseline : array (B,), keyword-only
        :math:`\\|\\Delta_0\\|` (operator norm) of each run.
    drift : array (len(eta_runs),), keyword-only
        :math:`\\|\\Delta_T-\\Delta_0\\|` of the step-size runs.
    fit : Fit, keyword-only
        Power-law fit of ``drift`` against the step sizes.
    sigma_r : float > 0, keyword-only

    Returns
    -------
    fig, axes (2 x 2)
    """
    from .plotting import figure, param_label, plot_power_fit, value_ticks

    result, control = _result("result", result), _result("control", control)
    sigma_r = v.real("sigma_r", sigma_r, positive=True)
    base = v.array("baseline", baseline, shape=(result.batch_size,))
    ia = [v.integer("alpha_runs", i, minimum=0, maximum=result.batch_size - 1) for i in alpha_runs]
    ie = [v.integer("eta_runs", i, minimum=0, maximum=result.batch_size - 1) for i in eta_runs]
    drift = v.array("drift", drift, shape=(len(ie),))
    fig, axes = figure(ncols=2, nrows=2, width=10.0, height=7.0)
    ax = axes[0, 0]
    for b in ia:
        ax.plot(result.t, result.imbalance_op[b] / base[b],
                label=f"{param_label('alpha', float(result.alpha[b]))}, {param_label('mu', float(result.eta[b]))}")
    ax.set_xlabel("iteration t")
    ax.set_ylabel("‖Δ_t‖ / ‖Δ_0‖  (operator norm)")
    ax.set_title("(a) the imbalance is conserved")
    ax.legend()
    ax = axes[0, 1]
    mus = result.eta[ie]
    ax.loglog(mus, drift, "o", label=f"measured, {param_label('alpha', float(result.alpha[ie[0]]))}")
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


def plot_low_rank(result, *, small: int, large: int, r: int, erank, alphas_fit, tail, fit):
    """Figure of the low-rank chapter (three panels).

    (a) the leading singular values of :math:`U_tV_t^\\top` for the runs ``small``
    (solid) and ``large`` (dashed); (b) the effective rank over time for every run;
    (c) :math:`\\sigma_{r+1}` at the end against ``alpha``, log-log, with the fit.

    Parameters
    ----------
    result : GDResult
    small, large : int, keyword-only
        Runs drawn in panel (a).
    r : int, keyword-only
        Rank of the target.
    erank : array of int (B, T), keyword-only
        Effective rank of every run at every recorded iteration.
    alphas_fit, tail : arrays (F,), keyword-only
        Initialization scales and :math:`\\sigma_{r+1}(U_TV_T^\\top)` used in the fit.
    fit : Fit, keyword-only
        Power-law fit of ``tail`` against ``alphas_fit``.

    Returns
    -------
    fig, (ax_sv, ax_rank, ax_tail)
    """
    from .plotting import figure, param_label, plot_power_fit

    result = _result("result", result)
    B = result.batch_size
    small = v.integer("small", small, minimum=0, maximum=B - 1)
    large = v.integer("large", large, minimum=0, maximum=B - 1)
    r = v.integer("r", r, minimum=1)
    erank = np.asarray(erank)
    if erank.shape != (B, result.t.size):
        raise ValueError(f"erank must have shape {(B, result.t.size)}, got {erank.shape}")
    a_fit = v.array("alphas_fit", alphas_fit, ndim=1)
    tail = v.array("tail", tail, shape=a_fit.shape)
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
    for b in range(B):
        ax2.step(result.t, erank[b], where="post", label=param_label("alpha", float(result.alpha[b])))
    ax2.axhline(r, color="k", ls=":", lw=1)
    ax2.set_ylim(0, erank.max() + 1)
    ax2.set_xlabel("iteration t")
    ax2.set_ylabel("effective rank  #{i: σ_i ≥ 0.01 σ_1}")
    ax2.set_title("effective rank over time")
    ax2.legend(ncols=2)
    ax3.loglog(a_fit, tail, "o", label=f"σ_{r + 1}(U_T V_Tᵀ)")
    plot_power_fit(ax3, a_fit, fit, label=f"fit: α^{fit.slope:.2f} (R² = {fit.r2:.3f})")
    ax3.set_xlabel("initialization scale α")
    ax3.set_ylabel(f"σ_{r + 1} at the end")
    ax3.set_title("the tail shrinks with α")
    ax3.legend()
    return fig, (ax1, ax2, ax3)


def plot_options(vanilla, fixed, *, labels_vanilla, labels_fixed, ks):
    """Figure of the synthesis chapter: test error over time, one panel per width ``k``.

    Parameters
    ----------
    vanilla, fixed : GDResult
        Plain runs and runs with the one-step rebalancing.
    labels_vanilla, labels_fixed : sequences of str, keyword-only
        One legend entry per run.
    ks : sequence of int, keyword-only
        One panel per value; each run goes to the panel of its ``k``.

    Returns
    -------
    fig, axes
    """
    from .plotting import figure

    vanilla, fixed = _result("vanilla", vanilla), _result("fixed", fixed)
    if len(labels_vanilla) != vanilla.batch_size or len(labels_fixed) != fixed.batch_size:
        raise ValueError("labels_vanilla and labels_fixed need one entry per run")
    ks = v.sweep("ks", ks, lambda n, x: v.integer(n, x, minimum=1))
    fig, axes = figure(ncols=len(ks), width=5.0 * len(ks), height=3.8)
    axes = np.atleast_1d(axes)
    for ax, k in zip(axes, ks):
        c = 0
        for res, labels, ls in ((vanilla, labels_vanilla, "-"), (fixed, labels_fixed, "--")):
            for b in np.flatnonzero(res.k == k):
                ax.semilogy(res.t, np.maximum(res.rel_error[b], 1e-17), ls=ls, color=f"C{c}", label=labels[b])
                if res.rebalanced_at[b] >= 0:
                    ax.axvline(res.rebalanced_at[b], color=f"C{c}", ls=":", lw=1)
                c += 1
        ax.set_xlabel("iteration t")
        ax.set_ylabel("relative test error")
        ax.set_title(f"k = {k}")
        ax.legend()
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
    from .plotting import figure

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
