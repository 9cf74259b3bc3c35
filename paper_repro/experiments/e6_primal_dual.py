"""E6 (T12): the stochastic primal-dual algorithm reaches the robust value.

On synthetic instances, the stochastic primal-dual algorithm of
:mod:`sims.primal_dual` (paper §5.2) only samples the domains and the experts.
The exact worst-case payoff of its averaged iterate (renormalized by its exact
mass) approaches V* (tabular gate) or the best value of the
softmax-linear class on log-likelihood features, at the O(1/√T) rate of
stochastic convex–concave games; the averaged mass Z(ḡ) tends to 1.

Notation: Z(g) = Σ_x Σ_k g_k(x) p_k(x) is the mass of the gate's model, ḡ the
average of the gate iterates, T the number of steps and V* the robust value.
The figure illustrates the theory pages §5.1–§5.2 of the documentation.

Examples
--------
>>> from paper_repro.experiments import e6_primal_dual as e6
>>> e6.GATES
('tabular', 'loglik')
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from paper_repro import plotting
from paper_repro.experiments._base import progress, register
from paper_repro.experiments._common import fmt
from sims.domains import dirichlet_domains, noisy_experts
from sims.generalization import log_log_slope
from sims.primal_dual import stochastic_primal_dual

GATES = ("tabular", "loglik")
TOL = 0.01
# Checkpoints before this step are in the transient: the rate is fitted after it.
FIT_FROM = 100


def params(mode: str) -> dict:
    """The sizes and seeds of E6 for ``mode``.

    Each of ``instances`` random instances is solved with both gates (``GATES``).

    Parameters
    ----------
    mode : {"quick", "full"}
        Small sizes for a quick run, or the sizes of the full reproduction.

    Returns
    -------
    dict
        ``K``, ``n``, ``separation``, ``noise``, ``instances``, ``steps`` (T),
        ``batch`` (b), ``objective``, ``seed``.

    Examples
    --------
    >>> params("quick")["steps"], params("full")["steps"]
    (20000, 100000)
    """
    return {
        "K": 3,
        "n": 20 if mode == "quick" else 200,
        "separation": 1.0,
        "noise": 0.3,
        "instances": 3 if mode == "quick" else 6,
        "steps": 20_000 if mode == "quick" else 100_000,
        "batch": 32,
        "objective": "regret",
        "seed": 6,
    }


def run(p: dict, show_progress: bool = False) -> dict:
    """Run the stochastic primal-dual algorithm on every instance with both gates.

    Parameters
    ----------
    p : dict
        The parameters of :func:`params`.
    show_progress : bool, default False
        Show a progress bar over the runs.

    Returns
    -------
    dict
        ``runs``: one dict per (instance, gate) with the checkpoints ``step``,
        ``worst_case`` and ``avg_mass`` along the run, the ``reference`` (V* or the
        class optimum), and the final ``final`` worst case, ``lower`` = d(λ̄),
        ``mass`` and ``lam``.
    """
    runs = []
    cases = [(i, g) for i in range(p["instances"]) for g in GATES]
    for i, gate in progress(cases, "E6 runs", show=show_progress):
        D = dirichlet_domains(p["K"], p["n"], p["separation"], seed=p["seed"] + i)
        P = noisy_experts(D, p["noise"], seed=p["seed"] + 100 + i)
        r = stochastic_primal_dual(
            D, P, objective=p["objective"], gate=gate, steps=p["steps"], batch=p["batch"], seed=i
        )
        runs.append(
            {
                "instance": i,
                "gate": gate,
                "step": r.history.step,
                "worst_case": r.history.worst_case,
                "avg_mass": r.history.avg_mass,
                "reference": r.reference,
                "final": r.worst_case,
                "lower": r.lower,
                "mass": r.mass,
                "lam": r.lam,
            }
        )
    return {"runs": runs}


def _excess(run: dict) -> np.ndarray:
    return np.abs(run["worst_case"] - run["reference"])


def _slope(run: dict) -> float:
    late = run["step"] >= FIT_FROM
    return log_log_slope(run["step"][late], np.maximum(_excess(run)[late], 1e-12))


GATE_COLORS = {gate: plotting.color(f"primal-dual gate ({gate})") for gate in GATES}
GATE_LABELS = {"tabular": "tabular gate", "loglik": "log-likelihood gate"}
REFERENCE_LABELS = {
    "tabular": r"$V^*$: reference of the tabular gate",
    "loglik": r"$V^*(\mathcal{G})$: best log-likelihood gate",
}


@plotting.styled
def plot(data: dict, out_dir: Path) -> Path:
    """Draw figure E6: excess worst case against the number of steps (log-log), and the mass.

    Parameters
    ----------
    data : dict
        The output of :func:`run`.
    out_dir : str or Path
        The output folder.

    Returns
    -------
    Path
        ``out_dir/E6_primal_dual.png`` (a PDF is written next to it).
    """
    fig, axes = plotting.figure(1, 3, height=3.4)
    shown = data["runs"][0]["instance"]
    count = len({r["instance"] for r in data["runs"]})

    ax = axes[0, 0]
    for r in (r for r in data["runs"] if r["instance"] == shown):
        c = GATE_COLORS[r["gate"]]
        ax.plot(r["step"], r["worst_case"], "-", color=c, label=GATE_LABELS[r["gate"]])
        ax.axhline(r["reference"], color=c, ls="--", lw=1.2, label=REFERENCE_LABELS[r["gate"]])
    ax.set(
        xscale="log",
        xlabel="steps $T$",
        ylabel="worst-case payoff (nats)",
        title=f"(a) one instance (of {count})",
    )

    ax = axes[0, 1]
    for r in data["runs"]:
        ax.plot(
            r["step"], np.maximum(_excess(r), 1e-6), "-", color=GATE_COLORS[r["gate"]], alpha=0.8
        )
    steps = data["runs"][0]["step"]
    ax.plot(steps, 0.5 / np.sqrt(steps), "k:", lw=1.2, label=r"rate $0.5/\sqrt{T}$")
    ax.axhline(TOL, color="0.5", ls="--", lw=1, label=f"tolerance {TOL} nats")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="steps $T$",
        ylabel="|worst case − reference| (nats)",
        title="(b) all instances: excess",
    )

    ax = axes[0, 2]
    for r in data["runs"]:
        ax.plot(
            r["step"],
            np.abs(r["avg_mass"] - 1.0) + 1e-9,
            "-",
            color=GATE_COLORS[r["gate"]],
            alpha=0.8,
        )
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="steps $T$",
        ylabel=r"$|Z(\bar g) - 1|$",
        title=r"(c) mass of $\bar g$",
    )
    plotting.figure_legend(fig, ncol=3)
    plotting.title(
        fig,
        "T12",
        r"the averaged iterates approach $V^*$ at rate $O(1/\sqrt{T})$",
        experiment="E6",
    )
    return plotting.save(fig, Path(out_dir) / "E6_primal_dual.png")


def table(data: dict) -> dict:
    """The plotted numbers of E6, as rows.

    Parameters
    ----------
    data : dict
        The output of :func:`run`.

    Returns
    -------
    dict of str to list of dict
        ``"curves"`` (every checkpoint of every run: worst case, reference, mass)
        and ``"final"`` (per run: final worst case, reference, d(λ̄), certified
        gap, mass and fitted rate slope).
    """
    curves, finals = [], []
    for r in data["runs"]:
        for t, wc, z in zip(r["step"], r["worst_case"], r["avg_mass"], strict=True):
            curves.append(
                {
                    "instance": r["instance"],
                    "gate": r["gate"],
                    "step": t,
                    "worst_case": wc,
                    "reference": r["reference"],
                    "avg_mass": z,
                }
            )
        finals.append(
            {
                "instance": r["instance"],
                "gate": r["gate"],
                "worst_case": r["final"],
                "reference": r["reference"],
                "lower_d_lam": r["lower"],
                "certified_gap": r["final"] - r["lower"],
                "mass": r["mass"],
                "rate_slope": _slope(r),
            }
        )
    return {"curves": curves, "final": finals}


def check(data: dict) -> tuple[bool, str]:
    """Check the claim of E6 on its data.

    Passes if, for both gates, the final worst case is within ``TOL`` of its
    reference and the mass within ``TOL`` of 1 on every instance, and the median
    fitted log-log slope of the excess (from ``FIT_FROM`` steps on) is at most
    −0.4.

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
    parts, ok = [], True
    for gate in GATES:
        runs = [r for r in data["runs"] if r["gate"] == gate]
        err = max(abs(r["final"] - r["reference"]) for r in runs)
        cert = max(r["final"] - r["lower"] for r in runs)
        mass = max(abs(r["mass"] - 1.0) for r in runs)
        slope = float(np.median([_slope(r) for r in runs]))
        ok &= err <= TOL and mass <= TOL and slope <= -0.4
        name = "V*" if gate == "tabular" else "the class optimum"
        parts.append(
            f"{gate} gate: max |worst case − {name}| = {fmt(err)} nats (tolerance {TOL}), "
            f"max certified gap worst case − d(λ̄) = {fmt(cert)}, max |Z − 1| = {fmt(mass)}, "
            f"median fitted rate slope {slope:.2f} (log-log, T ≥ {FIT_FROM})"
        )
    return bool(ok), "; ".join(parts)


