"""The factors module: imbalance and its exact increment, the lifted form, PSD problem sets."""

import numpy as np
import pytest

import opsense as ops


@pytest.fixture(scope="module")
def problem():
    return ops.make_problem(8, 7, 2, 80, kappa=2.0, seed=3)


@pytest.fixture(scope="module")
def problem68():
    return ops.make_problem(6, 8, 2, 40, sigma=[1.0, 0.5], seed=3)


def test_imbalance_shapes_and_stacks():
    rng = np.random.default_rng(0)
    F, G = rng.standard_normal((6, 3)), rng.standard_normal((5, 3))
    np.testing.assert_allclose(ops.imbalance(F, G), F.T @ F - G.T @ G)
    stack = ops.imbalance(np.stack([F, 2 * F]), np.stack([G, G]))
    assert stack.shape == (2, 3, 3)
    np.testing.assert_allclose(stack[1], 4 * F.T @ F - G.T @ G)
    with pytest.raises(ValueError, match="U and V"):
        ops.imbalance(F, rng.standard_normal((5, 2)))


def test_increment_matches_one_engine_step(problem):
    F, G = ops.initial_factors(8, 7, 4, 0.5, init="imbalanced", seed=1)
    eta = 0.2
    res = ops.run_gd(problem, init=(F, G), eta=eta, iters=1, record_every=1)
    change = ops.imbalance(res.U[0], res.V[0]) - ops.imbalance(F, G)
    inc = ops.imbalance_increment(problem, F, G, eta=eta)
    assert np.linalg.norm(change - inc) <= 1e-13 * (np.linalg.norm(F.T @ F) + np.linalg.norm(G.T @ G))
    assert np.linalg.norm(inc) > 1e-6  # the identity is not trivially 0 = 0
    # the increment scales exactly like eta^2 at a fixed state
    np.testing.assert_allclose(ops.imbalance_increment(problem, F, G, eta=eta / 2), inc / 4, rtol=1e-12)


def test_dilation_spectrum():
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((4, 6))
    D = ops.dilation(Z)
    assert D.shape == (10, 10) and np.array_equal(D, D.T)
    s = np.linalg.svd(Z, compute_uv=False)
    ev = np.sort(np.linalg.eigvalsh(D))
    assert np.allclose(ev, np.sort(np.r_[s, -s, np.zeros(2)]), atol=1e-12)
    with pytest.raises(ValueError, match="Z"):
        ops.dilation(np.ones(3))


def test_lifted_step_is_one_engine_step(problem68):
    U0, V0 = ops.initial_factors(6, 8, 5, 0.3, seed=1)
    U1, V1 = ops.lifted_step(problem68, U0, V0, eta=0.2)
    res = ops.run_gd(problem68, init=(U0, V0), eta=0.2, iters=1, record_every=1)
    assert np.allclose(U1, res.U[0], rtol=0, atol=1e-14) and np.allclose(V1, res.V[0], rtol=0, atol=1e-14)
    M = ops.residual_matrix(problem68, U0, V0)
    assert np.allclose(U1, U0 + 0.2 * M @ V0) and np.allclose(V1, V0 + 0.2 * M.T @ U0)
    with pytest.raises(ValueError, match="eta"):
        ops.lifted_step(problem68, U0, V0, eta=0.0)
    with pytest.raises(ValueError, match="U and V"):
        ops.lifted_step(problem68, U0, V0[:, :3], eta=0.1)


def test_imbalance_identity_by_hand(problem68):
    """Delta_{t+1} - Delta_t = mu^2 (grad_U^T grad_U - grad_V^T grad_V), written out once."""
    U, V = ops.initial_factors(6, 8, 4, 0.5, seed=4)
    mu = 0.3
    M = ops.residual_matrix(problem68, U, V)
    U1, V1 = U + mu * M @ V, V + mu * M.T @ U
    lhs = (U1.T @ U1 - V1.T @ V1) - (U.T @ U - V.T @ V)
    gU, gV = -M @ V, -M.T @ U
    assert np.allclose(lhs, mu ** 2 * (gU.T @ gU - gV.T @ gV), atol=1e-14)


def test_psd_problems_share_the_target():
    p = ops.psd_problems(6, 2, 50, kappa=2.0, seed=1)
    assert p.symmetric.operator.symmetric and not p.general.operator.symmetric
    assert p.identity.operator.kind == "identity"
    for q in (p.general, p.identity):
        assert q.target is p.symmetric.target
    assert not np.array_equal(p.general.operator.matrix, p.symmetric.operator.matrix)

