"""CUDA C candidates on a real GPU, through `load_inline` and `cupy.RawKernel`: compiled,
run and judged. A correct ReLU is `correct`, a wrong one `incorrect`, and one that writes
far out of bounds (1 TiB past its output, where nothing is mapped) fails as a runtime
error, never `correct`.

The same three kernel bodies go through both launchers (`candidate_source`)."""

from __future__ import annotations

import importlib.util

import pytest

from kernelbench.protocol.result import Status
from tests.gpu.conftest import gpu_evaluate

pytestmark = pytest.mark.gpu

PROBLEM = "level1/2_ReLU"
BODIES = {
    "correct": "if (i < n) y[i] = fmaxf(x[i], 0.f);",
    "wrong": "if (i < n) y[i] = x[i];  // no ReLU: negative inputs pass through",
    "oob": "if (i < n) y[i] = fmaxf(x[i], 0.f);\n    if (i == 0) y[(size_t)1 << 38] = 1.f;",
}
EXPECTED = {
    "correct": {Status.CORRECT},
    "wrong": {Status.INCORRECT},
    "oob": {Status.RUNTIME_ERROR},
}

INLINE = '''import torch
from torch import nn
from torch.utils.cpp_extension import load_inline

CUDA_SRC = r"""
#include <torch/extension.h>

__global__ void relu_kernel(const float* __restrict__ x, float* __restrict__ y, long n) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    BODY
}

torch::Tensor relu(torch::Tensor x) {
    TORCH_CHECK(x.is_cuda() && x.is_contiguous(), "x must be a contiguous CUDA tensor");
    auto y = torch::empty_like(x);
    long n = x.numel();
    relu_kernel<<<(n + 255) / 256, 256>>>(x.data_ptr<float>(), y.data_ptr<float>(), n);
    return y;
}
"""

ext = load_inline(
    name="kw_gpu_relu_NAME",
    cpp_sources="torch::Tensor relu(torch::Tensor x);",
    cuda_sources=CUDA_SRC,
    functions=["relu"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ext.relu(x.contiguous())
'''

CUPY = '''import cupy as cp
import torch
from torch import nn

CUDA_SRC = r"""
extern "C" __global__ void relu_kernel(const float* __restrict__ x, float* __restrict__ y, long n) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    BODY
}
"""

kernel = cp.RawKernel(CUDA_SRC, "relu_kernel")


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        y = torch.empty_like(x)
        n = x.numel()
        # cupy's default stream and torch's are both the legacy default stream: in order
        kernel(((n + 255) // 256,), (256,), (cp.asarray(x), cp.asarray(y), cp.int64(n)))
        return y
'''


def candidate_source(launcher: str, variant: str) -> str:
    template = INLINE if launcher == "load_inline" else CUPY
    return template.replace("BODY", BODIES[variant]).replace("NAME", variant)


@pytest.mark.parametrize("variant", list(BODIES))
def test_load_inline_candidate_is_compiled_run_and_judged(variant):
    result = gpu_evaluate(PROBLEM, candidate_source("load_inline", variant), backend="cuda")
    assert result.status in EXPECTED[variant], f"{result.status}: {result.reason}"


@pytest.mark.parametrize("variant", list(BODIES))
def test_cupy_raw_kernel_candidate_is_compiled_run_and_judged(variant):
    if importlib.util.find_spec("cupy") is None:
        pytest.skip("cupy is not installed (pip install cupy-cuda13x)")
    result = gpu_evaluate(PROBLEM, candidate_source("cupy", variant), backend="cuda")
    assert result.status in EXPECTED[variant], f"{result.status}: {result.reason}"
