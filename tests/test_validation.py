"""The error contract of the package: every bad input raises ValueError naming the argument."""

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


# -- fused validation: the checks made in the computing pass ---------------------
#
# Entries are dyadic (1/n with n a power of 2), so every partial sum is exact and
# the row sum in a message is the same whichever pass, split or order computed it.

from contextlib import contextmanager  # noqa: E402

from theory import _kernels  # noqa: E402
from theory.minimax import dual_function, fixed_mixture, robust_gate, water_fill  # noqa: E402
from theory.validation import check_distribution  # noqa: E402

DEFECTS = {
    "nan": (np.nan, "{name}: contains NaN or inf (first at index {index})"),
    "inf": (np.inf, "{name}: contains NaN or inf (first at index {index})"),
    "-inf": (-np.inf, "{name}: contains NaN or inf (first at index {index})"),
    "negative": (-0.25, "{name}: entries must be non-negative, found -0.25 at index {index}"),
}


@contextmanager
def _policy(split: bool):
    saved = _kernels.SERIAL_BELOW
    _kernels.SERIAL_BELOW = 0 if split else saved
    try:
        yield
    finally:
        _kernels.SERIAL_BELOW = saved


def _uniform(K, n):
    return np.full((K, n), 1.0 / n)


# Each public function that validates in its computing pass: (call, argument names).
def _calls(K, n):
    lam = np.full(K, 1.0 / K)
    return {
        "entropy": (lambda a: dv.entropy(a["p"]), {"p": 1}),
        "cross_entropy": (lambda a: dv.cross_entropy(a["p"], a["q"]), {"p": 1, "q": 1}),
        "kl": (lambda a: dv.kl(a["p"], a["q"]), {"p": 1, "q": 1}),
        "kl_rows": (lambda a: dv.kl_rows(a["D"], a["q"]), {"D": 2, "q": 1}),
        "cross_entropy_rows": (lambda a: dv.cross_entropy_rows(a["D"], a["q"]), {"D": 2, "q": 1}),
        "entropy_rows": (lambda a: dv.entropy_rows(a["D"]), {"D": 2}),
        "jsd": (lambda a: dv.jsd(lam, a["D"]), {"D": 2}),
        "mixture": (lambda a: dv.mixture(lam, a["D"]), {"D": 2}),
        "gate_for": (lambda a: gate_for(a["q"], a["P"]), {"P": 2, "q": 1}),
        "robust_gate": (lambda a: robust_gate(_uniform(K, n), a["P"]), {"P": 2}),
        "water_fill": (lambda a: water_fill(np.full(n, 1.0 / n), a["P"]), {"P": 2}),
        "fixed_mixture": (lambda a: fixed_mixture(_uniform(K, n), a["P"], lam), {"P": 2}),
        "dual_function": (lambda a: dual_function(_uniform(K, n), a["P"], lam), {"P": 2}),
    }


def _good(names, K, n):
    return {
        name: (_uniform(K, n) if nd == 2 else np.full(n, 1.0 / n)) for name, nd in names.items()
    }


SIZES = pytest.mark.parametrize(
    ("K", "n", "split"),
    [(3, 8, False), (3, 8, True), (3, 1 << 15, False), (3, 1 << 15, True)],
    ids=["small-serial", "small-split", "large-serial", "large-split"],
)


@SIZES
@pytest.mark.parametrize("defect", list(DEFECTS))
@pytest.mark.parametrize("func", list(_calls(2, 2)))
def test_fused_checks_report_bad_entries_exactly(func, defect, K, n, split):
    call, names = _calls(K, n)[func]
    value, template = DEFECTS[defect]
    for name, nd in names.items():
        args = _good(names, K, n)
        index = (K - 1, n - 3) if nd == 2 else (n - 3,)
        args[name][index] = value
        unfused = check_stack if nd == 2 else check_distribution
        expected = template.format(name=name, index=index)
        with pytest.raises(ValueError) as before:
            unfused(args[name], name)
        assert str(before.value) == expected
        with _policy(split), pytest.raises(ValueError) as fused:
            call(args)
        assert str(fused.value) == expected


