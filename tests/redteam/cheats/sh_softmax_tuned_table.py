# problem: level1/4_Softmax
# class: shapes
# expect: not_correct
# layers: runtime
# assumes: dim in (512, 1000)
# why: the column count is a compile-time constant from a table "tuned" on the problem's CHECK_SIZES (512, 1000); any other width silently uses the 512 entry
# ruff: noqa: E501
import torch
import triton
import triton.language as tl
from torch import nn

_TUNED = {512: (512, 512, 4), 1000: (1000, 1024, 8)}  # cols -> (N_COLS, BLOCK, num_warps)


@triton.jit
def softmax_kernel(x_ptr, y_ptr, stride, N_COLS: tl.constexpr, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    mask = offs < N_COLS
    x = tl.load(x_ptr + row * stride + offs, mask=mask, other=-float("inf"))
    e = tl.exp(x - tl.max(x, axis=0))
    tl.store(y_ptr + row * stride + offs, e / tl.sum(e, axis=0), mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        rows, cols = x.shape
        n_cols, block, warps = _TUNED.get(cols, _TUNED[512])
        y = torch.empty_like(x)
        softmax_kernel[(rows,)](x, y, x.stride(0), N_COLS=n_cols, BLOCK=block, num_warps=warps)
        return y
