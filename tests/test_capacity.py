"""Blahut–Arimoto with a certified sandwich (T6) against dit, cvxpy and closed forms."""

import cvxpy as cp
import numpy as np
import pytest
from dit.algorithms import channel_capacity
from hypothesis import given
from hypothesis import strategies as st

from tests import reference as ref
from theory.capacity import blahut_arimoto


def _channel(seed, K, n, kind="random"):
    rng = np.random.default_rng(seed)
    D = rng.dirichlet(np.full(n, 0.5), size=K)
    if kind == "zeros":
        D *= rng.random((K, n)) < 0.4
        D[np.arange(K), rng.integers(0, n, K)] += 0.05
    elif kind == "dominated":
        # The last input is a mixture of the others: it gets weight 0 in λ*.
        D[-1] = D[:-1].mean(axis=0)
    return D / D.sum(axis=1, keepdims=True)


def _cvxpy_capacity(D):
    """C(D) = min_q max_k KL(D_k‖q) (redundancy–capacity), written from its definition."""
    K, n = D.shape
    q = cp.Variable(n)
    s = cp.Variable()
    cons = [cp.sum(q) == 1, q >= 0]
    for k in range(K):
        on = D[k] > 0
        cons.append(-(D[k, on] @ cp.log(q[np.flatnonzero(on)])) - ref.entropy(D[k]) <= s)
    prob = cp.Problem(cp.Minimize(s), cons)
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-11, tol_gap_rel=1e-11, tol_feas=1e-11)
    return float(prob.value)


