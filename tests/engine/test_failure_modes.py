"""Reliability of run_gd: per-iteration divergence checks that name the real cause, the
``converged`` flag, refusal of overflowing targets, and the documented batch-vs-solo bound."""

import re

import numpy as np
import pytest

import opsense as ops
from opsense.engine import gd


def _message(problem, **kw):
    with pytest.raises(ops.DivergenceError) as info:
        ops.run_gd(problem, **kw)
    return str(info.value)


def _iteration(msg):
    return int(re.search(r"diverged at iteration (\d+)", msg).group(1))


# ---------------------------------------------------------------- divergence: checked every iteration
def test_divergence_is_caught_between_record_steps():
    pr = ops.make_problem(10, 10, 2, 150, seed=0)
    msg = _message(pr, k=3, alpha=0.1, eta=5.0, iters=1000, record_every=1000)
    assert _iteration(msg) < 50  # not at the next record step (1000)
    assert "Likely cause: the step size" in msg and re.search(r"eta <= 0\.\d+ = 1/\(3\*sigma_1", msg)


def test_a_huge_initialization_blames_alpha_not_eta():
    pr = ops.make_problem(10, 10, 2, 150)
    msg = _message(pr, k=3, alpha=1e10, eta=0.1, iters=20)
    assert "Likely cause: the initialization scale (alpha)" in msg
    assert "step size eta=0.1 is within its safe bound" in msg
    assert _iteration(msg) == 0
    bound = float(re.search(r"use alpha <= (\d*\.?\d+(?:e[+-]?\d+)?)", msg).group(1))
    assert 0.1 < bound < 10  # sqrt(sigma_1 / (||U~||^2 + ||V~||^2)): alpha of order one is the limit
    ops.run_gd(pr, k=3, alpha=bound / 2, eta=0.1, iters=200)  # and below it the run is fine


def test_a_large_initialization_that_diverges_after_a_step_blames_alpha():
    pr = ops.make_problem(10, 10, 2, 150)
    msg = _message(pr, k=3, alpha=30.0, eta=0.1, iters=100, record_every=100)
    assert 0 < _iteration(msg) < 100
    assert "initialization scale (alpha)" in msg and "Likely cause: the step size" not in msg


def test_user_supplied_factors_that_are_too_large_are_named():
    pr = ops.make_problem(6, 6, 2, 50, seed=0)
    msg = _message(pr, init=(1e4 * np.ones((6, 2)), 1e4 * np.ones((6, 2))), eta=0.1, iters=5)
    assert "initialization scale" in msg and "scale the initial factors by at most" in msg


def test_a_huge_target_blames_sigma():
    pr = ops.make_problem(10, 10, 2, 150, sigma=[1e200, 1e200])
    msg = _message(pr, k=3, alpha=0.1, eta=0.1, iters=20)
    assert "Likely cause: the target scale (sigma)" in msg
    assert "initialization scale" not in msg and "Likely cause: the step size" not in msg


def test_the_step_size_is_blamed_when_only_it_is_too_large():
    pr = ops.make_problem(6, 6, 2, 50, seed=0)
    msg = _message(pr, k=3, alpha=0.5, eta=50.0, iters=500)
    assert "Likely cause: the step size" in msg and "is within its safe bound sigma_1" in msg


def test_the_check_in_a_batch_names_the_diverging_run():
    pr = ops.make_problem(8, 8, 2, 100, seed=1)
    msg = _message(pr, k=3, alpha=[0.1, 0.1, 0.1], eta=[0.1, 4.0, 0.2], iters=300, record_every=300)
    assert "run 1: eta=4" in msg


def test_the_per_iteration_check_uses_no_extra_operator_products(monkeypatch):
    calls = {"residual": 0, "adjoint": 0}
    for name in calls:
        orig = getattr(gd._Loop, name)

        def counted(self, x, _orig=orig, _name=name):
            calls[_name] += 1
            return _orig(self, x)
        monkeypatch.setattr(gd._Loop, name, counted)
    pr = ops.make_problem(6, 6, 2, 50, seed=0)
    ops.run_gd(pr, k=3, alpha=[0.1, 0.2], eta=0.1, iters=40, record_every=7)   # the batched loop
    assert calls == {"residual": 41, "adjoint": 40}


class _CountingMatrix(np.ndarray):
    """An operator matrix that counts the matrix products it takes part in."""

    products = 0

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        if ufunc is np.matmul:
            type(self).products += 1
        inputs = tuple(np.asarray(x) if isinstance(x, _CountingMatrix) else x for x in inputs)
        if out is not None:
            out = tuple(np.asarray(x) if isinstance(x, _CountingMatrix) else x for x in out)
            kwargs["out"] = out
        return getattr(ufunc, method)(*inputs, **kwargs)


