"""``modgate solve``: the robust gate for the user's own matrices, from .npy and .csv files."""

import json
import subprocess
import sys

import numpy as np
import pytest

from paper_repro.cli import main
from theory.gates import mass, model
from theory.minimax import robust_gate
from theory.mixtures import Box, L1Ball


@pytest.fixture
def matrices(tmp_path):
    rng = np.random.default_rng(0)
    D = rng.dirichlet(np.full(30, 0.5), size=3)
    P = 0.6 * rng.dirichlet(np.ones(30), size=3) + 0.4 * D
    P /= P.sum(axis=1, keepdims=True)
    np.save(tmp_path / "D.npy", D)
    np.save(tmp_path / "P.npy", P)
    np.savetxt(tmp_path / "D.csv", D, delimiter=",", fmt="%.17g")
    np.savetxt(tmp_path / "P.csv", P, delimiter=",", fmt="%.17g")
    return tmp_path, D, P


def _solve_json(capsys, *args):
    code = main(["solve", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("ext", ["npy", "csv"])
def test_solve_json_matches_robust_gate(matrices, capsys, ext):
    path, D, P = matrices
    code, out = _solve_json(
        capsys, "--domains", str(path / f"D.{ext}"), "--experts", str(path / f"P.{ext}")
    )
    res = robust_gate(D, P)
    assert code == 0 and out["converged"]
    assert out["value"] == pytest.approx(res.value, abs=1e-9)
    assert out["lower"] <= out["value"] <= out["upper"] and out["gap"] <= 1e-9
    np.testing.assert_allclose(out["lam"], res.lam, atol=1e-6)
    assert out["method"] == "dual" and out["objective"] == "divergence"


def test_solve_with_box_l1_objective_and_cvxpy(matrices, capsys):
    path, D, P = matrices
    files = ["--domains", str(path / "D.npy"), "--experts", str(path / "P.npy")]
    _, box = _solve_json(capsys, *files, "--mixtures", "box:0.2,0.5", "--objective", "regret")
    ref = robust_gate(D, P, Box([0.2] * 3, [0.5] * 3), objective="regret")
    assert box["value"] == pytest.approx(ref.value, abs=1e-9)
    assert all(0.2 - 1e-9 <= x <= 0.5 + 1e-9 for x in box["lam"])
    _, ball = _solve_json(capsys, *files, "--mixtures", "l1:0.5@0.5;0.3;0.2")
    ref = robust_gate(D, P, L1Ball([0.5, 0.3, 0.2], 0.5))
    assert ball["value"] == pytest.approx(ref.value, abs=1e-9)
    _, conic = _solve_json(capsys, *files, "--method", "cvxpy", "--objective", "cross_entropy")
    ref = robust_gate(D, P, objective="cross_entropy")
    assert conic["method"] == "cvxpy"
    assert conic["value"] == pytest.approx(ref.value, abs=1e-7)


def test_solve_saves_a_normalized_gate(matrices, capsys):
    path, D, P = matrices
    out = path / "gate.npy"
    code = main(["solve", "--domains", str(path / "D.npy"), "--experts", str(path / "P.npy"),
                 "--output", str(out)])  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0 and "V* =" in text and "certified" in text and "λ* =" in text
    gate = np.load(out)
    assert gate.shape == D.shape
    assert mass(gate, P) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(model(gate, P), robust_gate(D, P).model, atol=1e-12)


def test_solve_reports_an_infeasible_instance(matrices, capsys):
    path, D, P = matrices
    P = P.copy()
    P[:, 4] = 0.0
    P /= P.sum(axis=1, keepdims=True)
    np.save(path / "P0.npy", P)
    code = main(["solve", "--domains", str(path / "D.npy"), "--experts", str(path / "P0.npy")])
    err = capsys.readouterr().err
    assert code == 2
    assert "domain" in err and "index 4" in err


def test_solve_rejects_bad_files_and_shapes(matrices, capsys):
    path, D, P = matrices
    code = main(["solve", "--domains", str(path / "missing.npy"), "--experts", str(path / "P.npy")])
    assert code == 2 and "--domains" in capsys.readouterr().err
    np.save(path / "P2.npy", P[:2])
    code = main(["solve", "--domains", str(path / "D.npy"), "--experts", str(path / "P2.npy")])
    assert code == 2 and "P" in capsys.readouterr().err
    (path / "D.txt.json").write_text("{}")
    code = main(["solve", "--domains", str(path / "D.txt.json"), "--experts", str(path / "P.npy")])
    assert code == 2 and "--domains" in capsys.readouterr().err


def test_solve_runs_as_a_console_command(matrices):
    path, D, P = matrices
    res = subprocess.run(
        [sys.executable, "-m", "paper_repro", "solve", "--domains", str(path / "D.csv"),
         "--experts", str(path / "P.csv"), "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(res.stdout)["value"] == pytest.approx(robust_gate(D, P).value, abs=1e-9)
