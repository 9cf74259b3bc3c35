"""Verify row T5c: the certified ascent engine behind the minimax solvers.

:class:`theory.NewtonAscent` maximizes a concave dual function d over Λ with
certified bounds d(λ) ≤ V ≤ σ_Λ(L(h)) (T5); ``robust_gate`` and the group-DRO
comparator run on it. Its answers are certified whatever path it takes, so the
other rows cannot see a step that is wrong but harmless to the answer. This
row checks the steps themselves against what ``NewtonAscent`` documents, on
toy duals whose answers are known in closed form and with LPs solved by HiGHS
(scipy) as the independent reference:

* the cutting-plane step (:meth:`~theory.NewtonAscent.combine`) maximizes the
  cutting-plane model min_j λ·(g_j − lower) over all of Λ, and its duals μ ∈ Δ_J
  certify that value: σ_Λ(Σ_j μ_j (g_j − lower)) equals it (strong duality);
* a Newton step that would not move λ is replaced by a cutting-plane step in
  the same iteration (on d(λ) = min(λ_1, λ_2), whose curvature is unbounded at
  its maximizer);
* an ascent that can no longer make progress (gap exactly 0, tol < 0) stops
  after 101 idle iterations, before its budget, unconverged, with its bounds.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from scipy.optimize import linprog

from paper_repro.checks import Outcome, check
from theory import Cut, NewtonAscent
from theory.mixtures import Box, Simplex

#: An iteration makes progress when it shrinks the gap by more than this (documented).
PROGRESS = 1e-3
#: The ascent stops once more than this many iterations in a row made no progress.
MAX_IDLE = 100


class Kink:
    """d(λ) = min(λ_1, λ_2): models h ∈ [0, 1] with losses (h, 1 − h), V = ½ at (½, ½).

    The reported curvature, −10³⁰ along the tangent, makes the Newton step at the
    maximizer about 10⁻³¹: far below the resolution of λ.
    """

    K = 2

    @staticmethod
    def losses(h):
        return np.array([h, 1.0 - h])

    @staticmethod
    def best(lam):
        return 1.0 if lam[1] > lam[0] else 0.0

    def point(self, lam):
        g = self.losses(self.best(lam))
        return Cut(lam, float(lam @ g), g, model=self.best(lam))

    def hessian(self, cut):
        return -1e30 * np.array([[1.0, -1.0], [-1.0, 1.0]])

    def combine(self, weights, cuts):
        h = float(sum(w * self.best(c.lam) for w, c in zip(weights, cuts, strict=True)))
        return h, self.losses(h)


class Variance:
    """d(λ) = Var_λ(a) for a = (0, 1, 3): models h ∈ R, losses (h − a_k)²; V = 9/4 at (½, 0, ½)."""

    K = 3
    a = np.array([0.0, 1.0, 3.0])

    def losses(self, h):
        return (h - self.a) ** 2

    def point(self, lam):
        h = float(lam @ self.a)
        return Cut(lam, float(lam @ self.losses(h)), self.losses(h), model=h)

    def hessian(self, cut):
        return -2.0 * np.outer(self.a, self.a)

    def combine(self, weights, cuts):
        h = float(sum(w * (c.lam @ self.a) for w, c in zip(weights, cuts, strict=True)))
        return h, self.losses(h)


class WeightRecorder:
    """The part of a dual oracle that ``combine`` calls: it records the cut weights μ."""

    def __init__(self, K: int):
        self.K = K
        self.weights = None

    def combine(self, weights, cuts):
        self.weights = np.asarray(weights, dtype=np.float64).copy()


def box_lp(G: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """max_λ min_j λ·G_j over {lo ≤ λ ≤ hi, Σλ = 1}, one LP in (λ, z) solved by HiGHS."""
    J, K = G.shape
    res = linprog(
        np.r_[np.zeros(K), -1.0],
        A_ub=np.hstack([-G, np.ones((J, 1))]),
        b_ub=np.zeros(J),
        A_eq=np.r_[np.ones(K), 0.0][None, :],
        b_eq=[1.0],
        bounds=[*zip(lo, hi, strict=True), (None, None)],
        method="highs",
    )
    return -res.fun if res.status == 0 else np.nan


def box_support(c: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """max_{λ∈Box} c·λ by HiGHS."""
    res = linprog(
        -c, A_eq=np.ones((1, c.size)), b_eq=[1.0], bounds=list(zip(lo, hi, strict=True)),
        method="highs",
    )  # fmt: skip
    return -res.fun if res.status == 0 else np.nan


def kelley_instance(rng, value: float):
    """One cutting-plane step on a random box with J = 6 cuts whose LP value is ``value``.

    Returns (lo, hi, G, point, mu): the box, the cuts' gradients minus ``lower``, the
    point ``combine`` returned and the cut weights μ it offered (None if it offered none).
    """
    K, J = 4, 6
    lo = rng.uniform(0.0, 0.15, K)
    hi = np.minimum(1.0, lo + rng.uniform(0.3, 0.7, K))
    Lam = Box(lo, hi)
    lams = rng.dirichlet(np.ones(K), size=J)
    G = rng.normal(size=(J, K))
    # Σλ = 1 on Λ, so a constant added to G moves the LP value by the same constant
    G += value - box_lp(G, lo, hi)
    lower = float(rng.normal())
    oracle = WeightRecorder(K)
    ascent = NewtonAscent(oracle, Lam, tol=1e-9, max_iter=1)
    ascent.lower, ascent.lam = lower, Lam.project(lams[0])
    ascent.cuts = deque(Cut(lam, lower, g + lower) for lam, g in zip(lams, G, strict=True))
    # the working set run() starts from: the points of Λ that maximize each λ_k
    ascent.working_set = [np.asarray(Lam.argmax_linear(e)[1], float) for e in np.eye(K)]
    point = ascent.combine()
    return lo, hi, G, point, oracle.weights


def kelley_errors(rng, value: float) -> float:
    """The largest violation of the cutting-plane step's contract on one random box."""
    lo, hi, G, point, mu = kelley_instance(rng, value)
    if point is None or mu is None or mu.shape != (G.shape[0],):
        return np.inf
    return max(
        float(np.maximum(lo - point, 0).max()),
        float(np.maximum(point - hi, 0).max()),
        abs(float(point.sum()) - 1.0),
        max(0.0, value - float((point @ G.T).min())),  # the point attains the LP value
        float(np.maximum(-mu, 0).max()),
        abs(float(mu.sum()) - 1.0),
        max(0.0, box_support(mu @ G, lo, hi) - value),  # the duals certify it
    )


