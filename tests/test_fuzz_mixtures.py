"""Fuzz of theory.mixtures: the six families of Λ, their oracles and from_spec.

Bad parameters and bad arguments of ``contains``/``project``/``argmax_linear``
are refused naming them; on valid input with extreme entries (±inf, ±1e300,
1e17, 5e-324) the projection lands in Λ and the linear oracle returns a point of
Λ whose payoff (0·inf = 0) is the returned value and is at least the payoff of
every other point of Λ tried (the centre, projections, vertices)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz_strategies import (
    BAD_COUNTS,
    BAD_REALS,
    HUGE,
    INF,
    NAN,
    SUBNORMAL,
    accept,
    array_variants,
    attempt,
    distribution_variants,
    examples,
    kind_variants,
    mixture_sets,
    reject,
    shape_variants,
)
from theory.mixtures import Box, KLBall, L1Ball, L2Ball, MixtureSet, Polytope, Simplex, from_spec

E0 = np.array([1.0, 0.0])
SETS = [
    Simplex(2),
    Box([0.1, 0.0], [1.0, 0.8]),
    L1Ball([0.5, 0.5], 0.3),
    Polytope([[1.0, 0.0], [0.3, 0.7]]),
    KLBall([0.5, 0.5], 0.1),
    L2Ball([0.5, 0.5], 0.1),
]
BALLS = (L1Ball, KLBall, L2Ball)

# --------------------------------------------------------------- bad parameters

_CTOR = []
for label, value in BAD_COUNTS:
    _CTOR.append(pytest.param(Simplex, (value,), "K", id=f"Simplex-K-{label}"))
for label, value in array_variants([0.0, 0.0], (0,)) + [("nan", [NAN, 0.0]), ("inf", [0.0, INF])]:
    _CTOR.append(pytest.param(Box, (value, [1.0, 1.0]), "lo", id=f"Box-lo-{label}"))
    _CTOR.append(pytest.param(Box, ([0.0, 0.0], value), "hi", id=f"Box-hi-{label}"))
_CTOR.append(pytest.param(Box, ([0.6, 0.6], [1.0, 1.0]), "lo", id="Box-empty"))
_CTOR.append(pytest.param(Box, ([0.5, 0.0], [0.4, 1.0]), "lo", id="Box-lo-above-hi"))
for cls in BALLS:
    for label, value in distribution_variants(E0):
        _CTOR.append(pytest.param(cls, (value, 0.1), "center", id=f"{cls.__name__}-c-{label}"))
    for label, value in [*BAD_REALS, ("negative", -0.1), ("array", np.array([0.1]))]:
        _CTOR.append(pytest.param(cls, (E0, value), "radius", id=f"{cls.__name__}-r-{label}"))
for label, value in (
    kind_variants(np.eye(2))
    + shape_variants(np.eye(2))[:-2]
    + [("ragged rows", [[1.0, 0.0], [1.0]]), ("off simplex", [[0.5, 0.6]])]
    + [("nan", [[NAN, 1.0]]), ("inf", [[INF, 0.0]]), ("negative", [[1.5, -0.5]])]
):
    _CTOR.append(pytest.param(Polytope, (value,), "vertices", id=f"Polytope-{label}"))


@pytest.mark.parametrize(("cls", "args", "name"), _CTOR)
def test_bad_parameter_is_refused_naming_it(cls, args, name):
    reject(cls, *args, names=name)


def test_polytope_with_ragged_rows_names_vertices():
    # Regression: numpy's "inhomogeneous shape" message did not name the argument.
    exc = reject(Polytope, [[1.0, 0.0], [0.5]], names="vertices")
    assert str(exc).startswith("vertices")


def test_box_with_string_bounds_names_lo():
    # Regression: float('a') reached the user.
    assert str(reject(Box, ["a"], [1.0], names="lo")).startswith("lo")


def test_contains_with_strings_names_lam():
    # Regression: Simplex(2).contains(['a', 'b']) raised numpy's conversion error.
    assert str(reject(Simplex(2).contains, ["a", "b"], names="lam")).startswith("lam")


def test_box_projection_of_a_huge_vector_stays_in_the_box():
    # Regression: Box([.8], [1.]).project([-1e17]) left Λ.
    box = Box([0.8], [1.0])
    lam = accept(box.project, [-1e17])
    assert box.contains(lam)


def test_argmax_with_infinite_coefficients_is_not_nan():
    # Regression: argmax_linear gave NaN when c held both +inf and −inf.
    for lam_set in SETS:
        value, lam = accept(lam_set.argmax_linear, [INF, -INF])
        assert value == INF and lam_set.contains(lam)


def test_kl_ball_with_subnormal_radius_and_equal_coefficients():
    # Regression: the tilt divided by max|c| = 0 (ZeroDivisionError) when every
    # coefficient is equal and the centre's sum is 1 − 1 ulp.
    ball = KLBall(np.array([8, 4, 7, 2]) / 21, SUBNORMAL)
    value, lam = accept(ball.argmax_linear, [0.0, 0.0, 0.0, 0.0])
    assert value == 0.0 and ball.contains(lam)


@pytest.mark.parametrize("center", [[1 / 3] * 3, [1.0, 0.0, 0.0], [0.5, 0.5, 0.0]])
@pytest.mark.parametrize("radius", [SUBNORMAL, 1e-300, 1e-20])
def test_l1_ball_vertices_with_a_tiny_radius(center, radius):
    # Regression: qhull refused the interior point (QhullError) for radii below rounding.
    ball = L1Ball(center, radius)
    V = accept(ball.vertices)
    assert V.ndim == 2 and V.shape[1] == 3 and all(ball.contains(v) for v in V)
    c = np.array([0.0, 1.0, 2.0])
    assert max(V @ c) == pytest.approx(ball.argmax_linear(c)[0], abs=1e-12)


def test_l1_ball_argmax_empties_a_minus_inf_coordinate_it_can_empty():
    # Regression: 1 − 8/13 ≠ 5/13 in floating point, a residue of 5.5e-17 stayed on the
    # −inf coordinate and the value was −inf instead of 0.
    ball = L1Ball([5 / 13, 8 / 13], 1.0)
    value, lam = accept(ball.argmax_linear, [-INF, 0.0])
    assert value == 0.0 and lam[0] == 0.0 and ball.contains(lam)


# -------------------------------------------------------------- bad arguments

_METHOD_CASES = []
for s in SETS:
    name = type(s).__name__
    bad_vectors = array_variants(E0, (0,)) + [("nan", [NAN, 1.0])]
    for label, value in bad_vectors + [("inf", [INF, 0.0])]:
        _METHOD_CASES.append(
            pytest.param(s.contains, (value,), "lam", id=f"{name}-contains-{label}")
        )
        _METHOD_CASES.append(pytest.param(s.project, (value,), "lam", id=f"{name}-project-{label}"))
    for label, value in bad_vectors:
        _METHOD_CASES.append(
            pytest.param(s.argmax_linear, (value,), "c", id=f"{name}-argmax-{label}")
        )
    for label, value in [*BAD_REALS, ("negative", -1e-3)]:
        _METHOD_CASES.append(pytest.param(s.contains, (E0, value), "tol", id=f"{name}-tol-{label}"))


@pytest.mark.parametrize(("method", "args", "name"), _METHOD_CASES)
def test_bad_oracle_argument_is_refused_naming_it(method, args, name):
    reject(method, *args, names=name)


@pytest.mark.parametrize(
    ("spec", "K"),
    [
        (3, 2),
        (b"simplex", 2),
        (["simplex"], 2),
        ("", 2),
        ("simplex:1", 2),
        ("ball:0.1", 2),
        ("box:", 2),
        ("box:0.1", 2),
        ("box:0.1,0.2,0.3", 2),
        ("box:0.6,1", 2),
        ("box:0.1;0.2;0.3,1", 2),
        ("box:a,b", 2),
        ("box:nan,1", 2),
        ("kl:", 2),
        ("kl:abc", 2),
        ("kl:-1", 2),
        ("kl:nan", 2),
        ("kl:inf", 2),
        ("kl:0.1;0.2", 2),
        ("l2:0.1@0.5", 2),
        ("l1:0.1@0.5;0.6", 2),
        ("l1:0.1@1.5;-0.5", 2),
        ("l2:0.1@nan;1", 2),
        ("l2:1e400", 2),
        ("l1:0.1@", 2),
    ],
)
def test_from_spec_bad_spec_names_mixtures(spec, K):
    reject(from_spec, spec, K, names="mixtures")


@pytest.mark.parametrize(("label", "K"), BAD_COUNTS, ids=[c[0] for c in BAD_COUNTS])
def test_from_spec_bad_K_names_it(label, K):
    reject(from_spec, "simplex", K, names="K")


@pytest.mark.parametrize(
    "spec",
    [
        "simplex",
        None,
        " Simplex ",
        "box:0,1",
        "box:0.1;0;0,1;1;0.5",
        "box:0;0;0/1;1;1",
        "l1:0.5",
        "kl:0.2",
        "l2:0.3",
        "kl:0.2@0.2;0.3;0.5",
        "l1:5@1;0;0",
        "kl:0@0;0;1",
    ],
)
def test_from_spec_valid_forms_give_a_set_of_the_right_K(spec):
    lam_set = accept(from_spec, spec, 3)
    assert isinstance(lam_set, MixtureSet) and lam_set.K == 3
    assert lam_set.contains(lam_set.center())


# ------------------------------------------------------------------ properties

_COEF = st.one_of(
    st.floats(-10, 10),
    st.sampled_from([0.0, INF, -INF, HUGE, -HUGE, 1e17, -1e17, SUBNORMAL, -SUBNORMAL, 1.7e308]),
)


def _payoff(c: np.ndarray, lam: np.ndarray) -> float:
    """c·λ over the coordinates λ weights (0·inf = 0); NaN only if +inf meets −inf."""
    on = lam > 0
    with np.errstate(invalid="ignore", over="ignore"):
        return float(np.sum(c[on] * lam[on]))


@examples(60)
@given(st.data())
def test_oracles_on_extreme_coefficients(data):
    K = data.draw(st.integers(1, 4))
    lam_set = data.draw(mixture_sets(K))
    c = np.array(data.draw(st.lists(_COEF, min_size=K, max_size=K)))
    value, lam = accept(lam_set.argmax_linear, c)
    assert lam.shape == (K,)
    assert lam_set.contains(lam, 1e-7), f"{lam_set!r}: argmax {lam} outside Λ"
    achieved = _payoff(c, lam)
    if math.isfinite(value):
        assert achieved == pytest.approx(value, rel=1e-9, abs=1e-9)
    elif value == INF:
        assert np.any(lam[c == INF] > 0)
    else:
        assert np.any(lam[c == -INF] > 0)
    others = [lam_set.center()]
    v = np.array(data.draw(st.lists(_COEF.filter(math.isfinite), min_size=K, max_size=K)))
    others.append(accept(lam_set.project, v))
    if not isinstance(lam_set, KLBall | L2Ball):
        others += list(lam_set.vertices())
    # Membership is decided in floating point: KL(λ‖c) is resolved to ~1e-16, i.e. λ to
    # ~1e-8, so payoffs of points of Λ are compared up to 1e-7 of the coefficients' size.
    finite = c[np.isfinite(c)]
    size = max(1.0, float(np.abs(finite).max())) if finite.size else 1.0
    for mu in others:
        assert lam_set.contains(mu, 1e-7), f"{lam_set!r}: {mu} should be in Λ"
        other = _payoff(c, mu)
        if not math.isnan(other):
            slack = 1e-7 * size if math.isfinite(other) else 0.0
            assert other <= value + slack, f"{lam_set!r}: c·{mu} = {other} > σ(c) = {value}"


@examples(60)
@given(st.data())
def test_projection_of_extreme_vectors_lands_in_the_set(data):
    K = data.draw(st.integers(1, 4))
    lam_set = data.draw(mixture_sets(K))
    v = np.array(data.draw(st.lists(_COEF.filter(math.isfinite), min_size=K, max_size=K)))
    lam = accept(lam_set.project, v)
    assert lam.shape == (K,) and np.all(np.isfinite(lam))
    assert lam_set.contains(lam, 1e-7), f"{lam_set!r}.project({v}) = {lam} outside Λ"
    again = accept(lam_set.project, lam)
    assert np.allclose(again, lam, atol=1e-7), "a point of Λ must project to itself"
    flag = accept(lam_set.contains, v)
    assert isinstance(flag, bool)


@examples(30)
@given(st.data())
def test_wrong_K_is_refused_by_every_method(data):
    K = data.draw(st.integers(1, 3))
    lam_set = data.draw(mixture_sets(K))
    wrong = np.full(K + 1, 1.0 / (K + 1))
    reject(lam_set.contains, wrong, names="lam")
    reject(lam_set.project, wrong, names="lam")
    reject(lam_set.argmax_linear, wrong, names="c")
    assert attempt(lam_set.contains, np.full(K, 1.0 / K), 1e-9, names="lam") in (True, False)
