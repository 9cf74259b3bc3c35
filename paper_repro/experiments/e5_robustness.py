r"""E5 (T10): robustness across mixtures, on synthetic and on real domains.

For every λ on a grid of Λ = Δ_K (vertices included) the experiment measures
the mixture divergence KL(D_λ‖q) of one fixed model q per method, and its worst
case over the grid. KL(D_λ‖q) is convex in λ, so the worst case over Δ_K is
attained at a vertex (setup of the game) and the grid maximum must equal
max_k KL(D_k‖q). T10: for every model q in the experts' envelope M — every
heuristic mixture Σ_k α_k p_k of the same experts — max_λ L(q, λ) ≥ V*, and with
the divergence objective on Δ_K that worst case is max_k KL(D_k‖q); the robust
gate therefore has the smallest worst case among them.

Methods: the best single expert (the one with the smallest worst case), the
uniform mixture of the experts, aggregate retraining with size-proportional
weights α_k = m_k / Σ_j m_j, the data-mixing comparators of :mod:`sims.monolithic`
(group DRO, RegMix, parameter merging) and the robust gate (T5 dual solver).

* Synthetic: K = 4 order-1 Markov domains over V^T. Each domain contributes m_k
  samples (unequal sizes); its empirical law smoothed by add-β is P̂_k and its
  expert p_k is the order-1 Markov fit of P̂_k (class H = ``markov:1``, the same
  class as the monolithic model). Aggregate retraining and the comparators fit
  one model of H on the pooled data P̂ (``sims.monolithic`` with D := P̂).
* Real: the E10 word-frequency setup (languages, n-gram experts, one pooled
  n-gram as aggregate retraining, comparators in H = Δ(X) with D := P; see
  :mod:`paper_repro.experiments._realdata`).

Notation: D_λ = Σ_k λ_k D_k is the mixture of the domains, M the experts'
envelope {q : min_k p_k ≤ q ≤ max_k p_k} (T2), L(q, λ) = Σ_k λ_k KL(D_k‖q) the
payoff and V* the robust value. The figure illustrates the theory page §4.5.4
(safety) of the documentation.

Examples
--------
>>> from paper_repro.experiments import e5_robustness as e5
>>> e5.EXPERIMENT.claim.split(":")[0]
'T10'
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D

from paper_repro import plotting
from paper_repro.experiments import _realdata
from paper_repro.experiments._base import progress, register
from paper_repro.experiments._common import fmt, simplex_grid, vec
from sims.domains import markov_domains
from sims.experts import tabular_experts
from sims.monolithic import group_dro, merge_experts, regmix, uniform_mixing
from theory.divergences import kl_rows
from theory.gates import envelope, in_envelope
from theory.minimax import robust_gate
from theory.monolithic import aggregate

SETTINGS = ("synthetic", "real")
ROBUST = "robust gate"
BEST = "best single expert"
UNIFORM = "uniform mixture"
AGGREGATE = "aggregate retraining (size-proportional)"
AGGREGATE_LABEL = "aggregate retraining"


def params(mode: str) -> dict:
    """The sizes and seeds of E5 for ``mode``.

    Two settings: ``"synthetic"`` (Markov domains, unequal sample sizes) and
    ``"real"`` (the word-frequency setup of
    :func:`paper_repro.experiments._realdata.params`).

    Parameters
    ----------
    mode : {"quick", "full"}
        Small sizes for a quick run, or the sizes of the full reproduction.

    Returns
    -------
    dict
        ``{"synthetic": {K, T, V, separation, sizes, beta, seed, regmix_seed,
        resolution}, "real": {... the real-data keys ..., resolution}}``;
        ``resolution`` sets the grid of λ.

    Examples
    --------
    >>> p = params("quick")
    >>> sorted(p), p["synthetic"]["sizes"]
    (['real', 'synthetic'], [4000, 2000, 1000, 500])
    """
    quick = mode == "quick"
    return {
        "synthetic": {
            "K": 4,
            "T": 4,
            "V": 4,
            "separation": 1.5,
            "sizes": [4000, 2000, 1000, 500] if quick else [40000, 20000, 10000, 5000],
            "beta": 0.5,
            "seed": 7,
            "regmix_seed": 8,
            "resolution": 8 if quick else 20,
        },
        "real": _realdata.params(mode) | {"resolution": 8 if quick else 4},
    }


def _synthetic_models(p: dict) -> tuple[np.ndarray, np.ndarray, dict, dict]:
    K, shape = p["K"], (p["T"], p["V"])
    D = markov_domains(K, p["T"], p["V"], r=1, separation=p["separation"], seed=p["seed"])
    # One sample per domain, of its own size; the smoothed empirical law stands for the data.
    Ph = np.stack(
        [
            tabular_experts(D[k : k + 1], m, p["beta"], seed=p["seed"] + 1 + k)[0]
            for k, m in enumerate(p["sizes"])
        ]
    )
    P = np.stack([aggregate(Ph[k : k + 1], [1.0], "markov:1", shape) for k in range(K)])
    sizes = np.array(p["sizes"], dtype=np.float64)
    alpha = sizes / sizes.sum()
    models = {AGGREGATE: aggregate(Ph, alpha, "markov:1", shape)}
    weights = {AGGREGATE: alpha}
    family = {"family": "markov:1", "shape": shape}
    rules = {
        "uniform weights": uniform_mixing(Ph, P, **family),
        "group DRO": group_dro(Ph, P, **family),
        "RegMix": regmix(Ph, P, **family, seed=p["regmix_seed"]),
        "parameter merging": merge_experts(Ph, P, **family),
    }
    for name, res in rules.items():
        models[name] = res.model
        if res.alpha is not None:
            weights[name] = res.alpha
    return D, P, models, weights


def _real_models(p: dict) -> tuple[np.ndarray, np.ndarray, dict, dict]:
    real = _realdata.real_domains(p)
    models = {AGGREGATE: real["pooled"]}
    weights = {AGGREGATE: real["alpha"]}
    for name, c in _realdata.comparators(real["P"], p["regmix_seed"]).items():
        models[name] = c["model"]
        if c["alpha"] is not None:
            weights[name] = c["alpha"]
    return real["D"], real["P"], models, weights


def _evaluate(D: np.ndarray, P: np.ndarray, others: dict, weights: dict, resolution: int) -> dict:
    K = D.shape[0]
    worst_expert = [float(kl_rows(D, P[k]).max()) for k in range(K)]
    best = int(np.argmin(worst_expert))
    robust = robust_gate(D, P)
    models = {BEST: P[best], UNIFORM: P.mean(axis=0)} | others | {ROBUST: robust.model}
    grid = simplex_grid(K, resolution)
    mixtures = grid @ D
    lo, hi = envelope(P)
    names = list(models)
    kl = np.array([kl_rows(mixtures, models[n]) for n in names])
    vertex = np.array([kl_rows(D, models[n]) for n in names])
    inside = [bool(in_envelope(models[n], lo, hi).all()) for n in names]
    return {
        "D": D,
        "P": P,
        "names": names,
        "models": np.array([models[n] for n in names]),
        "grid": grid,
        "kl": kl,
        "vertex": vertex,
        "in_envelope": inside,
        "best_expert": best,
        "weights": {n: np.asarray(w) for n, w in weights.items()},
        "lam_star": robust.lam,
        "gap": robust.upper - robust.lower,
    }


def run(p: dict, show_progress: bool = False) -> dict:
    """Build every method's model in both settings and evaluate KL(D_λ‖q) on the grid of λ.

    Parameters
    ----------
    p : dict
        The parameters of :func:`params`.
    show_progress : bool, default False
        Show a progress bar over the two settings.

    Returns
    -------
    dict
        ``"synthetic"`` and ``"real"``: per setting ``D``, ``P``, the method
        ``names`` and their ``models``, the ``grid`` of λ, the table ``kl``
        (methods × grid) of KL(D_λ‖q), the ``vertex`` values, ``in_envelope``,
        ``best_expert``, training ``weights``, the robust gate's ``lam_star`` and
        certified ``gap``; and ``languages``.
    """
    data = {}
    for setting in progress(SETTINGS, "E5 settings", show=show_progress):
        q = p[setting]
        build = _synthetic_models if setting == "synthetic" else _real_models
        D, P, models, weights = build(q)
        data[setting] = _evaluate(D, P, models, weights, q["resolution"])
    data["languages"] = list(p["real"]["languages"])
    return data


def _display(name: str) -> str:
    return AGGREGATE_LABEL if name == AGGREGATE else name


@plotting.styled
def plot(data: dict, out_dir: Path) -> Path:
    """Draw figure E5: the mixture divergence of every method across the grid of λ, both settings.

    Parameters
    ----------
    data : dict
        The output of :func:`run`.
    out_dir : str or Path
        The output folder.

    Returns
    -------
    Path
        ``out_dir/E5_robustness.png`` (a PDF is written next to it).
    """
    rows = list(data["synthetic"]["names"])
    rows += [n for n in data["real"]["names"] if n not in rows]
    fig, axes = plotting.figure(1, 2, height=0.3 * len(rows) + 1.9, sharey=True)
    rng = np.random.default_rng(0)
    y_of = {name: len(rows) - 1 - i for i, name in enumerate(rows)}
    where = {
        "synthetic": f"(a) synthetic, K = {data['synthetic']['D'].shape[0]}",
        "real": "(b) real: " + "/".join(data["languages"]),
    }
    for ax, setting in zip(axes[0], SETTINGS, strict=True):
        d = data[setting]
        names, kl = d["names"], d["kl"]
        right = float(kl.max())
        v_star = float(kl[names.index(ROBUST)].max())
        ax.axvline(v_star, color=plotting.color(ROBUST), ls="--", lw=1.1)
        for i, name in enumerate(names):
            c, y = plotting.color(name, i), y_of[name]
            jitter = rng.uniform(-0.2, 0.2, kl.shape[1])
            ax.plot(kl[i], y + jitter, ".", color=c, alpha=0.35, ms=3.5)
            inside = d["in_envelope"][i]
            worst = float(kl[i].max())
            ax.plot(worst, y, "D", color=c, mfc=c if inside else "w", mec="k", ms=6.5, mew=0.9)
            ax.annotate(
                f"{worst:.3f}",
                (worst, y),
                textcoords="offset points",
                xytext=(6, 0),
                va="center",
            )
        for name in rows:
            if name not in names:
                ax.annotate(
                    "= uniform mixture here",
                    (v_star, y_of[name]),
                    textcoords="offset points",
                    xytext=(6, 0),
                    va="center",
                    color="0.35",
                )
        ax.set_xlim(0, 1.22 * right)
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.grid(axis="y", visible=False)
        ax.set(xlabel=r"$\mathrm{KL}(D_\lambda\,\|\,q)$ (nats)", title=where[setting])
    axes[0, 0].set_yticks([y_of[n] for n in rows], [_display(n) for n in rows])
    grid = "/".join(sorted({str(data[s]["kl"].shape[1]) for s in SETTINGS}))
    handles = [
        Line2D([], [], ls="none", marker=".", color="0.4", ms=7),
        Line2D([], [], ls="none", marker="D", color="0.4", mec="k", ms=6.5),
        Line2D([], [], ls="none", marker="D", mfc="w", mec="k", ms=6.5),
        Line2D([], [], ls="--", color=plotting.color(ROBUST), lw=1.1),
    ]
    labels = [
        rf"$\mathrm{{KL}}(D_\lambda\|q)$ at the {grid} grid points $\lambda$ of $\Delta_K$",
        "worst case (at a vertex); $q$ in the experts' envelope $M$",
        "worst case; $q$ outside $M$, where T10 does not apply",
        r"robust gate's worst case $V^*$: no $q$ in $M$ is below it",
    ]
    plotting.figure_legend(fig, handles, labels, ncol=1)
    plotting.title(
        fig, "T10", r"worst case over the mixtures $\lambda \in \Delta_K$", experiment="E5"
    )
    return plotting.save(fig, Path(out_dir) / "E5_robustness.png")


def table(data: dict) -> dict[str, list[dict]]:
    """The plotted numbers of E5, as rows.

    Parameters
    ----------
    data : dict
        The output of :func:`run`.

    Returns
    -------
    dict of str to list of dict
        ``""`` (the main table: per setting and method, the worst case on the
        grid and at the vertices, the worst λ, the margin over the robust gate,
        whether the model lies in M, its training weights) and ``"grid"``
        (KL(D_λ‖q) of every method at every λ).
    """
    summary, grid_rows = [], []
    for setting in SETTINGS:
        d = data[setting]
        names, kl = d["names"], d["kl"]
        v = kl[names.index(ROBUST)].max()
        for i, name in enumerate(names):
            j = int(np.argmax(kl[i]))
            w = d["weights"].get(name)
            summary.append(
                {
                    "setting": setting,
                    "method": name,
                    "worst_case_grid": kl[i, j],
                    "worst_case_vertex": d["vertex"][i].max(),
                    "worst_lambda": vec(d["grid"][j], 3),
                    "mean_over_grid": kl[i].mean(),
                    "margin_over_robust": kl[i, j] - v,
                    "in_envelope": d["in_envelope"][i],
                    "weights": "" if w is None else vec(w, 4),
                }
            )
        for j, lam in enumerate(d["grid"]):
            grid_rows.append(
                {"setting": setting, "lambda": vec(lam, 3)}
                | {name: kl[i, j] for i, name in enumerate(names)}
            )
    return {"": summary, "grid": grid_rows}


def check(data: dict) -> tuple[bool, str]:
    """Check the claim of E5 on its data.

    Passes if, in both settings, every heuristic mixture of the experts (every
    model in M) has a worst case at least the robust gate's (T10, within the
    certificate), the grid maximum equals the vertex maximum (convexity in λ),
    and the robust gate's certified gap is at most 1e-6.

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
    for setting in SETTINGS:
        d = data[setting]
        names, kl = d["names"], d["kl"]
        worst = kl.max(axis=1)
        v = worst[names.index(ROBUST)]
        tol = max(d["gap"], 1e-9)
        # Convexity in λ: the grid maximum is a vertex value.
        vertex_gap = float(np.max(np.abs(worst - d["vertex"].max(axis=1)) / np.maximum(1.0, worst)))
        heuristic = [
            n for n, inside in zip(names, d["in_envelope"], strict=True) if inside and n != ROBUST
        ]
        margin = min(worst[names.index(n)] - v for n in heuristic)
        ok &= bool(margin >= -tol and vertex_gap <= 1e-9 and d["gap"] <= 1e-6)
        outside = ", ".join(
            f"{n} {fmt(worst[i] - v)}" for i, n in enumerate(names) if not d["in_envelope"][i]
        )
        parts.append(
            f"{setting}: robust gate worst case {fmt(v)} nats (λ* = {vec(d['lam_star'])}); smallest "
            f"margin of a heuristic mixture of the experts ({len(heuristic)}: "
            f"{', '.join(heuristic)}) {fmt(margin)} ≥ 0; margins of models outside the "
            f"envelope: {outside or 'none'}; grid max = vertex max within {fmt(vertex_gap)}"
        )
    return bool(ok), "; ".join(parts)


