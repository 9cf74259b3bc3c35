"""Input validation shared by every public entry point of modgate.

One place checks distributions, stacks of distributions, mixture weights,
scalars, seeds, sets Λ and the feasibility of an instance, so that every public
function fails the same way: a ``ValueError`` (or, for a value of the wrong
kind, a ``TypeError``) whose message names the argument, the expected form and
what was received. Nothing here coerces silently: complex numbers, strings,
booleans, 0-d input where a vector is expected and a bare ``str`` where a list
of strings is expected are errors.

Arrays are scanned by one compiled pass (row sums, and a count of entries
that are not finite and non-negative); only when that pass finds a problem is
the detailed message (with the offending index) built. The functions of
:mod:`theory.divergences` and :func:`theory.gates.gate_for` get that scan from
the kernel that computes their result, so they read each input once: the
private helpers ``_prepare``, ``_stack`` and ``_distribution`` below split
each check into what needs no pass over the values and the verdict on a scan.

Examples
--------
>>> from theory.validation import check_distribution
>>> check_distribution([0.25, 0.75], "p")
array([0.25, 0.75])
>>> check_distribution([0.5, 0.6], "p")
Traceback (most recent call last):
...
ValueError: p: must sum to 1 (tolerance 1e-09), sums to 1.1
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence

import numpy as np

from theory import _kernels

__all__ = [
    "SUM_TOL",
    "ENVELOPE_RTOL",
    "MAX_BYTES",
    "InfeasibleError",
    "ArgumentTypeError",
    "as_real_array",
    "check_distribution",
    "check_stack",
    "check_weights",
    "check_pair",
    "check_same_length",
    "check_positive",
    "check_real",
    "check_int",
    "check_seed",
    "check_choice",
    "check_strings",
    "check_labels",
    "check_mixtures",
    "check_allocation",
    "check_feasible",
    "check_flag",
    "check_callable",
]

#: Tolerance on ``sum == 1`` for rows that must lie on the simplex.
SUM_TOL = 1e-9

#: Relative slack of the envelope test ℓ(x) ≤ q(x) ≤ u(x) (T2): a few hundred
#: ulps of u(x), so that a model computed in floating point from its experts is
#: inside, while any genuine excursion is not.
ENVELOPE_RTOL = 1e-12

#: Largest single allocation a generator may make (bytes); beyond it the
#: request is refused before any memory is touched.
MAX_BYTES = 4 * 1024**3


class InfeasibleError(ValueError):
    """The objective is infinite: a domain puts mass where every expert has none.

    With u(x) = max_k p_k(x) the upper envelope of the experts, every model a
    gate can produce satisfies q ≤ u (T2), so a domain D_k with D_k(x) > 0 = u(x)
    has loss CE(D_k, q) = +∞ for all of them, and so does V* whenever some
    admissible mixture weights that domain. A subclass of ``ValueError``.

    Examples
    --------
    >>> import numpy as np
    >>> D = np.array([[0.5, 0.5]])
    >>> P = np.array([[1.0, 0.0]])
    >>> try:
    ...     check_feasible(D, P)
    ... except InfeasibleError as exc:
    ...     print(type(exc).__name__, isinstance(exc, ValueError))
    InfeasibleError True
    """


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong kind (complex, string, boolean, object …).

    Both a ``TypeError`` and a ``ValueError``, so that ``except ValueError``
    catches every input error of the package, as its error contract promises
    (see the how-to page on errors of the documentation).

    Examples
    --------
    >>> try:
    ...     check_real("1.5", "tol")
    ... except ValueError as exc:
    ...     print(type(exc).__name__, "-", exc)
    ArgumentTypeError - tol: expected a real number, got '1.5'
    """


