r"""Symbolic (sympy) derivations of the identities the package relies on.

Each function returns a :class:`Derivation`: the claim, the steps that lead to
it — each a sympy expression with the reason for the step — the definitions
the steps use, and whether sympy confirmed every step (``holds``). Steps are
written in general notation (sums over k = 1 … K and x = 1 … n, as in the
paper) so that they read like a blackboard derivation; they are then checked on
a small symbolic instance (e.g. K = 2 domains on n = 3 points, every entry a
free positive symbol, rows on the simplex), where the sums are expanded and
each step is simplified against the previous one. A zero residual there is an
algebraic identity in the symbols, not a floating-point coincidence.

Two kinds of derivations:

* a **chain** (T1, T9): every step equals the previous one; the first step is
  the left-hand side of the claim and the last its right-hand side;
* a list of **facts** (T3, T5, T11): every step is an equation or an inequality
  that holds on its own, and together they prove the claim (the argument that
  combines them is in the docstring and in the steps' reasons).

A :class:`Derivation` prints as text (``print(d)``), renders as LaTeX in a
notebook (``_repr_latex_``) and is truthy exactly when it holds, so
``assert t1_compensation_identity()`` still reads as a proof check.
:func:`chain` checks a chain of your own (an exercise, a lecture's
derivation) the same way, and says which link fails when one does.

Notation. D_1, …, D_K are the K domains, distributions on a set X of n points;
λ ∈ Δ_K a mixture (λ_k ≥ 0, Σ_k λ_k = 1) and D_λ = Σ_k λ_k D_k; H the entropy,
KL the Kullback–Leibler divergence and JSD_λ(D) = Σ_k λ_k KL(D_k‖D_λ) the
generalized Jensen–Shannon divergence (all in nats). The results T1, T3, T5,
T9 and T11 are those of Cortes, Mohri & Zhong [1]_, as stated on the theory
pages of the documentation.

References
----------
.. [1] C. Cortes, M. Mohri and Y. Zhong, "A Theoretical Framework for Modular
   Learning of Robust Generative Models", arXiv:2602.17554, 2026.

Examples
--------
>>> from theory.symbolic import t1_jsd_entropy_form
>>> d = t1_jsd_entropy_form(K=2, n=2)
>>> bool(d), d.theory, len(d.steps)
(True, 'T1', 3)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.str import StrPrinter

from theory.validation import check_int

__all__ = [
    "Step",
    "Derivation",
    "chain",
    "t1_compensation_identity",
    "t1_jsd_entropy_form",
    "t9_product_jsd_gap",
    "t11_lipschitz_constant",
    "t3_water_filling_kkt",
    "t5_dual_hessian",
]


# ---------------------------------------------------------------------------
# The objects
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One step of a derivation: why (``label``) and what (``expr``).

    In a chain ``expr`` is an expression equal to the previous step's; in a
    list of facts it is a relation (``sympy.Eq``, ``>``, ``≥``) that holds.

    Parameters
    ----------
    label : str
        The reason for the step, in words.
    expr : sympy.Basic
        The expression (chain) or relation (facts), in general notation.

    Examples
    --------
    >>> t1_compensation_identity(K=2, n=2).steps[0].label
    'definition of KL(D_k‖q)'
    """

    label: str
    expr: sp.Basic


def _normalize(expr: sp.Basic) -> sp.Basic:
    """Expand every log of a product and every product; simplify what is left."""
    out = sp.expand(sp.expand_log(expr, force=True))
    return out if out == 0 else sp.simplify(out)


def _holds(relation: sp.Basic, concrete) -> tuple[bool, sp.Basic]:
    """Whether a relation holds on the instance, and its residual (lhs − rhs, simplified).

    Both sides are instantiated separately, so that sympy does not settle the
    relation itself on the way.
    """
    r = _normalize(concrete(relation.lhs) - concrete(relation.rhs))
    if isinstance(relation, sp.Equality):
        return bool(r == 0), r
    if isinstance(relation, sp.StrictGreaterThan):
        return bool(r.is_positive), r
    if isinstance(relation, sp.GreaterThan):
        return bool(r.is_nonnegative), r
    raise TypeError(f"a fact must be an equation or an inequality, got {type(relation).__name__}")


_SUBSCRIPTS = dict(zip("0123456789aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ", strict=True))


def _tex_text(text: str) -> str:
    """``text`` safe inside LaTeX ``\\text{…}``: no TeX specials, subscripts as Unicode.

    (``\\text`` content is typeset literally by MathJax, so escapes would show.)
    """
    text = re.sub(r"_(\w)", lambda m: _SUBSCRIPTS.get(m.group(1), m.group(1)), text)
    for bad, good in (("\\", "/"), ("{", "("), ("}", ")"), ("$", ""), ("&", "and"), ("#", "no. ")):
        text = text.replace(bad, good)
    return text.replace("%", " percent").replace("^", "")


_GREEK = {"lambda": "λ", "nu": "ν", "ell": "ℓ", "abar": "ā", "bbar": "b̄", "D_lambda": "D_λ"}


