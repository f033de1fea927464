"""Chapter x4_shape: the threshold, the Wilson interval, the redundant basis, the checks, the cost and the claims."""

import dataclasses
import math
import warnings

import numpy as np
import pytest

import opsense as ops
from opsense.chapters import x4_shape as ch


@pytest.mark.parametrize("rho, aspect", [(1 / 3, 1), (1 / 3, 8), (0.5, 2), (0.1, 1)])
def test_free_edge_vanishes_on_the_closed_form_threshold(rho, aspect):
    n1 = 1000
    k = ch.threshold_k(n1, n1 * aspect, rho)
    c1, c2 = k / n1, k / (n1 * aspect)
    assert c1 + rho ** 2 * c2 == pytest.approx((1 - rho) ** 2, rel=1e-12)
    assert abs(ch.free_edge(c1, c2, rho ** 2)) < 1e-9
    assert ch.free_edge(0.9 * c1, 0.9 * c2, rho ** 2) > 1e-3 and ch.free_edge(1.1 * c1, 1.1 * c2, rho ** 2) < -1e-3


def test_free_edge_reduces_to_marchenko_pastur_and_the_square_threshold_is_two_fifths():
    assert ch.free_edge(0.25, 0.25, 0.0) == pytest.approx(0.25)
    assert ch.free_edge(0.25, 0.25, 1e-12) == pytest.approx(0.25, abs=1e-6)
    assert ch.threshold_k(50, 50) == pytest.approx(20.0)
    with pytest.raises(ValueError, match="rho"):
        ch.threshold_k(50, 50, rho=1.0)


def test_wilson_interval_known_values():
    iv = ch.wilson(50, 100)
    assert iv.mean == 0.5 and iv.lo == pytest.approx(0.4038, abs=1e-3) and iv.hi == pytest.approx(0.5962, abs=1e-3)
    zero = ch.wilson(0, 400)
    assert zero.lo == pytest.approx(0.0, abs=1e-12) and zero.hi == pytest.approx(3.8415 / 403.84, rel=1e-3)
    assert zero.n == 400 and sum(zero.values) == 0
    with pytest.raises(ValueError, match="count"):
        ch.wilson(5, 4)


def test_redundant_basis_is_the_complement_of_the_signal_columns():
    tgt = ops.low_rank_target(12, 9, 2, seed=0)
    k = 5
    # columns 0, 1 carry the target's singular vectors, columns 2..4 are orthogonal to them
    rng = np.random.default_rng(1)
    Pu = np.eye(12) - tgt.U @ tgt.U.T
    Pv = np.eye(9) - tgt.V @ tgt.V.T
    U = np.hstack([tgt.U, Pu @ rng.standard_normal((12, 3))])
    V = np.hstack([tgt.V, Pv @ rng.standard_normal((9, 3))])
    Q = ch.redundant_basis(U, V, tgt)
    assert Q.shape == (k, 3) and np.allclose(Q.T @ Q, np.eye(3))
    assert np.allclose(Q[:2], 0, atol=1e-10)
    with pytest.raises(ValueError, match="k > r"):
        ch.redundant_basis(U[:, :2], V[:, :2], tgt)


def test_compressed_imbalance_has_the_law_with_k_minus_r_columns():
    """F~Q is Gaussian with the same variance: the compression's mean trace matches (1 - rho^2) (k - r)."""
    Q = np.linalg.qr(np.random.default_rng(3).standard_normal((8, 3)))[0]
    tr = []
    for s in range(400):
        U, V = ops.initial_factors(40, 40, 8, 1.0, init="imbalanced", seed=s)
        tr.append(np.trace(Q.T @ ops.imbalance(U, V) @ Q))
    assert np.mean(tr) == pytest.approx(3 * (1 - 1 / 9), rel=0.05)


