"""The RIP chapter (opsense.chapters.rip): the isometry ratios over instances, the isometry constant,
the check, the claims, the figure."""

import dataclasses

import numpy as np
import pytest

import opsense as ops
from opsense.chapters import rip
from opsense.chapters.rip import gordon_bound, isometry_ratios, random_low_rank, rip_constant
from opsense.config import OutsideRegimeWarning


def test_shapes_sorting_and_determinism():
    a = isometry_ratios([200, 50], 8, 6, 2, trials=40, operators=3, seed=3)
    b = isometry_ratios([50, 200], 8, 6, 2, trials=40, operators=3, seed=3)
    assert a.ratios.shape == (3, 2, 40) and a.trials == 40 and a.instances == 3 and a.shape == (8, 6)
    assert a.delta_plus.shape == (3, 2) and a.mean().shape == (3, 2) and a.predicted_std().shape == (2,)
    assert a.m_values.tolist() == [50, 200]
    np.testing.assert_array_equal(a.ratios, b.ratios)
    c = isometry_ratios([50, 200], 8, 6, 2, trials=40, operators=3, seed=4)
    assert not np.allclose(a.ratios, c.ratios)
    # the instances are independent: other matrices and other operators
    assert not np.allclose(a.ratios[0], a.ratios[1])


def test_chi_square_law_of_the_ratio():
    res = isometry_ratios([30, 120, 480], 10, 12, 2, trials=2000, operators=3, seed=0)
    # mean 1 (E A*A = I) within 5 standard errors; std sqrt(2/m) within 10 %
    se = np.sqrt(2 / res.m_values * (1 / res.trials + 1 / 120))
    assert np.all(np.abs(res.mean() - 1) <= 5 * se)
    np.testing.assert_allclose(res.std() / res.predicted_std(), 1.0, atol=0.1)
    slope = np.polyfit(np.log(res.m_values), np.log(res.std().mean(axis=0)), 1)[0]
    assert abs(slope + 0.5) < 0.05
    assert np.all(res.max_deviation() >= np.abs(res.ratios - 1).mean(axis=2))


def test_ratio_is_scale_invariant_rank_one_exact():
    # a rank-1 ratio computed by hand for one operator of the first instance
    from opsense.engine.operators import SensingOperator

    res = isometry_ratios([17, 40], 5, 4, 1, trials=10, operators=2, seed=11)
    s = ops.instance_seeds(11, 2)[0]
    ss = np.random.SeedSequence(s).spawn(2)
    op_seed = int(ss[0].generate_state(2)[0])
    X = random_low_rank(5, 4, 1, 10, seed=int(ss[1].generate_state(1)[0]))[0]
    y = SensingOperator.gaussian(17, 5, 4, seed=op_seed).forward(3.0 * X)
    assert res.ratios[0, 0, 0] == pytest.approx(y @ y / (9.0 * np.sum(X * X)), rel=1e-12)


def test_rip_constant_is_a_lower_bound_found_by_the_power_iteration():
    from opsense.engine.operators import SensingOperator
    from opsense.engine.problems import low_rank_target

    op = SensingOperator.gaussian(60, 6, 5, seed=2)
    X = np.stack([low_rank_target(6, 5, 1, seed=s).X for s in range(3)])
    d = rip_constant(op, X, 1)
    y = op.forward(X)
    start = float(np.max(np.sum(y * y, axis=1) / np.sum(X * X, axis=(1, 2)))) - 1
    assert d >= start - 1e-12                        # never worse than its starts
    # the constant over all matrices (top eigenvalue of A*A, minus 1) bounds the rank-1 one
    full = np.linalg.norm(op.matrix, 2) ** 2 - 1
    assert d <= full + 1e-9
    assert d <= gordon_bound(60, 6, 5, 1, t=4.0)     # Gordon's bound, with its deviation allowance
    with pytest.raises(ValueError, match="starts"):
        rip_constant(op, X[0], 1)


def test_random_low_rank_matrices_have_unit_singular_values_and_haar_law():
    X = random_low_rank(6, 5, 2, 4000, seed=1)
    s = np.linalg.svd(X, compute_uv=False)
    np.testing.assert_allclose(s[:, :2], 1.0, atol=1e-12)
    assert np.all(s[:, 2:] < 1e-12)
    # E[X_ij X_kl] = delta_ik delta_jl r / (n1 n2): the isotropy the variance prediction uses
    second = np.einsum("tij,tkl->ijkl", X, X) / X.shape[0]
    np.testing.assert_allclose(np.einsum("ijij->ij", second), 2 / 30, atol=0.01)
    np.testing.assert_array_equal(X, random_low_rank(6, 5, 2, 4000, seed=1))


