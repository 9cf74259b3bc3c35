r"""The ``modgate`` commands on a Dask cluster: ``verify --workers/--scheduler``, ``sweep``, figures.

One way to reach a cluster, :func:`connect`: without an address it starts a
``dask.distributed.LocalCluster`` of worker processes on this machine; with
``scheduler="tcp://HOST:PORT"`` it joins a running cluster (started with
``dask scheduler`` and ``dask worker tcp://HOST:PORT``, in this Python
environment so that the workers import the same package). Everything after
that is the same code: tasks are submitted to the client and collected with
``as_completed``, and Dask reruns the tasks of a worker that dies. Each worker
compiles (or loads from numba's on-disk cache) the package's kernels once, when
it joins, through the :class:`WarmUp` worker plugin.

* :func:`run_checks_distributed` spreads the trials of every ``modgate verify``
  row over the workers. It only calls the public
  ``paper_repro.checks.run_checks(seed=…, trials=…, only={row})`` on chunks of
  at most ``chunk_trials`` trials, chunk i with its own seed, and combines the
  chunks of a row: trials are summed, the worst error is the largest, and the
  row fails if any chunk fails.
* :func:`sweep` runs a study of :mod:`sims.sweep` into a folder (rows in
  ``STUDY.parquet/``, all requested rows in ``STUDY.csv``, the figure as
  ``STUDY.png``, ``.pdf`` and ``.svg``).
* :func:`phase_diagram` draws the margin of ``modular-vs-monolithic`` over
  separation × noise (E11): one heat map of the mean over seeds per monolithic
  class on one colour scale centred at 0, its zero contour, the cells whose
  bootstrap interval contains 0, and the margin against the JSD of the domains.
  :func:`plot_sweep` draws the other sweeps; both follow the house style of
  :mod:`paper_repro.plotting`.

The studies themselves (what a grid point computes, its result IDs) are
defined in :mod:`sims.sweep`; ``modgate sweep --list`` prints them.

Examples
--------
A sweep needs a cluster; listing the studies does not:

>>> from paper_repro.distributed import describe_studies
>>> print(describe_studies().splitlines()[0])
modular-vs-monolithic
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import string
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from distributed.diagnostics.plugin import WorkerPlugin

from paper_repro import plotting
from theory.validation import check_int

__all__ = [
    "CHUNK_TRIALS",
    "WarmUp",
    "connect",
    "run_checks_distributed",
    "sweep",
    "describe_studies",
    "write_csv",
    "plot_sweep",
    "phase_diagram",
]

#: Trials of one row per verify task: a chunk runs for seconds to a minute.
#: Smaller chunks spread a row over more workers, larger ones pay less overhead.
CHUNK_TRIALS = 250

# Seconds to wait for a running cluster to answer and to have a worker.
_CONNECT_TIMEOUT = 30


def _warm_up_worker() -> None:
    from paper_repro.warmup import warm_up

    warm_up()


class WarmUp(WorkerPlugin):
    """Worker plugin: compile or load the numba kernels once, when a worker starts.

    Registered by :func:`connect` on every worker of the cluster, present and
    future (a worker restarted after a crash warms up again). The warm-up runs
    in a thread, so that the worker keeps answering the scheduler meanwhile;
    the worker takes tasks only once it is done.
    """

    name = "modgate-warm-up"

    async def setup(self, worker) -> None:
        """Warm the kernels up on ``worker``, off its event loop.

        Parameters
        ----------
        worker : distributed.Worker
            The worker that starts; Dask calls this once per worker.
        """
        await asyncio.to_thread(_warm_up_worker)


@contextmanager
def connect(workers: int | None = None, scheduler: str | None = None):
    """A Dask client on a local cluster or on a running scheduler, with warmed-up workers.

    Parameters
    ----------
    workers : int, optional
        Worker processes of the local cluster (one thread each); default: the
        number of cores. Not allowed with ``scheduler``.
    scheduler : str, optional
        The address of a running scheduler, e.g. ``"tcp://127.0.0.1:8786"``.

    Yields
    ------
    dask.distributed.Client
        Closed (and the local cluster shut down) on exit.

    Raises
    ------
    ValueError
        Both arguments given, ``workers`` < 1, or no scheduler (or no worker)
        answering at ``scheduler`` within 30 s.
    """
    from dask.distributed import Client, LocalCluster

    if workers is not None and scheduler is not None:
        raise ValueError("workers: give either workers (a local cluster) or scheduler, not both")
    cluster = None
    if scheduler is None:
        n = check_int(workers, "workers") if workers is not None else (os.cpu_count() or 1)
        # Dask's warnings about slow worker shutdowns are noise here; errors still show.
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        client = Client(cluster)
    else:
        if not isinstance(scheduler, str) or not scheduler.strip():
            raise ValueError(
                f"scheduler: expected an address such as tcp://HOST:PORT, got {scheduler!r}"
            )
        try:
            client = Client(scheduler, timeout=_CONNECT_TIMEOUT)
        except OSError as exc:
            raise ValueError(f"scheduler: cannot connect to {scheduler!r} ({exc})") from None
        try:
            client.wait_for_workers(1, timeout=_CONNECT_TIMEOUT)
        except TimeoutError:
            client.close()
            raise ValueError(
                f"scheduler: no worker joined {scheduler!r} within {_CONNECT_TIMEOUT} s; "
                f"start one with: dask worker {scheduler}"
            ) from None
    try:
        client.register_plugin(WarmUp(), name=WarmUp.name)
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _describe_cluster(client, scheduler: str | None) -> str:
    n = len(client.scheduler_info().get("workers", {}))
    where = f"the cluster at {scheduler}" if scheduler else "a local cluster"
    return f"{where} ({n} worker{'s' if n != 1 else ''})"


# ----------------------------------------------------------------------------- verify


def _chunk_seeds(seed: int, count: int) -> list[int]:
    """Chunk 0 keeps ``seed`` (so a run in one chunk is the serial run); chunk i ≥ 1
    gets a 63-bit seed drawn from ``SeedSequence([seed, i])``."""
    seeds = [seed]
    for i in range(1, count):
        a, b = np.random.SeedSequence([seed, i]).generate_state(2)
        seeds.append(((int(a) << 32) | int(b)) >> 1)
    return seeds


def _base(row_id: str) -> str:
    return row_id.rstrip(string.ascii_lowercase)


def _units(ids: Sequence[str], only) -> tuple[list[str], list[str]]:
    """The ``only`` sets of the tasks (one per row family, or per row asked for) and
    the row IDs they must produce, in registry order."""
    if only is None:
        wanted = list(dict.fromkeys(_base(i) for i in ids))
    else:
        wanted = list(dict.fromkeys(str(o).strip() for o in only))
        # A family asked for already runs its lettered rows.
        wanted = [w for w in wanted if _base(w) == w or _base(w) not in wanted]
    expected = [i for i in ids if any(i == w or _base(i) == w for w in wanted)]
    return wanted, expected


def _verify_chunk(unit: str, seed: int, trials: int) -> list:
    from paper_repro.checks import run_checks

    return list(run_checks(seed=seed, trials=trials, only={unit}))


def _combine(ids: Sequence[str], expected: Sequence[str], chunks: dict, failures: dict) -> list:
    """One CheckResult per expected row from the results of its chunks."""
    from paper_repro.checks import CheckResult

    by_id: dict[str, list] = {}
    where: dict[int, tuple] = {}
    for (_unit, seed, trials), results in chunks.items():
        for r in results:
            by_id.setdefault(r.id, []).append(r)
            where[id(r)] = (seed, trials)
    rows = []
    for rid in expected:
        parts = by_id.get(rid, [])
        errors = [msg for unit, msg in failures.items() if rid == unit or _base(rid) == unit]
        if not parts:
            why = errors[0] if errors else "no chunk returned this row"
            rows.append(
                CheckResult(rid, f"[not run on the cluster: {why}]", 0, math.inf, math.nan, False)
            )
            continue
        worst = max((r.worst_error if not math.isnan(r.worst_error) else math.inf) for r in parts)
        failed = [r for r in parts if not r.passed]
        statement = parts[0].statement
        if failed:
            # The failing chunk alone, reproducible with the serial `modgate verify`.
            seed, trials = where[id(failed[0])]
            statement = f"{failed[0].statement} [fails with --seed {seed} --trials {trials}]"
        if errors:
            statement = f"{statement} [a chunk failed on the cluster: {errors[0]}]"
        rows.append(
            CheckResult(
                rid,
                statement,
                sum(r.trials for r in parts),
                worst,
                parts[0].tolerance,
                not failed and not errors,
                parts[0].measure,
            )
        )
    order = {rid: i for i, rid in enumerate(ids)}
    return sorted(rows, key=lambda r: order.get(r.id, len(order)))


def run_checks_distributed(
    *,
    seed: int = 0,
    trials: int = 20,
    only=None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = False,
    chunk_trials: int = CHUNK_TRIALS,
    client=None,
) -> list:
    r"""The rows of ``modgate verify`` with their trials spread over a Dask cluster.

    Every row family (``T1`` with ``T1b``, ``T1c``, …) runs in chunks of at most
    ``chunk_trials`` trials, chunk i calling
    ``run_checks(seed=s_i, trials=t_i, only={family})`` with s_0 = ``seed`` and
    s_i (i ≥ 1) drawn from ``SeedSequence([seed, i])``, so the chunks check
    independent instances. A row's result combines its chunks: trials summed,
    worst error the largest (NaN counts as +inf), failed if any chunk failed or
    a chunk could not run (e.g. it killed its workers). The statement of a failed
    row ends with the seed and trials of its first failing chunk, which the
    serial ``modgate verify --seed S --trials T --only ROW`` reproduces.

    Parameters
    ----------
    seed : int, default 0
        The seed of the run (≥ 0); chunk 0 uses it as it is.
    trials : int, default 20
        Random instances per row (≥ 1), over all chunks.
    only : collection of str, optional
        Row IDs as for ``run_checks`` (e.g. ``{"T3", "T6"}``); all rows if None.
    workers : int, optional
        Worker processes of a local cluster (:func:`connect`); ignored when
        ``client`` is given.
    scheduler : str, optional
        Address of a running scheduler (:func:`connect`); ignored when
        ``client`` is given.
    progress : bool, default False
        Show a progress bar of the chunks.
    chunk_trials : int, default CHUNK_TRIALS
        Trials per chunk (≥ 1).
    client : dask.distributed.Client, optional
        Use this client instead of connecting.

    Returns
    -------
    list of paper_repro.checks.CheckResult
        In the order of ``modgate verify``.

    Raises
    ------
    ValueError
        Before anything runs: ``trials`` < 1, an unknown row in ``only``, bad
        ``workers``/``scheduler``.
    """
    from tqdm.auto import tqdm

    from paper_repro.checks import registry, run_checks

    seed = check_int(seed, "seed", minimum=0)
    run_checks(seed=seed, trials=trials, only=only)  # validates; runs nothing
    chunk_trials = check_int(chunk_trials, "chunk_trials")
    ids = [c.id for c in registry()]
    units, expected = _units(ids, only)
    count = math.ceil(trials / chunk_trials)
    seeds = _chunk_seeds(seed, count)
    sizes = [min(chunk_trials, trials - i * chunk_trials) for i in range(count)]
    tasks = [(u, s, t) for u in units for s, t in zip(seeds, sizes, strict=True)]

    def run(c) -> tuple[dict, dict]:
        from dask.distributed import as_completed

        futures = {c.submit(_verify_chunk, *task, pure=False): task for task in tasks}
        done, failures = {}, {}
        with tqdm(total=len(tasks), desc="verify", unit="chunk", disable=not progress) as bar:
            for fut in as_completed(futures):
                task = futures.pop(fut)
                try:
                    done[task] = fut.result()
                except Exception as exc:  # the chunk is reported as a failed row
                    failures.setdefault(task[0], f"{type(exc).__name__}: {exc}")
                fut.release()
                bar.update()
        # Chunks in their own order, so that the failing chunk a row names does not
        # depend on which worker finished first.
        return {t: done[t] for t in tasks if t in done}, failures

    if client is not None:
        done, failures = run(client)
    else:
        with connect(workers, scheduler) as c:
            done, failures = run(c)
    return _combine(ids, expected, done, failures)


# ----------------------------------------------------------------------------- sweeps


def describe_studies() -> str:
    """The registered studies of :mod:`sims.sweep`, as printed by ``modgate sweep --list``.

    Returns
    -------
    str
        Per study: its name, its summary (led by the result IDs it checks), its
        grid keys with their defaults and its outputs, one item per line.

    Examples
    --------
    >>> text = describe_studies()
    >>> text.splitlines()[1].strip().startswith("T6–T10:")
    True
    """
    from sims.sweep import studies

    lines = []
    for st in studies():
        lines.append(f"{st.name}\n  {st.summary}")
        keys = ", ".join(f"{k}={v}" for k, v in st.defaults.items())
        lines.append(f"  keys (defaults): {keys}")
        lines.append(f"  outputs: {', '.join(st.outputs)}")
    return "\n".join(lines)


def write_csv(table, path: Path) -> Path:
    """Write a ``pyarrow.Table`` as CSV (header line, quoted strings), atomically.

    The file appears complete or not at all (written to a temporary name,
    then renamed), so an interrupted run never leaves half a CSV.

    Parameters
    ----------
    table : pyarrow.Table
        The rows to write.
    path : str or Path
        The CSV file; its folder must exist.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    OSError
        If the folder is missing or not writable.

    Examples
    --------
    >>> import tempfile, pyarrow as pa
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> print(write_csv(pa.table({"m": [10, 20], "model": ["gate", "tabular"]}),
    ...                 folder / "rows.csv").read_text(), end="")
    "m","model"
    10,"gate"
    20,"tabular"
    """
    import pyarrow.csv as pacsv

    with plotting.atomic_path(path) as tmp:
        pacsv.write_csv(table, str(tmp))
    return Path(path)


def sweep(
    study,
    out,
    settings: Sequence[str] | dict | None = None,
    seeds=1,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = False,
    echo: Callable[[str], None] | None = None,
):
    """Run a study of :mod:`sims.sweep` on a Dask cluster into ``out``, then write its CSV and figure.

    Rows already stored in ``out`` (from an earlier, possibly interrupted,
    run) are not computed again.

    Parameters
    ----------
    study : str or sims.sweep.Study
        The study, by name (``modgate sweep --list``) or as registered.
    out : str or Path
        The output folder (created if missing).
    settings : list of str or dict, optional
        ``KEY=V1,V2`` strings (the ``--set`` options) or ``{key: [values]}``;
        keys not given keep their defaults.
    seeds : int or sequence of int, default 1
        A count N (seeds 0 … N−1) or the seeds themselves.
    workers : int, optional
        Worker processes of a local cluster (:func:`connect`).
    scheduler : str, optional
        Address of a running scheduler (:func:`connect`). No cluster is
        started when every requested row is already stored.
    progress : bool
        Show a progress bar of the rows.
    echo : callable, optional
        Receives one line per step (what is stored, what is computed, where, the
        files written); nothing is printed otherwise.

    Returns
    -------
    sims.sweep.SweepResult
        The table of the requested rows, counts of computed and failed rows,
        the errors and the time taken.

    Raises
    ------
    ValueError
        A bad study, key, value, seed count or folder, naming it.
    """
    from sims.sweep import get_study, parse_settings, plan_sweep, run_sweep

    say = echo or (lambda line: None)
    study = get_study(study)
    out = plotting.writable_folder(Path(out), "out")
    if settings is None or isinstance(settings, dict):
        values = settings
    else:
        values = parse_settings(study, settings)
    plan = plan_sweep(study, out, values, seeds)
    say(
        f"{study.name}: {plan.requested} rows requested ({len(plan.points)} grid points × "
        f"{len(plan.seeds)} seeds); {plan.stored} already stored in {plan.store.path}; "
        f"computing {len(plan.missing)}"
    )
    if plan.missing:
        with connect(workers, scheduler) as client:
            say(f"running on {_describe_cluster(client, scheduler)}")
            result = run_sweep(plan, client, progress=progress)
    else:
        result = run_sweep(plan, None)
    say(f"computed {result.computed} rows in {result.seconds:.1f} s")
    if result.failed:
        say(f"{result.failed} rows FAILED: " + "; ".join(result.errors[:3]))
    files = [write_csv(result.table, out / f"{study.name}.csv")]
    if result.table.num_rows:
        files += plot_sweep(study, result.table, out)
    say(f"{result.table.num_rows} requested rows stored; wrote " + ", ".join(str(f) for f in files))
    return result


# ----------------------------------------------------------------------------- figures

# The keys of the studies as a reader names them: an axis label and the symbol
# (mathtext, "" for none) that a panel title uses.
_KEYS = {
    "K": ("number of domains $K$", "K"),
    "n": ("support size $n$", "n"),
    "m": ("sample size $m$", "m"),
    "V": ("alphabet size $V$", "V"),
    "separation": ("separation $s$", "s"),
    "noise": (r"expert noise $\varepsilon$", r"\varepsilon"),
    "monolithic": ("monolithic class $H$", "H"),
    "weights": (r"retraining weights $\alpha$", r"\alpha"),
    "imbalance": ("size imbalance", ""),
    "mixtures": (r"mixture set $\Lambda$", r"\Lambda"),
    "expert_samples": ("samples per expert", ""),
    "draws": ("sample draws", ""),
    "delta": (r"confidence $\delta$", r"\delta"),
    "radius": ("gate radius $B$", "B"),
}
# Words of the outputs' names written as in the text.
_WORDS = {"jsd": "JSD", "dro": "DRO", "regmix": "RegMix", "tab": "tabular", "t10": "T10"}
# Words of an output's name that make it an information quantity (nats); the
# others (violation rates, envelope flags, the skewness term) have no unit.
_NATS_WORDS = frozenset(
    ("case", "lower", "gap", "margin", "jsd", "capacity", "error", "interference")
    + ("misweighting", "slack", "sup", "max", "bound")
)
# Margins within this many nats of 0 are ties: the solvers certify values to 1e-9.
_TIE = 1e-9


def _save_all(fig, stem: Path) -> list[Path]:
    """The figure as vector PDF and SVG, then PNG (``plotting.save`` closes it)."""
    paths = []
    for fmt in ("pdf", "svg"):
        path = stem.with_suffix(f".{fmt}")
        with plotting.atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, bbox_inches="tight")
        paths.append(path)
    return [plotting.save(fig, stem.with_suffix(".png")), *paths]


def _seeds(count: int) -> str:
    return f"{count} seed" + ("s" if count != 1 else "")


def _theorem(study) -> str:
    return study.summary.partition(":")[0]


def _varied(study, cols: dict) -> list[str]:
    return [k for k in study.keys if len(set(cols[k].tolist())) > 1]


def _key_label(key: str) -> str:
    return _KEYS[key][0] if key in _KEYS else key.replace("_", " ")


def _value_label(key: str, value, *, compact: bool = False) -> str:
    """``key = value`` for a legend, or as short as a panel title allows (``compact``);
    a monolithic class by its name."""
    if key == "monolithic":
        return _class_name(value)
    text = str(value).replace("_", " ")
    symbol = _KEYS.get(key, ("", ""))[1]
    if compact and symbol:
        return f"${symbol}$ = {text}"
    return f"{_key_label(key)} = {text}"


def _output_label(name: str) -> str:
    words = name.split("_")
    text = " ".join(_WORDS.get(w, w) for w in words)
    return f"{text} (nats)" if _NATS_WORDS.intersection(words) else text


def _label(keys: Sequence[str], values: Sequence, *, compact: bool = False) -> str:
    return ", ".join(_value_label(k, v, compact=compact) for k, v in zip(keys, values, strict=True))


def _title(fig, study, claim: str) -> None:
    plotting.title(fig, _theorem(study), claim)


@plotting.styled
def plot_sweep(study, table, out) -> list[Path]:
    """Draw the sweep's figure into ``out/STUDY.{png,pdf,svg}`` in the house style.

    The house style is that of :mod:`paper_repro.plotting` (7 inches wide, 9 pt
    text, mathtext symbols, units on the axes, the section of the paper and the
    result IDs in the title). ``modular-vs-monolithic`` with both ``separation`` and ``noise`` varied gets
    the :func:`phase_diagram` (one heat map per combination of the other varied
    keys); every other sweep gets the study's headline outputs against the first
    varied numeric key, one panel per output (three to a row) and one line per
    combination of the other varied keys, seeds aggregated as mean and 95%
    bootstrap band, the legend below the panels.

    Parameters
    ----------
    study : sims.sweep.Study or str
        The study the rows belong to.
    table : pyarrow.Table
        Rows of the study.
    out : str or Path
        The folder.

    Returns
    -------
    list of Path
        The PNG, PDF and SVG files.
    """
    from sims.sweep import columns, get_study

    study = get_study(study)
    cols = columns(table)
    varied = _varied(study, cols)
    stem = Path(out) / study.name
    if study.name == "modular-vs-monolithic" and {"separation", "noise"} <= set(varied):
        panels = [k for k in varied if k not in ("separation", "noise")]
        fig = phase_diagram(table, panels=panels)
    else:
        fig = _lines(study, cols, varied)
    return _save_all(fig, stem)


def _series_colors(count: int) -> list:
    """Colour-blind safe colours of ``count`` series: Tol's high-contrast cases up to
    three, evenly spaced viridis (ordered, like the sorted series) beyond."""
    from matplotlib import colormaps

    if count <= len(plotting.CASE_COLORS):
        return [plotting.case_color(i) for i in range(count)]
    return [colormaps["viridis"](t) for t in np.linspace(0.0, 0.9, count)]


def _lines(study, cols: dict, varied: list[str]):
    """Headline outputs against the first varied key (numeric first), one line per
    combination of the other varied keys, mean and 95% bootstrap band."""
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    from sims.sweep import summarize

    numeric = [k for k in varied if study.kind(k) is not str]
    x = (numeric or varied or [None])[0]
    series = [k for k in varied if k != x]
    outputs = list(study.headline or study.outputs[:4])
    summary = summarize(cols, [*series, *([x] if x else [])], outputs)
    seeds = int(max(r["seeds"] for r in summary))
    groups: dict[tuple, list[dict]] = {}
    for row in summary:
        groups.setdefault(tuple(row[k] for k in series), []).append(row)
    categories = sorted({r[x] for r in summary}) if x and study.kind(x) is str else None
    # At most three panels to a row, the rows as even as they can be.
    nrows = math.ceil(len(outputs) / 3)
    ncols = math.ceil(len(outputs) / nrows)
    legend_rows = math.ceil((len(groups) + 1) / 3)
    fig, axes = plotting.figure(nrows, ncols, height=2.5 * nrows + 0.5 + 0.22 * legend_rows)
    panels = list(axes.flat)
    for ax in panels[len(outputs) :]:
        ax.remove()
    colors = _series_colors(len(groups))

    def position(row):
        if x is None:
            return 0.0
        return categories.index(row[x]) if categories else row[x]

    for ax, o in zip(panels, outputs, strict=False):
        for c, (key, rows) in zip(colors, groups.items(), strict=True):
            xs = np.array([position(r) for r in rows], dtype=float)
            label = _label(series, key) or f"mean of {_seeds(seeds)}"
            ax.plot(xs, [r[o] for r in rows], "o-", color=c, ms=3.5, label=label)
            ax.fill_between(
                xs,
                [r[f"{o}_lo"] for r in rows],
                [r[f"{o}_hi"] for r in rows],
                color=c,
                alpha=0.15,
                lw=0,
            )
        if categories:
            ax.set_xticks(range(len(categories)), categories)
        elif x is not None and study.kind(x) is int:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set(xlabel=_key_label(x) if x else "default grid point", ylabel=_output_label(o))
        if "margin" in o.split("_") or "slack" in o.split("_"):
            ax.axhline(0.0, color="k", lw=0.8)
    handles, labels = plotting.legend_entries(panels[: len(outputs)])
    handles.append(Patch(color="0.5", alpha=0.3))
    labels.append(f"95% bootstrap band ({_seeds(seeds)})")
    plotting.figure_legend(fig, handles, labels, ncol=min(3, len(labels)))
    _title(fig, study, f"the {study.name} sweep")
    return fig


def _edges(values: np.ndarray) -> np.ndarray:
    """Cell edges halfway between the sorted ``values``, the outer cells as wide as their neighbours."""
    mid = (values[1:] + values[:-1]) / 2
    return np.concatenate(
        [[values[0] - (mid[0] - values[0])], mid, [values[-1] + (values[-1] - mid[-1])]]
    )


def _spread(values: np.ndarray, count: int) -> np.ndarray:
    """At most ``count`` + 1 of the sorted ``values``, at least a ``count``-th of their range apart."""
    # A relative slack, so that a grid like linspace(0, 0.8, 17) keeps its last value
    # although 0.8 − 0.6 falls a rounding error short of 0.2.
    step = (values[-1] - values[0]) / count * (1 - 1e-9)
    kept = [values[0]]
    for v in values[1:]:
        if v - kept[-1] >= step:
            kept.append(v)
    return np.array(kept)


def _class_name(value) -> str:
    """A monolithic class of the study by its name."""
    if value == "full":
        return r"full class $\Delta(\mathcal{X})$"
    if value == "product":
        return "product class"
    if str(value).startswith("markov:"):
        return f"Markov class of order {str(value).partition(':')[2]}"
    return f"class {value}"


def _plain(value):
    """A NumPy scalar as the Python value ``summarize`` keys its rows by."""
    return value.item() if hasattr(value, "item") else value


def _panel_name(panels: Sequence[str], key: tuple, *, compact: bool = False) -> str:
    return _label(panels, key, compact=compact) or "margin"


def _signed_sqrt(x):
    return np.sign(x) * np.sqrt(np.abs(x))


def _signed_square(y):
    return np.sign(y) * np.square(y)


def _colorbar_ticks(limit: float) -> list[float]:
    """Round margins to mark on the square-root colour scale: 0 and, per sign, values
    near 1/9, 4/9 and all of ``limit`` (equally spaced on the scale), one significant digit."""
    ticks = {0.0}
    for share in (1 / 9, 4 / 9, 1.0):
        v = share * limit
        digits = 10.0 ** math.floor(math.log10(v))
        v = math.floor(v / digits) * digits
        ticks |= {v, -v}
    return sorted(ticks)


def _filler():
    """An invisible legend entry that keeps a column of the legend to its group."""
    from matplotlib.lines import Line2D

    return Line2D([], [], ls="none", marker="none")


@plotting.styled
def phase_diagram(table, panels: Sequence[str] = (), *, experiment: str = ""):
    r"""The phase diagram of ``modular-vs-monolithic``: where the robust gate beats retraining (T8–T10).

    The margin of a grid point is

    .. math:: \mathrm{margin} = W(h_\alpha) - W(p_{g^*}), \qquad
              W(q) = \max_{\lambda\in\Lambda}\sum_k \lambda_k\,\mathrm{KL}(D_k\,\|\,q),

    the worst case of aggregate retraining in the monolithic class minus that of
    the robust gate (nats; > 0: the modular model wins). The figure has

    * one heat map per combination of the ``panels`` keys (e.g. one per
      monolithic class) of the mean margin over the seeds, on separation s ×
      expert noise ε, all on one diverging colour scale centred at 0 (blue: the
      modular model wins, red: retraining wins; ColorBrewer's RdBu, readable
      with the common colour-vision deficiencies; a signed square-root scale,
      so that margins of a few hundredths of a nat show their sign next to
      margins near 1), with the zero contour of the
      mean (the phase boundary) and an open circle on every cell whose 95%
      bootstrap interval contains 0 (the seeds do not decide the sign there);
      the top axis gives the diversity of the domains at a few separations;
    * a last panel of the margin against that diversity,
      :math:`C = \max_{\lambda\in\Lambda}\mathrm{JSD}_\lambda(D)` (the
      ``capacity`` output, the value with perfect experts, T6/T7; mean over
      seeds), one colour per heat map and one line style per noise level
      (lowest, middle, highest), with the 95% bootstrap band;
    * the legend below the panels and the title "§4.5 modular vs monolithic".

    Parameters
    ----------
    table : pyarrow.Table or mapping of str to array_like
        Rows of ``modular-vs-monolithic`` (columns ``separation``, ``noise``,
        ``margin``, ``capacity`` and the ``panels`` keys) with at least two
        separations and two noise levels; the rows of a grid point are its seeds.
    panels : sequence of str
        Other varied keys; one heat map per combination of their values, three
        to a row.
    experiment : str, optional
        The experiment ID written after the result IDs in the title (``"E11"``).

    Returns
    -------
    matplotlib.figure.Figure
        In the house style of :mod:`paper_repro.plotting`, 7 inches wide.

    Raises
    ------
    ValueError
        A column is missing, or fewer than two separations or noise levels.

    Examples
    --------
    >>> import numpy as np
    >>> rows = {"separation": np.repeat([0.5, 1.0, 2.0], 4),
    ...         "noise": np.tile(np.repeat([0.1, 0.3], 2), 3),
    ...         "margin": np.linspace(-0.1, 0.3, 12),
    ...         "capacity": np.repeat([0.1, 0.3, 0.6], 4)}
    >>> fig = phase_diagram(rows, experiment="E11")  # one heat map, the JSD panel, a colour bar
    >>> len(fig.axes)
    3
    """
    from matplotlib import colormaps
    from matplotlib.colors import FuncNorm
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from sims.sweep import columns, summarize

    cols = columns(table) if hasattr(table, "column_names") else dict(table)
    panels = list(panels)
    for key in ("separation", "noise", "margin", "capacity", *panels):
        if key not in cols:
            raise ValueError(
                f"table: no column {key!r}; expected rows of modular-vs-monolithic with the "
                f"panels keys {panels}"
            )
    summary = summarize(cols, [*panels, "separation", "noise"], ["margin", "capacity"])
    seps = np.array(sorted({r["separation"] for r in summary}), dtype=float)
    noises = np.array(sorted({r["noise"] for r in summary}), dtype=float)
    if seps.size < 2 or noises.size < 2:
        raise ValueError(
            f"table: a phase diagram needs at least two separations and two noise levels, "
            f"got {seps.size} and {noises.size}"
        )
    # Panels in the order their values first appear in the rows (the order the
    # grid was asked for), not sorted by name.
    n_rows = len(cols["margin"])
    order = [tuple(_plain(cols[k][i]) for k in panels) for i in range(n_rows)]
    groups: dict[tuple, list[dict]] = {key: [] for key in dict.fromkeys(order)}
    for row in summary:
        groups[tuple(row[k] for k in panels)].append(row)
    seeds = int(max(r["seeds"] for r in summary))
    finite = [abs(r["margin"]) for r in summary if math.isfinite(r["margin"])]
    limit = max(finite, default=0.0) or 1.0
    # A signed square root stretches the small margins of the full class (a few
    # hundredths of a nat) so that their sign shows, keeping 0 at the centre.
    norm = FuncNorm((_signed_sqrt, _signed_square), vmin=-limit, vmax=limit)
    cmap = colormaps["RdBu"]
    wins, loses = cmap(norm(0.6 * limit)), cmap(norm(-0.6 * limit))

    count = len(groups)
    # At most three heat maps to a row, the rows as even as they can be.
    rows = math.ceil(count / 3)
    ncols = math.ceil(count / rows)
    fig, axes = plotting.figure(rows + 1, ncols, height=2.7 * rows + 3.7)
    heat = list(axes[:rows].flat)
    for ax in [*axes[rows], *heat[count:]]:
        ax.remove()
    heat = heat[:count]
    line_ax = fig.add_subplot(axes[0, 0].get_subplotspec().get_gridspec()[rows, :])
    letters = iter(string.ascii_lowercase)

    mesh = None
    for p, (ax, (key, group)) in enumerate(zip(heat, groups.items(), strict=True)):
        grids = {
            f: np.full((noises.size, seps.size), np.nan)
            for f in ("margin", "margin_lo", "margin_hi", "capacity")
        }
        for r in group:
            i = int(np.searchsorted(noises, r["noise"]))
            j = int(np.searchsorted(seps, r["separation"]))
            for f in grids:
                grids[f][i, j] = r[f]
        mesh = ax.pcolormesh(
            _edges(seps), _edges(noises), grids["margin"], cmap=cmap, norm=norm, shading="flat"
        )
        z = np.ma.masked_invalid(grids["margin"])
        if z.count() and z.min() < 0 < z.max():
            ax.contour(seps, noises, z, levels=[0.0], colors="k", linewidths=2.0)
        undecided = (grids["margin_lo"] <= _TIE) & (grids["margin_hi"] >= -_TIE)
        i, j = np.nonzero(undecided)
        ax.plot(seps[j], noises[i], "o", ls="none", mfc="none", mec="k", mew=1.0, ms=5)
        ticks = _spread(seps, 4)
        diversity = np.nanmean(grids["capacity"], axis=0)[np.searchsorted(seps, ticks)]
        top = ax.secondary_xaxis("top")
        top.set_xticks(ticks, [f"{max(c, 0.0):.2f}" for c in diversity])
        top.set_xlabel(r"$\mathrm{max}_\lambda\,\mathrm{JSD}_\lambda(D)$ (nats)")
        ax.set_xticks(ticks)
        ax.set_yticks(_spread(noises, 4))
        ax.set_xlabel("domain separation $s$")
        if p % ncols == 0:
            ax.set_ylabel(r"expert noise $\varepsilon$")
        else:
            ax.tick_params(labelleft=False)
        ax.set_title(f"({next(letters)}) {_panel_name(panels, key, compact=True)}")
        ax.grid(False)
    bar = fig.colorbar(
        mesh,
        ax=heat,
        label=f"mean margin over {_seeds(seeds)} (nats)",
    )
    ticks = _colorbar_ticks(limit)
    bar.set_ticks(ticks, labels=[f"{t:g}".replace("-", "\N{MINUS SIGN}") for t in ticks])
    # The verdicts at the ends of the colour bar, clear of its end tick labels.
    for text, y, dy, va in (
        ("modular\nwins", 1.0, 8, "bottom"),
        ("retraining\nwins", 0.0, -8, "top"),
    ):
        bar.ax.annotate(
            text,
            (0.5, y),
            xycoords="axes fraction",
            xytext=(0, dy),
            textcoords="offset points",
            ha="center",
            va=va,
        )

    ax = line_ax
    picks = np.linspace(0, noises.size - 1, min(3, noises.size)).round().astype(int)
    shown = noises[np.unique(picks)]
    styles = (("-", "o"), ("--", "s"), (":", "^"))
    colors = _series_colors(count)
    for c, group in zip(colors, groups.values(), strict=True):
        for (ls, marker), nz in zip(styles, shown, strict=False):
            pts = sorted((r for r in group if r["noise"] == nz), key=lambda r: r["separation"])
            x = [max(r["capacity"], 0.0) for r in pts]
            ax.plot(x, [r["margin"] for r in pts], ls=ls, marker=marker, color=c, ms=4)
            ax.fill_between(
                x,
                [r["margin_lo"] for r in pts],
                [r["margin_hi"] for r in pts],
                color=c,
                alpha=0.12,
                lw=0,
            )
    ax.axhline(0.0, color="k", lw=0.8)
    # The sides of the zero line in the colours of the heat maps' verdicts.
    low, high = ax.get_ylim()
    if high > 0:
        ax.axhspan(max(low, 0.0), high, color=wins, alpha=0.18, lw=0, zorder=0)
    if low < 0:
        ax.axhspan(low, min(high, 0.0), color=loses, alpha=0.18, lw=0, zorder=0)
    ax.set_ylim(low, high)
    ax.set(
        xlabel=r"diversity of the domains $\mathrm{max}_\lambda\,\mathrm{JSD}_\lambda(D)$ (nats)",
        ylabel="margin (nats)",
        title=f"({next(letters)}) margin against the diversity of the domains",
    )

    columns_ = [
        [
            (Patch(color=wins), "modular wins: margin > 0"),
            (Patch(color=loses), "retraining wins: margin < 0"),
            (Line2D([], [], color="k", lw=2.0), "phase boundary: mean margin = 0"),
            (
                Line2D([], [], ls="none", marker="o", mfc="none", mec="k", mew=1.0, ms=5),
                "95% bootstrap interval contains 0",
            ),
        ],
        [
            (
                Line2D([], [], color=c, lw=2.5),
                _panel_name(panels, key, compact=True),
            )
            for c, key in zip(colors, groups, strict=True)
        ]
        + [(Patch(color="0.5", alpha=0.3), "95% bootstrap band")],
        [
            (
                Line2D([], [], color="k", ls=ls, marker=marker, ms=4),
                rf"expert noise $\varepsilon = {nz:g}$",
            )
            for (ls, marker), nz in zip(styles, shown, strict=False)
        ],
    ]
    depth = max(len(c) for c in columns_)
    entries = [e for c in columns_ for e in c + [(_filler(), "")] * (depth - len(c))]
    plotting.figure_legend(
        fig, [h for h, _ in entries], [lab for _, lab in entries], ncol=len(columns_)
    )
    plotting.title(
        fig,
        "T8–T10",
        "where the robust gate beats retraining",
        experiment=experiment,
    )
    return fig
