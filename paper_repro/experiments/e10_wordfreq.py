r"""E10 (T10, T5, T12, S9): the robust gate on real word-frequency domains.

Domains are languages: D_k is the word-frequency table of language k
(``wordfreq``) restricted to a finite set X of words and renormalized
(``sims.wordfreq``). Experts are character n-gram models of order r trained on m
words sampled from each D_k and renormalized on X (``sims.experts.ngram_experts``).
Every method returns one model q ∈ Δ(X), scored by its worst-case divergence

.. math:: \max_{\lambda\in\Delta_K} \mathrm{KL}(D_\lambda\|q) = \max_k \mathrm{KL}(D_k\|q),

(in plain text, max_{λ∈Δ_K} KL(D_λ‖q) = max_k KL(D_k‖q)), the maximum of a
convex function of λ over the simplex, attained at a vertex (setup of the game).
Methods:

* each single expert p_k, and the uniform mixture (1/K) Σ_k p_k;
* aggregate retraining: ONE n-gram of the same order trained on the pooled
  sample, computed as ``ngram_experts(X, D_α[None], r, K·m)``, i.e. K·m words drawn
  i.i.d. from D_α with the size-proportional weights α_k = m_k / Σ_j m_j (here
  uniform, since every language contributes m words);
* the data-weighting comparators of :mod:`sims.monolithic`, run in the
  class H = Δ(X) with the experts standing in for the domains (D := P, all a
  user holds once the experts are trained): there, retraining on weights α
  returns Σ_k α_k p_k, so group DRO and RegMix each return a heuristic mixture
  of the same experts — the models T10 compares with the robust gate — and
  parameter merging returns the renormalized geometric mixture ∝ Π_k p_k^{1/K},
  which is what averaging the n-gram log-parameters gives after renormalizing on X;
* the robust gate (T5 dual solver, certified), the stochastic primal-dual gate
  (T12, softmax-linear on the experts' log-likelihoods and tabular), and the
  causal router distilled from the robust gate on X's trie (S9).

Reference rows give the capacity C(D) = min_{q∈Δ(X)} max_k KL(D_k‖q) (T6),
the floor of every model's worst case, and the best worst case V*(G) ≥ V* of
the softmax-linear gates on the experts' log-likelihoods (the class the
primal-dual gate "loglik" lives in), found by the deterministic solver
``sims.primal_dual.softmax_linear_optimum``. The how-to page on reproducing the
figures of the documentation shows the result.

Examples
--------
>>> from paper_repro.experiments import e10_wordfreq as e10
>>> e10.params("quick")["languages"]
['en', 'de', 'fr', 'es']
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import numpy as np

from paper_repro import plotting
from paper_repro.experiments import _realdata
from paper_repro.experiments._base import progress, register
from paper_repro.experiments._common import fmt, vec
from sims.distill import Trie, distill_router
from sims.primal_dual import softmax_linear_optimum, stochastic_primal_dual
from theory.capacity import blahut_arimoto
from theory.divergences import kl_rows
from theory.gates import envelope, in_envelope
from theory.minimax import robust_gate

ROBUST = "robust gate (dual)"
UNIFORM = "uniform mixture"
AGGREGATE = "aggregate retraining"


def params(mode: str) -> dict:
    """The sizes and seeds of E10 for ``mode``.

    The real-data setup of :func:`paper_repro.experiments._realdata.params`, plus
    the settings of the primal-dual gates, the class optimum and the distillation.

    Parameters
    ----------
    mode : {"quick", "full"}
        Small sizes for a quick run, or the sizes of the full reproduction.

    Returns
    -------
    dict
        The real-data keys and ``spd_seed``, ``spd_steps``, ``spd_batch``,
        ``class_restarts``, ``distill_tol``, ``distill_max_iter``.

    Examples
    --------
    >>> params("quick")["spd_steps"], params("full")["distill_tol"]
    (3000, 1e-08)
    """
    quick = mode == "quick"
    return _realdata.params(mode) | {
        "spd_seed": 13,
        "spd_steps": 3000 if quick else 20000,
        "spd_batch": 32,
        "class_restarts": 2,
        "distill_tol": 1e-6 if quick else 1e-8,
        "distill_max_iter": 500 if quick else 5000,
    }


def run(p: dict, show_progress: bool = False) -> dict:
    """Build every method's model on the real domains and score it exactly.

    Parameters
    ----------
    p : dict
        The parameters of :func:`params`.
    show_progress : bool, default False
        Show a progress bar over the two primal-dual gates.

    Returns
    -------
    dict
        ``languages``, ``strings``, ``D``, ``P``, the method ``names`` and their
        ``models``, the table ``kl`` (methods × domains) of KL(D_k‖q), ``in_envelope``,
        training ``weights``, the robust gate's ``lam_star`` and bounds, the
        primal-dual summaries ``spd``, ``class_optimum``, the distillation's KL and
        gap, the ``capacity`` and its gap, and the ``wordfreq_version``.
    """
    langs = list(p["languages"])
    real = _realdata.real_domains(p)
    D, P, strings = real["D"], real["P"], real["strings"]
    K = D.shape[0]
    models: dict[str, np.ndarray] = {f"expert {lang}": P[k] for k, lang in enumerate(langs)}
    models[UNIFORM] = P.mean(axis=0)
    models[AGGREGATE] = real["pooled"]
    weights: dict[str, np.ndarray] = {UNIFORM: np.full(K, 1.0 / K), AGGREGATE: real["alpha"]}
    for name, c in _realdata.comparators(P, p["regmix_seed"]).items():
        models[name] = c["model"]
        if c["alpha"] is not None:
            weights[name] = c["alpha"]

    robust = robust_gate(D, P)
    models[ROBUST] = robust.model
    spd = {}
    for gate in progress(("loglik", "tabular"), "E10 primal-dual", show=show_progress):
        res = stochastic_primal_dual(
            D,
            P,
            objective="divergence",
            gate=gate,
            steps=p["spd_steps"],
            batch=p["spd_batch"],
            seed=p["spd_seed"],
            reference=False,  # the class optimum is computed once below
        )
        models[f"primal-dual gate ({gate})"] = res.model
        spd[gate] = {"lam": res.lam, "worst_case": res.worst_case, "mass": res.mass}
    # The loglik gates form a restricted class: its own optimum V*(G) ≥ V* is the
    # value the primal-dual iteration can reach with those features (T12).
    class_opt = softmax_linear_optimum(
        D, P, objective="divergence", restarts=p["class_restarts"], seed=p["spd_seed"]
    )
    router = distill_router(
        Trie(strings), P, robust.model, tol=p["distill_tol"], max_iter=p["distill_max_iter"]
    )
    models["distilled router"] = router.student
    capacity = blahut_arimoto(D, tol=1e-9)

    lo, hi = envelope(P)
    names = list(models)
    kl = np.array([kl_rows(D, models[name]) for name in names])
    inside = [bool(in_envelope(models[n], lo, hi).all()) for n in names]
    return {
        "languages": langs,
        "strings": strings,
        "D": D,
        "P": P,
        "names": names,
        "models": np.array([models[name] for name in names]),
        "kl": kl,
        "in_envelope": inside,
        "weights": weights,
        "lam_star": robust.lam,
        "robust_lower": robust.lower,
        "robust_upper": robust.upper,
        "robust_converged": robust.converged,
        "spd": spd,
        "class_optimum": class_opt.constrained,
        "distill_kl": router.kl,
        "distill_gap": router.gap_bound,
        "distill_converged": router.converged,
        "distill_prefix_gap": float(router.prefix_gap.max()),
        "capacity": capacity.capacity,
        "capacity_gap": capacity.upper - capacity.lower,
        "wordfreq_version": importlib.metadata.version("wordfreq"),
    }


def _worst(data: dict) -> np.ndarray:
    return data["kl"].max(axis=1)


LAMBDA_SERIES = (
    (ROBUST, r"$\lambda^*$ (dual solver)", None),
    (
        "primal-dual gate (loglik)",
        r"averaged $\lambda$, primal-dual, log-likelihood gate",
        "loglik",
    ),
    ("primal-dual gate (tabular)", r"averaged $\lambda$, primal-dual, tabular gate", "tabular"),
)


@plotting.styled
def plot(data: dict, out_dir: Path) -> Path:
    """Draw figure E10: the worst-case divergence of every method, with λ* and the per-language KL.

    Parameters
    ----------
    data : dict
        The output of :func:`run`.
    out_dir : str or Path
        The output folder.

    Returns
    -------
    Path
        ``out_dir/E10_wordfreq.png`` (a PDF is written next to it).
    """
    names, kl, langs = data["names"], data["kl"], data["languages"]
    worst = _worst(data)
    fig, axes = plotting.figure(
        1, 2, height=0.27 * len(names) + 2.6, gridspec_kw={"width_ratios": [1.9, 1.0]}
    )
    ax = axes[0, 0]
    y = np.arange(len(names))[::-1]
    colors = [plotting.color(n, i) for i, n in enumerate(names)]
    ax.barh(y, worst, 0.7, color=colors, alpha=0.85, lw=0)
    markers = "os^vD<>p"
    for k, lang in enumerate(langs):
        ax.plot(
            kl[:, k],
            y,
            markers[k % len(markers)],
            color="k",
            ms=4.5,
            mfc="none",
            mew=0.9,
            label=rf"$\mathrm{{KL}}(D_k\|q)$, $k$ = {lang}",
        )
    v_star = worst[names.index(ROBUST)]
    ax.axvline(
        v_star, color=plotting.color(ROBUST), ls="--", lw=1.2, label=rf"$V^*$ = {v_star:.3f} nats"
    )
    ax.axvline(
        data["capacity"],
        color="k",
        ls=":",
        lw=1.2,
        label=rf"capacity $C(D)$ = {data['capacity']:.3f}: no model below",
    )
    ax.axvline(
        data["class_optimum"],
        color=plotting.color("primal-dual gate (loglik)"),
        ls="-.",
        lw=1.2,
        label=rf"best log-likelihood gate $V^*(\mathcal{{G}})$ = {data['class_optimum']:.3f}",
    )
    ax.set_yticks(y, names)
    ax.set_ylim(-0.6, len(names) - 0.4)
    ax.set_xlim(0, 1.04 * float(np.max(kl)))
    ax.grid(axis="y", visible=False)
    ax.set(
        xlabel=r"bar: worst case $\mathrm{max}_k\,\mathrm{KL}(D_k\|q)$ (nats)",
        title=f"(a) worst case of each model (|X| = {len(data['strings'])} words)",
    )

    ax = axes[0, 1]
    x = np.arange(len(langs))
    width = 0.27
    for j, (method, label, gate) in enumerate(LAMBDA_SERIES):
        lam = data["lam_star"] if gate is None else data["spd"][gate]["lam"]
        ax.bar(x + (j - 1) * width, lam, width, color=plotting.color(method), label=label)
    ax.set_xticks(x, langs)
    ax.grid(axis="x", visible=False)
    ax.set(
        xlabel="language $k$",
        ylabel=r"mixture weight $\lambda_k$",
        title=r"(b) least-favorable $\lambda$",
    )
    plotting.figure_legend(fig, ncol=2)
    plotting.title(
        fig,
        "T10",
        f"the robust gate on {len(langs)} real languages",
        experiment="E10",
    )
    return plotting.save(fig, Path(out_dir) / "E10_wordfreq.png")


def table(data: dict) -> dict[str, list[dict]]:
    """The plotted numbers of E10, as rows.

    Parameters
    ----------
    data : dict
        The output of :func:`run`.

    Returns
    -------
    dict of str to list of dict
        ``""`` (per method: worst-case KL, worst language, margin over the
        robust gate, membership of M, per-language KL, weights; plus the two
        reference rows), ``"lambda"`` (λ* and the primal-dual mixtures per
        language), ``"X"`` (every word with its frequency in every language)
        and ``"provenance"`` (data version and certificates).
    """
    names, kl, langs = data["names"], data["kl"], data["languages"]
    worst = _worst(data)
    v_star = worst[names.index(ROBUST)]
    rows = []
    for i, name in enumerate(names):
        row = {
            "method": name,
            "worst_case_kl": worst[i],
            "worst_language": langs[int(np.argmax(kl[i]))],
            "margin_over_robust": worst[i] - v_star,
            "in_envelope": data["in_envelope"][i],
        }
        row |= {f"kl_{lang}": kl[i, k] for k, lang in enumerate(langs)}
        alpha = data["weights"].get(name)
        row["weights"] = "" if alpha is None else " ".join(f"{a:.6f}" for a in alpha)
        rows.append(row)
    rows.append(
        {
            "method": "reference: capacity C(D), floor of every model",
            "worst_case_kl": data["capacity"],
        }
    )
    rows.append(
        {
            "method": "reference: best loglik softmax-linear gate V*(G) (deterministic solver)",
            "worst_case_kl": data["class_optimum"],
        }
    )
    lam = [
        {
            "language": lang,
            "lam_star_dual": data["lam_star"][k],
            "lam_primal_dual_loglik": data["spd"]["loglik"]["lam"][k],
            "lam_primal_dual_tabular": data["spd"]["tabular"]["lam"][k],
        }
        for k, lang in enumerate(langs)
    ]
    X = [
        {"word": w} | {f"D_{lang}": data["D"][k, i] for k, lang in enumerate(langs)}
        for i, w in enumerate(data["strings"])
    ]
    provenance = [
        {"key": "wordfreq version", "value": data["wordfreq_version"]},
        {"key": "|X|", "value": len(data["strings"])},
        {
            "key": "robust gate certified bounds",
            "value": f"[{data['robust_lower']!r}, {data['robust_upper']!r}]",
        },
        {"key": "capacity certified gap", "value": data["capacity_gap"]},
        {"key": "distillation certified gap bound", "value": data["distill_gap"]},
    ]
    return {"": rows, "lambda": lam, "X": X, "provenance": provenance}


def check(data: dict) -> tuple[bool, str]:
    """Check the claim of E10 on its data.

    Passes if the robust gate beats every single expert and the uniform mixture
    by more than its certificate, its certified gap is at most 1e-6, and no
    model in the experts' envelope M has a smaller worst case (T10).

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
    names, langs = data["names"], data["languages"]
    worst = _worst(data)
    v_star = worst[names.index(ROBUST)]
    gap = data["robust_upper"] - data["robust_lower"]
    tol = max(gap, 1e-9)
    experts = [worst[names.index(f"expert {lang}")] for lang in langs]
    uniform = worst[names.index(UNIFORM)]
    margins = [e - v_star for e in experts] + [uniform - v_star]
    ok = bool(min(margins) > tol and gap <= 1e-6)
    in_m = [
        n for n, inside in zip(names, data["in_envelope"], strict=True) if inside and n != ROBUST
    ]
    t10 = min(worst[names.index(n)] - v_star for n in in_m)
    ok &= bool(t10 >= -tol)
    others = ", ".join(
        f"{n} {fmt(worst[names.index(n)])}"
        for n in names
        if n not in (ROBUST, UNIFORM) and not n.startswith("expert")
    )
    return ok, (
        f"robust gate worst-case KL V* = {fmt(v_star)} nats (certified gap {fmt(gap)}), "
        f"λ* = {vec(data['lam_star'])} over {'/'.join(langs)}; best single expert "
        f"{fmt(min(experts))} (margin {fmt(min(experts) - v_star)}), uniform mixture {fmt(uniform)} "
        f"(margin {fmt(uniform - v_star)}); smallest margin of a model in the experts' envelope "
        f"{fmt(t10)} ≥ 0 (T10); others: {others}; capacity floor C(D) = {fmt(data['capacity'])}; "
        f"best loglik gate of its class V*(G) = {fmt(data['class_optimum'])}; "
        f"distillation KL(p_g*‖q_r) = {fmt(data['distill_kl'])} "
        f"(certified gap {fmt(data['distill_gap'])}; "
        f"{'every prefix converged' if data['distill_converged'] else 'NOT every prefix converged'}, "
        f"largest prefix certificate {fmt(data['distill_prefix_gap'])})"
    )


