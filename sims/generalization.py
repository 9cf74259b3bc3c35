r"""The generalization gap of learned gates against the bound of T11 (experiment E7).

Notation. X is a finite set of n points; the K domains D_1, …, D_K and the
experts p_1, …, p_K are distributions on X (rows of (K, n) arrays D and P),
the experts with full support. A gate g mixes the experts point by point,
p_g(x) = Σ_k g_k(x) p_k(x), and f(g, x) = −log p_g(x) is its loss at x. For
a mixture λ ∈ Δ_K, D_λ = Σ_k λ_k D_k. A sample of m_k points from each D_k
(m = Σ_k m_k in all, proportions m̄_k = m_k/m) gives the empirical payoff
L̂(g, λ); the true payoff L(g, λ) uses the distributions themselves. The
*generalization gap* of a model is L − L̂, and T11 bounds it uniformly over a
gate class 𝒢_B (:mod:`theory.bounds`, which also defines the skewness
s(λ‖m̄) and the Rademacher complexity). See the theory page *Generalization
and sample efficiency* of the documentation (the paper's §4.6 [1]_).

Fix experts P (full support), domains D and a mixture λ. For each total sample
size m, draw many independent samples :math:`S_k` of sizes :math:`m_k = \bar m_k m`
from the domains. A draw only enters through its weighted empirical law
:math:`\hat w(x) = \sum_k (\lambda_k/m_k)\, c_k(x)`, so that for every model the
empirical and the true payoffs are

.. math:: \hat L(g,\lambda) = \sum_x \hat w(x) f(g,x) - \lambda\cdot c,\qquad
          L(g,\lambda) = \sum_x D_\lambda(x) f(g,x) - \lambda\cdot c,

with :math:`f(g,x) = -\log p_g(x)`: the gap :math:`L - \hat L = \sum_x (D_\lambda - \hat w) f`
is exact and the offsets c cancel. Per draw the module

* trains a softmax-linear gate :math:`g_W = \mathrm{softmax}(W\phi)` on the log-likelihood
  features (‖W‖_F ≤ B, ‖φ‖ ≤ R = 1) by minimizing :math:`\hat L` subject to Z(g) = 1
  (Lagrangian, as in T12), and records its exact gap;
* estimates the uniform gap :math:`\sup_{g\in\mathcal G_B}(L - \hat L)` by projected
  gradient ascent from two starts (a lower estimate of the supremum);
* fits the monolithic tabular model :math:`\hat q = (m\hat w + \beta)/(m + n\beta)` (add-β
  smoothing of the same weighted sample), records its exact gap, and computes
  exactly the uniform gap of its class :math:`\{q \in \Delta(X) : q \ge \beta/(m+n\beta)\}`.

All draws are processed at once (arrays of shape (draws, K, n)). The bounds are
:func:`theory.bounds.generalization_bound` with the gate complexity
:func:`~theory.bounds.rademacher_softmax_linear` and the tabular complexity
:func:`~theory.bounds.rademacher_tabular`; a draw violates the bound when the
(estimated) uniform gap exceeds it.

The analytical complexity is itself measured (:func:`empirical_rademacher`):
on fresh samples S the empirical weighted Rademacher complexity

.. math:: \hat R_S(\mathcal G_B,\lambda) = \mathbb E_\sigma \sup_{\|W\|_F\le B}
          \sum_k \frac{\lambda_k}{m_k}\sum_{i} \sigma_{k,i} f(g_W, x_{k,i})

is estimated by Monte Carlo over sign draws σ, the supremum by projected
gradient ascent, together with the complexity of the logits' linear class
:math:`B\,\mathbb E_\sigma\|\sum_i a_i \sigma_i \phi(x_i)^\top\|_F`
(σ_i ∈ {±1}^K), which vector contraction multiplies by √2 times the Lipschitz
constant 2. They give the data-dependent bound of T11 (McDiarmid twice, on the
gap and on R̂_S, each at δ/2; every point x_{k,i} moves either by at most
(λ_k/m_k) M, so Σ_i (λ_k/m_k)² M² = M² s/m):

.. math:: \sup_g\,(L - \hat L) \le 2\hat R_S(\mathcal G_B,\lambda)
          + 3M\sqrt{\frac{s(\lambda\|\bar m)\log(2/\delta)}{2m}}
          \quad\text{with probability} \ge 1-\delta,

with M = max_x log(1/ℓ(x)) − min_x log(1/u(x)) (:func:`theory.bounds.class_loss_range`),
how far the loss of one gate moves between two points, set by the experts'
floor ℓ = min_k p_k and ceiling u = max_k p_k.

References
----------
.. [1] C. Cortes, M. Mohri and Y. Zhong, "A Theoretical Framework for Modular
   Learning of Robust Generative Models", arXiv:2602.17554, 2026, §4.6.

Examples
--------
>>> from sims.generalization import weighted_counts
>>> D = [[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]
>>> w = weighted_counts(D, [0.5, 0.5], [4, 4], draws=3, seed=1)
>>> w.shape, w.sum(axis=1).tolist()  # one law ŵ per draw
((3, 3), [1.0, 1.0, 1.0])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from threadpoolctl import threadpool_limits

from sims.primal_dual import loglik_features
from theory import bounds
from theory.bounds import (
    class_loss_range,
    data_dependent_bound,
    generalization_bound,
    loss_range,
    rademacher_tabular,
    skewness,
)
from theory.results import Layout, Readable
from theory.validation import (
    as_real_array,
    check_distribution,
    check_int,
    check_pair,
    check_positive,
    check_seed,
    check_stack,
)

__all__ = [
    "GapStudy",
    "RademacherEstimate",
    "empirical_rademacher",
    "generalization_gaps",
    "tabular_sup",
    "weighted_counts",
    "log_log_slope",
]


@dataclass(frozen=True)
class GapStudy(Readable):
    """Measured gaps and bounds of T11, one row per total sample size ``m[i]``.

    Returned by :func:`generalization_gaps`. Gaps and bounds are in nats;
    ``print(study)`` is meant to show one line per m with the means over draws.
    Below, r = len(m) and "draws" is the number of sample draws per size.

    Parameters
    ----------
    m : ndarray of int, shape (r,)
        The total sample sizes.
    sizes : ndarray of int, shape (r, K)
        The realized per-domain sizes m_k.
    lam : ndarray, shape (K,)
        The mixture λ.
    delta : float
        The confidence parameter δ.
    radius : float
        B of the gate class 𝒢_B.
    M_gate : float
        The loss range of the gates (:func:`theory.bounds.loss_range`).
    M_class : float
        The loss difference bound of the gate class
        (:func:`theory.bounds.class_loss_range`).
    M_tab : ndarray, shape (r,)
        The loss range log((m + nβ)/β) of the tabular model.
    skewness : ndarray, shape (r,)
        s(λ‖m̄) for the realized sizes.
    gate_gap : ndarray, shape (r, draws)
        L − L̂ of the trained gate.
    gate_sup : ndarray, shape (r, draws)
        Estimated sup over 𝒢_B of L − L̂ (a lower estimate).
    gate_true : ndarray, shape (r, draws)
        L of the trained gate.
    gate_bound : ndarray, shape (r,)
        2R_m(𝒢_B) + M sqrt(s log(1/δ)/(2m)) (T11).
    gate_violation : ndarray, shape (r,)
        Fraction of draws whose estimated sup exceeds ``gate_bound``.
    tab_gap, tab_sup, tab_true : ndarray, shape (r, draws)
        The same for the add-β tabular model; ``tab_sup`` is the exact sup of
        L − L̂ over the tabular class {q ≥ ε}, ε = β/(m + nβ).
    tab_bound : ndarray, shape (r,)
        The bound with the tabular complexity and range.
    tab_violation : ndarray, shape (r,)
        Fraction of draws whose exact sup exceeds ``tab_bound``.
    gate_complexity : ndarray, shape (r,)
        The analytical R_m(𝒢_B, λ) of T11.
    rademacher_loss, rademacher_loss_se : ndarray, shape (r,)
        The Monte Carlo estimate of the empirical complexity R̂_S of the loss
        class (and its standard error), averaged over fresh samples.
    rademacher_linear, rademacher_linear_se : ndarray, shape (r,)
        The same for the logits' linear class.
    gate_bound_dd : ndarray, shape (r,)
        The data-dependent bound 2R̂_S + 3M sqrt(s log(2/δ)/(2m)) (its largest
        value over the samples used), with M = ``M_class``.

    Examples
    --------
    >>> D = [[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]
    >>> P = [[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]]
    >>> study = generalization_gaps(D, P, [0.5, 0.5], [20, 80], draws=20, train_steps=30,
    ...                             sup_steps=20, rademacher_samples=1, rademacher_signs=10)
    >>> study.gate_gap.shape, study.sizes.tolist()
    ((2, 20), [[10, 10], [40, 40]])
    """

    m: np.ndarray
    sizes: np.ndarray
    lam: np.ndarray
    delta: float
    radius: float
    M_gate: float
    M_class: float
    M_tab: np.ndarray
    skewness: np.ndarray
    gate_gap: np.ndarray
    gate_sup: np.ndarray
    gate_true: np.ndarray
    gate_bound: np.ndarray
    gate_violation: np.ndarray
    tab_gap: np.ndarray
    tab_sup: np.ndarray
    tab_true: np.ndarray
    tab_bound: np.ndarray
    tab_violation: np.ndarray
    gate_complexity: np.ndarray
    rademacher_loss: np.ndarray
    rademacher_loss_se: np.ndarray
    rademacher_linear: np.ndarray
    rademacher_linear_se: np.ndarray
    gate_bound_dd: np.ndarray

    _layout: ClassVar[Layout] = Layout(
        "Generalization gaps against the bound of T11 (nats; gaps and sups: means over draws)",
        numbers=(("M_gate", "gate loss range M"),),
        facts=(("delta", "confidence δ"), ("radius", "gate radius B")),
        series=(
            ("m", "m"),
            ("skewness", "s(λ‖m̄)"),
            ("gate_gap", "gate gap"),
            ("gate_sup", "gate sup"),
            ("gate_bound", "gate bound"),
            ("gate_violation", "gate viol"),
            ("tab_gap", "tab gap"),
            ("tab_sup", "tab sup"),
            ("tab_bound", "tab bound"),
            ("tab_violation", "tab viol"),
            ("gate_complexity", "R_m(𝒢_B)"),
            ("rademacher_loss", "R̂_S (MC)"),
            ("gate_bound_dd", "dd bound"),
        ),
    )


@dataclass(frozen=True)
class RademacherEstimate:
    r"""Monte Carlo estimates of empirical weighted Rademacher complexities on one sample (T11).

    Returned by :func:`empirical_rademacher`. With a_i = λ_k/m_k for a point x_i
    of domain k and independent uniform signs σ:

    .. math:: \text{loss} \approx \mathbb E_\sigma\sup_{\|W\|_F\le B}\sum_i a_i\sigma_i f(g_W, x_i),
              \qquad
              \text{linear} \approx B\,\mathbb E_\sigma\Bigl\|\sum_i a_i \sigma_i\phi(x_i)^\top\Bigr\|_F .

    Parameters
    ----------
    loss, loss_se : float
        The complexity of the loss class and its standard error. Each supremum
        is estimated from below by projected gradient ascent, so ``loss`` tends
        to be low by the optimization error.
    linear, linear_se : float
        The complexity of the logits u = Wφ(x) (σ_i ∈ {±1}^K; the supremum is
        exact: a norm) and its standard error.
    signs : int
        Sign draws used for each.

    Examples
    --------
    >>> P = [[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]]
    >>> est = empirical_rademacher([[3, 1, 0], [0, 1, 3]], P, [0.5, 0.5], radius=1.0, signs=50)
    >>> est.signs, est.loss > 0, est.linear > 0
    (50, True, True)
    """

    loss: float
    loss_se: float
    linear: float
    linear_se: float
    signs: int


def _sign_sums(counts, weights, rng, shape) -> np.ndarray:
    """Σ_k a_k Σ_{i: x_{k,i} = x} σ_{k,i} for independent signs, as arrays of ``shape + (n,)``:
    a sum of c fair signs is 2·Binomial(c, ½) − c."""
    out = np.zeros((*shape, counts.shape[1]))
    for c, a in zip(counts, weights, strict=True):
        if a > 0:
            out += a * (2.0 * rng.binomial(c, 0.5, size=(*shape, c.size)) - c)
    return out


def empirical_rademacher(
    counts, P, lam, radius: float = 10.0, signs: int = 200, steps: int = 60, lr=0.5, seed=0
) -> RademacherEstimate:
    r"""Monte Carlo estimate of the empirical Rademacher complexity of softmax-linear gates (T11).

    .. math:: \hat R_S(\mathcal G_B,\lambda) = \mathbb E_\sigma \sup_{\|W\|_F\le B}
              \sum_k \frac{\lambda_k}{m_k}\sum_{i=1}^{m_k} \sigma_{k,i}\,
              \bigl(-\log p_{g_W}(x_{k,i})\bigr),
              \qquad g_W = \mathrm{softmax}(W\phi),

    on the log-likelihood features φ of the experts (‖φ‖ ≤ R = 1). In words:
    how well the gates of norm at most B can correlate their losses with random
    signs on the sample; a small value means the class cannot overfit. A sample
    enters only through its counts: the signs of the c_k(x) points of domain k
    at x add up to 2·Binomial(c_k(x), ½) − c_k(x).

    Parameters
    ----------
    counts : array_like of int, shape (K, n)
        c_k(x), the number of points of the sample of domain k at x (m_k = row sums ≥ 1).
    P : array_like, shape (K, n)
        Experts with full support.
    lam : array_like, shape (K,)
        The mixture λ of the payoff.
    radius : float, default 10.0
        B of the class (> 0).
    signs : int, default 200
        Sign draws σ (≥ 1; the standard errors are inf for 1).
    steps : int, default 60
        Steps of the projected AdaGrad ascent of each supremum (from W = 0 and
        from a random W on the sphere of radius B; the better is kept).
    lr : float, default 0.5
        Step size of that ascent (> 0).
    seed : int or numpy.random.Generator, default 0
        Randomness of the signs and the random start.

    Returns
    -------
    RademacherEstimate
        The estimates for the loss class and the linear class of the logits.

    Raises
    ------
    ValueError
        On counts that are not non-negative integers of shape (K, n) with every
        m_k ≥ 1, experts without full support, ``lam`` not K weights on Δ_K, or
        a bad ``radius``, ``signs``, ``steps``, ``lr`` or ``seed``.

    Examples
    --------
    >>> P = [[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]]
    >>> small = empirical_rademacher([[3, 1, 0], [0, 1, 3]], P, [0.5, 0.5], radius=0.1, signs=50)
    >>> large = empirical_rademacher([[3, 1, 0], [0, 1, 3]], P, [0.5, 0.5], radius=10.0, signs=50)
    >>> small.linear < large.linear  # the linear complexity is proportional to B
    True
    """
    P = check_stack(P, "P")
    K, n = P.shape
    lam = check_distribution(lam, "lam")
    if lam.shape[0] != K:
        raise ValueError(f"lam: expected {K} weights (one per expert), got {lam.shape[0]}")
    c = np.asarray(counts)
    if c.shape != (K, n) or not np.issubdtype(c.dtype, np.integer) or np.any(c < 0):
        raise ValueError(f"counts: expected non-negative integers of shape ({K}, {n})")
    if np.any(c.sum(axis=1) < 1):
        raise ValueError("counts: every domain's sample needs at least one point")
    B = check_positive(radius, "radius")
    signs = check_int(signs, "signs")
    steps = check_int(steps, "steps")
    lr = check_positive(lr, "lr")
    rng = check_seed(seed)
    loss_range(P)  # the loss must be bounded: experts with full support
    Phi, _ = loglik_features(P)
    a = lam / c.sum(axis=1)

    v = _sign_sums(c, a, rng, (signs,))
    start = rng.normal(size=(signs, K, Phi.shape[1]))
    start *= B / np.sqrt((start**2).sum(axis=(1, 2), keepdims=True))
    sup = np.maximum(
        _ascend_gap(v, np.zeros_like(start), Phi, P, B, steps, lr),
        _ascend_gap(v, start, Phi, P, B, steps, lr),
    )
    w = _sign_sums(c, a, rng, (signs, K))
    lin = B * np.sqrt((_weight_gradient(w, Phi) ** 2).sum(axis=(1, 2)))
    root = math.sqrt(signs)
    return RademacherEstimate(
        loss=float(sup.mean()),
        loss_se=float(sup.std(ddof=1) / root) if signs > 1 else math.inf,
        linear=float(lin.mean()),
        linear_se=float(lin.std(ddof=1) / root) if signs > 1 else math.inf,
        signs=signs,
    )


def weighted_counts(D, lam, sizes, draws: int, seed=0) -> np.ndarray:
    r"""The weighted empirical laws ŵ(x) = Σ_k (λ_k/m_k) c_k(x) of ``draws`` independent samples.

    .. math:: \hat w(x) = \sum_k \frac{\lambda_k}{m_k}\, c_k(x),

    where c_k(x) counts x among m_k i.i.d. points of D_k; ŵ is an unbiased
    estimate of the mixture D_λ, and L̂(g, λ) = Σ_x ŵ(x) f(g, x) − λ·c.

    Parameters
    ----------
    D : array_like, shape (K, n)
        The domains, one distribution per row.
    lam : array_like, shape (K,)
        The mixture λ.
    sizes : array_like of int, shape (K,)
        The per-domain sample sizes m_k ≥ 1.
    draws : int
        Independent samples to draw (≥ 1).
    seed : int or numpy.random.Generator, default 0
        Randomness.

    Returns
    -------
    ndarray, shape (draws, n)
        One weighted empirical law per draw (each sums to 1).

    Raises
    ------
    ValueError
        If ``D`` is not a stack of distributions, ``lam`` not K weights on Δ_K,
        ``sizes`` not K integers ≥ 1, ``draws`` not a positive integer or
        ``seed`` invalid.

    Examples
    --------
    >>> w = weighted_counts([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], [0.5, 0.5], [4, 4], draws=2)
    >>> w
    array([[0.375, 0.375, 0.25 ],
           [0.625, 0.125, 0.25 ]])
    """
    D = check_stack(D, "D")
    K = D.shape[0]
    lam = check_distribution(lam, "lam")
    if lam.shape[0] != K:
        raise ValueError(f"lam: expected {K} weights (one per domain), got {lam.shape[0]}")
    sizes = np.asarray(sizes)
    if sizes.shape != (K,) or not np.issubdtype(sizes.dtype, np.integer) or np.any(sizes < 1):
        raise ValueError(f"sizes: expected {K} integer sample sizes ≥ 1, got {sizes!r}")
    draws = check_int(draws, "draws")
    rng = check_seed(seed)
    w = np.zeros((draws, D.shape[1]))
    for k, (row, mk) in enumerate(zip(D, sizes, strict=True)):
        if lam[k] > 0:
            w += (lam[k] / mk) * rng.multinomial(int(mk), row, size=draws)
    return w


def log_log_slope(x, y) -> float:
    """Least-squares slope of log y against log x (the exponent of a power law).

    For y ≈ C x^a the slope is a; E7 uses it to check that the gap shrinks
    like m^{−1/2} (T11).

    Parameters
    ----------
    x, y : array_like, shape (r,)
        At least two finite positive numbers each, of the same length.

    Returns
    -------
    float
        The fitted exponent a.

    Raises
    ------
    ValueError
        If ``x`` or ``y`` is not a 1-D array of at least two finite positive
        numbers, or their lengths differ.

    Examples
    --------
    >>> log_log_slope([1, 4, 16], [1, 2, 4])  # y = √x
    0.5
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    for name, a in (("x", x), ("y", y)):
        if a.ndim != 1 or a.size < 2 or not np.all(np.isfinite(a)) or np.any(a <= 0):
            raise ValueError(f"{name}: expected at least two finite positive numbers, got {a!r}")
    if x.shape != y.shape:
        raise ValueError(f"y: expected {x.size} values (one per x), got {y.size}")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def _small_products():
    """One BLAS thread for the loops below: their matrix products have an inner or outer
    size of K·d or d (a few units), where threads cost more than they save (several
    times more when the cores are busy)."""
    return threadpool_limits(limits=1, user_api="blas")


def _logits(W, Phi):
    """U[r, k, x] = Σ_e W[r, k, e] φ(x)_e for a stack of weight matrices, as one matrix product."""
    r, K, d = W.shape
    return (W.reshape(r * K, d) @ Phi.T).reshape(r, K, Phi.shape[0])


def _weight_gradient(dU, Phi):
    """dW[r, k, e] = Σ_x dU[r, k, x] φ(x)_e (chain rule from the logits), as one matrix product."""
    r, K, n = dU.shape
    return (dU.reshape(r * K, n) @ Phi).reshape(r, K, Phi.shape[1])


def _gate_terms(W, Phi, P):
    """Gate values (r, K, n), model p_g (r, n) and the logit Jacobian factor g_k(1 − p_k/p_g).

    In place where it can: every step of the loops below calls it on arrays of
    shape (draws, K, n).
    """
    G = _logits(W, Phi)
    G -= G.max(axis=1, keepdims=True)
    np.exp(G, out=G)
    G /= G.sum(axis=1, keepdims=True)
    pg = np.einsum("rkn,kn->rn", G, P)
    J = P[None] / pg[:, None, :]
    np.subtract(1.0, J, out=J)
    J *= G
    return G, pg, J


def _project(W, B):
    norm = np.sqrt((W**2).sum(axis=(1, 2), keepdims=True))
    return W * np.minimum(1.0, B / np.maximum(norm, 1e-300))


def _train_gates(w_hat, Phi, P, B, steps, lr):
    r"""min_W Σ_x ŵ(x)(−log p_{g_W}(x)) s.t. Z(g_W) = 1, ‖W‖ ≤ B, for every draw at once.

    Gradient descent–ascent on the Lagrangian (AdaGrad on W, ascent on μ), the
    deterministic counterpart of T12 on each draw's empirical law.
    """
    r, K = w_hat.shape[0], P.shape[0]
    W = np.zeros((r, K, Phi.shape[1]))
    sq = np.zeros_like(W)
    mu = np.ones(r)
    with _small_products():
        for t in range(1, steps + 1):
            G, pg, J = _gate_terms(W, Phi, P)
            # dU = ŵ·J + μ·G·(P − p_g), built in the buffer of G.
            J *= w_hat[:, None, :]
            G *= P[None] - pg[:, None, :]
            G *= mu[:, None, None]
            G += J
            dW = _weight_gradient(G, Phi)
            sq += dW**2
            W = _project(W - lr * dW / np.sqrt(sq + 1e-12), B)
            mu += (lr / math.sqrt(t)) * (pg.sum(axis=1) - 1.0)
    return W


def _ascend_gap(v, W0, Phi, P, B, steps, lr):
    r"""max_W Σ_x v(x) f(g_W, x) over ‖W‖ ≤ B by projected AdaGrad ascent, per draw; returns
    the best value met (a lower estimate of the supremum)."""
    W = W0.copy()
    sq = np.zeros_like(W)
    best = np.full(W.shape[0], -np.inf)
    with _small_products():
        for _ in range(steps):
            _, pg, J = _gate_terms(W, Phi, P)
            best = np.maximum(best, -(v * np.log(pg)).sum(axis=1))
            J *= v[:, None, :]
            dW = _weight_gradient(J, Phi)
            sq += dW**2
            W = _project(W + lr * dW / np.sqrt(sq + 1e-12), B)
        _, pg, _ = _gate_terms(W, Phi, P)
    return np.maximum(best, -(v * np.log(pg)).sum(axis=1))


def _tabular_sup(v, eps):
    r"""Exact :math:`\sup_{q\in\Delta(X),\, q\ge\varepsilon} \sum_x v(x)(-\log q(x))` per row of v.

    The optimum puts q = ε wherever v ≥ 0 and, on {v < 0}, maximizes the concave
    :math:`\sum |v| \log q` under the remaining mass: :math:`q = \max(\varepsilon, |v|/\nu)`
    (water-filling), ν found by bisection on the mass (monotone in ν).
    """
    neg = np.where(v < 0, -v, 0.0)
    budget = 1.0 - eps * (v >= 0).sum(axis=1, keepdims=True)
    free = (v < 0).sum(axis=1, keepdims=True)
    lo = np.full_like(budget, 1e-300)
    hi = neg.sum(axis=1, keepdims=True) / np.maximum(budget - eps * free, 1e-300) * 2 + 1e-300
    for _ in range(100):
        nu = 0.5 * (lo + hi)
        mass = np.where(v < 0, np.maximum(eps, neg / nu), 0.0).sum(axis=1, keepdims=True)
        lo, hi = np.where(mass > budget, nu, lo), np.where(mass > budget, hi, nu)
    q = np.where(v < 0, np.maximum(eps, neg / hi), eps)
    return -(v * np.log(q)).sum(axis=1)


def tabular_sup(v, eps) -> np.ndarray | float:
    r"""The exact uniform deviation of the clipped tabular class (T11's tabular model).

    For a signed weight vector v on X (in T11, v = D_λ − ŵ, the target law minus
    the weighted empirical law of a draw) and a floor ε,

    .. math:: \sup_{q\in\Delta(X),\ q\ge\varepsilon}\ \sum_x v(x)\,\bigl(-\log q(x)\bigr).

    Every add-β tabular model has q ≥ ε = β/(m + nβ), so this is the exact
    supremum of L − L̂ over that class for the draw. Where v(x) ≥ 0 the term
    falls as q(x) grows, so the optimum puts q(x) = ε there; on {v < 0} it
    maximizes the concave :math:`\sum_x |v(x)| \log q(x)` under the remaining
    mass, :math:`q(x) = \max(\varepsilon, |v(x)|/\nu)` with ν set by the mass
    (water-filling, found by bisection).

    Parameters
    ----------
    v : array_like, shape (n,) or (r, n)
        Finite signed weights (one vector per row).
    eps : float
        The floor ε, in (0, 1/n].

    Returns
    -------
    float or ndarray, shape (r,)
        The supremum, in nats (one per row of ``v``).

    Raises
    ------
    ValueError
        If ``v`` is empty, not finite or of the wrong dimension, or ``eps`` is
        not in (0, 1/n].

    Examples
    --------
    Where v > 0 the best q is as small as allowed; the rest of the mass goes where v < 0:

    >>> round(float(tabular_sup([0.5, -0.5], 0.1)), 6)  # q = (0.1, 0.9)
    1.098612
    """
    a = as_real_array(v, "v", ndim=(1, 2))
    if a.shape[-1] == 0 or not np.all(np.isfinite(a)):
        raise ValueError("v: expected finite weights on at least one point")
    n = a.shape[-1]
    e = check_positive(eps, "eps")
    if e > 1.0 / n:
        raise ValueError(f"eps: the floor must be at most 1/n = {1.0 / n:g} (got {e:g})")
    out = _tabular_sup(np.atleast_2d(a), e)
    return float(out[0]) if a.ndim == 1 else out


def generalization_gaps(
    D,
    P,
    lam,
    m,
    mbar=None,
    draws: int = 200,
    delta: float = 0.05,
    radius: float = 10.0,
    beta: float = 0.5,
    train_steps: int = 150,
    sup_steps: int = 100,
    lr: float = 0.5,
    seed=0,
    rademacher_samples: int = 3,
    rademacher_signs: int = 200,
) -> GapStudy:
    r"""Measure the generalization gap of T11 over ``draws`` sample draws per size in ``m``.

    For each total size m and each draw, the gap L − L̂ of a trained gate, an
    estimate of the uniform gap sup_{g ∈ 𝒢_B} (L − L̂), and the same for the
    add-β tabular model are compared with the bound of T11,

    .. math:: \sup_{g\in\mathcal G}\,(L - \hat L) \le 2R_m(\mathcal G,\lambda)
              + M\sqrt{\frac{s(\lambda\|\bar m)\log(1/\delta)}{2m}}
              \quad\text{with probability} \ge 1-\delta,

    see the module docstring for how each quantity is computed.

    Parameters
    ----------
    D, P : array_like, shape (K, n)
        The domains and the experts (P with full support, so f ∈ [0, M]).
    lam : array_like, shape (K,)
        The fixed mixture λ of the payoff.
    m : array_like of int, shape (r,)
        Total sample sizes m ≥ K; each is split as
        m_k = max(1, round(m̄_k m)).
    mbar : array_like, shape (K,), optional
        Training proportions m̄ > 0 (default uniform); s(λ‖m̄) is computed
        from the realized m_k.
    draws : int, default 200
        Independent draws per size.
    delta : float, default 0.05
        Confidence parameter δ in (0, 1).
    radius : float, default 10.0
        B of the gate class 𝒢_B (features with R = 1).
    beta : float, default 0.5
        Add-β smoothing of the tabular model on the scale of the counts,
        q̂ = (m ŵ + β)/(m + nβ), whose loss range is then M = log((m + nβ)/β).
    train_steps, sup_steps : int, default 150, 100
        Iterations of the training and of the supremum search.
    lr : float, default 0.5
        Step size of both.
    seed : int or numpy.random.Generator, default 0
        Randomness.
    rademacher_samples : int, default 3
        Fresh samples per size on which the empirical complexity is estimated
        (:func:`empirical_rademacher`).
    rademacher_signs : int, default 200
        Sign draws on each (≥ 2).

    Returns
    -------
    GapStudy
        Gaps, sups, bounds, violation rates and complexities per size.

    Raises
    ------
    ValueError
        If ``D`` and ``P`` are not stacks of distributions of the same shape, P
        lacks full support, ``lam`` is not K weights on Δ_K, ``m`` is not a
        non-empty 1-D list of integers ≥ K, ``mbar`` not K positive
        proportions, δ outside (0, 1), or another count, step size or seed is
        invalid.

    Examples
    --------
    >>> D = [[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]
    >>> P = [[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]]
    >>> study = generalization_gaps(D, P, [0.5, 0.5], [20, 80], draws=20, train_steps=30,
    ...                             sup_steps=20, rademacher_samples=1, rademacher_signs=10)
    >>> bool(study.gate_bound[1] < study.gate_bound[0])  # the bound shrinks with m
    True
    >>> study.gate_violation.tolist()  # never above δ = 0.05 here
    [0.0, 0.0]
    """
    D, P = check_pair(D, P)
    K, n = D.shape
    lam = check_distribution(lam, "lam")
    if lam.shape[0] != K:
        raise ValueError(f"lam: expected {K} weights (one per domain), got {lam.shape[0]}")
    m_arr = np.asarray(m)
    if m_arr.ndim != 1 or m_arr.size == 0 or not np.issubdtype(m_arr.dtype, np.integer):
        raise ValueError(f"m: expected a nonempty 1-D list of integer sample sizes, got {m!r}")
    if np.any(m_arr < K):
        raise ValueError(f"m: every total sample size must be ≥ K = {K}, got {m_arr.min()}")
    mbar = np.full(K, 1.0 / K) if mbar is None else check_distribution(mbar, "mbar")
    if mbar.shape[0] != K or np.any(mbar <= 0):
        raise ValueError(f"mbar: expected {K} positive proportions, got {mbar!r}")
    draws = check_int(draws, "draws")
    delta = check_positive(delta, "delta")
    if delta >= 1:
        raise ValueError(f"delta: expected a confidence level in (0, 1), got {delta!r}")
    B = check_positive(radius, "radius")
    beta = check_positive(beta, "beta")
    train_steps = check_int(train_steps, "train_steps")
    sup_steps = check_int(sup_steps, "sup_steps")
    lr = check_positive(lr, "lr")
    rademacher_samples = check_int(rademacher_samples, "rademacher_samples")
    rademacher_signs = check_int(rademacher_signs, "rademacher_signs", minimum=2)

    M_gate = loss_range(P)
    M_class = class_loss_range(P)
    Phi, R = loglik_features(P)
    target = lam @ D
    rng = check_seed(seed)

    rows = {
        key: [] for key in ("gate_gap", "gate_sup", "gate_true", "tab_gap", "tab_sup", "tab_true")
    }
    sizes, skews, gate_bound, tab_bound, M_tab = [], [], [], [], []
    complexity, rad, rad_dd = [], [], []
    for total in m_arr:
        mk = np.maximum(1, np.round(mbar * int(total))).astype(np.int64)
        sizes.append(mk)
        skews.append(skewness(lam, mk))
        w_hat = weighted_counts(D, lam, mk, draws, seed=rng.integers(2**63))
        v = target[None, :] - w_hat

        W = _train_gates(w_hat, Phi, P, B, train_steps, lr)
        loss = -np.log(_gate_terms(W, Phi, P)[1])
        rows["gate_gap"].append((v * loss).sum(axis=1))
        rows["gate_true"].append(loss @ target)
        sup = np.maximum(
            _ascend_gap(v, np.zeros_like(W), Phi, P, B, sup_steps, lr),
            _ascend_gap(v, W, Phi, P, B, sup_steps, lr),
        )
        rows["gate_sup"].append(sup)

        mass = float(mk.sum())
        eps = beta / (mass + n * beta)
        M_tab.append(-math.log(eps))
        q_loss = -np.log((mass * w_hat + beta) / (mass + n * beta))
        rows["tab_gap"].append((v * q_loss).sum(axis=1))
        rows["tab_sup"].append(_tabular_sup(v, eps))
        rows["tab_true"].append(q_loss @ target)

        rad_gate = bounds.rademacher_softmax_linear(B, R, K, lam, mk)
        rad_tab = rademacher_tabular(M_tab[-1], n, lam, mk)
        gate_bound.append(generalization_bound(0.0, lam, mk, M_gate, delta, rad_gate))
        tab_bound.append(generalization_bound(0.0, lam, mk, M_tab[-1], delta, rad_tab))
        complexity.append(rad_gate)

        estimates = []
        for _ in range(rademacher_samples):
            counts = np.stack([rng.multinomial(int(mk[k]), D[k]) for k in range(K)])
            estimates.append(
                empirical_rademacher(
                    counts, P, lam, B, rademacher_signs, sup_steps, lr, rng.integers(2**63)
                )
            )
        rad.append(
            [
                np.mean([e.loss for e in estimates]),
                math.sqrt(sum(e.loss_se**2 for e in estimates)) / len(estimates),
                np.mean([e.linear for e in estimates]),
                math.sqrt(sum(e.linear_se**2 for e in estimates)) / len(estimates),
            ]
        )
        rad_dd.append(
            data_dependent_bound(max(0.0, *(e.loss for e in estimates)), lam, mk, M_class, delta)
        )

    out = {key: np.array(val) for key, val in rows.items()}
    gate_bound, tab_bound = np.array(gate_bound), np.array(tab_bound)
    return GapStudy(
        m=m_arr.astype(np.int64),
        sizes=np.array(sizes),
        lam=lam,
        delta=delta,
        radius=B,
        M_gate=M_gate,
        M_class=M_class,
        M_tab=np.array(M_tab),
        skewness=np.array(skews),
        gate_bound=gate_bound,
        gate_violation=(out["gate_sup"] > gate_bound[:, None]).mean(axis=1),
        tab_bound=tab_bound,
        tab_violation=(out["tab_sup"] > tab_bound[:, None]).mean(axis=1),
        gate_complexity=np.array(complexity),
        rademacher_loss=np.array([r[0] for r in rad]),
        rademacher_loss_se=np.array([r[1] for r in rad]),
        rademacher_linear=np.array([r[2] for r in rad]),
        rademacher_linear_se=np.array([r[3] for r in rad]),
        gate_bound_dd=np.array(rad_dd),
        **out,
    )
