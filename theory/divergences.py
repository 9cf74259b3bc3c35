r"""Entropies and divergences on a finite alphabet (T1).

Notation. X is a finite set of n points and Δ(X) the distributions on it
(vectors p ≥ 0 with Σ_x p(x) = 1). The K domains D_1, …, D_K are the rows of
a (K, n) array D; λ ∈ Δ_K are mixture weights and D_λ = Σ_k λ_k D_k the
mixture. All logarithms are natural (values in nats).

    H(p) = −Σ_x p(x) log p(x)                 (entropy)
    CE(p, q) = −Σ_x p(x) log q(x)             (cross-entropy)
    KL(p‖q) = Σ_x p(x) log(p(x)/q(x)) = CE(p, q) − H(p)
    JSD_λ(D) = Σ_k λ_k KL(D_k‖D_λ) = H(D_λ) − Σ_k λ_k H(D_k)

.. math:: \mathrm{KL}(p\|q) = \sum_x p(x)\log\frac{p(x)}{q(x)}, \qquad
          \mathrm{JSD}_\lambda(D) = \sum_k \lambda_k \mathrm{KL}(D_k\|D_\lambda)
          = H(D_\lambda) - \sum_k \lambda_k H(D_k).

Conventions: 0 log 0 = 0; KL(p‖q) = CE(p, q) = +∞ as soon as p(x) > 0 = q(x).
The generalized Jensen–Shannon divergence JSD_λ(D) is the mutual
information between a domain index k ~ λ and a point x ~ D_k.

**T1 (JSD facts).** 0 ≤ JSD_λ(D) ≤ H(λ) ≤ log K; JSD_λ = H(λ) iff the supports
of the D_k with λ_k > 0 are pairwise disjoint; JSD_λ = 0 iff those D_k
coincide. *Compensation identity:* for every q ∈ Δ(X),

    Σ_k λ_k KL(D_k‖q) = JSD_λ(D) + KL(D_λ‖q),

.. math:: \sum_k \lambda_k \mathrm{KL}(D_k\|q) = \mathrm{JSD}_\lambda(D) + \mathrm{KL}(D_\lambda\|q),

so the average divergence of one model q to the domains is the diversity of
the domains plus its divergence to their mixture. See the theory page
*Setup and problem formulation* of the documentation, and [1]_ for these
standard facts.

Every function reads its inputs once: the compiled kernel of
``theory._kernels`` that computes the result also sums each input row and
counts its entries that are not finite and non-negative, and the checks of
:mod:`theory.validation` (finite, non-negative, rows summing to 1 within
:data:`~theory.validation.SUM_TOL`) are decided from those numbers, with the
same messages as :func:`~theory.validation.check_stack` and
:func:`~theory.validation.check_distribution`. Large inputs are split into
one column range per core. Values that rounding pushes below a known minimum
(KL, JSD and H are ≥ 0) are reported at that minimum.

References
----------
.. [1] T. M. Cover and J. A. Thomas, *Elements of Information Theory*, 2nd
   ed., Wiley, 2006, ch. 2 (entropy, relative entropy, mutual information).

Examples
--------
>>> import numpy as np
>>> from theory.divergences import jsd, kl, kl_rows, mixture
>>> D = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
>>> lam, q = np.array([0.5, 0.5]), np.array([0.2, 0.5, 0.3])
>>> lhs = lam @ kl_rows(D, q)
>>> rhs = jsd(lam, D) + kl(mixture(lam, D), q)  # compensation identity (T1)
>>> bool(np.isclose(lhs, rhs))
True
"""

from __future__ import annotations

import numpy as np

