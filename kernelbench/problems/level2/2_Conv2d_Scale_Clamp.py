import torch
import torch.nn as nn


class Model(nn.Module):
    """A 3x3 convolution (no padding), then a scalar scale, then a clamp to [clamp_min, clamp_max]."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, scale: float,
                 clamp_min: float, clamp_max: float):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size)
        self.scale = scale
        self.clamp_min = clamp_min
        self.clamp_max = clamp_max

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        x = x * self.scale
        return torch.clamp(x, self.clamp_min, self.clamp_max)


batch_size = 64
in_channels = 32
out_channels = 64
height = 128
width = 128
kernel_size = 3
scale = 1.5
clamp_min = -0.4
clamp_max = 0.6

CHECK_SIZES = [
    {"batch_size": 2, "in_channels": 4, "out_channels": 16, "height": 16, "width": 16},
    {"batch_size": 2, "in_channels": 3, "out_channels": 6, "height": 11, "width": 14},
]


def get_inputs():
    x = torch.randn(batch_size, in_channels, height, width)
    return [x]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size, scale, clamp_min, clamp_max]
