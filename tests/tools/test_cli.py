"""The `opsense` command: chapter discovery, parameter checks (no kernel), one real run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from opsense.tools import catalog as chapters
from opsense.tools import cli

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = chapters.discover(ROOT)
NAMES = [c.name for c in CHAPTERS]


@pytest.fixture(autouse=True)
def _book_and_no_kernels(monkeypatch, tmp_path):
    """Run from a scratch folder, against this repository's book, and fail if a kernel would start."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPSENSE_BOOK", str(ROOT))

    def no_kernel(*args, **kwargs):
        raise AssertionError("a kernel was about to start")

    monkeypatch.setattr(cli, "_run_one", no_kernel)


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


# ----------------------------------------------------------------------------- the command line
def test_list_states_each_presets_wall_time_from_the_records(capsys):
    """The ``preset`` row's help gives every preset's wall time as the records give it (measured, or
    scaled from a measured preset), not a hand-written one; the notebooks' comments state none."""
    from opsense.tools import costs

    recorded = costs.all_recorded(ROOT)
    for ch in CHAPTERS:
        est = cli._preset_costs(ch, recorded)
        if not est or any(e.seconds is None for e in est.values()):
            continue
        code, out, _ = run_cli(capsys, "list", ch.name)
        assert code == 0
        flat = " ".join(out.split())
        for name, e in est.items():
            word = "measured" if e.measured else "estimated"
            assert f'"{name}" {word} about {costs.duration(e.seconds)}' in flat, (ch.name, name)
        preset = next(p for p in ch.parameters if p.name == "preset")
        assert not re.search(r"\babout \d", preset.help), f"{ch.name}: a hand-written time in the preset comment"


