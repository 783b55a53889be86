"""The evaluation harness, for real: child processes, the Triton interpreter, real torch."""

from __future__ import annotations

import pytest

from kernelbench.harness.evaluate import evaluate
from kernelbench.problems.problem import load_problem
from kernelbench.problems.registry import resolve_problem, solution_path
from kernelbench.protocol.request import EvalOptions
from kernelbench.protocol.result import ErrorKind, Status
from tests.conftest import FIXTURES

RELU = resolve_problem("level1/2_ReLU")


# The whole suite is swept in tests/test_suite.py; these two check the trial mechanics.
@pytest.mark.parametrize("problem_id", ["level1/2_ReLU", "level2/1_Gemm_Bias_ReLU"])
def test_builtin_solution_correct_and_wrong_twin_incorrect(problem_id):
    problem = resolve_problem(problem_id)
    good = evaluate(problem, solution_path(problem).read_text())
    assert good.status == Status.CORRECT, good.reason or good.messages
    assert good.correct and len(good.trials) >= 4
    assert len({t.seed for t in good.trials}) == len(good.trials)  # fresh seed per trial
    assert len({tuple(t.sizes.items()) for t in good.trials}) >= 2  # more than one shape
    assert good.speedup is None and good.runtime_ms is None and "not measured" in good.timing_note
    # Every built-in solution also profiles for sm_90 (the default arch) without error.
    profile = good.profile
    assert profile is not None and profile.arch == "sm_90", "no profile attached"
    assert profile.errors == [] and profile.kernels, profile.errors
    assert all(k.registers_per_thread and k.sass is not None for k in profile.kernels)
    assert profile.duration_s is not None and profile.duration_s <= 20.0
    bad = evaluate(problem, solution_path(problem, wrong=True).read_text())
    assert bad.status == Status.INCORRECT, bad.reason or bad.messages
    assert not bad.correct and "trial" in bad.reason


def test_seeds_differ_between_evaluations():
    a = evaluate(RELU, solution_path(RELU).read_text())
    b = evaluate(RELU, solution_path(RELU).read_text())
    assert {t.seed for t in a.trials}.isdisjoint({t.seed for t in b.trials})


def test_zero_output_is_not_correct_for_tiny_magnitude_problem():
    problem = load_problem(FIXTURES / "unseen" / "tiny_scale.py")
    zeros = evaluate(problem, (FIXTURES / "candidates" / "tiny_scale_zeros.py").read_text())
    assert zeros.status == Status.INCORRECT
    assert "constant" in zeros.reason
    good = evaluate(problem, (FIXTURES / "candidates" / "tiny_scale_correct.py").read_text())
    assert good.status == Status.CORRECT, good.reason


def test_unchanged_kernelbench_file_is_shrunk_by_the_generic_rule():
    problem = resolve_problem("level1/12_Swish", FIXTURES / "kb_checkout")
    result = evaluate(problem, (FIXTURES / "candidates" / "swish.py").read_text())
    assert result.status == Status.CORRECT, result.reason
    first = result.trials[0].sizes
    others = [t.sizes for t in result.trials if t.sizes not in (first, result.random_shape)]
    varied = others[-1]
    assert first["batch_size"] * first["dim"] <= 32768  # within the CPU budget
    assert varied["dim"] == first["dim"] - first["dim"] // 8 - 1 and varied["dim"] % 2 == 1
    tail = evaluate(problem, (FIXTURES / "candidates" / "swish_nomask_tail.py").read_text())
    assert tail.status == Status.INCORRECT  # caught on the varied (non power of two) shape


KERNEL = """
import torch, torch.nn as nn, triton, triton.language as tl

@triton.jit
def relu_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    o = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = o < n
    tl.store(y_ptr + o, tl.maximum(tl.load(x_ptr + o, mask=m, other=0.0), 0.0), mask=m)

class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
    def forward(self, x):
        BODY
"""


