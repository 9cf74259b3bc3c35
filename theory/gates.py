r"""Gates, the modular model and the envelope of the experts (T2).

Notation. X is a finite set of n outcomes; the experts p_1, …, p_K are
distributions on X, the rows of a K × n array P; Δ_K is the simplex of
weight vectors in R^K (entries ≥ 0 summing to 1).

A *gate* g: X → Δ_K says, at every point x, how much weight g_k(x) each
expert receives; it is stored as a K × n array whose columns lie in Δ_K. The
*modular model* and its total mass are

    p_g(x) = Σ_k g_k(x) p_k(x),    Z(g) = Σ_x p_g(x) = Σ_k E_{x~p_k}[g_k(x)],

.. math:: p_g(x) = \sum_k g_k(x)\, p_k(x),\qquad
          Z(g) = \sum_x p_g(x) = \sum_k \mathbb{E}_{x\sim p_k}[g_k(x)].

p_g is a distribution only when Z(g) = 1; those gates form the convex set of
*normalized gates* G_1 = {g : Z(g) = 1}, which contains every constant gate
g ≡ z (then p_g = Σ_k z_k p_k). The *envelope* of the experts is the pair of
pointwise bounds ℓ(x) = min_k p_k(x) and u(x) = max_k p_k(x), and
M = {q ∈ Δ(X) : ℓ ≤ q ≤ u} the distributions that lie between them.

**T2 (representation lemma).** The normalized gates produce exactly the
models in the envelope,

.. math:: \{p_g : g \in G_1\} = M = \{q \in \Delta(X) : \ell \le q \le u\},
          \qquad \ell = \min_k p_k,\quad u = \max_k p_k,

and :func:`gate_for` is the constructive inverse. Modularity is thus a
pointwise constraint: a gated model can only interpolate between its experts
at every x [1]_. See the theory page *Setup and problem formulation* of the
documentation (the paper's §3).

References
----------
.. [1] C. Cortes, M. Mohri and Y. Zhong, "A Theoretical Framework for Modular
   Learning of Robust Generative Models", arXiv:2602.17554, 2026, §3.

Examples
--------
>>> import numpy as np
>>> from theory.gates import envelope, gate_for, model
>>> P = np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
>>> envelope(P)
(array([0.2, 0.3, 0.1]), array([0.6, 0.3, 0.5]))
>>> g = gate_for([0.4, 0.3, 0.3], P)  # a q in the envelope M
>>> model(g, P)
array([0.4, 0.3, 0.3])
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
    r"""The pointwise envelope (ℓ, u) = (min_k p_k, max_k p_k) of the experts (T2).

    .. math:: \ell(x) = \min_k p_k(x), \qquad u(x) = \max_k p_k(x).

    By T2 the normalized gates reach exactly the distributions q with
    ℓ ≤ q ≤ u. Always Σ_x ℓ(x) ≤ 1 ≤ Σ_x u(x).

    Parameters
    ----------
    P : array_like, shape (K, n)
        The experts, one distribution on X per row.

    Returns
    -------
    lo : ndarray, shape (n,)
        ℓ(x) = min_k p_k(x).
    hi : ndarray, shape (n,)
        u(x) = max_k p_k(x).

    Raises
    ------
    ValueError
        If ``P`` is not a stack of distributions (2-d, finite, non-negative,
        rows summing to 1).

    Examples
    --------
    >>> envelope([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
    (array([0.2, 0.3, 0.1]), array([0.6, 0.3, 0.5]))
    """
    P = check_stack(P, "P")
    return P.min(axis=0), P.max(axis=0)


def check_gate(gate, P: np.ndarray, name: str = "gate") -> np.ndarray:
    """Validate a gate: shape (K, n) like ``P``, non-negative, columns summing to 1.

    A gate assigns each point x a weight vector g(x) ∈ Δ_K over the K experts
    (setup of T2); this checks that form. It does not require Z(g) = 1.

    Parameters
    ----------
    gate : array_like, shape (K, n)
        The gate, column x holding the weights g_1(x), …, g_K(x).
    P : ndarray, shape (K, n)
        Validated experts; only their shape is used.
    name : str, default "gate"
        Argument name used in error messages.

    Returns
    -------
    ndarray, shape (K, n)
        The gate as a C-contiguous float64 array.

    Raises
    ------
    ValueError
        If the shape differs from that of ``P``, an entry is NaN, infinite or
        negative, or a column does not sum to 1 within
        :data:`~theory.validation.SUM_TOL`.
    TypeError
        If ``gate`` is not a real numeric array (e.g. complex or strings),
        via :func:`~theory.validation.as_real_array`.

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[0.6, 0.4], [0.2, 0.8]])
    >>> check_gate([[1.0, 0.5], [0.0, 0.5]], P)
    array([[1. , 0.5],
           [0. , 0.5]])
    """
    g = as_real_array(gate, name)
    if g.shape != P.shape:
        raise ValueError(f"{name}: expected shape {P.shape} (K experts × |X|), got {g.shape}")
    if not np.all(np.isfinite(g)):
        raise ValueError(f"{name}: contains NaN or inf")
    if np.any(g < 0):
        k, x = (int(v) for v in np.argwhere(g < 0)[0])
        raise ValueError(f"{name}: entries must be non-negative, found {g[k, x]:.3g} at ({k}, {x})")
    off = np.abs(g.sum(axis=0) - 1.0)
    if np.any(off > SUM_TOL):
        x = int(np.argmax(off))
        raise ValueError(
            f"{name}: every column g(x) must lie on the simplex Δ_K; column {x} sums to "
            f"{g[:, x].sum()!r}"
        )
    return np.ascontiguousarray(g)


def model(gate, P) -> np.ndarray:
    r"""The modular model p_g(x) = Σ_k g_k(x) p_k(x), not renormalized (setup of T2).

    .. math:: p_g(x) = \sum_k g_k(x)\, p_k(x).

    Its total mass is Z(g) (:func:`mass`); it is a distribution only for a
    normalized gate, Z(g) = 1.

    Parameters
    ----------
    gate : array_like, shape (K, n)
        A gate, each column on Δ_K.
    P : array_like, shape (K, n)
        The experts, one distribution per row.

    Returns
    -------
    ndarray, shape (n,)
        The values p_g(x).

    Raises
    ------
    ValueError
        If ``P`` is not a stack of distributions or ``gate`` is not a valid
        gate of the same shape (see :func:`check_gate`).

    Examples
    --------
    >>> P = [[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]]
    >>> model([[1.0, 0.5, 0.0], [0.0, 0.5, 1.0]], P)  # the upper envelope here
    array([0.6, 0.3, 0.5])
    """
    P = check_stack(P, "P")
    g = check_gate(gate, P)
    return np.einsum("kn,kn->n", g, P)


def mass(gate, P) -> float:
    r"""The mass Z(g) = Σ_x p_g(x) of the modular model (setup of T2, T12).

    .. math:: Z(g) = \sum_x p_g(x) = \sum_k \mathbb{E}_{x\sim p_k}[g_k(x)].

    The second form shows that Z(g) can be estimated by sampling the experts,
    which the stochastic primal-dual algorithm (T12) uses.

    Parameters
    ----------
    gate : array_like, shape (K, n)
        A gate, each column on Δ_K.
    P : array_like, shape (K, n)
        The experts, one distribution per row.

    Returns
    -------
    float
        Z(g), between Σ_x ℓ(x) and Σ_x u(x); 1 for a normalized gate.

    Raises
    ------
    ValueError
        As :func:`model`.

    Examples
    --------
    >>> P = [[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]]
    >>> round(mass([[1.0, 0.5, 0.0], [0.0, 0.5, 1.0]], P), 12)
    1.4
    >>> mass([[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]], P)  # a constant gate
    1.0
    """
    return float(model(gate, P).sum())


def in_envelope(q: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Boolean mask of the x where ℓ(x) ≤ q(x) ≤ u(x) up to rounding (T2).

    The slack is relative, :data:`theory.validation.ENVELOPE_RTOL` times u(x):
    the one envelope tolerance of the package. By T2, q is the model of a
    normalized gate exactly when the mask is true everywhere and q sums to 1.
    No input is validated.

    Parameters
    ----------
    q : ndarray, shape (n,)
        Values of a model on X.
    lo, hi : ndarray, shape (n,)
        The envelope ℓ ≤ u, e.g. from :func:`envelope`.

    Returns
    -------
    ndarray of bool, shape (n,)
        True where q(x) lies in [ℓ(x), u(x)] up to the slack.

    Examples
    --------
    >>> import numpy as np
    >>> lo, hi = envelope([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
    >>> in_envelope(np.array([0.4, 0.3, 0.6]), lo, hi)
    array([ True,  True, False])
    """
    slack = ENVELOPE_RTOL * hi
    return (q >= lo - slack) & (q <= hi + slack)


def gate_for(q, P) -> np.ndarray:
    r"""A normalized gate g ∈ G_1 with p_g = q (constructive inverse of T2).

    At each x, weight θ = (q(x) − ℓ(x)) / (u(x) − ℓ(x)) (θ = 0 when u = ℓ)
    goes to an argmax expert and 1 − θ to an argmin expert, so that
    p_g(x) = θ u(x) + (1 − θ) ℓ(x) = q(x):

    .. math:: \theta(x) = \frac{q(x) - \ell(x)}{u(x) - \ell(x)}, \qquad
              g_{k^+(x)}(x) = \theta(x),\quad g_{k^-(x)}(x) = 1 - \theta(x),

    with k^+(x) ∈ argmax_k p_k(x) and k^-(x) ∈ argmin_k p_k(x) (the first
    index of each).

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
