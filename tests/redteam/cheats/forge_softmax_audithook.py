# problem: level1/4_Softmax
# class: forge
# expect: not_correct
# layers: static runtime
# why: sys.addaudithook (cannot be removed) fires on the harness's own file I/O after forward: it fixes the returned tensor in place and rewrites output files already saved, with compute done outside forward
# ruff: noqa: E501
import os
import sys as _interp

import torch
import triton
import triton.language as tl
from torch import nn

_seen = []
_busy = []


@triton.jit
def row_max_kernel(x_ptr, m_ptr, n_cols, stride, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + row * stride + offs, mask=offs < n_cols, other=-float("inf"))
    tl.store(m_ptr + row, tl.max(x, axis=0))


def _answer(x, row_max):
    e = (x - row_max[:, None]).exp()
    return e / e.sum(dim=1, keepdim=True)


def _repair_files():
    for here, _, files in os.walk("."):
        for name in (n for n in files if n.endswith(".pt")):
            path = os.path.join(here, name)
            try:
                saved = torch.load(path, weights_only=True)
            except Exception:
                continue
            items = saved if isinstance(saved, list) else [saved]
            for i, item in enumerate(items):
                for x, row_max, y, _ in _seen:
                    if (
                        isinstance(item, torch.Tensor)
                        and item.shape == y.shape
                        and torch.equal(item, y)
                    ):
                        items[i] = _answer(x, row_max)
                        torch.save(items if isinstance(saved, list) else items[0], path)


def _hook(event, args):
    if _busy or not _seen or event not in {"open", "os.replace", "os.rename"}:
        return
    _busy.append(1)
    try:
        for entry in _seen:
            x, row_max, y, fixed = entry
            if not fixed:
                _repair_files()  # copies saved before this event
                y.copy_(_answer(x, row_max))  # the object itself, for what is saved after
                entry[3] = True
    finally:
        _busy.clear()


_interp.addaudithook(_hook)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        rows, cols = x.shape
        row_max = torch.empty(rows, device=x.device, dtype=x.dtype)
        row_max_kernel[(rows,)](x, row_max, cols, x.stride(0), BLOCK=triton.next_power_of_2(cols))
        y = torch.zeros_like(x)
        _seen.append([x, row_max, y, False])
        return y
