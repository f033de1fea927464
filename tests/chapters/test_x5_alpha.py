"""Chapter x5_alpha: the Gauss-Newton edge, divergence as data, the parameter checks and the claims."""

import math
import warnings

import numpy as np
import pytest

import opsense as ops
from opsense.chapters import x5_alpha as ch

SMALL = dict(n=10, r=1, kappa=2.0, k_b=2, m_b=120, m_a=60, k_a=10, instances=3,
             alphas_rate=[0.3, 0.42, 2.4], alphas_floor=[1e-2, 1e-3, 1e-4], alphas_random=[1e-3, 1e-4])


def _small(**kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ops.config.OutsideRegimeWarning)
        return ops.configure(ch, "book", **{**SMALL, **kw})


def test_edge_curvature_is_the_top_eigenvalue_of_the_gauss_newton_matrix():
    prob = ops.make_problem(5, 4, 1, 40, seed=3)
    U0, V0 = ops.initial_factors(5, 4, 2, 1.0, init="imbalanced", seed=4)
    A = prob.operator.matrix
    cols = []
    for i in range(U0.size + V0.size):  # the Jacobian column by column
        e = np.zeros(U0.size + V0.size)
        e[i] = 1.0
        dU, dV = e[:U0.size].reshape(U0.shape), e[U0.size:].reshape(V0.shape)
        cols.append(A @ (dU @ V0.T + U0 @ dV.T).ravel())
    J = np.stack(cols, axis=1)
    exact = np.linalg.eigvalsh(J.T @ J)[-1]
    assert ch.edge_curvature(prob, U0, V0, iters=400) == pytest.approx(exact, rel=1e-8)
    # it scales like alpha^2 with the start
    assert ch.edge_curvature(prob, 2 * U0, 2 * V0, iters=400) == pytest.approx(4 * exact, rel=1e-8)


def test_divergence_is_recorded_as_data_never_raised_and_the_claims_are_built():
    P = _small(div_steps=4)
    # past the check, to keep the test short: alpha = 30 lies far beyond the threshold, shorter horizons
    P.alphas_rate, P.iters_rate, P.iters_floor = [0.3, 0.42, 2.4, 30.0], 700, 700
    inst = ch.problems(P)
    runs = ch.run_rates(P, inst)            # alpha = 30 diverges: NaN, not a traceback
    assert np.all(np.isnan(runs.rate[:, -1])) and np.all(np.isfinite(runs.rate[:, 0]))
    div = ch.run_divergence(P, inst)
    assert np.all(np.isfinite(div.alpha_div)) and np.all(div.bracket[:, 0] < div.bracket[:, 1])
    assert all("diverged" in msg for msg in div.messages)
    assert all(any(d for _, d, _ in rows) and any(not d for _, d, _ in rows) for rows in div.tests)
    fr = ch.run_floor(P, inst)
    claims = ch.claims(runs, div, fr)
    ids = {c.id for c in claims}
    assert {"x5.rate-alpha2", "x5.two-mode-law", "x5.divergence-above-edge", "x5.floor-rises"} <= ids
    assert all(c.verdict in ("holds", "does not reproduce", "fails") for c in claims)
    assert isinstance(ch.summary_rates(runs, div), str) and isinstance(ch.summary_floor(fr), str)


def test_horizons_and_checks_name_the_parameter():
    P = ops.configure(ch, "book")
    need = ch.horizons(P)["need"]
    assert P.iters_rate >= need["rate"] and P.iters_floor >= need["floor"] and P.iters_div >= need["div"]
    with pytest.raises(ValueError, match="parameter iters_rate "):
        ops.configure(ch, "book", iters_rate=100)
    with pytest.raises(ValueError, match="parameter iters_floor "):
        ops.configure(ch, "book", iters_floor=100)
    with pytest.raises(ValueError, match="parameter m_a "):
        ops.configure(ch, "book", m_a=400)          # m_a >= n^2: not paper A's regime
    with pytest.raises(ValueError, match="parameter m_b "):
        ops.configure(ch, "book", m_b=100)
    with pytest.raises(ValueError, match="parameter target "):
        ops.configure(ch, "book", target=2.0)
    with pytest.raises(ValueError, match="parameter div_hi "):
        ops.configure(ch, "book", div_lo=3.0, div_hi=2.0)
    with pytest.warns(ops.config.OutsideRegimeWarning, match="k_a >= n"):
        ops.configure(ch, "book", k_a=10)


def test_cost_is_positive_and_doubles_with_the_horizons():
    P = ops.config.merge("book", ch.PRESETS)
    Q = ops.config.merge("book", ch.PRESETS, iters_rate=2 * P.iters_rate, iters_floor=2 * P.iters_floor,
                         iters_div=2 * P.iters_div)
    assert ch.cost(Q).work / ch.cost(P).work == pytest.approx(2.0, rel=0.05)
    assert ch.cost(ops.config.merge("paper", ch.PRESETS)).work > ch.cost(P).work


