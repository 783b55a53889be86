# problem: level1/2_ReLU
# class: timing
# expect: incorrect
# layers: runtime
# why: returns torch.empty_like(x) after a launch that writes nothing, betting that the allocator hands back freed memory that still holds the reference's result
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
        y = torch.empty_like(x)
        relu_kernel[(triton.cdiv(x.numel(), 1024),)](x, y, 0, BLOCK=1024)  # n=0: nothing stored
        return y
