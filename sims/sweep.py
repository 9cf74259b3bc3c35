r"""Parameter sweeps: a study evaluated on a grid × seeds, run on Dask, stored as Parquet.

A *study* is a pure function ``(params, seed) -> {output: number}`` together
with its grid keys, each with a single default value. A sweep evaluates it on
the Cartesian product of the values given for some keys (the others keep their
defaults) and on the seeds 0..N−1: a grid of a·b points and N seeds gives
exactly a·b·N rows, one per (grid point, seed), with a column per key, ``seed``
and a column per output. A seed draws the same random numbers at every grid
point (common random numbers): with K and n fixed, the domains at two
separations share their base law and tilts, and the experts at two noise
levels share their noise, so differences across the grid are not sampling noise.

Three studies are registered (``modgate sweep --list``):

* ``modular-vs-monolithic`` (T6–T10): the robust gate against retraining one
  model on the pooled data, over the number of domains K, the number n of
  points of X, the domain diversity (``separation``), the expert quality
  (``noise``) and the monolithic class (``full``, ``product``, ``markov:r``).
  See :func:`modular_vs_monolithic` for the bounds of the margin it also reports.
* ``robust-vs-heuristics`` (T10): the worst-case margins of the data-mixing
  comparators of :mod:`sims.monolithic` over the robust gate.
* ``generalization`` (T11): measured generalization gaps of a learned gate and
  of a tabular model against their bounds, over m, K, n.

Storage. The rows of study S in folder DIR live in ``DIR/S.parquet/``, a folder
of Parquet files (``part-*.parquet``), each written atomically (written under
a temporary name, flushed to disk, renamed) as soon as its rows are computed.
A part is written by the worker that computed it when the worker sees the
folder (a shared or local file system), else by the client when the rows
arrive; a worker killed while writing leaves only an ignored temporary, so
every finished chunk survives the death of a worker, of the client or of the
machine. A rerun reads the parts, computes only the missing rows and, once
every requested row is stored, merges the parts into one. Reading removes
duplicate rows (a chunk computed twice, e.g. after a client died), so each
(grid point, seed) appears exactly once.

Execution. :func:`run_sweep` submits chunks of rows to a
:class:`dask.distributed.Client` (a local cluster or a running scheduler, the
same code either way) and follows them with ``as_completed``; Dask reschedules
the chunks of a worker that dies. Without a client the chunks run in this
process, one after another.

Seed-to-seed variation is summarized by percentile-bootstrap intervals
(:func:`summarize`, Efron [1]_).

References
----------
.. [1] B. Efron, "Bootstrap methods: another look at the jackknife", The Annals
   of Statistics 7(1), 1979.

Examples
--------
>>> from sims.sweep import get_study, grid
>>> study = get_study("modular-vs-monolithic")
>>> points = grid(study, {"noise": [0.0, 0.5], "separation": [0.5, 1.0, 2.0]})
>>> len(points), points[0]["K"]
(6, 3)
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import numbers
import os
import secrets
import time
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sims.domains import dirichlet_domains, markov_domains, noisy_experts, product_domains
from sims.experts import tabular_experts
from theory.divergences import jsd, kl
from theory.minimax import robust_gate
from theory.mixtures import from_spec
from theory.monolithic import aggregate, interference, model_class, parse_family
from theory.objectives import losses
from theory.validation import ArgumentTypeError, check_int, check_positive

__all__ = [
    "Study",
    "SweepPlan",
    "SweepResult",
    "Store",
    "register_study",
    "get_study",
    "studies",
    "parse_settings",
    "grid",
    "plan_sweep",
    "run_sweep",
    "compute_rows",
    "summarize",
    "columns",
    "StudyInstance",
    "study_instance",
    "modular_vs_monolithic",
    "robust_vs_heuristics",
    "generalization",
]

Value = int | float | str

# ----------------------------------------------------------------------------- studies


@dataclass(frozen=True)
class Study:
    r"""A pure function of grid parameters and a seed, with its keys and outputs.

    Register a study with :func:`register_study`; the three built-in studies
    are :func:`modular_vs_monolithic`, :func:`robust_vs_heuristics` and
    :func:`generalization`.

    Parameters
    ----------
    name : str
        The name used by ``modgate sweep NAME`` and in the file names.
    summary : str
        One sentence: what the study measures, led by its result IDs (T1…T12).
    defaults : mapping of str to int, float or str
        Every grid key with its single default value; the type of the default
        is the key's type (an int key takes integers only).
    outputs : tuple of str
        The names of the numbers ``compute`` returns, in column order.
    compute : callable
        ``compute(params, seed) -> dict`` of the outputs (finite or infinite
        floats), deterministic in ``(params, seed)``.
    check : callable
        ``check(params)`` raises ``ValueError`` naming the key when a grid point
        is invalid; cheap, run on every point before anything is computed.
    headline : tuple of str
        The outputs drawn by the generic sweep figure.

    Examples
    --------
    >>> study = get_study("generalization")
    >>> study.keys[:3], study.kind("delta"), study.columns[-1]
    (('K', 'n', 'm'), <class 'float'>, 'skewness')
    """

    name: str
    summary: str
    defaults: Mapping[str, Value]
    outputs: tuple[str, ...]
    compute: Callable[[dict, int], dict]
    check: Callable[[dict], None]
    headline: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        """The grid keys, in column order."""
        return tuple(self.defaults)

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column of a row: the keys, ``seed``, the outputs."""
        return (*self.keys, "seed", *self.outputs)

    def kind(self, key: str) -> type:
        """The type (int, float or str) of the values of ``key``.

        Parameters
        ----------
        key : str
            A grid key.

        Returns
        -------
        type
            ``int``, ``float`` or ``str``: the type of the key's default.
        """
        return type(self.defaults[key])


_STUDIES: dict[str, Study] = {}


def register_study(study: Study) -> Study:
    """Add ``study`` to the registry (replacing a study of the same name) and return it.

    Parameters
    ----------
    study : Study
        The study; its name becomes usable by ``modgate sweep NAME``.

    Returns
    -------
    Study
        ``study`` itself.

    Raises
    ------
    TypeError
        If ``study`` is not a :class:`Study`
        (:class:`~theory.validation.ArgumentTypeError`).
    ValueError
        If a default is not an int, a float or a str, a key is named ``seed``,
        or the outputs repeat a name or share one with a key.

    Examples
    --------
    Registering a study again under its own name replaces it:

    >>> study = get_study("generalization")
    >>> register_study(study) is study
    True
    """
    if not isinstance(study, Study):
        raise ArgumentTypeError(f"study: expected a Study, got {type(study).__name__}")
    for key, value in study.defaults.items():
        if type(value) not in (int, float, str):
            raise ValueError(
                f"defaults: the default of {key!r} must be an int, a float or a str, "
                f"got {type(value).__name__}"
            )
    names = [*study.keys, "seed", *study.outputs]
    if len(set(names)) != len(names):
        raise ValueError(f"outputs: the keys, 'seed' and the outputs repeat a name: {names}")
    _STUDIES[study.name] = study
    return study


