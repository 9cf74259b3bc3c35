r"""The fixed-mixture gate, the dual function and the exact robust gate (THEORY §3–5).

Per-domain loss of a model q ∈ M (THEORY §3): :math:`L_k(q) = \mathrm{CE}(D_k, q) - c_k`,
with the offsets c chosen by the objective (``"divergence"``: c_k = H(D_k);
``"cross_entropy"``: c_k = 0; ``"regret"``: c_k = CE(D_k, p_k); or an explicit
vector). The game payoff is :math:`L(g,\lambda) = \sum_k \lambda_k L_k(p_g)`.

* T3 — :func:`fixed_mixture`: for fixed λ the payoff is minimized by the
  water-filling model :math:`q^*(x) = \mathrm{clip}(t(x)/\nu, \ell(x), u(x))`, t = D_λ.
* T5 — :func:`dual_function`: :math:`d(\lambda) = \sum_k \lambda_k L_k(q^*_\lambda)`,
  concave, with supergradient :math:`(L_k(q^*_\lambda))_k`.
* T4/T7 — :func:`robust_gate`: :math:`V^*(\Lambda) = \max_{\lambda\in\Lambda} d(\lambda)`,
  maximized by a level bundle method over the K-dimensional set Λ, with certified
  bounds :math:`d(\lambda) \le V^* \le \max_{\lambda'\in\Lambda} \sum_k \lambda'_k L_k(q)` for
  every iterate; ``method="cvxpy"`` is the exponential-cone reference.
* T4 (Kakutani) — :func:`best_response_gate`, :func:`best_response_mixture` and
  :func:`best_response_curves` (the two best-response maps for K = 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from scipy.optimize import linprog
from tqdm.auto import tqdm

from theory._validation import (
    check_choice,
    check_feasible,
    check_int,
    check_pair,
    check_positive,
    check_weights,
)
from theory.divergences import _cross_entropy_rows, _entropy_rows, _mixture
from theory.gates import gate_for
from theory.mixtures import MixtureSet, Simplex

__all__ = [
    "FixedResult",
    "RobustResult",
    "BestResponseCurves",
    "objective_offsets",
    "water_fill",
    "fixed_mixture",
    "dual_function",
    "robust_gate",
    "best_response_gate",
    "best_response_mixture",
    "best_response_curves",
]

OBJECTIVES = ("divergence", "cross_entropy", "regret")

_JIT = dict(cache=True, error_model="numpy", nogil=True)
_CHUNKS = 64

# |Σ q − 1| below which a water level is accepted as the root of φ: a few
# hundred ulps of the sum, far below the 1e-9 tolerance of the distribution checks.
_ROOT_TOL = 1e-14

# Weight of the interior model mixed into a cut whose losses are infinite (T5 with
# λ_k = 0 and q = 0 on supp D_k): moves each finite loss by at most −log(1 − ε).
_INTERIOR_EPS = 1e-12


# ---------------------------------------------------------------------------
# T3: water-filling
# ---------------------------------------------------------------------------


@numba.njit(parallel=True, **_JIT)
def _fill_pass(t, lo, hi, s):
    """One pass of Φ(s) + 1 = Σ_x clip(t(x)·s, ℓ(x), u(x)) (s = 1/ν, s may be +inf).

    Also returns the right and left slopes of Φ at s (sum of t over the points
    that are free just right / just left of s) and the nearest breakpoints
    ℓ/t, u/t strictly right and left of s: on [left, right] Φ is affine on each
    side of s, so a Newton step that stays there lands on the exact root.
    """
    n = t.shape[0]
    step = (n + _CHUNKS - 1) // _CHUNKS
    tot = np.zeros(_CHUNKS)
    up = np.zeros(_CHUNKS)
    dn = np.zeros(_CHUNKS)
    rgt = np.full(_CHUNKS, np.inf)
    lft = np.zeros(_CHUNKS)
    for c in numba.prange(_CHUNKS):
        a0 = min(n, c * step)
        a1 = min(n, a0 + step)
        st = 0.0
        su = 0.0
        sd = 0.0
        r = np.inf
        lf = 0.0
        for i in range(a0, a1):
            ti = t[i]
            li = lo[i]
            if ti <= 0.0:
                st += li
                continue
            hv = hi[i]
            a = li / ti
            b = hv / ti
            v = min(max(ti * s, li), hv)
            st += v
            if a <= s < b:
                su += ti
            if a < s <= b:
                sd += ti
            if a > s:
                r = min(r, a)
            elif a < s:
                lf = max(lf, a)
            if b > s:
                r = min(r, b)
            elif b < s:
                lf = max(lf, b)
        tot[c] = st
        up[c] = su
        dn[c] = sd
        rgt[c] = r
        lft[c] = lf
    return tot.sum(), up.sum(), dn.sum(), lft.max(), rgt.min()


@dataclass(frozen=True)
class _Fill:
    q: np.ndarray
    s: float  # 1/ν; +inf in the no-root case


def _water_fill(t: np.ndarray, lo: np.ndarray, hi: np.ndarray, s0: float = 1.0) -> _Fill:
    """T3 on validated arrays: the exact root of the piecewise-affine Φ, or the edge case.

    Safeguarded Newton in s = 1/ν: each step either lands inside the affine piece
    around the current point (then it is the exact root) or shrinks a bracket
    [sL, sR] with Φ(sL) < 0 < Φ(sR); flat pieces are crossed by jumping to their
    end breakpoint.
    """
    top = _fill_pass(t, lo, hi, np.inf)[0]
    if top < 1.0 - _ROOT_TOL:
        return _Fill(_edge_fill(t, lo, hi, top), np.inf)
    sL, sR = 0.0, np.inf
    s = s0 if 0.0 < s0 < np.inf else 1.0
    for _ in range(300):
        tot, a_up, a_dn, left, right = _fill_pass(t, lo, hi, s)
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
    return _Fill(np.clip(t * s, lo, hi), s)


def _edge_fill(t: np.ndarray, lo: np.ndarray, hi: np.ndarray, top: float) -> np.ndarray:
    """No root (T3 edge case): q = u on supp t, and the missing mass 1 − top spread over
    {t = 0} in proportion to the room u − ℓ (deterministic, stays within [ℓ, u])."""
    off = t <= 0.0
    room = np.where(off, hi - lo, 0.0)
    q = np.where(off, lo, hi)
    q += (1.0 - top) * room / room.sum()
    return np.minimum(q, hi)


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
    from theory._validation import check_distribution, check_stack

    P = check_stack(P, "P")
    t = check_distribution(t, "t")
    if t.shape[0] != P.shape[1]:
        raise ValueError(f"t: expected length |X| = {P.shape[1]}, got {t.shape[0]}")
    lo, hi = P.min(axis=0), P.max(axis=0)
    if np.any((t > 0) & (hi == 0)):
        i = int(np.argmax((t > 0) & (hi == 0)))
        raise ValueError(f"t: puts mass at index {i} where every expert in P has probability 0")
    fill = _water_fill(t, lo, hi)
    return fill.q, _nu(fill.s)


def _nu(s: float) -> float:
    return 0.0 if s == np.inf else 1.0 / s


# ---------------------------------------------------------------------------
# Objectives and per-domain losses
# ---------------------------------------------------------------------------


def objective_offsets(D, P, objective="divergence") -> np.ndarray:
    r"""The offsets c of :math:`L_k(q) = \mathrm{CE}(D_k, q) - c_k` (THEORY §3).

    ``"divergence"``: c_k = H(D_k) (L_k = KL(D_k‖q)); ``"cross_entropy"``: c_k = 0;
    ``"regret"``: c_k = CE(D_k, p_k) (L_k = KL(D_k‖q) − KL(D_k‖p_k)); an array of
    length K is used as c itself.
    """
    D, P = check_pair(D, P)
    return _offsets(D, P, objective)[0]


def _offsets(D: np.ndarray, P: np.ndarray, objective) -> tuple[np.ndarray, str]:
    K = D.shape[0]
    if not isinstance(objective, str):
        c = np.asarray(objective, dtype=np.float64)
        if c.shape != (K,) or not np.all(np.isfinite(c)):
            raise ValueError(
                f"objective: expected one of {list(OBJECTIVES)} or a finite offset vector of "
                f"length K = {K}, got {np.asarray(objective).shape!r}"
            )
        return c, "custom"
    check_choice(objective, "objective", OBJECTIVES)
    if objective == "cross_entropy":
        return np.zeros(K), objective
    if objective == "divergence":
        return _entropy_rows(D), objective
    bad = (D > 0) & (P == 0)
    if bad.any():
        k, i = (int(v) for v in np.argwhere(bad)[0])
        raise ValueError(
            f"objective: 'regret' needs KL(D_k‖p_k) < ∞, but domain {k} puts mass at index {i} "
            f"where its own expert p_{k} is 0"
        )
    return np.array([_cross_entropy_rows(D[k : k + 1], P[k])[0] for k in range(K)]), objective


def _losses(D: np.ndarray, q: np.ndarray, c: np.ndarray) -> np.ndarray:
    """(L_k(q))_k = CE(D_k, q) − c_k; +inf where D_k puts mass on a zero of q."""
    with np.errstate(divide="ignore"):
        return _cross_entropy_rows(D, q) - c


def _payoff(lam: np.ndarray, losses: np.ndarray) -> float:
    """Σ_k λ_k L_k over λ_k > 0 (a domain with zero weight contributes 0, even if L_k = ∞)."""
    on = lam > 0
    return float(lam[on] @ losses[on])


# ---------------------------------------------------------------------------
# T3 / T5 public entry points
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FixedResult:
    r"""The best gate for a fixed mixture λ (T3).

    ``model`` q*, ``gate`` a gate of G_1 representing it (T2), ``nu`` the water
    level (0 in the no-root edge case), ``value`` = Σ_k λ_k L_k(q*) = d(λ),
    ``per_domain`` = (L_k(q*))_k (may be +inf for a domain with λ_k = 0).
    """

    model: np.ndarray
    gate: np.ndarray
    nu: float
    value: float
    per_domain: np.ndarray


def _prepare(D, P, lam):
    D, P = check_pair(D, P)
    lam = check_weights(lam, D.shape[0])
    check_feasible(D, P, active=lam > 0)
    return D, P, lam


def fixed_mixture(D, P, lam, objective="divergence") -> FixedResult:
    r"""The optimal gate for a fixed mixture λ (T3, "water-filling").

    .. math:: \min_{g\in G_1} \sum_k \lambda_k L_k(p_g)
              = \min_{q\in M} -\sum_x D_\lambda(x)\log q(x) - \lambda\cdot c,\qquad
              q^*(x) = \mathrm{clip}(D_\lambda(x)/\nu, \ell(x), u(x)).

    q* does not depend on the objective (the offsets c are constant in q); the
    values do. For the divergence objective the value is JSD_λ(D) + KL(D_λ‖q*).
    """
    D, P, lam = _prepare(D, P, lam)
    c, _ = _offsets(D, P, objective)
    lo, hi = P.min(axis=0), P.max(axis=0)
    fill = _water_fill(_mixture(lam, D), lo, hi)
    losses = _losses(D, fill.q, c)
    return FixedResult(fill.q, gate_for(fill.q, P), _nu(fill.s), _payoff(lam, losses), losses)


def dual_function(D, P, lam, objective="divergence") -> tuple[float, np.ndarray]:
    r"""The dual function of the robust game and a supergradient (T5).

    .. math:: d(\lambda) = \min_{g\in G_1} L(g,\lambda) = \sum_k \lambda_k L_k(q^*_\lambda),
              \qquad \partial d(\lambda) \ni (L_1(q^*_\lambda), \dots, L_K(q^*_\lambda)).

    d is concave on Δ_K and d(λ') ≤ d(λ) + s·(λ' − λ) for the returned s. A
    coordinate of s is +inf when λ_k = 0 and q*_λ vanishes somewhere on supp D_k
    (then d rises infinitely steeply in that direction).
    """
    D, P, lam = _prepare(D, P, lam)
    c, _ = _offsets(D, P, objective)
    lo, hi = P.min(axis=0), P.max(axis=0)
    losses = _losses(D, _water_fill(_mixture(lam, D), lo, hi).q, c)
    return _payoff(lam, losses), losses


# ---------------------------------------------------------------------------
# T4 / T5 / T7: the robust gate
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RobustResult:
    r"""The robust gate :math:`\min_{g\in G_1}\max_{\lambda\in\Lambda} L(g,\lambda)` (T4, T5).

    ``lower`` = d(``lam``) ≤ V* ≤ ``upper`` = max_{λ∈Λ} Σ_k λ_k L_k(``model``), both
    evaluated exactly from the returned pair. ``value`` is ``upper`` for the dual
    method (the worst-case payoff the returned gate actually achieves) and the conic
    solver's optimal value for ``cvxpy``. ``per_domain`` = (L_k(model))_k.
    ``history`` holds the best (lower, upper) after every iteration.
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

    @property
    def gap(self) -> float:
        """The certified gap upper − lower."""
        return self.upper - self.lower


