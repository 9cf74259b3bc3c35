"""Every figure fits a slide and a page: no colliding texts, nothing cut off, 9 pt text, 200 dpi.

The figures E1–E10 are drawn by each experiment's own ``plot`` on small data:
its ``run`` on tiny parameters, or, for E6 and E10 whose class optimum is a
slow deterministic solve, the plotted numbers of the committed
``figures/*.json``. ``plotting.layout_problems`` measures them with the
renderer; it is itself tested on figures built to fail. The public helpers
``plot_dual``, ``plot_gate`` and ``plot_compare`` are checked on user data for
K = 2 and K = 3 against independent computations (the cvxpy solver, closed forms).
"""

from __future__ import annotations

import functools
import json
import os
import struct
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, TriMesh
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from scipy.special import rel_entr

from paper_repro import plotting
from paper_repro.experiments import registry
from sims.domains import dirichlet_domains, noisy_experts
from theory.divergences import kl_rows
from theory.minimax import fixed_mixture, robust_gate
from theory.mixtures import Box, KLBall

FIGURES = Path(__file__).resolve().parents[1] / "figures"
IDS = [f"E{i}" for i in range(1, 12)]

# Small versions of each experiment's parameters (keys of its params("quick")).
TINY = {
    "E1": {"grid": 41},
    "E2": {"n": 20, "resolution": 10},
    "E3": {"n": 20, "radii": [0.0, 0.5, 1.0, 2.0], "kl_radii": [0.0, 0.1, 0.5, 2.4]},
    "E4": {"lengths": [2, 3], "overlaps": [0.0, 0.5, 1.0], "separations": [0.0, 1.5, 3.0]},
    "E5": {
        "synthetic": {"T": 3, "V": 3, "sizes": [400, 200, 100, 50], "resolution": 3},
        "real": {"top_n": 60, "max_len": 5, "m": 1000, "resolution": 2},
    },
    "E7": {"n": 30, "m": [30, 100, 300], "draws": 20},
    "E8": {"T": 3, "steps": 200},
    "E9": {
        "Ks": [2, 4],
        "top_n": 60,
        "max_len": 5,
        "m": 2000,
        "samples": 3000,
        "timing_repeats": 1,
    },
    "E11": {"separations": [0.0, 2.0, 4.0], "noises": [0.0, 0.4, 0.8], "seeds": 2},
}


def _experiment(eid: str):
    return registry([eid])[0]


def _tables(eid: str) -> dict:
    path = next(FIGURES.glob(f"{eid}_*.json"))
    return json.loads(path.read_text(encoding="utf-8"))["tables"]


def _e6_from_json() -> dict:
    runs = {}
    for row in _tables("E6")["curves"]:
        key = (row["instance"], row["gate"])
        r = runs.setdefault(
            key,
            {"instance": key[0], "gate": key[1], "reference": row["reference"], "rows": []},
        )
        r["rows"].append((row["step"], row["worst_case"], row["avg_mass"]))
    out = []
    for r in runs.values():
        step, worst, mass = (np.array(c) for c in zip(*r.pop("rows"), strict=True))
        out.append(r | {"step": step, "worst_case": worst, "avg_mass": mass})
    return {"runs": out}


def _e10_from_json() -> dict:
    tables = _tables("E10")
    rows = [r for r in tables[""] if not r["method"].startswith("reference:")]
    refs = {
        r["method"]: r["worst_case_kl"] for r in tables[""] if r["method"].startswith("reference:")
    }
    langs = [r["language"] for r in tables["lambda"]]
    return {
        "names": [r["method"] for r in rows],
        "kl": np.array([[r[f"kl_{lang}"] for lang in langs] for r in rows]),
        "languages": langs,
        "strings": [r["word"] for r in tables["X"]],
        "capacity": next(v for k, v in refs.items() if "capacity" in k),
        "class_optimum": next(v for k, v in refs.items() if "loglik" in k),
        "lam_star": np.array([r["lam_star_dual"] for r in tables["lambda"]]),
        "spd": {
            g: {"lam": np.array([r[f"lam_primal_dual_{g}"] for r in tables["lambda"]])}
            for g in ("loglik", "tabular")
        },
    }


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@functools.cache
def _data(eid: str) -> dict:

    if eid == "E6":
        return _e6_from_json()
    if eid == "E10":
        return _e10_from_json()
    exp = _experiment(eid)
    p = exp.params("quick")
    for key, value in TINY[eid].items():
        if isinstance(value, dict):
            p[key] = p[key] | value
        else:
            p[key] = value
    return exp.run(p)


