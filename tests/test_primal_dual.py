"""T12: the stochastic primal-dual algorithm against the exact dual solver (V*) and the
deterministic class optimum; averaging, determinism, sampling and input validation."""

import numpy as np
import pytest

from paper_repro.checks.t11_t12_learning import _PlainGate
from sims import _spd_kernels
from sims.domains import dirichlet_domains, noisy_experts
from sims.primal_dual import (
    SoftmaxLinearGate,
    TabularGate,
    _RowSampler,
    exact_payoffs,
    loglik_features,
    softmax_linear_optimum,
    stochastic_primal_dual,
)
from tests import reference as ref
from theory.minimax import dual_function, robust_gate
from theory.mixtures import Box, L1Ball, Simplex


def _instance(seed, separation=1.0, noise=0.3, K=3, n=20):
    D = dirichlet_domains(K, n, separation, seed=seed)
    return D, noisy_experts(D, noise, seed=seed + 1000)


@pytest.mark.parametrize(
    ("seed", "separation", "noise"), [(11, 0.5, 0.3), (12, 2.0, 0.1), (13, 3.0, 0.6)]
)
def test_T12_tabular_gate_default_settings_reach_V_star(seed, separation, noise):
    D, P = _instance(seed, separation, noise)
    V = robust_gate(D, P, objective="regret").value
    r = stochastic_primal_dual(D, P, seed=seed, reference=False)
    assert abs(r.worst_case - V) <= 0.01
    assert abs(r.mass - 1.0) <= 0.01
    # The reported worst case is the exact one of the returned (renormalized) model.
    payoffs = ref_payoffs(D, P, r.model)
    assert r.worst_case == pytest.approx(payoffs.max(), abs=1e-12)
    # d(λ̄) is a certified lower bound on V* (T5).
    assert r.lower <= V + 1e-9
    assert r.lower == pytest.approx(dual_function(D, P, r.lam, objective="regret")[0], abs=1e-12)


def ref_payoffs(D, P, q):
    """Regret payoffs KL(D_k‖q) − KL(D_k‖p_k) from scipy's conventions."""
    return np.array(
        [ref.cross_entropy(D[k], q) - ref.cross_entropy(D[k], P[k]) for k in range(len(D))]
    )


@pytest.mark.parametrize("mixtures", [L1Ball([0.5, 0.3, 0.2], 0.4), Box([0.1] * 3, [0.6] * 3)])
def test_T12_tabular_gate_reaches_V_star_on_restricted_mixture_sets(mixtures):
    D, P = _instance(21)
    V = robust_gate(D, P, mixtures=mixtures, objective="regret").value
    r = stochastic_primal_dual(D, P, mixtures=mixtures, seed=1, reference=False)
    assert abs(r.worst_case - V) <= 0.01
    assert mixtures.contains(r.lam)


@pytest.mark.parametrize("seed", [31, 32])
def test_T12_loglik_gate_reaches_the_best_value_of_its_class(seed):
    D, P = _instance(seed)
    best = softmax_linear_optimum(D, P, objective="regret")
    r = stochastic_primal_dual(D, P, gate="loglik", seed=seed)
    # The class optimum re-evaluated here from its W alone: the gate softmax(Wφ) on the
    # features written out from their definition, its mass and its regrets by scipy's
    # conventions (tests.reference), not the solver's own losses.
    logP = np.log(P)
    centred = logP - logP.mean(axis=0)
    phi = np.hstack([(centred / np.sqrt((centred**2).sum(axis=0)).max()).T, np.ones((20, 1))])
    U = best.W.reshape(3, -1) @ (phi / np.sqrt(2.0)).T
    G = np.exp(U - U.max(axis=0))
    G /= G.sum(axis=0)
    pg = (G * P).sum(axis=0)
    assert pg.sum() == pytest.approx(1.0, abs=1e-6)
    assert np.linalg.norm(best.W) <= 10.0 + 1e-9
    independent = ref_payoffs(D, P, pg).max()
    assert best.constrained == pytest.approx(independent, abs=1e-9)
    assert r.reference == pytest.approx(independent, abs=1e-9)
    assert abs(r.worst_case - best.constrained) <= 0.01
    # The renormalized payoff of any member of the class is at least `renormalized`.
    assert r.worst_case >= best.renormalized - 1e-9