class _Oracle:
    """Exact T3/T5 evaluations on validated arrays, with the water level warm-started."""

    def __init__(self, D, P, c):
        self.D, self.c = D, c
        self.lo, self.hi = P.min(axis=0), P.max(axis=0)
        self.s = 1.0

    def best_model(self, lam):
        fill = _water_fill(_mixture(lam, self.D), self.lo, self.hi, self.s)
        if fill.s < np.inf:
            self.s = fill.s
        return fill.q

    def losses(self, q):
        return _losses(self.D, q, self.c)


def _vertex_matrix(mixtures: MixtureSet) -> np.ndarray:
    V = np.asarray(mixtures.vertices(), dtype=np.float64)
    V = np.clip(V, 0.0, None)
    return V / V.sum(axis=1, keepdims=True)


def _lp(c, A_ub, b_ub, m, extra_bounds):
    A_eq = np.zeros((1, len(c)))
    A_eq[0, :m] = 1.0
    return linprog(
        c,
        A_ub=A_ub,
        b_ub=b_ub,
        A_eq=A_eq,
        b_eq=[1.0],
        bounds=[(0, None)] * m + extra_bounds,
        method="highs",
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )


def _model_max(V, G):
    """Cutting-plane model max_{λ∈Λ} min_j λ·G_j over λ = Vᵀw, w ∈ Δ_m.

    Returns (value, λ, μ) with μ the cut multipliers (a point of Δ_J): by LP
    duality the model value equals max_λ λ·(Σ_j μ_j G_j).
    """
    m = V.shape[0]
    A = np.hstack([-(G @ V.T), np.ones((G.shape[0], 1))])
    res = _lp(np.r_[np.zeros(m), -1.0], A, np.zeros(G.shape[0]), m, [(None, None)])
    if res.status != 0:
        return None
    mu = np.clip(-res.ineqlin.marginals, 0.0, None)
    w = np.clip(res.x[:m], 0.0, None)
    return -res.fun, (w / w.sum()) @ V, mu / mu.sum() if mu.sum() > 0 else None


