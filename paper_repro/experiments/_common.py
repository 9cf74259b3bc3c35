"""Small helpers shared by the experiment modules: simplex grids and number formatting.

Drawing helpers (the ternary coordinates of Δ_3 among them) live in
:mod:`paper_repro.plotting`.
"""

from __future__ import annotations

import itertools

import numpy as np


def simplex_grid(K: int, resolution: int) -> np.ndarray:
    """Every λ ∈ Δ_K whose entries are multiples of 1/``resolution`` (vertices included).

    Parameters
    ----------
    K : int
        The dimension of the simplex (number of domains), ≥ 1.
    resolution : int
        The number r of steps along an edge, ≥ 1.

    Returns
    -------
    ndarray, shape (C(r + K − 1, K − 1), K)
        One point per row, in lexicographic order of its first K − 1 entries.

    Examples
    --------
    >>> simplex_grid(3, 2)
    array([[0. , 0. , 1. ],
           [0. , 0.5, 0.5],
           [0. , 1. , 0. ],
           [0.5, 0. , 0.5],
           [0.5, 0.5, 0. ],
           [1. , 0. , 0. ]])
    """
    points = [
        c for c in itertools.product(range(resolution + 1), repeat=K - 1) if sum(c) <= resolution
    ]
    grid = np.array([[*c, resolution - sum(c)] for c in points], dtype=np.float64)
    return grid / resolution


def fmt(x: float, digits: int = 4) -> str:
    """A float with ``digits`` significant digits, in scientific form when tiny.

    Parameters
    ----------
    x : float
        The number.
    digits : int, default 4
        Significant digits.

    Returns
    -------
    str

    Examples
    --------
    >>> fmt(0.123456), fmt(3.2e-9), fmt(0.0)
    ('0.1235', '3.2e-09', '0')
    """
    if x != 0 and abs(x) < 10 ** (-digits + 1):
        return f"{x:.1e}"
    return f"{x:.{digits}g}"


def vec(v, digits: int = 3) -> str:
    """A short vector, e.g. ``(0.250, 0.500, 0.250)``.

    Parameters
    ----------
    v : array_like
        The entries (flattened).
    digits : int, default 3
        Digits after the decimal point.

    Returns
    -------
    str

    Examples
    --------
    >>> vec([0.25, 0.5, 0.25])
    '(0.250, 0.500, 0.250)'
    """
    return "(" + ", ".join(f"{float(x):.{digits}f}" for x in np.asarray(v).ravel()) + ")"
