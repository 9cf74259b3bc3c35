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
  maximized by regularized projected Newton steps over the K-dimensional set Λ
  (exact Hessian of d on the clipping pattern), with certified
  bounds :math:`d(\lambda) \le V^* \le \max_{\lambda'\in\Lambda} \sum_k \lambda'_k L_k(q)` for
  every iterate; ``method="cvxpy"`` is the exponential-cone reference.
* T4 (Kakutani) — :func:`best_response_gate`, :func:`best_response_mixture` and
  :func:`best_response_curves` (the two best-response maps for K = 2).
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numba
import numpy as np
from scipy.optimize import linprog
from tqdm.auto import tqdm

from theory.divergences import _cross_entropy_rows, _entropy_rows, _mixture
from theory.gates import gate_for
from theory.mixtures import MixtureSet, Simplex
from theory.validation import (
    check_choice,
    check_feasible,
    check_int,
    check_pair,
    check_positive,
    check_weights,
)

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


# Below this many points a pass over X takes microseconds, less than waking the
# worker threads of the parallel kernels (milliseconds on a busy machine).
_SERIAL_BELOW = 1_000_000


@contextmanager
def _threads_for(n: int):
    """Run the numba kernels on one thread for small |X| (numba's setting is per thread)."""
    if n >= _SERIAL_BELOW:
        yield
        return
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


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
    from theory.validation import check_distribution, check_stack

    P = check_stack(P, "P")
    t = check_distribution(t, "t")
    if t.shape[0] != P.shape[1]:
        raise ValueError(f"t: expected length |X| = {P.shape[1]}, got {t.shape[0]}")
    lo, hi = P.min(axis=0), P.max(axis=0)
    if np.any((t > 0) & (hi == 0)):
        i = int(np.argmax((t > 0) & (hi == 0)))
        raise ValueError(f"t: puts mass at index {i} where every expert in P has probability 0")
    with _threads_for(t.shape[0]):
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


@numba.njit(parallel=True, **_JIT)
def _cross_entropies(D, q):
    """CE(D_k, q) = −Σ_{D_k > 0} D_k log q for every row, with one log per column.

    +inf where D_k(x) > 0 = q(x). Partial sums per chunk keep the rounding error
    near eps·(n/chunks) rather than eps·n.
    """
    K, n = D.shape
    step = (n + _CHUNKS - 1) // _CHUNKS
    part = np.zeros((_CHUNKS, K))
    for c in numba.prange(_CHUNKS):
        a0 = min(n, c * step)
        a1 = min(n, a0 + step)
        for i in range(a0, a1):
            lq = np.log(q[i]) if q[i] > 0.0 else -np.inf
            for k in range(K):
                d = D[k, i]
                if d > 0.0:
                    part[c, k] -= d * lq
    return part.sum(axis=0)


def _losses(D: np.ndarray, q: np.ndarray, c: np.ndarray) -> np.ndarray:
    """(L_k(q))_k = CE(D_k, q) − c_k; +inf where D_k puts mass on a zero of q."""
    return _cross_entropies(D, q) - c


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
    with _threads_for(D.shape[1]):
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
    with _threads_for(D.shape[1]):
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
    ``history`` holds the best (lower, upper) at the start and after every iteration.
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


@numba.njit(parallel=True, **_JIT)
def _curvature(D, t, q, lo, hi):
    """Sums over the free set F = {x : t(x) > 0, ℓ(x) < q(x) < u(x)} of a water-filled q.

    Returns A_jk = Σ_F D_j D_k / t, a_k = Σ_F D_k and T = Σ_F t, from which
    :func:`_hessian` builds the Hessian of d on the current clipping pattern.
    """
    K, n = D.shape
    step = (n + _CHUNKS - 1) // _CHUNKS
    A = np.zeros((_CHUNKS, K, K))
    a = np.zeros((_CHUNKS, K))
    T = np.zeros(_CHUNKS)
    for c in numba.prange(_CHUNKS):
        col = np.empty(K)
        a0 = min(n, c * step)
        a1 = min(n, a0 + step)
        for i in range(a0, a1):
            ti = t[i]
            if ti <= 0.0 or not (lo[i] < q[i] < hi[i]):
                continue
            T[c] += ti
            inv = 1.0 / ti
            for k in range(K):
                col[k] = D[k, i]
            for j in range(K):
                dj = col[j]
                if dj == 0.0:
                    continue
                a[c, j] += dj
                w = dj * inv
                for k in range(j, K):
                    A[c, j, k] += w * col[k]
    As = A.sum(axis=0)
    for j in range(K):
        for k in range(j):
            As[j, k] = As[k, j]
    return As, a.sum(axis=0), T.sum()


