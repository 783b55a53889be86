import torch
import torch.nn as nn


class Model(nn.Module):
    """C = A @ B for square float16 matrices (float16 result)."""

    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return torch.matmul(A, B)


N = 8192

CHECK_SIZES = [{"N": 64}, {"N": 80}]


def get_inputs():
    A = torch.randn(N, N, dtype=torch.float16)
    B = torch.randn(N, N, dtype=torch.float16)
    return [A, B]


def get_init_inputs():
    return []
