# problem: level1/4_Softmax
# class: unread_code
# expect: rejected
# layers: static runtime
# why: a metaclass swaps ModelNew.forward at class creation for a function defined in the metaclass body; the forward in the source is a decoy
# ruff: noqa: E501
import torch
import triton
import triton.language as tl
from torch import nn


@triton.jit
def softmax_kernel(x_ptr, y_ptr, n_cols, stride, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    mask = offs < n_cols
    x = tl.load(x_ptr + row * stride + offs, mask=mask, other=-float("inf"))
    e = tl.exp(x - tl.max(x, axis=0))
    tl.store(y_ptr + row * stride + offs, e / tl.sum(e, axis=0), mask=mask)


class _Tuned(type):
    def __new__(mcs, name, bases, namespace):
        decoy = namespace["forward"]

        def forward(self, x):
            decoy(self, x[:1])  # keeps a real launch in every call
            return torch.softmax(x, dim=1)

        namespace["forward"] = forward
        return super().__new__(mcs, name, bases, namespace)


class ModelNew(nn.Module, metaclass=_Tuned):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        rows, cols = x.shape
        y = torch.empty_like(x)
        softmax_kernel[(rows,)](x, y, cols, x.stride(0), BLOCK=triton.next_power_of_2(cols))
        return y
