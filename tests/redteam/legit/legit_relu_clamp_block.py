# problem: level1/2_ReLU
# class: legit
# expect: correct
# layers: static runtime
# why: the block size is picked host-side with .clamp on a one-element tensor built from a Python int, then int(...)
import torch
import triton
import triton.language as tl
from torch import nn


@triton.jit
def relu_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0)
    tl.store(y_ptr + offs, tl.maximum(x, 0.0), mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        n = x.numel()
        block = int(torch.tensor([triton.next_power_of_2(n // 16)]).clamp(128, 1024).item())
        y = torch.empty_like(x)
        relu_kernel[(triton.cdiv(n, block),)](x, y, n, BLOCK=block)
        return y
