"""The error contract of API.md: every bad input raises ValueError naming the argument."""

import numpy as np
import pytest

from theory import divergences as dv
from theory.gates import envelope, gate_for, model
from theory.validation import InfeasibleError, check_feasible, check_stack

GOOD = np.array([[0.5, 0.5], [0.2, 0.8]])

BAD_STACKS = [
    (np.array([0.5, 0.5]), "D: expected a 2-D"),
    (np.zeros((0, 3)), "D: expected a non-empty"),
    (np.array([[0.5, np.nan], [0.5, 0.5]]), "D: contains NaN or inf"),
    (np.array([[0.5, np.inf], [0.5, 0.5]]), "D: contains NaN or inf"),
    (np.array([[1.5, -0.5], [0.5, 0.5]]), "D: entries must be non-negative"),
    (np.array([[0.5, 0.4], [0.5, 0.5]]), "D: every row must sum to 1.*row 0"),
    ([["a", "b"]], "D: expected an array of real numbers"),
]


@pytest.mark.parametrize(("D", "message"), BAD_STACKS)
def test_bad_stacks_raise_naming_D(D, message):
    with pytest.raises(ValueError, match=message):
        dv.kl_rows(D, [0.5, 0.5])
    with pytest.raises(ValueError, match=message):
        dv.jsd([0.5, 0.5], D)


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ([0.5, 0.6], "q: must sum to 1"),
        ([1.5, -0.5], "q: entries must be non-negative"),
        ([0.5, np.nan], "q: contains NaN"),
        ([[0.5, 0.5]], "q: expected a 1-D"),
        ([1.0], "D and q must have the same length"),
    ],
)
def test_bad_distributions_raise_naming_q(q, message):
    with pytest.raises(ValueError, match=message):
        dv.kl_rows(GOOD, q)


def test_weights_are_checked():
    with pytest.raises(ValueError, match="lam: expected 2 weights"):
        dv.jsd([1.0], GOOD)
    with pytest.raises(ValueError, match="lam: must sum to 1"):
        dv.mixture([0.5, 0.6], GOOD)
    with pytest.raises(ValueError, match="p and q must have the same length"):
        dv.kl([1.0], [0.5, 0.5])


def test_normalize_is_explicit_never_silent():
    with pytest.raises(ValueError, match="row 0 sums to 4.0"):
        check_stack([[2.0, 2.0]], "D")
    np.testing.assert_allclose(check_stack([[2.0, 2.0]], "D", normalize=True), [[0.5, 0.5]])
    with pytest.raises(ValueError, match="cannot normalize row 0"):
        check_stack([[0.0, 0.0]], "D", normalize=True)


def test_infinite_objective_names_the_domain_and_an_index():
    D = np.array([[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]])
    P = np.array([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0]])
    with pytest.raises(InfeasibleError, match=r"domain D_2 \(row 1\) .* index 2"):
        check_feasible(D, P)
    check_feasible(D, P, active=[True, False])
    assert issubclass(InfeasibleError, ValueError)


def test_gate_functions_validate_P():
    with pytest.raises(ValueError, match="P: every row must sum to 1"):
        envelope([[0.5, 0.6]])
    with pytest.raises(ValueError, match="q: expected length"):
        gate_for([1.0], GOOD)
    with pytest.raises(ValueError, match="P: expected 2 columns|gate: expected shape"):
        model(np.ones((2, 3)) / 2, GOOD)
