import torch
import torch.nn as nn


class Model(nn.Module):
    """A 3x3 convolution, global average pooling over H and W, then a learned per-channel bias."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size)
        self.bias = nn.Parameter(torch.randn(out_channels, 1, 1) * 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        x = torch.mean(x, dim=(2, 3), keepdim=True)
        return x + self.bias


batch_size = 64
in_channels = 32
out_channels = 64
height = 128
width = 128
kernel_size = 3

CHECK_SIZES = [
    {"batch_size": 2, "in_channels": 4, "out_channels": 16, "height": 16, "width": 16},
    {"batch_size": 3, "in_channels": 3, "out_channels": 7, "height": 12, "width": 9},
]


def get_inputs():
    x = torch.randn(batch_size, in_channels, height, width)
    return [x]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size]
