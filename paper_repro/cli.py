"""The ``modgate`` command line: ``reproduce``, ``verify``, ``sweep``, ``solve`` and ``bench``.

* ``reproduce`` runs the experiments E1–E11 (:mod:`paper_repro.experiments`),
  draws their figures and writes ``REPORT.md`` with the claims they check;
* ``verify`` checks every result T1–T12 (and S9) numerically on fresh random
  and adversarial instances (:mod:`paper_repro.checks`);
* ``sweep`` runs a study of :mod:`sims.sweep` on a grid × seeds, on a Dask
  cluster (:mod:`paper_repro.distributed`);
* ``solve`` computes the robust gate (T3–T7, :func:`theory.minimax.robust_gate`)
  for the user's own domains D and experts P;
* ``bench`` runs the benchmarks B1–B6 (:mod:`benchmarks`).

The CLI only wires functions together: experiments, checks and solvers live in
their own modules. It never shows a traceback (unless ``--debug``): a bad
argument, an unreadable input or an unwritable output is one line on stderr
that names the argument, and the exit code says what happened.

Exit codes: 0 success; 1 a claim or a theorem check failed; 2 an error (bad
input, unwritable output, unexpected failure); 3 ``solve`` stopped before its
certified gap reached ``--tol`` (the bounds it prints still hold); 130
interrupted.

Examples
--------
>>> import contextlib, io
>>> from paper_repro.cli import EXIT_ERROR, main
>>> with contextlib.redirect_stderr(io.StringIO()) as err:
...     code = main(["verify", "--explain", "NOPE"])
>>> code == EXIT_ERROR, err.getvalue().startswith("modgate verify: error: --explain:")
(True, True)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
import warnings
from functools import partial
from pathlib import Path

import numpy as np

from theory import mixtures, objectives

__all__ = ["EXIT_ERROR", "EXIT_FAILED", "EXIT_NOT_CONVERGED", "build_parser", "main"]

#: Exit code when a claim of ``reproduce`` or a row of ``verify`` failed.
EXIT_FAILED = 1
#: Exit code of an error: bad input, unwritable output, unexpected failure.
EXIT_ERROR = 2
#: Exit code of ``solve`` when the certified gap did not reach ``--tol``.
EXIT_NOT_CONVERGED = 3
_EXIT_BROKEN_PIPE = 141
_EXIT_INTERRUPTED = 130

# Names the library uses in its messages for what `solve` reads from an option.
_SOLVE_NAMES = {"D": "--domains", "P": "--experts"}


def _load_matrix(path: str, name: str) -> np.ndarray:
    """The real (K, n) array in the .npy or .csv file ``path``, given by the option ``name``."""
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{name}: {path!r} is a folder; expected a .npy or .csv file")
    if not p.exists():
        raise ValueError(f"{name}: no such file {path!r}")
    if p.suffix == ".npy":
        try:
            a = np.load(p, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise ValueError(f"{name}: cannot read {path!r} as a .npy array ({exc})") from exc
        if not isinstance(a, np.ndarray):
            raise ValueError(f"{name}: {path!r} holds several arrays (.npz); expected one")
    elif p.suffix in (".csv", ".txt"):
        try:
            with warnings.catch_warnings():
                # An empty file is reported below, not as numpy's warning.
                warnings.simplefilter("ignore")
                a = np.loadtxt(p, delimiter=",", ndmin=2)
        except ValueError as exc:
            raise ValueError(f"{name}: {path!r} is not a CSV of real numbers ({exc})") from exc
    else:
        raise ValueError(f"{name}: expected a .npy or .csv file, got {path!r}")
    if np.iscomplexobj(a):
        raise ValueError(f"{name}: {path!r} holds complex numbers; expected real numbers")
    if a.dtype.kind not in "iuf":
        raise ValueError(f"{name}: {path!r} holds {a.dtype} values; expected real numbers")
    if a.ndim != 2:
        raise ValueError(f"{name}: expected a 2-d array (K, n), got shape {a.shape} in {path!r}")
    if a.size == 0:
        raise ValueError(f"{name}: {path!r} is empty (shape {a.shape}); expected a (K, n) array")
    return a


def _output_file(output: str) -> Path:
    """The .npy file ``--output`` names, checked to be writable before anything is solved."""
    from paper_repro.plotting import writable_folder

    p = Path(output)
    if output.endswith(("/", os.sep)) or p.is_dir():
        raise ValueError(f"--output: {output!r} is a folder; expected a .npy file name")
    if p.suffix != ".npy":  # numpy's convention for np.save
        p = p.with_name(p.name + ".npy")
    writable_folder(p.parent, "--output", create=False)
    return p


def _split_ids(text: str | None) -> list[str] | None:
    return [s.strip() for s in text.split(",") if s.strip()] if text is not None else None


_STATEMENT_WIDTH = 60


def cmd_verify(args) -> int:
    """``modgate verify``: run the rows of :mod:`paper_repro.checks` and print one line each.

    Returns 0 when every row passes, :data:`EXIT_FAILED` otherwise.
    """
    import textwrap

    from paper_repro.checks import explain, run_checks

    if args.explain is not None:
        print(explain(args.explain))
        return 0
    if args.workers is not None or args.scheduler is not None:
        from paper_repro.distributed import run_checks_distributed

        # The same rows, their trials spread over a Dask cluster.
        run_checks = partial(run_checks_distributed, workers=args.workers, scheduler=args.scheduler)
    rows = run_checks(
        seed=args.seed, trials=args.trials, only=_split_ids(args.only), progress=args.progress
    )
    width = _STATEMENT_WIDTH
    header = (
        f"{'ID':<5} {'statement':<{width}} {'trials':>6} {'worst':>10} {'tol':>8}  "
        f"{'measure':<12} result"
    )
    if not args.wide:
        print(header)
        print("-" * len(header))
    failed = 0
    for r in rows:
        failed += not r.passed
        verdict = "pass" if r.passed else "FAIL"
        numbers = f"{r.trials:>6} {r.worst_error:>10.3e} {r.tolerance:>8.0e}  {r.measure:<12} "
        if args.wide:
            # one line per row, the statement last and whole (for grep and wide terminals)
            print(f"{r.id:<5} {numbers}{verdict}  {r.statement}", flush=True)
        else:
            # the statement wrapped in its column, never cut
            lines = textwrap.wrap(r.statement, width) or [""]
            print(f"{r.id:<5} {lines[0]:<{width}} {numbers}{verdict}", flush=True)
            for line in lines[1:]:
                print(f"{'':<5} {line}", flush=True)
        if failed and args.fail_fast:
            break
    print(f"\n{'all checks passed' if not failed else f'{failed} check(s) FAILED'}")
    if not args.wide:
        print("`modgate verify --explain ID` tells what a row checks, how, and on which instances.")
    return EXIT_FAILED if failed else 0


def _json_safe(x):
    """``x`` with every non-finite float written as the string "inf", "-inf" or "nan" (strict JSON)."""
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_json_safe(v) for v in x]
    if isinstance(x, float) and not np.isfinite(x):
        return "nan" if np.isnan(x) else ("inf" if x > 0 else "-inf")
    return x


def cmd_solve(args) -> int:
    """``modgate solve``: the robust gate for the D and P files given (T3–T7).

    Returns 0, or :data:`EXIT_NOT_CONVERGED` when the certified gap did not
    reach ``--tol``.
    """
    from paper_repro.plotting import atomic_path
    from theory.evaluate import compare
    from theory.minimax import robust_gate
    from theory.mixtures import from_spec
    from theory.results import UNITS

    D = _load_matrix(args.domains, "--domains")
    P = _load_matrix(args.experts, "--experts")
    output = _output_file(args.output) if args.output else None
    mixtures = from_spec(args.mixtures, D.shape[0])
    objective = objectives.from_spec(args.objective)
    labels = _split_ids(args.labels)
    res = robust_gate(
        D,
        P,
        mixtures=mixtures,
        objective=objective,
        method=args.method,
        tol=args.tol,
        labels=labels,
    )
    table = (
        compare(None, D, P, mixtures=mixtures, objective=objective, labels=labels, tol=args.tol)
        if args.compare
        else None
    )
    if output is not None:
        with atomic_path(output) as tmp, open(tmp, "wb") as fh:
            np.save(fh, res.gate)
    summary = {
        "objective": res.objective,
        "method": res.method,
        "mixtures": repr(mixtures),
        "units": UNITS,
        "value": res.value,
        "lower": res.lower,
        "upper": res.upper,
        "gap": res.gap,
        "converged": res.converged,
        "iterations": res.iterations,
        "labels": list(res.domain_labels),
        "lam": res.lam.tolist(),
        "per_domain": res.per_domain.tolist(),
        "gate": res.gate.tolist(),
        "model": res.model.tolist(),
    }
    if table is not None:
        summary["compare"] = table.records
    if args.json:
        print(json.dumps(_json_safe(summary), indent=2, allow_nan=False))
    else:
        print(f"Λ = {mixtures!r}, K = {D.shape[0]} domains, |X| = {D.shape[1]}")
        print(res.summary())
        if output is not None:
            print(f"gate {res.gate.shape} saved to {output}")
        if table is not None:
            print()
            print(table.summary())
        if not res.converged:
            print(
                f"NOT CONVERGED: the solver stopped after {res.iterations} "
                f"iteration{'' if res.iterations == 1 else 's'} with the "
                f"certified gap {res.gap:.2e} {UNITS} above --tol {args.tol:g}; the bounds above "
                "still hold"
            )
    return 0 if res.converged else EXIT_NOT_CONVERGED


def cmd_reproduce(args) -> int:
    """``modgate reproduce``: run the experiments through :func:`paper_repro.reproduce.reproduce`."""
    from paper_repro.reproduce import reproduce

    return reproduce(
        mode="full" if args.full else "quick",
        only=_split_ids(args.only),
        out=Path(args.out),
        jobs=args.jobs,
        force=args.force,
    )


def cmd_sweep(args) -> int:
    """``modgate sweep``: run a study on a grid × seeds through :func:`paper_repro.distributed.sweep`.

    Returns :data:`EXIT_ERROR` when some grid point failed, else 0.
    """
    from paper_repro.distributed import describe_studies, sweep
    from sims.sweep import get_study, grid, parse_settings

    if args.list:
        print(describe_studies())
        return 0
    if args.study is None or args.out is None:
        raise ValueError("study: give a study and --out DIR (modgate sweep --list shows them)")
    study = get_study(args.study)
    try:
        settings = parse_settings(study, args.set or [])
        grid(study, settings)  # every grid point is checked before a cluster starts
    except ValueError as exc:
        raise ValueError(f"--set {exc}") from None
    result = sweep(
        study,
        args.out,
        settings=settings,
        seeds=args.seeds,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=True,
        echo=lambda line: print(line, flush=True),
    )
    return EXIT_ERROR if result.failed else 0


def _add_cluster_options(p: argparse.ArgumentParser) -> None:
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--workers", type=int, help="worker processes of a local Dask cluster (default: the cores)"
    )
    where.add_argument("--scheduler", help="address of a running Dask scheduler, tcp://HOST:PORT")


def cmd_bench(args) -> int:
    """``modgate bench``: run the benchmarks (all, or those of ``--only``)."""
    from benchmarks.__main__ import main as bench_main

    return bench_main(_split_ids(args.only))


def build_parser() -> argparse.ArgumentParser:
    """The ``modgate`` argument parser, one subcommand per task.

    Returns
    -------
    argparse.ArgumentParser
        The parser; every subcommand stores its handler as ``func``.

    Examples
    --------
    >>> args = build_parser().parse_args(["solve", "--domains", "D.csv", "--experts", "P.csv"])
    >>> args.command, args.mixtures, args.objective, args.tol
    ('solve', 'simplex', 'divergence', 1e-09)
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the full traceback of an unexpected error",
    )
    parser = argparse.ArgumentParser(
        prog="modgate",
        description="Modular learning of robust generative models: exact solvers, "
        "theorem checks and the paper's experiments.",
        epilog="exit codes: 0 success, 1 a claim or check failed, 2 error, "
        "3 solve did not converge",
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "reproduce",
        help="run the experiments E1–E11: their figures and REPORT.md",
        parents=[common],
    )
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="small sizes (default)")
    size.add_argument("--full", action="store_true", help="the paper-scale sizes")
    p.add_argument("--only", help="comma-separated experiment IDs, e.g. E3,E5")
    p.add_argument("--out", default="figures", help="output folder (default: figures/)")
    p.add_argument("--jobs", type=int, default=1, help="experiments run in parallel")
    p.add_argument("--force", action="store_true", help="recompute even what is cached")
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("verify", help="check every theorem T1–T12 numerically", parents=[common])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--trials", type=int, default=20, help="random instances per row (≥ 1)")
    p.add_argument("--only", help="comma-separated row IDs, e.g. T1,T3")
    p.add_argument("--progress", action="store_true", help="show a progress bar")
    p.add_argument("--fail-fast", action="store_true", help="stop at the first failed row")
    p.add_argument("--wide", action="store_true", help="one line per row, the full statement last")
    p.add_argument(
        "--explain",
        metavar="ID",
        help="print a row's statement, method, instances, tolerance and derivation; run nothing",
    )
    _add_cluster_options(p)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser(
        "sweep",
        help="a study on a grid × seeds, on a Dask cluster (Parquet rows)",
        parents=[common],
    )
    p.add_argument("study", nargs="?", help="the study (see --list)")
    p.add_argument("--list", action="store_true", help="list the studies, their keys and outputs")
    p.add_argument("--out", help="output folder: STUDY.parquet/, STUDY.csv, STUDY.png/.pdf/.svg")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=V1,V2,...",
        help="values of a grid key (repeatable); other keys keep their defaults",
    )
    p.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1 per grid point")
    _add_cluster_options(p)
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser(
        "solve", help="the robust gate for your own D and P matrices", parents=[common]
    )
    p.add_argument("--domains", required=True, help="D as a (K, n) .npy or .csv file")
    p.add_argument("--experts", required=True, help="P as a (K, n) .npy or .csv file")
    p.add_argument("--mixtures", default="simplex", help=f"the set Λ: {mixtures.SPEC_FORMS}")
    p.add_argument(
        "--objective",
        default="divergence",
        help=f"one of {', '.join(objectives.names())}, or offsets:c1;..;cK (a custom offset vector)",
    )
    p.add_argument("--method", default="dual", choices=["dual", "cvxpy"])
    p.add_argument("--tol", type=float, default=1e-9, help="certified gap to reach")
    p.add_argument(
        "--output", help="save the gate (K, n) to this .npy file (in an existing folder)"
    )
    p.add_argument(
        "--labels", help="comma-separated names of the domains, e.g. en,fr,de (default D_1,…)"
    )
    p.add_argument(
        "--compare",
        action="store_true",
        help="also score the uniform mixture of the experts, each expert and aggregate "
        "retraining against the robust gate (worst case, worst λ, margin to V*)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print a JSON summary (with the gate and the model; with --compare, the table)",
    )
    p.set_defaults(func=cmd_solve)

    p = sub.add_parser(
        "bench", help="run the benchmarks B1–B6 (writes benchmarks/results/)", parents=[common]
    )
    p.add_argument("--only", help="comma-separated benchmark IDs, e.g. B1,B3")
    p.set_defaults(func=cmd_bench)
    return parser


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _name_options(message: str, parser: argparse.ArgumentParser, command: str) -> str:
    """Lead ``message`` with the command-line option it is about, when it names a parameter.

    The library names its parameters (``only: ...``, ``D: ...``); the user typed
    options (``--only``, ``--domains``).
    """
    head, sep, rest = message.partition(": ")
    if not sep or " " in head:
        return message
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    options = {
        a.dest: a.option_strings[-1] for a in sub.choices[command]._actions if a.option_strings
    }
    if command == "solve" and head in _SOLVE_NAMES:
        return f"{_SOLVE_NAMES[head]} ({head}): {rest}"
    if head in options and not head.startswith("-"):
        return f"{options[head]}: {rest}"
    return message


