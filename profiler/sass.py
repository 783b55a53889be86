"""The SASS instruction mix of a cubin: `cuobjdump -sass`, split per function, classified.

Counts are static (each instruction in the listing once). Classes, by base opcode (the part
before the first `.`):

* tensor-core MMA: any opcode ending in `MMA` — HMMA (sm_80/89 mma.sync), HGMMA/IGMMA/QGMMA
  (sm_90 wgmma), UTCHMMA/UTCQMMA/UTCIMMA (sm_100 tcgen05), IMMA, DMMA;
* FFMA (FP32 fused multiply-add), FMUL/FADD, HFMA2/HMUL2/HADD2 (packed half on CUDA cores);
* global loads/stores LDG/STG (and generic LD/ST) by width: `.U8/.S8` 8 bits, `.U16/.S16`
  16, none 32, `.64`, `.128`, `.256` — 128-bit accesses are vectorized (float4);
* LDGSTS (cp.async), UTMALDG/UTMASTG/UBLKCP (TMA); LDS/LDSM and STS/STSM (shared memory);
* BAR (block barriers), SYNCS (mbarriers), LDL/STL (local memory: spills), atomics.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from pathlib import Path

from profiler.report import SassMix

_FUNCTION = re.compile(r"^\s*Function\s*:\s*(\S+)")
_INSTR = re.compile(r"/\*[0-9a-f]{4,}\*/\s+(?:@!?U?P[T0-9]+\s+)?([A-Z][A-Z0-9_]*(?:\.[A-Z0-9_]+)*)")
_WIDTH_MODS = {
    "U8": "8",
    "S8": "8",
    "U16": "16",
    "S16": "16",
    "64": "64",
    "128": "128",
    "256": "256",
}
_TMA = {"UTMALDG", "UTMASTG", "UBLKCP", "UTMAREDG", "UTMAPF", "UBLKRED"}
TOP_OPCODES = 8


class SassError(RuntimeError):
    """cuobjdump failed on a cubin."""


def dump_sass(cuobjdump: Path, cubins: list[Path], timeout_s: float = 120.0) -> str:
    """One cuobjdump run over several cubins (it costs ~0.5 s to start)."""
    proc = subprocess.run(
        [str(cuobjdump), "-sass", *map(str, cubins)],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if proc.returncode != 0:
        raise SassError(f"cuobjdump -sass failed: {(proc.stderr or proc.stdout).strip()[:500]}")
    return proc.stdout


def split_functions(listing: str) -> dict[str, list[str]]:
    """Function name -> its opcodes (with modifiers), in listing order."""
    functions: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in listing.splitlines():
        if m := _FUNCTION.match(line):
            current = functions.setdefault(m.group(1), [])
            continue
        if current is not None and (m := _INSTR.search(line)):
            current.append(m.group(1))
    return functions


def _width(mods: list[str]) -> str:
    for mod in mods:
        if mod in _WIDTH_MODS:
            return _WIDTH_MODS[mod]
    return "32"


def classify(opcodes: list[str]) -> SassMix:
    mix = SassMix()
    bases: Counter[str] = Counter()
    kinds: set[str] = set()
    loads: Counter[str] = Counter()
    stores: Counter[str] = Counter()
    for opcode in opcodes:
        base, *mods = opcode.split(".")
        if base == "NOP":
            continue
        bases[base] += 1
        if base.endswith("MMA"):
            mix.tensor_core_mma += 1
            kinds.add(base)
        elif base.startswith("FFMA"):
            mix.ffma += 1
        elif base.startswith(("FMUL", "FADD")):
            mix.fmul_fadd += 1
        elif base.startswith(("HFMA", "HMUL", "HADD")):
            mix.half_fma += 1
        elif base in ("LDG", "LD"):
            loads[_width(mods)] += 1
        elif base in ("STG", "ST"):
            stores[_width(mods)] += 1
        elif base == "LDGSTS":
            mix.async_copies += 1
        elif base in _TMA:
            mix.tma_ops += 1
        elif base in ("LDS", "LDSM"):
            mix.shared_loads += 1
        elif base in ("STS", "STSM"):
            mix.shared_stores += 1
        elif base == "BAR":
            mix.barriers += 1
        elif base == "SYNCS":
            mix.mbarrier_ops += 1
        elif base == "LDL":
            mix.local_loads += 1
        elif base == "STL":
            mix.local_stores += 1
        elif base.startswith(("ATOM", "RED")):
            mix.atomics += 1
    mix.total = sum(bases.values())
    mix.tensor_core_kinds = sorted(kinds)
    mix.global_loads = {k: loads[k] for k in sorted(loads, key=int)}
    mix.global_stores = {k: stores[k] for k in sorted(stores, key=int)}
    mix.top_opcodes = dict(bases.most_common(TOP_OPCODES))
    return mix
