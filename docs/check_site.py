"""Check the built documentation the way a reader sees it, in headless Chromium.

Usage (after building the site)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html
    python docs/check_site.py                       # every check, screenshots in docs/_build/check
    python docs/check_site.py --static-only         # no browser: external assets only
    python docs/check_site.py --site PATH --out DIR --budget 20000

Chromium comes from Debian's ``chromium`` package (``apt-get install chromium``).

Three checks:

1. **Offline assets (static).** No built HTML file loads a script or a
   stylesheet from the network: no ``http(s)://`` (or protocol-relative
   ``//``) URL in any ``<script src>`` or ``<link href>`` of a stylesheet,
   preload, icon or module.
2. **Typeset math (browser).** Every theory page, the notation page and the
   lectures are opened in Chromium; after MathJax has finished, the page must
   contain MathJax output elements and its visible text must contain no raw
   TeX delimiters (``\\(``, ``\\)``, ``\\[``, ``\\]``, ``$$``, or ``$…$`` around
   TeX).
3. **Images (browser).** On the gallery pages and every page above, every
   ``<img>`` must have loaded (``complete`` and a non-zero natural width).

The browser checks run a small script inside each page: a copy of the page
with the script appended is written next to it (so relative links still
resolve), opened with ``--dump-dom``, and removed. The script writes its
findings into the DOM as JSON, which this program reads back. Screenshots of
the landing page and of one theory page are saved for a human look.

Exit status: 0 if every check passes, 1 otherwise (each failure is printed).
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

DOCS = Path(__file__).resolve().parent
DEFAULT_SITE = DOCS / "_build" / "html"

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]

# Link relations whose href the browser fetches as a page resource.
FETCHED_RELS = {"stylesheet", "preload", "modulepreload", "icon", "shortcut", "prefetch"}
REMOTE = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)


class _Assets(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and a.get("src") and REMOTE.match(a["src"]):
            self.found.append(("script src", a["src"]))
        if tag == "link" and a.get("href") and REMOTE.match(a["href"]):
            rels = set((a.get("rel") or "").lower().split())
            if rels & FETCHED_RELS:
                self.found.append((f"link rel={a.get('rel')} href", a["href"]))


def external_assets(site: Path) -> list[tuple[Path, str, str]]:
    """Every (file, attribute, URL) of a script or stylesheet loaded from the network."""
    out = []
    for page in sorted(site.rglob("*.html")):
        parser = _Assets()
        parser.feed(page.read_text(encoding="utf-8", errors="replace"))
        out += [(page, kind, url) for kind, url in parser.found]
    return out


# Runs in the page: waits for MathJax (if the page loads it) and for every
# image, then reports what a reader would see.
PROBE = r"""
<script>
(function () {
  function report() {
    var imgs = Array.prototype.slice.call(document.images);
    var broken = imgs.filter(function (im) { return !(im.complete && im.naturalWidth > 0); })
                     .map(function (im) { return im.getAttribute('src'); });
    var body = document.querySelector('article') || document.body;
    var clone = body.cloneNode(true);
    clone.querySelectorAll('script, style, pre, code, mjx-container, .highlight, textarea')
         .forEach(function (n) { n.remove(); });
    var text = clone.textContent || '';
    var raw = [];
    var patterns = [/\\\(/, /\\\)/, /\\\[/, /\\\]/, /\$\$/, /\$[^$\s][^$]*\\[a-zA-Z]+[^$]*\$/];
    patterns.forEach(function (re) {
      var m = text.match(re);
      if (m) { raw.push(text.substr(Math.max(0, m.index - 30), 80)); }
    });
    var out = document.createElement('pre');
    out.id = 'modgate-site-check';
    out.textContent = JSON.stringify({
      images: imgs.length,
      broken: broken,
      mathjax: typeof window.MathJax !== 'undefined' && !!window.MathJax.startup,
      typeset: document.querySelectorAll('mjx-container').length,
      math_spans: document.querySelectorAll('.math').length,
      raw_tex: raw
    });
    document.body.appendChild(out);
  }
  window.addEventListener('load', function () {
    var ready = (window.MathJax && MathJax.startup && MathJax.startup.promise)
      ? MathJax.startup.promise : Promise.resolve();
    ready.then(function () { setTimeout(report, 50); }, report);
  });
})();
</script>
"""


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def probe(browser: str, page: Path, budget_ms: int) -> dict:
    """Open ``page`` with the probe appended and return the probe's findings."""
    text = page.read_text(encoding="utf-8")
    copy = page.with_name(page.stem + ".site-check.html")
    copy.write_text(text.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    try:
        out = subprocess.run(
            [
                browser,
                *CHROMIUM_FLAGS,
                f"--virtual-time-budget={budget_ms}",
                "--dump-dom",
                copy.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        copy.unlink(missing_ok=True)
    match = re.search(r'<pre id="modgate-site-check">(.*?)</pre>', out.stdout, re.S)
    if match is None:
        return {"error": "the probe did not report (page did not finish loading?)"}
    return json.loads(html.unescape(match.group(1)))


def screenshot(browser: str, page: Path, target: Path, budget_ms: int) -> None:
    subprocess.run(
        [
            browser,
            *CHROMIUM_FLAGS,
            f"--virtual-time-budget={budget_ms}",
            "--window-size=1280,1400",
            f"--screenshot={target}",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )


def math_pages(site: Path) -> list[Path]:
    pages = sorted((site / "theory").glob("*.html"))
    pages += [site / "notation.html", site / "index.html"]
    pages += sorted((site / "lectures").glob("lecture*.html"))
    return [p for p in pages if p.exists()]


def gallery_pages(site: Path) -> list[Path]:
    folder = site / "auto_examples"
    return sorted(folder.glob("plot_*.html")) + [p for p in [folder / "index.html"] if p.exists()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, default=DEFAULT_SITE, help="the built HTML folder")
    parser.add_argument("--out", type=Path, default=None, help="screenshot folder")
    parser.add_argument("--budget", type=int, default=15000, help="virtual time per page (ms)")
    parser.add_argument("--static-only", action="store_true", help="skip the browser checks")
    args = parser.parse_args(argv)
    site = args.site.resolve()
    if not (site / "index.html").exists():
        print(f"--site: no built site at {site} (build it first)", file=sys.stderr)
        return 2
    failures = []

    remote = external_assets(site)
    for page, kind, url in remote:
        failures.append(f"{page.relative_to(site)}: {kind} = {url}")
    n_pages = len(list(site.rglob("*.html")))
    print(f"static: {n_pages} HTML files, {len(remote)} remote script/stylesheet URLs")
    if args.static_only:
        return _finish(failures)

    browser = chromium()
    if browser is None:
        print("chromium not found: apt-get install chromium", file=sys.stderr)
        return 2

    for page in math_pages(site):
        r = probe(browser, page, args.budget)
        name = page.relative_to(site)
        if "error" in r:
            failures.append(f"{name}: {r['error']}")
            continue
        print(
            f"math:   {name}: {r['math_spans']} formulas, {r['typeset']} typeset, "
            f"{r['images']} images, raw TeX left: {len(r['raw_tex'])}"
        )
        if r["math_spans"] and not r["typeset"]:
            failures.append(f"{name}: {r['math_spans']} formulas but no MathJax output")
        for snippet in r["raw_tex"]:
            failures.append(f"{name}: raw TeX in the rendered text: …{snippet}…")
        failures += [f"{name}: image did not load: {src}" for src in r["broken"]]

    for page in gallery_pages(site):
        r = probe(browser, page, args.budget)
        name = page.relative_to(site)
        if "error" in r:
            failures.append(f"{name}: {r['error']}")
            continue
        print(f"images: {name}: {r['images']} images, {len(r['broken'])} broken")
        if page.name.startswith("plot_") and r["images"] == 0:
            failures.append(f"{name}: no figure on a gallery page")
        failures += [f"{name}: image did not load: {src}" for src in r["broken"]]

    out = (args.out or site.parent / "check").resolve()
    out.mkdir(parents=True, exist_ok=True)
    for page, shot in [
        (site / "index.html", "landing.png"),
        (site / "theory" / "fixed-mixture.html", "theory-fixed-mixture.png"),
    ]:
        if page.exists():
            screenshot(browser, page, out / shot, args.budget)
            print(f"screenshot: {out / shot}")
    return _finish(failures)


def _finish(failures: list[str]) -> int:
    for f in failures:
        print("FAIL", f)
    print("site check: " + ("all passed" if not failures else f"{len(failures)} problem(s)"))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
