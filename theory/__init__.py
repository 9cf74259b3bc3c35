"""Exact finite-alphabet mathematics of modular learning of robust generative models.

The setting of Cortes, Mohri & Zhong [1]_: K data sources (domains) D_1, …, D_K,
distributions on a finite set X of n outcomes, and one pre-trained expert
p_k per domain, all stored as the rows of (K, n) arrays ``D`` and ``P``. A gate
g weighs the experts point by point, p_g(x) = Σ_k g_k(x) p_k(x), and the robust
gate minimizes the worst case, over the mixtures λ of a set Λ ⊆ Δ_K, of the
payoff Σ_k λ_k KL(D_k‖p_g) (in nats). The results are numbered T1…T12 as on the
theory pages of the documentation, and every symbol is listed on its notation
page.

Each public module holds one result family: ``divergences`` (T1), ``gates`` (T2), ``objectives`` and
``mixtures`` (the losses L_k and the sets Λ of the game), ``minimax`` (T3–T7),
``best_response`` (T4), ``capacity`` (T6), ``monolithic`` (T8–T10), ``bounds``
(T11), ``symbolic`` (proofs on small symbolic instances), ``validation`` (the
input checks) and ``results`` (what certified results share).

The engine of the certified minimax solvers is re-exported here
(:class:`NewtonAscent`, :class:`Cut`, :class:`DualOracle`) for the comparators
of :mod:`sims.monolithic`, which maximize another concave dual function the
same way.

References
----------
.. [1] C. Cortes, M. Mohri and Y. Zhong, "A Theoretical Framework for Modular
   Learning of Robust Generative Models", arXiv:2602.17554, 2026.

Examples
--------
>>> import numpy as np
>>> from theory.minimax import robust_gate
>>> D = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])  # 2 domains, 3 outcomes
>>> P = np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])  # their experts
>>> result = robust_gate(D, P)
>>> round(result.value, 6), result.converged  # V* in nats
(0.236827, True)
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
