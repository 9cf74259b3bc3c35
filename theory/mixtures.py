r"""Mixture sets Λ ⊆ Δ_K: prior knowledge on the mixture weights (setup of the game, T5, T7).

Notation. K is the number of data domains D_1, …, D_K; Δ_K is the simplex of
weight vectors λ ∈ R^K with λ_k ≥ 0 and Σ_k λ_k = 1, and a point λ of Δ_K is a
mixture of the domains, D_λ = Σ_k λ_k D_k. The robust gate plays against the
worst mixture λ of the data domains, chosen in a nonempty closed convex set Λ
of the simplex Δ_K: the smaller Λ, the more the user knows about the
deployment mixture, and the smaller the robust value V*(Λ) (T7; see the theory
page §4.3 of the documentation). Six families are offered:

* :class:`Simplex` — Λ = Δ_K (no prior knowledge);
* :class:`Box` — Λ = {λ ∈ Δ_K : lo ≤ λ ≤ hi} (per-domain bounds);
* :class:`L1Ball` — Λ = {λ ∈ Δ_K : ‖λ − c‖₁ ≤ r};
* :class:`Polytope` — Λ = conv(v_1, …, v_m);
* :class:`KLBall` — Λ = {λ ∈ Δ_K : KL(λ‖c) ≤ ρ};
* :class:`L2Ball` — Λ = {λ ∈ Δ_K : ‖λ − c‖₂ ≤ r}.

Here c ∈ Δ_K is the centre of a ball (a best guess λ_0 of the mixture), r or ρ
its radius, and v_1, …, v_m given points of Δ_K. The last two are the usual
uncertainty sets of distributionally robust optimization [2]_; they are curved,
with infinitely many extreme points.

**The oracle.** Nothing in T4–T7 needs the extreme points of Λ. The dual
solver and its certificates (T5) only need the support function and one of
its maximizers (the upper certificate of T5, from Cortes, Mohri & Zhong [1]_),

    σ_Λ(c) = max_{λ∈Λ} c·λ,

.. math::

    \sigma_\Lambda(c) = \max_{\lambda\in\Lambda} c\cdot\lambda,

which every family computes exactly in :meth:`MixtureSet.argmax_linear`, and
the Euclidean projection :meth:`MixtureSet.project`. For conic solvers,
:meth:`MixtureSet.support_cone` writes σ_Λ through the duality of this inner
maximization, with a number of constraints that grows with K, not with the
number of extreme points. :meth:`MixtureSet.vertices` exists only where the
list of extreme points is finite and small.

**Infinite losses.** A loss L_k(q) is +inf when the model q misses part of
domain k, so ``argmax_linear`` accepts ±inf in ``c`` and uses 0·(±inf) = 0: a
coordinate counts only if λ weights it. The rules, in order: if some λ ∈ Λ
weights a +inf coordinate, the value is +inf (an upper certificate may always
be +inf) and λ puts as much weight there as Λ allows; otherwise, −inf
coordinates get weight 0 whenever Λ allows it, and the value is −inf only when
every λ ∈ Λ must weight one of them.

References
----------
.. [1] C. Cortes, M. Mohri and Y. Zhong, "A Theoretical Framework for Modular
   Learning of Robust Generative Models", arXiv:2602.17554, 2026, §4.3–4.4.
.. [2] A. Ben-Tal, D. den Hertog, A. De Waegenaere, B. Melenberg and
   G. Rennen, "Robust solutions of optimization problems affected by uncertain
   probabilities", Management Science 59(2), 2013.

Examples
--------
>>> from theory.mixtures import L1Ball, Simplex
>>> Simplex(3).argmax_linear([0.5, 2.0, 1.0])  # σ_Λ(c) = max_k c_k on the simplex
(2.0, array([0., 1., 0.]))
>>> L1Ball([0.5, 0.5], 0.4).argmax_linear([1.0, 0.0])  # at most 0.2 of mass moves
(0.7, array([0.7, 0.3]))
"""

from __future__ import annotations

import itertools
import numbers
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import brentq, linprog
from scipy.special import rel_entr, wrightomega

from theory.validation import SUM_TOL, check_distribution, check_int

if TYPE_CHECKING:
    import cvxpy

__all__ = [
    "SPEC_FORMS",
    "MixtureSet",
    "Simplex",
    "Box",
    "L1Ball",
    "Polytope",
    "KLBall",
    "L2Ball",
    "from_spec",
]

_TOL = 1e-9
_HUGE = float(np.finfo(np.float64).max)
# A weight left below this after moving mass out of it is a rounding residue.
_EMPTIED = 1e-15


# --------------------------------------------------------------------------- validation


def _real_array(x, name: str) -> np.ndarray:
    """``x`` as a float64 array, refusing strings, booleans, complex and ragged input.

    numpy would turn ``['0.5']`` into 0.5, ``True`` into 1.0, drop an imaginary
    part with only a warning and build an object array from ragged rows; each
    of these is an error here, named after the argument.
    """
    if isinstance(x, str | bytes):
        raise ValueError(f"{name}: expected real numbers, got the string {x!r}")
    try:
        a = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name}: expected an array of real numbers, got a ragged or non-numeric "
            f"{type(x).__name__} (rows of different lengths?)"
        ) from exc
    if np.iscomplexobj(a):
        raise ValueError(f"{name}: expected real numbers, got complex values")
    kind = a.dtype.kind
    if kind == "O":
        bad = [e for e in a.ravel() if isinstance(e, bool) or not isinstance(e, numbers.Real)]
        if bad:
            raise ValueError(
                f"{name}: expected real numbers, found {bad[0]!r} ({type(bad[0]).__name__})"
            )
    elif kind not in "iuf":
        what = {"b": "booleans", "U": "strings", "S": "bytes"}.get(kind, f"dtype {a.dtype}")
        raise ValueError(f"{name}: expected real numbers, got {what}")
    return a.astype(np.float64)


def _check_vector(x, K: int, name: str, *, allow_inf: bool = False) -> np.ndarray:
    """A float64 vector of length K; NaN always rejected, ±inf unless ``allow_inf``."""
    a = _real_array(x, name)
    if a.ndim == 0:
        raise ValueError(f"{name}: expected a vector of length K = {K}, got a scalar")
    if a.shape != (K,):
        raise ValueError(f"{name}: expected a vector of length K = {K}, got shape {a.shape}")
    nan = np.isnan(a)
    if nan.any():
        raise ValueError(f"{name}: contains NaN (first at index {int(np.argmax(nan))})")
    if not allow_inf:
        inf = np.isinf(a)
        if inf.any():
            raise ValueError(f"{name}: contains inf (first at index {int(np.argmax(inf))})")
    return a


def _check_parameter_vector(x, name: str) -> np.ndarray:
    """A nonempty finite 1-D float64 vector (a parameter such as lo, hi or center)."""
    a = _real_array(x, name)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name}: expected a nonempty 1-D vector, got shape {a.shape}")
    bad = ~np.isfinite(a)
    if bad.any():
        raise ValueError(f"{name}: contains NaN or inf (first at index {int(np.argmax(bad))})")
    return a


def _check_distribution_vector(x, name: str) -> np.ndarray:
    return check_distribution(_check_parameter_vector(x, name), name)


def _check_scalar(x, name: str) -> float:
    """A finite real number ≥ 0; booleans, strings, complex and arrays are refused."""
    if isinstance(x, np.ndarray) and x.ndim == 0:
        x = x[()]
    if isinstance(x, bool | np.bool_) or not isinstance(x, numbers.Real):
        raise ValueError(f"{name}: expected a finite real number ≥ 0, got {x!r}")
    v = float(x)
    if not np.isfinite(v) or v < 0:
        raise ValueError(f"{name}: expected a finite real number ≥ 0, got {x!r}")
    return v


