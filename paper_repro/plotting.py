"""One figure style for every experiment of ``modgate reproduce``.

Figures are drawn with the non-interactive Agg backend, in a fixed style: the
same colour for the same method in every figure, the THEORY ID in every title,
nats on every information axis. :func:`save` writes atomically so that an
interrupted run never leaves a truncated PNG behind.
"""

from __future__ import annotations

import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

__all__ = [
    "METHOD_COLORS",
    "atomic_path",
    "color",
    "figure",
    "save",
    "temporaries",
    "title",
    "writable_folder",
]

#: The colour of a method, identical across figures (robust gate always dark red).
METHOD_COLORS = {
    "robust gate": "#b2182b",
    "robust gate (dual)": "#b2182b",
    "primal-dual gate": "#ef8a62",
    "distilled router": "#8c510a",
    "uniform mixture": "#2166ac",
    "best single expert": "#67a9cf",
    "aggregate retraining": "#1b7837",
    "group DRO": "#762a83",
    "RegMix": "#c2a5cf",
    "parameter merging": "#7f7f7f",
    "size-proportional": "#5aae61",
    "uniform weights": "#a6dba0",
    "JSD": "#000000",
    "bound": "#000000",
}

_CYCLE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

_STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 110,
    "savefig.bbox": "tight",
    "font.size": 9.5,
    "axes.titlesize": 10,
    "axes.labelsize": 9.5,
    "legend.fontsize": 8,
    "legend.framealpha": 0.85,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.6,
    "lines.markersize": 4,
}


def color(name: str, index: int = 0) -> str:
    """The fixed colour of a method ``name``, else the ``index``-th colour of the cycle."""
    for key, value in METHOD_COLORS.items():
        if name.startswith(key):
            return value
    return _CYCLE[index % len(_CYCLE)]


def figure(ncols: int = 1, nrows: int = 1, width: float = 4.6, height: float = 3.5, **kwargs):
    """A figure with ``nrows × ncols`` panels in the house style; returns (fig, axes array)."""
    with plt.rc_context(_STYLE):
        fig, axes = plt.subplots(
            nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, **kwargs
        )
    for ax in axes.flat:
        ax.grid(True, alpha=_STYLE["grid.alpha"])
        ax.spines["top"].set_visible(False)
        ax.spines["right"].set_visible(False)
    return fig, axes


def title(fig, theorem: str, text: str) -> None:
    """The figure title, always led by the THEORY ID the figure illustrates."""
    fig.suptitle(f"{theorem}: {text}", fontsize=11, fontweight="bold")


# A temporary of atomic_path is named ".<target name>.<8 random characters>.tmp"
# (tempfile.mkstemp's prefix + random part + suffix), so a run can recognise the
# ones an earlier, killed run left behind and remove them without touching other files.
_TEMP_PREFIX, _TEMP_SUFFIX = ".", ".tmp"
_TEMP_NAME = re.compile(r"\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp")


def _umask() -> int:
    """The process umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    # Elsewhere the only way to read the umask is to set it and put it back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: Path):
    """Yield a temporary path next to ``path``; on success move it over ``path`` atomically.

    The temporary file lives in the same folder so that ``os.replace`` is a rename
    on the same file system; on failure it is removed and ``path`` is untouched.
    Before the rename the file gets the mode of a file created with ``open``
    (0o666 minus the umask, e.g. 0o644 under umask 022), not the 0o600 of a
    temporary file.

    Parameters
    ----------
    path : str or Path
        The file to write; its folder is created if missing.

    Yields
    ------
    Path
        The temporary file to write, ``.<name>.<random>.tmp`` in the same folder.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f"{_TEMP_PREFIX}{path.name}.", suffix=_TEMP_SUFFIX
    )
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def temporaries(folder: Path) -> list[tuple[Path, Path]]:
    """The temporary files :func:`atomic_path` left in ``folder`` (not its subfolders).

    A temporary outlives its ``with`` block only if the process was killed while
    writing it; the caller decides whether the writer may still be alive.

    Parameters
    ----------
    folder : str or Path
        A folder; a missing one has no temporaries.

    Returns
    -------
    list of (Path, Path)
        ``(temporary, target)`` pairs, the target being the file it was meant to replace.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for entry in sorted(folder.iterdir()):
        m = _TEMP_NAME.fullmatch(entry.name)
        if m and entry.is_file():
            found.append((entry, folder / m.group("target")))
    return found


def writable_folder(path: Path, name: str, *, create: bool = True) -> Path:
    """Check that files can be written in the folder ``path``, before any work is done.

    Parameters
    ----------
    path : str or Path
        The folder.
    name : str
        The argument that gave ``path``, named in the error message.
    create : bool
        Create the folder (and its parents) if missing; otherwise a missing folder
        is an error.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        If ``path`` is a file, is missing (with ``create=False``), cannot be
        created, or a file cannot be created in it. The check writes and removes a
        probe file, because permission bits do not tell (root ignores them, a
        read-only mount does not show in them).
    """
    path = Path(path)
    try:
        if path.exists() and not path.is_dir():
            raise ValueError(f"{name}: {path} is a file, not a folder")
        if create:
            path.mkdir(parents=True, exist_ok=True)
        elif not path.is_dir():
            raise ValueError(f"{name}: the folder {path} does not exist")
    except OSError as exc:
        raise ValueError(f"{name}: cannot create the folder {path}: {exc.strerror}") from exc
    try:
        fd, probe = tempfile.mkstemp(
            dir=path, prefix=f"{_TEMP_PREFIX}write-probe.", suffix=_TEMP_SUFFIX
        )
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ValueError(f"{name}: cannot write in the folder {path}: {exc.strerror}") from exc
    return path


def save(fig, path: Path) -> Path:
    """Write ``fig`` as a PNG to ``path`` atomically and close it."""
    with plt.rc_context(_STYLE), atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(path)
