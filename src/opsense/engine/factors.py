r"""The factors of the asymmetric model and the algebra of one gradient step.

For :math:`X = UV^\top` (paper B writes :math:`FG^\top`) with :math:`U\in\mathbb R^{n_1\times k}`,
:math:`V\in\mathbb R^{n_2\times k}`:

* :func:`~opsense.initial_factors`: the small random starts of both papers;
* :func:`~opsense.imbalance`: :math:`\Delta = U^\top U - V^\top V`, and :func:`~opsense.imbalance_increment`,
  its exact change in one gradient step,
  :math:`\Delta' - \Delta = \eta^2(\nabla_U^\top\nabla_U - \nabla_V^\top\nabla_V)`;
* the lifted form of paper A: :func:`~opsense.dilation`, :func:`~opsense.residual_matrix` and
  :func:`~opsense.lifted_step`, :math:`W' = (I + \mu\mathcal D(M))W` with :math:`W = [U; V]`;
* :func:`~opsense.rebalance`: the one-step rebalancing (our reconstruction of paper B, Sec. 5), and
  :func:`~opsense.redundant_imbalance`, the imbalance on the redundant directions.
"""

from __future__ import annotations

import numpy as np

from .. import _validate as v
from .problems import Problem, check_factor_pair, check_problem

__all__ = ["INITS", "initial_factors", "imbalance", "imbalance_increment", "dilation", "residual_matrix",
           "lifted_step", "rebalance", "redundant_imbalance"]

INITS = ("random", "imbalanced", "balanced")


