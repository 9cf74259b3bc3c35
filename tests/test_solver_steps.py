"""The internal steps of the solvers, each against an independent computation.

The certified solvers (``robust_gate``, ``blahut_arimoto``, the Λ projections)
stay correct when one of their steps is wrong: a bad proposal is only a wasted
evaluation, since every answer is certified afterwards. So each step is checked
here on its own, by its defining property: the Kelley cutting-plane LP against
one LP over all of Λ (scipy/HiGHS); the switch to a cutting-plane step when the
Newton step is null, and the stop after too many iterations without progress;
the Hessian of the dual function against its closed form (T5) and finite
differences; the primal combination of cuts written out directly; the
active-set choice of the capacity Newton step by brute force over the
coordinates; the rounding repair of the projections by its contract; the
water-filling breakpoints by enumeration and the level on a flat piece; and
the mixture that the conic reference reads from its duals.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import pytest
from scipy.optimize import linprog

from paper_repro.checks.t05_ascent_engine import Variance as _Variance
from paper_repro.checks.t05_ascent_engine import WeightRecorder as _WeightRecorder
from paper_repro.checks.t05_ascent_engine import box_support as _box_support
from paper_repro.checks.t05_ascent_engine import first_iteration_on_kink as _first_iteration_on_kink
from paper_repro.checks.t05_ascent_engine import kelley_instance as _kelley_instance
from sims.adversarial import FAMILIES, boundary_mixtures, pair
from theory import _kernels
from theory._conic import solve_conic
from theory._dual_newton import _MAX_IDLE, _PROGRESS, Cut, NewtonAscent
from theory._kernels import entropy_rows
from theory.capacity import _evaluate, _newton_candidate
from theory.minimax import _FACE_ETA, _GateDual, dual_function, objective_offsets, water_fill
from theory.mixtures import Polytope, Simplex, _fix_sum

# ---------------------------------------------------------------------------
# NewtonAscent.combine: the Kelley cutting-plane LP
# ---------------------------------------------------------------------------


def _polytope_kelley_value(G: np.ndarray, V: np.ndarray) -> float:
    """max_λ min_j λ·G_j over conv(rows of V): one LP in the weights of all the points."""
    m, J = V.shape[0], G.shape[0]
    res = linprog(
        np.r_[np.zeros(m), -1.0],
        A_ub=np.hstack([-(G @ V.T), np.ones((J, 1))]),
        b_ub=np.zeros(J),
        A_eq=np.r_[np.ones(m), 0.0][None, :],
        b_eq=[1.0],
        bounds=[(0, None)] * m + [(None, None)],
        method="highs",
    )
    assert res.status == 0
    return -res.fun


@pytest.mark.parametrize("value", [1.0, -1.0])
@pytest.mark.parametrize("seed", range(6))
def test_kelley_step_solves_the_cutting_plane_lp_over_all_of_the_box(seed, value):
    """combine returns a maximizer over all of Λ of the cutting-plane model
    min_j λ·(g_j − lower), not only over the hull of the working set it starts from, and
    offers the combination of the cuts with its LP duals μ: μ ∈ Δ_J and
    σ_Λ(Σ_j μ_j (g_j − lower)) equal to the LP value (strong duality).

    The LP value is set to ``value``: +1 as in the ascent (valid cuts lie above d, so the
    model's maximum is at least the best d seen, ``lower``), and −1 (``lower`` above the
    model, e.g. cuts kept from another function), where the contract is the same.
    """
    lo, hi, G, point, mu = _kelley_instance(np.random.default_rng(seed), value)
    J = G.shape[0]
    assert point is not None
    assert np.all(point >= lo - 1e-12) and np.all(point <= hi + 1e-12)
    assert abs(point.sum() - 1.0) <= 1e-12
    assert (point @ G.T).min() >= value - 1e-9
    assert mu is not None and mu.shape == (J,)
    assert np.all(mu >= 0.0) and abs(mu.sum() - 1.0) <= 1e-12
    assert _box_support(mu @ G, lo, hi) <= value + 1e-9


@pytest.mark.parametrize("value", [1.0, -1.0])
def test_kelley_step_on_a_polytope_reaches_points_outside_the_working_set(value):
    """The same contract on a polytope of 12 points, from a working set of one of them."""
    rng = np.random.default_rng(11)
    K = 3
    V = rng.dirichlet(np.ones(K), size=12)
    Lam = Polytope(V)
    lams = rng.dirichlet(np.ones(K), size=5)
    G = rng.normal(size=(5, K))
    G += value - _polytope_kelley_value(G, V)
    oracle = _WeightRecorder(K)
    ascent = NewtonAscent(oracle, Lam, tol=1e-9, max_iter=1)
    ascent.lower, ascent.lam = 0.0, V[0]
    ascent.cuts = deque(Cut(lam, 0.0, g) for lam, g in zip(lams, G, strict=True))
    ascent.working_set = [V[0]]
    point = ascent.combine()
    # the point is in conv(V): V^T w = point for some w ∈ Δ_12 (an LP feasibility problem)
    hull = linprog(
        np.zeros(V.shape[0]),
        A_eq=np.vstack([V.T, np.ones(V.shape[0])]),
        b_eq=np.r_[point, 1.0],
        bounds=[(0, None)] * V.shape[0],
        method="highs",
    )
    assert hull.status == 0
    assert (point @ G.T).min() >= value - 1e-9
    mu = oracle.weights
    assert np.all(mu >= 0.0) and abs(mu.sum() - 1.0) <= 1e-12
    assert (V @ (mu @ G)).max() <= value + 1e-9


# ---------------------------------------------------------------------------
# NewtonAscent.run: null Newton steps and the stall rule
# ---------------------------------------------------------------------------


def test_a_null_newton_step_is_replaced_by_a_cutting_plane_step():
    """At the kink the Newton step moves λ by less than an ulp: that iteration must not
    spend an evaluation of d at the current point, but take the cutting-plane step (its
    LP over the single cut g = (0, 1) − ½ is maximized at the vertex e_2)."""
    first = _first_iteration_on_kink()
    start = np.array([0.5, 0.5])
    for kind, lam in first:
        if kind == "evaluate":
            assert np.abs(lam - start).max() > 4 * np.finfo(float).eps
    assert first and first[0][0] == "cutting plane"
    assert any(kind == "evaluate" and np.array_equal(lam, [0.0, 1.0]) for kind, lam in first)


def test_an_ascent_without_progress_stops_after_max_idle_iterations():
    """With tol < 0 the gap never suffices, and on this problem it reaches exactly 0
    (both bounds are 9/4 at λ = (½, 0, ½)): no later iteration can shrink it by the factor
    1 − _PROGRESS, so the ascent stops after _MAX_IDLE + 1 idle iterations, before its
    budget, with converged False and its certified bounds."""
    budget = 3 * _MAX_IDLE
    run = NewtonAscent(_Variance(), Simplex(3), tol=-1.0, max_iter=budget).run()
    assert not run.converged
    assert run.lower == run.upper == 2.25
    gaps = [up - lo for lo, up in run.history]
    # the idle count re-derived from the history: iterations that did not shrink the gap
    idle = 0
    for before, after in zip(gaps[:-1], gaps[1:], strict=True):
        idle = 0 if after < (1.0 - _PROGRESS) * before else idle + 1
    assert idle == _MAX_IDLE + 1
    assert run.iterations == len(gaps) - 1 < budget


# ---------------------------------------------------------------------------
# blahut_arimoto: the active-set step of the Newton candidate
# ---------------------------------------------------------------------------


def _face_newton(D: np.ndarray, r: np.ndarray, support: np.ndarray) -> np.ndarray:
    """The Newton point of JSD_λ(D) at r on the face {λ_k = 0, k ∉ support}, in numpy.

    The gradient of JSD_λ on that face is κ − 1 with κ_k = KL(D_k‖D_r), the Hessian
    −A with A_jk = Σ_x D_j D_k / D_r; the step d solves A d + ν1 = κ, Σd = 0 there.
    """
    t = r @ D
    on = t > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = np.where(D > 0, D * np.log(D / t), 0.0).sum(axis=1)
    A = (D[:, on] / t[on]) @ D[:, on].T
    m = support.size
    kkt = np.zeros((m + 1, m + 1))
    kkt[:m, :m] = A[np.ix_(support, support)]
    kkt[:m, m] = kkt[m, :m] = 1.0
    step = np.linalg.lstsq(kkt, np.r_[kappa[support], 0.0], rcond=None)[0][:m]
    return r[support] + step


@pytest.mark.parametrize("seed", range(6))
def test_capacity_newton_step_drops_the_input_pushed_furthest_below_zero(seed):
    """While the Newton step on the face leaves the simplex, the input with the smallest
    ratio λ_k / r_k (found here by looping over the coordinates) leaves the support; the
    candidate is the Newton point of the face where that stops, normalized."""
    rng = np.random.default_rng(seed)
    K, n = 5, 8
    D = rng.dirichlet(np.full(n, 0.6), size=K)
    # an input that is almost a mixture of two others (D keeps full rank): the capacity
    # law hardly uses it, and the first step from a random law pushes it below zero
    D[4] = 0.45 * D[0] + 0.45 * D[1] + 0.1 * D[4]
    r = rng.dirichlet(np.ones(K))
    point = _evaluate(D, entropy_rows(D), np.log(r), True)
    got = _newton_candidate(D, point)

    support = np.arange(K)
    dropped = []
    while support.size > 1:
        lam = _face_newton(D, point.r, support)
        if np.all(lam > 0):
            break
        ratios = [lam[i] / point.r[k] for i, k in enumerate(support)]
        worst = min(range(support.size), key=lambda i: ratios[i])
        dropped.append(int(support[worst]))
        support = np.delete(support, worst)
    assert dropped, "the instance must make the first step leave the simplex"
    if support.size == 1:
        assert got is None
        return
    want = np.zeros(K)
    want[support] = lam / lam.sum()
    assert got is not None
    np.testing.assert_allclose(np.exp(got), want, rtol=1e-9, atol=1e-300)


# ---------------------------------------------------------------------------
# The gate's dual oracle: Hessian (T5) and the primal combination of cuts
# ---------------------------------------------------------------------------


def _water_fill_reference(t, lo, hi):
    """clip(t·s, ℓ, u) summing to 1, s by bisection on log₂ s (Φ is non-decreasing in s)."""
    a, b = -60.0, 60.0
    for _ in range(200):
        e = 0.5 * (a + b)
        a, b = (a, e) if np.clip(t * 2.0**e, lo, hi).sum() > 1.0 else (e, b)
    return np.clip(t * 2.0**b, lo, hi)


def _t5_hessian(D, t, q, lo, hi):
    """H = −A + a aᵀ/T over the free set F = {t > 0, ℓ < q < u} (T5), in plain numpy."""
    F = (t > 0) & (lo < q) & (q < hi)
    DF, tF = D[:, F], t[F]
    A = (DF / tF) @ DF.T
    a = DF.sum(axis=1)
    T = tF.sum()
    return -A + np.outer(a, a) / T if T > 0 else -A


def _oracle(D, P, start):
    """The gate's dual oracle with its interior start evaluated first (as the ascent does)."""
    oracle = _GateDual(D, objective_offsets(D, P), P.min(axis=0), P.max(axis=0))
    oracle.point(np.asarray(start, dtype=np.float64))
    return oracle


