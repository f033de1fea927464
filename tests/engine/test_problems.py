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
