"""The runner under faults: kills, concurrent runs, unwritable folders, corrupt caches, umasks.

Every test uses the tiny toy experiments of ``tests/test_reproduce.py``; the
tests that kill a run or start two at once drive a standalone runner script in
subprocesses.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
from filelock import FileLock

import paper_repro.reproduce as rp
from paper_repro import plotting
from tests.test_reproduce import BROKEN, CALLS, no_temp_files, toy_set

# Three toy experiments run by a separate process. TOY_HANG_OUTPUT=<ID> blocks while
# that experiment's figure is half written (its temporary file exists);
# TOY_GATE=<file> makes E91's computation wait until the file exists. Every
# computation and output is logged as "<pid> run|output <ID>".
_RUNNER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    import numpy as np
    import paper_repro.reproduce as rp
    from paper_repro import plotting
    from paper_repro.experiments import Experiment

    out, log = Path(sys.argv[1]), Path(sys.argv[2])
    hang_output, gate = os.environ.get("TOY_HANG_OUTPUT"), os.environ.get("TOY_GATE")
    rp._LIBRARY_PACKAGES = ()

    def note(what):
        with open(log, "a") as fh:
            fh.write(f"{os.getpid()} {what}\\n")

    def experiment(eid):
        def run(params, show_progress=False):
            note(f"run {eid}")
            while gate and eid == "E91" and not Path(gate).exists():
                time.sleep(0.02)
            return {"x": np.arange(params["n"], dtype=float)}

        def plot(data, out_dir):
            path = Path(out_dir) / f"{eid}_toy.png"
            if eid == hang_output:
                with plotting.atomic_path(path) as tmp:
                    tmp.write_bytes(b"half a figure")
                    note(f"output {eid}")
                    time.sleep(600)
            fig, axes = plotting.figure()
            axes[0, 0].plot(data["x"], data["x"])
            return plotting.save(fig, path)

        return Experiment(
            id=eid, stem="toy", name=eid, claim="toy", params=lambda mode: {"n": 4},
            run=run, plot=plot, table=lambda d: [{"x": float(v)} for v in d["x"]],
            check=lambda d: (True, "ok"), setup=lambda p: "toy",
        )

    sys.exit(rp.reproduce(out=out, experiments=[experiment(e) for e in ("E91", "E92", "E93")]))
    """
)

_IDS = ("E91", "E92", "E93")


@pytest.fixture
def toys(monkeypatch):
    yield from toy_set(monkeypatch)


@pytest.fixture
def runner(tmp_path):
    script = tmp_path / "runner.py"
    script.write_text(_RUNNER)
    return script


def _start(script: Path, out: Path, log: Path, name: str, **env) -> subprocess.Popen:
    folder = log.parent
    return subprocess.Popen(
        [sys.executable, str(script), str(out), str(log)],
        stdout=open(folder / f"{name}.out", "w"),  # noqa: SIM115  (closed with the process)
        stderr=open(folder / f"{name}.err", "w"),  # noqa: SIM115
        env=os.environ | env,
    )


def _log(log: Path) -> list[tuple[int, str, str]]:
    lines = log.read_text().split("\n") if log.exists() else []
    return [(int(p), what, eid) for p, what, eid in (line.split() for line in lines if line)]


