"""Compile a candidate's Triton kernels ahead of time for a GPU arch, without a GPU.

Two halves:

* `extract_kernels(source)` (pure `ast`, runs nothing; safe in the caller) rebuilds the
  candidate file keeping only what its `@triton.jit` kernels need: imports of triton and
  math, module-level constants that are literals or `tl.constexpr(<literal>)`, and the
  jit-decorated functions with decorators reduced to `@triton.jit(<literal options>)`,
  parameter defaults reduced to literals and annotations to names. No candidate
  module-level code survives, so importing the result only defines kernels. Its text is
  what the compile cache keys Triton entries by.
* `compile_launch(module, record, arch)` (inside the profile step, in the sandbox: Triton's
  code generator evaluates the kernel body at compile time) specializes exactly as
  Triton's launcher does for the recorded arguments — pointer alignment, integer
  divisibility by 16, integers equal to 1 — with the recorded constexprs, num_warps,
  num_stages and options, and runs `triton.compile` for the target. Triton's ptxas runs
  with `-v`; its log is captured.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from profiler.gpus import arch_limits
from profiler.launches import LaunchRecord

ALLOWED_IMPORT_ROOTS = {"triton", "math", "__future__"}
JIT_DECORATORS = {"jit", "constexpr_function"}
JIT_OPTIONS = {"do_not_specialize", "do_not_specialize_on_alignment", "debug", "noinline"}
TRITON_OPTIONS = {
    "num_ctas",
    "maxnreg",
    "enable_fp_fusion",
    "launch_cooperative_grid",
    "launch_pdl",
}


@dataclass
class ExtractedKernels:
    text: str  # a module defining only the kernels and what they need
    kernels: list[str]  # @triton.jit function names
    dropped: list[str]  # module-level statements left out (for the notes)


def dotted(node: ast.AST) -> str | None:
    """`a.b.c` for a Name/Attribute chain, else None (shared with the static check)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _is_literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _jit_decorator(dec: ast.expr) -> ast.expr | None:
    """`@triton.jit`, `@jit`, `@triton.jit(...)`, `@triton.constexpr_function` -> a clean
    decorator (literal options only); any other decorator -> None."""
    target = dec.func if isinstance(dec, ast.Call) else dec
    name = dotted(target)
    if name is None or name.rsplit(".", 1)[-1] not in JIT_DECORATORS:
        return None
    attr = name.rsplit(".", 1)[-1]
    clean_target = ast.Attribute(value=ast.Name(id="triton", ctx=ast.Load()), attr=attr)
    if not isinstance(dec, ast.Call):
        return clean_target
    keywords = [
        kw
        for kw in dec.keywords
        if kw.arg in JIT_OPTIONS and kw.value is not None and _is_literal(kw.value)
    ]
    return ast.Call(func=clean_target, args=[], keywords=keywords)


def _clean_annotation(node: ast.expr | None) -> ast.expr | None:
    if node is None:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node
    return node if dotted(node) is not None else None


def _clean_function(fn: ast.FunctionDef) -> ast.FunctionDef | None:
    decorators = [d for d in (_jit_decorator(dec) for dec in fn.decorator_list) if d is not None]
    if not decorators:
        return None
    args = fn.args
    for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
        arg.annotation = _clean_annotation(arg.annotation)
    for extra in (args.vararg, args.kwarg):
        if extra is not None:
            extra.annotation = None
    args.defaults = [
        d if _is_literal(d) or dotted(d) else ast.Constant(None) for d in args.defaults
    ]
    args.kw_defaults = [
        d if d is None or _is_literal(d) or dotted(d) else ast.Constant(None)
        for d in args.kw_defaults
    ]
    fn.decorator_list = decorators[:1]
    fn.returns = None
    return fn


