"""The ``modgate`` command line: ``reproduce``, ``verify``, ``solve`` and ``bench``.

The CLI only wires functions together: experiments, checks and solvers live in
their own modules.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def _load_matrix(path: str, name: str) -> np.ndarray:
    p = Path(path)
    if not p.exists():
        raise ValueError(f"{name}: no such file {path!r}")
    if p.suffix == ".npy":
        return np.load(p)
    if p.suffix in (".csv", ".txt"):
        return np.loadtxt(p, delimiter=",", ndmin=2)
    raise ValueError(f"{name}: expected a .npy or .csv file, got {path!r}")


def cmd_verify(args) -> int:
    from paper_repro.checks import run_checks

    only = set(args.only.split(",")) if args.only else None
    header = f"{'ID':<5} {'statement':<64} {'trials':>6} {'worst error':>12} {'tol':>8}  result"
    print(header)
    print("-" * len(header))
    failed = 0
    for r in run_checks(seed=args.seed, trials=args.trials, only=only, progress=args.progress):
        failed += not r.passed
        stmt = r.statement if len(r.statement) <= 64 else r.statement[:61] + "..."
        print(
            f"{r.id:<5} {stmt:<64} {r.trials:>6} {r.worst_error:>12.3e} {r.tolerance:>8.0e}  "
            f"{'pass' if r.passed else 'FAIL'}",
            flush=True,
        )
    print(f"\n{'all checks passed' if not failed else f'{failed} check(s) FAILED'}")
    return 1 if failed else 0


def cmd_solve(args) -> int:
    from theory.minimax import robust_gate
    from theory.mixtures import from_spec

    D = _load_matrix(args.domains, "--domains")
    P = _load_matrix(args.experts, "--experts")
    mixtures = from_spec(args.mixtures, D.shape[0])
    res = robust_gate(
        D, P, mixtures=mixtures, objective=args.objective, method=args.method, tol=args.tol
    )
    if args.output:
        np.save(args.output, res.gate)
    summary = {
        "objective": res.objective,
        "method": res.method,
        "mixtures": repr(mixtures),
        "value": res.value,
        "lower": res.lower,
        "upper": res.upper,
        "gap": res.upper - res.lower,
        "converged": res.converged,
        "lam": res.lam.tolist(),
        "per_domain": res.per_domain.tolist(),
        "iterations": res.iterations,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"V* = {res.value:.12g}  ({res.objective}, {res.method}, Λ = {mixtures!r})")
        print(
            f"certified: {res.lower:.12g} ≤ V* ≤ {res.upper:.12g}  (gap {res.upper - res.lower:.2e})"
        )
        print("λ* =", np.array2string(res.lam, precision=6))
        print("per-domain losses =", np.array2string(res.per_domain, precision=6))
    return 0 if res.converged else 2


def cmd_reproduce(args) -> int:
    from paper_repro.reproduce import reproduce

    only = args.only.split(",") if args.only else None
    return reproduce(
        mode="full" if args.full else "quick", only=only, out=Path(args.out), jobs=args.jobs
    )


def cmd_bench(args) -> int:
    from benchmarks.__main__ import main as bench_main

    return bench_main(args.only.split(",") if args.only else None)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modgate",
        description="Modular learning of robust generative models: exact solvers, "
        "theorem checks and the paper's experiments.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("reproduce", help="regenerate the figures and REPORT.md of EXPERIMENTS.md")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="small sizes (default)")
    size.add_argument("--full", action="store_true", help="the paper-scale sizes")
    p.add_argument("--only", help="comma-separated experiment IDs, e.g. E3,E5")
    p.add_argument("--out", default="figures", help="output folder (default: figures/)")
    p.add_argument("--jobs", type=int, default=1, help="experiments run in parallel")
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("verify", help="check every theorem T1–T12 numerically")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--trials", type=int, default=20, help="random instances per row")
    p.add_argument("--only", help="comma-separated row IDs, e.g. T1,T3")
    p.add_argument("--progress", action="store_true", help="show a progress bar")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("solve", help="the robust gate for your own D and P matrices")
    p.add_argument("--domains", required=True, help="D as a (K, n) .npy or .csv file")
    p.add_argument("--experts", required=True, help="P as a (K, n) .npy or .csv file")
    p.add_argument("--mixtures", default="simplex", help="simplex | box:LO,HI | l1:R[@c1;..;cK]")
    p.add_argument(
        "--objective", default="divergence", choices=["divergence", "cross_entropy", "regret"]
    )
    p.add_argument("--method", default="dual", choices=["dual", "cvxpy"])
    p.add_argument("--tol", type=float, default=1e-9, help="certified gap to reach")
    p.add_argument("--output", help="save the gate (K, n) to this .npy file")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(func=cmd_solve)

    p = sub.add_parser("bench", help="run the benchmarks B1–B4 (writes benchmarks/results/)")
    p.add_argument("--only", help="comma-separated benchmark IDs, e.g. B1,B3")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:
        print(f"modgate {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
