"""matsense: factorized gradient descent for over-parameterized matrix sensing.

The executable companion to Soltanolkotabi, Stöger & Xie (IEEE TIT 2025) and
Xiong, Ding & Du (ICLR 2024). The whole public API:

Problems      low_rank_target, make_problem, LowRankTarget, Problem, SensingOperator
Dynamics      run_gd, initial_factors, rebalance, GDResult, DivergenceError
Analysis      fit_line, fit_rate, fit_power, hitting_time, Fit, Hit
Claims        check_claims, claim_between, claim_close, claim_true, Claim, ClaimsFailed
Chapters      configure (presets + validated parameters), plotting (figure style)
"""

from importlib.metadata import PackageNotFoundError, version as _version

from . import plotting
from .analysis import Fit, Hit, fit_line, fit_power, fit_rate, hitting_time
from .claims import Claim, ClaimsFailed, check_claims, claim_between, claim_close, claim_true
from .config import configure
from .gd import DivergenceError, GDResult, initial_factors, rebalance, run_gd
from .operators import SensingOperator
from .problems import LowRankTarget, Problem, low_rank_target, make_problem

try:
    __version__ = _version("matsense")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = [
    "LowRankTarget", "Problem", "SensingOperator", "low_rank_target", "make_problem",
    "GDResult", "DivergenceError", "initial_factors", "rebalance", "run_gd",
    "Fit", "Hit", "fit_line", "fit_rate", "fit_power", "hitting_time",
    "Claim", "ClaimsFailed", "check_claims", "claim_between", "claim_close", "claim_true",
    "configure", "plotting", "__version__",
]
