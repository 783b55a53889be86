# problem: level1/11_Softplus
# class: unread_code
# expect: rejected
# layers: static runtime
# why: a local decorator named `jit` marks a host function as a "kernel", so its body (F.softplus) is skipped like Triton code
# ruff: noqa: E501
import torch
import torch.nn.functional as F
import triton
import triton.language as tl
from torch import nn


def jit(fn):
    return fn


@triton.jit
def softplus_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0)
    soft = tl.maximum(x, 0.0) + tl.log(1.0 + tl.exp(-tl.abs(x)))
    tl.store(y_ptr + offs, tl.where(x > 20.0, x, soft), mask=mask)


@jit
def softplus_tail(x, y, start):
    y.view(-1)[start:] = F.softplus(x.view(-1)[start:])


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        y = torch.empty_like(x)
        softplus_kernel[(1,)](x, y, min(x.numel(), 1024), BLOCK=1024)
        softplus_tail(x, y, 1024)
        return y
