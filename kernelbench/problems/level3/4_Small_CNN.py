import torch
import torch.nn as nn


class Model(nn.Module):
    """A small image classifier: two (3x3 conv -> ReLU -> 2x2 max pool) stages, then a linear
    layer on the flattened features."""

    def __init__(self, in_channels: int, num_classes: int, image_size: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        side = image_size // 2 // 2
        self.fc = nn.Linear(32 * side * side, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        return self.fc(torch.flatten(x, 1))


batch_size = 256
in_channels = 3
image_size = 128
num_classes = 1000

CHECK_SIZES = [
    {"batch_size": 2, "image_size": 16, "num_classes": 10},
    {"batch_size": 3, "image_size": 13, "num_classes": 7},
]


def get_inputs():
    x = torch.randn(batch_size, in_channels, image_size, image_size)
    return [x]


def get_init_inputs():
    return [in_channels, num_classes, image_size]
