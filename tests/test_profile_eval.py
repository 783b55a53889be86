"""Profiles attached by the evaluation, and `kwright profile`, end to end (real harness
steps in child processes, real compilers)."""

from __future__ import annotations

import json

from agents.config import AgentConfig
from agents.job import eval_options
from kernelbench.harness.evaluate import evaluate
from kernelbench.problems.problem import load_problem
from kernelbench.problems.registry import resolve_problem, solution_path
from kernelbench.protocol.request import EvalOptions
from kernelbench.protocol.result import Status
from tests.conftest import kwright

RELU = resolve_problem("level1/2_ReLU")
QUICK = EvalOptions(trials=1, extra_shapes=False)


def test_profile_is_attached_then_served_from_the_cache():
    source = solution_path(RELU).read_text()
    first = evaluate(RELU, source, QUICK)
    assert first.status == Status.CORRECT and first.profile is not None
    second = evaluate(RELU, source, QUICK)
    assert second.profile is not None and second.profile.cached
    assert (
        second.profile.kernels[0].registers_per_thread
        == first.profile.kernels[0].registers_per_thread
    )
    assert second.profile.duration_s is not None and second.profile.duration_s < 1.0
    assert "MEMORY-BOUND" in second.profile.summary()


def test_a_runs_target_gpu_reaches_the_roofline():
    """`kwright run --gpu A100 --arch sm_90`: the roofline is drawn for the A100 asked
    for, not for the arch's default GPU (the H100)."""
    config = AgentConfig(target_gpu="A100", arch="sm_90")
    options = eval_options(config, "cpu").model_copy(update={"trials": 1, "extra_shapes": False})
    result = evaluate(RELU, solution_path(RELU).read_text(), options)
    assert result.profile is not None and result.profile.gpu == "A100"
    assert result.profile.arch == "sm_90"


def test_no_profile_when_disabled_or_incorrect():
    assert (
        evaluate(
            RELU, solution_path(RELU).read_text(), QUICK.model_copy(update={"profile": False})
        ).profile
        is None
    )
    wrong = evaluate(RELU, solution_path(RELU, wrong=True).read_text(), QUICK)
    assert wrong.status == Status.INCORRECT and wrong.profile is None


LOOSE_MATMUL = """
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A, B):
        return torch.matmul(A, B)


N = 64
CHECK_SIZES = [{"N": 64}]
TOLERANCE = {"atol": 0.05, "rtol": 0.05}


def get_inputs():
    return [torch.randn(N, N), torch.randn(N, N)]


def get_init_inputs():
    return []
"""


def test_a_kernel_the_gpu_would_reject_is_a_compile_error_not_correct(write):
    # fp16 tl.dot on 8x8 tiles runs in the CPU interpreter; Triton refuses it for a GPU, and
    # a kernel only the interpreter can run is no answer (issue 28: the target compiler's
    # refusal is the verdict's, not a profile footnote).
    problem = load_problem(write("loose_matmul.py", LOOSE_MATMUL))
    source = (
        solution_path(resolve_problem("level1/1_Square_matmul"))
        .read_text()
        .replace("BM, BN, BK = 32, 32, 32", "BM, BN, BK = 8, 8, 8")
        .replace(
            'tl.dot(a, b, input_precision="ieee")', "tl.dot(a.to(tl.float16), b.to(tl.float16))"
        )
    )
    assert "BM, BN, BK = 8, 8, 8" in source and "tl.float16" in source
    result = evaluate(problem, source, QUICK)
    assert result.status == Status.COMPILE_ERROR, result.reason
    assert "sm_90" in result.reason, result.reason
    assert result.profile is not None and result.profile.kernels == []


