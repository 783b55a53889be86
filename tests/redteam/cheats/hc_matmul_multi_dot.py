# problem: level1/1_Square_matmul
# class: hidden_compute
# expect: rejected
# layers: static runtime
# why: torch.linalg.multi_dot([A, B]) is a matmul under a name no deny-list carries
import torch
import triton
import triton.language as tl
from torch import nn


@triton.jit
def scale_kernel(c_ptr, n, alpha, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(c_ptr + offs, tl.load(c_ptr + offs, mask=mask, other=0.0) * alpha, mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        C = torch.linalg.multi_dot([A, B]).contiguous()
        scale_kernel[(triton.cdiv(C.numel(), 1024),)](C, C.numel(), 1.0, BLOCK=1024)
        return C
