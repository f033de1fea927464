"""Chapter b4_one_step: the rebalancing step, the rates, the check, the claims, the figures."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import opsense as ops  # noqa: E402
from opsense.chapters import b4_one_step as ch  # noqa: E402
from opsense.claims import BASES  # noqa: E402


@pytest.fixture(scope="module")
def small():
    """The whole chapter on a small case (under a second)."""
    P = ops.configure(ch, "book", n=8, r=1, k=2, m=200, alphas=[0.3, 0.5], eta=0.1, iters=1000,
                      iters_modified=1000, seed=1)
    runs = ch.run(P)
    reports = ch.rebalance_reports(runs)
    return P, runs, reports, ch.rates(runs), ch.verify_step(runs.alphas, reports)


def test_rebalance_report_exact_properties():
    rng = np.random.default_rng(5)
    Us, Vs = np.linalg.qr(rng.standard_normal((9, 2)))[0], np.linalg.qr(rng.standard_normal((8, 2)))[0]
    Xs = Us @ np.diag([1.0, 0.5]) @ Vs.T
    # factors of a near-solution: U V^T = X* + small, with a weak redundant part of size alpha
    U = np.hstack([Us * np.sqrt([1.0, 0.5]), 0.1 * rng.standard_normal((9, 2))])
    V = np.hstack([Vs * np.sqrt([1.0, 0.5]), 1e-3 * rng.standard_normal((8, 2))])
    rep = ch.rebalance_report(U, V, r=2)
    assert rep.product_change <= 1e-14
    np.testing.assert_allclose(rep.sv_U_after, rep.beta, rtol=1e-13)
    np.testing.assert_allclose(rep.imbalance_after, rep.imbalance_predicted, atol=1e-13 * rep.beta)
    assert rep.redundant_before < 0.2 < 0.99 * rep.beta <= rep.redundant_after <= rep.beta + 1e-12
    err = np.linalg.norm(U @ V.T - Xs, 2)
    assert rep.redundant_after >= rep.beta - err ** 2 / rep.beta - 1e-12  # Weyl bound of the proposition
    with pytest.raises(ValueError, match="r must"):
        ch.rebalance_report(U, V, r=4)


@pytest.mark.parametrize("kwargs, name", [
    (dict(n=1), "n"),
    (dict(r=20), "r"),
    (dict(k=2), "k"),
    (dict(kappa=0.5), "kappa"),
    (dict(alphas=[0.1]), "alphas"),
    (dict(alphas=[0.1, 0.1]), "alphas"),
    (dict(alphas=[0.1, 2.0]), "alphas"),
    (dict(alphas=[0.1] * 13), "alphas"),
    (dict(alphas="[0.1, -0.2]"), "alphas"),
    (dict(eta=0.5), "eta"),
    (dict(epsilon=0.5), "epsilon"),
    (dict(iters_modified=500), "iters_modified"),
    (dict(iters=5000), "iters"),
    (dict(iters=10 ** 7), "iters"),
    (dict(iters_modified=20000), "iters"),
    (dict(m=100_000), "m"),
    (dict(seed=-1), "seed"),
])
def test_check_names_the_bad_parameter(kwargs, name):
    with pytest.raises(ValueError, match=f"^parameter {name}"):
        ops.configure(ch, "book", **kwargs)


@pytest.mark.parametrize("preset", ["book", "paper"])
def test_presets_pass_the_check(preset):
    assert ops.configure(ch, preset).preset == preset
    assert set(ch.PRESETS[preset]) == set(ch.PRESETS["book"]) and ch.PRESETS[preset]["seed"] == 0


def test_claims_of_a_small_case_have_a_basis(small):
    P, runs, reports, rates, step = small
    assert np.all(runs.T1 > 0) and all(q is not None for q in reports)
    claims = ch.claims(runs, step, rates)
    assert [c.id for c in claims] == ["b4.product", "b4.lift", "b4.spectrum", "b4.jump", "b4.alpha-free",
                                      "b4.vs-exact", "b4.speedup"]
    assert all(c.basis in BASES and isinstance(c.measured, float) for c in claims)
    assert all(c.holds for c in claims if c.basis == "identity")
    glued = ch.glue_values(runs, step, rates)
    assert glued["b4_T1_min"] == int(runs.T1.min()) and all(isinstance(x, (int, float)) for x in glued.values())
    assert "T1" in ch.trigger_summary(runs) and "alpha" in ch.reports_table(runs.alphas, reports)


def test_an_untriggered_run_gives_nan_not_an_error(small):
    _, runs, reports, _, _ = small
    step = ch.verify_step(runs.alphas, [reports[0], None])
    assert np.isnan(step.product) and np.isnan(step.before[1]) and "never" in ch.reports_table(
        runs.alphas, [reports[0], None])


def test_plots_draw_and_validate(small):
    P, runs, _, rates, _ = small
    fig, ax = ch.plot_one_step(runs.vanilla, runs.modified, r=P.r)
    assert len(ax.get_lines()) >= 2 * runs.alphas.size + 1
    fig, axes = ch.plot_rates(rates, k=P.k, r=P.r)
    assert len(axes) == 2
    with pytest.raises(ValueError, match="vanilla must hold"):
        ch.plot_one_step(runs.modified, runs.modified, r=P.r)
    with pytest.raises(ValueError, match="Rates"):
        ch.plot_rates(runs, k=P.k, r=P.r)
    plt.close("all")


def test_experiment_functions_refuse_foreign_results(small):
    _, runs, _, rates, step = small
    with pytest.raises(ValueError, match="runs must be a Runs"):
        ch.rates(rates)
    with pytest.raises(ValueError, match="step must be a StepVerification"):
        ch.claims(runs, rates, rates)


# ----------------------------------------------------------------------------- the cost estimate




