"""B2: the exact robust gate, ``robust_gate(method="dual")`` against ``method="cvxpy"``.

K = 8 domains with imperfect experts. For n ∈ {10^3, 10^4, 10^5} both methods run
side by side (the cvxpy reference is the exponential-cone program solved by
Clarabel); for n ∈ {10^6, 10^7} the dual solver runs alone. Each size runs in a
fresh subprocess, so that its peak resident memory (``ru_maxrss`` of
``resource.getrusage``, which includes the K×n inputs D and P) is its own.
Times are medians over repeats after one warm-up solve on a small instance
(numba compilation is excluded).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

import numpy as np

from benchmarks._common import save, table

K = 8
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


def run(sizes=SIZES) -> list[dict]:
    rows = []
    for n, (repeats, cvx) in sizes.items():
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.b2_robust_gate", str(n), str(repeats), str(cvx)],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(table(rows[-1:], list(rows[-1])[:7]), flush=True)
    return rows


def main() -> None:
    rows = run()
    cols = ["n", "dual_s", "dual_gap", "dual_iterations", "cvxpy_s", "abs_diff", "speedup",
            "peak_rss_gb"]  # fmt: skip
    print(table(rows, cols))
    print(
        "targets: |dual − cvxpy| ≤ 1e-7, gap ≤ 1e-9, speedup ≥ 100 at n = 1e5, "
        "n = 1e7 in < 60 s and < 4 GB peak RSS"
    )
    print(
        "saved",
        save(
            "B2",
            {
                "rows": rows,
                "memory": "peak resident set size (resource.getrusage ru_maxrss) of a fresh "
                "subprocess per n, including the inputs D and P (inputs_rss_gb: after building them)",
                "repeats": "medians over dual_repeats / cvxpy_repeats solves after a warm-up on "
                "n = 1000; cvxpy at n = 1e5 runs once (about a minute per solve)",
            },
        ),
    )


if __name__ == "__main__":
    if len(sys.argv) == 4:
        print(json.dumps(measure(*(int(a) for a in sys.argv[1:]))))
    else:
        main()
