r"""The stochastic primal-dual algorithm of the linearized robust problem (T12).

Notation. The K domains D_k and experts p_k are distributions on a finite set X
of n points (rows of (K, n) arrays ``D`` and ``P``). A gate g assigns weights
g(x) ∈ Δ_K to every point and builds the model p_g(x) = Σ_k g_k(x) p_k(x),
whose mass is Z(g) = Σ_x p_g(x) = Σ_k E_{y~p_k}[g_k(y)]. The payoff is
L(g, λ) = Σ_k λ_k L_k(p_g), with L_k(q) = CE(D_k, q) − c_k
(:mod:`theory.objectives`) and λ in the set Λ ⊆ Δ_K of mixtures; V* is the
robust value. μ is the Lagrange multiplier of the constraint Z(g) = 1.

The normalization Z(g) = 1 is linear in the gate, so (T12)

    V* = min_g max_{λ∈Λ, μ∈R} Σ_k λ_k L_k(p_g) + μ (Z(g) − 1),

.. math:: V^* = \min_{g}\ \max_{\lambda\in\Lambda,\ \mu\in\mathbb R}\
          \sum_k \lambda_k L_k(p_g) + \mu\,(Z(g) - 1),
          \qquad Z(g) = \sum_k \mathbb E_{y\sim p_k}[g_k(y)],

and every term has an unbiased stochastic gradient: the payoff from samples
x ~ D_k, the mass from samples y ~ p_k of the experts. Each step draws b samples
per domain (the minibatch B_k) and b per expert (E_k) and makes three moves:

* gate: a descent step on Σ_k λ_k mean_{x∈B_k}(−log p_g(x)) + μ Σ_k mean_{y∈E_k} g_k(y);
* mixture: exponentiated gradient λ ← Π_Λ(λ ⊙ exp(η_λ ℓ̂)), with
  ℓ̂_k = mean_{x∈B_k}(−log p_g(x)) − c_k and Π_Λ the projection onto Λ;
* multiplier: dual ascent μ ← μ + η_μ(Ẑ − 1), with Ẑ the sampled mass.

In formulas:

.. math::
    \lambda \leftarrow \Pi_\Lambda\big(\lambda\odot e^{\eta_\lambda \hat\ell}\big),\qquad
    \hat\ell_k = \operatorname{mean}_{x\in B_k}(-\log p_g(x)) - c_k,\qquad
    \mu \leftarrow \mu + \eta_\mu(\hat Z - 1).

The mixture and multiplier steps decay as η/√t and the gate takes AdaGrad steps
(of order η/√t as well, with per-column or per-entry scales); the returned gate
and mixture are the averages of the iterates, the O(1/√T) regime of stochastic
convex–concave games. Training
only draws samples and evaluates the experts (and the gate) at the sampled
points; it never sums over X. The exact tables of D and P are read after
training (and at the optional ``eval_every`` checkpoints of the history) to
report the exact worst-case payoff of the averaged model, renormalized by its
exact mass. The algorithm is that of §5.2 of Cortes, Mohri & Zhong [1]_; see
the theory pages §5.1–§5.2 of the documentation. Exponentiated gradient is the
mirror descent of Kivinen & Warmuth [2]_, AdaGrad that of Duchi, Hazan &
Singer [3]_.

Speed. With one of the two gates provided here, Λ = Δ_K and a built-in
objective, the steps between two checkpoints run compiled
(:mod:`sims._spd_kernels`, tens of microseconds per step instead of a few
hundred); they take the same steps from the same random draws as the Python
loop that serves every other gate, Λ and objective, so a run does not depend
on which path took it (up to rounding).

References
----------
.. [1] C. Cortes, M. Mohri and Y. Zhong, "A Theoretical Framework for Modular
   Learning of Robust Generative Models", arXiv:2602.17554, 2026, §5.
.. [2] J. Kivinen and M. K. Warmuth, "Exponentiated gradient versus gradient
   descent for linear predictors", Information and Computation 132(1), 1997.
.. [3] J. Duchi, E. Hazan and Y. Singer, "Adaptive subgradient methods for
   online learning and stochastic optimization", JMLR 12, 2011.

Examples
--------
>>> import numpy as np
>>> from sims.primal_dual import stochastic_primal_dual
>>> D = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
>>> P = np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
>>> result = stochastic_primal_dual(D, P, objective="divergence", steps=500, batch=16)
>>> round(result.reference, 4)  # V*, from the exact solver
0.2368
>>> bool(abs(result.worst_case - result.reference) < 0.01)  # sampling only, yet close
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np
from scipy.special import softmax

from theory.divergences import cross_entropy_rows
from theory.minimax import dual_function, robust_gate
from theory.mixtures import Simplex
from theory.objectives import _mean_estimate, _zero_estimate
from theory.objectives import get as get_objective
from theory.results import Bounded, Layout
from theory.validation import (
    ArgumentTypeError,
    check_allocation,
    check_choice,
    check_feasible,
    check_flag,
    check_int,
    check_labels,
    check_mixtures,
    check_pair,
    check_positive,
    check_seed,
    check_stack,
)

__all__ = [
    "GateModel",
    "TabularGate",
    "SoftmaxLinearGate",
    "loglik_features",
    "SPDHistory",
    "SPDResult",
    "stochastic_primal_dual",
    "exact_payoffs",
    "softmax_linear_optimum",
    "ClassOptimum",
]


def _softmax_columns(U: np.ndarray) -> np.ndarray:
    """Softmax of every column of U, exp(U − max)/Σ exp(U − max) as scipy's ``softmax(U, axis=0)``
    computes it, without its input checks and on one temporary (the per-step hot path, and
    the class optimum's, where scipy's version costs four times as much)."""
    E = U - U.max(axis=0)
    np.exp(E, out=E)
    E /= E.sum(axis=0)
    return E


class GateModel(Protocol):
    """The small protocol a gate object follows to be trained by :func:`stochastic_primal_dual`.

    Any object with these members works (a structural protocol):
    :class:`TabularGate` and :class:`SoftmaxLinearGate` are the two provided.

    Attributes
    ----------
    K : int
        Number of experts.
    n : int
        Number of points of X.
    """

    K: int
    n: int

    def columns(self, idx: np.ndarray) -> np.ndarray:
        """The current gate g(x) at the points ``idx``.

        Parameters
        ----------
        idx : ndarray of int, shape (b,)
            Indices of points of X (repeats allowed).

        Returns
        -------
        ndarray, shape (K, b)
            Column i is g(x_i) ∈ Δ_K.
        """

    def descend(self, idx: np.ndarray, grad: np.ndarray, lr: float) -> None:
        """One descent step on a minibatch objective J, recorded as a new iterate.

        Parameters
        ----------
        idx : ndarray of int, shape (b,)
            The points of the minibatch.
        grad : ndarray, shape (K, b)
            ``grad[:, i]`` = ∂J/∂g(x_i); repeated points add up.
        lr : float
            The step size η_θ.
        """

    def table(self, average: bool = False) -> np.ndarray:
        """The gate on all of X.

        Parameters
        ----------
        average : bool, default False
            Return the average of all recorded iterates instead of the current one.

        Returns
        -------
        ndarray, shape (K, n)
            Columns on Δ_K.
        """


class TabularGate:
    r"""One vector of logits per point x: :math:`g(x) = \mathrm{softmax}(\theta(x))`.

    The step is exponentiated gradient on each visited column with a per-column
    AdaGrad step size,

    .. math:: \theta(x) \leftarrow \theta(x) - \eta\,\frac{G_t(x)}{\sqrt{\sum_{s\le t} w_s(x)^2}},
              \qquad w_s(x) = \max_k G_{s,k}(x) - \min_k G_{s,k}(x),

    where :math:`G_t(x) = \partial J_t/\partial g(x)` is the minibatch gradient: mirror
    descent in the entropic geometry of Δ_K, where the payoff is convex in g. The
    gradient of a column scales with the probability of x under the domains and
    the experts (frequent points see large summed gradients, rare points small
    ones); the per-column normalization gives every column steps of order η/√(visits),
    which keeps the heavy columns from swinging between experts of very different
    mass and so keeps Z(g) stable.
    Averaging is over the gate values g, lazily: a column is accumulated only
    when it changes, so a step costs O(K·b), not O(K·n).

    In words: θ(x) ← θ(x) − η G_t(x)/√(Σ_{s≤t} w_s(x)²), with w_s(x) the spread
    max_k − min_k of the column's past gradients.

    Parameters
    ----------
    K : int
        Number of experts.
    n : int
        Number of points of X.

    Examples
    --------
    >>> import numpy as np
    >>> gate = TabularGate(K=2, n=3)
    >>> gate.columns(np.array([0]))  # uniform at the start
    array([[0.5],
           [0.5]])
    >>> gate.descend(np.array([0]), np.array([[1.0], [0.0]]), lr=0.5)
    >>> gate.table().round(3)  # expert 1 was penalized at x = 0
    array([[0.378, 0.5  , 0.5  ],
           [0.622, 0.5  , 0.5  ]])
    """

    def __init__(self, K: int, n: int):
        self.K, self.n = int(K), int(n)
        self._logits = np.zeros((self.K, self.n))
        self._sum = np.zeros((self.K, self.n))
        self._last = np.zeros(self.n, dtype=np.int64)
        self._sq = np.zeros(self.n)
        self._t = 0

    def columns(self, idx: np.ndarray) -> np.ndarray:
        """The current gate at ``idx``, shape (K, len(idx)) (see :class:`GateModel`)."""
        return _softmax_columns(self._logits[:, idx])

    def descend(self, idx: np.ndarray, grad: np.ndarray, lr: float) -> None:
        """One AdaGrad-scaled exponentiated-gradient step (see :class:`GateModel`)."""
        touched, where = np.unique(idx, return_inverse=True)
        self._sum[:, touched] += self.columns(touched) * (self._t - self._last[touched])
        self._last[touched] = self._t
        # Repeated points add up: one weighted bincount per expert.
        m = touched.size
        step = np.bincount(
            (where + m * np.arange(self.K)[:, None]).ravel(), grad.ravel(), self.K * m
        ).reshape(self.K, m)
        self._t += 1
        # A softmax ignores shifts of a column, so the scale of a step is its spread.
        spread = step.max(axis=0) - step.min(axis=0)
        self._sq[touched] += spread**2
        logits = self._logits[:, touched] - lr * step / np.sqrt(self._sq[touched] + 1e-300)
        self._logits[:, touched] = logits - logits.max(axis=0)

    def table(self, average: bool = False) -> np.ndarray:
        """The current or averaged gate on all of X, shape (K, n) (see :class:`GateModel`)."""
        current = softmax(self._logits, axis=0)
        if not average or self._t == 0:
            return current
        return (self._sum + current * (self._t - self._last)) / self._t


def loglik_features(P) -> tuple[np.ndarray, float]:
    r"""Normalized expert log-likelihood features of every x, and their norm bound R.

    φ(x) = (r(x)/S, 1)/√2, where r_k(x) = log p_k(x) − (1/K) Σ_j log p_j(x) are the
    centred log-likelihoods of the experts and S = max_x ‖r(x)‖₂:

    .. math:: \phi(x) = \tfrac{1}{\sqrt 2}\,\big(r(x)/S,\ 1\big),\qquad
              r_k(x) = \log p_k(x) - \tfrac1K\textstyle\sum_j \log p_j(x),\quad
              S = \max_x \|r(x)\|_2,

    so that ‖φ(x)‖₂ ≤ R = 1 (T11). The centering removes what all experts share,
    which a softmax ignores anyway; the class softmax(Wφ) then contains every
    constant gate (weights on the last coordinate only) and every posterior gate
    :math:`g_k \propto z_k\, p_k(x)^a`. S is a property of the experts, computed
    once from their tables. The experts need full support (log 0 is not a
    feature).

    Parameters
    ----------
    P : array_like, shape (K, n)
        The experts, with full support.

    Returns
    -------
    features : ndarray, shape (n, K + 1)
        Row x is φ(x).
    R : float
        The bound 1.0 on ‖φ(x)‖₂ used by the generalization bound of T11.

    Raises
    ------
    ValueError
        If ``P`` is not a stack of distributions, or some p_k(x) = 0 (the
        message names P and one of its zeros).

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
    >>> features, R = loglik_features(P)
    >>> features.round(3)  # the middle point, where the experts agree, has r = 0
    array([[ 0.341, -0.341,  0.707],
           [ 0.   ,  0.   ,  0.707],
           [-0.5  ,  0.5  ,  0.707]])
    """
    P = check_stack(P, "P")
    if np.any(P <= 0):
        k, i = (int(v) for v in np.argwhere(P <= 0)[0])
        raise ValueError(
            f"P: the 'loglik' gate needs experts with full support (its features are "
            f"log p_k(x)), but p_{k + 1} (row {k}) is 0 at index {i}"
        )
    logP = np.log(P)
    r = logP - logP.mean(axis=0)
    S = float(np.sqrt((r**2).sum(axis=0)).max())
    r = r / S if S > 0 else r
    Phi = np.hstack([r.T, np.ones((P.shape[1], 1))]) / np.sqrt(2.0)
    return np.ascontiguousarray(Phi), 1.0


class SoftmaxLinearGate:
    r"""Softmax-linear gate on features: g(x) = softmax(W φ(x)), W ∈ R^{K×d}.

    .. math:: g(x) = \mathrm{softmax}\big(W\varphi(x)\big), \qquad \|W\|_F \le B.

    This is the gate class 𝒢_B of the generalization bound T11, whose complexity
    depends on K, B and the feature bound R, not on n. The step is AdaGrad on W
    (per-entry step η/√(Σ past squared gradients)), with the chain rule through
    the softmax, ∂J/∂u_k = g_k(∂J/∂g_k − Σ_j g_j ∂J/∂g_j) for the logits u = W φ(x),
    followed by the projection onto the ball ‖W‖_F ≤ ``radius`` = B; the average
    is the t-weighted average of the iterates W_t (the class is not convex in
    W, so the recent iterates are weighted more).

    Parameters
    ----------
    K : int
        Number of experts.
    features : array_like, shape (n, d), or "loglik"
        The features φ(x), one row per point, or ``"loglik"`` for
        :func:`loglik_features` of the experts (then ``P`` is needed).
    P : array_like, shape (K, n), optional
        The experts, for ``"loglik"`` features.
    radius : float, default 10.0
        The bound B > 0 on the Frobenius norm of W.

    Raises
    ------
    ValueError
        If ``features`` is not a finite (n, d) array or ``"loglik"``, ``P`` is
        missing for ``"loglik"``, or ``radius`` is not positive.

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
    >>> gate = SoftmaxLinearGate(2, "loglik", P)
    >>> gate.table()  # W = 0: every point weighs the experts evenly
    array([[0.5, 0.5, 0.5],
           [0.5, 0.5, 0.5]])
    """

    def __init__(self, K: int, features, P=None, radius: float = 10.0):
        if isinstance(features, str):
            check_choice(features, "features", ("loglik",))
            if P is None:
                raise ValueError("P: the 'loglik' features need the experts")
            features, _ = loglik_features(P)
        Phi = np.asarray(features, dtype=np.float64)
        if Phi.ndim != 2 or not np.all(np.isfinite(Phi)):
            raise ValueError(f"features: expected a finite (n, d) array, got shape {Phi.shape}")
        self.K, self.n = int(K), Phi.shape[0]
        self.radius = check_positive(radius, "radius")
        self.features = np.ascontiguousarray(Phi)
        self.W = np.zeros((self.K, Phi.shape[1]))
        self._sq = np.zeros_like(self.W)
        self._sum = np.zeros_like(self.W)
        self._t = 0

    def columns(self, idx: np.ndarray) -> np.ndarray:
        """The current gate at ``idx``, shape (K, len(idx)) (see :class:`GateModel`)."""
        return _softmax_columns(self.W @ self.features[idx].T)

    def descend(self, idx: np.ndarray, grad: np.ndarray, lr: float) -> None:
        """One projected AdaGrad step on W (see :class:`GateModel`)."""
        G = self.columns(idx)
        dU = G * (grad - (G * grad).sum(axis=0))
        dW = dU @ self.features[idx]
        self._sq += dW**2
        self.W -= lr * dW / np.sqrt(self._sq + 1e-12)
        norm = np.linalg.norm(self.W)
        if norm > self.radius:
            self.W *= self.radius / norm
        self._t += 1
        self._sum += self._t * self.W

    def weights(self, average: bool = False) -> np.ndarray:
        """The weight matrix W, shape (K, d): the current one or the t-weighted average."""
        if average and self._t:
            return self._sum / (self._t * (self._t + 1) / 2)
        return self.W.copy()

    def table(self, average: bool = False) -> np.ndarray:
        """The gate softmax(W φ(x)) on all of X, shape (K, n) (see :class:`GateModel`)."""
        return softmax(self.weights(average) @ self.features.T, axis=0)


@dataclass(frozen=True)
class SPDHistory:
    """Records of a run at the checkpoints ``step`` (plot-ready arrays).

    Attributes
    ----------
    step : ndarray of int, shape (C,)
        The checkpoints (numbers of steps taken).
    worst_case : ndarray, shape (C,)
        Exact max over Λ of the payoff of the averaged model (renormalized)
        after ``step[i]`` steps, in nats.
    avg_mass : ndarray, shape (C,)
        Exact mass Z of the averaged gate.
    mass : ndarray, shape (C,)
        Exact mass Z of the current gate.
    lam : ndarray, shape (C, K)
        The current mixture.
    mu : ndarray, shape (C,)
        The current multiplier.
    """

    step: np.ndarray
    worst_case: np.ndarray
    avg_mass: np.ndarray
    mass: np.ndarray
    lam: np.ndarray
    mu: np.ndarray


@dataclass(frozen=True)
class SPDResult(Bounded):
    r"""Output of :func:`stochastic_primal_dual` (T12).

    Certificate: ``lower`` = d(``lam``) ≤ V* (T5), so ``worst_case − lower`` bounds
    how far the returned model is from V* (``certified_gap``). ``reference`` is
    the best worst-case payoff of the gate's class, computed by a deterministic
    solver: V* for the tabular gate (dual solver, T5), the
    :func:`softmax_linear_optimum` (constrained) for softmax-linear gates; None
    for other gate objects or when not requested.

    Uniform names: ``value`` = ``upper`` = ``worst_case`` (the worst case the
    returned model achieves, an upper bound on V* whenever the model lies in the
    experts' envelope M), ``gap`` = ``certified_gap``, ``iterations`` = ``steps``.
    Values are in nats.

    Attributes
    ----------
    gate : ndarray, shape (K, n)
        The averaged gate.
    model : ndarray, shape (n,)
        Its model p_g, renormalized by the exact mass ``mass``.
    lam : ndarray, shape (K,)
        The averaged mixture.
    worst_case : float
        Exact max_{λ∈Λ} Σ_k λ_k L_k(model), attained at ``worst_lam``.
    worst_lam : ndarray, shape (K,)
        A worst mixture for ``model``.
    per_domain : ndarray, shape (K,)
        The exact losses L_k(model).
    mass : float
        The exact mass Z(gate).
    mu : float
        The final multiplier.
    lower : float
        d(``lam``) ≤ V*.
    reference : float or None
        The best worst case of the gate's class (see above).
    history : SPDHistory
        The checkpoints.
    steps, batch : int
        The number of steps T and the samples per domain and per expert per step.
    objective : str
        The objective's name.
    seed : int
        The integer seed (0 when a Generator was given).
    labels : tuple of str or None
        Domain names (None: D_1 … D_K).
    """

    gate: np.ndarray
    model: np.ndarray
    lam: np.ndarray
    worst_case: float
    worst_lam: np.ndarray
    per_domain: np.ndarray
    mass: float
    mu: float
    lower: float
    reference: float | None
    history: SPDHistory
    steps: int
    batch: int
    objective: str
    seed: int
    labels: tuple[str, ...] | None = None

    _layout: ClassVar[Layout] = Layout(
        "Stochastic primal-dual gate (T12)",
        symbol="worst case",
        bounded="V*",
        weights=(("lam", "λ (average)"), ("worst_lam", "worst λ")),
        losses=(("per_domain", "L_k"),),
        numbers=(("reference", "class optimum"),),
        facts=(("mass", "mass Z(gate)"), ("batch", "batch"), ("objective", "objective")),
    )

    @property
    def value(self) -> float:
        """The exact worst case of the returned model over Λ (= ``worst_case``), in nats."""
        return self.worst_case

    @property
    def upper(self) -> float:
        """= ``worst_case``: an upper bound on V* when the model lies in the envelope M (T2)."""
        return self.worst_case

    @property
    def iterations(self) -> int:
        """The number of primal-dual steps (= ``steps``)."""
        return self.steps

    @property
    def certified_gap(self) -> float:
        """worst_case − d(lam) ≥ worst_case − V*.

        worst_case − V* ≥ 0 for models in the envelope M (Z(gate) = 1, T2); the
        renormalized p_g/Z of a gate with Z ≠ 1 may leave M and fall slightly
        below V*, so both differences can be slightly negative.
        """
        return self.worst_case - self.lower


def exact_payoffs(D, P, q, objective="regret") -> np.ndarray:
    r"""Exact per-domain losses L_k(q) = CE(D_k, q) − c_k of a model q.

    A shortcut for :func:`theory.objectives.losses` with the ``regret``
    objective as default, the one :func:`stochastic_primal_dual` uses.

    .. math:: L_k(q) = -\sum_x D_k(x)\log q(x) - c_k.

    Parameters
    ----------
    D : array_like, shape (K, n)
        The domains.
    P : array_like, shape (K, n)
        The experts.
    q : array_like, shape (n,)
        The model.
    objective : str, Objective or array_like, shape (K,)
        The offsets c (default ``"regret"``: c_k = CE(D_k, p_k)).

    Returns
    -------
    ndarray, shape (K,)
        L_k(q) in nats.

    Raises
    ------
    ValueError
        As :func:`theory.objectives.losses`.

    Examples
    --------
    >>> import numpy as np
    >>> D = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    >>> P = np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
    >>> exact_payoffs(D, P, P[0]).round(4)  # expert 1 has no regret on domain 1
    array([0.    , 0.8558])
    """
    from theory.objectives import losses

    return losses(q, D, P, objective)


class _RowSampler:
    """Inverse-CDF sampling of b points from each row of a stochastic matrix."""

    def __init__(self, A: np.ndarray):
        self.cum = np.cumsum(A, axis=1)
        # The last index with positive mass: a uniform at the top of [0, total)
        # must not fall on a trailing zero through rounding.
        n = A.shape[1]
        self.last = n - 1 - np.argmax(A[:, ::-1] > 0, axis=1)

    def draw(self, rng: np.random.Generator, b: int) -> np.ndarray:
        K, n = self.cum.shape
        u = rng.random((K, b)) * self.cum[:, -1:]
        out = np.empty((K, b), dtype=np.int64)
        for k in range(K):
            out[k] = self.cum[k].searchsorted(u[k], side="right")
        return np.minimum(out, self.last[:, None])


def _make_gate(gate, K: int, n: int, P: np.ndarray):
    if isinstance(gate, str):
        check_choice(gate, "gate", ("tabular", "loglik"))
        return TabularGate(K, n) if gate == "tabular" else SoftmaxLinearGate(K, "loglik", P)
    for attr in ("columns", "descend", "table"):
        if not callable(getattr(gate, attr, None)):
            raise ValueError(
                f"gate: expected 'tabular', 'loglik' or an object with columns/descend/table "
                f"methods, got {type(gate).__name__} without {attr!r}"
            )
    if getattr(gate, "K", K) != K or getattr(gate, "n", n) != n:
        raise ValueError(f"gate: expected a gate for K = {K} experts on n = {n} points")
    return gate


_DEFAULT_LR = {"tabular": (1.0, 1.0, 1.0), "loglik": (1.0, 1.0, 1.0)}


def stochastic_primal_dual(
    D,
    P,
    mixtures=None,
    objective="regret",
    gate="tabular",
    steps: int = 5_000,
    batch: int = 32,
    seed=0,
    lr: tuple[float, float, float] | None = None,
    eval_every: int | None = None,
    reference: bool = True,
    progress: bool = False,
    *,
    labels=None,
) -> SPDResult:
    r"""Solve min_g max_{λ∈Λ, μ} L(g, λ) + μ(Z(g) − 1) by sampling (T12).

    .. math:: \min_g \max_{\lambda\in\Lambda,\ \mu\in\mathbb R}\ L(g,\lambda) + \mu\,(Z(g)-1).

    The algorithm of the module docstring: each of the T steps samples b points
    from every domain and b from every expert, then moves the gate, the
    mixture λ and the multiplier μ. The averaged gate is scored exactly at the
    end. The default sizes bring the exact worst-case payoff of the tabular gate
    to within a few 1e-3 nats of V* on K = 3, n = 20 instances.

    Parameters
    ----------
    D : array_like, shape (K, n)
        The domains; only sampled during training.
    P : array_like, shape (K, n)
        The experts; sampled, and evaluated at the sampled points.
    mixtures : MixtureSet, optional
        Λ (default the simplex Δ_K).
    objective : str, Objective or array_like, shape (K,)
        ``"regret"`` (default; c_k = CE(D_k, p_k), estimated on the same minibatch
        as a control variate: ℓ̂_k = mean_{x∈B_k} log(p_k(x)/p_g(x))),
        ``"cross_entropy"`` (c = 0), or ``"divergence"`` (c_k = H(D_k), the one
        quantity read exactly from D, since entropies of the domains are not
        estimable without bias from samples).
    gate : str or GateModel, default "tabular"
        ``"tabular"``, ``"loglik"`` (softmax-linear on :func:`loglik_features`)
        or a :class:`GateModel`.
    steps : int, default 5000
        The number of steps T.
    batch : int, default 32
        The samples b per domain and per expert per step.
    seed : int or numpy.random.Generator, default 0
        Randomness of the samples.
    lr : tuple (η_θ, η_λ, η_μ), optional
        The gate's AdaGrad step η_θ, and η_λ/√t, η_μ/√t for the mixture and the
        multiplier (default (1, 1, 1)).
    eval_every : int, optional
        Record the history every so many steps (default: about 40 checkpoints
        spaced geometrically, for log-log plots of the O(1/√T) rate).
    reference : bool, default True
        Also compute ``reference``, the best value of the gate's class (a
        deterministic solve on the exact tables, after training).
    progress : bool, default False
        Show a progress bar.
    labels : list of str, optional
        Names of the domains in the printed result (default D_1 … D_K).

    Returns
    -------
    SPDResult

    Raises
    ------
    ValueError
        If an input is malformed, the instance is infeasible (V* = ∞), ``lr``
        is not three positive numbers, the gate object lacks
        ``columns``/``descend``/``table`` or has the wrong sizes, or the
        per-step arrays would not fit in memory.

    Examples
    --------
    See the module example.
    """
    D, P = check_pair(D, P)
    K, n = D.shape
    labels = check_labels(labels, K)
    obj = get_objective(objective)
    steps = check_int(steps, "steps")
    batch = check_int(batch, "batch")
    # The largest per-step array is the (K, K·batch) gradient of the mass term.
    check_allocation((K, K * batch), "batch")
    reference = check_flag(reference, "reference")
    progress = check_flag(progress, "progress")
    Lam = check_mixtures(mixtures, K)
    check_feasible(D, P, Lam.support())
    kind = gate if isinstance(gate, str) else "tabular"
    if lr is None:
        lr = _DEFAULT_LR.get(kind, _DEFAULT_LR["tabular"])
    elif not isinstance(lr, tuple | list | np.ndarray) or len(lr) != 3:
        raise ArgumentTypeError(f"lr: expected three step sizes (η_θ, η_λ, η_μ), got {lr!r:.60}")
    lr = tuple(
        check_positive(v, name) for name, v in zip(("lr[0]", "lr[1]", "lr[2]"), lr, strict=True)
    )
    lr_theta, lr_lam, lr_mu = lr
    if eval_every is None:
        checkpoints = set(np.unique(np.geomspace(1, steps, 40).round().astype(int)).tolist())
    else:
        checkpoints = set(range(check_int(eval_every, "eval_every"), steps + 1, eval_every))
    checkpoints.add(steps)
    model_gate = _make_gate(gate, K, n, P)

    from tqdm.auto import tqdm

    rng = check_seed(seed)
    data, experts = _RowSampler(D), _RowSampler(P)
    logP = np.log(np.where(P > 0, P, 1.0))
    c_exact = obj.offsets(D, P)
    lam = np.array(Lam.center(), dtype=np.float64)
    lam_sum = np.zeros(K)
    mu = 1.0  # the multiplier of the fixed-mixture optimum is the water level ν, 1 for P = D
    records: list[tuple] = []
    compiled = _compiled_steps(model_gate, obj, Lam, data, experts, P, logP, c_exact, lr)

    def record(t):
        wc, _, _, _, Z_avg = _worst_case(D, P, model_gate.table(average=True), c_exact, Lam)
        Z_now = float((model_gate.table() * P).sum())
        records.append((t, wc, Z_avg, Z_now, lam.copy(), mu))

    with tqdm(total=steps, desc="primal-dual", disable=not progress, leave=False) as bar:
        if compiled is not None:
            # Runs of steps between checkpoints, in chunks of bounded memory; the
            # uniforms are drawn in the order the Python loop below draws them.
            t = 0
            for checkpoint in sorted(checkpoints):
                while t < checkpoint:
                    chunk = min(checkpoint - t, _CHUNK)
                    U = rng.random((chunk, 2, K, batch))
                    mu = compiled(t, U, lam, lam_sum, mu)
                    t += chunk
                    bar.update(chunk)
                record(t)
        else:
            owner = np.repeat(np.arange(K), batch)
            rows = np.arange(K * batch)
            for t in range(1, steps + 1):
                xs = data.draw(rng, batch).ravel()
                ys = experts.draw(rng, batch).ravel()
                Gx = model_gate.columns(xs)
                Px = P[:, xs]
                pg = (Gx * Px).sum(axis=0)
                loss = -np.log(pg)
                # The objective's own sample estimate of c (on the same minibatch, a
                # control variate for the regret), else its exact offsets.
                c_hat = (
                    c_exact
                    if obj.estimate is None
                    else obj.estimate(-logP[owner, xs].reshape(K, batch))
                )
                loss_k = loss.reshape(K, batch).mean(axis=1) - c_hat
                mass_hat = model_gate.columns(ys)[owner, rows].sum() / batch

                grad_x = -(lam[owner] / batch) * Px / pg
                grad_y = np.zeros((K, K * batch))
                grad_y[owner, rows] = mu / batch
                root = np.sqrt(t)
                model_gate.descend(
                    np.concatenate([xs, ys]), np.concatenate([grad_x, grad_y], axis=1), lr_theta
                )

                logits = np.log(np.maximum(lam, 1e-12)) + (lr_lam / root) * loss_k
                # Exponentiated gradient, then the projection onto Λ; the floor keeps
                # every coordinate that Λ allows revivable by later steps.
                lam = np.maximum(softmax(logits), 1e-6 / K)
                lam = Lam.project(lam / lam.sum())
                lam_sum += lam
                mu += (lr_mu / root) * (mass_hat - 1.0)
                bar.update()
                if t in checkpoints:
                    record(t)

    gate_avg = model_gate.table(average=True)
    worst, worst_lam, per_domain, q, Z = _worst_case(D, P, gate_avg, c_exact, Lam)
    history = SPDHistory(*(np.array(column) for column in zip(*records, strict=True)))
    lam_avg = Lam.project(lam_sum / steps)
    lower = dual_function(D, P, lam_avg, objective=obj)[0]
    target = _class_reference(D, P, Lam, obj, model_gate) if reference else None
    return SPDResult(
        gate=gate_avg,
        model=q,
        lam=lam_avg,
        worst_case=worst,
        worst_lam=worst_lam,
        per_domain=per_domain,
        mass=Z,
        mu=float(mu),
        lower=float(lower),
        reference=target,
        history=history,
        steps=steps,
        batch=batch,
        objective=obj.name,
        seed=int(seed) if isinstance(seed, int | np.integer) else 0,
        labels=labels,
    )


#: The most steps handed to a compiled run at once (their uniforms take
#: 2·K·batch·8 bytes per step).
_CHUNK = 4096


def _compiled_steps(gate, obj, Lam, data, experts, P, logP, c_exact, lr):
    """A compiled runner of steps for the built-in gates on Λ = Δ_K, or None.

    The kernels of :mod:`sims._spd_kernels` take the steps of the Python loop of
    :func:`stochastic_primal_dual` for a :class:`TabularGate` or a
    :class:`SoftmaxLinearGate` (exactly these classes: a subclass may change a
    step), Λ = Δ_K (whose projection of the renormalized λ is the identity) and
    an objective whose offset estimate is the minibatch mean, zero, or none
    (exact offsets). Anything else runs in Python.
    """
    from sims import _spd_kernels as kernels

    modes = {_mean_estimate: kernels.MEAN, _zero_estimate: kernels.ZERO, None: kernels.EXACT}
    mode = modes.get(obj.estimate)
    if mode is None or type(Lam) is not Simplex:
        return None
    shared = (data.cum, data.last, experts.cum, experts.last, P, logP, mode, c_exact)
    if type(gate) is TabularGate:
        slot = np.full(gate.n, -1, dtype=np.int64)

        def run(t0, U, lam, lam_sum, mu):
            mu, gate._t = kernels.tabular_steps(
                t0, U, *shared, lam, lam_sum, mu, lr,
                gate._logits, gate._sum, gate._last, gate._sq, gate._t, slot,
            )  # fmt: skip
            return mu

        return run
    if type(gate) is SoftmaxLinearGate:

        def run(t0, U, lam, lam_sum, mu):
            mu, gate._t = kernels.linear_steps(
                t0, U, *shared, lam, lam_sum, mu, lr,
                gate.W, gate._sq, gate._sum, gate._t, gate.features, gate.radius,
            )  # fmt: skip
            return mu

        return run
    return None


def _class_reference(D, P, Lam, objective, model_gate) -> float | None:
    """The best worst-case value of the gate's class: V* (tabular) or the class optimum."""
    if isinstance(model_gate, TabularGate):
        return float(robust_gate(D, P, mixtures=Lam, objective=objective).value)
    if isinstance(model_gate, SoftmaxLinearGate):
        opt = softmax_linear_optimum(
            D, P, Lam, objective, features=model_gate.features, radius=model_gate.radius
        )
        return float(opt.constrained)
    return None