def setup(p: dict) -> str:
    """The setup paragraph of E5 written to REPORT.md.

    Parameters
    ----------
    p : dict
        The parameters of :func:`params`.

    Returns
    -------
    str

    Examples
    --------
    >>> setup(params("quick"))[:44]
    'Synthetic: K = 4 order-1 Markov domains over'
    """
    s, r = p["synthetic"], p["real"]
    return (
        f"Synthetic: K = {s['K']} order-1 Markov domains over V^T, V = {s['V']}, T = {s['T']} "
        f"(separation {s['separation']}, seed {s['seed']}), sample sizes m = {s['sizes']}; experts "
        "= order-1 Markov fits of each domain's add-β smoothed sample; aggregate retraining and "
        "§10 comparators = one order-1 Markov model fitted to the pooled smoothed samples. "
        f"Real: the E10 setup with {len(r['languages'])} languages, top {r['top_n']} words, "
        f"n-gram order {r['order']}, m = {r['m']} words per language. Grid: every λ ∈ Δ_K with "
        f"entries in multiples of 1/{s['resolution']} (synthetic) and 1/{r['resolution']} (real)."
    )


EXPERIMENT = register(
    name="Robustness across mixtures: worst case over a grid of λ",
    claim="T10: over every mixture λ ∈ Δ_K the robust gate's worst-case KL(D_λ‖·) is no larger "
    "than that of any heuristic mixture of the same experts (best single expert, uniform "
    "mixture, data-weighting rules); the worst case is attained at a vertex.",
    params=params,
    run=run,
    plot=plot,
    table=table,
    check=check,
    setup=setup,
)
