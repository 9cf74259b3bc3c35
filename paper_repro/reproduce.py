"""``modgate reproduce``: regenerate the experiments of EXPERIMENTS.md.

Every experiment module ``paper_repro/experiments/e<i>_<stem>.py`` defines an
:class:`Experiment`. The runner

1. computes each selected experiment's data (``run(params)``), in parallel
   worker processes when ``jobs > 1`` (joblib, loky backend, one task each);
2. caches the data on disk under ``<out>/.cache/``, content-hashed by the
   experiment ID, its parameters, the package version and the source files the
   data depend on (:func:`dependency_files`), so that an interrupted run resumes
   without recomputing finished experiments, and an edit of the mathematics
   recomputes everything it may change;
3. writes, per experiment, the figure ``E<i>_<stem>.png`` and the plotted numbers
   ``E<i>_<stem>.csv`` and ``.json``; then ``REPORT.md`` with one section per
   experiment (claim, setup, figure, measured numbers, computed pass/fail).

Every output file is written atomically (a temporary file in the same folder,
then ``os.replace``): an interruption never leaves a truncated file. An
experiment that cannot be imported or that raises is reported as a failure, and
the exit code is 0 only if every selected claim passes.
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import importlib.metadata
import importlib.util
import inspect
import json
import math
import pickle
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from paper_repro.experiments import PLANNED
from paper_repro.plotting import atomic_path
from theory.validation import check_choice, check_int

__all__ = [
    "Experiment",
    "Outcome",
    "cache_key",
    "dependency_files",
    "load_experiments",
    "progress",
    "reproduce",
]

Rows = list[dict]


@dataclass(frozen=True)
class Experiment:
    """One experiment of EXPERIMENTS.md.

    ``params(mode)`` gives the sizes and seeds for ``mode`` ∈ {"quick", "full"};
    ``run(params)`` is a pure function returning data (numpy arrays, floats,
    lists); ``plot(data, out_dir)`` writes ``<id>_<stem>.png``; ``table(data)``
    returns the plotted numbers as rows (or a dict ``name -> rows`` for several
    tables); ``check(data)`` returns ``(passed, measured)``, both computed from the
    data; ``setup(params)`` is the one-paragraph setup for REPORT.md.
    """

    id: str
    stem: str
    name: str
    claim: str
    params: Callable[[str], dict]
    run: Callable[[dict], dict]
    plot: Callable[[dict, Path], Path]
    table: Callable[[dict], Rows | dict[str, Rows]]
    check: Callable[[dict], tuple[bool, str]]
    setup: Callable[[dict], str]

    @property
    def basename(self) -> str:
        return f"{self.id}_{self.stem}"


@dataclass(frozen=True)
class Outcome:
    """What the runner recorded for one experiment."""

    id: str
    name: str
    claim: str
    passed: bool
    measured: str
    setup: str = ""
    files: tuple[str, ...] = ()
    seconds: float = math.nan
    cached: bool = False
    error: str = ""
    params: dict = field(default_factory=dict)


# Inner progress bars are shown only when experiments run in this process.
_INNER_BARS = False


def progress(iterable: Iterable, desc: str, total: int | None = None):
    """A tqdm bar over an experiment's own loop (shown when running with ``jobs=1``)."""
    return tqdm(iterable, desc=f"  {desc}", total=total, leave=False, disable=not _INNER_BARS)


def _module_name(eid: str, stem: str) -> str:
    return f"paper_repro.experiments.{eid.lower()}_{stem}"


def load_experiments(only: Sequence[str] | None = None) -> list[Experiment | tuple[str, str, str]]:
    """The selected experiments in PLANNED order.

    An experiment whose module cannot be imported is returned as the tuple
    ``(id, claim, error)`` so that the runner reports it as a failure.
    """
    known = [p[0] for p in PLANNED]
    if only is not None:
        only = [str(o).strip().upper() for o in only]
        unknown = sorted(set(only) - set(known))
        if unknown:
            raise ValueError(f"only: unknown experiment ID(s) {unknown}; expected some of {known}")
    selected = []
    for eid, stem, claim in PLANNED:
        if only is not None and eid not in only:
            continue
        try:
            module = importlib.import_module(_module_name(eid, stem))
            selected.append(module.EXPERIMENT)
        except Exception as exc:  # reported, never skipped: the claim then fails
            selected.append((eid, claim, f"cannot import {_module_name(eid, stem)}: {exc!r}"))
    return selected


def _version() -> str:
    try:
        return importlib.metadata.version("modgate")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# Source that every experiment's data depend on: a change to any of these files
# changes every cache key, so a figure is never loaded from a cache computed by
# older mathematics.
_LIBRARY_PACKAGES = ("theory", "sims")


