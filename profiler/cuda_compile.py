"""Compile CUDA C for a target arch with nvcc, no GPU needed (errors, cubin, ptxas -v log)."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from profiler.toolchain import find_toolchain, torch_extension_includes

MAX_LOG_CHARS = 8000


@dataclass
class CudaCompileResult:
    ok: bool
    log: str  # nvcc/ptxas output (ptxas -v facts on success, errors on failure)
    cubin: Path | None
    duration_s: float
    command: list[str]
    timed_out: bool = False  # nvcc ran past its limit (not a verdict on the source)


def needs_torch_headers(source: str) -> bool:
    return any(s in source for s in ("<torch/", "<ATen/", "<c10/", "torch::", "at::Tensor"))


def trim_log(text: str, limit: int = MAX_LOG_CHARS) -> str:
    """Keep the head and the tail of a long compiler log (errors sit at both ends)."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return text[:half] + f"\n... [{len(text) - limit} chars cut] ...\n" + text[-half:]


def compile_cuda(
    source: str,
    workdir: Path,
    *,
    arch: str = "sm_90",
    name: str = "kernel",
    extra_flags: list[str] | None = None,
    timeout_s: float = 600.0,
) -> CudaCompileResult:
    """nvcc -cubin for `arch` with `-Xptxas -v`; torch headers added when the source uses them."""
    nvcc = find_toolchain().require_nvcc()
    workdir.mkdir(parents=True, exist_ok=True)
    src = workdir / f"{name}.cu"
    out = workdir / f"{name}.{arch}.cubin"
    src.write_text(source, encoding="utf-8")
    cmd = [str(nvcc), f"-arch={arch}", "-cubin", "-Xptxas", "-v", "-o", str(out), str(src)]
    if needs_torch_headers(source):
        cmd[1:1] = ["-std=c++20", "-w", *torch_extension_includes()]
    cmd[1:1] = extra_flags or []
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout_s, cwd=workdir, check=False
        )
    except subprocess.TimeoutExpired:
        return CudaCompileResult(
            False,
            f"nvcc timed out after {timeout_s:.0f} s",
            None,
            time.perf_counter() - started,
            cmd,
            timed_out=True,
        )
    log = trim_log((proc.stdout + proc.stderr).replace(str(workdir) + "/", ""))
    ok = proc.returncode == 0 and out.is_file()
    return CudaCompileResult(ok, log, out if ok else None, time.perf_counter() - started, cmd)
