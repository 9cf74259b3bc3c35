r"""Entropies and divergences on a finite alphabet (THEORY §1, T1).

Conventions (THEORY §1): natural logarithms; :math:`0 \log 0 = 0`;
:math:`\mathrm{KL}(p\|q) = +\infty` as soon as :math:`p(x) > 0 = q(x)`.

The public functions validate their inputs and call the compiled kernels of
``theory._kernels`` (vectorized; large inputs are split into one column range
per core). Values that rounding pushes below a known minimum (KL, JSD and H are
≥ 0) are reported at that minimum.
"""

from __future__ import annotations

import numpy as np

from theory import _kernels
from theory.validation import (
    check_distribution,
    check_same_length,
    check_stack,
    check_weights,
)

__all__ = [
    "entropy",
    "cross_entropy",
    "kl",
    "kl_rows",
    "cross_entropy_rows",
    "entropy_rows",
    "jsd",
    "mixture",
]


def entropy(p) -> float:
    r"""Shannon entropy :math:`H(p) = -\sum_x p(x)\log p(x)` in nats (0 log 0 = 0)."""
    p = check_distribution(p, "p")
    return max(0.0, float(_kernels.entropy_rows(p[None, :])[0]))


def cross_entropy(p, q) -> float:
    r"""Cross-entropy :math:`\mathrm{CE}(p, q) = -\sum_x p(x)\log q(x)`; +inf if p(x) > 0 = q(x)."""
    p = check_distribution(p, "p")
    q = check_distribution(q, "q")
    check_same_length(p, q, ("p", "q"))
    return max(0.0, float(_kernels.cross_entropy_rows(p[None, :], q)[0]))


def kl(p, q) -> float:
    r"""Kullback–Leibler divergence :math:`\mathrm{KL}(p\|q) = \sum_x p(x)\log\frac{p(x)}{q(x)}`.

    Equals +inf when p(x) > 0 = q(x) for some x (THEORY §1). Inputs that sum
    to 1 only up to rounding can give values of order 1e-17 below 0; they are
    reported as 0, the true minimum (Gibbs' inequality).
    """
    p = check_distribution(p, "p")
    q = check_distribution(q, "q")
    check_same_length(p, q, ("p", "q"))
    return max(0.0, float(_kernels.kl_rows(p[None, :], q)[0]))


def kl_rows(D, q) -> np.ndarray:
    r"""Row-wise divergences :math:`(\mathrm{KL}(D_k\|q))_{k=1..K}`, shape (K,).

    One pass over the K×n matrix, parallel over chunks of X. Rounding below 0
    is reported as 0, as in :func:`kl`.
    """
    D = check_stack(D, "D")
    q = check_distribution(q, "q")
    check_same_length(D, q, ("D", "q"))
    return np.maximum(_kernels.kl_rows(D, q), 0.0)


def cross_entropy_rows(D, q) -> np.ndarray:
    r"""Row-wise cross-entropies :math:`(\mathrm{CE}(D_k, q))_{k=1..K}`, shape (K,)."""
    D = check_stack(D, "D")
    q = check_distribution(q, "q")
    check_same_length(D, q, ("D", "q"))
    return np.maximum(_kernels.cross_entropy_rows(D, q), 0.0)


def entropy_rows(D) -> np.ndarray:
    r"""Row-wise entropies :math:`(H(D_k))_{k=1..K}`, shape (K,)."""
    return np.maximum(_kernels.entropy_rows(check_stack(D, "D")), 0.0)


def mixture(lam, D) -> np.ndarray:
    r"""The mixture :math:`D_\lambda = \sum_k \lambda_k D_k`, shape (n,)."""
    D = check_stack(D, "D")
    lam = check_weights(lam, D.shape[0])
    return _kernels.mixture(lam, D)


def jsd(lam, D) -> float:
    r"""Generalized Jensen–Shannon divergence (T1).

    .. math:: \mathrm{JSD}_\lambda(D) = \sum_k \lambda_k \mathrm{KL}(D_k\|D_\lambda)
              = H(D_\lambda) - \sum_k \lambda_k H(D_k),

    the mutual information between k ~ λ and x ~ D_k. Computed in the first
    (divergence) form, which keeps full relative accuracy when the rows nearly
    coincide; rows with λ_k = 0 are left out. Rounding can only produce values
    of order 1e-17 below 0; they are reported as 0, the true minimum.
    """
    D = check_stack(D, "D")
    lam = check_weights(lam, D.shape[0])
    return max(0.0, _kernels.jsd_sum(lam, D, _kernels.mixture(lam, D)))