# ------------------------------------------------------------------- 1-D search helper


def _increasing_root(f, hi: float) -> float:
    """A root in (0, hi] of a continuous increasing f that is ≤ 0 near 0 (``hi`` if f(hi) ≤ 0).

    A bracket [a, 16a] is found first, from 1 downward or upward in factors of
    16, so roots far from 1 (1e-260 or 1e200) cost a few dozen evaluations; f is
    never evaluated at 0. Brent's method then reaches relative precision 1e-15.
    Roots below 1e-300 are returned as the smallest bracket end tried.
    """
    b = min(1.0, hi)
    if f(b) > 0:
        while True:
            a = b / 16.0
            if a < 1e-300:
                return a
            if f(a) <= 0:
                break
            b = a
    else:
        a = b
        while f(b) <= 0:
            if b >= hi:
                return hi
            a, b = b, min(16.0 * b, hi)
    return brentq(f, a, b, xtol=1e-300, rtol=1e-15, maxiter=500)


# ------------------------------------------------------------- capped-simplex projection


def _capped_threshold(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, total: float) -> float:
    r"""A root t of f(t) = Σ_k clip(x_k − t, lo_k, hi_k) = total.

    f is continuous, non-increasing and piecewise linear with breakpoints
    x − hi and x − lo; a binary search finds the two breakpoints around the
    root and the root is then solved exactly from the coordinates that are free
    on that piece. Entries of x may be ±inf (a coordinate far beyond every
    threshold); only finite breakpoints are used.
    """
    with np.errstate(invalid="ignore", over="ignore"):
        bp = np.concatenate([x - hi, x - lo])
    bp = np.unique(bp[np.isfinite(bp)])
    if bp.size == 0:
        return 0.0

    def f(t: float) -> float:
        return float(np.clip(x - t, lo, hi).sum())

    i, j = -1, bp.size
    while j - i > 1:
        mid = (i + j) // 2
        if f(bp[mid]) >= total:
            i = mid
        else:
            j = mid
    if i < 0:
        return float(bp[0])
    if i == bp.size - 1:
        return float(bp[-1])
    a, b = float(bp[i]), float(bp[i + 1])
    y = x - (0.5 * a + 0.5 * b)
    free = (y > lo) & (y < hi)
    if not free.any():
        # f is flat: every t in [a, b] is a root. The right end puts the
        # smallest coordinate at its upper bound exactly on it, so for the
        # simplex no entry of x − t exceeds 1.
        return b
    fixed = float(np.clip(y[~free], lo[~free], hi[~free]).sum())
    t = (float(x[free].sum()) + fixed - total) / int(free.sum())
    return min(max(t, a), b)


def _capped_relative(
    v: np.ndarray, lo: np.ndarray, hi: np.ndarray, total: float = 1.0, off=None
) -> np.ndarray:
    r"""The vector y = x − t·1 with x = v − off and Σ_k clip(y_k, lo_k, hi_k) = total.

    For |v| large, t is not representable to the precision of λ (the float
    spacing near 1e17 is 16), so a first pass locates t roughly, and the second
    repeats the search in coordinates relative to a value v_j near the
    threshold: differences of nearby floats are exact (Sterbenz), so the
    coordinates that decide λ are computed without cancellation.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        x = v if off is None else v - off
        t = _capped_threshold(x, lo, hi, total)
        y = x - t
        j = int(np.argmin(np.maximum(lo - y, y - hi)))
        w = v - v[j] if off is None else (v - v[j]) - (off - off[j])
        return w - _capped_threshold(w, lo, hi, total)


def _fix_sum(lam: np.ndarray, lo: np.ndarray, hi: np.ndarray, total: float = 1.0) -> np.ndarray:
    """Spread the rounding residue total − Σλ over the coordinates with room left."""
    r = total - float(lam.sum())
    if r > 0:
        room = hi - lam
    elif r < 0:
        room = lam - lo
    else:
        return lam
    s = float(room.sum())
    if s > 0:
        lam = lam + np.sign(r) * room * min(1.0, abs(r) / s)
    return np.clip(lam, lo, hi)


def _project_capped(
    v: np.ndarray, lo: np.ndarray, hi: np.ndarray, total: float = 1.0, off=None
) -> np.ndarray:
    r"""Euclidean projection of v − off onto {lo ≤ λ ≤ hi, Σλ = total} (assumed nonempty):
    λ = clip(v − off − t, lo, hi) with t the root of the sum constraint (KKT)."""
    y = _capped_relative(v, lo, hi, total, off)
    return _fix_sum(np.clip(y, lo, hi), lo, hi, total)


def _simplex_relative(v: np.ndarray) -> np.ndarray:
    """v shifted by its simplex threshold: Π_Δ(v) = max(0, y), with y ≥ −max float.

    Every Λ ⊆ Δ_K has Π_Λ(v + s·1) = Π_Λ(v) (‖λ − v − s1‖² differs from
    ‖λ − v‖² by a constant on Σλ = 1), so projections start from y, whose
    decisive coordinates are of order 1 whatever the size of v.
    """
    z, o = np.zeros(v.size), np.ones(v.size)
    return np.maximum(_capped_relative(v, z, o), -_HUGE)


def _project_simplex(v: np.ndarray) -> np.ndarray:
    return _project_capped(v, np.zeros(v.size), np.ones(v.size))


# ------------------------------------------------------------------ small exact kernels


def _greedy_capped(c: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """max c·λ over {lo ≤ λ ≤ hi, Σλ = 1}: start at lo, fill the best coordinates first.

    Only the order of c matters, so ±inf entries are handled as the limit of
    large finite ones.
    """
    lam = lo.copy()
    budget = 1.0 - lo.sum()
    for k in np.argsort(-c, kind="stable"):
        if budget <= 0:
            break
        add = min(hi[k] - lo[k], budget)
        lam[k] += add
        budget -= add
    return lam


def _kl(lam: np.ndarray, center: np.ndarray) -> float:
    """KL(λ‖center) with 0·log 0 = 0 and +inf where λ_k > 0 = center_k."""
    return float(rel_entr(np.maximum(lam, 0.0), center).sum())


def _pull_in(q: np.ndarray, base: np.ndarray, center: np.ndarray, rho: float) -> np.ndarray:
    """q moved toward ``base`` (a point with KL(base‖center) ≤ ρ) until KL(q‖center) ≤ ρ.

    Only rounding can leave q outside; KL is convex along the segment, so the
    chord bound (1 − t) KL(base) + t KL(q) = ρ fixes a sufficient step t.
    """
    d = _kl(q, center)
    if d <= rho:
        return q
    d0 = _kl(base, center)
    if d <= d0:
        # Rounding only: q is no farther out than the base point.
        return base
    return base + (q - base) * (max(rho - d0, 0.0) / (d - d0))


def _l2_path(a: np.ndarray, d: np.ndarray, r: float, beta_max: float) -> np.ndarray:
    r"""Π_Δ(a + βd) for the largest β ∈ [0, β_max] with ‖Π_Δ(a + βd) − a‖₂ ≤ r.

    a ∈ Δ_m, so the distance is 0 at β = 0, and it grows with β (a property
    of projections onto convex sets started from a point of the set).
    """
    # Searching β for the direction d/max|d| keeps β of the order of r, even for |d| ~ 1e300.
    s = float(np.abs(d).max())
    if s == 0.0:
        return a.copy()
    d = d / s

    def at(beta: float) -> np.ndarray:
        return _project_simplex(a + beta * d)

    beta = _increasing_root(
        lambda b: float(np.linalg.norm(at(b) - a)) - r, min(beta_max * s, 1e300)
    )
    lam = at(beta)
    dist = float(np.linalg.norm(lam - a))
    return a + (lam - a) * (r / dist) if dist > r else lam


def _l2_argmax(c: np.ndarray, a: np.ndarray, r: float) -> np.ndarray:
    r"""max c·λ over {λ ∈ Δ_m : ‖λ − a‖₂ ≤ r} for finite c and a ∈ Δ_m.

    KKT: c = (λ − a)/β + n with n in the normal cone of Δ_m at λ, i.e.
    λ = Π_Δ(a + βc), with β the largest value keeping λ in the ball (the
    multiplier of Σλ = 1 is the threshold of that projection, which also
    decides the active set of λ ≥ 0). As β → ∞, Π_Δ(a + βc) tends to the point
    of the face of argmax c nearest to a; if that point is in the ball it is
    optimal.
    """
    hi_c, lo_c = float(c.max()), float(c.min())
    if r == 0.0 or hi_c == lo_c:
        return a.copy()
    s = max(abs(hi_c), abs(lo_c))
    cs = c / s - hi_c / s
    cs = cs / -float(cs.min())
    top = cs == 0.0
    lam = np.zeros_like(a)
    lam[top] = _project_simplex(a[top])
    if np.linalg.norm(lam - a) <= r:
        return lam
    return _l2_path(a, cs, r, 1e300)


def _affine_minimizer(Q: np.ndarray) -> np.ndarray:
    """argmin αᵀQα subject to Σα = 1 (the bordered KKT system, least squares if singular)."""
    n = Q.shape[0]
    A = np.zeros((n + 1, n + 1))
    A[:n, :n] = 2.0 * Q
    A[:n, n] = A[n, :n] = 1.0
    rhs = np.zeros(n + 1)
    rhs[n] = 1.0
    return np.linalg.lstsq(A, rhs, rcond=None)[0][:n]


def _nearest_in_hull(P: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""Weights w ∈ Δ_m such that Pᵀw is the Euclidean projection of y onto conv(rows of P).

    Wolfe's minimum-norm-point algorithm on the points p_i − y, run on their
    Gram matrix written as ⟨p_i, p_j⟩ − p_i·y − p_j·y: the dropped constant
    ‖y‖² changes no comparison of the algorithm (all of them are between
    affine combinations), and the form keeps the differences between points
    even when |y| is huge. The scaling by max|P y| prevents overflow.
    """
    m = P.shape[0]
    if m == 1:
        return np.ones(1)
    b = P @ y
    scale = max(1.0, float(np.abs(b).max()))
    bs = b / scale
    Q = (P @ P.T) / scale - bs[:, None] - bs[None, :]
    tol = 1e-15 * max(1.0, float(np.abs(Q).max()))
    S = [int(np.argmin(np.diag(Q)))]
    w = np.ones(1)
    for _ in range(20 * m + 100):
        g = Q[:, S] @ w
        xx = float(w @ g[S])
        j = int(np.argmin(g))
        if g[j] >= xx - tol or j in S:
            break
        S.append(j)
        w = np.append(w, 0.0)
        for _ in range(len(S) + 1):
            alpha = _affine_minimizer(Q[np.ix_(S, S)])
            if np.all(alpha > 0):
                w = alpha
                break
            neg = alpha <= 0
            den = w[neg] - alpha[neg]
            ratio = np.divide(w[neg], den, out=np.zeros_like(den), where=den > 0)
            theta = min(1.0, float(ratio.min()))
            w = w + theta * (alpha - w)
            drop = np.flatnonzero(neg)[int(np.argmin(ratio))]
            keep = w > 0
            keep[drop] = False
            if not keep.any():
                keep[int(np.argmax(w))] = True
            S = [S[i] for i in np.flatnonzero(keep)]
            w = w[keep] / w[keep].sum()
    out = np.zeros(m)
    out[S] = np.maximum(w, 0.0)
    return out / out.sum()


