r"""Adversarial instances: the corners where exact solvers break first.

Generators shared by ``modgate verify`` and the test suite. Each takes a numpy
``Generator`` (or a seed) and returns a valid instance (rows on the simplex)
that a correct implementation must handle with its usual guarantees: certified
bounds, no NaN, clear errors only for genuinely invalid input.

Families of domain/expert pairs (:data:`FAMILIES`, drawn by :func:`pair`):

``random``
    Dirichlet(0.5) rows, the baseline.
``zeros``
    Half of every row set to 0, so that 0·log 0 = 0 is used everywhere.
``disjoint``
    Domains with pairwise disjoint supports (JSD_λ = H(λ), capacity log K).
``dominated``
    Domain K is a strict mixture of the others: an input of the channel k → x
    that no capacity-achieving law uses (λ*_K = 0, T6).
``duplicated``
    Two identical domains: λ* is not unique, the value and q* are.
``perfect``
    Experts equal to the domains (V*(Δ_K) is the capacity, T6).
``useless``
    All experts equal: the envelope M is a single point, the gate is irrelevant.
``tiny``
    Probabilities down to the smallest subnormal (:func:`tiny_probabilities`).
``single domain``
    K = 1 (the only mixture is λ = (1)).
``single point``
    n = 1 (every distribution is (1)).

Other generators: :func:`zeros_against_infinity` (pairs p, q with KL(p‖q) = +∞
while p has zeros elsewhere), :func:`boundary_mixtures` (sets Λ that touch the
boundary of the simplex) and :func:`tied_vertices` (polytopes and directions
where several vertices tie for the maximum).
"""

from __future__ import annotations

import numpy as np

from theory.mixtures import Box, KLBall, L1Ball, L2Ball, Polytope, Simplex
from theory.validation import check_int, check_seed

__all__ = [
    "FAMILIES",
    "SMALLEST",
    "boundary_mixtures",
    "pair",
    "tied_vertices",
    "tiny_probabilities",
    "zeros_against_infinity",
]

#: The smallest positive float64 (a subnormal).
SMALLEST = float(np.nextafter(0.0, 1.0))

#: The adversarial families of :func:`pair`, in a fixed order.
FAMILIES = (
    "random",
    "zeros",
    "disjoint",
    "dominated",
    "duplicated",
    "perfect",
    "useless",
    "tiny",
    "single domain",
    "single point",
)


def tiny_probabilities(rng, K: int, n: int, share: float = 0.4) -> tuple[np.ndarray, np.ndarray]:
    r"""Domains D and experts P (both (K, n)) with many probabilities between 5e-324 and 1e-150.

    Each row starts as a Dirichlet(0.7) draw; a fraction ``share`` of its entries
    is replaced by :math:`10^{-u}`, u uniform in [150, 323.3] (a fifth of them by
    the smallest subnormal 5e-324), and the row is renormalized. Logs of such
    entries are as low as −744, their ratios overflow, and water levels reach
    1e258: the instances exercise every underflow path of the solvers (T3–T6).
    """
    rng = check_seed(rng)
    K = check_int(K, "K")
    n = check_int(n, "n")

    def stack() -> np.ndarray:
        A = rng.dirichlet(np.full(n, 0.7), size=K)
        mask = rng.random((K, n)) < share
        A[mask] = 10.0 ** rng.uniform(-323.3, -150.0, size=int(mask.sum()))
        A[mask & (rng.random((K, n)) < 0.2)] = SMALLEST
        return A / A.sum(axis=1, keepdims=True)

    return stack(), stack()


def _rows(rng, K: int, n: int, alpha: float = 0.5) -> np.ndarray:
    return rng.dirichlet(np.full(n, alpha), size=K)


def _with_zeros(rng, K: int, n: int) -> np.ndarray:
    """Rows with about half of their entries exactly 0 (each keeps at least one point)."""
    A = _rows(rng, K, n) * (rng.random((K, n)) < 0.5)
    A[np.arange(K), rng.integers(0, n, K)] += 0.1
    return A / A.sum(axis=1, keepdims=True)


def _disjoint(rng, K: int, n: int) -> np.ndarray:
    """K rows with pairwise disjoint supports on n ≥ K points (each point owned by one row)."""
    owner = np.concatenate([np.arange(K), rng.integers(0, K, n - K)])
    rng.shuffle(owner)
    A = (rng.random((K, n)) + 0.05) * (owner[None, :] == np.arange(K)[:, None])
    return A / A.sum(axis=1, keepdims=True)


def _dominated(rng, K: int, n: int) -> np.ndarray:
    """K − 1 random rows and, last, a mixture of them with every weight ≥ 0.1 (strictly inside)."""
    A = _rows(rng, K - 1, n, 1.0)
    w = 0.1 + rng.dirichlet(np.ones(K - 1)) * (1.0 - 0.1 * (K - 1))
    return np.vstack([A, w @ A])


