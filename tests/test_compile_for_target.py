"""A kernel is verified for the target GPU before its verdict can be `correct` (issue 28,
point 2; class 7: interpreter-only code in a kernel body).

Triton's CPU interpreter runs a @triton.jit body as Python, so a body that calls a plain
Python helper or computes with numpy's array methods on a block's `.handle.data` gives
right answers on the CPU although no GPU could run it; likewise the emulated device builds a `__global__`
function that calls host-only C++ with g++, which nvcc refuses. The mechanism under test:
the target's compiler (triton.compile for sm_90, nvcc for sm_90) refusing a kernel turns a
`correct` verdict into `compile_error`, with blind host code off (the kernelbench policy,
where nothing else verifies the body) as well as on. Each body below really is computed
right by the interpreter or the emulator: the twin with the same arithmetic written as
kernel code is `correct`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kernelbench.harness.evaluate import evaluate
from kernelbench.problems.registry import resolve_problem, solution_path
from kernelbench.protocol import runner_files as p
from kernelbench.protocol.request import EvalOptions
from kernelbench.protocol.result import Status

PROBLEM = "level1/2_ReLU"

TRITON = """
import torch
import torch.nn as nn
import triton
import triton.language as tl


def relu_py(v):
    return tl.where(v > 0, v, 0.0)


@triton.jit
def relu_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    BODY
    tl.store(y_ptr + offs, y, mask=mask)


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        out = torch.empty_like(x)
        n = x.numel()
        relu_kernel[(triton.cdiv(n, 1024),)](x, out, n, BLOCK=1024)
        return out
"""

BODIES = {
    "kernel_code": "y = tl.where(x > 0, x, 0.0)",
    "python_helper": "y = relu_py(x)",
    "numpy_on_handle": "x.handle.data[:] = x.handle.data.clip(0)\n    y = x",
}


def options(policy: str, backend: str = "triton") -> EvalOptions:
    return EvalOptions(device="cpu", backend=backend, trials=1, extra_shapes=False, policy=policy)  # type: ignore[arg-type]


@pytest.mark.parametrize("policy", ["kernelbench", "strict"])
@pytest.mark.parametrize("body", list(BODIES))
def test_a_triton_body_only_the_interpreter_runs_is_never_correct(
    body: str, policy: str, tmp_path: Path
) -> None:
    source = TRITON.replace("BODY", BODIES[body])
    kept = tmp_path / "eval"
    result = evaluate(resolve_problem(PROBLEM), source, options(policy), keep_dir=kept)
    if body == "kernel_code":
        assert result.status == Status.CORRECT, f"{result.status}: {result.reason}"
        assert result.profile is not None and result.profile.kernels
        assert result.verified_arch == "sm_90" and result.verify_note is None
        assert result.blind == (policy == "strict")
        assert (kept / "replay" / p.REPLAY_REPORT).is_file() == (policy == "strict")
        return
    # Compiled for sm_90 before any kernel ran on the real data: the replay never started
    # (under kernelbench there is none; the interpreter computed it right, sm_90 refused it).
    assert result.status == Status.COMPILE_ERROR, f"{result.status}: {result.reason}"
    assert "not valid for sm_90: kernel relu_kernel" in (result.reason or "")
    assert result.verified_arch is None and not result.blind
    assert not (kept / "replay" / p.REPLAY_REPORT).exists()


def test_without_profiling_the_kernels_are_not_compiled_and_the_result_says_so() -> None:
    source = TRITON.replace("BODY", BODIES["kernel_code"])
    opts = options("strict").model_copy(update={"profile": False})
    result = evaluate(resolve_problem(PROBLEM), source, opts)
    assert result.status == Status.CORRECT, f"{result.status}: {result.reason}"
    assert result.verified_arch is None and result.profile is None
    assert result.verify_note == "not compiled for sm_90: profiling is off"
    # the steps that ran the candidate's code report their confinement
    assert (result.confinement or "").startswith("candidate: seccomp"), result.confinement
    assert "; replay: seccomp" in (result.confinement or ""), result.confinement


@pytest.mark.slow
def test_a_cuda_kernel_calling_host_only_code_is_a_compile_error_not_correct() -> None:
    good = solution_path(resolve_problem(PROBLEM), backend="cuda").read_text()
    helper = "float host_relu(float v) { return v > 0.f ? v : 0.f; }\n\n__global__ void"
    bad = good.replace("__global__ void", helper, 1).replace(
        "y[tail] = fmaxf(x[tail], 0.f)", "y[tail] = host_relu(x[tail])"
    )
    assert bad.count("host_relu") == 2
    # Blind, profiled (the default): nvcc for sm_90 refuses it before the replay. Blind,
    # not profiled: the replay's build holds no host code of the source, so the kernel's
    # call has nothing to bind to. Not blind: nvcc for sm_90, after the candidate's run.
    cases = (
        (True, True, "host_relu"),
        (True, False, "device code calls host_relu(float)"),
        (False, True, "nvcc"),
    )
    for blind, profile, says in cases:
        opts = EvalOptions(
            device="cpu", backend="cuda", trials=1, extra_shapes=False, blind=blind, profile=profile
        )
        result = evaluate(resolve_problem(PROBLEM), bad, opts)
        assert result.status == Status.COMPILE_ERROR, f"{result.status}: {result.reason}"
        assert says in (result.reason or ""), result.reason
        assert not result.blind
        if profile:  # nvcc's log reaches the Coder
            assert "host_relu" in result.messages, result.messages[-2000:]
