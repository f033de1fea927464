"""Every chapter module computes, without a kernel, the claims its committed notebook displays.

``evaluate(P)`` on the book preset must give the same ids, bounds, basis and verdict exactly, and
the same measured values to 1e-9 relative. Each chapter runs in a fresh interpreter with one BLAS
thread, as the book is executed (``book/reproduction.json``): the reductions of a multi-threaded
BLAS differ in the last bits, which some fits amplify (b4's rates by about 2e-7).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from opsense.tools.catalog import discover
from opsense.tools.report import committed_claims

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = [c for c in discover(ROOT) if c.in_toc]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.name for c in CHAPTERS])
def test_evaluate_reproduces_the_committed_claims(chapter):
    committed, err = committed_claims(nbformat.read(chapter.path, 4))
    assert committed and not err, err
    code = ("import json, opsense as ops\n"
            f"from opsense.chapters import {chapter.name} as ch\n"
            "print(json.dumps([c.to_dict() for c in ch.evaluate(ops.configure(ch, 'book'))]))")
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [c["id"] for c in got] == [c.id for c in committed]
    for a, b in zip(got, committed):
        assert (float(a["lo"]), float(a["hi"]), a["basis"], a["verdict"]) == (b.lo, b.hi, b.basis, b.verdict), b.id
        measured = float(a["measured"])
        if math.isnan(b.measured):
            assert math.isnan(measured), b.id
        else:
            tol = 1e-12 if abs(b.measured) < 1e-9 else 0.0
            assert measured == pytest.approx(b.measured, rel=1e-9, abs=tol), b.id
