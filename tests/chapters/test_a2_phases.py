"""Chapter a2_phases: parameters, escape slopes and hitting times, the claims and the figures."""

import matplotlib

matplotlib.use("Agg")  # tests only; the chapters keep the inline backend

import numpy as np
import pytest

import opsense as ops
from opsense.chapters import a2_phases as ch


@pytest.fixture(scope="module")
def small_problem():
    return ops.make_problem(8, 10, 2, 60, sigma=[1.0, 0.5], seed=3)


@pytest.fixture(scope="module")
def experiment():
    """The chapter at a small size (a fraction of a second)."""
    iters = ch._horizon(1e-9, 0.25, 0.5)   # the shortest horizon check accepts
    P = ops.configure(ch, "book", n1=12, n2=15, m=200, k=10, alphas=[1e-3, 1e-5, 1e-7, 1e-9], iters=iters)
    with pytest.raises(ValueError, match="^parameter iters"):
        ops.configure(ch, "book", n1=12, n2=15, m=200, k=10, alphas=[1e-3, 1e-5, 1e-7, 1e-9], iters=iters - 1)
    return ch.run(P)


# ---------------------------------------------------------------- parameters
@pytest.mark.parametrize("preset", sorted(ch.PRESETS))
def test_presets_pass_check(preset):
    P = ops.configure(ch, preset)
    assert P.seed == 0 and set(ch.PRESETS[preset]) == set(ch.PRESETS["book"])


@pytest.mark.parametrize("given, name", [
    (dict(r=1, sigma=[1.0]), "r"),
    (dict(n1=2), "r"),
    (dict(r=3), "sigma"),
    (dict(sigma=[0.5, 0.5]), "sigma"),
    (dict(sigma=[1.0, 0.0]), "sigma"),
    (dict(k=1), "k"),
    (dict(k=500_000), "k"),
    (dict(m=400_000), "m"),
    (dict(alphas=[1e-3]), "alphas"),
    (dict(alphas=[1e-3, 1e-3]), "alphas"),
    (dict(alphas=[0.5, 1e-3]), "alphas"),
    (dict(alphas=[1e-3, -1.0]), "alphas"),
    (dict(eta=1.0), "eta"),
    (dict(iters=200), "iters"),
    (dict(iters=3_000_000), "iters"),
    (dict(seed=-1), "seed"),
])
def test_check_names_the_bad_parameter(given, name):
    with pytest.raises(ValueError, match=rf"^parameter {name}\b"):
        ops.configure(ch, "book", **given)


# ---------------------------------------------------------------- escape times
def test_escape_slopes_values(small_problem):
    s = ch.escape_slopes(small_problem, eta=0.2)
    np.testing.assert_allclose(s.spectral, 1 / np.log1p(0.2 * small_problem.spectral_sigma[:2]))
    np.testing.assert_allclose(s.truth, 1 / np.log1p(0.2 * np.array([1.0, 0.5])))
    with pytest.raises(ValueError, match="eta"):
        ch.escape_slopes(small_problem, eta=-1.0)


def test_linearized_identity_on_identity_operator():
    """With A = identity, A*(y) = X*, and the proposition's identity for l_i^T X_t r_i is exact
    for the linearized recursion; GD itself follows it while X_t is tiny."""
    tgt = ops.low_rank_target(6, 5, 2, sigma=[1.0, 0.6], seed=1)
    pr = ops.Problem.from_parts(tgt, ops.SensingOperator.identity(6, 5))
    alpha, mu, k, T = 1e-8, 0.2, 4, 40
    U0, V0 = ops.initial_factors(6, 5, k, alpha, seed=2)
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
    res = ops.run_gd(pr, init=(U0, V0), eta=mu, iters=T, record_every=T)
    Xgd = res.U[0] @ res.V[0].T
    np.testing.assert_allclose(Xgd, Xlin, rtol=1e-6, atol=1e-12 * np.abs(Xlin).max())


def test_hitting_times_and_fits_follow_the_escape_law():
    pr = ops.make_problem(12, 15, 2, 150, sigma=[1.0, 0.5], seed=0)
    alphas = [1e-3, 1e-5, 1e-7, 1e-9]
    res = ops.run_gd(pr, k=10, alpha=alphas, eta=0.25, iters=220, seed=0, record_every=1)
    hits = ch.hitting_times(res, pr.target.sigma)
    assert hits.shape == (4, 2) and np.all(np.isfinite(hits))
    assert np.all(hits[:, 0] < hits[:, 1])
    fits = ch.escape_fits(alphas, hits)
    pred = ch.escape_slopes(pr, eta=0.25)
    assert fits[0].r2 > 0.999
    assert fits[0].slope == pytest.approx(pred.spectral[0], rel=0.1)
    # a level never reached gives NaN, and a fit without two finite times is all NaN
    never = ch.hitting_times(res, [1e3, 1e3])
    assert np.all(np.isnan(never))
    assert all(np.isnan(f.slope) for f in ch.escape_fits(alphas, never))
    t_half = ch.first_time(res.t, res.rel_error[0], 0.5)
    assert t_half == ops.hitting_time(res.t, res.rel_error[0], 0.5).time and res.rel_error[0, int(t_half)] <= 0.5
    assert np.isnan(ch.first_time(res.t, res.rel_error[0], 1e-30))