def test_gordon_bound_formula():
    w = np.sqrt(2) * (np.sqrt(20) + np.sqrt(20))
    np.testing.assert_allclose(gordon_bound([100, 400], 20, 20, 2), (1 + w / np.sqrt([100, 400])) ** 2 - 1)
    assert gordon_bound(100, 20, 20, 2, t=4.0) > gordon_bound(100, 20, 20, 2)


@pytest.mark.parametrize("kwargs, name", [
    (dict(m_values=[10, 20]), "m_values"),
    (dict(m_values=[10, 10, 20]), "m_values"),
    (dict(m_values=[10, 0, 20]), "m_values"),
    (dict(m_values="10,20"), "m_values"),
    (dict(n1=0), "n1"),
    (dict(n2=2.5), "n2"),
    (dict(r=21), "r"),
    (dict(trials=5), "trials"),
    (dict(trials=10 ** 8), "trials"),
    (dict(operators=4), "operators"),
    (dict(m_values=[10, 20, 10 ** 7]), "m_values"),
    (dict(seed=-1), "seed"),
])
def test_check_names_the_bad_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ops.configure(rip, "book", **kwargs)


@pytest.mark.parametrize("preset", ["book", "paper"])
def test_presets_pass_the_check_inside_the_regime(preset, recwarn):
    assert ops.configure(rip, preset).preset == preset
    assert not [w for w in recwarn if issubclass(w.category, OutsideRegimeWarning)]


def test_few_trials_run_outside_the_regime_with_a_warning():
    with pytest.warns(OutsideRegimeWarning, match="trials >= 100"):
        ops.configure(rip, "book", trials=50)


@pytest.fixture(scope="module")
def small():
    P = ops.configure(rip, "book", trials=200, m_values=[25, 100, 400], operators=5, seed=4)
    return rip.run(P)


def test_claims_hold_on_a_small_case_with_a_basis(small):
    claims = rip.claims(small)
    assert [c.id for c in claims] == ["rip.spread-slope", "rip.variance", "rip.isotropy", "rip.delta-gordon",
                                      "rip.delta-scaling"]
    assert all(c.basis in ("theory", "derived-on-page") and c.verdict == "holds" for c in claims)
    by = {c.id: c for c in claims}
    assert by["rip.spread-slope"].n == 5 and by["rip.spread-slope"].form == "scaling"
    assert set(rip.glue_values(small)) >= {"rip_slope", "rip_variance", "rip_delta_slope"}
    assert "Gordon" in rip.summary(small)


def test_claims_fail_for_a_wrong_law(small):
    """Synthetic experiments: another variance constant, another slope, another normalization."""
    wrong_var = dataclasses.replace(small, variance_ratio=small.variance_ratio * 1.5)
    wrong_slope = dataclasses.replace(small, spread_slopes=small.spread_slopes + 0.08,
                                      delta_slopes=small.delta_slopes * 0 - 0.5 + 0.001 * np.arange(5))
    scaled = dataclasses.replace(small, ratios=dataclasses.replace(small.ratios, ratios=small.ratios.ratios * 1.05,
                                                                   delta_plus=small.ratios.delta_plus * 3))
    v = {c.id: c.verdict for c in rip.claims(wrong_var)}
    s = {c.id: c.verdict for c in rip.claims(wrong_slope)}
    n = {c.id: c.verdict for c in rip.claims(scaled)}
    assert v["rip.variance"] == "fails"
    assert s["rip.spread-slope"] == "fails" and s["rip.delta-scaling"] == "fails"
    assert n["rip.isotropy"] == "fails" and n["rip.delta-gordon"] == "fails"


def test_plot_ratios_draws_all_panels(small):
    import matplotlib

    matplotlib.use("Agg")  # tests only; never in a notebook
    import matplotlib.pyplot as plt

    from opsense.chapters.rip import plot_ratios

    fig, (ax1, ax2, ax3) = plot_ratios(small.ratios, fit=small.fit)
    assert ax1.get_xlabel() and ax2.get_ylabel() and len(ax2.get_lines()) == 3 and len(ax3.get_lines()) == 4
    plt.close(fig)
    with pytest.raises(ValueError, match="res"):
        plot_ratios(small.ratios.ratios)


# ----------------------------------------------------------------------------- the cost estimate
def test_cost_by_hand_on_a_tiny_case():
    P = ops.config.merge("book", rip.PRESETS, n1=4, n2=5, r=1, m_values=[10, 20, 40], trials=10, operators=5)
    c = rip.cost(P)
    base = 5 * 10 * 4 * 5 * (10 + 20 + 40)                                   # operators trials n1 n2 sum(m)
    assert c.work == pytest.approx(base * (1 + 2 * rip.POWER_STEPS * rip.START_FRACTION))
    # X stack, largest operator, its measurements, ratios: 8 * (200 + 800 + 400 + 5 * 30) bytes
    assert c.memory_bytes == 8 * (10 * 20 + 40 * 20 + 10 * 40 + 5 * 3 * 10)