def _name(name: str) -> str:
    """A symbol's name as a student writes it (``lambda1`` → ``λ1``, ``nu`` → ``ν``)."""
    head = re.match(r"^([A-Za-z_]+?)(\d*)$", name)
    if head and head.group(1) in _GREEK:
        return _GREEK[head.group(1)] + head.group(2)
    return _GREEK.get(name, name)


class _TextPrinter(StrPrinter):
    """One-line Unicode text for the steps: Σ_{k=1}^{K}, D[k,x], ∂/∂u1, λ, ν, ℓ."""

    def _print_Symbol(self, expr):
        return _name(expr.name)

    def _print_Indexed(self, expr):
        return f"{_name(expr.base.label.name)}[{','.join(self._print(i) for i in expr.indices)}]"

    def _print_Function(self, expr):
        return f"{_name(expr.func.__name__)}({', '.join(self._print(a) for a in expr.args)})"

    _print_AppliedUndef = _print_Function

    def _print_Sum(self, expr):
        bounds = "".join(
            f"Σ_{{{self._print(v)}={self._print(a)}}}^{{{self._print(b)}}} "
            for v, a, b in expr.limits
        )
        return f"{bounds}[{self._print(expr.function)}]"

    def _print_Derivative(self, expr):
        wrt = "".join(
            f"∂{self._print(v)}" + (f"^{n}" if n > 1 else "") for v, n in expr.variable_count
        )
        order = sum(n for _, n in expr.variable_count)
        top = "∂" if order == 1 else f"∂^{order}"
        return f"{top}/{wrt} {self._print(expr.expr)}"

    def _print_Subs(self, expr):
        at = ", ".join(
            f"{self._print(v)}={self._print(p)}"
            for v, p in zip(expr.variables, expr.point, strict=True)
        )
        return f"[{self._print(expr.expr)}]_({at})"

    def _print_Limit(self, expr):
        e, z, z0, d = expr.args
        side = "" if str(d) == "+-" else str(d)
        return f"lim_({self._print(z)}→{self._print(z0)}{side}) [{self._print(e)}]"

    def _print_Relational(self, expr):
        op = {"==": "=", ">": ">", ">=": "≥", "<": "<", "<=": "≤"}[expr.rel_op]
        return f"{self._print(expr.lhs)} {op} {self._print(expr.rhs)}"


def _text(expr: sp.Basic) -> str:
    """``expr`` on one line, with · for products and ^ for powers."""
    out = _TextPrinter().doprint(expr)
    return out.replace("**", "^").replace("*", "·")


@dataclass(frozen=True)
class Derivation:
    r"""A derivation that displays: claim, steps, definitions and whether it holds.

    Built by the functions of this module (``t1_…``, ``t3_…``, …, and
    :func:`chain` for a derivation of your own); not meant to be constructed
    by hand. ``bool(derivation)`` is ``holds``; ``str`` and
    ``_repr_latex_`` display it.

    Attributes
    ----------
    title : str
        What is proved, e.g. ``"Compensation identity"``.
    theory : str
        The result ID, e.g. ``"T1"``.
    claim : str
        The claim in plain text (Unicode).
    claim_latex : str
        The claim in LaTeX.
    steps : tuple of Step
        The steps, in general notation.
    where : tuple of sympy.Eq
        Definitions of the auxiliary quantities the steps use (e.g. D_λ(x)).
    chain : bool
        True: each step equals the previous one (``equation`` relates the first
        and the last); False: each step is a relation that holds on its own.
    equation : sympy.Eq or None
        For a chain, the claim as an equation between explicit expressions.
    instance : str
        The symbolic instance the steps are checked on, e.g. ``"K = 2, n = 3"``.
    holds : bool
        Whether sympy confirmed every step (and, for a chain, both ends of the
        equation).
    residuals : tuple of sympy expressions
        The simplified residual of every check, in order: for a chain, first
        step − lhs, then each step − the previous one, then last step − rhs (0
        where it holds); for facts, lhs − rhs of every step (0 for an equation
        that holds, an expression of the checked sign for an inequality).

    Examples
    --------
    >>> d = t1_jsd_entropy_form(K=2, n=2)
    >>> print(str(d).splitlines()[1])
    claim: Σ_k λ_k KL(D_k‖D_λ) = H(D_λ) − Σ_k λ_k H(D_k)
    >>> d.residuals
    (0, 0, 0, 0)
    """

    title: str
    theory: str
    claim: str
    claim_latex: str
    steps: tuple[Step, ...]
    where: tuple[sp.Eq, ...]
    chain: bool
    equation: sp.Eq | None
    instance: str
    holds: bool
    residuals: tuple[sp.Basic, ...]
    _concrete: Callable[[sp.Basic], sp.Basic] = field(repr=False, compare=False)

    def instantiate(self, expr) -> sp.Basic:
        """``expr`` (written with this derivation's symbols) on the checked instance.

        The definitions in ``where`` are substituted, the sums expanded for the
        instance's sizes and the entries replaced by the instance's symbols (rows
        on the simplex); derivatives and limits are evaluated.

        Parameters
        ----------
        expr : sympy expression or str
            Written with the derivation's symbols, e.g. ``sympy.IndexedBase("lambda")[1]``
            for λ_1 or ``sympy.IndexedBase("D")[1, 2]`` for D_1(x = 2).

        Returns
        -------
        sympy.Basic
            The expression on the instance.

        Examples
        --------
        On the instance, λ is a symbolic point of the simplex, so its entries sum to 1:

        >>> import sympy as sp
        >>> lam = sp.IndexedBase("lambda")
        >>> t1_jsd_entropy_form(K=2, n=2).instantiate(lam[1] + lam[2])
        1
        """
        return self._concrete(sp.sympify(expr))

    def __bool__(self) -> bool:
        return self.holds

    def __str__(self) -> str:
        lines = [f"{self.theory}: {self.title}", f"claim: {self.claim}"]
        for i, step in enumerate(self.steps, start=1):
            lead = "=" if self.chain and i > 1 else " "
            lines += [f"({i}) {step.label}", f"  {lead} {_text(step.expr)}"]
        if self.where:
            lines.append("where")
            lines += [f"    {_text(d)}" for d in self.where]
        verdict = "holds" if self.holds else "DOES NOT HOLD"
        lines.append(f"checked symbolically on {self.instance}: {verdict}")
        return "\n".join(lines)

    def _repr_latex_(self) -> str:
        rows = [
            rf"&\textbf{{{_tex_text(self.theory)}: {_tex_text(self.title)}}}",
            rf"&\text{{Claim: }} {self.claim_latex}",
        ]
        for i, step in enumerate(self.steps):
            lead = "= " if self.chain and i > 0 else ""
            rows.append(rf"&{lead}{sp.latex(step.expr)} &&\text{{({_tex_text(step.label)})}}")
        if self.where:
            rows.append(r"&\text{where}")
            rows += [rf"&\quad {sp.latex(d)}" for d in self.where]
        verdict = "holds" if self.holds else "does NOT hold"
        rows.append(rf"&\text{{Checked symbolically on {_tex_text(self.instance)}: {verdict}}}")
        return "$$\\begin{aligned}" + r"\\ ".join(rows) + r"\end{aligned}$$"


