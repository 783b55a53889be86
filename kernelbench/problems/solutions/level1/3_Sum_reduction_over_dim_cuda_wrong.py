import torch
from torch import nn
from torch.utils.cpp_extension import load_inline

CUDA_SRC = r"""
#include <torch/extension.h>

// One block per (outer, inner) output; threads stride over the reduced dimension and
// combine their partial sums in a shared-memory tree.
__global__ void sum_dim_kernel(const float* __restrict__ x, float* __restrict__ out,
                               int outer, int rdim, int inner) {
    __shared__ float partial[256];
    int o = blockIdx.x / inner, j = blockIdx.x % inner;
    const float* base = x + (long long)o * rdim * inner + j;
    float acc = 0.f;
    for (int r = threadIdx.x; r < rdim; r += blockDim.x) acc += base[(long long)r * inner];
    partial[threadIdx.x] = acc;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
        // WRONG: no __syncthreads() here: the next level reads partial sums not yet written
    }
    if (threadIdx.x == 0) out[blockIdx.x] = partial[0];
}

torch::Tensor sum_dim(torch::Tensor x, int64_t dim) {
    TORCH_CHECK(x.is_cuda(), "x must be a CUDA tensor");
    x = x.contiguous();
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < dim; ++d) outer *= x.size(d);
    for (int64_t d = dim + 1; d < x.dim(); ++d) inner *= x.size(d);
    std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
    shape[dim] = 1;
    auto out = torch::empty(shape, x.options());
    sum_dim_kernel<<<outer * inner, 256>>>(x.data_ptr<float>(), out.data_ptr<float>(),
                                           outer, x.size(dim), inner);
    return out;
}
"""

ext = load_inline(
    name="kw_sum_dim_wrong",
    cpp_sources="torch::Tensor sum_dim(torch::Tensor x, int64_t dim);",
    cuda_sources=CUDA_SRC,
    functions=["sum_dim"],
)


class ModelNew(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ext.sum_dim(x, self.dim)
