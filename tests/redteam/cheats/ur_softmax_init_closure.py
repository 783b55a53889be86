# problem: level1/4_Softmax
# class: unread_code
# expect: rejected
# layers: static runtime
# why: the real forward body is a closure defined in __init__ and stored on self; __init__ is where building parameters is allowed, so its body goes unchecked
# ruff: noqa: E501
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

        def finish(x, row_max):
            return torch.softmax(x, dim=1)

        self.finish = finish

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        rows, cols = x.shape
        row_max = torch.empty(rows, device=x.device, dtype=x.dtype)
        row_max_kernel[(rows,)](x, row_max, cols, x.stride(0), BLOCK=triton.next_power_of_2(cols))
        return self.finish(x, row_max)
