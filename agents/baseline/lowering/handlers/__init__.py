"""Handlers that lower fx calls and nn modules into the baseline IR (importing registers them)."""

from agents.baseline.lowering.handlers import (
    attention,
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
    reorder,
)

__all__ = [
    "attention",
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
    "reorder",
]