def test_the_lone_run_loop_applies_the_operator_twice_per_step():
    pr = ops.make_problem(6, 6, 2, 50, seed=0)
    pr.operator.matrix = pr.operator.matrix.view(_CountingMatrix)
    _CountingMatrix.products = 0
    ops.run_gd(pr, k=3, alpha=0.1, eta=0.1, iters=40, record_every=7)
    assert _CountingMatrix.products == 41 + 40   # forward at t = 0..40, adjoint at t = 0..39


def test_recording_and_checking_do_not_change_the_trajectory():
    pr = ops.make_problem(8, 7, 2, 60, seed=1)
    kw = dict(k=4, alpha=0.1, eta=0.2, iters=120, init="imbalanced")
    a, b = ops.run_gd(pr, record_every=1, **kw), ops.run_gd(pr, record_every=120, **kw)
    assert np.array_equal(a.U, b.U) and np.array_equal(a.V, b.V)
    assert np.array_equal(a.error[:, ::120], b.error)


# ---------------------------------------------------------------- targets that overflow are refused
@pytest.mark.parametrize("call", [
    lambda: ops.low_rank_target(10, 10, 2, sigma=[1.7e308, 1.7e308]),
    lambda: ops.make_problem(10, 10, 2, 150, sigma=[1.7e308, 1.7e308]),
    lambda: ops.make_problem(10, 10, 2, 150, sigma=[1e308, 1e308]),   # X* finite, ||y|| overflows
    lambda: ops.make_problem(10, 10, 2, sigma=[1.7e308, 1.7e308], operator="identity"),
])
def test_an_overflowing_sigma_is_refused_naming_sigma(call):
    with pytest.raises(ValueError, match="sigma is too large"):
        call()


def test_a_huge_but_representable_sigma_still_builds():
    pr = ops.make_problem(10, 10, 2, 150, sigma=[1e200, 1e200])
    assert np.all(np.isfinite(pr.y)) and np.isfinite(pr.spectral_sigma[0])


# ---------------------------------------------------------------- the converged flag
def test_converged_flag_true_false_and_backward_compatible():
    pr = ops.make_problem(10, 10, 2, 150)
    res = ops.run_gd(pr, k=2, alpha=0.1, eta=[0.2, 0.9, 0.2], iters=[1000][0], record_every=100)
    assert res.converged.dtype == bool and res.converged.shape == (3,)
    assert res.converged[0] and not res.converged[1]      # eta = 0.9 oscillates: neither converged nor diverged
    assert np.all(np.isfinite(res.error[1])) and res.residual[1, -1] > 0.1
    short = ops.run_gd(pr, k=2, alpha=0.1, eta=0.2, iters=20)
    assert not short.converged[0]                        # too few iterations
    loose = ops.run_gd(pr, k=2, alpha=0.1, eta=0.2, iters=20, tol=0.99)
    assert loose.converged[0]
    assert np.array_equal(res.converged, res.residual[:, -1] <= 1e-6)  # the default tol
    assert res.member(1).converged.tolist() == [False]


def test_gdresult_built_without_converged_gets_the_default():
    res = ops.run_gd(ops.make_problem(6, 6, 2, 50), k=2, alpha=0.1, eta=0.2, iters=10)
    from dataclasses import fields
    kw = {f.name: getattr(res, f.name) for f in fields(res) if f.name != "converged"}
    assert np.array_equal(ops.GDResult(**kw).converged, res.residual[:, -1] <= 1e-6)


@pytest.mark.parametrize("tol", [0.0, -1e-3, float("nan"), float("inf"), "1e-6", None])
def test_tol_is_validated(tol):
    with pytest.raises(ValueError, match="tol"):
        ops.run_gd(ops.make_problem(6, 6, 2, 50), k=2, alpha=0.1, eta=0.2, iters=10, tol=tol)


# ---------------------------------------------------------------- batch vs solo: the documented bound
def test_batch_matches_solo_within_the_documented_bound():
    pr = ops.make_problem(14, 12, 2, 200, seed=2)
    ks, alphas, etas = [2, 4, 6], [0.01, 0.1, 0.05], [0.2, 0.15, 0.25]
    batch = ops.run_gd(pr, k=ks, alpha=alphas, eta=etas, seed=[0, 1, 2], iters=600, init="imbalanced",
                       record_every=10)
    for b in range(3):
        one = ops.run_gd(pr, k=ks[b], alpha=alphas[b], eta=etas[b], seed=b, iters=600, init="imbalanced",
                         record_every=10)
        for name, scale_tol, point_tol in (("error", 1e-12, 1e-9), ("residual", 1e-12, 1e-9),
                                           ("imbalance_op", 1e-9, 1e-9), ("imbalance_fro", 1e-9, 1e-9)):
            a, s = getattr(batch, name)[b], getattr(one, name)[0]
            scale = np.max(np.abs(s))
            assert np.max(np.abs(a - s)) <= scale_tol * scale, name
            # pointwise the deviation is that absolute rounding: relative to the value it grows
            # as a curve decays, so check it only where the curve is above 1e-6 of its scale
            big = np.abs(s) > 1e-6 * scale
            assert np.all(np.abs(a - s)[big] <= point_tol * np.abs(s)[big]), name
