"""Chapter b4_one_step: the rebalancing step, the rates over instances, the kappa sweep, the check, the claims."""

import dataclasses

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import opsense as ops  # noqa: E402
from opsense.chapters import b4_one_step as ch  # noqa: E402
from opsense.claims import BASES  # noqa: E402
from opsense.config import OutsideRegimeWarning  # noqa: E402

SMALL = dict(n=8, r=2, k=3, m=200, kappa=2.0, kappas=[1.5, 2.0], alphas=[0.3, 0.5], eta=0.1, iters=1400,
             iters_modified=1000, instances=5, seed=1)


@pytest.fixture(scope="module")
def small():
    """The whole chapter on a small case (a few seconds)."""
    P = ops.configure(ch, "book", **SMALL)
    runs = ch.run(P)
    reports = ch.rebalance_reports(runs)
    rates = ch.rates(runs)
    sweep = ch.kappa_sweep(P, runs)
    return P, runs, reports, rates, sweep, ch.verify_step(runs.alphas, reports)


def test_rebalance_report_exact_properties():
    rng = np.random.default_rng(5)
    Us, Vs = np.linalg.qr(rng.standard_normal((9, 2)))[0], np.linalg.qr(rng.standard_normal((8, 2)))[0]
    Xs = Us @ np.diag([1.0, 0.5]) @ Vs.T
    # factors of a near-solution: U V^T = X* + small, with a weak redundant part of size alpha
    U = np.hstack([Us * np.sqrt([1.0, 0.5]), 0.1 * rng.standard_normal((9, 2))])
    V = np.hstack([Vs * np.sqrt([1.0, 0.5]), 1e-3 * rng.standard_normal((8, 2))])
    rep = ch.rebalance_report(U, V, r=2)
    assert rep.product_change <= 1e-14
    np.testing.assert_allclose(rep.sv_U_after, rep.beta, rtol=1e-13)
    np.testing.assert_allclose(rep.imbalance_after, rep.imbalance_predicted, atol=1e-13 * rep.beta)
    assert abs(rep.imbalance_after[0]) <= 1e-13 * rep.beta and rep.imbalance_predicted[0] == pytest.approx(0, abs=1e-15)
    assert rep.imbalance_after[1] >= 0.7 * rep.beta  # beta - s_2^2 / beta with s_2 / s_1 about 1/2
    assert rep.redundant_before < 0.2 < 0.99 * rep.beta <= rep.redundant_after <= rep.beta + 1e-12
    err = np.linalg.norm(U @ V.T - Xs, 2)
    assert rep.redundant_after >= rep.beta - err ** 2 / rep.beta - 1e-12  # Weyl bound of the proposition
    with pytest.raises(ValueError, match="r must"):
        ch.rebalance_report(U, V, r=4)


@pytest.mark.parametrize("kwargs, name", [
    (dict(n=1), "n"),
    (dict(r=20), "r"),
    (dict(r=1, k=3), "r"),
    (dict(k=2), "k"),
    (dict(kappa=0.5), "kappa"),
    (dict(kappas=[1.5, 5.0]), "kappas"),            # must contain kappa = 2
    (dict(kappas=[1.0, 2.0]), "kappas"),            # kappa = 1 cannot tell the predictions apart
    (dict(kappas=[2.0]), "kappas"),
    (dict(alphas=[0.1]), "alphas"),
    (dict(alphas=[0.1, 0.1]), "alphas"),
    (dict(alphas=[0.1, 2.0]), "alphas"),
    (dict(alphas=[0.1] * 13), "alphas"),
    (dict(alphas="[0.1, -0.2]"), "alphas"),
    (dict(eta=0.5), "eta"),
    (dict(epsilon=0.5), "epsilon"),
    (dict(iters_modified=500), "iters_modified"),   # below trigger bound + 10 post-step e-folds
    (dict(iters=5000), "iters"),                    # below 12 / (eta min(alphas)^2)
    (dict(iters=10 ** 8), "iters"),                 # the work limit
    (dict(instances=4), "instances"),
    (dict(m=100_000), "m"),
    (dict(seed=-1), "seed"),
])
def test_check_names_the_bad_parameter(kwargs, name):
    with pytest.raises(ValueError, match=f"^parameter {name}"):
        ops.configure(ch, "book", **kwargs)


