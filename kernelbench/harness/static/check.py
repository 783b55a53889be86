"""Static checks on a candidate's source, before anything runs (AST only, nothing executed).

Defence in depth: the runtime compute guard (kernelbench.runner.guard) sees what actually
runs; this check refuses what a kernel never needs, so the runtime layer is not the only
one. Every function body in the file is read — module level, nested, lambdas, other
classes, `__init__` — with names resolved through imports and aliases
(kernelbench.harness.static.names). Findings:

* `CandidateFileError` — not a candidate (syntax error, no `class ModelNew`): compile_error.
* violations (`rejected`, the first one is the reason):
  - the allowlist (kernelbench.harness.static.allowlist, issue 28): every import and every
    attribute path rooted at an imported module (`a.b.c`, `from a.b import c`,
    `getattr(a, "b")`, a string annotation) is resolved against the real objects; a path
    into a module outside the allowlist through any re-export (`typing.sys`,
    `triton.runtime.build.subprocess`, `torch.nn.functional.importlib`), a private or
    dunder name, or a path that cannot be resolved is refused. A module object may stand
    only as the base of an attribute or in a plain alias (`F = torch.nn.functional`):
    kept in `self`, a container, a default argument or a class body, or handed to
    `getattr` as a value (`functools.reduce(getattr, ...)`), it is refused;
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
    With `allow_torch_ops` these become warnings. The file's own module-level
    `get_inputs`/`get_init_inputs` that nothing in it names (public models copy them from
    the problem; the harness never calls them) are not host code (issue 30).
  - torch or numpy inside a `@triton.jit` body (it would only run in the interpreter).
* warnings — legal but worth a flag: fp32 `tl.dot` without `input_precision`; CUDA
  streams, events and graphs (timing synchronizes the whole device, so they gain nothing).
"""

from __future__ import annotations

import ast
import re

from kernelbench.harness.static.names import Names, dotted
from kernelbench.harness.static.rules import (
    NN_HOLDERS,
    STREAM_APIS,
    TRITON_KERNEL_DECORATORS,
    StaticReport,
    cuda_compute_calls,
)
from kernelbench.harness.static.visitor import SourceChecker

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
    checker.module_ok, checker.call_funcs = module_positions(tree)
    checker.unreferenced_inputs = unreferenced_input_functions(tree)
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


INPUT_FUNCTIONS = frozenset({"get_inputs", "get_init_inputs"})


def unreferenced_input_functions(tree: ast.Module) -> set[str]:
    """The file's own module-level `get_inputs`/`get_init_inputs` (public models copy them
    from the problem) that nothing in the file names: the harness never calls them (it
    uses the problem's), so their bodies are not host code. Named anywhere else (a call, an
    alias, an attribute, a string), defined twice or not at module level: not in the set."""
    defined = [
        n.name
        for n in tree.body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name in INPUT_FUNCTIONS
    ]
    found = {name for name in defined if defined.count(name) == 1}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.discard(node.id)
        elif isinstance(node, ast.Attribute):
            found.discard(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # a literal name (getattr); a computed one needs globals()/vars(), both refused
            found.discard(node.value.strip())
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node not in tree.body:
                found.discard(node.name)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            found.difference_update(node.names)
        elif isinstance(node, ast.alias):
            found.discard(node.asname or node.name)
    return found


def module_positions(tree: ast.Module) -> tuple[set[int], set[int]]:
    """Ids of the nodes where a module object may stand (the base of an attribute,
    getattr/hasattr's first argument with a literal name, the value of a plain alias
    outside a class body), and of the nodes that are a call's target."""
    ok: set[int] = set()
    funcs: set[int] = set()
    class_stmts = {
        id(stmt) for n in ast.walk(tree) if isinstance(n, ast.ClassDef) for stmt in n.body
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            ok.add(id(node.value))
        elif isinstance(node, ast.Call):
            funcs.add(id(node.func))
            if (
                dotted(node.func) in {"getattr", "hasattr"}
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
            ):
                ok.add(id(node.args[0]))
        elif isinstance(node, ast.Assign) and id(node) not in class_stmts:
            if all(isinstance(t, ast.Name) for t in node.targets):
                ok.add(id(node.value))
        elif isinstance(node, ast.AnnAssign) and id(node) not in class_stmts:
            if isinstance(node.target, ast.Name) and node.value is not None:
                ok.add(id(node.value))
        elif isinstance(node, ast.NamedExpr):
            ok.add(id(node.value))
    return ok, funcs


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
