r"""Monolithic models: gradient training with conflict traces, and data-mixing comparators.

Notation. The K domains D_k and experts p_k are distributions on a finite set X
of n points (rows of (K, n) arrays ``D`` and ``P``). A monolithic model is one
model h of a class H (written 𝓗 in the documentation): ``"full"`` (all of
Δ(X)), ``"product"`` or ``"markov:r"`` over sequences X = V^T
(:mod:`theory.monolithic`). Retrained on the pooled data with weights
α ∈ Δ_K, it becomes the M-projection h_α = argmin_{h∈H} KL(D_α‖h) of the
mixture D_α = Σ_k α_k D_k. Λ ⊆ Δ_K is the set of deployment mixtures λ.

Two things a user would do instead of the robust gate, each computed exactly on
a finite alphabet so it can be scored like the gate:

* **Decoupling** (paper §4.5.3; measured, not a theorem): one
  exponential-family model h_θ over V^T (``product`` or ``markov:r``
  log-linear, sufficient statistics the one-hot per-position symbols or
  per-window context–symbol indicators), trained by gradient descent on
  Σ_k α_k KL(D_k‖h_θ). The per-domain gradients are μ(θ) − μ_k, with μ(θ)
  and μ_k the mean of the statistics under h_θ and under D_k; at the
  aggregate optimum they cancel (Σ_k α_k(μ* − μ_k) = 0) instead of
  vanishing. :func:`train_monolithic` records their pairwise cosines and
  norms. See the theory page §4.5.3 of the documentation.
* **Data-mixing comparators**: uniform and size-proportional weights,
  group-DRO/DoReMi-style minimax weights (solved exactly, with a certificate),
  a RegMix-style regression of the losses on the weights, and parameter
  merging of the experts. Each returns ONE model of the class H. By T10, no
  model inside the experts' envelope M can beat the robust gate's worst case
  (theory page §4.5.4).

Scoring follows :mod:`theory.minimax`: per-domain loss
L_k(q) = CE(D_k, q) − c_k with the offsets of the objective
(``divergence``: c_k = H(D_k); ``cross_entropy``: c_k = 0; ``regret``:
c_k = CE(D_k, p_k)) and the worst case max_{λ∈Λ} Σ_k λ_k L_k(q):

.. math:: L_k(q) = \mathrm{CE}(D_k, q) - c_k, \qquad
          W_\Lambda(q) = \max_{\lambda\in\Lambda}\sum_k\lambda_k L_k(q).

The decoupling measurement follows §4.5.3 of [1]_; the comparators are those
of the data-mixture literature: group DRO [2]_, DoReMi [3]_ and RegMix [4]_.

References
----------
.. [1] C. Cortes, M. Mohri and Y. Zhong, "A Theoretical Framework for Modular
   Learning of Robust Generative Models", arXiv:2602.17554, 2026, §4.5.
.. [2] S. Sagawa, P. W. Koh, T. B. Hashimoto and P. Liang, "Distributionally
   robust neural networks for group shifts", ICLR 2020 (group DRO).
.. [3] S. M. Xie et al., "DoReMi: optimizing data mixtures speeds up language
   model pretraining", NeurIPS 2023.
.. [4] Q. Liu et al., "RegMix: data mixture as regression for language model
   pre-training", ICLR 2025.

Examples
--------
>>> import numpy as np
>>> from sims.monolithic import compare_to_robust, group_dro, uniform_mixing
>>> from theory.minimax import robust_gate
>>> D = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
>>> P = np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
>>> V = robust_gate(D, P).upper
>>> rows = compare_to_robust([uniform_mixing(D, P), group_dro(D, P, objective="divergence")], V)
>>> [(c.name, round(c.margin, 4), c.explained) for c in rows]
[('uniform', 0.0026, True), ('group_dro', -0.0061, True)]

The group-DRO model of the full class beats the robust gate, but it lies
outside the experts' envelope (it is not a gated combination of these experts),
so T10 is not contradicted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from tqdm.auto import tqdm

from theory import Cut, NewtonAscent, evaluate
from theory.divergences import cross_entropy_rows, entropy_rows, mixture
from theory.gates import envelope, in_envelope
from theory.monolithic import ModelClass, _window_marginals, model_class, parse_family
from theory.objectives import get as get_objective
from theory.objectives import losses, payoff
from theory.results import CROSS_RTOL, Bounded, Layout, Readable
from theory.validation import (
    check_distribution,
    check_flag,
    check_int,
    check_mixtures,
    check_pair,
    check_positive,
    check_real,
    check_seed,
    check_stack,
    check_weights,
)

__all__ = [
    "WorstCase",
    "TrainingTrace",
    "MixingResult",
    "Comparison",
    "worst_case",
    "train_monolithic",
    "uniform_mixing",
    "proportional_mixing",
    "group_dro",
    "regmix",
    "merge_experts",
    "compare_to_robust",
]

# ----------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class WorstCase(Readable):
    """The worst case of a model over Λ: ``value`` = max_λ Σ λ_k L_k (nats), attained at ``lam``.

    Returned by :func:`worst_case`; prints as a small table.

    Attributes
    ----------
    value : float
        max_{λ∈Λ} Σ_k λ_k L_k(q), in nats.
    lam : ndarray, shape (K,)
        A worst mixture.
    per_domain : ndarray, shape (K,)
        The losses L_k(q).
    labels : tuple of str or None
        Domain names (None: D_1 … D_K).
    """

    value: float
    lam: np.ndarray
    per_domain: np.ndarray
    labels: tuple[str, ...] | None = None

    _layout: ClassVar[Layout] = Layout(
        "Worst case of a model over Λ",
        symbol="max_λ Σ λ_k L_k",
        weights=(("lam", "worst λ"),),
        losses=(("per_domain", "L_k"),),
    )


def _linear_max(mixtures, L: np.ndarray) -> tuple[float, np.ndarray]:
    """max_{λ∈Λ} λ·L by Λ's linear oracle (an infinite L_k counts only if some λ ∈ Λ weights k)."""
    value, lam = mixtures.argmax_linear(L)
    return float(value), np.asarray(lam, dtype=np.float64)


