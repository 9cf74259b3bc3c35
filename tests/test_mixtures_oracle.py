"""The oracles of every Λ family (T5, T7): argmax_linear and project against
independent references — HiGHS and cvxpy on an explicit description of Λ — on
random, extreme and infinite inputs."""

import warnings

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq, linprog

from theory.mixtures import Box, KLBall, L1Ball, L2Ball, Polytope, Simplex

FAMILIES = ("simplex", "box", "l1", "polytope", "kl", "l2")
_TIGHT = {"tol_gap_abs": 1e-11, "tol_gap_rel": 1e-11, "tol_feas": 1e-11, "max_iter": 400}


def make_set(rng, K, family):
    """A random set of the family, with a description of Λ for the references."""
    c0 = rng.dirichlet(np.full(K, 0.7))
    if K > 1 and rng.random() < 0.3:
        c0[rng.integers(K)] = 0.0
        c0 /= c0.sum()
    if family == "simplex":
        return Simplex(K), {}
    if family == "box":
        lo = rng.dirichlet(np.ones(K)) * rng.uniform(0, 0.9)
        hi = np.minimum(1.0, lo + rng.uniform(0.05, 1.0, K))
        if hi.sum() < 1:
            hi = np.minimum(1.0, hi + (1 - hi.sum()))
        return Box(lo, hi), {"lo": lo, "hi": hi}
    if family == "l1":
        r = rng.uniform(0, 2.2)
        return L1Ball(c0, r), {"c": c0, "r": r}
    if family == "polytope":
        V = rng.dirichlet(np.ones(K), size=rng.integers(1, 7))
        return Polytope(V), {"V": V}
    if family == "kl":
        r = rng.choice([0.0, rng.uniform(0, 0.3), rng.uniform(0, 2.0)])
        return KLBall(c0, r), {"c": c0, "r": r}
    r = rng.choice([0.0, rng.uniform(0, 0.4), rng.uniform(0, 1.5)])
    return L2Ball(c0, r), {"c": c0, "r": r}


def cvx_constraints(S, d, lam):
    """Λ written out for cvxpy from the parameters the set was built with."""
    cons = [lam >= 0, cp.sum(lam) == 1]
    if isinstance(S, Box):
        cons += [lam >= d["lo"], lam <= d["hi"]]
    elif isinstance(S, L1Ball):
        cons += [cp.norm1(lam - d["c"]) <= d["r"]]
    elif isinstance(S, Polytope):
        w = cp.Variable(len(d["V"]), nonneg=True)
        cons += [cp.sum(w) == 1, lam == d["V"].T @ w]
    elif isinstance(S, KLBall):
        on = np.flatnonzero(d["c"] > 0)
        off = np.flatnonzero(d["c"] == 0)
        cons += [cp.sum(cp.rel_entr(lam[on], d["c"][on])) <= d["r"]]
        if off.size:
            cons += [lam[off] == 0]
    elif isinstance(S, L2Ball):
        cons += [cp.norm(lam - d["c"], 2) <= d["r"]]
    return cons


def cvx_solve(objective, cons):
    prob = cp.Problem(objective, cons)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prob.solve(solver="CLARABEL", **_TIGHT)
    assert prob.status in ("optimal", "optimal_inaccurate")
    return prob.value


