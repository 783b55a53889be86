"""Static checks on a candidate's source, before anything runs (AST only, nothing executed).

Defence in depth: the runtime compute guard (kernelbench.runner.guard) sees what actually
runs; this check refuses what a kernel never needs, so the runtime layer is not the only
one. Every function body in the file is read — module level, nested, lambdas, other
classes, `__init__` — with names resolved through imports and aliases
(kernelbench.static_names). Findings:

* `CandidateFileError` — not a candidate (syntax error, no `class ModelNew`): compile_error.
* violations (`rejected`, the first one is the reason):
  - imports outside ALLOWED_IMPORTS (threads, processes, files, ctypes, gc, inspect,
    importlib, numpy, our own packages, the problem...), `torch._*`, `torch.ops`,
    `torch.library`, `torch.compile`, `torch.jit`, `torch.fx`, module-hook registration;
  - meta-programming: eval/exec/compile/__import__/open/vars/globals/locals, getattr/
    setattr/delattr with a computed name (except on `self`), frame/traceback/code/closure
    attributes, `__dict__`, `__class__`, `__torch_function__`/`__torch_dispatch__`,
    metaclasses, class decorators, decorators other than triton's jit/autotune/heuristics
    (resolved, not by name) and a few plain ones, assignments to any imported module's
    attributes (under any alias) or to a class's attributes outside its body, any binding
    of `ModelNew` other than its `class` statement, a `forward` that is not a `def`;
  - torch compute outside kernels: a torch function (resolved against the real torch)
    outside FACTORIES named or called in host code (forward, helpers, other classes,
    lambdas, closures). `ModelNew.__init__` and module-level statements may compute
    constants and parameters; functions defined there are host code. The `@` operator,
    explicit dunder calls and heavy tensor methods (matmul, conv, softmax...) in host code.
    With `allow_torch_ops` these become warnings.
  - torch or numpy inside a `@triton.jit` body (it would only run in the interpreter).
* warnings — legal but worth a flag: fp32 `tl.dot` without `input_precision`; CUDA
  streams, events and graphs (timing synchronizes the whole device, so they gain nothing).
"""

from __future__ import annotations

import ast
import re

from kernelbench.static_names import Names, dotted
from kernelbench.static_rules import (
    NN_HOLDERS,
    STREAM_APIS,
    TRITON_KERNEL_DECORATORS,
    cuda_compute_calls,
)
from kernelbench.static_visitor import SourceChecker, StaticReport

__all__ = ["CandidateFileError", "StaticReport", "check_candidate", "detect_backend"]


class CandidateFileError(ValueError):
    """The file is not a candidate (syntax error, no ModelNew)."""


