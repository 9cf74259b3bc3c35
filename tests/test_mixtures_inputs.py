"""Bad input to the Λ families is refused with a message naming the argument;
from_spec parses every command-line form and round-trips the parameters."""

import numpy as np
import pytest

from theory.mixtures import Box, KLBall, L1Ball, L2Ball, Polytope, Simplex, from_spec

_BALLS = (L1Ball, KLBall, L2Ball)
_SETS = (
    Simplex(2),
    Box([0.1, 0.0], [1.0, 0.8]),
    L1Ball([0.5, 0.5], 0.3),
    Polytope([[1.0, 0.0], [0.3, 0.7]]),
    KLBall([0.5, 0.5], 0.1),
    L2Ball([0.5, 0.5], 0.1),
)

# (description, callable, argument name the message must start with)
CONSTRUCTOR_CASES = [
    ("string bounds", lambda: Box(["a"], [1.0]), "lo"),
    ("string upper bound", lambda: Box([0.0], "1"), "hi"),
    ("complex bound", lambda: Box(np.array([0.2 + 1j, 0.0]), [1.0, 1.0]), "lo"),
    ("boolean bound", lambda: Box([False, False], [True, True]), "lo"),
    ("0-d bound", lambda: Box(0.0, 1.0), "lo"),
    ("nan bound", lambda: Box([np.nan, 0.0], [1.0, 1.0]), "lo"),
    ("inf bound", lambda: Box([0.0, 0.0], [np.inf, 1.0]), "hi"),
    ("lengths differ", lambda: Box([0.0, 0.0], [1.0, 1.0, 1.0]), "lo, hi"),
    ("box misses simplex", lambda: Box([0.6, 0.6], [1.0, 1.0]), "lo, hi"),
    ("ragged vertices", lambda: Polytope([[1, 0], [0.5]]), "vertices"),
    ("1-D vertices", lambda: Polytope([0.5, 0.5]), "vertices"),
    ("string vertices", lambda: Polytope([["a", "b"]]), "vertices"),
    ("complex vertices", lambda: Polytope(np.array([[1.0 + 0j, 0.0]])), "vertices"),
    ("vertex off simplex", lambda: Polytope([[1.0, 0.0], [0.5, 0.6]]), r"vertices\[1\]"),
    ("K zero", lambda: Simplex(0), "K"),
    ("K bool", lambda: Simplex(True), "K"),
    ("K float", lambda: Simplex(2.0), "K"),
    ("K string", lambda: Simplex("3"), "K"),
]
for cls in _BALLS:
    name = cls.__name__
    CONSTRUCTOR_CASES += [
        (f"{name} string center", lambda cls=cls: cls(["0.5", "0.5"], 0.1), "center"),
        (f"{name} bare string center", lambda cls=cls: cls("ab", 0.1), "center"),
        (f"{name} complex center", lambda cls=cls: cls(np.array([0.5 + 0j, 0.5]), 0.1), "center"),
        (f"{name} 0-d center", lambda cls=cls: cls(1.0, 0.1), "center"),
        (f"{name} nan center", lambda cls=cls: cls([np.nan, 1.0], 0.1), "center"),
        (f"{name} center off simplex", lambda cls=cls: cls([0.5, 0.6], 0.1), "center"),
        (f"{name} negative center", lambda cls=cls: cls([1.5, -0.5], 0.1), "center"),
        (f"{name} negative radius", lambda cls=cls: cls([0.5, 0.5], -0.1), "radius"),
        (f"{name} nan radius", lambda cls=cls: cls([0.5, 0.5], np.nan), "radius"),
        (f"{name} inf radius", lambda cls=cls: cls([0.5, 0.5], np.inf), "radius"),
        (f"{name} string radius", lambda cls=cls: cls([0.5, 0.5], "0.1"), "radius"),
        (f"{name} bool radius", lambda cls=cls: cls([0.5, 0.5], True), "radius"),
        (f"{name} complex radius", lambda cls=cls: cls([0.5, 0.5], 0.1 + 0j), "radius"),
        (f"{name} array radius", lambda cls=cls: cls([0.5, 0.5], [0.1]), "radius"),
    ]


@pytest.mark.parametrize(("what", "make", "arg"), CONSTRUCTOR_CASES, ids=lambda x: str(x))
def test_constructors_reject_bad_parameters_naming_them(what, make, arg):
    with pytest.raises(ValueError, match=f"^{arg}:"):
        make()


BAD_VECTORS = [
    ("strings", ["a", "b"]),
    ("bare string", "ab"),
    ("complex", np.array([0.5 + 1j, 0.5])),
    ("complex with zero imaginary part", np.array([0.5 + 0j, 0.5])),
    ("booleans", [True, False]),
    ("0-d", 0.5),
    ("wrong length", [0.2, 0.3, 0.5]),
    ("2-D", [[0.5, 0.5]]),
    ("ragged", [[0.5], [0.2, 0.3]]),
    ("None", None),
    ("nan", [np.nan, 1.0]),
]


