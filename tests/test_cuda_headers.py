"""The CUDA headers KernelBench-style sources include are in the `cuda-tools` install, so a
valid candidate is never a compile_error for a missing system header (nvcc, sm_90)."""

from __future__ import annotations

import pytest

from profiler.cuda_compile import compile_cuda

HEADERS = [
    "torch/extension.h",
    "ATen/cuda/CUDAContext.h",
    "c10/cuda/CUDAStream.h",
    "cublas_v2.h",
    "cublasLt.h",
    "cusparse.h",
    "cuda_fp16.h",
    "cuda_bf16.h",
    "cuda_runtime.h",
]


@pytest.mark.slow
def test_a_source_including_each_header_compiles_with_nvcc(tmp_path):
    source = "".join(f"#include <{h}>\n" for h in HEADERS) + (
        "__global__ void k(__half* h, __nv_bfloat16* b) { h[0] = __float2half(1.f); b[0] = b[1]; }\n"
        "void launch(torch::Tensor x) {\n"
        "  cudaStream_t s = at::cuda::getCurrentCUDAStream();\n"
        "  k<<<1, 1, 0, s>>>((__half*)x.data_ptr(), nullptr);\n"
        "  C10_CUDA_KERNEL_LAUNCH_CHECK();\n}\n"
    )
    result = compile_cuda(source, tmp_path, arch="sm_90", name="headers")
    assert result.ok, result.log
