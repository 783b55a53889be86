import torch
from torch import nn
from torch.utils.cpp_extension import load_inline

CUDA_SRC = r"""
#include <torch/extension.h>

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffff, v, o);
    return v;
}

// Sum over the block: warp shuffles, then one value per warp through shared memory.
__device__ float block_sum(float v) {
    __shared__ float warp_part[32];
    __shared__ float total;
    int lane = threadIdx.x % 32, w = threadIdx.x / 32;
    v = warp_sum(v);
    if (lane == 0) warp_part[w] = v;
    __syncthreads();
    if (w == 0) {
        float t = lane < (blockDim.x + 31) / 32 ? warp_part[lane] : 0.f;
        t = warp_sum(t);
        if (lane == 0) total = t;
    }
    __syncthreads();
    float r = total;
    __syncthreads();
    return r;
}

__global__ void layer_norm_kernel(const float* __restrict__ x, const float* __restrict__ gamma,
                                  const float* __restrict__ beta, float* __restrict__ y,
                                  int n, float eps) {
    const float* row = x + (long long)blockIdx.x * n;
    float s = 0.f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) s += row[i];
    float mean = block_sum(s) / n;
    float q = 0.f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) { float d = row[i] - mean; q += d * d; }
    float rstd = rsqrtf(block_sum(q) / n + eps);
    for (int i = threadIdx.x; i < n; i += blockDim.x)
        y[(long long)blockIdx.x * n + i] = (row[i] - mean) * rstd * gamma[i] + beta[i];
}

torch::Tensor layer_norm(torch::Tensor x, torch::Tensor gamma, torch::Tensor beta, double eps) {
    TORCH_CHECK(x.is_cuda(), "x must be a CUDA tensor");
    x = x.contiguous();
    int n = x.size(-1);
    auto y = torch::empty_like(x);
    layer_norm_kernel<<<x.numel() / n, 256>>>(x.data_ptr<float>(), gamma.data_ptr<float>(),
                                              beta.data_ptr<float>(), y.data_ptr<float>(), n, eps);
    return y;
}
"""

ext = load_inline(
    name="kw_layer_norm",
    cpp_sources="torch::Tensor layer_norm(torch::Tensor x, torch::Tensor gamma, torch::Tensor beta, double eps);",
    cuda_sources=CUDA_SRC,
    functions=["layer_norm"],
)


class ModelNew(nn.Module):
    def __init__(self, normalized_shape: int):
        super().__init__()
        self.ln = nn.LayerNorm(normalized_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ext.layer_norm(x, self.ln.weight, self.ln.bias, self.ln.eps)
