"""The offline agent: a rule-based Coder and Judge that need no LLM (`--agent baseline`).

The Coder reads the reference Model (torch.fx, in a contained child process), lowers it to
a small IR of elementwise ops, reductions, scans, matmuls, convolutions and pooling, fuses
it into kernels and writes Triton for them; the Judge tunes the kernels' knobs (block
sizes, warps, pipeline stages, vector width) from the verdict and the static profile with
a fixed decision table. The default agent when no LLM endpoint is configured.
"""

from agents.baseline.coder import BaselineCoder
from agents.baseline.judge import BaselineJudge

__all__ = ["BaselineCoder", "BaselineJudge"]
