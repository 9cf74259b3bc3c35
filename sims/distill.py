r"""Structural distillation into a causal router, and exact samplers (distillation, S9).

Notation. The K experts p_1, …, p_K are distributions on X (rows of a (K, n)
array ``P``); a gate g weighs them point by point, p_g(x) = Σ_k g_k(x) p_k(x).
A sequence-level gate needs the whole sequence x before it can weigh the
experts, so sampling from p_g is expensive; distillation replaces it by a
router that decides symbol by symbol. The statements are on the distillation
page of the documentation and are checked by the S9 rows of ``modgate verify``.

X is a finite set of strings, each a complete sequence closed by an implicit
end symbol, organized as a prefix trie (:class:`Trie`). Every q ∈ Δ(X) has
prefix masses q(s) and next-symbol conditionals q(a|s) = q(sa)/q(s); the end
symbol is a symbol like the others, so "ab" and "abc" are distinct outcomes and
"ab" is also a prefix of "abc". A causal router r maps prefixes to Δ_K and
defines the student q_r(x) = Π_t Σ_k r_k(x_<t) p_k(x_t | x_<t), the model that
at every step mixes the experts' next-symbol laws with the router's weights:

.. math:: q_r(x) = \prod_t \sum_k r_k(x_{<t})\, p_k(x_t \mid x_{<t}).

* Constant gates g ≡ z are reproduced exactly by the posterior router
  w_k(s) = z_k p_k(s) / Σ_j z_j p_j(s) (:func:`posterior_router`).
* A sequence-level target p_g is distilled by minimizing KL(p_g‖q_r), which
  splits over prefixes into concave problems over Δ_K, each solved to a
  certified optimality gap (:func:`distill_router`).
* Exact samples of p_g come either from rejection sampling against the uniform
  mixture of the experts (:func:`sample_rejection`, acceptance rate 1/K) or,
  for a router, ancestrally along the trie (:func:`sample_router`).

The prefix problems
-------------------
At a prefix s with target weights :math:`w_a = p(a|s)` on its children and
expert conditionals :math:`A_{ak} = p_k(a|s)`, the router row solves

.. math:: \max_{r \in \Delta_K} f(r) = \sum_a w_a \log m_a(r), \qquad m(r) = A r,

with :math:`\nabla_k f = \sum_a w_a A_{ak} / m_a` and :math:`r \cdot \nabla f = W := \sum_a w_a`.
Because f is concave, r is optimal iff :math:`\nabla_k f(r) \le r \cdot \nabla f(r)` for
every k (with equality on the support of r, which the weighted average then
forces). Jensen's inequality turns this into a certificate computed from r alone:

.. math:: f(r^*) - f(r) = \sum_a w_a \log\frac{m_a(r^*)}{m_a(r)}
          \le W \log \frac{r^* \cdot \nabla f(r)}{W}
          \le W \log \frac{\max_k \nabla_k f(r)}{W} =: \mathrm{gap}(r),

which is 0 exactly at the optimum. The classical monotone EM update
:math:`r_k \leftarrow r_k \nabla_k f / W` solves the problem in principle, but its
linear rate tends to 1 where the experts' conditionals nearly coincide, and it
can never give weight back to an expert once that weight is 0. Each step here
instead weighs five ascent directions, each followed by an exact line search on
:math:`t \mapsto f(r + t d)` (a one-dimensional concave function whose
derivatives cost one pass over the children):

* the Newton direction on the face of the simplex spanned by the support of r,
  which converges quadratically once the optimal support is found;
* when the full Newton step would leave the simplex, the Newton direction with
  the experts that cut it short held at their weights: an expert that alone
  serves a child of tiny target weight must keep a tiny weight, and it would
  otherwise block every Newton step of the others;
* the flat direction of the face, the gradient's part along near-null
  directions of the Hessian, where f rises almost linearly until some weight
  reaches 0 (nearly collinear experts);
* the Frank–Wolfe direction :math:`e_j - r` towards the expert
  :math:`j = \arg\max_k \nabla_k f`, which lets an expert at weight 0 re-enter
  as soon as its gradient coordinate exceeds the others';
* the pairwise direction :math:`e_j - e_i` from the support's expert i with the
  smallest gradient coordinate, which can empty expert i.

A step that empties an expert is taken whenever it ascends (the support then
shrinks, and Newton works on the smaller face); otherwise the largest ascent
wins, so every such step gains at least as much as a Frank–Wolfe step with exact
line search.

The EM update is that of Dempster, Laird & Rubin [1]_ for mixture weights, the
Frank–Wolfe direction that of Frank & Wolfe [2]_, and the sampler of
:func:`sample_rejection` is von Neumann's rejection method [3]_.

References
----------
.. [1] A. P. Dempster, N. M. Laird and D. B. Rubin, "Maximum likelihood from
   incomplete data via the EM algorithm", JRSS B 39(1), 1977.
.. [2] M. Frank and P. Wolfe, "An algorithm for quadratic programming", Naval
   Research Logistics Quarterly 3, 1956.
.. [3] J. von Neumann, "Various techniques used in connection with random
   digits", National Bureau of Standards Applied Mathematics Series 12, 1951.

Examples
--------
>>> import numpy as np
>>> from sims.distill import posterior_router, router_model, sample_router
>>> strings = ["a", "ab", "b"]
>>> P = np.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]])
>>> router = posterior_router(strings, P, [0.5, 0.5])
>>> router_model(strings, P, router)  # the student equals (p_1 + p_2)/2
array([0.3  , 0.175, 0.525])
>>> samples = sample_router(strings, P, router, size=2000, seed=0)
>>> np.bincount(samples.indices, minlength=3) / 2000  # close to the student
array([0.3105, 0.1655, 0.524 ])
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import ClassVar

import numba
import numpy as np
from scipy.special import logsumexp

from sims._trie import Trie, as_trie
from theory.gates import check_gate
from theory.results import Certified, Layout
from theory.validation import (
    SUM_TOL,
    InfeasibleError,
    as_real_array,
    check_allocation,
    check_distribution,
    check_int,
    check_positive,
    check_seed,
    check_stack,
    check_weights,
)

# The smallest positive float64 (a subnormal).
_SUB = float(np.nextafter(0.0, 1.0))

__all__ = [
    "Trie",
    "RouterResult",
    "SampleResult",
    "distill_router",
    "posterior_router",
    "router_model",
    "sample_rejection",
    "sample_router",
]


@dataclass(frozen=True)
class _Experts:
    """The experts seen through the trie: prefix masses and conditionals, (K, num_nodes)."""

    P: np.ndarray
    mass: np.ndarray
    cond: np.ndarray


def _experts(trie: Trie, P) -> _Experts:
    P = check_stack(P, "P", n=trie.n)
    mass = trie._mass(P)
    return _Experts(P, mass, trie._conditionals(mass))


def _check_router(trie: Trie, ex: _Experts, router) -> tuple[np.ndarray, np.ndarray]:
    """Validate a router and return it with its student's per-node masses.

    Every row must lie on Δ_K, and wherever the student reaches a prefix s it
    may only weight experts with p_k(s) > 0; otherwise the mixed next-symbol
    law at s would not sum to 1.
    """
    K = ex.P.shape[0]
    r = as_real_array(router, "router", ndim=2)
    if r.shape != (trie.num_nodes, K):
        raise ValueError(
            f"router: expected shape (num_nodes, K) = {(trie.num_nodes, K)}, got {np.shape(router)}"
        )
    if not np.all(np.isfinite(r)) or np.any(r < 0):
        raise ValueError("router: entries must be finite and non-negative")
    off = np.abs(r.sum(axis=1) - 1.0)
    if np.any(off > SUM_TOL):
        s = int(np.argmax(off))
        raise ValueError(
            f"router: every row r(s) must lie on the simplex Δ_K; the row of prefix "
            f"{trie.prefix(s)!r} (node {s}) sums to {r[s].sum()!r}"
        )
    r = np.ascontiguousarray(r)
    edges = np.einsum("ck,kc->c", r[trie.parent], ex.cond)
    node_mass = trie._path_products(edges)
    total = np.einsum("sk,ks->s", r, ex.mass > 0)
    bad = (node_mass > 0) & (total < 1.0 - SUM_TOL) & (trie.child_stop > trie.child_start)
    if bad.any():
        s = int(np.argmax(bad))
        raise ValueError(
            f"router: at the reachable prefix {trie.prefix(s)!r} (node {s}) it puts weight "
            f"{1.0 - total[s]:.3g} on experts that give this prefix probability 0"
        )
    return r, node_mass


# ---------------------------------------------------------------------------
# Routers and distillation


@dataclass(frozen=True)
class RouterResult(Certified):
    r"""A distilled causal router and its certificate (S9).

    Returned by :func:`distill_router`; ``gap`` = upper − lower.

    Attributes
    ----------
    router : ndarray, shape (num_nodes, K)
        r(s) at every node; rows of prefixes the target never reaches (leaves
        included) are uniform over the experts alive there.
    student : ndarray, shape (n,)
        The student q_r on the strings.
    value, kl : float
        :math:`\mathrm{KL}(p\|q_r)` of the returned router (the same number under
        both names; ``value`` is the name every certified result uses).
    lower, upper : float
        Certified bracket ``lower ≤ min_r KL(p‖q_r) ≤ upper``: ``upper`` = ``value``
        and ``lower`` = max(0, value − gap_bound), clamped to ``upper``.
    gap_bound : float
        :math:`\sum_s p(s)\,\mathrm{gap}(s)`, an upper bound on ``value`` − min_r KL.
    prefix_gap : ndarray, shape (num_nodes,)
        The certified gap of every prefix problem (0 where the target never goes).
    prefix_iterations : ndarray of int, shape (num_nodes,)
        Steps taken on every prefix problem.
    iterations : int
        The most steps taken on one prefix, ``prefix_iterations.max()``.
    converged : bool
        Every prefix problem reached its tolerance, which implies ``gap_bound ≤ tol``.
    """

    router: np.ndarray
    student: np.ndarray
    value: float
    kl: float
    lower: float
    upper: float
    gap_bound: float
    prefix_gap: np.ndarray
    prefix_iterations: np.ndarray
    iterations: int
    converged: bool

    _layout: ClassVar[Layout] = Layout(
        "Distilled causal router (S9)",
        symbol="KL(p‖q_r)",
        bounded="min_r KL(p‖q_r)",
        numbers=(("gap_bound", "Σ_s p(s) gap(s)"),),
        facts=(("num_prefixes", "prefixes"),),
    )

    @property
    def num_prefixes(self) -> int:
        """The number of nodes of the trie, ``router.shape[0]``."""
        return int(self.router.shape[0])


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _local_problem(lo, hi, W, Pc):
    """The children lo..hi-1 of one prefix that the target reaches: their weights w (m,)
    and the experts' conditionals A (m, K); children of weight 0 do not enter f."""
    K = Pc.shape[0]
    m = 0
    for c in range(lo, hi):
        if W[c] > 0.0:
            m += 1
    w = np.empty(m)
    A = np.empty((m, K))
    i = 0
    for c in range(lo, hi):
        if W[c] > 0.0:
            w[i] = W[c]
            for k in range(K):
                A[i, k] = Pc[k, c]
            i += 1
    return w, A


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _derivatives(w, A, x, mix, grad, curv, share):
    """Write m = A x, ∇f = Aᵀ(w/m) and the curvature X(−∇²f)X with X = diag(x).

    The latter is Σ_a w_a b_a b_aᵀ with b_ak = A_ak x_k / m_a ∈ [0, 1], the share of
    expert k in the mixed probability of child a (``share`` is work space for b_a),
    so its entries lie in [0, W] however small m_a is; the Hessian itself, with
    entries w_a A_ak A_aj / m_a², can overflow.
    """
    m, K = A.shape
    for k in range(K):
        grad[k] = 0.0
        for j in range(K):
            curv[k, j] = 0.0
    for a in range(m):
        s = 0.0
        for k in range(K):
            # A product of positive numbers that underflows counts as the smallest
            # subnormal: m_a > 0 exactly when some expert with weight covers child a.
            p = A[a, k] * x[k]
            s += max(p, _SUB) if A[a, k] > 0.0 and x[k] > 0.0 else p
        mix[a] = s
        ratio = w[a] / s
        for k in range(K):
            grad[k] += ratio * A[a, k]
            share[k] = A[a, k] * x[k] / s
        for k in range(K):
            for j in range(K):
                curv[k, j] += w[a] * share[k] * share[j]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _certificate(wsum, grad):
    """gap = W log(max_k ∇_k f / W) ≥ f(r*) − f(r), 0 exactly at the optimum."""
    return max(wsum * np.log(np.max(grad) / wsum), 0.0)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _slope(w, mix, delta, t):
    """φ'(t) and φ''(t) for φ(t) = Σ_a w_a log(m_a + t δ_a); −inf outside φ's domain."""
    g = 0.0
    h = 0.0
    for a in range(w.size):
        v = mix[a] + t * delta[a]
        if v <= 0.0:
            return -np.inf, -np.inf
        q = delta[a] / v
        g += w[a] * q
        h -= w[a] * q * q
    return g, h


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _gain(w, mix, delta, t):
    """φ(t) − φ(0) = Σ_a w_a log1p(t δ_a / m_a), accurate however small the gain."""
    g = 0.0
    for a in range(w.size):
        g += w[a] * np.log1p(t * delta[a] / mix[a])
    return g


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _line_search(w, mix, delta, tmax):
    """The maximizer of the concave φ(t) = Σ_a w_a log(m_a + t δ_a) on [0, tmax], φ'(0) > 0.

    The end point when φ'(tmax) ≥ 0; otherwise the root of φ' by Newton's method
    from t = 1 (the Newton step's own length), safeguarded by bisection of a
    bracket [lo, hi] with φ'(lo) > 0 > φ'(hi).
    """
    g, _ = _slope(w, mix, delta, tmax)
    if g >= 0.0:
        return tmax
    lo, hi = 0.0, tmax
    t = 1.0 if tmax > 1.0 else 0.5 * tmax
    for _ in range(200):
        g, h = _slope(w, mix, delta, t)
        if g == 0.0:
            return t
        if g > 0.0:
            lo = t
        else:
            hi = t
        nxt = t - g / h if h < 0.0 else 0.5 * (lo + hi)
        if not lo < nxt < hi:
            nxt = 0.5 * (lo + hi)
        if abs(nxt - t) <= 1e-15 * nxt or hi - lo <= 1e-15 * hi:
            break
        t = nxt
    return lo if t > hi else t


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _face_directions(curv, grad, x, hold, rcond):
    """Newton and flat ascent directions of f on the face of the simplex spanned by the
    support of x, each with Σ_k d_k = 0 and d_k = 0 off the support and where ``hold``
    is True (experts whose weight stays as it is).

    The step is written d_k = σ_k v_k with σ_k = 1/√(−∂²_kk f), so that the
    curvature in v is a correlation matrix C (unit diagonal, C_kj = H_kj/√(H_kk H_jj),
    computed from ``curv`` = X(−∇²f)X, whose entries lie in [0, W] where those of
    the Hessian H itself can overflow). Newton's direction does not depend on this
    choice of variables, but flatness does: an eigenvalue of C near 0 means
    that the experts' contributions are nearly collinear, whatever their weights.
    With c = σ/|σ| (the constraint Σ d = 0 is c·v = 0), P the projection onto c⊥
    and (λ_i, v_i) the eigenpairs of P C P on c⊥, the projected gradient
    g = P(σ ∘ ∇f) splits into the Newton direction Σ_{λ_i > ε} (v_i·g / λ_i) v_i and
    the flat direction Σ_{λ_i ≤ ε} (v_i·g) v_i, ε = ``rcond`` · trace C. Where the
    experts' conditionals are exactly collinear (always when K exceeds the number
    of children) g has no component along the null space and the flat direction
    is 0; where they are nearly collinear, f rises almost linearly along the flat
    direction until a weight reaches 0, a move the Newton step alone cannot see.
    An expert that gives every child of positive target weight probability 0 has
    no curvature at all: its row of C is 0 (it is scaled by the largest diagonal
    entry instead of its own), so it moves only along the flat direction.
    """
    # Written as loops: numba's array expressions compile much more code.
    K = grad.size
    d = np.zeros(K)
    flat = np.zeros(K)
    nf = 0
    for k in range(K):
        nf += x[k] > 0.0 and not hold[k]
    if nf < 2:
        return d, flat
    free = np.empty(nf, dtype=np.int64)
    diag = np.empty(nf)
    a = 0
    for k in range(K):
        if x[k] > 0.0 and not hold[k]:
            free[a] = k
            diag[a] = curv[k, k]
            a += 1
    top = diag[0]
    for a in range(1, nf):
        top = max(top, diag[a])
    root = np.empty(nf)
    sigma = np.empty(nf)
    norm2 = 0.0
    for a in range(nf):
        root[a] = np.sqrt(diag[a] if diag[a] > 0.0 else top)
        sigma[a] = x[free[a]] / root[a]
        norm2 += sigma[a] * sigma[a]
    c = np.empty(nf)
    for a in range(nf):
        c[a] = sigma[a] / np.sqrt(norm2)
    M = np.empty((nf, nf))
    g = np.empty(nf)
    for a in range(nf):
        g[a] = sigma[a] * grad[free[a]]
        for b in range(nf):
            M[a, b] = curv[free[a], free[b]] / (root[a] * root[b])
    cg = np.dot(c, g)
    for a in range(nf):
        g[a] -= cg * c[a]
    Mc = M @ c
    cMc = np.dot(c, Mc)
    trace = np.trace(M)
    # P M P, plus c at an eigenvalue above all others: eigh then returns the face's
    # eigenpairs first and c last, however degenerate the spectrum.
    shift = 2.0 * trace + 1.0
    for a in range(nf):
        for b in range(nf):
            M[a, b] += (cMc + shift) * c[a] * c[b] - Mc[a] * c[b] - c[a] * Mc[b]
    lam, V = np.linalg.eigh(M)
    eps = rcond * trace
    for i in range(nf - 1):
        coef = np.dot(V[:, i], g)
        if lam[i] > eps:
            coef /= lam[i]
            for a in range(nf):
                d[free[a]] += coef * V[a, i] * sigma[a]
        else:
            for a in range(nf):
                flat[free[a]] += coef * V[a, i] * sigma[a]
    return d, flat


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _tangent(d, x, hold):
    """Make Σ_k d_k = 0 to rounding by moving the residual onto the heaviest free expert.

    Near the optimum d is tiny while the rounding in 1·d is not: a d that leaves
    the simplex by ε changes f by about εW through the total mass alone, which
    would swamp the true ascent.
    """
    heavy = -1
    for k in range(x.size):
        if not hold[k] and (heavy < 0 or x[k] > x[heavy]):
            heavy = k
    d[heavy] -= np.sum(d)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _first_block(x, d):
    """The step length at which x + t d first reaches the boundary, and the expert that
    reaches it there (inf and −1 when d has no negative entry)."""
    t_max, block = np.inf, -1
    for k in range(x.size):
        if d[k] < 0.0 and -x[k] / d[k] < t_max:
            t_max, block = -x[k] / d[k], k
    return t_max, block


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _ray(w, A, mix, x, d, delta):
    """Exact line search along a direction d with Σ d = 0 from x: (t, gain, block).

    The step is cut at the first expert whose weight reaches 0 (``block``, −1 when
    the line-search maximum comes first or d has no negative entry); ``gain`` is
    f(x + t d) − f(x), 0 for a direction that does not ascend.
    """
    m, K = A.shape
    t_max, block = _first_block(x, d)
    if block < 0:
        return 0.0, 0.0, -1
    for k in range(K):
        if not np.isfinite(d[k]):
            return 0.0, 0.0, -1
    for a in range(m):
        s = 0.0
        for k in range(K):
            s += A[a, k] * d[k]
        delta[a] = s
    if _slope(w, mix, delta, 0.0)[0] <= 0.0:
        return 0.0, 0.0, -1
    t = _line_search(w, mix, delta, t_max)
    return t, _gain(w, mix, delta, t), block if t == t_max else -1


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _kept_weight(w, A, y, k, wsum):
    """The weight left on expert k when a step empties it: 0, unless k alone serves
    children of positive target weight (then f would be −inf at 0).

    Such an expert's optimal weight is tiny when those children are: at the
    optimum ∇_k f = W, where each child a served by k alone adds w_a / x_k and
    every other child b adds w_b A_bk / m_b, so x_k = Σ_alone w_a / (W − Σ_b …).
    A line search in t cannot resolve that weight (x_k = x_k⁰ − t|d_k| rounds to 0
    near the end of the ray), so it is set here; the certificate is computed
    from the returned weights as always.
    """
    m, K = A.shape
    alone = 0.0
    rest = 0.0
    for a in range(m):
        if A[a, k] <= 0.0:
            continue
        mix = 0.0
        for j in range(K):
            if j != k:
                mix += A[a, j] * y[j]
        if mix > 0.0:
            rest += w[a] * A[a, k] / mix
        else:
            alone += w[a]
    if alone == 0.0:
        return 0.0
    return alone / (wsum - rest) if rest < wsum else alone / wsum


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _solve_prefix(w, A, x, tol, max_iter):
    """Maximize f(r) = Σ_a w_a log (A r)_a over Δ_K from ``x`` until gap(r) ≤ tol.

    Every step picks one of the Newton, held-Newton, flat, Frank–Wolfe and pairwise
    candidates as the module docstring describes, so f increases at every step. A step is
    counted only when it is taken; the solver stops early when no candidate
    increases f (usually with a gap at the level of rounding; on weights far below
    1e-60 the line search cannot resolve the step and the gap may stay large, which
    the caller reports as not converged). Returns the
    weights, their certified gap and the number of steps.
    """
    m, K = A.shape
    wsum = np.sum(w)
    mix, grad, curv, share = np.empty(m), np.empty(K), np.empty((K, K)), np.empty(K)
    delta = np.empty(m)
    hold = np.zeros(K, dtype=np.bool_)
    _derivatives(w, A, x, mix, grad, curv, share)
    gap = _certificate(wsum, grad)
    it = 0
    while gap > tol and it < max_iter:
        for k in range(K):
            hold[k] = False
        d, flat = _face_directions(curv, grad, x, hold, 1e-12)
        _tangent(d, x, hold)
        _tangent(flat, x, hold)
        t_n, gain_n, block_n = _ray(w, A, mix, x, d, delta)
        t_0, gain_0, block_0 = _ray(w, A, mix, x, flat, delta)
        # When the full Newton step would leave the simplex, the experts that cut it
        # short are held where they are and the Newton step is recomputed on the rest:
        # a weight that must shrink by orders of magnitude (it alone serves a child of
        # tiny target weight) would otherwise block every Newton step of the others.
        held = d
        t_max, k = _first_block(x, d)
        while t_max < 1.0:
            hold[k] = True
            held, _ = _face_directions(curv, grad, x, hold, 1e-12)
            _tangent(held, x, hold)
            t_max, k = _first_block(x, held)
        t_h, gain_h, block_h = 0.0, 0.0, -1
        if held is not d:
            t_h, gain_h, block_h = _ray(w, A, mix, x, held, delta)
        j = np.argmax(grad)
        fw = np.empty(K)
        for k in range(K):
            fw[k] = -x[k]
        fw[j] += 1.0
        t_f, gain_f, _ = _ray(w, A, mix, x, fw, delta)
        i = j
        for k in range(K):
            if x[k] > 0.0 and grad[k] < grad[i]:
                i = k
        pw = np.zeros(K)
        gain_p, t_p, block_p = 0.0, 0.0, -1
        if i != j:
            pw[j], pw[i] = 1.0, -1.0
            t_p, gain_p, block_p = _ray(w, A, mix, x, pw, delta)
        best = max(gain_n, gain_h, gain_0, gain_f, gain_p)
        if not best > 0.0:
            break
        # A step that empties an expert and ascends is taken before any other (the
        # largest such): it shrinks the face, on which Newton then works; FW steps
        # alone only scale a useless weight down, and any weight left on it blocks
        # the Newton step at once.
        drop = max(
            gain_n if block_n >= 0 else 0.0,
            gain_h if block_h >= 0 else 0.0,
            gain_0 if block_0 >= 0 else 0.0,
            gain_p if block_p >= 0 else 0.0,
        )
        if drop > 0.0:
            best = drop
        if gain_n == best:
            step, t, block = d, t_n, block_n
        elif gain_h == best:
            step, t, block = held, t_h, block_h
        elif gain_0 == best:
            step, t, block = flat, t_0, block_0
        elif gain_p == best:
            step, t, block = pw, t_p, block_p
        else:
            step, t, block = fw, t_f, -1
        y = np.empty(K)
        for k in range(K):
            v = x[k] + t * step[k]
            y[k] = 0.0 if v < 0.0 else v
        if block >= 0:
            y[block] = _kept_weight(w, A, y, block, wsum)
        total = 0.0
        for k in range(K):
            total += y[k]
        x = np.empty(K)
        for k in range(K):
            x[k] = y[k] / total
        _derivatives(w, A, x, mix, grad, curv, share)
        gap = _certificate(wsum, grad)
        it += 1
    return x, gap, it


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _solve_node(lo, hi, W, Pc, x, tol, max_iter):
    w, A = _local_problem(lo, hi, W, Pc)
    return _solve_prefix(w, A, x, tol, max_iter)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _solve_nodes(nodes, start, stop, W, Pc, r, tol, max_iter, gap, steps):
    """Solve the prefix problem of every node in ``nodes``, in place on r, gap and steps."""
    K = r.shape[1]
    for i in range(nodes.size):
        s = nodes[i]
        x = np.empty(K)
        for k in range(K):
            x[k] = r[s, k]
        x, gap[i], steps[i] = _solve_node(start[s], stop[s], W, Pc, x, tol, max_iter)
        for k in range(K):
            r[s, k] = x[k]


