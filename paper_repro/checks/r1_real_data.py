"""Verify row R1: the building blocks of the real-data experiments.

The experiments on word frequencies rest on two constructions that no theorem
checks: the domains (the top words of each language, restricted to short words
over an alphabet, with D_k proportional to the word's frequency) and the
character n-gram experts trained on words drawn from them. Each is compared
here with the same construction written directly: the word lists filtered and
normalized in plain Python, and the n-gram counts taken word by word with
dictionaries.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from paper_repro.checks import Outcome, check
from sims.experts import ngram_experts
from sims.wordfreq import wordfreq_domains


def _ngram_reference(strings, word_counts, order: int, beta: float) -> np.ndarray:
    """p_k(x) ∝ Π_t (c(ctx, a_t) + β)/(c(ctx) + β N) with dictionary counts over the words
    drawn (``word_counts[i]`` copies of ``strings[i]``), N = |letters| + 1 (end symbol)."""
    end, pad = "\x00end", "\x00pad"
    letters = sorted({ch for s in strings for ch in s})
    N = len(letters) + 1

    def events(word):
        symbols = [pad] * order + list(word) + [end]
        for t in range(order, len(symbols)):
            yield tuple(symbols[t - order : t]), symbols[t]

    grams, contexts = Counter(), Counter()
    for word, c in zip(strings, word_counts, strict=True):
        for ctx, a in events(word):
            grams[ctx, a] += c
            contexts[ctx] += c
    logp = np.array(
        [
            sum(
                math.log((grams[ctx, a] + beta) / (contexts[ctx] + beta * N))
                for ctx, a in events(w)
            )
            for w in strings
        ]
    )
    p = np.exp(logp - logp.max())
    return p / p.sum()


@check(
    "R1",
    "the real-data building blocks: wordfreq_domains keeps exactly the top-N words of length "
    "≤ max_len over the alphabet with D_k ∝ word_frequency, and ngram_experts is the add-β "
    "character n-gram model of the words drawn",
    1e-12,
    method="wordfreq_domains against the wordfreq lists filtered and normalized here (same "
    "word set, D within 1e-12); ngram_experts against n-gram counts taken word by word with "
    "dictionaries, on domains that are point masses (so the m words drawn are known): the "
    "largest absolute difference of probabilities (∞ for a different word set).",
    instances="languages en and fr, N = 60, max_len 2..4 and the alphabet a–z or a random half "
    "of it (first trials only); random words over {a, b, c} of length 0..4, K = 1..3 "
    "point-mass domains, order 0..3, m 1..5, β in (0.1, 2).",
)
def r1_real_data(rng, trials):
    import wordfreq

    worst = 0.0
    for t in range(trials):
        if t < 3:
            max_len = 2 + t
            letters = "abcdefghijklmnopqrstuvwxyz"
            if t == 2:
                letters = "".join(sorted(rng.choice(list(letters), size=13, replace=False)))
            dom = wordfreq_domains(["en", "fr"], 60, max_len, alphabet=letters)
            words = sorted(
                {
                    w
                    for lang in ("en", "fr")
                    for w in wordfreq.top_n_list(lang, 60)
                    if len(w) <= max_len and set(w) <= set(letters)
                }
            )
            if list(dom.strings) != words:
                return Outcome(trials, np.inf)
            F = np.array(
                [[wordfreq.word_frequency(w, lang) for w in words] for lang in ("en", "fr")]
            )
            worst = max(worst, float(np.abs(dom.D - F / F.sum(axis=1, keepdims=True)).max()))
        n = int(rng.integers(2, 8))
        strings = sorted(
            {"".join(rng.choice(list("abc"), size=int(rng.integers(0, 5)))) for _ in range(3 * n)}
        )[:n]
        n = len(strings)
        K = int(rng.integers(1, 4))
        order = int(rng.integers(0, 4))
        m = int(rng.integers(1, 6))
        beta = float(rng.uniform(0.1, 2.0))
        picks = rng.integers(n, size=K)
        D = np.eye(n)[picks]
        P = ngram_experts(strings, D, order, m, beta=beta, seed=int(rng.integers(2**31)))
        for k in range(K):
            ref = _ngram_reference(strings, m * D[k], order, beta)
            worst = max(worst, float(np.abs(P[k] - ref).max()))
    return Outcome(trials, worst)
