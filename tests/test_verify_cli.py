"""`modgate verify`: whole statements, --explain from each row's own registration, the
measure column, --fail-fast, and rows that never skip an instance."""

import numpy as np
import pytest

from paper_repro import checks
from paper_repro.cli import main


def test_every_row_carries_its_explanation_in_its_registration():
    for c in checks.registry():
        assert c.method.strip() and c.instances.strip(), c.id
        assert c.measure in {"error", "count", "rate", "z-score", "p shortfall", "log-factor"}
        assert "..." not in c.statement


def test_explain_prints_statement_method_instances_tolerance_and_derivation(capsys):
    assert main(["verify", "--explain", "T1b"]) == 0
    out = capsys.readouterr().out
    flat = " ".join(out.split())
    c = {r.id: r for r in checks.registry()}["T1b"]
    for text in (c.statement, c.method, c.instances):
        assert " ".join(text.split()) in flat
    assert "≤ 1e-12" in out
    assert "Derivation (theory.symbolic.t1_compensation_identity)" in out


def test_explain_names_the_adversarial_families(capsys):
    assert main(["verify", "--explain", "T3"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for family in ("disjoint", "dominated", "tiny probabilities", "K = 1", "n = 1", "no root"):
        assert family in out


def test_explain_of_an_unknown_row_is_an_error_listing_the_rows(capsys):
    assert main(["verify", "--explain", "T99"]) == 2
    err = capsys.readouterr().err
    assert "T99" in err and "T1b" in err and "\n" == err[-1] and err.count("\n") == 1


def test_a_z_score_row_says_so_and_long_statements_are_wrapped_not_cut(capsys):
    assert main(["verify", "--only", "S9e", "--trials", "2"]) == 0
    out = capsys.readouterr().out
    assert "z-score" in out and "..." not in out
    statement = {r.id: r for r in checks.registry()}["S9e"].statement
    assert " ".join(out.split()).count(" ".join(statement.split())[:40]) == 1
    assert "negative binomial" in out


def test_wide_prints_each_statement_whole_on_its_row(capsys):
    assert main(["verify", "--only", "T1", "--trials", "2", "--wide"]) == 0
    out = capsys.readouterr().out
    rows = {r.id: r for r in checks.registry()}
    for line in out.splitlines():
        if line.startswith("T1"):
            row = line.split()[0]
            assert line.endswith(rows[row].statement)


def _failing_registry(monkeypatch):
    registry = dict(checks._REGISTRY)

    def broken(rng, trials):
        return checks.Outcome(trials, float(np.inf))

    for row in ("T0", "T0b"):
        registry[row] = checks._Check(row, "a deliberately false statement", 1e-12, broken)
    monkeypatch.setattr(checks, "_REGISTRY", registry)


def test_fail_fast_stops_at_the_first_failed_row(capsys, monkeypatch):
    _failing_registry(monkeypatch)
    assert main(["verify", "--only", "T0", "--fail-fast"]) == 1
    out = capsys.readouterr().out
    assert out.count("FAIL") == 2  # the row, and the summary line
    assert "T0b" not in out


def test_a_failing_derivation_fails_its_row(monkeypatch):
    registry = dict(checks._REGISTRY)

    def fine(rng, trials):
        return checks.Outcome(trials, 0.0)

    def wrong():
        raise AssertionError("residual: x - 1")

    registry["T0"] = checks._Check("T0", "s", 1.0, fine, derivation=wrong)
    monkeypatch.setattr(checks, "_REGISTRY", registry)
    (result,) = checks.run_checks(only=["T0"], trials=2)
    assert not result.passed and "residual: x - 1" in result.statement


@pytest.mark.parametrize("row", ["T2b", "S9b", "T6d", "A1"])
def test_rows_that_used_to_skip_count_every_trial(row):
    (result,) = checks.run_checks(only=[row], trials=12, exact=True)
    assert result.passed and result.trials == 12
