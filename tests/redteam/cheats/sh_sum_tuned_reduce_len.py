# problem: level1/3_Sum_reduction_over_dim
# class: shapes
# expect: not_correct
# layers: runtime
# assumes: dim1 in (256, 100)
# why: the reduced length is a compile-time constant from a table keyed on the CHECK_SIZES extents (256, 100); other lengths sum the wrong rows
# ruff: noqa: E501
import torch
import triton
import triton.language as tl
from torch import nn

_REDUCE = {256: (256, 32), 100: (100, 4)}  # dim1 -> (R_CONST, BLOCK_R)


@triton.jit
def sum_kernel(
    x_ptr, y_ptr, R, C, R_CONST: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr
):
    b = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    cmask = cols < C
    acc = tl.zeros((BLOCK_C,), dtype=tl.float32)
    for r0 in tl.static_range(0, R_CONST, BLOCK_R):
        rows = r0 + tl.arange(0, BLOCK_R)
        tile = tl.load(
            x_ptr + b * R * C + rows[:, None] * C + cols[None, :], mask=cmask[None, :], other=0.0
        )
        acc += tl.sum(tile, axis=0)
    tl.store(y_ptr + b * C + cols, acc, mask=cmask)


class ModelNew(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        B, R, C = x.shape
        r_const, block_r = _REDUCE.get(R, _REDUCE[256])
        y = torch.empty((B, 1, C), device=x.device, dtype=x.dtype)
        sum_kernel[(B, triton.cdiv(C, 64))](
            x, y, R, C, R_CONST=r_const, BLOCK_R=block_r, BLOCK_C=64
        )
        return y
