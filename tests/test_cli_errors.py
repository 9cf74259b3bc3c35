"""The command line under bad input: one line naming the argument, no traceback, exit codes.

Exit codes: 0 success, 1 a claim or check failed, 2 an error, 3 ``solve`` did not
converge (tests/test_cli.py covers 0 and 1 for ``verify``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import theory.minimax
from paper_repro import checks, cli
from paper_repro.cli import EXIT_ERROR, EXIT_NOT_CONVERGED, main


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(1)
    D = rng.dirichlet(np.ones(20), size=3)
    P = 0.5 * D + 0.5 * rng.dirichlet(np.ones(20), size=3)
    P /= P.sum(axis=1, keepdims=True)
    np.save(tmp_path / "D.npy", D)
    np.save(tmp_path / "P.npy", P)
    (tmp_path / "plain").write_text("a file the user had\n")
    return tmp_path


@pytest.fixture
def solver_calls(monkeypatch):
    """The solver's calls: a check that the CLI rejected its input before solving."""
    calls = []
    real = theory.minimax.robust_gate

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(theory.minimax, "robust_gate", counted)
    return calls


def _one_error_line(capsys, command: str) -> str:
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    assert lines[0].startswith(f"modgate {command}: ")
    return lines[0]


FOLDER = "<a folder>"


