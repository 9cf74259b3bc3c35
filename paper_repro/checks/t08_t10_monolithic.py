"""Verify rows T8 (modular advantage), T9 (JSD gap of aggregate retraining) and T10 (safety).

T9 is checked on the three families of ``theory.monolithic``: ``product``
(random product domains and arbitrary sequence laws), ``markov:r`` (random
Markov domains), the separable limit and the convex class ``full``. Moment
matching (the window marginals of h_λ equal those of D_λ) is checked alongside
the identity, so a wrong projection cannot pass by satisfying it vacuously.
"""

from __future__ import annotations

import numpy as np

from paper_repro.checks import Outcome, check
from sims.adversarial import FAMILIES, pair
from sims.domains import (
    dirichlet_domains,
    markov_domains,
    noisy_experts,
    product_domains,
    separable_domains,
)
from sims.monolithic import (
    compare_to_robust,
    group_dro,
    regmix,
    train_monolithic,
    uniform_mixing,
    worst_case,
)
from theory import objectives, symbolic
from theory.divergences import entropy, jsd, kl, mixture
from theory.minimax import fixed_mixture, robust_gate, water_fill
from theory.mixtures import Box, L1Ball, Simplex
from theory.monolithic import (
    aggregate,
    expert_error,
    interference,
    jsd_gap,
    product_interference,
    window_marginals,
)

OBJECTIVES = tuple(objectives.names())
_EXPERTS = (
    "the adversarial families of sims.adversarial in turn (zeros, disjoint supports, a "
    "dominated domain, duplicated domains, perfect experts, useless experts, tiny "
    "probabilities, K = 1, n = 1), the random family as Dirichlet domains (separation in "
    "[0, 4]) with noisy experts; K ≤ 5, n < 40"
)


def _sequence_law(rng, K: int, T: int, V: int) -> np.ndarray:
    """K arbitrary laws on V^T, half of their points set to 0 (not products, not chains)."""
    D = rng.dirichlet(np.full(V**T, 0.6), size=K) * (rng.random((K, V**T)) < 0.5)
    D[np.arange(K), rng.integers(0, V**T, K)] += 0.2
    return D / D.sum(axis=1, keepdims=True)


def _moment_gap(D: np.ndarray, lam: np.ndarray, h: np.ndarray, shape, r: int) -> float:
    """max |μ(h) − μ(D_λ)| over the window marginals of order r (moment matching)."""
    target = window_marginals(mixture(lam, D)[None, :], shape, r)
    model = window_marginals(h[None, :], shape, r)
    return max(float(np.abs(a - b).max()) for a, b in zip(target, model, strict=True))


def _experts(rng, t: int):
    """(D, P) pairs: the adversarial families of sims.adversarial in turn, the "random"
    family as Dirichlet domains with noisy experts."""
    family = FAMILIES[t % len(FAMILIES)]
    K = int(rng.integers(1, 6))
    n = int(rng.integers(K + 1, 40))
    if family == "random":
        D = dirichlet_domains(K, n, float(rng.uniform(0.0, 4.0)), seed=int(rng.integers(2**31)))
        return D, noisy_experts(D, float(rng.uniform(0.05, 1.0)), seed=int(rng.integers(2**31)))
    return pair(rng, family, K, n)


def _mixture_set(rng, K: int):
    kind = int(rng.integers(3))
    if kind == 0 or K == 1:
        return Simplex(K)
    if kind == 1:
        # a box around a random point of the simplex, so it meets the simplex
        inner = rng.dirichlet(np.ones(K))
        return Box(inner * rng.random(K), np.minimum(1.0, inner + rng.uniform(0.05, 0.5, K)))
    return L1Ball(rng.dirichlet(np.ones(K)), float(rng.uniform(0.05, 1.5)))