def test_horizons_and_checks_name_the_parameter():
    P = ops.configure(ch, "book")
    h = ch.horizons(P)
    for name, key in (("iters", "large"), ("iters_tail", "tail"), ("iters_rect", "rect"), ("iters_exact", "exact")):
        assert getattr(P, name) >= h["need"][key]
    with pytest.raises(ValueError, match="parameter iters "):
        ops.configure(ch, "book", iters=100)
    with pytest.raises(ValueError, match="parameter iters_rect"):
        ops.configure(ch, "book", iters_rect=100)
    with pytest.raises(ValueError, match="parameter k_big"):
        ops.configure(ch, "book", k_big=30)         # (30 - 5) (10/9) >= (4/9) 50: no predicted redundant imbalance
    with pytest.raises(ValueError, match="parameter alphas"):
        ops.configure(ch, "book", alphas=[0.28, 0.6])
    with pytest.raises(ValueError, match="parameter aspects"):
        ops.configure(ch, "book", aspects=[2, 4])
    with pytest.raises(ValueError, match="parameter scan"):
        ops.configure(ch, "book", scan=10)
    with pytest.warns(ops.config.OutsideRegimeWarning, match="at least 5 instances"):
        ops.configure(ch, "book", instances=4, scan=40)


def test_cost_is_positive_and_doubles_with_the_horizons():
    P = ops.config.merge("book", ch.PRESETS)
    names = ["iters", "iters_tail", "iters_rect", "iters_exact"]
    Q = ops.config.merge("book", ch.PRESETS, **{n: 2 * getattr(P, n) for n in names})
    assert ch.cost(Q).work / ch.cost(P).work == pytest.approx(2.0, rel=0.05)
    assert ch.cost(ops.config.merge("paper", ch.PRESETS)).work > ch.cost(P).work


# ---------------------------------------------------------------------------- claims on synthetic inputs
def _samples(shift=0.0):
    P = ops.config.merge("book", ch.PRESETS)
    confs = ch._sample_configs(P)
    rng = np.random.default_rng(0)
    lam = []
    for name, n1, _, k in confs:
        scale = 0.3 * n1 ** (-2 / 3)
        edge = ch.free_edge(k / n1, k / n1, 1 / 9)
        lam.append(edge + scale * (1 + shift) + 0.3 * scale * rng.standard_normal(400) * (1.0 if abs(edge) > 1e-6 else 3.0))
    return ch.ImbalanceSamples(confs, np.array(lam), np.zeros(len(confs)), np.array(P.thresh_ns), 5, 0.0)


def _large(rate_law):
    I2 = 10
    rng = np.random.default_rng(1)
    lam_abs = 0.1 + 0.1 * rng.random((2, I2))
    lam0 = np.r_[0.05 * np.ones(5), -0.01 * np.ones(5)]
    alphas = np.array([0.28, 0.4])
    rate = rate_law(alphas[:, None], lam_abs, lam0)
    return ch.LargeRuns(None, alphas, np.r_[[True] * 5, [False] * 5], lam0, lam_abs, lam_abs, lam_abs[0] + 0.1,
                        rate, rate[-1], 0.13, 0.077, 0.1, 0.0)


def _tail(const=0.98):
    return ch.TailRuns(None, const + 0.001 * np.arange(5), -1.97 + 0.001 * np.arange(5), 20, 5, 0.0)


def _rect(collapse=False):
    S, A, I = 4, 2, 5
    rng = np.random.default_rng(2)
    aspects, alphas = np.array([1.0, 2, 4, 8]), np.array([0.28, 0.4])
    lam = 0.5 + 0.2 * rng.random((S, A, I))
    if collapse:
        lam = lam * (1 - aspects / 9)[:, None, None] / (8 / 9)
    rate = 2 * 0.1 * alphas[None, :, None] ** 2 * lam
    fr = [ch.wilson(0, 400)] * S
    frc = [ch.wilson(1, 400), ch.wilson(16, 400), ch.wilson(220, 400), ch.wilson(397, 400)]
    pred = np.full(S, 0.6)
    diag = np.full((S, 5), 8 / 9) + 0.001 * np.arange(5)
    diagc = (1 - aspects / 9)[:, None] + 0.001 * np.arange(5)
    return ch.RectRuns(aspects, alphas, np.full((S, I), 0.087) + 0.001 * np.arange(I), rate, lam, lam,
                       0.3 * rate[:, -1], lam[:, -1], lam[:, -1], lam[:, -1], pred, pred, diag, diagc, frc, fr,
                       0.1, 4, 2, 20, 0.0)


