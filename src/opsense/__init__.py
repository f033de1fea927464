"""opsense: factorized gradient descent for over-parameterized matrix sensing.

The executable companion to Soltanolkotabi, Stöger & Xie (IEEE TIT 2025) and
Xiong, Ding & Du (ICLR 2024). Layout (imports go only downwards):

engine/      operators -> problems -> factors -> gd (the only gradient-descent loop)
toolkit      _validate (generic checks), analysis (fits, windows, hitting times),
             stats (instance intervals), claims (claims as data), config (presets + a chapter's check), plotting
chapters/    one module per notebook of the book (never importing another chapter)
tools/       the book tooling: catalog, cli, report, execute, bench, sphinx extension

The top level re-exports the engine and the toolkit:

Problems      low_rank_target, make_problem, psd_problems, instance_seeds, LowRankTarget, Problem, SensingOperator
Factors       initial_factors, imbalance, imbalance_increment, dilation, residual_matrix,
              lifted_step, rebalance, redundant_imbalance
Dynamics      run_gd, step_sizes, GDResult, DivergenceError
Analysis      fit_line, fit_rate, fit_power, hitting_time, rate_window, late_rate, rate_ratio,
              effective_rank, burn_in_time, signal_time, Fit, Hit
Intervals     instance_interval, instance_interval_or_nan, Interval (a mean over independent instances and its 95% interval)
Claims        between, at_most, at_least, close, evaluate_claims, read_claims, Claim, ClaimTable,
              ClaimsFailed
Chapters      configure (a chapter's presets, overrides and check), plotting (figure style)
"""

from importlib import import_module as _import_module
from importlib.metadata import PackageNotFoundError, version as _version

#: Where each top-level name lives. They are imported on first use (PEP 562), so that
#: ``import opsense`` (and the ``opsense`` command's start) does not load NumPy and Matplotlib
#: before they are needed.
_EXPORTS = {
    **dict.fromkeys(["LowRankTarget", "Problem", "PsdProblems", "SensingOperator", "low_rank_target",
                     "make_problem", "psd_problems", "instance_seeds", "initial_factors", "imbalance", "imbalance_increment",
                     "dilation", "residual_matrix", "lifted_step", "rebalance", "redundant_imbalance",
                     "GDResult", "DivergenceError", "run_gd", "step_sizes"], "engine"),
    **dict.fromkeys(["Fit", "Hit", "fit_line", "fit_rate", "fit_power", "hitting_time", "rate_window",
                     "late_rate", "rate_ratio", "effective_rank", "burn_in_time", "signal_time"], "analysis"),
    **dict.fromkeys(["Claim", "ClaimTable", "ClaimsFailed", "between", "at_most", "at_least", "close",
                     "evaluate_claims", "read_claims"], "claims"),
    **dict.fromkeys(["Interval", "instance_interval", "instance_interval_or_nan"], "stats"),
    "configure": "config",
}
_SUBMODULES = ("engine", "analysis", "stats", "claims", "config", "plotting", "book", "chapters", "tools")

try:
    __version__ = _version("opsense")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = [*_EXPORTS, "book", "plotting", "__version__"]


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(_import_module(f".{_EXPORTS[name]}", __name__), name)
    elif name in _SUBMODULES:
        value = _import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'opsense' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *_EXPORTS, *_SUBMODULES})
