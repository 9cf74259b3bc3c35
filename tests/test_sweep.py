"""Sweeps without a cluster: grids, the Parquet store, reruns, summaries, the studies, the CLI.

The toy study ``toy-sweep`` defined here is also used by the cluster tests
(its functions are imported by the Dask workers, so they live at module level).
"""

import math
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats
from scipy.special import rel_entr

from paper_repro import plotting
from paper_repro.cli import main
from paper_repro.distributed import plot_sweep
from sims import sweep as sw
from sims.domains import dirichlet_domains, noisy_experts
from theory.minimax import robust_gate

# ----------------------------------------------------------------------------- toy study


def toy_compute(params: dict, seed: int) -> dict:
    """y = a·b + seed, z = len(c) + a, after sleeping ``delay`` seconds."""
    if params["delay"] > 0:
        time.sleep(params["delay"])
    if params["c"] == "boom":
        raise RuntimeError("toy study asked to fail")
    return {"y": params["a"] * params["b"] + seed, "z": float(len(params["c"]) + params["a"])}


def toy_check(params: dict) -> None:
    if params["a"] < 0:
        raise ValueError(f"a: expected a ≥ 0, got {params['a']}")


TOY = sw.register_study(
    sw.Study(
        name="toy-sweep",
        summary="T0: a toy study for the tests",
        defaults={"a": 1, "b": 0.5, "c": "x", "delay": 0.0},
        outputs=("y", "z"),
        compute=toy_compute,
        check=toy_check,
        headline=("y", "z"),
    )
)


def expected_toy(row) -> tuple[float, float]:
    return row["a"] * row["b"] + row["seed"], float(len(row["c"]) + row["a"])


def stored_rows(out: Path, name: str = "toy-sweep") -> list[dict]:
    """Every row of every part, duplicates included, read with pyarrow alone."""
    parts = sorted((out / f"{name}.parquet").glob("part-*.parquet"))
    return [r for p in parts for r in pq.read_table(p).to_pylist()]


# ----------------------------------------------------------------------------- grids


def test_two_keys_with_a_and_b_values_and_N_seeds_give_a_b_N_rows(tmp_path):
    settings = sw.parse_settings(TOY, ["a=1,2,3", "c=x,yy"])
    plan = sw.plan_sweep(TOY, tmp_path, settings, seeds=4)
    assert (plan.requested, plan.stored, len(plan.missing)) == (24, 0, 24)
    res = sw.run_sweep(plan)
    assert (res.computed, res.failed) == (24, 0)
    rows = res.table.to_pylist()
    assert len(rows) == 24
    assert res.table.column_names == ["a", "b", "c", "delay", "seed", "y", "z"]
    combos = {(r["a"], r["c"], r["seed"]) for r in rows}
    assert combos == {(a, c, s) for a in (1, 2, 3) for c in ("x", "yy") for s in range(4)}
    assert {r["b"] for r in rows} == {0.5} and {r["delay"] for r in rows} == {0.0}
    for r in rows:
        assert (r["y"], r["z"]) == expected_toy(r)


def test_a_rerun_computes_nothing_and_leaves_the_rows_alone(tmp_path):
    plan = sw.plan_sweep(TOY, tmp_path, {"a": [1, 2]}, seeds=3)
    first = sw.run_sweep(plan)
    again = sw.plan_sweep(TOY, tmp_path, {"a": [1, 2]}, seeds=3)
    assert (again.requested, again.stored, again.missing) == (6, 6, [])
    second = sw.run_sweep(again)
    assert second.computed == 0
    assert second.table.equals(first.table)
    assert len(stored_rows(tmp_path)) == 6


def test_a_wider_grid_computes_only_its_new_rows(tmp_path):
    sw.run_sweep(sw.plan_sweep(TOY, tmp_path, {"a": [1, 2]}, seeds=2))
    plan = sw.plan_sweep(TOY, tmp_path, {"a": [1, 2, 3]}, seeds=3)
    assert (plan.requested, plan.stored, len(plan.missing)) == (9, 4, 5)
    res = sw.run_sweep(plan)
    assert res.computed == 5 and res.table.num_rows == 9
    assert len(stored_rows(tmp_path)) == 9


