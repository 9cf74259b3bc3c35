r"""E11 (T8–T10): the phase diagram of modular versus monolithic learning.

The study ``modular-vs-monolithic`` of :mod:`sims.sweep` on a quick grid of
domain separation s × expert noise ε, for aggregate retraining in the full
class Δ(X) and in the product class over V^T, several seeds per point. The
margin = W(aggregate) − W(robust gate) of the worst-case KL over Λ = Δ_K is
positive where the modular model wins.

The theory predicts its sign at the corners of the grid, through two bounds
that hold on every instance (see :func:`sims.sweep.modular_vs_monolithic`):
with C the value for perfect experts (the capacity, T6), ε̄ the largest
average expert error over Λ and r the capacity-achieving mixture,

* margin ≥ Σ_k r_k L_k(h_α) − C − ε̄ (T8 bounds V* by C + ε̄; the compensation
  identity T1 splits the aggregate's loss at r into JSD_r + interference (T9)
  + misweighting). At s > 0, ε = 0 this is > 0: **the modular model wins**.
* margin ≤ W(h_α) − C (V* ≥ C). At s = 0 the domains coincide, the aggregate
  model is exact in either class (T10: no interference without diversity) and
  the bound is 0: **the modular model cannot win**.

At the remaining corner (large s and ε) neither bound decides, and the grid
measures the answer: the product class keeps a positive margin longer, since
its interference grows with the JSD of the domains (T9), while in the full
class the margin is only the misweighting of the uniform retraining weights.

Notation: W(q) = max_{λ ∈ Λ} Σ_k λ_k KL(D_k‖q) is the worst-case divergence
of a model q; h_α is the model of aggregate retraining (one model of the
monolithic class H fitted to the pooled data with weights α, here uniform);
L_k(h) = KL(D_k‖h); the separation s spreads the domains apart (s = 0: all
equal) and the noise ε degrades the experts (ε = 0: perfect experts, P = D).
The figure illustrates the theory pages *The monolithic barrier*, *The
modular advantage* and *Safety in convex settings* of the documentation (the
paper's §4.5).

Examples
--------
>>> from paper_repro.experiments import e11_phase_diagram as e11
>>> e11.STUDY
'modular-vs-monolithic'
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from paper_repro import plotting
from paper_repro.distributed import phase_diagram
from paper_repro.experiments._base import progress, register
from paper_repro.experiments._common import fmt
from sims.sweep import compute_rows, get_study, grid, summarize

#: The study of :mod:`sims.sweep` that E11 computes.
STUDY = "modular-vs-monolithic"
#: Slack of the sign tests and of the per-instance bounds (the solvers' certificates
#: are at 1e-9).
TOL = 1e-8


def params(mode: str) -> dict:
    """The grid and seeds of E11 for ``mode``.

    Parameters
    ----------
    mode : {"quick", "full"}
        Small grid for a quick run, or the grid of the full reproduction.

    Returns
    -------
    dict
        ``K``, ``n``, ``V`` (alphabet of the sequence classes), ``classes`` (the
        monolithic classes H), ``separations``, ``noises`` and ``seeds`` (per
        grid point).

    Examples
    --------
    >>> p = params("quick")
    >>> p["classes"], len(p["separations"]) * len(p["noises"]) * p["seeds"]
    (['full', 'product'], 168)
    """
    quick = mode == "quick"
    return {
        "K": 3,
        "n": 32,
        "V": 2,
        "classes": ["full", "product"] if quick else ["full", "product", "markov:1"],
        "separations": [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0]
        if quick
        else np.linspace(0.0, 4.0, 17).tolist(),
        "noises": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8]
        if quick
        else np.linspace(0.0, 0.8, 17).tolist(),
        "seeds": 3 if quick else 10,
    }


def run(p: dict, show_progress: bool = False) -> dict:
    """Compute every row of the grid × seeds in this process (no cluster).

    Parameters
    ----------
    p : dict
        The parameters of :func:`params`.
    show_progress : bool, default False
        Show a progress bar over the rows.

    Returns
    -------
    dict of str to ndarray
        One array per column of the study (``separation``, ``noise``,
        ``monolithic``, ``seed``, ``margin``, ``margin_lower``,
        ``margin_upper``, ``capacity``, ``jsd`` …), one entry per row.

    Examples
    --------
    >>> p = dict(params("quick"), classes=["product"], separations=[0.0, 2.0],
    ...          noises=[0.0, 0.8], seeds=2)
    >>> data = run(p)
    >>> len(data["margin"])  # 2 separations × 2 noises × 2 seeds
    8
    >>> check(data)[0]
    True
    """
    study = get_study(STUDY)
    points = grid(
        study,
        {
            "K": [p["K"]],
            "n": [p["n"]],
            "V": [p["V"]],
            "monolithic": p["classes"],
            "separation": p["separations"],
            "noise": p["noises"],
        },
    )
    rows = [{**pt, "seed": s} for pt in points for s in range(p["seeds"])]
    done = []
    for row in progress(rows, "E11 grid", show=show_progress):
        done += compute_rows(study, [row])
    return {name: np.array([r[name] for r in done]) for name in study.columns}


def _summary(data: dict) -> list[dict]:
    return summarize(
        data,
        ["monolithic", "separation", "noise"],
        ["margin", "jsd", "margin_lower", "margin_upper", "expert_error", "interference"],
    )


@plotting.styled
def plot(data: dict, out_dir: Path) -> Path:
    """Draw figure E11: the phase diagram (:func:`paper_repro.distributed.phase_diagram`).

    Parameters
    ----------
    data : dict
        The output of :func:`run`.
    out_dir : str or Path
        The output folder.

    Returns
    -------
    Path
        ``out_dir/E11_phase_diagram.png`` (a PDF is written next to it).
    """
    fig = phase_diagram(data, panels=["monolithic"], experiment="E11")
    return plotting.save(fig, Path(out_dir) / "E11_phase_diagram.png")


def _corners(data: dict) -> list[dict]:
    """The sign predicted by the bounds and the measured mean margin at each corner."""
    out = []
    for cls in dict.fromkeys(data["monolithic"].tolist()):
        mine = data["monolithic"] == cls
        seps, noises = data["separation"][mine], data["noise"][mine]
        for s in (seps.min(), seps.max()):
            for e in (noises.min(), noises.max()):
                at = mine & (data["separation"] == s) & (data["noise"] == e)
                lower = data["margin_lower"][at] - data["certified_gap"][at]
                if np.all(lower > TOL):
                    predicted = "modular wins"
                elif np.all(data["margin_upper"][at] <= TOL):
                    predicted = "modular cannot win"
                else:
                    predicted = "undecided"
                margin = float(data["margin"][at].mean())
                measured = "modular wins" if margin > TOL else "modular cannot win"
                out.append(
                    {
                        "monolithic": cls,
                        "separation": float(s),
                        "noise": float(e),
                        "predicted": predicted,
                        "margin_lower": float(lower.min()),
                        "margin_upper": float(data["margin_upper"][at].max()),
                        "margin": margin,
                        "measured": measured,
                        "agrees": predicted in ("undecided", measured),
                    }
                )
    return out


def table(data: dict) -> dict[str, list[dict]]:
    """The plotted numbers of E11, as rows.

    Parameters
    ----------
    data : dict
        The output of :func:`run`.

    Returns
    -------
    dict of str to list of dict
        ``"grid"``: per class, separation and noise, the mean margin over the
        seeds with its 95% bootstrap interval and the means of the JSD, the
        bounds, the expert error and the interference; ``"corners"``: per class
        and corner of the grid, the sign the bounds predict, the measured mean
        margin and whether they agree.
    """
    return {"grid": _summary(data), "corners": _corners(data)}


def check(data: dict) -> tuple[bool, str]:
    """Check the claim of E11 on its data.

    Passes if every instance lies within its two bounds (up to ``TOL`` and the
    certified gap), each class has grid points where the modular model
    significantly wins and points where it significantly loses (bootstrap
    interval strictly above / below 0), the measured sign agrees with the
    prediction at every decided corner, and the corners decide both signs.

    Parameters
    ----------
    data : dict
        The output of :func:`run`.

    Returns
    -------
    passed : bool
        Whether the claim holds on this grid.
    measured : str
        The measured evidence: wins and losses per class, the corners and the
        largest violation of the per-instance bounds.
    """
    margin = data["margin"]
    below = data["margin_lower"] - data["certified_gap"] - margin
    above = margin - data["margin_upper"]
    worst_bound = float(max(below.max(), above.max()))
    summary = _summary(data)
    flips = []
    for cls in dict.fromkeys(data["monolithic"].tolist()):
        rows = [r for r in summary if r["monolithic"] == cls]
        wins = sum(r["margin_lo"] > TOL for r in rows)
        loses = sum(r["margin_hi"] < -TOL for r in rows)
        flips.append((cls, wins, loses, len(rows)))
    corners = _corners(data)
    decided = [c for c in corners if c["predicted"] != "undecided"]
    signs = {c["predicted"] for c in decided}
    ok = (
        worst_bound <= TOL
        and all(w > 0 and lo > 0 for _, w, lo, _ in flips)
        and all(c["agrees"] for c in corners)
        and signs == {"modular wins", "modular cannot win"}
    )
    measured = (
        "; ".join(
            f"{cls}: modular wins at {w}/{n} grid points and loses at {lo}/{n} "
            "(95% bootstrap interval strictly above / below 0)"
            for cls, w, lo, n in flips
        )
        + f"; corners decided by the theory: {len(decided)}/{len(corners)}, agreeing: "
        + f"{sum(c['agrees'] for c in decided)}/{len(decided)} ("
        + ", ".join(
            f"{c['monolithic']} s={c['separation']:g} ε={c['noise']:g}: {c['predicted']}, "
            f"margin {fmt(c['margin'], 3)}"
            for c in corners
        )
        + f"); largest violation of the per-instance bounds: {fmt(worst_bound)} (≤ 0 expected)"
    )
    return bool(ok), measured


def setup(p: dict) -> str:
    """The setup paragraph of E11 written to REPORT.md.

    Parameters
    ----------
    p : dict
        The parameters of :func:`params`.

    Returns
    -------
    str
        One paragraph: the study, the instance sizes, the grid and the seeds.

    Examples
    --------
    >>> setup(params("quick"))[:37]
    '`modgate sweep modular-vs-monolithic`'
    """
    n_rows = len(p["classes"]) * len(p["separations"]) * len(p["noises"]) * p["seeds"]
    return (
        f"`modgate sweep {STUDY}` computed in-process: K = {p['K']} domains on n = {p['n']} "
        f"points (V = {p['V']}, T = 5 for the sequence classes), classes {p['classes']}, "
        f"separations {p['separations']}, expert noise {p['noises']}, seeds 0..{p['seeds'] - 1} "
        f"({n_rows} rows); Λ = Δ_K, uniform retraining weights, divergence objective. "
        "Margin = worst-case KL of aggregate retraining − that of the robust gate; mean over "
        "seeds with a 95% percentile bootstrap interval."
    )


EXPERIMENT = register(
    name="Phase diagram: modular vs monolithic",
    claim="T8–T10: the robust gate beats aggregate retraining where the domains differ and "
    "the experts are good, and loses where the domains coincide or the experts are poor: the "
    "margin changes sign inside the separation × noise grid, stays within its theory bounds "
    "on every instance, and its sign at the grid's corners agrees with the prediction of "
    "T8/T9 (win) and T10 (no win without diversity).",
    params=params,
    run=run,
    plot=plot,
    table=table,
    check=check,
    setup=setup,
)
