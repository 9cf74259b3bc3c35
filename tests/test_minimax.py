"""The exact robust gate (T3–T7) against independent solvers and closed forms.

References used here and nowhere in the package: cvxpy's exponential-cone
formulation of the water-filling problem written from its definition, scipy's
``rel_entr`` (tests/reference.py) for every divergence, Blahut–Arimoto for the
capacity, and finite differences for the supergradient.
"""

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import reference as ref
from theory.capacity import blahut_arimoto
from theory.gates import mass, model
from theory.minimax import (
    dual_function,
    fixed_mixture,
    objective_offsets,
    robust_gate,
    water_fill,
)
from theory.mixtures import Box, L1Ball, Polytope, Simplex
from theory.validation import InfeasibleError

OBJECTIVES = ("divergence", "cross_entropy", "regret")
FAMILIES = ("simplex", "box", "l1", "polytope")


def _rows(rng, K, n, kind):
    """K×n stochastic rows: random, sparse (zeros), identical or with disjoint supports."""
    if kind == "zeros":
        D = rng.dirichlet(np.ones(n), size=K) * (rng.random((K, n)) < 0.5)
        D[np.arange(K), rng.integers(0, n, K)] += 0.1
    elif kind == "disjoint":
        labels = np.concatenate([np.arange(K), rng.integers(0, K, n - K)])
        D = rng.random((K, n)) * (labels[None, :] == np.arange(K)[:, None])
    elif kind == "identical":
        D = np.repeat(rng.dirichlet(np.ones(n))[None, :], K, axis=0)
    else:
        D = rng.dirichlet(np.full(n, 0.5), size=K)
    return D / D.sum(axis=1, keepdims=True)


def _instance(seed, K=None, n=None, domains="random", experts="imperfect"):
    """Domains D and experts P; imperfect experts keep some of a domain's mass so that
    every domain stays feasible (and the regret objective finite)."""
    rng = np.random.default_rng(seed)
    K = int(rng.integers(2, 9)) if K is None else K
    n = int(rng.integers(max(K, 5), 120)) if n is None else n
    D = _rows(rng, K, n, domains)
    if experts == "perfect":
        return D, D.copy()
    P = 0.6 * _rows(rng, K, n, experts if experts != "imperfect" else "random") + 0.4 * D
    return D, P / P.sum(axis=1, keepdims=True)


def _family(name, K, rng):
    if name == "simplex":
        return Simplex(K)
    c = rng.dirichlet(np.ones(K))
    if name == "box":
        return Box(np.maximum(c - 0.2, 0.0), np.minimum(c + 0.2, 1.0))
    if name == "l1":
        return L1Ball(c, float(rng.uniform(0.2, 1.5)))
    return Polytope(rng.dirichlet(np.ones(K), size=int(rng.integers(2, 5))))


def _losses(D, q, c):
    return np.array([ref.cross_entropy(D[k], q) for k in range(D.shape[0])]) - c


def _assert_certified(res):
    assert res.converged
    assert np.isfinite(res.lower) and np.isfinite(res.upper)
    assert res.upper - res.lower <= 1e-9
    assert res.lower <= res.value + 1e-12 <= res.upper + 2e-12


# ---------------------------------------------------------------------------
# T5: the dual solver against the conic reference
# ---------------------------------------------------------------------------


CASES = [
    ("random", "perfect"),
    ("random", "imperfect"),
    ("zeros", "zeros"),
    ("disjoint", "imperfect"),
    ("random", "identical"),
    ("disjoint", "disjoint"),
]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("case", range(len(CASES)))
def test_T5_dual_solver_matches_cvxpy(family, objective, case):
    domains, experts = CASES[case]
    seed = 1000 * case + 10 * FAMILIES.index(family) + OBJECTIVES.index(objective)
    # An ℓ1 ball in Δ_K has up to hundreds of vertices for K > 5, each a constraint
    # of the conic reference, which Clarabel then fails to solve accurately.
    K = int(np.random.default_rng(seed).integers(2, 6 if family == "l1" else 9))
    D, P = _instance(seed, K=K, domains=domains, experts=experts)
    Lam = _family(family, K, np.random.default_rng(seed))
    dual = robust_gate(D, P, Lam, objective=objective, method="dual")
    conic = robust_gate(D, P, Lam, objective=objective, method="cvxpy")
    _assert_certified(dual)
    assert abs(dual.value - conic.value) <= 1e-7
    # cvxpy's reported value carries its solver's accuracy (~1e-8 here) ...
    assert dual.lower - 1e-7 <= conic.value <= dual.upper + 1e-7
    # ... but the bounds evaluated exactly from its (q, λ) are certified like ours:
    # both intervals contain V*, so they must meet.
    assert max(dual.lower, conic.lower) <= min(dual.upper, conic.upper) + 1e-12
    assert Lam.contains(dual.lam, tol=1e-9)


