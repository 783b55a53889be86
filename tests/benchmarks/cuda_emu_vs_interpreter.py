"""Emulated CUDA C against the Triton interpreter, same problems, same run, same CPU.

For every built-in problem with a hand-written CUDA C solution, evaluates that solution
(emulated device) and the problem's Triton solution (TRITON_INTERPRET=1) through the real
harness at the CPU check sizes, one after the other, and prints the wall time of each
(steps that a warm sandbox zygote forks are not this process's children, so their CPU time
cannot be read here: run it on a quiet machine). The emulated time includes building the
extension (g++ against the precompiled runtime header, prepared once before the loop and
not counted).

    python tests/benchmarks/cuda_emu_vs_interpreter.py [--problem levelN/NAME ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kernelbench.harness.evaluate import evaluate
from kernelbench.problems.registry import SOLUTIONS_ROOT, resolve_problem, solution_path
from kernelbench.protocol.request import EvalOptions
from kernelbench.runner.cuda_emu.build import emulator_step_env


def _timed(problem_id: str, backend: str) -> tuple[str, float]:
    problem = resolve_problem(problem_id)
    source = solution_path(problem, backend=backend).read_text()
    t0 = time.perf_counter()
    result = evaluate(problem, source, EvalOptions(device="cpu", profile=False))
    return result.status.value, time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", action="append", default=None)
    args = parser.parse_args()
    ids = args.problem or sorted(
        f"{p.parent.name}/{p.stem.removesuffix('_cuda')}"
        for p in SOLUTIONS_ROOT.glob("level*/*_cuda.py")
    )
    t0 = time.perf_counter()
    emulator_step_env()  # the precompiled runtime header, built once per toolchain
    print(f"runtime header ready in {time.perf_counter() - t0:.1f} s (not counted below)")
    print(f"{'problem':40} {'cuda-emu':>14} {'wall s':>7} {'triton-interp':>14} {'wall s':>7}")
    totals = [0.0, 0.0]
    for pid in ids:
        (c_status, c_s), (t_status, t_s) = _timed(pid, "cuda"), _timed(pid, "triton")
        totals[0] += c_s
        totals[1] += t_s
        print(f"{pid:40} {c_status:>14} {c_s:7.1f} {t_status:>14} {t_s:7.1f}", flush=True)
    print(f"{'total':40} {'':>14} {totals[0]:7.1f} {'':>14} {totals[1]:7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
