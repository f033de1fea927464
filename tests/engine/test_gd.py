"""Gradient descent engine: gradients, invariants, batching, determinism, known rates."""

import numpy as np
import pytest

import opsense as ops


def _loss_asym(problem, U, V):
    r = problem.operator.forward(U @ V.T) - problem.y
    return 0.5 * r @ r


def _loss_sym(problem, X):
    r = problem.operator.forward(X @ X.T) - problem.y
    return 0.25 * r @ r


def _fd_grad(f, Z, h=1e-6):
    g = np.zeros_like(Z)
    for idx in np.ndindex(Z.shape):
        e = np.zeros_like(Z)
        e[idx] = h
        g[idx] = (f(Z + e) - f(Z - e)) / (2 * h)
    return g


def _one_step(problem, init, eta, parameterization="asymmetric"):
    res = ops.run_gd(problem, init=init, eta=eta, iters=1, record_every=1, parameterization=parameterization)
    return res.U[0], res.V[0]


def test_asymmetric_gradient_matches_finite_differences():
    pr = ops.make_problem(5, 4, 2, 30, seed=0)
    rng = np.random.default_rng(1)
    U, V = rng.standard_normal((5, 3)), rng.standard_normal((4, 3))
    eta = 1e-3
    U1, V1 = _one_step(pr, (U, V), eta)
    gU, gV = (U - U1) / eta, (V - V1) / eta
    np.testing.assert_allclose(gU, _fd_grad(lambda Z: _loss_asym(pr, Z, V), U), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gV, _fd_grad(lambda Z: _loss_asym(pr, U, Z), V), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("operator", ["gaussian", "identity"])
def test_symmetric_gradient_matches_finite_differences(operator):
    pr = ops.make_problem(5, 5, 2, 30 if operator == "gaussian" else None, psd=True, operator=operator, seed=0)
    X = np.random.default_rng(2).standard_normal((5, 3))
    eta = 1e-3
    X1, _ = _one_step(pr, X, eta, "symmetric")
    np.testing.assert_allclose((X - X1) / eta, _fd_grad(lambda Z: _loss_sym(pr, Z), X), rtol=1e-6, atol=1e-8)


def test_nonsymmetric_operator_symmetric_parameterization_gradient():
    # a general (non-symmetric) operator on a PSD target: the gradient uses sym(D)
    tgt = ops.low_rank_target(4, 4, 1, psd=True, seed=0)
    op = ops.SensingOperator.gaussian(25, 4, 4, seed=9)
    pr = ops.Problem.from_parts(tgt, op)
    X = np.random.default_rng(3).standard_normal((4, 2))
    X1, _ = _one_step(pr, X, 1e-3, "symmetric")
    np.testing.assert_allclose((X - X1) / 1e-3, _fd_grad(lambda Z: _loss_sym(pr, Z), X), rtol=1e-6, atol=1e-8)


def test_exact_one_step_imbalance_identity():
    # Delta = U^T U - V^T V: the O(eta) cross terms cancel exactly, so
    # Delta_{t+1} = Delta_t + eta^2 (gU^T gU - gV^T gV), to 1e-12. (Issue #3 writes the
    # bracket with the opposite sign; expanding (U - eta gU)^T (U - eta gU) gives this one.)
    pr = ops.make_problem(6, 5, 2, 40, seed=4)
    U, V = ops.initial_factors(6, 5, 4, 0.5, init="imbalanced", seed=0)
    eta = 0.2
    for _ in range(5):
        U1, V1 = _one_step(pr, (U, V), eta)
        gU, gV = (U - U1) / eta, (V - V1) / eta
        predicted = (U.T @ U - V.T @ V) + eta ** 2 * (gU.T @ gU - gV.T @ gV)
        actual = U1.T @ U1 - V1.T @ V1
        assert np.max(np.abs(actual - predicted)) <= 1e-12 * max(1.0, np.max(np.abs(actual)))
        U, V = U1, V1


def test_batched_equals_single():
    pr = ops.make_problem(8, 7, 2, 60, seed=1)
    alphas, etas, seeds, ks = [0.1, 0.3, 0.2, 0.05], [0.1, 0.2, 0.15, 0.1], [0, 1, 2, 0], [2, 5, 3, 4]
    batch = ops.run_gd(pr, k=ks, alpha=alphas, eta=etas, seed=seeds, iters=300, init="imbalanced",
                      record_every=7)
    for b in range(4):
        one = ops.run_gd(pr, k=ks[b], alpha=alphas[b], eta=etas[b], seed=seeds[b], iters=300,
                        init="imbalanced", record_every=7)
        # the bounds documented in run_gd: 1e-12 of each curve's scale, 1e-9 for the imbalance
        for name in ("error", "loss", "imbalance_fro", "coupling", "singular_values", "angle_truth"):
            a, s = getattr(batch, name)[b], getattr(one, name)[0]
            scale = max(np.max(np.abs(s)), 1e-300)
            tol = 1e-9 if name == "imbalance_fro" else 1e-12
            assert np.max(np.abs(a[..., :s.shape[-1]] - s)) <= tol * scale, name
        np.testing.assert_allclose(batch.U[b, :, :ks[b]], one.U[0], rtol=1e-12, atol=1e-14)
        assert np.all(batch.U[b, :, ks[b]:] == 0)  # zero padding receives exactly zero gradient
        m = batch.member(b)
        assert m.U.shape == one.U.shape and m.error.shape == one.error.shape


def test_same_seed_bitwise_identical():
    pr = ops.make_problem(6, 6, 2, 50, seed=2)
    kw = dict(k=[3, 4], alpha=[0.1, 0.2], eta=0.1, iters=200, seed=7, record_every=5)
    a, b = ops.run_gd(pr, **kw), ops.run_gd(pr, **kw)
    assert np.array_equal(a.error, b.error) and np.array_equal(a.U, b.U) and np.array_equal(a.V, b.V)
    c = ops.run_gd(pr, **{**kw, "seed": 8})
    assert not np.array_equal(a.error, c.error)


def test_balanced_with_symmetric_operator_stays_exactly_symmetric():
    pr = ops.make_problem(7, 7, 2, 60, psd=True, seed=3)
    asym = ops.run_gd(pr, k=3, alpha=0.2, eta=0.1, iters=400, init="balanced", record_every=50)
    assert np.array_equal(asym.U, asym.V)
    assert np.all(asym.imbalance_fro == 0)
    # ... and it is exactly the symmetric parameterization's trajectory
    sym = ops.run_gd(pr, k=3, alpha=0.2, eta=0.1, iters=400, parameterization="symmetric", record_every=50)
    np.testing.assert_allclose(asym.error, sym.error, rtol=1e-12, atol=1e-15)


def test_diagonal_toy_rate_is_16_9_eta_alpha2():
    # Paper B's worst case: F0 = alpha I, G0 = alpha/3 I, Sigma = diag(1, 0); rate of ||FG^T - Sigma||_F^2.
    tgt = ops.LowRankTarget(np.diag([1.0, 0.0]), np.array([[1.0], [0.0]]), np.array([[1.0], [0.0]]),
                           np.array([1.0]), False)
    pr = ops.Problem.from_parts(tgt, ops.SensingOperator.identity(2, 2))
    eta = 0.1
    for alpha in (0.1, 0.2):
        iters = int(30 / (eta * alpha ** 2))
        res = ops.run_gd(pr, init=(alpha * np.eye(2), alpha / 3 * np.eye(2)), eta=eta, iters=iters,
                        record_every=max(1, iters // 400))
        fit = ops.fit_rate(res.t, res.error[0] ** 2, window=(iters / 2, iters), floor=1e-26)
        assert fit.estimate == pytest.approx(16 / 9 * eta * alpha ** 2, rel=0.01)
        assert fit.r2 > 0.999


@pytest.mark.parametrize("k", [3, 5])
def test_matrix_factorization_symmetric_tail_constant(k):
    # eta^2 t^2 ||XX^T - M||_F^2 -> (k - r)/4 for over-parameterized symmetric GD.
    pr = ops.make_problem(20, 20, 2, sigma=[1.0, 0.5], psd=True, operator="identity", seed=0)
    eta, T = 0.1, 100_000
    res = ops.run_gd(pr, k=k, alpha=0.1, eta=eta, iters=T, parameterization="symmetric", record_every=T)
    assert (eta * T) ** 2 * res.error[0, -1] ** 2 == pytest.approx((k - 2) / 4, rel=0.03)


def test_rebalance_keeps_product_and_lifts_smallest_singular_value():
    rng = np.random.default_rng(0)
    F, G = 1e-2 * rng.standard_normal((6, 3)), rng.standard_normal((5, 3))
    F2, G2 = ops.rebalance(F, G)
    np.testing.assert_allclose(F2 @ G2.T, F @ G.T, rtol=1e-12, atol=1e-15)
    beta = np.linalg.norm(F @ G.T, 2)
    np.testing.assert_allclose(np.linalg.svd(F2, compute_uv=False) ** 2, beta, rtol=1e-12)


def test_rebalance_trigger_from_data():
    pr = ops.make_problem(10, 10, 2, 120, seed=0)
    res = ops.run_gd(pr, k=4, alpha=[0.05, 0.1], eta=0.2, iters=1500, init="imbalanced", rebalance_tol=1e-2,
                    record_every=1)
    for b in range(2):
        t0 = res.rebalanced_at[b]
        assert t0 > 0
        i = np.searchsorted(res.t, t0)
        assert res.residual[b, i] <= 1e-2 < res.residual[b, i - 1]
        assert res.imbalance_op[b, i + 1] > 10 * res.imbalance_op[b, i]  # the step intensifies the imbalance
    vanilla = ops.run_gd(pr, k=4, alpha=0.05, eta=0.2, iters=1500, init="imbalanced", record_every=1500)
    assert res.error[0, -1] < 1e-3 * vanilla.error[0, -1]


def test_divergence_names_the_step_size():
    pr = ops.make_problem(6, 6, 2, 50, seed=0)
    with pytest.raises(ops.DivergenceError, match=r"eta=50.*eta <= "):
        ops.run_gd(pr, k=3, alpha=0.5, eta=50.0, iters=500)


@pytest.mark.parametrize("kwargs, name", [
    (dict(k=0, alpha=0.1, eta=0.1, iters=10), "k"),
    (dict(k=2, alpha=-1.0, eta=0.1, iters=10), "alpha"),
    (dict(k=2, alpha=0.1, eta=0.0, iters=10), "eta"),
    (dict(k=2, alpha=0.1, eta=0.1, iters=0), "iters"),
    (dict(k=2, alpha=0.1, eta=0.1, iters=10, record_every=0), "record_every"),
    (dict(k=2, alpha=0.1, eta=0.1, iters=10, parameterization="lifted"), "parameterization"),
    (dict(k=2, alpha=0.1, eta=0.1, iters=10, parameterization="symmetric"), "symmetric"),
    (dict(k=2, alpha=0.1, eta=0.1, iters=10, init="spectral"), "init"),
    (dict(k=[2, 3], alpha=[0.1, 0.2, 0.3], eta=0.1, iters=10), "sweeps"),
    (dict(k=2, alpha=0.1, eta=0.1, iters=10, rebalance_tol=2.0), "rebalance_tol"),
    (dict(k=2, alpha=0.1, eta=0.1, iters=10, rebalance_at=10), "rebalance_at"),
    (dict(init=(np.ones((6, 2)), np.ones((5, 2))), eta=0.1, iters=10), "init"),
    (dict(init=(np.full((6, 2), np.inf), np.ones((6, 2))), eta=0.1, iters=10), "init"),
    (dict(k=2.5, alpha=0.1, eta=0.1, iters=10), "k"),
    (dict(k=2, alpha=0.1, eta=0.1, iters=10, seed=-3), "seed"),
])
def test_run_gd_rejects_bad_input(kwargs, name):
    pr = ops.make_problem(6, 6, 2, 50, seed=0)
    with pytest.raises(ValueError, match=name):
        ops.run_gd(pr, **kwargs)


def test_run_gd_rejects_non_problem():
    with pytest.raises(ValueError, match="problem"):
        ops.run_gd(np.eye(3), k=1, alpha=0.1, eta=0.1, iters=1)


def test_initial_factors_convention():
    U, V = ops.initial_factors(400, 300, 50, 0.1, init="imbalanced", ratio=0.25, seed=0)
    # entries N(0, alpha^2/n1) and N(0, (ratio alpha)^2/n2): columns have squared norm ~ alpha^2
    assert np.mean(np.sum(U ** 2, axis=0)) == pytest.approx(0.01, rel=0.05)
    assert np.mean(np.sum(V ** 2, axis=0)) == pytest.approx(0.01 / 16, rel=0.05)
    U8, _ = ops.initial_factors(400, 300, 8, 0.1, seed=0)
    U4, _ = ops.initial_factors(400, 300, 4, 0.1, seed=0)
    assert np.array_equal(U8[:, :4], U4)  # nested columns
    B, C = ops.initial_factors(5, 5, 2, 1.0, init="balanced")
    assert np.array_equal(B, C)
    with pytest.raises(ValueError, match="ratio"):
        ops.initial_factors(5, 5, 2, 1.0, init="imbalanced", ratio=3.0)


def test_recorded_metrics_are_consistent():
    pr = ops.make_problem(8, 6, 2, 70, seed=5)
    res = ops.run_gd(pr, k=4, alpha=0.3, eta=0.1, iters=50, record_every=10, init="imbalanced")
    assert list(res.t) == [0, 10, 20, 30, 40, 50]
    U, V = res.U[0], res.V[0]
    X = U @ V.T
    np.testing.assert_allclose(res.error[0, -1], np.linalg.norm(X - pr.target.X), rtol=1e-12)
    np.testing.assert_allclose(res.singular_values[0, -1], np.linalg.svd(X, compute_uv=False)[:4], rtol=1e-10)
    np.testing.assert_allclose(res.imbalance_op[0, -1], np.linalg.norm(U.T @ U - V.T @ V, 2), rtol=1e-10)
    np.testing.assert_allclose(res.coupling[0, -1],
                               np.linalg.norm(pr.target.U.T @ U - pr.target.V.T @ V, 2), rtol=1e-10)
    np.testing.assert_allclose(res.loss[0, -1], _loss_asym(pr, U, V), rtol=1e-12)
    plus = np.linalg.norm((pr.target.U.T @ U + pr.target.V.T @ V), axis=1) / np.sqrt(2)
    np.testing.assert_allclose(res.lifted_plus[0, -1], plus, rtol=1e-12)
    # the sine of the angle lies in [0, 1]
    assert np.all((res.angle_truth >= 0) & (res.angle_truth <= 1 + 1e-12))


# ---------------------------------------------------------------- independent instances
def test_a_list_of_problems_batches_independent_instances_exactly():
    probs = [ops.make_problem(6, 5, 2, 60, kappa=2.0, seed=s) for s in (1, 2, 3)]
    batch = ops.run_gd(probs, k=4, alpha=0.1, eta=0.2, iters=150, seed=[0, 1, 2], record_every=10)
    assert batch.batch_size == 3
    for b, p in enumerate(probs):
        one = ops.run_gd(p, k=4, alpha=0.1, eta=0.2, iters=150, seed=b, record_every=10)
        for name in ("error", "rel_error", "loss", "residual", "coupling", "angle_truth", "angle_spectral"):
            np.testing.assert_allclose(getattr(batch, name)[b], getattr(one, name)[0], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(batch.U[b], one.U[0], rtol=1e-10, atol=1e-14)


def test_problems_sharing_one_operator_and_a_broadcast_problem_list():
    base = ops.make_problem(6, 5, 2, 60, seed=1)
    other = ops.Problem.from_parts(ops.low_rank_target(6, 5, 2, seed=9), base.operator)
    batch = ops.run_gd([base, other], k=3, alpha=[0.1, 0.05], eta=0.2, iters=60, record_every=20)
    solo = ops.run_gd(other, k=3, alpha=0.05, eta=0.2, iters=60, record_every=20)
    np.testing.assert_allclose(batch.error[1], solo.error[0], rtol=1e-10)
    sym = [ops.make_problem(5, 5, 1, 50, psd=True, seed=s) for s in (0, 1)]
    res = ops.run_gd(sym, k=2, alpha=0.1, eta=0.1, iters=40, parameterization="symmetric", record_every=20)
    assert res.error.shape == (2, 3)


def test_a_list_of_problems_is_validated():
    a = ops.make_problem(6, 5, 2, 60, seed=1)
    with pytest.raises(ValueError, match=r"problem\[1\]"):
        ops.run_gd([a, ops.make_problem(6, 5, 2, 70, seed=2)], k=3, alpha=0.1, eta=0.1, iters=5)
    with pytest.raises(ValueError, match="problem"):
        ops.run_gd([a, "x"], k=3, alpha=0.1, eta=0.1, iters=5)
    with pytest.raises(ValueError, match="sweeps must have equal lengths"):
        ops.run_gd([a, a, a], k=3, alpha=[0.1, 0.2], eta=0.1, iters=5)


def test_step_sizes_rule():
    problem_8x10 = ops.make_problem(8, 10, 2, 60, sigma=[1.0, 0.5], seed=3)
    alphas = [3.0, 1e-3]
    etas = ops.step_sizes(problem_8x10, k=6, alpha=alphas, seed=[0, 0], eta=0.25)
    U0, V0 = ops.initial_factors(8, 10, 6, 3.0, seed=0)
    L0 = np.linalg.norm(U0, 2) ** 2 + np.linalg.norm(V0, 2) ** 2 + problem_8x10.spectral_sigma[0]
    assert etas[0] == pytest.approx(1 / L0) and etas[0] < 0.25
    assert etas[1] == 0.25  # small alpha keeps eta
    with pytest.raises(ValueError, match="eta"):
        ops.step_sizes(problem_8x10, k=6, alpha=1.0, seed=0, eta=0.0)
    with pytest.raises(ValueError, match="sweeps"):
        ops.step_sizes(problem_8x10, k=[6, 6, 6], alpha=[1.0, 0.1], seed=0, eta=0.1)



def test_instances_times_conditions_store_each_operator_once_and_match_separate_batches():
    """G operators with R runs each (in any order): one stacked product, same curves as G batches of R runs."""
    probs = [ops.make_problem(6, 5, 1, 40, seed=s) for s in ops.instance_seeds(3, 3)]
    alphas = [0.1, 1e-3]
    order = [(i, a) for i in range(3) for a in alphas]
    order = [order[j] for j in (4, 0, 3, 1, 5, 2)]  # interleaved: runs of one operator are not adjacent
    seeds = [10 * i + j for j, (i, _) in enumerate(order)]
    joint = ops.run_gd([probs[i] for i, _ in order], k=4, alpha=[a for _, a in order], eta=0.2, iters=200,
                       seed=seeds)
    for j, (i, a) in enumerate(order):
        alone = ops.run_gd(probs[i], k=4, alpha=[a, a], eta=0.2, iters=200, seed=[seeds[j], seeds[j]])
        scale = np.max(alone.error[0])
        assert np.max(np.abs(joint.error[j] - alone.error[0])) <= 1e-12 * scale
        np.testing.assert_allclose(joint.U[j], alone.U[0], rtol=0, atol=1e-12 * np.max(np.abs(alone.U[0])))


def test_progress_is_reported_and_does_not_change_the_run(tmp_path, monkeypatch):
    from opsense.engine import progress as prog

    prob = ops.make_problem(6, 5, 1, 60, seed=0)
    calls = []
    ref = ops.run_gd(prob, k=2, alpha=0.1, eta=0.1, iters=200)
    res = ops.run_gd(prob, k=2, alpha=0.1, eta=0.1, iters=200, progress=lambda d, t: calls.append((d, t)))
    assert np.array_equal(ref.error, res.error)
    assert calls and calls[-1] == (200, 200) and all(t == 200 for _, t in calls)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    path = tmp_path / "progress"
    monkeypatch.setenv(prog.ENV, str(path))
    ops.run_gd(prob, k=2, alpha=0.1, eta=0.1, iters=50)
    assert path.read_text().splitlines()[-1] == "50 50"
    with pytest.raises(ValueError, match="progress must be a callable"):
        ops.run_gd(prob, k=2, alpha=0.1, eta=0.1, iters=5, progress="yes")


def test_progress_is_throttled():
    from opsense.engine.progress import Throttled

    seen = []
    th = Throttled(lambda d, t: seen.append(d), interval=3600)
    for d in range(10):
        th(d, 9)
    assert seen == [0, 9]  # the first call, then only the end


@pytest.mark.parametrize("parameterization,psd,m", [("asymmetric", False, 120), ("asymmetric", True, 150),
                                                    ("symmetric", True, 150), ("asymmetric", False, None)])
def test_the_single_run_loop_is_bitwise_the_batched_loop(parameterization, psd, m):
    """A lone run takes the 2-D loop with preallocated buffers; a pending rebalancing takes the batched
    loop: until the rebalancing step both record bitwise the same curves."""
    kw = {} if m else {"operator": "identity"}
    prob = ops.make_problem(8, 8, 2, m, psd=psd, seed=4, **kw)
    common = dict(k=3, alpha=0.2, eta=0.1, iters=200, parameterization=parameterization, seed=5, record_every=10)
    lone = ops.run_gd(prob, **common)
    if parameterization == "symmetric":  # no rebalancing there: a batch of two equal runs takes the batched loop
        pair = ops.run_gd(prob, **{**common, "seed": [5, 5]})
        assert np.array_equal(lone.error[0], pair.error[1]) and np.array_equal(lone.U[0], pair.U[1])
        return
    general = ops.run_gd(prob, rebalance_at=199, **common)
    before = general.t < 199
    for f in ("error", "residual", "loss", "singular_values", "imbalance_op", "coupling", "angle_truth",
              "lifted_plus"):
        assert np.array_equal(getattr(lone, f)[:, before], getattr(general, f)[:, before]), f


def test_metrics_not_asked_for_are_nan_and_the_others_unchanged():
    prob = ops.make_problem(8, 7, 2, 120, seed=0)
    full = ops.run_gd(prob, k=3, alpha=0.2, eta=0.1, iters=100)
    lean = ops.run_gd(prob, k=3, alpha=0.2, eta=0.1, iters=100, metrics=("singular_values",))
    assert np.array_equal(full.error, lean.error) and np.array_equal(full.residual, lean.residual)
    assert np.array_equal(full.singular_values, lean.singular_values)
    for f in ("loss", "imbalance_op", "imbalance_fro", "coupling", "angle_truth", "angle_spectral"):
        assert getattr(lean, f).shape == getattr(full, f).shape and np.isnan(getattr(lean, f)).all(), f
    assert lean.lifted_plus.shape == full.lifted_plus.shape and np.isnan(lean.lifted_plus).all()
    assert np.array_equal(full.U, lean.U) and lean.converged[0] == full.converged[0]
    with pytest.raises(ValueError, match="unknown metric 'angle'"):
        ops.run_gd(prob, k=3, alpha=0.2, eta=0.1, iters=5, metrics=("angle",))
    with pytest.raises(ValueError, match="metrics must be"):
        ops.run_gd(prob, k=3, alpha=0.2, eta=0.1, iters=5, metrics="loss")


def _dense_reference(prob, U, V, eta, iters, sym):
    """GD with the dense operator, written out: the error after every step."""
    A, y, Xs = prob.operator.matrix, prob.y, prob.target.X
    n1, n2 = Xs.shape
    errs = []
    for _ in range(iters):
        X = U @ (U if sym else V).T
        errs.append(np.linalg.norm(X - Xs))
        D = ((A @ X.ravel() - y) @ A).reshape(n1, n2)
        D = 0.5 * (D + D.T)
        if sym:
            U = U - eta * D @ U
        else:
            U, V = U - eta * D @ V, V - eta * D.T @ U
    return np.array(errs)


@pytest.mark.parametrize("parameterization", ["symmetric", "asymmetric"])
@pytest.mark.parametrize("B", [1, 3, 7])
def test_symmetric_operators_run_packed_and_match_the_dense_operator(parameterization, B):
    """A symmetric operator is applied in its packed form (half the bytes); the curves agree with GD on
    the dense operator to 1e-12 of their scale, alone, in small batches (matrix-vector products) and in
    large ones (one matrix-matrix product)."""
    from opsense.engine import gd

    sym = parameterization == "symmetric"
    prob = ops.make_problem(7, 7, 2, 160, psd=True, seed=2)
    seeds = list(range(B))
    res = ops.run_gd(prob, k=3, alpha=0.3, eta=0.2, iters=300, seed=seeds, record_every=1,
                     parameterization=parameterization)
    for b in seeds:
        U0, V0 = ops.initial_factors(7, 7, 3, 0.3, seed=b)
        ref = _dense_reference(prob, U0, V0, 0.2, 300, sym)
        assert np.max(np.abs(res.error[b, :300] - ref)) <= 1e-12 * ref.max()
    loop = gd._Loop([prob] * B, sym, B, 3)
    assert loop.packed and loop.A.shape == (160, 28)


def test_small_batches_sharing_an_operator_are_bitwise_the_runs_alone():
    from opsense.engine.gd import SMALL_BATCH

    prob = ops.make_problem(8, 7, 2, 90, seed=3)
    seeds = list(range(SMALL_BATCH))
    batch = ops.run_gd(prob, k=3, alpha=0.2, eta=0.1, iters=150, seed=seeds)
    for b in seeds:
        alone = ops.run_gd(prob, k=3, alpha=0.2, eta=0.1, iters=150, seed=b)
        assert np.array_equal(batch.error[b], alone.error[0]) and np.array_equal(batch.U[b], alone.U[0])