def _level_projection(V, G, level, center):
    """The Euclidean projection of ``center`` onto {λ ∈ Λ : λ·G_j ≥ level ∀j} (a QP in w).

    Solved by Clarabel over the vertex weights w ∈ Δ_m (λ = Vᵀw); the QP only
    proposes the next trial point, so its accuracy does not enter the certificates.
    """
    import clarabel
    from scipy import sparse

    m = V.shape[0]
    J = G.shape[0]
    Q = sparse.csc_matrix(np.triu(V @ V.T))
    A = sparse.csc_matrix(np.vstack([np.ones((1, m)), -np.eye(m), -(G @ V.T)]))
    b = np.r_[1.0, np.zeros(m), np.full(J, -level)]
    cones = [clarabel.ZeroConeT(1), clarabel.NonnegativeConeT(m + J)]
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = 1e-12
    sol = clarabel.DefaultSolver(Q, -(V @ center), A, b, cones, settings).solve()
    w = np.clip(np.asarray(sol.x), 0.0, None)
    if not np.all(np.isfinite(w)) or w.sum() <= 0:
        return None
    return (w / w.sum()) @ V


def _dual_solve(D, P, c, mixtures, tol, max_iter, progress):
    """Level bundle method on max_Λ d (T5) with certified primal candidates.

    Cuts are models q_j ∈ M: d(λ) ≤ λ·L(q_j) for every λ (d is a minimum of such
    linear functions). The model LP gives multipliers μ; the combined model
    Σ_j μ_j q_j ∈ M is a primal candidate whose exact worst-case payoff is an
    upper bound that converges to V*. The next λ is the ∞-norm projection of the
    best λ onto a level set of the cutting-plane model (Lemaréchal–Nemirovskii–
    Nesterov), which keeps the iterates stable where plain cutting planes zig-zag.
    """
    oracle = _Oracle(D, P, c)
    V = _vertex_matrix(mixtures)
    # Domains no λ ∈ Λ can weight never enter the payoff; their (possibly
    # infinite) losses are zeroed so that they cannot poison the LPs.
    active = V.max(axis=0) > 0
    cap = D.shape[0] + 3
    cuts_q: list[np.ndarray] = []
    cuts_g: list[np.ndarray] = []
    best = {"lower": -np.inf, "lam": None, "upper": np.inf, "q": None, "g": None}

    def losses(q):
        return np.where(active, oracle.losses(q), 0.0)

    def offer_primal(q, g):
        if np.all(np.isfinite(g)):
            up = mixtures.argmax_linear(g)[0]
            if up < best["upper"]:
                best.update(upper=up, q=q, g=g)

    def evaluate(lam):
        q = oracle.best_model(lam)
        g = losses(q)
        low = _payoff(lam, g)
        if low > best["lower"]:
            best.update(lower=low, lam=lam)
        if not np.all(np.isfinite(g)):
            # λ_k = 0 and q*_λ = 0 somewhere on supp D_k: mixing in the interior model
            # gives a finite cut that is tight at λ up to −log(1 − ε).
            q = (1.0 - _INTERIOR_EPS) * q + _INTERIOR_EPS * interior
            g = losses(q)
        cuts_q.append(q)
        cuts_g.append(g)
        offer_primal(q, g)
        return q

    # At the barycenter of the vertices every active domain has positive weight, so
    # its model is positive on every active support and all its losses are finite.
    interior = evaluate(V.mean(axis=0))
    history = []
    bar = tqdm(total=max_iter, desc="robust gate", disable=not progress, leave=False)
    it = 0
    while it < max_iter:
        it += 1
        bar.update(1)
        shift = best["lower"]
        G = np.array(cuts_g) - shift
        sol = _model_max(V, G)
        if sol is None:
            break
        f_up, lam_lp, mu = sol
        f_up += shift
        if mu is not None:
            combo = np.zeros_like(cuts_q[0])
            for w, q in zip(mu, cuts_q, strict=True):
                if w > 0:
                    combo += w * q
            combo = _to_envelope(
                np.clip(combo / combo.sum(), oracle.lo, oracle.hi), oracle.lo, oracle.hi
            )
            g = losses(combo)
            offer_primal(combo, g)
            if len(cuts_q) >= cap:
                keep = [j for j in range(len(cuts_q)) if mu[j] > 1e-12]
                keep = keep[-(cap - 2) :]
                cuts_q[:] = [cuts_q[j] for j in keep]
                cuts_g[:] = [cuts_g[j] for j in keep]
            if np.all(np.isfinite(g)):
                cuts_q.append(combo)
                cuts_g.append(g)
        history.append((best["lower"], best["upper"]))
        if best["upper"] - best["lower"] <= tol:
            break
        if it == max_iter:
            break
        top = min(f_up, best["upper"])
        level = top - 0.3 * (top - best["lower"])
        lam = _level_projection(V, np.array(cuts_g) - shift, level - shift, best["lam"])
        evaluate(lam_lp if lam is None else lam)
        while len(cuts_q) > cap:
            cuts_q.pop(0)
            cuts_g.pop(0)
    bar.close()
    if best["q"] is None:
        # Every candidate so far had an infinite loss: fall back on the interior model.
        g = losses(interior)
        best.update(q=interior, g=g, upper=mixtures.argmax_linear(g)[0])
    converged = bool(best["upper"] - best["lower"] <= tol)
    return best, it, tuple(history), converged


