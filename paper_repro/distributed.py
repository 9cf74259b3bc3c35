r"""modgate on a Dask cluster: ``verify --workers/--scheduler``, ``sweep``, and the sweep figures.

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
  separation × noise (E11): mean over seeds, its zero contour with the zero
  contours of the bootstrap interval, and the JSD of the domains as contours.
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
CHUNK_TRIALS = 250

# Seconds to wait for a running cluster to answer and to have a worker.
_CONNECT_TIMEOUT = 30


def _warm_up_worker() -> None:
    from paper_repro._warmup import warm_up

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
    seed : int
    trials : int ≥ 1
        Random instances per row, over all chunks.
    only : collection of str, optional
        Row IDs as for ``run_checks``.
    workers, scheduler
        The cluster (:func:`connect`); ignored when ``client`` is given.
    progress : bool
        Show a progress bar of the chunks.
    chunk_trials : int ≥ 1
        Trials per chunk.
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
        Per study: its name, its summary (led by its THEORY IDs), its grid keys
        with their defaults and its outputs, one item per line.
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

    Parameters
    ----------
    table : pyarrow.Table
    path : str or Path

    Returns
    -------
    Path
        ``path``.
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

    Parameters
    ----------
    study : str or sims.sweep.Study
    out : str or Path
        The output folder (created if missing).
    settings : list of str or dict, optional
        ``KEY=V1,V2`` strings (the ``--set`` options) or ``{key: [values]}``.
    seeds : int or sequence of int
    workers, scheduler
        The cluster (:func:`connect`). No cluster is started when every
        requested row is already stored.
    progress : bool
        Show a progress bar of the rows.
    echo : callable, optional
        Receives one line per step (what is stored, what is computed, where, the
        files written); nothing is printed otherwise.

    Returns
    -------
    sims.sweep.SweepResult

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


def _save_all(fig, stem: Path) -> list[Path]:
    """The figure as vector PDF and SVG, then PNG (``plotting.save`` closes it)."""
    paths = []
    for fmt in ("pdf", "svg"):
        path = stem.with_suffix(f".{fmt}")
        with plotting.atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, bbox_inches="tight")
        paths.append(path)
    return [plotting.save(fig, stem.with_suffix(".png")), *paths]


def _theorem(study) -> str:
    return study.summary.partition(":")[0]


def _varied(study, cols: dict) -> list[str]:
    return [k for k in study.keys if len(set(cols[k].tolist())) > 1]


def plot_sweep(study, table, out) -> list[Path]:
    """Draw the sweep's figure into ``out/STUDY.{png,pdf,svg}``.

    ``modular-vs-monolithic`` with both ``separation`` and ``noise`` varied gets
    the :func:`phase_diagram` (one panel per combination of the other varied
    keys); every other sweep gets the study's headline outputs against the first
    varied numeric key, one line per combination of the other varied keys,
    seeds aggregated as mean and 95% bootstrap interval.

    Parameters
    ----------
    study : sims.sweep.Study or str
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


def _label(keys: Sequence[str], values: Sequence) -> str:
    return ", ".join(f"{k} = {v}" for k, v in zip(keys, values, strict=True))


def _lines(study, cols: dict, varied: list[str]):
    """Headline outputs against the first varied key (numeric first), one line per
    combination of the other varied keys, mean and 95% bootstrap band."""
    from matplotlib import colormaps

    from sims.sweep import summarize

    numeric = [k for k in varied if study.kind(k) is not str]
    x = (numeric or varied or [None])[0]
    series = [k for k in varied if k != x]
    outputs = list(study.headline or study.outputs[:4])
    summary = summarize(cols, [*series, *([x] if x else [])], outputs)
    fig, axes = plotting.figure(ncols=len(outputs), width=3.6, height=3.2, layout="constrained")
    groups: dict[tuple, list[dict]] = {}
    for row in summary:
        groups.setdefault(tuple(row[k] for k in series), []).append(row)
    categories = sorted({r[x] for r in summary}) if x and study.kind(x) is str else None

    def position(row):
        if x is None:
            return 0.0
        return categories.index(row[x]) if categories else row[x]

    many = len(groups) > 8
    for ax, o in zip(axes.flat, outputs, strict=True):
        for i, (key, rows) in enumerate(groups.items()):
            c = colormaps["tab20"](i % 20) if many else plotting.color("", i)
            xs = np.array([position(r) for r in rows], dtype=float)
            ax.plot(xs, [r[o] for r in rows], "o-", color=c, ms=3, label=_label(series, key))
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
        ax.set(xlabel=x or "default grid point", ylabel=o, title=o)
        if o.endswith(("margin", "slack")):
            ax.axhline(0.0, color="k", lw=0.8)
    if series:
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(
            handles, labels, loc="outside lower center", ncols=min(3, len(labels)), fontsize=7
        )
    seeds = int(max(r["seeds"] for r in summary))
    plotting.title(
        fig, _theorem(study), f"{study.name}: mean over {seeds} seeds, 95% bootstrap band"
    )
    return fig


def _edges(values: np.ndarray) -> np.ndarray:
    mid = (values[1:] + values[:-1]) / 2
    return np.concatenate(
        [[values[0] - (mid[0] - values[0])], mid, [values[-1] + (values[-1] - mid[-1])]]
    )


