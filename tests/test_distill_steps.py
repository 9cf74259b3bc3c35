"""S9: the internal steps of the prefix solver, each against an independent computation.

One prefix poses max_{r∈Δ_K} f(r) = Σ_a w_a log (A r)_a. The solver is built from
small steps: the derivatives of f, the Newton direction on a face of the simplex,
the rounding fix Σ d = 0, the first expert a ray empties, the weight left on an
emptied expert, and the choice of the pairwise (away) direction. The references
here are plain numpy: finite differences and closed forms for the derivatives,
least squares on the projected Newton system, brute force over the experts, and
the formulas the docstrings state.
"""

import itertools

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sims.distill import _derivatives as derivatives
from sims.distill import _face_directions as face_directions
from sims.distill import _first_block as first_block
from sims.distill import _kept_weight as kept_weight
from sims.distill import _solve_prefix as solve_prefix
from sims.distill import _tangent as tangent


def f(w, A, r):
    return float(w @ np.log(A @ r))


def plain_gradient(w, A, r):
    """∇_k f = Σ_a w_a A_ak / (A r)_a."""
    return A.T @ (w / (A @ r))


def plain_curvature(w, A, r):
    """X(−∇²f)X with X = diag(r), from −∇²f = Σ_a w_a A_a A_aᵀ / (A r)_a²."""
    H = (A * (w / (A @ r) ** 2)[:, None]).T @ A
    return r[:, None] * H * r[None, :]


def run_derivatives(w, A, x):
    m, K = A.shape
    mix, grad, curv, share = np.empty(m), np.empty(K), np.empty((K, K)), np.empty(K)
    derivatives(w, A, x, mix, grad, curv, share)
    return mix, grad, curv


def random_prefix(rng, m, K):
    A = np.ascontiguousarray(rng.dirichlet(np.ones(m), size=K).T)
    return rng.dirichlet(np.ones(m)), A


# ---------------------------------------------------------------------------
# Derivatives of the prefix objective


@given(st.integers(0, 2**32 - 1))
def test_S9_derivatives_are_the_gradient_and_scaled_curvature_of_f(seed):
    rng = np.random.default_rng(seed)
    m, K = int(rng.integers(1, 7)), int(rng.integers(1, 6))
    w, A = random_prefix(rng, m, K)
    x = rng.dirichlet(np.ones(K))
    mix, grad, curv = run_derivatives(w, A, x)
    np.testing.assert_allclose(mix, A @ x, rtol=1e-14)
    # The gradient by central differences of f (f is defined off the simplex too).
    h = 1e-6 * x.max()
    fd = [(f(w, A, x + h * e) - f(w, A, x - h * e)) / (2 * h) for e in np.eye(K)]
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(grad, plain_gradient(w, A, x), rtol=1e-12)
    # The Hessian by central differences of the plain gradient, then scaled by X.
    hess = np.array(
        [
            (plain_gradient(w, A, x + h * e) - plain_gradient(w, A, x - h * e)) / (2 * h)
            for e in np.eye(K)
        ]
    )
    np.testing.assert_allclose(curv, -x[:, None] * hess * x[None, :], rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(curv, plain_curvature(w, A, x), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "A, x",
    [
        # Child 0 is written only by expert 0, at 1e-200, and expert 0 weighs 1e-200.
        ([[1e-200, 0.0, 0.0], [0.5, 0.5, 0.2], [0.0, 0.5, 0.8]], [1e-200, 0.5, 0.5]),
        # Child 0 is written by experts 0 and 2, both products below 5e-324.
        ([[1e-300, 0.0, 1e-170], [0.5, 0.5, 0.2], [0.5, 0.5, 0.8]], [1e-30, 0.6, 1e-160]),
    ],
)
def test_S9_derivatives_stay_finite_where_every_product_of_a_child_underflows(A, x):
    """A_ak x_k > 0 in exact arithmetic but 0 in floating point for every expert of child 0.

    m_a > 0 exactly when some expert with positive weight writes child a (f is then
    finite), and the curvature X(−∇²f)X has its entries in [0, W]: neither may turn
    into 0, ±inf or NaN because a product underflows."""
    A, x = np.array(A), np.array(x)
    assert np.all((A * x)[0] == 0.0), "the construction underflows"
    w = np.array([1e-300, 0.5, 0.5])
    mix, grad, curv = run_derivatives(w, A, x)
    covered = ((A > 0) & (x > 0)).any(axis=1)
    np.testing.assert_array_equal(mix > 0, covered)
    assert np.all(np.isfinite(grad)) and np.all(grad >= 0)
    assert np.all(np.isfinite(curv))
    assert np.all(curv >= 0) and np.all(curv <= w.sum() * (1 + 1e-15))
    np.testing.assert_array_equal(curv, curv.T)
    # The children whose products do not underflow contribute exactly as in f.
    rest = slice(1, None)
    np.testing.assert_allclose(mix[rest], A[rest] @ x, rtol=1e-15)
    assert np.all(grad >= plain_gradient(w[rest], A[rest], x) * (1 - 1e-15))


def test_S9_derivatives_give_m_a_zero_only_where_no_weighted_expert_writes_a():
    A = np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0], [1e-300, 0.0, 0.3]])
    x = np.array([1e-30, 1.0 - 1e-30, 0.0])
    mix, _, _ = run_derivatives(np.array([0.4, 0.3, 0.3]), A, x)
    np.testing.assert_array_equal(mix > 0, ((A > 0) & (x > 0)).any(axis=1))


