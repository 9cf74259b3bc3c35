"""Write the API reference pages from the packages themselves.

Every public module of ``theory``, ``sims`` and ``paper_repro`` (no leading
underscore anywhere in its dotted name) gets one page: its docstring and an
autosummary table of its public names, i.e. ``__all__`` when the module defines
it, otherwise the functions and classes it defines without a leading underscore.
An object re-exported by several public modules is documented once, in the
public module that defines it. The pages are rewritten at every build, so a
module added to a package appears in the reference without any edit here.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

PACKAGES = ("theory", "sims", "paper_repro")
# Importing ``paper_repro.__main__`` runs the command line.
SKIP_MODULES = {"paper_repro.__main__"}

TITLES = {
    "theory": "theory — the exact mathematics",
    "sims": "sims — simulations, learning from samples, distillation",
    "paper_repro": "paper_repro — experiments, theorem checks, command line",
}


def _is_public(modname: str) -> bool:
    return not any(part.startswith("_") for part in modname.split("."))


def public_modules(packages=PACKAGES) -> list[str]:
    """Dotted names of every public module of ``packages``, packages first, sorted."""
    names = []
    for pkg in packages:
        mod = importlib.import_module(pkg)
        names.append(pkg)
        for info in pkgutil.walk_packages(mod.__path__, prefix=pkg + "."):
            if _is_public(info.name) and info.name not in SKIP_MODULES:
                names.append(info.name)
    return sorted(set(names))


def _listed(mod) -> list[str]:
    if hasattr(mod, "__all__"):
        return list(mod.__all__)
    return [
        name
        for name, obj in vars(mod).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and getattr(obj, "__module__", None) == mod.__name__
    ]


def public_names(modname: str) -> list[str]:
    """The names documented on the page of ``modname`` (see the module docstring)."""
    mod = importlib.import_module(modname)
    out = []
    for name in _listed(mod):
        obj = getattr(mod, name, None)
        if obj is None or inspect.ismodule(obj):
            continue
        home = getattr(obj, "__module__", None)
        if (
            home
            and home != modname
            and _is_public(home)
            and home.split(".")[0] in PACKAGES
            and name in _listed(importlib.import_module(home))
        ):
            continue
        out.append(name)
    return out


def _page(modname: str, names: list[str], show_doc: bool = True) -> str:
    title = f"``{modname}``"
    lines = [title, "=" * len(title), ""]
    if show_doc:
        lines += [f".. automodule:: {modname}", "   :no-members:", ""]
    else:
        lines += [f".. module:: {modname}", ""]
    if names:
        lines += [
            f".. currentmodule:: {modname}",
            "",
            ".. autosummary::",
            "   :toctree: generated",
            "   :nosignatures:",
            "",
        ]
        lines += [f"   {name}" for name in names]
        lines.append("")
    return "\n".join(lines)


def write(out_dir: Path, exclude: set[tuple[str, str]] = frozenset()) -> list[str]:
    """Write ``out_dir/<module>.rst`` for every public module and ``out_dir/index.rst``.

    ``exclude`` holds (module, name) pairs left out of the tables; the name
    ``"__doc__"`` leaves out the module's own docstring. Returns the
    module names. Files are rewritten only when their text changes, so Sphinx's
    incremental builds stay incremental.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    modules = public_modules()
    for modname in modules:
        names = [n for n in public_names(modname) if (modname, n) not in exclude]
        show_doc = (modname, "__doc__") not in exclude
        _write_if_changed(out_dir / f"{modname}.rst", _page(modname, names, show_doc))
    index = [
        "API reference",
        "=============",
        "",
        "Every public module of the three packages, with every public name it",
        "exports. Each function's page states the formula it computes and the",
        "result (T1–T12) it implements; the :doc:`../theory/index` pages explain",
        "the mathematics and link back here.",
        "",
    ]
    for pkg in PACKAGES:
        heading = TITLES[pkg]
        index += [heading, "-" * len(heading), "", ".. toctree::", "   :maxdepth: 1", ""]
        index += [f"   {m}" for m in modules if m == pkg or m.startswith(pkg + ".")]
        index.append("")
    _write_if_changed(out_dir / "index.rst", "\n".join(index))
    stale = {p.stem for p in out_dir.glob("*.rst")} - set(modules) - {"index"}
    for name in stale:
        (out_dir / f"{name}.rst").unlink()
    # Stubs of names no longer documented (removed, renamed or excluded).
    documented = {f"{m}.{n}" for m in modules for n in public_names(m) if (m, n) not in exclude}
    for stub in (out_dir / "generated").glob("*.rst"):
        if stub.stem not in documented:
            stub.unlink()
    return modules


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