def _verdicts(cl):
    return {c.id: c.verdict for c in cl}


def test_claims_hold_on_inputs_that_follow_the_mechanism():
    law = lambda a, lam, lam0: 2 * 0.1 * a ** 2 * lam  # noqa: E731
    v = _verdicts(ch.claims(_samples(), _large(law), _tail(), _rect()))
    bad = {k: x for k, x in v.items() if x != "holds" and k != "x4.edge-scaling"}
    assert not bad, bad


def test_claims_fail_on_inputs_against_the_mechanism():
    # a rate set by |lambda_min(Delta_0)| instead of the redundant imbalance
    law = lambda a, lam, lam0: 2 * 0.1 * a ** 2 * np.abs(lam0)[None, :] * np.ones_like(lam)  # noqa: E731
    v = _verdicts(ch.claims(_samples(), _large(law), _tail(const=0.8), _rect(collapse=True)))
    for cid in ("x4.units-positive", "x4.units-nonpositive", "x4.xxt-tail-constant", "x4.rect-no-collapse"):
        assert v[cid] == "fails", cid
    # a rate linear in alpha
    law = lambda a, lam, lam0: 2 * 0.1 * a * 0.4 * lam  # noqa: E731
    v = _verdicts(ch.claims(_samples(), _large(law), _tail(), _rect()))
    assert v["x4.alpha-squared-positive"] == "fails" and v["x4.alpha-squared-nonpositive"] == "fails"
    # the threshold claims fail when the samples sit well above the predicted edge everywhere
    v = _verdicts(ch.claims(_samples(shift=30.0), _large(law), _tail(), _rect()))
    assert v["x4.above-threshold-50"] == "fails" and v["x4.at-threshold-50"] == "fails"


def test_redundant_positive_is_a_fraction_that_fails_when_most_compressions_are_not_positive():
    law = lambda a, lam, lam0: 2 * 0.1 * a ** 2 * lam  # noqa: E731
    lr = _large(law)

    def verdict(lam_red_neg):
        lam_red = lr.lam_red.copy()
        lam_red[-1, ~lr.positive] = lam_red_neg
        runs = dataclasses.replace(lr, lam_red=lam_red)
        return {c.id: c for c in ch.claims(_samples(), runs, _tail(), _rect())}["x4.redundant-positive"]

    assert verdict([0.1, 0.2, 0.1, 0.3, 0.2]).verdict == "holds"
    one = verdict([0.1, 0.2, -0.005, 0.3, 0.2])   # one of five: consistent with "nearly all"
    assert one.verdict == "holds" and one.measured == pytest.approx(0.8)
    assert verdict([0.1, -0.2, -0.005, 0.3, 0.2]).verdict == "fails"    # two of five are not
    assert verdict([-0.1, -0.2, -0.1, -0.3, -0.2]).verdict == "fails"   # the law of Delta_0 with k columns


def test_evaluate_on_a_small_run():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ops.config.OutsideRegimeWarning)
        P = ops.configure(ch, "book", n=20, k_big=8, r_big=2, instances=3, scan=60, draws=200, groups=4,
                          thresh_ns=[20, 40], n1=12, aspects=[1, 4], k=3, r=1, iters=7010, iters_rect=2640)
    cl = ch.evaluate(P)
    v = _verdicts(cl)
    assert {"x4.units-positive", "x4.rect-exact-rate", "x4.mean-imbalance-common"} <= set(v)
    assert v["x4.rect-exact-rate"] == "holds" and v["x4.units-positive"] == "holds"
    assert all(isinstance(c.measured, float) and math.isfinite(c.measured) or c.id == "x4.edge-scaling" for c in cl)
