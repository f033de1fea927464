"""Chapter b1_symmetric: the cubic recursion, the redundant block, the linearized rate, the check."""

import matplotlib

matplotlib.use("Agg")  # tests only; the chapters keep the inline backend

import matplotlib.pyplot as plt
import numpy as np
import pytest

import opsense as ops
from opsense.claims import BASES
from opsense.chapters import b1_symmetric as ch


# ---------------------------------------------------------------------------- cubic recursion
def test_cubic_recursion_obeys_the_bounds_of_the_proposition():
    eta, s0 = 0.1, np.array([0.05, 0.1, 0.3])
    s = ch.cubic_recursion(s0, eta=eta, iters=20000)
    assert s.shape == (20001, 3) and np.all(np.diff(s, axis=0) < 0) and np.all(s > 0)
    t = np.arange(s.shape[0])[:, None]
    u, u0 = s ** -2.0, s0 ** -2.0
    gap = u - u0 - 2 * eta * t
    bound = 12 * eta ** 2 / u0 + 6 * eta * np.log1p(2 * eta * t / u0)
    assert np.all(gap >= -1e-9) and np.all(gap <= bound + 1e-9)
    assert ch.cubic_bound_excess(s0, eta=eta, iters=20000) <= 1e-12
    T = t[-1, 0]
    assert np.sum(s[-1] ** 4) == pytest.approx(ch.cubic_tail(s0, eta=eta, t=T), rel=0.01)
    assert ch.cubic_tail(s0, eta=eta, t=1e9) * (eta * 1e9) ** 2 == pytest.approx(0.75, rel=1e-5)


def test_cubic_bound_excess_is_zero_at_the_start_and_validates():
    # the lower bound is tight at t = 0 (gap 0), so the largest excess is exactly 0, never "-0"
    x = ch.cubic_bound_excess([0.1, 0.5], eta=0.1, iters=100)
    assert x == 0.0 and str(x) == "0.0"
    with pytest.raises(ValueError, match="s0 must satisfy"):
        ch.cubic_bound_excess(3.0, eta=0.1, iters=10)


def test_cubic_tail_is_the_closed_form_and_validates():
    s0 = np.array([0.1, 0.2])
    t = np.array([0.0, 10.0, 1e4])
    want = (s0[:, None] ** -2 + 0.2 * t) ** -2
    assert np.allclose(ch.cubic_tail(s0, eta=0.1, t=t), want.sum(axis=0))
    assert ch.cubic_tail(0.1, eta=0.1, t=0.0) == pytest.approx(1e-4)
    with pytest.raises(ValueError, match="s0"):
        ch.cubic_tail([0.1, -1.0], eta=0.1, t=1.0)
    with pytest.raises(ValueError, match="t must"):
        ch.cubic_tail(0.1, eta=0.1, t=-1.0)
    with pytest.raises(ValueError, match="eta"):
        ch.cubic_recursion(0.1, eta=0.0, iters=3)
    with pytest.raises(ValueError, match="s0"):
        ch.cubic_recursion(3.0, eta=0.1, iters=3)


def test_decoupled_factorization_follows_the_cubic_recursion_exactly():
    # X0 = [S0; K0] with orthogonal row spaces: K's singular values follow the scalar recursion.
    n, r, k, eta = 8, 2, 4, 0.1
    target = ops.low_rank_target(n, n, r, sigma=[1.0, 0.5], psd=True, seed=3)
    prob = ops.Problem.from_parts(target, ops.SensingOperator.identity(n, n))
    rng = np.random.default_rng(0)
    U_perp = np.linalg.qr(np.hstack([target.U, rng.standard_normal((n, n - r))]))[0][:, r:]
    X0 = 0.1 * target.U @ np.hstack([np.eye(r), np.zeros((r, k - r))])
    K = 0.1 * U_perp[:, : k - r] @ np.diag([1.0, 0.5])
    X0 = X0 + np.hstack([np.zeros((n, r)), K])
    res = ops.run_gd(prob, init=X0, eta=eta, iters=500, parameterization="symmetric", record_every=50)
    s = ch.cubic_recursion([0.1, 0.05], eta=eta, iters=500)[res.t]
    assert np.allclose(res.singular_values[0, :, r:k], s ** 2, rtol=1e-10)  # eigenvalues of XX^T
    assert np.allclose(ch.redundant_singular_values(X0, target.U), [0.1, 0.05])