def test_T5_dual_solver_matches_cvxpy_on_a_large_alphabet():
    D, P = _instance(7, K=5, n=2000)
    dual = robust_gate(D, P)
    conic = robust_gate(D, P, method="cvxpy")
    _assert_certified(dual)
    assert abs(dual.value - conic.value) <= 1e-7


def test_T5_certificates_are_recomputable_from_the_returned_pair():
    D, P = _instance(3, K=4, n=60)
    Lam = L1Ball([0.4, 0.3, 0.2, 0.1], 0.8)
    res = robust_gate(D, P, Lam, objective="regret")
    c = objective_offsets(D, P, "regret")
    L = _losses(D, res.model, c)
    np.testing.assert_allclose(res.per_domain, L, rtol=1e-12, atol=1e-12)
    # upper = the worst case over the vertices of Λ of the returned model's payoff.
    assert res.upper == pytest.approx(max(v @ L for v in Lam.vertices()), abs=1e-12)
    q_star = fixed_mixture(D, P, res.lam).model
    assert res.lower == pytest.approx(res.lam @ _losses(D, q_star, c), abs=1e-12)
    assert np.all(res.model >= P.min(axis=0) - 1e-15)
    assert np.all(res.model <= P.max(axis=0) + 1e-15)
    assert res.model.sum() == pytest.approx(1.0, abs=1e-12)
    assert mass(res.gate, P) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(model(res.gate, P), res.model, atol=1e-15)


# ---------------------------------------------------------------------------
# T3: water-filling
# ---------------------------------------------------------------------------


def _cvxpy_water_fill(t, lo, hi):
    """min −Σ t log q s.t. ℓ ≤ q ≤ u, Σq = 1, written from its definition."""
    S = t > 0
    q = cp.Variable(t.size)
    obj = cp.Minimize(-(t[S] @ cp.log(q[np.flatnonzero(S)])))
    prob = cp.Problem(obj, [q >= lo, q <= hi, cp.sum(q) == 1])
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-11, tol_gap_rel=1e-11, tol_feas=1e-11)
    return np.asarray(q.value), float(prob.value)


@pytest.mark.parametrize("seed", range(12))
def test_T3_water_filling_matches_cvxpy(seed):
    kinds = [("random", "imperfect"), ("zeros", "zeros"), ("disjoint", "imperfect")]
    D, P = _instance(seed, domains=kinds[seed % 3][0], experts=kinds[seed % 3][1])
    lam = np.random.default_rng(seed).dirichlet(np.ones(D.shape[0]))
    lam[seed % D.shape[0]] = 0.0 if seed % 2 else lam[seed % D.shape[0]]
    lam /= lam.sum()
    lo, hi = P.min(axis=0), P.max(axis=0)
    t = lam @ D
    res = fixed_mixture(D, P, lam, objective="cross_entropy")
    q_ref, v_ref = _cvxpy_water_fill(t, lo, hi)
    S = t > 0
    assert res.value == pytest.approx(v_ref, abs=1e-7)
    # q* is unique on supp t (strictly convex objective there).
    np.testing.assert_allclose(res.model[S], q_ref[S], atol=1e-6)
    # Closed form: clip(t/ν, ℓ, u) with the reported ν, and ℓ off supp t.
    np.testing.assert_allclose(res.model, np.clip(t / res.nu, lo, hi), atol=1e-15)
    _assert_gate_represents(res.gate, res.model, P)


def _assert_gate_represents(gate, q, P):
    assert np.all(gate >= 0)
    np.testing.assert_allclose(gate.sum(axis=0), 1.0, atol=1e-12)
    assert mass(gate, P) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(model(gate, P), q, atol=1e-15)


