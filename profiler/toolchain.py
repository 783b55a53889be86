"""Find the NVIDIA tools that work without a GPU: nvcc, ptxas, cuobjdump, nvdisasm.

Search order for nvcc: $KWRIGHT_NVCC, the PyPI wheels (`nvidia-cuda-nvcc`), $CUDA_HOME,
then PATH. ptxas/cuobjdump/nvdisasm also come from the triton wheel, whose
`ptxas-blackwell` accepts the newest PTX Triton emits (the plain `ptxas` there may not).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.settings import host_settings  # read here: this also runs in harness steps


class ToolchainMissing(RuntimeError):
    """A needed NVIDIA tool is not installed; the message says how to get it."""


_INSTALL_HINT = 'pip install "kernelwright[cuda-tools]" (nvcc/ptxas from PyPI, no GPU needed)'


def _pip_cuda_roots() -> list[Path]:
    roots: list[Path] = []
    try:
        import nvidia  # noqa: PLC0415 - heavy library, imported where used
    except ImportError:
        return roots
    for base in getattr(nvidia, "__path__", []):
        for sub in ("cu13", "cu12", "cuda_nvcc"):
            root = Path(base) / sub
            if (root / "bin").is_dir():
                roots.append(root)
    return roots


def _triton_nvidia_bin() -> Path | None:
    """The triton wheel's NVIDIA tools, found without importing triton (~0.3 s)."""
    spec = importlib.util.find_spec("triton")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "backends" / "nvidia" / "bin"
    return path if path.is_dir() else None


@dataclass(frozen=True)
class Toolchain:
    nvcc: Path | None
    ptxas: Path | None  # a ptxas that accepts Triton's PTX
    cuobjdump: Path | None
    nvdisasm: Path | None
    include_dirs: tuple[Path, ...] = field(default_factory=tuple)

    def require_nvcc(self) -> Path:
        if self.nvcc is None:
            raise ToolchainMissing(f"nvcc not found; {_INSTALL_HINT}")
        return self.nvcc

    def require(self, tool: str) -> Path:
        path = getattr(self, tool)
        if path is None:
            raise ToolchainMissing(f"{tool} not found; {_INSTALL_HINT}")
        return Path(path)

    def version(self) -> str:
        """A string that changes whenever the compiler changes (compile-cache key part)."""
        if self.nvcc is None:
            return "no-nvcc"
        out = subprocess.run(
            [str(self.nvcc), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
        return out.stdout.strip().splitlines()[-1] if out.stdout.strip() else "unknown"


def _first_existing(*candidates: Path | None) -> Path | None:
    for c in candidates:
        if c is not None and c.is_file() and os.access(c, os.X_OK):
            return c
    return None


@functools.cache
def find_toolchain() -> Toolchain:

    env_nvcc = host_settings().nvcc
    pip_roots = _pip_cuda_roots()
    cuda_home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")
    which_nvcc = shutil.which("nvcc")
    nvcc = _first_existing(
        env_nvcc,
        *(r / "bin" / "nvcc" for r in pip_roots),
        Path(cuda_home) / "bin" / "nvcc" if cuda_home else None,
        Path(which_nvcc) if which_nvcc else None,
    )
    tbin = _triton_nvidia_bin()
    nvcc_bin = nvcc.parent if nvcc else None

    def tool(name: str, *extra: Path | None) -> Path | None:
        found = shutil.which(name)
        return _first_existing(
            *extra,
            tbin / name if tbin else None,
            nvcc_bin / name if nvcc_bin else None,
            Path(found) if found else None,
        )

    ptxas = tool("ptxas", tbin / "ptxas-blackwell" if tbin else None)
    include_dirs = [r / "include" for r in pip_roots if (r / "include").is_dir()]
    return Toolchain(
        nvcc=nvcc,
        ptxas=ptxas,
        cuobjdump=tool("cuobjdump"),
        nvdisasm=tool("nvdisasm"),
        include_dirs=tuple(include_dirs),
    )


def torch_extension_includes() -> list[str]:
    """Include flags for CUDA sources written against torch/extension.h."""
    from torch.utils.cpp_extension import include_paths  # noqa: PLC0415 - heavy library, imported where used

    flags = [f"-I{p}" for p in include_paths()]
    flags.append(f"-I{sysconfig.get_paths()['include']}")
    flags.append(f"-I{Path(__file__).resolve().parent / 'torch_cuda_shim'}")  # CPU wheel gaps
    return flags
