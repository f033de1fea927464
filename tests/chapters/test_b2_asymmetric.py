"""Chapter b2_asymmetric: the 2x2 toy, its closed recursion and rate, the check, the chapter on a small case."""

import matplotlib

matplotlib.use("Agg")  # tests only; the chapters keep the inline backend

import matplotlib.pyplot as plt
import numpy as np
import pytest

import opsense as ops
from opsense.claims import BASES
from opsense.chapters import b2_asymmetric as ch


# ---------------------------------------------------------------------------- the 2x2 toy
def test_diagonal_toy_gd_matches_the_closed_recursion():
    eta, alphas = 0.1, [0.2, 0.4]
    prob, (U0, V0) = ch.diagonal_toy(alphas)
    assert U0.shape == (2, 2, 2) and np.allclose(V0, U0 / 3)
    res = ops.run_gd(prob, init=(U0, V0), eta=eta, iters=3000, record_every=3000)
    for b, a in enumerate(alphas):
        D, p = ch.toy_recursion(a, eta=eta, iters=3000)
        f, g = res.U[b, 1, 1], res.V[b, 1, 1]
        assert f * g == pytest.approx(p[-1], rel=1e-9)
        assert f ** 2 - g ** 2 == pytest.approx(D[-1], rel=1e-9)
        assert 1 - eta * a ** 2 / 2 <= D[-1] / D[0] <= 1  # the proved bound
        assert res.U[b, 0, 1] == 0 and res.V[b, 1, 0] == 0  # stays diagonal
    single, (U1, _) = ch.diagonal_toy(0.3, ratio=0.5)
    assert U1.shape == (2, 2) and single.target.r == 1


def test_toy_rate_and_the_asymptotic_ratio():
    eta, a = 0.1, 0.3
    assert ch.toy_rate(a, eta=eta) == pytest.approx(16 / 9 * eta * a ** 2)
    assert np.allclose(ch.toy_rate([0.1, 0.2], eta=eta), 16 / 9 * eta * np.array([0.01, 0.04]))
    D, p = ch.toy_recursion(a, eta=eta, iters=6000)
    rate = -2 * np.log(p[-1] / p[-2])
    assert rate == pytest.approx(ch.toy_rate(a, eta=eta), rel=eta * a ** 2)
    with pytest.raises(ValueError, match="alpha"):
        ch.toy_rate(-1.0, eta=eta)
    with pytest.raises(ValueError, match="ratio"):
        ch.diagonal_toy(0.1, ratio=1.0)
    with pytest.raises(ValueError, match="alpha and eta"):
        ch.toy_recursion(5.0, eta=0.1, iters=10)


# ---------------------------------------------------------------------------- the shared measurements it uses
def test_burn_in_time_and_rate_ratio():
    # opsense.burn_in_time and opsense.rate_ratio (moved from the old helper module into opsense.analysis)
    prob = ops.make_problem(10, 10, 2, sigma=[1.0, 0.5], psd=True, operator="identity", seed=0)
    res = ops.run_gd(prob, k=[2, 2], alpha=[0.1, 0.001], eta=0.1, iters=600,
                     parameterization="symmetric", record_every=10)
    tb = ops.burn_in_time(res, prob.target.sigma)
    assert tb.shape == (2,) and 0 < tb[0] < tb[1] < 600
    assert np.isnan(ops.burn_in_time(res, [5.0, 5.0])).all()
    t = np.arange(0, 1000.0)
    assert ops.rate_ratio(t, np.exp(-0.01 * t), window=(100, 900)) == pytest.approx(1.0)
    power = ops.rate_ratio(t + 1, (t + 1) ** -2.0, window=(100, 900))
    assert power == pytest.approx(ops.rate_ratio(t + 1, (t + 1) ** -0.5, window=(100, 900)))  # any exponent
    assert 0.3 < power < 0.5
    with pytest.raises(ValueError, match="GDResult"):
        ops.burn_in_time(None, [1.0])


# ---------------------------------------------------------------------------- parameters
@pytest.mark.parametrize("preset", ["book", "paper"])
def test_both_presets_pass_the_check(preset):
    P = ops.configure(ch, preset)
    assert P.seed == 0 and set(ch.PRESETS[preset]) == set(ch.PRESETS["book"])


@pytest.mark.parametrize("name, value", [
    ("n", 1), ("r", 20), ("r", 0), ("k", 2), ("k", 21), ("kappa", 0.5), ("kappa", 50.0), ("eta", 0.3),
    ("m", 100), ("m", 200000), ("alphas", [0.1, 0.2]), ("alphas", [0.1, 0.1, 0.2]), ("alphas_exact", [0.1]),
    ("alphas_toy", [0.1, 1.0]), ("alphas", [0.1, 0.2, 0.5]), ("alphas_exact", [0.1, 0.5]), ("alpha", 1.0),
    ("alphas_toy", [0.01] * 21), ("iters_exact", 10), ("iters", 5000), ("iters_compare", 100),
    ("iters", 3_000_000), ("iters_compare", 3_000_000), ("seed", -1), ("alphas", "0.1"),
])
def test_check_refuses_bad_values_naming_the_parameter(name, value):
    with pytest.raises(ValueError, match=rf"^parameter {name}(\[\d+\])? must"):
        ops.configure(ch, "book", **{name: value})


def test_check_refuses_too_much_work_and_says_the_horizon():
    with pytest.raises(ValueError, match=r"^parameter iters must keep .* <= 5e\+12 \(run time\)"):
        ops.configure(ch, "book", m=100000, iters=200000)
    with pytest.raises(ValueError, match=r"^parameter iters_compare must be >= 5000 \(a window"):
        ops.configure(ch, "book", iters_compare=4999)


# ---------------------------------------------------------------------------- the chapter, small
def test_a_small_chapter_runs_to_claims_with_valid_bases():
    P = ops.configure(ch, "book", n=6, r=1, k=2, m=80, alphas_exact=[0.1, 0.2], alphas=[0.2, 0.3, 0.4],
                      alphas_toy=[0.3, 0.4], alpha=0.4, iters_exact=1000, iters=4000, iters_compare=2000)
    prob = ch.problem(P)
    runs, toy = ch.run_widths(P, prob), ch.run_toy(P)
    fits, cmp = ch.rates(runs, toy), ch.compare(P)
    for text in (ch.summary_toy(toy), ch.summary_rates(fits), ch.summary_compare(cmp)):
        assert isinstance(text, str) and text
    assert toy.p_gap < 1e-9 and toy.d_gap < 1e-9
    np.testing.assert_allclose(fits.rate_t, fits.pred_t, rtol=0.02)
    values = ch.glue_values(fits, toy, cmp)
    assert {"b2_spread", "b2_slope", "b2_p_gap", "b2_final", "b2_T"} <= set(values)
    assert set(ch.glue_fits(fits, cmp)) == {"b2_r2_o", "b2_r2_a"}
    claims = ch.claims(fits, toy, cmp)
    ids = [c.id for c in claims]
    assert len(ids) == len(set(ids)) == 6 + 2 + 4
    assert all(c.basis in BASES and isinstance(c.measured, float) for c in claims)
    for plot in (ch.plot_widths(runs), ch.plot_toy_and_rates(toy, fits), ch.plot_compare(cmp)):
        plt.close(plot[0])


# ----------------------------------------------------------------------------- the cost estimate




