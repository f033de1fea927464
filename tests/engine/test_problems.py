"""Argument checks of the engine's problem types."""

import numpy as np
import pytest

import opsense as ops
from opsense.engine.problems import check_factor_pair, check_problem


def test_problem_and_factor_checks_name_the_argument():
    pr = ops.make_problem(4, 5, 1, 20, seed=0)
    assert check_problem(pr) is pr
    with pytest.raises(ValueError, match="problem must be an opsense Problem"):
        check_problem(np.eye(3))
    with pytest.raises(ValueError, match="PSD target"):
        check_problem(pr, psd=True)
    U, V = check_factor_pair(pr, np.ones((4, 2)), np.ones((5, 2)), names=("F", "G"))
    assert U.dtype == V.dtype == np.float64
    with pytest.raises(ValueError, match=r"F and G must have shapes \(4, k\) and \(5, k\)"):
        check_factor_pair(pr, np.ones((4, 2)), np.ones((5, 3)), names=("F", "G"))


def test_instance_seeds_are_distinct_stable_prefixes_and_validated():
    a, b = ops.instance_seeds(0, 5), ops.instance_seeds(0, 8)
    assert len(set(a)) == 5 and b[:5] == a and ops.instance_seeds(1, 5) != a and 0 not in a
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        ops.instance_seeds(0, 0)
