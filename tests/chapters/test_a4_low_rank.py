"""Chapter a4_low_rank: parameters and regime, the experiment over instances, the claims (also on
doctored inputs) and the figure."""

import dataclasses
import math
import re
import warnings

import matplotlib

matplotlib.use("Agg")  # tests only; the chapters keep the inline backend

import numpy as np
import pytest

import opsense as ops
from opsense.claims import BASES
from opsense.config import OutsideRegimeWarning
from opsense.chapters import a4_low_rank as ch

#: A tiny parameter set inside the regime (m = 80 = 3.1 r (n1 + n2) <= n1 n2 / 2 = 84), rank 1.
SMALL = dict(n1=12, n2=14, r=1, sigma=[1.0], m=80, k=14, alphas=[1e-2, 1e-3, 1e-4], iters=400)


@pytest.fixture(scope="module")
def small_exp():
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutsideRegimeWarning)
        P = ops.configure(ch, "book", **SMALL, eta=0.2)
    return ch.run(P)


@pytest.mark.parametrize("preset", sorted(ch.PRESETS))
def test_presets_pass_the_check_inside_the_regime(preset):
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutsideRegimeWarning)
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
    (dict(alpha_large=100.0), "alpha_large"),
    (dict(tau=1.5), "tau"),
    (dict(eta=0.6), "eta"),
    (dict(m=600), "m"),
    (dict(m=100_000), "m"),
    (dict(iters=100), "iters"),
    (dict(iters=100_000_000), "iters"),
    (dict(k=5000, iters=1000), "k"),
    (dict(n_instances=1), "n_instances"),
    (dict(seed=-1), "seed"),
])
def test_check_names_the_bad_parameter(kwargs, name):
    with pytest.raises(ValueError, match=rf"^parameter {name}\b"):
        ops.configure(ch, "book", **kwargs)


@pytest.mark.parametrize("given, needle", [
    (dict(n_instances=3), "n_instances >= 5"),
    (dict(m=250), "m >= 3 r (n1 + n2)"),
    (dict(alphas=[0.1, 1e-3, 1e-6]), "alphas <= 1e-2 sqrt(sigma_1)"),
    (dict(alphas=[1e-2, 1e-3]), "at least 3 small scales"),
    (dict(alpha_large=0.2), "alpha_large >= 0.5 sqrt(sigma_1)"),
    (dict(tau=0.3), "tau <= sigma_r / (2 sigma_1)"),
])
def test_outside_the_regime_warns_once(given, needle):
    with pytest.warns(OutsideRegimeWarning, match=re.escape(needle)) as record:
        ops.configure(ch, "book", **given)
    assert len([w for w in record if issubclass(w.category, OutsideRegimeWarning)]) == 1


def test_budget_comes_from_the_rate():
    need = ch.needed_iters(ch.ALPHAS, eta=0.25, sigma_r=0.5)
    assert need == math.ceil(2 * ch.predicted_time(1e-6, eta=0.25, sigma_r=0.5))
    with pytest.raises(ValueError, match=rf"^parameter iters must be >= {need}\b"):
        ops.configure(ch, "book", iters=need - 1)


def test_settle_index_interpolation_and_plateau():
    t = np.arange(60)
    assert ch.settle_index(10.0 ** (-t / 5), np.full(60, 1.0), lag=100, fitted=0.5) == 15
    res = np.where(t < 20, 0.8 ** t, 0.8 ** 20)
    assert ch.settle_index(res, np.full(60, 1.0), lag=2, fitted=0.5) == 22
    assert ch.settle_index(0.95 ** t, np.full(60, 1e-6), lag=2, fitted=0.5) == -1


