"""Shared helpers of the benchmarks: JSON output and text tables.

Timings come from :func:`benchmarks.timing.median_time`, re-exported here for the
benchmark modules.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import numpy as np

from benchmarks.timing import median_time

__all__ = ["RESULTS", "machine", "median_time", "save", "table"]

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__}


def save(bench_id: str, payload: dict) -> Path:
    """Write ``payload`` (plus the machine description) to ``results/<id>.json`` atomically."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{bench_id}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"id": bench_id, "machine": machine(), **payload}, indent=2))
    tmp.replace(path)
    return path


def table(rows: list[dict], columns: list[str]) -> str:
    """A plain-text table of ``rows`` restricted to ``columns``."""

    def fmt(v):
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    cells = [[fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)
