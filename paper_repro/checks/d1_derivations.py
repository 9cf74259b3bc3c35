"""Verify row D1: the symbolic checker behind the derivations can fail.

Several rows carry a sympy derivation (``theory.symbolic``) that must hold for
the row to pass. That is only worth something if the checker says "does not
hold" when a step is wrong. D1 builds a true chain of equalities, written out
here in plain sympy (the compensation identity of T1 for two domains on two
points), checks that :func:`theory.symbolic.chain` confirms it, then changes
one link at random and checks that the derivation fails and reports a nonzero
residual exactly at the links next to the changed step.
"""

from __future__ import annotations

import sympy as sp

from paper_repro.checks import Outcome, check
from theory import symbolic

#: Sympy calls are slow; the row's size does not grow with --trials beyond this.
MAX_TRIALS = 3


def _compensation_chain():
    """Σ_k λ_k KL(D_k‖q) = JSD_λ(D) + KL(D_λ‖q) for K = 2, n = 2, as four equal expressions."""
    d = sp.symbols("d11 d12 d21 d22", positive=True)
    D = ((d[0], d[1]), (d[2], d[3]))
    lam1, q1 = sp.symbols("l q", positive=True)
    lam, q = (lam1, 1 - lam1), (q1, 1 - q1)
    m = [lam[0] * D[0][x] + lam[1] * D[1][x] for x in range(2)]
    lhs = sum(lam[k] * D[k][x] * sp.log(D[k][x] / q[x]) for k in range(2) for x in range(2))
    split = sum(
        lam[k] * D[k][x] * (sp.log(D[k][x] / m[x]) + sp.log(m[x] / q[x]))
        for k in range(2)
        for x in range(2)
    )
    regroup = sum(
        lam[k] * D[k][x] * sp.log(D[k][x] / m[x]) for k in range(2) for x in range(2)
    ) + sum((lam[0] * D[0][x] + lam[1] * D[1][x]) * sp.log(m[x] / q[x]) for x in range(2))
    rhs = sum(lam[k] * D[k][x] * sp.log(D[k][x] / m[x]) for k in range(2) for x in range(2)) + sum(
        m[x] * sp.log(m[x] / q[x]) for x in range(2)
    )
    steps = [("insert D_λ(x) inside the log", split), ("regroup the second sum", regroup)]
    return sp.Eq(lhs, rhs, evaluate=False), steps


@check(
    "D1",
    "the symbolic checker confirms a true chain of equalities and rejects it when one step "
    "is changed, naming the links around that step",
    0.0,
    method="theory.symbolic.chain on the compensation identity of T1 (K = 2, n = 2) written "
    "out in plain sympy: it must hold with all residuals 0; then one step, chosen at random, "
    "gets a random nonzero rational added: the derivation must not hold, the residuals of the "
    "two links touching that step must be nonzero and every other residual 0. The measure is "
    "the number of these expectations that fail.",
    measure="count",
    instances=f"min(trials, {MAX_TRIALS}) random choices of the changed step and the rational "
    "(numerator 1..9, denominator 2..1000).",
)
def d1_checker_can_fail(rng, trials):
    equation, steps = _compensation_chain()
    breaches = 0
    good = symbolic.chain("compensation identity (K = 2, n = 2)", equation, steps)
    breaches += (not good) + sum(r != 0 for r in good.residuals)
    count = min(trials, MAX_TRIALS)
    for _ in range(count):
        j = int(rng.integers(len(steps)))
        slip = sp.Rational(int(rng.integers(1, 10)), int(rng.integers(2, 1001)))
        changed = [
            (label, expr + slip) if i == j else (label, expr)
            for i, (label, expr) in enumerate(steps)
        ]
        bad = symbolic.chain("a changed step", equation, changed)
        # residual i is the link from expression i to expression i + 1 of lhs, steps, rhs:
        # step j is expression j + 1, so links j and j + 1 touch it
        touched = {j, j + 1}
        breaches += bool(bad)
        breaches += sum((r != 0) != (i in touched) for i, r in enumerate(bad.residuals))
    return Outcome(count, float(breaches))
