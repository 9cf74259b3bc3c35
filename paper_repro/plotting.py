r"""One figure style for the experiments of ``modgate reproduce`` and for users' own instances.

The house style, written once here and used by every figure:

* **Size.** Figures are :data:`WIDTH` = 7 inches wide, the text width of a
  printed page, so that every text is at least :data:`MIN_FONT_SIZE` = 9 pt when
  the figure is printed at its saved size (and larger on a slide).
* **Layout.** Matplotlib's constrained layout places titles, labels, colour bars
  and the legends that sit outside the axes; legends never cover data: they go
  below the panels (:func:`figure_legend`), in a panel of their own
  (:func:`legend_panel`) or at a location where :func:`layout_problems` finds
  no data.
* **Symbols.** Mathematical symbols are written in mathtext
  (``$D_\lambda$``, ``$\lambda^*$``, ``$V^*(\Lambda)$``, ``$m^{-1/2}$``) and every
  axis that carries an information quantity says its unit (nats).
* **Colour.** A method has one colour in every figure (:data:`METHOD_COLORS`,
  looked up by :func:`color`): the Okabe–Ito palette [1]_ for the methods of
  the paper and Paul Tol's "muted" palette [2]_ for the data-weighting
  comparators, both designed to stay distinguishable under the common
  colour-vision deficiencies.
  Cases that are not methods (perfect vs imperfect experts, model families) take
  :func:`case_color`; ordered series of one method (lengths T, sizes K) take
  :func:`shades` of the method's colour; heat maps use viridis.
* **Titles.** :func:`title` writes the paper's section ("§4.4 least-favorable
  mixture", as numbered in Cortes, Mohri & Zhong, arXiv:2602.17554, and on the
  theory pages of the documentation), the claim shown, and the package's result
  ID (T6) in smaller type.
* **Files.** :func:`save` writes a PNG at :data:`DPI` = 200 dpi and a PDF
  (vector, for print), each atomically with the mode the umask gives.

:func:`layout_problems` measures a drawn figure with the renderer: overlapping
texts, texts outside the canvas or over another panel, legends and texts over
data, data outside its axes, text below 9 pt. The tests run it on every figure.

Three helpers draw a user's own instance: :func:`plot_dual` (the dual function
d(λ) of T5 with λ* and the certificate of the robust gate, for K = 2 or 3),
:func:`plot_gate` (a robust gate and the experts' envelope of T2) and
:func:`plot_compare` (the worst case of several models, as in T10).

References
----------
.. [1] M. Okabe and K. Ito, "Color Universal Design (CUD): how to make figures
   and presentations that are friendly to colorblind people", 2008.
.. [2] P. Tol, "Colour schemes", SRON technical note SRON/EPS/TN/09-002, 2021.

Examples
--------
>>> from paper_repro.plotting import figure, layout_problems, title
>>> fig, axes = figure(1, 2, height=2.5)
>>> _ = axes[0, 0].plot([0, 1], [0, 1], label="a")
>>> title(fig, "T6", "the capacity of the domains", experiment="E2")
>>> layout_problems(fig)
[]
"""

from __future__ import annotations

import functools
import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.tri as mtri  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.collections import Collection, PathCollection  # noqa: E402
from matplotlib.colors import to_hex, to_rgb  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402
from matplotlib.legend import Legend  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.text import Annotation, Text  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

__all__ = [
    "CASE_COLORS",
    "DPI",
    "METHOD_COLORS",
    "MIN_FONT_SIZE",
    "SECTIONS",
    "STYLE",
    "VECTOR_FORMAT",
    "WIDTH",
    "atomic_path",
    "case_color",
    "color",
    "figure",
    "figure_legend",
    "layout_problems",
    "legend_entries",
    "legend_panel",
    "plot_compare",
    "plot_dual",
    "plot_gate",
    "save",
    "shades",
    "styled",
    "temporaries",
    "ternary_heatmap",
    "ternary_xy",
    "title",
    "writable_folder",
]

#: Width of every figure (inches): the text width of a printed page.
WIDTH = 7.0
#: Resolution of the PNG files (dots per inch).
DPI = 200
#: The vector format written next to every PNG.
VECTOR_FORMAT = "pdf"
#: The smallest font size (points) of any text at the saved size.
MIN_FONT_SIZE = 9.0

# Okabe & Ito [1] for the methods of the paper, Tol's "muted" scheme [2] for the comparators.
_OKABE_ITO = {
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
}
_TOL_MUTED = {
    "rose": "#CC6677",
    "indigo": "#332288",
    "sand": "#DDCC77",
    "green": "#117733",
    "cyan": "#88CCEE",
    "wine": "#882255",
    "teal": "#44AA99",
    "olive": "#999933",
    "purple": "#AA4499",
}
_GREY = "#7A7A7A"

#: The colour of each method, the same in every figure. A name is looked up
#: exactly, then by its longest key that is a prefix ("robust gate (dual)" is a
#: "robust gate"); the short names are those of ``theory.evaluate.compare``.
METHOD_COLORS = {
    "robust gate": _OKABE_ITO["vermillion"],
    "robust": _OKABE_ITO["vermillion"],
    "modular gate": _OKABE_ITO["vermillion"],
    "primal-dual gate": _OKABE_ITO["orange"],
    "primal-dual gate (tabular)": _OKABE_ITO["orange"],
    "primal-dual gate (loglik)": _OKABE_ITO["reddish purple"],
    "softmax-linear gate": _OKABE_ITO["reddish purple"],
    "distilled router": _OKABE_ITO["bluish green"],
    "uniform mixture": _OKABE_ITO["blue"],
    "uniform": _OKABE_ITO["blue"],
    "expert": _OKABE_ITO["sky blue"],
    "best single expert": _OKABE_ITO["sky blue"],
    "aggregate retraining": _TOL_MUTED["indigo"],
    "aggregate": _TOL_MUTED["indigo"],
    "monolithic": _TOL_MUTED["indigo"],
    "proportional": _TOL_MUTED["sand"],
    "uniform weights": _TOL_MUTED["teal"],
    "group DRO": _TOL_MUTED["wine"],
    "RegMix": _TOL_MUTED["olive"],
    "parameter merging": _GREY,
}

#: Colours of cases that are not methods (Tol's high-contrast scheme [2]).
CASE_COLORS = ("#004488", "#DDAA33", "#BB5566")

