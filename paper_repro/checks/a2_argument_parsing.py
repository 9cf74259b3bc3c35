"""Verify row A2: the command-line parsers and the checks of non-array arguments.

``modgate solve --mixtures`` and ``--objective`` describe Λ and the objective as
text; a parser that builds another set, or builds something from text it
should refuse, changes the answer without any error. The same holds for the
checks of arguments that are not stacks of distributions (lists of words,
gate objects, routers, gates with a negative entry, targets outside the
experts' support, models outside their envelope, allocations too large to make): each must accept what is
valid and refuse, naming the argument, what is not.
"""

from __future__ import annotations

import numpy as np

from paper_repro.checks import Outcome, check
from sims.distill import posterior_router, router_model
from sims.primal_dual import TabularGate, stochastic_primal_dual
from theory import objectives
from theory.best_response import best_response_gate
from theory.gates import check_gate, gate_for
from theory.minimax import water_fill
from theory.mixtures import Box, KLBall, L1Ball, L2Ball, Simplex, from_spec
from theory.validation import MAX_BYTES, check_allocation, check_strings


def _fails(call, *needles: str) -> bool:
    """Whether ``call()`` raises ValueError/TypeError whose message holds every needle."""
    try:
        call()
    except (ValueError, TypeError) as exc:
        return all(n in str(exc) for n in needles)
    return False


def _numbers(x) -> str:
    return ";".join(repr(float(v)) for v in x)


