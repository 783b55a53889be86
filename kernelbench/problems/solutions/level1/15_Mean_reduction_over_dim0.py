import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def mean_dim0_kernel(x_ptr, y_ptr, rows, cols, BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr):
    cc = tl.program_id(0) * BLOCK_C + tl.arange(0, BLOCK_C)
    cmask = cc < cols
    acc = tl.zeros((BLOCK_C,), dtype=tl.float32)
    for r0 in range(0, rows, BLOCK_R):
        rr = r0 + tl.arange(0, BLOCK_R)
        m = (rr[:, None] < rows) & cmask[None, :]
        acc += tl.sum(tl.load(x_ptr + rr[:, None] * cols + cc[None, :], mask=m, other=0.0), axis=0)
    tl.store(y_ptr + cc, acc / rows, mask=cmask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        rows, cols = x.shape
        y = torch.empty((cols,), device=x.device, dtype=x.dtype)
        BLOCK_C = 64
        mean_dim0_kernel[(triton.cdiv(cols, BLOCK_C),)](x, y, rows, cols, BLOCK_R=64, BLOCK_C=BLOCK_C)
        return y
