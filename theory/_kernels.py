r"""Every compiled kernel of theory, and the one policy that runs them in parallel.

Each kernel ``*_range`` computes its result on a column range ``[lo, hi)`` of
its (K, n) input; :func:`over_columns` runs it on the calling thread for small
inputs and on one contiguous column range per core otherwise (the kernels
release the GIL), and the caller combines the partial results (sums, minima).
That is the only threading policy: there is no ``prange`` here, so no numba
thread team is ever started for a small input.

Validation in the same pass. A public function must not read a large input
twice, once to check it and once to compute with it. So the kernels that read
distributions (the divergences, the mixture, the envelope of the experts)
also return, for every input row, its sum and the OR of the sign bits of its
entries; :mod:`theory.validation` turns those into the package's error
messages (searching for the offending index only when there is one).

The validity test. An input is clean when its row sums are finite (a NaN or
an infinite entry makes its row sum NaN or infinite) and no entry has its sign
bit set: an integer OR per entry, much cheaper than comparisons.

One compiled version per kernel. Numba compiles a kernel once per argument
type, and for arrays the type includes the layout and whether the array is
writable. The wrappers below hand every input to the kernels as a read-only,
C-contiguous float64 view (outputs are always fresh writable arrays), so each
kernel has exactly one version to compile, whatever the caller passes.

Conventions (scipy.special's ``xlogy``/``rel_entr``): natural logarithms,
:math:`0\log 0 = 0`, :math:`d\log(d/0) = +\infty` for d > 0. Each kernel has a
plain-numpy reference in ``tests/reference.py``, used only by the tests.

Speed. libm's ``log`` is an opaque call, so a loop calling it runs one element
at a time. :func:`_log_parts` reads the exponent off the bits and evaluates a
short odd series, which LLVM vectorizes, for every finite r ≥ 0 (subnormals
are rescaled, 0 gives −∞), so no loop needs a slow path. The divergences take
log(d/q) as (e_d − e_q)·ln 2 + (f_d − f_q) from the parts of d and of q: the
logs of q (or of the mixture) are computed once per column block and reused
by the K rows, one division per entry instead of two, and the difference is as
accurate as the log of the rounded ratio (both parts are exact or within a few
ulps of numbers below ln 2).
"""

from __future__ import annotations

import math
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
    "jsd",
    "checked_rows",
    "checked_mixture",
    "checked_jsd",
    "envelope",
    "gate",
    "first_infeasible",
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
_TWO54 = 2.0**54
_INF_BITS = int(np.array(np.inf).view(np.int64))
_F64 = np.dtype(np.float64)
# The smallest positive float64 (a subnormal). A product of positive numbers
# that underflows is rounded up to it instead of to 0, so that supports are
# exact: supp D_λ = ∪_{λ_k > 0} supp D_k, and a water-filled model is positive
# wherever its target is, even for probabilities near 1e-323.
_SUB = float(np.nextafter(0.0, 1.0))

# Columns per block of the blocked kernels: the logs of a block of q (or of the
# mixture) stay in L1 cache while the K rows read them, and the K rows of a
# block stay in L2 cache for the second look of the JSD kernel.
_BLOCK = 2048
_BLOCK_ENTRIES = 1 << 15
# Columns per block of the kernels that stream over D once (the row divergences and
# the mixture): short blocks keep each row's block and the block of log q (or of
# the mixture being summed) in L1 cache. Measured by B1 at n = 2·10^6 and 10^7:
# 256 columns cut these kernels' time by 5–40 % against 2048 (the JSD kernel,
# which reads each block twice, is faster with the longer blocks).
_STREAM_BLOCK = 256

#: Inputs with fewer entries than this (K·n) run on the calling thread: below
#: it, handing work to other threads costs more than the arithmetic.
SERIAL_BELOW = 1 << 16

# What the divergence kernel sums per row.
_ENTROPY, _CROSS, _KL = 0, 1, 2

_POOL: ThreadPoolExecutor | None = None


