"""The reproduce runner: cached resume after an interruption, atomic outputs, loud failures.

The runner is exercised with tiny toy experiments (``reproduce(experiments=...)``)
so that these tests are fast; ``tests/test_reproduce_faults.py`` uses the same toys.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

import paper_repro.experiments as experiments
import paper_repro.reproduce as rp
from paper_repro import plotting
from paper_repro.experiments import Experiment, Unavailable

CALLS: list[str] = []
BROKEN: set[str] = set()
#: The ``show_progress`` each toy's run was given, in call order.
SHOWN: list[bool] = []


def _params(mode):
    return {"n": 5 if mode == "quick" else 9, "seed": 3}


def _run(eid):
    def run(params, show_progress=False):
        CALLS.append(eid)
        SHOWN.append(show_progress)
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


def toy_experiment(eid: str) -> Experiment:
    """A fast experiment whose runs are logged in ``CALLS`` and can be made to raise."""
    return Experiment(
        id=eid,
        stem="toy",
        name=f"toy experiment {eid}",
        claim=f"y grows with x ({eid})",
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


def toy_set(monkeypatch):
    """Three toys E91–E93 with fresh logs; yields them, and clears the logs after."""
    # The toys' cache keys should not move when the library is edited between two runs.
    monkeypatch.setattr(rp, "_LIBRARY_PACKAGES", ())
    for log in (CALLS, BROKEN, SHOWN):
        log.clear()
    yield [toy_experiment(e) for e in ("E91", "E92", "E93")]
    for log in (CALLS, BROKEN, SHOWN):
        log.clear()


@pytest.fixture
def toys(monkeypatch):
    yield from toy_set(monkeypatch)


def no_temp_files(out: Path) -> bool:
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


def test_a_raising_experiment_is_one_line_on_stderr_and_its_traceback_goes_to_the_report(
    tmp_path, toys, capsys
):
    BROKEN.add("E92")
    assert rp.reproduce(out=tmp_path, experiments=toys) == 1
    err = capsys.readouterr().err
    assert "E92: RuntimeError: E92 interrupted midway (details in REPORT.md)" in err
    assert "Traceback" not in err
    assert "Traceback" in (tmp_path / "REPORT.md").read_text()


# A standalone runner with three fast experiments; the one named on the command
# line blocks, so that the test can kill the whole process while it computes.
_KILLABLE = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import numpy as np
    import paper_repro.reproduce as rp
    from paper_repro import plotting
    from paper_repro.experiments import Experiment

    out, log, hang = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    # Only the toy experiments' own source names their cache here.
    rp._LIBRARY_PACKAGES = ()

    def experiment(eid):
        def run(params, show_progress=False):
            with open(log, "a") as fh:
                fh.write(eid + "\\n")
            if eid == hang:
                time.sleep(600)
            return {"x": np.arange(params["n"], dtype=float)}

        def plot(data, out_dir):
            fig, axes = plotting.figure()
            axes[0, 0].plot(data["x"], data["x"])
            return plotting.save(fig, Path(out_dir) / f"{eid}_toy.png")

        return Experiment(
            id=eid, stem="toy", name=eid, claim="toy", params=lambda mode: {"n": 4},
            run=run, plot=plot, table=lambda d: [{"x": float(v)} for v in d["x"]],
            check=lambda d: (True, "ok"), setup=lambda p: "toy",
        )

    sys.exit(rp.reproduce(out=out, experiments=[experiment(e) for e in ("E91", "E92", "E93")]))
    """
)


