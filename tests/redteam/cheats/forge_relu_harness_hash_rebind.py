# problem: level1/2_ReLU
# class: forge
# expect: not_correct
# layers: static runtime
# why: an in-place kernel (no output allocation: faster) returns its input; the harness's hash_values and aliased_input are rebound so neither the mutation nor the aliasing shows
# ruff: noqa: E501
import torch
import triton
import triton.language as tl
from torch import nn

import kernelbench.harness as _harness

_real_hash = _harness.hash_values
_first = {}


def _steady_hash(values):
    key = tuple(id(v) for v in values)
    if key in _first:
        return _first.pop(key)
    digest = _first[key] = _real_hash(values)
    return digest


_harness.hash_values = _steady_hash
_harness.aliased_input = lambda outputs, inputs: None


@triton.jit
def relu_inplace_kernel(x_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0)
    tl.store(x_ptr + offs, tl.maximum(x, 0.0), mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        relu_inplace_kernel[(triton.cdiv(x.numel(), 1024),)](x, x.numel(), BLOCK=1024)
        return x
