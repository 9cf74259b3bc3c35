"""Sweeps and verify on a Dask LocalCluster (worker processes): rows, reruns, a killed worker.

One cluster of two worker processes serves the whole module; the workers import
the toy study of ``tests.test_sweep`` (and the flaky check below) by name.
"""

import os
import signal
import threading
import time

import pytest

from paper_repro import checks
from paper_repro.distributed import _chunk_seeds, connect, run_checks_distributed
from sims import sweep as sw
from tests.test_sweep import TOY, expected_toy, stored_rows


@pytest.fixture(scope="module")
def client():
    with connect(workers=2) as c:
        yield c


def _compiled_kernels() -> int:
    from theory import _kernels

    return len(_kernels._rows_range.signatures)


def test_workers_have_their_kernels_compiled_before_the_first_task(client):
    assert all(n > 0 for n in client.run(_compiled_kernels).values())


def test_local_cluster_rows_are_those_computed_in_process(client, tmp_path):
    study = sw.get_study("modular-vs-monolithic")
    settings = {"separation": [0.0, 1.5, 3.0], "monolithic": ["full", "product"]}
    plan = sw.plan_sweep(study, tmp_path, settings, seeds=3)
    res = sw.run_sweep(plan, client)
    assert (res.computed, res.failed, res.table.num_rows) == (18, 0, 18)
    on_cluster = res.table.to_pylist()
    here = sw.compute_rows(study, [{k: r[k] for k in (*study.keys, "seed")} for r in on_cluster])
    assert on_cluster == here  # same numbers, bit for bit, in the worker processes
    assert {(r["separation"], r["monolithic"], r["seed"]) for r in on_cluster} == {
        (s, m, i) for s in (0.0, 1.5, 3.0) for m in ("full", "product") for i in range(3)
    }
    again = sw.run_sweep(sw.plan_sweep(study, tmp_path, settings, seeds=3), client)
    assert again.computed == 0 and again.table.equals(res.table)


def test_a_worker_killed_mid_sweep_leaves_every_row_exactly_once(client, tmp_path):
    settings = {"a": list(range(12)), "delay": [0.05]}
    plan = sw.plan_sweep(TOY, tmp_path, settings, seeds=4)
    pids = client.run(os.getpid)
    victim = next(iter(pids.values()))
    parts = sw.Store(tmp_path, TOY).path
    killed = threading.Event()

    def kill_when_started():
        deadline = time.time() + 120
        while time.time() < deadline and len(list(parts.glob("part-*.parquet"))) < 2:
            time.sleep(0.02)
        os.kill(victim, signal.SIGKILL)
        killed.set()

    killer = threading.Thread(target=kill_when_started, daemon=True)
    killer.start()
    res = sw.run_sweep(plan, client, chunk_rows=2)
    killer.join()
    assert killed.is_set()
    assert victim not in client.run(os.getpid).values()  # the nanny started a fresh process
    assert (res.computed, res.failed) == (48, 0)
    rows = stored_rows(tmp_path)
    assert sorted((r["a"], r["seed"]) for r in rows) == [
        (a, s) for a in range(12) for s in range(4)
    ]
    for r in rows:
        assert (r["y"], r["z"]) == expected_toy(r)


# ----------------------------------------------------------------------------- verify


def test_verify_in_one_chunk_is_the_serial_run(client):
    # X1 measures a count: every field, the measure included, must survive the cluster
    spread = run_checks_distributed(seed=3, trials=3, only=["T1", "T8", "X1"], client=client)
    serial = list(checks.run_checks(seed=3, trials=3, only=["T1", "T8", "X1"]))
    assert {r.measure for r in serial} >= {"error", "count"}
    assert spread == serial


def test_verify_sums_the_trials_of_its_chunks_and_keeps_the_worst_error(client):
    spread = run_checks_distributed(seed=5, trials=5, only=["T1"], client=client, chunk_trials=2)
    seeds = _chunk_seeds(5, 3)
    assert len(set(seeds)) == 3 and seeds[0] == 5
    chunks = [
        list(checks.run_checks(seed=s, trials=t, only=["T1"]))
        for s, t in zip(seeds, (2, 2, 1), strict=True)
    ]
    assert [r.id for r in spread] == [r.id for r in chunks[0]]
    for i, row in enumerate(spread):
        parts = [c[i] for c in chunks]
        assert row.trials == sum(p.trials for p in parts)
        assert row.worst_error == max(p.worst_error for p in parts)
        assert row.passed


def _register_flaky() -> None:
    """A row that fails on odd trial counts only: chunks of 2 pass, a chunk of 1 fails."""
    if "Z9" in checks._REGISTRY:
        return

    @checks.check(
        "Z9",
        "a check that fails on an odd number of trials",
        0.5,
        method="the parity of the number of trials it is given",
        instances="none",
    )
    def flaky(rng, trials):
        return checks.Outcome(trials, float(trials % 2))


@pytest.fixture
def flaky(client):
    _register_flaky()
    yield
    checks._REGISTRY.pop("Z9", None)


def test_verify_fails_a_row_when_one_chunk_fails(client, flaky):
    client.run(_register_flaky)
    (row,) = run_checks_distributed(seed=0, trials=5, only=["Z9"], client=client, chunk_trials=2)
    assert (row.id, row.trials, row.worst_error, row.passed) == ("Z9", 5, 1.0, False)
    assert row.statement.endswith(f"[fails with --seed {_chunk_seeds(0, 3)[2]} --trials 1]")
    (row,) = run_checks_distributed(seed=0, trials=4, only=["Z9"], client=client, chunk_trials=2)
    assert (row.trials, row.worst_error, row.passed) == (4, 0.0, True)


def test_verify_reports_a_chunk_that_cannot_run_as_a_failed_row(client, flaky):
    # Z9 is registered in this process only, so every worker rejects it.
    client.run(lambda: checks._REGISTRY.pop("Z9", None))
    rows = run_checks_distributed(seed=0, trials=2, only=["Z9", "C1"], client=client)
    assert [(r.id, r.passed) for r in rows] == [("C1", True), ("Z9", False)]
    assert "not run on the cluster" in rows[1].statement and "Z9" in rows[1].statement
