"""Helpers of the paper-B chapters on symmetric and asymmetric parameterizations.

Two scalar models carry the mechanisms of paper B (Xiong, Ding & Du, ICLR 2024):

* the **cubic recursion** :math:`s_{t+1}=s_t(1-\\eta s_t^2)` of a redundant singular
  value of :math:`XX^\\top` (symmetric, :math:`k>r`), whose solution behaves like
  :math:`s_t^2\\approx 1/(s_0^{-2}+2\\eta t)`: :func:`cubic_recursion`,
  :func:`cubic_tail`, :func:`redundant_singular_values`, :func:`tail_constant`,
  :func:`plateau_ratio_samples`;
* the **2x2 diagonal toy** of the asymmetric parameterization :math:`FG^\\top`
  (matrix factorization of :math:`\\mathrm{diag}(1,0)` from :math:`F_0=\\alpha I`,
  :math:`G_0=\\tfrac\\alpha3 I`), whose redundant entry obeys a closed recursion in the
  imbalance :math:`\\Delta=f^2-g^2` and the product :math:`p=fg`: :func:`diagonal_toy`,
  :func:`toy_recursion`, :func:`toy_rate`.

Plus small measurement helpers shared by both chapters: :func:`burn_in_time`,
:func:`rate_ratio` and :func:`local_rate_symmetric` (the linearized rate of
exact-parameterized symmetric GD), and the checks of the chapters' parameters
:func:`check_widths`, :func:`check_plateau_alphas` and :func:`require_horizon`.
"""

from __future__ import annotations

import numpy as np

from . import _validate as v
from .analysis import fit_line, fit_rate
from .engine.gd import GDResult
from .engine.operators import SensingOperator
from .engine.problems import LowRankTarget, Problem

__all__ = ["cubic_recursion", "cubic_tail", "redundant_singular_values", "tail_constant",
           "plateau_ratio_samples", "diagonal_toy", "toy_recursion", "toy_rate", "burn_in_time",
           "rate_ratio", "local_rate_symmetric", "record_interval", "check_widths", "check_plateau_alphas", "require_horizon"]


# ---------------------------------------------------------------------------- symmetric: cubic recursion
def _positive_vector(name, x):
    x = np.atleast_1d(v.array(name, x, ndim=(0, 1)))
    if x.size == 0 or np.any(x <= 0):
        raise ValueError(f"{name} must contain positive values, got {x.tolist()}")
    return x


def cubic_recursion(s0, *, eta: float, iters: int) -> np.ndarray:
    """Iterate :math:`s_{t+1}=s_t(1-\\eta s_t^2)` for each starting value.

    Parameters
    ----------
    s0 : float or array_like (J,)
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
    """The closed-form approximation :math:`\\sum_j (s_{j,0}^{-2}+2\\eta t)^{-2}` of :math:`\\sum_j s_{j,t}^4`.

    Parameters
    ----------
    s0 : float or array_like (J,)
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


def redundant_singular_values(X0, U_star) -> np.ndarray:
    """Initial singular values of the redundant block of a symmetric factor.

    With :math:`S_0=U_\\star^\\top X_0` (``r x k``) and :math:`K_0=(I-U_\\star U_\\star^\\top)X_0`,
    let :math:`Q` (``k x (k-r)``) be an orthonormal basis of the orthogonal complement of
    the row space of :math:`S_0`. The redundant singular values are those of
    :math:`K_0Q`: the part of the initialization that the signal never absorbs.

    Parameters
    ----------
    X0 : array_like (n, k)
        Initial factor, ``k > r``.
    U_star : array_like (n, r)
        Orthonormal basis of the column space of the target.

    Returns
    -------
    ndarray of shape (k - r,), decreasing
    """
    X0 = v.array("X0", X0, ndim=2)
    U_star = v.array("U_star", U_star, shape=(X0.shape[0], None))
    n, k = X0.shape
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
    t : array_like (T,)
    err2 : array_like (T,)
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
    W = np.random.default_rng(seed).standard_normal((samples, n - r, k - r))
    w = np.linalg.eigvalsh(np.swapaxes(W, 1, 2) @ W / n)
    return np.sum((1.0 / w + 2.0 * c) ** -2.0, axis=1) / (k - r)


