"""Small helpers shared by the experiment modules: simplex grids and number formatting.

Drawing helpers (the ternary coordinates of Δ_3 among them) live in
:mod:`paper_repro.plotting`.
"""

from __future__ import annotations

import itertools

import numpy as np


def simplex_grid(K: int, resolution: int) -> np.ndarray:
    """Every λ ∈ Δ_K whose entries are multiples of 1/``resolution`` (vertices included)."""
    points = [
        c for c in itertools.product(range(resolution + 1), repeat=K - 1) if sum(c) <= resolution
    ]
    grid = np.array([[*c, resolution - sum(c)] for c in points], dtype=np.float64)
    return grid / resolution


def fmt(x: float, digits: int = 4) -> str:
    """A float with ``digits`` significant digits, in scientific form when tiny."""
    if x != 0 and abs(x) < 10 ** (-digits + 1):
        return f"{x:.1e}"
    return f"{x:.{digits}g}"


def vec(v, digits: int = 3) -> str:
    """A short vector, e.g. ``(0.25, 0.5, 0.25)``."""
    return "(" + ", ".join(f"{float(x):.{digits}f}" for x in np.asarray(v).ravel()) + ")"
