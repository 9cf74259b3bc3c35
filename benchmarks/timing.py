"""Wall-clock timing shared by the benchmarks and by experiments that report speed.

A timing is the median of repeated runs: the median ignores the occasional run
slowed by another process or by the garbage collector, which a mean would not.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from theory.validation import check_int

__all__ = ["median_time"]


def median_time(func: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``func()`` in seconds over ``repeats`` runs, after ``warmup`` runs.

    Parameters
    ----------
    func : callable
        Called with no argument; its result is discarded.
    repeats : int, ≥ 1
        Timed runs.
    warmup : int, ≥ 0
        Untimed runs first (compilation, caches), so that they do not count.

    Returns
    -------
    float
        The median of the ``repeats`` wall times, in seconds.

    Raises
    ------
    ValueError
        If ``repeats`` < 1 or ``warmup`` < 0.

    Examples
    --------
    >>> median_time(lambda: sum(range(100)), repeats=3, warmup=0) >= 0.0
    True
    """
    repeats = check_int(repeats, "repeats", minimum=1)
    warmup = check_int(warmup, "warmup", minimum=0)
    for _ in range(warmup):
        func()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))
