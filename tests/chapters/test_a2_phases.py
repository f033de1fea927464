"""Chapter a2_phases: parameters and regime, escape slopes and their tolerance, the local rate,
runs to a criterion, the claims and the figures."""

import dataclasses
import math
import re
import warnings

import matplotlib

matplotlib.use("Agg")  # tests only; the chapters keep the inline backend

import numpy as np
import pytest

import opsense as ops
from opsense.chapters import a2_phases as ch
from opsense.config import OutsideRegimeWarning

SMALL = dict(n1=12, n2=15, r=2, sigma=[1.0, 0.6], m=200, m_sweep=320, k=10, ks=[5], alphas=[1e-3, 1e-5, 1e-7, 1e-9],
             instances=5, iters=700)


@pytest.fixture(scope="module")
def small_problem():
    return ops.make_problem(8, 10, 2, 60, sigma=[1.0, 0.5], seed=3)


@pytest.fixture(scope="module")
def computed():
    """The chapter at a small size (outside the regime: fewer instances; a few seconds)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutsideRegimeWarning)
        P = ops.configure(ch, "book", **SMALL)
    exp = ch.run(P)
    return P, exp, ch.run_sweeps(P, exp)


# ---------------------------------------------------------------- parameters and regime
@pytest.mark.parametrize("preset", sorted(ch.PRESETS))
def test_presets_pass_check_inside_the_regime(preset):
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutsideRegimeWarning)
        P = ops.configure(ch, preset)
    assert P.seed == 0 and set(ch.PRESETS[preset]) == set(ch.PRESETS["book"])


@pytest.mark.parametrize("given, phrase", [
    (dict(m=800, m_sweep=1600), "m / (r (n1 + n2))"),
    (dict(instances=8), "instances >= 12"),
    (dict(sigma=[1.0, 0.5, 0.3]), "kappa"),
    (dict(eta=0.1), "eta sigma_1"),
    (dict(alphas=[1e-2, 1e-3, 1e-4, 1e-5]), "decades"),
    (dict(ks=[4, 60]), "2 r"),
])
def test_outside_the_regime_warns_and_names_the_condition(given, phrase):
    with pytest.warns(OutsideRegimeWarning, match=r"a2_phases.*" + re.escape(phrase)):
        ops.configure(ch, "book", **given)


@pytest.mark.parametrize("given, name", [
    (dict(r=1, sigma=[1.0]), "r"),
    (dict(n1=3), "r"),
    (dict(r=2), "sigma"),
    (dict(sigma=[0.5, 0.5, 0.4]), "sigma"),
    (dict(sigma=[1.0, 0.5, 0.0]), "sigma"),
    (dict(k=3), "k"),
    (dict(ks=[30]), "ks"),
    (dict(ks=[3]), "ks"),
    (dict(m=100), "m"),
    (dict(m_sweep=400), "m_sweep"),
    (dict(alphas=[1e-3, 1e-5]), "alphas"),
    (dict(alphas=[1e-3, 1e-3, 1e-5]), "alphas"),
    (dict(alphas=[0.5, 1e-3, 1e-5]), "alphas"),
    (dict(alphas=[1e-2, 5e-3, 1e-3 * 2]), "alphas"),
    (dict(eta=1.0), "eta"),
    (dict(instances=4), "instances"),
    (dict(instances=60_000), "instances"),
    (dict(iters=300), "iters"),
    (dict(iters=300_000_000), "iters"),
    (dict(seed=-1), "seed"),
])
def test_check_names_the_bad_parameter(given, name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutsideRegimeWarning)
        with pytest.raises(ValueError, match=rf"^parameter {name}\b"):
            ops.configure(ch, "book", **given)


# ---------------------------------------------------------------- predictions
def test_escape_slopes_values(small_problem):
    s = ch.escape_slopes(small_problem, eta=0.2)
    np.testing.assert_allclose(s.spectral, 1 / np.log1p(0.2 * small_problem.spectral_sigma[:2]))
    np.testing.assert_allclose(s.truth, 1 / np.log1p(0.2 * np.array([1.0, 0.5])))
    with pytest.raises(ValueError, match="eta"):
        ch.escape_slopes(small_problem, eta=-1.0)


def test_slope_tolerance_is_the_largest_slope_of_rounding_errors():
    alphas = [1e-2, 1e-4, 1e-6, 1e-8, 1e-10]
    tol = ch.slope_tolerance(alphas)
    x = np.log(1 / np.array(alphas))
    rng = np.random.default_rng(0)
    slopes = [np.polyfit(x, rng.random(x.size), 1)[0] for _ in range(2000)]
    assert max(abs(s) for s in slopes) <= tol
    # all errors 1 above the mean x and 0 below attain it
    assert np.polyfit(x, (x > x.mean()).astype(float), 1)[0] == pytest.approx(tol)
    assert tol == pytest.approx(1.2 / (x.max() - x.min()))   # 5 evenly spaced points: 1.2 over the range
    with pytest.raises(ValueError, match="alphas"):
        ch.slope_tolerance([1e-3, 1e-3])


def test_local_rate_identity_operator_and_sensing():
    tgt = ops.low_rank_target(6, 5, 2, sigma=[1.0, 0.6], seed=1)
    pr = ops.Problem.from_parts(tgt, ops.SensingOperator.identity(6, 5))
    rate, lam = ch.local_rate(pr, eta=0.2)
    assert lam == pytest.approx(0.6) and rate == pytest.approx(-math.log1p(-0.2 * 0.6))


def test_local_rate_is_the_contraction_of_gradient_descent_near_the_truth():
    """k = r, started next to the balanced factorization: the error contracts at the predicted rate."""
    pr = ops.make_problem(8, 10, 2, 80, sigma=[1.0, 0.7], seed=2)
    eta = 0.25
    rate, lam = ch.local_rate(pr, eta=eta)
    assert 0 < lam < 0.7 and 0 < rate < -math.log1p(-eta * 0.7)   # sensing lowers the curvature
    half = np.sqrt(pr.target.sigma)
    rng = np.random.default_rng(0)
    U0 = pr.target.U * half + 1e-3 * rng.standard_normal((8, 2))
    V0 = pr.target.V * half + 1e-3 * rng.standard_normal((10, 2))
    res = ops.run_gd(pr, init=(U0, V0), eta=eta, iters=1500, record_every=5)
    fitted = ch._level_rate(res.t.astype(float), res.rel_error[0], 1e-6, 1e-11)
    assert fitted == pytest.approx(rate, rel=0.02)


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
    assert fits[0].slope == pytest.approx(pred.spectral[0], abs=ch.slope_tolerance(alphas))
    never = ch.hitting_times(res, [1e3, 1e3])
    assert np.all(np.isnan(never))
    assert all(np.isnan(f.slope) for f in ch.escape_fits(alphas, never))
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
    assert ch.two_stage_slope(b1, eta=mu, sigma_early=s_early, sigma_late=s_early) == \
        pytest.approx(1 / np.log1p(mu * s_early))
    vals = [ch.two_stage_slope(b1, eta=mu, sigma_early=s_early, sigma_late=s) for s in (0.5, 0.6, 0.75)]
    assert vals[0] > vals[1] > vals[2]
    assert 1 / np.log1p(mu * s_early) - 1e-12 <= min(vals) and max(vals) <= 1 / np.log1p(mu * s_true) + 1e-12
    with pytest.raises(ValueError, match="sigma_late"):
        ch.two_stage_slope(b1, eta=mu, sigma_early=s_early, sigma_late=0.0)


# ---------------------------------------------------------------- runs to a criterion
def test_run_to_plateau_stops_at_the_floor_or_the_level():
    pr = ops.make_problem(12, 15, 2, 150, sigma=[1.0, 0.5], seed=1)
    rate = ch.local_rate(pr, eta=0.25)[0]
    chunk = int(math.ceil(math.log(10) / rate))
    runs = ch.run_to_plateau([pr, pr], k=10, alphas=[1e-4, 1e-6], seeds=[0, 0], eta=0.25, escape=150, chunk=chunk,
                             cap=3000, every=5)
    assert runs.stopped.all() and runs.steps < 3000
    assert runs.t[150] == 150 and np.all(np.diff(runs.t) > 0) and runs.rel_error.shape == (2, runs.t.size)
    assert runs.rel_error[0, -1] > runs.rel_error[1, -1] > 0     # the floor falls with alpha
    exact = ch.run_to_plateau([pr], k=2, alphas=1e-4, seeds=0, eta=0.25, escape=150, chunk=chunk, cap=3000,
                              level=1e-11)
    assert exact.stopped.all() and exact.rel_error[0, -1] <= 1e-11
    capped = ch.run_to_plateau([pr], k=10, alphas=1e-6, seeds=0, eta=0.25, escape=150, chunk=chunk, cap=160)
    assert capped.steps == 160 and not capped.stopped.any()


# ---------------------------------------------------------------- the experiment, text, glue, claims, figures
def test_experiment_text_glue_and_claims(computed):
    P, exp, sw = computed
    assert exp.hits.shape == (5, 4, 2) and np.all(np.isfinite(exp.hits)) and exp.order_violations == 0
    assert exp.floors.shape == (5, 4) and exp.floor_runs.stopped.all()
    assert np.all(exp.t_end < exp.t_half)
    assert "leading singular values" in ch.describe(exp.problems, k=10, eta=0.25)
    assert "instances" in ch.timing(exp, sw)
    assert ch.phases_summary(exp).startswith("alpha = 1e-09")
    assert "fitted / alternative" in ch.escape_summary(exp)
    assert len(ch.rates_summary(exp).splitlines()) == 4
    assert len(ch.floor_summary(exp).splitlines()) == 4 and len(ch.sweeps_summary(sw).splitlines()) == 4
    values = ch.glue_values(exp, sw)
    assert all(k.startswith("a2_") for k in values)
    assert all(type(x) in (int, float) for x in values.values())   # plain Python numbers for the prose
    claims = ch.claims(exp, sw)
    assert [c.id for c in claims] == [
        "a2.alignment-first", "a2.phase1-growth", "a2.linear-fit", "a2.slope-1", "a2.slope-1-alternative",
        "a2.slope-2", "a2.two-stage", "a2.incremental", "a2.incremental-gap", "a2.local-rate", "a2.floor-k", "a2.floor-alpha",
        "a2.floor-m", "a2.phase1-k"]
    assert {c.basis for c in claims} <= {"theory", "derived-on-page", "specification", "identity"}
    assert all(c.n is not None and c.n >= 5 for c in claims if c.id not in ("a2.linear-fit", "a2.incremental"))
    same = dataclasses.replace(exp, slopes=np.repeat(exp.slopes[:, :1], exp.slopes.shape[1], axis=1))
    assert {c.id: c.verdict for c in ch.claims(same, sw)}["a2.incremental-gap"] == "fails"   # no widening gap
    held = {c.id: c.verdict for c in claims}
    for cid in ("a2.slope-1", "a2.phase1-growth", "a2.local-rate", "a2.floor-k", "a2.floor-alpha", "a2.incremental"):
        assert held[cid] == "holds", cid


def test_the_slope_claims_discriminate_the_alternative(computed):
    """If the slopes followed the target's sigma_1, slope-1 and slope-1-alternative would both fail."""
    _, exp, sw = computed
    apart = dataclasses.replace(exp, alt=exp.pred * 1.15)   # the two predictions 15% apart, slopes on the first
    verdicts = {c.id: c.verdict for c in ch.claims(apart, sw)}
    assert verdicts["a2.slope-1"] == "holds" and verdicts["a2.slope-1-alternative"] == "holds"
    fake = dataclasses.replace(apart, slopes=exp.slopes * 1.15)   # slopes on the alternative instead
    verdicts = {c.id: c.verdict for c in ch.claims(fake, sw)}
    assert verdicts["a2.slope-1"] == "fails" and verdicts["a2.slope-1-alternative"] == "fails"
    # a slope off by twice the tolerance fails slope-1
    off = dataclasses.replace(exp, slopes=exp.slopes * (1 + 2 * exp.tol / exp.pred[:, :1].min()))
    assert {c.id: c.verdict for c in ch.claims(off, sw)}["a2.slope-1"] == "fails"