# ---------------------------------------------------------------------------
# Newton direction on a face of the simplex


def projected_newton(w, A, x, free):
    """Newton's direction of f restricted to x + {d : d_k = 0 off ``free``, Σ d = 0}:
    the minimum-norm least-squares solution of (P H P) d = P ∇f on the free
    coordinates, H = −∇²f and P = I − 11ᵀ/|free| the projection onto Σ d = 0."""
    K = x.size
    idx = np.flatnonzero(free)
    H = (A * (w / (A @ x) ** 2)[:, None]).T @ A
    g = plain_gradient(w, A, x)
    n = idx.size
    P = np.eye(n) - np.ones((n, n)) / n
    M = P @ H[np.ix_(idx, idx)] @ P
    sol = np.linalg.lstsq(M, P @ g[idx], rcond=None)[0]
    d = np.zeros(K)
    d[idx] = sol
    # Well-posed: H is definite on the face's tangent space (no flat direction).
    eig = np.linalg.eigvalsh(M)
    assert np.sort(np.abs(eig))[1] > 1e-8 * np.abs(eig).max(), "the face is flat"
    return d


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("case", ["interior", "a zero weight", "held experts"])
def test_S9_face_newton_direction_solves_the_projected_newton_system(seed, case):
    rng = np.random.default_rng(seed)
    K = int(rng.integers(3, 7))
    m = K + int(rng.integers(1, 4))
    w, A = random_prefix(rng, m, K)
    x = rng.dirichlet(np.ones(K))
    hold = np.zeros(K, dtype=np.bool_)
    if case == "a zero weight":
        x[rng.integers(K)] = 0.0
        x /= x.sum()
    elif case == "held experts":
        hold[rng.choice(K, K - 3, replace=False)] = True
    free = (x > 0) & ~hold
    d, flat = face_directions(plain_curvature(w, A, x), plain_gradient(w, A, x), x, hold, 1e-12)
    expected = projected_newton(w, A, x, free)
    np.testing.assert_allclose(d, expected, rtol=1e-8, atol=1e-12 * np.abs(expected).max())
    assert np.all(d[~free] == 0.0) and np.all(flat[~free] == 0.0)
    assert abs(d.sum()) <= 1e-12 * np.abs(d).max()
    # A face where f is strictly concave has no flat direction.
    assert np.abs(flat).max() <= 1e-10 * np.abs(d).max()


# ---------------------------------------------------------------------------
# Rounding fix Σ d = 0


@given(st.integers(0, 2**32 - 1))
def test_S9_tangent_moves_the_residual_onto_the_heaviest_free_expert(seed):
    rng = np.random.default_rng(seed)
    K = int(rng.integers(2, 8))
    x = rng.dirichlet(np.ones(K)) * (rng.random(K) < 0.8)
    if x.sum() == 0:
        x[0] = 1.0
    x /= x.sum()
    hold = rng.random(K) < 0.3
    if hold.all():
        hold[rng.integers(K)] = False
    d = rng.standard_normal(K)
    before = d.copy()
    tangent(d, x, hold)
    free = np.flatnonzero(~hold)
    heavy = free[np.argmax(x[free])]  # the first of the heaviest, as np.argmax breaks ties
    others = np.arange(K) != heavy
    np.testing.assert_array_equal(d[others], before[others])
    rounding = 4 * K * np.finfo(float).eps * np.abs(before).sum()
    assert d[heavy] == pytest.approx(before[heavy] - before.sum(), abs=rounding)
    assert abs(d.sum()) <= rounding


