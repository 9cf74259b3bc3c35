"""Compile the package's numba kernels before the gallery runs.

The kernels are cached on disk (``cache=True``), so this costs time only on the
first build of a checkout; afterwards it takes about a second.
"""

from __future__ import annotations

import numpy as np


def compile_kernels() -> None:
    from theory.capacity import blahut_arimoto
    from theory.divergences import entropy, jsd, kl, kl_rows, mixture
    from theory.minimax import dual_function, fixed_mixture, robust_gate

    D = np.array([[0.5, 0.3, 0.2], [0.1, 0.3, 0.6]])
    P = np.array([[0.4, 0.4, 0.2], [0.2, 0.2, 0.6]])
    lam = np.array([0.5, 0.5])
    entropy(D[0])
    kl(D[0], D[1])
    kl_rows(D, D[1])
    jsd(lam, D)
    mixture(lam, D)
    fixed_mixture(D, P, lam)
    dual_function(D, P, lam)
    robust_gate(D, P)
    blahut_arimoto(D)

    from sims.distill import distill_router, sample_rejection, sample_router
    from sims.experts import ngram_experts, tabular_experts
    from theory.monolithic import aggregate, interference

    strings = ["a", "ab", "b"]
    S = np.array([[0.5, 0.3, 0.2], [0.2, 0.3, 0.5]])
    E = tabular_experts(S, m=10, seed=0)
    ngram_experts(strings, S, order=1, m=10, seed=0)
    router = distill_router(strings, E, E.mean(axis=0))
    sample_router(strings, E, router.router, size=5, seed=0)
    sample_rejection(strings, E, np.full((2, 3), 0.5), size=5, seed=0)
    product = np.full((2, 4), 0.25)
    aggregate(product, lam, "product", shape=(2, 2))
    interference(product, lam, "product", shape=(2, 2))