# ---------------------------------------------------------------------------- asymmetric: 2x2 toy
def diagonal_toy(alpha, *, ratio: float = 1 / 3) -> tuple[Problem, tuple[np.ndarray, np.ndarray]]:
    """The 2x2 diagonal toy problem of the asymmetric parameterization.

    Matrix factorization (identity operator) of :math:`\\Sigma=\\mathrm{diag}(1,0)`
    with :math:`k=2>r=1`, from :math:`F_0=\\alpha I_2`, :math:`G_0=\\mathrm{ratio}\\cdot\\alpha I_2`.
    Gradient descent keeps both factors diagonal; the :math:`(2,2)` entries follow
    :func:`toy_recursion`.

    Parameters
    ----------
    alpha : float > 0 or sequence of them
        Initialization scale(s); a sequence gives stacked initial factors (one per run).
    ratio : float in (0, 1), keyword-only
        Scale of :math:`G_0` relative to :math:`F_0` (paper B uses 1/3).

    Returns
    -------
    problem : Problem
    init : (F0, G0)
        Arrays of shape (2, 2), or (B, 2, 2) for a sequence of ``alpha``; pass as
        ``run_gd(problem, init=init, ...)``.
    """
    alphas = v.sweep("alpha", alpha, lambda nm, x: v.real(nm, x, positive=True))
    ratio = v.real("ratio", ratio, positive=True, below=1.0)
    target = LowRankTarget(X=np.diag([1.0, 0.0]), U=np.array([[1.0], [0.0]]), V=np.array([[1.0], [0.0]]),
                           sigma=np.array([1.0]), psd=False)
    problem = Problem.from_parts(target, SensingOperator.identity(2, 2))
    F0 = np.stack([a * np.eye(2) for a in alphas])
    G0 = ratio * F0
    if np.ndim(alpha) == 0:
        F0, G0 = F0[0], G0[0]
    return problem, (F0, G0)


def toy_recursion(alpha: float, *, eta: float, iters: int, ratio: float = 1 / 3) -> tuple[np.ndarray, np.ndarray]:
    """Closed recursion of the redundant entry of the 2x2 toy.

    With :math:`\\Delta_t=f_t^2-g_t^2` and :math:`p_t=f_tg_t` (the :math:`(2,2)` entries of
    :math:`F_t, G_t`), gradient descent gives exactly
    :math:`\\Delta_{t+1}=(1-\\eta^2p_t^2)\\Delta_t` and
    :math:`p_{t+1}=p_t\\,(1-\\eta\\sqrt{\\Delta_t^2+4p_t^2}+\\eta^2p_t^2)`,
    from :math:`\\Delta_0=(1-\\mathrm{ratio}^2)\\alpha^2`, :math:`p_0=\\mathrm{ratio}\\,\\alpha^2`.

    Parameters
    ----------
    alpha : float > 0
    eta : float > 0, keyword-only
    iters : int >= 1, keyword-only
    ratio : float in (0, 1), keyword-only

    Returns
    -------
    Delta, p : ndarrays of shape (iters + 1,)
    """
    alpha = v.real("alpha", alpha, positive=True)
    eta = v.real("eta", eta, positive=True)
    iters = v.integer("iters", iters, minimum=1)
    ratio = v.real("ratio", ratio, positive=True, below=1.0)
    if eta * alpha ** 2 * (1 + ratio ** 2) >= 1:
        raise ValueError(f"alpha and eta must satisfy eta * alpha**2 * (1 + ratio**2) < 1, "
                         f"got {eta * alpha ** 2 * (1 + ratio ** 2):.3g}")
    D = np.empty(iters + 1)
    p = np.empty(iters + 1)
    D[0], p[0] = (1 - ratio ** 2) * alpha ** 2, ratio * alpha ** 2
    for t in range(iters):
        D[t + 1] = D[t] * (1 - eta ** 2 * p[t] ** 2)
        p[t + 1] = p[t] * (1 - eta * np.sqrt(D[t] ** 2 + 4 * p[t] ** 2) + eta ** 2 * p[t] ** 2)
    return D, p


