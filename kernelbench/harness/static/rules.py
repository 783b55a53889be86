"""The tables of the static check (kernelbench.harness.static.check): what a kernel file may import,
which names and attributes it may never touch, and how a resolved torch name is judged."""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from kernelbench.harness.static.allowlist import ALLOWED_ROOTS
from kernelbench.harness.static.names import lookup

# Top-level modules a kernel file may import. Anything else (threads, processes, files,
# ctypes, gc, inspect, importlib, numpy, sys, kernelwright's own packages, the problem)
# is refused: a kernel needs none of them, and each is a way around the harness. What may
# be reached inside these (and through their re-exports) is kernelbench.harness.static.allowlist.
ALLOWED_IMPORTS = ALLOWED_ROOTS
# os is imported for `os.environ.get("TRITON_INTERPRET")`-style checks only.
OS_ALLOWED = frozenset({"os", "os.environ", "os.environ.get", "os.getenv"})

# Parts of torch a candidate may not touch at all, with why (prefix match).
BANNED_TORCH = {
    "torch.ops": "calls ATen operators directly",
    "torch.library": "registers operators",
    "torch.overrides": "overrides torch functions",
    "torch.compile": "compiles with torch (not a custom kernel)",
    "torch.jit": "TorchScript computes with torch ops",
    "torch.fx": "rewrites torch programs",
    "torch.func": "functional transforms of torch ops",
    "torch.vmap": "functional transforms of torch ops",
    "torch.export": "exports torch programs",
    "torch.hub": "downloads code",
    "torch.save": "writes files",
    "torch.load": "reads files",
    "torch.multiprocessing": "starts processes",
    "torch.distributed": "talks to other processes",
    "torch.testing": "a test utility, not a kernel",
    "torch.nn.modules.module": "module-level hook registration",
    "torch.utils.hooks": "hooks",
    "torch.autograd.graph": "autograd hooks",
    "torch.manual_seed": "sets the RNG (trial inputs never come from it)",
    "torch.seed": "touches the RNG",
    "torch.initial_seed": "reads the RNG seed",
    "torch.random": "touches the RNG",
    "torch.get_rng_state": "reads the RNG state",
    "torch.set_rng_state": "sets the RNG state",
    "torch.cuda.manual_seed": "sets the RNG",
    "torch.cuda.manual_seed_all": "sets the RNG",
    "torch.cuda.initial_seed": "reads the RNG seed",
    "torch.set_default_device": "changes global torch state",
}

# RNG calls: refused anywhere, except in the file's own never-called get_inputs (issue 30).
RNG_TORCH = frozenset(
    {"torch.manual_seed", "torch.seed", "torch.initial_seed", "torch.get_rng_state",
     "torch.set_rng_state", "torch.cuda.manual_seed", "torch.cuda.manual_seed_all",
     "torch.cuda.initial_seed"}
)  # fmt: skip
# Builtins that look a name up: called with a literal name they resolve like an attribute;
# passed on as values (`functools.reduce(getattr, names, mod)`) no check can follow them.
NAME_LOOKUPS = frozenset({"getattr", "setattr", "delattr"})

# Torch callables host code may use: allocation and factories, copies, device queries,
# module and parameter containers, the extension builder.
FACTORIES = frozenset(
    {"empty", "empty_like", "empty_strided", "zeros", "zeros_like", "ones", "ones_like",
     "full", "full_like", "arange", "tensor", "as_tensor", "scalar_tensor", "cat", "stack",
     "is_tensor", "is_floating_point", "get_default_dtype", "finfo", "iinfo", "promote_types",
     "no_grad", "inference_mode", "enable_grad", "set_grad_enabled", "device", "Size", "numel",
     "broadcast_shapes", "broadcast_tensors", "broadcast_to", "is_grad_enabled", "result_type",
     "can_cast", "is_complex", "is_nonzero", "get_default_device"}
)  # fmt: skip
ALLOWED_TORCH_PREFIXES = (
    "torch.cuda.",
    "torch.backends.",
    "torch.nn.init.",
    "torch.utils.cpp_extension.",
    "torch.version.",
)
STREAM_APIS = frozenset(
    {"torch.cuda.Stream", "torch.cuda.stream", "torch.cuda.Event", "torch.cuda.CUDAGraph",
     "torch.cuda.graph", "torch.cuda.graphs", "torch.cuda.ExternalStream",
     "torch.cuda.set_stream", "torch.cuda.make_graphed_callables"}
)  # fmt: skip

TRITON_KERNEL_DECORATORS = frozenset(
    {"triton.jit", "triton.autotune", "triton.heuristics", "triton.runtime.jit",
     "triton.runtime.autotune", "triton.runtime.heuristics", "triton.runtime.jit.jit",
     "triton.runtime.autotuner.autotune", "triton.runtime.autotuner.heuristics"}
)  # fmt: skip
ALLOWED_DECORATORS = frozenset(
    {"staticmethod", "classmethod", "property", "functools.lru_cache", "functools.cache",
     "functools.wraps", "torch.no_grad", "torch.inference_mode"}
)  # fmt: skip

# torch.nn names that only hold parameters or modules (never compute when built or kept).
NN_HOLDERS = frozenset(
    {"Module", "Parameter", "ParameterList", "ParameterDict", "ModuleList", "ModuleDict",
     "Buffer", "Identity"}
)  # fmt: skip

