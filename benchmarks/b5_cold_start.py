"""B5: cold start, ``reproduce --quick`` with an empty numba cache against a warm one.

Every numba kernel of the package is compiled with ``cache=True``: the first
process in a fresh environment compiles them, later ones load them from disk.
This benchmark runs ``python -m paper_repro reproduce --quick --out <tmp>`` in
fresh processes, each into a new output folder (so nothing comes from the
experiments' own cache):

* cold: with ``NUMBA_CACHE_DIR`` set to a new, empty folder;
* warm: right after, with the folder the cold run filled.

Rounds alternate cold and warm runs; the medians of wall time and of CPU time
(user + system of the child) are reported with their ratio cold / warm, and the
load average around each run. A separate fresh process with an empty cache
records the compilation time of every kernel (CPU seconds of each top-level
compilation, its callees included) while :func:`paper_repro.warmup.warm_up`
runs.
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

import numpy as np

from benchmarks._common import save, table

ROUNDS = 2

# Runs in a fresh process: per-kernel compilation seconds of the warm-up.
_COMPILE_PROBE = """
import json, time
from numba.core import event

seconds, stack = {}, []

class Timer(event.Listener):
    def on_start(self, ev):
        stack.append((ev.data["dispatcher"], time.process_time()))

    def on_end(self, ev):
        d, t0 = stack.pop()
        if not stack:
            name = f"{d.py_func.__module__}.{d.py_func.__qualname__}"
            seconds[name] = seconds.get(name, 0.0) + time.process_time() - t0

event.register("numba:compile", Timer())
from paper_repro.warmup import warm_up

t0 = time.process_time()
warm_up()
print(json.dumps({"kernels": seconds, "warm_up_cpu_s": time.process_time() - t0}))
"""


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _reproduce(cache: Path, out: Path) -> dict:
    """One ``reproduce --quick`` in a fresh process: wall and CPU seconds, load around it."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    load = os.getloadavg()[0]
    cpu0, t0 = _child_cpu(), time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "paper_repro", "reproduce", "--quick", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
    )
    wall, cpu = time.perf_counter() - t0, _child_cpu() - cpu0
    if done.returncode != 0:
        raise RuntimeError(
            f"reproduce --quick failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    return {"wall_s": wall, "cpu_s": cpu, "load": max(load, os.getloadavg()[0])}


def compile_times() -> dict:
    """Per-kernel compilation CPU seconds of the warm-up, in a fresh process with an empty cache."""
    with tempfile.TemporaryDirectory(prefix="modgate-b5-") as tmp:
        env = dict(os.environ, NUMBA_CACHE_DIR=tmp)
        done = subprocess.run(
            [sys.executable, "-c", _COMPILE_PROBE], env=env, capture_output=True, text=True
        )
    if done.returncode != 0:
        raise RuntimeError(f"compile probe failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(rounds: int = ROUNDS) -> dict:
    runs = []
    for r in range(rounds):
        with tempfile.TemporaryDirectory(prefix="modgate-b5-") as tmp:
            tmp = Path(tmp)
            cold = _reproduce(tmp / "numba", tmp / "cold")
            warm = _reproduce(tmp / "numba", tmp / "warm")
        runs.append({"round": r} | {f"cold_{k}": v for k, v in cold.items()}
                    | {f"warm_{k}": v for k, v in warm.items()})  # fmt: skip
        print(table(runs[-1:], list(runs[-1])), flush=True)
    med = {key: float(np.median([x[key] for x in runs])) for key in runs[0] if key != "round"}
    summary = {
        "cold_wall_s": med["cold_wall_s"],
        "warm_wall_s": med["warm_wall_s"],
        "wall_ratio": med["cold_wall_s"] / med["warm_wall_s"],
        "cold_cpu_s": med["cold_cpu_s"],
        "warm_cpu_s": med["warm_cpu_s"],
        "cpu_ratio": med["cold_cpu_s"] / med["warm_cpu_s"],
        "max_load": max(max(x["cold_load"], x["warm_load"]) for x in runs),
    }
    return {"runs": runs, "summary": summary, "compile": compile_times()}


def main() -> None:
    res = run()
    print(table([res["summary"]], list(res["summary"])))
    kernels = sorted(res["compile"]["kernels"].items(), key=lambda kv: -kv[1])
    print(
        table([{"kernel": k, "compile_cpu_s": v} for k, v in kernels], ["kernel", "compile_cpu_s"])
    )
    print("target: cold ≤ 1.25 × warm (wall time, fresh processes)")
    print(
        "saved",
        save(
            "B5",
            res
            | {
                "command": "python -m paper_repro reproduce --quick --out <new folder>",
                "method": "fresh processes; cold: empty NUMBA_CACHE_DIR, warm: the same folder "
                "right after; medians over rounds of (cold, warm); cpu = user + system time of "
                "the child; compile: CPU seconds of each top-level numba compilation during "
                "paper_repro.warmup.warm_up in a fresh process with an empty cache",
                "load": "1-minute load average (os.getloadavg) around each run; wall-time ratios "
                "measured at a load above the number of cores need a rerun on a quiet machine",
            },
        ),
    )


if __name__ == "__main__":
    main()