def _concretizer(where, sizes: dict, points: dict) -> Callable[[sp.Basic], sp.Basic]:
    """The map from general notation to the instance: definitions, sizes, entries."""

    def concrete(expr: sp.Basic) -> sp.Basic:
        for _ in range(len(where) + 1):
            new = expr
            for d in where:
                if isinstance(d.lhs, AppliedUndef):
                    new = new.replace(d.lhs.func, sp.Lambda(d.lhs.args, d.rhs))
                else:
                    new = new.xreplace({d.lhs: d.rhs})
            if new == expr:
                break
            expr = new
        expr = expr.xreplace(sizes).doit()
        return expr.xreplace(points).doit()

    return concrete


def _derive(
    title, theory, claim, claim_latex, steps, *, where=(), chain, equation=None, sizes=None,
    points=None, instance,
) -> Derivation:  # fmt: skip
    """Check the steps on the instance and build the :class:`Derivation`."""
    where = tuple(where)
    concrete = _concretizer(where, dict(sizes or {}), dict(points or {}))
    residuals = []
    if chain:
        exprs = [equation.lhs, *(s.expr for s in steps), equation.rhs]
        for a, b in zip(exprs[:-1], exprs[1:], strict=True):
            residuals.append(_normalize(concrete(b) - concrete(a)))
        ok = all(r == 0 for r in residuals)
    else:
        ok = True
        for s in steps:
            good, r = _holds(s.expr, concrete)
            ok &= good
            residuals.append(r)
    return Derivation(
        title, theory, claim, claim_latex, tuple(steps), where, chain, equation, instance,
        bool(ok), tuple(residuals), concrete,
    )  # fmt: skip


def _simplex_point(name: str, size: int) -> list[sp.Expr]:
    """A symbolic point of the simplex: ``size − 1`` free positive symbols and the remainder."""
    free = list(sp.symbols(f"{name}1:{size}", positive=True))
    return [*free, 1 - sum(free)]


def _rows_of(base: sp.IndexedBase, name: str, rows: int, size: int) -> dict:
    """``base[k, x]`` (1-based) → the entries of ``rows`` symbolic points of Δ_size."""
    out = {}
    for k in range(1, rows + 1):
        for x, v in enumerate(_simplex_point(f"{name}{k}_", size), start=1):
            out[base[k, x]] = v
    return out


def _vector_of(base: sp.IndexedBase, name: str, size: int) -> dict:
    """``base[x]`` (1-based) → the entries of one symbolic point of Δ_size."""
    return {base[x]: v for x, v in enumerate(_simplex_point(name, size), start=1)}


# Symbols of the general notation: sizes, indices, the domains D, the mixture λ and the model q.
_K, _n, _V = sp.symbols("K n V", integer=True, positive=True)
_k, _j, _x, _i = sp.symbols("k j x i", integer=True, positive=True)
_D = sp.IndexedBase("D")
_lam = sp.IndexedBase("lambda")
_q = sp.IndexedBase("q")
_Dl = sp.Function("D_lambda")


def _sum_k(expr):
    return sp.Sum(expr, (_k, 1, _K))


def _sum_x(expr):
    return sp.Sum(expr, (_x, 1, _n))


