import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def group_norm_kernel(x_ptr, y_ptr, w_ptr, b_ptr, C, HW, cpg, num_groups, eps,
                      BLOCK: tl.constexpr):
    # One program per (sample, group); the group's channels are contiguous: cpg * HW values.
    pid = tl.program_id(0)
    g = pid % num_groups
    count = cpg * HW
    base = pid * count
    acc = tl.zeros((BLOCK,), dtype=tl.float32)
    for j0 in range(0, count, BLOCK):
        j = j0 + tl.arange(0, BLOCK)
        acc += tl.load(x_ptr + base + j, mask=j < count, other=0.0)
    mean = tl.sum(acc, axis=0) / count
    acc2 = tl.zeros((BLOCK,), dtype=tl.float32)
    for j0 in range(0, count, BLOCK):
        j = j0 + tl.arange(0, BLOCK)
        mask = j < count
        d = tl.where(mask, tl.load(x_ptr + base + j, mask=mask, other=0.0) - mean, 0.0)
        acc2 += d * d
    rstd = 1.0 / tl.sqrt(tl.sum(acc2, axis=0) / count + eps)
    for j0 in range(0, count, BLOCK):
        j = j0 + tl.arange(0, BLOCK)
        mask = j < count
        c = g * cpg + j // HW
        x = tl.load(x_ptr + base + j, mask=mask, other=0.0)
        w = tl.load(w_ptr + c, mask=mask, other=0.0)
        b = tl.load(b_ptr + c, mask=mask, other=0.0)
        tl.store(y_ptr + base + j, (x - mean) * rstd * w + b, mask=mask)


class ModelNew(nn.Module):
    def __init__(self, num_groups: int, num_channels: int):
        super().__init__()
        self.gn = nn.GroupNorm(num_groups, num_channels)  # parameters only

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        N, C = x.shape[0], x.shape[1]
        HW = x.numel() // (N * C)
        G = self.gn.num_groups
        y = torch.empty_like(x)
        group_norm_kernel[(N * G,)](x, y, self.gn.weight, self.gn.bias, C, HW, C // G, G,
                                    self.gn.eps, BLOCK=512)
        return y
