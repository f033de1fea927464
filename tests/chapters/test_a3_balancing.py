"""Chapter a3_balancing: parameters, the lifted identities, the experiment, claims and figure."""

import matplotlib

matplotlib.use("Agg")  # tests only; the chapters keep the inline backend

import numpy as np
import pytest

import opsense as ops
from opsense.claims import BASES
from opsense.chapters import a3_balancing as ch

SMALL = dict(n1=6, n2=8, r=2, sigma=[1.0, 0.5], m=60, k=8, alphas=[0.1, 0.01], eta=0.01, alpha_small=1e-6,
             etas=[0.01, 0.02], iters=300, check_times=[0, 10, 100])


@pytest.fixture(scope="module")
def problem():
    return ops.make_problem(6, 8, 2, 40, sigma=[1.0, 0.5], seed=3)


@pytest.fixture(scope="module")
def small_exp():
    return ch.run(ops.configure(ch, "book", **SMALL))


# ---------------------------------------------------------------- parameters
@pytest.mark.parametrize("preset", sorted(ch.PRESETS))
def test_presets_pass_the_check(preset):
    P = ops.configure(ch, preset)
    assert P.seed == 0 and set(ch.PRESETS[preset]) == set(ch.PRESETS["book"])


@pytest.mark.parametrize("kwargs, name", [
    (dict(n1=0), "n1"),
    (dict(r=25), "r"),
    (dict(sigma=[1.0]), "sigma"),
    (dict(k=1), "k"),
    (dict(alphas=[0.1]), "alphas"),
    (dict(alphas=[0.1, 0.1]), "alphas"),
    (dict(etas=[0.01]), "etas"),
    (dict(etas=[0.01, 0.9]), "etas"),
    (dict(eta=0.5), "eta"),
    (dict(alpha_small=30.0), "etas"),
    (dict(check_times=[0, 100, 100]), "check_times"),
    (dict(check_times=[0, 9000]), "check_times"),
    (dict(m=1_000_000), "m"),
    (dict(iters=100_000_000), "iters"),
    (dict(k=5000), "k"),
    (dict(seed=-1), "seed"),
])
def test_check_names_the_bad_parameter(kwargs, name):
    with pytest.raises(ValueError, match=rf"^parameter {name}\b"):
        ops.configure(ch, "book", **kwargs)


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
def test_small_experiment_layout(small_exp):
    exp = small_exp
    assert exp.result.batch_size == 4 and exp.control.batch_size == 4
    assert exp.alpha_runs.tolist() == [0, 1] and exp.eta_runs.tolist() == [2, 3]
    assert exp.result.alpha.tolist() == [0.1, 0.01, 1e-6, 1e-6]
    np.testing.assert_allclose(exp.baseline, exp.result.alpha ** 2 * exp.c0)
    # the imbalance is recorded by the engine: its start is alpha^2 ||U~'U~ - V~'V~||
    np.testing.assert_allclose(exp.result.imbalance_op[:, 0], exp.baseline, rtol=1e-10)
    assert np.all(exp.verification.lifted < 1e-12)
    assert "alpha" in ch.summary(exp) and "lifted" in ch.identities_table(exp)
    assert ops.book.timing(exp).startswith("run time")


def test_claims_and_glue(small_exp):
    claims = ch.claims(small_exp)
    assert [c.id for c in claims] == ["a3.lifted", "a3.identity", "a3.conserved", "a3.drift-linear",
                                      "a3.coupling-end", "a3.coupling-control", "a3.transient"]
    assert all(c.basis in BASES and isinstance(c.measured, float) for c in claims)
    assert claims[0].holds and claims[1].holds
    values = ch.glue_values(small_exp)
    assert all(k.startswith("a3_") for k in values)
    assert not any(isinstance(x, np.generic) for x in values.values())


def test_figure_runs(small_exp):
    fig, axes = ch.plot_balancing(small_exp)
    assert axes.shape == (2, 2)
    with pytest.raises(ValueError, match="exp"):
        ch.plot_balancing("nope")


# ----------------------------------------------------------------------------- the cost estimate




# ---------------------------------------------------------------- evaluate reproduces the committed notebook