def test_T3_no_root_edge_case():
    # Σ_{t>0} u + Σ_{t=0} ℓ = 0.4 + 0.4 < 1: q = u on supp t, the rest in [ℓ, u] off it.
    P = np.array([[0.2, 0.1, 0.2, 0.5], [0.1, 0.2, 0.5, 0.2]])
    D = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    lam = np.array([0.5, 0.5])
    res = fixed_mixture(D, P, lam, objective="cross_entropy")
    lo, hi = P.min(axis=0), P.max(axis=0)
    q_ref, v_ref = _cvxpy_water_fill(lam @ D, lo, hi)
    assert res.nu == 0.0
    np.testing.assert_allclose(res.model[:2], [0.2, 0.2], atol=1e-15)
    np.testing.assert_allclose(res.model[:2], q_ref[:2], atol=1e-7)
    assert res.value == pytest.approx(-np.log(0.2), abs=1e-12)
    assert res.value == pytest.approx(v_ref, abs=1e-7)
    assert res.model.sum() == pytest.approx(1.0, abs=1e-15)
    assert np.all(res.model >= lo) and np.all(res.model <= hi)
    _assert_gate_represents(res.gate, res.model, P)
    q, nu = water_fill(lam @ D, P)
    assert nu == 0.0
    np.testing.assert_array_equal(q, res.model)


def test_T3_perfect_experts_give_the_mixture_itself():
    D, _ = _instance(5, K=4, n=50)
    lam = np.array([0.1, 0.2, 0.3, 0.4])
    res = fixed_mixture(D, D, lam)
    assert res.nu == 1.0
    np.testing.assert_allclose(res.model, lam @ D, atol=1e-15)
    # Divergence objective: value = JSD_λ(D) + KL(D_λ‖q*) = JSD_λ(D).
    assert res.value == pytest.approx(ref.jsd(lam, D), abs=1e-12)


@given(seed=st.integers(0, 10**6), mix=st.floats(0.0, 1.0))
def test_T3_water_filling_beats_every_model_in_the_envelope(seed, mix):
    D, P = _instance(seed, K=3, n=12, domains="zeros")
    rng = np.random.default_rng(seed)
    lam = rng.dirichlet(np.ones(3))
    best = fixed_mixture(D, P, lam)
    # Another point of M: a convex combination of water-filled models (M is convex).
    other = fixed_mixture(D, P, rng.dirichlet(np.ones(3))).model
    q = mix * other + (1 - mix) * best.model
    c = objective_offsets(D, P)
    assert best.value <= lam @ _losses(D, q, c) + 1e-12
    assert best.value == pytest.approx(ref.jsd(lam, D) + ref.kl(lam @ D, best.model), abs=1e-12)


# ---------------------------------------------------------------------------
# T5: the dual function
# ---------------------------------------------------------------------------


@given(seed=st.integers(0, 10**6), objective=st.sampled_from(OBJECTIVES))
def test_T5_supergradient_inequality(seed, objective):
    D, P = _instance(seed, K=4, n=15, domains="zeros", experts="zeros")
    rng = np.random.default_rng(seed)
    lam, other = rng.dirichlet(np.ones(4), size=2)
    d, g = dual_function(D, P, lam, objective)
    d2, _ = dual_function(D, P, other, objective)
    assert d2 <= d + g @ (other - lam) + 1e-10
    # d is concave: it lies above its chords.
    mid = 0.5 * (lam + other)
    assert dual_function(D, P, mid, objective)[0] >= 0.5 * (d + d2) - 1e-10


@pytest.mark.parametrize("seed", range(5))
def test_T5_supergradient_is_the_gradient_in_the_interior(seed):
    D, P = _instance(seed, K=4, n=30)
    lam = np.random.default_rng(seed).dirichlet(np.full(4, 5.0))
    _, g = dual_function(D, P, lam)
    h = 1e-6
    for i, j in [(0, 1), (2, 3), (1, 3)]:
        e = np.zeros(4)
        e[i], e[j] = h, -h
        fd = (dual_function(D, P, lam + e)[0] - dual_function(D, P, lam - e)[0]) / (2 * h)
        assert fd == pytest.approx(g[i] - g[j], abs=1e-6)


def test_T5_dual_function_is_the_jsd_for_perfect_experts():
    D, _ = _instance(2, K=5, n=40)
    for lam in np.random.default_rng(2).dirichlet(np.ones(5), size=5):
        d, g = dual_function(D, D, lam)
        assert d == pytest.approx(ref.jsd(lam, D), abs=1e-12)
        np.testing.assert_allclose(g, ref.kl_rows(D, lam @ D), atol=1e-12)


