"""The registry of numerical theorem checks behind ``modgate verify``.

Every module of this package registers its rows with :func:`check`. A check is a
function ``(rng, trials) -> Outcome`` that draws fresh random and adversarial
instances, computes both sides of a THEORY statement and returns the number of
instances and the worst error found; the row passes when that error is at most
the tolerance declared with the check. Modules are discovered automatically, so
adding a result means adding one module here.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from theory.validation import check_int

__all__ = ["Outcome", "CheckResult", "check", "registry", "run_checks"]


@dataclass(frozen=True)
class Outcome:
    """What a check measured: how many instances, and the worst error among them."""

    trials: int
    worst_error: float


@dataclass(frozen=True)
class CheckResult:
    id: str
    statement: str
    trials: int
    worst_error: float
    tolerance: float
    passed: bool


@dataclass(frozen=True)
class _Check:
    id: str
    statement: str
    tolerance: float
    func: Callable[[np.random.Generator, int], Outcome]


_REGISTRY: dict[str, _Check] = {}


def check(id: str, statement: str, tolerance: float):
    """Register a check under a row ``id`` (e.g. ``"T1"``, ``"T1b"``, ``"S9"``)."""

    def wrap(func):
        if id in _REGISTRY:
            raise ValueError(f"id: the verify row {id!r} is registered twice")
        _REGISTRY[id] = _Check(id, statement, tolerance, func)
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


def run_checks(seed: int = 0, trials: int = 20, only=None, progress: bool = False):
    """Run the registered checks and yield one :class:`CheckResult` per row.

    Parameters
    ----------
    seed : int
        Seeds every row's generator (together with the row ID).
    trials : int, ≥ 1
        Random instances per row.
    only : collection of str, optional
        Row IDs such as ``{"T1", "T3"}``; ``"T1"`` also selects ``T1b``, ``T1c``, ….
    progress : bool
        Show a progress bar.

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
    return _run(_selected(only), seed, trials, progress)


def _run(rows: list[_Check], seed: int, trials: int, progress: bool):
    from tqdm.auto import tqdm

    for c in tqdm(rows, desc="verify", disable=not progress, leave=False):
        rng = np.random.default_rng([seed, *map(ord, c.id)])
        try:
            out = c.func(rng, trials)
        except Exception as exc:  # a crashing check is a failed row, not a lost table
            statement = f"{c.statement} [raised {type(exc).__name__}: {exc}]"
            yield CheckResult(c.id, statement, 0, math.inf, c.tolerance, False)
            continue
        err = float(out.worst_error)
        passed = bool(np.isfinite(err) and err <= c.tolerance)
        yield CheckResult(c.id, c.statement, out.trials, err, c.tolerance, passed)
