"""Factorized gradient descent for matrix sensing, batched over runs that share one operator.

Two parameterizations, with the losses and step-size conventions of the papers' notes:

``"symmetric"`` (paper B, :math:`M=XX^\\top`, :math:`X\\in\\mathbb R^{n\\times k}`)
    :math:`f(X)=\\tfrac14\\|\\mathcal A(XX^\\top)-y\\|_2^2`,
    :math:`X_{t+1}=X_t-\\eta\\,\\mathrm{sym}(D_t)\\,X_t` with
    :math:`D_t=\\mathcal A^*(\\mathcal A(X_tX_t^\\top)-y)` and
    :math:`\\mathrm{sym}(D)=(D+D^\\top)/2`.

``"asymmetric"`` (paper A's :math:`UV^\\top`, paper B's :math:`FG^\\top`)
    :math:`f(U,V)=\\tfrac12\\|\\mathcal A(UV^\\top)-y\\|_2^2`, simultaneous updates
    :math:`U_{t+1}=U_t-\\eta D_tV_t`, :math:`V_{t+1}=V_t-\\eta D_t^\\top U_t`,
    :math:`D_t=\\mathcal A^*(\\mathcal A(U_tV_t^\\top)-y)` (paper A writes
    :math:`M_t=-D_t` and calls the step :math:`\\mu`).

Runs advance together: the factors are stacked as ``(B, n, k_max)`` (zero-padded
in ``k``; zero columns receive exactly zero gradient). Runs that share the operator
(sweeps over ``alpha``, ``eta``, ``seed`` and ``k``) apply it with one
matrix-matrix product (with one matrix-vector product per run for up to
:data:`SMALL_BATCH` runs, where that is faster); independent instances (a list of
problems: other targets, other operators) are batched too, each operator applied to
its own runs. A symmetric operator is applied in its packed form
(:attr:`~opsense.SensingOperator.packed`, ``n(n+1)/2`` entries per
measurement): half the bytes and flops. Metrics are recorded every
``record_every`` iterations; iterates are never stored.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .. import _validate as v
from .factors import INITS, initial_factors, rebalance
from .operators import packed_index
from .progress import reporter
from .problems import Problem, check_problem, scaled_norm

__all__ = ["GDResult", "DivergenceError", "run_gd", "step_sizes", "DEFAULT_TOL", "METRICS"]

PARAMETERIZATIONS = ("asymmetric", "symmetric")
#: The optional metric groups of :func:`run_gd` (``metrics=``); ``error``, ``rel_error`` and
#: ``residual`` are always recorded (the divergence check and ``converged`` need them).
METRICS = ("loss", "singular_values", "imbalance", "coupling", "angles", "lifted")


DEFAULT_TOL = 1e-6
"""Default ``tol`` of :func:`run_gd`: a run counts as converged when its final relative residual is ``<= 1e-6``."""

DIVERGENCE_FACTOR = 1e6
"""A run diverged when ``||A(X_t) - y||_2 > 1e6 * (||y||_2 + 1)`` (or ``||X_t - X*||_F > 1e6 * (||X*||_F + 1)``)."""

LARGEST_SCALE = 1e150
"""Largest ``||y||_2`` (and ``sigma_1(A*(y))``) the engine can run: beyond it squared quantities
(the loss, ``||U||^2``) come within a few orders of magnitude of float64 overflow (~1.8e308)."""


class DivergenceError(FloatingPointError):
    """Gradient descent diverged; the message names the likely cause and its safe bound.

    The cause is one of: the target scale (``||y||`` or ``sigma_1(A*(y))`` too large for
    float64: no representable step is safe), the initialization scale (``||U0||^2 + ||V0||^2``
    above ``sigma_1(A*(y))``, or a start already outside the divergence bound), or the step
    size (``eta`` above ``1/(3 sigma_1(A*(y)))``).
    """


@dataclass
class GDResult:
    """Recorded curves of a batch of ``B`` gradient-descent runs.

    Every curve has shape ``(B, T)`` (``T = len(t)``), one row per run; the runs'
    parameters are in ``k``, ``alpha``, ``eta`` and ``seed`` (shape ``(B,)``).
    :math:`X_t` denotes :math:`U_tV_t^\\top` (or :math:`X_tX_t^\\top` for the symmetric
    parameterization, where ``V`` is ``U``), and :math:`X^\\star` the ground truth.

    Attributes
    ----------
    parameterization : str
    t : ndarray of int, shape (T,)
        Iterations at which the metrics were recorded (``0`` and ``iters`` included).
    error : (B, T)
        :math:`\\|X_t-X^\\star\\|_F`.
    rel_error : (B, T)
        :math:`\\|X_t-X^\\star\\|_F/\\|X^\\star\\|_F`.
    loss : (B, T)
        Training loss :math:`f` (1/4 or 1/2 convention as above).
    residual : (B, T)
        Relative residual :math:`\\|\\mathcal A(X_t)-y\\|_2/\\|y\\|_2`, computable from data alone.
    singular_values : (B, T, s)
        All ``s = min(n1, n2, k_max)`` leading singular values of :math:`X_t`, decreasing.
    imbalance_op, imbalance_fro : (B, T)
        :math:`\\|U_t^\\top U_t-V_t^\\top V_t\\|` in operator and Frobenius norm
        (identically 0 for the symmetric parameterization).
    coupling : (B, T)
        :math:`\\|U_\\star^\\top U_t-V_\\star^\\top V_t\\|` (operator norm).
    angle_truth, angle_spectral : (B, T)
        Sine of the largest principal angle between the top-``r`` left/right singular
        subspaces of :math:`X_t` and those of :math:`X^\\star` (resp. of the spectral
        estimate :math:`\\mathcal A^*(y)`); the larger of the left and right values.
    lifted_plus, lifted_minus : (B, T, r)
        Norms :math:`\\|[u_i;\\pm v_i]^\\top W_t\\|_2/\\sqrt2` of the lifted factor
        :math:`W_t=[U_t;V_t]` along the eigenvectors of the dilation of :math:`X^\\star`.
    U, V : (B, n1, k_max), (B, n2, k_max)
        Final factors (zero-padded beyond each run's ``k``).
    k, alpha, eta, seed : (B,)
        Parameters of each run (``alpha`` is NaN for user-supplied initial factors).
    rebalanced_at : (B,) int
        Iteration of the one-step rebalancing, ``-1`` if it did not happen.
    converged : (B,) bool
        Whether the run's final relative residual ``residual[:, -1]`` is ``<= tol`` (the ``tol``
        of :func:`run_gd`, default ``1e-6``). A run that ends neither converged nor diverged
        (too few iterations, a slow or oscillating step) is returned normally with ``False``
        here; nothing is raised. Defaults to ``residual[:, -1] <= 1e-6`` when not given.
    """

    parameterization: str
    t: np.ndarray
    error: np.ndarray
    rel_error: np.ndarray
    loss: np.ndarray
    residual: np.ndarray
    singular_values: np.ndarray
    imbalance_op: np.ndarray
    imbalance_fro: np.ndarray
    coupling: np.ndarray
    angle_truth: np.ndarray
    angle_spectral: np.ndarray
    lifted_plus: np.ndarray
    lifted_minus: np.ndarray
    U: np.ndarray
    V: np.ndarray
    k: np.ndarray
    alpha: np.ndarray
    eta: np.ndarray
    seed: np.ndarray
    rebalanced_at: np.ndarray
    converged: np.ndarray | None = None

    def __post_init__(self):
        if self.converged is None:
            self.converged = np.asarray(self.residual)[:, -1] <= DEFAULT_TOL

    @property
    def batch_size(self) -> int:
        return self.error.shape[0]

    def member(self, i: int) -> "GDResult":
        """The ``i``-th run as a batch of one (final factors trimmed to its ``k``)."""
        i = v.integer("i", i, minimum=-self.batch_size, maximum=self.batch_size - 1)
        out = {}
        for f in fields(self):
            val = getattr(self, f.name)
            out[f.name] = val if f.name in ("parameterization", "t") else val[i:i + 1 or None]
        k = int(self.k[i])
        out["U"], out["V"] = out["U"][:, :, :k], out["V"][:, :, :k]
        return GDResult(**out)


# ---------------------------------------------------------------------------- initialization


# ---------------------------------------------------------------------------- rebalancing


# ---------------------------------------------------------------------------- the loop
def _broadcast(**lists):
    n = max(len(x) for x in lists.values())
    for name, x in lists.items():
        if len(x) not in (1, n):
            raise ValueError(f"{name} has {len(x)} values but other sweeps have {n}; "
                             f"sweeps must have equal lengths (or length 1)")
    return n, {name: (x * n if len(x) == 1 else x) for name, x in lists.items()}


def _user_init(init, parameterization, n1, n2):
    """Validate user-supplied initial factors; return stacks (B, n1, k), (B, n2, k)."""
    if parameterization == "symmetric":
        X0 = v.array("init", init, ndim=(2, 3))
        X0 = X0[None] if X0.ndim == 2 else X0
        if X0.shape[1] != n1:
            raise ValueError(f"init must have shape ({n1}, k) or (B, {n1}, k), got {X0.shape}")
        return X0, X0
    if not (isinstance(init, (tuple, list)) and len(init) == 2):
        raise ValueError("init must be 'random', 'imbalanced', 'balanced' or a pair of arrays (U0, V0)")
    U0 = v.array("init[0] (U0)", init[0], ndim=(2, 3))
    V0 = v.array("init[1] (V0)", init[1], ndim=(2, 3))
    U0 = U0[None] if U0.ndim == 2 else U0
    V0 = V0[None] if V0.ndim == 2 else V0
    if U0.shape[1] != n1 or V0.shape[1] != n2 or U0.shape[2] != V0.shape[2] or U0.shape[0] != V0.shape[0]:
        raise ValueError(f"init (U0, V0) must have shapes ({n1}, k) and ({n2}, k) (or stacks of B), "
                         f"got {U0.shape} and {V0.shape}")
    return U0, V0


def _problems(problem) -> list[Problem]:
    """One problem, or a non-empty sequence of problems of one shape, rank and operator kind."""
    if isinstance(problem, Problem):
        return [problem]
    if isinstance(problem, (list, tuple)) and problem:
        probs = [check_problem(p) for p in problem]
        first = probs[0]
        for i, p in enumerate(probs[1:], 1):
            if (p.target.shape != first.target.shape or p.target.r != first.target.r
                    or p.operator.m != first.operator.m or p.operator.symmetric != first.operator.symmetric
                    or (p.operator.matrix is None) != (first.operator.matrix is None)
                    or p.target.psd != first.target.psd):
                raise ValueError(f"problem[{i}] differs from problem[0] in shape, rank, m or operator kind; "
                                 "a batch of problems needs the same (n1, n2), r, m and operator kind")
        return probs
    return [check_problem(problem)]


def run_gd(problem, *, k=None, alpha=None, eta, iters: int,
           parameterization: str = "asymmetric", init="random", ratio: float = 1 / 3, seed=0,
           record_every: int = 10, rebalance_tol: float | None = None,
           rebalance_at: int | None = None, tol: float = DEFAULT_TOL, progress=None,
           metrics="all") -> GDResult:
    """Run (a batch of) factorized gradient descent on a sensing problem.

    ``k``, ``alpha``, ``eta`` and ``seed`` each take a scalar or a 1-D sequence;
    sequences of equal length define the runs of the batch (length-1 values are
    broadcast). All runs share ``problem.operator``, so each iteration applies it
    with two matrix-matrix products (two matrix-vector products per run for batches of up
    to ``SMALL_BATCH = 4``, bitwise the runs alone). A larger batch gives the same curves as
    each member run alone up to rounding: its matrix-matrix product sums in
    another order, and gradient descent carries those last-bit differences along.
    Measured (numpy 2.4 with its bundled OpenBLAS, sizes 8x7 to 50x50, k <= 10,
    300 to 2000 iterations, batches of 2 to 8, both parameterizations), relative to
    the largest value of each curve: error, loss, residual, singular values and
    angles within 5e-15, the imbalance (a difference of two nearly equal Gram
    matrices) within 4e-12. The deviation is absolute rounding at the curve's
    scale, so pointwise (each value against itself) it grows as a curve decays:
    about 1e-16 times (first value / value), e.g. 3e-9 where an error curve has
    fallen to 1e-9 of its start, and of order one at the rounding floor (~1e-15);
    the imbalance, which does not decay, deviated pointwise by at most 6e-11
    (an earlier measurement on other sizes found 2e-10). Documented bounds, with
    margin: 1e-12 of each curve's largest value; 1e-9 for the imbalance, relative
    to its largest value and pointwise.
    Other BLAS builds or thread counts may differ by more. A batch of independent
    problems with their own operators (one matrix-vector product per run) matched
    the runs alone bitwise, and the same call repeated is bitwise identical.
    Independent operators are used where they are, never copied into a stack: the runs of
    one operator (instances times conditions, in any order) advance together, with a
    matrix-vector product for a lone run (bitwise the run alone) and a matrix-matrix
    product for several (bitwise a batch of them sharing the operator).

    Parameters
    ----------
    problem : Problem or sequence of Problem
        From :func:`opsense.make_problem` or :meth:`Problem.from_parts`. A sequence of
        problems (independent instances: other targets and operators, with the same
        ``n1, n2, r, m``) is one more sweep: run ``b`` solves ``problem[b]``.
    k : int or sequence of int >= 1, keyword-only
        Number of columns of the factors. Inferred from ``init`` when it is arrays.
    alpha : float > 0 or sequence, keyword-only
        Initialization scale (see :func:`initial_factors`); unused with array ``init``.
    eta : float > 0 or sequence, keyword-only
        Step size (paper A's ``mu``).
    iters : int >= 1, keyword-only
        Number of gradient steps.
    parameterization : {"asymmetric", "symmetric"}, keyword-only
        ``"symmetric"`` needs a PSD target.
    init : {"random", "imbalanced", "balanced"} or arrays, keyword-only
        Initialization (see :func:`initial_factors`), or user-supplied factors:
        ``(U0, V0)`` of shapes ``(n1, k)``, ``(n2, k)`` (or stacks ``(B, ., k)``) for
        the asymmetric, one array ``X0`` for the symmetric parameterization.
    ratio : float in (0, 1], keyword-only
        Scale of ``V0`` relative to ``U0`` for ``init="imbalanced"`` (default 1/3).
    seed : int or sequence of int >= 0, keyword-only
        Seed of each run's initialization.
    record_every : int >= 1, keyword-only
        Record the metrics every this many iterations (and at ``iters``).
    rebalance_tol : float in (0, 1), keyword-only, optional
        Apply :func:`rebalance` to a run once, at the first iteration where its
        relative residual ``||A(UV^T) - y|| / ||y||`` is ``<= rebalance_tol``.
    rebalance_at : int, keyword-only, optional
        Apply :func:`rebalance` once at this iteration instead (``0 <= . < iters``).
    tol : float > 0, keyword-only
        Convergence tolerance on the final relative residual ``||A(X_T) - y|| / ||y||``
        (default ``1e-6``): it sets ``GDResult.converged``. Not converging is not an
        error; check ``result.converged``.
    metrics : "all" or collection of str, keyword-only
        The metric groups to record besides ``error``, ``rel_error`` and ``residual`` (always
        recorded): any of ``"loss"``, ``"singular_values"``, ``"imbalance"`` (``imbalance_op``,
        ``imbalance_fro``), ``"coupling"``, ``"angles"`` (``angle_truth``, ``angle_spectral``) and
        ``"lifted"`` (``lifted_plus``, ``lifted_minus``). The curves of the others are NaN. Default
        ``"all"``. Recording costs a few small factorizations per recorded iteration, which at the
        book's size (``n = 20``) is most of the run's time; the recorded values do not depend on it.
    progress : callable, keyword-only, optional
        ``progress(done, total)``, called with the steps done and ``iters`` at most every
        0.25 s (at recorded iterations) and at the end. Without it, and when the environment
        variable ``OPSENSE_PROGRESS`` names a file, the steps are appended there
        (:mod:`opsense.engine.progress`; ``opsense run`` draws its bar from it).

    Returns
    -------
    GDResult

    Raises
    ------
    ValueError
        For any invalid argument, before any work.
    DivergenceError
        Checked at every iteration (from the residual, which each step computes anyway;
        no extra operator product and no change to the arithmetic): when
        ``||A(X_t) - y||_2`` is not finite or exceeds ``1e6 * (||y||_2 + 1)``, and at
        the recorded iterations also when ``||X_t - X*||_F > 1e6 * (||X*||_F + 1)``.
        The message names the likely cause against its safe bound: the target scale
        (``||y|| <= 1e150``), the initialization (``||U0||^2 + ||V0||^2 <= sigma_1(A*(y))``,
        i.e. a bound on ``alpha``) or the step size (``eta <= 1/(3 sigma_1(A*(y)))``).
        Together the last two give ``eta * L0 <= 2/3`` for the smoothness scale ``L0``
        of :func:`step_sizes`.
    """
    problems = _problems(problem)
    problem = problems[0]
    parameterization = v.choice("parameterization", parameterization, PARAMETERIZATIONS)
    sym = parameterization == "symmetric"
    n1, n2 = problem.target.shape
    if sym and not problem.target.psd:
        raise ValueError("parameterization='symmetric' needs a PSD target: make_problem(..., psd=True)")
    iters = v.integer("iters", iters, minimum=1)
    record_every = v.integer("record_every", record_every, minimum=1)
    etas = v.sweep("eta", eta, lambda n, x: v.real(n, x, positive=True))
    if rebalance_tol is not None and rebalance_at is not None:
        raise ValueError("give rebalance_tol or rebalance_at, not both")
    if (rebalance_tol is not None or rebalance_at is not None) and sym:
        raise ValueError("rebalancing applies to the asymmetric parameterization only")
    if rebalance_tol is not None:
        rebalance_tol = v.real("rebalance_tol", rebalance_tol, positive=True, below=1.0)
    if rebalance_at is not None:
        rebalance_at = v.integer("rebalance_at", rebalance_at, minimum=0, maximum=iters - 1)
    tol = v.real("tol", tol, positive=True)
    report = reporter(progress)
    if isinstance(metrics, str) and metrics == "all":
        wanted = frozenset(METRICS)
    else:
        if isinstance(metrics, str) or not hasattr(metrics, "__iter__"):
            raise ValueError(f'metrics must be "all" or a collection of {", ".join(METRICS)}, got {metrics!r}')
        wanted = frozenset(metrics)
        unknown = sorted(str(x) for x in wanted - set(METRICS))
        if unknown:
            raise ValueError(f"metrics: unknown metric {unknown[0]!r}; allowed: {', '.join(METRICS)} (or \"all\")")

    if isinstance(init, str):
        init = v.choice("init", init, INITS)
        if sym and init != "random":
            raise ValueError("the symmetric parameterization takes init='random' or an array X0")
        if k is None or alpha is None:
            raise ValueError(f"init={init!r} needs k (integer >= 1) and alpha (> 0)")
        ks = v.sweep("k", k, lambda n, x: v.integer(n, x, minimum=1))
        alphas = v.sweep("alpha", alpha, lambda n, x: v.real(n, x, positive=True))
        ratio = v.real("ratio", ratio, positive=True)
        seeds = v.sweep("seed", seed, lambda n, x: v.integer(n, x, minimum=0))
        B, s = _broadcast(k=ks, alpha=alphas, eta=etas, seed=seeds, problem=problems)
        ks, alphas, etas, seeds, problems = s["k"], s["alpha"], s["eta"], s["seed"], s["problem"]
        K = max(ks)
        U = np.zeros((B, n1, K))
        V = U if sym else np.zeros((B, n2, K))
        for b in range(B):
            U0, V0 = initial_factors(n1, n2, ks[b], alphas[b], init=init, ratio=ratio, seed=seeds[b])
            U[b, :, :ks[b]] = U0
            if not sym:
                V[b, :, :ks[b]] = V0
    else:
        U0, V0 = _user_init(init, parameterization, n1, n2)
        K = U0.shape[2]
        if k is not None and any(kk != K for kk in v.sweep("k", k, lambda n, x: v.integer(n, x, minimum=1))):
            raise ValueError(f"k must equal the number of columns of init ({K}) or be omitted")
        B, s = _broadcast(init=[None] * U0.shape[0], eta=etas, problem=problems)
        etas, problems = s["eta"], s["problem"]
        U = np.array(np.broadcast_to(U0, (B, n1, K)))
        V = U if sym else np.array(np.broadcast_to(V0, (B, n2, K)))
        ks, alphas, seeds = [K] * B, [np.nan] * B, [-1] * B

    with np.errstate(over="ignore", invalid="ignore"):  # a huge target scale is diagnosed in the loop
        loop = _Loop(problems, sym, B, K, wanted)
        loop.start(U, V, etas, alphas, ks)
    eta_b = np.asarray(etas)[:, None, None]
    rebalanced_at = np.full(B, -1)
    pending = np.full(B, rebalance_tol is not None or rebalance_at is not None)
    res_bound = loop.res_bound
    # The per-iteration divergence check costs one dot product of the residual with itself (no
    # operator product, nothing written): sum_b ||res_b||^2 <= min_b bound_b^2 clears every run at
    # once (NaN and inf fail it); only otherwise are the runs' norms compared one by one.
    res_bound_sq = float(np.min(res_bound)) ** 2
    if B == 1 and not pending.any():
        with np.errstate(over="ignore", invalid="ignore"):
            _run_single(loop, U, V, sym, eta=float(etas[0]), iters=iters, record_every=record_every,
                        report=report, res_bound_sq=res_bound_sq)
        return loop.result(parameterization, U, V, ks, alphas, etas, seeds, rebalanced_at, tol)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(iters + 1):
            X = np.matmul(U, np.swapaxes(V, 1, 2))
            res = loop.residual(X)
            if not np.vdot(res, res) <= res_bound_sq:
                rn = np.linalg.norm(res, axis=1)
                if not (rn <= res_bound).all():
                    loop.diverged(t, ~(rn <= res_bound), "residual", rn)
            if t % record_every == 0 or t == iters:
                loop.record(t, U, V, X, res)
                if report is not None:
                    report(t, iters)
            if t == iters:
                break
            if pending.any():
                if rebalance_at is not None:
                    hit = pending & (t == rebalance_at)
                else:
                    hit = pending & (np.linalg.norm(res, axis=1) <= rebalance_tol * np.asarray(loop.ynorm))
                for b in np.flatnonzero(hit):
                    kb = ks[b]
                    U[b, :, :kb], V[b, :, :kb] = rebalance(U[b, :, :kb], V[b, :, :kb])
                    rebalanced_at[b] = t
                    pending[b] = False
            D = loop.adjoint(res)
            if sym:
                if not loop.op_symmetric:
                    D = 0.5 * (D + np.swapaxes(D, 1, 2))
                U -= eta_b * np.matmul(D, U)
            else:
                Dt = D if loop.op_symmetric else np.swapaxes(D, 1, 2)
                gU = np.matmul(D, V)
                gV = np.matmul(Dt, U)
                U -= eta_b * gU
                V -= eta_b * gV
    return loop.result(parameterization, U, V, ks, alphas, etas, seeds, rebalanced_at, tol)


def _run_single(loop, U, V, sym: bool, *, eta: float, iters: int, record_every: int, report, res_bound_sq: float):
    """The loop of :func:`run_gd` for one run (``B = 1``, no rebalancing), in place on ``U``, ``V``.

    The same products in the same order as the batched loop (bitwise the same curves), written
    on 2-D views with preallocated buffers (``out=``), so that at small sizes the iteration costs
    little more than its two matrix-vector products with the operator. A symmetric operator is
    applied in its packed form (:attr:`SensingOperator.packed`).
    """
    u = U[0]
    w = u if sym else V[0]
    n1, n2 = loop.shape
    A = loop.A if loop.groups is None else loop.groups[0][0]
    y = loop.y.reshape(-1)
    X = np.empty((n1, n2))
    x = X.reshape(-1)
    res = np.empty(y.shape[0])
    Dflat = np.empty(n1 * n2)
    D = Dflat.reshape(n1, n2)
    gU = np.empty_like(u)
    gV = None if sym else np.empty_like(w)
    X3, res2 = X[None], res[None]
    packed = loop.packed
    if packed:
        upper, lower, halve = loop.upper, loop.lower, loop.halve
        xp, xq, dp = np.empty(upper.size), np.empty(upper.size), np.empty(upper.size)
    for t in range(iters + 1):
        np.matmul(u, w.T, out=X)
        if A is None:
            np.subtract(x, y, out=res)
        elif packed:
            np.take(x, upper, out=xp, mode="clip")
            np.take(x, lower, out=xq, mode="clip")
            xp += xq
            xp *= 0.5
            np.matmul(A, xp, out=res)
            res -= y
        else:
            np.matmul(A, x, out=res)
            res -= y
        if not np.vdot(res, res) <= res_bound_sq:
            rn = np.array([np.linalg.norm(res)])
            if not (rn <= loop.res_bound).all():
                loop.diverged(t, ~(rn <= loop.res_bound), "residual", rn)
        if t % record_every == 0 or t == iters:
            loop.record(t, U, V, X3, res2)
            if report is not None:
                report(t, iters)
        if t == iters:
            break
        if A is None:
            Dflat[...] = res
        elif packed:
            np.matmul(res, A, out=dp)
            dp *= halve
            Dflat[upper] = dp
            Dflat[lower] = dp
        else:
            np.matmul(res, A, out=Dflat)
        if sym:
            G = D if packed else 0.5 * (D + D.T)
            np.matmul(G, u, out=gU)
            gU *= eta
            u -= gU
        else:
            np.matmul(D, w, out=gU)
            np.matmul(D if packed else D.T, u, out=gV)
            gU *= eta
            gV *= eta
            u -= gU
            w -= gV


#: Largest number of runs of one operator applied with one matrix-vector product each rather
#: than one matrix-matrix product: OpenBLAS's GEMM packs the operator, which for 2 to 4
#: right-hand sides costs more than reading it once per run (measured at n = 20 to 100: a
#: batch of 3 took 1.3 to 1.7 times as long as a GEMM).
SMALL_BATCH = 4


def _forward(A, flat):
    """``flat @ A.T`` for ``flat (b, p)``: ``b`` matrix-vector products for ``b <= SMALL_BATCH``."""
    if flat.shape[0] > SMALL_BATCH:
        return flat @ A.T
    out = np.empty((flat.shape[0], A.shape[0]))
    for i in range(flat.shape[0]):
        np.matmul(A, flat[i], out=out[i])
    return out


def _adjoint(A, res):
    """``res @ A`` for ``res (b, m)``: ``b`` matrix-vector products for ``b <= SMALL_BATCH``."""
    if res.shape[0] > SMALL_BATCH:
        return res @ A
    out = np.empty((res.shape[0], A.shape[1]))
    for i in range(res.shape[0]):
        np.matmul(res[i], A, out=out[i])
    return out


class _Loop:
    """Operator application and metric recording for one batched run (internal).

    ``problems`` has one entry per run (the same object repeated when runs share it).
    Quantities of the problems are kept unstacked when every run has the same problem,
    and stacked ``(B, ...)`` otherwise; the formulas below broadcast either way.
    """

    def __init__(self, problems: list, sym: bool, B: int, K: int, metrics=frozenset(METRICS)):
        first = problems[0]
        same = all(p is first for p in problems)
        ops = [p.operator for p in problems]
        self.shared_op = all(o is ops[0] for o in ops) or (ops[0].matrix is None)
        op = ops[0]
        self.groups = None
        # a symmetric operator is applied in its packed form: half the bytes and flops
        self.packed = bool(op.symmetric and op.matrix is not None)
        if self.packed:
            self.upper, self.lower, diag = packed_index(op.shape[0])
            self.halve = np.where(diag, 1.0, 0.5)
        stored = (lambda o: o.packed) if self.packed else (lambda o: o.matrix)
        if op.matrix is None:
            self.A = None
        elif self.shared_op:
            self.A = stored(op)
        else:
            # independent operators, each stored once (never copied into a stack): the runs of
            # one operator advance together, a matrix-vector product for a lone run (bitwise the
            # run alone) and a matrix-matrix product for several (bitwise a batch sharing it)
            distinct, members = [], []
            for b, o in enumerate(ops):
                for j, d in enumerate(distinct):
                    if d is o:
                        members[j].append(b)
                        break
                else:
                    distinct.append(o)
                    members.append([b])
            self.A = None
            self.groups = [(stored(o), np.asarray(idx)) for o, idx in zip(distinct, members)]
        self.op_symmetric = op.symmetric
        self.shape = op.shape
        self.sym = sym
        self.B, self.K = B, K
        self.metrics = metrics

        def stack(get):
            return get(first) if same else np.stack([get(p) for p in problems])

        self.y = stack(lambda p: p.y)
        ynorm = np.linalg.norm(self.y, axis=-1)
        self.ynorm = float(ynorm) if same else ynorm
        self.Xstar = stack(lambda p: p.target.X)
        xnorm = np.linalg.norm(self.Xstar.reshape(1 if same else B, -1), axis=1)
        self.xnorm = float(xnorm[0]) if same else xnorm
        self.Ustar, self.Vstar = stack(lambda p: p.target.U), stack(lambda p: p.target.V)
        self.Lu, self.Lv = stack(lambda p: p.spectral_U), stack(lambda p: p.spectral_V)
        self.rank = first.target.r
        self.loss_c = 0.25 if sym else 0.5
        self.sigma1 = np.array([float(p.spectral_sigma[0]) for p in problems])   # sigma_1(A*(y)) per run
        self.safe_eta = 1.0 / (3.0 * float(self.sigma1.max()))
        self.res_bound = DIVERGENCE_FACTOR * (np.asarray(self.ynorm) + 1.0)
        self.rows = {name: [] for name in ("t", "error", "loss", "residual", "sv", "imb_op", "imb_fro",
                                           "coupling", "ang_t", "ang_s", "plus", "minus")}

    def residual(self, X):
        flat = X.reshape(self.B, -1)
        if self.A is None and self.groups is None:
            return flat - self.y
        if self.packed:
            flat = np.take(flat, self.upper, axis=1) + np.take(flat, self.lower, axis=1)
            flat *= 0.5
        if self.groups is not None:
            out = np.empty((self.B, self.groups[0][0].shape[0]))
            for A, idx in self.groups:
                if idx.size == 1:          # a lone run: a matrix-vector product on views, nothing copied
                    b = int(idx[0])
                    np.matmul(A, flat[b], out=out[b])
                else:
                    out[idx] = _forward(A, flat[idx])
            out -= self.y
            return out
        return _forward(self.A, flat) - self.y

    def adjoint(self, res):
        if self.A is None and self.groups is None:
            return res.reshape((self.B,) + self.shape).copy()
        if self.groups is not None:
            D = np.empty((self.B, self.groups[0][0].shape[1]))
            for A, idx in self.groups:
                if idx.size == 1:
                    b = int(idx[0])
                    np.matmul(res[b], A, out=D[b])
                else:
                    D[idx] = _adjoint(A, res[idx])
        else:
            D = _adjoint(self.A, res)
        if self.packed:  # exactly symmetric
            D *= self.halve
            full = np.empty((self.B, self.shape[0] * self.shape[1]))
            full[:, self.upper] = D
            full[:, self.lower] = D
            D = full
        return D.reshape((self.B,) + self.shape)

    @staticmethod
    def _sin_angle(Q, basis):
        """||(I - P_basis) Q||_op for stacks Q (B, n, r) and an orthonormal basis (n, r) or (B, n, r)."""
        return np.linalg.norm(Q - np.matmul(basis, np.matmul(np.swapaxes(basis, -1, -2), Q)), ord=2, axis=(1, 2))

    def start(self, U, V, etas, alphas, ks):
        """Keep what a divergence diagnosis needs about the start (once, before the loop)."""
        self.etas, self.alphas, self.ks = etas, alphas, ks
        with np.errstate(over="ignore", invalid="ignore"):
            nu = np.linalg.norm(U, ord=2, axis=(1, 2)) if U.size else np.zeros(self.B)
            nv = nu if V is U else (np.linalg.norm(V, ord=2, axis=(1, 2)) if V.size else np.zeros(self.B))
            self.init_curv = nu ** 2 + nv ** 2                      # ||U0||^2 + ||V0||^2 (operator norms)

    def _at(self, x, b):
        x = np.asarray(x)
        return float(x) if x.ndim == 0 else float(x[b])

    def diverged(self, t, bad, what, value):
        """Raise DivergenceError for the first bad run, naming the likely cause and its safe bound."""
        b = int(np.flatnonzero(bad)[0])
        eta, alpha, k = self.etas[b], self.alphas[b], self.ks[b]
        s1 = float(self.sigma1[b])
        y, Xs = (self.y, self.Xstar) if np.ndim(self.ynorm) == 0 else (self.y[b], self.Xstar[b])
        ynorm, xnorm = scaled_norm(y), scaled_norm(Xs)  # without the overflow of a plain norm
        curv = float(self.init_curv[b])
        head = (f"gradient descent diverged at iteration {t} (run {b}: eta={eta:g}, alpha={alpha:g}, k={k}): "
                + (f"||A(X_t) - y|| = {float(value[b]):.3g} left the bound 1e6*(||y|| + 1) = "
                   f"{self._at(self.res_bound, b):.3g}" if what == "residual" else
                   f"||X_t - X*||_F = {float(value[b]):.3g} left the bound 1e6*(||X*||_F + 1) = "
                   f"{DIVERGENCE_FACTOR * (xnorm + 1.0):.3g}") + ". ")
        safe_eta = 1.0 / (3.0 * s1) if s1 > 0 else np.inf
        tiny = np.finfo(np.float64).tiny
        if (not np.isfinite(ynorm) or ynorm > LARGEST_SCALE or not np.isfinite(s1) or s1 > LARGEST_SCALE
                or not safe_eta >= tiny):
            raise DivergenceError(
                head + f"Likely cause: the target scale (sigma). ||y|| = {ynorm:.3g} and sigma_1(A*(y)) = "
                f"{s1:.3g} exceed the largest scale float64 can run, {LARGEST_SCALE:g} (the loss ||y||^2/2 and "
                f"||U||^2 ~ sigma_1 overflow); the safe step 1/(3*sigma_1(A*(y))) = {safe_eta:.3g} "
                f"{'is not representable' if not safe_eta >= tiny else 'does not help'}. "
                f"Rescale the target: divide sigma (and y) by a common factor, so that ||y|| <= {LARGEST_SCALE:g}.")
        r_init = curv / s1 if s1 > 0 else np.inf
        r_eta = eta / safe_eta
        init_blamed = r_init > 1 and (t == 0 or r_init >= r_eta or r_eta <= 1)
        if t == 0 or init_blamed:
            scale = np.sqrt(s1 / curv) if curv > 0 else 1.0
            fix = (f"use alpha <= {alpha * scale:.3g}" if np.isfinite(alpha)
                   else f"scale the initial factors by at most {scale:.3g}")
            x0 = ("; at the start ||A(X_0) - y|| was already outside the bound" if t == 0 and what == "residual"
                  else "")
            raise DivergenceError(
                head + f"Likely cause: the initialization scale (alpha). ||U0||^2 + ||V0||^2 = {curv:.3g} "
                f"(operator norms) exceeds its safe bound sigma_1(A*(y)) = {s1:.3g} (||X*||_F = {xnorm:.3g}){x0}; "
                f"{fix}. The step size eta={eta:g} is "
                f"{'within' if r_eta <= 1 else 'also above'} its safe bound eta <= {safe_eta:.3g} "
                f"= 1/(3*sigma_1(A*(y))).")
        raise DivergenceError(
            head + f"Likely cause: the step size. Use a smaller step size eta; "
            f"eta <= {safe_eta:.3g} = 1/(3*sigma_1(A*(y))) is safe for this problem "
            f"(the initialization ||U0||^2 + ||V0||^2 = {curv:.3g} is "
            f"{'within' if r_init <= 1 else 'above'} its safe bound sigma_1(A*(y)) = {s1:.3g}).")

    def record(self, t, U, V, X, res):
        err = np.linalg.norm((X - self.Xstar).reshape(self.B, -1), axis=1)
        bound = DIVERGENCE_FACTOR * (np.asarray(self.xnorm) + 1.0)
        if not np.all(err <= bound):
            self.diverged(t, ~(err <= bound), "error", err)
        rows, want = self.rows, self.metrics
        rows["t"].append(t)
        rows["error"].append(err)
        rows["residual"].append(np.linalg.norm(res, axis=1) / np.asarray(self.ynorm))
        if "loss" in want:
            rows["loss"].append(self.loss_c * np.einsum("bm,bm->b", res, res))
        if want & {"singular_values", "angles"}:
            Qu, Ru = np.linalg.qr(U)
            Qv, Rv = (Qu, Ru) if self.sym else np.linalg.qr(V)
            P, s, Zt = np.linalg.svd(np.matmul(Ru, np.swapaxes(Rv, 1, 2)))
            if "singular_values" in want:
                nsv = min(self.shape[0], self.shape[1], self.K)
                rows["sv"].append(s[:, :nsv])
            if "angles" in want:
                r = min(self.rank, P.shape[2], Zt.shape[1])
                left = np.matmul(Qu, P[:, :, :r])
                right = np.matmul(Qv, np.swapaxes(Zt[:, :r, :], 1, 2))
                rows["ang_t"].append(np.maximum(self._sin_angle(left, self.Ustar), self._sin_angle(right, self.Vstar)))
                rows["ang_s"].append(np.maximum(self._sin_angle(left, self.Lu), self._sin_angle(right, self.Lv)))
        if want & {"coupling", "lifted"}:
            UsU = np.matmul(np.swapaxes(self.Ustar, -1, -2), U)
            VsV = UsU if self.sym else np.matmul(np.swapaxes(self.Vstar, -1, -2), V)
            if "coupling" in want:
                rows["coupling"].append(np.linalg.norm(UsU - VsV, ord=2, axis=(1, 2)))
            if "lifted" in want:
                rows["plus"].append(np.linalg.norm(UsU + VsV, axis=2) / np.sqrt(2))
                rows["minus"].append(np.linalg.norm(UsU - VsV, axis=2) / np.sqrt(2))
        if "imbalance" in want:
            imb = np.matmul(np.swapaxes(U, 1, 2), U) - np.matmul(np.swapaxes(V, 1, 2), V)
            rows["imb_op"].append(np.abs(np.linalg.eigvalsh(imb)).max(axis=1))
            rows["imb_fro"].append(np.linalg.norm(imb.reshape(self.B, -1), axis=1))

    def result(self, parameterization, U, V, ks, alphas, etas, seeds, rebalanced_at, tol):
        T = len(self.rows["t"])
        r = self.rank
        nsv = min(self.shape[0], self.shape[1], self.K)
        blank = {"sv": (self.B, T, nsv), "plus": (self.B, T, r), "minus": (self.B, T, r)}
        R = {name: (np.asarray(val) if name == "t" else np.stack(val, axis=1) if val
                    else np.full(blank.get(name, (self.B, T)), np.nan))      # a metric not asked for: NaN
             for name, val in self.rows.items()}
        return GDResult(
            parameterization=parameterization, t=R["t"], error=R["error"],
            rel_error=R["error"] / np.reshape(self.xnorm, (-1, 1)),
            loss=R["loss"], residual=R["residual"], singular_values=R["sv"], imbalance_op=R["imb_op"],
            imbalance_fro=R["imb_fro"], coupling=R["coupling"], angle_truth=R["ang_t"],
            angle_spectral=R["ang_s"], lifted_plus=R["plus"], lifted_minus=R["minus"],
            U=U, V=V.copy() if V is U else V, k=np.asarray(ks), alpha=np.asarray(alphas, dtype=float),
            eta=np.asarray(etas, dtype=float), seed=np.asarray(seeds), rebalanced_at=rebalanced_at,
            converged=R["residual"][:, -1] <= tol)


def step_sizes(problem: Problem, *, k, alpha, seed, eta: float) -> np.ndarray:
    """A step size per run: ``min(eta, 1 / L0)`` with ``L0`` a smoothness scale at the start.

    With the initial factors ``U0, V0`` of the run (:func:`opsense.initial_factors`),
    ``L0 = ||U0||^2 + ||V0||^2 + sigma_1(A*(y))`` (operator norms). For
    ``f(U, V) = 1/2 ||UV^T - X||_F^2`` the Hessian is bounded by
    ``||U||^2 + ||V||^2 + ||UV^T - X||``; ``L0`` is that bound at the start with the
    residual replaced by the data term. Small ``alpha`` keeps ``eta``; large ``alpha``
    (factors of norm of order 1 or more) gets a proportionally smaller step. This
    is our rule, not the paper's.

    Parameters
    ----------
    problem : Problem
    k, alpha, seed : int / float / int, or equal-length 1-D sequences, keyword-only
        The runs (length-1 values are broadcast), as for :func:`opsense.run_gd`.
    eta : float > 0, keyword-only
        The step size used whenever it is below ``1 / L0``.

    Returns
    -------
    ndarray of shape (B,)
    """
    problem = check_problem(problem)
    eta = v.real("eta", eta, positive=True)
    ks = v.sweep("k", k, lambda n, x: v.integer(n, x, minimum=1))
    alphas = v.sweep("alpha", alpha, lambda n, x: v.real(n, x, positive=True))
    seeds = v.sweep("seed", seed, lambda n, x: v.integer(n, x, minimum=0))
    B = max(len(ks), len(alphas), len(seeds))
    for name, x in (("k", ks), ("alpha", alphas), ("seed", seeds)):
        if len(x) not in (1, B):
            raise ValueError(f"{name} has {len(x)} values but other sweeps have {B}; "
                             "sweeps must have equal lengths (or length 1)")
    ks, alphas, seeds = (x * B if len(x) == 1 else x for x in (ks, alphas, seeds))
    n1, n2 = problem.target.shape
    s1 = float(problem.spectral_sigma[0])
    out = np.empty(B)
    for b in range(B):
        U0, V0 = initial_factors(n1, n2, ks[b], alphas[b], seed=seeds[b])
        L0 = np.linalg.norm(U0, 2) ** 2 + np.linalg.norm(V0, 2) ** 2 + s1
        out[b] = min(eta, 1.0 / L0)
    return out

