"""T11 measured: weighted empirical laws, the exact uniform gap of the tabular class,
the violation rate of the bound, the m^{-1/2} rate and input validation."""

import numpy as np
import pytest
from scipy.optimize import minimize

from sims.domains import dirichlet_domains
from sims.experts import tabular_experts
from sims.generalization import (
    _tabular_sup,
    generalization_gaps,
    log_log_slope,
    tabular_sup,
    weighted_counts,
)
from tests import reference as ref


def _setup(n=30, seed=0):
    D = dirichlet_domains(3, n, 1.0, seed=seed)
    return D, tabular_experts(D, 300, seed=seed + 1)


def test_T11_weighted_counts_are_unbiased_with_the_multinomial_variance():
    D, _ = _setup(n=6)
    lam, sizes = np.array([0.5, 0.3, 0.2]), np.array([10, 40, 25])
    w = weighted_counts(D, lam, sizes, 20000, seed=1)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
    variance = sum(lam[k] ** 2 / sizes[k] * D[k] * (1 - D[k]) for k in range(3))
    assert np.all(np.abs(w.mean(axis=0) - lam @ D) <= 5 * np.sqrt(variance / 20000))
    # Rare points have heavy-tailed sample variances: compare on the scale of the largest.
    np.testing.assert_allclose(w.var(axis=0), variance, rtol=0.05, atol=0.02 * variance.max())


def test_T11_tabular_uniform_gap_is_the_exact_supremum_over_the_class():
    rng = np.random.default_rng(2)
    n, eps = 8, 0.01
    for _ in range(5):
        v = rng.dirichlet(np.ones(n)) - rng.dirichlet(np.ones(n))
        value = _tabular_sup(v[None, :], eps)[0]
        # Independent: SLSQP from many starts over {q ≥ ε, Σq = 1} never beats it ...
        best = -np.inf
        for _ in range(20):
            q0 = rng.dirichlet(np.ones(n)) * (1 - n * eps) + eps
            res = minimize(
                lambda q, v=v: (v * np.log(q)).sum(),
                q0,
                method="SLSQP",
                bounds=[(eps, 1.0)] * n,
                constraints=[{"type": "eq", "fun": lambda q: q.sum() - 1.0}],
            )
            best = max(best, -res.fun)
        assert best <= value + 1e-6
        # ... and reaches it up to the solver's accuracy; random feasible points stay below.
        assert best >= value - 1e-4
        Q = rng.dirichlet(np.ones(n), size=2000) * (1 - n * eps) + eps
        assert (-(v * np.log(Q)).sum(axis=1)).max() <= value + 1e-12


def test_T11_violation_rate_is_at_most_delta_and_sup_dominates_the_trained_gate():
    D, P = _setup()
    study = generalization_gaps(
        D, P, [0.2, 0.3, 0.5], [30, 300], mbar=[0.6, 0.3, 0.1], draws=200, delta=0.05, seed=3
    )
    assert study.gate_gap.shape == (2, 200) and study.tab_sup.shape == (2, 200)
    assert np.all(study.gate_violation <= 0.05) and np.all(study.tab_violation <= 0.05)
    # The ascent starts from the trained gate, so the uniform estimate is at least its gap.
    assert np.all(study.gate_sup >= study.gate_gap - 1e-12)
    assert np.all(study.tab_sup >= study.tab_gap - 1e-12)
    # The bound with empirical risk 0 is the pure slack, which grows with the skewness.
    assert study.skewness[0] > 1.0
    np.testing.assert_array_equal(study.sizes[1], [180, 90, 30])


def test_T11_uniform_gap_of_the_gate_shrinks_like_m_to_the_minus_half():
    D, P = _setup(seed=4)
    study = generalization_gaps(
        D, P, np.ones(3) / 3, [100, 1000, 10000], draws=100, train_steps=60, sup_steps=60, seed=5
    )
    slope = log_log_slope(study.m, study.gate_sup.mean(axis=1))
    assert -0.65 <= slope <= -0.35


def test_T11_gate_generalizes_better_than_a_tabular_model_on_a_large_set():
    # The gate's complexity does not depend on n; the tabular class's grows like sqrt(n/m).
    D, P = _setup(n=300, seed=6)
    study = generalization_gaps(
        D, P, np.ones(3) / 3, [100], draws=50, train_steps=60, sup_steps=40, seed=7
    )
    assert study.gate_sup.mean() < 0.5 * study.tab_sup.mean()
    assert study.gate_gap.mean() < study.tab_gap.mean()


