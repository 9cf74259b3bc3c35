"""E3 (T7): prior knowledge on the mixture weights.

V*(L1Ball(λ0, r)) grows with the radius r, from the dual value d(λ0) at r = 0
(a known mixture, T3) to V*(Δ_K) at r = 2 (no knowledge), for perfect and for
imperfect experts. The same holds for the KL ball
KLBall(λ0, ρ) = {λ ∈ Δ_K : KL(λ‖λ0) ≤ ρ}, the uncertainty set of
distributionally robust optimization: V* rises from d(λ0) at ρ = 0 and equals
V*(Δ_K) once ρ ≥ −log min_k λ0_k, where the ball is the whole simplex (KL(·‖λ0)
is convex, so its largest value on Δ_K is at a vertex e_k, where it is
−log λ0_k). With perfect experts V*(Δ_K) is the capacity C(D) ≤ log K.

Notation: Λ is the set of mixtures the adversary may choose (:mod:`theory.mixtures`),
λ0 the best guess of the mixture, d(λ0) the dual function at λ0 (the value when
the mixture is known) and V*(Λ) the robust value. The figure illustrates the
theory page §4.3 (prior knowledge) of the documentation.

Examples
--------
>>> from paper_repro.experiments import e3_prior_knowledge as e3
>>> round(e3.full_radius([0.4, 0.3, 0.2, 0.1]), 4)  # −log 0.1
2.3026
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D

from paper_repro import plotting
from paper_repro.experiments._base import progress, register
from paper_repro.experiments._common import fmt, vec
from sims.domains import dirichlet_domains, noisy_experts
from theory.minimax import dual_function, robust_gate
from theory.mixtures import KLBall, L1Ball

CASES = ("perfect", "imperfect")
#: The two families of Λ around λ0: (key, constructor, name of the radius).
BALLS = (("l1", L1Ball, "r"), ("kl", KLBall, "ρ"))


def full_radius(lam0) -> float:
    """The KL radius from which KLBall(λ0, ρ) is all of Δ_K: −log min_k λ0_k.

    KL(·‖λ0) is convex, so its largest value on Δ_K is at a vertex e_k, where it
    equals −log λ0_k.

    Parameters
    ----------
    lam0 : array_like, shape (K,)
        The centre λ0 of the ball, with positive entries.

    Returns
    -------
    float
        −log min_k λ0_k, in nats.

    Examples
    --------
    >>> round(full_radius([0.5, 0.5]), 6)  # log 2
    0.693147
    """
    return float(-np.log(np.min(lam0)))


def params(mode: str) -> dict:
    """The sizes and seeds of E3 for ``mode``.

    The ℓ1 radii r run uniformly over [0, 2]; the KL radii ρ are uniform in √ρ up
    to 1.15 times :func:`full_radius` (which is one of them), since V* changes
    fastest near ρ = 0.

    Parameters
    ----------
    mode : {"quick", "full"}
        Small sizes for a quick run, or the sizes of the full reproduction.

    Returns
    -------
    dict
        ``K`` (4), ``n``, ``separation``, ``noise``, ``lam0`` (the centre λ0),
        ``radii`` (ℓ1 radii), ``kl_radii`` (KL radii), ``seed``.

    Examples
    --------
    >>> p = params("quick")
    >>> len(p["radii"]), p["radii"][-1], p["lam0"]
    (21, 2.0, [0.4, 0.3, 0.2, 0.1])
    """
    lam0 = [0.4, 0.3, 0.2, 0.1]
    count = 21 if mode == "quick" else 81
    # V*(KLBall) changes fastest near ρ = 0: the radii are uniform in √ρ, up to 1.15
    # times the radius of the whole simplex, which is itself one of them.
    top = np.sqrt(1.15 * full_radius(lam0))
    kl_radii = np.union1d(np.linspace(0.0, top, count) ** 2, [full_radius(lam0)])
    return {
        "K": 4,
        "n": 60 if mode == "quick" else 2000,
        "separation": 1.5,
        "noise": 0.3,
        "lam0": lam0,
        "radii": np.linspace(0.0, 2.0, count).tolist(),
        "kl_radii": kl_radii.tolist(),
        "seed": 3,
    }


def run(p: dict, show_progress: bool = False) -> dict:
    """Solve V*(Λ) exactly for every ℓ1 and KL radius, for perfect and imperfect experts.

    Each V* comes from :func:`theory.minimax.robust_gate` with its certified
    bounds; d(λ0) and V*(Δ_K) are the two ends the curves must join.

    Parameters
    ----------
    p : dict
        The parameters of :func:`params`.
    show_progress : bool, default False
        Show a progress bar over the radii.

    Returns
    -------
    dict
        ``radii``, ``kl_radii``, ``kl_full_radius`` (−log min λ0), ``logK``, and per
        case a dict with ``d_lam0``, ``v_simplex``, ``lam_simplex``, and the arrays
        ``value``, ``lower``, ``upper`` (ℓ1 balls) and ``kl_value``, ``kl_lower``,
        ``kl_upper`` (KL balls).
    """
    D = dirichlet_domains(p["K"], p["n"], p["separation"], seed=p["seed"])
    experts = {"perfect": D, "imperfect": noisy_experts(D, p["noise"], seed=p["seed"] + 1)}
    lam0 = np.array(p["lam0"])
    radii = {"l1": np.array(p["radii"]), "kl": np.array(p["kl_radii"])}
    data: dict = {
        "radii": radii["l1"],
        "kl_radii": radii["kl"],
        "kl_full_radius": full_radius(lam0),
        "logK": float(np.log(p["K"])),
    }
    for case, P in experts.items():
        full = robust_gate(D, P)
        entry = {
            "d_lam0": float(dual_function(D, P, lam0)[0]),
            "v_simplex": float(full.value),
            "lam_simplex": full.lam,
        }
        for ball, family, _ in BALLS:
            results = [
                robust_gate(D, P, mixtures=family(lam0, float(r)))
                for r in progress(radii[ball], f"E3 {case} {ball}", show=show_progress)
            ]
            prefix = "" if ball == "l1" else "kl_"
            entry |= {
                f"{prefix}value": np.array([res.value for res in results]),
                f"{prefix}lower": np.array([res.lower for res in results]),
                f"{prefix}upper": np.array([res.upper for res in results]),
            }
        data[case] = entry
    return data


def _sqrt(x: np.ndarray) -> np.ndarray:
    """The √ scale of the KL radius (autoscaling may probe below 0, where it is 0)."""
    return np.sqrt(np.maximum(x, 0.0))


@plotting.styled
def plot(data: dict, out_dir: Path) -> Path:
    """Draw figure E3: V*(Λ) against the radius of the ℓ1 and KL balls.

    Parameters
    ----------
    data : dict
        The output of :func:`run`.
    out_dir : str or Path
        The output folder.

    Returns
    -------
    Path
        ``out_dir/E3_prior_knowledge.png`` (a PDF is written next to it).
    """
    fig, axes = plotting.figure(2, 2, height=5.4, sharey=True)
    l1_c, kl_c = plotting.case_color(0), plotting.case_color(2)
    rho_full = data["kl_full_radius"]
    for j, case in enumerate(CASES):
        d = data[case]
        top, bottom = axes[0, j], axes[1, j]
        top.plot(data["radii"], d["value"], "o-", color=l1_c, ms=3.5, label=r"$V^*$(ℓ1 ball)")
        bottom.plot(
            data["kl_radii"], d["kl_value"], "o-", color=kl_c, ms=3.5, label=r"$V^*$(KL ball)"
        )
        for ax in (top, bottom):
            ax.axhline(
                d["d_lam0"], color="k", ls=":", lw=1.2, label=r"$d(\lambda_0)$: $\lambda_0$ known"
            )
            ax.axhline(
                d["v_simplex"], color="k", ls="--", lw=1.2, label=r"$V^*(\Delta_K)$: nothing known"
            )
        top.set_title(
            f"({'ab'[j]}) {case} experts, ℓ1 ball\n"
            + rf"$d(\lambda_0)$ = {d['d_lam0']:.4f}, $V^*(\Delta_K)$ = {d['v_simplex']:.4f} nats"
        )
        top.set_xlabel(r"ℓ1 radius $r$:  $\|\lambda - \lambda_0\|_1 \leq r$")
        bottom.axvline(rho_full, color=kl_c, ls="-.", lw=1)
        bottom.set_xscale("function", functions=(_sqrt, np.square))
        bottom.set_xlim(0.0, float(data["kl_radii"][-1]) * 1.02)
        bottom.set_xticks([0, 0.1, 0.5, 1, 2])
        bottom.set_xlabel(
            r"KL radius $\rho$ (nats, √ scale):  $\mathrm{KL}(\lambda\|\lambda_0) \leq \rho$"
        )
        bottom.set_title(f"({'cd'[j]}) {case} experts, KL ball")
    for ax in axes[:, 0]:
        ax.set_ylabel(r"robust value $V^*(\Lambda)$ (nats)")
    handles, labels = plotting.legend_entries(axes.flat)
    handles.append(Line2D([], [], color=kl_c, ls="-.", lw=1))
    labels.append(
        rf"$\rho = -\log\,\mathrm{{min}}_k \lambda_{{0,k}}$ = {rho_full:.3f}: the ball is $\Delta_K$"
    )
    plotting.figure_legend(fig, handles, labels, ncol=2)
    plotting.title(
        fig, "T7", r"knowing more about $\lambda$ lowers the robust value", experiment="E3"
    )
    return plotting.save(fig, Path(out_dir) / "E3_prior_knowledge.png")


def table(data: dict) -> list[dict]:
    """The plotted numbers of E3, as rows.

    Parameters
    ----------
    data : dict
        The output of :func:`run`.

    Returns
    -------
    list of dict
        One row per case, ball and radius: V*, its bounds, d(λ0) and V*(Δ_K).
    """
    rows = []
    for case in CASES:
        d = data[case]
        for ball, _, _ in BALLS:
            prefix = "" if ball == "l1" else "kl_"
            for r, v, lo, up in zip(
                data[f"{prefix}radii"],
                d[f"{prefix}value"],
                d[f"{prefix}lower"],
                d[f"{prefix}upper"],
                strict=True,
            ):
                rows.append(
                    {
                        "experts": case,
                        "ball": ball,
                        "radius": r,
                        "V_star": v,
                        "lower": lo,
                        "upper": up,
                        "d_lam0": d["d_lam0"],
                        "V_simplex": d["v_simplex"],
                    }
                )
    return rows


def check(data: dict) -> tuple[bool, str]:
    """Check the claim of E3 on its data.

    Passes if every curve is non-decreasing (T7: Λ ⊆ Λ' ⇒ V*(Λ) ≤ V*(Λ')),
    starts at d(λ0) and ends at V*(Δ_K) (r = 2; every ρ ≥ −log min λ0), with
    certified gaps at most 1e-7, and V*(Δ_K) ≤ log K for perfect experts.

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
    tol = 1e-7
    parts, ok = [], True
    full = data["kl_radii"] >= data["kl_full_radius"]
    for case in CASES:
        d = data[case]
        for ball, _, radius in BALLS:
            prefix = "" if ball == "l1" else "kl_"
            v = d[f"{prefix}value"]
            drop = float(max(0.0, -np.diff(v).min()))
            start = abs(v[0] - d["d_lam0"])
            # Where Λ is the whole simplex: r = 2 for the ℓ1 ball, ρ ≥ −log min λ0 for KL.
            end_values = v[-1:] if ball == "l1" else v[full]
            end = float(np.max(np.abs(end_values - d["v_simplex"])))
            gap = float(np.max(d[f"{prefix}upper"] - d[f"{prefix}lower"]))
            ok &= drop <= tol and start <= tol and end <= tol and gap <= tol
            where = "r = 2" if ball == "l1" else f"ρ ≥ {data['kl_full_radius']:.4f}"
            parts.append(
                f"{case}, {ball} ball: V*({radius}) from {fmt(v[0])} to {fmt(v[-1])} nats, "
                f"largest decrease {fmt(drop)}, |V*(0) − d(λ0)| = {fmt(start)}, "
                f"max |V* − V*(Δ)| at {where} = {fmt(end)}, max certified gap {fmt(gap)}"
            )
    cap = data["perfect"]["v_simplex"]
    ok &= cap <= data["logK"] + tol
    parts.append(f"perfect V*(Δ) = {fmt(cap)} ≤ log K = {fmt(data['logK'])}")
    return bool(ok), "; ".join(parts)


