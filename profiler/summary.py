"""Render a ProfileReport as a few lines for the Judge, the most telling facts first:

1. the roofline verdict (memory- or compute-bound, the lower bound, and with a measured
   time how far from it the kernel is);
2. per kernel, worst first (spills, then cannot-launch, then lowest occupancy): spills and
   stack, registers, occupancy and what limits it, tensor-core use, vector widths of global
   accesses, shared memory, and ncu's headline counters when a GPU measured them;
3. short hints where the facts contradict the roofline (no tensor cores in a compute-bound
   fp16 problem, unvectorized loads in a memory-bound one, spills, low occupancy);
4. profiling errors.

Whole lines are dropped from the end to fit `max_chars`.
"""

from __future__ import annotations

from typing import Protocol

from profiler.parts import (
    KernelProfile,
    OccupancyLimiter,
    Precision,
    Roofline,
    RooflineBound,
)


class ProfileReport(Protocol):
    """What the summary reads of a `profiler.report.ProfileReport`."""

    kernels: list[KernelProfile]
    roofline: Roofline | None
    errors: list[str]


LOW_OCCUPANCY_PCT = 25.0


def _fmt_bytes(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


def _roofline_line(r: Roofline) -> str | None:
    if not r.bound:
        return None
    line = f"roofline {r.gpu} ({r.precision}): {r.bound.upper()}-BOUND"
    if r.arithmetic_intensity is not None and r.ridge_intensity is not None:
        line += f", intensity {r.arithmetic_intensity:.2f} FLOP/B (ridge {r.ridge_intensity:.1f})"
    if r.lower_bound_ms is not None:
        line += f", lower bound {r.lower_bound_ms:.4g} ms"
        if r.min_bytes:
            line += f" ({_fmt_bytes(r.min_bytes)} moved"
            line += f", {r.flops:.3g} FLOP)" if r.flops else ")"
    if r.measured_ms is not None and r.fraction_of_roofline is not None:
        line += (
            f"; measured {r.measured_ms:.4g} ms = {100 * r.fraction_of_roofline:.0f}% of the "
            "roofline"
        )
    return line


def _spill_bytes(k: KernelProfile) -> int:
    return (k.spill_stores_bytes or 0) + (k.spill_loads_bytes or 0)


def _severity(k: KernelProfile) -> tuple[int, int, float]:
    cannot = 1 if k.occupancy_limiter == OccupancyLimiter.CANNOT_LAUNCH else 0
    return (-_spill_bytes(k), -cannot, k.occupancy_pct if k.occupancy_pct is not None else 100.0)


def _widths(counts: dict[str, int]) -> str:
    return ", ".join(f"{w}-bit x{n}" for w, n in sorted(counts.items(), key=lambda kv: int(kv[0])))


def _kernel_line(k: KernelProfile) -> str:
    head = f"kernel {k.name}"
    shape = []
    if k.num_warps is not None:
        shape.append(f"{k.num_warps} warps")
    elif k.block_size is not None:
        shape.append(f"{k.block_size} threads")
    if k.num_stages is not None:
        shape.append(f"{k.num_stages} stages")
    if shape:
        head += f" ({', '.join(shape)})"
    facts: list[str] = []
    if _spill_bytes(k):
        facts.append(
            f"SPILLS {k.spill_stores_bytes or 0} B stored/{k.spill_loads_bytes or 0} B loaded"
        )
    if k.stack_bytes:
        facts.append(f"stack {k.stack_bytes} B")
    if k.registers_per_thread is not None:
        facts.append(f"{k.registers_per_thread} regs")
    if k.occupancy_pct is not None:
        limiter = k.occupancy_limiter or "?"
        facts.append(
            f"occupancy {k.occupancy_pct:.0f}%"
            + ("" if limiter == OccupancyLimiter.NONE else f" (limited by {limiter})")
        )
    if k.sass is not None:
        s = k.sass
        if s.tensor_core_mma:
            facts.append(f"tensor cores {'/'.join(s.tensor_core_kinds)} x{s.tensor_core_mma}")
        else:
            facts.append("no tensor cores")
        if s.global_loads:
            facts.append(f"LDG {_widths(s.global_loads)}")
        if s.global_stores:
            facts.append(f"STG {_widths(s.global_stores)}")
        if s.async_copies:
            facts.append(f"cp.async x{s.async_copies}")
        if s.tma_ops:
            facts.append(f"TMA x{s.tma_ops}")
        if s.local_loads or s.local_stores:
            facts.append(f"local ld/st {s.local_loads}/{s.local_stores}")
    if k.shared_mem_bytes:
        facts.append(f"smem {_fmt_bytes(k.shared_mem_bytes)}")
    if k.sass is not None and k.sass.barriers:
        facts.append(f"BAR x{k.sass.barriers}")
    line = f"{head}: " + "; ".join(facts)
    ncu = _ncu_facts(k)
    return line + (f"\n  ncu: {ncu}" if ncu else "")


_NCU_LABELS = (
    ("duration_ns", "duration", lambda v: f"{v / 1e3:.1f} us"),
    ("achieved_occupancy_pct", "achieved occupancy", lambda v: f"{v:.0f}%"),
    ("sm_throughput_pct", "SM", lambda v: f"{v:.0f}% of peak"),
    ("dram_throughput_pct", "DRAM", lambda v: f"{v:.0f}% of peak"),
    ("memory_throughput_pct", "memory", lambda v: f"{v:.0f}% of peak"),
    ("l2_hit_rate_pct", "L2 hit", lambda v: f"{v:.0f}%"),
    ("tensor_pipe_pct", "tensor pipe", lambda v: f"{v:.0f}%"),
    ("stall_long_scoreboard_pct", "long-scoreboard stalls", lambda v: f"{v:.0f}%"),
    ("stall_barrier_pct", "barrier stalls", lambda v: f"{v:.0f}%"),
)


def _ncu_facts(k: KernelProfile) -> str:
    parts = []
    for key, label, fmt in _NCU_LABELS:
        value = k.metrics.get(key)
        if isinstance(value, float | int):
            parts.append(f"{label} {fmt(float(value))}")
    return ", ".join(parts)


def _hints(report: ProfileReport) -> list[str]:
    hints: list[str] = []
    r = report.roofline
    for k in report.kernels:
        if _spill_bytes(k):
            hints.append(
                f"{k.name} spills registers to local memory: smaller tiles, fewer live values, "
                "or more warps"
            )
        if k.occupancy_limiter == OccupancyLimiter.CANNOT_LAUNCH:
            hints.append(f"{k.name} cannot launch on {k.arch}: {'; '.join(k.notes)[:200]}")
        elif (
            k.occupancy_pct is not None
            and k.occupancy_pct < LOW_OCCUPANCY_PCT
            and k.occupancy_limiter
        ):
            hints.append(
                f"{k.name} occupancy {k.occupancy_pct:.0f}% is capped by {k.occupancy_limiter}"
            )
        if r is None or k.sass is None:
            continue
        if (
            r.bound == RooflineBound.COMPUTE
            and r.precision == Precision.FP16
            and not k.sass.tensor_core_mma
        ):
            hints.append(
                f"{k.name} uses no tensor cores although the problem is compute-bound fp16"
            )
        loads = k.sass.global_loads
        if r.bound == RooflineBound.MEMORY and loads and not any(int(w) >= 64 for w in loads):
            hints.append(f"{k.name} global loads are not vectorized (no 64/128-bit LDG)")
    return hints


def render_summary(report: ProfileReport, max_chars: int) -> str:
    lines: list[str] = []
    if report.roofline is not None and (line := _roofline_line(report.roofline)):
        lines.append(line)
    for k in sorted(report.kernels, key=_severity):
        lines.append(_kernel_line(k))
    lines.extend(f"hint: {h}" for h in dict.fromkeys(_hints(report)))
    lines.extend(f"profile error: {e}" for e in report.errors)
    if not lines:
        return "no profile facts"
    out: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > max_chars:
            if not out:  # one over-long first line: cut it
                return line[: max(0, max_chars - 3)] + "..."
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)
