import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    """y = gelu(x @ W^T + b) in float16: a half-precision linear layer followed by exact GELU."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, dtype=torch.float16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.linear(x))


batch_size = 2048
in_features = 8192
out_features = 8192

CHECK_SIZES = [
    {"batch_size": 32, "in_features": 64, "out_features": 48},
    {"batch_size": 19, "in_features": 72, "out_features": 40},
]


def get_inputs():
    x = torch.randn(batch_size, in_features, dtype=torch.float16)
    return [x]


def get_init_inputs():
    return [in_features, out_features]