def as_real_array(x, name: str, ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    """``x`` as a float64 numpy array, refusing anything that is not real numbers.

    Complex values (even with zero imaginary part), booleans, strings, ragged
    nested lists and other objects raise, naming ``name``; integers are
    accepted and converted.

    Parameters
    ----------
    x : array_like
        The input.
    name : str
        Argument name used in error messages.
    ndim : int or tuple of int, optional
        The required number of dimensions (or the allowed ones).

    Returns
    -------
    ndarray
        A C-ordered float64 array of the same shape as ``x``.

    Raises
    ------
    ArgumentTypeError
        If ``x`` is a string, holds complex numbers, booleans or non-numbers.
    ValueError
        If ``x`` is ragged, cannot be converted to float64, or has a number of
        dimensions not allowed by ``ndim``.

    Examples
    --------
    >>> as_real_array([1, 2], "x")
    array([1., 2.])
    >>> as_real_array(3.0, "x", ndim=1)
    Traceback (most recent call last):
    ...
    ValueError: x: expected a 1-D array, got a scalar
    """
    if isinstance(x, str | bytes):
        raise ArgumentTypeError(
            f"{name}: expected an array of real numbers, got a string {x!r:.40}"
        )
    try:
        a = np.asarray(x)
    except ValueError as exc:  # ragged nested sequences
        raise ValueError(f"{name}: expected a rectangular array of real numbers ({exc})") from None
    kind = a.dtype.kind
    if kind == "c":
        raise ArgumentTypeError(
            f"{name}: complex values are not probabilities; got dtype {a.dtype}"
        )
    if kind == "b":
        raise ArgumentTypeError(f"{name}: expected real numbers, got booleans")
    if kind == "O":
        try:
            items = a.ravel().tolist()
        except Exception:  # pragma: no cover - defensive
            items = []
        if any(isinstance(v, complex | np.complexfloating) for v in items):
            raise ArgumentTypeError(f"{name}: complex values are not probabilities")
        if any(not isinstance(v, numbers.Real) or isinstance(v, bool) for v in items):
            bad = next(v for v in items if not isinstance(v, numbers.Real) or isinstance(v, bool))
            raise ArgumentTypeError(
                f"{name}: expected real numbers, found an entry of type {type(bad).__name__}"
            )
    elif kind not in "fiu":
        raise ArgumentTypeError(f"{name}: expected an array of real numbers, got dtype {a.dtype}")
    try:
        # np.ascontiguousarray would turn a 0-d input into a vector of length 1.
        out = np.asarray(a, dtype=np.float64, order="C")
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"{name}: cannot be read as real numbers ({exc})") from None
    if ndim is not None:
        dims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if out.ndim not in dims:
            want = " or ".join(f"{d}-D" for d in dims)
            what = "a scalar" if out.ndim == 0 else f"an array of shape {out.shape}"
            raise ValueError(f"{name}: expected a {want} array, got {what}")
    return out


def _array(x, name: str, ndim: int) -> np.ndarray:
    """``x`` as a C-contiguous float64 array of ``ndim`` dimensions, not empty.

    Everything that can be checked without reading the values: the kind of the
    entries, the dimension and the size.
    """
    a = as_real_array(x, name)
    if a.ndim != ndim:
        kind = {1: "a 1-D vector", 2: "a 2-D (K, n) matrix"}[ndim]
        what = "a scalar" if a.ndim == 0 else f"an array of shape {a.shape}"
        raise ValueError(f"{name}: expected {kind}, got {what}")
    if a.size == 0:
        raise ValueError(f"{name}: expected a non-empty array, got shape {a.shape}")
    return a


def _prepare(*specs: tuple) -> list[np.ndarray] | None:
    """The arrays of ``(x, name, ndim)`` specs for a fused pass, or None if one is malformed.

    A fused pass reads all its inputs at once, so it can only start when every
    one of them has the right kind and dimension; otherwise the caller runs the
    checks one input after the other, which raise in the documented order.
    """
    try:
        return [_array(x, name, ndim) for x, name, ndim in specs]
    except ValueError:
        return None


