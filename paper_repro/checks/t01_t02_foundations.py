"""Verify rows T1 (JSD facts, compensation identity), C1 (the conventions of THEORY §1:
0·log 0 = 0 and KL = +∞) and T2 (representation lemma)."""

from __future__ import annotations

import math

import numpy as np

from paper_repro.checks import Outcome, check
from paper_repro.checks._instances import DESCRIPTION, instances, weights
from sims.adversarial import SMALLEST, zeros_against_infinity
from theory import symbolic
from theory.divergences import cross_entropy, entropy, jsd, kl, kl_rows, mixture
from theory.gates import envelope, gate_for, mass, model


def _kl_reference(p, q) -> float:
    """Σ p log(p/q) term by term in plain Python: 0·log(0/q) = 0, p·log(p/0) = +∞."""
    total = 0.0
    for a, b in zip(p.tolist(), q.tolist(), strict=True):
        if a == 0.0:
            continue
        if b == 0.0:
            return math.inf
        total += a * (math.log(a) - math.log(b))
    return total


def _entropy_reference(p) -> float:
    return -sum(a * math.log(a) for a in p.tolist() if a > 0.0)


def _rel(a: float, b: float) -> float:
    """|a − b| relative to max(1, |b|); +∞ unless a and b are both +∞ or both finite."""
    if math.isinf(a) or math.isinf(b):
        return 0.0 if a == b else math.inf
    return abs(a - b) / max(1.0, abs(b))


@check(
    "T1",
    "0 ≤ JSD_λ(D) ≤ H(λ) ≤ log K; JSD_λ = H(λ) on disjoint supports, = 0 on identical rows",
    1e-12,
    method="jsd(λ, D) against the entropy H(λ) computed term by term in plain Python; the "
    "equality cases against their closed forms (H(λ) when the supports are disjoint, 0 "
    "when all rows are equal: the 'useless' family's experts and n = 1); absolute error.",
    instances=f"(D, λ) and (P, λ): {DESCRIPTION}; λ with zero coordinates every third instance",
)
def t1_bounds(rng, trials):
    worst = 0.0
    count = 0
    for t, (family, D, P) in enumerate(instances(rng, trials)):
        lam = weights(rng, D.shape[0], t)
        h = _entropy_reference(lam)
        for rows in (D, P):
            j = jsd(lam, rows)
            err = max(-j, j - h, h - math.log(rows.shape[0]), 0.0)
            identical = bool(np.all(rows == rows[:1]))
            if family == "disjoint" and rows is D:
                err = max(err, abs(j - h))
            if identical:
                err = max(err, abs(j))
            worst = max(worst, err)
        count += 1
    return Outcome(count, worst)


@check(
    "T1b",
    "compensation identity: Σ_k λ_k KL(D_k‖q) = JSD_λ(D) + KL(D_λ‖q) for every q ∈ Δ(X)",
    1e-12,
    method="left side from kl_rows, right side from jsd and kl; q random, an expert, or "
    "the mixture itself; relative error (both sides +∞ together when q misses D's support).",
    instances=DESCRIPTION,
    derivation=symbolic.t1_compensation_identity,
)
def t1_compensation(rng, trials):
    worst = 0.0
    count = 0
    for t, (_family, D, P) in enumerate(instances(rng, trials)):
        lam = weights(rng, D.shape[0], t)
        for q in (rng.dirichlet(np.ones(D.shape[1])), P[0], mixture(lam, D)):
            kls = kl_rows(D, q)
            lhs = float(np.sum(lam[lam > 0] * kls[lam > 0]))
            rhs = jsd(lam, D) + kl(mixture(lam, D), q)
            worst = max(worst, _rel(lhs, rhs))
        count += 1
    return Outcome(count, worst)


@check(
    "T1c",
    "JSD_λ(D) = H(D_λ) − Σ_k λ_k H(D_k) (the entropy form of the divergence form)",
    1e-12,
    method="jsd (divergence form, compiled kernel) against entropies computed term by "
    "term in plain Python; relative error.",
    instances=DESCRIPTION,
    derivation=symbolic.t1_jsd_entropy_form,
)
def t1_entropy_form(rng, trials):
    worst = 0.0
    count = 0
    for t, (_family, D, _P) in enumerate(instances(rng, trials)):
        lam = weights(rng, D.shape[0], t)
        rhs = _entropy_reference(mixture(lam, D)) - sum(
            lam[k] * _entropy_reference(D[k]) for k in range(D.shape[0])
        )
        worst = max(worst, _rel(jsd(lam, D), rhs))
        count += 1
    return Outcome(count, worst)


