r"""The fixed-mixture gate, the dual function and the exact robust gate (T3–T7).

Notation. X is a finite set of n outcomes. The K domains D_1, …, D_K and the
K experts p_1, …, p_K are distributions on X, the rows of (K, n) arrays D and
P. A mixture λ ∈ Δ_K (weights λ_k ≥ 0 summing to 1) gives the mixed domain
D_λ = Σ_k λ_k D_k. The envelope of the experts is ℓ(x) = min_k p_k(x),
u(x) = max_k p_k(x), and M = {q ∈ Δ(X) : ℓ ≤ q ≤ u} is the set of models
that normalized gates g ∈ G_1 can produce (T2, :mod:`theory.gates`).

The per-domain loss of a model q is a cross-entropy minus the offset c_k of
the objective (:mod:`theory.objectives`; the default ``"divergence"`` has
c_k = H(D_k), so that L_k(q) = KL(D_k‖q)), and the payoff of the game weighs
the losses by λ:

    L_k(q) = CE(D_k, q) − c_k,    L(g, λ) = Σ_k λ_k L_k(p_g),

.. math:: L_k(q) = \mathrm{CE}(D_k, q) - c_k, \qquad
          L(g,\lambda) = \sum_k \lambda_k L_k(p_g).

The robust problem over a set Λ ⊆ Δ_K of admissible mixtures (prior
knowledge, :mod:`theory.mixtures`) is V*(Λ) = min_{g ∈ G_1} max_{λ ∈ Λ} L(g, λ).

* T3 — :func:`water_fill`, :func:`fixed_mixture`: for a fixed λ the payoff is
  minimized by q*(x) = clip(t(x)/ν, ℓ(x), u(x)) with t = D_λ and ν > 0 chosen
  so that q* sums to 1 ("water-filling").
* T4 — a saddle point (g*, λ*) exists when V* < ∞, so min-max = max-min; the
  best-response maps live in :mod:`theory.best_response` and are re-exported here.
* T5 — :func:`dual_function`: d(λ) = min_g L(g, λ) = Σ_k λ_k L_k(q*_λ) is
  concave, with supergradient (L_k(q*_λ))_k, and V*(Λ) = max_{λ ∈ Λ} d(λ).
* T6 — the maximizer λ* is the least-favorable mixture; on Λ = Δ_K the losses
  of the domains it weights are equal (equalizer), and with perfect experts
  V* is a channel capacity (:mod:`theory.capacity`).
* T7 — a smaller Λ (more prior knowledge) gives a smaller V*(Λ).
* :func:`robust_gate` computes V*(Λ) by certified Newton ascent on d over Λ,
  with d(λ) ≤ V* ≤ max_{λ' ∈ Λ} Σ_k λ'_k L_k(q) for every iterate (λ, q);
  ``method="cvxpy"`` is an independent conic reference.

.. math:: V^*(\Lambda) = \min_{g\in G_1}\max_{\lambda\in\Lambda} L(g,\lambda)
          = \max_{\lambda\in\Lambda} d(\lambda), \qquad
          d(\lambda) = \sum_k \lambda_k L_k(q^*_\lambda).

See the theory pages *Fixed mixture*, *Existence of a robust solution*,
*Prior knowledge* and *The least-favorable mixture* of the documentation (the
paper's §4.1–4.4 [1]_).

References
----------
.. [1] C. Cortes, M. Mohri and Y. Zhong, "A Theoretical Framework for Modular
   Learning of Robust Generative Models", arXiv:2602.17554, 2026, §4.1–4.4.

Examples
--------
>>> import numpy as np
>>> from theory.minimax import dual_function, robust_gate
>>> D = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
>>> P = np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
>>> result = robust_gate(D, P)
>>> round(result.value, 6), result.lam.round(4)  # V* and λ*
(0.236827, array([0.5047, 0.4953]))
>>> round(dual_function(D, P, result.lam)[0], 6)  # V* = d(λ*) (T5)
0.236827
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from theory import _kernels
from theory._conic import solve_conic
from theory._dual_newton import Cut, NewtonAscent
from theory._fill import to_envelope, water_fill_arrays
from theory.best_response import (
    BestResponseCurves,
    best_response_curves,
    best_response_gate,
    best_response_mixture,
)
from theory.gates import gate_for
from theory.objectives import get as get_objective
from theory.objectives import payoff
from theory.results import Bounded, Certified, Layout
from theory.validation import (
    _infeasible,
    _stack,
    check_choice,
    check_distribution,
    check_flag,
    check_int,
    check_labels,
    check_mixtures,
    check_positive,
    check_stack,
    check_weights,
)
from theory.validation import (
    _prepare as _prepare_arrays,
)

__all__ = [
    "FixedResult",
    "RobustResult",
    "objective_offsets",
    "water_fill",
    "fixed_mixture",
    "dual_function",
    "robust_gate",
    "best_response_gate",
    "best_response_mixture",
    "best_response_curves",
    "BestResponseCurves",
]

# Weight of the interior model mixed into a cut whose losses are infinite (T5 with
# λ_k = 0 and q = 0 on supp D_k): moves each finite loss by at most −log(1 − ε).
_INTERIOR_EPS = 1e-12

# On a face of the simplex the Hessian is taken at distance _FACE_ETA towards the
# first (interior) mixture.
_FACE_ETA = 1e-10

# A conic answer is accepted (converged=True) when its own certificate is at most
# this wide and its reported value lies inside it, up to the same slack.
_CONIC_TOL = 1e-6


# ---------------------------------------------------------------------------
# T3: water-filling
# ---------------------------------------------------------------------------


def water_fill(t, P) -> tuple[np.ndarray, float]:
    r"""The T3 water-filling model for a target distribution t (e.g. t = D_λ).

    .. math:: q^*(x) = \mathrm{clip}\bigl(t(x)/\nu,\ \ell(x),\ u(x)\bigr),\qquad
              \sum_x q^*(x) = 1,

    the unique minimizer of :math:`-\sum_x t(x)\log q(x)` over M = {ℓ ≤ q ≤ u, Σq = 1}.
    In words: q*(x) = clip(t(x)/ν, ℓ(x), u(x)), the target rescaled by 1/ν and
    clipped into the envelope, with ν the level at which it sums to 1. ν is
    found exactly (the equation is affine in 1/ν between consecutive breakpoints
    ℓ/t, u/t). ``nu = 0`` marks the no-root edge case
    (Σ_{t>0} u + Σ_{t=0} ℓ < 1), where q = u on supp t and the remaining mass fills
    {t = 0} in proportion to u − ℓ. When several ν solve the equation (a flat
    piece) the one closest to 1 is reported, so perfect experts give ν = 1.

    Parameters
    ----------
    t : array_like, shape (n,)
        The target distribution on X, e.g. the mixture D_λ.
    P : array_like, shape (K, n)
        The experts, one distribution per row; only their envelope ℓ, u is used.

    Returns
    -------
    q : ndarray, shape (n,)
        The water-filled model q*, a distribution with ℓ ≤ q* ≤ u.
    nu : float
        The water level ν > 0, or 0 in the no-root edge case.

    Raises
    ------
    ValueError
        If ``P`` is not a stack of distributions, ``t`` not a distribution of
        length n, or ``t`` puts mass where every expert is 0 (u(x) = 0, so no
        model of M can cover it).

    Examples
    --------
    >>> P = [[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]]
    >>> q, nu = water_fill([0.4, 0.25, 0.35], P)
    >>> q.round(4), round(nu, 6)  # x = 1 is clipped at u = ℓ = 0.3
    (array([0.3733, 0.3   , 0.3267]), 1.071429)
    """
    P, lo, hi = _experts_and_envelope(P)
    t = check_distribution(t, "t")
    if t.shape[0] != P.shape[1]:
        raise ValueError(f"t: expected length |X| = {P.shape[1]}, got {t.shape[0]}")
    if np.any((t > 0) & (hi == 0)):
        i = int(np.argmax((t > 0) & (hi == 0)))
        raise ValueError(f"t: puts mass at index {i} where every expert in P has probability 0")
    fill = water_fill_arrays(t, lo, hi)
    return fill.q, fill.nu


def objective_offsets(D, P, objective="divergence") -> np.ndarray:
    r"""The offsets c of the losses L_k(q) = CE(D_k, q) − c_k (setup of the game, T3–T7).

    .. math:: L_k(q) = \mathrm{CE}(D_k, q) - c_k.

    Shorthand for ``theory.objectives.get(objective).offsets(D, P)``: c_k = H(D_k)
    for ``"divergence"``, 0 for ``"cross_entropy"``, CE(D_k, p_k) for ``"regret"``.

    Parameters
    ----------
    D : array_like, shape (K, n)
        The domains, one distribution per row.
    P : array_like, shape (K, n)
        The experts, one distribution per row.
    objective : str, array_like of shape (K,) or Objective, default "divergence"
        A registered objective name, a custom offset vector, or an
        :class:`~theory.objectives.Objective`.

    Returns
    -------
    ndarray, shape (K,)
        The finite offsets c_k.

    Raises
    ------
    ValueError
        If ``D`` or ``P`` is not a stack of distributions of the same shape, or
        ``objective`` is not a known name or a valid offset vector.
    InfeasibleError
        If c would be infinite (``"regret"`` with KL(D_k‖p_k) = ∞).

    Examples
    --------
    >>> D = [[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]
    >>> P = [[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]]
    >>> objective_offsets(D, P).round(4)  # the entropies H(D_k)
    array([0.8018, 0.8979])
    """
    return get_objective(objective).offsets(D, P)


# ---------------------------------------------------------------------------
# The exact T3/T5 oracle
# ---------------------------------------------------------------------------


class _GateDual:
    """Exact evaluations of d(λ) (T3/T5) on validated arrays, with the water level warm-started.

    Losses of domains that no λ ∈ Λ can weight never enter the payoff; they are
    zeroed so that they cannot poison the subproblems.
    """

    def __init__(self, D, c, lo, hi, active=None):
        self.D, self.c = D, c
        self.K = D.shape[0]
        self.lo, self.hi = lo, hi
        self.active = np.ones(self.K, bool) if active is None else np.asarray(active, bool)
        self.s = 1.0
        self.interior: np.ndarray | None = None
        self.start: np.ndarray | None = None

    def best_model(self, lam, t=None) -> np.ndarray:
        t = _kernels.mixture(lam, self.D) if t is None else t
        fill = water_fill_arrays(t, self.lo, self.hi, self.s)
        if fill.s < np.inf:
            self.s = fill.s
        return fill.q

    def losses(self, q) -> np.ndarray:
        return np.where(self.active, _kernels.cross_entropy_rows(self.D, q) - self.c, 0.0)

    def _mixed(self, q) -> np.ndarray:
        return (1.0 - _INTERIOR_EPS) * q + _INTERIOR_EPS * self.interior

    def point(self, lam) -> Cut:
        """d(λ) and a finite cut.

        If λ_k = 0 and q*_λ vanishes somewhere on supp D_k, L_k(q*_λ) = ∞; the
        interior model (the first one evaluated, positive on every active
        support) is then mixed in with weight ε, which gives the finite cut
        λ'·L(q_ε) ≥ d(λ') that is tight at λ up to −log(1 − ε).
        """
        t = _kernels.mixture(lam, self.D)
        q = self.best_model(lam, t)
        g = self.losses(q)
        value = payoff(lam, g)
        mixed = not np.all(np.isfinite(g))
        model = q
        if not mixed and self.interior is None:
            self.interior, self.start = q, lam
        if mixed and self.interior is not None:
            model = self._mixed(q)
            g = self.losses(model)
        return Cut(lam, value, g, model=model, state=(t, q), token=mixed)

    def hessian(self, cut: Cut) -> np.ndarray:
        r"""Hessian of d on the clipping pattern of q = q*_λ (T5).

        On the free set F, q = t/ν with Σ_F t/ν = 1 − Σ_{x∉F} q fixed, so
        ∂L_k/∂λ_j = −Σ_F D_k D_j / t + a_k a_j / T, i.e. H = −A + a aᵀ/T, negative
        semidefinite by Cauchy–Schwarz; H = 0 when nothing is free.

        On a face λ_j = 0 of the simplex the curvature along e_j is Σ D_j² / t
        over points where t has no other mass, without bound (d behaves like
        −δ log δ in λ_j = δ): the exact Hessian there would forbid every step
        into j. On such a face, or when the curvature overflows, the Hessian is
        taken at the nearby interior point (1 − η)λ + η λ₀ (λ₀ the first,
        interior, mixture), whose curvature is finite; the trust region of the
        ascent absorbs the difference, and the exact Hessian takes over as soon
        as the weight is positive.
        """
        on = self.active
        t, q = cut.state
        H = self._hessian_at(t, q)
        if self.start is not None and (np.any(cut.lam[on] == 0.0) or not np.all(np.isfinite(H))):
            lam = (1.0 - _FACE_ETA) * cut.lam + _FACE_ETA * self.start
            t = _kernels.mixture(lam, self.D)
            H = self._hessian_at(t, self.best_model(lam, t))
        if not np.all(np.isfinite(H)):
            H = np.zeros_like(H)
        # Domains that Λ never weights have no say in the payoff.
        H[~on, :] = 0.0
        H[:, ~on] = 0.0
        return H

    def _hessian_at(self, t, q) -> np.ndarray:
        A, a, T = _kernels.gram(self.D, t, q, self.lo, self.hi)
        with np.errstate(over="ignore", invalid="ignore"):
            return -A + np.outer(a, a) / T if T > 0.0 else -A

    def combine(self, weights, cuts) -> tuple[np.ndarray, np.ndarray]:
        # Cuts keep only λ: their models are recomputed here, so memory stays O(n)
        # however many cuts are kept.
        combo = np.zeros(self.D.shape[1])
        for w, cut in zip(weights, cuts, strict=True):
            if w > 0:
                q = self.best_model(cut.lam)
                combo += w * (self._mixed(q) if cut.token else q)
        combo = to_envelope(np.clip(combo, self.lo, self.hi), self.lo, self.hi)
        return combo, self.losses(combo)


# ---------------------------------------------------------------------------
# T3 / T5 public entry points
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FixedResult(Bounded):
    r"""The best gate for a fixed mixture λ (T3), as returned by :func:`fixed_mixture`.

    The value is a closed form, so ``lower`` = ``upper`` = ``value``, ``gap`` = 0
    and ``converged`` is True. ``print(result)`` shows it with its per-domain losses.

    Parameters
    ----------
    model : ndarray, shape (n,)
        The water-filled model q*, a distribution in the envelope M.
    gate : ndarray, shape (K, n)
        A normalized gate g ∈ G_1 with p_g = q* (T2).
    nu : float
        The water level ν (0 in the no-root edge case).
    value : float
        d(λ) = Σ_k λ_k L_k(q*), in nats.
    per_domain : ndarray, shape (K,)
        The losses L_k(q*); +inf is possible for a domain with λ_k = 0.
    lam : ndarray, shape (K,), optional
        The mixture λ.
    labels : tuple of str, optional
        Domain names for printing (None: D_1 … D_K).

    Examples
    --------
    >>> r = fixed_mixture([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]],
    ...                   [[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]], [0.5, 0.5])
    >>> round(r.value, 6), r.gap, r.converged
    (0.23681, 0.0, True)
    """

    model: np.ndarray
    gate: np.ndarray
    nu: float
    value: float
    per_domain: np.ndarray
    lam: np.ndarray | None = None
    labels: tuple[str, ...] | None = None

    _layout: ClassVar[Layout] = Layout(
        "Best gate for a fixed mixture λ (T3, water-filling)",
        symbol="d(λ)",
        weights=(("lam", "λ"),),
        losses=(("per_domain", "L_k"),),
        facts=(("nu", "water level ν"),),
        exact=True,
    )

    @property
    def lower(self) -> float:
        """The value itself: the closed form of T3 needs no certificate.

        Examples
        --------
        >>> r = fixed_mixture([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]], [0.5, 0.5])
        >>> r.lower == r.value
        True
        """
        return self.value

    @property
    def upper(self) -> float:
        """The value itself: the closed form of T3 needs no certificate.

        Examples
        --------
        >>> r = fixed_mixture([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]], [0.5, 0.5])
        >>> r.upper == r.value
        True
        """
        return self.value

    @property
    def converged(self) -> bool:
        """Always True: water-filling is exact (no iteration budget).

        Examples
        --------
        >>> fixed_mixture([[1.0, 0.0]], [[1.0, 0.0]], [1.0]).converged
        True
        """
        return True


def _experts_and_envelope(P, K: int | None = None, n: int | None = None):
    """``check_stack(P, "P", K=K, n=n)`` and the envelope (ℓ, u) of P, reading P once."""
    arrays = _prepare_arrays((P, "P", 2))
    if arrays is None:
        P = check_stack(P, "P", K=K, n=n)
    else:
        P = arrays[0]
    lo, hi, scan = _kernels.envelope(P)
    return _stack(P, "P", scan, K=K, n=n), lo, hi


def _pair_and_envelope(D, P):
    """:func:`~theory.validation.check_pair` and the envelope (ℓ, u) of P, reading P once."""
    D = check_stack(D, "D")
    P, lo, hi = _experts_and_envelope(P, *D.shape)
    return D, P, lo, hi


def _prepare(D, P, lam, objective):
    D, P, lo, hi = _pair_and_envelope(D, P)
    lam = check_weights(lam, D.shape[0])
    obj = get_objective(objective)
    _infeasible(D, hi, active=lam > 0)
    return D, P, lam, obj.offsets(D, P), lo, hi


def fixed_mixture(D, P, lam, objective="divergence", *, labels=None) -> FixedResult:
    r"""The optimal gate for a fixed mixture λ (T3, "water-filling").

    .. math:: \min_{g\in G_1} \sum_k \lambda_k L_k(p_g)
              = \min_{q\in M} -\sum_x D_\lambda(x)\log q(x) - \lambda\cdot c,\qquad
              q^*(x) = \mathrm{clip}(D_\lambda(x)/\nu, \ell(x), u(x)).

    In words: mixing the domains with weights λ gives the target t = D_λ, and
    the best model in the envelope is t rescaled and clipped to [ℓ, u]
    (:func:`water_fill`). q* does not depend on the objective (the offsets c
    are constant in q); the values do. For the divergence objective the value
    is JSD_λ(D) + KL(D_λ‖q*) (T1). With perfect experts (P = D), q* = D_λ and
    the constant gate g ≡ λ is optimal.

    Parameters
    ----------
    D : array_like, shape (K, n)
        The domains, one distribution per row.
    P : array_like, shape (K, n)
        The experts, one distribution per row.
    lam : array_like, shape (K,)
        The mixture λ ∈ Δ_K.
    objective : str, array_like of shape (K,) or Objective, default "divergence"
        The objective, resolved by :func:`theory.objectives.get`.
    labels : sequence of str, optional
        Names of the K domains in the printed result (default D_1 … D_K).

    Returns
    -------
    FixedResult
        q*, a gate representing it, ν, d(λ) and the per-domain losses.

    Raises
    ------
    ValueError
        If ``D`` or ``P`` is not a stack of distributions of the same shape,
        ``lam`` not K weights on Δ_K, ``objective`` or ``labels`` invalid.
    InfeasibleError
        If a domain with λ_k > 0 puts mass where every expert is 0 (the value
        would be +∞); the message names the domain and one such x.

    Examples
    --------
    >>> D = [[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]
    >>> P = [[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]]
    >>> r = fixed_mixture(D, P, [0.5, 0.5])
    >>> r.model.round(4), round(r.value, 6)
    (array([0.3733, 0.3   , 0.3267]), 0.23681)
    """
    D, P, lam, c, lo, hi = _prepare(D, P, lam, objective)
    labels = check_labels(labels, D.shape[0])
    fill = water_fill_arrays(_kernels.mixture(lam, D), lo, hi)
    losses = _kernels.cross_entropy_rows(D, fill.q) - c
    return FixedResult(
        fill.q, gate_for(fill.q, P), fill.nu, payoff(lam, losses), losses, lam, labels
    )


def dual_function(D, P, lam, objective="divergence") -> tuple[float, np.ndarray]:
    r"""The dual function of the robust game and a supergradient (T5).

    .. math:: d(\lambda) = \min_{g\in G_1} L(g,\lambda) = \sum_k \lambda_k L_k(q^*_\lambda),
              \qquad \partial d(\lambda) \ni (L_1(q^*_\lambda), \dots, L_K(q^*_\lambda)).

    In words: d(λ) is the best payoff a gate can reach when the mixture λ is
    known (T3); it is concave, and the vector of per-domain losses of the best
    model is a supergradient (Danskin's theorem), so
    d(λ') ≤ d(λ) + s·(λ' − λ) for the returned s. A coordinate of s is +inf
    when λ_k = 0 and q*_λ vanishes somewhere on supp D_k (then d rises
    infinitely steeply in that direction). V*(Λ) = max_{λ ∈ Λ} d(λ), and any
    λ gives the certified lower bound d(λ) ≤ V*(Λ) when λ ∈ Λ.

    Parameters
    ----------
    D : array_like, shape (K, n)
        The domains, one distribution per row.
    P : array_like, shape (K, n)
        The experts, one distribution per row.
    lam : array_like, shape (K,)
        The mixture λ ∈ Δ_K.
    objective : str, array_like of shape (K,) or Objective, default "divergence"
        The objective, resolved by :func:`theory.objectives.get`.

    Returns
    -------
    value : float
        d(λ), in nats.
    supergradient : ndarray, shape (K,)
        (L_1(q*_λ), …, L_K(q*_λ)).

    Raises
    ------
    ValueError
        As :func:`fixed_mixture`.
    InfeasibleError
        As :func:`fixed_mixture`.

    Examples
    --------
    >>> D = [[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]
    >>> P = [[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]]
    >>> value, s = dual_function(D, P, [0.5, 0.5])
    >>> round(value, 6), s.round(4)
    (0.23681, array([0.2406, 0.2331]))
    """
    D, P, lam, c, lo, hi = _prepare(D, P, lam, objective)
    q = water_fill_arrays(_kernels.mixture(lam, D), lo, hi).q
    losses = _kernels.cross_entropy_rows(D, q) - c
    return payoff(lam, losses), losses


# ---------------------------------------------------------------------------
# T4 / T5 / T7: the robust gate
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RobustResult(Certified):
    r"""The robust gate min_{g ∈ G_1} max_{λ ∈ Λ} L(g, λ) (T4, T5), as returned by :func:`robust_gate`.

    .. math:: \text{lower} = d(\lambda) \le V^*(\Lambda) \le
              \text{upper} = \max_{\lambda'\in\Lambda} \sum_k \lambda'_k L_k(q),

    both evaluated exactly from the returned pair (q, λ) = (``model``, ``lam``).
    ``print(result)`` shows V*, its certificate, convergence, λ* and the losses.
    All values are in nats.

    Parameters
    ----------
    model : ndarray, shape (n,)
        The robust model q = p_g, a distribution in the envelope M.
    gate : ndarray, shape (K, n)
        A normalized gate g ∈ G_1 with p_g = ``model`` (T2).
    lam : ndarray, shape (K,)
        The least-favorable mixture found, λ* ∈ Λ (T6).
    value : float
        ``upper`` for the dual method (the worst-case payoff the returned gate
        actually achieves); the conic solver's optimal value for ``cvxpy``.
    lower, upper : float
        The certificate lower ≤ V* ≤ upper.
    per_domain : ndarray, shape (K,)
        The losses L_k(``model``).
    iterations : int
        Iterations of the solver.
    method : str
        ``"dual"`` or ``"cvxpy"``.
    objective : str
        The name of the objective.
    converged : bool
        Whether upper − lower reached the tolerance (``dual``), or the conic
        solver reported optimality consistent with the certificate (``cvxpy``).
    history : tuple of (float, float)
        The best (lower, upper) at the start and after every iteration.
    labels : tuple of str, optional
        Domain names for printing (None: D_1 … D_K).

    Examples
    --------
    >>> r = robust_gate([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]],
    ...                 [[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
    >>> r.lower <= r.value <= r.upper, r.gap <= 1e-9
    (True, True)
    """

    model: np.ndarray
    gate: np.ndarray
    lam: np.ndarray
    value: float
    lower: float
    upper: float
    per_domain: np.ndarray
    iterations: int
    method: str
    objective: str
    converged: bool
    history: tuple[tuple[float, float], ...]
    labels: tuple[str, ...] | None = None

    _layout: ClassVar[Layout] = Layout(
        "Robust gate (T4–T7)",
        symbol="V*",
        weights=(("lam", "λ*"),),
        losses=(("per_domain", "L_k"),),
        facts=(("method", "method"), ("objective", "objective")),
    )


def robust_gate(
    D,
    P,
    mixtures=None,
    objective="divergence",
    method: str = "dual",
    tol: float = 1e-9,
    max_iter: int = 500,
    progress: bool = False,
    *,
    labels=None,
) -> RobustResult:
    r"""The robust gate and the least-favorable mixture (T4, T5, T7).

    .. math:: V^*(\Lambda) = \min_{g\in G_1}\max_{\lambda\in\Lambda} \sum_k \lambda_k L_k(p_g)
              = \max_{\lambda\in\Lambda} d(\lambda).

    ``method="dual"`` maximizes the concave d (T5) over Λ by regularized projected
    Newton steps whose inner step is the exact water-filling of T3 (O(nK) per
    evaluation, O(nK²) per Hessian); it stops when the certified gap
    upper − lower ≤ ``tol``, or after ``max_iter`` iterations with
    ``converged=False`` and the bounds reached so far (never NaN).
    ``method="cvxpy"`` solves an independent exponential-cone formulation with
    Clarabel (small n); its answer is certified in the same way, and
    ``converged`` is true only if the conic solver reports optimality *and* its
    value agrees with that certificate.

    In words: the gate is chosen to minimize the worst-case payoff over the
    admissible mixtures Λ; by T4–T5 this equals maximizing the concave dual
    function d over Λ, a problem in only K variables whose inner step is the
    closed form of T3. The maximizer λ* is the least-favorable mixture (T6);
    on Λ = Δ_K the domains it weights all have the same loss V*. A smaller Λ
    gives a smaller V* (T7).

    Λ (``mixtures``, default :class:`~theory.mixtures.Simplex`) is used only
    through its linear oracle ``argmax_linear`` (and, for ``cvxpy``, its conic
    description ``support_cone``).

    Parameters
    ----------
    D : array_like, shape (K, n)
        The domains, one distribution per row.
    P : array_like, shape (K, n)
        The experts, one distribution per row.
    mixtures : Simplex, Box, L1Ball, Polytope, KLBall or L2Ball, optional
        The set Λ ⊆ Δ_K of admissible mixtures (default: all of Δ_K).
    objective : str, array_like of shape (K,) or Objective, default "divergence"
        The objective, resolved by :func:`theory.objectives.get`.
    method : {"dual", "cvxpy"}, default "dual"
        The solver.
    tol : float, default 1e-9
        Target width of the certificate upper − lower, in nats (> 0).
    max_iter : int, default 500
        Iteration budget of the dual method (≥ 1).
    progress : bool, default False
        Show a progress bar of the certified gap.
    labels : sequence of str, optional
        Names of the K domains in the printed result (default D_1 … D_K).

    Returns
    -------
    RobustResult
        The robust model and gate, λ*, V* with its certificate and the
        per-domain losses.

    Raises
    ------
    ValueError
        If ``D`` or ``P`` is not a stack of distributions of the same shape,
        ``mixtures`` is not a mixture set of dimension K, ``method`` is not
        ``"dual"`` or ``"cvxpy"``, ``tol`` is not positive, ``max_iter`` not a
        positive integer, ``progress`` not a bool, or ``objective`` or
        ``labels`` is invalid.
    InfeasibleError
        If V* = ∞: a domain that some λ ∈ Λ weights puts mass where every
        expert is 0 (the message names the domain and one such x).

    See Also
    --------
    fixed_mixture : the best gate when λ is known (T3).
    theory.capacity.blahut_arimoto : V*(Δ_K) with perfect experts (T6).

    Examples
    --------
    >>> from theory.mixtures import L1Ball
    >>> D = [[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]
    >>> P = [[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]]
    >>> r = robust_gate(D, P)
    >>> round(r.value, 6), r.per_domain.round(6)  # equal losses (T6)
    (0.236827, array([0.236827, 0.236827]))
    >>> near = robust_gate(D, P, L1Ball([0.9, 0.1], 0.2))  # prior knowledge (T7)
    >>> round(near.value, 6), near.lam.round(4)
    (0.166066, array([0.8, 0.2]))
    """
    D, P, lo, hi = _pair_and_envelope(D, P)
    K = D.shape[0]
    labels = check_labels(labels, K)
    mixtures = check_mixtures(mixtures, K)
    check_choice(method, "method", ("dual", "cvxpy"))
    tol = check_positive(tol, "tol")
    max_iter = check_int(max_iter, "max_iter")
    progress = check_flag(progress, "progress")
    active = mixtures.support()
    _infeasible(D, hi, active)
    obj = get_objective(objective)
    c = obj.offsets(D, P)
    oracle = _GateDual(D, c, lo, hi, active=active)
    del lo, hi

    if method == "dual":
        run = NewtonAscent(oracle, mixtures, tol, max_iter, progress, "robust gate").run()
        model, lam, lower, upper = run.model, run.lam, run.lower, run.upper
        if model is None:
            # Every candidate had an infinite loss: fall back on the interior model.
            model = oracle.interior
            upper = float(mixtures.argmax_linear(oracle.losses(model))[0])
        per_domain = _kernels.cross_entropy_rows(D, model) - c
        value, iters, converged = upper, run.iterations, run.converged
        history = tuple(run.history)
        del run
    else:
        ans = solve_conic(D, P, c, active=active, mixtures=mixtures)
        lam = ans.lam if ans.lam is not None else mixtures.center()
        lower = payoff(lam, oracle.losses(oracle.best_model(lam)))
        if np.all(np.isfinite(ans.model)):
            model = ans.model
        else:
            model = oracle.best_model(lam)
        per_domain = _kernels.cross_entropy_rows(D, model) - c
        L = np.where(active, per_domain, 0.0)
        upper = float(mixtures.argmax_linear(L)[0]) if np.all(np.isfinite(L)) else np.inf
        value = ans.value if np.isfinite(ans.value) else upper
        slack = _CONIC_TOL * max(1.0, abs(upper))
        converged = bool(
            ans.optimal
            and ans.lam is not None
            and upper - lower <= slack
            and lower - slack <= value <= upper + slack
        )
        iters, history = ans.iterations, ((lower, upper),)
    # The solver's O(n) state (envelope, cached models) goes before the K×n gate is made.
    del oracle
    return RobustResult(
        model=model,
        gate=gate_for(model, P),
        lam=lam,
        value=float(value),
        lower=float(lower),
        upper=float(upper),
        per_domain=per_domain,
        iterations=int(iters),
        method=method,
        objective=obj.name,
        converged=bool(converged),
        history=history,
        labels=labels,
    )
