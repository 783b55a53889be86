import math

import torch
import torch.nn as nn


class Model(nn.Module):
    """One causal self-attention head: q, k, v projections, softmax(q k^T / sqrt(d)) v."""

    def __init__(self, d_model: int, head_dim: int):
        super().__init__()
        self.q = nn.Linear(d_model, head_dim, bias=False)
        self.k = nn.Linear(d_model, head_dim, bias=False)
        self.v = nn.Linear(d_model, head_dim, bias=False)
        self.head_dim = head_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (batch, seq_len, d_model) -> (batch, seq_len, head_dim)
        q, k, v = self.q(x), self.k(x), self.v(x)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)
        T = x.shape[1]
        future = torch.triu(torch.ones(T, T, dtype=torch.bool, device=x.device), diagonal=1)
        scores = scores.masked_fill(future, float("-inf"))
        return torch.softmax(scores, dim=-1) @ v


batch_size = 32
seq_len = 2048
d_model = 1024
head_dim = 128

CHECK_SIZES = [
    {"batch_size": 2, "seq_len": 32, "d_model": 64, "head_dim": 16},
    {"batch_size": 2, "seq_len": 27, "d_model": 48, "head_dim": 16},
]


def get_inputs():
    x = torch.randn(batch_size, seq_len, d_model)
    return [x]


def get_init_inputs():
    return [d_model, head_dim]
