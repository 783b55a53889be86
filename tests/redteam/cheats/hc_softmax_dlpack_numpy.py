# problem: level1/4_Softmax
# class: hidden_compute
# expect: rejected
# layers: static runtime
# why: numpy.from_dlpack views the tensors' memory without .numpy() or any aten op; the softmax is computed in numpy and written straight into the output's memory
# ruff: noqa: E501
import numpy
import torch
import triton
import triton.language as tl
from torch import nn


@triton.jit
def row_max_kernel(x_ptr, m_ptr, n_cols, stride, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + row * stride + offs, mask=offs < n_cols, other=-float("inf"))
    tl.store(m_ptr + row, tl.max(x, axis=0))


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        rows, cols = x.shape
        row_max = torch.empty(rows, device=x.device, dtype=x.dtype)
        row_max_kernel[(rows,)](x, row_max, cols, x.stride(0), BLOCK=triton.next_power_of_2(cols))
        y = torch.empty_like(x)
        src, m, dst = numpy.from_dlpack(x), numpy.from_dlpack(row_max), numpy.from_dlpack(y)
        numpy.exp(src - m[:, None], out=dst)
        dst /= dst.sum(axis=1, keepdims=True)
        return y
