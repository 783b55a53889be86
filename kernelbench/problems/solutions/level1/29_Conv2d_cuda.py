import torch
from torch import nn
from torch.utils.cpp_extension import load_inline

CUDA_SRC = r"""
#include <torch/extension.h>

// Direct 2-D convolution, stride 1, zero padding: one thread per output element.
__global__ void conv2d_kernel(const float* __restrict__ x, const float* __restrict__ w,
                              const float* __restrict__ bias, float* __restrict__ y,
                              int N, int C, int H, int W, int O, int KS, int pad) {
    long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    long long total = (long long)N * O * H * W;
    if (idx >= total) return;
    int ow = idx % W, oh = (idx / W) % H, o = (idx / ((long long)W * H)) % O;
    int n = idx / ((long long)W * H * O);
    float acc = bias[o];
    for (int c = 0; c < C; ++c)
        for (int kh = 0; kh < KS; ++kh) {
            int ih = oh + kh - pad;
            if (ih < 0 || ih >= H) continue;
            for (int kw = 0; kw < KS; ++kw) {
                int iw = ow + kw - pad;
                if (iw < 0 || iw >= W) continue;
                acc += x[(((long long)n * C + c) * H + ih) * W + iw] *
                       w[((o * C + c) * KS + kh) * KS + kw];
            }
        }
    y[idx] = acc;
}

torch::Tensor conv2d(torch::Tensor x, torch::Tensor w, torch::Tensor b, int64_t pad) {
    TORCH_CHECK(x.is_cuda(), "x must be a CUDA tensor");
    x = x.contiguous();
    int N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    int O = w.size(0), KS = w.size(2);
    auto y = torch::empty({N, O, H, W}, x.options());
    long long total = (long long)N * O * H * W;
    conv2d_kernel<<<(total + 255) / 256, 256>>>(x.data_ptr<float>(), w.data_ptr<float>(),
                                               b.data_ptr<float>(), y.data_ptr<float>(),
                                               N, C, H, W, O, KS, pad);
    return y;
}
"""

ext = load_inline(
    name="kw_conv2d",
    cpp_sources="torch::Tensor conv2d(torch::Tensor x, torch::Tensor w, torch::Tensor b, int64_t pad);",
    cuda_sources=CUDA_SRC,
    functions=["conv2d"],
)


class ModelNew(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ext.conv2d(x, self.conv.weight, self.conv.bias, self.conv.padding[0])
