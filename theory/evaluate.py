r"""Score any model the way the robust gate is scored, and compare models in one call (T5, T10).

Notation. X is a finite set of n outcomes; the K domains D_1, …, D_K and the K
experts p_1, …, p_K are distributions on X, stored as the rows of (K, n)
arrays ``D`` and ``P``. A mixture λ is a weight vector of the simplex Δ_K
(λ_k ≥ 0, Σ_k λ_k = 1), and Λ ⊆ Δ_K is the set of mixtures the adversary may
choose (:mod:`theory.mixtures`). The experts' envelope is
M = {q ∈ Δ(X) : min_k p_k(x) ≤ q(x) ≤ max_k p_k(x) for every x}: by T2 it is
exactly the set of models p_g(x) = Σ_k g_k(x) p_k(x) of normalized gates g.

The loss of a model q on domain k is L_k(q) = CE(D_k, q) − c_k
(the offsets c of the objective, :mod:`theory.objectives`; for the default
``divergence`` objective L_k(q) = KL(D_k‖q), in nats). Its
**worst case** over a set Λ of mixtures is

    W_Λ(q) = max_{λ∈Λ} Σ_k λ_k L_k(q),

.. math:: W_\Lambda(q) = \max_{\lambda\in\Lambda} \sum_k \lambda_k L_k(q),

a maximum of a linear function of λ, computed exactly by Λ's linear oracle
``argmax_linear`` (on the simplex Δ_K it is :math:`\max_k L_k(q)`, attained at a
vertex). This is the quantity the robust gate minimizes: its value is
V*(Λ) = min_{q∈M} W_Λ(q) over the experts' envelope M
(T4, T5), so by T10 every model of M — every mixture Σ_k α_k p_k of the experts,
uniform or not — has a **margin** W_Λ(q) − V* ≥ 0. A model
outside M (a retrained monolithic model, say) can have a negative margin; that
says the experts are the bottleneck, not the gate. The theory pages §4.4
(least-favorable mixture) and §4.5.4 (safety) of the documentation explain
both results, from Cortes, Mohri & Zhong [1]_.

:func:`worst_case` scores one model; :func:`compare` scores several (your own
vectors, and the usual baselines by name) against V* and returns a
:class:`ComparisonTable` that prints, renders in notebooks and writes CSV.

References
----------
.. [1] C. Cortes, M. Mohri and Y. Zhong, "A Theoretical Framework for Modular
   Learning of Robust Generative Models", arXiv:2602.17554, 2026, §4.4 and §4.5.4.

Examples
--------
>>> import numpy as np
>>> from theory.evaluate import compare, worst_case
>>> D = np.array([[0.7, 0.2, 0.1], [0.1, 0.2, 0.7]])
>>> P = np.array([[0.6, 0.3, 0.1], [0.1, 0.3, 0.6]])
>>> value, lam = worst_case([0.5, 0.3, 0.2], D)  # KL(D_1‖q) ≈ 0.085, KL(D_2‖q) ≈ 0.635
>>> round(value, 3), lam
(0.635, array([0., 1.]))
>>> table = compare(["uniform", "experts", "robust"], D, P)
>>> [r["name"] for r in table]
['uniform', 'expert 1', 'expert 2', 'robust']
>>> bool(table["uniform"]["margin"] >= 0)
True
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from theory.gates import envelope, in_envelope
from theory.minimax import robust_gate
from theory.monolithic import aggregate, model_class
from theory.objectives import get as get_objective
from theory.objectives import losses
from theory.results import UNITS, format_number, html_table, text_table
from theory.validation import (
    ArgumentTypeError,
    check_distribution,
    check_labels,
    check_mixtures,
    check_pair,
    check_positive,
    check_stack,
)

__all__ = ["BUILTIN_MODELS", "worst_case", "compare", "ComparisonTable"]

#: The models :func:`compare` knows by name (``"expert k"`` for k = 1 … K, or
#: ``"expert:k"``; ``"experts"`` stands for all of them).
BUILTIN_MODELS = ("uniform", "proportional", "experts", "expert k", "aggregate", "robust")

_EXPERT = re.compile(r"^expert[ :](.+)$", re.IGNORECASE)


def worst_case(model, D, mixtures=None, objective="divergence", P=None) -> tuple[float, np.ndarray]:
    r"""The exact worst case of a model q over the mixtures Λ (T5).

    W_Λ(q) = max_{λ∈Λ} Σ_k λ_k L_k(q), with L_k(q) = CE(D_k, q) − c_k:

    .. math:: W_\Lambda(q) = \max_{\lambda\in\Lambda}\sum_k \lambda_k L_k(q),
              \qquad L_k(q) = \mathrm{CE}(D_k, q) - c_k,

    computed by Λ's linear oracle (exact: a linear program over Λ, or its closed
    form). For the robust gate's model it is the certified ``upper`` bound of
    :func:`theory.minimax.robust_gate`, and for any model q ∈ M it is at least
    V* (T10).

    Parameters
    ----------
    model : array_like, shape (n,)
        Any distribution q on X (it need not come from the experts).
    D : array_like, shape (K, n)
        The domains, one distribution per row.
    mixtures : MixtureSet, optional
        The set Λ ⊆ Δ_K (default: the simplex, where the value is max_k L_k(q)).
    objective : str, Objective or array_like, shape (K,)
        The losses L_k (default ``"divergence"``: L_k = KL(D_k‖q)).
    P : array_like, shape (K, n), optional
        The experts; needed only by objectives that use them (``"regret"``).

    Returns
    -------
    value : float
        W_Λ(q) in nats; +inf if some λ ∈ Λ weights a domain that puts mass
        where q is 0.
    lam : ndarray, shape (K,)
        A worst mixture λ ∈ Λ.

    Raises
    ------
    ValueError
        If an input is malformed (naming it), or the objective needs P and it
        is missing.

    Examples
    --------
    >>> import numpy as np
    >>> D = np.array([[1.0, 0.0], [0.5, 0.5]])
    >>> value, lam = worst_case([0.5, 0.5], D)
    >>> round(value, 6), lam
    (0.693147, array([1., 0.]))

    The worst case of the first domain, KL(D_1‖q) = log 2, is attained at the
    vertex λ = (1, 0).
    """
    D = check_stack(D, "D")
    if P is not None:
        D, P = check_pair(D, P)
    mixtures = check_mixtures(mixtures, D.shape[0])
    L = losses(model, D, P, objective)
    value, lam = mixtures.argmax_linear(L)
    return float(value), np.asarray(lam, dtype=np.float64)


def _jsonable(x):
    """Plain Python floats; non-finite values stay floats (``inf``)."""
    return [float(v) for v in np.asarray(x, dtype=np.float64)]


@dataclass(frozen=True)
class ComparisonTable:
    r"""Models scored against the robust gate: one record per model (T10).

    Built by :func:`compare`. The table is also a sequence of its records:
    ``len(table)``, ``table[0]``, ``table["uniform"]`` (by name) and
    ``for record in table`` all work; ``print(table)`` shows :meth:`summary`.

    Attributes
    ----------
    records : list of dict
        One plain dict per model, in the order asked: ``name`` (str),
        ``worst_case`` (float, :math:`W_\Lambda(q)` in nats), ``margin`` (float,
        worst_case − V*; > 0 means the robust gate is better), ``lam`` (list of
        K floats, a worst mixture), ``per_domain`` (list of K floats, the losses
        L_k(q)), ``in_envelope`` (bool: q ∈ M, so that T10 promises margin ≥ 0
        up to ``gap``; None when no experts were given).
    value, lower, upper : float
        V* of the robust gate and its certified interval (lower ≤ V* ≤ upper).
    converged : bool
        Whether the robust gate reached its tolerance.
    reference : str
        What V* is: the robust gate of the given experts, or — without experts —
        the best worst case of any model (the robust gate of perfect experts, T6).
    objective, mixtures : str
        The objective's name and Λ.
    labels : tuple of str
        The domain names.

    Examples
    --------
    >>> import numpy as np
    >>> D = np.array([[0.7, 0.2, 0.1], [0.1, 0.2, 0.7]])
    >>> P = np.array([[0.6, 0.3, 0.1], [0.1, 0.3, 0.6]])
    >>> table = compare(["uniform", "robust"], D, P)
    >>> len(table), table[1]["name"], round(table.value, 6)
    (2, 'robust', 0.278834)
    """

    records: list[dict]
    value: float
    lower: float
    upper: float
    converged: bool
    reference: str
    objective: str
    mixtures: str
    labels: tuple[str, ...]

    @property
    def gap(self) -> float:
        """The width upper − lower of V*'s certified interval, in nats.

        Returns
        -------
        float
            A margin is meaningful up to this width.
        """
        return self.upper - self.lower

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def __getitem__(self, key) -> dict:
        if isinstance(key, str):
            for r in self.records:
                if r["name"] == key:
                    return r
            raise KeyError(f"no model named {key!r}; models: {[r['name'] for r in self.records]}")
        return self.records[key]

    def names(self) -> list[str]:
        """The model names, in order.

        Returns
        -------
        list of str
            ``"experts"`` is expanded into ``"expert 1"`` … ``"expert K"``.

        Examples
        --------
        >>> import numpy as np
        >>> D = np.array([[0.7, 0.3], [0.2, 0.8]])
        >>> compare(["experts"], D, D).names()
        ['expert 1', 'expert 2']
        """
        return [r["name"] for r in self.records]

    # -- rendering

    def _worst_label(self, lam) -> str:
        lam = np.asarray(lam)
        k = int(np.argmax(lam))
        if lam[k] == 1.0:
            return self.labels[k]
        return "(" + ", ".join(format_number(v, 3) for v in lam) + ")"

    def _rows(self) -> tuple[list[str], list[list[str]]]:
        headers = ["model", f"worst case ({UNITS})", "margin to V*", "worst λ"]
        headers += [f"L({label})" for label in self.labels]
        headers.append("in M")
        rows = []
        for r in self.records:
            row = [
                r["name"],
                format_number(r["worst_case"]),
                format_number(r["margin"], 3),
                self._worst_label(r["lam"]),
            ]
            row += [format_number(v, 4) for v in r["per_domain"]]
            row.append(format_number(r["in_envelope"]))
            rows.append(row)
        return headers, rows

    def _caption(self) -> list[str]:
        state = "" if self.converged else ", NOT converged"
        return [
            f"Worst case of each model over Λ = {self.mixtures}, objective {self.objective}, "
            f"in {UNITS}",
            f"V* = {format_number(self.value, 10)} ({self.reference}, certified gap "
            f"{format_number(self.gap, 2)}{state}); margin = worst case − V* "
            "(> 0: the robust gate is better)",
        ]

    def summary(self) -> str:
        """The caption and an aligned table, one line per model.

        Returns
        -------
        str
            Two caption lines (Λ, objective, V* and its certificate), then one
            line per model: worst case, margin, worst λ, losses L_k, and
            whether the model lies in the envelope M.
        """
        return "\n".join([*self._caption(), text_table(*self._rows())])

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return html_table(*self._rows(), caption="; ".join(self._caption()))

    def to_csv(self, path_or_buffer) -> None:
        """Write the records as CSV: one row per model, full precision.

        Columns: ``name, worst_case, margin, in_envelope``, then ``lam:<label>``
        and ``loss:<label>`` for every domain.

        Parameters
        ----------
        path_or_buffer : str, path-like or text file object
            Where to write; a file path is created or overwritten (UTF-8).

        Examples
        --------
        >>> import io
        >>> import numpy as np
        >>> D = np.array([[0.7, 0.3], [0.2, 0.8]])
        >>> buffer = io.StringIO()
        >>> compare(["robust"], D, D).to_csv(buffer)
        >>> buffer.getvalue().splitlines()[0]
        'name,worst_case,margin,in_envelope,lam:D_1,lam:D_2,loss:D_1,loss:D_2'
        """
        header = ["name", "worst_case", "margin", "in_envelope"]
        header += [f"lam:{label}" for label in self.labels]
        header += [f"loss:{label}" for label in self.labels]
        rows = [
            [
                r["name"],
                repr(r["worst_case"]),
                repr(r["margin"]),
                "" if r["in_envelope"] is None else str(r["in_envelope"]),
                *(repr(v) for v in r["lam"]),
                *(repr(v) for v in r["per_domain"]),
            ]
            for r in self.records
        ]
        if hasattr(path_or_buffer, "write"):
            writer = csv.writer(path_or_buffer, lineterminator="\n")
            writer.writerows([header, *rows])
            return
        with open(path_or_buffer, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh, lineterminator="\n").writerows([header, *rows])


def _parse_models(models, has_experts: bool) -> list[tuple[str, object]]:
    """``(name, what)`` pairs: ``what`` is a built-in name or the user's vector."""
    if models is None:
        models = ["uniform", "experts", "aggregate", "robust"] if has_experts else ["robust"]
    if isinstance(models, str | bytes):
        raise ArgumentTypeError(
            f"models: expected a list of names or a dict name → model, got a single string "
            f"{models!r:.40} (write [{models!r:.40}])"
        )
    if isinstance(models, Mapping):
        models = [models]
    if isinstance(models, np.ndarray) or not isinstance(models, Iterable):
        raise ArgumentTypeError(
            "models: expected a list of built-in names and/or a dict name → model vector, "
            f"got {type(models).__name__}"
        )
    out: list[tuple[str, object]] = []
    for item in models:
        if isinstance(item, str):
            out.append((item, item))
        elif isinstance(item, Mapping):
            for name, vector in item.items():
                if not isinstance(name, str) or not name.strip():
                    raise ArgumentTypeError(
                        f"models: a model name must be a non-empty string, got {name!r:.40}"
                    )
                if isinstance(vector, str):
                    raise ArgumentTypeError(
                        f"models[{name!r}]: expected a model vector, got the string {vector!r:.40}"
                    )
                out.append((name, vector))
        else:
            raise ArgumentTypeError(
                "models: each entry must be a built-in name (str) or a dict name → model "
                f"vector, got {type(item).__name__}"
            )
    if not out:
        raise ValueError("models: expected at least one model")
    return out