def _hessian(D: np.ndarray, t: np.ndarray, q: np.ndarray, lo, hi) -> np.ndarray:
    r"""Hessian of the dual function on the clipping pattern of q = q*_λ (T5).

    On the free set F, q = t/ν with Σ_F t/ν = 1 − Σ_{x∉F} q fixed, so
    ∂L_k/∂λ_j = −Σ_F D_k D_j / t + a_k a_j / T, i.e. H = −A + a aᵀ/T, negative
    semidefinite by Cauchy–Schwarz; H = 0 when nothing is free (every x clipped).
    """
    A, a, T = _curvature(D, t, q, lo, hi)
    return -A + np.outer(a, a) / T if T > 0.0 else -A


@dataclass
class _Point:
    """One evaluated mixture: λ, its water-filled model and the dual value there."""

    lam: np.ndarray
    t: np.ndarray
    q: np.ndarray
    value: float
    grad: np.ndarray
    mixed: bool


class _Oracle:
    """Exact T3/T5 evaluations on validated arrays, with the water level warm-started.

    Losses of domains that no λ ∈ Λ can weight never enter the payoff; they are
    zeroed so that they cannot poison the subproblems.
    """

    def __init__(self, D, P, c, active=None):
        self.D, self.c = D, c
        self.lo, self.hi = P.min(axis=0), P.max(axis=0)
        self.active = np.ones(D.shape[0], bool) if active is None else active
        self.s = 1.0
        self.interior: np.ndarray | None = None

    def best_model(self, lam, t=None):
        t = _mixture(lam, self.D) if t is None else t
        fill = _water_fill(t, self.lo, self.hi, self.s)
        if fill.s < np.inf:
            self.s = fill.s
        return fill.q

    def losses(self, q):
        return np.where(self.active, _losses(self.D, q, self.c), 0.0)

    def point(self, lam) -> _Point:
        """d(λ), and a finite supergradient-like direction of ascent.

        If λ_k = 0 and q*_λ vanishes somewhere on supp D_k, L_k(q*_λ) = ∞; the
        interior model is then mixed in with weight ε, which gives the finite cut
        λ'·L(q_ε) ≥ d(λ') that is tight at λ up to −log(1 − ε).
        """
        t = _mixture(lam, self.D)
        q = self.best_model(lam, t)
        g = self.losses(q)
        value = _payoff(lam, g)
        mixed = not np.all(np.isfinite(g))
        if mixed:
            g = self.losses(self.mixed_model(q))
        return _Point(lam, t, q, value, g, mixed)

    def mixed_model(self, q):
        return (1.0 - _INTERIOR_EPS) * q + _INTERIOR_EPS * self.interior

    def candidate(self, p: _Point) -> np.ndarray:
        return self.mixed_model(p.q) if p.mixed else p.q


def _vertex_matrix(mixtures: MixtureSet) -> np.ndarray:
    V = np.asarray(mixtures.vertices(), dtype=np.float64)
    V = np.clip(V, 0.0, None)
    return V / V.sum(axis=1, keepdims=True)


