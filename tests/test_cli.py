"""The ``modgate`` command line: verify prints its table and fails loudly; reproduce explains itself."""

import subprocess
import sys

import numpy as np

from paper_repro import checks
from paper_repro.cli import main


def test_verify_passes_rows_T1_T2(capsys):
    code = main(["verify", "--only", "T1,T2", "--trials", "10"])
    out = capsys.readouterr().out
    assert code == 0
    for row in ("T1 ", "T1b", "T1c", "T2 ", "T2b"):
        assert row in out
    assert "FAIL" not in out


def test_verify_exits_1_on_a_failing_row(capsys, monkeypatch):
    registry = dict(checks._REGISTRY)

    def broken(rng, trials):
        return checks.Outcome(trials, float(np.inf))

    registry["T0"] = checks._Check("T0", "a deliberately false statement", 1e-12, broken)
    monkeypatch.setattr(checks, "_REGISTRY", registry)
    code = main(["verify", "--only", "T0", "--trials", "3"])
    assert code == 1
    assert "FAIL" in capsys.readouterr().out


def test_verify_reports_a_raising_row_as_failed_and_keeps_the_table(capsys, monkeypatch):
    registry = dict(checks._REGISTRY)

    def crashing(rng, trials):
        raise RuntimeError("solver exploded")

    registry["T0"] = checks._Check("T0", "a check that raises", 1e-12, crashing)
    monkeypatch.setattr(checks, "_REGISTRY", registry)
    code = main(["verify", "--only", "T0,T1", "--trials", "3"])
    out = capsys.readouterr().out
    assert code == 1
    assert "solver exploded" in out and "T1 " in out


def test_console_entry_point_runs_as_module():
    res = subprocess.run(
        [sys.executable, "-m", "paper_repro", "--help"], capture_output=True, text=True, check=True
    )
    assert "reproduce" in res.stdout and "verify" in res.stdout and "solve" in res.stdout
