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


# -- references of the remaining kernels of theory._kernels --------------------


def entropy_rows(D):
    return -xlogy(D, D).sum(axis=1)


def cross_entropy_rows(D, q):
    with np.errstate(divide="ignore"):
        return -xlogy(D, q[None, :]).sum(axis=1)


def scan_rows(a):
    """Row sums and whether every entry is finite and non-negative."""
    return a.sum(axis=1), bool(np.all(np.isfinite(a)) and np.all(a >= 0))


def fill_pass(t, lo, hi, s):
    """Σ clip(t·s, ℓ, u), the right/left slopes and the nearest breakpoints of Φ at s."""
    on = t > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(on, lo / np.where(on, t, 1.0), np.nan)
        b = np.where(on, hi / np.where(on, t, 1.0), np.nan)
        total = np.where(on, np.clip(t * s, lo, hi), lo).sum()
    up = t[on & (a <= s) & (s < b)].sum()
    down = t[on & (a < s) & (s <= b)].sum()
    bps = np.concatenate([a[on], b[on]])
    left = bps[bps < s].max(initial=0.0)
    right = bps[bps > s].min(initial=np.inf)
    return total, up, down, left, right


def gram(D, t, q=None, lo=None, hi=None):
    """A = Σ_F D_j D_k / t, a = Σ_F D_k, T = Σ_F t over the free set F."""
    free = t > 0
    if q is not None:
        free &= (lo < q) & (q < hi)
    Df, tf = D[:, free], t[free]
    return (Df / tf) @ Df.T, Df.sum(axis=1), float(tf.sum())


def envelope(P):
    """(ℓ, u) = column minima and maxima of P."""
    return P.min(axis=0), P.max(axis=0)


def gate(q, P, rtol):
    """The T2 gate of q (θ to the first argmax, 1 − θ to the first argmin) and the
    first column outside [ℓ − rtol·u, u + rtol·u] (None if there is none)."""
    lo, hi = envelope(P)
    slack = rtol * hi
    ok = (q >= lo - slack) & (q <= hi + slack)
    width = hi - lo
    with np.errstate(over="ignore"):
        theta = np.divide(q - lo, width, out=np.zeros_like(q), where=width > 0)
    theta = np.clip(theta, 0.0, 1.0)
    cols = np.arange(q.shape[0])
    g = np.zeros_like(P)
    g[P.argmin(axis=0), cols] += 1.0 - theta
    g[P.argmax(axis=0), cols] += theta
    return g, (None if ok.all() else int(np.argmin(ok)))


def first_infeasible(D, u, active):
    """First (k, x) in row-major order with active[k] and D[k, x] > 0 = u[x], or None."""
    bad = (D > 0) & (u == 0)[None, :] & np.asarray(active, bool)[:, None]
    return tuple(int(v) for v in np.argwhere(bad)[0]) if bad.any() else None


def _gate_terms(W, Phi, P):
    """Softmax-linear gates of a stack of weights W (r, K, d): G (r, K, n), p_g (r, n), and
    the logit derivative of −log p_g, G (1 − P/p_g), by vectorized numpy."""
    U = np.einsum("rkd,nd->rkn", W, Phi)
    G = np.exp(U - U.max(axis=1, keepdims=True))
    G /= G.sum(axis=1, keepdims=True)
    pg = (G * P[None]).sum(axis=1)
    return G, pg, G * (1.0 - P[None] / pg[:, None, :])


def _ball(W, B):
    norm = np.sqrt((W**2).sum(axis=(1, 2), keepdims=True))
    return W * np.minimum(1.0, B / np.maximum(norm, 1e-300))


def train_gates(w_hat, Phi, P, B, steps, lr):
    """Descent–ascent on Σ_x ŵ(x)(−log p_g(x)) + μ(Z − 1), all draws at once (numpy)."""
    W = np.zeros((w_hat.shape[0], P.shape[0], Phi.shape[1]))
    sq = np.zeros_like(W)
    mu = np.ones(w_hat.shape[0])
    for t in range(1, steps + 1):
        G, pg, J = _gate_terms(W, Phi, P)
        dU = w_hat[:, None, :] * J + mu[:, None, None] * G * (P[None] - pg[:, None, :])
        dW = np.einsum("rkn,nd->rkd", dU, Phi)
        sq += dW**2
        W = _ball(W - lr * dW / np.sqrt(sq + 1e-12), B)
        mu += (lr / np.sqrt(t)) * (pg.sum(axis=1) - 1.0)
    return W


def ascend_gap(v, W0, Phi, P, B, steps, lr):
    """Best value of Σ_x v(x)(−log p_g(x)) met by projected AdaGrad ascent from W0 (numpy)."""
    W, sq = W0.copy(), np.zeros_like(W0)
    best = np.full(W.shape[0], -np.inf)
    for _ in range(steps):
        _, pg, J = _gate_terms(W, Phi, P)
        best = np.maximum(best, -(v * np.log(pg)).sum(axis=1))
        dW = np.einsum("rkn,nd->rkd", v[:, None, :] * J, Phi)
        sq += dW**2
        W = _ball(W + lr * dW / np.sqrt(sq + 1e-12), B)
    _, pg, _ = _gate_terms(W, Phi, P)
    return np.maximum(best, -(v * np.log(pg)).sum(axis=1))