def _solve_prefixes(nodes, start, stop, W, Pc, r, tol, max_iter):
    """Solve every prefix problem, in place on r; returns the per-prefix gaps and step counts.

    The prefixes are independent: with several numba threads, thread t takes
    nodes t, t + T, t + 2T, … (neighbouring prefixes have similar sizes, so the
    work is balanced) and runs the compiled loop without the GIL. The results
    do not depend on the number of threads. (A ``prange`` loop would do the
    same but triples the compilation time of the distillation kernels.)
    """
    count = nodes.size
    gap = np.zeros(count)
    steps = np.zeros(count, dtype=np.int64)
    threads = min(numba.get_num_threads(), count)
    if threads <= 1:
        _solve_nodes(nodes, start, stop, W, Pc, r, tol, max_iter, gap, steps)
        return gap, steps

    def part(t):
        mine = np.ascontiguousarray(nodes[t::threads])
        g = np.zeros(mine.size)
        k = np.zeros(mine.size, dtype=np.int64)
        _solve_nodes(mine, start, stop, W, Pc, r, tol, max_iter, g, k)
        gap[t::threads], steps[t::threads] = g, k

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(part, range(threads)))
    return gap, steps


def _prefix_problems_start(trie: Trie, ex: _Experts) -> np.ndarray:
    """Uniform weights over the experts alive at each prefix (all K where none is)."""
    alive = (ex.mass > 0).T.astype(np.float64)
    none = alive.sum(axis=1) == 0
    alive[none] = 1.0
    return alive / alive.sum(axis=1, keepdims=True)


