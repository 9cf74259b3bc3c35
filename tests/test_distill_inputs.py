"""Input validation of the public functions of ``sims.distill`` (S9).

Every bad input raises ValueError whose message names the argument; nothing is
coerced silently (a complex array to its real part, a boolean array to 0/1, a
0-d array to a vector, a str to the list of its characters).
"""

import numpy as np
import pytest

from sims.distill import (
    Trie,
    distill_router,
    posterior_router,
    router_model,
    sample_rejection,
    sample_router,
)

STRINGS = ["a", "ab", "b"]
P = np.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]])
TARGET = np.array([0.2, 0.3, 0.5])
GATE = np.full((2, 3), 0.5)  # Z(g) = Σ_x (p_1(x) + p_2(x)) / 2 = 1
ROUTER = posterior_router(STRINGS, P, [0.5, 0.5])


def raises(name, fn, *args, **kwargs):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        fn(*args, **kwargs)


@pytest.mark.parametrize(
    "fn, args",
    [
        (Trie, ()),
        (distill_router, (P, TARGET)),
        (posterior_router, (P, [0.5, 0.5])),
        (router_model, (P, ROUTER)),
        (sample_rejection, (P, GATE, 10)),
        (sample_router, (P, ROUTER, 10)),
    ],
)
@pytest.mark.parametrize("strings", ["abc", "ab", "", b"ab", 3, [], ["a", "a"], ["a", 1], None])
def test_S9_strings_must_be_a_collection_of_distinct_str(fn, args, strings):
    raises("strings", fn, strings, *args)


def _complex(a):
    return np.asarray(a, dtype=np.complex128)


BAD_P = [
    ("complex", _complex(P)),
    ("0-d", np.array(0.5)),
    ("1-D", P[0]),
    ("3-D", P[None]),
    ("NaN", np.where(P == P.max(), np.nan, P)),
    ("wrong n", P[:, :2] / P[:, :2].sum(axis=1, keepdims=True)),
    ("boolean", P > 0.2),
    ("text", P.astype(str)),
    ("ragged", [[0.5, 0.5], [1.0]]),
    ("off the simplex", P * 2),
]


@pytest.mark.parametrize("label, bad", BAD_P, ids=[b[0] for b in BAD_P])
def test_S9_experts_are_validated_by_every_function(label, bad):
    raises("P", distill_router, STRINGS, bad, TARGET)
    raises("P", posterior_router, STRINGS, bad, [0.5, 0.5])
    raises("P", router_model, STRINGS, bad, ROUTER)
    raises("P", sample_rejection, STRINGS, bad, GATE, 10)
    raises("P", sample_router, STRINGS, bad, ROUTER, 10)


BAD_VECTORS = [
    ("complex", _complex(TARGET)),
    ("complex with imaginary part", TARGET + 1e-3j),
    ("0-d", np.array(1.0)),
    ("scalar", 1.0),
    ("2-D", TARGET[None]),
    ("NaN", np.array([0.5, np.nan, 0.5])),
    ("inf", np.array([np.inf, 0.0, 0.0])),
    ("negative", np.array([-0.2, 0.7, 0.5])),
    ("wrong length", np.array([0.5, 0.5])),
    ("boolean", np.array([True, False, False])),
    ("text", ["0.2", "0.3", "0.5"]),
    ("None", [0.2, None, 0.8]),
]


@pytest.mark.parametrize("label, bad", BAD_VECTORS, ids=[b[0] for b in BAD_VECTORS])
def test_S9_target_is_validated(label, bad):
    raises("target", distill_router, STRINGS, P, bad)


BAD_Z = [
    ("complex", _complex([0.5, 0.5])),
    ("0-d", np.array(1.0)),
    ("2-D", np.array([[0.5, 0.5]])),
    ("NaN", np.array([np.nan, 1.0])),
    ("negative", np.array([-0.5, 1.5])),
    ("wrong length", np.ones(3) / 3),
    ("boolean", np.array([True, False])),
    ("text", ["0.5", "0.5"]),
]


