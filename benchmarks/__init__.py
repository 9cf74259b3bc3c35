"""Benchmarks B1–B6: side-by-side timing ratios, memory, cold start, the full reproduction.

Each module ``b<i>_<stem>.py`` times one computation of the package against a
reference implementation or a second method, on the same inputs, and writes
``benchmarks/results/B<i>.json``: B1 the divergence kernels (against the memory
floor and scipy), B2 the robust gate (dual solver against the cvxpy reference,
and its memory beyond the inputs), B3 Blahut–Arimoto, B4 the exact samplers of
the distillation (rejection against the router), B5 ``modgate reproduce
--quick`` with an empty compiled-kernel cache against a warm one, B6 the time of
``modgate reproduce --full --jobs 2`` and of each experiment in it. Speed claims
live here, never in the tests. Run them with ``python -m benchmarks [B1,B3]``.

Examples
--------
>>> from benchmarks.__main__ import available
>>> list(available())
['B1', 'B2', 'B3', 'B4', 'B5', 'B6']
"""
