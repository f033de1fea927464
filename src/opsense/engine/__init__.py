"""The engine: operators -> problems -> factors -> gradient descent (the only GD loop)."""

from .factors import (dilation, imbalance, imbalance_increment, initial_factors, lifted_step, rebalance,
                      redundant_imbalance, residual_matrix)
from .gd import DivergenceError, GDResult, run_gd, step_sizes
from .operators import SensingOperator
from .problems import (LowRankTarget, Problem, PsdProblems, instance_seeds, low_rank_target, make_problem,
                       psd_problems)

__all__ = ["SensingOperator", "LowRankTarget", "Problem", "PsdProblems", "low_rank_target", "make_problem",
           "psd_problems", "instance_seeds", "initial_factors", "imbalance", "imbalance_increment", "dilation", "residual_matrix",
           "lifted_step", "rebalance", "redundant_imbalance", "GDResult", "DivergenceError", "run_gd", "step_sizes"]