@pytest.mark.parametrize("seed", range(4))
def test_dual_hessian_at_an_interior_point_is_the_t5_formula_there(seed):
    """At λ with every weight positive the Hessian is the exact one at λ (no nearby
    point): the T5 closed form on the clipping pattern of q*_λ, whose product with a
    tangent direction δ is the central difference of the supergradient L(q*_λ) along δ."""
    rng = np.random.default_rng(seed)
    K, n = 4, 12
    D = rng.dirichlet(np.ones(n), size=K)
    P = rng.dirichlet(np.ones(n), size=K)
    oracle = _oracle(D, P, np.full(K, 1.0 / K))
    lam = rng.dirichlet(np.full(K, 3.0))
    cut = oracle.point(lam)
    H = oracle.hessian(cut)
    t = lam @ D
    lo, hi = P.min(axis=0), P.max(axis=0)
    q = _water_fill_reference(t, lo, hi)
    np.testing.assert_allclose(cut.state[1], q, rtol=1e-10, atol=1e-15)
    want = _t5_hessian(D, t, cut.state[1], lo, hi)
    np.testing.assert_allclose(H, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())
    for _ in range(3):
        delta = rng.normal(size=K)
        delta -= delta.mean()
        h = 1e-6
        up = dual_function(D, P, lam + h * delta)[1]
        down = dual_function(D, P, lam - h * delta)[1]
        np.testing.assert_allclose(H @ delta, (up - down) / (2 * h), rtol=1e-5, atol=1e-6)