def setup(p: dict) -> str:
    """The setup paragraph of E3 written to REPORT.md.

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
    'K = 4 Dirichlet domains on n = 60 points '
    """
    return (
        f"K = {p['K']} Dirichlet domains on n = {p['n']} points (separation {p['separation']}, "
        f"seed {p['seed']}); perfect experts P = D and imperfect experts (noise {p['noise']}); "
        f"Λ = L1Ball(λ0 = {vec(p['lam0'], 1)}, r) for {len(p['radii'])} radii r ∈ [0, 2] and "
        f"Λ = KLBall(λ0, ρ) for {len(p['kl_radii'])} radii ρ ∈ [0, {max(p['kl_radii']):.3f}] "
        f"(uniform in √ρ, with ρ = −log min λ0 = {full_radius(p['lam0']):.4f}, where the ball "
        "becomes Δ_K), each solved exactly by the dual solver with certified bounds. Passes if "
        "both curves are non-decreasing, start at d(λ0), end at V*(Δ_K) (r = 2; every "
        "ρ ≥ −log min λ0), with certified gaps ≤ 1e-7, and V*(Δ_K) ≤ log K for perfect experts."
    )


EXPERIMENT = register(
    name="Prior knowledge: V*(Λ) against the radius of an ℓ1 ball and of a KL ball",
    claim="T7: Λ ⊆ Λ' ⇒ V*(Λ) ≤ V*(Λ'); V*(L1Ball(λ0, r)) rises from d(λ0) at r = 0 to V*(Δ_K) "
    "at r = 2, V*(KLBall(λ0, ρ)) from d(λ0) at ρ = 0 to V*(Δ_K) once ρ ≥ −log min_k λ0_k, "
    "and V*(Δ_K) ≤ log K for perfect experts.",
    params=params,
    run=run,
    plot=plot,
    table=table,
    check=check,
    setup=setup,
)