CUDA_CANDIDATE = '''
import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

cuda_src = """
INCLUDE
constexpr int THREADS = 128;
__global__ void relu4(const float4* x, float4* y, int n4) {
    asm volatile("");  // outside the CPU emulator: the compile-only not_run path
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n4) {
        float4 v = x[i];
        y[i] = make_float4(fmaxf(v.x, 0.f), fmaxf(v.y, 0.f), fmaxf(v.z, 0.f), fmaxf(v.w, 0.f));
    }
}
void launch(const float4* x, float4* y, int n4) { relu4<<<(n4 + THREADS - 1) / THREADS, THREADS>>>(x, y, n4); }
"""
ext = load_inline(name="relu4_ext", cpp_sources="void relu(torch::Tensor x, torch::Tensor y);",
                  cuda_sources=cuda_src, functions=["relu"])

class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
    def forward(self, x):
        y = torch.empty_like(x)
        ext.relu(x, y)
        return y
'''


def test_cuda_candidate_on_cpu_is_not_run_with_a_profile():
    result = evaluate(RELU, CUDA_CANDIDATE.replace("INCLUDE", ""), QUICK)
    assert result.status == Status.NOT_RUN, (result.reason, result.messages)
    assert "sm_90" in result.reason and "needs a CUDA GPU" in result.reason
    assert "registers" in result.messages
    profile = result.profile
    assert profile is not None and [k.name for k in profile.kernels] == ["relu4"]
    k = profile.kernels[0]
    assert k.block_size == 128 and k.sass is not None and k.sass.global_loads == {"128": 1}


def test_cuda_include_of_proc_environ_leaks_no_caller_secret(monkeypatch):
    monkeypatch.setenv("KW_TEST_API_KEY", "sk-do-not-leak-4711")
    monkeypatch.setenv("KW_PLAIN_SETTING", "plain-do-not-leak-4712")
    source = CUDA_CANDIDATE.replace("INCLUDE", '#include "/proc/self/environ"')
    result = evaluate(RELU, source, QUICK)
    # nvcc reads procfs files as empty; either way nothing of the caller's env may show.
    assert result.status in (Status.COMPILE_ERROR, Status.NOT_RUN), result.reason
    dumped = result.model_dump_json()
    assert "sk-do-not-leak-4711" not in dumped and "plain-do-not-leak-4712" not in dumped


def test_cli_profile_json():
    proc = kwright("profile", "level1/2_ReLU", "@solution", "--arch", "sm_80", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["arch"] == "sm_80" and report["gpu"] == "A100"
    assert report["kernels"][0]["name"] == "relu_kernel"
    assert report["roofline"]["bound"] == "memory"


def test_cli_profile_human_output_and_bad_input():
    proc = kwright("profile", "level1/2_ReLU", "@solution")
    assert proc.returncode == 0, proc.stderr
    assert "relu_kernel" in proc.stdout and "MEMORY-BOUND" in proc.stdout
    bad_arch = kwright("profile", "level1/2_ReLU", "@solution", "--arch", "sm_75")
    assert bad_arch.returncode == 2
    missing = kwright("profile", "level1/2_ReLU", "/nonexistent/cand.py")
    assert missing.returncode == 2 and "no such candidate file" in missing.stderr
    bad_gpu = kwright("profile", "level1/2_ReLU", "@solution", "--gpu", "Voodoo")
    assert bad_gpu.returncode == 2 and "unknown GPU" in bad_gpu.stderr


def test_cli_profile_of_a_crashing_candidate_exits_1(write):
    path = write(
        "crash.py",
        "import torch, triton, triton.language as tl\n"
        "class ModelNew(torch.nn.Module):\n"
        "    def forward(self, x):\n"
        "        raise ValueError('boom')\n",
    )
    proc = kwright("profile", "level1/2_ReLU", str(path), "--sandbox", "none")
    assert proc.returncode == 1
    assert "could not profile" in proc.stderr and len(proc.stderr.strip().splitlines()) <= 2
    as_json = kwright("profile", "level1/2_ReLU", str(path), "--sandbox", "none", "--json")
    assert as_json.returncode == 1 and "could not profile" in as_json.stderr
    verdict = json.loads(as_json.stdout)  # like `eval --json`: the verdict that says why
    assert verdict["problem_id"] == "level1/2_ReLU" and verdict["profile"] is None
    assert f"the candidate is {verdict['status']}: {verdict['reason']}" in as_json.stderr
