import torch
import torch.nn as nn


class Model(nn.Module):
    """2-D max pooling with a 3x3 window, stride 2 and padding 1 (padding never wins)."""

    def __init__(self, kernel_size: int, stride: int, padding: int):
        super().__init__()
        self.pool = nn.MaxPool2d(kernel_size=kernel_size, stride=stride, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x)


batch_size = 32
channels = 64
height = 256
width = 256
kernel_size = 3
stride = 2
padding = 1

CHECK_SIZES = [
    {"batch_size": 2, "channels": 4, "height": 16, "width": 16},
    {"batch_size": 2, "channels": 3, "height": 13, "width": 11},
]


def get_inputs():
    x = torch.randn(batch_size, channels, height, width)
    return [x]


def get_init_inputs():
    return [kernel_size, stride, padding]