def _write(folder: Path, name: str, content) -> str:
    path = folder / name
    if isinstance(content, str) and content == FOLDER:
        path.mkdir()
    elif isinstance(content, str):
        path.write_text(content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        np.save(path, content, allow_pickle=True)
    return str(path)


def _csv(rows: np.ndarray) -> str:
    return "".join(",".join(repr(float(v)) for v in row) + "\n" for row in rows)


# (name, content of the --domains file, words the message must contain)
_BAD_DOMAINS = [
    ("D.npy", np.empty((0, 3)), "is empty"),
    ("D.npy", np.empty(0), "2-d array"),
    ("D.npy", b"", "cannot read"),
    ("D.npy", b"\x93NUMPY garbage", "cannot read"),
    ("folder.npy", FOLDER, "is a folder"),
    ("D.csv", "a,b\n0.5,0.5\n", "not a CSV of real numbers"),
    ("D.csv", "", "is empty"),
    ("D.csv", "0.5,0.5\n0.2\n", "not a CSV of real numbers"),
    ("D.csv", "0.5+1j,0.5\n", "not a CSV of real numbers"),
    ("D.npy", np.ones((2, 2, 5)) / 5, "2-d array"),
    ("D.npy", np.full((3, 20), 0.05 + 0.01j), "complex"),
    ("D.npy", np.array([[{"a": 1}]], dtype=object), "cannot read"),
    ("D.npy", np.ones((3, 20), dtype=bool), "bool"),
    ("D.json", "{}", "expected a .npy or .csv file"),
    ("missing.npy", None, "no such file"),
    ("D.csv", _csv(np.r_[np.full((1, 20), np.nan), np.full((2, 20), 0.05)]), "(D)"),
    ("D.npy", np.full((3, 20), 0.5), "(D)"),
]


@pytest.mark.parametrize(
    ("name", "content", "words"),
    _BAD_DOMAINS,
    ids=[f"{n}-{w}-{i}" for i, (n, _, w) in enumerate(_BAD_DOMAINS)],
)
def test_solve_rejects_a_bad_domains_file_in_one_line(files, capsys, name, content, words):
    path = str(files / name) if content is None else _write(files, name, content)
    code = main(["solve", "--domains", path, "--experts", str(files / "P.npy")])
    line = _one_error_line(capsys, "solve")
    assert code == EXIT_ERROR
    assert line.startswith("modgate solve: error: --domains") and words in line, line


def test_solve_names_the_experts_option_for_a_bad_experts_file(files, capsys):
    path = _write(files, "P.npy", np.full((3, 20), 0.05 + 0j))
    code = main(["solve", "--domains", str(files / "D.npy"), "--experts", path])
    assert code == EXIT_ERROR
    assert _one_error_line(capsys, "solve").startswith("modgate solve: error: --experts")


@pytest.mark.parametrize(
    ("output", "words"),
    [
        ("missing/gate.npy", "does not exist"),
        ("plain/gate.npy", "plain is a file, not a folder"),
        ("sub/", "is a folder"),
        (".", "is a folder"),
    ],
)
def test_solve_checks_the_output_before_solving(files, capsys, solver_calls, output, words):
    (files / "sub").mkdir()
    target = str(files / output) + ("/" if output.endswith("/") else "")
    code = main(
        ["solve", "--domains", str(files / "D.npy"), "--experts", str(files / "P.npy"),
         "--output", target]
    )  # fmt: skip
    line = _one_error_line(capsys, "solve")
    assert (
        code == EXIT_ERROR and line.startswith("modgate solve: error: --output") and words in line
    )
    assert solver_calls == []
    assert (files / "plain").read_text() == "a file the user had\n"


def test_solve_reports_a_bad_mixture_set_by_its_option(files, capsys, solver_calls):
    code = main(["solve", "--domains", str(files / "D.npy"), "--experts", str(files / "P.npy"),
                 "--mixtures", "box:0.9,1.0"])  # fmt: skip
    line = _one_error_line(capsys, "solve")
    assert code == EXIT_ERROR and line.startswith("modgate solve: error: --mixtures: cannot parse")
    assert solver_calls == []


def test_solve_exits_0_when_converged_and_3_with_words_when_not(files, capsys, monkeypatch):
    args = ["solve", "--domains", str(files / "D.npy"), "--experts", str(files / "P.npy")]
    assert main(args) == 0
    assert "NOT CONVERGED" not in capsys.readouterr().out

    real = theory.minimax.robust_gate
    monkeypatch.setattr(
        theory.minimax, "robust_gate", lambda *a, **k: real(*a, **k | {"max_iter": 1})
    )
    assert main(args) == EXIT_NOT_CONVERGED
    out = capsys.readouterr().out
    assert "NOT CONVERGED: the solver stopped after 1 iteration with" in out
    assert main([*args, "--json"]) == EXIT_NOT_CONVERGED
    summary = json.loads(capsys.readouterr().out)
    assert summary["converged"] is False and summary["lower"] <= summary["upper"]


def test_solve_replaces_an_existing_output_only_once_the_gate_is_computed(files, capsys):
    target = files / "gate.npy"
    np.save(target, np.zeros(1))
    code = main(["solve", "--domains", str(files / "D.npy"), "--experts", str(files / "P.npy"),
                 "--output", str(target)])  # fmt: skip
    assert code == 0 and np.load(target).shape == (3, 20)
    assert f"saved to {target}" in capsys.readouterr().out
    assert sorted(p.name for p in files.iterdir()) == ["D.npy", "P.npy", "gate.npy", "plain"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--out", "{tmp}/plain"], "--out: {tmp}/plain is a file, not a folder"),
        (["--out", "{tmp}/plain/figures"], "--out: cannot create the folder"),
        (["--out", "/proc/modgate-cli-test"], "--out: cannot create the folder"),
        (["--only", "E42"], "--only: unknown experiment ID(s) E42; valid IDs: E1, E2, E3"),
        (["--jobs", "0"], "--jobs: expected an integer ≥ 1, got 0"),
    ],
)
def test_reproduce_rejects_bad_arguments_before_computing(files, capsys, monkeypatch, args, words):
    import paper_repro.reproduce as rp

    monkeypatch.setattr(rp, "_warm_up_kernels", lambda *_: pytest.fail("kernels compiled"))
    monkeypatch.setattr(rp, "_compute", lambda *a, **k: pytest.fail("an experiment was run"))
    argv = ["reproduce", *(a.replace("{tmp}", str(files)) for a in args)]
    if "--out" not in args:
        argv += ["--out", str(files / "figures")]
    code = main(argv)
    line = _one_error_line(capsys, "reproduce")
    assert code == EXIT_ERROR and words.replace("{tmp}", str(files)) in line, line
    assert (files / "plain").read_text() == "a file the user had\n"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--trials", "0"], "--trials: expected an integer ≥ 1, got 0"),
        (["--trials", "-3"], "--trials: expected an integer ≥ 1, got -3"),
        (["--only", "T99"], "--only: unknown verify row(s) T99; valid rows: T1, T1b, T1c, T2"),
        (["--only", "T1,X"], "--only: unknown verify row(s) X; valid rows: T1"),
    ],
)
def test_verify_rejects_bad_arguments_and_runs_nothing(capsys, args, words):
    code = main(["verify", *args])
    line = _one_error_line(capsys, "verify")
    assert code == EXIT_ERROR and words in line, line
    assert capsys.readouterr().out == ""