# ---------------------------------------------------------------------------- the sets


class MixtureSet(ABC):
    r"""A nonempty closed convex set Λ ⊆ Δ_K of mixture weights (setup of the game).

    The abstract base of the six families of this module. Solvers query Λ only
    through :meth:`argmax_linear` (the support function σ_Λ(c) = max_{λ∈Λ} c·λ
    and a maximizer), :meth:`project` and, for conic solvers,
    :meth:`support_cone`. Subclasses implement the exact oracles; the public
    methods here validate their input and apply the conventions shared by every
    family (see the module notes on infinite losses).

    Attributes
    ----------
    K : int
        The number of domains: Λ lives in R^K.
    """

    K: int

    # -- what a family provides

    @abstractmethod
    def _contains(self, lam: np.ndarray, tol: float) -> bool:
        """Membership of a finite vector of length K."""

    @abstractmethod
    def _project(self, v: np.ndarray) -> np.ndarray:
        """Euclidean projection of a finite vector of length K; the result must lie in Λ."""

    @abstractmethod
    def _argmax(self, c: np.ndarray) -> np.ndarray:
        """A maximizer of c·λ over {λ ∈ Λ : λ_k = 0 where c_k = −inf}.

        c is finite except possibly at −inf entries, and the caller guarantees
        that the face is nonempty; the returned λ is exactly 0 on those entries.
        """

    @abstractmethod
    def _support_cone(self, cp, w):
        """The conic form of σ_Λ(w) (see :meth:`support_cone`)."""

    # -- public interface

    def contains(self, lam, tol: float = _TOL) -> bool:
        r"""Whether ``lam`` lies in Λ, within ``tol``.

        That is, whether λ_k ≥ −tol, abs(Σ_k λ_k − 1) ≤ max(tol, 1e-9) and the
        family's own constraints (bounds, ball, hull) hold up to ``tol``.

        Parameters
        ----------
        lam : array_like, shape (K,)
            Finite real weights.
        tol : float, default 1e-9
            Allowed violation of each defining inequality; the sum may be off by
            max(tol, 1e-9).

        Returns
        -------
        bool

        Raises
        ------
        ValueError
            If ``lam`` is not a finite real vector of length K, or ``tol`` is not a
            finite real number ≥ 0.

        Examples
        --------
        >>> Box([0.2, 0.0], [1.0, 1.0]).contains([0.1, 0.9])
        False
        """
        lam = _check_vector(lam, self.K, "lam")
        tol = _check_scalar(tol, "tol")
        # Entries near the float64 limit overflow the sums and norms to inf,
        # which correctly answers False; the overflow itself is no news.
        with np.errstate(over="ignore"):
            return bool(self._contains(lam, tol))

    def project(self, lam) -> np.ndarray:
        r"""The Euclidean projection argmin_{μ∈Λ} ‖μ − λ‖₂ of a vector λ onto Λ.

        .. math:: \Pi_\Lambda(\lambda) = \arg\min_{\mu\in\Lambda}\|\mu - \lambda\|_2.

        Exact up to rounding, for any finite input however large (the result is
        always a point of Λ); points of Λ are returned unchanged.

        Parameters
        ----------
        lam : array_like, shape (K,)
            Any finite real vector.

        Returns
        -------
        ndarray, shape (K,)
            The point of Λ nearest to ``lam``.

        Raises
        ------
        ValueError
            If ``lam`` is not a finite real vector of length K.

        Examples
        --------
        >>> Simplex(3).project([1.0, 0.0, -1.0])
        array([1., 0., 0.])
        """
        return self._project(_check_vector(lam, self.K, "lam"))

    def argmax_linear(self, c) -> tuple[float, np.ndarray]:
        r"""The support function of Λ at ``c`` and a maximizer (the upper certificate of T5).

        σ_Λ(c) = max_{λ∈Λ} Σ_k c_k λ_k. With c = (L_1(q), …, L_K(q)), the losses
        of a model q, this is the worst case of q over Λ, an upper bound on the
        robust value V*(Λ) (T5).

        .. math:: \sigma_\Lambda(c) = \max_{\lambda\in\Lambda} c\cdot\lambda

        Parameters
        ----------
        c : array_like, shape (K,)
            Real coefficients; ±inf allowed, with 0·(±inf) = 0 (see the module
            notes: +inf wins if Λ can weight it, −inf coordinates get weight 0
            whenever Λ allows it).

        Returns
        -------
        value : float
            σ_Λ(c), possibly ±inf, never NaN.
        lam : ndarray, shape (K,)
            A maximizer in Λ.

        Raises
        ------
        ValueError
            If ``c`` is not a real vector of length K or contains NaN.

        Examples
        --------
        >>> Simplex(3).argmax_linear([0.5, 2.0, 1.0])
        (2.0, array([0., 1., 0.]))
        """
        c = _check_vector(c, self.K, "c", allow_inf=True)
        if np.isfinite(c).all():
            lam = self._argmax(c)
            return _value(c, lam), lam
        pos, neg = c == np.inf, c == -np.inf
        if pos.any():
            lam = self._argmax(pos.astype(np.float64))
            if lam[pos].sum() > 0:
                return np.inf, lam
            # No λ in Λ weights these coordinates: they contribute 0·inf = 0.
            c = np.where(pos, 0.0, c)
        if neg.any():
            lam = self._argmax(-neg.astype(np.float64))
            if lam[neg].sum() > 0:
                return -np.inf, lam
        lam = self._argmax(c)
        return _value(c, lam), lam

    def support_cone(self, w) -> tuple[cvxpy.Expression, list[cvxpy.Constraint]]:
        r"""A conic description of the support function σ_Λ(w), for cvxpy models.

        The minimum over auxiliary variables of t subject to the constraints
        equals σ_Λ(w) = max_{λ∈Λ} λ·w. Returns ``(t, constraints)``: a convex
        scalar expression t in w and in auxiliary variables created here, with

        .. math:: \min_{\text{aux}}\ t \ \text{ s.t. constraints} \;=\;
                  \sigma_\Lambda(w) = \max_{\lambda\in\Lambda} \lambda\cdot w

        for every fixed w, written through the duality of the inner maximum
        (size linear in K). Since λ ≥ 0 on Λ, σ_Λ is monotone, so a model
        ``minimize s  s.t.  L ≤ w, t ≤ s`` computes σ_Λ(L), and the dual value
        of ``L ≤ w`` is a maximizer λ (T5, T7).

        Parameters
        ----------
        w : cvxpy.Expression or array_like, shape (K,)
            An affine expression (a constant array is wrapped).

        Returns
        -------
        t : cvxpy.Expression
            Scalar, convex (DCP).
        constraints : list of cvxpy.Constraint
            Constraints on the auxiliary variables (empty for the simplex and
            polytopes, whose σ_Λ is a maximum of linear functions).

        Raises
        ------
        ValueError
            If ``w`` is not an affine expression of shape (K,).

        Examples
        --------
        >>> import cvxpy as cp
        >>> import numpy as np
        >>> t, constraints = Simplex(2).support_cone(np.array([0.3, 0.7]))
        >>> problem = cp.Problem(cp.Minimize(t), constraints)
        >>> round(problem.solve(), 6)
        0.7
        """
        import cvxpy as cp

        if not isinstance(w, cp.Expression):
            w = cp.Constant(_check_vector(w, self.K, "w"))
        if w.shape != (self.K,):
            raise ValueError(f"w: expected an expression of shape ({self.K},), got {w.shape}")
        if not w.is_affine():
            raise ValueError("w: expected an affine cvxpy expression")
        return self._support_cone(cp, w)

    def vertices(self) -> np.ndarray:
        """The extreme points of Λ as an (m, K) array, where their list is finite.

        Λ is the convex hull of these m points; solvers never need them (they
        use :meth:`argmax_linear`), but figures and tests do.

        Returns
        -------
        ndarray, shape (m, K)
            One extreme point per row.

        Raises
        ------
        NotImplementedError
            For the curved sets (:class:`KLBall`, :class:`L2Ball`).

        Examples
        --------
        >>> Box([0.2, 0.0], [1.0, 0.5]).vertices()
        array([[0.5, 0.5],
               [1. , 0. ]])
        """
        raise NotImplementedError(
            f"{self!r} has no finite vertex list (it is curved); use argmax_linear, "
            "project or support_cone"
        )

    def center(self) -> np.ndarray:
        """A point of Λ: the projection of the uniform weights (1/K, …, 1/K).

        Returns
        -------
        ndarray, shape (K,)
            Π_Λ(1/K, …, 1/K); the uniform weights themselves when they lie in Λ.

        Examples
        --------
        >>> Box([0.2, 0.0], [1.0, 0.4]).center()
        array([0.6, 0.4])
        """
        return self._project(np.full(self.K, 1.0 / self.K))

    def support(self) -> np.ndarray:
        r"""Boolean mask of the coordinates k that some λ ∈ Λ makes positive.

        Coordinate k is in the support when σ_Λ(e_k) = max_{λ∈Λ} λ_k > 0, with e_k
        the k-th unit vector. Only these domains can make the robust value V*
        infinite: V* < ∞ exactly when every such domain D_k puts mass only where
        some expert is positive (setup of the game, finiteness).

        Returns
        -------
        ndarray of bool, shape (K,)
            True where some mixture of Λ weights domain k.

        Examples
        --------
        >>> Polytope([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]]).support()
        array([ True,  True, False])
        """
        eye = np.eye(self.K)
        return np.array([self._argmax(eye[k])[k] > 0 for k in range(self.K)])

    def _on_simplex(self, lam: np.ndarray, tol: float) -> bool:
        return bool(np.all(lam >= -tol) and abs(lam.sum() - 1.0) <= max(tol, SUM_TOL))


