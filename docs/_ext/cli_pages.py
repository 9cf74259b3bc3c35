"""Capture the command line's own ``--help`` texts for the CLI how-to page.

The how-to page includes these files, so the options it lists are always the
ones the installed command accepts. The subcommands are read from the top-level
usage line (``{reproduce,verify,...}``).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


def _help(*args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "paper_repro", *args, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={"COLUMNS": "88", **_env()},
    )
    return out.stdout


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "COLUMNS"}


def subcommands(top: str) -> list[str]:
    """The subcommand names in the usage line of ``modgate --help``."""
    match = re.search(r"\{([a-z_,-]+)\}", top)
    return match.group(1).split(",") if match else []


def write(out_dir: Path) -> list[str]:
    """Write ``modgate.txt`` and ``modgate-<cmd>.txt`` into ``out_dir``; return the subcommands."""
    out_dir.mkdir(parents=True, exist_ok=True)
    top = _help()
    texts = {"modgate": top}
    for cmd in subcommands(top):
        texts[f"modgate-{cmd}"] = _help(cmd)
    for name, text in texts.items():
        path = out_dir / f"{name}.txt"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return subcommands(top)
