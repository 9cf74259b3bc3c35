r"""
Water-filling: the best gate for a fixed mixture (T3)
=====================================================

When the mixture λ is known, the best normalized gate solves
:math:`\min_{q} -\sum_x D_\lambda(x) \log q(x)` over the distributions q inside the
envelope :math:`\ell \le q \le u`. Its solution has a closed form: rescale the
target :math:`t = D_\lambda` by a *water level* ν and clip it to the envelope,

.. math:: q^*(x) = \mathrm{clip}\big(t(x)/\nu,\ \ell(x),\ u(x)\big),

with ν chosen so that :math:`q^*` sums to one. We draw the target, the
envelope and the water-filled model, and find ν by hand to compare with
:func:`theory.minimax.fixed_mixture`.
"""

import matplotlib.pyplot as plt
import numpy as np
from scipy.optimize import brentq

from theory.divergences import jsd, kl, mixture
from theory.gates import envelope
from theory.minimax import fixed_mixture

rng = np.random.default_rng(0)
K, n = 2, 14
D = rng.dirichlet(0.6 * np.ones(n), size=K)
# Imperfect experts: each domain blurred toward the uniform law.
P = 0.6 * D + 0.4 / n
lam = np.array([0.5, 0.5])
t = mixture(lam, D)
lo, hi = envelope(P)

# %%
# The water level by bisection
# ----------------------------
# :math:`\phi(\nu) = \sum_x \mathrm{clip}(t(x)/\nu, \ell, u) - 1` decreases in ν,
# so its root is found by any bracketing method.


def phi(nu):
    return np.clip(t / nu, lo, hi).sum() - 1.0


nu = brentq(phi, 1e-6, 1e6, xtol=1e-14)
q_hand = np.clip(t / nu, lo, hi)
res = fixed_mixture(D, P, lam)
print(f"water level: by hand {nu:.10f}, package {res.nu:.10f}")
print(f"max |q_hand - q*| = {np.abs(q_hand - res.model).max():.2e}")
print(f"d(lam) = JSD + KL(D_lam||q*) = {jsd(lam, D) + kl(t, res.model):.6f} nats")
print(f"package value                = {res.value:.6f} nats")

# %%
# The picture
# -----------
# Where the rescaled target :math:`t/\nu` would leave the envelope the model is
# pinned to its edge; elsewhere it follows the target exactly.
order = np.argsort(-t)
x = np.arange(n)
fig, ax = plt.subplots(figsize=(6.6, 4.0))
ax.fill_between(x, lo[order], hi[order], step="mid", color="#d1e5f0", label=r"envelope $[\ell, u]$")
ax.step(x, t[order] / nu, where="mid", color="grey", ls="--", label=r"$t/\nu$ (unclipped)")
ax.step(x, res.model[order], where="mid", color="#b2182b", lw=2, label=r"$q^*$ (water-filled)")
ax.plot(x, t[order], "k.", label=r"target $t = D_\lambda$")
ax.set_xlabel("points x, sorted by t(x)")
ax.set_ylabel("probability")
ax.set_title(f"T3: q* = clip(t/ν, ℓ, u), ν = {res.nu:.4f}")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
