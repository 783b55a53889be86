import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def bn_stats_kernel(x_ptr, mean_ptr, rstd_ptr, N, C, HW, eps, BLOCK: tl.constexpr):
    # One program per channel: mean and biased variance over (N, H, W), two passes.
    c = tl.program_id(0)
    count = N * HW
    acc = tl.zeros((BLOCK,), dtype=tl.float32)
    for j0 in range(0, count, BLOCK):
        j = j0 + tl.arange(0, BLOCK)
        mask = j < count
        acc += tl.load(x_ptr + (j // HW) * C * HW + c * HW + j % HW, mask=mask, other=0.0)
    mean = tl.sum(acc, axis=0) / count
    acc2 = tl.zeros((BLOCK,), dtype=tl.float32)
    for j0 in range(0, count, BLOCK):
        j = j0 + tl.arange(0, BLOCK)
        mask = j < count
        x = tl.load(x_ptr + (j // HW) * C * HW + c * HW + j % HW, mask=mask, other=0.0)
        d = tl.where(mask, x - mean, 0.0)
        acc2 += d * d
    var = tl.sum(acc2, axis=0) / (count - 1)
    tl.store(mean_ptr + c, mean)
    tl.store(rstd_ptr + c, 1.0 / tl.sqrt(var + eps))


@triton.jit
def bn_apply_kernel(x_ptr, y_ptr, mean_ptr, rstd_ptr, w_ptr, b_ptr, n, C, HW, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    c = (offs // HW) % C
    x = tl.load(x_ptr + offs, mask=mask, other=0.0)
    mean = tl.load(mean_ptr + c, mask=mask, other=0.0)
    rstd = tl.load(rstd_ptr + c, mask=mask, other=0.0)
    w = tl.load(w_ptr + c, mask=mask, other=0.0)
    b = tl.load(b_ptr + c, mask=mask, other=0.0)
    tl.store(y_ptr + offs, (x - mean) * rstd * w + b, mask=mask)


class ModelNew(nn.Module):
    def __init__(self, num_features: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(num_features)  # parameters only; training-mode statistics

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        N, C, H, W = x.shape
        mean = torch.empty(C, device=x.device, dtype=torch.float32)
        rstd = torch.empty(C, device=x.device, dtype=torch.float32)
        bn_stats_kernel[(C,)](x, mean, rstd, N, C, H * W, self.bn.eps, BLOCK=1024)
        y = torch.empty_like(x)
        n = x.numel()
        BLOCK = 1024
        bn_apply_kernel[(triton.cdiv(n, BLOCK),)](x, y, mean, rstd, self.bn.weight, self.bn.bias,
                                                   n, C, H * W, BLOCK=BLOCK)
        return y
