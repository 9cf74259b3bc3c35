r"""Generalization bounds for gates learned from samples (T11).

Notation. The K domains D_1, …, D_K are distributions on a finite set X of n
points; the experts p_1, …, p_K are smoothed to full support (every
p_k(x) > 0). A gate g weighs the experts point by point, p_g(x) =
Σ_k g_k(x) p_k(x), and its loss at a point is f(g, x) = −log p_g(x), which
lies in [0, M] with M = max_x log(1/min_k p_k(x)) (:func:`loss_range`).

Samples S_k of sizes m_k are drawn from the domains, with m = Σ_k m_k the
total and m̄_k = m_k/m the training proportions. For a fixed mixture λ the
true and the empirical payoff of a gate are

    L(g, λ) = Σ_k λ_k (E_{x~D_k}[f(g, x)] − c_k),
    L̂(g, λ) = Σ_k (λ_k/m_k) Σ_{x ∈ S_k} f(g, x) − c_k,

and the *skewness* s(λ‖m̄) = Σ_k λ_k²/m̄_k (:func:`skewness`, ≥ 1) measures
how far the training proportions are from the mixture the model is judged
on.

**T11 (bound; modularity as a regularizer).** With probability at least
1 − δ over the samples, for every gate g of a class 𝒢,

    L(g, λ) ≤ L̂(g, λ) + 2 R_m(𝒢, λ) + M sqrt(s(λ‖m̄) log(1/δ) / (2m)),

.. math:: L(g,\lambda) \le \hat L(g,\lambda) + 2 R_m(\mathcal G,\lambda)
          + M\sqrt{\frac{s(\lambda\|\bar m)\log(1/\delta)}{2m}},
          \qquad s(\lambda\|\bar m) = \sum_k \frac{\lambda_k^2}{\bar m_k},

where R_m(𝒢, λ) = E sup_{g ∈ 𝒢} Σ_k (λ_k/m_k) Σ_i σ_{k,i} f(g, x_{k,i}) is
the weighted Rademacher complexity [2]_ (σ_{k,i} independent uniform signs ±1).
The bound depends on the gate class through R_m only: for softmax-linear
gates on K experts that is a function of (K, B, R)
(:func:`rademacher_softmax_linear`, by vector contraction [3]_), never of the size n of X nor of the size of the
experts, while a tabular model over X pays of order sqrt(n/m)
(:func:`rademacher_tabular`). See the theory page *Generalization and sample
efficiency* of the documentation (the paper's §4.6 [1]_).

References
----------
.. [1] C. Cortes, M. Mohri and Y. Zhong, "A Theoretical Framework for Modular
   Learning of Robust Generative Models", arXiv:2602.17554, 2026, §4.6.
.. [2] M. Mohri, A. Rostamizadeh and A. Talwalkar, *Foundations of Machine
   Learning*, 2nd ed., MIT Press, 2018, ch. 3 (Rademacher complexity,
   McDiarmid's inequality).
.. [3] A. Maurer, "A vector-contraction inequality for Rademacher
   complexities", ALT 2016.

Examples
--------
>>> from theory.bounds import generalization_bound, rademacher_softmax_linear
>>> lam, m = [0.5, 0.5], [100, 100]
>>> R = rademacher_softmax_linear(B=1.0, R=1.0, K=2, lam=lam, m=m)
>>> round(R, 4)
0.2828
>>> round(generalization_bound(0.3, lam, m, M=2.0, delta=0.05, rademacher=R), 4)
1.0388
"""

from __future__ import annotations

import math

import numpy as np