def _losses(D: np.ndarray, c: np.ndarray, model: np.ndarray) -> np.ndarray:
    return cross_entropy_rows(D, model) - c


def worst_case(model, D, P=None, mixtures=None, objective="divergence") -> WorstCase:
    r"""The worst case of a single model q over the mixture set Λ, with its per-domain losses.

    W_Λ(q) = max_{λ∈Λ} Σ_k λ_k L_k(q), with L_k(q) = CE(D_k, q) − c_k:

    .. math:: \max_{\lambda\in\Lambda}\sum_k \lambda_k L_k(q),\qquad
              L_k(q) = \mathrm{CE}(D_k, q) - c_k,

    the quantity :func:`theory.minimax.robust_gate` certifies as ``upper`` for its
    model (T5, T10); computed by :func:`theory.evaluate.worst_case`.

    Parameters
    ----------
    model : array_like, shape (n,)
        The model q, a distribution on X.
    D : array_like, shape (K, n)
        The domains.
    P : array_like, shape (K, n), optional
        The experts; needed only for the ``regret`` objective.
    mixtures : MixtureSet, optional
        Λ (default the simplex Δ_K).
    objective : str, Objective or array_like, shape (K,)
        The losses L_k (default ``"divergence"``: KL(D_k‖q)).

    Returns
    -------
    WorstCase

    Raises
    ------
    ValueError
        If an input is malformed, or the objective needs P and it is missing.

    Examples
    --------
    >>> import numpy as np
    >>> D = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    >>> result = worst_case([0.4, 0.3, 0.3], D)
    >>> round(result.value, 4), result.lam
    (0.2773, array([0., 1.]))
    """
    value, lam = evaluate.worst_case(model, D, mixtures=mixtures, objective=objective, P=P)
    return WorstCase(value, lam, losses(model, D, P, objective))


# ----------------------------------------------------------------------------- decoupling


@dataclass(frozen=True)
class TrainingTrace:
    r"""Gradient descent on Σ_k α_k KL(D_k‖h_θ) and its gradient conflict (decoupling).

    .. math:: \min_\theta \sum_k\alpha_k\mathrm{KL}(D_k\,\|\,h_\theta).

    Returned by :func:`train_monolithic`. Row s of each trace is measured at
    step s (row 0: the uniform start), for S steps.

    Attributes
    ----------
    family : str
        The class, ``"product"`` or ``"markov:r"``.
    alpha : ndarray, shape (K,)
        The training weights α.
    model : ndarray, shape (n,)
        The final model h_θ.
    optimum : ndarray, shape (n,)
        The closed-form M-projection h_α, the limit of the descent.
    losses : ndarray, shape (S + 1,)
        Σ_k α_k KL(D_k‖h_θ) along the descent, in nats.
    optimal_loss : float
        Σ_k α_k KL(D_k‖h_α).
    cosines : ndarray, shape (S + 1, K, K)
        ``cosines[s, i, j]`` is the cosine between the gradients μ(θ) − μ_i and
        μ(θ) − μ_j (0 when one of them vanishes); for K = 2 it tends to −1.
    residuals : ndarray, shape (S + 1, K)
        ``residuals[s, k]`` = ‖μ(θ) − μ_k‖, the per-domain gradient norms.
    aggregate_grad : ndarray, shape (S + 1,)
        ‖Σ_k α_k(μ(θ) − μ_k)‖, which tends to 0 while the residuals do not.
    expert_residuals : ndarray, shape (K,)
        ‖μ(h_k) − μ_k‖ for the experts trained separately (each domain's own
        M-projection): 0 by construction.
    """

    family: str
    alpha: np.ndarray
    model: np.ndarray
    optimum: np.ndarray
    losses: np.ndarray
    optimal_loss: float
    cosines: np.ndarray
    residuals: np.ndarray
    aggregate_grad: np.ndarray
    expert_residuals: np.ndarray