def linprog_max(c, d, K, family, extra_eq=None):
    """max c·λ over a polyhedral Λ with HiGHS; L1 through λ = c0 + p − n, Σ(p + n) ≤ r."""
    if family == "polytope":
        V = d["V"]
        m = len(V)
        A_eq = np.vstack([np.ones((1, m))] + ([] if extra_eq is None else [extra_eq @ V.T]))
        b_eq = np.r_[1.0, np.zeros(len(A_eq) - 1)]
        res = linprog(-(V @ c), A_eq=A_eq, b_eq=b_eq, bounds=[(0, None)] * m, method="highs")
        assert res.status == 0
        return -res.fun
    if family == "l1":
        c0, r = d["c"], d["r"]
        # variables (p, n) ≥ 0 with λ = c0 + p − n ≥ 0
        obj = -np.r_[c, -c]
        A_ub = np.vstack([np.r_[np.ones(K), np.ones(K)], np.hstack([-np.eye(K), np.eye(K)])])
        b_ub = np.r_[r, c0]
        A_eq = np.r_[np.ones(K), -np.ones(K)][None, :]
        res = linprog(obj, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=[0.0], method="highs")
        assert res.status == 0
        return -res.fun + c @ c0
    bounds = list(zip(d["lo"], d["hi"], strict=True)) if family == "box" else [(0, 1)] * K
    res = linprog(-c, A_eq=np.ones((1, K)), b_eq=[1.0], bounds=bounds, method="highs")
    assert res.status == 0
    return -res.fun


@pytest.mark.parametrize("family", FAMILIES)
def test_T5_argmax_linear_matches_an_independent_solver(family):
    rng = np.random.default_rng(sum(map(ord, family)))
    for K in range(2, 13):
        S, d = make_set(rng, K, family)
        for _ in range(2):
            c = rng.normal(size=K) * rng.choice([1e-3, 1.0, 1e3])
            value, lam = S.argmax_linear(c)
            assert S.contains(lam)
            assert value == pytest.approx(c @ lam, rel=1e-12, abs=1e-12)
            if family in ("kl", "l2") and S.radius == 0.0:
                # Λ = {center}: no interior, so the conic solver is unreliable; closed form.
                assert value == pytest.approx(c @ d["c"], rel=1e-13, abs=1e-15)
            elif family in ("kl", "l2"):
                x = cp.Variable(K)
                ref = cvx_solve(cp.Maximize(c @ x), cvx_constraints(S, d, x))
                assert value == pytest.approx(ref, abs=1e-6 * np.abs(c).max())
                assert value >= ref - 1e-9 * np.abs(c).max()
            else:
                ref = linprog_max(c, d, K, family)
                assert value == pytest.approx(ref, abs=1e-9 * np.abs(c).max())


def test_T7_kl_ball_maximizer_is_the_exponential_tilt():
    # Closed form check in K = 2: λ = (s, 1 − s) with KL(s‖c0) = ρ, s > c0_1.
    c0, rho = np.array([0.3, 0.7]), 0.05
    value, lam = KLBall(c0, rho).argmax_linear([1.0, 0.0])
    s = brentq(
        lambda s: s * np.log(s / 0.3) + (1 - s) * np.log((1 - s) / 0.7) - rho, 0.3, 1 - 1e-15
    )
    np.testing.assert_allclose(lam, [s, 1 - s], atol=1e-12)
    assert value == pytest.approx(s, abs=1e-12)


def test_T7_l2_ball_maximizer_is_center_plus_radius_times_direction():
    c0, r = np.full(4, 0.25), 0.1
    c = np.array([1.0, 0.2, -0.3, 0.5])
    value, lam = L2Ball(c0, r).argmax_linear(c)
    u = c - c.mean()
    np.testing.assert_allclose(lam, c0 + r * u / np.linalg.norm(u), atol=1e-13)


@pytest.mark.parametrize("family", FAMILIES)
def test_project_matches_cvxpy(family):
    rng = np.random.default_rng(7 + sum(map(ord, family)))
    for K in (2, 3, 5, 8):
        S, d = make_set(rng, K, family)
        for scale in (0.3, 3.0, 1e3):
            v = rng.normal(size=K) * scale
            p = S.project(v)
            assert S.contains(p)
            if getattr(S, "radius", None) == 0.0:
                np.testing.assert_allclose(p, d["c"], atol=1e-15)
                continue
            x = cp.Variable(K)
            ref = cvx_solve(cp.Minimize(cp.sum_squares(x - v)), cvx_constraints(S, d, x))
            # Strong convexity: ‖p − p*‖² ≤ f(p) − f(p*), and p ∈ Λ gives f(p) ≥ f(p*).
            gap = np.sum((p - v) ** 2) - ref
            assert gap <= 1e-7 * max(1.0, scale), (S, v, gap)
            np.testing.assert_allclose(p, x.value, atol=3e-4)