def chain(title: str, equation, steps, *, where=(), theory: str = "") -> Derivation:
    r"""A derivation of your own, checked by sympy: lhs = step₁ = … = stepₘ = rhs.

    Each link of the chain (the left-hand side of ``equation`` to the first
    step, each step to the next, the last step to the right-hand side) is
    simplified after the definitions in ``where`` are substituted; the
    derivation *holds* only if every link simplifies to 0. A single wrong link
    makes it fail, and :attr:`Derivation.residuals` shows which one.

    Parameters
    ----------
    title : str
        What is proved, in words.
    equation : sympy.Eq
        The claim, lhs = rhs.
    steps : sequence of Step or of (str, sympy expression)
        The intermediate expressions, each with its reason.
    where : sequence of sympy.Eq, optional
        Definitions ``symbol = expression`` (or ``f(args) = expression``)
        substituted before each link is simplified.
    theory : str, optional
        The result it belongs to, e.g. ``"T1"``.

    Returns
    -------
    Derivation
        ``bool(derivation)`` says whether every link holds.

    Raises
    ------
    TypeError
        If ``equation`` is not a ``sympy.Eq`` or a step is not a ``Step`` or
        a (label, expression) pair.

    Examples
    --------
    >>> import sympy as sp
    >>> a, b = sp.symbols("a b")
    >>> good = chain("square of a sum", sp.Eq((a + b) ** 2, a**2 + 2*a*b + b**2),
    ...              [("expand the product", (a + b) * (a + b))])
    >>> bool(good)
    True
    >>> bad = chain("a wrong square", sp.Eq((a + b) ** 2, a**2 + b**2),
    ...             [("expand the product", (a + b) * (a + b))])
    >>> bool(bad), bad.residuals[-1]
    (False, -2*a*b)
    """
    if not isinstance(equation, sp.Equality):
        raise TypeError(f"equation must be a sympy.Eq, got {type(equation).__name__}")
    parsed = []
    for i, s in enumerate(steps):
        if isinstance(s, Step):
            parsed.append(s)
        elif isinstance(s, tuple) and len(s) == 2 and isinstance(s[0], str):
            parsed.append(Step(s[0], sp.sympify(s[1])))
        else:
            raise TypeError(f"steps[{i}] must be a Step or a (label, expression) pair")
    for i, d in enumerate(where):
        if not isinstance(d, sp.Equality):
            raise TypeError(f"where[{i}] must be a sympy.Eq, got {type(d).__name__}")
    return _derive(
        title, theory, _text(equation), sp.latex(equation), parsed, where=where, chain=True,
        equation=equation, instance="the symbols as given",
    )  # fmt: skip


# ---------------------------------------------------------------------------
# T1
# ---------------------------------------------------------------------------


def t1_compensation_identity(K: int = 2, n: int = 3) -> Derivation:
    r"""T1, compensation identity: Σ_k λ_k KL(D_k‖q) = JSD_λ(D) + KL(D_λ‖q).

    .. math:: \sum_k \lambda_k \mathrm{KL}(D_k\|q) = \mathrm{JSD}_\lambda(D)
              + \mathrm{KL}(D_\lambda\|q).

    The average divergence from the domains to any model q splits into a part
    no model can remove (the JSD of the domains) and the divergence from their
    mixture. Checked for symbolic D (K rows on Δ_n), λ ∈ Δ_K and q ∈ Δ_n.

    Parameters
    ----------
    K, n : int
        Size of the symbolic instance (≥ 1).

    Returns
    -------
    Derivation
        A chain of three steps: the definition of KL, adding and subtracting
        log D_λ(x), and Σ_k λ_k D_k(x) = D_λ(x).

    Examples
    --------
    >>> bool(t1_compensation_identity(K=2, n=2))
    True
    """
    K, n = check_int(K, "K"), check_int(n, "n")
    D, lam, q, Dl, k, x = _D, _lam, _q, _Dl, _k, _x
    where = [sp.Eq(Dl(x), sp.Sum(lam[_j] * D[_j, x], (_j, 1, _K)))]
    jsd = _sum_k(lam[k] * _sum_x(D[k, x] * sp.log(D[k, x] / Dl(x))))
    lhs = _sum_k(lam[k] * _sum_x(D[k, x] * sp.log(D[k, x] / q[x])))
    split = jsd + _sum_k(lam[k] * _sum_x(D[k, x] * sp.log(Dl(x) / q[x])))
    rhs = jsd + _sum_x(Dl(x) * sp.log(Dl(x) / q[x]))
    steps = [
        Step("definition of KL(D_k‖q)", lhs),
        Step("log(D_k/q) = log(D_k/D_λ) + log(D_λ/q)", split),
        Step("Σ_k λ_k D_k(x) = D_λ(x): the first sum is JSD_λ(D), the second KL(D_λ‖q)", rhs),
    ]
    points = _rows_of(D, "d", K, n) | _vector_of(lam, "l", K) | _vector_of(q, "q", n)
    return _derive(
        "compensation identity",
        "T1",
        "Σ_k λ_k KL(D_k‖q) = JSD_λ(D) + KL(D_λ‖q)",
        r"\sum_k \lambda_k \mathrm{KL}(D_k\|q) = \mathrm{JSD}_\lambda(D) + \mathrm{KL}(D_\lambda\|q)",
        steps,
        where=where,
        chain=True,
        equation=sp.Eq(lhs, rhs, evaluate=False),
        sizes={_K: K, _n: n},
        points=points,
        instance=f"K = {K}, n = {n}",
    )


