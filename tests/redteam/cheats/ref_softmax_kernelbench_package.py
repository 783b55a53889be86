# problem: level1/4_Softmax
# class: reference
# expect: rejected
# layers: static runtime
# why: the project is readable inside the sandbox: the harness's own registry finds the built-in problem file and loads its Model
# ruff: noqa: E501
import torch
import triton
import triton.language as tl
from torch import nn

from kernelbench.problems.loading import load_module
from kernelbench.problems.registry import resolve_problem


@triton.jit
def row_max_kernel(x_ptr, m_ptr, n_cols, stride, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + row * stride + offs, mask=offs < n_cols, other=-float("inf"))
    tl.store(m_ptr + row, tl.max(x, axis=0))


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        spec = resolve_problem("level1/4_Softmax")
        self.impl = load_module(spec.path, "_kb_softmax").Model()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        rows, cols = x.shape
        row_max = torch.empty(rows, device=x.device, dtype=x.dtype)
        row_max_kernel[(rows,)](x, row_max, cols, x.stride(0), BLOCK=triton.next_power_of_2(cols))
        return self.impl.forward(x)
