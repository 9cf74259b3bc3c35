"""Stable anchors for the notation page, and links to them from any page.

``{symdef}`KEY``` (used on ``notation.md``) places the anchor ``sym-KEY``;
``{sym}`text <KEY>``` (or ``{sym}`KEY```) anywhere links to it. KEY is plain
ASCII (``D_lambda``, ``V_star``), so the address ``notation.html#sym-D_lambda``
never changes and can be used from outside the site (for example by the
reproduction report). A link to a key that no page defines is a build warning.
"""

from __future__ import annotations

import re

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)
KEY = re.compile(r"[A-Za-z0-9_.\-]+")
NOTATION_DOC = "notation"


class symref(nodes.Inline, nodes.TextElement):
    """A link to a symbol's anchor, resolved once the target page's URI is known."""


def _symdef_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    key = text.strip()
    if not KEY.fullmatch(key):
        msg = inliner.reporter.warning(f"symdef: {key!r} is not a plain ASCII key")
        return [], [msg]
    env = inliner.document.settings.env
    defs = env.domaindata.setdefault("modgate_symbols", {})
    if key in defs and defs[key] != env.docname:
        msg = inliner.reporter.warning(f"symdef: {key!r} is already defined in {defs[key]}")
        return [], [msg]
    defs[key] = env.docname
    # The key itself, as a small self-link, shows readers the address to cite.
    node = nodes.inline("", "", ids=[f"sym-{key}"], classes=["symdef"])
    node += nodes.reference("", f"#{key}", refuri=f"#sym-{key}", internal=True)
    return [node], []


def _sym_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    match = re.fullmatch(r"\s*(.*?)\s*<([^<>]+)>\s*", text)
    shown, key = (match.group(1), match.group(2).strip()) if match else (text, text.strip())
    node = symref(rawtext, shown, key=key)
    node.line = lineno
    return [node], []


def _resolve(app, doctree, docname):
    defs = app.env.domaindata.get("modgate_symbols", {})
    for node in list(doctree.findall(symref)):
        key = node["key"]
        target = defs.get(key)
        if target is None:
            logger.warning(f"sym: unknown symbol key {key!r}", location=node)
            node.replace_self(nodes.Text(node.astext()))
            continue
        uri = app.builder.get_relative_uri(docname, target) + f"#sym-{key}"
        ref = nodes.reference("", "", internal=True, refuri=uri, classes=["symref"])
        ref += nodes.Text(node.astext())
        node.replace_self(ref)


def _purge(app, env, docname):
    defs = env.domaindata.get("modgate_symbols", {})
    for key in [k for k, d in defs.items() if d == docname]:
        del defs[key]


def _merge(app, env, docnames, other):
    env.domaindata.setdefault("modgate_symbols", {}).update(
        other.domaindata.get("modgate_symbols", {})
    )


def setup(app):
    app.add_node(symref)
    app.add_role("symdef", _symdef_role)
    app.add_role("sym", _sym_role)
    app.connect("doctree-resolved", _resolve)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