def _entries(a: np.ndarray, name: str, clean: bool) -> None:
    """Raise for NaN/inf or negative entries of ``a``, naming the first, unless ``clean``.

    ``clean`` comes from a compiled pass (finite row sums, no sign bit set);
    only when it is false are the values looked at again, to build the
    message. That pass also flags −0.0 and finite rows whose sum overflows;
    for those nothing is raised here (the sum check that follows reports an
    overflow).
    """
    if clean:
        return
    if not np.all(np.isfinite(a)):
        bad = np.argwhere(~np.isfinite(a))[0]
        raise ValueError(
            f"{name}: contains NaN or inf (first at index {tuple(int(i) for i in bad)})"
        )
    negative = np.argwhere(a < 0)
    if negative.size:
        bad = tuple(int(i) for i in negative[0])
        raise ValueError(f"{name}: entries must be non-negative, found {a[bad]:.3g} at index {bad}")


def _scan(a: np.ndarray) -> tuple[np.ndarray, bool]:
    """Row sums of ``a`` (as rows of its last axis) and whether its entries are finite and ≥ 0."""
    return _kernels.scan_rows(a.reshape(-1, a.shape[-1]))


def _check_total(total: float, name: str, what: str) -> None:
    if not math.isfinite(total):
        raise ValueError(f"{name}: {what} overflows (the entries are too large to be weights)")


def _distribution(a: np.ndarray, name: str, scan: tuple, *, normalize: bool = False) -> np.ndarray:
    """The verdict of :func:`check_distribution` on ``a`` from its ``scan`` (sums, clean)."""
    sums, clean = scan
    _entries(a, name, clean)
    total = float(sums[0])
    _check_total(total, name, "the sum of the entries")
    if normalize:
        if total <= 0:
            raise ValueError(f"{name}: cannot normalize, the entries sum to {total}")
        return a / total
    if abs(total - 1.0) > SUM_TOL:
        raise ValueError(f"{name}: must sum to 1 (tolerance {SUM_TOL:g}), sums to {total!r}")
    return a


def _stack(
    a: np.ndarray,
    name: str,
    scan: tuple,
    *,
    normalize: bool = False,
    K: int | None = None,
    n: int | None = None,
) -> np.ndarray:
    """The verdict of :func:`check_stack` on ``a`` from its ``scan`` (row sums, clean)."""
    totals, clean = scan
    _entries(a, name, clean)
    if K is not None and a.shape[0] != K:
        raise ValueError(f"{name}: expected {K} rows (one per domain/expert), got {a.shape[0]}")
    if n is not None and a.shape[1] != n:
        raise ValueError(f"{name}: expected {n} columns (|X| = {n}), got {a.shape[1]}")
    _check_total(float(np.max(totals)), name, "a row sum")
    if normalize:
        if np.any(totals <= 0):
            k = int(np.argmin(totals))
            raise ValueError(f"{name}: cannot normalize row {k}, it sums to {totals[k]}")
        return a / totals[:, None]
    off = np.abs(totals - 1.0)
    if np.any(off > SUM_TOL):
        k = int(np.argmax(off))
        raise ValueError(
            f"{name}: every row must sum to 1 (tolerance {SUM_TOL:g}); row {k} sums to "
            f"{float(totals[k])!r}"
        )
    return a


def check_distribution(p, name: str = "p", *, normalize: bool = False) -> np.ndarray:
    """Return ``p`` as a C-contiguous float64 vector on the simplex Δ(X).

    A distribution on a finite X of n points is a vector p ∈ R^n with
    p(x) ≥ 0 and Σ_x p(x) = 1; the sum is accepted within :data:`SUM_TOL`.

    Parameters
    ----------
    p : array_like, shape (n,)
        The candidate distribution.
    name : str, default "p"
        Argument name used in error messages.
    normalize : bool, default False
        Divide by the total instead of requiring it to be 1 (the total must
        then be positive).

    Returns
    -------
    ndarray, shape (n,)
        ``p`` as float64 (divided by its total when ``normalize``).

    Raises
    ------
    ValueError
        If ``p`` is not 1-D, is empty, has NaN/inf or negative entries, or does
        not sum to 1 within :data:`SUM_TOL` (with ``normalize``: sums to 0 or
        overflows). The message names ``name`` and the first offending index.
    ArgumentTypeError
        If ``p`` is not real numbers (see :func:`as_real_array`).

    Examples
    --------
    >>> check_distribution([1, 3], "p", normalize=True)
    array([0.25, 0.75])
    >>> check_distribution([0.5, -0.1, 0.6], "q")
    Traceback (most recent call last):
    ...
    ValueError: q: entries must be non-negative, found -0.1 at index (1,)
    """
    a = _array(p, name, 1)
    return _distribution(a, name, _scan(a), normalize=normalize)


