"""Scoring any model over Λ and comparing models against the robust gate (T5, T6, T10).

References used here: E5's own computation of the worst cases (a grid of λ and
scipy-free ``kl_rows``), scipy's ``rel_entr`` through tests/reference.py, brute
force over the vertices of a Box, and Blahut–Arimoto for the capacity.
"""

import csv
import io
import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paper_repro.experiments import e5_robustness as e5
from tests import reference as ref
from theory.capacity import blahut_arimoto
from theory.evaluate import ComparisonTable, compare, worst_case
from theory.mixtures import Box, L1Ball
from theory.validation import ArgumentTypeError


def _instance(seed=0, K=3, n=12):
    rng = np.random.default_rng(seed)
    D = rng.dirichlet(np.full(n, 0.7), size=K)
    P = 0.5 * D + 0.5 * rng.dirichlet(np.ones(n), size=K)
    return D, P / P.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def e5_synthetic():
    p = e5.params("quick")["synthetic"]
    D, P, others, weights = e5._synthetic_models(p)
    return D, P, others, e5._evaluate(D, P, others, weights, p["resolution"])


def test_compare_reproduces_the_E5_margins(e5_synthetic):
    D, P, others, data = e5_synthetic
    worst = data["kl"].max(axis=1)
    names = data["names"]
    e5_margin = {n: worst[i] - worst[names.index(e5.ROBUST)] for i, n in enumerate(names)}

    table = compare(["uniform", "experts", "robust", others], D, P)
    assert table.converged and table.gap <= 1e-9
    mine = {r["name"]: r["margin"] for r in table}
    assert mine["uniform"] == pytest.approx(e5_margin[e5.UNIFORM], abs=1e-9)
    assert mine["robust"] == pytest.approx(e5_margin[e5.ROBUST], abs=1e-9)
    experts = [mine[f"expert {k + 1}"] for k in range(D.shape[0])]
    assert int(np.argmin(experts)) == data["best_expert"]
    assert min(experts) == pytest.approx(e5_margin[e5.BEST], abs=1e-9)
    for name in others:
        assert mine[name] == pytest.approx(e5_margin[name], abs=1e-9), name
    inside = dict(zip(names, data["in_envelope"], strict=True))
    assert table["uniform"]["in_envelope"] == inside[e5.UNIFORM]
    for name in others:
        assert table[name]["in_envelope"] == inside[name], name


def test_worst_case_on_the_simplex_is_the_largest_divergence():
    D, P = _instance(1, K=4, n=20)
    q = P.mean(axis=0)
    value, lam = worst_case(q, D)
    kls = ref.kl_rows(D, q)
    assert value == pytest.approx(kls.max(), rel=1e-12)
    np.testing.assert_array_equal(lam, np.eye(4)[np.argmax(kls)])


@given(st.integers(0, 10_000))
@settings(max_examples=25)
def test_worst_case_over_a_box_is_the_best_vertex(seed):
    rng = np.random.default_rng(seed)
    D, P = _instance(seed, K=3, n=8)
    lo = rng.uniform(0.0, 0.3, 3)
    box = Box(lo, np.minimum(1.0, lo + rng.uniform(0.4, 0.8, 3)))
    q = rng.dirichlet(np.ones(8))
    for objective in ("divergence", "cross_entropy", "regret"):
        offsets = {
            "divergence": ref.entropy_rows(D),
            "cross_entropy": np.zeros(3),
            "regret": np.array([ref.cross_entropy(D[k], P[k]) for k in range(3)]),
        }[objective]
        L = ref.cross_entropy_rows(D, q) - offsets
        brute = max(float(v @ L) for v in box.vertices())
        value, lam = worst_case(q, D, box, objective, P=P)
        assert value == pytest.approx(brute, rel=1e-10, abs=1e-12)
        assert box.contains(lam) and float(lam @ L) == pytest.approx(value, rel=1e-10, abs=1e-12)


def test_perfect_experts_make_the_robust_value_the_capacity():
    D, _ = _instance(2, K=4, n=15)
    capacity = blahut_arimoto(D).capacity
    with_experts = compare(["robust", "uniform"], D, D)
    without = compare({"any model": D.mean(axis=0)}, D)
    assert with_experts.value == pytest.approx(capacity, abs=1e-8)
    assert without.value == pytest.approx(capacity, abs=1e-8)
    assert without.reference.startswith("best model")
    # The uniform mixture of perfect experts is D_{1/K}: its worst case is max_k KL(D_k‖D̄).
    assert with_experts["uniform"]["worst_case"] == pytest.approx(
        ref.kl_rows(D, D.mean(axis=0)).max(), rel=1e-12
    )


def test_a_model_equal_to_a_domain_has_zero_loss_there():
    D, P = _instance(3)
    table = compare({"D_2 itself": D[1]}, D, P)
    losses = table["D_2 itself"]["per_domain"]
    assert losses[1] == pytest.approx(0.0, abs=1e-14)
    np.testing.assert_allclose(losses, ref.kl_rows(D, D[1]), rtol=1e-12)
    ce = compare({"D_2 itself": D[1]}, D, P, objective="cross_entropy")
    assert ce["D_2 itself"]["per_domain"][1] == pytest.approx(ref.entropy(D[1]), rel=1e-12)


def test_builtin_models_are_the_named_mixtures():
    D, P = _instance(4)
    sizes = [100, 300, 600]
    table = compare(
        ["uniform", "proportional", "expert 2", "aggregate", "robust"], D, P, sizes=sizes
    )
    alpha = np.array(sizes) / 1000
    expected = {
        "uniform": P.mean(axis=0),
        "proportional": alpha @ P,
        "expert 2": P[1],
        "aggregate": D.mean(axis=0),
    }
    for name, q in expected.items():
        np.testing.assert_allclose(table[name]["per_domain"], ref.kl_rows(D, q), rtol=1e-12)
    assert table["aggregate"]["in_envelope"] is not None
    assert table["robust"]["margin"] == pytest.approx(0.0, abs=1e-9)
    assert table["robust"]["worst_case"] == pytest.approx(table.upper, abs=1e-12)