def setup(p: dict) -> str:
    """The setup paragraph of E6 written to REPORT.md.

    Parameters
    ----------
    p : dict
        The parameters of :func:`params`.

    Returns
    -------
    str

    Examples
    --------
    >>> setup(params("quick"))[:14]
    '3 instances of'
    """
    return (
        f"{p['instances']} instances of K = {p['K']} Dirichlet domains on n = {p['n']} points "
        f"(separation {p['separation']}) with noisy experts (noise {p['noise']}); "
        f"objective {p['objective']}, Λ = Δ_K; {p['steps']} steps of batch {p['batch']} per "
        "domain and per expert, tabular gate and softmax-linear gate on expert log-likelihood "
        "features (‖W‖ ≤ 10); references: V* from the exact dual solver and the class optimum "
        "from a deterministic multi-start SLSQP solve."
    )


EXPERIMENT = register(
    name="Stochastic primal-dual algorithm: averaged iterates vs steps",
    claim="T12: sampling only the domains and the experts, the averaged primal-dual iterate's "
    "exact worst-case payoff approaches V* (tabular gate) or the best value of its class "
    "(log-likelihood features) at rate O(1/√T), with Z(ḡ) → 1.",
    params=params,
    run=run,
    plot=plot,
    table=table,
    check=check,
    setup=setup,
)
