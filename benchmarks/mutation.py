r"""Mutation testing of ``theory/`` and ``sims/`` against ``modgate verify`` and the tests.

A *mutant* is a copy of the package with one realistic single-point bug: a
comparison whose boundary moves (``<`` ↔ ``<=``), an arithmetic operator
swapped (``+`` ↔ ``-``, ``*`` ↔ ``/``), an integer or float constant off by one,
a sign dropped, ``and`` ↔ ``or``, ``max`` ↔ ``min`` (and their numpy cousins),
an in-place update reversed or removed. The mutants are enumerated from the
syntax tree of every module of ``theory/`` and ``sims/`` (docstrings, error
messages, annotations and ``raise`` statements are left alone), sorted, and a
random sample of them is drawn with a fixed seed, so a run is reproducible.

Each sampled mutant is applied, alone, to a private copy of a committed tree
(``git archive``) and judged by two *killing commands*, each with a timeout:

* ``python -m paper_repro verify --fail-fast`` — killed when a row fails (exit ≠ 0);
* ``python -m pytest -x -q`` — killed when a test fails.

Both commands first run once on the unmutated tree under coverage.py, with one
coverage context per verify row and per test function; that run must pass. A
mutant is then judged by the rows and tests that execute its lines (the whole
command when the mutated line runs at import time, and file-wide for modules
compiled by numba, whose function bodies coverage cannot see): a row that never
executes a line cannot tell a change of it, so the verdict is the one of the
whole command, in a fraction of its time. A mutant whose lines no row (or no
test) executes survives that command without running it (``not_executed``).

A mutant that a command does not kill *survives* it. A survivor is either *equivalent*
(no input can tell it from the original: the classification, with its reason,
lives in ``benchmarks/mutation.toml``) or a gap of the checks. The score of a
command is

.. math:: \text{score} = \frac{\#\text{killed}}{\#\text{sampled} - \#\text{equivalent}}.

Run ``python -m benchmarks.mutation`` (the coverage run takes about as long
as the test suite twice; then well under a minute per mutant on two cores;
not part of CI). Results
are appended to a log in ``--work`` (the system's temporary folder by default,
with the coverage maps) as they come, so an interrupted run resumes where it
stopped (``--fresh`` starts over, ``--rerun survivors`` judges the survivors
again on the current commit, ``--rerun unclassified`` only those that
``mutation.toml`` does not yet call equivalent or an open gap, ``--rerun gaps``
every survivor not called equivalent); the summary
``benchmarks/results/mutation.json`` and the readable ``mutation.md`` are
rewritten after every mutant. ``--list`` prints the sample without running it.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

__all__ = ["Mutant", "enumerate_mutants", "sample", "apply", "main"]

ROOT = Path(__file__).resolve().parent.parent
CONFIG = Path(__file__).resolve().parent / "mutation.toml"
RESULTS = Path(__file__).resolve().parent / "results"
#: The raw log and the coverage maps (machine-local, reused by later runs).
WORK = Path(tempfile.gettempdir()) / "modgate-mutation"

#: Slow test files, run after the others: most mutants are killed before them.
LAST_TESTS = (
    "test_verify_mutations.py",
    "test_verify_cli.py",
    "test_reproduce.py",
    "test_reproduce_faults.py",
    "test_reproduce_warmup.py",
)

_CMP_SWAP = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_BIN_SWAP = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Pow: ast.Mult,
}
_AUG_SYMBOL = {ast.Add: "+=", ast.Sub: "-=", ast.Mult: "*=", ast.Div: "/="}
_NAME_SWAP = {
    "max": "min",
    "min": "max",
    "maximum": "minimum",
    "minimum": "maximum",
    "argmax": "argmin",
    "argmin": "argmax",
    "any": "all",
    "all": "any",
    "fmax": "fmin",
    "fmin": "fmax",
}


@dataclass(frozen=True)
class Mutant:
    """One single-point change: replace ``before`` by ``after`` at a source span of ``path``.

    ``id`` = ``path:line:col:op`` (plus ``#i`` when one node has several variants, and
    ``~end_line:end_col`` when nested nodes start at the same place) names the mutant
    in the outputs; ``key`` (path, enclosing function, operator,
    change, and its rank among identical changes there) does not move when other
    code is edited, so the sample and the recorded results survive edits elsewhere.
    """

    id: str
    key: str
    path: str
    line: int
    col: int
    end_line: int
    end_col: int
    op: str
    before: str
    after: str


def _protected(tree: ast.Module) -> set[int]:
    """ids of the nodes no mutant may touch: docstrings, f-strings, raise statements,
    annotations, ``__all__`` and everything below them."""
    out: set[int] = set()

    def mark(node):
        for sub in ast.walk(node):
            out.add(id(sub))

    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            mark(body[0])
        if isinstance(node, ast.JoinedStr | ast.Raise):
            mark(node)
        if isinstance(node, ast.AnnAssign) and node.annotation is not None:
            mark(node.annotation)
        if isinstance(node, ast.arg) and node.annotation is not None:
            mark(node.annotation)
        if isinstance(node, ast.FunctionDef) and node.returns is not None:
            mark(node.returns)
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            mark(node)
    return out


def _owners(tree: ast.Module) -> dict[int, str]:
    """id(node) → qualified name of the function or class that contains it."""
    out: dict[int, str] = {}

    def visit(node, name):
        for child in ast.iter_child_nodes(node):
            inner = name
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                inner = f"{name}.{child.name}" if name else child.name
            out[id(child)] = inner or "<module>"
            visit(child, inner)

    visit(tree, "")
    return out


def _variants(node) -> list[tuple[str, str]]:
    """(operator name, replacement source) for every mutation of ``node``."""
    out = []
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        new = _CMP_SWAP.get(type(node.ops[0]))
        if new is not None:
            out.append(("cmp", ast.Compare(node.left, [new()], node.comparators)))
    elif isinstance(node, ast.BinOp):
        new = _BIN_SWAP.get(type(node.op))
        if new is not None:
            out.append(("binop", ast.BinOp(node.left, new(), node.right)))
    elif isinstance(node, ast.BoolOp):
        new = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        out.append(("boolop", ast.BoolOp(new, node.values)))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.Not):
        out.append(("unary", node.operand))
    elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
        out.append(("const", ast.Constant(node.value + 1)))
    elif isinstance(node, ast.Name) and node.id in ("max", "min", "any", "all"):
        out.append(("name", ast.Name(_NAME_SWAP[node.id])))
    elif isinstance(node, ast.Attribute) and node.attr in _NAME_SWAP:
        if isinstance(node.value, ast.Name) and node.value.id in ("np", "math"):
            out.append(("name", ast.Attribute(node.value, _NAME_SWAP[node.attr])))
    return [(op, "(" + ast.unparse(new) + ")") for op, new in out]


def _statement_variants(node, src: str) -> list[tuple[str, str]]:
    """In-place updates reversed (``+=`` ↔ ``-=``, ``*=`` ↔ ``/=``) or removed."""
    if not isinstance(node, ast.AugAssign):
        return []
    out = [("stmt-del", "pass")]
    swap = {ast.Add: "-=", ast.Sub: "+=", ast.Mult: "/=", ast.Div: "*="}.get(type(node.op))
    sym = _AUG_SYMBOL.get(type(node.op))
    if swap is not None and sym in src:
        out.append(("augassign", src.replace(sym, swap, 1)))
    return out


def _source(root: Path, rel: str, commit: str | None) -> str:
    if commit is None:
        return (root / rel).read_text()
    return subprocess.run(
        ["git", "show", f"{commit}:{rel}"], cwd=root, capture_output=True, text=True, check=True
    ).stdout


def enumerate_mutants(
    paths: list[str], root: Path = ROOT, commit: str | None = None
) -> list[Mutant]:
    """Every mutant of the modules ``paths`` (relative to ``root``; as committed in
    ``commit`` if given, else as on disk), in a fixed order."""
    mutants = []
    for rel in sorted(paths):
        text = _source(root, rel, commit)
        lines = text.splitlines(keepends=True)
        # byte offset of every line start: node offsets are in UTF-8 bytes
        starts = [0]
        for line in lines:
            starts.append(starts[-1] + len(line.encode()))
        raw = text.encode()
        tree = ast.parse(text)
        skip = _protected(tree)
        owner = _owners(tree)
        seen: dict[str, int] = {}
        for node in ast.walk(tree):
            if id(node) in skip or not hasattr(node, "lineno"):
                continue
            src = raw[
                starts[node.lineno - 1] + node.col_offset : starts[node.end_lineno - 1]
                + node.end_col_offset
            ].decode()
            if not src:
                continue
            variants = _variants(node)
            if isinstance(node, ast.stmt):
                variants += _statement_variants(node, src)
            for i, (op, after) in enumerate(variants):
                suffix = f"#{i}" if len(variants) > 1 else ""
                base = f"{rel}|{owner.get(id(node), '<module>')}|{op}|{src}|{after}"
                seen[base] = seen.get(base, -1) + 1
                mutants.append(
                    Mutant(
                        id=f"{rel}:{node.lineno}:{node.col_offset}:{op}{suffix}",
                        key=f"{base}|{seen[base]}",
                        path=rel,
                        line=node.lineno,
                        col=node.col_offset,
                        end_line=node.end_lineno,
                        end_col=node.end_col_offset,
                        op=op,
                        before=src,
                        after=after,
                    )
                )
    mutants.sort(key=lambda m: (m.path, m.line, m.col, m.id))
    # Nested nodes can start at the same place (``T - t - 1`` holds ``T - t``): the
    # inner one is told apart by where it ends.
    count: dict[str, int] = {}
    for m in mutants:
        count[m.id] = count.get(m.id, 0) + 1
    return [
        replace(m, id=f"{m.id}~{m.end_line}:{m.end_col}") if count[m.id] > 1 else m for m in mutants
    ]


def sample(mutants: list[Mutant], size: int, seed: int) -> list[Mutant]:
    """The ``size`` mutants whose keys hash lowest under ``seed`` (SHA-256), in file order.

    A uniform random sample without replacement that is reproducible from the
    seed and stable under edits: changing one module only adds or removes that
    module's own mutants from the draw.
    """

    def rank(m: Mutant) -> str:
        return hashlib.sha256(f"{seed}|{m.key}".encode()).hexdigest()

    picked = sorted(mutants, key=rank)[:size]
    return sorted(picked, key=lambda m: (m.path, m.line, m.col, m.id))


def apply(text: str, m: Mutant) -> str:
    """``text`` with the span of ``m`` replaced by its mutation (checked to still parse)."""
    lines = text.splitlines(keepends=True)
    start = sum(len(line.encode()) for line in lines[: m.line - 1])
    end = sum(len(line.encode()) for line in lines[: m.end_line - 1])
    raw = text.encode()
    begin, stop = start + m.col, end + m.end_col
    if raw[begin:stop].decode() != m.before:
        raise ValueError(f"mutant {m.id}: the source changed since the mutants were enumerated")
    out = (raw[:begin] + m.after.encode() + raw[stop:]).decode()
    ast.parse(out)
    return out


def _module_name(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def _imports(test_file: Path, path: str) -> bool:
    """Whether a test file imports the module at ``path`` (by its dotted name)."""
    module = _module_name(path)
    package, _, name = module.rpartition(".")
    text = test_file.read_text()
    return module in text or f"from {package} import {name}" in text


def _ordered_tests(tree: Path, path: str) -> list[str]:
    """The test files, those that import or name the mutated module first."""
    module = _module_name(path)
    short = module.split(".")[-1].lstrip("_")
    files = sorted((tree / "tests").glob("test_*.py"))

    def rank(f: Path) -> int:
        text = f.read_text()
        if short in f.stem:
            return 0
        if module in text or f"import {module.split('.')[-1]}" in text:
            return 1
        return 2

    last = set(LAST_TESTS)
    return [
        str(f.relative_to(tree))
        for f in sorted(files, key=lambda f: (f.name in last, rank(f), f.name))
    ]


def _run(cmd: list[str], cwd: Path, timeout: float) -> dict:
    env = {**os.environ, "PYTHONPATH": str(cwd), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("CI", None)
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        tail = (exc.stdout or b"")[-600:]
        tail = tail.decode(errors="replace") if isinstance(tail, bytes) else tail
        return {"status": "timeout", "rc": None, "seconds": timeout, "tail": tail}
    out = proc.stdout + proc.stderr
    return {
        "status": "survived" if proc.returncode == 0 else "killed",
        "rc": proc.returncode,
        "seconds": round(time.monotonic() - t0, 1),
        "tail": out[-600:],
    }


def _failed_rows(tail: str) -> list[str]:
    return [line.split()[0] for line in tail.splitlines() if line.rstrip().endswith("FAIL")]


def _first_failure(tail: str) -> str:
    for line in tail.splitlines():
        if line.startswith(("FAILED", "ERROR")):
            return line[:200]
    return ""


_VERIFY_COVERAGE = """
import json, sys
import coverage
cov = coverage.Coverage(data_file=sys.argv[1], source=["theory", "sims"])
cov.start()
from paper_repro.checks import registry, run_checks
failed = []
for c in registry():
    cov.switch_context(c.id)
    failed += [r.id for r in run_checks(only=[c.id], exact=True) if not r.passed]
