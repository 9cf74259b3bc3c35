"""The gallery: enough examples, one per result, each a narrated script ending in a figure."""

from __future__ import annotations

import ast
import re
from pathlib import Path

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("plot_*.py"))


def test_gallery_size_and_coverage():
    assert len(EXAMPLES) >= 14
    titles = " ".join(
        ast.get_docstring(ast.parse(p.read_text(encoding="utf-8"))) or "" for p in EXAMPLES
    )
    for i in range(1, 13):
        assert re.search(rf"\bT{i}\b", titles), f"no example is about T{i}"
    assert "distillation" in titles.lower()
    assert any("own" in p.stem for p in EXAMPLES)


def test_each_example_is_narrated_and_ends_in_a_labelled_figure():
    for path in EXAMPLES:
        text = path.read_text(encoding="utf-8")
        doc = ast.get_docstring(ast.parse(text))
        assert doc and "\n===" in doc, f"{path.name}: needs a titled docstring"
        # Ternary plots have no axes; their colour bar carries the label and unit.
        labelled = ("set_xlabel" in text and "set_ylabel" in text) or re.search(
            r"colorbar\([^)]*label=", text
        )
        assert labelled, f"{path.name}: unlabelled axes"
        code = [
            line
            for line in text.split('"""', 2)[-1].splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
        assert code[-1].strip() == "plt.show()", f"{path.name}: the script must end with its figure"


def test_information_quantities_are_labelled_in_nats():
    in_nats = [p for p in EXAMPLES if "nats" in p.read_text(encoding="utf-8")]
    assert len(in_nats) >= len(EXAMPLES) - 2
