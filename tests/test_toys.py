"""Helpers of the paper-B chapters 1-2: cubic recursion, 2x2 toy, windows and checks."""

import numpy as np
import pytest

import opsense as ms
from opsense import toys


# ---------------------------------------------------------------------------- cubic recursion
def test_cubic_recursion_obeys_the_bounds_of_the_proposition():
    eta, s0 = 0.1, np.array([0.05, 0.1, 0.3])
    s = toys.cubic_recursion(s0, eta=eta, iters=20000)
    assert s.shape == (20001, 3) and np.all(np.diff(s, axis=0) < 0) and np.all(s > 0)
    t = np.arange(s.shape[0])[:, None]
    u, u0 = s ** -2.0, s0 ** -2.0
    gap = u - u0 - 2 * eta * t
    bound = 12 * eta ** 2 / u0 + 6 * eta * np.log1p(2 * eta * t / u0)
    assert np.all(gap >= -1e-9) and np.all(gap <= bound + 1e-9)
    T = t[-1, 0]
    assert np.sum(s[-1] ** 4) == pytest.approx(toys.cubic_tail(s0, eta=eta, t=T), rel=0.01)
    assert toys.cubic_tail(s0, eta=eta, t=1e9) * (eta * 1e9) ** 2 == pytest.approx(0.75, rel=1e-5)


def test_cubic_tail_is_the_closed_form_and_validates():
    s0 = np.array([0.1, 0.2])
    t = np.array([0.0, 10.0, 1e4])
    want = (s0[:, None] ** -2 + 0.2 * t) ** -2
    assert np.allclose(toys.cubic_tail(s0, eta=0.1, t=t), want.sum(axis=0))
    assert toys.cubic_tail(0.1, eta=0.1, t=0.0) == pytest.approx(1e-4)
    with pytest.raises(ValueError, match="s0"):
        toys.cubic_tail([0.1, -1.0], eta=0.1, t=1.0)
    with pytest.raises(ValueError, match="t must"):
        toys.cubic_tail(0.1, eta=0.1, t=-1.0)
    with pytest.raises(ValueError, match="eta"):
        toys.cubic_recursion(0.1, eta=0.0, iters=3)
    with pytest.raises(ValueError, match="s0"):
        toys.cubic_recursion(3.0, eta=0.1, iters=3)


def test_decoupled_factorization_follows_the_cubic_recursion_exactly():
    # X0 = [S0; K0] with orthogonal row spaces: K's singular values follow the scalar recursion.
    n, r, k, eta = 8, 2, 4, 0.1
    target = ms.low_rank_target(n, n, r, sigma=[1.0, 0.5], psd=True, seed=3)
    prob = ms.Problem.from_parts(target, ms.SensingOperator.identity(n, n))
    rng = np.random.default_rng(0)
    U_perp = np.linalg.qr(np.hstack([target.U, rng.standard_normal((n, n - r))]))[0][:, r:]
    X0 = 0.1 * target.U @ np.hstack([np.eye(r), np.zeros((r, k - r))])
    K = 0.1 * U_perp[:, : k - r] @ np.diag([1.0, 0.5])
    X0 = X0 + np.hstack([np.zeros((n, r)), K])
    res = ms.run_gd(prob, init=X0, eta=eta, iters=500, parameterization="symmetric", record_every=50)
    s = toys.cubic_recursion([0.1, 0.05], eta=eta, iters=500)[res.t]
    assert np.allclose(res.singular_values[0, :, r:k], s ** 2, rtol=1e-10)  # eigenvalues of XX^T
    assert np.allclose(toys.redundant_singular_values(X0, target.U), [0.1, 0.05])


def test_redundant_singular_values_and_the_plateau_distribution():
    n, r, k = 20, 2, 5
    target = ms.low_rank_target(n, n, r, psd=True, seed=0)
    X0, _ = ms.initial_factors(n, n, k, 0.1, seed=1)
    s = toys.redundant_singular_values(X0, target.U)
    assert s.shape == (k - r,) and np.all(np.diff(s) <= 0)
    # invariance: an orthogonal change of the columns leaves them unchanged
    Q = np.linalg.qr(np.random.default_rng(2).standard_normal((k, k)))[0]
    assert np.allclose(toys.redundant_singular_values(X0 @ Q, target.U), s)
    with pytest.raises(ValueError, match="k > r"):
        toys.redundant_singular_values(X0[:, :2], target.U)
    x = toys.plateau_ratio_samples(n, r, k, c=0.0, samples=20000)
    N, p = n - r, k - r  # E tr((W^T W)^2) = p N (N + p + 1)
    assert x.mean() == pytest.approx(N * (N + p + 1) / n ** 2, rel=0.02)
    assert np.all(toys.plateau_ratio_samples(n, r, k, c=0.1, samples=100) < x[:100])
    with pytest.raises(ValueError, match="k must"):
        toys.plateau_ratio_samples(n, r, 19, c=0.1)


def test_tail_constant_recovers_the_limit_despite_offsets():
    eta, t = 0.1, np.arange(1.0, 20001.0, 10.0)
    err2 = (150.0 + 2 * eta * t) ** -2 + (400.0 + 2 * eta * t) ** -2
    assert toys.tail_constant(t, err2, eta=eta, window=(10000, 20000)) == pytest.approx(0.5, rel=1e-2)
    with pytest.raises(ValueError, match="window"):
        toys.tail_constant(t, err2, eta=eta, window=(5, 5))


