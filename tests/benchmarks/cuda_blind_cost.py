"""What the blind pass costs a CUDA C evaluation on the emulated device.

For each of the first N built-in CUDA C solutions, evaluates it with blind host code on and
off, interleaved (on, off, on, off, ... problem by problem, so both see the same load), and
prints each verdict and duration, the summed times and their ratio. Blind adds two
emulator builds in the replay step (the source as written, to learn its instantiations,
and the host-free one it runs) and the replay itself.

    python tests/benchmarks/cuda_blind_cost.py --limit 4
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kernelbench.harness.evaluate import evaluate
from kernelbench.problems.problem import Problem, ProblemError
from kernelbench.problems.registry import list_problems, solution_path
from kernelbench.protocol.request import EvalOptions


def has_cuda_solution(problem: Problem) -> bool:
    try:
        solution_path(problem, backend="cuda")
    except ProblemError:
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=4, help="how many CUDA C solutions")
    args = parser.parse_args()
    problems = [p for p in list_problems() if has_cuda_solution(p)]
    totals = {True: 0.0, False: 0.0}
    for problem in problems[: args.limit]:
        source = solution_path(problem, backend="cuda").read_text()
        for blind in (True, False):
            options = EvalOptions(device="cpu", backend="cuda", profile=False, blind=blind)
            started = time.perf_counter()
            result = evaluate(problem, source, options)
            took = time.perf_counter() - started
            totals[blind] += took
            print(f"{problem.id:45s} blind={blind!s:5s} {result.status.value:10s} {took:6.1f} s")
    ratio = totals[True] / totals[False] if totals[False] else float("nan")
    print(f"total: blind {totals[True]:.1f} s, not blind {totals[False]:.1f} s, ratio {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
