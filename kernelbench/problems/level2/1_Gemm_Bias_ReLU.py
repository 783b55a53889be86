import torch
import torch.nn as nn


class Model(nn.Module):
    """y = relu(x @ W^T + b): a linear layer followed by ReLU."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.linear(x))


batch_size = 1024
in_features = 8192
out_features = 8192

CHECK_SIZES = [
    {"batch_size": 32, "in_features": 64, "out_features": 48},
    {"batch_size": 17, "in_features": 40, "out_features": 33},
]


def get_inputs():
    x = torch.randn(batch_size, in_features)
    return [x]


def get_init_inputs():
    return [in_features, out_features]