def _imports_triton(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(
            a.name.split(".")[0] == "triton" for a in node.names
        ):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "triton":
            return True
    return False


def detect_backend(source: str) -> str:
    """`cuda` if the file holds CUDA C and imports no triton, else `triton`."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return "cuda" if "__global__" in source and "triton" not in source else "triton"
    if "__global__" in source and not _imports_triton(tree):
        return "cuda"
    return "triton"


def _strings(tree: ast.AST) -> list[str]:
    return [
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]


def _layer_attrs(tree: ast.Module, names: Names) -> set[str]:
    """Attributes `self.X = nn.<Layer>(...)` anywhere (containers and Parameter aside)."""
    layers: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            for path in names.resolve(node.value.func):
                if path.startswith("torch.nn.") and path.split(".")[-1] not in NN_HOLDERS:
                    layers.update(
                        t.attr
                        for t in node.targets
                        if isinstance(t, ast.Attribute) and dotted(t.value) == "self"
                    )
    return layers


def _cuda_findings(tree: ast.Module, report: StaticReport) -> None:
    strings = _strings(tree)
    if not any("__global__" in s for s in strings):
        report.violations.append("no __global__ CUDA kernel in the file's sources")
    report.kernels = sorted(
        {s.split("__global__")[1].split("(")[0].split()[-1] for s in strings if "__global__" in s}
    )
    for s in strings:
        for call in cuda_compute_calls(s):
            report.violations.append(f"the C++/CUDA source calls {call} (an ATen compute op)")
        if re.search(r"\bcuda(StreamCreate|EventRecord|Graph\w*)\b", s):
            report.warnings.append(
                "the CUDA source uses streams/events/graphs: timing synchronizes the whole device"
            )


def check_candidate(
    source: str, backend: str | None = None, *, allow_torch_ops: bool = False
) -> StaticReport:
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise CandidateFileError(f"syntax error at line {exc.lineno}: {exc.msg}") from exc
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ModelNew"]
    if not classes:
        raise CandidateFileError("no `class ModelNew(nn.Module)` at module level")
    backend = backend or detect_backend(source)
    report = StaticReport(backend=backend)
    if len(classes) > 1:
        report.violations.append("ModelNew is defined more than once")
    names = Names(tree)
    checker = SourceChecker(names, report, allow_torch_ops)
    # Kernels named through `k = triton.jit(fn)` are known before their bodies are read.
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and names.resolve(node.func) & TRITON_KERNEL_DECORATORS:
            checker.kernel_fns.update(a.id for a in node.args if isinstance(a, ast.Name))
    checker.layers = _layer_attrs(tree, names)
    checker.init_classes = init_only_classes(tree)
    checker.visit(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute | ast.Name) and names.resolve(node) & STREAM_APIS:
            report.warnings.append(
                f"line {node.lineno}: uses {sorted(names.resolve(node) & STREAM_APIS)[0]}: timing "
                "synchronizes the whole device, so other streams gain nothing"
            )
    if backend == "triton" and not report.kernels:
        report.violations.append("no @triton.jit kernel in the file")
    if backend == "cuda":
        _cuda_findings(tree, report)
        if not any(k in source for k in ("load_inline", "RawKernel", "RawModule", "cpp_extension")):
            report.violations.append("CUDA source is never built (no load_inline/RawKernel)")
    _dot_precision(tree, names, report)
    report.kernels = sorted(set(report.kernels))
    report.violations = list(dict.fromkeys(report.violations))
    report.warnings = list(dict.fromkeys(report.warnings))
    return report


def init_only_classes(tree: ast.Module) -> set[str]:
    """ModelNew and the module-level classes named only in the `__init__` (or the bases) of
    classes in this set: their `__init__` runs while ModelNew is built, never in forward,
    so it may build constants with torch (a support class's causal mask). A class named
    anywhere else (a method, a nested function or lambda, module level) is not in it; the
    runtime guard (kernelbench.runner.guard) sees any compute in forward regardless."""
    top = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    where: dict[str, set[str | None]] = {name: set() for name in top}

    def walk(node: ast.AST, context: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = context
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                inner = None  # runs whenever it is called
            if isinstance(child, ast.Name) and child.id in where:
                where[child.id].add(context)
            walk(child, inner)

    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            walk(ast.Module(body=[node], type_ignores=[]), None)
            continue
        for base in [*node.bases, *node.keywords]:
            walk(ast.Expression(body=base) if isinstance(base, ast.expr) else base, node.name)
        for stmt in node.body:
            if isinstance(stmt, ast.FunctionDef) and stmt.name == "__init__":
                for arg in [*stmt.args.defaults, *stmt.args.kw_defaults]:
                    if arg is not None:
                        walk(ast.Expression(body=arg), None)
                for inner in stmt.body:
                    walk(ast.Module(body=[inner], type_ignores=[]), node.name)
            else:
                walk(ast.Module(body=[stmt], type_ignores=[]), None)
    allowed = {"ModelNew"}
    grew = True
    while grew:
        grew = False
        for name in top - allowed:
            if where[name] and where[name] <= allowed:
                allowed.add(name)
                grew = True
    return allowed


def _dot_precision(tree: ast.Module, names: Names, report: StaticReport) -> None:
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef) or fn.name not in report.kernels:
            continue
        for call in (c for c in ast.walk(fn) if isinstance(c, ast.Call)):
            if (dotted(call.func) or "").endswith("dot") and not any(
                k.arg in {"input_precision", "allow_tf32"} for k in call.keywords
            ):
                report.warnings.append(
                    f"{fn.name}: tl.dot without input_precision: fp32 inputs use TF32 on a GPU "
                    "(pass input_precision='ieee' for fp32 accuracy)"
                )
                break