def test_parts_left_by_a_dead_client_are_kept_and_duplicates_read_once(tmp_path):
    store = sw.Store(tmp_path, TOY)
    rows = sw.compute_rows(
        TOY, [{**p, "seed": s} for p in sw.grid(TOY, {"a": [1, 2]}) for s in (0, 1)]
    )
    store.write(rows[:3])
    store.write(rows[1:3])  # a chunk stored twice (computed again after a client died)
    (store.path / ".part-abc.parquet.1234abcd.tmp").write_bytes(b"half a file")
    assert store.read().num_rows == 3
    plan = sw.plan_sweep(TOY, tmp_path, {"a": [1, 2]}, seeds=2)
    assert (plan.stored, len(plan.missing)) == (3, 1)
    res = sw.run_sweep(plan)
    assert res.computed == 1
    keys = [(r["a"], r["seed"]) for r in stored_rows(tmp_path)]
    assert sorted(keys) == [(1, 0), (1, 1), (2, 0), (2, 1)]  # merged into one part, once each


def test_an_unreadable_part_is_reported_and_its_rows_recomputed(tmp_path):
    store = sw.Store(tmp_path, TOY)
    store.path.mkdir(parents=True)
    (store.path / "part-broken.parquet").write_bytes(b"not parquet")
    with pytest.warns(RuntimeWarning, match="part-broken.parquet: unreadable"):
        plan = sw.plan_sweep(TOY, tmp_path, None, seeds=2)
    assert len(plan.missing) == 2


def test_a_folder_of_another_study_is_refused(tmp_path):
    other = sw.Store(tmp_path, TOY)
    other.path.mkdir(parents=True)
    pq.write_table(pa.table({"q": [1.0]}), other.path / "part-x.parquet")
    with pytest.raises(ValueError, match="out: .*part-x.parquet holds the columns"):
        sw.plan_sweep(TOY, tmp_path)


def test_workers_write_only_into_the_folder_of_their_client(tmp_path):
    store = sw.Store(tmp_path, TOY)
    token = store.open_for_writers()
    rows = sw.compute_rows(TOY, [{**sw.grid(TOY)[0], "seed": 0}])
    assert sw._worker_write(TOY, str(store.path), "another run", rows) is None
    assert sw._worker_write(TOY, str(tmp_path / "elsewhere"), token, rows) is None
    name = sw._worker_write(TOY, str(store.path), token, rows)
    assert name is not None and (store.path / name).exists()


def test_a_failing_chunk_is_counted_and_the_others_are_stored(tmp_path):
    plan = sw.plan_sweep(TOY, tmp_path, {"c": ["x", "boom"]}, seeds=2)
    res = sw.run_sweep(plan, chunk_rows=2)
    assert (res.computed, res.failed) == (2, 2)
    assert "toy study asked to fail" in res.errors[0]
    assert {r["c"] for r in res.table.to_pylist()} == {"x"}


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        (["q=1"], "q: not a key of toy-sweep; its keys are a, b, c, delay"),
        (["a=1", "a=2"], "a: set twice"),
        (["a=1.5"], "a: expected int values"),
        (["b=nan"], "b: expected finite values"),
        (["c=x,"], "c: empty value"),
        (["a"], "expected KEY=V1,V2"),
    ],
)
def test_bad_settings_name_the_key(texts, message):
    with pytest.raises(ValueError, match=message):
        sw.parse_settings(TOY, texts)


