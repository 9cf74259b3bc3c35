r"""Monolithic models: gradient training with conflict traces, and data-mixing comparators.

Two things a user would do instead of the robust gate, each computed exactly on
a finite alphabet so it can be scored like the gate:

* **Decoupling** (THEORY §6, paper 4.5.3): one exponential-family model h_θ
  over V^T (``product`` or ``markov:r`` log-linear, sufficient statistics the
  one-hot per-position symbols or per-window context–symbol indicators),
  trained by gradient descent on :math:`\sum_k \alpha_k \mathrm{KL}(D_k\|h_\theta)`.
  The per-domain gradients are :math:`\mu(\theta) - \mu_k`; at the aggregate
  optimum they cancel (:math:`\sum_k \alpha_k(\mu^* - \mu_k) = 0`) instead of
  vanishing. :func:`train_monolithic` records their pairwise cosines and norms.
* **Data-mixing comparators** (THEORY §10): uniform and size-proportional
  weights, group-DRO/DoReMi-style minimax weights (solved exactly, with a
  certificate), a RegMix-style regression of the losses on the weights, and
  parameter merging of the experts. Each returns ONE model of the class H.

Scoring follows ``theory.minimax``: per-domain loss
:math:`L_k(q) = \mathrm{CE}(D_k, q) - c_k` with the offsets of the objective
(``divergence``: c_k = H(D_k); ``cross_entropy``: c_k = 0; ``regret``:
c_k = CE(D_k, p_k)) and the worst case :math:`\max_{\lambda\in\Lambda}\sum_k\lambda_k L_k(q)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp
from tqdm.auto import tqdm

from theory.gates import envelope
from theory.minimax import objective_offsets
from theory.mixtures import MixtureSet, Simplex
from theory.monolithic import (
    _aggregate,
    _ce_rows,
    _check_order,
    _check_shape,
    _ent_rows,
    _mix,
    parse_family,
    window_marginals,
)
from theory.validation import (
    check_distribution,
    check_int,
    check_pair,
    check_positive,
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

# Slack when deciding whether a model lies in the experts' envelope M (T2, T10).
_ENVELOPE_TOL = 1e-12


# ----------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class WorstCase:
    """The worst case of a model over Λ: ``value`` = max_λ Σ λ_k L_k, attained at ``lam``."""

    value: float
    lam: np.ndarray
    per_domain: np.ndarray


def _check_mixtures(mixtures, K: int) -> MixtureSet:
    if mixtures is None:
        return Simplex(K)
    if not isinstance(mixtures, MixtureSet):
        raise ValueError(f"mixtures: expected a theory.mixtures set, got {type(mixtures).__name__}")
    if mixtures.K != K:
        raise ValueError(f"mixtures: the set lives in Δ_{mixtures.K}, but D has K = {K} rows")
    return mixtures


def _linear_max(mixtures: MixtureSet, L: np.ndarray) -> tuple[float, np.ndarray]:
    """max_{λ∈Λ} λ·L, where an infinite L_k counts only if some λ ∈ Λ weights k."""
    if np.all(np.isfinite(L)):
        value, lam = mixtures.argmax_linear(L)
        return float(value), np.asarray(lam, dtype=np.float64)
    V = mixtures.vertices()
    hit = (V > 0) & np.isinf(L)[None, :]
    if hit.any():
        return np.inf, V[int(np.argmax(hit.any(axis=1)))].copy()
    vals = np.where(V > 0, V * np.where(np.isinf(L), 0.0, L)[None, :], 0.0).sum(axis=1)
    j = int(np.argmax(vals))
    return float(vals[j]), V[j].copy()


def _losses(D: np.ndarray, c: np.ndarray, model: np.ndarray) -> np.ndarray:
    return _ce_rows(D, model) - c


def worst_case(model, D, P=None, mixtures=None, objective="divergence") -> WorstCase:
    r"""The worst case of a single model q over the mixture set Λ:

    .. math:: \max_{\lambda\in\Lambda}\sum_k \lambda_k L_k(q),\qquad L_k(q) = \mathrm{CE}(D_k, q) - c_k,

    the quantity ``theory.minimax.robust_gate`` certifies as ``upper`` for its
    model (T5, T10). ``P`` is needed only for the ``regret`` objective.
    ``mixtures`` defaults to the simplex (then the value is max_k L_k(q)).
    """
    D = check_stack(D, "D")
    model = check_distribution(model, "model")
    if model.shape[0] != D.shape[1]:
        raise ValueError(f"model: expected length n = {D.shape[1]}, got {model.shape[0]}")
    if P is None:
        if isinstance(objective, str) and objective == "regret":
            raise ValueError("P: the 'regret' objective needs the experts P")
        P = D
    else:
        D, P = check_pair(D, P)
    mixtures = _check_mixtures(mixtures, D.shape[0])
    L = _losses(D, objective_offsets(D, P, objective), model)
    value, lam = _linear_max(mixtures, L)
    return WorstCase(value, lam, L)


# ----------------------------------------------------------------------------- decoupling


@dataclass(frozen=True)
class TrainingTrace:
    r"""Gradient descent on :math:`\sum_k\alpha_k\mathrm{KL}(D_k\|h_\theta)` (THEORY §6, decoupling).

    Row s of each trace is measured at step s (row 0: the uniform start).
    ``cosines[s, i, j]`` is the cosine between the gradients μ(θ) − μ_i and
    μ(θ) − μ_j (0 when one of them vanishes); ``residuals[s, k]`` = ‖μ(θ) − μ_k‖;
    ``aggregate_grad[s]`` = ‖Σ_k α_k(μ(θ) − μ_k)‖, which tends to 0 while the
    residuals do not. ``optimum`` is the closed-form M-projection h_α and
    ``expert_residuals[k]`` = ‖μ(h_k) − μ_k‖ for the experts trained separately
    (each domain's own M-projection): 0 by construction.
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
    """Mean parameters: the window marginals of each row, concatenated, shape (rows, dim)."""
    parts = window_marginals(rows, shape, r)
    return np.concatenate([p.reshape(rows.shape[0], -1) for p in parts], axis=1)


def _log_model(theta: np.ndarray, T: int, V: int, r: int) -> np.ndarray:
    r"""log h_θ on V^T for h_θ(x) ∝ exp Σ_s θ_s[x_{s..s+r}] (θ is (T−r, V^{r+1}))."""
    logits = np.zeros((V,) * T)
    for s in range(T - r):
        logits = logits + theta[s].reshape((1,) * s + (V,) * (r + 1) + (1,) * (T - r - 1 - s))
    flat = logits.reshape(-1)
    return flat - logsumexp(flat)


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
    ``alpha`` defaults to uniform weights.
    """
    D = check_stack(D, "D")
    K, n = D.shape
    alpha = np.full(K, 1.0 / K) if alpha is None else check_weights(alpha, K, "alpha")
    r = parse_family(family)
    if r is None:
        raise ValueError("family: train_monolithic needs a sequence family 'product' or 'markov:r'")
    T, V = _check_shape(shape, n, family)
    _check_order(r, T)
    steps = check_int(steps, "steps", minimum=0)
    eta = (1.0 if r == 0 else 1.0 / (T - r)) if lr is None else check_positive(lr, "lr")

    mu_k = _moments(D, (T, V), r)
    mu_alpha = alpha @ mu_k
    theta = np.zeros((T - r, V ** (r + 1)))
    c = _ent_rows(D)
    optimum = _aggregate(_mix(alpha, D), r, (T, V))
    optimal_loss = float(alpha @ (_ce_rows(D, optimum) - c))

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

    experts = np.stack([_aggregate(D[k], r, (T, V)) for k in range(K)])
    expert_res = np.linalg.norm(_moments(experts, (T, V), r) - mu_k, axis=1)
    return TrainingTrace(
        family, alpha, h, optimum, losses, optimal_loss, cosines, residuals, agg, expert_res
    )


# ----------------------------------------------------------------------------- comparators


@dataclass(frozen=True)
class MixingResult:
    r"""One monolithic model h ∈ H chosen by a data-mixing rule (THEORY §10).

    ``model`` (n,) is scored like the robust gate: ``per_domain`` = (L_k(h))_k,
    ``worst_case`` = max_{λ∈Λ} Σ λ_k L_k(h), attained at ``lam``. ``alpha`` is the
    training mixture when the rule picks one (None for merging). ``lower`` ≤
    min_{h∈H} max_{λ∈Λ} Σλ_k L_k(h) ≤ ``upper`` are certified bounds when the
    rule solves that minimax problem (group DRO), else None. ``in_envelope``
    says whether h lies in the experts' envelope M: then T10 guarantees
    ``worst_case`` ≥ V*(Λ), the robust gate's value.
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


@dataclass(frozen=True)
class _Setup:
    D: np.ndarray
    P: np.ndarray
    c: np.ndarray
    order: int | None
    shape: tuple[int, int] | None
    mixtures: MixtureSet
    family: str


def _setup(D, P, family, shape, mixtures, objective) -> _Setup:
    D, P = check_pair(D, P)
    order = parse_family(family)
    if order is not None:
        shape = _check_shape(shape, D.shape[1], family)
        _check_order(order, shape[0])
    mixtures = _check_mixtures(mixtures, D.shape[0])
    return _Setup(D, P, objective_offsets(D, P, objective), order, shape, mixtures, family)


def _result(st: _Setup, name, model, alpha, lower=None, upper=None, converged=True):
    L = _losses(st.D, st.c, model)
    value, lam = _linear_max(st.mixtures, L)
    lo, hi = envelope(st.P)
    inside = bool(np.all(model >= lo - _ENVELOPE_TOL) and np.all(model <= hi + _ENVELOPE_TOL))
    return MixingResult(
        name, st.family, model, alpha, value, lam, L, lower, upper, converged, inside
    )


def uniform_mixing(
    D, P, family: str = "full", shape=None, mixtures=None, objective="divergence"
) -> MixingResult:
    r"""Aggregate retraining with uniform weights: h = argmin_{h∈H} KL(D_{1/K} ‖ h) (THEORY §10)."""
    st = _setup(D, P, family, shape, mixtures, objective)
    alpha = np.full(st.D.shape[0], 1.0 / st.D.shape[0])
    model = _aggregate(_mix(alpha, st.D), st.order, st.shape)
    return _result(st, "uniform", model, alpha)


def proportional_mixing(
    D, P, sizes, family: str = "full", shape=None, mixtures=None, objective="divergence"
) -> MixingResult:
    r"""Aggregate retraining with weights proportional to the domain sizes m_k:
    α = m / Σ m, h = argmin_{h∈H} KL(D_α ‖ h) (THEORY §10; pooling the raw data)."""
    st = _setup(D, P, family, shape, mixtures, objective)
    alpha = check_distribution(sizes, "sizes", normalize=True)
    if alpha.shape[0] != st.D.shape[0]:
        raise ValueError(f"sizes: expected {st.D.shape[0]} sizes, got {alpha.shape[0]}")
    model = _aggregate(_mix(alpha, st.D), st.order, st.shape)
    return _result(st, "proportional", model, alpha)


def _dual(st: _Setup, lam: np.ndarray):
    r"""d(λ) = min_{h∈H} Σ_k λ_k L_k(h) = Σ_k λ_k L_k(h_λ), with its maximizer h_λ = aggregate(D, λ)
    and the supergradient (L_k(h_λ))_k (Danskin)."""
    h = _aggregate(_mix(lam, st.D), st.order, st.shape)
    L = _losses(st.D, st.c, h)
    on = lam > 0
    return float(lam[on] @ L[on]), L, h


def _newton_polish(st: _Setup, V: np.ndarray, w: np.ndarray, oracle, tol: float, best) -> None:
    r"""Newton steps on the face of Λ spanned by the vertices the weights w use.

    With U the rows v_j − λ (w_j > 0), the model d(λ + Uᵀδ) ≈ d + (U∇d)·δ +
    ½ δᵀ(U∇²d Uᵀ)δ is maximized by least squares; ∇²d Uᵀ comes from central
    differences of the analytic supergradient along each u_j. Near the optimum
    this converges quadratically where SLSQP's quasi-Newton model stalls.
    ``oracle`` records the certificates of every point it sees in ``best``.
    """
    for _ in range(8):
        if best["upper"] - best["lower"] <= tol:
            return
        S = np.flatnonzero(w > 1e-9)
        lam = V.T @ w
        live = lam > 0
        U = V[S] - lam[None, :]

        def grad(point, live=live):
            L = _dual(st, point)[1]
            return np.where(live, L, 0.0)

        g = U @ grad(lam)
        cols = []
        for j, u in zip(S, U, strict=True):
            eps = min(1e-6, 0.5 * w[j])
            cols.append((grad(lam + eps * u) - grad(lam - eps * u)) / (2.0 * eps))
        M = U @ np.array(cols).T
        M = 0.5 * (M + M.T)
        step = np.linalg.lstsq(-M, g, rcond=1e-12)[0]
        dw = np.zeros_like(w)
        dw[S] = step
        dw -= dw.sum() * w
        neg = dw < 0
        t = min(1.0, float(np.min(-w[neg] / dw[neg]))) if neg.any() else 1.0
        w = np.clip(w + t * dw, 0.0, None)
        w /= w.sum()
        oracle(w)


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
    r"""Group-DRO / DoReMi-style minimax weights, solved exactly with a certificate (THEORY §10).

    .. math:: \min_{h\in H}\max_{\lambda\in\Lambda}\sum_k \lambda_k L_k(h)
              = \max_{\lambda\in\Lambda} d(\lambda),\qquad
              d(\lambda) = \sum_k\lambda_k L_k(h_\lambda),

    with the default ``regret`` losses L_k(h) = KL(D_k‖h) − KL(D_k‖p_k). The
    payoff is linear in λ and convex in the natural parameters of H, and the
    inner minimum is the closed-form M-projection h_λ = ``aggregate(D, λ)``,
    so the problem is the maximization of the concave d over Λ (K variables,
    written λ = Σ_j w_j v_j over the vertices v_j of Λ). Every evaluation gives a
    certificate: ``lower`` = d(λ) and, for the candidate h_λ,
    ``upper`` = max_{λ'∈Λ} Σ λ'_k L_k(h_λ); the best of each is kept. SQP steps
    (SLSQP) run until upper − lower ≤ ``tol`` or ``max_iter`` iterations
    (then ``converged=False``). The returned model is the candidate achieving
    ``upper`` and ``alpha`` the training mixture that produced it.
    """
    st = _setup(D, P, family, shape, mixtures, objective)
    tol = check_positive(tol, "tol")
    max_iter = check_int(max_iter, "max_iter")
    V = st.mixtures.vertices()
    best = {"lower": -np.inf, "upper": np.inf, "h": None, "alpha": None, "w": None}

    def oracle(w):
        lam = np.clip(V.T @ np.clip(w, 0.0, None), 0.0, None)
        lam /= lam.sum()
        d, L, h = _dual(st, lam)
        if d > best["lower"]:
            best.update(lower=d, w=np.asarray(w, dtype=np.float64).copy())
        up = _linear_max(st.mixtures, L)[0]
        if up < best["upper"]:
            best.update(upper=up, h=h, alpha=lam)
        # an infinite loss only occurs for weights at 0 and says "increase this weight":
        # a large finite slope keeps the quasi-Newton model usable.
        finite = np.isfinite(L)
        cap = 1e3 * (1.0 + np.max(np.abs(L[finite]))) if finite.any() else 1e3
        return -d, -(V @ np.where(finite, L, cap))

    class _Done(Exception):
        pass

    def stop(_w):
        if best["upper"] - best["lower"] <= tol:
            raise _Done

    m = V.shape[0]
    w = np.full(m, 1.0 / m)
    oracle(w)
    constraint = {"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": np.ones_like}
    iterations = 0
    # SLSQP stops once its own quasi-Newton model stalls; restarting from the best
    # point with a fresh model usually closes the remaining certified gap.
    while best["upper"] - best["lower"] > tol and m > 1 and iterations < max_iter:
        try:
            res = minimize(
                oracle,
                w,
                jac=True,
                method="SLSQP",
                bounds=[(0.0, 1.0)] * m,
                constraints=[constraint],
                callback=stop,
                options={"maxiter": max_iter - iterations, "ftol": 1e-16},
            )
        except _Done:
            break
        iterations += max(1, res.nit)
        if np.allclose(res.x, w, rtol=0.0, atol=1e-15):
            break
        w = np.clip(res.x, 0.0, None) / np.clip(res.x, 0.0, None).sum()
    if best["upper"] - best["lower"] > tol and m > 1:
        _newton_polish(st, V, best["w"], oracle, tol, best)
    converged = best["upper"] - best["lower"] <= tol
    return _result(
        st, "group_dro", best["h"], best["alpha"], best["lower"], best["upper"], converged
    )


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
    r"""RegMix-style mixture search (THEORY §10): regress the losses on the training mixture.

    Draws ``samples`` training mixtures α_s ~ Dir(1) (plus the vertices and the
    centre of Δ_K), trains h_{α_s} = ``aggregate(D, α_s)``, and fits each
    per-domain loss by least squares on features of α (``degree`` 1: linear,
    2: quadratic), :math:`\hat L_k(\alpha) = \beta_k\cdot\phi(\alpha)`. The chosen
    α minimizes the predicted worst case
    :math:`\max_{\lambda\in\Lambda}\sum_k\lambda_k\hat L_k(\alpha)` over the
    sampled mixtures and ``candidates`` further Dirichlet draws; the returned
    model is h_α, scored exactly.
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
    losses = np.array([_dual(st, a)[1] for a in train])
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
    Vx = st.mixtures.vertices()
    alpha = pool[int(np.argmin((predicted @ Vx.T).max(axis=1)))]
    return _result(st, "regmix", _aggregate(_mix(alpha, st.D), st.order, st.shape), alpha)


def merge_experts(
    D,
    P,
    family: str = "full",
    shape=None,
    mixtures=None,
    objective="divergence",
    weights=None,
) -> MixingResult:
    r"""Parameter merging (THEORY §10): average the natural parameters of the experts'
    M-projections :math:`h_k = \operatorname{argmin}_{h\in H}\mathrm{KL}(p_k\|h)`.

    Every natural parametrization of the classes here is linear in log h (up to
    the normalizer), so the merged model is the normalized geometric mixture

    .. math:: h(x) \propto \prod_k h_k(x)^{w_k},

    independent of the parametrization; it stays in H (``full``, ``product``,
    ``markov:r``: sums of per-window log-potentials stay such sums). ``weights``
    w default to uniform. Raises ``ValueError`` if the projected experts share
    no point of positive probability.
    """
    st = _setup(D, P, family, shape, mixtures, objective)
    K = st.D.shape[0]
    w = np.full(K, 1.0 / K) if weights is None else check_weights(weights, K, "weights")
    H = np.stack([_aggregate(st.P[k], st.order, st.shape) for k in range(K)])
    on = w > 0
    with np.errstate(divide="ignore"):
        logs = w[on] @ np.log(H[on])
    if not np.isfinite(logs).any():
        raise ValueError("P: the experts' projections share no point of positive probability")
    merged = np.exp(logs - logs.max())
    return _result(st, "merged", merged / merged.sum(), None)


@dataclass(frozen=True)
class Comparison:
    r"""A comparator's worst case against the robust gate's value V*(Λ) (T10).

    ``margin`` = worst_case − robust_value (> 0: the robust gate is better).
    ``beats_robust`` flags a comparator with a strictly lower worst case; T10
    rules it out when ``in_envelope`` (h ∈ M), so it can only happen for a model
    outside the experts' envelope (a class richer than what the experts span),
    and ``explained`` records exactly that.
    """

    name: str
    worst_case: float
    robust_value: float
    margin: float
    in_envelope: bool
    beats_robust: bool
    explained: bool


def compare_to_robust(results, robust_value: float, tol: float = 1e-9) -> tuple[Comparison, ...]:
    r"""Compare comparator results with the robust gate's certified value V*(Λ) (T10).

    ``robust_value`` is the robust gate's value for the same D, P, Λ and
    objective (e.g. ``robust_gate(...).upper``); a comparator beats it when its
    worst case is below by more than ``tol`` (the certificate's width).
    """
    try:
        v = float(robust_value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"robust_value: expected a number, got {robust_value!r}") from exc
    if not np.isfinite(v):
        raise ValueError(f"robust_value: expected a finite number, got {robust_value!r}")
    tol = check_positive(tol, "tol", allow_zero=True)
    if isinstance(results, MixingResult) or not hasattr(results, "__iter__"):
        raise ValueError(
            f"results: expected a sequence of MixingResult, got {type(results).__name__}"
        )
    out = []
    for r in results:
        if not isinstance(r, MixingResult):
            raise ValueError(f"results: expected MixingResult items, got {type(r).__name__}")
        beats = bool(r.worst_case < v - tol)
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
