# problem: level1/2_ReLU
# class: legit
# expect: correct
# layers: static runtime
# why: block size from math.log2 and triton.next_power_of_2, a grid-stride loop in the kernel, the program count capped with min()
# ruff: noqa: E501
import math

import torch
import triton
import triton.language as tl
from torch import nn


@triton.jit
def relu_kernel(x_ptr, y_ptr, n, n_programs, BLOCK: tl.constexpr):
    for start in range(tl.program_id(0) * BLOCK, n, n_programs * BLOCK):
        offs = start + tl.arange(0, BLOCK)
        mask = offs < n
        x = tl.load(x_ptr + offs, mask=mask, other=0.0)
        tl.store(y_ptr + offs, tl.maximum(x, 0.0), mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        n = x.numel()
        block = min(1024, triton.next_power_of_2(max(16, 2 ** int(math.log2(max(n, 2)) // 2))))
        programs = min(64, triton.cdiv(n, block))
        y = torch.empty_like(x)
        relu_kernel[(programs,)](x, y, n, programs, BLOCK=block)
        return y