@given(st.integers(0, 10_000))
@settings(max_examples=20)
def test_T10_every_mixture_of_the_experts_has_a_nonnegative_margin(seed):
    rng = np.random.default_rng(seed)
    D, P = _instance(seed, K=3, n=10)
    Lam = L1Ball([1 / 3] * 3, 0.4)
    models = {f"mix {i}": rng.dirichlet(np.ones(3)) @ P for i in range(4)}
    table = compare(["experts", "uniform", models], D, P, mixtures=Lam)
    for r in table:
        assert r["in_envelope"]
        assert r["margin"] >= -max(table.gap, 1e-9), r["name"]
        assert Lam.contains(r["lam"])


def test_expert_names_numbers_colons_and_labels():
    D, P = _instance(5)
    plain = compare(["expert 1", "expert:3"], D, P)
    assert plain.names() == ["expert 1", "expert 3"]
    named = compare(["expert fr", "expert:de", "expert 1"], D, P, labels=["en", "fr", "de"])
    assert named.names() == ["expert fr", "expert de", "expert en"]
    np.testing.assert_allclose(named["expert en"]["per_domain"], plain["expert 1"]["per_domain"])
    assert named.labels == ("en", "fr", "de") and "L(fr)" in str(named)


def test_the_table_prints_renders_and_writes_csv(tmp_path):
    D, P = _instance(6)
    table = compare(["uniform", "robust", {"<b>mine</b>": D[0]}], D, P, labels=["a", "b", "c"])
    assert isinstance(table, ComparisonTable) and len(table) == 3
    assert [r["name"] for r in table] == table.names() and table[0] is table.records[0]
    json.dumps(table.records)  # plain Python values
    text = str(table).splitlines()
    assert "nats" in text[0] and "V* =" in text[1]
    header, rows = text[2], text[3:]
    assert header.startswith("model") and len(rows) == 3
    col = header.index("worst case")
    for line, r in zip(rows, table, strict=True):
        assert line.startswith(r["name"]) and line[col:].startswith(f"{r['worst_case']:.6g}")
    html = table._repr_html_()
    assert "&lt;b&gt;mine&lt;/b&gt;" in html and "<b>mine</b>" not in html

    buffer = io.StringIO()
    table.to_csv(buffer)
    table.to_csv(tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text() == buffer.getvalue()
    read = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert [row["name"] for row in read] == table.names()
    for row, r in zip(read, table, strict=True):
        assert float(row["worst_case"]) == r["worst_case"] and float(row["margin"]) == r["margin"]
        assert [float(row[f"loss:{k}"]) for k in "abc"] == r["per_domain"]
        assert [float(row[f"lam:{k}"]) for k in "abc"] == r["lam"]
        assert row["in_envelope"] == str(r["in_envelope"])


def test_infinite_losses_are_reported_not_hidden():
    D, P = _instance(7)
    q = D[0].copy()
    q[np.argmax(D[1])] = 0.0
    q /= q.sum()
    table = compare({"holes": q}, D, P)
    assert table["holes"]["worst_case"] == np.inf and table["holes"]["margin"] == np.inf
    assert "inf" in str(table)


@pytest.mark.parametrize(
    ("models", "kwargs", "error", "words"),
    [
        ("uniform", {}, ArgumentTypeError, "single string"),
        (np.ones(12) / 12, {}, ArgumentTypeError, "dict name"),
        (["nonsense"], {}, ValueError, "unknown model 'nonsense'"),
        (["expert 4"], {}, ValueError, "experts are numbered 1 … 3"),
        (["expert x"], {}, ValueError, "unknown expert 'x'"),
        (["proportional"], {}, ValueError, "sizes: the 'proportional' model needs"),
        (["proportional"], {"sizes": [1, 2]}, ValueError, "sizes"),
        (["uniform", "uniform"], {}, ValueError, "'uniform' is used twice"),
        ([{"q": np.ones(5) / 5}], {}, ValueError, "models['q']: expected length |X| = 12"),
        ([{"q": np.full(12, 0.1)}], {}, ValueError, "models['q']"),
        ([{"q": "uniform"}], {}, ArgumentTypeError, "expected a model vector"),
        ([{3: np.ones(12) / 12}], {}, ArgumentTypeError, "name must be a non-empty string"),
        ([1.5], {}, ArgumentTypeError, "each entry"),
        ([], {}, ValueError, "at least one model"),
        (["robust"], {"labels": ["a", "b"]}, ValueError, "labels"),
        (["robust"], {"tol": 0.0}, ValueError, "tol"),
    ],
)
def test_compare_rejects_bad_models_before_solving(models, kwargs, error, words, monkeypatch):
    import theory.evaluate

    monkeypatch.setattr(theory.evaluate, "robust_gate", lambda *a, **k: pytest.fail("solved"))
    D, P = _instance(8)
    with pytest.raises(error, match=re.escape(words)):
        compare(models, D, P, **kwargs)


def test_models_made_of_experts_need_the_experts():
    D, _ = _instance(9)
    for name in ("uniform", "expert 1", "experts", "proportional"):
        with pytest.raises(ValueError, match="P: the model"):
            compare([name], D)
    with pytest.raises(ValueError, match="regret"):
        compare(["robust"], D, objective="regret")
    with pytest.raises(ValueError, match="regret"):
        worst_case(D[0], D, objective="regret")
    with pytest.raises(ValueError, match="model"):
        worst_case(D[0][:-1], D)
