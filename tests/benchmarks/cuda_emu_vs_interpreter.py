"""Emulated CUDA C against the Triton interpreter, same problems, same run, same CPU.

For every built-in problem with a hand-written CUDA C solution, evaluates that solution
(emulated device) and the problem's Triton solution (TRITON_INTERPRET=1) through the real
harness at the CPU check sizes, one after the other, and prints the wall time and the CPU
time of the child processes (steady on a shared machine) of each. The emulated time
includes building the extension (g++ against the precompiled runtime header, prepared once
before the loop and not counted).

    python tests/benchmarks/cuda_emu_vs_interpreter.py [--problem levelN/NAME ...]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kernelbench.cuda_emu.build import emulator_step_env
from kernelbench.registry import SOLUTIONS_ROOT, resolve_problem, solution_path
from kernelbench.request import EvalOptions
from sandbox.evaluate import evaluate


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(problem_id: str, backend: str) -> tuple[str, float, float]:
    problem = resolve_problem(problem_id)
    source = solution_path(problem, backend=backend).read_text()
    cpu0, t0 = _children_cpu_s(), time.perf_counter()
    result = evaluate(problem, source, EvalOptions(device="cpu", profile=False))
    return result.status.value, time.perf_counter() - t0, _children_cpu_s() - cpu0


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
    print(f"{'problem':40} {'cuda-emu':>18} {'wall s':>7} {'cpu s':>6}"
          f" {'triton-interp':>18} {'wall s':>7} {'cpu s':>6}")  # fmt: skip
    totals = [0.0, 0.0, 0.0, 0.0]
    for pid in ids:
        cuda = _timed(pid, "cuda")
        triton = _timed(pid, "triton")
        for i, v in enumerate((cuda[1], cuda[2], triton[1], triton[2])):
            totals[i] += v
        print(f"{pid:40} {cuda[0]:>18} {cuda[1]:7.1f} {cuda[2]:6.1f}"
              f" {triton[0]:>18} {triton[1]:7.1f} {triton[2]:6.1f}", flush=True)  # fmt: skip
    print(f"{'total':40} {'':>18} {totals[0]:7.1f} {totals[1]:6.1f}"
          f" {'':>18} {totals[2]:7.1f} {totals[3]:6.1f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
