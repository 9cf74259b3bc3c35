r"""The two best-response maps of the robust game and their crossing (T4, Kakutani).

Notation. The K domains D_k and experts p_k are distributions on a finite set X
of n points (rows of (K, n) arrays ``D`` and ``P``). A gate g maps each x to
weights g(x) ∈ Δ_K and builds the model p_g(x) = Σ_k g_k(x) p_k(x); G_1 is the
set of gates whose model sums to 1. Λ ⊆ Δ_K is the set of mixtures λ the
adversary may choose (:mod:`theory.mixtures`), and L_k(q) = CE(D_k, q) − c_k
the loss of a model q on domain k (:mod:`theory.objectives`).

The game L(g, λ) = Σ_k λ_k L_k(p_g) on G_1 × Λ has a saddle point (T4): a pair
(g*, λ*) with L(g*, λ) ≤ L(g*, λ*) ≤ L(g, λ*) for all g and λ. The proof of
Cortes, Mohri & Zhong [1]_ goes through Kakutani's fixed-point theorem [2]_
applied to the best-response correspondence F(g, λ) = BR_G(λ) × BR_Λ(g):

.. math:: F(g,\lambda) = \mathrm{BR}_G(\lambda) \times \mathrm{BR}_\Lambda(g),

* BR_G(λ) — the gates minimizing L(·, λ); their model is the
  water-filling q*_λ of T3 (:func:`best_response_gate`);
* BR_Λ(q) — the mixtures maximizing λ ↦ Σ_k λ_k L_k(q), a face of Λ
  (:func:`best_response_mixture`).

For K = 2, :func:`best_response_curves` tabulates both maps on a grid of λ_1;
a fixed point (λ_1 inside its own response interval) is the saddle point. The
theory page §4.2 of the documentation draws them.

References
----------
.. [1] C. Cortes, M. Mohri and Y. Zhong, "A Theoretical Framework for Modular
   Learning of Robust Generative Models", arXiv:2602.17554, 2026, §4.2.
.. [2] S. Kakutani, "A generalization of Brouwer's fixed point theorem",
   Duke Mathematical Journal 8(3), 1941.
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
    r"""BR_G(λ): the model of the gate best-responding to λ, i.e. T3's q*_λ.

    q*_λ(x) = clip(D_λ(x)/ν, ℓ(x), u(x)), where D_λ = Σ_k λ_k D_k,
    ℓ(x) = min_k p_k(x), u(x) = max_k p_k(x) (the experts' envelope) and the
    water level ν > 0 makes q*_λ sum to 1:

    .. math:: q^*_\lambda(x) = \mathrm{clip}\big(D_\lambda(x)/\nu,\ \ell(x),\ u(x)\big),
              \qquad \sum_x q^*_\lambda(x) = 1.

    Every gate whose model is q*_λ minimizes L(·, λ), whatever the objective.

    Parameters
    ----------
    D : array_like, shape (K, n)
        The domains, one distribution per row.
    P : array_like, shape (K, n)
        The experts.
    lam : array_like, shape (K,)
        The mixture λ ∈ Δ_K.

    Returns
    -------
    ndarray, shape (n,)
        The model q*_λ.

    Raises
    ------
    ValueError
        If an input is malformed, or the λ-payoff is infinite for every gate (a
        domain with λ_k > 0 puts mass where every expert is 0).

    Examples
    --------
    >>> import numpy as np
    >>> D = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    >>> P = np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
    >>> best_response_gate(D, P, [0.5, 0.5]).round(4)
    array([0.3733, 0.3   , 0.3267])
    """
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
    r"""BR_Λ(q): the face of Λ maximizing λ ↦ Σ_k λ_k L_k(q).

    .. math:: \mathrm{BR}_\Lambda(q) = \arg\max_{\lambda\in\Lambda} \sum_k \lambda_k L_k(q).

    Returned as points of that face: its extreme points along each coordinate,
    found with Λ's linear oracle after breaking ties by ``rtol``. For K = 2
    these are the two ends of the face, so the face is the interval [min, max]
    of their first coordinates.

    Parameters
    ----------
    D : array_like, shape (K, n)
        The domains.
    P : array_like, shape (K, n)
        The experts (used by objectives whose offsets need them).
    model : array_like, shape (n,)
        The model q the mixture player responds to.
    mixtures : MixtureSet, optional
        Λ (default the simplex Δ_K).
    objective : str, Objective or array_like, shape (K,)
        The losses L_k (default ``"divergence"``: L_k(q) = KL(D_k‖q)).
    rtol : float, default 1e-12
        Relative tie-breaking perturbation, in [0, 1).

    Returns
    -------
    ndarray, shape (m', K)
        Points of the face, one per row, without repeats.

    Raises
    ------
    ValueError
        If an input is malformed, ``model`` has the wrong length, or ``rtol`` is
        not in [0, 1).

    Examples
    --------
    Against expert 1, the worst domain is the second one:

    >>> import numpy as np
    >>> D = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    >>> P = np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
    >>> best_response_mixture(D, P, P[0])
    array([[0., 1.]])
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

    Attributes
    ----------
    lam1 : ndarray, shape (num,)
        The grid of λ_1, from the smallest to the largest λ_1 of Λ.
    payoff_gap : ndarray, shape (num,)
        L_1(q*_λ) − L_2(q*_λ), in nats.
    response_lo, response_hi : ndarray, shape (num,)
        The ends of the λ_1-interval of BR_Λ(q*_λ).
    lam_star : float
        λ*_1 of the least-favorable mixture.
    """

    lam1: np.ndarray
    payoff_gap: np.ndarray
    response_lo: np.ndarray
    response_hi: np.ndarray
    lam_star: float


def best_response_curves(
    D, P, mixtures=None, objective="divergence", num: int = 101
) -> BestResponseCurves:
    """Both best-response maps of the K = 2 game on ``num`` points of Λ (for plotting, T4).

    For each λ on the grid, the gate player answers q*_λ (:func:`best_response_gate`)
    and the mixture player answers the face BR_Λ(q*_λ)
    (:func:`best_response_mixture`); the saddle point of T4 is where λ_1 lies in
    its own response interval.

    Parameters
    ----------
    D : array_like, shape (2, n)
        The two domains.
    P : array_like, shape (2, n)
        The two experts.
    mixtures : MixtureSet, optional
        Λ ⊆ Δ_2 (default the simplex).
    objective : str, Objective or array_like, shape (2,)
        The losses L_k (default ``"divergence"``).
    num : int, default 101
        The number of grid points, ≥ 2.

    Returns
    -------
    BestResponseCurves

    Raises
    ------
    ValueError
        If K ≠ 2, ``num`` < 2, or an input is malformed or infeasible.

    Examples
    --------
    >>> import numpy as np
    >>> D = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    >>> P = np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
    >>> curves = best_response_curves(D, P, num=5)
    >>> curves.lam1
    array([0.  , 0.25, 0.5 , 0.75, 1.  ])
    >>> curves.response_lo  # the mixture player answers λ_1 = 1, then λ_1 = 0
    array([1., 1., 1., 0., 0.])
    >>> round(curves.lam_star, 4)  # the crossing lies between 0.5 and 0.75
    0.5047
    """
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