def distill_router(
    strings, P, target, tol: float = 1e-10, max_iter: int = 100_000, *, prefix_tol: float = 1e-9
) -> RouterResult:
    r"""Distill a sequence-level model into a causal router (S9).

    Solves min_r KL(p‖q_r) for the ``target`` p (typically the model p_g of a
    gate) and the experts P. By the chain rule, KL(p‖q_r) is a sum over
    prefixes s of p(s) times [Σ_a p(a|s) log p(a|s) − f_s(r(s))], with
    f_s(r) = Σ_a p(a|s) log Σ_k r_k p_k(a|s):

    .. math:: \mathrm{KL}(p\|q_r) = \sum_s p(s) \Big[\sum_a p(a|s)\log p(a|s)
              - f_s(r(s))\Big],\quad f_s(r) = \sum_a p(a|s) \log \sum_k r_k\, p_k(a|s),

    so each prefix s with p(s) > 0 is a separate concave problem over Δ_K,
    solved by Newton and Frank–Wolfe steps with exact line searches (see the
    module docstring) until its certificate
    :math:`\mathrm{gap}(s) = \log \max_k \nabla_k f_s(r(s)) \ge \max f_s - f_s(r(s))`
    is at most :math:`\min(\text{prefix\_tol}, \text{tol} / \sum_s p(s))`. The KL
    excess over the best router is then at most
    :math:`\sum_s p(s)\,\mathrm{gap}(s) \le \text{tol}`, and every router row is
    itself near-optimal, also at prefixes the target rarely visits (they weigh
    little in the KL but decide the student's conditionals there). Prefixes the
    target never reaches keep uniform weights over the experts alive there.

    Parameters
    ----------
    strings : sequence of str, or Trie
        The n distinct strings of X (or a :class:`Trie` already built on them).
    P : array_like, shape (K, n)
        The experts, one distribution on the strings per row.
    target : array_like, shape (n,)
        The model p to distill, a distribution on the same strings.
    tol : float, default 1e-10
        Bound on the certified total gap ``gap_bound``, in nats.
    max_iter : int, default 100000
        Most steps on any single prefix problem.
    prefix_tol : float, default 1e-9
        Bound on the certified gap of every prefix problem, in nats.

    Returns
    -------
    RouterResult
        The router, its student, KL(p‖q_r) with a certified bracket on the
        optimum, the per-prefix gaps and step counts.

    Raises
    ------
    ValueError
        If an argument has the wrong type, shape or values (the message names it).
    theory.InfeasibleError
        If the target puts mass on a string where every expert has probability 0
        (the KL is then infinite for every router).
    FloatingPointError
        If the solve breaks down with NaN (never reported as a KL of 0).

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]])
    >>> res = distill_router(["a", "ab", "b"], P, [0.2, 0.3, 0.5])
    >>> res.converged, round(res.value, 6), res.gap_bound <= 1e-10
    (True, 0.010068, True)
    """
    trie = as_trie(strings)
    ex = _experts(trie, P)
    target = check_distribution(target, "target")
    if target.shape[0] != trie.n:
        raise ValueError(
            f"target: expected {trie.n} entries (one per string), got {target.shape[0]}"
        )
    tol = check_positive(tol, "tol")
    prefix_tol = check_positive(prefix_tol, "prefix_tol")
    max_iter = check_int(max_iter, "max_iter", minimum=0)
    uncovered = (target > 0) & (ex.P.max(axis=0) == 0)
    if uncovered.any():
        i = int(np.argmax(uncovered))
        raise InfeasibleError(
            f"target: infinite KL, it puts mass {target[i]:.3g} on {trie.strings[i]!r} "
            f"(index {i}) where every expert in P has probability 0"
        )
    tmass = trie._mass(target)
    W = trie._conditionals(tmass)
    nodes = trie.internal[tmass[trie.internal] > 0]
    router = _prefix_problems_start(trie, ex)
    node_tol = min(prefix_tol, tol / float(tmass[nodes].sum()))
    # Each next symbol's column of conditionals is divided by its largest entry:
    # f_s changes by a constant, its gradient ratios and certificate not at all, and
    # Σ_k r_k p_k(a|s) no longer underflows when the conditionals are near 1e-323.
    top = ex.cond.max(axis=0)
    scale = np.where(top > 0, top, 1.0)
    cond = ex.cond / scale
    gap, steps = _solve_prefixes(
        nodes, trie.child_start, trie.child_stop, W, cond, router, node_tol, max_iter
    )
    prefix_gap = np.zeros(trie.num_nodes)
    prefix_gap[nodes] = gap
    prefix_steps = np.zeros(trie.num_nodes, dtype=np.int64)
    prefix_steps[nodes] = steps
    mix = np.einsum("ck,kc->c", router[trie.parent], cond)
    student = trie._path_products(mix * scale)[trie.leaf]
    # KL(p‖q_r) from log q_r, sums of log-mixtures along each path: finite even
    # where q_r(x), or one of its factors, underflows to 0.
    with np.errstate(divide="ignore"):
        log_mix = logsumexp(np.log(router[trie.parent]) + np.log(cond.T), axis=1)
        log_student = trie._path_sums(log_mix + np.log(scale))[trie.leaf]
    on = target > 0
    value = float(target[on] @ (np.log(target[on]) - log_student[on]))
    if np.isnan(value) or np.isnan(gap).any():
        # never report a failed solve as KL = 0: max(0, NaN) would be 0
        raise FloatingPointError("distill_router: the router or its certificate became NaN")
    value = max(0.0, value)
    bound = float(tmass[nodes] @ gap)
    return RouterResult(
        router=router,
        student=student,
        value=value,
        kl=value,
        lower=max(0.0, value - bound),
        upper=value,
        gap_bound=bound,
        prefix_gap=prefix_gap,
        prefix_iterations=prefix_steps,
        iterations=int(steps.max(initial=0)),
        converged=bool(np.all(gap <= node_tol)),
    )


