r"""E9 (S9): structural distillation of the robust gate into a causal router.

Sequences are real words: X is the union of the top words of K languages
(``sims.wordfreq``, K ∈ {2, 4, 8}), each word a sequence closed by an end
symbol, so X is a prefix trie in which many words are prefixes of others.
Experts are character bigram models trained on m words sampled from each
language and renormalized on X (``sims.experts.ngram_experts``). For each K:

* the robust gate g (T5 dual solver, certified V*) gives the sequence-level
  target p_g; the distilled router r* minimizes KL(p_g‖q_r) prefix by prefix with a
  certified gap; its robust payoff max_λ L(q_r*, λ) = max_k KL(D_k‖q_r*) is set
  against V* (q_r* need not lie in the envelope M, so it can fall on either side
  of V*);
* the constant gate g ≡ 1/K is distilled exactly by the posterior router;
* exact samples of p_g by rejection (acceptance 1/K, every proposal scored
  under all K experts) and ancestral samples of q_r* are drawn, timed side by
  side, and tested against the exact laws by χ² at level ``LEVEL``.

Notation: a causal router r gives expert weights r(s) ∈ Δ_K after every prefix s,
and its student is q_r(x) = Π_t Σ_k r_k(x_<t) p_k(x_t | x_<t) (:mod:`sims.distill`).
The figure illustrates the distillation page of the documentation.

Examples
--------
>>> from paper_repro.experiments import e9_distillation as e9
>>> e9.EXPERIMENT.id, e9.LEVEL
('E9', 0.001)
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from scipy.stats import chisquare

from benchmarks.timing import median_time
from paper_repro import plotting
from paper_repro.experiments._base import progress, register
from paper_repro.experiments._common import fmt
from sims.distill import (
    Trie,
    distill_router,
    posterior_router,
    router_model,
    sample_rejection,
    sample_router,
)
from sims.experts import ngram_experts
from sims.wordfreq import wordfreq_domains
from theory.divergences import kl, kl_rows
from theory.minimax import robust_gate

LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "pt", "sv"]
#: Significance level of the samplers' χ² goodness-of-fit tests.
LEVEL = 1e-3


def params(mode: str) -> dict:
    """The sizes and seeds of E9 for ``mode``.

    One instance per K in ``Ks``, on the first K languages of ``LANGUAGES``.

    Parameters
    ----------
    mode : {"quick", "full"}
        Small sizes for a quick run, or the sizes of the full reproduction.

    Returns
    -------
    dict
        ``Ks``, ``languages``, ``top_n``, ``max_len``, ``order``, ``m``, ``beta``,
        ``expert_seed``, ``samples``, ``sample_seed``, ``timing_repeats``,
        ``distill_tol``.

    Examples
    --------
    >>> params("quick")["Ks"], params("quick")["samples"]
    ([2, 4, 8], 40000)
    """
    quick = mode == "quick"
    return {
        "Ks": [2, 4, 8],
        "languages": LANGUAGES,
        "top_n": 300 if quick else 3000,
        "max_len": 8 if quick else 12,
        "order": 2,
        "m": 20000 if quick else 200000,
        "beta": 0.5,
        "expert_seed": 90,
        "samples": 40000 if quick else 400000,
        "sample_seed": 91,
        "timing_repeats": 3 if quick else 5,
        "distill_tol": 1e-10,
    }


def _gof(indices: np.ndarray, probs: np.ndarray) -> tuple[float, float, np.ndarray]:
    """χ² p-value (cells expected below 5 pooled), total variation and the empirical law."""
    counts = np.bincount(indices, minlength=probs.size).astype(np.float64)
    freq = counts / indices.size
    tv = 0.5 * float(np.abs(freq - probs).sum())
    if counts[probs == 0].sum() > 0:
        return 0.0, tv, freq
    exp = probs * indices.size
    small = exp < 5
    obs = np.r_[counts[~small], counts[small].sum()]
    exp = np.r_[exp[~small], exp[small].sum()]
    obs, exp = obs[exp > 0], exp[exp > 0]
    return float(chisquare(obs, exp * obs.sum() / exp.sum()).pvalue), tv, freq


def _one_K(K: int, p: dict) -> dict:
    dom = wordfreq_domains(p["languages"][:K], p["top_n"], p["max_len"])
    D = dom.D
    P = ngram_experts(dom.strings, D, p["order"], p["m"], p["beta"], seed=p["expert_seed"] + K)
    trie = Trie(dom.strings)
    rg = robust_gate(D, P)
    target = np.einsum("kn,kn->n", rg.gate, P)
    res = distill_router(trie, P, target, tol=p["distill_tol"])

    z = np.full(K, 1.0 / K)
    uniform = z @ P
    const_student = router_model(trie, P, posterior_router(trie, P, z))

    size, seed = p["samples"], p["sample_seed"] + K
    rej = sample_rejection(trie, P, rg.gate, size, seed=seed)
    rou = sample_router(trie, P, res.router, size, seed=seed)
    p_rej, tv_rej, f_rej = _gof(rej.indices, target)
    p_rou, tv_rou, f_rou = _gof(rou.indices, res.student)
    reps = p["timing_repeats"]
    t_rej = median_time(lambda: sample_rejection(trie, P, rg.gate, size, seed=seed), reps, warmup=0)
    t_rou = median_time(lambda: sample_router(trie, P, res.router, size, seed=seed), reps, warmup=0)
    # Proposals until `size` acceptances at rate 1/K: NegBin, mean size·K, var size·(K − 1)·K.
    z_acc = (rej.proposals - size * K) / math.sqrt(size * (K - 1) * K)
    return {
        "K": K,
        "languages": list(dom.languages),
        "n": len(dom.strings),
        "num_nodes": trie.num_nodes,
        "V_star": rg.value,
        "V_lower": rg.lower,
        "V_upper": rg.upper,
        "lam_star": rg.lam,
        "payoff_router": float(kl_rows(D, res.student).max()),
        "payoff_uniform": float(kl_rows(D, uniform).max()),
        "kl_router": res.kl,
        "kl_router_lower": res.lower,
        "gap_bound": res.gap_bound,
        "converged": res.converged,
        "kl_constant_gate": kl(uniform, const_student),
        "max_err_constant_gate": float(np.abs(const_student - uniform).max()),
        "rejection_per_s": size / t_rej,
        "router_per_s": size / t_rou,
        "speedup": t_rej / t_rou,
        "acceptance": rej.acceptance_rate,
        "acceptance_z": z_acc,
        "chi2_p_rejection": p_rej,
        "chi2_p_router": p_rou,
        "tv_rejection": tv_rej,
        "tv_router": tv_rou,
        "exact_rejection": target,
        "empirical_rejection": f_rej,
        "exact_router": res.student,
        "empirical_router": f_rou,
    }


def run(p: dict, show_progress: bool = False) -> dict:
    """Distil the robust gate, check the constant gate, and sample both ways, for every K.

    Parameters
    ----------
    p : dict
        The parameters of :func:`params`.
    show_progress : bool, default False
        Show a progress bar over the values of K.

    Returns
    -------
    dict
        ``samples`` and ``rows``: one dict per K with the router's KL and
        certified gap, its robust payoff against V*, the constant-gate errors, the
        χ² p-values of both samplers, the acceptance rate and its z-score, and the
        throughputs and their ratio ``speedup``.
    """
    return {
        "samples": p["samples"],
        "rows": [_one_K(K, p) for K in progress(p["Ks"], "E9 K", show=show_progress)],
    }


def _per_second(value: float, _pos) -> str:
    """A tick of the throughput axis: 200k, 1M, 5M."""
    if value >= 1e6:
        return f"{value / 1e6:g}M"
    return f"{value / 1e3:g}k"


@plotting.styled
def plot(data: dict, out_dir: Path) -> Path:
    """Draw figure E9: distillation quality, robust payoffs and sampler throughput against K.

    Parameters
    ----------
    data : dict
        The output of :func:`run`.
    out_dir : str or Path
        The output folder.

    Returns
    -------
    Path
        ``out_dir/E9_distillation.png`` (a PDF is written next to it).
    """
    rows = data["rows"]
    Ks = np.array([r["K"] for r in rows])
    robust_c, router_c = plotting.color("robust gate"), plotting.color("distilled router")
    fig, axes = plotting.figure(2, 2, height=5.6)

    ax = axes[0, 0]
    x = np.arange(len(rows))
    w = 0.27
    series = [
        (r"robust gate: $V^*$", "V_star", robust_c),
        (r"distilled router $q_{r^*}$", "payoff_router", router_c),
        ("uniform mixture", "payoff_uniform", plotting.color("uniform mixture")),
    ]
    for j, (label, key, c) in enumerate(series):
        ax.bar(x + (j - 1) * w, [r[key] for r in rows], w, color=c, label=label)
    for i, r in enumerate(rows):
        ax.annotate(
            f"{r['kl_router']:.3f}",
            (x[i], max(r["V_star"], r["payoff_router"], r["payoff_uniform"])),
            textcoords="offset points",
            xytext=(0, 3),
            ha="center",
            va="bottom",
        )
    ax.set_xticks(x, [f"K = {k}" for k in Ks])
    ax.set(
        ylabel=r"worst case $\mathrm{max}_k\,\mathrm{KL}(D_k\|q)$ (nats)",
        title="(a) robust payoff",
    )
    ax.margins(y=0.15)
    ax.grid(axis="x", visible=False)

    ax = axes[0, 1]
    ax.plot(
        Ks,
        [r["rejection_per_s"] for r in rows],
        "o-",
        color=robust_c,
        label="exact rejection sampler of $p_g$",
    )
    ax.plot(
        Ks,
        [r["router_per_s"] for r in rows],
        "s-",
        color=router_c,
        label="router sampler of $q_{r^*}$",
    )
    ax.plot(
        Ks,
        [r["rejection_per_s"] * r["K"] for r in rows],
        ":",
        color=robust_c,
        label=r"$K \times$ the rejection sampler",
    )
    ax.set(
        yscale="log",
        xlabel="number of experts $K$",
        ylabel="samples per second",
        title="(b) throughput",
    )
    ax.set_xticks(Ks, [str(k) for k in Ks])
    # Label the decades and their 2× and 5× only, so that the labels never crowd.
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(_per_second))
    ax.yaxis.set_minor_formatter(NullFormatter())

    ax = axes[1, 0]
    last = rows[-1]
    lowest = 1.0
    for kind, marker, c in (("rejection", "o", robust_c), ("router", "s", router_c)):
        exact, emp = last[f"exact_{kind}"], last[f"empirical_{kind}"]
        seen = emp > 0
        lowest = min(lowest, float(exact[seen].min()), float(emp[seen].min()))
        ax.loglog(exact[seen], emp[seen], marker, ms=2.5, alpha=0.5, color=c)
    edge = 0.5 * lowest
    ax.plot([edge, 1], [edge, 1], "k--", lw=1)
    ax.set(
        xlim=(edge, 1.5),
        ylim=(edge, 1.5),
        xticks=[1e-6, 1e-4, 1e-2, 1.0],
        xlabel="exact probability",
        ylabel="empirical frequency",
        title=f"(c) K = {last['K']}: χ² p = {last['chi2_p_rejection']:.2f} (rejection), "
        f"{last['chi2_p_router']:.2f} (router)",
    )

    handles, labels = plotting.legend_entries(axes.flat)
    handles += [
        Line2D([], [], ls="none"),
        Line2D([], [], color="k", ls="--", lw=1),
    ]
    labels += [
        r"(a) numbers: $\mathrm{KL}(p_g\|q_{r^*})$ (nats)",
        f"(c) empirical = exact ({data['samples']} samples)",
    ]
    plotting.legend_panel(axes[1, 1], handles, labels, handlelength=1.6)
    plotting.title(
        fig,
        "distillation",
        "a causal router for the robust gate, and exact samplers",
        experiment="E9",
    )
    return plotting.save(fig, Path(out_dir) / "E9_distillation.png")


_COLUMNS = (
    "K",
    "n",
    "num_nodes",
    "V_star",
    "V_lower",
    "V_upper",
    "payoff_router",
    "payoff_uniform",
    "kl_router",
    "kl_router_lower",
    "gap_bound",
    "converged",
    "kl_constant_gate",
    "max_err_constant_gate",
    "rejection_per_s",
    "router_per_s",
    "speedup",
    "acceptance",
    "acceptance_z",
    "chi2_p_rejection",
    "chi2_p_router",
    "tv_rejection",
    "tv_router",
)


def table(data: dict) -> list[dict]:
    """The plotted numbers of E9, as rows.

    Parameters
    ----------
    data : dict
        The output of :func:`run`.

    Returns
    -------
    list of dict
        One row per K: the languages and every measured column.
    """
    return [
        {"languages": " ".join(r["languages"])} | {c: r[c] for c in _COLUMNS} for r in data["rows"]
    ]


def check(data: dict) -> tuple[bool, str]:
    """Check the claim of E9 on its data.

    Passes if, for every K, the posterior router reproduces the constant gate
    within 1e-12, the distillation converged with certified gap at most 1e-10,
    both samplers pass the χ² test at level ``LEVEL``, the acceptance rate is
    within 4 standard errors of 1/K, and the router samples faster.

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
    for r in data["rows"]:
        K = r["K"]
        exact = max(abs(r["kl_constant_gate"]), r["max_err_constant_gate"]) <= 1e-12
        certified = r["converged"] and r["gap_bound"] <= 1e-10
        samplers = r["chi2_p_rejection"] >= LEVEL and r["chi2_p_router"] >= LEVEL
        rate = abs(r["acceptance_z"]) <= 4.0
        faster = r["speedup"] > 1.0
        ok &= exact and certified and samplers and rate and faster
        parts.append(
            f"K = {K} (n = {r['n']}): KL(p_g‖q_r*) = {fmt(r['kl_router'])} "
            f"(certified gap {fmt(r['gap_bound'], 2)}), robust payoff of q_r* "
            f"{fmt(r['payoff_router'])} vs V* = {fmt(r['V_star'])} (uniform mixture "
            f"{fmt(r['payoff_uniform'])}), constant gate |KL| {fmt(abs(r['kl_constant_gate']), 2)}, max |q_w − p_z| "
            f"{fmt(r['max_err_constant_gate'], 2)}; "
            f"χ² p = {fmt(r['chi2_p_rejection'], 2)} (rejection), {fmt(r['chi2_p_router'], 2)} "
            f"(router); acceptance {fmt(r['acceptance'])} vs 1/K = {fmt(1 / K)} "
            f"(z = {r['acceptance_z']:.2f}); router {fmt(r['speedup'], 3)}× the rejection "
            "sampler's samples/s"
        )
    return bool(ok), "; ".join(parts)


