import torch
import torch.nn as nn


class Model(nn.Module):
    """1-D average pooling, window 4, stride 2, padding 1; padded zeros count in the average."""

    def __init__(self, kernel_size: int, stride: int, padding: int):
        super().__init__()
        self.pool = nn.AvgPool1d(kernel_size=kernel_size, stride=stride, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x)


batch_size = 64
channels = 128
length = 65536
kernel_size = 4
stride = 2
padding = 1

CHECK_SIZES = [
    {"batch_size": 2, "channels": 8, "length": 256},
    {"batch_size": 3, "channels": 5, "length": 201},
]


def get_inputs():
    x = torch.randn(batch_size, channels, length)
    return [x]


def get_init_inputs():
    return [kernel_size, stride, padding]
