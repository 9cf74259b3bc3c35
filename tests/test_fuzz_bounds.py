"""Fuzz of theory.bounds (T11): bad sample sizes, weights, confidence levels and
constants are refused naming them; on valid input, including sample sizes up
to 1e308, the skewness is ≥ 1 and every bound is a finite number ≥ its
empirical part."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz_strategies import (
    BAD_COUNTS,
    BAD_REALS,
    accept,
    cases,
    distribution_variants,
    distributions,
    examples,
    kind_variants,
    reject,
    shape_variants,
)
from theory import bounds

LAM = np.array([0.25, 0.75])
M2 = np.array([1.0, 1.0])

BAD_SIZES = (
    kind_variants(M2)
    + shape_variants(M2, (0,))
    + [
        ("nan", [math.nan, 1.0]),
        ("inf", [math.inf, 1.0]),
        ("zero", [0.0, 1.0]),
        ("negative", [-1.0, 2.0]),
    ]
)
BAD_NONNEGATIVE = [*BAD_REALS, ("negative", -1.0)]
BAD_DELTAS = [*BAD_REALS, ("zero", 0.0), ("one", 1.0), ("above one", 1.5)]
_GEN = {"emp_risk": 0.1, "lam": LAM, "m": M2, "M": 1.0, "delta": 0.05, "rademacher": 0.1}

_CASES = (
    cases(
        bounds.skewness,
        {"lam": LAM, "m": M2},
        {"lam": distribution_variants(LAM, (0,)), "m": BAD_SIZES},
    )
    + cases(
        bounds.rademacher_softmax_linear,
        {"B": 1.0, "R": 1.0, "K": 2, "lam": LAM, "m": M2},
        {
            "B": BAD_NONNEGATIVE,
            "R": BAD_NONNEGATIVE,
            "K": BAD_COUNTS,
            "lam": distribution_variants(LAM, (0,)),
            "m": BAD_SIZES,
        },
    )
    + cases(
        bounds.rademacher_tabular,
        {"M": 1.0, "n": 3, "lam": LAM, "m": M2},
        {"M": BAD_NONNEGATIVE, "n": BAD_COUNTS, "m": BAD_SIZES[::3]},
    )
    + cases(
        bounds.generalization_bound,
        _GEN,
        {
            "emp_risk": BAD_REALS,
            "lam": distribution_variants(LAM, (0,))[::2],
            "m": BAD_SIZES,
            "M": BAD_NONNEGATIVE,
            "delta": BAD_DELTAS,
            "rademacher": BAD_NONNEGATIVE,
        },
    )
    + cases(
        bounds.uniform_generalization_bound,
        {**_GEN, "epsilon": 0.1},
        {
            "emp_risk": BAD_REALS[::2],
            "delta": BAD_DELTAS[::2],
            "epsilon": [*BAD_REALS, ("zero", 0.0), ("negative", -0.1)],
        },
    )
    + cases(
        bounds.net_size,
        {"epsilon": 0.1, "K": 2},
        {"epsilon": [*BAD_REALS, ("zero", 0.0)], "K": BAD_COUNTS},
    )
    + cases(
        bounds.loss_range,
        {"P": np.full((2, 2), 0.5)},
        {"P": distribution_variants(np.full((2, 2), 0.5)) + [("zero entry", np.eye(2))]},
    )
)


# Defects of theory/bounds.py found by this suite, one reason per kind.
@pytest.mark.parametrize(("fn", "kwargs", "names"), _CASES)
def test_bad_argument_is_refused_naming_it(fn, kwargs, names):
    reject(fn, names=names, **kwargs)


def test_skewness_of_huge_equal_sizes_is_one():
    assert accept(bounds.skewness, [0.5, 0.5], [1e308, 1e308]) == pytest.approx(1.0)


def test_rademacher_of_huge_sizes_is_finite():
    value = accept(bounds.rademacher_softmax_linear, 1.0, 1.0, 2, [0.5, 0.5], [1e308, 1e308])
    assert value == pytest.approx(2 * math.sqrt(2) * math.sqrt(2 * 1.0 / 2e308), rel=1e-9)


def test_generalization_bound_of_huge_sizes_is_finite():
    value = accept(bounds.generalization_bound, 0.1, [0.5, 0.5], [1e308, 1e308], 1.0, 0.05, 0.0)
    assert value == pytest.approx(0.1, abs=1e-100)


# ------------------------------------------------------------------ properties

_SIZE = st.one_of(st.integers(1, 10**6).map(float), st.sampled_from([1e-3, 0.5, 1e100, 1e150]))


@examples(60)
@given(st.data())
def test_T11_bounds_are_finite_and_ordered(data):
    K = data.draw(st.integers(1, 5))
    lam = data.draw(distributions(K))
    m = np.array(data.draw(st.lists(_SIZE, min_size=K, max_size=K)))
    s = accept(bounds.skewness, lam, m)
    # Cauchy–Schwarz: s(λ‖m̄) ≥ 1, with equality iff λ = m̄.
    assert s >= 1.0 - 1e-12 and not math.isnan(s)
    B, R = data.draw(st.floats(0, 10)), data.draw(st.floats(0, 10))
    rad = accept(bounds.rademacher_softmax_linear, B, R, K, lam, m)
    assert rad >= 0.0 and not math.isnan(rad)
    emp = data.draw(st.floats(-10, 10))
    delta = data.draw(st.floats(1e-12, 0.999))
    M = data.draw(st.floats(0, 50))
    bound = accept(bounds.generalization_bound, emp, lam, m, M, delta, rad)
    assert bound >= emp and not math.isnan(bound)
    uniform = accept(bounds.uniform_generalization_bound, emp, lam, m, M, delta, rad, 0.1)
    assert uniform >= bound - 1e-12 * max(1.0, abs(bound))
