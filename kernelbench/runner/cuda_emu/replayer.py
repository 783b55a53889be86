"""The replay of a CUDA C candidate's recorded device work (`record.py` wrote it down).

Before any data is loaded, each recorded module is built from its sources the replay's own
way (`replay_build`: host function bodies removed, initializers disabled, no ifunc), so the
process that holds the data holds none of the candidate's host code. A launch names its
kernel and trampoline by mangled symbol; each is looked up in that build and checked — the
kernel must be a `__global__` function of the source (by its qualified name), the
trampoline an instantiation of the emulator's `kw::replay_launch` — before it is called
with arguments rebuilt from the record: pointers as offsets into memory the program made
(bounds-checked like every emulated access), everything else as bytes.
"""

from __future__ import annotations

import ctypes
import os
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch

from kernelbench.protocol.errors import StepFailed
from kernelbench.runner.cuda_emu.build import EmuBuildError, build
from kernelbench.runner.cuda_emu.replay_build import (
    demangle,
    disable_initializers,
    host_free,
    preprocess,
    qualified_name,
    refusal,
    symbols,
)
from kernelbench.runner.cuda_emu.rewrite import Refused, needs_fibers
from profiler.launches import cuda_token

MAX_ERR = 4096
TRAMPOLINE = "void kw::replay_launch<"
_UNDEFINED = re.compile(r"undefined symbol: (\S+)")
MAX_DIM = 1 << 31


class ReplayModule:
    """One recorded module, built twice: as written (never loaded: its symbols say which
    kernel and trampoline instantiations the source itself makes, so a record cannot ask
    for one that nvcc never saw) and host-free (loaded, initializers off)."""

    def __init__(
        self, step: dict[str, Any], launches: list[dict[str, Any]], allowed: set[str] | None
    ) -> None:
        cpp, cuda = str(step.get("cpp") or ""), str(step.get("cuda") or "")
        if allowed is not None and cuda_token(cuda) not in allowed:
            raise StepFailed(
                "rejected", "the program builds a CUDA source that was never compiled with nvcc"
            )
        what = refusal(cpp + "\n" + cuda)
        if what is not None:
            raise StepFailed("rejected", f"the CUDA source uses {what}")
        try:
            cpp_free, _ = host_free(preprocess(cpp))
            # a __global__ function in the C++ sources is no kernel: the host compiler
            # builds those on a GPU (and nvcc never saw them)
            cuda_free, self.kernels = host_free(preprocess(cuda))
            extra = self.instantiations(launches)
            with ThreadPoolExecutor(2) as pool:  # two independent g++ runs
                written = pool.submit(build, cpp, cuda, None)
                free = pool.submit(build, cpp_free, cuda_free + extra, None, replay=True)
                full = symbols(written.result()).functions
                self.made_by_source(launches, full)  # before the host-free build is used
                path = free.result()
        except Refused as exc:
            raise StepFailed("rejected", f"the CUDA source uses {exc.construct}") from exc
        except (EmuBuildError, ValueError) as exc:
            log = getattr(exc, "log", str(exc))
            raise StepFailed(
                "runtime_error", "the replay could not build the kernels of the CUDA source", log
            ) from exc
        disable_initializers(path)
        self.symbols, hooks = symbols(path)
        if hooks:
            raise StepFailed("rejected", f"the CUDA source defines an ifunc ({hooks[0]})")
        self.fibers = needs_fibers(cpp + "\n" + cuda)  # from the source, not the record
        try:  # every symbol bound now: a kernel calling the source's host code fails here
            self.lib = ctypes.CDLL(str(path), mode=ctypes.RTLD_LOCAL | os.RTLD_NOW)
        except OSError as exc:
            missing = _UNDEFINED.search(str(exc))
            if missing and missing.group(1) in full:
                raise StepFailed(
                    "compile_error",
                    f"not valid for sm_90: device code calls {demangle(missing.group(1))}, "
                    "host code of the source (no GPU compiler accepts that)",
                ) from exc
            raise StepFailed("runtime_error", f"the replay's kernels do not load: {exc}") from exc
        self.lib.kw_replay.restype = ctypes.c_int
        self.lib.kw_add_region.argtypes = [ctypes.c_void_p, ctypes.c_int64]

    def instantiations(self, launches: list[dict[str, Any]]) -> str:
        """Explicit instantiations of the template kernels and trampolines the record uses,
        each checked first: a __global__ function of the source (or the emulator's
        trampoline); `made_by_source` then checks the source itself makes each of them.
        Their text is the demangling of the recorded symbols."""
        lines: set[str] = set()
        for step in launches:
            for key, checked in (("kernel", self.check_kernel), ("tramp", check_trampoline)):
                text = checked(str(step[key]), str(step.get("name", "?")))
                head = text[: text.find("(")] if "(" in text else text
                if "<" in head:  # a template: the host-free build would not instantiate it
                    if "(anonymous namespace)" in text or "{lambda" in text:
                        raise StepFailed("rejected", f"{text}: a template the replay cannot name")
                    lines.add(f"template {text};")
        return "\n" + "\n".join(sorted(lines)) + "\n"

    @staticmethod
    def made_by_source(launches: list[dict[str, Any]], full: dict[str, int]) -> None:
        """Each recorded kernel and trampoline is a symbol of the source built as written:
        a record cannot ask for an instantiation nvcc never saw."""
        for step in launches:
            for key in ("kernel", "tramp"):
                mangled = str(step[key])
                if mangled not in full:
                    raise StepFailed(
                        "rejected",
                        f"the program launches {demangle(mangled)}, which the source never "
                        "instantiates",
                    )

    def check_kernel(self, mangled: str, name: str) -> str:
        text = demangle(mangled)
        if qualified_name(text) not in self.kernels:
            raise StepFailed(
                "rejected",
                f"the program launches {qualified_name(text)} as {name}: not a __global__ "
                "function of the source",
            )
        return text

    def offset(self, mangled: str, what: str) -> int:
        found = self.symbols.get(mangled)
        if found is None:
            raise StepFailed("rejected", f"the program launches {what} the replay's build lacks")
        return found


