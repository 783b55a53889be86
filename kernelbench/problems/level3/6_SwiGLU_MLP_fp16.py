import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    """A LLaMA-style feed-forward block in float16: RMSNorm (computed in float32), a SwiGLU MLP
    (silu(x W_gate) * (x W_up)) W_down, and the residual."""

    def __init__(self, d_model: int, hidden_size: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.norm_weight = nn.Parameter(
            (1.0 + 0.1 * torch.randn(d_model)).to(torch.float16)
        )
        self.w_gate = nn.Linear(d_model, hidden_size, bias=False, dtype=torch.float16)
        self.w_up = nn.Linear(d_model, hidden_size, bias=False, dtype=torch.float16)
        self.w_down = nn.Linear(hidden_size, d_model, bias=False, dtype=torch.float16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        h = h.to(x.dtype) * self.norm_weight
        return x + self.w_down(F.silu(self.w_gate(h)) * self.w_up(h))


batch_size = 8
seq_len = 2048
d_model = 4096
hidden_size = 11008

CHECK_SIZES = [
    {"batch_size": 2, "seq_len": 16, "d_model": 64, "hidden_size": 96},
    {"batch_size": 1, "seq_len": 13, "d_model": 48, "hidden_size": 80},
]


def get_inputs():
    x = torch.randn(batch_size, seq_len, d_model, dtype=torch.float16)
    return [x]


def get_init_inputs():
    return [d_model, hidden_size]
