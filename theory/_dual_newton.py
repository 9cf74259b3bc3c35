r"""Certified maximization of a concave dual function over Λ (the engine behind T5–T7).

Both minimax problems of the package — the robust gate (T5) and the group-DRO
comparator of the monolithic class (:mod:`sims.monolithic`) — have the form

    V = min_h max_{λ∈Λ} Σ_k λ_k L_k(h) = max_{λ∈Λ} d(λ),  d(λ) = min_h Σ_k λ_k L_k(h),

where λ ranges over a set Λ of mixtures of the K domains (Λ ⊆ Δ_K, the
simplex of weights; :mod:`theory.mixtures`), h over models and L_k(h) is the
loss of h on domain k:

.. math:: V = \min_{h}\max_{\lambda\in\Lambda}\sum_k\lambda_k L_k(h)
          = \max_{\lambda\in\Lambda} d(\lambda),\qquad d(\lambda) = \min_h \sum_k\lambda_k L_k(h),

with d concave, a closed-form inner minimizer h_λ, and losses convex in h (in the
model for the gate, in the natural parameters for an exponential family). An
oracle evaluates d(λ), a *cut* — the losses g = L(h) of a model h with
d(λ') ≤ λ'·g for every λ' — and the Hessian of d on the tangent space of the
simplex.

Every evaluation certifies (T5): ``lower`` = d(λ) ≤ V ≤ ``upper`` = σ_Λ(L(h)),
where σ_Λ(c) = max_{λ∈Λ} c·λ is Λ's linear oracle. The first inequality holds
because V is the maximum of d, the second because h is one candidate of the
outer minimum.
:class:`NewtonAscent` keeps the best of each and stops when upper − lower ≤ tol.
Its steps are regularized projected Newton steps: the quadratic model of d is
maximized over Λ by simplicial decomposition (a QP over the hull of a working
set of points of Λ, each new point supplied by the linear oracle), with a
Levenberg–Marquardt term that grows when the model over-predicts. If the steps
stall before the gap closes, the models of the last cuts are combined with the
multipliers of the cutting-plane LP (a convex combination of models has
losses at most the combination of theirs), which closes the primal side.

Λ is reached only through ``argmax_linear``: no vertex list is ever needed, so
polytopes with many vertices and smooth sets (KL and ℓ2 balls) are handled alike.
The public names (:class:`Cut`, :class:`DualOracle`, :class:`NewtonAscent`) are
re-exported by :mod:`theory`. The dual function is that of Cortes, Mohri &
Zhong [1]_; the fallback is Kelley's cutting-plane method [2]_, and the Newton
QPs use simplicial decomposition [3]_.

References
----------
.. [1] C. Cortes, M. Mohri and Y. Zhong, "A Theoretical Framework for Modular
   Learning of Robust Generative Models", arXiv:2602.17554, 2026, §4.4.
.. [2] J. E. Kelley, "The cutting-plane method for solving convex programs",
   Journal of the SIAM 8(4), 1960.
.. [3] C. A. Holloway, "An extension of the Frank and Wolfe method of feasible
   directions", Mathematical Programming 6, 1974 (simplicial decomposition).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from scipy.optimize import linprog
from tqdm.auto import tqdm

__all__ = ["Cut", "DualOracle", "NewtonAscent"]

# Regularization of the Newton model relative to the curvature scale: raised
# tenfold after a step that the model over-predicts, lowered after a good one.
_MU_MIN = 1e-12
_MU_START = 1e-8
# A predicted ascent below _NOISE (relative) cannot be confirmed by evaluating d in
# floating point; a step that moves no coordinate by more than _STEP_ULPS ulps of
# that coordinate is no step at all (tiny weights, 1e-20 say, still move).
_NOISE = 1e-12
_STEP_ULPS = 4.0 * float(np.finfo(np.float64).eps)
# Newton QPs stop adding points of Λ after this many oracle calls per step
# (polytopes need at most K + 1; smooth sets converge geometrically).
_QP_ROUNDS = 4
_QP_EXTRA = 20
_QP_RTOL = 1e-3
# Column-generation rounds of the cutting-plane LP; cuts kept per K + 2; cutting-
# plane steps in a row that do not shrink the gap before the ascent gives up.
_LP_ROUNDS = 12
_KEPT_CUTS = 4
# An iteration makes progress when it shrinks the gap by _PROGRESS (relative);
# after _IDLE_NEWTON idle iterations the next step is a cutting-plane step, and
# after _MAX_IDLE the ascent stops (converged=False, certified bounds kept).
_PROGRESS = 1e-3
_IDLE_NEWTON = 2
_MAX_IDLE = 100


@dataclass
class Cut:
    """One evaluated mixture: λ, d(λ), and the losses of a model that bound d from above.

    ``grad`` holds the losses (L_1(h), …, L_K(h)) of a model h, with
    d(λ') ≤ λ'·grad for every λ' (tight at λ when h = h_λ, the minimizer for λ);
    it is a supergradient of the concave d at λ (T5, Danskin's theorem).

    ``model`` is the model whose losses are ``grad``; ``state`` is what the
    oracle needs for the Hessian and to rebuild the model later (cuts kept for
    the cutting-plane step drop ``model`` and ``state`` to keep memory O(K) each).

    Attributes
    ----------
    lam : ndarray, shape (K,)
        The mixture λ.
    value : float
        d(λ).
    grad : ndarray, shape (K,)
        The losses L_k(h) of the model.
    model : object, optional
        The model h (e.g. a distribution of shape (n,)).
    state : object, optional
        Whatever the oracle keeps for :meth:`DualOracle.hessian`.
    token : object, optional
        An oracle's handle for rebuilding the model in :meth:`DualOracle.combine`.

    Examples
    --------
    >>> import numpy as np
    >>> cut = Cut(np.array([0.5, 0.5]), 0.25, np.array([0.25, 0.25]), model=0.5)
    >>> float(cut.lam @ cut.grad) == cut.value  # tight at its own λ
    True
    """

    lam: np.ndarray
    value: float
    grad: np.ndarray
    model: Any = None
    state: Any = None
    token: Any = None


class DualOracle(Protocol):
    """What :class:`NewtonAscent` needs from a minimax problem.

    A structural protocol: any object with these members works. It describes
    the concave dual function d(λ) = min_h Σ_k λ_k L_k(h) of a minimax problem
    whose losses L_k are convex in the model h.

    Attributes
    ----------
    K : int
        The number of domains (the length of λ).

    See Also
    --------
    NewtonAscent : its example implements this protocol.
    """

    K: int

    def point(self, lam: np.ndarray) -> Cut:
        """Evaluate d at λ.

        Parameters
        ----------
        lam : ndarray, shape (K,)
            A mixture of Λ.

        Returns
        -------
        Cut
            d(λ), the losses of the minimizing model h_λ (finite) and h_λ.
        """

    def hessian(self, cut: Cut) -> np.ndarray:
        """The Hessian of d at the cut's λ.

        Parameters
        ----------
        cut : Cut
            A cut returned by :meth:`point`.

        Returns
        -------
        ndarray, shape (K, K)
            A matrix equal to ∇²d(λ) on the tangent space {δ : Σ_k δ_k = 0}.
        """

    def combine(self, weights: np.ndarray, cuts: list[Cut]) -> tuple[Any, np.ndarray] | None:
        """A model whose losses are at most Σ_j w_j grad_j, and its losses.

        Since the losses are convex in the model, the combination Σ_j w_j h_j of
        the cuts' models qualifies.

        Parameters
        ----------
        weights : ndarray, shape (J,)
            Weights w ∈ Δ_J of the cuts.
        cuts : list of Cut, length J
            Cuts returned by :meth:`point` (their ``model`` may have been dropped).

        Returns
        -------
        (model, losses) or None
            The combined model and its losses, shape (K,); None if it cannot be built.
        """


def _qp_hull(V: np.ndarray, lam: np.ndarray, g: np.ndarray, B: np.ndarray):
    r"""The regularized Newton step restricted to conv(rows of V):
    :math:`\arg\max_{w\in\Delta_m} g\cdot(V^\top w-\lambda)
    - \tfrac12 (V^\top w-\lambda)^\top B (V^\top w-\lambda)` (B positive definite).

    Solved by Clarabel over the weights w. The step only proposes the next trial
    point: its accuracy never enters the certificates. Returns (λ', w) or None.
    """
    import clarabel
    from scipy import sparse

    m = V.shape[0]
    if m == 1:
        return V[0].copy(), np.ones(1)
    # Both matrices in compressed-column form from their index arrays (no dense
    # conversion): Q's upper triangle, column j holding rows 0..j; A's column j
    # holding 1 in row 0 (Σ w = 1) and −1 in row j + 1 (w_j ≥ 0).
    rows, cols = np.tril_indices(m)
    starts = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.arange(1, m + 1), out=starts[1:])
    Q = sparse.csc_matrix(((V @ B @ V.T)[cols, rows], cols, starts), shape=(m, m))
    signs = np.ones(2 * m)
    signs[1::2] = -1.0
    entries = np.zeros(2 * m, dtype=np.int64)
    entries[1::2] = np.arange(1, m + 1)
    A = sparse.csc_matrix((signs, entries, np.arange(0, 2 * m + 1, 2)), shape=(m + 1, m))
    b = np.zeros(m + 1)
    b[0] = 1.0
    cones = [clarabel.ZeroConeT(1), clarabel.NonnegativeConeT(m)]
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = 1e-13
    settings.max_iter = 100
    lin = V @ (g + B @ lam)
    sol = clarabel.DefaultSolver(Q, -lin, A, b, cones, settings).solve()
    w = np.clip(np.asarray(sol.x), 0.0, None)
    if not np.all(np.isfinite(w)) or w.sum() <= 0:
        return None
    # The interior-point answer resolves the objective, not the step: near the
    # optimum the step is many orders below the objective's scale. Re-solving the
    # KKT system on the face it found gives the step to linear-algebra accuracy.
    face = np.flatnonzero(w > 1e-9 * w.max())
    f = face.size
    kkt = np.zeros((f + 1, f + 1))
    kkt[:f, :f] = V[face] @ B @ V[face].T
    kkt[:f, f] = kkt[f, :f] = 1.0
    rhs = np.ones(f + 1)
    rhs[:f] = lin[face]
    polished = np.linalg.lstsq(kkt, rhs, rcond=None)[0][:f]
    if np.all(polished >= 0.0):
        w = np.zeros(m)
        w[face] = polished
    w /= w.sum()
    return w @ V, w


def _same_point(W: list[np.ndarray], v: np.ndarray) -> bool:
    return min(np.abs(np.array(W) - v).max(axis=1)) <= 1e-12


@dataclass
class NewtonAscent:
    """The state of one certified ascent max_{λ∈Λ} d(λ); :meth:`run` drives it.

    Regularized projected Newton steps on the concave d, with a cutting-plane
    fallback; every evaluation tightens the certificate
    d(λ) ≤ V ≤ max_{λ'∈Λ} λ'·L(h) (T5), and the ascent stops when the gap is
    at most ``tol``.

    Parameters
    ----------
    oracle : DualOracle
        The dual function d.
    mixtures : MixtureSet
        Λ; only its ``argmax_linear`` is used.
    tol : float
        The certified gap upper − lower at which the ascent stops.
    max_iter : int
        The iteration budget.
    progress : bool, default False
        Show a progress bar.
    desc : str, default "dual ascent"
        The progress bar's label.

    Attributes
    ----------
    lower : float
        After :meth:`run`, the best d(λ) seen, at ``lam``.
    lam : ndarray, shape (K,)
        The best mixture seen.
    upper : float
        The best σ_Λ(L(h)) seen, for ``model``, whose losses are ``losses``.
    model : object
        The best model seen.
    losses : ndarray, shape (K,)
        The losses of ``model``.
    iterations : int
        The Newton iterations taken (≤ ``max_iter``).
    history : list of (float, float)
        (lower, upper) at the start and after every iteration.

    Examples
    --------
    A toy dual: with scalar models h and losses L_k(h) = (h − a_k)², the inner
    minimum is h_λ = Σ_k λ_k a_k and d(λ) = Σ_k λ_k a_k² − (Σ_k λ_k a_k)², the
    variance of a under λ. Over the simplex it is largest on the two extreme
    points, V = (3 − 0)²/4.

    >>> import numpy as np
    >>> from theory.mixtures import Simplex
    >>> class Variance:
    ...     K = 3
    ...     a = np.array([0.0, 1.0, 3.0])
    ...     def losses(self, h):
    ...         return (h - self.a) ** 2
    ...     def point(self, lam):
    ...         h = float(lam @ self.a)
    ...         return Cut(lam, float(lam @ self.losses(h)), self.losses(h), model=h)
    ...     def hessian(self, cut):
    ...         return -2.0 * np.outer(self.a, self.a)
    ...     def combine(self, weights, cuts):
    ...         h = float(sum(w * (c.lam @ self.a) for w, c in zip(weights, cuts)))
    ...         return h, self.losses(h)
    >>> run = NewtonAscent(Variance(), Simplex(3), tol=1e-10, max_iter=50).run()
    >>> run.converged, round(run.lower, 6), round(run.upper, 6), run.lam
    (True, 2.25, 2.25, array([0.5, 0. , 0.5]))
    """

    oracle: DualOracle
    mixtures: Any
    tol: float
    max_iter: int
    progress: bool = False
    desc: str = "dual ascent"
    lower: float = -np.inf
    lam: np.ndarray | None = None
    upper: float = np.inf
    model: Any = None
    losses: np.ndarray | None = None
    iterations: int = 0
    history: list[tuple[float, float]] = field(default_factory=list)
    working_set: list[np.ndarray] = field(default_factory=list)
    cuts: deque = field(default_factory=deque)

    @property
    def gap(self) -> float:
        """The certified gap upper − lower (+inf before any finite bound)."""
        return self.upper - self.lower

    @property
    def converged(self) -> bool:
        """Whether the certified gap is at most ``tol``."""
        return bool(self.upper - self.lower <= self.tol)

    # -- certificates ---------------------------------------------------------

    def offer_model(self, model, losses: np.ndarray) -> None:
        """Record ``model`` as the primal answer if its worst case σ_Λ(losses) is the best.

        Parameters
        ----------
        model : object
            A candidate model h.
        losses : ndarray, shape (K,)
            Its losses; a model with an infinite loss is ignored.
        """
        if np.all(np.isfinite(losses)):
            up = float(self.mixtures.argmax_linear(losses)[0])
            if up < self.upper:
                self.upper, self.model, self.losses = up, model, losses

    def evaluate(self, lam: np.ndarray) -> Cut:
        """Evaluate d at λ, update both bounds, and keep the cut for the LP step.

        Parameters
        ----------
        lam : ndarray, shape (K,)
            A mixture of Λ.

        Returns
        -------
        Cut
            The oracle's cut at λ (with its model).
        """
        cut = self.oracle.point(lam)
        if cut.value > self.lower:
            self.lower, self.lam = cut.value, lam
        self.offer_model(cut.model, cut.grad)
        self.cuts.append(Cut(cut.lam, cut.value, cut.grad, token=cut.token))
        return cut

    # -- steps ----------------------------------------------------------------

    def _qp_step(self, lam: np.ndarray, g: np.ndarray, B: np.ndarray) -> np.ndarray | None:
        """The regularized Newton step over all of Λ by simplicial decomposition.

        The QP is solved over the hull of the working set W; the linear oracle at
        the QP's gradient then either certifies the answer for all of Λ or
        returns a point to add. W is pruned to the face of the answer. The
        oracle's Frank–Wolfe gap bounds how far the hull's answer is from the
        QP's optimum over Λ: once it is below _QP_RTOL of the predicted ascent
        the step is good enough (a polytope ends exactly after a few vertices; a
        smooth set, whose boundary no finite hull reaches, ends there).
        """
        W = self.working_set
        known, v = True, None
        for _ in range(_QP_ROUNDS * len(lam) + _QP_EXTRA):
            out = _qp_hull(np.array(W), lam, g, B)
            if out is None:
                return None
            nxt, w = out
            delta = nxt - lam
            slope = g - B @ delta
            top, v = self.mixtures.argmax_linear(slope)
            v = np.asarray(v, dtype=np.float64)
            known = _same_point(W, v)
            fw_gap = top - slope @ nxt
            pred = g @ delta - 0.5 * delta @ B @ delta
            if known or fw_gap <= max(1e-13 * max(1.0, np.abs(slope).max()), _QP_RTOL * pred):
                break
            W.append(v)
        W[:] = [W[j] for j in np.flatnonzero(w > 0)] + ([] if known else [v])
        return nxt

    def combine(self) -> np.ndarray | None:
        """Close the primal side with the cutting-plane model; return its maximizer.

        The LP max_{λ∈Λ} min_j λ·(grad_j − lower) over the kept cuts is solved
        over the hull of a working set of points of Λ that the linear oracle
        extends (column generation). Its duals μ ∈ Δ_J make Σ_j μ_j h_j a model
        whose worst case is at most the LP value (losses are convex): that model
        is offered as a primal answer. Its primal solution λ — the maximizer of
        the cutting-plane model of d (Kelley's step) — is returned as a trial
        point for the dual side. Both are certified afterwards, so an inexact
        LP only costs tightness.

        Returns
        -------
        ndarray, shape (K,) or None
            The maximizer of the cutting-plane model, or None when the LP fails
            or a kept cut has an infinite loss.
        """
        cuts = list(self.cuts)
        G = np.array([c.grad for c in cuts]) - self.lower
        if not np.all(np.isfinite(G)):
            return None
        W = [np.asarray(w, dtype=np.float64) for w in self.working_set] or [self.lam]
        mu = point = None
        for _ in range(_LP_ROUNDS):
            V = np.array(W)
            m = V.shape[0]
            A = np.hstack([-(G @ V.T), np.ones((G.shape[0], 1))])
            A_eq = np.zeros((1, m + 1))
            A_eq[0, :m] = 1.0
            res = linprog(
                np.r_[np.zeros(m), -1.0],
                A_ub=A,
                b_ub=np.zeros(G.shape[0]),
                A_eq=A_eq,
                b_eq=[1.0],
                bounds=[(0, None)] * m + [(None, None)],
                method="highs",
                options={
                    "primal_feasibility_tolerance": 1e-10,
                    "dual_feasibility_tolerance": 1e-10,
                },
            )
            if res.status != 0:
                break
            duals = np.clip(-res.ineqlin.marginals, 0.0, None)
            if duals.sum() <= 0:
                break
            mu = duals / duals.sum()
            w = np.clip(res.x[:m], 0.0, None)
            point = (w / w.sum()) @ V if w.sum() > 0 else None
            top, v = self.mixtures.argmax_linear(mu @ G)
            v = np.asarray(v, dtype=np.float64)
            if top <= -res.fun + 1e-12 * max(1.0, np.abs(G).max()) or _same_point(W, v):
                break
            W.append(v)
        if mu is None:
            return None
        out = self.oracle.combine(mu, cuts)
        if out is not None:
            self.offer_model(*out)
        return point

    def kelley_step(self, cur: Cut) -> Cut:
        """Combine the cuts (primal side) and evaluate d at the cutting-plane maximizer.

        Kelley's cutting-plane method converges for any concave d, so this step
        keeps the ascent going where the Newton model has nothing left to offer
        (a maximizer on a face where the curvature is unbounded, or rounding).

        Parameters
        ----------
        cur : Cut
            The current point of the ascent.

        Returns
        -------
        Cut
            The better of ``cur`` and the new point.
        """
        point = self.combine()
        if point is None or any(np.array_equal(point, c.lam) for c in self.cuts):
            return cur
        trial = self.evaluate(point)
        return trial if trial.value >= cur.value else cur

    def run(self) -> NewtonAscent:
        """Ascend until upper − lower ≤ tol or ``max_iter`` iterations.

        Starts at the barycentre of the points of Λ that maximize each λ_k.
        Each iteration takes a regularized projected Newton step; when that
        step would not move λ (it is below rounding), or after two iterations
        in a row without progress, it takes the cutting-plane step of
        :meth:`kelley_step` instead. An iteration makes progress when it
        shrinks the gap by more than 0.1 %; once more than 100 iterations in a
        row have made none, the ascent stops (it stalls). If the budget runs out
        or the ascent stalls, ``converged`` is false and the bounds reached so
        far are kept: they remain certified.

        Returns
        -------
        NewtonAscent
            ``self``, with ``lower``, ``upper``, ``lam``, ``model`` and
            ``history`` filled in.
        """
        K = self.oracle.K
        # The points maximizing λ_k, for each k: their barycenter weights every
        # domain that Λ can weight, and they seed the working set of the QPs.
        W = [np.asarray(self.mixtures.argmax_linear(e)[1], dtype=np.float64) for e in np.eye(K)]
        start = np.mean(W, axis=0)
        self.working_set = [
            w for j, w in enumerate(W) if not any(np.array_equal(w, u) for u in W[:j])
        ]
        self.cuts = deque(maxlen=_KEPT_CUTS * (K + 2))
        cur = self.evaluate(start / start.sum())
        self.history = [(self.lower, self.upper)]
        bar = tqdm(total=self.max_iter, desc=self.desc, disable=not self.progress, leave=False)
        mu = scale = None
        H = None
        idle = 0
        while self.iterations < self.max_iter and not self.converged:
            self.iterations += 1
            bar.update(1)
            gap = self.gap
            if H is None:
                H = self.oracle.hessian(cur)
                if scale is None:
                    scale = max(1.0, float(np.abs(H).max()), float(np.abs(cur.grad).max()))
                    mu = _MU_START * scale
            B = mu * np.eye(K) - H
            # Steps stay on Σλ = 1, so shifting g by a constant changes nothing but
            # the rounding: centered, g·δ is accurate even when δ is a few ulps of λ.
            g = cur.grad - cur.grad.mean()
            nxt = None if idle >= _IDLE_NEWTON else self._qp_step(cur.lam, g, B)
            delta = None if nxt is None else nxt - cur.lam
            if delta is None or np.all(
                np.abs(delta) <= _STEP_ULPS * np.maximum(np.abs(cur.lam), np.abs(nxt))
            ):
                # The Newton model has nothing left to offer (no step, or steps that
                # no longer shrink the gap): cutting planes close the primal side
                # and propose the next dual point (Kelley's method, which converges
                # for every concave d).
                nxt_cut = self.kelley_step(cur)
                if nxt_cut is not cur:
                    cur, H, mu = nxt_cut, None, _MU_START * scale
            else:
                pred = g @ delta - 0.5 * delta @ B @ delta
                trial = self.evaluate(nxt)
                noise = _NOISE * max(1.0, abs(cur.value))
                if pred <= noise:
                    # Below the rounding noise of d the ascent test is meaningless;
                    # there the quadratic model is accurate and its step is taken on
                    # trust, unless d visibly fell.
                    if trial.value >= cur.value - noise:
                        cur, H = trial, None
                    else:
                        mu *= 10.0
                else:
                    rho = (trial.value - cur.value) / pred
                    if trial.value >= cur.value:
                        cur, H = trial, None
                    if rho < 0.25:
                        mu *= 10.0
                    elif rho > 0.75:
                        mu = max(mu / 10.0, _MU_MIN * scale)
            if self.iterations % 10 == 0 and not self.converged:
                nxt_cut = self.kelley_step(cur)
                if nxt_cut is not cur:
                    cur, H = nxt_cut, None
            idle = 0 if self.gap < (1.0 - _PROGRESS) * gap else idle + 1
            self.history.append((self.lower, self.upper))
            if idle > _MAX_IDLE:
                break
        bar.close()
        if not self.converged:
            self.combine()
        return self
