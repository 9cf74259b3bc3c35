"""Plain-numpy references of the divergence kernels, used only by the tests.

Written independently of theory.divergences: scipy's ``xlogy``/``rel_entr`` carry
the conventions 0·log 0 = 0 and KL = +inf where p > 0 = q.
"""

import numpy as np
from scipy.special import rel_entr, xlogy


def entropy(p):
    return float(-xlogy(p, p).sum())


def cross_entropy(p, q):
    with np.errstate(divide="ignore"):
        return float(-xlogy(p, q).sum())


def kl(p, q):
    return float(rel_entr(p, q).sum())


def kl_rows(D, q):
    return rel_entr(D, q[None, :]).sum(axis=1)


def mixture(lam, D):
    return np.asarray(lam) @ np.asarray(D)


def jsd(lam, D):
    lam = np.asarray(lam)
    m = mixture(lam, D)
    return float(entropy(m) - sum(lam[k] * entropy(D[k]) for k in range(len(lam))))
