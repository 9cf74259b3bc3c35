"""Mixture sets Λ: exact LP oracles, projections and vertices against scipy references."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import linprog, minimize

from theory.mixtures import Box, L1Ball, Polytope, Simplex, from_spec


def _random_set(rng, K):
    kind = rng.integers(4)
    if kind == 0:
        return Simplex(K)
    if kind == 1:
        lo = rng.dirichlet(np.ones(K)) * rng.uniform(0, 0.9)
        hi = np.minimum(1.0, lo + rng.uniform(0.05, 1.0, K))
        if hi.sum() < 1:
            hi = np.minimum(1.0, hi + (1 - hi.sum()))
        return Box(lo, hi)
    if kind == 2:
        return L1Ball(rng.dirichlet(np.ones(K)), rng.uniform(0, 2.2))
    return Polytope(rng.dirichlet(np.ones(K), size=rng.integers(1, 6)))


def _lp_reference(S, c):
    """max c·λ by scipy's HiGHS on an explicit description of Λ."""
    K = S.K
    if isinstance(S, Polytope):
        V = S.vertices()
        return float((V @ c).max())
    if isinstance(S, Simplex):
        bounds = [(0, 1)] * K
        A_ub = b_ub = None
    elif isinstance(S, Box):
        bounds = list(zip(S.lo, S.hi, strict=True))
        A_ub = b_ub = None
    else:
        signs = np.array(list(itertools.product((-1.0, 1.0), repeat=K)))
        A_ub, b_ub = signs, S.radius + signs @ S.center_
        bounds = [(0, 1)] * K
    res = linprog(-c, A_ub=A_ub, b_ub=b_ub, A_eq=np.ones((1, K)), b_eq=[1.0], bounds=bounds)
    assert res.status == 0
    return -res.fun


@given(st.integers(0, 100_000), st.integers(1, 6))
def test_argmax_linear_is_exact(seed, K):
    rng = np.random.default_rng(seed)
    S = _random_set(rng, K)
    c = rng.normal(size=K)
    value, lam = S.argmax_linear(c)
    assert S.contains(lam, tol=1e-9)
    assert value == pytest.approx(c @ lam, abs=1e-12)
    assert value == pytest.approx(_lp_reference(S, c), abs=1e-9)


@given(st.integers(0, 100_000), st.integers(2, 5))
def test_vertices_attain_every_linear_maximum(seed, K):
    rng = np.random.default_rng(seed)
    S = _random_set(rng, K)
    V = S.vertices()
    assert all(S.contains(v, tol=1e-8) for v in V)
    for _ in range(5):
        c = rng.normal(size=K)
        assert (V @ c).max() == pytest.approx(S.argmax_linear(c)[0], abs=1e-9)


@given(st.integers(0, 100_000), st.integers(2, 5))
def test_project_matches_a_generic_solver(seed, K):
    rng = np.random.default_rng(seed)
    S = _random_set(rng, K)
    v = rng.normal(scale=0.7, size=K) + 1.0 / K
    p = S.project(v)
    assert S.contains(p, tol=1e-7)
    # Optimality: no point of Λ (vertices, and random points) is closer to v.
    V = S.vertices()
    best = np.sum((p - v) ** 2)
    w = rng.dirichlet(np.ones(len(V)), size=50)
    assert best <= np.min(np.sum((w @ V - v) ** 2, axis=1)) + 1e-9
    assert best <= np.min(np.sum((V - v) ** 2, axis=1)) + 1e-9
    ref = minimize(
        lambda w: np.sum((w @ V - v) ** 2),
        np.full(len(V), 1.0 / len(V)),
        bounds=[(0, 1)] * len(V),
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}],
        method="SLSQP",
        options={"ftol": 1e-14, "maxiter": 500},
    )
    assert best <= ref.fun + 1e-7


def test_box_and_l1_closed_forms_on_small_cases():
    value, lam = Box([0.1, 0.2, 0.0], [0.5, 0.5, 0.6]).argmax_linear([1.0, 0.0, 2.0])
    np.testing.assert_allclose(lam, [0.2, 0.2, 0.6])
    value, lam = L1Ball([0.5, 0.5, 0.0], 0.4).argmax_linear([0.0, 1.0, 3.0])
    np.testing.assert_allclose(lam, [0.3, 0.5, 0.2])
    assert value == pytest.approx(1.1)
    np.testing.assert_allclose(L1Ball([0.5, 0.5], 0.0).vertices(), [[0.5, 0.5]])
    np.testing.assert_allclose(L1Ball([0.5, 0.5, 0.0], 5.0).vertices(), np.eye(3))


def test_empty_and_malformed_sets_are_rejected():
    with pytest.raises(ValueError, match="lo, hi: the box does not meet the simplex"):
        Box([0.6, 0.6], [1.0, 1.0])
    with pytest.raises(ValueError, match=r"lo, hi: empty box"):
        Box([0.5, 0.2], [0.4, 1.0])
    with pytest.raises(ValueError, match="center: must sum to 1"):
        L1Ball([0.5, 0.6], 0.1)
    with pytest.raises(ValueError, match="radius"):
        L1Ball([0.5, 0.5], -1.0)
    with pytest.raises(ValueError, match="vertices"):
        Polytope(np.zeros((0, 3)))
    with pytest.raises(ValueError, match=r"vertices\[1\]: must sum to 1"):
        Polytope([[1.0, 0.0], [0.5, 0.6]])
    with pytest.raises(ValueError, match="K"):
        Simplex(0)


def test_from_spec_parses_the_cli_forms():
    assert isinstance(from_spec("simplex", 3), Simplex)
    box = from_spec("box:0.1,0.6", 3)
    np.testing.assert_allclose(box.lo, 0.1)
    ball = from_spec("l1:0.5@0.2;0.3;0.5", 3)
    assert ball.radius == 0.5
    with pytest.raises(ValueError, match="mixtures"):
        from_spec("ellipse:1", 3)
