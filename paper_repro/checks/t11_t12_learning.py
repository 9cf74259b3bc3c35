"""Verify rows T11 (generalization bound, its m^{-1/2} rate, the Lipschitz constant 2) and
T12 (the stochastic primal-dual algorithm reaches V*; the averaged mass tends to 1).

These rows are statistical: each draws fresh instances and many samples, so they
are kept to a few instances per row (a few seconds each) whatever ``trials`` is.
"""

from __future__ import annotations

import numpy as np

from paper_repro.checks import Outcome, check
from sims.domains import dirichlet_domains, noisy_experts
from sims.experts import tabular_experts
from sims.generalization import generalization_gaps, log_log_slope, weighted_counts
from sims.primal_dual import stochastic_primal_dual
from theory.bounds import loss_range, skewness
from theory.mixtures import Box, L1Ball

DELTA = 0.05


def _learning_instance(rng, n: int):
    K = 3
    D = dirichlet_domains(K, n, float(rng.uniform(0.5, 2.0)), seed=int(rng.integers(2**31)))
    P = tabular_experts(D, int(rng.integers(50, 500)), seed=int(rng.integers(2**31)))
    return D, P, rng.dirichlet(np.ones(K)), rng.dirichlet(np.full(K, 3.0))


@check(
    "T11", "over 200 draws, P[sup_g L − L̂ > bound] ≤ δ = 0.05 (class and fixed-gate bounds)", DELTA
)
def t11_violation_rate(rng, trials):
    worst = 0.0
    count = 0
    for _ in range(min(trials, 2)):
        D, P, lam, mbar = _learning_instance(rng, 30)
        m = [40, 400]
        study = generalization_gaps(
            D,
            P,
            lam,
            m,
            mbar=mbar,
            draws=200,
            delta=DELTA,
            train_steps=60,
            sup_steps=40,
            seed=int(rng.integers(2**31)),
        )
        worst = max(worst, study.gate_violation.max(), study.tab_violation.max())
        # A fixed gate (the constant uniform one) needs no complexity term: only
        # the Hoeffding term M sqrt(s log(1/δ)/(2m)) of T11, which is much tighter.
        loss = -np.log(P.mean(axis=0))
        M = loss_range(P)
        for mk in study.sizes:
            w_hat = weighted_counts(D, lam, mk, 1000, seed=int(rng.integers(2**31)))
            gap = (lam @ D - w_hat) @ loss
            bound = M * np.sqrt(skewness(lam, mk) * np.log(1 / DELTA) / (2 * mk.sum()))
            worst = max(worst, float((gap > bound).mean()))
        count += 1
    return Outcome(count, worst)


@check("T11b", "mean uniform gap ∝ m^s with |s + 1/2| ≤ 0.15 (log-log fit over m = 10²..10⁴)", 0.15)
def t11_rate(rng, trials):
    worst = 0.0
    count = 0
    for _ in range(min(trials, 2)):
        D, P, lam, mbar = _learning_instance(rng, 30)
        m = [100, 1000, 10000]
        study = generalization_gaps(
            D,
            P,
            lam,
            m,
            mbar=mbar,
            draws=100,
            train_steps=60,
            sup_steps=60,
            seed=int(rng.integers(2**31)),
        )
        slope = log_log_slope(study.m, study.gate_sup.mean(axis=1))
        worst = max(worst, abs(slope + 0.5))
        count += 1
    return Outcome(count, worst)


@check("T11c", "‖∂f/∂u‖₁ = Σ_k g_k|1 − p_k/p_g| ≤ 2 for f = −log p_g, u the gate logits", 1e-12)
def t11_lipschitz(rng, trials):
    worst = 0.0
    count = 0
    for t in range(trials):
        K = int(rng.integers(2, 9))
        size = 2000
        G = rng.dirichlet(np.full(K, [0.05, 1.0][t % 2]), size=size)
        Pk = rng.dirichlet(np.full(K, 0.2), size=size) * 10.0 ** rng.uniform(-8, 0, (size, K))
        pg = (G * Pk).sum(axis=1, keepdims=True)
        norm = np.abs(G * (1.0 - Pk / pg)).sum(axis=1)
        worst = max(worst, float(norm.max()) - 2.0, 0.0)
        count += size
    return Outcome(count, worst)


def _pd_instances(rng, count: int):
    mixtures = (None, L1Ball([0.5, 0.3, 0.2], 0.4), Box([0.1] * 3, [0.6] * 3))
    for i in range(count):
        n = int(rng.integers(8, 25))
        D = dirichlet_domains(3, n, float(rng.uniform(0.5, 2.5)), seed=int(rng.integers(2**31)))
        P = noisy_experts(D, float(rng.uniform(0.1, 0.8)), seed=int(rng.integers(2**31)))
        yield D, P, mixtures[i % len(mixtures)]


@check(
    "T12",
    "primal-dual (tabular gate, default settings): |max_Λ L(averaged model) − V*| ≤ 0.01",
    0.01,
)
def t12_reaches_value(rng, trials):
    worst = 0.0
    count = 0
    for D, P, Lam in _pd_instances(rng, min(trials, 3)):
        r = stochastic_primal_dual(D, P, mixtures=Lam, seed=int(rng.integers(2**31)))
        worst = max(worst, abs(r.worst_case - r.reference))
        count += 1
    return Outcome(count, worst)


@check(
    "T12b",
    "primal-dual: |Z(averaged gate) − 1| ≤ 0.02 at the end and shrinking along the run",
    0.02,
)
def t12_mass(rng, trials):
    worst = 0.0
    count = 0
    for gate, (D, P, Lam) in zip(("tabular", "loglik"), _pd_instances(rng, 2), strict=False):
        r = stochastic_primal_dual(
            D, P, mixtures=Lam, gate=gate, reference=False, seed=int(rng.integers(2**31))
        )
        dev = np.abs(r.history.avg_mass - 1.0)
        quarter = max(1, len(dev) // 4)
        # The deviation must end small and be smaller late than early in the run.
        not_shrinking = max(0.0, dev[-quarter:].mean() - dev[:quarter].mean())
        worst = max(worst, abs(r.mass - 1.0), not_shrinking)
        count += 1
    return Outcome(count, worst)
