"""Helpers of the paper-A chapters a3-a5 (opsense.lifted): lifted form, effective rank, phase diagram."""

import matplotlib

matplotlib.use("Agg")  # tests only; the chapters keep the inline backend

import numpy as np
import pytest

import opsense as ms
from opsense import lifted as L


@pytest.fixture(scope="module")
def problem():
    return ms.make_problem(6, 8, 2, 40, sigma=[1.0, 0.5], seed=3)


# ---------------------------------------------------------------- parameters
@pytest.mark.parametrize("kwargs, name", [
    (dict(r=0), "r"),
    (dict(r=3), "sigma"),
    (dict(sigma=[1.0, -0.5]), "sigma"),
    (dict(seed=-1), "seed"),
    (dict(m=0), "m"),
    (dict(k=1), "k"),
    (dict(alphas=[0.1]), "alphas"),
    (dict(alphas=[0.1, 0.1]), "alphas"),
    (dict(etas=[0.1, -1.0]), "etas"),
])
def test_check_parameters_names_the_bad_one(kwargs, name):
    good = dict(n1=6, n2=8, r=2, sigma=[1.0, 0.5], seed=0, m=40, k=8, alphas=[0.1, 0.01], etas=[0.1, 0.2])
    L.check_parameters(**good)
    with pytest.raises(ValueError, match=name):
        L.check_parameters(**{**good, **kwargs})


# ---------------------------------------------------------------- the lifted form




def test_check_lifted_identities_hold_along_a_trajectory(problem):
    U0, V0 = ms.initial_factors(6, 8, 5, 0.1, seed=2)
    c = L.check_lifted(problem, U0, V0, eta=0.2, times=[0, 3, 40])
    assert c.t.tolist() == [0, 3, 40]
    assert np.all(c.lifted < 1e-13) and np.all(c.identity < 1e-13) and np.all(c.lifted_form < 1e-13)
    assert np.all(c.increment > 0)
    with pytest.raises(ValueError, match="increasing"):
        L.check_lifted(problem, U0, V0, eta=0.2, times=[3, 3])
    with pytest.raises(ValueError, match="problem"):
        L.check_lifted("nope", U0, V0, eta=0.2, times=[0])




# ---------------------------------------------------------------- effective rank


# ---------------------------------------------------------------- the phase diagram
def test_phase_diagram_layout_and_engine_equivalence():
    pd = L.phase_diagram(6, 8, 1, sigma=[1.0], ratios=[1.0, 2.0, 3.0], ks=[1, 3], n_seeds=2, alpha=1e-3,
                         iters=150, seed=5)
    assert pd.test_error.shape == (3, 2, 2) and pd.eta.shape == (3, 2)
    assert pd.m_values.tolist() == [14, 28, 42] and pd.rate.shape == (3, 2)
    # run (m = 28, k = 3, second seed) with the engine: same operator rows, target, init, step
    s_mat, s_tgt, s_init = np.random.SeedSequence(5).spawn(3)
    master = np.random.default_rng(s_mat).standard_normal((42, 48))
    tseed = int(s_tgt.generate_state(2)[1])
    iseed = int(s_init.generate_state(2)[1]) % (2 ** 31)
    target = ms.low_rank_target(6, 8, 1, sigma=[1.0], seed=tseed)
    op = ms.SensingOperator.from_matrix(master[:28] / np.sqrt(28), 6, 8)
    prob = ms.Problem.from_parts(target, op)
    eta = 0.25 / prob.spectral_sigma[0]
    assert pd.eta[1, 1] == pytest.approx(eta, rel=1e-12)
    res = ms.run_gd(prob, k=3, alpha=1e-3, eta=eta, iters=150, seed=iseed, record_every=150)
    assert pd.test_error[1, 1, 1] == pytest.approx(res.rel_error[0, -1], rel=1e-9)


def test_phase_diagram_summaries():
    pd = L.PhaseDiagram(ratios=np.array([1.0, 2.0, 3.0]), m_values=np.array([10, 20, 30]), ks=np.array([2, 4]),
                        seeds=np.arange(2), test_error=np.array([[[1, 1], [1, 1]], [[1e-3, 1], [1, 1e-3]],
                                                                 [[1e-3, 1e-3], [1, 1]]], dtype=float),
                        eta=np.ones((3, 2)), tol=1e-2, r=2, n1=5, n2=5)
    assert pd.rate.tolist() == [[0.0, 0.0], [0.5, 0.5], [1.0, 0.0]]
    t = pd.transition()
    assert t[0] == 2.0 and t[1] == 2.0
    assert pd.transition(level=0.9)[1] != pd.transition(level=0.9)[1]  # NaN: never reached
    assert pd.largest_drop().tolist() == [0.0, 0.5]


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
        L.phase_diagram(6, 8, 1, **{**good, **kwargs})


def test_diverged_runs_count_as_failures():
    pd = L.phase_diagram(6, 8, 1, sigma=[1.0], ratios=[1.0, 2.0], ks=[1], n_seeds=1, alpha=30.0, iters=50,
                         eta_scale=0.9)
    assert np.all(np.isinf(pd.test_error)) and np.all(pd.rate == 0)


# ---------------------------------------------------------------- figures
def test_figures_run(problem):
    res = ms.run_gd(problem, k=[4, 4, 8], alpha=[0.1, 1e-3, 1e-3], eta=[0.1, 0.1, 0.2], iters=30, record_every=5)
    base = res.imbalance_op[:, 0]
    fit = ms.fit_power([0.1, 0.2], [1e-3, 2e-3])
    fig, axes = L.plot_balancing(res, res, alpha_runs=[0, 1], eta_runs=[1, 2], baseline=base,
                                 drift=[1e-3, 2e-3], fit=fit, sigma_r=0.5)
    assert axes.shape == (2, 2)
    er = L.effective_rank(res.singular_values)
    fig, _ = L.plot_low_rank(res, small=1, large=0, r=2, erank=er, alphas_fit=[0.1, 1e-3],
                             tail=[1e-2, 1e-4], fit=ms.fit_power([0.1, 1e-3], [1e-2, 1e-4]))
    fixed = ms.run_gd(problem, k=[4, 8], alpha=1e-3, eta=0.1, iters=30, record_every=5, rebalance_at=10)
    fig, axes = L.plot_options(res, fixed, labels_vanilla=["a", "b", "c"], labels_fixed=["d", "e"], ks=[4, 8])
    assert len(axes) == 2
    pd = L.phase_diagram(6, 8, 1, sigma=[1.0], ratios=[1.0, 2.0], ks=[1, 2], n_seeds=1, alpha=1e-3, iters=20)
    L.plot_phase_diagram(pd)
    with pytest.raises(ValueError, match="labels"):
        L.plot_options(res, fixed, labels_vanilla=["a"], labels_fixed=["d", "e"], ks=[4])
    with pytest.raises(ValueError, match="erank"):
        L.plot_low_rank(res, small=1, large=0, r=2, erank=er[:1], alphas_fit=[0.1, 1e-3], tail=[1, 1],
                        fit=fit)
