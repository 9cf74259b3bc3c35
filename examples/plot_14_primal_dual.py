r"""
The stochastic primal-dual algorithm converges (T12)
====================================================

On large sequence spaces nobody can enumerate X, so the robust gate must be
learned from samples. The normalization :math:`Z(g) = 1` is the obstacle: it
is a sum over all of X. But it is *linear* in g, so it can be moved into the
objective with a multiplier μ,

.. math:: V^* = \min_{g} \max_{\lambda\in\Lambda,\ \mu\in\mathbb R}\
          L(g,\lambda) + \mu\,(Z(g) - 1),

and :math:`Z(g) = \sum_k \mathbb E_{y\sim p_k}[g_k(y)]` is estimated by sampling the
experts. Each step draws a few points per domain and per expert, takes a
gradient step on the gate, an exponentiated-gradient step on λ and a step on μ.

We run :func:`sims.primal_dual.stochastic_primal_dual` and watch the exact
worst-case payoff of the averaged gate approach :math:`V^*` while its mass
approaches 1.
"""

import matplotlib.pyplot as plt
import numpy as np

from sims.primal_dual import stochastic_primal_dual
from theory.minimax import robust_gate

rng = np.random.default_rng(14)
K, n = 3, 20
D = rng.dirichlet(0.5 * np.ones(n), size=K)
P = 0.7 * D + 0.3 * rng.dirichlet(np.ones(n), size=K)

exact = robust_gate(D, P, objective="regret")
run = stochastic_primal_dual(D, P, objective="regret", steps=4000, batch=32, seed=0)
h = run.history
print(f"V* (regret objective, exact dual solver) = {exact.value:.6f} nats")
print(f"primal-dual after {h.step[-1]} steps: worst case {run.worst_case:.6f} nats")
print(f"mass of the averaged gate Z = {h.avg_mass[-1]:.5f}")
print(f"lambda: primal-dual {run.lam.round(3)}, exact {exact.lam.round(3)}")

# %%
# The picture
# -----------
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
excess = np.maximum(h.worst_case - exact.value, 1e-6)
ax1.loglog(h.step, excess, "o-", ms=3, color="#ef8a62", label="averaged gate")
ref = excess[len(excess) // 4] * np.sqrt(h.step[len(excess) // 4] / h.step)
ax1.loglog(h.step, ref, "k:", label=r"slope $-1/2$")
ax1.set_xlabel("step T")
ax1.set_ylabel(r"$\max_\lambda L(\bar g_T, \lambda) - V^*$ (nats)")
ax1.set_title("T12: excess worst-case payoff")
ax1.legend(fontsize=8)
ax2.semilogx(h.step, h.avg_mass, color="#2166ac", label=r"$Z(\bar g_T)$ averaged gate")
ax2.semilogx(h.step, h.mass, color="#92c5de", lw=0.8, label=r"$Z(g_T)$ current gate")
ax2.axhline(1.0, color="k", ls=":")
ax2.set_xlabel("step T")
ax2.set_ylabel("mass Z(g) (probability, no unit)")
ax2.set_title("normalization is learned from expert samples")
ax2.legend(fontsize=8)
fig.tight_layout()
plt.show()
