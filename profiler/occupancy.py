"""Theoretical occupancy from registers, shared memory, block size and barriers.

The rules are NVIDIA's (CUDA occupancy calculator, `cuda_occupancy.h`; limits from the
CUDA Programming Guide, see `profiler.gpus`). For a block of T threads using R registers
per thread and S bytes of shared memory:

* warps per block W = ceil(T / 32);
* registers: a warp gets ceil(R * 32 / 256) * 256 registers; each of the 4 SM
  sub-partitions holds regs_per_sm / 4 registers, so it fits floor((regs_per_sm / 4) /
  regs_per_warp) warps; blocks(regs) = floor(4 * that / W). A block whose register need,
  with W rounded up to a multiple of 4, exceeds the per-block limit cannot launch;
* shared memory: a block takes ceil((S + reserved) / 128) * 128 bytes;
  blocks(smem) = floor(smem_per_sm / that); more than the opt-in per-block limit cannot
  launch;
* warps: blocks(warps) = floor(max_warps_per_sm / W); blocks: max_blocks_per_sm;
* barriers: a kernel using B named barriers fits floor(factor * max_blocks / B) blocks.

Active blocks = the minimum; occupancy = active blocks * W / max_warps_per_sm. The limiter
is the resource giving that minimum (ties name the first of registers, shared memory,
warps, blocks, barriers), or `none` at 100%.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from profiler.gpus import ArchLimits, arch_limits
from profiler.report import OccupancyLimiter

WARP_SIZE = 32


class Occupancy(BaseModel):
    arch: str
    threads_per_block: int
    registers_per_thread: int
    shared_mem_per_block: int
    active_blocks_per_sm: int
    active_warps_per_sm: int
    max_warps_per_sm: int
    occupancy_pct: float
    limiter: OccupancyLimiter
    blocks_limited_by: dict[OccupancyLimiter, int] = Field(default_factory=dict)
    reason: str | None = None  # why a block cannot launch at all


def _round_up(value: int, unit: int) -> int:
    return -(-value // unit) * unit


def _blocks_by_registers(lim: ArchLimits, regs: int, warps: int) -> tuple[int, str | None]:
    if regs > lim.max_regs_per_thread:
        return 0, f"{regs} registers/thread exceed the {lim.max_regs_per_thread} cap"
    if regs <= 0:
        return lim.max_blocks_per_sm, None
    per_warp = _round_up(regs * WARP_SIZE, lim.reg_alloc_unit)
    # The hardware check rounds the block's warps up to a multiple of the sub-partitions.
    if per_warp * _round_up(warps, lim.sub_partitions) > lim.max_regs_per_block:
        return 0, (
            f"{regs} registers x {warps * WARP_SIZE} threads exceed the "
            f"{lim.max_regs_per_block}-register per-block limit"
        )
    warps_per_partition = (lim.regs_per_sm // lim.sub_partitions) // per_warp
    return (warps_per_partition * lim.sub_partitions) // warps, None


def _blocks_by_smem(lim: ArchLimits, smem: int) -> tuple[int, str | None]:
    allocated = _round_up(smem + lim.smem_reserved_per_block, lim.smem_alloc_unit)
    if smem > lim.smem_per_block_optin:
        return 0, (
            f"{smem} B of shared memory per block exceed the {lim.smem_per_block_optin} B limit"
        )
    return lim.smem_per_sm // allocated, None


def theoretical_occupancy(
    arch: str,
    threads_per_block: int,
    registers_per_thread: int,
    shared_mem_per_block: int = 0,
    barriers: int = 0,
) -> Occupancy:
    lim = arch_limits(arch)
    warps = max(1, -(-threads_per_block // WARP_SIZE))
    reasons: list[str] = []
    if threads_per_block > lim.max_threads_per_block:
        reasons.append(
            f"{threads_per_block} threads per block exceed the {lim.max_threads_per_block} limit"
        )
    by_regs, why = _blocks_by_registers(lim, registers_per_thread, warps)
    reasons += [why] if why else []
    by_smem, why = _blocks_by_smem(lim, shared_mem_per_block)
    reasons += [why] if why else []
    limits = {
        OccupancyLimiter.REGISTERS: by_regs,
        OccupancyLimiter.SHARED_MEMORY: by_smem,
        OccupancyLimiter.WARPS: lim.max_warps_per_sm // warps,
        OccupancyLimiter.BLOCKS: lim.max_blocks_per_sm,
    }
    if barriers > 0:
        limits[OccupancyLimiter.BARRIERS] = (
            lim.barriers_per_block_slot * lim.max_blocks_per_sm
        ) // barriers
    active = 0 if reasons else min(limits.values())
    active_warps = active * warps
    if reasons:
        limiter = OccupancyLimiter.CANNOT_LAUNCH
    elif active_warps >= lim.max_warps_per_sm:
        limiter = OccupancyLimiter.NONE
    else:
        limiter = next(k for k, v in limits.items() if v == active)
    return Occupancy(
        arch=lim.arch,
        threads_per_block=threads_per_block,
        registers_per_thread=registers_per_thread,
        shared_mem_per_block=shared_mem_per_block,
        active_blocks_per_sm=active,
        active_warps_per_sm=active_warps,
        max_warps_per_sm=lim.max_warps_per_sm,
        occupancy_pct=round(100.0 * active_warps / lim.max_warps_per_sm, 2),
        limiter=limiter,
        blocks_limited_by=limits,
        reason="; ".join(reasons) or None,
    )