def _wait_for(condition, proc: subprocess.Popen, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"the runner exited before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


# ----------------------------------------------------------------------------- kill


def test_a_run_killed_while_writing_outputs_leaves_nothing_half_written_after_a_rerun(
    tmp_path, runner
):
    out, log = tmp_path / "out", tmp_path / "calls.log"
    first = _start(runner, out, log, "first", TOY_HANG_OUTPUT="E92")
    try:
        _wait_for(lambda: "output" in {w for _, w, _ in _log(log)}, first, "the output phase")
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    assert first.returncode == -signal.SIGKILL
    left = [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    assert len(left) == 1 and left[0].startswith(".E92_toy.png."), left
    assert not (out / "REPORT.md").exists()

    second = subprocess.run(
        [sys.executable, str(runner), str(out), str(log)], capture_output=True, text=True
    )
    assert second.returncode == 0, second.stderr
    assert f"removed {out / left[0]}" in second.stderr
    assert no_temp_files(out)
    # Every computation finished before the kill: the rerun only writes.
    assert [eid for pid, what, eid in _log(log) if what == "run" and pid != first.pid] == []
    assert "from the cache: E91, E92, E93" in second.stdout
    for eid in _IDS:
        assert mpimg.imread(out / f"{eid}_toy.png").ndim == 3
        assert (out / f"{eid}_toy.csv").read_text().splitlines()[0] == "x"
        assert (out / f"{eid}_toy.json").stat().st_size > 0
    assert "3 of 3 claims pass" in (out / "REPORT.md").read_text()


def test_a_stale_cache_temporary_is_removed_unless_its_entry_is_being_written(tmp_path):
    cache = tmp_path / rp.CACHE_DIR
    cache.mkdir()
    stale = cache / ".E91-0123.pkl.abcd1234.tmp"
    busy = cache / ".E92-4567.pkl.efgh5678.tmp"
    mine = cache / "notes.tmp"  # not written by the runner: never touched
    for path in (stale, busy, mine):
        path.write_bytes(b"partial")
    with FileLock(cache / "E92-4567.pkl.lock"):
        removed = rp._remove_temporaries(tmp_path)
    assert removed == [stale]
    assert not stale.exists() and busy.exists() and mine.exists()


# ----------------------------------------------------------------------------- concurrency


def test_a_second_concurrent_run_waits_and_reuses_the_first_runs_cache(tmp_path, runner):
    out, log, gate = tmp_path / "out", tmp_path / "calls.log", tmp_path / "gate"
    first = _start(runner, out, log, "first", TOY_GATE=str(gate))
    second = None
    try:
        _wait_for(lambda: ("run", "E91") in {(w, e) for _, w, e in _log(log)}, first, "E91")
        second = _start(runner, out, log, "second")
        err = tmp_path / "second.err"
        _wait_for(lambda: "E91: waiting for another run" in err.read_text(), second, "the wait")
        gate.touch()
        assert first.wait(timeout=120) == 0, (tmp_path / "first.err").read_text()
        assert second.wait(timeout=120) == 0, err.read_text()
    finally:
        gate.touch()
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
    runs = [(pid, eid) for pid, what, eid in _log(log) if what == "run"]
    assert sorted(eid for _, eid in runs) == list(_IDS), runs  # each computed exactly once
    assert (second.pid, "E91") not in runs
    cached_line = next(
        line
        for line in (tmp_path / "second.out").read_text().splitlines()
        if line.startswith("from the cache:")
    )
    reused = cached_line.removeprefix("from the cache:").split("(")[0].replace(",", " ").split()
    assert "E91" in reused
    assert sorted(reused) == sorted(eid for pid, eid in runs if pid == first.pid)
    assert "3 of 3 claims pass" in (out / "REPORT.md").read_text()
    assert no_temp_files(out)


# ----------------------------------------------------------------------------- unwritable


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("below_a_file", "cannot create the folder"),
        ("a_file", "is a file, not a folder"),
        ("proc", "cannot create the folder"),
    ],
)
def test_an_unwritable_output_folder_is_rejected_before_anything_is_computed(
    tmp_path, toys, where, message
):
    (tmp_path / "plain").write_text("a file the user had\n")
    out = {
        "below_a_file": tmp_path / "plain" / "figures",
        "a_file": tmp_path / "plain",
        "proc": Path("/proc/modgate-test-output"),
    }[where]
    with pytest.raises(ValueError, match=f"out: .*{message}"):
        rp.reproduce(out=out, experiments=toys)
    assert CALLS == []
    assert (tmp_path / "plain").read_text() == "a file the user had\n"


def test_the_writability_probe_failing_stops_the_run_before_anything_is_computed(
    tmp_path, toys, monkeypatch
):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(plotting.tempfile, "mkstemp", refuse)
    with pytest.raises(ValueError, match="out: cannot write in the folder .*Permission denied"):
        rp.reproduce(out=tmp_path, experiments=toys)
    assert CALLS == []
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- cache


def _entry(out: Path, eid: str) -> Path:
    (path,) = (out / rp.CACHE_DIR).glob(f"{eid}-*.pkl")
    return path


def _flip(path: Path, offset: int) -> None:
    blob = bytearray(path.read_bytes())
    blob[offset] ^= 0x01
    path.write_bytes(bytes(blob))


@pytest.mark.parametrize("where", ["array data", "pickle opcodes", "checksum", "header"])
def test_a_corrupt_cache_entry_is_named_discarded_and_recomputed(tmp_path, toys, capsys, where):
    assert rp.reproduce(out=tmp_path, experiments=toys) == 0
    entry = _entry(tmp_path, "E92")
    blob = entry.read_bytes()
    # A flipped bit in an array's data still unpickles, silently, to other numbers:
    # only the checksum can tell.
    data = blob.index(np.arange(5, dtype=float).tobytes()) + 9
    offsets = {
        "array data": data,
        "pickle opcodes": len(blob) - 2,
        "checksum": len(rp._CACHE_HEADER) + 5,
        "header": 2,
    }
    _flip(entry, offsets[where])
    capsys.readouterr()
    CALLS.clear()
    assert rp.reproduce(out=tmp_path, experiments=toys) == 0
    err = capsys.readouterr().err
    assert f"warning: discarded the cache entry {entry}" in err and "recomputing E92" in err
    assert CALLS == ["E92"]
    CALLS.clear()
    assert rp.reproduce(out=tmp_path, experiments=toys) == 0
    assert CALLS == []
    assert "warning" not in capsys.readouterr().err