def test_bad_grids_and_seeds_name_the_argument(tmp_path):
    with pytest.raises(ValueError, match="a: repeated values"):
        sw.grid(TOY, {"a": [1, 1]})
    with pytest.raises(ValueError, match="c: expected a non-empty list of values, got 'xy'"):
        sw.grid(TOY, {"c": "xy"})
    with pytest.raises(ValueError, match="b: expected float values, got 'x'"):
        sw.grid(TOY, {"b": [0.5, "x"]})
    assert [p["b"] for p in sw.grid(TOY, {"b": np.array([1, 2])})] == [1.0, 2.0]
    with pytest.raises(ValueError, match="a: expected a ≥ 0"):
        sw.grid(TOY, {"a": [2, -1]})
    with pytest.raises(ValueError, match="seeds"):
        sw.plan_sweep(TOY, tmp_path, seeds=0)
    with pytest.raises(ValueError, match="seeds: repeated"):
        sw.plan_sweep(TOY, tmp_path, seeds=[1, 1])
    with pytest.raises(ValueError, match="study: expected one of"):
        sw.get_study("no-such-study")
    study = sw.get_study("modular-vs-monolithic")
    with pytest.raises(ValueError, match="n: a sequence class needs"):
        sw.grid(study, {"monolithic": ["product"], "n": [30]})
    with pytest.raises(ValueError, match="noise: expected a value in"):
        sw.grid(study, {"noise": [0.5, 1.5]})
    with pytest.raises(ValueError, match="monolithic: expected"):
        sw.grid(study, {"monolithic": ["convex"]})
    with pytest.raises(ValueError, match="monolithic: .*order"):
        sw.grid(study, {"monolithic": ["markov:7"]})
    with pytest.raises(ValueError, match="mixtures"):
        sw.grid(study, {"mixtures": ["ball:1"]})


def test_explicit_seeds_are_used_as_given(tmp_path):
    res = sw.run_sweep(sw.plan_sweep(TOY, tmp_path, None, seeds=[5, 9]))
    assert [r["seed"] for r in res.table.to_pylist()] == [5, 9]


# ----------------------------------------------------------------------------- summaries


def test_summary_mean_and_interval_match_scipy_bootstrap():
    rng = np.random.default_rng(4)
    y = rng.normal(size=40)
    cols = {"g": np.array(["u"] * 40, dtype=object), "y": y}
    (row,) = sw.summarize(cols, ["g"], ["y"], resamples=20000, seed=1)
    assert row["seeds"] == 40 and row["y"] == pytest.approx(y.mean(), abs=1e-15)
    ref = stats.bootstrap(
        (y,), np.mean, n_resamples=20000, method="percentile", random_state=2
    ).confidence_interval
    width = ref.high - ref.low
    assert abs(row["y_lo"] - ref.low) < 0.05 * width
    assert abs(row["y_hi"] - ref.high) < 0.05 * width


def test_summary_of_a_single_seed_or_constant_values_is_that_value():
    cols = {"k": np.array([1, 1, 2]), "y": np.array([3.0, 3.0, 7.0])}
    rows = sw.summarize(cols, ["k"], ["y"])
    assert [(r["k"], r["seeds"], r["y"], r["y_lo"], r["y_hi"]) for r in rows] == [
        (1, 2, 3.0, 3.0, 3.0),
        (2, 1, 7.0, 7.0, 7.0),
    ]


# ----------------------------------------------------------------------------- the studies

MVM = sw.get_study("modular-vs-monolithic")


@given(
    K=st.integers(2, 4),
    separation=st.floats(0.0, 4.0),
    noise=st.floats(0.0, 1.0),
    family=st.sampled_from(["full", "product", "markov:1"]),
    weights=st.sampled_from(["uniform", "proportional"]),
    mixtures=st.sampled_from(["simplex", "l1:0.4", "kl:0.2"]),
    seed=st.integers(0, 50),
)
def test_T8_T10_the_margin_lies_between_its_theory_bounds(
    K, separation, noise, family, weights, mixtures, seed
):
    p = {
        **MVM.defaults,
        "K": K,
        "separation": separation,
        "noise": noise,
        "monolithic": family,
        "weights": weights,
        "mixtures": mixtures,
        "n": 16,
    }
    (row,) = sw.compute_rows(MVM, [{**p, "seed": seed}])
    gap = row["certified_gap"] + 1e-9
    assert row["margin_lower"] - gap <= row["margin"] <= row["margin_upper"] + 1e-9
    assert row["uniform_margin"] >= -gap  # T10: a fixed mixture of the experts lies in M
    assert row["robust_worst_case"] >= row["capacity"] - 1e-9  # V*(Λ) ≥ max_Λ JSD (T7)
    assert row["robust_worst_case"] <= row["capacity"] + row["expert_error"] + gap  # T8
    assert row["interference"] >= -1e-12 and row["misweighting"] >= -1e-9
    if family == "full":
        assert row["interference"] == 0.0  # T10: the full class does not interfere
    if noise == 0.0:
        assert row["robust_worst_case"] == pytest.approx(row["capacity"], abs=1e-8)  # T6/T7


