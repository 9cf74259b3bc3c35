"""Verify rows T3–T7: water-filling, saddle point, dual function, capacity, prior knowledge,
and the exact iteration budgets of the two iterative solvers."""

from __future__ import annotations

import numpy as np

from paper_repro.checks import Outcome, check
from paper_repro.checks._instances import DESCRIPTION, instances, weights
from sims.adversarial import FAMILIES, boundary_mixtures, pair
from theory import objectives, symbolic
from theory.best_response import best_response_gate
from theory.capacity import blahut_arimoto
from theory.divergences import jsd, kl_rows, mixture
from theory.gates import mass, model
from theory.minimax import (
    dual_function,
    fixed_mixture,
    objective_offsets,
    robust_gate,
    water_fill,
)
from theory.mixtures import L1Ball, Simplex

OBJECTIVES = tuple(objectives.names())
#: The families of sims.adversarial plus the edge case of T3 where Φ has no root.
KINDS = (*FAMILIES, "no root")


def _instance(rng, t: int, K=(1, 7), n=(2, 50)):
    """Domains D and experts P of the family KINDS[t mod 11].

    "no root" builds the edge case of T3: domains on the first half of X,
    experts that put at most 30 % of their mass there.
    """
    kind = KINDS[t % len(KINDS)]
    k = int(rng.integers(*K))
    m = int(rng.integers(max(n[0], k), max(n[1], k + 1)))
    if kind == "no root":
        m, half = max(m, 4), max(m, 4) // 2
        D = np.zeros((k, m))
        D[:, :half] = rng.dirichlet(np.ones(half), size=k)
        P = np.hstack(
            [0.3 * rng.dirichlet(np.ones(half), size=k), 0.7 * rng.dirichlet(np.ones(m - half), k)]
        )
        return kind, D, P
    return (kind, *pair(rng, kind, k, m))


def _kinds(n_max: int) -> str:
    """How the rows that draw from :func:`_instance` describe their instances."""
    return (
        "instance t is of kind KINDS[t mod 11]: the ten families of sims.adversarial — "
        "random (Dirichlet rows), zeros (half the entries 0), disjoint supports, a "
        "dominated domain (a strict mixture of the others), duplicated domains, perfect "
        "experts (P = D), useless experts (all equal), tiny probabilities (down to "
        "5e-324), K = 1, n = 1 — then 'no root', the edge case of T3 (domains on the first "
        "half of X, experts with at most 30 % of their mass there); K ≤ 6 and "
        f"n ≤ {n_max} drawn at random"
    )


INSTANCES = _kinds(49)


def _losses(D, q, c):
    """L_k(q) = CE(D_k, q) − c_k in plain numpy (+∞ where D_k puts mass on a zero of q)."""
    with np.errstate(divide="ignore"):
        return -np.where(D > 0, D * np.log(np.where(D > 0, q, 1.0)), 0.0).sum(axis=1) - c


def _water_level_reference(t, lo, hi):
    """clip(t·s, ℓ, u) summing to 1, s found by bisection on log₂ s over the whole float
    range (Φ(s) = Σ clip(t s, ℓ, u) is non-decreasing); None if Φ(∞) < 1 beyond rounding
    (no root)."""
    if np.where(t > 0, hi, lo).sum() < 1.0 - 1e-12:
        return None
    a, b = -1074.0, 1023.0
    for _ in range(120):
        e = 0.5 * (a + b)
        with np.errstate(over="ignore"):
            s = np.clip(t * 2.0**e, lo, hi).sum()
        a, b = (a, e) if s > 1.0 else (e, b)
    with np.errstate(over="ignore"):
        return np.clip(t * 2.0**b, lo, hi)