def _rewrite(entry: Path, payload: bytes, *, header: bool) -> None:
    digest = hashlib.sha256(payload).hexdigest().encode()
    entry.write_bytes(rp._CACHE_HEADER + digest + b"\n" + payload if header else payload)


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("bare pickle", "not a cache entry of this version"),
        ("intact bytes that do not unpickle", "cannot be unpickled"),
    ],
)
def test_an_incompatible_cache_entry_is_named_discarded_and_recomputed(
    tmp_path, toys, capsys, kind, reason
):
    assert rp.reproduce(out=tmp_path, experiments=toys) == 0
    entry = _entry(tmp_path, "E93")
    if kind == "bare pickle":  # the format of older versions, which did not check anything
        _rewrite(entry, pickle.dumps({"x": 1}), header=False)
    else:
        _rewrite(entry, b"\x80\x05not a pickle", header=True)
    capsys.readouterr()
    CALLS.clear()
    assert rp.reproduce(out=tmp_path, experiments=toys) == 0
    err = capsys.readouterr().err
    assert str(entry) in err and reason in err
    assert CALLS == ["E93"]


# ----------------------------------------------------------------------------- report


def _section(report: str, eid: str) -> str:
    start = report.index(f"\n## {eid}\n")
    end = report.find("\n## ", start + 1)
    return report[start : end if end >= 0 else len(report)]


def _row(report: str, eid: str) -> str:
    return next(line for line in report.splitlines() if line.startswith(f"| [{eid}]"))


def test_a_partial_run_updates_its_sections_and_keeps_the_others(tmp_path, toys):
    BROKEN.add("E93")
    assert rp.reproduce(out=tmp_path, experiments=toys) == 1
    before = (tmp_path / "REPORT.md").read_text()
    BROKEN.clear()
    CALLS.clear()
    assert rp.reproduce(out=tmp_path, experiments=toys, only=["E91"], force=True) == 0
    assert CALLS == ["E91"]
    after = (tmp_path / "REPORT.md").read_text()
    for eid in _IDS:
        assert f"\n## {eid}\n" in after
    # The kept sections are the earlier run's, word for word but for where they come from.
    for eid in ("E92", "E93"):
        body, result = _section(after, eid).rsplit("\n**Result", 1)
        assert body == _section(before, eid).rsplit("\n**Result", 1)[0]
        assert "kept from the run finished" in result
    assert "E93 interrupted midway" in _section(after, "E93")
    assert _row(after, "E91").endswith("| PASS | computed |")
    assert _row(after, "E92").endswith("| PASS | earlier run |")
    assert _row(after, "E93").endswith("| **FAIL** | earlier run |")
    assert "**2 of 3 claims pass.**" in after
    assert "Last run: computed: E91; kept from earlier runs: E92, E93" in after


def test_a_report_without_records_keeps_its_sections(tmp_path, toys):
    BROKEN.add("E93")
    assert rp.reproduce(out=tmp_path, experiments=toys) == 1
    before = (tmp_path / "REPORT.md").read_text()
    for record in (tmp_path / rp.RECORDS_DIR).iterdir():
        record.unlink()
    BROKEN.clear()
    assert rp.reproduce(out=tmp_path, experiments=toys, only=["E91"]) == 0
    after = (tmp_path / "REPORT.md").read_text()
    for eid in ("E92", "E93"):
        assert (
            _section(after, eid).rsplit("\n**Result", 1)[0]
            == (_section(before, eid).rsplit("\n**Result", 1)[0])
        )
    assert "E93 interrupted midway" in _section(after, "E93")
    assert _row(after, "E93").endswith("| **FAIL** | earlier run |")


def test_the_committed_report_is_read_back_section_by_section(tmp_path, toys):
    committed = Path(__file__).resolve().parents[1] / "figures" / "REPORT.md"
    (tmp_path / "REPORT.md").write_text(committed.read_text())
    assert rp.reproduce(out=tmp_path, experiments=toys, only=["E91"]) == 0
    before, after = committed.read_text(), (tmp_path / "REPORT.md").read_text()
    for eid in (f"E{i}" for i in range(1, 11)):
        old, new = _section(before, eid), _section(after, eid)
        for line in old.splitlines():
            if line.startswith(("### ", "**Claim.**", "**Setup.**", "**Measured.**", "![")):
                assert line in new, (eid, line)


def test_the_report_lists_experiments_never_run_into_the_folder(tmp_path, toys):
    assert rp.reproduce(out=tmp_path, experiments=toys, only=["E92"]) == 0
    report = (tmp_path / "REPORT.md").read_text()
    assert "**1 of 3 claims pass (2 not run in this folder yet).**" in report
    assert "| E91 | — | not run in this folder yet | — | — |" in report
    assert "\n## E91\n" not in report and "\n## E92\n" in report


# ----------------------------------------------------------------------------- modes


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_output_files_get_the_mode_of_the_umask(tmp_path, toys, umask, mode):
    previous = os.umask(umask)
    try:
        assert rp.reproduce(out=tmp_path / "out", experiments=toys) == 0
        with plotting.atomic_path(tmp_path / "single.txt") as tmp:
            tmp.write_text("x")
    finally:
        os.umask(previous)
    files = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    written = [p for p in files if not p.name.endswith(".lock")]
    assert {p.suffix for p in written} >= {".png", ".csv", ".json", ".md", ".pkl"}
    assert {
        p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in [*files, tmp_path / "single.txt"]
    } == {p.name: oct(mode) for p in [*files, tmp_path / "single.txt"]}
