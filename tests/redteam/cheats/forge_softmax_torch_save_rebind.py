# problem: level1/4_Softmax
# class: forge
# expect: not_correct
# layers: static runtime
# why: rebinds torch.save under an alias; forward only computes row maxima, and the softmax is computed at save time, outside forward and outside the timed call
# ruff: noqa: E501
import torch
import torch as _serial
import triton
import triton.language as tl
from torch import nn

_pending = []
_real_save = _serial.save


@triton.jit
def row_max_kernel(x_ptr, m_ptr, n_cols, stride, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + row * stride + offs, mask=offs < n_cols, other=-float("inf"))
    tl.store(m_ptr + row, tl.max(x, axis=0))


def _save(obj, f, *args, **kwargs):
    if _pending and isinstance(obj, list) and str(f).endswith(".pt"):
        x, row_max = _pending.pop(0)
        e = (x - row_max[:, None]).exp()
        obj = [e / e.sum(dim=1, keepdim=True)]
    return _real_save(obj, f, *args, **kwargs)


_serial.save = _save


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        rows, cols = x.shape
        row_max = torch.empty(rows, device=x.device, dtype=x.dtype)
        row_max_kernel[(rows,)](x, row_max, cols, x.stride(0), BLOCK=triton.next_power_of_2(cols))
        _pending.append((x, row_max))
        return torch.empty_like(x)
