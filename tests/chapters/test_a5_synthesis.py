"""Chapter a5_synthesis: parameters, regime, the three experiments, the phase diagram, claims and figures."""

import re
import warnings
from dataclasses import replace

import matplotlib

matplotlib.use("Agg")  # tests only; the chapters keep the inline backend

import numpy as np
import pytest

import opsense as ops
from opsense.claims import BASES
from opsense.config import OutsideRegimeWarning
from opsense.chapters import a5_synthesis as ch

SMALL = dict(n1=6, n2=8, r=2, sigma=[1.0, 0.5], m=84, k_b=3, k=8, eta_b=0.05, iters_b=8000, eta=0.1, iters=1000,
             ratios=[1.0, 2.0, 3.0], ks=[2, 8], n_seeds=2, iters_pd=900, n_instances=3)


@pytest.fixture(scope="module")
def small():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutsideRegimeWarning)   # 3 instances: below the regime's 5
        P = ops.configure(ch, "book", **SMALL)
    return ch.run_readings(P), ch.run_options(P), ch.run_phase_diagram(P)


# ---------------------------------------------------------------- parameters and regime
@pytest.mark.parametrize("preset", sorted(ch.PRESETS))
def test_presets_pass_the_check_inside_the_regime(preset):
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutsideRegimeWarning)
        P = ops.configure(ch, preset)
    assert P.seed == 0 and set(ch.PRESETS[preset]) == set(ch.PRESETS["book"])


@pytest.mark.parametrize("kwargs, name", [
    (dict(n1=0), "n1"),
    (dict(sigma=[1.0]), "sigma"),
    (dict(k_b=2), "k_b"),
    (dict(k_b=30), "k_b"),
    (dict(k=20), "k"),
    (dict(alphas=[0.3, 1e-3]), "alphas"),
    (dict(alphas=[1e-3]), "alphas"),
    (dict(alphas=[1e-3, 2.0]), "alphas"),
    (dict(epsilon=1.5), "epsilon"),
    (dict(ratios=[2.0, 1.0]), "ratios"),
    (dict(ratios=[1.0, 1.001]), "ratios"),
    (dict(ratios=[1.0]), "ratios"),
    (dict(ratios=[1.0, 10000.0]), "ratios"),
    (dict(ks=[1, 4]), "ks"),
    (dict(iters_b=10), "iters_b"),
    (dict(iters=100), "iters"),
    (dict(iters_pd=100), "iters_pd"),
    (dict(eta_b=0.5), "eta_b"),
    (dict(eta=0.5), "eta"),
    (dict(n_seeds=1_000_000), "n_seeds"),
    (dict(n_instances=1), "n_instances"),
    (dict(iters=1_000_000_000), "iters"),
    (dict(m=1_000_000), "m"),
    (dict(k=5000, iters=600), "k"),
    (dict(ks=[2, 6000]), "ks"),
    (dict(seed=-1), "seed"),
])
def test_check_names_the_bad_parameter(kwargs, name):
    with pytest.raises(ValueError, match=rf"^parameter {name}\b"):
        ops.configure(ch, "book", **kwargs)


def test_horizons_below_the_predicted_rate_are_refused_with_the_bound():
    P = ops.config.merge("book", ch.PRESETS)
    need = ch.min_horizons(P)
    assert need["iters_b"] == int(np.ceil(4 / (P.eta_b * P.alpha_b ** 2)))
    for name, value in need.items():
        with pytest.raises(ValueError, match=rf"^parameter {name} must be >= {value}"):
            ops.configure(ch, "book", **{name: value - 1})


@pytest.mark.parametrize("kwargs, words", [
    (dict(n_instances=3), "n_instances >= 5"),
    (dict(k_b=7), "k_b (n1 + n2)"),
    (dict(alphas=[0.05, 0.3]), "small alpha"),
    (dict(alpha_b=0.2, iters_b=4000), "alpha_b <= 0.1"),
])
def test_outside_the_regime_warns_and_runs_on(kwargs, words):
    with pytest.warns(OutsideRegimeWarning, match=re.escape(words)):
        P = ops.configure(ch, "book", **kwargs)
    assert P is not None