# ---------------------------------------------------------------------------- the 2x2 toy
def test_diagonal_toy_gd_matches_the_closed_recursion():
    eta, alphas = 0.1, [0.2, 0.4]
    prob, (F0, G0) = toys.diagonal_toy(alphas)
    assert F0.shape == (2, 2, 2) and np.allclose(G0, F0 / 3)
    res = ms.run_gd(prob, init=(F0, G0), eta=eta, iters=3000, record_every=3000)
    for b, a in enumerate(alphas):
        D, p = toys.toy_recursion(a, eta=eta, iters=3000)
        f, g = res.U[b, 1, 1], res.V[b, 1, 1]
        assert f * g == pytest.approx(p[-1], rel=1e-9)
        assert f ** 2 - g ** 2 == pytest.approx(D[-1], rel=1e-9)
        assert 1 - eta * a ** 2 / 2 <= D[-1] / D[0] <= 1  # the proved bound
        assert res.U[b, 0, 1] == 0 and res.V[b, 1, 0] == 0  # stays diagonal
    single, (F1, _) = toys.diagonal_toy(0.3, ratio=0.5)
    assert F1.shape == (2, 2) and single.target.r == 1


def test_toy_rate_and_the_asymptotic_ratio():
    eta, a = 0.1, 0.3
    assert toys.toy_rate(a, eta=eta) == pytest.approx(16 / 9 * eta * a ** 2)
    assert np.allclose(toys.toy_rate([0.1, 0.2], eta=eta), 16 / 9 * eta * np.array([0.01, 0.04]))
    D, p = toys.toy_recursion(a, eta=eta, iters=6000)
    rate = -2 * np.log(p[-1] / p[-2])
    assert rate == pytest.approx(toys.toy_rate(a, eta=eta), rel=eta * a ** 2)
    with pytest.raises(ValueError, match="alpha"):
        toys.toy_rate(-1.0, eta=eta)
    with pytest.raises(ValueError, match="ratio"):
        toys.diagonal_toy(0.1, ratio=1.0)
    with pytest.raises(ValueError, match="alpha and eta"):
        toys.toy_recursion(5.0, eta=0.1, iters=10)


# ---------------------------------------------------------------------------- measurement helpers
def test_local_rate_symmetric_is_eta_sigma_r_for_factorization():
    prob = ms.make_problem(10, 10, 2, sigma=[1.0, 0.4], psd=True, operator="identity", seed=0)
    assert toys.local_rate_symmetric(prob, eta=0.1) == pytest.approx(-2 * np.log(1 - 0.1 * 0.4))
    res = ms.run_gd(prob, k=2, alpha=0.1, eta=0.1, iters=800, parameterization="symmetric", record_every=10)
    fit = ms.fit_rate(res.t, res.error[0] ** 2, window=(400, 600))
    assert fit.estimate == pytest.approx(-2 * np.log(1 - 0.04), rel=1e-3)
    with pytest.raises(ValueError, match="PSD"):
        toys.local_rate_symmetric(ms.make_problem(4, 4, 1, operator="identity"), eta=0.1)


def test_record_interval_keeps_points_in_the_exact_decay():
    prob = ms.make_problem(10, 10, 2, sigma=[1.0, 0.4], psd=True, operator="identity", seed=0)
    rate = -2 * np.log(1 - 0.1 * 0.4)
    assert toys.record_interval(prob, eta=0.1, iters=4000, floor=1e-24) == 4       # iters // 1000
    long = toys.record_interval(prob, eta=0.1, iters=10**6, floor=1e-24)           # capped by the decay
    assert long == int(np.log(1e24) / (rate * 10)) and np.log(1e24) / rate / long >= 10
    assert toys.record_interval(prob, eta=0.1, iters=5, floor=1e-24) == 1
    with pytest.raises(ValueError, match="floor must be < 1"):
        toys.record_interval(prob, eta=0.1, iters=100, floor=2.0)
    with pytest.raises(ValueError, match="points must be an integer >= 2"):
        toys.record_interval(prob, eta=0.1, iters=100, floor=1e-24, points=1)


def test_burn_in_time_and_rate_ratio():
    prob = ms.make_problem(10, 10, 2, sigma=[1.0, 0.5], psd=True, operator="identity", seed=0)
    res = ms.run_gd(prob, k=[2, 2], alpha=[0.1, 0.001], eta=0.1, iters=600,
                    parameterization="symmetric", record_every=10)
    tb = toys.burn_in_time(res, prob.target.sigma)
    assert tb.shape == (2,) and 0 < tb[0] < tb[1] < 600
    assert np.isnan(toys.burn_in_time(res, [5.0, 5.0])).all()
    t = np.arange(0, 1000.0)
    assert toys.rate_ratio(t, np.exp(-0.01 * t), window=(100, 900)) == pytest.approx(1.0)
    power = toys.rate_ratio(t + 1, (t + 1) ** -2.0, window=(100, 900))
    assert power == pytest.approx(toys.rate_ratio(t + 1, (t + 1) ** -0.5, window=(100, 900)))  # any exponent
    assert 0.3 < power < 0.5
    with pytest.raises(ValueError, match="GDResult"):
        toys.burn_in_time(None, [1.0])


def test_parameter_checks_name_the_parameter():
    assert toys.check_widths([2, 3, 5], r=2, n=20) == [2, 3, 5]
    for bad in ([3, 5], [2], [2, 2, 3], [2, 19]):
        with pytest.raises(ValueError, match="parameter ks"):
            toys.check_widths(bad, r=2, n=20)
    assert toys.check_plateau_alphas([0.01, 0.03], eta=0.1) == [0.01, 0.03]
    with pytest.raises(ValueError, match="parameter alphas"):
        toys.check_plateau_alphas([0.1], eta=0.1)
    assert toys.require_horizon("iters", 100, 99.5, "why") == 100
    with pytest.raises(ValueError, match="parameter iters must be >= 200"):
        toys.require_horizon("iters", 100, 200, "why")
