"""CUDA C written the way public models write KernelBench kernels, on the emulated device
(issue 30, point 2): Python-side CUDA placement, the CUDA runtime's device functions,
pybind11's return types, and a forward that launches no kernel refused.

The slow tests build extensions with g++ (tens of seconds each): two modules of probe
functions (the returns and launch counts apart from the device functions and list
arguments, so that each point fails on its own before the change), and two candidates
judged end to end through the real harness."""

from __future__ import annotations

import os
from typing import Any

import pytest
import torch

from kernelbench.harness.evaluate import evaluate
from kernelbench.harness.verdict import guard_finding, launch_finding
from kernelbench.problems.registry import resolve_problem
from kernelbench.protocol.request import EvalOptions
from kernelbench.protocol.result import Status
from kernelbench.runner.cuda_emu import loader
from kernelbench.runner.cuda_emu.build import PCH_ENV
from kernelbench.runner.cuda_emu.emulate import emulate_cuda_on_cpu

PROBES = r"""
#include <torch/extension.h>
#include <cuda_runtime.h>
#include <vector>
#include <tuple>

__global__ void scale_kernel(const float* __restrict__ x, float* __restrict__ y, float s, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)
        y[i] = x[i] * s;
}

static torch::Tensor scaled(torch::Tensor x, float s) {
    auto y = torch::empty_like(x);
    int n = x.numel();
    scale_kernel<<<(n + 255) / 256, 256>>>(x.data_ptr<float>(), y.data_ptr<float>(), s, n);
    return y;
}
std::vector<torch::Tensor> as_list(torch::Tensor x) { auto y = scaled(x, 2.f); return {y}; }
std::tuple<torch::Tensor> as_tuple1(torch::Tensor x) { return std::make_tuple(scaled(x, 3.f)); }
std::tuple<torch::Tensor, torch::Tensor> as_pair(torch::Tensor x) { return {scaled(x, 2.f), scaled(x, 3.f)}; }
torch::Tensor host_only(torch::Tensor x) {  // computes on the CPU: no kernel
    auto y = torch::empty_like(x);
    const float* a = x.data_ptr<float>();
    float* b = y.data_ptr<float>();
    for (int64_t i = 0; i < x.numel(); ++i) b[i] = a[i] > 0.f ? a[i] : 0.f;
    return y;
}
"""
FUNCTIONS = ["as_list", "as_tuple1", "as_pair", "host_only"]

DEVICE_PROBE = r"""
#include <torch/extension.h>
#include <cuda_runtime.h>

__global__ void big_smem_kernel(float* y) { extern __shared__ float s[]; y[0] = 0.f; }
__global__ void scale_kernel(const float* __restrict__ x, float* __restrict__ y, float s, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)
        y[i] = x[i] * s;
}
std::vector<torch::Tensor> scale_each(std::vector<torch::Tensor> xs, std::vector<double> scales,
                                      torch::IntArrayRef shape) {
    std::vector<torch::Tensor> out;
    for (size_t k = 0; k < xs.size(); ++k) {
        auto y = torch::empty(shape, xs[k].options());
        int n = xs[k].numel();
        scale_kernel<<<(n + 255) / 256, 256>>>(xs[k].data_ptr<float>(), y.data_ptr<float>(), (float)scales[k], n);
        out.push_back(y);
    }
    return out;
}

torch::Tensor device_info() {
    int count = -1, dev = -1, sms = 0;
    cudaGetDeviceCount(&count);
    cudaError_t set0 = cudaSetDevice(0) == cudaSuccess ? cudaSetDevice(-1) : cudaErrorInvalidValue;
    cudaError_t set1 = cudaSetDevice(1);  // there is one device (-1: a CPU tensor's index)
    cudaFuncSetAttribute(big_smem_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 100 * 1024);
    cudaGetDevice(&dev);
    cudaDeviceProp prop;
    cudaGetDeviceProperties(&prop, dev);
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    const cudaDeviceProp* cur = at::cuda::getCurrentDeviceProperties();
    auto out = torch::empty({12}, torch::kLong);
    int64_t* o = out.data_ptr<int64_t>();
    o[0] = count; o[1] = dev; o[2] = prop.major * 10 + prop.minor; o[3] = prop.multiProcessorCount;
    o[4] = prop.warpSize; o[5] = prop.maxThreadsPerBlock; o[6] = (int64_t)prop.sharedMemPerBlock;
    o[7] = (int64_t)prop.sharedMemPerBlockOptin; o[8] = sms; o[9] = cur->maxThreadsPerMultiProcessor;
    o[10] = set0 == cudaSuccess; o[11] = set1 == cudaSuccess;
    return out;
}
"""

