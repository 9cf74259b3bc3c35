r"""The fixed-mixture gate, the dual function and the exact robust gate (THEORY §3–5).

Per-domain loss of a model q ∈ M (THEORY §3): :math:`L_k(q) = \mathrm{CE}(D_k, q) - c_k`,
with the offsets c of the objective (:mod:`theory.objectives`). The game payoff
is :math:`L(g,\lambda) = \sum_k \lambda_k L_k(p_g)`.

* T3 — :func:`water_fill`, :func:`fixed_mixture`: for fixed λ the payoff is
  minimized by :math:`q^*(x) = \mathrm{clip}(t(x)/\nu, \ell(x), u(x))`, t = D_λ.
* T5 — :func:`dual_function`: :math:`d(\lambda) = \sum_k \lambda_k L_k(q^*_\lambda)`,
  concave, with supergradient :math:`(L_k(q^*_\lambda))_k`.
* T4/T6/T7 — :func:`robust_gate`: :math:`V^*(\Lambda) = \max_{\lambda\in\Lambda} d(\lambda)`,
  by certified Newton ascent over Λ (``theory._dual_newton``), with
  :math:`d(\lambda) \le V^* \le \max_{\lambda'\in\Lambda} \sum_k \lambda'_k L_k(q)` for
  every iterate; ``method="cvxpy"`` is the conic reference (``theory._conic``).
* T4 (Kakutani) — the best-response maps live in :mod:`theory.best_response`
  and are re-exported here.
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
    ν is found exactly (the equation is affine in 1/ν between consecutive breakpoints
    ℓ/t, u/t). Returns ``(q, nu)``; ``nu = 0`` marks the no-root edge case
    (Σ_{t>0} u + Σ_{t=0} ℓ < 1), where q = u on supp t and the remaining mass fills
    {t = 0} in proportion to u − ℓ. When several ν solve the equation (a flat
    piece) the one closest to 1 is reported, so perfect experts give ν = 1.
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
    r"""The offsets c of :math:`L_k(q) = \mathrm{CE}(D_k, q) - c_k` (THEORY §3).

    Shorthand for ``theory.objectives.get(objective).offsets(D, P)``.
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
    r"""The best gate for a fixed mixture λ (T3).

    ``model`` q*, ``gate`` a gate of G_1 representing it (T2), ``nu`` the water
    level (0 in the no-root edge case), ``value`` = Σ_k λ_k L_k(q*) = d(λ) in nats,
    ``per_domain`` = (L_k(q*))_k (may be +inf for a domain with λ_k = 0), ``lam``
    the mixture λ, ``labels`` the domain names (None: D_1 … D_K).

    The value is a closed form, so ``lower`` = ``upper`` = ``value``, ``gap`` = 0
    and ``converged`` is True. ``print(result)`` shows it with its per-domain losses.
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
        """The value itself: the closed form of T3 needs no certificate."""
        return self.value

    @property
    def upper(self) -> float:
        """The value itself: the closed form of T3 needs no certificate."""
        return self.value

    @property
    def converged(self) -> bool:
        """Always True: water-filling is exact (no iteration budget)."""
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

    q* does not depend on the objective (the offsets c are constant in q); the
    values do. For the divergence objective the value is JSD_λ(D) + KL(D_λ‖q*).
    ``labels`` names the domains in the printed result (default D_1 … D_K).
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

    d is concave on Δ_K and d(λ') ≤ d(λ) + s·(λ' − λ) for the returned s. A
    coordinate of s is +inf when λ_k = 0 and q*_λ vanishes somewhere on supp D_k
    (then d rises infinitely steeply in that direction).
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
    r"""The robust gate :math:`\min_{g\in G_1}\max_{\lambda\in\Lambda} L(g,\lambda)` (T4, T5).

    ``lower`` = d(``lam``) ≤ V* ≤ ``upper`` = max_{λ∈Λ} Σ_k λ_k L_k(``model``), both
    evaluated exactly from the returned pair. ``value`` is ``upper`` for the dual
    method (the worst-case payoff the returned gate actually achieves) and the conic
    solver's optimal value for ``cvxpy``. ``per_domain`` = (L_k(model))_k. Values
    are in nats. ``history`` holds the best (lower, upper) at the start and after
    every iteration; ``labels`` names the domains (None: D_1 … D_K).
    ``print(result)`` shows V*, its certificate, convergence, λ* and the losses.
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

    Λ (``mixtures``, default :class:`~theory.mixtures.Simplex`) is used only
    through its linear oracle ``argmax_linear`` (and, for ``cvxpy``, its conic
    description ``support_cone``). Raises ``ValueError`` when V* = ∞ (a domain
    that some λ ∈ Λ weights puts mass where every expert is 0). ``labels`` names
    the domains in the printed result (default D_1 … D_K).
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
