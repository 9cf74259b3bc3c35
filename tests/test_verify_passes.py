"""`modgate verify` as shipped passes: every row, with the default seed and trials.

Each row is its own test, so a failure names the row. The rows compare each
result with an independent computation (see ``modgate verify --explain ID``),
so this is the suite's end-to-end check of every THEORY statement on the
instances a user gets by default.
"""

from __future__ import annotations

import inspect

import pytest

from paper_repro import checks

DEFAULTS = inspect.signature(checks.run_checks).parameters
SEED, TRIALS = DEFAULTS["seed"].default, DEFAULTS["trials"].default


@pytest.mark.parametrize("row", [c.id for c in checks.registry()])
def test_row_passes_with_the_default_seed_and_trials(row):
    (result,) = checks.run_checks(seed=SEED, trials=TRIALS, only=[row], exact=True)
    assert result.passed, f"{row}: worst {result.measure} {result.worst_error} > {result.tolerance}"
    assert result.trials >= 1
