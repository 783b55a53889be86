"""The candidate step's hook: while a CUDA C candidate is imported and run on a CPU,
`load_inline` / `load` build the sources for the emulated device instead of nvcc.

The sources are still recorded (the caller compiles them with nvcc for the static sm_90
profile, and for the compile verdict when the emulator cannot build them)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kernelbench.cuda_emu.build import EmuBuildError, build
from kernelbench.cuda_emu.loader import EmulatedModule
from kernelbench.cuda_emu.rewrite import Refused, needs_fibers
from kernelbench.cuda_source import (
    CudaNotRun,
    _join,
    _Recorder,
    _safe_name,
    capture_cuda_without_gpu,
)

REFUSED_PREFIX = "not emulated on the CPU: the source uses "
BUILD_FAILED = "the CUDA emulator could not build the source"


class EmulatorRefused(CudaNotRun):
    def __init__(self, sources: Any, construct: str) -> None:
        super().__init__(sources)
        self.args = (f"{REFUSED_PREFIX}{construct}",)


class EmulatorBuildFailed(CudaNotRun):
    def __init__(self, sources: Any, log_text: str) -> None:
        super().__init__(sources)
        self.args = (BUILD_FAILED,)
        self.log = log_text


def _emulated(
    recorder: _Recorder, name: str, cpp: str, cuda: str, functions: Any
) -> EmulatedModule:
    recorder.record(cuda, f"load_inline_{_safe_name(name)}")
    try:
        path = build(cpp, cuda, functions)
    except Refused as exc:
        raise EmulatorRefused(list(recorder.sources), exc.construct) from exc
    except EmuBuildError as exc:
        raise EmulatorBuildFailed(list(recorder.sources), exc.log) from exc
    return EmulatedModule(name, path, needs_fibers(cpp + "\n" + cuda))


@contextmanager
def emulate_cuda_on_cpu() -> Iterator[_Recorder]:
    """Like capture_cuda_without_gpu (cupy still stops with not_run), but load_inline and
    load return modules whose kernels run on the emulated device."""
    import torch.utils.cpp_extension as cpp_ext

    with capture_cuda_without_gpu() as recorder:

        def load_inline(
            name: str,
            cpp_sources: Any = None,
            cuda_sources: Any = None,
            functions: Any = None,
            **kw: Any,
        ) -> Any:
            return _emulated(recorder, name, _join(cpp_sources), _join(cuda_sources), functions)

        def load(name: str, sources: Any, **kw: Any) -> Any:
            files = [sources] if isinstance(sources, str) else list(sources)
            texts = [(str(f), Path(f).read_text(encoding="utf-8")) for f in files]
            cuda = "\n".join(t for f, t in texts if f.endswith((".cu", ".cuh")))
            cpp = "\n".join(t for f, t in texts if not f.endswith((".cu", ".cuh")))
            return _emulated(recorder, name, cpp, cuda, None)

        cpp_ext.load_inline = load_inline  # type: ignore[assignment]
        cpp_ext.load = load  # type: ignore[assignment]
        yield recorder
