"""Rows of ``modgate verify``, read from the live registry of checks.

``{verify}`T3``` prints a row ID; the directive ::

    ```{verify-rows} T3 T3b
    ```

prints a table of those rows (ID, what the row checks, tolerance) followed by
the command that runs them. Both take the rows from
:func:`paper_repro.checks.registry`, so a page that names a row the command no
longer has fails the build with a warning instead of going stale.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)


def rows() -> dict:
    from paper_repro.checks import registry

    return {c.id: c for c in registry()}


def _verify_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    row = text.strip()
    node = nodes.literal(rawtext, row, classes=["verify-row"])
    if row not in rows():
        msg = inliner.reporter.warning(f"verify: no row {row!r} in modgate verify")
        return [node], [msg]
    return [node], []


class VerifyRows(SphinxDirective):
    required_arguments = 1
    optional_arguments = 30
    has_content = False

    def run(self):
        known = rows()
        ids = list(self.arguments)
        missing = [i for i in ids if i not in known]
        out = []
        if missing:
            out.append(
                self.state.document.reporter.warning(
                    f"verify-rows: no row {', '.join(missing)} in modgate verify", line=self.lineno
                )
            )
        present = [known[i] for i in ids if i in known]
        table = nodes.table(classes=["verify-rows"])
        group = nodes.tgroup(cols=3)
        table += group
        for width in (10, 75, 15):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        group += head
        head += self._row(
            ["row", "what it checks on random and adversarial instances", "tolerance"]
        )
        body = nodes.tbody()
        group += body
        for check in present:
            body += self._row(
                [check.id, check.statement, f"{check.tolerance:g}"], literal_first=True
            )
        out.append(table)
        command = "modgate verify --only " + ",".join(c.id for c in present)
        out.append(nodes.literal_block(command, command, language="console"))
        return out

    @staticmethod
    def _row(cells, literal_first=False):
        row = nodes.row()
        for i, text in enumerate(cells):
            entry = nodes.entry()
            para = nodes.paragraph()
            para += nodes.literal(text, text) if (literal_first and i == 0) else nodes.Text(text)
            entry += para
            row += entry
        return row


def setup(app):
    app.add_role("verify", _verify_role)
    app.add_directive("verify-rows", VerifyRows)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