def _flat_level_error(t, lo, hi, q, nu) -> float:
    """How far (relative) the level s = 1/ν lies from the root of Φ closest to 1, on a flat piece.

    Φ(s) = Σ clip(t s, ℓ, u) − 1 is flat around the root when every point of supp t with
    ℓ < u sits on a bound (to 4 ulps: the level is found to rounding); then every s in
    [s_a, s_b] = [max_{q=u} u/t, min_{q=ℓ} ℓ/t] solves Φ(s) = 0 and the one closest to 1,
    clip(1, s_a, s_b), must be reported. 0 when some point is free (a single root).
    """
    if nu == 0.0:
        return 0.0
    on = (t > 0) & (lo < hi)
    slack = 4.0 * np.finfo(np.float64).eps
    at_hi = on & (q >= hi * (1.0 - slack))
    at_lo = on & (q <= lo * (1.0 + slack)) & ~at_hi
    if np.any(on & ~at_hi & ~at_lo):
        return 0.0
    with np.errstate(over="ignore"):
        s_a = float(np.max(hi[at_hi] / t[at_hi], initial=0.0))
        s_b = float(np.min(lo[at_lo] / t[at_lo], initial=np.inf))
    want = min(max(1.0, s_a), s_b)
    return abs(1.0 / nu - want) / want


#: Targets t and experts P whose Φ is flat around its roots, below and above s = 1:
#: roots [2/3, 5/6] with t(1) = u(1) (the search starts on a breakpoint), and [7/6, 2]
#: with t(0) = ℓ(0).
FLAT_PIECES = (
    ([0.1, 0.6, 0.3], [[0.3, 0.5, 0.2], [0.35, 0.6, 0.05]]),
    ([0.3, 0.6, 0.1], [[0.35, 0.45, 0.2], [0.3, 0.4, 0.3]]),
)


@check(
    "T3",
    "water-filling: q*_λ = clip(D_λ/ν, ℓ, u) with Σq* = 1 minimizes KL(D_λ‖q) over M, "
    "and gate_for(q*) is in G_1; on a flat piece of Σ clip(D_λ/ν, ℓ, u) the level ν "
    "reported is the root closest to 1",
    1e-12,
    method="the model of fixed_mixture against (i) an independent bisection on log₂(1/ν) "
    "over the whole float range (absolute error per point; on supp D_λ only in the no-root "
    "case, where q* = u there; best_response_gate must return the same model), (ii) the "
    "KKT conditions: q/t = 1/ν on the free set, "
    "t/ν ≤ ℓ where q = ℓ, t/ν ≥ u where q = u, Σq = 1 (relative error), and (iii) its "
    "gate: columns in Δ_K, p_g = q*, Z = 1; (iv) when every point of supp D_λ with "
    "ℓ < u is clipped (to 4 ulps), 1/ν against clip(1, max_{q=u} u/t, min_{q=ℓ} ℓ/t), the "
    "root closest to 1 of the flat piece (relative error); the two flat instances go "
    "through water_fill and are also held to (i).",
    instances=INSTANCES + "; λ with zero coordinates every third instance; and in every "
    "run two hand-built targets whose roots fill an interval below 1 (with t = u at one "
    "point, so the search starts on a breakpoint) and above 1",
    derivation=symbolic.t3_water_filling_kkt,
)
def t3_water_filling(rng, trials):
    worst = 0.0
    for t in range(trials):
        kind, D, P = _instance(rng, t)
        lam = weights(rng, D.shape[0], t)
        res = fixed_mixture(D, P, lam)
        lo, hi = P.min(axis=0), P.max(axis=0)
        tgt = mixture(lam, D)
        q = res.model
        on = tgt > 0
        ref = _water_level_reference(tgt, lo, hi)
        if ref is None:
            err = float(np.abs(q[on] - hi[on]).max()) + float(res.nu != 0.0)
        else:
            err = float(np.abs(q - ref).max())
        scale = np.inf if res.nu == 0.0 else 1.0 / res.nu
        with np.errstate(invalid="ignore", over="ignore"):
            level = tgt * scale
        free = on & (q > lo) & (q < hi)
        err = max(err, abs(q.sum() - 1.0))
        err = max(
            err, np.max(np.abs(q[free] - level[free]) / np.maximum(q[free], 1e-300), initial=0.0)
        )
        at_lo = on & (q <= lo) & (lo < hi)
        at_hi = on & (q >= hi) & (lo < hi)
        # a level far beyond a tiny u overflows to −inf here: no violation, no warning
        with np.errstate(over="ignore"):
            err = max(err, np.max((level[at_lo] - lo[at_lo]) / lo[at_lo], initial=0.0))
            err = max(err, np.max((hi[at_hi] - level[at_hi]) / hi[at_hi], initial=0.0))
        err = max(err, np.max(lo - q), np.max(q - hi))
        g = res.gate
        err = max(err, abs(mass(g, P) - 1.0), np.abs(model(g, P) - q).max(), -g.min())
        err = max(err, np.abs(g.sum(axis=0) - 1.0).max())
        # T4's best-response map of the gate is the same water-filled model
        err = max(err, float(np.abs(best_response_gate(D, P, lam) - q).max()))
        err = max(err, _flat_level_error(tgt, lo, hi, q, res.nu))
        worst = max(worst, err)
    for tgt, P in FLAT_PIECES:
        tgt, P = np.array(tgt), np.array(P)
        lo, hi = P.min(axis=0), P.max(axis=0)
        q, nu = water_fill(tgt, P)
        flat = _flat_level_error(tgt, lo, hi, q, nu)
        # a flat instance that is no longer flat at the reported level is an error too
        free = (q > lo * (1 + 1e-12)) & (q < hi * (1 - 1e-12))
        worst = max(worst, flat, float(np.abs(q - _water_level_reference(tgt, lo, hi)).max()))
        worst = max(worst, np.inf if free.any() else 0.0)
    return Outcome(trials + len(FLAT_PIECES), worst)


