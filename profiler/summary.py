"""Render a ProfileReport as a few lines of text, most telling facts first."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from profiler.report import KernelProfile, ProfileReport


def _kernel_line(k: KernelProfile) -> str:
    parts = [f"kernel {k.name} ({k.arch}"]
    if k.num_warps is not None:
        parts.append(f", {k.num_warps} warps")
    if k.block_size is not None:
        parts.append(f", {k.block_size} threads/block")
    parts.append("):")
    facts: list[str] = []
    if k.registers_per_thread is not None:
        facts.append(f"{k.registers_per_thread} regs/thread")
    spill = (k.spill_stores_bytes or 0) + (k.spill_loads_bytes or 0)
    if spill:
        facts.append(
            f"SPILLS {k.spill_stores_bytes or 0} B stored / {k.spill_loads_bytes or 0} B loaded"
        )
    if k.stack_bytes:
        facts.append(f"stack {k.stack_bytes} B")
    if k.shared_mem_bytes is not None:
        facts.append(f"smem {k.shared_mem_bytes} B")
    if k.occupancy_pct is not None:
        lim = f" (limited by {k.occupancy_limiter})" if k.occupancy_limiter else ""
        facts.append(f"occupancy {k.occupancy_pct:.0f}%{lim}")
    if k.sass is not None:
        s = k.sass
        if s.tensor_core_mma:
            facts.append(f"tensor-core MMA x{s.tensor_core_mma} ({','.join(s.tensor_core_kinds)})")
        else:
            facts.append("no tensor-core MMA")
        if s.global_loads:
            widths = ", ".join(f"{w}-bit x{n}" for w, n in sorted(s.global_loads.items()))
            facts.append(f"global loads {widths}")
        if s.barriers:
            facts.append(f"{s.barriers} barriers")
    for name, value in list(k.metrics.items())[:8]:
        facts.append(f"{name}={value}")
    return "".join(parts) + " " + "; ".join(facts)


def render_summary(report: ProfileReport, max_chars: int) -> str:
    lines: list[str] = []
    r = report.roofline
    if r is not None and r.bound:
        line = f"roofline ({r.gpu}): {r.bound}-bound"
        if r.arithmetic_intensity is not None:
            line += f", intensity {r.arithmetic_intensity:.2f} FLOP/B"
        if r.lower_bound_ms is not None:
            line += f", lower bound {r.lower_bound_ms:.4f} ms"
        if r.fraction_of_roofline is not None:
            line += f", at {100 * r.fraction_of_roofline:.0f}% of roofline"
        lines.append(line)
    # Kernels with spills first: they are the most urgent fact for the Judge.
    kernels = sorted(
        report.kernels,
        key=lambda k: -((k.spill_stores_bytes or 0) + (k.spill_loads_bytes or 0)),
    )
    lines.extend(_kernel_line(k) for k in kernels)
    lines.extend(f"profile error: {e}" for e in report.errors)
    text = "\n".join(lines) if lines else "no profile facts"
    if len(text) > max_chars:
        text = text[: max(0, max_chars - 3)] + "..."
    return text
