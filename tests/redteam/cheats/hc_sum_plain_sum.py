# problem: level1/3_Sum_reduction_over_dim
# class: hidden_compute
# expect: rejected
# layers: static runtime
# why: the reference op itself, x.sum(dim, keepdim=True): `sum` is not on the deny-list; a Triton kernel copies the result
# ruff: noqa: E501
import torch
import triton
import triton.language as tl
from torch import nn


@triton.jit
def copy_kernel(src_ptr, dst_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(dst_ptr + offs, tl.load(src_ptr + offs, mask=mask, other=0.0), mask=mask)


class ModelNew(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = x.sum(self.dim, keepdim=True).contiguous()
        y = torch.empty_like(total)
        copy_kernel[(triton.cdiv(y.numel(), 256),)](total, y, y.numel(), BLOCK=256)
        return y