def studies() -> list[Study]:
    """The registered studies, in registration order.

    Returns
    -------
    list of Study

    Examples
    --------
    >>> [s.name for s in studies()][:3]
    ['modular-vs-monolithic', 'robust-vs-heuristics', 'generalization']
    """
    return list(_STUDIES.values())


def get_study(name) -> Study:
    """The registered study called ``name`` (a :class:`Study` is returned as is).

    Parameters
    ----------
    name : str or Study
        A study name, e.g. ``"modular-vs-monolithic"``.

    Returns
    -------
    Study

    Raises
    ------
    ValueError
        If no study has that name; the message lists the registered ones.

    Examples
    --------
    >>> get_study("robust-vs-heuristics").name
    'robust-vs-heuristics'
    """
    if isinstance(name, Study):
        return name
    if not isinstance(name, str) or name not in _STUDIES:
        raise ValueError(f"study: expected one of {', '.join(_STUDIES)}, got {name!r:.60}")
    return _STUDIES[name]


# ----------------------------------------------------------------------------- grids


def _parse_value(study: Study, key: str, text: str) -> Value:
    kind = study.kind(key)
    text = text.strip()
    if kind is str:
        if not text:
            raise ValueError(f"{key}: empty value")
        return text
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"{key}: expected {kind.__name__} values, got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise ValueError(f"{key}: expected finite values, got {text!r}")
    return value


def parse_settings(study, texts: Sequence[str]) -> dict[str, list[Value]]:
    """Parse ``KEY=V1,V2,...`` strings (the ``--set`` options) into values per key.

    Parameters
    ----------
    study : Study or str
        The study whose keys are set.
    texts : sequence of str
        Each ``KEY=V1,V2,...``; values are read with the key's type.

    Returns
    -------
    dict
        ``{key: [values]}`` in the order given.

    Raises
    ------
    ValueError
        Naming the key: an unknown key (listing the valid ones), a key set
        twice, a value of the wrong type, an empty or repeated value.

    Examples
    --------
    >>> parse_settings("modular-vs-monolithic", ["K=2,4", "monolithic=full,product"])
    {'K': [2, 4], 'monolithic': ['full', 'product']}
    """
    study = get_study(study)
    if isinstance(texts, str):
        raise ArgumentTypeError(f"texts: expected a list of KEY=V1,V2 strings, got {texts!r}")
    out: dict[str, list[Value]] = {}
    for text in texts:
        key, sep, values = str(text).partition("=")
        key = key.strip()
        if not sep:
            raise ValueError(f"{text!r}: expected KEY=V1,V2,...")
        if key not in study.defaults:
            raise ValueError(
                f"{key}: not a key of {study.name}; its keys are {', '.join(study.keys)}"
            )
        if key in out:
            raise ValueError(f"{key}: set twice; give all its values at once (KEY=V1,V2)")
        out[key] = [_parse_value(study, key, v) for v in values.split(",")]
    return out


def grid(study, settings: Mapping[str, Sequence] | None = None) -> list[dict]:
    """Every grid point: the Cartesian product of the values set, defaults elsewhere.

    Parameters
    ----------
    study : Study or str
        The study.
    settings : mapping of str to sequence, optional
        Values per key (e.g. from :func:`parse_settings`); a key not set keeps
        its default.

    Returns
    -------
    list of dict
        One parameter dict per point, keys in the study's order; the last key
        set varies fastest. Every point has passed the study's ``check``.

    Raises
    ------
    ValueError
        An unknown key, a value of the wrong type, an empty or repeated list of
        values, or a point the study rejects (the message names the key).

    Examples
    --------
    >>> points = grid("generalization", {"m": [100, 300], "K": [2, 4]})
    >>> [(p["K"], p["m"]) for p in points]
    [(2, 100), (2, 300), (4, 100), (4, 300)]
    """
    study = get_study(study)
    settings = dict(settings or {})
    axes = []
    for key in study.keys:
        values = settings.pop(key, [study.defaults[key]])
        if isinstance(values, np.ndarray) and values.ndim == 1:
            values = values.tolist()
        if isinstance(values, str) or not isinstance(values, Sequence) or not values:
            raise ValueError(f"{key}: expected a non-empty list of values, got {values!r:.60}")
        kind = study.kind(key)
        for v in values:
            ok = isinstance(v, str) if kind is str else isinstance(v, numbers.Real)
            if kind is int:
                ok = isinstance(v, numbers.Integral)
            if not ok or isinstance(v, bool):
                raise ValueError(f"{key}: expected {kind.__name__} values, got {v!r}")
        values = [kind(v) for v in values]
        if len(set(values)) != len(values):
            raise ValueError(f"{key}: repeated values in {values}")
        axes.append(values)
    if settings:
        raise ValueError(
            f"{', '.join(settings)}: not a key of {study.name}; its keys are {', '.join(study.keys)}"
        )
    points = [dict(zip(study.keys, combo, strict=True)) for combo in itertools.product(*axes)]
    for p in points:
        study.check(p)
    return points


def _seed_list(seeds) -> list[int]:
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        return list(range(check_int(seeds, "seeds")))
    if isinstance(seeds, str) or not isinstance(seeds, Sequence) or not seeds:
        raise ValueError(f"seeds: expected a count ≥ 1 or a list of seeds, got {seeds!r:.60}")
    out = [check_int(s, "seeds", minimum=0) for s in seeds]
    if len(set(out)) != len(out):
        raise ValueError(f"seeds: repeated seeds in {out}")
    return out


def _row_key(study: Study, row: Mapping) -> tuple:
    return (*(row[k] for k in study.keys), int(row["seed"]))


# ----------------------------------------------------------------------------- rows


def compute_rows(study, rows: Sequence[Mapping]) -> list[dict]:
    """Evaluate ``study`` on each row (its keys and ``seed``); return the completed rows.

    This is what every Dask task of :func:`run_sweep` runs on its chunk, and
    what a caller without a cluster runs directly.

    Parameters
    ----------
    study : Study or str
        The study.
    rows : sequence of mapping
        Each holds every key of the study and ``seed``.

    Returns
    -------
    list of dict
        Each row with the study's outputs added, as floats.

    Raises
    ------
    ValueError
        If the study returns a non-dict, misses an output, or returns NaN or a
        value that is not a real number.

    Examples
    --------
    >>> study = get_study("modular-vs-monolithic")
    >>> row = {**study.defaults, "n": 8, "seed": 0}
    >>> done = compute_rows(study, [row])
    >>> len(done), done[0]["seed"], bool(done[0]["certified_gap"] <= 1e-8)
    (1, 0, True)
    """
    study = get_study(study)
    out = []
    for row in rows:
        params = {k: row[k] for k in study.keys}
        seed = int(row["seed"])
        result = study.compute(dict(params), seed)
        if not isinstance(result, Mapping):
            raise ValueError(f"{study.name}: compute returned {type(result).__name__}, not a dict")
        missing = [o for o in study.outputs if o not in result]
        if missing:
            raise ValueError(f"{study.name}: compute did not return {', '.join(missing)}")
        values = {}
        for o in study.outputs:
            v = result[o]
            if not isinstance(v, numbers.Real) or isinstance(v, bool) or math.isnan(v):
                raise ValueError(
                    f"{study.name}: output {o} at {params}, seed {seed} is {v!r}, not a real number"
                )
            values[o] = float(v)
        out.append({**params, "seed": seed, **values})
    return out


