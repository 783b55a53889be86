"""The runtime compute guard: every aten op the candidate's process runs is seen here.

A `TorchDispatchMode` is pushed before the candidate is imported and stays for the whole
step. It sees ops from Python and from C++ alike (a `load_inline` extension's host code
calls ATen through the same dispatcher). Two regimes:

* outside `forward` (import, `__init__`): building parameters and constants is fine, but an
  op that reads one of the trial inputs is a violation (no precomputed answers);
* inside `forward` (`strict`): only the ops of ALLOWED_OPS may run — allocation and
  factories, views, copies and dtype casts, fills, shape queries. Any other op is a
  violation naming it, unless every tensor it touches is tiny (at most SMALL_NUMEL
  elements, at most MAX_SMALL_OPS such ops per forward: picking a block size from a
  one-element tensor is host bookkeeping, not the computation).

Memory the candidate allocates uninitialised (`empty` and its kin) is filled with a poison
(NaN, or the integer type's minimum) before the candidate gets it, in `forward` and in
`__init__` alike: an element a kernel never writes (an unmasked tail, a skipped block) is
wrong in the output instead of holding whatever a fresh page held (zero, often the right
answer for ReLU-like ops). The runner's own work and GPU timing are not poisoned.

Host transfers do not all pass through the dispatcher, so `Tensor.tolist`, `.numpy`,
`__array__` and `__dlpack__` are wrapped too; a transfer of more than SMALL_NUMEL elements
in `forward` is a violation, and so are more than MAX_ITEMS `.item()` reads.

Dispatch modes are per thread, so every thread started after `install()` (through
`_thread`, `threading`, an executor, `asyncio.to_thread`) runs its target under a mode of
its own that reports to the same guard: work moved to another thread is seen too.

Everything the guard records lives in the candidate's process, so it can only make a
verdict worse: the caller rejects on a violation, and treats a guard that was removed or
replaced (`intact()` false) as tampering.

Under the Triton interpreter (TRITON_INTERPRET=1, the CPU) `install()` also puts in two
shims for what legitimate GPU kernel files use and Triton's interpreter cannot run
(issue 28, point 5; `kernelbench.runner.interpreter_shims`): `triton.autotune` with several configs runs the
first config (after pruning) without benchmarking, since there is no GPU benchmarker;
libdevice functions (`triton.language.extra.libdevice`, `...extra.cuda.libdevice`), whose
interpreter versions return None, run as the matching `tl.math` builtin or a numpy
elementwise function on the block's values.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode, _get_current_dispatch_mode_stack

from kernelbench.runner.interpreter_shims import interpreter_shims

# aten base names (the overload packet) that forward may run freely.
ALLOWED_OPS = frozenset(
    {
        # allocation and factories
        "empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided",
        "zeros", "zeros_like", "new_zeros", "ones", "ones_like", "new_ones",
        "full", "full_like", "new_full", "scalar_tensor", "arange", "resize_",
        "lift_fresh", "lift_fresh_copy",
        # views (no data touched)
        "view", "_unsafe_view", "_reshape_alias", "as_strided", "expand", "permute",
        "transpose", "t", "squeeze", "unsqueeze", "slice", "select", "narrow", "split",
        "split_with_sizes", "chunk", "unbind", "alias", "detach", "unfold",
        "view_as_real", "view_as_complex", "set_",
        # copies, layout and dtype casts
        "clone", "_to_copy", "copy_", "cat", "stack", "constant_pad_nd",
        # fills
        "fill_", "zero_", "fill",
        # shape and metadata queries, scalar reads (counted), stream bookkeeping
        "sym_size", "sym_stride", "sym_numel", "sym_storage_offset", "size", "stride",
        "dim", "is_contiguous", "is_same_size", "_local_scalar_dense", "record_stream",
    }
)  # fmt: skip
# ops whose result holds uninitialised memory: poisoned (see the module doc)
UNINITIALISED_OPS = frozenset(
    {"empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided"}
)
SMALL_NUMEL = 16
MAX_SMALL_OPS = 32
MAX_ITEMS = 64
_HOST_METHODS = ("tolist", "numpy", "__array__", "__dlpack__")


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, list | tuple):
        return [t for v in value for t in _tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    return []


def poison(value: Any) -> None:
    """Fill a freshly allocated tensor with a value no correct output holds by accident."""
    if not isinstance(value, torch.Tensor) or value.numel() == 0:
        return
    if value.is_floating_point() or value.is_complex():
        value.fill_(float("nan"))
    elif value.dtype == torch.bool:
        value.fill_(True)
    else:
        value.fill_(torch.iinfo(value.dtype).min)


def _storage_key(t: torch.Tensor) -> int | None:
    try:
        return int(t.untyped_storage().data_ptr()) or None
    except (RuntimeError, NotImplementedError):
        return None


class _ThreadMode(TorchDispatchMode):
    """The guard's eyes in a thread the candidate started."""

    def __init__(self, guard: ComputeGuard) -> None:
        super().__init__()
        self.guard = guard

    def __torch_dispatch__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        if self.guard.paused:
            return func(*args, **kwargs)
        self.guard._check(func, args, kwargs, thread=True)
        return self.guard._run(func, args, kwargs)


