"""``modgate sweep --scheduler``: a real ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1.

The cluster is started with subprocess, as a user would from a shell; the
workers run in this environment with this checkout on PYTHONPATH. The sweep
client is also a separate process, so that it can be killed mid-sweep.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from dask.distributed import Client

from sims import sweep as sw
from tests.test_sweep import TOY, expected_toy, stored_rows

ROOT = Path(__file__).resolve().parents[1]
DASK = str(Path(sys.executable).with_name("dask"))


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _start(args: list[str], log: Path) -> subprocess.Popen:
    fh = open(log, "w")  # noqa: SIM115 (closed with the process, in _stop)
    return subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, env=_env(), cwd=ROOT)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout:
        proc.stdout.close()


def _worker(scheduler_file: Path, log: Path) -> subprocess.Popen:
    args = [DASK, "worker", "--scheduler-file", str(scheduler_file), "--nthreads", "1"]
    return _start([*args, "--no-nanny", "--no-dashboard"], log)


def _wait_for_workers(address: str, count: int) -> None:
    with Client(address, timeout=60) as c:
        c.wait_for_workers(count, timeout=120)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two worker processes; yields (address, scheduler file, log folder)."""
    logs = tmp_path_factory.mktemp("dask")
    sched_file = logs / "scheduler.json"
    args = [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
    procs = [_start([*args, "--scheduler-file", str(sched_file)], logs / "scheduler.log")]
    try:
        deadline = time.time() + 60
        while not sched_file.exists() and time.time() < deadline:
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        procs += [_worker(sched_file, logs / f"worker{i}.log") for i in range(2)]
        _wait_for_workers(address, 2)
        yield address, sched_file, logs
    finally:
        for p in reversed(procs):
            _stop(p)


def _sweep_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "paper_repro", "sweep", *args],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=ROOT,
        timeout=600,
    )


def test_cli_sweep_through_a_running_scheduler_and_an_idempotent_rerun(cluster, tmp_path):
    address = cluster[0]
    args = [
        "modular-vs-monolithic",
        "--out",
        str(tmp_path),
        "--set",
        "separation=0,1,2",
        "--set",
        "noise=0,0.5",
        "--seeds",
        "3",
        "--scheduler",
        address,
    ]
    first = _sweep_cli(*args)
    assert first.returncode == 0, first.stderr
    assert f"running on the cluster at {address} (2 workers)" in first.stdout
    assert "18 rows requested (6 grid points × 3 seeds); 0 already stored" in first.stdout
    assert "computed 18 rows" in first.stdout
    rows = stored_rows(tmp_path, "modular-vs-monolithic")
    assert len(rows) == 18
    assert {(r["separation"], r["noise"], r["seed"]) for r in rows} == {
        (s, e, i) for s in (0.0, 1.0, 2.0) for e in (0.0, 0.5) for i in range(3)
    }
    again = _sweep_cli(*args)
    assert again.returncode == 0, again.stderr
    assert "18 already stored" in again.stdout and "computed 0 rows" in again.stdout
    assert "running on" not in again.stdout  # nothing to compute: no connection at all


_CLIENT = textwrap.dedent(
    """
    import sys
    import tests.test_sweep  # registers the toy study
    from paper_repro.distributed import sweep
    sweep("toy-sweep", sys.argv[1], {"a": list(range(10)), "delay": [0.1]}, seeds=4,
          scheduler=sys.argv[2])
    """
)


def test_a_client_killed_mid_sweep_is_resumed_by_a_rerun(cluster, tmp_path):
    address = cluster[0]
    client = subprocess.Popen(
        [sys.executable, "-c", _CLIENT, str(tmp_path), address], env=_env(), cwd=ROOT
    )
    parts = tmp_path / "toy-sweep.parquet"
    deadline = time.time() + 120
    while len(list(parts.glob("part-*.parquet"))) < 3 and time.time() < deadline:
        time.sleep(0.02)
    client.send_signal(signal.SIGKILL)
    client.wait()
    time.sleep(1.0)  # tasks already running on the workers finish and store their rows
    plan = sw.plan_sweep(TOY, tmp_path, {"a": list(range(10)), "delay": [0.1]}, seeds=4)
    assert 0 < plan.stored < 40
    with Client(address, timeout=60) as c:
        res = sw.run_sweep(plan, c)
    assert res.computed == len(plan.missing) == 40 - plan.stored
    table = res.table.to_pylist()
    assert sorted((r["a"], r["seed"]) for r in table) == [
        (a, s) for a in range(10) for s in range(4)
    ]
    for r in table:
        assert (r["y"], r["z"]) == expected_toy(r)


@pytest.mark.slow
def test_a_worker_killed_mid_sweep_on_a_running_cluster(cluster, tmp_path):
    address, sched_file, logs = cluster
    extra = _worker(sched_file, logs / "worker-extra.log")
    try:
        _wait_for_workers(address, 3)
        with Client(address, timeout=60) as c:
            plan = sw.plan_sweep(TOY, tmp_path, {"a": list(range(20)), "delay": [0.05]}, seeds=5)
            parts = sw.Store(tmp_path, TOY).path

            def kill_later():
                while len(list(parts.glob("part-*.parquet"))) < 3:
                    time.sleep(0.02)
                extra.send_signal(signal.SIGKILL)

            killer = threading.Thread(target=kill_later, daemon=True)
            killer.start()
            res = sw.run_sweep(plan, c, chunk_rows=2)
            killer.join(timeout=60)
        assert extra.poll() is not None
        assert (res.computed, res.failed) == (100, 0)
        rows = stored_rows(tmp_path)
        assert sorted((r["a"], r["seed"]) for r in rows) == [
            (a, s) for a in range(20) for s in range(5)
        ]
    finally:
        _stop(extra)
