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


def t9_product_jsd_gap(K: int = 2, V: int = 2) -> bool:
    r"""T9 for the ``product`` class on sequences of length T = 2 with symbolic marginals.

    Domains :math:`D_k = a_k \otimes b_k` (a_k, b_k symbolic points of Δ_V), λ ∈ Δ_K;
    aggregate retraining returns :math:`h_\lambda = (\sum_k\lambda_k a_k)\otimes(\sum_k\lambda_k b_k)`.
    Proves both

    .. math:: \mathrm{KL}(D_\lambda\|h_\lambda)
              = H(h_\lambda) - \sum_k\lambda_k H(D_k) - \mathrm{JSD}_\lambda(D)
              = \mathrm{JSD}_\lambda(a) + \mathrm{JSD}_\lambda(b) - \mathrm{JSD}_\lambda(D).

    Every log is expanded into logs of the symbolic coordinates and of the
    mixtures; those atoms are then replaced by free symbols, so a zero residual
    is a polynomial identity, stronger than the claim.
    """
    lam = _simplex_point("l", K)
    a = [_simplex_point(f"a{k}_", V) for k in range(K)]
    b = [_simplex_point(f"b{k}_", V) for k in range(K)]
    cells = [(i, j) for i in range(V) for j in range(V)]
    D = [[a[k][i] * b[k][j] for i, j in cells] for k in range(K)]
    ma = [sum(lam[k] * a[k][i] for k in range(K)) for i in range(V)]
    mb = [sum(lam[k] * b[k][j] for k in range(K)) for j in range(V)]
    mix = [sum(lam[k] * D[k][c] for k in range(K)) for c in range(len(cells))]
    h = [ma[i] * mb[j] for i, j in cells]

    def H(p):
        return -sum(x * sp.log(x) for x in p)

    def kl(p, q):
        return sum(x * (sp.log(x) - sp.log(y)) for x, y in zip(p, q, strict=True))

    def jsd(rows, m):
        return sum(lam[k] * kl(rows[k], m) for k in range(K))

    lhs = kl(mix, h)
    gap = H(h) - sum(lam[k] * H(D[k]) for k in range(K)) - jsd(D, mix)
    positional = jsd(a, ma) + jsd(b, mb) - jsd(D, mix)
    for name, rhs in (("JSD-gap", gap), ("positional-JSD", positional)):
        residual = _expand_logs(lhs - rhs)
        atoms = sorted(residual.atoms(sp.log), key=sp.default_sort_key)
        free = sp.symbols(f"L0:{len(atoms)}")
        residual = sp.expand(residual.subs(dict(zip(atoms, free, strict=True))))
        assert residual == 0, f"T9 {name} residual: {residual}"
    return True


def t11_lipschitz_constant(K: int = 2) -> bool:
    r"""T11: the loss :math:`f(u) = -\log \sum_k \mathrm{softmax}(u)_k\, p_k` is 2-Lipschitz in
    the logits u for the ℓ∞/ℓ1 pairing: :math:`\|\partial f/\partial u\|_1 \le 2`, and 2 is sharp.

    Symbolically: (i) :math:`\partial f/\partial u_k = g_k(1 - p_k/p_g)`; (ii) writing it as
    :math:`a_k - b_k` with :math:`a_k = g_k` and :math:`b_k = g_k p_k/p_g`, both a and b are
    nonnegative and sum to 1, so by the triangle inequality
    :math:`\|a - b\|_1 \le \|a\|_1 + \|b\|_1 = 2`; (iii) along g = (1 − e, e, 0, …),
    p = (e², 1, …), the norm tends to 2 as e → 0.
    """
    u = sp.symbols(f"u0:{K}", real=True)
    p = sp.symbols(f"p0:{K}", positive=True)
    weights = [sp.exp(uk) for uk in u]
    total = sum(weights)
    g = [w / total for w in weights]
    pg = sum(gk * pk for gk, pk in zip(g, p, strict=True))
    f = -sp.log(pg)
    for k in range(K):
        residual = sp.simplify(sp.diff(f, u[k]) - g[k] * (1 - p[k] / pg))
        assert residual == 0, f"∂f/∂u_{k} residual: {residual}"
    b = [gk * pk / pg for gk, pk in zip(g, p, strict=True)]
    for name, vec in (("g", g), ("g p / p_g", b)):
        assert sp.simplify(sum(vec) - 1) == 0, f"{name} does not sum to 1"
        assert all(sp.simplify(v).is_positive for v in vec), f"{name} is not positive"
    e = sp.symbols("e", positive=True)
    gs = [1 - e, e] + [0] * (K - 2)
    ps = [e**2, sp.Integer(1)] + [sp.Integer(1)] * (K - 2)
    pgs = sum(gk * pk for gk, pk in zip(gs, ps, strict=True))
    # For small e, g_1 p_1 / p_g < g_1 and g_2 p_2 / p_g > g_2: the signs of the two terms are fixed.
    norm = (gs[0] - gs[0] * ps[0] / pgs) + (gs[1] * ps[1] / pgs - gs[1])
    assert sp.limit(norm, e, 0, "+") == 2, "the constant 2 is not approached"
    return True


