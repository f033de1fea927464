"""Chapter ``b1_symmetric``: the symmetric parameterization, exact (``k = r``) versus over-parameterized.

Gradient descent on :math:`XX^\\top` fits a rank-``r`` PSD matrix. With ``k = r`` the error
decays linearly, at the rate of the linearized map (:func:`local_rate_symmetric`); with
``k > r`` every redundant singular value of :math:`X` follows the **cubic recursion**
:math:`s_{t+1}=s_t(1-\\eta s_t^2)` (paper B, Xiong, Ding & Du, ICLR 2024, derived on the
page), whose solution behaves like :math:`s_t^2\\approx 1/(s_0^{-2}+2\\eta t)`: a plateau of
order :math:`(k-r)\\alpha^4`, then the tail :math:`(k-r)/(4\\eta^2t^2)`.

Every measurement is repeated on ``instances`` independent instances (target, operator and
initialization re-drawn, :func:`opsense.instance_seeds`) and reported with a 95% interval
(:func:`opsense.instance_interval`). Horizons are set by the predicted time scales: the plateau
time :math:`\\tau=1/(\\eta\\alpha^2)` for the tails, the linearized rate for the ``k = r`` runs.

The scalar model: :func:`cubic_recursion`, :func:`cubic_tail`,
:func:`redundant_singular_values`, :func:`tail_constant`, :func:`plateau_ratio_samples`,
:func:`cubic_bound_excess`. The Gram-equivalent operator: :func:`gram_equivalent`. The
experiments of the page: :func:`problems`, :func:`run_sensing`, :func:`run_factorization`, then
the checks :func:`exact_rates`, :func:`mechanism`, :func:`tails`, :func:`plateaus`, gathered in
:class:`Checks`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..config import Cost, gd_cost, parameter_check, regime
from ..analysis import burn_in_time, fit_line, fit_power, late_rate, signal_time
from ..claims import Claim, at_least, at_most, between, close
from ..engine.factors import initial_factors
from ..engine.gd import GDResult, run_gd
from ..engine.operators import SensingOperator
from ..engine.problems import Problem, check_problem, instance_seeds, make_problem
from ..plotting import figure, param_label, plot_curves
from ..stats import Interval, instance_interval_or_nan as _interval

__all__ = ["PRESETS", "FLOOR", "check", "cost", "cubic_recursion", "cubic_tail", "cubic_bound_excess",
           "redundant_singular_values", "tail_constant", "plateau_ratio_samples", "local_rate_symmetric",
           "record_interval", "gram_equivalent", "tail_windows", "exact_horizon", "sensing_tail", "Problems",
           "SensingRuns", "FactorizationRuns", "ExactRates", "Mechanism", "Tails", "Plateaus", "Checks", "problems",
           "run_sensing", "run_factorization", "exact_rates", "mechanism", "tails", "plateaus", "describe",
           "summary_exact", "summary_mechanism", "summary_tails", "summary_plateaus", "glue_values",
           "glue_fits", "claims", "plot_sensing", "plot_factorization", "evaluate"]

#: Parameter sets: ``book`` (n 20, about 30 s) and ``paper`` (n 50, r 3, about three minutes).
#: ``iters`` and ``iters_mf`` are horizons in units of the plateau time tau = 1 / (eta alpha^2).
PRESETS = {
    "book": dict(n=20, r=2, kappa=2.0, m=600, ks=[2, 3, 5], alpha=0.1, alphas=[0.003, 0.01, 0.03],
                 eta=0.1, iters=200, iters_mf=20, instances=5, seed=0),
    "paper": dict(n=50, r=3, kappa=2.0, m=2000, ks=[3, 4, 6], alpha=0.3, alphas=[0.003, 0.01, 0.03],
                  eta=0.1, iters=100, iters_mf=100, instances=5, seed=0),
}

#: Fits ignore squared errors below ``FLOOR * ||M*||_F^2`` (the float64 floor is about 1e-30).
FLOOR = 1e-24
#: Largest step size: gradient descent is stable for eta <= 1/(3 sigma_1(A*(y))), sigma_1(M*) = 1.
MAX_ETA = 0.2
#: Largest condition number refused outright (the signal phase lasts about kappa times longer).
MAX_KAPPA = 10.0
#: Largest condition number of the stated regime (the claims are checked up to it).
REGIME_KAPPA = 4.0
#: Smallest m / (n (max(ks) + r)) of the stated regime (RIP of order k + r with a small constant).
REGIME_OVERSAMPLING = 4.0
#: Largest eta * alpha**2 of the tail runs (a small initialization) and of the plateau runs.
MAX_TAIL_SCALE = 0.01
MAX_PLATEAU_SCALE = 1e-4
#: The first tail window starts at least this many plateau times tau = 1/(eta alpha^2) into the run.
TAIL_START = 5.0
#: Fewest windows (successive halvings of the horizon) of the sensing tail.
MIN_WINDOWS = 3
#: Largest number of entries of one array (the operator m x n x n, the linearization n r x n x n).
MAX_ENTRIES = 50_000_000
#: Largest sensing work of the tail runs, instances * iters tau * n(n+1)/2 * n**2 (about ten minutes).
MAX_WORK = 5e12
#: Largest horizon of a run in iterations (the loop is Python: about a minute per million iterations).
MAX_ITERS = 2_000_000
#: Number of samples of the exact plateau distribution.
PLATEAU_SAMPLES = 20000


def _tau(P) -> float:
    return 1.0 / (P.eta * P.alpha ** 2)


@parameter_check
def check(P) -> None:
    """Refuse infeasible parameters of the chapter, naming the parameter; warn outside the regime.

    **Regime** (what the claims are stated and checked for; :func:`opsense.config.regime` warns
    outside it): a PSD target of rank ``r`` with ``n >= 10``, condition number
    ``kappa <= 4``; a symmetrized Gaussian operator with ``m >= 4 n (max(ks) + r)`` (RIP of order
    ``k + r`` with a small constant; the book has ``m / (n (5 + 2)) = 4.3``,
    ``m / (r (n1 + n2)) = 7.5``); a small initialization, ``eta alpha^2 <= 0.01`` for the tail
    runs and ``<= 1e-4`` for the plateau runs; ``eta <= 0.2`` (``eta sigma_1 <= 1/5``).
    Theorem 3.1 of paper B also requires the width ``k`` to exceed a threshold that depends on
    ``alpha`` (its form is not known to us); the chapter does not check it.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (attributes ``n, r, kappa, m, ks, alpha, alphas, eta,
        iters, iters_mf, instances, seed``), types already checked. ``iters`` and ``iters_mf``
        are horizons in plateau times ``tau = 1 / (eta alpha^2)``.

    Raises
    ------
    ValueError
        For the first infeasible value: ``"parameter <name> must ..."``.
    """
    n, r, m = P.n, P.r, P.m
    if n < 3:
        raise ValueError(f"parameter n must be >= 3 (one redundant direction besides the signal), got {n}")
    if not 1 <= r <= (n - 1) // 2:
        raise ValueError(f"parameter r must be in [1, (n - 1) // 2] = [1, {(n - 1) // 2}] "
                         f"(widths k in (r, n - r] must exist), got {r}")
    ks = list(P.ks)
    if len(ks) < 2 or ks[0] != r or any(b <= a for a, b in zip(ks, ks[1:])) or ks[-1] > n - r:
        raise ValueError(f"parameter ks must start with r = {r} (exact parameterization) followed by "
                         f"increasing widths in ({r}, {n - r}], got {ks}")
    if not 1.0 <= P.kappa <= MAX_KAPPA:
        raise ValueError(f"parameter kappa must be in [1, {MAX_KAPPA:g}] (the signal phase lasts about kappa "
                         f"times longer), got {P.kappa}")
    if P.eta > MAX_ETA:
        raise ValueError(f"parameter eta must be <= {MAX_ETA} (gradient descent is stable for "
                         f"eta <= 1/(3 sigma_1(A*(y))), sigma_1(M*) = 1), got {P.eta}")
    need_m = 3 * n * (ks[-1] + r)
    if m < need_m:
        raise ValueError(f"parameter m must be >= 3 n (max(ks) + r) = {need_m} (the RIP of order k + r), got {m}")
    if m * n * n > MAX_ENTRIES:
        raise ValueError(f"parameter m must keep m * n**2 <= {MAX_ENTRIES:,} (the operator's memory), "
                         f"got {m} * {n}**2")
    if n * r * max(n * n, m) > MAX_ENTRIES:
        raise ValueError(f"parameter n must keep n r max(n**2, m) <= {MAX_ENTRIES:,} (the memory of the "
                         f"linearization), got n = {n}, r = {r}, m = {m}")
    if P.eta * P.alpha ** 2 > MAX_TAIL_SCALE:
        raise ValueError(f"parameter alpha must satisfy eta * alpha**2 <= {MAX_TAIL_SCALE:g} (a small "
                         f"initialization), got {P.alpha} with eta = {P.eta:g}")
    bad = [a for a in P.alphas if P.eta * a * a > MAX_PLATEAU_SCALE]
    if bad:
        raise ValueError(f"parameter alphas must satisfy eta * alpha**2 <= {MAX_PLATEAU_SCALE:g} (a plateau much "
                         f"longer than the signal phase), got {bad} with eta = {P.eta:g}")
    if len(P.alphas) < 2 or any(b <= a for a, b in zip(P.alphas, P.alphas[1:])):
        raise ValueError(f"parameter alphas must hold at least 2 increasing scales (the alpha^4 scaling of the "
                         f"plateau is fitted across them), got {list(P.alphas)}")
    sig = {a: signal_time(a, eta=P.eta, kappa=P.kappa, n=n) for a in [P.alpha, *P.alphas]}
    short = [a for a in P.alphas if 2 * sig[a] > 0.1 / (P.eta * a * a)]
    if short:
        raise ValueError(f"parameter alphas must keep 1/(eta alpha**2) >= 20 times the signal phase "
                         f"kappa ln(100 n / (kappa alpha**2)) / eta (the plateau is read at twice its end), "
                         f"got {short}")
    tau = _tau(P)
    need = TAIL_START * 2 ** MIN_WINDOWS
    if P.iters < need:
        raise ValueError(f"parameter iters must be >= {need:g} (plateau times tau = 1/(eta alpha^2): "
                         f"{MIN_WINDOWS} halvings of the horizon after {TAIL_START:g} tau), got {P.iters}")
    if tau * TAIL_START < 2 * sig[P.alpha]:
        raise ValueError(f"parameter alpha must keep {TAIL_START:g} / (eta alpha**2) >= twice the signal phase "
                         f"kappa ln(100 n / (kappa alpha**2)) / eta (the tail windows start after it), got {P.alpha}")
    if P.iters_mf < 20:
        raise ValueError(f"parameter iters_mf must be >= 20 (plateau times tau: the tail constant is fitted on "
                         f"[T/2, T], T >= 20 tau), got {P.iters_mf}")
    if P.iters_mf * tau < 4 * max(sig.values()):
        raise ValueError(f"parameter iters_mf must keep iters_mf / (eta alpha**2) >= 4 times the longest signal "
                         f"phase ({4 * max(sig.values()):.0f} iterations), got {P.iters_mf}")
    for name in ("iters", "iters_mf"):
        if getattr(P, name) * tau > MAX_ITERS:
            raise ValueError(f"parameter {name} must keep {name} / (eta alpha**2) <= {MAX_ITERS:,} iterations "
                             f"(run time), got {getattr(P, name)} tau = {getattr(P, name) * tau:.3g}")
    if not 5 <= P.instances <= 50:
        raise ValueError(f"parameter instances must be in [5, 50] (a 95% interval over independent "
                         f"instances), got {P.instances}")
    rows = min(m, n * (n + 1) // 2)
    work = float(P.instances) * P.iters * tau * rows * n * n
    if work > MAX_WORK:
        raise ValueError(f"parameter iters must keep instances * iters tau * min(m, n(n+1)/2) * n**2 <= "
                         f"{MAX_WORK:.0e} (run time), got {work:.2e}")
    if P.seed < 0:
        raise ValueError(f"parameter seed must be an integer >= 0, got {P.seed}")
    regime("b1_symmetric", [
        (n >= 10, f"n >= 10 (n = {n})"),
        (P.kappa <= REGIME_KAPPA, f"kappa <= {REGIME_KAPPA:g} (kappa = {P.kappa:g})"),
        (m >= REGIME_OVERSAMPLING * n * (ks[-1] + r),
         f"m >= {REGIME_OVERSAMPLING:g} n (max(ks) + r) = {REGIME_OVERSAMPLING * n * (ks[-1] + r):g} (m = {m})"),
    ])


def cost(P) -> Cost:
    """What the chapter's runs cost, from the parameters alone (pure arithmetic, nothing is run).

    ``work`` sums :func:`run_sensing` (``instances`` tail runs of ``iters tau`` steps on the
    Gram-equivalent operator of ``min(m, n(n+1)/2)`` rows, two passes per step, plus ``instances``
    exact-width runs of :func:`exact_horizon` steps, estimated with the factorization rate),
    the construction of the Gram-equivalent operators (``m n^4 / 4`` each) and the linearizations
    (``2 n r m' n^2`` each), and :func:`run_factorization` (``instances (len(ks) + (len(ks) - 1)
    len(alphas))`` identity runs of ``iters_mf tau`` steps, ``3 n^2 max(ks)`` each).
    ``memory_bytes``: the operators, a linearization, the factors and curves of the batches.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (already checked by :func:`check`).

    Returns
    -------
    opsense.config.Cost
    """
    n, r, m, B = int(P.n), int(P.r), int(P.m), int(P.instances)
    ks = [int(k) for k in P.ks]
    K = max(ks)
    rows = min(m, n * (n + 1) // 2)
    tau = 1.0 / (P.eta * P.alpha ** 2)
    T_tail, T_mf = int(round(P.iters * tau)), int(round(P.iters_mf * tau))
    rate = -2.0 * np.log(1.0 - P.eta / P.kappa)
    T_ex = int(2 * signal_time(P.alpha, eta=P.eta, kappa=P.kappa, n=n) + 1.5 * np.log(1 / FLOOR) / rate)
    w_t, b_t = gd_cost(B, T_tail, m=rows, n1=n, n2=n, k=ks[1], r=r, every=max(1, T_tail // 2000))
    w_e, b_e = gd_cost(B, T_ex, m=rows, n1=n, n2=n, k=r, r=r, every=1)
    runs_f = B * (len(ks) + (len(ks) - 1) * len(P.alphas))
    rec_f = max(1, min(T_mf // 1000, int(np.log(1 / FLOOR) / (rate * 10))))
    w_f, b_f = gd_cost(runs_f, T_mf, m=0, n1=n, n2=n, k=K, r=r, every=rec_f)
    w_build = B * (m * float(n * (n + 1) // 2) ** 2 + 2.0 * n * r * rows * n * n)
    memory = 8.0 * (m * n * n + B * rows * n * n + n * r * (2 * n * n + rows) + runs_f * (T_mf // rec_f + 2))
    return Cost(memory_bytes=memory + b_t + b_e + b_f, work=w_t + w_e + w_f + w_build,
                drivers=("iters", "instances", "n", "iters_mf", "ks", "alphas", "m"))


# ---------------------------------------------------------------------------- the cubic recursion
def _positive_vector(name, x):
    x = np.atleast_1d(v.array(name, x, ndim=(0, 1)))
    if x.size == 0 or np.any(x <= 0):
        raise ValueError(f"{name} must contain positive values, got {x.tolist()}")
    return x


def cubic_recursion(s0, *, eta: float, iters: int) -> np.ndarray:
    """Iterate :math:`s_{t+1}=s_t(1-\\eta s_t^2)` for each starting value.

    Parameters
    ----------
    s0 : float or array_like of shape (J,)
        Positive starting values with :math:`\\eta s_0^2\\le 1/2`.
    eta : float > 0, keyword-only
        Step size.
    iters : int >= 1, keyword-only
        Number of steps.

    Returns
    -------
    ndarray of shape (iters + 1, J)
        Row ``t`` holds :math:`s_t`.
    """
    s0 = _positive_vector("s0", s0)
    eta = v.real("eta", eta, positive=True)
    iters = v.integer("iters", iters, minimum=1)
    if np.any(eta * s0 ** 2 > 0.5):
        raise ValueError(f"s0 must satisfy eta * s0**2 <= 1/2, got max {float(np.max(eta * s0 ** 2)):.3g}")
    out = np.empty((iters + 1, s0.size))
    s = s0.copy()
    out[0] = s
    for t in range(1, iters + 1):
        s = s * (1.0 - eta * s * s)
        out[t] = s
    return out


def cubic_tail(s0, *, eta: float, t) -> np.ndarray:
    """The closed form :math:`\\sum_j (s_{j,0}^{-2}+2\\eta t)^{-2}` that approximates :math:`\\sum_j s_{j,t}^4`.

    Parameters
    ----------
    s0 : float or array_like of shape (J,)
        Positive starting values of the redundant singular values.
    eta : float > 0, keyword-only
    t : float or array_like
        Times (``>= 0``).

    Returns
    -------
    ndarray of the shape of ``t``
    """
    s0 = _positive_vector("s0", s0)
    eta = v.real("eta", eta, positive=True)
    t = np.asarray(t, dtype=np.float64)
    if np.any(~np.isfinite(t)) or np.any(t < 0):
        raise ValueError("t must contain finite values >= 0")
    u = s0[:, None] ** -2.0 + 2.0 * eta * t.ravel()[None, :]
    return np.sum(u ** -2.0, axis=0).reshape(t.shape)


def cubic_bound_excess(s0, *, eta: float, iters: int) -> float:
    """Largest excess of the cubic recursion over the two-sided bound of the page's proposition.

    With :math:`u_t=s_t^{-2}` the proposition proves
    :math:`0\\le u_t-u_0-2\\eta t\\le 12\\eta^2/u_0+6\\eta\\ln(1+2\\eta t/u_0)`. The excess is the
    largest violation of either side relative to :math:`u_t`, over every step and start:
    ``<= 0`` when the bounds hold (to rounding, about ``1e-15``).

    Parameters
    ----------
    s0 : float or array_like of shape (J,)
        Starting values, :math:`0<\\eta s_0^2\\le 1/2`.
    eta : float > 0, keyword-only
    iters : int >= 1, keyword-only

    Returns
    -------
    float
    """
    s = _positive_vector("s0", s0)
    rec = cubic_recursion(s, eta=eta, iters=iters)
    steps = np.arange(rec.shape[0])[:, None]
    u = rec ** -2.0
    gap = u - s ** -2.0 - 2 * eta * steps
    bound = 12 * eta ** 2 * s ** 2 + 6 * eta * np.log1p(2 * eta * steps * s ** 2)
    return float(max(np.max(-gap / u), np.max((gap - bound) / u))) + 0.0   # + 0.0: no "-0"


def redundant_singular_values(X0, U_star) -> np.ndarray:
    """Initial singular values of the redundant block of a symmetric factor.

    With :math:`S_0=U_\\star^\\top X_0` (``r x k``) and :math:`K_0=(I-U_\\star U_\\star^\\top)X_0`,
    let :math:`Q` (``k x (k-r)``) be an orthonormal basis of the orthogonal complement of
    the row space of :math:`S_0`. The redundant singular values are those of
    :math:`K_0Q`: the part of the initialization that the signal never absorbs.

    Parameters
    ----------
    X0 : array_like of shape (n, k)
        Initial factor, ``k > r``.
    U_star : array_like of shape (n, r)
        Orthonormal basis of the column space of the target.

    Returns
    -------
    ndarray of shape (k - r,), decreasing
    """
    X0 = v.array("X0", X0, ndim=2)
    U_star = v.array("U_star", U_star, shape=(X0.shape[0], None))
    k = X0.shape[1]
    r = U_star.shape[1]
    if not r < k:
        raise ValueError(f"X0 must have more columns than U_star (k > r), got k={k}, r={r}")
    S0 = U_star.T @ X0
    K0 = X0 - U_star @ S0
    Q = np.linalg.svd(S0, full_matrices=True)[2][r:].T
    return np.linalg.svd(K0 @ Q, compute_uv=False)


def tail_constant(t, err2, *, eta: float, window: tuple[float, float]) -> float:
    """Extrapolated limit of :math:`\\eta^2t^2\\,\\mathrm{err}(t)` for a :math:`1/t^2` tail.

    If :math:`\\mathrm{err}(t)\\approx\\sum_j(u_j+2\\eta t)^{-2}` then
    :math:`\\mathrm{err}^{-1/2}` is asymptotically a line :math:`bt+c`, and
    :math:`\\eta^2t^2\\mathrm{err}\\to\\eta^2/b^2`. The slope ``b`` is fitted by least
    squares on the window; the offsets :math:`u_j` drop out.

    Parameters
    ----------
    t : array_like of shape (T,)
    err2 : array_like of shape (T,)
        Squared error, positive.
    eta : float > 0, keyword-only
    window : (t0, t1), keyword-only

    Returns
    -------
    float
    """
    eta = v.real("eta", eta, positive=True)
    t = v.array("t", t, ndim=1)
    err2 = v.array("err2", err2, shape=t.shape)
    if len(window) != 2 or not window[0] < window[1]:
        raise ValueError(f"window must be a pair (t0, t1) with t0 < t1, got {window!r}")
    keep = (t >= window[0]) & (t <= window[1]) & (err2 > 0)
    fit = fit_line(t[keep], err2[keep] ** -0.5)
    return float(eta ** 2 / fit.slope ** 2)


def plateau_ratio_samples(n: int, r: int, k: int, *, c: float, samples: int = 20000,
                          seed: int = 0) -> np.ndarray:
    """Exact distribution of the plateau, in units of :math:`(k-r)\\alpha^4`, by sampling.

    With the engine's initialization (entries of :math:`X_0` i.i.d.
    :math:`\\mathcal N(0,\\alpha^2/n)`), :math:`K_0Q` of :func:`redundant_singular_values`
    has i.i.d. :math:`\\mathcal N(0,\\alpha^2/n)` entries (``(n-r) x (k-r)``), so
    :math:`s_{j,0}^2=\\alpha^2w_j` with :math:`w_j` the eigenvalues of :math:`W^\\top W/n`,
    :math:`W` standard Gaussian. At :math:`t=c/(\\eta\\alpha^2)` the prediction
    :func:`cubic_tail` divided by :math:`(k-r)\\alpha^4` is
    :math:`\\sum_j(1/w_j+2c)^{-2}/(k-r)`, free of :math:`\\alpha` and :math:`\\eta`.

    Parameters
    ----------
    n, r, k : int
        Size, rank and width, ``1 <= r < k <= n - r``.
    c : float >= 0, keyword-only
        Time in units of :math:`1/(\\eta\\alpha^2)`.
    samples : int >= 1, keyword-only
    seed : int, keyword-only

    Returns
    -------
    ndarray of shape (samples,)
    """
    n = v.integer("n", n, minimum=2)
    r = v.integer("r", r, minimum=1)
    k = v.integer("k", k, minimum=r + 1)
    if k > n - r:
        raise ValueError(f"k must be <= n - r = {n - r}, got {k}")
    c = v.real("c", c, nonnegative=True)
    samples = v.integer("samples", samples, minimum=1)
    seed = v.integer("seed", seed, minimum=0)
    rng = np.random.default_rng(seed)
    chunk = max(1, 5_000_000 // ((n - r) * (k - r)))      # bounded memory; the same stream as one draw
    out = np.empty(samples)
    for lo in range(0, samples, chunk):
        W = rng.standard_normal((min(chunk, samples - lo), n - r, k - r))
        w = np.linalg.eigvalsh(np.swapaxes(W, 1, 2) @ W / n)
        out[lo:lo + W.shape[0]] = np.sum((1.0 / w + 2.0 * c) ** -2.0, axis=1) / (k - r)
    return out


def local_rate_symmetric(problem: Problem, *, eta: float) -> float:
    """Asymptotic rate of the squared error of exact-parameterized (``k = r``) symmetric GD.

    At a solution :math:`X_\\star=U_\\star\\Sigma^{1/2}` the GD map
    :math:`X\\mapsto X-\\eta\\,\\mathrm{sym}(\\mathcal A^*\\mathcal A(XX^\\top-M^\\star))X`
    has Jacobian :math:`I-\\eta H` with
    :math:`H(\\Delta)=\\mathrm{sym}(\\mathcal A^*\\mathcal A(X_\\star\\Delta^\\top+\\Delta X_\\star^\\top))X_\\star`,
    symmetric positive semi-definite, null exactly on the rotations
    :math:`\\Delta=X_\\star\\Omega` (:math:`\\Omega` skew). The error contracts by
    :math:`\\rho=\\max|1-\\eta\\lambda|` over the other eigenvalues, so the squared error
    decays at :math:`-2\\ln\\rho` per iteration. For matrix factorization
    :math:`\\rho=1-\\eta\\sigma_r`.

    Parameters
    ----------
    problem : Problem
        With a PSD target.
    eta : float > 0, keyword-only

    Returns
    -------
    float
        Rate per iteration of :math:`\\ln\\|X_tX_t^\\top-M^\\star\\|_F^2`.
    """
    problem = check_problem(problem, psd=True)
    eta = v.real("eta", eta, positive=True)
    tgt = problem.target
    n, r = tgt.U.shape
    Xs = tgt.U * np.sqrt(tgt.sigma)
    E = np.eye(n * r).reshape(n * r, n, r)                      # basis of directions Delta
    M = np.matmul(Xs, np.swapaxes(E, 1, 2))
    M = M + np.swapaxes(M, 1, 2)                                # X* D^T + D X*^T
    N = problem.operator.normal(M)
    N = 0.5 * (N + np.swapaxes(N, 1, 2))
    H = np.matmul(N, Xs).reshape(n * r, n * r).T
    lam = np.linalg.eigvalsh(0.5 * (H + H.T))
    nz = lam[r * (r - 1) // 2:]                                 # drop the rotation null space
    rho = np.max(np.abs(1.0 - eta * nz))
    return float(-2.0 * np.log(rho))


def record_interval(problem: Problem, *, eta: float, iters: int, floor: float, points: int = 10,
                    records: int = 1000, rate: float | None = None) -> int:
    """Recording interval for a sweep that contains an exact-width (``k = r``) symmetric run.

    The exact-width run falls from order 1 to the fitting floor within about
    :math:`\\ln(1/\\mathrm{floor})/\\rho` iterations (:math:`\\rho` from
    :func:`local_rate_symmetric`), however long the horizon ``iters``. The interval is
    ``iters // records`` unless that would leave fewer than ``points`` records in that decay.

    Parameters
    ----------
    problem : Problem
        With a PSD target.
    eta : float > 0, keyword-only
    iters : int >= 1, keyword-only
        Horizon of the sweep.
    floor : float in (0, 1), keyword-only
        Relative floor below which rate fits ignore the error.
    points : int >= 2, keyword-only
        Records wanted in the linear decay of the exact-width run.
    records : int >= 1, keyword-only
        Records wanted over the whole horizon.
    rate : float > 0, keyword-only, optional
        :func:`local_rate_symmetric` of the problem, if already computed.

    Returns
    -------
    int >= 1
    """
    iters = v.integer("iters", iters, minimum=1)
    floor = v.real("floor", floor, positive=True, below=1.0)
    points = v.integer("points", points, minimum=2)
    records = v.integer("records", records, minimum=1)
    rate = local_rate_symmetric(problem, eta=eta) if rate is None else v.real("rate", rate, positive=True)
    return max(1, min(iters // records, int(np.log(1 / floor) / (rate * points))))


# ---------------------------------------------------------------------------- the experiments
def gram_equivalent(problem: Problem) -> Problem:
    """The same problem measured by ``n(n+1)/2`` equivalent measurements instead of ``m``.

    Gradient descent sees the operator only through :math:`\\mathcal A^*\\mathcal A` and
    :math:`\\mathcal A^*(y)=\\mathcal A^*\\mathcal A(M^\\star)`. For a symmetrized operator acting on
    symmetric matrices, write :math:`\\mathcal A(E)=A_s\\,\\mathrm{svec}(E)` with ``svec`` the
    orthonormal coordinates of the symmetric matrices (``n(n+1)/2`` of them) and take the
    triangular factor :math:`R` of :math:`A_s=QR`. The operator with rows :math:`R\\,\\mathrm{svec}`
    has the same :math:`\\mathcal A^*\\mathcal A` on symmetric matrices, so the iterates are the same
    up to rounding, at ``n(n+1)/2 / m`` of the cost per step (the measurements become
    :math:`Q^\\top y`, an orthogonal change of coordinates of their range). With ``m <= n(n+1)/2``
    the problem is returned as it is.

    Parameters
    ----------
    problem : Problem
        A PSD problem with a symmetrized Gaussian (or any symmetric) operator.

    Returns
    -------
    Problem
        The same target, with the Gram-equivalent operator.
    """
    problem = check_problem(problem, psd=True)
    op = problem.operator
    if op.matrix is None or not op.symmetric:
        raise ValueError("problem must have a symmetric (symmetrized Gaussian) operator, got "
                         f"{op.kind!r}")
    n = op.shape[0]
    d = n * (n + 1) // 2
    if op.m <= d:
        return problem
    i, j = np.triu_indices(n)
    # columns of A S: e_ii for the diagonal, (e_ij + e_ji)/sqrt(2) = sqrt(2) e_ij (rows are symmetric)
    As = op.matrix[:, i * n + j] * np.where(i == j, 1.0, np.sqrt(2.0))
    R = np.linalg.qr(As, mode="r")
    rows = np.zeros((d, n, n))
    scale = np.where(i == j, 1.0, 1.0 / np.sqrt(2.0))
    rows[:, i, j] = R * scale
    rows[:, j, i] = R * scale                                   # exactly symmetric rows
    return Problem.from_parts(problem.target, SensingOperator.from_matrix(rows.reshape(d, n * n), n, n))


def tail_windows(T: float, tau: float) -> list[tuple[float, float]]:
    """The tail windows: successive halvings ``[T/2^(j+1), T/2^j]`` of the horizon down to ``5 tau``.

    Parameters
    ----------
    T : float > 0
        Horizon.
    tau : float > 0
        Plateau time ``1 / (eta alpha^2)``; the first window starts at or after ``TAIL_START tau``.

    Returns
    -------
    list of (float, float)
        In increasing time.
    """
    T = v.real("T", T, positive=True)
    tau = v.real("tau", tau, positive=True)
    out, hi = [], T
    while hi / 2 >= TAIL_START * tau * (1 - 1e-3):
        out.append((hi / 2, hi))
        hi /= 2
    return out[::-1]


def exact_horizon(rate: float, *, alpha: float, eta: float, kappa: float, n: int) -> int:
    """Horizon of an exact-width run: twice the signal phase, then 1.5 times the predicted decay to the floor.

    Parameters
    ----------
    rate : float > 0
        Predicted rate per iteration of the squared error (:func:`local_rate_symmetric`).
    alpha, eta, kappa : float, keyword-only
    n : int, keyword-only

    Returns
    -------
    int
    """
    rate = v.real("rate", rate, positive=True)
    return int(np.ceil(2 * signal_time(alpha, eta=eta, kappa=kappa, n=n) + 1.5 * np.log(1 / FLOOR) / rate))


def _nan_if_unmeasurable(fn, *args, **kwargs) -> float:
    """``fn(...)``, or NaN when the curve does not allow the fit (a claim on it then fails)."""
    try:
        return fn(*args, **kwargs)
    except ValueError:
        return float("nan")




@dataclass(frozen=True)
class Problems:
    """The chapter's independent instances: one PSD target each, measured twice.

    Attributes
    ----------
    seeds : tuple of int
        The instance seeds (:func:`opsense.instance_seeds` of the chapter's seed): target,
        operator and initialization of instance ``i`` all come from ``seeds[i]``.
    sensing : tuple of Problem
        ``m`` symmetrized Gaussian measurements, as the Gram-equivalent operator
        (:func:`gram_equivalent`).
    factorization : tuple of Problem
        The identity operator (matrix factorization); the same targets.
    m : int
        The number of Gaussian measurements.
    """

    seeds: tuple
    sensing: tuple
    factorization: tuple
    m: int

    @property
    def sigma(self) -> np.ndarray:
        """Eigenvalues of the targets (the same for every instance), ``ndarray of shape (r,)``."""
        return self.sensing[0].target.sigma

    @property
    def floor(self) -> float:
        """The fitting floor ``FLOOR * ||M*||_F^2``."""
        return float(FLOOR * np.sum(self.sigma ** 2))


def problems(P) -> Problems:
    """The chapter's ``instances`` independent problems (see :class:`Problems`).

    Parameters
    ----------
    P : Parameters
        Uses ``n, r, m, kappa, instances, seed``.

    Returns
    -------
    Problems
    """
    seeds = tuple(instance_seeds(P.seed, P.instances))
    sens = tuple(gram_equivalent(make_problem(P.n, P.n, P.r, P.m, kappa=P.kappa, psd=True, seed=s))
                 for s in seeds)
    fact = tuple(make_problem(P.n, P.n, P.r, kappa=P.kappa, psd=True, operator="identity", seed=s)
                 for s in seeds)
    return Problems(seeds, sens, fact, int(P.m))


@dataclass(frozen=True)
class SensingRuns:
    """The sensing runs: ``k = r`` on every instance (to the floor) and ``k = ks[1]`` (the long tail).

    Attributes
    ----------
    exact : GDResult
        One ``k = r`` run per instance; curves of shape (instances, T_exact).
    tail : GDResult
        One ``k = ks[1]`` run per instance; curves of shape (instances, T).
    k : int
        The width of the tail runs.
    r, n, m : int
    alpha, eta : float
    tau : float
        End of the plateau, ``1 / (eta alpha^2)``.
    windows : tuple of (float, float)
        The tail windows (:func:`tail_windows`).
    rate_pred : ndarray of shape (instances,)
        :func:`local_rate_symmetric` of each sensing problem.
    """

    exact: GDResult
    tail: GDResult
    k: int
    r: int
    n: int
    m: int
    alpha: float
    eta: float
    tau: float
    windows: tuple
    rate_pred: np.ndarray


def run_sensing(P, probs: Problems) -> SensingRuns:
    """Run the sensing batches (symmetric GD at scale ``P.alpha``, every instance in one call each).

    The ``k = r`` runs last :func:`exact_horizon` of the slowest predicted rate and record at
    least 10 points in the linear decay (:func:`record_interval`); the tail runs (width
    ``ks[1]``) last ``iters tau`` and record 2000 points.

    Parameters
    ----------
    P : Parameters
    probs : Problems

    Returns
    -------
    SensingRuns
    """
    rates = np.array([local_rate_symmetric(p, eta=P.eta) for p in probs.sensing])
    T_ex = exact_horizon(float(np.min(rates)), alpha=P.alpha, eta=P.eta, kappa=P.kappa, n=P.n)
    rec = record_interval(probs.sensing[0], eta=P.eta, iters=T_ex, floor=FLOOR, rate=float(np.max(rates)))
    seeds = list(probs.seeds)
    exact = run_gd(list(probs.sensing), k=P.r, alpha=P.alpha, iters=T_ex, record_every=rec,
                   parameterization="symmetric", eta=P.eta, seed=seeds)
    tau = _tau(P)
    T = int(round(P.iters * tau))
    tail = run_gd(list(probs.sensing), k=int(P.ks[1]), alpha=P.alpha, iters=T, record_every=max(1, T // 2000),
                  parameterization="symmetric", eta=P.eta, seed=seeds)
    return SensingRuns(exact, tail, int(P.ks[1]), P.r, P.n, P.m, P.alpha, P.eta, tau,
                       tuple(tail_windows(T, tau)), rates)


@dataclass(frozen=True)
class FactorizationRuns:
    """The factorization batch: per instance, the widths ``ks`` at ``alpha`` (the tail), then every
    ``k > r`` at each of the smaller ``alphas`` (the plateau).

    Attributes
    ----------
    result : GDResult
        Curves of shape (B, T), ``B = instances * (len(ks) + (len(ks) - 1) len(alphas))``.
    inst : ndarray of int, shape (B,)
        Instance of each run.
    ks : ndarray of int, shape (B,)
        Width of each run.
    alphas : ndarray of shape (B,)
        Scale of each run.
    tail : ndarray of bool, shape (B,)
        The tail runs (scale ``alpha``).
    r : int
    eta : float
    iters : int
        Horizon in iterations.
    t_b : ndarray of shape (B,)
        End of the signal phase of each run (:func:`opsense.burn_in_time`; NaN if never).
    s0 : tuple of (ndarray of shape (k - r,) or None)
        Redundant singular values of each run's start (None for ``k = r``).
    pred : ndarray of shape (B, T)
        The prediction (star) of the squared error (NaN rows for ``k = r``).
    rate_pred : float
        :func:`local_rate_symmetric` of the factorization problem (the same for every instance).
    """

    result: GDResult
    inst: np.ndarray
    ks: np.ndarray
    alphas: np.ndarray
    tail: np.ndarray
    r: int
    eta: float
    iters: int
    t_b: np.ndarray
    s0: tuple
    pred: np.ndarray
    rate_pred: float

    @property
    def err2(self) -> np.ndarray:
        """Squared errors ``||X X^T - M*||_F^2``, ``ndarray of shape (B, T)``."""
        return self.result.error ** 2


def run_factorization(P, probs: Problems) -> FactorizationRuns:
    """Run the factorization batch (every instance in one call) and compute each run's prediction (star).

    Parameters
    ----------
    P : Parameters
    probs : Problems

    Returns
    -------
    FactorizationRuns
    """
    one_k = list(P.ks) + [k for k in P.ks[1:] for _ in P.alphas]
    one_a = [P.alpha] * len(P.ks) + [a for _ in P.ks[1:] for a in P.alphas]
    I = len(probs.seeds)
    inst = [i for i in range(I) for _ in one_k]
    runs_k, runs_a = one_k * I, one_a * I
    rate = local_rate_symmetric(probs.factorization[0], eta=P.eta)
    T = int(round(P.iters_mf * _tau(P)))
    rec = record_interval(probs.factorization[0], eta=P.eta, iters=T, floor=FLOOR, rate=rate)
    res = run_gd([probs.factorization[i] for i in inst], k=runs_k, alpha=runs_a, iters=T, record_every=rec,
                 parameterization="symmetric", eta=P.eta, seed=[probs.seeds[i] for i in inst])
    t_b = burn_in_time(res, probs.sigma)
    s0, pred = [], np.full(res.error.shape, np.nan)
    for b, (i, k, a) in enumerate(zip(inst, runs_k, runs_a)):
        if k == P.r:
            s0.append(None)
            continue
        X0 = initial_factors(P.n, P.n, k, a, seed=probs.seeds[i])[0]
        s0.append(redundant_singular_values(X0, probs.factorization[i].target.U))
        pred[b] = cubic_tail(s0[-1], eta=P.eta, t=res.t)
    tail = np.array([j < len(P.ks) for j in range(len(one_k))] * I)
    return FactorizationRuns(res, np.array(inst), np.array(runs_k), np.array(runs_a, dtype=float), tail, P.r,
                             P.eta, T, t_b, tuple(s0), pred, rate)


# ---------------------------------------------------------------------------- the checks
@dataclass(frozen=True)
class ExactRates:
    """Late linear rates of the ``k = r`` runs against the linearized rate, per instance.

    Attributes
    ----------
    rate, r2, pred : dict of str to ndarray of shape (instances,)
        Keyed by ``"sensing"`` and ``"factorization"``: fitted rate per iteration, its
        semilog R^2, and :func:`local_rate_symmetric`.
    """

    rate: dict
    r2: dict
    pred: dict

    def ratio(self, name: str):
        """Interval over instances (log) of fitted / linearized rate, or NaN.

        Parameters
        ----------
        name : {"sensing", "factorization"}
        """
        return _interval(self.rate[name] / self.pred[name], log=True)


def exact_rates(probs: Problems, sens: SensingRuns, fact: FactorizationRuns) -> ExactRates:
    """Fit the rate of every ``k = r`` run on the second half of [end of the signal phase, floor].

    Parameters
    ----------
    probs : Problems
    sens : SensingRuns
    fact : FactorizationRuns

    Returns
    -------
    ExactRates
    """
    rate, r2, pred = {}, {}, {}
    exact_f = np.flatnonzero(fact.ks == fact.r)
    for name, res, rows, p in (("sensing", sens.exact, np.arange(len(probs.seeds)), sens.rate_pred),
                               ("factorization", fact.result, exact_f, np.full(len(exact_f), fact.rate_pred))):
        start = burn_in_time(res, probs.sigma)
        fits = [_nan_if_unmeasurable(late_rate, res.t, res.error[b] ** 2, start=start[b], floor=probs.floor)
                for b in rows]
        rate[name] = np.array([np.nan if isinstance(f, float) else f.estimate for f in fits])
        r2[name] = np.array([np.nan if isinstance(f, float) else f.r2 for f in fits])
        pred[name] = np.asarray(p, dtype=float)
    return ExactRates(rate, r2, pred)


@dataclass(frozen=True)
class Mechanism:
    """The redundant block against the cubic recursion, after ``2 t_b`` (largest over all runs).

    Attributes
    ----------
    dev_sv : float
        Largest relative deviation of the ``k - r`` smallest eigenvalues of ``X X^T`` from
        :math:`s_{j,t}^2` of the recursion.
    dev_err : float
        Largest relative deviation of the squared error from (star).
    bound_excess : float
        :func:`cubic_bound_excess`, largest over the runs (``<= 0``: the bounds hold).
    """

    dev_sv: float
    dev_err: float
    bound_excess: float


def _max_or_nan(x) -> float:
    x = np.asarray(x, dtype=float)
    return float(np.max(x)) if x.size else float("nan")


def mechanism(fact: FactorizationRuns) -> Mechanism:
    """Compare every ``k > r`` factorization run (every instance) with the cubic recursion after ``2 t_b``.

    Parameters
    ----------
    fact : FactorizationRuns

    Returns
    -------
    Mechanism
    """
    res, tf, r = fact.result, fact.result.t, fact.r
    dev_sv, dev_err, excess = [], [], []
    for b, s in enumerate(fact.s0):
        if s is None:
            continue
        late = tf >= 2 * fact.t_b[b]
        rec = cubic_recursion(s, eta=fact.eta, iters=fact.iters)
        sv = res.singular_values[b, late, r:int(fact.ks[b])]
        dev_sv.append(_max_or_nan(np.abs(sv / rec[tf[late]] ** 2 - 1)))
        dev_err.append(_max_or_nan(np.abs(fact.err2[b, late] / fact.pred[b, late] - 1)))
        excess.append(cubic_bound_excess(s, eta=fact.eta, iters=fact.iters))
    return Mechanism(float(np.max(dev_sv)), float(np.max(dev_err)), float(np.max(excess)))


@dataclass(frozen=True)
class Tails:
    """The tails: their constant in factorization, their windows and growth in sensing (per instance).

    Attributes
    ----------
    ks : tuple of int
        The widths ``k > r`` of the factorization tails.
    const : ndarray of shape (len(ks), instances)
        Extrapolated limit of ``eta^2 t^2 err`` (:func:`tail_constant` on ``[T/2, T]``).
    raw : ndarray of shape (len(ks), instances)
        ``eta^2 t^2 err`` at the last iterate.
    pred : ndarray of shape (len(ks),)
        ``(k - r) / 4``.
    t_last : int
        Last iteration of the factorization runs.
    k : int
        Width of the sensing tail runs.
    windows : tuple of (float, float)
        The sensing tail windows.
    slopes : ndarray of shape (instances, len(windows))
        Log-log slope of the sensing error on each window.
    g : ndarray of shape (instances, len(windows) + 1)
        ``eta^2 t^2 err`` of the sensing runs at the window edges (the first start, then each end).
    iters : int
        Horizon of the sensing tail runs.
    """

    ks: tuple
    const: np.ndarray
    raw: np.ndarray
    pred: np.ndarray
    t_last: int
    k: int
    windows: tuple
    slopes: np.ndarray
    g: np.ndarray
    iters: int

    @property
    def slope_intervals(self) -> list:
        """Interval over instances of each window's slope (NaN where unmeasurable)."""
        return [_interval(self.slopes[:, j]) for j in range(self.slopes.shape[1])]

    @property
    def deficit_ratio(self):
        """Interval (log) of ``(2 + slope of the last window) / (2 + slope of the first)``, or NaN."""
        d = 2.0 + self.slopes
        return _interval(d[:, -1] / d[:, 0], log=True)

    @property
    def growth(self):
        """Interval (log) of ``g(T) / g(start of the first window)``, or NaN."""
        return _interval(self.g[:, -1] / self.g[:, 0], log=True)

    @property
    def g_end(self):
        """Interval of ``eta^2 T^2 err(T)`` of the sensing tail runs, or NaN."""
        return _interval(self.g[:, -1])

    @property
    def g_min(self):
        """Interval of the smallest ``eta^2 t^2 err(t)`` over the window edges, or NaN."""
        return _interval(np.min(self.g, axis=1))

    def constant(self, i: int):
        """Interval over instances of the factorization tail constant of ``ks[i]``, or NaN.

        Parameters
        ----------
        i : int
        """
        return _interval(self.const[i])


def _value_at(t, y, when) -> float:
    i = int(np.argmin(np.abs(t - when)))
    return float(y[i])


def sensing_tail(sens: SensingRuns) -> tuple[np.ndarray, np.ndarray]:
    """Per instance: the log-log slope of the sensing tail on each window, and ``eta^2 t^2 err`` at the edges.

    Parameters
    ----------
    sens : SensingRuns

    Returns
    -------
    slopes : ndarray of shape (instances, len(windows))
        NaN where a window holds too few records.
    g : ndarray of shape (instances, len(windows) + 1)
        At the start of the first window, then at the end of each.
    """
    if not isinstance(sens, SensingRuns):
        raise ValueError(f"sens must be a SensingRuns, got {type(sens).__name__}")
    rs = sens.tail
    e2 = rs.error ** 2
    edges = [sens.windows[0][0]] + [w[1] for w in sens.windows]
    slopes, g = [], []
    for b in range(e2.shape[0]):
        fits = [_nan_if_unmeasurable(fit_power, rs.t, e2[b], window=w) for w in sens.windows]
        slopes.append([f if isinstance(f, float) else f.estimate for f in fits])
        g.append([(sens.eta * t) ** 2 * _value_at(rs.t, e2[b], t) for t in edges])
    return np.array(slopes, dtype=float), np.array(g, dtype=float)


def tails(sens: SensingRuns, fact: FactorizationRuns) -> Tails:
    """Measure the tail constant (factorization, scale ``alpha``) for each ``k > r``, and the sensing
    tail of width ``ks[1]`` (:func:`sensing_tail`).

    Parameters
    ----------
    sens : SensingRuns
    fact : FactorizationRuns

    Returns
    -------
    Tails
    """
    tf, e2f = fact.result.t, fact.err2
    ks = tuple(int(k) for k in sorted(set(fact.ks[fact.tail].tolist())) if k > fact.r)
    const, raw = [], []
    for k in ks:
        rows = np.flatnonzero(fact.tail & (fact.ks == k))
        const.append([_nan_if_unmeasurable(tail_constant, tf, e2f[b], eta=fact.eta,
                                           window=(fact.iters / 2, fact.iters)) for b in rows])
        raw.append([(fact.eta * tf[-1]) ** 2 * e2f[b, -1] for b in rows])
    pred = np.array([(k - fact.r) / 4 for k in ks])
    slopes, g = sensing_tail(sens)
    return Tails(ks, np.array(const), np.array(raw), pred, int(tf[-1]), sens.k, sens.windows, slopes, g,
                 int(sens.tail.t[-1]))


@dataclass(frozen=True)
class Plateaus:
    """The plateau runs read at ``t_p = 2 t_b``, every instance.

    Attributes
    ----------
    ks : ndarray of int, shape (J,)
    alphas : ndarray of shape (J,)
    inst : ndarray of int, shape (J,)
    tp : ndarray of shape (J,)
        The reading time (NaN if the run never ends its signal phase).
    formula : ndarray of shape (J,)
        ``err(t_p) / (star)(t_p)``.
    flat : ndarray of shape (J,)
        ``err(t_p) / sum_j s_j0^4``.
    order : ndarray of shape (J,)
        ``err(t_p) / ((k - r) alpha^4)``.
    scaling : dict of int to ndarray of shape (instances,)
        Per width ``k > r``: log-log slope of ``err(t_p)`` against ``alpha`` on each instance.
    scaling_tol : dict of int to float
        Per width: the largest ``|ln((star)(t_p) / sum_j s_j0^4)| / ln(alpha_max / alpha_min)`` over
        the instances, the deviation from 4 that the predicted loss of the plateau by ``t_p`` allows.
    """

    ks: np.ndarray
    alphas: np.ndarray
    inst: np.ndarray
    tp: np.ndarray
    formula: np.ndarray
    flat: np.ndarray
    order: np.ndarray
    scaling: dict
    scaling_tol: dict

    def slope(self, k: int):
        """Interval over instances of the alpha-slope of the plateau of width ``k``, or NaN.

        Parameters
        ----------
        k : int
        """
        return _interval(self.scaling[k])


def plateaus(fact: FactorizationRuns, *, n: int) -> Plateaus:
    """Read every plateau run at ``t_p = 2 t_b`` and fit the plateau against ``alpha`` per instance.

    Parameters
    ----------
    fact : FactorizationRuns
    n : int, keyword-only
        Size of the problem.

    Returns
    -------
    Plateaus
    """
    n = v.integer("n", n, minimum=2)
    tf, e2f, r = fact.result.t, fact.err2, fact.r
    rows = []
    for b in np.flatnonzero(~fact.tail):
        k, a, i = int(fact.ks[b]), float(fact.alphas[b]), int(fact.inst[b])
        j = int(np.searchsorted(tf, 2 * fact.t_b[b])) if np.isfinite(fact.t_b[b]) else len(tf)
        if j >= len(tf):                          # never fitted: nothing to read
            rows.append((k, a, i, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan))
            continue
        rows.append((k, a, i, float(tf[j]), e2f[b, j] / fact.pred[b, j], e2f[b, j] / np.sum(fact.s0[b] ** 4),
                     e2f[b, j] / ((k - r) * a ** 4), e2f[b, j], fact.pred[b, j] / np.sum(fact.s0[b] ** 4)))
    ks, alphas, inst, tp, formula, flat, order, err, pflat = (np.array(c) for c in zip(*rows))
    scaling, tol = {}, {}
    for k in sorted(set(ks.tolist())):
        sl, tl = [], []
        for i in sorted(set(inst.tolist())):
            sel = (ks == k) & (inst == i)
            ok = sel & np.isfinite(err)
            sl.append(fit_line(np.log(alphas[ok]), np.log(err[ok])).slope if ok.sum() >= 2 else np.nan)
            tl.append(np.max(np.abs(np.log(pflat[sel]))) / np.log(alphas[sel].max() / alphas[sel].min()))
        scaling[int(k)], tol[int(k)] = np.array(sl), float(np.max(tl))
    return Plateaus(ks.astype(int), alphas, inst.astype(int), tp, formula, flat, order, scaling, tol)


@dataclass(frozen=True)
class Checks:
    """Everything the chapter measures: the input of :func:`glue_values` and :func:`claims`.

    Attributes
    ----------
    exact : ExactRates
    mechanism : Mechanism
    tails : Tails
    plateaus : Plateaus
    """

    exact: ExactRates
    mechanism: Mechanism
    tails: Tails
    plateaus: Plateaus


# ---------------------------------------------------------------------------- printed tables, glue, claims
def describe(probs: Problems) -> str:
    """One line: the instances, the eigenvalues of the targets and the Gram-equivalent operator.

    Parameters
    ----------
    probs : Problems
    """
    same = all(np.array_equal(s.target.X, f.target.X) for s, f in zip(probs.sensing, probs.factorization))
    return (f"{len(probs.seeds)} instances | eigenvalues of M*: {np.round(probs.sigma, 3)} | "
            f"sensing and factorization share each target: {same} | m = {probs.m} measurements, run as "
            f"{probs.sensing[0].operator.m} Gram-equivalent ones")


def summary_exact(ex: ExactRates) -> str:
    """The rates of the ``k = r`` runs: one line per problem, intervals over instances.

    Parameters
    ----------
    ex : ExactRates
    """
    return "\n".join(f"{name:>13}: rate {_interval(ex.rate[name])} per iteration, linearized "
                     f"{_interval(ex.pred[name]) if np.ptp(ex.pred[name]) > 0 else f'{ex.pred[name][0]:.4g}'}, "
                     f"ratio {ex.ratio(name)}, smallest R^2 {np.min(ex.r2[name]):.6f}"
                     for name in ("sensing", "factorization"))


def summary_mechanism(mech: Mechanism) -> str:
    """The deviations from the recursion and the excess over the proposition's bounds.

    Parameters
    ----------
    mech : Mechanism
    """
    return (f"largest relative deviation after 2 t_b, over all instances: eigenvalues {mech.dev_sv:.1e}, "
            f"squared error {mech.dev_err:.1e}\n"
            f"largest excess over the bounds of the proposition (relative to u_t; <= 0: they hold): "
            f"{mech.bound_excess:.1e}")


def summary_tails(tl: Tails) -> str:
    """The factorization tail constants, then the sensing tail window by window (intervals over instances).

    Parameters
    ----------
    tl : Tails
    """
    lines = [f"factorization, k = {k}: eta^2 t^2 err -> {tl.constant(i)} (predicted {p:.3g}); "
             f"at t = {tl.t_last}: {_interval(tl.raw[i])}" for i, (k, p) in enumerate(zip(tl.ks, tl.pred))]
    for (a, b), iv in zip(tl.windows, tl.slope_intervals):
        lines.append(f"sensing, k = {tl.k}, window [{a:.0f}, {b:.0f}]: log-log slope {iv}")
    lines.append(f"sensing, k = {tl.k}: (2 + last slope) / (2 + first slope) = {tl.deficit_ratio}")
    lines.append(f"sensing, k = {tl.k}: eta^2 t^2 err at t = {tl.windows[0][0]:.0f}: {_interval(tl.g[:, 0])}, "
                 f"at T = {tl.iters}: {tl.g_end}; growth {tl.growth}; smallest over the window edges {tl.g_min}")
    return "\n".join(lines)


def summary_plateaus(pl: Plateaus) -> str:
    """One line per plateau width and scale (ranges over instances), then the alpha-slopes.

    Parameters
    ----------
    pl : Plateaus
    """
    lines = []
    for k in sorted(set(pl.ks.tolist())):
        for a in sorted(set(pl.alphas.tolist())):
            s = (pl.ks == k) & (pl.alphas == a)
            lines.append(f"k = {k}, alpha = {a:g}: err/(star) in [{np.min(pl.formula[s]):.4f}, "
                         f"{np.max(pl.formula[s]):.4f}], err/sum s0^4 in [{np.min(pl.flat[s]):.3f}, "
                         f"{np.max(pl.flat[s]):.3f}], err/((k-r) alpha^4) in [{np.min(pl.order[s]):.3f}, "
                         f"{np.max(pl.order[s]):.3f}]")
        lines.append(f"k = {k}: log-log slope of the plateau against alpha {pl.slope(k)} "
                     f"(predicted 4 ± {pl.scaling_tol[k]:.3f})")
    return "\n".join(lines)


def _iv(x, attr):
    return getattr(x, attr) if isinstance(x, Interval) else float("nan")


def glue_values(ch: Checks) -> dict:
    """The numbers the chapter's prose quotes, by glue name (glued with 3 significant digits).

    Parameters
    ----------
    ch : Checks
    """
    ex, me, tl, pl = ch.exact, ch.mechanism, ch.tails, ch.plateaus
    iA, iB = 0, len(tl.ks) - 1
    out = {"b1_mf_ratio": _iv(ex.ratio("factorization"), "mean"), "b1_mf_pred": float(ex.pred["factorization"][0]),
           "b1_sens_ratio": _iv(ex.ratio("sensing"), "mean"), "b1_sens_ratio_lo": _iv(ex.ratio("sensing"), "lo"),
           "b1_sens_ratio_hi": _iv(ex.ratio("sensing"), "hi"),
           "b1_sens_ratio_min": float(np.min(ex.rate["sensing"] / ex.pred["sensing"])),
           "b1_dev_sv": me.dev_sv, "b1_dev_err": me.dev_err,
           "b1_constA": _iv(tl.constant(iA), "mean"), "b1_constB": _iv(tl.constant(iB), "mean"),
           "b1_rawA": float(np.mean(tl.raw[iA])), "b1_rawB": float(np.mean(tl.raw[iB])),
           "b1_kA": int(tl.ks[iA]), "b1_kB": int(tl.ks[iB]), "b1_predA": float(tl.pred[iA]),
           "b1_predB": float(tl.pred[iB]), "b1_Tmf": tl.t_last, "b1_T": tl.iters, "b1_k": tl.k,
           "b1_win0": int(round(tl.windows[0][0])), "b1_nwin": len(tl.windows),
           "b1_g0": _iv(_interval(tl.g[:, 0]), "mean"), "b1_gT": _iv(tl.g_end, "mean"),
           "b1_gT_lo": _iv(tl.g_end, "lo"), "b1_gT_hi": _iv(tl.g_end, "hi"),
           "b1_growth": _iv(tl.growth, "mean"), "b1_growth_lo": _iv(tl.growth, "lo"),
           "b1_deficit": _iv(tl.deficit_ratio, "mean"), "b1_deficit_hi": _iv(tl.deficit_ratio, "hi"),
           "b1_slope_first": _iv(tl.slope_intervals[0], "mean"), "b1_slope_last": _iv(tl.slope_intervals[-1], "mean"),
           "b1_slope_last_lo": _iv(tl.slope_intervals[-1], "lo"),
           "b1_plat_formula": float(np.nanmax(np.abs(pl.formula - 1))), "b1_plat_flat": float(np.nanmin(pl.flat)),
           "b1_plat_lo": float(np.nanmin(pl.order)), "b1_plat_hi": float(np.nanmax(pl.order))}
    k1 = int(min(pl.scaling))
    out.update({"b1_plat_slope": _iv(pl.slope(k1), "mean"), "b1_plat_slope_lo": _iv(pl.slope(k1), "lo"),
                "b1_plat_slope_hi": _iv(pl.slope(k1), "hi"), "b1_plat_tol": pl.scaling_tol[k1]})
    return out


def glue_fits(ch: Checks) -> dict:
    """The R^2 the prose quotes (glue them with 5 significant digits).

    Parameters
    ----------
    ch : Checks
    """
    return {"b1_sens_r2": round(float(np.min(ch.exact.r2["sensing"])), 5)}


def claims(ch: Checks) -> list[Claim]:
    """The chapter's claims (the page states the basis of each tolerance).

    Parameters
    ----------
    ch : Checks

    Returns
    -------
    list of Claim
    """
    ex, me, tl, pl = ch.exact, ch.mechanism, ch.tails, ch.plateaus
    coupling = "2%: O(alpha^2 / sigma_r) coupling after the signal phase"
    out = [
        close("b1.exact-factorization-rate", "k = r, factorization: fitted / linearized rate of the squared error",
              ex.ratio("factorization"), 1.0, rtol=0.01, basis="derived-on-page",
              tolerance="1%: -2 ln(1 - eta sigma_r), fit on a straight semilog stretch"),
        at_least("b1.exact-sensing-linear", "k = r, sensing: semilog fit R^2", _interval(ex.r2["sensing"]), 0.999,
                 basis="theory", tolerance="straight semilog line (linear convergence)"),
        at_least("b1.exact-sensing-rate-bound", "k = r, sensing: smallest fitted / linearized rate over the instances",
                 float(np.min(ex.rate["sensing"] / ex.pred["sensing"])), 0.995, basis="derived-on-page",
                 form="bound", tolerance="the slowest linearized mode bounds the asymptotic rate; -0.5% fit noise"),
        close("b1.exact-sensing-rate", "k = r, sensing: fitted / linearized rate", ex.ratio("sensing"), 1.0,
              rtol=0.05, basis="derived-on-page", form="paired-ratio",
              tolerance="5%: the slowest mode can carry little of the error over the fitted stretch"),
        between("b1.mechanism-eigenvalues", "factorization, k > r: redundant eigenvalues vs cubic recursion, "
                "t >= 2 t_b, every instance", me.dev_sv, 0.0, 0.02, basis="derived-on-page", tolerance=coupling),
        between("b1.mechanism-error", "factorization, k > r: squared error vs (star), t >= 2 t_b, every instance",
                me.dev_err, 0.0, 0.02, basis="derived-on-page", tolerance=coupling),
        at_most("b1.proposition-bounds", "largest excess of the cubic recursion over the bounds of the "
                "proposition, relative to u_t", me.bound_excess, 1e-9, basis="derived-on-page",
                tolerance="exact (proved); rounding 1e-9"),
    ]
    for i, (k, p) in enumerate(zip(tl.ks, tl.pred)):
        out.append(close(f"b1.tail-constant-k{k}", f"factorization, k = {k}: lim eta^2 t^2 err", tl.constant(i), p,
                         rtol=0.01, basis="derived-on-page",
                         tolerance="1%: limit (k - r)/4, proved; log correction and coupling below 1e-3"))
    for j, ((a, b), iv) in enumerate(zip(tl.windows, tl.slope_intervals)):
        out.append(at_least(f"b1.tail-slope-k{tl.k}-w{j + 1}", f"sensing, k = {tl.k}: log-log slope of err on "
                            f"[{a:.0f}, {b:.0f}] (window {j + 1} of {len(tl.windows)})", iv, -2.0, basis="theory",
                            form="bound", tolerance="Omega(1/T^2): no window steeper than -2 (a least-squares "
                            "slope is a weighted mean of local slopes)"))
    out += [
        at_most(f"b1.tail-approach-k{tl.k}", f"sensing, k = {tl.k}: (2 + slope of the last window) / "
                "(2 + slope of the first)", tl.deficit_ratio, 1.0, basis="theory", form="paired-ratio",
                tolerance="< 1: the slope approaches -2 (excludes a power law t^-p, p < 2: ratio 1)"),
        at_least(f"b1.tail-bounded-below-k{tl.k}", f"sensing, k = {tl.k}: eta^2 t^2 err at T / at the start of "
                 f"the first window (t = {tl.windows[0][0]:.0f})", tl.growth, 1.0, basis="theory",
                 form="paired-ratio", tolerance=f">= 1: Omega(1/T^2) over {tl.iters / tl.windows[0][0]:.0f}x in t "
                 "(t^-(2+e) would give a ratio below 1)"),
    ]
    for k in sorted(pl.scaling):
        s = pl.ks == k
        out += [
            at_most(f"b1.plateau-formula-k{k}", f"k = {k}: largest |err(t_p) / (star)(t_p) - 1| over alphas and "
                    "instances", float(np.max(np.abs(pl.formula[s] - 1))), 0.02, basis="derived-on-page",
                    tolerance=coupling),
            between(f"b1.plateau-flat-k{k}", f"k = {k}: smallest err(t_p) / sum_j s_j0^4 over alphas and instances",
                    float(np.min(pl.flat[s])), 0.5, 1.02, basis="derived-on-page",
                    tolerance="(star): (1 + 2 eta t_p s^2)^-2 >= 1/2 on the plateau"),
            close(f"b1.plateau-scaling-k{k}", f"k = {k}: log-log slope of err(t_p) against alpha", pl.slope(k), 4.0,
                  atol=pl.scaling_tol[k] + 0.01, basis="derived-on-page", form="scaling",
                  tolerance=f"{pl.scaling_tol[k] + 0.01:.3f}: loss of (star) by t_p, plus 1% coupling "
                  "(excludes alpha^3, alpha^2)"),
        ]
    return out


# ---------------------------------------------------------------------------- figures
ERR = r"$\|XX^\top - M^\star\|_F^2$"
GERR = r"$\eta^2 t^2\,\|XX^\top - M^\star\|_F^2$"


def plot_sensing(sens: SensingRuns):
    """The sensing figure: the ``k = r`` runs (semilog), the tail's ``eta^2 t^2 err`` and its window slopes.

    Every instance is drawn; the slopes carry their 95% interval over instances.

    Parameters
    ----------
    sens : SensingRuns

    Returns
    -------
    fig, (ax_exact, ax_tail, ax_slopes)
    """
    if not isinstance(sens, SensingRuns):
        raise ValueError(f"sens must be a SensingRuns, got {type(sens).__name__}")
    slopes = sensing_tail(sens)[0]
    fig, axes = figure(3, width=12.0, height=3.8)
    ex, tr = sens.exact, sens.tail
    I = ex.error.shape[0]
    plot_curves(axes[0], ex.t, ex.error ** 2, [f"instance {i + 1}" for i in range(I)], ylabel=ERR, lw=1,
                title=f"k = r = {sens.r}: linear ({I} instances)")
    t = tr.t[1:].astype(float)
    plot_curves(axes[1], t, (sens.eta * t) ** 2 * tr.error[:, 1:] ** 2, [f"instance {i + 1}" for i in range(I)],
                logx=True, logy=False, ylabel=GERR, lw=1,
                title=f"k = {sens.k}: n = {sens.n}, m = {sens.m}, {param_label('alpha', sens.alpha)}")
    axes[1].axhline((sens.k - sens.r) / 4, color="k", ls="--", lw=1, label="(k − r)/4 (factorization)")
    for j, (a, b) in enumerate(sens.windows):
        axes[1].axvspan(a, b, color="0.93" if j % 2 else "0.86", zorder=0)
    late = tr.t >= sens.windows[0][0]
    top = max(float(np.max((sens.eta * tr.t[late]) ** 2 * tr.error[:, late] ** 2)), (sens.k - sens.r) / 4)
    axes[1].set_ylim(0, 1.6 * top)
    axes[1].legend(fontsize="small")
    mids = np.array([np.sqrt(a * b) for a, b in sens.windows])
    for i in range(slopes.shape[0]):
        axes[2].plot(mids * (1 + 0.03 * (i - I / 2)), slopes[i], "o", ms=3, color="0.6")
    ivs = [_interval(slopes[:, j]) for j in range(slopes.shape[1])]
    means = np.array([_iv(x, "mean") for x in ivs])
    err = np.array([[_iv(x, "mean") - _iv(x, "lo") for x in ivs], [_iv(x, "hi") - _iv(x, "mean") for x in ivs]])
    axes[2].errorbar(mids, means, yerr=err, fmt="s-", color="C3", capsize=3, label="mean, 95% interval")
    axes[2].axhline(-2.0, color="k", ls="--", lw=1, label="−2 (the lower bound)")
    axes[2].set_xscale("log")
    axes[2].set_xlabel("window (geometric middle), iteration t")
    axes[2].set_ylabel("log-log slope on the window")
    axes[2].set_title("local slopes, per instance (grey)")
    axes[2].legend(fontsize="small")
    return fig, tuple(axes)


def plot_factorization(fact: FactorizationRuns):
    """The factorization figure: the plateau runs of the first ``k > r`` with (star) (first instance), and
    the tail constant of every instance.

    Parameters
    ----------
    fact : FactorizationRuns

    Returns
    -------
    fig, (ax_plateau, ax_constant)
    """
    if not isinstance(fact, FactorizationRuns):
        raise ValueError(f"fact must be a FactorizationRuns, got {type(fact).__name__}")
    tf, e2f, ks, alphas = fact.result.t, fact.err2, fact.ks, fact.alphas
    k1 = int(sorted(set(ks[ks > fact.r].tolist()))[0])
    show = [b for b in np.flatnonzero((fact.inst == 0) & (ks == k1))]
    show.sort(key=lambda b: alphas[b])
    fig, axes = figure(2, width=9.6, height=3.8)
    plot_curves(axes[0], tf[1:], e2f[show, 1:],
                [f"XXᵀ, k = {k1}, {param_label('alpha', alphas[b])}" for b in show], logx=True, ylabel=ERR,
                title="factorization, instance 1: plateau, then 1/t² (dashed: (⋆))")
    for line, b in zip(list(axes[0].get_lines()), show):
        axes[0].plot(tf[1:], fact.pred[b, 1:], "--", color=line.get_color(), lw=1)
    kt = sorted(set(ks[fact.tail & (ks > fact.r)].tolist()))
    for c, k in enumerate(kt):
        rows = np.flatnonzero(fact.tail & (ks == k))
        for n_, b in enumerate(rows):
            axes[1].plot(tf[1:], (fact.eta * tf[1:]) ** 2 * e2f[b, 1:], color=f"C{c}", lw=1,
                         label=f"k = {k} ({len(rows)} instances)" if n_ == 0 else None)
        axes[1].axhline((k - fact.r) / 4, ls="--", color=f"C{c}", lw=1)
    axes[1].set_xscale("log")
    axes[1].set_xlabel("iteration t")
    axes[1].set_ylabel(GERR)
    axes[1].set_title("the constant of the tail (dashed: (k − r)/4)")
    axes[1].set_ylim(0, 0.3 * (max(kt) - fact.r) + 0.05)
    axes[1].legend()
    return fig, tuple(axes)


def evaluate(P) -> list[Claim]:
    """Run the chapter's whole computation as its notebook does, and return its claims.

    The same calls, in the same order and with the same arguments, as ``book/b1_symmetric.ipynb``
    (without its figures, printed tables and glue).

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure`.

    Returns
    -------
    list of Claim
        The list the notebook passes to :func:`opsense.evaluate_claims`.
    """
    probs = problems(P)
    sens = run_sensing(P, probs)
    fact = run_factorization(P, probs)
    exact = exact_rates(probs, sens, fact)
    mech = mechanism(fact)
    tail = tails(sens, fact)
    plat = plateaus(fact, n=P.n)
    return claims(Checks(exact, mech, tail, plat))
