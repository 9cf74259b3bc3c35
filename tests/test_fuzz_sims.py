"""Fuzz of the generators and learners of sims: domains, experts, word
frequencies and the stochastic primal-dual algorithm (T12).

Bad sizes, seeds, noise levels, word lists and learning rates are refused
naming them, and requests too large for memory are refused before anything is
allocated. Valid calls give stochastic rows without NaN, are reproducible
from their seed, and the n-gram experts agree with a brute-force count written
here from the formula."""

import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sims import domains, experts
from sims.primal_dual import loglik_features, stochastic_primal_dual
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
    examples,
    instances,
    mixture_sets,
    onehot_rows,
    reject,
    stacks,
    without,
)
from theory.minimax import robust_gate

D = onehot_rows(2, 3)
P = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1]])
WORDS = ["a", "ab", "b"]
BAD_FRACTIONS = [*BAD_REALS, ("negative", -0.1), ("above one", 1.5)]
BAD_SEPARATIONS = [*BAD_REALS, ("negative", -1.0)]
BAD_STRINGS = [
    ("bare string", "abc"),
    ("bytes", b"abc"),
    ("None", None),
    ("number", 3),
    ("empty", []),
    ("not a string", ["a", 3]),
    ("bytes entries", [b"a", b"b", b"c"]),
    ("repeated", ["a", "a", "b"]),
]
BAD_FLAGS = [("string", "no"), ("number", 2), ("None", None)]
BAD_ORDERS = [c for c in BAD_COUNTS if c[0] != "zero"]

_CASES = (
    cases(
        domains.dirichlet_domains,
        {"K": 2, "n": 3},
        {"K": BAD_COUNTS, "n": BAD_COUNTS, "separation": BAD_SEPARATIONS, "seed": BAD_SEEDS},
    )
    + cases(
        domains.noisy_experts,
        {"D": D},
        {"D": distribution_variants(D), "noise": BAD_FRACTIONS, "seed": BAD_SEEDS},
    )
    + cases(
        domains.product_domains,
        {"K": 2, "T": 2, "V": 2},
        {
            "K": BAD_COUNTS,
            "T": BAD_COUNTS,
            "V": BAD_COUNTS,
            "separation": BAD_SEPARATIONS,
            "seed": BAD_SEEDS,
        },
    )
    + cases(
        domains.markov_domains,
        {"K": 2, "T": 3, "V": 2},
        {
            "r": [*BAD_ORDERS, ("negative", -1), ("r ≥ T", 3)],
            "separation": BAD_SEPARATIONS,
            "seed": BAD_SEEDS,
        },
    )
    + cases(
        domains.pattern_domains,
        {"K": 2, "T": 2, "V": 3},
        {"V": [("V < K", 1)], "overlap": BAD_FRACTIONS, "seed": BAD_SEEDS},
    )
    + cases(domains.separable_domains, {"K": 3, "T": 2, "V": 3}, {"seed": BAD_SEEDS})
    + cases(
        experts.sample_counts,
        {"D": D, "m": 5},
        {"D": distribution_variants(D), "m": BAD_COUNTS, "seed": BAD_SEEDS},
    )
    + cases(
        experts.tabular_experts,
        {"D": D, "m": 5},
        {
            "m": [*BAD_COUNTS, ("beyond int64", 2**63)],
            "beta": [*BAD_REALS, ("zero", 0.0), ("negative", -0.5)],
            "seed": BAD_SEEDS,
        },
    )
    + cases(
        experts.ngram_experts,
        {"strings": WORDS, "D": D, "order": 1, "m": 5},
        {
            "strings": BAD_STRINGS,
            "D": distribution_variants(D, (1,)),
            "order": [*BAD_ORDERS, ("negative", -1)],
            "m": BAD_COUNTS,
            "beta": [*BAD_REALS, ("zero", 0.0)],
            "seed": BAD_SEEDS,
        },
    )
    + cases(
        stochastic_primal_dual,
        {"D": D, "P": P, "steps": 2, "batch": 2, "reference": False},
        {
            "D": distribution_variants(D, (0, 1))[::2],
            "P": distribution_variants(P, (0, 1))[1::2],
            "mixtures": bad_mixtures(),
            "objective": BAD_OBJECTIVES,
            "gate": [
                ("unknown", "softmax"),
                ("None", None),
                ("number", 3),
                ("object without methods", object()),
            ],
            "steps": BAD_COUNTS,
            "batch": [*BAD_COUNTS, ("beyond memory", 10**12)],
            "seed": BAD_SEEDS,
            "lr": [
                ("number", 1.0),
                ("two rates", (1.0, 1.0)),
                ("string", "abc"),
                ("nan rate", (math.nan, 1.0, 1.0)),
                ("negative rate", (1.0, -1.0, 1.0)),
                ("string rate", (1.0, 1.0, "1")),
            ],
            "eval_every": without(BAD_COUNTS, "None"),
            "reference": BAD_FLAGS,
            "progress": BAD_FLAGS,
            "labels": [("bare string", "ab"), ("too few", ["a"])],
        },
    )
)


