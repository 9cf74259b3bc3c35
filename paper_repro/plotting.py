"""One figure style for every experiment of ``modgate reproduce``.

Figures are drawn with the non-interactive Agg backend, in a fixed style: the
same colour for the same method in every figure, the THEORY ID in every title,
nats on every information axis. :func:`save` writes atomically so that an
interrupted run never leaves a truncated PNG behind.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["METHOD_COLORS", "color", "figure", "title", "save", "atomic_path"]

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


@contextmanager
def atomic_path(path: Path):
    """Yield a temporary path next to ``path``; on success move it over ``path`` atomically.

    The temporary file lives in the same folder so that ``os.replace`` is a rename
    on the same file system; on failure it is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save(fig, path: Path) -> Path:
    """Write ``fig`` as a PNG to ``path`` atomically and close it."""
    with plt.rc_context(_STYLE), atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(path)