def setup(p: dict) -> str:
    """The setup paragraph of E10 written to REPORT.md.

    Parameters
    ----------
    p : dict
        The parameters of :func:`params`.

    Returns
    -------
    str

    Examples
    --------
    >>> setup(params("quick"))[:35]
    'K = 4 languages (en, de, fr, es); X'
    """
    K = len(p["languages"])
    return (
        f"K = {K} languages ({', '.join(p['languages'])}); X = union of each language's top "
        f"{p['top_n']} words made of a–z with length ≤ {p['max_len']} (wordfreq tables, "
        f"renormalized on X). Experts: character n-grams of order {p['order']} (add-{p['beta']}) "
        f"on m = {p['m']} words sampled per language (seed {p['expert_seed']}), renormalized on X; "
        f"aggregate retraining: one n-gram of the same order on {K}·m words drawn from the "
        f"size-proportional pooled distribution (seed {p['pooled_seed']}); §10 comparators in "
        f"H = Δ(X) with the experts standing in for the domains (RegMix seed {p['regmix_seed']}); "
        f"primal-dual: {p['spd_steps']} steps, batch {p['spd_batch']}, seed {p['spd_seed']}; "
        f"router distilled from the robust gate (certified per-prefix tolerance {p['distill_tol']}). Metric: "
        "max_λ KL(D_λ‖q) = max_k KL(D_k‖q) (convex in λ, maximal at a vertex of Δ_K)."
    )


EXPERIMENT = register(
    name="Real data: robust gating of word-frequency domains",
    claim="T10 on real data: the robust gate's worst-case KL over languages is strictly below "
    "every single expert's and the uniform mixture's, and no heuristic mixture of the same "
    "experts does better.",
    params=params,
    run=run,
    plot=plot,
    table=table,
    check=check,
    setup=setup,
)