from theory import _kernels
from theory.validation import (
    _distribution,
    _prepare,
    _stack,
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

_ENTROPY, _CROSS, _KL = 0, 1, 2


def _rows(mode: int, D, q, names: tuple[str, str], ndim: int) -> np.ndarray:
    """Row divergences of ``mode`` for a stack (``ndim`` 2) or a vector (1) D and a vector q.

    One fused pass computes them with the scans of both inputs; when an input
    is malformed (wrong kind, dimension or length) no pass can start and the
    checks run one input after the other instead, raising in the same order
    as the unfused checks would.
    """
    dn, qn = names
    if mode != _ENTROPY and q is None:
        # None is the "no second argument" of the entropies only; elsewhere it is
        # a missing distribution, refused by the check with the argument's name.
        check_distribution(q, qn)
    specs = [(D, dn, ndim)] + ([] if q is None else [(q, qn, 1)])
    arrays = _prepare(*specs)
    if arrays is None or (q is not None and arrays[0].shape[-1] != arrays[1].shape[0]):
        D = check_stack(D, dn) if ndim == 2 else check_distribution(D, dn)
        if q is not None:
            q = check_distribution(q, qn)
            check_same_length(D, q, names)
        arrays = [D] if q is None else [D, q]
    D2 = arrays[0].reshape(-1, arrays[0].shape[-1])
    values, scans = _kernels.checked_rows(mode, D2, None if q is None else arrays[1])
    if ndim == 2:
        _stack(arrays[0], dn, scans[0])
    else:
        _distribution(arrays[0], dn, scans[0])
    if q is not None:
        _distribution(arrays[1], qn, scans[1])
    return np.maximum(values, 0.0)


def _weighted(lam, D) -> tuple[np.ndarray, np.ndarray]:
    """``(lam, D)`` as arrays for a fused pass over D (lam is read as given; it is checked
    after D, by :func:`~theory.validation.check_weights`)."""
    arrays = _prepare((D, "D", 2), (lam, "lam", 1))
    if arrays is None or arrays[1].shape[0] != arrays[0].shape[0]:
        D = check_stack(D, "D")
        return check_weights(lam, D.shape[0]), D
    return arrays[1], arrays[0]


def entropy(p) -> float:
    r"""Shannon entropy :math:`H(p) = -\sum_x p(x)\log p(x)` in nats (T1; 0 log 0 = 0).

    Parameters
    ----------
    p : array_like, shape (n,)
        A distribution on X (non-negative, summing to 1).

    Returns
    -------
    float
        H(p) ≥ 0.

    Raises
    ------
    ValueError
        If ``p`` is not a distribution (message names ``p``).

    Examples
    --------
    >>> round(entropy([0.5, 0.5]), 6)
    0.693147
    """
    return float(_rows(_ENTROPY, p, None, ("p", "q"), 1)[0])


def cross_entropy(p, q) -> float:
    r"""Cross-entropy :math:`\mathrm{CE}(p, q) = -\sum_x p(x)\log q(x)` (T1); +inf if p(x) > 0 = q(x).

    Parameters
    ----------
    p, q : array_like, shape (n,)
        Distributions on the same X.

    Returns
    -------
    float
        CE(p, q) ≥ 0, +inf when q misses part of the support of p.

    Raises
    ------
    ValueError
        If ``p`` or ``q`` is not a distribution, or their lengths differ.

    Examples
    --------
    >>> cross_entropy([1.0, 0.0], [0.5, 0.5]) == entropy([0.5, 0.5])
    True
    """
    return float(_rows(_CROSS, p, q, ("p", "q"), 1)[0])


def kl(p, q) -> float:
    r"""Kullback–Leibler divergence :math:`\mathrm{KL}(p\|q) = \sum_x p(x)\log\frac{p(x)}{q(x)}` (T1).

    Equals +inf when p(x) > 0 = q(x) for some x. Inputs that sum to 1 only up
    to rounding can give values of order 1e-17 below 0; they are reported as 0,
    the true minimum (Gibbs' inequality).

    Parameters
    ----------
    p, q : array_like, shape (n,)
        Distributions on the same X.

    Returns
    -------
    float
        KL(p‖q) ≥ 0, possibly +inf.

    Raises
    ------
    ValueError
        If ``p`` or ``q`` is not a distribution, or their lengths differ.

    Examples
    --------
    >>> kl([0.5, 0.5], [0.5, 0.5])
    0.0
    >>> kl([0.5, 0.5], [1.0, 0.0])
    inf
    """
    return float(_rows(_KL, p, q, ("p", "q"), 1)[0])


def kl_rows(D, q) -> np.ndarray:
    r"""Row-wise divergences :math:`(\mathrm{KL}(D_k\|q))_{k=1..K}` (T1).

    One pass over the K×n matrix, parallel over chunks of X. Rounding below 0
    is reported as 0, as in :func:`kl`.

    Parameters
    ----------
    D : array_like, shape (K, n)
        K distributions on X, one per row.
    q : array_like, shape (n,)
        A distribution on X.

    Returns
    -------
    ndarray, shape (K,)
        KL(D_k‖q), +inf for a row with mass on a zero of q.

    Raises
    ------
    ValueError
        If a row of ``D`` or ``q`` is not a distribution, or the lengths differ.

    Examples
    --------
    >>> kl_rows([[0.5, 0.5], [1.0, 0.0]], [0.5, 0.5]).round(4)
    array([0.    , 0.6931])
    """
    return _rows(_KL, D, q, ("D", "q"), 2)


def cross_entropy_rows(D, q) -> np.ndarray:
    r"""Row-wise cross-entropies :math:`(\mathrm{CE}(D_k, q))_{k=1..K}` (T1).

    Parameters
    ----------
    D : array_like, shape (K, n)
        K distributions on X, one per row.
    q : array_like, shape (n,)
        A distribution on X.

    Returns
    -------
    ndarray, shape (K,)
        CE(D_k, q) = −Σ_x D_k(x) log q(x), +inf for a row with mass on a zero of q.

    Raises
    ------
    ValueError
        If a row of ``D`` or ``q`` is not a distribution, or the lengths differ.

    Examples
    --------
    >>> cross_entropy_rows([[1.0, 0.0]], [0.5, 0.5]).round(4)
    array([0.6931])
    """
    return _rows(_CROSS, D, q, ("D", "q"), 2)


def entropy_rows(D) -> np.ndarray:
    r"""Row-wise entropies :math:`(H(D_k))_{k=1..K}` (T1).

    Parameters
    ----------
    D : array_like, shape (K, n)
        K distributions on X, one per row.

    Returns
    -------
    ndarray, shape (K,)
        H(D_k) = −Σ_x D_k(x) log D_k(x) ≥ 0.

    Raises
    ------
    ValueError
        If a row of ``D`` is not a distribution.

    Examples
    --------
    >>> entropy_rows([[0.5, 0.5], [1.0, 0.0]]).round(4)
    array([0.6931, 0.    ])
    """
    return _rows(_ENTROPY, D, None, ("D", "q"), 2)


def mixture(lam, D) -> np.ndarray:
    r"""The mixture :math:`D_\lambda = \sum_k \lambda_k D_k` (T1).

    A point where some D_k with λ_k > 0 is positive stays positive, even when
    λ_k D_k(x) underflows (it is rounded up to the smallest subnormal), so
    supp D_λ is exactly the union of the supports of the weighted rows.

    Parameters
    ----------
    lam : array_like, shape (K,)
        Mixture weights on the simplex Δ_K.
    D : array_like, shape (K, n)
        K distributions on X, one per row.

    Returns
    -------
    ndarray, shape (n,)
        D_λ, a distribution on X.

    Raises
    ------
    ValueError
        If a row of ``D`` is not a distribution, or ``lam`` is not K weights on Δ_K
        (``D`` is checked first).

    Examples
    --------
    >>> mixture([0.5, 0.5], [[1.0, 0.0], [0.0, 1.0]])
    array([0.5, 0.5])
    """
    lam, D = _weighted(lam, D)
    m, scan = _kernels.checked_mixture(lam, D)
    _stack(D, "D", scan)
    check_weights(lam, D.shape[0])
    return m


def jsd(lam, D) -> float:
    r"""Generalized Jensen–Shannon divergence (T1).

    .. math:: \mathrm{JSD}_\lambda(D) = \sum_k \lambda_k \mathrm{KL}(D_k\|D_\lambda)
              = H(D_\lambda) - \sum_k \lambda_k H(D_k),

    the mutual information between k ~ λ and x ~ D_k. Computed in the first
    (divergence) form, which keeps full relative accuracy when the rows nearly
    coincide; rows with λ_k = 0 are left out. Rounding can only produce values
    of order 1e-17 below 0; they are reported as 0, the true minimum. The
    mixture is formed block by block of X while D is read, so D is read once.

    Parameters
    ----------
    lam : array_like, shape (K,)
        Mixture weights on the simplex Δ_K.
    D : array_like, shape (K, n)
        K distributions on X, one per row.

    Returns
    -------
    float
        JSD_λ(D), between 0 and H(λ) ≤ log K.

    Raises
    ------
    ValueError
        If a row of ``D`` is not a distribution, or ``lam`` is not K weights on Δ_K
        (``D`` is checked first).

    Examples
    --------
    >>> round(jsd([0.5, 0.5], [[1.0, 0.0], [0.0, 1.0]]), 6)
    0.693147
    """
    lam, D = _weighted(lam, D)
    value, scan = _kernels.checked_jsd(lam, D)
    _stack(D, "D", scan)
    check_weights(lam, D.shape[0])
    return max(0.0, value)
