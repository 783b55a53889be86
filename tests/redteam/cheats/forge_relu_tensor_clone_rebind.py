# problem: level1/2_ReLU
# class: forge
# expect: not_correct
# layers: static runtime
# why: rebinds torch.Tensor.clone (torch aliased); the harness clones the output before saving it, and the patched clone returns the real ReLU of the stashed input
# ruff: noqa: E501
import torch
import torch as T
import triton
import triton.language as tl
from torch import nn

_stash = {}
_real_clone = T.Tensor.clone


def _clone(self, *args, **kwargs):
    x = _stash.pop(self.data_ptr(), None) if self.numel() else None
    if x is not None:
        return T.where(x > 0, x, 0.0)
    return _real_clone(self, *args, **kwargs)


T.Tensor.clone = _clone


@triton.jit
def fill_kernel(y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(y_ptr + offs, tl.zeros((BLOCK,), dtype=tl.float32), mask=offs < n)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.empty_like(x)
        fill_kernel[(triton.cdiv(x.numel(), 1024),)](y, x.numel(), BLOCK=1024)
        _stash[y.data_ptr()] = x
        return y
