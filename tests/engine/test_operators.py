"""Measurement operators and problems: adjoint identity, isotropy, validation."""

import numpy as np
import pytest

import opsense as ops


@pytest.mark.parametrize("symmetric", [False, True])
def test_adjoint_identity(symmetric):
    op = ops.SensingOperator.gaussian(37, 6, 6, symmetric=symmetric, seed=3)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 6))
    z = rng.standard_normal(37)
    lhs = op.forward(X) @ z
    rhs = np.sum(X * op.adjoint(z))
    assert abs(lhs - rhs) <= 1e-12 * (abs(lhs) + 1)


def test_adjoint_identity_rectangular_stack():
    op = ops.SensingOperator.gaussian(20, 4, 7, seed=1)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((5, 4, 7))
    z = rng.standard_normal((5, 20))
    lhs = np.einsum("bm,bm->b", op.forward(X), z)
    rhs = np.einsum("bij,bij->b", X, op.adjoint(z))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12, atol=1e-12)
    # a stack is the same as one at a time
    np.testing.assert_allclose(op.forward(X)[2], op.forward(X[2]), rtol=1e-13)


def test_expected_normal_operator_is_identity_monte_carlo():
    # E[A^T A] = I entrywise; each entry of the average over N draws has std <= sqrt(2/(m N)).
    m, n1, n2, N = 10, 3, 4, 2000
    acc = np.zeros((n1 * n2, n1 * n2))
    for s in range(N):
        A = ops.SensingOperator.gaussian(m, n1, n2, seed=s).matrix
        acc += A.T @ A
    acc /= N
    assert np.max(np.abs(acc - np.eye(n1 * n2))) < 6 * np.sqrt(2 / (m * N))


def test_symmetric_operator_is_isotropic_on_symmetric_matrices():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((3, 3))
    X = X + X.T
    N, m = 3000, 8
    mean = sum(ops.SensingOperator.gaussian(m, 3, 3, symmetric=True, seed=s).normal(X) for s in range(N)) / N
    assert np.max(np.abs(mean - X)) < 6 * np.sqrt(2 / (m * N)) * np.max(np.abs(X)) * 3
    op = ops.SensingOperator.gaussian(m, 3, 3, symmetric=True, seed=0)
    D = op.adjoint(rng.standard_normal(m))
    assert np.array_equal(D, D.T)


def test_identity_and_from_matrix():
    ident = ops.SensingOperator.identity(3, 2)
    X = np.arange(6.0).reshape(3, 2)
    assert ident.m == 6
    np.testing.assert_array_equal(ident.normal(X), X)
    A = np.random.default_rng(0).standard_normal((5, 6))
    op = ops.SensingOperator.from_matrix(A, 3, 2)
    np.testing.assert_allclose(op.forward(X), A @ X.ravel())
    assert op.kind == "matrix" and not op.symmetric


@pytest.mark.parametrize("call, name", [
    (lambda: ops.SensingOperator.gaussian(0, 3, 3), "m"),
    (lambda: ops.SensingOperator.gaussian(5, 3, 4, symmetric=True), "symmetric"),
    (lambda: ops.SensingOperator.gaussian(5, 3, 3, seed=-1), "seed"),
    (lambda: ops.SensingOperator.from_matrix(np.ones((2, 5)), 2, 3), "matrix"),
    (lambda: ops.SensingOperator.from_matrix(np.full((2, 6), np.nan), 2, 3), "matrix"),
    (lambda: ops.SensingOperator.identity(3, 3).forward(np.ones((2, 3))), "X"),
    (lambda: ops.low_rank_target(5, 5, 6), "r"),
    (lambda: ops.low_rank_target(5, 4, 2, psd=True), "psd"),
    (lambda: ops.low_rank_target(5, 5, 2, sigma=[1.0, -1.0]), "sigma"),
    (lambda: ops.low_rank_target(5, 5, 2, kappa=0.5), "kappa"),
    (lambda: ops.make_problem(5, 5, 2), "m"),
    (lambda: ops.make_problem(5, 5, 2, 10, operator="fourier"), "operator"),
    (lambda: ops.make_problem(5, 5, 2, 10, operator="identity"), "m"),
])
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_target_has_prescribed_spectrum_and_is_seeded():
    t = ops.low_rank_target(8, 6, 3, kappa=4.0, seed=2)
    np.testing.assert_allclose(np.linalg.svd(t.X, compute_uv=False)[:3], [1.0, 0.5, 0.25], rtol=1e-12)
    np.testing.assert_allclose(t.U.T @ t.U, np.eye(3), atol=1e-12)
    assert np.array_equal(t.X, ops.low_rank_target(8, 6, 3, kappa=4.0, seed=2).X)
    p = ops.low_rank_target(6, 6, 2, sigma=[0.5, 2.0], psd=True, seed=0)
    assert np.allclose(p.X, p.X.T) and np.all(np.linalg.eigvalsh(p.X) > -1e-12)
    assert list(p.sigma) == [2.0, 0.5]


