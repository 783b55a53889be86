"""The GPU benchmark stage of `scripts/gpu-check`: every built-in Triton solution timed at
its problem's default sizes against the eager reference and `torch.compile` of it.

    python scripts/gpu_bench.py OUT.jsonl --deadline EPOCH_S

One JSON line per problem, written as soon as it is measured, so that a stage cut short
by its time limit keeps what it measured; problems it did not reach before the deadline
get `"status": "not_reached"`. Every figure is the harness's own (EvalResult fields):
nothing is computed here but the row.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from kernelbench.harness.evaluate import evaluate
from kernelbench.problems.registry import list_problems, solution_path
from kernelbench.protocol.request import EvalOptions

OPTIONS = EvalOptions(
    device="cuda",
    trials=2,
    extra_shapes=False,
    random_shape=False,
    timing=True,
    compare_torch_compile=True,
    timing_trials=30,
    timing_warmup=3,
    timing_budget_s=1.0,
    profile=False,
    timeout_s=120.0,
)
FIELDS = (
    "status",
    "reason",
    "runtime_ms",
    "ref_runtime_ms",
    "ref_compile_runtime_ms",
    "speedup",
    "speedup_vs_compile",
    "duration_s",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gpu_bench")
    parser.add_argument("out", type=Path)
    parser.add_argument("--deadline", type=float, required=True, help="epoch seconds")
    args = parser.parse_args(argv)
    with args.out.open("w", encoding="utf-8") as fh:
        for problem in list_problems():
            row: dict[str, object] = {"problem": problem.id, "sizes": problem.sizes}
            if time.time() > args.deadline:
                row["status"] = "not_reached"
            else:
                result = evaluate(problem, solution_path(problem).read_text(), OPTIONS)
                row.update(result.model_dump(mode="json", include=set(FIELDS)))
            fh.write(json.dumps(row) + "\n")
            fh.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
