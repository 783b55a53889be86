# problem: level1/3_Sum_reduction_over_dim
# class: legit
# expect: correct
# layers: static runtime
# why: a split reduction: the output starts as torch.zeros and programs over row chunks accumulate into it with tl.atomic_add
# ruff: noqa: E501
import torch
import triton
import triton.language as tl
from torch import nn


@triton.jit
def sum_split_kernel(x_ptr, y_ptr, R, C, ROWS_PER: tl.constexpr, BLOCK_C: tl.constexpr):
    b = tl.program_id(0)
    rows = tl.program_id(1) * ROWS_PER + tl.arange(0, ROWS_PER)
    cols = tl.program_id(2) * BLOCK_C + tl.arange(0, BLOCK_C)
    cmask = cols < C
    tile = tl.load(
        x_ptr + b * R * C + rows[:, None] * C + cols[None, :],
        mask=(rows[:, None] < R) & cmask[None, :],
        other=0.0,
    )
    tl.atomic_add(y_ptr + b * C + cols, tl.sum(tile, axis=0), mask=cmask)


class ModelNew(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        B, R, C = x.shape
        y = torch.zeros((B, 1, C), device=x.device, dtype=torch.float32)
        rows_per = 32
        grid = (B, triton.cdiv(R, rows_per), triton.cdiv(C, 64))
        sum_split_kernel[grid](x, y, R, C, ROWS_PER=rows_per, BLOCK_C=64)
        return y