def test_S9_tangent_keeps_the_residual_off_lighter_experts():
    x = np.array([0.5, 0.3, 0.2])
    for hold, heavy in [([False] * 3, 0), ([True, False, False], 1), ([True, True, False], 2)]:
        d = np.array([0.25, 0.5, -0.5])
        tangent(d, x, np.array(hold))
        expected = np.array([0.25, 0.5, -0.5])
        expected[heavy] -= 0.25
        np.testing.assert_array_equal(d, expected)


# ---------------------------------------------------------------------------
# First expert a ray empties


def brute_first_block(x, d):
    """min over d_k < 0 of −x_k/d_k and the first expert that attains it; a step length
    that is +inf (none, or one that overflows) blocks nothing: (inf, −1)."""
    with np.errstate(over="ignore"):
        lengths = [(-x[k] / d[k], k) for k in range(x.size) if d[k] < 0]
    t = min((t for t, _ in lengths), default=np.inf)
    if not np.isfinite(t):
        return np.inf, -1
    return t, min(k for s, k in lengths if s == t)


@given(st.integers(0, 2**32 - 1))
def test_S9_first_block_is_the_shortest_step_to_the_boundary(seed):
    rng = np.random.default_rng(seed)
    K = int(rng.integers(1, 8))
    x = rng.dirichlet(np.ones(K)) * (rng.random(K) < 0.8)
    d = rng.standard_normal(K) * (rng.random(K) < 0.8)
    assert first_block(x, d) == brute_first_block(x, d)


@given(st.integers(0, 2**32 - 1))
def test_S9_first_block_names_the_first_of_experts_that_reach_the_boundary_together(seed):
    """Ties built exactly: x_k = a_k/64 and d_k = −a_k/(64 t) with t a power of two, so
    every tied −x_k/d_k equals t to the last bit."""
    rng = np.random.default_rng(seed)
    K = int(rng.integers(2, 8))
    a = rng.integers(1, 9, size=K).astype(float)
    x = a / 64
    t = 2.0 ** rng.integers(-3, 4)
    tied = rng.random(K) < 0.6
    tied[rng.choice(K, 2, replace=False)] = True
    d = np.where(tied, -x / t, rng.random(K))  # the others move up: they never block
    got = first_block(x, d)
    assert got == brute_first_block(x, d) == (t, int(np.flatnonzero(tied)[0]))


def test_S9_first_block_of_a_step_whose_length_overflows_is_no_block():
    """A flat direction with subnormal entries: −x_k/d_k = (1/3)/6.4e−323 overflows to
    +inf. No finite step empties the expert, so nothing blocks (a step of length inf
    would turn the weights into NaN)."""
    x = np.full(3, 1.0 / 3.0)
    d = np.array([6.4e-323, 0.0, -6.4e-323])
    assert first_block(x, d) == brute_first_block(x, d) == (np.inf, -1)
    d = np.array([-0.25, 6.4e-323, -6.4e-323])
    assert first_block(x, d) == brute_first_block(x, d) == (pytest.approx(4.0 / 3.0), 0)


# ---------------------------------------------------------------------------
# Weight left on an emptied expert


def brute_kept_weight(w, A, y, k):
    """The docstring's formula: 0 unless expert k alone writes children of positive target
    weight ("alone": every other expert gives them Σ_{j≠k} A_aj y_j = 0); then
    x_k = Σ_alone w_a / (W − Σ_b w_b A_bk / Σ_{j≠k} A_bj y_j) over the other children b
    that k writes."""
    others = np.delete(A, k, axis=1) @ np.delete(y, k)
    writes = A[:, k] > 0
    alone = writes & (others == 0)
    if not alone.any():
        return 0.0
    rest = writes & ~alone
    return w[alone].sum() / (w.sum() - np.sum(w[rest] * A[rest, k] / others[rest]))