def _rate_runs(rate, law, exact, opfac=None):
    I, A = rate.shape
    alphas = np.array([0.3, 0.42, 0.85, 1.2, 2.4])[:A]
    z = np.ones((I, A))
    return ch.RateRuns(alphas, rate, z, law, z, z, exact, z, [], 0.1, opfac)


def _divergence(ratio):
    I = len(ratio)
    edge = np.full(I, 2.8)
    return ch.Divergence(np.ones(I), edge, edge * np.asarray(ratio), np.ones((I, 2)), np.full(I, 5.0), [], [], 200)


def _floor_runs(hit, floor, gamma=0.6):
    alphas = np.array([10.0 ** (-e / 4) for e in range(3, 17)])
    I = hit.shape[0]
    return ch.FloorRuns(alphas, alphas[-3:], floor, floor[:, -3:], np.zeros(hit.shape, dtype=int), hit, 0.03, 1e-2,
                        0.5, np.full(I, 1.2), 0.1, [])


def _model(I=5, gamma=0.6, aeps=7e-3, c=0.6, rng=None):
    """Floors and times from the page's time-to-target model (plus a little instance noise)."""
    rng = np.random.default_rng(0) if rng is None else rng
    alphas = np.array([10.0 ** (-e / 4) for e in range(3, 17)])
    floor = np.empty((I, alphas.size))
    hit = np.empty((I, alphas.size))
    for i in range(I):
        ae = aeps * math.exp(0.1 * rng.standard_normal())
        F = 0.03 * (alphas / ae) ** gamma
        floor[i] = F
        esc = np.log(0.5 / alphas ** 2) / (2 * math.log1p(0.05))
        with np.errstate(invalid="ignore", divide="ignore"):
            ref = np.log(1.0 / (0.03 - F)) / (c * 0.05)
        hit[i] = np.where(F < 0.03, np.round((esc + ref) / 5) * 5, np.nan)
    return hit, floor


def test_rate_claims_on_synthetic_inputs():
    alphas = np.array([0.3, 0.42, 0.85, 1.2, 2.4])
    lam = 0.89 * alphas ** 2
    g2 = 0.5 * (np.sqrt(lam ** 2 + 1.0) - lam)
    law = np.tile(-2 * np.log1p(-0.1 * np.minimum(lam * 0.6, g2)), (5, 1))
    good = _rate_runs(0.55 * law * (1 + 0.01 * np.arange(5))[:, None], law, np.full(5, 0.055))
    div = _divergence([1.5, 1.55, 1.52, 1.6, 1.48])
    hit, floor = _model()
    by = {c.id: c for c in ch.claims(good, div, _floor_runs(hit, floor))}
    assert by["x5.two-mode-law"].verdict == "holds" and by["x5.rate-below-exact"].verdict == "holds"
    assert by["x5.rate-declines"].verdict == "holds" and by["x5.divergence-above-edge"].verdict == "holds"
    assert by["x5.divergence-at-edge"].verdict == "does not reproduce"
    # an unbroken alpha^2 law breaks the saturation and decline claims
    a2 = np.tile(0.07 * alphas ** 2, (5, 1)) * (1 + 0.01 * np.arange(5))[:, None]
    bad = {c.id: c for c in ch.claims(_rate_runs(a2, law, np.full(5, 0.055)), _divergence([0.8] * 5),
                                      _floor_runs(hit, floor))}
    assert bad["x5.rate-below-exact"].verdict == "fails" and bad["x5.rate-declines"].verdict == "fails"
    assert bad["x5.two-mode-law"].verdict == "fails" and bad["x5.divergence-above-edge"].verdict == "fails"


def test_two_mode_law_tolerance_is_the_operators_measured_spread():
    """The paired law ratio may stray from 1 as far as the operator's own factor differs between the two
    ends' late errors (never less than TOL_LAW); a ratio beyond that, or an unbroken alpha^2 law, fails."""
    alphas = np.array([0.3, 0.42, 0.85, 1.2, 2.4])
    law = np.tile(-2 * np.log1p(-0.1 * np.minimum(0.5 * alphas ** 2, 0.3)), (5, 1))
    opfac = np.full((5, 5), 0.45)
    opfac[:, -1] = 0.45 * np.array([1.10, 1.20, 1.15, 1.25, 1.05])   # spread 0.25
    div = _divergence([1.5] * 5)
    hit, floor = _model()
    fr = _floor_runs(hit, floor)

    def verdict(shift, op):
        rate = 0.6 * law.copy()
        rate[:, -1] *= shift * (1 + 0.005 * np.arange(5))
        runs = _rate_runs(rate, law, np.full(5, 1.0), op)
        return {c.id: c for c in ch.claims(runs, div, fr)}["x5.two-mode-law"]

    assert ch.law_tolerance(_rate_runs(0.6 * law, law, np.ones(5), opfac)) == pytest.approx(0.25)
    assert ch.law_tolerance(_rate_runs(0.6 * law, law, np.ones(5))) == ch.TOL_LAW    # not measured
    assert verdict(1.15, None).verdict == "fails"          # 1.15 is outside 1 +- 0.1 ...
    claim = verdict(1.15, opfac)
    assert claim.verdict == "holds" and claim.hi == pytest.approx(1.25)   # ... inside the measured spread
    assert verdict(1.4, opfac).verdict == "fails"          # beyond the operator's spread
    assert verdict(10.0, opfac).verdict == "fails"         # an unbroken alpha^2 law


