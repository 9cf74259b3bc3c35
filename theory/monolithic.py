r"""Modular versus monolithic models: aggregate retraining and interference (THEORY §6, T8–T10).

A monolithic model retrained on the pooled data with training weights α
returns, with unlimited data, the M-projection of the mixture onto its class H:

.. math:: h_\alpha = \operatorname*{argmin}_{h\in H} \mathrm{KL}(D_\alpha \| h).

Three classes are computed in closed form (``family``):

* ``"full"`` — H = Δ(X): :math:`h_\alpha = D_\alpha`;
* ``"product"`` — product distributions over sequences x = (x_1..x_T) ∈ V^T:
  the product of :math:`D_\alpha`'s per-position marginals;
* ``"markov:r"`` — time-inhomogeneous order-r Markov chains over V^T:
  :math:`h(x) = D_\alpha(x_{1..r})\prod_{t>r} D_\alpha(x_t \mid x_{t-r..t-1})` with
  position-specific conditionals taken from :math:`D_\alpha`'s marginals
  (``markov:0`` is ``product``).

Sequence families need ``shape=(T, V)``; then n = V**T and index i is the
sequence ``itertools.product(range(V), repeat=T)[i]`` (lexicographic, first
position most significant), which is exactly NumPy's C order of a (V,)*T tensor.
All projections are tensor reductions; nothing loops over X in Python.
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
    """Markov order of ``family``: None (``"full"``), 0 (``"product"``), r (``"markov:r"``)."""
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
    Build it with :func:`model_class`.
    """

    family: str
    order: int | None
    shape: tuple[int, int] | None
    n: int

    def project(self, t) -> np.ndarray:
        r""":math:`\operatorname{argmin}_{h\in H}\mathrm{KL}(t\|h)` for a distribution t on X (moment matching)."""
        t = check_distribution(t, "t")
        if t.shape[0] != self.n:
            raise ValueError(f"t: expected length |X| = {self.n}, got {t.shape[0]}")
        if self.order is None:
            return t
        T, V = self.shape
        return _project(t, T, V, self.order)


def model_class(family: str, shape=None, n: int | None = None) -> ModelClass:
    """Parse and validate a model class: ``family`` ∈ {"full", "product", "markov:r"},
    ``shape=(T, V)`` for the sequence families, ``n`` = :math:`|X|` (must equal V**T)."""
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

    .. math:: h_\alpha = \operatorname*{argmin}_{h\in H}\mathrm{KL}(D_\alpha\|h),
              \qquad D_\alpha = \sum_k \alpha_k D_k .

    For an exponential family this is moment matching: h_α has the same
    per-position (``product``) or per-window (``markov:r``) marginals as D_α.
    ``shape=(T, V)`` is required for the sequence families. Returns shape (n,).
    """
    D, alpha, H = _validated(D, alpha, family, shape)
    return H.project(_kernels.mixture(alpha, D))


def interference(D, lam, family: str = "full", shape=None) -> float:
    r"""Interference of aggregate retraining at the mixture λ (T9):

    .. math:: I_H(\lambda) = \mathrm{KL}(D_\lambda \,\|\, h_\lambda),

    with h_λ = ``aggregate(D, lam, family, shape)``."""
    D, lam, H = _validated(D, lam, family, shape, "lam")
    t = _kernels.mixture(lam, D)
    return max(0.0, _kl(t, H.project(t)))


def jsd_gap(D, lam, family: str = "full", shape=None) -> tuple[float, float]:
    r"""Both sides of the JSD-gap identity (T9):

    .. math:: \mathrm{KL}(D_\lambda\|h_\lambda)
              = \Big[H(h_\lambda) - \sum_k \lambda_k H(D_k)\Big] - \mathrm{JSD}_\lambda(D).

    Returns ``(lhs, rhs)``; they agree to rounding for every exponential family
    with constant base measure (moment matching gives CE(D_λ, h_λ) = H(h_λ)).
    """
    D, lam, H = _validated(D, lam, family, shape, "lam")
    t = _kernels.mixture(lam, D)
    h = H.project(t)
    lhs = _kl(t, h)
    ent = _kernels.entropy_rows
    rhs = float(ent(h[None, :])[0] - lam @ ent(D) - _jsd(lam, D))
    return lhs, rhs


def window_marginals(D, shape, r: int = 0) -> list[np.ndarray]:
    r"""Per-window marginals of every row: entry s has shape (K,) + (V,)*(r+1) and holds
    :math:`D_k(x_{s..s+r})` for s = 0..T−r−1 (r = 0: the per-position marginals).

    These are the mean parameters μ_k of the ``markov:r`` (``product``) family.
    """
    D = check_stack(D, "D")
    r = check_int(r, "r", minimum=0)
    T, V = _check_shape(shape, D.shape[1], f"markov:{r}")
    if r > T - 1:
        raise ValueError(
            f"r: the window length r + 1 = {r + 1} exceeds the sequence length T = {T}"
        )
    tensor = D.reshape((D.shape[0],) + (V,) * T)
    out = []
    for s in range(T - r):
        drop = tuple(1 + a for a in range(T) if not s <= a <= s + r)
        out.append(tensor.sum(axis=drop))
    return out


def product_interference(D, lam, shape) -> float:
    r"""Closed form of T9 for product domains and the ``product`` class:

    .. math:: I(\lambda) = \sum_{t=1}^{T} \mathrm{JSD}_\lambda\big(D^{(t)}\big)
              - \mathrm{JSD}_\lambda(D),

    where :math:`D^{(t)}` stacks the domains' marginals at position t. Raises
    ``ValueError`` if some D_k is not a product distribution (then the formula
    does not apply).
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
    r"""The average expert error of T8/T10:
    :math:`\varepsilon_\lambda = \sum_k \lambda_k \mathrm{KL}(D_k\|p_k)`."""
    D = check_stack(D, "D")
    P = check_stack(P, "P", K=D.shape[0], n=D.shape[1])
    lam = check_weights(lam, D.shape[0])
    errs = np.array([_kl(D[k], P[k]) for k in range(D.shape[0])])
    active = lam > 0
    return float(lam[active] @ errs[active])
