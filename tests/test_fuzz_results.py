"""Fuzz of theory.results and theory.symbolic: certified intervals never carry a
NaN and never cross; the printed and HTML forms of results computed on extreme
instances hold no NaN; the symbolic derivations refuse bad sizes naming them
(that they hold is tests/test_symbolic.py)."""

import math
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz_strategies import (
    BAD_COUNTS,
    accept,
    attempt,
    distributions,
    examples,
    instances,
    mixture_sets,
    reject,
)
from theory import symbolic
from theory.capacity import blahut_arimoto
from theory.minimax import fixed_mixture, robust_gate
from theory.results import certified_interval

_BOUND = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-300, 5e-324, math.nan, math.inf, -math.inf]),
)


@examples(200)
@given(_BOUND, _BOUND)
def test_certified_interval_is_ordered_and_never_nan(lower, upper):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi, consistent = accept(certified_interval, lower, upper)
    assert not (math.isnan(lo) or math.isnan(hi))
    assert lo <= hi
    if math.isnan(lower) or math.isnan(upper):
        assert not consistent
    elif lower <= upper:
        assert (lo, hi, consistent) == (lower, upper, True)


def test_a_nan_bound_becomes_the_trivial_bound_with_a_warning():
    with pytest.warns(RuntimeWarning, match="NaN"):
        assert certified_interval(math.nan, 1.0) == (-math.inf, 1.0, False)
    with pytest.warns(RuntimeWarning, match="NaN"):
        assert certified_interval(0.5, math.nan) == (0.5, math.inf, False)


@examples(15)
@given(st.data())
def test_printed_results_hold_no_nan(data):
    D, P = data.draw(instances())
    K = D.shape[0]
    lam_set = data.draw(mixture_sets(K))
    results = [
        attempt(robust_gate, D, P, lam_set, max_iter=40, names=("D",)),
        attempt(fixed_mixture, D, P, data.draw(distributions(K)), names=("D",)),
        accept(blahut_arimoto, D, 1e-9, 200),
    ]
    for result in filter(None, results):
        text = result.summary() + result._repr_html_()
        assert "nan" not in text.lower().replace("nats", ""), text
        relabelled = accept(result.with_labels, [f"domain {k}" for k in range(K)])
        assert relabelled.domain_labels == tuple(f"domain {k}" for k in range(K))
        reject(result.with_labels, "ab", names="labels")
        reject(result.with_labels, ["x"] * (K + 1), names="labels")


_SYMBOLIC = [
    (symbolic.t1_compensation_identity, ("K", "n")),
    (symbolic.t1_jsd_entropy_form, ("K", "n")),
    (symbolic.t9_product_jsd_gap, ("K", "V")),
    (symbolic.t11_lipschitz_constant, ("K",)),
    (symbolic.t5_dual_hessian, ("K", "free")),
]


@pytest.mark.parametrize(
    ("fn", "arg", "value"),
    [
        pytest.param(fn, arg, value, id=f"{fn.__name__}-{arg}-{label}")
        for fn, args in _SYMBOLIC
        for arg in args
        for label, value in BAD_COUNTS
        if value is not None
    ],
)
def test_symbolic_sizes_are_checked(fn, arg, value):
    reject(fn, names=arg, **{arg: value})