def _module_file(name: str) -> Path | None:
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    return Path(path) if path and Path(path).exists() else None


def dependency_files(exp: Experiment) -> list[Path]:
    """The source files whose content names the cached data of ``exp``.

    The module defining ``exp.run``, every ``paper_repro.experiments`` module it
    uses (shared setups such as E10's real domains used by E5), and every module
    of the library packages ``theory`` and ``sims``.
    """
    files: set[Path] = set()
    home = getattr(exp.run, "__module__", "")
    own = _module_file(home)
    if own is not None:
        files.add(own)
        for value in vars(sys.modules[home]).values():
            name = value.__name__ if inspect.ismodule(value) else getattr(value, "__module__", None)
            if isinstance(name, str) and name.startswith("paper_repro.experiments"):
                dep = _module_file(name)
                if dep is not None:
                    files.add(dep)
    for package in _LIBRARY_PACKAGES:
        spec = importlib.util.find_spec(package)
        for folder in (spec.submodule_search_locations or []) if spec else []:
            files.update(Path(folder).rglob("*.py"))
    return sorted(files)


def _source_digest(exp: Experiment) -> str:
    digest = hashlib.sha256()
    for path in dependency_files(exp):
        try:
            content = path.read_bytes()
        except FileNotFoundError:  # an editor's temporary file, gone since the listing
            continue
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(content).digest())
    return digest.hexdigest()


def _jsonable(x):
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, Path):
        return str(x)
    if isinstance(x, tuple | set):
        return list(x)
    raise TypeError(f"not JSON serializable: {type(x).__name__}")