@check(
    "T4",
    "saddle point: L(g*, λ) ≤ L(g*, λ*) ≤ L(g, λ*) for all λ ∈ Δ_K, g ∈ G_1; the certified "
    "gap upper − lower ≤ 1e-9",
    1e-9,
    method="robust_gate's model q*; its losses L_k recomputed in plain numpy; left "
    "inequality: max_k L_k(q*) ≤ λ*·L(q*) (the vertices of Δ_K are the worst λ); right "
    "inequality: λ*·L(q*) ≤ λ*·L(q*_μ) for the water-filled best responses to 5 random μ "
    "(which are points of G_1); absolute error, +∞ when not converged.",
    instances=INSTANCES + "; the objective cycles through " + ", ".join(OBJECTIVES),
)
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
        err = max(err, np.max(L) - v)
        for lam in rng.dirichlet(np.ones(K), size=5):
            q = fixed_mixture(D, P, lam).model
            err = max(err, v - res.lam @ _losses(D, q, c))
        worst = max(worst, err)
    return Outcome(trials, worst)


@check(
    "T5",
    "d(λ) = min_{g∈G_1} L(g, λ) is concave with supergradient L(q*_λ): "
    "d(λ') ≤ d(λ) + L(q*_λ)·(λ' − λ), and d(½(λ+λ')) ≥ ½(d(λ) + d(λ'))",
    1e-10,
    method="dual_function at λ, λ' and their midpoint; the supergradient inequality and "
    "midpoint concavity; absolute error.",
    instances=INSTANCES + "; every other λ has a zero coordinate",
    derivation=symbolic.t5_dual_hessian,
)
def t5_supergradient(rng, trials):
    worst = 0.0
    for t in range(trials):
        _kind, D, P = _instance(rng, t)
        objective = OBJECTIVES[t % len(OBJECTIVES)]
        lam, other = rng.dirichlet(np.ones(D.shape[0]), size=2)
        if t % 2 and D.shape[0] > 1:
            lam[rng.integers(D.shape[0])] = 0.0
            lam /= lam.sum()
        d, g = dual_function(D, P, lam, objective)
        d2, _ = dual_function(D, P, other, objective)
        with np.errstate(invalid="ignore"):
            bound = d + np.sum(np.where(other - lam != 0, g * (other - lam), 0.0))
        d_mid = dual_function(D, P, 0.5 * (lam + other), objective)[0]
        worst = max(worst, d2 - bound, 0.5 * (d + d2) - d_mid)
    return Outcome(trials, worst)