def posterior_router(strings, P, z) -> np.ndarray:
    r"""The causal router that reproduces the constant gate g ≡ z exactly (S9).

    w_k(s) = z_k p_k(s) / Σ_j z_j p_j(s), the posterior of the expert index
    after reading the prefix s under the prior z; then
    Σ_k w_k(s) p_k(a|s) = Σ_k z_k p_k(sa) / Σ_j z_j p_j(s) = p_z(a|s), and the
    student is q_w = p_z = Σ_k z_k p_k:

    .. math:: w_k(s) = \frac{z_k\, p_k(s)}{\sum_j z_j\, p_j(s)}, \qquad
              \sum_k w_k(s)\, p_k(a|s) = p_z(a|s).

    Parameters
    ----------
    strings : sequence of str, or Trie
        The n distinct strings of X (or a :class:`Trie` already built on them).
    P : array_like, shape (K, n)
        The experts, one distribution on the strings per row.
    z : array_like, shape (K,)
        The constant gate, a point of Δ_K.

    Returns
    -------
    ndarray, shape (num_nodes, K)
        w(s) at every node; where no expert with z_k > 0 reaches s (a prefix
        p_z never visits) the row is z.

    Raises
    ------
    ValueError
        If an argument has the wrong type, shape or values (the message names it).

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]])
    >>> w = posterior_router(["a", "ab", "b"], P, [0.5, 0.5])
    >>> np.allclose(router_model(["a", "ab", "b"], P, w), [0.3, 0.175, 0.525])
    True
    """
    trie = as_trie(strings)
    ex = _experts(trie, P)
    z = check_weights(z, ex.P.shape[0], "z")
    joint = z[:, None] * ex.mass
    total = joint.sum(axis=0)
    w = np.divide(joint, total, out=np.repeat(z[:, None], trie.num_nodes, axis=1), where=total > 0)
    return np.ascontiguousarray(w.T)


