import torch
import torch.nn as nn


class Model(nn.Module):
    """a + b where b has one value per channel: (N, C, H, W) + (C, 1, 1) broadcasts."""

    def __init__(self):
        super().__init__()

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a + b


batch_size = 64
channels = 256
height = 128
width = 128

CHECK_SIZES = [
    {"batch_size": 2, "channels": 8, "height": 16, "width": 16},
    {"batch_size": 3, "channels": 5, "height": 13, "width": 11},
]


def get_inputs():
    a = torch.randn(batch_size, channels, height, width)
    b = torch.randn(channels, 1, 1)
    return [a, b]


def get_init_inputs():
    return []
