"""Every built-in hand-written Triton solution is `correct` natively (compiled by Triton
for this GPU, not interpreted) at its problem's default sizes."""

from __future__ import annotations

import pytest

from kernelbench.problems.registry import list_problems, solution_path
from kernelbench.protocol.result import Status
from tests.gpu.conftest import gpu_evaluate

pytestmark = pytest.mark.gpu

PROBLEMS = list_problems()


@pytest.mark.parametrize("problem", PROBLEMS, ids=[p.id for p in PROBLEMS])
def test_builtin_triton_solution_is_correct_at_default_sizes(problem):
    source = solution_path(problem).read_text()
    # extra_shapes/random_shape off: the default sizes only, the shape timing uses
    result = gpu_evaluate(problem.id, source, trials=2, extra_shapes=False, random_shape=False)
    assert result.status == Status.CORRECT, (
        f"{result.status}: {result.reason}\n{result.messages[-2000:]}"
    )
    assert result.device == "cuda"
    assert result.trials and all(t.sizes == problem.sizes for t in result.trials)
