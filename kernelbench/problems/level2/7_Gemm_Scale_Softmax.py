import torch
import torch.nn as nn


class Model(nn.Module):
    """A linear layer, a scalar temperature scale, then softmax over the features."""

    def __init__(self, in_features: int, out_features: int, scale: float):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.linear(x) * self.scale, dim=1)


batch_size = 1024
in_features = 4096
out_features = 8192
scale = 4.0

CHECK_SIZES = [
    {"batch_size": 32, "in_features": 64, "out_features": 128},
    {"batch_size": 17, "in_features": 40, "out_features": 100},
]


def get_inputs():
    x = torch.randn(batch_size, in_features)
    return [x]


def get_init_inputs():
    return [in_features, out_features, scale]
