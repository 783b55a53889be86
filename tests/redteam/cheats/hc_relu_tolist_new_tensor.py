# problem: level1/2_ReLU
# class: hidden_compute
# expect: rejected
# layers: static runtime
# why: pure Python over x.tolist(), rebuilt with x.new_tensor(...); no torch op computes anything
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
        rows = [[v if v > 0.0 else 0.0 for v in row] for row in x.tolist()]
        src = x.new_tensor(rows)
        y = torch.empty_like(x)
        copy_kernel[(triton.cdiv(x.numel(), 1024),)](src, y, x.numel(), BLOCK=1024)
        return y
