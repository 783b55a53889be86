import torch
import torch.nn as nn


class Model(nn.Module):
    """A linear layer, GroupNorm over groups of output features, then Swish (x * sigmoid(x))."""

    def __init__(self, in_features: int, out_features: int, num_groups: int):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.gn = nn.GroupNorm(num_groups, out_features)
        with torch.no_grad():  # non-trivial affine parameters
            self.gn.weight.copy_(1.0 + 0.1 * torch.randn(out_features))
            self.gn.bias.copy_(0.1 * torch.randn(out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.gn(self.linear(x))
        return x * torch.sigmoid(x)


batch_size = 1024
in_features = 8192
out_features = 8192
num_groups = 16

CHECK_SIZES = [
    {"batch_size": 32, "in_features": 64, "out_features": 64},
    {"batch_size": 13, "in_features": 40, "out_features": 48},
]


def get_inputs():
    x = torch.randn(batch_size, in_features)
    return [x]


def get_init_inputs():
    return [in_features, out_features, num_groups]
