import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def sum_dim1_kernel(x_ptr, y_ptr, R, C, BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr):
    # x viewed as (B, R, C); reduce over R; one program per (b, column block).
    b = tl.program_id(0)
    cb = tl.program_id(1)
    cols = cb * BLOCK_C + tl.arange(0, BLOCK_C)
    cmask = cols < C
    acc = tl.zeros((BLOCK_C,), dtype=tl.float32)
    for r0 in range(0, R, BLOCK_R):
        rows = r0 + tl.arange(0, BLOCK_R)
        m = (rows[:, None] < R) & cmask[None, :]
        tile = tl.load(x_ptr + b * R * C + rows[:, None] * C + cols[None, :], mask=m, other=0.0)
        acc += tl.sum(tile, axis=0)
    tl.store(y_ptr + b * C + cols, acc, mask=cmask)


class ModelNew(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dim = self.dim % x.dim()
        shape = list(x.shape)
        B = 1
        for s in shape[:dim]:
            B *= s
        R = shape[dim]
        C = 1
        for s in shape[dim + 1:]:
            C *= s
        x = x.contiguous()
        out_shape = shape[:dim] + [1] + shape[dim + 1:]
        y = torch.empty(out_shape, device=x.device, dtype=x.dtype)
        BLOCK_C = 64
        sum_dim1_kernel[(B, triton.cdiv(C, BLOCK_C))](x, y, R, C, BLOCK_R=32, BLOCK_C=BLOCK_C)
        return y
