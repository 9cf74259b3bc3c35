"""Compiled inner loop of the stochastic primal-dual algorithm (T12) for the built-in gates.

:func:`sims.primal_dual.stochastic_primal_dual` runs its steps in Python for
any gate object; for the two gates it provides (:class:`~sims.primal_dual.TabularGate`
and :class:`~sims.primal_dual.SoftmaxLinearGate`) with Λ = Δ_K and a built-in
objective, it hands runs of steps between two checkpoints to the kernels of
this module. They take the same steps in the same order, from the same uniform
draws, so the two paths agree up to rounding (a test compares them); the
compiled one takes a few microseconds per step instead of a few hundred.

One step t (``b`` = ``batch`` samples per domain and per expert), in the
notation of the module :mod:`sims.primal_dual`:

1. draw x_{k,1..b} ~ D_k and y_{k,1..b} ~ p_k by inverse CDF from the uniforms;
2. the loss of the mixture model at each x: ℓ(x) = −log p_g(x),
   p_g(x) = Σ_j g_j(x) p_j(x), and the payoff estimate
   L̂_k = mean_i ℓ(x_{k,i}) − ĉ_k, where ĉ_k is the objective's offset
   (its minibatch estimate, zero, or its exact value: ``offset_mode``);
3. the mass estimate Ẑ = (1/b) Σ_{k,i} g_k(y_{k,i});
4. one gate step on J = Σ_k λ_k L̂_k + μ Ẑ, whose gradient in g(x) is
   −(λ_k/b) p(x)/p_g(x) at a sample x of D_k and (μ/b) e_k at a sample y of p_k;
5. λ ← max(softmax(log λ + (η_λ/√t) L̂), 10⁻⁶/K), renormalized (exponentiated
   gradient on Δ_K);
6. μ ← μ + (η_μ/√t)(Ẑ − 1).
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["tabular_steps", "linear_steps"]

_JIT = dict(cache=True, nogil=True, error_model="numpy")

#: ``offset_mode``: ĉ_k is the minibatch mean of −log p_k(x_{k,i}) (the regret's
#: control variate), zero, or the exact offset c_k.
MEAN, ZERO, EXACT = 0, 1, 2


@numba.njit(**_JIT)
def _draw(cum, last, u, out):
    """Inverse-CDF draws: out[k, i] = the first j with cum[k, j] > u[k, i]·cum[k, −1]."""
    K, b = u.shape
    for k in range(K):
        row = cum[k]
        for i in range(b):
            j = np.searchsorted(row, u[k, i] * row[-1], side="right")
            out[k * b + i] = min(j, last[k])


@numba.njit(**_JIT)
def _softmax_into(z, out):
    """out = softmax(z) = exp(z − max z)/Σ exp(z − max z)."""
    top = z[0]
    for k in range(1, z.size):
        top = max(top, z[k])
    total = 0.0
    for k in range(z.size):
        out[k] = math.exp(z[k] - top)
        total += out[k]
    for k in range(z.size):
        out[k] /= total


@numba.njit(**_JIT)
def _payoffs(xs, P, logP, pg, G, offset_mode, c_exact, K, b, loss_k):
    """L̂_k = mean_i −log p_g(x_{k,i}) − ĉ_k, with p_g(x) = Σ_j G[j, i] p_j(x)."""
    for i in range(K * b):
        s = 0.0
        for j in range(K):
            s += G[j, i] * P[j, xs[i]]
        pg[i] = s
    for k in range(K):
        loss = 0.0
        own = 0.0
        for i in range(k * b, (k + 1) * b):
            loss -= math.log(pg[i])
            own -= logP[k, xs[i]]
        if offset_mode == MEAN:
            offset = own / b
        elif offset_mode == ZERO:
            offset = 0.0
        else:
            offset = c_exact[k]
        loss_k[k] = loss / b - offset
    return loss_k


@numba.njit(**_JIT)
def _dual_steps(t, lam, lam_sum, loss_k, mu, mass, lr_lam, lr_mu, z):
    """Steps 5–6: exponentiated gradient on λ ∈ Δ_K (floored at 1e-6/K), then μ; returns μ."""
    K = lam.size
    root = math.sqrt(t)
    for k in range(K):
        z[k] = math.log(max(lam[k], 1e-12)) + (lr_lam / root) * loss_k[k]
    _softmax_into(z, lam)
    total = 0.0
    for k in range(K):
        lam[k] = max(lam[k], 1e-6 / K)
        total += lam[k]
    for k in range(K):
        lam[k] /= total
        lam_sum[k] += lam[k]
    return mu + (lr_mu / root) * (mass - 1.0)


@numba.njit(**_JIT)
def tabular_steps(
    t0, U, cumD, lastD, cumP, lastP, P, logP, offset_mode, c_exact, lam, lam_sum, mu, lr,
    logits, gsum, last, sq, gate_t, slot,
):  # fmt: skip
    """Steps t0+1 … t0+len(U) with the tabular gate g(x) = softmax(θ(x)).

    ``U[s, 0]`` and ``U[s, 1]`` are the (K, b) uniforms of the domain and the
    expert draws of step t0+1+s. ``lam``, ``lam_sum`` and the gate's state
    (``logits`` θ, the lazily summed iterates ``gsum``, the step ``last`` at
    which each column was last summed, the AdaGrad sums ``sq``) are updated in
    place; ``slot`` (length n, all −1) is scratch. The gate step is the one of
    :meth:`~sims.primal_dual.TabularGate.descend`: per visited column,
    θ(x) ← θ(x) − η G(x)/√(Σ_s w_s(x)²) with w_s the spread max − min of the
    column's summed gradient G(x). Returns the new (μ, gate step counter).
    """
    steps, _, K, b = U.shape
    lr_theta, lr_lam, lr_mu = lr
    xs = np.empty(K * b, dtype=np.int64)
    ys = np.empty(K * b, dtype=np.int64)
    G = np.empty((K, K * b))
    pg = np.empty(K * b)
    loss_k = np.empty(K)
    z = np.empty(K)
    touched = np.empty(2 * K * b, dtype=np.int64)
    # Per visited column r: the gate g(x) before the step and the summed gradient.
    gate = np.empty((2 * K * b, K))
    step = np.empty((2 * K * b, K))
    for s in range(steps):
        _draw(cumD, lastD, U[s, 0], xs)
        _draw(cumP, lastP, U[s, 1], ys)
        # The visited columns, each once: the gate is computed once per column.
        m = 0
        for i in range(2 * K * b):
            x = xs[i] if i < K * b else ys[i - K * b]
            if slot[x] < 0:
                slot[x] = m
                touched[m] = x
                _softmax_into(logits[:, x], gate[m])
                for j in range(K):
                    step[m, j] = 0.0
                m += 1
        for i in range(K * b):
            r = slot[xs[i]]
            for j in range(K):
                G[j, i] = gate[r, j]
        _payoffs(xs, P, logP, pg, G, offset_mode, c_exact, K, b, loss_k)
        mass = 0.0
        for i in range(K * b):
            mass += gate[slot[ys[i]], i // b]
        mass /= b

        # The summed gradient of every visited column (repeated points add up).
        for i in range(K * b):
            x = xs[i]
            weight = -(lam[i // b] / b) / pg[i]
            for j in range(K):
                step[slot[x], j] += weight * P[j, x]
        for i in range(K * b):
            step[slot[ys[i]], i // b] += mu / b
        for r in range(m):
            x = touched[r]
            slot[x] = -1
            for j in range(K):
                gsum[j, x] += gate[r, j] * (gate_t - last[x])
            last[x] = gate_t
            high, low = step[r, 0], step[r, 0]
            for j in range(1, K):
                high, low = max(high, step[r, j]), min(low, step[r, j])
            sq[x] += (high - low) * (high - low)
            scale = lr_theta / math.sqrt(sq[x] + 1e-300)
            top = -math.inf
            for j in range(K):
                logits[j, x] -= scale * step[r, j]
                top = max(top, logits[j, x])
            for j in range(K):
                logits[j, x] -= top
        gate_t += 1
        mu = _dual_steps(t0 + s + 1, lam, lam_sum, loss_k, mu, mass, lr_lam, lr_mu, z)
    return mu, gate_t


@numba.njit(**_JIT)
def linear_steps(
    t0, U, cumD, lastD, cumP, lastP, P, logP, offset_mode, c_exact, lam, lam_sum, mu, lr,
    W, sq, wsum, gate_t, Phi, radius,
):  # fmt: skip
    """Steps t0+1 … t0+len(U) with the softmax-linear gate g(x) = softmax(W φ(x)).

    As :func:`tabular_steps`; the gate step is the one of
    :meth:`~sims.primal_dual.SoftmaxLinearGate.descend`: with G the gate at the
    2Kb sampled points and J's gradient in g, the logit gradient
    dU = G ⊙ (∇J − Σ_j G_j ∇_j J), dW = dU Φ_batch, AdaGrad per entry
    W ← W − η dW/√(Σ dW² + 1e-12), projection onto ‖W‖_F ≤ ``radius``, and the
    t-weighted sum ``wsum`` += t·W. ``W``, ``sq`` and ``wsum`` are updated in
    place. Returns the new (μ, gate step counter).
    """
    steps, _, K, b = U.shape
    d = Phi.shape[1]
    lr_theta, lr_lam, lr_mu = lr
    xs = np.empty(K * b, dtype=np.int64)
    ys = np.empty(K * b, dtype=np.int64)
    G = np.empty((K, 2 * K * b))
    pg = np.empty(K * b)
    loss_k = np.empty(K)
    z = np.empty(K)
    u = np.empty(K)
    col = np.empty(K)
    grad = np.empty(K)
    dW = np.empty((K, d))
    for s in range(steps):
        _draw(cumD, lastD, U[s, 0], xs)
        _draw(cumP, lastP, U[s, 1], ys)
        for i in range(2 * K * b):
            x = xs[i] if i < K * b else ys[i - K * b]
            for j in range(K):
                acc = 0.0
                for e in range(d):
                    acc += W[j, e] * Phi[x, e]
                u[j] = acc
            _softmax_into(u, col)
            for j in range(K):
                G[j, i] = col[j]
        _payoffs(xs, P, logP, pg, G, offset_mode, c_exact, K, b, loss_k)
        mass = 0.0
        for i in range(K * b):
            mass += G[i // b, K * b + i]
        mass /= b

        for j in range(K):
            for e in range(d):
                dW[j, e] = 0.0
        for i in range(2 * K * b):
            if i < K * b:
                x = xs[i]
                weight = -(lam[i // b] / b) / pg[i]
                for j in range(K):
                    grad[j] = weight * P[j, x]
            else:
                x = ys[i - K * b]
                for j in range(K):
                    grad[j] = 0.0
                grad[(i - K * b) // b] = mu / b
            mean = 0.0
            for j in range(K):
                mean += G[j, i] * grad[j]
            for j in range(K):
                dUj = G[j, i] * (grad[j] - mean)
                for e in range(d):
                    dW[j, e] += dUj * Phi[x, e]
        norm2 = 0.0
        for j in range(K):
            for e in range(d):
                sq[j, e] += dW[j, e] * dW[j, e]
                W[j, e] -= lr_theta * dW[j, e] / math.sqrt(sq[j, e] + 1e-12)
                norm2 += W[j, e] * W[j, e]
        norm = math.sqrt(norm2)
        gate_t += 1
        shrink = radius / norm if norm > radius else 1.0
        for j in range(K):
            for e in range(d):
                W[j, e] *= shrink
                wsum[j, e] += gate_t * W[j, e]
        mu = _dual_steps(t0 + s + 1, lam, lam_sum, loss_k, mu, mass, lr_lam, lr_mu, z)
    return mu, gate_t