from theory.validation import (
    as_real_array,
    check_distribution,
    check_int,
    check_positive,
    check_real,
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
    a = as_real_array(m, "m")
    if a.shape != (K,):
        raise ValueError(f"m: expected {K} per-domain sample sizes, got shape {a.shape}")
    if not np.all(np.isfinite(a)) or np.any(a <= 0):
        k = int(np.argmax(~np.isfinite(a) | (a <= 0)))
        raise ValueError(f"m: every sample size must be finite and > 0, got m[{k}] = {a[k]!r}")
    return a


def _proportions(m_arr: np.ndarray) -> np.ndarray:
    """m̄ = m / Σ_j m_j, scaled by the largest size first so that Σ_j m_j cannot overflow."""
    scaled = m_arr / m_arr.max()
    return scaled / scaled.sum()


def _root_total(m_arr: np.ndarray) -> float:
    """sqrt(Σ_j m_j) without forming the sum (finite for sizes near the largest float)."""
    top = float(m_arr.max())
    return math.sqrt(top) * math.sqrt(float((m_arr / top).sum()))


def _check_delta(delta) -> float:
    d = check_positive(delta, "delta")
    if d >= 1:
        raise ValueError(f"delta: expected a confidence level in (0, 1), got {delta!r}")
    return d


def skewness(lam, m) -> float:
    r"""The skewness s(λ‖m̄) = Σ_k λ_k²/m̄_k of a mixture against the sample proportions (T11).

    .. math:: s(\lambda\|\bar m) = \sum_k \frac{\lambda_k^2}{\bar m_k},
              \qquad \bar m_k = \frac{m_k}{\sum_j m_j}.

    By Cauchy–Schwarz s ≥ 1, with equality iff λ = m̄: the bound of T11 is
    tightest when the samples are drawn in the proportions of the mixture
    being evaluated.

    Parameters
    ----------
    lam : array_like, shape (K,)
        The mixture λ ∈ Δ_K.
    m : array_like, shape (K,)
        Per-domain sample sizes m_k > 0.

    Returns
    -------
    float
        s(λ‖m̄) ≥ 1.

    Raises
    ------
    ValueError
        If ``lam`` is not a distribution, or ``m`` does not hold K finite
        positive sizes.

    Examples
    --------
    >>> skewness([0.25, 0.75], [10, 30])  # λ = m̄
    1.0
    >>> round(skewness([0.5, 0.5], [10, 30]), 6)
    1.333333
    """
    lam = check_distribution(lam, "lam")
    m_arr = _check_sizes(m, lam.shape[0])
    mbar = _proportions(m_arr)
    return float(np.sum(lam**2 / mbar))


def loss_range(P) -> float:
    r"""The range M of the loss f(g, x) = −log p_g(x) ∈ [0, M] over all gates (T11).

    .. math:: M = \max_x \log\frac{1}{\min_k p_k(x)}.

    Every normalized gate gives p_g(x) ≥ min_k p_k(x), so the loss is bounded
    only when every expert has full support.

    Parameters
    ----------
    P : array_like, shape (K, n)
        The experts, one distribution per row.

    Returns
    -------
    float
        M ≥ 0, in nats.

    Raises
    ------
    ValueError
        If ``P`` is not a stack of distributions or some point has
        min_k p_k(x) = 0 (infinite range).

    Examples
    --------
    >>> round(loss_range([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]]), 6)  # log(1/0.1)
    2.302585
    """
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
    r"""How far the loss of one gate can move between two points x, x' (T11).

    .. math:: \sup_{g}\,|f(g,x) - f(g,x')| \le M_{\mathcal G}
              = \max_x \log\frac1{\ell(x)} - \min_x \log\frac1{u(x)},

    since every p_g(x) lies between the experts' floor ℓ(x) = min_k p_k(x) and
    ceiling u(x) = max_k p_k(x). It is the bounded difference of McDiarmid's
    inequality in :func:`data_dependent_bound`, at most :func:`loss_range`
    (which drops the ceiling).

    Parameters
    ----------
    P : array_like, shape (K, n)
        Experts with full support.

    Returns
    -------
    float
        M_𝒢 ≥ 0, in nats.

    Raises
    ------
    ValueError
        If ``P`` is not a stack of distributions or some point has
        min_k p_k(x) = 0.

    Examples
    --------
    >>> round(class_loss_range([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]]), 6)  # log(0.6/0.1)
    1.791759
    """
    M = loss_range(P)
    P = check_stack(P, "P")
    return float(M + np.log(P.max(axis=0)).max())


def data_dependent_bound(emp_rademacher, lam, m, M, delta) -> float:
    r"""The data-dependent form of T11, with the empirical complexity of the sample.

    .. math:: \sup_{g\in\mathcal G}\,\bigl(L(g,\lambda) - \hat L(g,\lambda)\bigr)
              \le 2\hat R_S(\mathcal G,\lambda)
              + 3M\sqrt{\frac{s(\lambda\|\bar m)\log(2/\delta)}{2m}}

    with probability ≥ 1 − δ. McDiarmid's inequality is applied twice, at δ/2
    each: to the uniform gap (whose expectation is at most 2R_m) and to
    R̂_S (which concentrates around R_m); replacing the point x_{k,i} moves
    either by at most (λ_k/m_k) M when every loss difference f(g,x) − f(g,x')
    is at most M in absolute value (:func:`class_loss_range`), and
    Σ_{k,i} (λ_k/m_k)² = s(λ‖m̄)/m. The standard argument is that of [1]_.

    Parameters
    ----------
    emp_rademacher : float
        R̂_S ≥ 0, the empirical weighted Rademacher complexity of the sample
        (e.g. from :func:`sims.generalization.empirical_rademacher`).
    lam : array_like, shape (K,)
        The mixture λ ∈ Δ_K.
    m : array_like, shape (K,)
        Per-domain sample sizes m_k > 0.
    M : float
        Bound ≥ 0 on the loss differences.
    delta : float
        Confidence parameter in (0, 1).

    Returns
    -------
    float
        The bound on the generalization gap, in nats.

    Raises
    ------
    ValueError
        On a negative or non-finite complexity or M, sizes that are not positive,
        ``lam`` not a distribution of length K, or δ outside (0, 1).

    References
    ----------
    .. [1] M. Mohri, A. Rostamizadeh and A. Talwalkar, *Foundations of Machine
       Learning*, 2nd ed., MIT Press, 2018, Theorem 3.3.

    Examples
    --------
    >>> round(data_dependent_bound(0.1, [0.5, 0.5], [100, 100], M=2.0, delta=0.05), 4)
    0.7762
    """
    delta = _check_delta(delta)
    rad = check_positive(emp_rademacher, "emp_rademacher", allow_zero=True)
    M = check_positive(M, "M", allow_zero=True)
    lam = check_distribution(lam, "lam")
    m_arr = _check_sizes(m, lam.shape[0])
    s = skewness(lam, m_arr)
    return float(
        2.0 * rad + 3.0 * M * math.sqrt(s * math.log(2.0 / delta) / 2.0) / _root_total(m_arr)
    )


def rademacher_softmax_linear(B, R, K, lam, m) -> float:
    r"""Bound on the weighted Rademacher complexity of softmax-linear gates (T11).

    For 𝒢_B = {g(x) = softmax(W φ(x)) : ‖W‖_F ≤ B} with features ‖φ(x)‖_2 ≤ R,
    the loss is 2-Lipschitz in the logits u = Wφ(x) (the ℓ1 norm of
    ∂f/∂u_k = g_k(1 − p_k/p_g) is at most 2), and vector contraction [1]_ gives

        R_m(𝒢_B, λ) ≤ 2√2 · B · R · sqrt(K s(λ‖m̄) / m).

    .. math:: R_m(\mathcal G_B,\lambda) \le 2\sqrt 2\, B R \sqrt{K\, s(\lambda\|\bar m)/m}.

    It depends on the gate (K, B, R), not on the size n of X nor on the experts.

    Parameters
    ----------
    B : float
        Bound ≥ 0 on the Frobenius norm of the weights W, shape (K, d).
    R : float
        Bound ≥ 0 on the Euclidean norm of the features φ(x) ∈ R^d.
    K : int
        Number of experts (≥ 1).
    lam : array_like, shape (K,)
        The mixture λ ∈ Δ_K.
    m : array_like, shape (K,)
        Per-domain sample sizes m_k > 0.

    Returns
    -------
    float
        The bound, in nats.

    Raises
    ------
    ValueError
        If ``B`` or ``R`` is negative or not finite, ``K`` not a positive
        integer, ``lam`` not K weights on Δ_K, or ``m`` not K positive sizes.

    References
    ----------
    .. [1] A. Maurer, "A vector-contraction inequality for Rademacher
       complexities", ALT 2016.

    Examples
    --------
    >>> round(rademacher_softmax_linear(1.0, 1.0, 2, [0.5, 0.5], [100, 100]), 6)  # 2√2·√(2/200)
    0.282843
    """
    B = check_positive(B, "B", allow_zero=True)
    R = check_positive(R, "R", allow_zero=True)
    K = check_int(K, "K")
    lam = check_weights(lam, K)
    m_arr = _check_sizes(m, K)
    s = skewness(lam, m_arr)
    return float(2.0 * math.sqrt(2.0) * B * R * math.sqrt(K * s) / _root_total(m_arr))


def rademacher_tabular(M, n, lam, m) -> float:
    r"""Bound on the weighted Rademacher complexity of a tabular model over X (T11, monolithic).

    For the class of all models q on n points with −log q(x) ∈ [0, M], the loss
    is a free vector a ∈ [0, M]^n evaluated at x, so with
    S_y = Σ_k (λ_k/m_k) Σ_{i : x_{k,i} = y} σ_{k,i} (symmetric),

    .. math:: R_m = \mathbb E \sup_a \sum_y a_y S_y = M \sum_y \mathbb E[S_y]_+
              = \tfrac M2 \sum_y \mathbb E|S_y|
              \le \tfrac M2 \sqrt{n \sum_y \mathbb E S_y^2}
              \le \tfrac M2 \sqrt{n\, s(\lambda\|\bar m)/m},

    by Jensen, Cauchy–Schwarz and Σ_y E S_y² = Σ_k λ_k²/m_k. Unlike the gate's
    complexity it grows with the size n of X.

    Parameters
    ----------
    M : float
        Range ≥ 0 of the loss.
    n : int
        Number of points of X (≥ 1).
    lam : array_like, shape (K,)
        The mixture λ ∈ Δ_K.
    m : array_like, shape (K,)
        Per-domain sample sizes m_k > 0.

    Returns
    -------
    float
        The bound, in nats.

    Raises
    ------
    ValueError
        If ``M`` is negative or not finite, ``n`` not a positive integer,
        ``lam`` not a distribution, or ``m`` not K positive sizes.

    Examples
    --------
    >>> round(rademacher_tabular(2.0, 1000, [0.5, 0.5], [100, 100]), 6)  # √(1000/200)
    2.236068
    """
    M = check_positive(M, "M", allow_zero=True)
    n = check_int(n, "n")
    lam = check_distribution(lam, "lam")
    m_arr = _check_sizes(m, lam.shape[0])
    return float(0.5 * M * math.sqrt(n * skewness(lam, m_arr)) / _root_total(m_arr))


def net_size(epsilon, K: int) -> float:
    r"""Size bound N_ε ≤ (3/ε)^{K−1} of an ℓ1 ε-net of Λ ⊆ Δ_K (T11).

    .. math:: N_\varepsilon \le (3/\varepsilon)^{K-1}.

    The simplex has dimension K − 1, and a volume argument bounds the number of
    ℓ1 balls of radius ε needed to cover it; the uniform bound of T11 pays
    log N_ε.

    Parameters
    ----------
    epsilon : float
        Radius ε > 0 of the net.
    K : int
        Number of domains (≥ 1).

    Returns
    -------
    float
        The bound (3/ε)^{K−1}.

    Raises
    ------
    ValueError
        If ``epsilon`` is not a positive number or ``K`` not a positive integer.

    Examples
    --------
    >>> net_size(0.1, 3)
    900.0
    """
    eps = check_positive(epsilon, "epsilon")
    K = check_int(K, "K")
    return float((3.0 / eps) ** (K - 1))


def _bound(emp_risk, lam, m, M, rademacher, log_term) -> float:
    emp = check_real(emp_risk, "emp_risk")
    M = check_positive(M, "M", allow_zero=True)
    rad = check_positive(rademacher, "rademacher", allow_zero=True)
    lam = check_distribution(lam, "lam")
    m_arr = _check_sizes(m, lam.shape[0])
    s = skewness(lam, m_arr)
    return emp + 2.0 * rad + M * math.sqrt(s * log_term / 2.0) / _root_total(m_arr)


def generalization_bound(emp_risk, lam, m, M, delta, rademacher) -> float:
    r"""The fixed-λ bound of T11.

        L(g, λ) ≤ L̂(g, λ) + 2R + M sqrt(s(λ‖m̄) log(1/δ) / (2m)),

    .. math:: L(g,\lambda) \le \hat L(g,\lambda) + 2R + M\sqrt{s(\lambda\|\bar m)\log(1/\delta)/(2m)},

    holding with probability ≥ 1 − δ for every g of a class whose weighted
    Rademacher complexity is at most ``rademacher``.

    Parameters
    ----------
    emp_risk : float
        The empirical payoff L̂(g, λ), in nats (finite).
    lam : array_like, shape (K,)
        The mixture λ ∈ Δ_K.
    m : array_like, shape (K,)
        Per-domain sample sizes m_k > 0.
    M : float
        Range ≥ 0 of the loss (:func:`loss_range`).
    delta : float
        Confidence parameter in (0, 1).
    rademacher : float
        A bound R ≥ 0 on R_m(𝒢, λ) (e.g. :func:`rademacher_softmax_linear`).

    Returns
    -------
    float
        The upper bound on L(g, λ), in nats.

    Raises
    ------
    ValueError
        If δ is outside (0, 1), ``emp_risk`` is not finite, ``M`` or
        ``rademacher`` is negative or not finite, ``lam`` not a distribution or
        ``m`` not K positive sizes.

    Examples
    --------
    >>> round(generalization_bound(0.3, [0.5, 0.5], [100, 100], 2.0, 0.05, 0.2), 4)
    0.8731
    """
    delta = _check_delta(delta)
    return _bound(emp_risk, lam, m, M, rademacher, math.log(1.0 / delta))


def uniform_generalization_bound(emp_risk, lam, m, M, delta, rademacher, epsilon) -> float:
    r"""The bound of T11 uniform over Λ ⊆ Δ_K, through an ε-net in ℓ1.

    .. math:: \hat L(g,\lambda) + 2R + M\sqrt{s(\lambda\|\bar m)\log(N_\varepsilon/\delta)/(2m)}
              + 2M\varepsilon,\qquad N_\varepsilon \le (3/\varepsilon)^{K-1},

    holding simultaneously for every λ ∈ Λ and g ∈ 𝒢 with probability ≥ 1 − δ:
    a union bound over the net (log N_ε) and 2Mε for the distance from λ to
    its nearest net point.

    Parameters
    ----------
    emp_risk : float
        The empirical payoff L̂(g, λ), in nats (finite).
    lam : array_like, shape (K,)
        The mixture λ ∈ Δ_K.
    m : array_like, shape (K,)
        Per-domain sample sizes m_k > 0.
    M : float
        Range ≥ 0 of the loss.
    delta : float
        Confidence parameter in (0, 1).
    rademacher : float
        A bound R ≥ 0 on R_m(𝒢, λ).
    epsilon : float
        Radius ε > 0 of the net.

    Returns
    -------
    float
        The upper bound on L(g, λ), in nats.

    Raises
    ------
    ValueError
        As :func:`generalization_bound`, and if ``epsilon`` is not a positive
        number.

    Examples
    --------
    >>> round(uniform_generalization_bound(0.3, [0.5, 0.5], [100, 100], 2.0, 0.05, 0.2, 0.01), 4)
    1.0349
    """
    delta = _check_delta(delta)
    N = net_size(epsilon, check_distribution(lam, "lam").shape[0])
    M_val = check_positive(M, "M", allow_zero=True)
    log_term = math.log(max(N, 1.0) / delta)
    return _bound(emp_risk, lam, m, M_val, rademacher, log_term) + 2.0 * M_val * float(epsilon)
