"""The CUDA C candidates of tests/gpu/test_cuda_c.py, on the CPU: the same sources get
the CPU's verdicts, so the GPU tests start from candidates known to be sound code.
`load_inline` runs on the emulated device (correct / incorrect / the bounds check's
runtime error); `cupy.RawKernel` cannot run here, but nvcc compiles it (`not_run`)."""

from __future__ import annotations

import pytest

from kernelbench.harness.evaluate import evaluate
from kernelbench.problems.registry import resolve_problem
from kernelbench.protocol.request import EvalOptions
from kernelbench.protocol.result import Status
from tests.gpu.test_cuda_c import BODIES, EXPECTED, PROBLEM, candidate_source

pytestmark = pytest.mark.slow
OPTIONS = EvalOptions(
    device="cpu", backend="cuda", trials=1, extra_shapes=False, random_shape=False, profile=False
)


@pytest.mark.parametrize("variant", list(BODIES))
def test_load_inline_candidate_gets_its_verdict_on_the_emulated_device(variant):
    result = evaluate(resolve_problem(PROBLEM), candidate_source("load_inline", variant), OPTIONS)
    assert result.status in EXPECTED[variant], f"{result.status}: {result.reason}"
    if variant == "oob":
        assert "out-of-bounds access to y" in (result.reason or "")


@pytest.mark.parametrize("variant", list(BODIES))
def test_cupy_candidate_compiles_with_nvcc_and_is_not_run(variant):
    result = evaluate(resolve_problem(PROBLEM), candidate_source("cupy", variant), OPTIONS)
    assert result.status == Status.NOT_RUN, f"{result.status}: {result.reason}"
    assert "compiled for sm_90 with nvcc" in (result.reason or "")
