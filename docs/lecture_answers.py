"""Every number printed in the lectures, computed by the package.

Each function below computes the numbers of one worked example or exercise
and returns them by name; the full key of a number is ``<group>.<name>``
(``l1.water.nu``). A lecture prints a number with the ``{ans}`` role, e.g.
``{ans}`l1.water.nu = 1.0714```; the documentation build and
``tests/test_docs_answers.py`` recompute the key and fail when the printed
digits are not the computed value correctly rounded. The solutions show these
functions verbatim, so the code a student reads is the code that is checked.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

_GROUPS = {}


def _group(name):
    def register(func):
        _GROUPS[name] = func
        return func

    return register


# Lecture 1 ---------------------------------------------------------------------

#: The two-domain, three-outcome instance of lecture 1.
L1_D = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
L1_P = np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])


@_group("l1.water")
def l1_water_filling():
    from theory.minimax import fixed_mixture

    lam = np.array([0.5, 0.5])
    t = lam @ L1_D
    res = fixed_mixture(L1_D, L1_P, lam)
    return {
        "t1": t[0],
        "t2": t[1],
        "t3": t[2],
        "nu": res.nu,
        "q1": res.model[0],
        "q2": res.model[1],
        "q3": res.model[2],
        "d": res.value,
    }


@_group("l1.robust")
def l1_robust():
    from theory.minimax import robust_gate

    res = robust_gate(L1_D, L1_P)
    return {
        "value": res.value,
        "lam1": res.lam[0],
        "loss1": res.per_domain[0],
        "loss2": res.per_domain[1],
        "gap": res.upper - res.lower,
    }


@_group("l1.ex3")
def l1_exercise_water_filling():
    from theory.minimax import fixed_mixture

    lam = np.array([0.8, 0.2])
    t = lam @ L1_D
    res = fixed_mixture(L1_D, L1_P, lam)
    return {
        "t1": t[0],
        "t2": t[1],
        "t3": t[2],
        "nu": res.nu,
        "q1": res.model[0],
        "q2": res.model[1],
        "q3": res.model[2],
    }


@_group("l1.ex4")
def l1_exercise_uniform_vs_robust():
    from theory.minimax import dual_function, robust_gate

    d_uniform, losses = dual_function(L1_D, L1_P, [0.5, 0.5])
    res = robust_gate(L1_D, L1_P)
    return {
        "d_uniform": d_uniform,
        "loss1_uniform": losses[0],
        "loss2_uniform": losses[1],
        "value": res.value,
    }


@_group("l1.ex6")
def l1_exercise_erasure():
    from theory.capacity import blahut_arimoto
    from theory.minimax import robust_gate

    D = np.array([[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]])
    res = robust_gate(D, D)
    return {
        "value": res.value,
        "lam1": res.lam[0],
        "capacity": blahut_arimoto(D).capacity,
        "half_log2": 0.5 * np.log(2.0),
    }


# Lecture 2 ---------------------------------------------------------------------


def pattern_domains(symbols, T, V, omega=0.0):
    """Product domains on V**T sequences (lexicographic order): domain k writes
    ``symbols[k]`` at every position with probability 1 − ω + ω/V, any other
    symbol with probability ω/V."""
    seqs = np.array(list(itertools.product(range(V), repeat=T)))
    rows = [np.where(seqs == s, 1 - omega + omega / V, omega / V).prod(axis=1) for s in symbols]
    return np.array(rows)


@_group("l2.worked")
def l2_worked_interference():
    from theory.divergences import jsd, kl, mixture
    from theory.minimax import fixed_mixture
    from theory.monolithic import interference

    lam = np.array([0.5, 0.5])
    D = pattern_domains([0, 1], T=3, V=2)
    Db = pattern_domains([0, 1], T=3, V=2, omega=0.2)
    modular = fixed_mixture(D, D, lam).model
    return {
        "separable": interference(D, lam, "product", shape=(3, 2)),
        "two_log2": 2 * np.log(2.0),
        "blurred": interference(Db, lam, "product", shape=(3, 2)),
        "jsd_blurred": jsd(lam, Db),
        "modular": kl(mixture(lam, D), modular),
    }


@_group("l2.ex3")
def l2_exercise_three_domains():
    from theory.divergences import entropy
    from theory.monolithic import interference

    lam = np.array([0.5, 0.3, 0.2])
    D = pattern_domains([0, 1, 2], T=4, V=3)
    return {
        "interference": interference(D, lam, "product", shape=(4, 3)),
        "H_lam": entropy(lam),
    }


@_group("l2.ex4")
def l2_exercise_safety():
    from theory.divergences import kl_rows
    from theory.minimax import robust_gate

    uniform = L1_P.mean(axis=0)
    worst_uniform = kl_rows(L1_D, uniform).max()
    best_single = min(kl_rows(L1_D, p).max() for p in L1_P)
    value = robust_gate(L1_D, L1_P).value
    return {
        "uniform": worst_uniform,
        "best_single": best_single,
        "value": value,
        "margin": worst_uniform - value,
    }


@_group("l2.ex6")
def l2_exercise_envelope_slack():
    from theory.capacity import blahut_arimoto
    from theory.minimax import robust_gate

    # Experts that bracket the domains pointwise: D_λ stays inside the envelope.
    D = np.array([[0.5, 0.3, 0.2], [0.2, 0.3, 0.5]])
    P = np.array([[0.55, 0.25, 0.2], [0.15, 0.35, 0.5]])
    return {
        "value": robust_gate(D, P).value,
        "capacity": blahut_arimoto(D).capacity,
    }


# Lecture 3 ---------------------------------------------------------------------


@_group("l3.worked")
def l3_worked_bound():
    from theory.bounds import rademacher_softmax_linear, skewness

    lam, m = np.array([0.5, 0.5]), np.array([800, 200])
    rademacher = rademacher_softmax_linear(1.0, 1.0, 2, lam, m)
    tabular_scale = np.sqrt(10_000 / m.sum())
    return {
        "skewness": skewness(lam, m),
        "sqrt_skewness": np.sqrt(skewness(lam, m)),
        "rademacher": rademacher,
        "tabular_scale": tabular_scale,
        "ratio": tabular_scale / rademacher,
    }


@_group("l3.ex2")
def l3_exercise_bound():
    from theory.bounds import generalization_bound, rademacher_softmax_linear

    lam, m = np.array([0.5, 0.5]), np.array([800, 200])
    rad = rademacher_softmax_linear(2.0, 1.0, 2, lam, m)
    return {
        "rademacher": rad,
        "bound": generalization_bound(2.0, lam, m, 5.0, 0.05, rad),
    }


@_group("l3.ex3")
def l3_exercise_split():
    from theory.bounds import skewness

    return {
        "matched": skewness([0.7, 0.3], [700, 300]),
        "even_at_vertex": skewness([1.0, 0.0], [500, 500]),
        "skewed_at_vertex": skewness([0.0, 1.0], [700, 300]),
    }


#: The strings and experts of the distillation exercise.
L3_STRINGS = ["a", "aa", "ab", "b", "ba", "bb"]
L3_P = np.array([[0.30, 0.25, 0.15, 0.10, 0.10, 0.10], [0.05, 0.10, 0.05, 0.30, 0.20, 0.30]])


@_group("l3.ex6")
def l3_exercise_distillation():
    from scipy.optimize import minimize_scalar

    from sims.distill import distill_router
    from theory.divergences import kl, mixture
    from theory.minimax import fixed_mixture

    # 1. A constant gate z: its model is a mixture of the experts.
    constant = mixture([0.4, 0.6], L3_P)
    # 2. A target no constant gate expresses: the model of the envelope closest
    #    to t, which favours "aa" and "ba" (water-filling with both domains = t).
    t = np.array([0.05, 0.40, 0.05, 0.05, 0.40, 0.05])
    target = fixed_mixture(np.vstack([t, t]), L3_P, [0.5, 0.5]).model
    best_constant = minimize_scalar(
        lambda w: kl(target, mixture([w, 1 - w], L3_P)), bounds=(0, 1), method="bounded"
    )
    return {
        "kl_constant": distill_router(L3_STRINGS, L3_P, constant).kl,
        "kl_router": distill_router(L3_STRINGS, L3_P, target).kl,
        "kl_best_constant": best_constant.fun,
    }


@functools.cache
def all_answers() -> dict[str, float]:
    """Every key of every group, computed once per process."""
    out = {}
    for group, func in _GROUPS.items():
        for name, value in func().items():
            out[f"{group}.{name}"] = float(value)
    return out
