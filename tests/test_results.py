"""Every result reads well and has the uniform fields (value, lower, upper, gap, converged, iterations)."""

import re
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

from sims.generalization import generalization_gaps
from sims.monolithic import compare_to_robust, group_dro, uniform_mixing, worst_case
from sims.primal_dual import stochastic_primal_dual
from tests import reference as ref
from theory.capacity import blahut_arimoto
from theory.minimax import fixed_mixture, robust_gate
from theory.results import Certified, Layout, Readable, format_number
from theory.validation import ArgumentTypeError, check_labels


@pytest.fixture(scope="module")
def instance():
    rng = np.random.default_rng(3)
    D = rng.dirichlet(np.ones(12), size=3)
    P = 0.5 * D + 0.5 * rng.dirichlet(np.ones(12), size=3)
    return D, P / P.sum(axis=1, keepdims=True)


def _domain_rows(text: str, labels) -> dict[str, list[float]]:
    """The per-domain lines of a summary: label → its numbers."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0] in labels:
            out[parts[0]] = [float(v) for v in parts[1:]]
    return out


def test_robust_result_summary_shows_value_certificate_convergence_and_domains(instance):
    D, P = instance
    res = robust_gate(D, P, labels=["news", "code", "chat"])
    text = str(res)
    assert text == res.summary()
    head = re.match(r"Robust gate \(T4–T7\): V\* = (\S+) nats", text)
    assert head and float(head.group(1)) == pytest.approx(res.value, abs=1e-11)
    cert = re.search(r"certified\s+(\S+) ≤ V\* ≤ (\S+) nats  \(gap (\S+) nats\)", text)
    assert cert and float(cert.group(1)) == pytest.approx(res.lower, abs=1e-11)
    assert float(cert.group(2)) == pytest.approx(res.upper, abs=1e-11)
    assert re.search(rf"converged\s+yes, after {res.iterations} iterations?", text)
    rows = _domain_rows(text, res.domain_labels)
    assert list(rows) == ["news", "code", "chat"]
    np.testing.assert_allclose([r[0] for r in rows.values()], res.lam, atol=1e-6)
    np.testing.assert_allclose([r[1] for r in rows.values()], ref.kl_rows(D, res.model), rtol=1e-5)


def test_default_labels_and_relabelling(instance):
    D, P = instance
    res = robust_gate(D, P)
    assert res.labels == ("D_1", "D_2", "D_3") == res.domain_labels
    renamed = res.with_labels(["a", "b", "c"])
    assert renamed.domain_labels == ("a", "b", "c") and renamed.value == res.value
    assert list(_domain_rows(str(renamed), "abc")) == ["a", "b", "c"]
    for bad, words in [
        ("abc", "single string"),
        (["a", "b"], "one label per domain (K = 3), got 2"),
        (["a", "a", "b"], "'a' names two domains"),
        (["a", "", "b"], "empty"),
        (["a", 2, "b"], "entry 1"),
    ]:
        with pytest.raises(ValueError, match=re.escape(words)):
            res.with_labels(bad)
    with pytest.raises(ArgumentTypeError):
        robust_gate(D, P, labels="abc")
    with pytest.raises(ValueError, match="labels"):
        fixed_mixture(D, P, [0.2, 0.3, 0.5], labels=["x"])


def test_a_result_that_did_not_converge_says_so(instance):
    D, P = instance
    res = robust_gate(D, P, tol=1e-15, max_iter=1)
    assert not res.converged
    assert re.search(
        rf"converged\s+NO: stopped after {res.iterations} iterations? before reaching its tolerance",
        str(res),
    )


def test_html_is_a_small_escaped_table(instance):
    D, P = instance
    res = robust_gate(D, P, labels=["<i>x</i>", "y & z", "w"])
    html = res._repr_html_()
    assert html.startswith("<div><table") and html.endswith("</table></div>")
    assert "&lt;i&gt;x&lt;/i&gt;" in html and "y &amp; z" in html and "<i>" not in html
    assert html.count("<tr>") == 1 + len(res._pairs()) + 1 + 3  # value, pairs, header, domains


def test_fixed_result_is_exact(instance):
    D, P = instance
    lam = np.array([0.2, 0.3, 0.5])
    res = fixed_mixture(D, P, lam)
    assert res.lower == res.upper == res.value and res.gap == 0.0 and res.converged
    np.testing.assert_array_equal(res.lam, lam)
    assert res.value == pytest.approx(float(lam @ ref.kl_rows(D, res.model)), rel=1e-12)
    text = str(res)
    assert "exact (closed form)" in text and "d(λ) =" in text and "converged" not in text


def test_capacity_result_has_the_uniform_names(instance):
    D, _ = instance
    res = blahut_arimoto(D, labels=["a", "b", "c"])
    assert res.value == res.capacity and res.gap == res.upper - res.lower
    assert res.converged and res.iterations >= 1
    text = str(res)
    assert "C(D) =" in text and "≤ C(D) ≤" in text
    np.testing.assert_allclose(
        [r[0] for r in _domain_rows(text, "abc").values()], res.prior, atol=1e-6
    )


def test_primal_dual_result_has_the_uniform_names(instance):
    D, P = instance
    res = stochastic_primal_dual(D, P, steps=200, reference=False, labels=["a", "b", "c"])
    assert res.value == res.upper == res.worst_case
    assert res.gap == res.certified_gap and res.iterations == res.steps == 200
    text = str(res)
    assert "worst case =" in text and "≤ V* ≤" in text and re.search(r"iterations\s+200\n", text)
    rows = _domain_rows(text, "abc")
    np.testing.assert_allclose([r[2] for r in rows.values()], res.per_domain, rtol=1e-5)


def test_mixing_results_worst_cases_and_comparisons(instance):
    D, P = instance
    uni = uniform_mixing(D, P)
    dro = group_dro(D, P)
    assert uni.value == uni.worst_case and uni.gap is None and "certified" not in str(uni)
    assert dro.value == dro.worst_case and dro.gap == dro.upper - dro.lower
    assert "≤ min_h max_λ ≤" in str(dro) and re.search(r"converged\s+yes", str(dro))
    wc = worst_case(P[0], D)
    assert wc.value == pytest.approx(ref.kl_rows(D, P[0]).max(), rel=1e-12)
    assert "worst λ" in str(wc) and list(_domain_rows(str(wc), wc.domain_labels)) == [
        "D_1", "D_2", "D_3"
    ]  # fmt: skip
    comp = compare_to_robust([uni, dro], robust_gate(D, P).value)
    assert comp[0].value == uni.worst_case and "margin" in str(comp[0])
    with pytest.raises(ValueError, match="no per-domain numbers"):
        comp[0].with_labels(["a", "b", "c"])


def test_gap_study_prints_one_line_per_sample_size(instance):
    D, P = instance
    study = generalization_gaps(
        D, P, [0.3, 0.3, 0.4], [30, 120], draws=8, train_steps=5, sup_steps=5
    )
    lines = str(study).splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["m"])
    rows = [line.split() for line in lines[header + 1 :]]
    assert [int(r[0]) for r in rows] == [30, 120]
    for r, gap, bound in zip(rows, study.gate_gap, study.gate_bound, strict=True):
        assert float(r[2]) == pytest.approx(gap.mean(), rel=1e-3)
        assert float(r[4]) == pytest.approx(bound, rel=1e-3)


def test_a_new_result_only_declares_its_layout():
    @dataclass(frozen=True)
    class Toy(Certified):
        value: float
        lower: float
        upper: float
        losses: np.ndarray
        converged: bool = True
        note: str | None = None
        labels: tuple[str, ...] | None = None
        _layout: ClassVar[Layout] = Layout(
            "Toy", symbol="T", losses=(("losses", "L"),), facts=(("note", "note"),)
        )

    toy = Toy(1.0, 0.5, 1.5, np.array([np.inf, 0.25]))
    text = str(toy)
    assert text.startswith("Toy: T = 1") and "0.5 ≤ T ≤ 1.5 nats  (gap 1 nats)" in text
    assert "note" not in text  # None fields are left out
    assert _domain_rows(text, ("D_1", "D_2")) == {"D_1": [np.inf], "D_2": [0.25]}

    @dataclass(frozen=True)
    class Bare(Readable):
        value: float
        _layout: ClassVar[Layout] = Layout("Bare")

    assert str(Bare(2.0)) == "Bare: value = 2 nats" and Bare(2.0).domain_labels == ()


def test_helpers():
    assert check_labels(None, 2) == ("D_1", "D_2")
    assert [format_number(v) for v in (None, True, 3, -np.inf, np.nan, 0.0, 1 / 3)] == [
        "—", "yes", "3", "-inf", "nan", "0", "0.333333"
    ]  # fmt: skip


def test_router_result_reads_like_the_other_certified_results():
    from sims.distill import distill_router

    P = np.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]])
    res = distill_router(["a", "ab", "b"], P, [0.2, 0.3, 0.5])
    text = str(res)
    assert text.startswith("Distilled causal router (S9)")
    assert "≤ min_r KL(p‖q_r) ≤" in text and "nats" in text
    assert res.lower <= res.value == res.upper and res.gap == res.upper - res.lower
    assert "<table" in res._repr_html_()
    assert res.num_prefixes == res.router.shape[0]
