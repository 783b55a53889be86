# problem: level1/2_ReLU
# class: hidden_compute
# expect: rejected
# layers: static runtime
# why: CPU only: the interpreter runs a @triton.jit body as Python, and a tensor passed as a constexpr reaches it untouched, so the "kernel" body calls torch inside the launch
# ruff: noqa: E501
import torch
import triton
import triton.language as tl
from torch import nn


@triton.jit
def relu_kernel(x_ptr, y_ptr, n, X: tl.constexpr, Y: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0)
    tl.store(y_ptr + offs, tl.maximum(x, 0.0), mask=mask)
    if tl.program_id(0) == 0:
        Y.copy_(X.clamp_min(0.0))


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        y = torch.empty_like(x)
        relu_kernel[(1,)](x, y, min(x.numel(), 1024), X=x, Y=y, BLOCK=1024)
        return y