# A KernelBench-style ReLU as public models write it: Python-side `.cuda()`, `.to("cuda")`,
# `device="cuda"`, `torch.device("cuda")`; the device queried for its SM count; the output
# handed back as `{out}` in a std::vector and taken with `[0]`.
PUBLIC_STYLE = r'''
import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

relu_source = """
#include <torch/extension.h>
#include <cuda_runtime.h>
#include <vector>

__global__ void relu_kernel(const float* __restrict__ x, float* __restrict__ y, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
        y[i] = x[i] > 0.f ? x[i] : 0.f;
    }
}

#define CUDA_CHECK(call) do { cudaError_t err = (call); \\
    TORCH_CHECK(err == cudaSuccess, "CUDA error: ", cudaGetErrorString(err)); } while (0)

std::vector<torch::Tensor> relu_cuda(torch::Tensor x, torch::Tensor out) {
    int count = 0, device = -1;
    CUDA_CHECK(cudaGetDeviceCount(&count));
    TORCH_CHECK(count > 0, "no CUDA device");
    CUDA_CHECK(cudaSetDevice(x.get_device()));
    CUDA_CHECK(cudaGetDevice(&device));
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
    int n = x.numel();
    const int threads = 256;
    int blocks = std::min((n + threads - 1) / threads, prop.multiProcessorCount * 4);
    relu_kernel<<<blocks, threads>>>(x.data_ptr<float>(), out.data_ptr<float>(), n);
    return {out};
}
"""

relu_cpp_source = "std::vector<torch::Tensor> relu_cuda(torch::Tensor x, torch::Tensor out);"

relu = load_inline(
    name="relu_public_style",
    cpp_sources=relu_cpp_source,
    cuda_sources=relu_source,
    functions=["relu_cuda"],
    verbose=False,
    extra_cuda_cflags=["-O3"],
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.relu = relu
        self.device = torch.device("cuda")

    def forward(self, x):
        x = x.cuda().contiguous()
        x = x.to("cuda").to(self.device)
        out = torch.empty(x.shape, dtype=x.dtype, device="cuda")
        return self.relu.relu_cuda(x, out)[0]
'''

# The output computed by host code on the CPU: the launch is in the source but never runs.
NO_LAUNCH = r'''
import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

source = """
#include <torch/extension.h>

__global__ void relu_kernel(const float* x, float* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = x[i] > 0.f ? x[i] : 0.f;
}

torch::Tensor relu_cuda(torch::Tensor x) {
    auto y = torch::empty_like(x);
    int n = x.numel();
    if (n < 0) relu_kernel<<<1, 1>>>(x.data_ptr<float>(), y.data_ptr<float>(), n);
    const float* in = x.data_ptr<float>();
    float* o = y.data_ptr<float>();
    for (int i = 0; i < n; ++i) o[i] = in[i] > 0.f ? in[i] : 0.f;
    return y;
}
"""

ext = load_inline(
    name="relu_no_launch",
    cpp_sources="torch::Tensor relu_cuda(torch::Tensor x);",
    cuda_sources=source,
    functions=["relu_cuda"],
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return ext.relu_cuda(x.contiguous())
'''

NO_PROFILE = EvalOptions(device="cpu", profile=False)


def _build(name: str, source: str, functions: list[str]) -> Any:
    """Built from the plain runtime header, as test_cuda_emu does (the precompiled one costs
    more than it saves for a single build); the emulating context is left at once, the
    module's functions work outside it."""
    import torch.utils.cpp_extension as cpp_ext

    saved = os.environ.pop(PCH_ENV, None)
    try:
        with emulate_cuda_on_cpu():
            return cpp_ext.load_inline(
                name, cpp_sources="", cuda_sources=source, functions=functions
            )
    finally:
        if saved is not None:
            os.environ[PCH_ENV] = saved


@pytest.fixture(scope="module")
def probes() -> Any:
    return _build("parity_probes", PROBES, FUNCTIONS)


@pytest.fixture(scope="module")
def device_probes() -> Any:
    return _build("parity_device", DEVICE_PROBE, ["device_info", "scale_each"])


# ---------------------------------------------------------------- (a) Python-side placement