def test_T12_class_optimum_lies_between_V_star_and_the_uniform_constant_gate():
    D, P = _instance(41)
    V = robust_gate(D, P, objective="regret").value
    best = softmax_linear_optimum(D, P, objective="regret")
    uniform = ref_payoffs(D, P, P.mean(axis=0)).max()  # W = 0 is in the class
    assert V - 1e-7 <= best.constrained <= uniform + 1e-9
    assert best.renormalized <= best.constrained + 1e-12
    assert np.linalg.norm(best.W) <= 10.0 + 1e-9
    G = SoftmaxLinearGate(3, "loglik", P)
    G.W = best.W
    gate = G.table()
    assert (gate * P).sum() == pytest.approx(1.0, abs=1e-6)
    assert ref_payoffs(D, P, (gate * P).sum(axis=0)).max() == pytest.approx(
        best.constrained, abs=1e-6
    )


def test_T12_runs_are_deterministic_given_the_seed():
    D, P = _instance(51)
    a = stochastic_primal_dual(D, P, steps=300, seed=7, reference=False)
    b = stochastic_primal_dual(D, P, steps=300, seed=7, reference=False)
    c = stochastic_primal_dual(D, P, steps=300, seed=8, reference=False)
    np.testing.assert_array_equal(a.gate, b.gate)
    np.testing.assert_array_equal(a.history.worst_case, b.history.worst_case)
    assert a.worst_case == b.worst_case and a.mu == b.mu
    assert not np.array_equal(a.gate, c.gate)


def test_T12_history_is_plot_ready_on_geometric_checkpoints():
    D, P = _instance(52)
    r = stochastic_primal_dual(D, P, steps=1000, seed=0, reference=False)
    h = r.history
    assert h.step[0] == 1 and h.step[-1] == 1000 and np.all(np.diff(h.step) > 0)
    assert 20 <= len(h.step) <= 41
    assert h.lam.shape == (len(h.step), 3) and h.avg_mass.shape == h.step.shape
    assert h.worst_case[-1] == pytest.approx(r.worst_case, abs=1e-12)
    assert h.avg_mass[-1] == pytest.approx(r.mass, abs=1e-12)
    every = stochastic_primal_dual(D, P, steps=1000, eval_every=250, seed=0, reference=False)
    np.testing.assert_array_equal(every.history.step, [250, 500, 750, 1000])


def test_T12_tabular_gate_lazy_average_equals_the_explicit_average():
    rng = np.random.default_rng(0)
    gate = TabularGate(3, 15)
    tables = []
    for _ in range(60):
        idx = rng.integers(0, 15, size=rng.integers(1, 8))
        gate.descend(idx, rng.normal(size=(3, idx.size)), lr=0.7)
        tables.append(gate.table())
    np.testing.assert_allclose(gate.table(average=True), np.mean(tables, axis=0), atol=1e-12)
    np.testing.assert_allclose(gate.table().sum(axis=0), 1.0, atol=1e-12)


def test_T12_row_sampler_draws_each_row_with_its_law_and_never_off_support():
    A = np.array([[0.5, 0.0, 0.25, 0.25, 0.0], [0.0, 0.0, 0.0, 0.1, 0.9]])
    draws = _RowSampler(A).draw(np.random.default_rng(3), 40000)
    for k in range(2):
        freq = np.bincount(draws[k], minlength=5) / 40000
        assert np.all(freq[A[k] == 0] == 0)
        se = np.sqrt(A[k] * (1 - A[k]) / 40000)
        assert np.all(np.abs(freq - A[k]) <= 5 * se + 1e-12)


