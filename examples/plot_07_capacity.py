r"""
Perfect experts: the robust value is a channel capacity (T6)
============================================================

When each expert is its own domain (:math:`p_k = D_k`), the best gate for a
mixture λ reproduces :math:`D_\lambda` exactly and the dual function is the
Jensen–Shannon divergence, :math:`d(\lambda) = \mathrm{JSD}_\lambda(D)`. The JSD is
the mutual information between the domain index and the point it produces, so

.. math:: V^*(\Delta_K) = \max_\lambda \mathrm{JSD}_\lambda(D) = C(D),

the Shannon capacity of the channel k → x with transition rows :math:`D_k`. Two
independent algorithms therefore meet: the dual solver of the game
(:func:`theory.minimax.robust_gate`) and Blahut–Arimoto
(:func:`theory.capacity.blahut_arimoto`). Both are bounded by :math:`\log K`.
"""

import matplotlib.pyplot as plt
import numpy as np

from theory.capacity import blahut_arimoto
from theory.minimax import robust_gate

rng = np.random.default_rng(2)
rows = []
for K in (2, 3, 4, 6, 8):
    for concentration in (0.05, 0.3, 1.0, 5.0):
        D = rng.dirichlet(concentration * np.ones(30), size=K)
        v = robust_gate(D, D).value
        ba = blahut_arimoto(D)
        rows.append((K, concentration, v, ba.capacity))
rows = np.array(rows)
print(
    f"largest |V* - C| over {len(rows)} instances: {np.abs(rows[:, 2] - rows[:, 3]).max():.1e} nats"
)

# %%
# The picture
# -----------
# Each point is one random instance; the colour is K. All points lie on the
# diagonal, below their own :math:`\log K`. Sharper domains (small Dirichlet
# concentration) overlap less and get closer to :math:`\log K`.
fig, ax = plt.subplots(figsize=(5.6, 5.0))
sc = ax.scatter(rows[:, 3], rows[:, 2], c=rows[:, 0], cmap="viridis", s=40, edgecolor="k")
fig.colorbar(sc, ax=ax, label="number of domains K")
top = np.log(8) * 1.05
ax.plot([0, top], [0, top], "k:", lw=1, label="V* = C")
for K in (2, 3, 4, 6, 8):
    ax.axhline(np.log(K), color="grey", lw=0.6)
    ax.text(0.02, np.log(K) + 0.02, f"log {K}", color="grey", fontsize=8)
ax.set_xlabel("capacity C(D) by Blahut–Arimoto (nats)")
ax.set_ylabel("robust value V*(Δ_K) by the dual solver (nats)")
ax.set_title("T6: V* = C(D) ≤ log K for perfect experts")
ax.legend(loc="lower right")
fig.tight_layout()
plt.show()
