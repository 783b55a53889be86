import torch
import torch.nn as nn


class Model(nn.Module):
    """a * b with a of shape (M, 1) and b of shape (1, N): both operands broadcast to (M, N)."""

    def __init__(self):
        super().__init__()

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a * b


M = 16384
N = 16384

CHECK_SIZES = [{"M": 64, "N": 256}, {"M": 37, "N": 100}]


def get_inputs():
    a = torch.randn(M, 1)
    b = torch.randn(1, N)
    return [a, b]


def get_init_inputs():
    return []
