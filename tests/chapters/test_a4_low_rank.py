"""Chapter a4_low_rank: parameters, the experiment, claims and figure."""

import matplotlib

matplotlib.use("Agg")  # tests only; the chapters keep the inline backend

import numpy as np
import pytest

import opsense as ops
from opsense.claims import BASES
from opsense.chapters import a4_low_rank as ch

SMALL = dict(n1=6, n2=8, r=2, sigma=[1.0, 0.5], m=60, k=8, alphas=[1e-2, 1e-3, 1e-4], iters=300)


@pytest.fixture(scope="module")
def small_exp():
    return ch.run(ops.configure(ch, "book", **SMALL, eta=0.2))


@pytest.mark.parametrize("preset", sorted(ch.PRESETS))
def test_presets_pass_the_check(preset):
    P = ops.configure(ch, preset)
    assert P.seed == 0 and set(ch.PRESETS[preset]) == set(ch.PRESETS["book"])


@pytest.mark.parametrize("kwargs, name", [
    (dict(n1=0), "n1"),
    (dict(r=20), "r"),
    (dict(sigma=[1.0]), "sigma"),
    (dict(k=20), "k"),
    (dict(alphas=[0.01]), "alphas"),
    (dict(alphas=[0.01, 0.01]), "alphas"),
    (dict(alpha_large=0.001), "alpha_large"),
    (dict(tau=1.5), "tau"),
    (dict(eta=0.5), "eta"),
    (dict(m=1_000_000), "m"),
    (dict(iters=100_000_000), "iters"),
    (dict(k=5000, iters=1), "k"),
    (dict(seed=-1), "seed"),
])
def test_check_names_the_bad_parameter(kwargs, name):
    with pytest.raises(ValueError, match=rf"^parameter {name}\b"):
        ops.configure(ch, "book", **kwargs)


def test_small_experiment(small_exp):
    exp = small_exp
    res = exp.result
    assert res.batch_size == 4 and exp.small.tolist() == [0, 1, 2]
    assert res.alpha.tolist() == [1e-2, 1e-3, 1e-4, 1.0]
    assert exp.erank.shape == res.singular_values.shape[:2]
    np.testing.assert_array_equal(exp.tail, res.singular_values[:, -1, 2])
    assert res.eta[0] == 0.2 and res.eta[-1] < 0.2          # the large alpha gets min(eta, 1/L0)
    assert exp.i_min == 2 and exp.i_large == 3
    assert "sigma_r+1" in ch.summary(exp) and "exponent" in ch.exponent_line(exp)


def test_claims_and_glue(small_exp):
    claims = ch.claims(small_exp)
    assert [c.id for c in claims] == ["a4.tail-exponent", "a4.fit-quality", "a4.tail-monotone", "a4.top-r",
                                      "a4.erank-small", "a4.erank-large"]
    assert all(c.basis in BASES and isinstance(c.measured, float) for c in claims)
    values = ch.glue_values(small_exp)
    assert all(k.startswith("a4_") for k in values)
    assert not any(isinstance(x, np.generic) for x in values.values())


def test_figure_runs(small_exp):
    fig, axes = ch.plot_low_rank(small_exp)
    assert len(axes) == 3
    with pytest.raises(ValueError, match="exp"):
        ch.plot_low_rank("nope")


# ----------------------------------------------------------------------------- the cost estimate




def test_cost_by_hand_on_a_tiny_case():
    P = ops.config.merge("book", ch.PRESETS, **{**SMALL, "m": 30})     # 6 x 8, m 30, k 8, 3 + 1 runs, 300 steps
    c = ch.cost(P)
    # runs * iters * n1 n2 * (2 m + 3 k) = 4 * 300 * 48 * 84
    assert c.work == 4 * 300 * 48 * (2 * 30 + 3 * 8) == 4_838_400
    # operator 30 * 48; per run: factors (6 + 8) * 8 and 31 records of min(6, 8, 8) + 2 * 2 + 9 = 19 values
    assert c.memory_bytes == 8 * (30 * 48 + 4 * ((6 + 8) * 8 + 31 * 19)) == 33_952


# ---------------------------------------------------------------- evaluate reproduces the committed notebook