def check_trampoline(mangled: str, name: str) -> str:
    text = demangle(mangled)
    if not text.startswith(TRAMPOLINE):
        raise StepFailed("rejected", f"the program calls {text} to launch {name}")
    return text


def _storage(tensor: Any) -> tuple[int, int]:
    if not isinstance(tensor, torch.Tensor) or tensor.device.type != "cpu":
        raise StepFailed("rejected", "the program points a kernel at something not in memory")
    storage = tensor.untyped_storage()
    return int(storage.data_ptr()), int(storage.nbytes())


def _byte_view(tensor: torch.Tensor, off: int, n: int) -> torch.Tensor:
    _, size = _storage(tensor)
    if off < 0 or n < 0 or off + n > size:
        raise StepFailed("rejected", "the program copies or sets memory outside an allocation")
    whole = torch.empty(0, dtype=torch.uint8).set_(tensor.untyped_storage())
    return whole[off : off + n]


class CudaReplay:
    """The CUDA part of a replay; `decode` resolves the program's tensor references."""

    def __init__(self, program_steps: list[Any], allowed: set[str] | None = None) -> None:
        """`allowed`: the tokens of the CUDA sources nvcc compiled for the target
        (profiler.launches.cuda_token); a module of any other source is refused."""
        steps = [s for s in program_steps if isinstance(s, dict)]
        self.modules = [
            ReplayModule(
                step,
                [s for s in steps if s.get("kind") == "cuda_launch" and s.get("module") == n],
                allowed,
            )
            for n, step in enumerate(s for s in steps if s.get("kind") == "cuda_module")
        ]

    def _module(self, step: dict[str, Any]) -> ReplayModule:
        index = int(step["module"])
        if not 0 <= index < len(self.modules):
            raise StepFailed("rejected", "the program launches from a module it never built")
        return self.modules[index]

    def launch(self, step: dict[str, Any], decode: Any) -> list[torch.Tensor]:
        """Run one recorded launch; returns the tensors it was handed (the caller taints them)."""
        mod = self._module(step)
        name = str(step.get("name", "?"))
        kernel, tramp = str(step["kernel"]), str(step["tramp"])
        mod.check_kernel(kernel, name)
        check_trampoline(tramp, name)
        k_off, t_off = mod.offset(kernel, f"kernel {name}"), mod.offset(tramp, "a trampoline")
        dims = [int(d) for d in [*step["grid"], *step["block"]]]
        if len(dims) != 6 or any(not 0 <= d < MAX_DIM for d in dims):
            raise StepFailed("rejected", f"the program launches {name} on a bad grid or block")
        keep: list[Any] = []
        handed: list[torch.Tensor] = []
        vals, sizes, ptrs = [], [], []
        for arg in step["args"]:
            if "ptr" in arg:
                address = 0
                if arg["ptr"] is not None:
                    tensor = decode({"t": arg["ptr"]["t"]})
                    base, size = _storage(tensor)
                    off = int(arg["ptr"]["off"])
                    if not 0 <= off <= size:
                        raise StepFailed(
                            "rejected", f"kernel {name} gets a pointer past its allocation"
                        )
                    mod.lib.kw_add_region(base, size)
                    address = base + off
                    handed.append(tensor)
                buf: Any = ctypes.c_uint64(address)
                sizes.append(8)
                ptrs.append(1)
            else:
                raw = bytes.fromhex(str(arg["bytes"]))
                buf = ctypes.create_string_buffer(raw, max(1, len(raw)))
                sizes.append(len(raw))
                ptrs.append(0)
            keep.append(buf)
            vals.append(ctypes.cast(ctypes.pointer(buf), ctypes.c_void_p))
        n = len(vals)
        err = ctypes.create_string_buffer(MAX_ERR)
        rc = mod.lib.kw_replay(
            ctypes.c_int64(t_off),
            ctypes.c_int64(k_off),
            name.encode(),
            (ctypes.c_uint32 * 6)(*dims),
            ctypes.c_int64(int(step.get("smem", 0))),
            ctypes.c_int(n),
            (ctypes.c_void_p * max(1, n))(*vals),
            (ctypes.c_int64 * max(1, n))(*sizes),
            (ctypes.c_int64 * max(1, n))(*ptrs),
            err,
            ctypes.c_int(MAX_ERR),
            ctypes.c_uint64(secrets.randbits(64)),
            ctypes.c_int(int(mod.fibers)),
        )
        if rc:
            raise RuntimeError(f"{name}: {err.value.decode(errors='replace')}")
        return handed

    @staticmethod
    def memset(step: dict[str, Any], decode: Any) -> None:
        dst = step["dst"]
        view = _byte_view(decode({"t": dst["t"]}), int(dst["off"]), int(step["n"]))
        view.fill_(int(step["value"]) & 0xFF)

    @staticmethod
    def memcpy(step: dict[str, Any], decode: Any) -> None:
        n, dst = int(step["n"]), step["dst"]
        view = _byte_view(decode({"t": dst["t"]}), int(dst["off"]), n)
        if "src" in step:
            src = step["src"]
            view.copy_(_byte_view(decode({"t": src["t"]}), int(src["off"]), n).clone())
        else:
            raw = bytes.fromhex(str(step["bytes"]))
            if len(raw) != n:
                raise StepFailed("rejected", "the program's copy holds the wrong number of bytes")
            view.copy_(torch.frombuffer(bytearray(raw), dtype=torch.uint8) if n else view)

    @staticmethod
    def alloc(step: dict[str, Any]) -> torch.Tensor:
        """cudaMalloc on the emulated device: zeroed memory (as the candidate's was)."""
        n = int(step["nbytes"])
        if not 0 <= n <= 1 << 34:
            raise StepFailed("rejected", "the program allocates a bad size")
        return torch.zeros(max(1, n), dtype=torch.uint8)
