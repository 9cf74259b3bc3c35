"""The Examples sections of the docstrings run as written.

Every module listed here has its docstrings' examples executed with
:func:`doctest.testmod` (the module docstring, and those of its functions,
classes and methods). An example that no longer prints what the docstring
shows fails the suite, so the API reference stays true to the code. Each
module must hold at least one example: a module whose examples all vanished
fails too.
"""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest

MODULES = [
    "theory",
    "theory.objectives",
    "theory.results",
    "theory.evaluate",
    "theory.mixtures",
    "theory.monolithic",
    "theory.best_response",
    "theory.symbolic",
    "theory._dual_newton",
    "theory._conic",
    "theory._kernels",
    "theory.validation",
    "theory.divergences",
    "theory.gates",
    "theory.minimax",
    "theory._fill",
    "theory.capacity",
    "theory.bounds",
    "sims",
    "sims.domains",
    "sims.experts",
    "sims.wordfreq",
    "sims.monolithic",
    "sims.primal_dual",
    "sims.distill",
    "sims._trie",
    "sims.sweep",
    "sims.generalization",
    "paper_repro",
    "paper_repro.reproduce",
    "paper_repro.plotting",
    "paper_repro.warmup",
    "paper_repro.cli",
    "paper_repro.distributed",
    "paper_repro.experiments._base",
    "paper_repro.experiments._realdata",
    "paper_repro.experiments._common",
    "paper_repro.experiments.e1_kakutani",
    "paper_repro.experiments.e2_least_favorable",
    "paper_repro.experiments.e3_prior_knowledge",
    "paper_repro.experiments.e4_interference",
    "paper_repro.experiments.e5_robustness",
    "paper_repro.experiments.e6_primal_dual",
    "paper_repro.experiments.e7_generalization",
    "paper_repro.experiments.e8_decoupling",
    "paper_repro.experiments.e9_distillation",
    "paper_repro.experiments.e10_wordfreq",
    "paper_repro.experiments.e11_phase_diagram",
    "benchmarks",
    "benchmarks.b4_sampling",
]

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run_as_shown(name):
    module = importlib.import_module(name)
    # Examples print arrays in NumPy's default format, whatever another test set.
    with np.printoptions(legacy=False, precision=8, suppress=False, threshold=1000):
        result = doctest.testmod(module, optionflags=FLAGS, report=False)
    assert result.attempted > 0, f"{name}: no docstring example ran"
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"
