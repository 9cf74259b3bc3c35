"""The built site loads nothing from the network.

The static check of ``docs/check_site.py`` runs on the built site when it
exists (``python -m sphinx -W --keep-going -b html docs docs/_build/html``);
the checker itself is tested on small pages written here. The browser checks
(typeset math, loaded images) need Chromium and run with
``python docs/check_site.py``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
SITE = DOCS / "_build" / "html"
sys.path.insert(0, str(DOCS))

import check_site  # noqa: E402


def test_checker_finds_remote_scripts_and_stylesheets(tmp_path):
    (tmp_path / "a.html").write_text(
        '<html><head><script src="https://cdn.example/x.js"></script>'
        '<link rel="stylesheet" href="//cdn.example/y.css">'
        '<link rel="preload" href="HTTP://fonts.example/z.woff2" as="font">'
        '<link rel="canonical" href="https://example.org/page.html">'
        '<script src="_static/local.js"></script></head><body>'
        '<a href="https://arxiv.org/abs/2602.17554">paper</a></body></html>'
    )
    found = {(kind.split()[0], url) for _, kind, url in check_site.external_assets(tmp_path)}
    assert found == {
        ("script", "https://cdn.example/x.js"),
        ("link", "//cdn.example/y.css"),
        ("link", "HTTP://fonts.example/z.woff2"),
    }


@pytest.mark.skipif(not (SITE / "index.html").exists(), reason="the site is not built")
def test_built_site_loads_no_remote_script_or_stylesheet():
    remote = check_site.external_assets(SITE)
    assert remote == [], "\n".join(f"{p.relative_to(SITE)}: {k} {u}" for p, k, u in remote)


@pytest.mark.skipif(not (SITE / "index.html").exists(), reason="the site is not built")
def test_built_site_serves_mathjax_itself():
    text = (SITE / "theory" / "setup.html").read_text(encoding="utf-8")
    assert "_static/mathjax/tex-chtml.js" in text
    assert (SITE / "_static" / "mathjax" / "tex-chtml.js").exists()


needs_browser = pytest.mark.skipif(
    not (SITE / "index.html").exists() or check_site.chromium() is None,
    reason="needs the built site and Chromium (apt-get install chromium)",
)


@needs_browser
def test_browser_sees_typeset_math_and_loaded_images():
    r = check_site.probe(check_site.chromium(), SITE / "theory" / "least-favorable.html", 15000)
    assert r["math_spans"] > 0
    assert r["typeset"] >= r["math_spans"]
    assert r["raw_tex"] == []
    assert r["images"] >= 1 and r["broken"] == []


@needs_browser
def test_browser_check_reports_raw_tex_and_broken_images(tmp_path):
    page = SITE / "theory" / "setup.html"
    broken = page.with_name("broken-copy-for-test.html")
    text = re.sub(r"<script[^>]*mathjax[^>]*></script>", "", page.read_text(encoding="utf-8"))
    broken.write_text(text.replace("</article>", '<img src="missing.png"></article>', 1))
    try:
        r = check_site.probe(check_site.chromium(), broken, 8000)
    finally:
        broken.unlink()
    assert r["typeset"] == 0 and r["raw_tex"], "math left as raw TeX must be reported"
    assert r["broken"] == ["missing.png"]
