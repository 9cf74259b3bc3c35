r"""Modular versus monolithic models: aggregate retraining and interference (T8–T10).

Notation. X is a finite set of n outcomes; D_1, …, D_K ∈ Δ(X) are the K
domains (rows of a (K, n) array ``D``) and p_1, …, p_K the experts (rows of
``P``). For weights α ∈ Δ_K (α_k ≥ 0, Σ_k α_k = 1), D_α = Σ_k α_k D_k is the
mixture of the domains. KL(p‖h) = Σ_x p(x) log(p(x)/h(x)) is the
Kullback–Leibler divergence and H(p) = −Σ_x p(x) log p(x) the entropy, in nats.

A monolithic model is one model h from a class H (written 𝓗 in the
documentation, to tell it from the entropy), retrained on the pooled data with
training weights α. With unlimited data it returns the M-projection of the
mixture onto H,

    h_α = argmin_{h∈H} KL(D_α‖h),

.. math:: h_\alpha = \operatorname*{argmin}_{h\in \mathcal H} \mathrm{KL}(D_\alpha \| h).

Three classes are computed in closed form (``family``):

* ``"full"`` — H = Δ(X): h_α = D_α;
* ``"product"`` — product distributions over sequences x = (x_1, …, x_T) ∈ V^T
  (T positions, V symbols): the product of D_α's per-position marginals;
* ``"markov:r"`` — time-inhomogeneous order-r Markov chains over V^T:
  h(x) = D_α(x_1..x_r) Π_{t>r} D_α(x_t | x_{t−r}..x_{t−1}), with
  position-specific conditionals taken from D_α's marginals
  (``markov:0`` is ``product``):

  .. math:: h(x) = D_\alpha(x_{1..r})\prod_{t>r} D_\alpha(x_t \mid x_{t-r..t-1}).

What these functions measure, with λ ∈ Δ_K the deployment mixture (T8–T10,
the theory pages §4.5.1–§4.5.4 of the documentation, from Cortes, Mohri &
Zhong [1]_):

* T9 — the interference I_H(λ) = KL(D_λ‖h_λ) that aggregate retraining pays
  (:func:`interference`), equal to [H(h_λ) − Σ_k λ_k H(D_k)] − JSD_λ(D)
  (:func:`jsd_gap`) for exponential families, with a closed form for product
  domains (:func:`product_interference`);
* T8 and T10 — the experts' average error ε_λ = Σ_k λ_k KL(D_k‖p_k)
  (:func:`expert_error`), which bounds the modular model's divergence (T8) and,
  for a convex class H containing the experts, the interference (T10).

Sequence families need ``shape=(T, V)``; then n = V**T and index i is the
sequence ``itertools.product(range(V), repeat=T)[i]`` (lexicographic, first
position most significant), which is exactly NumPy's C order of a (V,)*T tensor.
All projections are tensor reductions; nothing loops over X in Python.

References
----------
.. [1] C. Cortes, M. Mohri and Y. Zhong, "A Theoretical Framework for Modular
   Learning of Robust Generative Models", arXiv:2602.17554, 2026, §4.5.

Examples
--------
Two domains on sequences of length T = 2 over V = 2 symbols: one always emits
``00``, the other ``11``. The product class cannot represent their even mixture
and pays (T − 1)·H(λ) = log 2 nats of interference; the full class pays nothing.

>>> import numpy as np
>>> from theory.monolithic import interference
>>> D = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
>>> round(interference(D, [0.5, 0.5], "product", shape=(2, 2)), 6)
0.693147
>>> interference(D, [0.5, 0.5], "full")
0.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from theory import _kernels
from theory.validation import check_distribution, check_int, check_stack, check_weights

__all__ = [
    "ModelClass",
    "model_class",
    "parse_family",
    "aggregate",
    "interference",
    "jsd_gap",
    "window_marginals",
    "product_interference",
    "expert_error",
]

# Tolerance for "every domain is a product distribution" in product_interference.
_PRODUCT_TOL = 1e-10


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    return float(_kernels.kl_rows(p[None, :], q)[0])


def _jsd(lam: np.ndarray, D: np.ndarray) -> float:
    return max(0.0, _kernels.jsd_sum(lam, D, _kernels.mixture(lam, D)))


def parse_family(family: str) -> int | None:
    """The Markov order of a model-class name.

    Parameters
    ----------
    family : str
        ``"full"``, ``"product"`` or ``"markov:r"`` with an integer r ≥ 0.

    Returns
    -------
    int or None
        None for ``"full"`` (all of Δ(X)), 0 for ``"product"``, r for ``"markov:r"``.

    Raises
    ------
    ValueError
        If ``family`` is none of these forms.

    Examples
    --------
    >>> parse_family("markov:2"), parse_family("product"), parse_family("full")
    (2, 0, None)
    """
    if family == "full":
        return None
    if family == "product":
        return 0
    if isinstance(family, str) and family.startswith("markov:"):
        try:
            r = int(family.split(":", 1)[1])
        except ValueError:
            r = -1
        if r >= 0:
            return r
    raise ValueError(
        f"family: expected 'full', 'product' or 'markov:r' with an integer r ≥ 0, got {family!r}"
    )


def _marginal(tensor: np.ndarray, keep: range) -> np.ndarray:
    """Marginal of a (V,)*T tensor on the consecutive positions ``keep`` (axes kept in place)."""
    drop = tuple(a for a in range(tensor.ndim) if a not in keep)
    return tensor.sum(axis=drop, keepdims=True)


def _project(t: np.ndarray, T: int, V: int, r: int) -> np.ndarray:
    r"""The order-r chain of a distribution t on V^T (T9, ``markov:r``).

    With windows :math:`W_s` = marginal of t on positions s..s+r and overlaps
    :math:`O_s` = marginal on s..s+r−1,
    :math:`h = W_0 \prod_{s\ge1} W_s / O_s`. A context with :math:`O_s = 0`
    gets the uniform conditional: its prefix has no mass, so h stays a
    distribution and is unchanged wherever t can put mass.
    """
    if r >= T - 1:
        return t
    tensor = t.reshape((V,) * T)
    h = _marginal(tensor, range(0, r + 1))
    for s in range(1, T - r):
        window = _marginal(tensor, range(s, s + r + 1))
        context = window.sum(axis=s + r, keepdims=True)
        safe = np.where(context > 0, context, 1.0)
        h = h * np.where(context > 0, window / safe, 1.0 / V)
    return np.ascontiguousarray(h.reshape(-1))


def _check_shape(shape, n: int, family: str) -> tuple[int, int]:
    if shape is None:
        raise ValueError(f"shape: the family {family!r} needs shape=(T, V) (sequences in V^T)")
    if not isinstance(shape, tuple | list | np.ndarray) or len(shape) != 2:
        raise ValueError(f"shape: expected a pair (T, V), got {shape!r:.60}")
    T = check_int(shape[0], "shape[0] (T)")
    V = check_int(shape[1], "shape[1] (V)")
    # Compared in logarithms first: V**T for a careless (T, V) = (10**6, 10**6)
    # would be an integer of millions of digits.
    if V > 1 and T * math.log(V) > math.log(n) + 1.0:
        raise ValueError(f"shape: V**T = {V}**{T} is far larger than |X| = n = {n}")
    if V**T != n:
        raise ValueError(f"shape: V**T = {V}**{T} = {V**T} does not match |X| = n = {n}")
    return T, V


@dataclass(frozen=True)
class ModelClass:
    r"""A monolithic model class H over X, with its M-projection (T9).

    ``family`` is ``"full"`` (H = Δ(X)), ``"product"`` or ``"markov:r"`` (laws on
    V^T, ``shape=(T, V)``, index i ↔ the i-th sequence in lexicographic order).
    Build it with :func:`model_class`, which validates the fields.

    Attributes
    ----------
    family : str
        The class name, as given.
    order : int or None
        The Markov order r (0 for ``"product"``; None for ``"full"``).
    shape : tuple (T, V) or None
        Sequence length and alphabet size of the sequence families.
    n : int
        The number of points of X (V**T for the sequence families; 0 for a
        ``"full"`` class built without n).

    Examples
    --------
    >>> H = model_class("product", shape=(2, 2), n=4)
    >>> H.project([0.5, 0.0, 0.0, 0.5])  # the product of the marginals (1/2, 1/2)
    array([0.25, 0.25, 0.25, 0.25])
    """

    family: str
    order: int | None
    shape: tuple[int, int] | None
    n: int

    def project(self, t) -> np.ndarray:
        r"""The M-projection argmin_{h∈H} KL(t‖h) of a distribution t on X (T9).

        .. math:: \operatorname*{argmin}_{h\in\mathcal H}\mathrm{KL}(t\,\|\,h).

        For the exponential families ``product`` and ``markov:r`` this is moment
        matching: h has the same per-window marginals as t.

        Parameters
        ----------
        t : array_like, shape (n,)
            A distribution on X.

        Returns
        -------
        ndarray, shape (n,)
            The projection h ∈ H (t itself for ``"full"``).

        Raises
        ------
        ValueError
            If ``t`` is not a distribution of length n.
        """
        t = check_distribution(t, "t")
        if t.shape[0] != self.n:
            raise ValueError(f"t: expected length |X| = {self.n}, got {t.shape[0]}")
        if self.order is None:
            return t
        T, V = self.shape
        return _project(t, T, V, self.order)


def model_class(family: str, shape=None, n: int | None = None) -> ModelClass:
    """Parse and validate a model class.

    Parameters
    ----------
    family : str
        ``"full"``, ``"product"`` or ``"markov:r"`` (see :func:`parse_family`).
    shape : tuple (T, V), optional
        Sequence length T and alphabet size V; required for the sequence families.
    n : int, optional
        The size ``n`` of X; required for the sequence families, where it must
        equal V**T.

    Returns
    -------
    ModelClass

    Raises
    ------
    ValueError
        If ``family`` is unknown, ``shape`` is missing or not a pair of
        positive integers, V**T ≠ n, or the order r exceeds T − 1.

    Examples
    --------
    >>> model_class("markov:1", shape=(3, 2), n=8).order
    1
    """
    order = parse_family(family)
    if order is None:
        return ModelClass("full", None, None, check_int(n, "n") if n is not None else 0)
    n = check_int(n, "n")
    T, V = _check_shape(shape, n, family)
    if order > T - 1:
        raise ValueError(
            f"family: the order r = {order} must be at most T − 1 = {T - 1} "
            "(an order-(T − 1) chain is already every law on V^T: use 'full')"
        )
    return ModelClass(family, order, (T, V), n)


def _validated(D, alpha, family, shape, name="alpha"):
    D = check_stack(D, "D")
    alpha = check_weights(alpha, D.shape[0], name)
    return D, alpha, model_class(family, shape, D.shape[1])


def aggregate(D, alpha, family: str = "full", shape=None) -> np.ndarray:
    r"""Aggregate retraining: the M-projection of the mixture onto the class ``family`` (T9).

    h_α = argmin_{h∈H} KL(D_α‖h) with D_α = Σ_k α_k D_k:

    .. math:: h_\alpha = \operatorname*{argmin}_{h\in H}\mathrm{KL}(D_\alpha\|h),
              \qquad D_\alpha = \sum_k \alpha_k D_k .

    For an exponential family this is moment matching: h_α has the same
    per-position (``product``) or per-window (``markov:r``) marginals as D_α.

    Parameters
    ----------
    D : array_like, shape (K, n)
        The domains, one distribution per row.
    alpha : array_like, shape (K,)
        Training weights α ∈ Δ_K.
    family : str, default "full"
        The class H: ``"full"``, ``"product"`` or ``"markov:r"``.
    shape : tuple (T, V), optional
        Required for the sequence families (n = V**T).

    Returns
    -------
    ndarray, shape (n,)
        The model h_α.

    Raises
    ------
    ValueError
        If ``D`` is not a stack of distributions, ``alpha`` not a weight vector
        of length K, or the class is invalid (see :func:`model_class`).

    Examples
    --------
    >>> import numpy as np
    >>> D = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    >>> aggregate(D, [0.5, 0.5], "product", shape=(2, 2))
    array([0.25, 0.25, 0.25, 0.25])
    """
    D, alpha, H = _validated(D, alpha, family, shape)
    return H.project(_kernels.mixture(alpha, D))


def interference(D, lam, family: str = "full", shape=None) -> float:
    r"""Interference of aggregate retraining at the mixture λ (T9).

    I_H(λ) = KL(D_λ‖h_λ), with h_λ = ``aggregate(D, lam, family, shape)`` the
    monolithic model retrained with the deployment weights themselves:

    .. math:: I_{\mathcal H}(\lambda) = \mathrm{KL}(D_\lambda \,\|\, h_\lambda).

    It is 0 for ``"full"`` (T10: a convex class has no interference); for
    separable product domains with deterministic patterns it equals
    (T − 1)·H(λ).

    Parameters
    ----------
    D : array_like, shape (K, n)
        The domains.
    lam : array_like, shape (K,)
        The mixture λ ∈ Δ_K.
    family : str, default "full"
        The class H.
    shape : tuple (T, V), optional
        Required for the sequence families.

    Returns
    -------
    float
        I_H(λ) ≥ 0, in nats.

    Raises
    ------
    ValueError
        As :func:`aggregate`.

    Examples
    --------
    See the module example.
    """
    D, lam, H = _validated(D, lam, family, shape, "lam")
    t = _kernels.mixture(lam, D)
    return max(0.0, _kl(t, H.project(t)))


def jsd_gap(D, lam, family: str = "full", shape=None) -> tuple[float, float]:
    r"""Both sides of the JSD-gap identity (T9).

    KL(D_λ‖h_λ) = [H(h_λ) − Σ_k λ_k H(D_k)] − JSD_λ(D), where
    JSD_λ(D) = Σ_k λ_k KL(D_k‖D_λ) is the generalized Jensen–Shannon divergence:

    .. math:: \mathrm{KL}(D_\lambda\|h_\lambda)
              = \Big[H(h_\lambda) - \sum_k \lambda_k H(D_k)\Big] - \mathrm{JSD}_\lambda(D).

    The two sides agree to rounding for every exponential family with constant
    base measure (moment matching gives CE(D_λ, h_λ) = H(h_λ)): the more diverse
    the domains are beyond what H can express, the larger the interference.

    Parameters
    ----------
    D : array_like, shape (K, n)
        The domains.
    lam : array_like, shape (K,)
        The mixture λ ∈ Δ_K.
    family : str, default "full"
        The class H.
    shape : tuple (T, V), optional
        Required for the sequence families.

    Returns
    -------
    lhs, rhs : float
        KL(D_λ‖h_λ) and the bracket minus JSD_λ(D), in nats.

    Raises
    ------
    ValueError
        As :func:`aggregate`.

    Examples
    --------
    >>> import numpy as np
    >>> D = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    >>> lhs, rhs = jsd_gap(D, [0.5, 0.5], "product", shape=(2, 2))
    >>> round(lhs, 6), round(rhs, 6)
    (0.693147, 0.693147)
    """
    D, lam, H = _validated(D, lam, family, shape, "lam")
    t = _kernels.mixture(lam, D)
    h = H.project(t)
    lhs = _kl(t, h)
    ent = _kernels.entropy_rows
    rhs = float(ent(h[None, :])[0] - lam @ ent(D) - _jsd(lam, D))
    return lhs, rhs


def window_marginals(D, shape, r: int = 0) -> list[np.ndarray]:
    r"""Per-window marginals of every domain: D_k(x_s, …, x_{s+r}) for every window s.

    These are the mean parameters μ_k of the ``markov:r`` (``product`` for
    r = 0) family: its M-projection matches them (T9).

    Parameters
    ----------
    D : array_like, shape (K, V**T)
        The domains, as laws on sequences of length T over V symbols.
    shape : tuple (T, V)
        Sequence length and alphabet size.
    r : int, default 0
        The Markov order; windows have length r + 1 (r = 0: single positions).

    Returns
    -------
    list of ndarray
        T − r arrays; entry s has shape (K,) + (V,)*(r+1) and holds
        D_k(x_{s..s+r}) for s = 0, …, T − r − 1.

    Raises
    ------
    ValueError
        If ``D`` is not a stack of distributions, ``shape`` does not match its
        width, or r + 1 > T.

    Examples
    --------
    >>> import numpy as np
    >>> D = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    >>> window_marginals(D, (2, 2))[0]  # position 1: symbol 0 for D_1, 1 for D_2
    array([[1., 0.],
           [0., 1.]])
    """
    D = check_stack(D, "D")
    r = check_int(r, "r", minimum=0)
    T, V = _check_shape(shape, D.shape[1], f"markov:{r}")
    if r > T - 1:
        raise ValueError(
            f"r: the window length r + 1 = {r + 1} exceeds the sequence length T = {T}"
        )
    return _window_marginals(D, T, V, r)


def _window_marginals(D: np.ndarray, T: int, V: int, r: int) -> list[np.ndarray]:
    """:func:`window_marginals` of a checked (K, V**T) stack, without the checks."""
    tensor = D.reshape((D.shape[0],) + (V,) * T)
    out = []
    for s in range(T - r):
        drop = tuple(1 + a for a in range(T) if not s <= a <= s + r)
        out.append(tensor.sum(axis=drop))
    return out


def product_interference(D, lam, shape) -> float:
    r"""Closed form of T9 for product domains and the ``product`` class.

    I(λ) = Σ_{t=1..T} JSD_λ(D^(t)) − JSD_λ(D), where D^(t) stacks the domains'
    marginals at position t:

    .. math:: I(\lambda) = \sum_{t=1}^{T} \mathrm{JSD}_\lambda\big(D^{(t)}\big)
              - \mathrm{JSD}_\lambda(D).

    An independent check of :func:`interference` for ``family="product"``.

    Parameters
    ----------
    D : array_like, shape (K, V**T)
        The domains; every row must be a product distribution.
    lam : array_like, shape (K,)
        The mixture λ ∈ Δ_K.
    shape : tuple (T, V)
        Sequence length and alphabet size.

    Returns
    -------
    float
        I(λ) in nats.

    Raises
    ------
    ValueError
        If some D_k is not a product distribution (then the formula does not
        apply), or an input is malformed.

    Examples
    --------
    >>> import numpy as np
    >>> D = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    >>> round(product_interference(D, [0.5, 0.5], (2, 2)), 6)  # (T − 1)·H(λ) = log 2
    0.693147
    """
    D = check_stack(D, "D")
    lam = check_weights(lam, D.shape[0])
    T, V = _check_shape(shape, D.shape[1], "product")
    margins = window_marginals(D, shape, 0)
    for k in range(D.shape[0]):
        prod = _project(D[k], T, V, 0)
        gap = float(np.max(np.abs(prod - D[k])))
        if gap > _PRODUCT_TOL:
            raise ValueError(
                f"D: row {k} is not a product distribution (max deviation {gap:.3g} from the "
                "product of its marginals); use interference() instead"
            )
    per_position = sum(_jsd(lam, np.ascontiguousarray(m)) for m in margins)
    return float(per_position - _jsd(lam, D))


def expert_error(D, P, lam) -> float:
    r"""The average expert error of T8/T10: ε_λ = Σ_k λ_k KL(D_k‖p_k).

    .. math:: \varepsilon_\lambda = \sum_k \lambda_k \mathrm{KL}(D_k\,\|\,p_k).

    T8: the best modular model for λ is at least this close to D_λ; T10: a
    convex class containing the experts has interference at most ε_λ.

    Parameters
    ----------
    D : array_like, shape (K, n)
        The domains.
    P : array_like, shape (K, n)
        The experts; p_k is the expert of domain k.
    lam : array_like, shape (K,)
        The mixture λ ∈ Δ_K; domains with λ_k = 0 do not count.

    Returns
    -------
    float
        ε_λ in nats; +inf if a weighted domain puts mass where its expert is 0.

    Raises
    ------
    ValueError
        If ``D`` and ``P`` are not stacks of distributions of one shape or
        ``lam`` is not a weight vector of length K.

    Examples
    --------
    >>> import numpy as np
    >>> D = np.eye(2)
    >>> P = np.array([[0.9, 0.1], [0.1, 0.9]])
    >>> round(expert_error(D, P, [0.5, 0.5]), 6)  # log(1/0.9)
    0.105361
    """
    D = check_stack(D, "D")
    P = check_stack(P, "P", K=D.shape[0], n=D.shape[1])
    lam = check_weights(lam, D.shape[0])
    errs = np.array([_kl(D[k], P[k]) for k in range(D.shape[0])])
    active = lam > 0
    return float(lam[active] @ errs[active])
