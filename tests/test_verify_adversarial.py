"""The adversarial generators of sims.adversarial, shared by verify and the tests: each
family has the property it is named for, checked by an independent computation."""

import math

import numpy as np
import pytest
from scipy.optimize import linprog

from sims.adversarial import (
    FAMILIES,
    boundary_mixtures,
    pair,
    tied_vertices,
    zeros_against_infinity,
)
from theory.capacity import blahut_arimoto
from theory.divergences import jsd, kl
from theory.minimax import robust_gate
from theory.mixtures import Polytope


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_gives_stacks_of_distributions(family):
    rng = np.random.default_rng(0)
    for _ in range(5):
        D, P = pair(rng, family, int(rng.integers(1, 6)), int(rng.integers(2, 30)))
        assert D.shape == P.shape
        for A in (D, P):
            assert np.all(A >= 0) and np.allclose(A.sum(axis=1), 1.0, atol=1e-12)
        # every expert covers its own domain, so every objective is finite
        assert np.all((P > 0) | (D == 0))


def test_family_sizes_and_shapes():
    rng = np.random.default_rng(1)
    assert pair(rng, "single domain", 4, 7)[0].shape == (1, 7)
    assert pair(rng, "single point", 4, 7)[0].shape == (4, 1)
    assert pair(rng, "disjoint", 5, 2)[0].shape == (5, 5)
    assert pair(rng, "dominated", 2, 6)[0].shape == (3, 6)
    with pytest.raises(ValueError, match="family: expected one of"):
        pair(rng, "friendly", 2, 3)


def test_disjoint_supports_have_jsd_equal_to_the_entropy_of_lambda():
    rng = np.random.default_rng(2)
    D, _ = pair(rng, "disjoint", 4, 12)
    assert np.all((D > 0).sum(axis=0) == 1)
    lam = rng.dirichlet(np.ones(4))
    assert jsd(lam, D) == pytest.approx(-(lam * np.log(lam)).sum(), abs=1e-12)


def test_the_dominated_domain_is_inside_the_hull_and_gets_no_capacity_weight():
    rng = np.random.default_rng(3)
    for _ in range(5):
        D, _ = pair(rng, "dominated", int(rng.integers(3, 6)), 15)
        K = D.shape[0]
        # LP: the last row is a convex combination of the others
        res = linprog(
            np.zeros(K - 1),
            A_eq=np.vstack([D[:-1].T, np.ones(K - 1)]),
            b_eq=np.r_[D[-1], 1.0],
            bounds=[(0, None)] * (K - 1),
            method="highs",
        )
        assert res.status == 0
        cap = blahut_arimoto(D, tol=1e-12)
        assert cap.converged and cap.prior[-1] <= 1e-6
        gate = robust_gate(D, D)
        assert gate.lam[-1] <= 1e-6 and gate.per_domain[-1] < gate.lower - 1e-9


def test_duplicated_and_useless_families():
    rng = np.random.default_rng(4)
    D, _ = pair(rng, "duplicated", 3, 9)
    assert np.array_equal(D[0], D[1])
    D, P = pair(rng, "useless", 3, 9)
    assert np.all(P == P[0]) and not np.all(D == D[0])
    D, P = pair(rng, "perfect", 3, 9)
    assert np.array_equal(D, P)


def test_zeros_against_infinity_pairs_have_kl_infinite_and_zeros_elsewhere():
    rng = np.random.default_rng(5)
    for _ in range(50):
        p, q = zeros_against_infinity(rng, int(rng.integers(2, 20)))
        assert np.any((p > 0) & (q == 0)) and np.any((p == 0) & (q > 0))
        assert math.isinf(kl(p, q))
        # without the offending points the divergence is finite and matches a plain sum
        pp = np.where(q > 0, p, 0.0)
        if pp.sum() == 0:  # all of p's mass sat on q's zeros
            continue
        pp /= pp.sum()
        expected = sum(a * math.log(a / b) for a, b in zip(pp, q, strict=True) if a > 0)
        assert kl(pp, q) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_boundary_mixtures_touch_the_boundary_of_the_simplex():
    rng = np.random.default_rng(6)
    for K in (2, 3, 5):
        for Lam in boundary_mixtures(rng, K):
            # some coordinate can be driven to 0 inside Λ: min over Λ of λ_k is 0
            mins = [-Lam.argmax_linear(-np.eye(K)[k])[0] for k in range(K)]
            assert min(mins) <= 1e-9, Lam


def test_tied_vertices_have_at_least_two_distinct_maximizers():
    rng = np.random.default_rng(7)
    for K in (2, 3, 6):
        V, c = tied_vertices(rng, K)
        values = V @ c
        top = np.unique(V[values >= values.max() - 1e-15], axis=0)
        assert len(top) >= 2 and len(V) > len(np.unique(V, axis=0))
        value, lam = Polytope(V).argmax_linear(c)
        assert value == pytest.approx(values.max(), abs=1e-15)
