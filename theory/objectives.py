r"""Objectives of the robust game: one registry for every solver and the command line.

Notation. X is a finite set of n outcomes; D_1, …, D_K ∈ Δ(X) are the K
domains (the rows of a K × n matrix D) and p_1, …, p_K the experts (the rows of
P). H(p) = −Σ_x p(x) log p(x) is the entropy, CE(p, q) = −Σ_x p(x) log q(x) the
cross-entropy and KL(p‖q) = CE(p, q) − H(p) the Kullback–Leibler divergence,
all in nats (natural logarithms).

Every objective of the package has the same form (setup of the game, see the
theory page §3 of the documentation): the loss of a model q ∈ Δ(X) on domain k
is a cross-entropy minus an offset,

    L_k(q) = CE(D_k, q) − c_k = −Σ_x D_k(x) log q(x) − c_k,

.. math:: L_k(q) = \mathrm{CE}(D_k, q) - c_k, \qquad
          \mathrm{CE}(D_k, q) = -\sum_x D_k(x) \log q(x),

so an objective *is* its offset vector c ∈ R^K (which may depend on the domains
D and the experts P, but never on q); the form is that of Cortes, Mohri & Zhong
[1]_. The minimizing gate therefore does not
depend on the objective for a fixed mixture (T3); the values and the
least-favorable mixture do. The payoff of the game for a mixture λ ∈ Δ_K
(weights λ_k ≥ 0 summing to 1) is L(q, λ) = Σ_k λ_k L_k(q) (:func:`payoff`).

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

References
----------
.. [1] C. Cortes, M. Mohri and Y. Zhong, "A Theoretical Framework for Modular
   Learning of Robust Generative Models", arXiv:2602.17554, 2026, §3.

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
    r"""One objective of the robust game, given by its offset vector c.

    The loss of a model q on domain k is L_k(q) = CE(D_k, q) − c_k, where
    CE(D_k, q) = −Σ_x D_k(x) log q(x); an objective is fully described by how
    it computes c ∈ R^K from the domains D and, possibly, the experts P (setup
    of the game, used by T3–T7 and T12).

    .. math:: L_k(q) = \mathrm{CE}(D_k, q) - c_k.

    Instances are frozen; the registered ones are found with :func:`get`.

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

    See Also
    --------
    register : add an objective to the registry.
    get : resolve an ``objective=`` argument.

    Examples
    --------
    >>> import numpy as np
    >>> from theory.objectives import Objective
    >>> zero = Objective("zero", "CE(D_k, q)", lambda D, P: np.zeros(D.shape[0]))
    >>> zero.offsets(np.array([[0.5, 0.5], [0.9, 0.1]]))
    array([0., 0.])
    """

    name: str
    loss: str
    offsets_of: Callable[[np.ndarray, np.ndarray | None], np.ndarray]
    needs_experts: bool = False
    estimate: Callable[[np.ndarray], np.ndarray] | None = None

    def offsets(self, D, P=None) -> np.ndarray:
        """The offsets c, shape (K,), for domains ``D`` and experts ``P``.

        Both arrays are validated here before ``offsets_of`` sees them.

        Parameters
        ----------
        D : array_like, shape (K, n)
            The domains: row k is the distribution D_k on the n points of X.
        P : array_like, shape (K, n), optional
            The experts: row k is p_k. Required when ``needs_experts`` is true.

        Returns
        -------
        ndarray, shape (K,)
            The finite offsets c_k.

        Raises
        ------
        ValueError
            If ``P`` is missing but needed, if ``D`` or ``P`` is not a stack of
            distributions of the same shape, or if ``offsets_of`` gives a vector
            of the wrong length or with a non-finite entry.
        InfeasibleError
            If c would be infinite (for ``"regret"``: some D_k puts mass where
            its own expert p_k is 0, so KL(D_k‖p_k) = ∞).

        Examples
        --------
        >>> import numpy as np
        >>> D = np.array([[0.5, 0.5], [0.9, 0.1]])
        >>> P = np.array([[0.6, 0.4], [0.8, 0.2]])
        >>> get("regret").offsets(D, P).round(4)  # c_k = CE(D_k, p_k)
        array([0.7136, 0.3618])
        """
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
        """An objective with a fixed, user-given offset vector c.

        The loss is L_k(q) = CE(D_k, q) − c_k with the given c_k; the same c
        serves as its own (exact) sample estimate.

        Parameters
        ----------
        c : array_like, shape (K,)
            Finite offsets, one per domain.
        name : str, default "custom"
            The name shown in results and summaries.

        Returns
        -------
        Objective
            An objective that needs no experts and accepts only K = len(c) domains.

        Raises
        ------
        ValueError
            If ``c`` is not a finite, non-empty, real 1-D array (a complex or
            string input raises :class:`~theory.validation.ArgumentTypeError`).

        Examples
        --------
        >>> import numpy as np
        >>> obj = Objective.from_offsets([0.1, 0.2])
        >>> obj.offsets(np.array([[0.5, 0.5], [0.9, 0.1]]))
        array([0.1, 0.2])
        """
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
    """Add ``objective`` to the registry under its name.

    After registration, every ``objective=`` argument of the package (and
    ``modgate solve --objective``) accepts the name.

    Parameters
    ----------
    objective : Objective
        The objective to add.
    replace : bool, default False
        Whether an objective already registered under the same name may be replaced.

    Returns
    -------
    Objective
        ``objective`` itself.

    Raises
    ------
    TypeError
        If ``objective`` is not an :class:`Objective`
        (:class:`~theory.validation.ArgumentTypeError`, also a ValueError).
    ValueError
        If the name is taken and ``replace`` is false.

    Examples
    --------
    A name can be registered only once:

    >>> register(get("divergence"))
    Traceback (most recent call last):
    ...
    ValueError: objective: 'divergence' is already registered
    >>> register(get("divergence"), replace=True).name
    'divergence'
    """
    if not isinstance(objective, Objective):
        raise ArgumentTypeError(f"objective: expected an Objective, got {type(objective).__name__}")
    if objective.name in _REGISTRY and not replace:
        raise ValueError(f"objective: {objective.name!r} is already registered")
    _REGISTRY[objective.name] = objective
    return objective


def _zero_estimate(neg_log_own: np.ndarray) -> np.ndarray:
    """c = 0, whatever the sample (the cross-entropy has no offset)."""
    return np.zeros(neg_log_own.shape[0])


def _mean_estimate(neg_log_own: np.ndarray) -> np.ndarray:
    """ĉ_k = mean_i −log p_k(x_{k,i}): the unbiased minibatch estimate of CE(D_k, p_k)."""
    return neg_log_own.mean(axis=1)


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
        estimate=_zero_estimate,
    )
)
register(
    Objective(
        "regret",
        "KL(D_k‖q) − KL(D_k‖p_k)",
        _regret_offsets,
        needs_experts=True,
        estimate=_mean_estimate,
    )
)


def names() -> list[str]:
    """The names of the registered objectives, in registration order.

    Returns
    -------
    list of str
        The built-in ``"divergence"``, ``"cross_entropy"`` and ``"regret"``
        first, then any objective added with :func:`register`.

    Examples
    --------
    >>> names()[:3]
    ['divergence', 'cross_entropy', 'regret']
    """
    return list(_REGISTRY)


def get(objective) -> Objective:
    """Resolve an ``objective=`` argument into an :class:`Objective`.

    Parameters
    ----------
    objective : str, Objective or array_like, shape (K,)
        A registered name (see :func:`names`), an :class:`Objective` (returned
        as is), or an offset vector c, which gives the custom objective
        L_k(q) = CE(D_k, q) − c_k (:meth:`Objective.from_offsets`).

    Returns
    -------
    Objective

    Raises
    ------
    ValueError
        If ``objective`` is an unknown name or None, or an offset vector that is
        not finite, non-empty and 1-D.

    Examples
    --------
    >>> get("regret").loss
    'KL(D_k‖q) − KL(D_k‖p_k)'
    >>> get([0.0, 1.0]).name
    'custom'
    """
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
    """Parse a command-line objective: a registered name or ``offsets:c1;c2;…;cK``.

    Parameters
    ----------
    spec : str
        The text of ``modgate solve --objective``.

    Returns
    -------
    Objective

    Raises
    ------
    TypeError
        If ``spec`` is not a string (:class:`~theory.validation.ArgumentTypeError`).
    ValueError
        If the name is unknown or an offset cannot be read as a number.

    Examples
    --------
    >>> from_spec("cross_entropy").name
    'cross_entropy'
    >>> import numpy as np
    >>> from_spec("offsets:0.1;0.2").offsets(np.array([[0.5, 0.5], [0.9, 0.1]]))
    array([0.1, 0.2])
    """
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
    """The offsets c of ``objective`` for ``D`` and ``P``, with the resolved objective.

    A shortcut for ``get(objective)`` followed by :meth:`Objective.offsets`.

    Parameters
    ----------
    D : array_like, shape (K, n)
        The domains, one distribution per row.
    P : array_like, shape (K, n) or None
        The experts; None when the objective does not need them.
    objective : str, Objective or array_like, shape (K,)
        See :func:`get`.

    Returns
    -------
    c : ndarray, shape (K,)
        The offsets.
    objective : Objective
        The resolved objective.

    Raises
    ------
    ValueError
        As :func:`get` and :meth:`Objective.offsets`.

    Examples
    --------
    >>> import numpy as np
    >>> c, obj = offsets(np.array([[0.5, 0.5], [1.0, 0.0]]), None, "divergence")
    >>> c.round(4), obj.name
    (array([0.6931, 0.    ]), 'divergence')
    """
    obj = get(objective)
    return obj.offsets(D, P), obj


def losses(model, D, P=None, objective="divergence") -> np.ndarray:
    r"""The per-domain losses L_k(q) = CE(D_k, q) − c_k of a model q.

    For each domain k, L_k(q) = −Σ_x D_k(x) log q(x) − c_k, with the offsets c
    of the objective; with the default objective L_k(q) = KL(D_k‖q). These are
    the losses of the robust game (setup; T3–T7 minimize their weighted sums).

    .. math:: L_k(q) = -\sum_{x\in X} D_k(x)\log q(x) - c_k.

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

    Raises
    ------
    ValueError
        If ``D``, ``P`` or ``model`` is not a valid distribution (stack), if the
        length of ``model`` is not n, or as :func:`get` for ``objective``.

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
    r"""The payoff L(q, λ) = Σ_k λ_k L_k over the domains with λ_k > 0.

    This is the payoff of the robust game for the mixture λ (setup; the value
    that T3–T7 minimize over gates and maximize over λ).

    .. math:: L(q, \lambda) = \sum_{k:\ \lambda_k > 0} \lambda_k L_k(q).

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