def _projection_certificate(S, v, p):
    """max_{λ∈Λ} (v − p)·(λ − p), which is ≤ 0 exactly when p = Π_Λ(v)."""
    g = v - p
    return S.argmax_linear(g)[0] - g @ p, np.abs(g).max()


@pytest.mark.parametrize("family", FAMILIES)
def test_project_satisfies_the_variational_inequality_at_every_scale(family):
    rng = np.random.default_rng(11 + sum(map(ord, family)))
    for K in (2, 4, 7):
        S, _ = make_set(rng, K, family)
        for scale in (1e-6, 1.0, 1e8, 1e200, 1e300):
            v = rng.normal(size=K) * scale
            p = S.project(v)
            assert S.contains(p), (S, v, p)
            excess, size = _projection_certificate(S, v, p)
            assert excess <= 1e-9 * max(1.0, size), (S, v, p, excess)


def test_project_of_huge_inputs_has_the_expected_limit():
    u = np.full(3, 1 / 3)
    np.testing.assert_array_equal(Box([0.8], [1.0]).project([-1e17]), [1.0])
    np.testing.assert_allclose(Simplex(3).project([1e17, 1e17 + 16, 0.0]), [0, 1, 0])
    np.testing.assert_allclose(Simplex(2).project([1e300, 1e300]), [0.5, 0.5])
    np.testing.assert_allclose(Box([0.1, 0.1], [0.9, 0.9]).project([1e300, -1e300]), [0.9, 0.1])
    # The far point 1e300·e_1 lands where the ball reaches furthest toward e_1.
    np.testing.assert_allclose(L1Ball(u, 0.2).project([1e300, 0, 0]), u + [0.1, -0.05, -0.05])
    direction = np.array([2.0, -1.0, -1.0]) / np.sqrt(6)
    np.testing.assert_allclose(L2Ball(u, 0.1).project([1e300, 0, 0]), u + 0.1 * direction)
    c0 = np.array([0.5, 0.3, 0.2])
    for big in (1e200, 1e300, 1.7e308):
        ball = KLBall(c0, 0.1)
        np.testing.assert_allclose(
            ball.project([big, 0, 0]), ball.argmax_linear([1.0, 0, 0])[1], atol=1e-12
        )
    P = Polytope([[1, 0, 0], [0, 1, 0], [0.5, 0.25, 0.25]])
    np.testing.assert_allclose(P.project([0, 0, 1e300]), [0.5, 0.25, 0.25])


_MAX = float(np.finfo(np.float64).max)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 10**6),
    st.integers(1, 6),
    st.sampled_from(FAMILIES),
    st.lists(st.floats(-_MAX, _MAX, allow_nan=False), min_size=6, max_size=6),
)
def test_project_lands_in_the_set_and_is_idempotent(seed, K, family, raw):
    rng = np.random.default_rng(seed)
    S, _ = make_set(rng, K, family)
    p = S.project(np.array(raw[:K]))
    assert np.all(np.isfinite(p))
    assert S.contains(p)
    np.testing.assert_allclose(S.project(p), p, rtol=0, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 7), st.sampled_from(FAMILIES))
def test_points_of_the_set_are_their_own_projection(seed, K, family):
    rng = np.random.default_rng(seed)
    S, _ = make_set(rng, K, family)
    points = [S.center(), S.argmax_linear(rng.normal(size=K))[1]]
    for lam in points:
        assert S.contains(lam)
        np.testing.assert_allclose(S.project(lam), lam, rtol=0, atol=1e-12)