def test_hitting_times_validation():
    pr = ops.make_problem(5, 5, 1, 20, seed=0)
    res = ops.run_gd(pr, k=2, alpha=0.1, eta=0.1, iters=3, record_every=1)
    with pytest.raises(ValueError, match="result"):
        ch.hitting_times("x", [1.0])
    with pytest.raises(ValueError, match="sigma"):
        ch.hitting_times(res, [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="fraction"):
        ch.hitting_times(res, [1.0], fraction=2.0)
    with pytest.raises(ValueError, match="times"):
        ch.escape_fits([0.1, 0.01], np.zeros((3, 1)))


def test_two_stage_slope_limits_and_bracket():
    mu, s_early, s_true = 0.25, 0.75, 0.5
    b1 = 1 / np.log1p(mu * 1.1)
    # late rate = early rate: the plain law 1/ln(1 + mu s_early)
    assert ch.two_stage_slope(b1, eta=mu, sigma_early=s_early, sigma_late=s_early) == \
        pytest.approx(1 / np.log1p(mu * s_early))
    # late rate in [s_true, s_early] gives a slope in the bracket, decreasing in the late rate
    vals = [ch.two_stage_slope(b1, eta=mu, sigma_early=s_early, sigma_late=s) for s in (0.5, 0.6, 0.75)]
    assert vals[0] > vals[1] > vals[2]
    assert 1 / np.log1p(mu * s_early) - 1e-12 <= min(vals) and max(vals) <= 1 / np.log1p(mu * s_true) + 1e-12
    with pytest.raises(ValueError, match="sigma_late"):
        ch.two_stage_slope(b1, eta=mu, sigma_early=s_early, sigma_late=0.0)


# ---------------------------------------------------------------- the experiment, text, glue, claims, figures
def test_experiment_text_glue_and_claims(experiment):
    exp = experiment
    assert exp.hits.shape == (4, 2) and np.all(np.isfinite(exp.hits)) and exp.order_violations == 0
    assert exp.t_align < exp.t_half and exp.err_before_align > 0.9
    assert "leading singular values" in ch.describe(exp.problem, k=10, eta=0.25)
    assert "recorded at every step" in ch.timing(exp)
    assert ch.phases_summary(exp).startswith("alpha = 1e-09")
    assert len(ch.escape_summary(exp).splitlines()) == 1 + 4 + 2
    assert len(ch.rates_summary(exp).splitlines()) == 4
    values = ch.glue_values(exp)
    assert all(k.startswith("a2_") for k in values)
    assert all(type(x) in (int, float) for x in values.values())   # plain Python numbers for the prose
    claims = ch.claims(exp)
    assert [c.id for c in claims] == ["a2.alignment-first", "a2.phase1-growth", "a2.linear-fit", "a2.slope-1",
                                      "a2.slope-2", "a2.two-stage", "a2.incremental"]
    assert {c.basis for c in claims} <= {"theory", "derived-on-page", "specification", "identity"}
    assert all(isinstance(c.measured, float) for c in claims)
    assert all(c.holds for c in claims)


def test_figures_smoke(experiment):
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = ch.plot_phases(experiment)
    assert ax1.get_yscale() == "log" and ax2.get_xlim()[1] <= experiment.result.t[-1]
    plt.close(fig)
    fig, ax = ch.plot_escape(experiment)
    assert ax.get_xlabel() == "ln(1/α)"
    plt.close(fig)
    with pytest.raises(ValueError, match="exp"):
        ch.plot_phases(object())
    with pytest.raises(ValueError, match="directions"):
        ch.plot_escape(experiment, directions=3)


def test_nothing_raises_when_a_time_is_never_reached(experiment):
    """Times that are never reached are NaN: the claims fail, but the page still runs to the end."""
    import dataclasses

    import matplotlib.pyplot as plt

    nan = float("nan")
    hits = experiment.hits.copy()
    hits[-1, 1] = nan
    exp = dataclasses.replace(experiment, hits=hits, t_align=nan, err_at_align=nan, err_before_align=nan,
                              fits=ch.escape_fits(experiment.alphas[:1], hits[:1]), g1=nan, sigma_late=nan,
                              b2_two_stage=nan, ang_rate=nan)
    for text in (ch.phases_summary(exp), ch.escape_summary(exp), ch.rates_summary(exp)):
        assert "nan" in text
    values = ch.glue_values(exp)
    assert values["a2_t_align"] == -1 and values["a2_gap_min_alpha"] == -1
    verdicts = {c.id: c.verdict for c in ch.claims(exp)}
    assert verdicts["a2.alignment-first"] == verdicts["a2.slope-1"] == verdicts["a2.two-stage"] == "fails"
    for plot in (ch.plot_phases, ch.plot_escape):
        fig, _ = plot(exp)
        plt.close(fig)


# ----------------------------------------------------------------------------- the cost estimate




# ---------------------------------------------------------------- evaluate reproduces the committed notebook