@pytest.mark.parametrize("preset", ["book", "paper"])
def test_presets_pass_the_check_inside_the_regime(preset, recwarn):
    assert ops.configure(ch, preset).preset == preset
    assert not [w for w in recwarn if issubclass(w.category, OutsideRegimeWarning)]
    assert set(ch.PRESETS[preset]) == set(ch.PRESETS["book"]) and ch.PRESETS[preset]["seed"] == 0


@pytest.mark.parametrize("kwargs, words", [
    (dict(m=300), "m >= 5 r"),                       # runs (2 r (n1 + n2) = 160), but below the regime
    (dict(alphas=[0.1, 0.8]), "small initialization"),
    (dict(kappa=6.0, kappas=[2.0, 6.0], iters_modified=6200), "kappas <= 5"),
])
def test_outside_the_regime_warns_and_runs(kwargs, words):
    with pytest.warns(OutsideRegimeWarning, match=words):
        ops.configure(ch, "book", **kwargs)


def test_horizons_scale_with_the_predicted_rates():
    P = ops.configure(ch, "book")
    H = ch.horizons(P)
    a = np.asarray(P.alphas)
    # vanilla: iters (min alpha / alpha)^2, at least iters_modified
    assert H["vanilla"] == [max(int(np.ceil(P.iters * (a.min() / x) ** 2)), P.iters_modified) for x in a]
    assert H["modified"][P.kappa] == P.iters_modified and H["modified"][5.0] > 3 * P.iters_modified
    Q = ops.config.merge("book", ch.PRESETS, iters=2 * P.iters, iters_modified=2 * P.iters_modified)
    H2 = ch.horizons(Q)
    assert all(abs(y - 2 * x) <= 1 for x, y in zip(H["vanilla"], H2["vanilla"]))
    assert all(abs(H2["modified"][kp] - 2 * T) <= 1 for kp, T in H["modified"].items())


def test_claims_of_a_small_case_have_a_basis(small):
    P, runs, reports, rates, sweep, step = small
    assert runs.T1.shape == (2, 5) and np.all(runs.T1 > 0)
    assert all(q is not None for row in reports for q in row)
    claims = ch.claims(runs, step, rates, sweep)
    assert [c.id for c in claims] == ["b4.product", "b4.lift", "b4.spectrum", "b4.zero", "b4.jump",
                                      "b4.alpha-free", "b4.speedup", "b4.exact-rate[kappa=1.5]",
                                      "b4.exact-rate[kappa=2]", "b4.kappa-scaling"]
    assert all(c.basis in BASES and isinstance(c.measured, float) for c in claims)
    assert all(c.holds for c in claims if c.basis == "identity")
    by = {c.id: c for c in claims}
    assert by["b4.alpha-free"].n == 5 and by["b4.alpha-free"].form == "scaling"
    assert by["b4.exact-rate[kappa=2]"].form == "paired-ratio" and by["b4.exact-rate[kappa=2]"].expected_failure
    assert by["b4.kappa-scaling"].basis == "derived-on-page"
    glued = ch.glue_values(runs, step, rates, sweep)
    assert glued["b4_T1_min"] == int(runs.T1.min()) and {"b4_ratio_lo", "b4_ratio_main", "b4_ratio_hi"} <= set(glued)
    assert "T1" in ch.trigger_summary(runs) and "alpha" in ch.reports_table(runs.alphas, reports)
    assert "kappa 1.5" in ch.sweep_summary(sweep) and "slope" in ch.rates_summary(rates)


