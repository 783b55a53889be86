"""CUDA C candidates on a machine without a GPU: build them with nvcc for the target arch to
report compile errors, then stop with `not_run` (running CUDA C needs a GPU).

Inside the candidate step, `torch.utils.cpp_extension.load_inline`/`load` and
`cupy.RawKernel`/`RawModule` are replaced by stand-ins that compile the CUDA sources they
receive and raise `CudaCompileFailed` or `CudaNotRun`.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from profiler.cuda_compile import CudaCompileResult, compile_cuda

NEEDS_GPU = "running CUDA C needs a CUDA GPU; none is visible here"


class CudaCompileFailed(Exception):
    def __init__(self, log: str) -> None:
        super().__init__("nvcc failed")
        self.log = log


class CudaNotRun(Exception):
    def __init__(self, results: list[CudaCompileResult]) -> None:
        super().__init__(NEEDS_GPU)
        self.results = results


class _Builder:
    def __init__(self, workdir: Path, arch: str) -> None:
        self.workdir = workdir
        self.arch = arch
        self.results: list[CudaCompileResult] = []

    def build(self, source: str, name: str) -> None:
        result = compile_cuda(source, self.workdir / "cuda_build", arch=self.arch, name=name)
        self.results.append(result)
        if not result.ok:
            raise CudaCompileFailed(result.log)

    def not_run(self) -> CudaNotRun:
        return CudaNotRun(self.results)


def _join(sources: Any) -> str:
    if sources is None:
        return ""
    if isinstance(sources, str):
        return sources
    return "\n".join(str(s) for s in sources)


def _cupy_shim(builder: _Builder) -> types.ModuleType:
    shim = types.ModuleType("cupy")

    class RawKernel:
        def __init__(self, code: str, name: str, *args: Any, **kwargs: Any) -> None:
            self.code, self.name = code, name
            builder.build(code, f"rawkernel_{len(builder.results)}")

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            raise builder.not_run()

    class RawModule:
        def __init__(self, code: str | None = None, *args: Any, **kwargs: Any) -> None:
            if code:
                builder.build(code, f"rawmodule_{len(builder.results)}")

        def get_function(self, name: str) -> RawKernel:
            kernel = RawKernel.__new__(RawKernel)
            kernel.code, kernel.name = "", name
            return kernel

    def _not_run(*args: Any, **kwargs: Any) -> Any:
        raise builder.not_run()

    shim.RawKernel = RawKernel  # type: ignore[attr-defined]
    shim.RawModule = RawModule  # type: ignore[attr-defined]
    shim.asarray = _not_run  # type: ignore[attr-defined]
    shim.from_dlpack = _not_run  # type: ignore[attr-defined]
    setattr(shim, "__getattr__", lambda name: _not_run)  # noqa: B010 - a module __getattr__
    return shim


@contextmanager
def build_cuda_without_gpu(workdir: Path, arch: str) -> Iterator[_Builder]:
    """Stand in for the CUDA build entry points while the candidate is imported and run."""
    import torch.utils.cpp_extension as cpp_ext

    builder = _Builder(workdir, arch)
    saved = {"load_inline": cpp_ext.load_inline, "load": cpp_ext.load}
    saved_cupy = sys.modules.get("cupy")

    def load_inline(name: str, cpp_sources: Any = None, cuda_sources: Any = None, **kw: Any) -> Any:
        code = _join(cuda_sources)
        if code.strip():
            builder.build(code, f"load_inline_{name}")
        raise builder.not_run()

    def load(name: str, sources: Any, **kw: Any) -> Any:
        files = [sources] if isinstance(sources, str) else list(sources)
        for f in files:
            if str(f).endswith(".cu"):
                builder.build(Path(f).read_text(encoding="utf-8"), f"load_{name}")
        raise builder.not_run()

    cpp_ext.load_inline = load_inline  # type: ignore[assignment]
    cpp_ext.load = load  # type: ignore[assignment]
    sys.modules["cupy"] = _cupy_shim(builder)
    try:
        yield builder
    finally:
        cpp_ext.load_inline = saved["load_inline"]  # type: ignore[assignment]
        cpp_ext.load = saved["load"]  # type: ignore[assignment]
        if saved_cupy is not None:
            sys.modules["cupy"] = saved_cupy
        else:
            sys.modules.pop("cupy", None)
