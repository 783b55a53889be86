# problem: level1/2_ReLU
# class: unread_code
# expect: rejected
# layers: static runtime
# why: the candidate pushes its own TorchDispatchMode whose __torch_dispatch__ turns the output allocation into the ReLU (an aten op issued from inside a mode)
# ruff: noqa: E501
import torch
import triton
import triton.language as tl
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode


@triton.jit
def relu_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0)
    tl.store(y_ptr + offs, tl.maximum(x, 0.0), mask=mask)


class _Prefill(TorchDispatchMode):
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.ops.aten.empty_like.default:
            return torch.ops.aten.clamp_min.default(args[0], 0.0)
        return func(*args, **kwargs)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        with _Prefill():
            y = torch.empty_like(x)
        relu_kernel[(1,)](x, y, min(x.numel(), 1024), BLOCK=1024)
        return y