@check(
    "T8",
    "modular advantage: KL(D_λ‖q*_λ) ≤ KL(D_λ‖Σ_k λ_k p_k) ≤ ε_λ = Σ_k λ_k KL(D_k‖p_k)",
    1e-10,
    method="the water-filled model of fixed_mixture, the averaged experts and the "
    "experts' own errors, each KL computed by kl; both inequalities, error relative to "
    "max(1, ε_λ).",
    instances=_EXPERTS,
)
def t8_modular_advantage(rng, trials):
    worst = 0.0
    for t in range(trials):
        D, P = _experts(rng, t)
        lam = rng.dirichlet(np.ones(D.shape[0]))
        modular = kl(mixture(lam, D), fixed_mixture(D, P, lam).model)
        averaged = kl(mixture(lam, D), mixture(lam, P))
        eps = expert_error(D, P, lam)
        scale = max(1.0, eps)
        worst = max(worst, (modular - averaged) / scale, (averaged - eps) / scale)
    return Outcome(trials, max(worst, 0.0))


@check(
    "T9",
    "product class: KL(D_λ‖h_λ) = H(h_λ) − Σλ_k H(D_k) − JSD_λ = Σ_t JSD_λ(D^(t)) − JSD_λ",
    1e-10,
    method="jsd_gap's two sides, moment matching of the aggregate (its marginals equal "
    "those of D_λ), and on product domains the closed form product_interference; error "
    "relative to max(1, |lhs|).",
    instances="random product domains (separation in [0, 4], some with separation 0: "
    "identical domains) and arbitrary laws on V^T with half their points 0; K ∈ 1..4, "
    "T ∈ 1..5, V ∈ 2..4",
    derivation=symbolic.t9_product_jsd_gap,
)
def t9_product(rng, trials):
    """Random product domains (closed form too) and arbitrary laws with zeros on V^T."""
    worst = 0.0
    for t in range(trials):
        K, T, V = int(rng.integers(1, 5)), int(rng.integers(1, 6)), int(rng.integers(2, 5))
        shape = (T, V)
        if t % 2:
            D = _sequence_law(rng, K, T, V)
        else:
            sep = 0.0 if t % 6 == 4 else float(rng.uniform(0.0, 4.0))
            D = product_domains(K, T, V, separation=sep, seed=int(rng.integers(2**31)))
        lam = rng.dirichlet(np.ones(K))
        lhs, rhs = jsd_gap(D, lam, "product", shape)
        h = aggregate(D, lam, "product", shape)
        err = max(abs(lhs - rhs), _moment_gap(D, lam, h, shape, 0))
        if t % 2 == 0:
            err = max(err, abs(lhs - product_interference(D, lam, shape)))
        worst = max(worst, err / max(1.0, abs(lhs)))
    return Outcome(trials, worst)


@check(
    "T9b",
    "markov:r on Markov domains: T9 identity, moment matching; projected experts: "
    "KL(D_λ‖q*_λ) ≤ ε_λ = Σλ_k [H(p_k) − H(D_k)]",
    1e-10,
    method="for every order r' ≤ T − 1: the two sides of T9, moment matching of order r', "
    "the experts' error against its entropy form, the modular model's KL against ε_λ, and "
    "projections of order ≥ r equal to the domains; error relative to max(1, |lhs|).",
    instances="random Markov domains of order r ∈ 1..T−1 (K ∈ 1..4, T ∈ 2..5, V ∈ 2..3)",
)
def t9_markov(rng, trials):
    """Domains of order r, projected on every order r' ≤ T − 1 (r' ≥ r: no interference);
    experts = the domains' own projections on the class, as small as the monolithic model."""
    worst = 0.0
    for _ in range(trials):
        K, T, V = int(rng.integers(1, 5)), int(rng.integers(2, 6)), int(rng.integers(2, 4))
        r = int(rng.integers(1, T))
        D = markov_domains(K, T, V, r, float(rng.uniform(0, 4)), seed=int(rng.integers(2**31)))
        lam = rng.dirichlet(np.ones(K))
        for order in range(T):
            family = f"markov:{order}"
            lhs, rhs = jsd_gap(D, lam, family, (T, V))
            h = aggregate(D, lam, family, (T, V))
            err = max(abs(lhs - rhs), _moment_gap(D, lam, h, (T, V), order))
            P = np.stack([aggregate(D[k : k + 1], [1.0], family, (T, V)) for k in range(K)])
            eps = expert_error(D, P, lam)
            entropy_gap = sum(lam[k] * (entropy(P[k]) - entropy(D[k])) for k in range(K))
            modular = kl(mixture(lam, D), fixed_mixture(D, P, lam).model)
            err = max(err, abs(eps - entropy_gap), modular - eps)
            if order >= r:
                # each domain lies in the class: its own projection is itself
                err = max(err, float(np.abs(P - D).max()))
            worst = max(worst, err / max(1.0, abs(lhs)))
    return Outcome(trials, worst)


