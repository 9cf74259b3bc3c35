r"""Every compiled kernel of the package, and the one policy that runs them in parallel.

The kernels work on validated, C-contiguous float64 arrays and never check
their inputs: the public functions (:mod:`theory.divergences`, the solvers)
validate first. Each kernel ``*_range`` computes its result on a column range
``[lo, hi)`` of X; :func:`over_columns` runs it on the calling thread for small
inputs and on one contiguous column range per core otherwise (the kernels
release the GIL), and the caller combines the partial results (sums, minima,
maxima). That is the only threading policy: there is no ``prange`` here, so no
numba thread team is ever started for a small input.

Conventions (scipy.special's ``xlogy``/``rel_entr``): natural logarithms,
:math:`0\log 0 = 0`, :math:`d\log(d/0) = +\infty` for d > 0. Each kernel has a
plain-numpy reference in ``tests/reference.py``, used only by the tests.

Speed: libm's ``log`` is an opaque call, so loops calling it run one element at
a time. :func:`_log` reads the exponent off the bits and evaluates a short odd
series, which LLVM vectorizes; it is used on normal positive floats only, and
every loop falls back to ``np.log`` for the rare subnormal, zero or infinite
argument.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

__all__ = [
    "SERIAL_BELOW",
    "over_columns",
    "scan_rows",
    "kl_rows",
    "entropy_rows",
    "cross_entropy_rows",
    "mixture",
    "jsd_sum",
    "fill_pass",
    "fill_model",
    "gram",
]

_JIT = dict(cache=True, error_model="numpy", nogil=True)
# Reassociation lets LLVM vectorize the sums and the polynomial below; every
# term is still evaluated to within a few ulps. No "nnan"/"ninf": +inf must
# survive (KL = +inf where p > 0 = q).
_FAST = dict(_JIT, fastmath={"reassoc", "contract"})

_LN2 = float(np.log(2.0))
_TINY = float(np.finfo(np.float64).tiny)
_HUGE = float(np.finfo(np.float64).max)
# The smallest positive float64 (a subnormal). A product of positive numbers
# that underflows is rounded up to it instead of to 0, so that supports are
# exact: supp D_λ = ∪_{λ_k > 0} supp D_k, and a water-filled model is positive
# wherever its target is, even for probabilities near 1e-323.
_SUB = float(np.nextafter(0.0, 1.0))

# Columns per block of the cross-entropy kernel: the block's logs stay in L1
# cache while the K rows read them.
_BLOCK = 2048

#: Inputs with fewer entries than this (K·n) run on the calling thread: below
#: it, handing work to other threads costs more than the arithmetic.
SERIAL_BELOW = 1 << 16

_POOL: ThreadPoolExecutor | None = None


def over_columns(kernel, size: int, n: int, *args) -> list:
    """Run ``kernel(*args, lo, hi)`` over column ranges covering [0, n); return the parts.

    ``size`` is the number of entries the kernel reads (K·n): below
    :data:`SERIAL_BELOW`, or on one thread, a single range on the calling
    thread; otherwise one contiguous range per numba thread on a pool.
    """
    global _POOL
    threads = numba.get_num_threads()
    if size < SERIAL_BELOW or threads == 1 or n < 2 * threads:
        return [kernel(*args, 0, n)]
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="modgate")
    step = -(-n // threads)
    bounds = [(lo, min(n, lo + step)) for lo in range(0, n, step)]
    return list(_POOL.map(lambda b: kernel(*args, *b), bounds))


# ---------------------------------------------------------------------------
# Scalar primitives
# ---------------------------------------------------------------------------


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

    r = m·2^e with m ∈ [√½, √2) read off the bits, and log m = 2 atanh(s),
    s = (m − 1)/(m + 1), |s| ≤ 0.172, summed to s^21 (truncation < 1e-17
    relative): accurate to a few ulps, including near r = 1 where s is computed
    without cancellation.
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


@numba.njit(inline="always", **_JIT)
def _log_ratio(a, b):
    """log(a/b) for a > 0, b ≥ 0, also when a/b under- or overflows (then log a − log b)."""
    r = a / b
    if r >= _TINY and r <= _HUGE:
        return np.log(r)
    return np.log(a) - np.log(b)


@numba.njit(inline="always", **_FAST)
def _weighted_log_ratio_sum(c, w, a, b):
    """Σ over i with c·w_i > 0 of c·w_i·log(a_i / b_i).

    The vectorized pass counts the ratios that are not normal finite floats
    (b = 0, or under/overflow); if there are any, the sum is taken again with
    :func:`_log_ratio`, which gives the exact conventions (+inf where a > 0 = b)
    and stays finite when only the ratio overflows. Callers pass slices, so the
    loop index starts at 0: LLVM then knows it is non-negative, which is what
    lets it vectorize the loop.
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
            s += wi * _log_ratio(a[i], b[i])
    return s