@pytest.mark.parametrize(
    "w, A, y, k",
    [
        # The whole target weight (1.0) lies on children that expert 0 alone writes.
        ([0.625, 0.375], [[0.5, 0.0, 0.0], [0.25, 0.0, 0.0]], [0.0, 0.5, 0.5], 0),
        # One unit of target weight on the child expert 0 alone writes, one elsewhere.
        ([1.0, 1.0], [[1.0, 0.0, 0.0], [0.5, 1.0, 0.2]], [0.0, 0.6, 0.4], 0),
        # Expert 1 alone writes children 0 and 2 (weights 1e-20 and 0.25).
        (
            [1e-20, 0.5, 0.25],
            [[0.0, 0.3, 0.0], [0.6, 0.2, 0.2], [0.0, 0.5, 0.0]],
            [0.7, 0.0, 0.3],
            1,
        ),
        # Every child expert 2 writes is also written by another expert: nothing is kept.
        ([0.5, 0.5], [[0.2, 0.3, 0.5], [0.8, 0.0, 0.5]], [0.5, 0.5, 0.0], 2),
        # Expert 0's other writers weigh 1e-200 at 1e-200: the product underflows.
        ([1e-300, 1.0], [[1.0, 1e-200, 0.0], [0.0, 0.5, 1.0]], [0.0, 1e-200, 1.0], 0),
    ],
)
def test_S9_kept_weight_follows_its_stationarity_formula(w, A, y, k):
    w, A, y = np.array(w), np.array(A), np.array(y)
    got = kept_weight(w, A, y, k, w.sum())
    assert got == pytest.approx(brute_kept_weight(w, A, y, k), rel=1e-14, abs=0.0)


@given(st.integers(0, 2**32 - 1))
def test_S9_kept_weight_on_random_prefixes(seed):
    rng = np.random.default_rng(seed)
    m, K = int(rng.integers(1, 7)), int(rng.integers(2, 6))
    A = rng.dirichlet(np.ones(m), size=K).T * (rng.random((m, K)) < 0.5)
    w = rng.dirichlet(np.ones(m))
    k = int(rng.integers(K))
    y = rng.dirichlet(np.ones(K)) * (rng.random(K) < 0.7)
    y[k] = 0.0
    others = np.delete(A, k, axis=1) @ np.delete(y, k)
    shared = (A[:, k] > 0) & (others > 0)
    rest = np.sum(w[shared] * A[shared, k] / others[shared])
    assume(rest < w.sum())  # the formula's range
    got = kept_weight(w, np.ascontiguousarray(A), y, k, w.sum())
    assert got == pytest.approx(brute_kept_weight(w, A, y, k), rel=1e-13, abs=0.0)


# ---------------------------------------------------------------------------
# The away (pairwise) step


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_S9_away_step_empties_the_support_expert_with_the_smallest_gradient(order):
    """Three experts on two children of weights 1/2: 'low' = (0.8, 0.2), 'high' = (0.2,
    0.8), and 'double' = 2·low, at weight 0, the largest gradient coordinate. From
    x = (low 0.6, high 0.4), low has the smallest gradient coordinate on the support.

    Moving low's weight to double raises both children, so f increases along the
    whole pairwise ray e_double − e_low up to where low's weight reaches 0. The
    Newton step on the face {low, high} stays inside the simplex and that face has
    no flat direction, so the pairwise step is the only candidate that empties an
    expert; the solver takes such a step first, and it ends at the boundary."""
    low, high, double = order
    cols = {low: [0.8, 0.2], high: [0.2, 0.8], double: [1.6, 0.4]}
    A = np.ascontiguousarray(np.array([cols[k] for k in range(3)]).T)
    w = np.array([0.5, 0.5])
    x = np.zeros(3)
    x[low], x[high] = 0.6, 0.4
    g = plain_gradient(w, A, x)
    support = np.flatnonzero(x > 0)
    i = support[np.argmin(g[support])]  # brute force over the experts with weight
    j = int(np.argmax(g))
    assert (i, j) == (low, double)
    assert np.all(A[:, j] - A[:, i] >= 0), "f rises all along the pairwise ray"
    newton = projected_newton(w, A, x, x > 0)
    assert np.all((x + newton)[support] > 0), "the full Newton step stays inside"
    step, gap, taken = solve_prefix(w, A, x.copy(), 0.0, 1)
    expected = x.copy()
    expected[j] += x[i]
    expected[i] = 0.0  # kept weight 0: double writes every child that low writes
    assert taken == 1
    np.testing.assert_allclose(step, expected, rtol=0, atol=1e-15)
    assert f(w, A, step) > f(w, A, x)
