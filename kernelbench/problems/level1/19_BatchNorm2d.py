import torch
import torch.nn as nn


class Model(nn.Module):
    """BatchNorm2d in training mode: per-channel mean and (biased) variance over N, H, W."""

    def __init__(self, num_features: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(num_features)
        with torch.no_grad():  # non-trivial affine parameters
            self.bn.weight.copy_(1.0 + 0.1 * torch.randn(num_features))
            self.bn.bias.copy_(0.1 * torch.randn(num_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(x)


batch_size = 32
features = 64
height = 128
width = 128

CHECK_SIZES = [
    {"batch_size": 4, "features": 8, "height": 8, "width": 8},
    {"batch_size": 3, "features": 5, "height": 7, "width": 9},
]


def get_inputs():
    x = torch.randn(batch_size, features, height, width) * 2.0 + 0.5
    return [x]


def get_init_inputs():
    return [features]