@pytest.mark.parametrize("S", _SETS, ids=repr)
@pytest.mark.parametrize(("what", "bad"), BAD_VECTORS, ids=lambda x: str(x))
def test_methods_reject_bad_vectors_naming_the_argument(S, what, bad):
    with pytest.raises(ValueError, match="^lam:"):
        S.contains(bad)
    with pytest.raises(ValueError, match="^lam:"):
        S.project(bad)
    with pytest.raises(ValueError, match="^c:"):
        S.argmax_linear(bad)


@pytest.mark.parametrize("S", _SETS, ids=repr)
def test_infinite_points_and_bad_tolerances_are_refused(S):
    with pytest.raises(ValueError, match="^lam: contains inf"):
        S.project([np.inf, 0.0])
    with pytest.raises(ValueError, match="^lam: contains inf"):
        S.contains([-np.inf, 1.0])
    for tol in (-1e-9, np.nan, np.inf, "1e-9", True, [1e-9], 1e-9 + 0j):
        with pytest.raises(ValueError, match="^tol:"):
            S.contains([0.5, 0.5], tol=tol)
    assert S.contains(S.center(), tol=np.float64(1e-9))


def test_messages_never_come_from_numpy():
    with pytest.raises(ValueError) as info:
        Polytope([[1, 0], [0.5]])
    assert "inhomogeneous" not in str(info.value)
    assert "ragged" in str(info.value)


# ----------------------------------------------------------------------------- from_spec


def test_from_spec_parses_every_form():
    assert isinstance(from_spec(None, 3), Simplex)
    assert repr(from_spec("simplex", 3)) == "Simplex(3)"
    box = from_spec("box:0.1,0.6", 3)
    np.testing.assert_array_equal(box.lo, [0.1] * 3)
    np.testing.assert_array_equal(box.hi, [0.6] * 3)
    box = from_spec("box:0.1;0.2;0,0.5;0.9;1", 3)
    np.testing.assert_array_equal(box.lo, [0.1, 0.2, 0.0])
    np.testing.assert_array_equal(box.hi, [0.5, 0.9, 1.0])
    box = from_spec("box:0.1;0.2;0/0.5;0.9;1", 3)
    np.testing.assert_array_equal(box.hi, [0.5, 0.9, 1.0])
    for kind, cls in (("l1", L1Ball), ("kl", KLBall), ("l2", L2Ball)):
        ball = from_spec(f"{kind}:0.25", 4)
        assert type(ball) is cls and ball.radius == 0.25
        np.testing.assert_array_equal(ball.center_, [0.25] * 4)
        ball = from_spec(f"{kind}:0.5@0.2;0.3;0.5", 3)
        np.testing.assert_array_equal(ball.center_, [0.2, 0.3, 0.5])


@pytest.mark.parametrize("seed", range(5))
def test_from_spec_round_trips_random_parameters(seed):
    rng = np.random.default_rng(seed)
    K = int(rng.integers(1, 7))
    center = rng.dirichlet(np.ones(K))
    center[-1] = 1.0 - center[:-1].sum()
    radius = float(rng.uniform(0, 2))
    c_text = ";".join(repr(float(x)) for x in center)
    for kind, cls in (("l1", L1Ball), ("kl", KLBall), ("l2", L2Ball)):
        ball = from_spec(f"{kind}:{radius!r}@{c_text}", K)
        assert type(ball) is cls and ball.radius == radius
        np.testing.assert_array_equal(ball.center_, center)
        assert from_spec(f"{kind}:{radius!r}@{c_text}", K).contains(center)
    lo = rng.dirichlet(np.ones(K)) * 0.5
    hi = np.minimum(1.0, lo + 0.7)
    spec = "box:" + ";".join(map(repr, lo.tolist())) + "," + ";".join(map(repr, hi.tolist()))
    box = from_spec(spec, K)
    np.testing.assert_array_equal(box.lo, lo)
    np.testing.assert_array_equal(box.hi, hi)


@pytest.mark.parametrize(
    "spec",
    [
        "ellipse:1",
        "simplex:3",
        "kl",
        "kl:",
        "kl:abc",
        "kl:-1",
        "l2:nan",
        "kl:0.1@0.5;0.5",
        "l1:0.1@0.5;0.2;0.2",
        "l2:0.1;0.2",
        "box:0.1",
        "box:0.1;0.2,0.9",
        "box:0;0;0,1;1",
        "box:0.7,1",
        "box:a,b",
        "",
    ],
)
def test_from_spec_errors_name_mixtures_and_the_accepted_forms(spec):
    with pytest.raises(ValueError, match="^mixtures:") as info:
        from_spec(spec, 3)
    assert "accepted" in str(info.value) and "kl:R" in str(info.value)


def test_from_spec_rejects_non_strings_and_bad_K():
    with pytest.raises(ValueError, match="^mixtures:"):
        from_spec(["simplex"], 3)
    with pytest.raises(ValueError, match="^K:"):
        from_spec("simplex", True)
    with pytest.raises(ValueError, match="^K:"):
        from_spec("simplex", 0)
