"""Chapter x6_trigger: the loss triggers, the parameter checks, the cost, and claims that can fail."""

import dataclasses
import warnings

import numpy as np
import pytest

import opsense as ops
from opsense.chapters import x6_trigger as ch


def _loss(rates, *, start=1.0):
    """A loss recorded every CHECK iterations whose log-slope per iteration is ``rates[j]`` on interval j."""
    return start * np.exp(-ch.CHECK * np.concatenate([[0.0], np.cumsum(rates)]))


def test_flat_trigger_fires_after_the_patience_and_not_on_a_dip():
    fast, slow = [0.002, 0.05, 0.1, 0.1, 0.08], [0.01] * 20
    j = ch.flat_trigger(_loss(fast + slow), theta=0.15, patience=50)
    assert j == len(fast) + 5          # 5 checks of patience after the slope fell to 0.1 of the peak
    dip = fast + [0.005, 0.005, 0.09, 0.1] + slow   # a saddle of 2 checks: not long enough
    assert ch.flat_trigger(_loss(dip), theta=0.15, patience=50) == len(fast) + 4 + 5
    assert ch.flat_trigger(_loss(dip), theta=0.15, patience=20) == len(fast) + 2   # too little patience
    assert ch.flat_trigger(_loss([0.1] * 30), theta=0.15, patience=50) == -1        # never flattens
    assert ch.flat_trigger(_loss([-0.001] * 10 + slow), theta=0.5, patience=50) == -1  # a rising loss has no peak


def test_rate_trigger_needs_the_fast_phase_first():
    lvl = 2.0 * 0.009
    slow = [0.008] * 20
    assert ch.rate_trigger(_loss(slow), rate=0.009, factor=2.0, patience=50) == -1   # no fast phase seen
    j = ch.rate_trigger(_loss([0.05, 0.1] + slow), rate=0.009, factor=2.0, patience=50)
    assert j == 2 + 5 and lvl < 0.1


def test_checks_name_the_parameter():
    P = ops.configure(ch, "book")
    need = ch.horizons(P)["need"]
    assert P.iters >= need["vanilla"] and P.iters_post >= need["post"]
    for kw, name in [(dict(iters=1000), "iters"), (dict(iters_post=500), "iters_post"),
                     (dict(epsilons=[0.1, 0.3, 0.01, 1e-3]), "epsilons"),
                     (dict(epsilons=[0.5, 0.3, 0.1, 0.01]), "epsilons"),
                     (dict(target=0.01), "target"), (dict(theta=1.5), "theta"),
                     (dict(rate_factor=0.5), "rate_factor"), (dict(patience=55), "patience"),
                     (dict(k=2), "k"), (dict(m=50), "m"), (dict(instances=3), "instances")]:
        with pytest.raises(ValueError, match=f"parameter {name} "):
            ops.configure(ch, "book", **kw)


def test_outside_the_regime_warns():
    with pytest.warns(ops.config.OutsideRegimeWarning, match="alpha"):
        ops.configure(ch, "book", alpha=0.5)
    with pytest.warns(ops.config.OutsideRegimeWarning, match="kappa\\^2 alpha\\^2"):
        ops.configure(ch, "book", kappa=3.0, iters_post=3740, iters=6410)


def test_cost_scales_with_the_drivers():
    P = ops.configure(ch, "book")
    w = ch.cost(P).work
    assert ch.cost(ops.configure(ch, "book", instances=10)).work == pytest.approx(2 * w)
    more = ch.cost(ops.configure(ch, "book", iters_post=2 * P.iters_post)).work
    assert w < more < 2 * w
    assert ch.cost(P).drivers[0] == "iters"