def _moments(rows: np.ndarray, shape: tuple[int, int], r: int) -> np.ndarray:
    """Mean parameters: the window marginals of each row, concatenated, shape (rows, dim).

    ``rows`` are laws the caller has checked (or built as such): this runs at
    every step of the descent.
    """
    parts = _window_marginals(rows, shape[0], shape[1], r)
    return np.concatenate([p.reshape(rows.shape[0], -1) for p in parts], axis=1)


def _log_model(theta: np.ndarray, T: int, V: int, r: int) -> np.ndarray:
    r"""log h_θ on V^T for h_θ(x) ∝ exp Σ_s θ_s[x_{s..s+r}] (θ is (T−r, V^{r+1}))."""
    logits = np.zeros((V,) * T)
    for s in range(T - r):
        logits = logits + theta[s].reshape((1,) * s + (V,) * (r + 1) + (1,) * (T - r - 1 - s))
    flat = logits.reshape(-1)
    top = flat.max()
    return flat - (top + np.log(np.exp(flat - top).sum()))


def train_monolithic(
    D,
    alpha=None,
    family: str = "product",
    shape=None,
    steps: int = 500,
    lr: float | None = None,
    progress: bool = False,
) -> TrainingTrace:
    r"""Train one log-linear model over V^T by gradient descent and trace the gradient conflict.

    The model is :math:`h_\theta(x) \propto \exp\sum_{s}\theta_s(x_{s..s+r})` with
    r = 0 (``product``) or r (``markov:r``); the step is

    .. math:: \theta \leftarrow \theta - \eta \sum_k \alpha_k \big(\mu(\theta) - \mu_k\big),

    μ(θ) and μ_k the window marginals of h_θ and D_k. The default step is
    η = 1/L for a bound L on the Lipschitz constant of the gradient, the norm of
    the covariance of the statistic under h_θ: it is T − r one-hot blocks, so
    L = T − r for ``markov:r``; for ``product`` the blocks are independent under
    h_θ and each has covariance diag(m) − m mᵀ of norm < 1, so L = 1.

    Parameters
    ----------
    D : array_like, shape (K, V**T)
        The domains, as laws on sequences.
    alpha : array_like, shape (K,), optional
        Training weights α ∈ Δ_K (default uniform).
    family : str, default "product"
        ``"product"`` or ``"markov:r"``.
    shape : tuple (T, V)
        Sequence length and alphabet size (required).
    steps : int, default 500
        Number of gradient steps S ≥ 0.
    lr : float, optional
        The step size η > 0 (default 1/L as above).
    progress : bool, default False
        Show a progress bar.

    Returns
    -------
    TrainingTrace

    Raises
    ------
    ValueError
        If ``family`` is ``"full"`` (it has no parameters to train), ``shape``
        does not match D, or an argument is out of range.

    Examples
    --------
    Two separable domains: at the optimum the two gradients point in opposite
    directions (cosine −1) with norms that stay positive, while their weighted
    sum vanishes.

    >>> from sims.domains import separable_domains
    >>> D = separable_domains(K=2, T=3, V=2, seed=0)
    >>> trace = train_monolithic(D, family="product", shape=(3, 2), steps=200)
    >>> trace.cosines[-1].round(3)
    array([[ 1., -1.],
           [-1.,  1.]])
    >>> trace.residuals[-1].round(3), bool(trace.aggregate_grad[-1] < 1e-12)
    (array([1.225, 1.225]), True)
    """
    D = check_stack(D, "D")
    K, n = D.shape
    alpha = np.full(K, 1.0 / K) if alpha is None else check_weights(alpha, K, "alpha")
    if parse_family(family) is None:
        raise ValueError("family: train_monolithic needs a sequence family 'product' or 'markov:r'")
    H = model_class(family, shape, n)
    r, (T, V) = H.order, H.shape
    steps = check_int(steps, "steps", minimum=0)
    eta = (1.0 if r == 0 else 1.0 / (T - r)) if lr is None else check_positive(lr, "lr")
    progress = check_flag(progress, "progress")

    mu_k = _moments(D, (T, V), r)
    mu_alpha = alpha @ mu_k
    theta = np.zeros((T - r, V ** (r + 1)))
    c = entropy_rows(D)
    optimum = H.project(mixture(alpha, D))
    optimal_loss = float(alpha @ (cross_entropy_rows(D, optimum) - c))

    losses = np.empty(steps + 1)
    cosines = np.empty((steps + 1, K, K))
    residuals = np.empty((steps + 1, K))
    agg = np.empty(steps + 1)
    for s in tqdm(range(steps + 1), desc="monolithic", disable=not progress, leave=False):
        logh = _log_model(theta, T, V, r)
        h = np.exp(logh)
        mu = _moments(h[None, :], (T, V), r)[0]
        grads = mu[None, :] - mu_k
        norms = np.linalg.norm(grads, axis=1)
        unit = np.divide(grads, norms[:, None], out=np.zeros_like(grads), where=norms[:, None] > 0)
        cosines[s] = unit @ unit.T
        residuals[s] = norms
        agg[s] = np.linalg.norm(mu - mu_alpha)
        losses[s] = float(alpha @ (-(D @ logh) - c))
        if s < steps:
            theta -= eta * (mu - mu_alpha).reshape(theta.shape)

    experts = np.stack([H.project(D[k]) for k in range(K)])
    expert_res = np.linalg.norm(_moments(experts, (T, V), r) - mu_k, axis=1)
    return TrainingTrace(
        family, alpha, h, optimum, losses, optimal_loss, cosines, residuals, agg, expert_res
    )


