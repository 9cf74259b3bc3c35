r"""Experts trained from samples of the domains (THEORY §1, §7; EXPERIMENTS E7, E10).

Both constructors draw m samples from every row of D and return smoothed
maximum-likelihood experts with full support, as T11 requires (the loss
:math:`-\log p_g` must be bounded).
"""

from __future__ import annotations

import numpy as np

from theory.validation import check_int, check_positive, check_seed, check_stack, check_strings

__all__ = ["tabular_experts", "ngram_experts", "sample_counts"]

# numpy's multinomial sampler counts in a C long.
_MAX_DRAWS = 2**63 - 1


def sample_counts(D, m, seed=0) -> np.ndarray:
    """Counts (K, n) of ``m`` i.i.d. draws from every row of ``D`` (one multinomial per row)."""
    D = check_stack(D, "D")
    m = check_int(m, "m", maximum=_MAX_DRAWS)
    rng = check_seed(seed)
    return np.stack([rng.multinomial(m, row) for row in D]).astype(np.float64)


def tabular_experts(D, m, beta=0.5, seed=0) -> np.ndarray:
    r"""Add-β smoothed maximum-likelihood experts from ``m`` samples of each domain.

    .. math:: p_k(x) = \frac{c_k(x) + \beta}{m + n\beta},

    where :math:`c_k(x)` counts x among m i.i.d. draws from :math:`D_k`. Returns a
    (K, n) float64 array with full support (β > 0).
    """
    D = check_stack(D, "D")
    m = check_int(m, "m", maximum=_MAX_DRAWS)
    beta = check_positive(beta, "beta")
    counts = sample_counts(D, m, seed)
    total = m + D.shape[1] * beta
    if not np.isfinite(total):
        # β near the float64 limit: n·β overflows; divide through by β instead.
        return (counts / beta + 1.0) / (m / beta + D.shape[1])
    return (counts + beta) / total


def _encode(strings: list[str]) -> tuple[np.ndarray, int]:
    """Symbol ids (n, L+1) of the strings with the end symbol appended, right-padded with −1.

    Ids 0..|A|−1 are the characters (sorted), |A| is the end symbol; also returns |A| + 1.
    """
    alphabet = sorted(set().union(*map(set, strings)))
    index = {a: i for i, a in enumerate(alphabet)}
    end = len(alphabet)
    lengths = np.fromiter((len(s) for s in strings), dtype=np.int64, count=len(strings))
    ids = np.full((len(strings), int(lengths.max()) + 1), -1, dtype=np.int64)
    for i, s in enumerate(strings):
        ids[i, : len(s)] = [index[a] for a in s]
        ids[i, len(s)] = end
    return ids, end + 1


def ngram_experts(strings, D, order, m, beta=0.5, seed=0) -> np.ndarray:
    r"""Character n-gram experts of order r, trained on m words drawn from each domain.

    A word x = a_1..a_T gets the end symbol a_{T+1} = ⟨/s⟩ and r start symbols of
    left padding; expert k is

    .. math:: \tilde p_k(x) = \prod_{t=1}^{T+1}
              \frac{c_k(a_{t-r..t-1}, a_t) + \beta}{c_k(a_{t-r..t-1}) + \beta\,|A \cup \{⟨/s⟩\}|},

    with :math:`c_k` the (context, symbol) and context counts in the m words drawn
    from :math:`D_k` over ``strings``, and is renormalized on the finite set:
    :math:`p_k(x) = \tilde p_k(x) / \sum_{x' \in X}\tilde p_k(x')`. Returns (K, n),
    full support. The counts are computed at once for all K experts: every
    (context, symbol) occurrence in X gets an integer id, and the counts of a
    sample are weighted bincounts over those ids.
    """
    strings = check_strings(strings, "strings")
    if len(set(strings)) != len(strings):
        raise ValueError("strings: expected distinct strings (the points of a finite set X)")
    D = check_stack(D, "D", n=len(strings))
    order = check_int(order, "order", minimum=0)
    m = check_int(m, "m", maximum=_MAX_DRAWS)
    beta = check_positive(beta, "beta")
    counts = sample_counts(D, m, seed)

    ids, n_next = _encode(strings)
    start = n_next  # padding symbol, never predicted
    base = n_next + 1
    n, width = ids.shape
    # A context longer than the longest word holds nothing but more padding in
    # front of the whole prefix: capping r at the width changes no count.
    order = min(order, width)
    padded = np.concatenate([np.full((n, order), start, dtype=np.int64), ids], axis=1)
    # Code of each context (the r preceding symbols), extended one symbol at a
    # time and renumbered densely after every step: a plain mixed-radix code
    # base**r overflows int64 for long words, and colliding codes would merge
    # the counts of different contexts.
    ctx = np.zeros((n, width), dtype=np.int64)
    for j in range(order):
        code = ctx * base + padded[:, j : j + width]
        ctx = np.unique(code, return_inverse=True)[1].reshape(n, width)
    valid = ids >= 0
    word = np.broadcast_to(np.arange(n)[:, None], (n, width))[valid]
    ctx_v = ctx[valid]
    gram_v = ctx_v * n_next + ids[valid]
    _, ctx_id = np.unique(ctx_v, return_inverse=True)
    _, gram_id = np.unique(gram_v, return_inverse=True)

    K = D.shape[0]
    logp = np.empty((K, n))
    for k in range(K):
        w = counts[k, word]
        c_gram = np.bincount(gram_id, weights=w)[gram_id]
        c_ctx = np.bincount(ctx_id, weights=w)[ctx_id]
        if np.isfinite(beta * n_next):
            terms = np.log(c_gram + beta) - np.log(c_ctx + beta * n_next)
        else:
            # β near the float64 limit: β·|A| overflows; the ratio is taken after dividing by β.
            terms = np.log(c_gram / beta + 1.0) - np.log(c_ctx / beta + n_next)
        logp[k] = np.bincount(word, weights=terms, minlength=n)
    logp -= logp.max(axis=1, keepdims=True)
    P = np.exp(logp)
    P /= P.sum(axis=1, keepdims=True)
    if np.any(P <= 0):
        k, i = (int(v) for v in np.argwhere(P <= 0)[0])
        raise ValueError(
            f"order/beta: expert p_{k + 1} (row {k}) underflows to probability 0 at string {strings[i]!r}; "
            "increase beta or shorten the strings"
        )
    return P