def t1_jsd_entropy_form(K: int = 2, n: int = 3) -> Derivation:
    r"""T1, entropy form of the JSD: Σ_k λ_k KL(D_k‖D_λ) = H(D_λ) − Σ_k λ_k H(D_k).

    .. math:: \sum_k \lambda_k \mathrm{KL}(D_k\|D_\lambda) = H(D_\lambda)
              - \sum_k \lambda_k H(D_k).

    Checked for symbolic D (K rows on Δ_n) and λ ∈ Δ_K.

    Parameters
    ----------
    K, n : int
        Size of the symbolic instance (≥ 1).

    Returns
    -------
    Derivation
        A chain: split the logarithm, exchange the sums, recognize D_λ.

    Examples
    --------
    >>> bool(t1_jsd_entropy_form(K=2, n=2))
    True
    """
    K, n = check_int(K, "K"), check_int(n, "n")
    D, lam, Dl, k, x = _D, _lam, _Dl, _k, _x
    where = [sp.Eq(Dl(x), sp.Sum(lam[_j] * D[_j, x], (_j, 1, _K)))]
    lhs = _sum_k(lam[k] * _sum_x(D[k, x] * sp.log(D[k, x] / Dl(x))))
    own = _sum_k(lam[k] * _sum_x(D[k, x] * sp.log(D[k, x])))
    split = own - _sum_x(_sum_k(lam[k] * D[k, x]) * sp.log(Dl(x)))
    rhs = -_sum_x(Dl(x) * sp.log(Dl(x))) - _sum_k(lam[k] * -_sum_x(D[k, x] * sp.log(D[k, x])))
    steps = [
        Step("definition of KL(D_k‖D_λ)", lhs),
        Step("split the logarithm and exchange the sums over k and x", split),
        Step("Σ_k λ_k D_k(x) = D_λ(x); this is H(D_λ) − Σ_k λ_k H(D_k)", rhs),
    ]
    return _derive(
        "entropy form of the Jensen–Shannon divergence",
        "T1",
        "Σ_k λ_k KL(D_k‖D_λ) = H(D_λ) − Σ_k λ_k H(D_k)",
        r"\sum_k \lambda_k \mathrm{KL}(D_k\|D_\lambda) = H(D_\lambda) - \sum_k \lambda_k H(D_k)",
        steps,
        where=where,
        chain=True,
        equation=sp.Eq(lhs, rhs, evaluate=False),
        sizes={_K: K, _n: n},
        points=_rows_of(D, "d", K, n) | _vector_of(lam, "l", K),
        instance=f"K = {K}, n = {n}",
    )


# ---------------------------------------------------------------------------
# T9
# ---------------------------------------------------------------------------