def t3_water_filling_kkt() -> bool:
    r"""T3: :math:`q^*(x) = \mathrm{clip}(t(x)/\nu, \ell(x), u(x))` satisfies the KKT conditions of
    :math:`\min -\sum_x t(x)\log q(x)` s.t. ℓ ≤ q ≤ u, Σq = 1.

    Per coordinate the Lagrangian is :math:`-t\log q + \nu q - \alpha(q-\ell) + \beta(q-u)`
    (convex: second derivative t/q² > 0). Stationarity gives: on the free set
    q = t/ν; at q = ℓ the multiplier :math:`\alpha = \nu - t/\ell = (\nu/\ell)(\ell - t/\nu)`, which is
    ≥ 0 exactly when t/ν ≤ ℓ; at q = u, :math:`\beta = t/u - \nu = (\nu/u)(t/\nu - u)`, ≥ 0 exactly
    when t/ν ≥ u. So the clip of t/ν is the KKT point, and ν is fixed by Σq = 1.
    """
    t, nu, lo, hi, q = sp.symbols("t nu l u q", positive=True)
    slope = sp.diff(-t * sp.log(q) + nu * q, q)
    assert sp.diff(slope, q).is_positive, "the per-coordinate objective is not convex"
    assert sp.simplify(slope.subs(q, t / nu)) == 0, "q = t/ν is not stationary"
    alpha = slope.subs(q, lo)
    assert sp.simplify(alpha - nu / lo * (lo - t / nu)) == 0, f"lower multiplier: {alpha}"
    beta = -slope.subs(q, hi)
    assert sp.simplify(beta - nu / hi * (t / nu - hi)) == 0, f"upper multiplier: {beta}"
    return True


def t5_dual_hessian(K: int = 2, free: int = 2) -> bool:
    r"""T5: on a fixed clipping pattern the dual function has Hessian :math:`-A + a a^\top/T`.

    With t = Σ_k λ_k D_k, a free set F where q = s·t, one point clipped at ℓ and one at
    u, the mass constraint fixes :math:`s = (1 - \ell - u)/\sum_F t`, and
    :math:`d(\lambda) = -\sum_F t\log(st) - t_\ell \log\ell - t_u\log u`. Its second
    derivatives equal :math:`-\sum_F D_j D_k/t + a_j a_k/T` with :math:`a_k = \sum_F D_k`,
    :math:`T = \sum_F t` (the matrix the dual solver's Newton steps use).
    """
    lam = sp.symbols(f"lam0:{K}", positive=True)
    D = [list(sp.symbols(f"D{k}_0:{free + 2}", positive=True)) for k in range(K)]
    lo, hi = sp.symbols("l u", positive=True)
    t = [sum(lam[k] * D[k][x] for k in range(K)) for x in range(free + 2)]
    T = sum(t[:free])
    s = (1 - lo - hi) / T
    d = -sum(t[x] * sp.log(s * t[x]) for x in range(free))
    d -= t[free] * sp.log(lo) + t[free + 1] * sp.log(hi)
    a = [sum(D[k][:free]) for k in range(K)]
    for j in range(K):
        for k in range(j, K):
            hess = -sum(D[j][x] * D[k][x] / t[x] for x in range(free)) + a[j] * a[k] / T
            residual = sp.simplify(sp.diff(d, lam[j], lam[k]) - hess)
            assert residual == 0, f"∂²d/∂λ_{j}∂λ_{k} residual: {residual}"
    return True