def _value(c: np.ndarray, lam: np.ndarray) -> float:
    """c·λ over the coordinates λ weights (0·inf = 0)."""
    on = lam > 0
    return float(c[on] @ lam[on])


class Simplex(MixtureSet):
    r"""The whole simplex Λ = Δ_K (no prior knowledge).

    σ(c) = max_k c_k; projection by the sorting/threshold rule
    λ = max(0, v − t·1) with Σλ = 1. With Λ = Δ_K and perfect experts the
    robust value is the capacity of the domains (T6).

    .. math:: \sigma_{\Delta_K}(c) = \max_k c_k.

    Parameters
    ----------
    K : int
        Number of domains, ≥ 1.

    Raises
    ------
    ValueError
        If ``K`` is not an integer ≥ 1.

    Examples
    --------
    >>> Simplex(3).argmax_linear([0.5, 2.0, 1.0])
    (2.0, array([0., 1., 0.]))
    """

    def __init__(self, K: int):
        self.K = check_int(K, "K")

    def __repr__(self) -> str:
        return f"Simplex({self.K})"

    def _contains(self, lam, tol):
        return self._on_simplex(lam, tol)

    def vertices(self) -> np.ndarray:
        """The K unit vectors e_1, …, e_K, as the rows of the (K, K) identity."""
        return np.eye(self.K)

    def _project(self, v):
        return _project_simplex(v)

    def _argmax(self, c):
        lam = np.zeros(self.K)
        lam[int(np.argmax(c))] = 1.0
        return lam

    def _support_cone(self, cp, w):
        return cp.max(w), []