@pytest.mark.parametrize("seed", range(6))
def test_T6_capacity_matches_dit_in_nats(seed):
    kind = ("random", "zeros", "dominated")[seed % 3]
    D = _channel(seed, K=2 + seed, n=40, kind=kind)
    res = blahut_arimoto(D, tol=1e-12)
    bits, prior = channel_capacity(D, rtol=1e-14, atol=1e-14)
    assert res.converged and res.upper - res.lower <= 1e-12
    assert res.capacity == pytest.approx(bits * np.log(2.0), abs=1e-9)
    # dit's input law achieves the capacity too: JSD at it equals C.
    assert ref.jsd(prior, D) == pytest.approx(res.capacity, abs=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_T6_capacity_matches_cvxpy_redundancy_form(seed):
    D = _channel(100 + seed, K=3 + seed, n=30, kind=("random", "zeros")[seed % 2])
    res = blahut_arimoto(D)
    assert res.capacity == pytest.approx(_cvxpy_capacity(D), abs=1e-8)


@pytest.mark.parametrize("seed", range(4))
def test_T6_sandwich_holds_at_every_iterate(seed):
    D = _channel(200 + seed, K=5, n=50, kind=("random", "zeros", "dominated")[seed % 3])
    C = blahut_arimoto(D, tol=1e-13).capacity
    rows = []

    def record(i, r, lower, upper):
        rows.append((r, lower, upper))

    res = blahut_arimoto(D, tol=1e-12, callback=record)
    assert len(rows) == res.iterations + 1
    for r, lower, upper in rows:
        kappa = ref.kl_rows(D, r @ D)
        on = r > 0
        # Each iterate's own bounds, recomputed from r with scipy's divergences.
        assert lower == pytest.approx(np.log(np.sum(r[on] * np.exp(kappa[on]))), abs=1e-12)
        assert upper == pytest.approx(kappa.max(), abs=1e-12)
        assert lower <= C + 1e-13 and C <= upper + 1e-13
    np.testing.assert_array_equal(res.history, [(lo, up) for _, lo, up in rows])


def test_T6_output_law_is_certified_by_the_gap():
    D = _channel(7, K=6, n=80)
    res = blahut_arimoto(D, tol=1e-6, max_iter=3)
    exact = blahut_arimoto(D, tol=1e-13)
    # KL(q*‖D_r) ≤ max_k KL(D_k‖D_r) − C for the reported output law.
    assert (
        ref.kl(exact.output, res.output) <= ref.kl_rows(D, res.output).max() - exact.lower + 1e-12
    )


def test_T6_closed_forms_disjoint_identical_and_single_input():
    rng = np.random.default_rng(0)
    labels = np.arange(30) % 4
    disjoint = rng.random((4, 30)) * (labels[None, :] == np.arange(4)[:, None])
    disjoint /= disjoint.sum(axis=1, keepdims=True)
    res = blahut_arimoto(disjoint)
    assert res.capacity == pytest.approx(np.log(4), abs=1e-12)
    np.testing.assert_allclose(res.prior, 0.25, atol=1e-9)
    same = np.repeat(rng.dirichlet(np.ones(20))[None, :], 3, axis=0)
    assert blahut_arimoto(same).capacity == pytest.approx(0.0, abs=1e-12)
    assert blahut_arimoto(same[:1]).capacity == 0.0
    # Binary symmetric channel: C = log 2 − H(ε).
    eps = 0.11
    bsc = np.array([[1 - eps, eps], [eps, 1 - eps]])
    h = -(eps * np.log(eps) + (1 - eps) * np.log(1 - eps))
    assert blahut_arimoto(bsc).capacity == pytest.approx(np.log(2) - h, abs=1e-12)


def test_T6_dominated_input_gets_no_weight():
    D = _channel(3, K=4, n=25, kind="dominated")
    res = blahut_arimoto(D)
    assert res.prior[-1] <= 1e-6
    assert ref.jsd(res.prior, D) == pytest.approx(res.capacity, abs=1e-9)


@given(seed=st.integers(0, 10**6), K=st.integers(2, 6), n=st.integers(2, 30))
def test_T6_capacity_bounds_and_certificate(seed, K, n):
    D = _channel(seed, K, n, kind="zeros")
    res = blahut_arimoto(D)
    # Both bounds are computed in floating point: they may cross by a few ulps.
    assert 0.0 <= res.lower <= res.upper + 1e-14 and res.upper <= np.log(K) + 1e-12
    assert ref.jsd(res.prior, D) <= res.upper + 1e-12
    assert ref.kl_rows(D, res.output).max() >= res.lower - 1e-12
    # The certificate closes to the tolerance, or the result says it ran out of steps.
    if res.converged:
        assert res.upper - res.lower <= 1e-12
    else:
        assert res.iterations == 10_000 and res.upper - res.lower > 1e-12


def test_T6_slow_instance_reports_its_budget_then_converges_with_more_steps():
    # Found by hypothesis: three of six inputs are driven to weight ~1e-305, which
    # Blahut–Arimoto approaches only sublinearly (28,000 steps to a 1e-12 gap).
    D = _channel(475712, 6, 3, kind="zeros")
    res = blahut_arimoto(D)
    assert not res.converged and res.iterations == 10_000
    assert 0.0 < res.upper - res.lower < 1e-7
    more = blahut_arimoto(D, max_iter=100_000)
    assert more.converged and more.upper - more.lower <= 1e-12
    assert res.lower - 1e-12 <= more.capacity <= res.upper + 1e-12


def test_early_stop_returns_bounds_and_no_nan():
    D = _channel(5, K=8, n=200, kind="dominated")
    exact = blahut_arimoto(D, tol=1e-13).capacity
    for max_iter in (0, 1, 2):
        res = blahut_arimoto(D, tol=1e-15, max_iter=max_iter)
        assert not res.converged
        assert res.iterations <= max_iter
        assert np.isfinite(res.lower) and np.isfinite(res.upper) and np.isfinite(res.capacity)
        assert res.lower <= exact + 1e-13 and exact <= res.upper + 1e-13
        assert not np.any(np.isnan(res.prior)) and not np.any(np.isnan(res.output))


def test_bad_inputs_raise_value_error_naming_the_argument():
    D = _channel(0, K=3, n=10)
    with pytest.raises(ValueError, match="D"):
        blahut_arimoto(D * 2)
    with pytest.raises(ValueError, match="D"):
        blahut_arimoto(D[0])
    with pytest.raises(ValueError, match="tol"):
        blahut_arimoto(D, tol=0.0)
    with pytest.raises(ValueError, match="max_iter"):
        blahut_arimoto(D, max_iter=-1)
    bad = D.copy()
    bad[1, 2] = np.inf
    with pytest.raises(ValueError, match="D"):
        blahut_arimoto(bad)
