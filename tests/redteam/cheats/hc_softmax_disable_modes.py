# problem: level1/4_Softmax
# class: hidden_compute
# expect: rejected
# layers: static
# why: torch.utils._python_dispatch._disable_current_modes() pops every dispatch mode (a runtime guard too) for the duration of the compute and pushes them back, so the guard is intact afterwards
# ruff: noqa: E501
import torch
import triton
import triton.language as tl
from torch import nn
from torch.utils import _python_dispatch as _pd


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
        with _pd._disable_current_modes():
            e = (x - row_max[:, None]).exp()
            return e / e.sum(dim=1, keepdim=True)
