"""S9: the per-prefix distillation problems, their solver and its certificate.

Each prefix s poses max_{r∈Δ_K} f(r) = Σ_a w_a log (A r)_a with w_a = p(a|s) and
A_ak = p_k(a|s). The references are independent of ``sims.distill``: the optimum
from cvxpy (Clarabel), f evaluated with numpy at the points each method returns,
and counts of steps derived from the structure of the problem.
"""

import warnings

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sims.distill import RouterResult, Trie, distill_router
from sims.distill import _solve_prefix as solve_prefix


def f(w, A, r):
    return float(w @ np.log(A @ r))


def cvxpy_optimum(w, A):
    """A feasible point of Δ_K from Clarabel (clipped and renormalized) and f there: a
    lower bound on max f, accurate to the solver's tolerance."""
    r = cp.Variable(A.shape[1], nonneg=True)
    prob = cp.Problem(cp.Maximize(w @ cp.log(A @ r)), [cp.sum(r) == 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)
    x = np.clip(r.value, 0.0, None)
    x /= x.sum()
    return x, f(w, A, x)


def gradient(w, A, r):
    return A.T @ (w / (A @ r))


def random_prefix(rng, kind):
    """(w, A) of one prefix: m children, K experts; each column of A is p_k(·|s)."""
    K, m = int(rng.integers(2, 7)), int(rng.integers(1, 9))
    A = rng.dirichlet(np.full(m, 0.5), size=K).T
    if kind == "collinear":  # experts that nearly agree: EM's rate → 1 there
        base = rng.dirichlet(np.ones(m))
        A = base[:, None] * (1.0 + 1e-4 * rng.standard_normal((m, K)))
    elif kind == "scales":  # conditionals spanning twelve orders of magnitude
        A = A * 10.0 ** rng.uniform(-12, 0, size=A.shape)
    elif kind == "zeros":  # experts that cannot continue with some children
        A = A * (rng.random(A.shape) < 0.6)
        A[A.max(axis=1) == 0, rng.integers(K)] = 1.0  # every child has an expert
        A[rng.integers(m), A.max(axis=0) == 0] = 1.0  # every expert has a child
    A /= A.sum(axis=0)
    w = rng.dirichlet(np.ones(m))
    if kind == "tiny weights":  # target weights down to 1e-15 on some children
        w *= 10.0 ** rng.uniform(-15, 0, size=m)
        w /= w.sum()
    return w, np.ascontiguousarray(A)


KINDS = ["dirichlet", "collinear", "scales", "zeros", "tiny weights"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", range(6))
def test_S9_prefix_solver_reaches_the_cvxpy_optimum_with_a_tight_certificate(kind, seed):
    rng = np.random.default_rng(100 * seed + KINDS.index(kind))
    w, A = random_prefix(rng, kind)
    K = A.shape[1]
    r, gap, steps = solve_prefix(w, A, np.full(K, 1.0 / K), 1e-12, 10_000)
    assert steps < 10_000 and gap <= 1e-12
    assert np.all(r >= 0) and r.sum() == pytest.approx(1.0, abs=1e-15)
    x, best = cvxpy_optimum(w, A)
    # The certificate bounds the distance to every feasible point's value, the
    # conic solution's included; and nothing feasible beats r by more than it.
    assert best - f(w, A, r) <= gap + 1e-15
    assert f(w, A, r) >= best - 1e-12
    # KKT at r: no gradient coordinate above the average r·∇f, which equals W = Σ w.
    g = gradient(w, A, r)
    assert g.max() <= w.sum() * (1 + 1e-11)


def reentry_prefix(rng, K, m):
    """A prefix where an expert at weight 0 must come back, and a start that excludes it.

    Expert 0 is the only one that continues with child 0 at a sizable rate; the
    others give it probability ~1e-7, so from any start with r_0 = 0 the gradient
    coordinate of expert 0 is the largest by far, and at the optimum r_0 > 0.
    """
    A = rng.dirichlet(np.ones(m), size=K).T
    A[0, 1:] = 1e-7 * rng.random(K - 1)
    A[0, 0] = 0.5
    A /= A.sum(axis=0)
    w = rng.dirichlet(np.ones(m))
    w[0] += 0.05
    w /= w.sum()
    start = rng.dirichlet(np.ones(K))
    start[0] = 0.0
    start /= start.sum()
    return w, np.ascontiguousarray(A), start


@pytest.mark.parametrize("seed", range(8))
def test_S9_an_expert_at_weight_zero_reenters_when_its_gradient_is_largest(seed):
    rng = np.random.default_rng(seed)
    K, m = int(rng.integers(2, 7)), int(rng.integers(2, 8))
    w, A, start = reentry_prefix(rng, K, m)
    g = gradient(w, A, start)
    assert np.argmax(g) == 0 and g[0] > 10 * g[1:].max(), "the construction is adversarial"
    # The multiplicative EM update can never move r_0 off 0 from this start.
    assert (start * g / (start @ g))[0] == 0.0
    x, best = cvxpy_optimum(w, A)
    assert x[0] > 1e-6, "at the optimum expert 0 carries weight"
    r, gap, _ = solve_prefix(w, A, start.copy(), 1e-12, 10_000)
    assert gap <= 1e-12 and r[0] > 0.0
    assert best - f(w, A, r) <= gap + 1e-15
    assert f(w, A, r) >= best - 1e-12
    # log is strictly concave, so the optimal mixture A r* is unique even where r* is not.
    np.testing.assert_allclose(A @ r, A @ x, rtol=1e-5)
    if np.linalg.matrix_rank(A) == K:
        np.testing.assert_allclose(r, x, atol=1e-5)


def test_S9_an_expert_that_alone_serves_a_rare_child_keeps_a_tiny_weight():
    """Child 0 has target weight 1e-20 and only expert 1 continues with it. Expert 1 is
    otherwise poor, so its optimal weight is tiny but positive (at 0, f = −∞). The
    weight has to shrink by many orders of magnitude while the others converge."""
    rng = np.random.default_rng(4)
    K, m = 5, 7
    A = rng.dirichlet(np.ones(m - 1), size=K).T
    A = np.vstack([np.zeros(K), A])
    A[0, 1] = 0.3
    A[1:, 1] *= 1e-3
    A /= A.sum(axis=0)
    w = np.r_[1e-20, rng.dirichlet(np.ones(m - 1))]
    w /= w.sum()
    r, gap, steps = solve_prefix(w, A, np.full(K, 1.0 / K), 1e-12, 200)
    assert gap <= 1e-12 and steps < 200
    assert 0.0 < r[1] < 1e-12
    _, best = cvxpy_optimum(w, A)
    assert best - f(w, A, r) <= gap + 1e-15


@given(st.integers(0, 2**32 - 1), st.sampled_from(KINDS), st.integers(0, 3))
def test_S9_certificate_bounds_the_gap_at_every_point_and_every_step(seed, kind, steps):
    """gap(r) ≥ f(r*) − f(r) ≥ f(x) − f(r) for any x ∈ Δ_K, at arbitrary r and at the
    solver's iterates before convergence, where the bound is far from 0."""
    rng = np.random.default_rng(seed)
    w, A = random_prefix(rng, kind)
    K = A.shape[1]
    r = rng.dirichlet(np.ones(K))
    if (A @ r).min() <= 0:
        r = np.full(K, 1.0 / K)
    r, gap, taken = solve_prefix(w, A, r, 0.0, steps)
    W = w.sum()
    assert taken <= steps
    assert gap == pytest.approx(max(0.0, W * np.log(gradient(w, A, r).max() / W)), abs=1e-12)
    for x in [np.eye(K)[k] for k in range(K)] + [rng.dirichlet(np.ones(K)) for _ in range(5)]:
        if (A @ x).min() > 0:
            assert f(w, A, x) - f(w, A, r) <= gap + 1e-12


# ---------------------------------------------------------------------------
# Counting steps


def test_S9_steps_are_counted_exactly():
    """With max_iter = k the solver takes min(k, N) steps, and each of them moves."""
    rng = np.random.default_rng(5)
    w, A = random_prefix(rng, "collinear")
    K = A.shape[1]
    x0 = np.full(K, 1.0 / K)
    _, _, total = solve_prefix(w, A, x0.copy(), 1e-12, 10_000)
    assert total >= 2
    previous = x0
    for k in range(total + 3):
        r, _, steps = solve_prefix(w, A, x0.copy(), 1e-12, k)
        assert steps == min(k, total)
        if k <= total:
            assert (k == 0) == np.array_equal(r, previous)
        else:
            np.testing.assert_array_equal(r, previous)
        previous = r


def test_S9_with_two_experts_each_prefix_takes_one_step_or_none():
    """K = 2: the simplex is a segment, so the first exact line search lands on the optimum.
    A prefix with one child, or where both experts continue alike, is solved at the start."""
    strings = ["a", "ab", "abc", "abd", "b", "ba", "bb", "c"]
    rng = np.random.default_rng(3)
    P = rng.dirichlet(np.ones(len(strings)), size=2)
    # Below "b" (strings 4..6) expert 1 is expert 0 rescaled: equal conditionals there.
    P[1, 4:7] = P[0, 4:7] / P[0, 4:7].sum() * P[1, 4:7].sum()
    target = rng.dirichlet(np.ones(len(strings)))
    res = distill_router(strings, P, target, tol=1e-13)
    trie = Trie(strings)
    cond = trie.conditionals(P)
    for s in trie.internal:
        kids = np.arange(trie.child_start[s], trie.child_stop[s])
        same = np.allclose(cond[0, kids], cond[1, kids], rtol=1e-12)
        expected = 0 if kids.size == 1 or same else 1
        assert res.prefix_iterations[s] == expected, trie.prefix(s)
    assert res.iterations == res.prefix_iterations.max() == 1


def test_S9_max_iter_reproduces_the_solver_path_and_decides_convergence():
    rng = np.random.default_rng(12)
    strings = sorted({"".join(rng.choice(list("abc"), rng.integers(0, 5))) for _ in range(40)})
    n = len(strings)
    P = rng.dirichlet(np.full(n, 0.5), size=5)
    target = rng.dirichlet(np.ones(n))
    full = distill_router(strings, P, target, tol=1e-12)
    assert full.converged and full.iterations == full.prefix_iterations.max() >= 2
    same = distill_router(strings, P, target, tol=1e-12, max_iter=full.iterations)
    np.testing.assert_array_equal(same.router, full.router)
    assert same.converged
    short = distill_router(strings, P, target, tol=1e-12, max_iter=full.iterations - 1)
    assert not short.converged and short.iterations == full.iterations - 1
    slow = full.prefix_iterations == full.iterations
    np.testing.assert_array_equal(short.router[~slow], full.router[~slow])
    assert np.all(short.prefix_iterations[slow] == full.iterations - 1)


# ---------------------------------------------------------------------------
# The result object


def test_S9_router_result_has_the_uniform_certified_fields():
    rng = np.random.default_rng(2)
    strings = ["", "a", "ab", "b", "ba", "bab"]
    P = rng.dirichlet(np.ones(6), size=3)
    target = rng.dirichlet(np.ones(6))
    for max_iter in (0, 1, 100):
        res = distill_router(strings, P, target, tol=1e-12, max_iter=max_iter)
        assert res.value == res.kl == res.upper
        assert 0.0 <= res.lower <= res.upper
        assert res.gap == res.upper - res.lower
        assert res.lower == pytest.approx(max(0.0, res.value - res.gap_bound), abs=1e-15)
    assert res.converged and res.iterations == res.prefix_iterations.max()


def test_S9_router_result_clamps_a_crossed_bracket():
    kwargs = dict(
        router=np.ones((1, 1)),
        student=np.ones(1),
        value=0.5,
        kl=0.5,
        gap_bound=0.0,
        prefix_gap=np.zeros(1),
        prefix_iterations=np.zeros(1, dtype=int),
        iterations=0,
        converged=True,
    )
    crossed = RouterResult(lower=np.nextafter(0.5, 1.0), upper=0.5, **kwargs)
    assert crossed.lower == crossed.upper == 0.5 and crossed.gap == 0.0
    fine = RouterResult(lower=0.25, upper=0.5, **kwargs)
    assert fine.lower == 0.25 and fine.gap == 0.25


# ---------------------------------------------------------------------------
# Real data


@pytest.fixture(scope="module")
def wordfreq_instance():
    """The E10 quick setup: four languages' top-2000 words, bigram experts, and the
    robust gate's model as the target; 6k strings, 21k trie nodes."""
    from paper_repro.experiments import _realdata
    from theory.minimax import robust_gate

    real = _realdata.real_domains(_realdata.params("quick"))
    target = robust_gate(real["D"], real["P"]).model
    trie = Trie(real["strings"])
    return trie, real["P"], target, distill_router(trie, real["P"], target, tol=1e-8)


def test_S9_router_on_real_wordfreq_domains_certifies_every_prefix(wordfreq_instance):
    trie, P, target, res = wordfreq_instance
    assert res.converged and res.gap_bound <= 1e-8
    # The certificate of every prefix, recomputed here with numpy from the returned router.
    tmass, W, cond = trie.prefix_mass(target), trie.conditionals(target), trie.conditionals(P)
    worst = 0.0
    for s in trie.internal[tmass[trie.internal] > 0]:
        kids = slice(trie.child_start[s], trie.child_stop[s])
        w, A = W[kids], cond[:, kids].T
        keep = w > 0
        g = gradient(w[keep], A[keep], res.router[s])
        worst = max(worst, w.sum() * np.log(g.max() / w.sum()))
    assert worst <= 1e-9
    assert res.prefix_gap.max() <= 1e-9
    assert res.kl == pytest.approx(float(np.sum(target * np.log(target / res.student))), abs=1e-12)


def test_S9_real_prefixes_where_experts_reenter_match_cvxpy(wordfreq_instance):
    """Prefixes where some expert ends with a small positive weight (below 1e-3), where
    it had to keep or regain a little weight, and the ten heaviest prefixes, against
    Clarabel: the certificate bounds the distance to the conic solution's value."""
    trie, P, target, res = wordfreq_instance
    tmass, W, cond = trie.prefix_mass(target), trie.conditionals(target), trie.conditionals(P)
    nodes = trie.internal[tmass[trie.internal] > 0]
    small = nodes[((res.router[nodes] > 0) & (res.router[nodes] < 1e-3)).any(axis=1)]
    heavy = nodes[np.argsort(-tmass[nodes])[:10]]
    chosen = np.unique(np.r_[small[:: max(1, small.size // 20)], heavy])
    assert small.size > 0
    for s in chosen:
        kids = slice(trie.child_start[s], trie.child_stop[s])
        keep = W[kids] > 0
        w, A = W[kids][keep], np.ascontiguousarray(cond[:, kids].T[keep])
        _, best = cvxpy_optimum(w, A)
        ours = f(w, A, res.router[s])
        assert best - ours <= res.prefix_gap[s] + 1e-15, trie.prefix(s)
        assert ours >= best - 1e-9, trie.prefix(s)


def test_S9_the_router_does_not_depend_on_the_number_of_threads():
    import numba

    from sims.domains import dirichlet_domains

    rng = np.random.default_rng(11)
    letters = "abcd"
    strings = sorted(
        {"".join(rng.choice(list(letters), size=rng.integers(1, 5))) for _ in range(300)}
    )
    P = dirichlet_domains(3, len(strings), separation=1.0, seed=4)
    target = rng.dirichlet(np.ones(len(strings)))
    before = numba.get_num_threads()
    results = []
    try:
        for threads in (1, before):
            numba.set_num_threads(threads)
            results.append(distill_router(strings, P, target))
    finally:
        numba.set_num_threads(before)
    serial, split = results
    np.testing.assert_array_equal(serial.router, split.router)
    np.testing.assert_array_equal(serial.prefix_iterations, split.prefix_iterations)
    assert serial.value == split.value and serial.converged and split.converged


def test_a_solve_that_breaks_down_with_nan_is_an_error_not_a_kl_of_zero(monkeypatch):
    import sims.distill as distill

    def broken(nodes, *args):
        return np.full(len(nodes), np.nan), np.zeros(len(nodes), dtype=np.int64)

    monkeypatch.setattr(distill, "_solve_prefixes", broken)
    strings = ["a", "ab", "b"]
    P = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]])
    with pytest.raises(FloatingPointError, match="NaN"):
        distill_router(strings, P, P.mean(axis=0))
