"""Fuzz of theory.monolithic (T8–T10) and the comparators of sims.monolithic.

Bad families, sequence shapes, weights and comparator arguments are refused
naming them. On random sequence laws with zeros and subnormals, the
M-projection is a distribution, the interference is ≥ 0 and both sides of the
JSD-gap identity (T9) agree; every comparator's model that lies in the experts'
envelope scores at least the robust value (T10), and group DRO's certificate is
ordered."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sims import monolithic as sm
from tests.fuzz_strategies import (
    BAD_COUNTS,
    BAD_OBJECTIVES,
    BAD_REALS,
    BAD_SEEDS,
    accept,
    assert_ordered,
    assert_simplex,
    attempt,
    bad_mixtures,
    cases,
    distribution_variants,
    distributions,
    examples,
    reject,
    stacks,
    without,
)
from theory import monolithic as tm
from theory.divergences import jsd
from theory.minimax import robust_gate

# Two domains on sequences of length T = 2 over V = 2 symbols (n = 4).
D = np.array([[0.5, 0.5, 0.0, 0.0], [0.0, 0.25, 0.25, 0.5]])
P = np.array([[0.4, 0.4, 0.1, 0.1], [0.1, 0.2, 0.3, 0.4]])
LAM = np.array([0.5, 0.5])
SHAPE = (2, 2)

BAD_FAMILIES = [
    ("unknown", "mlp"),
    ("None", None),
    ("number", 3),
    ("no order", "markov:"),
    ("word order", "markov:x"),
    ("negative order", "markov:-1"),
    ("fractional order", "markov:1.5"),
    ("capitalized", "Full"),
    ("list", ["full"]),
    ("bytes", b"full"),
]
BAD_SHAPES = [
    ("missing", None),
    ("one number", (2,)),
    ("three numbers", (2, 2, 1)),
    ("string", "22"),
    ("float", (2.0, 2)),
    ("bool", (True, 2)),
    ("zero length", (0, 2)),
    ("negative", (-1, 2)),
    ("mismatch", (2, 3)),
    ("wrong split", (4, 1)),
    ("huge", (10**6, 10**6)),
    ("dict", {"T": 2, "V": 2}),
    ("set", {2, 3}),
    ("2-d array", np.array([[2, 2]])),
]
_SEQ = {"D": D, "lam": LAM, "family": "product", "shape": SHAPE}
_COMP = {"D": D, "P": P, "family": "product", "shape": SHAPE}

_CASES = (
    cases(
        tm.aggregate,
        {"D": D, "alpha": LAM, "family": "product", "shape": SHAPE},
        {
            "D": distribution_variants(D, (0,)),
            "alpha": distribution_variants(LAM, (0,)),
            "family": BAD_FAMILIES,
            "shape": BAD_SHAPES,
        },
    )
    + cases(
        tm.interference,
        _SEQ,
        {"lam": distribution_variants(LAM, (0,)), "family": BAD_FAMILIES, "shape": BAD_SHAPES},
    )
    + cases(
        tm.jsd_gap,
        _SEQ,
        {"lam": distribution_variants(LAM, (0,)), "family": BAD_FAMILIES, "shape": BAD_SHAPES},
    )
    + cases(
        tm.aggregate,
        {"D": D, "alpha": LAM, "family": "markov:2", "shape": SHAPE},
        {"family": [("order too high", "markov:2")]},
        prefix="aggregate-order",
    )
    + cases(
        tm.window_marginals,
        {"D": D, "shape": SHAPE, "r": 0},
        {"shape": BAD_SHAPES, "r": [*without(BAD_COUNTS, "zero"), ("negative", -1), ("r ≥ T", 2)]},
    )
    + cases(
        tm.product_interference,
        {"D": np.full((2, 4), 0.25), "lam": LAM, "shape": SHAPE},
        {
            "D": [("not a product", D)],
            "lam": distribution_variants(LAM, (0,)),
            "shape": BAD_SHAPES,
        },
    )
    + cases(
        tm.expert_error,
        {"D": D, "P": P, "lam": LAM},
        {"P": distribution_variants(P, (0, 1)), "lam": distribution_variants(LAM, (0,))},
    )
    + cases(
        sm.train_monolithic,
        {"D": D, "family": "product", "shape": SHAPE, "steps": 2},
        {
            "alpha": without(distribution_variants(LAM, (0,)), "None"),
            "family": [*BAD_FAMILIES, ("not a sequence family", "full")],
            "shape": BAD_SHAPES,
            "steps": without(BAD_COUNTS, "zero"),
            "lr": [*without(BAD_REALS, "None"), ("zero", 0.0), ("negative", -0.1)],
            "progress": [("string", "no"), ("number", 2), ("None", None)],
        },
    )
    + cases(
        sm.uniform_mixing,
        _COMP,
        {
            "D": distribution_variants(D, (0, 1))[::2],
            "P": distribution_variants(P, (0, 1))[1::2],
            "family": BAD_FAMILIES,
            "shape": BAD_SHAPES,
            "mixtures": bad_mixtures(),
            "objective": BAD_OBJECTIVES,
        },
    )
    + cases(
        sm.proportional_mixing,
        {**_COMP, "sizes": [1.0, 3.0]},
        {
            "sizes": [
                ("nan", [math.nan, 1.0]),
                ("negative", [-1.0, 2.0]),
                ("all zero", [0.0, 0.0]),
                ("wrong length", [1.0, 1.0, 1.0]),
                ("complex", [1 + 0j, 1.0]),
                ("strings", ["1", "1"]),
                ("0-d", 1.0),
                ("None", None),
            ]
        },
    )
    + cases(
        sm.group_dro,
        _COMP,
        {
            "tol": [*BAD_REALS, ("zero", 0.0)],
            "max_iter": BAD_COUNTS,
            "mixtures": bad_mixtures(),
            "objective": BAD_OBJECTIVES[::2],
        },
    )
    + cases(
        sm.regmix,
        {**_COMP, "samples": 4, "candidates": 8},
        {
            "samples": BAD_COUNTS,
            "candidates": BAD_COUNTS,
            "degree": [*BAD_COUNTS, ("three", 3)],
            "seed": BAD_SEEDS,
        },
    )
    + cases(
        sm.merge_experts,
        _COMP,
        {"weights": without(distribution_variants(LAM, (0,)), "None"), "family": BAD_FAMILIES},
    )
    + cases(
        sm.worst_case,
        {"model": D[0], "D": D, "P": P},
        {
            "model": distribution_variants(D[0], (0,)),
            "mixtures": bad_mixtures(),
            "objective": BAD_OBJECTIVES,
        },
    )
)


@pytest.mark.parametrize(("fn", "kwargs", "names"), _CASES)
def test_bad_argument_is_refused_naming_it(fn, kwargs, names):
    reject(fn, names=names, **kwargs)


def _one_result():
    return accept(sm.uniform_mixing, D, P, "product", SHAPE)


@pytest.mark.parametrize(
    ("results", "robust_value", "tol", "names"),
    [
        ("one", 0.1, 1e-9, "results"),
        (3, 0.1, 1e-9, "results"),
        ([3], 0.1, 1e-9, "results"),
        ("result", 0.1, 1e-9, "results"),
        ("list", "0.1", 1e-9, "robust_value"),
        ("list", True, 1e-9, "robust_value"),
        ("list", math.nan, 1e-9, "robust_value"),
        ("list", math.inf, 1e-9, "robust_value"),
        ("list", None, 1e-9, "robust_value"),
        ("list", 0.1 + 0j, 1e-9, "robust_value"),
        ("list", [0.1], 1e-9, "robust_value"),
        ("list", 0.1, math.nan, "tol"),
        ("list", 0.1, -1.0, "tol"),
        ("list", 0.1, "0", "tol"),
    ],
)
def test_compare_to_robust_bad_arguments(results, robust_value, tol, names):
    if results == "list":
        results = [_one_result()]
    elif results == "result":
        results = _one_result()
    reject(sm.compare_to_robust, results, robust_value, tol, names=names)


def test_merge_of_experts_without_common_support_names_P():
    Pd = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    reject(sm.merge_experts, Pd, Pd, "full", names="P")


# ------------------------------------------------------------------ properties

_FAMILIES = st.sampled_from(["full", "product", "markov:0", "markov:1", "markov:2"])


@st.composite
def sequence_instances(draw):
    T, V = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    family = draw(_FAMILIES)
    order = tm.parse_family(family)
    if order is not None and order > T - 1:
        family = "product"
    K = draw(st.integers(1, 3))
    return draw(stacks(K, V**T)), family, (T, V)


@examples(40)
@given(st.data())
def test_T9_projection_interference_and_jsd_gap(data):
    D_, family, shape = data.draw(sequence_instances())
    K = D_.shape[0]
    lam = data.draw(distributions(K))
    h = accept(tm.aggregate, D_, lam, family, shape)
    assert_simplex(h, "aggregate")
    interference = accept(tm.interference, D_, lam, family, shape)
    lhs, rhs = accept(tm.jsd_gap, D_, lam, family, shape)
    assert interference >= 0.0 and math.isfinite(interference)
    assert lhs == pytest.approx(interference, abs=1e-12)
    assert lhs == pytest.approx(rhs, abs=1e-9)
    if family == "full":
        assert interference == 0.0
    j = jsd(lam, D_)
    h_lam = -sum(v * math.log(v) for v in lam if v > 0)
    assert 0.0 <= j <= h_lam + 1e-9 <= math.log(K) + 2e-9


@examples(12)
@given(st.data())
def test_T10_comparators_in_the_envelope_are_no_better_than_the_robust_gate(data):
    D_, family, shape = data.draw(sequence_instances())
    K, n = D_.shape
    P_ = 0.5 * D_ + 0.5 * data.draw(stacks(K, n, full_support=True))
    P_ /= P_.sum(axis=1, keepdims=True)
    robust = accept(robust_gate, D_, P_, objective="regret")
    results = [
        accept(sm.uniform_mixing, D_, P_, family, shape, objective="regret"),
        accept(sm.proportional_mixing, D_, P_, np.arange(1, K + 1), family, shape, None, "regret"),
        accept(sm.group_dro, D_, P_, family, shape, max_iter=40),
        accept(sm.regmix, D_, P_, family, shape, None, "regret", samples=4, candidates=16),
    ]
    merged = attempt(sm.merge_experts, D_, P_, family, shape, None, "regret", names=("P",))
    results += [] if merged is None else [merged]
    for r in results:
        assert_simplex(r.model, r.name)
        assert r.lam.shape == (K,) and abs(r.lam.sum() - 1.0) <= 1e-9
        if r.lower is not None:
            assert_ordered(r.lower, r.upper, r.name)
    for c in accept(sm.compare_to_robust, results, robust.upper, robust.gap):
        assert c.explained, f"{c.name} beats the robust gate from inside the envelope"


@examples(6)
@given(st.data())
def test_train_monolithic_traces_hold_no_nan(data):
    D_, family, shape = data.draw(sequence_instances())
    if family == "full":
        family = "product"
    trace = accept(sm.train_monolithic, D_, None, family, shape, steps=5)
    assert_simplex(trace.model, "model")
    assert_simplex(trace.optimum, "optimum")
    assert np.all(np.abs(trace.cosines) <= 1 + 1e-12)
