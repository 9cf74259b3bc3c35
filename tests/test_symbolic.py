"""Symbolic derivations (sympy): every step checked independently of the module's own verdict.

Each derivation of ``theory.symbolic`` is re-checked here with plain sympy: for a
chain, every step minus the previous one (and the last step minus the claim's
right-hand side) must simplify to 0 on the symbolic instance; for a list of
facts, every equation must simplify to 0 and every inequality to an expression
sympy knows to be positive.
"""

import pytest
import sympy as sp

from theory import symbolic
from theory.symbolic import Derivation, Step


def _zero(expr) -> bool:
    return sp.simplify(sp.expand(sp.expand_log(expr, force=True))) == 0


def _check_chain(d: Derivation):
    assert d.chain and d.equation is not None
    exprs = [s.expr for s in d.steps]
    assert _zero(d.instantiate(exprs[0] - d.equation.lhs))
    for prev, step in zip(exprs[:-1], exprs[1:], strict=True):
        assert _zero(d.instantiate(step - prev)), step
    assert _zero(d.instantiate(exprs[-1] - d.equation.rhs))


def _check_facts(d: Derivation):
    assert not d.chain
    for step in d.steps:
        rel = step.expr
        diff = d.instantiate(rel.lhs) - d.instantiate(rel.rhs)
        if isinstance(rel, sp.Equality):
            assert _zero(diff), step.label
        else:
            assert isinstance(rel, sp.StrictGreaterThan) and sp.simplify(diff).is_positive


CHAINS = [
    (symbolic.t1_compensation_identity, {"K": 2, "n": 3}),
    (symbolic.t1_compensation_identity, {"K": 3, "n": 2}),
    (symbolic.t1_jsd_entropy_form, {"K": 3, "n": 3}),
    (symbolic.t9_product_jsd_gap, {"K": 2, "V": 2}),
    (symbolic.t9_product_jsd_gap, {"K": 3, "V": 2}),
    (symbolic.t9_product_jsd_gap, {"K": 2, "V": 3}),
]
FACTS = [
    (symbolic.t11_lipschitz_constant, {"K": 2}),
    (symbolic.t11_lipschitz_constant, {"K": 3}),
    (symbolic.t3_water_filling_kkt, {}),
    (symbolic.t5_dual_hessian, {"K": 2, "free": 2}),
]


@pytest.mark.parametrize(("derive", "kwargs"), CHAINS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_chain_steps_simplify_from_one_to_the_next_and_to_the_claim(derive, kwargs):
    d = derive(**kwargs)
    assert d.holds and bool(d)
    assert all(r == 0 for r in d.residuals) and len(d.residuals) == len(d.steps) + 1
    _check_chain(d)


@pytest.mark.parametrize(("derive", "kwargs"), FACTS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_every_fact_holds_on_its_own(derive, kwargs):
    d = derive(**kwargs)
    assert d.holds and bool(d)
    _check_facts(d)


def test_T1_compensation_identity_symbolically():
    assert symbolic.t1_compensation_identity(K=2, n=3)
    assert symbolic.t1_compensation_identity(K=3, n=2)


def test_T11_sharpness_is_a_limit_equal_to_2():
    d = symbolic.t11_lipschitz_constant(K=2)
    limit = d.steps[-1].expr
    assert isinstance(limit.lhs, sp.Limit) and d.instantiate(limit.lhs) == 2
    # Away from the limit the norm stays below 2 (the triangle inequality).
    e = limit.lhs.args[1]
    assert float(limit.lhs.args[0].subs(e, sp.Rational(1, 10))) < 2


def test_T5_hessian_has_one_fact_per_entry():
    d = symbolic.t5_dual_hessian(K=3, free=1)
    assert d.holds and len(d.steps) == 6


def test_a_wrong_step_is_reported_not_hidden():
    good = symbolic.t1_compensation_identity(K=2, n=2)
    wrong = Step("an off-by-one slip", good.steps[1].expr + sp.Rational(1, 1000))
    steps = (good.steps[0], wrong, good.steps[2])
    d = symbolic._derive(
        good.title, good.theory, good.claim, good.claim_latex, steps, where=good.where,
        chain=True, equation=good.equation, sizes={symbolic._K: 2, symbolic._n: 2},
        points=symbolic._rows_of(symbolic._D, "d", 2, 2)
        | symbolic._vector_of(symbolic._lam, "l", 2) | symbolic._vector_of(symbolic._q, "q", 2),
        instance="K = 2, n = 2",
    )  # fmt: skip
    assert not d.holds and not d
    assert [r == 0 for r in d.residuals] == [True, False, False, True]
    assert "DOES NOT HOLD" in str(d) and "does NOT hold" in d._repr_latex_()
    false_fact = symbolic._derive(
        "t", "T0", "c", "c", [Step("x > 1", sp.StrictGreaterThan(sp.Symbol("x", positive=True), 1))],
        chain=False, instance="x > 0",
    )  # fmt: skip
    assert not false_fact


@pytest.mark.parametrize(("derive", "kwargs"), [CHAINS[0], FACTS[2]], ids=["chain", "facts"])
def test_a_derivation_displays_as_text_and_latex(derive, kwargs):
    d = derive(**kwargs)
    text = str(d)
    assert text.startswith(f"{d.theory}: {d.title}") and f"claim: {d.claim}" in text
    assert all(f"({i}) {s.label}" in text for i, s in enumerate(d.steps, start=1))
    assert text.endswith(f"checked symbolically on {d.instance}: holds")
    tex = d._repr_latex_()
    assert tex.startswith("$$\\begin{aligned}") and tex.endswith("\\end{aligned}$$")
    assert tex.count("{") == tex.count("}") and d.claim_latex in tex
    for step in d.steps:
        assert sp.latex(step.expr) in tex
    assert "_" not in "".join(tex.split("\\text{")[i].split("}")[0] for i in range(1, 3))


def test_sizes_are_validated():
    with pytest.raises(ValueError, match="K"):
        symbolic.t1_compensation_identity(K=0)
    with pytest.raises(ValueError, match="K"):
        symbolic.t11_lipschitz_constant(K=1)
    with pytest.raises(ValueError, match="free"):
        symbolic.t5_dual_hessian(free=1.5)


def test_chain_of_your_own_names_the_wrong_link():
    a, b = sp.symbols("a b", positive=True)
    eq = sp.Eq(sp.log(a**2 * b), 2 * sp.log(a) + sp.log(b), evaluate=False)
    steps = [("log of a product", sp.log(a**2) + sp.log(b))]
    assert symbolic.chain("log rules", eq, steps).residuals == (0, 0)
    wrong = symbolic.chain("log rules", eq, [("a slip", sp.log(a) + sp.log(b))])
    assert not wrong
    # lhs → slip loses log a, slip → rhs gains it back: both links are named
    assert [sp.simplify(r) for r in wrong.residuals] == [-sp.log(a), sp.log(a)]


@pytest.mark.parametrize(
    "equation, steps, where",
    [
        (sp.Symbol("a"), [], ()),
        (sp.Eq(sp.Symbol("a"), sp.Symbol("a"), evaluate=False), ["not a step"], ()),
        (sp.Eq(sp.Symbol("a"), sp.Symbol("a"), evaluate=False), [], [sp.Symbol("b")]),
    ],
)
def test_chain_refuses_what_is_not_a_derivation(equation, steps, where):
    with pytest.raises(TypeError):
        symbolic.chain("t", equation, steps, where=where)
