"""Chapter b3_imbalance: the identity, the drift, the redundant imbalance, the check, the claims."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import math  # noqa: E402

import opsense as ops  # noqa: E402
from opsense.chapters import b3_imbalance as ch  # noqa: E402
from opsense.claims import BASES  # noqa: E402


@pytest.fixture(scope="module")
def problem():
    return ops.make_problem(8, 7, 2, 80, kappa=2.0, seed=3)


@pytest.fixture(scope="module")
def small():
    """The whole chapter on a small case (about a second)."""
    with pytest.warns(ops.config.OutsideRegimeWarning):
        P = ops.configure(ch, "book", n=8, r=1, k=2, m=200, alpha=0.5, eta=0.1, instances=3, iters=1000, seed=1)
    s = ch.setup(P)
    runs = ch.run(P, s)
    return P, s, runs, ch.run_identity(P, s), ch.run_drift(P, s, runs), ch.verify_balanced(runs), \
        ch.late_rates(P, s, runs)


def test_verify_identity_along_a_trajectory(problem):
    U, V = ops.initial_factors(8, 7, 4, 0.3, init="imbalanced", seed=2)
    ver = ch.verify_identity(problem, U, V, eta=0.1, steps=40)
    assert ver.t.shape == (40,) and ver.discrepancy.max() <= 1e-13
    assert np.all(ver.change > 0)
    with pytest.raises(ValueError, match="steps"):
        ch.verify_identity(problem, U, V, eta=0.1, steps=0)


def test_drift_is_order_eta_at_fixed_flow_time(problem):
    U, V = ops.initial_factors(8, 7, 4, 0.3, init="imbalanced", seed=2)
    etas = [0.1, 0.05]
    t, drift = ch.imbalance_drift(problem, U, V, eta=etas, iters=400, every=100)
    assert t.tolist() == [0, 100, 200, 300, 400] and drift.shape == (2, 5) and np.all(drift[:, 0] == 0)
    # the same flow time eta t = 20: t = 200 at eta, t = 400 at eta/2
    ratio = drift[0, 2] / drift[1, 4]
    assert 1.6 < ratio < 2.4
    # chunked runs reproduce one long run
    one = ops.run_gd(problem, init=(U, V), eta=0.1, iters=400, record_every=400)
    np.testing.assert_allclose(np.linalg.norm(ops.imbalance(one.U[0], one.V[0]) - ops.imbalance(U, V)),
                               drift[0, -1], rtol=1e-9)
    with pytest.raises(ValueError, match="multiple"):
        ch.imbalance_drift(problem, U, V, eta=0.1, iters=150, every=100)


def test_redundant_imbalance_interlacing():
    rng = np.random.default_rng(4)
    M = rng.standard_normal((5, 5))
    delta = M @ M.T + 0.1 * np.eye(5)
    V = rng.standard_normal((9, 5)) @ np.diag([3.0, 2.0, 1e-6, 1e-7, 1e-8])
    ev, Q = ops.redundant_imbalance(delta, V, r=2)
    assert ev.shape == (3,) and Q.shape == (5, 3)
    np.testing.assert_allclose(Q.T @ Q, np.eye(3), atol=1e-12)
    assert np.linalg.norm(V @ Q) < 1e-5  # the collapsed directions of V
    assert ev[0] >= np.linalg.eigvalsh(delta)[0] - 1e-12  # Cauchy interlacing
    with pytest.raises(ValueError, match="r must"):
        ops.redundant_imbalance(delta, V, r=5)


def test_rip_shrink():
    assert ch.rip_shrink(20, 4, 2, 600) == pytest.approx((1 - np.sqrt(40 / 600)) ** 2)
    assert ch.rip_shrink(20, 4, 2, 30) == 0.0
    with pytest.raises(ValueError, match="r must"):
        ch.rip_shrink(20, 4, 4, 600)


def test_late_rate_of_the_diagonal_toy_is_2_eta_delta():
    # 2x2 toy of paper B: Delta_red = 8/9 alpha^2 exactly, rate 2 eta Delta_red (16/9 eta alpha^2)
    tgt = ops.LowRankTarget(np.diag([1.0, 0.0]), np.array([[1.0], [0.0]]), np.array([[1.0], [0.0]]),
                            np.array([1.0]), False)
    pr = ops.Problem.from_parts(tgt, ops.SensingOperator.identity(2, 2))
    alpha, eta = 0.2, 0.1
    U0, V0 = alpha * np.eye(2), alpha / 3 * np.eye(2)
    res = ops.run_gd(pr, init=(U0, V0), eta=eta, iters=6000)
    fit = ops.late_rate(res.t, res.rel_error[0] ** 2, start=ch.trigger_time(res.t, res.residual[0], epsilon=1e-2),
                        floor=1e-24)
    lam_red = ops.redundant_imbalance(ops.imbalance(U0, V0), res.V[0], r=1)[0][0]
    assert lam_red == pytest.approx(8 / 9 * alpha ** 2)
    assert fit.estimate == pytest.approx(2 * eta * lam_red, rel=0.02)
    assert np.isnan(ch.trigger_time(res.t, np.ones_like(res.t, dtype=float), epsilon=1e-2))


@pytest.mark.parametrize("kwargs, name", [
    (dict(n=1), "n"),
    (dict(r=20), "r"),
    (dict(k=2), "k"),
    (dict(k=21), "k"),
    (dict(kappa=0.5), "kappa"),
    (dict(alpha=1.5), "alpha"),
    (dict(eta=0.5), "eta"),
    (dict(iters=10 ** 7), "iters"),
    (dict(m=100_000), "m"),
    (dict(seed=-1), "seed"),
    (dict(iters=2.5), "iters"),
    (dict(instances=2), "instances"),
    (dict(instances=51), "instances"),
])
def test_check_names_the_bad_parameter(kwargs, name):
    with pytest.raises(ValueError, match=f"^parameter {name} must"):
        ops.configure(ch, "book", **kwargs)


def test_check_refuses_a_raw_namespace_directly():
    P = ops.configure(ch, "book")
    with pytest.raises(ValueError, match="^parameter r must"):
        ch.check(type(P)(**{**vars(P), "r": 0}))


@pytest.mark.parametrize("preset", ["book", "paper"])
def test_presets_pass_the_check(preset):
    assert ops.configure(ch, preset).preset == preset
    assert set(ch.PRESETS[preset]) == set(ch.PRESETS["book"]) and ch.PRESETS[preset]["seed"] == 0


def test_claims_of_a_small_case_have_a_basis(small):
    P, s, runs, ver, drift, bal, rates = small
    claims = ch.claims(runs, ver, drift, bal, rates)
    assert [c.id for c in claims] == ["b3.identity", "b3.drift-order", "b3.balanced-exact", "b3.balanced-sublinear",
                                      "b3.ordering", "b3.rate-factorization", "b3.rate-sensing-slowest-mode",
                                      "b3.rate-sensing", "b3.rate-vs-delta0"]
    assert all(c.basis in BASES and isinstance(c.measured, float) for c in claims)
    assert all(c.holds for c in claims if c.basis == "identity")
    assert bal.same_factors and bal.unequal_entries == 0
    glued = ch.glue_values(runs, ver, drift, bal, rates, s)
    assert glued["b3_T"] == ch.horizon(P) and all(isinstance(x, (int, float)) for x in glued.values())
    assert "imbalanced" in ch.init_summary(s) and "rho" in ch.rates_summary(rates)


def test_plots_draw_and_validate(small):
    _, _, runs, ver, drift, _, rates = small
    fig, axes = ch.plot_three_initializations(runs)
    assert len(axes) == 2
    fig, axes = ch.plot_identity_drift(ver, drift)
    assert len(axes) == 2 and len(axes[1].get_lines()) == drift.drift_tau.shape[1]
    fig, ax = ch.plot_rates(rates)
    with pytest.raises(ValueError, match="drift"):
        ch.plot_identity_drift(ver, drift.drift_tau)
    with pytest.raises(ValueError, match="rates"):
        ch.plot_rates(drift)
    with pytest.raises(ValueError, match="runs"):
        ch.plot_three_initializations(ver)
    plt.close("all")


def test_experiment_functions_refuse_foreign_results(small):
    P, s, runs, ver, drift, bal, rates = small
    with pytest.raises(ValueError, match="runs must be a Runs"):
        ch.verify_balanced(ver)
    with pytest.raises(ValueError, match="s must be a Setup"):
        ch.run_drift(P, runs, runs)
    with pytest.raises(ValueError, match="rates must be a Rates"):
        ch.claims(runs, ver, drift, bal, bal)


# ----------------------------------------------------------------------------- the cost estimate




def test_cost_by_hand_on_a_tiny_case():
    import math

    P = ops.config.merge("book", ch.PRESETS, n=4, r=1, k=2, m=30, kappa=2.0, alpha=0.5, eta=0.1, iters=800)
    assert ch.horizon(P) == 800 and ch.horizon(ops.config.merge("book", ch.PRESETS, n=4, r=1, k=2, m=30,
                                                               alpha=0.5, iters=400)) == 750
    B = P.instances
    c = ch.cost(P)
    step = 16 * (2 * 30 + 3 * 2)                 # one Gaussian step: n^2 (2 m + 3 k) = 1056
    runs = (3 + 1 + 1) * B * 800 * step + B * 800 * 16 * 3 * 2   # five Gaussian runs and the factorization run
    ident = 300 * 16 * (5 * 30 + 6 * 2)          # min(300, iters) single steps, five passes each
    t_eps = 2.5 * 2.0 * math.log(100 * 4 / (2.0 * 0.25)) / 0.1   # 2.5 signal_time(alpha) = 334.2
    n0 = 10 * math.ceil(t_eps / 10)              # 340
    assert n0 == 340
    drift = 7 * n0 * B * step                    # n0, 2 n0, 4 n0 steps at eta, eta/2, eta/4
    hess = 2 * B * 30 * (2 * 4 * 2) ** 2         # two J^T J of size 2 n k per instance
    assert c.work == runs + ident + drift + hess
    # two operators 30 x 16 per instance; runs of factors (4 + 4) * 2 and 81 records of 2 + 2 + 9 values
    assert c.memory_bytes == 8 * (2 * B * 30 * 16 + 6 * B * ((4 + 4) * 2 + 81 * 13) + 2 * 30 * 16)


def test_horizon_is_derived_from_the_rate():
    P = ops.config.merge("book", ch.PRESETS)
    t = 2 * ops.signal_time(P.alpha, eta=P.eta, kappa=P.kappa, n=P.n) + ch.HORIZON_PLATEAUS / (P.eta * P.alpha ** 2)
    assert ch.horizon(P) == 10 * math.ceil(t / 10) == P.iters
    assert ch.horizon(ops.config.merge("book", ch.PRESETS, iters=10)) == P.iters    # raised to the derived one


def test_regime_warning_outside_and_silence_inside():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", ops.config.OutsideRegimeWarning)
        ops.configure(ch, "book")
        ops.configure(ch, "paper")
    with pytest.warns(ops.config.OutsideRegimeWarning, match="kappa <= 4"):
        ops.configure(ch, "book", kappa=5.0)
    with pytest.warns(ops.config.OutsideRegimeWarning, match="m >= 5 n"):
        ops.configure(ch, "book", m=500)


def test_slow_hessian_of_the_toy_is_the_restricted_imbalance():
    # 2x2 toy, converged: the slow block is f^2 = Delta_red (one eigenvalue: (n2 - r)(k - r) = 1)
    tgt = ops.LowRankTarget(np.diag([1.0, 0.0]), np.array([[1.0], [0.0]]), np.array([[1.0], [0.0]]),
                            np.array([1.0]), False)
    pr = ops.Problem.from_parts(tgt, ops.SensingOperator.identity(2, 2))
    alpha, eta = 0.2, 0.1
    res = ops.run_gd(pr, init=(alpha * np.eye(2), alpha / 3 * np.eye(2)), eta=eta, iters=4000)
    slow, gap = ch.slow_hessian(pr, res.U[0], res.V[0], r=1)
    assert slow.shape == (1,) and gap > 10
    assert slow[0] == pytest.approx(res.U[0, 1, 1] ** 2, rel=1e-6)
    assert slow[0] == pytest.approx(8 / 9 * alpha ** 2, rel=eta * alpha ** 2)
    with pytest.raises(ValueError, match="r must"):
        ch.slow_hessian(pr, res.U[0], res.V[0], r=2)


def test_the_rate_claims_fail_when_the_prediction_is_wrong(small):
    import dataclasses

    P, s, runs, ver, drift, bal, rates = small
    by = lambda q: {c.id: c for c in ch.claims(runs, ver, drift, bal, q)}  # noqa: E731
    slow = dataclasses.replace(rates, sensing=dataclasses.replace(rates.sensing, rho=0.5 * rates.sensing.rho_h))
    assert by(slow)["b3.rate-sensing-slowest-mode"].verdict == "fails"     # below the slowest mode
    off = dataclasses.replace(rates, factorization=dataclasses.replace(
        rates.factorization, rho=1.2 * 2 * rates.eta * rates.factorization.lam_red))
    assert by(off)["b3.rate-factorization"].verdict == "fails"             # 20% off 2 eta lambda_red
    fast = dataclasses.replace(rates, sensing=dataclasses.replace(rates.sensing, rho=1.5 * 2 * rates.eta
                                                                  * rates.sensing.lam_red))
    assert by(fast)["b3.rate-sensing"].verdict == "fails"                  # above the mean curvature