@check(
    "T5b",
    "V*(Λ) = max_{λ∈Λ} d(λ): the dual solver agrees with the cvxpy (Clarabel) reference on "
    "every family of Λ, including sets that touch the simplex boundary",
    1e-7,
    method="robust_gate(method='dual') against robust_gate(method='cvxpy') (an independent "
    "exponential-cone formulation): |value difference|, certificates that cross, and the "
    "dual solver's certified gap (+∞ if either solver does not certify its answer); "
    "absolute error.",
    instances="min(trials, 12) small instances (K ≤ 5, n ≤ 30) of the adversarial families; "
    "Λ cycles through sims.adversarial.boundary_mixtures: Δ_K, a box with 0 lower bounds, "
    "an ℓ1 ball at a vertex, a polytope with vertices on faces, KL and ℓ2 balls centred on "
    "a face",
)
def t5_against_cvxpy(rng, trials):
    worst = 0.0
    count = min(trials, 12)
    for t in range(count):
        _kind, D, P = _instance(rng, t, K=(2, 6), n=(2, 31))
        sets = boundary_mixtures(rng, D.shape[0])
        Lam = sets[t % len(sets)]
        objective = OBJECTIVES[t % len(OBJECTIVES)]
        dual = robust_gate(D, P, Lam, objective=objective)
        ref = robust_gate(D, P, Lam, objective=objective, method="cvxpy")
        crossed = max(dual.lower - ref.upper, ref.lower - dual.upper, 0.0)
        gap = dual.upper - dual.lower if dual.converged else np.inf
        # the reference must certify itself (its λ from the conic duals, its model's worst case)
        gap = max(gap, 0.0 if ref.converged else np.inf)
        worst = max(worst, abs(dual.value - ref.value), crossed, gap)
    return Outcome(count, worst)


@check(
    "T6",
    "equalizer: L_k(q*) = V* wherever λ*_k > 0 and L_k(q*) ≤ V* elsewhere; a dominated "
    "domain (a strict mixture of the others, perfect experts) gets λ*_k = 0 and L_k < V*",
    1e-7,
    method="L_k(q*) recomputed in plain numpy from D and the returned model, against the "
    "dual value V* = d(λ*) (the lower certificate, which the solver computes from λ*, not "
    "from the model); for the dominated domain, V* − L_K must be positive (a shortfall is "
    "an error) and λ*_K ≤ 1e-6; absolute error.",
    instances=INSTANCES + "; every fourth instance is a dominated domain with perfect experts",
)
def t6_equalizer(rng, trials):
    worst = 0.0
    for t in range(trials):
        dominated = t % 4 == 3
        if dominated:
            D, _ = pair(rng, "dominated", int(rng.integers(3, 7)), int(rng.integers(4, 40)))
            P = D
        else:
            _kind, D, P = _instance(rng, t)
        objective = "divergence" if dominated else OBJECTIVES[t % len(OBJECTIVES)]
        res = robust_gate(D, P, objective=objective)
        L = _losses(D, res.model, objective_offsets(D, P, objective))
        V = res.lower
        on = res.lam > 1e-6
        err = max(np.max(L) - V, np.max(np.abs(L[on] - V)))
        if dominated:
            err = max(err, res.lam[-1] - 1e-6, np.inf if L[-1] >= V - 1e-9 else 0.0)
        worst = max(worst, err)
    return Outcome(trials, worst)


CAPACITY_FAMILIES = ("random", "zeros", "disjoint", "dominated", "duplicated", "tiny")


@check(
    "T6b",
    "perfect experts: V*(Δ_K) = C(D) (capacity, Blahut–Arimoto), q* = D_λ* (unique), "
    "V* = JSD_λ*(D); disjoint supports: C = log K",
    1e-9,
    method="robust_gate(D, D) against blahut_arimoto(D) (two different algorithms): "
    "|V* − C|, crossed certificates, |JSD_λ*(D) − V*|; ‖q* − D_λ*‖₁ beyond the Pinsker "
    "bound 2√(2·gap); log K on disjoint supports; absolute error.",
    instances="domains of the families " + ", ".join(CAPACITY_FAMILIES) + " (K ≤ 6, n < 60)",
)
def t6_capacity(rng, trials):
    worst = 0.0
    for t in range(trials):
        family = CAPACITY_FAMILIES[t % len(CAPACITY_FAMILIES)]
        K = int(rng.integers(2, 7))
        D, _ = pair(rng, family, K, int(rng.integers(K, 60)))
        K = D.shape[0]
        res = robust_gate(D, D, tol=5e-10)
        cap = blahut_arimoto(D, tol=1e-12)
        # λ* need not be unique but q* = D_λ* is: by the compensation identity (T1)
        # KL(D_λ‖q*) ≤ V* − d(λ) and KL(q*‖model) ≤ upper − V*, so Pinsker bounds
        # ‖model − D_λ‖_1 by 2·sqrt(2·gap) (the gap counted with its rounding error).
        spread = np.abs(res.model - mixture(res.lam, D)).sum()
        gap = max(res.gap, 0.0) + 1e-15 * max(1.0, res.value)
        err = max(abs(res.value - cap.capacity), spread - 2.0 * np.sqrt(2.0 * gap))
        err = max(err, abs(jsd(res.lam, D) - res.value))
        err = max(err, res.lower - cap.upper, cap.lower - res.upper)
        err = max(err, 0.0 if cap.converged else np.inf)
        if family == "dominated":
            err = max(err, cap.prior[-1] - 1e-6)
        if family == "disjoint":
            err = max(err, abs(res.value - np.log(K)))
        worst = max(worst, err)
    return Outcome(trials, worst)


