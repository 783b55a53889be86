"""The built-in suite's hand-written CUDA C solutions on the CPU (the emulated device),
through the real harness and sandbox: each solution `correct`, each wrong twin not, caught
by the mechanism it was written to trip (a missing barrier by the shuffled thread order, an
out-of-bounds tail by the bounds check). Slow: every evaluation builds its extension."""

from __future__ import annotations

import pytest

from kernelbench.harness.evaluate import evaluate
from kernelbench.problems.registry import SOLUTIONS_ROOT, resolve_problem, solution_path
from kernelbench.protocol.request import EvalOptions
from kernelbench.protocol.result import Status
from tests.conftest import kwright

CUDA_SOLUTIONS = sorted(
    f"{p.parent.name}/{p.stem.removesuffix('_cuda')}"
    for p in SOLUTIONS_ROOT.glob("level*/*_cuda.py")
)
# how each wrong twin must fail: the missing barriers give wrong numbers, the tails trip
# the bounds check, the wrong strides give wrong numbers (or leave the tensor); None: either,
# depending on the secret random shape
EXPECTED_WRONG = {
    "level1/1_Square_matmul": Status.INCORRECT,
    "level1/3_Sum_reduction_over_dim": Status.INCORRECT,
    "level1/4_Softmax": Status.INCORRECT,
    "level1/5_LayerNorm": Status.INCORRECT,
    "level1/25_Cumsum": Status.INCORRECT,
    "level1/2_ReLU": Status.RUNTIME_ERROR,
    "level1/6_GELU": Status.RUNTIME_ERROR,
    "level1/31_HardSwish_fp16": Status.RUNTIME_ERROR,
    "level1/14_Max_reduction_over_last_dim": Status.INCORRECT,
    "level1/24_Matvec": Status.INCORRECT,
    # bias[row]: wrong numbers where batch <= out_features, a read past the bias where the
    # random shape draws batch > out_features (CI once drew batch 32+, out_features 31)
    "level2/1_Gemm_Bias_ReLU": None,
    "level1/29_Conv2d": None,  # either: wrong numbers, or a read past the input
}
NO_PROFILE = EvalOptions(device="cpu", profile=False)


def test_at_least_twelve_cuda_solutions_each_with_a_wrong_twin():
    assert len(CUDA_SOLUTIONS) >= 12
    assert set(CUDA_SOLUTIONS) == set(EXPECTED_WRONG)
    for pid in CUDA_SOLUTIONS:
        assert solution_path(resolve_problem(pid), wrong=True, backend="cuda").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("problem_id", CUDA_SOLUTIONS)
def test_cuda_solution_is_correct_on_the_emulated_device(problem_id):
    problem = resolve_problem(problem_id)
    result = evaluate(problem, solution_path(problem, backend="cuda").read_text(), NO_PROFILE)
    assert result.status == Status.CORRECT, (result.status, result.reason, result.messages[-2000:])
    assert result.backend == "cuda" and result.device == "cpu"


@pytest.mark.slow
@pytest.mark.parametrize("problem_id", CUDA_SOLUTIONS)
def test_cuda_wrong_twin_is_caught(problem_id):
    problem = resolve_problem(problem_id)
    source = solution_path(problem, wrong=True, backend="cuda").read_text()
    result = evaluate(problem, source, NO_PROFILE)
    assert result.status in (Status.INCORRECT, Status.RUNTIME_ERROR), (result.status, result.reason)
    expected = EXPECTED_WRONG[problem_id]
    if expected is not None:
        assert result.status == expected, (result.status, result.reason)
    if result.status == Status.RUNTIME_ERROR:
        assert "out-of-bounds access" in str(result.reason) and "kernel " in str(result.reason)


@pytest.mark.slow
def test_cli_eval_cuda_solution_and_twin_with_the_static_profile_from_nvcc():
    ok = kwright("eval", "level1/2_ReLU", "@solution-cuda", "--device", "cpu", "--json")
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert '"status": "correct"' in ok.stdout and "relu_vec4_kernel" in ok.stdout  # nvcc's facts
    bad = kwright("eval", "level1/2_ReLU", "@wrong-cuda", "--device", "cpu")
    assert bad.returncode == 1 and "runtime_error" in bad.stdout
    assert "out-of-bounds" in bad.stdout


@pytest.mark.slow
def test_llm_loop_with_backend_cuda_on_the_cpu_gets_real_verdicts(tmp_path):
    """Round 1 the Coder writes a reduction with a race (a missing barrier): the emulated
    device makes it `incorrect` and the Judge sees that; round 2 it is fixed: `correct`."""
    import json

    from agents.config import AgentConfig, LLMSettings
    from agents.job import run_job
    from sandbox.base import get_sandbox
    from sandbox.defaults import default_sandbox_name
    from tests.fake_openai import FakeOpenAI, Scripted

    problem = resolve_problem("level1/3_Sum_reduction_over_dim")
    racy = solution_path(problem, wrong=True, backend="cuda").read_text()
    fixed = solution_path(problem, backend="cuda").read_text()
    repair = json.dumps(
        {
            "critical_issue": "the tree reduction has no barrier between levels",
            "why_it_matters": "threads read partial sums before they are written",
            "minimal_fix": "add __syncthreads() after each level",
        }
    )
    optimize = json.dumps(
        {"bottleneck": "one block per output", "method": "warp shuffles", "plan": ["x"]}
    )
    with FakeOpenAI() as fake:
        fake.script(
            "coder",
            Scripted(content=f"A block reduction.\n\n```python\n{racy}```\n"),
            Scripted(content=f"Barrier added.\n\n```python\n{fixed}```\n"),
        )
        fake.script("judge", Scripted(content=repair), Scripted(content=optimize))
        llm = LLMSettings(model="gpt-4o-mini", base_url=fake.base_url, max_retries=1)
        cfg = AgentConfig(agent="llm", llm=llm, rounds=2, backend="cuda")
        with get_sandbox(default_sandbox_name()) as box:
            _, info = run_job([problem], cfg, tmp_path, box, api_key="sk-test-not-a-real-key")
        judge = fake.requests_for("judge")
    first, second = info.results[problem.id].attempts
    assert first.status == "incorrect", (first.status, first.reason)
    assert second.status == "correct", (second.status, second.reason)
    assert "incorrect" in judge[0].user


def _relu_with(device_line: str) -> str:
    """The ReLU CUDA C solution with one extra line in its kernel."""
    source = solution_path(resolve_problem("level1/2_ReLU"), backend="cuda").read_text()
    anchor = "    int n4 = n / 4;\n"
    assert anchor in source
    return source.replace(anchor, anchor + device_line + "\n")


@pytest.mark.slow
def test_a_construct_outside_the_surface_is_not_run_naming_it():
    source = _relu_with('    if (i < 0) asm volatile("trap;");')
    result = evaluate(resolve_problem("level1/2_ReLU"), source, NO_PROFILE)
    assert result.status == Status.NOT_RUN, (result.status, result.reason)
    reason = str(result.reason)
    assert "inline PTX (asm)" in reason and "compiled for sm_90 with nvcc" in reason


@pytest.mark.slow
def test_what_nvcc_compiles_but_the_emulator_cannot_build_is_an_error_not_a_compile_error():
    source = _relu_with("    if (i < 0) i = __brev(i);")  # a real intrinsic the emulator lacks
    result = evaluate(resolve_problem("level1/2_ReLU"), source, NO_PROFILE)
    assert result.status == Status.ERROR and result.error_kind == "infra", result.reason
    assert "could not build" in str(result.reason) and "__brev" in str(result.messages)