def test_modular_vs_monolithic_scores_against_an_independent_computation():
    p = {**MVM.defaults, "K": 3, "n": 20, "separation": 2.0, "noise": 0.4}
    (row,) = sw.compute_rows(MVM, [{**p, "seed": 7}])
    D = dirichlet_domains(3, 20, 2.0, seed=[7, 0])
    P = noisy_experts(D, 0.4, seed=[7, 1])
    # Full class, uniform weights, Λ = Δ_3: aggregate = D_α, worst case = max_k KL(D_k‖·).
    aggregate = D.mean(axis=0)
    assert row["aggregate_worst_case"] == pytest.approx(
        rel_entr(D, aggregate).sum(1).max(), abs=1e-12
    )
    uniform = P.mean(axis=0)
    assert row["uniform_worst_case"] == pytest.approx(rel_entr(D, uniform).sum(1).max(), abs=1e-12)
    assert row["expert_error"] == pytest.approx(rel_entr(D, P).sum(1).max(), abs=1e-12)
    assert row["margin"] == pytest.approx(row["aggregate_worst_case"] - row["robust_worst_case"])


def test_modular_vs_monolithic_reuses_the_domain_side_across_noise_levels():
    """The capacity and the aggregate's terms depend on the domains only: a grid over
    the noise computes them once per domain draw, and the reused values are those of
    a fresh computation (capacity against its own robust gate of P = D)."""
    sw._domain_side.cache_clear()
    base = {**MVM.defaults, "K": 3, "n": 16, "separation": 1.5, "monolithic": "product"}
    rows = sw.compute_rows(MVM, [{**base, "noise": e, "seed": 3} for e in (0.0, 0.2, 0.5)])
    info = sw._domain_side.cache_info()
    assert (info.misses, info.hits) == (1, 2)
    inst = sw.study_instance({**base, "noise": 0.2}, 3)
    perfect = robust_gate(inst.D, inst.D, mixtures=inst.mixtures)
    for row in rows:
        assert row["capacity"] == perfect.value
        assert row["margin_upper"] == row["aggregate_worst_case"] - perfect.lower
    sw._domain_side.cache_clear()
    (fresh,) = sw.compute_rows(MVM, [{**base, "noise": 0.5, "seed": 3}])
    assert fresh == rows[-1]
    other = sw.compute_rows(MVM, [{**base, "noise": 0.5, "seed": 4}])[0]
    assert other["capacity"] != rows[-1]["capacity"]  # another draw is not served from the cache


def test_T10_no_model_of_the_envelope_beats_the_robust_gate():
    study = sw.get_study("robust-vs-heuristics")
    points = sw.grid(study, {"monolithic": ["full", "product"], "noise": [0.0, 0.5]})
    rows = sw.compute_rows(study, [{**p, "seed": s} for p in points for s in (0, 1)])
    for r in rows:
        assert r["t10_slack"] >= -1e-9
        assert r["experts_uniform_margin"] >= -r["certified_gap"] - 1e-9
        for name in ("uniform", "proportional", "group_dro", "regmix", "merged"):
            assert r[f"{name}_in_envelope"] in (0.0, 1.0)
            if r[f"{name}_in_envelope"]:
                assert r[f"{name}_margin"] >= -r["certified_gap"] - 1e-9