# ----------------------------------------------------------------------------- comparators


@dataclass(frozen=True)
class MixingResult(Bounded):
    r"""One monolithic model h ∈ H chosen by a data-mixing rule.

    ``model`` is scored like the robust gate. ``value`` = ``worst_case`` (nats);
    ``gap`` = upper − lower (None without bounds).

    Attributes
    ----------
    name : str
        The rule: ``"uniform"``, ``"proportional"``, ``"group_dro"``,
        ``"regmix"`` or ``"merged"``.
    family : str
        The class H.
    model : ndarray, shape (n,)
        The model h.
    alpha : ndarray, shape (K,) or None
        The training mixture when the rule picks one (None for merging, or for a
        group-DRO model that combines several).
    worst_case : float
        max_{λ∈Λ} Σ_k λ_k L_k(h), in nats.
    lam : ndarray, shape (K,)
        A worst mixture.
    per_domain : ndarray, shape (K,)
        The losses L_k(h).
    lower, upper : float or None
        Certified bounds lower ≤ min_{h∈H} max_{λ∈Λ} Σ_k λ_k L_k(h) ≤ upper
        when the rule solves that minimax problem (group DRO), else None.
    converged : bool
        Whether the rule's solver reached its tolerance.
    in_envelope : bool
        Whether h lies in the experts' envelope M; then T10 guarantees
        ``worst_case`` ≥ V*(Λ), the robust gate's value.
    labels : tuple of str or None
        Domain names (None: D_1 … D_K).
    """

    name: str
    family: str
    model: np.ndarray
    alpha: np.ndarray | None
    worst_case: float
    lam: np.ndarray
    per_domain: np.ndarray
    lower: float | None
    upper: float | None
    converged: bool
    in_envelope: bool
    labels: tuple[str, ...] | None = None

    _layout: ClassVar[Layout] = Layout(
        "Monolithic model from a data-mixing rule (§10)",
        symbol="worst case",
        bounded="min_h max_λ",
        weights=(("alpha", "training α"), ("lam", "worst λ")),
        losses=(("per_domain", "L_k"),),
        facts=(("name", "rule"), ("family", "class H"), ("in_envelope", "in the envelope M")),
    )

    @property
    def value(self) -> float:
        """The worst case of the model over Λ (= ``worst_case``), in nats."""
        return self.worst_case


@dataclass(frozen=True)
class _Setup:
    D: np.ndarray
    P: np.ndarray
    c: np.ndarray
    H: ModelClass
    mixtures: object
    family: str

    def model(self, alpha: np.ndarray) -> np.ndarray:
        """Aggregate retraining with weights α: h_α = argmin_{h∈H} KL(D_α‖h)."""
        return self.H.project(mixture(alpha, self.D))


def _setup(D, P, family, shape, mixtures, objective) -> _Setup:
    D, P = check_pair(D, P)
    H = model_class(family, shape, D.shape[1])
    mixtures = check_mixtures(mixtures, D.shape[0])
    c = get_objective(objective).offsets(D, P)
    return _Setup(D, P, c, H, mixtures, H.family)


def _result(st: _Setup, name, model, alpha, lower=None, upper=None, converged=True):
    L = _losses(st.D, st.c, model)
    value, lam = _linear_max(st.mixtures, L)
    lo, hi = envelope(st.P)
    inside = bool(in_envelope(model, lo, hi).all())
    return MixingResult(
        name, st.family, model, alpha, value, lam, L, lower, upper, converged, inside
    )


