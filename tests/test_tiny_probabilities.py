"""Probabilities down to the smallest subnormal (5e-324): valid input that the solvers must handle.

The family: K ∈ [2, 5], n ∈ [3, 40], 40 % of the entries of D and P replaced
by 10^-u, u ∈ [150, 323.3] (a fifth of them by 5e-324). Logs reach −744,
ratios overflow and water levels reach 1e258.
"""

import numpy as np
import pytest

from sims.adversarial import tiny_probabilities
from theory.minimax import dual_function, robust_gate
from theory.mixtures import Box, L1Ball

COUNT = 96


def _family(seed: int):
    rng = np.random.default_rng(seed)
    for _ in range(COUNT):
        K = int(rng.integers(2, 6))
        n = int(rng.integers(3, 41))
        yield tiny_probabilities(rng, K, n)


def test_T5_dual_solver_converges_on_every_tiny_probability_instance():
    gaps = []
    for D, P in _family(0):
        res = robust_gate(D, P)
        assert res.converged, (D, P)
        assert np.isfinite(res.lower) and np.isfinite(res.upper)
        gaps.append(res.gap)
        # The certificate is recomputed independently: d at the returned λ and the
        # worst case of the returned model.
        d = dual_function(D, P, res.lam)[0]
        assert d == pytest.approx(res.lower, rel=1e-12, abs=1e-12)
        assert np.max(res.per_domain) == pytest.approx(res.upper, rel=1e-12, abs=1e-12)
    assert len(gaps) == COUNT and max(gaps) <= 1e-9


@pytest.mark.parametrize("family", ["box", "l1"])
def test_T7_dual_solver_converges_with_prior_knowledge_on_tiny_probabilities(family):
    for D, P in _family(1):
        K = D.shape[0]
        Lam = Box([0.05] * K, [0.8] * K) if family == "box" else L1Ball(np.full(K, 1 / K), 0.7)
        res = robust_gate(D, P, mixtures=Lam)
        assert res.converged and res.gap <= 1e-9
        assert Lam.contains(res.lam)


def test_T5_conic_reference_never_claims_convergence_outside_its_certificate():
    """The cvxpy reference checks its own answer: converged=True only with value in [lower, upper]."""
    for D, P in list(_family(2))[:48]:
        res = robust_gate(D, P, method="cvxpy")
        assert np.isfinite(res.lower) and res.lower <= res.upper
        if res.converged:
            slack = 1e-6 * max(1.0, abs(res.upper))
            assert res.lower - slack <= res.value <= res.upper + slack
            assert res.gap <= slack
        exact = robust_gate(D, P)
        # Both certificates bracket the same V*.
        assert res.lower <= exact.upper + 1e-9 and exact.lower <= res.upper + 1e-9