def _spread(values: np.ndarray, count: int) -> np.ndarray:
    """At most ``count`` + 1 of the sorted ``values``, at least a ``count``-th of their range apart."""
    step = (values[-1] - values[0]) / count
    kept = [values[0]]
    for v in values[1:]:
        if v - kept[-1] >= step:
            kept.append(v)
    return np.array(kept)


def phase_diagram(table, panels: Sequence[str] = ()):
    r"""The phase diagram of ``modular-vs-monolithic``: margin over separation × noise.

    One heat-map panel per combination of the ``panels`` keys (e.g. the
    monolithic class): the mean over seeds of margin = W(aggregate) − W(robust)
    (> 0, blue: the modular model has the smaller worst case), its zero contour
    (solid) and the zero contours of the lower and upper ends of the 95%
    bootstrap interval (dashed: the uncertainty of the boundary). The top axis
    gives the diversity of the domains at each separation as their largest JSD,
    :math:`\max_{\lambda\in\Lambda}\mathrm{JSD}_\lambda(D)` (the ``capacity``
    output, T6/T7; mean over seeds). A last panel plots the margin against that
    JSD for a few noise levels, with its bootstrap band.

    Parameters
    ----------
    table : pyarrow.Table or mapping of str to array_like
        Rows of ``modular-vs-monolithic`` with at least two separations and two
        noise levels.
    panels : sequence of str
        Other varied keys; one heat map per combination of their values.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.colors import TwoSlopeNorm

    from sims.sweep import columns, summarize

    cols = columns(table) if hasattr(table, "column_names") else dict(table)
    panels = list(panels)
    summary = summarize(cols, [*panels, "separation", "noise"], ["margin", "capacity"])
    groups: dict[tuple, list[dict]] = {}
    for row in summary:
        groups.setdefault(tuple(row[k] for k in panels), []).append(row)
    seps = np.array(sorted({r["separation"] for r in summary}), dtype=float)
    noises = np.array(sorted({r["noise"] for r in summary}), dtype=float)
    limit = max((abs(r["margin"]) for r in summary if math.isfinite(r["margin"])), default=1.0)
    norm = TwoSlopeNorm(vmin=-(limit or 1.0), vcenter=0.0, vmax=limit or 1.0)
    fig, axes = plotting.figure(ncols=len(groups) + 1, width=4.3, height=3.9, layout="constrained")
    mesh = None
    for ax, (key, rows) in zip(axes.flat, groups.items(), strict=False):
        grids = {
            f: np.full((noises.size, seps.size), np.nan)
            for f in ("margin", "margin_lo", "margin_hi")
        }
        for r in rows:
            i = int(np.searchsorted(noises, r["noise"]))
            j = int(np.searchsorted(seps, r["separation"]))
            for f in grids:
                grids[f][i, j] = r[f]
        mesh = ax.pcolormesh(
            _edges(seps), _edges(noises), grids["margin"], cmap="RdBu", norm=norm, shading="flat"
        )
        for f in ("margin", "margin_lo", "margin_hi"):
            z = np.ma.masked_invalid(grids[f])
            if z.count() and z.min() < 0 < z.max():
                main = f == "margin"
                ax.contour(
                    seps,
                    noises,
                    z,
                    levels=[0.0],
                    colors="k",
                    linewidths=2.0 if main else 1.0,
                    linestyles="-" if main else "--",
                )
        ticks = _spread(seps, 6)
        diversity = [np.mean([r["capacity"] for r in rows if r["separation"] == t]) for t in ticks]
        top = ax.secondary_xaxis("top")
        top.set_xticks(ticks, [f"{max(c, 0.0):.2f}" for c in diversity])
        top.set_xlabel("max_λ JSD_λ(D) (nats)", fontsize=8)
        ax.set(
            xlabel="separation s (domain diversity)",
            ylabel="expert noise ε",
            title=_label(panels, key) or "modular vs monolithic",
        )
        ax.grid(False)
    fig.colorbar(
        mesh, ax=axes.flat[len(groups) - 1], label="margin = aggregate − robust (nats)", pad=0.02
    )
    ax = axes.flat[len(groups)]
    # A few noise levels (lowest, highest and evenly between), one line style per panel.
    shown = noises[
        np.unique(np.linspace(0, noises.size - 1, min(4, noises.size)).round().astype(int))
    ]
    for g, (key, rows) in enumerate(groups.items()):
        for i, nz in enumerate(shown):
            pts = sorted((r for r in rows if r["noise"] == nz), key=lambda r: r["separation"])
            x = [r["capacity"] for r in pts]
            c = plotting.color("", i)
            ax.plot(
                x,
                [r["margin"] for r in pts],
                ["-", "--", ":", "-."][g % 4],
                marker="o",
                ms=3,
                color=c,
                label=f"ε = {nz:g}" + (f", {_label(panels, key)}" if panels else ""),
            )
            ax.fill_between(
                x,
                [r["margin_lo"] for r in pts],
                [r["margin_hi"] for r in pts],
                color=c,
                alpha=0.12,
                lw=0,
            )
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set(
        xlabel="max_λ JSD_λ(D) of the domains (nats)",
        ylabel="margin (nats)",
        title="margin against the domains' JSD",
    )
    ax.legend(loc="best", fontsize=6.5)
    seeds = int(max(r["seeds"] for r in summary))
    plotting.title(
        fig,
        "T8–T10",
        f"where the robust gate beats aggregate retraining (mean of {seeds} seeds; "
        "dashed: 95% bootstrap)",
    )
    return fig
