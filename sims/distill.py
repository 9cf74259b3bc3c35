r"""Structural distillation into a causal router, and exact samplers (THEORY §9).

X is a finite set of strings, each a complete sequence closed by an implicit
end symbol, organized as a prefix trie. Every q ∈ Δ(X) has prefix masses q(s)
and next-symbol conditionals q(a|s) = q(sa)/q(s); the end symbol is a symbol
like the others, so "ab" and "abc" are distinct outcomes and "ab" is also a
prefix of "abc". A causal router r maps prefixes to Δ_K and defines the student

.. math:: q_r(x) = \prod_t \sum_k r_k(x_{<t})\, p_k(x_t \mid x_{<t}).

* Constant gates g ≡ z are reproduced exactly by the posterior router
  :math:`w_k(s) = z_k p_k(s) / \sum_j z_j p_j(s)` (:func:`posterior_router`).
* A sequence-level target p_g is distilled by minimizing KL(p_g‖q_r), which
  splits over prefixes into concave problems solved by EM with a certified
  optimality gap (:func:`distill_router`).
* Exact samples of p_g come either from rejection sampling against the uniform
  mixture of the experts (:func:`sample_rejection`, acceptance rate 1/K) or,
  for a router, ancestrally along the trie (:func:`sample_router`).

Trie nodes are numbered level by level (root = 0), and inside a level by
(parent, symbol); the children of every node are therefore contiguous, and all
per-node quantities are flat arrays indexed by node.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numba
import numpy as np

from theory._kernels import kl_rows as _kl_rows
from theory.gates import check_gate
from theory.validation import (
    SUM_TOL,
    InfeasibleError,
    check_distribution,
    check_int,
    check_positive,
    check_seed,
    check_stack,
    check_weights,
)

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


class Trie:
    r"""The prefix trie of a finite set of strings, stored as flat node arrays.

    Node 0 is the root (the empty prefix); every other node c is a prefix
    ``s + a`` of some string, with ``parent[c]`` the node of s and ``symbol[c]``
    the id of a (0 is the end symbol, ``i ≥ 1`` is ``alphabet[i - 1]``). A node
    whose symbol is the end symbol is a leaf: the complete string
    ``strings[string_index[c]]``. ``leaf[i]`` is the leaf node of string i.
    The root is its own parent, so walks towards the root can overshoot safely.

    Building is vectorized level by level (one ``np.unique`` per level) and
    every query is a pass over the levels, without per-node Python objects.
    """

    def __init__(self, strings: Iterable[str]):
        if isinstance(strings, str):
            raise ValueError("strings: expected a collection of str, got a single str")
        try:
            strings = tuple(strings)
        except TypeError as exc:
            raise ValueError(
                f"strings: expected a collection of str, got {type(strings).__name__}"
            ) from exc
        if not strings:
            raise ValueError("strings: expected a non-empty collection of strings, got none")
        for i, s in enumerate(strings):
            if not isinstance(s, str):
                raise ValueError(f"strings: element {i} is a {type(s).__name__}, expected str")
        n = len(strings)
        lengths = np.fromiter(map(len, strings), dtype=np.int64, count=n)
        flat = np.frombuffer("".join(strings).encode("utf-32-le"), dtype=np.uint32)
        chars, flat_ids = np.unique(flat, return_inverse=True)
        width = chars.size + 1
        codes = np.zeros((n, int(lengths.max()) + 1), dtype=np.int64)
        rows = np.repeat(np.arange(n), lengths)
        cols = np.arange(flat.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        codes[rows, cols] = flat_ids + 1

        cur = np.zeros(n, dtype=np.int64)
        leaf = np.empty(n, dtype=np.int64)
        parents, symbols, starts = [np.zeros(1, np.int64)], [np.full(1, -1, np.int64)], [0, 1]
        for d in range(1, codes.shape[1] + 1):
            alive = np.flatnonzero(lengths >= d - 1)
            sym = codes[alive, d - 1]
            keys, inv = np.unique(cur[alive] * width + sym, return_inverse=True)
            cur[alive] = starts[-1] + inv
            ended = sym == 0
            leaf[alive[ended]] = cur[alive[ended]]
            parents.append(keys // width)
            symbols.append(keys % width)
            starts.append(starts[-1] + keys.size)

        order = np.argsort(leaf, kind="stable")
        same = np.flatnonzero(leaf[order][1:] == leaf[order][:-1])
        if same.size:
            i, j = sorted((int(order[same[0]]), int(order[same[0] + 1])))
            raise ValueError(
                f"strings: must be distinct, {strings[i]!r} appears at positions {i} and {j}"
            )

        self.strings = strings
        self.alphabet = tuple(chr(c) for c in chars)
        self.n = n
        self.parent = np.concatenate(parents)
        self.symbol = np.concatenate(symbols)
        self.level_start = np.asarray(starts, dtype=np.int64)
        self.num_nodes = int(self.level_start[-1])
        self.max_depth = self.level_start.size - 2
        self.depth = np.repeat(np.arange(self.max_depth + 1), np.diff(self.level_start))
        self.leaf = leaf
        self.string_index = np.full(self.num_nodes, -1, dtype=np.int64)
        self.string_index[leaf] = np.arange(n)
        ids = np.arange(self.num_nodes)
        self.child_start = np.searchsorted(self.parent[1:], ids, side="left") + 1
        self.child_stop = np.searchsorted(self.parent[1:], ids, side="right") + 1
        self.internal = np.flatnonzero(self.child_stop > self.child_start)
        # Per level d ≥ 1: the segments of equal parent, for summing children into parents.
        self._segments = []
        for d in range(1, self.max_depth + 1):
            lo, hi = int(self.level_start[d]), int(self.level_start[d + 1])
            p = self.parent[lo:hi]
            seg = np.flatnonzero(np.r_[True, p[1:] != p[:-1]])
            self._segments.append((lo, hi, seg, p[seg]))
        for a in (
            self.parent,
            self.symbol,
            self.depth,
            self.leaf,
            self.string_index,
            self.child_start,
            self.child_stop,
            self.internal,
            self.level_start,
        ):
            a.setflags(write=False)

    def __repr__(self) -> str:
        return (
            f"Trie(n={self.n}, num_nodes={self.num_nodes}, max_depth={self.max_depth}, "
            f"alphabet={''.join(self.alphabet)!r})"
        )

    def prefix(self, node: int) -> str:
        """The prefix spelled by ``node`` (a leaf's end symbol is written ``'$'``)."""
        node = check_int(node, "node", minimum=0)
        if node >= self.num_nodes:
            raise ValueError(f"node: expected an index < {self.num_nodes}, got {node}")
        out = []
        while node:
            a = int(self.symbol[node])
            out.append(self.alphabet[a - 1] if a else "$")
            node = int(self.parent[node])
        return "".join(reversed(out))

    def _check_values(self, q, name: str) -> np.ndarray:
        q = check_distribution(q, name) if np.ndim(q) == 1 else check_stack(q, name)
        if q.shape[-1] != self.n:
            raise ValueError(
                f"{name}: expected {self.n} entries per row (one per string), got {q.shape[-1]}"
            )
        return q

    def _mass(self, q: np.ndarray) -> np.ndarray:
        mass = np.zeros(q.shape[:-1] + (self.num_nodes,))
        mass[..., self.leaf] = q
        for lo, hi, seg, owners in reversed(self._segments):
            mass[..., owners] = np.add.reduceat(mass[..., lo:hi], seg, axis=-1)
        return mass

    def _conditionals(self, mass: np.ndarray) -> np.ndarray:
        up = mass[..., self.parent]
        return np.divide(mass, up, out=np.zeros_like(mass), where=up > 0)

    def _path_products(self, cond: np.ndarray) -> np.ndarray:
        prob = np.array(cond, dtype=np.float64)
        prob[..., 0] = 1.0
        for lo, hi, _, _ in self._segments:
            prob[..., lo:hi] *= prob[..., self.parent[lo:hi]]
        return prob

    def prefix_mass(self, q) -> np.ndarray:
        r"""Prefix masses :math:`q(s) = \sum_{x \succeq s} q(x)` of every node (THEORY §9).

        ``q`` is a distribution on the strings, shape (n,), or a stack (K, n);
        the result has shape (num_nodes,) or (K, num_nodes), with q(root) = 1 and
        q(leaf of x) = q(x). Children are summed into parents level by level.
        """
        return self._mass(self._check_values(q, "q"))

    def conditionals(self, q) -> np.ndarray:
        r"""Next-symbol conditionals :math:`q(a|s) = q(sa)/q(s)`, stored at the child node sa.

        Shape (num_nodes,) or (K, num_nodes); the root holds 1. Where q(s) = 0
        the conditionals are 0: such a prefix carries no mass, so the convention
        never changes a sequence probability, and an expert with p_k(s) = 0
        offers nothing to a router at s.
        """
        return self._conditionals(self._mass(self._check_values(q, "q")))

    def sequence_probability(self, cond) -> np.ndarray:
        r"""Reconstruct :math:`q(x) = \prod_t q(x_t \mid x_{<t})` from per-node conditionals.

        ``cond`` has shape (num_nodes,) or (K, num_nodes), one value per node
        (the conditional of the edge into it; the root's entry is ignored).
        Returns shape (n,) or (K, n). Inverse of :meth:`conditionals` on Δ(X).
        """
        try:
            c = np.asarray(cond, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError("cond: expected an array of real numbers") from exc
        if c.ndim not in (1, 2) or c.shape[-1] != self.num_nodes:
            raise ValueError(
                f"cond: expected shape (num_nodes,) or (K, num_nodes) with "
                f"num_nodes = {self.num_nodes}, got {c.shape}"
            )
        if not np.all(np.isfinite(c)) or np.any(c < 0):
            raise ValueError("cond: entries must be finite and non-negative")
        return self._path_products(c)[..., self.leaf]


def _as_trie(strings) -> Trie:
    return strings if isinstance(strings, Trie) else Trie(strings)


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
    try:
        r = np.asarray(router, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError("router: expected a (num_nodes, K) array of real numbers") from exc
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
class RouterResult:
    """A distilled causal router and its certificate (THEORY §9).

    ``router`` (num_nodes, K): r(s) at every node (rows of leaves are unused and
    uniform); ``student`` (n,): q_r; ``kl`` = KL(target‖q_r); ``gap_bound``:
    Σ_s target(s)·gap(s), an upper bound on ``kl`` − min_r KL(target‖q_r);
    ``lower`` = max(0, kl − gap_bound) ≤ min_r KL ≤ ``kl``; ``prefix_gap``
    (num_nodes,): the per-prefix optimality gap bound; ``iterations``: the most
    solver steps (Newton or EM) spent on one prefix; ``converged``: gap_bound ≤ tol.
    """

    router: np.ndarray
    student: np.ndarray
    kl: float
    lower: float
    gap_bound: float
    prefix_gap: np.ndarray
    iterations: int
    converged: bool


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _prefix_eval(lo, hi, W, Pc, r, grad, hess):
    """f(r) = Σ_a W_a log m_a (m = Σ_k r_k Pc_k) over the children lo..hi-1 of one
    prefix, with its gradient and Hessian written into ``grad`` and ``hess``."""
    K = Pc.shape[0]
    grad[:] = 0.0
    hess[:] = 0.0
    f = 0.0
    for c in range(lo, hi):
        w = W[c]
        if w > 0.0:
            mix = 0.0
            for k in range(K):
                mix += r[k] * Pc[k, c]
            f += w * np.log(mix)
            ratio = w / mix
            for k in range(K):
                grad[k] += ratio * Pc[k, c]
                for j in range(K):
                    hess[k, j] -= ratio / mix * Pc[k, c] * Pc[j, c]
    return f


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _newton_direction(hess, grad, free, nf):
    """The Newton ascent direction of f on the face {Σ_k d_k = 0, d_k = 0 off ``free[:nf]``}:
    the solution d of −H d + ν 1 = ∇f, 1·d = 0 restricted to the free experts."""
    A = np.zeros((nf + 1, nf + 1))
    b = np.zeros(nf + 1)
    for a in range(nf):
        for c in range(nf):
            A[a, c] = -hess[free[a], free[c]]
        A[a, nf] = 1.0
        A[nf, a] = 1.0
        b[a] = grad[free[a]]
    # When the experts' conditionals are collinear at s (always when K exceeds the
    # number of children) the system is singular but consistent: ∇f lies in the span
    # of the vectors (p_k(a|s))_k that also span the range of the Hessian. The
    # minimum-norm solution is then the Newton step within that range; a ridge
    # instead would send the step far along the flat directions.
    sol = np.linalg.lstsq(A, b, rcond=1e-13)[0]
    d = np.zeros(grad.size)
    for a in range(nf):
        d[free[a]] = sol[a]
    return d


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _solve_prefix(lo, hi, W, Pc, x, tol, max_iter):
    """Maximize f(r) = Σ_a W_a log Σ_k r_k Pc_k(a) over Δ_K from ``x`` (children lo..hi-1).

    Each step is a Newton step on the face of the active experts (those with
    r_k > 0 or ∇_k > r·∇), with a backtracking line search that keeps f
    non-decreasing; when it fails to increase f the step is the EM update
    r_k ← r_k ∇_k / r·∇ instead, which always does. Newton matters at prefixes
    where the experts' conditionals nearly coincide: there EM's linear rate is
    arbitrarily close to 1. Stops when the certified gap
    (r·∇) log(max_k ∇_k / r·∇) ≥ f(r*) − f(r) is ≤ tol. Returns the final
    weights, their gap and the number of steps.
    """
    K = Pc.shape[0]
    grad, hess = np.empty(K), np.empty((K, K))
    grad2, hess2 = np.empty(K), np.empty((K, K))
    free = np.empty(K, dtype=np.int64)
    f = _prefix_eval(lo, hi, W, Pc, x, grad, hess)
    it = 0
    while True:
        dot = np.sum(x * grad)
        g = dot * np.log(np.max(grad) / dot)
        if g <= tol or it >= max_iter:
            break
        it += 1
        nf = 0
        for k in range(K):
            if x[k] > 0.0 or grad[k] > dot:
                free[nf] = k
                nf += 1
        d = _newton_direction(hess, grad, free, nf)
        # An expert at weight 0 that the step would push negative is held at 0 and the
        # step recomputed without it; otherwise the step length would be 0 at once.
        while True:
            kept = 0
            for a in range(nf):
                if x[free[a]] > 0.0 or d[free[a]] >= 0.0:
                    free[kept] = free[a]
                    kept += 1
            if kept == nf:
                break
            nf = kept
            d = _newton_direction(hess, grad, free, nf)
        slope = np.sum(grad * d)
        accepted = False
        if slope > 0.0 and np.all(np.isfinite(d)):
            tmax, block = np.inf, -1
            for k in range(K):
                if d[k] < 0.0 and -x[k] / d[k] < tmax:
                    tmax, block = -x[k] / d[k], k
            t = min(1.0, tmax)
            for _ in range(40):
                y = np.maximum(x + t * d, 0.0)
                if t == tmax:
                    y[block] = 0.0
                y /= np.sum(y)
                fy = _prefix_eval(lo, hi, W, Pc, y, grad2, hess2)
                # Accept sufficient ascent, or no loss beyond rounding of f.
                if fy >= f + 1e-4 * t * slope or (t == 1.0 and fy >= f + 1e-15 * f):
                    accepted = True
                    break
                t *= 0.5
        if not accepted:
            y = x * grad / dot
            fy = _prefix_eval(lo, hi, W, Pc, y, grad2, hess2)
        x, grad, hess, grad2, hess2 = y, grad2, hess2, grad, hess
        f = fy
    return x, max(g, 0.0), it


# The per-prefix solver is a separate function so that its work arrays are private to
# each prefix: inside a prange body numba may hoist such allocations out of the loop.
@numba.njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def _em_prefixes(nodes, start, stop, W, Pc, r, tol, max_iter):
    """Solve every prefix problem of ``nodes`` with :func:`_solve_prefix`, in place on r;
    returns the per-prefix gaps and step counts."""
    m = nodes.size
    gap = np.zeros(m)
    steps = np.zeros(m, dtype=np.int64)
    for i in numba.prange(m):
        s = nodes[i]
        r[s], gap[i], steps[i] = _solve_prefix(start[s], stop[s], W, Pc, r[s].copy(), tol, max_iter)
    return gap, steps


def _prefix_problems_start(trie: Trie, ex: _Experts) -> np.ndarray:
    """Uniform weights over the experts alive at each prefix (all K where none is)."""
    alive = (ex.mass > 0).T.astype(np.float64)
    none = alive.sum(axis=1) == 0
    alive[none] = 1.0
    return alive / alive.sum(axis=1, keepdims=True)


def distill_router(strings, P, target, tol: float = 1e-10, max_iter: int = 100_000) -> RouterResult:
    r"""Distill a sequence-level model into a causal router (THEORY §9).

    Solves :math:`\min_r \mathrm{KL}(p\|q_r)` for the ``target`` p (n,) and the
    experts P (K, n). By the chain rule

    .. math:: \mathrm{KL}(p\|q_r) = \sum_s p(s) \Big[\sum_a p(a|s)\log p(a|s)
              - f_s(r(s))\Big],\quad f_s(r) = \sum_a p(a|s) \log \sum_k r_k\, p_k(a|s),

    so each prefix s with p(s) > 0 is a separate concave problem over Δ_K,
    solved by the monotone EM update
    :math:`r_k \leftarrow r_k \nabla_k f_s(r)`, with
    :math:`\nabla_k f_s(r) = \sum_a p(a|s)\, p_k(a|s) / \sum_j r_j p_j(a|s)`
    and :math:`r \cdot \nabla f_s(r) = 1`. Jensen's inequality gives the certificate
    :math:`f_s(r^*) - f_s(r) = \sum_a p(a|s) \log \frac{m^*_a}{m_a}
    \le \log \sum_k r^*_k \nabla_k f_s(r) \le \log \max_k \nabla_k f_s(r) =: \mathrm{gap}(s)`
    (m the mixed conditionals), and the KL excess is at most :math:`\sum_s p(s)\,\mathrm{gap}(s)`. Every
    prefix is iterated until gap(s) ≤ tol / Σ_s p(s), which bounds the total by
    ``tol``. Prefixes the target never reaches keep uniform weights over the
    experts alive there.

    ``strings`` may be a :class:`Trie` already built on the strings. Raises
    :class:`~theory.InfeasibleError` if the target puts mass on a string where
    every expert has probability 0 (the KL is then infinite for every router).
    """
    trie = _as_trie(strings)
    ex = _experts(trie, P)
    target = check_distribution(target, "target")
    if target.shape[0] != trie.n:
        raise ValueError(
            f"target: expected {trie.n} entries (one per string), got {target.shape[0]}"
        )
    tol = check_positive(tol, "tol")
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
    per_node_tol = tol / float(tmass[nodes].sum())
    gap, steps = _em_prefixes(
        nodes, trie.child_start, trie.child_stop, W, ex.cond, router, per_node_tol, max_iter
    )
    prefix_gap = np.zeros(trie.num_nodes)
    prefix_gap[nodes] = gap
    edges = np.einsum("ck,kc->c", router[trie.parent], ex.cond)
    student = trie._path_products(edges)[trie.leaf]
    # KL ≥ 0 exactly (Gibbs); a negative value is rounding in a student summing to 1 ± ε.
    kl = max(0.0, float(_kl_rows(target[None, :], student)[0]))
    bound = float(tmass[nodes] @ gap)
    return RouterResult(
        router=router,
        student=student,
        kl=kl,
        lower=max(0.0, kl - bound),
        gap_bound=bound,
        prefix_gap=prefix_gap,
        iterations=int(steps.max(initial=0)),
        converged=bool(bound <= tol),
    )


def posterior_router(strings, P, z) -> np.ndarray:
    r"""The causal router that reproduces the constant gate g ≡ z exactly (THEORY §9).

    :math:`w_k(s) = z_k\, p_k(s) / \sum_j z_j\, p_j(s)`, the posterior of the
    expert index after reading the prefix s under the prior z; then
    :math:`\sum_k w_k(s) p_k(a|s) = \sum_k z_k p_k(sa) / \sum_j z_j p_j(s) = p_z(a|s)`
    and the student is :math:`q_w = p_z = \sum_k z_k p_k`. Returns (num_nodes, K);
    where no expert with z_k > 0 reaches s (a prefix p_z never visits) the row is z.
    """
    trie = _as_trie(strings)
    ex = _experts(trie, P)
    z = check_weights(z, ex.P.shape[0], "z")
    joint = z[:, None] * ex.mass
    total = joint.sum(axis=0)
    w = np.divide(joint, total, out=np.repeat(z[:, None], trie.num_nodes, axis=1), where=total > 0)
    return np.ascontiguousarray(w.T)


def router_model(strings, P, router) -> np.ndarray:
    r"""The student :math:`q_r(x) = \prod_t \sum_k r_k(x_{<t})\, p_k(x_t|x_{<t})`, shape (n,)."""
    trie = _as_trie(strings)
    ex = _experts(trie, P)
    _, node_mass = _check_router(trie, ex, router)
    return node_mass[trie.leaf]


# ---------------------------------------------------------------------------
# Exact samplers


@dataclass(frozen=True)
class SampleResult:
    """Sampled string indices (size,) and the number of proposals they cost.

    ``acceptance_rate`` = size / proposals (1 for the router sampler).
    """

    indices: np.ndarray
    proposals: int

    @property
    def acceptance_rate(self) -> float:
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
    r"""Exact sampling from :math:`p_g = \sum_k g_k p_k` by rejection (THEORY §9).

    Proposal :math:`x \sim \frac1K \sum_k p_k` (an expert k uniformly, then x ~ p_k
    by inverse CDF); acceptance with probability
    :math:`p_g(x) / \sum_k p_k(x) \le 1`. For a normalized gate (Z(g) = 1) the
    accepted x has law p_g and the acceptance rate is exactly
    :math:`\sum_x \frac1K \sum_k p_k(x)\, \frac{p_g(x)}{\sum_k p_k(x)} = \frac1K`.

    Cost model: each proposal is scored under all K experts symbol by symbol,
    as the product of their next-symbol conditionals along its path in the trie
    (K evaluations per symbol, like the router), not by a lookup in the table P.
    Proposals are drawn in vectorized batches; ``proposals`` counts those a
    one-at-a-time sampler would have drawn up to the ``size``-th acceptance.
    """
    trie = _as_trie(strings)
    ex = _experts(trie, P)
    g = check_gate(gate, ex.P)
    Z = float(np.einsum("kn,kn->", g, ex.P))
    if abs(Z - 1.0) > SUM_TOL:
        raise ValueError(
            f"gate: exact rejection sampling needs a normalized gate (Z(g) = 1, THEORY §2), "
            f"got Z = {Z!r}"
        )
    size = check_int(size, "size")
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
    r"""Exact ancestral sampling from the student q_r of a causal router (THEORY §9).

    Each sample walks down the trie from the root, one symbol at a time. At a
    prefix s it reads the K router weights r(s) to draw an expert k ~ r(s) (the
    K next-symbol evaluations per symbol) and then draws the next symbol
    a ~ p_k(·|s) by a binary search in expert k's conditional CDF over the
    children of s; the pair has law :math:`\sum_k r_k(s) p_k(a|s) = q_r(a|s)`.
    The walks run in a compiled loop fed by the generator seeded with ``seed``.
    Returns the indices of the sampled strings.
    """
    trie = _as_trie(strings)
    ex = _experts(trie, P)
    r, _ = _check_router(trie, ex, router)
    size = check_int(size, "size")
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
