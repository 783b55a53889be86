import torch
import torch.nn as nn


class Model(nn.Module):
    """A linear layer, then logsumexp over the features (keeping the dimension)."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(self.linear(x), dim=1, keepdim=True)


batch_size = 1024
in_features = 8192
out_features = 8192

CHECK_SIZES = [
    {"batch_size": 32, "in_features": 64, "out_features": 64},
    {"batch_size": 15, "in_features": 50, "out_features": 70},
]


def get_inputs():
    x = torch.randn(batch_size, in_features)
    return [x]


def get_init_inputs():
    return [in_features, out_features]
