"""Exact finite-alphabet mathematics of modular learning of robust generative models.

Cortes, Mohri & Zhong, *A Theoretical Framework for Modular Learning of Robust
Generative Models*, arXiv:2602.17554 (2026). Each public module holds one
result family: ``divergences`` (T1), ``gates`` (T2), ``objectives`` and
``mixtures`` (the losses L_k and the sets Λ of the game), ``minimax`` (T3–T7),
``best_response`` (T4), ``capacity`` (T6), ``monolithic`` (T8–T10), ``bounds``
(T11), ``symbolic`` (proofs on small symbolic instances), ``validation`` (the
input checks) and ``results`` (what certified results share).

The engine of the certified minimax solvers is re-exported here
(:class:`NewtonAscent`, :class:`Cut`, :class:`DualOracle`) for the comparators
of :mod:`sims.monolithic`, which maximize another concave dual function the
same way.
"""

from theory import divergences, gates, mixtures, objectives, results, validation
from theory._dual_newton import Cut, DualOracle, NewtonAscent
from theory.validation import ArgumentTypeError, InfeasibleError

__all__ = [
    "divergences",
    "gates",
    "mixtures",
    "objectives",
    "results",
    "validation",
    "Cut",
    "DualOracle",
    "NewtonAscent",
    "ArgumentTypeError",
    "InfeasibleError",
]
