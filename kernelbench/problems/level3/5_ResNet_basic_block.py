import torch
import torch.nn as nn


class Model(nn.Module):
    """A ResNet basic block: conv-BN-ReLU-conv-BN, plus the identity, then ReLU. BatchNorm runs
    in training mode (batch statistics), as the harness runs models."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        with torch.no_grad():  # non-trivial affine parameters
            for bn in (self.bn1, self.bn2):
                bn.weight.copy_(1.0 + 0.1 * torch.randn(channels))
                bn.bias.copy_(0.1 * torch.randn(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + x)


batch_size = 32
channels = 64
height = 56
width = 56

CHECK_SIZES = [
    {"batch_size": 2, "channels": 8, "height": 8, "width": 8},
    {"batch_size": 2, "channels": 6, "height": 7, "width": 9},
]


def get_inputs():
    x = torch.randn(batch_size, channels, height, width)
    return [x]


def get_init_inputs():
    return [channels]
