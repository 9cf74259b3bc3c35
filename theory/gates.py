r"""Gates, the modular model and the envelope (THEORY §2, T2).

A gate is a K×n matrix whose columns lie in Δ_K. The modular model is

.. math:: p_g(x) = \sum_k g_k(x)\, p_k(x),\qquad Z(g) = \sum_x p_g(x),

and the normalized gates :math:`G_1 = \{g : Z(g) = 1\}` represent exactly the
envelope :math:`M = \{q \in \Delta(X) : \ell \le q \le u\}` with
:math:`\ell = \min_k p_k`, :math:`u = \max_k p_k` (T2).
"""

from __future__ import annotations

import numpy as np

from theory import _kernels
from theory.validation import (
    ENVELOPE_RTOL,
    SUM_TOL,
    _distribution,
    _prepare,
    _stack,
    as_real_array,
    check_distribution,
    check_stack,
)

__all__ = ["envelope", "model", "mass", "gate_for", "check_gate", "in_envelope"]


def envelope(P) -> tuple[np.ndarray, np.ndarray]:
    r"""The pointwise envelope :math:`(\ell, u) = (\min_k p_k, \max_k p_k)` of the experts (T2)."""
    P = check_stack(P, "P")
    return P.min(axis=0), P.max(axis=0)


def check_gate(gate, P: np.ndarray, name: str = "gate") -> np.ndarray:
    """Validate a gate: shape (K, n) like ``P``, non-negative, columns summing to 1."""
    g = as_real_array(gate, name)
    if g.shape != P.shape:
        raise ValueError(f"{name}: expected shape {P.shape} (K experts × |X|), got {g.shape}")
    if not np.all(np.isfinite(g)):
        raise ValueError(f"{name}: contains NaN or inf")
    if np.any(g < 0):
        i = np.argwhere(g < 0)[0]
        raise ValueError(
            f"{name}: entries must be non-negative, found {g[tuple(i)]:.3g} at {tuple(i)}"
        )
    off = np.abs(g.sum(axis=0) - 1.0)
    if np.any(off > SUM_TOL):
        x = int(np.argmax(off))
        raise ValueError(
            f"{name}: every column g(x) must lie on the simplex Δ_K; column {x} sums to "
            f"{g[:, x].sum()!r}"
        )
    return np.ascontiguousarray(g)


def model(gate, P) -> np.ndarray:
    r"""The modular model :math:`p_g(x) = \sum_k g_k(x) p_k(x)`, shape (n,) (not renormalized)."""
    P = check_stack(P, "P")
    g = check_gate(gate, P)
    return np.einsum("kn,kn->n", g, P)


def mass(gate, P) -> float:
    r"""The mass :math:`Z(g) = \sum_x p_g(x) = \sum_k \mathbb{E}_{x\sim p_k}[g_k(x)]`."""
    return float(model(gate, P).sum())


def in_envelope(q: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Boolean mask of the x where ``lo(x) <= q(x) <= hi(x)`` up to rounding.

    The slack is relative, :data:`theory.validation.ENVELOPE_RTOL` times u(x):
    the one envelope tolerance of the package (T2).
    """
    slack = ENVELOPE_RTOL * hi
    return (q >= lo - slack) & (q <= hi + slack)


def gate_for(q, P) -> np.ndarray:
    r"""A normalized gate :math:`g \in G_1` with :math:`p_g = q` (constructive inverse of T2).

    At each x, weight :math:`\theta = (q(x) - \ell(x)) / (u(x) - \ell(x))` (θ = 0 when
    u = ℓ) goes to an argmax expert and 1 − θ to an argmin expert.

    One compiled pass over P and q checks both, finds ℓ, u and their first
    argmin/argmax per x and writes the gate: the gate itself is the only
    array of the size of P that is allocated.

    Parameters
    ----------
    q : array_like, shape (n,)
        A distribution on X inside the envelope of the experts.
    P : array_like, shape (K, n)
        The experts, one distribution per row.

    Returns
    -------
    ndarray, shape (K, n)
        The gate g, each column on the simplex Δ_K, with Σ_k g_k p_k = q.

    Raises
    ------
    ValueError
        If ``q`` is not a distribution or leaves the envelope
        :math:`\ell \le q \le u` at some x (``P`` is checked first).

    Examples
    --------
    >>> gate_for([0.5, 0.5], [[1.0, 0.0], [0.0, 1.0]])
    array([[0.5, 0.5],
           [0.5, 0.5]])
    """
    arrays = _prepare((P, "P", 2), (q, "q", 1))
    if arrays is None or arrays[1].shape[0] != arrays[0].shape[1]:
        P = check_stack(P, "P")
        q = check_distribution(q, "q")
        if q.shape[0] != P.shape[1]:
            raise ValueError(f"q: expected length |X| = {P.shape[1]}, got {q.shape[0]}")
        arrays = [P, q]
    P, q = arrays
    g, scans, x = _kernels.gate(q, P, ENVELOPE_RTOL)
    _stack(P, "P", scans[0])
    _distribution(q, "q", scans[1])
    if x is not None:
        lo, hi = P[:, x].min(), P[:, x].max()
        raise ValueError(
            f"q: not representable by a gate (outside the envelope of P, T2): at index {x}, "
            f"q = {q[x]:.6g} is not within [min_k p_k, max_k p_k] = [{lo:.6g}, {hi:.6g}]"
        )
    return g