def router_model(strings, P, router) -> np.ndarray:
    r"""The student q_r(x) = Π_t Σ_k r_k(x_<t) p_k(x_t | x_<t) of a causal router (S9).

    .. math:: q_r(x) = \prod_t \sum_k r_k(x_{<t})\, p_k(x_t \mid x_{<t}).

    Parameters
    ----------
    strings : sequence of str, or Trie
        The n distinct strings of X (or a :class:`Trie` already built on them).
    P : array_like, shape (K, n)
        The experts, one distribution on the strings per row.
    router : array_like, shape (num_nodes, K)
        r(s) ∈ Δ_K at every node; at every prefix the student reaches it may only
        weight experts that give the prefix positive probability.

    Returns
    -------
    ndarray, shape (n,)
        q_r on the strings.

    Raises
    ------
    ValueError
        If an argument has the wrong type, shape or values, or the router weights
        an expert that cannot continue a prefix the student reaches.

    Examples
    --------
    A router that always follows expert 2 has expert 2 as its student:

    >>> import numpy as np
    >>> P = np.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]])
    >>> trie = Trie(["a", "ab", "b"])
    >>> router = np.tile([0.0, 1.0], (trie.num_nodes, 1))
    >>> router_model(trie, P, router)
    array([0.1, 0.1, 0.8])
    """
    trie = as_trie(strings)
    ex = _experts(trie, P)
    _, node_mass = _check_router(trie, ex, router)
    return node_mass[trie.leaf]


