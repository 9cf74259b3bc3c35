"""What every result of the package has in common: its fields and how it reads.

A solver of modgate returns a frozen dataclass with, wherever they make sense,
the same fields: ``value`` (the number the user asked for), ``lower`` and
``upper`` (a certified interval: in exact arithmetic lower ≤ true value ≤
upper), ``gap`` (= upper − lower), ``converged`` (whether the solver reached its
tolerance before its iteration budget) and ``iterations``. Values of losses,
divergences and entropies are in nats (natural logarithms).

The bounds are computed in floating point, so on an instance solved to full
precision they can cross by a few ulps. :func:`certified_interval` settles
that in one place, when the result is built: a crossing within rounding is
closed (lower is lowered to upper); a larger crossing means an arithmetic
failure, is reported by a ``RuntimeWarning`` and the result is marked
``converged=False``.

The bounds are the certificates of the paper's results: for the robust gate,
for instance, lower = d(λ) ≤ V* ≤ upper = max_{λ'∈Λ} Σ_k λ'_k L_k(q) (T5),
where V* is the robust value, d the dual function, Λ the set of allowed
mixtures λ and L_k the per-domain losses (:mod:`theory.objectives`).

Every result also reads well: ``print(result)`` (or ``result.summary()``) gives
the value with its unit, the certified interval and its gap, convergence,
iterations and the per-domain numbers (mixture weights λ, losses L_k) labelled
by domain; in a notebook the result shows as a small table
(``_repr_html_``). A result class only *declares* what to show, with a
:class:`Layout`; the mixin :class:`Readable` does the formatting. Domains are
labelled ``D_1 … D_K`` unless the result was made with ``labels=`` (or
relabelled with :meth:`Readable.with_labels`).

Examples
--------
>>> import numpy as np
>>> from dataclasses import dataclass
>>> from typing import ClassVar
>>> @dataclass(frozen=True)
... class Demo(Certified):
...     value: float
...     lower: float
...     upper: float
...     lam: np.ndarray
...     converged: bool = True
...     labels: tuple[str, ...] | None = None
...     _layout: ClassVar[Layout] = Layout("A demo result", symbol="V", weights=(("lam", "λ"),))
>>> print(Demo(0.5, 0.5, 0.5, np.array([0.25, 0.75]), labels=("en", "fr")))
A demo result: V = 0.5 nats
  certified   0.5 ≤ V ≤ 0.5 nats  (gap 0 nats)
  converged   yes
  domain  λ
  en      0.25
  fr      0.75
"""

from __future__ import annotations

import dataclasses
import html
import math
import numbers
import warnings
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from theory.validation import check_labels

__all__ = [
    "CROSS_RTOL",
    "UNITS",
    "certified_interval",
    "format_number",
    "text_table",
    "html_table",
    "Layout",
    "Readable",
    "Bounded",
    "Certified",
]

#: A lower bound above its upper bound by at most this much (relative to the
#: larger magnitude, and at least absolute) is rounding, not a contradiction.
CROSS_RTOL = 1e-10

#: The unit of every loss, divergence, entropy and bound of the package.
UNITS = "nats"


def certified_interval(lower: float, upper: float) -> tuple[float, float, bool]:
    """``(lower, upper, consistent)`` with a rounding crossing closed.

    In exact arithmetic a certificate satisfies lower ≤ value ≤ upper. In
    floating point, lower may exceed upper by rounding; when
    lower − upper ≤ ``CROSS_RTOL · max(1, abs(lower), abs(upper))`` the
    crossing is closed by setting lower = upper. ``consistent`` is False when
    ``lower`` exceeds ``upper`` by more than rounding (then both are returned
    as ``upper``, and a warning is issued),
    or when a bound is NaN: a NaN bound says nothing, so it is replaced by the
    bound that is always true (−inf below, +inf above), with a warning.

    Parameters
    ----------
    lower, upper : float
        The computed bounds.

    Returns
    -------
    lower, upper : float
        The bounds, with lower ≤ upper.
    consistent : bool
        False when the input bounds crossed by more than rounding or held a NaN.

    Warns
    -----
    RuntimeWarning
        When the bounds cross by more than rounding, or a bound is NaN.

    Examples
    --------
    >>> certified_interval(0.5, 1.0)
    (0.5, 1.0, True)
    >>> certified_interval(1.0 + 1e-13, 1.0)  # a rounding crossing is closed
    (1.0, 1.0, True)
    """
    lower, upper = float(lower), float(upper)
    if math.isnan(lower) or math.isnan(upper):
        warnings.warn(
            f"certified bounds: lower {lower!r}, upper {upper!r} hold a NaN; it is reported "
            "as the trivial bound (-inf or +inf) and converged=False",
            RuntimeWarning,
            stacklevel=3,
        )
        return (
            -math.inf if math.isnan(lower) else lower,
            math.inf if math.isnan(upper) else upper,
            False,
        )
    if not lower > upper:
        return lower, upper, True
    scale = max(1.0, abs(lower), abs(upper)) if math.isfinite(lower) else math.inf
    if lower - upper <= CROSS_RTOL * scale:
        return upper, upper, True
    warnings.warn(
        f"certified bounds cross: lower {lower!r} > upper {upper!r}; the result is "
        "reported with lower = upper and converged=False",
        RuntimeWarning,
        stacklevel=3,
    )
    return upper, upper, False


