"""Write one Triton kernel (and the forward code that launches it) per fusion group."""

from __future__ import annotations

from typing import Any

from agents.baseline.kernels.base import KernelWriter, Launch
from agents.baseline.kernels.pointwise import PointwiseWriter
from agents.baseline.kernels.row import RowWriter
from agents.baseline.kernels.tile import ConvWriter, MatmulWriter
from agents.baseline.schedule import Group, Schedule

WRITERS: dict[str, type[KernelWriter]] = {
    "pointwise": PointwiseWriter,
    "row": RowWriter,
    "matmul": MatmulWriter,
    "conv": ConvWriter,
}


def write_group(sched: Schedule, group: Group, params: dict[str, Any], names: Any) -> Launch:
    writer = WRITERS[group.kind](sched, group, params, names)
    return writer.build()  # type: ignore[attr-defined]


__all__ = ["Launch", "write_group"]
