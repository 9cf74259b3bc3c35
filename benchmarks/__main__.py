"""Run the benchmarks: ``python -m benchmarks [B1,B3]`` or ``modgate bench``."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import benchmarks


def available() -> dict[str, str]:
    """Benchmark ID (``B1`` …) → module name, for every ``b<i>_*.py`` module."""
    mods = {}
    for m in pkgutil.iter_modules(benchmarks.__path__):
        if m.name[0] == "b" and m.name[1].isdigit():
            mods["B" + m.name[1:].split("_")[0]] = m.name
    return dict(sorted(mods.items()))


def main(only=None) -> int:
    for bid, name in available().items():
        if only and bid not in only:
            continue
        print(f"== {bid} ({name}) ==", flush=True)
        importlib.import_module(f"benchmarks.{name}").main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1].split(",") if len(sys.argv) > 1 else None))