def test_problem_spectral_estimate():
    pr = ops.make_problem(6, 5, 2, 40, seed=1)
    np.testing.assert_allclose(pr.spectral, pr.operator.adjoint(pr.y))
    np.testing.assert_allclose(pr.y, pr.operator.forward(pr.target.X))
    assert pr.spectral_U.shape == (6, 2) and pr.spectral_V.shape == (5, 2)


def test_from_matrix_copies_freezes_and_refuses_degenerate_input():
    a = np.random.default_rng(0).standard_normal((7, 6))
    op = ops.SensingOperator.from_matrix(a, 2, 3)
    z = np.arange(7.0)
    before = op.adjoint(z).copy()
    a[:] = 0.0                                    # the caller reuses its array
    np.testing.assert_array_equal(op.adjoint(z), before)
    assert not op.matrix.flags.writeable
    with pytest.raises(ValueError, match="all zero"):
        ops.SensingOperator.from_matrix(np.zeros((4, 6)), 2, 3)
    with pytest.raises(ValueError, match="complex"):
        ops.SensingOperator.from_matrix(np.ones((4, 6)) * 1j, 2, 3)


@pytest.mark.parametrize("build", ["gaussian", "matrix"])
def test_packed_symmetric_operator_matches_the_dense_one(build):
    """The packed form (upper triangle, off-diagonal doubled) applies the same operator to 1e-12."""
    from opsense.engine.operators import pack_symmetric, unpack_symmetric

    n, m = 9, 300
    op = ops.SensingOperator.gaussian(m, n, n, symmetric=True, seed=3)
    if build == "matrix":
        op = ops.SensingOperator.from_matrix(op.matrix, n, n)
    assert op.symmetric and op.packed.shape == (m, n * (n + 1) // 2) and not op.packed.flags.writeable
    rng = np.random.default_rng(0)
    for X in (rng.standard_normal((n, n)), rng.standard_normal((4, n, n))):   # not symmetric: its symmetric part
        dense = op.forward(X)
        packed = pack_symmetric(X) @ op.packed.T
        assert np.max(np.abs(packed - dense)) <= 1e-12 * np.max(np.abs(dense))
    z = rng.standard_normal((3, m))
    dense, packed = op.adjoint(z), unpack_symmetric(z @ op.packed, n)
    assert np.array_equal(packed, np.swapaxes(packed, 1, 2))                 # exactly symmetric
    assert np.max(np.abs(packed - dense)) <= 1e-12 * np.max(np.abs(dense))
    assert op.packed is op.packed                                              # built once
    assert ops.SensingOperator.gaussian(m, n, n, seed=3).packed is None        # not symmetric
    assert ops.SensingOperator.identity(n, n).packed is None


def test_packed_operator_is_built_without_a_copy_of_the_dense_one():
    import tracemalloc

    n, m = 30, 2500                                                            # dense 18 MB, several blocks
    op = ops.SensingOperator.gaussian(m, n, n, symmetric=True, seed=0)
    tracemalloc.start()
    packed = op.packed
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert packed.nbytes <= peak <= 1.1 * packed.nbytes
    assert 2 * packed.nbytes < op.matrix.nbytes * 1.05                        # about half the bytes


def test_pack_and_unpack_refuse_bad_shapes():
    from opsense.engine.operators import pack_symmetric, unpack_symmetric

    with pytest.raises(ValueError, match="X must have shape"):
        pack_symmetric(np.ones((3, 4)))
    with pytest.raises(ValueError, match="z must have shape"):
        unpack_symmetric(np.ones(5), 3)
