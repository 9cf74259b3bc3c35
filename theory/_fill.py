r"""Water-filling (T3) on validated arrays: the exact root of a piecewise-affine equation.

Notation. X is a finite set of n points; t ∈ Δ(X) is a target distribution
(the mixture D_λ of the domains for T3) and ℓ ≤ u the envelope of the
experts, ℓ(x) = min_k p_k(x) and u(x) = max_k p_k(x). clip(a, ℓ, u) =
min(max(a, ℓ), u).

**T3 (water-filling).** The model of the envelope M = {q ∈ Δ(X) : ℓ ≤ q ≤ u}
that minimizes the cross-entropy −Σ_x t(x) log q(x) is

    q*(x) = clip(t(x) s, ℓ(x), u(x)),   s = 1/ν,

.. math:: q^*(x) = \mathrm{clip}\bigl(t(x)\,s,\ \ell(x),\ u(x)\bigr), \qquad s = 1/\nu,

where the level s is chosen so that q* sums to one (unique on supp t). The
name comes from the picture: raise the "water" level s until the clipped
vessels hold mass 1. Φ(s) = Σ_x clip(t(x) s, ℓ(x), u(x)) − 1 is
non-decreasing and affine between consecutive breakpoints ℓ(x)/t(x),
u(x)/t(x), so a Newton step that stays on its affine piece lands on the
exact root. When even s = ∞ gives Σ_{t>0} u + Σ_{t=0} ℓ < 1 there is no root
(the edge case): then q = u on supp t and the rest of the mass is spread
over {t = 0} within [ℓ, u]. See the theory page *Fixed mixture:
water-filling* of the documentation (the paper's §4.1).

The public entry points (:func:`theory.minimax.water_fill`,
:func:`theory.minimax.fixed_mixture`) validate and call
:func:`water_fill_arrays`.

Examples
--------
>>> import numpy as np
>>> from theory._fill import water_fill_arrays
>>> t = np.array([0.4, 0.25, 0.35])
>>> lo, hi = np.array([0.2, 0.3, 0.1]), np.array([0.6, 0.3, 0.5])
>>> fill = water_fill_arrays(t, lo, hi)
>>> fill.q.round(4), round(fill.nu, 6)
(array([0.3733, 0.3   , 0.3267]), 1.071429)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theory import _kernels

__all__ = ["Fill", "water_fill_arrays", "to_envelope"]

# |Σ q − 1| below which a water level is accepted as the root of Φ: a few
# hundred ulps of the sum, far below the 1e-9 tolerance of the distribution checks.
_ROOT_TOL = 1e-14

# Breakpoint-to-breakpoint steps before the search switches to bisection in
# log s, and the most passes over X one water-filling may take.
_BREAKPOINT_STEPS = 8
_MAX_PASSES = 2200
# Above this level the search rescales t (s·t must stay representable).
_BIG = 1e300


@dataclass(frozen=True)
class Fill:
    """A water-filled model with its level (T3), as returned by :func:`water_fill_arrays`.

    Parameters
    ----------
    q : ndarray, shape (n,)
        The model q* = clip(t s, ℓ, u), a distribution with ℓ ≤ q* ≤ u.
    s : float
        The level s = 1/ν; +inf in the no-root edge case, or when 1/ν exceeds
        the float64 range.
    nu : float
        The water level ν = 1/s (0 in the edge case).

    Examples
    --------
    >>> import numpy as np
    >>> f = water_fill_arrays(np.array([1.0, 0.0]), np.array([0.3, 0.0]), np.array([0.7, 1.0]))
    >>> f.q, f.s, f.nu  # u on supp t = {0}, the rest of the mass at x = 1
    (array([0.7, 0.3]), inf, 0.0)
    """

    q: np.ndarray
    s: float
    nu: float


def water_fill_arrays(t: np.ndarray, lo: np.ndarray, hi: np.ndarray, s0: float = 1.0) -> Fill:
    r"""T3 on validated arrays: the exact root of the piecewise-affine Φ, or the edge case.

    .. math:: q^*(x) = \mathrm{clip}(t(x)\,s, \ell(x), u(x)),\qquad
              \Phi(s) = \sum_x q^*(x) - 1 = 0.

    Safeguarded Newton in s = 1/ν from ``s0``. Φ is affine between the
    breakpoints next to s, so a Newton step that stays there lands on the exact
    root; a step that would leave that piece goes to the breakpoint instead
    (Φ keeps its sign up to there, so the bracket [sL, sR] with
    Φ(sL) < 0 < Φ(sR) shrinks). After a few breakpoint steps without landing,
    the next point is the geometric middle of the bracket.

    Probabilities down to 5e-324 can put the root beyond the float64 range (a
    point with t = 1e-323 that must receive mass 0.1 needs s = 1e322). The
    search then continues on t·2^k and s·2^-k: entries of t that overflow to
    +inf are exactly the points already clipped at u for every s in the
    rescaled range.

    Parameters
    ----------
    t : ndarray, shape (n,)
        The target distribution, with u(x) > 0 wherever t(x) > 0 (not checked).
    lo, hi : ndarray, shape (n,)
        The envelope ℓ ≤ u of the experts (Σ ℓ ≤ 1 ≤ Σ u).
    s0 : float, default 1.0
        Starting level; a previous root speeds up a sequence of nearby
        targets. Values outside (0, ∞) are replaced by 1.

    Returns
    -------
    Fill
        q*, its level s and ν = 1/s.

    Examples
    --------
    >>> import numpy as np
    >>> lo, hi = np.array([0.2, 0.2, 0.1]), np.array([0.6, 0.4, 0.5])
    >>> f = water_fill_arrays(np.array([0.5, 0.5, 0.0]), lo, hi)
    >>> f.q.round(4), round(f.s, 6)  # x = 1 clipped at u, x = 2 (t = 0) at ℓ
    (array([0.5, 0.4, 0.1]), 1.0)
    """
    top = _kernels.fill_pass(t, lo, hi, np.inf)[0]
    if top < 1.0 - _ROOT_TOL:
        return Fill(_edge_fill(t, lo, hi, top), np.inf, 0.0)
    shift = 0
    tt = t
    sL, sR = 0.0, np.inf
    s = s0 if 0.0 < s0 < np.inf else 1.0
    for it in range(_MAX_PASSES):
        tot, a_up, a_dn, left, right = _kernels.fill_pass(tt, lo, hi, s)
        phi = tot - 1.0
        if abs(phi) <= _ROOT_TOL:
            break
        if phi < 0.0:
            sL = s
            nxt = s - phi / a_up if a_up > 0.0 else np.inf
            if nxt <= right and nxt < _BIG:
                s = nxt
                break
            nxt = right
        else:
            sR = s
            nxt = s - phi / a_dn if a_dn > 0.0 else -np.inf
            if nxt >= left:
                s = nxt
                break
            nxt = left
        if sL >= _BIG:
            # The root lies beyond what s can represent: rescale t and s.
            k = int(np.floor(np.log2(sL)))
            shift += k
            with np.errstate(over="ignore"):
                tt = np.ldexp(t, shift)
            sL, sR = np.ldexp(sL, -k), np.ldexp(sR, -k)
            s = sL if sR == np.inf else np.sqrt(sL) * np.sqrt(sR)
            continue
        if it >= _BREAKPOINT_STEPS or not (sL < nxt < sR):
            if sR == np.inf:
                nxt = min(_BIG, max(nxt if np.isfinite(nxt) else 0.0, 16.0 * sL))
            elif sL == 0.0:
                nxt = sR / 16.0
            else:
                nxt = np.sqrt(sL) * np.sqrt(sR)
        s = nxt
    q = _kernels.fill_model(tt, lo, hi, s)
    with np.errstate(over="ignore"):
        s_true = float(np.ldexp(s, shift)) if shift else float(s)
    nu = float(np.ldexp(1.0 / s, -shift)) if s > 0 else np.inf
    return Fill(q, s_true, nu)


def _edge_fill(t: np.ndarray, lo: np.ndarray, hi: np.ndarray, top: float) -> np.ndarray:
    """No root (T3 edge case): q = u on supp t, and the missing mass 1 − top spread over
    {t = 0} in proportion to the room u − ℓ (deterministic, stays within [ℓ, u]).
    """
    off = t <= 0.0
    room = np.where(off, hi - lo, 0.0)
    q = np.where(off, lo, hi)
    q += (1.0 - top) * room / room.sum()
    return np.minimum(q, hi)


def to_envelope(q: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Restore Σq = 1 for a q with ℓ ≤ q ≤ u by moving the residual where there is room.

    The residual r = 1 − Σ_x q(x) is added in proportion to the room left in
    the envelope: to u − q when mass is missing, to q − ℓ when there is too
    much, so that the result stays within [ℓ, u] (T2). Used to repair rounding
    in convex combinations of water-filled models.

    Parameters
    ----------
    q : ndarray, shape (n,)
        A model with ℓ ≤ q ≤ u, close to summing to 1.
    lo, hi : ndarray, shape (n,)
        The envelope ℓ ≤ u.

    Returns
    -------
    ndarray, shape (n,)
        The corrected model, clipped to [ℓ, u].

    Examples
    --------
    >>> import numpy as np
    >>> to_envelope(np.array([0.3, 0.3, 0.3]), np.array([0.2, 0.3, 0.1]), np.array([0.6, 0.3, 0.5]))
    array([0.36, 0.3 , 0.34])
    """
    r = 1.0 - q.sum()
    room = hi - q if r > 0 else q - lo
    if r != 0 and room.sum() > 0:
        q = q + r * room / room.sum()
    return np.clip(q, lo, hi)