def initial_factors(n1: int, n2: int, k: int, alpha: float, *, init: str = "random",
                    ratio: float = 1 / 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Small random initial factors of scale ``alpha``.

    ``U0 = alpha * U~`` and ``V0 = c * alpha * V~`` where ``U~`` and ``V~`` are
    independent with i.i.d. entries ``N(0, 1/n1)`` and ``N(0, 1/n2)`` (so each
    column of ``U0`` has expected squared norm ``alpha**2``). The symmetric
    parameterization uses ``X0 = U0``. The columns are nested: the same ``seed``
    with a larger ``k`` only appends columns.

    Parameters
    ----------
    n1, n2, k : int
        Shapes; the factors are ``(n1, k)`` and ``(n2, k)``.
    alpha : float > 0
        Initialization scale.
    init : {"random", "imbalanced", "balanced"}, keyword-only
        ``"random"``: ``c = 1`` (independent, equal scale, paper A);
        ``"imbalanced"``: ``c = ratio`` (paper B uses ``alpha`` and ``alpha/3``);
        ``"balanced"``: ``V0 = U0`` (needs ``n1 == n2``).
    ratio : float in (0, 1], keyword-only
        Scale of ``V0`` relative to ``U0`` for ``"imbalanced"``.
    seed : int, keyword-only

    Returns
    -------
    U0 : ndarray (n1, k)
    V0 : ndarray (n2, k)
    """
    n1 = v.integer("n1", n1, minimum=1)
    n2 = v.integer("n2", n2, minimum=1)
    k = v.integer("k", k, minimum=1)
    alpha = v.real("alpha", alpha, positive=True)
    init = v.choice("init", init, INITS)
    ratio = v.real("ratio", ratio, positive=True)
    if ratio > 1:
        raise ValueError(f"ratio must be in (0, 1], got {ratio}")
    seed = v.integer("seed", seed, minimum=0)
    if init == "balanced" and n1 != n2:
        raise ValueError(f"init='balanced' needs n1 == n2, got n1={n1}, n2={n2}")
    if not np.isfinite(alpha * alpha * max(n1, n2) * k):
        raise ValueError(f"alpha must be small enough that the factors and their products are finite, got {alpha:g}")
    su, sv = np.random.SeedSequence(seed).spawn(2)
    U0 = alpha * np.random.default_rng(su).standard_normal((k, n1)).T / np.sqrt(n1)
    if init == "balanced":
        return np.ascontiguousarray(U0), np.ascontiguousarray(U0.copy())
    c = ratio if init == "imbalanced" else 1.0
    V0 = c * alpha * np.random.default_rng(sv).standard_normal((k, n2)).T / np.sqrt(n2)
    return np.ascontiguousarray(U0), np.ascontiguousarray(V0)

def imbalance(U, V) -> np.ndarray:
    """The imbalance :math:`\\Delta = U^\\top U - V^\\top V` (paper B: :math:`F^\\top F - G^\\top G`).

    Parameters
    ----------
    U : ndarray of shape (n1, k) or (B, n1, k)
    V : ndarray of shape (n2, k) or (B, n2, k)

    Returns
    -------
    ndarray of shape (k, k) or (B, k, k), symmetric
    """
    U = v.array("U", U, ndim=(2, 3))
    V = v.array("V", V, ndim=U.ndim)
    if U.shape[:-2] != V.shape[:-2] or U.shape[-1] != V.shape[-1]:
        raise ValueError(f"U and V must have the same number of columns (and batch size), "
                         f"got {U.shape} and {V.shape}")
    return np.swapaxes(U, -1, -2) @ U - np.swapaxes(V, -1, -2) @ V


def imbalance_increment(problem: Problem, U, V, *, eta: float) -> np.ndarray:
    """The exact change of the imbalance in one gradient step from ``(U, V)``.

    Parameters
    ----------
    problem : Problem
    U : ndarray of shape (n1, k)
    V : ndarray of shape (n2, k)
    eta : float > 0, keyword-only
        Step size.

    Returns
    -------
    ndarray of shape (k, k)
        :math:`\\eta^2(V^\\top D^\\top DV - U^\\top DD^\\top U)` with
        :math:`D = \\mathcal A^*(\\mathcal A(UV^\\top) - y)`.
    """
    problem = check_problem(problem)
    U, V = check_factor_pair(problem, U, V)
    eta = v.real("eta", eta, positive=True)
    op = problem.operator
    D = op.adjoint(op.forward(U @ V.T) - problem.y)
    gU, gV = D @ V, D.T @ U
    return eta ** 2 * (gU.T @ gU - gV.T @ gV)


def dilation(Z) -> np.ndarray:
    """The symmetric dilation :math:`\\mathcal D(Z)=\\begin{bmatrix}0&Z\\\\Z^\\top&0\\end{bmatrix}`.

    Parameters
    ----------
    Z : array_like of shape (n1, n2)

    Returns
    -------
    ndarray of shape (n1 + n2, n1 + n2)
        Symmetric; its eigenvalues are :math:`\\pm\\sigma_i(Z)` (eigenvectors
        :math:`[l_i;\\pm r_i]/\\sqrt2` for the singular pairs :math:`(l_i, r_i)`) and zeros.
    """
    Z = v.array("Z", Z, ndim=2)
    n1, n2 = Z.shape
    out = np.zeros((n1 + n2, n1 + n2))
    out[:n1, n1:] = Z
    out[n1:, :n1] = Z.T
    return out


def residual_matrix(problem: Problem, U, V) -> np.ndarray:
    """Paper A's residual :math:`M=\\mathcal A^*(y-\\mathcal A(UV^\\top))`, minus the engine's ``D``.

    Parameters
    ----------
    problem : Problem
    U : ndarray (n1, k)
    V : ndarray (n2, k)

    Returns
    -------
    ndarray (n1, n2)
    """
    problem = check_problem(problem)
    U, V = check_factor_pair(problem, U, V, names=("U", "V"))
    op = problem.operator
    return op.adjoint(problem.y - op.forward(U @ V.T))


def lifted_step(problem: Problem, U, V, *, eta: float) -> tuple[np.ndarray, np.ndarray]:
    """One gradient step written in the lifted form :math:`W'=(I+\\mu\\mathcal D(M))W`.

    The product is formed explicitly with the :math:`(n_1+n_2)`-square matrix
    :math:`I+\\mu\\mathcal D(M)`, independently of the engine's update.

    Parameters
    ----------
    problem : Problem
    U : ndarray (n1, k)
    V : ndarray (n2, k)
    eta : float > 0, keyword-only
        Step size (paper A's :math:`\\mu`).

    Returns
    -------
    U_next : ndarray (n1, k)
    V_next : ndarray (n2, k)
    """
    problem = check_problem(problem)
    U, V = check_factor_pair(problem, U, V, names=("U", "V"))
    eta = v.real("eta", eta, positive=True)
    n1 = U.shape[0]
    W = np.vstack([U, V])
    W1 = (np.eye(W.shape[0]) + eta * dilation(residual_matrix(problem, U, V))) @ W
    return W1[:n1], W1[n1:]

def rebalance(U, V) -> tuple[np.ndarray, np.ndarray]:
    """One-step rebalancing in the spirit of paper B, Section 5 (our reconstruction).

    With the thin SVD ``U = W S Z^T`` and ``beta = ||U V^T||_op``, return
    ``U' = sqrt(beta) W Z^T`` and ``V' = V Z S Z^T / sqrt(beta)``. Then
    ``U' V'^T = U V^T`` exactly, every nonzero singular value of ``U'`` equals
    ``sqrt(beta)``, and the imbalance ``U'^T U' - V'^T V'`` jumps from order
    ``alpha**2`` to order ``beta``. The paper's own equation was not available
    to us; this step has the properties its abstract and reviews describe.

    Parameters
    ----------
    U : ndarray of shape (n1, k)
        Paper B's ``F``.
    V : ndarray of shape (n2, k)
        Paper B's ``G``.

    Returns
    -------
    U_new : ndarray of shape (n1, k)
    V_new : ndarray of shape (n2, k)
    """
    U = v.array("U", U, ndim=2)
    V = v.array("V", V, shape=(None, U.shape[1]))
    W, S, Zt = np.linalg.svd(U, full_matrices=False)
    beta = np.linalg.norm(U @ V.T, 2)
    if beta == 0:
        raise ValueError("rebalance needs U V^T != 0")
    root = np.sqrt(beta)
    return root * (W @ Zt), (V @ (Zt.T * S) @ Zt) / root


def redundant_imbalance(delta, V, *, r: int):
    """Compress an imbalance onto the redundant directions of :math:`\\mathbb R^k`.

    When :math:`\\Delta \\succ 0`, gradient descent drives :math:`V` (paper B's :math:`G`) to
    rank ``r``: its ``k - r`` smallest singular values go to zero. The right singular vectors
    belonging to them span the *redundant* subspace; ``Q`` is an orthonormal basis of it, and
    the compression :math:`Q^\\top\\Delta Q` is the imbalance that sets the late linear rate
    (by Cauchy interlacing its smallest eigenvalue is at least :math:`\\lambda_{\\min}(\\Delta)`).

    Parameters
    ----------
    delta : ndarray of shape (k, k)
        An imbalance (e.g. the initial one, conserved up to :math:`O(\\eta^2)`).
    V : ndarray of shape (n2, k)
        A late factor :math:`V_T` that identifies the redundant subspace.
    r : int, keyword-only
        Rank of the ground truth, ``1 <= r < k``.

    Returns
    -------
    eigenvalues : ndarray of shape (k - r,)
        Eigenvalues of :math:`Q^\\top\\Delta Q`, increasing.
    Q : ndarray of shape (k, k - r)
    """
    delta = v.array("delta", delta, ndim=2)
    k = delta.shape[0]
    if delta.shape != (k, k):
        raise ValueError(f"delta must be a square (k, k) matrix, got {delta.shape}")
    V = v.array("V", V, shape=(None, k))
    r = v.integer("r", r, minimum=1, maximum=k - 1)
    _, _, Zt = np.linalg.svd(V)  # (k, k): rows are right singular vectors, decreasing singular values
    Q = Zt[r:].T
    sym = 0.5 * (delta + delta.T)
    return np.linalg.eigvalsh(Q.T @ sym @ Q), Q

