r"""Experts trained from samples of the domains (setup, T11; experiments E7, E10).

The domains D_1, …, D_K are distributions on a finite set X of n points (rows
of a (K, n) array D); an expert p_k is a model of D_k learned from a sample of
D_k. Both constructors draw m samples from every row of D and return smoothed
maximum-likelihood experts with full support, as the generalization bound of
T11 requires: the loss −log p_g(x) of a gated model must be bounded, so no
expert may give probability 0 to a point. See the theory page §4.6 of the
documentation.

Examples
--------
>>> import numpy as np
>>> from sims.experts import tabular_experts
>>> D = np.array([[0.5, 0.5], [1.0, 0.0]])
>>> tabular_experts(D, m=10, beta=0.5, seed=0)  # counts (6, 4) and (10, 0), plus 1/2
array([[0.59090909, 0.40909091],
       [0.95454545, 0.04545455]])
"""

from __future__ import annotations

import numpy as np

from theory.validation import check_int, check_positive, check_seed, check_stack, check_strings

__all__ = ["tabular_experts", "ngram_experts", "sample_counts"]

# numpy's multinomial sampler counts in a C long.
_MAX_DRAWS = 2**63 - 1


def sample_counts(D, m, seed=0) -> np.ndarray:
    """Counts (K, n) of ``m`` i.i.d. draws from every row of ``D`` (one multinomial per row).

    Parameters
    ----------
    D : array_like, shape (K, n)
        The domains, one distribution per row.
    m : int
        Draws per domain, ≥ 1.
    seed : int or numpy.random.Generator, default 0
        Randomness.

    Returns
    -------
    ndarray, shape (K, n)
        Float64 counts; every row sums to m.

    Raises
    ------
    ValueError
        If ``D`` is not a stack of distributions, ``m`` not a positive integer
        (at most 2^63 − 1), or ``seed`` is invalid.

    Examples
    --------
    >>> import numpy as np
    >>> sample_counts(np.array([[0.5, 0.5], [1.0, 0.0]]), 10, seed=0)
    array([[ 6.,  4.],
           [10.,  0.]])
    """
    D = check_stack(D, "D")
    m = check_int(m, "m", maximum=_MAX_DRAWS)
    rng = check_seed(seed)
    return np.stack([rng.multinomial(m, row) for row in D]).astype(np.float64)


def tabular_experts(D, m, beta=0.5, seed=0) -> np.ndarray:
    r"""Add-β smoothed maximum-likelihood experts from ``m`` samples of each domain.

    .. math:: p_k(x) = \frac{c_k(x) + \beta}{m + n\beta},

    where c_k(x) counts x among m i.i.d. draws from D_k, i.e.
    p_k(x) = (c_k(x) + β)/(m + nβ): the empirical frequencies with β added to
    every count, so that every point keeps a positive probability.

    Parameters
    ----------
    D : array_like, shape (K, n)
        The domains, one distribution per row.
    m : int
        Samples per domain, ≥ 1.
    beta : float, default 0.5
        The smoothing β > 0 (0.5 is the Krichevsky–Trofimov estimator).
    seed : int or numpy.random.Generator, default 0
        Randomness of the samples.

    Returns
    -------
    ndarray, shape (K, n)
        The experts, with full support.

    Raises
    ------
    ValueError
        If ``D`` is not a stack of distributions, ``m`` not a positive integer,
        ``beta`` not a finite positive number, or ``seed`` is invalid.

    Examples
    --------
    See the module example.
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

    Each expert predicts a word letter by letter from the r letters before it,
    with add-β smoothed counts:
    p̃_k(x) = Π_t (c_k(context, a_t) + β)/(c_k(context) + β·N), where N is the
    number of distinct letters (the alphabet A) plus one, for the end of the word.

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

    Parameters
    ----------
    strings : list of str, length n
        The distinct words: the points of X.
    D : array_like, shape (K, n)
        The domains, as distributions over ``strings``.
    order : int
        The context length r ≥ 0 (r = 0: a unigram model of letters).
    m : int
        Words drawn per domain, ≥ 1.
    beta : float, default 0.5
        The smoothing β > 0.
    seed : int or numpy.random.Generator, default 0
        Randomness of the samples.

    Returns
    -------
    ndarray, shape (K, n)
        The experts, renormalized on the n strings, with full support.

    Raises
    ------
    ValueError
        If ``strings`` is not a list of distinct strings (a bare string is a
        TypeError), ``D`` does not have n columns, an argument is out of range,
        or an expert underflows to probability 0 at some string.

    Examples
    --------
    >>> import numpy as np
    >>> D = np.array([[0.6, 0.3, 0.1], [0.1, 0.2, 0.7]])
    >>> ngram_experts(["a", "ab", "b"], D, order=1, m=100, seed=0).round(3)
    array([[0.591, 0.276, 0.132],
           [0.142, 0.198, 0.661]])
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
