import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def add_layernorm_kernel(x_ptr, r_ptr, w_ptr, b_ptr, y_ptr, n_cols, eps, BLOCK: tl.constexpr):
    # One program per row: s = x + residual, then LayerNorm(s); the row is held in registers.
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    mask = offs < n_cols
    s = tl.load(x_ptr + row * n_cols + offs, mask=mask, other=0.0)
    s += tl.load(r_ptr + row * n_cols + offs, mask=mask, other=0.0)
    mean = tl.sum(s, axis=0) / n_cols
    d = tl.where(mask, s - mean, 0.0)
    rstd = 1.0 / tl.sqrt(tl.sum(d * d, axis=0) / n_cols + eps)
    w = tl.load(w_ptr + offs, mask=mask, other=0.0)
    b = tl.load(b_ptr + offs, mask=mask, other=0.0)
    tl.store(y_ptr + row * n_cols + offs, d * rstd * w + b, mask=mask)


class ModelNew(nn.Module):
    def __init__(self, features: int):
        super().__init__()
        self.ln = nn.LayerNorm(features)  # parameters only

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        residual = residual.contiguous()
        rows, cols = x.shape
        y = torch.empty_like(x)
        add_layernorm_kernel[(rows,)](x, residual, self.ln.weight, self.ln.bias, y, cols,
                                      self.ln.eps, BLOCK=triton.next_power_of_2(cols))
        return y