def _candidate(body: str) -> str:
    return KERNEL.replace("BODY", body)


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        # computes the right values but writes them into the input
        (
            "relu_kernel[(triton.cdiv(x.numel(), 1024),)](x, x, x.numel(), BLOCK=1024)\n        return x.clone()",
            Status.INCORRECT,
            "modified its inputs",
        ),
        # returns the input's own memory (a view of it), with correct values only where x >= 0
        (
            "y = torch.empty_like(x)\n"
            "        relu_kernel[(triton.cdiv(x.numel(), 1024),)](x, y, x.numel(), BLOCK=1024)\n"
            "        return x.view_as(x)",
            Status.INCORRECT,
            "shares memory with input 0",
        ),
        (
            "y = torch.empty_like(x)\n        return y.zero_()",
            Status.REJECTED,
            "launched no Triton kernel",
        ),
        ("import os\n        os.abort()", Status.RUNTIME_ERROR, "SIGABRT"),
        ("raise ValueError('boom')", Status.RUNTIME_ERROR, "ValueError: boom"),
        ("return torch.relu(x)", Status.REJECTED, "torch.relu"),
    ],
)
def test_candidate_faults_get_typed_statuses(body, status, reason):
    # os.abort is refused by the static check; with it off, the crash must be contained.
    result = evaluate(RELU, _candidate(body), EvalOptions(static_check="os.abort" not in body))
    assert result.status == status, (result.reason, result.messages)
    assert reason in (result.reason or ""), result.reason


def test_out_of_bounds_store_crash_is_contained():
    source = _candidate(
        "y = torch.empty(4, device=x.device)\n"
        "        relu_kernel[(4096,)](x, y, 10**9, BLOCK=1024)\n        return y"
    )
    result = evaluate(RELU, source)
    assert result.status in (Status.RUNTIME_ERROR, Status.INCORRECT)
    assert not result.correct


def test_triton_compile_error_is_compile_error():
    source = _candidate(
        "y = torch.empty_like(x)\n        relu_kernel[(1,)](x, y, x.numel(), BLOCK=1000)\n        return y"
    )
    result = evaluate(RELU, source)
    assert result.status in (Status.COMPILE_ERROR, Status.RUNTIME_ERROR)
    assert "power of 2" in (result.reason or "") + result.messages


def test_syntax_error_and_missing_modelnew_are_compile_errors():
    assert evaluate(RELU, "def broken(:\n").status == Status.COMPILE_ERROR
    no_class = evaluate(RELU, "import torch\nclass Other: pass\n")
    assert no_class.status == Status.COMPILE_ERROR and "ModelNew" in no_class.reason


def test_forged_step_report_is_not_accepted():
    # The candidate writes a fake report and exits before the harness can write its own.
    body = (
        "import json, os\n"
        "        json.dump({'step': 'candidate', 'status': 'ok', 'trials': []}, open('step.json', 'w'))\n"
        "        os._exit(0)"
    )
    result = evaluate(RELU, _candidate(body), EvalOptions(allow_torch_ops=True))
    assert result.status in (Status.REJECTED, Status.RUNTIME_ERROR)
    assert not result.correct


BAD_PROBLEM = """
import torch, torch.nn as nn
class Model(nn.Module):
    def __init__(self, a):
        super().__init__()
    def forward(self, x):
        return x
n = 64
def get_inputs():
    GET_INPUTS
def get_init_inputs():
    return INIT
"""


@pytest.mark.parametrize(
    ("get_inputs", "init", "fault"),
    [
        ("raise RuntimeError('no data')", "[1]", "get_inputs() raised RuntimeError: no data"),
        ("return [torch.randn(n)]", "[]", "Model.__init__ cannot take"),
        ("return [torch.randn(n), torch.randn(n)]", "[1]", "Model.forward cannot take"),
    ],
)
def test_problem_faults_found_at_run_time_are_bad_problem(write, get_inputs, init, fault):
    path = write("p.py", BAD_PROBLEM.replace("GET_INPUTS", get_inputs).replace("INIT", init))
    result = evaluate(load_problem(path), _candidate("return x"))
    assert result.status == Status.ERROR and result.error_kind == ErrorKind.BAD_PROBLEM
    assert fault in result.reason and "p.py" in result.reason


CUDA_CANDIDATE = '''
import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

cuda_src = """
__global__ void relu_kernel(const float* x, float* y, int n) {
    asm volatile("");  // outside the CPU emulator: the compile-only not_run path
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = x[i] > 0.f ? x[i] : 0.f;
}
"""
cpp_src = "void relu(torch::Tensor x, torch::Tensor y);"
ext = load_inline(name="relu_ext", cpp_sources=cpp_src, cuda_sources=cuda_src, functions=["relu"])

class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
    def forward(self, x):
        y = torch.empty_like(x)
        ext.relu(x, y)
        return y
'''


@pytest.mark.slow
def test_cuda_candidate_without_gpu_is_compiled_then_not_run():
    result = evaluate(RELU, CUDA_CANDIDATE)
    assert result.status == Status.NOT_RUN, (result.reason, result.messages)
    assert "needs a CUDA GPU" in result.reason and "sm_90" in result.reason
    assert "registers" in result.messages  # ptxas -v facts