@numba.njit(inline="always", **_FAST)
def _xlogx_sum(w):
    """Σ_i w_i log w_i over w_i > 0 (0 log 0 = 0)."""
    s = 0.0
    nbad = 0
    for i in range(w.shape[0]):
        v = w[i]
        use = v > 0.0
        nbad += use and not (v >= _TINY and v <= _HUGE)
        s += v * _log(v) if use else 0.0
    if nbad == 0:
        return s
    s = 0.0
    for i in range(w.shape[0]):
        v = w[i]
        if v > 0.0:
            s += v * np.log(v)
    return s


# ---------------------------------------------------------------------------
# Validation scan
# ---------------------------------------------------------------------------


@numba.njit(**_FAST)
def scan_rows(a):
    """Row sums of a C-contiguous (K, n) array and whether every entry is finite and ≥ 0.

    One pass instead of numpy's three (isfinite, < 0, sum); NaN fails both
    comparisons, so it is caught without a separate test.
    """
    K, n = a.shape
    sums = np.empty(K)
    bad = 0
    for k in range(K):
        row = a[k]
        s = 0.0
        for i in range(n):
            v = row[i]
            s += v
            bad += not (v >= 0.0 and v <= _HUGE)
        sums[k] = s
    return sums, bad == 0


# ---------------------------------------------------------------------------
# Divergences (T1)
# ---------------------------------------------------------------------------


@numba.njit(**_FAST)
def _kl_rows_range(D, q, lo, hi):
    """KL(D_k‖q) restricted to columns [lo, hi): Σ over D > 0 of D log(D/q)."""
    out = np.empty(D.shape[0])
    q = q[lo:hi]
    for k in range(D.shape[0]):
        row = D[k, lo:hi]
        out[k] = _weighted_log_ratio_sum(1.0, row, row, q)
    return out


@numba.njit(**_FAST)
def _entropy_rows_range(D, lo, hi):
    """H(D_k) = −Σ over D > 0 of D log D, restricted to columns [lo, hi)."""
    out = np.empty(D.shape[0])
    for k in range(D.shape[0]):
        out[k] = -_xlogx_sum(D[k, lo:hi])
    return out


@numba.njit(**_FAST)
def _cross_entropy_rows_range(D, q, lo, hi):
    """CE(D_k, q) = −Σ over D > 0 of D log q on columns [lo, hi), one log per column.

    The logs of a block of q are computed once (vectorized) and reused by the
    K rows; +inf where D_k(x) > 0 = q(x).
    """
    K = D.shape[0]
    out = np.zeros(K)
    lq = np.empty(_BLOCK)
    for b0 in range(lo, hi, _BLOCK):
        b1 = min(hi, b0 + _BLOCK)
        m = b1 - b0
        qb = q[b0:b1]
        nbad = 0
        for i in range(m):
            v = qb[i]
            nbad += not (v >= _TINY and v <= _HUGE)
            lq[i] = _log(v)
        if nbad:
            for i in range(m):
                lq[i] = np.log(qb[i])
        lb = lq[:m]
        for k in range(K):
            row = D[k, b0:b1]
            s = 0.0
            for i in range(m):
                d = row[i]
                s += d * lb[i] if d > 0.0 else 0.0
            out[k] -= s
    return out