cov.stop()
cov.save()
print(json.dumps(failed))
"""


def _coverage(tree: Path, timeouts: dict, only=("verify", "tests")) -> dict:
    """Which verify rows and which tests execute each line of theory/ and sims/.

    Runs the killing commands ``only`` once on the unmutated tree under coverage.py
    (one context per verify row, one per test function) and checks that they pass.
    Returns {"verify": {path: {line: [rows]}}, "tests": {path: {line: [tests]}}};
    the context "" (module import) and contexts that are not test functions
    (hypothesis' runner) are kept as "*" (anything may depend on that line).
    """
    py = sys.executable
    rc = tree / ".coveragerc-mutation"
    rc.write_text(
        "[run]\ndynamic_context = test_function\nsource = theory,sims\n"
        f"data_file = {tree / '.cov-tests'}\n"
    )
    jobs = {
        "verify": [py, "-c", _VERIFY_COVERAGE, str(tree / ".cov-verify")],
        "tests": [py, "-m", "coverage", "run", f"--rcfile={rc}", "-m", "pytest", "-q"],
    }
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    procs = {
        k: subprocess.Popen(
            cmd, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for k, cmd in jobs.items()
        if k in only
    }
    out = {}
    for k, proc in procs.items():
        text = proc.communicate(timeout=4 * timeouts[k])[0].decode(errors="replace")
        ok = proc.returncode == 0 and (k != "verify" or text.strip().endswith("[]"))
        if not ok:
            print(text[-3000:], file=sys.stderr)
            raise SystemExit(f"the unmutated tree fails `{k}`: fix it first")
        import coverage

        data = coverage.CoverageData(str(tree / f".cov-{k}"))
        data.read()
        table = {}
        for f in data.measured_files():
            rel = str(Path(f).resolve().relative_to(tree.resolve()))
            lines = {}
            for line, contexts in data.contexts_by_lineno(f).items():
                keep = set()
                for c in contexts:
                    if k == "tests" and not c.startswith("tests."):
                        keep.add("*")
                    elif k == "verify" and not c:
                        keep.add("*")
                    else:
                        keep.add(c)
                lines[line] = sorted(keep)
            table[rel] = lines
        out[k] = table
    return out


def _numba_files(tree: Path, paths: list[str]) -> set[str]:
    """Modules with compiled (numba) functions: coverage cannot see inside those."""
    return {p for p in paths if "numba" in (tree / p).read_text()}


def _covering(cov: dict, m: Mutant, compiled: bool) -> list[str] | None:
    """The contexts that execute the mutated lines; None when every context may (``*``).

    Lines inside numba-compiled functions are never seen by coverage: in a module
    with such functions (``compiled``), a mutated line without a record counts as
    executed by every context that runs any line of that module after import.
    """
    lines = cov.get(m.path, {})
    wanted = [c for line in range(m.line, m.end_line + 1) for c in lines.get(line, [])]
    if not wanted and compiled:
        wanted = [c for cs in lines.values() for c in cs if c != "*"]
    if "*" in wanted:
        return None
    return sorted(set(wanted))


def _test_node(context: str) -> str:
    """tests.test_x.Class.test_y → tests/test_x.py::Class::test_y."""
    parts = context.split(".")
    return f"{parts[0]}/{parts[1]}.py::" + "::".join(parts[2:])


def _killing_commands(tree: Path, m: Mutant, cov: dict, numba: set[str]) -> dict:
    """The two commands for ``m``, restricted to the rows and tests that execute its
    lines (every row or the whole suite when import-time code is mutated); None
    when nothing executes them (the mutant cannot be killed)."""
    py = sys.executable
    rows = _covering(cov["verify"], m, m.path in numba)
    verify = [py, "-m", "paper_repro", "verify", "--fail-fast"]
    if rows is not None:
        verify = verify + ["--only", ",".join(rows)] if rows else None
    tests = _covering(cov["tests"], m, m.path in numba)
    base = [py, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
    # A test that calls a compiled function directly runs no Python line of its module
    # inside the test, so coverage cannot tie it to the module: for a mutated line
    # without a record in such a module, every test file that imports the module runs.
    unseen = m.path in numba and not any(
        cov["tests"].get(m.path, {}).get(line) for line in range(m.line, m.end_line + 1)
    )
    files = (
        [f for f in _ordered_tests(tree, m.path) if _imports(tree / f, m.path)] if unseen else []
    )
    if tests is None:
        pytest = base + _ordered_tests(tree, m.path)
    elif tests or files:
        order = {f: i for i, f in enumerate(_ordered_tests(tree, m.path))}
        nodes = sorted(
            (t for t in map(_test_node, tests) if t.split("::")[0] not in files),
            key=lambda t: (order.get(t.split("::")[0], 0), t),
        )
        pytest = base + files + nodes
    else:
        pytest = None
    return {"verify": verify, "tests": pytest}


def _copy_tree(dest: Path, commit: str) -> None:
    """The files of ``commit`` (not the working tree, which may change during a run)."""
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)


def _classified(cfg: dict) -> dict[str, str]:
    return {e["id"]: e["reason"] for e in cfg.get("equivalent", [])}


def _resolve(cfg: dict, records: list[dict]) -> dict:
    """``cfg`` with every classified entry named by the id its mutant has in ``records``.

    An entry names its mutant by ``key`` (stable when lines move) and, for the reader,
    by the ``id`` it had when it was classified; the key wins when both are given.
    """
    by_key = {r["key"]: r["id"] for r in records}
    out = dict(cfg)
    for kind in ("equivalent", "closed", "open"):
        out[kind] = [{**e, "id": by_key.get(e.get("key"), e["id"])} for e in cfg.get(kind, [])]
    return out


def _summary(records: list[dict], cfg: dict, meta: dict) -> dict:
    cfg = _resolve(cfg, records)
    equivalent = _classified(cfg)
    gaps = {e["id"]: e for e in cfg.get("closed", [])}
    open_gaps = {e["id"]: e["why"] for e in cfg.get("open", [])}
    out = {**meta, "sampled": len(records)}
    out["judged_at"] = sorted(
        {r.get("commit", meta["commit"]) for r in records}
        | {r[c]["commit"] for r in records for c in ("verify", "tests") if r[c].get("commit")}
    )
    eq_ids = {r["id"] for r in records if r["id"] in equivalent}
    out["equivalent"] = sorted(eq_ids)
    for cmd in ("verify", "tests"):
        judged = [r for r in records if r[cmd]["status"] != "pending"]
        # an equivalent mutant is out of the score even when a timeout "killed" it
        killed = [
            r for r in judged if r[cmd]["status"] in ("killed", "timeout") and r["id"] not in eq_ids
        ]
        alive = [r["id"] for r in judged if r[cmd]["status"] == "survived"]
        denom = len(judged) - len({r["id"] for r in judged} & eq_ids)
        out[cmd] = {
            "judged": len(judged),
            "killed": len(killed),
            "survived": alive,
            "non_equivalent": denom,
            "score": len(killed) / denom if denom else 1.0,
            "survived_not_equivalent": [i for i in alive if i not in eq_ids],
        }
    out["closed"] = cfg.get("closed", [])
    out["notes"] = cfg.get("notes") or cfg.get("run", {}).get("notes", [])
    out["classification"] = {
        i: (
            {"kind": "equivalent", "reason": equivalent[i]}
            if i in equivalent
            else {"kind": "gap", **({k: v for k, v in gaps[i].items() if k != "id"})}
            if i in gaps
            else {"kind": "open gap", "why": open_gaps[i]}
            if i in open_gaps
            else {"kind": "unclassified"}
        )
        for i in sorted({*out["verify"]["survived"], *out["tests"]["survived"]})
    }
    return out


def _report(summary: dict, records: list[dict]) -> str:
    lines = [
        "# Mutation testing of theory/ and sims/",
        "",
        f"Sample: {summary['sampled']} of {summary['population']} mutants, seed "
        f"{summary['seed']} (`python -m benchmarks.mutation --size {summary['size']} "
        f"--seed {summary['seed']}`) of the tree at commit {summary['commit']}; mutants "
        f"judged at commit(s) {', '.join(summary['judged_at'])} (a rerun judges earlier "
        "survivors again on a later commit; the notes say what differs between them).",
        f"Equivalent mutants in the sample: {len(summary['equivalent'])}.",
        "",
        "| killing command | judged | killed | non-equivalent judged | score | target |",
        "|---|---|---|---|---|---|",
    ]
    for cmd, target in (("verify", 0.95), ("tests", 0.97)):
        s = summary[cmd]
        lines.append(
            f"| `{cmd}` | {s['judged']} | {s['killed']} | {s['non_equivalent']} | "
            f"{s['score']:.1%} | ≥ {target:.0%} |"
        )
    if summary.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {note}" for note in summary["notes"]]
    lines += ["", "## Survivors", ""]
    by_id = {r["id"]: r for r in records}
    if not summary["classification"]:
        lines.append("None.")
    for i, c in summary["classification"].items():
        r = by_id[i]
        who = [cmd for cmd in ("verify", "tests") if r[cmd]["status"] == "survived"]
        if not who:
            continue
        lines.append(f"### `{i}` (survived {' and '.join(who)})")
        lines.append("")
        lines.append(f"`{r['before']}` → `{r['after']}`")
        lines.append("")
        unreached = [cmd for cmd in who if r[cmd].get("not_executed")]
        if unreached:
            lines.append(f"No {' and no '.join(unreached)} run executes these lines.")
            lines.append("")
        if c["kind"] == "equivalent":
            lines.append(f"Equivalent: {c['reason']}")
        elif c["kind"] == "gap":
            lines.append(f"Gap, closed after this verdict: {c.get('how', '')}")
        elif c["kind"] == "open gap":
            lines.append(f"Gap, not closed: {c['why']}")
        else:
            lines.append("Not yet classified.")
        lines.append("")
    closed = summary.get("closed", [])
    if closed:
        lines += [
            "## Gaps found and closed during the audit",
            "",
            "Survivors of an earlier commit that were not equivalent; the checks were "
            "strengthened and the mutant judged again (its verdict above is the new one).",
            "",
        ]
        for e in closed:
            r = by_id.get(e["id"])
            now = (
                ", ".join(f"{cmd} {r[cmd]['status']}" for cmd in ("verify", "tests"))
                if r
                else "not in the sample"
            )
            lines.append(f"- `{e['id']}`: {e['how']} (now: {now})")
        lines.append("")
    lines += [
        "## Every sampled mutant",
        "",
        "| mutant | change | verify | tests |",
        "|---|---|---|---|",
    ]
    for r in records:
        change = f"`{r['before'][:40]}` → `{r['after'][:40]}`".replace("|", "\\|")
        cells = []
        for cmd in ("verify", "tests"):
            v = r[cmd]
            detail = ",".join(_failed_rows(v["tail"])) if cmd == "verify" else ""
            note = " (not executed)" if v.get("not_executed") else f" ({v['seconds']} s)"
            cells.append(f"{v['status']} {detail}".strip() + note)
        lines.append(f"| `{r['id']}` | {change} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + "\n"


def _write(records: list[dict], cfg: dict, meta: dict, out_dir: Path) -> dict:
    summary = _summary(records, cfg, meta)
    (out_dir / "mutation.json").write_text(
        json.dumps({"summary": summary, "mutants": records}, indent=1, ensure_ascii=False)
    )
    (out_dir / "mutation.md").write_text(_report(summary, records))
    return summary


def _commit(rev: str) -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", rev], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def _judge(
    tree: Path, m: Mutant, cfg: dict, cov: dict, numba: set[str], commands, before: dict
) -> dict:
    """Apply ``m`` to ``tree``, run the killing ``commands``, restore the file; the other
    command's verdict is kept from ``before`` (the mutant's earlier record, if any)."""
    run_cfg = cfg["run"]
    target = tree / m.path
    original = target.read_text()
    stat = target.stat()
    try:
        target.write_text(apply(original, m))
        rec = {**asdict(m)}
        for cmd, argv_ in _killing_commands(tree, m, cov, numba).items():
            if cmd not in commands:
                rec[cmd] = before.get(cmd, {"status": "pending", "seconds": 0.0, "tail": ""})
            elif argv_ is None:
                rec[cmd] = {"status": "survived", "rc": 0, "seconds": 0.0, "tail": ""}
                rec[cmd]["not_executed"] = True
            else:
                rec[cmd] = _run(argv_, tree, run_cfg[f"{cmd}_timeout"])
                rec[cmd]["command"] = " ".join(argv_[1:])
    finally:
        target.write_text(original)
        os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    rec["verify"]["failed_rows"] = _failed_rows(rec["verify"]["tail"])
    rec["tests"]["first_failure"] = _first_failure(rec["tests"]["tail"])
    return rec


def main(argv=None) -> int:
    cfg = tomllib.loads(CONFIG.read_text())
    run_cfg = cfg["run"]
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mutation", description=__doc__)
    parser.add_argument("--size", type=int, default=run_cfg["size"], help="mutants sampled")
    parser.add_argument("--seed", type=int, default=run_cfg["seed"])
    parser.add_argument("--jobs", type=int, default=1, help="mutants judged at once")
    parser.add_argument(
        "--commands",
        default="verify,tests",
        help="killing commands to run: verify, tests, or verify,tests (both, the default); a "
        "pass with one keeps the other's earlier verdicts",
    )
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated module paths (e.g. sims/distill.py): judge only the sampled "
        "mutants of these modules (the report still covers the whole sample)",
    )
    parser.add_argument("--list", action="store_true", help="print the sample and stop")
    parser.add_argument(
        "--report",
        action="store_true",
        help="rewrite the summary and report from the log; run nothing",
    )
    parser.add_argument("--fresh", action="store_true", help="forget earlier results")
    parser.add_argument(
        "--rerun",
        choices=("survivors", "unclassified", "gaps"),
        help="judge again the mutants that survived before: all of them, those that "
        "mutation.toml does not classify yet, or all but the equivalent ones",
    )
    parser.add_argument("--out", default=str(RESULTS), help="folder of the results")
    parser.add_argument("--work", default=str(WORK), help="folder of the raw log and coverage maps")
    parser.add_argument("--commit", default="HEAD", help="the committed tree to mutate")
    parser.add_argument(
        "--merge",
        metavar="WORK",
        help="take the verdicts of the --commands from the log in another work folder (a "
        "pass run there at the same time) into this one, then write the report; run nothing",
    )
    args = parser.parse_args(argv)

    commands = [c.strip() for c in args.commands.split(",") if c.strip()]
    if not commands or any(c not in ("verify", "tests") for c in commands):
        raise SystemExit(
            f"--commands: expected verify, tests or verify,tests (both), got {args.commands!r}"
        )
    commit = _commit(args.commit)
    listed = subprocess.run(
        ["git", "ls-tree", "--name-only", commit, *(f"{d}/" for d in run_cfg["paths"])],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    paths = sorted(
        p for p in listed if p.endswith(".py") and Path(p).name not in run_cfg.get("exclude", [])
    )
    population = enumerate_mutants(paths, commit=commit)
    chosen = sample(population, args.size, args.seed)
    if args.list:
        for m in chosen:
            print(f"{m.id}\t{m.before[:60]!r} -> {m.after[:60]!r}")
        print(f"{len(chosen)} of {len(population)} mutants (seed {args.seed})")
        return 0

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    log = work / "mutation.jsonl"
    if args.fresh and log.exists():
        log.unlink()
    done: dict[str, dict] = {}
    if log.exists():
        for line in log.read_text().splitlines():
            rec = json.loads(line)
            done[rec["key"]] = rec
    everything = dict(done)
    if args.rerun:
        # the survivors kept as they are: none (survivors), the classified ones
        # (unclassified), or the equivalent ones (gaps)
        kinds = {"survivors": (), "unclassified": ("equivalent", "open"), "gaps": ("equivalent",)}
        named = {e.get("key") for kind in kinds[args.rerun] for e in cfg.get(kind, [])}
        done = {
            k: r
            for k, r in done.items()
            if all(r[c]["status"] != "survived" for c in commands) or k in named
        }
    meta = {
        "population": len(population),
        "size": args.size,
        "seed": args.seed,
        "commit": commit,
        "timeouts": {"verify": run_cfg["verify_timeout"], "tests": run_cfg["tests_timeout"]},
    }

    def current() -> list[dict]:
        # ids and lines of the current tree, results from whichever run judged the key
        return [{**done[c.key], **asdict(c)} for c in chosen if c.key in done]

    if args.merge:
        theirs: dict[str, dict] = {}
        for line in (Path(args.merge) / "mutation.jsonl").read_text().splitlines():
            rec = json.loads(line)
            theirs[rec["key"]] = rec
        with log.open("a") as fh:
            for k, rec in theirs.items():
                fresh = [c for c in commands if rec[c]["status"] != "pending"]
                if k not in done or any(rec[c] != done[k][c] for c in fresh):
                    merged = {**done.get(k, rec), **{c: rec[c] for c in fresh}}
                    done[k] = merged
                    fh.write(json.dumps(merged, ensure_ascii=False) + "\n")
        args.report = True
    if args.report:
        summary = _write(current(), cfg, meta, out_dir)
        for cmd in ("verify", "tests"):
            s = summary[cmd]
            print(f"{cmd}: {s['killed']}/{s['non_equivalent']} killed ({s['score']:.1%})")
        return 0
    earlier = everything
    only = tuple(p.strip() for p in args.only.split(",") if p.strip())
    todo = [
        m
        for m in chosen
        if (m.key not in done or any(done[m.key][c]["status"] == "pending" for c in commands))
        and (not only or m.path in only)
    ]
    with tempfile.TemporaryDirectory(prefix="modgate-mutants-") as tmp:
        first = Path(tmp) / "tree0"
        first.mkdir()
        _copy_tree(first, commit)
        # The map of the tests is reused while theory/, sims/ and tests/ are unchanged
        # (a change elsewhere can only make it select fewer tests: a conservative
        # verdict); the map of verify is computed for every commit.
        trees = subprocess.run(
            ["git", "rev-parse", *(f"{commit}:{d}" for d in ("theory", "sims", "tests"))],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        keys = {
            "verify": commit,
            "tests": hashlib.sha256("".join(trees).encode()).hexdigest()[:12],
        }
        cov, missing = {}, []
        for k, key in keys.items():
            path = work / f"mutation-coverage-{k}-{key}.json"
            if path.exists():
                cov[k] = json.loads(path.read_text())
            elif k in commands:
                missing.append(k)
            else:
                cov[k] = {}  # not run in this pass
        if missing:
            t0 = time.monotonic()
            timeouts = {"verify": run_cfg["verify_timeout"], "tests": run_cfg["tests_timeout"]}
            fresh = _coverage(first, timeouts, missing)
            for k in missing:
                cov[k] = fresh[k]
                (work / f"mutation-coverage-{k}-{keys[k]}.json").write_text(json.dumps(fresh[k]))
            print(
                f"baseline under coverage ({', '.join(missing)}): passes "
                f"({time.monotonic() - t0:.0f} s)",
                flush=True,
            )
        for k in cov:
            cov[k] = {f: {int(line): c for line, c in v.items()} for f, v in cov[k].items()}
        numba = _numba_files(first, paths)
        trees = [first]
        for j in range(1, max(1, args.jobs)):
            # a copy of the warmed tree keeps the compiled-kernel cache
            trees.append(Path(shutil.copytree(first, Path(tmp) / f"tree{j}")))
        free = list(trees)
        lock = threading.Lock()

        def work(m: Mutant) -> None:
            with lock:
                tree = free.pop()
            try:
                rec = _judge(tree, m, cfg, cov, numba, commands, earlier.get(m.key, {}))
            finally:
                with lock:
                    free.append(tree)
            rec["commit"] = commit
            for cmd in commands:
                rec[cmd]["commit"] = commit
            with lock:
                done[m.key] = rec
                with log.open("a") as fh:
                    fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
                print(
                    f"[{len(current())}/{len(chosen)}] {m.id}: verify {rec['verify']['status']}, "
                    f"tests {rec['tests']['status']}",
                    flush=True,
                )
                _write(current(), cfg, meta, out_dir)

        with ThreadPoolExecutor(max_workers=len(trees)) as pool:
            list(pool.map(work, todo))
    summary = _write(current(), cfg, meta, out_dir)
    for cmd in ("verify", "tests"):
        s = summary[cmd]
        print(f"{cmd}: {s['killed']}/{s['non_equivalent']} killed ({s['score']:.1%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
