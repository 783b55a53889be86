# problem: level1/2_ReLU
# class: reference
# expect: not_correct
# layers: runtime
# why: request.json in the cwd lists every trial's seed and sizes; __init__ regenerates the inputs and precomputes the answers, forward only copies
# ruff: noqa: E501
import json

import torch
import triton
import triton.language as tl
from torch import nn


@triton.jit
def copy_kernel(src_ptr, dst_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(dst_ptr + offs, tl.load(src_ptr + offs, mask=mask, other=0.0), mask=mask)


def _key(x: torch.Tensor) -> tuple:
    return tuple(x.shape), round(float(x.reshape(-1)[0]), 6)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.table = {}
        with open("request.json", encoding="utf-8") as fh:
            request = json.load(fh)
        with torch.random.fork_rng():
            for trial in request["trials"]:
                sizes = trial["sizes"]
                torch.manual_seed(trial["seed"])
                x = torch.randn(sizes["batch_size"], sizes["dim"])
                self.table[_key(x)] = torch.clamp(x, min=0.0)  # __init__: "building parameters"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        src = self.table.get(_key(x), x).to(x.device).contiguous()
        y = torch.empty_like(x)
        copy_kernel[(triton.cdiv(x.numel(), 1024),)](src, y, x.numel(), BLOCK=1024)
        return y