def test_the_exact_rate_claims_tell_the_two_predictions_apart(small):
    """Synthetic sweeps: ratio 1 (the paper) holds; ratio 1/kappa (our step) does not reproduce."""
    P, runs, _, rates, sweep, step = small
    noise = 1 + 0.01 * np.arange(5)
    paper = dataclasses.replace(sweep, ratio=np.ones_like(sweep.ratio) * noise,
                                slope=np.zeros(5) + 0.01 * np.arange(5))
    ours = dataclasses.replace(sweep, ratio=(1 / sweep.kappas)[:, None] * noise,
                               slope=np.ones(5) + 0.01 * np.arange(5))
    cp = {c.id: c for c in ch.claims(runs, step, rates, paper)}
    co = {c.id: c for c in ch.claims(runs, step, rates, ours)}
    for kp in ("1.5", "2"):
        assert cp[f"b4.exact-rate[kappa={kp}]"].verdict == "holds"
        assert co[f"b4.exact-rate[kappa={kp}]"].verdict == "does not reproduce"
    assert co["b4.kappa-scaling"].verdict == "holds" and cp["b4.kappa-scaling"].verdict == "fails"


def test_alpha_claims_fail_for_the_wrong_law(small):
    P, runs, _, rates, sweep, step = small
    wrong = dataclasses.replace(rates, slope_modified=2.0 + 0.01 * np.arange(5),
                                slope_speedup=-1.0 + 0.01 * np.arange(5))
    by = {c.id: c for c in ch.claims(runs, step, wrong, sweep)}
    assert by["b4.alpha-free"].verdict == "fails" and by["b4.speedup"].verdict == "fails"
    nan = dataclasses.replace(rates, slope_modified=np.full(5, np.nan))
    assert {c.id: c for c in ch.claims(runs, step, nan, sweep)}["b4.alpha-free"].verdict == "fails"


def test_an_untriggered_run_gives_nan_not_an_error(small):
    _, runs, reports, _, _, _ = small
    broken = [list(reports[0]), [None] + list(reports[1][1:])]
    step = ch.verify_step(runs.alphas, broken)
    assert np.isnan(step.product) and np.isnan(step.before[1, 0]) and "never" in ch.reports_table(
        runs.alphas, broken)


def test_plots_draw_and_validate(small):
    P, runs, _, rates, sweep, _ = small
    fig, ax = ch.plot_one_step(runs, instance=1)
    assert len(ax.get_lines()) >= 2 * runs.alphas.size + 1
    fig, axes = ch.plot_rates(rates, k=P.k, r=P.r)
    assert len(axes) == 2
    fig, ax = ch.plot_kappa(sweep)
    assert ax.get_xlabel()
    with pytest.raises(ValueError, match="instance"):
        ch.plot_one_step(runs, instance=9)
    with pytest.raises(ValueError, match="Rates"):
        ch.plot_rates(runs, k=P.k, r=P.r)
    plt.close("all")


def test_experiment_functions_refuse_foreign_results(small):
    P, runs, _, rates, sweep, step = small
    with pytest.raises(ValueError, match="runs must be a Runs"):
        ch.rates(rates)
    with pytest.raises(ValueError, match="step must be a StepVerification"):
        ch.claims(runs, rates, rates, sweep)
    with pytest.raises(ValueError, match="sw must be a Sweep"):
        ch.claims(runs, step, rates, rates)


def test_cost_counts_every_run():
    P = ops.config.merge("book", ch.PRESETS)
    c = ch.cost(P)
    H = ch.horizons(P)
    n, m, k, r, I = P.n, P.m, P.k, P.r, P.instances
    step = lambda kk: n * n * (2 * m + 3 * kk)  # noqa: E731
    runs = sum(H["vanilla"]) * step(k) + H["modified"][P.kappa] * (len(P.alphas) * step(k) + step(r))
    runs += sum(T * (step(k) + step(r)) for kp, T in H["modified"].items() if kp != P.kappa)
    assert I * runs <= c.work <= 1.2 * I * runs   # plus the reruns up to the trigger
    assert c.memory_bytes >= 8 * I * m * n * n