def test_the_floor_and_width_claims_can_fail(computed):
    _, exp, sw = computed
    flat = dataclasses.replace(exp, gamma=np.full_like(exp.gamma, -0.1))
    assert {c.id: c.verdict for c in ch.claims(flat, sw)}["a2.floor-alpha"] == "fails"
    swapped = dataclasses.replace(sw, gamma_m=sw.gamma_base * 0.8, t_align=sw.t_align[:, ::-1],
                                  err_exact=sw.floor_pair / 10, rate_exact=sw.rho * 1.2)
    v = {c.id: c.verdict for c in ch.claims(exp, swapped)}
    assert v["a2.floor-m"] == v["a2.floor-k"] == v["a2.local-rate"] == "fails"
    assert v["a2.phase1-k"] == "fails" or np.allclose(sw.t_align[:, 0], sw.t_align[:, -1])


def test_figures_smoke(computed):
    import matplotlib.pyplot as plt

    _, exp, sw = computed
    fig, (ax1, ax2) = ch.plot_phases(exp)
    assert ax1.get_yscale() == "log" and ax2.get_xlim()[1] <= exp.runs.t[-1]
    plt.close(fig)
    fig, (ax1, ax2) = ch.plot_escape(exp)
    assert ax1.get_xlabel() == "ln(1/α)"
    plt.close(fig)
    fig, (ax1, ax2) = ch.plot_floors(exp, sw)
    assert ax2.get_xscale() == "log"
    plt.close(fig)
    with pytest.raises(ValueError, match="exp"):
        ch.plot_phases(object())
    with pytest.raises(ValueError, match="instance"):
        ch.plot_phases(exp, instance=99)


def test_nothing_raises_when_a_time_is_never_reached(computed):
    """Times that are never reached are NaN: the claims fail, but the page still runs to the end."""
    import matplotlib.pyplot as plt

    _, exp, sw = computed
    nan = np.nan
    hits = exp.hits.copy()
    hits[:, -1, 1] = nan
    slopes = exp.slopes.copy()
    slopes[:, 1] = nan
    exp2 = dataclasses.replace(exp, hits=hits, slopes=slopes, t_end=np.full(exp.n, nan),
                               ang_spec_end=np.full(exp.n, nan), g1=np.full(exp.n, nan),
                               sigma_late=np.full(exp.n, nan), b2_two_stage=np.full(exp.n, nan))
    for text in (ch.phases_summary(exp2), ch.escape_summary(exp2), ch.rates_summary(exp2)):
        assert "nan" in text
    ch.glue_values(exp2, sw)
    verdicts = {c.id: c.verdict for c in ch.claims(exp2, sw)}
    assert verdicts["a2.alignment-first"] == verdicts["a2.phase1-growth"] == verdicts["a2.two-stage"] == "fails"
    for fig, _ in (ch.plot_phases(exp2), ch.plot_escape(exp2), ch.plot_floors(exp2, sw)):
        plt.close(fig)
