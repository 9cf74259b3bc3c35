r"""Water-filling (T3) on validated arrays: the exact root of a piecewise-affine equation.

For a target t ∈ Δ(X) and the envelope ℓ ≤ u of the experts, the model

.. math:: q^*(x) = \mathrm{clip}\bigl(t(x)\,s,\ \ell(x),\ u(x)\bigr), \qquad s = 1/\nu,

sums to one for a unique ν on supp t; :math:`\Phi(s) = \sum_x \mathrm{clip}(t(x) s, \ell(x), u(x)) - 1`
is non-decreasing and affine between consecutive breakpoints ℓ(x)/t(x),
u(x)/t(x), so a Newton step that stays on its affine piece lands on the exact
root. The public entry points (:func:`theory.minimax.water_fill`,
:func:`theory.minimax.fixed_mixture`) validate and call :func:`water_fill_arrays`.
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
    """A water-filled model ``q``, its level ``s`` = 1/ν (+inf in the no-root edge
    case, or when 1/ν exceeds the float64 range) and the water level ``nu``."""

    q: np.ndarray
    s: float
    nu: float


def water_fill_arrays(t: np.ndarray, lo: np.ndarray, hi: np.ndarray, s0: float = 1.0) -> Fill:
    """T3 on validated arrays: the exact root of the piecewise-affine Φ, or the edge case.

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
    {t = 0} in proportion to the room u − ℓ (deterministic, stays within [ℓ, u])."""
    off = t <= 0.0
    room = np.where(off, hi - lo, 0.0)
    q = np.where(off, lo, hi)
    q += (1.0 - top) * room / room.sum()
    return np.minimum(q, hi)


def to_envelope(q: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Restore Σq = 1 for a q with ℓ ≤ q ≤ u by moving the residual where there is room."""
    r = 1.0 - q.sum()
    room = hi - q if r > 0 else q - lo
    if r != 0 and room.sum() > 0:
        q = q + r * room / room.sum()
    return np.clip(q, lo, hi)
