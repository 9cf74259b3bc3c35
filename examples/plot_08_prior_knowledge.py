r"""
Prior knowledge on the mixture weights (T7)
===========================================

Often the deployment mixture is not completely unknown: it is believed to be
close to some :math:`\lambda_0`. Shrinking the adversary's set Λ can only lower
the robust value, :math:`\Lambda \subseteq \Lambda' \Rightarrow V^*(\Lambda) \le V^*(\Lambda')`,
and a single point gives back the fixed-mixture problem,
:math:`V^*(\{\lambda_0\}) = d(\lambda_0)`.

We grow an ℓ1 ball :math:`\{\lambda \in \Delta_K : \|\lambda - \lambda_0\|_1 \le r\}` from
r = 0 to r = 2 (the whole simplex) and follow :math:`V^*`. We also show a box of
per-domain bounds, the other way to state prior knowledge.
"""

import matplotlib.pyplot as plt
import numpy as np

from theory.minimax import dual_function, robust_gate
from theory.mixtures import Box, L1Ball, Simplex

rng = np.random.default_rng(4)
K, n = 4, 50
D = rng.dirichlet(0.5 * np.ones(n), size=K)
P = 0.8 * D + 0.2 * rng.dirichlet(np.ones(n), size=K)
lam0 = np.array([0.4, 0.3, 0.2, 0.1])

radii = np.linspace(0.0, 2.0, 21)
values = [robust_gate(D, P, mixtures=L1Ball(lam0, r)).value for r in radii]
d0 = dual_function(D, P, lam0)[0]
full = robust_gate(D, P, mixtures=Simplex(K)).value
box = robust_gate(D, P, mixtures=Box(lam0 - 0.1, lam0 + 0.1))
print(f"d(lam0) = {d0:.6f}, V*(r = 0) = {values[0]:.6f}")
print(f"V*(simplex) = {full:.6f}, V*(r = 2) = {values[-1]:.6f}")
print(f"V*(box lam0 +- 0.1) = {box.value:.6f} at lambda* = {box.lam.round(3)}")

# %%
# The picture
# -----------
fig, ax = plt.subplots(figsize=(6.4, 4.0))
ax.plot(radii, values, "o-", color="#b2182b", label=r"$V^*(\mathrm{L1Ball}(\lambda_0, r))$")
ax.axhline(d0, color="#2166ac", ls="--", label=r"$d(\lambda_0)$: mixture known")
ax.axhline(full, color="k", ls=":", label=r"$V^*(\Delta_K)$: nothing known")
ax.axhline(box.value, color="#1b7837", ls="-.", label=r"box $\lambda_0 \pm 0.1$")
ax.set_xlabel(r"radius r of the ℓ1 ball around $\lambda_0$")
ax.set_ylabel("robust value (nats)")
ax.set_title("T7: more prior knowledge, smaller worst case")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