def _jit_call(stmt: ast.stmt, plain: dict[str, ast.FunctionDef]) -> list[ast.stmt] | None:
    """`k = triton.jit(f)` (f an undecorated module-level function): f as a kernel, and k
    bound to it."""
    if not (
        isinstance(stmt, ast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], ast.Name)
        and isinstance(stmt.value, ast.Call)
        and len(stmt.value.args) == 1
        and isinstance(stmt.value.args[0], ast.Name)
        and stmt.value.args[0].id in plain
    ):
        return None
    call = stmt.value
    target = call.args[0]
    decorator = _jit_decorator(ast.Call(func=call.func, args=[], keywords=call.keywords))
    if decorator is None or not isinstance(target, ast.Name):
        return None
    fn = plain[target.id]
    fn.decorator_list = [decorator]
    clean = _clean_function(fn)
    if clean is None:
        return None
    alias = ast.Assign(targets=stmt.targets, value=ast.Name(id=fn.name, ctx=ast.Load()))
    return [clean, alias]


def _constant_value(node: ast.expr) -> bool:
    """A literal, or tl.constexpr(<literal>) / triton.language.constexpr(<literal>)."""
    if _is_literal(node):
        return True
    if isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords:
        name = dotted(node.func) or ""
        return name.endswith("constexpr") and _is_literal(node.args[0])
    return False


def extract_kernels(source: str) -> ExtractedKernels:
    """The kernels of a candidate file as a standalone module (raises SyntaxError)."""
    tree = ast.parse(source)
    body: list[ast.stmt] = [
        ast.Import(names=[ast.alias(name="triton")]),
        ast.Import(names=[ast.alias(name="triton.language", asname="tl")]),
    ]
    kernels: list[str] = []
    dropped: list[str] = []
    plain: dict[str, ast.FunctionDef] = {}  # undecorated functions (`k = triton.jit(f)`)
    for stmt in tree.body:
        if isinstance(stmt, ast.Import):
            names = [a for a in stmt.names if a.name.split(".")[0] in ALLOWED_IMPORT_ROOTS]
            if names:
                body.append(ast.Import(names=names))
        elif isinstance(stmt, ast.ImportFrom):
            root = (stmt.module or "").split(".")[0]
            if stmt.level == 0 and root in ALLOWED_IMPORT_ROOTS:
                body.append(stmt)
        elif isinstance(stmt, ast.FunctionDef):
            clean = _clean_function(stmt)
            if clean is not None:
                body.append(clean)
                kernels.append(stmt.name)
            else:
                plain[stmt.name] = stmt
        elif (jitted := _jit_call(stmt, plain)) is not None:
            body.extend(jitted)
            kernels.append(stmt.value.args[0].id)  # type: ignore[attr-defined]
        elif (
            isinstance(stmt, ast.Assign)
            and all(isinstance(t, ast.Name) for t in stmt.targets)
            and _constant_value(stmt.value)
        ):
            body.append(stmt)
        elif (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and stmt.value is not None
            and _constant_value(stmt.value)
        ):
            body.append(ast.Assign(targets=[stmt.target], value=stmt.value, lineno=stmt.lineno))
        elif not isinstance(stmt, ast.Expr | ast.ClassDef):
            dropped.append(f"line {stmt.lineno}: {type(stmt).__name__}")
    seen: set[str] = set()
    unique: list[ast.stmt] = []
    for stmt in body:  # the header imports may repeat the candidate's own
        dump = ast.dump(stmt)
        if isinstance(stmt, ast.Import | ast.ImportFrom) and dump in seen:
            continue
        seen.add(dump)
        unique.append(stmt)
    module = ast.Module(body=unique, type_ignores=[])
    text = (
        '"""Kernels extracted by kernelwright from a candidate (definitions only)."""\n'
        + ast.unparse(ast.fix_missing_locations(module))
        + "\n"
    )
    return ExtractedKernels(text=text, kernels=kernels, dropped=dropped)


