"""Input validation shared by every public entry point.

One place checks distributions, stacks of distributions, mixture weights and
shapes, so that every public function raises the same kind of error: a
``ValueError`` whose message names the argument, the expected form and what was
received (API.md, "Errors").
"""

from __future__ import annotations

import numba
import numpy as np

#: Tolerance on ``sum == 1`` for rows that must lie on the simplex.
SUM_TOL = 1e-9


class InfeasibleError(ValueError):
    """The objective is infinite: a domain puts mass where every expert has none."""


_HUGE = float(np.finfo(np.float64).max)

#: Arrays with at least this many entries are scanned in one compiled pass.
_SCAN_FROM = 1 << 16


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract"})
def _scan_rows(a):
    """Row sums of a C-contiguous (K, n) array and whether every entry is finite and ≥ 0.

    One pass instead of numpy's three (isfinite, < 0, sum); NaN fails both
    comparisons, so it is caught without a separate test.
    """
    K, n = a.shape
    sums = np.empty(K)
    bad = 0
    for k in range(K):
        row = a[k]
        s = 0.0
        for i in range(n):
            v = row[i]
            s += v
            bad += not (v >= 0.0 and v <= _HUGE)
        sums[k] = s
    return sums, bad == 0


def _as_float_array(x, name: str, ndim: int) -> tuple[np.ndarray, np.ndarray]:
    """``x`` as a C-contiguous float64 array of ``ndim`` dimensions, and its row sums.

    Raises if it is empty, of the wrong dimension, or has NaN/inf or negative entries.
    """
    try:
        a = np.ascontiguousarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name}: expected an array of real numbers, got {type(x).__name__}"
        ) from exc
    if a.ndim != ndim:
        kind = {1: "a 1-D vector", 2: "a 2-D (K, n) matrix"}[ndim]
        raise ValueError(f"{name}: expected {kind}, got an array of shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name}: expected a non-empty array, got shape {a.shape}")
    if a.size >= _SCAN_FROM:
        sums, clean = _scan_rows(a.reshape(-1, a.shape[-1]))
        if clean:
            return a, sums
    if not np.all(np.isfinite(a)):
        bad = np.argwhere(~np.isfinite(a))[0]
        raise ValueError(
            f"{name}: contains NaN or inf (first at index {tuple(int(i) for i in bad)})"
        )
    if np.any(a < 0):
        bad = np.argwhere(a < 0)[0]
        raise ValueError(
            f"{name}: entries must be non-negative, found {a[tuple(bad)]:.3g} "
            f"at index {tuple(int(i) for i in bad)}"
        )
    return a, a.reshape(-1, a.shape[-1]).sum(axis=1)


def check_distribution(p, name: str = "p", *, normalize: bool = False) -> np.ndarray:
    """Return ``p`` as a C-contiguous float64 vector on the simplex.

    Raises ``ValueError`` if ``p`` is not 1-D, is empty, has NaN/inf or negative
    entries, or does not sum to 1 within ``SUM_TOL`` (unless ``normalize=True``,
    in which case a positive total is divided out).
    """
    a, sums = _as_float_array(p, name, 1)
    total = float(sums[0])
    if normalize:
        if total <= 0:
            raise ValueError(f"{name}: cannot normalize, the entries sum to {total}")
        return a / total
    if abs(total - 1.0) > SUM_TOL:
        raise ValueError(f"{name}: must sum to 1 (tolerance {SUM_TOL:g}), sums to {total!r}")
    return a


def check_stack(
    D, name: str = "D", *, normalize: bool = False, K: int | None = None, n: int | None = None
) -> np.ndarray:
    """Return ``D`` as a C-contiguous float64 (K, n) matrix with rows on the simplex.

    ``K`` and ``n``, when given, are the required number of rows and columns.
    """
    a, totals = _as_float_array(D, name, 2)
    if K is not None and a.shape[0] != K:
        raise ValueError(f"{name}: expected {K} rows (one per domain/expert), got {a.shape[0]}")
    if n is not None and a.shape[1] != n:
        raise ValueError(f"{name}: expected {n} columns (|X| = {n}), got {a.shape[1]}")
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


def check_weights(lam, K: int, name: str = "lam") -> np.ndarray:
    """Return mixture weights ``lam`` as a float64 vector of length ``K`` on Δ_K."""
    a = check_distribution(lam, name)
    if a.shape[0] != K:
        raise ValueError(f"{name}: expected {K} weights (one per row), got {a.shape[0]}")
    return a


def check_pair(D, P, *, names: tuple[str, str] = ("D", "P")) -> tuple[np.ndarray, np.ndarray]:
    """Validate domains ``D`` and experts ``P`` as stacks of the same shape (K, n)."""
    D = check_stack(D, names[0])
    P = check_stack(P, names[1], K=D.shape[0], n=D.shape[1])
    return D, P


def check_same_length(p: np.ndarray, q: np.ndarray, names: tuple[str, str]) -> None:
    if p.shape[-1] != q.shape[-1]:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same length |X|, "
            f"got {p.shape[-1]} and {q.shape[-1]}"
        )


def check_positive(x, name: str, *, allow_zero: bool = False) -> float:
    """Return ``x`` as a float, requiring it to be finite and > 0 (or ≥ 0)."""
    try:
        v = float(x)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected a real number, got {x!r}") from exc
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        bound = "≥ 0" if allow_zero else "> 0"
        raise ValueError(f"{name}: expected a finite number {bound}, got {x!r}")
    return v


def check_int(x, name: str, *, minimum: int = 1) -> int:
    """Return ``x`` as an int, requiring ``x >= minimum``."""
    if isinstance(x, bool) or not isinstance(x, int | np.integer):
        raise ValueError(f"{name}: expected an integer, got {x!r}")
    if x < minimum:
        raise ValueError(f"{name}: expected an integer ≥ {minimum}, got {x}")
    return int(x)


def check_seed(seed, name: str = "seed") -> np.random.Generator:
    """A numpy Generator from ``seed`` (an int, a sequence of ints or a Generator)."""
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name}: expected a non-negative int, a sequence of them or a numpy Generator, "
            f"got {seed!r}"
        ) from exc


def check_choice(x, name: str, choices) -> str:
    if x not in choices:
        raise ValueError(f"{name}: expected one of {sorted(choices)}, got {x!r}")
    return x


def check_feasible(D: np.ndarray, P: np.ndarray, active=None) -> None:
    """Raise :class:`InfeasibleError` if some (active) domain puts mass where every
    expert has none, i.e. supp(D_k) ⊄ {u > 0} (THEORY §3, finiteness).

    ``active`` is an optional boolean mask of the domains that can receive
    positive weight; by default every domain is checked.
    """
    u = P.max(axis=0)
    bad = (D > 0) & (u == 0)[None, :]
    if active is not None:
        bad &= np.asarray(active, dtype=bool)[:, None]
    if bad.any():
        k, i = (int(v) for v in np.argwhere(bad)[0])
        raise InfeasibleError(
            f"D: infinite objective, domain {k} puts mass {D[k, i]:.3g} at index {i} "
            "where every expert in P has probability 0"
        )
