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
def test_both_presets_pass_the_check_inside_the_regime(preset):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", ops.config.OutsideRegimeWarning)
        P = ops.configure(ch, preset)
    assert P.seed == 0 and P.instances >= 5 and set(ch.PRESETS[preset]) == set(ch.PRESETS["book"])


@pytest.mark.parametrize("name, value", [
    ("n", 2), ("n", 2.5), ("r", 10), ("r", 0), ("ks", [3, 5]), ("ks", [2]), ("ks", [2, 2, 3]), ("ks", [2, 19]),
    ("ks", "two"), ("kappa", 0.5), ("kappa", 100.0), ("eta", 0.5), ("m", 100), ("m", 200000), ("alpha", 0.5),
    ("alphas", [0.1]), ("alphas", [0.003, 0.04]), ("alphas", [0.01, 0.003]), ("alphas", [0.003]),
    ("iters", 10), ("iters_mf", 10), ("iters", 3000), ("iters_mf", 3000), ("instances", 4), ("instances", 51),
    ("seed", -1), ("seed", 1.5),
])
def test_check_refuses_bad_values_naming_the_parameter(name, value):
    with pytest.raises(ValueError, match=rf"^parameter {name}(\[\d+\])? must"):
        ops.configure(ch, "book", **{name: value})


def test_check_refuses_too_much_work_and_says_the_horizon():
    with pytest.raises(ValueError, match=r"^parameter iters must keep instances \* iters tau \* min\(m, n\(n\+1\)/2\)"):
        ops.configure(ch, "book", n=60, m=2000)
    with pytest.raises(ValueError, match=r"^parameter iters must be >= 40 \(plateau times"):
        ops.configure(ch, "book", iters=39)
    with pytest.raises(ValueError, match=r"^parameter alphas must keep 1/\(eta alpha\*\*2\) >= 20 times"):
        ops.configure(ch, "book", kappa=10.0)


@pytest.mark.parametrize("given, what", [({"kappa": 5.0, "alphas": [0.003, 0.01]}, "kappa <= 4"),
                                         ({"m": 500}, "m >= 4 n"), ({"n": 9, "m": 300, "ks": [2, 3, 4]}, "n >= 10")])
def test_outside_the_regime_runs_with_a_warning(given, what):
    with pytest.warns(ops.config.OutsideRegimeWarning, match=what):
        ops.configure(ch, "book", **given)


# ---------------------------------------------------------------------------- the sensing machinery
def test_gram_equivalent_operator_gives_the_same_iterates():
    prob = ops.make_problem(6, 6, 1, 60, psd=True, seed=4)
    eq = ch.gram_equivalent(prob)
    assert eq.operator.m == 21 and eq.operator.symmetric and eq.target is prob.target
    E = np.random.default_rng(0).standard_normal((6, 6))
    E = E + E.T
    np.testing.assert_allclose(eq.operator.normal(E), prob.operator.normal(E), rtol=1e-10, atol=1e-12)
    kw = dict(k=2, alpha=0.1, eta=0.1, iters=3000, parameterization="symmetric", record_every=100, seed=3)
    a, b = ops.run_gd(prob, **kw), ops.run_gd(eq, **kw)
    np.testing.assert_allclose(b.error, a.error, rtol=1e-6)
    assert ch.gram_equivalent(ops.make_problem(6, 6, 1, 20, psd=True)).operator.m == 20   # m <= n(n+1)/2: as is
    with pytest.raises(ValueError, match="symmetric"):
        ch.gram_equivalent(ops.make_problem(6, 6, 1, psd=True, operator="identity"))


def test_tail_windows_halve_the_horizon_down_to_five_plateau_times():
    assert ch.tail_windows(200.0, 1.0) == [(6.25, 12.5), (12.5, 25.0), (25.0, 50.0), (50.0, 100.0), (100.0, 200.0)]
    assert ch.tail_windows(40.0, 1.0) == [(5.0, 10.0), (10.0, 20.0), (20.0, 40.0)]
    assert ch.tail_windows(9.0, 1.0) == []
    with pytest.raises(ValueError, match="tau"):
        ch.tail_windows(10.0, 0.0)


def test_exact_horizon_covers_the_signal_phase_and_the_decay():
    rate = 0.1
    T = ch.exact_horizon(rate, alpha=0.1, eta=0.1, kappa=2.0, n=20)
    sig = ops.signal_time(0.1, eta=0.1, kappa=2.0, n=20) if hasattr(ops, "signal_time") else None
    assert T >= 1.5 * np.log(1 / ch.FLOOR) / rate
    if sig is not None:
        assert T == int(np.ceil(2 * sig + 1.5 * np.log(1 / ch.FLOOR) / rate))
    assert ch.exact_horizon(2 * rate, alpha=0.1, eta=0.1, kappa=2.0, n=20) < T
    with pytest.raises(ValueError, match="rate"):
        ch.exact_horizon(0.0, alpha=0.1, eta=0.1, kappa=2.0, n=20)