def _drawn(eid: str, monkeypatch, tmp_path) -> Figure:
    """The figure of ``eid`` as its ``plot`` builds it, just before it is saved."""
    captured = []

    def keep(fig, path):
        captured.append(fig)
        return Path(path)

    monkeypatch.setattr(plotting, "save", keep)
    _experiment(eid).plot(_data(eid), tmp_path)
    assert len(captured) == 1
    return captured[0]


def _png_dpi(path: Path) -> float:
    """The resolution stored in a PNG's pHYs chunk (pixels per metre), in dots per inch."""
    blob = path.read_bytes()
    assert blob[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    at = 8
    while at < len(blob):
        length, kind = struct.unpack(">I4s", blob[at : at + 8])
        if kind == b"pHYs":
            x, y, unit = struct.unpack(">IIB", blob[at + 8 : at + 17])
            assert unit == 1, "pHYs not in pixels per metre"
            return min(x, y) * 0.0254
        at += 12 + length
    raise AssertionError(f"{path} has no resolution (pHYs chunk)")


# ----------------------------------------------------------------------------- E1–E10


@pytest.mark.parametrize("eid", IDS)
def test_experiment_figure_has_no_layout_problem(eid, monkeypatch, tmp_path):
    fig = _drawn(eid, monkeypatch, tmp_path)
    assert plotting.layout_problems(fig) == []
    width, _ = fig.get_size_inches()
    assert width <= plotting.WIDTH + 1e-9
    assert fig.get_suptitle()


def test_saved_figure_is_a_200_dpi_png_and_a_pdf_with_the_umask_mode(tmp_path):
    fig, _ = _two_panels()
    previous = os.umask(0o027)
    try:
        png = plotting.save(fig, tmp_path / "out" / "E0.png")
    finally:
        os.umask(previous)
    pdf = png.with_suffix(".pdf")
    assert _png_dpi(png) >= 200 - 0.01
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert {png.stat().st_mode & 0o777, pdf.stat().st_mode & 0o777} == {0o640}
    assert not list((tmp_path / "out").glob(".*.tmp"))


@pytest.mark.parametrize("eid", IDS)
def test_committed_figure_is_a_200_dpi_png_with_a_vector_twin(eid):
    png = next(FIGURES.glob(f"{eid}_*.png"))
    assert _png_dpi(png) >= 200 - 0.01
    assert png.with_suffix(f".{plotting.VECTOR_FORMAT}").read_bytes()[:5] == b"%PDF-"


# ----------------------------------------------------------------------------- the check itself


@plotting.styled
def _two_panels():
    fig, axes = plotting.figure(1, 2, height=3.0)
    x = np.linspace(0.0, 1.0, 50)
    axes[0, 0].plot(x, x**2, label="a curve")
    axes[0, 0].set(xlabel=r"$\lambda_1$", ylabel=r"$d(\lambda)$ (nats)", title="(a) left")
    axes[0, 1].plot(x, 1 - x, label="another curve")
    axes[0, 1].set(xlabel=r"$\lambda_1$", title="(b) right")
    plotting.figure_legend(fig, ncol=2)
    plotting.title(fig, "T6", r"$\lambda^*$ maximizes $d$", experiment="E0")
    return fig, axes


def test_layout_check_passes_a_clean_figure():
    fig, _ = _two_panels()
    assert plotting.layout_problems(fig) == []


def test_layout_check_finds_two_overlapping_texts():
    fig, axes = _two_panels()
    label = axes[0, 1].set_ylabel("a y label long enough to run into the left panel's texts")
    label.set_position((-0.6, 0.5))
    problems = plotting.layout_problems(fig)
    assert any("overlaps" in p and "y label 'a y label long" in p for p in problems), problems


def test_layout_check_finds_two_texts_placed_on_each_other():
    fig, axes = _two_panels()
    axes[0, 0].annotate("first", (0.1, 0.8), xycoords="axes fraction")
    axes[0, 0].annotate("second", (0.12, 0.8), xycoords="axes fraction")
    problems = plotting.layout_problems(fig)
    assert any("'first'" in p and "overlaps" in p and "'second'" in p for p in problems), problems


def test_layout_check_finds_a_legend_over_data_a_cut_curve_small_and_raw_text():
    fig, axes = _two_panels()
    ax = axes[0, 0]
    ax.legend(loc="center")  # over the curve x², which leaves the view cut at y = 0.5
    ax.set_ylim(0.0, 0.5)
    ax.set_title("tiny", fontsize=6)
    axes[0, 1].set_xlabel("raw D_λ and m^{-1/2}")
    problems = plotting.layout_problems(fig)
    assert any("legend of panel 1" in p and "covers data" in p for p in problems), problems
    assert any("cut off by the axis limits" in p for p in problems), problems
    assert any("6 pt, below 9 pt" in p for p in problems), problems
    assert any("raw markup" in p for p in problems), problems


def test_layout_check_finds_text_outside_the_canvas():
    fig, axes = _two_panels()
    axes[0, 1].set_title("a title far too long for its panel " * 3)
    problems = plotting.layout_problems(fig)
    assert any("extends outside the figure" in p for p in problems), problems


def test_one_colour_per_method_in_every_figure():
    assert plotting.color("robust gate (dual)") == plotting.color("robust")
    assert plotting.color("aggregate retraining (size-proportional)") == plotting.color("aggregate")
    assert plotting.color("expert en") == plotting.color("best single expert")
    methods = ["robust gate", "uniform mixture", "aggregate retraining", "group DRO", "RegMix"]
    methods += ["parameter merging", "distilled router", "expert", "uniform weights"]
    methods += ["primal-dual gate (tabular)", "primal-dual gate (loglik)"]
    assert len({plotting.color(m) for m in methods}) == len(methods)
    others = {plotting.color("a user's model", i) for i in range(4)}
    assert others.isdisjoint(plotting.METHOD_COLORS.values())


# ----------------------------------------------------------------------------- user helpers


def _instance(K: int, n: int = 25, seed: int = 1):
    D = dirichlet_domains(K, n, 1.5, seed=seed)
    return D, noisy_experts(D, 0.3, seed=seed + 1)


def test_plot_dual_K2_draws_d_and_marks_the_solution_of_an_independent_solver():
    D, P = _instance(2)
    fig = plotting.plot_dual(D, P, mixtures=Box([0.2, 0.0], [0.7, 1.0]))
    ax = fig.axes[0]
    curve = next(line for line in ax.lines if line.get_label() == r"$d(\lambda)$")
    lam1, d = curve.get_xdata(), curve.get_ydata()
    for i in (0, 57, 200):
        assert d[i] == pytest.approx(fixed_mixture(D, P, [lam1[i], 1 - lam1[i]]).value, abs=1e-10)
    ref = robust_gate(D, P, mixtures=Box([0.2, 0.0], [0.7, 1.0]), method="cvxpy")
    star = next(line for line in ax.lines if line.get_label() == r"$\lambda^*$")
    assert star.get_xdata()[0] == pytest.approx(ref.lam[0], abs=1e-4)
    inside = (lam1 >= 0.2) & (lam1 <= 0.7)
    assert d[inside].max() <= ref.value + 1e-6
    assert plotting.layout_problems(fig) == []


def test_plot_dual_K3_heat_map_star_and_the_boundary_of_a_KL_ball():
    D, P = _instance(3)
    center, rho = np.array([0.5, 0.3, 0.2]), 0.05
    fig = plotting.plot_dual(D, P, mixtures=KLBall(center, rho))
    ax = fig.axes[0]
    assert any(isinstance(c, TriMesh) for c in ax.collections)
    ref = robust_gate(D, P, mixtures=KLBall(center, rho), method="cvxpy")
    star = next(line for line in ax.lines if line.get_label() == r"$\lambda^*$")
    x, y = plotting.ternary_xy(ref.lam)
    assert star.get_xdata()[0] == pytest.approx(x[0], abs=1e-3)
    assert star.get_ydata()[0] == pytest.approx(y[0], abs=1e-3)
    edge = next(line for line in ax.lines if line.get_label() == r"boundary of $\Lambda$")
    ex, ey = edge.get_xdata(), edge.get_ydata()
    lam3 = ey * 2.0 / np.sqrt(3.0)
    lam2 = ex - 0.5 * lam3
    lam = np.column_stack([1.0 - lam2 - lam3, lam2, lam3])
    assert np.allclose(rel_entr(lam, center).sum(axis=1), rho, atol=1e-6)
    assert plotting.layout_problems(fig) == []


def test_plot_dual_draws_into_a_given_axes():
    D, P = _instance(2)
    fig, axes = plotting.figure(1, 2)
    assert plotting.plot_dual(D, P, ax=axes[0, 1]) is fig
    assert axes[0, 1].lines and not axes[0, 0].lines


def test_plot_dual_refuses_other_K_and_bad_axes():
    D, P = _instance(4)
    with pytest.raises(ValueError, match="K = 4"):
        plotting.plot_dual(D, P)
    with pytest.raises(TypeError, match="ax"):
        plotting.plot_dual(*_instance(2), ax="left")


@pytest.mark.parametrize(("K", "n"), [(2, 12), (3, 60)])
def test_plot_gate_stacks_the_gate_and_keeps_the_model_in_the_envelope(K, n):
    D, P = _instance(K, n)
    res = robust_gate(D, P)
    fig = plotting.plot_gate(res, P)
    top, bottom = fig.axes[:2]
    stacks = {}
    for bar in (p for p in top.patches if isinstance(p, Rectangle)):
        x = round(bar.get_x() + bar.get_width() / 2)
        stacks[x] = stacks.get(x, 0.0) + bar.get_height()
    assert len(stacks) == n and np.allclose(list(stacks.values()), 1.0)
    model = next(line for line in bottom.lines if line.get_label() == r"model $p_g(x)$")
    q = model.get_ydata()
    order = np.argsort(-res.model, kind="stable") if n > 40 else np.arange(n)
    assert np.allclose(q, np.einsum("kn,kn->n", res.gate, P)[order], rtol=1e-12)
    lo, hi = P.min(axis=0)[order], P.max(axis=0)[order]
    assert np.all(q >= lo * (1 - 1e-12)) and np.all(q <= hi * (1 + 1e-12))
    if n <= 40:
        segments = next(c for c in bottom.collections if isinstance(c, LineCollection))
        ends = np.array([s[:, 1] for s in segments.get_segments()])
        assert np.allclose(ends.min(axis=1), lo) and np.allclose(ends.max(axis=1), hi)
    assert plotting.layout_problems(fig) == []


def test_plot_gate_refuses_mismatched_experts_and_a_single_axes():
    D, P = _instance(2)
    res = robust_gate(D, P)
    with pytest.raises(ValueError, match="P"):
        plotting.plot_gate(res, P[:, :-1] / P[:, :-1].sum(axis=1, keepdims=True))
    fig, axes = plotting.figure()
    with pytest.raises(ValueError, match="ax"):
        plotting.plot_gate(res, P, ax=axes[0, 0])
    with pytest.raises(TypeError, match="result"):
        plotting.plot_gate(P, P)


@pytest.mark.parametrize("K", [2, 3])
def test_plot_compare_bars_are_the_worst_cases_of_the_records(K):
    D, P = _instance(K)
    res = robust_gate(D, P)
    models = {f"expert {k + 1}": P[k] for k in range(K)}
    models |= {"uniform": P.mean(axis=0), "robust": res.model}
    # The worst case over Δ_K of the divergence objective is at a vertex: max_k KL(D_k‖q).
    table = [{"name": n, "worst_case": float(kl_rows(D, q).max())} for n, q in models.items()]
    fig = plotting.plot_compare(table)
    ax = fig.axes[0]
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert [b.get_width() for b in bars] == pytest.approx([r["worst_case"] for r in table])
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == list(models)
    v_star = next(line for line in ax.lines if "V^*" in line.get_label())
    assert v_star.get_xdata()[0] == pytest.approx(res.upper, rel=1e-9)
    assert plotting.layout_problems(fig) == []


def test_plot_compare_draws_an_infinite_worst_case_to_the_edge():
    fig = plotting.plot_compare(
        [{"name": "robust", "worst_case": 0.5}, {"name": "mine", "worst_case": float("inf")}]
    )
    ax = fig.axes[0]
    assert "∞" in [t.get_text() for t in ax.texts]
    assert max(p.get_width() for p in ax.patches) < ax.get_xlim()[1]


@pytest.mark.parametrize(
    ("table", "error", "match"),
    [
        ([], ValueError, "at least one record"),
        ({"name": "a", "worst_case": 1.0}, TypeError, "list of records"),
        ([{"name": "a"}], ValueError, "worst_case"),
        ([{"name": "a", "worst_case": float("nan")}], ValueError, "NaN"),
        ([{"name": 3, "worst_case": 1.0}], TypeError, "name"),
        ([{"name": "a", "worst_case": "1.0"}], TypeError, "worst_case"),
    ],
)
def test_plot_compare_refuses_bad_tables(table, error, match):
    with pytest.raises(error, match=match):
        plotting.plot_compare(table)


def test_helpers_return_figures_into_given_axes():
    fig, axes = plotting.figure(1, 1)
    out = plotting.plot_compare([{"name": "uniform", "worst_case": 1.0}], ax=axes[0, 0])
    assert out is fig and isinstance(axes[0, 0], Axes)
