# problem: level1/2_ReLU
# class: unread_code
# expect: rejected
# layers: static runtime
# why: a base class's __init_subclass__ replaces the subclass's forward when ModelNew is defined; the visible forward is never the one that runs
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


class _Fused(nn.Module):
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        kernel_path = cls.forward

        def forward(self, x):
            kernel_path(self, x[:1])
            return torch.relu(x)

        cls.forward = forward


class ModelNew(_Fused):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        y = torch.empty_like(x)
        relu_kernel[(triton.cdiv(x.numel(), 1024),)](x, y, x.numel(), BLOCK=1024)
        return y