def test_contains_agrees_with_the_definition_near_the_boundary():
    c0 = np.array([0.5, 0.3, 0.2])
    kl = KLBall(c0, 0.1)
    lam = kl.argmax_linear([1.0, -0.5, 0.2])[1]
    assert kl.contains(lam)
    out = lam + 1e-4 * (lam - c0)
    assert not kl.contains(out / out.sum())
    l2 = L2Ball(c0, 0.1)
    assert l2.contains(c0 + [0.1, -0.1, 0.0] / np.sqrt(2))
    assert not l2.contains(c0 + 1.001 * np.array([0.1, -0.1, 0.0]) / np.sqrt(2))
    assert not Simplex(2).contains([0.6, 0.6])


# ----------------------------------------------------------------------- infinite losses


def _kl_most_weight(c0, rho, mask):
    """max λ(mask) over the KL ball: the binary KL(s‖c0(mask)) = ρ, s ≥ c0(mask)."""
    q = c0[mask].sum()
    if q == 0.0:
        return 0.0
    if -np.log(q) <= rho:
        return 1.0

    def f(s):
        return s * np.log(s / q) + (1 - s) * np.log((1 - s) / (1 - q)) - rho

    return brentq(f, q, 1.0 - 1e-16, xtol=1e-16)


def _lex_reference(S, d, c, K):
    """Independent reference for ±inf entries: (value, largest weight on +inf entries)."""
    pos, neg = c == np.inf, c == -np.inf
    fin = np.where(np.isfinite(c), c, 0.0)
    if getattr(S, "radius", None) == 0.0:
        c0 = d["c"]
        if c0[pos].sum() > 0:
            return np.inf, c0[pos].sum()
        return (-np.inf, None) if c0[neg].sum() > 0 else (fin @ c0, None)
    x = cp.Variable(K)
    cons = cvx_constraints(S, d, x)
    if pos.any():
        if isinstance(S, KLBall):
            most = _kl_most_weight(d["c"], d["r"], pos)
        else:
            most = cvx_solve(cp.Maximize(cp.sum(x[np.flatnonzero(pos)])), cons)
        if most > 1e-7:
            return np.inf, most
        cons = [*cons, x[np.flatnonzero(pos)] == 0]
    if neg.any():
        if isinstance(S, KLBall):
            least = 1.0 - _kl_most_weight(d["c"], d["r"], ~neg)
        else:
            least = cvx_solve(cp.Minimize(cp.sum(x[np.flatnonzero(neg)])), cons)
        if least > 1e-7:
            return -np.inf, None
        cons = [*cons, x[np.flatnonzero(neg)] == 0]
    return cvx_solve(cp.Maximize(fin @ x), cons), None


@pytest.mark.parametrize("family", FAMILIES)
def test_argmax_linear_with_infinite_entries_follows_the_convention(family):
    rng = np.random.default_rng(3 + sum(map(ord, family)))
    for _ in range(12):
        K = int(rng.integers(2, 7))
        S, d = make_set(rng, K, family)
        c = rng.normal(size=K)
        c[rng.random(K) < 0.3] = np.inf
        c[rng.random(K) < 0.4] = -np.inf
        value, lam = S.argmax_linear(c)
        assert not np.isnan(value)
        assert S.contains(lam)
        ref, most = _lex_reference(S, d, c, K)
        if np.isinf(ref):
            assert value == ref, (S, c, value)
            if ref == np.inf:
                assert lam[c == np.inf].sum() == pytest.approx(most, abs=1e-9)
        else:
            assert value == pytest.approx(ref, abs=1e-5), (S, c, value, ref)
            assert value >= ref - 1e-8
            assert np.all(lam[c == -np.inf] == 0.0)


