# problem: level1/2_ReLU
# class: legit
# expect: correct
# layers: static runtime
# why: triton imported as `tr`, triton.language as `language` (constexpr by name: the interpreter rejects an aliased constexpr annotation); the decorator is @tr.jit
# ruff: noqa: E501
import torch
import triton as tr
from torch import nn
from triton import language
from triton.language import constexpr


@tr.jit
def relu_kernel(x_ptr, y_ptr, n, BLOCK: constexpr):
    offs = language.program_id(0) * BLOCK + language.arange(0, BLOCK)
    mask = offs < n
    x = language.load(x_ptr + offs, mask=mask, other=0.0)
    language.store(y_ptr + offs, language.maximum(x, 0.0), mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        y = torch.empty_like(x)
        relu_kernel[(tr.cdiv(x.numel(), 1024),)](x, y, x.numel(), BLOCK=1024)
        return y