def test_list_shows_every_chapter_with_its_parameters(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    for ch in CHAPTERS:
        assert re.search(rf"^{re.escape(ch.name)}: ", out, re.M), f"{ch.name} missing from opsense list"
        for p in ch.parameters:
            shown = cli._short_type(p.type)
            assert re.search(rf"^  {re.escape(p.name)}\s+{re.escape(shown)}\s", out, re.M), (ch.name, p.name)
            presets = ch.preset_values(p.name)
            if presets and p.default is None:  # the presets' values are shown, not the cell's None
                start = repr(presets["book"])[:16]   # a long value wraps onto the next lines
                assert re.search(rf"^  {re.escape(p.name)}\s+{re.escape(shown)}\s+{re.escape(start)}",
                                 out, re.M), (ch.name, p.name)
    too_wide = [line for line in out.splitlines() if len(line) > cli.LIST_WIDTH]
    assert not too_wide, too_wide
    code, one, _ = run_cli(capsys, "list", NAMES[0])
    assert code == 0 and one.startswith(f"{NAMES[0]}: ") and f"\n{NAMES[-1]}: " not in one
    code, out, _ = run_cli(capsys, "list", "--json")
    doc = json.loads(out)
    assert [d["chapter"] for d in doc] == NAMES
    assert all({"name", "type", "default", "help"} <= set(p) for d in doc for p in d["parameters"])


def _first(kind: str):
    """A chapter and one of its parameters of type ``kind`` ("int", "list") whose presets are positive."""
    for ch in CHAPTERS:
        for p in ch.parameters:
            presets = list(ch.preset_values(p.name).values())
            if (p.kinds() and kind in p.kinds() and p.name not in ("seed",) + chapters.RESERVED and presets
                    and all(isinstance(v, int) and v > 0 if kind == "int" else isinstance(v, list) for v in presets)):
                return ch.name, p.name
    pytest.skip(f"no chapter has a parameter of kind {kind}")


@pytest.mark.parametrize("argv, message", [
    (["run", "no_such_chapter"], r"unknown chapter 'no_such_chapter'.*known chapters: " + NAMES[0]),
    (["run", NAMES[0], "-p", "no_such_parameter", "1"], r"has no parameter 'no_such_parameter'; its parameters: preset"),
    (["run", NAMES[0], "-p", "seed", "1.5"], r"parameter seed \(Optional\[int\]\) must be an integer or None, got '1.5'"),
    (["run", NAMES[0], "-p", "seed", "-1"], r"seed must be an integer >= 0, got -1"),
    (["run", NAMES[0], "--preset", "huge"], r"parameter preset must be one of 'book', 'paper'; got 'huge'"),
    (["run", NAMES[0], "-p", "results_dir", "x"], r"results_dir is set by the runner"),
    (["run", NAMES[0], "-p", "seed", "1", "-p", "seed", "2"], r"seed is given twice"),
    (["run", NAMES[0], "--preset", "paper", "-p", "preset", "book"], r"either with --preset or with -p preset"),
    (["run"], r"give one CHAPTER or --all"),
    (["run", NAMES[0], "--all"], r"give one CHAPTER or --all"),
    (["run", "--all", "-p", "no_such_parameter", "1"], r"no chapter has a parameter 'no_such_parameter'"),
    (["run", NAMES[0], "--out", str(ROOT / "book" / "out")], r"inside the book's sources"),
    (["report", "no_such_folder"], r"no_such_folder is not a folder"),
    (["report"], r"run `opsense run --all` first"),
    (["run", NAMES[0], "--threads", "0"], r"--threads must be an integer in \[1, \d+\] \(this machine's cores\), got 0"),
    (["run", NAMES[0], "--threads", "100000"], r"--threads must be an integer in \[1, \d+\]"),
    (["run", NAMES[0], "--jobs", "2"], r"--jobs must be an integer >= 1, above 1 only with --all"),
    (["run", "--all", "--jobs", "0"], r"--jobs must be an integer >= 1"),
    (["run", "--all", "--jobs", "100000"], r"--jobs x --threads must not exceed this machine's \d+ cores"),
])
def test_wrong_command_lines_are_refused_before_any_kernel(capsys, tmp_path, argv, message):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2, (out, err)
    assert re.search(message, err), err
    assert err.count("opsense: error:") == 1
    assert not (ROOT / "book" / "out").exists() and not (tmp_path / "runs").exists()


def test_wrong_type_and_range_against_the_chapters_annotations_and_presets(capsys):
    chapter, name = _first("int")
    code, _, err = run_cli(capsys, "run", chapter, "-p", name, "2.5")
    assert code == 2 and f"chapter {chapter}: parameter {name} (" in err and "must be an integer" in err
    code, _, err = run_cli(capsys, "run", chapter, "-p", name, "-3")
    assert code == 2 and f"chapter {chapter}: " in err and f"{name} must be" in err
    chapter, name = _first("list")
    code, _, err = run_cli(capsys, "run", chapter, "-p", name, "0.1")
    assert code == 2 and "must be a list" in err and "for one value write [0.1]" in err


def test_output_folder_must_be_new(capsys, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    code, _, err = run_cli(capsys, "run", NAMES[0], "--out", str(tmp_path / "full"))
    assert code == 2 and "exists and is not empty" in err


@pytest.mark.parametrize("chapter", CHAPTERS, ids=NAMES)
def test_every_chapter_check_refuses_before_a_kernel_and_creates_nothing(capsys, tmp_path, chapter):
    """An infeasible value of a list parameter (one value too few), refused by the chapter's own
    check: exit 2, the parameter named, no output folder."""
    lists = [p for p in chapter.parameters if p.kinds() and "list" in p.kinds()
             and isinstance(chapter.presets["book"].get(p.name), list) and len(chapter.presets["book"][p.name]) >= 2]
    ints = [p for p in chapter.parameters if p.name in ("iters", "m", "n", "n1", "trials", "T")
            and isinstance(chapter.presets["book"].get(p.name), int)]
    cases = [(p.name, repr(chapter.presets["book"][p.name][:1])) for p in lists[:1]]
    cases += [(p.name, "1") for p in ints[:1]]
    if not cases:
        pytest.skip(f"{chapter.name}: no list or size parameter")
    for name, value in cases:
        out = tmp_path / f"out-{name}"
        code, _, err = run_cli(capsys, "run", chapter.name, "-p", name, value, "--out", str(out))
        assert code == 2, err
        assert f"chapter {chapter.name}: " in err and name in err, err
        assert err.count("opsense: error:") == 1 and not out.exists()


def test_two_runs_cannot_share_an_output_folder_and_a_stale_lock_is_taken_over(tmp_path):
    out = tmp_path / "shared"
    with cli.RunFolder(out) as work:
        assert work.name == ".shared.partial" and not out.exists()
        (work / "run.json").write_text("{}")
        with pytest.raises(cli.UsageError, match="used by another run"):
            cli.RunFolder(out).__enter__()
    assert (out / "run.json").is_file() and not (tmp_path / ".shared.lock").exists()
    (tmp_path / ".again.lock").write_text("999999999\n")        # a killed run's lock: its process is gone
    with cli.RunFolder(tmp_path / "again") as work:
        (work / "x").write_text("x")
    assert (tmp_path / "again" / "x").is_file()


def test_error_messages_of_failed_cells():
    from papermill.exceptions import PapermillExecutionError

    claims = PapermillExecutionError(9, 12, "ops.evaluate_claims(...)", "ClaimsFailed",
                                     "1 of 3 claims of chapter 'x' fail:\n  x.a: ...", [])
    assert cli._error_text(claims) == ("claims failed", "1 of 3 claims of chapter 'x' fail:\n  x.a: ...")
    crash = PapermillExecutionError(4, 5, "res = run()\nmore", "ZeroDivisionError", "division by zero", [])
    status, text = cli._error_text(crash)
    assert status == "error" and text.startswith("cell In[5] ('res = run()'...) raised ZeroDivisionError")


# ----------------------------------------------------------------------------- report
def _fake_run(folder: Path, chapter: str, measured: list[float], status: str | None = None):
    import opsense as ops

    folder.mkdir(parents=True)
    claims = [ops.between(f"{chapter}.{i}", "s", m, 0.0, 1.0, basis="theory", tolerance="t")
              for i, m in enumerate(measured)]
    doc = ops.ClaimTable(chapter, claims).to_json()
    (folder / "claims.json").write_text(json.dumps(doc))
    if status:
        (folder / "run.json").write_text(json.dumps({"chapter": chapter, "status": status, "duration_s": 1.5}))


def test_report_collects_every_claims_file(capsys, tmp_path):
    _fake_run(tmp_path / "runs" / "all-1" / "a", "a", [0.5, 0.25])
    _fake_run(tmp_path / "runs" / "all-1" / "b", "b", [0.75], status="ok")
    code, out, err = run_cli(capsys, "report", str(tmp_path / "runs" / "all-1"))
    assert code == 0, err
    line = "3 claims: 3 hold, 0 do not reproduce (documented), 0 unexpected"
    assert out.rstrip().splitlines()[-1] == line
    for name in ("report.md", "report.html", "report.json"):
        assert (tmp_path / "runs" / "all-1" / name).is_file()
    rec = json.loads((tmp_path / "runs" / "all-1" / "report.json").read_text())
    assert rec["summary"]["line"] == line and rec["summary"]["holds"] == 3 and rec["version"] == 2
    assert line in (tmp_path / "runs" / "all-1" / "report.html").read_text()

    _fake_run(tmp_path / "runs" / "all-2" / "c", "c", [0.5, 1.5], status="claims failed")
    code, out, err = run_cli(capsys, "report")                 # the latest run
    assert code == 1 and out.rstrip().splitlines()[-1] == "2 claims: 1 hold, 0 do not reproduce (documented), 1 unexpected"
    assert "| c | c.1 | s | [0, 1] | 1.5 | theory | fails |" in out


@pytest.mark.parametrize("content", [b"", b"{", b"\x00\xff", b"[]", b'{"chapter": "a"}',
                                     b'{"schema": 1, "chapter": "a", "claims": [{"id": "a.1"}]}'])
def test_a_corrupt_claims_file_is_never_reported_as_success(capsys, tmp_path, content):
    run = tmp_path / "run"
    _fake_run(run / "a", "a", [0.5], status="ok")
    (run / "a" / "claims.json").write_bytes(content)
    code, out, err = run_cli(capsys, "report", str(run))
    assert code == 1, out + err
    assert "invalid claims" in out


@pytest.mark.parametrize("content", [b"{", b"[1]", b'{"status": 3}', b'{"status": "ok", "duration_s": "long"}'])
def test_a_corrupt_run_record_is_never_reported_as_success(capsys, tmp_path, content):
    run = tmp_path / "run"
    _fake_run(run / "a", "a", [0.5], status="ok")
    (run / "a" / "run.json").write_bytes(content)
    code, out, err = run_cli(capsys, "report", str(run))
    assert code == 1, out + err
    assert "invalid claims" in out and "run.json" in out


def test_a_claim_whose_stored_verdict_disagrees_with_its_numbers_is_refused(capsys, tmp_path):
    run = tmp_path / "run"
    _fake_run(run / "a", "a", [1.5], status="ok")
    doc = json.loads((run / "a" / "claims.json").read_text())
    doc["claims"][0]["verdict"] = "holds"
    (run / "a" / "claims.json").write_text(json.dumps(doc))
    code, out, _ = run_cli(capsys, "report", str(run))
    assert code == 1 and "invalid claims" in out and "disagrees" in out


# ----------------------------------------------------------------------------- one real run
def _console_script() -> list[str]:
    exe = Path(sys.executable).with_name("opsense")
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "opsense.tools.cli"]


def test_run_a_chapter_with_other_parameters(tmp_path):
    """End to end, through the installed console script: the fastest chapter, non-default parameters."""
    name = "rip" if "rip" in NAMES else NAMES[0]
    out = tmp_path / "rip-run"
    params = ["-p", "seed", "3"] + (["-p", "trials", "200", "-p", "m_values", "[25, 100, 400]"] if name == "rip" else [])
    proc = subprocess.run(_console_script() + ["run", name, *params, "--out", str(out), "--no-progress"],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^\d+ claims: \d+ hold, \d+ do not reproduce \(documented\), 0 unexpected$", proc.stdout, re.M), proc.stdout
    nb = nbformat.read(out / f"{name}.ipynb", as_version=4)
    assert nb.metadata.papermill.parameters["seed"] == 3
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
    claims = json.loads((out / "claims.json").read_text())
    assert claims["chapter"] == name and claims["claims"] and claims["parameters"]["seed"] == 3
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "ok" and run["duration_s"] > 0
    assert list(out.glob("*.png")), "no figure written"
    assert "without encryption" not in (out / "kernel.log").read_text(), "the kernel's TCP notice is in kernel.log"
    assert (out / "report.md").read_text().rstrip().endswith(" unexpected")
    assert claims["claims"][0]["basis"] in ("theory", "derived-on-page", "specification", "identity")
    if name == "rip":
        assert claims["parameters"]["trials"] == 200 and claims["parameters"]["m_values"] == [25, 100, 400]


def test_kernel_log_holds_the_failing_cell_and_its_error(tmp_path):
    from papermill.exceptions import PapermillExecutionError

    err = PapermillExecutionError(cell_index=7, exec_count=5, source="x = 1 / 0", ename="ZeroDivisionError",
                                  evalue="division by zero",
                                  traceback=["\x1b[0;31mZeroDivisionError\x1b[0m: division by zero"])
    path = tmp_path / "kernel.log"
    with open(path, "w", encoding="utf-8") as log:
        cli._log_failure(log, err)
    text = path.read_text()
    assert "In[5]" in text and "x = 1 / 0" in text and "ZeroDivisionError: division by zero" in text
    assert "\x1b" not in text  # colours stripped
    with open(path, "w", encoding="utf-8") as log:
        cli._log_failure(log, RuntimeError("the kernel died"))
    assert "RuntimeError: the kernel died" in path.read_text()


def test_the_engine_progress_bar_follows_the_kernels_progress_file(tmp_path, monkeypatch):
    import io
    import os
    import time

    from opsense.engine import progress as prog

    monkeypatch.delenv(prog.ENV, raising=False)
    stream = io.StringIO()
    with cli._engine_progress(tmp_path, stream, enabled=True, name="b1", poll=0.01):
        path = Path(os.environ[prog.ENV])
        report = prog.file_reporter(path)   # what the engine in the kernel does
        for done, total in ((10, 100), (60, 100), (100, 100), (5, 40), (40, 40)):
            report(done, total)
            time.sleep(0.05)
    text = stream.getvalue()
    assert "b1: gradient steps" in text and "engine call 2" in text and "40/40" in text
    assert prog.ENV not in os.environ and not path.exists()
    with cli._engine_progress(tmp_path, stream, enabled=False, name="b1"):
        assert prog.ENV not in os.environ


def test_run_all_with_two_jobs_runs_each_chapter_once_in_toc_order(tmp_path):
    """``run --all --jobs 2`` on a two-chapter book: two processes at once, one BLAS thread each;
    the report lists both chapters in the book's order, with their claims."""
    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs two cores")
    book = tmp_path / "book2"
    (book / "book").mkdir(parents=True)
    names = [n for n in ("rip", "a4_low_rank") if n in NAMES]
    for n in names:
        shutil.copy(ROOT / "book" / f"{n}.ipynb", book / "book" / f"{n}.ipynb")
    shutil.copy(ROOT / "book" / "reproduction.json", book / "book" / "reproduction.json")   # the time estimate
    (book / "_toc.yml").write_text("format: jb-book\nroot: book/rip\nparts:\n  - caption: Two\n    chapters:\n"
                                   + "".join(f"      - file: book/{n}\n" for n in names[1:]))
    out = tmp_path / "both"
    env = {**os.environ, "OPSENSE_BOOK": str(book)}
    proc = subprocess.run(_console_script() + ["run", "--all", "--jobs", "2", "--out", str(out), "--no-progress",
                                               "-p", "trials", "200"],
                          capture_output=True, text=True, timeout=900, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 at a time" in proc.stderr and "with 2 chapters at a time" in proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert [c["chapter"] for c in report["chapters"]] == names
    assert all(c["status"] == "ok" for c in report["chapters"])
    assert report["environment"]["blas"]["kernel_threads"] == 1
    assert "--jobs 2" in report.get("command", "") or "--jobs 2" in json.dumps(report)
    for n in names:
        assert json.loads((out / n / "claims.json").read_text())["chapter"] == n
