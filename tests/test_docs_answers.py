"""The numbers printed in the lectures are the package's numbers.

Every ``{ans}`key = number``` in the pages is recomputed with the package (the
functions of ``docs/lecture_answers.py``) and must be the computed value
rounded to the printed digits. A second group of tests checks the registry
itself against closed forms derived by hand, so a wrong computation cannot
hide behind a page that faithfully prints it.
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
sys.path[:0] = [str(DOCS), str(DOCS / "_ext")]

import answers  # noqa: E402
import lecture_answers  # noqa: E402

PRINTED = answers.scan(DOCS)
LECTURES = sorted((DOCS / "lectures").glob("lecture*.md"))


@pytest.fixture(scope="module")
def values():
    return lecture_answers.all_answers()


def test_pages_print_computed_answers():
    assert len(PRINTED) >= 40, "the lectures print their numbers with the {ans} role"


@pytest.mark.parametrize(
    ("path", "key", "printed"),
    PRINTED,
    ids=[f"{p.name}:{k}" for p, k, _ in PRINTED],
)
def test_printed_number_matches_computation(values, path, key, printed):
    problem = answers.mismatch(key, printed, values)
    assert problem is None, f"{path.relative_to(DOCS)}: {problem}"


def test_every_computed_answer_is_printed(values):
    used = {key for _, key, _ in PRINTED}
    assert sorted(set(values) - used) == []


def test_rounding_rule():
    assert answers.agrees("1.0714", 15 / 14)
    assert not answers.agrees("1.0715", 15 / 14)
    assert not answers.agrees("1.07", 1.0751)
    assert answers.agrees("3e-13", 3.4e-13)
    assert not answers.agrees("3e-13", 4.6e-13)
    assert answers.mismatch("no.such.key", "1.0", {}) is not None


def test_lectures_have_enough_exercises_with_hidden_solutions():
    total = 0
    for path in LECTURES:
        text = path.read_text(encoding="utf-8")
        sections = re.split(r"^### Exercise", text, flags=re.M)[1:]
        assert 4 <= len(sections) <= 6, f"{path.name}: {len(sections)} exercises"
        for section in sections:
            assert ":::{dropdown} Solution" in section, f"{path.name}: a solution is not hidden"
        for heading in ("## Learning goals", "## Plan", "## Worked example"):
            assert heading in text, f"{path.name}: missing {heading!r}"
        total += len(sections)
    assert len(LECTURES) == 3
    assert total >= 15


# Closed forms, derived by hand, for the registry's computations.


def test_water_filling_levels_by_hand(values):
    # Outcome 2 pinned at 0.3; the other two share 0.7 in proportion to t.
    assert values["l1.water.nu"] == pytest.approx((0.40 + 0.35) / 0.7, abs=1e-12)
    assert values["l1.ex3.nu"] == pytest.approx((0.58 + 0.20) / 0.7, abs=1e-12)
    assert values["l1.ex3.q1"] == pytest.approx(0.58 * 0.7 / 0.78, abs=1e-12)


def test_erasure_channel_capacity_is_half_a_bit(values):
    assert values["l1.ex6.value"] == pytest.approx(0.5 * math.log(2), abs=1e-10)
    assert values["l1.ex6.capacity"] == pytest.approx(0.5 * math.log(2), abs=1e-10)
    assert values["l1.ex6.lam1"] == pytest.approx(0.5, abs=1e-6)


def test_robust_value_is_certified_and_equalized(values):
    assert values["l1.robust.loss1"] == pytest.approx(values["l1.robust.loss2"], abs=1e-9)
    assert values["l1.ex4.d_uniform"] <= values["l1.robust.value"] + 1e-12
    assert values["l1.robust.value"] < values["l2.ex4.uniform"]


def test_separable_interference_is_length_times_entropy(values):
    assert values["l2.worked.separable"] == pytest.approx(2 * math.log(2), abs=1e-12)
    lam = np.array([0.5, 0.3, 0.2])
    assert values["l2.ex3.interference"] == pytest.approx(3 * -(lam * np.log(lam)).sum(), abs=1e-12)


def test_unbound_envelope_gives_capacity(values):
    assert values["l2.ex6.value"] == pytest.approx(values["l2.ex6.capacity"], abs=1e-9)


def test_bound_numbers_by_hand(values):
    s = 0.25 / 0.8 + 0.25 / 0.2
    assert values["l3.worked.skewness"] == pytest.approx(s, abs=1e-14)
    rad = 2 * math.sqrt(2) * 2.0 * 1.0 * math.sqrt(2 * s / 1000)
    assert values["l3.ex2.rademacher"] == pytest.approx(rad, abs=1e-14)
    bound = 2.0 + 2 * rad + 5.0 * math.sqrt(s * math.log(1 / 0.05) / 2000)
    assert values["l3.ex2.bound"] == pytest.approx(bound, abs=1e-12)
    assert values["l3.ex3.skewed_at_vertex"] == pytest.approx(1 / 0.3, abs=1e-12)


def test_distilled_router_beats_every_constant_gate(values):
    assert values["l3.ex6.kl_constant"] == pytest.approx(0.0, abs=1e-10)
    assert values["l3.ex6.kl_router"] < values["l3.ex6.kl_best_constant"]
