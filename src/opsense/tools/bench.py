"""Benchmark of the GD engine against a naive reference, measured in one process.

Usage::

    opsense bench [--n 50] [--r 3] [--k 10] [--m 1500] [--iters 200] [--repeats 3]
                  [--instances 8] [--conditions 4] [--json FILE]

(or ``python -m opsense.tools.bench`` with the same options).

It times, with the same problem and in the same run:

* ``naive``: a plain ``einsum`` loop with the operator stored as ``(m, n1, n2)``
  (the pattern of most public code), the reference for ratios;
* ``engine-1``: :func:`opsense.run_gd` on one run (two matrix-vector products);
* ``engine-16``, ``engine-64``: batched runs sharing the operator (two GEMMs per iteration);
* ``bound``: a read-bandwidth probe (BLAS dot over the stored operator); two passes
  over the operator per iteration is the lower limit of any unfused implementation;
* ``instances``: independent instances (other targets and operators), ``--instances`` of them
  with ``--conditions`` runs each (initialization scales): one :func:`opsense.run_gd` call over
  the list of problems, against a Python loop of single runs over the same instances and
  conditions. With one condition per instance every operator must still be read twice per
  iteration, so batching saves only the per-call overhead, and a loop, which keeps one
  operator in cache for all its iterations, can be faster; with several conditions per
  instance each operator is read once for all of them.

It prints ms per iteration (per run-iteration for batches), the throughput ratios
against ``naive``, and the fraction of the two-pass bound reached by the single run.
With ``--sizes`` it adds a size table (n = 20, 50, 100 and batches of 1, 3, 16, 64 runs
sharing one operator) against the plain two-GEMV loop and the two-pass bound; with
``--sweep-points N`` the throughput of ``opsense sweep`` on one and two local workers.

Timings are medians over ``--repeats``; nothing here is asserted (this is not a test).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

from .. import _validate as v
from ..engine.gd import run_gd
from ..engine.problems import make_problem


def _median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _naive(A3, y, U, V, eta, iters):
    for _ in range(iters):
        res = np.einsum("mij,ij->m", A3, U @ V.T) - y
        D = np.einsum("m,mij->ij", res, A3)
        U, V = U - eta * D @ V, V - eta * D.T @ U
    return U, V


def _plain(A, y, Xstar, U, V, eta, iters, every=10):
    """The reference loop: two matrix-vector products per step, the error recorded every ``every``;
    ``V=None`` is the symmetric parameterization (``X = U U^T``) on a symmetric operator."""
    n1, n2 = Xstar.shape
    errs = []
    for t in range(iters):
        X = U @ (U if V is None else V).T
        res = A @ X.ravel() - y
        if t % every == 0:
            errs.append(np.linalg.norm(X - Xstar))
        D = (res @ A).reshape(n1, n2)
        if V is None:
            U = U - eta * D @ U
        else:
            U, V = U - eta * D @ V, V - eta * D.T @ U
    return U, V, errs


#: Sizes of the size table (n1 = n2 = n, m measurements): the book's size and paper B's, and a larger one.
SIZES = ((20, 600), (50, 2000), (100, 4000))
#: Batch sizes (runs sharing one operator) of the size table.
SIZE_BATCHES = (1, 3, 16, 64)


def size_table(*, sizes=SIZES, batches=SIZE_BATCHES, k: int = 4, r: int = 2, repeats: int = 3,
               seed: int = 0, budget_s: float = 0.5) -> list[dict]:
    """Per size: the plain two-GEMV loop, the engine (one run: recording every 10 steps, with only
    error and residual, and with every metric), batches of runs sharing the operator, and the
    two-pass bandwidth bound; ms per run-iteration, all measured in this call.

    Parameters
    ----------
    sizes : sequence of (n, m), keyword-only
    batches : sequence of int, keyword-only
    k, r, repeats, seed : int, keyword-only
    budget_s : float, keyword-only
        Rough seconds per timing: the iteration count of each variant is set from a first short run.

    Returns
    -------
    list of dict
        One per size: ``n, m, operator_MB, bound_ms, plain_ms, engine_ms, engine_all_ms`` and
        ``batch_ms`` (``{B: ms per run-iteration}``); for the symmetric parameterization on a
        symmetric operator, ``sym_plain_ms`` (the plain loop on the dense operator) and
        ``sym_engine_ms`` (the engine, which applies it packed).
    """
    out = []
    for n, m in sizes:
        pr = make_problem(n, n, r, m, seed=seed)
        A, y, Xs = pr.operator.matrix, pr.y, pr.target.X
        rng = np.random.default_rng(seed)
        U0, V0 = 0.1 * rng.standard_normal((n, k)) / np.sqrt(n), 0.1 * rng.standard_normal((n, k)) / np.sqrt(n)
        flat = A.ravel()
        t_read = _median_time(lambda: [flat @ flat for _ in range(5)], repeats) / 5
        probe = _median_time(lambda: _plain(A, y, Xs, U0, V0, 0.1, 10), 1) / 10
        T = int(max(10, min(2000, budget_s / max(probe, 1e-6))))
        T -= T % 10
        row = {"n": n, "m": m, "operator_MB": A.nbytes / 1e6, "bound_ms": 2 * t_read * 1e3, "iters": T}
        row["plain_ms"] = _median_time(lambda: _plain(A, y, Xs, U0, V0, 0.1, T), repeats) / T * 1e3

        def engine(B, iters, metrics):
            return lambda: run_gd(pr, k=k, alpha=[0.1] * B, eta=0.1, seed=list(range(B)), iters=iters,
                                  record_every=10, metrics=metrics)
        row["engine_ms"] = _median_time(engine(1, T, ()), repeats) / T * 1e3
        row["engine_all_ms"] = _median_time(engine(1, T, "all"), repeats) / T * 1e3
        row["batch_ms"] = {}
        for B in batches:
            if B == 1:
                row["batch_ms"][B] = row["engine_ms"]
                continue
            TB = max(10, T // B - (T // B) % 10)
            row["batch_ms"][B] = _median_time(engine(B, TB, ()), repeats) / (TB * B) * 1e3
        ps = make_problem(n, n, r, m, psd=True, seed=seed)
        row["sym_plain_ms"] = _median_time(lambda: _plain(ps.operator.matrix, ps.y, ps.target.X, U0, None, 0.1, T),
                                           repeats) / T * 1e3
        row["sym_engine_ms"] = _median_time(lambda: run_gd(ps, k=k, alpha=0.1, eta=0.1, iters=T, record_every=10,
                                                           metrics=(), parameterization="symmetric"),
                                            repeats) / T * 1e3
        out.append(row)
    return out


def sweep_throughput(*, points: int = 8, workers=(1, 2), chapter: str = "rip") -> dict:
    """Points per minute of ``opsense sweep CHAPTER --seeds 0:points`` on local clusters of each
    size in ``workers`` (each into a fresh temporary folder; the cluster's start is included).

    Parameters
    ----------
    points : int, keyword-only
    workers : sequence of int, keyword-only
    chapter : str, keyword-only

    Returns
    -------
    dict
        ``{workers: {"seconds", "points_per_min"}}`` and ``speedup`` (the largest against one).
    """
    import contextlib
    import io
    import tempfile

    from . import sweep

    parser = argparse.ArgumentParser(prog="opsense")
    sweep.add_parser(parser.add_subparsers(dest="command"))
    res = {}
    for w in workers:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            sink = io.StringIO()
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                args = parser.parse_args(["sweep", chapter, "--seeds", f"0:{points}", "--workers", str(w), "--out",
                                          f"{tmp}/sweep", "--no-progress", "--yes"])
                code = sweep.main(args)
            dt = time.perf_counter() - t0
        if code not in (0, 1):
            raise RuntimeError(f"the benchmark's sweep failed (exit {code}): {sink.getvalue()[-500:]}")
        res[w] = {"seconds": dt, "points_per_min": 60 * points / dt}
    if len(workers) > 1:
        res["speedup"] = res[max(workers)]["points_per_min"] / res[min(workers)]["points_per_min"]
    return res


def run_benchmark(*, n: int = 50, r: int = 3, k: int = 10, m: int = 1500, iters: int = 200,
                  repeats: int = 3, batches=(16, 64), instances: int = 8, conditions: int = 4,
                  seed: int = 0) -> dict:
    """Measure every variant once per repeat; return a dict of results (ms per run-iteration).

    Parameters
    ----------
    n, r, k, m : int, keyword-only
        Square size, rank, width and measurements of the problems.
    iters, repeats : int, keyword-only
        Iterations per timing, and timings per variant (the median is kept).
    batches : sequence of int, keyword-only
        Batch sizes of the shared-operator runs.
    instances, conditions : int, keyword-only
        Independent instances of the instance-batching comparison, and runs per instance.
    seed : int, keyword-only

    Returns
    -------
    dict
        Milliseconds per run-iteration of each variant, the speed-ups and the machine.
    """
    n = v.integer("n", n, minimum=2)
    r = v.integer("r", r, minimum=1, maximum=n)
    k = v.integer("k", k, minimum=1)
    m = v.integer("m", m, minimum=1)
    iters = v.integer("iters", iters, minimum=10)
    repeats = v.integer("repeats", repeats, minimum=1)
    batches = [v.integer("batches", b, minimum=2) for b in batches]
    instances = v.integer("instances", instances, minimum=2)
    conditions = v.integer("conditions", conditions, minimum=1)
    pr = make_problem(n, n, r, m, seed=seed)
    A = pr.operator.matrix
    A3 = A.reshape(m, n, n)
    eta, alpha = 0.25, 1e-3
    rng = np.random.default_rng(seed)
    U0, V0 = alpha * rng.standard_normal((n, k)) / np.sqrt(n), alpha * rng.standard_normal((n, k)) / np.sqrt(n)
    out = {"n1": n, "n2": n, "r": r, "k": k, "m": m, "iters": iters, "repeats": repeats,
           "operator_MB": A.nbytes / 1e6, "python": sys.version.split()[0], "numpy": np.__version__,
           "machine": platform.machine(), "cpus": os.cpu_count()}

    # Read-bandwidth probe: one BLAS pass over the stored operator.
    flat = A.ravel()
    t_read = _median_time(lambda: [flat @ flat for _ in range(20)], repeats) / 20
    out["read_GBps"] = A.nbytes / t_read / 1e9
    out["bound_ms"] = 2 * t_read * 1e3  # two passes (forward + adjoint) per iteration

    naive_iters = max(10, iters // 2)
    out["naive_ms"] = _median_time(lambda: _naive(A3, pr.y, U0, V0, eta, naive_iters), repeats) / naive_iters * 1e3

    def engine(B, T):
        return lambda: run_gd(pr, k=k, alpha=[alpha] * B, eta=eta, seed=list(range(B)), iters=T, record_every=T)

    out["engine-1_ms"] = _median_time(engine(1, iters), repeats) / iters * 1e3
    for B in batches:
        T = max(10, iters // 4)
        out[f"engine-{B}_ms"] = _median_time(engine(B, T), repeats) / (T * B) * 1e3
    out["single_vs_bound"] = out["engine-1_ms"] / out["bound_ms"]
    out["speedup"] = {name[:-3]: out["naive_ms"] / out[name] for name in out if name.startswith("engine-")}
    out["instances"] = _instance_batching(n=n, r=r, k=k, m=m, iters=max(10, iters // 4), repeats=repeats,
                                          instances=instances, conditions=conditions, seed=seed)
    return out


def _instance_batching(*, n, r, k, m, iters, repeats, instances, conditions, seed) -> dict:
    """Instances x conditions in one call against a loop of single runs; also one run per instance."""
    from ..engine.problems import instance_seeds

    seeds = instance_seeds(seed, instances)
    probs = [make_problem(n, n, r, m, seed=s) for s in seeds]
    alphas = list(np.geomspace(1e-1, 1e-3, conditions))
    runs = [(p, a, i) for i, p in enumerate(probs) for a in alphas]

    def batched(runs):
        return lambda: run_gd([p for p, _, _ in runs], k=k, alpha=[a for _, a, _ in runs], eta=0.25,
                              seed=[i for _, _, i in runs], iters=iters, record_every=iters)

    def loop(runs):
        return lambda: [run_gd(p, k=k, alpha=a, eta=0.25, seed=i, iters=iters, record_every=iters)
                        for p, a, i in runs]

    one = [(p, alphas[0], i) for i, p in enumerate(probs)]
    res = {"instances": instances, "conditions": conditions, "iters": iters}
    for name, rr in (("one-per-instance", one), ("instances-x-conditions", runs)):
        t_batch = _median_time(batched(rr), repeats) / (iters * len(rr)) * 1e3
        t_loop = _median_time(loop(rr), repeats) / (iters * len(rr)) * 1e3
        res[name] = {"batched_ms": t_batch, "loop_ms": t_loop, "speedup": t_loop / t_batch}
    return res


def _size_report(rows: list[dict]) -> str:
    batches = sorted(rows[0]["batch_ms"]) if rows else []
    head = (f"{'n':>4}{'m':>6}{'bound':>8}{'plain':>8}{'engine':>8}{'/plain':>8}{'/bound':>8}{'+metrics':>9}"
            + "".join(f"{'B=' + str(b):>8}" for b in batches if b != 1) + "   (ms per run-iteration)")
    lines = ["engine against the plain two-GEMV loop and the two-pass bound (one BLAS thread per process "
             "as the book runs; recording every 10 steps):", head]
    for r in rows:
        lines.append(f"{r['n']:>4}{r['m']:>6}{r['bound_ms']:>8.3f}{r['plain_ms']:>8.3f}{r['engine_ms']:>8.3f}"
                     f"{r['engine_ms'] / r['plain_ms']:>8.2f}{r['engine_ms'] / r['bound_ms']:>8.2f}"
                     f"{r['engine_all_ms']:>9.3f}"
                     + "".join(f"{r['batch_ms'][b]:>8.3f}" for b in batches if b != 1))
    for r in rows:
        if "sym_engine_ms" in r:
            lines.append(f"  n = {r['n']}: symmetric runs, packed operator {r['sym_engine_ms']:.3f} against the plain loop "
                         f"on the dense one {r['sym_plain_ms']:.3f} ms/iter -> {r['sym_engine_ms'] / r['sym_plain_ms']:.2f} "
                         "(half the bytes: about 0.5 where the operator's traffic dominates)")
    for r in rows:
        if 3 in r["batch_ms"]:
            lines.append(f"  n = {r['n']}: a batch of 3 costs {3 * r['batch_ms'][3] / r['engine_ms']:.2f}x one run "
                         f"per iteration (target <= 1.3 at n = 50); engine/plain {r['engine_ms'] / r['plain_ms']:.2f} "
                         "(target <= 1.05 at n = 20)")
    return "\n".join(lines)


def _sweep_report(sw: dict) -> str:
    ws = sorted(k for k in sw if isinstance(k, int))
    parts = [f"{w} worker{'s' if w > 1 else ''}: {sw[w]['points_per_min']:.1f} points/min" for w in ws]
    tail = f"; speed-up {sw['speedup']:.2f}x (target >= 1.6 with 2 workers on 2 cores)" if "speedup" in sw else ""
    return "sweep throughput (opsense sweep rip, cluster start included): " + ", ".join(parts) + tail


def _report(res: dict) -> str:
    lines = [f"opsense benchmark: n1 = n2 = {res['n1']}, r = {res['r']}, k = {res['k']}, m = {res['m']}, "
             f"float64, {res['cpus']} CPUs, numpy {res['numpy']}",
             f"operator {res['operator_MB']:.1f} MB, read bandwidth {res['read_GBps']:.1f} GB/s -> "
             f"two-pass bound {res['bound_ms']:.3f} ms/iter",
             f"{'variant':<12}{'ms/run-iter':>14}{'speed-up vs naive':>20}",
             f"{'naive':<12}{res['naive_ms']:>14.3f}{1.0:>20.2f}"]
    for name, sp in res["speedup"].items():
        lines.append(f"{name:<12}{res[name + '_ms']:>14.3f}{sp:>20.2f}")
    lines.append(f"single run / two-pass bound = {res['single_vs_bound']:.2f} (target <= 1.15); "
                 f"best batched speed-up = {max(res['speedup'].values()):.1f}x (target >= 12)")
    ib = res["instances"]
    lines.append(f"independent instances ({ib['instances']} targets and operators), one run_gd call against a "
                 "loop of single runs:")
    for name in ("one-per-instance", "instances-x-conditions"):
        d = ib[name]
        runs = ib["instances"] * (1 if name == "one-per-instance" else ib["conditions"])
        lines.append(f"  {name:<24}{runs:>4} runs  batched {d['batched_ms']:.3f}  loop {d['loop_ms']:.3f} "
                     f"ms/run-iter  -> {d['speedup']:.2f}x")
    lines.append("  (target >= 3x; with one run per instance each operator is still read twice per iteration, "
                 "so only the per-call overhead can be saved)")
    return "\n".join(lines)


def add_arguments(ap) -> None:
    """The benchmark's options, for ``python -m opsense.tools.bench`` and ``opsense bench``.

    Parameters
    ----------
    ap : argparse.ArgumentParser
    """
    ap.add_argument("--n", type=int, default=50, help="n1 = n2 (default 50)")
    ap.add_argument("--r", type=int, default=3, help="rank of the ground truth (default 3)")
    ap.add_argument("--k", type=int, default=10, help="columns of the factors (default 10)")
    ap.add_argument("--m", type=int, default=1500, help="number of measurements (default 1500)")
    ap.add_argument("--iters", type=int, default=200, help="iterations per timing (default 200)")
    ap.add_argument("--repeats", type=int, default=3, help="repeats; the median is reported (default 3)")
    ap.add_argument("--instances", type=int, default=8, help="independent instances (default 8)")
    ap.add_argument("--conditions", type=int, default=4, help="runs per instance (default 4)")
    ap.add_argument("--sizes", action="store_true",
                    help="also the size table: n = 20, 50, 100 at B = 1, 3, 16, 64 against the plain loop")
    ap.add_argument("--sweep-points", type=int, default=0, metavar="N",
                    help="also time opsense sweep rip over N seeds on 1 and 2 workers (default 0: skip)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")


def run(args) -> int:
    """Run the benchmark from parsed options; print the report, write ``--json``.

    Parameters
    ----------
    args : argparse.Namespace
        From a parser given :func:`add_arguments`.

    Returns
    -------
    int
        0.

    Raises
    ------
    ValueError
        For an infeasible option (before anything is timed).
    """
    if getattr(args, "sweep_points", 0) < 0:
        raise ValueError(f"--sweep-points must be >= 0, got {args.sweep_points}")
    res = run_benchmark(n=args.n, r=args.r, k=args.k, m=args.m, iters=args.iters, repeats=args.repeats,
                        instances=args.instances, conditions=args.conditions)
    print(_report(res), flush=True)
    if getattr(args, "sizes", False):
        res["sizes"] = size_table(repeats=args.repeats)
        print(_size_report(res["sizes"]), flush=True)
    if getattr(args, "sweep_points", 0):
        res["sweep"] = sweep_throughput(points=args.sweep_points)
        print(_sweep_report(res["sweep"]), flush=True)
    if args.json:
        from ..claims import write_json_atomic

        write_json_atomic(args.json, res)
    return 0


def main(argv=None) -> int:
    """``python -m opsense.tools.bench``.

    Parameters
    ----------
    argv : list of str, optional
    """
    ap = argparse.ArgumentParser(prog="python -m opsense.tools.bench", description=__doc__.split("\n\n")[0])
    add_arguments(ap)
    args = ap.parse_args(argv)
    try:
        return run(args)
    except ValueError as exc:
        ap.error(str(exc))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
