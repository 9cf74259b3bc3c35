"""Fuzz of sims.distill (S9): tries, routers and the exact samplers.

Bad word lists, experts, targets, routers, gates, sizes and seeds are refused
naming them. On tiny tries with zeros and subnormal probabilities, a model is
rebuilt exactly from its conditionals, the posterior router reproduces its
constant gate, the distilled student is a distribution with KL ≥ 0 inside its
certificate, and samples are indices of the strings."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sims import distill
from tests.fuzz_strategies import (
    BAD_COUNTS,
    BAD_REALS,
    BAD_SEEDS,
    accept,
    array_variants,
    attempt,
    cases,
    distribution_variants,
    distributions,
    examples,
    kind_variants,
    reject,
    shape_variants,
    stacks,
    without,
)
from theory.gates import gate_for

WORDS = ["a", "ab", "b"]
TRIE = distill.Trie(WORDS)
P = np.array([[0.5, 0.25, 0.25], [0.2, 0.2, 0.6]])
TARGET = np.array([1.0, 0.0, 0.0])
ROUTER = np.zeros((TRIE.num_nodes, 2))
ROUTER[:, 0] = 1.0
GATE = np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
COND = TRIE.conditionals(P[0])
BAD_STRINGS = [
    ("bare string", "abc"),
    ("bytes", b"abc"),
    ("None", None),
    ("number", 3),
    ("empty", []),
    ("not a string", ["a", 3]),
    ("bytes entries", [b"a", b"b"]),
    ("repeated", ["a", "a"]),
]

_CASES = (
    cases(distill.Trie, {"strings": WORDS}, {"strings": BAD_STRINGS})
    + cases(
        distill.distill_router,
        {"strings": WORDS, "P": P, "target": TARGET},
        {
            "strings": BAD_STRINGS,
            "P": distribution_variants(P, (1,)),
            "target": distribution_variants(TARGET, (0,)),
            "tol": [*BAD_REALS, ("zero", 0.0)],
            "max_iter": [c for c in BAD_COUNTS if c[0] not in ("zero",)],
        },
    )
    + cases(
        distill.posterior_router,
        {"strings": WORDS, "P": P, "z": [1.0, 0.0]},
        {"z": distribution_variants([1.0, 0.0], (0,))},
    )
    + cases(
        distill.router_model,
        {"strings": WORDS, "P": P, "router": ROUTER},
        {
            "router": array_variants(ROUTER, (0, 1))
            + [
                ("nan", np.where(ROUTER == 1, np.nan, 0.0)),
                ("negative", ROUTER * 2 - 0.5),
                ("rows off the simplex", ROUTER * 0.5),
            ]
        },
    )
    + cases(
        distill.sample_rejection,
        {"strings": WORDS, "P": P, "gate": GATE, "size": 3},
        {
            "gate": array_variants(GATE, (0, 1))
            + [("not normalized", np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]))],
            "size": BAD_COUNTS,
            "seed": BAD_SEEDS,
        },
    )
    + cases(
        distill.sample_router,
        {"strings": WORDS, "P": P, "router": ROUTER, "size": 3},
        {
            "router": kind_variants(ROUTER),
            "size": BAD_COUNTS,
            "seed": BAD_SEEDS,
        },
    )
    + cases(
        TRIE.prefix_mass,
        {"q": P[0]},
        {"q": without(distribution_variants(P[0], (0,)), "2-d")},
        prefix="prefix_mass",
    )
    + cases(
        TRIE.sequence_probability,
        {"cond": COND},
        {
            "cond": kind_variants(COND)
            + without(shape_variants(COND, (0,)), "2-d")
            + [("nan", np.full_like(COND, np.nan)), ("negative", -COND)]
        },
        prefix="sequence_probability",
    )
    + cases(
        TRIE.prefix, {"node": 1}, {"node": [*BAD_COUNTS[1:], ("past the end", 99)]}, prefix="prefix"
    )
)


@pytest.mark.parametrize(("fn", "kwargs", "names"), _CASES)
def test_bad_argument_is_refused_naming_it(fn, kwargs, names):
    reject(fn, names=names, **kwargs)


def test_router_weighting_an_expert_that_cannot_reach_a_prefix_is_refused():
    # Expert 1 only says "a": a router that reaches the prefix "b" through expert 2
    # and then hands it to expert 1 gives a next-symbol law of mass 0 there.
    Pd = np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    router = np.zeros((TRIE.num_nodes, 2))
    router[:, 0] = 1.0
    router[0] = [0.5, 0.5]
    exc = reject(distill.router_model, WORDS, Pd, router, names="router")
    assert "'b'" in str(exc)


def test_target_on_strings_no_expert_reaches_names_target():
    Pd = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    reject(distill.distill_router, WORDS, Pd, [0.5, 0.25, 0.25], names="target")


def test_samplers_refuse_a_size_beyond_memory():
    reject(distill.sample_router, WORDS, P, ROUTER, 10**13, names="size")
    reject(distill.sample_rejection, WORDS, P, GATE, 10**13, names="size")


def test_an_expert_alone_serving_a_child_of_subnormal_target_weight_keeps_a_weight():
    """Target mass 5e-324 on 'ba', which only the second expert can write: the optimal
    router keeps a weight of order 1e-322 on it at the prefix 'b' (a line search cannot
    resolve it); the KL stays finite and every prefix is certified."""
    words = ["", "a", "b", "aa", "aaa", "ba"]
    Pw = np.array([[0.2] * 5 + [0.0], np.array([16, 8, 11, 16, 8, 8]) / 67])
    target = np.array([16, 8, 4, 2, 1, 0.0]) / 31
    target[-1] = 5e-324
    res = accept(distill.distill_router, words, Pw, target / target.sum())
    assert res.converged and res.gap_bound <= 1e-9 and math.isfinite(res.kl)
    trie = distill.Trie(words)
    b = next(c for c in range(trie.num_nodes) if trie.prefix(c) == "b")
    assert 0.0 < res.router[b, 1] < 1e-300


def test_distill_router_with_a_subnormal_expert_probability():
    res = accept(
        distill.distill_router,
        ["", "ba", "ab", "a"],
        [[0.1, 0.8, 5e-324, 0.1]],
        [0.4, 0.05, 0.15, 0.4],
    )
    assert math.isfinite(res.kl) and res.kl > 100


# ------------------------------------------------------------------ properties

_WORDS = st.lists(st.text("ab", max_size=4), min_size=1, max_size=6, unique=True)


@examples(30)
@given(_WORDS, st.data())
def test_trie_rebuilds_every_model_from_its_conditionals(words, data):
    trie = accept(distill.Trie, words)
    assert trie.n == len(words) and len(trie.leaf) == len(words)
    q = data.draw(distributions(len(words)))
    mass = accept(trie.prefix_mass, q)
    assert mass[0] == pytest.approx(1.0, abs=1e-12) and np.all(mass >= 0)
    assert np.allclose(mass[trie.leaf], q, rtol=0, atol=0)
    back = accept(trie.sequence_probability, accept(trie.conditionals, q))
    assert np.allclose(back, q, rtol=1e-12, atol=1e-300)
    for node in range(trie.num_nodes):
        assert isinstance(trie.prefix(node), str)


@examples(25)
@given(_WORDS, st.data())
def test_distilled_router_on_extreme_experts(words, data):
    K = data.draw(st.integers(1, 3))
    n = len(words)
    Pw = data.draw(stacks(K, n))
    z = data.draw(distributions(K))
    posterior = accept(distill.posterior_router, words, Pw, z)
    assert posterior.shape == (accept(distill.Trie, words).num_nodes, K)
    student = accept(distill.router_model, words, Pw, posterior)
    # A constant gate is reproduced exactly by its posterior router.
    assert np.allclose(student, z @ Pw, rtol=1e-9, atol=1e-300)
    target = data.draw(distributions(n))
    res = attempt(distill.distill_router, words, Pw, target, names=("target",))
    if res is None:
        assert np.any((target > 0) & (Pw.max(axis=0) == 0))
        return
    assert np.all(res.student >= 0) and abs(res.student.sum() - 1.0) <= 1e-9
    assert np.allclose(res.router.sum(axis=1), 1.0)
    assert res.kl >= 0.0 and math.isfinite(res.kl)
    assert res.lower <= res.kl <= res.lower + res.gap_bound + 1e-12


@examples(20)
@given(_WORDS, st.data())
def test_samplers_return_indices_of_the_strings(words, data):
    K = data.draw(st.integers(1, 3))
    n = len(words)
    Pw = data.draw(stacks(K, n))
    size = data.draw(st.integers(1, 20))
    seed = data.draw(st.integers(0, 1000))
    w = data.draw(distributions(K))
    q = w @ Pw
    gate = gate_for(q / q.sum(), Pw)
    out = accept(distill.sample_rejection, words, Pw, gate, size, seed)
    assert out.indices.shape == (size,) and out.proposals >= size
    assert np.all((0 <= out.indices) & (out.indices < n))
    assert np.all(q[out.indices] > 0), "a sample of p_g must have p_g(x) > 0"
    router = accept(distill.posterior_router, words, Pw, w)
    out = accept(distill.sample_router, words, Pw, router, size, seed)
    assert out.indices.shape == (size,) and out.acceptance_rate == 1.0
    assert np.all(q[out.indices] > 0)
