import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def add_channel_kernel(a_ptr, b_ptr, y_ptr, n, hw, channels, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    c = (offs // hw) % channels
    a = tl.load(a_ptr + offs, mask=mask, other=0.0)
    b = tl.load(b_ptr + c, mask=mask, other=0.0)
    tl.store(y_ptr + offs, a + b, mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        a = a.contiguous()
        b = b.contiguous()
        _, C, H, W = a.shape
        y = torch.empty_like(a)
        n = a.numel()
        BLOCK = 1024
        add_channel_kernel[(triton.cdiv(n, BLOCK),)](a, b, y, n, H * W, C, BLOCK=BLOCK)
        return y