# Models of a user's table whose name is no method: colours no method uses.
_OTHER = (_TOL_MUTED["rose"], _TOL_MUTED["green"], _TOL_MUTED["cyan"], _TOL_MUTED["purple"])
# The experts p_1, …, p_K of a user's instance, by index.
_EXPERT_CYCLE = tuple(_TOL_MUTED.values())

#: The paper's section of each result ID of the package (and of the two
#: measured phenomena without one).
SECTIONS = {
    "T1": "§3 setup",
    "T2": "§3 setup",
    "T3": "§4.1 fixed mixture",
    "T4": "§4.2 robust existence",
    "T7": "§4.3 prior knowledge",
    "T5": "§4.4 least-favorable mixture",
    "T6": "§4.4 least-favorable mixture",
    "T9": "§4.5.1 monolithic barrier",
    "T8": "§4.5.2 modular advantage",
    "decoupling": "§4.5.3 decoupling",
    "T10": "§4.5.4 safety in convex settings",
    "T8–T10": "§4.5 modular vs monolithic",
    "T6–T10": "§4.5 modular vs monolithic",
    "T11": "§4.6 generalization",
    "T12": "§5.2 primal-dual",
    "distillation": "structural distillation",
}

#: The house style (matplotlib rc parameters), applied by :func:`styled`.
STYLE = {
    "figure.constrained_layout.use": True,
    "figure.constrained_layout.h_pad": 0.08,
    "figure.constrained_layout.w_pad": 0.04,
    "figure.dpi": 100,
    "savefig.dpi": DPI,
    "savefig.bbox": "standard",
    "pdf.fonttype": 42,
    "svg.fonttype": "none",
    "font.size": 9.5,
    "axes.titlesize": 10,
    "axes.labelsize": 9.5,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.title_fontsize": 9.5,
    "figure.titlesize": 11,
    "mathtext.fontset": "dejavusans",
    "mathtext.default": "it",
    "image.cmap": "viridis",
    "legend.frameon": False,
    "legend.handlelength": 2.2,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": matplotlib.cycler(color=list(_OTHER)),
    "lines.linewidth": 1.6,
    "lines.markersize": 4.5,
}