@check(
    "T9c",
    "separable limit: I(λ) = (T − 1)·H(λ) while the modular model pays 0",
    1e-10,
    method="interference against (T − 1)·H(λ), JSD_λ against H(λ) (disjoint supports) and "
    "the modular model's KL against 0; error relative to max(1, (T − 1)H(λ)).",
    instances="separable_domains (disjoint symbol sets), K ∈ 1..4, T ∈ 1..6",
)
def t9_separable(rng, trials):
    worst = 0.0
    for _ in range(trials):
        K, T = int(rng.integers(1, 5)), int(rng.integers(1, 7))
        V = int(rng.integers(K, K + 3))
        D = separable_domains(K, T, V, seed=int(rng.integers(2**31)))
        lam = rng.dirichlet(np.ones(K))
        limit = (T - 1) * entropy(lam)
        modular = kl(mixture(lam, D), fixed_mixture(D, D, lam).model)
        err = max(
            abs(interference(D, lam, "product", (T, V)) - limit),
            abs(jsd(lam, D) - entropy(lam)),
            abs(modular),
        )
        worst = max(worst, err / max(1.0, limit))
    return Outcome(trials, worst)


@check(
    "T9d",
    "full class H = Δ(X): h_λ = D_λ, zero interference, both sides of T9 vanish",
    1e-12,
    method="aggregate against the mixture computed by mixture, interference and both "
    "sides of jsd_gap against 0; absolute error.",
    instances="Dirichlet domains and laws with half their points 0, K ∈ 1..5, n ∈ 1..59",
)
def t9_full(rng, trials):
    worst = 0.0
    for t in range(trials):
        K, n = int(rng.integers(1, 6)), int(rng.integers(1, 60))
        D = _sequence_law(rng, K, 1, n) if t % 2 else rng.dirichlet(np.ones(n), size=K)
        lam = rng.dirichlet(np.ones(K))
        lhs, rhs = jsd_gap(D, lam, "full")
        err = max(
            float(np.abs(aggregate(D, lam, "full") - mixture(lam, D)).max()),
            abs(interference(D, lam, "full")),
            abs(lhs),
            abs(rhs),
        )
        worst = max(worst, err)
    return Outcome(trials, worst)


@check(
    "T10",
    "safety: every h ∈ M has max_{λ∈Λ} L(h, λ) ≥ V*(Λ) (the experts and random points of M)",
    1e-10,
    method="worst_case(h) of sims.monolithic for each expert and 8 water-filled points "
    "of M against the robust gate's lower certificate; shortfall relative to max(1, V*).",
    instances=_EXPERTS + "; Λ a simplex, a box or an ℓ1 ball; objectives cycle",
)
def t10_envelope(rng, trials):
    """Each instance: its robust gate, then the experts and random water-filled points of M."""
    worst, count = 0.0, 0
    for t in range(trials):
        D, P = _experts(rng, t)
        mix = _mixture_set(rng, D.shape[0])
        objective = OBJECTIVES[t % len(OBJECTIVES)]
        robust = robust_gate(D, P, mixtures=mix, objective=objective)
        covered = P.max(axis=0) > 0  # targets only where some expert has mass
        targets = rng.dirichlet(np.full(D.shape[1], 0.5), size=8) * covered
        points = [*P, *(water_fill(t / t.sum(), P)[0] for t in targets)]
        for h in points:
            shortfall = robust.lower - worst_case(h, D, P, mix, objective).value
            worst = max(worst, shortfall / max(1.0, abs(robust.lower)))
            count += 1
    return Outcome(count, max(worst, 0.0))


