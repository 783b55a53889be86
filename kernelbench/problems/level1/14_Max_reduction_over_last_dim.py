import torch
import torch.nn as nn


class Model(nn.Module):
    """Maximum over one dimension (the last one here), which is removed."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.max(x, dim=self.dim).values


batch_size = 64
dim1 = 4096
dim2 = 2047
reduce_dim = 2

CHECK_SIZES = [{"batch_size": 4, "dim1": 64, "dim2": 256}, {"batch_size": 3, "dim1": 10, "dim2": 300}]


def get_inputs():
    x = torch.randn(batch_size, dim1, dim2)
    return [x]


def get_init_inputs():
    return [reduce_dim]
