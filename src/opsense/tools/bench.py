"""Benchmark of the GD engine against a naive reference, measured in one process.

Usage::

    python -m opsense.tools.bench [--n 50] [--r 3] [--k 10] [--m 1500] [--iters 200] [--repeats 3] [--json FILE]

It times, with the same problem and in the same run:

* ``naive``: a plain ``einsum`` loop with the operator stored as ``(m, n1, n2)``
  (the pattern of most public code), the reference for ratios;
* ``engine-1``: :func:`opsense.run_gd` on one run (two matrix-vector products);
* ``engine-16``, ``engine-64``: batched runs sharing the operator (two GEMMs per iteration);
* ``bound``: a read-bandwidth probe (BLAS dot over the stored operator); two passes
  over the operator per iteration is the lower limit of any unfused implementation.

It prints ms per iteration (per run-iteration for batches), the throughput ratios
against ``naive``, and the fraction of the two-pass bound reached by the single run.
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


def run_benchmark(*, n: int = 50, r: int = 3, k: int = 10, m: int = 1500, iters: int = 200,
                  repeats: int = 3, batches=(16, 64), seed: int = 0) -> dict:
    """Measure every variant once per repeat; return a dict of results (ms per run-iteration)."""
    n = v.integer("n", n, minimum=2)
    r = v.integer("r", r, minimum=1, maximum=n)
    k = v.integer("k", k, minimum=1)
    m = v.integer("m", m, minimum=1)
    iters = v.integer("iters", iters, minimum=10)
    repeats = v.integer("repeats", repeats, minimum=1)
    batches = [v.integer("batches", b, minimum=2) for b in batches]
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
    return out


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
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m opsense.tools.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=50, help="n1 = n2 (default 50)")
    ap.add_argument("--r", type=int, default=3, help="rank of the ground truth (default 3)")
    ap.add_argument("--k", type=int, default=10, help="columns of the factors (default 10)")
    ap.add_argument("--m", type=int, default=1500, help="number of measurements (default 1500)")
    ap.add_argument("--iters", type=int, default=200, help="iterations per timing (default 200)")
    ap.add_argument("--repeats", type=int, default=3, help="repeats; the median is reported (default 3)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = ap.parse_args(argv)
    try:
        res = run_benchmark(n=args.n, r=args.r, k=args.k, m=args.m, iters=args.iters, repeats=args.repeats)
    except ValueError as exc:
        ap.error(str(exc))
    print(_report(res))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=2)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