def test_T12_loglik_features_have_norm_at_most_one_and_a_constant_coordinate():
    _, P = _instance(61)
    Phi, R = loglik_features(P)
    assert R == 1.0 and Phi.shape == (20, 4)
    assert np.sqrt((Phi**2).sum(axis=1)).max() <= 1.0 + 1e-12
    np.testing.assert_allclose(Phi[:, -1], 1 / np.sqrt(2))


@pytest.mark.parametrize("objective", ["regret", "cross_entropy", "divergence"])
def test_T12_exact_payoffs_match_scipy_conventions(objective):
    D, P = _instance(71)
    q = P.mean(axis=0)
    offsets = {
        "regret": [ref.cross_entropy(D[k], P[k]) for k in range(3)],
        "cross_entropy": [0.0] * 3,
        "divergence": [ref.entropy(D[k]) for k in range(3)],
    }[objective]
    expected = np.array([ref.cross_entropy(D[k], q) for k in range(3)]) - offsets
    np.testing.assert_allclose(exact_payoffs(D, P, q, objective), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"gate": "forest"}, "gate"),
        ({"gate": object()}, "gate"),
        ({"gate": TabularGate(3, 7)}, "gate"),
        ({"steps": 0}, "steps"),
        ({"batch": 1.5}, "batch"),
        ({"mixtures": Simplex(2)}, "mixtures"),
        ({"objective": "hinge"}, "objective"),
        ({"lr": (-1.0, 1.0, 1.0)}, r"lr\[0\]"),
        ({"eval_every": 0}, "eval_every"),
        ({"P": np.full((3, 5), 0.2)}, "P"),
    ],
)
def test_T12_rejects_bad_input_naming_the_argument(kwargs, name):
    D, P = _instance(81)
    args = {"D": D, "P": P, "steps": 5} | kwargs
    with pytest.raises(ValueError, match=rf"^{name}:"):
        stochastic_primal_dual(**args)


def test_T12_rejects_infinite_objectives_naming_the_domain():
    D = np.array([[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]])
    P = np.array([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0]])
    with pytest.raises(ValueError, match=r"^D: infinite objective, domain D_2 \(row 1\)"):
        stochastic_primal_dual(D, P, steps=5)
    # Finite V* but an infinite regret offset: expert 1 misses x = 2, expert 0 covers it.
    P = np.array([[0.4, 0.3, 0.3], [0.5, 0.5, 0.0]])
    with pytest.raises(ValueError, match=r"^P: the 'regret' objective"):
        stochastic_primal_dual(D, P, steps=5)


@pytest.mark.slow
def test_T12_excess_over_V_star_decays_at_least_like_one_over_root_T():
    D, P = _instance(91)
    r = stochastic_primal_dual(D, P, steps=50_000, seed=0)
    late = r.history.step >= 100
    excess = np.abs(r.history.worst_case[late] - r.reference)
    slope = np.polyfit(np.log(r.history.step[late]), np.log(excess), 1)[0]
    assert slope <= -0.4