def t9_product_jsd_gap(K: int = 2, V: int = 2) -> Derivation:
    r"""T9 for the ``product`` class on sequences of length T = 2 with symbolic marginals.

    Domains D_k = a_k ⊗ b_k (D_k(i, j) = a_k(i) b_k(j), with a_k, b_k symbolic
    points of Δ_V), λ ∈ Δ_K; aggregate retraining returns h_λ = ā ⊗ b̄ with
    ā = Σ_k λ_k a_k and b̄ = Σ_k λ_k b_k. The chain proves
    KL(D_λ‖h_λ) = H(h_λ) − Σ_k λ_k H(D_k) − JSD_λ(D)
    = JSD_λ(a) + JSD_λ(b) − JSD_λ(D):

    .. math:: \mathrm{KL}(D_\lambda\|h_\lambda)
              = H(h_\lambda) - \sum_k\lambda_k H(D_k) - \mathrm{JSD}_\lambda(D)
              = \mathrm{JSD}_\lambda(a) + \mathrm{JSD}_\lambda(b) - \mathrm{JSD}_\lambda(D).

    Every log is expanded into logs of the symbolic coordinates and of the
    mixtures, so a zero residual is an identity in those atoms, stronger than
    the claim.

    Parameters
    ----------
    K, V : int
        Number of domains and alphabet size of each position (≥ 1).

    Returns
    -------
    Derivation
        A chain of five steps, from KL(D_λ‖h_λ) to the positional JSDs.

    Examples
    --------
    >>> bool(t9_product_jsd_gap(K=2, V=2))
    True
    """
    K, V = check_int(K, "K"), check_int(V, "V")
    a, b, lam, k, i, j = sp.IndexedBase("a"), sp.IndexedBase("b"), _lam, _k, _i, _j
    el = sp.Symbol("r", integer=True, positive=True)
    abar, bbar, Dl = sp.Function("abar"), sp.Function("bbar"), sp.Function("D_lambda")
    where = [
        sp.Eq(abar(i), sp.Sum(lam[el] * a[el, i], (el, 1, _K))),
        sp.Eq(bbar(j), sp.Sum(lam[el] * b[el, j], (el, 1, _K))),
        sp.Eq(Dl(i, j), sp.Sum(lam[el] * a[el, i] * b[el, j], (el, 1, _K))),
    ]

    def sum_i(e):
        return sp.Sum(e, (i, 1, _V))

    def sum_j(e):
        return sp.Sum(e, (j, 1, _V))

    def sum_ij(e):
        return sp.Sum(e, (i, 1, _V), (j, 1, _V))

    H_abar = -sum_i(abar(i) * sp.log(abar(i)))
    H_bbar = -sum_j(bbar(j) * sp.log(bbar(j)))
    jsd_D = _sum_k(lam[k] * sum_ij(a[k, i] * b[k, j] * sp.log(a[k, i] * b[k, j] / Dl(i, j))))
    H_D = _sum_k(lam[k] * -sum_ij(a[k, i] * b[k, j] * sp.log(a[k, i] * b[k, j])))
    lhs = sum_ij(Dl(i, j) * sp.log(Dl(i, j) / (abar(i) * bbar(j))))
    marginals = sum_ij(Dl(i, j) * sp.log(Dl(i, j))) + H_abar + H_bbar
    gap = H_abar + H_bbar - H_D - jsd_D
    own_a = _sum_k(lam[k] * sum_i(a[k, i] * sp.log(a[k, i])))
    own_b = _sum_k(lam[k] * sum_j(b[k, j] * sp.log(b[k, j])))
    entropies = (H_abar + own_a) + (H_bbar + own_b) - jsd_D
    positional = (
        _sum_k(lam[k] * sum_i(a[k, i] * sp.log(a[k, i] / abar(i))))
        + _sum_k(lam[k] * sum_j(b[k, j] * sp.log(b[k, j] / bbar(j))))
        - jsd_D
    )
    steps = [
        Step("KL(D_λ‖h_λ) with h_λ(i, j) = ā(i) b̄(j)", lhs),
        Step("the marginals of D_λ are ā and b̄: this is −H(D_λ) + H(ā) + H(b̄)", marginals),
        Step("T1: H(D_λ) = Σ_k λ_k H(D_k) + JSD_λ(D), and H(h_λ) = H(ā) + H(b̄)", gap),
        Step("H(a_k ⊗ b_k) = H(a_k) + H(b_k)", entropies),
        Step("T1 (entropy form) for a and b: JSD_λ(a) + JSD_λ(b) − JSD_λ(D)", positional),
    ]
    points = _rows_of(a, "a", K, V) | _rows_of(b, "b", K, V) | _vector_of(lam, "l", K)
    return _derive(
        "aggregate retraining in the product class loses a JSD gap",
        "T9",
        "KL(D_λ‖h_λ) = H(h_λ) − Σ_k λ_k H(D_k) − JSD_λ(D) = JSD_λ(a) + JSD_λ(b) − JSD_λ(D)",
        r"\mathrm{KL}(D_\lambda\|h_\lambda) = H(h_\lambda) - \sum_k\lambda_k H(D_k)"
        r" - \mathrm{JSD}_\lambda(D) = \mathrm{JSD}_\lambda(a) + \mathrm{JSD}_\lambda(b)"
        r" - \mathrm{JSD}_\lambda(D)",
        steps,
        where=where,
        chain=True,
        equation=sp.Eq(lhs, positional, evaluate=False),
        sizes={_K: K, _V: V},
        points=points,
        instance=f"K = {K}, T = 2, V = {V}",
    )


# ---------------------------------------------------------------------------
# T11
# ---------------------------------------------------------------------------


