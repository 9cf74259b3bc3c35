"""`modgate verify` kills the single-point bugs that an earlier version of it let through.

Each test plants one realistic bug — by recompiling the function from its own
source with one expression changed, or, for a compiled kernel, by replacing its
Python entry point with a version that has the same bug — and asserts that the
verify row responsible for that result now fails (with the default trials and
seed, as `modgate verify` runs). A last test shows that E7 and T11 fail when the
complexity term of T11 is scaled by 0.1, 0 or 10, and pass unscaled.
"""

from __future__ import annotations

import inspect
import sys
import textwrap

import numpy as np
import pytest

import theory._dual_newton as dual_newton
from paper_repro.checks import run_checks
from paper_repro.experiments import e7_generalization
from theory import _kernels, bounds, capacity, mixtures, validation


def _rebind(monkeypatch, old, new, name):
    """Point every module of the package that holds ``old`` under ``name`` to ``new``."""
    for mod in list(sys.modules.values()):
        modname = getattr(mod, "__name__", "") or ""
        if modname.split(".")[0] in ("theory", "sims", "paper_repro") and (
            getattr(mod, name, None) is old
        ):
            monkeypatch.setattr(mod, name, new)


def plant(monkeypatch, owner, name: str, before: str, after: str) -> None:
    """Recompile ``owner.name`` (a function or a method) with ``before`` replaced by ``after``."""
    func = inspect.getattr_static(owner, name)
    source = textwrap.dedent(inspect.getsource(func))
    assert source.count(before) == 1, f"{before!r} not found once in {name}"
    module = sys.modules[func.__module__]
    namespace = dict(vars(module))
    exec(compile(source.replace(before, after), inspect.getsourcefile(func), "exec"), namespace)
    monkeypatch.setattr(owner, name, namespace[name])
    if inspect.ismodule(owner):
        _rebind(monkeypatch, func, namespace[name], name)


def row_passes(row: str) -> bool:
    (result,) = run_checks(seed=0, trials=20, only=[row], exact=True)
    return result.passed


def test_unmutated_rows_pass():
    for row in ("C1", "T6b", "T6d", "T7", "T7b", "T11d", "A1"):
        assert row_passes(row), row


def test_kl_without_the_zero_convention_in_its_exact_path_fails_C1(monkeypatch):
    exact = _kernels.checked_rows

    def checked_rows(mode, D, q):
        # The exact (slow) path is taken when a used ratio is not a normal float;
        # there the bug drops "if p > 0" and 0·log(0/q) becomes NaN.
        values, scans = exact(mode, D, q)
        if mode != _kernels._KL:
            return values, scans
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            r = D / q
            bad = (D > 0) & ~((r >= np.finfo(float).tiny) & (r <= np.finfo(float).max))
            buggy = (D * (np.log(D) - np.log(q))).sum(axis=1)
        return np.where(bad.any(axis=1), buggy, values), scans

    monkeypatch.setattr(_kernels, "checked_rows", checked_rows)
    assert not row_passes("C1")


def test_blahut_arimoto_step_with_the_wrong_sign_fails_T6b(monkeypatch):
    plant(
        monkeypatch,
        capacity,
        "blahut_arimoto",
        "point.log_r + gamma * point.kappa",
        "point.log_r - gamma * point.kappa",
    )
    assert not row_passes("T6b")


@pytest.mark.parametrize("after", ["max_iter - len(history)", "max_iter + 2 - len(history)"])
def test_blahut_arimoto_budget_off_by_one_fails_T6d(monkeypatch, after):
    plant(monkeypatch, capacity, "blahut_arimoto", "max_iter + 1 - len(history)", after)
    assert not row_passes("T6d")


@pytest.mark.parametrize(
    "after", ["self.iterations <= self.max_iter", "self.iterations < self.max_iter - 1"]
)
def test_dual_solver_budget_off_by_one_fails_T6d(monkeypatch, after):
    plant(monkeypatch, dual_newton.NewtonAscent, "run", "self.iterations < self.max_iter", after)
    assert not row_passes("T6d")


def test_check_stack_accepting_a_bad_row_fails_A1(monkeypatch):
    plant(monkeypatch, validation, "_stack", "np.any(off > SUM_TOL)", "np.all(off > SUM_TOL)")
    assert not row_passes("A1")


def test_l1_ball_oracle_moving_r_instead_of_r_over_2_fails_T7b_and_T7(monkeypatch):
    plant(monkeypatch, mixtures.L1Ball, "_argmax", "self.radius / 2.0", "self.radius")
    assert not row_passes("T7b")
    assert not row_passes("T7")


@pytest.mark.parametrize(
    "before, after",
    [
        ("return float(np.sum(lam**2 / mbar))", "return float(np.sum(lam**2 / mbar) - 1.0)"),
        ("2.0 * math.sqrt(2.0) * B", "math.sqrt(2.0) * B"),
        ("2.0 * math.sqrt(2.0) * B", "0.02 * math.sqrt(2.0) * B"),
    ],
    ids=["chi2-instead-of-skewness", "sqrt2", "0.02sqrt2"],
)
def test_wrong_complexity_constants_fail_T11d(monkeypatch, before, after):
    name = "skewness" if "mbar" in before else "rademacher_softmax_linear"
    plant(monkeypatch, bounds, name, before, after)
    assert not row_passes("T11d")


def _small_e7():
    p = e7_generalization.params("quick")
    return dict(p, n=30, m=[30, 300, 3000], draws=50)


@pytest.mark.parametrize("scale", [0.1, 0.0, 10.0])
def test_scaled_complexity_term_fails_E7_and_T11(monkeypatch, scale):
    original = bounds.rademacher_softmax_linear
    monkeypatch.setattr(
        bounds, "rademacher_softmax_linear", lambda *a, **k: scale * original(*a, **k)
    )
    assert not row_passes("T11d")
    ok, measured = e7_generalization.check(e7_generalization.run(_small_e7()))
    assert not ok, measured
    assert "OUTSIDE the windows" in measured


def test_E7_passes_and_reports_both_bounds_unscaled():
    ok, measured = e7_generalization.check(e7_generalization.run(_small_e7()))
    assert ok, measured
    assert "data-dependent" in measured and "analytical" in measured


def test_router_lower_bound_above_the_optimum_fails_S9b(monkeypatch):
    from sims import distill

    plant(
        monkeypatch,
        distill,
        "distill_router",
        "lower=max(0.0, value - bound)",
        "lower=max(0.0, value + bound)",
    )
    assert not row_passes("S9b")


def test_a_derivation_that_does_not_hold_fails_its_row(monkeypatch):
    import dataclasses

    from theory import symbolic

    derive = symbolic._derive

    def false_derive(*args, **kwargs):
        return dataclasses.replace(derive(*args, **kwargs), holds=False)

    monkeypatch.setattr(symbolic, "_derive", false_derive)
    assert not row_passes("T11c")
