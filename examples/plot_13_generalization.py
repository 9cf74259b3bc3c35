r"""
Learning from samples: the generalization bound (T11)
=====================================================

In practice the learner sees samples, :math:`m_k` points from domain k, and
minimizes the empirical payoff :math:`\hat L(g,\lambda)`. With probability at
least 1 − δ, every gate g of a class 𝒢 satisfies

.. math:: L(g,\lambda) \le \hat L(g,\lambda) + 2 R_m(\mathcal G,\lambda)
          + M\sqrt{\frac{s(\lambda\|\bar m)\log(1/\delta)}{2m}},

where :math:`s(\lambda\|\bar m) = \sum_k \lambda_k^2/\bar m_k \ge 1` measures how
far the sampling proportions :math:`\bar m` are from the mixture λ one is judged
on, and M bounds the loss :math:`-\log p_g`. For gates that are a softmax of a
linear function of K features, :math:`R_m \le 2\sqrt2\, B R \sqrt{K s / m}`: it
does not depend on the size of X or of the experts.

We check the fixed-gate part of the bound over many sample draws, and compare
the complexity of softmax-linear gates with the size of the empirical gap.
"""

import matplotlib.pyplot as plt
import numpy as np

from theory.bounds import generalization_bound, rademacher_softmax_linear, skewness
from theory.divergences import cross_entropy
from theory.minimax import robust_gate

rng = np.random.default_rng(13)
K, n = 2, 30
D = rng.dirichlet(0.5 * np.ones(n), size=K)
P = 0.7 * D + 0.3 * rng.dirichlet(np.ones(n), size=K)
gate_model = robust_gate(D, P).model  # a fixed gate: the class has one member
lam = np.array([0.5, 0.5])
mbar = np.array([0.8, 0.2])  # domain 1 is over-sampled
loss = -np.log(gate_model)  # f(g, x) = -log p_g(x)
M = float(-np.log(P.min(axis=0)).max())  # loss range
delta = 0.05
true = sum(lam[k] * cross_entropy(D[k], gate_model) for k in range(K))

sizes = np.array([50, 100, 200, 500, 1000, 2000, 5000])
q95, bounds, complexity, violations = [], [], [], []
for m in sizes:
    m_k = np.maximum(1, np.round(m * mbar)).astype(int)
    gaps = []
    for _ in range(400):
        emp = sum(lam[k] * rng.multinomial(m_k[k], D[k]) @ loss / m_k[k] for k in range(K))
        gaps.append(true - emp)
    gaps = np.array(gaps)
    bound_gap = generalization_bound(0.0, lam, m_k, M, delta, rademacher=0.0)
    q95.append(np.quantile(gaps, 0.95))
    bounds.append(bound_gap)
    violations.append(np.mean(gaps > bound_gap))
    complexity.append(2 * rademacher_softmax_linear(1.0, 1.0, K, lam, m_k))
print(f"skewness s(lam||mbar) = {skewness(lam, mbar * 1000):.4f}")
print(
    "violation rate of the fixed-gate bound per m:", np.round(violations, 4), f"(delta = {delta})"
)

# %%
# The picture
# -----------
fig, ax = plt.subplots(figsize=(6.4, 4.2))
ax.loglog(sizes, q95, "o-", color="#b2182b", label=r"95% quantile of $L - \hat L$ (400 draws)")
ax.loglog(sizes, bounds, "s--", color="#2166ac", label=r"$M\sqrt{s\log(1/\delta)/(2m)}$")
ax.loglog(
    sizes, complexity, "^:", color="#1b7837", label=r"$2R_m$ of softmax-linear gates, $B = R = 1$"
)
ax.set_xlabel("total sample size m")
ax.set_ylabel("gap (nats)")
ax.set_title("T11: gaps stay below the bound and shrink like m^(-1/2)")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
