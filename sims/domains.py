r"""Domains: synthetic generators and real word-frequency data (setup; experiment E10).

A domain family is a K×n row-stochastic matrix D: row k is the true
distribution D_k of data source k on a finite set X of n points (every entry
≥ 0, every row summing to 1). The generators here draw such families with a
controlled diversity, measured by the generalized Jensen–Shannon divergence
JSD_λ(D) = Σ_k λ_k KL(D_k‖D_λ), where D_λ = Σ_k λ_k D_k (T1); the sequence
families live on X = V^T, the sequences of length T over an alphabet of V
symbols, for the monolithic comparisons of T9. :func:`noisy_experts` builds
imperfect experts p_k from given domains. Real domains (word frequencies of
natural languages) come from :func:`sims.wordfreq.wordfreq_domains`, also
importable from here; the setup is described on the theory page §3 of the
documentation.

Every generator is deterministic given ``seed`` (an integer or a
``numpy.random.Generator``).

Examples
--------
>>> from sims.domains import dirichlet_domains, noisy_experts
>>> D = dirichlet_domains(K=2, n=4, separation=1.0, seed=0)
>>> D.shape, D.sum(axis=1)
((2, 4), array([1., 1.]))
>>> P = noisy_experts(D, noise=0.3, seed=1)
>>> P.shape
(2, 4)
"""

from __future__ import annotations

import numpy as np

from theory.validation import check_allocation, check_int, check_positive, check_seed, check_stack

__all__ = [
    "dirichlet_domains",
    "noisy_experts",
    "product_domains",
    "markov_domains",
    "pattern_domains",
    "separable_domains",
    "wordfreq_domains",
]


def dirichlet_domains(K: int, n: int, separation: float = 1.0, seed=0) -> np.ndarray:
    r"""K random domains on n points whose diversity grows with ``separation`` s ≥ 0.

    .. math:: D_k(x) \propto b(x)\, e^{s z_k(x)},\qquad b \sim \mathrm{Dir}(1),\;
              z_k(x) \sim \mathcal N(0, 1)\ \text{i.i.d.}

    In words: a shared random base distribution b (uniform Dirichlet), tilted
    differently for each domain by independent standard normal scores z_k(x):
    D_k(x) ∝ b(x) exp(s z_k(x)). s = 0 gives K identical rows (JSD = 0); as s
    grows each x is dominated by one domain and the supports become nearly
    disjoint (JSD → H(λ), the upper bound of T1).

    Parameters
    ----------
    K : int
        Number of domains, ≥ 1.
    n : int
        Number of points of X, ≥ 1.
    separation : float, default 1.0
        The tilt s ≥ 0.
    seed : int or numpy.random.Generator, default 0
        Randomness.

    Returns
    -------
    ndarray, shape (K, n)
        The domains, one distribution per row.

    Raises
    ------
    ValueError
        If K or n is not a positive integer, the table would not fit in memory,
        ``separation`` is negative or not finite, or ``seed`` is invalid.

    Examples
    --------
    The diversity JSD_λ(D) of the even mixture grows with the separation:

    >>> from theory.divergences import jsd
    >>> [round(jsd([0.5, 0.5], dirichlet_domains(2, 50, s, seed=0)), 3) for s in (0, 1, 5)]
    [0.0, 0.15, 0.595]
    """
    K = check_int(K, "K")
    n = check_int(n, "n")
    check_allocation((3 * K, n), "K, n")
    s = check_positive(separation, "separation", allow_zero=True)
    rng = check_seed(seed)
    base = rng.dirichlet(np.ones(n))
    D = _tilt(np.log(np.maximum(base, 1e-300))[None, :], rng.standard_normal((K, n)), s)
    return D / D.sum(axis=1, keepdims=True)


