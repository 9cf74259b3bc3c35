"""``modgate reproduce``: regenerate the experiments E1–E11 and their report.

Each experiment checks one claim of Cortes, Mohri & Zhong (arXiv:2602.17554)
on fresh instances — its result ID (T1…T12, S9) opens the claim — and draws
the figure of the corresponding theory page of the documentation (see the
how-to page on reproducing the figures). Every experiment module of
:mod:`paper_repro.experiments` registers an
:class:`~paper_repro.experiments.Experiment`. The runner

1. checks that the output folder can be written, before anything is computed;
2. removes the temporary files a killed run may have left in it;
3. compiles the numba kernels (:mod:`paper_repro.warmup`) when something is to
   be computed, so that the progress bar measures the experiments alone;
4. computes each selected experiment's data (``run(params)``), in parallel
   worker processes when ``jobs > 1`` (joblib, loky backend, one task each), and
   caches it under ``<out>/.cache/``, content-hashed by the experiment ID, its
   parameters, the package version and the source files the data depend on
   (:func:`dependency_files`): an interrupted run resumes without recomputing
   finished experiments, and an edit of the mathematics recomputes everything it
   may change;
5. writes, per experiment, the figure ``E<i>_<stem>.png`` and the plotted numbers
   ``E<i>_<stem>.csv`` and ``.json``, a record of the outcome in
   ``<out>/.report/``, and rebuilds ``REPORT.md`` from the records of every
   experiment run into the folder, so that a run of a few experiments updates
   their sections and keeps the others.

Safety. Every output file is written atomically (a temporary file in the same
folder, then ``os.replace``) with the mode the umask gives. Each cache entry
carries the SHA-256 of its pickle and is verified before it is unpickled: a
corrupt or incompatible entry is named in a warning, discarded and recomputed.
(The checksum detects corruption, not tampering: the cache is trusted as much
as the folder it lives in.) Two runs into the same folder do not compute the
same experiment twice: each cache entry is computed under its own file lock,
so the second run waits and then loads the first run's result, and writing the
outputs and the report happens under one lock per folder. An experiment that
cannot be imported or that raises is reported as a failure, and the exit code
is 0 only if every selected claim passes.

Examples
--------
The command line runs ``reproduce(mode, only, out, jobs)``; from Python, with
the package's own experiments::

    from paper_repro.reproduce import reproduce
    reproduce("quick", only=["E2"], out="figures")

:func:`reproduce` shows a self-contained run of a toy experiment.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import importlib.metadata
import importlib.util
import inspect
import json
import math
import pickle
import re
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout
from tqdm.auto import tqdm

from paper_repro.experiments import Experiment, Unavailable, available, registry, select
from paper_repro.plotting import atomic_path, temporaries, writable_folder
from theory.validation import check_choice, check_int

__all__ = ["Outcome", "cache_key", "dependency_files", "reproduce"]

Rows = list[dict]

#: Where the runner keeps its state inside the output folder.
CACHE_DIR, RECORDS_DIR = ".cache", ".report"
_FOLDER_LOCK = "folder.lock"

# A cache entry is this header, the SHA-256 of the pickle in hex, a newline, the pickle.
_CACHE_HEADER = b"modgate-cache-1 sha256="


@dataclass(frozen=True)
class Outcome:
    """What the runner recorded for one experiment.

    One record per experiment is kept in ``<out>/.report/<id>.json``;
    ``REPORT.md`` is rebuilt from them.

    Attributes
    ----------
    id, name, claim : str
        The experiment's ID (``"E1"``), title and claim.
    passed : bool
        Whether the computed check passed.
    measured : str
        The evidence the check measured, in one sentence.
    setup : str
        The experiment's setup paragraph.
    files : tuple of str
        The files written (figure, CSV, JSON).
    seconds : float
        Computation time of the data (NaN when not run).
    cached : bool
        True when the data was loaded from the cache instead of computed.
    error : str
        The traceback of a failure, empty otherwise.
    params : dict
        The parameters of the run.
    mode, finished : str
        Which run produced the record: its mode and its local end time.
    """

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
    mode: str = ""
    finished: str = ""


@dataclass(frozen=True)
class _Computed:
    data: object
    seconds: float
    cached: bool
    error: str
    notes: tuple[str, ...]


def _version() -> str:
    try:
        return importlib.metadata.version("modgate")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# Source that every experiment's data depend on: a change to any of these files
# changes every cache key, so a figure is never loaded from a cache computed by
# older mathematics.
_LIBRARY_PACKAGES = ("theory", "sims")
_EXPERIMENTS_PACKAGE = "paper_repro.experiments"
# The registration plumbing does not change any experiment's data.
_NOT_DATA = {f"{_EXPERIMENTS_PACKAGE}._base"}


def _module_file(name: str) -> Path | None:
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    return Path(path) if path and Path(path).exists() else None


def _experiment_modules_used(home: str) -> set[str]:
    """``home`` and every module of the experiments package it uses, directly or not."""
    seen, todo = set(), [home]
    while todo:
        name = todo.pop()
        if name in seen or name in _NOT_DATA or name not in sys.modules:
            continue
        seen.add(name)
        todo.extend(m for m in _modules_referenced(name) if m.startswith(_EXPERIMENTS_PACKAGE))
    return seen


def _modules_referenced(name: str) -> set[str]:
    """The modules whose objects (or which themselves) the loaded module ``name`` holds."""
    used = set()
    for value in vars(sys.modules[name]).values():
        module = value.__name__ if inspect.ismodule(value) else getattr(value, "__module__", None)
        if isinstance(module, str):
            used.add(module)
    return used


def dependency_files(exp: Experiment) -> list[Path]:
    """The source files whose content names the cached data of ``exp``.

    Parameters
    ----------
    exp : Experiment
        A registered experiment (or one built by hand).

    Returns
    -------
    list of Path
        The module defining ``exp.run``, every module of the experiments package
        it uses (shared setups such as the real-data setup of E5 and E10), and
        every module of the library packages ``theory`` and ``sims``, sorted.

    Examples
    --------
    >>> from paper_repro.experiments import registry
    >>> files = dependency_files(registry(["E1"])[0])
    >>> [f.name for f in files if f.parent.name == "experiments"]  # E1 and its helpers
    ['_common.py', 'e1_kakutani.py']
    >>> any(f.name == "minimax.py" for f in files)
    True
    """
    files: set[Path] = set()
    for name in _experiment_modules_used(getattr(exp.run, "__module__", "")):
        path = _module_file(name)
        if path is not None:
            files.add(path)
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
    """The content hash naming the cached data of ``exp`` run with ``params``.

    Parameters
    ----------
    exp : Experiment
        The experiment.
    params : dict
        The parameters ``exp.params(mode)``.

    Returns
    -------
    str
        20 hex digits of the SHA-256 of the ID, the parameters, the package
        version and the content of :func:`dependency_files`.

    Examples
    --------
    >>> from paper_repro.experiments import registry
    >>> e1 = registry(["E1"])[0]
    >>> key = cache_key(e1, e1.params("quick"))
    >>> len(key), key == cache_key(e1, e1.params("full"))
    (20, False)
    """
    blob = json.dumps(
        [exp.id, params, _version(), _source_digest(exp)], sort_keys=True, default=_jsonable
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _cache_file(out: Path, exp: Experiment, params: dict) -> Path:
    return out / CACHE_DIR / f"{exp.id}-{cache_key(exp, params)}.pkl"


def _entry_lock(cache_file: Path) -> FileLock:
    return FileLock(cache_file.with_name(cache_file.name + ".lock"))


class _BadEntry(Exception):
    """A cache entry that must not be used; the message says why."""


def _store(cache_file: Path, data) -> None:
    payload = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
    digest = hashlib.sha256(payload).hexdigest().encode()
    with atomic_path(cache_file) as tmp:
        tmp.write_bytes(_CACHE_HEADER + digest + b"\n" + payload)


def _load(cache_file: Path):
    blob = cache_file.read_bytes()
    header, newline, payload = blob.partition(b"\n")
    if not header.startswith(_CACHE_HEADER) or not newline:
        raise _BadEntry("it is not a cache entry of this version of modgate")
    if header[len(_CACHE_HEADER) :] != hashlib.sha256(payload).hexdigest().encode():
        raise _BadEntry("its checksum does not match (the file is corrupt)")
    try:
        return pickle.loads(payload)
    except Exception as exc:  # intact bytes that no longer unpickle: written by other code
        raise _BadEntry(f"it cannot be unpickled ({type(exc).__name__}: {exc})") from exc


def _acquire(lock: FileLock, waiting: str) -> None:
    """Take ``lock``, saying ``waiting`` (on stderr) if another process holds it."""
    try:
        lock.acquire(timeout=0)
    except Timeout:
        tqdm.write(waiting, file=sys.stderr)
        lock.acquire()


def _compute(
    exp: Experiment, params: dict, cache_file: Path, *, show_progress: bool, force: bool
) -> _Computed:
    """Load ``exp``'s data from the cache, or run it and cache the result.

    Runs under the entry's lock, so that a concurrent run computing the same
    entry is waited for and its result reused. Exceptions of ``run`` are
    captured, so that one failing experiment does not stop the others.
    """
    notes: list[str] = []
    lock = _entry_lock(cache_file)
    _acquire(lock, f"{exp.id}: waiting for another run computing it into {cache_file.parent}")
    try:
        if cache_file.exists() and not force:
            try:
                return _Computed(_load(cache_file), 0.0, True, "", ())
            except (_BadEntry, OSError) as exc:
                reason = exc if isinstance(exc, _BadEntry) else exc.strerror
                notes.append(
                    f"warning: discarded the cache entry {cache_file}: {reason}; "
                    f"recomputing {exp.id}"
                )
                cache_file.unlink(missing_ok=True)
        t0 = time.perf_counter()
        try:
            data = exp.run(params, show_progress=show_progress)
        except Exception:
            return _Computed(None, time.perf_counter() - t0, False, traceback.format_exc(), ())
        seconds = time.perf_counter() - t0
        try:
            _store(cache_file, data)
        except OSError as exc:  # the data is still good; only the resume is lost
            notes.append(f"warning: could not cache {exp.id} in {cache_file}: {exc.strerror}")
        return _Computed(data, seconds, False, "", tuple(notes))
    finally:
        lock.release()


def _task(exp: Experiment, params: dict, cache_file: Path, force: bool):
    return exp.id, _compute(exp, params, cache_file, show_progress=False, force=force)


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
    vector = png.with_suffix(".pdf")
    if vector.exists():
        files.append(vector.name)
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


# ----------------------------------------------------------------------------- records


def _id_order(eid: str) -> tuple[int, str]:
    digits = eid[1:]
    return (int(digits), eid) if digits.isdigit() else (sys.maxsize, eid)


def _write_record(out: Path, outcome: Outcome) -> None:
    record = dataclasses.asdict(outcome)
    record["seconds"] = None if math.isnan(outcome.seconds) else outcome.seconds
    _write_text(
        out / RECORDS_DIR / f"{outcome.id}.json",
        json.dumps(record, indent=1, default=_jsonable, ensure_ascii=False),
    )


def _read_records(out: Path) -> tuple[dict[str, Outcome], list[str]]:
    """The outcome recorded for every experiment run into ``out``, and warnings.

    Sections of an existing ``REPORT.md`` without a record (a report written
    before records were kept) are read back and recorded, so that they are kept.
    """
    records, notes = {}, []
    names = {f.name for f in dataclasses.fields(Outcome)}
    folder = out / RECORDS_DIR
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            raw["files"] = tuple(raw.get("files", ()))
            raw["seconds"] = math.nan if raw.get("seconds") is None else raw["seconds"]
            outcome = Outcome(**{k: v for k, v in raw.items() if k in names})
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            notes.append(f"warning: ignored the unreadable report record {path}: {exc}")
            continue
        records[outcome.id] = outcome
    report = out / "REPORT.md"
    if report.is_file():
        for outcome in _parse_report(report.read_text(encoding="utf-8")):
            if outcome.id not in records:
                _write_record(out, outcome)
                records[outcome.id] = outcome
    return records, notes


_SECTION = re.compile(r"^## (E\d+)\n(.*?)(?=^## E\d+\n|\Z)", re.S | re.M)


def _field(pattern: str, text: str) -> str:
    m = re.search(pattern, text, re.S | re.M)
    return m.group(1).strip() if m else ""


def _parse_report(text: str) -> list[Outcome]:
    """The sections of a REPORT.md written by :func:`_report`, as outcomes."""
    mode = _field(r"^Mode `(\w+)`", text)
    outcomes = []
    for eid, body in _SECTION.findall(text):
        result = _field(r"^\*\*Result: (PASS|FAIL)\*\*", body)
        if not result:
            continue
        seconds = _field(r"\(computed in ([\d.]+) s", body)
        files = re.findall(r"^!\[[^]]*\]\(([^)]+)\)", body, re.M)
        for label in ("Vector figure", "Plotted numbers"):
            files += re.findall(r"\[[^]]+\]\(([^)]+)\)", _field(rf"^{label}: (.*?)$", body))
        outcomes.append(
            Outcome(
                eid,
                _field(r"^### (.*?)$", body),
                _field(r"^\*\*Claim\.\*\* (.*?)$", body),
                result == "PASS",
                _field(r"^\*\*Measured\.\*\* (.*?)$", body) or "run raised",
                setup=_field(r"^\*\*Setup\.\*\* (.*?)$", body),
                files=tuple(files),
                seconds=float(seconds) if seconds else math.nan,
                cached="(loaded from the cache" in body,
                error=_field(r"^\*\*Error\.\*\*\n\n```\n(.*?)\n```", body),
                mode=mode,
            )
        )
    return outcomes


def _how(o: Outcome, kept: bool, mode: str) -> str:
    how = "loaded from the cache" if o.cached else f"computed in {o.seconds:.1f} s"
    if kept:
        how += f", kept from the run finished {o.finished or 'earlier'}"
        if o.mode != mode:
            how += f" in mode {o.mode}"
    return how


def _report(records: dict[str, Outcome], fresh: set[str], known: Sequence[str], mode: str) -> str:
    """REPORT.md: a summary row for every experiment, one section for each with a result.

    ``fresh`` are the IDs this run produced; the other records are kept from
    earlier runs into the same folder; ``known`` IDs without a record are listed
    as not run.
    """
    ids = sorted(set(known) | set(records), key=_id_order)
    results = [records[i] for i in ids if i in records]
    npass = sum(o.passed for o in results)
    computed = [i for i in ids if i in fresh and not records[i].cached]
    cached = [i for i in ids if i in fresh and records[i].cached]
    kept = [i for i in ids if i in records and i not in fresh]
    missing = [i for i in ids if i not in records]
    flag = " --full" if mode == "full" else " --quick"
    lines = [
        "# modgate reproduce — report",
        "",
        f"Mode `{mode}`, modgate {_version()}: **{npass} of {len(ids)} claims pass"
        + (f" ({len(missing)} not run in this folder yet)" if missing else "")
        + ".** "
        f"Every number below is computed by `modgate reproduce{flag}`; the column *run* says "
        "whether the last run into this folder computed it, loaded it from its cache, or kept "
        "it from an earlier run.",
        "",
    ]
    groups = [
        ("computed", computed),
        ("loaded from the cache", cached),
        ("kept from earlier runs", kept),
        ("not run in this folder yet", missing),
    ]
    if kept or missing:
        lines += ["Last run: " + "; ".join(f"{w}: {', '.join(g)}" for w, g in groups if g), ""]
    lines += ["| ID | claim | measured | result | run |", "|---|---|---|---|---|"]
    for eid in ids:
        o = records.get(eid)
        if o is None:
            lines.append(f"| {eid} | — | not run in this folder yet | — | — |")
            continue
        measured = o.measured.replace("|", "\\|").replace("\n", " ")
        run = ("cache" if o.cached else "computed") if eid in fresh else "earlier run"
        if eid not in fresh and o.mode != mode:
            run += f" ({o.mode})"
        lines.append(
            f"| [{o.id}](#{o.id.lower()}) | {o.claim} | {measured} | "
            f"{'PASS' if o.passed else '**FAIL**'} | {run} |"
        )
    for o in results:
        lines += ["", f"## {o.id}", "", f"### {o.name}", "", f"**Claim.** {o.claim}", ""]
        if o.setup:
            lines += [f"**Setup.** {o.setup}", ""]
        pngs = [f for f in o.files if f.endswith(".png")]
        for png in pngs:
            lines += [f"![{o.id}]({png})", ""]
        vectors = [f for f in o.files if f.endswith(".pdf")]
        if vectors:
            lines += ["Vector figure: " + ", ".join(f"[{f}]({f})" for f in vectors), ""]
        data_files = [f for f in o.files if not f.endswith((".png", ".pdf"))]
        if data_files:
            lines += ["Plotted numbers: " + ", ".join(f"[{f}]({f})" for f in data_files), ""]
        if o.error:
            lines += ["**Error.**", "", "```", o.error.strip(), "```", ""]
        else:
            lines += [f"**Measured.** {o.measured}", ""]
        how = _how(o, o.id not in fresh, mode)
        lines.append(f"**Result: {'PASS' if o.passed else 'FAIL'}** ({how}).")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- runner


def _remove_temporaries(out: Path) -> list[Path]:
    """Delete the temporaries a killed run left; the caller holds the folder lock.

    Output and record temporaries are only written under the folder lock, so
    every one found now is stale. A cache temporary is written under its entry's
    lock, so it is stale only if that lock is free.
    """
    removed = []
    for folder in (out, out / RECORDS_DIR):
        for tmp, _ in temporaries(folder):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    for tmp, entry in temporaries(out / CACHE_DIR):
        lock = _entry_lock(entry)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            continue
        try:
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
        finally:
            lock.release()
    return removed


def _warm_up_kernels(compile_here) -> None:
    """Run ``compile_here`` (a warm-up), saying so when it takes more than a second."""
    t0 = time.perf_counter()
    said = threading.Event()

    def announce():
        print("compiling kernels (first run only)…", flush=True)
        said.set()

    timer = threading.Timer(1.0, announce)
    timer.daemon = True
    timer.start()
    try:
        compile_here()
    finally:
        timer.cancel()
        if timer.is_alive():
            timer.join()
    if said.is_set():
        print(f"kernels ready in {time.perf_counter() - t0:.1f} s", flush=True)


#: Kernels compiled in a background process next to the experiments that come
#: before their first user (module → the warm-up of :mod:`paper_repro.warmup`).
_BACKGROUND = {
    "sims.primal_dual": "warm_up_primal_dual",
    "sims.distill": "warm_up_distillation",
}


def _uses(exp: Experiment, module: str) -> bool:
    """Whether the code of ``exp`` (its module and the experiment modules it uses)
    refers to ``module``."""
    homes = _experiment_modules_used(getattr(exp.run, "__module__", ""))
    return any(module in _modules_referenced(name) for name in homes)


class _BackgroundWarmUp:
    """Kernels compiled by a separate Python process, one warm-up after the other.

    A first run spends much of its compilation time on the kernels of the
    distillation and of the primal-dual algorithm, and only some experiments
    need them: compiled next to the experiments that come first, on the other
    core, they cost little wall time. The process runs the warm-ups in the
    order given (that of their first users), each at full speed on the spare
    core, fills numba's on-disk cache and reports each one as it finishes;
    :meth:`wait` is called before the first experiment that uses a warm-up,
    which then loads its kernels from the cache. It runs at a lower priority,
    so that it takes the core the experiments leave idle rather than slowing
    them down. A failed warm-up is harmless (the experiment compiles what it
    needs itself).

    Parameters
    ----------
    targets : str or sequence of str, default "warm_up_distillation"
        The functions of :mod:`paper_repro.warmup` the process calls, in order.
    """

    _DONE = "modgate warm-up done: "

    def __init__(self, targets: str | Sequence[str] = "warm_up_distillation"):
        self.targets = (targets,) if isinstance(targets, str) else tuple(targets)
        self._done: set[str] = set()
        lines = ["import os", "if hasattr(os, 'nice'):", "    os.nice(10)"]
        lines.append("import paper_repro.warmup as warmup")
        for target in self.targets:
            lines += [f"warmup.{target}()", f"print({self._DONE + target!r}, flush=True)"]
        self.process = subprocess.Popen(
            [sys.executable, "-c", "\n".join(lines)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    def wait(self, target: str | None = None) -> None:
        """Return once ``target`` has finished (default: the whole process), or the
        process has ended, whether or not it succeeded."""
        wanted = set(self.targets if target is None else (target,))
        while not wanted <= self._done:
            line = self.process.stdout.readline()
            if not line:
                break
            if line.startswith(self._DONE):
                self._done.add(line[len(self._DONE) :].strip())
        if target is None:
            self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()


#: The experiments that take longest at full size, longest first: without a
#: record of an earlier run they are handed to the workers first.
_LONGEST = ("E11", "E7", "E10", "E6")


def _longest_first(tasks: list, out: Path, mode: str) -> list:
    """``tasks`` in the order to hand them to parallel workers: longest first.

    Two workers finish together when the long experiments start first (the
    longest-processing-time rule); the one started last should be short. The
    durations are those recorded by an earlier run of the same mode into
    ``out`` (read without the folder's lock, and without writing anything);
    experiments without such a record come first in the order of
    :data:`_LONGEST` when the mode is ``full``, otherwise in their own order.
    """
    known = {}
    folder = out / RECORDS_DIR
    # Read only (no lock held here): a record that cannot be read gives no hint.
    for path in folder.glob("*.json") if folder.is_dir() else []:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            seconds = float(raw["seconds"])
        except (OSError, ValueError, TypeError, KeyError):
            continue
        if raw.get("mode") == mode and math.isfinite(seconds):
            known[raw.get("id")] = seconds
    hint = {eid: len(_LONGEST) - i for i, eid in enumerate(_LONGEST)} if mode == "full" else {}

    def rank(item):
        i, (e, _, _) = item
        if e.id in known:
            return (0, -known[e.id], i)
        return (1, -hint.get(e.id, 0), i)

    return [task for _, task in sorted(enumerate(tasks), key=rank)]


def _error_line(error: str) -> str:
    """The last line of a traceback: the exception and its message."""
    lines = [line for line in error.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else error


def reproduce(
    mode: str = "quick",
    only: Sequence[str] | None = None,
    out: Path = Path("figures"),
    jobs: int = 1,
    *,
    experiments: Sequence[Experiment] | None = None,
    force: bool = False,
    warm_up: bool | None = None,
) -> int:
    """Run the experiments and write their figures, tables and ``REPORT.md`` to ``out``.

    Parameters
    ----------
    mode : {"quick", "full"}
        Small sizes (a few minutes on 2 cores) or the paper-scale sizes.
    only : sequence of str, optional
        Experiment IDs to run, e.g. ``["E3", "E5"]``; the report keeps the
        sections of the others from earlier runs into ``out``.
    out : str or Path
        The output folder, created if missing.
    jobs : int, ≥ 1
        Experiments computed in parallel worker processes.
    experiments : sequence of Experiment, optional
        Replaces the package's experiments (used by the tests).
    force : bool
        Recompute every selected experiment even if it is cached.
    warm_up : bool, optional
        Compile the numba kernels before the progress bar starts (default: when
        running the package's own experiments and something is to be computed).

    Returns
    -------
    int
        0 if every selected claim passes, 1 otherwise.

    Raises
    ------
    ValueError
        For an unknown mode or experiment ID, ``jobs`` < 1, or an output folder
        that is a file or cannot be written (checked before anything is computed).

    Examples
    --------
    A toy experiment (the package's experiments take minutes) run into a
    temporary folder; the runner prints one line per claim and the report:

    >>> import tempfile
    >>> from pathlib import Path
    >>> from paper_repro.experiments import Experiment
    >>> def plot(data, out_dir):
    ...     path = Path(out_dir) / "E1_toy.png"
    ...     path.write_bytes(b"")  # a real experiment draws its figure here
    ...     return path
    >>> toy = Experiment(
    ...     "E1", "toy", "A toy experiment", "T0: 1 + 1 = 2",
    ...     params=lambda mode: {"a": 1},
    ...     run=lambda p, show_progress=False: {"sum": p["a"] + 1},
    ...     plot=plot,
    ...     table=lambda data: [data],
    ...     check=lambda data: (data["sum"] == 2, f"1 + 1 = {data['sum']}"),
    ...     setup=lambda p: "one addition",
    ... )
    >>> with tempfile.TemporaryDirectory() as out:  # doctest: +ELLIPSIS
    ...     code = reproduce(out=out, experiments=[toy])
    ...     files = sorted(p.name for p in Path(out).iterdir())
    E1   PASS  1 + 1 = 2
    wrote .../REPORT.md: 1/1 claims pass
    >>> code, files
    (0, ['.cache', '.report', 'E1_toy.csv', 'E1_toy.json', 'E1_toy.png', 'REPORT.md'])
    """
    mode = check_choice(mode, "mode", {"quick", "full"})
    jobs = check_int(jobs, "jobs")
    known = list(available()) if experiments is None else [e.id for e in experiments]
    wanted = select(only, known)
    out = writable_folder(out, "out")
    if experiments is None:
        selected: list[Experiment | Unavailable] = registry(wanted)
    else:
        selected = [e for e in experiments if wanted is None or e.id in wanted]
    folder_lock = FileLock(out / CACHE_DIR / _FOLDER_LOCK)
    (out / CACHE_DIR).mkdir(exist_ok=True)
    waiting = f"waiting for another modgate run writing to {out}"

    _acquire(folder_lock, waiting)
    try:
        for tmp in _remove_temporaries(out):
            print(f"removed {tmp}, left by an interrupted run", file=sys.stderr)
    finally:
        folder_lock.release()

    runnable = [e for e in selected if isinstance(e, Experiment)]
    params = {e.id: e.params(mode) for e in runnable}
    tasks = [(e, params[e.id], _cache_file(out, e, params[e.id])) for e in runnable]
    if warm_up is None:
        warm_up = experiments is None
    to_compute = [e for e, _, cf in tasks if force or not cf.exists()]
    # Background warm-ups, run by one process in the order of their first users:
    # experiment ID → the warm-ups to wait for before it (at their first user only).
    waits: dict[str, list[str]] = {}
    background = None
    if warm_up and to_compute:
        from paper_repro import warmup

        here = [warmup.warm_up_theory]
        order = {e.id: i for i, e in enumerate(to_compute)}
        for module, target in _BACKGROUND.items():
            users = [e.id for e in to_compute if _uses(e, module)]
            if not users:
                continue
            if jobs == 1 and users[0] != to_compute[0].id:
                # Compiled on the other core while the experiments before the first
                # one that needs them run.
                waits.setdefault(users[0], []).append(target)
            else:
                here.append(getattr(warmup, target))
        if waits:
            firsts = sorted(waits, key=order.__getitem__)
            background = _BackgroundWarmUp([t for eid in firsts for t in waits[eid]])
        _warm_up_kernels(lambda: [step() for step in here])

    results: dict[str, _Computed] = {}
    bar = tqdm(total=len(tasks), desc=f"reproduce ({mode})", unit="exp")
    try:
        if jobs == 1 or len(tasks) <= 1:
            for e, p, cf in tasks:
                for target in waits.pop(e.id, []):
                    bar.set_postfix_str(f"{e.id} (waiting for its kernels to compile)")
                    background.wait(target)
                bar.set_postfix_str(e.id)
                results[e.id] = _compute(e, p, cf, show_progress=True, force=force)
                bar.update()
        else:
            from joblib import Parallel, delayed

            parallel = Parallel(n_jobs=jobs, backend="loky", return_as="generator_unordered")
            ordered = _longest_first(tasks, out, mode)
            for eid, res in parallel(delayed(_task)(e, p, cf, force) for e, p, cf in ordered):
                results[eid] = res
                bar.set_postfix_str(eid)
                bar.update()
    finally:
        bar.close()
        if background is not None:
            background.stop()

    notes = [note for res in results.values() for note in res.notes]
    _acquire(folder_lock, waiting)
    try:
        outcomes = _finish(selected, results, params, mode, out, jobs)
        records, unreadable = _read_records(out)
        notes += unreadable
        _write_text(out / "REPORT.md", _report(records, {o.id for o in outcomes}, known, mode))
    finally:
        folder_lock.release()

    for note in notes:
        print(note, file=sys.stderr)
    for o in outcomes:
        print(f"{o.id:<4} {'PASS' if o.passed else 'FAIL'}  {o.measured}")
        if o.error:
            print(f"{o.id}: {_error_line(o.error)} (details in REPORT.md)", file=sys.stderr)
    from_cache = [o.id for o in outcomes if o.cached]
    if from_cache:
        print(f"from the cache: {', '.join(from_cache)} (--force recomputes them)")
    kept = sorted(set(records) - {o.id for o in outcomes}, key=_id_order)
    print(
        f"wrote {out / 'REPORT.md'}: {sum(o.passed for o in outcomes)}/{len(outcomes)} claims pass"
        + (f" (it keeps the results of {', '.join(kept)} from earlier runs)" if kept else "")
    )
    return 0 if outcomes and all(o.passed for o in outcomes) else 1


def _outputs(exp: Experiment, data: dict, params: dict, mode: str, out: Path):
    """:func:`_write_outputs`, or the traceback of its failure: ``(result, error)``."""
    try:
        return _write_outputs(exp, data, params, mode, out), None
    except Exception:
        return None, traceback.format_exc()


def _finish(
    selected, results: dict[str, _Computed], params: dict, mode: str, out: Path, jobs: int = 1
):
    """Write every selected experiment's outputs and record; return their outcomes.

    With ``jobs`` > 1 the figures and tables are drawn by that many worker
    processes (the caller holds the folder's lock meanwhile).
    """
    ready = [e for e in selected if isinstance(e, Experiment) and not results[e.id].error]
    calls = [(e, results[e.id].data, params[e.id], mode, out) for e in ready]
    if jobs > 1 and len(calls) > 1:
        from joblib import Parallel, delayed

        drawn = Parallel(n_jobs=jobs, backend="loky")(delayed(_outputs)(*c) for c in calls)
    else:
        drawn = [_outputs(*c) for c in calls]
    written = {e.id: w for e, w in zip(ready, drawn, strict=True)}
    outcomes: list[Outcome] = []
    for e in selected:
        finished = time.strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(e, Unavailable):
            outcome = Outcome(
                e.id, e.id, "(not loaded)", False, "not run", error=e.error, mode=mode,
                finished=finished,
            )  # fmt: skip
        else:
            res, p = results[e.id], params[e.id]
            common = dict(
                setup=e.setup(p), seconds=res.seconds, cached=res.cached, params=p, mode=mode,
                finished=finished,
            )  # fmt: skip
            if res.error:
                outcome = Outcome(
                    e.id, e.name, e.claim, False, "run raised", error=res.error, **common
                )
            else:
                result, error = written[e.id]
                if error is None:
                    passed, measured, files = result
                    outcome = Outcome(
                        e.id, e.name, e.claim, passed, measured, files=files, **common
                    )
                else:
                    outcome = Outcome(
                        e.id, e.name, e.claim, False, "output failed", error=error, **common
                    )
        _write_record(out, outcome)
        outcomes.append(outcome)
    return outcomes