@pytest.mark.parametrize(("fn", "kwargs", "names"), _CASES)
def test_bad_argument_is_refused_naming_it(fn, kwargs, names):
    reject(fn, names=names, **kwargs)


@pytest.mark.parametrize(
    ("fn", "args", "names"),
    [
        (domains.product_domains, (1, 10**9, 1), ("K", "T", "V")),
        (domains.product_domains, (1, 100, 2), ("T", "V")),
        (domains.markov_domains, (2, 70, 2), ("T", "V")),
        (domains.dirichlet_domains, (10**9, 10**9), ("K", "n")),
        (domains.dirichlet_domains, (1, 10**12), ("K", "n")),
        (domains.pattern_domains, (2, 10**9, 2), ("K", "T", "V")),
    ],
    ids=[
        "product T=1e9",
        "product 2^100",
        "markov 2^70",
        "dirichlet 1e18",
        "dirichlet 1e12",
        "pattern T=1e9",
    ],
)
def test_requests_beyond_memory_are_refused_before_allocating(fn, args, names):
    # Regression: product_domains(1, 10**9, 1) allocated more than 7 GiB before failing.
    reject(fn, *args, names=names)


def test_ngram_experts_refuse_a_bare_string():
    # Regression: ngram_experts('abc', ...) read the string as three one-letter words.
    exc = reject(experts.ngram_experts, "abc", np.full((1, 3), 1 / 3), 1, 5, names="strings")
    assert str(exc).startswith("strings")


def test_ngram_experts_refuse_None_naming_strings():
    # Regression: ngram_experts(None, ...) raised "'NoneType' object is not iterable".
    assert str(reject(experts.ngram_experts, None, D, 1, 5, names="strings")).startswith("strings")


@pytest.mark.parametrize(
    "fn",
    [
        lambda seed: domains.dirichlet_domains(2, 3, seed=seed),
        lambda seed: domains.noisy_experts(D, seed=seed),
        lambda seed: experts.tabular_experts(D, 5, seed=seed),
        lambda seed: experts.ngram_experts(WORDS, D, 1, 5, seed=seed),
        lambda seed: stochastic_primal_dual(D, P, steps=1, batch=1, seed=seed, reference=False),
    ],
    ids=["dirichlet_domains", "noisy_experts", "tabular_experts", "ngram_experts", "spd"],
)
@pytest.mark.parametrize("seed", [-1, 1.5, "abc", math.nan, True], ids=repr)
def test_bad_seed_is_refused_not_passed_to_numpy(fn, seed):
    # Regression: these seeds reached numpy, which accepted some (True, 1.5 in lists)
    # and refused others with messages that did not name the seed.
    reject(fn, seed, names="seed")


@pytest.mark.parametrize(
    "P_bad",
    [np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]]), "abc", np.eye(2).astype(complex)],
    ids=["zero entry", "string", "complex"],
)
def test_loglik_features_name_P(P_bad):
    reject(loglik_features, P_bad, names="P")


def test_pure_noise_experts_have_no_nan_rows():
    # Regression: noisy_experts(D, noise=1.0) gave NaN rows where D has zeros (0 · log 0).
    Pn = accept(domains.noisy_experts, np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]]), 1.0)
    assert_simplex(Pn, "noisy_experts")
    assert np.all(Pn > 0)