@check(
    "C1",
    "conventions (§1): 0·log 0 = 0, KL(p‖q) = +∞ iff p(x) > 0 = q(x) for some x, "
    "CE(p, q) = KL(p‖q) + H(p)",
    1e-12,
    method="kl, kl_rows, cross_entropy and entropy against a plain-Python sum over the "
    "points with p > 0 (math.log); +∞ must match +∞ exactly, finite values within a "
    "relative 1e-12. Each pair is also tried with q's zero replaced by 5e-324, where the "
    "ratio p/q overflows and the kernels take their exact (slow) path with p's zeros in it.",
    instances="per trial: p, q from sims.adversarial.zeros_against_infinity (zeros in both, "
    "p > 0 = q at one point) on n ∈ [2, 40], the same with q's zero set to 5e-324, and "
    "(D_k, P_k) rows of the adversarial families (" + DESCRIPTION + ")",
)
def t1_conventions(rng, trials):
    worst = 0.0
    count = 0
    for _family, D, P in instances(rng, trials):
        p, q = zeros_against_infinity(rng, int(rng.integers(2, 41)))
        tiny = np.where((q == 0) & (p > 0), SMALLEST, q)
        pairs = [(p, q), (p, tiny / tiny.sum()), (D[0], P[0]), (P[-1], D[-1])]
        for a, b in pairs:
            ref = _kl_reference(a, b)
            worst = max(worst, _rel(kl(a, b), ref), _rel(float(kl_rows(a[None, :], b)[0]), ref))
            h = _entropy_reference(a)
            worst = max(worst, _rel(entropy(a), h), _rel(cross_entropy(a, b), ref + h))
        count += 1
    return Outcome(count, worst)


def _bisect_envelope_point(rng, P: np.ndarray) -> np.ndarray:
    """A random q ∈ M: q = clip(t/ν, ℓ, u) for a random t, with ν found by bisection."""
    lo, hi = envelope(P)
    t = rng.dirichlet(np.ones(P.shape[1]))
    a, b = 1e-12, 1e12
    for _ in range(200):
        nu = np.sqrt(a * b)
        s = np.clip(t / nu, lo, hi).sum()
        a, b = (nu, b) if s > 1 else (a, nu)
    q = np.clip(t / np.sqrt(a * b), lo, hi)
    # Spread the bisection's residual over the x with slack, keeping ℓ ≤ q ≤ u.
    r = 1.0 - q.sum()
    room = (hi - q) if r > 0 else (q - lo)
    if r != 0 and room.sum() > 0:
        q += r * room / room.sum()
    return q


@check(
    "T2",
    "representation: {p_g : g ∈ G_1} = M = {q : ℓ ≤ q ≤ u}; gate_for(q) has p_g = q and "
    "Z(g) = 1; every gate g has ℓ ≤ p_g ≤ u",
    1e-12,
    method="q drawn in M by an independent bisection on ν of clip(t/ν, ℓ, u); "
    "gate_for(q) checked column by column (columns in Δ_K, p_g = q, Z = 1); random gates "
    "checked against the envelope; absolute error.",
    instances=DESCRIPTION,
)
def t2_representation(rng, trials):
    worst = 0.0
    count = 0
    for _family, _D, P in instances(rng, trials):
        lo, hi = envelope(P)
        q = _bisect_envelope_point(rng, P)
        g = gate_for(q, P)
        err_inverse = np.abs((g * P).sum(axis=0) - q).max() + abs(mass(g, P) - 1.0)
        err_gate = np.abs(g.sum(axis=0) - 1.0).max() + max(0.0, -g.min())
        G = rng.dirichlet(np.ones(P.shape[0]), size=P.shape[1]).T
        pg = model(G, P)
        err_env = max(0.0, (lo - pg).max(), (pg - hi).max())
        worst = max(worst, err_inverse, err_gate, err_env)
        count += 1
    return Outcome(count, worst)


def _outside(rng, P: np.ndarray) -> np.ndarray | None:
    """A distribution just outside M, or None when M = Δ(X) (nothing lies outside).

    Above u(x) at the point with the least room when some u(x) < 1 (the mass is
    taken from the other points in proportion); else below ℓ(x) at a point with
    ℓ(x) > 0 (its mass moved to the others).
    """
    lo, hi = envelope(P)
    q = _bisect_envelope_point(rng, P)
    n = q.size
    if np.any(hi < 1.0) and n > 1:
        x = int(np.argmin(np.where(hi < 1.0, hi - q, np.inf)))
        target = min(1.0, hi[x] + max(1e-3 * (hi[x] - lo[x]), 1e-9 * (1.0 - hi[x]), 1e-300))
        bad = q * (1.0 - target) / max(1.0 - q[x], 1e-300)
        bad[x] = target
        return bad
    if np.any(lo > 0.0) and n > 1:
        x = int(np.argmax(lo))
        bad = q.copy()
        bad[x] = 0.0
        others = np.arange(n) != x
        bad[others] += q[x] * (hi[others] - q[others]) / max((hi - q)[others].sum(), 1e-300)
        bad /= bad.sum()
        return bad
    return None


@check(
    "T2b",
    "gate_for rejects every q outside the envelope M (ValueError), however close to M",
    0.0,
    method="q is pushed just past u(x) at the point with the least room (or below ℓ(x) "
    "when every u = 1); the count of such q that gate_for accepts. An instance with "
    "nothing outside M (M = Δ(X), e.g. n = 1) counts as a miss unless gate_for accepts "
    "every point of Δ(X) there, which is then checked instead.",
    measure="count",
    instances=DESCRIPTION,
)
def t2_rejects_outside(rng, trials):
    misses = 0
    count = 0
    for _family, _D, P in instances(rng, trials):
        bad = _outside(rng, P)
        count += 1
        if bad is None:
            # M = Δ(X): every distribution must be represented instead.
            q = rng.dirichlet(np.ones(P.shape[1]))
            try:
                g = gate_for(q, P)
                misses += int(np.abs(model(g, P) - q).max() > 1e-12)
            except ValueError:
                misses += 1
            continue
        try:
            gate_for(bad, P)
            misses += 1
        except ValueError:
            pass
    return Outcome(count, float(misses))
