"""Shared pieces of the fuzz suite (tests/test_fuzz_*.py): the error contract as
assertions, catalogues of bad arguments, and hypothesis strategies for valid and
extreme instances.

The contract every public function must keep (the package's error rules): a call
either returns a result that holds no NaN and satisfies the function's own
invariants, or raises ``ValueError``/``TypeError`` whose message names the
offending argument. Complex numbers (even with a zero imaginary part), booleans,
strings, ``None``, 0-d input where a vector is expected and a bare ``str`` where
a list of strings is expected are errors, never coerced.

Every call made through :func:`reject` or :func:`attempt` is counted in
:data:`TALLY`; ``tests/conftest.py`` prints the totals at the end of a run.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import warnings
from collections.abc import Callable, Iterable

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st

SUBNORMAL = 5e-324
TINY = 1e-300
HUGE = 1e300
NAN = float("nan")
INF = float("inf")


@dataclasses.dataclass
class Tally:
    """Calls made by the fuzz suite: results returned, contract errors raised, and
    calls that broke the contract (a bad argument accepted, another exception, or a
    complex value silently cast; only the strict xfail tests of known defects should
    have any)."""

    calls: int = 0
    results: int = 0
    errors: int = 0
    broken: int = 0

    def line(self) -> str:
        return (
            f"fuzz suite: {self.calls} calls, {self.results} valid results, "
            f"{self.errors} ValueError/TypeError, {self.broken} contract breaks (xfail)"
        )


TALLY = Tally()


#: Multiplier of every fuzz test's example budget: ``FUZZ_SCALE=10 pytest tests/test_fuzz_*``
#: searches ten times deeper (the default keeps the suite within a minute on 2 cores).
SCALE = float(os.environ.get("FUZZ_SCALE", "1"))


def examples(n: int) -> settings:
    """Hypothesis settings with ``n`` examples (times :data:`SCALE`)."""
    return settings(max_examples=max(1, int(n * SCALE)))


# ----------------------------------------------------------------------------- contract


def names_argument(message: str, names: Iterable[str]) -> bool:
    """Whether ``message`` mentions one of ``names`` as a whole word (``D`` is not ``D_1``)."""
    return any(
        re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", message) is not None for name in names
    )


def _as_names(names) -> tuple[str, ...]:
    return (names,) if isinstance(names, str) else tuple(names)


def _run(fn: Callable, args, kwargs):
    """``(result, None)`` or ``(None, exception)``; a complex value silently cast to
    float (numpy's ComplexWarning) fails the contract whatever the outcome."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", np.exceptions.ComplexWarning)
        try:
            result, error = fn(*args, **kwargs), None
        except Exception as exc:
            result, error = None, exc
    cast = [w for w in caught if issubclass(w.category, np.exceptions.ComplexWarning)]
    if cast:
        TALLY.broken += 1
        pytest.fail(f"{_label(fn)}: complex input silently cast to real ({cast[0].message})")
    return result, error


def _label(fn: Callable) -> str:
    return getattr(fn, "__qualname__", repr(fn))


def _contract_error(fn: Callable, error: Exception, names: tuple[str, ...]) -> None:
    if not isinstance(error, ValueError | TypeError):
        TALLY.broken += 1
        raise error
    TALLY.errors += 1
    assert names_argument(str(error), names), (
        f"{_label(fn)}: the message {str(error)!r:.300} names none of {names}"
    )


def reject(fn: Callable, *args, names, **kwargs) -> Exception:
    """Call ``fn``, which must refuse its input with a ValueError/TypeError naming one of ``names``."""
    names = _as_names(names)
    TALLY.calls += 1
    result, error = _run(fn, args, kwargs)
    if error is not None:
        _contract_error(fn, error, names)
        return error
    TALLY.broken += 1
    pytest.fail(f"{_label(fn)} accepted a bad argument {names}: returned {result!r:.200}")


def attempt(fn: Callable, *args, names, **kwargs):
    """Call ``fn`` on an input that may or may not be acceptable.

    Returns the result (checked to hold no NaN) or None when the call raised a
    ValueError/TypeError naming one of ``names``; any other exception, or an
    error message naming none of them, fails the test.
    """
    names = _as_names(names)
    TALLY.calls += 1
    result, error = _run(fn, args, kwargs)
    if error is not None:
        _contract_error(fn, error, names)
        return None
    TALLY.results += 1
    assert_no_nan(result, _label(fn))
    return result


def accept(fn: Callable, *args, **kwargs):
    """Call ``fn`` on a valid input: it must return, and its result must hold no NaN."""
    TALLY.calls += 1
    result, error = _run(fn, args, kwargs)
    if error is not None:
        if isinstance(error, ValueError | TypeError):
            TALLY.errors += 1
        else:
            TALLY.broken += 1
        raise error
    TALLY.results += 1
    assert_no_nan(result, _label(fn))
    return result


def assert_no_nan(obj, where: str = "result", _depth: int = 0) -> None:
    """Walk a result (numbers, arrays, sequences, dicts, dataclasses) and fail on any NaN."""
    if _depth > 6 or obj is None or isinstance(obj, str | bytes | bool):
        return
    if isinstance(obj, float | np.floating):
        assert not math.isnan(obj), f"{where}: NaN"
    elif isinstance(obj, complex | np.complexfloating):
        pytest.fail(f"{where}: complex value {obj!r}")
    elif isinstance(obj, np.ndarray):
        if obj.dtype.kind == "c":
            pytest.fail(f"{where}: complex array")
        if obj.dtype.kind == "f":
            assert not np.isnan(obj).any(), f"{where}: NaN at {np.argwhere(np.isnan(obj))[0]}"
        elif obj.dtype.kind == "O":
            for i, v in enumerate(obj.ravel()):
                assert_no_nan(v, f"{where}[{i}]", _depth + 1)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            assert_no_nan(v, f"{where}[{k!r}]", _depth + 1)
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            assert_no_nan(v, f"{where}[{i}]", _depth + 1)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            assert_no_nan(getattr(obj, f.name), f"{where}.{f.name}", _depth + 1)
        records = getattr(obj, "records", None)
        if records is not None:
            assert_no_nan(records, f"{where}.records", _depth + 1)


def assert_simplex(p, where: str = "result", atol: float = 1e-9) -> None:
    """``p`` (a vector, or rows of a matrix) lies on the simplex: finite, ≥ 0, sums to 1."""
    p = np.asarray(p, dtype=np.float64)
    assert np.all(np.isfinite(p)), f"{where}: not finite"
    assert np.all(p >= 0), f"{where}: negative entry {p.min()!r}"
    sums = p.sum(axis=-1)
    assert np.all(np.abs(sums - 1.0) <= atol), f"{where}: sums to {sums!r}"


def assert_ordered(lower: float, upper: float, where: str = "bounds") -> None:
    """A certified interval: lower ≤ upper up to rounding, neither NaN."""
    assert not (math.isnan(lower) or math.isnan(upper)), f"{where}: NaN"
    slack = 1e-10 * max(1.0, abs(lower), abs(upper)) if math.isfinite(upper) else 0.0
    assert lower <= upper + slack, f"{where}: lower {lower!r} > upper {upper!r}"


# --------------------------------------------------------------------------- catalogues

#: Seeds every random entry point must refuse.
BAD_SEEDS = [
    ("negative", -1),
    ("float", 1.5),
    ("integral float", 2.0),
    ("string", "abc"),
    ("nan", NAN),
    ("bool", True),
    ("None", None),
    ("complex", 1 + 0j),
    ("empty list", []),
    ("negative in list", [1, -1]),
]

#: Integer arguments (sizes, counts, orders) that must be refused wherever the
#: minimum is ≥ 1.
BAD_COUNTS = [
    ("zero", 0),
    ("negative", -3),
    ("float", 2.5),
    ("integral float", 2.0),
    ("string", "2"),
    ("bool", True),
    ("None", None),
    ("nan", NAN),
    ("complex", 2 + 0j),
    ("list", [2]),
]

#: Real scalar arguments that must be finite: never NaN, inf, a string, a bool,
#: a complex number, None or a list.
BAD_REALS = [
    ("nan", NAN),
    ("inf", INF),
    ("-inf", -INF),
    ("string", "0.1"),
    ("bool", True),
    ("complex", 0.1 + 0j),
    ("None", None),
    ("list", [0.1]),
]


def onehot_rows(K: int, n: int) -> np.ndarray:
    """K one-hot rows on n points (K ≤ n gives distinct rows): valid as numbers in any kind."""
    D = np.zeros((K, n))
    D[np.arange(K), np.arange(K) % n] = 1.0
    return D


def kind_variants(valid) -> list[tuple[str, object]]:
    """The numbers of the valid real array ``valid``, written in kinds that must be refused.

    Each variant would pass the checks if it were silently converted to float64
    (use an array of 0s and 1s, e.g. :func:`onehot_rows`, so booleans and strings
    are exact too).
    """
    a = np.asarray(valid, dtype=np.float64)
    obj = a.astype(object)
    obj.ravel()[0] = None
    return [
        ("complex dtype", a.astype(np.complex128)),
        ("complex entries", a.astype(complex).tolist()),
        ("complex imaginary", a + 1e-3j),
        ("string entries", np.vectorize(lambda v: repr(float(v)))(a).tolist()),
        ("string dtype", a.astype(str)),
        ("bare string", "0.5"),
        ("bytes", b"1"),
        ("boolean dtype", a.astype(bool)),
        ("boolean entries", a.astype(bool).tolist()),
        ("None entry", obj),
        ("None", None),
        ("dict", {"a": 1.0}),
        ("set", {1.0}),
    ]


def shape_variants(valid, fixed: tuple[int, ...] = ()) -> list[tuple[str, object]]:
    """The valid array ``valid`` in shapes that must be refused (wrong rank, empty, ragged).

    ``fixed`` lists the axes whose length the function constrains (to K or to
    |X|, say); one more entry along each of them is refused too.
    """
    a = np.asarray(valid, dtype=np.float64)
    out = [
        ("0-d", a.ravel()[0]),
        ("0-d array", np.asarray(a.ravel()[0])),
        ("3-d", a.reshape((1,) * (3 - a.ndim) + a.shape)),
        ("empty", np.empty((0,) * a.ndim)),
        ("ragged", [[1.0], [0.5, 0.5]]),
    ]
    if a.ndim == 2:
        out += [("1-d", a[0]), ("no columns", np.empty((a.shape[0], 0)))]
    else:
        out += [("2-d", a[None, :])]
    for axis in fixed:
        if axis == a.ndim - 1:
            # A zero column keeps every row a distribution: only the length is wrong.
            pad = [(0, 0)] * (a.ndim - 1) + [(0, 1)]
            longer = np.pad(a, pad)
        else:
            longer = np.concatenate([a, a.take([0], axis=axis)], axis=axis)
        out.append((f"one more along axis {axis}", longer))
    return out


def distribution_value_variants(valid) -> list[tuple[str, object]]:
    """The distribution(s) ``valid`` spoiled in value: NaN, ±inf, negative, off the simplex."""
    a = np.asarray(valid, dtype=np.float64)
    out = []
    for label, value in [("nan", NAN), ("inf", INF), ("-inf", -INF), ("1e300", HUGE)]:
        b = a.copy()
        b.ravel()[0] = value
        out.append((label, b))
    b = a.copy()
    b.ravel()[0] += 2.0
    b.ravel()[1] -= 2.0
    out.append(("negative", b))
    out.append(("sums to 1.1", a * 1.1))
    out.append(("sums to 0.9", a * 0.9))
    out.append(("sums to 1 + 1e-8", a * (1 + 1e-8)))
    out.append(("overflowing sum", np.full(a.shape, 1e308)))
    out.append(("zeros", np.zeros(a.shape)))
    return out


def array_variants(valid, fixed: tuple[int, ...] = ()) -> list[tuple[str, object]]:
    """Kind and shape variants of a valid array argument (all of them must be refused)."""
    return kind_variants(valid) + shape_variants(valid, fixed)


def distribution_variants(valid, fixed: tuple[int, ...] = ()) -> list[tuple[str, object]]:
    """Every refused variant of a distribution (or stack of distributions) argument."""
    return array_variants(valid, fixed) + distribution_value_variants(valid)


# --------------------------------------------------------------------------- strategies

#: Probabilities before normalization: ordinary values and the extremes the
#: package promises to handle (exact zeros, the subnormal 5e-324, 1e-300, 1e-12).
_WEIGHT = st.one_of(
    st.floats(1e-3, 1.0),
    st.sampled_from([0.0, 0.0, SUBNORMAL, TINY, 1e-12, 1.0, 1e-3]),
)


def _weights(extreme: bool, full_support: bool = False):
    return st.floats(1e-3, 1.0) if full_support or not extreme else _WEIGHT


def _normalize(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float64)
    rows = rows / rows.max(axis=-1, keepdims=True)
    return rows / rows.sum(axis=-1, keepdims=True)


@st.composite
def distributions(draw, n, *, extreme: bool = True):
    """A distribution on ``n`` points (``n`` an int or a strategy) with zeros, 1e-300
    and 5e-324 entries (unless ``extreme=False``)."""
    n = draw(n) if isinstance(n, st.SearchStrategy) else n
    w = draw(st.lists(_weights(extreme), min_size=n, max_size=n))
    w[draw(st.integers(0, n - 1))] = 1.0
    return _normalize(np.array(w))


@st.composite
def stacks(draw, K, n, *, extreme: bool = True, full_support: bool = False):
    """A (K, n) stack of distributions; ``full_support`` keeps every entry ≥ 1e-3 before scaling."""
    K = draw(K) if isinstance(K, st.SearchStrategy) else K
    n = draw(n) if isinstance(n, st.SearchStrategy) else n
    weight = _weights(extreme, full_support)
    rows = []
    for _ in range(K):
        w = draw(st.lists(weight, min_size=n, max_size=n))
        w[draw(st.integers(0, n - 1))] = 1.0
        rows.append(w)
    return _normalize(np.array(rows))


_SMALL_K = st.integers(1, 3)
_SMALL_N = st.integers(1, 5)


@st.composite
def instances(draw, K=_SMALL_K, n=_SMALL_N, *, extreme: bool = True):
    """Domains D and experts P of the same shape; P is D, a perturbation of D, or random."""
    K = draw(K) if isinstance(K, st.SearchStrategy) else K
    n = draw(n) if isinstance(n, st.SearchStrategy) else n
    D = draw(stacks(K, n, extreme=extreme))
    how = draw(st.sampled_from(["perfect", "mixed", "random"]))
    if how == "perfect":
        P = D.copy()
    elif how == "mixed":
        P = _normalize(0.7 * D + 0.3 * draw(stacks(K, n, extreme=extreme)))
    else:
        P = draw(stacks(K, n, extreme=extreme))
    return D, P


def mixture_sets(K: int):
    """A strategy for a set Λ ⊆ Δ_K of every family (small, valid parameters)."""
    from theory.mixtures import Box, KLBall, L1Ball, L2Ball, Polytope, Simplex

    center = distributions(K, extreme=False)
    radius = st.sampled_from([0.0, 5e-324, 1e-6, 0.05, 0.3, 1.0, 3.0, 1e300])

    @st.composite
    def boxes(draw):
        c = draw(center)
        lo = c * draw(st.sampled_from([0.0, 0.5, 1.0]))
        hi = np.minimum(1.0, c + draw(st.sampled_from([0.0, 0.1, 1.0])))
        return Box(lo, hi)

    @st.composite
    def polytopes(draw):
        m = draw(st.integers(1, 3))
        return Polytope(np.array([draw(center) for _ in range(m)]))

    return st.one_of(
        st.just(Simplex(K)),
        boxes(),
        st.builds(L1Ball, center, radius),
        polytopes(),
        st.builds(KLBall, center, radius),
        st.builds(L2Ball, center, radius),
    )


# ------------------------------------------------------------------ case tables


#: Sets Λ that no solver may accept for an instance with K = 2.
def bad_mixtures() -> list[tuple[str, object]]:
    from theory.mixtures import KLBall, Simplex

    return [
        ("Simplex of the wrong K", Simplex(3)),
        ("ball of the wrong K", KLBall([1 / 3] * 3, 0.1)),
        ("string", "simplex"),
        ("weights", [0.5, 0.5]),
        ("number", 2),
        ("class", Simplex),
    ]


#: ``objective=`` values that must be refused for K = 2.
BAD_OBJECTIVES = [
    ("unknown name", "kl"),
    ("None", None),
    ("nan offsets", [NAN, 0.0]),
    ("inf offsets", [INF, 0.0]),
    ("complex offsets", [0j, 0j]),
    ("string offsets", ["0", "0"]),
    ("boolean offsets", [True, False]),
    ("wrong length", [0.0, 0.0, 0.0]),
    ("0-d offsets", 0.0),
    ("2-d offsets", [[0.0, 0.0]]),
    ("empty offsets", []),
]


def without(variants: list, *labels: str) -> list:
    """``variants`` minus those labelled ``labels`` (e.g. ``"None"`` where None means the default)."""
    return [v for v in variants if v[0] not in labels]


def cases(fn: Callable, base: dict, variants: dict, *, prefix: str = "") -> list:
    """pytest params ``(fn, kwargs, names)``: ``base`` with one argument replaced by a variant.

    ``variants`` maps an argument name to its ``(label, value)`` list. A
    variant labelled "one more …" (a length that disagrees with another
    argument) may be reported under the name of any array argument in
    ``variants``.
    """
    out = []
    arrays = tuple(variants)
    for arg, items in variants.items():
        for label, value in items:
            names = arrays if label.startswith("one more") else (arg,)
            ident = f"{prefix or fn.__name__}-{arg}-{label}"
            out.append(pytest.param(fn, {**base, arg: value}, names, id=ident))
    return out