# Builtins that execute strings, reach other scopes or files.
BANNED_CALLS = {
    "eval": "executes a string",
    "exec": "executes a string",
    "compile": "compiles a string",
    "__import__": "imports by a computed name",
    "open": "opens files",
    "vars": "reads a scope's namespace",
    "globals": "reads the module namespace",
    "locals": "reads a frame's namespace",
    "breakpoint": "enters a debugger",
    "memoryview": "reads raw memory",
    "exit": "ends the process",
    "quit": "ends the process",
}
# Attributes (and names) of Python's object, frame and code machinery, and torch's hooks.
BANNED_ATTRS = frozenset(
    {"__closure__", "__globals__", "__code__", "__builtins__", "__dict__", "__subclasses__",
     "__bases__", "__mro__", "__class__", "__self__", "__func__", "__wrapped__", "__loader__",
     "__spec__", "__file__", "__reduce__", "__reduce_ex__", "__setstate__", "__getstate__",
     "__new__", "__init_subclass__", "__set_name__", "__class_getitem__", "__getattr__",
     "__getattribute__", "__setattr__", "__delattr__", "__call__", "__del__",
     "__instancecheck__", "__subclasshook__", "__torch_function__", "__torch_dispatch__",
     "__array__", "__array_function__", "__array_ufunc__", "__dlpack__",
     "f_back", "f_globals", "f_locals", "f_code", "f_builtins", "tb_frame", "tb_next",
     "__traceback__", "gi_frame", "cr_frame", "ag_frame", "co_consts", "mro",
     "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
     "register_backward_hook", "register_full_backward_pre_hook",
     "register_module_forward_hook", "register_module_forward_pre_hook",
     "_forward_hooks", "_forward_pre_hooks", "_global_forward_hooks",
     "untyped_storage", "storage", "_storage", "_typed_storage",
     # function state that can hold other modules (`def f(x, _os=os)`)
     "__defaults__", "__kwdefaults__"}
)  # fmt: skip

# Tensor methods that do a problem's heavy lifting, refused by name in host code (the
# runtime guard sees the rest, elementwise ones included).
HEAVY_METHODS = frozenset(
    {"mm", "bmm", "matmul", "addmm", "baddbmm", "addbmm", "einsum", "tensordot", "conv1d",
     "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
     "softmax", "log_softmax", "linear", "layer_norm", "group_norm", "batch_norm",
     "instance_norm", "rms_norm", "scaled_dot_product_attention", "cumsum", "cumprod",
     "logsumexp",
     # a Python callable per element: no aten op runs, so no dispatch guard sees it
     "apply_", "map_", "map2_"}
)  # fmt: skip

# ATen calls in C++/CUDA sources: allocation is fine, compute is not.
_CPP_CALL = re.compile(r"\b(?:torch|at)::([a-z_]\w*)\s*\(")
_CPP_METHOD = re.compile(r"\.(" + "|".join(sorted(HEAVY_METHODS)) + r")\s*\(")
CPP_ALLOWED = frozenset(
    {"empty", "empty_like", "empty_strided", "zeros", "zeros_like", "ones", "ones_like",
     "full", "full_like", "arange", "from_blob", "device", "dtype", "scalarTypeToTypeMeta"}
)  # fmt: skip


def cuda_compute_calls(text: str) -> list[str]:
    """ATen compute calls in a C++/CUDA source (`torch::matmul(`, `x.softmax(`)."""
    found = [
        f"torch::{m.group(1)}" for m in _CPP_CALL.finditer(text) if m.group(1) not in CPP_ALLOWED
    ]
    found += [f".{m.group(1)}()" for m in _CPP_METHOD.finditer(text)]
    return found


def torch_host_verdict(path: str) -> str | None:
    """Why host code may not use `path` ("banned: ..." anywhere, or a compute function),
    or None where it may."""
    root = path.split(".", maxsplit=1)[0]
    if root == "os":
        return None if path in OS_ALLOWED else f"banned: {path} touches the process or its files"
    if root != "torch":
        return None
    parts = path.split(".")
    if any(part.startswith("_") and not part.startswith("__") for part in parts[1:]):
        return "banned: private torch internals"
    for prefix, why in BANNED_TORCH.items():
        if path == prefix or path.startswith(prefix + "."):
            return f"banned: {why}"
    if path in STREAM_APIS or path.startswith(ALLOWED_TORCH_PREFIXES):
        return None
    obj = lookup(path)
    if obj is None or inspect.ismodule(obj) or isinstance(obj, type):
        return None  # a submodule, a class (Tensor, Size, nn layers, Parameter), or unknown
    if not callable(obj):
        return None  # dtypes and constants
    if parts[-1] in FACTORIES and len(parts) == 2:
        return None
    return "a torch compute function"


@dataclass
class StaticReport:
    backend: str
    violations: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    kernels: list[str] = field(default_factory=list)


def banned_root(module: str) -> str:
    """The longest BANNED_TORCH prefix of `module`."""
    return max((b for b in BANNED_TORCH if module == b or module.startswith(b + ".")), key=len)


def mark_stored(values: Sequence[ast.expr | None]) -> None:
    """Names and attributes put into a container are values stored away (a module kept in
    a list or a dict is refused where it is used: kernelbench.harness.static.visitor)."""
    for value in values:
        if isinstance(value, ast.Name | ast.Attribute):
            value._kw_stored = True  # type: ignore[union-attr]


def parse_annotation(node: ast.Constant) -> ast.expr | None:
    """A string annotation as the code it may be evaluated as (None: not an expression)."""
    try:
        parsed = ast.parse(str(node.value).strip(), mode="eval").body
    except SyntaxError:
        return None
    for inner in ast.walk(parsed):
        inner.lineno = getattr(node, "lineno", 0)  # type: ignore[attr-defined]
    return parsed