_AUDIT_EVENTS = {
    "sys.addaudithook": "installs an audit hook",
    "sys.setprofile": "installs a profile function",
    "sys.settrace": "installs a trace function",
}
_THREAD_STARTERS = (
    ("_thread", "start_new_thread"),
    ("_thread", "start_joinable_thread"),
    ("threading", "_start_new_thread"),
    ("threading", "_start_joinable_thread"),
)


class ComputeGuard(TorchDispatchMode):
    """Records ops; `strict` while forward runs. Install with `install()`."""

    def __init__(self) -> None:
        super().__init__()
        self.strict = False
        self.paused = 0  # the runner's own work (saving outputs, copying state)
        self.violations: list[str] = []
        self.ops: Counter[str] = Counter()
        self.small_ops = 0
        self.items = 0
        self.protected: set[int] = set()  # storages of the trial inputs
        self._seen = 0
        self._shadow: list[str] = []  # a second copy of the record (integrity)
        self._dispatch = type(self).__torch_dispatch__
        self._originals: dict[str, Callable[..., Any]] = {}
        self._thread_starters: dict[str, Callable[..., Any]] = {}
        self.uninstalled = False

    # --------------------------------------------------------------- records

    def _violate(self, text: str) -> None:
        if text not in self.violations:
            self.violations.append(text)
            self._shadow.append(text)

    def begin_forward(self) -> None:
        self.strict = True
        self.small_ops = 0
        self.items = 0

    def end_forward(self) -> None:
        self.strict = False

    def protect(self, values: list[Any]) -> None:
        self.protected = {k for t in _tensors(values) if (k := _storage_key(t)) is not None}

    # --------------------------------------------------------------- dispatch

    def __torch_dispatch__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        self._seen += 1
        if self.paused:
            return func(*args, **kwargs)
        self._check(func, args, kwargs)
        return self._run(func, args, kwargs)

    @staticmethod
    def _run(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        out = func(*args, **kwargs)
        if func.overloadpacket.__name__ in UNINITIALISED_OPS:
            poison(out)
        return out

    def _check(
        self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], thread: bool = False
    ) -> None:
        name = func.overloadpacket.__name__
        tensors = _tensors(args) + _tensors(kwargs)
        if thread and name not in ALLOWED_OPS:
            self._violate(f"aten.{name} ran on a thread the candidate started")
            return
        if not self.strict:
            if name not in ALLOWED_OPS and any(_storage_key(t) in self.protected for t in tensors):
                self._violate(f"aten.{name} read a trial input outside forward")
            return
        self.ops[name] += 1
        if name == "_local_scalar_dense":
            self.items += 1
            if self.items > MAX_ITEMS:
                self._violate(f"more than {MAX_ITEMS} .item() reads in one forward (a host loop)")
        if name in ALLOWED_OPS:
            return
        if all(t.numel() <= SMALL_NUMEL for t in tensors):
            self.small_ops += 1
            if self.small_ops <= MAX_SMALL_OPS:
                return
        biggest = max((t.numel() for t in tensors), default=0)
        self._violate(f"aten.{name} ran in forward outside a custom kernel (on {biggest} elements)")

    # --------------------------------------------------------------- host transfers

    def _wrap_host(self, method: str) -> None:
        original = getattr(torch.Tensor, method)
        self._originals[method] = original
        guard = self

        def wrapper(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            if guard.strict and not guard.paused and tensor.numel() > SMALL_NUMEL:
                guard._violate(
                    f"host transfer in forward: Tensor.{method}() of {tensor.numel()} elements"
                )
            return original(tensor, *args, **kwargs)

        wrapper.__name__ = method
        setattr(torch.Tensor, method, wrapper)
        setattr(self, f"_wrapped_{method.strip('_')}", wrapper)

    def _wrap_threads(self) -> None:

        guard = self

        def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
            def run(*args: Any, **kwargs: Any) -> Any:
                with _ThreadMode(guard):
                    return fn(*args, **kwargs)

            return run

        for module_name, attr in _THREAD_STARTERS:
            module = importlib.import_module(module_name)
            original = getattr(module, attr, None)
            if original is None:
                continue
            self._originals[f"{module_name}.{attr}"] = original

            def starter(fn: Any, *rest: Any, _original: Any = original, **kw: Any) -> Any:
                return _original(guarded(fn), *rest, **kw)

            setattr(module, attr, starter)
            self._thread_starters[f"{module_name}.{attr}"] = starter

    def _audit(self, event: str, args: tuple[Any, ...]) -> None:
        """Python's audit hooks (installed once, never removable): code that would run
        beside the runner's own work — another audit hook, a profile or trace function."""
        if event in _AUDIT_EVENTS and not self.uninstalled:
            self._violate(f"{_AUDIT_EVENTS[event]} ({event})")

    def install(self) -> ComputeGuard:

        if os.environ.get("TRITON_INTERPRET") == "1":
            interpreter_shims()
        for method in _HOST_METHODS:
            self._wrap_host(method)
        self._wrap_threads()
        sys.addaudithook(self._audit)
        self.__enter__()
        return self

    def uninstall(self) -> None:
        """Undo `install()` (the runner's last act; in-process benchmarks run it again)."""

        self.uninstalled = True
        for name, original in self._originals.items():
            if "." in name:
                module_name, attr = name.rsplit(".", 1)
                setattr(importlib.import_module(module_name), attr, original)
            else:
                setattr(torch.Tensor, name, original)
        if self in _get_current_dispatch_mode_stack():
            self.__exit__(None, None, None)

    # --------------------------------------------------------------- integrity

    def intact(self) -> str | None:
        """None if the guard is still in place and its record unchanged, else what is wrong."""
        stack = _get_current_dispatch_mode_stack()
        if not stack or stack[-1] is not self or len(stack) != 1:
            return "the dispatch guard is no longer the only mode on the dispatch stack"
        if type(self).__torch_dispatch__ is not self._dispatch:
            return "the dispatch guard's handler was replaced"
        for method in _HOST_METHODS:
            if getattr(torch.Tensor, method) is not getattr(self, f"_wrapped_{method.strip('_')}"):
                return f"torch.Tensor.{method} was replaced"

        for name, starter in self._thread_starters.items():
            module_name, attr = name.rsplit(".", 1)
            if getattr(importlib.import_module(module_name), attr, None) is not starter:
                return f"{name} was replaced"
        if self.violations != self._shadow:
            return "the guard's record was altered"
        return None

    def summary(self) -> dict[str, Any]:
        return {
            "violations": list(self.violations),
            "ops": dict(self.ops),
            "seen": self._seen,
            "intact_error": self.intact(),
        }