def _cvxpy_solve(D, P, c, mixtures):
    """The reference conic formulation (exponential cone, Clarabel).

    min s  s.t.  Σ_k v_k (CE(D_k, q) − c_k) ≤ s for every vertex v of Λ,
    ℓ ≤ q ≤ u, Σq = 1, with CE linearized through y ≤ log q (one exponential
    cone per x). λ* is read from the multipliers of the vertex constraints.
    """
    import cvxpy as cp

    V = _vertex_matrix(mixtures)
    lo, hi = P.min(axis=0), P.max(axis=0)
    S = np.flatnonzero(hi > 0)
    T = V @ D
    q = cp.Variable(len(S))
    y = cp.Variable(len(S))
    s = cp.Variable()
    vertex_cons = [-(T[j, S] @ y) - V[j] @ c <= s for j in range(V.shape[0])]
    cons = [y <= cp.log(q), q >= lo[S], q <= hi[S], cp.sum(q) == 1, *vertex_cons]
    prob = cp.Problem(cp.Minimize(s), cons)
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    if prob.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        raise ValueError(f"method: the conic solver failed on this instance ({prob.status})")
    mu = np.clip(np.array([float(cn.dual_value) for cn in vertex_cons]), 0.0, None)
    lam = (mu / mu.sum()) @ V if mu.sum() > 0 else mixtures.center()
    lam = np.clip(lam, 0.0, None)
    lam /= lam.sum()
    model = np.zeros(D.shape[1])
    model[S] = np.clip(q.value, lo[S], hi[S])
    model = _to_envelope(model, lo, hi)
    iters = int(getattr(prob.solver_stats, "num_iters", 0) or 0)
    return model, lam, float(prob.value), iters, prob.status == cp.OPTIMAL


