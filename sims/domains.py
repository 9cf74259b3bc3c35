"""Domains: synthetic generators and real word-frequency data (THEORY §1, EXPERIMENTS E10).

A domain family is a K×n row-stochastic matrix D (one true distribution per
data source).
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

    s = 0 gives K identical rows (JSD = 0); as s grows each x is dominated by one
    domain and the supports become nearly disjoint (JSD → H(λ), T1).
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
    r"""Imperfect experts, a geometric interpolation between each domain and noise:

    .. math:: p_k \propto D_k^{1-\epsilon}\, r_k^{\epsilon},\qquad r_k \sim \mathrm{Dir}(1),

    with ε = ``noise`` ∈ [0, 1] (ε = 0: perfect experts p_k = D_k; ε = 1: pure
    noise p_k = r_k). The support of p_k is that of D_k when ε < 1 (a zero of
    D_k stays a zero of D_k^{1−ε}) and all of X when ε = 1 (then 0^0 = 1: D_k
    plays no role).
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
    r"""K product distributions over sequences in V^T (THEORY §6, T9), shape (K, V**T).

    .. math:: D_k(x) = \prod_{t=1}^{T} m_{k,t}(x_t),\qquad
              m_{k,t}(v) \propto b_t(v)\, e^{s z_{k,t}(v)},

    with shared :math:`b_t \sim \mathrm{Dir}(1)` and i.i.d. standard normal
    :math:`z_{k,t}`; s = ``separation`` ≥ 0 (s = 0: identical domains). Index i is
    the sequence ``itertools.product(range(V), repeat=T)[i]``.
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
    r"""K time-inhomogeneous order-r Markov chains over V^T (THEORY §6, T9), shape (K, V**T).

    .. math:: D_k(x) = \pi_k(x_{1..r}) \prod_{t=r+1}^{T} c_{k,t}(x_t \mid x_{t-r..t-1}),

    where the initial law :math:`\pi_k` on V^r and every conditional row are drawn
    as :math:`\propto b\,e^{s z_k}` (shared Dirichlet base b, domain-specific
    normal tilts z_k, s = ``separation``). ``r = 0`` gives product domains;
    requires r ≤ T − 1.
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

    Domain k follows a pattern :math:`\pi_k \in V^T` whose symbols differ across
    domains at every position (a random injective assignment per position, so
    V ≥ K), blurred by ``overlap`` ω ∈ [0, 1]:

    .. math:: D_k(x) = \prod_{t=1}^{T}\Big[(1-\omega)\,\mathbb 1\{x_t = \pi_k(t)\}
              + \frac{\omega}{V}\Big].

    ω = 0 is the separable limit of T9: disjoint point masses whose aggregate
    retraining in the product class suffers :math:`I(\lambda) = (T-1)\,H(\lambda)`;
    ω = 1 makes every domain uniform (no interference).
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
    r"""The separable limit of T9: K point masses on sequences that differ at every
    position (``pattern_domains`` with overlap 0); the product class interferes by
    exactly :math:`(T-1)\,H(\lambda)` while the experts (the domains) pay 0."""
    return pattern_domains(K, T, V, 0.0, seed)


from sims.wordfreq import wordfreq_domains  # noqa: E402,F401
