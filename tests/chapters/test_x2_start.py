"""Chapter x2_start: the P, Q form of the step, the equal-start identity, the parameter checks and the claims."""

import warnings

import numpy as np
import pytest

import opsense as ops
from opsense.chapters import x2_start as ch


def _sym_problem(seed=0):
    return ops.make_problem(8, 8, 1, 120, psd=True, seed=seed)


def test_pq_step_is_the_gradient_step_and_sees_only_pp_minus_qq():
    prob = _sym_problem()
    U0, _ = ops.initial_factors(8, 8, 3, 0.3, seed=1)
    ver = ch.verify_pq(prob, U0, U0 / 3, eta=0.1, steps=20)
    assert ver.step_gap < 1e-13 and ver.data_gap < 1e-12 and ver.steps == 20
    (U1, V1), (P1, Q1) = ch.pq_step(prob, U0, U0, eta=0.1)
    assert np.array_equal(U1, V1) and np.allclose(Q1, 0)  # F0 = G0 stays equal
    with pytest.raises(ValueError, match="psd=True"):
        ch.pq_step(ops.make_problem(8, 8, 1, 120, seed=0), U0, U0, eta=0.1)


def test_the_pq_identity_fails_on_a_general_operator():
    """The identity is not vacuous: on a general operator A(FG^T) != A(PP^T - QQ^T)."""
    gen = ops.make_problem(8, 8, 1, 120, seed=0)
    U0, V0 = ops.initial_factors(8, 8, 3, 0.3, init="imbalanced", seed=1)
    P, Q = 0.5 * (U0 + V0), 0.5 * (U0 - V0)
    a1, a2 = gen.operator.forward(U0 @ V0.T), gen.operator.forward(P @ P.T - Q @ Q.T)
    assert np.linalg.norm(a1 - a2) / np.linalg.norm(a1) > 1e-3


def test_equal_start_reproduces_the_symmetric_run():
    prob = _sym_problem(2)
    X0, _ = ops.initial_factors(8, 8, 3, 0.3, seed=3)
    rs = ops.run_gd(prob, init=X0, eta=0.1, iters=300, parameterization="symmetric")
    ra = ops.run_gd(prob, init=(X0, X0), eta=0.1, iters=300)
    assert np.max(np.abs(rs.error - ra.error)) <= 1e-12 * np.max(rs.error)
    assert np.array_equal(ra.U, ra.V)


def test_horizons_and_checks_name_the_parameter():
    P = ops.configure(ch, "book")
    need = ch.horizons(P)["need"]
    assert P.iters >= need["ratio"] and P.iters_compare >= need["compare"]
    with pytest.raises(ValueError, match="parameter iters "):
        ops.configure(ch, "book", iters=100)
    with pytest.raises(ValueError, match="parameter ratios"):
        ops.configure(ch, "book", ratios=[1.0, 0.5, 0.1])      # no 1/3
    with pytest.raises(ValueError, match="parameter m"):
        ops.configure(ch, "book", m=100)
    with pytest.raises(ValueError, match="parameter alpha"):
        ops.configure(ch, "book", alpha=0.6, iters=5000, iters_compare=5000)
    with pytest.warns(ops.config.OutsideRegimeWarning, match="ratios contain 1"):
        ops.configure(ch, "book", ratios=[0.5, 1 / 3, 0.1, 1 / 30])


def test_cost_is_positive_and_doubles_with_the_horizons():
    P = ops.config.merge("book", ch.PRESETS)
    Q = ops.config.merge("book", ch.PRESETS, iters=2 * P.iters, iters_compare=2 * P.iters_compare)
    assert ch.cost(Q).work / ch.cost(P).work == pytest.approx(2.0, rel=0.05)
    assert ch.cost(ops.config.merge("paper", ch.PRESETS)).work > ch.cost(P).work


def _runs(rate, lam_red, lam0, escape):
    R, I = rate.shape
    return ch.RatioRuns([], np.array([1.0, 0.5, 1 / 3, 0.1, 1 / 30]), 2, lam0, lam_red, rate, np.ones((R, I)),
                        escape, np.ones((R, I)), 0.3, 0.1)


def test_ratio_claims_on_synthetic_inputs():
    rng = np.random.default_rng(0)
    lam_red = 0.3 + rng.random((5, 6))
    lam0 = lam_red - 0.2 * rng.random((5, 6))
    lam0[0] = -0.5
    escape = np.full((5, 6), 250.0)
    good = _runs(2 * 0.1 * 0.09 * 0.65 * lam_red, lam_red, lam0, escape)
    p = ch._paired(good)
    assert np.allclose(p["cred_0.5"], 1) and np.allclose(p["escape_small"], 1)
    # a rate proportional to lambda_min(Delta_0) instead breaks the redundant-imbalance claims
    bad = _runs(2 * 0.1 * 0.09 * 0.65 * np.abs(lam0) * (1 + np.arange(5))[:, None], lam_red, lam0, escape)
    assert any(abs(v.mean() - 1) > 0.2 for k, v in ch._paired(bad).items() if k.startswith("cred_"))


def test_claims_verdicts_on_a_small_run():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ops.config.OutsideRegimeWarning)
        P = ops.configure(ch, "book", n=10, r=1, k=2, m=200, instances=3, ratios=[1.0, 1 / 3, 0.1, 1 / 30],
                          alpha=0.3)
    claims = ch.evaluate(P)
    ids = {c.id for c in claims}
    assert {"x2.equal-identity", "x2.pq-identity", "x2.variant-linear-general-operator"} <= ids
    by = {c.id: c for c in claims}
    assert by["x2.equal-identity"].verdict == "holds" and by["x2.pq-identity"].verdict == "holds"
    assert by["x2.variant-linear-symmetric-operator"].verdict in ("holds", "does not reproduce")
