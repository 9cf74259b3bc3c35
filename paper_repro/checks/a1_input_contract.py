"""Verify row A1: the input contract of the public functions.

Every public function validates its input: a stack of distributions is accepted
exactly when its rows are real, finite, non-negative and sum to 1 within 1e-9;
anything else raises ValueError (or TypeError) whose message names the
argument. A validation that accepts a bad row lets NaN or a wrong answer
through every result downstream, so the row checks the contract on the entry
points the theorems are computed with.
"""

from __future__ import annotations

import numpy as np

from paper_repro.checks import Outcome, check
from paper_repro.checks._instances import DESCRIPTION, instances
from sims.generalization import generalization_gaps
from theory.bounds import skewness
from theory.capacity import blahut_arimoto
from theory.divergences import jsd, kl, kl_rows, mixture
from theory.minimax import fixed_mixture, robust_gate
from theory.validation import SUM_TOL, check_distribution, check_stack


def _corruptions(rng, A: np.ndarray):
    """(description, bad array, broken row or None) triples: one row of A broken in one way."""
    K, n = A.shape
    k = int(rng.integers(K))
    x = int(rng.integers(n))
    out = []
    for what, value in (
        ("sum off by 1e-7", None),
        ("a NaN", np.nan),
        ("an infinity", np.inf),
    ):
        B = A.copy()
        if value is None:
            B[k, x] += 1e-7
        else:
            B[k, x] = value
        out.append((what, B, k))
    if n > 1:
        B = A.copy()
        y = (x + 1) % n
        B[k, x], B[k, y] = -1e-3, B[k, y] + B[k, x] + 1e-3  # still sums to 1
        out.append(("a negative entry", B, k))
    out.append(("complex entries", A.astype(np.complex128), k))
    out.append(("one dimension too few", A[0], None))
    out.append(("one dimension too many", A[None], None))
    return out


def _rejects(call, name: str) -> bool:
    """Whether ``call()`` raises ValueError/TypeError whose message starts with ``name``."""
    try:
        call()
    except (ValueError, TypeError) as exc:
        return str(exc).startswith(f"{name}:") or f" {name}:" in str(exc)
    return False


@check(
    "A1",
    "input contract: a stack of distributions is accepted iff its rows are real, finite, "
    "≥ 0 and sum to 1 within 1e-9; otherwise ValueError/TypeError naming the argument",
    0.0,
    method="valid stacks (and the same with rounding of 0.1·1e-9 in a row sum) must be "
    "accepted unchanged by check_stack, check_distribution and kl_rows/jsd/mixture; each "
    "corruption of one row (sum off by 1e-7, NaN, ∞, a negative entry with the sum kept, "
    "complex dtype, wrong number of dimensions) must be rejected by check_stack, kl_rows, "
    "jsd, mixture, fixed_mixture, robust_gate and blahut_arimoto with a message that "
    "starts with the argument's name; skewness (T11) must reject sample sizes that are "
    "infinite, zero or not one per domain (naming m) and give the same value for sizes scaled "
    "up to 1e300 and 1.7e308 (it depends on the proportions only); generalization_gaps must reject training "
    "proportions m̄ of the wrong length or with a negative entry (naming mbar); the count "
    "of contract breaches.",
    measure="count",
    instances=DESCRIPTION + "; the corrupted row and point drawn at random",
)
def a1_contract(rng, trials):
    breaches = 0
    count = 0
    for _family, D, P in instances(rng, trials):
        K, n = D.shape
        lam = rng.dirichlet(np.ones(K))
        q = P[0]
        near = D.copy()
        near[int(rng.integers(K))] *= 1.0 + 0.1 * SUM_TOL
        for A in (D, near):
            try:
                same = np.array_equal(check_stack(A, "D"), A)
                same = same and np.array_equal(check_distribution(A[0], "p"), A[0])
                kl_rows(A, q)
                jsd(lam, A)
                mixture(lam, A)
            except (ValueError, TypeError):
                same = False
            breaches += not same
        for _what, bad, k in _corruptions(rng, D):
            calls = [
                (lambda b=bad: check_stack(b, "D"), "D"),
                (lambda b=bad, q=q: kl_rows(b, q), "D"),
                (lambda b=bad, lam=lam: jsd(lam, b), "D"),
                (lambda b=bad, lam=lam: mixture(lam, b), "D"),
                (lambda b=bad, lam=lam, D=D: fixed_mixture(D, b, lam), "P"),
                (lambda b=bad, P=P: robust_gate(b, P), "D"),
                (lambda b=bad: blahut_arimoto(b), "D"),
            ]
            if k is not None:
                calls.append((lambda b=bad, k=k, q=q: kl(b[k], q), "p"))
            breaches += sum(not _rejects(call, name) for call, name in calls)
        # the bounds of T11 need positive finite sample sizes, one per domain
        for m in (np.r_[np.inf, np.ones(K - 1)], np.r_[0.0, np.ones(K - 1)], np.ones(K + 1)):
            breaches += not _rejects(lambda m=m, lam=lam: skewness(lam, m), "m")
        # ... and accept any finite positive sizes: the skewness depends on the proportions
        # m/Σm only, so scaling m up to the largest floats leaves it unchanged
        m = rng.integers(1, 1000, K).astype(float)
        for scale in (1e300 / m.max(), 1.7e308 / m.max()):
            try:
                big = skewness(lam, m * scale)
                breaches += not np.isclose(big, skewness(lam, m), rtol=1e-12, atol=0)
            except (ValueError, TypeError, ArithmeticError):
                breaches += 1
        # the learning study validates its own arguments before any work
        bad_mbar = (np.full(K + 1, 1.0 / (K + 1)), np.r_[2.0, -np.ones(K - 1)])
        size = max(K, 4)
        for mbar in bad_mbar if K > 1 else bad_mbar[:1]:
            breaches += not _rejects(
                lambda mbar=mbar, D=D, P=P, lam=lam, m=size: generalization_gaps(
                    D, P, lam, [m], mbar=mbar, draws=1
                ),
                "mbar",
            )
        count += 1
    return Outcome(count, float(breaches))
