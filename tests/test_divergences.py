"""T1 kernels: agreement with the numpy/scipy references and with dit, edge cases, identities."""

import math

import dit
import numpy as np
import pytest
from dit.divergences import jensen_shannon_divergence, kullback_leibler_divergence
from hypothesis import given
from hypothesis import strategies as st

from tests import reference as ref
from theory import _kernels
from theory import divergences as dv

LN2 = math.log(2.0)
REL = 1e-12


def close(a, b, rel=REL, abs_=1e-300):
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= rel * max(abs(a), abs(b), 1.0) + abs_


@st.composite
def distributions(draw, n=None, zeros=True):
    """A distribution with optional zeros and entries down to 1e-300."""
    n = n or draw(st.integers(1, 30))
    w = np.array(
        draw(
            st.lists(
                st.one_of(
                    st.floats(1e-3, 1.0),
                    st.just(0.0) if zeros else st.floats(1e-3, 1.0),
                    st.just(1e-300),
                ),
                min_size=n,
                max_size=n,
            )
        )
    )
    if w.sum() == 0 or w.max() < 1e-200:
        w[draw(st.integers(0, n - 1))] = 1.0
    return w / w.sum()


@st.composite
def stacks(draw, zeros=True):
    K = draw(st.integers(1, 6))
    n = draw(st.integers(1, 30))
    return np.array([draw(distributions(n, zeros)) for _ in range(K)])


@given(distributions())
def test_T1_entropy_matches_reference(p):
    assert close(dv.entropy(p), ref.entropy(p))


@given(st.integers(1, 30).flatmap(lambda n: st.tuples(distributions(n), distributions(n))))
def test_T1_kl_and_cross_entropy_match_reference(pq):
    p, q = pq
    assert close(dv.kl(p, q), ref.kl(p, q))
    assert close(dv.cross_entropy(p, q), ref.cross_entropy(p, q))


@given(stacks(), st.data())
def test_T1_row_kernels_match_reference(D, data):
    n = D.shape[1]
    q = data.draw(distributions(n))
    ours, theirs = dv.kl_rows(D, q), ref.kl_rows(D, q)
    assert all(close(a, b) for a, b in zip(ours, theirs, strict=True))
    ce = dv.cross_entropy_rows(D, q)
    assert all(close(ce[k], ref.cross_entropy(D[k], q)) for k in range(len(D)))
    H = dv.entropy_rows(D)
    assert all(close(H[k], ref.entropy(D[k])) for k in range(len(D)))


@given(stacks(), st.data())
def test_T1_jsd_and_mixture_match_reference(D, data):
    lam = data.draw(distributions(D.shape[0]))
    np.testing.assert_allclose(dv.mixture(lam, D), ref.mixture(lam, D), rtol=1e-14, atol=1e-300)
    # The reference uses the entropy form; the kernel the divergence form (T1 says they agree).
    assert abs(dv.jsd(lam, D) - ref.jsd(lam, D)) <= 1e-12 * max(1.0, ref.jsd(lam, D))


def _dit(p):
    return dit.Distribution([str(i) for i in range(len(p))], list(p), trim=False)


@given(st.integers(2, 12).flatmap(lambda n: st.tuples(distributions(n, False), distributions(n))))
def test_T1_kl_matches_dit(pq):
    p, q = pq
    theirs = kullback_leibler_divergence(_dit(p), _dit(q)) * LN2
    assert close(dv.kl(p, q), theirs, rel=1e-12)


@given(
    st.integers(2, 10).flatmap(lambda n: st.lists(distributions(n, False), min_size=2, max_size=4))
)
def test_T1_jsd_matches_dit(rows):
    D = np.array(rows)
    lam = np.linspace(1.0, 2.0, len(rows))
    lam /= lam.sum()
    theirs = jensen_shannon_divergence([_dit(r) for r in rows], list(lam)) * LN2
    assert abs(dv.jsd(lam, D) - theirs) <= 1e-12 * max(1.0, theirs)


@given(stacks(), st.data())
def test_T1_jsd_bounds(D, data):
    lam = data.draw(distributions(D.shape[0]))
    j = dv.jsd(lam, D)
    assert -1e-15 <= j <= ref.entropy(lam) + 1e-12 <= math.log(D.shape[0]) + 2e-12


@given(stacks(zeros=False), st.data())
def test_T1_compensation_identity(D, data):
    lam = data.draw(distributions(D.shape[0]))
    q = data.draw(distributions(D.shape[1], zeros=False))
    lhs = lam @ dv.kl_rows(D, q)
    rhs = dv.jsd(lam, D) + dv.kl(dv.mixture(lam, D), q)
    assert abs(lhs - rhs) <= 1e-11 * max(1.0, abs(lhs))


def test_T1_jsd_extremes_disjoint_and_identical():
    D = np.array([[0.5, 0.5, 0, 0], [0, 0, 0.25, 0.75]])
    lam = np.array([0.3, 0.7])
    assert math.isclose(dv.jsd(lam, D), ref.entropy(lam), rel_tol=1e-14)
    same = np.array([[0.1, 0.9], [0.1, 0.9], [0.1, 0.9]])
    assert dv.jsd([0.2, 0.3, 0.5], same) == pytest.approx(0.0, abs=1e-16)


