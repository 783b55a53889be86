"""Handlers that lower fx calls and nn modules into the baseline IR (importing registers them)."""

from agents.baseline.handlers import (
    conv,
    einsum,
    elementwise,
    layout,
    losses,
    matmul,
    modules,
    pool,
    recurrent,
    reductions,
)

__all__ = [
    "conv",
    "einsum",
    "elementwise",
    "layout",
    "losses",
    "matmul",
    "modules",
    "pool",
    "recurrent",
    "reductions",
]
