"""tests/gpu: what only a CUDA GPU can show (marker `gpu`; see docs/gpu.md).

Every test here is skipped, with the reason, where `torch.cuda.is_available()` is false,
so CI on CPU collects them (import-clean) and stays green. On a GPU machine
`scripts/gpu-check` runs them with `python -m pytest tests/gpu -m gpu`.
Evaluations go through the real entry point (`kernelbench.harness.evaluate.evaluate`) with the
default sandbox, as `kwright eval --device cuda` does.
"""

from __future__ import annotations

import pytest
import torch

from kernelbench.harness.evaluate import evaluate
from kernelbench.problems.registry import resolve_problem
from kernelbench.protocol.request import EvalOptions
from kernelbench.protocol.result import EvalResult


def no_gpu_reason() -> str | None:
    """None where a CUDA device is usable, else why not (one line)."""
    if torch.cuda.is_available():
        return None
    if torch.version.cuda is None:
        return f"needs a CUDA GPU: this torch ({torch.__version__}) is a CPU build"
    return (
        f"needs a CUDA GPU: torch {torch.__version__} (CUDA {torch.version.cuda}) sees no "
        "device (driver missing, or CUDA_VISIBLE_DEVICES empty)"
    )


@pytest.fixture(autouse=True)
def _needs_gpu() -> None:
    reason = no_gpu_reason()
    if reason is not None:
        pytest.skip(reason)


def gpu_evaluate(problem_id: str, source: str, **options: object) -> EvalResult:
    """One evaluation on the GPU; `options` override EvalOptions (timing off unless asked)."""
    fields: dict[str, object] = {"device": "cuda", "timing": False, "profile": False}
    fields.update(options)
    return evaluate(resolve_problem(problem_id), source, EvalOptions.model_validate(fields))