@numba.njit(**_FAST)
def _mixture_range(lam, D, out, lo, hi):
    """out[lo:hi] = Σ_k λ_k D_k[lo:hi], with exact support (underflow rounds up to _SUB)."""
    part = out[lo:hi]
    part[:] = 0.0
    for k in range(D.shape[0]):
        w = lam[k]
        if w > 0.0:
            row = D[k, lo:hi]
            for i in range(hi - lo):
                d = row[i]
                part[i] += max(w * d, _SUB) if d > 0.0 else 0.0
    return out


@numba.njit(**_FAST)
def _jsd_range(lam, D, m, lo, hi):
    """Σ over (k, x ∈ [lo, hi)) with λ_k D_k(x) > 0 of λ_k D_k(x) log(D_k(x) / m(x)).

    Weighting each term by the joint mass λ_k D_k(x) (not λ_k times a row
    divergence) keeps 0 log 0 = 0 when that joint mass underflows: then
    m(x) ≥ λ_k D_k(x) > 0 whenever a term is evaluated.
    """
    total = 0.0
    m = m[lo:hi]
    for k in range(D.shape[0]):
        if lam[k] > 0.0:
            row = D[k, lo:hi]
            total += _weighted_log_ratio_sum(lam[k], row, row, m)
    return total


def kl_rows(D: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(D_k‖q) per row (no clamping of rounding below 0)."""
    return np.sum(over_columns(_kl_rows_range, D.size, D.shape[1], D, q), axis=0)


def entropy_rows(D: np.ndarray) -> np.ndarray:
    """H(D_k) per row."""
    return np.sum(over_columns(_entropy_rows_range, D.size, D.shape[1], D), axis=0)


def cross_entropy_rows(D: np.ndarray, q: np.ndarray) -> np.ndarray:
    """CE(D_k, q) per row; +inf where D_k puts mass on a zero of q."""
    return np.sum(over_columns(_cross_entropy_rows_range, D.size, D.shape[1], D, q), axis=0)


def mixture(lam: np.ndarray, D: np.ndarray) -> np.ndarray:
    """D_λ = Σ_k λ_k D_k."""
    out = np.empty(D.shape[1])
    over_columns(_mixture_range, D.size, D.shape[1], lam, D, out)
    return out


def jsd_sum(lam: np.ndarray, D: np.ndarray, m: np.ndarray) -> float:
    """Σ_k λ_k KL(D_k‖m) in joint-mass-weighted form (= JSD_λ(D) for m = D_λ)."""
    return float(sum(over_columns(_jsd_range, D.size, D.shape[1], lam, D, m)))


# ---------------------------------------------------------------------------
# Water-filling (T3) and the curvature of the dual function (T5)
# ---------------------------------------------------------------------------


@numba.njit(**_JIT)
def _fill_range(t, lo, hi, s, a0, a1):
    """Σ_{x∈[a0,a1)} clip(t(x)·s, ℓ(x), u(x)), the slopes right/left of s, and the
    nearest breakpoints ℓ/t, u/t strictly left and right of s (s = 1/ν, may be +inf)."""
    st = 0.0
    su = 0.0
    sd = 0.0
    right = np.inf
    left = 0.0
    for i in range(a0, a1):
        ti = t[i]
        li = lo[i]
        if ti <= 0.0:
            st += li
            continue
        hv = hi[i]
        a = li / ti
        b = hv / ti
        st += min(max(max(ti * s, _SUB), li), hv)
        if a <= s < b:
            su += ti
        if a < s <= b:
            sd += ti
        if a > s:
            right = min(right, a)
        elif a < s:
            left = max(left, a)
        if b > s:
            right = min(right, b)
        elif b < s:
            left = max(left, b)
    return st, su, sd, left, right


@numba.njit(**_FAST)
def _fill_model_range(t, lo, hi, s, out, a0, a1):
    """out[x] = clip(t(x)·s, ℓ(x), u(x)) on [a0, a1), kept > 0 where t(x) > 0 < u(x)."""
    tt, ll, hh, oo = t[a0:a1], lo[a0:a1], hi[a0:a1], out[a0:a1]
    for i in range(a1 - a0):
        ti = tt[i]
        v = max(ti * s, _SUB) if ti > 0.0 else 0.0
        oo[i] = min(max(v, ll[i]), hh[i])
    return out


def fill_model(t: np.ndarray, lo: np.ndarray, hi: np.ndarray, s: float) -> np.ndarray:
    """The water-filled model clip(t·s, ℓ, u) (T3), positive on supp t ∩ {u > 0}."""
    out = np.empty(t.shape[0])
    over_columns(_fill_model_range, t.size, t.shape[0], t, lo, hi, float(s), out)
    return out


def fill_pass(t: np.ndarray, lo: np.ndarray, hi: np.ndarray, s: float):
    """One pass of Φ(s) + 1 = Σ_x clip(t(x)·s, ℓ(x), u(x)) over X (s = 1/ν, s may be +inf).

    Returns (Φ(s) + 1, right slope, left slope, nearest breakpoint left of s,
    nearest breakpoint right of s): on [left, right] Φ is affine on each side of
    s, so a Newton step that stays there lands on the exact root.
    """
    parts = over_columns(_fill_range, 3 * t.size, t.shape[0], t, lo, hi, float(s))
    tot = sum(p[0] for p in parts)
    up = sum(p[1] for p in parts)
    dn = sum(p[2] for p in parts)
    return tot, up, dn, max(p[3] for p in parts), min(p[4] for p in parts)


@numba.njit(**_JIT)
def _gram_range(D, t, q, lo, hi, clipped, a0, a1):
    """Sums over the free columns F of [a0, a1): A_jk = Σ_F D_j D_k / t, a_k = Σ_F D_k, T = Σ_F t.

    F = {x : t(x) > 0} and, when ``clipped``, also ℓ(x) < q(x) < u(x) (the
    points a water-filled q leaves unclipped).
    """
    K = D.shape[0]
    A = np.zeros((K, K))
    a = np.zeros(K)
    T = 0.0
    col = np.empty(K)
    for i in range(a0, a1):
        ti = t[i]
        if ti <= 0.0 or (clipped and not (lo[i] < q[i] < hi[i])):
            continue
        T += ti
        for k in range(K):
            col[k] = D[k, i]
        for j in range(K):
            dj = col[j]
            if dj == 0.0:
                continue
            a[j] += dj
            # dj / ti, not dj · (1/ti): 1/ti overflows for a subnormal ti.
            w = dj / ti
            for k in range(j, K):
                A[j, k] += w * col[k]
    return A, a, T


def gram(D: np.ndarray, t: np.ndarray, q=None, lo=None, hi=None):
    """(A, a, T) of :func:`_gram_range` over X, A symmetric.

    Without ``q``, ``lo``, ``hi`` the free set is supp t (the Hessian of the
    mutual information, T6); with them, the unclipped points of a water-filled
    q (the Hessian of the dual function on its clipping pattern, T5).
    """
    clipped = q is not None
    if not clipped:
        q = lo = hi = t
    parts = over_columns(_gram_range, D.size * D.shape[0], D.shape[1], D, t, q, lo, hi, clipped)
    A = sum(p[0] for p in parts)
    A = np.triu(A) + np.triu(A, 1).T
    return A, sum(p[1] for p in parts), float(sum(p[2] for p in parts))
