"""Instances shared by the verify rows: random draws interleaved with the adversarial
families of :mod:`sims.adversarial`, so that every row sees every family."""

from __future__ import annotations

import numpy as np

from sims.adversarial import FAMILIES, pair

#: How the rows that draw from :func:`instances` describe their instances.
DESCRIPTION = (
    "instance t is of family FAMILIES[t mod 10] of sims.adversarial: random (Dirichlet "
    "rows), zeros (half the entries 0), disjoint supports, a dominated domain (a strict "
    "mixture of the others), duplicated domains, perfect experts (P = D), useless "
    "experts (all equal), tiny probabilities (down to 5e-324), K = 1, n = 1; "
    "K and n are drawn at random (K ≤ 6, n ≤ 40)"
)


def instances(rng, trials: int, families=FAMILIES, K=(1, 7), n=(2, 41)):
    """Yield ``(family, D, P)`` for t = 0 … trials − 1, the family cycling through ``families``."""
    for t in range(trials):
        family = families[t % len(families)]
        k = int(rng.integers(*K))
        m = int(rng.integers(max(n[0], k), max(n[1], k + 1)))
        D, P = pair(rng, family, k, m)
        yield family, D, P


def weights(rng, K: int, t: int) -> np.ndarray:
    """A random λ ∈ Δ_K; every third one has a zero coordinate (when K > 1)."""
    lam = rng.dirichlet(np.ones(K))
    if K > 1 and t % 3 == 2:
        lam[int(rng.integers(K))] = 0.0
        lam /= lam.sum()
    return lam
