"""Linear measurement operators :math:`\\mathcal A:\\mathbb R^{n_1\\times n_2}\\to\\mathbb R^m`.

One class, :class:`SensingOperator`, stores the operator as a single C-contiguous
float64 array ``matrix`` of shape ``(m, n1*n2)`` whose row ``i`` is
:math:`\\mathrm{vec}(A_i)` (row-major ``vec``), so that

* ``forward(X)``  :math:`= \\mathcal A(X) = (\\langle A_i, X\\rangle)_{i\\le m}` is one
  matrix-vector product (one matrix-matrix product for a stack of ``X``),
* ``adjoint(z)``  :math:`= \\mathcal A^*(z) = \\sum_i z_i A_i` is one more,
* ``normal(X)``   :math:`= \\mathcal A^*\\mathcal A(X)`.

The Gaussian operator has i.i.d. :math:`\\mathcal N(0, 1/m)` entries, so
:math:`\\mathbb E\\,\\mathcal A^*\\mathcal A = \\mathrm{Id}` (the normalisation of both
papers, which write :math:`\\mathcal A(X)=m^{-1/2}(\\langle A_i,X\\rangle)` with
standard Gaussian :math:`A_i`). The identity operator (matrix factorization) stores
nothing and costs a copy.
"""

from __future__ import annotations

import numpy as np

from .. import _validate as v

__all__ = ["SensingOperator"]


