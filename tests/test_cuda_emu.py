"""The emulated CUDA device (kernelbench.runner.cuda_emu): the source rewrite, and real kernels built
and run on the CPU: a missing barrier caught by the shuffled thread order, out-of-bounds
access and unwritten shared memory caught where a GPU stays silent, warp intrinsics."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from kernelbench.runner.cuda_emu import rewrite
from kernelbench.runner.cuda_emu.build import PCH_ENV
from kernelbench.runner.cuda_emu.emulate import EmulatorRefused, emulate_cuda_on_cpu

PROBES = Path(__file__).parent / "fixtures" / "cuda_emu" / "probes.cu"
FUNCTIONS = ["reverse", "uninit", "oob", "warp", "atomic_sum", "divergent"]


@pytest.fixture(scope="module")
def probes():
    """One build of the probe kernels for the module (from the plain runtime header: building
    the precompiled one costs more than it saves for a single build)."""
    import torch.utils.cpp_extension as cpp_ext

    saved = os.environ.pop(PCH_ENV, None)
    try:
        with emulate_cuda_on_cpu():
            yield cpp_ext.load_inline(
                "probes", cpp_sources="", cuda_sources=PROBES.read_text(), functions=FUNCTIONS
            )
    finally:
        if saved is not None:
            os.environ[PCH_ENV] = saved


@pytest.mark.parametrize(
    ("snippet", "construct"),
    [
        ('asm volatile("mov.u32 %0, %%laneid;" : "=r"(l));', "inline PTX (asm)"),
        ("wmma::fragment<wmma::matrix_a, 16, 16, 16, half> a;", "tensor cores (wmma/mma)"),
        ("namespace cg = cooperative_groups; cg::this_grid().sync();", "cooperative groups"),
        ("cublasSgemm(handle, op, op, m, n, k, &a, A, m, B, k, &b, C, m);", "cuBLAS"),
    ],
)
def test_constructs_outside_the_surface_are_refused_by_name(snippet, construct):
    with pytest.raises(rewrite.Refused) as info:
        rewrite.to_cpp(f"__global__ void k(int* p) {{ {snippet} }}")
    assert info.value.construct == construct


def test_a_refused_construct_in_a_comment_is_not_refused():
    assert "kw::gptr" in rewrite.to_cpp(
        "// no asm( here\n__global__ void k(float* p) { p[0] = 1; }"
    )


def test_rewrite_checks_pointers_shares_shared_memory_and_rewrites_launches():
    src = (
        "__global__ void __launch_bounds__(256) k(const float* __restrict__ x, float *y, int n) {\n"
        "  __shared__ float tile[16][17];\n  extern __shared__ float dyn[];\n"
        "  const float* row = x + n;\n  y[0] = reinterpret_cast<const float4*>(row)[0].x;\n}\n"
        "void host(float* a, float* b) { k<<<dim3(4), 256, 64, stream>>>(a, b, 3); }\n"
    )
    out = rewrite.to_cpp(src)
    assert "::kw::gptr<const float> x" in out and "::kw::gptr<float> y" in out
    assert "KW_SHARED(float, tile, [16][17]);" in out
    assert "::kw::gptr<float> dyn = ::kw::dyn_shared<float>();" in out
    assert "::kw::gptr<const float> row =" in out and "::kw::rcast<const float4*>(row)" in out
    assert (
        '::kw::launch(k, "k", dim3(dim3(4)), dim3(256), (size_t)(64), ::kw::as_stream(stream), a, b, 3)'
        in out
    )
    assert "void host(float* a, float* b)" in out  # host code keeps raw pointers
    assert rewrite.needs_fibers("__syncthreads();") and not rewrite.needs_fibers("y[0] = 1;")


def test_a_missing_barrier_gives_order_dependent_wrong_results(probes):
    x = torch.arange(128 * 4, dtype=torch.float32)
    expected = x.view(4, 128).flip(1).reshape(-1)
    assert torch.equal(probes.reverse(x, 1), expected)
    racy = [probes.reverse(x, 0) for _ in range(2)]
    assert not torch.equal(racy[0], expected) and not torch.equal(racy[1], expected)
    assert not torch.equal(racy[0], racy[1])  # two secret seeds, two thread orders


def test_unwritten_shared_memory_reads_as_nan(probes):
    assert torch.isnan(probes.uninit(torch.empty(1))).all()


def test_out_of_bounds_access_names_the_kernel_and_the_index(probes):
    assert torch.equal(probes.oob(torch.ones(512)), torch.full((512,), 2.0))
    with pytest.raises(RuntimeError) as info:
        probes.oob(torch.ones(300))
    text = str(info.value)
    assert "kernel oob_kernel" in text and "out-of-bounds access to x" in text
    assert "of 300 (4-byte elements)" in text and "block (1,0,0)" in text


def test_warp_intrinsics_exchange_values_in_lockstep(probes):
    x = torch.arange(32, dtype=torch.int32)
    out = probes.warp(x).view(32, 3)
    assert (out[:, 0] == x.sum()).all()
    assert (out[:, 1] == 0xAAAAAAAA - 2**32).all()  # odd lanes, as a signed int
    assert out[:, 2].tolist() == [*range(1, 32), 31]  # lane 31 keeps its own value


def test_atomics_and_a_barrier_reached_by_part_of_a_block(probes):
    x = torch.rand(1000)
    assert probes.atomic_sum(x).item() == pytest.approx(x.sum().item(), rel=1e-4)
    with pytest.raises(RuntimeError, match="wait at different barriers"):
        probes.divergent(torch.empty(1))


def test_load_inline_of_a_refused_source_is_not_run_naming_it():
    import torch.utils.cpp_extension as cpp_ext

    with emulate_cuda_on_cpu(), pytest.raises(EmulatorRefused, match="inline PTX"):
        cpp_ext.load_inline("p", "", cuda_sources='__global__ void k() { asm("trap;"); }')
