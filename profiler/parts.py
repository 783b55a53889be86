"""The parts of a ProfileReport: per-kernel facts, the SASS mix, occupancy and the roofline
(the contract in DESIGN.md). `profiler.report` assembles them into the report."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

PROFILE_SCHEMA_VERSION = 1


class OccupancyLimiter(StrEnum):
    """What caps a kernel's theoretical occupancy (the smallest per-SM block count)."""

    REGISTERS = "registers"
    SHARED_MEMORY = "shared_memory"
    WARPS = "warps"
    BLOCKS = "blocks"
    BARRIERS = "barriers"
    NONE = "none"  # full occupancy: nothing limits it
    CANNOT_LAUNCH = "cannot_launch"  # a block does not fit on an SM at all


class RooflineBound(StrEnum):
    MEMORY = "memory"
    COMPUTE = "compute"


class Precision(StrEnum):
    """The arithmetic a roofline's peak FLOP/s is for."""

    FP32 = "fp32"  # CUDA cores
    FP16 = "fp16"  # tensor cores
    TF32 = "tf32"  # tensor cores


class FactSource(StrEnum):
    """Where a kernel's (or a report's) facts come from."""

    STATIC = "static"  # ptxas and SASS, no GPU
    NCU = "ncu"  # only Nsight Compute saw the kernel
    STATIC_NCU = "static+ncu"


class SassMix(BaseModel):
    """Static instruction counts read from the kernel's SASS (each instruction once, loops
    not unrolled by the count: a measure of what the code does, not how often)."""

    total: int = 0
    tensor_core_mma: int = 0  # HMMA / HGMMA / IMMA / QGMMA / UTC*MMA ...
    tensor_core_kinds: list[str] = Field(default_factory=list)
    ffma: int = 0
    fmul_fadd: int = 0
    half_fma: int = 0  # HFMA2 / HMUL2 / HADD2 (packed fp16/bf16 on CUDA cores)
    global_loads: dict[str, int] = Field(default_factory=dict)  # width in bits -> count
    global_stores: dict[str, int] = Field(default_factory=dict)
    async_copies: int = 0  # LDGSTS (cp.async global->shared, sm_80+)
    tma_ops: int = 0  # UTMALDG / UTMASTG / UBLKCP (Hopper+ tensor memory accelerator)
    shared_loads: int = 0  # LDS / LDSM
    shared_stores: int = 0  # STS / STSM
    barriers: int = 0  # BAR.* (__syncthreads and named barriers)
    mbarrier_ops: int = 0  # SYNCS.* (Hopper+ asynchronous transaction barriers)
    local_loads: int = 0  # spill traffic shows up as LDL/STL
    local_stores: int = 0
    atomics: int = 0  # ATOM / ATOMG / RED
    top_opcodes: dict[str, int] = Field(default_factory=dict)  # the most frequent base opcodes


class KernelProfile(BaseModel):
    name: str
    arch: str
    symbol: str | None = None  # the object-file name when it differs (mangled C++)
    source: FactSource = FactSource.STATIC
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
    occupancy_limiter: OccupancyLimiter | None = None
    active_blocks_per_sm: int | None = None
    sass: SassMix | None = None
    metrics: dict[str, float | str] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)


class Roofline(BaseModel):
    gpu: str
    flops: float | None = None
    min_bytes: float | None = None
    arithmetic_intensity: float | None = None  # FLOP / byte
    bound: RooflineBound | None = None
    lower_bound_ms: float | None = None
    measured_ms: float | None = None  # only ever a time measured on that GPU
    fraction_of_roofline: float | None = None  # lower_bound / measured, 1.0 = at the roof
    precision: Precision | None = None
    peak_flops: float | None = None  # FLOP/s used for the bound (datasheet, dense)
    peak_bytes_per_s: float | None = None
    ridge_intensity: float | None = None  # FLOP/byte where the GPU turns compute-bound
    compute_ms: float | None = None  # FLOPs / peak
    memory_ms: float | None = None  # min bytes / bandwidth
