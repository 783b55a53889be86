# problem: level1/11_Softplus
# class: unread_code
# expect: rejected
# layers: static runtime
# why: the compute lives in a method of another class (a "launcher" helper) that the checker never reads
import torch
import torch.nn.functional as F
import triton
import triton.language as tl
from torch import nn


@triton.jit
def softplus_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0)
    soft = tl.maximum(x, 0.0) + tl.log(1.0 + tl.exp(-tl.abs(x)))
    tl.store(y_ptr + offs, tl.where(x > 20.0, x, soft), mask=mask)


class _Launcher:
    def __init__(self, block):
        self.block = block

    def __call__(self, x):
        y = F.softplus(x)
        softplus_kernel[(1,)](x, y, min(x.numel(), self.block), BLOCK=self.block)
        return y


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.launch = _Launcher(1024)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.launch(x.contiguous())
