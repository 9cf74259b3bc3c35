r"""Objectives of the robust game: one registry for every solver and the command line.

Every objective of the package has the same form (THEORY §3): the loss of a
model q on domain k is a cross-entropy minus an offset,

.. math:: L_k(q) = \mathrm{CE}(D_k, q) - c_k, \qquad
          \mathrm{CE}(D_k, q) = -\sum_x D_k(x) \log q(x),

so an objective *is* its offset vector c ∈ R^K (which may depend on the domains
D and the experts P, but never on q). The minimizing gate therefore does not
depend on the objective for a fixed mixture (T3); the values and the
least-favorable mixture do.

=================  ==================  ==========================================
name               c_k                 L_k(q)
=================  ==================  ==========================================
``divergence``     H(D_k)              KL(D_k‖q) (the default)
``cross_entropy``  0                   CE(D_k, q)
``regret``         CE(D_k, p_k)        KL(D_k‖q) − KL(D_k‖p_k)
custom             a given vector      CE(D_k, q) − c_k
=================  ==================  ==========================================

An :class:`Objective` also says how the stochastic primal-dual algorithm (T12)
estimates c from samples: ``regret`` and ``cross_entropy`` need no table of D
(c_k = E_{x~D_k}[−log p_k(x)] is estimated on the minibatch), ``divergence``
needs the entropies H(D_k), which are read exactly from D.

Adding an objective means registering one :class:`Objective` here (or from user
code with :func:`register`): :func:`theory.minimax.robust_gate`,
:func:`sims.primal_dual.stochastic_primal_dual`, the comparators of
:mod:`sims.monolithic` and ``modgate solve --objective`` all resolve their
``objective`` argument through :func:`get`.

Examples
--------
>>> import numpy as np
>>> from theory.objectives import get
>>> D = np.array([[0.5, 0.5], [1.0, 0.0]])
>>> get("divergence").offsets(D).round(4)
array([0.6931, 0.    ])
>>> get([0.1, 0.2]).name
'custom'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from theory import _kernels
from theory.validation import (
    ArgumentTypeError,
    InfeasibleError,
    as_real_array,
    check_distribution,
    check_pair,
    check_stack,
)

__all__ = ["Objective", "register", "get", "names", "from_spec", "offsets", "losses", "payoff"]


@dataclass(frozen=True)
class Objective:
    r"""One objective of the robust game, given by its offsets c (THEORY §3).

    Parameters
    ----------
    name : str
        The name used by ``objective=`` arguments and ``modgate solve --objective``.
    loss : str
        L_k(q) in words, e.g. ``"KL(D_k‖q)"`` (shown by the CLI and in summaries).
    offsets_of : callable
        ``offsets_of(D, P)`` → c, shape (K,), on validated arrays (``P`` is
        ``None`` when the caller has no experts and ``needs_experts`` is false).
        It raises :class:`~theory.validation.InfeasibleError` when c would be
        infinite.
    needs_experts : bool
        Whether c depends on the experts P.
    estimate : callable or None
        For sample-based solvers: ``estimate(neg_log_own)`` → c, shape (K,), from
        the values −log p_k(x) of each domain's own expert at b samples x ~ D_k
        (array of shape (K, b)); an unbiased estimate of c. ``None`` means c is
        computed exactly by ``offsets_of`` once (it needs no sample).
    """

    name: str
    loss: str
    offsets_of: Callable[[np.ndarray, np.ndarray | None], np.ndarray]
    needs_experts: bool = False
    estimate: Callable[[np.ndarray], np.ndarray] | None = None

    def offsets(self, D, P=None) -> np.ndarray:
        """The offsets c, shape (K,), for domains ``D`` and experts ``P`` (validated here)."""
        if P is None:
            if self.needs_experts:
                raise ValueError(f"P: the {self.name!r} objective needs the experts P")
            D = check_stack(D, "D")
        else:
            D, P = check_pair(D, P)
        c = np.asarray(self.offsets_of(D, P), dtype=np.float64)
        if c.shape != (D.shape[0],) or not np.all(np.isfinite(c)):
            raise ValueError(
                f"objective: {self.name!r} must give a finite offset vector of length "
                f"K = {D.shape[0]}, gave {c!r:.80}"
            )
        return c

    @classmethod
    def from_offsets(cls, c, name: str = "custom") -> Objective:
        """An objective with a fixed, user-given offset vector c (finite, shape (K,))."""
        c = as_real_array(c, "objective")
        if c.ndim != 1 or c.size == 0 or not np.all(np.isfinite(c)):
            raise ValueError(
                f"objective: an offset vector must be a finite non-empty 1-D array, got {c!r:.80}"
            )
        c = c.copy()
        c.setflags(write=False)

        def offsets_of(D, P):
            if D.shape[0] != c.shape[0]:
                raise ValueError(
                    f"objective: the offset vector has length {c.shape[0]}, "
                    f"but there are K = {D.shape[0]} domains"
                )
            return c

        return cls(name, "CE(D_k, q) − c_k", offsets_of, False, lambda neg_log_own: c)


def _regret_offsets(D: np.ndarray, P: np.ndarray) -> np.ndarray:
    bad = (D > 0) & (P == 0)
    if bad.any():
        k, i = (int(v) for v in np.argwhere(bad)[0])
        raise InfeasibleError(
            f"P: the 'regret' objective needs KL(D_k‖p_k) < ∞, but domain D_{k + 1} (row {k}) "
            f"puts mass at index {i} where its own expert p_{k + 1} is 0"
        )
    return np.array([_kernels.cross_entropy_rows(D[k : k + 1], P[k])[0] for k in range(len(D))])


_REGISTRY: dict[str, Objective] = {}


def register(objective: Objective, *, replace: bool = False) -> Objective:
    """Add ``objective`` to the registry under its name; returns it.

    Raises ``ValueError`` if the name is taken (unless ``replace=True``).
    """
    if not isinstance(objective, Objective):
        raise ArgumentTypeError(f"objective: expected an Objective, got {type(objective).__name__}")
    if objective.name in _REGISTRY and not replace:
        raise ValueError(f"objective: {objective.name!r} is already registered")
    _REGISTRY[objective.name] = objective
    return objective


register(
    Objective(
        "divergence",
        "KL(D_k‖q)",
        lambda D, P: _kernels.entropy_rows(D),
    )
)
register(
    Objective(
        "cross_entropy",
        "CE(D_k, q)",
        lambda D, P: np.zeros(D.shape[0]),
        estimate=lambda neg_log_own: np.zeros(neg_log_own.shape[0]),
    )
)
register(
    Objective(
        "regret",
        "KL(D_k‖q) − KL(D_k‖p_k)",
        _regret_offsets,
        needs_experts=True,
        estimate=lambda neg_log_own: neg_log_own.mean(axis=1),
    )
)


def names() -> list[str]:
    """The names of the registered objectives, in registration order."""
    return list(_REGISTRY)


def get(objective) -> Objective:
    """Resolve an ``objective=`` argument: a registered name, an :class:`Objective`,
    or an offset vector c (array-like of length K)."""
    if isinstance(objective, Objective):
        return objective
    if isinstance(objective, str):
        if objective not in _REGISTRY:
            raise ValueError(
                f"objective: expected one of {names()} or an offset vector, got {objective!r:.60}"
            )
        return _REGISTRY[objective]
    if objective is None:
        raise ValueError(f"objective: expected one of {names()} or an offset vector, got None")
    return Objective.from_offsets(objective)


def from_spec(spec: str) -> Objective:
    """Parse a command-line objective: a registered name or ``offsets:c1;c2;…;cK``."""
    if not isinstance(spec, str):
        raise ArgumentTypeError(f"objective: expected a string, got {type(spec).__name__}")
    kind, sep, arg = spec.partition(":")
    if sep and kind == "offsets":
        try:
            values = [float(v) for v in arg.split(";")]
        except ValueError:
            raise ValueError(
                f"objective: cannot read the offsets {arg!r}; expected offsets:c1;c2;…;cK"
            ) from None
        return Objective.from_offsets(values)
    return get(spec)


def offsets(D: np.ndarray, P: np.ndarray | None, objective) -> tuple[np.ndarray, Objective]:
    """The offsets c of ``objective`` for validated ``D``, ``P``, and the resolved objective."""
    obj = get(objective)
    return obj.offsets(D, P), obj


def losses(model, D, P=None, objective="divergence") -> np.ndarray:
    r"""The per-domain losses :math:`L_k(q) = \mathrm{CE}(D_k, q) - c_k` of a model q (THEORY §3).

    Parameters
    ----------
    model : array_like, shape (n,)
        A distribution q on X.
    D : array_like, shape (K, n)
        The domains, one row per domain.
    P : array_like, shape (K, n), optional
        The experts; needed only by objectives whose offsets depend on them
        (``"regret"``).
    objective : str, Objective or array_like, shape (K,)
        See :func:`get`.

    Returns
    -------
    ndarray, shape (K,)
        L_k(q); +inf where D_k puts mass on a zero of q.

    Examples
    --------
    >>> import numpy as np
    >>> losses([0.5, 0.5], np.array([[0.5, 0.5], [1.0, 0.0]])).round(4)
    array([0.    , 0.6931])
    """
    obj = get(objective)
    c = obj.offsets(D, P)
    D = check_stack(D, "D")
    q = check_distribution(model, "model")
    if q.shape[0] != D.shape[1]:
        raise ValueError(f"model: expected length |X| = {D.shape[1]}, got {q.shape[0]}")
    return _kernels.cross_entropy_rows(D, q) - c


def payoff(lam, L) -> float:
    r"""The payoff :math:`\sum_k \lambda_k L_k` over the domains with λ_k > 0 (THEORY §3).

    A domain with weight 0 contributes 0 even when its loss is +inf: it is not
    part of the mixture.

    Parameters
    ----------
    lam : array_like, shape (K,)
        Finite non-negative weights (a mixture λ).
    L : array_like, shape (K,)
        Per-domain losses; ±inf allowed, NaN not.

    Returns
    -------
    float
        Possibly ±inf.

    Raises
    ------
    ValueError
        If ``lam`` or ``L`` is not a real vector, they differ in length, ``lam``
        has a NaN, inf or negative entry, ``L`` has a NaN, or λ weights both a
        +inf and a −inf loss (the payoff is undefined).

    Examples
    --------
    >>> payoff([1.0, 0.0], [2.0, float("inf")])
    2.0
    """
    lam = as_real_array(lam, "lam")
    L = as_real_array(L, "L")
    if lam.ndim != 1 or L.ndim != 1 or lam.shape != L.shape:
        raise ValueError(
            f"lam, L: expected two vectors of the same length K, got shapes {lam.shape} and {L.shape}"
        )
    if not np.all(np.isfinite(lam)) or np.any(lam < 0):
        raise ValueError(f"lam: expected finite non-negative weights, got {lam!r:.80}")
    if np.any(np.isnan(L)):
        raise ValueError(f"L: contains NaN (first at index {int(np.argmax(np.isnan(L)))})")
    on = lam > 0
    if np.any(L[on] == np.inf) and np.any(L[on] == -np.inf):
        raise ValueError("L: the weighted losses hold both +inf and -inf; the payoff is undefined")
    return float(lam[on] @ L[on])