def uniform_mixing(
    D, P, family: str = "full", shape=None, mixtures=None, objective="divergence"
) -> MixingResult:
    r"""Aggregate retraining with uniform weights: h = argmin_{h∈H} KL(D_{1/K}‖h).

    D_{1/K} = (1/K) Σ_k D_k is the even mixture of the domains:

    .. math:: h = \operatorname*{argmin}_{h\in\mathcal H}
              \mathrm{KL}\Big(\frac1K\sum_k D_k\,\Big\|\,h\Big).

    Parameters
    ----------
    D : array_like, shape (K, n)
        The domains.
    P : array_like, shape (K, n)
        The experts (for the envelope test and the ``regret`` objective).
    family : str, default "full"
        The class H: ``"full"``, ``"product"`` or ``"markov:r"``.
    shape : tuple (T, V), optional
        Required for the sequence families.
    mixtures : MixtureSet, optional
        Λ for the worst case (default the simplex).
    objective : str, Objective or array_like, shape (K,)
        The losses L_k (default ``"divergence"``).

    Returns
    -------
    MixingResult

    Raises
    ------
    ValueError
        If an input is malformed or the class is invalid.

    Examples
    --------
    >>> import numpy as np
    >>> D = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    >>> P = np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
    >>> result = uniform_mixing(D, P)
    >>> result.model, round(result.worst_case, 4)
    (array([0.4 , 0.25, 0.35]), 0.2395)
    """
    st = _setup(D, P, family, shape, mixtures, objective)
    alpha = np.full(st.D.shape[0], 1.0 / st.D.shape[0])
    return _result(st, "uniform", st.model(alpha), alpha)


def proportional_mixing(
    D, P, sizes, family: str = "full", shape=None, mixtures=None, objective="divergence"
) -> MixingResult:
    r"""Aggregate retraining with weights proportional to the domain sizes m_k.

    α_k = m_k / Σ_j m_j and h = argmin_{h∈H} KL(D_α‖h): what pooling the raw
    data of all domains does.

    Parameters
    ----------
    D : array_like, shape (K, n)
        The domains.
    P : array_like, shape (K, n)
        The experts.
    sizes : array_like, shape (K,)
        The domain sizes m_k ≥ 0 (not all 0).
    family : str, default "full"
        The class H.
    shape : tuple (T, V), optional
        Required for the sequence families.
    mixtures : MixtureSet, optional
        Λ (default the simplex).
    objective : str, Objective or array_like, shape (K,)
        The losses L_k (default ``"divergence"``).

    Returns
    -------
    MixingResult

    Raises
    ------
    ValueError
        If ``sizes`` does not have K non-negative entries with a positive sum,
        or another input is malformed.

    Examples
    --------
    >>> import numpy as np
    >>> D = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    >>> P = np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
    >>> proportional_mixing(D, P, sizes=[300, 100]).alpha
    array([0.75, 0.25])
    """
    st = _setup(D, P, family, shape, mixtures, objective)
    alpha = check_distribution(sizes, "sizes", normalize=True)
    if alpha.shape[0] != st.D.shape[0]:
        raise ValueError(f"sizes: expected {st.D.shape[0]} sizes, got {alpha.shape[0]}")
    return _result(st, "proportional", st.model(alpha), alpha)


# Mixing weight of the start mixture into a λ whose model has an infinite loss,
# and step of the one-sided differences of the Hessian of d_H.
_MIX_EPS = 1e-9
_FD_STEP = 1e-6


