"""B2: the exact robust gate, ``robust_gate(method="dual")`` against ``method="cvxpy"``.

K = 8 domains with imperfect experts. For n ∈ {10^3, 10^4, 10^5} both methods run
side by side (the cvxpy reference is the exponential-cone program solved by
Clarabel); for n ∈ {10^6, 10^7} the dual solver runs alone. Each size runs in a
fresh subprocess, so that its peak resident memory (``ru_maxrss`` of
``resource.getrusage``, which includes the K×n inputs D and P) is its own.
Times are medians over repeats after one warm-up solve on a small instance
(numba compilation is excluded).

Memory: beyond its inputs, a solve should hold one array of the size of D at
most, the K×n gate it returns (``extra_gb`` = peak − RSS after building the
inputs). ``gate_for`` alone is measured the same way at n = 10^7 (experts P and
a model q in their envelope as inputs).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

from benchmarks._common import save, table

K = 8
GATE_FOR_N = 10_000_000
# n → (repeats of the dual solver, repeats of cvxpy; 0 = not run)
SIZES = {
    1_000: (7, 5),
    10_000: (7, 3),
    100_000: (5, 1),
    1_000_000: (5, 0),
    10_000_000: (5, 0),
}


def _instance(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Skewed random domains and experts that keep 60% of their domain (in place: n up to 10^7)."""
    rng = np.random.default_rng(seed)
    D = rng.random((K, n))
    D **= 3
    D /= D.sum(axis=1, keepdims=True)
    P = rng.random((K, n))
    P *= 0.4 / P.sum(axis=1, keepdims=True)
    for k in range(K):  # row by row: a temporary of one row, not of the whole matrix
        P[k] += 0.6 * D[k]
    return D, P


def _gate_for_inputs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Experts P (as in :func:`_instance`) and a model q in their envelope (a mixture of them)."""
    rng = np.random.default_rng(seed)
    P = rng.random((K, n))
    P /= P.sum(axis=1, keepdims=True)
    w = rng.dirichlet(np.ones(K))
    return P, w @ P


def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # kB on Linux


def measure(n: int, repeats: int, cvxpy_repeats: int) -> dict:
    """Time both methods on one size; run in a fresh process (see ``main``)."""
    import numba

    from theory.minimax import robust_gate

    warm_D, warm_P = _instance(1000, seed=1)
    robust_gate(warm_D, warm_P)
    D, P = _instance(n)
    inputs_gb = _rss_gb()
    times, res = [], None
    for _ in range(repeats):
        # Drop the previous result first: the peak is that of one solve with its inputs.
        res = None
        t0 = time.perf_counter()
        res = robust_gate(D, P)
        times.append(time.perf_counter() - t0)
    row = {
        "K": K,
        "n": n,
        "threads": numba.get_num_threads(),
        "dual_s": float(np.median(times)),
        "dual_repeats": repeats,
        "dual_value": res.value,
        "dual_gap": res.upper - res.lower,
        "dual_iterations": res.iterations,
        "converged": res.converged,
        "peak_rss_gb": _rss_gb(),
        "inputs_rss_gb": inputs_gb,
        "extra_gb": _rss_gb() - inputs_gb,
        "gate_gb": 8.0 * K * n / 1e9,
        "load": os.getloadavg()[0],
    }
    if cvxpy_repeats:
        times = []
        for _ in range(cvxpy_repeats):
            t0 = time.perf_counter()
            ref = robust_gate(D, P, method="cvxpy")
            times.append(time.perf_counter() - t0)
        row |= {
            "cvxpy_s": float(np.median(times)),
            "cvxpy_repeats": cvxpy_repeats,
            "cvxpy_value": ref.value,
            "cvxpy_certified": [ref.lower, ref.upper],
            "abs_diff": abs(res.value - ref.value),
            "speedup": float(np.median(times)) / row["dual_s"],
        }
    return row


def measure_gate_for(n: int, repeats: int) -> dict:
    """Time and peak memory of ``gate_for`` alone; run in a fresh process (see ``main``)."""
    from theory.gates import gate_for

    gate_for(*reversed(_gate_for_inputs(1000, seed=1)))
    P, q = _gate_for_inputs(n)
    inputs_gb = _rss_gb()
    times = []
    for _ in range(repeats):
        g = None
        t0 = time.perf_counter()
        g = gate_for(q, P)
        times.append(time.perf_counter() - t0)
    err = float(np.max(np.abs(np.einsum("kn,kn->n", g, P) - q)))
    return {
        "K": K,
        "n": n,
        "gate_for_s": float(np.median(times)),
        "repeats": repeats,
        "max_abs_model_error": err,
        "peak_rss_gb": _rss_gb(),
        "inputs_rss_gb": inputs_gb,
        "extra_gb": _rss_gb() - inputs_gb,
        "gate_gb": 8.0 * K * n / 1e9,
        "load": os.getloadavg()[0],
    }


def _subprocess(*args) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.b2_robust_gate", *map(str, args)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(sizes=SIZES) -> list[dict]:
    rows = []
    for n, (repeats, cvx) in sizes.items():
        rows.append(_subprocess(n, repeats, cvx))
        print(table(rows[-1:], list(rows[-1])[:7]), flush=True)
    return rows


def main() -> None:
    rows = run()
    gate = _subprocess("gate_for", GATE_FOR_N, 5)
    cols = ["n", "dual_s", "dual_gap", "dual_iterations", "cvxpy_s", "abs_diff", "speedup",
            "peak_rss_gb", "extra_gb", "load"]  # fmt: skip
    print(table(rows, cols))
    print(table([gate], ["n", "gate_for_s", "peak_rss_gb", "extra_gb", "gate_gb", "load"]))
    print(
        "targets: |dual − cvxpy| ≤ 1e-7, gap ≤ 1e-9, speedup ≥ 100 at n = 1e5, "
        "n = 1e7 in < 60 s and < 4 GB peak RSS, peak ≤ inputs + 1 GB (extra_gb ≤ 1)"
    )
    print(
        "saved",
        save(
            "B2",
            {
                "rows": rows,
                "gate_for": gate,
                "memory": "peak resident set size (resource.getrusage ru_maxrss) of a fresh "
                "subprocess per n, including the inputs D and P (inputs_rss_gb: after building them)",
                "repeats": "medians over dual_repeats / cvxpy_repeats solves after a warm-up on "
                "n = 1000; cvxpy at n = 1e5 runs once (about a minute per solve)",
            },
        ),
    )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "gate_for":
        print(json.dumps(measure_gate_for(int(sys.argv[2]), int(sys.argv[3]))))
    elif len(sys.argv) == 4:
        print(json.dumps(measure(*(int(a) for a in sys.argv[1:]))))
    else:
        main()