def _tilt(log_base: np.ndarray, z: np.ndarray, s: float) -> np.ndarray:
    r"""Unnormalized weights :math:`e^{\log b + s z - m}` along the last axis, with m
    the largest exponent of the row (so every weight is at most 1).

    For a separation near the float64 limit, :math:`s z` overflows to ±inf and
    inf − inf would be NaN; the exponent is then formed as
    :math:`s\,(\log b / s + z - \max)`, which is ≤ 0 and never NaN (entries
    far below the maximum become exactly 0, the limit s → ∞).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        logits = log_base + s * z
        logits = logits - logits.max(axis=-1, keepdims=True)
    if not np.all(np.isfinite(logits)):
        scaled = log_base / s + z
        with np.errstate(over="ignore"):
            logits = s * (scaled - scaled.max(axis=-1, keepdims=True))
    return np.exp(logits)


def noisy_experts(D, noise: float = 0.3, seed=0) -> np.ndarray:
    r"""Imperfect experts, a geometric interpolation between each domain and noise.

    p_k ∝ D_k^(1−ε) · r_k^ε, with r_k a random distribution (uniform Dirichlet):

    .. math:: p_k \propto D_k^{1-\epsilon}\, r_k^{\epsilon},\qquad r_k \sim \mathrm{Dir}(1),

    with ε = ``noise`` ∈ [0, 1] (ε = 0: perfect experts p_k = D_k; ε = 1: pure
    noise p_k = r_k). The support of p_k is that of D_k when ε < 1 (a zero of
    D_k stays a zero of D_k^{1−ε}) and all of X when ε = 1 (then 0^0 = 1: D_k
    plays no role).

    Parameters
    ----------
    D : array_like, shape (K, n)
        The domains, one distribution per row.
    noise : float, default 0.3
        ε ∈ [0, 1].
    seed : int or numpy.random.Generator, default 0
        Randomness of the r_k.

    Returns
    -------
    ndarray, shape (K, n)
        The experts P, one distribution per row.

    Raises
    ------
    ValueError
        If ``D`` is not a stack of distributions, ``noise`` is outside [0, 1],
        or ``seed`` is invalid.

    Examples
    --------
    >>> import numpy as np
    >>> D = np.array([[0.5, 0.5, 0.0], [0.1, 0.2, 0.7]])
    >>> np.allclose(noisy_experts(D, 0.0), D)  # ε = 0: perfect experts
    True
    >>> float(noisy_experts(D, 0.5, seed=0)[0, 2])  # a zero of D_1 stays a zero
    0.0
    """
    D = check_stack(D, "D")
    eps = check_positive(noise, "noise", allow_zero=True)
    if eps > 1:
        raise ValueError(f"noise: expected a value in [0, 1], got {noise}")
    rng = check_seed(seed)
    R = rng.dirichlet(np.ones(D.shape[1]), size=D.shape[0])
    with np.errstate(divide="ignore"):
        logD = np.log(D) if eps < 1 else np.zeros_like(D)
        logs = (1 - eps) * logD + eps * np.log(np.maximum(R, 1e-300))
    P = np.exp(logs - logs.max(axis=1, keepdims=True))
    return P / P.sum(axis=1, keepdims=True)


def _sequence_args(K, T, V) -> tuple[int, int, int]:
    K = check_int(K, "K")
    T = check_int(T, "T")
    V = check_int(V, "V")
    # Both the per-position tables (K, T, V) and the dense law (K, V**T) are
    # built, each about twice during construction.
    check_allocation((2 * K, T, V), "K, T, V")
    if T * np.log2(float(V)) > 62 or K * V**T * 16 > 4 * 1024**3:
        raise ValueError(
            f"T, V: the table K·V**T = {K}·{V}**{T} is too large to build in memory; "
            "use a shorter length T or a smaller alphabet V"
        )
    return K, T, V


def _tilted(rng, shape, s: float) -> np.ndarray:
    r"""K distributions on the last axis, :math:`\propto b\,e^{s z_k}` with a shared
    :math:`b \sim \mathrm{Dir}(1)` and domain-specific :math:`z_k \sim \mathcal N(0, 1)`."""
    V = shape[-1]
    base = np.log(np.maximum(rng.dirichlet(np.ones(V), size=shape[1:-1] or None), 1e-300))
    w = _tilt(base[None, ...], rng.standard_normal(shape), s)
    return w / w.sum(axis=-1, keepdims=True)


def product_domains(K: int, T: int, V: int, separation: float = 1.0, seed=0) -> np.ndarray:
    r"""K product distributions over sequences in V^T (T9), shape (K, V**T).

    D_k(x) = Π_{t=1..T} m_{k,t}(x_t): the T positions of a sequence are
    independent, and the marginal of domain k at position t is a tilted
    Dirichlet draw, m_{k,t}(v) ∝ b_t(v) exp(s z_{k,t}(v)):

    .. math:: D_k(x) = \prod_{t=1}^{T} m_{k,t}(x_t),\qquad
              m_{k,t}(v) \propto b_t(v)\, e^{s z_{k,t}(v)},

    with shared :math:`b_t \sim \mathrm{Dir}(1)` and i.i.d. standard normal
    :math:`z_{k,t}`; s = ``separation`` ≥ 0 (s = 0: identical domains). Index i is
    the sequence ``itertools.product(range(V), repeat=T)[i]``.

    Parameters
    ----------
    K : int
        Number of domains.
    T : int
        Sequence length.
    V : int
        Alphabet size.
    separation : float, default 1.0
        The tilt s ≥ 0.
    seed : int or numpy.random.Generator, default 0
        Randomness.

    Returns
    -------
    ndarray, shape (K, V**T)
        The domains, as laws on the V**T sequences in lexicographic order.

    Raises
    ------
    ValueError
        If a size is not a positive integer, the table K·V**T would not fit in
        memory, or ``separation`` is negative.

    Examples
    --------
    >>> D = product_domains(K=2, T=2, V=2, seed=0)
    >>> D.shape
    (2, 4)
    >>> first = D[0].reshape(2, 2)  # rows: x_1, columns: x_2
    >>> bool(abs(first[0, 0] * first[1, 1] - first[0, 1] * first[1, 0]) < 1e-12)  # rank 1
    True
    """
    K, T, V = _sequence_args(K, T, V)
    s = check_positive(separation, "separation", allow_zero=True)
    margins = _tilted(check_seed(seed), (K, T, V), s)
    return _product_table(margins)


def _product_table(margins: np.ndarray) -> np.ndarray:
    """The (K, V**T) table of the products of per-position marginals (K, T, V)."""
    K, T, V = margins.shape
    D = np.ones((K,) + (1,) * T)
    for t in range(T):
        D = D * margins[:, t].reshape((K,) + (1,) * t + (V,) + (1,) * (T - t - 1))
    return np.ascontiguousarray(D.reshape(K, V**T))


def markov_domains(
    K: int, T: int, V: int, r: int = 1, separation: float = 1.0, seed=0
) -> np.ndarray:
    r"""K time-inhomogeneous order-r Markov chains over V^T (T9), shape (K, V**T).

    D_k(x) = π_k(x_1..x_r) Π_{t=r+1..T} c_{k,t}(x_t | x_{t−r}..x_{t−1}): each
    symbol depends on the r symbols before it, through a table that may change
    with the position t:

    .. math:: D_k(x) = \pi_k(x_{1..r}) \prod_{t=r+1}^{T} c_{k,t}(x_t \mid x_{t-r..t-1}),

    where the initial law :math:`\pi_k` on V^r and every conditional row are drawn
    as :math:`\propto b\,e^{s z_k}` (shared Dirichlet base b, domain-specific
    normal tilts z_k, s = ``separation``). ``r = 0`` gives product domains;
    requires r ≤ T − 1.

    Parameters
    ----------
    K : int
        Number of domains.
    T : int
        Sequence length.
    V : int
        Alphabet size.
    r : int, default 1
        The Markov order, 0 ≤ r ≤ T − 1.
    separation : float, default 1.0
        The tilt s ≥ 0.
    seed : int or numpy.random.Generator, default 0
        Randomness.

    Returns
    -------
    ndarray, shape (K, V**T)
        The domains, as laws on the V**T sequences in lexicographic order.

    Raises
    ------
    ValueError
        If r > T − 1, a size is not a positive integer, the table would not fit
        in memory, or ``separation`` is negative.

    Examples
    --------
    >>> D = markov_domains(K=2, T=3, V=2, r=1, seed=0)
    >>> D.shape, D.sum(axis=1)
    ((2, 8), array([1., 1.]))
    """
    K, T, V = _sequence_args(K, T, V)
    r = check_int(r, "r", minimum=0)
    if r > T - 1:
        raise ValueError(f"r: the order must be at most T − 1 = {T - 1}, got {r}")
    s = check_positive(separation, "separation", allow_zero=True)
    if r == 0:
        return product_domains(K, T, V, s, seed)
    rng = check_seed(seed)
    D = _tilted(rng, (K, V**r), s).reshape((K,) + (V,) * r + (1,) * (T - r))
    for t in range(r, T):
        cond = _tilted(rng, (K, V**r, V), s)
        D = D * cond.reshape((K,) + (1,) * (t - r) + (V,) * (r + 1) + (1,) * (T - t - 1))
    return np.ascontiguousarray(D.reshape(K, V**T))


def pattern_domains(K: int, T: int, V: int, overlap: float = 0.0, seed=0) -> np.ndarray:
    r"""Product domains around deterministic per-position patterns, shape (K, V**T).

    D_k(x) = Π_{t=1..T} [(1 − ω)·1{x_t = π_k(t)} + ω/V]. Domain k follows a
    pattern π_k ∈ V^T whose symbols differ across domains at every position (a
    random injective assignment per position, so V ≥ K), blurred by ``overlap``
    ω ∈ [0, 1]:

    .. math:: D_k(x) = \prod_{t=1}^{T}\Big[(1-\omega)\,\mathbb 1\{x_t = \pi_k(t)\}
              + \frac{\omega}{V}\Big].

    ω = 0 is the separable limit of T9: disjoint point masses whose aggregate
    retraining in the product class suffers I(λ) = (T − 1)·H(λ), with H(λ) the
    entropy of the mixture weights; ω = 1 makes every domain uniform (no
    interference).

    Parameters
    ----------
    K : int
        Number of domains.
    T : int
        Sequence length.
    V : int
        Alphabet size, ≥ K.
    overlap : float, default 0.0
        ω ∈ [0, 1].
    seed : int or numpy.random.Generator, default 0
        Randomness of the patterns.

    Returns
    -------
    ndarray, shape (K, V**T)
        The domains, as laws on the V**T sequences in lexicographic order.

    Raises
    ------
    ValueError
        If V < K, ``overlap`` is outside [0, 1], or a size is invalid.

    Examples
    --------
    >>> pattern_domains(K=2, T=2, V=2, overlap=0.5, seed=0)
    array([[0.5625, 0.1875, 0.1875, 0.0625],
           [0.0625, 0.1875, 0.1875, 0.5625]])
    """
    K, T, V = _sequence_args(K, T, V)
    if V < K:
        raise ValueError(f"V: distinct per-position patterns need V ≥ K = {K}, got V = {V}")
    w = check_positive(overlap, "overlap", allow_zero=True)
    if w > 1:
        raise ValueError(f"overlap: expected a value in [0, 1], got {overlap}")
    rng = check_seed(seed)
    symbols = np.stack([rng.permutation(V)[:K] for _ in range(T)], axis=1)
    margins = np.full((K, T, V), w / V)
    margins[np.arange(K)[:, None], np.arange(T)[None, :], symbols] += 1.0 - w
    return _product_table(margins)


def separable_domains(K: int, T: int, V: int, seed=0) -> np.ndarray:
    r"""The separable limit of T9: K point masses on sequences that differ at every position.

    This is :func:`pattern_domains` with overlap 0. The product class interferes
    by exactly (T − 1)·H(λ), while the experts (the domains themselves) pay 0:

    .. math:: I_{\text{product}}(\lambda) = (T-1)\,H(\lambda).

    Parameters
    ----------
    K : int
        Number of domains.
    T : int
        Sequence length.
    V : int
        Alphabet size, ≥ K.
    seed : int or numpy.random.Generator, default 0
        Randomness of the patterns.

    Returns
    -------
    ndarray, shape (K, V**T)
        K point masses (rows with a single 1).

    Raises
    ------
    ValueError
        As :func:`pattern_domains`.

    Examples
    --------
    >>> from theory.monolithic import interference
    >>> D = separable_domains(K=2, T=3, V=2, seed=0)
    >>> D
    array([[1., 0., 0., 0., 0., 0., 0., 0.],
           [0., 0., 0., 0., 0., 0., 0., 1.]])
    >>> round(interference(D, [0.5, 0.5], "product", shape=(3, 2)), 6)  # 2·log 2
    1.386294
    """
    return pattern_domains(K, T, V, 0.0, seed)


from sims.wordfreq import wordfreq_domains  # noqa: E402,F401