def toy_rate(alpha, *, eta: float, ratio: float = 1 / 3):
    """Predicted asymptotic rate :math:`2\\eta(1-\\mathrm{ratio}^2)\\alpha^2` of the toy's squared error.

    For ``ratio = 1/3`` this is :math:`\\tfrac{16}{9}\\eta\\alpha^2` per iteration
    (first order in :math:`\\eta\\alpha^2`).

    Parameters
    ----------
    alpha : float > 0 or array_like
    eta : float > 0, keyword-only
    ratio : float in (0, 1), keyword-only

    Returns
    -------
    float or ndarray
    """
    a = np.asarray(alpha, dtype=np.float64)
    if a.size == 0 or np.any(~np.isfinite(a)) or np.any(a <= 0):
        raise ValueError(f"alpha must contain finite values > 0, got {alpha!r}")
    eta = v.real("eta", eta, positive=True)
    ratio = v.real("ratio", ratio, positive=True, below=1.0)
    out = 2.0 * eta * (1.0 - ratio ** 2) * a ** 2
    return float(out) if out.ndim == 0 else out


# ---------------------------------------------------------------------------- measurement helpers




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
    problem = v.problem(problem, psd=True)
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
                    records: int = 1000) -> int:
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

    Returns
    -------
    int >= 1
    """
    iters = v.integer("iters", iters, minimum=1)
    floor = v.real("floor", floor, positive=True, below=1.0)
    points = v.integer("points", points, minimum=2)
    records = v.integer("records", records, minimum=1)
    rate = local_rate_symmetric(problem, eta=eta)
    return max(1, min(iters // records, int(np.log(1 / floor) / (rate * points))))


# ---------------------------------------------------------------------------- parameter checks
def check_widths(ks, *, r: int, n: int) -> list[int]:
    """Check the widths of the symmetric chapter: ``ks[0] == r``, then increasing values in ``(r, n - r]``.

    Raises
    ------
    ValueError
        Naming the parameter ``ks``.
    """
    r = v.integer("r", r, minimum=1)
    n = v.integer("n", n, minimum=2)
    ks = [v.integer(f"ks[{i}]", x, minimum=1) for i, x in enumerate(ks)]
    if len(ks) < 2 or ks[0] != r or any(b <= a for a, b in zip(ks, ks[1:])) or ks[-1] > n - r:
        raise ValueError(f"parameter ks must start with r = {r} (exact parameterization) followed by "
                         f"increasing widths in ({r}, {n - r}], got {ks}")
    return ks


def check_plateau_alphas(alphas, *, eta: float, limit: float = 1e-4) -> list[float]:
    """Check that every scale has a visible plateau: :math:`\\eta\\alpha^2\\le` ``limit``.

    The plateau lasts until :math:`t\\approx 1/(\\eta\\alpha^2)`; it is measured just after
    the signal phase (a few hundred iterations), which must be much shorter.

    Raises
    ------
    ValueError
        Naming the parameter ``alphas``.
    """
    eta = v.real("eta", eta, positive=True)
    limit = v.real("limit", limit, positive=True)
    alphas = [v.real(f"alphas[{i}]", a, positive=True) for i, a in enumerate(alphas)]
    bad = [a for a in alphas if eta * a * a > limit]
    if bad:
        raise ValueError(f"parameter alphas must satisfy eta * alpha**2 <= {limit:g} (a plateau much longer "
                         f"than the signal phase), got {bad} with eta = {eta:g}")
    return alphas