def _worst_case(D, P, gate, c, Lam):
    pg = (gate * P).sum(axis=0)
    Z = float(pg.sum())
    q = np.ascontiguousarray(pg / Z)
    per_domain = cross_entropy_rows(D, q) - c
    value, lam = Lam.argmax_linear(per_domain)
    return float(value), lam, per_domain, q, Z


@dataclass(frozen=True)
class ClassOptimum:
    r"""Best worst-case payoff of a softmax-linear gate class, by a deterministic solver.

    Returned by :func:`softmax_linear_optimum`.

    Attributes
    ----------
    constrained : float
        min_{W : Z(g_W) = 1} max_{λ∈Λ} L(g_W, λ), the target of the primal-dual
        iteration restricted to the class (T12).
    renormalized : float
        min_W max_{λ∈Λ} L(p_{g_W}/Z(g_W), λ), a lower bound on the payoff of
        any renormalized model of the class.
    W : ndarray, shape (K, d)
        The weights that attain ``constrained``.
    """

    constrained: float
    renormalized: float
    W: np.ndarray


def _weighted_features(D, Phi):
    """DΦ[(k, e), x] = D_k(x) φ(x)_e, shape (K·d, n): the fixed factor of the class gradients."""
    K, n = D.shape
    return (D[:, None, :] * Phi.T[None, :, :]).reshape(K * Phi.shape[1], n)


