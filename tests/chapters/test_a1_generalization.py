"""Chapter a1_generalization: parameters and regime, the convergence criterion, the sweep over
instances, the claims (also on doctored inputs) and the figure."""

import dataclasses
import math
import re
import warnings

import matplotlib

matplotlib.use("Agg")  # tests only; the chapters keep the inline backend

import numpy as np
import pytest

import opsense as ops
from opsense.config import OutsideRegimeWarning
from opsense.chapters import a1_generalization as ch

#: A tiny parameter set inside the regime (m = 80 = 3.1 r (n1 + n2) <= n1 n2 / 2 = 84).
TINY = dict(n1=12, n2=14, r=1, sigma=[1.0], m=80, k=14, alphas=[1.0, 1e-2, 1e-4, 1e-6], iters=600, n_instances=5)


@pytest.fixture(scope="module")
def tiny_problems():
    return [ops.make_problem(8, 10, 2, 60, sigma=[1.0, 0.5], seed=s) for s in (3, 4)]


@pytest.fixture(scope="module")
def tiny_experiment():
    """The chapter at a tiny size inside its regime (a fraction of a second)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutsideRegimeWarning)
        P = ops.configure(ch, "book", **TINY)
    return ch.run(P)


# ---------------------------------------------------------------- parameters and regime
@pytest.mark.parametrize("preset", sorted(ch.PRESETS))
def test_presets_pass_check_inside_the_regime(preset):
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutsideRegimeWarning)
        P = ops.configure(ch, preset)
    assert P.seed == 0 and set(ch.PRESETS[preset]) == set(ch.PRESETS["book"])
    assert P.iters >= ch.needed_iters(P.alphas, eta=P.eta, sigma_r=min(P.sigma))


@pytest.mark.parametrize("given, name", [
    (dict(r=3), "sigma"),
    (dict(r=25), "r"),
    (dict(k=1), "k"),
    (dict(m=600), "m"),
    (dict(m=100), "m"),
    (dict(alphas=[0.1]), "alphas"),
    (dict(alphas=[0.1, 0.1]), "alphas"),
    (dict(alphas=[100.0, 0.1]), "alphas"),
    (dict(alphas=[0.1, -1.0]), "alphas"),
    (dict(sigma=[1.0, 0.0]), "sigma"),
    (dict(sigma=[1.0, 0.5, 0.2]), "sigma"),
    (dict(eta=1.0), "eta"),
    (dict(iters=100), "iters"),
    (dict(iters=10_000_000), "iters"),
    (dict(n_instances=1), "n_instances"),
    (dict(seed=-1), "seed"),
    (dict(alpha_fit_max=1e-9), "alpha_fit_max"),
    (dict(alpha_fit_max=2.0), "alpha_fit_max"),
    (dict(k=100_000), "k"),
])
def test_check_names_the_bad_parameter(given, name):
    with pytest.raises(ValueError, match=rf"^parameter {name}\b"):
        ops.configure(ch, "book", **given)


def test_iters_below_the_derived_budget_is_refused_with_the_number():
    need = ch.needed_iters(ch.PRESETS["book"]["alphas"], eta=0.25, sigma_r=0.5)
    with pytest.raises(ValueError, match=rf"^parameter iters must be >= {need}\b"):
        ops.configure(ch, "book", iters=need - 1)
    ops.configure(ch, "book", iters=need)


@pytest.mark.parametrize("given, needle", [
    (dict(n_instances=3), "n_instances >= 5"),
    (dict(m=250), "m >= 3 r (n1 + n2)"),
    (dict(alphas=[0.1, 1e-3, 1e-4, 1e-6]), "largest alpha"),
    (dict(alphas=[1.0, 1e-2, 1e-3], iters=600), "smallest alpha"),
    (dict(sigma=[1.0, 0.25], iters=2000), "kappa <= 3"),
    (dict(k=10), "k >= min(n1, n2)"),
])
def test_outside_the_regime_warns_once_and_runs(given, needle):
    with pytest.warns(OutsideRegimeWarning, match=re.escape(needle)) as record:
        ops.configure(ch, "book", **given)
    assert len([w for w in record if issubclass(w.category, OutsideRegimeWarning)]) == 1


# ---------------------------------------------------------------- the horizon and the convergence criterion
def test_predicted_time_by_hand():
    eta, sr, a = 0.25, 0.5, 1e-6
    escape = math.log(sr / a ** 2) / (2 * math.log1p(eta * sr))
    assert ch.predicted_time(a, eta=eta, sigma_r=sr) == pytest.approx(escape + math.log(1 / a ** 2) / (eta * sr))
    assert ch.predicted_time(1.0, eta=eta, sigma_r=sr) == 0.0
    assert ch.needed_iters([1.0, a], eta=eta, sigma_r=sr) == math.ceil(3 * ch.predicted_time(a, eta=eta, sigma_r=sr))


def test_settle_index_on_synthetic_curves():
    t = np.arange(100)
    err = np.full(100, 0.5)
    # linear decay until record 40, then flat: converged 3 records into the plateau
    res = np.where(t < 40, 0.9 ** t, 0.9 ** 40)
    assert ch.settle_index(res, err, lag=3, fitted=0.5) == 43      # record 42 still sees 0.9^39 > 1.1 * 0.9^40
    # a plateau before the data are fitted does not count
    pre = np.where(t < 30, 1.0, np.where(t < 70, 0.9 ** (t - 30), 0.9 ** 40))
    assert ch.settle_index(pre, err, lag=3, fitted=0.5) > 70
    # interpolation: the residual below 1e-3 of the test error
    interp = 10.0 ** (-t / 10.0)
    assert ch.settle_index(interp, err, lag=200, fitted=0.5) == int(np.argmax(interp <= 1e-3 * 0.5))
    # never: a steady linear decay above the interpolation level
    assert ch.settle_index(0.99 ** t, np.full(100, 1e-4), lag=3, fitted=1e-9) == -1
    with pytest.raises(ValueError, match="same shape"):
        ch.settle_index(res, err[:5], lag=3, fitted=0.5)
    with pytest.raises(ValueError, match="lag"):
        ch.settle_index(res, err, lag=0, fitted=0.5)


# ---------------------------------------------------------------- the sweep over instances
def test_alpha_sweep_layout_matches_single_runs(tiny_problems):
    sw = ch.alpha_sweep(tiny_problems, k=6, alphas=[1e-3, 0.5], seeds=[4, 5], eta=0.2, iters=60,
                        exact_alphas=[0.5], record_every=20)
    assert sw.alphas.tolist() == [0.5, 1e-3]                   # sorted decreasingly
    assert sw.test_error.shape == sw.residual.shape == sw.eta.shape == sw.t_conv.shape == (2, 2)
    assert len(sw.results) == 2 and sw.results[1].batch_size == 3 and sw.exact_error.shape == (2, 1)
    # run (instance 1, alpha 1e-3) alone gives the same final numbers
    alone = ops.run_gd(tiny_problems[1], k=6, alpha=1e-3, eta=float(sw.eta[1, 1]), seed=5, iters=60,
                       record_every=20)
    assert sw.results[1].alpha[1] == 1e-3 and sw.results[1].seed[1] == 5
    assert sw.test_error_end[1, 1] == pytest.approx(alone.rel_error[0, -1], rel=1e-9)
    assert sw.results[1].k[-1] == 2                              # exact-width run
    # a run that never converges is measured at the end of the budget and flagged
    assert np.all((sw.t_conv >= 0) | ~sw.converged)


def test_alpha_sweep_validation(tiny_problems):
    with pytest.raises(ValueError, match="k"):
        ch.alpha_sweep(tiny_problems, k=1, alphas=[1.0, 0.1], seeds=[0, 1], eta=0.1, iters=5)
    with pytest.raises(ValueError, match="alphas"):
        ch.alpha_sweep(tiny_problems, k=4, alphas=[1.0], seeds=[0, 1], eta=0.1, iters=5)
    with pytest.raises(ValueError, match="seeds"):
        ch.alpha_sweep(tiny_problems, k=4, alphas=[1.0, 0.1], seeds=[0], eta=0.1, iters=5)
    with pytest.raises(ValueError, match="problems"):
        ch.alpha_sweep(tiny_problems[0], k=4, alphas=[1.0, 0.1], seeds=[0], eta=0.1, iters=5)


def test_instances_are_independent(tiny_experiment):
    probs = tiny_experiment.problems
    assert len(probs) == 5
    assert not np.allclose(probs[0].target.X, probs[1].target.X)
    assert not np.allclose(probs[0].operator.matrix, probs[1].operator.matrix)
    assert len(set(tiny_experiment.sweep.seeds.tolist())) == 5


def test_generalization_at_a_tiny_size(tiny_experiment):
    sw = tiny_experiment.sweep
    assert np.all(sw.converged)
    assert np.all(sw.residual_end[:, 0] <= 1e-3 * sw.test_error_end[:, 0])     # large alpha interpolates
    assert np.all(sw.test_error[:, 0] > 10 * sw.test_error[:, -1])
    assert np.all(tiny_experiment.gamma > 0) and np.all(sw.monotone())
    assert sw.exact_error.max() < 1e-8


# ---------------------------------------------------------------- text, glue, claims, figure
IDS = ["a1.converged", "a1.interpolates", "a1.ratio", "a1.exponent", "a1.exponent-horizon",
       "a1.exponent-predecessor", "a1.monotone", "a1.exact-width"]


def test_text_glue_and_claims(tiny_experiment):
    exp = tiny_experiment
    assert "dim ker A" in ch.describe(exp.problems, k=14) and "5 instances" in ch.describe(exp.problems, k=14)
    assert "runs (5 instances) x 600 steps" in ch.timing(exp)
    assert len(ch.summary(exp).splitlines()) == 1 + 4 + 2
    assert ch.exponent_summary(exp).startswith("gamma per instance")
    values = ch.glue_values(exp)
    assert all(k.startswith("a1_") for k in values)
    assert all(type(x) in (int, float) for x in values.values())   # plain Python numbers for the prose
    claims = ch.claims(exp)
    assert [c.id for c in claims] == IDS
    by = {c.id: c for c in claims}
    for cid in ("a1.ratio", "a1.exponent", "a1.exponent-horizon", "a1.exponent-predecessor"):
        assert by[cid].n == 5 and by[cid].ci_lo <= by[cid].measured <= by[cid].ci_hi
    assert by["a1.exponent"].form == "scaling" and by["a1.ratio"].form == "paired-ratio"
    assert by["a1.exponent-predecessor"].expected_failure
    assert all(c.verdict in ("holds", "does not reproduce") for c in claims)


def _doctored(exp, **changes):
    sw = dataclasses.replace(exp.sweep, **changes)
    return dataclasses.replace(exp, sweep=sw, fits=sw.exponents(alpha_max=exp.alpha_fit_max),
                               fits_late=sw.exponents(alpha_max=exp.alpha_fit_max, late=True))


def test_claims_fail_on_doctored_inputs(tiny_experiment):
    exp = tiny_experiment
    N, A = exp.sweep.test_error.shape
    flat = np.full((N, A), 0.2) * np.linspace(1.0, 1.0001, A)[::-1]  # error hardly depends on alpha
    bad = {c.id: c for c in ch.claims(_doctored(exp, test_error=flat, test_error_late=flat))}
    assert bad["a1.ratio"].verdict == "fails"
    # an exponent that halves from t_c to 2 t_c: the stopping rule would set it
    late = exp.sweep.test_error * exp.sweep.alphas ** -0.5 * exp.sweep.alphas[-1] ** 0.5
    hor = {c.id: c for c in ch.claims(_doctored(exp, test_error_late=late))}
    assert hor["a1.exponent-horizon"].verdict == "fails"
    notconv = {c.id: c for c in ch.claims(_doctored(exp, converged=np.zeros((N, A), dtype=bool)))}
    assert notconv["a1.converged"].verdict == "fails"
    vis = exp.sweep.residual_end.copy()
    vis[:, 0] = 0.5 * exp.sweep.test_error_end[:, 0]
    assert {c.id: c for c in ch.claims(_doctored(exp, residual_end=vis))}["a1.interpolates"].verdict == "fails"
    up = exp.sweep.test_error.copy()
    up[0, -1] = 2 * up[0, -2]
    assert {c.id: c for c in ch.claims(_doctored(exp, test_error=up))}["a1.monotone"].verdict == "fails"


def test_figure_smoke(tiny_experiment):
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = ch.plot_generalization(tiny_experiment, curves_instance=1)
    assert ax1.get_xscale() == "log" and ax2.get_yscale() == "log"
    plt.close(fig)
    with pytest.raises(ValueError, match="exp"):
        ch.plot_generalization(object())
    with pytest.raises(ValueError, match="curves_instance"):
        ch.plot_generalization(tiny_experiment, curves_instance=5)


def test_cost_by_hand():
    P = ops.config.merge("book", ch.PRESETS, **TINY)
    c = ch.cost(P)
    runs = 5 * (4 + 2)
    assert c.work == runs * 600 * 168 * (2 * 80 + 3 * 14) + 80 * 168 * 80
    assert c.memory_bytes >= 8 * 6 * 80 * 168