@check(
    "T6c",
    "Blahut–Arimoto sandwich: log Σ_k r_k e^{κ_k} ≤ C ≤ max_k κ_k, κ_k = KL(D_k‖D_r), at "
    "every iterate r",
    1e-12,
    method="at every iterate (callback), κ recomputed with kl_rows and both bounds "
    "recomputed (κ_k capped at −log r_k, a valid bound, where D_r underflows), against "
    "the reported ones and against a converged capacity C; absolute error.",
    instances="domains of the families " + ", ".join(CAPACITY_FAMILIES) + ", 1–30 iterations",
)
def t6_sandwich(rng, trials):
    worst = 0.0
    for t in range(trials):
        K = int(rng.integers(2, 7))
        D, _ = pair(rng, CAPACITY_FAMILIES[t % len(CAPACITY_FAMILIES)], K, int(rng.integers(K, 60)))
        C = blahut_arimoto(D, tol=1e-13).capacity
        seen = []

        def record(i, r, lower, upper, D=D, C=C, seen=seen):
            kappa = kl_rows(D, mixture(r, D))
            on = r > 0
            # κ_k ≤ −log r_k (D_r ≥ r_k D_k); the cap matters only where D_r underflowed
            capped = np.minimum(kappa[on], -np.log(r[on]))
            own_lower = np.log(np.sum(r[on] * np.exp(capped)))
            top = kappa.max()
            seen.append(abs(own_lower - lower))
            seen.append(0.0 if top == upper else abs(top - upper))
            seen.append(max(lower - C, C - upper))

        blahut_arimoto(D, tol=1e-12, max_iter=int(rng.integers(1, 30)), callback=record)
        worst = max(worst, max(seen))
    return Outcome(trials, worst)


@check(
    "T6d",
    "iteration budgets are exact: a solver stopped by max_iter = k has taken exactly k "
    "steps (never k + 1, never fewer) and reports each of them",
    0.0,
    method="blahut_arimoto(D, tol=1e-300, max_iter=k): callbacks counted (k + 1 with the "
    "start), iterations == k and len(history) == k + 1 unless converged (then "
    "iterations ≤ k); robust_gate(tol=1e-300, max_iter=k ≤ 8): iterations == "
    "len(history) − 1, iterations ≤ k, and iterations == k unless converged; the count "
    "of violations.",
    measure="count",
    instances=DESCRIPTION + "; k uniform in 0..8 (Blahut–Arimoto) and 1..8 (dual solver)",
)
def t6_budgets(rng, trials):
    bad = 0
    count = 0
    for _family, D, P in instances(rng, trials):
        k = int(rng.integers(0, 9))
        calls = []
        cap = blahut_arimoto(
            D, tol=1e-300, max_iter=k, callback=lambda i, *_, calls=calls: calls.append(i)
        )
        steps = len(calls) - 1
        ok = cap.iterations == steps == len(cap.history) - 1 and steps <= k
        ok = ok and (cap.converged or steps == k)
        ok = ok and calls == list(range(len(calls)))
        bad += not ok
        k = int(rng.integers(1, 9))
        res = robust_gate(D, P, tol=1e-300, max_iter=k)
        ok = res.iterations == len(res.history) - 1 and res.iterations <= k
        bad += not (ok and (res.converged or res.iterations == k))
        count += 1
    return Outcome(count, float(bad))


