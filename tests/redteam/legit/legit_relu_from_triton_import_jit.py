# problem: level1/2_ReLU
# class: legit
# expect: correct
# layers: static runtime
# why: `from triton import cdiv, jit`: the decorator is a bare @jit that really is triton's (a local `jit` is the cheat twin)
# ruff: noqa: E501
import torch
import triton.language as tl
from torch import nn
from triton import cdiv, jit


@jit
def relu_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(y_ptr + offs, tl.maximum(tl.load(x_ptr + offs, mask=mask, other=0.0), 0.0), mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        y = torch.empty_like(x)
        relu_kernel[(cdiv(x.numel(), 1024),)](x, y, x.numel(), BLOCK=1024)
        return y
