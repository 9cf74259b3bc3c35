"""The experiments E1–E10 of EXPERIMENTS.md, one module each.

Each experiment module defines a module-level ``EXPERIMENT`` (see
:class:`paper_repro.reproduce.Experiment`): a function returning data, a plotting
function, and the computed pass/fail of its claim.
"""

#: (ID, file stem, the claim checked) for every experiment of EXPERIMENTS.md.
PLANNED = [
    ("E1", "kakutani", "T4: the best-response maps cross at a saddle point"),
    ("E2", "least_favorable", "T6: the least-favorable mixture and the capacity"),
    ("E3", "prior_knowledge", "T7: V*(Λ) grows with Λ, from d(λ0) to V*(Δ)"),
    ("E4", "interference", "T9: aggregate retraining pays the JSD gap"),
    ("E5", "robustness", "T10: the robust gate has the best worst case"),
    ("E6", "primal_dual", "T12: the stochastic primal-dual algorithm reaches V*"),
    ("E7", "generalization", "T11: the gap is bounded and shrinks like m^-1/2"),
    ("E8", "decoupling", "§6: per-domain gradients cancel instead of vanishing"),
    ("E9", "distillation", "§9: a causal router distills the gate; samplers are exact"),
    ("E10", "wordfreq", "T10 on real word-frequency domains"),
]
