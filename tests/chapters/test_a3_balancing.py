"""Chapter a3_balancing: parameters, regime, the lifted identities, the experiment, claims and figures."""

import re
import warnings

import matplotlib

matplotlib.use("Agg")  # tests only; the chapters keep the inline backend

import numpy as np
import pytest

import opsense as ops
from opsense.claims import BASES
from opsense.config import OutsideRegimeWarning
from opsense.chapters import a3_balancing as ch

SMALL = dict(n1=6, n2=8, r=2, sigma=[1.0, 0.5], m=84, k=8, alphas=[0.1, 0.01], eta=0.01, alpha_small=1e-4,
             etas=[0.01, 0.04], iters=2700, ms=[56, 112, 224], alpha_m=1e-4, n_instances=3,
             check_times=[0, 10, 100])


@pytest.fixture(scope="module")
def problem():
    return ops.make_problem(6, 8, 2, 40, sigma=[1.0, 0.5], seed=3)


@pytest.fixture(scope="module")
def small_exp():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutsideRegimeWarning)   # 3 instances: below the regime's 5
        return ch.run(ops.configure(ch, "book", **SMALL))


# ---------------------------------------------------------------- parameters and regime
@pytest.mark.parametrize("preset", sorted(ch.PRESETS))
def test_presets_pass_the_check_inside_the_regime(preset):
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutsideRegimeWarning)
        P = ops.configure(ch, preset)
    assert P.seed == 0 and set(ch.PRESETS[preset]) == set(ch.PRESETS["book"])


@pytest.mark.parametrize("kwargs, name", [
    (dict(n1=0), "n1"),
    (dict(r=25), "r"),
    (dict(sigma=[1.0]), "sigma"),
    (dict(k=1), "k"),
    (dict(alphas=[0.1]), "alphas"),
    (dict(alphas=[0.1, 0.1]), "alphas"),
    (dict(alphas=[0.1, 2.0]), "alphas"),
    (dict(etas=[0.01]), "etas"),
    (dict(etas=[0.01, 0.9]), "etas"),
    (dict(eta=0.5), "eta"),
    (dict(alpha_small=3.0), "alpha_small"),
    (dict(alpha_m=0.0), "alpha_m"),
    (dict(ms=[300, 600]), "ms"),
    (dict(ms=[300, 300, 600]), "ms"),
    (dict(ms=[10, 600, 1200]), "m"),
    (dict(ms=[300, 600, 10_000_000]), "ms"),
    (dict(iters=1000), "iters"),
    (dict(n_instances=1), "n_instances"),
    (dict(check_times=[0, 100, 100]), "check_times"),
    (dict(check_times=[0, 90000]), "check_times"),
    (dict(m=1_000_000), "m"),
    (dict(iters=100_000_000), "iters"),
    (dict(k=5000), "k"),
    (dict(seed=-1), "seed"),
])
def test_check_names_the_bad_parameter(kwargs, name):
    with pytest.raises(ValueError, match=rf"^parameter {name}\b"):
        ops.configure(ch, "book", **kwargs)


def test_iters_below_the_predicted_horizon_is_refused_with_the_horizon():
    need = ch.horizon(1e-4, 0.01, 0.5)
    assert need == int(np.ceil((np.log(1e4) + ch.DRIFT_EFOLDS) / 0.005))
    with pytest.raises(ValueError, match=rf"parameter iters must be >= {need}"):
        ops.configure(ch, "book", iters=need - 1)
    ops.configure(ch, "book", iters=need)


@pytest.mark.parametrize("kwargs, words", [
    (dict(n_instances=3), "n_instances >= 5"),
    (dict(alpha_small=1e-3), "alpha_small <= 1e-4"),
    (dict(alphas=[0.05, 0.01]), "max(alphas)^2 >= eta"),
    (dict(sigma=[1.0, 0.2], iters=6700), "kappa <= 3"),
    (dict(ms=[300, 600, 900]), "max(ms) / min(ms) >= 4"),
])
def test_outside_the_regime_warns_and_runs_on(kwargs, words):
    with pytest.warns(OutsideRegimeWarning, match=re.escape(words)):
        P = ops.configure(ch, "book", **kwargs)
    assert P is not None


def test_horizons_scale_with_the_predicted_rate():
    P = ops.configure(ch, "book")
    H = ch._horizons(P)
    assert H["etas"][0] == P.iters                      # the slowest run
    for e, T in zip(P.etas, H["etas"]):                 # rate proportional to mu
        assert T == pytest.approx(P.iters * min(P.etas) / e, abs=2)
    assert H["m"] < H["etas"][-1] and H["alpha"] < P.iters


# ---------------------------------------------------------------- the lifted form
def test_verify_lifted_identities_hold_along_a_trajectory(problem):
    U0, V0 = ops.initial_factors(6, 8, 5, 0.1, seed=2)
    c = ch.verify_lifted(problem, U0, V0, eta=0.2, times=[0, 3, 40])
    assert c.t.tolist() == [0, 3, 40]
    assert np.all(c.lifted < 1e-13) and np.all(c.identity < 1e-13) and np.all(c.lifted_form < 1e-13)
    assert np.all(c.increment > 0)
    with pytest.raises(ValueError, match="increasing"):
        ch.verify_lifted(problem, U0, V0, eta=0.2, times=[3, 3])
    with pytest.raises(ValueError, match="problem"):
        ch.verify_lifted("nope", U0, V0, eta=0.2, times=[0])
    with pytest.raises(ValueError, match="U0"):
        ch.verify_lifted(problem, U0[:3], V0, eta=0.2, times=[0])


