"""E1 (T4): the saddle point of the robust game as the crossing of two best responses.

K = 2. A gate g enters the mixture player's best response only through the
payoff difference Δ(g) = L_1(p_g) − L_2(p_g): BR_Λ(g) is λ_1 = 1 if Δ > 0,
λ_1 = 0 if Δ < 0 and all of [0, 1] if Δ = 0. The gate player's best response to
λ is the water-filling model q*_λ of T3, summarized by Δ(q*_λ). Both maps are
drawn in the (λ_1, Δ) plane; Kakutani's fixed point is their crossing
(λ*_1, 0). The primal and dual values of the exact solver meet at V*.

Notation: D_1, D_2 are the two domains and p_1, p_2 their experts, distributions
on n points; a gate g combines them into p_g = g_1 p_1 + g_2 p_2 point by
point; L_k(q) = KL(D_k‖q) is the loss of a model q on domain k; λ = (λ_1, 1 − λ_1)
is the mixture and V* the robust value. The figure illustrates the theory page
§4.2 (robust existence) of the documentation.

Examples
--------
>>> from paper_repro.experiments import e1_kakutani as e1
>>> e1.EXPERIMENT.id, e1.EXPERIMENT.claim.split(":")[0]
('E1', 'T4')
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from paper_repro import plotting
from paper_repro.experiments._base import progress, register
from paper_repro.experiments._common import fmt
from sims.domains import dirichlet_domains, noisy_experts
from theory.minimax import fixed_mixture, robust_gate


def params(mode: str) -> dict:
    """The sizes and seeds of E1 for ``mode``.

    Parameters
    ----------
    mode : {"quick", "full"}
        ``"quick"`` uses a grid of 101 values of λ_1, ``"full"`` 1001.

    Returns
    -------
    dict
        ``K`` (2), ``n`` (points), ``separation`` and ``noise`` (of the
        domains and experts, :mod:`sims.domains`), ``grid`` (values of λ_1),
        ``seed``.

    Examples
    --------
    >>> params("quick")["grid"], params("full")["grid"]
    (101, 1001)
    """
    return {
        "K": 2,
        "n": 50,
        "separation": 1.5,
        "noise": 0.4,
        "grid": 101 if mode == "quick" else 1001,
        "seed": 11,
    }


def run(p: dict, show_progress: bool = False) -> dict:
    """Compute both best responses on the grid of λ_1, and the exact saddle point.

    For each λ_1 the gate player's best response is the water-filling model
    q*_λ of T3 (:func:`theory.minimax.fixed_mixture`), summarized by
    Δ = L_1(q*_λ) − L_2(q*_λ); the robust gate (T4) gives λ*, Δ(g*) and the
    solver's certified history.

    Parameters
    ----------
    p : dict
        The parameters of :func:`params`.
    show_progress : bool, default False
        Show a progress bar over the grid.

    Returns
    -------
    dict
        ``lam1``, ``delta`` and ``dual_value`` (d(λ)) on the grid; ``lam_star``,
        ``delta_star``, ``value``, ``lower``, ``upper`` of the robust gate;
        ``history_lower`` and ``history_upper`` of its iterations.
    """
    D = dirichlet_domains(p["K"], p["n"], p["separation"], seed=p["seed"])
    P = noisy_experts(D, p["noise"], seed=p["seed"] + 1)
    lam1 = np.linspace(0.0, 1.0, p["grid"])
    delta = np.empty_like(lam1)
    value = np.empty_like(lam1)
    for i, a in enumerate(progress(lam1, "E1 best responses", show=show_progress)):
        res = fixed_mixture(D, P, [a, 1.0 - a])
        delta[i] = res.per_domain[0] - res.per_domain[1]
        value[i] = res.value
    robust = robust_gate(D, P)
    history = np.asarray(robust.history, dtype=np.float64).reshape(-1, 2)
    return {
        "lam1": lam1,
        "delta": delta,
        "dual_value": value,
        "lam_star": robust.lam,
        "delta_star": float(robust.per_domain[0] - robust.per_domain[1]),
        "value": robust.value,
        "lower": robust.lower,
        "upper": robust.upper,
        "history_lower": history[:, 0],
        "history_upper": history[:, 1],
    }


def _crossing(lam1: np.ndarray, delta: np.ndarray) -> float:
    """λ_1 where the gate's best response has Δ = 0 (linear interpolation on the grid)."""
    i = int(np.flatnonzero(np.sign(delta[:-1]) != np.sign(delta[1:]))[0])
    a, b = delta[i], delta[i + 1]
    return float(lam1[i] + (lam1[i + 1] - lam1[i]) * a / (a - b))


