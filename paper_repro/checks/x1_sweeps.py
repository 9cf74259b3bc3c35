"""Verify row X1: the machinery of the parameter sweeps.

The sweeps behind the figures run a study function over a grid of parameters
and seeds, store the rows and summarize them by a mean and a percentile
bootstrap interval. None of this is a theorem, but a grid that accepts a
wrong value, a summary that drops the interval or a study row that reads the
wrong entry changes every figure made from it. The row checks each piece
against what it documents, with the expected values derived here.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from paper_repro.checks import Outcome, check
from sims.sweep import (
    Store,
    generalization,
    get_study,
    grid,
    modular_vs_monolithic,
    study_instance,
    summarize,
)
from theory.divergences import kl_rows


def _fails(call) -> bool:
    try:
        call()
    except (ValueError, TypeError):
        return True
    return False


@check(
    "X1",
    "the sweep machinery: unknown studies and values of the wrong type are refused, valid "
    "grid points are accepted, rows are stored under <folder>/<study>.parquet, a summary is "
    "the mean with a percentile-bootstrap interval, and a study row agrees with itself",
    0.0,
    method="get_study of an unknown name and grid with a boolean for a real-valued key must "
    "raise; grid with the smallest documented imbalance (1) must not; Store's path; "
    "summarize of two distinct seed values must give their mean and, with 1000 resamples "
    "at 95 %, the interval [min, max] (each resample is all-min with probability 1/4), and "
    "of one value the degenerate interval; the generalization study at a small size: "
    "slack = bound − largest supremum, violation rates in [0, 1]; study_instance of a "
    "modular-vs-monolithic row with proportional weights: sizes ρ^{-(k-1)/(K-1)}, weights "
    "m/Σm, and the row's aggregate worst case max_k KL(D_k‖α·D) (full class, simplex); the "
    "count of breaches.",
    measure="count",
    instances="the registered studies; random values; generalization with K = 2, n = 8..12, "
    "m = 40, 5 draws, and modular-vs-monolithic with K ∈ 2..4, n = 8, ρ ∈ [1.5, 8] (first "
    "two trials).",
)
def x1_sweeps(rng, trials):
    breaches = 0
    names = [s.name for s in (get_study("generalization"), get_study("modular-vs-monolithic"))]
    breaches += not _fails(lambda: get_study("no-such-study"))
    breaches += not _fails(lambda: grid(names[1], {"separation": [True]}))
    breaches += _fails(lambda: grid(names[1], {"imbalance": [1.0, 2.0]}))
    with tempfile.TemporaryDirectory() as folder:
        breaches += Store(folder, names[0]).path != Path(folder) / f"{names[0]}.parquet"
    for t in range(trials):
        a, b = np.sort(rng.normal(size=2))
        c = float(rng.normal())
        rows = summarize({"K": [2, 2, 3], "seed": [0, 1, 0], "v": [a, b, c]}, ["K"], ["v"])
        want = [(2, 0.5 * (a + b), a, b), (3, c, c, c)]
        for row, (K, mean, lo, hi) in zip(rows, want, strict=True):
            got = (row["K"], row["v"], row["v_lo"], row["v_hi"])
            breaches += not (
                got[0] == K and np.allclose(got[1:], (mean, lo, hi), rtol=0, atol=1e-12)
            )
        if t < 2:
            params = dict(get_study(names[0]).defaults)
            params.update(K=2, n=int(rng.integers(8, 13)), m=40, expert_samples=200, draws=5)
            out = generalization(params, int(rng.integers(1000)))
            breaches += abs(out["gate_slack"] - (out["gate_bound"] - out["gate_sup_max"])) > 1e-12
            breaches += not all(0.0 <= out[k] <= 1.0 for k in ("gate_violation", "tab_violation"))
            # the instance of a row: domain sizes m_k ∝ ρ^{-(k-1)/(K-1)} (largest first,
            # largest/smallest = ρ), proportional weights m/Σm, and the row's aggregate
            # worst case is max_k KL(D_k‖Σ_k α_k D_k) for the full class over the simplex
            K, rho = int(rng.integers(2, 5)), float(rng.uniform(1.5, 8.0))
            params = {"K": K, "n": 8, "weights": "proportional", "imbalance": rho}
            seed = int(rng.integers(1000))
            inst = study_instance(params, seed)
            sizes = rho ** (-np.arange(K) / (K - 1))
            breaches += not np.allclose(inst.sizes, sizes, rtol=1e-12, atol=0)
            breaches += not np.allclose(inst.alpha, sizes / sizes.sum(), rtol=1e-12, atol=0)
            row = modular_vs_monolithic({**get_study(names[1]).defaults, **params}, seed)
            worst = float(kl_rows(inst.D, inst.alpha @ inst.D).max())
            breaches += abs(row["aggregate_worst_case"] - worst) > 1e-9 * max(1.0, worst)
    return Outcome(trials, float(breaches))
