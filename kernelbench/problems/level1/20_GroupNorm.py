import torch
import torch.nn as nn


class Model(nn.Module):
    """GroupNorm: mean and variance over each group of channels and all spatial positions."""

    def __init__(self, num_groups: int, num_channels: int):
        super().__init__()
        self.gn = nn.GroupNorm(num_groups, num_channels)
        with torch.no_grad():  # non-trivial affine parameters
            self.gn.weight.copy_(1.0 + 0.1 * torch.randn(num_channels))
            self.gn.bias.copy_(0.1 * torch.randn(num_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gn(x)


batch_size = 32
num_groups = 8
channels = 256
height = 64
width = 64

CHECK_SIZES = [
    {"batch_size": 2, "channels": 16, "height": 8, "width": 8},
    {"batch_size": 3, "channels": 24, "height": 5, "width": 7},
]


def get_inputs():
    x = torch.randn(batch_size, channels, height, width)
    return [x]


def get_init_inputs():
    return [num_groups, channels]