# ---------------------------------------------------------------- experiment, claims, figure
def test_small_experiment_layout_and_instances(small_exp):
    exp = small_exp
    N = 3
    assert exp.n_instances == N and len(set(exp.seeds.tolist())) == N
    assert len(exp.alpha_runs) == N and all(r.batch_size == 2 for r in exp.alpha_runs)
    assert len(exp.eta_runs) == 2 and all(r.batch_size == N for r in exp.eta_runs)
    assert exp.ratio.shape == (2, N) and exp.drift_eta.shape == (2, N) and exp.peak_m.shape == (3, N)
    # the instances are independent: different targets and operators
    assert not np.allclose(exp.problems[0].target.X, exp.problems[1].target.X)
    # the m sweep's operators are nested, and the instance's main operator is the first m rows
    prob = ops.make_problem(6, 8, 2, 84, sigma=[1.0, 0.5], seed=int(exp.seeds[1]))
    np.testing.assert_array_equal(prob.operator.matrix, exp.problems[1].operator.matrix)
    np.testing.assert_allclose(prob.target.X, exp.problems[1].target.X)
    # the imbalance is recorded by the engine: its start is alpha^2 ||U~'U~ - V~'V~||
    for j, res in enumerate(exp.alpha_runs):
        np.testing.assert_allclose(res.imbalance_op[:, 0], exp.alphas ** 2 * exp.c0[j], rtol=1e-10)
    assert np.all(exp.verification.lifted < 1e-12)
    assert "alpha" in ch.summary(exp) and "lifted" in ch.identities_table(exp) and "slope" in ch.m_summary(exp)
    assert ops.book.timing(exp).startswith("run time")


def test_claims_and_glue(small_exp):
    claims = ch.claims(small_exp)
    assert [c.id for c in claims] == ["a3.lifted", "a3.identity", "a3.conserved", "a3.drift-linear",
                                      "a3.coupling-end", "a3.coupling-path", "a3.transient",
                                      "a3.coupling-control", "a3.coupling-m-slope", "a3.coupling-m-shrinks"]
    assert all(c.basis in BASES and isinstance(c.measured, float) for c in claims)
    assert claims[0].holds and claims[1].holds
    by = {c.id: c for c in claims}
    assert by["a3.coupling-path"].expected_failure
    assert by["a3.coupling-m-slope"].form == "scaling" and by["a3.coupling-m-slope"].n == 3
    values = ch.glue_values(small_exp)
    assert all(k.startswith("a3_") for k in values)
    assert not any(isinstance(x, np.generic) for x in values.values())


def _with(exp, **fields):
    from dataclasses import replace
    return replace(exp, **fields)


def test_claims_can_fail(small_exp):
    N = small_exp.n_instances
    by = lambda e: {c.id: c for c in ch.claims(e)}
    # an m slope of 0 (a transient that does not shrink) fails the scaling claim and the paired ratio
    flat = _with(small_exp, slope_m=np.array([0.01, -0.02, 0.0][:N]),
                 peak_m=np.array([[0.1, 0.11, 0.09], [0.1, 0.1, 0.1], [0.12, 0.1, 0.11]])[:, :N])
    assert by(flat)["a3.coupling-m-slope"].verdict == "fails"
    assert by(flat)["a3.coupling-m-shrinks"].verdict == "fails"
    # a drift quadratic in mu fails the linear-drift claim
    quad = _with(small_exp, slope_eta=np.array([2.0, 1.95, 2.05][:N]))
    assert by(quad)["a3.drift-linear"].verdict == "fails"
    # a small coupling transient makes the restored prediction hold; a large one is "does not reproduce"
    low = _with(small_exp, peak=np.full_like(small_exp.peak, 0.01) + 1e-3 * np.arange(N))
    assert by(low)["a3.coupling-path"].verdict == "holds"
    high = _with(small_exp, peak=np.full_like(small_exp.peak, 0.1) + 1e-3 * np.arange(N))
    assert by(high)["a3.coupling-path"].verdict == "does not reproduce"
    # a transient that grows with the step size fails a3.transient
    grow = small_exp.peak.copy()
    grow[-1] *= 3.0
    assert by(_with(small_exp, peak=grow))["a3.transient"].verdict == "fails"
    # a coupling that grows with the identity operator fails the control
    ctrl = _with(small_exp, control_growth=np.full_like(small_exp.control_growth, 1.5) + 0.01 * np.arange(N))
    assert by(ctrl)["a3.coupling-control"].verdict == "fails"


def test_figures_run(small_exp):
    fig, axes = ch.plot_balancing(small_exp)
    assert axes.shape == (2, 2)
    fig, axes = ch.plot_m_sweep(small_exp)
    assert len(axes) == 2
    with pytest.raises(ValueError, match="exp"):
        ch.plot_balancing("nope")
    with pytest.raises(ValueError, match="exp"):
        ch.plot_m_sweep("nope")
