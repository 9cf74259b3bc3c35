"""B6: the whole full-size reproduction, ``reproduce --full --jobs 2``, and its time per experiment.

Runs ``python -m paper_repro reproduce --full --jobs 2 --out <new folder>`` in a
fresh process (the numba cache as it is: a warm run; B5 measures the cold
start), into a new output folder so that nothing comes from the experiments'
own cache. Reports the wall and CPU time of the whole command, the load average
around it, and the compute seconds of every experiment as its record in
``<out>/.report/`` states them (the time of its ``run(params)`` in its worker).
With two workers the wall time is at least half the sum of the experiments'
times, plus the warm-up, the figures and the report.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import save, table

JOBS = 2
TARGET_S = 120.0


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(jobs: int = JOBS) -> dict:
    with tempfile.TemporaryDirectory(prefix="modgate-b6-") as tmp:
        out = Path(tmp) / "out"
        load = os.getloadavg()[0]
        cpu0, t0 = _child_cpu(), time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "paper_repro", "reproduce", "--full", "--jobs", str(jobs),
             "--out", str(out)],
            capture_output=True,
            text=True,
        )  # fmt: skip
        wall, cpu = time.perf_counter() - t0, _child_cpu() - cpu0
        if done.returncode != 0:
            raise RuntimeError(
                f"reproduce --full failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
            )
        seconds = {
            f.stem: float(json.loads(f.read_text())["seconds"])
            for f in (out / ".report").glob("E*.json")
        }
    order = sorted(seconds, key=lambda e: int(e[1:]))
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "load": max(load, os.getloadavg()[0]),
        "jobs": jobs,
        "experiments_s": {e: seconds[e] for e in order},
        "experiments_sum_s": sum(seconds.values()),
    }


def main() -> None:
    res = run()
    rows = [{"experiment": e, "seconds": s} for e, s in res["experiments_s"].items()]
    print(table(rows, ["experiment", "seconds"]))
    print(table([res], ["wall_s", "cpu_s", "experiments_sum_s", "load"]))
    print(f"target: wall ≤ {TARGET_S:g} s with --jobs {JOBS} on 2 cores")
    print(
        "saved",
        save(
            "B6",
            res
            | {
                "target_wall_s": TARGET_S,
                "command": f"python -m paper_repro reproduce --full --jobs {JOBS} --out <new folder>",
                "method": "one fresh process, warm numba cache, new output folder; cpu = user + "
                "system time of the child and its workers; experiments_s: each experiment's "
                "compute seconds from its record in <out>/.report/",
                "load": "1-minute load average (os.getloadavg) around the run; a wall time "
                "measured at a load above the number of cores needs a rerun on a quiet machine",
            },
        ),
    )


if __name__ == "__main__":
    main()
