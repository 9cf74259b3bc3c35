r"""Channel capacity by Blahut–Arimoto with a certified sandwich (T6).

Notation. The K domains D_1, …, D_K are distributions on a finite set X of n
points (rows of a (K, n) array D). For weights λ ∈ Δ_K (λ_k ≥ 0, Σ λ_k = 1)
the mixture is D_λ = Σ_k λ_k D_k, and the generalized Jensen–Shannon
divergence JSD_λ(D) = Σ_k λ_k KL(D_k‖D_λ) (T1) is the mutual information
between a domain index k ~ λ and a point x ~ D_k. Read D as a noisy channel
that maps an input k to an output x with probability D_k(x); its Shannon
capacity is the largest mutual information any input law can reach:

    C(D) = max_{λ ∈ Δ_K} JSD_λ(D) = max_λ Σ_k λ_k KL(D_k‖D_λ).

**T6 (least-favorable mixture = capacity).** With perfect experts (P = D)
and the divergence objective, the dual function of the robust problem is
d(λ) = JSD_λ(D), so [1]_

.. math:: V^*(\Delta_K) = C(D) = \max_{\lambda \in \Delta_K} \mathrm{JSD}_\lambda(D)
          = \max_\lambda \sum_k \lambda_k \mathrm{KL}(D_k \| D_\lambda).

This is the redundancy–capacity theorem [2]_: C(D) = min_{q ∈ Δ(X)} max_k
KL(D_k‖q), the minimizer is the capacity-achieving output law q* = D_{λ*}
(unique), λ* is a capacity-achieving input law (the least-favorable mixture)
and the robust gate is the constant gate g ≡ λ*.

For every point r of the simplex, with κ_k(r) = KL(D_k‖D_r),

    log Σ_k r_k exp(κ_k(r)) ≤ C(D) ≤ max_k κ_k(r),

.. math:: \log \sum_k r_k e^{\kappa_k(r)} \;\le\; C(D) \;\le\; \max_k \kappa_k(r),

so every iterate of the solver carries a certificate, whatever step produced
it. The upper bound also certifies the output law:
KL(q*‖D_r) ≤ max_k κ_k(r) − C(D) (compensation identity of T1 applied at
λ*). See the theory page *The least-favorable mixture* of the documentation
(the paper's §4.4).

References
----------
.. [1] C. Cortes, M. Mohri and Y. Zhong, "A Theoretical Framework for Modular
   Learning of Robust Generative Models", arXiv:2602.17554, 2026, §4.4.
.. [2] T. M. Cover and J. A. Thomas, *Elements of Information Theory*, 2nd
   ed., Wiley, 2006, §10.8 (computation of channel capacity, Blahut–Arimoto)
   and §13.1 (redundancy and capacity).

Examples
--------
>>> import numpy as np
>>> from theory.capacity import blahut_arimoto
>>> result = blahut_arimoto(np.eye(2))  # two noiseless inputs: C = log 2
>>> round(result.capacity, 6), result.prior
(0.693147, array([0.5, 0.5]))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from tqdm.auto import tqdm

from theory import _kernels
from theory.results import Bounded, Layout, certified_interval
from theory.validation import (
    check_callable,
    check_flag,
    check_int,
    check_labels,
    check_positive,
    check_stack,
)

__all__ = ["CapacityResult", "blahut_arimoto"]

# log r_k never drops below this (r_k >= e^-700 after normalization, up to a
# factor K): an input can always be revived by later steps, and -log r_k, which
# bounds KL(D_k || D_r) from above, stays finite.
_LOG_FLOOR = -700.0

# The accelerated step r <- r exp(gamma kappa) starts at gamma = 1 (plain
# Blahut–Arimoto), grows after every step that increases the mutual
# information and falls back to 1 after one that does not.
_GAMMA_MAX = 16.0
_GAMMA_GROWTH = 2.0

# Newton steps are tried from the start; after an attempt that stops short of
# the tolerance, the next one waits until the gap has shrunk tenfold. Inputs
# below this fraction of the largest weight count as outside the support.
_SUPPORT_RTOL = 1e-9
_NEWTON_STEPS = 30


def _channel_pass(D: np.ndarray, r: np.ndarray, hessian: bool):
    r"""Cross-entropies :math:`\mathrm{CE}(D_k, D_r)` and, if ``hessian``,
    :math:`A_{jk} = \sum_x D_j D_k / D_r` over supp D_r (else an empty matrix)."""
    t = _kernels.mixture(r, D)
    ce = _kernels.cross_entropy_rows(D, t)
    return ce, (_kernels.gram(D, t)[0] if hessian else np.zeros((0, 0)))


@dataclass(frozen=True)
class CapacityResult(Bounded):
    """Capacity of the channel k → x with rows D_k, with certified bounds (T6).

    Returned by :func:`blahut_arimoto`; ``lower ≤ C(D) ≤ upper`` always holds.
    ``gap`` = upper − lower; ``print(result)`` shows all of it. Values in nats.

    Parameters
    ----------
    capacity : float
        The midpoint of the certified interval (also ``value``).
    lower, upper : float
        The best bounds over all iterates.
    prior : ndarray, shape (K,)
        The input law r of the best certificate: an approximation of the
        least-favorable mixture λ*.
    output : ndarray, shape (n,)
        D_r = Σ_k r_k D_k, with KL(q*‖output) ≤ upper − lower for the
        capacity-achieving output law q*.
    iterations : int
        Iterates evaluated after the uniform start.
    converged : bool
        False when ``max_iter`` was reached before the gap fell below ``tol``.
    history : ndarray, shape (iterations + 1, 2)
        One row (lower, upper) per evaluated iterate, the start included.
    labels : tuple of str, optional
        Domain names for printing (None: D_1 … D_K).

    Examples
    --------
    >>> r = blahut_arimoto([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    >>> r.lower <= r.capacity <= r.upper, r.history.shape[1]
    (True, 2)
    """

    capacity: float
    lower: float
    upper: float
    prior: np.ndarray
    output: np.ndarray
    iterations: int
    converged: bool
    history: np.ndarray
    labels: tuple[str, ...] | None = None

    _layout: ClassVar[Layout] = Layout(
        "Capacity of the domains (T6, Blahut–Arimoto)",
        symbol="C(D)",
        weights=(("prior", "λ* (input law)"),),
    )

    @property
    def value(self) -> float:
        """The capacity C(D) in nats (the midpoint of the certified interval).

        Examples
        --------
        >>> blahut_arimoto([[1.0, 0.0], [1.0, 0.0]]).value  # identical rows: C = 0
        0.0
        """
        return self.capacity


@dataclass
class _Point:
    """One evaluated input law: its log weights, divergences and certificates."""

    log_r: np.ndarray
    r: np.ndarray
    kappa: np.ndarray
    info: float
    lower: float
    upper: float
    hessian: np.ndarray

    @property
    def gap(self) -> float:
        return self.upper - self.lower


def _evaluate(D: np.ndarray, H: np.ndarray, log_r: np.ndarray, hessian: bool) -> _Point:
    """Divergences κ_k = KL(D_k‖D_r) = CE(D_k, D_r) − H(D_k) and the sandwich at r (T6).

    With ``hessian``, the same pass also returns the matrix A of the Newton step.
    """
    r = np.exp(log_r)
    ce, A = _channel_pass(D, r, hessian)
    # KL ≥ 0: a rounding residue below 0 (a single domain, say) is reported as 0.
    kappa = np.maximum(ce - H, 0.0)
    upper = float(kappa.max())
    on = r > 0
    # KL(D_k||D_r) <= -log r_k because D_r >= r_k D_k; the cap only matters if an
    # underflow in D_r made a divergence infinite, and lowering a divergence
    # keeps the lower bound valid (it increases with every kappa_k).
    capped = np.minimum(kappa[on], -log_r[on])
    top = capped.max()
    lower = float(top + np.log(np.sum(r[on] * np.exp(capped - top))))
    info = float(np.dot(r[on], capped))
    return _Point(log_r, r, kappa, info, lower, upper, A)


def _normalize_log(v: np.ndarray) -> np.ndarray:
    v = v - v.max()
    v = v - np.log(np.sum(np.exp(v)))
    return np.maximum(v, _LOG_FLOOR)


def _newton_candidate(D: np.ndarray, p: _Point) -> np.ndarray | None:
    r"""One Newton step for max JSD_λ(D) on the face of the current support.

    On that face the objective has gradient κ − 1 and Hessian −A with
    :math:`A_{jk} = \sum_x D_j(x) D_k(x) / D_\lambda(x)`; the step solves the
    equality-constrained system [[A, 1], [1ᵀ, 0]] (d, ν) = (κ, 0) in the
    least-squares sense (A is singular when rows are linearly dependent).
    While the step leaves the simplex, the input it pushes furthest below zero
    (relative to its weight) leaves the support and the step is recomputed.
    Returns log weights, or None if no step is left.
    """
    A_full = p.hessian if p.hessian.size else _channel_pass(D, p.r, True)[1]
    support = np.flatnonzero(p.r >= _SUPPORT_RTOL * p.r.max())
    while support.size > 1:
        m = support.size
        kkt = np.zeros((m + 1, m + 1))
        kkt[:m, :m] = A_full[np.ix_(support, support)]
        kkt[:m, m] = kkt[m, :m] = 1.0
        rhs = np.append(p.kappa[support], 0.0)
        lam = p.r[support] + np.linalg.lstsq(kkt, rhs, rcond=None)[0][:m]
        if np.all(lam > 0):
            out = np.full(p.r.shape, -np.inf)
            out[support] = np.log(lam / lam.sum())
            return out
        support = np.delete(support, np.argmin(lam / p.r[support]))
    return None


def blahut_arimoto(
    D,
    tol: float = 1e-12,
    max_iter: int = 10_000,
    *,
    callback: Callable[[int, np.ndarray, float, float], None] | None = None,
    progress: bool = False,
    labels=None,
) -> CapacityResult:
    r"""Capacity C(D) = max_{λ ∈ Δ_K} JSD_λ(D) with a certificate (T6).

    .. math:: C(D) = \max_{\lambda\in\Delta_K} \mathrm{JSD}_\lambda(D)
              = \min_{q\in\Delta(X)} \max_k \mathrm{KL}(D_k\|q).

    By T6, C(D) is also V*(Δ_K) for perfect experts and the divergence
    objective, and (redundancy–capacity) C(D) = min_q max_k KL(D_k‖q),
    attained at the output law q* = D_{λ*}.

    Iterates r on the simplex, κ_k(r) = KL(D_k‖D_r):

    - Blahut–Arimoto step [1]_, accelerated: :math:`r_k \leftarrow r_k e^{\gamma
      \kappa_k(r)} / \sum_j r_j e^{\gamma \kappa_j(r)}`; γ = 1 is the classical
      monotone step, γ > 1 is kept only while the mutual information
      :math:`\sum_k r_k \kappa_k(r) = \mathrm{JSD}_r(D)` increases.
    - Near the optimum, Newton steps on the face of the current support
      (quadratic convergence to the equalizer κ_k = C on the support).

    Every evaluated iterate gives the certified sandwich

    .. math:: \log\sum_k r_k e^{\kappa_k(r)} \le C(D) \le \max_k \kappa_k(r),

    and the solver stops when the best upper minus the best lower bound is at
    most ``tol`` (nats).

    Parameters
    ----------
    D : array_like, shape (K, n)
        The channel: row k is the distribution D_k on X (zeros allowed).
    tol : float, default 1e-12
        Target certified gap upper − lower, in nats (> 0).
    max_iter : int, default 10000
        Maximum number of iterates evaluated after the uniform start (≥ 0).
    callback : callable, optional
        Called as ``callback(i, r, lower, upper)`` at every evaluated iterate r
        (i = 0 is the start), with that iterate's own bounds.
    progress : bool, default False
        Show a progress bar.
    labels : sequence of str, optional
        Names of the domains in the printed result (default D_1 … D_K).

    Returns
    -------
    CapacityResult
        C(D) with its certified interval, the input law and the output law.

    Raises
    ------
    ValueError
        If ``D`` is not a stack of distributions, ``tol`` is not a positive
        number, ``max_iter`` not an integer ≥ 0, ``callback`` not callable,
        ``progress`` not a bool, or ``labels`` invalid.

    See Also
    --------
    theory.minimax.robust_gate : V*(Λ) for any experts, objective and Λ.

    References
    ----------
    .. [1] R. Blahut, "Computation of channel capacity and rate-distortion
       functions", IEEE Trans. Inf. Theory 18(4), 1972; S. Arimoto, "An
       algorithm for computing the capacity of arbitrary discrete memoryless
       channels", IEEE Trans. Inf. Theory 18(1), 1972.

    Examples
    --------
    >>> import numpy as np
    >>> from theory.minimax import robust_gate
    >>> D = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    >>> r = blahut_arimoto(D)
    >>> round(r.capacity, 6), r.prior.round(4), r.converged
    (0.230739, array([0.4893, 0.5107]), True)
    >>> round(robust_gate(D, D).value, 6)  # V* with perfect experts (T6)
    0.230739
    """
    D = check_stack(D, "D")
    labels = check_labels(labels, D.shape[0])
    tol = check_positive(tol, "tol")
    max_iter = check_int(max_iter, "max_iter", minimum=0)
    callback = check_callable(callback, "callback")
    progress = check_flag(progress, "progress")
    keep = D.any(axis=0)
    Dc = D if keep.all() else np.ascontiguousarray(D[:, keep])
    K = D.shape[0]
    H = _kernels.entropy_rows(Dc)
    log_k = float(np.log(K))

    history: list[tuple[float, float]] = []
    # T1 gives 0 <= JSD_r <= log K for every r, so 0 and log K are certificates too.
    bounds = [0.0, log_k]
    best: list[_Point] = []

    def record(p: _Point) -> None:
        if callback is not None:
            callback(len(history), p.r.copy(), p.lower, p.upper)
        history.append((p.lower, p.upper))
        bounds[0] = max(bounds[0], p.lower)
        bounds[1] = min(bounds[1], p.upper)
        if not best or p.gap < best[0].gap:
            best[:] = [p]

    def done() -> bool:
        return bounds[1] - bounds[0] <= tol

    def budget() -> int:
        return max_iter + 1 - len(history)

    point = _evaluate(Dc, H, np.full(K, -log_k), False)
    record(point)
    gamma = 1.0
    newton_gate = np.inf
    bar = tqdm(total=max_iter, desc="blahut_arimoto", disable=not progress, leave=False)
    try:
        while not done() and budget() > 0:
            if point.gap <= newton_gate:
                # Newton points may leave inputs out with weight 0; the
                # Blahut–Arimoto iterates keep every input alive, so they resume
                # from their own last point if polishing stops short.
                bar.update(_polish(Dc, H, point, record, budget(), done))
                newton_gate = point.gap / 10.0
                if done() or budget() <= 0:
                    break
            trial = _evaluate(Dc, H, _normalize_log(point.log_r + gamma * point.kappa), False)
            record(trial)
            bar.update(1)
            if trial.info >= point.info or gamma == 1.0:
                point = trial
                gamma = min(_GAMMA_MAX, gamma * _GAMMA_GROWTH)
            else:
                gamma = 1.0
    finally:
        bar.close()

    lower, upper, consistent = certified_interval(*bounds)
    prior = best[0].r / best[0].r.sum()
    output = _kernels.mixture(prior, D)
    hist = np.array(history)
    for a in (prior, output, hist):
        a.setflags(write=False)
    return CapacityResult(
        capacity=0.5 * (lower + upper),
        lower=lower,
        upper=upper,
        prior=prior,
        output=output,
        iterations=len(history) - 1,
        converged=done() and consistent,
        history=hist,
        labels=labels,
    )


def _polish(D, H, point: _Point, record, budget: int, done) -> int:
    """Newton steps from ``point`` while each one strictly shrinks the gap.

    Returns the number of iterates evaluated.
    """
    used = 0
    while used < min(budget, _NEWTON_STEPS) and not done():
        log_r = _newton_candidate(D, point)
        if log_r is None:
            break
        trial = _evaluate(D, H, log_r, True)
        record(trial)
        used += 1
        if not trial.gap < point.gap:
            break
        point = trial
    return used