def test_redundant_singular_values_and_the_plateau_distribution():
    n, r, k = 20, 2, 5
    target = ops.low_rank_target(n, n, r, psd=True, seed=0)
    X0, _ = ops.initial_factors(n, n, k, 0.1, seed=1)
    s = ch.redundant_singular_values(X0, target.U)
    assert s.shape == (k - r,) and np.all(np.diff(s) <= 0)
    # invariance: an orthogonal change of the columns leaves them unchanged
    Q = np.linalg.qr(np.random.default_rng(2).standard_normal((k, k)))[0]
    assert np.allclose(ch.redundant_singular_values(X0 @ Q, target.U), s)
    with pytest.raises(ValueError, match="k > r"):
        ch.redundant_singular_values(X0[:, :2], target.U)
    x = ch.plateau_ratio_samples(n, r, k, c=0.0, samples=20000)
    N, p = n - r, k - r  # E tr((W^T W)^2) = p N (N + p + 1)
    assert x.mean() == pytest.approx(N * (N + p + 1) / n ** 2, rel=0.02)
    assert np.all(ch.plateau_ratio_samples(n, r, k, c=0.1, samples=100) < x[:100])
    with pytest.raises(ValueError, match="k must"):
        ch.plateau_ratio_samples(n, r, 19, c=0.1)


def test_plateau_samples_in_chunks_are_one_stream():
    # the chunked draw equals one draw of all samples from the same generator
    n, r, k, samples = 30, 1, 4, 70000  # 5e6 // (29 * 3) = 57471 per chunk: two chunks
    x = ch.plateau_ratio_samples(n, r, k, c=0.2, samples=samples, seed=5)
    W = np.random.default_rng(5).standard_normal((samples, n - r, k - r))
    w = np.linalg.eigvalsh(np.swapaxes(W, 1, 2) @ W / n)
    np.testing.assert_allclose(x, np.sum((1 / w + 0.4) ** -2.0, axis=1) / (k - r), rtol=1e-12)


def test_tail_constant_recovers_the_limit_despite_offsets():
    eta, t = 0.1, np.arange(1.0, 20001.0, 10.0)
    err2 = (150.0 + 2 * eta * t) ** -2 + (400.0 + 2 * eta * t) ** -2
    assert ch.tail_constant(t, err2, eta=eta, window=(10000, 20000)) == pytest.approx(0.5, rel=1e-2)
    with pytest.raises(ValueError, match="window"):
        ch.tail_constant(t, err2, eta=eta, window=(5, 5))


# ---------------------------------------------------------------------------- exact width
def test_local_rate_symmetric_is_eta_sigma_r_for_factorization():
    prob = ops.make_problem(10, 10, 2, sigma=[1.0, 0.4], psd=True, operator="identity", seed=0)
    assert ch.local_rate_symmetric(prob, eta=0.1) == pytest.approx(-2 * np.log(1 - 0.1 * 0.4))
    res = ops.run_gd(prob, k=2, alpha=0.1, eta=0.1, iters=800, parameterization="symmetric", record_every=10)
    fit = ops.fit_rate(res.t, res.error[0] ** 2, window=(400, 600))
    assert fit.estimate == pytest.approx(-2 * np.log(1 - 0.04), rel=1e-3)
    with pytest.raises(ValueError, match="PSD"):
        ch.local_rate_symmetric(ops.make_problem(4, 4, 1, operator="identity"), eta=0.1)


