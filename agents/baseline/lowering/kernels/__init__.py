"""Write one Triton kernel (and the forward code that launches it) per fusion group."""

from __future__ import annotations

from typing import Any

from agents.baseline.lowering.kernels.base import KernelWriter, Launch
from agents.baseline.lowering.kernels.pointwise import PointwiseWriter
from agents.baseline.lowering.kernels.row import RowWriter
from agents.baseline.lowering.kernels.tile import ConvWriter, MatmulWriter
from agents.baseline.lowering.schedule import Group, Schedule

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
