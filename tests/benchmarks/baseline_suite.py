"""The baseline agent over a suite on this machine: which problems it solves, and why not.

Runs the real loop (baseline Coder -> sandbox -> harness -> profiler -> baseline Judge) on
every problem of the built-in suite (or `--suite PATH`, `--level N`, or named problems),
then prints one line per problem -- solved or not, the reason, the kernels it wrote, the
spill facts of the final kernel's static profile where one exists -- and the solve rate
per level against the targets (>= 60% of level 1, >= 40% of level 2).

    python tests/benchmarks/baseline_suite.py [--rounds 2] [--level N] [--suite PATH]
                                              [--home DIR] [--check] [PROBLEM ...]

`--check` exits 1 when a level misses its target.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from agents.baseline.params import read_header
from agents.config import AgentConfig
from agents.job import run_job
from agents.rundir import ProblemResult, RunDir
from kernelbench.problems.registry import list_problems, resolve_problem
from kernelbench.protocol.result import EvalResult
from sandbox.base import get_sandbox
from sandbox.defaults import default_sandbox_name

TARGETS = {1: 0.60, 2: 0.40}


def spill_note(result: EvalResult | None) -> str:
    if result is None or result.profile is None or not result.profile.kernels:
        return "no profile"
    spills = sum(
        (k.spill_stores_bytes or 0) + (k.spill_loads_bytes or 0) for k in result.profile.kernels
    )
    return "no spills" if spills == 0 else f"SPILLS {spills} B"


def describe(rundir: RunDir, r: ProblemResult) -> tuple[bool, str]:
    attempts = rundir.problem(r.problem_id).load()
    if r.best is not None and r.best.correct:
        best = next(a for a in attempts if a.record.attempt == r.best.attempt)
        kernels = read_header(best.view.source)
        names = ", ".join(f"{n}({k.get('kind')})" for n, k in kernels.items())
        note = spill_note(best.view.result)
        return True, f"{names}; best of {len(attempts)} attempts (#{r.best.attempt}); {note}"
    if not attempts:
        return False, r.stop_reason
    last = attempts[-1].record
    return False, f"{last.status}: {last.reason or r.stop_reason}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("problems", nargs="*", help="problem ids (default: the whole suite)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--level", type=int)
    ap.add_argument("--suite", type=Path)
    ap.add_argument("--home", type=Path, help="where the run directory goes (default: a temp dir)")
    ap.add_argument("--sandbox", default=None)
    ap.add_argument("--check", action="store_true", help="exit 1 when a level misses its target")
    args = ap.parse_args()

    if args.problems:
        problems = [resolve_problem(p, args.suite) for p in args.problems]
    else:
        problems = list_problems(args.suite, args.level)
    home = args.home or Path(tempfile.mkdtemp(prefix="kw-baseline-suite-"))
    config = AgentConfig(agent="baseline", rounds=args.rounds, patience=args.rounds)
    started = time.perf_counter()
    print(f"baseline agent, {args.rounds} round(s), {len(problems)} problems, runs in {home}")
    with get_sandbox(args.sandbox or default_sandbox_name()) as box:
        rundir, info = run_job(problems, config, home, box, device="cpu")

    per_level: dict[int, list[bool]] = defaultdict(list)
    width = max(len(p.id) for p in problems)
    for p in problems:
        r = info.results.get(p.id)
        if r is None:
            print(f"{p.id:{width}}  UNSOLVED  not run")
            per_level[p.level or 0].append(False)
            continue
        solved, why = describe(rundir, r)
        per_level[p.level or 0].append(solved)
        print(f"{p.id:{width}}  {'solved  ' if solved else 'UNSOLVED'}  {why}")

    print()
    missed = False
    for level in sorted(per_level):
        got = per_level[level]
        rate = sum(got) / len(got)
        target = TARGETS.get(level)
        verdict = ""
        if target is not None:
            ok = rate >= target
            missed |= not ok
            verdict = f"  (target >= {target:.0%}: {'met' if ok else 'MISSED'})"
        print(f"level {level}: {sum(got)}/{len(got)} solved = {rate:.0%}{verdict}")
    print(f"total time {time.perf_counter() - started:.0f} s; run {rundir.root}")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