def over_columns(kernel, size: int, n: int, *args) -> list:
    """Run ``kernel(*args, lo, hi)`` over column ranges covering [0, n); return the parts.

    ``size`` is the number of entries the kernel reads (K·n): below
    :data:`SERIAL_BELOW`, or on one thread, a single range on the calling
    thread; otherwise one contiguous range per numba thread on a pool. The
    caller combines the parts (sums, minima); the kernels release the GIL, so
    the ranges run in parallel.

    Parameters
    ----------
    kernel : callable
        ``kernel(*args, lo, hi)`` computing a partial result on columns [lo, hi).
    size : int
        Entries the kernel reads, deciding serial against parallel.
    n : int
        Number of columns (the size n of X).
    *args
        Leading arguments of ``kernel``.

    Returns
    -------
    list
        The partial results, in column order (one element when serial).

    Examples
    --------
    >>> import numpy as np
    >>> over_columns(lambda a, lo, hi: float(a[lo:hi].sum()), 4, 4, np.arange(4.0))
    [6.0]
    """
    global _POOL
    if size < SERIAL_BELOW:
        return [kernel(*args, 0, n)]
    threads = numba.get_num_threads()
    if threads == 1 or n < 2 * threads:
        return [kernel(*args, 0, n)]
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="modgate")
    step = -(-n // threads)
    bounds = [(lo, min(n, lo + step)) for lo in range(0, n, step)]
    return list(_POOL.map(lambda b: kernel(*args, *b), bounds))


def _in(a) -> np.ndarray:
    """``a`` as a read-only C-contiguous float64 view (a copy only if it is not one already).

    The per-call cost matters for small inputs, so the common cases are tested first.
    """
    if type(a) is np.ndarray and a.dtype is _F64:
        flags = a.flags
        if flags.c_contiguous:
            if not flags.writeable:
                return a
            a = a.view()
            a.setflags(write=False)
            return a
    a = np.ascontiguousarray(a, dtype=np.float64).view()
    a.setflags(write=False)
    return a


def _block(K: int, n: int, columns: int = _BLOCK) -> int:
    """Columns per block for K rows of n: K blocks of rows must fit in L2 cache together,
    no block is longer than ``columns`` nor than the input."""
    return max(1, min(n, max(256, min(columns, _BLOCK_ENTRIES // max(K, 1)))))


def _total(parts: list) -> np.ndarray:
    """The sum of the partial results of :func:`over_columns` (usually just one)."""
    total = parts[0]
    for p in parts[1:]:
        total = total + p
    return total


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
def _log_parts(r):
    """(e, f) with log r = e·ln 2 + f for a finite r ≥ 0, in a form LLVM can vectorize.

    r = m·2^e with m ∈ [√½, √2) read off the bits (a subnormal r is first
    scaled by 2^54), and f = log m = 2 atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.172:
    f = 2s·P(s²) with P the degree-7 near-minimax fit of atanh(s)/s on
    s² ∈ [0, 0.0295] (relative error 3e-18, below the rounding of the last
    operations), so f is within 2 ulps, also near m = 1 where s is computed
    without cancellation. e is an integer-valued float, −∞ for r = 0.
    """
    sub = r < _TINY
    x = r * _TWO54 if sub else r
    bits = _bits(x)
    frac = bits & 0x000FFFFFFFFFFFFF
    big = frac > 0x6A09E667F3BCD  # mantissa ≥ √2: use m/2 and e + 1
    ex = (bits >> 52) - 1023 + np.int64(big) - (54 if sub else 0)
    m = _float(frac | (0x3FE0000000000000 if big else 0x3FF0000000000000))
    s = (m - 1.0) / (m + 1.0)
    z = s * s
    p = 0.07404855180327638
    p = p * z + 0.07656264074182095
    p = p * z + 0.09091815840114664
    p = p * z + 0.11111098528363024
    p = p * z + 0.1428571438032084
    p = p * z + 0.1999999999965117
    p = p * z + 0.33333333333333826
    t = 2.0 * s
    e = float(ex) if r > 0.0 else -np.inf
    return e, t + t * z * p


@numba.njit(inline="always", **_FAST)
def _max(a, b):
    """max(a, b) as one select: numba's builtin also orders NaN, which costs more and can
    stop vectorization. The kernels never see NaN where they use it."""
    return a if a >= b else b


@numba.njit(inline="always", **_FAST)
def _min(a, b):
    """min(a, b) as one select (see :func:`_max`)."""
    return a if a <= b else b


@numba.njit(inline="always", **_FAST)
def _sign(v):
    """The bit pattern of v: OR-ed over an input, its top bit says whether any entry is negative.

    Together with finite row sums (NaN and ±inf make a sum non-finite) that is
    the whole validity test, at the cost of one integer OR per entry. −0.0 and
    huge entries whose sum overflows also fail it; the second look at the
    values (:func:`theory.validation._entries`) sorts those out.
    """
    return _bits(v)


# ---------------------------------------------------------------------------
# Validation scan
# ---------------------------------------------------------------------------


@numba.njit(**_FAST)
def _scan_range(a, lo, hi):
    """[row sums of a[:, lo:hi] …, 1 if an entry has its sign bit set else 0]."""
    K = a.shape[0]
    out = np.zeros(K + 1)
    sgn = 0
    for k in range(K):
        row = a[k, lo:hi]
        s = 0.0
        for i in range(row.shape[0]):
            v = row[i]
            s += v
            sgn |= _sign(v)
        out[k] = s
    out[K] = sgn < 0
    return out


def scan_rows(a: np.ndarray) -> tuple[np.ndarray, bool]:
    """Row sums of a (K, n) array and whether it is clean (see :func:`_scan`), in one pass.

    Clean means: every row sum is finite (so no NaN or inf entry) and no entry
    has its sign bit set (so none is negative, nor −0.0). :mod:`theory.validation`
    decides its checks from these numbers.

    Parameters
    ----------
    a : array_like, shape (K, n)
        The array to scan; not validated.

    Returns
    -------
    sums : ndarray, shape (K,)
        The row sums.
    clean : bool
        Whether the array is clean.

    Examples
    --------
    >>> import numpy as np
    >>> scan_rows(np.array([[0.5, 0.5], [0.2, -0.1]]))
    (array([1. , 0.1]), False)
    """
    a = _in(a)
    acc = _total(over_columns(_scan_range, a.size, a.shape[1], a))
    return _scan(acc[:-1], acc[-1])


def _scan(sums: np.ndarray, negative: float) -> tuple[np.ndarray, bool]:
    """``(sums, clean)``: clean when no entry had its sign bit set and every sum is finite.

    An input with a NaN or an infinite entry has a non-finite row sum, so a
    clean input has only finite entries ≥ 0 (a finite input whose sum
    overflows is not clean either: its checks look at the values again).
    """
    return sums, bool(negative == 0 and all(map(math.isfinite, sums.tolist())))


# ---------------------------------------------------------------------------
# Divergences (T1), each with the validation of its inputs in the same pass
# ---------------------------------------------------------------------------


@numba.njit(**_FAST)
def _rows_range(mode, D, q, block, lo, hi):
    """Per-row sums over the columns [lo, hi) of D (and q), in one read of each.

    Returns [v_k …, s_k …, neg(D), Σq, neg(q)], with s_k the row sums of D,
    neg(·) = 1 if an entry has its sign bit set (else 0), and v_k over
    d = D_k(x) > 0: Σ d log d (``mode`` 0), Σ d log q (1) or Σ d log(d/q) (2).
    For modes 1 and 2 the parts of log q are computed once per block of columns
    and shared by the K rows (except for KL with one row, see below). For the
    entropy q is not read.
    """
    K = D.shape[0]
    out = np.zeros(2 * K + 3)
    # The parts (e, f) of log q on a block; they stay 0 for the entropy, which is
    # then the KL loop against q = 1: one loop (and one inlined log) less to compile.
    eq_block = np.zeros(block)
    fq_block = np.zeros(block)
    sgn = 0
    sgnq = 0
    for b0 in range(lo, hi, block):
        b1 = min(hi, b0 + block)
        m = b1 - b0
        eq = eq_block[:m]
        fq = fq_block[:m]
        qb = q[b0:b1]
        if mode == _KL and K == 1:
            # One row: caching log q does not pay; log(d/q) from the ratio, one
            # log per column. A block where the ratio leaves the normal range
            # (q = 0, or under/overflow) is done again below, with both logs.
            row = D[0, b0:b1]
            s = 0.0
            sq = 0.0
            v = 0.0
            odd = 0
            for i in range(m):
                d = row[i]
                c = qb[i]
                s += d
                sq += c
                sgn |= _sign(d)
                sgnq |= _sign(c)
                r = d / c
                use = d > 0.0
                odd += use and not (r >= _TINY and r <= _HUGE)
                e, f = _log_parts(r)
                v += d * (e * _LN2 + f) if use else 0.0
            if not odd:
                out[0] += v
                out[1] += s
                out[2 * K + 1] += sq
                continue
        sq = 0.0
        if mode != _ENTROPY:
            for i in range(m):
                c = qb[i]
                sq += c
                sgnq |= _sign(c)
                e, f = _log_parts(c)
                eq[i] = e
                fq[i] = f
        out[2 * K + 1] += sq
        for k in range(K):
            row = D[k, b0:b1]
            s = 0.0
            v = 0.0
            if mode == _CROSS:
                for i in range(m):
                    d = row[i]
                    s += d
                    sgn |= _sign(d)
                    v += d * (eq[i] * _LN2 + fq[i]) if d > 0.0 else 0.0
            else:
                for i in range(m):
                    d = row[i]
                    s += d
                    sgn |= _sign(d)
                    e, f = _log_parts(d)
                    v += d * ((e - eq[i]) * _LN2 + (f - fq[i])) if d > 0.0 else 0.0
            out[k] += v
            out[K + k] += s
    out[2 * K] = sgn < 0
    out[2 * K + 2] = sgnq < 0
    return out


def checked_rows(mode: int, D: np.ndarray, q: np.ndarray | None):
    """Row divergences of ``mode`` with the scans of D (and q): ``(values, scans)``.

    ``values`` are H(D_k), CE(D_k, q) or KL(D_k‖q) (modes 0, 1, 2; no clamping
    of rounding below 0); ``scans`` is ``[(row sums of D, clean), (sum of q, clean)]``
    (only D for the entropy), ``clean`` as in :func:`_scan`. The kernel of
    :func:`theory.divergences.kl_rows` and its siblings (T1).

    Parameters
    ----------
    mode : {0, 1, 2}
        0 entropy, 1 cross-entropy, 2 Kullback–Leibler divergence.
    D : ndarray, shape (K, n)
        The rows; not validated.
    q : ndarray, shape (n,) or None
        The second argument (ignored, may be None, for the entropy).

    Returns
    -------
    values : ndarray, shape (K,)
        The per-row values, in nats (+inf where a row has mass on a zero of q).
    scans : list of (ndarray, bool)
        The scans of D and, unless ``mode`` is 0, of q.

    Examples
    --------
    >>> import numpy as np
    >>> D = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    >>> values, scans = checked_rows(2, D, np.array([0.2, 0.5, 0.3]))
    >>> values.round(4), scans[0][1], scans[1][1]
    (array([0.5838, 0.1933]), True, True)
    """
    D = _in(D)
    K = D.shape[0]
    q = D[0] if q is None else _in(q)
    block = _block(*D.shape, _STREAM_BLOCK)
    acc = _total(over_columns(_rows_range, D.size, D.shape[1], mode, D, q, block))
    values = acc[:K] if mode == _KL else -acc[:K]
    scans = [_scan(acc[K : 2 * K], acc[2 * K])]
    if mode != _ENTROPY:
        scans.append(_scan(acc[2 * K + 1 : 2 * K + 2], acc[2 * K + 2]))
    return values, scans


def kl_rows(D: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(D_k‖q) = Σ_x D_k(x) log(D_k(x)/q(x)) per row (T1); inputs not checked.

    No clamping of rounding below 0 (the public
    :func:`theory.divergences.kl_rows` reports those at 0).

    Parameters
    ----------
    D : ndarray, shape (K, n)
        Distributions, one per row.
    q : ndarray, shape (n,)
        A distribution.

    Returns
    -------
    ndarray, shape (K,)
        KL(D_k‖q) in nats, +inf where D_k puts mass on a zero of q.

    Examples
    --------
    >>> import numpy as np
    >>> kl_rows(np.array([[0.5, 0.5], [1.0, 0.0]]), np.array([0.5, 0.5])).round(4)
    array([0.    , 0.6931])
    """
    return checked_rows(_KL, D, q)[0]


def entropy_rows(D: np.ndarray) -> np.ndarray:
    """H(D_k) = −Σ_x D_k(x) log D_k(x) per row (T1; 0 log 0 = 0); inputs not checked.

    A point mass gives +0.0 (the sum is formed as a negated divergence, whose
    −0.0 is turned into +0.0); values of order −1e-17 from rounding are not
    clamped here (the public :func:`theory.divergences.entropy_rows` reports
    them as 0).

    Parameters
    ----------
    D : ndarray, shape (K, n)
        Distributions, one per row.

    Returns
    -------
    ndarray, shape (K,)
        H(D_k) in nats.

    Examples
    --------
    >>> import numpy as np
    >>> entropy_rows(np.array([[0.5, 0.5], [1.0, 0.0]])).round(4)
    array([0.6931, 0.    ])
    """
    # Adding 0.0 turns −0.0 into +0.0 (IEEE 754, round to nearest).
    return checked_rows(_ENTROPY, D, None)[0] + 0.0


def cross_entropy_rows(D: np.ndarray, q: np.ndarray) -> np.ndarray:
    """CE(D_k, q) = −Σ_x D_k(x) log q(x) per row (T1); inputs not checked.

    Parameters
    ----------
    D : ndarray, shape (K, n)
        Distributions, one per row.
    q : ndarray, shape (n,)
        A distribution.

    Returns
    -------
    ndarray, shape (K,)
        CE(D_k, q) in nats, +inf where D_k puts mass on a zero of q.

    Examples
    --------
    >>> import numpy as np
    >>> cross_entropy_rows(np.array([[0.5, 0.5]]), np.array([1.0, 0.0]))
    array([inf])
    """
    return checked_rows(_CROSS, D, q)[0]


@numba.njit(**_FAST)
def _mixture_range(lam, D, out, check, block, lo, hi):
    """out[lo:hi] = Σ_k λ_k D_k[lo:hi] with exact support (underflow rounds up to _SUB).

    Returns [row sums of D …, neg(D)] when ``check`` (rows with λ_k = 0 are then
    read too); without it rows with λ_k = 0 are skipped and the sums are 0.
    """
    K = D.shape[0]
    acc = np.zeros(K + 1)
    sgn = 0
    for b0 in range(lo, hi, block):
        b1 = min(hi, b0 + block)
        part = out[b0:b1]
        for i in range(b1 - b0):
            part[i] = 0.0
        for k in range(K):
            w = lam[k]
            row = D[k, b0:b1]
            s = 0.0
            if w > 0.0:
                for i in range(b1 - b0):
                    d = row[i]
                    s += d
                    sgn |= _sign(d)
                    part[i] += _max(w * d, _SUB) if d > 0.0 else 0.0
            elif check:
                for i in range(b1 - b0):
                    d = row[i]
                    s += d
                    sgn |= _sign(d)
            acc[k] += s
    acc[K] = sgn < 0
    return acc


def checked_mixture(lam: np.ndarray, D: np.ndarray):
    """D_λ = Σ_k λ_k D_k and the scan ``(row sums of D, clean)`` of D, in one pass.

    The kernel of :func:`theory.divergences.mixture` (T1); a point where some
    D_k with λ_k > 0 is positive stays positive (an underflow is rounded up to
    the smallest subnormal).

    Parameters
    ----------
    lam : ndarray, shape (K,)
        Mixture weights; not validated.
    D : ndarray, shape (K, n)
        Distributions, one per row; not validated.

    Returns
    -------
    mixture : ndarray, shape (n,)
        D_λ.
    scan : (ndarray, bool)
        Row sums of D and whether D is clean.

    Examples
    --------
    >>> import numpy as np
    >>> checked_mixture(np.array([0.5, 0.5]), np.array([[1.0, 0.0], [0.0, 1.0]]))
    (array([0.5, 0.5]), (array([1., 1.]), True))
    """
    D = _in(D)
    K, n = D.shape
    out = np.empty(n)
    block = _block(K, n, _STREAM_BLOCK)
    acc = _total(over_columns(_mixture_range, D.size, n, _in(lam), D, out, True, block))
    return out, _scan(acc[:K], acc[K])


def mixture(lam: np.ndarray, D: np.ndarray) -> np.ndarray:
    """D_λ = Σ_k λ_k D_k (rows with λ_k = 0 are not read); inputs not checked.

    Parameters
    ----------
    lam : ndarray, shape (K,)
        Mixture weights.
    D : ndarray, shape (K, n)
        Distributions, one per row.

    Returns
    -------
    ndarray, shape (n,)
        D_λ, with exact support (see :func:`checked_mixture`).

    Examples
    --------
    >>> import numpy as np
    >>> mixture(np.array([0.5, 0.5]), np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]))
    array([0.4 , 0.25, 0.35])
    """
    D = _in(D)
    out = np.empty(D.shape[1])
    block = _block(*D.shape, _STREAM_BLOCK)
    over_columns(_mixture_range, D.size, D.shape[1], _in(lam), D, out, False, block)
    return out


@numba.njit(**_FAST)
def _jsd_range(lam, D, check, block, lo, hi):
    """[Σ_k λ_k KL(D_k‖D_λ) on columns [lo, hi), row sums of D …, neg(D)] in one read of D.

    Per block of columns: the mixture D_λ of the block, then the terms
    λ_k D_k log(D_k / D_λ), the K rows of the block read again from cache.
    Weighting each term by the joint mass λ_k D_k(x) (not λ_k times a row
    divergence) keeps 0 log 0 = 0 when that joint mass underflows: then
    D_λ(x) ≥ λ_k D_k(x) > 0 whenever a term is evaluated.
    """
    K = D.shape[0]
    acc = np.zeros(K + 2)
    mb = np.empty(block)
    em = np.empty(block)
    fm = np.empty(block)
    sgn = 0
    total = 0.0
    for b0 in range(lo, hi, block):
        b1 = min(hi, b0 + block)
        m = b1 - b0
        part = mb[:m]
        for i in range(m):
            part[i] = 0.0
        for k in range(K):
            w = lam[k]
            row = D[k, b0:b1]
            s = 0.0
            if w > 0.0:
                for i in range(m):
                    d = row[i]
                    s += d
                    sgn |= _sign(d)
                    part[i] += _max(w * d, _SUB) if d > 0.0 else 0.0
            elif check:
                for i in range(m):
                    d = row[i]
                    s += d
                    sgn |= _sign(d)
            acc[1 + k] += s
        le = em[:m]
        lf = fm[:m]
        for i in range(m):
            e, f = _log_parts(part[i])
            le[i] = e
            lf[i] = f
        for k in range(K):
            c = lam[k]
            if c > 0.0:
                row = D[k, b0:b1]
                s = 0.0
                for i in range(m):
                    d = row[i]
                    w = c * d
                    e, f = _log_parts(d)
                    s += w * ((e - le[i]) * _LN2 + (f - lf[i])) if w > 0.0 else 0.0
                total += s
    acc[0] = total
    acc[K + 1] = sgn < 0
    return acc


def checked_jsd(lam: np.ndarray, D: np.ndarray):
    """Σ_k λ_k KL(D_k‖D_λ) (= JSD_λ(D), T1) and the scan ``(row sums of D, clean)``, one pass.

    The mixture is formed block by block of X while D is read, so D is read
    once; the value is computed in the divergence form, which keeps full
    relative accuracy when the rows nearly coincide.

    Parameters
    ----------
    lam : ndarray, shape (K,)
        Mixture weights; not validated.
    D : ndarray, shape (K, n)
        Distributions, one per row; not validated.

    Returns
    -------
    value : float
        JSD_λ(D) in nats (rounding may leave it slightly below 0).
    scan : (ndarray, bool)
        Row sums of D and whether D is clean.

    Examples
    --------
    >>> import numpy as np
    >>> value, scan = checked_jsd(np.array([0.5, 0.5]), np.array([[1.0, 0.0], [0.0, 1.0]]))
    >>> round(value, 6), scan[1]  # log 2 for disjoint supports (T1)
    (0.693147, True)
    """
    D = _in(D)
    K = D.shape[0]
    acc = _total(over_columns(_jsd_range, D.size, D.shape[1], _in(lam), D, True, _block(*D.shape)))
    return float(acc[0]), _scan(acc[1 : K + 1], acc[K + 1])


def jsd(lam: np.ndarray, D: np.ndarray) -> float:
    """Σ_k λ_k KL(D_k‖D_λ) = JSD_λ(D) (T1) in joint-mass-weighted form; inputs not checked.

    Rows with λ_k = 0 are not read.

    Parameters
    ----------
    lam : ndarray, shape (K,)
        Mixture weights.
    D : ndarray, shape (K, n)
        Distributions, one per row.

    Returns
    -------
    float
        JSD_λ(D) in nats.

    Examples
    --------
    >>> import numpy as np
    >>> round(jsd(np.array([0.5, 0.5]), np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])), 6)
    0.230645
    """
    D = _in(D)
    parts = over_columns(_jsd_range, D.size, D.shape[1], _in(lam), D, False, _block(*D.shape))
    return float(sum(p[0] for p in parts))


def jsd_sum(lam: np.ndarray, D: np.ndarray, m: np.ndarray) -> float:
    """Σ_k λ_k KL(D_k‖m) in joint-mass-weighted form (= JSD_λ(D) for m = D_λ, T1).

    ``m`` must be the mixture :func:`mixture` returns: the kernel recomputes it
    block by block (the same sums in the same order) instead of reading it.

    Parameters
    ----------
    lam : ndarray, shape (K,)
        Mixture weights.
    D : ndarray, shape (K, n)
        Distributions, one per row.
    m : ndarray, shape (n,)
        ``mixture(lam, D)`` (not read).

    Returns
    -------
    float
        JSD_λ(D) in nats.

    Examples
    --------
    >>> import numpy as np
    >>> lam, D = np.array([0.5, 0.5]), np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    >>> jsd_sum(lam, D, mixture(lam, D)) == jsd(lam, D)
    True
    """
    return jsd(lam, D)


# ---------------------------------------------------------------------------
# The envelope of the experts and the gate of a model (T2)
# ---------------------------------------------------------------------------


@numba.njit(**_FAST)
def _envelope_range(P, lo_out, hi_out, block, lo, hi):
    """lo_out/hi_out[lo:hi] = column minima/maxima of P; returns [row sums …, neg(P)]."""
    K = P.shape[0]
    acc = np.zeros(K + 1)
    sgn = 0
    for b0 in range(lo, hi, block):
        b1 = min(hi, b0 + block)
        mn = lo_out[b0:b1]
        mx = hi_out[b0:b1]
        first = P[0, b0:b1]
        for i in range(b1 - b0):
            mn[i] = first[i]
            mx[i] = first[i]
        for k in range(K):
            row = P[k, b0:b1]
            s = 0.0
            for i in range(b1 - b0):
                v = row[i]
                s += v
                sgn |= _sign(v)
                mn[i] = _min(mn[i], v)
                mx[i] = _max(mx[i], v)
            acc[k] += s
    acc[K] = sgn < 0
    return acc


def envelope(P: np.ndarray):
    """(ℓ, u) = (min_k p_k, max_k p_k) and the scan ``(row sums of P, clean)``, one pass (T2).

    ℓ and u come back read-only: the solvers pass them to a kernel at every step.

    Parameters
    ----------
    P : ndarray, shape (K, n)
        The experts; not validated.

    Returns
    -------
    lo : ndarray, shape (n,)
        ℓ(x) = min_k p_k(x).
    hi : ndarray, shape (n,)
        u(x) = max_k p_k(x).
    scan : (ndarray, bool)
        Row sums of P and whether P is clean.

    Examples
    --------
    >>> import numpy as np
    >>> envelope(np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]]))
    (array([0.2, 0.3, 0.1]), array([0.6, 0.3, 0.5]), (array([1., 1.]), True))
    """
    P = _in(P)
    K, n = P.shape
    lo, hi = np.empty(n), np.empty(n)
    acc = _total(over_columns(_envelope_range, P.size, n, P, lo, hi, _block(K, n)))
    lo.setflags(write=False)
    hi.setflags(write=False)
    return lo, hi, _scan(acc[:K], acc[K])


@numba.njit(**dict(_JIT, fastmath={"reassoc"}))
def _gate_range(P, q, g, rtol, block, lo, hi):
    """The gate of q (see :func:`gate`) on columns [lo, hi), with the scans of P and q.

    Returns [row sums of P …, neg(P), Σq, neg(q), first column outside the
    envelope (n if none)]. Compiled without contraction into fused
    multiply-adds: the envelope test must round exactly as the numpy
    expression of ``theory.gates.in_envelope``.
    """
    K, n = P.shape
    acc = np.zeros(K + 4)
    acc[K + 3] = n
    mn = np.empty(block)
    mx = np.empty(block)
    amn = np.empty(block, np.int64)
    amx = np.empty(block, np.int64)
    sgn = 0
    sgnq = 0
    sq = 0.0
    for b0 in range(lo, hi, block):
        b1 = min(hi, b0 + block)
        m = b1 - b0
        first = P[0, b0:b1]
        for i in range(m):
            mn[i] = first[i]
            mx[i] = first[i]
            amn[i] = 0
            amx[i] = 0
        for k in range(K):
            row = P[k, b0:b1]
            s = 0.0
            for i in range(m):
                v = row[i]
                s += v
                sgn |= _sign(v)
                if v < mn[i]:
                    mn[i] = v
                    amn[i] = k
                if v > mx[i]:
                    mx[i] = v
                    amx[i] = k
            acc[k] += s
            gk = g[k, b0:b1]
            for i in range(m):
                gk[i] = 0.0
        qb = q[b0:b1]
        for i in range(m):
            v = qb[i]
            sq += v
            sgnq |= _sign(v)
            a, b = mn[i], mx[i]
            slack = rtol * b
            if not (v >= a - slack and v <= b + slack) and acc[K + 3] == n:
                acc[K + 3] = b0 + i
            width = b - a
            theta = (v - a) / width if width > 0.0 else 0.0
            theta = min(max(theta, 0.0), 1.0)
            g[amn[i], b0 + i] += 1.0 - theta
            g[amx[i], b0 + i] += theta
    acc[K] = sgn < 0
    acc[K + 1] = sq
    acc[K + 2] = sgnq < 0
    return acc


def gate(q: np.ndarray, P: np.ndarray, rtol: float):
    """The gate of T2 for q and its checks, in one pass over P and q.

    At each x, weight θ = (q − ℓ)/(u − ℓ) clipped to [0, 1] (0 where u = ℓ)
    goes to the first argmax expert and 1 − θ to the first argmin expert, so
    that Σ_k g_k(x) p_k(x) = q(x) when ℓ(x) ≤ q(x) ≤ u(x).

    Parameters
    ----------
    q : ndarray, shape (n,)
        The model to represent; not validated.
    P : ndarray, shape (K, n)
        The experts; not validated.
    rtol : float
        Relative slack of the envelope test (see
        :data:`theory.validation.ENVELOPE_RTOL`).

    Returns
    -------
    g : ndarray, shape (K, n)
        The gate, each column on Δ_K.
    scans : list of (ndarray, bool)
        [(row sums of P, clean), (sum of q, clean)].
    outside : int or None
        The first x with q(x) outside [ℓ − rtol·u, u + rtol·u], or None.

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
    >>> g, scans, outside = gate(np.array([0.4, 0.3, 0.3]), P, 1e-12)
    >>> g, outside
    (array([[0.5, 1. , 0.5],
           [0.5, 0. , 0.5]]), None)
    >>> gate(np.array([0.4, 0.3, 0.6]), P, 1e-12)[2]  # 0.6 > u(2) = 0.5
    2
    """
    P, q = _in(P), _in(q)
    K, n = P.shape
    g = np.empty((K, n))
    parts = over_columns(_gate_range, P.size, n, P, q, g, float(rtol), _block(K, n))
    acc = _total([p[: K + 3] for p in parts])
    first = min(int(p[K + 3]) for p in parts)
    scans = [_scan(acc[:K], acc[K]), _scan(acc[K + 1 : K + 2], acc[K + 2])]
    return g, scans, (first if first < n else None)


@numba.njit(**_FAST)
def _infeasible_range(D, u, active, lo, hi):
    """The first (k, x) in row-major order with x ∈ [lo, hi), active[k], D_k(x) > 0 = u(x).

    Each row is first counted in a vectorized loop; only a row with a hit is
    searched again for its first one. (K, hi) when there is none.
    """
    uu = u[lo:hi]
    for k in range(D.shape[0]):
        if active[k]:
            row = D[k, lo:hi]
            hits = 0
            for i in range(hi - lo):
                hits += row[i] > 0.0 and uu[i] == 0.0
            if hits:
                for i in range(hi - lo):
                    if row[i] > 0.0 and uu[i] == 0.0:
                        return k, lo + i
    return D.shape[0], hi


def first_infeasible(D: np.ndarray, u: np.ndarray, active: np.ndarray):
    """The first (k, x) in row-major order with ``active[k]`` and D_k(x) > 0 = u(x), or None.

    Such a pair makes the objective infinite: no model in the envelope can
    give x positive probability (see :func:`theory.validation.check_feasible`).

    Parameters
    ----------
    D : ndarray, shape (K, n)
        The domains.
    u : ndarray, shape (n,)
        The upper envelope of the experts.
    active : array_like of bool, shape (K,)
        The domains to check.

    Returns
    -------
    tuple of (int, int) or None
        The domain index k and the point x, or None if there is none.

    Raises
    ------
    ValueError
        If the shapes of ``D``, ``u`` and ``active`` do not match.

    Examples
    --------
    >>> import numpy as np
    >>> D = np.array([[0.5, 0.5], [1.0, 0.0]])
    >>> first_infeasible(D, np.array([1.0, 0.0]), np.array([True, True]))
    (0, 1)
    """
    D, u = _in(D), _in(u)
    if u.shape != D.shape[1:] or np.shape(active) != D.shape[:1]:
        raise ValueError(f"first_infeasible: shapes {D.shape}, {u.shape}, {np.shape(active)}")
    act = np.array(active, dtype=np.bool_)
    act.flags.writeable = False
    parts = over_columns(_infeasible_range, D.size, D.shape[1], D, u, act)
    k, x = min(parts)
    return (int(k), int(x)) if k < D.shape[0] else None


# ---------------------------------------------------------------------------
# Water-filling (T3) and the curvature of the dual function (T5)
# ---------------------------------------------------------------------------


@numba.njit(**_FAST)
def _fill_range(t, lo, hi, s, a0, a1):
    """Σ_{x∈[a0,a1)} clip(t(x)·s, ℓ(x), u(x)), the slopes right/left of s, and the
    nearest breakpoints ℓ/t, u/t strictly left and right of s (s = 1/ν, may be +inf).

    Written with selects only (the points with t(x) = 0 contribute ℓ(x) and no
    breakpoint), so that LLVM vectorizes it. The breakpoints are ≥ 0, and
    non-negative floats are ordered as their bit patterns: their minimum and
    maximum are taken on the integers, which vectorizes without a NaN rule.
    """
    st = 0.0
    su = 0.0
    sd = 0.0
    right = _INF_BITS
    left = 0
    tt, ll, hh = t[a0:a1], lo[a0:a1], hi[a0:a1]
    for i in range(a1 - a0):
        ti = tt[i]
        li = ll[i]
        hv = hh[i]
        on = ti > 0.0
        a = li / ti
        b = hv / ti
        st += _min(_max(_max(ti * s, _SUB), li), hv) if on else li
        su += ti if on & (a <= s) & (s < b) else 0.0
        sd += ti if on & (a < s) & (s <= b) else 0.0
        ra = _bits(a) if on & (a > s) else _INF_BITS
        rb = _bits(b) if on & (b > s) else _INF_BITS
        right = min(right, min(ra, rb))
        la = _bits(a) if on & (a < s) else 0
        lb = _bits(b) if on & (b < s) else 0
        left = max(left, max(la, lb))
    return st, su, sd, _float(left), _float(right)


@numba.njit(**_FAST)
def _fill_model_range(t, lo, hi, s, out, a0, a1):
    """out[x] = clip(t(x)·s, ℓ(x), u(x)) on [a0, a1), kept > 0 where t(x) > 0 < u(x)."""
    tt, ll, hh, oo = t[a0:a1], lo[a0:a1], hi[a0:a1], out[a0:a1]
    for i in range(a1 - a0):
        ti = tt[i]
        v = _max(ti * s, _SUB) if ti > 0.0 else 0.0
        oo[i] = _min(_max(v, ll[i]), hh[i])
    return out


def fill_model(t: np.ndarray, lo: np.ndarray, hi: np.ndarray, s: float) -> np.ndarray:
    """The water-filled model clip(t·s, ℓ, u) (T3), positive on supp t ∩ {u > 0}.

    Parameters
    ----------
    t : ndarray, shape (n,)
        The target distribution.
    lo, hi : ndarray, shape (n,)
        The envelope ℓ ≤ u.
    s : float
        The level s = 1/ν.

    Returns
    -------
    ndarray, shape (n,)
        q(x) = clip(t(x) s, ℓ(x), u(x)).

    Examples
    --------
    >>> import numpy as np
    >>> lo, hi = np.array([0.2, 0.3, 0.1]), np.array([0.6, 0.3, 0.5])
    >>> fill_model(np.array([0.4, 0.25, 0.35]), lo, hi, 1.0)
    array([0.4 , 0.3 , 0.35])
    """
    out = np.empty(t.shape[0])
    over_columns(_fill_model_range, t.size, t.shape[0], _in(t), _in(lo), _in(hi), float(s), out)
    return out


def fill_pass(t: np.ndarray, lo: np.ndarray, hi: np.ndarray, s: float):
    """One pass of Φ(s) + 1 = Σ_x clip(t(x)·s, ℓ(x), u(x)) over X (s = 1/ν, s may be +inf; T3).

    On [left, right] Φ is affine on each side of s, so a Newton step that
    stays there lands on the exact root (see :mod:`theory._fill`).

    Parameters
    ----------
    t : ndarray, shape (n,)
        The target distribution.
    lo, hi : ndarray, shape (n,)
        The envelope ℓ ≤ u.
    s : float
        The level s ≥ 0, possibly +inf.

    Returns
    -------
    total : float
        Φ(s) + 1.
    right_slope, left_slope : float
        The slopes of Φ just right and just left of s (the sums of t over the
        points not clipped there).
    left, right : float
        The nearest breakpoints ℓ(x)/t(x), u(x)/t(x) left and right of s.

    Examples
    --------
    >>> import numpy as np
    >>> lo, hi = np.array([0.2, 0.3, 0.1]), np.array([0.6, 0.3, 0.5])
    >>> [round(v, 6) for v in fill_pass(np.array([0.4, 0.25, 0.35]), lo, hi, 1.0)]
    [1.05, 0.75, 0.75, 0.5, 1.2]
    """
    args = (_in(t), _in(lo), _in(hi), float(s))
    parts = over_columns(_fill_range, 3 * t.size, t.shape[0], *args)
    tot = sum(p[0] for p in parts)
    up = sum(p[1] for p in parts)
    dn = sum(p[2] for p in parts)
    return tot, up, dn, max(p[3] for p in parts), min(p[4] for p in parts)


@numba.njit(**_FAST)
def _gram_range(D, t, q, lo, hi, clipped, block, a0, a1):
    """Sums over the free columns F of [a0, a1): A_jk = Σ_F D_j D_k / t, a_k = Σ_F D_k, T = Σ_F t.

    F = {x : t(x) > 0} and, when ``clipped``, also ℓ(x) < q(x) < u(x) (the
    points a water-filled q leaves unclipped). Per block of columns, the rows
    W_j = D_j / t on F (0 elsewhere) are formed once, then each A_jk (k ≥ j) is
    a dot product of W_j with D_k read from cache: vectorized along x.
    D_j / t, not D_j · (1/t): 1/t overflows for a subnormal t.
    """
    K = D.shape[0]
    A = np.zeros((K, K))
    a = np.zeros(K)
    T = 0.0
    W = np.empty((K, block))
    free_block = np.empty(block, np.bool_)
    for b0 in range(a0, a1, block):
        b1 = min(a1, b0 + block)
        m = b1 - b0
        tb, qb, lb, hb = t[b0:b1], q[b0:b1], lo[b0:b1], hi[b0:b1]
        free = free_block[:m]
        for i in range(m):
            ti = tb[i]
            f = (ti > 0.0) & ((not clipped) | ((lb[i] < qb[i]) & (qb[i] < hb[i])))
            free[i] = f
            T += ti if f else 0.0
        for j in range(K):
            row = D[j, b0:b1]
            wj = W[j, :m]
            s = 0.0
            for i in range(m):
                d = row[i]
                wj[i] = d / tb[i] if free[i] else 0.0
                s += d if free[i] else 0.0
            a[j] += s
        for j in range(K):
            wj = W[j, :m]
            for k in range(j, K):
                row = D[k, b0:b1]
                s = 0.0
                for i in range(m):
                    s += wj[i] * row[i]
                A[j, k] += s
    return A, a, T


def gram(D: np.ndarray, t: np.ndarray, q=None, lo=None, hi=None):
    """(A, a, T) over the free set F of X, A symmetric: the curvature of T5 and T6.

        A_jk = Σ_{x∈F} D_j(x) D_k(x) / t(x),   a_k = Σ_{x∈F} D_k(x),   T = Σ_{x∈F} t(x).

    Without ``q``, ``lo``, ``hi`` the free set is supp t (the Hessian of the
    mutual information is −A, T6); with them, the unclipped points of a
    water-filled q (the Hessian of the dual function on its clipping pattern
    is −A + a aᵀ/T, T5).

    Parameters
    ----------
    D : ndarray, shape (K, n)
        The domains.
    t : ndarray, shape (n,)
        The mixture D_λ.
    q : ndarray, shape (n,), optional
        The water-filled model of t.
    lo, hi : ndarray, shape (n,), optional
        The envelope ℓ ≤ u (required with ``q``).

    Returns
    -------
    A : ndarray, shape (K, K)
        Symmetric positive semidefinite.
    a : ndarray, shape (K,)
        The masses of the rows on F.
    T : float
        The mass of t on F.

    Examples
    --------
    >>> import numpy as np
    >>> D = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> gram(D, np.array([0.5, 0.5]))
    (array([[2., 0.],
           [0., 2.]]), array([1., 1.]), 1.0)
    """
    clipped = q is not None
    D, t = _in(D), _in(t)
    q, lo, hi = (_in(q), _in(lo), _in(hi)) if clipped else (t, t, t)
    K = D.shape[0]
    parts = over_columns(
        _gram_range, D.size * K, D.shape[1], D, t, q, lo, hi, clipped, _block(*D.shape)
    )
    A = sum(p[0] for p in parts)
    A = np.triu(A) + np.triu(A, 1).T
    return A, sum(p[1] for p in parts), float(sum(p[2] for p in parts))
