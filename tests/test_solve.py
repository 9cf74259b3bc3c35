"""``modgate solve``: the robust gate for the user's own matrices, from .npy and .csv files."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from paper_repro.cli import EXIT_ERROR, main
from tests import reference as ref
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
    assert code == 0 and "V* =" in text and "certified" in text and "λ*" in text
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


def _files(path, D="D.npy", P="P.npy"):
    return ["--domains", str(path / D), "--experts", str(path / P)]


def test_solve_prints_units_convergence_and_the_domains(matrices, capsys):
    path, D, P = matrices
    code = main(["solve", *_files(path), "--labels", "news,code,chat"])
    text = capsys.readouterr().out
    res = robust_gate(D, P)
    assert code == 0
    headline = re.search(r"V\* = (\S+) nats", text)
    assert headline and float(headline.group(1)) == pytest.approx(res.value, abs=1e-9)
    assert "converged   yes, after" in text and "objective   divergence (L_k = KL(D_k‖q))" in text
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines()[-3:]}
    assert list(rows) == ["news", "code", "chat"]
    for k, name in enumerate(rows):
        assert float(rows[name][0]) == pytest.approx(res.lam[k], abs=1e-6)
        assert float(rows[name][1]) == pytest.approx(res.per_domain[k], abs=1e-6)


def test_solve_json_has_the_gate_the_model_and_the_labels(matrices, capsys):
    path, D, P = matrices
    code, out = _solve_json(capsys, *_files(path), "--labels", "a,b,c")
    assert code == 0 and out["units"] == "nats" and out["labels"] == ["a", "b", "c"]
    gate, q = np.array(out["gate"]), np.array(out["model"])
    assert gate.shape == D.shape and q.shape == (D.shape[1],)
    np.testing.assert_allclose(model(gate, P), q, atol=1e-12)
    np.testing.assert_allclose(q, robust_gate(D, P).model, atol=1e-12)
    # Certified upper bound = worst case of the printed model, from its own numbers.
    assert out["upper"] == pytest.approx(ref.kl_rows(D, q).max(), abs=1e-12)
    assert out["gap"] == pytest.approx(out["upper"] - out["lower"], abs=0)


def test_solve_compare_scores_the_baselines_against_the_robust_gate(matrices, capsys):
    path, D, P = matrices
    code, out = _solve_json(capsys, *_files(path), "--compare")
    records = {r["name"]: r for r in out["compare"]}
    K = D.shape[0]
    assert code == 0
    assert list(records) == [
        "uniform",
        *(f"expert {k + 1}" for k in range(K)),
        "aggregate",
        "robust",
    ]
    expected = {"uniform": P.mean(axis=0), "aggregate": D.mean(axis=0)}
    expected |= {f"expert {k + 1}": P[k] for k in range(K)}
    for name, q in expected.items():
        kls = ref.kl_rows(D, q)
        assert records[name]["worst_case"] == pytest.approx(kls.max(), rel=1e-12)
        assert records[name]["margin"] == pytest.approx(kls.max() - out["value"], abs=1e-9)
        np.testing.assert_allclose(records[name]["per_domain"], kls, rtol=1e-12)
        assert records[name]["lam"] == np.eye(K)[np.argmax(kls)].tolist()
    assert records["robust"]["margin"] == pytest.approx(0.0, abs=1e-9)
    # T10: every mixture of the experts is at least as bad as the robust gate.
    assert all(r["margin"] >= -1e-9 for r in records.values() if r["in_envelope"])

    main(["solve", *_files(path), "--compare"])
    text = capsys.readouterr().out
    assert "margin to V*" in text
    for name in records:
        assert any(line.startswith(name + " ") for line in text.splitlines()), name


def test_solve_with_a_per_domain_box(matrices, capsys):
    path, D, P = matrices
    lo, hi = [0.1, 0.2, 0.1], [0.6, 0.5, 0.7]
    ref_value = robust_gate(D, P, Box(lo, hi)).value
    for spec in ("box:0.1;0.2;0.1,0.6;0.5;0.7", "box:0.1;0.2;0.1/0.6;0.5;0.7"):
        code, out = _solve_json(capsys, *_files(path), "--mixtures", spec)
        assert code == 0 and out["value"] == pytest.approx(ref_value, abs=1e-9)
        assert out["mixtures"] == repr(Box(lo, hi))
        assert all(a - 1e-9 <= x <= b + 1e-9 for a, x, b in zip(lo, out["lam"], hi, strict=True))


def test_solve_json_stays_strict_with_an_infinite_loss(matrices, capsys):
    path, D, P = matrices
    P = P.copy()
    i = int(np.argmax(D[1]))
    P[0, i] = 0.0  # expert 1 misses a point of domain 2; the other experts cover it
    P[0] /= P[0].sum()
    np.save(path / "P1.npy", P)
    code = main(["solve", *_files(path, P="P1.npy"), "--compare", "--json"])
    text = capsys.readouterr().out

    def refuse(constant):
        raise AssertionError(f"non-standard JSON constant {constant}")

    out = json.loads(text, parse_constant=refuse)
    assert code == 0
    expert = next(r for r in out["compare"] if r["name"] == "expert 1")
    assert expert["worst_case"] == "inf" and expert["margin"] == "inf"


def test_solve_rejects_labels_of_the_wrong_number(matrices, capsys):
    path, D, P = matrices
    code = main(["solve", *_files(path), "--labels", "a,b"])
    err = capsys.readouterr().err
    assert code == EXIT_ERROR and err.startswith("modgate solve: error: --labels:")
