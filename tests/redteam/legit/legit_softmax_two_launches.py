# problem: level1/4_Softmax
# class: legit
# expect: correct
# layers: static runtime
# why: two kernels per forward: one writes each row's max and sum of exponentials, the second normalizes
import torch
import triton
import triton.language as tl
from torch import nn


@triton.jit
def row_stats_kernel(x_ptr, max_ptr, sum_ptr, n_cols, stride, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + row * stride + offs, mask=offs < n_cols, other=-float("inf"))
    m = tl.max(x, axis=0)
    tl.store(max_ptr + row, m)
    tl.store(sum_ptr + row, tl.sum(tl.exp(x - m), axis=0))


@triton.jit
def normalize_kernel(x_ptr, max_ptr, sum_ptr, y_ptr, n_cols, stride, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    mask = offs < n_cols
    x = tl.load(x_ptr + row * stride + offs, mask=mask, other=0.0)
    m = tl.load(max_ptr + row)
    s = tl.load(sum_ptr + row)
    tl.store(y_ptr + row * stride + offs, tl.exp(x - m) / s, mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        rows, cols = x.shape
        block = triton.next_power_of_2(cols)
        row_max = torch.empty(rows, device=x.device, dtype=torch.float32)
        row_sum = torch.empty_like(row_max)
        y = torch.empty_like(x)
        row_stats_kernel[(rows,)](x, row_max, row_sum, cols, x.stride(0), BLOCK=block)
        normalize_kernel[(rows,)](x, row_max, row_sum, y, cols, x.stride(0), BLOCK=block)
        return y