# ---------------------------------------------------------------------------- the chapter, small
SMALL = dict(n=10, r=1, m=200, ks=[1, 2, 3], alpha=0.3, iters=40, iters_mf=20)


@pytest.fixture(scope="module")
def small():
    P = ops.configure(ch, "book", **SMALL)
    probs = ch.problems(P)
    sens, fact = ch.run_sensing(P, probs), ch.run_factorization(P, probs)
    checks = ch.Checks(ch.exact_rates(probs, sens, fact), ch.mechanism(fact), ch.tails(sens, fact),
                       ch.plateaus(fact, n=P.n))
    return P, probs, sens, fact, checks


def test_a_small_chapter_runs_to_claims_with_valid_bases(small):
    P, probs, sens, fact, checks = small
    assert "sensing and factorization share each target: True" in ch.describe(probs)
    assert len(probs.seeds) == len(set(probs.seeds)) == 5
    assert len({float(p.target.U[0, 0]) for p in probs.sensing}) == 5           # the targets are re-drawn
    for text in (ch.summary_exact(checks.exact), ch.summary_mechanism(checks.mechanism),
                 ch.summary_tails(checks.tails), ch.summary_plateaus(checks.plateaus)):
        assert isinstance(text, str) and text
    values = ch.glue_values(checks)
    assert {"b1_mf_ratio", "b1_constA", "b1_plat_hi", "b1_win0", "b1_Tmf", "b1_gT", "b1_deficit"} <= set(values)
    assert set(ch.glue_fits(checks)) == {"b1_sens_r2"}
    claims = ch.claims(checks)
    ids = [c.id for c in claims]
    nwin = len(checks.tails.windows)
    assert nwin == 3 and checks.tails.slopes.shape == (5, 3) and checks.tails.g.shape == (5, 4)
    assert len(ids) == len(set(ids)) == 7 + 2 + nwin + 2 + 3 * 2
    assert all(c.basis in BASES for c in claims)
    assert all(c.verdict == "holds" for c in claims), [c.id for c in claims if c.verdict != "holds"]
    assert np.allclose(checks.exact.rate["factorization"], checks.exact.pred["factorization"], rtol=0.01)
    for plot in (ch.plot_sensing(sens), ch.plot_factorization(fact)):
        plt.close(plot[0])


def _tail_claims(checks, **change):
    import dataclasses

    tails = dataclasses.replace(checks.tails, **change)
    return {c.id: c for c in ch.claims(dataclasses.replace(checks, tails=tails))}


def test_the_tail_claims_fail_for_a_decay_faster_than_one_over_t_squared(small):
    checks = small[4]
    tl = checks.tails
    k = tl.k
    # a window steeper than -2 on every instance: the lower bound is contradicted on that window
    steep = tl.slopes.copy()
    steep[:, -1] = -2.05 + 0.001 * np.arange(steep.shape[0])
    got = _tail_claims(checks, slopes=steep)
    assert got[f"b1.tail-slope-k{k}-w{len(tl.windows)}"].verdict == "fails"
    assert got[f"b1.tail-slope-k{k}-w1"].verdict == "holds"
    # a constant slope -1.9 (a power law t^-1.9): the approach to -2 fails
    flat = np.full_like(tl.slopes, -1.9)
    flat[:, -1] = -2.0 + 0.1 * np.array([0.98, 1.02, 0.99, 1.01, 1.0])
    assert _tail_claims(checks, slopes=flat)[f"b1.tail-approach-k{k}"].verdict == "fails"
    # eta^2 t^2 err falling like t^-0.05 over the horizon: "bounded below" fails
    edges = np.array([tl.windows[0][0]] + [w[1] for w in tl.windows])
    g = 0.3 * (edges / edges[0]) ** -0.05 * (1 + 0.01 * np.arange(tl.g.shape[0]))[:, None]
    assert _tail_claims(checks, g=g)[f"b1.tail-bounded-below-k{k}"].verdict == "fails"
    # a NaN (an unmeasurable window) fails rather than passing silently
    nan = tl.slopes.copy()
    nan[0, 0] = np.nan
    assert _tail_claims(checks, slopes=nan)[f"b1.tail-slope-k{k}-w1"].verdict == "fails"


def test_the_plateau_scaling_claim_fails_for_alpha_cubed(small):
    import dataclasses

    checks = small[4]
    pl = checks.plateaus
    k = min(pl.scaling)
    cubed = dataclasses.replace(pl, scaling={**pl.scaling, k: 3.0 + 0.01 * np.arange(5)})
    got = {c.id: c for c in ch.claims(dataclasses.replace(checks, plateaus=cubed))}
    assert got[f"b1.plateau-scaling-k{k}"].verdict == "fails"


def test_plot_sensing_refuses_other_inputs():
    with pytest.raises(ValueError, match="sens must be a SensingRuns"):
        ch.plot_sensing("runs")
    with pytest.raises(ValueError, match="fact must be a FactorizationRuns"):
        ch.plot_factorization(None)


# ----------------------------------------------------------------------------- the cost estimate