class Box(MixtureSet):
    r"""Λ = {λ ∈ Δ_K : lo ≤ λ ≤ hi} (per-domain bounds on the weights, T7).

    Bounds are clipped to [0, 1]. σ(c) is the greedy fill (start at lo, give the
    remaining mass to the largest c_k up to hi_k); its LP dual, used by
    :meth:`support_cone`, is

    .. math:: \sigma(w) = \min_{\mu,\ a\ge 0,\ b\ge 0}
              \mu + hi\cdot a - lo\cdot b \quad\text{s.t.}\quad \mu 1 + a - b \ge w.

    In words: λ_k ≥ lo_k and λ_k ≤ hi_k for every domain k, e.g. "the second
    domain makes at most half of the traffic".

    Parameters
    ----------
    lo, hi : array_like, shape (K,)
        Lower and upper bounds, with Σ lo ≤ 1 ≤ Σ hi and lo ≤ hi.

    Raises
    ------
    ValueError
        If the bounds are not finite real vectors of one length, if some
        lo_k > hi_k, or if the box misses the simplex (Σ lo > 1 or Σ hi < 1).

    Examples
    --------
    >>> box = Box([0.2, 0.0], [1.0, 0.5])
    >>> box.argmax_linear([0.0, 1.0])  # the second weight is capped at 0.5
    (0.5, array([0.5, 0.5]))
    """

    def __init__(self, lo, hi):
        lo = _check_parameter_vector(lo, "lo")
        hi = _check_parameter_vector(hi, "hi")
        if lo.shape != hi.shape:
            raise ValueError(
                f"lo, hi: expected two vectors of the same length K, got {lo.shape} and {hi.shape}"
            )
        if np.any(lo > hi):
            k = int(np.argmax(lo > hi))
            raise ValueError(f"lo, hi: empty box, lo[{k}] = {lo[k]} > hi[{k}] = {hi[k]}")
        lo, hi = np.clip(lo, 0.0, 1.0), np.clip(hi, 0.0, 1.0)
        if lo.sum() > 1.0 + SUM_TOL or hi.sum() < 1.0 - SUM_TOL:
            raise ValueError(
                f"lo, hi: the box does not meet the simplex (empty Λ): need sum(lo) ≤ 1 ≤ sum(hi), "
                f"got sum(lo) = {lo.sum():.6g}, sum(hi) = {hi.sum():.6g}"
            )
        self.K = lo.shape[0]
        self.lo, self.hi = lo, hi

    def __repr__(self) -> str:
        return f"Box(lo={self.lo.tolist()}, hi={self.hi.tolist()})"

    def _contains(self, lam, tol):
        in_box = np.all(lam >= self.lo - tol) and np.all(lam <= self.hi + tol)
        return bool(in_box and self._on_simplex(lam, tol))

    def vertices(self) -> np.ndarray:
        """The extreme points of the box ∩ Δ_K, one per row, sorted and without repeats."""
        # A vertex has at most one coordinate strictly between its bounds, the
        # others at lo or hi; the free one is fixed by Σλ = 1.
        pts = []
        for j in range(self.K):
            others = [k for k in range(self.K) if k != j]
            for bits in itertools.product((0, 1), repeat=self.K - 1):
                lam = np.empty(self.K)
                for k, b in zip(others, bits, strict=True):
                    lam[k] = self.hi[k] if b else self.lo[k]
                lam[j] = 1.0 - lam[others].sum()
                if self.lo[j] - _TOL <= lam[j] <= self.hi[j] + _TOL:
                    lam[j] = np.clip(lam[j], self.lo[j], self.hi[j])
                    pts.append(lam)
        return np.unique(np.round(np.array(pts), 13), axis=0)

    def _project(self, v):
        return _project_capped(v, self.lo, self.hi)

    def _argmax(self, c):
        return _greedy_capped(c, self.lo, self.hi)

    def _support_cone(self, cp, w):
        mu = cp.Variable()
        a = cp.Variable(self.K)
        cons = [a >= 0]
        if np.any(self.lo > 0):
            b = cp.Variable(self.K)
            cons += [b >= 0, mu + a - b >= w]
            return mu + self.hi @ a - self.lo @ b, cons
        return mu + self.hi @ a, [*cons, mu + a >= w]


class L1Ball(MixtureSet):
    r"""Λ = {λ ∈ Δ_K : ‖λ − center‖₁ ≤ radius}, a ball around a prior guess (T7).

    On the simplex ‖λ − c‖₁ = 2 × (mass moved), so radius ≥ 2 gives all of Δ_K.
    σ(c) moves mass min(r/2, 1 − c_j) to the best coordinate j, taking it from
    the worst ones first. Lagrange dual (for :meth:`support_cone`):

    .. math:: \sigma(w) = \min_{\mu,\ \nu\ge 0}\ c\cdot(w + \nu) + r\,\|w - \mu 1 + \nu\|_\infty.

    Projection (KKT): outside the ball the constraint is active, and the moved
    mass r/2 is added to the top coordinates by water-filling
    (λ_k = v_k − T₁ where that exceeds c_k) and removed from the bottom ones by
    capped water-filling (λ_k = max(0, v_k − T₂) where that is below c_k).

    Parameters
    ----------
    center : array_like, shape (K,)
        A point of Δ_K.
    radius : float
        r ≥ 0.

    Raises
    ------
    ValueError
        If ``center`` is not a distribution or ``radius`` is not a finite real ≥ 0.

    Examples
    --------
    >>> ball = L1Ball([0.5, 0.5], 0.4)
    >>> ball.vertices()  # λ_1 moves by at most r/2 = 0.2 from 0.5
    array([[0.3, 0.7],
           [0.7, 0.3]])
    """

    def __init__(self, center, radius):
        self.center_ = _check_distribution_vector(center, "center")
        self.K = self.center_.shape[0]
        self.radius = _check_scalar(radius, "radius")

    def __repr__(self) -> str:
        return f"L1Ball(center={self.center_.tolist()}, radius={self.radius})"

    def _contains(self, lam, tol):
        near = np.abs(lam - self.center_).sum() <= self.radius + tol
        return bool(near and self._on_simplex(lam, tol))

    def _argmax(self, c):
        lam = self.center_.copy()
        j = int(np.argmax(c))
        budget = min(self.radius / 2.0, 1.0 - lam[j])
        for i in np.argsort(c, kind="stable"):
            if budget <= 0:
                break
            if i == j or c[i] >= c[j]:
                continue
            take = min(lam[i], budget)
            if lam[i] - take <= _EMPTIED:
                # Emptied in exact arithmetic; a rounding residue would keep a
                # −inf coordinate weighted.
                take = lam[i]
            lam[i] -= take
            lam[j] += take
            budget -= take
        return lam

    def _project(self, v):
        c, r = self.center_, self.radius
        y = _simplex_relative(v)
        lam = _fix_sum(np.clip(y, 0.0, 1.0), np.zeros(self.K), np.ones(self.K))
        if np.abs(lam - c).sum() <= r:
            return lam
        m = r / 2.0
        zero = np.zeros(self.K)
        gain = np.clip(_capped_relative(y, zero, np.full(self.K, m), m, off=c), 0.0, m)
        loss = np.clip(_capped_relative(-y, zero, c, m, off=-c), 0.0, c)
        lam = np.maximum(c + gain - loss, 0.0)
        lam /= lam.sum()
        d = float(np.abs(lam - c).sum())
        return c + (lam - c) * (r / d) if d > r else lam

    def vertices(self) -> np.ndarray:
        """The extreme points of the ball ∩ Δ_K, one per row (at most 2^K of them)."""
        c, r, K = self.center_, self.radius, self.K
        if r == 0.0:
            return c[None, :].copy()
        if r >= 2.0:
            return np.eye(K)
        if K == 1:
            return np.ones((1, 1))
        if np.all(c >= r / 2.0):
            # λ ≥ 0 is inactive: {d : Σd = 0, ‖d‖₁ ≤ r} is the hull of (r/2)(e_i − e_j).
            i, j = np.nonzero(~np.eye(K, dtype=bool))
            pts = np.repeat(c[None, :], i.size, axis=0)
            pts[np.arange(i.size), i] += r / 2.0
            pts[np.arange(i.size), j] -= r / 2.0
            return np.unique(pts, axis=0)
        return _l1_vertices(c, r)

    def _support_cone(self, cp, w):
        c, r = self.center_, self.radius
        if r == 0.0:
            return c @ w, []
        mu, nu = cp.Variable(), cp.Variable(self.K)
        return c @ (w + nu) + r * cp.norm(w - mu + nu, "inf"), [nu >= 0]


