"""Every compiled kernel of theory._kernels against its plain-numpy reference.

Each kernel is run twice on the same input: in one range on the calling thread,
and split over column ranges on threads (by lowering the serial threshold to 0);
both must agree with the reference, so the threading policy can never change a
value. The kernels that validate while they compute must report the row sums
and the bad entries (NaN, ±inf, negative) of exactly the input that has them.
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
    with np.errstate(invalid="ignore"):
        ok = both_inf | (np.abs(a - b) <= abs_ + rel * np.maximum(np.abs(a), np.abs(b)))
    return bool(np.all(ok))


@st.composite
def instances(draw):
    """Stacks with zeros, tiny and subnormal entries, a target and weights.

    Most are small; some span several column blocks of the blocked kernels.
    """
    K = draw(st.integers(1, 4))
    n = draw(st.one_of(st.integers(1, 40), st.integers(2000, 5000)))
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
        assert _close(_kernels.jsd(lam, D), ref.jsd(lam, D), abs_=1e-12)


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


MODES = {0: "entropy", 1: "cross_entropy", 2: "kl"}


def _reference_rows(mode, D, q):
    with np.errstate(divide="ignore", invalid="ignore"):
        return {0: ref.entropy_rows, 1: ref.cross_entropy_rows, 2: ref.kl_rows}[mode](
            *((D,) if mode == 0 else (D, q))
        )


@SPLIT
@pytest.mark.parametrize("mode", list(MODES), ids=list(MODES.values()))
@given(inst=instances())
def test_checked_rows_compute_and_scan_in_one_pass(split, mode, inst):
    with policy(split):
        D, q, lam = inst
        values, scans = _kernels.checked_rows(mode, D, None if mode == 0 else q)
        assert _close(values, _reference_rows(mode, D, q), abs_=1e-12)
        np.testing.assert_allclose(scans[0][0], D.sum(axis=1), rtol=1e-13)
        assert scans[0][1]
        if mode:
            np.testing.assert_allclose(scans[1][0], [q.sum()], rtol=1e-13)
            assert scans[1][1]


@SPLIT
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, -1e-300, -0.5])
@pytest.mark.parametrize("where", ["D", "q"])
def test_checked_kernels_flag_the_input_with_a_bad_entry(split, bad, where):
    rng = np.random.default_rng(3)
    D = rng.dirichlet(np.ones(3001), size=3)
    q = rng.dirichlet(np.ones(3001))
    lam = np.array([0.2, 0.0, 0.8])
    if where == "D":
        D[1, 2999] = bad  # a row with λ_k = 0: the checked kernels still read it
    else:
        q[1500] = bad
    with policy(split), np.errstate(all="ignore"):
        for mode in MODES:
            _, scans = _kernels.checked_rows(mode, D, None if mode == 0 else q)
            assert scans[0][1] == (where != "D")
            if mode:
                assert scans[1][1] == (where != "q")
        if where == "D":
            assert not _kernels.checked_mixture(lam, D)[1][1]
            assert not _kernels.checked_jsd(lam, D)[1][1]
            assert not _kernels.envelope(D)[2][1]
        g, scans, _ = _kernels.gate(q, D, 1e-12)
        assert [scans[0][1], scans[1][1]] == [where != "D", where != "q"]


@SPLIT
@given(inst=instances())
def test_checked_mixture_and_jsd_match_reference(split, inst):
    with policy(split):
        D, q, lam = inst
        m, (sums, clean) = _kernels.checked_mixture(lam, D)
        np.testing.assert_array_equal(m, _kernels.mixture(lam, D))
        np.testing.assert_allclose(m, ref.mixture(lam, D), rtol=1e-14, atol=1e-321)
        np.testing.assert_allclose(sums, D.sum(axis=1), rtol=1e-13)
        value, (sums_j, clean_j) = _kernels.checked_jsd(lam, D)
        assert _close(value, ref.jsd(lam, D), abs_=1e-12)
        np.testing.assert_allclose(sums_j, D.sum(axis=1), rtol=1e-13)
        assert clean and clean_j


@SPLIT
@given(inst=instances(), ties=st.booleans())
def test_envelope_and_gate_match_reference(split, inst, ties):
    with policy(split):
        D, q, lam = inst
        P = D.copy()
        if ties and P.shape[0] > 1:
            P[1, ::2] = P[0, ::2]  # equal experts: u = ℓ, and ties for argmin/argmax
        lo, hi, (sums, clean) = _kernels.envelope(P)
        rlo, rhi = ref.envelope(P)
        assert np.array_equal(lo, rlo) and np.array_equal(hi, rhi)
        np.testing.assert_allclose(sums, P.sum(axis=1), rtol=1e-13)
        for target in (lam @ P, q):  # inside the envelope, and (usually) outside
            g, scans, outside = _kernels.gate(target, P, 1e-12)
            rg, routside = ref.gate(target, P, 1e-12)
            assert np.array_equal(g, rg)
            assert outside == routside


@SPLIT
@given(inst=instances(), data=st.data())
def test_first_infeasible_matches_reference(split, inst, data):
    with policy(split):
        D, q, lam = inst
        u = q  # q has zeros in the "zeros" family
        active = np.array(data.draw(st.lists(st.booleans(), min_size=len(D), max_size=len(D))))
        assert _kernels.first_infeasible(D, u, active) == ref.first_infeasible(D, u, active)


def test_log_parts_is_accurate_on_every_finite_non_negative_float():
    r = np.concatenate(
        [
            [
                5e-324,
                1e-320,
                2.2250738585072014e-308,
                1e-300,
                0.5,
                1.0,
                2.0,
                1.7976931348623157e308,
            ],
            np.nextafter(1.0, [0.0, 2.0]),
            np.sqrt([0.5, 2.0]),
            np.geomspace(1e-320, 1e300, 2000),
            1.0 + np.linspace(-1e-6, 1e-6, 101),
        ]
    )
    for x in r:
        e, f = _kernels._log_parts(x)
        got = e * np.log(2.0) + f
        assert abs(got - np.log(x)) <= 4e-16 * max(1.0, abs(np.log(x))), x
        assert float(e).is_integer() and abs(f) <= 0.35
    e, f = _kernels._log_parts(0.0)
    assert e == -np.inf
