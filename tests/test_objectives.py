"""The objective registry: every solver and the command line resolve ``objective`` through it.

An objective is its offset vector c in L_k(q) = CE(D_k, q) − c_k (setup of the game, T3–T7).
Registering one makes it available everywhere, with no other edit.
"""

import json

import numpy as np
import pytest

from sims.domains import dirichlet_domains, noisy_experts
from sims.primal_dual import stochastic_primal_dual
from tests import reference as ref
from theory import objectives
from theory.minimax import robust_gate
from theory.objectives import Objective


@pytest.fixture
def half_entropy():
    """A toy objective: c_k = H(D_k)/2, so L_k(q) = KL(D_k‖q) + H(D_k)/2."""
    obj = Objective(
        "half_entropy",
        "KL(D_k‖q) + H(D_k)/2",
        lambda D, P: 0.5 * ref.entropy_rows(D),
    )
    objectives.register(obj)
    yield obj
    objectives._REGISTRY.pop("half_entropy")


def _instance():
    D = dirichlet_domains(3, 12, separation=1.0, seed=5)
    return D, noisy_experts(D, noise=0.3, seed=6)


def test_builtin_offsets_match_their_definitions():
    D, P = _instance()
    H = ref.entropy_rows(D)
    np.testing.assert_allclose(objectives.get("divergence").offsets(D, P), H, rtol=1e-12)
    np.testing.assert_array_equal(objectives.get("cross_entropy").offsets(D, P), np.zeros(3))
    regret = [ref.cross_entropy(D[k], P[k]) for k in range(3)]
    np.testing.assert_allclose(objectives.get("regret").offsets(D, P), regret, rtol=1e-12)


def test_a_registered_objective_works_in_the_solver_the_primal_dual_and_the_cli(
    half_entropy, tmp_path, capsys
):
    from paper_repro.cli import main

    D, P = _instance()
    c = 0.5 * ref.entropy_rows(D)
    res = robust_gate(D, P, objective="half_entropy")
    custom = robust_gate(D, P, objective=c)
    assert res.objective == "half_entropy" and custom.objective == "custom"
    assert res.value == pytest.approx(custom.value, abs=1e-9)
    # Shifting c by a constant shifts V* by minus that constant, on the same gate (T3).
    div = robust_gate(D, P, objective="divergence")
    shifted = robust_gate(D, P, objective=c - 0.25)
    assert shifted.value == pytest.approx(custom.value + 0.25, abs=1e-9)
    assert res.value >= div.value

    spd = stochastic_primal_dual(D, P, objective="half_entropy", steps=300, reference=False)
    assert spd.objective == "half_entropy"
    assert spd.worst_case >= res.lower - 1e-9

    np.save(tmp_path / "D.npy", D)
    np.save(tmp_path / "P.npy", P)
    args = ["solve", "--domains", str(tmp_path / "D.npy"), "--experts", str(tmp_path / "P.npy")]
    assert main([*args, "--objective", "half_entropy", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["objective"] == "half_entropy"
    assert out["value"] == pytest.approx(res.value, abs=1e-9)
    spec = "offsets:" + ";".join(repr(float(v)) for v in c)
    assert main([*args, "--objective", spec, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["value"] == pytest.approx(res.value, abs=1e-9)


def test_custom_offsets_are_sample_free_in_the_primal_dual_algorithm():
    D, P = _instance()
    c = np.array([0.1, 0.2, 0.3])
    spd = stochastic_primal_dual(D, P, objective=c, steps=200, reference=False)
    exact = robust_gate(D, P, objective=c)
    assert spd.worst_case >= exact.lower - 1e-9


@pytest.mark.parametrize(
    ("objective", "match"),
    [
        ("hinge", "^objective: expected one of"),
        ([0.1, 0.2], "^objective: the offset vector has length 2"),
        ([0.1, np.nan, 0.3], "^objective: an offset vector must be a finite"),
        ([[0.1, 0.2, 0.3]], "^objective: an offset vector must be a finite non-empty 1-D"),
        (None, "^objective: expected one of"),
    ],
)
def test_bad_objectives_name_the_argument(objective, match):
    D, P = _instance()
    with pytest.raises(ValueError, match=match):
        robust_gate(D, P, objective=objective)


def test_regret_needs_finite_own_expert_losses_and_names_P():
    D = np.array([[0.5, 0.5], [0.5, 0.5]])
    P = np.array([[1.0, 0.0], [0.5, 0.5]])
    with pytest.raises(ValueError, match=r"^P: the 'regret' objective needs KL"):
        robust_gate(D, P, objective="regret")
    with pytest.raises(ValueError, match="^P: the 'regret' objective needs the experts"):
        objectives.losses([0.5, 0.5], D, None, "regret")


def test_registering_twice_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        objectives.register(objectives.get("divergence"))
