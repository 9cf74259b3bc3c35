"""The kernel warm-up: it compiles what the experiments use, and the runner announces it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

import paper_repro.reproduce as rp
import paper_repro.warmup as warmup
from tests.test_reproduce import toy_set


@pytest.fixture
def toys(monkeypatch):
    yield from toy_set(monkeypatch)


# In a fresh process: warm up, then run experiments and list every numba kernel
# version (argument types) they needed that the warm-up had not compiled.
_PROBE = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys
    from numba.core.dispatcher import Dispatcher

    def kernels():
        found = {}
        for package in ("theory", "sims"):
            for m in pkgutil.iter_modules(importlib.import_module(package).__path__):
                module = importlib.import_module(f"{package}.{m.name}")
                for name, value in vars(module).items():
                    if isinstance(value, Dispatcher) and value.py_func.__module__ == module.__name__:
                        found[f"{module.__name__}.{name}"] = value
        return found

    def versions(found):
        return {name: {str(s) for s in k.signatures} for name, k in found.items()}

    from paper_repro.warmup import warm_up
    from paper_repro.experiments import registry

    found = kernels()
    warm_up()
    warmed = versions(found)
    experiments = {e.id: e for e in registry(sys.argv[1].split(","))}
    for eid, e in experiments.items():
        p = e.params("quick")
        if eid == "E5":
            p["synthetic"] |= {"sizes": [300, 200, 100, 50], "resolution": 3}
            p["real"] |= {"top_n": 100, "max_len": 6, "m": 2000, "resolution": 2}
        if eid == "E9":
            p |= {"Ks": [2], "top_n": 60, "m": 2000, "samples": 500, "timing_repeats": 1}
        if eid == "E10":
            p |= {"top_n": 100, "max_len": 6, "m": 2000, "spd_steps": 20, "distill_max_iter": 20}
        e.run(p)
    after = versions(found)
    print(json.dumps({
        "kernels": sorted(found),
        "warmed": sorted(n for n, v in warmed.items() if v),
        "missed": {n: sorted(after[n] - warmed[n]) for n in found if after[n] - warmed[n]},
    }))
    """
)


def _probe(ids: str) -> dict:
    res = subprocess.run(
        [sys.executable, "-c", _PROBE, ids], capture_output=True, text=True, timeout=900
    )
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_the_warm_up_compiles_every_kernel_version_the_experiments_use():
    found = _probe("E1,E2,E3,E4,E5,E9,E10")
    assert found["missed"] == {}
    # Kernels of every compiled module are reached (callees are compiled inside their callers).
    modules = {name.rsplit(".", 1)[0] for name in found["warmed"]}
    assert {name.rsplit(".", 1)[0] for name in found["kernels"]} <= modules


@pytest.mark.slow
def test_the_warm_up_covers_the_full_quick_run():
    assert _probe(",".join(f"E{i}" for i in range(1, 12)))["missed"] == {}


def test_a_slow_warm_up_is_announced_before_the_experiments(tmp_path, toys, monkeypatch, capsys):
    calls = []

    def slow():
        calls.append("warm")
        time.sleep(1.3)

    monkeypatch.setattr(warmup, "warm_up_theory", slow)
    assert rp.reproduce(out=tmp_path, experiments=toys, warm_up=True) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "compiling kernels (first run only)…"
    assert lines[1].startswith("kernels ready in ") and lines[1].endswith(" s")
    assert lines[2].startswith("E91 ")
    assert calls == ["warm"]

    # Nothing left to compute: no warm-up at all.
    assert rp.reproduce(out=tmp_path, experiments=toys, warm_up=True) == 0
    assert calls == ["warm"]


def test_a_fast_warm_up_is_silent(tmp_path, toys, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(warmup, "warm_up_theory", lambda: calls.append("warm"))
    assert rp.reproduce(out=tmp_path, experiments=toys, warm_up=True) == 0
    assert calls == ["warm"]
    assert "kernels" not in capsys.readouterr().out


def test_toy_runs_skip_the_warm_up_by_default(tmp_path, toys, monkeypatch):
    for name in ("warm_up", "warm_up_theory", "warm_up_primal_dual", "warm_up_distillation"):
        monkeypatch.setattr(warmup, name, lambda: pytest.fail("warmed up for toys"))
    assert rp.reproduce(out=tmp_path, experiments=toys) == 0


def test_only_the_distillation_experiments_wait_for_the_background_compilation():
    from paper_repro.experiments import registry

    uses = {e.id: rp._uses(e, "sims.distill") for e in registry(None)}
    assert {i for i, used in uses.items() if used} == {"E9", "E10"}


def test_only_the_primal_dual_experiments_wait_for_its_background_compilation():
    from paper_repro.experiments import registry

    uses = {e.id: rp._uses(e, "sims.primal_dual") for e in registry(None)}
    assert {i for i, used in uses.items() if used} == {"E6", "E10"}
    assert set(rp._BACKGROUND) == {"sims.primal_dual", "sims.distill"}


def test_a_quick_run_compiles_the_later_kernels_in_the_background(tmp_path, toys, monkeypatch):
    # Toys that use sims.primal_dual and sims.distill after a first one that uses
    # neither: one background process compiles both, in the order of their first
    # users, and each is waited for before its first user; nothing is compiled for
    # them in the foreground.
    started, waited, order = [], [], []

    class Probe:
        def __init__(self, targets):
            started.append(list(targets))

        def wait(self, target=None):
            waited.append(target)

        def stop(self):
            pass

    users = {"E92": {"sims.distill"}, "E93": {"sims.primal_dual"}}
    monkeypatch.setattr(rp, "_BackgroundWarmUp", Probe)
    monkeypatch.setattr(rp, "_uses", lambda e, module: module in users.get(e.id, set()))
    monkeypatch.setattr(warmup, "warm_up_theory", lambda: None)
    for name in ("warm_up_primal_dual", "warm_up_distillation"):
        monkeypatch.setattr(warmup, name, lambda: pytest.fail("compiled in the foreground"))
    run = rp._compute

    def compute(exp, *args, **kwargs):
        order.append((exp.id, list(waited)))
        return run(exp, *args, **kwargs)

    monkeypatch.setattr(rp, "_compute", compute)
    assert rp.reproduce(out=tmp_path, experiments=toys, warm_up=True) == 0
    assert started == [["warm_up_distillation", "warm_up_primal_dual"]]
    seen = dict(order)
    assert seen["E92"] == ["warm_up_distillation"]
    assert seen["E93"] == ["warm_up_distillation", "warm_up_primal_dual"]


def test_the_background_process_reports_each_warm_up_as_it_finishes():
    # Waiting for the first warm-up returns while the process still has the
    # second to do; waiting for all of them returns when it has ended.
    b = rp._BackgroundWarmUp(["warm_up_theory", "warm_up_distillation"])
    try:
        b.wait("warm_up_theory")
        assert b._done == {"warm_up_theory"}
        b.wait()
        assert b._done == {"warm_up_theory", "warm_up_distillation"}
        assert b.process.returncode == 0
    finally:
        b.stop()


def test_the_background_warm_up_fills_the_cache_a_new_process_then_loads(tmp_path):
    # A fresh numba cache: the background process compiles the distillation
    # kernels into it; a second process then finds every one of them there.
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    code = (
        "import paper_repro.reproduce as rp; b = rp._BackgroundWarmUp(); b.wait(); "
        "print(b.process.returncode)"
    )
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.stdout.strip() == "0", run.stderr
    cached = {p.name.split(".")[0] for p in tmp_path.rglob("*.nbi")}
    assert any(name.startswith("distill") for name in cached), sorted(cached)
