"""Exact finite-alphabet mathematics of modular learning of robust generative models.

Cortes, Mohri & Zhong, *A Theoretical Framework for Modular Learning of Robust
Generative Models*, arXiv:2602.17554 (2026). Each module holds one result family
of THEORY.md: ``divergences`` (T1), ``gates`` (T2), ``mixtures`` (the sets Λ).
"""

from theory import divergences, gates, mixtures, validation
from theory.validation import InfeasibleError

__all__ = ["divergences", "gates", "mixtures", "validation", "InfeasibleError"]
