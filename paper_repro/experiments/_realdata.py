r"""The real-data setup shared by E5 and E10: word-frequency domains, n-gram experts, comparators.

Domains are languages: D_k is the word-frequency table of language k
(``wordfreq``) restricted to a finite set X of words and renormalized
(``sims.wordfreq``). Experts are character n-gram models of order r trained on m
words sampled from each D_k and renormalized on X (``sims.experts.ngram_experts``).
Aggregate retraining is ONE n-gram of the same order trained on K·m words drawn
i.i.d. from the pooled law D_α, with the size-proportional weights
α_k = m_k / Σ_j m_j (uniform here, since every language contributes m words).

The data-weighting comparators of :mod:`sims.monolithic` run in the
class H = Δ(X) with the experts standing in for the domains (D := P, all a user
holds once the experts are trained): there, retraining on weights α returns
Σ_k α_k p_k, so group DRO and RegMix each return a heuristic mixture of the same
experts, and parameter merging returns the renormalized geometric mixture
∝ Π_k p_k^{1/K}, which is what averaging the n-gram log-parameters gives after
renormalizing on X. By T10, none of these mixtures of the experts can beat the
robust gate's worst case.

Examples
--------
>>> from paper_repro.experiments._realdata import params, real_domains
>>> small = {**params("quick"), "languages": ["en", "fr"], "top_n": 30, "max_len": 4, "m": 500}
>>> setup = real_domains(small)
>>> setup["D"].shape == setup["P"].shape, setup["alpha"]
(True, array([0.5, 0.5]))
"""

from __future__ import annotations

import functools

import numpy as np

from sims.experts import ngram_experts
from sims.monolithic import group_dro, merge_experts, regmix
from sims.wordfreq import wordfreq_domains

__all__ = ["comparators", "params", "real_domains"]


def params(mode: str) -> dict:
    """Languages, vocabulary, n-gram experts and seeds of the real-data setup for ``mode``.

    Parameters
    ----------
    mode : {"quick", "full"}
        ``"quick"``: 4 languages, each one's top 2000 words; ``"full"``: 8 languages,
        top 20 000 words.

    Returns
    -------
    dict
        ``languages, top_n, max_len, order, m, beta, expert_seed, pooled_seed, regmix_seed``.

    Examples
    --------
    >>> params("quick")["languages"], params("full")["top_n"]
    (['en', 'de', 'fr', 'es'], 20000)
    """
    quick = mode == "quick"
    return {
        "languages": ["en", "de", "fr", "es"]
        if quick
        else ["en", "de", "fr", "es", "it", "nl", "pt", "sv"],
        "top_n": 2000 if quick else 20000,
        "max_len": 12,
        "order": 2,
        "m": 20000 if quick else 200000,
        "beta": 0.5,
        "expert_seed": 10,
        "pooled_seed": 11,
        "regmix_seed": 12,
    }


# The keys of params() that determine real_domains().
_SETUP = ("languages", "top_n", "max_len", "order", "m", "beta", "expert_seed", "pooled_seed")


def real_domains(p: dict) -> dict:
    """X, D, the n-gram experts and the aggregate-retraining n-gram of the setup ``p``.

    E5 and E10 use the same setup: within one process it is built once (reading
    the word frequencies dominates) and the later call gets the same arrays,
    which neither experiment modifies.

    Parameters
    ----------
    p : dict
        The keys of :func:`params`.

    Returns
    -------
    dict
        ``strings`` (X, n words), ``D`` (K, n), ``P`` (K, n), ``sizes`` (K,) words per
        language, ``alpha`` (K,) size-proportional weights, ``pooled`` (n,) the one
        n-gram trained on K·m words drawn from D_α.

    Raises
    ------
    ValueError
        As :func:`sims.wordfreq.wordfreq_domains` and :func:`sims.experts.ngram_experts`.

    Examples
    --------
    See the module example.
    """
    key = tuple((k, tuple(p[k]) if isinstance(p[k], list) else p[k]) for k in _SETUP)
    return dict(_built(key))


@functools.lru_cache(maxsize=2)
def _built(key: tuple) -> dict:
    p = dict(key)
    dom = wordfreq_domains(p["languages"], p["top_n"], p["max_len"])
    D = dom.D
    K = D.shape[0]
    P = ngram_experts(dom.strings, D, p["order"], p["m"], p["beta"], seed=p["expert_seed"])
    sizes = np.full(K, float(p["m"]))
    alpha = sizes / sizes.sum()
    pooled = ngram_experts(
        dom.strings, (alpha @ D)[None, :], p["order"], K * p["m"], p["beta"], seed=p["pooled_seed"]
    )[0]
    return {
        "strings": dom.strings,
        "D": D,
        "P": P,
        "sizes": sizes,
        "alpha": alpha,
        "pooled": pooled,
    }


def comparators(P: np.ndarray, seed: int) -> dict[str, dict]:
    """The data-mixing comparators in H = Δ(X) with D := P; each gives a model and its weights α.

    Parameters
    ----------
    P : ndarray, shape (K, n)
        The experts, standing in for the domains.
    seed : int
        Seed of RegMix's random proxy runs.

    Returns
    -------
    dict
        ``name -> {"model": (n,), "alpha": (K,) or None}`` for group DRO, RegMix and
        parameter merging (which has no mixture weights).

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
    >>> models = comparators(P, seed=0)
    >>> sorted(models), models["parameter merging"]["model"].round(3)
    (['RegMix', 'group DRO', 'parameter merging'], array([0.398, 0.345, 0.257]))
    """
    out = {}
    dro = group_dro(P, P, family="full", objective="divergence")
    out["group DRO"] = {"model": dro.model, "alpha": dro.alpha}
    rm = regmix(P, P, family="full", seed=seed)
    out["RegMix"] = {"model": rm.model, "alpha": rm.alpha}
    out["parameter merging"] = {"model": merge_experts(P, P, family="full").model, "alpha": None}
    return out
