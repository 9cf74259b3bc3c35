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
    return dict(sorted(mods.items(), key=lambda item: int(item[0][1:])))


def main(only=None) -> int:
    """Run the benchmarks ``only`` (IDs such as ``["B1", "B3"]``; all if None).

    Raises
    ------
    ValueError
        Before any benchmark runs, if ``only`` names an unknown benchmark; the
        message lists the valid IDs.
    """
    mods = available()
    if only is not None:
        if isinstance(only, str):
            raise ValueError(f"only: expected a list of benchmark IDs, got the string {only!r}")
        wanted = [str(o).strip().upper() for o in only]
        unknown = [o for o in wanted if o not in mods]
        if unknown or not wanted:
            raise ValueError(
                f"only: unknown benchmark(s) {', '.join(unknown) or '(none given)'}; "
                f"valid benchmarks: {', '.join(mods)}"
            )
        mods = {bid: name for bid, name in mods.items() if bid in wanted}
    for bid, name in mods.items():
        print(f"== {bid} ({name}) ==", flush=True)
        importlib.import_module(f"benchmarks.{name}").main()
    return 0


if __name__ == "__main__":
    try:
        code = main(sys.argv[1].split(",") if len(sys.argv) > 1 else None)
    except ValueError as exc:
        print(f"python -m benchmarks: error: {exc}", file=sys.stderr)
        code = 2
    raise SystemExit(code)