def _l1_vertices(c: np.ndarray, r: float) -> np.ndarray:
    r"""Vertices of {λ ∈ Δ_K : ‖λ − c‖₁ ≤ r} (0 < r < 2, K ≥ 2) by halfspace intersection.

    Written in the coordinates z = (λ − c)/r of the hyperplane Σz = 0, where the
    set is {‖z‖₁ ≤ 1, z ≥ −c/r}: every number is of order 1 whatever r, so a
    radius of 1e-300 is resolved as well as one of 0.5 (in the coordinates of λ,
    c ± r would round to c). z₀ = (1/K − c)/4 is strictly inside.
    """
    from scipy.spatial import HalfspaceIntersection

    K = c.size
    signs = np.array(list(itertools.product((-1.0, 1.0), repeat=K)))
    A = np.vstack([-np.eye(K), signs])
    with np.errstate(over="ignore"):
        # |z_j| ≤ 1 on the ball, so a floor below −2 is never active.
        floor = np.minimum(c / r, 2.0)
    b = np.concatenate([floor, np.ones(len(signs))])
    # Orthonormal basis of {Σz = 0}: z = B y.
    B = np.linalg.svd(np.eye(K) - 1.0 / K)[0][:, : K - 1]
    Ay = A @ B
    if K == 2:
        lo = max(b[i] / Ay[i, 0] for i in range(len(b)) if Ay[i, 0] < 0)
        hi = min(b[i] / Ay[i, 0] for i in range(len(b)) if Ay[i, 0] > 0)
        ys = np.array([[lo], [hi]])
    else:
        y0 = B.T @ (0.25 * (1.0 / K - c))
        ys = HalfspaceIntersection(np.hstack([Ay, -b[:, None]]), y0).intersections
    _, first = np.unique(np.round(ys, 9), axis=0, return_index=True)
    pts = np.clip(c + r * (ys[first] @ B.T), 0.0, 1.0)
    pts /= pts.sum(axis=1, keepdims=True)
    return pts[np.lexsort(pts.T[::-1])]


class Polytope(MixtureSet):
    r"""Λ = conv(v_1, …, v_m), the convex hull of given points of Δ_K.

    σ(c) = max_i c·v_i; projection by Wolfe's minimum-norm-point algorithm
    (P. Wolfe, "Finding the nearest point in a polytope", Mathematical
    Programming 11, 1976); membership is a projection distance ≤ tol.

    .. math:: \Lambda = \Big\{\sum_{i=1}^m w_i v_i : w \in \Delta_m\Big\},
              \qquad \sigma_\Lambda(c) = \max_i c\cdot v_i.

    Parameters
    ----------
    vertices : array_like, shape (m, K)
        Points of Δ_K (duplicates and interior points allowed).

    Raises
    ------
    ValueError
        If ``vertices`` is not a nonempty real (m, K) array whose rows are
        distributions.

    Examples
    --------
    >>> hull = Polytope([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.5, 0.0]])
    >>> hull.vertices()  # the midpoint is not extreme
    array([[0., 1., 0.],
           [1., 0., 0.]])
    """

    def __init__(self, vertices):
        V = _real_array(vertices, "vertices")
        if V.ndim != 2 or V.shape[0] == 0 or V.shape[1] == 0:
            raise ValueError(
                f"vertices: expected a nonempty (m, K) array of points of Δ_K, got shape {V.shape}"
            )
        for i, v in enumerate(V):
            _check_distribution_vector(v, f"vertices[{i}]")
        self.K = V.shape[1]
        self._points = np.unique(V, axis=0)

    def __repr__(self) -> str:
        return f"Polytope({len(self._points)} points in Δ_{self.K})"

    def _hull_weights(self, lam: np.ndarray):
        m = len(self._points)
        res = linprog(
            np.zeros(m),
            A_eq=np.vstack([self._points.T, np.ones((1, m))]),
            b_eq=np.concatenate([lam, [1.0]]),
            bounds=[(0, None)] * m,
            method="highs",
        )
        return res.x if res.status == 0 else None

    def _contains(self, lam, tol):
        if not self._on_simplex(lam, tol):
            return False
        return bool(np.abs(self._project(lam) - lam).max() <= tol)

    def vertices(self) -> np.ndarray:
        """The given points that are extreme in their hull (interior ones dropped)."""
        # Drop points one at a time if they lie in the hull of the points still
        # kept; removing sequentially never empties the list, even for
        # duplicates that differ by rounding.
        V = self._points
        keep = list(range(len(V)))
        for i in range(len(V)):
            others = [j for j in keep if j != i]
            if others and Polytope(V[others])._hull_weights(V[i]) is not None:
                keep.remove(i)
        return V[keep]

    def _project(self, v):
        w = _nearest_in_hull(self._points, _simplex_relative(v))
        return np.clip(w @ self._points, 0.0, 1.0)

    def _argmax(self, c):
        neg = np.isneginf(c)
        vals = self._points @ np.where(neg, 0.0, c)
        if neg.any():
            vals[self._points[:, neg].sum(axis=1) > 0] = -np.inf
        return self._points[int(np.argmax(vals))].copy()

    def _support_cone(self, cp, w):
        return cp.max(self._points @ w), []


