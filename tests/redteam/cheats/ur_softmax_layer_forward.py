# problem: level1/4_Softmax
# class: unread_code
# expect: rejected
# layers: static runtime
# why: self.act = nn.Softmax(dim=1) called as self.act.forward(x), which a check for `self.act(...)` does not match
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
        self.act = nn.Softmax(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        rows, cols = x.shape
        row_max = torch.empty(rows, device=x.device, dtype=x.dtype)
        row_max_kernel[(rows,)](x, row_max, cols, x.stride(0), BLOCK=triton.next_power_of_2(cols))
        return self.act.forward(x)