def test_dual_hessian_falls_back_to_the_nearby_interior_point_when_it_overflows():
    """Disjoint domains, perfect experts: d(λ) = H(λ) (the entropy of λ) and on the tangent
    space its Hessian is −diag(1/λ) + 11ᵀ. At λ = (1, 10⁻³²⁰) the curvature 1/λ_2 overflows
    (the T5 sums give ±inf and NaN), so the Hessian is the one at the nearby interior point
    λ' = (1 − η)λ + η λ₀ (λ₀ the first, interior, mixture): finite, and equal to the
    closed form at λ'."""
    D = np.array([[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.25, 0.75]])
    start = np.array([0.5, 0.5])
    oracle = _oracle(D, D, start)
    lam = np.array([1.0, 1e-320])
    H = oracle.hessian(oracle.point(lam))
    near = (1.0 - _FACE_ETA) * lam + _FACE_ETA * start
    want = -np.diag(1.0 / near) + 1.0
    assert np.all(np.isfinite(H))
    np.testing.assert_allclose(H, want, rtol=1e-8)


def test_dual_hessian_is_zero_when_no_point_is_free():
    """With nothing free (every x with t(x) > 0 clipped at ℓ or u) the T5 sums are empty:
    A = 0, a = 0, T = 0, and the Hessian is the zero matrix, not 0/0."""
    rng = np.random.default_rng(3)
    D = rng.dirichlet(np.ones(5), size=3)
    P = np.tile(rng.dirichlet(np.ones(5)), (3, 1))  # useless experts: ℓ = u, M = {p}
    oracle = _oracle(D, P, np.full(3, 1.0 / 3))
    cut = oracle.point(np.array([0.2, 0.3, 0.5]))
    t, q = cut.state
    assert np.array_equal(oracle._hessian_at(t, q), np.zeros((3, 3)))
    assert np.array_equal(oracle.hessian(cut), np.zeros((3, 3)))