def test_bench_rejects_an_unknown_benchmark_and_runs_nothing(capsys):
    code = main(["bench", "--only", "B9"])
    captured = capsys.readouterr()
    assert code == EXIT_ERROR and captured.out == ""
    assert captured.err.strip() == (
        "modgate bench: error: --only: unknown benchmark(s) B9; valid benchmarks: B1, B2, B3, B4, B5, B6"
    )


def _explode(*args, **kwargs):
    raise RuntimeError("solver exploded\non two lines")


def test_an_unexpected_error_is_one_line_with_a_hint(capsys, monkeypatch):
    monkeypatch.setattr(checks, "run_checks", _explode)
    code = main(["verify", "--only", "T1"])
    line = _one_error_line(capsys, "verify")
    assert code == EXIT_ERROR
    assert line == (
        "modgate verify: unexpected error: RuntimeError: solver exploded on two lines "
        "(run with --debug for the traceback)"
    )


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback(capsys, monkeypatch, where):
    monkeypatch.setattr(checks, "run_checks", _explode)
    argv = ["--debug", "verify"] if where == "before" else ["verify", "--debug"]
    assert main(argv) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "Traceback" in err and "solver exploded" in err and "--debug for" not in err


def test_an_os_error_names_the_file_in_one_line(capsys, monkeypatch):
    import paper_repro.reproduce as rp

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device", "figures/E1_kakutani.png")

    monkeypatch.setattr(rp, "reproduce", full)
    assert main(["reproduce"]) == EXIT_ERROR
    line = _one_error_line(capsys, "reproduce")
    assert line == "modgate reproduce: error: figures/E1_kakutani.png: No space left on device"


def test_an_interrupt_is_one_line(capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(checks, "run_checks", interrupted)
    assert main(["verify"]) == 130
    assert _one_error_line(capsys, "verify") == "modgate verify: interrupted"


def test_library_names_are_translated_to_the_options_the_user_typed():
    parser = cli.build_parser()
    assert cli._name_options("only: x", parser, "verify") == "--only: x"
    assert cli._name_options("P: bad row", parser, "solve") == "--experts (P): bad row"
    assert cli._name_options("D: bad row", parser, "verify") == "D: bad row"
    assert cli._name_options("domain 1 puts mass: here", parser, "solve") == (
        "domain 1 puts mass: here"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["-m", "paper_repro", "solve", "--domains", "{tmp}", "--experts", "{tmp}/P.npy"],
        ["-m", "paper_repro", "reproduce", "--out", "{tmp}/plain"],
        ["-m", "paper_repro", "verify", "--trials", "0"],
        ["-m", "benchmarks", "B9"],
    ],
)
def test_a_real_process_exits_2_without_a_traceback(files, argv):
    res = subprocess.run(
        [sys.executable, *(a.replace("{tmp}", str(files)) for a in argv)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == EXIT_ERROR
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_a_reader_that_closes_the_pipe_gets_no_error_message():
    # `modgate verify --explain T1 | head -1` after head has exited: every write fails.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "paper_repro", "verify", "--explain", "T1"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert proc.stderr == b""
    assert proc.returncode == 141  # as a process killed by SIGPIPE in a shell
