"""E7 (T11): generalization of a learned gate, and of a monolithic tabular model.

Over many independent sample draws, the uniform gap sup_g (L − L̂) of the
softmax-linear gate class stays below the bound of T11 (violation rate ≤ δ) and
shrinks like m^{-1/2}, with a complexity that depends on K and the class size B,
not on the size n of X. A monolithic tabular model over X, trained on the same samples,
has a larger gap, and its class pays a complexity of order sqrt(n/m).

Notation: m is the total sample size, split over the K domains as m_k =
m̄_k m; L(g, λ) is the true payoff of a model for the fixed mixture λ and
L̂(g, λ) its value on the sample, so L − L̂ is the generalization gap; the
uniform gap is its supremum over a class; R_m is the weighted Rademacher
complexity, M the range of the loss and s(λ‖m̄) the skewness (all defined
in :mod:`theory.bounds`). The measurements come from
:func:`sims.generalization.generalization_gaps`. The figure illustrates the
theory page *Generalization and sample efficiency* of the documentation (the
paper's §4.6).

Examples
--------
>>> from paper_repro.experiments import e7_generalization as e7
>>> e7.MODELS, e7.SLOPE_RANGE
(('gate', 'tab'), (-0.65, -0.35))
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import NullFormatter

from paper_repro import plotting
from paper_repro.experiments._base import register
from paper_repro.experiments._common import fmt, vec
from sims.domains import dirichlet_domains
from sims.experts import tabular_experts
from sims.generalization import generalization_gaps, log_log_slope

#: The two models compared: the softmax-linear gate and the monolithic tabular model.
MODELS = ("gate", "tab")
#: Their names in the figure.
LABELS = {"gate": "softmax-linear gate", "tab": "monolithic tabular model"}
#: Accepted range of the fitted exponent of the gate's mean uniform gap against m.
SLOPE_RANGE = (-0.65, -0.35)
# Stated windows for the complexity term R_m of T11 against its Monte Carlo estimates:
# R_m / R̂_loss ∈ [1, LOSS_FACTOR] (domination; contraction is loose), and
# R_m / (2√2 R̂_lin) ∈ CHAIN_WINDOW (vector contraction with Lipschitz constant 2 applied
# to the logits' linear class: ½ ≤ ‖φ‖² ≤ 1 and Khintchine's √2 give at most 2).
#: Largest accepted ratio R_m / R̂_S of the analytical to the estimated loss complexity.
LOSS_FACTOR = 80.0
#: Accepted window of R_m / (2√2 R̂_S(logits)), the contraction step of T11.
CHAIN_WINDOW = (1.0, 2.0)


def params(mode: str) -> dict:
    """The sizes and seeds of E7 for ``mode``.

    Parameters
    ----------
    mode : {"quick", "full"}
        Small sizes for a quick run, or the sizes of the full reproduction.

    Returns
    -------
    dict
        ``K``, ``n``, ``separation``, ``expert_samples`` (samples per domain for
        the tabular experts), ``lam`` (λ), ``mbar`` (m̄), ``m`` (the total
        sizes), ``draws``, ``delta`` (δ), ``radius`` (B), ``seed``.

    Examples
    --------
    >>> params("quick")["m"]
    [30, 100, 300, 1000, 3000, 10000]
    >>> params("full")["draws"]
    1000
    """
    quick = mode == "quick"
    return {
        "K": 3,
        "n": 200 if quick else 500,
        "separation": 1.0,
        "expert_samples": 2000,
        "lam": [1 / 3, 1 / 3, 1 / 3],
        "mbar": [0.5, 0.3, 0.2],
        "m": [30, 100, 300, 1000, 3000, 10000]
        if quick
        else [30, 100, 300, 1000, 3000, 10000, 30000],
        "draws": 200 if quick else 1000,
        "delta": 0.05,
        "radius": 10.0,
        "seed": 7,
    }


def run(p: dict, show_progress: bool = False) -> dict:
    """Measure the gaps of E7 on one instance (:func:`sims.generalization.generalization_gaps`).

    Parameters
    ----------
    p : dict
        The parameters of :func:`params`.
    show_progress : bool, default False
        Unused: the measurement runs as one vectorized call.

    Returns
    -------
    dict
        ``m``, ``sizes``, ``skewness``, ``delta``, the loss ranges ``M_gate``,
        ``M_tab``, ``M_class``, and per model (``"gate"``, ``"tab"``) a dict of
        arrays: ``gap``, ``sup``, ``true`` (shape (len(m), draws)), ``bound`` and
        ``violation`` (shape (len(m),)); the gate's also holds its analytical
        ``complexity``, the Monte Carlo ``rademacher_loss``/``rademacher_linear``
        (with standard errors ``*_se``), the data-dependent ``bound_dd`` and its
        ``violation_dd``.
    """
    D = dirichlet_domains(p["K"], p["n"], p["separation"], seed=p["seed"])
    P = tabular_experts(D, p["expert_samples"], seed=p["seed"] + 1)
    g = generalization_gaps(
        D,
        P,
        p["lam"],
        p["m"],
        mbar=p["mbar"],
        draws=p["draws"],
        delta=p["delta"],
        radius=p["radius"],
        seed=p["seed"] + 2,
    )
    return {
        "m": g.m,
        "sizes": g.sizes,
        "skewness": g.skewness,
        "delta": g.delta,
        "M_gate": g.M_gate,
        "M_tab": g.M_tab,
        "M_class": g.M_class,
        "gate": {
            "gap": g.gate_gap,
            "sup": g.gate_sup,
            "true": g.gate_true,
            "bound": g.gate_bound,
            "violation": g.gate_violation,
            "complexity": g.gate_complexity,
            "rademacher_loss": g.rademacher_loss,
            "rademacher_loss_se": g.rademacher_loss_se,
            "rademacher_linear": g.rademacher_linear,
            "rademacher_linear_se": g.rademacher_linear_se,
            "bound_dd": g.gate_bound_dd,
            "violation_dd": (g.gate_sup > g.gate_bound_dd[:, None]).mean(axis=1),
        },
        "tab": {
            "gap": g.tab_gap,
            "sup": g.tab_sup,
            "true": g.tab_true,
            "bound": g.tab_bound,
            "violation": g.tab_violation,
        },
    }


def _slope(data: dict, model: str) -> float:
    return log_log_slope(data["m"], data[model]["sup"].mean(axis=1))


#: Colour of each model in the figure.
MODEL_COLORS = {"gate": plotting.color("softmax-linear gate"), "tab": plotting.color("monolithic")}
#: Titles of the two upper panels.
PANEL_TITLES = {
    "gate": r"(a) softmax-linear gate ($K = 3$, $\|W\| \leq 10$)",
    "tab": "(b) monolithic tabular model",
}


def _sample_size_axis(ax, m: np.ndarray) -> None:
    """A log axis of the sample sizes, labelled at the sizes drawn (30, 100, …, 10k)."""
    ax.set_xscale("log")
    ax.set_xticks(m, [f"{v / 1000:g}k" if v >= 1000 else f"{v:g}" for v in m])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("total sample size $m$")


@plotting.styled
def plot(data: dict, out_dir: Path) -> Path:
    """Draw figure E7: the gaps and the T11 bound against m (log-log), per model, and the true payoffs.

    Parameters
    ----------
    data : dict
        The output of :func:`run`.
    out_dir : str or Path
        The output folder.

    Returns
    -------
    Path
        ``out_dir/E7_generalization.png`` (a PDF is written next to it).
    """
    fig, axes = plotting.figure(2, 2, height=5.6)
    m = data["m"]
    for j, model in enumerate(MODELS):
        ax = axes[0, j]
        d, c = data[model], MODEL_COLORS[model]
        ax.plot(m, np.quantile(d["sup"], 1.0 - data["delta"], axis=1), "-.", color=c, lw=1.2)
        ax.plot(m, d["sup"].mean(axis=1), "o-", color=c)
        ax.plot(m, np.abs(d["gap"]).mean(axis=1), "s--", color=c, ms=4)
        ax.plot(m, d["bound"], "k-", lw=1.5)
        ax.plot(m, d["sup"].mean(axis=1)[0] * np.sqrt(m[0] / m), "k:", lw=1.2)
        ax.set(yscale="log", ylabel="gap (nats)")
        _sample_size_axis(ax, m)
        slope = f"{_slope(data, model):.2f}".replace("-", "−")
        ax.set_title(f"{PANEL_TITLES[model]}\nfitted slope {slope}")
    ax = axes[1, 0]
    for model in MODELS:
        ax.plot(
            m,
            data[model]["true"].mean(axis=1),
            "o-",
            color=MODEL_COLORS[model],
            label=LABELS[model],
        )
    ax.set(ylabel=r"true payoff $L$ (nats)", title="(c) cross-entropy of the trained model")
    _sample_size_axis(ax, m)
    grey = "0.35"
    styles = [
        (
            Line2D([], [], color=grey, marker="o"),
            r"uniform gap $\mathrm{sup}_g (L - \hat L)$, mean",
        ),
        (
            Line2D([], [], color=grey, ls="-.", lw=1.2),
            rf"its {1 - data['delta']:.0%} quantile over the draws",
        ),
        (
            Line2D([], [], color=grey, marker="s", ls="--", ms=4),
            r"$|L - \hat L|$ of the trained model, mean",
        ),
        (Line2D([], [], color="k", lw=1.5), f"T11 bound (δ = {data['delta']})"),
        (Line2D([], [], color="k", ls=":", lw=1.2), r"slope $-1/2$: $\propto m^{-1/2}$"),
    ]
    models = [(Patch(color=MODEL_COLORS[k]), LABELS[k]) for k in MODELS]
    plotting.legend_panel(
        axes[1, 1],
        [h for h, _ in models + styles],
        [lab for _, lab in models + styles],
    )
    plotting.title(
        fig,
        "T11",
        r"the gate's gap shrinks like $m^{-1/2}$, whatever $|X|$",
        experiment="E7",
    )
    return plotting.save(fig, Path(out_dir) / "E7_generalization.png")


def table(data: dict) -> list[dict]:
    """The plotted numbers of E7, as rows: one per total sample size m.

    Parameters
    ----------
    data : dict
        The output of :func:`run`.

    Returns
    -------
    list of dict
        Per m: ``m``, ``m_k``, ``skewness`` and, per model (prefix ``gate_`` or
        ``tab_``), the mean and 95% quantile of the uniform gap, the mean gap of
        the trained model, its mean true payoff, the bound and the violation
        rate.
    """
    rows = []
    for i, m in enumerate(data["m"]):
        row = {"m": m, "m_k": vec(data["sizes"][i], 0), "skewness": data["skewness"][i]}
        for model in MODELS:
            d = data[model]
            row.update(
                {
                    f"{model}_sup_mean": d["sup"][i].mean(),
                    f"{model}_sup_q95": np.quantile(d["sup"][i], 0.95),
                    f"{model}_gap_mean": d["gap"][i].mean(),
                    f"{model}_true_mean": d["true"][i].mean(),
                    f"{model}_bound": d["bound"][i],
                    f"{model}_violation": d["violation"][i],
                }
            )
        rows.append(row)
    return rows


def _complexity_ratios(gate: dict) -> dict[str, np.ndarray]:
    """R_m against its Monte Carlo estimates, per m (the lower ends allow 3 standard errors)."""
    R = np.asarray(gate["complexity"])
    loss, loss_se = np.asarray(gate["rademacher_loss"]), np.asarray(gate["rademacher_loss_se"])
    lin, lin_se = np.asarray(gate["rademacher_linear"]), np.asarray(gate["rademacher_linear_se"])
    c = 2.0 * np.sqrt(2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "loss": R / loss,
            "loss_low": R / np.maximum(loss - 3 * loss_se, 1e-300),
            "chain": R / (c * lin),
            "chain_low": R / (c * np.maximum(lin - 3 * lin_se, 1e-300)),
        }


def check(data: dict) -> tuple[bool, str]:
    """Check the claim of E7 on its data.

    Passes if the violation rates of both bounds (analytical and data-dependent)
    and of the tabular bound are at most δ at every m, the fitted log-log slope
    of the gate's mean uniform gap against m lies in ``SLOPE_RANGE`` (the m^{-1/2}
    law), and the analytical complexity R_m sits in its stated windows against
    the Monte Carlo estimates (``LOSS_FACTOR``, ``CHAIN_WINDOW``).

    Parameters
    ----------
    data : dict
        The output of :func:`run`.

    Returns
    -------
    passed : bool
        Whether the claim holds on this instance.
    measured : str
        The measured evidence: violation rates, slopes, gaps against bounds and
        the complexity ratios.
    """
    delta = data["delta"]
    gate = data["gate"]
    draws = gate["sup"].shape[1]
    viol = {model: float(data[model]["violation"].max()) for model in MODELS}
    viol_dd = float(np.max(gate["violation_dd"]))
    slope = _slope(data, "gate")
    r = _complexity_ratios(gate)
    complexity_ok = bool(
        np.all(r["loss_low"] >= 1.0)
        and np.all(r["loss"] <= LOSS_FACTOR)
        and np.all(r["chain_low"] >= CHAIN_WINDOW[0])
        and np.all(r["chain"] <= CHAIN_WINDOW[1])
    )
    largest = gate["sup"].max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        loose = gate["bound"] / largest
        loose_dd = gate["bound_dd"] / largest
    ok = (
        all(v <= delta for v in viol.values())
        and viol_dd <= delta
        and SLOPE_RANGE[0] <= slope <= SLOPE_RANGE[1]
        and complexity_ok
    )
    i = len(data["m"]) // 2
    measured = (
        f"{draws} draws per m ∈ {list(map(int, data['m']))}; largest violation rate: gate "
        f"{fmt(viol['gate'])} (analytical bound), {fmt(viol_dd)} (data-dependent bound), "
        f"tabular {fmt(viol['tab'])} (δ = {delta}); fitted slope of the "
        f"gate's mean uniform gap vs m: {slope:.3f} (accepted {SLOPE_RANGE}); tabular class "
        f"slope {_slope(data, 'tab'):.3f}; at m = {int(data['m'][i])}: mean uniform gap gate "
        f"{fmt(gate['sup'][i].mean())} vs tabular {fmt(data['tab']['sup'][i].mean())}, "
        f"bounds {fmt(gate['bound'][i])} and {fmt(data['tab']['bound'][i])}. "
        f"Complexity term R_m of T11 against Monte Carlo estimates: R_m / R̂_S(loss class) "
        f"from {fmt(r['loss'].min())} to {fmt(r['loss'].max())} (stated window [1, "
        f"{LOSS_FACTOR:g}]), R_m / (2√2 R̂_S(logits)) from {fmt(r['chain'].min())} to "
        f"{fmt(r['chain'].max())} (window {list(CHAIN_WINDOW)}): "
        f"{'within' if complexity_ok else 'OUTSIDE'} the windows. Both bounds against the "
        f"largest measured uniform gap: analytical {fmt(loose.min())}–{fmt(loose.max())}×, "
        f"data-dependent 2R̂_S + 3M sqrt(s log(2/δ)/(2m)) (M = {fmt(data['M_class'])} from "
        f"the experts' floor and ceiling) {fmt(loose_dd.min())}–{fmt(loose_dd.max())}×; "
        "the data-dependent bound is limited by its concentration term (a worst-case "
        "range M, where the gap follows the loss's standard deviation), the analytical one "
        "also by the contraction step."
    )
    return bool(ok), measured


def setup(p: dict) -> str:
    """The setup paragraph of E7 written to REPORT.md.

    Parameters
    ----------
    p : dict
        The parameters of :func:`params`.

    Returns
    -------
    str
        One paragraph: the instance, the experts, λ and m̄, the draws, the gate
        class and the tabular model.

    Examples
    --------
    >>> setup(params("quick"))[:45]
    'K = 3 Dirichlet domains on n = 200 points (se'
    """
    return (
        f"K = {p['K']} Dirichlet domains on n = {p['n']} points (separation {p['separation']}, "
        f"seed {p['seed']}); experts: add-½ tabular MLEs from {p['expert_samples']} samples per "
        f"domain; fixed λ = {vec(p['lam'], 2)}, training proportions m̄ = {vec(p['mbar'], 2)}; "
        f"{p['draws']} independent draws per total size m; gate class softmax(Wφ), ‖W‖ ≤ "
        f"{p['radius']}, on normalized expert log-likelihood features (R = 1), trained under "
        "Z = 1; uniform gap estimated by projected gradient ascent (a lower estimate); "
        "monolithic model: add-½ smoothed weighted counts, its class's uniform gap exact."
    )


EXPERIMENT = register(
    name="Generalization: measured gaps against the T11 bound",
    claim="T11: with probability ≥ 1 − δ, L(g, λ) ≤ L̂(g, λ) + 2R_m + M sqrt(s log(1/δ)/(2m)) "
    "for every gate of the class; the measured violation rate is ≤ δ and the gap shrinks "
    "like m^{-1/2}.",
    params=params,
    run=run,
    plot=plot,
    table=table,
    check=check,
    setup=setup,
)
