"""Read the per-kernel facts out of a `ptxas -v` log (nvcc `-Xptxas -v`, or Triton's ptxas).

A log holds, per entry function:

    ptxas info    : Compiling entry function 'add_kernel' for 'sm_90a'
    ptxas info    : Function properties for add_kernel
        0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
    ptxas info    : Used 26 registers, used 1 barriers, 4096 bytes smem, 400 bytes cmem[0]

(the tool name may be `ptxas-blackwell`; older ptxas omit the barrier count, and `smem` is
only printed when the kernel declares static shared memory).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ENTRY = re.compile(r"Compiling entry function '([^']+)' for '([^']+)'")
_PROPS = re.compile(r"Function properties for (\S+)")
_FRAME = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
_USED = re.compile(r"Used (\d+) registers")
_BARRIERS = re.compile(r"used (\d+) barriers")
_SMEM = re.compile(r"(\d+) bytes smem")


@dataclass
class PtxasFacts:
    name: str  # as in the object file (mangled for C++)
    arch: str = ""
    registers: int | None = None
    stack_bytes: int = 0
    spill_stores_bytes: int = 0
    spill_loads_bytes: int = 0
    barriers: int | None = None
    static_smem_bytes: int = 0


def parse_ptxas_log(log: str) -> dict[str, PtxasFacts]:
    """Entry-function name -> facts, in log order."""
    entries: dict[str, PtxasFacts] = {}
    frames: dict[str, tuple[int, int, int]] = {}
    current: PtxasFacts | None = None
    props_for: str | None = None
    for line in log.splitlines():
        if m := _ENTRY.search(line):
            current = entries.setdefault(m.group(1), PtxasFacts(m.group(1)))
            current.arch = m.group(2)
            continue
        if m := _PROPS.search(line):
            props_for = m.group(1)
            continue
        if (m := _FRAME.search(line)) and props_for is not None:
            frames[props_for] = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
            props_for = None
            continue
        if (m := _USED.search(line)) and current is not None:
            current.registers = int(m.group(1))
            if b := _BARRIERS.search(line):
                current.barriers = int(b.group(1))
            if s := _SMEM.search(line):
                current.static_smem_bytes = int(s.group(1))
    for name, facts in entries.items():
        if name in frames:
            facts.stack_bytes, facts.spill_stores_bytes, facts.spill_loads_bytes = frames[name]
    return entries


_SOURCE_NAME = re.compile(r"(\d+)")


def demangle(name: str) -> str:
    """The readable name of an Itanium-mangled C++ function (`_Z11relu_kernelPKfPfi` ->
    `relu_kernel`, `_ZN2ns3addEPf` -> `ns::add`); other names unchanged. Only the name is
    recovered, not the parameter types: enough to tell kernels apart for the Judge."""
    if not name.startswith("_Z"):
        return name
    rest = name[2:]
    nested = rest.startswith("N")
    if nested:
        rest = rest[1:]
    parts: list[str] = []
    while rest and rest[0].isdigit():
        m = _SOURCE_NAME.match(rest)
        if m is None:
            break
        n = int(m.group(1))
        start = len(m.group(1))
        parts.append(rest[start : start + n])
        rest = rest[start + n :]
        if not nested:
            break
    return "::".join(parts) if parts else name