class SensingOperator:
    """A linear measurement operator on ``n1 x n2`` matrices.

    Build one with :meth:`gaussian`, :meth:`identity` or :meth:`from_matrix`.

    Attributes
    ----------
    m : int
        Number of measurements.
    shape : tuple of int
        ``(n1, n2)``, the shape of the matrices the operator acts on.
    matrix : ndarray of shape (m, n1*n2) or None
        Row ``i`` is ``A_i.ravel()``; ``None`` for the identity.
    symmetric : bool
        True when every ``A_i`` is symmetric; then ``adjoint`` returns exactly
        symmetric matrices and :math:`\\mathbb E\\,\\mathcal A^*\\mathcal A` is the identity
        on symmetric matrices.
    kind : str
        ``"gaussian"``, ``"symmetric-gaussian"``, ``"identity"`` or ``"matrix"``.
    """

    def __init__(self, matrix: np.ndarray | None, n1: int, n2: int, *, symmetric: bool, kind: str):
        # Private: use the class-method constructors, which validate.
        self.matrix = matrix
        self.shape = (n1, n2)
        self.m = n1 * n2 if matrix is None else matrix.shape[0]
        self.symmetric = symmetric
        self.kind = kind

    # ------------------------------------------------------------------ constructors
    @classmethod
    def gaussian(cls, m: int, n1: int, n2: int, *, symmetric: bool = False, seed: int = 0) -> "SensingOperator":
        """Dense Gaussian operator with i.i.d. ``N(0, 1/m)`` entries.

        Parameters
        ----------
        m : int
            Number of measurements, ``m >= 1``.
        n1, n2 : int
            Shape of the matrices measured.
        symmetric : bool, keyword-only
            Replace each ``A_i`` by its symmetric part ``(A_i + A_i^T)/2`` (needs
            ``n1 == n2``), the variant used for PSD targets. On symmetric ``X`` it
            gives the same measurements, and :math:`\\mathbb E\\,\\mathcal A^*\\mathcal A(X) = X`.
        seed : int, keyword-only
            Seed of ``numpy.random.default_rng``.

        Returns
        -------
        SensingOperator
            ``matrix`` has shape ``(m, n1*n2)``, float64, C-contiguous.
        """
        m = v.integer("m", m, minimum=1)
        n1 = v.integer("n1", n1, minimum=1)
        n2 = v.integer("n2", n2, minimum=1)
        seed = v.integer("seed", seed, minimum=0)
        if not isinstance(symmetric, bool):
            raise ValueError(f"symmetric must be True or False, got {symmetric!r}")
        if symmetric and n1 != n2:
            raise ValueError(f"symmetric=True needs a square shape, got n1={n1}, n2={n2}")
        rng = np.random.default_rng(seed)
        a = rng.standard_normal((m, n1 * n2))
        a *= 1.0 / np.sqrt(m)
        if symmetric:
            a3 = a.reshape(m, n1, n2)
            a = np.ascontiguousarray(0.5 * (a3 + a3.transpose(0, 2, 1))).reshape(m, n1 * n2)
        return cls(a, n1, n2, symmetric=symmetric, kind="symmetric-gaussian" if symmetric else "gaussian")

    @classmethod
    def identity(cls, n1: int, n2: int) -> "SensingOperator":
        """The identity, ``A(X) = vec(X)`` with ``m = n1*n2`` (matrix factorization)."""
        n1 = v.integer("n1", n1, minimum=1)
        n2 = v.integer("n2", n2, minimum=1)
        return cls(None, n1, n2, symmetric=False, kind="identity")

    @classmethod
    def from_matrix(cls, matrix, n1: int, n2: int) -> "SensingOperator":
        """Any operator given as an ``(m, n1*n2)`` array whose rows are ``vec(A_i)``.

        The array is copied and the copy made read-only, so that changing the caller's array
        later cannot change the operator (or make its ``symmetric`` flag stale).

        Parameters
        ----------
        matrix : array_like of shape (m, n1*n2)
            Real, finite, not all zero.
        n1, n2 : int
            The shape of the matrices the operator acts on.

        Returns
        -------
        SensingOperator
        """
        n1 = v.integer("n1", n1, minimum=1)
        n2 = v.integer("n2", n2, minimum=1)
        a = np.array(v.array("matrix", matrix, shape=(None, n1 * n2)), dtype=np.float64, order="C", copy=True)
        if a.shape[0] < 1:
            raise ValueError("matrix must have at least one row (m >= 1)")
        if not np.any(a):
            raise ValueError("matrix must not be all zero (it would measure nothing)")
        a.flags.writeable = False
        sym = False
        if n1 == n2:
            a3 = a.reshape(-1, n1, n2)
            sym = bool(np.array_equal(a3, a3.transpose(0, 2, 1)))
        return cls(a, n1, n2, symmetric=sym, kind="matrix")

    # ------------------------------------------------------------------ application
    def _check_stack(self, name, x, tail):
        x = np.asarray(x, dtype=np.float64)
        if x.shape[-len(tail):] != tail or x.ndim not in (len(tail), len(tail) + 1):
            raise ValueError(f"{name} must have shape {tail} or (B, {', '.join(map(str, tail))}), "
                             f"got {x.shape}")
        return x

    def forward(self, X) -> np.ndarray:
        """Measurements ``A(X)``.

        Parameters
        ----------
        X : array of shape (n1, n2) or (B, n1, n2)

        Returns
        -------
        ndarray of shape (m,) or (B, m)
        """
        X = self._check_stack("X", X, self.shape)
        flat = X.reshape(X.shape[:-2] + (-1,))
        if self.matrix is None:
            return flat.copy()
        return self.matrix @ flat if flat.ndim == 1 else flat @ self.matrix.T

    def adjoint(self, z) -> np.ndarray:
        """The adjoint ``A*(z) = sum_i z_i A_i``.

        Parameters
        ----------
        z : array of shape (m,) or (B, m)

        Returns
        -------
        ndarray of shape (n1, n2) or (B, n1, n2)
        """
        z = self._check_stack("z", z, (self.m,))
        out = z.copy() if self.matrix is None else z @ self.matrix
        out = out.reshape(z.shape[:-1] + self.shape)
        if self.symmetric:  # exact symmetry (the rows are symmetric; remove rounding asymmetry)
            out = 0.5 * (out + np.swapaxes(out, -1, -2))
        return out

    def normal(self, X) -> np.ndarray:
        """``A*A(X)`` for one matrix (n1, n2) or a stack (B, n1, n2)."""
        return self.adjoint(self.forward(X))

    def __repr__(self) -> str:
        return f"SensingOperator(kind={self.kind!r}, m={self.m}, shape={self.shape})"