def test_assumptions_name_the_runs_outside_a_paper():
    text = ch.assumptions(ops.configure(ch, "book"))
    lines = text.splitlines()
    wide = next(line for line in lines if "k = 30" in line)
    assert "no (1500)" in wide                                # k (n1 + n2) = 1500 > m = 300
    assert all("no (51200)" in line for line in lines[1:4])   # kappa^8 r^2 (n1 + n2)
    assert "yes" in next(line for line in lines if "experiment 1" in line)


# ---------------------------------------------------------------- the phase diagram
def test_phase_diagram_layout_and_engine_equivalence():
    pd = ch.phase_diagram(6, 8, 1, sigma=[1.0], ratios=[1.0, 2.0, 3.0], ks=[1, 3], n_seeds=2, alpha=1e-3,
                          iters=150, seed=5)
    assert pd.test_error.shape == (3, 2, 2) and pd.eta.shape == (3, 2)
    assert pd.m_values.tolist() == [14, 28, 42] and pd.rate.shape == (3, 2)
    # run (m = 28, k = 3, second seed) alone with the engine: same operator rows, target, init, step
    s_mat, s_tgt, s_init = np.random.SeedSequence(5).spawn(3)
    master = np.random.default_rng(s_mat).standard_normal((42, 48))
    tseed = int(s_tgt.generate_state(2)[1])
    iseed = int(s_init.generate_state(2)[1]) % (2 ** 31)
    target = ops.low_rank_target(6, 8, 1, sigma=[1.0], seed=tseed)
    op = ops.SensingOperator.from_matrix(master[:28] / np.sqrt(28), 6, 8)
    prob = ops.Problem.from_parts(target, op)
    eta = 0.25 / prob.spectral_sigma[0]
    assert pd.eta[1, 1] == pytest.approx(eta, rel=1e-12)
    res = ops.run_gd(prob, k=3, alpha=1e-3, eta=eta, iters=150, seed=iseed, record_every=150)
    assert pd.test_error[1, 1, 1] == pytest.approx(res.rel_error[0, -1], rel=1e-9)
    assert pd.kappa == 1.0 and pd.diverged == 0


def test_phase_diagram_summaries():
    pd = ch.PhaseDiagram(ratios=np.array([1.0, 2.0, 3.0]), m_values=np.array([10, 20, 30]), ks=np.array([2, 4]),
                         seeds=np.arange(2), test_error=np.array([[[1, 1], [1, 1]], [[1e-3, 1], [1, 1e-3]],
                                                                  [[1e-3, 1e-3], [1, 1]]], dtype=float),
                         eta=np.ones((3, 2)), tol=1e-2, r=2, n1=5, n2=5, sigma=np.array([1.0, 0.5]))
    assert pd.rate.tolist() == [[0.0, 0.0], [0.5, 0.5], [1.0, 0.0]]
    t = pd.transition()
    assert t[0] == 2.0 and t[1] == 2.0
    assert np.isnan(pd.transition(level=0.9)[1])  # never reached
    assert pd.largest_drop().tolist() == [0.0, 0.5]
    assert pd.kappa == 2.0
    assert "transition at 2" in ch.phase_summary(pd)


@pytest.mark.parametrize("kwargs, name", [
    (dict(ratios=[2.0, 1.0]), "ratios"),
    (dict(ratios=[1.0, 1.01]), "ratios"),
    (dict(ks=[0]), "ks"),
    (dict(n_seeds=0), "n_seeds"),
    (dict(alpha=0.0), "alpha"),
    (dict(eta_scale=1.5), "eta_scale"),
    (dict(sigma=[1.0, 1.0]), "sigma"),
])
def test_phase_diagram_validation(kwargs, name):
    good = dict(sigma=[1.0], ratios=[1.0, 2.0], ks=[1, 2], n_seeds=1, alpha=1e-3, iters=2)
    with pytest.raises(ValueError, match=name):
        ch.phase_diagram(6, 8, 1, **{**good, **kwargs})


def test_diverged_runs_count_as_failures():
    pd = ch.phase_diagram(6, 8, 1, sigma=[1.0], ratios=[1.0, 2.0], ks=[1, 2], n_seeds=1, alpha=30.0, iters=50,
                          eta_scale=0.9)
    assert np.all(np.isinf(pd.test_error)) and np.all(pd.rate == 0) and pd.diverged == 4