def styled(func):
    """Decorator: run ``func`` in the house style (:data:`STYLE`).

    Matplotlib reads most rc parameters when an artist is created, so a figure
    is styled only if it is built inside the style; every experiment's ``plot``
    and every helper of this module is decorated.

    Parameters
    ----------
    func : callable
        A function that draws a figure.

    Returns
    -------
    callable
        ``func`` wrapped in ``matplotlib.pyplot.rc_context(STYLE)``.

    Examples
    --------
    >>> @styled
    ... def font_size():
    ...     import matplotlib.pyplot as plt
    ...     return plt.rcParams["font.size"]
    >>> font_size() == STYLE["font.size"]
    True
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with plt.rc_context(STYLE):
            return func(*args, **kwargs)

    return wrapper


# ----------------------------------------------------------------------------- colours


def color(name: str, index: int = 0) -> str:
    """The colour of the method ``name``, the same in every figure.

    Parameters
    ----------
    name : str
        A method, e.g. ``"robust gate (dual)"``, ``"group DRO"``, ``"expert en"``.
    index : int, default 0
        For a name that is no method of :data:`METHOD_COLORS`: the position of the
        model in its figure, which picks a colour no method uses.

    Returns
    -------
    str
        A hex colour.

    Examples
    --------
    >>> color("robust gate (dual)") == color("robust")
    True
    """
    if name in METHOD_COLORS:
        return METHOD_COLORS[name]
    low = name.lower()
    keys = [k for k in METHOD_COLORS if low.startswith(k.lower())]
    if keys:
        return METHOD_COLORS[max(keys, key=len)]
    return _OTHER[index % len(_OTHER)]


def case_color(index: int) -> str:
    """The colour of the ``index``-th case of a figure that is not a method (Tol high contrast).

    Parameters
    ----------
    index : int
        The case's position; the three colours of :data:`CASE_COLORS` repeat.

    Returns
    -------
    str
        A hex colour.

    Examples
    --------
    >>> case_color(0), case_color(3) == case_color(0)
    ('#004488', True)
    """
    return CASE_COLORS[index % len(CASE_COLORS)]


def shades(base: str, count: int) -> list[str]:
    """``count`` shades of one colour, light to dark, for an ordered series of one method.

    Parameters
    ----------
    base : str
        A method name (see :func:`color`) or a matplotlib colour.
    count : int
        Number of shades, ≥ 1; a single shade is the colour itself.

    Returns
    -------
    list of str
        Hex colours from the colour mixed with 45 % white to the colour mixed with 35 % black.

    Examples
    --------
    >>> shades("robust gate", 3)
    ['#e8a673', '#b97239', '#8a3d00']
    """
    try:
        rgb = np.array(to_rgb(base))
    except ValueError:
        rgb = np.array(to_rgb(color(base)))
    if count == 1:
        return [to_hex(rgb)]
    light, dark = rgb + 0.45 * (1.0 - rgb), 0.65 * rgb
    return [to_hex(light + t * (dark - light)) for t in np.linspace(0.0, 1.0, count)]


# ----------------------------------------------------------------------------- figures


@styled
def figure(nrows: int = 1, ncols: int = 1, *, height: float = 3.0, width: float = WIDTH, **kwargs):
    """A figure of ``nrows × ncols`` panels in the house style.

    Parameters
    ----------
    nrows, ncols : int
        The grid of panels.
    height : float, default 3.0
        Height of the whole figure (inches).
    width : float, default :data:`WIDTH`
        Width of the whole figure (inches).
    **kwargs
        Passed to :func:`matplotlib.pyplot.subplots` (``sharex``, ``gridspec_kw``, …).

    Returns
    -------
    fig : Figure
        The figure, with constrained layout.
    axes : ndarray of Axes, shape (nrows, ncols)
        The panels, always as a 2-D array.

    Examples
    --------
    >>> fig, axes = figure(1, 2, height=2.5)
    >>> axes.shape, fig.get_size_inches().tolist()
    ((1, 2), [7.0, 2.5])
    """
    return plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False, **kwargs)


def title(fig: Figure, results: str | Sequence[str], claim: str, *, experiment: str = "") -> None:
    """The figure title: the paper's section and the claim, the result IDs in smaller type.

    Parameters
    ----------
    fig : Figure
        The figure to title.
    results : str or sequence of str
        Result IDs of the package (``"T6"`` or ``("T5", "T6")``) or one of the
        keys ``"decoupling"``, ``"distillation"`` of :data:`SECTIONS`; the first
        one names the section (an ID without a section, e.g. a user's own
        result, gives a title without one).
    claim : str
        What the figure shows, in a few words (mathtext allowed).
    experiment : str, optional
        The experiment ID (``"E2"``), written after the result IDs.

    Raises
    ------
    ValueError
        If ``results`` is empty.

    Examples
    --------
    >>> fig, _ = figure()
    >>> title(fig, ("T5", "T6"), "the least-favorable mixture", experiment="E2")
    >>> fig.get_suptitle()
    '§4.4 least-favorable mixture: the least-favorable mixture'
    """
    ids = [results] if isinstance(results, str) else list(results)
    if not ids:
        raise ValueError("results: expected at least one result ID, got none")
    section = SECTIONS.get(ids[0])
    with plt.rc_context(STYLE):
        sup = fig.suptitle(f"{section}: {claim}" if section else claim, x=0.005, ha="left")

        tag = ", ".join(i for i in ids if i not in ("decoupling", "distillation"))
        tag = " · ".join(t for t in (tag, experiment) if t)
        if tag:
            ident = Annotation(
                tag,
                xy=(0.995, 0.5),
                xycoords=("figure fraction", sup),
                ha="right",
                va="center",
                fontsize=MIN_FONT_SIZE,
                color=_GREY,
            )
            fig.add_artist(ident)


def figure_legend(fig: Figure, handles=None, labels=None, *, ncol: int = 2, **kwargs) -> Legend:
    """A legend below all panels, outside the data; constrained layout makes room for it.

    Parameters
    ----------
    fig : Figure
        The figure.
    handles, labels : sequence, optional
        As for :meth:`matplotlib.figure.Figure.legend`; by default the labelled
        artists of every panel, each label once.
    ncol : int, default 2
        Number of columns of the legend.
    **kwargs
        Passed to :meth:`matplotlib.figure.Figure.legend`.

    Returns
    -------
    Legend
        The figure legend.

    Examples
    --------
    >>> fig, axes = figure(1, 2)
    >>> _ = axes[0, 0].plot([0, 1], label="robust gate")
    >>> _ = axes[0, 1].plot([1, 0], label="robust gate")
    >>> [t.get_text() for t in figure_legend(fig).get_texts()]  # each label once
    ['robust gate']
    """
    if handles is None:
        handles, labels = legend_entries(fig.axes)
    with plt.rc_context(STYLE):
        return fig.legend(handles, labels, loc="outside lower center", ncol=ncol, **kwargs)


def legend_panel(ax: Axes, handles=None, labels=None, **kwargs) -> Legend:
    """Turn the panel ``ax`` into a legend: no axes, the legend in its upper left corner.

    Parameters
    ----------
    ax : Axes
        A panel left free for the legend (e.g. the fourth of a 2 × 2 grid).
    handles, labels : sequence, optional
        By default the labelled artists of every panel of the figure, each label once.
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.legend`.

    Returns
    -------
    Legend
        The legend drawn in ``ax``.

    Examples
    --------
    >>> fig, axes = figure(1, 2)
    >>> _ = axes[0, 0].plot([0, 1], label="uniform")
    >>> legend = legend_panel(axes[0, 1])
    >>> axes[0, 1].axison, [t.get_text() for t in legend.get_texts()]
    (False, ['uniform'])
    """
    if handles is None:
        handles, labels = legend_entries([a for a in ax.figure.axes if a is not ax])
    ax.set_axis_off()
    with plt.rc_context(STYLE):
        return ax.legend(
            handles, labels, loc="upper left", bbox_to_anchor=(0.0, 1.0), borderaxespad=0, **kwargs
        )


def legend_entries(axes) -> tuple[list, list[str]]:
    """The labelled artists of the panels ``axes``, each label once, in drawing order.

    Parameters
    ----------
    axes : iterable of Axes
        The panels to collect from.

    Returns
    -------
    handles : list of Artist
        One artist per distinct label.
    labels : list of str
        The labels, in drawing order.

    Examples
    --------
    >>> fig, axes = figure(1, 2)
    >>> _ = axes[0, 0].plot([0, 1], label="a")
    >>> _ = axes[0, 1].plot([1, 0], label="a")
    >>> _ = axes[0, 1].plot([1, 1], label="b")
    >>> legend_entries(fig.axes)[1]
    ['a', 'b']
    """
    handles, labels = [], []
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    return handles, labels


def ternary_xy(lam) -> tuple[np.ndarray, np.ndarray]:
    """Planar coordinates of points of Δ_3: e_1 at (0, 0), e_2 at (1, 0), e_3 at (1/2, √3/2).

    The point λ maps to (λ_2 + λ_3/2, (√3/2) λ_3), an affine image of the
    simplex as an equilateral triangle.

    Parameters
    ----------
    lam : array_like, shape (3,) or (m, 3)
        Points of Δ_3.

    Returns
    -------
    x, y : ndarray, shape (m,)
        Their planar coordinates.

    Examples
    --------
    >>> x, y = ternary_xy([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    >>> x, y.round(4)
    (array([0. , 0.5]), array([0.   , 0.866]))
    """
    lam = np.atleast_2d(np.asarray(lam, dtype=np.float64))
    return lam[:, 1] + 0.5 * lam[:, 2], lam[:, 2] * np.sqrt(3.0) / 2.0


@styled
def ternary_heatmap(ax: Axes, grid, values, *, vmin=None, vmax=None, names=None):
    """Draw ``values`` on the triangle Δ_3 (shaded, with white contours) and label its vertices.

    Parameters
    ----------
    ax : Axes
        Where to draw.
    grid : array_like, shape (m, 3)
        Points of Δ_3 that triangulate it (e.g. a lattice with its vertices).
    values : array_like, shape (m,)
        The function at those points.
    vmin, vmax : float, optional
        The colour scale (viridis).
    names : sequence of 3 str, optional
        The vertex labels; by default ``$\\lambda_k = 1$``.

    Returns
    -------
    mappable
        The shaded triangulation, for a colour bar.

    Examples
    --------
    >>> from paper_repro.experiments._common import simplex_grid
    >>> fig, axes = figure(1, 1, width=3.0)
    >>> grid = simplex_grid(3, 10)
    >>> shade = ternary_heatmap(axes[0, 0], grid, grid[:, 0])  # the function λ ↦ λ_1
    >>> _ = fig.colorbar(shade, ax=axes[0, 0])
    """
    x, y = ternary_xy(grid)
    tri = mtri.Triangulation(x, y)
    shade = ax.tripcolor(tri, values, shading="gouraud", cmap="viridis", vmin=vmin, vmax=vmax)
    if np.ptp(values) > 0:
        ax.tricontour(tri, values, levels=8, colors="w", linewidths=0.5, alpha=0.7)
    h = np.sqrt(3.0) / 2.0
    ax.plot([0, 1, 0.5, 0], [0, 0, h, 0], "k-", lw=0.8)
    names = names or [rf"$\lambda_{k} = 1$" for k in (1, 2, 3)]
    # The bottom labels run inward under the base, so that neighbouring triangles
    # cannot be confused.
    for (tx, ty), lab, (dx, dy), ha, va in zip(
        [(0, 0), (1, 0), (0.5, h)],
        names,
        [(0, -4), (0, -4), (0, 4)],
        ["left", "right", "center"],
        ["top", "top", "bottom"],
        strict=True,
    ):
        ax.annotate(lab, (tx, ty), textcoords="offset points", xytext=(dx, dy), ha=ha, va=va)
    ax.set_aspect("equal")
    # Room for the vertex labels inside the axes, so that titles clear them.
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.09, h + 0.09)
    ax.set_axis_off()
    return shade


# ----------------------------------------------------------------------------- saving

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

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     with atomic_path(Path(folder) / "notes.txt") as tmp:
    ...         _ = tmp.write_text("done")
    ...     sorted(p.name for p in Path(folder).iterdir())
    ['notes.txt']
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

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     (Path(folder) / ".E1_kakutani.png.abcd1234.tmp").write_bytes(b"")
    ...     [target.name for _, target in temporaries(folder)]
    0
    ['E1_kakutani.png']
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

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     writable_folder(Path(folder) / "figures", "out").name
    'figures'
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


def save(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG at :data:`DPI` and as a PDF next to it, atomically, and close it.

    Parameters
    ----------
    fig : Figure
        The figure; it is closed afterwards.
    path : str or Path
        The PNG file; the vector file is ``path`` with the suffix ``.pdf``.

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> fig, _ = figure()
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = save(fig, Path(folder) / "E0_demo.png")
    ...     sorted(p.name for p in Path(folder).iterdir())
    ['E0_demo.pdf', 'E0_demo.png']
    """
    path = Path(path)
    with plt.rc_context(STYLE):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=DPI)
        # No creation date in the PDF, so that an unchanged figure gives an unchanged file.
        with atomic_path(path.with_suffix(f".{VECTOR_FORMAT}")) as tmp:
            fig.savefig(tmp, format=VECTOR_FORMAT, metadata={"CreationDate": None})
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------- layout check

# Boxes closer than this (pixels at the figure's dpi) are touching, not overlapping.
_SLACK = 1.0
# Outside $...$, a subscript, superscript or command is shown as typed (m^{-1/2}, D_λ).
_MATH = re.compile(r"(?<!\\)\$.*?(?<!\\)\$")
_RAW_MARKUP = re.compile(r"[_^\\]")


def _label(text: Text) -> str:
    s = text.get_text().replace("\n", " ")
    return repr(s if len(s) <= 40 else s[:37] + "...")


def _axis_texts(ax: Axes, where: str, renderer) -> list[tuple[str, Text]]:
    out: list[tuple[str, Text]] = []
    if not ax.axison:
        return out
    for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
        if not axis.get_visible():
            continue
        ticks = axis._update_ticks()  # the ticks drawn: inside the view, with their labels set
        for tick in ticks:
            for lab in (tick.label1, tick.label2):
                if lab.get_visible() and lab.get_text():
                    out.append((f"{name} tick label {_label(lab)} of {where}", lab))
        if axis.label.get_visible() and axis.label.get_text():
            out.append((f"{name} label {_label(axis.label)} of {where}", axis.label))
        off = axis.get_offset_text()
        if off.get_visible() and off.get_text():
            out.append((f"{name} offset text of {where}", off))
    return out


def _texts(fig: Figure, renderer) -> tuple[list, list]:
    """Every drawn text box of ``fig`` as (description, artist, bbox, owner axes or None)."""
    boxes = []
    fonts = []

    def add(desc, artist, owner, bbox=None):
        bbox = bbox if bbox is not None else Text.get_window_extent(artist, renderer)
        boxes.append((desc, artist, bbox, owner))

    for attr, what in (
        ("_suptitle", "suptitle"),
        ("_supxlabel", "supxlabel"),
        ("_supylabel", "supylabel"),
    ):
        t = getattr(fig, attr, None)
        if t is not None and t.get_visible() and t.get_text():
            add(f"{what} {_label(t)}", t, None)
            fonts.append((f"{what} {_label(t)}", t))
    titles = {id(getattr(fig, a, None)) for a in ("_suptitle", "_supxlabel", "_supylabel")}
    for t in list(fig.texts) + [a for a in fig.artists if isinstance(a, Text)]:
        if id(t) not in titles and t.get_visible() and t.get_text():
            add(f"figure text {_label(t)}", t, None)
            fonts.append((f"figure text {_label(t)}", t))
    for leg in fig.legends:
        if leg.get_visible():
            add("figure legend", leg, None, leg.get_window_extent(renderer))
            fonts += [(f"figure legend entry {_label(t)}", t) for t in leg.get_texts()]
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible():
            continue
        where = f"panel {i + 1}" + (f" ({ax.get_title()!r})" if ax.get_title() else "")
        for t in (ax.title, ax._left_title, ax._right_title):
            if t.get_visible() and t.get_text():
                add(f"title {_label(t)} of panel {i + 1}", t, ax)
                fonts.append((f"title {_label(t)}", t))
        for desc, t in _axis_texts(ax, where, renderer):
            add(desc, t, ax)
            fonts.append((desc, t))
        for t in ax.texts:
            if t.get_visible() and t.get_text():
                add(f"text {_label(t)} in {where}", t, ax)
                fonts.append((f"text {_label(t)} in {where}", t))
        leg = ax.get_legend()
        if leg is not None and leg.get_visible():
            add(f"legend of {where}", leg, ax, leg.get_window_extent(renderer))
            fonts += [(f"legend entry {_label(t)} of {where}", t) for t in leg.get_texts()]
            if leg.get_title().get_text():
                fonts.append((f"legend title of {where}", leg.get_title()))
    return boxes, fonts


def _overlap(a: Bbox, b: Bbox) -> bool:
    return min(a.x1, b.x1) - max(a.x0, b.x0) > _SLACK and min(a.y1, b.y1) - max(a.y0, b.y0) > _SLACK


def _segments_hit(xy: np.ndarray, box: Bbox) -> bool:
    """Whether the polyline ``xy`` (display coordinates, NaN breaks it) meets ``box``."""
    x0, y0, x1, y1 = box.x0 + _SLACK, box.y0 + _SLACK, box.x1 - _SLACK, box.y1 - _SLACK
    if x1 <= x0 or y1 <= y0 or len(xy) == 0:
        return False
    p, q = xy[:-1], xy[1:]
    ok = np.isfinite(p).all(axis=1) & np.isfinite(q).all(axis=1)
    p, q = p[ok], q[ok]
    if len(p) == 0:
        return False
    # Liang–Barsky clipping of every segment against the box, vectorized.
    d = q - p
    t0, t1 = np.zeros(len(p)), np.ones(len(p))
    inside = np.ones(len(p), dtype=bool)
    for dd, pp, lo, hi in ((d[:, 0], p[:, 0], x0, x1), (d[:, 1], p[:, 1], y0, y1)):
        for num, den in ((pp - lo, -dd), (hi - pp, dd)):
            parallel = den == 0
            inside &= ~(parallel & (num < 0))
            with np.errstate(divide="ignore", invalid="ignore"):
                r = np.where(parallel, np.nan, num / den)
            enter = ~parallel & (den < 0)
            leave = ~parallel & (den > 0)
            t0 = np.where(enter, np.maximum(t0, r), t0)
            t1 = np.where(leave, np.minimum(t1, r), t1)
    return bool(np.any(inside & (t0 <= t1)))


def _points_hit(xy: np.ndarray, radius, box: Bbox) -> bool:
    """Whether a marker of radius ``radius`` (pixels) centred at a row of ``xy`` meets ``box``."""
    r = np.broadcast_to(np.asarray(radius, dtype=float), (len(xy),))
    keep = np.isfinite(xy).all(axis=1)
    xy, r = xy[keep], r[keep]
    return bool(
        np.any(
            (xy[:, 0] + r > box.x0 + _SLACK)
            & (xy[:, 0] - r < box.x1 - _SLACK)
            & (xy[:, 1] + r > box.y0 + _SLACK)
            & (xy[:, 1] - r < box.y1 - _SLACK)
        )
    )


def _data_artists(ax: Axes):
    """The drawn data of ``ax``: lines, collections (markers, areas, meshes), patches, images."""
    spines = set(ax.spines.values())
    for artist in ax.get_children():
        if artist is ax.patch or artist in spines or not artist.get_visible():
            continue
        if isinstance(artist, Line2D | Collection | Patch | AxesImage):
            yield artist


def _shrunk(box: Bbox) -> Bbox:
    return Bbox.from_extents(box.x0 + _SLACK, box.y0 + _SLACK, box.x1 - _SLACK, box.y1 - _SLACK)


def _artist_hits(artist, box: Bbox, renderer) -> bool:
    """Whether the drawn ``artist`` (a line, collection, patch or image) meets ``box``."""
    px = renderer.points_to_pixels(1.0)
    if isinstance(artist, Line2D):
        xy = artist.get_transform().transform(np.asarray(artist.get_xydata(), dtype=float))
        if artist.get_linestyle() not in ("None", "", " ") and _segments_hit(xy, box):
            return True
        if artist.get_marker() in ("None", None, "", " "):
            return False
        return _points_hit(xy, 0.5 * artist.get_markersize() * px, box)
    if isinstance(artist, PathCollection):
        xy = artist.get_offset_transform().transform(np.asarray(artist.get_offsets(), float))
        sizes = artist.get_sizes()
        radius = 0.5 * np.sqrt(sizes if len(sizes) in (1, len(xy)) else sizes[:1]) * px
        return _points_hit(xy, radius, box)
    if isinstance(artist, Collection):
        faces = artist.get_facecolor()
        filled = bool(len(faces)) and bool(np.any(faces[:, 3] > 0))
        transform = artist.get_transform()
        for path in artist.get_paths():
            tp = transform.transform_path(path)
            if len(tp.vertices) == 0:
                continue
            if filled and tp.intersects_bbox(_shrunk(box), filled=True):
                return True
            if not filled and _segments_hit(tp.vertices, box):
                return True
        return False
    if isinstance(artist, Patch):
        tp = artist.get_transform().transform_path(artist.get_path())
        return bool(tp.intersects_bbox(_shrunk(box), filled=artist.get_fill()))
    return _overlap(artist.get_window_extent(renderer), box)


def _outside_view(artist, ax: Axes) -> bool:
    """Whether a clipped ``artist`` of ``ax`` has data outside the axes (so is cut off)."""
    if not artist.get_clip_on():
        return False
    if isinstance(artist, Line2D):
        xy = artist.get_transform().transform(np.asarray(artist.get_xydata(), dtype=float))
    elif isinstance(artist, PathCollection):
        xy = artist.get_offset_transform().transform(np.asarray(artist.get_offsets(), float))
    elif isinstance(artist, Patch):
        xy = artist.get_transform().transform(artist.get_path().vertices)
    else:
        return False
    xy = xy[np.isfinite(xy).all(axis=1)]
    area, tol = ax.bbox, 1.5
    return bool(
        np.any(
            (xy[:, 0] < area.x0 - tol)
            | (xy[:, 0] > area.x1 + tol)
            | (xy[:, 1] < area.y0 - tol)
            | (xy[:, 1] > area.y1 + tol)
        )
    )


@styled
def layout_problems(fig: Figure) -> list[str]:
    """Everything that keeps ``fig`` from a slide or a page, measured with the renderer.

    The figure is drawn (so constrained layout runs) and the window extents of
    its texts are compared. A problem is

    * two text boxes that overlap (titles, suptitle, axis and tick labels, offset
      texts, annotations, legends — a legend counts as one box);
    * a text box outside the canvas, or over the plotting area of another panel;
    * a legend or a text inside a panel that covers its data (lines, markers,
      bars, filled areas, heat maps);
    * data outside the view of its panel (a curve cut off by the axis limits);
    * a text smaller than :data:`MIN_FONT_SIZE` points;
    * a subscript, superscript or command outside mathtext (``m^{-1/2}``, ``D_λ``).


    Boxes that touch within one pixel do not count.

    Parameters
    ----------
    fig : Figure
        The figure, fully drawn.

    Returns
    -------
    list of str
        One sentence per problem; empty for a clean figure.

    Examples
    --------
    >>> fig, axes = figure()
    >>> _ = axes[0, 0].set_xlabel("x", fontsize=6)
    >>> layout_problems(fig)
    ["x label 'x' of panel 1 is 6 pt, below 9 pt"]
    """
    # Lay the figure out and place every artist without rasterizing anything.
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    boxes, fonts = _texts(fig, renderer)

    problems = []
    for desc, t in fonts:
        if t.get_visible() and t.get_text() and t.get_fontsize() < MIN_FONT_SIZE - 1e-9:
            problems.append(f"{desc} is {t.get_fontsize():g} pt, below {MIN_FONT_SIZE:g} pt")
        if _RAW_MARKUP.search(_MATH.sub("", t.get_text())):
            problems.append(f"{desc} shows raw markup; write the symbols in mathtext ($...$)")
    canvas = fig.bbox
    for desc, _, box, _ in boxes:
        if (
            box.x0 < canvas.x0 - _SLACK
            or box.y0 < canvas.y0 - _SLACK
            or box.x1 > canvas.x1 + _SLACK
            or box.y1 > canvas.y1 + _SLACK
        ):
            problems.append(f"{desc} extends outside the figure")
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            if _overlap(boxes[i][2], boxes[j][2]):
                problems.append(f"{boxes[i][0]} overlaps {boxes[j][0]}")
    panels = [ax for ax in fig.axes if ax.get_visible()]
    for desc, _, box, owner in boxes:
        for ax in panels:
            if ax is owner or not ax.axison:
                continue
            if _overlap(box, ax.bbox):
                problems.append(f"{desc} lies over the plotting area of another panel")
                break
    for desc, artist, box, owner in boxes:
        covered = [owner] if owner is not None else panels
        if owner is not None and not (isinstance(artist, Legend) or artist in owner.texts):
            continue
        for ax in covered:
            if not _overlap(box, ax.bbox):
                continue
            for data in _data_artists(ax):
                if data is artist or (
                    isinstance(artist, Annotation) and data is artist.arrow_patch
                ):
                    continue
                if _artist_hits(data, box, renderer):
                    problems.append(f"{desc} covers data ({type(data).__name__}) of {_where(ax)}")
                    break
    for ax in panels:
        for data in _data_artists(ax):
            if _outside_view(data, ax):
                label = data.get_label()
                name = f" {label!r}" if label and not label.startswith("_") else ""
                problems.append(
                    f"{type(data).__name__}{name} of {_where(ax)} is cut off by the axis limits"
                )
    return problems


def _where(ax: Axes) -> str:
    i = ax.figure.axes.index(ax) + 1
    return f"panel {i}" + (f" ({ax.get_title()!r})" if ax.get_title() else "")


# ----------------------------------------------------------------------------- user helpers


def _certificate(lower: float, upper: float) -> str:
    return rf"${lower:.6g} \leq V^* \leq {upper:.6g}$ nats"


def _target_axes(ax, height: float):
    if ax is None:
        fig, axes = figure(1, 1, height=height, width=0.75 * WIDTH)
        return fig, axes[0, 0]
    if not isinstance(ax, Axes):
        raise TypeError(f"ax: expected a matplotlib Axes or None, got {type(ax).__name__}")
    return ax.figure, ax


@styled
def plot_dual(D, P, mixtures=None, objective="divergence", ax=None) -> Figure:
    r"""Draw the dual function d(λ) of a user's instance, with λ* and the certificate of V*.

    d(λ) = min over normalized gates g of L(g, λ) = Σ_k λ_k L_k(q*_λ), and
    V*(Λ) = max_{λ∈Λ} d(λ) (T5, T6, T7):

    .. math:: d(\lambda) = \min_{g\in G_1} L(g,\lambda) = \sum_k \lambda_k L_k(q^*_\lambda),
              \qquad V^*(\Lambda) = \max_{\lambda\in\Lambda} d(\lambda).

    For K = 2 the curve of d along the segment λ = (λ_1, 1 − λ_1); for K = 3 a
    heat map of d on the triangle Δ_3. The robust gate (T5 dual solver) gives
    the least-favorable mixture λ* (a star) and the certified interval
    lower ≤ V* ≤ upper (a band for K = 2, the title for both). A set Λ other
    than the simplex is outlined (K = 3) or shaded (K = 2); d is drawn on all
    of Δ_K, so the gap between max_Λ d and max_Δ d shows what the prior
    knowledge Λ is worth (T7).

    Parameters
    ----------
    D : array_like, shape (K, n)
        The domains, rows on the simplex, K ∈ {2, 3}.
    P : array_like, shape (K, n)
        The experts.
    mixtures : theory.mixtures set, optional
        Λ; the simplex by default.
    objective : str or Objective, default "divergence"
        A name of the objective registry (``theory.objectives``) or an Objective.
    ax : Axes, optional
        Where to draw; by default a new figure.

    Returns
    -------
    Figure

    Raises
    ------
    ValueError
        If D or P are not valid stacks of distributions, if K is not 2 or 3, or
        if ``mixtures`` is not a set over the same K (messages from the solver).

    Examples
    --------
    >>> fig = plot_dual([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], [[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
    >>> fig.axes[0].get_title()
    '$\\lambda^*_1 = 0.5047$; $0.236827 \\leq V^* \\leq 0.236827$ nats'
    """
    # theory is imported here, not at the top: the runner and the CLI import this
    # module for its file helpers before any mathematics is needed.
    from paper_repro.experiments._common import simplex_grid
    from theory.minimax import dual_function, robust_gate
    from theory.mixtures import Simplex
    from theory.validation import check_mixtures, check_pair

    D, P = check_pair(D, P)
    K = D.shape[0]
    if K not in (2, 3):
        raise ValueError(
            f"D: plot_dual draws K = 2 domains (a segment) or K = 3 (a triangle); got K = {K}"
        )
    lam_set = check_mixtures(mixtures, K)
    res = robust_gate(D, P, mixtures=lam_set, objective=objective)

    def d(lam):
        return dual_function(D, P, lam, objective=objective)[0]

    if K == 2:
        fig, ax = _target_axes(ax, 3.0)
        a = np.linspace(0.0, 1.0, 201)
        values = np.array([d([t, 1.0 - t]) for t in a])
        ax.plot(a, values, color=color("robust gate"), label=r"$d(\lambda)$")
        lo_end = lam_set.argmax_linear([-1.0, 1.0])[1][0]
        hi_end = lam_set.argmax_linear([1.0, -1.0])[1][0]
        if hi_end - lo_end < 1.0 - 1e-12:
            ax.axvspan(lo_end, hi_end, color=case_color(0), alpha=0.12, lw=0, label=r"$\Lambda$")
        ax.axhspan(res.lower, res.upper, color="k", alpha=0.25, lw=0)
        ax.axhline(res.value, color="k", ls="--", lw=1, label=r"$V^*$ (certified interval)")
        ax.plot(res.lam[0], d(res.lam), "*", color="k", ms=11, label=r"$\lambda^*$")
        ax.set(
            xlabel=r"mixture weight $\lambda_1$  ($\lambda_2 = 1 - \lambda_1$)",
            ylabel=r"$d(\lambda)$ (nats)",
        )
        top = float(max(values.max(), res.upper))
        span = top - float(values.min())
        ax.set_ylim(float(values.min()) - 0.05 * span, top + 0.1 * span)
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)

        ax.set_title(rf"$\lambda^*_1 = {res.lam[0]:.4f}$; " + _certificate(res.lower, res.upper))
        return fig

    fig, ax = _target_axes(ax, 3.4)
    grid = simplex_grid(3, 30)
    values = np.array([d(lam) for lam in grid])
    shade = ternary_heatmap(ax, grid, values)
    bar = fig.colorbar(shade, ax=ax, shrink=0.85, label=r"$d(\lambda)$ (nats)")
    bar.ax.axhline(res.value, color="k", lw=1.5, label=r"$V^*$ on the colour bar")
    if not isinstance(lam_set, Simplex):
        edge = _boundary(lam_set)
        ex, ey = ternary_xy(edge)
        ax.plot(ex, ey, "-", color="w", lw=2.2)
        ax.plot(ex, ey, "--", color="k", lw=1.2, label=r"boundary of $\Lambda$")
    sx, sy = ternary_xy(res.lam)
    ax.plot(sx, sy, "*", color=color("robust gate"), mec="w", ms=14, label=r"$\lambda^*$")
    lam_text = ", ".join(f"{v:.3f}" for v in res.lam)
    ax.set_title(rf"$\lambda^* = ({lam_text})$" + "\n" + _certificate(res.lower, res.upper))
    handles, labels = legend_entries([ax, bar.ax])
    bar.ax.legend(
        handles,
        labels,
        loc="upper left",
        bbox_to_anchor=(0.0, -0.04),
        borderaxespad=0,
        handlelength=1.2,
    )
    return fig


def _boundary(lam_set, count: int = 240) -> np.ndarray:
    """Points of the boundary of Λ ⊆ Δ_3: maximizers of c·λ over directions c of its plane."""
    u = np.array([1.0, -1.0, 0.0]) / math.sqrt(2.0)
    v = np.array([1.0, 1.0, -2.0]) / math.sqrt(6.0)
    angles = np.linspace(0.0, 2.0 * np.pi, count, endpoint=False)
    pts = np.array([lam_set.argmax_linear(np.cos(t) * u + np.sin(t) * v)[1] for t in angles])
    return np.vstack([pts, pts[:1]])


@styled
def plot_gate(result, P, ax=None) -> Figure:
    r"""Draw a robust gate g(x) and its model inside the experts' envelope, point by point (T2).

    p_g(x) = Σ_k g_k(x) p_k(x) always lies between ℓ(x) = min_k p_k(x) and
    u(x) = max_k p_k(x):

    .. math:: p_g(x) = \sum_k g_k(x)\, p_k(x), \qquad
              \ell(x) = \min_k p_k(x) \;\leq\; p_g(x) \;\leq\; u(x) = \max_k p_k(x).

    The upper panel stacks the gate weights g_1(x), …, g_K(x) (they sum to 1
    at every x); the lower panel draws, per point x, the envelope [ℓ(x), u(x)]
    of the experts, the experts p_k(x) and the model p_g(x), on a log scale.
    With more than 40 points the points are ordered by decreasing p_g(x).

    Parameters
    ----------
    result : RobustResult
        A result of ``theory.minimax.robust_gate`` (its ``gate`` and ``model``).
    P : array_like, shape (K, n)
        The experts the gate combines.
    ax : pair of Axes, optional
        The two panels (gate, envelope); by default a new figure.

    Returns
    -------
    Figure

    Raises
    ------
    TypeError
        If ``result`` has no ``gate`` and ``model`` (it is no robust_gate result).
    ValueError
        If the gate and model do not have the shape of ``P``, if ``P`` is not a
        stack of distributions, or if ``ax`` is not two Axes.

    Examples
    --------
    >>> import numpy as np
    >>> from theory.minimax import robust_gate
    >>> D = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    >>> P = np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
    >>> fig = plot_gate(robust_gate(D, P), P)
    >>> len(fig.axes), layout_problems(fig)
    (2, [])
    """
    from theory.gates import envelope  # imported here for the reason given in plot_dual
    from theory.validation import check_stack

    P = check_stack(P, "P")
    gate = getattr(result, "gate", None)
    model = getattr(result, "model", None)
    if gate is None or model is None:
        raise TypeError(
            f"result: expected a robust_gate result with a gate and a model, got "
            f"{type(result).__name__}"
        )
    gate, model = np.asarray(gate, dtype=float), np.asarray(model, dtype=float)
    if gate.shape != P.shape or model.shape != P.shape[1:]:
        raise ValueError(
            f"P: shape {P.shape} does not match the result's gate {gate.shape} and model "
            f"{model.shape}"
        )
    K, n = P.shape
    if ax is None:
        fig, axes = figure(2, 1, height=4.2, width=0.85 * WIDTH, sharex=True)
        top, bottom = axes[0, 0], axes[1, 0]
    else:
        if isinstance(ax, Axes) or len(ax) != 2 or not all(isinstance(a, Axes) for a in ax):
            raise ValueError("ax: plot_gate draws two panels (gate, envelope); pass two Axes")
        top, bottom = ax
        fig = top.figure
    order = np.argsort(-model, kind="stable") if n > 40 else np.arange(n)
    pos = np.arange(n)
    lo, hi = envelope(P)
    expert_colors = [_EXPERT_CYCLE[k % len(_EXPERT_CYCLE)] for k in range(K)]
    base = np.zeros(n)
    for k in range(K):
        top.bar(
            pos,
            gate[k, order],
            1.0,
            bottom=base,
            color=expert_colors[k],
            lw=0,
            label=rf"$g_{{{k + 1}}}(x)$",
        )
        base += gate[k, order]
    top.set(ylabel=r"gate weight $g_k(x)$", ylim=(0, 1), xlim=(-0.5, n - 0.5))
    top.set_title(r"the gate: $g(x) \in \Delta_K$ at every point $x$")
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    if n <= 40:
        bottom.vlines(
            pos, lo[order], hi[order], color="0.55", lw=5, label=r"envelope $[\ell(x), u(x)]$"
        )
    else:
        bottom.fill_between(
            pos,
            lo[order],
            hi[order],
            step="mid",
            color="0.75",
            lw=0,
            label=r"envelope $[\ell(x), u(x)]$",
        )
    for k in range(K):
        bottom.plot(
            pos,
            P[k, order],
            "_" if n <= 40 else "-",
            color=expert_colors[k],
            ms=8,
            lw=0.8,
            label=rf"expert $p_{{{k + 1}}}(x)$",
        )
    bottom.plot(
        pos,
        model[order],
        "o" if n <= 40 else "-",
        color=color("robust gate"),
        ms=3.5,
        lw=1.2,
        label=r"model $p_g(x)$",
    )
    bottom.set(
        yscale="log",
        ylabel="probability",
        xlabel="point $x$" + (r" (ordered by decreasing $p_g(x)$)" if n > 40 else ""),
        xlim=(-0.5, n - 0.5),
    )
    bottom.set_title(r"the model inside the envelope: $\ell(x) \leq p_g(x) \leq u(x)$")
    bottom.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    if n <= 40:
        bottom.set_xticks(pos, [str(int(i)) for i in order] if n <= 20 else [""] * n)
    return fig


@styled
def plot_compare(table, ax=None) -> Figure:
    r"""A bar chart of the worst case of every model of a comparison table (T10).

    Each record is one model with its worst case max_{λ∈Λ} L(q, λ) (nats),
    :math:`\max_{\lambda\in\Lambda} L(q, \lambda)`, as returned by
    ``theory.evaluate.compare``; bars are coloured by method (:func:`color`),
    the smallest worst case is marked, and the robust gate's value, when the
    table has one, is drawn as the line V* that no model in the experts'
    envelope can beat (T10).

    Parameters
    ----------
    table : sequence of mappings
        Records with the keys ``name`` (str) and ``worst_case`` (a real number,
        +inf allowed, drawn to the edge and labelled ∞); other keys are ignored.
    ax : Axes, optional
        Where to draw; by default a new figure.

    Returns
    -------
    Figure

    Raises
    ------
    TypeError
        If ``table`` is not a sequence of mappings, or a record's name is not a
        str or its worst case not a real number.
    ValueError
        If ``table`` is empty, or a record lacks a ``name`` or a ``worst_case``,
        or its worst case is NaN.

    Examples
    --------
    >>> fig = plot_compare([{"name": "uniform", "worst_case": 0.9},
    ...                     {"name": "robust", "worst_case": 0.7}])
    """
    if (
        isinstance(table, Mapping)
        or isinstance(table, str | bytes)
        or not isinstance(table, Sequence)
    ):
        raise TypeError(
            f"table: expected a list of records (mappings with name and worst_case), got "
            f"{type(table).__name__}"
        )
    if len(table) == 0:
        raise ValueError("table: expected at least one record, got none")
    names, worst = [], []
    for i, rec in enumerate(table):
        if not isinstance(rec, Mapping):
            raise TypeError(f"table: record {i} is {type(rec).__name__}, expected a mapping")
        if "name" not in rec or "worst_case" not in rec:
            raise ValueError(f"table: record {i} lacks the key 'name' or 'worst_case'")
        name, value = rec["name"], rec["worst_case"]
        if not isinstance(name, str):
            raise TypeError(f"table: record {i} has a name of type {type(name).__name__}, not str")
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise TypeError(
                f"table: record {i} ({name!r}) has a worst_case of type {type(value).__name__}"
            )
        if math.isnan(value):
            raise ValueError(f"table: record {i} ({name!r}) has a NaN worst_case")
        names.append(name)
        worst.append(float(value))
    worst = np.array(worst)
    finite = np.isfinite(worst)
    fig, ax = _target_axes(ax, 0.32 * len(names) + 1.4)
    y = np.arange(len(names))[::-1]
    right = float(worst[finite].max()) if finite.any() else 1.0
    edge = 1.3 * right if right > 0 else 1.0
    drawn = np.where(finite, worst, edge)
    colors = [color(n, i) for i, n in enumerate(names)]
    bars = ax.barh(y, drawn, 0.7, color=colors, edgecolor="k", lw=0.5)
    for bar, w in zip(bars, worst, strict=True):
        if not np.isfinite(w):
            bar.set_hatch("//")
    best = int(np.argmin(worst))
    for yi, value, w in zip(y, drawn, worst, strict=True):
        text = f"{w:.4g}" if np.isfinite(w) else "∞"
        ax.annotate(
            text, (value, yi), textcoords="offset points", xytext=(3, 0), va="center", ha="left"
        )
    ax.set_yticks(y, names)
    ax.get_yticklabels()[best].set_fontweight("bold")
    robust = [i for i, n in enumerate(names) if n.lower().startswith("robust")]
    if robust and np.isfinite(worst[robust[0]]):
        ax.axvline(worst[robust[0]], color="k", ls="--", lw=1, label=r"$V^*$ (robust gate)")
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), borderaxespad=0.2)
    ax.set_xlim(0, 1.18 * edge)
    ax.set_ylim(-0.6, len(names) - 0.4)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(r"worst case $\mathrm{max}_{\lambda\in\Lambda}\, L(q, \lambda)$ (nats)")

    return fig