# ---------------------------------------------------------------------------
# Exact samplers


@dataclass(frozen=True)
class SampleResult:
    """Sampled strings and the number of proposals they cost.

    Returned by :func:`sample_rejection` and :func:`sample_router`.

    Attributes
    ----------
    indices : ndarray of int, shape (size,)
        Indices into the strings of the samples, in the order drawn.
    proposals : int
        Proposals drawn to obtain them (``size`` for the router sampler).
    acceptance_rate : float
        ``size / proposals``.
    """

    indices: np.ndarray
    proposals: int

    @property
    def acceptance_rate(self) -> float:
        """The fraction of proposals accepted."""
        return self.indices.size / self.proposals


def _segment_cdf(values: np.ndarray, segment_start: np.ndarray) -> np.ndarray:
    """Cumulative sums of ``values`` (…, m) restarted at each segment start, with +inf
    from the last positive entry of each segment on.

    The first entry whose cumulative exceeds a uniform u ∈ [0, 1) then always has
    positive weight, even when rounding leaves a segment's total a hair below 1.
    Each segment is summed on its own (one pass per position within a segment),
    so the result keeps full relative precision however many segments there are.
    """
    m = values.shape[-1]
    seg_id = np.zeros(m, dtype=np.int64)
    seg_id[segment_start[1:]] = 1
    seg_id = np.cumsum(seg_id)
    pos = np.arange(m) - segment_start[seg_id]
    cdf = np.array(values, dtype=np.float64)
    for j in range(1, int(pos.max(initial=0)) + 1):
        at = np.flatnonzero(pos == j)
        cdf[..., at] += cdf[..., at - 1]
    seg_end = np.r_[segment_start[1:], m] - 1
    total = cdf[..., seg_end][..., seg_id]
    cdf[(cdf >= total) & (total > 0)] = np.inf
    return cdf