# ---------------------------------------------------------------------------
# T4, T6, T7
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_T4_saddle_point_inequalities_and_gap_closing(seed):
    D, P = _instance(seed, K=3, n=40)
    res = robust_gate(D, P)
    _assert_certified(res)
    uppers = np.array([u for _, u in res.history])
    lowers = np.array([lo for lo, _ in res.history])
    assert np.all(np.diff(uppers) <= 0) and np.all(np.diff(lowers) >= 0)
    assert uppers[-1] - lowers[-1] <= 1e-9
    c = objective_offsets(D, P)
    L_star = _losses(D, res.model, c)
    v = res.lam @ L_star
    rng = np.random.default_rng(seed)
    # L(g*, λ) ≤ L(g*, λ*) for every λ ...
    for lam in rng.dirichlet(np.ones(3), size=20):
        assert lam @ L_star <= v + 1e-9
    # ... ≤ L(g, λ*) for every g ∈ G_1 (every model of M, T2).
    for lam in rng.dirichlet(np.ones(3), size=20):
        q = fixed_mixture(D, P, lam).model
        assert v <= res.lam @ _losses(D, q, c) + 1e-9
    assert v == pytest.approx(res.value, abs=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_T6_equalizer_property(seed):
    D, P = _instance(seed, K=5, n=60, domains="zeros" if seed % 2 else "random")
    res = robust_gate(D, P)
    L = res.per_domain
    assert np.all(L <= res.value + 1e-9)
    on = res.lam > 1e-6
    np.testing.assert_allclose(L[on], res.value, atol=1e-7)


@pytest.mark.parametrize("seed", range(4))
def test_T6_capacity_equals_minimax_for_perfect_experts(seed):
    D, _ = _instance(seed, K=int(2 + seed), n=80, domains=("random", "zeros")[seed % 2])
    res = robust_gate(D, D)
    cap = blahut_arimoto(D, tol=1e-13)
    assert res.value == pytest.approx(cap.capacity, abs=1e-9)
    assert res.lower <= cap.upper + 1e-12 and cap.lower <= res.upper + 1e-12
    # The robust model is the capacity-achieving output law D_λ*: the constant gate λ*.
    # (Pinsker with KL(D_λ‖q*) ≤ V* − d(λ) and KL(q*‖model) ≤ upper − V*, from T1.)
    spread = np.abs(res.model - res.lam @ D).sum()
    assert spread <= 2 * np.sqrt(2 * (max(res.gap, 0.0) + 1e-15))
    assert ref.kl_rows(D, res.lam @ D).max() <= res.value + 1e-7
    assert ref.jsd(res.lam, D) == pytest.approx(res.value, abs=1e-9)


def test_T7_monotone_in_nested_mixture_sets():
    D, P = _instance(11, K=4, n=50)
    lam0 = np.array([0.4, 0.3, 0.2, 0.1])
    chain = [L1Ball(lam0, 0.0), L1Ball(lam0, 0.3), L1Ball(lam0, 1.0), Simplex(4)]
    res = [robust_gate(D, P, Lam) for Lam in chain]
    for small, big in zip(res, res[1:], strict=False):
        assert small.lower <= big.upper + 1e-12
        assert small.value <= big.value + 1e-9
    assert res[0].value == pytest.approx(dual_function(D, P, lam0)[0], abs=1e-9)
    vertices = np.random.default_rng(1).dirichlet(np.ones(4), size=4)
    inner = robust_gate(D, P, Polytope(vertices[:2]))
    outer = robust_gate(D, P, Polytope(vertices))
    assert inner.value <= outer.value + 1e-9
    box_in = robust_gate(D, P, Box([0.2] * 4, [0.3] * 4))
    box_out = robust_gate(D, P, Box([0.1] * 4, [0.4] * 4))
    assert box_in.value <= box_out.value + 1e-9 <= res[-1].value + 2e-9


def test_T7_singleton_mixture_set_is_the_fixed_mixture():
    D, P = _instance(4, K=3, n=30)
    lam0 = np.array([0.5, 0.3, 0.2])
    for Lam in (Polytope([lam0]), L1Ball(lam0, 0.0), Box(lam0, lam0)):
        res = robust_gate(D, P, Lam, objective="regret")
        d, _ = dual_function(D, P, lam0, "regret")
        assert res.value == pytest.approx(d, abs=1e-12)
        np.testing.assert_allclose(res.lam, lam0, atol=1e-12)


def test_T7_perfect_experts_value_below_capacity_below_log_K():
    D, _ = _instance(8, K=4, n=40)
    lam0 = np.full(4, 0.25)
    cap = blahut_arimoto(D).capacity
    for r in (0.0, 0.5, 1.0):
        res = robust_gate(D, D, L1Ball(lam0, r))
        assert res.value <= cap + 1e-9 <= np.log(4) + 2e-9


# ---------------------------------------------------------------------------
# Errors and early stopping
# ---------------------------------------------------------------------------


def test_infeasible_instance_names_the_domain_and_an_index():
    D, P = _instance(0, K=3, n=10)
    P[:, 6] = 0.0
    P /= P.sum(axis=1, keepdims=True)
    D[1, 6] = 0.3
    D /= D.sum(axis=1, keepdims=True)
    D[[0, 2], 6] = 0.0
    D /= D.sum(axis=1, keepdims=True)
    for call in (
        lambda: robust_gate(D, P),
        lambda: robust_gate(D, P, method="cvxpy"),
        lambda: fixed_mixture(D, P, [0.2, 0.5, 0.3]),
        lambda: dual_function(D, P, [0.2, 0.5, 0.3]),
    ):
        with pytest.raises(InfeasibleError, match=r"domain D_2 \(row 1\) .*index 6"):
            call()
    # A domain that Λ never weights cannot make V* infinite.
    res = robust_gate(D, P, Box([0.0, 0.0, 0.0], [1.0, 0.0, 1.0]))
    _assert_certified(res)


def test_early_stop_returns_certified_bounds_without_nan():
    D, P = _instance(1, K=6, n=100)
    exact = robust_gate(D, P)
    for objective in OBJECTIVES:
        res = robust_gate(D, P, objective=objective, max_iter=1, tol=1e-15)
        assert not res.converged
        assert np.isfinite(res.lower) and np.isfinite(res.upper) and np.isfinite(res.value)
        assert not np.any(np.isnan(res.model)) and not np.any(np.isnan(res.lam))
        if objective == "divergence":
            assert res.lower <= exact.value + 1e-12 <= res.upper + 2e-12


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"objective": "kl"}, "objective"),
        ({"method": "scipy"}, "method"),
        ({"tol": -1.0}, "tol"),
        ({"max_iter": 0}, "max_iter"),
        ({"mixtures": Simplex(2)}, "mixtures"),
        ({"mixtures": "simplex"}, "mixtures"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(kwargs, argument):
    D, P = _instance(0, K=3, n=10)
    with pytest.raises(ValueError, match=argument):
        robust_gate(D, P, **kwargs)


def test_bad_matrices_raise_value_error_naming_them():
    D, P = _instance(0, K=3, n=10)
    with pytest.raises(ValueError, match="P"):
        robust_gate(D, P[:2])
    bad = D.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="D"):
        robust_gate(bad, P)
    with pytest.raises(ValueError, match="lam"):
        fixed_mixture(D, P, [0.5, 0.5])
    with pytest.raises(ValueError, match="lam"):
        dual_function(D, P, [0.5, 0.6, -0.1])
    with pytest.raises(ValueError, match="t"):
        water_fill(np.ones(9) / 9, P)


@given(seed=st.integers(0, 10**6), objective=st.sampled_from(OBJECTIVES))
def test_T5_certified_bounds_bracket_every_primal_and_dual_value(seed, objective):
    # Weak duality: d(λ) ≤ V* ≤ max_k L_k(q) for every λ ∈ Δ_K and every q ∈ M.
    D, P = _instance(seed, K=3, n=10, domains="zeros", experts="zeros")
    res = robust_gate(D, P, objective=objective)
    rng = np.random.default_rng(seed)
    c = objective_offsets(D, P, objective)
    for lam in rng.dirichlet(np.ones(3), size=4):
        assert dual_function(D, P, lam, objective)[0] <= res.upper + 1e-12
        q = fixed_mixture(D, P, lam).model
        assert _losses(D, q, c).max() >= res.lower - 1e-12