def format_number(x, digits: int = 6) -> str:
    """A number for people: ``digits`` significant digits, ``inf``, ``nan`` or ``—`` for None.

    Integers are written in full; booleans as ``yes``/``no``.

    Parameters
    ----------
    x : float, int, bool or None
        The number to write.
    digits : int, default 6
        Significant digits of a float.

    Returns
    -------
    str
        The text, e.g. ``"0.123457"``.

    Examples
    --------
    >>> format_number(0.123456789), format_number(float("inf")), format_number(12)
    ('0.123457', 'inf', '12')
    """
    if x is None:
        return "—"
    if isinstance(x, bool | np.bool_):
        return "yes" if x else "no"
    if isinstance(x, numbers.Integral):
        return str(int(x))
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0.0:
        return "0"
    return f"{x:.{digits}g}"


def _digits_for(value: float, gap) -> int:
    """Significant digits that show ``value`` to the resolution of its certificate ``gap``."""
    if gap is None or not math.isfinite(value) or value == 0.0:
        return 10
    if not math.isfinite(gap):
        return 6
    if gap <= 0.0:
        return 12
    return int(min(15, max(6, math.ceil(math.log10(abs(value) / gap)) + 2)))


def text_table(headers, rows) -> str:
    """An aligned plain-text table: a header line, then one line per row.

    Columns are left-aligned and separated by two spaces; trailing spaces are removed.

    Parameters
    ----------
    headers : sequence of str, length c
        The column headers.
    rows : sequence of sequences, each of length c
        Cells (converted with ``str``).

    Returns
    -------
    str
        The lines of the table, joined by newlines.

    Examples
    --------
    >>> print(text_table(["model", "nats"], [["uniform", "0.42"], ["robust", "0.35"]]))
    model    nats
    uniform  0.42
    robust   0.35
    """
    headers = [str(h) for h in headers]
    rows = [[str(c) for c in row] for row in rows]
    widths = [max(len(r[j]) for r in [headers, *rows]) for j in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [headers, *rows]
    ]
    return "\n".join(lines)


def html_table(headers, rows, caption: str | None = None) -> str:
    """A small HTML table; every cell, header and the caption are escaped.

    Parameters
    ----------
    headers : sequence of str
        Column headers (none: no header row).
    rows : sequence of sequences
        Cells (converted with ``str``).
    caption : str, optional
        A bold caption above the table.

    Returns
    -------
    str
        ``<table>…</table>``.

    Examples
    --------
    >>> html_table(["a"], [["x<y"]])  # doctest: +ELLIPSIS
    '<table ...><tr><th ...>a</th></tr><tr><td ...>x&lt;y</td></tr></table>'
    """
    esc = html.escape
    parts = ['<table style="border-collapse: collapse">']
    if caption:
        parts.append(f'<caption style="text-align: left"><b>{esc(caption)}</b></caption>')
    if headers:
        cells = "".join(f'<th style="text-align: left">{esc(str(h))}</th>' for h in headers)
        parts.append(f"<tr>{cells}</tr>")
    for row in rows:
        cells = "".join(f'<td style="text-align: left">{esc(str(c))}</td>' for c in row)
        parts.append(f"<tr>{cells}</tr>")
    parts.append("</table>")
    return "".join(parts)


