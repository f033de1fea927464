"""The RIP chapter (opsense.chapters.rip): the isometry ratios, the check, the claims, the figure."""

import numpy as np
import pytest

import opsense as ops
from opsense.chapters import rip
from opsense.chapters.rip import isometry_ratios


def test_shapes_sorting_and_determinism():
    a = isometry_ratios([200, 50], 8, 6, 2, trials=40, seed=3)
    b = isometry_ratios([50, 200], 8, 6, 2, trials=40, seed=3)
    assert a.ratios.shape == (2, 40) and a.trials == 40 and a.shape == (8, 6)
    assert a.m_values.tolist() == [50, 200]
    np.testing.assert_array_equal(a.ratios, b.ratios)
    c = isometry_ratios([50, 200], 8, 6, 2, trials=40, seed=4)
    assert not np.allclose(a.ratios, c.ratios)


def test_chi_square_law_of_the_ratio():
    res = isometry_ratios([30, 120, 480], 10, 12, 2, trials=2000, seed=0)
    # mean 1 (E A*A = I) within 5 standard errors; std sqrt(2/m) within 10 %
    se = np.sqrt(2 / res.m_values * (1 / res.trials + 1 / 120))
    assert np.all(np.abs(res.mean() - 1) <= 5 * se)
    np.testing.assert_allclose(res.std() / res.predicted_std(), 1.0, atol=0.1)
    slope = np.polyfit(np.log(res.m_values), np.log(res.std()), 1)[0]
    assert abs(slope + 0.5) < 0.05
    assert np.all(res.max_deviation() >= np.abs(res.ratios - 1).mean(axis=1))


def test_ratio_is_scale_invariant_rank_one_exact():
    # a rank-1 ratio computed by hand for one operator
    from opsense.engine.operators import SensingOperator
    from opsense.engine.problems import low_rank_target

    res = isometry_ratios([17, 40], 5, 4, 1, trials=10, seed=11)
    ss = np.random.SeedSequence(11).spawn(2)
    op_seed = int(ss[0].generate_state(2)[0])
    x_seed = int(ss[1].generate_state(10)[0])
    X = low_rank_target(5, 4, 1, seed=x_seed).X
    y = SensingOperator.gaussian(17, 5, 4, seed=op_seed).forward(3.0 * X)
    assert res.ratios[0, 0] == pytest.approx(y @ y / (9.0 * np.sum(X * X)), rel=1e-12)


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
    (dict(m_values=[10, 20, 10 ** 7]), "m_values"),
    (dict(seed=-1), "seed"),
])
def test_check_names_the_bad_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ops.configure(rip, "book", **kwargs)


@pytest.mark.parametrize("preset", ["book", "paper"])
def test_presets_pass_the_check(preset):
    assert ops.configure(rip, preset).preset == preset


def test_claims_hold_on_a_small_case_with_a_basis():
    P = ops.configure(rip, "book", trials=200, m_values=[25, 100, 400], seed=4)
    claims = rip.claims(rip.run(P))
    assert [c.id for c in claims] == ["rip.spread-slope", "rip.isotropy", "rip.spread-constant"]
    assert all(c.basis == "theory" and c.verdict == "holds" for c in claims)
    assert set(rip.glue_values(rip.run(P))) >= {"rip_slope", "rip_r2"}


def test_plot_ratios_draws_both_panels():
    import matplotlib

    matplotlib.use("Agg")  # tests only; never in a notebook
    import matplotlib.pyplot as plt

    from opsense.analysis import fit_power
    from opsense.chapters.rip import plot_ratios

    res = isometry_ratios([20, 80], 6, 6, 1, trials=30, seed=0)
    fig, (ax1, ax2) = plot_ratios(res, fit=fit_power(res.m_values, res.std()))
    assert ax1.get_xlabel() and ax2.get_ylabel() and len(ax2.get_lines()) == 3
    plt.close(fig)
    with pytest.raises(ValueError, match="res"):
        plot_ratios(res.ratios)


# ----------------------------------------------------------------------------- the cost estimate




def test_cost_by_hand_on_a_tiny_case():
    P = ops.config.merge("book", rip.PRESETS, n1=4, n2=5, r=1, m_values=[10, 20, 40], trials=10)
    c = rip.cost(P)
    assert c.work == 10 * 4 * 5 * (10 + 20 + 40)                              # trials n1 n2 sum(m) = 14000
    # X stack, largest operator, its measurements, ratios: 8 * (200 + 800 + 400 + 30) = 11440 bytes
    assert c.memory_bytes == 8 * (10 * 20 + 40 * 20 + 10 * 40 + 3 * 10) == 11440