def check_stack(
    D, name: str = "D", *, normalize: bool = False, K: int | None = None, n: int | None = None
) -> np.ndarray:
    """Return ``D`` as a C-contiguous float64 (K, n) matrix with rows on the simplex.

    Used for the domains D and the experts P: row k is a distribution on the n
    points of X.

    Parameters
    ----------
    D : array_like, shape (K, n)
        The candidate stack of distributions.
    name : str, default "D"
        Argument name used in error messages.
    normalize : bool, default False
        Divide every row by its total instead of requiring it to be 1.
    K, n : int, optional
        The required number of rows and columns.

    Returns
    -------
    ndarray, shape (K, n)
        ``D`` as float64.

    Raises
    ------
    ValueError
        If ``D`` is not 2-D, is empty, has NaN/inf or negative entries, has the
        wrong number of rows or columns, or a row does not sum to 1 within
        :data:`SUM_TOL` (the message names the row).
    ArgumentTypeError
        If ``D`` is not real numbers.

    Examples
    --------
    >>> check_stack([[0.5, 0.5], [0.2, 0.8]], "P")
    array([[0.5, 0.5],
           [0.2, 0.8]])
    >>> check_stack([[0.5, 0.5], [0.2, 0.7]], "P")
    Traceback (most recent call last):
    ...
    ValueError: P: every row must sum to 1 (tolerance 1e-09); row 1 sums to 0.8999999999999999
    """
    a = _array(D, name, 2)
    return _stack(a, name, _scan(a), normalize=normalize, K=K, n=n)


def check_weights(lam, K: int, name: str = "lam") -> np.ndarray:
    """Return mixture weights ``lam`` as a float64 vector of length ``K`` on Δ_K.

    A mixture λ ∈ Δ_K weighs the K domains: λ_k ≥ 0 and Σ_k λ_k = 1.

    Parameters
    ----------
    lam : array_like, shape (K,)
        The candidate weights.
    K : int
        The number of domains.
    name : str, default "lam"
        Argument name used in error messages.

    Returns
    -------
    ndarray, shape (K,)
        The weights as float64.

    Raises
    ------
    ValueError
        If ``lam`` is not a distribution (see :func:`check_distribution`) or
        does not have K entries.

    Examples
    --------
    >>> check_weights([0.3, 0.7], 2)
    array([0.3, 0.7])
    >>> check_weights([0.3, 0.7], 3)
    Traceback (most recent call last):
    ...
    ValueError: lam: expected 3 weights (one per row), got 2
    """
    a = check_distribution(lam, name)
    if a.shape[0] != K:
        raise ValueError(f"{name}: expected {K} weights (one per row), got {a.shape[0]}")
    return a


def check_pair(D, P, *, names: tuple[str, str] = ("D", "P")) -> tuple[np.ndarray, np.ndarray]:
    """Validate domains ``D`` and experts ``P`` as stacks of the same shape (K, n).

    Parameters
    ----------
    D, P : array_like, shape (K, n)
        The domains and the experts, one distribution per row.
    names : tuple of str, default ("D", "P")
        Argument names used in error messages.

    Returns
    -------
    D, P : ndarray, shape (K, n)
        Both as float64.

    Raises
    ------
    ValueError
        If either is not a stack of distributions (``D`` is checked first), or
        ``P`` has another number of rows or columns than ``D``.

    Examples
    --------
    >>> D, P = check_pair([[1.0, 0.0]], [[0.5, 0.5]])
    >>> D.shape == P.shape
    True
    """
    D = check_stack(D, names[0])
    P = check_stack(P, names[1], K=D.shape[0], n=D.shape[1])
    return D, P


