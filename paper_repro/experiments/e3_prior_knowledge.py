"""E3 (T7): prior knowledge on the mixture weights.

V*(L1Ball(λ0, r)) grows with the radius r, from the dual value d(λ0) at r = 0
(a known mixture, T3) to V*(Δ_K) at r = 2 (no knowledge), for perfect and for
imperfect experts. With perfect experts V*(Δ_K) is the capacity C(D) ≤ log K.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from paper_repro import plotting
from paper_repro.experiments._base import progress, register
from paper_repro.experiments._common import fmt, vec
from sims.domains import dirichlet_domains, noisy_experts
from theory.minimax import dual_function, robust_gate
from theory.mixtures import L1Ball

CASES = ("perfect", "imperfect")


def params(mode: str) -> dict:
    return {
        "K": 4,
        "n": 60 if mode == "quick" else 2000,
        "separation": 1.5,
        "noise": 0.3,
        "lam0": [0.4, 0.3, 0.2, 0.1],
        "radii": np.linspace(0.0, 2.0, 21 if mode == "quick" else 81).tolist(),
        "seed": 3,
    }


def run(p: dict, show_progress: bool = False) -> dict:
    D = dirichlet_domains(p["K"], p["n"], p["separation"], seed=p["seed"])
    experts = {"perfect": D, "imperfect": noisy_experts(D, p["noise"], seed=p["seed"] + 1)}
    lam0 = np.array(p["lam0"])
    radii = np.array(p["radii"])
    data: dict = {"radii": radii, "logK": float(np.log(p["K"]))}
    for case, P in experts.items():
        values, lowers, uppers = [], [], []
        for r in progress(radii, f"E3 {case}", show=show_progress):
            res = robust_gate(D, P, mixtures=L1Ball(lam0, float(r)))
            values.append(res.value)
            lowers.append(res.lower)
            uppers.append(res.upper)
        full = robust_gate(D, P)
        data[case] = {
            "value": np.array(values),
            "lower": np.array(lowers),
            "upper": np.array(uppers),
            "d_lam0": float(dual_function(D, P, lam0)[0]),
            "v_simplex": float(full.value),
            "lam_simplex": full.lam,
        }
    return data


def plot(data: dict, out_dir: Path) -> Path:
    fig, axes = plotting.figure(ncols=2, width=4.6, height=3.8, sharey=True)
    for i, (ax, case) in enumerate(zip(axes[0], CASES, strict=True)):
        c = plotting.color("", 3 * i)
        d = data[case]
        ax.plot(data["radii"], d["value"], "o-", color=c, ms=4, label="V*(L1Ball(λ0, r))")
        ax.axhline(d["d_lam0"], color="k", ls=":", lw=1.2, label=f"d(λ0) = {d['d_lam0']:.4f}")
        ax.axhline(
            d["v_simplex"], color="k", ls="--", lw=1.2, label=f"V*(Δ_K) = {d['v_simplex']:.4f}"
        )
        ax.set(xlabel="radius r of the ℓ1 ball around λ0", title=f"{case} experts")
        ax.legend(loc="center right")
    axes[0, 0].set_ylabel("robust value V* (nats)")
    plotting.title(
        fig, "T7", f"prior knowledge on λ lowers the robust value (log K = {data['logK']:.3f})"
    )
    return plotting.save(fig, Path(out_dir) / "E3_prior_knowledge.png")


def table(data: dict) -> list[dict]:
    rows = []
    for case in CASES:
        d = data[case]
        for r, v, lo, up in zip(data["radii"], d["value"], d["lower"], d["upper"], strict=True):
            rows.append(
                {
                    "experts": case,
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
    tol = 1e-7
    parts, ok = [], True
    for case in CASES:
        d = data[case]
        v = d["value"]
        drop = float(max(0.0, -np.diff(v).min()))
        start = abs(v[0] - d["d_lam0"])
        end = abs(v[-1] - d["v_simplex"])
        gap = float(np.max(d["upper"] - d["lower"]))
        ok &= drop <= tol and start <= tol and end <= tol and gap <= tol
        parts.append(
            f"{case}: V*(r) from {fmt(v[0])} to {fmt(v[-1])} nats, largest decrease {fmt(drop)}, "
            f"|V*(0) − d(λ0)| = {fmt(start)}, |V*(2) − V*(Δ)| = {fmt(end)}, "
            f"max certified gap {fmt(gap)}"
        )
    cap = data["perfect"]["v_simplex"]
    ok &= cap <= data["logK"] + tol
    parts.append(f"perfect V*(Δ) = {fmt(cap)} ≤ log K = {fmt(data['logK'])}")
    return bool(ok), "; ".join(parts)


def setup(p: dict) -> str:
    return (
        f"K = {p['K']} Dirichlet domains on n = {p['n']} points (separation {p['separation']}, "
        f"seed {p['seed']}); perfect experts P = D and imperfect experts (noise {p['noise']}); "
        f"Λ = L1Ball(λ0 = {vec(p['lam0'], 1)}, r) for {len(p['radii'])} radii r ∈ [0, 2], "
        "each solved exactly by the dual solver with certified bounds."
    )


EXPERIMENT = register(
    name="Prior knowledge: V*(Λ) against the radius of an ℓ1 ball",
    claim="T7: Λ ⊆ Λ' ⇒ V*(Λ) ≤ V*(Λ'); V*(L1Ball(λ0, r)) rises from d(λ0) at r = 0 to V*(Δ_K) "
    "at r = 2, and V*(Δ_K) ≤ log K for perfect experts.",
    params=params,
    run=run,
    plot=plot,
    table=table,
    check=check,
    setup=setup,
)
