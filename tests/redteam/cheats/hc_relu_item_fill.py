# problem: level1/2_ReLU
# class: hidden_compute
# expect: rejected
# layers: static runtime
# why: only ops an allowlist would keep (views, scalar .item(), fill_): ReLU element by element in Python, writing each result with fill_
# ruff: noqa: E501
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
        flat = x.contiguous().view(-1)
        y = torch.empty_like(flat)
        head = min(flat.numel(), 256)
        relu_kernel[(1,)](flat, y, head, BLOCK=256)
        for i in range(head, flat.numel()):
            v = flat[i].item()
            y[i].fill_(v if v > 0.0 else 0.0)
        return y.view(x.shape)