@check(
    "T10b",
    "no heuristic weighting Σα_k p_k (uniform, sizes, vertices, group-DRO/RegMix α) beats V*",
    1e-10,
    method="worst_case of each weighted average of experts against the robust gate's "
    "lower certificate; comparators inside M may not claim to beat its upper certificate "
    "unexplained; shortfall relative to max(1, V*).",
    instances=_EXPERTS + "; Λ a simplex, a box or an ℓ1 ball; objectives cycle",
)
def t10_heuristics(rng, trials):
    """Weights a user would pick; also: a comparator inside M never claims to beat the gate."""
    worst, count = 0.0, 0
    for t in range(trials):
        D, P = _experts(rng, t)
        K = D.shape[0]
        mix = _mixture_set(rng, K)
        objective = OBJECTIVES[t % len(OBJECTIVES)]
        robust = robust_gate(D, P, mixtures=mix, objective=objective)
        dro = group_dro(D, P, "full", mixtures=mix, objective=objective)
        rm = regmix(D, P, "full", mixtures=mix, objective=objective, samples=16, seed=t)
        weights = [
            np.full(K, 1.0 / K),
            rng.integers(1, 100, K) / rng.integers(1, 100, K).sum(),
            *np.eye(K),
            # group DRO's model may combine several training mixtures (alpha None):
            # it is then judged as a comparator below, not as a weighting
            *([] if dro.alpha is None else [dro.alpha]),
            rm.alpha,
            *rng.dirichlet(np.ones(K), 4),
        ]
        for alpha in weights:
            alpha = np.asarray(alpha, dtype=np.float64) / np.sum(alpha)
            value = worst_case(mixture(alpha, P), D, P, mix, objective).value
            worst = max(worst, (robust.lower - value) / max(1.0, abs(robust.lower)))
            count += 1
        uni = uniform_mixing(D, P, "full", mixtures=mix, objective=objective)
        # the certificate's width; rounding can make it a hair negative
        width = max(0.0, robust.upper - robust.lower)
        for c in compare_to_robust([dro, rm, uni], robust.upper, tol=width):
            if not c.explained:
                worst = max(worst, (robust.lower - c.worst_case) / max(1.0, abs(robust.lower)))
            count += 1
    return Outcome(count, max(worst, 0.0))


def _conv_projection(t: np.ndarray, P: np.ndarray, start: np.ndarray, steps: int = 200):
    r"""A point of conv(P) no farther from t than Σ start_k p_k: EM on the weights,
    :math:`w_k \leftarrow \sum_x t(x)\, w_k p_k(x) / \sum_j w_j p_j(x)` (monotone in
    KL(t‖Σ w p)). The posteriors w_k p_k(x)/Σ_j w_j p_j(x) are formed in log space, so
    probabilities down to 5e-324 neither overflow nor vanish."""
    w = start.copy()
    on = t > 0
    with np.errstate(divide="ignore"):
        logP = np.log(P[:, on])
    for _ in range(steps):
        with np.errstate(divide="ignore"):
            a = np.log(w)[:, None] + logP
        top = a.max(axis=0)
        post = np.exp(a - top)
        post /= post.sum(axis=0)
        w = post @ t[on]
        w /= w.sum()
    return w @ P