def test_T1_conventions_zero_log_zero_and_infinite_kl():
    p = np.array([0.5, 0.5, 0.0])
    q = np.array([1.0, 0.0, 0.0])
    assert dv.entropy(p) == pytest.approx(math.log(2))
    assert dv.kl(p, q) == math.inf
    assert dv.cross_entropy(p, q) == math.inf
    assert dv.kl(q, p) == pytest.approx(math.log(2))
    assert dv.entropy([1.0]) == 0.0
    assert not np.isnan(dv.kl_rows(np.array([p, q]), q)).any()


def test_T1_jsd_ignores_rows_with_zero_weight():
    # Row 2 has support outside the mixture of rows 0–1; with weight 0 it must not make JSD infinite.
    D = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert dv.jsd([0.5, 0.5, 0.0], D) == pytest.approx(math.log(2))


def test_T1_values_near_underflow():
    p = np.array([1e-300, 1 - 1e-300])
    q = np.array([1e-300, 1 - 1e-300])
    assert dv.kl(p, q) == pytest.approx(0.0, abs=1e-300)
    assert close(dv.entropy(np.array([1e-300, 1.0 - 1e-300])), ref.entropy(np.array([1e-300, 1.0])))


def test_large_input_uses_parallel_chunks_consistently():
    rng = np.random.default_rng(0)
    D = rng.dirichlet(np.ones(50_000), size=3)
    q = rng.dirichlet(np.ones(50_000))
    np.testing.assert_allclose(dv.kl_rows(D, q), ref.kl_rows(D, q), rtol=1e-12)


def test_large_inputs_split_over_threads_agree_with_scipy():
    rng = np.random.default_rng(7)
    D = rng.dirichlet(np.ones(_kernels.SERIAL_BELOW // 2 + 1), size=3)
    D[1, ::5] = 0.0
    D[1] /= D[1].sum()
    q = rng.dirichlet(np.ones(D.shape[1]))
    assert D.size >= _kernels.SERIAL_BELOW
    np.testing.assert_allclose(dv.kl_rows(D, q), ref.kl_rows(D, q), rtol=1e-12)
    lam = np.array([0.2, 0.5, 0.3])
    assert close(dv.jsd(lam, D), ref.jsd(lam, D), rel=1e-10)


def test_heavy_tails_and_subnormals_agree_with_scipy_serial_and_split(monkeypatch):
    # Dirichlet(0.02) rows put most entries near 1e-100..1e-300; some are subnormal or 0.
    rng = np.random.default_rng(11)
    n = _kernels.SERIAL_BELOW // 2 + 7
    D = rng.dirichlet(np.full(n, 0.02), size=3)
    D[0, :50] = 5e-324
    D[0] /= D[0].sum()
    q = rng.dirichlet(np.full(n, 0.05))
    q[q < 1e-300] = 0.0
    q[np.argmax(D[1])] += 1e-3  # q > 0 where D_1 has its mass; D_0, D_2 may hit zeros of q
    q /= q.sum()
    lam = np.array([0.2, 0.5, 0.3])
    assert np.any((D > 0) & (D < 2.3e-308))
    for threshold in (1 << 62, 0):  # one range on this thread, then split over threads
        monkeypatch.setattr(_kernels, "SERIAL_BELOW", threshold)
        with np.errstate(divide="ignore"):
            want_kl, want_ce = ref.kl_rows(D, q), ref.cross_entropy_rows(D, q)
        for got, want in ((dv.kl_rows(D, q), want_kl), (dv.cross_entropy_rows(D, q), want_ce)):
            assert all(close(a, b, rel=1e-11) for a, b in zip(got, want, strict=True))
        H = dv.entropy_rows(D)
        assert all(close(H[k], ref.entropy(D[k]), rel=1e-11) for k in range(3))
        assert close(dv.jsd(lam, D), ref.jsd(lam, D), rel=1e-10)
        m = dv.mixture(lam, D)
        assert np.array_equal(m > 0, (D > 0).any(axis=0))


def test_T1_kl_stays_finite_when_the_ratio_overflows_or_underflows():
    # p/q = 0.5/5e-324 overflows and 5e-324/0.5 is subnormal: the logs are taken apart.
    for p, q in (([0.5, 0.5], [5e-324, 1.0]), ([5e-324, 1.0], [0.5, 0.5])):
        want = sum(a * (math.log(a) - math.log(b)) for a, b in zip(p, q, strict=True) if a > 0)
        assert math.isfinite(dv.kl(p, q))
        assert close(dv.kl(p, q), want, rel=1e-14)
        assert close(float(dv.kl_rows([p, p], q)[0]), want, rel=1e-14)
    assert dv.kl([0.5, 0.5], [1.0, 0.0]) == math.inf
