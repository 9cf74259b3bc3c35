"""Sequence domain generators of sims.domains (the sequence instances of T9)."""

import itertools

import numpy as np
import pytest
from scipy.stats import entropy as scipy_entropy

from sims.domains import markov_domains, pattern_domains, product_domains, separable_domains
from tests.reference import jsd


def _marginals_by_loops(row, T, V):
    """Per-position marginals by enumerating V^T in lexicographic order."""
    m = np.zeros((T, V))
    for i, x in enumerate(itertools.product(range(V), repeat=T)):
        for t, v in enumerate(x):
            m[t, v] += row[i]
    return m


@pytest.mark.parametrize("K, T, V", [(1, 1, 2), (2, 3, 2), (3, 4, 3)])
def test_product_domains_are_products_of_their_marginals(K, T, V):
    D = product_domains(K, T, V, separation=1.3, seed=4)
    assert D.shape == (K, V**T)
    np.testing.assert_allclose(D.sum(axis=1), 1.0, atol=1e-12)
    for k in range(K):
        m = _marginals_by_loops(D[k], T, V)
        for i, x in enumerate(itertools.product(range(V), repeat=T)):
            assert D[k, i] == pytest.approx(np.prod([m[t, v] for t, v in enumerate(x)]), abs=1e-15)


def test_markov_domains_satisfy_the_order_r_markov_property():
    T, V, r = 4, 2, 1
    D = markov_domains(2, T, V, r=r, separation=2.0, seed=1)
    np.testing.assert_allclose(D.sum(axis=1), 1.0, atol=1e-12)
    for row in D:
        p = row.reshape((V,) * T)
        # P(x_t | x_{<t}) must depend on the last r symbols only
        for t in range(r + 1, T):
            joint = p.sum(axis=tuple(range(t + 1, T)))
            prefix = joint.sum(axis=t, keepdims=True)
            full_cond = joint / prefix
            local = joint.sum(axis=tuple(range(t - r)))
            local_cond = local / local.sum(axis=-1, keepdims=True)
            np.testing.assert_allclose(
                full_cond, np.broadcast_to(local_cond, full_cond.shape), atol=1e-12
            )


def test_markov_domains_of_order_two_are_not_first_order():
    T, V = 3, 2
    D = markov_domains(1, T, V, r=2, separation=3.0, seed=2)[0].reshape((V,) * T)
    cond_full = D / D.sum(axis=2, keepdims=True)
    cond_first = D.sum(axis=0) / D.sum(axis=(0, 2))[:, None]
    assert np.abs(cond_full - cond_first[None]).max() > 1e-3


def test_separation_zero_gives_identical_domains():
    for D in (product_domains(3, 3, 2, 0.0, seed=5), markov_domains(3, 3, 2, 1, 0.0, seed=5)):
        np.testing.assert_allclose(D, np.repeat(D[:1], 3, axis=0), atol=0)


def test_separable_domains_are_disjoint_point_masses():
    K, T, V = 3, 4, 3
    D = separable_domains(K, T, V, seed=2)
    assert np.all((D == 0) | (D == 1))
    assert np.all(D.sum(axis=1) == 1)
    lam = np.array([0.5, 0.3, 0.2])
    # disjoint supports: JSD = H(λ) (T1), and every position separates the domains
    assert jsd(lam, D) == pytest.approx(scipy_entropy(lam), abs=1e-12)
    for t in range(T):
        m = np.stack([_marginals_by_loops(D[k], T, V)[t] for k in range(K)])
        assert jsd(lam, m) == pytest.approx(scipy_entropy(lam), abs=1e-12)


def test_pattern_domains_interpolate_between_separable_and_uniform():
    K, T, V = 2, 3, 3
    np.testing.assert_array_equal(
        pattern_domains(K, T, V, 0.0, seed=3), separable_domains(K, T, V, 3)
    )
    np.testing.assert_allclose(pattern_domains(K, T, V, 1.0, seed=3), 1.0 / V**T, atol=1e-15)
    D = pattern_domains(K, T, V, 0.4, seed=3)
    assert np.all(D > 0) and np.allclose(D.sum(axis=1), 1.0)
    lam = np.array([0.5, 0.5])
    assert 0 < jsd(lam, D) < scipy_entropy(lam)


def test_generators_are_deterministic_in_the_seed():
    np.testing.assert_array_equal(
        product_domains(2, 3, 2, seed=7), product_domains(2, 3, 2, seed=7)
    )
    np.testing.assert_array_equal(markov_domains(2, 3, 2, seed=7), markov_domains(2, 3, 2, seed=7))
    assert not np.array_equal(product_domains(2, 3, 2, seed=7), product_domains(2, 3, 2, seed=8))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: pattern_domains(4, 2, 3), "V"),
        (lambda: pattern_domains(2, 2, 3, overlap=1.5), "overlap"),
        (lambda: markov_domains(2, 3, 2, r=3), "r"),
        (lambda: product_domains(2, 3, 2, separation=-1), "separation"),
        (lambda: product_domains(2, 40, 4), "T, V"),
        (lambda: product_domains(0, 3, 2), "K"),
        (lambda: product_domains(2, 3, 2, seed=-1), "seed"),
        (lambda: markov_domains(2, 3, 2, seed="a"), "seed"),
        (lambda: separable_domains(2, 3, 2, seed=1.5), "seed"),
    ],
)
def test_bad_generator_arguments_raise_named_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_markov_domains_of_order_zero_are_the_product_domains():
    np.testing.assert_array_equal(
        markov_domains(3, 3, 2, r=0, separation=1.2, seed=9),
        product_domains(3, 3, 2, separation=1.2, seed=9),
    )


@pytest.mark.parametrize("overlap", [0.0, 0.25, 0.9])
def test_pattern_domains_have_blurred_point_marginals_on_distinct_symbols(overlap):
    K, T, V = 3, 3, 4
    D = pattern_domains(K, T, V, overlap, seed=11)
    margins = np.stack([_marginals_by_loops(D[k], T, V) for k in range(K)])
    peaks = margins.argmax(axis=2)
    for t in range(T):
        # the K patterns use K different symbols at every position
        assert len(set(peaks[:, t])) == K
    expected = np.full((K, T, V), overlap / V)
    expected[np.arange(K)[:, None], np.arange(T)[None, :], peaks] += 1.0 - overlap
    np.testing.assert_allclose(margins, expected, atol=1e-14)
    # and each domain is the product of those marginals
    for k in range(K):
        for i, x in enumerate(itertools.product(range(V), repeat=T)):
            assert D[k, i] == pytest.approx(np.prod(expected[k, range(T), x]), abs=1e-15)
