"""Chapter x1_noise: the noisy problem, the horizons, the parameter checks, the claims' logic."""

import warnings

import numpy as np
import pytest

import opsense as ops
from opsense.chapters import x1_noise as ch


def test_noisy_problem_keeps_target_and_operator_and_recomputes_the_spectrum():
    prob = ops.make_problem(8, 8, 2, 200, seed=0)
    noisy = ch.noisy_problem(prob, 0.5, seed=3)
    assert noisy.target is prob.target and noisy.operator is prob.operator
    xi = (noisy.y - prob.y) * np.sqrt(200) / 0.5            # the papers' normalization: N(0, 1) per measurement
    assert abs(xi.std() - 1) < 0.2 and abs(xi.mean()) < 0.3
    assert np.allclose(noisy.spectral, prob.operator.adjoint(noisy.y))
    assert np.allclose(noisy.spectral_sigma, np.linalg.svd(noisy.spectral, compute_uv=False))
    same = ch.noisy_problem(prob, 0.5, seed=3)
    assert np.array_equal(same.y, noisy.y)                   # seeded
    assert ch.noisy_problem(prob, 0.0, seed=3) is prob
    with pytest.raises(ValueError, match="s must"):
        ch.noisy_problem(prob, -1.0, seed=0)


def test_gd_on_noisy_data_reaches_a_floor_proportional_to_the_noise():
    prob = ops.make_problem(8, 8, 1, 160, seed=1)
    probs = [ch.noisy_problem(prob, s, seed=5) for s in (0.05, 0.1)]   # one xi, two levels
    res = ops.run_gd(probs, k=1, alpha=0.3, eta=0.1, iters=1500, init="imbalanced", seed=2)
    f = res.error[:, -1]
    assert f[1] / f[0] == pytest.approx(2.0, rel=0.05)       # slope 1 in s (exact width: linear rate)
    assert ch.noise_scale(0.1, 8, 8, 160) == pytest.approx(0.2 * np.sqrt(8 / 160))


def test_horizons_and_checks_name_the_parameter():
    P = ops.configure(ch, "book")
    h = ch.horizons(P)
    assert P.iters >= h["need"]["floor"] and P.iters_tail >= h["need"]["tail"]
    assert h["floor"][0] == h["floor"][1]                    # one horizon for both scales
    with pytest.raises(ValueError, match="parameter iters "):
        ops.configure(ch, "book", iters=100)
    with pytest.raises(ValueError, match="parameter ms"):
        ops.configure(ch, "book", ms=[100, 400])
    with pytest.raises(ValueError, match="parameter noises"):
        ops.configure(ch, "book", noises=[0.5, 0.25, 0.125])
    with pytest.raises(ValueError, match="parameter alphas"):
        ops.configure(ch, "book", alphas=[0.3, 0.02])
    with pytest.warns(ops.config.OutsideRegimeWarning, match="noises over a factor 4"):
        ops.configure(ch, "book", noises=[0.2, 0.25, 0.3], iters=10000)


def test_cost_doubles_with_the_horizons():
    P = ops.config.merge("book", ch.PRESETS)
    Q = ops.config.merge("book", ch.PRESETS, iters=2 * P.iters, iters_tail=2 * P.iters_tail)
    assert ch.cost(Q).work / ch.cost(P).work == pytest.approx(2.0, rel=0.05)
    assert ch.cost(ops.config.merge("paper", ch.PRESETS)).work > ch.cost(P).work


def _floors(final, best, oracle, stationary=0.01):
    A, I, J = final.shape
    noises = np.array([0.1, 0.2, 0.4])
    slope = np.array([[np.polyfit(np.log(noises), np.log(final[a, i]), 1)[0] for i in range(I)] for a in range(A)])
    return ch.Floors("asymmetric", [], None, np.array([0.02, 0.3]), noises, final, best, np.zeros_like(final),
                     np.full_like(final, stationary), oracle, slope, final / noises, 200, 1.0)


def test_claims_fail_for_the_wrong_laws():
    rng = np.random.default_rng(0)
    I = 5
    c = 1 + 0.1 * rng.random((2, I, 1))
    noises = np.array([0.1, 0.2, 0.4])
    good = _floors(c * noises, c * noises / 1.5, (c[0] * noises) / 1.5)
    ms = ch.MSweep(np.array([200.0, 400, 800]), 0.2, np.ones((3, I)), np.full(I, -0.5), np.ones((3, I)),
                   np.zeros((2, I)), [])
    tl = ch.Tails(None, None, 1e-3, 1e-4, np.zeros((I, 2)), np.zeros((I, 2)), np.full(I, -2.0), np.full(I, -2.0) +
                  0.01 * rng.random(I), np.full(I, 0.01), np.full(I, 0.01), 0.3)
    by = {x.id: x.verdict for x in ch.claims(good, good, ms, tl)}
    assert by["x1.floor-slope-s-asym-small"] == "holds" and by["x1.best-is-exact-fit-asym"] == "holds"
    assert by["x1.floor-slope-m"] == "holds" and by["x1.tail-sym-survives"] == "holds"
    # a floor growing like s^2, no U-shape, and a noisy rate half the noiseless one all fail
    bad = _floors(c * noises ** 2, c * noises ** 2, c[0] * noises ** 2 / 2)
    tl_bad = ch.Tails(None, None, 1e-3, 1e-4, np.zeros((I, 2)), np.zeros((I, 2)), np.full(I, -2.0), np.full(I, -2.0),
                      np.full(I, 0.005) + 1e-4 * rng.random(I), np.full(I, 0.01), 0.3)
    by = {x.id: x.verdict for x in ch.claims(bad, bad, ms, tl_bad)}
    assert by["x1.floor-slope-s-asym-small"] == "fails" and by["x1.early-stopping-asym"] == "fails"
    assert by["x1.best-is-exact-fit-asym"] == "fails" and by["x1.tail-asym-survives"] == "fails"


def test_evaluate_on_a_small_case_gives_every_claim():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ops.config.OutsideRegimeWarning)
        kw = dict(instances=3, noises=[0.25, 0.5, 1.0], ms=[200, 800])
        need = ch.horizons(ops.config.merge("book", ch.PRESETS, **kw))["need"]
        P = ops.configure(ch, "book", iters=int(need["floor"]) + 1, iters_tail=int(need["tail"]) + 1, **kw)
    ids = [c.id for c in ch.evaluate(P)]
    assert len(ids) == len(set(ids)) == 15 and "x1.floor-slope-m" in ids
