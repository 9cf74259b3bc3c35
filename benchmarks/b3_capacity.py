"""B3: ``blahut_arimoto`` against ``dit.algorithms.channel_capacity`` at K = 8, n = 10^5.

dit computes the capacity in bits with the classical Blahut–Arimoto iteration
and stops on a change-in-value tolerance. It runs twice: with its default
tolerances, and with rtol = atol = 1e-14 (its best accuracy). The error of
each method is measured against the certified interval of ours run at
tol = 1e-13 (lower ≤ C ≤ upper); ours is timed at its default tol = 1e-12.
Medians of ≥ 5 repeats, side by side in one process.
"""

from __future__ import annotations

import numpy as np
from dit.algorithms import channel_capacity

from benchmarks._common import median_time, save, table
from theory.capacity import blahut_arimoto

SIZES = [(8, 100_000)]
CHANNELS = ("dirichlet", "dominated")


def _channel(K: int, n: int, kind: str, seed: int = 0) -> np.ndarray:
    """Dirichlet(0.5) rows; "dominated" makes two rows mixtures of others (λ* on a face)."""
    rng = np.random.default_rng(seed)
    D = rng.dirichlet(np.full(n, 0.5), size=K)
    if kind == "dominated":
        D[-1] = 0.5 * (D[0] + D[1])
        D[-2] = 0.3 * D[2] + 0.7 * D[3]
    return D


def _error(value: float, lower: float, upper: float) -> float:
    """Distance from ``value`` to the certified interval [lower, upper] plus its width."""
    return max(lower - value, value - upper, 0.0) + (upper - lower)


def run(sizes=SIZES, repeats: int = 5) -> list[dict]:
    rows = []
    for K, n in sizes:
        for kind in CHANNELS:
            D = _channel(K, n, kind)
            exact = blahut_arimoto(D, tol=1e-13)
            ours = blahut_arimoto(D)
            dit_default = channel_capacity(D)[0] * np.log(2.0)
            dit_tight = channel_capacity(D, rtol=1e-14, atol=1e-14)[0] * np.log(2.0)
            t_ours = median_time(lambda D=D: blahut_arimoto(D), repeats)
            t_dit = median_time(lambda D=D: channel_capacity(D), repeats)
            t_tight = median_time(lambda D=D: channel_capacity(D, rtol=1e-14, atol=1e-14), repeats)
            rows.append(
                {
                    "K": K,
                    "n": n,
                    "channel": kind,
                    "capacity_nats": ours.capacity,
                    "ours_s": t_ours,
                    "ours_gap": ours.upper - ours.lower,
                    "ours_error": _error(ours.capacity, exact.lower, exact.upper),
                    "ours_iterations": ours.iterations,
                    "dit_s": t_dit,
                    "dit_error": _error(dit_default, exact.lower, exact.upper),
                    "dit_tight_s": t_tight,
                    "dit_tight_error": _error(dit_tight, exact.lower, exact.upper),
                    "speedup_vs_dit": t_dit / t_ours,
                    "speedup_vs_dit_tight": t_tight / t_ours,
                }
            )
    return rows


def main() -> None:
    rows = run()
    cols = ["channel", "ours_s", "ours_gap", "ours_error", "dit_s", "dit_error", "dit_tight_s",
            "dit_tight_error", "speedup_vs_dit", "speedup_vs_dit_tight"]  # fmt: skip
    print(table(rows, cols))
    print("targets: ≥ 5× faster than dit at equal or better accuracy; certified gap ≤ 1e-10")
    print(
        "saved",
        save(
            "B3",
            {
                "rows": rows,
                "accuracy": "errors in nats against the certified interval of blahut_arimoto at "
                "tol = 1e-13 (distance to the interval + its width); dit's bits converted to nats",
                "repeats": "medians of 5 repeats after one untimed run of each",
            },
        ),
    )


if __name__ == "__main__":
    main()
