"""B1: ``kl_rows`` and ``jsd`` against ``scipy.special.rel_entr`` and the memory floor.

The memory floor is one ``np.sum`` pass over the same K×n array: no kernel
that reads every entry once can beat it. Ratios are taken side by side, medians
of ≥ 5 repeats.
"""

from __future__ import annotations

import numpy as np
from scipy.special import rel_entr

from benchmarks._common import median_time, save, table
from theory.divergences import jsd, kl_rows, mixture

SIZES = [(8, 2_000_000), (8, 10_000_000)]


def _instance(K: int, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    D = rng.random((K, n))
    D /= D.sum(axis=1, keepdims=True)
    q = rng.random(n)
    q /= q.sum()
    lam = rng.dirichlet(np.ones(K))
    return D, q, lam


def run(sizes=SIZES, repeats: int = 5) -> list[dict]:
    rows = []
    for K, n in sizes:
        D, q, lam = _instance(K, n)
        floor = median_time(lambda D=D: np.sum(D), repeats)
        ours = median_time(lambda D=D, q=q: kl_rows(D, q), repeats)
        peer = median_time(lambda D=D, q=q: rel_entr(D, q).sum(axis=1), repeats)
        ours_j = median_time(lambda D=D, lam=lam: jsd(lam, D), repeats)
        peer_j = median_time(lambda D=D, lam=lam: lam @ rel_entr(D, lam @ D).sum(axis=1), repeats)
        err = np.max(np.abs(kl_rows(D, q) - rel_entr(D, q).sum(axis=1)))
        err_j = abs(jsd(lam, D) - lam @ rel_entr(D, mixture(lam, D)).sum(axis=1))
        rows.append(
            {
                "K": K,
                "n": n,
                "floor_s": floor,
                "kl_rows_s": ours,
                "scipy_kl_s": peer,
                "kl_speedup": peer / ours,
                "kl_over_floor": ours / floor,
                "jsd_s": ours_j,
                "scipy_jsd_s": peer_j,
                "jsd_speedup": peer_j / ours_j,
                "jsd_over_floor": ours_j / floor,
                "max_abs_diff": float(max(err, err_j)),
            }
        )
    return rows


def main() -> None:
    rows = run()
    print(
        table(
            rows,
            [
                "K",
                "n",
                "floor_s",
                "kl_rows_s",
                "scipy_kl_s",
                "kl_speedup",
                "kl_over_floor",
                "jsd_s",
                "scipy_jsd_s",
                "jsd_speedup",
                "jsd_over_floor",
                "max_abs_diff",
            ],
        )
    )
    print("targets: speedup ≥ 5 (issue: at n = 2e6), kl_over_floor ≤ 3 (goal)")
    print("saved", save("B1", {"rows": rows}))


if __name__ == "__main__":
    main()