def test_dual_hessian_at_a_point_where_every_point_just_became_clipped():
    """Two point-mass domains and the envelope [¼, ¾] at both points: at λ = (¾, ¼) the
    model q = (¾, ¼) sits exactly on u at x = 0 and on ℓ at x = 1, so nothing is free and
    the Hessian of d on that clipping pattern is 0, even though every nearby λ with
    λ_1 < ¾ frees both points."""
    D = np.eye(2)
    P = np.array([[0.75, 0.25], [0.25, 0.75]])
    oracle = _oracle(D, P, [0.5, 0.5])
    cut = oracle.point(np.array([0.75, 0.25]))
    assert np.array_equal(cut.state[1], [0.75, 0.25])
    assert np.array_equal(oracle.hessian(cut), np.zeros((2, 2)))


@pytest.mark.parametrize("seed", range(3))
def test_combined_model_is_the_convex_combination_of_the_cut_models(seed):
    """combine(w, cuts) rebuilds each cut's water-filled model q*_{λ_j} and returns
    Σ_j w_j q*_{λ_j} (a point of the envelope that sums to 1, since each model is one)
    and its losses L_k = CE(D_k, ·) − c_k."""
    rng = np.random.default_rng(seed)
    K, n = 3, 10
    D = rng.dirichlet(np.ones(n), size=K)
    P = rng.dirichlet(np.ones(n), size=K)
    oracle = _oracle(D, P, np.full(K, 1.0 / K))
    lams = rng.dirichlet(np.ones(K), size=4)
    cuts = [oracle.point(lam) for lam in lams]
    w = rng.dirichlet(np.ones(4))
    model, losses = oracle.combine(w, cuts)
    lo, hi = P.min(axis=0), P.max(axis=0)
    want = sum(wj * _water_fill_reference(lam @ D, lo, hi) for wj, lam in zip(w, lams, strict=True))
    np.testing.assert_allclose(model, want, rtol=1e-10, atol=1e-15)
    c = objective_offsets(D, P)
    np.testing.assert_allclose(losses, -(D * np.log(want)).sum(axis=1) - c, rtol=1e-9)


