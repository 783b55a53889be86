# problem: level1/4_Softmax
# class: legit
# expect: correct
# layers: static runtime
# why: __init__ probes the device in a try/except (torch.cuda.get_device_properties raises without a GPU) to choose num_warps
# ruff: noqa: E501
import torch
import triton
import triton.language as tl
from torch import nn


@triton.jit
def softmax_kernel(x_ptr, y_ptr, n_cols, stride, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    mask = offs < n_cols
    x = tl.load(x_ptr + row * stride + offs, mask=mask, other=-float("inf"))
    e = tl.exp(x - tl.max(x, axis=0))
    tl.store(y_ptr + row * stride + offs, e / tl.sum(e, axis=0), mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        try:
            props = torch.cuda.get_device_properties(0)
            self.max_warps = 16 if props.major >= 9 else 8
        except (AssertionError, RuntimeError):
            self.max_warps = 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        rows, cols = x.shape
        y = torch.empty_like(x)
        block = triton.next_power_of_2(cols)
        warps = min(self.max_warps, max(1, block // 256))
        softmax_kernel[(rows,)](x, y, cols, x.stride(0), BLOCK=block, num_warps=warps)
        return y
