"""Every chapter's ``cost(P)``: positive and finite for both presets, the paper preset costs more,
and the work scales with the parameters that drive it (pure arithmetic on the parameters)."""

from __future__ import annotations

import importlib

import pytest

import opsense as ops

#: The parameters whose doubling doubles each chapter's work (the iteration counts of its runs,
#: or m for b3, whose drift and one-step terms do not grow with its iters), and the main driver.
DRIVERS = {
    "rip": (["trials"], "trials"),
    "b1_symmetric": (["iters", "iters_mf"], "iters"),
    "b2_asymmetric": (["iters_exact", "iters", "iters_compare"], "iters"),
    "b3_imbalance": (["m"], "m"),
    "b4_one_step": (["iters", "iters_modified"], "iters"),
    "a1_generalization": (["iters"], "iters"),
    "a2_phases": (["iters"], "iters"),
    "a3_balancing": (["iters"], "iters"),
    "a4_low_rank": (["iters"], "iters"),
    "a5_synthesis": (["iters_b", "iters", "iters_pd"], "iters_pd"),
    "x1_noise": (["iters", "iters_tail"], "iters"),
    "x2_start": (["iters", "iters_compare"], "iters"),
    "x3_conditioning": (["iters", "iters_step", "iters_escape"], "iters"),
    "x4_shape": (["iters", "iters_tail", "iters_rect", "iters_exact"], "iters"),
    "x5_alpha": (["iters_rate", "iters_floor", "iters_div"], "iters_floor"),
    "x6_trigger": (["iters", "iters_post"], "iters"),
}


def _chapter(stem):
    return importlib.import_module(f"opsense.chapters.{stem}")


@pytest.mark.parametrize("stem", DRIVERS)
def test_cost_of_the_presets_is_positive_finite_and_paper_costs_more(stem):
    ch = _chapter(stem)
    costs = {p: ch.cost(ops.config.merge(p, ch.PRESETS)) for p in ("book", "paper")}
    for c in costs.values():
        assert isinstance(c, ops.config.Cost)
        assert 0 < c.memory_bytes < float("inf") and 0 < c.work < float("inf")
        assert c.drivers and set(c.drivers) <= set(ch.PRESETS["book"])
    assert costs["paper"].work >= costs["book"].work
    assert costs["paper"].memory_bytes >= costs["book"].memory_bytes


@pytest.mark.parametrize("stem", DRIVERS)
def test_cost_work_doubles_with_its_main_driver(stem):
    ch = _chapter(stem)
    names, main = DRIVERS[stem]
    P = ops.config.merge("book", ch.PRESETS)
    Q = ops.config.merge("book", ch.PRESETS, **{name: 2 * getattr(P, name) for name in names})
    assert ch.cost(Q).work / ch.cost(P).work == pytest.approx(2.0, rel=0.05)
    assert ch.cost(Q).memory_bytes >= ch.cost(P).memory_bytes
    assert main in ch.cost(P).drivers


def test_every_chapter_module_is_covered():
    from opsense.tools.catalog import discover
    from pathlib import Path

    assert {c.name for c in discover(Path(__file__).resolve().parents[2])} == set(DRIVERS)