class _ClassDual:
    r"""The dual function of group DRO over the class H:
    :math:`d_H(\lambda) = \min_{h\in H}\sum_k\lambda_k L_k(h) = \sum_k \lambda_k L_k(h_\lambda)`,
    with h_λ the M-projection of D_λ and supergradient (L_k(h_λ))_k (Danskin).

    A cut at a λ whose model has an infinite loss (a domain with weight 0 on
    which h_λ vanishes) uses the model of (1 − ε)λ + ε λ₀ instead, λ₀ the start:
    any h ∈ H gives the valid cut d_H(λ') ≤ λ'·L(h). The Hessian is taken by
    one-sided differences of the supergradient along e_j − λ (inside Δ_K).
    Models combine in the natural parameters (a normalized geometric mixture,
    which stays in H, and the losses are convex there); for H = Δ(X) the
    arithmetic mixture is used (H is convex and the losses are convex in h).
    """

    def __init__(self, st: _Setup):
        self.st = st
        self.K = st.D.shape[0]
        self.active = st.mixtures.support()
        self.start: np.ndarray | None = None

    def losses(self, h: np.ndarray) -> np.ndarray:
        return np.where(self.active, _losses(self.st.D, self.st.c, h), 0.0)

    def point(self, lam: np.ndarray) -> Cut:
        if self.start is None:
            self.start = lam
        h = self.st.model(lam)
        g = self.losses(h)
        value = payoff(lam, g)
        used = lam
        if not np.all(np.isfinite(g)):
            used = (1.0 - _MIX_EPS) * lam + _MIX_EPS * self.start
            h = self.st.model(used)
            g = self.losses(h)
        return Cut(lam, value, g, model=(h, used), state=g, token=used)

    def hessian(self, cut: Cut) -> np.ndarray:
        cols = []
        for e in np.eye(self.K):
            step = cut.lam + _FD_STEP * (e - cut.lam)
            g = self.losses(self.st.model(step / step.sum()))
            cols.append((np.where(np.isfinite(g), g, 0.0) - cut.grad) / _FD_STEP)
        M = np.array(cols).T
        return 0.5 * (M + M.T)

    def combine(self, weights: np.ndarray, cuts: list) -> tuple | None:
        models = [self.st.model(c.token) for w, c in zip(weights, cuts, strict=True) if w > 0]
        w = weights[weights > 0]
        if self.st.H.order is None:
            h = w @ np.array(models)
        else:
            with np.errstate(divide="ignore"):
                logs = w @ np.log(np.array(models))
            if not np.isfinite(logs).any():
                return None
            h = np.exp(logs - logs.max())
            h /= h.sum()
        return (h, None), self.losses(h)


def group_dro(
    D,
    P,
    family: str = "full",
    shape=None,
    mixtures=None,
    objective="regret",
    tol: float = 1e-9,
    max_iter: int = 200,
) -> MixingResult:
    r"""Group-DRO / DoReMi-style minimax weights, solved exactly with a certificate.

    min_{h∈H} max_{λ∈Λ} Σ_k λ_k L_k(h) = max_{λ∈Λ} d(λ), with
    d(λ) = Σ_k λ_k L_k(h_λ) and h_λ the M-projection of D_λ:

    .. math:: \min_{h\in H}\max_{\lambda\in\Lambda}\sum_k \lambda_k L_k(h)
              = \max_{\lambda\in\Lambda} d(\lambda),\qquad
              d(\lambda) = \sum_k\lambda_k L_k(h_\lambda),

    with the default ``regret`` losses L_k(h) = KL(D_k‖h) − KL(D_k‖p_k). The
    payoff is linear in λ and convex in the natural parameters of H, and the
    inner minimum is the closed-form M-projection h_λ = ``aggregate(D, λ)``, so
    the problem is the maximization of the concave d over Λ (K variables). It is
    solved by the same certified Newton ascent as the robust gate
    (:func:`theory.minimax.robust_gate`), which reaches Λ only through its linear
    oracle: every evaluation gives ``lower`` = d(λ) and, for its model h,
    ``upper`` = max_{λ'∈Λ} Σ λ'_k L_k(h); it stops when upper − lower ≤ ``tol``
    or after ``max_iter`` iterations (then ``converged=False``). The returned
    model achieves ``upper``; ``alpha`` is the training mixture that produced it
    (None when it is a combination of several).

    Parameters
    ----------
    D : array_like, shape (K, n)
        The domains.
    P : array_like, shape (K, n)
        The experts.
    family : str, default "full"
        The class H.
    shape : tuple (T, V), optional
        Required for the sequence families.
    mixtures : MixtureSet, optional
        Λ (default the simplex).
    objective : str, Objective or array_like, shape (K,)
        The losses L_k (default ``"regret"``, as in group DRO and DoReMi).
    tol : float, default 1e-9
        The certified gap at which the ascent stops.
    max_iter : int, default 200
        The iteration budget.

    Returns
    -------
    MixingResult
        With ``lower`` and ``upper`` set.

    Raises
    ------
    ValueError
        If an input is malformed, the class is invalid, or ``tol``/``max_iter``
        are not positive.

    Examples
    --------
    >>> import numpy as np
    >>> D = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    >>> P = np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
    >>> result = group_dro(D, P, objective="divergence")
    >>> round(result.worst_case, 6), result.converged, result.alpha.round(4)
    (0.230739, True, array([0.4893, 0.5107]))
    """
    st = _setup(D, P, family, shape, mixtures, objective)
    tol = check_positive(tol, "tol")
    max_iter = check_int(max_iter, "max_iter")
    run = NewtonAscent(_ClassDual(st), st.mixtures, tol, max_iter, desc="group DRO").run()
    h, alpha = run.model
    return _result(st, "group_dro", h, alpha, run.lower, run.upper, run.converged)


def _quadratic_features(A: np.ndarray) -> np.ndarray:
    """[1, α_i, α_i α_j (i ≤ j)] for each row α of A."""
    iu = np.triu_indices(A.shape[1])
    return np.hstack([np.ones((A.shape[0], 1)), A, (A[:, :, None] * A[:, None, :])[:, *iu]])


