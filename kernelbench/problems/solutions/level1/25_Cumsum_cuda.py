import torch
from torch import nn
from torch.utils.cpp_extension import load_inline

CUDA_SRC = r"""
#include <torch/extension.h>

#define BLOCK 256

// Inclusive scan of one row per block: a Hillis-Steele scan of each 256-element tile in
// shared memory (two buffers), carrying the running total from tile to tile.
__global__ void cumsum_kernel(const float* __restrict__ x, float* __restrict__ y, int n) {
    __shared__ float buf[2][BLOCK];
    __shared__ float carry;
    const float* row = x + (long long)blockIdx.x * n;
    float* out = y + (long long)blockIdx.x * n;
    int t = threadIdx.x;
    if (t == 0) carry = 0.f;
    for (int base = 0; base < n; base += BLOCK) {
        int cur = 0;
        buf[cur][t] = base + t < n ? row[base + t] : 0.f;
        __syncthreads();
        for (int off = 1; off < BLOCK; off <<= 1) {
            float v = buf[cur][t];
            if (t >= off) v += buf[cur][t - off];
            buf[1 - cur][t] = v;
            cur = 1 - cur;
            __syncthreads();
        }
        if (base + t < n) out[base + t] = buf[cur][t] + carry;
        __syncthreads();
        if (t == BLOCK - 1) carry += buf[cur][t];
        __syncthreads();
    }
}

torch::Tensor cumsum_last(torch::Tensor x) {
    TORCH_CHECK(x.is_cuda(), "x must be a CUDA tensor");
    x = x.contiguous();
    int n = x.size(-1);
    auto y = torch::empty_like(x);
    cumsum_kernel<<<x.numel() / n, BLOCK>>>(x.data_ptr<float>(), y.data_ptr<float>(), n);
    return y;
}
"""

ext = load_inline(
    name="kw_cumsum",
    cpp_sources="torch::Tensor cumsum_last(torch::Tensor x);",
    cuda_sources=CUDA_SRC,
    functions=["cumsum_last"],
)


class ModelNew(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert self.dim in (-1, x.dim() - 1), "this kernel scans the last dimension"
        return ext.cumsum_last(x)
