r"""Generalization bounds for gates learned from samples (THEORY §7, T11).

Samples :math:`S_k` of sizes :math:`m_k` are drawn from the domains, with
:math:`m = \sum_k m_k` and :math:`\bar m_k = m_k / m`. For a fixed mixture λ the
empirical payoff :math:`\hat L(g,\lambda) = \sum_k (\lambda_k/m_k)\sum_{x\in S_k} f(g,x) - c_k`
of the loss :math:`f(g,x) = -\log p_g(x) \in [0, M]` satisfies, with probability
at least 1 − δ and uniformly over a gate class 𝒢,

.. math:: L(g,\lambda) \le \hat L(g,\lambda) + 2 R_m(\mathcal G,\lambda)
          + M\sqrt{\frac{s(\lambda\|\bar m)\log(1/\delta)}{2m}},
          \qquad s(\lambda\|\bar m) = \sum_k \frac{\lambda_k^2}{\bar m_k}.

The skewness s measures how far the training proportions are from the mixture
the model is judged on. The bound depends on the gate class through its
Rademacher complexity only — for softmax-linear gates on K experts that is a
function of (K, B, R), never of |X| nor of the size of the experts.
"""

from __future__ import annotations

import math

import numpy as np

from theory.validation import (
    check_distribution,
    check_int,
    check_positive,
    check_stack,
    check_weights,
)

__all__ = [
    "skewness",
    "loss_range",
    "rademacher_softmax_linear",
    "rademacher_tabular",
    "generalization_bound",
    "uniform_generalization_bound",
    "data_dependent_bound",
    "class_loss_range",
    "net_size",
]


def _check_sizes(m, K: int) -> np.ndarray:
    a = np.asarray(m, dtype=np.float64)
    if a.shape != (K,):
        raise ValueError(f"m: expected {K} per-domain sample sizes, got shape {a.shape}")
    if not np.all(np.isfinite(a)) or np.any(a <= 0):
        k = int(np.argmax(~np.isfinite(a) | (a <= 0)))
        raise ValueError(f"m: every sample size must be finite and > 0, got m[{k}] = {a[k]!r}")
    return a


def _check_delta(delta) -> float:
    d = check_positive(delta, "delta")
    if d >= 1:
        raise ValueError(f"delta: expected a confidence level in (0, 1), got {delta!r}")
    return d


def skewness(lam, m) -> float:
    r"""The skewness :math:`s(\lambda\|\bar m) = \sum_k \lambda_k^2/\bar m_k` (T11).

    ``m`` holds the per-domain sample sizes :math:`m_k > 0`; :math:`\bar m = m/\sum_k m_k`.
    By Cauchy–Schwarz s ≥ 1, with equality iff λ = m̄.
    """
    lam = check_distribution(lam, "lam")
    m_arr = _check_sizes(m, lam.shape[0])
    mbar = m_arr / m_arr.sum()
    return float(np.sum(lam**2 / mbar))


def loss_range(P) -> float:
    r"""The range M of the loss, :math:`f(g,x) = -\log p_g(x) \in [0, M]` with
    :math:`M = \max_x \log(1/\min_k p_k(x))` (T11; the experts need full support)."""
    P = check_stack(P, "P")
    lo = P.min(axis=0)
    if np.any(lo <= 0):
        x = int(np.argmin(lo))
        raise ValueError(
            f"P: the loss range is infinite, every expert must have full support; "
            f"min_k p_k is 0 at index {x}"
        )
    return float(-np.log(lo.min()))


def class_loss_range(P) -> float:
    r"""How far the loss of one gate can move between two points x, x' (T11):

    .. math:: \sup_{g}\,|f(g,x) - f(g,x')| \le M_{\mathcal G}
              = \max_x \log\frac1{\ell(x)} - \min_x \log\frac1{u(x)},

    since every :math:`p_g(x)` lies between the experts' floor
    :math:`\ell(x) = \min_k p_k(x)` and ceiling :math:`u(x) = \max_k p_k(x)`. It is
    the bounded difference of McDiarmid's inequality in :func:`data_dependent_bound`,
    at most :func:`loss_range` (which drops the ceiling).

    Parameters
    ----------
    P : array_like, shape (K, n)
        Experts with full support.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If P is not a stack of distributions or some point has min_k p_k(x) = 0.
    """
    M = loss_range(P)
    P = check_stack(P, "P")
    return float(M + np.log(P.max(axis=0)).max())


def data_dependent_bound(emp_rademacher, lam, m, M, delta) -> float:
    r"""The data-dependent form of T11, with the empirical complexity of the sample:

    .. math:: \sup_{g\in\mathcal G}\,\bigl(L(g,\lambda) - \hat L(g,\lambda)\bigr)
              \le 2\hat R_S(\mathcal G,\lambda)
              + 3M\sqrt{\frac{s(\lambda\|\bar m)\log(2/\delta)}{2m}}

    with probability ≥ 1 − δ. McDiarmid's inequality is applied twice, at δ/2
    each: to the uniform gap (whose expectation is at most 2R_m) and to
    :math:`\hat R_S` (which concentrates around R_m); replacing the point
    :math:`x_{k,i}` moves either by at most :math:`(\lambda_k/m_k) M` when every loss
    difference :math:`|f(g,x) - f(g,x')|` is at most M (:func:`class_loss_range`),
    and :math:`\sum_{k,i} (\lambda_k/m_k)^2 = s(\lambda\|\bar m)/m`.

    Parameters
    ----------
    emp_rademacher : float ≥ 0
        :math:`\hat R_S`, the empirical weighted Rademacher complexity of the sample.
    lam : array_like, shape (K,)
    m : array_like, shape (K,)
        Per-domain sample sizes m_k > 0.
    M : float ≥ 0
        Bound on the loss differences.
    delta : float in (0, 1)

    Returns
    -------
    float

    Raises
    ------
    ValueError
        On a negative or non-finite complexity or M, sizes that are not positive, or δ
        outside (0, 1).
    """
    delta = _check_delta(delta)
    rad = check_positive(emp_rademacher, "emp_rademacher", allow_zero=True)
    M = check_positive(M, "M", allow_zero=True)
    lam = check_distribution(lam, "lam")
    m_arr = _check_sizes(m, lam.shape[0])
    s = skewness(lam, m_arr)
    return float(2.0 * rad + 3.0 * M * math.sqrt(s * math.log(2.0 / delta) / (2.0 * m_arr.sum())))


