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
    :func:`run` checks both identities on the first instance, then runs, over ``n_instances``
    independent instances (target, Gaussian operator and initialization re-drawn,
    :func:`opsense.instance_seeds`), batched in :func:`opsense.run_gd`: an ``alpha`` sweep at a
    small step size, a step-size sweep at a tiny ``alpha`` (with the identity operator on the
    same targets as the control for the coupling :math:`\\|U_\\star^\\top U_t-V_\\star^\\top V_t\\|`),
    and a sweep over the number of measurements ``ms`` (nested operators: the first ``m`` rows
    of each instance's Gaussian matrix) for the size of the coupling transient.

Horizons
    Every horizon is derived from the predicted time scale :math:`1/(\\mu\\sigma_r)` of the
    weakest signal direction, whose escape takes about :math:`\\ln(1/\\alpha)/(\\mu\\sigma_r)`
    steps: ``iters`` is the horizon of the slowest run (``alpha_small``, ``min(etas)``) and
    must be at least :func:`horizon` of it; every other run gets ``iters`` times the ratio of
    its own predicted horizon to that one (``_scaled``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..book import rounded
from ..config import Cost, gd_cost, parameter_check, regime
from ..analysis import fit_power
from ..claims import Claim, at_least, at_most, between, close
from ..engine.factors import dilation, imbalance, imbalance_increment, initial_factors, lifted_step, residual_matrix
from ..engine.gd import GDResult, run_gd, step_sizes
from ..engine.operators import SensingOperator
from ..engine.problems import Problem, check_factor_pair, check_problem, instance_seeds, low_rank_target, make_problem
from ..plotting import figure, param_label, value_ticks
from ..stats import Interval, instance_interval

__all__ = ["PRESETS", "MAX_ENTRIES", "MAX_WORK", "MAX_GRAM", "MIN_INSTANCES", "DRIFT_EFOLDS", "PEAK_EFOLDS",
           "COUPLING_SPEC", "check", "cost", "horizon", "LiftedVerification", "verify_lifted", "Balancing",
           "run", "identities_table", "summary", "m_summary", "glue_values", "claims", "evaluate",
           "plot_balancing", "plot_m_sweep"]

#: Parameter sets: ``book`` (20 x 30, rank 2, m = 300) and ``paper`` (50 x 50, rank 3, m = 1500).
PRESETS = {
    "book": dict(n1=20, n2=30, r=2, sigma=[1.0, 0.5], m=300, k=30, alphas=[0.1, 0.03, 0.01], eta=0.01,
                 alpha_small=1e-4, etas=[0.01, 0.02, 0.04, 0.08], iters=2700, ms=[300, 600, 1200, 2400],
                 alpha_m=1e-4, n_instances=5, check_times=[0, 100, 300, 1000], seed=0),
    "paper": dict(n1=50, n2=50, r=3, sigma=[1.0, 0.75, 0.5], m=1500, k=50, alphas=[0.1, 0.03, 0.01], eta=0.01,
                  alpha_small=1e-4, etas=[0.01, 0.02, 0.04, 0.08], iters=2700, ms=[900, 1800, 3600],
                  alpha_m=1e-4, n_instances=5, check_times=[0, 100, 300, 1000], seed=0),
}

#: Largest operator entries held at once: n_instances * max(ms, m) * n1 * n2 (8 bytes each).
MAX_ENTRIES = 200_000_000
#: Largest amount of work (operator-entry touches, :class:`opsense.config.Cost`).
MAX_WORK = 2e12
#: Largest runs * k^2 of one engine call: the engine records the k x k imbalance of every run.
MAX_GRAM = 50_000_000
#: Fewest independent instances of a fitted quantity.
MIN_INSTANCES = 5
#: e-folds of the weakest direction after its escape, for the drift to settle: the horizon of a run
#: is (ln(1/alpha) + DRIFT_EFOLDS) / (mu sigma_r).
DRIFT_EFOLDS = 4.0
#: The same for the m sweep, which needs only the coupling transient (it peaks before the escape of
#: the weakest direction is complete).
PEAK_EFOLDS = 3.0
#: The chapter's specification for "the coupling stays small": 0.05 sigma_r.
COUPLING_SPEC = 0.05

RECORD_EVERY = 10
#: Record every RECORD_TIME / eta steps in the step-size and m sweeps (the same resolution in mu t).
RECORD_TIME = 0.2
#: Rounding noise of the identities varies with the BLAS: the page shows only a bound below this.
NOISE_FLOOR = 1e-14


def horizon(alpha: float, eta: float, sigma_r: float, efolds: float = DRIFT_EFOLDS) -> int:
    """Predicted horizon ``ceil((ln(1/alpha) + efolds) / (eta sigma_r))`` of a run.

    Parameters
    ----------
    alpha : float in (0, 1)
        Initialization scale.
    eta : float > 0
        Step size.
    sigma_r : float > 0
        Smallest singular value of the target.
    efolds : float >= 0
        e-folds of the weakest direction after its escape.

    Returns
    -------
    int
    """
    alpha = v.real("alpha", alpha, positive=True, below=1.0)
    eta = v.real("eta", eta, positive=True)
    sigma_r = v.real("sigma_r", sigma_r, positive=True)
    efolds = v.real("efolds", efolds, nonnegative=True)
    return int(math.ceil((math.log(1.0 / alpha) + efolds) / (eta * sigma_r)))


def _scaled(P, alpha: float, eta: float, efolds: float = DRIFT_EFOLDS) -> int:
    """``iters`` times the ratio of the predicted horizon of ``(alpha, eta)`` to that of the slowest run."""
    sr = min(float(s) for s in P.sigma)
    ref = horizon(P.alpha_small, min(P.etas), sr)
    return max(1, int(math.ceil(int(P.iters) * horizon(alpha, eta, sr, efolds) / ref)))


def _every(eta: float) -> int:
    return max(1, int(round(RECORD_TIME / eta)))


def _horizons(P) -> dict:
    """Steps of every batch: the alpha sweep, each step size of the eta sweep, the m sweep."""
    return dict(alpha=_scaled(P, min(P.alphas), P.eta), etas=[_scaled(P, P.alpha_small, e) for e in P.etas],
                m=_scaled(P, P.alpha_m, max(P.etas), PEAK_EFOLDS))


@parameter_check
def check(P) -> None:
    """Refuse infeasible parameters of the chapter, naming the parameter, and state its regime.

    The regime the chapter's claims are stated for (a run outside it goes ahead with one
    :class:`opsense.config.OutsideRegimeWarning`): ``m >= 3 r (n1 + n2)`` and every ``ms`` at
    least ``2 r (n1 + n2)``; ``k >= 2 r``; ``kappa <= 3``; ``eta sigma_1`` and
    ``max(etas) sigma_1 <= 0.1``; ``max(alphas)^2 >= eta`` (the drift, of order ``eta``, small
    against the conserved ``alpha^2``) and ``max(alphas) <= 0.3``; ``alpha_small <= 1e-4`` and
    ``alpha_m <= 1e-3`` (the initial coupling, of order ``alpha``, far below the transient);
    ``max(etas) / min(etas) >= 4`` and ``max(ms) / min(ms) >= 4`` (a range for the fitted slopes);
    ``n_instances >= 5``. The RIP sample size of paper A's theory (``m`` of order
    ``kappa^8 r^2 (n1 + n2)``) is far out of reach at these sizes, in every preset.

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
    k = v.integer("k", P.k, minimum=r)
    v.integer("seed", P.seed, minimum=0)
    n_inst = v.integer("n_instances", P.n_instances, minimum=2)
    for name in ("alphas", "etas"):
        vals = v.sweep(name, getattr(P, name), lambda n, x: v.real(n, x, positive=True))
        if len(set(vals)) < 2:
            raise ValueError(f"{name} must hold at least two distinct values > 0 (a sweep), got {vals}")
    alphas = [float(a) for a in P.alphas]
    if max(alphas) >= 1:
        raise ValueError(f"alphas must lie in (0, 1) (small initialization), got {alphas}")
    etas = [float(e) for e in P.etas]
    eta = v.real("eta", P.eta, positive=True)
    a_small = v.real("alpha_small", P.alpha_small, positive=True, below=1.0)
    a_m = v.real("alpha_m", P.alpha_m, positive=True, below=1.0)
    ms = v.sweep("ms", P.ms, lambda n, x: v.integer(n, x, minimum=1))
    if len(ms) < 3 or any(b <= a for a, b in zip(ms, ms[1:])):
        raise ValueError(f"ms must hold at least three strictly increasing numbers of measurements, got {ms}")
    v.sampled(ms[0], r=r, n1=n1, n2=n2)
    iters = v.integer("iters", P.iters, minimum=1)
    sr, s1 = min(sig), max(sig)
    need = horizon(a_small, min(etas), sr)
    if iters < need:
        raise ValueError(f"iters must be >= {need}, the predicted horizon (ln(1/alpha_small) + {DRIFT_EFOLDS:g}) / "
                         f"(min(etas) sigma_r) of the slowest run (the drift settles after the escape of the "
                         f"weakest direction), got {iters}")
    times = v.sweep("check_times", P.check_times, lambda n, x: v.integer(n, x, minimum=0))
    if any(b <= a for a, b in zip(times, times[1:])):
        raise ValueError(f"check_times must be strictly increasing, got {times}")
    if times[-1] > 10 * iters:
        raise ValueError(f"check_times must lie on the trajectory, at most 10 iters = {10 * iters}, got {times[-1]}")
    if n_inst * max(ms[-1], m) * n1 * n2 > MAX_ENTRIES:
        name = "m" if m > ms[-1] else "ms"
        raise ValueError(f"{name} must keep n_instances * max(m, max(ms)) * n1 * n2 <= {MAX_ENTRIES:,} (the "
                         f"operators' memory), got {n_inst} * {max(ms[-1], m)} * {n1} * {n2}")
    if n_inst * len(alphas) * k * k > MAX_GRAM:
        raise ValueError(f"k must keep runs * k^2 <= {MAX_GRAM:,} (the k x k imbalance of every run), "
                         f"got {n_inst * len(alphas)} * {k}^2")
    work = cost(P).work
    if work > MAX_WORK:
        raise ValueError(f"iters must keep the work (opsense.config.Cost) <= {MAX_WORK:.0e} (run time), "
                         f"got {work:.2e}")
    # step sizes: the engine's safe bound min(1/(3 sigma_1(A*(y))), 1/L0) on every instance and operator
    seeds = instance_seeds(P.seed, n_inst)
    for s in seeds:
        for mm in sorted({m, ms[0]}):
            prob = make_problem(n1, n2, r, mm, sigma=sig, seed=s)
            cap = 1.0 / (3.0 * float(prob.spectral_sigma[0]))
            for name, a, e in [("eta", max(alphas), eta), ("etas", a_small, max(etas))]:
                bound = float(step_sizes(prob, k=k, alpha=a, seed=s, eta=cap)[0])
                if e > bound:
                    raise ValueError(f"{name} must be <= {bound:.3g} at alpha = {a:g} (instance seed {s}, m = {mm}), "
                                     f"the safe step min(1/(3 sigma_1(A*(y))), 1/L0) of opsense.step_sizes "
                                     f"(larger steps may diverge), got {e:g}")
    rr = r * (n1 + n2)
    regime("a3_balancing", [
        (m >= 3 * rr, f"m >= 3 r (n1 + n2) = {3 * rr} (m = {m})"),
        (ms[0] >= 2 * rr, f"min(ms) >= 2 r (n1 + n2) = {2 * rr} (got {ms[0]})"),
        (k >= 2 * r, f"k >= 2 r = {2 * r} (k = {k})"),
        (s1 <= 3 * sr, f"kappa <= 3 (kappa = {s1 / sr:.3g})"),
        (max(eta, max(etas)) * s1 <= 0.1, f"eta sigma_1 and max(etas) sigma_1 <= 0.1 "
                                          f"(got {max(eta, max(etas)) * s1:.3g})"),
        (max(alphas) ** 2 >= eta, f"max(alphas)^2 >= eta (got {max(alphas) ** 2:.3g} and {eta:g})"),
        (max(alphas) <= 0.3, f"max(alphas) <= 0.3 (got {max(alphas):g})"),
        (a_small <= 1e-4, f"alpha_small <= 1e-4 (got {a_small:g})"),
        (a_m <= 1e-3, f"alpha_m <= 1e-3 (got {a_m:g})"),
        (max(etas) >= 4 * min(etas), f"max(etas) / min(etas) >= 4 (got {max(etas) / min(etas):.3g})"),
        (ms[-1] >= 4 * ms[0], f"max(ms) / min(ms) >= 4 (got {ms[-1] / ms[0]:.3g})"),
        (n_inst >= MIN_INSTANCES, f"n_instances >= {MIN_INSTANCES} (got {n_inst})"),
    ])


def cost(P) -> Cost:
    """What :func:`run` costs, from the parameters alone (pure arithmetic, nothing is run).

    ``work``: over ``n_instances`` instances, the ``alpha`` sweep (``len(alphas)`` runs of
    ``_horizons(P)["alpha"]`` steps), each step size of the ``etas`` sweep on the Gaussian
    operator and on the identity, and the ``ms`` sweep (each ``m``, the horizon of the transient),
    every step ``n1 n2 (2 m + 3 k)`` (``m = 0`` for the identity); plus :func:`verify_lifted`
    (one run to ``max(check_times)`` and about nine operator passes per check time). All
    horizons are proportional to ``iters``. ``memory_bytes``: the instances' operators (of the
    largest ``m``) and the factors and curves of the batches.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (already checked by :func:`check`).

    Returns
    -------
    opsense.config.Cost
    """
    n1, n2, r, m, k, N = int(P.n1), int(P.n2), int(P.r), int(P.m), int(P.k), int(P.n_instances)
    H = _horizons(P)
    g = dict(n1=n1, n2=n2, k=k, r=r)
    work, mem = 0.0, 8.0 * N * max(m, max(int(x) for x in P.ms)) * n1 * n2
    w, b = gd_cost(N * len(P.alphas), H["alpha"], m=m, every=_every(float(P.eta)), **g)
    work, mem = work + w, mem + b
    for e, T in zip(P.etas, H["etas"]):
        for mm in (m, 0):
            w, b = gd_cost(N, T, m=mm, every=_every(float(e)), **g)
            work, mem = work + w, mem + b
    for mm in P.ms:
        w, b = gd_cost(N, H["m"], m=int(mm), every=_every(max(P.etas)), **g)
        work, mem = work + w, mem + b
    times = [int(t) for t in P.check_times]
    work += gd_cost(1, max(times), m=m, every=RECORD_EVERY, **g)[0] + 9.0 * len(times) * m * n1 * n2
    return Cost(memory_bytes=mem, work=work, drivers=("iters", "n_instances", "ms", "etas", "alphas", "m", "n1",
                                                       "n2", "k"))


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
    """The chapter's experiment over ``N`` independent instances.

    Attributes
    ----------
    problems : list of Problem
        The ``N`` Gaussian sensing problems (instance ``j`` from seed ``seeds[j]``).
    seeds : ndarray of int, shape (N,)
    verification : LiftedVerification
        The identities on the first instance, at the smallest ``alpha`` and the largest step size.
    alphas, etas : ndarray of shape (A,), (E,)
        The ``alpha`` sweep (decreasing) at step size ``eta``; the step sizes at ``alpha_small``.
    eta, alpha_small, alpha_m : float
    alpha_runs : list of GDResult
        One per instance: the ``A`` runs of the ``alpha`` sweep (they share the instance's operator).
    eta_runs, control : list of GDResult
        One per step size: the ``N`` instances with the Gaussian operator, and with the identity
        operator on the same targets and initializations.
    horizons : dict
        Steps of the ``alpha`` sweep, of each step size and of the ``ms`` sweep.
    sigma_r : float
        Smallest singular value of the targets.
    c0 : ndarray of shape (N,)
        :math:`\\|\\tilde U^\\top\\tilde U-\\tilde V^\\top\\tilde V\\|` of each instance.
    ratio, drift_alpha : ndarray of shape (A, N)
        :math:`\\|\\Delta_T\\|/\\|\\Delta_0\\|` and :math:`\\|\\Delta_T-\\Delta_0\\|` of the ``alpha`` sweep.
    drift_eta : ndarray of shape (E, N)
        :math:`\\|\\Delta_T-\\Delta_0\\|` of the step-size sweep.
    settle : ndarray of shape (E, N)
        Relative change of :math:`\\|\\Delta_t\\|` over the last tenth of each step-size run (the
        horizon check: the drift has settled).
    slope_eta : ndarray of shape (N,)
        Log-log slope of the drift against the step size, per instance.
    slope_alpha : ndarray of shape (N,)
        Log-log slope of the relative drift :math:`\\|\\Delta_T-\\Delta_0\\|/\\|\\Delta_0\\|` against ``alpha``.
    peak : ndarray of shape (E, N)
        Largest coupling over the trajectory, divided by ``sigma_r`` (Gaussian).
    control_growth : ndarray of shape (E, N)
        Identity operator: largest coupling over the trajectory divided by its initial value.
    final_small : ndarray of shape (N,)
        Largest final coupling / ``sigma_r`` over the runs with ``alpha <= min(alphas)``.
    ms : ndarray of int, shape (M,)
    m_t : list of ndarray
        Recorded iterations of the ``ms`` sweep (one array, the same for every ``m``).
    m_coupling : ndarray of shape (M, N, T)
        Coupling / ``sigma_r`` along the runs of the ``ms`` sweep.
    peak_m : ndarray of shape (M, N)
        Largest coupling / ``sigma_r`` of each ``(m, instance)``.
    slope_m : ndarray of shape (N,)
        Log-log slope of ``peak_m`` against ``m``, per instance.
    end_m : ndarray of shape (M, N)
        Coupling at the horizon divided by the peak (horizon check: the transient is over).
    seconds : float
        Run time of :func:`run`.
    """

    problems: list
    seeds: np.ndarray
    verification: LiftedVerification
    alphas: np.ndarray
    etas: np.ndarray
    eta: float
    alpha_small: float
    alpha_m: float
    alpha_runs: list
    eta_runs: list
    control: list
    horizons: dict
    sigma_r: float
    c0: np.ndarray
    ratio: np.ndarray
    drift_alpha: np.ndarray
    drift_eta: np.ndarray
    settle: np.ndarray
    slope_eta: np.ndarray
    slope_alpha: np.ndarray
    peak: np.ndarray
    control_growth: np.ndarray
    final_small: np.ndarray
    ms: np.ndarray
    m_t: np.ndarray
    m_coupling: np.ndarray
    peak_m: np.ndarray
    slope_m: np.ndarray
    end_m: np.ndarray
    seconds: float = 0.0

    @property
    def n_instances(self) -> int:
        """Number of independent instances."""
        return len(self.problems)


def _drift(res: GDResult, a2, delta_tilde) -> np.ndarray:
    """``||Delta_T - alpha^2 Delta~||`` of each run of ``res`` (``a2``, ``delta_tilde`` per run)."""
    dT = imbalance(res.U, res.V)
    return np.linalg.norm(dT - np.asarray(a2)[:, None, None] * np.asarray(delta_tilde), ord=2, axis=(1, 2))


def _instances(P):
    """Seeds, targets, nested Gaussian matrices (first rows = :func:`opsense.make_problem`'s operator)."""
    n1, n2 = int(P.n1), int(P.n2)
    seeds = instance_seeds(P.seed, P.n_instances)
    rows = max(int(P.m), max(int(x) for x in P.ms))
    targets, masters = [], []
    for s in seeds:
        s_target, s_op = np.random.SeedSequence(s).generate_state(2)
        targets.append(low_rank_target(n1, n2, P.r, sigma=P.sigma, seed=int(s_target)))
        masters.append(np.random.default_rng(int(s_op)).standard_normal((rows, n1 * n2)))
    return seeds, targets, masters


def _problem(target, master, m: int, n1: int, n2: int) -> Problem:
    a = master[:m].copy()
    a *= 1.0 / np.sqrt(m)          # the same arithmetic as SensingOperator.gaussian
    return Problem.from_parts(target, SensingOperator.from_matrix(a, n1, n2))


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
    n1, n2, k, N = int(P.n1), int(P.n2), int(P.k), int(P.n_instances)
    seeds, targets, masters = _instances(P)
    probs = [_problem(t, a, int(P.m), n1, n2) for t, a in zip(targets, masters)]
    idents = [Problem.from_parts(t, SensingOperator.identity(n1, n2)) for t in targets]
    alphas = np.array(sorted((float(a) for a in P.alphas), reverse=True))
    etas = np.array([float(e) for e in P.etas])
    H = _horizons(P)
    sr = float(min(P.sigma))
    U0, V0 = initial_factors(n1, n2, k, alphas[-1], seed=seeds[0])
    chk = verify_lifted(probs[0], U0, V0, eta=float(etas.max()), times=P.check_times)
    tilde = [imbalance(*initial_factors(n1, n2, k, 1.0, seed=s)) for s in seeds]          # U~'U~ - V~'V~
    c0 = np.array([np.linalg.norm(d, 2) for d in tilde])
    # the alpha sweep: per instance, its runs share the operator
    alpha_runs = [run_gd(p, k=k, alpha=alphas.tolist(), eta=P.eta, iters=H["alpha"], seed=s,
                         record_every=_every(float(P.eta))) for p, s in zip(probs, seeds)]
    a2 = alphas ** 2
    drift_alpha = np.array([_drift(res, a2, [d] * len(alphas)) for res, d in zip(alpha_runs, tilde)]).T
    ratio = np.array([res.imbalance_op[:, -1] for res in alpha_runs]).T / (a2[:, None] * c0[None, :])
    # the step-size sweep, Gaussian and identity operators: per step size, the N instances in one call
    eta_runs, control = [], []
    for e, T in zip(etas, H["etas"]):
        kw = dict(k=k, alpha=P.alpha_small, eta=float(e), iters=T, seed=seeds, record_every=_every(float(e)))
        eta_runs.append(run_gd(probs, **kw))
        control.append(run_gd(idents, **kw))
    drift_eta = np.array([_drift(res, [P.alpha_small ** 2] * N, tilde) for res in eta_runs])
    settle = np.empty((len(etas), N))
    for i, res in enumerate(eta_runs):
        late = res.t >= 0.9 * res.t[-1]
        im = res.imbalance_op[:, late]
        settle[i] = (im.max(axis=1) - im.min(axis=1)) / im[:, -1]
    slope_eta = np.array([fit_power(etas, drift_eta[:, j]).slope for j in range(N)])
    slope_alpha = np.array([fit_power(alphas, drift_alpha[:, j] / (a2 * c0[j])).slope for j in range(N)])
    peak = np.array([res.coupling.max(axis=1) for res in eta_runs]) / sr
    control_growth = np.array([res.coupling.max(axis=1) / res.coupling[:, 0] for res in control])
    final_small = np.maximum(np.array([res.coupling[-1, -1] for res in alpha_runs]),
                             np.array([res.coupling[:, -1] for res in eta_runs]).max(axis=0)) / sr
    # the m sweep: nested operators, the transient only
    ms = np.array([int(x) for x in P.ms])
    curves = []
    for mm in ms:
        pm = [_problem(t, a, int(mm), n1, n2) for t, a in zip(targets, masters)]
        res = run_gd(pm, k=k, alpha=P.alpha_m, eta=float(etas.max()), iters=H["m"], seed=seeds,
                     record_every=_every(float(etas.max())))
        curves.append(res.coupling / sr)
    m_coupling = np.array(curves)
    peak_m = m_coupling.max(axis=2)
    slope_m = np.array([fit_power(ms, peak_m[:, j]).slope for j in range(N)])
    return Balancing(
        problems=probs, seeds=np.asarray(seeds), verification=chk, alphas=alphas, etas=etas, eta=float(P.eta),
        alpha_small=float(P.alpha_small), alpha_m=float(P.alpha_m), alpha_runs=alpha_runs, eta_runs=eta_runs,
        control=control, horizons=H, sigma_r=sr, c0=c0, ratio=ratio, drift_alpha=drift_alpha, drift_eta=drift_eta,
        settle=settle, slope_eta=slope_eta, slope_alpha=slope_alpha, peak=peak, control_growth=control_growth,
        final_small=final_small, ms=ms, m_t=res.t, m_coupling=m_coupling, peak_m=peak_m, slope_m=slope_m,
        end_m=m_coupling[:, :, -1] / peak_m, seconds=time.perf_counter() - start)


def _bound(x: float, floor: float = NOISE_FLOOR) -> str:
    """Rounding noise varies with the BLAS: show only a bound below ``floor``."""
    return f"< {floor:.0e}" if x < floor else f"{x:.1e}"


def _iv(values, log: bool = False) -> Interval:
    return instance_interval(np.asarray(values, dtype=float), log=log)


def _ivtext(iv: Interval, digits: int = 3) -> str:
    """``mean [lo, hi]`` rounded to ``digits`` significant digits (the page's text)."""
    return f"{rounded(iv.mean, digits)} [{rounded(iv.lo, digits)}, {rounded(iv.hi, digits)}]"


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
    lines = [f"instance 1, alpha = {exp.alphas[-1]:g}, mu = {c.eta:g}",
             f"{'t':>6} {'lifted':>9} {'identity':>9} {'two forms':>9} {'|increment|':>12}"]
    for row in zip(c.t, c.lifted, c.identity, c.lifted_form, c.increment):
        lines.append(f"{row[0]:>6d} {_bound(row[1]):>9} {_bound(row[2]):>9} {_bound(row[3]):>9} {row[4]:>12.1e}")
    return "\n".join(lines)


def summary(exp: Balancing) -> str:
    """The table of the two sweeps: mean [95% interval] over the instances of each run's numbers.

    Parameters
    ----------
    exp : Balancing

    Returns
    -------
    str
    """
    N = exp.n_instances
    lines = [f"{N} instances; ||U~'U~ - V~'V~|| = {_ivtext(_iv(exp.c0))}",
             f"{'alpha':>7} {'mu':>5} {'steps':>6} {'||D_T||/||D_0|| - 1':>24} {'drift ||D_T - D_0||':>26} "
             f"{'peak coupling/sigma_r':>24}"]
    for i, a in enumerate(exp.alphas):
        rel = _iv(exp.ratio[i] - 1)
        lines.append(f"{a:>7.0e} {exp.eta:>5.2f} {exp.horizons['alpha']:>6d} "
                     f"{f'{rel.mean:.1e} [{rel.lo:.1e}, {rel.hi:.1e}]':>24} "
                     f"{str(_iv(exp.drift_alpha[i], log=True)).rsplit(' (', 1)[0]:>26} {'':>24}")
    for i, e in enumerate(exp.etas):
        lines.append(f"{exp.alpha_small:>7.0e} {e:>5.2f} {exp.horizons['etas'][i]:>6d} {'':>24} "
                     f"{str(_iv(exp.drift_eta[i], log=True)).rsplit(' (', 1)[0]:>26} "
                     f"{str(_iv(exp.peak[i])).rsplit(' (', 1)[0]:>24}")
    lines.append(f"horizon check: ||D_t|| changes by at most {exp.settle.max():.1e} (relative) over the last tenth "
                 f"of every step-size run")
    return "\n".join(lines)


def m_summary(exp: Balancing) -> str:
    """The table of the ``ms`` sweep: peak coupling per ``m`` and the fitted slope.

    Parameters
    ----------
    exp : Balancing

    Returns
    -------
    str
    """
    p = exp.problems[0]
    n1, n2 = p.target.X.shape
    rr = p.target.r * (n1 + n2)
    lines = [f"alpha = {exp.alpha_m:g}, mu = {exp.etas.max():g}, {exp.horizons['m']} steps; "
             f"peak coupling / sigma_r, mean [95% interval] over {exp.n_instances} instances",
             f"{'m':>6} {'m/(r(n1+n2))':>13} {'peak':>26} {'end/peak (max)':>15}"]
    for i, mm in enumerate(exp.ms):
        lines.append(f"{mm:>6d} {mm / rr:>13.3g} {str(_iv(exp.peak_m[i], log=True)).rsplit(' (', 1)[0]:>26} "
                     f"{exp.end_m[i].max():>15.2f}")
    lines.append(f"log-log slope of the peak against m, per instance: "
                 + ", ".join(f"{s:.2f}" for s in exp.slope_m) + f";  {_iv(exp.slope_m)}")
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
    c = exp.verification
    peak_path = exp.peak.max(axis=0)
    spread = exp.peak.max(axis=0) / exp.peak.min(axis=0)
    d_ratio = exp.drift_alpha[0] / exp.drift_alpha[-1]
    small_vs = exp.drift_alpha[-1] / exp.drift_eta[int(np.argmin(np.abs(exp.etas - exp.eta)))]
    shrink = exp.peak_m[0] / exp.peak_m[-1]
    return {
        "a3_n": exp.n_instances,
        "a3_lifted_err": _bound(c.lifted.max()), "a3_identity_err": _bound(c.identity.max()),
        "a3_inc_min": rounded(c.increment.min(), 2), "a3_inc_max": rounded(c.increment.max(), 2),
        "a3_c0": _ivtext(_iv(exp.c0)), "a3_alpha_max": float(exp.alphas[0]), "a3_alpha_min": float(exp.alphas[-1]),
        "a3_eta": exp.eta, "a3_ratio_max_alpha": _ivtext(_iv(exp.ratio[0]), 4),
        "a3_relchange_alpha_min": _ivtext(_iv(100 * np.abs(exp.ratio[-1] - 1)), 2),
        "a3_drift_ratio": _ivtext(_iv(d_ratio, log=True), 2),
        "a3_drift_small_vs_tiny": _ivtext(_iv(small_vs, log=True), 2),
        "a3_slope_alpha": _ivtext(_iv(exp.slope_alpha), 2),
        "a3_alpha_small": exp.alpha_small, "a3_slope": _ivtext(_iv(exp.slope_eta)),
        "a3_settle": f"{exp.settle.max():.0e}",
        "a3_drift_per_mu": _ivtext(_iv(exp.drift_eta[0] / exp.etas[0], log=True), 2),
        "a3_y2": _ivtext(_iv([float(p.y @ p.y) for p in exp.problems]), 3),
        "a3_final_coupling": rounded(exp.final_small.max(), 2),
        "a3_final_coupling_large": _ivtext(_iv([res.coupling[0, -1] / exp.sigma_r for res in exp.alpha_runs]), 2),
        "a3_control_growth": rounded(exp.control_growth.max(), 4),
        "a3_peak_path": _ivtext(_iv(peak_path), 2), "a3_peak_path_min": rounded(peak_path.min(), 2),
        "a3_peak_path_max": rounded(peak_path.max(), 2),
        "a3_peak_spread": _ivtext(_iv(spread, log=True), 3), "a3_mu_range": rounded(exp.etas.max() / exp.etas.min()),
        "a3_m_min": int(exp.ms[0]), "a3_m_max": int(exp.ms[-1]), "a3_alpha_m": exp.alpha_m,
        "a3_slope_m": _ivtext(_iv(exp.slope_m), 2), "a3_m_shrink": _ivtext(_iv(shrink, log=True), 2),
        "a3_m_shrink_pred": rounded(math.sqrt(exp.ms[-1] / exp.ms[0]), 2),
        "a3_end_m": rounded(exp.end_m.max(), 2), "a3_steps_m": int(exp.horizons["m"]),
        "a3_steps_slowest": int(max(exp.horizons["etas"])),
    }


#: Model tolerance of the fitted m slope around -1/2 (the O(delta^2) terms at the smallest m).
M_SLOPE_TOL = 0.15
#: Model tolerance of the fitted step-size slope around 1 (the O(mu^2) corrections).
ETA_SLOPE_TOL = 0.1


def claims(exp: Balancing) -> list[Claim]:
    """The chapter's claims (see the page's "Claims" section for the basis of each tolerance).

    Parameters
    ----------
    exp : Balancing

    Returns
    -------
    list of Claim
    """
    c = exp.verification
    a_max, a_min, a_small = float(exp.alphas[0]), float(exp.alphas[-1]), exp.alpha_small
    peak_path = exp.peak.max(axis=0)
    spread = exp.peak.max(axis=0) / exp.peak.min(axis=0)
    shrink = exp.peak_m[0] / exp.peak_m[-1]
    m0, m1 = int(exp.ms[0]), int(exp.ms[-1])
    return [
        at_most("a3.lifted", "max relative difference, engine step vs (I + mu D(M_t)) W_t",
                float(c.lifted.max()), 1e-12, basis="identity", tolerance="rounding (exact identity)"),
        at_most("a3.identity", "max discrepancy of Delta_{t+1} - Delta_t = mu^2 (gU'gU - gV'gV)",
                float(c.identity.max()), 1e-12, basis="identity",
                tolerance="rounding, relative to ||U||_F^2 + ||V||_F^2"),
        between("a3.conserved", f"||Delta_T|| / (alpha^2 ||U~'U~ - V~'V~||) at alpha = {a_max:g}, mu = {exp.eta:g}",
                _iv(exp.ratio[0]), 0.99, 1.01, basis="specification", form="value",
                tolerance="1% (drift of order mu against alpha^2), whole interval inside"),
        close("a3.drift-linear", f"log-log slope of ||Delta_T - Delta_0|| against mu at alpha = {a_small:g}",
              _iv(exp.slope_eta), 1.0, atol=ETA_SLOPE_TOL, basis="derived-on-page", form="scaling",
              tolerance=f"1 ± {ETA_SLOPE_TOL:g} (O(mu^2) corrections); excludes 2 (no 1/mu steps) and 0"),
        at_most("a3.coupling-end", f"final coupling / sigma_r, max over the runs with alpha <= {a_min:g}",
                _iv(exp.final_small), COUPLING_SPEC, basis="specification", tolerance="0.05 sigma_r"),
        at_most("a3.coupling-path", "peak coupling / sigma_r along the whole trajectory, Gaussian sensing "
                "(max over the mu sweep)", _iv(peak_path), COUPLING_SPEC, basis="specification",
                tolerance="0.05 sigma_r, whole interval inside",
                expected_failure="at m a few times r (n1 + n2), far below the RIP sample size of the theory, the "
                                 "iterate first aligns with A*(y), whose signal directions differ from X*'s by O(delta): "
                                 "a transient of the coupling of order delta, above 0.05 sigma_r"),
        at_most("a3.transient", "largest / smallest peak coupling over the mu sweep (Gaussian), per instance",
                _iv(spread, log=True), 1.1, basis="derived-on-page", form="paired-ratio",
                tolerance="10% (>= 1 by construction): a gradient-flow feature, up to O(mu sigma_1) discretization"),
        at_most("a3.coupling-control", "identity operator (control): max_t coupling / coupling at t = 0, mu sweep",
                _iv(exp.control_growth.max(axis=0)), 1.01, basis="derived-on-page", form="bound",
                tolerance="1%: without RIP error the '-' components contract"),
        close("a3.coupling-m-slope", f"log-log slope of the peak coupling against m, m = {m0} to {m1}",
              _iv(exp.slope_m), -0.5, atol=M_SLOPE_TOL, basis="derived-on-page", form="scaling",
              tolerance=f"-1/2 ± {M_SLOPE_TOL:g} (O(delta) with delta ~ sqrt(r (n1 + n2) / m); O(delta^2) terms)"),
        at_least("a3.coupling-m-shrinks", f"peak coupling at m = {m0} / at m = {m1}, per instance",
                 _iv(shrink, log=True), 1.0, basis="derived-on-page", form="paired-ratio",
                 tolerance="> 1, whole interval: the transient shrinks as m grows"),
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
    """Figure of the chapter (four panels), every instance drawn.

    (a) :math:`\\|\\Delta_t\\|/\\|\\Delta_0\\|` for the runs of the ``alpha`` sweep (one line per
    instance); (b) the drift :math:`\\|\\Delta_T-\\Delta_0\\|` against the step size, log-log, one
    point per instance and the geometric mean; (c) the coupling
    :math:`\\|U_\\star^\\top U_t-V_\\star^\\top V_t\\|/\\sigma_r` under Gaussian sensing against
    :math:`\\mu t`; (d) the same with the identity operator (no RIP error).

    Parameters
    ----------
    exp : Balancing

    Returns
    -------
    fig, axes (2 x 2)
    """
    if not isinstance(exp, Balancing):
        raise ValueError(f"exp must be a Balancing experiment, got {type(exp).__name__}")
    fig, axes = figure(ncols=2, nrows=2, width=10.0, height=7.0)
    ax = axes[0, 0]
    a2 = exp.alphas ** 2
    for i, a in enumerate(exp.alphas):
        for j, res in enumerate(exp.alpha_runs):
            ax.plot(res.t, res.imbalance_op[i] / (a2[i] * exp.c0[j]), color=f"C{i}", lw=1,
                    label=f"{param_label('alpha', float(a))}, {param_label('mu', exp.eta)}" if j == 0 else None)
    ax.set_xlabel("iteration t")
    ax.set_ylabel("‖Δ_t‖ / ‖Δ_0‖  (operator norm)")
    ax.set_title("(a) the imbalance is conserved (each instance)")
    ax.legend()
    ax = axes[0, 1]
    mus = exp.etas
    for j in range(exp.n_instances):
        ax.loglog(mus, exp.drift_eta[:, j], "o", color="C0", alpha=0.4, ms=4,
                  label="instances" if j == 0 else None)
    gm = np.exp(np.log(exp.drift_eta).mean(axis=1))
    ax.loglog(mus, gm, "k-", label=f"geometric mean; slope {_ivtext(_iv(exp.slope_eta), 3)}")
    value_ticks(ax.xaxis, mus)
    ax.set_xlabel("step size μ")
    ax.set_ylabel("drift ‖Δ_T − Δ_0‖")
    ax.set_title(f"(b) the drift is linear in μ ({param_label('alpha', exp.alpha_small)})")
    ax.legend()
    for ax, runs, title in ((axes[1, 0], exp.eta_runs, "(c) coupling, Gaussian sensing"),
                            (axes[1, 1], exp.control, "(d) coupling, identity operator (δ = 0), control")):
        for i, res in enumerate(runs):
            for j in range(res.batch_size):
                ax.semilogy(exp.etas[i] * res.t, np.maximum(res.coupling[j] / exp.sigma_r, 1e-12), color=f"C{i}",
                            lw=1, alpha=0.7, label=param_label("mu", float(exp.etas[i])) if j == 0 else None)
        ax.axhline(COUPLING_SPEC, color="k", ls="--", lw=1, label="0.05")
        ax.set_xlabel("μ t")
        ax.set_ylabel("‖U*ᵀU_t − V*ᵀV_t‖ / σ_r")
        ax.set_title(title)
    axes[1, 0].legend(fontsize=7, ncols=2)
    return fig, axes


def plot_m_sweep(exp: Balancing):
    """Figure of the ``ms`` sweep: the coupling transient for each ``m``, and its peak against ``m``.

    Parameters
    ----------
    exp : Balancing

    Returns
    -------
    fig, axes (1 x 2)
    """
    if not isinstance(exp, Balancing):
        raise ValueError(f"exp must be a Balancing experiment, got {type(exp).__name__}")
    fig, axes = figure(ncols=2, width=10.0, height=3.8)
    ax = axes[0]
    mu = float(exp.etas.max())
    for i, mm in enumerate(exp.ms):
        for j in range(exp.n_instances):
            ax.semilogy(mu * exp.m_t, np.maximum(exp.m_coupling[i, j], 1e-12), color=f"C{i}", lw=1, alpha=0.7,
                        label=f"m = {mm}" if j == 0 else None)
    ax.axhline(COUPLING_SPEC, color="k", ls="--", lw=1, label="0.05")
    ax.set_xlabel("μ t")
    ax.set_ylabel("‖U*ᵀU_t − V*ᵀV_t‖ / σ_r")
    ax.set_title(f"(a) the transient, {param_label('alpha', exp.alpha_m)}, {param_label('mu', mu)}")
    ax.legend(fontsize=7)
    ax = axes[1]
    for j in range(exp.n_instances):
        ax.loglog(exp.ms, exp.peak_m[:, j], "o-", color="C0", alpha=0.35, ms=4, lw=0.8,
                  label="instances" if j == 0 else None)
    gm = np.exp(np.log(exp.peak_m).mean(axis=1))
    ax.loglog(exp.ms, gm, "ks-", label=f"geometric mean; slope {_ivtext(_iv(exp.slope_m), 2)}")
    ax.loglog(exp.ms, gm[0] * (exp.ms / exp.ms[0]) ** -0.5, "k:", label="slope −1/2")
    value_ticks(ax.xaxis, exp.ms)
    ax.set_xlabel("number of measurements m")
    ax.set_ylabel("peak coupling / σ_r")
    ax.set_title("(b) the transient shrinks like m^(-1/2)")
    ax.legend(fontsize=7)
    return fig, axes
