"""Verify rows T1 (JSD facts, compensation identity) and T2 (representation lemma)."""

from __future__ import annotations

import numpy as np

from paper_repro.checks import Outcome, check
from theory.divergences import entropy, jsd, kl, kl_rows, mixture
from theory.gates import envelope, gate_for, mass, model


def _rows(rng, K: int, n: int, kind: str) -> np.ndarray:
    """A K×n stack of distributions of the given adversarial ``kind``."""
    if kind == "random":
        return rng.dirichlet(np.full(n, 0.7), size=K)
    if kind == "zeros":
        D = rng.dirichlet(np.ones(n), size=K) * (rng.random((K, n)) < 0.5)
        D[np.arange(K), rng.integers(0, n, K)] += 0.1
        return D / D.sum(axis=1, keepdims=True)
    if kind == "disjoint":
        labels = np.concatenate([np.arange(K), rng.integers(0, K, max(0, n - K))])[:n]
        D = rng.random((K, n)) * (labels[None, :] == np.arange(K)[:, None])
        return D / D.sum(axis=1, keepdims=True)
    if kind == "identical":
        return np.repeat(rng.dirichlet(np.ones(n))[None, :], K, axis=0)
    if kind == "tiny":
        D = rng.dirichlet(np.ones(n), size=K)
        D[:, 0] = 1e-300
        return D / D.sum(axis=1, keepdims=True)
    raise ValueError(kind)


KINDS = ("random", "zeros", "disjoint", "identical", "tiny")


def _instances(rng, trials: int):
    """Random and adversarial (D, λ) pairs, including K = 1 and n = 1."""
    for t in range(trials):
        kind = KINDS[t % len(KINDS)]
        K = int(rng.integers(1, 6)) if t % 7 else 1
        n = int(rng.integers(max(K, 2), 40)) if t % 11 else 1
        if kind == "disjoint" and n < K:
            n = K
        yield kind, _rows(rng, K, n, kind), rng.dirichlet(np.ones(K))


@check("T1", "0 ≤ JSD_λ ≤ H(λ) ≤ log K; = H(λ) on disjoint, = 0 on identical rows", 1e-12)
def t1_bounds(rng, trials):
    worst = 0.0
    count = 0
    for kind, D, lam in _instances(rng, trials):
        j, h = jsd(lam, D), entropy(lam)
        K = D.shape[0]
        err = max(-j, j - h, h - np.log(K), 0.0)
        if kind == "disjoint":
            err = max(err, abs(j - h))
        if kind == "identical":
            err = max(err, abs(j))
        worst = max(worst, err)
        count += 1
    return Outcome(count, worst)


@check("T1b", "compensation: Σλ_k KL(D_k‖q) = JSD_λ(D) + KL(D_λ‖q)", 1e-12)
def t1_compensation(rng, trials):
    worst = 0.0
    count = 0
    for _kind, D, lam in _instances(rng, trials):
        q = rng.dirichlet(np.ones(D.shape[1]))
        lhs = float(lam @ kl_rows(D, q))
        rhs = jsd(lam, D) + kl(mixture(lam, D), q)
        worst = max(worst, abs(lhs - rhs) / max(1.0, abs(lhs)))
        count += 1
    return Outcome(count, worst)


@check("T1c", "JSD_λ(D) = H(D_λ) − Σλ_k H(D_k)", 1e-12)
def t1_entropy_form(rng, trials):
    worst = 0.0
    count = 0
    for _kind, D, lam in _instances(rng, trials):
        rhs = entropy(mixture(lam, D)) - sum(lam[k] * entropy(D[k]) for k in range(D.shape[0]))
        worst = max(worst, abs(jsd(lam, D) - rhs) / max(1.0, abs(rhs)))
        count += 1
    return Outcome(count, worst)


def _point_in_envelope(rng, P: np.ndarray) -> np.ndarray:
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


@check("T2", "{p_g : g ∈ G_1} = M: gate_for(q) has p_g = q, Z = 1; every g has ℓ ≤ p_g ≤ u", 1e-12)
def t2_representation(rng, trials):
    worst = 0.0
    count = 0
    for _kind, P, _lam in _instances(rng, trials):
        lo, hi = envelope(P)
        q = _point_in_envelope(rng, P)
        g = gate_for(q, P)
        err_inverse = np.abs(model(g, P) - q).max() + abs(mass(g, P) - 1.0)
        err_gate = np.abs(g.sum(axis=0) - 1.0).max() + max(0.0, -g.min())
        G = rng.dirichlet(np.ones(P.shape[0]), size=P.shape[1]).T
        pg = model(G, P)
        err_env = max(0.0, (lo - pg).max(), (pg - hi).max())
        worst = max(worst, err_inverse, err_gate, err_env)
        count += 1
    return Outcome(count, worst)


@check("T2b", "gate_for rejects every q outside the envelope M", 0.0)
def t2_rejects_outside(rng, trials):
    misses = 0
    count = 0
    for _kind, P, _lam in _instances(rng, trials):
        lo, hi = envelope(P)
        if np.all(hi - lo <= 0) or P.shape[1] < 2:
            continue
        q = _point_in_envelope(rng, P)
        # The x closest to its upper envelope needs the smallest push to leave M.
        x = int(np.argmin(np.where(hi > lo, hi - q, np.inf)))
        y = int(np.argmax(np.where(np.arange(len(q)) == x, -np.inf, q)))
        # Push q(x) above u(x), taking the mass from another point (q stays on the simplex).
        delta = min(q[y], (hi[x] - q[x]) + 1e-3 * (hi[x] - lo[x]) + 1e-9)
        bad = q.copy()
        bad[x] += delta
        bad[y] -= delta
        if bad[x] <= hi[x] * (1 + 1e-9):
            continue
        count += 1
        try:
            gate_for(bad, P)
            misses += 1
        except ValueError:
            pass
    return Outcome(count, float(misses))