@check(
    "T10c",
    "convex H ∋ experts: min_H KL(D_λ‖h) ≤ ε_λ for H = conv(P) ⊆ M ⊆ Δ(X) (nested minima)",
    1e-10,
    method="the minima over Δ(X) (interference of the full class), M (fixed_mixture) and "
    "conv(P) (EM on the weights, written here) must be ordered and below ε_λ; error "
    "relative to max(1, ε_λ).",
    instances=_EXPERTS,
)
def t10_convex_safety(rng, trials):
    worst = 0.0
    for t in range(trials):
        D, P = _experts(rng, t)
        lam = rng.dirichlet(np.ones(D.shape[0]))
        target = mixture(lam, D)
        eps = expert_error(D, P, lam)
        full = interference(D, lam, "full")
        envelope_min = kl(target, fixed_mixture(D, P, lam).model)
        hull = kl(target, _conv_projection(target, P, lam))
        scale = max(1.0, eps)
        worst = max(
            worst,
            (full - envelope_min) / scale,
            (envelope_min - hull) / scale,
            (hull - eps) / scale,
        )
    return Outcome(trials, max(worst, 0.0))


def _markov_projection(p: np.ndarray, T: int, V: int, r: int) -> np.ndarray:
    """The closest model of order r to p (KL(p‖·)): the chain of p's (r+1)-window marginals,
    h(x) = m_0(x_{0..r}) Π_{s≥1} m_s(x_{s..s+r}) / m_s'(x_{s..s+r−1}), written directly."""
    t = p.reshape((V,) * T)
    h = np.zeros(V**T)
    for i, x in enumerate(np.ndindex(*(V,) * T)):
        first = tuple(range(r + 1, T))
        val = t.sum(axis=first)[x[: r + 1]] if first else t[x]
        for s in range(1, T - r):
            keep = set(range(s, s + r + 1))
            win = t.sum(axis=tuple(j for j in range(T) if j not in keep))[x[s : s + r + 1]]
            ctx = t.sum(axis=tuple(j for j in range(T) if j not in keep - {s + r}))[x[s : s + r]]
            val = val * win / ctx if ctx > 0 else 0.0
        h[i] = val
    return h


@check(
    "T8c",
    "gradient training of one log-linear model (E8): with step 1/L the mixture loss "
    "α·(CE(D_k, h) − H(D_k)) starts at log V^T − α·H(D), never increases, and reaches the "
    "optimum of the family, the closest model to the α-mixture (product of marginals, or the "
    "Markov chain of its window marginals); products reach its loss",
    1e-6,
    method="train_monolithic for 'product' and 'markov:1' (T = 3, V = 2..3, 400 steps): its "
    "reported optimum and optimal loss against the chain of the mixture's window marginals "
    "computed here by summing the tensor, its first loss against log V^T − α·H(D), the largest "
    "increase of the loss between steps, and (products) the final loss minus the optimal one "
    "(nats).",
    instances="random product and Markov domains, K = 2..3, α Dirichlet(1).",
)
def t8_training(rng, trials):
    worst = 0.0
    for t in range(min(trials, 8)):
        K, T, V = int(rng.integers(2, 4)), 3, int(rng.integers(2, 4))
        family, r = ("product", 0) if t % 2 == 0 else ("markov:1", 1)
        D = rng.dirichlet(np.full(V**T, 0.7), size=K)
        alpha = rng.dirichlet(np.ones(K))
        tr = train_monolithic(D, alpha, family=family, shape=(T, V), steps=400)
        ref = _markov_projection(alpha @ D, T, V, r)
        H = np.array([entropy(d) for d in D])
        with np.errstate(divide="ignore"):
            ref_loss = float(alpha @ (-(D @ np.log(ref)) - H))
        errs = (
            float(np.abs(tr.optimum - ref).max()),
            abs(tr.optimal_loss - ref_loss),
            abs(tr.losses[0] - (T * np.log(V) - alpha @ H)),
            max(0.0, float(np.diff(tr.losses).max())),
            # step 1/L converges fast for products (L = 1); Markov chains only descend here
            max(0.0, tr.losses[-1] - ref_loss) if r == 0 else 0.0,
            max(0.0, ref_loss - tr.losses[-1] - 1e-12),
        )
        worst = max(worst, *errs)
    return Outcome(min(trials, 8), worst)


