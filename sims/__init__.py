"""Simulations: synthetic and real domains, experts from samples, the stochastic
primal-dual algorithm, structural distillation and samplers.

Where :mod:`theory` computes the exact quantities of Cortes, Mohri & Zhong
(arXiv:2602.17554) from the full tables of the domains D and the experts P
(rows are distributions on a finite set X of n points), this package produces
such tables and learns from samples of them:

* :mod:`sims.domains`, :mod:`sims.wordfreq` — domain families D (synthetic,
  sequences, word frequencies) and imperfect experts;
* :mod:`sims.experts` — experts trained on samples (the setting of T11);
* :mod:`sims.primal_dual` — the stochastic primal-dual algorithm (T12);
* :mod:`sims.generalization` — measured generalization gaps against T11;
* :mod:`sims.monolithic` — one retrained model and data-mixing comparators (T9, T10);
* :mod:`sims.distill` — causal routers and exact samplers (S9);
* :mod:`sims.sweep` — parameter sweeps of these studies;
* :mod:`sims.adversarial` — adversarial instances for the checks.

Examples
--------
>>> from sims.domains import dirichlet_domains, noisy_experts
>>> D = dirichlet_domains(K=3, n=20, separation=1.0, seed=0)
>>> P = noisy_experts(D, noise=0.3, seed=1)
>>> D.shape, P.shape
((3, 20), (3, 20))
"""