def test_T11_log_log_slope_recovers_a_power_law():
    x = np.array([1.0, 10.0, 100.0])
    assert log_log_slope(x, 3.0 * x**-0.5) == pytest.approx(-0.5, abs=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"lam": [0.5, 0.5]}, "lam"),
        ({"m": [10.5]}, "m"),
        ({"m": [2]}, "m"),
        ({"m": []}, "m"),
        ({"mbar": [1.0, 0.0, 0.0]}, "mbar"),
        ({"draws": 0}, "draws"),
        ({"delta": 1.5}, "delta"),
        ({"radius": 0.0}, "radius"),
        ({"beta": -1.0}, "beta"),
        ({"P": np.full((3, 5), 0.2)}, "P"),
    ],
)
def test_T11_generalization_gaps_reject_bad_input_naming_the_argument(kwargs, name):
    D, P = _setup(n=10)
    args = {"D": D, "P": P, "lam": np.ones(3) / 3, "m": [30], "draws": 2} | kwargs
    with pytest.raises(ValueError, match=rf"^{name}:"):
        generalization_gaps(**args)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: weighted_counts([[0.5, 0.6]], [1.0], [3], 2), "D"),
        (lambda: weighted_counts([[0.5, 0.5]], [0.5, 0.5], [3], 2), "lam"),
        (lambda: weighted_counts([[0.5, 0.5]], [1.0], [0], 2), "sizes"),
        (lambda: weighted_counts([[0.5, 0.5]], [1.0], [3], 0), "draws"),
        (lambda: log_log_slope([1.0, 2.0], [1.0, 0.0]), "y"),
        (lambda: log_log_slope([1.0], [1.0]), "x"),
        (lambda: log_log_slope([1.0, 2.0, 3.0], [1.0, 2.0]), "y"),
    ],
)
def test_T11_helpers_reject_bad_input_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=rf"^{name}:"):
        call()


@pytest.mark.parametrize("a, eps", [(0.3, 0.1), (0.05, 0.5), (0.7, 1e-6)])
def test_tabular_sup_on_two_points_is_the_closed_form(a, eps):
    # v = (a, −a): all the mass the floor allows goes to the second point
    want = a * -np.log(eps) - a * -np.log(1 - eps)
    assert tabular_sup([a, -a], eps) == pytest.approx(want, rel=1e-12)
    rows = tabular_sup(np.array([[a, -a], [-a, a]]), eps)
    assert rows.shape == (2,) and np.allclose(rows, want, rtol=1e-12)


@pytest.mark.parametrize(
    "v, eps, name",
    [
        ([0.1, np.nan], 0.1, "v"),
        ([], 0.1, "v"),
        ([[[0.1]]], 0.1, "v"),
        ([0.1, -0.1], 0.0, "eps"),
        ([0.1, -0.1], 0.6, "eps"),
        ([0.1, -0.1], np.inf, "eps"),
    ],
)
def test_tabular_sup_refuses_bad_input(v, eps, name):
    with pytest.raises(ValueError, match=name):
        tabular_sup(v, eps)


def test_T11_training_and_ascent_follow_the_textbook_formulas():
    # The in-place, matrix-product loops against the plain formulas of
    # tests/reference.py (einsum, softmax over K, the ball projection), on
    # random draws, including starts on the sphere ‖W‖ = B, a tiny B, and a B so
    # large that the logits leave the range of exp (the softmax needs its shift).
    from sims.generalization import _ascend_gap, _train_gates
    from sims.primal_dual import loglik_features

    D = dirichlet_domains(3, 15, 1.0, seed=71)
    P = tabular_experts(D, 200, seed=72)
    Phi, _ = loglik_features(P)
    rng = np.random.default_rng(73)
    w_hat = rng.dirichlet(np.ones(15), size=6)
    v = D.mean(axis=0)[None, :] - w_hat
    for B in (10.0, 0.05, 2000.0):
        W = _train_gates(w_hat, Phi, P, B, 40, 0.5)
        np.testing.assert_allclose(W, ref.train_gates(w_hat, Phi, P, B, 40, 0.5), atol=1e-10)
        assert np.linalg.norm(W, axis=(1, 2)).max() <= B * (1 + 1e-12)
        start = rng.normal(size=W.shape)
        start *= B / np.linalg.norm(start, axis=(1, 2), keepdims=True)
        for W0 in (np.zeros_like(W), start, W):
            got = _ascend_gap(v, W0, Phi, P, B, 30, 0.5)
            np.testing.assert_allclose(got, ref.ascend_gap(v, W0, Phi, P, B, 30, 0.5), atol=1e-11)
    # Training moved the gates: the comparison is not between two zero arrays.
    assert np.abs(_train_gates(w_hat, Phi, P, 10.0, 40, 0.5)).max() > 0.1