def _to_envelope(q: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Restore Σq = 1 for a q with ℓ ≤ q ≤ u by moving the residual where there is room."""
    r = 1.0 - q.sum()
    room = hi - q if r > 0 else q - lo
    if r != 0 and room.sum() > 0:
        q = q + r * room / room.sum()
    return np.clip(q, lo, hi)


def robust_gate(
    D,
    P,
    mixtures: MixtureSet | None = None,
    objective="divergence",
    method: str = "dual",
    tol: float = 1e-9,
    max_iter: int = 500,
    progress: bool = False,
) -> RobustResult:
    r"""The robust gate and the least-favorable mixture (T4, T5, T7).

    .. math:: V^*(\Lambda) = \min_{g\in G_1}\max_{\lambda\in\Lambda} \sum_k \lambda_k L_k(p_g)
              = \max_{\lambda\in\Lambda} d(\lambda).

    ``method="dual"`` maximizes the concave d (T5) over Λ by a level bundle method
    whose inner step is the exact water-filling of T3 (O(nK) per step); it stops
    when the certified gap upper − lower ≤ ``tol``, or after ``max_iter``
    iterations with ``converged=False`` and the bounds reached so far.
    ``method="cvxpy"`` solves the exponential-cone formulation with Clarabel
    (small n); its bounds are computed from its (q, λ) in the same way and
    ``converged`` reports the conic solver's status.

    Λ (``mixtures``, default :class:`~theory.mixtures.Simplex`) is used only through
    ``vertices`` and ``argmax_linear``. Raises ``ValueError`` when V* = ∞ (a domain
    that some λ ∈ Λ weights puts mass where every expert is 0).
    """
    D, P = check_pair(D, P)
    K = D.shape[0]
    if mixtures is None:
        mixtures = Simplex(K)
    if not isinstance(mixtures, MixtureSet):
        raise ValueError(f"mixtures: expected a MixtureSet (Simplex, Box, ...), got {mixtures!r}")
    if mixtures.K != K:
        raise ValueError(f"mixtures: Λ lives in Δ_{mixtures.K}, but D has K = {K} rows")
    check_choice(method, "method", ("dual", "cvxpy"))
    tol = check_positive(tol, "tol")
    max_iter = check_int(max_iter, "max_iter")
    check_feasible(D, P, active=mixtures.support())
    c, name = _offsets(D, P, objective)

    if method == "dual":
        best, iters, history, converged = _dual_solve(D, P, c, mixtures, tol, max_iter, progress)
        model, lam, lower, upper = best["q"], best["lam"], best["lower"], best["upper"]
        per_domain, value = _losses(D, model, c), upper
        del best
    else:
        model, lam, value, iters, converged = _cvxpy_solve(D, P, c, mixtures)
        oracle = _Oracle(D, P, c)
        lower = _payoff(lam, oracle.losses(oracle.best_model(lam)))
        per_domain = oracle.losses(model)
        upper = mixtures.argmax_linear(per_domain)[0] if np.all(np.isfinite(per_domain)) else np.inf
        history = ((lower, upper),)
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
        objective=name,
        converged=bool(converged),
        history=history,
    )


# ---------------------------------------------------------------------------
# T4: best-response maps (Kakutani)
# ---------------------------------------------------------------------------


def best_response_gate(D, P, lam) -> np.ndarray:
    r"""BR_G(λ): the model of the gate best-responding to λ, i.e. T3's q*_λ (shape (n,))."""
    D, P, lam = _prepare(D, P, lam)
    return _water_fill(_mixture(lam, D), P.min(axis=0), P.max(axis=0)).q


def best_response_mixture(
    D, P, model, mixtures: MixtureSet | None = None, objective="divergence", rtol: float = 1e-12
) -> np.ndarray:
    r"""BR_Λ(q): the face of Λ maximizing :math:`\lambda \mapsto \sum_k \lambda_k L_k(q)`.

    Returned as the vertices of Λ attaining the maximum (within ``rtol`` of its
    scale), an (m', K) array whose convex hull is the face; for K = 2 the face is
    the interval [min, max] of their first coordinates.
    """
    from theory._validation import check_distribution

    D, P = check_pair(D, P)
    q = check_distribution(model, "model")
    if q.shape[0] != D.shape[1]:
        raise ValueError(f"model: expected length |X| = {D.shape[1]}, got {q.shape[0]}")
    mixtures = Simplex(D.shape[0]) if mixtures is None else mixtures
    if mixtures.K != D.shape[0]:
        raise ValueError(f"mixtures: Λ lives in Δ_{mixtures.K}, but D has K = {D.shape[0]} rows")
    c, _ = _offsets(D, P, objective)
    L = _losses(D, q, c)
    V = _vertex_matrix(mixtures)
    with np.errstate(invalid="ignore"):
        vals = np.array([_payoff(v, L) if np.all(np.isfinite(L[v > 0])) else np.inf for v in V])
    top = vals.max()
    if top == np.inf:
        return V[vals == np.inf]
    return V[vals >= top - rtol * max(1.0, abs(top))]


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
    D, P, mixtures: MixtureSet | None = None, objective="divergence", num: int = 101
) -> BestResponseCurves:
    """Both best-response maps of the K = 2 game on ``num`` points of Λ (for plotting, T4)."""
    D, P = check_pair(D, P)
    if D.shape[0] != 2:
        raise ValueError(f"D: the best-response curves need K = 2 domains, got K = {D.shape[0]}")
    num = check_int(num, "num", minimum=2)
    mixtures = Simplex(2) if mixtures is None else mixtures
    V = _vertex_matrix(mixtures)
    a, b = V[:, 0].min(), V[:, 0].max()
    grid = np.linspace(a, b, num)
    gaps, lo_r, hi_r = [], [], []
    for l1 in grid:
        lam = np.array([l1, 1.0 - l1])
        q = best_response_gate(D, P, lam)
        face = best_response_mixture(D, P, q, mixtures, objective)
        c, _ = _offsets(D, P, objective)
        L = _losses(D, q, c)
        gaps.append(L[0] - L[1])
        lo_r.append(face[:, 0].min())
        hi_r.append(face[:, 0].max())
    res = robust_gate(D, P, mixtures, objective)
    return BestResponseCurves(
        grid, np.array(gaps), np.array(lo_r), np.array(hi_r), float(res.lam[0])
    )
