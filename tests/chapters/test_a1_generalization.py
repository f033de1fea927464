"""Chapter a1_generalization: parameters, the alpha sweep, the claims and the figure."""

import matplotlib

matplotlib.use("Agg")  # tests only; the chapters keep the inline backend

import numpy as np
import pytest

import opsense as ops
from opsense.chapters import a1_generalization as ch


@pytest.fixture(scope="module")
def small_problem():
    return ops.make_problem(8, 10, 2, 60, sigma=[1.0, 0.5], seed=3)


@pytest.fixture(scope="module")
def small_experiment():
    """The chapter at a tiny size (a fraction of a second)."""
    P = ops.configure(ch, "book", n1=10, n2=12, r=1, sigma=[1.0], m=60, k=12, alphas=[1.0, 1e-2, 1e-4, 1e-6],
                      iters=1000, n_seeds=2)
    return ch.run(P)


# ---------------------------------------------------------------- parameters
@pytest.mark.parametrize("preset", sorted(ch.PRESETS))
def test_presets_pass_check(preset):
    P = ops.configure(ch, preset)
    assert P.seed == 0 and set(ch.PRESETS[preset]) == set(ch.PRESETS["book"])


@pytest.mark.parametrize("given, name", [
    (dict(r=3), "sigma"),
    (dict(r=25), "r"),
    (dict(k=1), "k"),
    (dict(m=400_000), "m"),
    (dict(alphas=[0.1]), "alphas"),
    (dict(alphas=[0.1, 0.1]), "alphas"),
    (dict(alphas=[100.0, 0.1]), "alphas"),
    (dict(alphas=[0.1, -1.0]), "alphas"),
    (dict(sigma=[1.0, 0.0]), "sigma"),
    (dict(sigma=[1.0, 0.5, 0.2]), "sigma"),
    (dict(eta=1.0), "eta"),
    (dict(iters=100), "iters"),
    (dict(iters=10_000_000), "iters"),
    (dict(n_seeds=1), "n_seeds"),
    (dict(seed=-1), "seed"),
    (dict(alpha_fit_max=1e-9), "alpha_fit_max"),
    (dict(k=100_000), "k"),
])
def test_check_names_the_bad_parameter(given, name):
    with pytest.raises(ValueError, match=rf"^parameter {name}\b"):
        ops.configure(ch, "book", **given)


# ---------------------------------------------------------------- the alpha sweep
def test_alpha_sweep_layout_matches_single_runs(small_problem):
    sw = ch.alpha_sweep(small_problem, k=6, alphas=[1e-3, 0.5], seeds=[4, 5], eta=0.2, iters=60,
                        exact_alphas=[0.5], record_every=20)
    assert sw.alphas.tolist() == [0.5, 1e-3]  # sorted decreasingly
    assert sw.test_error.shape == sw.train_loss.shape == sw.eta.shape == sw.sigma_extra.shape == (2, 2)
    assert sw.result.batch_size == 5 and sw.exact_error.shape == (1,)
    # run (seed 5, alpha 1e-3) alone gives the same numbers
    b = sw.run_index(1, 1)
    alone = ops.run_gd(small_problem, k=6, alpha=1e-3, eta=float(sw.eta[1, 1]), seed=5, iters=60, record_every=20)
    assert sw.result.alpha[b] == 1e-3 and sw.result.seed[b] == 5
    assert sw.test_error[1, 1] == pytest.approx(alone.rel_error[0, -1], rel=1e-10)
    assert sw.sigma_extra[1, 1] == pytest.approx(alone.singular_values[0, -1, 2], rel=1e-8)
    assert sw.result.k[-1] == 2  # exact-width run


def test_generalization_shape_and_exponent(small_experiment):
    """The chapter's phenomenon at a tiny size: large alpha interpolates badly, small alpha generalizes."""
    sw = small_experiment.sweep
    assert np.all(sw.train_loss[:, 0] < 1e-8) and np.all(sw.test_error[:, 0] > 0.1)
    assert np.all(sw.test_error[:, -1] < 1e-2)
    assert np.all(sw.monotone())
    fits = sw.exponents(alpha_max=1e-2)
    assert len(fits) == 2 and all(f.estimate > 0 for f in fits)
    assert sw.exact_error.max() < 1e-8  # k = r recovers X* (the lemma)
    with pytest.raises(ValueError, match="alpha_max"):
        sw.exponents(alpha_max=1e-7)


def test_alpha_sweep_validation(small_problem):
    with pytest.raises(ValueError, match="k"):
        ch.alpha_sweep(small_problem, k=1, alphas=[1.0, 0.1], seeds=[0], eta=0.1, iters=5)
    with pytest.raises(ValueError, match="alphas"):
        ch.alpha_sweep(small_problem, k=4, alphas=[1.0], seeds=[0], eta=0.1, iters=5)
    with pytest.raises(ValueError, match="seeds"):
        ch.alpha_sweep(small_problem, k=4, alphas=[1.0, 0.1], seeds=[0, 0], eta=0.1, iters=5)
    with pytest.raises(ValueError, match="problem"):
        ch.alpha_sweep("nope", k=4, alphas=[1.0, 0.1], seeds=[0], eta=0.1, iters=5)


# ---------------------------------------------------------------- text, glue, claims, figure
def test_text_glue_and_claims(small_experiment):
    exp = small_experiment
    assert "dim ker A" in ch.describe(exp.problem, k=12)
    assert "runs x 1000 steps" in ch.timing(exp)
    assert len(ch.summary(exp).splitlines()) == 1 + 4 + 2
    assert ch.exponent_summary(exp).startswith("gamma per seed")
    values = ch.glue_values(exp)
    assert all(k.startswith("a1_") for k in values)
    assert all(type(x) in (int, float) for x in values.values())   # plain Python numbers for the prose
    claims = ch.claims(exp)
    assert [c.id for c in claims] == ["a1.small-alpha", "a1.large-alpha-loss", "a1.large-alpha-error",
                                      "a1.exponent", "a1.monotone", "a1.exact-width"]
    assert {c.basis for c in claims} <= {"theory", "derived-on-page", "specification", "identity"}
    assert all(isinstance(c.measured, float) for c in claims)
    assert all(c.holds for c in claims if c.id != "a1.small-alpha")  # 1e-6 is not small enough at this size


def test_figure_smoke(small_experiment):
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = ch.plot_generalization(small_experiment, curves_seed=1)
    assert ax1.get_xscale() == "log" and ax2.get_yscale() == "log"
    plt.close(fig)
    with pytest.raises(ValueError, match="exp"):
        ch.plot_generalization(object())
    with pytest.raises(ValueError, match="curves_seed"):
        ch.plot_generalization(small_experiment, curves_seed=5)


# ----------------------------------------------------------------------------- the cost estimate




# ---------------------------------------------------------------- evaluate reproduces the committed notebook
