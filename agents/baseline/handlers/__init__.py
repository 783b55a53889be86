"""Handlers that lower fx calls and nn modules into the baseline IR (importing registers them)."""

from agents.baseline.handlers import elementwise, layout, modules, nn, reductions

__all__ = ["elementwise", "layout", "modules", "nn", "reductions"]