def test_cuda_compile_error_is_reported_with_nvcc_output():
    broken = CUDA_CANDIDATE.replace("y[i] = x[i]", "y[i] = undefined_name + x[i]")
    result = evaluate(RELU, broken)
    assert result.status == Status.COMPILE_ERROR
    assert "undefined_name" in result.messages


# The float32 reference rounds x to multiples of 2**-11 (the spacing of floats near 4096):
# up to 2.4e-4 from the exact x, more than the default atol (1e-4 x RMS ~ 1e-4).
ILL_CONDITIONED = """
import torch, torch.nn as nn

class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return (x + 4096.0) - 4096.0

n = 4096

def get_inputs():
    return [torch.randn(n)]

def get_init_inputs():
    return []
"""

SHIFTED_COPY = """
import torch, torch.nn as nn, triton, triton.language as tl

@triton.jit
def copy_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    o = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = o < n
    tl.store(y_ptr + o, tl.load(x_ptr + o, mask=m, other=0.0) + SHIFT, mask=m)

class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
    def forward(self, x):
        y = torch.empty_like(x)
        copy_kernel[(triton.cdiv(x.numel(), 1024),)](x, y, x.numel(), BLOCK=1024)
        return y
"""


def test_an_exact_kernel_for_an_ill_conditioned_reference_passes_on_its_noise_floor(write):
    """The exact result (x itself) is farther from the float32 reference than the default
    tolerance allows; the reference step measures the reference's own float32 error (its
    float64 run) and the tolerance rises to 4x that: the exact kernel is correct, a kernel
    off by 1e-2 is still not."""
    problem = load_problem(write("level1/1_Cancel.py", ILL_CONDITIONED))
    exact = evaluate(problem, SHIFTED_COPY.replace("SHIFT", "0.0"), EvalOptions(trials=1))
    assert exact.status == Status.CORRECT, exact.reason
    check = exact.trials[0].outputs[0]
    assert check.max_abs_err is not None and check.max_abs_err > 1.5e-4  # over the default
    assert check.noise_floor is not None and check.atol == check.noise_floor
    assert 4 * 1.5e-4 < check.noise_floor <= 4 * 2.5e-4
    off = evaluate(problem, SHIFTED_COPY.replace("SHIFT", "0.01"), EvalOptions(trials=1))
    assert off.status == Status.INCORRECT
    assert "4x the reference's own float32 error" in (off.reason or "")


# The reference rounds x to the spacing of floats near 2**24 / n: 2**-10 of an RMS of 1 at
# n = 2048 (rounding, under the 1e-2 ceiling), 2**-4 at n = 32 (no float32 kernel can match).
SIZE_CONDITIONED = """
import torch, torch.nn as nn

class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        c = 2.0**24 / x.numel()
        return (x + c) - c

n = 4096
CHECK_SIZES = [{"n": 2048}, {"n": 32}]

def get_inputs():
    return [torch.randn(n)]

def get_init_inputs():
    return []
"""


def test_a_shape_where_the_reference_is_off_its_float64_self_is_dropped_with_the_reason(write):
    """A check shape at which the float32 reference is over 1e-2 of its RMS off its float64
    run cannot tell a right kernel from a wrong one: it is dropped (the flag says why) and
    the exact kernel is correct on the shape that is well-conditioned. A first shape that is
    ill-conditioned everywhere is kept, and its check is not loosened."""
    problem = load_problem(write("level1/1_Conditioned.py", SIZE_CONDITIONED))
    exact = evaluate(problem, SHIFTED_COPY.replace("SHIFT", "0.0"), EvalOptions(trials=1))
    assert exact.status == Status.CORRECT, exact.reason
    checked = [t.sizes["n"] for t in exact.trials]  # the first shape, then the secret one
    assert checked[0] == 2048 and 32 not in checked, checked
    (flag,) = [f for f in exact.flags if f.startswith("shapes dropped")]
    assert "{'n': 32}" in flag and "off its float64 self" in flag, flag
    ill_first = write(
        "level1/2_IllFirst.py",
        SIZE_CONDITIONED.replace('[{"n": 2048}, {"n": 32}]', '[{"n": 32}, {"n": 2048}]'),
    )
    kept = evaluate(load_problem(ill_first), SHIFTED_COPY.replace("SHIFT", "0.0"), EvalOptions())
    assert kept.status == Status.INCORRECT, kept.reason
    assert kept.trials[0].sizes == {"n": 32} and kept.trials[0].outputs[0].noise_floor is None
