"""Experts from samples: shapes and support, the add-β closed form, convergence to the
domains, an independent dictionary-based n-gram count, and input validation."""

from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sims.experts import ngram_experts, sample_counts, tabular_experts


@st.composite
def domain_stacks(draw):
    K = draw(st.integers(1, 5))
    n = draw(st.integers(1, 25))
    seed = draw(st.integers(0, 2**31))
    alpha = draw(st.sampled_from([0.1, 1.0, 5.0]))
    return np.random.default_rng(seed).dirichlet(np.full(n, alpha), size=K)


@given(domain_stacks(), st.integers(1, 500), st.floats(0.01, 3.0), st.integers(0, 100))
def test_tabular_experts_are_full_support_stochastic_rows(D, m, beta, seed):
    P = tabular_experts(D, m, beta=beta, seed=seed)
    assert P.dtype == np.float64 and P.shape == D.shape
    assert np.all(P > 0)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=1e-12)


@given(domain_stacks(), st.integers(1, 300), st.floats(0.05, 2.0))
def test_tabular_experts_are_add_beta_smoothed_counts(D, m, beta):
    # Undo the closed form p = (c + β)/(m + nβ): the counts must be non-negative
    # integers summing to m, and zero wherever the domain has no mass.
    counts = tabular_experts(D, m, beta=beta, seed=3) * (m + D.shape[1] * beta) - beta
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-8)
    assert np.all(np.round(counts) >= 0)
    np.testing.assert_allclose(counts.sum(axis=1), m, atol=1e-8)
    assert np.all(np.round(counts)[D == 0] == 0)


def test_sample_counts_are_multinomial_with_the_domain_means():
    D = np.array([[0.5, 0.3, 0.2, 0.0], [0.1, 0.1, 0.1, 0.7]])
    counts = np.stack([sample_counts(D, 100, seed=s) for s in range(400)])
    mean = counts.mean(axis=0)
    # Multinomial: the mean is m D, the standard error sqrt(m D (1 − D) / draws).
    se = np.sqrt(100 * D * (1 - D) / 400) + 1e-12
    assert np.all(np.abs(mean - 100 * D) <= 5 * se)
    assert np.all(counts[:, 0, 3] == 0)


def test_tabular_experts_converge_to_the_domains():
    D = np.random.default_rng(0).dirichlet(np.ones(40), size=3)
    tv = [0.5 * np.abs(tabular_experts(D, m, seed=1) - D).sum(axis=1).max() for m in (10**2, 10**6)]
    # Total variation of an empirical law is of order sqrt(n/m): ≈ 0.3 then ≈ 0.003.
    assert tv[1] < 0.01 < tv[0]


def _naive_ngram(strings, counts, order, beta):
    """Order-r n-gram from word counts with Counter objects, then renormalized on the strings."""
    start, end = "\x02", "\x03"
    symbols = sorted(set("".join(strings))) + [end]
    grams, contexts = Counter(), Counter()
    for word, c in zip(strings, counts, strict=True):
        seq = [start] * order + list(word) + [end]
        for t in range(order, len(seq)):
            ctx = tuple(seq[t - order : t])
            grams[ctx, seq[t]] += c
            contexts[ctx] += c
    scores = []
    for word in strings:
        seq = [start] * order + list(word) + [end]
        logp = 0.0
        for t in range(order, len(seq)):
            ctx = tuple(seq[t - order : t])
            logp += np.log(grams[ctx, seq[t]] + beta) - np.log(contexts[ctx] + beta * len(symbols))
        scores.append(logp)
    p = np.exp(np.array(scores) - max(scores))
    return p / p.sum()


@pytest.mark.parametrize("order", [0, 1, 2, 3])
def test_ngram_experts_match_an_independent_dictionary_count(order):
    strings = ["a", "ab", "ba", "abc", "cab", "bb", "cca", "acb"]
    rng = np.random.default_rng(order)
    D = rng.dirichlet(np.ones(len(strings)), size=3)
    P = ngram_experts(strings, D, order, m=200, beta=0.3, seed=5)
    counts = sample_counts(D, 200, seed=5)
    for k in range(3):
        np.testing.assert_allclose(P[k], _naive_ngram(strings, counts[k], order, 0.3), rtol=1e-10)
    assert P.dtype == np.float64 and P.shape == D.shape and np.all(P > 0)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)


def test_ngram_with_full_history_converges_to_the_domains():
    # With a context as long as the longest word, the n-gram is the empirical law of the
    # words (up to smoothing), so it converges to D.
    strings = ["a", "b", "ab", "ba", "aab", "bba", "abb"]
    D = np.random.default_rng(1).dirichlet(np.ones(len(strings)), size=2)
    P = ngram_experts(strings, D, order=3, m=200_000, beta=0.01, seed=2)
    assert np.abs(P - D).max() < 0.01


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"m": 0}, "m"),
        ({"m": 2.5}, "m"),
        ({"beta": 0.0}, "beta"),
        ({"beta": -1.0}, "beta"),
        ({"D": [[0.5, 0.6]]}, "D"),
        ({"D": [[np.nan, 1.0]]}, "D"),
    ],
)
def test_tabular_experts_reject_bad_input_naming_the_argument(kwargs, name):
    args = {"D": [[0.5, 0.5], [0.2, 0.8]], "m": 10, "beta": 0.5} | kwargs
    with pytest.raises(ValueError, match=rf"^{name}:"):
        tabular_experts(**args)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"strings": []}, "strings"),
        ({"strings": ["a", "a"]}, "strings"),
        ({"strings": ["a", 3]}, "strings"),
        ({"order": -1}, "order"),
        ({"m": 0}, "m"),
        ({"beta": 0}, "beta"),
        ({"D": [[1.0, 0.0, 0.0]]}, "D"),
    ],
)
def test_ngram_experts_reject_bad_input_naming_the_argument(kwargs, name):
    args = {"strings": ["a", "b"], "D": [[0.5, 0.5]], "order": 1, "m": 10, "beta": 0.5} | kwargs
    with pytest.raises(ValueError, match=rf"^{name}:"):
        ngram_experts(**args)
