r"""Entropies and divergences on a finite alphabet (THEORY §1, T1).

Conventions (THEORY §1): natural logarithms; :math:`0 \log 0 = 0`;
:math:`\mathrm{KL}(p\|q) = +\infty` as soon as :math:`p(x) > 0 = q(x)`.

The public functions validate their inputs and call numba kernels
(``cache=True``, vectorized; large inputs are split into one column range
per core, run on threads since the kernels release the GIL). The kernels
themselves (``_kl_rows`` …) take validated contiguous float64 arrays and are
used directly by the solvers on their hot paths.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from theory.validation import (
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


@numba.njit(inline="always", **_FAST)
def _weighted_log_sum(c, w, a, b):
    """sum over x with c·w(x) > 0 of c·w(x) log(a(x) / b(x)).

    The vectorized pass counts the ratios that are not normal finite floats
    (b = 0, or under/overflow); if there are any, the sum is taken again with
    ``np.log``, which gives the exact conventions (+inf where a > 0 = b).
    Callers pass slices, so the loop index starts at 0: LLVM then knows it is
    non-negative, which is what lets it vectorize the loop.
    """
    s = 0.0
    nbad = 0
    for i in range(w.shape[0]):
        r = a[i] / b[i]
        wi = c * w[i]
        use = wi > 0.0
        nbad += use and not (r >= _TINY and r <= _HUGE)
        s += wi * _log(r) if use else 0.0
    if nbad == 0:
        return s
    s = 0.0
    for i in range(w.shape[0]):
        wi = c * w[i]
        if wi > 0.0:
            s += wi * np.log(a[i] / b[i])
    return s


@numba.njit(**_FAST)
def _kl_rows_range(D, q, lo, hi):
    """KL(D_k || q) restricted to columns [lo, hi): sum over D>0 of D log(D/q)."""
    out = np.empty(D.shape[0])
    q = q[lo:hi]
    for k in range(D.shape[0]):
        row = D[k, lo:hi]
        out[k] = _weighted_log_sum(1.0, row, row, q)
    return out


@numba.njit(**_FAST)
def _cross_entropy_rows_range(D, q, ones, lo, hi):
    """CE(D_k, q) = -sum over D>0 of D log q, restricted to columns [lo, hi)."""
    out = np.empty(D.shape[0])
    q, ones = q[lo:hi], ones[lo:hi]
    for k in range(D.shape[0]):
        out[k] = -_weighted_log_sum(1.0, D[k, lo:hi], q, ones)
    return out


@numba.njit(**_FAST)
def _entropy_rows_range(D, ones, lo, hi):
    """H(D_k) = -sum over D>0 of D log D, restricted to columns [lo, hi)."""
    out = np.empty(D.shape[0])
    ones = ones[lo:hi]
    for k in range(D.shape[0]):
        row = D[k, lo:hi]
        out[k] = -_weighted_log_sum(1.0, row, row, ones)
    return out


@numba.njit(**_FAST)
def _mixture_range(lam, D, out, lo, hi):
    """out[lo:hi] = sum_k lam_k D_k[lo:hi]."""
    part = out[lo:hi]
    part[:] = 0.0
    for k in range(D.shape[0]):
        w = lam[k]
        if w != 0.0:
            row = D[k, lo:hi]
            for i in range(hi - lo):
                part[i] += w * row[i]
    return out


@numba.njit(**_FAST)
def _jsd_range(lam, D, m, lo, hi):
    """sum over (k, x in [lo, hi)) with lam_k D_k(x) > 0 of lam_k D_k(x) log(D_k(x) / m(x)).

    Weighting each term by the joint mass lam_k D_k(x) (not lam_k times a row
    divergence) keeps 0 log 0 = 0 when that joint mass underflows: then m(x) ≥
    lam_k D_k(x) > 0 whenever a term is evaluated.
    """
    total = 0.0
    m = m[lo:hi]
    for k in range(D.shape[0]):
        if lam[k] > 0.0:
            row = D[k, lo:hi]
            total += _weighted_log_sum(lam[k], row, row, m)
    return total


#: Inputs with fewer entries than this (K·n) run in the calling thread: below
#: it, handing work to other threads costs more than the arithmetic.
SERIAL_BELOW = 1 << 16

_POOL: ThreadPoolExecutor | None = None


def _over_columns(kernel, size: int, n: int, *args) -> list:
    """Run ``kernel(*args, lo, hi)`` over column ranges covering [0, n).

    The kernels release the GIL, so large inputs are split into one contiguous
    range per core and run on a thread pool; each range keeps the
    vectorized single-thread loop.
    """
    global _POOL
    threads = numba.get_num_threads()
    if size < SERIAL_BELOW or threads == 1:
        return [kernel(*args, 0, n)]
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="modgate")
    step = -(-n // threads)
    bounds = [(lo, min(n, lo + step)) for lo in range(0, n, step)]
    return list(_POOL.map(lambda b: kernel(*args, *b), bounds))


def _kl_rows(D: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(D_k‖q) per row on validated contiguous inputs (no clamping)."""
    return np.sum(_over_columns(_kl_rows_range, D.size, D.shape[1], D, q), axis=0)


def _cross_entropy_rows(D: np.ndarray, q: np.ndarray) -> np.ndarray:
    """CE(D_k, q) per row on validated contiguous inputs."""
    ones = np.ones(D.shape[1])
    parts = _over_columns(_cross_entropy_rows_range, D.size, D.shape[1], D, q, ones)
    return np.sum(parts, axis=0)


def _entropy_rows(D: np.ndarray) -> np.ndarray:
    """H(D_k) per row on validated contiguous inputs."""
    ones = np.ones(D.shape[1])
    return np.sum(_over_columns(_entropy_rows_range, D.size, D.shape[1], D, ones), axis=0)


def _mixture(lam: np.ndarray, D: np.ndarray) -> np.ndarray:
    """D_λ on validated contiguous inputs."""
    out = np.empty(D.shape[1])
    _over_columns(_mixture_range, D.size, D.shape[1], lam, D, out)
    return out


def _jsd_kernel(lam: np.ndarray, D: np.ndarray, m: np.ndarray) -> float:
    """The joint-mass-weighted JSD sum on validated contiguous inputs."""
    return float(sum(_over_columns(_jsd_range, D.size, D.shape[1], lam, D, m)))


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