def test_T11_generalization_row_has_sensible_rates_and_even_skewness():
    study = sw.get_study("generalization")
    (row,) = sw.compute_rows(study, [{**study.defaults, "draws": 10, "m": 90, "seed": 0}])
    assert row["skewness"] == 1.0  # λ uniform and m split evenly: s(λ‖m̄) = 1
    assert 0.0 <= row["gate_violation"] <= 1.0 and 0.0 <= row["tab_violation"] <= 1.0
    assert row["gate_bound"] > 0 and row["gate_slack"] == pytest.approx(
        row["gate_bound"] - row["gate_sup_max"]
    )


def test_the_study_outputs_must_be_real_numbers():
    def bad(params, seed):
        return {"y": float("nan"), "z": 1.0}

    study = sw.Study("bad", "T0: bad", {"a": 1}, ("y", "z"), bad, lambda p: None)
    with pytest.raises(ValueError, match="output y .* is nan"):
        sw.compute_rows(study, [{"a": 1, "seed": 0}])
    study = sw.Study(
        "bad", "T0: bad", {"a": 1}, ("y", "w"), lambda p, s: {"y": 1.0}, lambda p: None
    )
    with pytest.raises(ValueError, match="did not return w"):
        sw.compute_rows(study, [{"a": 1, "seed": 0}])


def test_a_study_cannot_shadow_the_seed_column():
    with pytest.raises(ValueError, match="repeat a name"):
        sw.register_study(sw.Study("x", "T0", {"seed": 1}, ("y",), toy_compute, toy_check))
    with pytest.raises(ValueError, match="default of 'a'"):
        sw.register_study(sw.Study("x", "T0", {"a": [1]}, ("y",), toy_compute, toy_check))


# ----------------------------------------------------------------------------- figures and CLI


def _files(out: Path, name: str) -> None:
    assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / f"{name}.pdf").read_bytes()[:4] == b"%PDF"
    assert "<svg" in (out / f"{name}.svg").read_text()


def test_the_phase_diagram_and_the_generic_figure_are_written(tmp_path):
    settings = {
        "separation": [0.0, 1.0, 2.0],
        "noise": [0.0, 0.5],
        "monolithic": ["full", "product"],
    }
    res = sw.run_sweep(sw.plan_sweep(MVM, tmp_path, settings, seeds=2))
    problems = []
    with pytest.MonkeyPatch.context() as mp:
        # The figures are also checked for overlaps, small text and raw markup,
        # just before they are saved (saving closes them).
        save = plotting.save
        mp.setattr(
            plotting,
            "save",
            lambda fig, path: problems.append(plotting.layout_problems(fig)) or save(fig, path),
        )
        assert len(plot_sweep(MVM, res.table, tmp_path)) == 3
        _files(tmp_path, MVM.name)
        toy = sw.run_sweep(sw.plan_sweep(TOY, tmp_path, {"a": [1, 2, 3], "c": ["x", "y"]}, seeds=2))
        plot_sweep(TOY, toy.table, tmp_path)
        _files(tmp_path, TOY.name)
    assert len(problems) == 2 and problems == [[], []]