@check(
    "T7",
    "prior knowledge: Λ ⊆ Λ' ⇒ V*(Λ) ≤ V*(Λ'); V*({λ0}) = d(λ0); every V*(Λ) equals the "
    "cvxpy reference; perfect experts: V*(Δ_K) ≤ log K",
    1e-7,
    method="a chain {λ0} ⊆ B₁(λ0, r₁) ⊆ B₁(λ0, r₂) ⊆ Δ_K of ℓ1 balls (λ0 random or a "
    "vertex of Δ_K): certified bounds must not cross along the chain; V*({λ0}) against "
    "dual_function(λ0); the V* of one of the two balls (alternately) against "
    "robust_gate(method='cvxpy'), whose conic model reaches Λ through support_cone, "
    "not through the ℓ1 ball's linear oracle; absolute error.",
    instances=_kinds(30) + "; objectives cycle",
)
def t7_prior_knowledge(rng, trials):
    worst = 0.0
    for t in range(trials):
        kind, D, P = _instance(rng, t, n=(2, 31))
        K = D.shape[0]
        objective = OBJECTIVES[t % len(OBJECTIVES)]
        lam0 = rng.dirichlet(np.ones(K)) if t % 3 else np.eye(K)[int(rng.integers(K))]
        radii = np.sort(rng.uniform(0.0, 2.0, 2))
        chain = [L1Ball(lam0, 0.0), L1Ball(lam0, radii[0]), L1Ball(lam0, radii[1]), Simplex(K)]
        res = [robust_gate(D, P, Lam, objective=objective) for Lam in chain]
        err = max(max(a.lower - b.upper, 0.0) for a, b in zip(res, res[1:], strict=False))
        err = max(err, abs(res[0].value - dual_function(D, P, lam0, objective)[0]))
        err = max(err, max(0.0 if r.converged else np.inf for r in res))
        Lam, r = chain[1 + t % 2], res[1 + t % 2]
        ref = robust_gate(D, P, Lam, objective=objective, method="cvxpy")
        err = max(err, abs(r.value - ref.value), r.lower - ref.upper, ref.lower - r.upper)
        err = max(err, 0.0 if ref.converged else np.inf)
        if kind == "perfect" and objective == "divergence":
            err = max(err, res[-1].value - np.log(K))
        worst = max(worst, err)
    return Outcome(trials, worst)


@check(
    "T4b",
    "the best response BR_G(λ) = argmin_{q∈M} −Σ_x D_λ(x) log q(x) over the envelope "
    "M = {ℓ ≤ q ≤ u, Σq = 1} of the experts",
    1e-5,
    method="best_response_gate(D, P, λ) against the same minimization written in cvxpy "
    "(Clarabel, exponential cone) from D_λ and the envelope min_k p_k ≤ q ≤ max_k p_k: the "
    "answer must lie in M and its cross-entropy exceed the reference's by at most the "
    "tolerance (nats, +∞ outside M).",
    instances=INSTANCES + "; λ Dirichlet(1), a vertex of Δ_K every third instance",
)
def t4_best_response(rng, trials):
    import warnings

    import cvxpy as cp

    worst = 0.0
    for t in range(trials):
        _kind, D, P = _instance(rng, t)
        K, n = D.shape
        lam = np.eye(K)[int(rng.integers(K))] if t % 3 == 0 else rng.dirichlet(np.ones(K))
        target = lam @ D
        lo, hi = P.min(axis=0), P.max(axis=0)
        if np.any((target > 0) & (hi == 0)):
            continue
        q = best_response_gate(D, P, lam)
        on = target > 0
        var = cp.Variable(n)
        prob = cp.Problem(
            cp.Minimize(-target[on] @ cp.log(var[on])), [var >= lo, var <= hi, cp.sum(var) == 1]
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            prob.solve(solver=cp.CLARABEL)
        if prob.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
            worst = np.inf
            continue
        inside = np.all(q >= lo - 1e-12) and np.all(q <= hi + 1e-12) and abs(q.sum() - 1) < 1e-9
        with np.errstate(divide="ignore"):
            ce = float(-target[on] @ np.log(q[on]))
        worst = max(worst, max(ce - prob.value, 0.0) if inside else np.inf)
    return Outcome(trials, worst)