@pytest.mark.parametrize(
    ("languages", "kwargs", "names"),
    [
        ("en", {}, "languages"),
        ([], {}, "languages"),
        (["en", "en"], {}, "languages"),
        (["xx"], {}, "languages"),
        ([3], {}, "languages"),
        ([["en"]], {}, "languages"),
        (None, {}, "languages"),
        (["en"], {"top_n": 0}, "top_n"),
        (["en"], {"top_n": 2.5}, "top_n"),
        (["en"], {"max_len": True}, "max_len"),
        (["en"], {"max_len": "3"}, "max_len"),
        (["en"], {"alphabet": ""}, "alphabet"),
        (["en"], {"alphabet": "aa"}, "alphabet"),
        (["en"], {"alphabet": "AB"}, "alphabet"),
        (["en"], {"alphabet": ["a", "b"]}, "alphabet"),
        (["en"], {"alphabet": "12"}, "alphabet"),
        (["en"], {"alphabet": "q", "max_len": 1}, "languages"),
    ],
)
def test_wordfreq_domains_bad_arguments(languages, kwargs, names):
    reject(
        domains.wordfreq_domains, languages, **{"top_n": 20, "max_len": 4, **kwargs}, names=names
    )


def test_wordfreq_domains_small_request():
    out = accept(domains.wordfreq_domains, ["en", "fr"], 30, 4)
    assert isinstance(out.strings, list) and all(isinstance(s, str) for s in out.strings)
    assert len(set(out.strings)) == len(out.strings) == out.D.shape[1]
    assert out.D.shape[0] == 2 and out.languages == ("en", "fr")
    assert_simplex(out.D, "wordfreq D")


_EXTREME_SCALARS = [1e-300, 5e-324, 1e300, 1.7e308]


@pytest.mark.parametrize("value", _EXTREME_SCALARS, ids=repr)
@pytest.mark.parametrize(
    "make",
    [
        lambda v: domains.dirichlet_domains(3, 4, v, 1),
        lambda v: domains.product_domains(2, 2, 2, v, 1),
        lambda v: domains.markov_domains(2, 3, 2, 1, v, 1),
        lambda v: domains.noisy_experts(D, min(v, 1.0), 1),
        lambda v: domains.pattern_domains(2, 2, 2, min(v, 1.0), 1),
        lambda v: experts.tabular_experts(D, 5, v, 1),
        lambda v: experts.ngram_experts(WORDS, D, 1, 5, v, 1),
    ],
    ids=["dirichlet", "product", "markov", "noisy", "pattern", "tabular", "ngram"],
)
def test_extreme_scalars_give_stochastic_rows(make, value):
    # Regression: a separation or β near 1.8e308 overflowed to inf − inf (NaN rows,
    # or rows of zeros for tabular_experts). A subnormal β may be refused (an n-gram
    # probability underflows to 0), naming beta.
    out = attempt(make, value, names="beta")
    if out is None:
        assert value < 1e-100
        return
    assert_simplex(out, "rows")


# ------------------------------------------------------------------ properties


@examples(30)
@given(
    st.integers(1, 4),
    st.integers(1, 6),
    st.sampled_from([0.0, 1e-300, 0.5, 3.0, 50.0, 1e6]),
    st.integers(0, 2**32),
)
def test_dirichlet_domains_are_stochastic_and_reproducible(K, n, separation, seed):
    Dd = accept(domains.dirichlet_domains, K, n, separation, seed)
    assert Dd.shape == (K, n)
    assert_simplex(Dd, "dirichlet_domains")
    assert np.array_equal(Dd, domains.dirichlet_domains(K, n, separation, seed))
    for noise in (0.0, 0.3, 1.0):
        Pn = accept(domains.noisy_experts, Dd, noise, seed)
        assert_simplex(Pn, f"noisy_experts(noise={noise})")
        if noise < 1:
            # The support of p_k is that of D_k.
            assert np.array_equal(Pn > 0, Dd > 0)


@examples(20)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.data())
def test_sequence_domains_are_stochastic(K, T, V, data):
    s = data.draw(st.sampled_from([0.0, 1.0, 30.0]))
    for make in (
        lambda: domains.product_domains(K, T, V, s, 1),
        lambda: domains.markov_domains(K, T, V, data.draw(st.integers(0, T - 1)), s, 1),
    ):
        Dd = accept(make)
        assert Dd.shape == (K, V**T)
        assert_simplex(Dd, "sequence domains")
    Dp = attempt(domains.pattern_domains, K, T, V, data.draw(st.floats(0, 1)), 1, names="V")
    if Dp is None:
        assert V < K
    else:
        assert_simplex(Dp, "pattern_domains")


