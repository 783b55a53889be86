# problem: level1/4_Softmax
# class: reference
# expect: not_correct
# layers: static runtime
# why: torch.initial_seed() in forward is the trial seed: an oracle class regenerates the input and computes the answer in its __init__
# ruff: noqa: E501
import torch
import triton
import triton.language as tl
from torch import nn


@triton.jit
def copy_kernel(src_ptr, dst_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(dst_ptr + offs, tl.load(src_ptr + offs, mask=mask, other=0.0), mask=mask)


class _Oracle:
    """Precomputed answer for the inputs a seed generates."""

    def __init__(self, shape, seed):
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.inputs = torch.randn(*shape)
        self.answer = torch.softmax(self.inputs, dim=1)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        oracle = _Oracle(tuple(x.shape), torch.initial_seed())
        y = torch.empty_like(x)
        copy_kernel[(triton.cdiv(x.numel(), 1024),)](oracle.answer, y, x.numel(), BLOCK=1024)
        return y
