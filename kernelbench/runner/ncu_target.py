"""What Nsight Compute profiles on a GPU: `python -m kernelbench.runner.ncu_target WORKDIR` runs the
candidate's forward on the problem's default-size inputs, once after one warm-up call
(so compilation and autotuning are not what ncu sees first).

Started by the profile step (`profiler.ncu.run_ncu_for_step`) under ncu, inside the
sandbox. Needs a CUDA GPU; it exits 2 with a message where there is none.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from kernelbench.problems.loading import load_module, make_init_inputs, make_inputs, seed_all
from kernelbench.protocol.request import PROBLEM_FILE
from kernelbench.protocol.runner_files import CANDIDATE_FILE

WARMUP_CALLS = 1


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python -m kernelbench.runner.ncu_target WORKDIR\n")
        return 2
    if not torch.cuda.is_available():
        sys.stderr.write("ncu_target: needs a CUDA GPU\n")
        return 2
    workdir = Path(argv[1])
    problem = load_module(workdir / PROBLEM_FILE, "kw_problem")
    candidate = load_module(workdir / CANDIDATE_FILE, "kw_candidate")
    sizes: dict[str, int] = {}  # the problem's module-level defaults stay as they are
    seed_all(0)
    model = candidate.ModelNew(*make_init_inputs(problem, sizes)).to("cuda")
    inputs = make_inputs(problem, sizes, 0, "cuda")
    with torch.no_grad():
        for _ in range(WARMUP_CALLS + 1):
            model(*inputs)
    torch.cuda.synchronize()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