def regmix(
    D,
    P,
    family: str = "full",
    shape=None,
    mixtures=None,
    objective="divergence",
    samples: int = 64,
    candidates: int = 4096,
    degree: int = 2,
    seed=0,
) -> MixingResult:
    r"""RegMix-style mixture search: regress the losses on the training mixture.

    Draws ``samples`` training mixtures α_s ~ Dir(1) (plus the vertices and the
    centre of Δ_K), trains h_{α_s} = ``aggregate(D, α_s)``, and fits each
    per-domain loss by least squares on features of α (``degree`` 1: linear,
    2: quadratic), :math:`\hat L_k(\alpha) = \beta_k\cdot\phi(\alpha)`. The chosen
    α minimizes the predicted worst case
    :math:`\max_{\lambda\in\Lambda}\sum_k\lambda_k\hat L_k(\alpha)` over the
    sampled mixtures and ``candidates`` further Dirichlet draws; the returned
    model is h_α, scored exactly.

    Parameters
    ----------
    D : array_like, shape (K, n)
        The domains.
    P : array_like, shape (K, n)
        The experts.
    family : str, default "full"
        The class H.
    shape : tuple (T, V), optional
        Required for the sequence families.
    mixtures : MixtureSet, optional
        Λ (default the simplex).
    objective : str, Objective or array_like, shape (K,)
        The losses L_k (default ``"divergence"``).
    samples : int, default 64
        Random training mixtures for the regression.
    candidates : int, default 4096
        Further random mixtures searched with the fitted regression.
    degree : int, default 2
        1 (linear) or 2 (quadratic) features φ(α).
    seed : int or numpy.random.Generator, default 0
        Randomness of the mixtures.

    Returns
    -------
    MixingResult

    Raises
    ------
    ValueError
        If ``degree`` is not 1 or 2, or another argument is malformed.

    Examples
    --------
    >>> import numpy as np
    >>> D = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    >>> P = np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
    >>> result = regmix(D, P, samples=16, candidates=64, seed=0)
    >>> round(result.worst_case, 4), result.alpha.round(3)
    (0.2347, array([0.485, 0.515]))
    """
    st = _setup(D, P, family, shape, mixtures, objective)
    samples = check_int(samples, "samples")
    candidates = check_int(candidates, "candidates")
    degree = check_int(degree, "degree")
    if degree > 2:
        raise ValueError(f"degree: expected 1 (linear) or 2 (quadratic), got {degree}")
    K = st.D.shape[0]
    rng = check_seed(seed)
    train = np.vstack([np.eye(K), np.full((1, K), 1.0 / K), rng.dirichlet(np.ones(K), samples)])
    losses = np.array([_losses(st.D, st.c, st.model(a)) for a in train])
    # a domain with infinite loss at some sampled α (a zero of h_α on its support)
    # is fitted on a large finite surrogate so the regression stays defined.
    finite = np.isfinite(losses)
    cap = 10.0 * np.max(np.abs(losses[finite])) if finite.any() else 1.0
    losses = np.where(finite, losses, cap)

    def features(A):
        return _quadratic_features(A) if degree == 2 else np.hstack([np.ones((len(A), 1)), A])

    beta = np.linalg.lstsq(features(train), losses, rcond=None)[0]
    pool = np.vstack([train, rng.dirichlet(np.ones(K), candidates)])
    predicted = features(pool) @ beta
    worst = [st.mixtures.argmax_linear(p)[0] for p in predicted]
    alpha = pool[int(np.argmin(worst))]
    return _result(st, "regmix", st.model(alpha), alpha)


