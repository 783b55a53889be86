"""ProfileReport: the hardware facts about a candidate's kernels (the contract in DESIGN.md).

Static facts (registers, spills, shared memory, SASS mix, occupancy) come from compiling
for the target arch without a GPU; `metrics` holds Nsight Compute counters when a GPU ran
the kernel. Everything is optional because each source fills only what it knows.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from profiler.parts import (
    PROFILE_SCHEMA_VERSION,
    FactSource,
    KernelProfile,
    OccupancyLimiter,
    Precision,
    Roofline,
    RooflineBound,
    SassMix,
)
from profiler.summary import render_summary

__all__ = [
    "PROFILE_SCHEMA_VERSION",
    "FactSource",
    "KernelProfile",
    "OccupancyLimiter",
    "Precision",
    "ProfileReport",
    "Roofline",
    "RooflineBound",
    "SassMix",
]


class ProfileReport(BaseModel):
    schema_version: int = PROFILE_SCHEMA_VERSION
    arch: str = "sm_90"
    gpu: str | None = None
    source: FactSource = FactSource.STATIC  # STATIC_NCU once Nsight Compute ran
    kernels: list[KernelProfile] = Field(default_factory=list)
    roofline: Roofline | None = None
    errors: list[str] = Field(default_factory=list)  # profiling faults; never fail the eval
    notes: list[str] = Field(default_factory=list)  # e.g. "ncu: needs a GPU"
    toolchain: dict[str, str] = Field(default_factory=dict)  # tool -> version
    duration_s: float | None = None
    cached: bool = False  # the whole report came from the profile cache
    compile_cache_hits: int = 0
    compile_cache_misses: int = 0

    def summary(self, max_chars: int = 1200) -> str:
        """The most telling facts first, cut to `max_chars` (for the Judge's prompt)."""
        return render_summary(self, max_chars)