class KLBall(MixtureSet):
    r"""Λ = {λ ∈ Δ_K : KL(λ‖center) ≤ radius} (T7, smooth Λ).

    Here KL(λ‖λ⁰) = Σ_k λ_k log(λ_k/λ⁰_k) with λ⁰ = ``center`` and ρ = ``radius``
    in nats: the mixtures whose divergence from the best guess λ⁰ is at most ρ,
    the KL uncertainty set of distributionally robust optimization
    (Ben-Tal et al. [1]_). Coordinates with center_k = 0 stay 0. Radius 0 is {center}; radius
    ≥ −log min_k center_k is all of Δ_K (KL(·‖center) is convex, so its
    maximum on Δ_K is at a vertex e_k, where it equals −log center_k).

    Support function (exponential tilting):
    σ(c) = min_{τ≥0} τρ + τ log Σ_k λ⁰_k e^{c_k/τ}, maximizer λ_k ∝ λ⁰_k e^{c_k/τ*},

    .. math:: \sigma(c) = \min_{\tau\ge 0}\ \tau\rho + \tau\log\sum_k \lambda^0_k e^{c_k/\tau},
              \qquad \lambda_k \propto \lambda^0_k e^{c_k/\tau^*},

    with τ* the root of the monotone equation KL(λ‖λ⁰) = ρ when the
    constraint is active; if ρ ≥ −log λ⁰(A), A = argmax c on supp λ⁰, the
    maximizer is λ⁰ restricted to A (τ* = 0). :meth:`support_cone` writes the
    perspective of log-sum-exp with exponential cones.

    Projection (KKT): λ_k + α log(λ_k/λ⁰_k) = v_k − μ − α, solved by the Wright
    omega function, λ_k = α ω((v_k − μ)/α + log λ⁰_k − 1 − log α), with μ
    fixed by Σλ = 1 and α > 0 by KL(λ‖λ⁰) = ρ (both monotone 1-D roots).

    Parameters
    ----------
    center : array_like, shape (K,)
        λ⁰ ∈ Δ_K.
    radius : float
        ρ ≥ 0 (nats).

    Raises
    ------
    ValueError
        If ``center`` is not a distribution or ``radius`` is not a finite real ≥ 0.

    References
    ----------
    .. [1] A. Ben-Tal, D. den Hertog, A. De Waegenaere, B. Melenberg and
       G. Rennen, "Robust solutions of optimization problems affected by
       uncertain probabilities", Management Science 59(2), 2013.

    Examples
    --------
    >>> ball = KLBall([0.5, 0.5], 0.1)
    >>> value, lam = ball.argmax_linear([1.0, 0.0])
    >>> round(value, 4), lam.round(4)  # KL(λ‖λ⁰) = 0.1 exactly at the maximizer
    (0.7198, array([0.7198, 0.2802]))
    """

    def __init__(self, center, radius):
        center = _check_distribution_vector(center, "center")
        # Renormalized: a centre summing to 1 ± 1e-9 (accepted) would shift
        # KL(λ‖c) by up to 1e-9 and so inflate a small ball.
        self.center_ = center / center.sum()
        self.K = self.center_.shape[0]
        self.radius = _check_scalar(radius, "radius")
        self._supp = self.center_ > 0

    def __repr__(self) -> str:
        return f"KLBall(center={self.center_.tolist()}, radius={self.radius})"

    def _contains(self, lam, tol):
        if not self._on_simplex(lam, tol) or np.any(lam[~self._supp] > tol):
            return False
        s = self._supp
        return _kl(lam[s], self.center_[s]) <= self.radius + tol

    def _argmax(self, c):
        s = self._supp
        cs, c0 = c[s], self.center_[s]
        fin = np.isfinite(cs)
        top = float(cs[fin].max())
        best = cs == top
        lam = np.zeros(self.K)
        if self.radius == 0.0:
            lam[s] = c0
            return lam
        # Every finite coefficient is the top one (no tilt can help: the centre on
        # the finite coordinates is optimal, and feasible since the caller checked
        # the face), or the top face is already reachable.
        if best[fin].all() or np.log(c0[best].sum()) >= -self.radius:
            lam[s] = np.where(best, c0, 0.0) / c0[best].sum()
            return lam
        scale = float(np.abs(cs[fin]).max())
        x = np.where(fin, cs / scale - top / scale, 0.0)
        x = x / -float(x[fin].min())

        def tilt(theta: float) -> np.ndarray:
            e = np.where(fin, c0 * np.exp(theta * x), 0.0)
            return e / e.sum()

        theta = _increasing_root(lambda t: _kl(tilt(t), c0) - self.radius, 1e300)
        lam[s] = _pull_in(tilt(theta), tilt(0.0), c0, self.radius)
        return lam

    def _project(self, v):
        s = self._supp
        c0 = self.center_[s]
        lam = np.zeros(self.K)
        if c0.size == 1 or self.radius == 0.0:
            lam[s] = c0
            return lam
        y = _simplex_relative(v[s])
        p = _fix_sum(np.clip(y, 0.0, 1.0), np.zeros(c0.size), np.ones(c0.size))
        if _kl(p, c0) <= self.radius:
            lam[s] = p
            return lam
        lc = np.log(c0)

        # KL of the prox point falls from KL(p) > ρ (α → 0) to 0 (α → ∞). The
        # multiplier α is of the order of the spread of y, so the search runs
        # on y/σ and α/σ (σ a power of 2 ≥ max|y|: exact scaling, no overflow).
        sigma = 2.0 ** min(1023, int(np.ceil(np.log2(max(1.0, float(np.abs(y).max()))))))
        Y = y / sigma

        def excess(a: float) -> float:
            return self.radius - _kl(_kl_prox(Y, sigma, lc, a), c0)

        q = _kl_prox(Y, sigma, lc, _increasing_root(excess, 1e300))
        lam[s] = _pull_in(q, c0, c0, self.radius)
        return lam

    def _support_cone(self, cp, w):
        s = np.flatnonzero(self._supp)
        c0 = self.center_[s]
        if self.radius == 0.0:
            return self.center_ @ w, []
        if self.radius >= -np.log(c0.min()):
            return cp.max(w[s]), []
        tau, top, u = cp.Variable(), cp.Variable(), cp.Variable(s.size)
        cons = [
            cp.constraints.ExpCone(w[s] - top, tau * np.ones(s.size), u),
            c0 @ u <= tau,
            tau >= 0,
        ]
        return self.radius * tau + top, cons


def _kl_prox(Y: np.ndarray, sigma: float, lc: np.ndarray, A: float) -> np.ndarray:
    r"""argmin_{λ∈Δ} ½‖λ − σY‖² + σA·KL(λ‖λ⁰), with lc = log λ⁰ (all finite).

    With y = σY and α = σA, KKT gives λ_k + α log λ_k = y_k − μ − α + α lc_k,
    i.e. λ_k = α ω(z_k) with the Wright omega function (ω + log ω = z) and
    z_k = u_k + lc_k − 1 − log α, u_k = (y_k − μ)/α = (Y_k − M)/A, M = μ/σ.
    Since log ω = z − ω, log λ_k = u_k + lc_k − 1 − ω(z_k): this form is used
    where ω is small (no underflow), α ω where it is not (no cancellation).
    M solves Σλ = 1; each λ_k is increasing and convex in −M
    (dλ/du = α λ/(λ + α)), so Newton's method started left of the root, where
    Σλ ≥ 1, climbs to it monotonically.
    """
    log_alpha = np.log(sigma) + np.log(A)

    def lam_of(M: float) -> tuple[np.ndarray, np.ndarray]:
        u = (Y - M) / A
        z = u + lc - 1.0 - log_alpha
        om = wrightomega(z)
        with np.errstate(divide="ignore"):
            log_lam = np.where(z > 0, log_alpha + np.log(om), u + lc - 1.0 - om)
        return np.exp(log_lam), om

    # At M_k(x) = Y_k − x/σ − A(1 + log x − lc_k) the k-th weight equals x.
    m = Y.size
    M = float(np.max(Y - 1.0 / sigma - A * (1.0 - lc)))
    M_hi = float(np.max(Y - 1.0 / (m * sigma) - A * (1.0 - np.log(m) - lc)))
    for _ in range(200):
        lam, om = lam_of(M)
        g = float(lam.sum()) - 1.0
        slope = sigma * float((om / (1.0 + om)).sum())
        if g <= 1e-15 or not slope > 0:
            break
        M_new = min(M + g / slope, M_hi)
        if M_new <= M:
            break
        M = M_new
    lam = lam_of(M)[0]
    return lam / lam.sum()