# ---------------------------------------------------------------------------
# The Λ projections: the rounding repair of Σλ
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("residue", [3e-16, -3e-16, 1e-7, -1e-7, 0.5, -0.5])
def test_fix_sum_spreads_the_residue_over_the_room_left(residue):
    """_fix_sum(λ, lo, hi, total) moves the residue r = total − Σλ onto the coordinates in
    proportion to the room they have in its direction (u − λ when r > 0, λ − ℓ when r < 0):
    λ + r·room/Σroom, which sums to total and stays in [lo, hi]; when the room is smaller
    than |r| every coordinate goes to the bound."""
    rng = np.random.default_rng(0)
    K = 6
    lo = rng.uniform(0.0, 0.05, K)
    hi = lo + rng.uniform(0.2, 0.4, K)
    lam = lo + rng.uniform(0.2, 0.8) * (hi - lo)
    total = math.fsum(lam) + residue
    got = _fix_sum(lam.copy(), lo, hi, total)
    room = hi - lam if residue > 0 else lam - lo
    if abs(residue) <= room.sum():
        want = lam + residue * room / room.sum()
        assert abs(math.fsum(got) - total) <= 4 * np.finfo(float).eps * total
    else:
        want = hi if residue > 0 else lo
    np.testing.assert_allclose(got, want, rtol=0, atol=2 * np.finfo(float).eps)
    assert np.all(got >= lo) and np.all(got <= hi)


def test_fix_sum_leaves_an_exact_sum_alone():
    lam = np.array([0.25, 0.5, 0.25])
    got = _fix_sum(lam, np.zeros(3), np.ones(3))
    assert np.array_equal(got, lam)


# ---------------------------------------------------------------------------
# Water-filling (T3): the breakpoints next to the level
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_fill_pass_neighbours_of_a_level_that_is_itself_a_breakpoint(seed):
    """fill_pass(t, ℓ, u, s) reports the nearest breakpoints ℓ(x)/t(x), u(x)/t(x)
    strictly left and right of s. The search steps onto breakpoints, so s is often one of
    them exactly: then the neighbours are the next ones on each side, found here by
    enumerating all of them."""
    rng = np.random.default_rng(seed)
    n = 9
    P = rng.dirichlet(np.ones(n), size=3)
    lo, hi = P.min(axis=0), P.max(axis=0)
    t = rng.dirichlet(np.ones(n))
    t[0] = 0.0
    t /= t.sum()
    on = t > 0
    points = np.concatenate([lo[on] / t[on], hi[on] / t[on]])
    for s in points[points > 0]:
        _total, _up, _down, left, right = _kernels.fill_pass(t, lo, hi, float(s))
        assert left == points[points < s].max(initial=0.0)
        assert right == points[points > s].min(initial=np.inf)
        assert left < s < right