def t11_lipschitz_constant(K: int = 2) -> Derivation:
    r"""T11: the gate loss f(u) = −log Σ_k softmax(u)_k p_k is 2-Lipschitz in the logits u.

    For the ℓ∞/ℓ1 pairing, ‖∂f/∂u‖₁ ≤ 2, and 2 is sharp. Here u ∈ R^K are the
    logits of a gate at one point x, g = softmax(u) its weights, p_k = p_k(x)
    the experts' probabilities and p_g = Σ_k g_k p_k the model's probability;
    f = −log p_g is the loss of that point. This constant enters the
    generalization bound of T11 through vector contraction (Maurer [1]_).

    .. math:: f(u) = -\log \sum_k \mathrm{softmax}(u)_k\, p_k, \qquad
              \Bigl\|\frac{\partial f}{\partial u}\Bigr\|_1 \le 2.

    The facts: (i) ∂f/∂u_k = g_k(1 − p_k/p_g); (ii) writing it as a_k − b_k
    with a_k = g_k and b_k = g_k p_k/p_g, both a and b are positive and sum to
    1, so by the triangle inequality ‖a − b‖₁ ≤ ‖a‖₁ + ‖b‖₁ = 2;
    (iii) along the gate g = (1 − e, e, 0, …) (its weights sum to 1) and
    p = (e², 1, …), the norm tends to 2 as e → 0.

    Parameters
    ----------
    K : int
        Number of experts (≥ 2).

    Returns
    -------
    Derivation
        A list of facts: K derivatives, two normalizations, 2K signs, the
        witness's normalization (it is a gate) and one limit.

    References
    ----------
    .. [1] A. Maurer, "A vector-contraction inequality for Rademacher
       complexities", Algorithmic Learning Theory (ALT), 2016.

    Examples
    --------
    >>> bool(t11_lipschitz_constant(K=2))
    True
    """
    K = check_int(K, "K", minimum=2)
    u = sp.symbols(f"u1:{K + 1}", real=True)
    p = sp.symbols(f"p1:{K + 1}", positive=True)
    # No assumptions on g and p_g: "g_k > 0" must stay a claim to check, not a given.
    g = sp.symbols(f"g1:{K + 1}")
    pg = sp.Symbol("p_g")
    f = sp.Function("f")
    total = sum(sp.exp(uk) for uk in u)
    where = [
        *(sp.Eq(g[k], sp.exp(u[k]) / total) for k in range(K)),
        sp.Eq(pg, sum(gk * pk for gk, pk in zip(g, p, strict=True))),
        sp.Eq(f(*u), -sp.log(pg)),
    ]
    steps = [
        Step(f"chain rule through the softmax (k = {k + 1})", sp.Eq(sp.Derivative(f(*u), u[k]), g[k] * (1 - p[k] / pg)))
        for k in range(K)
    ]  # fmt: skip
    steps.append(Step("a = g is a probability vector", sp.Eq(sum(g), 1)))
    steps.append(
        Step(
            "b = g p / p_g is a probability vector; so ‖a − b‖₁ ≤ ‖a‖₁ + ‖b‖₁ = 2",
            sp.Eq(sum(gk * pk / pg for gk, pk in zip(g, p, strict=True)), 1),
        )
    )
    steps += [Step(f"a_{k + 1} > 0", sp.StrictGreaterThan(g[k], 0)) for k in range(K)]
    steps += [Step(f"b_{k + 1} > 0", sp.StrictGreaterThan(g[k] * p[k] / pg, 0)) for k in range(K)]
    e = sp.Symbol("e", positive=True)
    gs = [1 - e, e] + [0] * (K - 2)
    steps.append(
        Step(
            "the witness g = (1 − e, e, 0, …) is a gate: its weights sum to 1",
            sp.Eq(sum(gs), 1, evaluate=False),
        )
    )
    ps = [e**2, sp.Integer(1)] + [sp.Integer(1)] * (K - 2)
    pgs = sum(gk * pk for gk, pk in zip(gs, ps, strict=True))
    # For small e, g_1 p_1 / p_g < g_1 and g_2 p_2 / p_g > g_2: the signs of the two
    # terms are fixed.
    norm = (gs[0] - gs[0] * ps[0] / pgs) + (gs[1] * ps[1] / pgs - gs[1])
    steps.append(
        Step(
            "along g = (1 − e, e, 0, …), p = (e², 1, …) the norm tends to 2: the constant is sharp",
            sp.Eq(sp.Limit(norm, e, 0, "+"), 2),
        )
    )
    return _derive(
        "the gate loss is 2-Lipschitz in the logits",
        "T11",
        "‖∂f/∂u‖₁ ≤ 2 for f(u) = −log Σ_k softmax(u)_k p_k, and 2 is sharp",
        r"\Bigl\|\frac{\partial f}{\partial u}\Bigr\|_1 \le 2,\quad f(u) = -\log\sum_k"
        r" \mathrm{softmax}(u)_k\, p_k",
        steps,
        where=where,
        chain=False,
        instance=f"K = {K}",
    )


# ---------------------------------------------------------------------------
# T3, T5
# ---------------------------------------------------------------------------


