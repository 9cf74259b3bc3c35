"""The experiments behind ``modgate reproduce``, one module each.

Every module ``e<i>_<stem>.py`` of this package defines an experiment (data,
figure, tables and the computed pass/fail of its claim) and registers it with
:func:`~paper_repro.experiments._base.register`. The modules are discovered
here, so adding an experiment means adding one file; modules whose name starts
with an underscore hold setups shared by several experiments.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Sequence

from paper_repro.experiments._base import (
    Experiment,
    Unavailable,
    experiment_id,
    progress,
    register,
    registered,
)

__all__ = ["Experiment", "Unavailable", "available", "progress", "register", "registry", "select"]


def available() -> dict[str, str]:
    """Every experiment ID of this package, in ID order, with the name of its module.

    Returns
    -------
    dict
        ``{"E1": "paper_repro.experiments.e1_kakutani", ...}``; the modules are
        found by their file names and not imported.
    """
    found = {}
    for mod in pkgutil.iter_modules(__path__):
        ident = experiment_id(mod.name)
        if ident is not None:
            found[ident[0]] = f"{__name__}.{mod.name}"
    return dict(sorted(found.items(), key=lambda item: int(item[0][1:])))


def select(only: Sequence[str] | None, known: Sequence[str]) -> list[str] | None:
    """The IDs of ``only`` (case and spaces ignored), or None for all of ``known``.

    Raises
    ------
    ValueError
        If ``only`` names an ID that is not in ``known``; the message lists the valid IDs.
    """
    if only is None:
        return None
    if isinstance(only, str):
        raise ValueError(f"only: expected a list of experiment IDs, got the string {only!r}")
    wanted = [str(o).strip().upper() for o in only]
    unknown = [o for o in wanted if o not in known]
    if unknown or not wanted:
        raise ValueError(
            f"only: unknown experiment ID(s) {', '.join(unknown) or '(none given)'}; "
            f"valid IDs: {', '.join(known)}"
        )
    return wanted


def registry(only: Sequence[str] | None = None) -> list[Experiment | Unavailable]:
    """The experiments of this package (those of ``only`` if given), in ID order.

    Parameters
    ----------
    only : sequence of str, optional
        Experiment IDs such as ``["E3", "E5"]``; only their modules are imported.

    Returns
    -------
    list
        One :class:`Experiment` per selected ID, or an :class:`Unavailable` naming
        the error when its module cannot be imported or registers nothing, so that
        the runner reports that claim as failed instead of skipping it.

    Raises
    ------
    ValueError
        If ``only`` names an unknown ID.
    """
    modules = available()
    wanted = select(only, list(modules))
    selected: list[Experiment | Unavailable] = []
    for eid, module in modules.items():
        if wanted is not None and eid not in wanted:
            continue
        try:
            importlib.import_module(module)
        except Exception as exc:  # reported, never skipped: the claim then fails
            selected.append(Unavailable(eid, module, f"cannot import {module}: {exc!r}"))
            continue
        exp = registered(module)
        if exp is None:
            error = f"{module} registers no experiment (it never calls register(...))"
            selected.append(Unavailable(eid, module, error))
        else:
            selected.append(exp)
    return selected