def _qp_hull(V: np.ndarray, lam: np.ndarray, g: np.ndarray, B: np.ndarray):
    r"""The regularized Newton step restricted to conv(rows of V):
    :math:`\arg\max_{w\in\Delta_m} g\cdot(V^\top w-\lambda)
    - \tfrac12 (V^\top w-\lambda)^\top B (V^\top w-\lambda)` (B positive definite).

    Solved by Clarabel over the weights w. The step only proposes the next trial
    point: its accuracy never enters the certificates. Returns (λ', w) or None.
    """
    import clarabel
    from scipy import sparse

    m = V.shape[0]
    if m == 1:
        return V[0].copy(), np.ones(1)
    Q = sparse.csc_matrix(np.triu(V @ B @ V.T))
    A = sparse.csc_matrix(np.vstack([np.ones((1, m)), -np.eye(m)]))
    b = np.r_[1.0, np.zeros(m)]
    cones = [clarabel.ZeroConeT(1), clarabel.NonnegativeConeT(m)]
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = 1e-13
    settings.max_iter = 100
    lin = V @ (g + B @ lam)
    sol = clarabel.DefaultSolver(Q, -lin, A, b, cones, settings).solve()
    w = np.clip(np.asarray(sol.x), 0.0, None)
    if not np.all(np.isfinite(w)) or w.sum() <= 0:
        return None
    # The interior-point answer resolves the objective, not the step: near the
    # optimum the step is many orders below the objective's scale. Re-solving the
    # KKT system on the face it found gives the step to linear-algebra accuracy.
    face = np.flatnonzero(w > 1e-9 * w.max())
    f = face.size
    kkt = np.zeros((f + 1, f + 1))
    kkt[:f, :f] = V[face] @ B @ V[face].T
    kkt[:f, f] = kkt[f, :f] = 1.0
    polished = np.linalg.lstsq(kkt, np.r_[lin[face], 1.0], rcond=None)[0][:f]
    if np.all(polished >= 0.0):
        w = np.zeros(m)
        w[face] = polished
    w /= w.sum()
    return w @ V, w


def _qp_step(mixtures: MixtureSet, W: list, lam, g, B) -> np.ndarray | None:
    """The regularized Newton step over all of Λ by simplicial decomposition.

    The QP is solved over the hull of a working set W of vertices; the LP oracle
    ``argmax_linear`` at the QP's gradient then either certifies the answer for
    all of Λ or returns a vertex to add. Λ is never enumerated (an ℓ1 ball in
    Δ_8 has hundreds of vertices). W is pruned to the face of the answer.
    """
    for _ in range(4 * len(lam) + 20):
        out = _qp_hull(np.array(W), lam, g, B)
        if out is None:
            return None
        nxt, w = out
        slope = g - B @ (nxt - lam)
        top, v = mixtures.argmax_linear(slope)
        known = min(np.abs(np.array(W) - v).max(axis=1)) <= 1e-12
        if known or top <= slope @ nxt + 1e-13 * max(1.0, np.abs(slope).max()):
            break
        W.append(np.asarray(v, dtype=np.float64))
    W[:] = [W[j] for j in np.flatnonzero(w > 0)] + ([] if known else [v])
    return nxt


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


def _cut_multipliers(V, G):
    """Multipliers μ ∈ Δ_J of the cutting-plane model max_{λ∈Λ} min_j λ·G_j (λ = Vᵀw).

    By LP duality the model value equals min_μ max_λ λ·(Σ_j μ_j G_j), so the
    combined model Σ_j μ_j q_j (convex losses) has worst-case payoff at most that value.
    """
    m = V.shape[0]
    A = np.hstack([-(G @ V.T), np.ones((G.shape[0], 1))])
    res = _lp(np.r_[np.zeros(m), -1.0], A, np.zeros(G.shape[0]), m, [(None, None)])
    if res.status != 0:
        return None
    mu = np.clip(-res.ineqlin.marginals, 0.0, None)
    return mu / mu.sum() if mu.sum() > 0 else None


# Regularization of the Newton model relative to the curvature scale: raised
# tenfold after a step that the model over-predicts, lowered after a good one.
_MU_MIN = 1e-12
_MU_START = 1e-8
# A predicted ascent below _NOISE (relative) cannot be confirmed by evaluating d in
# floating point; a step below _STEP_FLOOR is a few ulps of λ, i.e. no step at all.
_NOISE = 1e-12
_STEP_FLOOR = 1e-15


