import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def conv_scale_clamp_kernel(x_ptr, w_ptr, b_ptr, y_ptr, C_in, H, W, C_out, Ho, Wo,
                            scale, lo, hi, KH: tl.constexpr, KW: tl.constexpr,
                            BLOCK_P: tl.constexpr, BLOCK_OC: tl.constexpr, BLOCK_K: tl.constexpr):
    # Implicit GEMM convolution (no padding, stride 1) with scale and clamp fused in.
    p = tl.program_id(0) * BLOCK_P + tl.arange(0, BLOCK_P)
    oc = tl.program_id(1) * BLOCK_OC + tl.arange(0, BLOCK_OC)
    n = tl.program_id(2)
    pmask = p < Ho * Wo
    ocmask = oc < C_out
    oh = p // Wo
    ow = p % Wo
    K = C_in * KH * KW
    acc = tl.zeros((BLOCK_P, BLOCK_OC), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        kk = k0 + tl.arange(0, BLOCK_K)
        kmask = kk < K
        ic = kk // (KH * KW)
        ih = oh[:, None] + ((kk // KW) % KH)[None, :]
        iw = ow[:, None] + (kk % KW)[None, :]
        xm = pmask[:, None] & kmask[None, :]
        xt = tl.load(x_ptr + ((n * C_in + ic[None, :]) * H + ih) * W + iw, mask=xm, other=0.0)
        wt = tl.load(w_ptr + oc[None, :] * K + kk[:, None], mask=kmask[:, None] & ocmask[None, :],
                     other=0.0)
        acc += tl.dot(xt, wt, input_precision="ieee")
    acc += tl.load(b_ptr + oc, mask=ocmask, other=0.0)[None, :]
    acc = tl.minimum(tl.maximum(acc, lo), hi)
    acc = acc * scale
    y_off = (n * C_out + oc[None, :]) * (Ho * Wo) + p[:, None]
    tl.store(y_ptr + y_off, acc, mask=pmask[:, None] & ocmask[None, :])


class ModelNew(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, scale: float,
                 clamp_min: float, clamp_max: float):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size)  # parameters only
        self.scale = scale
        self.clamp_min = clamp_min
        self.clamp_max = clamp_max

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        N, C_in, H, W = x.shape
        w = self.conv.weight.contiguous()
        C_out, _, KH, KW = w.shape
        Ho, Wo = H - KH + 1, W - KW + 1
        y = torch.empty((N, C_out, Ho, Wo), device=x.device, dtype=x.dtype)
        BLOCK_P, BLOCK_OC, BLOCK_K = 64, 16, 32
        grid = (triton.cdiv(Ho * Wo, BLOCK_P), triton.cdiv(C_out, BLOCK_OC), N)
        conv_scale_clamp_kernel[grid](x, w, self.conv.bias, y, C_in, H, W, C_out, Ho, Wo,
                                      self.scale, self.clamp_min, self.clamp_max, KH=KH, KW=KW,
                                      BLOCK_P=BLOCK_P, BLOCK_OC=BLOCK_OC, BLOCK_K=BLOCK_K)
        return y
