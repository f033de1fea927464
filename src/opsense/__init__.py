"""opsense: factorized gradient descent for over-parameterized matrix sensing.

The executable companion to Soltanolkotabi, Stöger & Xie (IEEE TIT 2025) and
Xiong, Ding & Du (ICLR 2024). Layout (imports go only downwards):

engine/      operators -> problems -> factors -> gd (the only gradient-descent loop)
toolkit      _validate (generic checks), analysis (fits, windows, hitting times),
             claims (claims as data), config (presets + a chapter's check), plotting
chapters/    one module per notebook of the book (never importing another chapter)
tools/       the book tooling: catalog, cli, report, execute, bench, sphinx extension

The top level re-exports the engine and the toolkit:

Problems      low_rank_target, make_problem, psd_problems, LowRankTarget, Problem, SensingOperator
Factors       initial_factors, imbalance, imbalance_increment, dilation, residual_matrix,
              lifted_step, rebalance, redundant_imbalance
Dynamics      run_gd, step_sizes, GDResult, DivergenceError
Analysis      fit_line, fit_rate, fit_power, hitting_time, rate_window, late_rate, rate_ratio,
              effective_rank, burn_in_time, signal_time, Fit, Hit
Claims        between, at_most, at_least, close, evaluate_claims, read_claims, Claim, ClaimTable,
              ClaimsFailed
Chapters      configure (a chapter's presets, overrides and check), plotting (figure style)
"""

from importlib.metadata import PackageNotFoundError, version as _version

from . import book, plotting
from .analysis import (Fit, Hit, burn_in_time, effective_rank, fit_line, fit_power, fit_rate, hitting_time, late_rate,
                       signal_time,
                       rate_ratio, rate_window)
from .claims import (Claim, ClaimsFailed, ClaimTable, at_least, at_most, between, close, evaluate_claims,
                     read_claims)
from .config import configure
from .engine import (DivergenceError, GDResult, LowRankTarget, Problem, PsdProblems, SensingOperator, dilation,
                     imbalance, imbalance_increment, initial_factors, lifted_step, low_rank_target,
                     make_problem, psd_problems, rebalance, redundant_imbalance, residual_matrix, run_gd,
                     step_sizes)

try:
    __version__ = _version("opsense")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = [
    "LowRankTarget", "Problem", "PsdProblems", "SensingOperator", "low_rank_target", "make_problem",
    "psd_problems", "initial_factors", "imbalance", "imbalance_increment", "dilation", "residual_matrix",
    "lifted_step", "rebalance", "redundant_imbalance", "GDResult", "DivergenceError", "run_gd", "step_sizes",
    "Fit", "Hit", "fit_line", "fit_rate", "fit_power", "hitting_time", "rate_window", "late_rate",
    "rate_ratio", "effective_rank", "burn_in_time", "signal_time",
    "Claim", "ClaimTable", "ClaimsFailed", "between", "at_most", "at_least", "close", "evaluate_claims",
    "read_claims", "configure", "book", "plotting", "__version__",
]