def test_floor_and_tradeoff_on_the_model_and_against_smaller_is_better():
    hit, floor = _model()
    fr = _floor_runs(hit, floor)
    assert np.allclose(fr.gamma, 0.6) and np.all(fr.alpha_eps > 0)
    # alpha_eps interpolates the crossing: on a pure power law it is exact
    crossing = np.array([a for a in fr.alpha_eps])
    assert np.allclose(0.03 * (crossing / crossing) ** 0.6, 0.03)
    ratio = fr.alpha_best / fr.alpha_eps
    lo, hi = fr.best_window()
    assert np.all((ratio > lo) & (ratio < hi))
    slope = fr.left_slope() * math.log1p(0.05)
    assert np.all((slope > 0.6) & (slope < 1.05))  # escape at sigma_r, less the refinement's share
    runs = _rate_runs(np.ones((5, 5)), np.ones((5, 5)), np.full(5, 2.0))
    by = {c.id: c for c in ch.claims(runs, _divergence([1.5] * 5), fr)}
    for key in ("x5.u-left", "x5.left-branch-escape", "x5.best-below-crossing", "x5.floor-rises", "x5.floor-spread"):
        assert by[key].verdict == "holds", key
    # "smaller is always better": the time to target decreases all the way to the smallest scale
    flat = np.tile(np.linspace(400, 250, hit.shape[1]), (5, 1))
    bad = {c.id: c for c in ch.claims(runs, _divergence([1.5] * 5), _floor_runs(flat, floor))}
    assert bad["x5.u-left"].verdict == "fails" and bad["x5.best-below-crossing"].verdict == "fails"


def test_the_grid_is_extended_where_the_predicted_best_alpha_is_near_its_end():
    # the proposition's bound alpha_best >= exp(-1/c) alpha_eps, for every gamma
    for gamma in (0.05, 0.3, 1.0, 3.0):
        for c in (0.5, 1.0):
            assert (c / (c + gamma)) ** (1 / gamma) >= math.exp(-1 / c)
    assert ch.LOW_FACTOR == pytest.approx(math.exp(-2) * 10 ** (-1 / 8 - 1 / 2 - 1 / 2))
    # a low crossing: alpha_best lies at the grid's end, the left branch is not on the grid
    hit, floor = _model(gamma=0.3, aeps=4e-4)
    fr = _floor_runs(hit, floor)
    assert np.all(np.isnan(fr.left_slope()))
    need = fr.left_need()
    assert np.all(need < fr.alphas.min()) and np.allclose(need, ch.LOW_FACTOR * fr.alpha_eps)
    runs = _rate_runs(np.ones((5, 5)), np.ones((5, 5)), np.full(5, 2.0))
    by = {c.id: c for c in ch.claims(runs, _divergence([1.5] * 5), fr)}
    assert by["x5.left-branch-escape"].verdict == "fails"           # unresolved: never a silent pass
    # the extension (same model, quarter decades below the grid) resolves it
    ext = 1e-4 * 10.0 ** (-np.arange(1, ch.EXT_MAX + 1) / 4)
    esc = np.log(0.5 / ext ** 2) / (2 * math.log1p(0.05))
    h_ext = np.empty((5, ext.size))
    for i in range(5):
        F = floor[i, -1] * (ext / 1e-4) ** 0.3
        h_ext[i] = np.round((esc + np.log(1.0 / (0.03 - F)) / (0.6 * 0.05)) / 5) * 5
    fx = ch.FloorRuns(*[getattr(fr, f) for f in ("alphas", "alphas_random", "floor", "floor_random", "t_conv", "hit",
                                                 "target", "alpha_fit_max", "sigma_r", "sigma_hat", "eta", "results")],
                      np.tile(ext, (5, 1)), h_ext)
    assert np.all(fx.extended == ch.EXT_MAX) and fx.curve(0)[0].size == fr.alphas.size + ch.EXT_MAX
    assert np.all(fx.alpha_best <= 2e-4)  # at or next to the grid's end: the branch lies in the extension
    slope = fx.left_slope() * math.log1p(0.05)
    assert np.all((slope > 0.6) & (slope < 1.05))
    by = {c.id: c for c in ch.claims(runs, _divergence([1.5] * 5), fx)}
    assert by["x5.left-branch-escape"].verdict == "holds" and by["x5.u-left"].verdict == "holds"
