"""Every bad input gets one clear message naming the parameter, before any work.

Table-driven: the command (exit status 2, one error line naming the parameter, no traceback, no
kernel started, no folder created) and the public API (a ValueError naming the argument).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import opsense as ops
from opsense.chapters import rip
from opsense.tools import catalog, cli

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = catalog.discover(ROOT)


def _cli_cases():
    """For every chapter: a wrong type, a value out of range for every numeric and list parameter of
    the book preset, an unknown parameter and a wrong preset."""
    cases = []
    for ch in CHAPTERS:
        book = ch.presets["book"]
        cases.append((ch.name, ["-p", "preset", "huge"], "preset"))
        cases.append((ch.name, ["-p", "no_such_parameter", "1"], "no_such_parameter"))
        cases.append((ch.name, ["-p", "seed", "abc"], "seed"))
        for name, value in book.items():
            if isinstance(value, bool) or name == "seed":
                continue
            if isinstance(value, int) and value >= 1:
                cases.append((ch.name, ["-p", name, "0"], name))
            elif isinstance(value, float):
                cases.append((ch.name, ["-p", name, "-1.5"], name))
                cases.append((ch.name, ["-p", name, "nan"], name))
            elif isinstance(value, list):
                cases.append((ch.name, ["-p", name, "[]"], name))
    return cases


CLI_CASES = _cli_cases()


@pytest.fixture()
def no_kernel(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPSENSE_BOOK", str(ROOT))

    def refuse(*args, **kwargs):
        raise AssertionError("a kernel was about to start")

    monkeypatch.setattr(cli, "_run_one", refuse)
    return tmp_path


@pytest.mark.parametrize("chapter, argv, name", CLI_CASES, ids=[f"{c}:{' '.join(a)}" for c, a, _ in CLI_CASES])
def test_the_command_refuses_a_bad_value_naming_it(no_kernel, capsys, chapter, argv, name):
    out = no_kernel / "out"
    code = cli.main(["run", chapter, *argv, "--out", str(out)])
    _, err = capsys.readouterr()
    assert code == 2, err
    assert err.count("opsense: error:") == 1 and "Traceback" not in err
    assert re.search(rf"\b{re.escape(name)}\b", err), err
    assert not out.exists() and not (no_kernel / "runs").exists()


def test_there_are_many_command_cases():
    assert len(CLI_CASES) >= 60


_P = ops.make_problem(6, 5, 2, 60, seed=0)
API_CASES = [
    (lambda: ops.make_problem(0, 5, 1, 10), "n1"),
    (lambda: ops.make_problem(5, 2.5, 1, 10), "n2"),
    (lambda: ops.make_problem(5, 5, 6, 10), "r"),
    (lambda: ops.make_problem(5, 5, 1, 0), "m"),
    (lambda: ops.make_problem(5, 5, 1, 10, sigma=[-1.0]), "sigma"),
    (lambda: ops.make_problem(5, 5, 1, 10, operator="fourier"), "operator"),
    (lambda: ops.make_problem(5, 5, 1, 10, seed=-1), "seed"),
    (lambda: ops.make_problem(5, 5, 1), "m"),
    (lambda: ops.low_rank_target(5, 5, 2, kappa=0.5), "kappa"),
    (lambda: ops.SensingOperator.gaussian(0, 2, 2), "m"),
    (lambda: ops.SensingOperator.from_matrix(np.ones((3, 5)), 2, 2), "matrix"),
    (lambda: ops.SensingOperator.from_matrix(np.ones((3, 4)) * 1j, 2, 2), "matrix"),
    (lambda: ops.SensingOperator.from_matrix(np.zeros((3, 4)), 2, 2), "matrix"),
    (lambda: ops.SensingOperator.from_matrix(np.full((3, 4), np.nan), 2, 2), "matrix"),
    (lambda: ops.initial_factors(5, 5, 0, 0.1), "k"),
    (lambda: ops.initial_factors(5, 5, 2, -1.0), "alpha"),
    (lambda: ops.initial_factors(5, 5, 2, 1e308), "alpha"),
    (lambda: ops.initial_factors(5, 5, 2, 0.1, init="zero"), "init"),
    (lambda: ops.initial_factors(5, 5, 2, 0.1, init="imbalanced", ratio=2.0), "ratio"),
    (lambda: ops.initial_factors(5, 4, 2, 0.1, init="balanced"), "balanced"),
    (lambda: ops.run_gd(_P, k=2, alpha=0.1, eta=-1.0, iters=5), "eta"),
    (lambda: ops.run_gd(_P, k=2, alpha=0.1, eta=0.1, iters=0), "iters"),
    (lambda: ops.run_gd(_P, k=2, alpha=0.1, eta=0.1, iters=5, parameterization="xy"), "parameterization"),
    (lambda: ops.run_gd(_P, k=2, alpha=0.1, eta=0.1, iters=5, record_every=0), "record_every"),
    (lambda: ops.run_gd(_P, k=2, alpha=0.1, eta=0.1, iters=5, rebalance_tol=2.0), "rebalance_tol"),
    (lambda: ops.run_gd(_P, k=2, alpha=0.1, eta=0.1, iters=5, rebalance_at=9), "rebalance_at"),
    (lambda: ops.run_gd(_P, k=[1, 2], alpha=[0.1, 0.2, 0.3], eta=0.1, iters=5), "sweeps"),
    (lambda: ops.run_gd("problem", k=2, alpha=0.1, eta=0.1, iters=5), "problem"),
    (lambda: ops.run_gd(_P, k=2, alpha=0.1, eta=0.1, iters=5, parameterization="symmetric"), "PSD"),
    (lambda: ops.run_gd(_P, init=(np.ones((6, 2)), np.ones((4, 2))), eta=0.1, iters=5), "init"),
    (lambda: ops.fit_rate(np.arange(5.0), np.ones(5), window=5), "window"),
    (lambda: ops.fit_line([1.0], [2.0]), "two"),
    (lambda: ops.hitting_time(np.arange(5.0), np.ones(5), 0.5, direction="up"), "direction"),
    (lambda: ops.hitting_time(np.arange(5.0)[::-1], np.ones(5), 0.5), "t must be strictly increasing"),
    (lambda: ops.effective_rank(-np.ones(3)), "singular_values"),
    (lambda: ops.imbalance(np.ones((3, 2)), np.ones((3, 3))), "U and V"),
    (lambda: ops.rebalance(np.zeros((3, 2)), np.zeros((4, 2))), "rebalance"),
    (lambda: ops.between("x.a", "s", 0.5, 1.0, 0.0, basis="theory"), "lo <= hi"),
    (lambda: ops.between("x.a", "s", 0.5, 0.0, 1.0, basis="hunch"), "basis"),
    (lambda: ops.close("x.a", "s", 0.5, 1.0, basis="theory"), "rtol"),
    (lambda: ops.evaluate_claims([], chapter="x"), "claims"),
    (lambda: ops.read_claims([]), "object"),
    (lambda: ops.configure(rip, "huge"), "preset"),
    (lambda: ops.configure(rip, trials=5), "trials"),
    (lambda: ops.configure(rip, m_values=[10, 20]), "m_values"),
    (lambda: ops.configure(rip, seed=1.5), "seed"),
]


@pytest.mark.parametrize("call, name", API_CASES, ids=[n for _, n in API_CASES])
def test_the_api_refuses_a_bad_argument_naming_it(call, name):
    with pytest.raises(ValueError, match=re.escape(name)):
        call()
