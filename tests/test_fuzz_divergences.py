"""Fuzz of theory.divergences and theory.gates (T1, T2): every bad argument is
refused naming it; valid and extreme inputs (zeros, 5e-324, 1e-300) give results
without NaN that keep the inequalities of T1 and the envelope of T2.

The references are written here in log space (p·(log p − log q)), so that they
stay exact where a ratio p/q overflows (q = 5e-324)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz_strategies import (
    SUBNORMAL,
    accept,
    array_variants,
    attempt,
    distribution_variants,
    distributions,
    examples,
    onehot_rows,
    reject,
    stacks,
)
from theory import divergences as dv
from theory import gates

P3 = np.array([1.0, 0.0, 0.0])
D23 = onehot_rows(2, 3)
LAM2 = np.array([1.0, 0.0])


def _log_kl(p, q) -> float:
    p, q = np.asarray(p), np.asarray(q)
    on = p > 0
    if np.any(q[on] == 0):
        return math.inf
    return float(np.sum(p[on] * (np.log(p[on]) - np.log(q[on]))))


def _log_entropy(p) -> float:
    p = np.asarray(p)
    on = p > 0
    return float(-np.sum(p[on] * np.log(p[on])))


# (function, builder of the arguments with one of them replaced, argument name,
#  valid value, axes whose length the other arguments fix). A length that does
#  not match another argument may be reported under either name.
_VECTOR_CASES = [
    (dv.entropy, lambda v: (v,), "p", P3, ()),
    (dv.cross_entropy, lambda v: (v, P3), "p", P3, (0,)),
    (dv.cross_entropy, lambda v: (P3, v), "q", P3, (0,)),
    (dv.kl, lambda v: (v, P3), "p", P3, (0,)),
    (dv.kl, lambda v: (P3, v), "q", P3, (0,)),
    (dv.kl_rows, lambda v: (v, P3), "D", D23, (1,)),
    (dv.kl_rows, lambda v: (D23, v), "q", P3, (0,)),
    (dv.cross_entropy_rows, lambda v: (v, P3), "D", D23, (1,)),
    (dv.cross_entropy_rows, lambda v: (D23, v), "q", P3, (0,)),
    (dv.entropy_rows, lambda v: (v,), "D", D23, ()),
    (dv.jsd, lambda v: (v, D23), "lam", LAM2, (0,)),
    (dv.jsd, lambda v: (LAM2, v), "D", D23, (0,)),
    (dv.mixture, lambda v: (v, D23), "lam", LAM2, (0,)),
    (dv.mixture, lambda v: (LAM2, v), "D", D23, (0,)),
    (gates.envelope, lambda v: (v,), "P", D23, ()),
    (gates.model, lambda v: (v, D23), "gate", np.array([[1.0, 1.0, 1.0], [0.0] * 3]), (0, 1)),
    (gates.model, lambda v: (np.full((2, 3), 0.5), v), "P", D23, (0, 1)),
    (gates.mass, lambda v: (np.full((2, 3), 0.5), v), "P", D23, (0, 1)),
    (gates.gate_for, lambda v: (v, D23), "q", P3, (0,)),
    (gates.gate_for, lambda v: (P3, v), "P", D23, (1,)),
]

_ARGS = {}
for fn, _, arg, _, _ in _VECTOR_CASES:
    _ARGS.setdefault(fn, ())
    _ARGS[fn] += (arg,)
_ARGS[gates.mass] += ("gate",)

_CASES = []
for fn, build, arg, valid, fixed in _VECTOR_CASES:
    if arg == "gate":
        variants = array_variants(valid, fixed)
    else:
        variants = distribution_variants(valid, fixed)
    for label, value in variants:
        names = _ARGS[fn] if label.startswith("one more") else (arg,)
        _CASES.append(pytest.param(fn, build, names, value, id=f"{fn.__name__}-{arg}-{label}"))


@pytest.mark.parametrize(("fn", "build", "names", "value"), _CASES)
def test_bad_argument_is_refused_naming_it(fn, build, names, value):
    reject(fn, *build(value), names=names)


@pytest.mark.parametrize(
    ("fn", "args", "names"),
    [
        (dv.kl, (P3, [0.5, 0.5]), ("p", "q")),
        (dv.cross_entropy, ([1.0], P3), ("p", "q")),
        (dv.kl_rows, (D23, [1.0, 0.0]), ("D", "q")),
        (dv.jsd, ([1.0, 0.0, 0.0], D23), ("lam",)),
        (dv.mixture, ([1.0], D23), ("lam",)),
        (gates.model, (np.full((3, 2), 0.5), D23), ("gate",)),
        (gates.model, (np.array([[0.6, 0.5, 0.5], [0.5, 0.5, 0.5]]), D23), ("gate",)),
        (gates.model, (np.array([[1.5, 1.0, 1.0], [-0.5, 0.0, 0.0]]), D23), ("gate",)),
        (gates.model, (np.array([[np.nan, 1.0, 1.0], [0.0, 0.0, 0.0]]), D23), ("gate",)),
        (gates.gate_for, ([0.0, 0.0, 1.0], D23), ("q",)),
        (gates.gate_for, ([0.5, 0.5], D23), ("q",)),
    ],
    ids=lambda x: getattr(x, "__name__", None),
)
def test_mismatched_or_unrepresentable_input_is_refused(fn, args, names):
    reject(fn, *args, names=names)


def test_kl_with_subnormal_q_is_finite():
    # Regression: the ratio 0.5/5e-324 overflows; the log form does not (≈ 371.5 nats).
    value = accept(dv.kl, [0.5, 0.5], [1.0, SUBNORMAL])
    exact = 0.5 * math.log(0.5) + 0.5 * (math.log(0.5) - math.log(SUBNORMAL))
    assert value == pytest.approx(exact, rel=1e-12)
    assert value == pytest.approx(371.5268887801307, rel=1e-12)


def test_entropy_of_a_scalar_is_refused():
    # Regression: entropy(1.0) returned 0.0 (a 0-d input read as the point mass).
    reject(dv.entropy, 1.0, names="p")


def test_entropy_slightly_above_one_is_not_negative():
    # Regression: entropy([1 + 1e-12, 0, 0]) returned −1e-12.
    assert accept(dv.entropy, [1 + 1e-12, 0.0, 0.0]) == 0.0


def test_complex_with_zero_imaginary_part_is_refused():
    # Regression: complex arrays were silently truncated to their real part.
    reject(dv.entropy, np.array([0.5 + 0j, 0.5 + 0j]), names="p")
    reject(dv.kl, P3, P3.astype(complex), names="q")


@examples(40)
@given(st.data())
def test_T1_scalar_divergences_on_extreme_inputs(data):
    n = data.draw(st.integers(1, 6))
    p = data.draw(distributions(n))
    q = data.draw(distributions(n))
    H = accept(dv.entropy, p)
    assert 0.0 <= H <= math.log(n) + 1e-12
    assert H == pytest.approx(_log_entropy(p), rel=1e-9, abs=1e-15)
    d = accept(dv.kl, p, q)
    ref = _log_kl(p, q)
    assert d >= 0.0
    if math.isinf(ref):
        assert d == math.inf
    else:
        assert d == pytest.approx(max(ref, 0.0), rel=1e-9, abs=1e-12)
    ce = accept(dv.cross_entropy, p, q)
    assert ce >= 0.0
    if math.isfinite(ce):
        assert ce == pytest.approx(H + d, rel=1e-9, abs=1e-12)
    else:
        assert d == math.inf


@examples(40)
@given(st.data())
def test_T1_row_divergences_and_jsd_on_extreme_inputs(data):
    K, n = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 6))
    D = data.draw(stacks(K, n))
    lam = data.draw(distributions(K))
    q = data.draw(distributions(n))
    rows = accept(dv.kl_rows, D, q)
    assert rows.shape == (K,)
    assert np.all(rows >= 0.0)
    for k in range(K):
        ref = _log_kl(D[k], q)
        assert rows[k] == (math.inf if math.isinf(ref) else pytest.approx(ref, abs=1e-9))
    m = accept(dv.mixture, lam, D)
    assert m.shape == (n,)
    assert np.all(m >= 0) and abs(m.sum() - 1.0) <= 1e-9
    j = accept(dv.jsd, lam, D)
    h_lam = _log_entropy(lam)
    # T1: 0 ≤ JSD_λ(D) ≤ H(λ) ≤ log K.
    assert 0.0 <= j <= h_lam + 1e-9
    assert h_lam <= math.log(K) + 1e-12
    H = accept(dv.entropy_rows, D)
    assert np.all((H >= 0) & (H <= math.log(n) + 1e-12))


@examples(40)
@given(st.data())
def test_T2_envelope_and_gate_for_round_trip(data):
    K, n = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 6))
    P = data.draw(stacks(K, n))
    lo, hi = accept(gates.envelope, P)
    assert np.all(lo <= hi)
    w = data.draw(distributions(K))
    q = w @ P
    q = q / q.sum()
    g = attempt(gates.gate_for, q, P, names="q")
    if g is None:
        # Only a renormalization that leaves [ℓ, u] by more than rounding may be refused.
        assert abs((w @ P).sum() - 1.0) > 0 or not np.all((lo <= q) & (q <= hi))
        return
    assert g.shape == (K, n)
    assert np.all(g >= 0) and np.allclose(g.sum(axis=0), 1.0, atol=1e-12)
    pg = accept(gates.model, g, P)
    assert np.allclose(pg, q, atol=1e-12, rtol=1e-9)
    assert accept(gates.mass, g, P) == pytest.approx(1.0, abs=1e-9)
