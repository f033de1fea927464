"""Chapter ``b1_symmetric``: the symmetric parameterization, exact (``k = r``) versus over-parameterized.

Gradient descent on :math:`XX^\\top` fits a rank-``r`` PSD matrix. With ``k = r`` the error
decays linearly, at the rate of the linearized map (:func:`local_rate_symmetric`); with
``k > r`` every redundant singular value of :math:`X` follows the **cubic recursion**
:math:`s_{t+1}=s_t(1-\\eta s_t^2)` (paper B, Xiong, Ding & Du, ICLR 2024, derived on the
page), whose solution behaves like :math:`s_t^2\\approx 1/(s_0^{-2}+2\\eta t)`: a plateau of
order :math:`(k-r)\\alpha^4`, then the tail :math:`(k-r)/(4\\eta^2t^2)`.

The scalar model: :func:`cubic_recursion`, :func:`cubic_tail`,
:func:`redundant_singular_values`, :func:`tail_constant`, :func:`plateau_ratio_samples`,
:func:`cubic_bound_excess`. The experiments of the page: :func:`problems`,
:func:`run_sensing`, :func:`run_factorization`, then the checks :func:`exact_rates`,
:func:`mechanism`, :func:`tails`, :func:`plateaus`, gathered in :class:`Checks`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..config import Cost, gd_cost, parameter_check
from ..analysis import burn_in_time, fit_line, fit_power, late_rate, signal_time
from ..claims import Claim, at_most, between, close
from ..engine.factors import initial_factors
from ..engine.gd import GDResult, run_gd
from ..engine.problems import Problem, check_problem, make_problem
from ..plotting import figure, param_label, plot_curves

__all__ = ["PRESETS", "FLOOR", "check", "cost", "cubic_recursion", "cubic_tail", "cubic_bound_excess",
           "redundant_singular_values", "tail_constant", "plateau_ratio_samples", "local_rate_symmetric",
           "record_interval", "Problems", "SensingRuns", "FactorizationRuns", "ExactRates",
           "Mechanism", "Tails", "Plateaus", "Checks", "problems", "run_sensing", "run_factorization",
           "exact_rates", "mechanism", "tails", "plateaus", "describe", "summary_exact", "summary_mechanism",
           "summary_tails", "summary_plateaus", "glue_values", "glue_fits", "claims", "plot_sensing",
           "plot_factorization", "evaluate"]

#: Parameter sets: ``book`` (n 20, about 10 s) and ``paper`` (n 50, r 3, longer horizons).
PRESETS = {
    "book": dict(n=20, r=2, kappa=2.0, m=600, ks=[2, 3, 5], alpha=0.1, alphas=[0.003, 0.01, 0.03],
                 eta=0.1, iters=20000, iters_mf=40000, seed=0),
    "paper": dict(n=50, r=3, kappa=2.0, m=2000, ks=[3, 4, 6], alpha=0.1, alphas=[0.003, 0.01, 0.03],
                  eta=0.1, iters=40000, iters_mf=200000, seed=0),
}

#: Fits ignore squared errors below ``FLOOR * ||M*||_F^2`` (the float64 floor is about 1e-30).
FLOOR = 1e-24
#: Largest step size: gradient descent is stable for eta <= 1/(3 sigma_1(A*(y))), sigma_1(M*) = 1.
MAX_ETA = 0.2
#: Largest condition number (the signal phase lasts about kappa times longer).
MAX_KAPPA = 10.0
#: Largest eta * alpha**2 of the tail runs (a small initialization) and of the plateau runs.
MAX_TAIL_SCALE = 0.01
MAX_PLATEAU_SCALE = 1e-4
#: Largest number of entries of one array (the operator m x n x n, the linearization n r x n x n).
MAX_ENTRIES = 50_000_000
#: Largest sensing work iters * len(ks) * m * n**2 (multiply-adds; about ten minutes).
MAX_WORK = 5e12
#: Largest horizon of a run (the loop is Python: about a minute per million iterations).
MAX_ITERS = 2_000_000
#: Number of samples of the exact plateau distribution.
PLATEAU_SAMPLES = 20000


@parameter_check
def check(P) -> None:
    """Refuse infeasible parameters of the chapter, naming the parameter.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (attributes ``n, r, kappa, m, ks, alpha, alphas, eta,
        iters, iters_mf, seed``), types already checked.

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
    sig = {a: signal_time(a, eta=P.eta, kappa=P.kappa, n=n) for a in [P.alpha, *P.alphas]}
    short = [a for a in P.alphas if 2 * sig[a] > 0.1 / (P.eta * a * a)]
    if short:
        raise ValueError(f"parameter alphas must keep 1/(eta alpha**2) >= 20 times the signal phase "
                         f"kappa ln(100 n / (kappa alpha**2)) / eta (the plateau is read at twice its end), "
                         f"got {short}")
    tau = 1.0 / (P.eta * P.alpha ** 2)
    v.at_least("iters", P.iters, max(10 * tau, 4 * sig[P.alpha]), "slope window [5, 10+] / (eta alpha^2)")
    v.at_least("iters_mf", P.iters_mf, max(20 * tau, 4 * max(sig.values())),
               "tail window [T/2, T], T >= 20 / (eta alpha^2), after the signal phase of every run")
    for name in ("iters", "iters_mf"):
        if getattr(P, name) > MAX_ITERS:
            raise ValueError(f"parameter {name} must be <= {MAX_ITERS:,} (run time), got {getattr(P, name)}")
    work = float(P.iters) * len(ks) * m * n * n
    if work > MAX_WORK:
        raise ValueError(f"parameter iters must keep iters * len(ks) * m * n**2 <= {MAX_WORK:.0e} (run time), "
                         f"got {work:.2e}")
    if P.seed < 0:
        raise ValueError(f"parameter seed must be an integer >= 0, got {P.seed}")








