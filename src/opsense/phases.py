"""Helpers of the paper-A chapters on generalization and on the three phases.

Two experiments of Soltanolkotabi, Stöger & Xie (paper A) in the book:

*Generalization needs small initialization* (``book/a1_generalization``).
    :func:`alpha_sweep` runs factorized gradient descent on one sensing problem
    for every pair (initialization scale ``alpha``, initialization seed), batched,
    plus optional exact-rank runs (``k = r``), with a per-run step size from
    :func:`step_sizes`; :class:`AlphaSweep` holds the final test errors and
    training losses and fits the exponent of test error against ``alpha``.

*Three phases and incremental learning* (``book/a2_phases``).
    While :math:`U_tV_t^\\top` is small, the lifted factor :math:`W_t=[U_t;V_t]`
    follows the power iteration :math:`W_{t+1}\\approx(I+\\mu\\mathcal D(\\mathcal A^*y))W_t`,
    so :math:`\\sigma_i(U_tV_t^\\top)` grows like :math:`\\alpha^2(1+\\mu\\tilde\\sigma_i)^{2t}`
    and reaches :math:`\\sigma_i/2` after :math:`\\ln(1/\\alpha)/\\ln(1+\\mu\\tilde\\sigma_i)+O(1)`
    steps (our derivation, proved in the chapter). :func:`escape_slopes` gives these
    slopes, :func:`hitting_times` measures the times on recorded runs, :func:`escape_fits`
    fits them against :math:`\\ln(1/\\alpha)`, and :func:`two_stage_slope` is our
    refinement for the second direction.

The figures of both chapters are :func:`plot_generalization`, :func:`plot_phases`
and :func:`plot_escape`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _validate as v
from .analysis import Fit, fit_line, fit_power, hitting_time
from .engine.gd import GDResult, initial_factors, run_gd
from .engine.problems import Problem

__all__ = ["check_parameters", "step_sizes", "AlphaSweep", "alpha_sweep", "EscapeSlopes", "escape_slopes", "hitting_times",
           "escape_fits", "two_stage_slope", "first_time", "plot_generalization", "plot_phases",
           "plot_escape"]


def check_parameters(*, n1: int, n2: int, r: int, sigma, m: int, k: int, alphas, seed: int,
                     alpha_fit_max: float | None = None) -> None:
    """Validate the parameters of the paper-A chapters; raise ValueError naming the first bad one.

    Parameters
    ----------
    n1, n2, r, m, k : int, keyword-only
        Shape and rank of the target, number of measurements (``1 <= m``) and width of
        the factors (``r <= k``).
    sigma : sequence of r floats > 0, keyword-only
        Singular values of the target.
    alphas : sequence of float > 0, keyword-only
        At least two distinct initialization scales.
    seed : int >= 0, keyword-only
    alpha_fit_max : float > 0, keyword-only, optional
        If given, at least two of ``alphas`` must be ``<= alpha_fit_max``.
    """
    n1, n2, r = v.shape_rank(n1, n2, r)
    s = v.sweep("sigma", sigma, lambda n, x: v.real(n, x, positive=True))
    if len(s) != r:
        raise ValueError(f"sigma must hold r = {r} singular values, got {len(s)}: {s}")
    v.integer("m", m, minimum=1)
    v.integer("k", k, minimum=r)
    a = v.sweep("alphas", alphas, lambda n, x: v.real(n, x, positive=True))
    if len(a) < 2 or len(set(a)) != len(a):
        raise ValueError(f"alphas must hold at least two distinct values > 0, got {a}")
    v.integer("seed", seed, minimum=0)
    if alpha_fit_max is not None:
        alpha_fit_max = v.real("alpha_fit_max", alpha_fit_max, positive=True)
        if sum(x <= alpha_fit_max for x in a) < 2:
            raise ValueError(f"alpha_fit_max={alpha_fit_max:g} must be >= at least two of alphas {a}")


# ---------------------------------------------------------------------------- step sizes


# ---------------------------------------------------------------------------- the alpha sweep
@dataclass(frozen=True)
class AlphaSweep:
    """Final test errors and training losses over initialization scales and seeds.

    Attributes
    ----------
    alphas : ndarray (A,)
        Initialization scales, decreasing.
    seeds : ndarray of int (S,)
        Initialization seeds (the problem is the same for all).
    k : int
        Width of the over-parameterized runs.
    test_error : ndarray (S, A)
        Final relative test error :math:`\\|U_TV_T^\\top-X^\\star\\|_F/\\|X^\\star\\|_F`.
    train_loss : ndarray (S, A)
        Final training loss :math:`\\tfrac12\\|\\mathcal A(U_TV_T^\\top)-y\\|_2^2`.
    sigma_extra : ndarray (S, A)
        Final :math:`\\sigma_{r+1}(U_TV_T^\\top)`, the largest singular value beyond the rank
        of the target (0 if ``k = r``).
    eta : ndarray (S, A)
        Step size of each run (:func:`step_sizes`).
    exact_alphas : ndarray (E,)
        Scales of the exact-rank runs (``k = r``, first seed); may be empty.
    exact_error, exact_loss : ndarray (E,)
        Their final test errors and training losses.
    result : GDResult
        The whole batch: the ``S * A`` runs seed-major (run ``s * A + a``), then the ``E`` exact runs.
    """

    alphas: np.ndarray
    seeds: np.ndarray
    k: int
    test_error: np.ndarray
    train_loss: np.ndarray
    sigma_extra: np.ndarray
    eta: np.ndarray
    exact_alphas: np.ndarray
    exact_error: np.ndarray
    exact_loss: np.ndarray
    result: GDResult

    def exponents(self, *, alpha_max: float) -> list[Fit]:
        """Per seed, the log-log slope of test error against ``alpha`` over ``alpha <= alpha_max``.

        Parameters
        ----------
        alpha_max : float > 0, keyword-only
            Largest scale in the fit (the polynomial regime); at least two scales must qualify.

        Returns
        -------
        list of Fit, one per seed
            ``estimate`` is the exponent :math:`\\gamma` in ``error ~ C alpha**gamma``.
        """
        alpha_max = v.real("alpha_max", alpha_max, positive=True)
        if np.count_nonzero(self.alphas <= alpha_max) < 2:
            raise ValueError(f"alpha_max={alpha_max:g} leaves fewer than two scales among {self.alphas.tolist()}")
        return [fit_power(self.alphas, err, window=(0.0, alpha_max)) for err in self.test_error]

    def monotone(self) -> np.ndarray:
        """Per seed, whether the test error strictly decreases with ``alpha`` (shape (S,))."""
        return np.all(np.diff(self.test_error, axis=1) < 0, axis=1)

    def run_index(self, seed_index: int, alpha_index: int) -> int:
        """Index in ``result`` of the run with the given seed and scale positions."""
        s = v.integer("seed_index", seed_index, minimum=0, maximum=len(self.seeds) - 1)
        a = v.integer("alpha_index", alpha_index, minimum=0, maximum=len(self.alphas) - 1)
        return s * len(self.alphas) + a


def alpha_sweep(problem: Problem, *, k: int, alphas, seeds, eta: float, iters: int,
                exact_alphas=(), record_every: int = 50) -> AlphaSweep:
    """Run factorized gradient descent for every (seed, alpha) pair in one batch.

    Parameters
    ----------
    problem : Problem
        Asymmetric problem; every run shares its operator.
    k : int >= r, keyword-only
        Width of the factors of the over-parameterized runs.
    alphas : sequence of float > 0, keyword-only
        At least two distinct initialization scales (sorted decreasingly on output).
    seeds : sequence of int >= 0, keyword-only
        Distinct initialization seeds.
    eta : float > 0, keyword-only
        Step size; runs whose initial factors are large get ``min(eta, 1/L0)`` (:func:`step_sizes`).
    iters : int >= 1, keyword-only
        Number of gradient steps of every run.
    exact_alphas : sequence of float > 0, keyword-only
        Scales of extra runs with ``k = r`` (exact parameterization), first seed.
    record_every : int >= 1, keyword-only
        Recording interval of the curves in ``AlphaSweep.result``.

    Returns
    -------
    AlphaSweep
    """
    problem = v.problem(problem)
    r = problem.target.r
    k = v.integer("k", k, minimum=r)
    a = sorted(v.sweep("alphas", alphas, lambda n, x: v.real(n, x, positive=True)), reverse=True)
    if len(a) < 2 or len(set(a)) != len(a):
        raise ValueError(f"alphas must hold at least two distinct values > 0, got {a}")
    s = v.sweep("seeds", seeds, lambda n, x: v.integer(n, x, minimum=0))
    if len(set(s)) != len(s):
        raise ValueError(f"seeds must be distinct, got {s}")
    e = [] if len(exact_alphas) == 0 else v.sweep("exact_alphas", exact_alphas,
                                                   lambda n, x: v.real(n, x, positive=True))
    v.integer("iters", iters, minimum=1)
    ks = [k] * (len(s) * len(a)) + [r] * len(e)
    al = [x for _ in s for x in a] + list(e)
    se = [y for y in s for _ in a] + [s[0]] * len(e)
    etas = step_sizes(problem, k=ks, alpha=al, seed=se, eta=eta)
    res = run_gd(problem, k=ks, alpha=al, eta=etas.tolist(), seed=se, iters=iters, record_every=record_every)
    S, A, n = len(s), len(a), len(s) * len(a)
    return AlphaSweep(alphas=np.array(a), seeds=np.array(s), k=k,
                      test_error=res.rel_error[:n, -1].reshape(S, A), train_loss=res.loss[:n, -1].reshape(S, A),
                      sigma_extra=(res.singular_values[:n, -1, r] if res.singular_values.shape[2] > r
                                   else np.zeros(n)).reshape(S, A),
                      eta=etas[:n].reshape(S, A), exact_alphas=np.array(e, dtype=float),
                      exact_error=res.rel_error[n:, -1], exact_loss=res.loss[n:, -1], result=res)


# ---------------------------------------------------------------------------- escape times
@dataclass(frozen=True)
class EscapeSlopes:
    """Predicted slopes of the hitting times against :math:`\\ln(1/\\alpha)`.

    Attributes
    ----------
    spectral : ndarray (r,)
        :math:`1/\\ln(1+\\mu\\,\\sigma_i(\\mathcal A^*y))`, the linearized law with the
        spectral estimate's singular values.
    truth : ndarray (r,)
        :math:`1/\\ln(1+\\mu\\,\\sigma_i)`, the same with the true singular values.
    """

    spectral: np.ndarray
    truth: np.ndarray


def escape_slopes(problem: Problem, *, eta: float) -> EscapeSlopes:
    """Slopes ``1/ln(1 + eta*sigma)`` for the spectral estimate's and the true singular values.

    Parameters
    ----------
    problem : Problem
    eta : float > 0, keyword-only
        Step size (paper A's ``mu``).

    Returns
    -------
    EscapeSlopes
    """
    problem = v.problem(problem)
    eta = v.real("eta", eta, positive=True)
    r = problem.target.r
    return EscapeSlopes(spectral=1.0 / np.log1p(eta * problem.spectral_sigma[:r]),
                        truth=1.0 / np.log1p(eta * problem.target.sigma))


def hitting_times(result: GDResult, sigma, *, fraction: float = 0.5) -> np.ndarray:
    """First recorded ``t`` with :math:`\\sigma_i(X_t)\\ge` ``fraction`` :math:`\\cdot\\sigma_i`, per run and ``i``.

    Parameters
    ----------
    result : GDResult
        Recorded runs (use a small ``record_every``: the times are only as fine as the records).
    sigma : sequence of float > 0, length r
        Reference singular values (the truth's).
    fraction : float in (0, 1], keyword-only

    Returns
    -------
    ndarray of shape (B, r)
        NaN where the level is never reached.
    """
    if not isinstance(result, GDResult):
        raise ValueError(f"result must be a GDResult, got {type(result).__name__}")
    sigma = v.array("sigma", sigma, ndim=1)
    if sigma.size == 0 or np.any(sigma <= 0):
        raise ValueError("sigma must hold at least one positive value")
    if sigma.size > result.singular_values.shape[2]:
        raise ValueError(f"sigma has {sigma.size} values but the runs record only "
                         f"{result.singular_values.shape[2]} singular values")
    fraction = v.real("fraction", fraction, positive=True)
    if fraction > 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    B = result.batch_size
    out = np.empty((B, sigma.size))
    for b in range(B):
        for i, s in enumerate(sigma):
            out[b, i] = hitting_time(result.t, result.singular_values[b, :, i], fraction * s,
                                     direction="above").time
    return out


def escape_fits(alphas, times) -> list[Fit]:
    """Least-squares lines of the hitting times against :math:`\\ln(1/\\alpha)`, one per direction.

    Parameters
    ----------
    alphas : array_like (B,), positive
    times : array_like (B, r)
        From :func:`hitting_times`.

    Returns
    -------
    list of Fit, one per column of ``times``
        ``estimate`` is the slope (iterations per unit of :math:`\\ln(1/\\alpha)`).
    """
    alphas = v.array("alphas", alphas, ndim=1)
    if np.any(alphas <= 0):
        raise ValueError("alphas must be positive")
    times = np.asarray(times, dtype=float)
    if times.ndim != 2 or times.shape[0] != alphas.size:
        raise ValueError(f"times must have shape ({alphas.size}, r), got {times.shape}")
    x = np.log(1.0 / alphas)
    return [fit_line(x, times[:, i]) for i in range(times.shape[1])]


def two_stage_slope(b1: float, *, eta: float, sigma_early: float, sigma_late: float) -> float:
    """Slope of the second hitting time when its growth rate changes once direction 1 is learned.

    Direction 2 grows by the factor :math:`(1+\\mu\\tilde\\sigma)^2` per step in
    :math:`U_tV_t^\\top`, with :math:`\\tilde\\sigma` = ``sigma_early`` until the first
    direction is learned (at :math:`b_1\\ln(1/\\alpha)+O(1)`) and ``sigma_late``
    afterwards. It must grow by :math:`2\\ln(1/\\alpha)+O(1)` in logarithm, so its
    slope is

    .. math:: b_2 = b_1 + \\frac{1 - b_1\\ln(1+\\mu\\sigma_{\\rm early})}{\\ln(1+\\mu\\sigma_{\\rm late})}.

    Parameters
    ----------
    b1 : float > 0
        Slope of the first hitting time.
    eta, sigma_early, sigma_late : float > 0, keyword-only

    Returns
    -------
    float
    """
    b1 = v.real("b1", b1, positive=True)
    eta = v.real("eta", eta, positive=True)
    se = v.real("sigma_early", sigma_early, positive=True)
    sl = v.real("sigma_late", sigma_late, positive=True)
    return b1 + (1.0 - b1 * np.log1p(eta * se)) / np.log1p(eta * sl)


def first_time(t, curve, level: float, *, direction: str = "below") -> float:
    """First recorded ``t`` at which ``curve`` is past ``level`` (NaN if never); see :func:`opsense.hitting_time`."""
    return hitting_time(t, curve, level, direction=direction).time


# ---------------------------------------------------------------------------- figures
def plot_generalization(sweep: AlphaSweep, *, fit_alpha_max: float | None = None, exponent: float | None = None,
                        curves_seed: int = 0):
    """Figure of the generalization chapter.

    Left: final test error (per seed) and training loss against ``alpha`` (log-log),
    with the exact-rank runs. Right: test error against the iteration for each
    ``alpha`` (first seed).

    Parameters
    ----------
    sweep : AlphaSweep
    fit_alpha_max, exponent : float, keyword-only, optional
        Draw the fitted power law ``alpha**exponent`` over ``alpha <= fit_alpha_max``
        through the geometric mean of the first seed's errors there.
    curves_seed : int, keyword-only
        Position of the seed whose curves are drawn on the right.

    Returns
    -------
    fig, (ax_alpha, ax_time)
    """
    from .plotting import figure, param_label

    if not isinstance(sweep, AlphaSweep):
        raise ValueError(f"sweep must be an AlphaSweep, got {type(sweep).__name__}")
    fig, (ax1, ax2) = figure(ncols=2, width=10.0, height=3.8)
    a = sweep.alphas
    for j, (s, err) in enumerate(zip(sweep.seeds, sweep.test_error)):
        ax1.loglog(a, err, "o-", color="C0", alpha=0.5 + 0.5 / (j + 1), ms=4,
                   label=f"test error, k = {sweep.k}, seed {s}")
    ax1.loglog(a, sweep.train_loss.max(axis=0), "s--", color="C1", ms=4,
               label=f"training loss (max over seeds), k = {sweep.k}")
    if sweep.exact_alphas.size:
        r = int(sweep.result.k[-1])
        ax1.loglog(sweep.exact_alphas, np.maximum(sweep.exact_error, 1e-17), "D", color="C2", ms=6,
                   label=f"test error, k = r = {r}")
    if exponent is not None and fit_alpha_max is not None:
        sel = a <= fit_alpha_max
        c = np.exp(np.mean(np.log(sweep.test_error[0, sel]) - exponent * np.log(a[sel])))
        ax1.loglog(a[sel], c * a[sel] ** exponent, "k:", lw=1.2, label=f"fit: α^{exponent:.2f}")
    ax1.set_xlabel("initialization scale α")
    ax1.set_ylabel("relative test error / training loss")
    ax1.set_title("end of training, asymmetric UVᵀ")
    ax1.legend(fontsize=7.5)
    res = sweep.result
    sj = v.integer("curves_seed", curves_seed, minimum=0, maximum=len(sweep.seeds) - 1)
    for i, al in enumerate(a):
        b = sweep.run_index(sj, i)
        ax2.semilogy(res.t, res.rel_error[b], label=param_label("alpha", float(al)))
    ax2.set_xlabel("iteration t")
    ax2.set_ylabel("relative test error")
    ax2.set_title(f"k = {sweep.k}, seed {sweep.seeds[sj]}")
    ax2.legend(fontsize=7.5, ncols=2)
    return fig, (ax1, ax2)


def plot_phases(result: GDResult, index: int, sigma, *, t_align: float, t_hits, t_max: int | None = None):
    """Figure of the three phases for one run.

    Left: test error and the sines of the alignment angles with the spectral
    estimate and with the truth. Right: the leading singular values of
    :math:`U_tV_t^\\top` with the levels :math:`\\sigma_i/2`. Vertical lines: the
    alignment time and the hitting times.

    Parameters
    ----------
    result : GDResult
    index : int
        Run to draw.
    sigma : sequence of float
        True singular values.
    t_align : float, keyword-only
        End of the alignment phase.
    t_hits : sequence of float, keyword-only
        Hitting times of :math:`\\sigma_i/2`.
    t_max : int, keyword-only, optional
        Right end of the time axis.

    Returns
    -------
    fig, (ax_error, ax_sv)
    """
    from .plotting import figure

    if not isinstance(result, GDResult):
        raise ValueError(f"result must be a GDResult, got {type(result).__name__}")
    b = v.integer("index", index, minimum=0, maximum=result.batch_size - 1)
    sigma = v.array("sigma", sigma, ndim=1)
    t = result.t
    fig, (ax1, ax2) = figure(ncols=2, width=10.0, height=3.8)
    ax1.semilogy(t, result.rel_error[b], label="relative test error")
    ax1.semilogy(t, result.angle_spectral[b], label="sin angle to top-r of A*(y)")
    ax1.semilogy(t, result.angle_truth[b], label="sin angle to top-r of X*")
    nsv = min(result.singular_values.shape[2], sigma.size + 2)
    for i in range(nsv):
        ax2.semilogy(t, result.singular_values[b, :, i], color=f"C{i}", label=f"σ_{i + 1}(UVᵀ)")
        if i < sigma.size:
            ax2.axhline(sigma[i] / 2, color=f"C{i}", ls=":", lw=1)
    t_last = float(np.nanmax(t_hits)) if len(t_hits) else float(t[-1])
    right = float(t_max) if t_max is not None else float(t[-1])
    for name, lo, hi in (("I", 0.0, t_align), ("II", t_align, t_last), ("III", t_last, right)):
        if np.isfinite(lo) and np.isfinite(hi) and hi > lo:
            ax1.text((lo + hi) / 2, 1.02, name, transform=ax1.get_xaxis_transform(), ha="center",
                     va="bottom", fontsize=9, color="0.3")
    for ax in (ax1, ax2):
        ax.axvline(t_align, color="0.3", ls="--", lw=1)
        for th in t_hits:
            ax.axvline(th, color="0.6", ls="-.", lw=1)
        ax.set_xlabel("iteration t")
        if t_max is not None:
            ax.set_xlim(0, t_max)
    ax1.set_ylabel("error / sine of angle")
    ax1.set_title(f"α = {result.alpha[b]:g}, k = {result.k[b]}: phases", pad=16)
    ax2.set_ylabel("singular value")
    ax2.set_title("incremental learning (dotted: σ_i/2)")
    ax1.legend(fontsize=7.5)
    ax2.legend(fontsize=7.5)
    return fig, (ax1, ax2)


def plot_escape(alphas, times, fits, slopes: EscapeSlopes):
    """Hitting times against :math:`\\ln(1/\\alpha)` with the fitted and predicted slopes.

    Parameters
    ----------
    alphas : array_like (B,)
    times : array_like (B, r)
    fits : list of Fit
        From :func:`escape_fits`.
    slopes : EscapeSlopes

    Returns
    -------
    fig, ax
    """
    from .plotting import figure

    alphas = v.array("alphas", alphas, ndim=1)
    times = np.asarray(times, dtype=float)
    x = np.log(1.0 / alphas)
    fig, ax = figure(width=6.4, height=3.8)
    for i, f in enumerate(fits):
        ax.plot(x, times[:, i], "o", color=f"C{i}", label=f"t_{i + 1}: first σ_{i + 1}(UVᵀ) ≥ σ_{i + 1}/2")
        ax.plot(x, f.intercept + f.slope * x, "-", color=f"C{i}", lw=1, label=f"fit: slope {f.slope:.2f}")
        xm, ym = x.mean(), np.nanmean(times[:, i])
        ax.plot(x, ym + slopes.spectral[i] * (x - xm), ":", color=f"C{i}", lw=1.2,
                label=f"1/ln(1+μσ_{i + 1}(A*y)) = {slopes.spectral[i]:.2f}")
        if i > 0:
            ax.plot(x, ym + slopes.truth[i] * (x - xm), "--", color=f"C{i}", lw=1,
                    label=f"1/ln(1+μσ_{i + 1}) = {slopes.truth[i]:.2f}")
    ax.set_xlabel("ln(1/α)")
    ax.set_ylabel("hitting time (iterations)")
    ax.set_title("escape times are linear in ln(1/α)")
    ax.legend(fontsize=7.5)
    return fig, ax