@check(
    "T10d",
    "model comparison (modgate evaluate): every model named or given is scored by its exact "
    "worst case max_λ Σ_k λ_k L_k(q) and its margin over V*, experts named by number or by "
    "domain label",
    1e-9,
    method="compare with the default models, with ['expert k', 'expert <label>', "
    "'proportional', a vector] and with ['robust'] only: the names and order of the records, "
    "and each worst case against max_k L_k(q) (Δ_K) recomputed here from the model built "
    "directly (Σ p_k/K, p_k, Σ m_k p_k/Σ m, D_{1/K}, the vector); margins against "
    "worst case − value; worst_case with and without P against the same; a labelled robust "
    "gate's domain_labels, text and HTML forms must show every label, the certificate and "
    "the method; absolute error (∞ for a wrong record list or form).",
    instances="K = 2..4 Dirichlet domains and noisy experts on n = 3..10 points (n ≠ K), "
    "labels 'a', 'b', …; random sizes and a random model vector.",
)
def t10_compare(rng, trials):
    from theory.evaluate import compare
    from theory.evaluate import worst_case as evaluate_worst_case

    worst = 0.0
    for _ in range(min(trials, 6)):
        K = int(rng.integers(2, 5))
        n = int(rng.integers(3, 11))
        n += n == K
        D = rng.dirichlet(np.ones(n), size=K)
        P = 0.5 * D + 0.5 * rng.dirichlet(np.ones(n), size=K)
        labels = [chr(ord("a") + k) for k in range(K)]
        sizes = rng.uniform(1.0, 5.0, K)
        vec = rng.dirichlet(np.ones(n))
        negent = np.array([np.sum(d * np.log(d)) for d in D])

        def score(q, D=D, negent=negent):
            return float((-(D @ np.log(q)) + negent).max())

        j = int(rng.integers(K))
        i = (j + 1) % K
        cases = [
            (None, None, [("uniform", P.mean(axis=0))] + [(f"expert {k + 1}", P[k]) for k in range(K)]
             + [("aggregate", D.mean(axis=0))]),
            (
                [f"expert {j + 1}", f"expert {labels[i]}", "proportional", {"mine": vec}],
                labels,
                [(f"expert {labels[j]}", P[j]), (f"expert {labels[i]}", P[i]), ("proportional", sizes @ P / sizes.sum()),
                 ("mine", vec)],
            ),
            (["robust"], None, []),
        ]  # fmt: skip
        for models, lab, want in cases:
            table = compare(models, D, P, sizes=sizes, labels=lab)
            names = [r["name"] for r in table.records]
            expect = [w[0] for w in want] + (
                ["robust"] if models is None or models == ["robust"] else []
            )
            if names != expect:
                return Outcome(trials, np.inf)
            for rec, (_name, q) in zip(table.records, want, strict=False):
                worst = max(worst, abs(rec["worst_case"] - score(q)))
                worst = max(worst, abs(rec["margin"] - (rec["worst_case"] - table.value)))
        for p in (None, P):
            value, _lam = evaluate_worst_case(vec, D, P=p)
            worst = max(worst, abs(value - score(vec)))
        # the printed result names the domains and shows the certificate and the method
        r = robust_gate(D, P, labels=labels)
        text, html = str(r), r._repr_html_()
        shown = r.domain_labels == tuple(labels) and all(
            f"\n  {lab} " in text and f">{lab}<" in html for lab in labels
        )
        shown = shown and all(w in text and w in html for w in ("certified", "method", "dual"))
        worst = max(worst, 0.0 if shown else np.inf)
    return Outcome(min(trials, 6), worst)
