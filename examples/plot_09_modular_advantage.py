r"""
The modular model is never worse than its average expert (T8)
=============================================================

Fix a mixture λ and let :math:`\varepsilon_\lambda = \sum_k \lambda_k \mathrm{KL}(D_k\|p_k)`
be the average error of the experts on their own domains. Joint convexity of
KL gives

.. math:: \mathrm{KL}(D_\lambda \| q^*_\lambda) \le \mathrm{KL}\Big(D_\lambda \,\Big\|\, \sum_k \lambda_k p_k\Big)
          \le \varepsilon_\lambda,

where :math:`q^*_\lambda` is the water-filling model of T3: the best gate is at
least as good as the constant gate :math:`g \equiv \lambda`, which is at least as
good as the experts on average. We draw the three curves for K = 2 experts
estimated from a few samples.
"""

import matplotlib.pyplot as plt
import numpy as np

from sims.experts import tabular_experts
from theory.divergences import kl, mixture
from theory.minimax import fixed_mixture

rng = np.random.default_rng(8)
n = 25
D = rng.dirichlet(0.7 * np.ones(n), size=2)
P = tabular_experts(D, m=80, beta=0.5, seed=1)
grid = np.linspace(0.0, 1.0, 101)

best, constant, average = [], [], []
for t in grid:
    lam = np.array([t, 1 - t])
    target = mixture(lam, D)
    best.append(kl(target, fixed_mixture(D, P, lam).model))
    constant.append(kl(target, mixture(lam, P)))
    average.append(sum(lam[k] * kl(D[k], P[k]) for k in range(2)))
best, constant, average = map(np.array, (best, constant, average))
print(f"largest KL(D_lam||q*) - KL(D_lam||sum lam p): {(best - constant).max():.2e} (<= 0)")
print(f"largest KL(D_lam||sum lam p) - eps_lam:      {(constant - average).max():.2e} (<= 0)")

# %%
# The picture
# -----------
fig, ax = plt.subplots(figsize=(6.4, 4.0))
ax.plot(
    grid,
    average,
    color="#2166ac",
    lw=2,
    label=r"$\varepsilon_\lambda = \sum_k \lambda_k \mathrm{KL}(D_k\|p_k)$",
)
ax.plot(
    grid,
    constant,
    color="#1b7837",
    lw=2,
    label=r"constant gate: $\mathrm{KL}(D_\lambda\|\sum_k\lambda_k p_k)$",
)
ax.plot(
    grid, best, color="#b2182b", lw=2, label=r"best gate: $\mathrm{KL}(D_\lambda\|q^*_\lambda)$"
)
ax.set_xlabel(r"weight $\lambda_1$")
ax.set_ylabel("divergence to the mixture (nats)")
ax.set_title("T8: best gate ≤ constant gate ≤ average expert error")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