@plotting.styled
def plot(data: dict, out_dir: Path) -> Path:
    """Draw figure E1: the two best responses, the dual function, primal meets dual.

    Parameters
    ----------
    data : dict
        The output of :func:`run`.
    out_dir : str or Path
        The output folder.

    Returns
    -------
    Path
        ``out_dir/E1_kakutani.png`` (a PDF is written next to it).
    """
    fig, axes = plotting.figure(1, 3, height=3.3)
    gate_c, mix_c = plotting.color("robust gate"), plotting.case_color(1)
    primal_c, dual_c = plotting.case_color(2), plotting.case_color(0)
    lam1, delta = data["lam1"], data["delta"]
    lam_star = float(data["lam_star"][0])

    ax = axes[0, 0]
    lo, hi = float(delta.min()), float(delta.max())
    # The mixture player's best response: λ_1 = 0 if Δ < 0, any λ_1 if Δ = 0, λ_1 = 1 if Δ > 0.
    ax.plot(
        [0, 0, 1, 1],
        [lo, 0, 0, hi],
        color=mix_c,
        lw=3,
        solid_joinstyle="miter",
        label=r"mixture player: $\mathrm{BR}_\Lambda(g)$",
    )
    ax.plot(lam1, delta, color=gate_c, label=r"gate player: $\Delta(q^*_\lambda)$")
    ax.plot(lam_star, data["delta_star"], "k*", ms=11, label=r"saddle point $(\lambda_1^*, 0)$")
    ax.set(
        xlabel=r"mixture weight $\lambda_1$",
        ylabel=r"$\Delta = L_1(p_g) - L_2(p_g)$ (nats)",
        title="(a) best responses",
    )

    ax = axes[0, 1]
    ax.plot(lam1, data["dual_value"], color=dual_c, label=r"dual $d(\lambda)$, $d(\lambda_t)$")
    ax.axhline(data["value"], color="k", ls="--", lw=1, label=rf"$V^* = {data['value']:.5f}$ nats")
    ax.axvline(lam_star, color="k", ls=":", lw=1)
    ax.set(xlabel=r"mixture weight $\lambda_1$", ylabel="payoff (nats)", title="(b) dual function")

    ax = axes[0, 2]
    it = np.arange(data["history_lower"].size)
    ax.plot(
        it,
        data["history_upper"],
        "o-",
        color=primal_c,
        label=r"primal $\mathrm{max}_\lambda L(g_t, \lambda)$",
    )
    ax.plot(it, data["history_lower"], "s-", color=dual_c)
    ax.axhline(data["value"], color="k", ls="--", lw=1)
    ax.set(xlabel="solver iteration $t$", ylabel="payoff (nats)", title="(c) primal meets dual")
    ax.set_xticks(it)
    plotting.figure_legend(fig, ncol=3)
    plotting.title(
        fig, "T4", r"the best responses cross at the saddle point ($K = 2$)", experiment="E1"
    )
    return plotting.save(fig, Path(out_dir) / "E1_kakutani.png")


def table(data: dict) -> dict[str, list[dict]]:
    """The plotted numbers of E1, as rows.

    Parameters
    ----------
    data : dict
        The output of :func:`run`.

    Returns
    -------
    dict of str to list of dict
        ``"best_responses"`` (λ_1, Δ of the best gate, d(λ)) and ``"solver"``
        (the certified bounds per iteration).
    """
    maps = [
        {"lam1": a, "delta_of_best_gate": b, "dual_value": c}
        for a, b, c in zip(data["lam1"], data["delta"], data["dual_value"], strict=True)
    ]
    history = [
        {"iteration": i, "primal_upper": u, "dual_lower": lo}
        for i, (lo, u) in enumerate(zip(data["history_lower"], data["history_upper"], strict=True))
    ]
    return {"best_responses": maps, "solver": history}


def check(data: dict) -> tuple[bool, str]:
    """Check the claim of E1 on its data.

    Passes if the grid crossing of the gate player's best response is within
    one grid step of the solver's λ*_1, Δ(g*) = 0 within 1e-6, and the
    certified primal − dual gap is at most 1e-8.

    Parameters
    ----------
    data : dict
        The output of :func:`run`.

    Returns
    -------
    passed : bool
        Whether the claim holds on this instance.
    measured : str
        The measured evidence, one sentence.
    """
    cross = _crossing(data["lam1"], data["delta"])
    step = float(data["lam1"][1] - data["lam1"][0])
    lam_star = float(data["lam_star"][0])
    gap = data["upper"] - data["lower"]
    ok = abs(cross - lam_star) <= step and gap <= 1e-8 and abs(data["delta_star"]) <= 1e-6
    measured = (
        f"best responses cross at λ₁ = {cross:.4f} (grid step {step:.3g}); solver λ*₁ = "
        f"{lam_star:.6f}; Δ(g*) = {fmt(data['delta_star'])}; primal − dual = {fmt(gap)} after "
        f"{data['history_lower'].size - 1} iterations; V* = {data['value']:.8f} nats"
    )
    return bool(ok), measured


def setup(p: dict) -> str:
    """The setup paragraph of E1 written to REPORT.md.

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
    'K = 2 Dirichlet domains on n = 50 points '
    """
    return (
        f"K = 2 Dirichlet domains on n = {p['n']} points (separation {p['separation']}, seed "
        f"{p['seed']}), imperfect experts (noise {p['noise']}). The gate's best response is the "
        f"T3 closed form on {p['grid']} values of λ₁; the saddle point is solved exactly by the "
        "dual solver. Passes if the grid crossing is within one grid step of λ*₁, Δ(g*) = 0, "
        "and the certified primal − dual gap is ≤ 1e-8."
    )


EXPERIMENT = register(
    name="Existence of the saddle point (Kakutani)",
    claim="T4: the best-response maps of the two players cross at a saddle point (g*, λ*); "
    "min_g max_λ L = max_λ min_g L = V*.",
    params=params,
    run=run,
    plot=plot,
    table=table,
    check=check,
    setup=setup,
)
