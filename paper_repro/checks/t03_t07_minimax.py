"""Verify rows T3–T7: water-filling, saddle point, dual function, capacity, prior knowledge."""

from __future__ import annotations

import numpy as np

from paper_repro.checks import Outcome, check
from theory import objectives
from theory.capacity import blahut_arimoto
from theory.divergences import jsd, kl_rows, mixture
from theory.gates import mass, model
from theory.minimax import dual_function, fixed_mixture, objective_offsets, robust_gate
from theory.mixtures import Box, L1Ball, Polytope, Simplex

OBJECTIVES = tuple(objectives.names())
KINDS = ("random", "zeros", "disjoint", "identical experts", "perfect", "no root")


def _stack(rng, K: int, n: int, kind: str) -> np.ndarray:
    if kind == "zeros":
        D = rng.dirichlet(np.ones(n), size=K) * (rng.random((K, n)) < 0.5)
        D[np.arange(K), rng.integers(0, n, K)] += 0.1
    elif kind == "disjoint":
        labels = np.concatenate([np.arange(K), rng.integers(0, K, n - K)])
        D = rng.random((K, n)) * (labels[None, :] == np.arange(K)[:, None])
    else:
        D = rng.dirichlet(np.full(n, 0.5), size=K)
    return D / D.sum(axis=1, keepdims=True)


def _instance(rng, t: int):
    """Domains D and experts P of the adversarial ``kind`` KINDS[t % 6].

    Imperfect experts keep 40% of a domain's mass so that every domain is feasible
    and the regret objective finite. "no root" builds the edge case of T3:
    experts that put little mass on the domains' supports.
    """
    kind = KINDS[t % len(KINDS)]
    K = int(rng.integers(2, 7))
    n = int(rng.integers(max(K, 6), 60))
    if kind == "no root":
        # Domains on the first half of X; every expert puts at most 30% there.
        half = n // 2
        D = np.zeros((K, n))
        D[:, :half] = rng.dirichlet(np.ones(half), size=K)
        P = np.hstack(
            [0.3 * rng.dirichlet(np.ones(half), size=K), 0.7 * rng.dirichlet(np.ones(n - half), K)]
        )
        return kind, D, P
    D = _stack(
        rng, K, n, "disjoint" if kind == "disjoint" else "zeros" if kind == "zeros" else "random"
    )
    if kind == "perfect":
        return kind, D, D.copy()
    if kind == "identical experts":
        P = np.repeat(rng.dirichlet(np.ones(n))[None, :], K, axis=0)
    else:
        P = _stack(rng, K, n, kind)
    P = 0.6 * P + 0.4 * D
    return kind, D, P / P.sum(axis=1, keepdims=True)


def _mixture_set(rng, K: int, t: int):
    family = t % 4
    if family == 0:
        return Simplex(K)
    c = rng.dirichlet(np.ones(K))
    if family == 1:
        return Box(np.maximum(c - 0.2, 0.0), np.minimum(c + 0.2, 1.0))
    if family == 2:
        return L1Ball(c, float(rng.uniform(0.2, 1.5)))
    return Polytope(rng.dirichlet(np.ones(K), size=int(rng.integers(2, 5))))


def _losses(D, q, c):
    with np.errstate(divide="ignore"):
        return -np.where(D > 0, D * np.log(np.where(D > 0, q, 1.0)), 0.0).sum(axis=1) - c


