import torch
import torch.nn as nn


class Model(nn.Module):
    """A three-layer perceptron: Linear -> ReLU -> Linear -> ReLU -> Linear."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(input_size, hidden_size),
            nn.ReLU(),
            nn.Linear(hidden_size, hidden_size),
            nn.ReLU(),
            nn.Linear(hidden_size, output_size),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


batch_size = 1024
input_size = 4096
hidden_size = 8192
output_size = 1024

CHECK_SIZES = [
    {"batch_size": 16, "input_size": 64, "hidden_size": 96, "output_size": 32},
    {"batch_size": 11, "input_size": 50, "hidden_size": 70, "output_size": 20},
]


def get_inputs():
    x = torch.randn(batch_size, input_size)
    return [x]


def get_init_inputs():
    return [input_size, hidden_size, output_size]
