# problem: level1/4_Softmax
# class: legit
# expect: correct
# layers: static runtime
# why: a module-level helper computes the block and grid with math.log2 and integer math; the row loop handles widths over one block
# ruff: noqa: E501
import math

import torch
import triton
import triton.language as tl
from torch import nn


@triton.jit
def softmax_kernel(x_ptr, y_ptr, n_cols, stride, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    m = tl.full((BLOCK,), -float("inf"), dtype=tl.float32)
    for c0 in range(0, n_cols, BLOCK):
        x = tl.load(x_ptr + row * stride + c0 + offs, mask=c0 + offs < n_cols, other=-float("inf"))
        m = tl.maximum(m, x)
    row_max = tl.max(m, axis=0)
    s = tl.zeros((BLOCK,), dtype=tl.float32)
    for c0 in range(0, n_cols, BLOCK):
        x = tl.load(x_ptr + row * stride + c0 + offs, mask=c0 + offs < n_cols, other=-float("inf"))
        s += tl.exp(x - row_max)
    total = tl.sum(s, axis=0)
    for c0 in range(0, n_cols, BLOCK):
        mask = c0 + offs < n_cols
        x = tl.load(x_ptr + row * stride + c0 + offs, mask=mask, other=-float("inf"))
        tl.store(y_ptr + row * stride + c0 + offs, tl.exp(x - row_max) / total, mask=mask)


def launch_plan(rows: int, cols: int) -> tuple[tuple[int], int]:
    """One program per row; the block is the power of two at or under cols, 64..512."""
    exponent = int(math.log2(max(cols, 1)))
    block = 1 << max(6, min(9, exponent))
    return (rows,), block


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        rows, cols = x.shape
        grid, block = launch_plan(rows, cols)
        y = torch.empty_like(x)
        softmax_kernel[grid](x, y, cols, x.stride(0), BLOCK=block)
        return y
