"""Chapter ``x6_trigger``: when to fire the one-step rebalancing (a reviewer's question on paper B).

Paper B changes one gradient step once the iterate is close enough to the optimum; afterwards the
rate no longer depends on :math:`\\alpha`. Chapter ``b4_one_step`` fires our reconstruction of the
step (:func:`opsense.rebalance`) when the relative residual
:math:`\\|\\mathcal A(FG^\\top)-y\\|/\\|y\\|` first falls below :math:`\\epsilon`. A reviewer asked how
the neighbourhood condition is checked in practice, since the target is unknown. Over ``instances``
independent instances (target, operator and initialization re-drawn) the chapter measures:

* the **residual trigger** at every :math:`\\epsilon` of ``epsilons``: total iterations to a relative
  error ``target`` and the post-step rate (:func:`run`, :func:`sweep_summary`);
* two **loss-slope triggers** computed from the training loss alone (:func:`flat_trigger`,
  :func:`rate_trigger`): where they fire (the true relative error then) and their total iterations
  against the best :math:`\\epsilon` of the sweep (paired ratio);
* the **cost of firing early and late**: the waste of a late step against the one derived from the
  vanilla rate, and whether a step taken before the top-:math:`r` signal is learned still converges
  (:func:`plot_cost`).

Vanilla gradient descent is run once per instance, in chunks of ``CHECK`` iterations (every trigger
is checked at these times, from the recorded loss and residual); the factors at every check are
kept, so each trigger's step starts from the exact vanilla iterate at its firing time, and every
post-step run of every instance advances in one batch of :func:`opsense.run_gd`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..analysis import fit_line, late_rate, signal_time
from ..claims import Claim, at_least, at_most, between, close
from ..config import Cost, gd_cost, parameter_check, regime
from ..engine.factors import initial_factors, rebalance
from ..engine.gd import run_gd
from ..engine.problems import instance_seeds, make_problem
from ..plotting import figure
from ..stats import instance_interval_or_nan as _iv

__all__ = ["PRESETS", "CHECK", "check", "cost", "horizons", "problems", "flat_trigger", "rate_trigger",
           "Vanilla", "run_vanilla", "Triggers", "Runs", "run", "sweep_summary", "trigger_summary",
           "waste_summary", "early_converged", "glue_values", "claims", "plot_cost", "plot_trajectories", "evaluate"]

#: Parameter sets: ``book`` (n 20, about 15 s on an idle core) and ``paper`` (n 50, r 3, paper B's size).
#: ``iters`` caps the vanilla run (it stops as soon as every instance is past the smallest epsilon and both
#: loss triggers have fired); ``iters_post`` is the horizon of every post-step run.
PRESETS = {
    "book": dict(n=20, r=2, k=4, m=600, kappa=2.0, alpha=0.3, eta=0.1,
                 epsilons=[0.9, 0.5, 0.1, 0.03, 0.01, 3e-3, 1e-3], target=1e-6,
                 theta=0.15, rate_factor=2.0, patience=50, instances=5, iters=6330, iters_post=1660, seed=0),
    "paper": dict(n=50, r=3, k=5, m=1500, kappa=2.0, alpha=0.3, eta=0.1,
                  epsilons=[0.9, 0.5, 0.1, 0.03, 0.01, 3e-3, 1e-3], target=1e-6,
                  theta=0.15, rate_factor=2.0, patience=50, instances=5, iters=6400, iters_post=1660, seed=0),
}

#: Every trigger is checked every CHECK iterations (the vanilla run advances in chunks of CHECK).
CHECK = 10
#: Fits ignore squared relative errors below this (the float64 floor is about 1e-30).
FLOOR = 1e-24
#: Lowest constant c of the vanilla rate c eta alpha^2 of the squared error the horizon allows
#: (b4 measures 0.5 to 1; 0.37 is the lowest seen on the book's instances; 0.25 leaves margin).
C_VANILLA_LO = 0.25
#: Post-step horizon: this many times the time the lower estimate eta sigma_r^2 / sigma_1 of the post-step
#: rate of the squared error needs from relative error 1 down to ``target``.
POST_MARGIN = 1.5
#: Epsilons at or below this fire in the slow phase on every instance we ran (the residual there is of
#: order alpha^2 / 10 at alpha 0.3, a few 1e-2 and less); the late slope is fitted on them.
LATE_EPS = 1e-2
#: The step counts as taken "after the top-r signal is learned" when each of the r leading singular
#: values of X_t is within this relative distance of the target's.
SIGNAL_RTOL = 0.1
#: Paired-ratio tolerance of the post-step rate between late epsilons: the step's rate is fixed by the
#: target (eta sigma_r^2 / sigma_1); what remains of the residual at the step changes it by O(epsilon).
TOL_POST = 0.1
#: Tolerance of the late-waste slope against the one derived from the measured vanilla and post-step
#: rates: the vanilla rate is not constant over the slow phase (k - r slow modes of different imbalance).
TOL_WASTE = 0.2
#: A data trigger is "as good as the best epsilon" when its paired total ratio is at most this (specification).
GOOD_RATIO = 1.25
#: An early step (before the signal is learned) "still converges" when its post-step run gains this many decades of
#: relative error within ``iters_post`` (specification). Reaching ``target`` is not asked of it: the horizon is derived
#: from the lower post-step rate ``eta sigma_r^2 / sigma_1`` of a step taken near the optimum, and a step taken from a
#: product of norm about 0.2 runs slower than that (about half of it on some instances).
EARLY_DECADES = 3.0
#: Limits on sizes and running time.
MAX_ENTRIES, MAX_WORK, MAX_EPS = 20_000_000, 5e12, 12
MIN_INSTANCES, MAX_INSTANCES = 5, 50
#: The regime of the claims (check warns outside it).
#: gain_max: kappa^2 alpha^2 at most this (at kappa 3, alpha 0.3 the step gains almost nothing, the long saddle
#: between sigma_1 and sigma_2 fools both loss triggers and the best epsilon is the earliest: measured).
REGIME = dict(oversampling=5.0, kappa_max=4.0, alpha_min=0.1, alpha_max=0.4, eta_max=0.1, gain_max=0.4)


# ----------------------------------------------------------------------------- horizons and checks
def _post_rate_lo(P) -> float:
    """Lower estimate of the post-step rate of the squared error, eta sigma_r^2 / sigma_1 = eta / kappa^2."""
    return float(P.eta) / float(P.kappa) ** 2


def horizons(P) -> dict:
    """The horizons derived from the predicted rates, and those the parameters give.

    Vanilla: the signal phase (:func:`opsense.signal_time`) plus the time the slow phase needs at the
    lower rate ``C_VANILLA_LO eta alpha^2`` of the squared error to bring the residual from 1 down to
    ``min(epsilons)`` (``2 ln(1 / min eps) / (C_VANILLA_LO eta alpha^2)``). Post-step:
    ``POST_MARGIN 2 ln(1 / target) kappa^2 / eta`` (the lower estimate ``eta sigma_r^2 / sigma_1`` of
    the post-step rate, from relative error 1 down to ``target``).

    Parameters
    ----------
    P : Parameters
        Uses ``n, kappa, alpha, eta, epsilons, target, iters, iters_post``.

    Returns
    -------
    dict
        ``"vanilla"``, ``"post"``: int (the parameters, multiples of ``CHECK``); ``"need"``: the derived
        horizons (floats).
    """
    a, eta = float(P.alpha), float(P.eta)
    van = (signal_time(a, eta=eta, kappa=float(P.kappa), n=int(P.n))
           + 2 * np.log(1 / min(float(e) for e in P.epsilons)) / (C_VANILLA_LO * eta * a * a))
    post = POST_MARGIN * 2 * np.log(1 / float(P.target)) / _post_rate_lo(P)
    up = lambda x: int(np.ceil(x / CHECK)) * CHECK  # noqa: E731
    return {"vanilla": up(int(P.iters)), "post": up(int(P.iters_post)), "need": {"vanilla": van, "post": post}}


@parameter_check
def check(P) -> None:
    """Refuse infeasible parameters, naming the parameter; warn outside the regime.

    **Regime** (where the claims are stated; outside it the run goes ahead with an
    :class:`opsense.config.OutsideRegimeWarning`): ``m >= 5 r (n1 + n2)``, ``kappa <= 4``,
    ``0.1 <= alpha <= 0.4`` (small initialization with a slow phase long enough to see and short enough
    to run), ``kappa^2 alpha^2 <= 0.4`` (the step gains at least a factor 2.5), ``eta <= 0.1``
    (``sigma_1 = 1``), at least 5 instances.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (``n, r, k, m, kappa, alpha, eta, epsilons, target, theta,
        rate_factor, patience, instances, iters, iters_post, seed``).

    Raises
    ------
    ValueError
        For the first infeasible value: ``"parameter <name> must ..."``.
    """
    n = v.integer("n", P.n, minimum=2)
    r = v.integer("r", P.r, minimum=1, maximum=n - 1)
    k = v.integer("k", P.k, minimum=1)
    if not r < k <= n:
        raise ValueError(f"parameter k must satisfy r < k <= n (over-parameterized, r={r}, n={n}), got {k}")
    m = v.integer("m", P.m, minimum=1)
    v.sampled(m, r=r, n1=n, n2=n)
    if m * n * n > MAX_ENTRIES:
        raise ValueError(f"parameter m must keep m * n^2 <= {MAX_ENTRIES:,} (the operators' memory), got {m}")
    kappa = v.real("kappa", P.kappa, positive=True)
    if kappa < 1:
        raise ValueError(f"parameter kappa must be a condition number >= 1, got {kappa}")
    alpha = v.real("alpha", P.alpha, positive=True)
    if alpha > 1:
        raise ValueError(f"parameter alpha must be <= 1 (a small initialization), got {alpha}")
    eta = v.real("eta", P.eta, positive=True)
    if eta > 0.2:
        raise ValueError(f"parameter eta must be <= 0.2 (stability, sigma_1(X*) = 1), got {eta}")
    if isinstance(P.epsilons, (str, bytes)) or np.ndim(P.epsilons) != 1:
        raise ValueError(f"parameter epsilons must be a list of trigger levels in (0, 1), got {P.epsilons!r}")
    eps = [float(e) for e in P.epsilons]
    if (not 4 <= len(eps) <= MAX_EPS or len(set(eps)) != len(eps) or any(not 0 < e < 1 for e in eps)
            or eps != sorted(eps, reverse=True)):
        raise ValueError(f"parameter epsilons must hold 4 to {MAX_EPS} distinct decreasing levels in (0, 1), "
                         f"got {eps}")
    if sum(e <= LATE_EPS for e in eps) < 3 or sum(e > LATE_EPS for e in eps) < 2:
        raise ValueError(f"parameter epsilons must hold at least 3 levels <= {LATE_EPS:g} (the late slope is fitted "
                         f"on them) and 2 above it (the early side of the cost curve), got {eps}")
    target = v.real("target", P.target, positive=True)
    if not target < min(eps):
        raise ValueError(f"parameter target must be below every epsilon (the final accuracy is reached after "
                         f"the step), got {target} >= {min(eps)}")
    if target < 1e-12:
        raise ValueError(f"parameter target must be >= 1e-12 (above the float64 floor of the relative error), "
                         f"got {target}")
    theta = v.real("theta", P.theta, positive=True)
    if not theta < 1:
        raise ValueError(f"parameter theta must be in (0, 1) (a fraction of the peak log-slope), got {theta}")
    c = v.real("rate_factor", P.rate_factor, positive=True)
    if not c >= 1:
        raise ValueError(f"parameter rate_factor must be >= 1 (a multiple of the vanilla rate eta alpha^2), got {c}")
    patience = v.integer("patience", P.patience, minimum=CHECK)
    if patience % CHECK:
        raise ValueError(f"parameter patience must be a multiple of CHECK = {CHECK} (triggers are checked every "
                         f"{CHECK} iterations), got {patience}")
    v.integer("instances", P.instances, minimum=MIN_INSTANCES, maximum=MAX_INSTANCES)
    v.integer("seed", P.seed, minimum=0)
    need = horizons(P)["need"]
    v.at_least("iters", v.integer("iters", P.iters, minimum=1), int(np.ceil(need["vanilla"])),
               "the vanilla horizon derived from the lower vanilla rate C_VANILLA_LO eta alpha^2")
    v.at_least("iters_post", v.integer("iters_post", P.iters_post, minimum=1), int(np.ceil(need["post"])),
               "the post-step horizon derived from the lower post-step rate eta sigma_r^2 / sigma_1")
    work = cost(P).work
    if work > MAX_WORK:
        raise ValueError(f"parameter iters must keep the estimated work <= {MAX_WORK:.0e} (running time), "
                         f"got {work:.3g}")
    G = REGIME
    regime("x6_trigger", [
        (m >= G["oversampling"] * r * 2 * n, f"m >= {G['oversampling']:g} r (n1 + n2) = "
                                             f"{G['oversampling'] * r * 2 * n:.0f} (m = {m})"),
        (kappa <= G["kappa_max"], f"kappa <= {G['kappa_max']:g} (kappa = {kappa:g})"),
        (G["alpha_min"] <= alpha <= G["alpha_max"],
         f"{G['alpha_min']:g} <= alpha <= {G['alpha_max']:g} (alpha = {alpha:g})"),
        (eta <= G["eta_max"], f"eta <= {G['eta_max']:g} (eta = {eta:g}, sigma_1 = 1)"),
        (kappa ** 2 * alpha ** 2 <= G["gain_max"],
         f"kappa^2 alpha^2 <= {G['gain_max']:g} (the post-step rate eta / kappa^2 at least 2.5 times the vanilla "
         f"law eta alpha^2; got {kappa ** 2 * alpha ** 2:.3g})"),
    ])


def _points(P) -> int:
    """Firing points per instance: every epsilon and the two loss triggers."""
    return len(P.epsilons) + 2


def cost(P) -> Cost:
    """What the chapter's runs cost, from the parameters alone (an upper bound: the vanilla run may stop early).

    ``work``: the vanilla batch of ``instances`` runs for at most ``iters`` steps, and one post-step batch of
    ``instances (len(epsilons) + 2)`` runs for ``iters_post`` steps, each step ``n^2 (2 m + 3 k)``.
    ``memory_bytes``: the operators (``m n^2`` each), the factors kept at every check of the vanilla run, and
    the curves.

    Parameters
    ----------
    P : Parameters

    Returns
    -------
    Cost
    """
    n, r, k, m, I = int(P.n), int(P.r), int(P.k), int(P.m), int(P.instances)
    g = dict(m=m, n1=n, n2=n, k=k, r=r, every=CHECK)
    h = horizons(P)
    w1, b1 = gd_cost(I, h["vanilla"], **g)
    w2, b2 = gd_cost(I * _points(P), h["post"], **g)
    factors = 8.0 * I * (h["vanilla"] // CHECK + 1) * 2 * n * k
    return Cost(memory_bytes=8.0 * I * m * n * n + factors + b1 + b2, work=w1 + w2,
                drivers=("iters", "iters_post", "instances", "epsilons", "m", "n"))


def problems(P) -> list:
    """The ``instances`` sensing problems (target, operator re-drawn per instance seed).

    Parameters
    ----------
    P : Parameters

    Returns
    -------
    list of Problem
    """
    return [make_problem(P.n, P.n, P.r, P.m, kappa=P.kappa, seed=s) for s in instance_seeds(P.seed, P.instances)]


# ----------------------------------------------------------------------------- the triggers
def _slopes(loss) -> np.ndarray:
    """Per-iteration decrease of ln(loss) over each check interval: ``g[j] = ln(L[j-1] / L[j]) / CHECK``.

    ``g[0]`` is NaN (no interval before the start).
    """
    L = np.asarray(loss, dtype=float)
    g = np.full(L.shape, np.nan)
    g[1:] = np.log(L[:-1] / L[1:]) / CHECK
    return g


def _first_run(ok, count: int) -> int:
    """First index ``j`` at which ``ok[j - count + 1 .. j]`` are all True; -1 if none."""
    streak = 0
    for j, x in enumerate(ok):
        streak = streak + 1 if x else 0
        if streak >= count:
            return j
    return -1


def flat_trigger(loss, *, theta: float, patience: int) -> int:
    """The loss-flattening trigger: the first check at which the log-slope has stayed flat for ``patience``.

    With :math:`g_j=\\ln(L_{j-1}/L_j)/\\mathrm{CHECK}` the per-iteration decrease of the log loss over the
    last check interval and :math:`G_j=\\max_{i\\le j}g_i` its running peak (the signal-phase rate), fire at
    the first check :math:`j` such that :math:`G_i>0` and :math:`g_i\\le\\theta G_i` for the last
    ``patience / CHECK`` checks. Needs the loss only.

    Parameters
    ----------
    loss : array_like of shape (J,)
        The training loss at the checks ``0, CHECK, 2 CHECK, ...``.
    theta : float in (0, 1), keyword-only
        Fraction of the peak log-slope.
    patience : int, keyword-only
        Iterations (a multiple of ``CHECK``) the condition must hold.

    Returns
    -------
    int
        The index of the check at which it fires, -1 if it never does.
    """
    g = _slopes(loss)
    G = np.fmax.accumulate(np.where(np.isfinite(g), g, -np.inf))
    ok = np.isfinite(g) & (G > 0) & (g <= theta * G)
    return _first_run(ok, int(patience) // CHECK)


def rate_trigger(loss, *, rate: float, factor: float, patience: int) -> int:
    """The rate-matched trigger: the log-slope has fallen to ``factor`` times the predicted vanilla rate.

    Fire at the first check :math:`j` such that :math:`G_j\\ge 2\\,\\mathrm{factor}\\cdot\\mathrm{rate}` (the
    fast signal phase has been seen) and :math:`g_i\\le\\mathrm{factor}\\cdot\\mathrm{rate}` for the last
    ``patience / CHECK`` checks (notation of :func:`flat_trigger`). With ``rate`` :math:`=\\eta\\alpha^2` it
    needs the loss, the step size and the initialization scale (both chosen by the user) and the law
    :math:`\\propto\\eta\\alpha^2` of the vanilla rate.

    Parameters
    ----------
    loss : array_like of shape (J,)
    rate : float > 0, keyword-only
        The predicted vanilla rate of the loss, :math:`\\eta\\alpha^2`.
    factor : float >= 1, keyword-only
    patience : int, keyword-only

    Returns
    -------
    int
        Index of the firing check, -1 if never.
    """
    g = _slopes(loss)
    G = np.fmax.accumulate(np.where(np.isfinite(g), g, -np.inf))
    lvl = factor * rate
    ok = np.isfinite(g) & (G >= 2 * lvl) & (g <= lvl)
    return _first_run(ok, int(patience) // CHECK)


# ----------------------------------------------------------------------------- vanilla run
@dataclass(frozen=True)
class Vanilla:
    """The vanilla runs of every instance at the checks ``t = 0, CHECK, ...``.

    Attributes
    ----------
    t : ndarray of int, shape (J,)
    rel_error, residual, loss : ndarray of shape (I, J)
    signal : ndarray of shape (I, J)
        Largest :math:`|s_i(X_t)/\\sigma_i-1|` over the ``r`` leading singular values.
    U, V : ndarray of shape (J, I, n, k)
        The factors at every check.
    """

    t: np.ndarray
    rel_error: np.ndarray
    residual: np.ndarray
    loss: np.ndarray
    signal: np.ndarray
    U: np.ndarray
    V: np.ndarray


def _fire_indices(P, van_loss, van_res) -> np.ndarray:
    """Check index of every firing point (the epsilons, then the flat and the rate trigger) per instance."""
    I = van_loss.shape[0]
    out = np.full((I, _points(P)), -1, dtype=int)
    for i in range(I):
        for e, eps in enumerate(P.epsilons):
            hit = np.flatnonzero(van_res[i] <= float(eps))
            out[i, e] = int(hit[0]) if hit.size else -1
        out[i, -2] = flat_trigger(van_loss[i], theta=float(P.theta), patience=int(P.patience))
        out[i, -1] = rate_trigger(van_loss[i], rate=float(P.eta) * float(P.alpha) ** 2,
                                  factor=float(P.rate_factor), patience=int(P.patience))
    return out


def run_vanilla(P, probs: list) -> Vanilla:
    """Vanilla gradient descent on every instance, in chunks of ``CHECK`` iterations, factors kept.

    Stops at the first check at which every instance is past every firing point (the smallest epsilon and
    both loss triggers), or at the horizon ``iters``.

    Parameters
    ----------
    P : Parameters
    probs : list of Problem
        From :func:`problems`.

    Returns
    -------
    Vanilla
    """
    seeds = instance_seeds(P.seed, P.instances)
    T = horizons(P)["vanilla"]
    res = run_gd(probs, k=P.k, alpha=P.alpha, eta=P.eta, iters=CHECK, init="imbalanced", seed=seeds,
                 record_every=CHECK)
    sig = np.stack([p.target.sigma for p in probs])
    cols = {"t": [0, CHECK], "rel": [res.rel_error[:, 0], res.rel_error[:, 1]],
            "res": [res.residual[:, 0], res.residual[:, 1]], "loss": [res.loss[:, 0], res.loss[:, 1]],
            "sig": [np.max(np.abs(res.singular_values[:, j, :P.r] / sig - 1), axis=1) for j in (0, 1)]}
    U0 = np.stack([initial_factors(P.n, P.n, P.k, P.alpha, init="imbalanced", seed=s)[0] for s in seeds])
    V0 = np.stack([initial_factors(P.n, P.n, P.k, P.alpha, init="imbalanced", seed=s)[1] for s in seeds])
    Us, Vs = [U0, res.U.copy()], [V0, res.V.copy()]
    t = CHECK
    while t < T:
        res = run_gd(probs, init=(res.U, res.V), eta=P.eta, iters=CHECK, record_every=CHECK)
        t += CHECK
        cols["t"].append(t)
        cols["rel"].append(res.rel_error[:, -1])
        cols["res"].append(res.residual[:, -1])
        cols["loss"].append(res.loss[:, -1])
        cols["sig"].append(np.max(np.abs(res.singular_values[:, -1, :P.r] / sig - 1), axis=1))
        Us.append(res.U.copy())
        Vs.append(res.V.copy())
        if t % (10 * CHECK) == 0:
            fire = _fire_indices(P, np.array(cols["loss"]).T, np.array(cols["res"]).T)
            if np.all(fire >= 0):
                break
    return Vanilla(np.array(cols["t"]), np.array(cols["rel"]).T, np.array(cols["res"]).T, np.array(cols["loss"]).T,
                   np.array(cols["sig"]).T, np.array(Us), np.array(Vs))


# ----------------------------------------------------------------------------- the post-step runs
@dataclass(frozen=True)
class Triggers:
    """Where each firing point fired and what followed, per instance.

    Rows of every ``(I, Q)`` array are instances; columns the firing points: one per epsilon (in the order
    of ``epsilons``), then ``"flat"`` and ``"rate"`` (see ``labels``).

    Attributes
    ----------
    labels : tuple of str
    fire_t : ndarray of int, shape (I, Q)
        Firing iteration (-1: never fired within the vanilla horizon).
    fire_error : ndarray (I, Q)
        True relative error :math:`\\|X_t-X^\\star\\|_F/\\|X^\\star\\|_F` at firing.
    fire_signal : ndarray (I, Q)
        Largest relative distance of the ``r`` leading singular values to the target's at firing.
    beta : ndarray (I, Q)
        :math:`\\beta=\\|FG^\\top\\|_{op}` at the step (``sigma_1`` of the target when well timed).
    post_hit : ndarray (I, Q)
        Iterations after the step until the relative error is ``<= target`` (NaN: not within ``iters_post``).
    total : ndarray (I, Q)
        ``fire_t + post_hit``.
    post_rate : ndarray (I, Q)
        Late rate of the squared relative error after the step (second half of the post-step run above
        the floor).
    """

    labels: tuple
    fire_t: np.ndarray
    fire_error: np.ndarray
    fire_signal: np.ndarray
    beta: np.ndarray
    post_hit: np.ndarray
    total: np.ndarray
    post_rate: np.ndarray


@dataclass(frozen=True)
class Runs:
    """Everything the chapter measures.

    Attributes
    ----------
    vanilla : Vanilla
    triggers : Triggers
    post_t : ndarray (T,)
        Recorded iterations of the post-step runs (from the step).
    post_error : ndarray (I, Q, T)
        Relative error of every post-step run.
    epsilons : ndarray (E,)
    sigma_r2_over_1 : ndarray (I,)
        :math:`\\sigma_r^2/\\sigma_1` of each target.
    vanilla_rate : ndarray (I,)
        Rate of the squared error of the vanilla run between the firing times of ``LATE_EPS`` and of the
        smallest epsilon (the slow phase).
    alpha, eta, target : float
    """

    vanilla: Vanilla
    triggers: Triggers
    post_t: np.ndarray
    post_error: np.ndarray
    epsilons: np.ndarray
    sigma_r2_over_1: np.ndarray
    vanilla_rate: np.ndarray
    alpha: float
    eta: float
    target: float

    @property
    def instances(self) -> int:
        """Number of instances."""
        return int(self.triggers.total.shape[0])

    @property
    def late(self) -> np.ndarray:
        """Indices of the epsilons ``<= LATE_EPS`` (the slow phase)."""
        return np.flatnonzero(self.epsilons <= LATE_EPS)

    @property
    def best(self) -> int:
        """Index of the epsilon with the smallest geometric-mean total over the instances."""
        E = self.epsilons.size
        tot = self.triggers.total[:, :E]
        score = [np.exp(np.mean(np.log(c))) if np.all(np.isfinite(c)) else np.inf for c in tot.T]
        return int(np.argmin(score))


def _post_rate(t, err) -> float:
    err2 = np.asarray(err, dtype=float) ** 2
    if np.count_nonzero(err2 > FLOOR) < 4:
        return float("nan")
    try:
        return float(late_rate(t, err2, start=0.0, floor=FLOOR).estimate)
    except ValueError:
        return float("nan")


def run(P) -> Runs:
    """Run vanilla GD once per instance, fire every trigger on it, and run every post-step continuation.

    Parameters
    ----------
    P : Parameters
        Checked by :func:`check`.

    Returns
    -------
    Runs
    """
    probs = problems(P)
    van = run_vanilla(P, probs)
    fire = _fire_indices(P, van.loss, van.residual)
    I, Q = fire.shape
    labels = tuple(f"eps={float(e):g}" for e in P.epsilons) + ("flat", "rate")
    ok = fire >= 0
    j = np.where(ok, fire, 0)
    ii = np.arange(I)[:, None]
    U = van.U[j, ii]   # (I, Q, n, k)
    V = van.V[j, ii]
    starts_U, starts_V, beta = [], [], np.full((I, Q), np.nan)
    for i in range(I):
        for q in range(Q):
            u, w = rebalance(U[i, q], V[i, q])
            starts_U.append(u)
            starts_V.append(w)
            beta[i, q] = np.linalg.norm(U[i, q] @ V[i, q].T, 2) if ok[i, q] else np.nan
    post = run_gd([p for p in probs for _ in range(Q)], init=(np.array(starts_U), np.array(starts_V)), eta=P.eta,
                  iters=horizons(P)["post"], record_every=CHECK)
    err = post.rel_error.reshape(I, Q, -1)
    hit = np.full((I, Q), np.nan)
    rate = np.full((I, Q), np.nan)
    for i in range(I):
        for q in range(Q):
            if not ok[i, q]:
                continue
            h = np.flatnonzero(err[i, q] <= float(P.target))
            hit[i, q] = float(post.t[h[0]]) if h.size else np.nan
            rate[i, q] = _post_rate(post.t, err[i, q])
    t_fire = np.where(ok, van.t[j], -1)
    tr = Triggers(labels, t_fire, np.where(ok, van.rel_error[ii, j], np.nan), np.where(ok, van.signal[ii, j], np.nan),
                  beta, hit, np.where(ok, t_fire + hit, np.nan), rate)
    eps = np.array([float(e) for e in P.epsilons])
    late = np.flatnonzero(eps <= LATE_EPS)
    vrate = np.full(I, np.nan)
    for i in range(I):
        a, b = fire[i, late[0]], fire[i, late[-1]]
        if a >= 0 and b > a:
            seg = slice(a, b + 1)
            vrate[i] = -fit_line(van.t[seg].astype(float), np.log(van.rel_error[i, seg] ** 2)).estimate
    s = np.array([p.target.sigma for p in probs])
    return Runs(van, tr, post.t, err, eps, s[:, -1] ** 2 / s[:, 0], vrate, float(P.alpha), float(P.eta),
                float(P.target))


# ----------------------------------------------------------------------------- measurements


def _waste_slopes(runs: Runs):
    """Measured and predicted slope of the total against ln(1 / epsilon) over the late epsilons, per instance.

    Predicted: ``2 / rho_van - 2 / rho_post`` (rates of the squared error; the residual tracks the error in the
    slow phase, so one e-fold of epsilon costs ``2 / rho_van`` vanilla and saves ``2 / rho_post`` post-step
    iterations). ``rho_post`` is the mean post-step rate over the late epsilons.
    """
    late = runs.late
    x = np.log(1 / runs.epsilons[late])
    meas = np.array([fit_line(x, runs.triggers.total[i, late]).estimate
                     if np.all(np.isfinite(runs.triggers.total[i, late])) else np.nan for i in range(runs.instances)])
    rho_post = np.nanmean(runs.triggers.post_rate[:, late], axis=1)
    pred = 2 / runs.vanilla_rate - 2 / rho_post
    return meas, pred, rho_post


def _paired(runs: Runs) -> dict:
    """The paired per-instance ratios the claims test."""
    tr, E, b = runs.triggers, runs.epsilons.size, runs.best
    tot = tr.total
    late = runs.late
    meas, pred, _ = _waste_slopes(runs)
    return {
        "flat_vs_best": tot[:, E] / tot[:, b], "rate_vs_best": tot[:, E + 1] / tot[:, b],
        "earliest_vs_best": tot[:, 0] / tot[:, b], "latest_vs_best": tot[:, E - 1] / tot[:, b],
        "post_late_vs_first_late": tr.post_rate[:, late[-1]] / tr.post_rate[:, late[0]],
        "post_earliest_vs_best": tr.post_rate[:, 0] / tr.post_rate[:, b],
        "early_vs_vanilla": tr.post_rate[:, 0] / runs.vanilla_rate,
        "waste": meas / pred,
        "post_vs_prediction": tr.post_rate[:, b] / (runs.eta * runs.sigma_r2_over_1),
        "vanilla_vs_eta_alpha2": runs.vanilla_rate / (runs.eta * runs.alpha ** 2),
    }


def sweep_summary(runs: Runs) -> str:
    """Per firing point: firing time, true error at firing, total iterations and post-step rate (rounded).

    Parameters
    ----------
    runs : Runs
    """
    tr = runs.triggers
    lines = [f"{runs.instances} instances; target relative error {runs.target:g}; geometric means [range]:",
             "trigger        fires at t        rel. error at firing     signal err   total iterations"
             "      post-step rate"]
    for q, lab in enumerate(tr.labels):
        ft, fe, tot, pr = tr.fire_t[:, q], tr.fire_error[:, q], tr.total[:, q], tr.post_rate[:, q]
        lines.append(f"{lab:<12} {np.mean(ft):7.0f} [{ft.min()}-{ft.max()}]   {_gm(fe):.2e} "
                     f"[{np.nanmin(fe):.1e}, {np.nanmax(fe):.1e}]   {np.nanmax(tr.fire_signal[:, q]):.2f}      "
                     f"{_gm(tot):7.0f} [{np.nanmin(tot):.0f}-{np.nanmax(tot):.0f}]"
                     f"       {_gm(pr):.4f} [{np.nanmin(pr):.4f}, {np.nanmax(pr):.4f}]"
                     + ("   <- best epsilon" if q == runs.best else ""))
    lines.append(f"vanilla rate (slow phase) / (eta alpha^2): {_iv(_paired(runs)['vanilla_vs_eta_alpha2'])}; "
                 f"best post-step rate / (eta sigma_r^2 / sigma_1): {_iv(_paired(runs)['post_vs_prediction'])}")
    return "\n".join(lines)


def _gm(x) -> float:
    x = np.asarray(x, dtype=float)
    return float(np.exp(np.mean(np.log(x)))) if np.all(np.isfinite(x)) and np.all(x > 0) else float("nan")


def trigger_summary(runs: Runs) -> str:
    """The loss triggers against the best epsilon (paired ratios, instance intervals), as text.

    Parameters
    ----------
    runs : Runs
    """
    p, tr, E = _paired(runs), runs.triggers, runs.epsilons.size
    return "\n".join([
        f"best epsilon of the sweep: {runs.epsilons[runs.best]:g}",
        f"flat trigger: rel. error at firing {_iv(tr.fire_error[:, E], log=True)}; total / best "
        f"{_iv(p['flat_vs_best'], log=True)}",
        f"rate trigger: rel. error at firing {_iv(tr.fire_error[:, E + 1], log=True)}; total / best "
        f"{_iv(p['rate_vs_best'], log=True)}",
    ])


def waste_summary(runs: Runs) -> str:
    """The cost of firing late (slope against the derived one) and early (post-step rate, total), as text.

    Parameters
    ----------
    runs : Runs
    """
    meas, pred, _ = _waste_slopes(runs)
    p = _paired(runs)
    return "\n".join([
        f"late: extra iterations per e-fold of epsilon (<= {LATE_EPS:g}) measured {_iv(meas)}, derived "
        f"2/rho_van - 2/rho_post {_iv(pred)}; paired ratio {_iv(p['waste'], log=True)}",
        f"early (epsilon {runs.epsilons[0]:g}): total / best {_iv(p['earliest_vs_best'], log=True)}; post-step rate "
        f"/ best's {_iv(p['post_earliest_vs_best'], log=True)}; reached the target on "
        f"{int(np.sum(np.isfinite(runs.triggers.post_hit[:, 0])))} of {runs.instances} instances",
        f"latest (epsilon {runs.epsilons[-1]:g}): total / best {_iv(p['latest_vs_best'], log=True)}",
    ])


def early_converged(runs: Runs) -> int:
    """Instances whose post-step run from the earliest epsilon ends ``EARLY_DECADES`` decades of relative error below
    where it started.

    Parameters
    ----------
    runs : Runs
    """
    e = runs.post_error[:, 0, :]
    with np.errstate(all="ignore"):
        gained = np.log10(e[:, 0]) - np.log10(e[:, -1])   # NaN or -inf for a diverged run
    return int(np.sum(np.isfinite(gained) & (gained >= EARLY_DECADES)))


def glue_values(runs: Runs) -> dict:
    """The numbers the prose quotes, by glue name (rounded as the prose shows them).

    Parameters
    ----------
    runs : Runs

    Returns
    -------
    dict
    """
    g = lambda x, d=3: float(f"{x:.{d}g}")  # noqa: E731
    p, tr, E = _paired(runs), runs.triggers, runs.epsilons.size
    meas, pred, rho_post = _waste_slopes(runs)
    out = {"x6_instances": runs.instances, "x6_best_eps": g(runs.epsilons[runs.best]),
           "x6_best_total": round(_gm(tr.total[:, runs.best])),
           "x6_eps_first": g(runs.epsilons[0]), "x6_eps_last": g(runs.epsilons[-1]), "x6_late_eps": g(LATE_EPS),
           "x6_early_reached": int(np.sum(np.isfinite(tr.post_hit[:, 0]))),
           "x6_early_converged": early_converged(runs), "x6_early_decades": int(EARLY_DECADES),
           "x6_flat_signal_max": round(float(np.nanmax(tr.fire_signal[:, E])), 3),
           "x6_rate_signal_max": round(float(np.nanmax(tr.fire_signal[:, E + 1])), 3),
           "x6_waste_meas": str(_iv(meas)), "x6_waste_pred": str(_iv(pred)),
           "x6_waste_eta_alpha2": round(2 / (runs.eta * runs.alpha ** 2)),
           "x6_post_rate": g(_gm(rho_post)), "x6_post_pred": g(runs.eta * float(np.mean(runs.sigma_r2_over_1)))}
    for key in ("flat_vs_best", "rate_vs_best", "earliest_vs_best", "latest_vs_best", "post_late_vs_first_late",
                "post_earliest_vs_best", "early_vs_vanilla", "waste", "post_vs_prediction", "vanilla_vs_eta_alpha2"):
        out[f"x6_{key}"] = str(_iv(p[key], log=True))
    out["x6_flat_error"] = str(_iv(tr.fire_error[:, E], log=True))
    out["x6_rate_error"] = str(_iv(tr.fire_error[:, E + 1], log=True))
    out["x6_best_error"] = str(_iv(tr.fire_error[:, runs.best], log=True))
    return out


# ----------------------------------------------------------------------------- claims
def claims(runs: Runs) -> list[Claim]:
    """The chapter's claims (the page states the basis of each tolerance).

    Parameters
    ----------
    runs : Runs

    Returns
    -------
    list of Claim
    """
    p, tr, E = _paired(runs), runs.triggers, runs.epsilons.size
    lv = lambda key: _iv(p[key], log=True)  # noqa: E731
    return [
        at_least("x6.late-costs", f"total iterations, epsilon {runs.epsilons[-1]:g} / best epsilon, paired",
                 lv("latest_vs_best"), 1.2, basis="derived-on-page", form="paired-ratio",
                 tolerance="each e-fold of epsilon in the slow phase costs 2/rho_van - 2/rho_post > 0 iterations; "
                           "20% is far below the derived waste"),
        close("x6.late-waste", f"slope of the total against ln(1/epsilon), epsilon <= {LATE_EPS:g}, "
                               "over 2/rho_van - 2/rho_post (measured rates), paired",
              lv("waste"), 1.0, rtol=TOL_WASTE, basis="derived-on-page", form="paired-ratio",
              tolerance=f"1 ±{TOL_WASTE:g}: the vanilla rate drifts within the slow phase (several slow modes)"),
        close("x6.post-rate-free-of-timing", f"post-step rate, epsilon {runs.epsilons[runs.late[-1]]:g} / "
              f"epsilon {runs.epsilons[runs.late[0]]:g}, paired", lv("post_late_vs_first_late"), 1.0, atol=TOL_POST,
              basis="theory", form="paired-ratio",
              tolerance=f"1 ±{TOL_POST:g}: after the signal is learned the step's rate is set by the target, not "
                        "by when it fires"),
        at_most("x6.flat-signal-learned", "flat trigger: largest relative distance of the top-r singular values "
                "to the target's at firing (all instances)", float(np.nanmax(tr.fire_signal[:, E])), SIGNAL_RTOL,
                basis="specification", tolerance=f"{SIGNAL_RTOL:g}: the step is taken after the signal phase"),
        at_most("x6.flat-vs-best", "flat trigger: total iterations / best epsilon's, paired", lv("flat_vs_best"),
                GOOD_RATIO, basis="specification", form="paired-ratio",
                tolerance=f"a data-only trigger within {100 * (GOOD_RATIO - 1):.0f}% of the best fixed epsilon "
                          "(the interval's upper end)",
                expected_failure="measured, not explained: the flat trigger's paired ratio spreads widely over "
                                 "instances, and at the paper preset (n 50) its interval reaches 1.33 (mean 1.12), "
                                 "past 1.25; the rate trigger stays within 2% there"),
        at_most("x6.rate-signal-learned", "rate trigger: largest relative distance of the top-r singular values "
                "to the target's at firing", float(np.nanmax(tr.fire_signal[:, E + 1])), SIGNAL_RTOL,
                basis="specification", tolerance=f"{SIGNAL_RTOL:g}: the step is taken after the signal phase"),
        at_most("x6.rate-vs-best", "rate trigger: total iterations / best epsilon's, paired", lv("rate_vs_best"),
                GOOD_RATIO, basis="specification", form="paired-ratio",
                tolerance=f"within {100 * (GOOD_RATIO - 1):.0f}% of the best fixed epsilon"),
        at_least("x6.early-converges", f"epsilon {runs.epsilons[0]:g} (before the signal is learned): instances "
                 f"whose post-step run gains {EARLY_DECADES:g} decades of relative error within iters_post",
                 early_converged(runs), runs.instances, basis="specification",
                 tolerance="every instance: an early step still converges (a stalled or diverging post-step run "
                           "gains none); reaching the target is not asked, see EARLY_DECADES"),
        at_least("x6.early-beats-vanilla", f"epsilon {runs.epsilons[0]:g}: post-step rate / vanilla slow-phase rate, "
                 "paired", lv("early_vs_vanilla"), 1.0, basis="specification", form="paired-ratio",
                 tolerance="an early step is still better than none (whole interval above 1)"),
    ]


# ----------------------------------------------------------------------------- figures
def plot_cost(runs: Runs):
    """The cost curve: total iterations and post-step rate against the true relative error at firing.

    Parameters
    ----------
    runs : Runs

    Returns
    -------
    fig, (ax_total, ax_rate)
    """
    if not isinstance(runs, Runs):
        raise ValueError(f"runs must be a Runs from run(), got {type(runs).__name__}")
    tr, E, b = runs.triggers, runs.epsilons.size, runs.best
    fig, axes = figure(2, width=10.0, height=4.0)
    for ax, y, lab in ((axes[0], tr.total, "total iterations to the target"),
                       (axes[1], tr.post_rate, "post-step rate of the squared error")):
        for i in range(runs.instances):
            ax.plot(tr.fire_error[i, :E], y[i, :E], "-", color="0.75", lw=0.8)
        ax.plot(tr.fire_error[:, :E].ravel(), y[:, :E].ravel(), "o", color="C0", ms=4, alpha=0.7,
                label="residual trigger ε (each instance)")
        ax.plot(tr.fire_error[:, E], y[:, E], "s", color="C1", ms=6, label="flat trigger (loss only)")
        ax.plot(tr.fire_error[:, E + 1], y[:, E + 1], "^", color="C2", ms=6, label="rate trigger (loss, η, α)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.invert_xaxis()
        ax.set_xlabel("true relative error at firing (later →)")
        ax.set_ylabel(lab)
    meas, pred, _ = _waste_slopes(runs)
    e0 = _gm(tr.fire_error[:, b])
    grid = np.geomspace(e0, np.nanmin(tr.fire_error[:, :E]), 20)
    t0 = _gm(tr.total[:, b])
    axes[0].plot(grid, t0 + np.nanmean(pred) * np.log(e0 / grid), "k--",
                 label="derived late waste 2/ρ_van − 2/ρ_post per e-fold")
    axes[0].set_title("cost of the firing time")
    axes[0].legend(fontsize="small")
    axes[1].axhline(runs.eta * float(np.mean(runs.sigma_r2_over_1)), color="k", ls="--",
                    label="η σ_r²/σ_1 (post-step prediction)")
    axes[1].axhline(runs.eta * runs.alpha ** 2, color="C3", ls=":", label="η α² (vanilla law)")
    axes[1].set_title("rate after the step")
    axes[1].legend(fontsize="small")
    return fig, axes


def plot_trajectories(runs: Runs, *, instance: int = 0):
    """One instance: the vanilla error and loss log-slope, with every firing point and its continuation.

    Parameters
    ----------
    runs : Runs
    instance : int, keyword-only

    Returns
    -------
    fig, (ax_error, ax_slope)
    """
    if not isinstance(runs, Runs):
        raise ValueError(f"runs must be a Runs from run(), got {type(runs).__name__}")
    i = v.integer("instance", instance, minimum=0, maximum=runs.instances - 1)
    van, tr, E = runs.vanilla, runs.triggers, runs.epsilons.size
    fig, axes = figure(2, width=10.0, height=4.0)
    ax = axes[0]
    ax.plot(van.t, van.rel_error[i], color="black", lw=1.4, label="vanilla")
    colors = [f"C{q % 10}" for q in range(tr.labels.__len__())]
    for q, lab in enumerate(tr.labels):
        if tr.fire_t[i, q] < 0:
            continue
        ax.plot(tr.fire_t[i, q] + runs.post_t, runs.post_error[i, q], color=colors[q], lw=0.9,
                ls="-" if q < E else "--", label=lab)
    ax.axhline(runs.target, color="0.5", lw=0.6)
    ax.set_yscale("log")
    ax.set_xscale("symlog", linthresh=100)
    ax.set_ylim(runs.target / 10, 2)
    ax.set_xlabel("iteration (linear to 100, then logarithmic)")
    ax.set_ylabel("relative error")
    ax.set_title(f"instance {i}: each trigger's step and continuation")
    ax.legend(fontsize="x-small", ncol=2)
    ax = axes[1]
    g = _slopes(van.loss[i])
    ax.plot(van.t, g / (runs.eta * runs.alpha ** 2), color="black", lw=1.2, label="log-slope of the loss / (η α²)")
    for q in (E, E + 1):
        if tr.fire_t[i, q] >= 0:
            ax.axvline(tr.fire_t[i, q], color=colors[q], ls="--", label=f"{tr.labels[q]} fires")
    ax.set_xscale("symlog", linthresh=100)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("per-step decrease of ln(loss), units of η α²")
    ax.set_title("what the loss triggers see")
    ax.legend(fontsize="small")
    return fig, axes


def evaluate(P) -> list[Claim]:
    """Run the chapter's computation as its notebook does, and return its claims.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure`.

    Returns
    -------
    list of Claim
    """
    return claims(run(P))
