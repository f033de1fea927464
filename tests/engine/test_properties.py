"""Property-based tests of the engine (hypothesis).

(a) Invalid arguments to the public constructors and to run_gd raise ValueError (or
    TypeError), never anything else, and the message names the offending argument.
(b) Valid small problems satisfy the adjoint identity <A(X), z> = <X, A*(z)> and the
    exact one-step imbalance increment, both to 1e-10 relative.
"""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import opsense as ops

FAST = settings(max_examples=50, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------------------- invalid values
# (ragged sequences such as [[1, 2], [3]] are left out here: see test_a_ragged_value_is_named)
NON_NUMBERS = st.sampled_from(["3", "", None, b"2", {}, object(), {1: 2}, (), [], [[1.0]], [["a"]]])
BAD_FLOATS = st.sampled_from([math.nan, math.inf, -math.inf, True, False, 1 + 2j])
NON_POSITIVE = st.one_of(st.floats(max_value=0.0, allow_nan=False, allow_infinity=False),
                         st.integers(max_value=0))
BAD_SIZE = st.one_of(st.integers(max_value=0), st.floats(allow_nan=True, allow_infinity=True),
                     BAD_FLOATS, NON_NUMBERS, st.just(np.float64(3.0)))
BAD_SCALE = st.one_of(NON_POSITIVE, BAD_FLOATS, NON_NUMBERS)
BAD_SEED = st.one_of(st.integers(max_value=-1), st.floats(allow_nan=True), BAD_FLOATS, NON_NUMBERS)
BAD_BOOL = st.sampled_from([0, 1, "yes", None, np.bool_(True), 1.0])
BAD_CHOICE = st.one_of(st.text(max_size=8), st.integers(), st.none())


def _raises_naming(name, call):
    """``call()`` raises ValueError or TypeError whose message names ``name``."""
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert name in str(info.value), f"message does not name {name!r}: {info.value}"


def _not_choice(allowed):
    return BAD_CHOICE.filter(lambda x: x not in allowed)


@FAST
@given(data=st.data(), which=st.sampled_from(["m", "n1", "n2", "seed", "symmetric"]))
def test_gaussian_operator_rejects_invalid_arguments(data, which):
    kw = dict(m=5, n1=3, n2=3, symmetric=False, seed=0)
    kw[which] = data.draw({"seed": BAD_SEED, "symmetric": BAD_BOOL}.get(which, BAD_SIZE), label=which)
    _raises_naming(which, lambda: ops.SensingOperator.gaussian(kw["m"], kw["n1"], kw["n2"],
                                                                symmetric=kw["symmetric"], seed=kw["seed"]))


BAD_MATRIX = st.one_of(
    st.tuples(st.integers(1, 4), st.integers(1, 12)).filter(lambda s: s[1] != 6).map(lambda s: np.ones(s)),
    st.integers(1, 4).map(lambda m: np.zeros((m, 6))),                     # all zero
    st.integers(0, 0).map(lambda m: np.ones((m, 6))),                      # no rows
    st.sampled_from([math.nan, math.inf, -math.inf]).map(lambda x: np.full((2, 6), x)),
    st.just(np.ones((2, 6)) * (1 + 1j)), st.just(np.ones(6)), st.just(np.ones((1, 2, 6))),
    NON_NUMBERS, st.just("abc"),
)


@FAST
@given(data=st.data(), which=st.sampled_from(["matrix", "n1", "n2"]))
def test_from_matrix_rejects_invalid_arguments(data, which):
    kw = dict(matrix=np.arange(1.0, 13.0).reshape(2, 6), n1=2, n2=3)
    kw[which] = data.draw(BAD_MATRIX if which == "matrix" else BAD_SIZE, label=which)
    _raises_naming(which, lambda: ops.SensingOperator.from_matrix(kw["matrix"], kw["n1"], kw["n2"]))


BAD_SIGMA = st.one_of(
    st.lists(st.floats(0.1, 10), min_size=0, max_size=5).filter(lambda s: len(s) != 2),   # wrong length
    st.tuples(st.floats(allow_nan=True, allow_infinity=True), st.floats(max_value=0.0)).map(list),
    st.tuples(st.sampled_from([math.nan, math.inf, -math.inf]), st.floats(0.1, 1)).map(list),
    st.just([1.7e308, 1.7e308]), st.just([[1.0, 1.0]]), st.just(np.ones((2, 2))),        # overflow, shape
    NON_NUMBERS.filter(lambda x: x is not None), st.just([1.0, 1.0 + 1j]),
)
BAD_KAPPA = st.one_of(st.floats(max_value=0.999999, allow_nan=False), BAD_FLOATS, NON_NUMBERS.filter(
    lambda x: x is not None))
TARGET_ARGS = ["n1", "n2", "r", "sigma", "kappa", "psd", "seed"]


def _target_kw(data, which, extra=()):
    kw = dict(n1=4, n2=4, r=2, sigma=None, kappa=None, psd=False, seed=0)
    strategies = {"sigma": BAD_SIGMA, "kappa": BAD_KAPPA, "psd": BAD_BOOL, "seed": BAD_SEED,
                  "r": st.one_of(BAD_SIZE, st.integers(5, 100)), **dict(extra)}
    kw[which] = data.draw(strategies.get(which, BAD_SIZE), label=which)
    return kw


@FAST
@given(data=st.data(), which=st.sampled_from(TARGET_ARGS))
def test_low_rank_target_rejects_invalid_arguments(data, which):
    kw = _target_kw(data, which)
    _raises_naming(which, lambda: ops.low_rank_target(kw.pop("n1"), kw.pop("n2"), kw.pop("r"), **kw))


@FAST
@given(data=st.data(), which=st.sampled_from(TARGET_ARGS + ["m", "operator"]))
def test_make_problem_rejects_invalid_arguments(data, which):
    kw = _target_kw(data, which, extra={"m": st.one_of(BAD_SIZE.filter(lambda x: x is not None)),
                                        "operator": _not_choice(("gaussian", "identity"))}.items())
    kw.setdefault("m", 20)
    kw.setdefault("operator", "gaussian")
    _raises_naming(which, lambda: ops.make_problem(kw.pop("n1"), kw.pop("n2"), kw.pop("r"), kw.pop("m"), **kw))


@FAST
@given(data=st.data(), which=st.sampled_from(["n1", "n2", "k", "alpha", "init", "ratio", "seed"]))
def test_initial_factors_rejects_invalid_arguments(data, which):
    kw = dict(n1=4, n2=3, k=2, alpha=0.1, init="random", ratio=0.5, seed=0)
    strategies = {"alpha": st.one_of(BAD_SCALE, st.just(1e200)), "ratio": st.one_of(BAD_SCALE, st.floats(1.001, 1e6)),
                  "init": _not_choice(("random", "imbalanced", "balanced")), "seed": BAD_SEED}
    kw[which] = data.draw(strategies.get(which, BAD_SIZE), label=which)
    _raises_naming(which, lambda: ops.initial_factors(kw.pop("n1"), kw.pop("n2"), kw.pop("k"), kw.pop("alpha"),
                                                      **kw))


PROBLEM = ops.make_problem(5, 4, 2, 30, seed=0)
RUN_ARGS = ["k", "alpha", "eta", "iters", "record_every", "seed", "ratio", "tol", "rebalance_tol",
            "rebalance_at", "parameterization", "init"]
BAD_INIT = st.one_of(
    _not_choice(("random", "imbalanced", "balanced")),
    st.tuples(st.integers(1, 7), st.integers(1, 7)).filter(lambda s: s != (5, 2)).map(
        lambda s: (np.ones(s), np.ones((4, 2)))),
    st.sampled_from([math.nan, math.inf]).map(lambda x: (np.full((5, 2), x), np.ones((4, 2)))),
    st.just((np.ones((5, 2)), np.ones((4, 3)))), st.just(np.ones((5, 2))), st.just((np.ones((5, 2)),)),
)


@FAST
@given(data=st.data(), which=st.sampled_from(RUN_ARGS))
def test_run_gd_rejects_invalid_arguments(data, which):
    kw = dict(k=3, alpha=0.1, eta=0.1, iters=3, record_every=1, seed=0, ratio=0.5, tol=1e-6,
              parameterization="asymmetric", init="imbalanced")
    as_sweep = data.draw(st.booleans(), label="as a one-element sweep")
    strategies = {
        "k": BAD_SIZE, "iters": BAD_SIZE, "record_every": BAD_SIZE, "seed": BAD_SEED,
        "alpha": BAD_SCALE, "eta": BAD_SCALE, "tol": BAD_SCALE, "ratio": BAD_SCALE,
        "rebalance_tol": st.one_of(BAD_SCALE, st.floats(1.0, 1e6)).filter(lambda x: x is not None),
        "rebalance_at": st.one_of(st.integers(max_value=-1), st.integers(3, 10 ** 6), BAD_FLOATS, NON_NUMBERS.filter(
            lambda x: x is not None)),
        "parameterization": _not_choice(("asymmetric", "symmetric")), "init": BAD_INIT,
    }
    value = data.draw(strategies[which], label=which)
    if as_sweep and which in ("k", "alpha", "eta", "seed") and np.ndim(value) == 0 and value is not None:
        value = [value]
    kw[which] = value
    _raises_naming(which, lambda: ops.run_gd(PROBLEM, **kw))


@pytest.mark.parametrize("name, call", [
    ("alpha", lambda: ops.run_gd(PROBLEM, k=3, alpha=[[1], [1, 2]], eta=0.1, iters=2)),
    ("sigma", lambda: ops.low_rank_target(4, 4, 2, sigma=[[1, 2], [3]])),
    ("matrix", lambda: ops.SensingOperator.from_matrix([[1, 2], [3]], 1, 2)),
])
def test_a_ragged_value_is_named(name, call):
    _raises_naming(name, call)


# ---------------------------------------------------------------------------- valid problems
SIZES = st.tuples(st.integers(1, 6), st.integers(1, 6))


@st.composite
def operators(draw):
    n1, n2 = draw(SIZES)
    kind = draw(st.sampled_from(["gaussian", "symmetric", "identity", "matrix"]))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    if kind == "symmetric":
        n2 = n1
        return ops.SensingOperator.gaussian(draw(st.integers(1, 40)), n1, n1, symmetric=True, seed=seed)
    if kind == "identity":
        return ops.SensingOperator.identity(n1, n2)
    if kind == "matrix":
        a = np.random.default_rng(seed).standard_normal((draw(st.integers(1, 40)), n1 * n2))
        a *= draw(st.floats(1e-3, 1e3))
        return ops.SensingOperator.from_matrix(a, n1, n2)
    return ops.SensingOperator.gaussian(draw(st.integers(1, 40)), n1, n2, seed=seed)


@FAST
@given(op=operators(), seed=st.integers(0, 2 ** 32 - 1), scale=st.floats(1e-6, 1e6))
def test_adjoint_identity(op, seed, scale):
    rng = np.random.default_rng(seed)
    X = scale * rng.standard_normal(op.shape)
    z = rng.standard_normal(op.m)
    AX, Az = op.forward(X), op.adjoint(z)
    lhs, rhs = float(AX @ z), float(np.sum(X * Az))
    bound = np.linalg.norm(AX) * np.linalg.norm(z) + np.linalg.norm(X) * np.linalg.norm(Az)  # >= |lhs|, |rhs|
    assert abs(lhs - rhs) <= 1e-10 * bound
    # the stacked forms agree with the single ones
    np.testing.assert_allclose(op.forward(X[None])[0], AX, rtol=1e-12, atol=1e-12 * np.abs(AX).max(initial=0))
    np.testing.assert_allclose(op.adjoint(z[None])[0], Az, rtol=1e-12, atol=1e-12 * np.abs(Az).max(initial=0))


@st.composite
def small_problems(draw):
    n1, n2 = draw(SIZES)
    r = draw(st.integers(1, min(n1, n2)))
    m = draw(st.integers(1, 40))
    kappa = draw(st.floats(1.0, 10.0))
    return ops.make_problem(n1, n2, r, m, kappa=kappa, seed=draw(st.integers(0, 2 ** 32 - 1)))


@FAST
@given(pr=small_problems(), k=st.integers(1, 4), seed=st.integers(0, 2 ** 32 - 1),
       scale=st.floats(0.05, 1.0), eta=st.floats(1e-3, 0.3))
def test_one_step_imbalance_increment_is_exact(pr, k, seed, scale, eta):
    n1, n2 = pr.target.shape
    rng = np.random.default_rng(seed)
    U, V = scale * rng.standard_normal((n1, k)), scale * rng.standard_normal((n2, k))
    res = ops.run_gd(pr, init=(U, V), eta=eta, iters=1, record_every=1)
    before, after = ops.imbalance(U, V), ops.imbalance(res.U[0], res.V[0])
    predicted = ops.imbalance_increment(pr, U, V, eta=eta)
    # relative to the size of the terms: Delta_t, Delta_{t+1} and the increment itself
    size = np.abs(before).max() + np.abs(after).max() + np.abs(predicted).max()
    assume(size > 0)
    assert np.abs((after - before) - predicted).max() <= 1e-10 * size
