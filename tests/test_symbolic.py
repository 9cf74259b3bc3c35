"""Symbolic proofs (sympy) of the identities behind the numeric checks."""

from theory import symbolic


def test_T1_compensation_identity_symbolically():
    assert symbolic.t1_compensation_identity(K=2, n=3)
    assert symbolic.t1_compensation_identity(K=3, n=2)


def test_T1_jsd_entropy_form_symbolically():
    assert symbolic.t1_jsd_entropy_form(K=3, n=3)


def test_T9_product_class_jsd_gap_symbolically():
    assert symbolic.t9_product_jsd_gap(K=2, V=2)
    assert symbolic.t9_product_jsd_gap(K=3, V=2)
    assert symbolic.t9_product_jsd_gap(K=2, V=3)


def test_T11_loss_is_2_lipschitz_in_the_gate_logits_symbolically():
    assert symbolic.t11_lipschitz_constant(K=2)
    assert symbolic.t11_lipschitz_constant(K=3)


def test_T3_water_filling_satisfies_kkt_symbolically():
    assert symbolic.t3_water_filling_kkt()


def test_T5_dual_hessian_on_a_clipping_pattern_symbolically():
    assert symbolic.t5_dual_hessian(K=2, free=2)