def test_argmax_linear_infinite_cases_by_hand():
    assert Simplex(3).argmax_linear([np.inf, 0.0, -np.inf])[0] == np.inf
    value, lam = Simplex(3).argmax_linear([-np.inf, -np.inf, -np.inf])
    assert value == -np.inf and lam.sum() == 1.0
    # hi = 0 on the +inf coordinate: Λ cannot weight it, so it counts 0.
    value, lam = Box([0.0, 0.0, 0.0], [0.0, 1.0, 1.0]).argmax_linear([np.inf, 1.0, 2.0])
    assert value == 2.0 and lam[0] == 0.0
    # lo > 0 on a −inf coordinate: every λ weights it.
    assert Box([0.1, 0.0], [1.0, 1.0]).argmax_linear([-np.inf, 1.0])[0] == -np.inf
    # KL ball: center 0 means weight 0 throughout Λ.
    value, lam = KLBall([0.0, 0.5, 0.5], 1.0).argmax_linear([np.inf, 0.0, 1.0])
    assert np.isfinite(value) and lam[0] == 0.0
    # KL ball: −inf avoidable iff ρ ≥ −log(1 − λ0(N)).
    assert KLBall([0.5, 0.5], 0.6).argmax_linear([-np.inf, 0.0])[0] == -np.inf
    value, lam = KLBall([0.5, 0.5], 0.7).argmax_linear([-np.inf, 3.0])
    assert value == 3.0 and lam[0] == 0.0
    # L2 ball: the face λ_1 = 0 is at distance 0.5·√2 from the center.
    assert L2Ball([0.5, 0.5], 0.7).argmax_linear([-np.inf, 0.0])[0] == -np.inf
    value, lam = L2Ball([0.5, 0.5], 0.71).argmax_linear([-np.inf, 0.0])
    assert value == 0.0 and lam[0] == 0.0
    P = Polytope([[0.5, 0.5], [0.2, 0.8]])
    assert P.argmax_linear([-np.inf, 0.0])[0] == -np.inf
    value, lam = P.argmax_linear([np.inf, -np.inf])
    assert value == np.inf
    np.testing.assert_array_equal(lam, [0.5, 0.5])


# ----------------------------------------------------------------------- special radii


def test_radius_zero_is_the_center_and_large_radii_are_the_simplex():
    rng = np.random.default_rng(5)
    c0 = np.array([0.1, 0.6, 0.3])
    for S in (KLBall(c0, 0.0), L2Ball(c0, 0.0), L1Ball(c0, 0.0)):
        for _ in range(5):
            v = rng.normal(size=3) * 10
            np.testing.assert_allclose(S.project(v), c0, atol=1e-15)
            assert S.argmax_linear(v)[0] == pytest.approx(v @ c0, abs=1e-14)
        assert S.contains(c0) and not S.contains([0.1, 0.59, 0.31])
    for S in (KLBall(c0, -np.log(0.1)), L2Ball(c0, np.sqrt(2)), L1Ball(c0, 2.0)):
        for k in range(3):
            assert S.contains(np.eye(3)[k])
        for _ in range(5):
            v = rng.normal(size=3) * 10
            assert S.argmax_linear(v)[0] == pytest.approx(v.max(), abs=1e-14)
            np.testing.assert_allclose(S.project(v), Simplex(3).project(v), atol=1e-14)
    # Just below −log min c0 the vertex e_0 is left out.
    assert not KLBall(c0, -np.log(0.1) - 1e-6).contains([1.0, 0.0, 0.0])


def test_curved_sets_have_no_vertex_list():
    for S in (KLBall([0.5, 0.5], 0.1), L2Ball([0.5, 0.5], 0.1)):
        with pytest.raises(NotImplementedError, match="no finite vertex list"):
            S.vertices()


def test_support_and_center_go_through_the_oracle():
    c0 = np.array([0.0, 0.4, 0.6])
    np.testing.assert_array_equal(KLBall(c0, 5.0).support(), [False, True, True])
    np.testing.assert_array_equal(L2Ball(c0, 0.01).support(), [True, True, True])
    np.testing.assert_array_equal(L2Ball(c0, 0.0).support(), [False, True, True])
    np.testing.assert_array_equal(Box([0, 0, 0], [0, 1, 1]).support(), [False, True, True])
    np.testing.assert_array_equal(
        Polytope([[0, 1, 0], [0, 0.5, 0.5]]).support(), [False, True, True]
    )
    rng = np.random.default_rng(9)
    for family in FAMILIES:
        S, _ = make_set(rng, 5, family)
        assert S.contains(S.center())
