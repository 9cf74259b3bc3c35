"""The registry of numerical theorem checks behind ``modgate verify``.

Every module of this package registers its rows with :func:`check`. A check is a
function ``(rng, trials) -> Outcome`` that draws fresh random and adversarial
instances (the families of :mod:`sims.adversarial`), computes both sides of a
THEORY statement — each side by its own method where one exists — and returns
the number of instances and the worst error found; the row passes when that
error is at most the tolerance declared with the check. A row never skips an
instance: one it cannot check counts as an infinite error.

The registration carries the row's whole explanation (``modgate verify
--explain ID``): the statement, what is measured, how, on which instances, and
the symbolic derivation behind it when there is one. That derivation (sympy,
``theory.symbolic``) is run with the row: if it raises or returns False, the row
fails. Modules are discovered
automatically, so adding a result means adding one module here.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from theory.validation import check_int

__all__ = ["Outcome", "CheckResult", "check", "explain", "registry", "run_checks"]


@dataclass(frozen=True)
class Outcome:
    """What a check measured: how many instances, and the worst error among them."""

    trials: int
    worst_error: float


@dataclass(frozen=True)
class CheckResult:
    """One row of the verify table: ``passed`` iff ``worst_error`` ≤ ``tolerance``
    (``measure`` says what the error is: an error, a z-score, a rate, a count)."""

    id: str
    statement: str
    trials: int
    worst_error: float
    tolerance: float
    passed: bool
    measure: str = "error"


@dataclass(frozen=True)
class _Check:
    id: str
    statement: str
    tolerance: float
    func: Callable[[np.random.Generator, int], Outcome]
    measure: str = "error"
    method: str = ""
    instances: str = ""
    derivation: Callable[[], object] | None = None


_REGISTRY: dict[str, _Check] = {}


def check(
    id: str,
    statement: str,
    tolerance: float,
    *,
    method: str,
    instances: str,
    measure: str = "error",
    derivation: Callable[[], object] | None = None,
):
    """Register a check under a row ``id`` (e.g. ``"T1"``, ``"T1b"``, ``"S9"``).

    Parameters
    ----------
    id : str
        The row ID; a letter suffix makes a sub-row of the THEORY result.
    statement : str
        The claim, in full (the table wraps it; nothing is cut).
    tolerance : float
        The row passes when its worst ``measure`` is at most this.
    method : str
        What is computed and compared, and how each side is obtained.
    instances : str
        Which random instances and which adversarial families are drawn.
    measure : str
        What the worst error is: ``"error"`` (absolute or relative, as
        ``method`` says), ``"z-score"``, ``"rate"``, ``"count"`` or
        ``"p shortfall"`` (max(0, level − p) of a test) or ``"log-factor"`` (how far
        a ratio lies outside a stated window, as the absolute value of the log of the factor).
    derivation : callable, optional
        Called by ``--explain``; its result is printed with ``str`` (a sympy
        derivation of the identity the row checks).
    """

    def wrap(func):
        if id in _REGISTRY:
            raise ValueError(f"id: the verify row {id!r} is registered twice")
        _REGISTRY[id] = _Check(
            id, statement, tolerance, func, measure, method, instances, derivation
        )
        return func

    return wrap


def _sort_key(id: str):
    m = re.match(r"([A-Z]+)(\d+)(.*)", id)
    return (m.group(1) != "T", m.group(1), int(m.group(2)), m.group(3)) if m else (True, id, 0, "")


def registry() -> list[_Check]:
    """All registered checks, in THEORY order (T1, T2, …, T12, then the others)."""
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")
    return sorted(_REGISTRY.values(), key=lambda c: _sort_key(c.id))


def _selected(only) -> list[_Check]:
    """The rows named by ``only`` (a row ID also selects its lettered sub-rows)."""
    rows = registry()
    if only is None:
        return rows
    if isinstance(only, str):
        raise ValueError(f"only: expected a collection of row IDs, got the string {only!r}")
    wanted = {str(o).strip() for o in only}
    unknown = sorted(o for o in wanted if not any(_matches(c.id, o) for c in rows))
    if unknown or not wanted:
        raise ValueError(
            f"only: unknown verify row(s) {', '.join(unknown) or '(none given)'}; "
            f"valid rows: {', '.join(c.id for c in rows)}"
        )
    return [c for c in rows if any(_matches(c.id, o) for o in wanted)]


def _matches(row: str, wanted: str) -> bool:
    return row == wanted or row.rstrip("abcdefgh") == wanted


def explain(id: str) -> str:
    """The full explanation of the verify row ``id``: statement, measure and tolerance,
    method, instances and, where there is one, the symbolic derivation.

    Raises
    ------
    ValueError
        If ``id`` names no row (the message lists the valid rows).
    """
    rows = {c.id: c for c in registry()}
    key = str(id).strip()
    if key not in rows:
        raise ValueError(f"--explain: unknown verify row {id!r}; valid rows: {', '.join(rows)}")
    c = rows[key]
    parts = [
        textwrap.fill(text, 88)
        for text in (
            f"{c.id}: {c.statement}",
            f"Passes when the worst {c.measure} over all instances is ≤ {c.tolerance:g}.",
            f"What is checked: {c.method}",
            f"Instances: {c.instances}",
        )
    ]
    if c.derivation is not None:
        try:
            text = str(c.derivation())
        except Exception as exc:  # a failing derivation is reported, not hidden
            text = f"the derivation failed: {type(exc).__name__}: {exc}"
        name = getattr(c.derivation, "__name__", "derivation")
        parts.append(f"Derivation (theory.symbolic.{name}):\n{text}")
    return "\n\n".join(parts)


def run_checks(
    seed: int = 0, trials: int = 20, only=None, progress: bool = False, *, exact: bool = False
):
    """Run the registered checks and yield one :class:`CheckResult` per row.

    Parameters
    ----------
    seed : int
        Seeds every row's generator (together with the row ID).
    trials : int, ≥ 1
        Random instances per row.
    only : collection of str, optional
        Row IDs such as ``{"T1", "T3"}``; ``"T1"`` also selects ``T1b``, ``T1c``, …
        unless ``exact``.
    progress : bool
        Show a progress bar.
    exact : bool
        Select exactly the rows named by ``only`` (no lettered sub-rows).

    Returns
    -------
    iterator of CheckResult
        The rows in THEORY order, each run when the iterator reaches it.

    Raises
    ------
    ValueError
        At the call, before any row runs: ``trials`` < 1, or ``only`` names an
        unknown row (the message lists the valid rows).
    """
    trials = check_int(trials, "trials", minimum=1)
    rows = _selected(only)
    if exact and only is not None:
        wanted = {str(o).strip() for o in only}
        rows = [c for c in rows if c.id in wanted]
    return _run(rows, seed, trials, progress)


def _run(rows: list[_Check], seed: int, trials: int, progress: bool):
    from tqdm.auto import tqdm

    for c in tqdm(rows, desc="verify", disable=not progress, leave=False):
        rng = np.random.default_rng([seed, *map(ord, c.id)])
        try:
            # the symbolic derivation behind the row is part of what it checks, and its
            # text is the row's explanation (--explain): it must hold and print
            derivation = None if c.derivation is None else c.derivation()
            if derivation is not None and (not derivation or not str(derivation)):
                raise AssertionError(f"the derivation {c.derivation.__name__} does not hold")
            out = c.func(rng, trials)
        except Exception as exc:  # a crashing check or derivation is a failed row
            statement = f"{c.statement} [raised {type(exc).__name__}: {exc}]"
            yield CheckResult(c.id, statement, 0, math.inf, c.tolerance, False, c.measure)
            continue
        err = float(out.worst_error)
        passed = bool(np.isfinite(err) and err <= c.tolerance)
        yield CheckResult(c.id, c.statement, out.trials, err, c.tolerance, passed, c.measure)