def _ngram_reference(strings, counts, order, beta):
    """p_k from the formula: counts of (context, symbol) over the sampled words, then
    the product of smoothed conditionals, renormalized on the strings."""
    n_symbols = len(set("".join(strings))) + 1
    out = []
    for row in counts:
        gram, ctx = Counter(), Counter()
        for word, c in zip(strings, row, strict=True):
            pad = ["<s>"] * order + list(word)
            for t, a in enumerate([*word, "</s>"]):
                context = tuple(pad[t : t + order])
                gram[context, a] += c
                ctx[context] += c
        logs = []
        for word in strings:
            pad = ["<s>"] * order + list(word)
            logs.append(
                sum(
                    math.log(gram[tuple(pad[t : t + order]), a] + beta)
                    - math.log(ctx[tuple(pad[t : t + order])] + beta * n_symbols)
                    for t, a in enumerate([*word, "</s>"])
                )
            )
        logs = np.array(logs)
        p = np.exp(logs - logs.max())
        out.append(p / p.sum())
    return np.array(out)


_WORDS = st.lists(st.text("ab", max_size=5), min_size=1, max_size=5, unique=True)


@examples(25)
@given(_WORDS, st.data())
def test_ngram_experts_match_the_counting_formula(words, data):
    K = data.draw(st.integers(1, 3))
    Dw = data.draw(stacks(K, len(words)))
    order = data.draw(st.integers(0, 7))
    m = data.draw(st.integers(1, 50))
    beta = data.draw(st.sampled_from([0.01, 0.5, 2.0]))
    seed = data.draw(st.integers(0, 1000))
    Pn = accept(experts.ngram_experts, words, Dw, order, m, beta, seed)
    assert_simplex(Pn, "ngram_experts")
    assert np.all(Pn > 0)
    counts = experts.sample_counts(Dw, m, seed)
    assert np.allclose(Pn, _ngram_reference(words, counts, order, beta), rtol=1e-9, atol=1e-300)
    tab = accept(experts.tabular_experts, Dw, m, beta, seed)
    assert np.allclose(tab, (counts + beta) / (m + len(words) * beta))


def test_ngram_experts_keep_long_contexts_apart():
    # Regression: contexts were coded as base**r integers, which wrap around int64
    # for long words and high orders and merged the counts of different contexts.
    words = ["a" + "b" * 39, "b" * 40]
    Dw = np.array([[1.0, 0.0]])
    Pn = accept(experts.ngram_experts, words, Dw, 41, 10, 0.5)
    counts = experts.sample_counts(Dw, 10)
    assert np.allclose(Pn, _ngram_reference(words, counts, 41, 0.5), rtol=1e-9, atol=0)


@examples(8)
@given(st.data())
def test_T12_primal_dual_few_steps(data):
    Dm, Pm = data.draw(instances(K=st.integers(1, 3), n=st.integers(1, 4)))
    K = Dm.shape[0]
    lam_set = data.draw(mixture_sets(K))
    objective = data.draw(st.sampled_from(["regret", "cross_entropy", "divergence"]))
    gate = data.draw(st.sampled_from(["tabular", "loglik"]))
    kwargs = {"steps": 5, "batch": 3, "seed": 7, "reference": False}
    res = attempt(
        stochastic_primal_dual, Dm, Pm, lam_set, objective, gate, names=("D", "P"), **kwargs
    )
    if res is None:
        return
    assert_simplex(res.gate.T, "gate columns")
    assert_simplex(res.model, "model")
    assert lam_set.contains(res.lam, 1e-7)
    assert not math.isnan(res.worst_case)
    robust = accept(robust_gate, Dm, Pm, lam_set, objective, max_iter=60)
    # lower = d(λ̄) ≤ V* ≤ robust.upper.
    assert_ordered(res.lower, robust.upper + 1e-7 * max(1.0, abs(robust.upper)), "lower vs V*")
    again = accept(stochastic_primal_dual, Dm, Pm, lam_set, objective, gate, **kwargs)
    assert np.array_equal(again.gate, res.gate), "the same seed must give the same run"
