"""ProfileReport: the hardware facts about a candidate's kernels (the contract in DESIGN.md).

Static facts (registers, spills, shared memory, SASS mix, occupancy) come from compiling
for the target arch without a GPU; `metrics` holds Nsight Compute counters when a GPU ran
the kernel. Everything is optional because each source fills only what it knows.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

PROFILE_SCHEMA_VERSION = 1


class SassMix(BaseModel):
    """Instruction counts read from the kernel's SASS."""

    total: int = 0
    tensor_core_mma: int = 0  # HMMA / HGMMA / IMMA / UTC*MMA ...
    tensor_core_kinds: list[str] = Field(default_factory=list)
    ffma: int = 0
    fmul_fadd: int = 0
    global_loads: dict[str, int] = Field(default_factory=dict)  # width in bits -> count
    global_stores: dict[str, int] = Field(default_factory=dict)
    shared_loads: int = 0
    shared_stores: int = 0
    barriers: int = 0
    local_loads: int = 0  # spill traffic shows up as LDL/STL
    local_stores: int = 0


class KernelProfile(BaseModel):
    name: str
    arch: str
    source: str = "static"  # "static" (ptxas/SASS) or "ncu"
    block_size: int | None = None
    grid: list[int] | None = None
    num_warps: int | None = None
    num_stages: int | None = None
    registers_per_thread: int | None = None
    spill_stores_bytes: int | None = None
    spill_loads_bytes: int | None = None
    stack_bytes: int | None = None
    shared_mem_bytes: int | None = None
    barriers: int | None = None
    occupancy_pct: float | None = None
    occupancy_limiter: str | None = None
    sass: SassMix | None = None
    metrics: dict[str, float | str] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)


class Roofline(BaseModel):
    gpu: str
    flops: float | None = None
    min_bytes: float | None = None
    arithmetic_intensity: float | None = None  # FLOP / byte
    bound: str | None = None  # "memory" | "compute"
    lower_bound_ms: float | None = None
    measured_ms: float | None = None
    fraction_of_roofline: float | None = None  # lower_bound / measured, 1.0 = at the roof


class ProfileReport(BaseModel):
    schema_version: int = PROFILE_SCHEMA_VERSION
    arch: str = "sm_90"
    gpu: str | None = None
    kernels: list[KernelProfile] = Field(default_factory=list)
    roofline: Roofline | None = None
    errors: list[str] = Field(default_factory=list)
    duration_s: float | None = None
    cached: bool = False

    def summary(self, max_chars: int = 1200) -> str:
        """The most telling facts first, cut to `max_chars` (for the Judge's prompt)."""
        from profiler.summary import render_summary

        return render_summary(self, max_chars)