def setup(p: dict) -> str:
    """The setup paragraph of E9 written to REPORT.md.

    Parameters
    ----------
    p : dict
        The parameters of :func:`params`.

    Returns
    -------
    str

    Examples
    --------
    >>> setup(params("quick"))[:20]
    'K ∈ [2, 4, 8] langua'
    """
    return (
        f"K ∈ {p['Ks']} languages ({', '.join(p['languages'])}, first K); X = the union of each "
        f"language's top {p['top_n']} words of length ≤ {p['max_len']} (wordfreq), as a prefix "
        f"trie; experts: order-{p['order']} character n-grams (add-{p['beta']}) trained on "
        f"m = {p['m']} sampled words per language (seed {p['expert_seed']} + K). Target: the "
        f"robust gate's model p_g (dual solver); router by the exact per-prefix solver to certified gap "
        f"{p['distill_tol']:g}; {p['samples']} samples per sampler (seed {p['sample_seed']} + K), "
        f"χ² at level {LEVEL}, timings as medians of {p['timing_repeats']} runs side by side."
    )


EXPERIMENT = register(
    name="Structural distillation: causal router and exact samplers",
    claim="§9: the posterior router reproduces a constant gate exactly (KL ≤ 1e-12); the distilled "
    "router is the closest causal router to the robust gate (certified gap ≤ 1e-10); both samplers match their exact "
    "laws (χ² p ≥ 1e-3), rejection accepts 1/K of its proposals (|z| ≤ 4), and the router "
    "samples faster than rejection at every K.",
    params=params,
    run=run,
    plot=plot,
    table=table,
    check=check,
    setup=setup,
)
