"""T2: the representation lemma {p_g : g ∈ G_1} = M and its constructive inverse."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from theory.gates import envelope, gate_for, mass, model
from theory.mixtures import Simplex


def _experts(seed, K, n, zeros=False):
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(n), size=K)
    if zeros:
        P *= rng.random((K, n)) < 0.6
        P[:, 0] += 0.01
        P /= P.sum(axis=1, keepdims=True)
    return P


@given(st.integers(0, 10_000), st.integers(1, 6), st.integers(1, 25), st.booleans())
def test_T2_constant_gate_gives_the_mixture(seed, K, n, zeros):
    P = _experts(seed, K, n, zeros)
    z = np.random.default_rng(seed + 1).dirichlet(np.ones(K))
    g = np.repeat(z[:, None], n, axis=1)
    np.testing.assert_allclose(model(g, P), z @ P, rtol=1e-13, atol=1e-300)
    assert mass(g, P) == pytest.approx(1.0, abs=1e-13)


@given(st.integers(0, 10_000), st.integers(1, 6), st.integers(1, 25), st.booleans())
def test_T2_gate_for_inverts_the_model_on_the_envelope(seed, K, n, zeros):
    P = _experts(seed, K, n, zeros)
    rng = np.random.default_rng(seed + 2)
    # Points of M: a convex combination of a constant-gate model (in conv(P)) and a
    # clipped target clip(t/ν, ℓ, u) for a random t (in M, generally outside conv(P)).
    clipped = _clipped_target(rng.dirichlet(np.ones(n)), *envelope(P))
    w = rng.random()
    q = w * (rng.dirichlet(np.ones(K)) @ P) + (1.0 - w) * clipped
    g = gate_for(q, P)
    assert g.shape == P.shape
    assert (g >= 0).all()
    np.testing.assert_allclose(g.sum(axis=0), 1.0, atol=1e-14)
    # p_g(x) = Σ_k g_k(x) p_k(x) written out, not through model()
    np.testing.assert_allclose((g * P).sum(axis=0), q, rtol=1e-12, atol=1e-15)
    assert mass(g, P) == pytest.approx(1.0, abs=1e-12)


def _clipped_target(t, lo, hi):
    """clip(t/ν, ℓ, u) with Σ = 1, ν by bisection on log₂(1/ν) (Φ is non-decreasing);
    the residual of the bisection is spread over the points with room left."""
    a, b = -1074.0, 1023.0
    for _ in range(200):
        e = 0.5 * (a + b)
        a, b = (a, e) if np.clip(t * 2.0**e, lo, hi).sum() > 1.0 else (e, b)
    q = np.clip(t * 2.0**b, lo, hi)
    r = 1.0 - q.sum()
    room = (hi - q) if r > 0 else (q - lo)
    if r != 0 and room.sum() > 0:
        q = q + r * room / room.sum()
    return q


def test_T2_clipped_targets_reach_points_of_M_outside_the_experts_hull():
    # The constructive inverse is exercised beyond conv(P): here conv(P) is the segment
    # between two experts, and a clipped target of t = (1, 0, 0) is not on it.
    P = np.array([[0.6, 0.2, 0.2], [0.2, 0.4, 0.4]])
    q = _clipped_target(np.array([1.0, 0.0, 0.0]), *envelope(P))
    np.testing.assert_allclose(q, [0.6, 0.2, 0.2], atol=1e-12)
    q = _clipped_target(np.array([0.5, 0.5, 0.0]), *envelope(P))
    # (0.4, 0.4, 0.2): no w gives w·p_1 + (1 − w)·p_2 with x_2 ≠ x_3
    np.testing.assert_allclose(q, [0.4, 0.4, 0.2], atol=1e-12)
    g = gate_for(q, P)
    np.testing.assert_allclose((g * P).sum(axis=0), q, atol=1e-12)


@given(st.integers(0, 10_000), st.integers(2, 6), st.integers(2, 25))
def test_T2_every_gate_model_lies_in_the_envelope(seed, K, n):
    P = _experts(seed, K, n)
    g = np.random.default_rng(seed).dirichlet(np.ones(K), size=n).T
    lo, hi = envelope(P)
    pg = model(g, P)
    assert (pg >= lo - 1e-16).all() and (pg <= hi + 1e-16).all()


def test_T2_gate_for_rejects_points_outside_the_envelope():
    P = np.array([[0.5, 0.5, 0.0], [0.25, 0.25, 0.5]])
    with pytest.raises(ValueError, match=r"q: .*envelope.*index 0"):
        gate_for([0.6, 0.3, 0.1], P)
    with pytest.raises(ValueError, match="q: must sum to 1"):
        gate_for([0.3, 0.3, 0.3], P)


def test_T2_identical_experts_have_a_point_envelope():
    P = np.array([[0.2, 0.8], [0.2, 0.8]])
    g = gate_for([0.2, 0.8], P)
    np.testing.assert_allclose(g.sum(axis=0), 1.0)
    np.testing.assert_allclose(model(g, P), [0.2, 0.8])


def test_gate_validation_names_the_argument():
    P = np.array([[0.5, 0.5], [0.1, 0.9]])
    with pytest.raises(ValueError, match="gate: expected shape"):
        model(np.ones((3, 2)) / 3, P)
    with pytest.raises(ValueError, match="gate: every column"):
        model(np.ones((2, 2)), P)
    with pytest.raises(ValueError, match="gate: entries must be non-negative"):
        model([[1.5, 0.5], [-0.5, 0.5]], P)
    assert Simplex(2).K == 2