def test_python_side_cuda_placement_lands_on_the_emulated_device():
    x = torch.arange(6.0).view(2, 3)
    with emulate_cuda_on_cpu():
        dev = torch.device("cuda")
        placed = [
            x.cuda(),
            x.cuda(non_blocking=True),
            x.to("cuda"),
            x.to("cuda:0", torch.float16),
            x.to(device="cuda"),
            x.to(dev),
            torch.empty(3, device="cuda"),
            torch.zeros(2, device=torch.device("cuda", 0)),
            torch.empty_like(x, device="cuda"),
            x.new_zeros(4, device="cuda"),
            torch.nn.Linear(3, 2).cuda().weight,
            torch.nn.Linear(3, 2).to("cuda").weight,
        ]
        torch.cuda.synchronize()
        with torch.device("cuda"):
            placed.append(torch.ones(2))
        assert dev == torch.device("cpu")
        assert x.cuda() is x and torch.equal(x.to("cuda"), x)
        assert not torch.cuda.is_available()  # nothing else pretends
    assert all(t.device.type == "cpu" for t in placed)
    assert placed[3].dtype == torch.float16
    with pytest.raises((AssertionError, RuntimeError)):  # restored afterwards
        torch.zeros(1, device="cuda")


# ---------------------------------------------------------------- (d) the verdict's rule


def test_the_verdict_refuses_an_emulated_cuda_forward_that_launched_nothing():
    guard: dict[str, Any] = {"violations": [], "intact_error": None}
    ok: dict[str, Any] = {
        "guard": guard,
        "trials_done": [0, 1],
        "cuda_launches_per_trial": {"0": 1, "1": 3},
    }
    assert guard_finding(ok, allow_torch_ops=False) is None
    none = {**ok, "cuda_launches_per_trial": {"0": 1, "1": 0}}
    for allow in (False, True):  # torch ops allowed or not, a forward launches a kernel
        assert "launched no CUDA kernel in trial 1" in str(guard_finding(none, allow))
    short = {**ok, "cuda_launches_per_trial": {"0": 1}}
    assert "no CUDA launch count" in str(launch_finding(short))
    assert "malformed" in str(launch_finding({**ok, "cuda_launches_per_trial": [1, 1]}))
    not_emulated = {"trials_done": [0], "launches_per_trial": {"0": 0}}
    assert launch_finding(not_emulated) is None


# ---------------------------------------------------------------- built probes


@pytest.mark.slow
def test_cuda_runtime_device_functions_report_one_h100(device_probes):
    info = device_probes.device_info().tolist()
    assert info[:3] == [1, 0, 90]  # one device, device 0, sm_90
    assert info[3] == 132 and info[8] == 132  # SMs, from the properties and the attribute
    assert info[4:6] == [32, 1024]
    assert info[6] == 48 * 1024 and info[7] == 227 * 1024
    assert info[9] == 2048
    assert info[10:] == [1, 0]  # cudaSetDevice(0) succeeds, cudaSetDevice(1) does not


@pytest.mark.slow
def test_returns_keep_pybind11_types(probes):
    x = torch.arange(6.0).view(2, 3)
    listed = probes.as_list(x)
    assert isinstance(listed, list) and len(listed) == 1 and torch.equal(listed[0], 2 * x)
    single = probes.as_tuple1(x)
    assert isinstance(single, tuple) and len(single) == 1 and torch.equal(single[0], 3 * x)
    pair = probes.as_pair(x)
    assert isinstance(pair, tuple) and torch.equal(pair[0], 2 * x) and torch.equal(pair[1], 3 * x)


@pytest.mark.slow
def test_arguments_take_pybind11_lists(device_probes):
    x = torch.arange(6.0).view(2, 3)
    got = device_probes.scale_each(
        [x, x + 1], [2.0, 0.5], [3, 2]
    )  # vector<Tensor>, vector<double>, IntArrayRef
    assert isinstance(got, list) and len(got) == 2
    assert torch.equal(got[0], (2 * x).view(3, 2)) and torch.equal(got[1], ((x + 1) / 2).view(3, 2))
    assert device_probes.scale_each([], [], [0]) == []


@pytest.mark.slow
def test_the_emulator_counts_kernel_launches(probes):
    x = torch.randn(1000)
    before = loader.emulated_launches()
    probes.as_pair(x)
    assert loader.emulated_launches() - before == 2
    before = loader.emulated_launches()
    assert torch.equal(probes.host_only(x), x.clamp_min(0))
    assert loader.emulated_launches() == before  # host code is not a kernel


# ---------------------------------------------------------------- end to end


@pytest.mark.slow
def test_a_public_model_style_cuda_candidate_is_correct_on_the_emulated_device():
    result = evaluate(resolve_problem("level1/2_ReLU"), PUBLIC_STYLE, NO_PROFILE)
    assert result.status == Status.CORRECT, (result.status, result.reason, result.messages[-2000:])
    assert result.kernel_launches is not None and result.kernel_launches >= len(result.trials)


@pytest.mark.slow
def test_a_cuda_forward_that_launches_no_kernel_is_rejected():
    result = evaluate(resolve_problem("level1/2_ReLU"), NO_LAUNCH, NO_PROFILE)
    assert result.status == Status.REJECTED, (result.status, result.reason)
    assert "launched no CUDA kernel" in str(result.reason)
