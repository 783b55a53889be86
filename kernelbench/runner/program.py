"""The blind pass: record the program a candidate's host code builds, on stand-in data.

With `blind` on, the candidate's process never holds the evaluation's inputs or weights:
the caller hands it decoys (same shapes, dtypes and strides; values from an unrelated
seed). While `__init__` and `forward` run, a `TorchDispatchMode` records every aten op
(tensor arguments as references to earlier results or named sources) and Triton's launch
entry points record each kernel launch (kernel name, arguments, launch options, the grid)
instead of running it. The record is the program; a separate, clean process
(`kernelbench.runner.replay`) runs it on the real data with kernels rebuilt from the
candidate file's own kernel source. Nothing recorded here is trusted: tampering with it
can only remove work from the program, never add a correct value.

Refused while recording: a launch of a kernel the candidate file does not define, a tensor
passed as a constexpr, a tensor the program did not make, an argument that cannot be
written down. The taint rule (`Taint`: on memory that holds something of the data only the
data-movement table may run, and nothing may be read on the host) is the replay's to
enforce on the recorded program; ops on memory built only from the host code's own
literals run freely, since their results are the same anywhere.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import inspect
import math
from collections.abc import Iterator
from typing import Any, NoReturn

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from kernelbench.protocol.errors import StepFailed
from kernelbench.runner.guard import ALLOWED_OPS

PROGRAM_VERSION = 1
# Ops that read tensor values on the host: a program built on them depends on the data.
HOST_READS = frozenset({"_local_scalar_dense", "equal", "is_nonzero"})
SHAPE_QUERIES = frozenset({"sym_size", "sym_stride", "sym_numel", "sym_storage_offset"})
MAX_STEPS = 200_000
# `torch.tensor(...)` reaches the dispatcher as lift_fresh of a tensor built from literals.
CONSTANT_OPS = frozenset({"lift_fresh", "lift_fresh_copy"})
MAX_CONSTANT_NUMEL = 1 << 16


def op_name(func: Any) -> str:
    """`aten::add.Tensor` -> "add" (the overload packet's base name)."""
    return str(func.overloadpacket.__name__).split(".")[-1]


class Recorder(TorchDispatchMode):
    """Records aten ops as program steps; tensors become numbered references."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[dict[str, Any]] = []
        self._refs: dict[int, int] = {}  # id(tensor) -> ref
        self._views: dict[tuple[Any, ...], int] = {}  # same memory, same layout -> ref
        self._alive: list[torch.Tensor] = []  # keeps ids unique while recording
        self.in_forward = False
        self.failure: StepFailed | None = None
        self.taint = Taint()

    # --------------------------------------------------------------- references

    def source(self, tensor: torch.Tensor, name: str) -> None:
        """A named value the replay supplies (an input, a weight)."""
        self.taint.mark([tensor])
        self.steps.append({"kind": "source", "name": name, "ref": self._new_ref(tensor)})

    def _new_ref(self, tensor: torch.Tensor) -> int:
        ref = len(self._alive)
        self._alive.append(tensor)
        self._refs[id(tensor)] = ref
        self._views.setdefault(_layout_key(tensor), ref)
        return ref

    def _known(self, tensor: torch.Tensor) -> int | None:
        """A tensor recorded before, or another object over the same memory with the same
        layout (a Parameter wrapping a recorded tensor, a `.data`)."""
        ref = self._refs.get(id(tensor))
        if ref is None:
            ref = self._views.get(_layout_key(tensor))
            if ref is not None:
                self._refs[id(tensor)] = ref
                self._alive.append(tensor)
        return ref

    def encode(self, value: Any, *, producing: bool = False) -> Any:
        if isinstance(value, torch.Tensor):
            ref = None if producing else self._known(value)
            if ref is None:
                if not producing:
                    raise StepFailed(
                        "rejected",
                        "a tensor reached the program from outside it (not an input, a weight "
                        "or a recorded op's result): the replay could not rebuild it",
                    )
                ref = self._new_ref(value)
            return {"t": ref}
        if value is None or isinstance(value, bool | int | str):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else {"f": repr(value)}
        if isinstance(value, list | tuple):
            items = [self.encode(v, producing=producing) for v in value]
            return {"list": items} if isinstance(value, list) else {"tuple": items}
        if isinstance(value, torch.dtype):
            return {"dtype": str(value).removeprefix("torch.")}
        if isinstance(value, torch.device):
            return {"device": str(value)}
        if isinstance(value, torch.memory_format):
            return {"memory_format": str(value).removeprefix("torch.")}
        if isinstance(value, torch.layout):
            return {"layout": str(value).removeprefix("torch.")}
        if hasattr(value, "value") and type(value).__name__ == "constexpr":
            return self.encode(value.value, producing=producing)
        raise StepFailed(
            "rejected", f"an argument of type {type(value).__name__} cannot be written down"
        )

    def fresh_ref(self, tensor: torch.Tensor) -> int:
        return self._new_ref(tensor)

    def tensor(self, ref: int) -> torch.Tensor:
        return self._alive[ref]

    def refs(self) -> set[int]:
        """Every ref made so far (`_alive` also holds aliases of earlier refs)."""
        return set(self._refs.values())

    # --------------------------------------------------------------- recording

    def refuse(self, reason: str) -> NoReturn:
        self._refuse(reason)

    def fail(self, reason: str) -> None:
        """Record a refusal without raising (from a callback that cannot raise)."""
        if self.failure is None:
            self.failure = StepFailed("rejected", reason)

    def _refuse(self, reason: str) -> NoReturn:
        if self.failure is None:
            self.failure = StepFailed("rejected", reason)
        raise self.failure

    def __torch_dispatch__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        name = op_name(func)
        if name in CONSTANT_OPS and args and isinstance(args[0], torch.Tensor):
            self._constant(args[0])
        # An op the taint rule refuses is still recorded: the guard below reports it in the
        # runner's words, and the replay, which applies the rule itself, refuses it there.
        result = func(*args, **kwargs)
        self.taint.after(name, [args, kwargs], result)
        if name in SHAPE_QUERIES or len(self.steps) > MAX_STEPS:
            return result
        step = {
            "kind": "op",
            "op": str(func.name()),
            "args": self.encode(list(args)),
            "kwargs": {k: self.encode(v) for k, v in kwargs.items()},
        }
        step["out"] = self.encode(result, producing=True) if _has_tensor(result) else None
        self.steps.append(step)
        return result

    def _constant(self, tensor: torch.Tensor) -> None:
        """`torch.tensor(data)`: the data comes from the host code's own literals (it never
        held the real inputs), so it is written into the program, up to a size."""
        if self._known(tensor) is not None:
            return
        if tensor.numel() > MAX_CONSTANT_NUMEL or not tensor.is_contiguous():
            self._refuse("a tensor literal too large to write into the program")
        raw = ctypes.string_at(tensor.data_ptr(), tensor.numel() * tensor.element_size())
        self.steps.append(
            {
                "kind": "const",
                "ref": self._new_ref(tensor),
                "dtype": str(tensor.dtype).removeprefix("torch."),
                "shape": list(tensor.shape),
                "data": base64.b64encode(raw).decode("ascii"),
            }
        )

    def launch(self, jit_fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any], grid: Any) -> None:
        fn = getattr(jit_fn, "fn", None)
        name = getattr(fn, "__name__", None)
        if fn is None or name is None or getattr(fn, "__module__", "") != "kw_candidate":
            self._refuse("forward launched a kernel the candidate file does not define")
        sig = inspect.signature(fn)
        params = sig.parameters
        bound = sig.bind_partial(*args, **{k: v for k, v in kwargs.items() if k in params})
        options = {k: v for k, v in kwargs.items() if k not in params}
        for pname, value in bound.arguments.items():
            annotation = str(params[pname].annotation)
            if "constexpr" in annotation and isinstance(value, torch.Tensor):
                self._refuse(f"kernel {name} gets a tensor as constexpr {pname!r}")
        grid_value = grid(dict(bound.arguments) | dict(kwargs)) if callable(grid) else grid
        if not isinstance(grid_value, tuple | list):
            grid_value = (grid_value,)
        self.taint.mark([bound.arguments, options])
        self.steps.append(
            {
                "kind": "launch",
                "kernel": name,
                "args": {k: self.encode(v) for k, v in bound.arguments.items()},
                "options": {k: self.encode(v) for k, v in options.items()},
                "grid": [int(g) for g in grid_value],
            }
        )

    def seeded(self) -> None:
        """ModelNew is built under the reference's init seed from here: the replay reseeds
        there, so the ops of its __init__ draw the same values."""
        self.steps.append({"kind": "seed"})

    def outputs(self, trial: int, flat: list[Any]) -> None:
        self.steps.append({"kind": "outputs", "trial": trial, "values": self.encode(flat)})

    def program(self) -> dict[str, Any]:
        return {"version": PROGRAM_VERSION, "steps": self.steps}


def tensors_in(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, list | tuple):
        return [t for v in value for t in tensors_in(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in tensors_in(v)]
    return []


def storage_of(t: torch.Tensor) -> int:
    try:
        return int(t.untyped_storage().data_ptr()) or id(t)
    except (RuntimeError, NotImplementedError):
        return id(t)


class Taint:
    """Which memory holds (or may hold) something of the data: the inputs and weights, what
    is computed from them, and anything a kernel was handed (its writes are unknown until
    the replay). On such memory only the data-movement table may run and nothing may be
    read on the host; on memory built only from the host code's own literals (a block size
    clamped on a one-element tensor, a mask from arange) any op may run, since its result
    is the same in the replay. Tracked by storage, so a view shares its base's taint.
    The replay applies the same rules to the recorded program on its own."""

    def __init__(self) -> None:
        self.storages: set[int] = set()

    def mark(self, values: Any) -> None:
        self.storages.update(storage_of(t) for t in tensors_in(values))

    def tainted(self, values: Any) -> bool:
        return any(storage_of(t) in self.storages for t in tensors_in(values))

    def check(self, name: str, values: Any, where: str) -> str | None:
        if not self.tainted(values):
            return None
        if name in HOST_READS:
            return (
                f"{where} reads a tensor's values on the host (aten.{name}, e.g. .item()): "
                "the program it builds would depend on the data"
            )
        if name not in ALLOWED_OPS:
            return (
                f"{where} runs torch op aten.{name} on the data outside a kernel (only "
                "allocation, views, copies, casts and fills may touch it on the host)"
            )
        return None

    def after(self, name: str, values: Any, result: Any) -> None:
        if self.tainted(values):
            self.mark([values, result])


def _layout_key(t: torch.Tensor) -> tuple[Any, ...]:
    try:
        ptr = int(t.untyped_storage().data_ptr())
    except (RuntimeError, NotImplementedError):
        ptr = id(t)
    return (ptr, t.storage_offset(), tuple(t.size()), tuple(t.stride()), t.dtype)


def _has_tensor(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, list | tuple):
        return any(_has_tensor(v) for v in value)
    return False


@contextlib.contextmanager
def intercept_launches(recorder: Recorder, counter: Any) -> Iterator[None]:
    """Triton kernel launches are recorded, not run (the blind pass has no real data);
    `counter` (the profiler's LaunchRecorder) still sees each one."""
    from triton.runtime import interpreter, jit  # noqa: PLC0415 - heavy library, imported where used

    classes = [jit.JITFunction, interpreter.InterpretedFunction]
    originals = {cls: cls.run for cls in classes}

    def run(self: Any, *args: Any, grid: Any, warmup: bool, **kwargs: Any) -> Any:
        if not warmup:
            recorder.launch(self, args, kwargs, grid)
            counter.observe(self, args, kwargs, grid)
        return None

    for cls in classes:
        cls.run = run
    try:
        yield
    finally:
        for cls, original in originals.items():
            cls.run = original