def _class_losses(W, Phi, D, P, c, renormalize, DPhi=None):
    """Per-domain losses of softmax(WΦᵀ) and their gradients in W, shape (K,), (K, K, d).

    ∂L_k/∂W_j = Σ_x D_k(x) H_j(x) φ(x) with H_j = g_j (1 − p_j/p_g): one matrix
    product DΦ Hᵀ of the weighted features ``DPhi`` (:func:`_weighted_features`,
    fixed for given D and Φ, computed here when not given) with the K rows of H.
    """
    K = P.shape[0]
    G = _softmax_columns(W.reshape(K, -1) @ Phi.T)
    pg = (G * P).sum(axis=0)
    L = -(D * np.log(pg)).sum(axis=1) - c
    H = G * (1.0 - P / pg)
    if DPhi is None:
        DPhi = _weighted_features(D, Phi)
    grad = (DPhi @ H.T).reshape(K, -1, K).transpose(0, 2, 1)
    if renormalize:
        Z = pg.sum()
        L = L + np.log(Z)
        grad = grad + ((G * (P - pg) / Z) @ Phi)[None, :, :]
    return L, grad


def softmax_linear_optimum(
    D,
    P,
    mixtures=None,
    objective="regret",
    features="loglik",
    radius: float = 10.0,
    restarts: int = 8,
    seed=0,
) -> ClassOptimum:
    r"""Best worst-case payoff over the class {g_W = softmax(W φ) : ‖W‖_F ≤ B}.

    .. math:: \min_{\|W\|_F\le B,\ Z(g_W) = 1}\ \max_{\lambda\in\Lambda} L(g_W, \lambda).

    Solved in epigraph form, :math:`\min_{W,t} t` s.t. :math:`t \ge v\cdot L(W)` for the
    points v of a working set of Λ and :math:`\|W\|_F^2 \le B^2`, by SLSQP with
    exact gradients; Λ's linear oracle then either confirms
    :math:`t \ge \max_{\lambda\in\Lambda}\lambda\cdot L(W)` or supplies the point to add
    (cutting planes, so Λ is never enumerated). Runs from W = 0 and
    ``restarts − 1`` random starts (the renormalized problem also from the
    constrained solution). The class is not convex in W: the result is the best
    local optimum found, a deterministic reference for
    :func:`stochastic_primal_dual` with ``gate="loglik"`` (same features and B).

    Parameters
    ----------
    D : array_like, shape (K, n)
        The domains.
    P : array_like, shape (K, n)
        The experts.
    mixtures : MixtureSet, optional
        Λ (default the simplex).
    objective : str, Objective or array_like, shape (K,)
        The losses (default ``"regret"``).
    features : array_like, shape (n, d), or "loglik"
        The features φ (default :func:`loglik_features` of P).
    radius : float, default 10.0
        B > 0.
    restarts : int, default 8
        Number of starts (W = 0 and ``restarts − 1`` random ones).
    seed : int or numpy.random.Generator, default 0
        Randomness of the starts.

    Returns
    -------
    ClassOptimum

    Raises
    ------
    ValueError
        If an input is malformed or the instance is infeasible.

    Examples
    --------
    The softmax-linear class on the log-likelihood features reaches V* here:

    >>> import numpy as np
    >>> D = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    >>> P = np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
    >>> optimum = softmax_linear_optimum(D, P, objective="divergence", restarts=2)
    >>> round(optimum.constrained, 4), optimum.W.shape
    (0.2368, (2, 3))
    """
    from scipy.optimize import minimize

    D, P = check_pair(D, P)
    K = D.shape[0]
    obj = get_objective(objective)
    restarts = check_int(restarts, "restarts")
    B = check_positive(radius, "radius")
    Lam = check_mixtures(mixtures, K)
    check_feasible(D, P, Lam.support())
    Phi = loglik_features(P)[0] if isinstance(features, str) else np.asarray(features, float)
    c = obj.offsets(D, P)
    DPhi = _weighted_features(D, Phi)
    points = [np.asarray(Lam.argmax_linear(e)[1], dtype=np.float64) for e in np.eye(K)]
    rng = check_seed(seed)
    dim = K * Phi.shape[1]
    starts = [np.zeros(dim)] + [
        rng.normal(size=dim) * (0.5 * B / np.sqrt(dim)) for _ in range(restarts - 1)
    ]

    def solve(renorm: bool, starts: list[np.ndarray]) -> tuple[float, np.ndarray]:
        def worst(W):
            return float(Lam.argmax_linear(_class_losses(W, Phi, D, P, c, renorm, DPhi)[0])[0])

        def local(W0, V):
            last = {}

            def losses(z):
                # SLSQP asks for the constraint and its Jacobian at the same point:
                # evaluate the losses and their gradients once per point.
                key = z.tobytes()
                if key not in last:
                    last.clear()
                    last[key] = _class_losses(z[:-1], Phi, D, P, c, renorm, DPhi)
                return last[key]

            constraints = [
                {
                    "type": "ineq",
                    "fun": lambda z: z[-1] - V @ losses(z)[0],
                    "jac": lambda z: np.hstack(
                        [-(V @ losses(z)[1].reshape(K, -1)), np.ones((V.shape[0], 1))]
                    ),
                },
                {
                    "type": "ineq",
                    "fun": lambda z: np.array([B**2 - z[:-1] @ z[:-1]]),
                    "jac": lambda z: np.append(-2.0 * z[:-1], 0.0)[None, :],
                },
            ]
            if not renorm:
                constraints.append(
                    {
                        "type": "eq",
                        "fun": lambda z: np.array([_mass(z[:-1], Phi, P) - 1.0]),
                        "jac": lambda z: np.append(_mass_grad(z[:-1], Phi, P), 0.0)[None, :],
                    }
                )
            res = minimize(
                lambda z: z[-1],
                np.append(W0, worst(W0)),
                jac=lambda z: np.eye(1, dim + 1, dim)[0],
                constraints=constraints,
                method="SLSQP",
                options={"maxiter": 500, "ftol": 1e-12},
            )
            return res.x[:-1], res.x[-1]

        best = (np.inf, starts[0])
        for W in starts:
            for _ in range(_CUT_ROUNDS):
                W, t = local(W, np.array(points))
                L = _class_losses(W, Phi, D, P, c, renorm, DPhi)[0]
                top, v = Lam.argmax_linear(L)
                if top <= t + 1e-10 * max(1.0, abs(t)):
                    break
                points.append(np.asarray(v, dtype=np.float64))
            W = W * min(1.0, B / max(np.linalg.norm(W), 1e-300))
            if not renorm and abs(_mass(W, Phi, P) - 1.0) > 1e-6:
                continue
            value = worst(W)
            if value < best[0]:
                best = (value, W)
        return best

    constrained, W = solve(False, starts)
    renormalized, _ = solve(True, [W, *starts])
    return ClassOptimum(
        constrained=constrained, renormalized=min(renormalized, constrained), W=W.reshape(K, -1)
    )


# Cutting-plane rounds per start of softmax_linear_optimum (polytopes need at
# most their number of vertices; smooth sets converge geometrically).
_CUT_ROUNDS = 20


def _mass(W, Phi, P):
    return float((_softmax_columns(W.reshape(P.shape[0], -1) @ Phi.T) * P).sum())


def _mass_grad(W, Phi, P):
    G = _softmax_columns(W.reshape(P.shape[0], -1) @ Phi.T)
    pg = (G * P).sum(axis=0)
    return (G * (P - pg) @ Phi).ravel()
