import torch
import torch.nn as nn


class Model(nn.Module):
    """Conv (3x3, padding 1, no bias), BatchNorm2d with batch statistics (train mode), ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2,
                              bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        with torch.no_grad():  # non-trivial affine parameters
            self.bn.weight.copy_(1.0 + 0.1 * torch.randn(out_channels))
            self.bn.bias.copy_(0.1 * torch.randn(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x)))


batch_size = 64
in_channels = 32
out_channels = 64
height = 64
width = 64
kernel_size = 3

CHECK_SIZES = [
    {"batch_size": 2, "in_channels": 4, "out_channels": 16, "height": 16, "width": 16},
    {"batch_size": 3, "in_channels": 3, "out_channels": 6, "height": 9, "width": 11},
]


def get_inputs():
    x = torch.randn(batch_size, in_channels, height, width)
    return [x]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size]
