"""The blind pass for CUDA C on the emulated device: what the candidate's C++ host code
does on the device is written into the program (`kernelbench.runner.program.Recorder`)
instead of run, as Triton's launches are.

The emulator hands each event over as a JSON line (`kw_record.h`): a kernel launch (the
kernel and its trampoline as offsets in the module, grid, block, dynamic shared memory,
each argument as an address or as bytes) or a device-memory call (cudaMalloc, cudaMemset,
cudaMemcpy). Here addresses become references to memory the program made — an input, a
weight, a recorded op's result, a recorded cudaMalloc — with a byte offset, and offsets
become the functions' mangled names, which the replay looks up in its own build of the
source (`replay_build`). A pointer to any other memory (the host's own buffers, something
the program never made) is refused: the replay could not rebuild it.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from kernelbench.protocol.errors import StepFailed
from kernelbench.runner.cuda_emu.replay_build import refusal, symbols
from kernelbench.runner.program import Recorder


class CudaRecording:
    def __init__(self, program: Recorder) -> None:
        self.program = program
        self.modules = 0
        self.mallocs: list[tuple[int, int, int]] = []  # (address, bytes, ref)
        self._storages: dict[int, tuple[int, int]] = {}  # base -> (bytes, ref)
        self._sorted: list[int] = []
        self._indexed: set[int] = set()  # refs already in _storages

    def module(self, cpp: str, cuda: str, path: Path, fibers: bool) -> Callable[[bytes], None]:
        """A module the candidate built: its sources go into the program (the replay builds
        them itself); returns the callback its events arrive through."""
        what = refusal(cpp + "\n" + cuda)
        if what is not None:
            self.program.refuse(f"the CUDA source uses {what}, which the blind pass does not take")
        index = self.modules
        self.modules += 1
        self.program.steps.append(
            {"kind": "cuda_module", "index": index, "cpp": cpp, "cuda": cuda, "fibers": fibers}
        )
        names = {offset: name for name, offset in symbols(path).functions.items()}

        def on_event(line: bytes) -> None:
            # Called from C++ through ctypes, which cannot carry an exception back: a refusal
            # is kept in `program.failure`, which the runner checks after every forward.
            if self.program.failure is not None:
                return
            try:
                self.event(index, names, json.loads(line))
            except StepFailed:
                return
            except (ValueError, KeyError, TypeError) as exc:
                self.program.fail(f"the emulator's record could not be read: {exc}")

        return on_event

    # ------------------------------------------------------------------ events

    def event(self, module: int, names: dict[int, str], event: dict[str, Any]) -> None:
        kind = event.get("mem")
        if kind == "alloc":
            ref = self.program.fresh_ref(torch.empty(0, dtype=torch.uint8))
            self.mallocs.append((int(event["ptr"]), int(event["n"]), ref))
            self.program.steps.append({"kind": "cuda_alloc", "ref": ref, "nbytes": int(event["n"])})
        elif kind == "free":
            self.mallocs = [m for m in self.mallocs if m[0] != int(event["ptr"])]
        elif kind == "set":
            dst = self.pointer(int(event["dst"]), "cudaMemset")
            self.program.steps.append(
                {
                    "kind": "cuda_memset",
                    "dst": dst,
                    "value": int(event["value"]),
                    "n": int(event["n"]),
                }
            )
        elif kind == "copy":
            self.copy(event)
        else:
            self.launch(module, names, event)

    def copy(self, event: dict[str, Any]) -> None:
        n = int(event["n"])
        src = self.find(int(event["src"]))
        dst = self.find(int(event["dst"]))
        if dst is None:  # to the host's own memory
            if src is not None and self.program.taint.tainted([self.program.tensor(src["t"])]):
                self.program.refuse(
                    "the host code copies device memory that holds the data back to the host "
                    "(cudaMemcpy): the program it builds would depend on the data"
                )
            return
        step: dict[str, Any] = {"kind": "cuda_memcpy", "dst": dst, "n": n}
        if src is not None:
            step["src"] = src
            self.program.taint.mark([self.program.tensor(src["t"]), self.program.tensor(dst["t"])])
        elif "bytes" in event:  # the host code's own values (it never held the data)
            step["bytes"] = str(event["bytes"])
        else:
            self.program.refuse("a cudaMemcpy from host memory too large to write into the program")
        self.program.steps.append(step)

    def launch(self, module: int, names: dict[int, str], event: dict[str, Any]) -> None:
        label = bytes.fromhex(str(event["kernel"])).decode(errors="replace")
        kernel, tramp = names.get(int(event["k"])), names.get(int(event["t"]))
        if kernel is None or tramp is None:
            self.program.refuse(f"kernel {label}: its code has no symbol the replay could find")
        args: list[Any] = []
        for n, arg in enumerate(event["args"]):
            if "p" in arg:
                ptr = self.pointer(int(arg["p"]), f"kernel {label}, argument {n}")
                args.append({"ptr": ptr})
                if ptr is not None:
                    self.program.taint.mark([self.program.tensor(ptr["t"])])
            else:
                args.append({"bytes": str(arg["b"])})
        self.program.steps.append(
            {
                "kind": "cuda_launch",
                "module": module,
                "name": label,
                "kernel": kernel,
                "tramp": tramp,
                "grid": [int(g) for g in event["grid"]],
                "block": [int(b) for b in event["block"]],
                "smem": int(event["smem"]),
                "args": args,
            }
        )

    # ------------------------------------------------------------------ addresses

    def find(self, address: int) -> dict[str, int] | None:
        """The memory the program made that holds this address, as {"t": ref, "off": bytes}:
        a torch storage (all are kept alive while recording, so none is stale), else the
        newest live cudaMalloc."""
        self._index()
        at = bisect.bisect_right(self._sorted, address) - 1
        if at >= 0:
            base = self._sorted[at]
            size, ref = self._storages[base]
            if address <= base + size:
                return {"t": ref, "off": address - base}
        for base, size, ref in reversed(self.mallocs):
            if base <= address <= base + size:
                return {"t": ref, "off": address - base}
        return None

    def _index(self) -> None:
        """Storages of the program's tensors made since the last look, by base address."""
        fresh = self.program.refs() - self._indexed
        if not fresh:
            return
        for ref in sorted(fresh):
            tensor = self.program.tensor(ref)
            try:
                storage = tensor.untyped_storage()
                base, size = int(storage.data_ptr()), int(storage.nbytes())
            except (RuntimeError, NotImplementedError):
                continue
            if base and size >= self._storages.get(base, (-1, 0))[0]:
                self._storages[base] = (size, ref)
        self._indexed |= fresh
        self._sorted = sorted(self._storages)

    def pointer(self, address: int, where: str) -> dict[str, int] | None:
        if address == 0:
            return None
        found = self.find(address)
        if found is None:
            self.program.refuse(
                f"{where} gets a pointer to memory the program did not make (the host's own "
                "buffers, or an allocation outside torch and cudaMalloc): the replay could not "
                "rebuild it"
            )
        return found
