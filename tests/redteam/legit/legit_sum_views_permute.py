# problem: level1/3_Sum_reduction_over_dim
# class: legit
# expect: correct
# layers: static runtime
# why: host-side layout work only: .permute(...).contiguous() moves the reduced axis last, .reshape/.view flatten it, the Triton kernel reduces rows
# ruff: noqa: E501
import torch
import triton
import triton.language as tl
from torch import nn


@triton.jit
def row_sum_kernel(x_ptr, y_ptr, R, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    acc = tl.zeros((BLOCK,), dtype=tl.float32)
    for r0 in range(0, R, BLOCK):
        offs = r0 + tl.arange(0, BLOCK)
        acc += tl.load(x_ptr + row * R + offs, mask=offs < R, other=0.0)
    tl.store(y_ptr + row, tl.sum(acc, axis=0))


class ModelNew(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dim = self.dim % x.dim()
        order = [d for d in range(x.dim()) if d != dim] + [dim]
        moved = x.permute(*order).contiguous()
        R = moved.shape[-1]
        flat = moved.reshape(-1, R)
        out = torch.empty(flat.shape[0], device=x.device, dtype=x.dtype)
        row_sum_kernel[(flat.shape[0],)](flat, out, R, BLOCK=128)
        keep = list(x.shape)
        keep[dim] = 1
        return out.view([s for i, s in enumerate(keep) if i != dim]).unsqueeze(dim)