def _path_scores(trie: Trie, cond_t: np.ndarray, x: np.ndarray) -> np.ndarray:
    """p_k(x) for every proposal x and expert k, shape (len(x), K): the product of the
    K experts' next-symbol conditionals along x's path, read one symbol at a time."""
    prob = np.ones((x.size, cond_t.shape[1]))
    node = trie.leaf[x]
    active = np.arange(x.size)
    while active.size:
        nd = node[active]
        prob[active] *= cond_t[nd]
        nd = trie.parent[nd]
        node[active] = nd
        active = active[nd != 0]
    return prob


def sample_rejection(strings, P, gate, size: int, seed=0) -> SampleResult:
    r"""Exact sampling from p_g = Σ_k g_k p_k by rejection (S9).

    Proposal x ~ (1/K) Σ_k p_k (an expert k uniformly, then x ~ p_k by inverse
    CDF); acceptance with probability p_g(x) / Σ_k p_k(x) ≤ 1 (since p_g never
    exceeds the largest expert). For a normalized gate (Z(g) = Σ_x p_g(x) = 1)
    the accepted x has law p_g and the acceptance rate is exactly 1/K:

    .. math:: \sum_x \frac1K \sum_k p_k(x)\, \frac{p_g(x)}{\sum_k p_k(x)} = \frac1K.

    Cost model: each proposal is scored under all K experts symbol by symbol,
    as the product of their next-symbol conditionals along its path in the trie
    (K evaluations per symbol, like the router), not by a lookup in the table P.
    Proposals are drawn in vectorized batches; ``proposals`` counts those a
    one-at-a-time sampler would have drawn up to the ``size``-th acceptance.

    Parameters
    ----------
    strings : sequence of str, or Trie
        The n distinct strings of X (or a :class:`Trie` already built on them).
    P : array_like, shape (K, n)
        The experts, one distribution on the strings per row.
    gate : array_like, shape (K, n)
        A normalized gate: every column g(x) on Δ_K and Z(g) = Σ_x p_g(x) = 1.
    size : int
        Number of samples, ≥ 1.
    seed : int, sequence of int or numpy.random.Generator, default 0
        Seed of the random generator (checked by :func:`theory.validation.check_seed`).

    Returns
    -------
    SampleResult
        The accepted strings and the proposals drawn.

    Raises
    ------
    ValueError
        If an argument has the wrong type, shape or values (the message names it), or
        if Z(g) ≠ 1.

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]])
    >>> gate = np.full((2, 3), 0.5)  # the constant gate z = (1/2, 1/2)
    >>> samples = sample_rejection(["a", "ab", "b"], P, gate, size=2000, seed=0)
    >>> round(samples.acceptance_rate, 2)  # 1/K
    0.49
    >>> np.bincount(samples.indices, minlength=3) / 2000  # p_g = (0.3, 0.175, 0.525)
    array([0.295 , 0.1815, 0.5235])
    """
    trie = as_trie(strings)
    ex = _experts(trie, P)
    g = check_gate(gate, ex.P)
    Z = float(np.einsum("kn,kn->", g, ex.P))
    if abs(Z - 1.0) > SUM_TOL:
        raise ValueError(
            f"gate: exact rejection sampling needs a normalized gate (Z(g) = 1, as in T2), "
            f"got Z = {Z!r}"
        )
    size = check_int(size, "size")
    check_allocation((size,), "size")
    rng = check_seed(seed)
    K = ex.P.shape[0]
    cdf = np.cumsum(ex.P, axis=1)
    cdf[cdf >= cdf[:, -1:]] = np.inf
    cond_t = np.ascontiguousarray(ex.cond.T)
    kept, proposals, need = [], 0, size
    while need:
        batch = int(min(1 << 16, max(1024, 1.1 * K * need)))
        k = rng.integers(K, size=batch)
        u = rng.random(batch)
        x = np.empty(batch, dtype=np.int64)
        for j in range(K):
            mine = np.flatnonzero(k == j)
            x[mine] = np.searchsorted(cdf[j], u[mine], side="right")
        score = _path_scores(trie, cond_t, x)
        pg = np.einsum("bk,kb->b", score, g[:, x])
        hits = np.flatnonzero(rng.random(batch) * score.sum(axis=1) < pg)
        if hits.size >= need:
            proposals += int(hits[need - 1]) + 1
            kept.append(x[hits[:need]])
            need = 0
        else:
            proposals += batch
            kept.append(x[hits])
            need -= hits.size
    return SampleResult(np.concatenate(kept), proposals)