def _expert_index(rest: str, labels: tuple[str, ...], default_labels: bool) -> int:
    """The 0-based index of ``expert <rest>``: a 1-based number, or a domain label."""
    K = len(labels)
    if rest in labels and not default_labels:
        return labels.index(rest)
    try:
        k = int(rest)
    except ValueError:
        raise ValueError(
            f"models: unknown expert {rest!r}; expected 'expert k' with k = 1 … {K}"
            + ("" if default_labels else f" or a domain label {list(labels)}")
        ) from None
    if not 1 <= k <= K:
        raise ValueError(f"models: 'expert {k}' does not exist; experts are numbered 1 … {K}")
    return k - 1


def compare(
    models,
    D,
    P=None,
    mixtures=None,
    objective="divergence",
    *,
    sizes=None,
    family: str = "full",
    shape=None,
    labels=None,
    tol: float = 1e-9,
) -> ComparisonTable:
    r"""Score several models against the robust gate's value V* (T5, T10).

    For every model q: its worst case W_Λ(q) = max_{λ∈Λ} Σ_k λ_k L_k(q)
    (:func:`worst_case`), a worst mixture λ, the per-domain
    losses L_k(q), the **margin** W_Λ(q) − V* and whether q lies in the experts'
    envelope M (T2). T10: every q ∈ M has margin ≥ 0, up to the certificate's
    width ``table.gap``.

    .. math:: \mathrm{margin}(q) = \max_{\lambda\in\Lambda}\sum_k\lambda_k L_k(q) - V^*(\Lambda),
              \qquad V^*(\Lambda) = \min_{q\in M} \max_{\lambda\in\Lambda}\sum_k\lambda_k L_k(q).

    Models are given by name or as vectors:

    - ``"uniform"``: the uniform mixture of the experts, Σ_k p_k / K;
    - ``"proportional"``: the experts mixed in proportion to the domain sizes,
      Σ_k (m_k / Σ_j m_j) p_k (needs ``sizes``);
    - ``"expert k"`` or ``"expert:k"`` (k = 1 … K, or a domain label when
      ``labels`` are given): the k-th expert p_k; ``"experts"``: all of them;
    - ``"aggregate"``: aggregate retraining on the domains with uniform weights,
      :math:`\arg\min_{h\in H}\mathrm{KL}(D_{1/K}\|h)` in the class ``family``
      (:func:`theory.monolithic.aggregate`; in ``"full"`` this is D_{1/K} itself,
      the uniform mixture of the domains);
    - ``"robust"``: the robust gate's model p_{g*};
    - a dict name → vector of length n: any model of your own.

    Parameters
    ----------
    models : list of (str or dict), dict, or None
        The models, in the order of the table; None means
        ``["uniform", "experts", "aggregate", "robust"]`` (``["robust"]`` without P).
    D : array_like, shape (K, n)
        The domains.
    P : array_like, shape (K, n), optional
        The experts. Without them V* is the robust gate of perfect experts
        (P = D), which by T6 is the smallest worst case of *any* model, and the
        models that need experts are unavailable.
    mixtures : MixtureSet, optional
        Λ (default the simplex).
    objective : str, Objective or array_like, shape (K,)
        The losses L_k (default ``"divergence"``).
    sizes : array_like, shape (K,), optional
        Domain sizes m_k > 0, for ``"proportional"``.
    family : str, default "full"
        Model class of ``"aggregate"`` (``"full"``, ``"product"``, ``"markov:r"``).
    shape : tuple (T, V), optional
        Sequence shape for the sequence families: X = V^T, sequences of length T
        over V symbols, n = V**T.
    labels : list of str, optional
        Domain names (default D_1 … D_K).
    tol : float, default 1e-9
        Certified gap of the robust gate.

    Returns
    -------
    ComparisonTable

    Raises
    ------
    ValueError
        For a malformed input (naming it), an unknown or repeated model name,
        a model that needs P or ``sizes`` when they are missing, or an
        infeasible instance (V* = ∞).

    Examples
    --------
    >>> import numpy as np
    >>> D = np.array([[0.8, 0.1, 0.1], [0.1, 0.1, 0.8]])
    >>> table = compare({"middle": [0.2, 0.6, 0.2]}, D)
    >>> table["middle"]["margin"] > 0
    True

    Without experts, V* is the best worst case of any model (T6), so every
    model has a margin ≥ 0.
    """
    D = check_stack(D, "D")
    if P is not None:
        D, P = check_pair(D, P)
    K, n = D.shape
    default_labels = labels is None
    labels = check_labels(labels, K)
    mixtures = check_mixtures(mixtures, K)
    obj = get_objective(objective)
    obj.offsets(D, P)
    tol = check_positive(tol, "tol")
    # The class of "aggregate" is checked even when that model is not asked for:
    # a misspelled family must not pass unnoticed.
    model_class(family, shape, n)
    entries = _parse_models(models, P is not None)

    # Every name is resolved before anything is solved, so a typo costs nothing.
    resolved: list[tuple[str, object]] = []
    for name, what in entries:
        if not isinstance(what, str):
            q = check_distribution(what, f"models[{name!r}]")
            if q.shape[0] != n:
                raise ValueError(f"models[{name!r}]: expected length |X| = {n}, got {q.shape[0]}")
            resolved.append((name, q))
            continue
        key = what.strip().lower()
        expert = _EXPERT.match(what.strip())
        if (key in ("uniform", "proportional", "experts") or expert) and P is None:
            raise ValueError(f"P: the model {what!r} is made of the experts; pass P")
        if key == "experts":
            resolved += [(_expert_name(k, labels, default_labels), ("expert", k)) for k in range(K)]
        elif expert is not None:
            k = _expert_index(expert.group(1).strip(), labels, default_labels)
            resolved.append((_expert_name(k, labels, default_labels), ("expert", k)))
        elif key == "proportional":
            if sizes is None:
                raise ValueError(
                    "sizes: the 'proportional' model needs the domain sizes; "
                    "pass sizes=[m_1, …, m_K]"
                )
            weights = check_distribution(sizes, "sizes", normalize=True)
            if weights.shape[0] != K or np.any(weights <= 0):
                raise ValueError(f"sizes: expected {K} positive domain sizes, got {sizes!r:.80}")
            resolved.append((what, ("mix", weights)))
        elif key in ("uniform", "aggregate", "robust"):
            resolved.append((what, (key, None)))
        else:
            raise ValueError(
                f"models: unknown model {what!r}; built-in names are {list(BUILTIN_MODELS)} "
                "(pass your own models as a dict name → vector)"
            )
    names = [name for name, _ in resolved]
    if len(set(names)) != len(names):
        twice = next(s for s in names if names.count(s) > 1)
        raise ValueError(f"models: the name {twice!r} is used twice")

    experts = P if P is not None else D
    robust = robust_gate(D, experts, mixtures=mixtures, objective=obj, tol=tol)
    v_star = float(robust.value)
    lo, hi = envelope(P) if P is not None else (None, None)

    records = []
    for name, what in resolved:
        if isinstance(what, np.ndarray):
            q = what
        else:
            kind, arg = what
            if kind == "expert":
                q = P[arg]
            elif kind == "mix":
                q = arg @ P
            elif kind == "uniform":
                q = P.mean(axis=0)
            elif kind == "aggregate":
                q = aggregate(D, np.full(K, 1.0 / K), family, shape)
            else:
                q = robust.model
        L = losses(q, D, P, obj)
        value, lam = mixtures.argmax_linear(L)
        inside = None if P is None else bool(in_envelope(q, lo, hi).all())
        records.append(
            {
                "name": name,
                "worst_case": float(value),
                "margin": float(value) - v_star,
                "lam": _jsonable(lam),
                "per_domain": _jsonable(L),
                "in_envelope": inside,
            }
        )
    return ComparisonTable(
        records=records,
        value=v_star,
        lower=float(robust.lower),
        upper=float(robust.upper),
        converged=bool(robust.converged),
        reference="robust gate" if P is not None else "best model: robust gate of P = D",
        objective=obj.name,
        mixtures=repr(mixtures),
        labels=labels,
    )


def _expert_name(k: int, labels: tuple[str, ...], default_labels: bool) -> str:
    return f"expert {k + 1}" if default_labels else f"expert {labels[k]}"
