r"""
The saddle point of a two-domain game (T4)
==========================================

The robust problem is a game: the learner picks a normalized gate g, an
adversary picks the mixture λ, and the learner pays
:math:`L(g,\lambda) = \sum_k \lambda_k L_k(p_g)`. The payoff is convex in g and
linear in λ, and the game has a saddle point :math:`(g^*, \lambda^*)`: neither
player gains by moving alone, and

.. math:: \min_g \max_\lambda L(g,\lambda) = \max_\lambda \min_g L(g,\lambda) = V^*.

With K = 2 every mixture is a number :math:`\lambda_1 \in [0, 1]`, and the whole
game fits in one picture.
"""

import matplotlib.pyplot as plt
import numpy as np

from theory.minimax import fixed_mixture, robust_gate

rng = np.random.default_rng(11)
n = 30
D = rng.dirichlet(0.5 * np.ones(n), size=2)
P = 0.7 * D + 0.3 * rng.dirichlet(np.ones(n), size=2)
grid = np.linspace(0.0, 1.0, 201)

# %%
# One gate per mixture
# --------------------
# For every :math:`\mu \in [0, 1]` let :math:`g_\mu` be the learner's best response
# to the mixture :math:`(\mu, 1-\mu)` (the water-filling gate of T3). Against a
# fixed gate the payoff is *linear* in :math:`\lambda_1`: a straight line from
# :math:`L_2(g_\mu)` at :math:`\lambda_1 = 0` to :math:`L_1(g_\mu)` at
# :math:`\lambda_1 = 1`.
losses = np.array([fixed_mixture(D, P, [mu, 1 - mu]).per_domain for mu in grid])
d = grid * losses[:, 0] + (1 - grid) * losses[:, 1]
res = robust_gate(D, P)
print(f"V* = {res.value:.8f} nats, lambda* = {res.lam.round(6)}")
print(f"certified: {res.lower:.10f} <= V* <= {res.upper:.10f}")
print(f"per-domain losses of the robust gate: {res.per_domain.round(8)}")

# %%
# The picture
# -----------
# Left: the lines :math:`\lambda_1 \mapsto L(g_\mu, \lambda)` for a few μ, and their
# lower envelope, the dual function :math:`d(\lambda) = \min_g L(g,\lambda)`. Each
# line touches d where :math:`\lambda_1 = \mu`. The robust gate's line is flat:
# both domains cost it the same (the equalizer property), so the adversary
# cannot gain by moving, and it touches d at its maximum.
#
# Right: the payoff :math:`L(g_\mu, \lambda)` over the square, with the two
# best-response maps: the learner's (:math:`\mu = \lambda_1`) and the
# adversary's (a vertex: all weight on the domain that costs more, any
# mixture when both cost the same). They cross at the saddle point.
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4.2))
for mu_index in range(0, len(grid), 25):
    line = grid * losses[mu_index, 0] + (1 - grid) * losses[mu_index, 1]
    ax1.plot(grid, line, color="#92c5de", lw=1)
ax1.plot(grid, d, color="k", lw=2, label=r"$d(\lambda) = \min_g L(g,\lambda)$")
ax1.plot(
    grid,
    grid * res.per_domain[0] + (1 - grid) * res.per_domain[1],
    color="#b2182b",
    lw=2,
    label=r"$L(g^*, \lambda)$: robust gate",
)
ax1.plot(res.lam[0], res.value, "o", color="#b2182b")
ax1.set_ylim(d.min() - 0.05, res.value + 0.35)
ax1.set_xlabel(r"adversary's weight $\lambda_1$")
ax1.set_ylabel("payoff (nats)")
ax1.set_title("lines L(g_μ, ·) and their envelope d")
ax1.legend(fontsize=8, loc="lower center")

payoff = grid[None, :] * losses[:, [0]] + (1 - grid[None, :]) * losses[:, [1]]
im = ax2.contourf(grid, grid, payoff, levels=30, cmap="viridis")
fig.colorbar(im, ax=ax2, label="payoff L (nats)")
ax2.plot(grid, grid, color="w", lw=2, label="learner's best response μ = λ₁")
adversary = np.where(losses[:, 0] > losses[:, 1], 1.0, 0.0)
ax2.step(
    adversary,
    grid,
    where="mid",
    color="#fddbc7",
    lw=3,
    clip_on=False,
    label="adversary's best response (a vertex)",
)
ax2.plot(res.lam[0], res.lam[0], "*", color="#b2182b", ms=14, label="saddle point")
ax2.set_xlabel(r"adversary's weight $\lambda_1$")
ax2.set_ylabel(r"learner's gate $g_\mu$, indexed by $\mu$")
ax2.set_title("payoff over (λ₁, μ) and the best responses")
ax2.legend(fontsize=7, loc="lower right")
fig.tight_layout()
plt.show()