def pair(rng, family: str, K: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Domains D and experts P, both (K, n), of the adversarial ``family`` (see :data:`FAMILIES`).

    Unless the family fixes them (``perfect``, ``useless``), the experts keep
    40 % of their own domain's mass, :math:`p_k = 0.6\,r_k + 0.4\,D_k` with r_k a
    row of the same family, so that every expert covers its domain and the
    regret objectives are finite. ``single domain`` ignores K (uses 1),
    ``single point`` ignores n (uses 1); ``disjoint`` uses max(n, K) points and
    ``dominated`` at least K = 3 domains.

    Parameters
    ----------
    rng : numpy Generator or int seed
    family : str
        One of :data:`FAMILIES`.
    K, n : int ≥ 1
        Number of domains and size of the alphabet.

    Returns
    -------
    D, P : ndarray, shape (K, n)

    Raises
    ------
    ValueError
        If ``family`` is not one of :data:`FAMILIES` or K, n < 1.
    """
    rng = check_seed(rng)
    K = check_int(K, "K")
    n = check_int(n, "n")
    if family not in FAMILIES:
        raise ValueError(f"family: expected one of {', '.join(FAMILIES)}, got {family!r}")
    if family == "tiny":
        return tiny_probabilities(rng, K, n)
    if family == "single domain":
        K = 1
    if family == "single point":
        n = 1
    if family == "disjoint":
        n = max(n, K)
    if family == "dominated":
        K = max(K, 3)
    make = {
        "zeros": _with_zeros,
        "disjoint": _disjoint,
        "dominated": _dominated,
    }.get(family, _rows)
    D = make(rng, K, n)
    if family == "duplicated" and K >= 2:
        D[1] = D[0]
    if family == "perfect":
        return D, D.copy()
    if family == "useless":
        return D, np.repeat(_rows(rng, 1, n, 1.0), K, axis=0)
    P = 0.6 * make(rng, K, n) + 0.4 * D
    return D, P / P.sum(axis=1, keepdims=True)


def zeros_against_infinity(rng, n: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Distributions p, q on n ≥ 2 points with KL(p‖q) = +∞ and zeros of p elsewhere.

    p puts mass on a point where q is 0 (the +∞ convention), and both have
    zeros on other points (0·log 0 = 0 and 0·log(0/q) = 0 must not turn the
    sum into NaN). About a third of p's zeros fall where q is 0 too.
    """
    rng = check_seed(rng)
    n = check_int(n, "n", minimum=2)
    p = rng.dirichlet(np.full(n, 0.7)) * (rng.random(n) < 0.6)
    q = rng.dirichlet(np.full(n, 0.7)) * (rng.random(n) < 0.6)
    x, y = rng.choice(n, 2, replace=False)
    p[x], q[x] = max(p[x], 0.1), 0.0  # p > 0 = q: KL = +inf
    p[y], q[y] = 0.0, max(q[y], 0.1)  # a zero of p where q > 0
    return p / p.sum(), q / q.sum()


def boundary_mixtures(rng, K: int) -> list:
    r"""Sets Λ ⊆ Δ_K that touch the boundary of the simplex, one of each family.

    A box with lower bounds 0 and an upper bound 1; an ℓ1 ball centred at a
    vertex; a polytope whose vertices lie on faces (one of them a vertex of
    Δ_K); a KL ball centred at a point with a zero coordinate; an ℓ2 ball
    centred on an edge, large enough to be cut by the simplex; and Δ_K itself.
    """
    rng = check_seed(rng)
    K = check_int(K, "K")
    vertex = np.eye(K)[int(rng.integers(K))]
    face = rng.dirichlet(np.ones(K))
    if K > 1:
        face[int(rng.integers(K))] = 0.0
        face /= face.sum()
    hi = np.minimum(1.0, rng.dirichlet(np.ones(K)) + 0.3)
    hi[int(rng.integers(K))] = 1.0
    faces = rng.dirichlet(np.full(K, 0.3), size=max(2, K)) * (rng.random((max(2, K), K)) < 0.7)
    faces[np.arange(faces.shape[0]), rng.integers(0, K, faces.shape[0])] += 0.2
    faces = np.vstack([vertex, faces / faces.sum(axis=1, keepdims=True)])
    return [
        Simplex(K),
        Box(np.zeros(K), hi),
        L1Ball(vertex, float(rng.uniform(0.1, 1.5))),
        Polytope(faces),
        KLBall(face, float(rng.uniform(0.05, 1.0))),
        L2Ball(face, float(rng.uniform(0.1, 1.0))),
    ]


def tied_vertices(rng, K: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Points V of Δ_K, shape (m, K), with repeats, and a direction c on which ≥ 2 distinct
    points of V tie for the maximum of c·v (build the set with ``Polytope(V)``).

    c has ties of its own (two equal largest coordinates when K ≥ 2); V holds
    the two vertices e_i, e_j of Δ_K of the tied coordinates, both maximizers,
    and a duplicate of one of them.
    """
    rng = check_seed(rng)
    K = check_int(K, "K")
    c = rng.normal(size=K)
    top = np.argsort(c)[::-1]
    if K >= 2:
        c[top[1]] = c[top[0]]
    V = rng.dirichlet(np.ones(K), size=max(2, K))
    if K >= 2:
        # Two distinct points at the maximum: the vertices e_i, e_j of the tied pair.
        e = np.eye(K)
        V = np.vstack([V, e[top[0]], e[top[1]], e[top[0]]])
    else:
        V = np.vstack([V, V[:1]])
    return V, c
