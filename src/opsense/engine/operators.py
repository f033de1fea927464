"""Linear measurement operators :math:`\\mathcal A:\\mathbb R^{n_1\\times n_2}\\to\\mathbb R^m`.

One class, :class:`SensingOperator`, stores the operator as a single C-contiguous
float64 array ``matrix`` of shape ``(m, n1*n2)`` whose row ``i`` is
:math:`\\mathrm{vec}(A_i)` (row-major ``vec``), so that

* ``forward(X)``  :math:`= \\mathcal A(X) = (\\langle A_i, X\\rangle)_{i\\le m}` is one
  matrix-vector product (one matrix-matrix product for a stack of ``X``),
* ``adjoint(z)``  :math:`= \\mathcal A^*(z) = \\sum_i z_i A_i` is one more,
* ``normal(X)``   :math:`= \\mathcal A^*\\mathcal A(X)`.

A symmetric operator (every :math:`A_i` symmetric) also has a **packed** form,
:attr:`opsense.SensingOperator.packed`: the ``n(n+1)/2`` independent entries of each :math:`A_i`
(its upper triangle, off-diagonal entries doubled), half the bytes and flops of ``matrix``.
The engine applies symmetric operators in that form (:func:`pack_symmetric`,
:func:`unpack_symmetric`).

The Gaussian operator has i.i.d. :math:`\\mathcal N(0, 1/m)` entries, so
:math:`\\mathbb E\\,\\mathcal A^*\\mathcal A = \\mathrm{Id}` (the normalisation of both
papers, which write :math:`\\mathcal A(X)=m^{-1/2}(\\langle A_i,X\\rangle)` with
standard Gaussian :math:`A_i`). The identity operator (matrix factorization) stores
nothing and costs a copy.
"""

from __future__ import annotations

import numpy as np

from .. import _validate as v

__all__ = ["SensingOperator", "packed_index", "pack_symmetric", "unpack_symmetric"]


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
        self._packed = None

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

    @property
    def packed(self) -> np.ndarray | None:
        """The packed form of a symmetric operator, ``(m, n(n+1)/2)``; ``None`` otherwise.

        Row ``i`` holds the upper triangle of :math:`A_i` (row-major, ``j <= l``, the order of
        :func:`opsense.engine.operators.packed_index`) with the off-diagonal entries doubled, so
        that :math:`\\langle A_i, X\\rangle` is ``packed[i] @ pack_symmetric(X)`` for any ``X``
        (:func:`opsense.engine.operators.pack_symmetric`; both scalings are by 1 or 2, exact in
        floating point). Built once at first use, row block by row block (no transient copy of
        ``matrix``), then kept (read-only) beside it.
        """
        if not self.symmetric or self.matrix is None:
            return None
        if self._packed is None:
            n = self.shape[0]
            iu, _, diag = packed_index(n)
            weight = np.where(diag, 1.0, 2.0)
            out = np.empty((self.m, iu.size))
            step = max(1, (1 << 20) // max(1, n * n))          # about 8 MB of rows at a time
            for i in range(0, self.m, step):
                np.take(self.matrix[i:i + step], iu, axis=1, out=out[i:i + step], mode="clip")  # unbuffered
                out[i:i + step] *= weight
            out.flags.writeable = False
            self._packed = out
        return self._packed

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


_INDEX_CACHE: dict = {}


def packed_index(n: int):
    """Indices of the packed (upper-triangular) coordinates of ``n x n`` matrices.

    Parameters
    ----------
    n : int

    Returns
    -------
    upper, lower : ndarray of int, shape (n(n+1)/2,)
        Row-major flat indices of the entries ``(j, l)``, ``j <= l``, and of their mirrors ``(l, j)``.
    diagonal : ndarray of bool, shape (n(n+1)/2,)
        Which packed coordinates are diagonal entries.
    """
    n = v.integer("n", n, minimum=1)
    if n not in _INDEX_CACHE:
        j, l = np.triu_indices(n)
        _INDEX_CACHE[n] = (j * n + l, l * n + j, j == l)
    return _INDEX_CACHE[n]


def pack_symmetric(X) -> np.ndarray:
    """Packed coordinates of the symmetric part of ``X``: ``(X + X^T)/2`` on ``j <= l``.

    With :attr:`opsense.SensingOperator.packed`, ``packed @ pack_symmetric(X)`` equals
    :math:`\\mathcal A(X)` for a symmetric operator (up to the order of summation).

    Parameters
    ----------
    X : array of shape (n, n) or (B, n, n)

    Returns
    -------
    ndarray of shape (n(n+1)/2,) or (B, n(n+1)/2)
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim not in (2, 3) or X.shape[-1] != X.shape[-2]:
        raise ValueError(f"X must have shape (n, n) or (B, n, n), got {X.shape}")
    upper, lower, _ = packed_index(X.shape[-1])
    flat = X.reshape(X.shape[:-2] + (-1,))
    out = np.take(flat, upper, axis=-1)
    out += np.take(flat, lower, axis=-1)
    out *= 0.5
    return out


def unpack_symmetric(z, n: int) -> np.ndarray:
    """The symmetric matrix whose adjoint coordinates are ``z``: the inverse step of the adjoint.

    For a symmetric operator, ``r @ packed`` holds :math:`\\mathcal A^*(r)` on ``j <= l`` with
    the off-diagonal entries doubled; this halves them (exactly) and fills both triangles, so
    the result is exactly symmetric.

    Parameters
    ----------
    z : array of shape (n(n+1)/2,) or (B, n(n+1)/2)
    n : int

    Returns
    -------
    ndarray of shape (n, n) or (B, n, n)
    """
    upper, lower, diag = packed_index(n)
    z = np.asarray(z, dtype=np.float64)
    if z.shape[-1] != upper.size or z.ndim not in (1, 2):
        raise ValueError(f"z must have shape ({upper.size},) or (B, {upper.size}), got {z.shape}")
    half = np.where(diag, z, 0.5 * z)
    out = np.empty(z.shape[:-1] + (n * n,))
    out[..., upper] = half
    out[..., lower] = half
    return out.reshape(z.shape[:-1] + (n, n))
