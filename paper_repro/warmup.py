"""Compile (or load from numba's cache) every kernel the experiments use, up front.

The divergences, the dual solver's passes, Blahut–Arimoto, the input checks of
``theory``, the primal-dual steps of ``sims.primal_dual`` and the
distillation/sampling loops of ``sims.distill`` are numba
kernels compiled with ``cache=True``: the first call in a fresh environment
compiles them, later processes load them from the on-disk cache in well under
a second. Numba compiles one version per argument type, and for arrays the type
includes the memory layout and whether the array is read-only. The kernels of
``theory`` always receive read-only C-contiguous float64 views (so one call of
each public function compiles everything it needs); those of ``sims.distill``
see the types the experiments pass (read-only domains from ``sims.wordfreq``,
read-only index arrays of the trie), which the calls below reproduce.

``modgate reproduce`` calls :func:`warm_up` before its progress bar starts, so
that the compilation time is not charged to the first experiment (a misleading
ETA) and is announced as what it is.
"""

from __future__ import annotations

import numpy as np

from sims.distill import (
    Trie,
    distill_router,
    posterior_router,
    router_model,
    sample_rejection,
    sample_router,
)
from sims.primal_dual import stochastic_primal_dual
from theory import objectives
from theory.capacity import blahut_arimoto
from theory.divergences import (
    cross_entropy,
    cross_entropy_rows,
    entropy,
    entropy_rows,
    jsd,
    kl,
    kl_rows,
    mixture,
)
from theory.minimax import dual_function, fixed_mixture, robust_gate

__all__ = ["warm_up", "warm_up_theory", "warm_up_primal_dual", "warm_up_distillation"]


def _instance(K: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Tiny domains D and full-support experts P, both (K, n) float64, C order."""
    rng = np.random.default_rng(seed)
    D = rng.dirichlet(np.ones(n), size=K)
    P = 0.5 * D + 0.5 * rng.dirichlet(np.ones(n), size=K)
    return D, P / P.sum(axis=1, keepdims=True)


def _divergences(D: np.ndarray, P: np.ndarray) -> None:
    lam = np.full(D.shape[0], 1.0 / D.shape[0])
    q = P[0]
    kl_rows(D, q)
    cross_entropy_rows(D, q)
    entropy_rows(D)
    jsd(lam, D)
    mixture(lam, D)
    entropy(q)
    kl(D[0], q)
    cross_entropy(D[0], q)


def _solvers(D: np.ndarray, P: np.ndarray) -> None:
    lam = np.full(D.shape[0], 1.0 / D.shape[0])
    for objective in objectives.names():
        robust_gate(D, P, objective=objective)
        fixed_mixture(D, P, lam, objective=objective)
        dual_function(D, P, lam, objective=objective)
    blahut_arimoto(D)


def _distillation() -> None:
    strings = ["a", "ab", "abc", "b", "ba", "c"]
    D, P = _instance(2, len(strings), seed=2)
    trie = Trie(strings)
    # The uniform gate is normalized (Z = Σ_x Σ_k p_k(x)/K = 1) and needs no
    # solver: a separate process warming up these kernels compiles nothing else.
    gate = np.full_like(P, 1.0 / P.shape[0])
    target = P.mean(axis=0)
    res = distill_router(trie, P, 0.5 * target + 0.5 * D[0], tol=1e-8)
    router_model(trie, P, posterior_router(trie, P, np.full(2, 0.5)))
    sample_rejection(trie, P, gate, 20, seed=0)
    sample_router(trie, P, res.router, 20, seed=0)


def warm_up_theory() -> None:
    """Compile (or load) the kernels of ``theory``: divergences, solvers, checks.

    Examples
    --------
    >>> warm_up_theory()
    """
    D, P = _instance(3, 8, seed=0)
    _divergences(D, P)
    _solvers(D, P)


def warm_up_primal_dual() -> None:
    """Compile (or load) the steps of :func:`sims.primal_dual.stochastic_primal_dual`.

    The compiled runs of the two built-in gates; ``modgate reproduce`` compiles
    them in a separate process while the experiments before the first one that
    needs them run.

    Examples
    --------
    >>> warm_up_primal_dual()
    """
    D, P = _instance(3, 8, seed=0)
    for gate in ("tabular", "loglik"):
        stochastic_primal_dual(D, P, gate=gate, steps=2, batch=2, reference=False)


def warm_up_distillation() -> None:
    """Compile (or load) the kernels of ``sims.distill`` (routers and samplers).

    They take most of the compilation time of a first run and only the
    distillation experiments use them, so ``modgate reproduce`` compiles them
    in a separate process while the other experiments run.

    Examples
    --------
    >>> warm_up_distillation()
    """
    _distillation()


def warm_up() -> None:
    """Call the public functions of ``theory`` and ``sims`` once on tiny inputs.

    Every numba kernel they reach is compiled, or loaded from numba's on-disk
    cache, for the array types the experiments pass. The results are
    discarded; the call takes a fraction of a second once the cache is filled.

    Examples
    --------
    >>> warm_up()
    """
    warm_up_theory()
    warm_up_primal_dual()
    warm_up_distillation()
