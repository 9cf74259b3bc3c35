"""E2 (T5, T6): the least-favorable mixture λ* maximizes the concave dual d(λ).

For K = 3 the dual function is drawn on the whole simplex with λ* marked, for
perfect experts (where d(λ) = JSD_λ(D) and V* is the capacity C(D)) and for
imperfect ones. V* is computed three independent ways: the dual solver, the
cvxpy exponential-cone reference, and Blahut–Arimoto (perfect case).

Notation: D_1, D_2, D_3 are the domains and P the experts (perfect: P = D);
d(λ) = min over normalized gates of Σ_k λ_k KL(D_k‖p_g) is the dual function,
JSD_λ(D) = Σ_k λ_k KL(D_k‖D_λ) the generalized Jensen–Shannon divergence and
C(D) = max_λ JSD_λ(D) the capacity of the channel k → x. The figure illustrates
the theory page §4.4 (least-favorable mixture) of the documentation.

Examples
--------
>>> from paper_repro.experiments import e2_least_favorable as e2
>>> e2.EXPERIMENT.claim.split(":")[0], e2.CASES
('T6', ('perfect', 'imperfect'))
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from paper_repro import plotting
from paper_repro.experiments._base import progress, register
from paper_repro.experiments._common import fmt, simplex_grid, vec
from sims.domains import dirichlet_domains, noisy_experts
from theory.capacity import blahut_arimoto
from theory.minimax import dual_function, robust_gate

CASES = ("perfect", "imperfect")


def params(mode: str) -> dict:
    """The sizes and seeds of E2 for ``mode``.

    The dual function is tabulated on the lattice of Δ_3 whose entries are multiples of
    1/``resolution``.

    Parameters
    ----------
    mode : {"quick", "full"}
        Small sizes for a quick run, or the sizes of the full reproduction.

    Returns
    -------
    dict
        ``K`` (3), ``n`` (points), ``separation``, ``noise``, ``resolution``, ``seed``.

    Examples
    --------
    >>> params("quick")["resolution"], params("full")["n"]
    (40, 400)
    """
    return {
        "K": 3,
        "n": 40 if mode == "quick" else 400,
        "separation": 1.5,
        "noise": 0.35,
        "resolution": 40 if mode == "quick" else 120,
        "seed": 7,
    }


def run(p: dict, show_progress: bool = False) -> dict:
    """Tabulate d(λ) on the simplex and solve V* three ways, for perfect and imperfect experts.

    For each case (``CASES``): d on the lattice, the robust gate by the dual solver
    (T5) and by the cvxpy reference, and for perfect experts Blahut–Arimoto (T6).

    Parameters
    ----------
    p : dict
        The parameters of :func:`params`.
    show_progress : bool, default False
        Show a progress bar over the lattice.

    Returns
    -------
    dict
        ``grid`` (the lattice, shape (m, 3)) and, per case, a dict with ``d`` (d on
        the grid), ``lam``, ``value``, ``lower``, ``upper``, ``per_domain`` of the dual
        solver, ``cvxpy_value``, ``cvxpy_lam``, ``cvxpy_lower``, ``cvxpy_upper``, and for
        ``"perfect"`` the Blahut–Arimoto ``ba_capacity``, ``ba_lower``, ``ba_upper``,
        ``ba_prior``.
    """
    D = dirichlet_domains(p["K"], p["n"], p["separation"], seed=p["seed"])
    experts = {"perfect": D, "imperfect": noisy_experts(D, p["noise"], seed=p["seed"] + 1)}
    grid = simplex_grid(p["K"], p["resolution"])
    data: dict = {"grid": grid}
    for case, P in experts.items():
        d = np.array(
            [
                dual_function(D, P, lam)[0]
                for lam in progress(grid, f"E2 {case}", show=show_progress)
            ]
        )
        dual = robust_gate(D, P, method="dual")
        ref = robust_gate(D, P, method="cvxpy")
        entry = {
            "d": d,
            "lam": dual.lam,
            "value": dual.value,
            "lower": dual.lower,
            "upper": dual.upper,
            "per_domain": dual.per_domain,
            "cvxpy_value": ref.value,
            "cvxpy_lam": ref.lam,
            "cvxpy_lower": ref.lower,
            "cvxpy_upper": ref.upper,
        }
        if case == "perfect":
            ba = blahut_arimoto(D)
            entry |= {
                "ba_capacity": ba.capacity,
                "ba_lower": ba.lower,
                "ba_upper": ba.upper,
                "ba_prior": ba.prior,
            }
        data[case] = entry
    return data


@plotting.styled
def plot(data: dict, out_dir: Path) -> Path:
    """Draw figure E2: d(λ) on the triangle Δ_3 for both cases, with λ* marked.

    Parameters
    ----------
    data : dict
        The output of :func:`run`.
    out_dir : str or Path
        The output folder.

    Returns
    -------
    Path
        ``out_dir/E2_least_favorable.png`` (a PDF is written next to it).
    """
    fig, axes = plotting.figure(1, 2, height=3.9)
    values = np.concatenate([data[case]["d"] for case in CASES])
    vmin, vmax = float(values.min()), float(values.max())
    titles = {"perfect": r"(a) perfect experts, $P = D$", "imperfect": "(b) imperfect experts"}
    for ax, case in zip(axes[0], CASES, strict=True):
        d = data[case]
        shade = plotting.ternary_heatmap(ax, data["grid"], d["d"], vmin=vmin, vmax=vmax)
        lx, ly = plotting.ternary_xy(d["lam"])
        ax.plot(
            lx,
            ly,
            "*",
            color=plotting.color("robust gate"),
            ms=15,
            mec="w",
            label=r"least-favorable mixture $\lambda^*$ (dual solver)",
        )
        lam = ", ".join(f"{v:.2f}" for v in d["lam"])
        ax.set_title(
            f"{titles[case]}\n"
            + rf"$V^*$ = {d['value']:.5f} nats"
            + "\n"
            + rf"$\lambda^*$ = ({lam})"
        )
    fig.colorbar(shade, ax=axes[0], shrink=0.9, label=r"dual function $d(\lambda)$ (nats)")
    plotting.figure_legend(fig, ncol=1)
    plotting.title(
        fig, ("T5", "T6"), r"$\lambda^*$ maximizes the concave dual $d(\lambda)$", experiment="E2"
    )
    return plotting.save(fig, Path(out_dir) / "E2_least_favorable.png")


def table(data: dict) -> dict[str, list[dict]]:
    """The plotted numbers of E2, as rows.

    Parameters
    ----------
    data : dict
        The output of :func:`run`.

    Returns
    -------
    dict of str to list of dict
        ``"values"`` (V* and λ* by every method and case) and ``"dual_grid"``
        (d on the lattice, both cases).
    """
    rows = []
    for case in CASES:
        d = data[case]
        rows.append(
            {
                "experts": case,
                "method": "dual",
                "value": d["value"],
                "lower": d["lower"],
                "upper": d["upper"],
                "lam": vec(d["lam"], 9),
            }
        )
        rows.append(
            {
                "experts": case,
                "method": "cvxpy",
                "value": d["cvxpy_value"],
                "lower": d["cvxpy_lower"],
                "upper": d["cvxpy_upper"],
                "lam": vec(d["cvxpy_lam"], 9),
            }
        )
        if case == "perfect":
            rows.append(
                {
                    "experts": case,
                    "method": "blahut_arimoto",
                    "value": d["ba_capacity"],
                    "lower": d["ba_lower"],
                    "upper": d["ba_upper"],
                    "lam": vec(d["ba_prior"], 9),
                }
            )
    grid = [
        {"lam1": g[0], "lam2": g[1], "lam3": g[2], "d_perfect": a, "d_imperfect": b}
        for g, a, b in zip(data["grid"], data["perfect"]["d"], data["imperfect"]["d"], strict=True)
    ]
    return {"values": rows, "dual_grid": grid}


def check(data: dict) -> tuple[bool, str]:
    """Check the claim of E2 on its data.

    Passes if, in both cases, the dual solver and cvxpy agree within 1e-6, the
    certified gap is at most 1e-8, no grid value of d exceeds the certified upper
    bound, and the active per-domain losses are equal (the equalizer property of
    T6, within 1e-6); and, for perfect experts, V* equals the Blahut–Arimoto
    capacity within 1e-8.

    Parameters
    ----------
    data : dict
        The output of :func:`run`.

    Returns
    -------
    passed : bool
        Whether the claim holds on these instances.
    measured : str
        The measured evidence, one sentence per case.
    """
    ok, parts = True, []
    for case in CASES:
        d = data[case]
        cvx = abs(d["value"] - d["cvxpy_value"])
        gap = d["upper"] - d["lower"]
        above = float(d["d"].max() - d["upper"])
        spread = float(np.ptp(d["per_domain"][d["lam"] > 1e-6]))
        ok &= cvx <= 1e-6 and gap <= 1e-8 and above <= 1e-9 and spread <= 1e-6
        parts.append(
            f"{case}: V* = {d['value']:.8f}, |dual − cvxpy| = {fmt(cvx)}, certified gap {fmt(gap)}, "
            f"max grid d − upper = {fmt(above)}, equalizer spread {fmt(spread)}"
        )
    d = data["perfect"]
    ba = abs(d["value"] - d["ba_capacity"])
    out = float(np.abs(d["lam"] - d["ba_prior"]).max())
    ok &= ba <= 1e-8
    parts.append(f"perfect: |V* − C_BA| = {fmt(ba)}, max |λ* − BA prior| = {fmt(out)}")
    return bool(ok), "; ".join(parts)


def setup(p: dict) -> str:
    """The setup paragraph of E2 written to REPORT.md.

    Parameters
    ----------
    p : dict
        The parameters of :func:`params`.

    Returns
    -------
    str

    Examples
    --------
    >>> setup(params("quick"))[:41]
    'K = 3 Dirichlet domains on n = 40 points '
    """
    return (
        f"K = {p['K']} Dirichlet domains on n = {p['n']} points (separation {p['separation']}, "
        f"seed {p['seed']}); perfect experts P = D, imperfect experts with noise {p['noise']}. "
        f"d(λ) on the simplex lattice of resolution 1/{p['resolution']}; V* by the dual solver, "
        "by cvxpy (Clarabel) and, for perfect experts, by Blahut–Arimoto. Passes if the three "
        "agree (1e-6 vs cvxpy, 1e-8 vs Blahut–Arimoto), the certified gap is ≤ 1e-8, no grid "
        "value of d exceeds the certified upper bound, and the equalizer property holds."
    )


EXPERIMENT = register(
    name="The least-favorable mixture and the capacity",
    claim="T6: V*(Δ_K) = max_λ d(λ), attained at the least-favorable λ* where the active "
    "per-domain losses are equal; with perfect experts V* is the capacity C(D).",
    params=params,
    run=run,
    plot=plot,
    table=table,
    check=check,
    setup=setup,
)