def _breaches(rng) -> int:
    """Breaches of the contract on one random instance."""
    breaches = 0
    K = int(rng.integers(2, 6))
    n = int(rng.integers(3, 9))
    c = rng.normal(size=K)
    lo = rng.dirichlet(np.ones(K)) * rng.uniform(0.0, 0.9)
    hi = np.minimum(1.0, lo + rng.uniform(0.1, 0.8, K))
    hi[int(rng.integers(K))] = 1.0
    center = rng.dirichlet(np.ones(K))
    r = float(rng.uniform(0.01, 1.0))
    b0, b1 = float(rng.uniform(0.0, 1.0 / K)), float(rng.uniform(1.0 / K, 1.0))
    pairs = [
        (f"box:{_numbers(lo)}/{_numbers(hi)}", Box(lo, hi)),
        (f"box:{_numbers(lo)},{_numbers(hi)}", Box(lo, hi)),
        (f" Box:{b0!r},{b1!r}", Box([b0] * K, [b1] * K)),
        (f"l1:{r!r}@{_numbers(center)}", L1Ball(center, r)),
        (f"kl:{r!r}", KLBall(np.full(K, 1.0 / K), r)),
        (f"l2:{r!r}@{_numbers(center)}", L2Ball(center, r)),
        ("simplex", Simplex(K)),
        (None, Simplex(K)),
    ]
    for spec, want in pairs:
        try:
            got = from_spec(spec, K)
            same = repr(got) == repr(want)
            same = same and abs(got.argmax_linear(c)[0] - want.argmax_linear(c)[0]) <= 1e-12
        except (ValueError, TypeError):
            same = False
        breaches += not same
    for bad in ("box:0.1", "box:0.1,0.2,0.3", f"l1:{r};{r}", "kl:0.1@0.5", "simplex:1", "cube"):
        breaches += not _fails(lambda bad=bad: from_spec(bad, K), "mixtures")
    offsets = rng.normal(size=K)
    D = rng.dirichlet(np.ones(n), size=K)
    P = rng.dirichlet(np.ones(n), size=K)
    try:
        obj = objectives.from_spec("offsets:" + _numbers(offsets))
        want = objectives.Objective.from_offsets(list(offsets))
        breaches += not np.array_equal(obj.offsets(D, P), want.offsets(D, P))
    except (ValueError, TypeError):
        breaches += 1
    breaches += not _fails(lambda: objectives.from_spec("nonsense:" + _numbers(offsets)))
    # lists of words and allocation sizes
    try:
        breaches += check_strings(["ab", "b"], "words") != ["ab", "b"]
    except (ValueError, TypeError):
        breaches += 1
    breaches += not _fails(lambda: check_strings("ab", "words"), "words")
    side = int(np.sqrt(MAX_BYTES / 8)) + 1
    breaches += not _fails(lambda: check_allocation((side, side), "grid"), "grid")
    try:
        check_allocation((side // 2, side // 2), "grid")
    except ValueError:
        breaches += 1
    # the first bad entry is the one named
    G = np.full((K, n), 0.5)
    G[0, 0] = 0.0
    k, x = int(rng.integers(1, K)), int(rng.integers(1, n))
    G[k, x] = -0.25
    breaches += not _fails(lambda: check_gate(G, P), "gate", "found -0.25")
    Q = P.copy()
    Q[:, x] = 0.0
    Q /= Q.sum(axis=1, keepdims=True)
    t = np.full(n, 1.0 / n)
    breaches += not _fails(lambda: water_fill(t, Q), "t", f"index {x}")
    # a domain with mass at x, where no expert has any, may not be weighted
    lam = rng.dirichlet(np.ones(K))
    breaches += not _fails(lambda: best_response_gate(D, Q, lam), "D")
    # a model outside the experts' envelope at one point of a long X (split into column
    # blocks) has no gate
    big = rng.dirichlet(np.ones(40000), size=2)
    q = big.mean(axis=0)
    y = int(rng.integers(40000))
    q[y] = 1.5 * big[:, y].max()
    q /= q.sum()
    if q[y] > big[:, y].max() * (1 + 1e-6):
        breaches += not _fails(lambda: gate_for(q, big), "q")
    # gate objects built for another problem
    for other in (TabularGate(K + 1, n), TabularGate(K, n + 1)):
        breaches += not _fails(
            lambda g=other: stochastic_primal_dual(D, P, gate=g, steps=1, reference=False),
            "gate",
        )
    # a router row with a negative entry
    words = sorted(
        {"".join(rng.choice(["a", "b"], size=int(rng.integers(0, 4)))) for _ in range(5)}
    )
    PW = rng.dirichlet(np.ones(len(words)), size=K)
    router = posterior_router(words, PW, rng.dirichlet(np.ones(K)))
    bad = router.copy()
    bad[0, 0] += 0.5
    bad[0, 1] -= 0.5 + bad[0, 1]
    bad[0, 0] -= bad[0].sum() - 1.0
    breaches += not _fails(lambda: router_model(words, PW, bad), "router")
    return breaches


@check(
    "A2",
    "argument parsing: the text forms of Λ and of the objective build exactly the set and "
    "the objective they describe and refuse malformed text; lists of words, gate objects, "
    "routers, gates, targets and allocations are accepted iff valid, and a refusal names "
    "the argument and the offending entry",
    0.0,
    method="mixtures.from_spec of box (both separators, per-domain and common bounds), "
    "l1/kl/l2 (with and without a centre) against the sets built directly (same repr and "
    "same σ_Λ(c)); malformed forms refused naming mixtures; objectives.from_spec of "
    "offsets:c against Objective.from_offsets and of an unknown name with a colon refused; "
    "check_strings of a list and of a bare string; check_allocation below and above "
    "MAX_BYTES; check_gate and water_fill name the index of the first bad entry; "
    "best_response_gate refuses a λ that weights a domain with mass where no expert has "
    "any; stochastic_primal_dual refuses a gate object made for other K or n; router_model "
    "refuses a router row with a negative entry that still sums to 1; gate_for refuses a model "
    "outside the experts' envelope at one point of |X| = 40000; the count of breaches.",
    measure="count",
    instances="K uniform in 2..5, n in 3..8, random bounds, radii, centres, offsets and "
    "Dirichlet experts; tries of random words over {a, b}.",
)
def a2_parsing(rng, trials):
    return Outcome(trials, float(sum(_breaches(rng) for _ in range(trials))))
