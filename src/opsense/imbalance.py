"""The imbalance of the asymmetric factorization and the one-step rebalancing (paper B).

For :math:`X = FG^\\top` the *imbalance* is the :math:`k\\times k` matrix
:math:`\\Delta = F^\\top F - G^\\top G`. One gradient step
:math:`F' = F - \\eta DG`, :math:`G' = G - \\eta D^\\top F` with
:math:`D = \\mathcal A^*(\\mathcal A(FG^\\top) - y)` changes it by exactly

.. math::

    \\Delta' - \\Delta = \\eta^2\\,(G^\\top D^\\top D G - F^\\top D D^\\top F)
    = \\eta^2\\,(\\nabla_F^\\top \\nabla_F - \\nabla_G^\\top \\nabla_G),

because the terms of order :math:`\\eta` cancel (:func:`imbalance_increment`).
The helpers here evaluate this identity along trajectories of the engine
(:func:`check_identity`, :func:`imbalance_drift`), compress :math:`\\Delta` onto
the redundant directions of :math:`\\mathbb R^k` (:func:`redundant_imbalance`),
describe what :func:`opsense.rebalance` does to the imbalance
(:func:`rebalance_report`), and choose rate-fit windows from the data
(:func:`rate_window`). They serve the book chapters ``b3_imbalance`` and
``b4_one_step``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _validate as v
from .analysis import Fit, fit_rate, hitting_time
from .engine.factors import rebalance
from .engine.gd import run_gd
from .engine.operators import SensingOperator
from .engine.problems import Problem, make_problem

__all__ = ["check_sizes", "PsdProblems", "psd_problems", "imbalance", "imbalance_increment", "IdentityCheck", "check_identity", "imbalance_drift",
           "redundant_imbalance", "rip_shrink", "RebalanceReport", "rebalance_report",
           "trigger_time", "rate_window", "late_rate", "plot_identity_drift", "plot_one_step",
           "plot_rates"]


def check_sizes(*, n: int, r: int, k: int, m: int) -> None:
    """Validate the sizes of an over-parameterized experiment (``1 <= r < k <= n``, ``m >= 1``).

    Raises
    ------
    ValueError
        Naming the first parameter that is out of range.
    """
    n = v.integer("n", n, minimum=2)
    r = v.integer("r", r, minimum=1, maximum=n - 1)
    k = v.integer("k", k, minimum=1)
    if not r < k <= n:
        raise ValueError(f"parameter k must satisfy r < k <= n (over-parameterized, r={r}, n={n}), got {k}")
    v.integer("m", m, minimum=1)










@dataclass(frozen=True)
class IdentityCheck:
    """The one-step imbalance identity checked along an engine trajectory.

    Attributes
    ----------
    t : ndarray of int (T,)
        Steps ``t = 0, ..., T-1`` (the step from ``t`` to ``t + 1``).
    discrepancy : ndarray (T,)
        :math:`\\|(\\Delta_{t+1}-\\Delta_t) - \\eta^2(G_t^\\top D_t^\\top D_tG_t - F_t^\\top D_tD_t^\\top F_t)\\|_F`
        divided by :math:`\\|F_t^\\top F_t\\|_F + \\|G_t^\\top G_t\\|_F` (the scale of the rounding
        errors of :math:`\\Delta` itself).
    increment : ndarray (T,)
        Frobenius norm of the predicted increment.
    change : ndarray (T,)
        Frobenius norm of the measured change :math:`\\Delta_{t+1}-\\Delta_t`.
    eta : float
    """

    t: np.ndarray
    discrepancy: np.ndarray
    increment: np.ndarray
    change: np.ndarray
    eta: float


def check_identity(problem: Problem, F0, G0, *, eta: float, steps: int) -> IdentityCheck:
    """Step the engine (:func:`opsense.run_gd`) one iteration at a time and compare
    the measured change of the imbalance with :func:`imbalance_increment`.

    Parameters
    ----------
    problem : Problem
    F0 : ndarray (n1, k)
    G0 : ndarray (n2, k)
        Initial factors (e.g. from :func:`opsense.initial_factors`).
    eta : float > 0, keyword-only
    steps : int >= 1, keyword-only
        Number of steps checked.

    Returns
    -------
    IdentityCheck
    """
    problem = v.problem(problem)
    F, G = v.factor_pair(problem, F0, G0, names=("F", "G"))
    eta = v.real("eta", eta, positive=True)
    steps = v.integer("steps", steps, minimum=1)
    disc, inc, chg = np.empty(steps), np.empty(steps), np.empty(steps)
    for t in range(steps):
        pred = imbalance_increment(problem, F, G, eta=eta)
        res = run_gd(problem, init=(F, G), eta=eta, iters=1, record_every=1)
        F1, G1 = res.U[0], res.V[0]
        change = imbalance(F1, G1) - imbalance(F, G)
        scale = np.linalg.norm(F.T @ F) + np.linalg.norm(G.T @ G)
        disc[t] = np.linalg.norm(change - pred) / scale
        inc[t], chg[t] = np.linalg.norm(pred), np.linalg.norm(change)
        F, G = F1, G1
    return IdentityCheck(np.arange(steps), disc, inc, chg, eta)


def imbalance_drift(problem: Problem, F0, G0, *, eta, iters: int, every: int):
    """Drift :math:`\\|\\Delta_t-\\Delta_0\\|_F` of a batch of runs that differ only in ``eta``.

    The engine runs in chunks of ``every`` iterations (one batched call per chunk),
    and the imbalance is evaluated between chunks.

    Parameters
    ----------
    problem : Problem
    F0 : ndarray (n1, k)
    G0 : ndarray (n2, k)
        Initial factors shared by every run.
    eta : float or sequence of float > 0, keyword-only
        Step sizes, one run each.
    iters : int >= 1, keyword-only
        Total number of iterations (a multiple of ``every``).
    every : int >= 1, keyword-only
        Chunk length.

    Returns
    -------
    t : ndarray of int (T,)
        Iterations ``0, every, 2 every, ..., iters``.
    drift : ndarray (B, T)
        :math:`\\|\\Delta_t-\\Delta_0\\|_F` for each step size.
    """
    problem = v.problem(problem)
    F0, G0 = v.factor_pair(problem, F0, G0, names=("F", "G"))
    etas = v.sweep("eta", eta, lambda n, x: v.real(n, x, positive=True))
    iters = v.integer("iters", iters, minimum=1)
    every = v.integer("every", every, minimum=1)
    if iters % every:
        raise ValueError(f"iters must be a multiple of every={every}, got {iters}")
    B = len(etas)
    F = np.repeat(F0[None], B, axis=0)
    G = np.repeat(G0[None], B, axis=0)
    D0 = imbalance(F0, G0)
    t, drift = [0], [np.zeros(B)]
    for c in range(iters // every):
        res = run_gd(problem, init=(F, G), eta=etas, iters=every, record_every=every)
        F, G = res.U, res.V
        t.append((c + 1) * every)
        drift.append(np.linalg.norm((imbalance(F, G) - D0).reshape(B, -1), axis=1))
    return np.asarray(t), np.stack(drift, axis=1)


def redundant_imbalance(delta, G, *, r: int):
    """Compress an imbalance onto the redundant directions of :math:`\\mathbb R^k`.

    When :math:`\\Delta \\succ 0`, gradient descent drives :math:`G` to rank ``r``:
    its ``k - r`` smallest singular values go to zero. The right singular vectors
    belonging to them span the *redundant* subspace; ``Q`` is an orthonormal
    basis of it, and the compression :math:`Q^\\top\\Delta Q` is the imbalance
    that sets the late linear rate (by Cauchy interlacing its smallest eigenvalue
    is at least :math:`\\lambda_{\\min}(\\Delta)`).

    Parameters
    ----------
    delta : ndarray (k, k)
        An imbalance (e.g. the initial one, conserved up to :math:`O(\\eta^2)`).
    G : ndarray (n2, k)
        A late factor :math:`G_T` that identifies the redundant subspace.
    r : int, keyword-only
        Rank of the ground truth, ``1 <= r < k``.

    Returns
    -------
    eigenvalues : ndarray (k - r,)
        Eigenvalues of :math:`Q^\\top\\Delta Q`, increasing.
    Q : ndarray (k, k - r)
    """
    delta = v.array("delta", delta, ndim=2)
    k = delta.shape[0]
    if delta.shape != (k, k):
        raise ValueError(f"delta must be a square (k, k) matrix, got {delta.shape}")
    G = v.array("G", G, shape=(None, k))
    r = v.integer("r", r, minimum=1, maximum=k - 1)
    _, _, Zt = np.linalg.svd(G)  # (k, k): rows are right singular vectors, decreasing singular values
    Q = Zt[r:].T
    sym = 0.5 * (delta + delta.T)
    return np.linalg.eigvalsh(Q.T @ sym @ Q), Q


def rip_shrink(n2: int, k: int, r: int, m: int) -> float:
    """Curvature factor :math:`(1-\\sqrt{n_2(k-r)/m})^2` of a Gaussian operator on the slow subspace.

    The redundant directions :math:`\\{F_{\\rm red}Z^\\top : Z\\in\\mathbb R^{n_2\\times(k-r)}\\}` form
    a subspace of dimension :math:`d = n_2(k-r)`; a Gaussian operator with ``m``
    measurements and :math:`\\mathcal N(0,1/m)` entries, restricted to it, is an
    ``m x d`` Gaussian matrix whose smallest squared singular value is about
    :math:`(1-\\sqrt{d/m})^2` (Marchenko-Pastur edge). Returns 0 when ``d >= m``.

    Parameters
    ----------
    n2, k, r, m : int
        ``1 <= r < k``.

    Returns
    -------
    float
    """
    n2 = v.integer("n2", n2, minimum=1)
    k = v.integer("k", k, minimum=2)
    r = v.integer("r", r, minimum=1, maximum=k - 1)
    m = v.integer("m", m, minimum=1)
    return float(max(0.0, 1.0 - np.sqrt(n2 * (k - r) / m)) ** 2)


@dataclass(frozen=True)
class RebalanceReport:
    """What one rebalancing step did to a pair of factors.

    Attributes
    ----------
    beta : float
        :math:`\\beta = \\|FG^\\top\\|_{op}`.
    product_change : float
        :math:`\\|F'G'^\\top - FG^\\top\\|_F / \\|FG^\\top\\|_F` (0 up to rounding).
    sv_F_before, sv_F_after : ndarray (k,)
        Squared singular values of ``F`` and ``F'``, decreasing (after: all :math:`\\beta`).
    imbalance_before, imbalance_after : ndarray (k,)
        Eigenvalues of :math:`\\Delta` and :math:`\\Delta'`, increasing.
    imbalance_predicted : ndarray (k,)
        :math:`\\beta - s_i^2/\\beta` for the ``k`` leading singular values :math:`s_i` of
        :math:`FG^\\top`, increasing (the exact spectrum of :math:`\\Delta'`).
    redundant_before, redundant_after : float
        Smallest eigenvalue of :math:`\\Delta` (resp. :math:`\\Delta'`) compressed onto the
        redundant subspace of ``G`` (resp. ``G'``), see :func:`redundant_imbalance`.
    F, G : ndarray
        The rebalanced factors.
    """

    beta: float
    product_change: float
    sv_F_before: np.ndarray
    sv_F_after: np.ndarray
    imbalance_before: np.ndarray
    imbalance_after: np.ndarray
    imbalance_predicted: np.ndarray
    redundant_before: float
    redundant_after: float
    F: np.ndarray
    G: np.ndarray


def rebalance_report(F, G, *, r: int) -> RebalanceReport:
    """Apply :func:`opsense.rebalance` to ``(F, G)`` and measure its effect.

    Parameters
    ----------
    F : ndarray (n1, k), full column rank
    G : ndarray (n2, k)
    r : int, keyword-only
        Rank of the ground truth, ``1 <= r < k``.

    Returns
    -------
    RebalanceReport
    """
    F = v.array("F", F, ndim=2)
    G = v.array("G", G, shape=(None, F.shape[1]))
    k = F.shape[1]
    r = v.integer("r", r, minimum=1, maximum=k - 1)
    F1, G1 = rebalance(F, G)
    X, X1 = F @ G.T, F1 @ G1.T
    beta = float(np.linalg.norm(X, 2))
    s = np.linalg.svd(X, compute_uv=False)
    s = np.concatenate([s, np.zeros(max(0, k - s.size))])[:k]
    red0, _ = redundant_imbalance(imbalance(F, G), G, r=r)
    red1, _ = redundant_imbalance(imbalance(F1, G1), G1, r=r)
    return RebalanceReport(
        beta=beta, product_change=float(np.linalg.norm(X1 - X) / np.linalg.norm(X)),
        sv_F_before=np.linalg.svd(F, compute_uv=False) ** 2, sv_F_after=np.linalg.svd(F1, compute_uv=False) ** 2,
        imbalance_before=np.linalg.eigvalsh(imbalance(F, G)), imbalance_after=np.linalg.eigvalsh(imbalance(F1, G1)),
        imbalance_predicted=np.sort(beta - s ** 2 / beta), redundant_before=float(red0[0]),
        redundant_after=float(red1[0]), F=F1, G=G1)


def trigger_time(t, residual, *, epsilon: float) -> float:
    """First recorded iteration with relative residual ``<= epsilon`` (NaN if never).

    The same data-only test that ``run_gd(..., rebalance_tol=epsilon)`` uses.
    """
    epsilon = v.real("epsilon", epsilon, positive=True, below=1.0)
    return hitting_time(t, residual, epsilon).time






def plot_identity_drift(check: IdentityCheck, t, drift, etas, *, tau: float):
    """Two panels: the identity along a trajectory, and the drift divided by ``eta`` against ``eta t``.

    Parameters
    ----------
    check : IdentityCheck
        From :func:`check_identity`.
    t : array (T,)
        Iterations of :func:`imbalance_drift`.
    drift : array (B, T)
        Drifts from :func:`imbalance_drift`.
    etas : sequence of B floats
        Their step sizes.
    tau : float > 0, keyword-only
        Largest flow time ``eta t`` shown (every run must reach it).

    Returns
    -------
    fig, axes
    """
    from . import plotting

    if not isinstance(check, IdentityCheck):
        raise ValueError(f"check must be an IdentityCheck, got {type(check).__name__}")
    etas = v.sweep("etas", list(np.asarray(etas, dtype=float)), lambda n, x: v.real(n, x, positive=True))
    t = v.array("t", t, ndim=1)
    drift = v.array("drift", drift, shape=(len(etas), t.size))
    tau = v.real("tau", tau, positive=True)
    fig, axes = plotting.figure(2, width=9.6, height=3.6)
    ax = axes[0]
    ax.semilogy(check.t, check.change, label="measured one-step change of Δ")
    ax.semilogy(check.t, check.discrepancy, label="discrepancy with the identity, relative")
    ax.set_xlabel("iteration t")
    ax.set_ylabel("Frobenius norm")
    ax.set_title(f"the identity step by step, {plotting.param_label('eta', check.eta)}")
    ax.legend()
    ax = axes[1]
    for e, d in zip(etas, drift):
        ax.plot(e * t, d / e, label=plotting.param_label("eta", e))
    ax.set_xlim(0, tau)
    ax.set_xlabel("flow time ηt")
    ax.set_ylabel("‖Δ_t − Δ_0‖_F / η")
    ax.set_title("drift / η: the curves collapse")
    ax.legend()
    return fig, axes


def plot_one_step(vanilla, modified, *, r: int):
    """Squared relative errors of vanilla runs (solid) and rebalanced runs (dashed, same colour).

    Parameters
    ----------
    vanilla : GDResult
        Batch whose first rows are over-parameterized runs, one per ``alpha`` of
        ``modified``, and whose last row is the exact-parameterization run (``k = r``).
    modified : GDResult
        The same runs with ``rebalance_tol`` set (its ``rebalanced_at`` marks the step).
    r : int, keyword-only
        Rank of the ground truth (for the legend).

    Returns
    -------
    fig, ax
    """
    from . import plotting

    B = modified.batch_size
    if vanilla.batch_size != B + 1:
        raise ValueError(f"vanilla must hold the {B} runs of modified plus one k = r run, "
                         f"got {vanilla.batch_size} runs")
    r = v.integer("r", r, minimum=1)
    fig, ax = plotting.figure(1, width=9.6, height=4.0)
    colors = _colors()
    for i in range(B):
        c = colors[i % len(colors)]
        a, k = modified.alpha[i], int(modified.k[i])
        ax.plot(vanilla.t, vanilla.rel_error[i] ** 2, color=c,
                label=f"vanilla, k = {k}, {plotting.param_label('alpha', a)}")
        ax.plot(modified.t, modified.rel_error[i] ** 2, color=c, ls="--",
                label=f"one step rebalanced, {plotting.param_label('alpha', a)}")
        if modified.rebalanced_at[i] >= 0:
            ax.axvline(modified.rebalanced_at[i], color=c, lw=0.6, ls=":")
    ax.plot(vanilla.t, vanilla.rel_error[-1] ** 2, color="black", lw=1.2,
            label=f"exact parameterization k = r = {r}, {plotting.param_label('alpha', vanilla.alpha[-1])}")
    ax.set_yscale("log")
    ax.set_xlabel("iteration t")
    ax.set_ylabel("squared relative error")
    ax.set_title("asymmetric GD, vanilla vs one-step rebalancing (dotted: the step)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig, ax


def _colors() -> list:
    """The colour cycle of the book style."""
    from . import plotting

    return plotting.STYLE["axes.prop_cycle"].by_key()["color"]


def plot_rates(alphas, rho_vanilla, rho_modified, rho_exact: float, *, k: int, r: int):
    """Fitted rates against ``alpha`` (log-log) and the speed-up of the rebalanced runs.

    Parameters
    ----------
    alphas, rho_vanilla, rho_modified : arrays (B,)
    rho_exact : float
        Rate of the exact parameterization ``k = r``.
    k, r : int, keyword-only

    Returns
    -------
    fig, axes
    """
    from . import plotting

    alphas = v.array("alphas", alphas, ndim=1)
    rv = v.array("rho_vanilla", rho_vanilla, shape=alphas.shape)
    rm = v.array("rho_modified", rho_modified, shape=alphas.shape)
    rho_exact = v.real("rho_exact", rho_exact, positive=True)
    fig, axes = plotting.figure(2, width=9.6, height=3.6)
    ax = axes[0]
    ax.loglog(alphas, rv, "o-", label=f"vanilla, k = {k}")
    ax.loglog(alphas, rm, "s--", label=f"one step rebalanced, k = {k}")
    ax.axhline(rho_exact, color="black", lw=1.2, label=f"exact parameterization k = r = {r}")
    ax.loglog(alphas, rv[0] * (alphas / alphas[0]) ** 2, ":", color="gray", label="slope 2 (∝ α²)")
    ax.set_xlabel("initialization scale α")
    ax.set_ylabel("rate of the squared error per iteration")
    ax.set_title("late linear rates")
    ax.legend()
    ax = axes[1]
    ax.loglog(alphas, rm / rv, "o-", label="speed-up (rate ratio)")
    ax.loglog(alphas, (rm / rv)[0] * (alphas / alphas[0]) ** -2.0, ":", color="gray", label="slope −2 (∝ 1/α²)")
    ax.set_xlabel("initialization scale α")
    ax.set_ylabel("rebalanced rate / vanilla rate")
    ax.set_title("speed-up over vanilla GD")
    ax.legend()
    for ax in axes:
        ax.set_xticks(alphas, labels=[f"{a:g}" for a in alphas])
        ax.minorticks_off()
    return fig, axes
