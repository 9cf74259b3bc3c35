"""Reproduction of the paper's experiments and the ``modgate`` command line.

The experiments E1–E11 (:mod:`paper_repro.experiments`) check the results of
Cortes, Mohri & Zhong (arXiv:2602.17554) — numbered T1…T12 and S9 as on the
theory pages of the documentation — on fresh instances, and draw one figure
each; :mod:`paper_repro.reproduce` runs them and writes ``REPORT.md``;
:mod:`paper_repro.checks` holds the rows of ``modgate verify``;
:mod:`paper_repro.plotting` is the figure style, with helpers that draw a
user's own instance; :mod:`paper_repro.distributed` runs ``verify`` and the
parameter sweeps of :mod:`sims.sweep` on a Dask cluster;
:mod:`paper_repro.cli` is the command line.

Examples
--------
>>> from paper_repro.experiments import available
>>> list(available())[:3]
['E1', 'E2', 'E3']
"""
