r"""The conic reference for the robust gate: ``robust_gate(..., method="cvxpy")``.

An independent formulation of the robust value V*(Λ) (T4–T7), solved by
Clarabel through cvxpy, used to cross-check the dual solver. Notation: the K
domains D_k and experts p_k are distributions on a finite set X (rows of
(K, n) arrays); ℓ(x) = min_k p_k(x) and u(x) = max_k p_k(x) bound every model
of a normalized gate (T2); c_k are the offsets of the objective
(:mod:`theory.objectives`); Λ ⊆ Δ_K is the set of mixtures.

The problem is written in the logarithms of the model, y(x) = log q(x), on the
points X' where some domain that Λ can weight has mass: minimize s subject to
−Σ_{x∈X'} D_k(x) y(x) − c_k ≤ w_k for every active k, σ_Λ(w) ≤ s,
log Σ_{x∈X'} e^{y(x)} ≤ log(1 − Σ_{x∉X'} ℓ(x)) and log ℓ ≤ y ≤ log u:

.. math::
    \min_{y, w, s}\ s \quad\text{s.t.}\quad
    -\sum_{x\in X'} D_k(x)\,y(x) - c_k \le w_k \ (k \text{ active}),\quad
    \sigma_\Lambda(w) \le s,\quad
    \log\sum_{x\in X'} e^{y(x)} \le \log\Bigl(1 - \sum_{x\notin X'} \ell(x)\Bigr),\quad
    \log\ell \le y \le \log u .

The losses are then *linear* in y, and the envelope is a box in y, so
probabilities down to the smallest subnormal stay representable (their logs are
≥ −745); the mass constraint is one log-sum-exp (exponential cones). The
points outside X' carry no loss: they receive the remaining mass within
[ℓ, u] afterwards (always possible, since Σu ≥ 1). The support function
σ_Λ(w) = max_{λ∈Λ} λ·w is written by Λ itself through conic duality of the
inner maximization (``MixtureSet.support_cone``), so the problem grows with K,
not with the number of vertices of Λ; since Λ ⊆ Δ_K, σ_Λ is monotone, and the
multipliers of the loss constraints are a least-favorable mixture λ*.

The caller certifies the answer exactly (:func:`theory.minimax.robust_gate`):
d(λ*) ≤ V* ≤ σ_Λ(L(q)); a conic answer that disagrees with its own
certificate is reported as ``converged=False``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from theory._fill import to_envelope

__all__ = ["ConicAnswer", "solve_conic"]

# Below e^-800 a probability is 0 in float64: a bound for the y(x) that no
# envelope bounds from below, harmless because those points carry loss weight
# that pushes y up.
_LOG_FLOOR = -800.0


@dataclass(frozen=True)
class ConicAnswer:
    """The conic solver's model, mixture, optimal value, iteration count and status.

    Attributes
    ----------
    model : ndarray, shape (n,)
        The model q, moved into the envelope [ℓ, u] and normalized; NaN when
        the solver returned nothing.
    lam : ndarray, shape (K,) or None
        The normalized multipliers of the loss constraints, projected onto Λ:
        a least-favorable mixture λ*; None when the solver gave no duals.
    value : float
        The solver's optimal value (NaN when it failed).
    iterations : int
        The solver's iteration count.
    optimal : bool
        Whether cvxpy reported the status ``optimal``.
    status : str
        cvxpy's status, or the solver error.
    """

    model: np.ndarray
    lam: np.ndarray | None
    value: float
    iterations: int
    optimal: bool
    status: str


def solve_conic(D, P, c, mixtures, active) -> ConicAnswer:
    """Solve the log-domain conic formulation of V*(Λ) (see the module) on validated arrays.

    The caller (:func:`theory.minimax.robust_gate` with ``method="cvxpy"``)
    validates the inputs and certifies the answer.

    Parameters
    ----------
    D : ndarray, shape (K, n)
        The domains, validated.
    P : ndarray, shape (K, n)
        The experts, validated.
    c : ndarray, shape (K,)
        The offsets of the objective.
    mixtures : MixtureSet
        Λ; its ``support_cone`` writes σ_Λ.
    active : ndarray of bool, shape (K,)
        The domains some λ ∈ Λ weights (:meth:`~theory.mixtures.MixtureSet.support`).

    Returns
    -------
    ConicAnswer
        Never raises on a solver failure: ``optimal`` is then False.

    Examples
    --------
    >>> import numpy as np
    >>> from theory.mixtures import Simplex
    >>> from theory.objectives import get
    >>> D = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    >>> P = np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
    >>> c = get("divergence").offsets(D)
    >>> answer = solve_conic(D, P, c, Simplex(2), np.array([True, True]))
    >>> answer.optimal, round(answer.value, 5), answer.lam.round(3)
    (True, 0.23683, array([0.505, 0.495]))
    """
    import cvxpy as cp

    lo, hi = P.min(axis=0), P.max(axis=0)
    K, n = D.shape
    act = np.flatnonzero(active)
    keep = np.flatnonzero((D[act] > 0).any(axis=0))
    dropped = np.ones(n, bool)
    dropped[keep] = False
    room = 1.0 - float(lo[dropped].sum())
    T = D[np.ix_(act, keep)]
    with np.errstate(divide="ignore"):
        log_lo = np.maximum(np.log(lo[keep]), _LOG_FLOOR)
        log_hi = np.log(hi[keep])
    y = cp.Variable(keep.size)
    w = cp.Variable(K)
    s = cp.Variable()
    t, support = mixtures.support_cone(w)
    link = -(T @ y) - c[act] <= w[act]
    cons = [
        link,
        t <= s,
        *support,
        cp.log_sum_exp(y) <= np.log(room),
        y >= log_lo,
        y <= log_hi,
    ]
    prob = cp.Problem(cp.Minimize(s), cons)
    status = "not solved"
    for tol in (1e-10, 1e-8):
        try:
            # An inaccurate solve is reported through ``optimal``, not a warning.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                prob.solve(solver=cp.CLARABEL, tol_gap_abs=tol, tol_gap_rel=tol, tol_feas=tol)
            status = str(prob.status)
            if prob.status == cp.OPTIMAL:
                break
        except cp.error.SolverError as exc:
            status = f"solver error: {exc}"
    if y.value is None or prob.value is None:
        return ConicAnswer(np.full(n, np.nan), None, np.nan, 0, False, status)
    q = np.zeros(n)
    q[keep] = np.clip(np.exp(y.value), lo[keep], hi[keep])
    q[dropped] = lo[dropped]
    q = to_envelope(q, lo, hi)
    lam = None
    duals = link.dual_value
    if duals is not None:
        mu = np.zeros(K)
        mu[act] = np.clip(np.asarray(duals, dtype=np.float64).ravel(), 0.0, None)
        if np.all(np.isfinite(mu)) and mu.sum() > 0:
            lam = mixtures.project(mu / mu.sum())
    iters = int(getattr(prob.solver_stats, "num_iters", 0) or 0)
    return ConicAnswer(q, lam, float(prob.value), iters, prob.status == cp.OPTIMAL, status)
