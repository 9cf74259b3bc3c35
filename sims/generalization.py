r"""The generalization gap of learned gates against the bound of T11 (THEORY §7; EXPERIMENTS E7).

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
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

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
    "weighted_counts",
    "log_log_slope",
]


@dataclass(frozen=True)
class GapStudy(Readable):
    r"""Measured gaps and bounds of T11, one row per total sample size ``m[i]``.

    Arrays of shape (len(m), draws): ``gate_gap`` (trained gate, L − L̂),
    ``gate_sup`` (estimated sup over 𝒢_B of L − L̂), ``gate_true`` (L of the trained
    gate), ``tab_gap``, ``tab_true`` (tabular model), ``tab_sup`` (exact sup of L − L̂
    over the tabular class {q ≥ ε}, ε = β/(m + nβ)). Arrays of shape (len(m),):
    ``gate_bound`` = 2R_m(𝒢_B) + M sqrt(s log(1/δ)/(2m)) and ``tab_bound`` (the
    same with the tabular complexity and range), ``gate_violation`` and
    ``tab_violation`` (fraction of draws whose uniform gap exceeds the bound: the
    estimated sup for the gate, the exact sup for the tabular class), ``skewness``,
    ``M_tab`` (the tabular loss range). ``sizes`` (len(m), K) are the m_k.

    The complexity, per m (shape (len(m),)): ``gate_complexity`` = the analytical
    R_m(𝒢_B, λ) of T11; ``rademacher_loss`` (± ``rademacher_loss_se``) = the Monte
    Carlo estimate of the empirical complexity R̂_S of the loss class, averaged over
    fresh samples; ``rademacher_linear`` (± ``rademacher_linear_se``) = that of the
    logits' linear class; ``gate_bound_dd`` = the data-dependent bound
    2R̂_S + 3M sqrt(s log(2/δ)/(2m)) (its largest value over the samples used),
    with ``M_class`` the loss difference bound of the gate class.

    Gaps and bounds are in nats; ``print(study)`` shows one line per m with the
    means over draws.
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

    ``loss`` ± ``loss_se``: :math:`\mathbb E_\sigma\sup_{\|W\|\le B}\sum_i a_i\sigma_i
    f(g_W, x_i)`, a_i = λ_k/m_k for a point of domain k (each supremum estimated
    from below by projected gradient ascent, so ``loss`` tends to be low by the
    optimization error). ``linear`` ± ``linear_se``: :math:`B\,\mathbb E_\sigma\|\sum_i
    a_i \sigma_i\phi(x_i)^\top\|_F` with σ_i ∈ {±1}^K, the complexity of the logits
    u = Wφ(x) (the supremum is exact: the norm). ``signs`` sign draws each.
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

    on the log-likelihood features φ of the experts (‖φ‖ ≤ R = 1). A sample
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
    radius : float
        B of the class.
    signs : int
        Sign draws σ.
    steps, lr : int, float
        Projected AdaGrad ascent of each supremum (from W = 0 and from a random
        W on the sphere of radius B; the better is kept).
    seed : int or Generator

    Returns
    -------
    RademacherEstimate

    Raises
    ------
    ValueError
        On counts that are not non-negative integers of shape (K, n) with every
        m_k ≥ 1, experts without full support, or a bad λ, radius, signs or steps.
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
    lin = B * np.sqrt((np.einsum("rkn,nd->rkd", w, Phi) ** 2).sum(axis=(1, 2)))
    root = math.sqrt(signs)
    return RademacherEstimate(
        loss=float(sup.mean()),
        loss_se=float(sup.std(ddof=1) / root) if signs > 1 else math.inf,
        linear=float(lin.mean()),
        linear_se=float(lin.std(ddof=1) / root) if signs > 1 else math.inf,
        signs=signs,
    )


def weighted_counts(D, lam, sizes, draws: int, seed=0) -> np.ndarray:
    r"""The weighted empirical laws :math:`\hat w(x) = \sum_k (\lambda_k/m_k) c_k(x)` of
    ``draws`` independent samples, m_k = ``sizes[k]`` points from row k of D; shape (draws, n)."""
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
    """Least-squares slope of log y against log x (the exponent of a power law)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    for name, a in (("x", x), ("y", y)):
        if a.ndim != 1 or a.size < 2 or not np.all(np.isfinite(a)) or np.any(a <= 0):
            raise ValueError(f"{name}: expected at least two finite positive numbers, got {a!r}")
    if x.shape != y.shape:
        raise ValueError(f"y: expected {x.size} values (one per x), got {y.size}")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def _gate_terms(W, Phi, P):
    """Gate values (r, K, n), model p_g (r, n) and the logit Jacobian factor g_k(1 − p_k/p_g)."""
    U = np.einsum("rkd,nd->rkn", W, Phi)
    G = np.exp(U - U.max(axis=1, keepdims=True))
    G /= G.sum(axis=1, keepdims=True)
    pg = (G * P[None]).sum(axis=1)
    return G, pg, G * (1.0 - P[None] / pg[:, None, :])


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
    for t in range(1, steps + 1):
        G, pg, J = _gate_terms(W, Phi, P)
        dU = w_hat[:, None, :] * J + mu[:, None, None] * G * (P[None] - pg[:, None, :])
        dW = np.einsum("rkn,nd->rkd", dU, Phi)
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
    for _ in range(steps):
        _, pg, J = _gate_terms(W, Phi, P)
        best = np.maximum(best, -(v * np.log(pg)).sum(axis=1))
        dW = np.einsum("rkn,nd->rkd", v[:, None, :] * J, Phi)
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

    Parameters
    ----------
    D, P : (K, n) domains and experts (P with full support, so f ∈ [0, M]).
    lam : the fixed mixture λ of the payoff.
    m : total sample sizes m; each is split as :math:`m_k = \max(1, \mathrm{round}(\bar m_k m))`.
    mbar : training proportions m̄ (default uniform); s(λ‖m̄) is computed from the
        realized m_k.
    draws, delta : number of independent draws per size, confidence level δ.
    radius : B of the gate class 𝒢_B (features with R = 1).
    beta : add-β smoothing of the tabular model on the scale of the counts,
        :math:`\hat q = (m\hat w + \beta)/(m + n\beta)`, whose loss range is then
        M = log((m + nβ)/β).
    train_steps, sup_steps, lr : iterations of the training and of the supremum search.
    rademacher_samples, rademacher_signs : fresh samples per size on which the empirical
        complexity is estimated (:func:`empirical_rademacher`), and sign draws on each.
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