def _dual_solve(D, P, c, mixtures, tol, max_iter, progress):
    """Regularized projected Newton ascent on max_Λ d (T5), with certified bounds.

    Each iteration evaluates d exactly at one trial λ (T3 water-filling, O(nK))
    and its Hessian on the clipping pattern (O(nK²)); the step maximizes the
    quadratic model over Λ (a small QP, see :func:`_qp_step`), with a
    Levenberg–Marquardt term to stay where the model is trusted. Every evaluated
    λ gives the lower bound d(λ); its model q*_λ ∈ M gives the upper bound
    max_{λ'∈Λ} λ'·L(q*_λ). If the Newton steps stall before the gap closes, the
    models of the last iterates are combined with the multipliers of the
    cutting-plane LP (a convex combination of models is a model, and losses are
    convex) and the combination is offered as a further primal candidate.
    """
    K = D.shape[0]
    oracle = _Oracle(D, P, c, active=mixtures.support())
    # The vertex maximizing λ_k, for each k: their barycenter weights every domain
    # that Λ can weight, and they seed the working set of the Newton QPs.
    W = [np.asarray(mixtures.argmax_linear(e)[1], dtype=np.float64) for e in np.eye(K)]
    start = np.mean(W, axis=0)
    W = [w for j, w in enumerate(W) if not any(np.array_equal(w, u) for u in W[:j])]
    best = {"lower": -np.inf, "lam": None, "upper": np.inf, "q": None, "g": None}
    cuts: list[tuple[np.ndarray, bool, np.ndarray]] = []

    def offer_primal(q, g):
        if np.all(np.isfinite(g)):
            up = mixtures.argmax_linear(g)[0]
            if up < best["upper"]:
                best.update(upper=up, q=q, g=g)

    def evaluate(lam) -> _Point:
        p = oracle.point(lam)
        if p.value > best["lower"]:
            best.update(lower=p.value, lam=lam)
        offer_primal(oracle.candidate(p), p.grad)
        # Cuts keep only λ: their models are recomputed when combined, so memory
        # stays O(n) however many cuts are kept.
        cuts.append((lam, p.mixed, p.grad))
        del cuts[: -(K + 2)]
        return p

    def combine():
        if not vertices:
            vertices.append(_vertex_matrix(mixtures))
        weights = _cut_multipliers(vertices[0], np.array([g for _, _, g in cuts]) - best["lower"])
        if weights is None:
            return
        combo = np.zeros(D.shape[1])
        for w, (lam, mixed, _) in zip(weights, cuts, strict=True):
            if w > 0:
                q = oracle.best_model(lam)
                combo += w * (oracle.mixed_model(q) if mixed else q)
        combo = _to_envelope(np.clip(combo, oracle.lo, oracle.hi), oracle.lo, oracle.hi)
        offer_primal(combo, oracle.losses(combo))

    # At the start every active domain has positive weight, so its model is
    # positive on every active support and all its losses are finite.
    vertices: list[np.ndarray] = []
    cur = evaluate(start / start.sum())
    oracle.interior = cur.q
    history = [(best["lower"], best["upper"])]
    bar = tqdm(total=max_iter, desc="robust gate", disable=not progress, leave=False)
    mu, H, stalls, it = None, None, 0, 0
    while it < max_iter and best["upper"] - best["lower"] > tol:
        it += 1
        bar.update(1)
        if H is None:
            H = _hessian(D, cur.t, cur.q, oracle.lo, oracle.hi)
            scale = max(1.0, float(np.abs(H).max()), float(np.abs(cur.grad).max()))
            mu = _MU_START * scale if mu is None else mu
        B = mu * np.eye(len(cur.lam)) - H
        # Steps stay on Σλ = 1, so shifting g by a constant changes nothing but the
        # rounding: centered, g·δ is accurate even when δ is a few ulps of λ.
        g = cur.grad - cur.grad.mean()
        nxt = _qp_step(mixtures, W, cur.lam, g, B)
        delta = None if nxt is None else nxt - cur.lam
        pred = -np.inf if delta is None else g @ delta - 0.5 * delta @ B @ delta
        if delta is None or not np.abs(delta).max() > _STEP_FLOOR:
            # The model sees no ascent left: the remaining gap is on the primal side.
            combine()
            stalls += 1
            mu *= 10.0
            if stalls > 3:
                history.append((best["lower"], best["upper"]))
                break
        else:
            trial = evaluate(nxt)
            if pred <= _NOISE * max(1.0, abs(cur.value)):
                # Below the rounding noise of d the ascent test is meaningless; there
                # the quadratic model is accurate and its step is taken on trust.
                cur, H = trial, None
            else:
                rho = (trial.value - cur.value) / pred
                if trial.value >= cur.value:
                    cur, H = trial, None
                if rho < 0.25:
                    mu *= 10.0
                elif rho > 0.75:
                    mu = max(mu / 10.0, _MU_MIN * scale)
        if it % 10 == 0 and best["upper"] - best["lower"] > tol:
            combine()
        history.append((best["lower"], best["upper"]))
    bar.close()
    if best["upper"] - best["lower"] > tol:
        combine()
    if best["q"] is None:
        # Every candidate so far had an infinite loss: fall back on the interior model.
        g = oracle.losses(oracle.interior)
        best.update(q=oracle.interior, g=g, upper=mixtures.argmax_linear(g)[0])
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
    # Clarabel sometimes stalls at 1e-10 on many vertex constraints; a looser
    # second attempt still gives a usable reference (its bounds are recomputed exactly).
    for tol in (1e-10, 1e-8):
        try:
            # An inaccurate solve is reported through ``converged``, not a warning.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                prob.solve(solver=cp.CLARABEL, tol_gap_abs=tol, tol_gap_rel=tol, tol_feas=tol)
            break
        except cp.error.SolverError:
            continue
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

    ``method="dual"`` maximizes the concave d (T5) over Λ by regularized projected
    Newton steps whose inner step is the exact water-filling of T3 (O(nK) per
    evaluation, O(nK²) per Hessian); it stops when the certified gap
    upper − lower ≤ ``tol``, or after ``max_iter`` iterations with
    ``converged=False`` and the bounds reached so far (never NaN).
    ``method="cvxpy"`` solves the exponential-cone formulation with Clarabel
    (small n); its bounds are computed from its (q, λ) in the same way and
    ``converged`` reports the conic solver's status.

    Λ (``mixtures``, default :class:`~theory.mixtures.Simplex`) is used by the dual
    method only through its LP oracle ``argmax_linear`` (``vertices`` only if the
    Newton steps stall; the cvxpy reference has one constraint per vertex). Raises ``ValueError`` when V* = ∞ (a domain
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

    with _threads_for(D.shape[1]):
        if method == "dual":
            best, iters, history, converged = _dual_solve(
                D, P, c, mixtures, tol, max_iter, progress
            )
            model, lam, lower, upper = best["q"], best["lam"], best["lower"], best["upper"]
            per_domain, value = _losses(D, model, c), upper
            del best
        else:
            model, lam, value, iters, converged = _cvxpy_solve(D, P, c, mixtures)
            oracle = _Oracle(D, P, c)
            lower = _payoff(lam, oracle.losses(oracle.best_model(lam)))
            per_domain = oracle.losses(model)
            finite = np.all(np.isfinite(per_domain))
            upper = mixtures.argmax_linear(per_domain)[0] if finite else np.inf
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
    with _threads_for(D.shape[1]):
        return _water_fill(_mixture(lam, D), P.min(axis=0), P.max(axis=0)).q


def best_response_mixture(
    D, P, model, mixtures: MixtureSet | None = None, objective="divergence", rtol: float = 1e-12
) -> np.ndarray:
    r"""BR_Λ(q): the face of Λ maximizing :math:`\lambda \mapsto \sum_k \lambda_k L_k(q)`.

    Returned as the vertices of Λ attaining the maximum (within ``rtol`` of its
    scale), an (m', K) array whose convex hull is the face; for K = 2 the face is
    the interval [min, max] of their first coordinates.
    """
    from theory.validation import check_distribution

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
