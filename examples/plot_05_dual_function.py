r"""
The dual function and its certificates (T5)
===========================================

Exchanging min and max turns the robust problem into the maximization of the
*dual function* :math:`d(\lambda) = \min_{g} L(g,\lambda)` over Λ. It is concave,
its value costs one water-filling (T3), and the vector of per-domain losses of
the water-filled model is a supergradient. The whole problem therefore lives in
K dimensions, however large the alphabet X is.

Every candidate pair (q, λ) also gives a certificate:
:math:`d(\lambda) \le V^* \le \max_{\lambda' \in \Lambda} \sum_k \lambda'_k L_k(q)`.
Here we follow a plain projected supergradient ascent and watch the two bounds
close on :math:`V^*`.
"""

import matplotlib.pyplot as plt
import numpy as np

from theory.minimax import dual_function, fixed_mixture, robust_gate
from theory.mixtures import Simplex

rng = np.random.default_rng(5)
K, n = 4, 60
D = rng.dirichlet(0.4 * np.ones(n), size=K)
P = 0.75 * D + 0.25 * rng.dirichlet(np.ones(n), size=K)
simplex = Simplex(K)

# %%
# Concavity, seen along a segment
# -------------------------------
# Restricted to the segment between two mixtures, d is a concave function of
# one variable, and the supergradient at the midpoint gives a line above it.
a, b = np.eye(K)[0], np.full(K, 1 / K)
ts = np.linspace(0, 1, 81)
values = [dual_function(D, P, (1 - s) * a + s * b)[0] for s in ts]
mid = 0.5 * (a + b)
d_mid, sup = dual_function(D, P, mid)
tangent = [d_mid + sup @ ((1 - s) * a + s * b - mid) for s in ts]

# %%
# Projected supergradient ascent with certificates
# ------------------------------------------------
lam = np.full(K, 1 / K)
lowers, uppers = [], []
best_lower, best_upper = -np.inf, np.inf
for step in range(1, 201):
    fixed = fixed_mixture(D, P, lam)
    best_lower = max(best_lower, fixed.value)
    best_upper = min(best_upper, simplex.argmax_linear(fixed.per_domain)[0])
    lowers.append(best_lower)
    uppers.append(best_upper)
    lam = simplex.project(lam + 0.5 / np.sqrt(step) * fixed.per_domain)

exact = robust_gate(D, P)
print(f"after 200 steps: {best_lower:.6f} <= V* <= {best_upper:.6f}")
print(f"exact dual solver: V* = {exact.value:.10f} (gap {exact.upper - exact.lower:.1e})")

# %%
# The picture
# -----------
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
ax1.plot(ts, values, "k", lw=2, label=r"$d$ along the segment")
ax1.plot(ts, tangent, "--", color="#b2182b", label="supergradient line at the midpoint")
ax1.set_xlabel(r"position s on the segment $(1-s)e_1 + s\,\mathbf{1}/K$")
ax1.set_ylabel(r"$d(\lambda)$ (nats)")
ax1.set_title("T5: d is concave; losses are a supergradient")
ax1.legend(fontsize=8)
steps = np.arange(1, len(lowers) + 1)
ax2.plot(steps, uppers, color="#b2182b", label=r"upper: $\max_{\lambda'} \sum \lambda'_k L_k(q)$")
ax2.plot(steps, lowers, color="#2166ac", label=r"lower: $d(\lambda)$")
ax2.axhline(exact.value, color="k", ls=":", label=r"$V^*$ (exact dual solver)")
ax2.set_xscale("log")
ax2.set_xlabel("supergradient step")
ax2.set_ylabel("nats")
ax2.set_title("certified bounds close on V*")
ax2.legend(fontsize=8)
fig.tight_layout()
plt.show()