@check(
    "T3", "water-filling q* = clip(D_λ/ν, ℓ, u) meets the KKT conditions; its gate is in G_1", 1e-12
)
def t3_water_filling(rng, trials):
    """The KKT conditions of min −Σ t log q over M are a complete optimality
    certificate: q/t = 1/ν on the free set, t/ν ≤ ℓ where q = ℓ, t/ν ≥ u where q = u
    (t/ν = ∞ in the no-root case), Σq = 1; and the gate represents q with Z = 1."""
    worst = 0.0
    for t in range(trials):
        kind, D, P = _instance(rng, t)
        lam = rng.dirichlet(np.ones(D.shape[0]))
        res = fixed_mixture(D, P, lam)
        lo, hi = P.min(axis=0), P.max(axis=0)
        tgt = mixture(lam, D)
        q = res.model
        on = tgt > 0
        scale = np.inf if res.nu == 0.0 else 1.0 / res.nu
        with np.errstate(invalid="ignore"):
            level = tgt * scale
        free = on & (q > lo) & (q < hi)
        err = abs(q.sum() - 1.0)
        err = max(
            err, np.max(np.abs(q[free] - level[free]) / np.maximum(q[free], 1e-300), initial=0.0)
        )
        at_lo = on & (q <= lo) & (lo < hi)
        at_hi = on & (q >= hi) & (lo < hi)
        err = max(err, np.max(level[at_lo] - lo[at_lo], initial=0.0))
        err = max(err, np.max(hi[at_hi] - level[at_hi], initial=0.0))
        err = max(err, np.max(lo - q), np.max(q - hi))
        if kind == "no root":
            err = max(err, float(res.nu != 0.0))
        g = res.gate
        err = max(err, abs(mass(g, P) - 1.0), np.abs(model(g, P) - q).max(), -g.min())
        worst = max(worst, err)
    return Outcome(trials, worst)


@check("T4", "saddle point: L(g*,λ) ≤ L(g*,λ*) ≤ L(g,λ*); certified gap ≤ 1e-9", 1e-9)
def t4_saddle_point(rng, trials):
    worst = 0.0
    for t in range(trials):
        _kind, D, P = _instance(rng, t)
        K = D.shape[0]
        objective = OBJECTIVES[t % len(OBJECTIVES)]
        res = robust_gate(D, P, objective=objective)
        c = objective_offsets(D, P, objective)
        L = _losses(D, res.model, c)
        v = res.lam @ L
        err = max(res.upper - res.lower, 0.0 if res.converged else np.inf)
        err = max(err, np.max(L) - v)  # every λ ∈ Δ_K: max_λ λ·L = max_k L_k
        for lam in rng.dirichlet(np.ones(K), size=5):
            q = fixed_mixture(D, P, lam).model
            err = max(err, v - res.lam @ _losses(D, q, c))
        worst = max(worst, err)
    return Outcome(trials, worst)


@check("T5", "d concave with supergradient L(q*_λ): d(λ') ≤ d(λ) + g·(λ'−λ)", 1e-10)
def t5_supergradient(rng, trials):
    worst = 0.0
    for t in range(trials):
        _kind, D, P = _instance(rng, t)
        objective = OBJECTIVES[t % len(OBJECTIVES)]
        lam, other = rng.dirichlet(np.ones(D.shape[0]), size=2)
        if t % 2:
            lam[rng.integers(D.shape[0])] = 0.0
            lam /= lam.sum()
        d, g = dual_function(D, P, lam, objective)
        d2, _ = dual_function(D, P, other, objective)
        with np.errstate(invalid="ignore"):
            bound = d + np.sum(np.where(other - lam != 0, g * (other - lam), 0.0))
        d_mid = dual_function(D, P, 0.5 * (lam + other), objective)[0]
        worst = max(worst, d2 - bound, 0.5 * (d + d2) - d_mid)
    return Outcome(trials, worst)


@check("T5b", "V*(Λ) = max_Λ d: dual solver = cvxpy reference on Simplex/Box/L1Ball/Polytope", 1e-7)
def t5_against_cvxpy(rng, trials):
    worst = 0.0
    count = min(trials, 12)
    for t in range(count):
        _kind, D, P = _instance(rng, t)
        K = D.shape[0]
        Lam = _mixture_set(rng, K, t)
        objective = OBJECTIVES[t % len(OBJECTIVES)]
        dual = robust_gate(D, P, Lam, objective=objective)
        ref = robust_gate(D, P, Lam, objective=objective, method="cvxpy")
        crossed = max(dual.lower - ref.upper, ref.lower - dual.upper, 0.0)
        gap = dual.upper - dual.lower if dual.converged else np.inf
        worst = max(worst, abs(dual.value - ref.value), crossed, gap)
    return Outcome(count, worst)


