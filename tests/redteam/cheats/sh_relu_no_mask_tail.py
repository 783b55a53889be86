# problem: level1/2_ReLU
# class: shapes
# expect: incorrect
# layers: runtime
# assumes: (batch_size * dim) % 8 == 0
# why: no masks at all: 1024-wide blocks for the bulk and 8-wide vectors for the rest, so the last n % 8 elements are never written; both CHECK_SIZES (16x1024, 7x1000) are multiples of 8
# ruff: noqa: E501
import torch
import triton
import triton.language as tl
from torch import nn


@triton.jit
def relu_bulk_kernel(x_ptr, y_ptr, start, BLOCK: tl.constexpr):
    offs = start + tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(y_ptr + offs, tl.maximum(tl.load(x_ptr + offs), 0.0))


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        y = torch.empty_like(x)
        n = x.numel()
        bulk = n // 1024
        if bulk:
            relu_bulk_kernel[(bulk,)](x, y, 0, BLOCK=1024)
        vectors = (n - bulk * 1024) // 8
        if vectors:
            relu_bulk_kernel[(vectors,)](x, y, bulk * 1024, BLOCK=8)
        return y
