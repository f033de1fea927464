"""Imbalance helpers of chapters b3/b4: identity, drift, redundant imbalance, rebalancing, windows."""

import numpy as np
import pytest

import opsense as ms
from opsense import imbalance as mi


@pytest.fixture(scope="module")
def problem():
    return ms.make_problem(8, 7, 2, 80, kappa=2.0, seed=3)






def test_check_identity_along_a_trajectory(problem):
    F, G = ms.initial_factors(8, 7, 4, 0.3, init="imbalanced", seed=2)
    chk = mi.check_identity(problem, F, G, eta=0.1, steps=40)
    assert chk.t.shape == (40,) and chk.discrepancy.max() <= 1e-13
    assert np.all(chk.change > 0)


def test_drift_is_order_eta_at_fixed_flow_time(problem):
    F, G = ms.initial_factors(8, 7, 4, 0.3, init="imbalanced", seed=2)
    etas = [0.1, 0.05]
    t, drift = mi.imbalance_drift(problem, F, G, eta=etas, iters=400, every=100)
    assert t.tolist() == [0, 100, 200, 300, 400] and drift.shape == (2, 5) and np.all(drift[:, 0] == 0)
    # the same flow time eta t = 20: t = 200 at eta, t = 400 at eta/2
    ratio = drift[0, 2] / drift[1, 4]
    assert 1.6 < ratio < 2.4
    # chunked runs reproduce one long run
    one = ms.run_gd(problem, init=(F, G), eta=0.1, iters=400, record_every=400)
    np.testing.assert_allclose(np.linalg.norm(mi.imbalance(one.U[0], one.V[0]) - mi.imbalance(F, G)),
                               drift[0, -1], rtol=1e-9)
    with pytest.raises(ValueError, match="multiple"):
        mi.imbalance_drift(problem, F, G, eta=0.1, iters=150, every=100)


def test_redundant_imbalance_interlacing():
    rng = np.random.default_rng(4)
    M = rng.standard_normal((5, 5))
    delta = M @ M.T + 0.1 * np.eye(5)
    G = rng.standard_normal((9, 5)) @ np.diag([3.0, 2.0, 1e-6, 1e-7, 1e-8])
    ev, Q = mi.redundant_imbalance(delta, G, r=2)
    assert ev.shape == (3,) and Q.shape == (5, 3)
    np.testing.assert_allclose(Q.T @ Q, np.eye(3), atol=1e-12)
    assert np.linalg.norm(G @ Q) < 1e-5  # the collapsed directions of G
    assert ev[0] >= np.linalg.eigvalsh(delta)[0] - 1e-12  # Cauchy interlacing
    with pytest.raises(ValueError, match="r must"):
        mi.redundant_imbalance(delta, G, r=5)


def test_rip_shrink():
    assert mi.rip_shrink(20, 4, 2, 600) == pytest.approx((1 - np.sqrt(40 / 600)) ** 2)
    assert mi.rip_shrink(20, 4, 2, 30) == 0.0
    with pytest.raises(ValueError, match="r must"):
        mi.rip_shrink(20, 4, 4, 600)


def test_rebalance_report_exact_properties():
    rng = np.random.default_rng(5)
    U, V = np.linalg.qr(rng.standard_normal((9, 2)))[0], np.linalg.qr(rng.standard_normal((8, 2)))[0]
    Xs = U @ np.diag([1.0, 0.5]) @ V.T
    # factors of a near-solution: F G^T = X* + small, with a weak redundant part of size alpha
    F = np.hstack([U * np.sqrt([1.0, 0.5]), 0.1 * rng.standard_normal((9, 2))])
    G = np.hstack([V * np.sqrt([1.0, 0.5]), 1e-3 * rng.standard_normal((8, 2))])
    rep = mi.rebalance_report(F, G, r=2)
    assert rep.product_change <= 1e-14
    np.testing.assert_allclose(rep.sv_F_after, rep.beta, rtol=1e-13)
    np.testing.assert_allclose(rep.imbalance_after, rep.imbalance_predicted, atol=1e-13 * rep.beta)
    assert rep.redundant_before < 0.2 < 0.99 * rep.beta <= rep.redundant_after <= rep.beta + 1e-12
    err = np.linalg.norm(F @ G.T - Xs, 2)
    assert rep.redundant_after >= rep.beta - err ** 2 / rep.beta - 1e-12  # Weyl bound of the proposition




def test_check_sizes():
    mi.check_sizes(n=20, r=2, k=4, m=600)
    with pytest.raises(ValueError, match="parameter k"):
        mi.check_sizes(n=20, r=2, k=2, m=600)
    with pytest.raises(ValueError, match="r must"):
        mi.check_sizes(n=20, r=20, k=22, m=600)
    with pytest.raises(ValueError, match="m must"):
        mi.check_sizes(n=20, r=2, k=4, m=0)




def test_late_rate_of_the_diagonal_toy_is_2_eta_delta():
    # 2x2 toy of paper B: Delta_red = 8/9 alpha^2 exactly, rate 2 eta Delta_red (16/9 eta alpha^2)
    tgt = ms.LowRankTarget(np.diag([1.0, 0.0]), np.array([[1.0], [0.0]]), np.array([[1.0], [0.0]]),
                           np.array([1.0]), False)
    pr = ms.Problem.from_parts(tgt, ms.SensingOperator.identity(2, 2))
    alpha, eta = 0.2, 0.1
    F0, G0 = alpha * np.eye(2), alpha / 3 * np.eye(2)
    res = ms.run_gd(pr, init=(F0, G0), eta=eta, iters=6000)
    fit = mi.late_rate(res.t, res.rel_error[0] ** 2, start=mi.trigger_time(res.t, res.residual[0], epsilon=1e-2),
                       floor=1e-24)
    lam_red = mi.redundant_imbalance(mi.imbalance(F0, G0), res.V[0], r=1)[0][0]
    assert lam_red == pytest.approx(8 / 9 * alpha ** 2)
    assert fit.estimate == pytest.approx(2 * eta * lam_red, rel=0.02)


def test_plots_validate():
    chk = mi.IdentityCheck(np.arange(3), np.ones(3) * 1e-16, np.ones(3), np.ones(3), 0.1)
    fig, axes = mi.plot_identity_drift(chk, np.arange(4), np.zeros((2, 4)), [0.1, 0.05], tau=0.2)
    assert len(axes) == 2
    with pytest.raises(ValueError, match="drift"):
        mi.plot_identity_drift(chk, np.arange(4), np.zeros((3, 4)), [0.1, 0.05], tau=0.2)
    fig, axes = mi.plot_rates([0.1, 0.2], [1e-3, 4e-3], [3e-2, 3e-2], 5e-2, k=4, r=2)
    with pytest.raises(ValueError, match="rho_exact"):
        mi.plot_rates([0.1, 0.2], [1e-3, 4e-3], [3e-2, 3e-2], -1.0, k=4, r=2)
    import matplotlib.pyplot as plt
    plt.close("all")