@pytest.mark.parametrize("label, bad", BAD_Z, ids=[b[0] for b in BAD_Z])
def test_S9_constant_gate_is_validated(label, bad):
    raises("z", posterior_router, STRINGS, P, bad)


BAD_MATRICES = [
    ("complex", _complex),
    ("0-d", lambda a: np.array(a.flat[0])),
    ("1-D", lambda a: a[0]),
    ("NaN", lambda a: np.where(a == a.max(), np.nan, a)),
    ("negative", lambda a: -a),
    ("transposed", lambda a: a.T),
    ("boolean", lambda a: a > 0),
    ("text", lambda a: a.astype(str)),
]


@pytest.mark.parametrize("label, bad", BAD_MATRICES, ids=[b[0] for b in BAD_MATRICES])
def test_S9_gates_and_routers_are_validated(label, bad):
    raises("gate", sample_rejection, STRINGS, P, bad(GATE), 10)
    raises("router", router_model, STRINGS, P, bad(ROUTER))
    raises("router", sample_router, STRINGS, P, bad(ROUTER), 10)


@pytest.mark.parametrize("name", ["tol", "prefix_tol"])
@pytest.mark.parametrize("bad", [0.0, -1e-9, np.nan, np.inf, True, "1e-9", 1e-9 + 0j, [1e-9]])
def test_S9_tolerances_are_positive_real_numbers(name, bad):
    raises(name, distill_router, STRINGS, P, TARGET, **{name: bad})


@pytest.mark.parametrize("bad", [-1, 1.5, 2.0, True, "10", None])
def test_S9_max_iter_is_a_non_negative_integer(bad):
    raises("max_iter", distill_router, STRINGS, P, TARGET, max_iter=bad)


@pytest.mark.parametrize("bad", [0, -3, 2.5, 10.0, True, "10"])
def test_S9_sample_size_is_a_positive_integer(bad):
    raises("size", sample_rejection, STRINGS, P, GATE, bad)
    raises("size", sample_router, STRINGS, P, ROUTER, bad)


@pytest.mark.parametrize("bad", [-1, 1.5, "abc", np.nan, [1, -1], 2.0 + 0j])
def test_S9_sampler_seeds_are_checked(bad):
    raises("seed", sample_rejection, STRINGS, P, GATE, 10, seed=bad)
    raises("seed", sample_router, STRINGS, P, ROUTER, 10, seed=bad)


def test_S9_trie_methods_validate_their_arguments():
    trie = Trie(STRINGS)
    for bad in (_complex(TARGET), np.array(1.0), TARGET > 0.25, TARGET[None, None]):
        raises("q", trie.prefix_mass, bad)
        raises("q", trie.conditionals, bad)
    cond = trie.conditionals(TARGET)
    for bad in (_complex(cond), np.array(0.5), cond[:-1], cond[None, None], cond > 0.5):
        raises("cond", trie.sequence_probability, bad)
    for bad in (-1, trie.num_nodes, 1.0, "0", True):
        raises("node", trie.prefix, bad)


def test_S9_valid_inputs_of_every_accepted_kind_still_work():
    """Lists, integer arrays, numpy scalars and a prebuilt Trie are accepted as before."""
    trie = Trie(np.array(STRINGS))
    res = distill_router(trie, P.tolist(), TARGET.tolist(), tol=np.float64(1e-10), max_iter=50)
    assert res.converged
    onehot = np.array([[1, 0, 0], [0, 0, 1]])
    first = np.eye(2)[np.zeros(trie.num_nodes, dtype=int)]
    np.testing.assert_array_equal(router_model(trie, onehot, first), [1, 0, 0])
    assert sample_router(STRINGS, P, ROUTER, np.int64(5), seed=np.int64(3)).indices.size == 5
