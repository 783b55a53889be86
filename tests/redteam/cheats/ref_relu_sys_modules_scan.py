# problem: level1/2_ReLU
# class: reference
# expect: not_correct
# layers: static runtime
# why: scans sys.modules for any module with Model/get_inputs (the problem, whatever its name) and runs its Model
import sys

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


def _reference_module():
    for mod in list(sys.modules.values()):
        names = getattr(mod, "__dict__", {})
        if "Model" in names and "get_inputs" in names and "get_init_inputs" in names:
            return mod
    raise LookupError("no reference module loaded")


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        head = torch.empty(1024, device=x.device, dtype=x.dtype)
        relu_kernel[(1,)](x, head, min(x.numel(), 1024), BLOCK=1024)  # warm the cache line
        ref = _reference_module()
        return ref.Model(*ref.get_init_inputs())(x)
