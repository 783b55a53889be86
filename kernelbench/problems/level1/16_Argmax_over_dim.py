import torch
import torch.nn as nn


class Model(nn.Module):
    """Index of the maximum over a middle dimension (int64 result, must match exactly)."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.argmax(x, dim=self.dim)


batch_size = 64
dim1 = 4096
dim2 = 2047
reduce_dim = 1

CHECK_SIZES = [{"batch_size": 4, "dim1": 256, "dim2": 32}, {"batch_size": 3, "dim1": 100, "dim2": 21}]


def get_inputs():
    x = torch.randn(batch_size, dim1, dim2)
    return [x]


def get_init_inputs():
    return [reduce_dim]
