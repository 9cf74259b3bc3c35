"""The ``{ans}`` role: numbers printed in the lectures, checked against their computation.

A lecture writes a computed number as ``{ans}`l1.water.nu = 1.0734``` (MyST) —
the key of the computation in ``docs/lecture_answers.py`` and the number as the
reader should see it. The role prints the number; the build recomputes the key
with the package and warns (an error under ``-W``) when the printed number is
not the computed value correctly rounded to the digits shown, or when the key is
unknown. ``tests/test_docs_answers.py`` runs the same comparison on the page
sources without building the site.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

#: ``{ans}`KEY = NUMBER``` in a Markdown source.
PATTERN = re.compile(r"\{ans\}`\s*([A-Za-z0-9_.\-]+)\s*=\s*([^`]+?)\s*`")


def parse(text: str) -> list[tuple[str, str]]:
    """Every (key, printed number) pair of the ``{ans}`` roles in ``text``."""
    return PATTERN.findall(text)


def scan(folder: Path) -> list[tuple[Path, str, str]]:
    """Every (file, key, printed number) in the Markdown files under ``folder``."""
    out = []
    for path in sorted(folder.rglob("*.md")):
        out += [(path, k, v) for k, v in parse(path.read_text(encoding="utf-8"))]
    return out


def half_ulp(printed: str) -> float:
    """Half a unit in the last printed digit: the rounding error the text allows."""
    try:
        d = Decimal(printed.replace("−", "-"))
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {printed!r}") from exc
    return 0.5 * 10.0 ** d.as_tuple().exponent


def agrees(printed: str, computed: float) -> bool:
    """True when ``printed`` is ``computed`` rounded to the digits it shows."""
    shown = float(printed.replace("−", "-"))
    return abs(shown - computed) <= half_ulp(printed) * (1 + 1e-9) + 1e-15


def mismatch(key: str, printed: str, values: dict[str, float]) -> str | None:
    """A description of what is wrong with one printed answer, or None if it is right."""
    if key not in values:
        return f"unknown answer key {key!r}"
    try:
        ok = agrees(printed, values[key])
    except ValueError as exc:
        return f"{key}: {exc}"
    if not ok:
        return f"{key}: page prints {printed}, the computation gives {values[key]!r}"
    return None


def _role(name, rawtext, text, lineno, inliner, options=None, content=None):
    # docutils comes with Sphinx; the parsing helpers above are used by the
    # test suite, which runs without the documentation tools installed.
    from docutils import nodes
    from lecture_answers import all_answers

    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*=\s*(.+?)\s*", text)
    if match is None:
        msg = inliner.reporter.warning(f"ans role: expected 'key = number', got {text!r}")
        return [nodes.literal(rawtext, text)], [msg]
    key, printed = match.groups()
    node = nodes.inline(rawtext, printed, classes=["computed-answer"])
    problem = mismatch(key, printed, all_answers())
    if problem:
        return [node], [inliner.reporter.warning(f"ans role: {problem}", line=lineno)]
    return [node], []


def setup(app):
    app.add_role("ans", _role)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
