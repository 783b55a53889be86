"""The allowlist of the static check: which modules, and which attribute paths into them, a
kernel file may reach (issue 28, point 4).

A kernel file needs the tensor and allocation surface of torch, `torch.nn`, the CUDA C
extension builder, triton and `triton.language` (with libdevice), and a little of the
standard library (math, typing, functools...). Many of those modules hold other modules
as attributes (`typing.sys`, `warnings.sys`, `triton.testing.sys`, `triton.language.core.
builtins`, `triton.runtime.build.subprocess`): a denylist of import names is walked around
through any of them. So every attribute path rooted at an imported module is resolved
here, one attribute at a time, against the real objects (importing only allowed modules):

* a value that is a module must be one of ALLOWED_MODULES (by the module's real name, so
  no alias or re-export changes the answer);
* a module listed in MODULE_ATTRS gives only the attributes listed there;
* a private or dunder name is refused (bar a few harmless dunders);
* a function or class defined in a module outside ALLOWED_ORIGINS (a re-export of
  `subprocess.run`, `_thread.RLock`, `types.CodeType`...) is refused, and so are a few
  named objects that evaluate strings or reach other scopes (`typing.get_type_hints`,
  builtins such as `getattr` or `eval` re-exported under another name);
* a container (dict, list, tuple, set) that holds a module outside the allowlist is
  refused (a subscript would reach it), and so is a method call on a module's mutable
  container (that changes the module's state);
* a path that cannot be resolved here is refused: what cannot be checked is not allowed.

`path_verdict(path)` is None where a path may be used, else the reason it may not.
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import types
from functools import lru_cache
from typing import Any

__all__ = [
    "ALLOWED_MODULES",
    "ALLOWED_ROOTS",
    "UNRESOLVED",
    "is_module_path",
    "path_verdict",
    "resolve_path",
]

# Top-level modules a kernel file may import.
ALLOWED_ROOTS = frozenset(
    {"torch", "triton", "math", "functools", "typing", "typing_extensions", "dataclasses",
     "itertools", "collections", "enum", "numbers", "abc", "__future__", "os", "warnings",
     "cupy"}
)  # fmt: skip

# Roots a GPU machine has and this one may not: where absent, only their listed names pass.
OPTIONAL_ROOTS = frozenset({"cupy"})

# Every module a path may pass through or end at, by its real `__name__`.
ALLOWED_MODULES = frozenset(
    {
        # torch: tensors, allocation, nn containers and layers, device queries, the
        # extension builder; the compute namespaces (judged by the torch rules, allowed as
        # warnings under allow_torch_ops)
        "torch", "torch.nn", "torch.nn.functional", "torch.nn.init", "torch.nn.parameter",
        "torch.nn.modules", "torch.nn.modules.activation", "torch.nn.modules.batchnorm",
        "torch.nn.modules.container", "torch.nn.modules.conv", "torch.nn.modules.dropout",
        "torch.nn.modules.linear", "torch.nn.modules.normalization",
        "torch.nn.modules.pooling", "torch.nn.modules.rnn", "torch.nn.modules.sparse",
        "torch.nn.modules.utils", "torch.nn.modules.flatten", "torch.nn.modules.padding",
        "torch.cuda", "torch.backends", "torch.backends.cuda", "torch.backends.cudnn",
        "torch.version", "torch.utils", "torch.utils.cpp_extension", "torch.types",
        "torch.linalg", "torch.special", "torch.fft", "torch.functional", "torch.autograd",
        "torch.autograd.function", "torch.amp",
        # triton: the decorators, Config, the language and its math libraries
        "triton", "triton.language", "triton.language.math", "triton.language.random",
        "triton.language.extra", "triton.language.extra.libdevice",
        "triton.language.extra.cuda", "triton.language.extra.cuda.libdevice",
        "triton.language.extra.hip", "triton.language.extra.hip.libdevice",
        "triton.runtime", "triton.runtime.jit", "triton.runtime.autotuner",
        "triton.testing",  # do_bench only (a `__main__` benchmark block in public kernels)
        # the standard library a kernel file may use
        "math", "functools", "typing", "typing_extensions", "dataclasses", "itertools",
        "collections", "collections.abc", "enum", "numbers", "abc", "__future__", "os",
        "warnings",
        "cupy",
    }
)  # fmt: skip

# Modules that give only the attributes named here (others: any public, non-module name).
MODULE_ATTRS: dict[str, frozenset[str]] = {
    "triton": frozenset(
        {
            "jit",
            "autotune",
            "heuristics",
            "Config",
            "cdiv",
            "next_power_of_2",
            "language",
            "runtime",
            "testing",
            "JITFunction",
            "KernelInterface",
            "TritonError",
            "CompilationError",
            "OutOfResources",
            "InterpreterError",
            "constexpr_function",
            "must_use_result",
            "aggregate",
            "set_allocator",
            "reinterpret",
            "TensorWrapper",
            "MockTensor",
        }
    ),
    "triton.runtime": frozenset(
        {
            "jit",
            "autotune",
            "heuristics",
            "Config",
            "Autotuner",
            "Heuristics",
            "JITFunction",
            "KernelInterface",
            "OutOfResources",
            "InterpreterError",
            "driver",
            "autotuner",
        }
    ),
    "triton.runtime.jit": frozenset({"jit", "JITFunction", "KernelInterface"}),
    "triton.testing": frozenset({"do_bench"}),
    "triton.runtime.autotuner": frozenset({"autotune", "heuristics", "Config", "Autotuner"}),
    "torch.utils": frozenset({"cpp_extension"}),
    "torch.utils.cpp_extension": frozenset({"load_inline", "load", "include_paths", "CUDA_HOME"}),
    "torch.backends": frozenset({"cuda", "cudnn"}),
    "os": frozenset({"environ", "getenv"}),
    "warnings": frozenset({"warn", "catch_warnings", "simplefilter", "filterwarnings"}),
    "__future__": frozenset({"annotations"}),
    # kernels, the zero-copy view that hands a torch tensor's pointer to one, scalar types
    # for kernel arguments; cupy's compute functions would compute unseen
    "cupy": frozenset({"RawKernel", "RawModule", "asarray", "int32", "int64", "float32"}),
}
# Names refused in every module (they evaluate strings, or read another scope's namespace).
DENIED_ATTRS = frozenset(
    {"get_type_hints", "ForwardRef", "evaluate_forward_ref", "get_annotations",
     "make_dataclass", "singledispatch", "singledispatchmethod"}
)  # fmt: skip
# Dunders a path may name: they reach nothing outside the object.
ALLOWED_DUNDERS = frozenset({"__init__", "__name__", "__qualname__", "__doc__", "__version__"})

# Where a reachable function or class may be defined (its `__module__`, first part).
ALLOWED_ORIGINS = ALLOWED_ROOTS | {
    "builtins", "_functools", "_collections", "_collections_abc", "_abc", "_warnings",
}  # fmt: skip
_TYPES_OK = frozenset({types.GenericAlias, types.UnionType, types.NoneType, types.SimpleNamespace})
# Builtins that run strings, read scopes or look names up: refused under any other name.
_DENIED_BUILTINS = frozenset(
    id(getattr(builtins, name))
    for name in ("eval", "exec", "compile", "open", "__import__", "getattr", "setattr",
                 "delattr", "vars", "globals", "locals", "breakpoint", "input", "memoryview",
                 "exit", "quit", "help")
    if hasattr(builtins, name)
)  # fmt: skip
_MUTABLE = (dict, list, set, bytearray)
UNRESOLVED = "cannot be resolved here, so it cannot be checked"
_SCAN_LIMIT = 50_000


class Unresolved(Exception):
    """The path names nothing that can be found here."""


def _import_allowed(name: str) -> Any:
    if name not in ALLOWED_MODULES:
        raise Unresolved(name)
    try:
        return importlib.import_module(name)
    except Exception as exc:
        raise Unresolved(name) from exc


def _origin(value: Any) -> str | None:
    """The module a function or class was defined in (None for plain data)."""
    if inspect.ismodule(value):
        return None
    if isinstance(value, type) or callable(value):
        mod = getattr(value, "__module__", None)
        return mod if isinstance(mod, str) else None
    return None


def _held_module(value: Any) -> str | None:
    """The name of a module outside the allowlist held in a container, if any."""
    if isinstance(value, dict):
        items: Any = list(dict.values(value))
    elif isinstance(value, list | tuple | set | frozenset):
        items = list(value)
    else:
        return None
    for i, item in enumerate(items):
        if i >= _SCAN_LIMIT:
            return "(a container too large to check)"
        if inspect.ismodule(item) and item.__name__ not in ALLOWED_MODULES:
            return item.__name__
        if id(item) in _DENIED_BUILTINS:
            return f"builtins.{getattr(item, '__name__', '?')}"
    return None


def _value_verdict(shown: str, value: Any) -> str | None:
    if inspect.ismodule(value):
        if value.__name__ not in ALLOWED_MODULES:
            return f"{shown} is the module {value.__name__}, which a kernel file may not reach"
        return None
    if id(value) in _DENIED_BUILTINS:
        return f"{shown} is builtins.{getattr(value, '__name__', '?')} under another name"
    origin = _origin(value)
    if origin is not None:
        root = origin.split(".", maxsplit=1)[0]
        if root == "types" and any(value is ok for ok in _TYPES_OK):
            return None
        if root not in ALLOWED_ORIGINS:
            return f"{shown} comes from the module {origin}, which a kernel file may not reach"
    if origin is None and not isinstance(value, type):
        kind = type(value).__module__
        root = kind.split(".", maxsplit=1)[0] if isinstance(kind, str) else ""
        if root not in ALLOWED_ORIGINS:
            return f"{shown} is an object of the module {kind}, which a kernel file may not reach"
    held = _held_module(value)
    if held is not None:
        return f"{shown} holds the module {held}, which a kernel file may not reach"
    return None


@lru_cache(maxsize=4096)
def _walk(path: str) -> tuple[Any, str | None]:
    """(object, None) for an allowed path, (None, reason) otherwise."""
    parts = path.split(".")
    root = parts[0]
    if root not in ALLOWED_ROOTS:
        return None, f"{root} is not a module a kernel file needs"
    for i, part in enumerate(parts[1:], start=1):
        if part.startswith("_") and part not in ALLOWED_DUNDERS:
            return None, f"{'.'.join(parts[: i + 1])}: a private or dunder name"
        if part in DENIED_ATTRS:
            return None, f"{'.'.join(parts[: i + 1])} evaluates strings or reads other scopes"
    try:
        obj: Any = _import_allowed(root)
    except Unresolved:
        if root in OPTIONAL_ROOTS:  # a GPU-only library this machine lacks: its listed names
            return _optional_standin(parts)
        return None, f"{root} cannot be imported here, so its use cannot be checked"
    for i, part in enumerate(parts[1:], start=1):
        shown = ".".join(parts[: i + 1])
        if isinstance(obj, _MUTABLE):
            return None, f"{shown}: calls into an imported module's state"
        if inspect.ismodule(obj):
            allowed = MODULE_ATTRS.get(obj.__name__)
            if allowed is not None and part not in allowed:
                return None, f"{shown} is not something a kernel file needs from {obj.__name__}"
        try:
            nxt = getattr(obj, part)
        except Exception:  # noqa: BLE001 - lazy attributes may raise anything
            nxt = None
            if inspect.ismodule(obj):
                try:
                    nxt = _import_allowed(f"{obj.__name__}.{part}")
                except Unresolved:
                    nxt = None
            if nxt is None:
                return None, f"{shown} {UNRESOLVED}"
        why = _value_verdict(shown, nxt)
        if why is not None:
            return None, why
        obj = nxt
    return obj, None


def _optional_standin(parts: list[str]) -> tuple[Any, str | None]:
    """`cupy` and its listed names where cupy is not installed (a CUDA C candidate on a
    CPU machine is compiled, not run): stand-ins, so the file is judged as it would be."""
    module = types.ModuleType(parts[0])
    if len(parts) == 1:
        return module, None
    if len(parts) == 2 and parts[1] in MODULE_ATTRS.get(parts[0], frozenset()):
        return type(parts[1], (), {}), None
    return None, f"{'.'.join(parts)} is not something a kernel file needs from {parts[0]}"


def path_verdict(path: str) -> str | None:
    """None if a kernel file may use the attribute path, else why not."""
    return _walk(path)[1]


def resolve_path(path: str) -> Any:
    """The object an allowed path names (None if refused)."""
    return _walk(path)[0]


def is_module_path(path: str) -> bool:
    """True if the allowed path names a module object."""
    obj, why = _walk(path)
    return why is None and inspect.ismodule(obj)
