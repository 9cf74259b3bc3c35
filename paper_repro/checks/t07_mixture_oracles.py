"""Verify row T7b: the oracles of every family of Λ against brute force.

Every solver reaches Λ only through ``argmax_linear`` (the support function
σ_Λ(c) = max_{λ∈Λ} c·λ and a maximizer) and ``project``, so an oracle that is
wrong moves V*(Λ), its certificate and the experiments with it, while staying
self-consistent. Here each oracle is compared with an answer computed from the
set's defining parameters by another method: vertex enumeration (Δ_K and
polytopes), a linear program solved by HiGHS (boxes and ℓ1 balls, written with
their own constraints), and a conic program written here in cvxpy (KL and ℓ2
balls, and every projection).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import linprog

from paper_repro.checks import Outcome, check
from sims.adversarial import tied_vertices
from theory.mixtures import Box, KLBall, L1Ball, L2Ball, Polytope, Simplex


def _lp(c, A_ub=None, b_ub=None, bounds=None, extra=0):
    """max c·λ over Δ_K ∩ {A_ub [λ, s] ≤ b_ub}, with ``extra`` auxiliary variables s."""
    K = len(c)
    res = linprog(
        -np.r_[c, np.zeros(extra)],
        A_ub=A_ub,
        b_ub=b_ub,
        A_eq=np.r_[np.ones(K), np.zeros(extra)][None, :],
        b_eq=[1.0],
        bounds=bounds or [(0, None)] * (K + extra),
        method="highs",
    )
    if res.status != 0:
        raise RuntimeError(f"the LP reference failed ({res.message})")
    return -res.fun


def _constraints(cp, lam, family, params):
    """The defining constraints of the set, written from its parameters."""
    cons = [lam >= 0, cp.sum(lam) == 1]
    if family == "box":
        lo, hi = params
        cons += [lam >= lo, lam <= hi]
    elif family == "l1":
        center, r = params
        cons.append(cp.norm(lam - center, 1) <= r)
    elif family == "polytope":
        V = params
        w = cp.Variable(V.shape[0], nonneg=True)
        cons += [cp.sum(w) == 1, lam == V.T @ w]
    elif family == "kl":
        center, r = params
        on = center > 0
        cons.append(cp.sum(cp.rel_entr(lam[on], center[on])) <= r)
        if not on.all():
            cons.append(lam[~on] == 0)
    elif family == "l2":
        center, r = params
        cons.append(cp.norm(lam - center, 2) <= r)
    return cons


def _conic(family, params, K, c=None, v=None):
    """max c·λ (or min ‖λ − v‖²) over the set, by Clarabel; returns (value, λ)."""
    import cvxpy as cp

    lam = cp.Variable(K)
    objective = cp.Maximize(c @ lam) if c is not None else cp.Minimize(cp.sum_squares(lam - v))
    prob = cp.Problem(objective, _constraints(cp, lam, family, params))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-11, tol_gap_rel=1e-11, tol_feas=1e-11)
    if prob.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        raise RuntimeError(f"the conic reference failed on a {family} set ({prob.status})")
    return float(prob.value), np.asarray(lam.value)


def _sets(rng, K: int, t: int):
    """(family, set, parameters) for the six families; boundary cases every other trial."""
    center = rng.dirichlet(np.ones(K))
    if t % 2 and K > 1:
        center[int(rng.integers(K))] = 0.0
        center /= center.sum()
    lo = rng.dirichlet(np.ones(K)) * rng.uniform(0.0, 0.9)
    lo[rng.random(K) < 0.3] = 0.0
    hi = np.minimum(1.0, lo + rng.uniform(0.0, 0.8, K))
    hi[int(rng.integers(K))] = 1.0
    r1 = float(rng.uniform(0.0, 2.2))
    V = rng.dirichlet(np.full(K, 0.5), size=int(rng.integers(1, 6)))
    if t % 3 == 0:
        V[0] = np.eye(K)[int(rng.integers(K))]
    out = [
        ("simplex", Simplex(K), None),
        ("box", Box(lo, hi), (lo, hi)),
        ("l1", L1Ball(center, r1), (center, r1)),
        ("polytope", Polytope(V), V),
    ]
    if t % 2 == 0:
        rk, r2 = float(rng.uniform(0.0, 1.5)), float(rng.uniform(0.0, 1.5))
        out += [("kl", KLBall(center, rk), (center, rk)), ("l2", L2Ball(center, r2), (center, r2))]
    return out


def _reference_value(family, params, c, K):
    if family == "simplex":
        return float(c.max())
    if family == "polytope":
        return float((params @ c).max())
    if family == "box":
        lo, hi = params
        return _lp(c, bounds=list(zip(lo, hi, strict=True)))
    if family == "l1":
        center, r = params
        # s ≥ |λ − center|, Σs ≤ r over variables (λ, s)
        eye = np.eye(K)
        A = np.vstack(
            [np.hstack([eye, -eye]), np.hstack([-eye, -eye]), np.r_[np.zeros(K), np.ones(K)]]
        )
        b = np.r_[center, -center, r]
        return _lp(c, A_ub=A, b_ub=b, extra=K)
    return _conic(family, params, K, c=c)[0]


def _inside(family, params, lam, tol=1e-9) -> bool:
    """Membership written from the parameters (not the set's own test)."""
    if np.any(lam < -tol) or abs(lam.sum() - 1.0) > tol:
        return False
    if family == "box":
        lo, hi = params
        return bool(np.all(lam >= lo - tol) and np.all(lam <= hi + tol))
    if family == "l1":
        center, r = params
        return bool(np.abs(lam - center).sum() <= r + tol)
    if family == "kl":
        center, r = params
        on = lam > 0
        if np.any(center[on] == 0):
            return False
        return bool(np.sum(lam[on] * np.log(lam[on] / center[on])) <= r + tol)
    if family == "l2":
        center, r = params
        return bool(np.linalg.norm(lam - center) <= r + tol)
    return True


@check(
    "T7b",
    "every Λ oracle is exact: argmax_linear returns σ_Λ(c) = max_{λ∈Λ} c·λ and a maximizer "
    "in Λ, and project returns the Euclidean projection, for Δ_K, boxes, ℓ1 balls, "
    "polytopes, KL balls and ℓ2 balls",
    1e-7,
    method="σ_Λ(c) against brute force from the set's parameters: vertex enumeration "
    "(Δ_K, polytopes), HiGHS LPs written with the set's own constraints (boxes; ℓ1 balls "
    "with s ≥ |λ − center|, Σs ≤ r), and cvxpy/Clarabel programs written here (KL and "
    "ℓ2 balls); the returned maximizer must satisfy those constraints and attain σ; "
    "projections (every family in the first four trials, then one per trial) must be "
    "feasible and no farther from the point than a cvxpy least-squares solve; a "
    "tied polytope per trial. Error relative to max(1, ‖c‖∞).",
    instances="K uniform in 1..6; c Gaussian, with ties (two equal largest entries) every "
    "third trial; boxes with zero lower and unit upper bounds, ℓ1/KL/ℓ2 balls whose centre "
    "has a zero coordinate every other trial, ℓ1 radii in [0, 2.2] (up to the whole "
    "simplex), polytopes with a simplex vertex among their points; "
    "sims.adversarial.tied_vertices (repeated vertices, ≥ 2 maximizers).",
)
def t7_oracles(rng, trials):
    worst = 0.0
    for t in range(trials):
        K = int(rng.integers(1, 7))
        c = rng.normal(size=K)
        if t % 3 == 1 and K > 1:
            c[np.argsort(c)[-2]] = c.max()
        sets = _sets(rng, K, t)
        for family, Lam, params in sets:
            value, lam = Lam.argmax_linear(c)
            scale = max(1.0, float(np.abs(c).max()))
            ref = _reference_value(family, params, c, K)
            err = abs(value - ref) / scale + abs(c @ lam - value) / scale
            if not _inside(family, params, np.asarray(lam), 1e-8):
                err = np.inf
            worst = max(worst, err)
        # projections: every family on the first trials, then one family per trial
        for family, Lam, params in sets if t < 4 else [sets[t % len(sets)]]:
            v = rng.normal(size=K) * 0.5 + 1.0 / K
            proj = Lam.project(v)
            _, ref = _conic(family, params, K, v=v)
            # feasible, and no farther from v than the reference's point (whose own
            # accuracy is that of the conic solver, about 1e-8 in the distance)
            excess = float(np.sum((proj - v) ** 2) - np.sum((ref - v) ** 2))
            inside = _inside(family, params, proj, 1e-8)
            worst = max(worst, max(excess, 0.0) if inside else np.inf)
        V, direction = tied_vertices(rng, K)
        value, lam = Polytope(V).argmax_linear(direction)
        err = abs(value - float((V @ direction).max())) + abs(direction @ lam - value)
        worst = max(worst, err if _inside("polytope", V, np.asarray(lam)) else np.inf)
    return Outcome(trials, worst)


def _slack(family, params, lam) -> float:
    """How far inside (> 0) or outside (< 0) the set λ ∈ Δ_K lies, from its parameters."""
    if family == "box":
        lo, hi = params
        return float(min((lam - lo).min(), (hi - lam).min()))
    center, r = params
    if family == "l1":
        return r - float(np.abs(lam - center).sum())
    if family == "l2":
        return r - float(np.linalg.norm(lam - center))
    on = lam > 0
    if np.any(center[on] == 0):
        return -float(lam[center == 0].max())
    return r - float(np.sum(lam[on] * np.log(lam[on] / center[on])))


def _hull_distance(V, lam) -> float:
    """min ‖λ − Vᵀw‖₁ over w ∈ Δ_m, by an LP written here (0 iff λ ∈ conv V)."""
    m, K = V.shape
    # variables (w, s): s ≥ ±(λ − Vᵀw)
    A = np.vstack([np.hstack([-V.T, -np.eye(K)]), np.hstack([V.T, -np.eye(K)])])
    res = linprog(
        np.r_[np.zeros(m), np.ones(K)],
        A_ub=A,
        b_ub=np.r_[-lam, lam],
        A_eq=np.r_[np.ones(m), np.zeros(K)][None, :],
        b_eq=[1.0],
        bounds=[(0, None)] * (m + K),
        method="highs",
    )
    if res.status != 0:
        raise RuntimeError(f"the hull LP failed ({res.message})")
    return float(res.fun)


def _box_vertices(lo, hi) -> np.ndarray:
    """Brute force: K − 1 coordinates at a bound, the last one fixed by Σλ = 1, kept if in range."""
    import itertools

    K = lo.size
    pts = []
    for j in range(K):
        others = [k for k in range(K) if k != j]
        for bits in itertools.product((0, 1), repeat=K - 1):
            lam = np.empty(K)
            lam[others] = [hi[k] if b else lo[k] for k, b in zip(others, bits, strict=True)]
            lam[j] = 1.0 - lam[others].sum()
            if lo[j] - 1e-12 <= lam[j] <= hi[j] + 1e-12:
                pts.append(lam)
    return np.unique(np.round(np.array(pts), 10), axis=0)


def _support_value(Lam, w) -> float:
    """min t subject to the constraints of ``Lam.support_cone(w)`` (cvxpy/Clarabel)."""
    import cvxpy as cp

    t, cons = Lam.support_cone(w)
    prob = cp.Problem(cp.Minimize(t), cons)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        prob.solve(solver=cp.CLARABEL)
    if prob.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        return np.inf
    return float(prob.value)


@check(
    "T7c",
    "the Λ oracles on the hard cases: projections onto small KL and ℓ2 balls and onto "
    "many-point polytopes from far away, membership near the boundary, the vertex lists of "
    "boxes, ℓ1 balls and polytopes, and the conic support function of every family",
    1e-6,
    method="project(v) against a cvxpy least-squares solve (feasible, and no farther from v); "
    "contains(λ) against the slack computed from the set's parameters (an LP distance to the "
    "hull for polytopes) on points at least 1e-6 inside or outside; vertices() of a box "
    "against brute-force enumeration (K − 1 coordinates at a bound), and for ℓ1 balls and "
    "polytopes: every vertex in the set, max_v c·v = σ_Λ(c) of the LP reference for random c, "
    "and for polytopes exactly the input points outside the hull of the others (LP); the "
    "minimum of support_cone(w) against σ_Λ(w) of the references. Error: the largest "
    "excess distance, value error (relative to max(1, ‖c‖∞)) or wrong verdict (∞).",
    instances="K uniform in 2..6; KL radii in [0.005, 0.3] and exactly 1, ℓ2 radii in "
    "[0.005, 0.3], ℓ1 radii in [0, 0.6], points v Gaussian of scale 2; polytopes of 3–9 "
    "Dirichlet(½) points plus a convex combination of them and a repeated point; boxes "
    "with zero lower and unit upper bounds.",
)
def t7_hard_oracles(rng, trials):
    worst = 0.0
    for t in range(trials):
        K = int(rng.integers(2, 7))
        center = rng.dirichlet(np.ones(K))
        if t % 2:
            center[int(rng.integers(K))] = 0.0
            center /= center.sum()
        rk = 1.0 if t % 4 == 0 else float(rng.uniform(0.005, 0.3))
        r2 = float(rng.uniform(0.005, 0.3))
        r1 = float(rng.uniform(0.0, 0.6))
        lo = rng.dirichlet(np.ones(K)) * rng.uniform(0.0, 0.9)
        lo[rng.random(K) < 0.3] = 0.0
        hi = np.minimum(1.0, lo + rng.uniform(0.0, 0.8, K))
        hi[int(rng.integers(K))] = 1.0
        V = rng.dirichlet(np.full(K, 0.5), size=int(rng.integers(3, 10)))
        V = np.vstack([V, rng.dirichlet(np.ones(V.shape[0])) @ V, V[0]])
        sets = [
            ("kl", KLBall(center, rk), (center, rk)),
            ("l2", L2Ball(center, r2), (center, r2)),
            ("l1", L1Ball(center, r1), (center, r1)),
            ("box", Box(lo, hi), (lo, hi)),
            ("polytope", Polytope(V), V),
        ]
        for family, Lam, params in sets:
            v = rng.normal(size=K) * 2.0
            proj = Lam.project(v)
            _, ref = _conic(family, params, K, v=v)
            excess = float(np.sum((proj - v) ** 2) - np.sum((ref - v) ** 2))
            worst = max(worst, max(excess, 0.0) if _inside(family, params, proj, 1e-8) else np.inf)
            # membership on random points and on points pulled toward the projection
            for lam in (
                *rng.dirichlet(np.ones(K), size=4),
                0.5 * (proj + rng.dirichlet(np.ones(K))),
            ):
                if family == "polytope":
                    s = -_hull_distance(V, lam)
                    s = 1.0 if s > -1e-9 else s
                else:
                    s = _slack(family, params, lam)
                if abs(s) > 1e-6 and Lam.contains(lam) != (s > 0):
                    worst = np.inf
            for w in (rng.normal(size=K), rng.normal(size=K)):
                scale = max(1.0, float(np.abs(w).max()))
                ref_value = _reference_value(family, params, w, K)
                worst = max(worst, abs(_support_value(Lam, w) - ref_value) / scale)
                if family in ("l1", "box", "polytope"):
                    pts = Lam.vertices()
                    top = float((pts @ w).max())
                    worst = max(worst, abs(top - ref_value) / scale)
                    if not all(_inside(family, params, p, 1e-8) for p in pts):
                        worst = np.inf
        # a point of the polytope's hull is inside it, and vertices() keeps exactly the
        # points outside the hull of the others
        P = Polytope(V)
        inside = rng.dirichlet(np.ones(V.shape[0])) @ V
        if not P.contains(inside):
            worst = np.inf
        uniq = np.unique(np.round(V, 12), axis=0)
        extreme = [
            i
            for i in range(uniq.shape[0])
            if _hull_distance(np.delete(uniq, i, axis=0), uniq[i]) > 1e-9
        ]
        if P.vertices().shape[0] != len(extreme):
            worst = np.inf
        got = np.unique(np.round(Box(lo, hi).vertices(), 10), axis=0)
        want = _box_vertices(lo, hi)
        if got.shape != want.shape or not np.allclose(got, want, atol=1e-9):
            worst = np.inf
    return Outcome(trials, worst)
