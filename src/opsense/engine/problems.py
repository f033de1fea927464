"""Ground truths and sensing problems.

A :class:`LowRankTarget` is :math:`X^\\star = U_\\star\\,\\mathrm{diag}(\\sigma)\\,V_\\star^\\top`
with Haar-random orthonormal :math:`U_\\star, V_\\star`; a :class:`Problem` adds a
measurement operator and the data :math:`y=\\mathcal A(X^\\star)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from .operators import SensingOperator

__all__ = ["LowRankTarget", "Problem", "PsdProblems", "low_rank_target", "make_problem", "psd_problems",
           "instance_seeds", "check_problem", "check_factor_pair"]


@dataclass(frozen=True)
class LowRankTarget:
    """A rank-``r`` ground truth ``X = U diag(sigma) V^T``.

    Attributes
    ----------
    X : ndarray of shape (n1, n2)
    U : ndarray of shape (n1, r), orthonormal columns
    V : ndarray of shape (n2, r), orthonormal columns (``V is U`` when ``psd``)
    sigma : ndarray of shape (r,), decreasing, positive
    psd : bool
    """

    X: np.ndarray
    U: np.ndarray
    V: np.ndarray
    sigma: np.ndarray
    psd: bool

    @property
    def r(self) -> int:
        return self.sigma.shape[0]

    @property
    def shape(self) -> tuple[int, int]:
        return self.X.shape


def scaled_norm(x) -> float:
    """``||x||_2`` (Frobenius for matrices) computed without intermediate overflow: ``inf`` only
    when the norm itself exceeds the largest float64."""
    x = np.asarray(x, dtype=np.float64)
    top = float(np.max(np.abs(x))) if x.size else 0.0
    if top == 0.0 or not np.isfinite(top):
        return top
    with np.errstate(over="ignore"):
        return top * float(np.linalg.norm((x / top).ravel()))


def _haar(rng: np.random.Generator, n: int, r: int) -> np.ndarray:
    q, rr = np.linalg.qr(rng.standard_normal((n, r)))
    return q * np.sign(np.diag(rr))  # sign fix makes the distribution Haar


def low_rank_target(n1: int, n2: int, r: int, *, sigma=None, kappa: float | None = None,
                    psd: bool = False, seed: int = 0) -> LowRankTarget:
    """Draw a rank-``r`` ground truth with prescribed singular values.

    Parameters
    ----------
    n1, n2 : int
        Shape of ``X``; ``1 <= r <= min(n1, n2)``. ``psd=True`` needs ``n1 == n2``.
    r : int
        Rank.
    sigma : sequence of r positive floats, keyword-only, optional
        Singular values (sorted decreasingly). Exclusive with ``kappa``. Values so large
        that ``X`` overflows float64 are refused (``ValueError`` naming ``sigma``).
    kappa : float >= 1, keyword-only, optional
        Condition number: ``sigma`` is geometric from 1 down to ``1/kappa``.
        With neither ``sigma`` nor ``kappa`` all singular values are 1.
    psd : bool, keyword-only
        Symmetric positive semi-definite target ``U diag(sigma) U^T``.
    seed : int, keyword-only
        Seed of the singular vectors.

    Returns
    -------
    LowRankTarget
    """
    n1, n2, r = v.shape_rank(n1, n2, r)
    seed = v.integer("seed", seed, minimum=0)
    if not isinstance(psd, bool):
        raise ValueError(f"psd must be True or False, got {psd!r}")
    if psd and n1 != n2:
        raise ValueError(f"psd=True needs n1 == n2, got n1={n1}, n2={n2}")
    if sigma is not None and kappa is not None:
        raise ValueError("give sigma or kappa, not both")
    if sigma is not None:
        s = v.array("sigma", sigma, shape=(r,))
        if np.any(s <= 0):
            raise ValueError(f"sigma must contain {r} positive values, got {s.tolist()}")
        s = np.sort(s)[::-1].copy()
    elif kappa is not None:
        kappa = v.real("kappa", kappa, positive=True)
        if kappa < 1:
            raise ValueError(f"kappa must be >= 1, got {kappa}")
        s = np.geomspace(1.0, 1.0 / kappa, r)
    else:
        s = np.ones(r)
    rng = np.random.default_rng(seed)
    U = _haar(rng, n1, r)
    V = U if psd else _haar(rng, n2, r)
    with np.errstate(over="ignore", invalid="ignore"):
        X = (U * s) @ V.T
    if not (np.all(np.isfinite(X)) and np.isfinite(scaled_norm(X))):
        raise ValueError(f"sigma is too large: X* = U diag(sigma) V^T (or its norm) overflows float64 "
                         f"(largest sigma {s[0]:.3g}); use smaller singular values")
    return LowRankTarget(X=X, U=U, V=V, sigma=s, psd=psd)


@dataclass(frozen=True)
class Problem:
    """A sensing problem: ground truth, operator, data and the spectral estimate.

    Attributes
    ----------
    target : LowRankTarget
    operator : SensingOperator
    y : ndarray of shape (m,)
        ``operator.forward(target.X)``.
    spectral : ndarray of shape (n1, n2)
        The spectral estimate ``A*(y)``.
    spectral_U : ndarray of shape (n1, r)
        Its top-``r`` left singular vectors.
    spectral_V : ndarray of shape (n2, r)
        Its top-``r`` right singular vectors.
    spectral_sigma : ndarray of shape (min(n1, n2),)
        Its singular values.
    """

    target: LowRankTarget
    operator: SensingOperator
    y: np.ndarray
    spectral: np.ndarray
    spectral_U: np.ndarray
    spectral_V: np.ndarray
    spectral_sigma: np.ndarray

    @classmethod
    def from_parts(cls, target: LowRankTarget, operator: SensingOperator) -> "Problem":
        """Measure ``target`` with ``operator``."""
        if not isinstance(target, LowRankTarget):
            raise ValueError(f"target must be a LowRankTarget, got {type(target).__name__}")
        if not isinstance(operator, SensingOperator):
            raise ValueError(f"operator must be a SensingOperator, got {type(operator).__name__}")
        if operator.shape != target.shape:
            raise ValueError(f"operator acts on {operator.shape} matrices but the target is {target.shape}")
        with np.errstate(over="ignore", invalid="ignore"):
            y = operator.forward(target.X)
            spec = operator.adjoint(y)
        if not (np.all(np.isfinite(y)) and np.all(np.isfinite(spec)) and np.isfinite(scaled_norm(y))
                and np.isfinite(scaled_norm(spec))):
            raise ValueError(f"sigma is too large for the operator: the data y = A(X*), A*(y) or a norm of them "
                             "overflows float64 "
                             f"(largest sigma of the target {float(target.sigma[0]):.3g}); use smaller singular "
                             "values")
        P, s, Qt = np.linalg.svd(spec)
        r = target.r
        return cls(target, operator, y, spec, P[:, :r], Qt[:r].T, s)


def make_problem(n1: int, n2: int, r: int, m: int | None = None, *, sigma=None,
                 kappa: float | None = None, psd: bool = False, operator: str = "gaussian",
                 seed: int = 0) -> Problem:
    """Ground truth plus operator plus data in one call.

    Parameters
    ----------
    n1, n2, r : int
        Shape and rank of the ground truth (see :func:`low_rank_target`).
    m : int, optional
        Number of measurements; required for ``operator="gaussian"``, must be
        omitted (or equal ``n1*n2``) for ``"identity"``.
    sigma, kappa, psd : keyword-only
        As in :func:`low_rank_target`. With ``psd=True`` the Gaussian operator is
        symmetrized (``A_i`` replaced by ``(A_i + A_i^T)/2``). A ``sigma`` so large that
        ``X*``, ``y`` or ``A*(y)`` overflows float64 is refused (``ValueError`` naming
        ``sigma``); a finite but huge one (``||y||`` above ``1e150``) builds, and
        :func:`run_gd` then reports the target scale as the cause of its divergence.
    operator : {"gaussian", "identity"}, keyword-only
    seed : int, keyword-only
        One seed; the target and the operator use independent child streams.

    Returns
    -------
    Problem
    """
    operator = v.choice("operator", operator, ("gaussian", "identity"))
    seed = v.integer("seed", seed, minimum=0)
    s_target, s_op = np.random.SeedSequence(seed).generate_state(2)
    target = low_rank_target(n1, n2, r, sigma=sigma, kappa=kappa, psd=psd, seed=int(s_target))
    if operator == "identity":
        if m is not None and m != n1 * n2:
            raise ValueError(f"m must be omitted or equal n1*n2={n1 * n2} for the identity operator, got {m}")
        op = SensingOperator.identity(n1, n2)
    else:
        if m is None:
            raise ValueError("m (number of measurements, an integer >= 1) is required for operator='gaussian'")
        op = SensingOperator.gaussian(m, n1, n2, symmetric=psd, seed=int(s_op))
    return Problem.from_parts(target, op)


def instance_seeds(seed: int, n: int) -> list[int]:
    """Seeds of ``n`` independent instances drawn from one chapter seed.

    Each instance re-draws everything random (target, operator, initialization) from its
    own seed: pass it to :func:`make_problem` and as the initialization seed of
    :func:`~opsense.run_gd`. The seeds are child streams of ``numpy.random.SeedSequence(seed)``,
    so they are independent of each other and of ``seed`` itself, and the first ``n`` are
    the same whatever larger ``n`` is asked for.

    Parameters
    ----------
    seed : int
        ``>= 0``.
    n : int
        ``>= 1``.

    Returns
    -------
    list of int
    """
    seed = v.integer("seed", seed, minimum=0)
    n = v.integer("n", n, minimum=1)
    return [int(c.generate_state(1)[0]) for c in np.random.SeedSequence(seed).spawn(n)]


@dataclass(frozen=True)
class PsdProblems:
    """One PSD ground truth measured by three operators.

    Attributes
    ----------
    symmetric : Problem
        Symmetrized Gaussian operator (:func:`opsense.make_problem` with ``psd=True``):
        with it, ``F0 = G0`` implies ``F_t = G_t`` for all ``t``.
    general : Problem
        A general (non-symmetric) Gaussian operator with the same ``m``.
    identity : Problem
        The identity operator (matrix factorization).
    """

    symmetric: Problem
    general: Problem
    identity: Problem


def psd_problems(n: int, r: int, m: int, *, kappa: float | None = None, seed: int = 0) -> PsdProblems:
    """The same rank-``r`` PSD target with a symmetric, a general and the identity operator.

    Parameters
    ----------
    n, r, m : int
        Size ``n x n``, rank and number of Gaussian measurements.
    kappa : float >= 1, keyword-only, optional
        Condition number (singular values geometric from 1 to ``1/kappa``).
    seed : int, keyword-only
        Seeds the target and the symmetric operator (as :func:`opsense.make_problem`)
        and, through an independent child stream, the general operator.

    Returns
    -------
    PsdProblems
    """
    seed = v.integer("seed", seed, minimum=0)
    sym = make_problem(n, n, r, m, kappa=kappa, psd=True, seed=seed)
    op_seed = int(np.random.SeedSequence([seed, 1]).generate_state(1)[0])
    gen = Problem.from_parts(sym.target, SensingOperator.gaussian(m, n, n, seed=op_seed))
    ident = Problem.from_parts(sym.target, SensingOperator.identity(n, n))
    return PsdProblems(sym, gen, ident)


# ---------------------------------------------------------------------------- argument checks
def check_problem(value, *, psd: bool = False) -> "Problem":
    """Return ``value`` if it is a :class:`opsense.Problem` (with a PSD target when ``psd``).

    Parameters
    ----------
    value : object
    psd : bool, keyword-only
        Require a PSD target.
    """
    if not isinstance(value, Problem):
        raise ValueError(f"problem must be an opsense Problem (see make_problem), got {type(value).__name__}")
    if psd and not value.target.psd:
        raise ValueError("problem must have a PSD target: make_problem(..., psd=True)")
    return value


def check_factor_pair(prob, U, V, *, names: tuple[str, str] = ("U", "V")) -> tuple[np.ndarray, np.ndarray]:
    """Return the factors ``U (n1, k)`` and ``V (n2, k)`` of ``prob`` as float64 arrays.

    Parameters
    ----------
    prob : Problem
    U : array_like of shape (n1, k)
    V : array_like of shape (n2, k)
    names : (str, str), keyword-only
        The names used in error messages.
    """
    n1, n2 = prob.target.shape
    U = v.array(names[0], U, ndim=2)
    V = v.array(names[1], V, ndim=2)
    if U.shape[0] != n1 or V.shape[0] != n2 or U.shape[1] != V.shape[1]:
        raise ValueError(f"{names[0]} and {names[1]} must have shapes ({n1}, k) and ({n2}, k), "
                         f"got {U.shape} and {V.shape}")
    return U, V