@dataclass(frozen=True)
class Layout:
    """What a result shows; :class:`Readable` decides how.

    A result class declares one ``Layout`` as its class attribute ``_layout``;
    every field name given here must be a field (or property) of that class.

    Parameters
    ----------
    title : str
        What the result is, with its result ID, e.g. ``"Robust gate (T4–T7)"``.
    symbol : str
        The name of ``value`` in formulas, e.g. ``"V*"``.
    bounded : str or None
        The name of the quantity that ``lower`` and ``upper`` bracket, when it
        is not ``value`` itself (e.g. ``"V*"`` for a model's worst case).
    weights : tuple of (field, header)
        Per-domain mixture weights to tabulate (vectors of length K).
    losses : tuple of (field, header)
        Per-domain quantities in nats to tabulate (vectors of length K).
    numbers : tuple of (field, label)
        Further scalars in nats.
    facts : tuple of (field, label)
        Further plain values (names, counts, flags), shown as they are.
    series : tuple of (field, header)
        Columns of a per-row table (vectors of one length R, or arrays (R, draws)
        shown by their mean over draws: say so in the title), for results that
        vary a parameter.
    exact : bool
        The value is a closed form: no certified interval or convergence is shown.

    Examples
    --------
    >>> Layout("Fixed mixture (T3)", symbol="d(λ)", exact=True).symbol
    'd(λ)'
    """

    title: str
    symbol: str = "value"
    bounded: str | None = None
    weights: tuple[tuple[str, str], ...] = ()
    losses: tuple[tuple[str, str], ...] = ()
    numbers: tuple[tuple[str, str], ...] = ()
    facts: tuple[tuple[str, str], ...] = ()
    series: tuple[tuple[str, str], ...] = ()
    exact: bool = False


def _get(obj, name: str):
    return getattr(obj, name, None)


def _describe_objective(name: str) -> str:
    """``"divergence (L_k = KL(D_k‖q))"`` for a registered objective, else the name."""
    from theory.objectives import get as get_objective
    from theory.objectives import names

    if isinstance(name, str) and name in names():
        return f"{name} (L_k = {get_objective(name).loss})"
    return str(name)


