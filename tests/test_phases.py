"""Helpers of the paper-A chapters (opsense.phases): step sizes, the alpha sweep, escape times."""

import matplotlib

matplotlib.use("Agg")  # tests only; the chapters keep the inline backend

import numpy as np
import pytest

import opsense as ms
from opsense import phases


@pytest.fixture(scope="module")
def small_problem():
    return ms.make_problem(8, 10, 2, 60, sigma=[1.0, 0.5], seed=3)


# ---------------------------------------------------------------- parameters and step sizes
@pytest.mark.parametrize("kwargs, name", [
    (dict(r=3), "sigma"),
    (dict(r=0), "r"),
    (dict(k=1), "k"),
    (dict(m=0), "m"),
    (dict(alphas=[0.1]), "alphas"),
    (dict(alphas=[0.1, 0.1]), "alphas"),
    (dict(alphas=[0.1, -1.0]), "alphas"),
    (dict(sigma=[1.0, 0.0]), "sigma"),
    (dict(seed=-1), "seed"),
    (dict(alpha_fit_max=1e-9), "alpha_fit_max"),
])
def test_check_parameters_names_the_bad_one(kwargs, name):
    good = dict(n1=8, n2=10, r=2, sigma=[1.0, 0.5], m=60, k=4, alphas=[0.1, 1e-2, 1e-3], seed=0,
                alpha_fit_max=1e-2)
    phases.check_parameters(**good)
    with pytest.raises(ValueError, match=name):
        phases.check_parameters(**{**good, **kwargs})




# ---------------------------------------------------------------- the alpha sweep
def test_alpha_sweep_layout_matches_single_runs(small_problem):
    sw = phases.alpha_sweep(small_problem, k=6, alphas=[1e-3, 0.5], seeds=[4, 5], eta=0.2, iters=60,
                            exact_alphas=[0.5], record_every=20)
    assert sw.alphas.tolist() == [0.5, 1e-3]  # sorted decreasingly
    assert sw.test_error.shape == sw.train_loss.shape == sw.eta.shape == sw.sigma_extra.shape == (2, 2)
    assert sw.result.batch_size == 5 and sw.exact_error.shape == (1,)
    # run (seed 5, alpha 1e-3) alone gives the same numbers
    b = sw.run_index(1, 1)
    alone = ms.run_gd(small_problem, k=6, alpha=1e-3, eta=float(sw.eta[1, 1]), seed=5, iters=60, record_every=20)
    assert sw.result.alpha[b] == 1e-3 and sw.result.seed[b] == 5
    assert sw.test_error[1, 1] == pytest.approx(alone.rel_error[0, -1], rel=1e-10)
    assert sw.sigma_extra[1, 1] == pytest.approx(alone.singular_values[0, -1, 2], rel=1e-8)
    assert sw.result.k[-1] == 2  # exact-width run


def test_generalization_shape_and_exponent():
    """The chapter's phenomenon at a tiny size: large alpha interpolates badly, small alpha generalizes."""
    pr = ms.make_problem(10, 12, 1, 60, sigma=[1.0], seed=0)
    sw = phases.alpha_sweep(pr, k=12, alphas=[1.0, 1e-2, 1e-4, 1e-6], seeds=[0, 1], eta=0.25, iters=1000,
                            exact_alphas=[1.0])
    assert np.all(sw.train_loss[:, 0] < 1e-8) and np.all(sw.test_error[:, 0] > 0.1)
    assert np.all(sw.test_error[:, -1] < 1e-2)
    assert np.all(sw.monotone())
    fits = sw.exponents(alpha_max=1e-2)
    assert len(fits) == 2 and all(f.estimate > 0 for f in fits)
    assert sw.exact_error[0] < 1e-8  # k = r recovers X* (the lemma)
    with pytest.raises(ValueError, match="alpha_max"):
        sw.exponents(alpha_max=1e-5)


def test_alpha_sweep_validation(small_problem):
    with pytest.raises(ValueError, match="k"):
        phases.alpha_sweep(small_problem, k=1, alphas=[1.0, 0.1], seeds=[0], eta=0.1, iters=5)
    with pytest.raises(ValueError, match="alphas"):
        phases.alpha_sweep(small_problem, k=4, alphas=[1.0], seeds=[0], eta=0.1, iters=5)
    with pytest.raises(ValueError, match="seeds"):
        phases.alpha_sweep(small_problem, k=4, alphas=[1.0, 0.1], seeds=[0, 0], eta=0.1, iters=5)
    with pytest.raises(ValueError, match="problem"):
        phases.alpha_sweep("nope", k=4, alphas=[1.0, 0.1], seeds=[0], eta=0.1, iters=5)


# ---------------------------------------------------------------- escape times
def test_escape_slopes_values(small_problem):
    s = phases.escape_slopes(small_problem, eta=0.2)
    np.testing.assert_allclose(s.spectral, 1 / np.log1p(0.2 * small_problem.spectral_sigma[:2]))
    np.testing.assert_allclose(s.truth, 1 / np.log1p(0.2 * np.array([1.0, 0.5])))
    with pytest.raises(ValueError, match="eta"):
        phases.escape_slopes(small_problem, eta=-1.0)