def merge_experts(
    D,
    P,
    family: str = "full",
    shape=None,
    mixtures=None,
    objective="divergence",
    weights=None,
) -> MixingResult:
    r"""Parameter merging: average the natural parameters of the experts' M-projections.

    The experts are first projected onto the class, h_k = argmin_{h∈H} KL(p_k‖h),
    then merged: h(x) ∝ Π_k h_k(x)^{w_k}.

    Every natural parametrization of the classes here is linear in log h (up to
    the normalizer), so the merged model is the normalized geometric mixture

    .. math:: h(x) \propto \prod_k h_k(x)^{w_k},

    independent of the parametrization; it stays in H (``full``, ``product``,
    ``markov:r``: sums of per-window log-potentials stay such sums).

    Parameters
    ----------
    D : array_like, shape (K, n)
        The domains (for scoring).
    P : array_like, shape (K, n)
        The experts to merge.
    family : str, default "full"
        The class H.
    shape : tuple (T, V), optional
        Required for the sequence families.
    mixtures : MixtureSet, optional
        Λ (default the simplex).
    objective : str, Objective or array_like, shape (K,)
        The losses L_k (default ``"divergence"``).
    weights : array_like, shape (K,), optional
        The merging weights w ∈ Δ_K (default uniform).

    Returns
    -------
    MixingResult
        With ``alpha`` None.

    Raises
    ------
    ValueError
        If the projected experts share no point of positive probability, or an
        input is malformed.

    Examples
    --------
    >>> import numpy as np
    >>> D = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    >>> P = np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
    >>> merge_experts(D, P).model.round(4)  # ∝ sqrt(p_1 p_2)
    array([0.3982, 0.3448, 0.257 ])
    """
    st = _setup(D, P, family, shape, mixtures, objective)
    K = st.D.shape[0]
    w = np.full(K, 1.0 / K) if weights is None else check_weights(weights, K, "weights")
    H = np.stack([st.H.project(st.P[k]) for k in range(K)])
    on = w > 0
    with np.errstate(divide="ignore"):
        logs = w[on] @ np.log(H[on])
    if not np.isfinite(logs).any():
        raise ValueError("P: the experts' projections share no point of positive probability")
    merged = np.exp(logs - logs.max())
    return _result(st, "merged", merged / merged.sum(), None)


@dataclass(frozen=True)
class Comparison(Readable):
    r"""A comparator's worst case against the robust gate's value V*(Λ) (T10).

    ``margin`` = worst_case − robust_value (> 0: the robust gate is better).
    ``beats_robust`` flags a comparator with a strictly lower worst case; T10
    rules it out when ``in_envelope`` (h ∈ M), so it can only happen for a model
    outside the experts' envelope (a class richer than what the experts span),
    and ``explained`` records exactly that. Built by :func:`compare_to_robust`.

    Attributes
    ----------
    name : str
        The comparator's rule.
    worst_case : float
        Its worst case over Λ, in nats.
    robust_value : float
        V*(Λ) of the robust gate.
    margin : float
        worst_case − robust_value.
    in_envelope : bool
        Whether the comparator's model lies in the experts' envelope M.
    beats_robust : bool
        Whether its worst case is below V* by more than the tolerance.
    explained : bool
        False only if it beats the robust gate from inside M, which T10 forbids.
    """

    name: str
    worst_case: float
    robust_value: float
    margin: float
    in_envelope: bool
    beats_robust: bool
    explained: bool

    _layout: ClassVar[Layout] = Layout(
        "Comparator against the robust gate (T10)",
        symbol="worst case",
        numbers=(("robust_value", "robust V*"), ("margin", "margin")),
        facts=(
            ("name", "comparator"),
            ("in_envelope", "in the envelope M"),
            ("beats_robust", "beats the robust gate"),
            ("explained", "consistent with T10"),
        ),
    )

    @property
    def value(self) -> float:
        """The comparator's worst case (= ``worst_case``), in nats."""
        return self.worst_case


def compare_to_robust(results, robust_value: float, tol: float = 1e-9) -> tuple[Comparison, ...]:
    r"""Compare comparator results with the robust gate's certified value V*(Λ) (T10).

    ``robust_value`` is the robust gate's value for the same D, P, Λ and
    objective (e.g. ``robust_gate(...).upper``); a comparator beats it when its
    worst case is below by more than ``tol`` (the certificate's width) plus
    rounding (:data:`theory.results.CROSS_RTOL` relative to the values): two
    models equal in exact arithmetic are scored a few ulps apart.

    Parameters
    ----------
    results : sequence of MixingResult
        The comparators' results.
    robust_value : float
        V*(Λ) of the robust gate for the same inputs.
    tol : float, default 1e-9
        The width of V*'s certificate, ≥ 0.

    Returns
    -------
    tuple of Comparison
        One per result, in order.

    Raises
    ------
    ValueError
        If ``results`` is not a sequence of :class:`MixingResult` (a single
        result must be wrapped in a list), or ``robust_value``/``tol`` is invalid.

    Examples
    --------
    See the module example.
    """
    v = check_real(robust_value, "robust_value")
    tol = check_positive(tol, "tol", allow_zero=True)
    if isinstance(results, MixingResult) or not hasattr(results, "__iter__"):
        raise ValueError(
            f"results: expected a sequence of MixingResult, got {type(results).__name__}"
        )
    out = []
    for r in results:
        if not isinstance(r, MixingResult):
            raise ValueError(f"results: expected MixingResult items, got {type(r).__name__}")
        rounding = CROSS_RTOL * max(1.0, abs(v), abs(r.worst_case))
        beats = bool(r.worst_case < v - tol - rounding)
        out.append(
            Comparison(
                r.name,
                r.worst_case,
                v,
                r.worst_case - v,
                r.in_envelope,
                beats,
                not (beats and r.in_envelope),
            )
        )
    return tuple(out)