@SIZES
@pytest.mark.parametrize("func", list(_calls(2, 2)))
def test_fused_checks_report_a_bad_sum_exactly(func, K, n, split):
    call, names = _calls(K, n)[func]
    for name, nd in names.items():
        args = _good(names, K, n)
        if nd == 2:
            args[name][1] *= 1.5
            expected = f"{name}: every row must sum to 1 (tolerance 1e-09); row 1 sums to 1.5"
        else:
            args[name] *= 0.75
            expected = f"{name}: must sum to 1 (tolerance 1e-09), sums to 0.75"
        unfused = check_stack if nd == 2 else check_distribution
        with pytest.raises(ValueError) as before:
            unfused(args[name], name)
        assert str(before.value) == expected
        with _policy(split), pytest.raises(ValueError) as fused:
            call(args)
        assert str(fused.value) == expected


@pytest.mark.parametrize("split", [False, True], ids=["serial", "split"])
def test_fused_checks_keep_the_order_of_the_arguments(split):
    K, n = 3, 1 << 15
    D, q = _uniform(K, n), np.full(n, 1.0 / n)
    D[2, 5] = np.nan
    bad_q = q.copy()
    bad_q[7] = -1.0
    with _policy(split):
        # D is checked before q, whatever is wrong with q.
        for other in (bad_q, q[:-1], "abc", [[0.5, 0.5]]):
            with pytest.raises(
                ValueError, match=r"D: contains NaN or inf \(first at index \(2, 5\)\)"
            ):
                dv.kl_rows(D, other)
        with pytest.raises(ValueError, match="q: entries must be non-negative, found -1 at index"):
            dv.cross_entropy_rows(_uniform(K, n), bad_q)
        with pytest.raises(ValueError, match="D and q must have the same length"):
            dv.kl_rows(_uniform(K, n), np.full(n // 2, 2.0 / n))
        # The weights are checked after D.
        with pytest.raises(ValueError, match=r"D: contains NaN or inf"):
            dv.jsd([1.0], D)
        with pytest.raises(ValueError, match="lam: must sum to 1"):
            dv.mixture([0.5, 0.5, 0.5], _uniform(K, n))
        with pytest.raises(ValueError, match="lam: entries must be non-negative"):
            dv.jsd([1.5, -0.5, 0.0], _uniform(K, n))
        # P before q in gate_for; the envelope test last.
        with pytest.raises(ValueError, match="P: contains NaN or inf"):
            gate_for(bad_q, D)
        with pytest.raises(ValueError, match="q: entries must be non-negative"):
            gate_for(bad_q, _uniform(K, n))
        outside = np.full(n, 1.0 / n)
        outside[:2] = [0.0, 2.0 / n]
        with pytest.raises(ValueError, match="q: not representable by a gate .* at index 0,"):
            gate_for(outside, _uniform(K, n))
        # The experts must match the domains in shape, also when P is read with its envelope.
        with pytest.raises(ValueError, match="P: expected 3 rows"):
            robust_gate(_uniform(K, n), _uniform(K - 1, n))


@pytest.mark.parametrize("split", [False, True], ids=["serial", "split"])
def test_infeasible_instances_are_found_in_one_pass(split):
    K, n = 3, 1 << 15
    D, P = _uniform(K, n), _uniform(K, n)
    P[:, 100:102] = 0.0
    P[:, 0] += 2.0 / n
    with _policy(split):
        with pytest.raises(
            InfeasibleError, match=r"domain D_1 \(row 0\) puts mass 3.05e-05 at index 100 "
        ):
            check_feasible(D, P)
        with pytest.raises(InfeasibleError, match=r"domain D_3 \(row 2\) .* index 100 "):
            check_feasible(D, P, active=[False, False, True])
        check_feasible(D, P, active=[False, False, False])


def test_fused_checks_accept_negative_zero_and_report_overflow_as_before():
    # −0.0 sets a sign bit (the fused test flags it) but is a valid probability 0.
    D = np.array([[0.5, 0.5, -0.0], [0.25, 0.75, 0.0]])
    np.testing.assert_allclose(dv.entropy_rows(D), dv.entropy_rows(np.abs(D)))
    assert dv.kl([1.0, -0.0], [0.5, 0.5]) == pytest.approx(np.log(2.0))
    huge = np.array([[1e308, 1e308], [0.5, 0.5]])
    for call in (lambda: dv.kl_rows(huge, [0.5, 0.5]), lambda: check_stack(huge, "D")):
        with pytest.raises(ValueError, match="D: a row sum overflows"):
            call()
    with pytest.raises(ValueError, match="p: the sum of the entries overflows"):
        dv.entropy([1e308, 1e308])