def t3_water_filling_kkt() -> Derivation:
    r"""T3: q*(x) = clip(t(x)/ν, ℓ(x), u(x)) is the KKT point of the water-filling problem.

    The problem is min −Σ_x t(x) log q(x) subject to ℓ ≤ q ≤ u and Σ_x q(x) = 1,
    where t = D_λ is the target mixture, ℓ(x) = min_k p_k(x) and
    u(x) = max_k p_k(x) the experts' envelope, and ν > 0 the multiplier of the
    mass constraint (the water level):

    .. math:: q^*(x) = \mathrm{clip}\bigl(t(x)/\nu,\ \ell(x),\ u(x)\bigr)
              = \arg\min_{\ell\le q\le u,\ \sum_x q(x) = 1}\ -\sum_x t(x)\log q(x).

    Per coordinate the Lagrangian is f(q) − α(q − ℓ) + β(q − u) with
    f(q) = −t log q + ν q (convex: f'' = t/q² > 0). Stationarity gives: on the
    free set q = t/ν; at q = ℓ the multiplier α = f'(ℓ) = (ν/ℓ)(ℓ − t/ν), which
    is ≥ 0 exactly when t/ν ≤ ℓ; at q = u, β = −f'(u) = (ν/u)(t/ν − u), ≥ 0
    exactly when t/ν ≥ u. So the clip of t/ν is the KKT point, and ν is fixed
    by Σq = 1.

    Returns
    -------
    Derivation
        A list of four facts on one coordinate (convexity, stationarity, the
        signs of the two multipliers).

    Examples
    --------
    >>> bool(t3_water_filling_kkt())
    True
    """
    t, nu, lo, hi, q = sp.symbols("t nu ell u q", positive=True)
    f = sp.Function("f")
    where = [sp.Eq(f(q), -t * sp.log(q) + nu * q)]

    def slope_at(point):
        return sp.Subs(sp.Derivative(f(q), q), q, point)

    steps = [
        Step("the per-coordinate objective is strictly convex", sp.StrictGreaterThan(sp.Derivative(f(q), (q, 2)), 0)),
        Step("free coordinate: q = t/ν is stationary", sp.Eq(slope_at(t / nu), 0)),
        Step("q clipped at ℓ: the multiplier α = f′(ℓ) is ≥ 0 exactly when t/ν ≤ ℓ", sp.Eq(slope_at(lo), nu / lo * (lo - t / nu))),
        Step("q clipped at u: the multiplier β = −f′(u) is ≥ 0 exactly when t/ν ≥ u", sp.Eq(-slope_at(hi), nu / hi * (t / nu - hi))),
    ]  # fmt: skip
    return _derive(
        "water-filling is the KKT point",
        "T3",
        "q*(x) = clip(t(x)/ν, ℓ(x), u(x)) minimizes −Σ_x t(x) log q(x) over ℓ ≤ q ≤ u, Σ q = 1",
        r"q^*(x) = \mathrm{clip}\bigl(t(x)/\nu, \ell(x), u(x)\bigr) = \arg\min_{\ell\le q\le u,"
        r"\ \sum q = 1} -\sum_x t(x)\log q(x)",
        steps,
        where=where,
        chain=False,
        instance="one coordinate, symbols t, ν, ℓ, u > 0",
    )


def t5_dual_hessian(K: int = 2, free: int = 2) -> Derivation:
    r"""T5: on a fixed clipping pattern the dual function has Hessian −A + a aᵀ/T.

    The dual function d(λ) = min over normalized gates of Σ_k λ_k L_k(p_g) is
    concave (T5). With t = Σ_k λ_k D_k, a free set F where q = s·t, one point
    clipped at ℓ and one at u, the mass constraint fixes s = (1 − ℓ − u)/Σ_F t,
    and d(λ) = −Σ_F t log(s t) − t_ℓ log ℓ − t_u log u. Its second derivatives
    are ∂²d/∂λ_j∂λ_k = −Σ_{x∈F} D_j(x) D_k(x)/t(x) + a_j a_k/T, with
    a_k = Σ_F D_k and T = Σ_F t (the matrix the dual solver's Newton steps use):

    .. math:: \frac{\partial^2 d}{\partial\lambda_j\partial\lambda_k}
              = -\sum_{x\in F}\frac{D_j(x) D_k(x)}{t(x)} + \frac{a_j a_k}{T}.

    Parameters
    ----------
    K : int
        Number of domains (≥ 1).
    free : int
        Size of the free set F (≥ 1); two more points are clipped, at ℓ and at u.

    Returns
    -------
    Derivation
        One fact per entry (j, k), j ≤ k, of the Hessian.

    Examples
    --------
    >>> bool(t5_dual_hessian(K=2, free=1))
    True
    """
    K, free = check_int(K, "K"), check_int(free, "free")
    lam = sp.symbols(f"lambda1:{K + 1}", positive=True)
    D = sp.IndexedBase("D", positive=True)
    lo, hi, s, T = sp.symbols("ell u s T", positive=True)
    x, kk = sp.symbols("x k", integer=True, positive=True)
    t, a, d = sp.Function("t"), sp.Function("a"), sp.Function("d")
    F = (x, 1, free)
    where = [
        sp.Eq(t(x), sum(lam[k] * D[k + 1, x] for k in range(K))),
        sp.Eq(T, sp.Sum(t(x), F)),
        sp.Eq(a(kk), sp.Sum(D[kk, x], F)),
        sp.Eq(s, (1 - lo - hi) / T),
        sp.Eq(
            d(*lam),
            -sp.Sum(t(x) * sp.log(s * t(x)), F) - t(free + 1) * sp.log(lo) - t(free + 2) * sp.log(hi),
        ),
    ]  # fmt: skip
    steps = []
    for j in range(K):
        for k in range(j, K):
            hess = -sp.Sum(D[j + 1, x] * D[k + 1, x] / t(x), F) + a(j + 1) * a(k + 1) / T
            steps.append(
                Step(
                    f"second derivative in λ_{j + 1}, λ_{k + 1}",
                    sp.Eq(sp.Derivative(d(*lam), lam[j], lam[k]), hess),
                )
            )
    return _derive(
        "Hessian of the dual function on a clipping pattern",
        "T5",
        "∂²d/∂λ_j∂λ_k = −Σ_{x∈F} D_j(x) D_k(x)/t(x) + a_j a_k / T",
        r"\frac{\partial^2 d}{\partial\lambda_j\partial\lambda_k} = -\sum_{x\in F}"
        r" \frac{D_j(x) D_k(x)}{t(x)} + \frac{a_j a_k}{T}",
        steps,
        where=where,
        chain=False,
        instance=f"K = {K}, |F| = {free} free points, one clipped at ℓ and one at u",
    )
