"""How long the built-in suite takes to check on this machine's CPU.

Evaluates every built-in reference solution (and, with --wrong, every wrong twin) through
the real harness, N at a time, and prints each verdict and duration, the wall time, and the
CPU time of all the child processes. On a shared machine the wall time depends on the load;
the CPU time does not much, and CPU time / cores is the wall time on an idle machine.

    python tests/benchmarks/suite_eval_time.py --workers 2 [--wrong] [--level N]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kernelbench.problem import Problem, ProblemError
from kernelbench.registry import list_problems, solution_path
from kernelbench.result import EvalResult
from sandbox.evaluate import evaluate


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--wrong", action="store_true", help="also evaluate the wrong twins")
    parser.add_argument("--level", type=int, default=None)
    args = parser.parse_args()

    jobs: list[tuple[Problem, bool]] = []
    for problem in list_problems(level=args.level):
        jobs.append((problem, False))
        if args.wrong:
            try:
                solution_path(problem, wrong=True)
            except ProblemError:
                continue
            jobs.append((problem, True))

    def run(job: tuple[Problem, bool]) -> tuple[Problem, bool, EvalResult]:
        problem, wrong = job
        return problem, wrong, evaluate(problem, solution_path(problem, wrong=wrong).read_text())

    load_before = os.getloadavg()[0]
    cpu_before = _children_cpu_s()
    started = time.perf_counter()
    failures = 0
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        for problem, wrong, result in pool.map(run, jobs):
            expected = "incorrect" if wrong else "correct"
            ok = result.status.value == expected
            failures += not ok
            label = problem.id + (" @wrong" if wrong else "")
            flag = "" if ok else f"  <-- expected {expected}: {result.reason}"
            print(f"{label:50s} {result.status.value:10s} {result.duration_s:6.1f} s{flag}")
    wall = time.perf_counter() - started
    cpu = _children_cpu_s() - cpu_before
    print(
        f"{len(jobs)} evaluations, {args.workers} at a time: wall {wall:.0f} s, "
        f"child CPU {cpu:.0f} s (idle-machine wall ~{cpu / args.workers:.0f} s), "
        f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}, {failures} unexpected"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