def _describe(exc: OSError) -> str:
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc}"


def main(argv=None) -> int:
    """Run ``modgate`` with the arguments ``argv`` (default: the command line).

    Errors are reported as one line on stderr, led by the option they concern;
    no exception escapes (``--debug`` also prints the traceback).

    Parameters
    ----------
    argv : list of str, optional
        The arguments after ``modgate``; ``None`` reads ``sys.argv``.

    Returns
    -------
    int
        The exit code: 0, 1 (a claim or check failed), 2 (error), 3 (solve did
        not converge) or 130 (interrupted).

    Raises
    ------
    SystemExit
        Only from argument parsing (``--help``, or an unknown option or
        subcommand), as :mod:`argparse` does.

    Examples
    --------
    >>> import contextlib, io
    >>> with contextlib.redirect_stderr(io.StringIO()) as err:
    ...     code = main(["solve", "--domains", "missing.csv", "--experts", "missing.csv"])
    >>> code, err.getvalue().strip()
    (2, "modgate solve: error: --domains: no such file 'missing.csv'")
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    prefix = f"modgate {args.command}"
    try:
        return args.func(args)
    except BrokenPipeError:
        # The reader closed the pipe (``modgate verify | head``): nothing is
        # wrong and nothing can be printed. Point stdout at /dev/null so the
        # interpreter's final flush stays silent, and exit as a process killed
        # by SIGPIPE does in a shell (128 + 13).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return _EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print(f"{prefix}: interrupted", file=sys.stderr)
        return _EXIT_INTERRUPTED
    except Exception as exc:
        if debug:
            traceback.print_exc()
        if isinstance(exc, ValueError):
            message = _name_options(_one_line(exc), parser, args.command)
            print(f"{prefix}: error: {message}", file=sys.stderr)
        elif isinstance(exc, OSError):
            print(f"{prefix}: error: {_one_line(_describe(exc))}", file=sys.stderr)
        else:
            hint = "" if debug else " (run with --debug for the traceback)"
            print(
                f"{prefix}: unexpected error: {type(exc).__name__}: {_one_line(exc)}{hint}",
                file=sys.stderr,
            )
        return EXIT_ERROR


if __name__ == "__main__":
    raise SystemExit(main())
