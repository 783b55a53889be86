import torch
import torch.nn as nn


class Model(nn.Module):
    """Batched matmul: C[b] = A[b] @ B[b] for (batch, M, K) x (batch, K, N)."""

    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return torch.bmm(A, B)


batch_size = 128
M = 512
K = 1024
N = 768

CHECK_SIZES = [
    {"batch_size": 3, "M": 32, "K": 48, "N": 16},
    {"batch_size": 2, "M": 20, "K": 33, "N": 17},
]


def get_inputs():
    A = torch.randn(batch_size, M, K)
    B = torch.randn(batch_size, K, N)
    return [A, B]


def get_init_inputs():
    return []
