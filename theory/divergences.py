r"""Entropies and divergences on a finite alphabet (THEORY §1, T1).

Conventions (THEORY §1): natural logarithms; :math:`0 \log 0 = 0`;
:math:`\mathrm{KL}(p\|q) = +\infty` as soon as :math:`p(x) > 0 = q(x)`.

The public functions validate their inputs and call numba kernels
(``cache=True``; the row kernels run in parallel over chunks of X). The kernels
themselves (``_kl_rows`` …) take validated contiguous float64 arrays and are
used directly by the solvers on their hot paths.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from theory._validation import (
    check_distribution,
    check_same_length,
    check_stack,
    check_weights,
)

__all__ = [
    "entropy",
    "cross_entropy",
    "kl",
    "kl_rows",
    "cross_entropy_rows",
    "entropy_rows",
    "jsd",
    "mixture",
]

_JIT = dict(cache=True, error_model="numpy", nogil=True)
# Reassociation lets LLVM vectorize the sums and the polynomial below; every
# term is still evaluated to within a few ulps.
_FAST = dict(_JIT, fastmath={"reassoc", "contract"})

# Number of chunks the parallel kernels split X into: enough to balance two to
# a few dozen threads, few enough that the per-chunk partial sums stay tiny.
_CHUNKS = 64

_LN2 = float(np.log(2.0))
_TINY = float(np.finfo(np.float64).tiny)
_HUGE = float(np.finfo(np.float64).max)


@intrinsic
def _bits(typingctx, x):
    """Reinterpret a float64 as its int64 bit pattern (free in machine code)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _float(typingctx, x):
    """Reinterpret an int64 bit pattern as a float64."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@numba.njit(inline="always", **_FAST)
def _log(r):
    """Natural log of a normal positive float64, in a form LLVM can vectorize.

    libm's log is an opaque call, so loops calling it run one element at a
    time. Here r = m·2^e with m ∈ [√½, √2) read off the bits, and
    log m = 2 atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.172, summed to s^21
    (truncation < 1e-17 relative): accurate to a few ulps, including near
    r = 1 where s is computed without cancellation. Callers check that r is
    normal and finite and fall back to ``np.log`` otherwise.
    """
    bits = _bits(r)
    frac = bits & 0x000FFFFFFFFFFFFF
    big = frac > 0x6A09E667F3BCD  # mantissa ≥ √2: use m/2 and e + 1
    ex = (bits >> 52) - 1023 + np.int64(big)
    m = _float(frac | (0x3FE0000000000000 if big else 0x3FF0000000000000))
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    p = 1.0 / 21.0
    p = p * s2 + 1.0 / 19.0
    p = p * s2 + 1.0 / 17.0
    p = p * s2 + 1.0 / 15.0
    p = p * s2 + 1.0 / 13.0
    p = p * s2 + 1.0 / 11.0
    p = p * s2 + 1.0 / 9.0
    p = p * s2 + 1.0 / 7.0
    p = p * s2 + 1.0 / 5.0
    p = p * s2 + 1.0 / 3.0
    p = p * s2 + 1.0
    return ex * _LN2 + 2.0 * s * p


@numba.njit(**_JIT)
def _chunk_bounds(n, c, nchunks):
    step = (n + nchunks - 1) // nchunks
    lo = min(n, c * step)
    return lo, min(n, lo + step)


@numba.njit(inline="always", **_FAST)
def _weighted_log_sum(w, a, b, lo, hi):
    """sum over w(x) > 0 of w(x) log(a(x) / b(x)) for x in [lo, hi).

    The vectorized pass counts the ratios that are not normal finite floats
    (b = 0, or under/overflow); if there are any, the range is summed again with
    ``np.log``, which gives the exact conventions (+inf where a > 0 = b).
    """
    s = 0.0
    nbad = 0
    for i in range(lo, hi):
        r = a[i] / b[i]
        use = w[i] > 0.0
        nbad += use and not (r >= _TINY and r <= _HUGE)
        s += w[i] * _log(r) if use else 0.0
    if nbad == 0:
        return s
    s = 0.0
    for i in range(lo, hi):
        if w[i] > 0.0:
            s += w[i] * np.log(a[i] / b[i])
    return s


def _kernels(parallel: bool):
    """Compile the row kernels, parallel over chunks of X or serial.

    The serial build (one chunk) serves small inputs, where waking a thread
    team costs far more than the arithmetic. Both builds run the same code, and
    each is cached separately (the chunk count is part of numba's cache key).
    """
    chunks = _CHUNKS if parallel else 1

    @numba.njit(parallel=parallel, **_JIT)
    def kl_rows(D, q):
        """KL(D_k || q) for every row k: sum over D>0 of D log(D/q)."""
        K, n = D.shape
        part = np.zeros((chunks, K))
        for c in numba.prange(chunks):
            lo, hi = _chunk_bounds(n, c, chunks)
            for k in range(K):
                part[c, k] = _weighted_log_sum(D[k], D[k], q, lo, hi)
        return part.sum(axis=0)

    @numba.njit(parallel=parallel, **_JIT)
    def cross_entropy_rows(D, q):
        """CE(D_k, q) = -sum over D>0 of D log q for every row k."""
        K, n = D.shape
        ones = np.ones(n)
        part = np.zeros((chunks, K))
        for c in numba.prange(chunks):
            lo, hi = _chunk_bounds(n, c, chunks)
            for k in range(K):
                part[c, k] = -_weighted_log_sum(D[k], q, ones, lo, hi)
        return part.sum(axis=0)

    @numba.njit(parallel=parallel, **_JIT)
    def entropy_rows(D):
        """H(D_k) = -sum over D>0 of D log D for every row k."""
        K, n = D.shape
        ones = np.ones(n)
        part = np.zeros((chunks, K))
        for c in numba.prange(chunks):
            lo, hi = _chunk_bounds(n, c, chunks)
            for k in range(K):
                part[c, k] = -_weighted_log_sum(D[k], D[k], ones, lo, hi)
        return part.sum(axis=0)

    @numba.njit(parallel=parallel, **_JIT)
    def mixture(lam, D):
        """D_lam = sum_k lam_k D_k, column by column."""
        K, n = D.shape
        out = np.empty(n)
        for c in numba.prange(chunks):
            lo, hi = _chunk_bounds(n, c, chunks)
            for i in range(lo, hi):
                out[i] = 0.0
            for k in range(K):
                w = lam[k]
                if w != 0.0:
                    for i in range(lo, hi):
                        out[i] += w * D[k, i]
        return out

    @numba.njit(parallel=parallel, **_JIT)
    def jsd_sum(lam, D, m):
        """sum over (k, x) with lam_k D_k(x) > 0 of lam_k D_k(x) log(D_k(x) / m(x)).

        Weighting each term by the joint mass lam_k D_k(x) (not lam_k times a
        row divergence) keeps 0 log 0 = 0 when that joint mass underflows: then
        m(x) ≥ lam_k D_k(x) > 0 whenever a term is evaluated.
        """
        K, n = D.shape
        part = np.zeros((chunks, K))
        for c in numba.prange(chunks):
            lo, hi = _chunk_bounds(n, c, chunks)
            for k in range(K):
                if lam[k] > 0.0:
                    joint = lam[k] * D[k, lo:hi]
                    part[c, k] = _weighted_log_sum(joint, D[k, lo:hi], m[lo:hi], 0, hi - lo)
        return part.sum()

    return kl_rows, cross_entropy_rows, entropy_rows, mixture, jsd_sum


_PARALLEL = _kernels(parallel=True)
_SERIAL = _kernels(parallel=False)

#: Inputs with fewer entries than this (K·n) run on the serial kernels.
SERIAL_BELOW = 1 << 16


def _pick(size: int):
    return _SERIAL if size < SERIAL_BELOW else _PARALLEL


def _kl_rows(D: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(D_k‖q) per row on validated contiguous inputs (no clamping)."""
    return _pick(D.size)[0](D, q)


def _cross_entropy_rows(D: np.ndarray, q: np.ndarray) -> np.ndarray:
    """CE(D_k, q) per row on validated contiguous inputs."""
    return _pick(D.size)[1](D, q)


def _entropy_rows(D: np.ndarray) -> np.ndarray:
    """H(D_k) per row on validated contiguous inputs."""
    return _pick(D.size)[2](D)


def _mixture(lam: np.ndarray, D: np.ndarray) -> np.ndarray:
    """D_λ on validated contiguous inputs."""
    return _pick(D.size)[3](lam, D)


def _jsd_kernel(lam: np.ndarray, D: np.ndarray, m: np.ndarray) -> float:
    """The joint-mass-weighted JSD sum on validated contiguous inputs."""
    return _pick(D.size)[4](lam, D, m)


def _jsd(lam: np.ndarray, D: np.ndarray) -> float:
    """JSD on validated inputs (divergence form, joint-mass weighted)."""
    return max(0.0, float(_jsd_kernel(lam, D, _mixture(lam, D))))


def entropy(p) -> float:
    r"""Shannon entropy :math:`H(p) = -\sum_x p(x)\log p(x)` in nats (0 log 0 = 0)."""
    p = check_distribution(p, "p")
    return float(_entropy_rows(p[None, :])[0])


def cross_entropy(p, q) -> float:
    r"""Cross-entropy :math:`\mathrm{CE}(p, q) = -\sum_x p(x)\log q(x)`; +inf if p(x) > 0 = q(x)."""
    p = check_distribution(p, "p")
    q = check_distribution(q, "q")
    check_same_length(p, q, ("p", "q"))
    return float(_cross_entropy_rows(p[None, :], q)[0])


def kl(p, q) -> float:
    r"""Kullback–Leibler divergence :math:`\mathrm{KL}(p\|q) = \sum_x p(x)\log\frac{p(x)}{q(x)}`.

    Equals +inf when p(x) > 0 = q(x) for some x (THEORY §1). Inputs that sum
    to 1 only up to rounding can give values of order 1e-17 below 0; they are
    reported as 0, the true minimum (Gibbs' inequality).
    """
    p = check_distribution(p, "p")
    q = check_distribution(q, "q")
    check_same_length(p, q, ("p", "q"))
    return max(0.0, float(_kl_rows(p[None, :], q)[0]))


def kl_rows(D, q) -> np.ndarray:
    r"""Row-wise divergences :math:`(\mathrm{KL}(D_k\|q))_{k=1..K}`, shape (K,).

    One pass over the K×n matrix, parallel over chunks of X. Rounding below 0
    is reported as 0, as in :func:`kl`.
    """
    D = check_stack(D, "D")
    q = check_distribution(q, "q")
    check_same_length(D, q, ("D", "q"))
    return np.maximum(_kl_rows(D, q), 0.0)


def cross_entropy_rows(D, q) -> np.ndarray:
    r"""Row-wise cross-entropies :math:`(\mathrm{CE}(D_k, q))_{k=1..K}`, shape (K,)."""
    D = check_stack(D, "D")
    q = check_distribution(q, "q")
    check_same_length(D, q, ("D", "q"))
    return _cross_entropy_rows(D, q)


def entropy_rows(D) -> np.ndarray:
    r"""Row-wise entropies :math:`(H(D_k))_{k=1..K}`, shape (K,)."""
    return _entropy_rows(check_stack(D, "D"))


def mixture(lam, D) -> np.ndarray:
    r"""The mixture :math:`D_\lambda = \sum_k \lambda_k D_k`, shape (n,)."""
    D = check_stack(D, "D")
    lam = check_weights(lam, D.shape[0])
    return _mixture(lam, D)


def jsd(lam, D) -> float:
    r"""Generalized Jensen–Shannon divergence (T1).

    .. math:: \mathrm{JSD}_\lambda(D) = \sum_k \lambda_k \mathrm{KL}(D_k\|D_\lambda)
              = H(D_\lambda) - \sum_k \lambda_k H(D_k),

    the mutual information between k ~ λ and x ~ D_k. Computed in the first
    (divergence) form, which keeps full relative accuracy when the rows nearly
    coincide; rows with λ_k = 0 are left out. Rounding can only produce values
    of order 1e-17 below 0; they are reported as 0, the true minimum.
    """
    D = check_stack(D, "D")
    lam = check_weights(lam, D.shape[0])
    return _jsd(lam, D)
