r"""
No heuristic weighting beats the robust gate (T10)
==================================================

A common recipe combines experts with fixed weights α, :math:`h_\alpha = \sum_k
\alpha_k p_k`, and tunes α by hand or by a heuristic (uniform, proportional to
data sizes, ...). Every such model lies in the experts' envelope, and the robust
gate minimizes the worst case over *all* models of the envelope. Hence for
every α,

.. math:: \max_{\lambda\in\Lambda} L(h_\alpha, \lambda) \ge V^*(\Lambda).

We scan every α on a grid of the triangle, colour it by its worst-case loss and
compare with :math:`V^*`.
"""

import matplotlib.pyplot as plt
import matplotlib.tri as mtri
import numpy as np

from theory.divergences import kl_rows
from theory.minimax import robust_gate

rng = np.random.default_rng(12)
K, n = 3, 40
D = rng.dirichlet(0.4 * np.ones(n), size=K)
P = 0.7 * D + 0.3 * rng.dirichlet(np.ones(n), size=K)
robust = robust_gate(D, P)

res = 40
alphas = np.array(
    [(i, j, res - i - j) for i in range(res + 1) for j in range(res + 1 - i)], dtype=float
)
alphas /= res
# Divergence objective on the simplex: the worst mixture puts all weight on the
# domain with the largest KL(D_k || model).
worst = np.array([kl_rows(D, a @ P).max() for a in alphas])
print(f"V* = {robust.value:.6f} nats")
print(f"best fixed weighting: {worst.min():.6f} nats at alpha = {alphas[worst.argmin()].round(3)}")
print(f"uniform weights:      {kl_rows(D, P.mean(axis=0)).max():.6f} nats")
print(f"best single expert:   {min(kl_rows(D, P[k]).max() for k in range(K)):.6f} nats")

# %%
# The picture
# -----------
x, y = alphas[:, 1] + 0.5 * alphas[:, 2], alphas[:, 2] * np.sqrt(3) / 2
fig, ax = plt.subplots(figsize=(6.2, 5.2))
im = ax.tricontourf(
    mtri.Triangulation(x, y), np.minimum(worst, np.quantile(worst, 0.9)), levels=25, cmap="viridis"
)
fig.colorbar(im, ax=ax, label=r"worst case $\max_k \mathrm{KL}(D_k\|h_\alpha)$ (nats, clipped)")
i = worst.argmin()
ax.plot(x[i], y[i], "o", color="w", mec="k", ms=9, label=f"best α: {worst[i]:.3f} nats")
ax.plot([], [], " ", label=f"robust gate V* = {robust.value:.3f} nats")
for k, (px, py) in enumerate([(0, 0), (1, 0), (0.5, np.sqrt(3) / 2)]):
    ax.annotate(
        f"expert {k + 1}",
        (px, py),
        textcoords="offset points",
        xytext=(0, -14 if py == 0 else 6),
        ha="center",
    )
ax.set_aspect("equal")
ax.set_xlim(-0.15, 1.15)
ax.set_ylim(-0.1, np.sqrt(3) / 2 + 0.1)
ax.axis("off")
ax.set_title("T10: every fixed weighting α stays above V*", pad=14)
ax.legend(loc="upper left", fontsize=8)
fig.tight_layout()
plt.show()