class Readable:
    """Mixin for result dataclasses: ``summary()``, ``str()``, ``_repr_html_`` and domain labels.

    A subclass sets the class attribute ``_layout`` (a :class:`Layout`) and, if
    it has per-domain vectors, a dataclass field ``labels`` (default None). The
    standard fields ``value``, ``lower``, ``upper``, ``gap``, ``converged`` and
    ``iterations`` are shown whenever the result has them and they are not None.

    Examples
    --------
    See the example of the module :mod:`theory.results`, whose ``Demo`` class
    derives from :class:`Certified`, a subclass of ``Readable``.
    """

    _layout: ClassVar[Layout]

    # -- labels

    def _num_domains(self) -> int | None:
        lay = self._layout
        for name, _ in (*lay.weights, *lay.losses):
            v = _get(self, name)
            if v is not None:
                return int(np.shape(v)[0])
        return None

    @property
    def domain_labels(self) -> tuple[str, ...]:
        """The names of the domains: ``labels`` if set, else ``D_1 … D_K``.

        Returns
        -------
        tuple of str
            One name per domain; empty when the result has no per-domain numbers.
        """
        K = self._num_domains()
        if K is None:
            return ()
        labels = _get(self, "labels")
        return tuple(labels) if labels is not None and len(labels) == K else check_labels(None, K)

    def with_labels(self, labels):
        """A copy of this result whose domains are named by ``labels`` (one per domain).

        Parameters
        ----------
        labels : sequence of str, length K
            The new names, e.g. ``("en", "fr")``; None restores ``D_1 … D_K``.

        Returns
        -------
        Readable
            A new result of the same class; the numbers are unchanged.

        Raises
        ------
        ValueError
            If the result has no per-domain numbers, or as :func:`theory.validation.check_labels`.
        """
        K = self._num_domains()
        if K is None or not any(f.name == "labels" for f in dataclasses.fields(self)):
            raise ValueError(f"labels: a {type(self).__name__} has no per-domain numbers to label")
        return dataclasses.replace(self, labels=check_labels(labels, K))

    # -- content

    def _headline(self) -> str | None:
        value = _get(self, "value")
        if value is None:
            return None
        digits = _digits_for(float(value), _get(self, "gap"))
        return f"{self._layout.symbol} = {format_number(value, digits)} {UNITS}"

    def _pairs(self) -> list[tuple[str, str]]:
        lay = self._layout
        out: list[tuple[str, str]] = []
        lower, upper = _get(self, "lower"), _get(self, "upper")
        if lay.exact:
            out.append(("certified", "exact (closed form)"))
        elif lower is not None and upper is not None:
            gap = float(upper) - float(lower)
            digits = _digits_for(float(upper), gap)
            out.append(
                (
                    "certified",
                    f"{format_number(lower, digits)} ≤ {lay.bounded or lay.symbol} ≤ "
                    f"{format_number(upper, digits)} {UNITS}  (gap {format_number(gap, 2)} {UNITS})",
                )
            )
        converged, iterations = _get(self, "converged"), _get(self, "iterations")
        after = (
            ""
            if iterations is None
            else f" after {format_number(iterations)} iteration{'' if iterations == 1 else 's'}"
        )
        solved = iterations is not None or (lower is not None and upper is not None)
        if not lay.exact and converged is not None and solved:
            if converged:
                text = f"yes,{after}" if after else "yes"
            else:
                text = f"NO: stopped{after} before reaching its tolerance (the bounds still hold)"
            out.append(("converged", text))
        elif iterations is not None:
            out.append(("iterations", format_number(iterations)))
        for name, label in lay.numbers:
            v = _get(self, name)
            if v is not None:
                out.append((label, f"{format_number(v, 8)} {UNITS}"))
        for name, label in lay.facts:
            v = _get(self, name)
            if v is not None:
                text = v if isinstance(v, str) else format_number(v)
                out.append((label, _describe_objective(v) if name == "objective" else text))
        return out

    def _domain_table(self) -> tuple[list[str], list[list[str]]] | None:
        lay = self._layout
        columns = [(h, _get(self, f), False) for f, h in lay.weights]
        columns += [(f"{h} ({UNITS})", _get(self, f), True) for f, h in lay.losses]
        columns = [c for c in columns if c[1] is not None]
        if not columns:
            return None
        labels = self.domain_labels
        rows = [
            [label, *(format_number(np.asarray(v)[k], 6) for _, v, _ in columns)]
            for k, label in enumerate(labels)
        ]
        return ["domain", *(h for h, _, _ in columns)], rows

    def _series_table(self) -> tuple[list[str], list[list[str]]] | None:
        lay = self._layout
        if not lay.series:
            return None
        headers, columns = [], []
        for name, header in lay.series:
            a = np.asarray(_get(self, name), dtype=np.float64)
            if a.ndim == 2:
                a = a.mean(axis=1)
            headers.append(header)
            columns.append(a)
        rows = [[format_number(c[i], 4) for c in columns] for i in range(len(columns[0]))]
        return headers, rows

    def _tables(self) -> list[tuple[list[str], list[list[str]]]]:
        return [t for t in (self._domain_table(), self._series_table()) if t is not None]

    # -- rendering

    def summary(self) -> str:
        """A few lines a student can read: value in nats, certificate, convergence, domains.

        Returns
        -------
        str
            The same text as ``str(result)``; see the module example.
        """
        head = self._headline()
        lines = [f"{self._layout.title}: {head}" if head else self._layout.title]
        pairs = self._pairs()
        if pairs:
            width = max(len(k) for k, _ in pairs)
            lines += [f"  {k.ljust(width)}   {v}" for k, v in pairs]
        for headers, rows in self._tables():
            lines += ["  " + line for line in text_table(headers, rows).splitlines()]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        head = self._headline()
        rows = ([["value", head]] if head else []) + [list(p) for p in self._pairs()]
        parts = [html_table([], rows, caption=self._layout.title)]
        parts += [html_table(h, r) for h, r in self._tables()]
        return "<div>" + "".join(parts) + "</div>"


class Bounded(Readable):
    """A readable result with ``lower``/``upper`` bounds and their :attr:`gap`.

    Unlike :class:`Certified`, the bounds are not checked when the result is
    built (for results whose bounds are estimates or may be missing).
    """

    @property
    def gap(self) -> float | None:
        """The width upper − lower of the certified interval (None without bounds).

        Returns
        -------
        float or None
            upper − lower, in nats; +inf when a bound is infinite.
        """
        lower, upper = _get(self, "lower"), _get(self, "upper")
        if lower is None or upper is None:
            return None
        return float(upper) - float(lower)


class Certified(Bounded):
    """Mixin for frozen result dataclasses with ``lower``/``upper``/``converged`` fields.

    Closes rounding crossings of the bounds when the result is built
    (:func:`certified_interval`) and provides :attr:`gap` (≥ 0). A crossing
    larger than rounding sets ``converged`` to False, with a RuntimeWarning.

    Examples
    --------
    See the example of the module :mod:`theory.results`.
    """

    def __post_init__(self) -> None:
        lower, upper, consistent = certified_interval(self.lower, self.upper)
        object.__setattr__(self, "lower", lower)
        object.__setattr__(self, "upper", upper)
        if not consistent and hasattr(self, "converged"):
            object.__setattr__(self, "converged", False)