@check("T6", "equalizer: L_k(q*) = V* where λ*_k > 0, ≤ V* elsewhere", 1e-7)
def t6_equalizer(rng, trials):
    worst = 0.0
    for t in range(trials):
        _kind, D, P = _instance(rng, t)
        res = robust_gate(D, P, objective=OBJECTIVES[t % len(OBJECTIVES)])
        L = res.per_domain
        on = res.lam > 1e-6
        worst = max(worst, np.max(L) - res.value, np.max(np.abs(L[on] - res.value)))
    return Outcome(trials, worst)


@check("T6b", "perfect experts: V*(Δ_K) = capacity C(D) (Blahut–Arimoto), q* = D_λ*", 1e-9)
def t6_capacity(rng, trials):
    worst = 0.0
    for t in range(trials):
        K = int(rng.integers(2, 7))
        n = int(rng.integers(K, 60))
        D = _stack(rng, K, n, ("random", "zeros", "disjoint")[t % 3])
        if t % 5 == 4:
            D[1] = D[0]  # two identical domains: λ* is not unique, C is
        res = robust_gate(D, D, tol=5e-10)
        cap = blahut_arimoto(D, tol=1e-12)
        # λ* need not be unique but q* = D_λ* is: by the compensation identity (T1)
        # KL(D_λ‖q*) ≤ V* − d(λ) and KL(q*‖model) ≤ upper − V*, so Pinsker bounds
        # ‖model − D_λ‖_1 by 2·sqrt(2·gap) (the gap counted with its rounding error);
        # the excess over that bound is an error.
        spread = np.abs(res.model - mixture(res.lam, D)).sum()
        gap = max(res.gap, 0.0) + 1e-15 * max(1.0, res.value)
        err = max(abs(res.value - cap.capacity), spread - 2.0 * np.sqrt(2.0 * gap))
        err = max(err, abs(jsd(res.lam, D) - res.value))
        err = max(err, res.lower - cap.upper, cap.lower - res.upper)
        if t % 3 == 2 and t % 5 != 4:  # disjoint supports: C = log K
            err = max(err, abs(res.value - np.log(K)))
        worst = max(worst, err)
    return Outcome(trials, worst)


@check("T6c", "Blahut–Arimoto sandwich log Σ r e^κ ≤ C ≤ max κ at every iterate", 1e-12)
def t6_sandwich(rng, trials):
    worst = 0.0
    for t in range(trials):
        K = int(rng.integers(2, 7))
        D = _stack(rng, K, int(rng.integers(K, 60)), ("random", "zeros", "disjoint")[t % 3])
        C = blahut_arimoto(D, tol=1e-13).capacity
        seen = []

        def record(i, r, lower, upper, D=D, C=C, seen=seen):
            kappa = kl_rows(D, mixture(r, D))
            on = r > 0
            own_lower = np.log(np.sum(r[on] * np.exp(kappa[on])))
            seen.append(max(abs(own_lower - lower), abs(kappa.max() - upper)))
            seen.append(max(lower - C, C - upper))

        blahut_arimoto(D, tol=1e-12, max_iter=int(rng.integers(1, 30)), callback=record)
        worst = max(worst, max(seen))
    return Outcome(trials, worst)


@check("T7", "Λ ⊆ Λ' ⇒ V*(Λ) ≤ V*(Λ'); V*({λ0}) = d(λ0); perfect: V* ≤ C ≤ log K", 1e-9)
def t7_prior_knowledge(rng, trials):
    worst = 0.0
    for t in range(trials):
        kind, D, P = _instance(rng, t)
        K = D.shape[0]
        objective = OBJECTIVES[t % len(OBJECTIVES)]
        lam0 = rng.dirichlet(np.ones(K))
        radii = np.sort(rng.uniform(0.0, 2.0, 2))
        chain = [L1Ball(lam0, 0.0), L1Ball(lam0, radii[0]), L1Ball(lam0, radii[1]), Simplex(K)]
        res = [robust_gate(D, P, Lam, objective=objective) for Lam in chain]
        err = max(max(a.lower - b.upper, 0.0) for a, b in zip(res, res[1:], strict=False))
        err = max(err, abs(res[0].value - dual_function(D, P, lam0, objective)[0]))
        if kind == "perfect" and objective == "divergence":
            err = max(err, res[-1].value - np.log(K))
        worst = max(worst, err)
    return Outcome(trials, worst)
