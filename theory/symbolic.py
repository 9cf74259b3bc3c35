"""Symbolic (sympy) derivations of the identities the package relies on.

Each function proves an identity for small symbolic K and n by simplifying the
difference of its two sides to zero, and returns ``True`` on success (it raises
``AssertionError`` with the residual otherwise). They back the tests and the
``modgate verify`` rows with an argument that does not depend on floating point.
"""

from __future__ import annotations

import sympy as sp


def _simplex_point(name: str, size: int) -> list[sp.Symbol]:
    """A symbolic point of the simplex: ``size − 1`` free positive symbols and the remainder."""
    free = list(sp.symbols(f"{name}1:{size}", positive=True))
    return [*free, 1 - sum(free)]


def _expand_logs(expr: sp.Expr) -> sp.Expr:
    return sp.expand(sp.expand_log(expr, force=True))


def t1_compensation_identity(K: int = 2, n: int = 3) -> bool:
    r"""T1: :math:`\sum_k \lambda_k \mathrm{KL}(D_k\|q) = \mathrm{JSD}_\lambda(D) + \mathrm{KL}(D_\lambda\|q)`
    for symbolic D (K×n, positive rows on the simplex), λ ∈ Δ_K and q ∈ Δ(X)."""
    lam = _simplex_point("l", K)
    D = [_simplex_point(f"d{k}_", n) for k in range(K)]
    q = _simplex_point("q", n)
    mix = [sum(lam[k] * D[k][x] for k in range(K)) for x in range(n)]

    def kl(p, r):
        return sum(p[x] * (sp.log(p[x]) - sp.log(r[x])) for x in range(n))

    lhs = sum(lam[k] * kl(D[k], q) for k in range(K))
    jsd = sum(lam[k] * kl(D[k], mix) for k in range(K))
    residual = sp.simplify(_expand_logs(lhs - jsd - kl(mix, q)))
    assert residual == 0, f"compensation identity residual: {residual}"
    return True


def t1_jsd_entropy_form(K: int = 2, n: int = 3) -> bool:
    r"""T1: :math:`\sum_k \lambda_k \mathrm{KL}(D_k\|D_\lambda) = H(D_\lambda) - \sum_k \lambda_k H(D_k)`
    for symbolic D and λ."""
    lam = _simplex_point("l", K)
    D = [_simplex_point(f"d{k}_", n) for k in range(K)]
    mix = [sum(lam[k] * D[k][x] for k in range(K)) for x in range(n)]

    def H(p):
        return -sum(p[x] * sp.log(p[x]) for x in range(n))

    divergence_form = sum(
        lam[k] * sum(D[k][x] * (sp.log(D[k][x]) - sp.log(mix[x])) for x in range(n))
        for k in range(K)
    )
    entropy_form = H(mix) - sum(lam[k] * H(D[k]) for k in range(K))
    residual = sp.simplify(_expand_logs(divergence_form - entropy_form))
    assert residual == 0, f"JSD entropy-form residual: {residual}"
    return True
