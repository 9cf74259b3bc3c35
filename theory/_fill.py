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


@dataclass(frozen=True)
class Fill:
    """A water-filled model ``q`` and its level ``s`` = 1/ν (+inf in the no-root edge case)."""

    q: np.ndarray
    s: float

    @property
    def nu(self) -> float:
        """The water level ν (0 marks the no-root edge case)."""
        return 0.0 if self.s == np.inf else 1.0 / self.s


def water_fill_arrays(t: np.ndarray, lo: np.ndarray, hi: np.ndarray, s0: float = 1.0) -> Fill:
    """T3 on validated arrays: the exact root of the piecewise-affine Φ, or the edge case.

    Safeguarded Newton in s = 1/ν from ``s0``: each step either lands inside the
    affine piece around the current point (then it is the exact root) or
    shrinks a bracket [sL, sR] with Φ(sL) < 0 < Φ(sR); flat pieces are crossed
    by jumping to their end breakpoint.
    """
    top = _kernels.fill_pass(t, lo, hi, np.inf)[0]
    if top < 1.0 - _ROOT_TOL:
        return Fill(_edge_fill(t, lo, hi, top), np.inf)
    sL, sR = 0.0, np.inf
    s = s0 if 0.0 < s0 < np.inf else 1.0
    for _ in range(300):
        tot, a_up, a_dn, left, right = _kernels.fill_pass(t, lo, hi, s)
        phi = tot - 1.0
        if abs(phi) <= _ROOT_TOL:
            break
        if phi < 0.0:
            sL = s
            nxt = s - phi / a_up if a_up > 0.0 else right
            if a_up > 0.0 and nxt <= right:
                s = nxt
                break
        else:
            sR = s
            nxt = s - phi / a_dn if a_dn > 0.0 else left
            if a_dn > 0.0 and nxt >= left:
                s = nxt
                break
        if not sL < nxt < sR:
            nxt = 4.0 * sL if sR == np.inf else (0.25 * sR if sL == 0.0 else np.sqrt(sL * sR))
        s = nxt
    return Fill(_kernels.fill_model(t, lo, hi, s), s)


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
