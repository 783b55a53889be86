import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    """A pre-LayerNorm transformer encoder block: multi-head self-attention, then a GELU MLP,
    each on a residual branch."""

    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        self.n_heads = n_heads
        self.ln1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.fc1 = nn.Linear(d_model, 4 * d_model)
        self.fc2 = nn.Linear(4 * d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        H = self.n_heads
        D = C // H
        qkv = self.qkv(self.ln1(x)).reshape(B, T, 3, H, D).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # (B, H, T, D)
        att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(D), dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + self.proj(y)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


batch_size = 16
seq_len = 1024
d_model = 1024
n_heads = 16

CHECK_SIZES = [
    {"batch_size": 2, "seq_len": 16, "d_model": 64, "n_heads": 4},
    {"batch_size": 3, "seq_len": 13, "d_model": 48, "n_heads": 2},
]


def get_inputs():
    x = torch.randn(batch_size, seq_len, d_model)
    return [x]


def get_init_inputs():
    return [d_model, n_heads]