def _calls(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def test_a_killed_run_resumes_and_recomputes_only_what_was_unfinished(tmp_path):
    script, log, out = tmp_path / "runner.py", tmp_path / "calls.log", tmp_path / "out"
    script.write_text(_KILLABLE)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(out), str(log), "E92"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while "E92" not in _calls(log):
            assert proc.poll() is None, "the runner exited before reaching E92"
            assert time.monotonic() < deadline, "the runner never reached E92"
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert _calls(log) == ["E91", "E92"]
    cached = sorted(p.name.split("-")[0] for p in (out / ".cache").glob("*.pkl"))
    assert cached == ["E91"]
    assert not (out / "REPORT.md").exists()

    log.unlink()
    done = subprocess.run(
        [sys.executable, str(script), str(out), str(log), "none"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert _calls(log) == ["E92", "E93"]
    assert "from the cache: E91" in done.stdout
    assert "3 of 3 claims pass" in (out / "REPORT.md").read_text()
    assert no_temp_files(out)


def test_a_deleted_cache_entry_is_the_only_one_recomputed(tmp_path, toys):
    assert rp.reproduce(out=tmp_path, experiments=toys) == 0
    entries = sorted((tmp_path / ".cache").glob("*.pkl"))
    assert [p.name.split("-")[0] for p in entries] == ["E91", "E92", "E93"]
    entries[2].unlink()
    CALLS.clear()
    assert rp.reproduce(out=tmp_path, experiments=toys) == 0
    assert CALLS == ["E93"]


def test_force_recomputes_what_is_cached_and_the_run_says_what_came_from_the_cache(
    tmp_path, toys, capsys
):
    assert rp.reproduce(out=tmp_path, experiments=toys) == 0
    assert "from the cache" not in capsys.readouterr().out
    CALLS.clear()
    assert rp.reproduce(out=tmp_path, experiments=toys, only=["E91", "E93"]) == 0
    assert CALLS == []
    assert "from the cache: E91, E93" in capsys.readouterr().out
    assert rp.reproduce(out=tmp_path, experiments=toys, force=True) == 0
    assert CALLS == ["E91", "E92", "E93"]
    assert "from the cache" not in capsys.readouterr().out


def test_the_cache_key_depends_on_the_parameters(tmp_path, toys):
    rp.reproduce(out=tmp_path, experiments=toys, only=["E91"])
    CALLS.clear()
    rp.reproduce(mode="full", out=tmp_path, experiments=toys, only=["E91"])
    assert CALLS == ["E91"]
    assert rp.cache_key(toys[0], _params("quick")) != rp.cache_key(toys[0], _params("full"))


def test_the_cache_key_depends_on_the_library_source(tmp_path, toys, monkeypatch):
    package = tmp_path / "fakelib"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "kernel.py").write_text("SCALE = 1.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(rp, "_LIBRARY_PACKAGES", ("fakelib",))
    before = rp.cache_key(toys[0], _params("quick"))
    assert package / "kernel.py" in rp.dependency_files(toys[0])
    (package / "kernel.py").write_text("SCALE = 2.0\n")
    assert rp.cache_key(toys[0], _params("quick")) != before


def test_an_experiment_using_the_shared_real_data_setup_depends_on_its_source():
    (e5,) = experiments.registry(["E5"])
    names = {p.name for p in rp.dependency_files(e5)}
    assert {"e5_robustness.py", "_realdata.py", "_common.py", "minimax.py", "experts.py"} <= names
    # E5 no longer reaches E10's module, and the registration plumbing is not data.
    assert "e10_wordfreq.py" not in names and "_base.py" not in names


def test_outputs_are_complete_and_no_temporary_file_is_left(tmp_path, toys):
    assert rp.reproduce(out=tmp_path, experiments=toys) == 0
    assert no_temp_files(tmp_path)
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
    assert no_temp_files(tmp_path) and [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_a_failing_claim_gives_a_nonzero_exit_code(tmp_path, toys):
    failing = Experiment(**{**toys[0].__dict__, "check": lambda d: (False, "computed: no")})
    assert rp.reproduce(out=tmp_path, experiments=[failing, toys[1]]) == 1
    assert "**FAIL**" in (tmp_path / "REPORT.md").read_text()


def test_inner_progress_bars_are_asked_for_only_in_a_serial_run(tmp_path, toys):
    assert rp.reproduce(out=tmp_path, experiments=toys) == 0
    assert SHOWN == [True, True, True]


@pytest.fixture
def extra_modules(tmp_path, monkeypatch):
    """A folder whose ``e<i>_*.py`` files are discovered as experiment modules of the package."""
    folder = tmp_path / "more_experiments"
    folder.mkdir()
    monkeypatch.setattr(experiments, "__path__", [*experiments.__path__, str(folder)])
    yield folder
    for name in [m for m in sys.modules if m.startswith("paper_repro.experiments.e9")]:
        del sys.modules[name]


def test_an_experiment_that_cannot_be_imported_fails_loudly(tmp_path, extra_modules, capsys):
    (extra_modules / "e99_not_written.py").write_text("import a_module_that_does_not_exist\n")
    assert rp.reproduce(out=tmp_path / "out", only=["E99"]) == 1
    report = (tmp_path / "out" / "REPORT.md").read_text()
    assert "cannot import paper_repro.experiments.e99_not_written" in report
    assert "E99" in capsys.readouterr().err


def test_a_module_that_registers_nothing_is_reported(extra_modules):
    (extra_modules / "e98_empty.py").write_text('"""An experiment module left unfinished."""\n')
    (e98,) = experiments.registry(["E98"])
    assert isinstance(e98, Unavailable) and "registers no experiment" in e98.error


# The whole of a new experiment: one file, discovered and ordered by its ID.
_NEW_EXPERIMENT = """
from pathlib import Path

from paper_repro.experiments._base import register


def params(mode):
    return {"n": 3}


def run(p, show_progress=False):
    return {"n": p["n"]}


def plot(data, out_dir):
    return Path(out_dir) / "E97_new.png"


EXPERIMENT = register(
    name="a new experiment",
    claim="T1: a claim written once",
    params=params,
    run=run,
    plot=plot,
    table=lambda d: [d],
    check=lambda d: (True, "ok"),
    setup=lambda p: "",
)
"""


def test_a_new_experiment_is_one_file_registered_under_its_file_name(extra_modules):
    (extra_modules / "e97_new.py").write_text(_NEW_EXPERIMENT)
    loaded = experiments.registry()
    assert [e.id for e in loaded] == [*(f"E{i}" for i in range(1, 12)), "E97"]
    new = loaded[-1]
    assert isinstance(new, Experiment)
    assert (new.stem, new.basename, new.claim) == ("new", "E97_new", "T1: a claim written once")


def test_registering_two_modules_under_one_id_is_an_error():
    from paper_repro.experiments import _base

    (e1,) = experiments.registry(["E1"])

    def run(p, show_progress=False):
        return {}

    run.__module__ = "paper_repro.experiments.e1_other"
    fields = {k: getattr(e1, k) for k in ("name", "claim", "params", "plot", "table", "check")}
    with pytest.raises(ValueError, match="E1 is registered by both"):
        _base.register(**fields, run=run, setup=e1.setup)


def test_unknown_ids_and_modes_are_rejected(tmp_path, toys):
    with pytest.raises(ValueError, match="only: unknown experiment ID.*E42.*valid IDs: E1, E2"):
        rp.reproduce(only=["E42"], out=tmp_path)
    with pytest.raises(ValueError, match="valid IDs: E91, E92, E93"):
        rp.reproduce(only=["E1"], out=tmp_path, experiments=toys)
    with pytest.raises(ValueError, match="mode"):
        rp.reproduce(mode="medium", out=tmp_path)
    with pytest.raises(ValueError, match="jobs"):
        rp.reproduce(jobs=0, out=tmp_path, experiments=toys)
    assert CALLS == []


def test_parallel_jobs_give_the_same_outputs_as_a_serial_run(tmp_path, toys):
    assert rp.reproduce(out=tmp_path / "serial", experiments=toys) == 0
    assert rp.reproduce(out=tmp_path / "parallel", experiments=toys, jobs=2) == 0
    for eid in ("E91", "E92", "E93"):
        a = (tmp_path / "serial" / f"{eid}_toy.csv").read_text()
        b = (tmp_path / "parallel" / f"{eid}_toy.csv").read_text()
        assert a == b
    assert no_temp_files(tmp_path)


def test_every_experiment_module_is_registered_in_id_order():
    loaded = experiments.registry()
    missing = [e for e in loaded if not isinstance(e, Experiment)]
    assert not missing, missing
    assert [e.id for e in loaded] == [f"E{i}" for i in range(1, 12)]
    assert list(experiments.available()) == [e.id for e in loaded]


def test_experiment_modules_do_not_import_the_runner():
    code = (
        "import sys; from paper_repro.experiments import registry; registry(); "
        "print('paper_repro.reproduce' in sys.modules)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "False"


# ----------------------------------------------------------------------------- E5


@pytest.fixture(scope="module")
def e5():
    from paper_repro.experiments import e5_robustness

    p = e5_robustness.params("quick")
    p["synthetic"] |= {"K": 3, "T": 3, "V": 3, "sizes": [300, 200, 100], "resolution": 4}
    p["real"] |= {
        "languages": ["en", "fr"],
        "top_n": 100,
        "max_len": 6,
        "order": 1,
        "m": 2000,
        "resolution": 5,
    }
    return e5_robustness.run(p)


def _kl(p, q) -> float:
    from scipy.special import rel_entr

    return float(rel_entr(p, q).sum())


@pytest.mark.parametrize("setting", ["synthetic", "real"])
def test_E5_grid_values_are_the_mixture_divergences_and_peak_at_a_vertex(e5, setting):
    d = e5[setting]
    K = d["D"].shape[0]
    assert all(any(np.allclose(lam, e) for lam in d["grid"]) for e in np.eye(K))
    for i, q in enumerate(d["models"]):
        for j in (0, len(d["grid"]) // 2, len(d["grid"]) - 1):
            assert d["kl"][i, j] == pytest.approx(
                _kl(d["grid"][j] @ d["D"], q), rel=1e-9, abs=1e-12
            )
        assert d["kl"][i].max() == pytest.approx(max(_kl(row, q) for row in d["D"]), rel=1e-9)


@pytest.mark.parametrize("setting", ["synthetic", "real"])
def test_E5_T10_robust_gate_worst_case_is_below_every_mixture_of_the_experts(e5, setting):
    d = e5[setting]
    D, P = d["D"], d["P"]
    v = d["kl"][d["names"].index("robust gate")].max()
    rng = np.random.default_rng(11)
    for alpha in [*np.eye(P.shape[0]), *rng.dirichlet(np.ones(P.shape[0]), 40)]:
        assert max(_kl(row, alpha @ P) for row in D) >= v - 1e-7


def test_E5_check_fails_when_a_heuristic_mixture_beats_the_robust_gate(e5):
    from paper_repro.experiments import e5_robustness

    passed, measured = e5_robustness.check(e5)
    assert passed, measured
    d = e5["synthetic"]
    kl = d["kl"].copy()
    kl[d["names"].index("uniform mixture")] *= 0.1
    assert not e5_robustness.check(e5 | {"synthetic": d | {"kl": kl}})[0]


def test_parallel_runs_hand_out_the_longest_experiments_first(tmp_path):
    # Longest-processing-time order: by the seconds an earlier run of the same mode
    # recorded, else (full mode) the known long experiments first; the rest keep
    # their order.
    from types import SimpleNamespace as NS

    tasks = [(NS(id=f"E{i}"), None, None) for i in range(1, 12)]
    ids = lambda order: [e.id for e, _, _ in order]  # noqa: E731
    fresh = ids(rp._longest_first(tasks, tmp_path, "full"))
    assert fresh[: len(rp._LONGEST)] == list(rp._LONGEST)
    assert fresh[len(rp._LONGEST) :] == [i for i in ids(tasks) if i not in rp._LONGEST]
    assert ids(rp._longest_first(tasks, tmp_path, "quick")) == ids(tasks)

    seconds = {"E3": 30.0, "E9": 50.0, "E1": 1.0}
    folder = tmp_path / rp.RECORDS_DIR
    folder.mkdir()
    for eid, sec in seconds.items():
        (folder / f"{eid}.json").write_text(
            json.dumps({"id": eid, "mode": "quick", "seconds": sec})
        )
    # another mode, and an unreadable record: neither is used for quick
    (folder / "E5.json").write_text(json.dumps({"id": "E5", "mode": "full", "seconds": 99.0}))
    (folder / "E7.json").write_text("{not json")
    order = ids(rp._longest_first(tasks, tmp_path, "quick"))
    assert order[:3] == ["E9", "E3", "E1"]
    assert order[3:] == [i for i in ids(tasks) if i not in seconds]