@pytest.mark.parametrize("renormalize", [False, True])
def test_class_loss_gradients_match_central_differences(renormalize):
    from scipy.special import softmax

    from sims.primal_dual import _class_losses, loglik_features

    rng = np.random.default_rng(3)
    K, n = 3, 40
    D = rng.dirichlet(np.ones(n), size=K)
    P = rng.dirichlet(np.ones(n), size=K)
    Phi = loglik_features(P)[0]
    c = rng.normal(size=K)
    W = rng.normal(size=K * Phi.shape[1])

    def losses(w):
        # the losses written from their definition, independently of the module
        G = softmax(w.reshape(K, -1) @ Phi.T, axis=0)
        pg = (G * P).sum(axis=0)
        q = pg / pg.sum() if renormalize else pg
        return -(D * np.log(q)).sum(axis=1) - c

    L, grad = _class_losses(W, Phi, D, P, c, renormalize)
    np.testing.assert_allclose(L, losses(W), rtol=1e-12)
    h = 1e-6
    numeric = np.stack(
        [(losses(W + h * e) - losses(W - h * e)) / (2 * h) for e in np.eye(W.size)], axis=1
    )
    np.testing.assert_allclose(grad.reshape(K, -1), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("objective", ["regret", "cross_entropy", "divergence"])
@pytest.mark.parametrize("kind", ["tabular", "loglik"])
def test_T12_compiled_steps_take_the_python_loops_steps(kind, objective):
    # The compiled runner (built-in gates on the simplex) against the Python loop
    # (the same gate behind a wrapper), from the same seed: the same draws and
    # steps, so the same run up to rounding, at every checkpoint. With the
    # "divergence" objective a large step on λ drives it onto its floor 1e-6/K;
    # such steps also magnify rounding (the Python loop's projection onto Δ_K
    # moves λ by up to 1 ulp), hence the looser tolerance there.
    D, P = _instance(61, n=12)
    lr = (1.0, 30.0, 1.0) if objective == "divergence" else None
    tol = 1e-11 if lr is None else 1e-8

    def make():
        return TabularGate(3, 12) if kind == "tabular" else SoftmaxLinearGate(3, "loglik", P)

    runs = [
        stochastic_primal_dual(
            D, P, objective=objective, gate=g, steps=700, batch=5, seed=3, lr=lr, reference=False
        )
        for g in (make(), _PlainGate(make()))
    ]
    fast, slow = runs
    np.testing.assert_allclose(fast.gate, slow.gate, rtol=0, atol=tol)
    np.testing.assert_allclose(fast.lam, slow.lam, rtol=0, atol=tol)
    np.testing.assert_allclose(fast.history.lam, slow.history.lam, rtol=0, atol=tol)
    np.testing.assert_allclose(fast.history.mu, slow.history.mu, rtol=0, atol=tol)
    np.testing.assert_allclose(fast.history.worst_case, slow.history.worst_case, atol=tol)
    np.testing.assert_array_equal(fast.history.step, slow.history.step)
    assert fast.mu == pytest.approx(slow.mu, abs=1e-11)
    # Not a trivial agreement: the run moved away from its uniform start, and the
    # compiled kernel of this gate did run.
    assert np.ptp(fast.gate) > 0.05
    kernel = _spd_kernels.tabular_steps if kind == "tabular" else _spd_kernels.linear_steps
    assert kernel.signatures
    if lr is not None:
        assert fast.history.lam.min() < 1e-6


def test_T12_compiled_steps_only_for_built_in_gates_objectives_and_the_simplex():
    from sims.primal_dual import _compiled_steps
    from theory.objectives import Objective
    from theory.objectives import get as get_objective

    D, P = _instance(62, n=6)
    parts = (_RowSampler(D), _RowSampler(P), P, np.log(P), np.zeros(3), (1.0, 1.0, 1.0))
    regret = get_objective("regret")
    assert callable(_compiled_steps(TabularGate(3, 6), regret, Simplex(3), *parts))
    assert callable(_compiled_steps(SoftmaxLinearGate(3, "loglik", P), regret, Simplex(3), *parts))
    # Another Λ needs its projection, a subclass may change a step, and an objective
    # with its own estimate must be called: all three run in Python.
    box = Box(lo=[0.1, 0.1, 0.1], hi=[0.8, 0.8, 0.8])
    assert _compiled_steps(TabularGate(3, 6), regret, box, *parts) is None

    class Tweaked(TabularGate):
        pass

    assert _compiled_steps(Tweaked(3, 6), regret, Simplex(3), *parts) is None
    own = Objective("half", "CE/2", regret.offsets, estimate=lambda a: a.mean(axis=1) / 2)
    assert _compiled_steps(TabularGate(3, 6), own, Simplex(3), *parts) is None
