r"""
The least-favorable mixture on a ternary plot (T5, T6)
======================================================

With three domains every mixture is a point of a triangle. We colour the
triangle by the dual function :math:`d(\lambda) = \min_g L(g,\lambda)`, the loss the
best gate *for that mixture* still suffers. Its maximum is the robust value
:math:`V^*`, attained at the *least-favorable mixture* :math:`\lambda^*`: the
mixture an adversary would choose.

At :math:`\lambda^*` the robust model equalizes: every domain with positive
weight costs it exactly :math:`V^*`, and a domain with zero weight costs no more.
"""

import matplotlib.pyplot as plt
import matplotlib.tri as mtri
import numpy as np

from theory.minimax import dual_function, robust_gate

rng = np.random.default_rng(7)
K, n = 3, 40
D = rng.dirichlet(0.5 * np.ones(n), size=K)
P = 0.7 * D + 0.3 * rng.dirichlet(np.ones(n), size=K)


def ternary(lam):
    """Planar coordinates: e1 at (0, 0), e2 at (1, 0), e3 at the apex."""
    lam = np.atleast_2d(lam)
    return lam[:, 1] + 0.5 * lam[:, 2], lam[:, 2] * np.sqrt(3) / 2


res = 30
grid = np.array(
    [(i, j, res - i - j) for i in range(res + 1) for j in range(res + 1 - i)], dtype=float
)
grid /= res
values = np.array([dual_function(D, P, lam)[0] for lam in grid])

robust = robust_gate(D, P)
print(f"V* = {robust.value:.8f} nats at lambda* = {robust.lam.round(4)}")
print(f"largest d on the grid: {values.max():.8f} (never above V*)")
print("per-domain losses of the robust model:", robust.per_domain.round(8))

# %%
# The picture
# -----------
x, y = ternary(grid)
tri = mtri.Triangulation(x, y)
fig, ax = plt.subplots(figsize=(6.2, 5.2))
im = ax.tricontourf(tri, values, levels=25, cmap="magma")
fig.colorbar(im, ax=ax, label=r"$d(\lambda)$ (nats)")
sx, sy = ternary(robust.lam)
ax.plot(sx, sy, "*", color="#00e5ff", ms=16, mec="k", label=r"least-favorable $\lambda^*$")
for k, (px, py) in enumerate(zip(*ternary(np.eye(3)), strict=True)):
    ax.annotate(
        f"domain {k + 1}",
        (px, py),
        textcoords="offset points",
        xytext=(0, -14 if py == 0 else 6),
        ha="center",
    )
ax.set_aspect("equal")
ax.set_xlim(-0.15, 1.15)
ax.set_ylim(-0.1, np.sqrt(3) / 2 + 0.1)
ax.axis("off")
ax.set_title(f"T6: d(λ) on Δ₃, V* = {robust.value:.4f} nats at λ*", pad=14)
ax.legend(loc="upper right", fontsize=8)
fig.tight_layout()
plt.show()
