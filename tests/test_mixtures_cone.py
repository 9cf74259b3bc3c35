"""support_cone: the support function σ_Λ written through conic duality (T5, T7).

Checked against the exact oracle argmax_linear for every family and K = 2..12,
both with w fixed (min t = σ_Λ(w)) and in the form the robust solver uses
(min s s.t. c ≤ w, t ≤ s, whose dual value on c ≤ w is a maximizer λ)."""

import warnings

import cvxpy as cp
import numpy as np
import pytest

from theory.mixtures import Box, KLBall, L1Ball, L2Ball, Polytope, Simplex

FAMILIES = ("simplex", "box", "l1", "polytope", "kl", "l2")


def random_set(rng, K, family):
    c0 = rng.dirichlet(np.full(K, 0.7))
    if K > 2 and rng.random() < 0.3:
        c0[rng.integers(K)] = 0.0
        c0 /= c0.sum()
    if family == "simplex":
        return Simplex(K)
    if family == "box":
        lo = rng.dirichlet(np.ones(K)) * rng.uniform(0, 0.9)
        hi = np.minimum(1.0, lo + rng.uniform(0.05, 1.0, K))
        if hi.sum() < 1:
            hi = np.minimum(1.0, hi + (1 - hi.sum()))
        return Box(lo, hi)
    if family == "l1":
        return L1Ball(c0, rng.choice([0.0, rng.uniform(0, 2.2)]))
    if family == "polytope":
        return Polytope(rng.dirichlet(np.ones(K), size=rng.integers(1, 6)))
    if family == "kl":
        return KLBall(c0, rng.choice([0.0, rng.uniform(0, 1.0), 20.0]))
    return L2Ball(c0, rng.choice([0.0, rng.uniform(0, 1.0), 1.5]))


def solve(prob):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prob.solve(solver="CLARABEL")
    assert prob.status == "optimal"
    return prob.value


@pytest.mark.parametrize("family", FAMILIES)
def test_T5_support_cone_equals_the_support_function(family):
    rng = np.random.default_rng(sum(map(ord, family)))
    for K in range(2, 13):
        S = random_set(rng, K, family)
        c = rng.normal(size=K)
        sigma = S.argmax_linear(c)[0]
        t, cons = S.support_cone(c)
        assert t.is_convex() and t.shape == ()
        assert solve(cp.Problem(cp.Minimize(t), cons)) == pytest.approx(sigma, abs=1e-6)


@pytest.mark.parametrize("family", FAMILIES)
def test_T5_dual_of_the_loss_constraint_is_a_maximizer(family):
    rng = np.random.default_rng(1 + sum(map(ord, family)))
    for K in range(2, 13):
        S = random_set(rng, K, family)
        c = rng.normal(size=K)
        sigma = S.argmax_linear(c)[0]
        w, s = cp.Variable(K), cp.Variable()
        t, cons = S.support_cone(w)
        losses = c <= w
        prob = cp.Problem(cp.Minimize(s), [losses, t <= s, *cons])
        assert prob.is_dcp()
        assert solve(prob) == pytest.approx(sigma, abs=1e-6)
        lam = np.asarray(losses.dual_value)
        assert S.contains(lam, tol=1e-5)
        assert lam @ c == pytest.approx(sigma, abs=1e-6)


def test_support_cone_size_grows_with_K_not_with_vertices():
    # The ℓ1 ball ∩ Δ_12 has up to thousands of vertices; its cone has O(K) entries.
    S = L1Ball(np.full(12, 1 / 12), 0.5)
    w = cp.Variable(12)
    t, cons = S.support_cone(w)
    n_aux = sum(v.size for v in cp.Problem(cp.Minimize(t), cons).variables()) - w.size
    assert n_aux <= 2 * 12 + 1


def test_support_cone_accepts_affine_expressions_only():
    S = L2Ball([0.5, 0.5], 0.2)
    x = cp.Variable(2)
    t, cons = S.support_cone(2 * x + 1)
    assert t.is_convex()
    with pytest.raises(ValueError, match="^w: expected an affine"):
        S.support_cone(cp.square(x))
    with pytest.raises(ValueError, match=r"^w: expected an expression of shape \(2,\)"):
        S.support_cone(cp.Variable(3))
    with pytest.raises(ValueError, match="^w:"):
        S.support_cone(["a", "b"])
    with pytest.raises(ValueError, match="^w:"):
        S.support_cone([np.nan, 0.0])
