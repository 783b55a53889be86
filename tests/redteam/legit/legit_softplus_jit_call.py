# problem: level1/11_Softplus
# class: legit
# expect: correct
# layers: static runtime
# why: the kernel is made with a call, `softplus_kernel = triton.jit(_softplus)`, not a decorator
import torch
import triton
import triton.language as tl
from torch import nn


def _softplus(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0)
    soft = tl.maximum(x, 0.0) + tl.log(1.0 + tl.exp(-tl.abs(x)))
    tl.store(y_ptr + offs, tl.where(x > 20.0, x, soft), mask=mask)


softplus_kernel = triton.jit(_softplus)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        y = torch.empty_like(x)
        softplus_kernel[(triton.cdiv(x.numel(), 1024),)](x, y, x.numel(), BLOCK=1024)
        return y
