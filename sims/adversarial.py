"""Adversarial instances: the corners where exact solvers break first.

Generators shared by ``modgate verify`` and the test suite. Each takes a numpy
``Generator`` and returns a valid instance (rows on the simplex) that a correct
implementation must handle with its usual guarantees: certified bounds, no NaN,
clear errors only for genuinely invalid input.
"""

from __future__ import annotations

import numpy as np

from theory.validation import check_int, check_seed

__all__ = ["tiny_probabilities"]

#: The smallest positive float64 (a subnormal).
SMALLEST = float(np.nextafter(0.0, 1.0))


def tiny_probabilities(rng, K: int, n: int, share: float = 0.4) -> tuple[np.ndarray, np.ndarray]:
    r"""Domains D and experts P (both (K, n)) with many probabilities between 5e-324 and 1e-150.

    Each row starts as a Dirichlet(0.7) draw; a fraction ``share`` of its entries
    is replaced by :math:`10^{-u}`, u uniform in [150, 323.3] (a fifth of them by
    the smallest subnormal 5e-324), and the row is renormalized. Logs of such
    entries are as low as −744, their ratios overflow, and water levels reach
    1e258: the instances exercise every underflow path of the solvers (T3–T6).
    """
    rng = check_seed(rng)
    K = check_int(K, "K")
    n = check_int(n, "n")

    def stack() -> np.ndarray:
        A = rng.dirichlet(np.full(n, 0.7), size=K)
        mask = rng.random((K, n)) < share
        A[mask] = 10.0 ** rng.uniform(-323.3, -150.0, size=int(mask.sum()))
        A[mask & (rng.random((K, n)) < 0.2)] = SMALLEST
        return A / A.sum(axis=1, keepdims=True)

    return stack(), stack()