def load_kernel_module(path: Path, name: str = "kw_kernels") -> ModuleType:
    """Import an extracted kernels file (Triton needs the kernels in a real .py file)."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class _FakePointer:
    """Stands in for a tensor argument: Triton's specializer reads `dtype` and `data_ptr()`
    (16-byte alignment decides the `tt.divisibility` attribute; torch allocations are
    256-byte aligned, views need not be)."""

    def __init__(self, dtype: str, aligned: bool) -> None:
        self.dtype = dtype
        self._ptr = 0 if aligned else 4

    def data_ptr(self) -> int:
        return self._ptr


def _constexpr_value(value: Any) -> Any:
    if isinstance(value, dict):
        import triton.language as tl  # noqa: PLC0415 - heavy library, imported where used

        if "tl_dtype" in value:
            return tl.str_to_ty(value["tl_dtype"], None)
    return value


def _argument(ty: str, name: str, record: LaunchRecord) -> Any:
    if ty.startswith("*"):
        return _FakePointer(ty[1:], name not in record.unaligned)
    if ty.startswith("i") or ty.startswith("u"):
        if ty == "i1":
            return bool(record.int_args.get(name, 1))
        return int(record.int_args.get(name, 1 << 20))  # unknown: a large, 16-divisible int
    return 1.5  # floats are never specialized


@dataclass
class TritonCompiled:
    kernel: str
    cubin: bytes
    ptxas_log: str
    shared_mem_bytes: int
    num_warps: int
    num_stages: int
    arch: str


class AotCompileError(RuntimeError):
    """triton.compile failed for the target (the message is Triton's, first lines)."""

    refused = False


class AotSourceRefused(AotCompileError):
    """Triton's front end refused the kernel's body for the target: it is not the Triton
    language (e.g. Python that only the interpreter runs), so no GPU could run it."""

    refused = True


def compile_launch(module: ModuleType, record: LaunchRecord, arch: str) -> TritonCompiled:
    """Compile one recorded launch of a kernel defined in `module` for `arch`."""
    import triton  # noqa: PLC0415 - heavy library, imported where used
    from triton import knobs  # noqa: PLC0415 - heavy library, imported where used
    from triton.backends.compiler import GPUTarget  # noqa: PLC0415 - heavy library, imported where used
    from triton.compiler import ASTSource  # noqa: PLC0415 - heavy library, imported where used
    from triton.compiler.compiler import make_backend  # noqa: PLC0415 - heavy library, imported where used
    from triton.compiler.errors import CompilationError  # noqa: PLC0415 - heavy library, imported where used
    from triton.runtime.jit import JITFunction, create_function_from_signature  # noqa: PLC0415 - heavy library, imported where used

    warnings.filterwarnings("ignore", message="TRITON_DEFAULT_FP_FUSION")
    fn = getattr(module, record.kernel, None)
    if not isinstance(fn, JITFunction):
        raise AotCompileError(f"{record.kernel} is not a @triton.jit kernel of the candidate file")
    limits = arch_limits(arch)
    target = GPUTarget("cuda", limits.capability, 32)
    backend = make_backend(target)
    binder = create_function_from_signature(fn.signature, fn.params, backend)
    args: dict[str, Any] = {}
    for param in fn.params:
        name = param.name
        if name in record.constexprs:
            args[name] = _constexpr_value(record.constexprs[name])
        elif name in record.signature:
            args[name] = _argument(record.signature[name], name, record)
        elif not param.has_default:
            raise AotCompileError(f"{record.kernel}: no recorded value for argument {name!r}")
    options = {"num_warps": record.num_warps, "num_stages": record.num_stages}
    options.update({k: v for k, v in record.options.items() if k in TRITON_OPTIONS})
    bound, specialization, opts = binder(**args, **options)
    parsed, signature, constexprs, attrs = fn._pack_args(
        backend, dict(options), bound, specialization, opts
    )
    log = io.StringIO()
    knobs.nvidia.dump_ptxas_log = True  # Triton prints ptxas -v output; we capture it
    try:
        with contextlib.redirect_stdout(log), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compiled = triton.compile(
                ASTSource(fn, signature, constexprs, attrs),
                target=target,
                options=parsed.__dict__,
            )
    except Exception as exc:
        text = f"{type(exc).__name__}: {exc}".strip()
        first = "\n".join(text.splitlines()[:12])[:2000]
        if isinstance(exc, CompilationError):
            raise AotSourceRefused(first) from exc
        raise AotCompileError(first) from exc
    return TritonCompiled(
        kernel=record.kernel,
        cubin=compiled.asm["cubin"],
        ptxas_log=log.getvalue(),
        shared_mem_bytes=int(compiled.metadata.shared),
        num_warps=int(compiled.metadata.num_warps),
        num_stages=int(compiled.metadata.num_stages),
        arch=limits.arch,
    )
