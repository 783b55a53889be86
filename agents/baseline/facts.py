"""What the baseline Judge reads of a kernel's profile: its facts, and the evidence a move
rests on (static facts on a CPU; ncu counters join them on a GPU)."""

from __future__ import annotations

from dataclasses import dataclass

from agents.protocols import Evidence
from profiler.report import KernelProfile, OccupancyLimiter, ProfileReport, RooflineBound

LOW_OCCUPANCY_PCT = 50.0


@dataclass
class Facts:
    kernel: KernelProfile
    roofline_bound: RooflineBound | None

    @property
    def spills(self) -> int:
        k = self.kernel
        local = (k.sass.local_loads + k.sass.local_stores) if k.sass else 0
        return (k.spill_stores_bytes or 0) + (k.spill_loads_bytes or 0) + local

    def limited_by(self, what: str) -> bool:
        lim = self.kernel.occupancy_limiter
        occ = self.kernel.occupancy_pct
        low = occ is not None and occ < LOW_OCCUPANCY_PCT
        if what == "registers":
            return low and lim == OccupancyLimiter.REGISTERS
        # a block that cannot launch at all (too much shared memory) is the extreme case
        return (low and lim == OccupancyLimiter.SHARED_MEMORY) or (
            lim == OccupancyLimiter.CANNOT_LAUNCH
        )

    @property
    def narrow_loads(self) -> bool:
        sass = self.kernel.sass
        if sass is None or not sass.global_loads:
            return False
        widths = [int(w) for w in sass.global_loads if str(w).isdigit()]
        return bool(widths) and max(widths) < 128

    @property
    def registers(self) -> int:
        return self.kernel.registers_per_thread or 0


def kernel_facts(profile: ProfileReport | None, name: str) -> Facts | None:
    if profile is None:
        return None
    for k in profile.kernels:
        if k.name == name or k.name.split("_kernel")[0] == name:
            return Facts(k, profile.roofline.bound if profile.roofline else None)
    return None


def evidence(profile: ProfileReport | None, name: str) -> list[Evidence]:
    """The facts a move of kernel `name` rests on (static profile; ncu on a GPU)."""
    facts = kernel_facts(profile, name)
    if facts is None:
        return []
    k = facts.kernel
    found = {
        f"{name}.spill_bytes": facts.spills,
        f"{name}.registers_per_thread": k.registers_per_thread,
        f"{name}.occupancy_pct": k.occupancy_pct,
        f"{name}.occupancy_limiter": k.occupancy_limiter.value if k.occupancy_limiter else None,
        "roofline.bound": facts.roofline_bound.value if facts.roofline_bound else None,
    }
    return [Evidence(metric=m, value=v) for m, v in found.items() if v is not None]