def cache_key(exp: Experiment, params: dict) -> str:
    """The content hash naming the cached data of ``exp`` run with ``params``."""
    blob = json.dumps(
        [exp.id, params, _version(), _source_digest(exp)], sort_keys=True, default=_jsonable
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _cache_file(out: Path, exp: Experiment, params: dict) -> Path:
    return out / ".cache" / f"{exp.id}-{cache_key(exp, params)}.pkl"


def _compute(exp: Experiment, params: dict, cache_file: Path, inner_bars: bool):
    """Load ``exp``'s data from the cache, or run it and cache the result.

    Returns ``(data, seconds, cached, error)``; exceptions are captured so that
    one failing experiment does not stop the others.
    """
    global _INNER_BARS
    if cache_file.exists():
        try:
            with open(cache_file, "rb") as fh:
                return pickle.load(fh), 0.0, True, ""
        except (OSError, pickle.UnpicklingError, EOFError):
            cache_file.unlink(missing_ok=True)
    _INNER_BARS = inner_bars
    t0 = time.perf_counter()
    try:
        data = exp.run(params)
    except Exception:
        return None, time.perf_counter() - t0, False, traceback.format_exc()
    finally:
        _INNER_BARS = False
    seconds = time.perf_counter() - t0
    with atomic_path(cache_file) as tmp, open(tmp, "wb") as fh:
        pickle.dump(data, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return data, seconds, False, ""


def _task(exp: Experiment, params: dict, cache_file: Path):
    return exp.id, _compute(exp, params, cache_file, inner_bars=False)


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _write_csv(path: Path, rows: Rows) -> None:
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {k: _jsonable(v) if isinstance(v, np.generic) else v for k, v in row.items()}
            )


def _write_outputs(exp: Experiment, data: dict, params: dict, mode: str, out: Path):
    """Figure, CSV/JSON tables and the computed check of one experiment."""
    png = Path(exp.plot(data, out))
    tables = exp.table(data)
    if not isinstance(tables, dict):
        tables = {"": tables}
    files = [png.name]
    for name, rows in tables.items():
        csv_path = out / f"{exp.basename}{'_' + name if name else ''}.csv"
        _write_csv(csv_path, rows)
        files.append(csv_path.name)
    passed, measured = exp.check(data)
    payload = {
        "id": exp.id,
        "name": exp.name,
        "claim": exp.claim,
        "mode": mode,
        "params": params,
        "passed": bool(passed),
        "measured": measured,
        "tables": tables,
    }
    json_path = out / f"{exp.basename}.json"
    _write_text(json_path, json.dumps(payload, indent=1, default=_jsonable))
    files.append(json_path.name)
    return bool(passed), measured, tuple(files)


def _report(outcomes: list[Outcome], mode: str) -> str:
    npass = sum(o.passed for o in outcomes)
    lines = [
        "# modgate reproduce — report",
        "",
        f"Mode `{mode}`, modgate {_version()}: **{npass} of {len(outcomes)} claims pass.** "
        "Every number below is computed by the run that wrote this file "
        "(`modgate reproduce" + (" --full" if mode == "full" else " --quick") + "`).",
        "",
        "| ID | claim | measured | result |",
        "|---|---|---|---|",
    ]
    for o in outcomes:
        measured = o.measured.replace("|", "\\|").replace("\n", " ")
        lines.append(
            f"| [{o.id}](#{o.id.lower()}) | {o.claim} | {measured} | "
            f"{'PASS' if o.passed else '**FAIL**'} |"
        )
    for o in outcomes:
        lines += ["", f"## {o.id}", "", f"### {o.name}", "", f"**Claim.** {o.claim}", ""]
        if o.setup:
            lines += [f"**Setup.** {o.setup}", ""]
        pngs = [f for f in o.files if f.endswith(".png")]
        for png in pngs:
            lines += [f"![{o.id}]({png})", ""]
        data_files = [f for f in o.files if not f.endswith(".png")]
        if data_files:
            lines += ["Plotted numbers: " + ", ".join(f"[{f}]({f})" for f in data_files), ""]
        if o.error:
            lines += ["**Error.**", "", "```", o.error.strip(), "```", ""]
        else:
            lines += [f"**Measured.** {o.measured}", ""]
        how = "loaded from the cache" if o.cached else f"computed in {o.seconds:.1f} s"
        lines.append(f"**Result: {'PASS' if o.passed else 'FAIL'}** ({how}).")
    return "\n".join(lines) + "\n"


def reproduce(
    mode: str = "quick",
    only=None,
    out: Path = Path("figures"),
    jobs: int = 1,
    *,
    experiments: Sequence[Experiment] | None = None,
) -> int:
    """Run the experiments (``mode`` ∈ {"quick", "full"}) and write their outputs to ``out``.

    ``only`` selects experiment IDs; ``jobs`` > 1 computes experiments in parallel
    worker processes; ``experiments`` replaces the registry of EXPERIMENTS.md (used
    by the tests). Returns 0 iff every selected claim passes.
    """
    mode = check_choice(mode, "mode", {"quick", "full"})
    jobs = check_int(jobs, "jobs")
    out = Path(out)
    if experiments is None:
        selected = load_experiments(only)
    else:
        selected = [e for e in experiments if only is None or e.id in {o.upper() for o in only}]
    out.mkdir(parents=True, exist_ok=True)

    runnable = [e for e in selected if isinstance(e, Experiment)]
    params = {e.id: e.params(mode) for e in runnable}
    tasks = [(e, params[e.id], _cache_file(out, e, params[e.id])) for e in runnable]
    results: dict[str, tuple] = {}
    bar = tqdm(total=len(tasks), desc=f"reproduce ({mode})", unit="exp")
    try:
        if jobs == 1 or len(tasks) <= 1:
            for e, p, cf in tasks:
                bar.set_postfix_str(e.id)
                results[e.id] = _compute(e, p, cf, inner_bars=True)
                bar.update()
        else:
            from joblib import Parallel, delayed

            parallel = Parallel(n_jobs=jobs, backend="loky", return_as="generator_unordered")
            jobs_out = parallel(delayed(_task)(e, p, cf) for e, p, cf in tasks)
            for eid, res in jobs_out:
                results[eid] = res
                bar.set_postfix_str(eid)
                bar.update()
    finally:
        bar.close()

    outcomes: list[Outcome] = []
    for e in selected:
        if not isinstance(e, Experiment):
            eid, claim, error = e
            outcomes.append(Outcome(eid, eid, claim, False, "not run", error=error))
            continue
        data, seconds, cached, error = results[e.id]
        p = params[e.id]
        common = dict(setup=e.setup(p), seconds=seconds, cached=cached, params=p)
        if error:
            outcomes.append(
                Outcome(e.id, e.name, e.claim, False, "run raised", error=error, **common)
            )
            continue
        try:
            passed, measured, files = _write_outputs(e, data, p, mode, out)
            outcomes.append(Outcome(e.id, e.name, e.claim, passed, measured, files=files, **common))
        except Exception:
            error = traceback.format_exc()
            outcomes.append(
                Outcome(e.id, e.name, e.claim, False, "output failed", error=error, **common)
            )
    _write_text(out / "REPORT.md", _report(outcomes, mode))

    for o in outcomes:
        flag = "PASS" if o.passed else "FAIL"
        print(f"{o.id:<4} {flag}  {o.measured}")
        if o.error:
            print(f"{o.id}: {o.error.strip()}", file=sys.stderr)
    print(
        f"wrote {out / 'REPORT.md'}: {sum(o.passed for o in outcomes)}/{len(outcomes)} claims pass"
    )
    return 0 if outcomes and all(o.passed for o in outcomes) else 1