def check_same_length(p: np.ndarray, q: np.ndarray, names: tuple[str, str]) -> None:
    """Raise unless the last axes of ``p`` and ``q`` have the same length n (the size of X).

    Parameters
    ----------
    p, q : ndarray
        Validated arrays (vectors or stacks) over the same X.
    names : tuple of str
        Their argument names, used in the message.

    Raises
    ------
    ValueError
        If the lengths of the last axes differ.

    Examples
    --------
    >>> import numpy as np
    >>> check_same_length(np.ones(2), np.ones(3), ("p", "q"))
    Traceback (most recent call last):
    ...
    ValueError: p and q must have the same length |X|, got 2 and 3
    """
    if p.shape[-1] != q.shape[-1]:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same length |X|, "
            f"got {p.shape[-1]} and {q.shape[-1]}"
        )


def check_real(x, name: str) -> float:
    """Return ``x`` as a finite float; booleans, strings, complex and NaN/inf raise.

    Parameters
    ----------
    x : real number
        The candidate scalar (Python or numpy).
    name : str
        Argument name used in error messages.

    Returns
    -------
    float
        ``x`` as a finite float.

    Raises
    ------
    ArgumentTypeError
        If ``x`` is not a real number (booleans included).
    ValueError
        If ``x`` is NaN or infinite.

    Examples
    --------
    >>> check_real(2, "r")
    2.0
    """
    if isinstance(x, bool | np.bool_) or not isinstance(x, numbers.Real):
        raise ArgumentTypeError(f"{name}: expected a real number, got {x!r:.60}")
    v = float(x)
    if not math.isfinite(v):
        raise ValueError(f"{name}: expected a finite number, got {x!r}")
    return v


def check_positive(x, name: str, *, allow_zero: bool = False) -> float:
    """Return ``x`` as a float, requiring it to be finite and > 0 (or ≥ 0).

    Parameters
    ----------
    x : real number
        The candidate scalar.
    name : str
        Argument name used in error messages.
    allow_zero : bool, default False
        Accept 0 as well.

    Returns
    -------
    float
        ``x`` as a finite float, > 0 (≥ 0 with ``allow_zero``).

    Raises
    ------
    ArgumentTypeError
        If ``x`` is not a real number.
    ValueError
        If ``x`` is NaN, infinite, negative, or 0 when ``allow_zero`` is false.

    Examples
    --------
    >>> check_positive(1e-9, "tol")
    1e-09
    >>> check_positive(0, "tol")
    Traceback (most recent call last):
    ...
    ValueError: tol: expected a finite number > 0, got 0
    """
    v = check_real(x, name)
    if v < 0 or (v == 0 and not allow_zero):
        bound = "≥ 0" if allow_zero else "> 0"
        raise ValueError(f"{name}: expected a finite number {bound}, got {x!r}")
    return v


