"""What the profiler knows about GPUs without one: per-arch SM limits and per-GPU peaks.

`ARCHS` holds the per-SM resource limits that decide theoretical occupancy, from NVIDIA's
CUDA C++ Programming Guide, "Technical Specifications per Compute Capability", and the
allocation rules of the CUDA occupancy calculator (`cuda_occupancy.h`, shipped with the
toolkit): registers are allocated per warp in units of 256, the register file is split
across 4 SM sub-partitions, shared memory is allocated in units of 128 bytes and the
driver reserves 1 KB of it per block (compute capability 8.0 and newer).

`GPUS` holds datasheet peaks (dense, i.e. without 2:4 sparsity; NVIDIA's datasheets mark
the sparse figures with an asterisk and the dense ones are half of them) for the roofline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from pydantic import BaseModel

Arch = Literal["sm_80", "sm_89", "sm_90", "sm_100"]
SUPPORTED_ARCHS: tuple[Arch, ...] = get_args(Arch)
DEFAULT_ARCH = "sm_90"


@dataclass(frozen=True)
class ArchLimits:
    """Per-SM limits of one compute capability (CUDA Programming Guide, Table 'Technical
    Specifications per Compute Capability')."""

    arch: str
    capability: int  # 80, 89, 90, 100
    max_warps_per_sm: int
    max_blocks_per_sm: int
    max_threads_per_block: int
    regs_per_sm: int  # 32-bit registers
    max_regs_per_block: int
    max_regs_per_thread: int
    reg_alloc_unit: int  # registers per warp are rounded up to this
    sub_partitions: int  # the register file is split across these
    smem_per_sm: int  # bytes, largest carveout
    smem_per_block_optin: int  # bytes a block may use after opting in
    smem_reserved_per_block: int  # bytes the driver reserves per block
    smem_alloc_unit: int
    barriers_per_block_slot: int  # named barriers per resident-block slot (16 per block)


ARCHS: dict[str, ArchLimits] = {
    # A100 (compute capability 8.0): 64 warps, 32 blocks, 164 KB shared memory per SM,
    # 163 KB per block (opt-in), 64K registers.
    "sm_80": ArchLimits(
        "sm_80", 80, 64, 32, 1024, 65536, 65536, 255, 256, 4, 167936, 166912, 1024, 128, 2
    ),
    # L40S / RTX 4090 (8.9): 48 warps, 24 blocks, 100 KB per SM, 99 KB per block.
    "sm_89": ArchLimits(
        "sm_89", 89, 48, 24, 1024, 65536, 65536, 255, 256, 4, 102400, 101376, 1024, 128, 1
    ),
    # H100 / H200 (9.0): 64 warps, 32 blocks, 228 KB per SM, 227 KB per block.
    "sm_90": ArchLimits(
        "sm_90", 90, 64, 32, 1024, 65536, 65536, 255, 256, 4, 233472, 232448, 1024, 128, 2
    ),
    # B200 (10.0): 64 warps, 32 blocks, 228 KB per SM, 227 KB per block.
    "sm_100": ArchLimits(
        "sm_100", 100, 64, 32, 1024, 65536, 65536, 255, 256, 4, 233472, 232448, 1024, 128, 2
    ),
}


class UnknownArch(ValueError):
    """An arch the profiler has no limits for."""


def normalize_arch(arch: str) -> str:
    """'sm_90a', 'sm90', '90', 'compute_90' -> 'sm_90'; raises UnknownArch otherwise."""
    text = arch.strip().lower().removeprefix("compute_").removeprefix("sm_").removeprefix("sm")
    text = text.rstrip("af")  # sm_90a / sm_100f are the same SM for occupancy purposes
    name = f"sm_{text}"
    if name not in ARCHS:
        raise UnknownArch(f"unsupported arch {arch!r} (supported: {', '.join(SUPPORTED_ARCHS)})")
    return name


def arch_limits(arch: str) -> ArchLimits:
    return ARCHS[normalize_arch(arch)]


class GpuSpec(BaseModel):
    """Datasheet peaks of one GPU (dense FLOP/s, DRAM bytes/s)."""

    name: str
    arch: str
    fp32_flops: float  # CUDA-core FP32 (FFMA counts 2 FLOPs)
    tf32_tensor_flops: float
    fp16_tensor_flops: float  # FP16/BF16 inputs, FP32 accumulate
    dram_bytes_per_s: float
    source: str  # where the figures come from


T = 1e12
GPUS: dict[str, GpuSpec] = {
    # NVIDIA A100 Tensor Core GPU datasheet (A100 80GB SXM): FP32 19.5 TFLOPS, TF32 Tensor
    # Core 156 TFLOPS (312* sparse), FP16 Tensor Core 312 TFLOPS (624*), HBM2e 2,039 GB/s.
    "A100": GpuSpec(
        name="A100",
        arch="sm_80",
        fp32_flops=19.5 * T,
        tf32_tensor_flops=156 * T,
        fp16_tensor_flops=312 * T,
        dram_bytes_per_s=2039e9,
        source="NVIDIA A100 datasheet, A100 80GB SXM",
    ),
    # NVIDIA H100 Tensor Core GPU datasheet (H100 SXM): FP32 67 TFLOPS, TF32 Tensor Core
    # 989* TFLOPS, FP16 Tensor Core 1,979* TFLOPS (* with sparsity; dense is half),
    # HBM3 3.35 TB/s.
    "H100": GpuSpec(
        name="H100",
        arch="sm_90",
        fp32_flops=67 * T,
        tf32_tensor_flops=494.5 * T,
        fp16_tensor_flops=989.5 * T,
        dram_bytes_per_s=3.35e12,
        source="NVIDIA H100 datasheet, H100 SXM (sparse figures halved)",
    ),
    # NVIDIA H200 Tensor Core GPU datasheet (H200 SXM): FP32 67 TFLOPS, TF32 989*, FP16
    # 1,979* TFLOPS (* with sparsity), HBM3e 4.8 TB/s.
    "H200": GpuSpec(
        name="H200",
        arch="sm_90",
        fp32_flops=67 * T,
        tf32_tensor_flops=494.5 * T,
        fp16_tensor_flops=989.5 * T,
        dram_bytes_per_s=4.8e12,
        source="NVIDIA H200 datasheet, H200 SXM (sparse figures halved)",
    ),
    # NVIDIA L40S datasheet: FP32 91.6 TFLOPS, TF32 Tensor Core 183 | 366* TFLOPS,
    # FP16 Tensor Core 362.05 | 733* TFLOPS, GDDR6 864 GB/s.
    "L40S": GpuSpec(
        name="L40S",
        arch="sm_89",
        fp32_flops=91.6 * T,
        tf32_tensor_flops=183 * T,
        fp16_tensor_flops=362.05 * T,
        dram_bytes_per_s=864e9,
        source="NVIDIA L40S datasheet",
    ),
    # NVIDIA Ada GPU architecture whitepaper, GeForce RTX 4090: FP32 82.6 TFLOPS, TF32
    # Tensor 82.6 TFLOPS, FP16 Tensor with FP32 accumulate 165.2 TFLOPS (dense),
    # GDDR6X 1,008 GB/s.
    "RTX 4090": GpuSpec(
        name="RTX 4090",
        arch="sm_89",
        fp32_flops=82.6 * T,
        tf32_tensor_flops=82.6 * T,
        fp16_tensor_flops=165.2 * T,
        dram_bytes_per_s=1008e9,
        source="NVIDIA Ada architecture whitepaper, RTX 4090",
    ),
    # NVIDIA HGX B200 datasheet (per GPU): FP32 75 TFLOPS, TF32 Tensor Core 2.2* PFLOPS,
    # FP16/BF16 Tensor Core 4.5* PFLOPS (* with sparsity; dense is half), HBM3e 7.7 TB/s.
    "B200": GpuSpec(
        name="B200",
        arch="sm_100",
        fp32_flops=75 * T,
        tf32_tensor_flops=1100 * T,
        fp16_tensor_flops=2250 * T,
        dram_bytes_per_s=7.7e12,
        source="NVIDIA HGX B200 datasheet (sparse figures halved)",
    ),
}

# The GPU a roofline is drawn for when only an arch is given.
DEFAULT_GPU_FOR_ARCH = {"sm_80": "A100", "sm_89": "L40S", "sm_90": "H100", "sm_100": "B200"}


class UnknownGpu(ValueError):
    """A GPU name the spec table does not hold."""


def gpu_spec(name: str) -> GpuSpec:
    """Look a GPU up by name, forgivingly: 'h100', 'NVIDIA H100 80GB HBM3', 'rtx4090'."""
    key = name.upper().replace("NVIDIA", "").replace("GEFORCE", "").replace(" ", "")
    for spec_name, spec in sorted(GPUS.items(), key=lambda kv: -len(kv[0])):
        if spec_name.upper().replace(" ", "") in key:
            return spec
    raise UnknownGpu(f"unknown GPU {name!r} (known: {', '.join(GPUS)})")


def default_gpu(arch: str) -> GpuSpec:
    return GPUS[DEFAULT_GPU_FOR_ARCH[normalize_arch(arch)]]
