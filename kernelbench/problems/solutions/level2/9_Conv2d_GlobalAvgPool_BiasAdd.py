import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def conv_gap_bias_kernel(x_ptr, w_ptr, cb_ptr, b_ptr, y_ptr, C_in, H, W, C_out, Ho, Wo,
                         KH: tl.constexpr, KW: tl.constexpr,
                         BLOCK_P: tl.constexpr, BLOCK_OC: tl.constexpr, BLOCK_K: tl.constexpr):
    # One program per (sample, block of output channels): the convolution output is summed
    # over all output pixels as it is produced and never written to memory.
    oc = tl.program_id(0) * BLOCK_OC + tl.arange(0, BLOCK_OC)
    n = tl.program_id(1)
    ocmask = oc < C_out
    K = C_in * KH * KW
    total = tl.zeros((BLOCK_OC,), dtype=tl.float32)
    for p0 in range(0, Ho * Wo, BLOCK_P):
        p = p0 + tl.arange(0, BLOCK_P)
        pmask = p < Ho * Wo
        oh = p // Wo
        ow = p % Wo
        acc = tl.zeros((BLOCK_P, BLOCK_OC), dtype=tl.float32)
        for k0 in range(0, K, BLOCK_K):
            kk = k0 + tl.arange(0, BLOCK_K)
            kmask = kk < K
            ic = kk // (KH * KW)
            ih = oh[:, None] + ((kk // KW) % KH)[None, :]
            iw = ow[:, None] + (kk % KW)[None, :]
            xt = tl.load(x_ptr + ((n * C_in + ic[None, :]) * H + ih) * W + iw,
                         mask=pmask[:, None] & kmask[None, :], other=0.0)
            wt = tl.load(w_ptr + oc[None, :] * K + kk[:, None],
                         mask=kmask[:, None] & ocmask[None, :], other=0.0)
            acc += tl.dot(xt, wt, input_precision="ieee")
        total += tl.sum(acc, axis=0)  # rows past the last pixel are exactly zero
    mean = total / (Ho * Wo) + tl.load(cb_ptr + oc, mask=ocmask, other=0.0)
    out = mean + tl.load(b_ptr + oc, mask=ocmask, other=0.0)
    tl.store(y_ptr + n * C_out + oc, out, mask=ocmask)


class ModelNew(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size)  # parameters only
        self.bias = nn.Parameter(torch.zeros(out_channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        N, C_in, H, W = x.shape
        w = self.conv.weight.contiguous()
        C_out, _, KH, KW = w.shape
        Ho, Wo = H - KH + 1, W - KW + 1
        y = torch.empty((N, C_out, 1, 1), device=x.device, dtype=x.dtype)
        BLOCK_OC = 16
        grid = (triton.cdiv(C_out, BLOCK_OC), N)
        conv_gap_bias_kernel[grid](x, w, self.conv.bias, self.bias, y, C_in, H, W, C_out, Ho, Wo,
                                   KH=KH, KW=KW, BLOCK_P=64, BLOCK_OC=BLOCK_OC, BLOCK_K=32)
        return y
