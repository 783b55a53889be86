# problem: level1/2_ReLU
# class: hidden_compute
# expect: rejected
# layers: static runtime
# why: clamp_min is run on 8-element slices, so each torch op touches a "tiny tensor" (the size of a host-side block-size clamp)
# ruff: noqa: E501
import torch
import triton
import triton.language as tl
from torch import nn


@triton.jit
def relu_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0)
    tl.store(y_ptr + offs, tl.maximum(x, 0.0), mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.contiguous().view(-1)
        y = torch.empty_like(flat)
        relu_kernel[(1,)](flat, y, min(flat.numel(), 256), BLOCK=256)
        for start in range(256, flat.numel(), 8):
            y[start : start + 8] = flat[start : start + 8].clamp_min(0.0)
        return y.view(x.shape)