class L2Ball(MixtureSet):
    r"""Λ = {λ ∈ Δ_K : ‖λ − center‖₂ ≤ radius} (T7, smooth Λ).

    The mixtures within Euclidean distance r of the best guess λ⁰ = ``center``.
    Radius 0 is {center}; radius ≥ √2 (the diameter of Δ_K) is all of Δ_K.
    Lagrange dual of the support function (for :meth:`support_cone`):
    σ(c) = min_{μ, ν≥0} μ + λ⁰·(c − μ1 + ν) + r‖c − μ1 + ν‖₂,

    .. math:: \sigma(c) = \min_{\mu,\ \nu\ge 0}\ \mu + \lambda^0\cdot(c - \mu 1 + \nu)
              + r\,\|c - \mu 1 + \nu\|_2 .

    Maximizer (KKT): λ(β) = Π_Δ(λ⁰ + βc) for the largest β with
    ‖λ(β) − λ⁰‖ ≤ r — the multiplier of Σλ = 1 is the threshold of the
    simplex projection, which also fixes the active set of λ ≥ 0; a 1-D
    monotone search in β. Projection: λ(γ) = Π_Δ(γv + (1 − γ)λ⁰), γ ∈ [0, 1],
    the largest γ inside the ball.

    Parameters
    ----------
    center : array_like, shape (K,)
        λ⁰ ∈ Δ_K.
    radius : float
        r ≥ 0.

    Raises
    ------
    ValueError
        If ``center`` is not a distribution or ``radius`` is not a finite real ≥ 0.

    Examples
    --------
    >>> ball = L2Ball([0.5, 0.5], 0.1)
    >>> ball.project([1.0, 0.0]).round(4)  # 0.1 away from the centre
    array([0.5707, 0.4293])
    """

    def __init__(self, center, radius):
        self.center_ = _check_distribution_vector(center, "center")
        self.K = self.center_.shape[0]
        self.radius = _check_scalar(radius, "radius")

    def __repr__(self) -> str:
        return f"L2Ball(center={self.center_.tolist()}, radius={self.radius})"

    def _contains(self, lam, tol):
        near = np.linalg.norm(lam - self.center_) <= self.radius + tol
        return bool(near and self._on_simplex(lam, tol))

    def _argmax(self, c):
        c0, r = self.center_, self.radius
        neg = np.isneginf(c)
        if not neg.any():
            return _l2_argmax(c, c0, r)
        # On the face {λ_N = 0}: ‖λ − c0‖² = ‖c0_N‖² + (1 − s)²/m + ‖λ_F − a‖², with a
        # the point of the face nearest to c0 (s = c0(F), m = |F|).
        F = ~neg
        s, m = float(c0[F].sum()), int(F.sum())
        a = c0[F] + (1.0 - s) / m
        r2 = r * r - float((c0[neg] ** 2).sum()) - (1.0 - s) ** 2 / m
        lam = np.zeros(self.K)
        lam[F] = _l2_argmax(c[F], a, np.sqrt(max(r2, 0.0)))
        return lam

    def _project(self, v):
        c0, r = self.center_, self.radius
        y = _simplex_relative(v)
        p = _fix_sum(np.clip(y, 0.0, 1.0), np.zeros(self.K), np.ones(self.K))
        if np.linalg.norm(p - c0) <= r:
            return p
        if r == 0.0:
            return c0.copy()
        # Π_Λ(v) = Π_Δ(γ v + (1 − γ) c0) for the largest γ ∈ [0, 1] inside the ball (KKT).
        return _l2_path(c0, y - c0, r, 1.0)

    def _support_cone(self, cp, w):
        c0, r = self.center_, self.radius
        if r == 0.0:
            return c0 @ w, []
        mu, nu = cp.Variable(), cp.Variable(self.K)
        return c0 @ (w + nu) + r * cp.norm(w - mu + nu, 2), [nu >= 0]


# ---------------------------------------------------------------------------- the CLI

#: The accepted command-line forms of Λ (``modgate solve --mixtures``), for help texts.
SPEC_FORMS = (
    "'simplex'; 'box:LO,HI' (the same bounds for every domain), "
    "'box:lo1;..;loK,hi1;..;hiK' or 'box:lo1;..;loK/hi1;..;hiK'; "
    "'l1:R', 'kl:R' or 'l2:R', optionally followed by '@c1;..;cK' (the center, "
    "uniform by default)"
)


def _numbers(text: str, what: str, K: int | None = None) -> list[float]:
    parts = text.split(";")
    try:
        vals = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"{what}: expected numbers separated by ';', got {text!r}") from None
    if K is not None and len(vals) not in (1, K):
        raise ValueError(f"{what}: expected 1 or K = {K} numbers, got {len(vals)}")
    return vals


def from_spec(spec: str | None, K: int) -> MixtureSet:
    r"""Parse the command-line description of Λ.

    Accepted forms: ``simplex`` (also ``None``); ``box:LO,HI`` (equal bounds),
    ``box:lo1;..;loK,hi1;..;hiK`` or ``box:lo1;..;loK/hi1;..;hiK`` (per-domain
    bounds; a single number is used for every domain); ``l1:R``, ``kl:R``,
    ``l2:R``, each optionally ``...@c1;..;cK`` (center, uniform by default).

    Parameters
    ----------
    spec : str or None
        The text of ``modgate solve --mixtures``; None means the simplex.
    K : int
        Number of domains.

    Returns
    -------
    MixtureSet
        A :class:`Simplex`, :class:`Box`, :class:`L1Ball`, :class:`KLBall` or
        :class:`L2Ball` with K coordinates.

    Raises
    ------
    ValueError
        Naming ``mixtures`` and listing the accepted forms, when ``spec`` is not
        a string of one of these forms or describes an empty set.

    Examples
    --------
    >>> from_spec("kl:0.1", 3)
    KLBall(center=[0.3333333333333333, 0.3333333333333333, 0.3333333333333333], radius=0.1)
    """
    K = check_int(K, "K")
    if spec is None:
        return Simplex(K)
    if not isinstance(spec, str):
        raise ValueError(
            f"mixtures: expected a string, got {type(spec).__name__}; accepted: {SPEC_FORMS}"
        )
    kind, sep, arg = spec.strip().partition(":")
    kind = kind.strip().lower()
    try:
        if kind == "simplex" and not sep:
            return Simplex(K)
        if kind == "box" and sep:
            if "/" in arg:
                parts = arg.split("/")
            else:
                parts = arg.split(",")
            if len(parts) != 2:
                raise ValueError(f"expected two bound lists, got {arg!r}")
            lo = _numbers(parts[0], "lo", K)
            hi = _numbers(parts[1], "hi", K)
            return Box(lo * K if len(lo) == 1 else lo, hi * K if len(hi) == 1 else hi)
        if kind in ("l1", "kl", "l2") and sep:
            r_s, at, c_s = arg.partition("@")
            radius = _numbers(r_s, "radius")
            if len(radius) != 1:
                raise ValueError(f"radius: expected one number, got {r_s!r}")
            center = _numbers(c_s, "center") if at else [1.0 / K] * K
            if len(center) != K:
                raise ValueError(f"center: expected K = {K} weights, got {len(center)}")
            cls = {"l1": L1Ball, "kl": KLBall, "l2": L2Ball}[kind]
            return cls(center, radius[0])
    except ValueError as exc:
        raise ValueError(f"mixtures: cannot parse {spec!r}: {exc}; accepted: {SPEC_FORMS}") from exc
    raise ValueError(f"mixtures: unknown form {spec!r}; accepted: {SPEC_FORMS}")
