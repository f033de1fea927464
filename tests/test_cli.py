"""The `opsense` command: chapter discovery, parameter checks (no kernel), one real run."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill
import pytest

from opsense import chapters, cli
from opsense.chapters import ParameterError, parse_parameters, parse_value

ROOT = Path(__file__).resolve().parents[1]
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


# ----------------------------------------------------------------------------- discovery
def test_chapters_follow_the_toc_and_are_notebooks_with_claims():
    toc = [d for d in chapters.toc_documents(ROOT) if (ROOT / f"{d}.ipynb").is_file()]
    in_toc = [c.name for c in CHAPTERS if c.in_toc]
    assert in_toc, "no chapter found"
    assert in_toc == [Path(d).name for d in toc if chapters.load_chapter(ROOT / f"{d}.ipynb") is not None]
    assert "report" not in NAMES  # the report page is not a chapter


@pytest.mark.parametrize("chapter", CHAPTERS, ids=NAMES)
def test_parameters_agree_with_papermill(chapter):
    """Our parser reads the same names as papermill, plus type, default and help for each."""
    expected = papermill.inspect_notebook(str(chapter.path))
    assert [p.name for p in chapter.parameters] == list(expected)
    for p in chapter.parameters:
        assert p.type and p.help, f"{chapter.name}.{p.name}: no type or help comment"
    assert {"preset", "seed", "results_dir"} <= {p.name for p in chapter.parameters}


def test_parse_parameters_reads_types_defaults_and_help():
    src = ("from typing import Optional\n"
           "preset: str = \"book\"   # \"book\" or \"paper\"\n"
           "n: int | None = None    # size (None: the preset's; a = b)\n"
           "alphas: Optional[list] = None  # scales\n"
           "eta = 0.25  # step\n"
           "flag: bool = False\n")
    ps = {p.name: p for p in parse_parameters(src)}
    assert list(ps) == ["preset", "n", "alphas", "eta", "flag"]
    assert (ps["n"].type, ps["n"].default, ps["n"].help) == ("int | None", None, "size (None: the preset's; a = b)")
    assert ps["preset"].default == "book" and ps["preset"].help == '"book" or "paper"'
    assert ps["eta"].type == "float" and ps["eta"].default == 0.25
    assert ps["flag"].help == "" and ps["alphas"].kinds() == frozenset({"list", None})


@pytest.mark.parametrize("text, value", [
    ("20", 20), ("1e-3", 0.001), ("-2.5", -2.5), ("[0.1, 0.05]", [0.1, 0.05]), ("None", None),
    ("True", True), ("'paper'", "paper"), ("paper", "paper"), ("1,2", (1, 2)), ("a b", "a b")])
def test_parse_value_like_papermill(text, value):
    assert parse_value(text) == value


@pytest.mark.parametrize("ann, text, expected", [
    ("int", "3", 3), ("float", "3", 3.0), ("Optional[int]", "None", None), ("Optional[int]", "none", None),
    ("bool", "true", True), ("bool", "False", False), ("Optional[list]", "1,2", [1, 2]),
    ("Optional[str]", "123", "123"), ("str", "paper", "paper"), ("float", "inf", float("inf"))])
def test_values_are_converted_to_the_declared_type(ann, text, expected):
    p = chapters.Parameter("x", ann, None, "None", "")
    assert chapters._check_kind(p, parse_value(text), text) == expected


@pytest.mark.parametrize("ann, text", [
    ("int", "2.5"), ("int", "True"), ("int", "abc"), ("Optional[int]", "[1]"), ("Optional[list]", "0.1"),
    ("float", "x"), ("bool", "1"), ("list", "None")])
def test_values_of_the_wrong_type_are_refused(ann, text):
    p = chapters.Parameter("x", ann, None, "None", "")
    with pytest.raises(ParameterError, match=r"parameter x \(.*\) must be"):
        chapters._check_kind(p, parse_value(text), text)


# ----------------------------------------------------------------------------- the command line
def test_list_shows_every_chapter_with_its_parameters(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    for ch in CHAPTERS:
        assert re.search(rf"^{re.escape(ch.name)}: ", out, re.M), f"{ch.name} missing from opsense list"
        for p in ch.parameters:
            assert re.search(rf"^  {re.escape(p.name)}\s+{re.escape(p.type)}\s+{re.escape(p.default_text)}", out, re.M)
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
    (["run", NAMES[0], "-p", "seed", "1.5"], r"parameter seed \(int\) must be an integer, got '1.5'"),
    (["run", NAMES[0], "-p", "seed", "-1"], r"parameter seed must be an integer >= 0, got -1"),
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
    assert code == 2 and f"chapter {chapter}: parameter {name} must be an integer >= 1, got -3" in err
    chapter, name = _first("list")
    code, _, err = run_cli(capsys, "run", chapter, "-p", name, "0.1")
    assert code == 2 and "must be a list" in err and "for one value write [0.1]" in err


def test_output_folder_must_be_new(capsys, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    code, _, err = run_cli(capsys, "run", NAMES[0], "--out", str(tmp_path / "full"))
    assert code == 2 and "exists and is not empty" in err


def test_error_messages_of_failed_cells():
    from papermill.exceptions import PapermillExecutionError

    claims = PapermillExecutionError(9, 12, "ms.check_claims(claims, chapter='x')", "ClaimsFailed",
                                     "1 of 3 claims of chapter 'x' do not hold:\n  x.a: ...", [])
    assert cli._error_text(claims) == ("claims failed", "1 of 3 claims of chapter 'x' do not hold:\n  x.a: ...")
    crash = PapermillExecutionError(4, 5, "res = run()\nmore", "ZeroDivisionError", "division by zero", [])
    status, text = cli._error_text(crash)
    assert status == "error" and text.startswith("cell In[5] ('res = run()'...) raised ZeroDivisionError")
    refused = PapermillExecutionError(2, 3, "P = ms.configure(preset, PRESETS)", "ValueError", "parameter n ...", [])
    assert cli._error_text(refused)[0] == "parameters refused"


# ----------------------------------------------------------------------------- report
def _fake_run(folder: Path, chapter: str, holds: list[bool], status: str | None = None):
    folder.mkdir(parents=True)
    claims = [{"id": f"{chapter}.{i}", "statement": "s", "predicted": "[0, 1]", "measured": 0.5 + i,
               "tolerance": "t", "holds": h} for i, h in enumerate(holds)]
    (folder / "claims.json").write_text(json.dumps({"chapter": chapter, "claims": claims}))
    if status:
        (folder / "run.json").write_text(json.dumps({"chapter": chapter, "status": status, "duration_s": 1.5}))


def test_report_collects_every_claims_file(capsys, tmp_path):
    _fake_run(tmp_path / "runs" / "all-1" / "a", "a", [True, True])
    _fake_run(tmp_path / "runs" / "all-1" / "b", "b", [True], status="ok")
    code, out, err = run_cli(capsys, "report", str(tmp_path / "runs" / "all-1"))
    assert code == 0, err
    assert out.rstrip().splitlines()[-1] == "3 claims, 3 hold, 0 fail"
    for name in ("report.md", "report.html", "report.json"):
        assert (tmp_path / "runs" / "all-1" / name).is_file()
    rec = json.loads((tmp_path / "runs" / "all-1" / "report.json").read_text())
    assert rec["summary"] == {"claims": 3, "hold": 3, "fail": 0, "line": "3 claims, 3 hold, 0 fail"}
    assert "3 claims, 3 hold, 0 fail" in (tmp_path / "runs" / "all-1" / "report.html").read_text()

    _fake_run(tmp_path / "runs" / "all-2" / "c", "c", [True, False], status="claims failed")
    code, out, err = run_cli(capsys, "report")                 # the latest run
    assert code == 1 and out.rstrip().splitlines()[-1] == "2 claims, 1 hold, 1 fail"
    assert "| c | c.1 | s | [0, 1] | 1.5 | t | FAILS |" in out


# ----------------------------------------------------------------------------- one real run
def _console_script() -> list[str]:
    exe = Path(sys.executable).with_name("opsense")
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "opsense.cli"]


def test_run_a_chapter_with_other_parameters(tmp_path):
    """End to end, through the installed console script: the fastest chapter, non-default parameters."""
    name = "rip" if "rip" in NAMES else NAMES[0]
    out = tmp_path / "rip-run"
    params = ["-p", "seed", "3"] + (["-p", "trials", "200", "-p", "m_values", "[25, 100, 400]"] if name == "rip" else [])
    proc = subprocess.run(_console_script() + ["run", name, *params, "--out", str(out), "--no-progress"],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^\d+ claims, \d+ hold, 0 fail$", proc.stdout, re.M), proc.stdout
    nb = nbformat.read(out / f"{name}.ipynb", as_version=4)
    assert nb.metadata.papermill.parameters["seed"] == 3
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
    claims = json.loads((out / "claims.json").read_text())
    assert claims["chapter"] == name and claims["claims"] and claims["parameters"]["seed"] == 3
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "ok" and run["duration_s"] > 0
    assert list(out.glob("*.png")), "no figure written"
    assert (out / "report.md").read_text().rstrip().endswith(" fail")
    if name == "rip":
        assert claims["parameters"]["trials"] == 200 and claims["parameters"]["m_values"] == [25, 100, 400]
