"""What an experiment is, how it registers itself, and its inner progress bars.

An experiment module ``paper_repro/experiments/e<i>_<stem>.py`` writes five
functions and registers them once, at its end::

    EXPERIMENT = register(
        name="Existence of the saddle point (Kakutani)",
        claim="T4: the best-response maps of the two players cross at a saddle point ...",
        params=params, run=run, plot=plot, table=table, check=check, setup=setup,
    )

The ID (``E<i>``) and the output stem come from the module's file name, so the
file name, the claim and the code are each written in one place; the runner
(:mod:`paper_repro.reproduce`) discovers the modules and never names them. This
module imports nothing from the runner: an experiment only learns whether to
show its inner progress bars from the ``show_progress`` argument of its ``run``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

__all__ = ["Experiment", "Unavailable", "experiment_id", "progress", "register", "registered"]

Rows = list[dict]

#: The file name of an experiment module: ``e<i>_<stem>``.
MODULE_NAME = re.compile(r"e(\d+)_(\w+)")


@dataclass(frozen=True)
class Experiment:
    """One experiment: a computation, its figure, its tables and the check of its claim.

    Attributes
    ----------
    id, stem : str
        ``"E1"`` and ``"kakutani"``; the outputs are named ``<id>_<stem>.*``.
    name, claim : str
        A title, and the claim the experiment checks (it opens with its result
        ID, e.g. ``"T4: ..."``).
    params : callable
        ``params(mode) -> dict``, the sizes and seeds for ``mode`` ∈ {"quick", "full"}.
    run : callable
        ``run(params, show_progress=False) -> dict``, a pure function returning data
        (numpy arrays, floats, lists); it shows its own progress bars only when
        ``show_progress`` is true.
    plot : callable
        ``plot(data, out_dir) -> Path`` writes ``<id>_<stem>.png``.
    table : callable
        ``table(data)``, the plotted numbers as rows, or a dict ``name -> rows``.
    check : callable
        ``check(data) -> (passed, measured)``, both computed from the data.
    setup : callable
        ``setup(params) -> str``, the one-paragraph setup written to REPORT.md.

    Examples
    --------
    >>> from paper_repro.experiments import registry
    >>> e1 = registry(["E1"])[0]
    >>> e1.basename, e1.claim.split(":")[0]
    ('E1_kakutani', 'T4')
    """

    id: str
    stem: str
    name: str
    claim: str
    params: Callable[[str], dict]
    run: Callable[..., dict]
    plot: Callable[[dict, Path], Path]
    table: Callable[[dict], Rows | dict[str, Rows]]
    check: Callable[[dict], tuple[bool, str]]
    setup: Callable[[dict], str]

    @property
    def basename(self) -> str:
        """The stem of the output files, ``<id>_<stem>`` (e.g. ``"E1_kakutani"``)."""
        return f"{self.id}_{self.stem}"


@dataclass(frozen=True)
class Unavailable:
    """An experiment module that could not be loaded; the runner reports it as a failed claim.

    Attributes
    ----------
    id : str
        The experiment ID read from the module's file name.
    module : str
        The module's dotted name.
    error : str
        The traceback of the import.
    """

    id: str
    module: str
    error: str


_REGISTRY: dict[str, Experiment] = {}


def experiment_id(module: str) -> tuple[str, str] | None:
    """The experiment ID and stem a module name stands for.

    Parameters
    ----------
    module : str
        A module name, dotted or not.

    Returns
    -------
    tuple of str or None
        ``("E1", "kakutani")`` for ``paper_repro.experiments.e1_kakutani``; None for
        a module that is not named ``e<i>_<stem>`` (a shared setup such as ``_realdata``).

    Examples
    --------
    >>> experiment_id("paper_repro.experiments.e10_wordfreq")
    ('E10', 'wordfreq')
    >>> experiment_id("paper_repro.experiments._common") is None
    True
    """
    m = MODULE_NAME.fullmatch(module.rpartition(".")[2])
    return (f"E{int(m.group(1))}", m.group(2)) if m else None


def register(
    *,
    name: str,
    claim: str,
    params: Callable[[str], dict],
    run: Callable[..., dict],
    plot: Callable[[dict, Path], Path],
    table: Callable[[dict], Rows | dict[str, Rows]],
    check: Callable[[dict], tuple[bool, str]],
    setup: Callable[[dict], str],
) -> Experiment:
    """Register the experiment defined by the module of ``run`` and return it.

    The ID and stem are read from that module's name (``e<i>_<stem>``), so that
    an experiment is named in one place; registering the same module again (a
    reload) replaces the earlier registration.

    Parameters
    ----------
    name, claim : str
        The title and the claim checked, as written to REPORT.md.
    params, run, plot, table, check, setup : callable
        The functions described in :class:`Experiment`.

    Returns
    -------
    Experiment

    Raises
    ------
    ValueError
        If the module is not named ``e<i>_<stem>``, or another module already
        registered the same ID.

    Examples
    --------
    Functions defined outside an ``e<i>_<stem>`` module cannot register:

    >>> def run(p, show_progress=False):
    ...     return {}
    >>> parts = dict(params=dict, plot=None, table=None, check=None, setup=None)
    >>> register(name="t", claim="T0: none", run=run, **parts)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: run: an experiment lives in a module named e<i>_<stem>.py, not '...'
    """
    ident = experiment_id(run.__module__)
    if ident is None:
        raise ValueError(
            f"run: an experiment lives in a module named e<i>_<stem>.py, not {run.__module__!r}"
        )
    exp = Experiment(ident[0], ident[1], name, claim, params, run, plot, table, check, setup)
    previous = _REGISTRY.get(exp.id)
    if previous is not None and previous.run.__module__ != run.__module__:
        raise ValueError(
            f"run: experiment {exp.id} is registered by both {previous.run.__module__} "
            f"and {run.__module__}"
        )
    _REGISTRY[exp.id] = exp
    return exp


def registered(module: str) -> Experiment | None:
    """The experiment registered by ``module``, if any.

    Parameters
    ----------
    module : str
        A full module name, e.g. ``"paper_repro.experiments.e1_kakutani"``.

    Returns
    -------
    Experiment or None
        None when the module registered nothing (or was never imported).

    Examples
    --------
    >>> from paper_repro.experiments import registry
    >>> _ = registry(["E2"])  # imports the module, which registers E2
    >>> registered("paper_repro.experiments.e2_least_favorable").id
    'E2'
    """
    for exp in _REGISTRY.values():
        if exp.run.__module__ == module:
            return exp
    return None


def progress(iterable: Iterable, desc: str, *, show: bool, total: int | None = None):
    """A tqdm bar over an experiment's own loop, drawn only when ``show`` is true.

    The runner asks for these bars when experiments run one after another in its
    own process; in worker processes they would interleave, so it does not.

    Parameters
    ----------
    iterable : iterable
        The loop.
    desc : str
        The bar's label, e.g. ``"E1 best responses"``.
    show : bool
        The ``show_progress`` argument the experiment's ``run`` received.
    total : int, optional
        The length, when ``iterable`` has none.

    Returns
    -------
    iterable
        ``iterable``, wrapped in a (possibly hidden) bar.

    Examples
    --------
    >>> list(progress(range(3), "E0 demo", show=False))
    [0, 1, 2]
    """
    return tqdm(iterable, desc=f"  {desc}", total=total, leave=False, disable=not show)
