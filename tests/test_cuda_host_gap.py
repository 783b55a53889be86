"""A known gap, kept visible (issue 28): CUDA C host code is not blind yet.

The C++ wrapper of a CUDA C candidate runs on the real inputs on the emulated device, so a
host function can compute the output with a plain loop over `data_ptr` and launch an empty
kernel for the "at least one launch" rule. The verdict should not be `correct`; today it
is. The test is a strict expected failure: the day the blind pass covers CUDA C it passes,
and the marker must go (docs/threat-model.md, "Residual risks").
"""

from __future__ import annotations

import pytest

from kernelbench.harness.evaluate import evaluate
from kernelbench.problems.registry import resolve_problem
from kernelbench.protocol.request import EvalOptions
from kernelbench.protocol.result import Status

pytestmark = pytest.mark.slow

HOST_LOOP = r'''
import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

src = r"""
#include <torch/extension.h>
__global__ void touch(float* y, int n) { }
torch::Tensor relu_fwd(torch::Tensor x) {
    auto xc = x.contiguous();
    auto y = torch::empty_like(xc);
    const float* a = xc.data_ptr<float>();
    float* b = y.data_ptr<float>();
    int64_t n = xc.numel();
    for (int64_t i = 0; i < n; ++i) b[i] = a[i] > 0.f ? a[i] : 0.f;
    touch<<<1, 1>>>(b, (int)n);
    return y;
}
"""
mod = load_inline(name="relu_hostloop", cpp_sources="torch::Tensor relu_fwd(torch::Tensor x);",
                  cuda_sources=src, functions=["relu_fwd"])


class ModelNew(nn.Module):
    def forward(self, x):
        return mod.relu_fwd(x)
'''


@pytest.mark.xfail(strict=True, reason="CUDA C host code is not blind yet (issue 28)")
def test_host_code_computing_the_output_beside_an_empty_kernel_is_not_correct():
    options = EvalOptions(profile=False, device="cpu", backend="cuda")
    result = evaluate(resolve_problem("level1/2_ReLU"), HOST_LOOP, options)
    assert result.status != Status.CORRECT, result.reason