def test_linearized_identity_on_identity_operator():
    """With A = identity, A*(y) = X*, and the proposition's identity for l_i^T X_t r_i is exact
    for the linearized recursion; GD itself follows it while X_t is tiny."""
    tgt = ms.low_rank_target(6, 5, 2, sigma=[1.0, 0.6], seed=1)
    pr = ms.Problem.from_parts(tgt, ms.SensingOperator.identity(6, 5))
    alpha, mu, k, T = 1e-8, 0.2, 4, 40
    U0, V0 = ms.initial_factors(6, 5, k, alpha, seed=2)
    W = np.vstack([U0, V0])
    Dy = np.block([[np.zeros((6, 6)), tgt.X], [tgt.X.T, np.zeros((5, 5))]])
    Wt = np.linalg.matrix_power(np.eye(11) + mu * Dy, T) @ W
    Xlin = Wt[:6] @ Wt[6:].T
    for i in range(2):
        l, r = tgt.U[:, i], tgt.V[:, i]
        ap = np.concatenate([l, r]) @ W / np.sqrt(2)
        am = np.concatenate([l, -r]) @ W / np.sqrt(2)
        s = tgt.sigma[i]
        pred = 0.5 * ((1 + mu * s) ** (2 * T) * ap @ ap - (1 - mu * s) ** (2 * T) * am @ am)
        assert l @ Xlin @ r == pytest.approx(pred, rel=1e-10)
    res = ms.run_gd(pr, init=(U0, V0), eta=mu, iters=T, record_every=T)
    Xgd = res.U[0] @ res.V[0].T
    np.testing.assert_allclose(Xgd, Xlin, rtol=1e-6, atol=1e-12 * np.abs(Xlin).max())


def test_hitting_times_and_fits_follow_the_escape_law():
    pr = ms.make_problem(12, 15, 2, 150, sigma=[1.0, 0.5], seed=0)
    alphas = [1e-3, 1e-5, 1e-7, 1e-9]
    res = ms.run_gd(pr, k=10, alpha=alphas, eta=0.25, iters=220, seed=0, record_every=1)
    hits = phases.hitting_times(res, pr.target.sigma)
    assert hits.shape == (4, 2) and np.all(np.isfinite(hits))
    assert np.all(hits[:, 0] < hits[:, 1])
    fits = phases.escape_fits(alphas, hits)
    pred = phases.escape_slopes(pr, eta=0.25)
    assert fits[0].r2 > 0.999
    assert fits[0].slope == pytest.approx(pred.spectral[0], rel=0.1)
    # a level never reached gives NaN
    assert np.all(np.isnan(phases.hitting_times(res, [1e3, 1e3])))


def test_hitting_times_validation():
    pr = ms.make_problem(5, 5, 1, 20, seed=0)
    res = ms.run_gd(pr, k=2, alpha=0.1, eta=0.1, iters=3, record_every=1)
    with pytest.raises(ValueError, match="result"):
        phases.hitting_times("x", [1.0])
    with pytest.raises(ValueError, match="sigma"):
        phases.hitting_times(res, [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="fraction"):
        phases.hitting_times(res, [1.0], fraction=2.0)
    with pytest.raises(ValueError, match="times"):
        phases.escape_fits([0.1, 0.01], np.zeros((3, 1)))


def test_two_stage_slope_limits_and_bracket():
    b1, mu, s_early, s_true = 4.0, 0.25, 0.75, 0.5
    b1 = 1 / np.log1p(mu * 1.1)
    # late rate = early rate: the plain law 1/ln(1 + mu s_early)
    assert phases.two_stage_slope(b1, eta=mu, sigma_early=s_early, sigma_late=s_early) == \
        pytest.approx(1 / np.log1p(mu * s_early))
    # late rate in [s_true, s_early] gives a slope in the bracket, decreasing in the late rate
    vals = [phases.two_stage_slope(b1, eta=mu, sigma_early=s_early, sigma_late=s) for s in (0.5, 0.6, 0.75)]
    assert vals[0] > vals[1] > vals[2]
    assert 1 / np.log1p(mu * s_early) - 1e-12 <= min(vals) and max(vals) <= 1 / np.log1p(mu * s_true) + 1e-12
    with pytest.raises(ValueError, match="sigma_late"):
        phases.two_stage_slope(b1, eta=mu, sigma_early=s_early, sigma_late=0.0)


# ---------------------------------------------------------------- figures
def test_figures_smoke(small_problem):
    import matplotlib.pyplot as plt

    sw = phases.alpha_sweep(small_problem, k=4, alphas=[0.1, 1e-3, 1e-5], seeds=[0], eta=0.2, iters=40,
                            exact_alphas=[0.1], record_every=10)
    fig, _ = phases.plot_generalization(sw, fit_alpha_max=1e-2, exponent=0.5)
    plt.close(fig)
    res = ms.run_gd(small_problem, k=4, alpha=[1e-3, 1e-5], eta=0.25, iters=150, record_every=1)
    hits = phases.hitting_times(res, small_problem.target.sigma)
    fig, _ = phases.plot_phases(res, 1, small_problem.target.sigma, t_align=10.0, t_hits=hits[1], t_max=150)
    plt.close(fig)
    fits = phases.escape_fits([1e-3, 1e-5], hits)
    fig, _ = phases.plot_escape([1e-3, 1e-5], hits, fits, phases.escape_slopes(small_problem, eta=0.25))
    plt.close(fig)
    with pytest.raises(ValueError, match="sweep"):
        phases.plot_generalization(object())
