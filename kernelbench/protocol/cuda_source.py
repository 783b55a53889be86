"""CUDA C candidates on a machine without a GPU: capture the CUDA sources the candidate
builds, then stop with `not_run` (running CUDA C needs a GPU).

Inside the candidate step, `torch.utils.cpp_extension.load_inline`/`load` and
`cupy.RawKernel`/`RawModule` are replaced by stand-ins that record the CUDA sources they
receive and raise `CudaNotRun`. Nothing is compiled in the candidate's process: the
caller compiles the recorded sources with nvcc in the separate profile step (which runs
no candidate Python, so its results may enter the shared compile cache) and reports
`compile_error` with nvcc's output, or `not_run` with ptxas's facts.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from profiler.protocol import CudaSource

NEEDS_GPU = "running CUDA C needs a CUDA GPU; none is visible here"


class CudaNotRun(Exception):
    def __init__(self, sources: list[CudaSource]) -> None:
        super().__init__(NEEDS_GPU)
        self.sources = sources


class _Recorder:
    def __init__(self) -> None:
        self.sources: list[CudaSource] = []

    def record(self, source: str, name: str) -> None:
        if source.strip():
            self.sources.append(CudaSource(name=name, source=source))

    def not_run(self) -> CudaNotRun:
        return CudaNotRun(list(self.sources))


def _join(sources: Any) -> str:
    if sources is None:
        return ""
    if isinstance(sources, str):
        return sources
    return "\n".join(str(s) for s in sources)


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in str(name))[:64] or "ext"


def _cupy_shim(recorder: _Recorder) -> types.ModuleType:
    shim = types.ModuleType("cupy")

    class RawKernel:
        def __init__(self, code: str, name: str, *args: Any, **kwargs: Any) -> None:
            self.code, self.name = code, name
            recorder.record(code, f"rawkernel_{len(recorder.sources)}")

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            raise recorder.not_run()

    class RawModule:
        def __init__(self, code: str | None = None, *args: Any, **kwargs: Any) -> None:
            if code:
                recorder.record(code, f"rawmodule_{len(recorder.sources)}")

        def get_function(self, name: str) -> RawKernel:
            kernel = RawKernel.__new__(RawKernel)
            kernel.code, kernel.name = "", name
            return kernel

    def _not_run(*args: Any, **kwargs: Any) -> Any:
        raise recorder.not_run()

    shim.RawKernel = RawKernel  # type: ignore[attr-defined]
    shim.RawModule = RawModule  # type: ignore[attr-defined]
    shim.asarray = _not_run  # type: ignore[attr-defined]
    shim.from_dlpack = _not_run  # type: ignore[attr-defined]
    setattr(shim, "__getattr__", lambda name: _not_run)  # noqa: B010 - a module __getattr__
    return shim


@contextmanager
def capture_cuda_without_gpu() -> Iterator[_Recorder]:
    """Stand in for the CUDA build entry points while the candidate is imported and run."""
    import torch.utils.cpp_extension as cpp_ext  # noqa: PLC0415 - heavy library, imported where used

    recorder = _Recorder()
    saved = {"load_inline": cpp_ext.load_inline, "load": cpp_ext.load}
    saved_cupy = sys.modules.get("cupy")

    def load_inline(name: str, cpp_sources: Any = None, cuda_sources: Any = None, **kw: Any) -> Any:
        recorder.record(_join(cuda_sources), f"load_inline_{_safe_name(name)}")
        raise recorder.not_run()

    def load(name: str, sources: Any, **kw: Any) -> Any:
        files = [sources] if isinstance(sources, str) else list(sources)
        for f in files:
            if str(f).endswith(".cu"):
                recorder.record(Path(f).read_text(encoding="utf-8"), f"load_{_safe_name(name)}")
        raise recorder.not_run()

    cpp_ext.load_inline = load_inline  # type: ignore[assignment]
    cpp_ext.load = load  # type: ignore[assignment]
    sys.modules["cupy"] = _cupy_shim(recorder)
    try:
        yield recorder
    finally:
        cpp_ext.load_inline = saved["load_inline"]  # type: ignore[assignment]
        cpp_ext.load = saved["load"]  # type: ignore[assignment]
        if saved_cupy is not None:
            sys.modules["cupy"] = saved_cupy
        else:
            sys.modules.pop("cupy", None)


@contextmanager
def record_cuda_sources() -> Iterator[_Recorder]:
    """On a GPU: record the CUDA sources given to load_inline / load while they really build
    (for the static profile)."""
    import torch.utils.cpp_extension as cpp_ext  # noqa: PLC0415 - heavy library, imported where used

    recorder = _Recorder()
    real_inline, real_load = cpp_ext.load_inline, cpp_ext.load

    def load_inline(name: str, *args: Any, **kw: Any) -> Any:
        cuda = kw.get("cuda_sources", args[1] if len(args) > 1 else None)
        recorder.record(_join(cuda), f"load_inline_{_safe_name(name)}")
        return real_inline(name, *args, **kw)

    def load(name: str, sources: Any, *args: Any, **kw: Any) -> Any:
        files = [sources] if isinstance(sources, str) else list(sources)
        for f in files:
            if str(f).endswith(".cu"):
                recorder.record(Path(f).read_text(encoding="utf-8"), f"load_{_safe_name(name)}")
        return real_load(name, sources, *args, **kw)

    cpp_ext.load_inline = load_inline
    cpp_ext.load = load
    try:
        yield recorder
    finally:
        cpp_ext.load_inline = real_inline
        cpp_ext.load = real_load