def test_cli_sweep_list_shows_every_study_with_keys_and_defaults(capsys):
    assert main(["sweep", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("modular-vs-monolithic", "robust-vs-heuristics", "generalization"):
        assert name in out
    assert "K=3, n=32, separation=1.0, noise=0.3, monolithic=full" in out
    assert "robust_worst_case, robust_lower, certified_gap, aggregate_worst_case" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sweep", "no-such", "--out", "{out}"], "study: expected one of"),
        (["sweep", "modular-vs-monolithic"], "study: give a study and --out"),
        (
            ["sweep", "modular-vs-monolithic", "--out", "{out}", "--set", "Q=1"],
            "--set Q: not a key",
        ),
        (["sweep", "modular-vs-monolithic", "--out", "{out}", "--set", "noise=2"], "--set noise"),
        (["sweep", "modular-vs-monolithic", "--out", "{out}", "--seeds", "0"], "--seeds"),
        (["sweep", "modular-vs-monolithic", "--out", "{out}", "--workers", "0"], "--workers"),
        (["verify", "--only", "T1", "--workers", "0"], "--workers"),
    ],
)
def test_cli_sweep_errors_are_one_line_naming_the_option(argv, message, tmp_path, capsys):
    argv = [a.replace("{out}", str(tmp_path / "o")) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_cli_sweep_of_stored_rows_starts_no_cluster_and_writes_csv_and_figure(tmp_path, capsys):
    settings = ["--set", "separation=0,2", "--set", "noise=0,0.5"]
    sw.run_sweep(
        sw.plan_sweep(MVM, tmp_path, sw.parse_settings(MVM, [s for s in settings if "=" in s]), 2)
    )
    assert main(["sweep", MVM.name, "--out", str(tmp_path), *settings, "--seeds", "2"]) == 0
    out = capsys.readouterr().out
    assert "8 rows requested (4 grid points × 2 seeds); 8 already stored" in out
    assert "computing 0" in out and "computed 0 rows" in out
    csv = (tmp_path / f"{MVM.name}.csv").read_text().splitlines()
    assert len(csv) == 9 and csv[0].startswith('"K","n","separation","noise"')
    _files(tmp_path, MVM.name)
    values = [float(line.split(",")[MVM.columns.index("margin")]) for line in csv[1:]]
    assert all(math.isfinite(v) for v in values)


def test_E11_claim_passes_on_a_small_grid_and_fails_when_a_corner_disagrees(tmp_path):
    from paper_repro.experiments import registry

    (e11,) = registry(["E11"])
    p = {**e11.params("quick"), "separations": [0.0, 3.0], "noises": [0.0, 0.8], "seeds": 2}
    data = e11.run(p)
    assert len(data["margin"]) == 2 * 2 * 2 * 2
    passed, measured = e11.check(data)
    assert passed, measured
    corners = {
        (c["monolithic"], c["separation"], c["noise"]): c for c in e11.table(data)["corners"]
    }
    assert corners[("product", 3.0, 0.0)]["predicted"] == "modular wins"
    assert corners[("full", 0.0, 0.8)]["predicted"] == "modular cannot win"
    # The measured margin at a corner the theory decides, forced to the other sign.
    bad = {k: v.copy() for k, v in data.items()}
    at = (bad["monolithic"] == "product") & (bad["separation"] == 3.0) & (bad["noise"] == 0.0)
    bad["margin"][at] = -1.0
    assert not e11.check(bad)[0]
    assert e11.plot(data, tmp_path).exists()


# ----------------------------------------------------------------------------- study_instance


@pytest.mark.parametrize("K, rho", [(2, 1.0), (3, 4.0), (5, 10.0)])
def test_study_instance_sizes_fall_geometrically_from_the_largest(K, rho):
    inst = sw.study_instance({"K": K, "n": 8, "weights": "proportional", "imbalance": rho}, 3)
    # largest first, largest/smallest = ρ, constant ratio between neighbours
    assert inst.sizes[0] == pytest.approx(1.0) and inst.sizes[0] / inst.sizes[-1] == pytest.approx(
        rho
    )
    assert np.allclose(inst.sizes[1:] / inst.sizes[:-1], rho ** (-1 / (K - 1)))
    assert np.allclose(inst.alpha, inst.sizes / inst.sizes.sum())
    assert inst.D.shape == inst.P.shape == (K, 8)
    uniform = sw.study_instance({"K": K, "n": 8, "imbalance": rho}, 3)
    assert np.allclose(uniform.alpha, 1 / K) and np.array_equal(uniform.D, inst.D)


@pytest.mark.parametrize(
    "params, seed, name",
    [({"K": 1}, 0, "K"), ({"imbalance": 0.5}, 0, "imbalance"), ({}, -1, "seed"), ({}, 1.5, "seed")],
)
def test_study_instance_refuses_bad_input(params, seed, name):
    with pytest.raises(ValueError, match=name):
        sw.study_instance(params, seed)
