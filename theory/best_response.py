r"""The two best-response maps of the robust game and their crossing (T4, Kakutani).

The game :math:`L(g,\lambda) = \sum_k \lambda_k L_k(p_g)` on G_1 × Λ has a saddle
point (T4). The proof goes through Kakutani's fixed-point theorem applied to
the best-response correspondence :math:`F(g,\lambda) = BR_G(\lambda) \times BR_\Lambda(g)`:

* :math:`BR_G(\lambda)` — the gates minimizing L(·, λ); their model is the
  water-filling q*_λ of T3 (:func:`best_response_gate`);
* :math:`BR_\Lambda(q)` — the mixtures maximizing λ ↦ Σ_k λ_k L_k(q), a face of Λ
  (:func:`best_response_mixture`).

For K = 2, :func:`best_response_curves` tabulates both maps on a grid of λ_1;
a fixed point (λ_1 inside its own response interval) is the saddle point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theory import _kernels
from theory._fill import water_fill_arrays
from theory.objectives import get as get_objective
from theory.validation import (
    check_distribution,
    check_feasible,
    check_int,
    check_mixtures,
    check_pair,
    check_positive,
    check_weights,
)

__all__ = [
    "BestResponseCurves",
    "best_response_gate",
    "best_response_mixture",
    "best_response_curves",
]


def best_response_gate(D, P, lam) -> np.ndarray:
    r"""BR_G(λ): the model of the gate best-responding to λ, i.e. T3's q*_λ (shape (n,))."""
    D, P = check_pair(D, P)
    lam = check_weights(lam, D.shape[0])
    check_feasible(D, P, active=lam > 0)
    return water_fill_arrays(_kernels.mixture(lam, D), P.min(axis=0), P.max(axis=0)).q


def _face(mixtures, L: np.ndarray, rtol: float) -> np.ndarray:
    """Extreme points of argmax_{λ∈Λ} λ·L along each coordinate, by the linear oracle.

    Perturbing L by ±ε e_k (ε relative to its scale) breaks ties towards the
    face's largest and smallest λ_k; for K = 2 the points found are exactly the
    two ends of the face.
    """
    K = L.shape[0]
    finite = np.where(np.isfinite(L), L, 0.0)
    eps = rtol * max(1.0, float(np.abs(finite).max()))
    top = mixtures.argmax_linear(L)[0]
    pts = []
    for k in range(K):
        for sign in (1.0, -1.0):
            v = np.asarray(mixtures.argmax_linear(L + sign * eps * np.eye(K)[k])[1], float)
            with np.errstate(invalid="ignore"):
                val = float(v[v > 0] @ L[v > 0])
            if val >= top - 2 * eps or top == np.inf:
                pts.append(v)
    return np.unique(np.round(np.array(pts), 12), axis=0)


def best_response_mixture(
    D, P, model, mixtures=None, objective="divergence", rtol: float = 1e-12
) -> np.ndarray:
    r"""BR_Λ(q): the face of Λ maximizing :math:`\lambda \mapsto \sum_k \lambda_k L_k(q)`.

    Returned as points of that face (an (m', K) array): its extreme points along
    each coordinate, found with Λ's linear oracle after breaking ties by
    ``rtol`` (a relative tolerance in [0, 1)). For K = 2 these are the two ends
    of the face, so the face is the interval [min, max] of their first
    coordinates.
    """
    D, P = check_pair(D, P)
    q = check_distribution(model, "model")
    if q.shape[0] != D.shape[1]:
        raise ValueError(f"model: expected length |X| = {D.shape[1]}, got {q.shape[0]}")
    mixtures = check_mixtures(mixtures, D.shape[0])
    rtol = check_positive(rtol, "rtol", allow_zero=True)
    if rtol >= 1:
        raise ValueError(f"rtol: expected a relative tolerance in [0, 1), got {rtol!r}")
    c = get_objective(objective).offsets(D, P)
    return _face(mixtures, _kernels.cross_entropy_rows(D, q) - c, rtol)


@dataclass(frozen=True)
class BestResponseCurves:
    r"""The two best-response maps of T4 for K = 2 on a grid of λ_1.

    For each grid value λ = (λ_1, 1 − λ_1) ∈ Λ: ``payoff_gap`` = L_1(q*_λ) − L_2(q*_λ)
    for the best-responding model q*_λ, and [``response_lo``, ``response_hi``] the
    λ_1-interval of BR_Λ(q*_λ). A fixed point (λ_1 ∈ its own response interval)
    is a saddle point; ``lam_star`` is λ*_1 from the robust solver.
    """

    lam1: np.ndarray
    payoff_gap: np.ndarray
    response_lo: np.ndarray
    response_hi: np.ndarray
    lam_star: float


def best_response_curves(
    D, P, mixtures=None, objective="divergence", num: int = 101
) -> BestResponseCurves:
    """Both best-response maps of the K = 2 game on ``num`` points of Λ (for plotting, T4)."""
    from theory.minimax import robust_gate

    D, P = check_pair(D, P)
    if D.shape[0] != 2:
        raise ValueError(f"D: the best-response curves need K = 2 domains, got K = {D.shape[0]}")
    num = check_int(num, "num", minimum=2)
    mixtures = check_mixtures(mixtures, 2)
    c = get_objective(objective).offsets(D, P)
    a = float(mixtures.argmax_linear(np.array([-1.0, 1.0]))[1][0])
    b = float(mixtures.argmax_linear(np.array([1.0, -1.0]))[1][0])
    grid = np.linspace(a, b, num)
    gaps, lo_r, hi_r = [], [], []
    for l1 in grid:
        q = best_response_gate(D, P, np.array([l1, 1.0 - l1]))
        L = _kernels.cross_entropy_rows(D, q) - c
        face = _face(mixtures, L, 1e-12)
        gaps.append(L[0] - L[1])
        lo_r.append(face[:, 0].min())
        hi_r.append(face[:, 0].max())
    res = robust_gate(D, P, mixtures, objective)
    return BestResponseCurves(
        grid, np.array(gaps), np.array(lo_r), np.array(hi_r), float(res.lam[0])
    )
