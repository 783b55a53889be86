import torch
import torch.nn as nn


class Model(nn.Module):
    """Mean over the first dimension of a (rows, cols) tensor: a column-wise, strided reduction."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.mean(x, dim=0)


rows = 16384
cols = 8192

CHECK_SIZES = [{"rows": 256, "cols": 64}, {"rows": 300, "cols": 77}]


def get_inputs():
    x = torch.randn(rows, cols)
    return [x]


def get_init_inputs():
    return []