def test_record_interval_keeps_points_in_the_exact_decay():
    prob = ops.make_problem(10, 10, 2, sigma=[1.0, 0.4], psd=True, operator="identity", seed=0)
    rate = -2 * np.log(1 - 0.1 * 0.4)
    assert ch.record_interval(prob, eta=0.1, iters=4000, floor=1e-24) == 4       # iters // 1000
    long = ch.record_interval(prob, eta=0.1, iters=10**6, floor=1e-24)           # capped by the decay
    assert long == int(np.log(1e24) / (rate * 10)) and np.log(1e24) / rate / long >= 10
    assert ch.record_interval(prob, eta=0.1, iters=10**6, floor=1e-24, rate=rate) == long
    assert ch.record_interval(prob, eta=0.1, iters=5, floor=1e-24) == 1
    with pytest.raises(ValueError, match="floor must be < 1"):
        ch.record_interval(prob, eta=0.1, iters=100, floor=2.0)
    with pytest.raises(ValueError, match="points must be an integer >= 2"):
        ch.record_interval(prob, eta=0.1, iters=100, floor=1e-24, points=1)


# ---------------------------------------------------------------------------- parameters
@pytest.mark.parametrize("preset", ["book", "paper"])
def test_both_presets_pass_the_check(preset):
    P = ops.configure(ch, preset)
    assert P.seed == 0 and set(ch.PRESETS[preset]) == set(ch.PRESETS["book"])


@pytest.mark.parametrize("name, value", [
    ("n", 2), ("n", 2.5), ("r", 10), ("r", 0), ("ks", [3, 5]), ("ks", [2]), ("ks", [2, 2, 3]), ("ks", [2, 19]),
    ("ks", "two"), ("kappa", 0.5), ("kappa", 100.0), ("eta", 0.5), ("m", 100), ("m", 200000), ("alpha", 0.5),
    ("alphas", [0.1]), ("alphas", [0.003, 0.04]), ("iters", 100), ("iters_mf", 100), ("iters", 3_000_000),
    ("iters_mf", 3_000_000), ("seed", -1), ("seed", 1.5),
])
def test_check_refuses_bad_values_naming_the_parameter(name, value):
    with pytest.raises(ValueError, match=rf"^parameter {name}(\[\d+\])? must"):
        ops.configure(ch, "book", **{name: value})


def test_check_refuses_too_much_work_and_says_the_horizon():
    with pytest.raises(ValueError, match=r"^parameter iters must keep iters \* len\(ks\) \* m \* n\*\*2 <= 5e\+12"):
        ops.configure(ch, "book", m=100000, iters=100000)
    with pytest.raises(ValueError, match=r"^parameter iters must be >= 10000 \(slope window"):
        ops.configure(ch, "book", iters=9999)
    with pytest.raises(ValueError, match=r"^parameter alphas must keep 1/\(eta alpha\*\*2\) >= 20 times"):
        ops.configure(ch, "book", kappa=10.0)


# ---------------------------------------------------------------------------- the chapter, small
def test_a_small_chapter_runs_to_claims_with_valid_bases():
    P = ops.configure(ch, "book", n=7, r=1, m=100, ks=[1, 2], alpha=0.3, alphas=[0.01, 0.03], iters=2000,
                      iters_mf=3000)
    probs = ch.problems(P)
    assert "same target: True" in ch.describe(probs)
    sens, fact = ch.run_sensing(P, probs), ch.run_factorization(P, probs)
    checks = ch.Checks(ch.exact_rates(probs, sens, fact), ch.mechanism(fact), ch.tails(sens, fact),
                       ch.plateaus(fact, n=P.n))
    for text in (ch.summary_exact(checks.exact), ch.summary_mechanism(checks.mechanism),
                 ch.summary_tails(checks.tails), ch.summary_plateaus(checks.plateaus)):
        assert isinstance(text, str) and text
    values = ch.glue_values(checks)
    assert {"b1_mf_rate", "b1_constA", "b1_plat_hi", "b1_win0", "b1_Tmf"} <= set(values)
    assert set(ch.glue_fits(checks)) == {"b1_sens_r2"}
    claims = ch.claims(checks)
    ids = [c.id for c in claims]
    assert len(ids) == len(set(ids)) == 6 + 2 * 1 + 3 * 2
    assert all(c.basis in BASES and isinstance(c.measured, float) for c in claims)
    assert checks.exact.rate["factorization"] == pytest.approx(checks.exact.pred["factorization"], rel=0.01)
    for plot in (ch.plot_sensing(sens), ch.plot_factorization(fact)):
        plt.close(plot[0])


# ----------------------------------------------------------------------------- the cost estimate




