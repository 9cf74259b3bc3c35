"""B4: exact rejection sampling of p_g against ancestral sampling of the distilled router.

Distillation (S9, :mod:`sims.distill`): to sample the model p_g = Σ_k g_k p_k
of a gate g, rejection proposes from (1/K) Σ_k p_k and accepts 1/K of the proposals,
each scored under all K experts along its whole path; the router draws one
symbol at a time with K router weights per symbol. Both samplers get the same
prebuilt trie, the same experts and the same number of samples; timings are
medians of ≥ 5 repeats taken side by side. Target: router samples/s ≥ K× the
rejection sampler's at K = 8.

Examples
--------
A small run (the benchmark itself uses 5000 strings and 100 000 samples):

>>> from benchmarks.b4_sampling import run
>>> rows = run(ks=(2,), n=200, size=2000, repeats=1)
>>> rows[0]["K"], rows[0]["one_over_K"]
(2, 0.5)
"""

from __future__ import annotations

import numpy as np

from benchmarks._common import median_time, save, table
from sims.distill import Trie, distill_router, sample_rejection, sample_router
from sims.domains import dirichlet_domains
from sims.experts import ngram_experts
from theory.minimax import robust_gate

KS = (2, 4, 8)
N_STRINGS = 5000
SIZE = 100_000


def random_strings(n: int, alphabet: str = "abcdef", max_len: int = 8, seed: int = 0) -> list:
    """``n`` distinct random strings over ``alphabet`` with lengths 1..``max_len``.

    Parameters
    ----------
    n : int
        Number of strings; at most the number of such strings.
    alphabet : str, default "abcdef"
        The letters.
    max_len : int, default 8
        The longest length.
    seed : int, default 0
        Randomness.

    Returns
    -------
    list of str
        Sorted.

    Examples
    --------
    >>> random_strings(5, seed=0)
    ['ddbbaaa', 'ddfedddf', 'ed', 'eea', 'fdae']
    """
    rng = np.random.default_rng(seed)
    letters = np.array(list(alphabet))
    out: set = set()
    while len(out) < n:
        out.add("".join(rng.choice(letters, rng.integers(1, max_len + 1))))
    return sorted(out)


def instance(K: int, strings: list, seed: int = 0):
    """Domains, bigram experts trained on them, the robust gate and its distilled router.

    Parameters
    ----------
    K : int
        Number of domains and experts.
    strings : list of str
        The distinct strings of X.
    seed : int, default 0
        Randomness of the domains and of the experts' samples.

    Returns
    -------
    trie : Trie
        The prefix trie of ``strings``.
    P : ndarray, shape (K, n)
        Character bigram experts (:func:`sims.experts.ngram_experts`).
    gate : ndarray, shape (K, n)
        The robust gate (:func:`theory.minimax.robust_gate`).
    router : RouterResult
        The causal router distilled from the gate's model.

    Examples
    --------
    >>> trie, P, gate, router = instance(2, random_strings(200))
    >>> P.shape, router.converged
    ((2, 200), True)
    """
    trie = Trie(strings)
    D = dirichlet_domains(K, len(strings), separation=1.5, seed=seed)
    P = ngram_experts(strings, D, order=2, m=20_000, seed=seed + 1)
    gate = robust_gate(D, P).gate
    target = np.einsum("kn,kn->n", gate, P)
    return trie, P, gate, distill_router(trie, P, target)


def run(ks=KS, n: int = N_STRINGS, size: int = SIZE, repeats: int = 5) -> list[dict]:
    """Time both samplers for every K; one row per K.

    Parameters
    ----------
    ks : sequence of int, default (2, 4, 8)
        The numbers of experts.
    n : int, default 5000
        Number of random strings.
    size : int, default 100000
        Samples per sampler and repeat.
    repeats : int, default 5
        Timings per sampler; the median is reported.

    Returns
    -------
    list of dict
        ``K``, ``n``, ``samples``, ``rejection_per_s``, ``router_per_s``,
        ``speedup`` (router over rejection), ``target_speedup`` (K), the
        measured ``acceptance`` against ``one_over_K``, and ``router_kl`` (the
        distillation's KL(p_g‖q_r)).

    Examples
    --------
    See the module example.
    """
    strings = random_strings(n)
    rows = []
    for K in ks:
        trie, P, gate, res = instance(K, strings, seed=K)
        args = (trie, P)
        rej = median_time(lambda a=args, g=gate: sample_rejection(*a, g, size, seed=1), repeats)
        rou = median_time(lambda a=args, r=res.router: sample_router(*a, r, size, seed=1), repeats)
        rows.append(
            {
                "K": K,
                "n": n,
                "samples": size,
                "rejection_per_s": size / rej,
                "router_per_s": size / rou,
                "speedup": rej / rou,
                "target_speedup": K,
                "acceptance": sample_rejection(trie, P, gate, size, seed=2).acceptance_rate,
                "one_over_K": 1.0 / K,
                "router_kl": res.kl,
            }
        )
    return rows


def main() -> None:
    """Run B4 at full size, print its table and save ``results/B4.json``."""
    rows = run()
    print(
        table(
            rows,
            [
                "K",
                "n",
                "samples",
                "rejection_per_s",
                "router_per_s",
                "speedup",
                "target_speedup",
                "acceptance",
                "one_over_K",
                "router_kl",
            ],
        )
    )
    print("target: router samples/s ≥ K × rejection's (required at K = 8)")
    print("saved", save("B4", {"rows": rows}))


if __name__ == "__main__":
    main()
