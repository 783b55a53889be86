"""The judging policy: which ops a candidate may leave in PyTorch (DESIGN.md, "Trust boundary").

`strict`: all of the model's compute runs in custom kernels (torch ops on the data are
refused). `kernelbench`: KernelBench's rule: any subset of the ops may stay in PyTorch, but
every forward launches at least one custom kernel. Recorded in every EvalResult, run, job
and leaderboard row; rows of different policies are never ranked together.
"""

from __future__ import annotations

from typing import Literal

Policy = Literal["strict", "kernelbench"]
DEFAULT_POLICY: Policy = "strict"
POLICY_RULES: dict[Policy, str] = {
    "strict": "all compute in custom kernels",
    "kernelbench": "any ops may stay in PyTorch; every forward launches at least one custom kernel",
}
