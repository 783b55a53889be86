"""Turn compiler output (ptxas facts, SASS mix, block size, shared memory) into KernelProfiles."""

from __future__ import annotations

import re

from profiler.gpus import normalize_arch
from profiler.occupancy import theoretical_occupancy
from profiler.ptxas import PtxasFacts, demangle
from profiler.report import KernelProfile, SassMix

ASSUMED_BLOCK_SIZE = 256


def kernel_profile(
    facts: PtxasFacts,
    arch: str,
    *,
    block_size: int | None,
    dynamic_smem_bytes: int = 0,
    sass: SassMix | None = None,
    num_warps: int | None = None,
    num_stages: int | None = None,
    notes: list[str] | None = None,
) -> KernelProfile:
    """One kernel's static facts and its theoretical occupancy at `block_size` threads."""
    arch = normalize_arch(arch)
    notes = list(notes or [])
    smem = facts.static_smem_bytes + dynamic_smem_bytes
    profile = KernelProfile(
        name=demangle(facts.name),
        arch=arch,
        block_size=block_size,
        num_warps=num_warps,
        num_stages=num_stages,
        registers_per_thread=facts.registers,
        spill_stores_bytes=facts.spill_stores_bytes,
        spill_loads_bytes=facts.spill_loads_bytes,
        stack_bytes=facts.stack_bytes,
        shared_mem_bytes=smem,
        barriers=facts.barriers,
        sass=sass,
        notes=notes,
    )
    if facts.name != profile.name:
        profile.symbol = facts.name
    if block_size is None:
        block_size = ASSUMED_BLOCK_SIZE
        profile.notes.append(
            f"block size unknown from the source; occupancy assumes {ASSUMED_BLOCK_SIZE} threads"
        )
    if facts.registers is not None:
        occ = theoretical_occupancy(arch, block_size, facts.registers, smem, facts.barriers or 0)
        profile.occupancy_pct = occ.occupancy_pct
        profile.occupancy_limiter = occ.limiter
        profile.active_blocks_per_sm = occ.active_blocks_per_sm
        if occ.reason:
            profile.notes.append(f"cannot launch: {occ.reason}")
    return profile


# ---------------------------------------------------------------- CUDA C block sizes

_LAUNCH_BOUNDS = re.compile(r"__launch_bounds__\s*\(\s*([A-Za-z_]\w*|\d+)")
_GLOBAL_FN = re.compile(
    r"__global__\s+((?:[\w:<>,\*&]+\s+|__launch_bounds__\s*\([^)]*\)\s*)*?)"
    r"(?!__launch_bounds__)(\w+)\s*\("
)
_LAUNCH = re.compile(r"\b(\w+)\s*(?:<[^<>;]*>)?\s*<<<(.*?)>>>", re.DOTALL)
_CONST_INT = re.compile(
    r"(?:#define\s+(\w+)\s+\(?\s*(\d+)\s*\)?|(?:constexpr|const)\s+(?:unsigned\s+)?(?:int|size_t|int32_t|unsigned)\s+(\w+)\s*=\s*(\d+)\s*;)"
)
_DIM3 = re.compile(r"dim3\s*\(\s*([^)]*)\)")


def _int_constants(source: str) -> dict[str, int]:
    consts: dict[str, int] = {}
    for m in _CONST_INT.finditer(source):
        name, value = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        consts[name] = int(value)
    return consts


def _evaluate(expr: str, consts: dict[str, int]) -> int | None:
    """An int literal, a known constant, dim3(a, b, c) of those, or a product of them."""
    expr = expr.strip()
    if m := _DIM3.fullmatch(expr):
        dims = [_evaluate(part, consts) for part in m.group(1).split(",")]
        if any(d is None for d in dims):
            return None
        total = 1
        for d in dims:
            total *= d or 1
        return total
    factors = [f.strip() for f in expr.split("*")]
    total = 1
    for f in factors:
        if f.isdigit():
            total *= int(f)
        elif f in consts:
            total *= consts[f]
        else:
            return None
    return total


def _split_top_level(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def cuda_block_sizes(source: str) -> dict[str, int]:
    """Kernel name -> threads per block, read from `__launch_bounds__` or a `<<<grid, block>>>`
    launch in the same source whose block size is a literal or a named constant."""
    consts = _int_constants(source)
    sizes: dict[str, int] = {}
    for m in _LAUNCH.finditer(source):
        args = _split_top_level(m.group(2))
        value = _evaluate(args[1], consts) if len(args) >= 2 else None
        if value is not None:
            sizes.setdefault(m.group(1), value)
    for m in _GLOBAL_FN.finditer(source):
        bounds = _LAUNCH_BOUNDS.search(m.group(1))
        if bounds:
            value = _evaluate(bounds.group(1), consts)
            if value is not None:
                sizes[m.group(2)] = value
    return sizes