def _flat_roots(t, P, q):
    """When no point of supp t is free, every s in [max_{q=u} u/t, min_{q=ℓ} ℓ/t] is a
    root of Φ(s) = Σ clip(t s, ℓ, u) − 1; None when some point is free (a single root).
    A point within 1e-12 (relative) of a bound counts as on it: the level is found to
    rounding, and an end of the flat piece is where a point leaves its bound."""
    lo, hi = P.min(axis=0), P.max(axis=0)
    on = t > 0
    if np.any(on & (q > lo * (1 + 1e-12)) & (q < hi * (1 - 1e-12))):
        return None
    at_hi = on & (q >= hi * (1 - 1e-12))
    at_lo = on & ~at_hi
    return (hi[at_hi] / t[at_hi]).max(initial=0.0), (lo[at_lo] / t[at_lo]).min(initial=np.inf)


@pytest.mark.parametrize(
    ("t", "P"),
    [
        # roots s ∈ [2/3, 5/6]; t(1) = u(1), so the search starts on a breakpoint
        ([0.1, 0.6, 0.3], [[0.3, 0.5, 0.2], [0.35, 0.6, 0.05]]),
        # roots s ∈ [7/6, 2]; t(0) = ℓ(0)
        ([0.3, 0.6, 0.1], [[0.35, 0.45, 0.2], [0.3, 0.4, 0.3]]),
    ],
)
def test_water_level_on_a_flat_piece_is_the_root_closest_to_one(t, P):
    """water_fill reports, among the levels that solve Φ(s) = 0 on a flat piece, the one
    closest to 1: s = clip(1, s_a, s_b) for the interval [s_a, s_b] of roots."""
    t, P = np.array(t), np.array(P)
    q, nu = water_fill(t, P)
    np.testing.assert_allclose(q, _water_fill_reference(t, P.min(axis=0), P.max(axis=0)))
    roots = _flat_roots(t, P, q)
    assert roots is not None and roots[1] - roots[0] > 0.1
    np.testing.assert_allclose(1.0 / nu, min(max(1.0, roots[0]), roots[1]), rtol=1e-12)


# ---------------------------------------------------------------------------
# The conic reference: λ from the duals
# ---------------------------------------------------------------------------


def test_conic_reference_reports_the_mixture_of_its_duals():
    """solve_conic returns λ* = the multipliers of the loss constraints, normalized and
    projected onto Λ, whenever the solver gives finite non-negative duals with a positive
    sum. Those sum to 1 only within the solver's tolerance, on either side of it, so every
    instance must come back with λ*, in Λ, and with d(λ*) (dual_function, water-filling)
    equal to the conic optimal value."""
    rng = np.random.default_rng(0)
    objectives = ("divergence", "cross_entropy", "regret")
    for t in range(10):
        family = FAMILIES[t % len(FAMILIES)]
        K = int(rng.integers(2, 6))
        D, P = pair(rng, family, K, int(rng.integers(max(2, K), 31)))
        K = D.shape[0]
        Lam = boundary_mixtures(rng, K)[t % 6]
        objective = objectives[t % 3]
        active = Lam.support()
        answer = solve_conic(D, P, objective_offsets(D, P, objective), Lam, active)
        assert answer.optimal, (family, Lam)
        assert answer.lam is not None, (family, Lam)
        assert Lam.contains(answer.lam)
        value = dual_function(D, P, answer.lam, objective)[0]
        assert abs(value - answer.value) <= 1e-6 * max(1.0, abs(value)), (family, Lam)


def test_the_stall_rule_checked_by_verify_is_the_one_the_engine_uses():
    from paper_repro.checks import t05_ascent_engine as row

    assert (row.PROGRESS, row.MAX_IDLE) == (_PROGRESS, _MAX_IDLE)
