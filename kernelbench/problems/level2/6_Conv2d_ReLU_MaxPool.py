import torch
import torch.nn as nn


class Model(nn.Module):
    """A 3x3 convolution (padding 1), ReLU, then 2x2 max pooling with stride 2."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(torch.relu(self.conv(x)))


batch_size = 64
in_channels = 32
out_channels = 64
height = 128
width = 128
kernel_size = 3

CHECK_SIZES = [
    {"batch_size": 2, "in_channels": 4, "out_channels": 16, "height": 16, "width": 16},
    {"batch_size": 2, "in_channels": 3, "out_channels": 5, "height": 13, "width": 10},
]


def get_inputs():
    x = torch.randn(batch_size, in_channels, height, width)
    return [x]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size]
