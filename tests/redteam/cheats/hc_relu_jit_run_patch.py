# problem: level1/2_ReLU
# class: hidden_compute
# expect: rejected
# layers: static runtime
# why: rebinds Triton's kernel-launch method (module aliased) so every launch first computes the answer with torch, inside the launch window, then runs a one-program grid
# ruff: noqa: E501
import torch
import triton
import triton.language as tl
import triton.runtime.interpreter as _interp_rt
import triton.runtime.jit as _jit_rt
from torch import nn


def _wrap(original):
    def run(self, *args, grid, warmup, **kwargs):
        if not warmup and len(args) >= 2 and isinstance(args[0], torch.Tensor):
            args[1].copy_(args[0].clamp_min(0.0))
            grid = (1,)
        return original(self, *args, grid=grid, warmup=warmup, **kwargs)

    return run


_jit_rt.JITFunction.run = _wrap(_jit_rt.JITFunction.run)
_interp_rt.InterpretedFunction.run = _wrap(_interp_rt.InterpretedFunction.run)


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
        y = torch.empty_like(x)
        relu_kernel[(triton.cdiv(x.numel(), 1024),)](x, y, x.numel(), BLOCK=1024)
        return y
