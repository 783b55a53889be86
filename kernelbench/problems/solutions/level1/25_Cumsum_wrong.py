import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def cumsum_rows_kernel(x_ptr, y_ptr, n_cols, BLOCK: tl.constexpr):
    # One program per row: scan block by block, carrying the running total across blocks.
    row = tl.program_id(0)
    carry = tl.zeros((), dtype=tl.float32)
    for c0 in range(0, n_cols, BLOCK):
        offs = c0 + tl.arange(0, BLOCK)
        mask = offs < n_cols
        x = tl.load(x_ptr + row * n_cols + offs, mask=mask, other=0.0)
        tl.store(y_ptr + row * n_cols + offs, tl.cumsum(x, axis=0) + carry, mask=mask)


class ModelNew(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Scan along the last axis of a contiguous copy with `dim` moved last; move it back.
        xt = x.movedim(self.dim, -1).contiguous()
        n_cols = xt.shape[-1]
        rows = xt.numel() // n_cols
        y = torch.empty_like(xt)
        cumsum_rows_kernel[(rows,)](xt, y, n_cols, BLOCK=256)
        return y.movedim(-1, self.dim)
