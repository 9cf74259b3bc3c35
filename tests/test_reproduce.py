"""The reproduce runner: cached resume after an interruption, atomic outputs, loud failures."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

import paper_repro.reproduce as rp
from paper_repro import plotting

CALLS: list[str] = []
BROKEN: set[str] = set()


def _params(mode):
    return {"n": 5 if mode == "quick" else 9, "seed": 3}


def _run(eid):
    def run(params):
        CALLS.append(eid)
        if eid in BROKEN:
            raise RuntimeError(f"{eid} interrupted midway")
        x = np.arange(params["n"], dtype=float)
        return {"x": x, "y": np.random.default_rng(params["seed"]).random(params["n"]) + x}

    return run


def _plot(eid):
    def plot(data, out_dir):
        fig, axes = plotting.figure()
        axes[0, 0].plot(data["x"], data["y"], label="y")
        axes[0, 0].set(xlabel="x", ylabel="y (nats)")
        axes[0, 0].legend()
        plotting.title(fig, "T0", f"toy {eid}")
        return plotting.save(fig, Path(out_dir) / f"{eid}_toy.png")

    return plot


def _experiment(eid: str) -> rp.Experiment:
    return rp.Experiment(
        id=eid,
        stem="toy",
        name=f"toy experiment {eid}",
        claim="y grows with x",
        params=_params,
        run=_run(eid),
        plot=_plot(eid),
        table=lambda d: [
            {"x": float(a), "y": float(b)} for a, b in zip(d["x"], d["y"], strict=True)
        ],
        check=lambda d: (
            bool(np.all(np.diff(d["y"]) > -1)),
            f"min step {np.diff(d['y']).min():.3f}",
        ),
        setup=lambda p: f"n = {p['n']}, seed {p['seed']}",
    )


@pytest.fixture
def toys():
    CALLS.clear()
    BROKEN.clear()
    yield [_experiment(e) for e in ("E91", "E92", "E93")]
    CALLS.clear()
    BROKEN.clear()


def _no_temp_files(out: Path) -> bool:
    return not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def test_an_interrupted_run_resumes_and_recomputes_only_the_unfinished_experiment(tmp_path, toys):
    BROKEN.add("E92")
    assert rp.reproduce(out=tmp_path, experiments=toys) == 1
    assert CALLS == ["E91", "E92", "E93"]
    report = (tmp_path / "REPORT.md").read_text()
    assert "E92 interrupted midway" in report and "1 of 3" not in report

    BROKEN.clear()
    CALLS.clear()
    assert rp.reproduce(out=tmp_path, experiments=toys) == 0
    assert CALLS == ["E92"]

    CALLS.clear()
    assert rp.reproduce(out=tmp_path, experiments=toys) == 0
    assert CALLS == []
    assert "3 of 3 claims pass" in (tmp_path / "REPORT.md").read_text()


def test_a_deleted_cache_entry_is_the_only_one_recomputed(tmp_path, toys):
    assert rp.reproduce(out=tmp_path, experiments=toys) == 0
    entries = sorted((tmp_path / ".cache").glob("*.pkl"))
    assert [p.name.split("-")[0] for p in entries] == ["E91", "E92", "E93"]
    entries[2].unlink()
    CALLS.clear()
    assert rp.reproduce(out=tmp_path, experiments=toys) == 0
    assert CALLS == ["E93"]


def test_the_cache_key_depends_on_the_parameters(tmp_path, toys):
    rp.reproduce(out=tmp_path, experiments=toys, only=["E91"])
    CALLS.clear()
    rp.reproduce(mode="full", out=tmp_path, experiments=toys, only=["E91"])
    assert CALLS == ["E91"]
    assert rp.cache_key(toys[0], _params("quick")) != rp.cache_key(toys[0], _params("full"))


def test_outputs_are_complete_and_no_temporary_file_is_left(tmp_path, toys):
    assert rp.reproduce(out=tmp_path, experiments=toys) == 0
    assert _no_temp_files(tmp_path)
    for eid in ("E91", "E92", "E93"):
        image = mpimg.imread(tmp_path / f"{eid}_toy.png")
        assert image.ndim == 3 and image.shape[0] > 100
        with open(tmp_path / f"{eid}_toy.csv") as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == 5 and float(rows[4]["x"]) == 4.0
        payload = json.loads((tmp_path / f"{eid}_toy.json").read_text())
        assert payload["passed"] is True and payload["params"] == {"n": 5, "seed": 3}
        assert len(payload["tables"][""]) == 5
    report = (tmp_path / "REPORT.md").read_text()
    for eid in ("E91", "E92", "E93"):
        assert f"## {eid}" in report and f"({eid}_toy.png)" in report


def test_an_interrupted_write_leaves_the_previous_file_intact(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("complete\n")
    with pytest.raises(KeyboardInterrupt), plotting.atomic_path(target) as tmp:
        tmp.write_text("trunc")
        raise KeyboardInterrupt
    assert target.read_text() == "complete\n"
    assert _no_temp_files(tmp_path) and [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_a_failing_claim_gives_a_nonzero_exit_code(tmp_path, toys):
    failing = rp.Experiment(**{**toys[0].__dict__, "check": lambda d: (False, "computed: no")})
    assert rp.reproduce(out=tmp_path, experiments=[failing, toys[1]]) == 1
    assert "**FAIL**" in (tmp_path / "REPORT.md").read_text()


def test_an_experiment_that_cannot_be_imported_fails_loudly(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(rp, "PLANNED", [("E99", "not_written", "a claim without code")])
    assert rp.reproduce(out=tmp_path) == 1
    report = (tmp_path / "REPORT.md").read_text()
    assert "cannot import paper_repro.experiments.e99_not_written" in report
    assert "E99" in capsys.readouterr().err


def test_unknown_ids_and_modes_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="only"):
        rp.reproduce(only=["E42"], out=tmp_path)
    with pytest.raises(ValueError, match="mode"):
        rp.reproduce(mode="medium", out=tmp_path)


def test_parallel_jobs_give_the_same_outputs_as_a_serial_run(tmp_path, toys):
    assert rp.reproduce(out=tmp_path / "serial", experiments=toys) == 0
    assert rp.reproduce(out=tmp_path / "parallel", experiments=toys, jobs=2) == 0
    for eid in ("E91", "E92", "E93"):
        a = (tmp_path / "serial" / f"{eid}_toy.csv").read_text()
        b = (tmp_path / "parallel" / f"{eid}_toy.csv").read_text()
        assert a == b
    assert _no_temp_files(tmp_path)


def test_every_planned_experiment_module_is_importable():
    loaded = rp.load_experiments()
    missing = [e for e in loaded if not isinstance(e, rp.Experiment)]
    assert not missing, missing
    assert [e.id for e in loaded] == [f"E{i}" for i in range(1, 11)]
