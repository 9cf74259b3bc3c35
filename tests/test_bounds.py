"""T11 bounds: hand-derived values, the skewness inequality, Monte Carlo validity of the
Hoeffding term and of the tabular complexity, and input validation."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from theory import bounds


@st.composite
def mixtures_and_sizes(draw):
    K = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    lam = rng.dirichlet(np.full(K, draw(st.sampled_from([0.2, 1.0, 5.0]))))
    m = rng.integers(1, 1000, size=K)
    return lam, m


def test_T11_skewness_hand_values():
    assert bounds.skewness([0.5, 0.5], [10, 10]) == pytest.approx(1.0, abs=1e-15)
    # λ = (1, 0), m̄ = (1/2, 1/2): s = 1 / (1/2) = 2.
    assert bounds.skewness([1.0, 0.0], [7, 7]) == pytest.approx(2.0, abs=1e-15)
    # λ = (0.5, 0.5), m̄ = (0.8, 0.2): s = 0.25/0.8 + 0.25/0.2 = 1.5625.
    assert bounds.skewness([0.5, 0.5], [80, 20]) == pytest.approx(1.5625, abs=1e-14)


@given(mixtures_and_sizes())
def test_T11_skewness_is_at_least_one_with_equality_at_the_sample_proportions(case):
    lam, m = case
    assert bounds.skewness(lam, m) >= 1.0 - 1e-12
    assert bounds.skewness(m / m.sum(), m) == pytest.approx(1.0, abs=1e-12)


def test_T11_rademacher_softmax_linear_hand_value():
    # 2√2 · B R · sqrt(K s / m) with B = R = 1, K = 2, s = 1, m = 100: 2√2 · sqrt(0.02) = 0.4.
    assert bounds.rademacher_softmax_linear(1.0, 1.0, 2, [0.5, 0.5], [50, 50]) == pytest.approx(
        0.4, rel=1e-14
    )
    # It scales linearly in B R and like m^{-1/2}.
    r1 = bounds.rademacher_softmax_linear(3.0, 2.0, 4, [0.1, 0.2, 0.3, 0.4], [10, 20, 30, 40])
    r2 = bounds.rademacher_softmax_linear(1.0, 1.0, 4, [0.1, 0.2, 0.3, 0.4], [40, 80, 120, 160])
    assert r1 == pytest.approx(6.0 * 2.0 * r2, rel=1e-13)


def test_T11_generalization_bound_hand_values():
    # 1 + 2·0.1 + 2·sqrt(1 · 1 / (2 · 200)) = 1.3 with δ = e^{-1}.
    value = bounds.generalization_bound(1.0, [1.0], [200], 2.0, math.exp(-1.0), 0.1)
    assert value == pytest.approx(1.3, rel=1e-14)
    # Uniform over Λ with K = 2, ε = 0.5: N = 3/0.5 = 6, so log(6/δ), plus 2Mε = 2.
    uniform = bounds.uniform_generalization_bound(1.0, [0.5, 0.5], [100, 100], 2.0, 0.1, 0.0, 0.5)
    expected = 1.0 + 2.0 * math.sqrt(math.log(60.0) / 400.0) + 2.0
    assert uniform == pytest.approx(expected, rel=1e-14)
    assert bounds.net_size(0.5, 3) == pytest.approx(36.0)


def test_T11_loss_range_is_the_largest_minus_log_of_the_lower_envelope():
    P = np.array([[0.5, 0.5], [0.9, 0.1]])
    assert bounds.loss_range(P) == pytest.approx(math.log(10.0), rel=1e-15)
    with pytest.raises(ValueError, match="^P:"):
        bounds.loss_range([[1.0, 0.0], [0.5, 0.5]])


def test_T11_hoeffding_term_holds_for_a_fixed_loss_by_simulation():
    # One fixed model: f(x) ∈ [0, M]. The gap L − L̂ must exceed M sqrt(s log(1/δ)/(2m))
    # with probability ≤ δ; 20000 draws give a standard error of about 0.0015.
    rng = np.random.default_rng(0)
    K, n = 3, 12
    D = rng.dirichlet(np.ones(n), size=K)
    f = rng.uniform(0.0, 4.0, size=n)
    f[[0, 1]] = [0.0, 4.0]
    lam, m, delta = np.array([0.6, 0.3, 0.1]), np.array([20, 50, 30]), 0.1
    draws = 20000
    w_hat = sum((lam[k] / m[k]) * rng.multinomial(m[k], D[k], size=draws) for k in range(K))
    gap = (lam @ D - w_hat) @ f
    slack = bounds.generalization_bound(0.0, lam, m, 4.0, delta, 0.0)
    assert (gap > slack).mean() <= delta


def test_T11_tabular_rademacher_bound_dominates_its_monte_carlo_value():
    # R = E sup_{a ∈ [0,M]^n} Σ_y a_y S_y = M Σ_y E[S_y]_+ (the sup is attained coordinatewise).
    rng = np.random.default_rng(1)
    K, n, M = 2, 30, 3.0
    D = rng.dirichlet(np.ones(n), size=K)
    lam, m = np.array([0.7, 0.3]), np.array([40, 60])
    values = []
    for _ in range(2000):
        S = np.zeros(n)
        for k in range(K):
            x = rng.choice(n, size=m[k], p=D[k])
            sigma = rng.choice([-1.0, 1.0], size=m[k])
            S += (lam[k] / m[k]) * np.bincount(x, weights=sigma, minlength=n)
        values.append(M * np.maximum(S, 0.0).sum())
    estimate = float(np.mean(values))
    bound = bounds.rademacher_tabular(M, n, lam, m)
    assert estimate <= bound
    # Cauchy–Schwarz is the only loose step, so the bound is within a small factor.
    assert bound <= 3.0 * estimate


def test_T11_tabular_rademacher_hand_value():
    # (M/2) sqrt(n s / m) with M = 2, n = 25, s = 1, m = 100: sqrt(0.25) = 0.5.
    assert bounds.rademacher_tabular(2.0, 25, [0.5, 0.5], [50, 50]) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: bounds.skewness([0.5, 0.6], [1, 1]), "lam"),
        (lambda: bounds.skewness([0.5, 0.5], [1, 1, 1]), "m"),
        (lambda: bounds.skewness([0.5, 0.5], [1, 0]), "m"),
        (lambda: bounds.skewness([0.5, 0.5], [1, np.inf]), "m"),
        (lambda: bounds.rademacher_softmax_linear(-1, 1, 2, [0.5, 0.5], [1, 1]), "B"),
        (lambda: bounds.rademacher_softmax_linear(1, np.nan, 2, [0.5, 0.5], [1, 1]), "R"),
        (lambda: bounds.rademacher_softmax_linear(1, 1, 0, [1.0], [1]), "K"),
        (lambda: bounds.rademacher_softmax_linear(1, 1, 3, [0.5, 0.5], [1, 1]), "lam"),
        (lambda: bounds.rademacher_tabular(1, 0, [1.0], [5]), "n"),
        (lambda: bounds.generalization_bound(0.0, [1.0], [5], 1.0, 1.0, 0.0), "delta"),
        (lambda: bounds.generalization_bound(0.0, [1.0], [5], 1.0, 0.0, 0.0), "delta"),
        (lambda: bounds.generalization_bound(np.nan, [1.0], [5], 1.0, 0.1, 0.0), "emp_risk"),
        (lambda: bounds.generalization_bound(0.0, [1.0], [5], -1.0, 0.1, 0.0), "M"),
        (lambda: bounds.generalization_bound(0.0, [1.0], [5], 1.0, 0.1, -0.1), "rademacher"),
        (lambda: bounds.uniform_generalization_bound(0, [1.0], [5], 1, 0.1, 0, 0), "epsilon"),
        (lambda: bounds.net_size(0.1, 0), "K"),
    ],
)
def test_T11_bounds_reject_bad_input_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=rf"^{name}:"):
        call()
