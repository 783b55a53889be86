import torch
from torch import nn
from torch.utils.cpp_extension import load_inline

CUDA_SRC = r"""
#include <torch/extension.h>

// y = A @ b: one warp per row, lanes stride over K, then a shuffle reduction.
__global__ void matvec_kernel(const float* __restrict__ A, const float* __restrict__ b,
                              float* __restrict__ y, int M, int K) {
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    int lane = threadIdx.x % 32;
    float acc = 0.f;
    if (row < M) {
        const float* a = A + (long long)row * (K - 1);  // WRONG row stride
        for (int k = lane; k < K; k += 32) acc += a[k] * b[k];
    }
    for (int o = 16; o > 0; o >>= 1) acc += __shfl_down_sync(0xffffffff, acc, o);
    if (row < M && lane == 0) y[row] = acc;
}

torch::Tensor matvec(torch::Tensor A, torch::Tensor b) {
    TORCH_CHECK(A.is_cuda() && b.is_cuda(), "A and b must be CUDA tensors");
    A = A.contiguous();
    b = b.contiguous();
    int M = A.size(0), K = A.size(1);
    auto y = torch::empty({M, 1}, A.options());
    int rows_per_block = 8;
    matvec_kernel<<<(M + rows_per_block - 1) / rows_per_block, rows_per_block * 32>>>(
        A.data_ptr<float>(), b.data_ptr<float>(), y.data_ptr<float>(), M, K);
    return y;
}
"""

ext = load_inline(
    name="kw_matvec_wrong",
    cpp_sources="torch::Tensor matvec(torch::Tensor A, torch::Tensor b);",
    cuda_sources=CUDA_SRC,
    functions=["matvec"],
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return ext.matvec(A, B)