def cost(P) -> Cost:
    """What the chapter's runs cost, from the parameters alone (pure arithmetic, nothing is run).

    ``work`` sums :func:`run_sensing` (``len(ks)`` symmetric runs of ``iters`` steps on the ``m x n^2``
    operator, two passes per step), the linearization of :func:`local_rate_symmetric` (``A*A`` applied
    to ``n r`` directions: ``2 n r m n^2``) and :func:`run_factorization` (``len(ks) + (len(ks) - 1)
    len(alphas)`` identity runs of ``iters_mf`` steps, ``3 n^2 max(ks)`` each). The recording
    interval of :func:`record_interval` is estimated with the factorization rate
    ``-2 ln(1 - eta / kappa)`` (``sigma_r = 1 / kappa``). ``memory_bytes``: the operator, the
    linearization (``n r (2 n^2 + m)``), the factors and curves of both batches and the predictions.

    Parameters
    ----------
    P : Parameters
        From :func:`opsense.configure` (already checked by :func:`check`).

    Returns
    -------
    opsense.config.Cost
    """
    n, r, m = int(P.n), int(P.r), int(P.m)
    ks = [int(k) for k in P.ks]
    K = max(ks)
    rate = -2.0 * np.log(1.0 - P.eta / P.kappa)

    def every(iters):
        return max(1, min(iters // 1000, int(np.log(1 / FLOOR) / (rate * 10))))

    w_s, b_s = gd_cost(len(ks), int(P.iters), m=m, n1=n, n2=n, k=K, r=r, every=every(int(P.iters)))
    runs_f = len(ks) + (len(ks) - 1) * len(P.alphas)
    rec_f = every(int(P.iters_mf))
    w_f, b_f = gd_cost(runs_f, int(P.iters_mf), m=0, n1=n, n2=n, k=K, r=r, every=rec_f)
    w_lin = 2.0 * n * r * m * n * n
    memory = 8.0 * (m * n * n + n * r * (2 * n * n + m) + runs_f * (int(P.iters_mf) // rec_f + 2)) + b_s + b_f
    return Cost(memory_bytes=memory, work=w_s + w_lin + w_f,
                drivers=("iters", "m", "n", "ks", "iters_mf", "alphas"))


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
def _nan_if_unmeasurable(fn, *args, **kwargs) -> float:
    """``fn(...)``, or NaN when the curve does not allow the fit (a claim on it then fails)."""
    try:
        return fn(*args, **kwargs)
    except ValueError:
        return float("nan")


def _max_or_nan(x) -> float:
    x = np.asarray(x, dtype=float)
    return float(np.max(x)) if x.size else float("nan")


@dataclass(frozen=True)
class Problems:
    """One PSD target, measured by a symmetrized Gaussian operator and by the identity.

    Attributes
    ----------
    sensing : Problem
        ``m`` symmetrized Gaussian measurements.
    factorization : Problem
        The identity operator (matrix factorization); the same target (same seed).
    """

    sensing: Problem
    factorization: Problem

    @property
    def sigma(self) -> np.ndarray:
        """Eigenvalues of the target, ``ndarray of shape (r,)``."""
        return self.sensing.target.sigma

    @property
    def floor(self) -> float:
        """The fitting floor ``FLOOR * ||M*||_F^2``."""
        return float(FLOOR * np.sum(self.sigma ** 2))


def problems(P) -> Problems:
    """The chapter's two problems (see :class:`Problems`).

    Parameters
    ----------
    P : Parameters
        Uses ``n, r, m, kappa, seed``.

    Returns
    -------
    Problems
    """
    sens = make_problem(P.n, P.n, P.r, P.m, kappa=P.kappa, psd=True, seed=P.seed)
    fact = make_problem(P.n, P.n, P.r, kappa=P.kappa, psd=True, operator="identity", seed=P.seed)
    return Problems(sens, fact)


@dataclass(frozen=True)
class SensingRuns:
    """The sensing batch: the widths ``ks`` at scale ``alpha`` (nested columns).

    Attributes
    ----------
    result : GDResult
        One run per width; curves of shape (len(ks), T).
    ks : tuple of int
        The widths, ``ks[0] == r``.
    r, n, m : int
    alpha, eta : float
    tau : float
        End of the plateau, ``1 / (eta alpha^2)``.
    window : (float, float)
        The slope window ``(5 tau, iters)``.
    rate_pred : float
        :func:`local_rate_symmetric` of the sensing problem.
    """

    result: GDResult
    ks: tuple
    r: int
    n: int
    m: int
    alpha: float
    eta: float
    tau: float
    window: tuple
    rate_pred: float


def run_sensing(P, probs: Problems) -> SensingRuns:
    """Run the sensing batch (symmetric GD, one run per width in ``P.ks`` at scale ``P.alpha``).

    Records at least 10 points in the linear decay of the ``k = r`` run (:func:`record_interval`).

    Parameters
    ----------
    P : Parameters
    probs : Problems

    Returns
    -------
    SensingRuns
    """
    rate = local_rate_symmetric(probs.sensing, eta=P.eta)
    rec = record_interval(probs.sensing, eta=P.eta, iters=P.iters, floor=FLOOR, rate=rate)
    res = run_gd(probs.sensing, k=P.ks, alpha=P.alpha, iters=P.iters, record_every=rec,
                 parameterization="symmetric", eta=P.eta, seed=P.seed)
    tau = 1.0 / (P.eta * P.alpha ** 2)
    return SensingRuns(res, tuple(P.ks), P.r, P.n, P.m, P.alpha, P.eta, tau, (5 * tau, float(P.iters)), rate)


@dataclass(frozen=True)
class FactorizationRuns:
    """The factorization batch: the widths ``ks`` at ``alpha`` (the tail), then every ``k > r``
    at each of the smaller ``alphas`` (the plateau).

    Attributes
    ----------
    result : GDResult
        Curves of shape (B, T), ``B = len(ks) + (len(ks) - 1) len(alphas)``.
    ks : ndarray of int, shape (B,)
        Width of each run.
    alphas : ndarray of shape (B,)
        Scale of each run.
    n_tail : int
        The first ``n_tail = len(ks)`` runs are the tail runs (scale ``alpha``).
    r : int
    eta : float
    iters : int
    t_b : ndarray of shape (B,)
        End of the signal phase of each run (:func:`opsense.burn_in_time`; NaN if never).
    s0 : tuple of (ndarray of shape (k - r,) or None)
        Redundant singular values of each run's start (None for ``k = r``).
    pred : ndarray of shape (B, T)
        The prediction (star) of the squared error (NaN rows for ``k = r``).
    rate_pred : float
        :func:`local_rate_symmetric` of the factorization problem.
    """

    result: GDResult
    ks: np.ndarray
    alphas: np.ndarray
    n_tail: int
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
    """Run the factorization batch and compute each run's prediction (star).

    Parameters
    ----------
    P : Parameters
    probs : Problems

    Returns
    -------
    FactorizationRuns
    """
    fact = probs.factorization
    runs_k = list(P.ks) + [k for k in P.ks[1:] for _ in P.alphas]
    runs_a = [P.alpha] * len(P.ks) + [a for _ in P.ks[1:] for a in P.alphas]
    rate = local_rate_symmetric(fact, eta=P.eta)
    rec = record_interval(fact, eta=P.eta, iters=P.iters_mf, floor=FLOOR, rate=rate)
    res = run_gd(fact, k=runs_k, alpha=runs_a, iters=P.iters_mf, record_every=rec,
                 parameterization="symmetric", eta=P.eta, seed=P.seed)
    t_b = burn_in_time(res, probs.sigma)
    s0, pred = [], np.full(res.error.shape, np.nan)
    for b, (k, a) in enumerate(zip(runs_k, runs_a)):
        if k == P.r:
            s0.append(None)
            continue
        X0 = initial_factors(P.n, P.n, k, a, seed=P.seed)[0]
        s0.append(redundant_singular_values(X0, fact.target.U))
        pred[b] = cubic_tail(s0[-1], eta=P.eta, t=res.t)
    return FactorizationRuns(res, np.array(runs_k), np.array(runs_a, dtype=float), len(P.ks), P.r, P.eta,
                             P.iters_mf, t_b, tuple(s0), pred, rate)


# ---------------------------------------------------------------------------- the checks
@dataclass(frozen=True)
class ExactRates:
    """Late linear rates of the ``k = r`` runs against the linearized rate.

    Attributes
    ----------
    rate, r2, pred : dict of str to float
        Keyed by ``"sensing"`` and ``"factorization"``: fitted rate per iteration, its
        semilog R^2, and :func:`local_rate_symmetric`.
    """

    rate: dict
    r2: dict
    pred: dict


def exact_rates(probs: Problems, sens: SensingRuns, fact: FactorizationRuns) -> ExactRates:
    """Fit the rate of the ``k = r`` runs on the second half of [end of the signal phase, floor].

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
    for name, runs in (("sensing", sens), ("factorization", fact)):
        res = runs.result
        start = burn_in_time(res, probs.sigma)[0]
        fit = _nan_if_unmeasurable(late_rate, res.t, res.error[0] ** 2, start=start, floor=probs.floor)
        rate[name] = float("nan") if isinstance(fit, float) else fit.estimate
        r2[name] = float("nan") if isinstance(fit, float) else fit.r2
        pred[name] = runs.rate_pred
    return ExactRates(rate, r2, pred)


@dataclass(frozen=True)
class Mechanism:
    """The redundant block against the cubic recursion, after ``2 t_b``.

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


def mechanism(fact: FactorizationRuns) -> Mechanism:
    """Compare every ``k > r`` factorization run with the cubic recursion after ``2 t_b``.

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
    """The tails: their constant in factorization, their slope in sensing.

    Attributes
    ----------
    ks : tuple of int
        The widths ``k > r``.
    const : ndarray of shape (len(ks),)
        Extrapolated limit of ``eta^2 t^2 err`` (:func:`tail_constant` on ``[T/2, T]``).
    raw : ndarray of shape (len(ks),)
        ``eta^2 t^2 err`` at the last iterate.
    pred : ndarray of shape (len(ks),)
        ``(k - r) / 4``.
    slope : ndarray of shape (len(ks),)
        Log-log slope of the sensing error on ``window``.
    t_last : int
        Last iteration of the factorization runs.
    window : (float, float)
        The sensing slope window.
    iters : int
        Horizon of the sensing runs.
    """

    ks: tuple
    const: np.ndarray
    raw: np.ndarray
    pred: np.ndarray
    slope: np.ndarray
    t_last: int
    window: tuple
    iters: int


def tails(sens: SensingRuns, fact: FactorizationRuns) -> Tails:
    """Measure the tail constant (factorization, scale ``alpha``) and slope (sensing) for each ``k > r``.

    Parameters
    ----------
    sens : SensingRuns
    fact : FactorizationRuns

    Returns
    -------
    Tails
    """
    tf, e2f, rs = fact.result.t, fact.err2, sens.result
    ks = sens.ks[1:]
    const, raw, slope = [], [], []
    for b in range(1, len(sens.ks)):
        const.append(_nan_if_unmeasurable(tail_constant, tf, e2f[b], eta=fact.eta,
                                          window=(fact.iters / 2, fact.iters)))
        raw.append((fact.eta * tf[-1]) ** 2 * e2f[b, -1])
        fit = _nan_if_unmeasurable(fit_power, rs.t, rs.error[b] ** 2, window=sens.window)
        slope.append(fit if isinstance(fit, float) else fit.estimate)
    pred = np.array([(k - sens.r) / 4 for k in ks])
    return Tails(ks, np.array(const), np.array(raw), pred, np.array(slope), int(tf[-1]), sens.window,
                 int(rs.t[-1]))


@dataclass(frozen=True)
class Plateaus:
    """The plateau runs read at ``t_p = 2 t_b``.

    Attributes
    ----------
    ks : ndarray of int, shape (J,)
    alphas : ndarray of shape (J,)
    tp : ndarray of shape (J,)
        The reading time (NaN if the run never ends its signal phase).
    formula : ndarray of shape (J,)
        ``err(t_p) / (star)(t_p)``.
    flat : ndarray of shape (J,)
        ``err(t_p) / sum_j s_j0^4``.
    order : ndarray of shape (J,)
        ``err(t_p) / ((k - r) alpha^4)``.
    p_out : float
        Largest probability over the initialization that ``order`` leaves ``[1/20, 20]``
        (exact distribution, :func:`plateau_ratio_samples`, at ``t = 0`` and at the latest ``t_p``).
    """

    ks: np.ndarray
    alphas: np.ndarray
    tp: np.ndarray
    formula: np.ndarray
    flat: np.ndarray
    order: np.ndarray
    p_out: float


def plateaus(fact: FactorizationRuns, *, n: int) -> Plateaus:
    """Read every plateau run at ``t_p = 2 t_b`` and sample the exact plateau distribution.

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
    for b in range(fact.n_tail, len(fact.ks)):
        k, a = int(fact.ks[b]), float(fact.alphas[b])
        i = int(np.searchsorted(tf, 2 * fact.t_b[b]))
        if i >= len(tf):                          # never fitted: nothing to read
            rows.append((k, a, np.nan, np.nan, np.nan, np.nan))
            continue
        rows.append((k, a, float(tf[i]), e2f[b, i] / fact.pred[b, i], e2f[b, i] / np.sum(fact.s0[b] ** 4),
                     e2f[b, i] / ((k - r) * a ** 4)))
    ks, alphas, tp, formula, flat, order = (np.array(c) for c in zip(*rows))
    c_max = float(np.nanmax(fact.eta * alphas ** 2 * tp)) if np.isfinite(tp).any() else 0.0
    p_out = max(float(np.mean(~((x >= 1 / 20) & (x <= 20)))) for x in
                [plateau_ratio_samples(n, r, k, c=cc, samples=PLATEAU_SAMPLES, seed=1)
                 for k in sorted(set(ks.tolist())) for cc in (0.0, c_max)])
    return Plateaus(ks.astype(int), alphas, tp, formula, flat, order, p_out)


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
    """One line: the eigenvalues of the target and that both problems share it.

    Parameters
    ----------
    probs : Problems
    """
    same = np.array_equal(probs.sensing.target.X, probs.factorization.target.X)
    return f"eigenvalues of M*: {np.round(probs.sigma, 3)} | same target: {same}"


def summary_exact(ex: ExactRates) -> str:
    """The rates of the ``k = r`` runs, one line per problem.

    Parameters
    ----------
    ex : ExactRates
    """
    return "\n".join(f"{name:>13}: rate {ex.rate[name]:.4f} per iteration (R^2 {ex.r2[name]:.5f}), "
                     f"linearized {ex.pred[name]:.4f}, ratio {ex.rate[name] / ex.pred[name]:.3f}"
                     for name in ("sensing", "factorization"))


def summary_mechanism(mech: Mechanism) -> str:
    """The deviations from the recursion and the excess over the proposition's bounds.

    Parameters
    ----------
    mech : Mechanism
    """
    return (f"largest relative deviation after 2 t_b: eigenvalues {mech.dev_sv:.1e}, "
            f"squared error {mech.dev_err:.1e}\n"
            f"largest excess over the bounds of the proposition (relative to u_t; <= 0: they hold): "
            f"{mech.bound_excess:.1e}")


def summary_tails(tl: Tails) -> str:
    """One line per ``k > r``: the tail constant, its prediction, the raw product and the sensing slope.

    Parameters
    ----------
    tl : Tails
    """
    return "\n".join(f"k = {k}: eta^2 t^2 err -> {c:.4f} (predicted {p:.3g}; at t = {tl.t_last}: {w:.4f}); "
                     f"sensing log-log slope {s:.3f}"
                     for k, c, p, w, s in zip(tl.ks, tl.const, tl.pred, tl.raw, tl.slope))


def summary_plateaus(pl: Plateaus) -> str:
    """One line per plateau run, and the probability of leaving the band.

    Parameters
    ----------
    pl : Plateaus
    """
    lines = [f"k = {k}, alpha = {a:g}: t_p = {tp:.0f}, err/(star) = {f:.4f}, err/sum s0^4 = {fl:.3f}, "
             f"err/((k-r) alpha^4) = {o:.3f}"
             for k, a, tp, f, fl, o in zip(pl.ks, pl.alphas, pl.tp, pl.formula, pl.flat, pl.order)]
    lines.append(f"probability over the initialization of leaving [1/20, 20]: {pl.p_out:.1e}")
    return "\n".join(lines)


def glue_values(ch: Checks) -> dict:
    """The numbers the chapter's prose quotes, by glue name (glued with 3 significant digits).

    Parameters
    ----------
    ch : Checks
    """
    ex, me, tl, pl = ch.exact, ch.mechanism, ch.tails, ch.plateaus
    iA, iB = 0, len(tl.ks) - 1
    return {
        "b1_mf_rate": ex.rate["factorization"], "b1_mf_pred": ex.pred["factorization"],
        "b1_sens_rate": ex.rate["sensing"], "b1_sens_pred": ex.pred["sensing"],
        "b1_dev_sv": me.dev_sv, "b1_dev_err": me.dev_err,
        "b1_constA": tl.const[iA], "b1_constB": tl.const[iB], "b1_rawA": tl.raw[iA], "b1_rawB": tl.raw[iB],
        "b1_slopeA": tl.slope[iA], "b1_slopeB": tl.slope[iB],
        "b1_plat_formula": float(np.max(np.abs(pl.formula - 1))), "b1_plat_flat": float(np.min(pl.flat)),
        "b1_plat_lo": float(np.min(pl.order)), "b1_plat_hi": float(np.max(pl.order)), "b1_p_out": pl.p_out,
        "b1_win0": int(round(tl.window[0])), "b1_kA": int(tl.ks[iA]), "b1_kB": int(tl.ks[iB]),
        "b1_predA": float(tl.pred[iA]), "b1_predB": float(tl.pred[iB]), "b1_T": tl.iters, "b1_Tmf": tl.t_last,
    }


def glue_fits(ch: Checks) -> dict:
    """The R^2 the prose quotes (glue them with 5 significant digits).

    Parameters
    ----------
    ch : Checks
    """
    return {"b1_sens_r2": round(ch.exact.r2["sensing"], 5)}


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
        close("b1.exact-factorization-rate", "k = r, factorization: rate of the squared error",
              ex.rate["factorization"], ex.pred["factorization"], rtol=0.01, basis="derived-on-page",
              tolerance="1%: -2 ln(1 - eta sigma_r)"),
        between("b1.exact-sensing-linear", "k = r, sensing: semilog fit R^2", ex.r2["sensing"], 0.999, 1.0,
                basis="theory", tolerance="straight semilog line (linear convergence)"),
        between("b1.exact-sensing-rate", "k = r, sensing: rate / linearized rate",
                ex.rate["sensing"] / ex.pred["sensing"], 0.95, 1.2, basis="derived-on-page",
                tolerance="-5% fit noise, +20% faster modes left in the window"),
        between("b1.mechanism-eigenvalues", "factorization, k > r: redundant eigenvalues vs cubic recursion, "
                "t >= 2 t_b", me.dev_sv, 0.0, 0.02, basis="derived-on-page", tolerance=coupling),
        between("b1.mechanism-error", "factorization, k > r: squared error vs (star), t >= 2 t_b",
                me.dev_err, 0.0, 0.02, basis="derived-on-page", tolerance=coupling),
        at_most("b1.proposition-bounds", "largest excess of the cubic recursion over the bounds of the "
                "proposition, relative to u_t", me.bound_excess, 1e-9, basis="derived-on-page",
                tolerance="exact (proved); rounding 1e-9"),
    ]
    for k, c, p, s in zip(tl.ks, tl.const, tl.pred, tl.slope):
        out += [
            close(f"b1.tail-constant-k{k}", f"factorization, k = {k}: lim eta^2 t^2 err", c, p, rtol=0.03,
                  basis="derived-on-page", tolerance="3%: limit (k - r)/4, proved"),
            between(f"b1.tail-slope-k{k}", f"sensing, k = {k}: log-log slope of err, [5/(eta alpha^2), T]",
                    s, -2.2, -1.6, basis="theory", tolerance="1/t^2 tail, approached from above under RIP"),
        ]
    for k, a, f, fl, o in zip(pl.ks, pl.alphas, pl.formula, pl.flat, pl.order):
        tag, which = f"k{k}-a{a:g}", f"k = {k}, alpha = {a:g}"
        out += [
            close(f"b1.plateau-formula-{tag}", f"{which}: err(t_p) / (star)(t_p)", f, 1.0, rtol=0.02,
                  basis="derived-on-page", tolerance=coupling),
            between(f"b1.plateau-flat-{tag}", f"{which}: err(t_p) / sum_j s_j0^4", fl, 0.5, 1.02,
                    basis="derived-on-page", tolerance="(star): (1 + 2 eta t_p s^2)^-2 >= 1/2 on the plateau"),
            between(f"b1.plateau-order-{tag}", f"{which}: err(t_p) / ((k - r) alpha^4)", o, 1 / 20, 20,
                    basis="specification", tolerance=f"init distribution: P(outside) <= {pl.p_out:.1e}"),
        ]
    return out


# ---------------------------------------------------------------------------- figures
ERR = r"$\|XX^\top - M^\star\|_F^2$"


def plot_sensing(sens: SensingRuns):
    """The sensing figure: semilog (all widths) and log-log (``k > r``, with the slope window).

    Parameters
    ----------
    sens : SensingRuns

    Returns
    -------
    fig, (ax_semilog, ax_loglog)
    """
    if not isinstance(sens, SensingRuns):
        raise ValueError(f"sens must be a SensingRuns, got {type(sens).__name__}")
    rs = sens.result
    labels = [f"XXᵀ, k = {k}" + (" (exact)" if k == sens.r else "") for k in sens.ks]
    fig, axes = figure(2, width=9.6, height=3.8)
    title = f"sensing, n = {sens.n}, r = {sens.r}, m = {sens.m}, {param_label('alpha', sens.alpha)}"
    plot_curves(axes[0], rs.t, rs.error ** 2, labels, ylabel=ERR, title=title)
    plot_curves(axes[1], rs.t[1:], rs.error[1:, 1:] ** 2, labels[1:], logx=True, ylabel=ERR,
                title="k > r, log-log")
    axes[1].plot(rs.t[1:], 0.5 / (sens.eta * rs.t[1:]) ** 2, "k--", lw=1, label="slope −2")
    axes[0].locator_params(axis="x", nbins=5)
    axes[1].axvspan(*sens.window, color="0.9", zorder=0, label="slope window")
    axes[1].legend()
    return fig, tuple(axes)


def plot_factorization(fact: FactorizationRuns):
    """The factorization figure: the plateau runs of the first ``k > r`` with (star), and the tail constant.

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
    k1 = int(ks[1])
    show = [1] + [b for b in range(fact.n_tail, len(ks)) if ks[b] == k1]
    show.sort(key=lambda b: alphas[b])
    fig, axes = figure(2, width=9.6, height=3.8)
    plot_curves(axes[0], tf[1:], e2f[show, 1:],
                [f"XXᵀ, k = {k1}, {param_label('alpha', alphas[b])}" for b in show], logx=True, ylabel=ERR,
                title="factorization: plateau, then 1/t² (dashed: (⋆))")
    for line, b in zip(list(axes[0].get_lines()), show):
        axes[0].plot(tf[1:], fact.pred[b, 1:], "--", color=line.get_color(), lw=1)
    tail_runs = list(range(1, fact.n_tail))
    plot_curves(axes[1], tf[1:], (fact.eta * tf[1:]) ** 2 * e2f[tail_runs, 1:],
                [f"XXᵀ, k = {ks[b]}, {param_label('alpha', alphas[b])}" for b in tail_runs], logx=True,
                logy=False, ylabel=r"$\eta^2 t^2\,\|XX^\top - M^\star\|_F^2$", title="the constant of the tail")
    for line, b in zip(list(axes[1].get_lines()), tail_runs):
        axes[1].axhline((ks[b] - fact.r) / 4, ls="--", color=line.get_color(), lw=1)
    axes[1].set_ylim(0, 0.3 * (ks[fact.n_tail - 1] - fact.r) + 0.05)
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
