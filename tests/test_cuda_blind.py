"""Blind host code for CUDA C on the emulated device (issue 28, point 1).

The candidate's C++ host code runs on stand-ins; what it does on the device (launches,
cudaMalloc/cudaMemset/cudaMemcpy) is recorded and replayed on the real data by a process
that builds the source without its host code and loads it without running initializers.
The cheats attack the mechanism: host code that computes (a plain loop, ATen past the
dispatcher), a static initializer that would run in the replay, and a candidate that
rewrites its own recorded program to launch host code, a kernel instantiation the source
never makes, or memory outside an allocation. None may be `correct`; legitimate kernels
(templates, AT_DISPATCH, namespaces, cudaMalloc'd scratch, cudaMemset) stay `correct`.
"""

from __future__ import annotations

import pytest

from kernelbench.harness.evaluate import evaluate
from kernelbench.problems.registry import resolve_problem
from kernelbench.protocol.request import EvalOptions
from kernelbench.protocol.result import Status
from kernelbench.runner.cuda_emu.replay_build import host_free, qualified_name, refusal

RELU = "level1/2_ReLU"

MODULE = r'''
import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

src = r"""
#include <torch/extension.h>
{CUDA}
"""
ext = load_inline(name="{NAME}", cpp_sources="torch::Tensor relu(torch::Tensor x);",
                  cuda_sources=src, functions=["relu"])


class ModelNew(nn.Module):
    def forward(self, x):
{FORWARD}
'''

KERNEL = r"""
namespace ops {
template <typename T>
__global__ void relu_kernel(const T* __restrict__ x, T* __restrict__ y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = x[i] > T(0) ? x[i] : T(0);
}
}  // namespace ops
"""

LEGIT_HOST = r"""
torch::Tensor relu(torch::Tensor x) {
    auto xc = x.contiguous();
    auto y = torch::empty_like(xc);
    float* scratch = nullptr;
    cudaMalloc(&scratch, xc.numel() * sizeof(float));
    cudaMemset(y.data_ptr<float>(), 0, xc.numel() * sizeof(float));
    int n = xc.numel();
    AT_DISPATCH_FLOATING_TYPES(xc.scalar_type(), "relu", [&] {
        ops::relu_kernel<scalar_t><<<(n + 255) / 256, 256>>>(
            xc.data_ptr<scalar_t>(), (scalar_t*)scratch, n);
    });
    cudaMemcpy(y.data_ptr<float>(), scratch, n * sizeof(float), cudaMemcpyDeviceToDevice);
    cudaFree(scratch);
    return y;
}
"""


def candidate(cuda: str, name: str, forward: str = "        return ext.relu(x)") -> str:
    return MODULE.replace("{CUDA}", cuda).replace("{NAME}", name).replace("{FORWARD}", forward)


def blind_eval(source: str, *, static_check: bool = True):
    options = EvalOptions(
        profile=False, device="cpu", backend="cuda", blind=True, static_check=static_check
    )
    return evaluate(resolve_problem(RELU), source, options)


# ---------------------------------------------------------------- the source, cut


def test_host_free_keeps_kernels_and_device_code_and_drops_every_host_body():
    src = r"""
#include <vector>
#define SQ(x) ((x) * (x))
struct Params { int n; float s; __device__ float scale(float v) const { return v * s; }
                Params(int a) : n(a), s(1.f) { hostonly(); } };
namespace outer { namespace inner {
template <int B> __global__ void k1(float* y) { y[0] = SQ(B); }
__device__ float helper(float v) { return v; }
float host_helper(float v) { return v * 2; }
} }
namespace { __global__ void k2(float* y) {} }
extern "C" { __global__ void k3(float* y) {} void host_c() { launch(); } }
template <class T> T host_template(T v) { return v + 1; }
static int counter = [] { return 3; }();
torch::Tensor forward(torch::Tensor x) { return at::relu(x); }
PYBIND11_MODULE(m, mod) { mod.def("f", &forward); }
"""
    out, kernels = host_free(src)
    assert kernels == {
        "outer::inner::k1",
        "(anonymous namespace)::k2",
        "k3",
    }
    for gone in ("return v * 2", "launch()", "return v + 1", "at::relu", "mod.def"):
        assert gone not in out, gone
    for kept in ("y[0] = SQ(B)", "__device__ float helper(float v) { return v; }", "v * s"):
        assert kept in out, kept
    assert "float host_helper(float v) ;" in out and "Params(int a) : n(a), s(1.f) {" in out
    assert out.count("__attribute__((used))") == 3


def test_the_blind_pass_refuses_what_could_reach_the_emulators_internals():
    assert refusal("#define CAT(a, b) a##b") == "token pasting (##)"
    assert refusal("namespace kw { void f(); }") == "the emulator's own names"
    assert refusal("template <> struct std::hash<int>;") == "specializations in std"
    assert refusal("template <> class std::tuple<int> {};") == "specializations in std"
    assert refusal('__attribute__((ifunc("r"))) void f();') == "an ifunc resolver"
    assert refusal("// kw:: in a comment\n__global__ void k() {}") is None


def test_qualified_names_of_demangled_functions():
    assert qualified_name("void ops::relu_kernel<float>(kw::gptr<float const>, int)") == (
        "ops::relu_kernel"
    )
    assert qualified_name("k3(kw::gptr<float>)") == "k3"
    assert qualified_name("(anonymous namespace)::k2(kw::gptr<float>)") == (
        "(anonymous namespace)::k2"
    )