def test_small_experiment(small_exp):
    exp = small_exp
    assert len(exp.problems) == 5 and len(exp.results) == 5
    res = exp.results[0]
    assert res.batch_size == 4 and exp.alphas.tolist() == [1e-2, 1e-3, 1e-4, 1.0]
    assert exp.tail.shape == exp.erank.shape == exp.t_conv.shape == (5, 4)
    assert res.eta[0] == 0.2 and res.eta[-1] < 0.2          # the large alpha gets min(eta, 1/L0)
    j = int(np.searchsorted(res.t, exp.t_conv[0, 0]))
    assert exp.tail[0, 0] == res.singular_values[0, j, 1]
    assert not np.allclose(exp.problems[0].target.X, exp.problems[1].target.X)
    assert np.all(exp.converged) and np.all(exp.gamma > 0)
    assert np.all(exp.rho > 0) and np.all(exp.rho < 1)
    assert "sigma_r+1" in ch.summary(exp) and "heuristic" in ch.exponent_line(exp)


IDS = ["a4.converged", "a4.erank-small", "a4.tail-exponent", "a4.heuristic", "a4.tail-monotone", "a4.erank-large"]


def test_claims_and_glue(small_exp):
    claims = ch.claims(small_exp)
    assert [c.id for c in claims] == IDS
    assert all(c.basis in BASES and isinstance(c.measured, float) for c in claims)
    by = {c.id: c for c in claims}
    assert by["a4.tail-exponent"].n == 5 and by["a4.tail-exponent"].form == "scaling"
    assert by["a4.heuristic"].test == "overlaps" and by["a4.heuristic"].n == 5
    assert all(c.verdict in ("holds", "does not reproduce") for c in claims)
    values = ch.glue_values(small_exp)
    assert all(k.startswith("a4_") for k in values)
    assert not any(isinstance(x, np.generic) for x in values.values())


def test_heuristic_failure_is_documented_only_where_its_assumptions_fail(small_exp):
    exp = small_exp
    # rank 1 with a small leftover: a wrong heuristic would fail outright
    off = dataclasses.replace(exp, rho=exp.rho - 0.2)
    lead = float(np.max(exp.alphas[0] ** (1 - off.rho)))
    c = {c.id: c for c in ch.claims(off)}["a4.heuristic"]
    assert c.verdict == ("fails" if lead <= ch.LINEAR_MAX else "does not reproduce")
    # at rank 2 the same failure is documented with its reason
    c2 = {c.id: c for c in ch.claims(dataclasses.replace(off, r=2))}["a4.heuristic"]
    assert c2.verdict == "does not reproduce" and "one after the other" in c2.expected_failure


def test_claims_fail_on_doctored_inputs(small_exp):
    exp = small_exp
    erank = exp.erank.copy()
    erank[0, -2] = exp.r + 1
    assert {c.id: c for c in ch.claims(dataclasses.replace(exp, erank=erank))}["a4.erank-small"].verdict == "fails"
    tail = exp.tail.copy()
    tail[1, 2] = 2 * tail[1, 1]
    assert {c.id: c for c in ch.claims(dataclasses.replace(exp, tail=tail))}["a4.tail-monotone"].verdict == "fails"
    t_conv = exp.t_conv.copy()
    t_conv[2, 0] = -1
    assert {c.id: c for c in ch.claims(dataclasses.replace(exp, t_conv=t_conv))}["a4.converged"].verdict == "fails"


def test_figure_runs(small_exp):
    fig, axes = ch.plot_low_rank(small_exp, instance=1)
    assert len(axes) == 3
    with pytest.raises(ValueError, match="exp"):
        ch.plot_low_rank("nope")
    with pytest.raises(ValueError, match="instance"):
        ch.plot_low_rank(small_exp, instance=7)


def test_cost_by_hand_on_a_tiny_case():
    P = ops.config.merge("book", ch.PRESETS, **SMALL)     # 12 x 14, m 80, k 14, 5 instances x (3 + 1) runs, 400 steps
    c = ch.cost(P)
    runs = 5 * 4
    assert c.work == runs * 400 * 168 * (2 * 80 + 3 * 14)
    records = 400 // 5 + 1
    assert c.memory_bytes == 8 * (5 * 80 * 168 + runs * ((12 + 14) * 14 + records * (12 + 2 + 9)))
