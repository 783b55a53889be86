"""The candidate step's hook: while a CUDA C candidate is imported and run on a CPU,
`load_inline` / `load` build the sources for the emulated device instead of nvcc, and
Python-side CUDA placement (`.cuda()`, `.to("cuda")`, `device="cuda"`,
`torch.device("cuda")`) lands on that device (the CPU) instead of raising "Torch not
compiled with CUDA enabled".

The sources are still recorded (the caller compiles them with nvcc for the static sm_90
profile, and for the compile verdict when the emulator cannot build them)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from kernelbench.protocol.cuda_source import (
    CudaNotRun,
    _join,
    _Recorder,
    _safe_name,
    capture_cuda_without_gpu,
)
from kernelbench.runner.cuda_emu.build import EmuBuildError, build
from kernelbench.runner.cuda_emu.loader import EmulatedModule
from kernelbench.runner.cuda_emu.rewrite import Refused, needs_fibers

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
    recorder: _Recorder, name: str, cpp: str, cuda: str, functions: Any, blind: Any = None
) -> EmulatedModule:
    recorder.record(cuda, f"load_inline_{_safe_name(name)}")
    try:
        path = build(cpp, cuda, functions)
    except Refused as exc:
        raise EmulatorRefused(list(recorder.sources), exc.construct) from exc
    except EmuBuildError as exc:
        raise EmulatorBuildFailed(list(recorder.sources), exc.log) from exc
    fibers = needs_fibers(cpp + "\n" + cuda)
    if blind is None:
        return EmulatedModule(name, path, fibers)
    on_record = blind.module(cpp, cuda, path, fibers)  # kernelbench.runner.cuda_emu.record
    return EmulatedModule(name, path, fibers, on_record)


def _is_cuda(value: Any, index_too: bool = False) -> bool:
    """A device spec naming a CUDA device ("cuda", "cuda:0", torch.device("cuda"); a bare
    index where an int means a CUDA device)."""
    if isinstance(value, str):
        return value == "cuda" or value.startswith("cuda:")
    if isinstance(value, torch.device):
        return value.type == "cuda"
    return index_too and isinstance(value, int) and not isinstance(value, bool)


_CPU = torch.device("cpu")


class EmulatedPlacement(TorchFunctionMode):
    """Python-side CUDA placement lands on the emulated device (the CPU): `.cuda()`,
    `.to("cuda")`, `device="cuda"`, `torch.device("cuda")`, as `.cuda()` in the C++ host
    code does (rewrite._HOST_SUBS). Nothing else changes: `torch.cuda.is_available()`
    stays False and `Tensor.is_cuda` stays the truth."""

    def __torch_function__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = dict(kwargs or {})
        if func is torch.device:
            if (args and _is_cuda(args[0])) or _is_cuda(kwargs.get("type")):
                return _CPU
            return func(*args, **kwargs)
        if func is torch.Tensor.cuda:
            return args[0].cpu()
        if "device" in kwargs and _is_cuda(kwargs["device"], index_too=True):
            kwargs["device"] = _CPU
        if func is torch.Tensor.to:
            args = tuple(_CPU if _is_cuda(a) else a for a in args)
        return func(*args, **kwargs)


def _noop(*args: Any, **kwargs: Any) -> None:
    return None


# torch.cuda calls that bookkeep the device (not compute): harmless on the emulated one.
_CUDA_BOOKKEEPING: dict[str, Any] = {
    "synchronize": _noop,
    "set_device": _noop,
    "current_device": lambda: 0,
}


@contextmanager
def emulated_placement() -> Iterator[None]:
    saved = {name: getattr(torch.cuda, name) for name in _CUDA_BOOKKEEPING}
    for name, stand_in in _CUDA_BOOKKEEPING.items():
        setattr(torch.cuda, name, stand_in)
    try:
        with EmulatedPlacement():
            yield
    finally:
        for name, original in saved.items():
            setattr(torch.cuda, name, original)


@contextmanager
def emulate_cuda_on_cpu(blind: Any = None) -> Iterator[_Recorder]:
    """Like capture_cuda_without_gpu (cupy still stops with not_run), but load_inline and
    load return modules whose kernels run on the emulated device, and Python-side CUDA
    placement lands there too. `blind` (a `record.CudaRecording`): the modules' launches
    and device-memory calls are written into the blind pass's program instead of run."""
    import torch.utils.cpp_extension as cpp_ext  # noqa: PLC0415 - heavy library, imported where used

    with capture_cuda_without_gpu() as recorder, emulated_placement():

        def load_inline(
            name: str,
            cpp_sources: Any = None,
            cuda_sources: Any = None,
            functions: Any = None,
            **kw: Any,
        ) -> Any:
            return _emulated(
                recorder, name, _join(cpp_sources), _join(cuda_sources), functions, blind
            )

        def load(name: str, sources: Any, **kw: Any) -> Any:
            files = [sources] if isinstance(sources, str) else list(sources)
            texts = [(str(f), Path(f).read_text(encoding="utf-8")) for f in files]
            cuda = "\n".join(t for f, t in texts if f.endswith((".cu", ".cuh")))
            cpp = "\n".join(t for f, t in texts if not f.endswith((".cu", ".cuh")))
            return _emulated(recorder, name, cpp, cuda, None, blind)

        cpp_ext.load_inline = load_inline  # type: ignore[assignment]
        cpp_ext.load = load  # type: ignore[assignment]
        yield recorder