def sample_router(strings, P, router, size: int, seed=0) -> SampleResult:
    r"""Exact ancestral sampling from the student q_r of a causal router (S9).

    Each sample walks down the trie from the root, one symbol at a time. At a
    prefix s it reads the K router weights r(s) to draw an expert k ~ r(s) (the
    K next-symbol evaluations per symbol) and then draws the next symbol a with
    probability p_k(a|s), by a binary search in expert k's conditional CDF over
    the children of s; the pair has law Σ_k r_k(s) p_k(a|s) = q_r(a|s):

    .. math:: \Pr(a \mid s) = \sum_k r_k(s)\, p_k(a \mid s) = q_r(a \mid s).

    The walks run in a compiled loop fed by the generator seeded with ``seed``.

    Parameters
    ----------
    strings : sequence of str, or Trie
        The n distinct strings of X (or a :class:`Trie` already built on them).
    P : array_like, shape (K, n)
        The experts, one distribution on the strings per row.
    router : array_like, shape (num_nodes, K)
        A causal router, as for :func:`router_model`.
    size : int
        Number of samples, ≥ 1.
    seed : int, sequence of int or numpy.random.Generator, default 0
        Seed of the random generator (checked by :func:`theory.validation.check_seed`).

    Returns
    -------
    SampleResult
        The sampled strings; ``proposals`` = ``size``.

    Raises
    ------
    ValueError
        If an argument has the wrong type, shape or values (the message names it).

    Examples
    --------
    See the module example.
    """
    trie = as_trie(strings)
    ex = _experts(trie, P)
    r, _ = _check_router(trie, ex, router)
    size = check_int(size, "size")
    check_allocation((size,), "size")
    rng = check_seed(seed)
    K = ex.P.shape[0]
    # Only experts alive at s may be drawn there (validation made their weights sum to 1).
    r_cdf = _segment_cdf((r * (ex.mass > 0).T).ravel(), np.arange(0, r.size, K))
    cdf = _segment_cdf(ex.cond[:, 1:], trie.child_start[trie.internal] - 1)
    out = _ancestral(
        r_cdf.reshape(r.shape), cdf, trie.child_start, trie.child_stop, trie.string_index, size, rng
    )
    return SampleResult(out, size)


@numba.njit(cache=True, nogil=True)
def _ancestral(r_cdf, cdf, child_start, child_stop, string_index, size, rng):
    """``size`` walks from the root: at node s draw k by scanning the K entries of
    ``r_cdf[s]``, then a child by binary search in ``cdf[k]`` over the children of s,
    until a leaf; returns the leaves' string indices. Column j of ``cdf`` is node j + 1."""
    out = np.empty(size, dtype=np.int64)
    for i in range(size):
        s = 0
        while string_index[s] < 0:
            u = rng.random()
            k = 0
            while r_cdf[s, k] <= u:
                k += 1
            u = rng.random()
            lo, hi = child_start[s] - 1, child_stop[s] - 2
            while lo < hi:
                mid = (lo + hi) >> 1
                if cdf[k, mid] <= u:
                    lo = mid + 1
                else:
                    hi = mid
            s = lo + 1
        out[i] = string_index[s]
    return out