def rademacher_softmax_linear(B, R, K, lam, m) -> float:
    r"""Bound on the weighted Rademacher complexity of softmax-linear gates (T11).

    For :math:`\mathcal G_B = \{\mathrm{softmax}(W\phi(x)) : \|W\|_F \le B\}` with
    :math:`\|\phi(x)\|_2 \le R`, the loss is 2-Lipschitz in the logits (ℓ1 norm of
    :math:`\partial f/\partial u_k = g_k(1 - p_k/p_g)` is at most 2), and vector
    contraction gives

    .. math:: R_m(\mathcal G_B,\lambda) \le 2\sqrt 2\, B R \sqrt{K\, s(\lambda\|\bar m)/m}.
    """
    B = check_positive(B, "B", allow_zero=True)
    R = check_positive(R, "R", allow_zero=True)
    K = check_int(K, "K")
    lam = check_weights(lam, K)
    m_arr = _check_sizes(m, K)
    s = skewness(lam, m_arr)
    return float(2.0 * math.sqrt(2.0) * B * R * math.sqrt(K * s / m_arr.sum()))


def rademacher_tabular(M, n, lam, m) -> float:
    r"""Bound on the weighted Rademacher complexity of a tabular model over X (T11, monolithic).

    For the class of all models q on n points with :math:`-\log q(x) \in [0, M]`, the
    loss is a free vector :math:`a \in [0, M]^n` evaluated at x, so with
    :math:`S_y = \sum_k (\lambda_k/m_k)\sum_{i : x_{k,i} = y}\sigma_{k,i}` (symmetric),

    .. math:: R_m = \mathbb E \sup_a \sum_y a_y S_y = M \sum_y \mathbb E[S_y]_+
              = \tfrac M2 \sum_y \mathbb E|S_y|
              \le \tfrac M2 \sqrt{n \sum_y \mathbb E S_y^2}
              \le \tfrac M2 \sqrt{n\, s(\lambda\|\bar m)/m},

    by Jensen, Cauchy–Schwarz and :math:`\sum_y \mathbb E S_y^2 = \sum_k \lambda_k^2/m_k`.
    Unlike the gate's complexity it grows with |X| = n.
    """
    M = check_positive(M, "M", allow_zero=True)
    n = check_int(n, "n")
    lam = check_distribution(lam, "lam")
    m_arr = _check_sizes(m, lam.shape[0])
    return float(0.5 * M * math.sqrt(n * skewness(lam, m_arr) / m_arr.sum()))


def net_size(epsilon, K: int) -> float:
    r"""Size bound :math:`N_\varepsilon \le (3/\varepsilon)^{K-1}` of an ℓ1 ε-net of Λ (T11)."""
    eps = check_positive(epsilon, "epsilon")
    K = check_int(K, "K")
    return float((3.0 / eps) ** (K - 1))


def _bound(emp_risk, lam, m, M, rademacher, log_term) -> float:
    emp = float(emp_risk)
    if not math.isfinite(emp):
        raise ValueError(f"emp_risk: expected a finite number, got {emp_risk!r}")
    M = check_positive(M, "M", allow_zero=True)
    rad = check_positive(rademacher, "rademacher", allow_zero=True)
    lam = check_distribution(lam, "lam")
    m_arr = _check_sizes(m, lam.shape[0])
    s = skewness(lam, m_arr)
    return emp + 2.0 * rad + M * math.sqrt(s * log_term / (2.0 * m_arr.sum()))


def generalization_bound(emp_risk, lam, m, M, delta, rademacher) -> float:
    r"""The fixed-λ bound of T11:

    .. math:: \hat L(g,\lambda) + 2R + M\sqrt{s(\lambda\|\bar m)\log(1/\delta)/(2m)},

    holding with probability ≥ 1 − δ for every g of a class whose weighted
    Rademacher complexity is at most ``rademacher``.
    """
    delta = _check_delta(delta)
    return _bound(emp_risk, lam, m, M, rademacher, math.log(1.0 / delta))


def uniform_generalization_bound(emp_risk, lam, m, M, delta, rademacher, epsilon) -> float:
    r"""The bound of T11 uniform over Λ ⊆ Δ_K, through an ε-net in ℓ1:

    .. math:: \hat L(g,\lambda) + 2R + M\sqrt{s(\lambda\|\bar m)\log(N_\varepsilon/\delta)/(2m)}
              + 2M\varepsilon,\qquad N_\varepsilon \le (3/\varepsilon)^{K-1},

    holding simultaneously for every λ ∈ Λ and g ∈ 𝒢 with probability ≥ 1 − δ.
    """
    delta = _check_delta(delta)
    N = net_size(epsilon, check_distribution(lam, "lam").shape[0])
    M_val = check_positive(M, "M", allow_zero=True)
    log_term = math.log(max(N, 1.0) / delta)
    return _bound(emp_risk, lam, m, M_val, rademacher, log_term) + 2.0 * M_val * float(epsilon)
