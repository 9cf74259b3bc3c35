"""Fuzz of theory.minimax (T3–T7), theory.capacity (T6) and theory.best_response (T4).

Bad arguments are refused naming them. On tiny instances with exact zeros,
5e-324 and 1e-300 probabilities, over every family of Λ: the water-filled model
is a distribution inside the envelope, d(λ) is the fixed-mixture value, the
robust gate's certificate is ordered (lower ≤ upper) and brackets every d(λ)
tried, the conic reference agrees with the dual method, and the capacity
sandwich 0 ≤ lower ≤ C ≤ upper ≤ log K holds with C = V* for perfect experts."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz_strategies import (
    BAD_COUNTS,
    BAD_OBJECTIVES,
    BAD_REALS,
    accept,
    assert_ordered,
    assert_simplex,
    attempt,
    bad_mixtures,
    cases,
    distribution_variants,
    distributions,
    examples,
    instances,
    mixture_sets,
    onehot_rows,
    reject,
    stacks,
)
from theory import best_response as br
from theory import capacity, minimax
from theory.divergences import jsd
from theory.mixtures import Simplex

D = onehot_rows(2, 3)
P = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1]])
LAM = np.array([1.0, 0.0])
Q = np.array([0.5, 0.4, 0.1])
BAD_LABELS = [
    ("bare string", "ab"),
    ("too few", ["a"]),
    ("repeated", ["a", "a"]),
    ("not a string", ["a", 3]),
]
BAD_TOLS = [*BAD_REALS, ("zero", 0.0), ("negative", -1e-9)]
BAD_ITERS = [c for c in BAD_COUNTS if c[0] != "zero"]

_CASES = (
    cases(
        minimax.fixed_mixture,
        {"D": D, "P": P, "lam": LAM},
        {
            "D": distribution_variants(D, (0, 1)),
            "P": distribution_variants(P, (0, 1)),
            "lam": distribution_variants(LAM, (0,)),
        },
    )
    + cases(
        minimax.fixed_mixture,
        {"D": D, "P": P, "lam": LAM},
        {"objective": BAD_OBJECTIVES, "labels": BAD_LABELS},
    )
    + cases(
        minimax.dual_function,
        {"D": D, "P": P, "lam": LAM},
        {"lam": distribution_variants(LAM, (0,)), "objective": BAD_OBJECTIVES},
    )
    + cases(
        minimax.water_fill,
        {"t": Q, "P": P},
        {"t": distribution_variants(Q, (0,)), "P": distribution_variants(P, (1,))},
    )
    + cases(
        minimax.robust_gate,
        {"D": D, "P": P},
        {
            "D": distribution_variants(D, (0, 1))[::2],
            "P": distribution_variants(P, (0, 1))[1::2],
        },
    )
    + cases(
        minimax.robust_gate,
        {"D": D, "P": P},
        {
            "mixtures": bad_mixtures(),
            "objective": BAD_OBJECTIVES,
            "method": [
                ("unknown", "newton"),
                ("case", "DUAL"),
                ("None", None),
                ("number", 1),
                ("list", ["dual"]),
            ],
            "tol": BAD_TOLS,
            "max_iter": BAD_COUNTS,
            "labels": BAD_LABELS,
        },
    )
    + cases(
        capacity.blahut_arimoto,
        {"D": D},
        {
            "D": distribution_variants(D),
            "tol": BAD_TOLS,
            "max_iter": BAD_ITERS,
            "labels": BAD_LABELS,
        },
    )
    + cases(
        br.best_response_gate,
        {"D": D, "P": P, "lam": LAM},
        {"lam": distribution_variants(LAM, (0,))},
    )
    + cases(
        br.best_response_mixture,
        {"D": D, "P": P, "model": Q},
        {
            "model": distribution_variants(Q, (0,)),
            "mixtures": bad_mixtures(),
            "objective": BAD_OBJECTIVES,
        },
    )
    + cases(
        br.best_response_curves,
        {"D": D, "P": P, "num": 3},
        {
            "num": [*BAD_COUNTS, ("one point", 1)],
            "mixtures": bad_mixtures(),
        },
    )
)


@pytest.mark.parametrize(("fn", "kwargs", "names"), _CASES)
def test_bad_argument_is_refused_naming_it(fn, kwargs, names):
    reject(fn, names=names, **kwargs)


def test_robust_gate_progress_must_be_a_boolean():
    reject(minimax.robust_gate, D, P, progress="no", names="progress")


def test_blahut_arimoto_progress_must_be_a_boolean():
    reject(capacity.blahut_arimoto, D, progress="no", names="progress")


def test_best_response_curves_on_a_small_grid():
    curves = accept(br.best_response_curves, D, P, num=5)
    assert curves.lam1.shape == (5,) and np.all(curves.response_lo <= curves.response_hi)
    assert 0.0 <= curves.lam_star <= 1.0


def test_best_response_curves_need_two_domains():
    reject(br.best_response_curves, onehot_rows(3, 3), onehot_rows(3, 3), names="D")


@pytest.mark.parametrize(
    "rtol", [*BAD_REALS, ("negative", -1e-12), ("one", 1.0)], ids=lambda c: c[0]
)
def test_best_response_mixture_bad_rtol_names_it(rtol):
    reject(br.best_response_mixture, D, P, Q, rtol=rtol[1], names="rtol")


def test_blahut_arimoto_callback_must_be_callable():
    reject(capacity.blahut_arimoto, D, callback=3, names="callback")


@pytest.mark.parametrize(
    "fn",
    [
        lambda Dm, Pm: minimax.robust_gate(Dm, Pm),
        lambda Dm, Pm: minimax.fixed_mixture(Dm, Pm, [0.5, 0.5]),
        lambda Dm, Pm: minimax.dual_function(Dm, Pm, [0.5, 0.5]),
        lambda Dm, Pm: br.best_response_gate(Dm, Pm, [0.5, 0.5]),
    ],
)
def test_infinite_objective_names_the_domain(fn):
    Dm = np.array([[0.0, 0.0, 1.0], [0.5, 0.5, 0.0]])
    exc = reject(fn, Dm, P * [[1, 1, 0]] / P[:, :2].sum(axis=1, keepdims=True), names="D")
    assert "D_1" in str(exc)


def test_capacity_of_one_domain_is_exactly_zero():
    cap = accept(capacity.blahut_arimoto, [[0.38, 0.19, 0.38, 0.05]])
    assert cap.lower <= cap.capacity <= cap.upper
    assert cap.capacity >= 0.0 and cap.upper >= 0.0


# ------------------------------------------------------------------ properties


def _in_envelope(q, P_, rtol=1e-9):
    lo, hi = P_.min(axis=0), P_.max(axis=0)
    return np.all(q >= lo - rtol * hi) and np.all(q <= hi + rtol * hi)


@examples(40)
@given(st.data())
def test_T3_fixed_mixture_on_extreme_instances(data):
    D_, P_ = data.draw(instances())
    K, n = D_.shape
    lam = data.draw(distributions(K))
    objective = data.draw(st.sampled_from(["divergence", "cross_entropy", "regret"]))
    res = attempt(minimax.fixed_mixture, D_, P_, lam, objective, names=("D", "P"))
    if res is None:
        return
    assert_simplex(res.model, "model")
    assert _in_envelope(res.model, P_)
    assert_simplex(res.gate.T, "gate columns")
    assert res.nu >= 0 and math.isfinite(res.value)
    value, grad = accept(minimax.dual_function, D_, P_, lam, objective)
    assert value == pytest.approx(res.value, rel=1e-9, abs=1e-12)
    assert grad.shape == (K,)
    if objective == "divergence":
        # T3: d(λ) = JSD_λ(D) + KL(D_λ‖q*) ≥ JSD_λ(D).
        assert res.value >= jsd(lam, D_) - 1e-9
    t = lam @ D_
    q, nu = accept(minimax.water_fill, t / t.sum(), P_)
    assert_simplex(q, "water_fill")
    assert nu >= 0 and _in_envelope(q, P_)


@examples(30)
@given(st.data())
def test_T5_robust_gate_certificate_on_extreme_instances(data):
    D_, P_ = data.draw(instances())
    K, n = D_.shape
    lam_set = data.draw(mixture_sets(K))
    objective = data.draw(st.sampled_from(["divergence", "cross_entropy", "regret"]))
    res = attempt(minimax.robust_gate, D_, P_, lam_set, objective, max_iter=80, names=("D", "P"))
    if res is None:
        return
    assert_ordered(res.lower, res.upper, "robust_gate")
    assert res.value == res.upper and math.isfinite(res.upper)
    assert_simplex(res.model, "model")
    assert_simplex(res.gate.T, "gate columns")
    assert _in_envelope(res.model, P_)
    assert lam_set.contains(res.lam, 1e-7)
    assert res.per_domain.shape == (K,)
    # Weak duality: d(λ) ≤ V* ≤ upper for every λ ∈ Λ.
    for lam in (lam_set.center(), res.lam):
        d = attempt(minimax.dual_function, D_, P_, lam, objective, names=("D", "P"))
        if d is not None:
            assert d[0] <= res.upper + 1e-7 * max(1.0, abs(res.upper))


@examples(15)
@given(st.data())
def test_T6_capacity_sandwich_and_perfect_experts(data):
    D_ = data.draw(stacks(st.integers(1, 4), st.integers(1, 5)))
    K = D_.shape[0]
    cap = accept(capacity.blahut_arimoto, D_, 1e-9, 2_000)
    assert_ordered(cap.lower, cap.upper, "capacity")
    # Up to rounding here; the exact ordering is test_capacity_of_one_domain_is_exactly_zero.
    assert cap.lower >= 0.0 and cap.capacity >= -1e-12
    assert cap.lower - 1e-12 <= cap.capacity <= cap.upper + 1e-12
    assert cap.upper <= math.log(K) + 1e-12
    assert_simplex(cap.prior, "prior")
    assert_simplex(cap.output, "output")
    assert cap.upper >= jsd(np.full(K, 1.0 / K), D_) - 1e-12
    res = accept(minimax.robust_gate, D_, D_, Simplex(K), "divergence", tol=1e-9, max_iter=200)
    # T6: V*(Δ_K) for perfect experts is the capacity; the two certificates overlap.
    slack = 1e-7
    assert res.lower <= cap.upper + slack and cap.lower <= res.upper + slack


@examples(6)
@given(st.data())
def test_cvxpy_reference_agrees_with_dual_on_tiny_instances(data):
    D_, P_ = data.draw(instances(K=2, n=st.integers(1, 3)))
    lam_set = data.draw(mixture_sets(2))
    dual = attempt(minimax.robust_gate, D_, P_, lam_set, names=("D", "P"))
    if dual is None:
        return
    conic = accept(minimax.robust_gate, D_, P_, lam_set, method="cvxpy")
    assert_ordered(conic.lower, conic.upper, "cvxpy")
    assert_simplex(conic.model, "cvxpy model")
    slack = 1e-6 * max(1.0, abs(dual.upper))
    assert conic.lower <= dual.upper + slack and dual.lower <= conic.upper + slack
    if conic.converged:
        assert conic.lower - slack <= conic.value <= conic.upper + slack


@examples(20)
@given(st.data())
def test_T4_best_response_mixture_attains_the_worst_case(data):
    D_, P_ = data.draw(instances())
    K, n = D_.shape
    lam_set = data.draw(mixture_sets(K))
    q = data.draw(distributions(n))
    face = attempt(br.best_response_mixture, D_, P_, q, lam_set, names=("D", "P"))
    if face is None:
        return
    L = accept(minimax.objective_offsets, D_, P_)
    assert L.shape == (K,)
    assert face.ndim == 2 and face.shape[1] == K
    for lam in face:
        assert lam_set.contains(lam, 1e-7)
