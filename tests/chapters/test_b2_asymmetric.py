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
    ("alphas_toy", [0.01] * 21), ("iters", 3_000_000), ("iters_compare", 3_000_000), ("seed", -1), ("alphas", "0.1"),
    ("instances", 2), ("instances", 51), ("etas", [0.05, 0.1, 0.3]), ("etas", [0.05, 0.1]), ("alpha_eta", 0.9),
])
def test_check_refuses_bad_values_naming_the_parameter(name, value):
    with pytest.raises(ValueError, match=rf"^parameter {name}(\[\d+\])? must"):
        ops.configure(ch, "book", **{name: value})


def test_check_refuses_too_much_work_and_raises_short_horizons():
    with pytest.raises(ValueError, match=r"^parameter iters must keep the sensing work .* <= 5e\+12 \(run time\)"):
        ops.configure(ch, "book", m=100000, iters=200000)
    P = ops.configure(ch, "book", iters=100, iters_exact=10, iters_compare=100)   # raised to the derived ones
    np.testing.assert_allclose(ch.horizons(P)["over"], ch.horizons(ops.configure(ch, "book"))["over"], atol=10)
    assert ch.horizons(P)["compare"] == 4410 and max(ch.horizons(P)["exact"]) == 1790


def test_horizons_are_derived_from_the_rates_and_scale_with_iters():
    P = ops.config.merge("book", ch.PRESETS)
    h = ch.horizons(P)
    sig = lambda a, e: 2 * ops.signal_time(a, eta=e, kappa=P.kappa, n=P.n)  # noqa: E731
    assert h["need"]["over"] == pytest.approx(sig(0.14, 0.1) + ch.C2 / (0.1 * 0.14 ** 2))
    assert h["over"][0] == 10 * int(np.ceil(P.iters / 10))          # the slowest run gets iters
    assert h["over"][3] == pytest.approx(sig(0.4, 0.1) + ch.C2 / (0.1 * 0.16), abs=20)  # the others: derived
    Q = ops.config.merge("book", ch.PRESETS, iters=2 * P.iters)
    assert ch.horizons(Q)["over"][3] == pytest.approx(2 * h["over"][3], abs=20)
    assert ch.conditions(P) == [(0.14, 0.1), (0.2, 0.1), (0.28, 0.1), (0.4, 0.1), (0.4, 0.025), (0.4, 0.05)]


def test_regime_warning_outside_and_silence_inside():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", ops.config.OutsideRegimeWarning)
        ops.configure(ch, "book")
        ops.configure(ch, "paper")
    with pytest.warns(ops.config.OutsideRegimeWarning, match="kappa <= 4"):
        ops.configure(ch, "book", kappa=5.0, iters=20000, iters_exact=5000, iters_compare=20000)
    with pytest.warns(ops.config.OutsideRegimeWarning, match="at least 5 instances"):
        ops.configure(ch, "book", instances=3)


# ---------------------------------------------------------------------------- the chapter, small
@pytest.fixture(scope="module")
def small():
    with pytest.warns(ops.config.OutsideRegimeWarning):
        P = ops.configure(ch, "book", n=6, r=1, k=2, m=80, instances=3, alphas_exact=[0.1, 0.2],
                          alphas=[0.2, 0.3, 0.4], alphas_toy=[0.3, 0.4], alpha=0.4)
    runs, toy = ch.run_widths(P, ch.problems(P)), ch.run_toy(P)
    return P, runs, toy, ch.rates(runs, toy), ch.compare(P)


def test_a_small_chapter_runs_to_claims_with_valid_bases(small):
    P, runs, toy, fits, cmp = small
    for text in (ch.summary_toy(toy), ch.summary_rates(fits), ch.summary_compare(cmp)):
        assert isinstance(text, str) and text
    assert toy.p_gap < 1e-9 and toy.d_gap < 1e-9
    np.testing.assert_allclose(fits.rate_t, fits.pred_t, rtol=0.02)
    assert fits.rate_o.shape == (len(ch.conditions(P)), 3) and fits.slope_a.shape == (3,)
    values = ch.glue_values(fits, toy, cmp)
    assert {"b2_alpha_mean", "b2_alpha_lo", "b2_eta_hi", "b2_exact_mean", "b2_p_gap", "b2_final_mean",
            "b2_T"} <= set(values)
    assert set(ch.glue_fits(fits, cmp)) == {"b2_r2_o", "b2_r2_a"}
    claims = ch.claims(fits, toy, cmp)
    ids = [c.id for c in claims]
    assert len(ids) == len(set(ids)) == 7 + 2 + 4
    assert all(c.basis in BASES and isinstance(c.measured, float) for c in claims)
    by = {c.id: c for c in claims}
    assert by["b2.overparam-alpha2"].form == "scaling" and by["b2.overparam-alpha2"].n == 3
    for plot in (ch.plot_widths(runs), ch.plot_toy_and_rates(toy, fits), ch.plot_compare(cmp)):
        plt.close(plot[0])


@pytest.mark.parametrize("field, values, claim", [
    ("slope_a", [1.0, 1.02, 0.98], "b2.overparam-alpha2"),    # rate ~ alpha: refuted
    ("slope_a", [3.0, 2.97, 3.03], "b2.overparam-alpha2"),    # rate ~ alpha^3: refuted
    ("slope_e", [0.5, 0.52, 0.49], "b2.overparam-eta1"),
    ("slope_e", [2.0, 2.01, 1.98], "b2.overparam-eta1"),
    ("slope_x", [0.1, 0.11, 0.12], "b2.exact-alpha-free"),
    ("slope_x", [2.0, 2.0, 2.0], "b2.exact-alpha-free"),
])
def test_the_scaling_claims_fail_for_the_wrong_law(small, field, values, claim):
    import dataclasses

    _, _, toy, fits, cmp = small
    wrong = dataclasses.replace(fits, **{field: np.array(values)})
    by = {c.id: c for c in ch.claims(wrong, toy, cmp)}
    assert by[claim].verdict == "fails"
    right = dataclasses.replace(fits, slope_a=np.array([2.0, 2.05, 1.95]), slope_e=np.array([1.0, 1.01, 0.99]),
                                slope_x=np.array([0.0, 0.01, -0.01]))
    by = {c.id: c for c in ch.claims(right, toy, cmp)}
    assert by[claim].verdict == "holds"


def test_a_missing_fit_makes_its_claim_fail(small):
    import dataclasses

    _, _, toy, fits, cmp = small
    broken = dataclasses.replace(fits, slope_a=np.array([2.0, np.nan, 2.0]))
    assert {c.id: c for c in ch.claims(broken, toy, cmp)}["b2.overparam-alpha2"].verdict == "fails"