def first_iteration_on_kink() -> list[tuple[str, np.ndarray | None]]:
    """What the first iteration of a NewtonAscent on :class:`Kink` does, in order:
    ``("cutting plane", None)`` for a cutting-plane step and ``("evaluate", λ)`` for
    each evaluation of d, recorded by a subclass that spies on both."""
    log = []

    class Spy(NewtonAscent):
        def kelley_step(self, cur):
            log.append(("cutting plane", self.iterations, None))
            return super().kelley_step(cur)

        def evaluate(self, lam):
            log.append(("evaluate", self.iterations, np.array(lam, copy=True)))
            return super().evaluate(lam)

    Spy(Kink(), Simplex(2), tol=1e-12, max_iter=1).run()
    return [(kind, lam) for kind, it, lam in log if it == 1]


def null_step_error() -> float:
    """0 if the first iteration on the kink skips the null Newton step and takes the
    cutting-plane step to the vertex e_2 (its LP over the one cut); else 1."""
    first = first_iteration_on_kink()
    start = np.array([0.5, 0.5])
    wasted = any(
        kind == "evaluate" and np.abs(lam - start).max() <= 4 * np.finfo(float).eps
        for kind, lam in first
    )
    vertex = any(kind == "evaluate" and np.array_equal(lam, [0.0, 1.0]) for kind, lam in first)
    return float(wasted or not first or first[0][0] != "cutting plane" or not vertex)


def stall_error(budget: int = 10 * MAX_IDLE) -> float:
    """0 if an ascent whose gap reaches exactly 0 with tol < 0 stops after MAX_IDLE + 1
    idle iterations (idle count re-derived from its history), before its budget,
    unconverged, with both bounds at V = 9/4; else 1."""
    run = NewtonAscent(Variance(), Simplex(3), tol=-1.0, max_iter=budget).run()
    gaps = [up - lo for lo, up in run.history]
    idle = 0
    for before, after in zip(gaps[:-1], gaps[1:], strict=True):
        idle = 0 if after < (1.0 - PROGRESS) * before else idle + 1
    ok = (
        not run.converged
        and run.lower == run.upper == 2.25
        and idle == MAX_IDLE + 1
        and run.iterations == len(gaps) - 1 < budget
    )
    return float(not ok)


@check(
    "T5c",
    "the certified ascent engine (NewtonAscent) takes the steps it documents: its "
    "cutting-plane step maximizes the cutting-plane model over all of Λ and its duals "
    "certify the value; a Newton step too small to move λ is replaced by a cutting-plane "
    "step; an ascent without progress stops after 101 idle iterations",
    1e-9,
    method="combine() on random boxes against one LP over all of Λ solved by scipy's "
    "HiGHS (point in Λ, attaining the LP value; μ ∈ Δ_J with σ_Λ(Σ_j μ_j(g_j − lower)) "
    "equal to it), for LP values +1 and −1; run() on d(λ) = min(λ_1, λ_2) (spying on "
    "kelley_step and evaluate: no evaluation at the unmoved point, the vertex e_2 "
    "evaluated in the first iteration); run() on d(λ) = Var_λ(0, 1, 3) with tol = −1 "
    "(gap exactly 0 once V = 9/4 is reached): the idle count re-derived from the history "
    "must be 101 and the budget of 1000 unspent. Error: the largest violation (1 for a "
    "failed step rule).",
    instances="per trial one random box (K = 4, J = 6 cuts, bounds lo ∈ [0, 0.15], "
    "hi − lo ∈ [0.3, 0.7]) with LP value +1 or −1 (alternating); the two toy duals once.",
)
def t5c_ascent_engine(rng, trials):
    worst = max(null_step_error(), stall_error())
    for t in range(trials):
        worst = max(worst, kelley_errors(rng, 1.0 if t % 2 == 0 else -1.0))
    return Outcome(trials, float(worst))
