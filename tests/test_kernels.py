"""Every compiled kernel of theory._kernels against its plain-numpy reference.

Each kernel is run twice on the same input: in one range on the calling thread,
and split over column ranges on threads (by lowering the serial threshold to 0);
both must agree with the reference, so the threading policy can never change a
value.
"""

from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import reference as ref
from theory import _kernels


def _close(a, b, rel=1e-11, abs_=1e-13):
    a, b = np.asarray(a, float), np.asarray(b, float)
    both_inf = np.isinf(a) & np.isinf(b) & (np.sign(a) == np.sign(b))
    ok = both_inf | (np.abs(a - b) <= abs_ + rel * np.maximum(np.abs(a), np.abs(b)))
    return bool(np.all(ok))


@st.composite
def instances(draw):
    """Small stacks with zeros, tiny and subnormal entries, a target and weights."""
    K = draw(st.integers(1, 4))
    n = draw(st.integers(1, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    D = rng.dirichlet(np.full(n, 0.5), size=K)
    kind = draw(st.sampled_from(["plain", "zeros", "tiny", "subnormal"]))
    if kind == "zeros":
        D[rng.random(D.shape) < 0.3] = 0.0
    elif kind == "tiny":
        D[rng.random(D.shape) < 0.3] *= 1e-200
    elif kind == "subnormal":
        D[rng.random(D.shape) < 0.3] = 5e-324
    D[:, 0] += 1e-3  # no empty row
    D /= D.sum(axis=1, keepdims=True)
    q = rng.dirichlet(np.full(n, 0.5))
    if kind == "zeros":
        q[rng.random(n) < 0.2] = 0.0
        q[0] += 1e-3
        q /= q.sum()
    lam = rng.dirichlet(np.ones(K))
    return np.ascontiguousarray(D), q, lam


@contextmanager
def policy(split: bool):
    """Run the kernels in one range (``split=False``) or over threads (``split=True``)."""
    saved = _kernels.SERIAL_BELOW
    _kernels.SERIAL_BELOW = 0 if split else saved
    try:
        yield
    finally:
        _kernels.SERIAL_BELOW = saved


SPLIT = pytest.mark.parametrize("split", [False, True], ids=["serial", "split"])


@SPLIT
@given(inst=instances())
def test_divergence_kernels_match_reference(split, inst):
    with policy(split):
        D, q, lam = inst
        with np.errstate(divide="ignore", invalid="ignore"):
            assert _close(_kernels.kl_rows(D, q), ref.kl_rows(D, q), abs_=1e-12)
            assert _close(
                _kernels.cross_entropy_rows(D, q), ref.cross_entropy_rows(D, q), abs_=1e-12
            )
        assert _close(_kernels.entropy_rows(D), ref.entropy_rows(D), abs_=1e-12)
        m = _kernels.mixture(lam, D)
        # The kernel rounds an underflowing positive term up to the smallest subnormal.
        np.testing.assert_allclose(m, ref.mixture(lam, D), rtol=1e-14, atol=1e-321)
        # Exact support: supp D_λ = ∪_{λ_k > 0} supp D_k, even where λ_k D_k(x) underflows.
        assert np.array_equal(m > 0, ((lam[:, None] > 0) & (D > 0)).any(axis=0))
        assert _close(_kernels.jsd_sum(lam, D, m), ref.jsd(lam, D), abs_=1e-12)


@SPLIT
@given(inst=instances())
def test_scan_rows_matches_reference(split, inst):
    with policy(split):
        D = inst[0].copy()
        sums, clean = _kernels.scan_rows(D)
        rsums, rclean = ref.scan_rows(D)
        np.testing.assert_allclose(sums, rsums, rtol=1e-13)
        assert clean == rclean
        for bad in (np.nan, np.inf, -1e-300):
            E = D.copy()
            E[-1, -1] = bad
            assert not _kernels.scan_rows(E)[1]


@SPLIT
@given(inst=instances(), s=st.floats(0.05, 20.0))
def test_fill_pass_matches_reference(split, inst, s):
    with policy(split):
        D, q, lam = inst
        lo, hi = D.min(axis=0), D.max(axis=0)
        t = q
        got = _kernels.fill_pass(t, lo, hi, s)
        want = ref.fill_pass(t, lo, hi, s)
        assert _close(got[0], want[0], abs_=1e-300)
        assert _close(got[1], want[1]) and _close(got[2], want[2])
        assert got[3] == want[3] and got[4] == want[4]


@SPLIT
@given(inst=instances(), s=st.floats(0.05, 20.0))
def test_fill_model_is_the_clipped_target_and_positive_on_its_support(split, inst, s):
    with policy(split):
        D, q, lam = inst
        lo, hi = D.min(axis=0), D.max(axis=0)
        out = _kernels.fill_model(q, lo, hi, s)
        np.testing.assert_allclose(out, np.clip(q * s, lo, hi), rtol=1e-15, atol=1e-323)
        assert np.all(out[(q > 0) & (hi > 0)] > 0)


@SPLIT
@given(inst=instances(), clipped=st.booleans())
def test_gram_matches_reference(split, inst, clipped):
    with policy(split):
        D, q, lam = inst
        t = ref.mixture(lam, D)
        lo, hi = D.min(axis=0), D.max(axis=0)
        args = (q, lo, hi) if clipped else ()
        A, a, T = _kernels.gram(D, t, *args)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            rA, ra, rT = ref.gram(D, t, *args)
        assert np.allclose(A, A.T)
        np.testing.assert_allclose(A, rA, rtol=1e-10, atol=1e-300)
        np.testing.assert_allclose(a, ra, rtol=1e-12, atol=1e-300)
        assert _close(T, rT)


def test_split_covers_every_column_exactly_once(monkeypatch):
    monkeypatch.setattr(_kernels, "SERIAL_BELOW", 0)
    seen = []
    parts = _kernels.over_columns(lambda lo, hi: seen.append((lo, hi)) or (lo, hi), 10**6, 10_001)
    covered = np.zeros(10_001, int)
    for lo, hi in parts:
        covered[lo:hi] += 1
    assert np.all(covered == 1)