def _fake(**change):
    """A synthetic Runs: 5 instances, epsilons of the book, totals following the derived waste."""
    I, eps = 5, np.array([0.9, 0.5, 0.1, 0.03, 0.01, 3e-3, 1e-3])
    E, rng = eps.size, np.random.default_rng(0)
    rho_van, rho_post = 0.007 * (1 + 0.05 * rng.standard_normal(I)), 0.03 * np.ones(I)
    waste = 2 / rho_van - 2 / rho_post
    total = np.full((I, E + 2), 800.0)
    total[:, :3] = [900.0, 880.0, 850.0]
    for e in range(4, E):
        total[:, e] = 800.0 + waste * np.log(0.03 / eps[e]) * (1 + 0.01 * rng.standard_normal(I))
    total[:, E:] = 820.0
    rate = np.full((I, E + 2), 0.03) * (1 + 0.01 * rng.standard_normal((I, E + 2)))
    rate[:, 0] = 0.025
    fire_err = np.tile(np.concatenate([eps * 1.4, [0.03, 0.035]]), (I, 1))
    sig = np.tile(np.concatenate([[0.9, 0.8, 0.1, 0.02, 0.01, 0.0, 0.0], [0.01, 0.02]]), (I, 1))
    tr = ch.Triggers(tuple(f"eps={e:g}" for e in eps) + ("flat", "rate"), np.zeros((I, E + 2), int), fire_err, sig,
                     np.ones((I, E + 2)), total - 100, total, rate)
    tr = dataclasses.replace(tr, **{k: v for k, v in change.items() if hasattr(tr, k)})
    van = ch.Vanilla(np.arange(3) * 10, np.ones((I, 3)), np.ones((I, 3)), np.ones((I, 3)), np.ones((I, 3)),
                     np.zeros((3, I, 2, 2)), np.zeros((3, I, 2, 2)))
    post_error = change.get("post_error", np.tile([0.9, 1e-3, 1e-6], (I, E + 2, 1)))
    return ch.Runs(van, tr, np.arange(3) * 10, post_error, eps, np.full(I, 0.25), rho_van, 0.3, 0.1, 1e-6)


def _verdicts(runs):
    return {c.id: c.verdict for c in ch.claims(runs)}


def test_claims_hold_on_consistent_synthetic_runs():
    v = _verdicts(_fake())
    assert all(x == "holds" for x in v.values()), v
    assert len(v) == 9


def test_claims_can_fail():
    base = _fake()
    tot = base.triggers.total.copy()
    tot[:, -2] *= 1.6                                       # the flat trigger is much worse than the best level
    assert _verdicts(_fake(total=tot))["x6.flat-vs-best"] == "does not reproduce"   # documented (paper preset)
    sig = base.triggers.fire_signal.copy()
    sig[:, -1] = 0.5                                        # the rate trigger fires before the signal is learned
    assert _verdicts(_fake(fire_signal=sig))["x6.rate-signal-learned"] == "fails"
    rate = base.triggers.post_rate.copy()
    rate[:, 6] *= 1.5                                       # post-step rate depends on the timing
    assert _verdicts(_fake(post_rate=rate))["x6.post-rate-free-of-timing"] == "fails"
    tot = base.triggers.total.copy()
    tot[:, 4:7] = 800.0                                     # no late waste at all
    v = _verdicts(_fake(total=tot))
    assert v["x6.late-waste"] == "fails" and v["x6.late-costs"] == "fails"
    err = base.post_error.copy()
    err[0, 0] = [0.9, 0.6, 0.5]                             # an early step that stalls
    assert _verdicts(_fake(post_error=err))["x6.early-converges"] == "fails"
    err[0, 0] = [0.9, 1e3, np.nan]                          # ... or diverges
    assert _verdicts(_fake(post_error=err))["x6.early-converges"] == "fails"
    err[0, 0] = [0.9, 1e-3, 2e-6]                           # short of the target, but converging
    assert _verdicts(_fake(post_error=err))["x6.early-converges"] == "holds"
    rate = base.triggers.post_rate.copy()
    rate[:, 0] = 0.004                                      # an early step slower than vanilla
    assert _verdicts(_fake(post_rate=rate))["x6.early-beats-vanilla"] == "fails"


def test_a_small_real_run_fires_every_trigger_and_draws():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ops.config.OutsideRegimeWarning)
        P = ops.configure(ch, "book", n=10, m=200, k=3, iters=6330, epsilons=[0.5, 0.1, 0.01, 3e-3, 1e-3])
    runs = ch.run(P)
    tr = runs.triggers
    assert np.all(tr.fire_t >= 0) and np.all(np.isfinite(tr.total))
    E = runs.epsilons.size
    assert np.all(np.diff(tr.fire_t[:, :E], axis=1) >= 0)   # smaller levels fire later
    # the step fires on the exact vanilla iterate: its error at firing is the vanilla curve's there
    j = tr.fire_t[0, E] // ch.CHECK
    assert tr.fire_error[0, E] == runs.vanilla.rel_error[0, j]
    assert isinstance(ch.sweep_summary(runs), str) and isinstance(ch.glue_values(runs), dict)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    for fn in (ch.plot_cost, ch.plot_trajectories):
        fig, _ = fn(runs)
        plt.close(fig)
    with pytest.raises(ValueError, match="runs must be"):
        ch.plot_cost(None)
