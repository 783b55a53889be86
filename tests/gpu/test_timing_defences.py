"""The timing defences of issue 9 on a real GPU (kernelbench.runner.timed,
kernelbench.harness.timed_verdict), against the red-team corpus's timing cheats:

* a model that returns its last output from the third call on (`tm_relu_call_counter`):
  two correctness calls pass, the timed calls are stale, and only the re-check of the
  sampled timed calls can catch it (`incorrect`, "timed call sample ...");
* outputs cached by input pointer (`tm_relu_cache_by_ptr`): the reused-buffer trial and
  the rotated timing buffers both repeat pointers with new contents: not `correct`;
* the kernel launched on a private stream (`tm_softmax_side_stream`): time_gpu
  synchronises the whole device inside the timed span, so the work is timed. Either the
  verdict is not `correct`, or its time is no better than half the honest solution's.
"""

from __future__ import annotations

import pytest

from kernelbench.problems.registry import resolve_problem, solution_path
from kernelbench.protocol.result import Status
from tests.conftest import ROOT
from tests.gpu.conftest import gpu_evaluate

pytestmark = pytest.mark.gpu

CHEATS = ROOT / "tests" / "redteam" / "cheats"
# two correctness calls on one shape, then the timing loop
TIMED = {
    "timing": True,
    "timing_trials": 50,
    "trials": 2,
    "extra_shapes": False,
    "random_shape": False,
}


def test_outputs_frozen_after_the_correctness_calls_fail_the_timed_recheck():
    source = (CHEATS / "tm_relu_call_counter.py").read_text()
    result = gpu_evaluate("level1/2_ReLU", source, **TIMED)
    assert result.status == Status.INCORRECT, (result.status, result.reason)
    assert "timed call sample" in (result.reason or ""), result.reason


def test_an_output_cached_by_pointer_is_caught_by_the_timed_recheck():
    source = (CHEATS / "tm_relu_cache_by_ptr.py").read_text()
    result = gpu_evaluate("level1/2_ReLU", source, **TIMED)
    assert result.status in {Status.INCORRECT, Status.REJECTED}, (result.status, result.reason)
    assert result.speedup is None


def test_a_side_stream_launch_is_timed_with_its_work():
    problem = resolve_problem("level1/4_Softmax")
    honest = gpu_evaluate(problem.id, solution_path(problem).read_text(), **TIMED)
    assert honest.status == Status.CORRECT and honest.runtime_ms, honest.reason
    source = (CHEATS / "tm_softmax_side_stream.py").read_text()
    cheat = gpu_evaluate(problem.id, source, **TIMED)
    if cheat.status != Status.CORRECT:
        return  # caught outright
    assert cheat.runtime_ms is not None
    assert cheat.runtime_ms >= 0.5 * honest.runtime_ms, (cheat.runtime_ms, honest.runtime_ms)
