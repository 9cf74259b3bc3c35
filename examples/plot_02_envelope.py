r"""
Gates, the envelope and the representation lemma (T2)
=====================================================

A gate g assigns to every point x a weight vector :math:`g(x) \in \Delta_K` and
builds the model :math:`p_g(x) = \sum_k g_k(x) p_k(x)`. At each x the value
:math:`p_g(x)` is an average of the experts' values, so it lies between
:math:`\ell(x) = \min_k p_k(x)` and :math:`u(x) = \max_k p_k(x)`: the *envelope*.

The representation lemma says that this is the only restriction: the models of
normalized gates (total mass :math:`Z(g) = 1`) are exactly the distributions
that fit inside the envelope. :func:`theory.gates.gate_for` builds a gate for
any such distribution.
"""

import matplotlib.pyplot as plt
import numpy as np

from theory.gates import envelope, gate_for, mass, model

rng = np.random.default_rng(3)
K, n = 3, 12
P = rng.dirichlet(np.ones(n), size=K)
lo, hi = envelope(P)

# %%
# A distribution inside the envelope
# ----------------------------------
# Any point of the envelope rescaled to total mass 1 may leave it; a convex
# combination of the experts never does. We take the uniform mixture of the
# experts, move some mass within the envelope, and ask for a gate.
q = P.mean(axis=0)
shift = 0.5 * np.minimum(hi - q, q - lo)
q = q + shift * np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
q = np.clip(q, lo, hi)
q = q / q.sum()
inside = bool(np.all((lo - 1e-12 <= q) & (q <= hi + 1e-12)))
print("q inside the envelope:", inside)
if inside:
    g = gate_for(q, P)
    print("max |p_g - q| =", np.abs(model(g, P) - q).max())
    print("Z(g) =", mass(g, P))

# %%
# A gate that is not normalized
# -----------------------------
# A gate chosen freely, e.g. "always trust the expert that is largest at x",
# produces the pointwise maximum u, whose mass exceeds 1: it is not a
# distribution. Normalization is the constraint that couples the points.
greedy = (P == P.max(axis=0)).astype(float)
greedy /= greedy.sum(axis=0)
print("Z(argmax gate) =", mass(greedy, P))

# %%
# The picture
# -----------
x = np.arange(n)
fig, ax = plt.subplots(figsize=(6.6, 4.0))
ax.fill_between(x, lo, hi, step="mid", color="#d1e5f0", label=r"envelope $[\ell(x), u(x)]$")
for k in range(K):
    ax.plot(x, P[k], "o", ms=4, alpha=0.7, label=f"expert $p_{k + 1}$")
ax.step(x, q, where="mid", color="#b2182b", lw=2, label=r"$q = p_g$ with $Z(g) = 1$")
ax.set_xlabel("point x of X")
ax.set_ylabel("probability")
ax.set_title("T2: normalized gates reach exactly the envelope")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
