"""Fuzz of theory.objectives and theory.evaluate: bad objectives, models, domains,
sets Λ and comparison tables are refused naming the argument; on valid tiny
instances with extreme probabilities the losses and worst cases hold no NaN,
the divergence losses are ≥ 0, the worst case is the largest payoff over Λ and
every model of the experts' envelope scores at least the robust value (T10)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz_strategies import (
    BAD_OBJECTIVES,
    BAD_REALS,
    accept,
    attempt,
    bad_mixtures,
    cases,
    distribution_variants,
    distributions,
    examples,
    instances,
    mixture_sets,
    onehot_rows,
    reject,
)
from theory import evaluate, objectives
from theory.minimax import robust_gate
from theory.mixtures import Simplex

D = onehot_rows(2, 3)
Q = np.array([0.5, 0.25, 0.25])

_CASES = (
    cases(
        objectives.losses,
        {"model": Q, "D": D, "P": D, "objective": "regret"},
        {
            "model": distribution_variants(Q, (0,)),
            "D": distribution_variants(D, (0, 1)),
            "P": distribution_variants(D, (0, 1)),
        },
    )
    + cases(
        objectives.losses,
        {"model": Q, "D": D, "P": None},
        {"objective": BAD_OBJECTIVES},
    )
    + cases(
        evaluate.worst_case,
        {"model": Q, "D": D, "P": D, "objective": "regret"},
        {
            "model": distribution_variants(Q, (0,)),
            "D": distribution_variants(D, (0, 1)),
            "P": distribution_variants(D, (0, 1)),
        },
    )
    + cases(
        evaluate.worst_case,
        {"model": Q, "D": D},
        {"mixtures": bad_mixtures(), "objective": BAD_OBJECTIVES},
    )
    + cases(
        evaluate.compare,
        {"models": ["uniform"], "D": D, "P": D},
        {
            "D": distribution_variants(D, (0, 1))[::3],
            "P": distribution_variants(D, (0, 1))[1::3],
            "mixtures": bad_mixtures(),
            "objective": BAD_OBJECTIVES[::2],
            "tol": [*BAD_REALS, ("zero", 0.0), ("negative", -1e-9)],
            "labels": [
                ("bare string", "ab"),
                ("too few", ["a"]),
                ("repeated", ["a", "a"]),
                ("not a string", ["a", 3]),
                ("empty label", ["", "b"]),
                ("number", 2),
            ],
            "family": [("unknown", "mlp"), ("None", None), ("bad order", "markov:x")],
        },
    )
    + cases(
        evaluate.compare,
        {"models": ["proportional"], "D": D, "P": D},
        {
            "sizes": [
                ("missing", None),
                ("nan", [math.nan, 1.0]),
                ("negative", [-1.0, 2.0]),
                ("zero size", [0.0, 1.0]),
                ("wrong length", [1.0, 1.0, 1.0]),
                ("complex", [1 + 0j, 1.0]),
                ("strings", ["1", "1"]),
                ("0-d", 1.0),
            ]
        },
    )
)


@pytest.mark.parametrize(("fn", "kwargs", "names"), _CASES)
def test_bad_argument_is_refused_naming_it(fn, kwargs, names):
    reject(fn, names=names, **kwargs)


@pytest.mark.parametrize(
    "models",
    [
        "uniform",
        3,
        np.array([0.5, 0.5, 0.0]),
        [3],
        [None],
        {"mine": "uniform"},
        {"": Q},
        {3: Q},
        {"mine": [math.nan, 0.5, 0.5]},
        {"mine": [0.5, 0.5]},
        {"mine": np.array([0.5 + 0j, 0.5, 0.0])},
        ["nope"],
        ["expert 9"],
        ["expert 0"],
        ["expert x"],
        ["uniform", "uniform"],
        [],
    ],
    ids=repr,
)
def test_compare_bad_models_are_refused(models):
    reject(evaluate.compare, models, D, D, names="models")


def test_compare_models_needing_experts_name_P():
    reject(evaluate.compare, ["uniform"], D, names="P")


@pytest.mark.parametrize(
    "objective",
    [
        3,
        None,
        b"regret",
        ["regret"],
        "offsets:a;b",
        "offsets:",
        "offsets:nan;0",
        "offsets:inf;0",
        "nope",
    ],
    ids=repr,
)
def test_objective_from_spec_bad_spec_names_objective(objective):
    reject(objectives.from_spec, objective, names="objective")


def test_register_refuses_non_objectives_and_taken_names():
    reject(objectives.register, "divergence", names="objective")
    reject(objectives.register, objectives.get("divergence"), names="objective")


def test_infeasible_regret_names_P():
    P = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    reject(objectives.losses, Q, D, P, "regret", names="P")


@pytest.mark.parametrize(
    ("lam", "L", "names"),
    [
        ([0.5, 0.5], "ab", ("L",)),
        ("ab", [1.0, 2.0], ("lam",)),
        ([0.5, 0.5], [1.0, 2.0, 3.0], ("lam", "L")),
        ([0.5 + 0j, 0.5], [1.0, 2.0], ("lam",)),
        ([0.5, 0.5], [1.0 + 0j, 2.0], ("L",)),
        ([0.5, 0.5], [math.nan, 2.0], ("L",)),
        ([math.nan, 0.5], [1.0, 2.0], ("lam",)),
        ([-0.5, 1.5], [1.0, 2.0], ("lam",)),
        (0.5, 1.0, ("lam",)),
        (None, [1.0, 2.0], ("lam",)),
    ],
)
def test_payoff_bad_arguments_are_refused(lam, L, names):
    reject(objectives.payoff, lam, L, names=names)


def test_payoff_counts_only_weighted_domains():
    assert accept(objectives.payoff, [1.0, 0.0], [2.0, math.inf]) == 2.0
    assert accept(objectives.payoff, np.array([0.25, 0.75]), np.array([4.0, 0.0])) == 1.0


# ------------------------------------------------------------------ properties


@examples(40)
@given(st.data())
def test_losses_and_offsets_on_extreme_instances(data):
    D, P = data.draw(instances())
    K, n = D.shape
    q = data.draw(distributions(n))
    name = data.draw(st.sampled_from([*objectives.names(), "offsets"]))
    objective = np.linspace(-1.0, 1.0, K) if name == "offsets" else name
    L = attempt(objectives.losses, q, D, P, objective, names=("P", "objective"))
    if L is None:
        return
    assert L.shape == (K,)
    if name == "divergence":
        assert np.all(L >= -1e-12)
    c = accept(objectives.get(objective).offsets, D, P)
    assert np.all(np.isfinite(c)) and c.shape == (K,)
    # L_k = CE(D_k, q) − c_k and CE ≥ 0, with CE = +inf exactly where D_k meets a zero of q.
    hits_zero = np.array([np.any((D[k] > 0) & (q == 0)) for k in range(K)])
    assert np.all(np.isinf(L) == hits_zero)
    assert np.all(L[~hits_zero] + c[~hits_zero] >= -1e-12)


@examples(30)
@given(st.data())
def test_worst_case_is_the_largest_payoff_and_bounds_envelope_models(data):
    D, P = data.draw(instances())
    K, n = D.shape
    lam_set = data.draw(mixture_sets(K))
    q = data.draw(distributions(n))
    value, lam = accept(evaluate.worst_case, q, D, lam_set, "divergence")
    assert lam_set.contains(lam, 1e-7)
    L = accept(objectives.losses, q, D)
    center = lam_set.center()
    on = center > 0
    if np.all(np.isfinite(L[on])):
        assert value >= float(center[on] @ L[on]) - 1e-9 * max(1.0, abs(value))
    # T10: a mixture of the experts lies in their envelope, so its worst case is ≥ V* ≥ lower.
    robust = attempt(robust_gate, D, P, lam_set, names=("D",), max_iter=60)
    if robust is None:
        return
    w = data.draw(distributions(K))
    mix = w @ P
    mix_value, _ = accept(evaluate.worst_case, mix / mix.sum(), D, lam_set)
    assert mix_value >= robust.lower - 1e-7 * max(1.0, abs(robust.lower))


@examples(15)
@given(st.data())
def test_compare_table_has_no_nan_and_respects_T10(data):
    D, P = data.draw(instances(K=st.integers(1, 3), n=st.integers(1, 4)))
    K, n = D.shape
    models = ["uniform", "experts", "aggregate", "robust", {"yours": np.full(n, 1.0 / n)}]
    table = attempt(evaluate.compare, models, D, P, names=("D", "P"))
    if table is None:
        return
    assert table.lower <= table.upper + 1e-10 * max(1.0, abs(table.upper))
    for record in table:
        assert len(record["lam"]) == K and abs(sum(record["lam"]) - 1.0) <= 1e-9
        if record["in_envelope"]:
            assert record["margin"] >= -table.gap - 1e-7 * max(1.0, abs(table.value))
    assert "nan" not in table.summary().lower()


def test_compare_without_experts_scores_against_the_best_model():
    table = accept(evaluate.compare, {"uniform q": [1 / 3] * 3}, D, mixtures=Simplex(2))
    assert table["uniform q"]["margin"] >= -table.gap
    assert table["uniform q"]["in_envelope"] is None
