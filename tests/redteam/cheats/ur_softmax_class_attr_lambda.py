# problem: level1/4_Softmax
# class: unread_code
# expect: rejected
# layers: static runtime
# why: `forward = lambda self, x: ...` is a class attribute (an assignment): no def named forward to check
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


def _row_max(x):
    rows, cols = x.shape
    m = torch.empty(rows, device=x.device, dtype=x.dtype)
    row_max_kernel[(rows,)](x, m, cols, x.stride(0), BLOCK=triton.next_power_of_2(cols))
    return m


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    forward = lambda self, x: (_row_max(x.contiguous()), torch.softmax(x, dim=1))[1]  # noqa: E731
