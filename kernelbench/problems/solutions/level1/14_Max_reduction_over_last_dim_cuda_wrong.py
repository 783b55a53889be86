import torch
from torch import nn
from torch.utils.cpp_extension import load_inline

CUDA_SRC = r"""
#include <torch/extension.h>
#include <cfloat>

// One warp per row: lanes stride over the row, then a butterfly of warp shuffles.
__global__ void row_max_kernel(const float* __restrict__ x, float* __restrict__ out,
                               int rows, int n) {
    int warp = (blockIdx.x * blockDim.x + threadIdx.x) / 32;
    int lane = threadIdx.x % 32;
    float m = -FLT_MAX;
    if (warp < rows)
        for (int i = lane; i < n; i += 32) m = fmaxf(m, x[(long long)warp * n + i]);
    for (int offset = 8; offset > 0; offset /= 2)  // WRONG stride: lanes 16..31 never join
        m = fmaxf(m, __shfl_xor_sync(0xffffffff, m, offset));
    if (warp < rows && lane == 0) out[warp] = m;
}

torch::Tensor row_max(torch::Tensor x) {
    TORCH_CHECK(x.is_cuda(), "x must be a CUDA tensor");
    x = x.contiguous();
    int n = x.size(-1);
    int rows = x.numel() / n;
    std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end() - 1);
    auto out = torch::empty(shape, x.options());
    int threads = 256;
    int blocks = (rows * 32 + threads - 1) / threads;
    row_max_kernel<<<blocks, threads>>>(x.data_ptr<float>(), out.data_ptr<float>(), rows, n);
    return out;
}
"""

ext = load_inline(
    name="kw_row_max_wrong",
    cpp_sources="torch::Tensor row_max(torch::Tensor x);",
    cuda_sources=CUDA_SRC,
    functions=["row_max"],
)


class ModelNew(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert self.dim in (-1, x.dim() - 1), "this kernel reduces the last dimension"
        return ext.row_max(x)
