# problem: level1/4_Softmax
# class: hidden_compute
# expect: rejected
# layers: static runtime
# why: the softmax is computed in numpy over x.numpy(); a Triton kernel copies the result into the output
import numpy as np
import torch
import triton
import triton.language as tl
from torch import nn


@triton.jit
def copy_kernel(src_ptr, dst_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(dst_ptr + offs, tl.load(src_ptr + offs, mask=mask, other=0.0), mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = x.contiguous().numpy()
        e = np.exp(a - a.max(axis=1, keepdims=True))
        src = torch.from_numpy(np.ascontiguousarray(e / e.sum(axis=1, keepdims=True)))
        y = torch.empty_like(x)
        copy_kernel[(triton.cdiv(x.numel(), 1024),)](src, y, x.numel(), BLOCK=1024)
        return y