# ---------------------------------------------------------------- end to end


@pytest.mark.slow
def test_a_legitimate_templated_kernel_with_device_memory_calls_is_correct_blind():
    result = blind_eval(candidate(KERNEL + LEGIT_HOST, "legit_blind"))
    assert result.status == Status.CORRECT, (result.reason, result.messages)
    assert result.blind


HOST_COMPUTES = {
    # a plain loop over the data: no op, no launch does the work
    "loop": r"""
torch::Tensor relu(torch::Tensor x) {
    auto y = torch::empty_like(x);
    const float* a = x.data_ptr<float>(); float* b = y.data_ptr<float>();
    for (int64_t i = 0; i < x.numel(); ++i) b[i] = a[i] > 0.f ? a[i] : 0.f;
    ops::relu_kernel<float><<<1, 1>>>(a, b, 0);
    return y;
}
""",
    # ATen computing on the data from C++
    "aten": r"""
torch::Tensor relu(torch::Tensor x) {
    auto y = x.clamp_min(0);
    ops::relu_kernel<float><<<1, 1>>>(x.data_ptr<float>(), y.data_ptr<float>(), 0);
    return y;
}
""",
    # a static initializer that would do the work in whichever process loads the module
    "initializer": r"""
#include <unistd.h>
#include <cstdlib>
static int in_replay = [] { if (access("replay.json", F_OK) == 0) std::abort(); return 0; }();
__attribute__((constructor)) static void on_load() {
    if (access("replay.json", F_OK) == 0) std::abort();
}
torch::Tensor relu(torch::Tensor x) {
    auto y = torch::empty_like(x);
    int n = x.numel();
    ops::relu_kernel<float><<<(n + 255) / 256, 256>>>(x.data_ptr<float>(), y.data_ptr<float>(), n);
    return y;
}
""",
}


@pytest.mark.slow
@pytest.mark.parametrize("how", sorted(HOST_COMPUTES))
def test_host_code_gets_nothing_of_the_data(how):
    result = blind_eval(candidate(KERNEL + HOST_COMPUTES[how], f"host_{how}"), static_check=False)
    if how == "initializer":  # its kernel is right: correct only if the replay never ran it
        assert result.status == Status.CORRECT, (result.reason, result.messages)
    elif how == "aten":  # refused by the taint rule, or its output never rebuilt
        assert result.status in (Status.REJECTED, Status.INCORRECT), (result.status, result.reason)
    else:
        assert result.status == Status.INCORRECT, (result.status, result.reason)


# The candidate rewrites its own recorded program (it shares a process with the recorder).
TAMPER = r"""
        import gc
        y = ext.relu(x)
        program = next(o for o in gc.get_objects() if type(o).__name__ == "Recorder")
        launches = [s for s in program.steps if s.get("kind") == "cuda_launch"]
        {EDIT}
        return y
"""

EDITS = {
    # launch the host function (it computes with ATen) as if it were the kernel
    "host function": (
        "import pathlib\n"
        "        from kernelbench.runner.cuda_emu.replay_build import symbols\n"
        "        names = [n for n in symbols(pathlib.Path(ext._lib._name)).functions if 'relu_host' in n]\n"
        "        for s in launches: s['kernel'] = names[0]",
        "not a __global__ function",
    ),
    # an instantiation of the kernel template the source never makes
    "uninstantiated": (
        "for s in launches: s['kernel'] = s['kernel'].replace('IfE', 'IdE')",
        "never instantiates",
    ),
    # a pointer far past the end of its allocation
    "out of bounds": (
        "for s in launches:\n"
        "            for a in s['args']:\n"
        "                if a.get('ptr'): a['ptr']['off'] += 1 << 40",
        "past its allocation",
    ),
    # the trampoline swapped for the kernel itself
    "trampoline": (
        "for s in launches: s['tramp'] = s['kernel']",
        "to launch",
    ),
}

TAMPER_HOST = r"""
torch::Tensor relu(torch::Tensor x) {
    auto y = torch::empty_like(x);
    int n = x.numel();
    ops::relu_kernel<float><<<(n + 255) / 256, 256>>>(x.data_ptr<float>(), y.data_ptr<float>(), n);
    return y;
}
torch::Tensor relu_host(torch::Tensor x) { return at::relu(x); }
"""


@pytest.mark.slow
@pytest.mark.parametrize("edit", sorted(EDITS))
def test_a_rewritten_program_cannot_launch_anything_but_the_sources_kernels(edit):
    code, reason = EDITS[edit]
    forward = TAMPER.replace("{EDIT}", code)
    result = blind_eval(candidate(KERNEL + TAMPER_HOST, "tamper", forward), static_check=False)
    assert result.status == Status.REJECTED, (result.status, result.reason)
    assert reason in (result.reason or ""), result.reason


@pytest.mark.slow
def test_token_pasting_is_refused_under_the_blind_pass():
    cuda = "#define KERNEL_NAME(a, b) a##b\n" + KERNEL + TAMPER_HOST
    result = blind_eval(candidate(cuda, "pasting"), static_check=False)
    assert result.status == Status.REJECTED and "token pasting" in result.reason, result.reason
