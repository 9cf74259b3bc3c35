r"""Mixture sets Λ ⊆ Δ_K: prior knowledge on the mixture weights (THEORY §3, T7).

Four families, each nonempty, closed and convex (empty sets are rejected):

* :class:`Simplex` — Λ = Δ_K;
* :class:`Box` — Λ = {λ ∈ Δ_K : lo ≤ λ ≤ hi};
* :class:`L1Ball` — Λ = {λ ∈ Δ_K : ‖λ − c‖₁ ≤ r};
* :class:`Polytope` — Λ = conv(v_1, …, v_m).

Each offers ``contains``, ``vertices`` (the finite list of extreme points),
``project`` (Euclidean projection) and ``argmax_linear`` — the LP
:math:`\max_{\lambda\in\Lambda} c\cdot\lambda`, solved exactly: by a greedy
closed form for the simplex, the box and the ℓ1-ball, by vertex enumeration for
a polytope. The LP is the certified upper bound of T5.
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod

import numpy as np
from scipy.optimize import linprog, nnls

from theory.validation import SUM_TOL, check_distribution, check_int, check_positive

__all__ = ["MixtureSet", "Simplex", "Box", "L1Ball", "Polytope", "from_spec"]

_TOL = 1e-9


def _check_c(c, K: int) -> np.ndarray:
    a = np.asarray(c, dtype=np.float64)
    if a.shape != (K,):
        raise ValueError(f"c: expected a vector of length K = {K}, got shape {a.shape}")
    if np.any(np.isnan(a)):
        raise ValueError("c: contains NaN")
    return a


def _check_point(lam, K: int, name: str = "lam") -> np.ndarray:
    a = np.asarray(lam, dtype=np.float64)
    if a.shape != (K,):
        raise ValueError(f"{name}: expected a vector of length K = {K}, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: contains NaN or inf")
    return a


def _project_capped_simplex(v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    r"""Euclidean projection of v onto {lo ≤ λ ≤ hi, Σλ = 1} (assumed nonempty).

    The solution is λ = clip(v − τ, lo, hi) where τ solves the piecewise-linear,
    non-increasing equation f(τ) = Σ clip(v − τ, lo, hi) = 1; τ is found exactly
    between two consecutive breakpoints {v − hi, v − lo}.
    """

    def f(t):
        return np.clip(v - t, lo, hi).sum()

    bps = np.unique(np.concatenate([v - hi, v - lo]))
    vals = np.array([f(t) for t in bps])
    # vals is non-increasing in bps; find the last breakpoint with f >= 1.
    j = np.searchsorted(-vals, -1.0, side="right") - 1
    if j < 0:
        return np.clip(v - bps[0], lo, hi)
    if j >= len(bps) - 1 or vals[j] == 1.0:
        return np.clip(v - bps[j], lo, hi)
    t0, t1, f0, f1 = bps[j], bps[j + 1], vals[j], vals[j + 1]
    t = t0 + (f0 - 1.0) * (t1 - t0) / (f0 - f1)
    return np.clip(v - t, lo, hi)


def _greedy_capped(c: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """max c·λ over {lo ≤ λ ≤ hi, Σλ = 1}: start at lo, fill the best coordinates first."""
    lam = lo.copy()
    budget = 1.0 - lo.sum()
    for k in np.argsort(-c, kind="stable"):
        if budget <= 0:
            break
        add = min(hi[k] - lo[k], budget)
        lam[k] += add
        budget -= add
    return lam


class MixtureSet(ABC):
    """A nonempty closed convex set Λ ⊆ Δ_K of mixture weights."""

    K: int

    @abstractmethod
    def contains(self, lam, tol: float = _TOL) -> bool:
        """Whether ``lam`` lies in Λ (within ``tol``)."""

    @abstractmethod
    def vertices(self) -> np.ndarray:
        """The extreme points of Λ as an (m, K) array."""

    @abstractmethod
    def project(self, lam) -> np.ndarray:
        """The Euclidean projection of ``lam`` (any vector in R^K) onto Λ."""

    @abstractmethod
    def argmax_linear(self, c) -> tuple[float, np.ndarray]:
        r"""Solve the LP :math:`\max_{\lambda\in\Lambda} c\cdot\lambda`; return (value, λ)."""

    def center(self) -> np.ndarray:
        """A point of Λ (the projection of the uniform weights)."""
        return self.project(np.full(self.K, 1.0 / self.K))

    def support(self) -> np.ndarray:
        """Boolean mask of the coordinates k that some λ ∈ Λ makes positive."""
        return np.array([self.argmax_linear(np.eye(self.K)[k])[0] > 0 for k in range(self.K)])

    def _on_simplex(self, lam: np.ndarray, tol: float) -> bool:
        return bool(np.all(lam >= -tol) and abs(lam.sum() - 1.0) <= max(tol, SUM_TOL))


class Simplex(MixtureSet):
    r"""The whole simplex Λ = Δ_K (no prior knowledge)."""

    def __init__(self, K: int):
        self.K = check_int(K, "K")

    def __repr__(self) -> str:
        return f"Simplex({self.K})"

    def contains(self, lam, tol: float = _TOL) -> bool:
        return self._on_simplex(_check_point(lam, self.K), tol)

    def vertices(self) -> np.ndarray:
        return np.eye(self.K)

    def project(self, lam) -> np.ndarray:
        v = _check_point(lam, self.K)
        return _project_capped_simplex(v, np.zeros(self.K), np.ones(self.K))

    def argmax_linear(self, c) -> tuple[float, np.ndarray]:
        c = _check_c(c, self.K)
        k = int(np.argmax(c))
        return float(c[k]), np.eye(self.K)[k]


class Box(MixtureSet):
    r"""Λ = {λ ∈ Δ_K : lo ≤ λ ≤ hi} (per-domain bounds on the weights)."""

    def __init__(self, lo, hi):
        lo = np.asarray(lo, dtype=np.float64)
        hi = np.asarray(hi, dtype=np.float64)
        if lo.ndim != 1 or lo.shape != hi.shape or lo.size == 0:
            raise ValueError(
                f"lo, hi: expected two vectors of the same length K, got {lo.shape} and {hi.shape}"
            )
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
            raise ValueError("lo, hi: contain NaN or inf")
        if np.any(lo > hi):
            k = int(np.argmax(lo > hi))
            raise ValueError(f"lo, hi: empty box, lo[{k}] = {lo[k]} > hi[{k}] = {hi[k]}")
        lo, hi = np.clip(lo, 0.0, 1.0), np.clip(hi, 0.0, 1.0)
        if lo.sum() > 1.0 + SUM_TOL or hi.sum() < 1.0 - SUM_TOL:
            raise ValueError(
                f"lo, hi: the box does not meet the simplex (empty Λ): need sum(lo) ≤ 1 ≤ sum(hi), "
                f"got sum(lo) = {lo.sum():.6g}, sum(hi) = {hi.sum():.6g}"
            )
        self.K = lo.shape[0]
        self.lo, self.hi = lo, hi

    def __repr__(self) -> str:
        return f"Box(lo={self.lo.tolist()}, hi={self.hi.tolist()})"

    def contains(self, lam, tol: float = _TOL) -> bool:
        lam = _check_point(lam, self.K)
        in_box = np.all(lam >= self.lo - tol) and np.all(lam <= self.hi + tol)
        return bool(in_box and self._on_simplex(lam, tol))

    def vertices(self) -> np.ndarray:
        # A vertex has at most one coordinate strictly between its bounds, the
        # others at lo or hi; the free one is fixed by Σλ = 1.
        pts = []
        for j in range(self.K):
            others = [k for k in range(self.K) if k != j]
            for bits in itertools.product((0, 1), repeat=self.K - 1):
                lam = np.empty(self.K)
                for k, b in zip(others, bits, strict=True):
                    lam[k] = self.hi[k] if b else self.lo[k]
                lam[j] = 1.0 - lam[others].sum()
                if self.lo[j] - _TOL <= lam[j] <= self.hi[j] + _TOL:
                    lam[j] = np.clip(lam[j], self.lo[j], self.hi[j])
                    pts.append(lam)
        return np.unique(np.round(np.array(pts), 13), axis=0)

    def project(self, lam) -> np.ndarray:
        return _project_capped_simplex(_check_point(lam, self.K), self.lo, self.hi)

    def argmax_linear(self, c) -> tuple[float, np.ndarray]:
        c = _check_c(c, self.K)
        lam = _greedy_capped(c, self.lo, self.hi)
        return float(c @ lam), lam


class L1Ball(MixtureSet):
    r"""Λ = {λ ∈ Δ_K : ‖λ − center‖₁ ≤ radius}, a ball around a prior guess (T7).

    On the simplex ‖λ − c‖₁ = 2 × (mass moved), so radius ≥ 2 gives all of Δ_K.
    """

    def __init__(self, center, radius):
        self.center_ = check_distribution(center, "center")
        self.K = self.center_.shape[0]
        self.radius = check_positive(radius, "radius", allow_zero=True)

    def __repr__(self) -> str:
        return f"L1Ball(center={self.center_.tolist()}, radius={self.radius})"

    def contains(self, lam, tol: float = _TOL) -> bool:
        lam = _check_point(lam, self.K)
        near = np.abs(lam - self.center_).sum() <= self.radius + tol
        return bool(near and self._on_simplex(lam, tol))

    def argmax_linear(self, c) -> tuple[float, np.ndarray]:
        # Move mass t ≤ min(r/2, 1 − c_j*) onto the best coordinate j*, taking it
        # from the worst coordinates first: each unit moved gains c_j* − c_i.
        c = _check_c(c, self.K)
        lam = self.center_.copy()
        j = int(np.argmax(c))
        budget = min(self.radius / 2.0, 1.0 - lam[j])
        for i in np.argsort(c, kind="stable"):
            if budget <= 0:
                break
            if i == j or c[i] >= c[j]:
                continue
            take = min(lam[i], budget)
            lam[i] -= take
            lam[j] += take
            budget -= take
        return float(c @ lam), lam

    def project(self, lam) -> np.ndarray:
        # Dykstra's alternating projections between Δ_K and the ℓ1-ball; both
        # projections are exact, the iteration converges to the projection onto
        # their intersection.
        v = _check_point(lam, self.K)
        if self.contains(v, tol=0.0):
            return v.copy()
        x = v.copy()
        p = np.zeros(self.K)
        q = np.zeros(self.K)
        ones, zeros = np.ones(self.K), np.zeros(self.K)
        for _ in range(10_000):
            y = _project_capped_simplex(x + p, zeros, ones)
            p = x + p - y
            x_new = self.center_ + _project_l1_ball(y + q - self.center_, self.radius)
            q = y + q - x_new
            if np.abs(x_new - x).max() < 1e-15 and np.abs(x_new - y).max() < 1e-13:
                x = x_new
                break
            x = x_new
        return _project_capped_simplex(x, zeros, ones)

    def vertices(self) -> np.ndarray:
        if self.radius == 0.0:
            return self.center_[None, :].copy()
        if self.radius >= 2.0:
            return np.eye(self.K)
        if self.K == 1:
            return np.ones((1, 1))
        return _vertices_in_simplex(self._halfspaces(), self._interior_point())

    def _interior_point(self) -> np.ndarray:
        eps = min(1.0, self.radius / 4.0)
        return (1.0 - eps) * self.center_ + eps / self.K

    def _halfspaces(self) -> tuple[np.ndarray, np.ndarray]:
        """A λ ≤ b describing Λ inside the affine hull of Δ_K (λ ≥ 0 and all sign patterns)."""
        signs = np.array(list(itertools.product((-1.0, 1.0), repeat=self.K)))
        A = np.vstack([-np.eye(self.K), signs])
        b = np.concatenate([np.zeros(self.K), self.radius + signs @ self.center_])
        return A, b


def _project_l1_ball(v: np.ndarray, r: float) -> np.ndarray:
    """Euclidean projection onto {‖x‖₁ ≤ r} (sort-based, exact)."""
    if np.abs(v).sum() <= r:
        return v.copy()
    if r == 0.0:
        return np.zeros_like(v)
    u = np.sort(np.abs(v))[::-1]
    css = np.cumsum(u)
    idx = np.arange(1, len(u) + 1)
    rho = np.nonzero(u * idx > css - r)[0][-1]
    theta = (css[rho] - r) / (rho + 1.0)
    return np.sign(v) * np.maximum(np.abs(v) - theta, 0.0)


def _vertices_in_simplex(halfspaces, interior: np.ndarray) -> np.ndarray:
    """Vertices of {λ : A λ ≤ b, Σλ = 1} (full-dimensional in the hyperplane)."""
    from scipy.spatial import HalfspaceIntersection

    A, b = halfspaces
    K = A.shape[1]
    # Orthonormal basis of {Σλ = 0}: λ = interior + B y.
    B = np.linalg.svd(np.eye(K) - 1.0 / K)[0][:, : K - 1]
    Ay = A @ B
    by = b - A @ interior
    if K == 2:
        # 1-D: an interval in y.
        lo = max((by[i] / Ay[i, 0] for i in range(len(by)) if Ay[i, 0] < 0), default=-np.inf)
        hi = min((by[i] / Ay[i, 0] for i in range(len(by)) if Ay[i, 0] > 0), default=np.inf)
        ys = np.array([[lo], [hi]])
    else:
        hs = HalfspaceIntersection(np.hstack([Ay, -by[:, None]]), np.zeros(K - 1))
        ys = hs.intersections
    pts = interior + ys @ B.T
    pts = np.clip(pts, 0.0, 1.0)
    pts /= pts.sum(axis=1, keepdims=True)
    return np.unique(np.round(pts, 12), axis=0)


class Polytope(MixtureSet):
    r"""Λ = conv(v_1, …, v_m), the convex hull of given points of Δ_K."""

    def __init__(self, vertices):
        V = np.asarray(vertices, dtype=np.float64)
        if V.ndim != 2 or V.shape[0] == 0:
            raise ValueError(
                f"vertices: expected a nonempty (m, K) array of points of Δ_K, got shape {V.shape}"
            )
        for i, v in enumerate(V):
            check_distribution(v, f"vertices[{i}]")
        self.K = V.shape[1]
        self._points = np.unique(V, axis=0)

    def __repr__(self) -> str:
        return f"Polytope({len(self._points)} points in Δ_{self.K})"

    def _hull_weights(self, lam: np.ndarray):
        m = len(self._points)
        res = linprog(
            np.zeros(m),
            A_eq=np.vstack([self._points.T, np.ones((1, m))]),
            b_eq=np.concatenate([lam, [1.0]]),
            bounds=[(0, None)] * m,
            method="highs",
        )
        return res.x if res.status == 0 else None

    def contains(self, lam, tol: float = _TOL) -> bool:
        lam = _check_point(lam, self.K)
        if not self._on_simplex(lam, tol):
            return False
        return bool(np.abs(self.project(lam) - lam).max() <= tol)

    def vertices(self) -> np.ndarray:
        # Drop points one at a time if they lie in the hull of the points still
        # kept; removing sequentially never empties the list, even for
        # duplicates that differ by rounding.
        V = self._points
        keep = list(range(len(V)))
        for i in range(len(V)):
            others = [j for j in keep if j != i]
            if others and Polytope(V[others])._hull_weights(V[i]) is not None:
                keep.remove(i)
        return V[keep]

    def project(self, lam) -> np.ndarray:
        # min_w ‖Vᵀw − λ‖² over w ∈ Δ_m, as a non-negative least-squares problem
        # with the equality Σw = 1 enforced by a heavily weighted extra row.
        v = _check_point(lam, self.K)
        V = self._points
        weight = 1e6
        A = np.vstack([V.T, weight * np.ones((1, len(V)))])
        w, _ = nnls(A, np.concatenate([v, [weight]]))
        w /= w.sum()
        return w @ V

    def argmax_linear(self, c) -> tuple[float, np.ndarray]:
        c = _check_c(c, self.K)
        vals = self._points @ c
        i = int(np.argmax(vals))
        return float(vals[i]), self._points[i].copy()


def from_spec(spec: str | None, K: int) -> MixtureSet:
    """Parse a command-line description of Λ.

    ``simplex`` · ``box:LO,HI`` (same bounds for every k) or ``box:lo1;..;loK/hi1;..;hiK`` ·
    ``l1:R`` (ball of radius R around the uniform weights) or ``l1:R@c1;..;cK``.
    """
    if spec is None or spec == "simplex":
        return Simplex(K)
    kind, _, arg = spec.partition(":")
    try:
        if kind == "box":
            if "/" in arg:
                lo_s, hi_s = arg.split("/")
                lo = [float(x) for x in lo_s.split(";")]
                hi = [float(x) for x in hi_s.split(";")]
            else:
                a, b = (float(x) for x in arg.split(","))
                lo, hi = [a] * K, [b] * K
            return Box(lo, hi)
        if kind == "l1":
            r_s, _, c_s = arg.partition("@")
            center = [float(x) for x in c_s.split(";")] if c_s else [1.0 / K] * K
            return L1Ball(center, float(r_s))
    except ValueError as exc:
        raise ValueError(f"mixtures: cannot parse {spec!r}: {exc}") from exc
    raise ValueError(
        f"mixtures: expected 'simplex', 'box:LO,HI' or 'l1:R[@c1;..;cK]', got {spec!r}"
    )