# ----------------------------------------------------------------------------- storage

_PART_GLOB = "part-*.parquet"
_WRITER_FILE = ".writer"


def _schema(study: Study):
    import pyarrow as pa

    types = {int: pa.int64(), float: pa.float64(), str: pa.string()}
    fields = [pa.field(k, types[study.kind(k)]) for k in study.keys]
    fields.append(pa.field("seed", pa.int64()))
    fields += [pa.field(o, pa.float64()) for o in study.outputs]
    return pa.schema(fields)


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_atomic(table, target: Path, writer: Callable) -> None:
    """Write ``table`` with ``writer(table, path)`` under a temporary name, flush, rename."""
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        writer(table, str(tmp))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise
    _fsync_folder(target.parent)


def _part_name(study: Study, rows: Sequence[Mapping]) -> str:
    keys = sorted(_row_key(study, r) for r in rows)
    digest = hashlib.sha256(json.dumps(keys).encode()).hexdigest()[:24]
    return f"part-{digest}.parquet"


def _write_part(study: Study, folder: Path, rows: Sequence[Mapping]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(list(rows), schema=_schema(study))
    target = folder / _part_name(study, rows)
    _write_atomic(table, target, pq.write_table)
    return target


class Store:
    """The stored rows of one study: ``folder/<study>.parquet/``, a folder of Parquet parts.

    Parts are written atomically (temporary name, flush, rename), so a part is
    either complete or absent; :meth:`read` drops duplicated rows.

    Parameters
    ----------
    folder : str or Path
        The output folder of the sweep (``--out``).
    study : Study or str
        The study whose rows are stored.

    Attributes
    ----------
    study : Study
        The study.
    path : Path
        ``folder/<study name>.parquet``.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     store = Store(folder, "generalization")
    ...     (store.path.name, store.parts(), store.read().num_rows)
    ('generalization.parquet', [], 0)
    """

    def __init__(self, folder, study):
        self.study = get_study(study)
        self.path = Path(folder) / f"{self.study.name}.parquet"

    @property
    def schema(self):
        """The Arrow schema of a row: the keys (int64, float64 or string), ``seed``, the outputs."""
        return _schema(self.study)

    def parts(self) -> list[Path]:
        """The Parquet parts currently stored (temporaries excluded).

        Returns
        -------
        list of Path
            Sorted; empty when the folder does not exist.
        """
        return sorted(self.path.glob(_PART_GLOB)) if self.path.is_dir() else []

    def _read_parts(self, parts: Sequence[Path]):
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = self.schema
        tables = []
        for part in parts:
            try:
                t = pq.read_table(part)
            except FileNotFoundError:  # merged away by a concurrent run
                continue
            except (OSError, pa.ArrowException) as exc:
                warnings.warn(
                    f"{part}: unreadable Parquet part ignored, its rows will be recomputed ({exc})",
                    RuntimeWarning,
                    stacklevel=3,
                )
                continue
            if set(t.column_names) != set(schema.names):
                raise ValueError(
                    f"out: {part} holds the columns {t.column_names}, but the study "
                    f"{self.study.name} has {schema.names}; use another --out folder"
                )
            tables.append(t.select(schema.names).cast(schema))
        return pa.concat_tables(tables) if tables else schema.empty_table()

    def read(self):
        """Every stored row once, as a ``pyarrow.Table`` (the first copy of a repeated row wins).

        Returns
        -------
        pyarrow.Table
            Columns in :attr:`Study.columns` order.

        Raises
        ------
        ValueError
            If a part holds columns of another study.
        """
        return _unique(self._read_parts(self.parts()), [*self.study.keys, "seed"])

    def open_for_writers(self) -> str:
        """Create the folder and mark it with a fresh token for the workers.

        Workers write parts only where they find this token, i.e. where they see
        the client's folder (a shared or local file system).

        Returns
        -------
        str
            The token (a random hexadecimal string).
        """
        self.path.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex
        marker = self.path / _WRITER_FILE
        tmp = marker.with_name(f"{_WRITER_FILE}.{token[:8]}.tmp")
        tmp.write_text(token)
        os.replace(tmp, marker)
        return token

    def write(self, rows: Sequence[Mapping]) -> Path:
        """Write ``rows`` as one part, atomically.

        Parameters
        ----------
        rows : sequence of mapping
            Complete rows (keys, ``seed`` and outputs).

        Returns
        -------
        Path
            The part, named by a hash of the rows' keys (writing the same rows
            twice gives the same name).
        """
        self.path.mkdir(parents=True, exist_ok=True)
        return _write_part(self.study, self.path, rows)

    def compact(self) -> None:
        """Merge every part into one (duplicates dropped), then remove the merged parts.

        The merged part is on disk before any part is removed, so a crash in
        between leaves duplicate rows, which :meth:`read` drops.
        """
        import pyarrow.parquet as pq
        from filelock import FileLock

        with FileLock(str(self.path / ".compact.lock")):
            parts = self.parts()
            if len(parts) <= 1:
                return
            table = _unique(self._read_parts(parts), [*self.study.keys, "seed"])
            target = self.path / f"part-merged-{uuid.uuid4().hex[:16]}.parquet"
            _write_atomic(table, target, pq.write_table)
            for part in parts:
                part.unlink(missing_ok=True)
            _fsync_folder(self.path)

    def remove_stale_temporaries(self, older_than: float) -> None:
        """Remove temporaries (from writers killed mid-write) last modified before ``older_than``.

        Parameters
        ----------
        older_than : float
            A time in seconds since the epoch (``time.time()`` scale).
        """
        for tmp in self.path.glob(".part-*.tmp"):
            try:
                if tmp.stat().st_mtime < older_than:
                    tmp.unlink()
            except FileNotFoundError:
                pass


def _unique(table, keys: Sequence[str]):
    """The rows of ``table`` with distinct ``keys``, first occurrence kept, original order."""
    import pyarrow as pa

    if table.num_rows == 0:
        return table
    index = pa.array(np.arange(table.num_rows, dtype=np.int64))
    firsts = (
        table.select(list(keys))
        .append_column("__row", index)
        .group_by(list(keys), use_threads=False)
        .aggregate([("__row", "min")])
        .column("__row_min")
        .to_numpy()
    )
    if firsts.size == table.num_rows:
        return table
    return table.take(pa.array(np.sort(firsts)))


def columns(table) -> dict[str, np.ndarray]:
    """A ``pyarrow.Table`` as ``{column: ndarray}`` (strings as object arrays).

    Parameters
    ----------
    table : pyarrow.Table
        Rows, e.g. :attr:`SweepResult.table`.

    Returns
    -------
    dict of str to ndarray
        One array per column, in the table's order.

    Examples
    --------
    >>> import pyarrow as pa
    >>> columns(pa.table({"K": [2, 3], "monolithic": ["full", "product"]}))
    {'K': array([2, 3]), 'monolithic': array(['full', 'product'], dtype=object)}
    """
    out = {}
    for name in table.column_names:
        col = table.column(name)
        if col.type == "string":
            out[name] = np.array(col.to_pylist(), dtype=object)
        else:
            out[name] = col.to_numpy()
    return out


def _worker_write(study: Study, folder: str, token: str, rows: list[dict]) -> str | None:
    """Write the part from the worker when it sees the client's folder; None otherwise."""
    path = Path(folder)
    try:
        if (path / _WRITER_FILE).read_text() != token:
            return None
        return _write_part(study, path, rows).name
    except OSError:
        return None


def _run_chunk(study: Study, rows: list[dict], folder: str | None, token: str | None):
    """One Dask task: compute a chunk of rows and store it; returns (rows, part name or None)."""
    done = compute_rows(study, rows)
    name = _worker_write(study, folder, token, done) if folder else None
    return done, name


# ----------------------------------------------------------------------------- sweeps


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep will do: the requested rows and those not stored yet.

    Built by :func:`plan_sweep`, run by :func:`run_sweep`.

    Attributes
    ----------
    study : Study
        The study.
    store : Store
        Where the rows are stored.
    points : list of dict
        The grid points.
    seeds : list of int
        The seeds.
    requested : int
        len(points) · len(seeds).
    stored : int
        Requested rows already in the store.
    missing : list of dict
        The rows (keys and ``seed``) to compute.
    """

    study: Study
    store: Store
    points: list[dict]
    seeds: list[int]
    requested: int
    stored: int
    missing: list[dict] = field(repr=False)


@dataclass(frozen=True)
class SweepResult:
    """What a sweep did.

    Returned by :func:`run_sweep`.

    Attributes
    ----------
    plan : SweepPlan
        The plan that was run.
    computed : int
        Rows computed by this run.
    failed : int
        Rows whose chunk raised; they are not stored.
    errors : tuple of str
        The distinct error messages of the failed chunks.
    seconds : float
        Wall time of the computation.
    table : pyarrow.Table
        Every requested row that is stored, sorted by the keys and the seed.
    """

    plan: SweepPlan
    computed: int
    failed: int
    errors: tuple[str, ...]
    seconds: float
    table: object = field(repr=False)


def plan_sweep(study, out, settings=None, seeds=1) -> SweepPlan:
    """Expand the grid, read what ``out`` already holds and list the rows left to compute.

    Parameters
    ----------
    study : Study or str
        The study.
    out : str or Path
        The output folder; rows go to ``out/<study>.parquet/``.
    settings : mapping of str to sequence, optional
        Values per key (:func:`grid`).
    seeds : int or sequence of int
        N (the seeds 0..N−1) or the seeds themselves.

    Returns
    -------
    SweepPlan

    Raises
    ------
    ValueError
        A bad key, value or seed count (naming it), or a store holding another
        study's columns.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as out:
    ...     plan = plan_sweep("modular-vs-monolithic", out, {"separation": [0.5, 2.0]}, seeds=3)
    ...     (plan.requested, plan.stored, len(plan.missing))
    (6, 0, 6)
    """
    study = get_study(study)
    points = grid(study, settings)
    seed_list = _seed_list(seeds)
    store = Store(out, study)
    stored_keys = set()
    table = store.read()
    if table.num_rows:
        cols = [table.column(c).to_pylist() for c in (*study.keys, "seed")]
        stored_keys = set(zip(*cols, strict=True))
    missing, stored = [], 0
    for p in points:
        for s in seed_list:
            row = {**p, "seed": s}
            if _row_key(study, row) in stored_keys:
                stored += 1
            else:
                missing.append(row)
    return SweepPlan(study, store, points, seed_list, len(points) * len(seed_list), stored, missing)


def _chunks(rows: list[dict], size: int) -> list[list[dict]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


# Rows per Dask task: about 8 tasks per worker, so that the load balances and a
# killed worker loses little, but at most this many rows per Parquet part.
_TASKS_PER_WORKER = 8
_MAX_CHUNK = 256


def _chunk_size(n_rows: int, workers: int) -> int:
    return max(1, min(_MAX_CHUNK, math.ceil(n_rows / (_TASKS_PER_WORKER * max(1, workers)))))


def run_sweep(
    plan: SweepPlan, client=None, *, progress: bool = False, chunk_rows: int | None = None
) -> SweepResult:
    """Compute the missing rows of ``plan`` on a Dask cluster and store each chunk as it finishes.

    Parameters
    ----------
    plan : SweepPlan
        From :func:`plan_sweep`.
    client : dask.distributed.Client, optional
        The cluster (a ``LocalCluster`` or a running scheduler); the chunks are
        submitted as tasks and collected with ``as_completed``, and Dask reruns
        the tasks of a worker that dies. Without a client the chunks run here,
        one after another.
    progress : bool
        Show a progress bar of the rows.
    chunk_rows : int, optional
        Rows per task; by default about 8 tasks per worker, at most 256 rows.

    Returns
    -------
    SweepResult
        Counts and the stored requested rows. A chunk that raises is counted in
        ``failed`` (its message in ``errors``) and the others go on.

    Raises
    ------
    TypeError
        If ``plan`` is not a :class:`SweepPlan`
        (:class:`~theory.validation.ArgumentTypeError`).
    ValueError
        If ``chunk_rows`` is not a positive integer.

    Examples
    --------
    A small sweep in this process (no cluster): two separations, two seeds.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as out:
    ...     settings = {"n": [8], "separation": [0.5, 2.0]}
    ...     result = run_sweep(plan_sweep("modular-vs-monolithic", out, settings, seeds=2))
    ...     again = plan_sweep("modular-vs-monolithic", out, settings, seeds=2)
    >>> result.computed, result.failed, result.table.num_rows
    (4, 0, 4)
    >>> again.stored, len(again.missing)  # a rerun finds every row stored
    (4, 0)
    """
    from tqdm.auto import tqdm

    if not isinstance(plan, SweepPlan):
        raise ArgumentTypeError(f"plan: expected a SweepPlan, got {type(plan).__name__}")
    study, store = plan.study, plan.store
    start = time.time()
    token = store.open_for_writers()
    folder = str(store.path.resolve())
    workers = 1
    if client is not None:
        workers = len(client.scheduler_info().get("workers", {})) or 1
    size = (
        check_int(chunk_rows, "chunk_rows")
        if chunk_rows is not None
        else _chunk_size(len(plan.missing), workers)
    )
    chunks = _chunks(plan.missing, size)
    computed, failed, errors = 0, 0, []
    bar = tqdm(total=len(plan.missing), desc=study.name, unit="row", disable=not progress)

    def collect(rows, name):
        nonlocal computed
        if name is None or not (store.path / name).exists():
            store.write(rows)
        computed += len(rows)
        bar.update(len(rows))

    def fail(chunk, exc):
        nonlocal failed
        failed += len(chunk)
        message = f"{type(exc).__name__}: {exc}"
        if message not in errors:
            errors.append(message)
        bar.update(len(chunk))

    try:
        if client is None:
            for chunk in chunks:
                try:
                    collect(*_run_chunk(study, chunk, folder, token))
                except Exception as exc:  # reported, the other chunks go on
                    fail(chunk, exc)
        else:
            from dask.distributed import as_completed

            futures = {
                client.submit(
                    _run_chunk,
                    study,
                    chunk,
                    folder,
                    token,
                    key=f"sweep-{study.name}-{uuid.uuid4().hex[:12]}",
                ): chunk
                for chunk in chunks
            }
            for fut in as_completed(futures):
                chunk = futures.pop(fut)
                try:
                    collect(*fut.result())
                except Exception as exc:  # a chunk that raised, or killed its workers
                    fail(chunk, exc)
                fut.release()
    finally:
        bar.close()
    seconds = time.time() - start
    if not failed:
        store.compact()
        store.remove_stale_temporaries(start - 60.0)
    return SweepResult(plan, computed, failed, tuple(errors), seconds, _requested(plan))


def _requested(plan: SweepPlan):
    """The stored rows of the plan's grid and seeds, sorted by keys then seed."""
    import pyarrow as pa

    study = plan.study
    table = plan.store.read()
    wanted = {_row_key(study, {**p, "seed": s}) for p in plan.points for s in plan.seeds}
    cols = [table.column(c).to_pylist() for c in (*study.keys, "seed")]
    mask = [key in wanted for key in zip(*cols, strict=True)] if table.num_rows else []
    table = table.filter(pa.array(mask, type=pa.bool_())) if table.num_rows else table
    return table.sort_by([(k, "ascending") for k in (*study.keys, "seed")])


# ----------------------------------------------------------------------------- summaries


def summarize(
    table,
    by: Sequence[str],
    outputs: Sequence[str],
    *,
    confidence: float = 0.95,
    resamples: int = 1000,
    seed=0,
) -> list[dict]:
    r"""Aggregate the seeds of every grid point: mean and percentile-bootstrap interval.

    For a grid point with seed values y_1, …, y_N of an output, the mean ȳ and
    the interval between the (1 ∓ c)/2 quantiles of the bootstrap means
    ȳ^(b) = (1/N) Σ_i y_{I(b,i)}, b = 1, …, B, with indices I(b,i) drawn
    uniformly with replacement (B = ``resamples``, c = ``confidence``):

    .. math:: \bar y^{(b)} = \frac1N\sum_{i=1}^N y_{I_{b,i}}.

    Parameters
    ----------
    table : pyarrow.Table or mapping of str to array_like
        Rows, e.g. :attr:`SweepResult.table`.
    by : sequence of str
        The columns identifying a grid point (usually the varied keys).
    outputs : sequence of str
        The columns to aggregate.
    confidence : float, default 0.95
        The level c ∈ (0, 1) of the interval.
    resamples : int, default 1000
        The number B ≥ 1 of bootstrap resamples.
    seed : int, default 0
        Seeds the bootstrap draws.

    Returns
    -------
    list of dict
        One dict per grid point, sorted by ``by``: the ``by`` values, ``seeds``
        (N), and for each output ``<out>`` (mean), ``<out>_lo``, ``<out>_hi``.
        With N = 1 the interval is the single value.

    Raises
    ------
    ValueError
        If a column of ``by`` or ``outputs`` is missing, ``confidence`` is not
        in (0, 1) or ``resamples`` is not a positive integer.

    Examples
    --------
    >>> rows = {"K": [2, 2, 4, 4], "margin": [0.0, 2.0, 1.0, 1.0]}
    >>> summarize(rows, ["K"], ["margin"], resamples=100)
    [{'K': 2, 'seeds': 2, 'margin': 1.0, 'margin_lo': 0.0, 'margin_hi': 2.0},
     {'K': 4, 'seeds': 2, 'margin': 1.0, 'margin_lo': 1.0, 'margin_hi': 1.0}]
    """
    cols = columns(table) if hasattr(table, "column_names") else dict(table)
    confidence = check_positive(confidence, "confidence")
    if confidence >= 1:
        raise ValueError(f"confidence: expected a level in (0, 1), got {confidence}")
    resamples = check_int(resamples, "resamples")
    for name in (*by, *outputs):
        if name not in cols:
            raise ValueError(f"by/outputs: no column {name!r}; columns are {list(cols)}")
    rng = np.random.default_rng(seed)
    n = len(cols[outputs[0]]) if outputs else len(cols[by[0]]) if by else 0
    groups: dict[tuple, list[int]] = {}
    for i in range(n):
        groups.setdefault(tuple(cols[b][i] for b in by), []).append(i)
    q = ((1 - confidence) / 2, (1 + confidence) / 2)
    out = []
    for key in sorted(groups):
        idx = np.array(groups[key])
        row = dict(zip(by, (v.item() if hasattr(v, "item") else v for v in key), strict=True))
        row["seeds"] = int(idx.size)
        draws = rng.integers(0, idx.size, size=(resamples, idx.size))
        for o in outputs:
            y = np.asarray(cols[o], dtype=np.float64)[idx]
            row[o] = float(y.mean())
            if idx.size == 1 or not np.all(np.isfinite(y)):
                row[f"{o}_lo"] = row[f"{o}_hi"] = row[o]
            else:
                lo, hi = np.quantile(y[draws].mean(axis=1), q)
                row[f"{o}_lo"], row[f"{o}_hi"] = float(lo), float(hi)
        out.append(row)
    return out


# ----------------------------------------------------------------------------- instances

_FAMILIES = "'full', 'product' or 'markov:r'"


def _sequence_length(n: int, V: int) -> int:
    T = round(math.log(n) / math.log(V))
    if T < 2 or V**T != n:
        raise ValueError(
            f"n: a sequence class needs |X| = n = V**T with T ≥ 2; n = {n} is not such a "
            f"power of V = {V}"
        )
    return T


def _check_instance(p: dict) -> None:
    check_int(p["K"], "K", minimum=2)
    check_int(p["n"], "n", minimum=2)
    check_positive(p["separation"], "separation", allow_zero=True)
    noise = check_positive(p["noise"], "noise", allow_zero=True)
    if noise > 1:
        raise ValueError(f"noise: expected a value in [0, 1], got {noise}")
    check_int(p["V"], "V", minimum=2)
    if p["weights"] not in ("uniform", "proportional"):
        raise ValueError(f"weights: expected 'uniform' or 'proportional', got {p['weights']!r}")
    imbalance = check_positive(p["imbalance"], "imbalance")
    if imbalance < 1:
        raise ValueError(f"imbalance: expected a ratio ≥ 1, got {imbalance}")
    try:
        order = parse_family(p["monolithic"])
    except ValueError:
        raise ValueError(f"monolithic: expected {_FAMILIES}, got {p['monolithic']!r}") from None
    if order is not None:
        T = _sequence_length(p["n"], p["V"])
        try:
            model_class(p["monolithic"], (T, p["V"]), p["n"])
        except ValueError as exc:
            raise ValueError(f"monolithic: {exc}") from None
    from_spec(p["mixtures"], p["K"])


@dataclass(frozen=True)
class StudyInstance:
    r"""The instance behind one grid point of the T6–T10 studies (see :func:`study_instance`).

    Parameters
    ----------
    D : ndarray, shape (K, n)
        The domains D_1..D_K (rows on the simplex).
    P : ndarray, shape (K, n)
        The experts, each in the monolithic class H.
    mixtures : MixtureSet
        Λ, the mixtures the worst case ranges over.
    family : str
        The monolithic class H (``full``, ``product``, ``markov:r``).
    shape : tuple of int or None
        (T, V) for the sequence classes, None for ``full``.
    alpha : ndarray, shape (K,)
        The retraining weights α of the aggregate model h_α.
    sizes : ndarray, shape (K,)
        The relative domain sizes m_k ∝ ρ^{-(k-1)/(K-1)} (largest first).
    """

    D: np.ndarray
    P: np.ndarray
    mixtures: object
    family: str
    shape: tuple[int, int] | None
    alpha: np.ndarray
    sizes: np.ndarray


def _instance(p: dict, seed: int) -> StudyInstance:
    r"""Domains, experts in the monolithic class, Λ and the retraining weights of a grid point.

    Domains: ``dirichlet_domains`` for ``full``, ``product_domains`` or
    ``markov_domains`` (order r) on V^T for the sequence classes, so that every
    domain lies in the class H. Experts: ``noisy_experts(D, noise)``, each then
    projected onto H (experts as small as the monolithic model, T9). Domain
    sizes :math:`m_k \propto \rho^{-(k-1)/(K-1)}` (ρ = ``imbalance``, largest
    over smallest); retraining weights α uniform or m/Σm.
    """
    K, n, s = p["K"], p["n"], p["separation"]
    family = p["monolithic"]
    order = parse_family(family)
    if order is None:
        shape = None
        D = dirichlet_domains(K, n, s, seed=[seed, 0])
    else:
        V = p["V"]
        shape = (_sequence_length(n, V), V)
        if order == 0:
            D = product_domains(K, shape[0], V, s, seed=[seed, 0])
        else:
            D = markov_domains(K, shape[0], V, order, s, seed=[seed, 0])
    H = model_class(family, shape, n)
    P = np.stack([H.project(row) for row in noisy_experts(D, p["noise"], seed=[seed, 1])])
    sizes = float(p["imbalance"]) ** (-np.arange(K) / (K - 1))
    alpha = np.full(K, 1.0 / K) if p["weights"] == "uniform" else sizes / sizes.sum()
    return StudyInstance(D, P, from_spec(p["mixtures"], K), family, shape, alpha, sizes)


_INSTANCE_DEFAULTS: dict[str, Value] = {
    "K": 3,
    "n": 32,
    "separation": 1.0,
    "noise": 0.3,
    "monolithic": "full",
    "V": 2,
    "weights": "uniform",
    "imbalance": 4.0,
    "mixtures": "simplex",
}


# ---------------------------------------------------------------------- modular vs monolithic


def _worst(mixtures, L: np.ndarray) -> float:
    return float(mixtures.argmax_linear(L)[0])


def study_instance(params: Mapping, seed: int) -> StudyInstance:
    r"""Rebuild the instance of a grid point of ``modular-vs-monolithic`` or ``robust-vs-heuristics``.

    The same domains, experts, Λ and retraining weights the study function
    draws for ``params`` and ``seed``, to inspect or recompute a stored row.
    Domain sizes are :math:`m_k \propto \rho^{-(k-1)/(K-1)}` (ρ = ``imbalance``,
    largest over smallest, k = 1..K); the weights α are uniform or m/Σm.

    Parameters
    ----------
    params : mapping
        Grid parameters of the study (missing keys take the study's defaults).
    seed : int
        The row's seed.

    Returns
    -------
    StudyInstance

    Raises
    ------
    ValueError
        If a parameter is invalid (naming it) or ``seed`` is not an integer ≥ 0.

    Examples
    --------
    >>> inst = study_instance({"K": 3, "n": 8, "weights": "proportional", "imbalance": 4}, 0)
    >>> inst.sizes.round(3), inst.alpha.round(3)
    (array([1.  , 0.5 , 0.25]), array([0.571, 0.286, 0.143]))
    """
    p = {**_INSTANCE_DEFAULTS, **dict(params)}
    _check_instance(p)
    return _instance(p, check_int(seed, "seed", minimum=0))


def modular_vs_monolithic(params: dict, seed: int) -> dict:
    r"""The robust gate against aggregate retraining at one grid point (T6–T10).

    Per-domain losses L_k(q) = KL(D_k‖q) (divergence objective), worst case
    W(q) = max_{λ∈Λ} Σ_k λ_k L_k(q) by Λ's linear oracle. Compared:

    * robust: the gate of :func:`theory.minimax.robust_gate`, whose value V* is
      certified, ``robust_lower`` ≤ V* ≤ W(q*) = ``robust_worst_case``;
    * aggregate: h_α = argmin_{h∈H} KL(D_α‖h), the retrained monolithic model
      (:func:`theory.monolithic.aggregate`), ``aggregate_worst_case`` = W(h_α);
    * uniform: the fixed mixture (1/K) Σ_k p_k of the experts.

    ``margin`` = W(h_α) − W(q*) (> 0: the modular model wins). Its bounds come
    from the theory alone. Let C_Λ = max_{λ∈Λ} JSD_λ(D) (the value with perfect
    experts, T6/T7, solved with certified bounds; ``capacity``) attained at r,
    and ε̄ = max_{λ∈Λ} Σ_k λ_k KL(D_k‖p_k) (``expert_error``). Then
    C_Λ ≤ V* ≤ C_Λ + ε̄:

    .. math::
        C_\Lambda \le V^* \le C_\Lambda + \bar\varepsilon

    (left: M ⊆ Δ(X) and the minimax theorem; right: T8 with the compensation
    identity T1, d(λ) = JSD_λ + KL(D_λ‖q*_λ) ≤ JSD_λ + ε_λ), and, since r ∈ Λ,

    .. math::
        W(h_\alpha) \ge \sum_k r_k L_k(h_\alpha)
        = \mathrm{JSD}_r(D) + I_H(r) + \big[\mathrm{KL}(D_r\|h_\alpha) - I_H(r)\big]

    with the interference I_H(r) = KL(D_r‖h_r) of T9 (0 for the full class,
    T10) and a misweighting term ≥ 0 (α ≠ r). Hence
    ``margin_lower`` = Σ r_k L_k(h_α) − C_Λ⁺ − ε̄ ≤ margin + ``certified_gap`` and
    margin ≤ ``margin_upper`` = W(h_α) − C_Λ⁻ (C_Λ⁻ ≤ C_Λ ≤ C_Λ⁺ the certified bounds).

    Parameters
    ----------
    params : dict
        ``K`` (domains), ``n`` (the number of points of X), ``separation`` (domain diversity s ≥ 0),
        ``noise`` (expert noise ε ∈ [0, 1]), ``monolithic`` (the class H: full,
        product, markov:r; sequence classes use X = V^T, so n must be a power of
        ``V``), ``weights`` (α: uniform or proportional to the domain sizes),
        ``imbalance`` (largest over smallest domain size), ``mixtures`` (Λ, as
        ``modgate solve --mixtures``).
    seed : int
        Draws the domains and the expert noise (the same draws at every grid point).

    Returns
    -------
    dict
        The outputs of the study (floats, in nats).

    Raises
    ------
    ValueError
        If a parameter is invalid (the study's ``check`` names it).

    Examples
    --------
    >>> params = {**get_study("modular-vs-monolithic").defaults, "n": 8}
    >>> out = modular_vs_monolithic(params, seed=0)
    >>> out["margin_lower"] <= out["margin"] <= out["margin_upper"]
    True
    >>> out["interference"]  # the full class has none (T10)
    0.0
    """
    inst = _instance(params, seed)
    D, P, Lam = inst.D, inst.P, inst.mixtures
    robust = robust_gate(D, P, mixtures=Lam)
    robust_wc = _worst(Lam, losses(robust.model, D))
    uniform_wc = _worst(Lam, losses(P.mean(axis=0), D))
    eps = np.array([kl(D[k], P[k]) for k in range(D.shape[0])])
    eps_bar = _worst(Lam, eps)
    side = _domain_side(
        D.tobytes(), D.shape, params["mixtures"], inst.family, inst.shape, inst.alpha.tobytes()
    )
    return {
        "robust_worst_case": robust_wc,
        "robust_lower": robust.lower,
        "certified_gap": robust.upper - robust.lower,
        "aggregate_worst_case": side.aggregate_wc,
        "uniform_worst_case": uniform_wc,
        "jsd": jsd(robust.lam, D),
        "capacity": side.capacity,
        "expert_error": eps_bar,
        "interference": side.interference,
        "misweighting": side.at_r - side.jsd_r - side.interference,
        "margin": side.aggregate_wc - robust_wc,
        "margin_lower": side.at_r - side.capacity_upper - eps_bar,
        "margin_upper": side.aggregate_wc - side.capacity_lower,
        "uniform_margin": uniform_wc - robust_wc,
    }


@dataclass(frozen=True)
class _DomainSide:
    """What :func:`modular_vs_monolithic` computes from the domains alone (not the experts)."""

    capacity: float
    capacity_lower: float
    capacity_upper: float
    aggregate_wc: float
    at_r: float
    jsd_r: float
    interference: float


@functools.lru_cache(maxsize=1024)
def _domain_side(D_bytes, D_shape, mixtures, family, shape, alpha_bytes) -> _DomainSide:
    """The capacity C_Λ (the robust gate of perfect experts P = D, T6/T7) and the
    aggregate h_α's terms, for the domains D given by their bytes.

    They do not depend on the expert noise, so a grid over the noise reuses
    them: the arguments are exactly the inputs of the computation (hashable),
    and the solvers are deterministic, so a cached result is the one a new
    computation would give.
    """
    D = np.frombuffer(D_bytes).reshape(D_shape)
    alpha = np.frombuffer(alpha_bytes)
    Lam = from_spec(mixtures, D_shape[0])
    perfect = robust_gate(D, D, mixtures=Lam)
    L_agg = losses(aggregate(D, alpha, family, shape), D)
    r = perfect.lam
    return _DomainSide(
        capacity=perfect.value,
        capacity_lower=perfect.lower,
        capacity_upper=perfect.upper,
        aggregate_wc=_worst(Lam, L_agg),
        at_r=float(r @ L_agg),
        jsd_r=jsd(r, D),
        interference=interference(D, r, family, shape),
    )


register_study(
    Study(
        name="modular-vs-monolithic",
        summary="T6–T10: worst-case KL of the robust gate vs aggregate retraining in a class H "
        "(margin = aggregate − robust), with the JSD, the interference and theory bounds",
        defaults=dict(_INSTANCE_DEFAULTS),
        outputs=(
            "robust_worst_case",
            "robust_lower",
            "certified_gap",
            "aggregate_worst_case",
            "uniform_worst_case",
            "jsd",
            "capacity",
            "expert_error",
            "interference",
            "misweighting",
            "margin",
            "margin_lower",
            "margin_upper",
            "uniform_margin",
        ),
        compute=modular_vs_monolithic,
        check=_check_instance,
        headline=("margin", "jsd", "expert_error"),
    )
)


# ----------------------------------------------------------------------------- heuristics

_COMPARATORS = ("uniform", "proportional", "group_dro", "regmix", "merged")


def robust_vs_heuristics(params: dict, seed: int) -> dict:
    r"""Worst-case margins of the data-mixing comparators over the robust gate (T10).

    The instance is that of :func:`modular_vs_monolithic`. Each comparator of
    :mod:`sims.monolithic` returns one model h of the class H, scored by its
    worst case W(h) over Λ; ``<name>_margin`` = W(h) − W(q*) and
    ``<name>_in_envelope`` = 1 when h lies in the experts' envelope M. Compared:
    ``uniform`` and ``proportional`` retraining weights, ``group_dro`` (minimax
    weights, solved exactly), ``regmix`` (regression on sampled mixtures),
    ``merged`` (geometric average of the experts), and ``experts_uniform`` (the
    mixture (1/K)Σ p_k, always in M). T10: every h ∈ M has W(h) ≥ V*, so
    ``t10_slack`` = min over the models in M of W(h) − ``robust_lower`` ≥ 0.

    Parameters
    ----------
    params : dict
        The keys of :func:`modular_vs_monolithic`.
    seed : int
        Draws the instance (and RegMix's mixtures).

    Returns
    -------
    dict
        ``robust_worst_case``, ``certified_gap``, ``<name>_margin`` and
        ``<name>_in_envelope`` for every comparator, ``experts_uniform_margin``
        and ``t10_slack`` (floats, in nats).

    Examples
    --------
    >>> params = {**get_study("robust-vs-heuristics").defaults, "n": 8}
    >>> out = robust_vs_heuristics(params, seed=0)
    >>> bool(out["t10_slack"] >= 0)  # T10
    True
    """
    from sims.monolithic import (
        group_dro,
        merge_experts,
        proportional_mixing,
        regmix,
        uniform_mixing,
    )

    inst = _instance(params, seed)
    D, P, Lam = inst.D, inst.P, inst.mixtures
    common = {"family": inst.family, "shape": inst.shape, "mixtures": Lam}
    robust = robust_gate(D, P, mixtures=Lam)
    robust_wc = _worst(Lam, losses(robust.model, D))
    results = [
        uniform_mixing(D, P, **common),
        proportional_mixing(D, P, inst.sizes, **common),
        group_dro(D, P, objective="divergence", **common),
        regmix(D, P, seed=[seed, 2], **common),
        merge_experts(D, P, **common),
    ]
    out: dict[str, float] = {
        "robust_worst_case": robust_wc,
        "certified_gap": robust.upper - robust.lower,
    }
    inside = [_worst(Lam, losses(P.mean(axis=0), D))]
    for name, res in zip(_COMPARATORS, results, strict=True):
        out[f"{name}_margin"] = res.worst_case - robust_wc
        out[f"{name}_in_envelope"] = float(res.in_envelope)
        if res.in_envelope:
            inside.append(res.worst_case)
    out["experts_uniform_margin"] = inside[0] - robust_wc
    out["t10_slack"] = min(inside) - robust.lower
    return out


register_study(
    Study(
        name="robust-vs-heuristics",
        summary="T10: worst-case margins over the robust gate of uniform, size-proportional, "
        "group-DRO, RegMix and merged models, and T10's slack (≥ 0) on the models in M",
        defaults=dict(_INSTANCE_DEFAULTS),
        outputs=(
            "robust_worst_case",
            "certified_gap",
            *(f"{c}_margin" for c in _COMPARATORS),
            *(f"{c}_in_envelope" for c in _COMPARATORS),
            "experts_uniform_margin",
            "t10_slack",
        ),
        compute=robust_vs_heuristics,
        check=_check_instance,
        headline=tuple(f"{c}_margin" for c in _COMPARATORS),
    )
)


# ----------------------------------------------------------------------------- generalization


def _check_generalization(p: dict) -> None:
    K = check_int(p["K"], "K", minimum=2)
    check_int(p["n"], "n", minimum=2)
    m = check_int(p["m"], "m")
    if m < K:
        raise ValueError(f"m: the total sample size must be ≥ K = {K}, got {m}")
    check_positive(p["separation"], "separation", allow_zero=True)
    check_int(p["expert_samples"], "expert_samples")
    check_int(p["draws"], "draws")
    delta = check_positive(p["delta"], "delta")
    if delta >= 1:
        raise ValueError(f"delta: expected a confidence level in (0, 1), got {delta}")
    check_positive(p["radius"], "radius")


def generalization(params: dict, seed: int) -> dict:
    r"""Generalization gaps of a learned gate and of a tabular model against T11's bound.

    The bound reads 2 R_m + M √(s(λ‖m̄) log(1/δ) / (2m)), with R_m the
    Rademacher complexity of the class, M the range of the loss −log p_g,
    s(λ‖m̄) = Σ_k λ_k²/m̄_k the skewness of the sampling proportions m̄ and δ the
    failure probability (see the theory page §4.6 of the documentation).

    Domains ``dirichlet_domains(K, n, separation)``, experts
    ``tabular_experts(D, expert_samples)`` (full support), λ uniform, m total
    samples split evenly; :func:`sims.generalization.generalization_gaps` over
    ``draws`` sample draws. For the softmax-linear gate class 𝒢_B (B = ``radius``)
    and the tabular class: the mean gap of the trained model (``*_gap``), the
    mean and largest uniform gap :math:`\sup(L - \hat L)` over the class
    (``*_sup``, ``*_sup_max``; estimated for the gate, exact for the table),
    the bound

    .. math:: 2R_m + M\sqrt{s(\lambda\|\bar m)\log(1/\delta)/(2m)}

    (``*_bound``) and the fraction of draws above it (``*_violation``; T11: ≤ δ
    in expectation). ``gate_slack`` = bound − largest uniform gap.

    Parameters
    ----------
    params : dict
        ``K``, ``n``, ``m``, ``separation``, ``expert_samples``, ``draws``,
        ``delta``, ``radius``.
    seed : int
        Draws the domains, the experts and the samples.

    Returns
    -------
    dict
        The gaps, bounds, violation rates and the skewness (floats).

    Examples
    --------
    >>> params = {**get_study("generalization").defaults, "n": 10, "m": 60, "draws": 5}
    >>> out = generalization(params, seed=0)
    >>> sorted(out)[:4]
    ['gate_bound', 'gate_gap', 'gate_slack', 'gate_sup']
    """
    from sims.generalization import generalization_gaps

    K = params["K"]
    D = dirichlet_domains(K, params["n"], params["separation"], seed=[seed, 0])
    P = tabular_experts(D, params["expert_samples"], seed=[seed, 1])
    g = generalization_gaps(
        D,
        P,
        np.full(K, 1.0 / K),
        [params["m"]],
        draws=params["draws"],
        delta=params["delta"],
        radius=params["radius"],
        seed=[seed, 2],
    )
    return {
        "gate_gap": float(g.gate_gap[0].mean()),
        "gate_sup": float(g.gate_sup[0].mean()),
        "gate_sup_max": float(g.gate_sup[0].max()),
        "gate_bound": float(g.gate_bound[0]),
        "gate_violation": float(g.gate_violation[0]),
        "gate_slack": float(g.gate_bound[0] - g.gate_sup[0].max()),
        "tab_gap": float(g.tab_gap[0].mean()),
        "tab_sup": float(g.tab_sup[0].mean()),
        "tab_bound": float(g.tab_bound[0]),
        "tab_violation": float(g.tab_violation[0]),
        "skewness": float(g.skewness[0]),
    }


register_study(
    Study(
        name="generalization",
        summary="T11: generalization gaps of the learned gate and of a tabular model against "
        "the bound, and the violation rates, over m, K and n",
        defaults={
            "K": 3,
            "n": 50,
            "m": 300,
            "separation": 1.0,
            "expert_samples": 2000,
            "draws": 50,
            "delta": 0.05,
            "radius": 10.0,
        },
        outputs=(
            "gate_gap",
            "gate_sup",
            "gate_sup_max",
            "gate_bound",
            "gate_violation",
            "gate_slack",
            "tab_gap",
            "tab_sup",
            "tab_bound",
            "tab_violation",
            "skewness",
        ),
        compute=generalization,
        check=_check_generalization,
        headline=("gate_sup", "gate_bound", "tab_sup", "tab_bound"),
    )
)