def check_int(x, name: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    """Return ``x`` as an int, requiring ``minimum <= x (<= maximum)``; booleans are refused.

    Parameters
    ----------
    x : int
        The candidate (Python or numpy integer; floats such as 2.0 are refused).
    name : str
        Argument name used in error messages.
    minimum : int, default 1
        Smallest accepted value.
    maximum : int, optional
        Largest accepted value.

    Returns
    -------
    int
        ``x`` as a Python int.

    Raises
    ------
    ArgumentTypeError
        If ``x`` is not an integer (booleans and floats included).
    ValueError
        If ``x`` is out of range.

    Examples
    --------
    >>> check_int(3, "K")
    3
    >>> check_int(2.0, "K")
    Traceback (most recent call last):
    ...
    theory.validation.ArgumentTypeError: K: expected an integer, got 2.0
    """
    if isinstance(x, bool | np.bool_) or not isinstance(x, numbers.Integral):
        raise ArgumentTypeError(f"{name}: expected an integer, got {x!r:.60}")
    if x < minimum:
        raise ValueError(f"{name}: expected an integer ≥ {minimum}, got {x}")
    if maximum is not None and x > maximum:
        raise ValueError(f"{name}: expected an integer ≤ {maximum}, got {x}")
    return int(x)


def check_seed(seed, name: str = "seed") -> np.random.Generator:
    """A numpy ``Generator`` from ``seed``: a non-negative int, a sequence of them, or a Generator.

    Every random entry point of the package goes through this check, so that
    ``seed=-1``, ``1.5``, ``"abc"``, ``nan`` or ``True`` fail with a message
    naming the argument instead of numpy's.

    Parameters
    ----------
    seed : int, sequence of int, numpy.random.SeedSequence or numpy.random.Generator
        The randomness; a Generator is returned as it is (not copied).
    name : str, default "seed"
        Argument name used in error messages.

    Returns
    -------
    numpy.random.Generator
        A generator seeded by ``seed`` (or ``seed`` itself).

    Raises
    ------
    ValueError
        If ``seed`` is none of the accepted forms (negative, float, string,
        boolean, empty sequence …).

    Examples
    --------
    >>> rng = check_seed(0)
    >>> rng.integers(10, size=3)
    array([8, 6, 5])
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    items = seed if isinstance(seed, list | tuple | np.ndarray) else [seed]
    if isinstance(seed, np.ndarray) and seed.ndim == 0:
        items = [seed.item()]
    ok = len(items) > 0 and all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool | np.bool_) and s >= 0
        for s in (items.tolist() if isinstance(items, np.ndarray) else items)
    )
    if not ok:
        raise ValueError(
            f"{name}: expected a non-negative int, a non-empty sequence of them or a "
            f"numpy Generator, got {seed!r:.60}"
        )
    return np.random.default_rng(seed)


def check_choice(x, name: str, choices) -> str:
    """Return ``x`` if it is one of ``choices`` (strings), else raise naming ``name``.

    Parameters
    ----------
    x : str
        The candidate.
    name : str
        Argument name used in error messages.
    choices : collection of str
        The accepted values.

    Returns
    -------
    str
        ``x`` itself.

    Raises
    ------
    ValueError
        If ``x`` is not a string or not one of ``choices``.

    Examples
    --------
    >>> check_choice("dual", "method", ("dual", "cvxpy"))
    'dual'
    >>> check_choice("newton", "method", ("dual", "cvxpy"))
    Traceback (most recent call last):
    ...
    ValueError: method: expected one of ['cvxpy', 'dual'], got 'newton'
    """
    if not isinstance(x, str) or x not in choices:
        raise ValueError(f"{name}: expected one of {sorted(choices)}, got {x!r:.60}")
    return x


def check_strings(strings, name: str = "strings") -> list[str]:
    """A non-empty list of strings; a bare ``str`` is refused (it is not a list of words).

    Parameters
    ----------
    strings : iterable of str
        The candidate list (any iterable of strings).
    name : str, default "strings"
        Argument name used in error messages.

    Returns
    -------
    list of str
        The strings, in order.

    Raises
    ------
    ArgumentTypeError
        If ``strings`` is a single ``str`` or ``bytes``, is not iterable, or
        holds a non-string.
    ValueError
        If it is empty.

    Examples
    --------
    >>> check_strings(("the", "of"), "words")
    ['the', 'of']
    >>> check_strings("the", "words")
    Traceback (most recent call last):
    ...
    theory.validation.ArgumentTypeError: words: expected a list of strings, got a single string 'the' (wrap it in a list if it is one word)
    """
    if isinstance(strings, str | bytes):
        raise ArgumentTypeError(
            f"{name}: expected a list of strings, got a single string {strings!r:.40} "
            "(wrap it in a list if it is one word)"
        )
    if not isinstance(strings, Iterable):
        raise ArgumentTypeError(f"{name}: expected a list of strings, got {type(strings).__name__}")
    out = list(strings)
    if not out:
        raise ValueError(f"{name}: expected at least one string, got none")
    for i, s in enumerate(out):
        if not isinstance(s, str):
            raise ArgumentTypeError(f"{name}: entry {i} is {type(s).__name__}, expected str")
    return out


def check_labels(labels, K: int) -> tuple[str, ...]:
    """The names of the K domains: ``labels`` checked, or ``("D_1", …, "D_K")`` when None.

    Parameters
    ----------
    labels : list of str or None
        One distinct, non-empty name per domain.
    K : int
        Number of domains.

    Returns
    -------
    tuple of str
        The K labels.

    Raises
    ------
    ValueError
        If ``labels`` is a bare string, holds a non-string, has the wrong length,
        an empty or a repeated name (``TypeError`` as well for the wrong kinds).

    Examples
    --------
    >>> check_labels(None, 3)
    ('D_1', 'D_2', 'D_3')
    >>> check_labels(["en", "fr"], 2)
    ('en', 'fr')
    """
    if labels is None:
        return tuple(f"D_{k + 1}" for k in range(K))
    out = check_strings(labels, "labels")
    if len(out) != K:
        raise ValueError(f"labels: expected one label per domain (K = {K}), got {len(out)}")
    if any(not s.strip() for s in out):
        raise ValueError("labels: a domain label is empty")
    if len(set(out)) != len(out):
        twice = next(s for s in out if out.count(s) > 1)
        raise ValueError(f"labels: the label {twice!r} names two domains")
    return tuple(out)


def check_mixtures(mixtures, K: int, name: str = "mixtures"):
    """The set Λ ⊆ Δ_K of admissible mixtures: ``None`` gives the simplex Δ_K.

    Anything else must be a :class:`theory.mixtures.MixtureSet` (``Simplex``,
    ``Box``, ``L1Ball``, ``Polytope``, ``KLBall``, ``L2Ball``) over the same K;
    Λ encodes prior knowledge on the mixture weights (T7).

    Parameters
    ----------
    mixtures : MixtureSet or None
        The candidate set.
    K : int
        The number of domains of the instance.
    name : str, default "mixtures"
        Argument name used in error messages.

    Returns
    -------
    MixtureSet
        ``mixtures``, or ``Simplex(K)`` when it is None.

    Raises
    ------
    ArgumentTypeError
        If ``mixtures`` is neither None nor a mixture set.
    ValueError
        If the set lives in Δ_{K'} with K' ≠ K.

    Examples
    --------
    >>> check_mixtures(None, 3).K
    3
    """
    from theory.mixtures import MixtureSet, Simplex

    if mixtures is None:
        return Simplex(K)
    if not isinstance(mixtures, MixtureSet):
        raise ArgumentTypeError(
            f"{name}: expected a theory.mixtures set (Simplex, Box, L1Ball, Polytope, KLBall, "
            f"L2Ball), got {type(mixtures).__name__}"
        )
    if mixtures.K != K:
        raise ValueError(f"{name}: Λ lives in Δ_{mixtures.K}, but the instance has K = {K}")
    return mixtures


def check_allocation(shape: Sequence[int], name: str, itemsize: int = 8) -> None:
    """Refuse, before allocating, an array of ``shape`` larger than :data:`MAX_BYTES`.

    Parameters
    ----------
    shape : sequence of int
        The shape of the array about to be allocated.
    name : str
        Argument name (or what is being built) used in the message.
    itemsize : int, default 8
        Bytes per entry (8 for float64).

    Raises
    ------
    ValueError
        If the array would need more than :data:`MAX_BYTES` bytes.

    Examples
    --------
    >>> check_allocation((1000, 1000), "D")  # 8 MB: fine
    >>> check_allocation((10**6, 10**6), "D")
    Traceback (most recent call last):
    ...
    ValueError: D: the requested size needs 7450.6 GiB (shape (1000000, 1000000)), more than the 4 GiB allowed for one array
    """
    size = 1
    for s in shape:
        size *= int(s)
    if size * itemsize > MAX_BYTES:
        raise ValueError(
            f"{name}: the requested size needs {size * itemsize / 1024**3:.1f} GiB "
            f"(shape {tuple(int(s) for s in shape)}), more than the {MAX_BYTES / 1024**3:.0f} GiB "
            "allowed for one array"
        )


def check_feasible(D: np.ndarray, P: np.ndarray, active=None) -> None:
    """Raise :class:`InfeasibleError` if some (active) domain puts mass where every expert has none.

    With the upper envelope u(x) = max_k p_k(x), the condition is
    supp(D_k) ⊄ {u > 0}: then every gated model (which satisfies q ≤ u, T2)
    has CE(D_k, q) = +∞, and V* = +∞ as soon as some admissible mixture
    weights D_k.

    Parameters
    ----------
    D : ndarray, shape (K, n)
        Validated domains.
    P : ndarray, shape (K, n)
        Validated experts.
    active : array_like of bool, shape (K,), optional
        The domains that can receive positive weight; by default all of them.

    Raises
    ------
    InfeasibleError
        Naming the first such domain and one point x of its support where
        every expert is 0.

    Examples
    --------
    >>> import numpy as np
    >>> D = np.array([[0.5, 0.5], [1.0, 0.0]])
    >>> P = np.array([[1.0, 0.0], [1.0, 0.0]])
    >>> check_feasible(D, P, active=[False, True])  # D_1 never weighted: fine
    >>> check_feasible(D, P)
    Traceback (most recent call last):
    ...
    theory.validation.InfeasibleError: D: infinite objective, domain D_1 (row 0) puts mass 0.5 at index 1 where every expert in P has probability 0
    """
    _infeasible(D, _kernels.envelope(P)[1], active)


def _infeasible(D: np.ndarray, u: np.ndarray, active=None) -> None:
    """:func:`check_feasible` for validated ``D`` and the upper envelope ``u`` of the experts."""
    act = np.broadcast_to(True if active is None else np.asarray(active, dtype=bool), D.shape[:1])
    first = _kernels.first_infeasible(D, u, act)
    if first is not None:
        k, i = first
        raise InfeasibleError(
            f"D: infinite objective, domain D_{k + 1} (row {k}) puts mass {D[k, i]:.3g} at index {i} "
            "where every expert in P has probability 0"
        )


def check_flag(x, name: str) -> bool:
    """Return ``x`` as a bool, requiring an actual boolean (``"no"`` or ``1`` are refused).

    Parameters
    ----------
    x : bool
        The candidate (Python or numpy boolean).
    name : str
        Argument name used in error messages.

    Returns
    -------
    bool
        ``x`` as a Python bool.

    Raises
    ------
    ArgumentTypeError
        If ``x`` is not a boolean.

    Examples
    --------
    >>> check_flag(True, "progress")
    True
    """
    if not isinstance(x, bool | np.bool_):
        raise ArgumentTypeError(f"{name}: expected True or False, got {x!r:.60}")
    return bool(x)


def check_callable(x, name: str, *, allow_none: bool = True):
    """Return ``x`` if it can be called (or is None, when allowed), else raise naming ``name``.

    Parameters
    ----------
    x : callable or None
        The candidate.
    name : str
        Argument name used in error messages.
    allow_none : bool, default True
        Accept None as well.

    Returns
    -------
    callable or None
        ``x`` itself.

    Raises
    ------
    ArgumentTypeError
        If ``x`` is not callable (nor an accepted None).

    Examples
    --------
    >>> check_callable(len, "callback") is len
    True
    """
    if (x is None and allow_none) or callable(x):
        return x
    raise ArgumentTypeError(f"{name}: expected a function, got {type(x).__name__}")
