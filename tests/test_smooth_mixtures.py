"""The robust gate over smooth sets Λ (KL and ℓ2 balls) and large polytopes (T5, T7).

Λ is reached only through its linear oracle (dual method) or its conic support
function (cvxpy method): the two methods are independent, and must agree.
"""

import numpy as np
import pytest

from sims.domains import dirichlet_domains, noisy_experts
from theory.minimax import dual_function, robust_gate
from theory.mixtures import Box, KLBall, L1Ball, L2Ball


def _instance(seed: int):
    rng = np.random.default_rng(1000 + seed)
    K = int(rng.integers(2, 13))
    n = int(rng.integers(5, 50))
    D = dirichlet_domains(K, n, separation=1.0, seed=seed)
    P = noisy_experts(D, noise=0.3, seed=seed + 1)
    return rng, D, P


@pytest.mark.parametrize("family", ["kl", "l2"])
def test_T7_dual_equals_conic_reference_on_smooth_sets(family):
    for seed in range(30):
        rng, D, P = _instance(seed)
        K = D.shape[0]
        center = rng.dirichlet(np.ones(K))
        if family == "kl":
            Lam = KLBall(center, float(rng.uniform(0.05, 1.0)))
        else:
            Lam = L2Ball(center, float(rng.uniform(0.05, 0.6)))
        dual = robust_gate(D, P, mixtures=Lam)
        conic = robust_gate(D, P, mixtures=Lam, method="cvxpy")
        assert dual.converged and dual.gap <= 1e-9
        assert conic.converged
        assert dual.value == pytest.approx(conic.value, abs=1e-7)
        assert Lam.contains(dual.lam, tol=1e-9)


@pytest.mark.parametrize("family", ["kl", "l2"])
def test_T7_value_grows_with_the_radius_from_d_center_to_the_simplex(family):
    _, D, P = _instance(3)
    K = D.shape[0]
    center = np.full(K, 1.0 / K)
    ball = KLBall if family == "kl" else L2Ball
    # Radius 0 is {center}: V* = d(center). Beyond −log min center (KL) or √2 (ℓ2)
    # the ball is all of Δ_K.
    assert robust_gate(D, P, mixtures=ball(center, 0.0)).value == pytest.approx(
        dual_function(D, P, center)[0], abs=1e-9
    )
    big = np.log(K) + 1.0 if family == "kl" else 1.5
    full = robust_gate(D, P).value
    assert robust_gate(D, P, mixtures=ball(center, big)).value == pytest.approx(full, abs=1e-9)
    radii = np.linspace(0.0, big, 9)
    values = [robust_gate(D, P, mixtures=ball(center, r)).value for r in radii]
    assert all(a <= b + 1e-9 for a, b in zip(values, values[1:], strict=False))
    assert values[0] < values[-1]


@pytest.mark.parametrize("family", ["box", "l1"])
def test_T7_conic_reference_scales_with_K_not_with_the_vertices(family):
    """K = 16: a Box or an ℓ1 ball has thousands of vertices; the conic form has O(K) constraints."""
    D = dirichlet_domains(16, 200, separation=1.0, seed=3)
    P = noisy_experts(D, noise=0.3, seed=4)
    if family == "box":
        Lam = Box([0.01] * 16, [0.2] * 16)
    else:
        Lam = L1Ball(np.full(16, 1 / 16), 0.8)
    conic = robust_gate(D, P, mixtures=Lam, method="cvxpy")
    dual = robust_gate(D, P, mixtures=Lam)
    assert conic.converged and dual.converged
    assert conic.value == pytest.approx(dual.value, abs=1e-6)