# ---------------------------------------------------------------- experiments, claims, figures
def test_small_experiments_over_instances(small):
    readings, options, pd = small
    N = 3
    assert readings.result.batch_size == N and np.all(readings.lam0 > 0) and readings.draws.size == ch.N_DRAWS
    # the first draws are the instances' own initializations
    np.testing.assert_allclose(readings.draws[:N], readings.lam0 / readings.alpha ** 2, rtol=1e-12)
    assert options.vanilla_b.batch_size == 2 * N and options.fixed_a.batch_size == N
    assert options.vanilla_b.k.tolist() == [3] * (2 * N) and options.vanilla_a.k.tolist() == [8] * (2 * N)
    # paper B's runs start from (alpha, alpha/3), paper A's from (alpha, alpha): compare with the engine
    seeds = ops.instance_seeds(0, N)
    U0, V0 = ops.initial_factors(6, 8, 3, 1e-3, init="imbalanced", seed=seeds[1])
    prob = ops.make_problem(6, 8, 2, 84, sigma=[1.0, 0.5], seed=seeds[1])
    one = ops.run_gd(prob, init=(U0, V0), eta=float(options.vanilla_b.eta[2]), iters=1000, record_every=10)
    assert options.vanilla_b.rel_error[2, -1] == pytest.approx(one.rel_error[0, -1], rel=1e-8)
    assert options.rates_b.shape == (2, N) and options.at_trigger_a.shape == (N,)
    assert options.test_a.shape == (2, N)
    assert pd.test_error.shape == (3, 2, 2)
    assert "lambda_min" in ch.readings_summary(readings) and "vanilla" in ch.options_summary(options)
    assert ops.book.timing(readings, options, pd).startswith("run time")


def test_claims_and_glue(small):
    claims = ch.claims(*small)
    assert [c.id for c in claims] == ["a5.A-balanced", "a5.B-imbalanced", "a5.A-generalization", "a5.B-slow-end",
                                      "a5.fix-both", "a5.fix-frozen", "a5.monotone", "a5.transition"]
    assert all(c.basis in BASES and isinstance(c.measured, float) for c in claims)
    by = {c.id: c for c in claims}
    assert by["a5.A-generalization"].form == "paired-ratio" and by["a5.A-generalization"].n == 3
    values = ch.glue_values(*small)
    assert all(k.startswith("a5_") for k in values)
    assert not any(isinstance(x, np.generic) for x in values.values())


def test_generalization_claim_is_a_paired_ratio_that_can_fail(small):
    readings, options, pd = small
    N = 3
    by = lambda o: {c.id: c for c in ch.claims(readings, o, pd)}
    van = options.vanilla_a
    err = van.rel_error.copy()
    # large-alpha error 0.15, small-alpha 0.0019: 80x apart, the fixed threshold 0.3 would have failed
    err[1::2, -1] = [0.15, 0.16, 0.14]
    err[0::2, -1] = [0.0019, 0.002, 0.0018]
    assert by(replace(options, vanilla_a=replace(van, rel_error=err)))["a5.A-generalization"].verdict == "holds"
    # a large alpha that generalizes almost as well fails
    err[1::2, -1] = [0.005, 0.006, 0.004]
    assert by(replace(options, vanilla_a=replace(van, rel_error=err)))["a5.A-generalization"].verdict == "fails"
    # a small alpha whose late rate is not slower fails B-slow-end
    rates = np.array([[1e-3, 1.2e-3, 1.1e-3], [1e-3, 1e-3, 1e-3]])[:, :N]
    assert by(replace(options, rates_b=rates))["a5.B-slow-end"].verdict == "fails"


def test_figures_run(small):
    readings, options, pd = small
    fig, axes = ch.plot_options(options)
    assert len(axes) == 2
    fig, axes = ch.plot_readings(readings)
    assert len(axes) == 2
    ch.plot_phase_diagram(pd)
    with pytest.raises(ValueError, match="exp"):
        ch.plot_options("nope")
    with pytest.raises(ValueError, match="exp"):
        ch.plot_readings("nope")
    with pytest.raises(ValueError, match="diagram"):
        ch.plot_phase_diagram("nope")
