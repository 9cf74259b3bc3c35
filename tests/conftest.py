import os
import sys

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
# CI runs are reproducible: examples derived from each test's name, no example database.
settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci" if os.environ.get("CI") else "default")


def pytest_terminal_summary(terminalreporter):
    """Print how many calls the fuzz suite made (tests/fuzz_strategies.py counts them)."""
    fuzz = sys.modules.get("tests.fuzz_strategies")
    if fuzz is not None and fuzz.TALLY.calls:
        terminalreporter.write_line(fuzz.TALLY.line())
