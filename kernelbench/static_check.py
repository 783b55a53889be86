"""Static checks on a candidate's source, before anything runs (AST only, nothing executed).

Three kinds of findings:

* `CandidateFileError` — not a candidate at all (syntax error, no `class ModelNew`):
  the harness reports `compile_error`.
* violations — a cheating or bypass pattern: the harness reports `rejected` with the
  first violation as the reason. Harness tampering (monkeypatching torch/triton,
  frame/GC introspection, killing processes, threads), inheriting from or importing the
  reference, a try/except fallback inside ModelNew, no kernel at all, and — unless the
  caller allows it — high-level torch compute ops (matmul, conv, softmax, F.*, calling
  an nn layer) outside `__init__`.
* warnings — legal but worth a flag (e.g. fp32 `tl.dot` without `input_precision`, which
  is TF32 on a GPU and full fp32 in the CPU interpreter).

A static checker is a deterrent, not proof: the runtime checks (fresh seeds, at least one
custom-kernel launch per forward, input mutation, output aliasing, outputs judged outside
the candidate's process) do the rest.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

# High-level torch compute ops (after KernelBench's static checker), as functions and methods.
TORCH_COMPUTE_OPS = frozenset(
    {
        "mm", "bmm", "matmul", "addmm", "addbmm", "baddbmm", "einsum", "tensordot",
        "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
        "avg_pool1d", "avg_pool2d", "avg_pool3d", "max_pool1d", "max_pool2d", "max_pool3d",
        "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
        "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
        "relu", "relu_", "hardtanh", "elu", "selu", "celu", "leaky_relu", "gelu", "softsign",
        "softplus", "softmax", "log_softmax", "tanh", "sigmoid", "hardsigmoid", "hardswish",
        "silu", "mish", "batch_norm", "group_norm", "layer_norm", "instance_norm", "rms_norm",
        "normalize", "linear", "bilinear", "cross_entropy", "nll_loss", "kl_div", "mse_loss",
        "l1_loss", "smooth_l1_loss", "huber_loss", "triplet_margin_loss", "cosine_similarity",
        "logsumexp", "cumsum", "cumprod", "dropout", "scaled_dot_product_attention",
        "embedding", "clamp",
    }
)  # fmt: skip
# Functions whose results the module may still hold (containers/params/init).
NN_ALLOWED = frozenset(
    {"Module", "Parameter", "ParameterList", "ParameterDict", "ModuleList", "ModuleDict",
     "init", "Buffer", "Identity"}
)  # fmt: skip
_TAMPER_CALLS = {
    ("sys", "_getframe"): "inspects the caller's stack frames",
    ("inspect", "currentframe"): "inspects the caller's stack frames",
    ("inspect", "stack"): "inspects the caller's stack frames",
    ("inspect", "getouterframes"): "inspects the caller's stack frames",
    ("gc", "get_objects"): "scans the interpreter's objects",
    ("gc", "get_referrers"): "scans the interpreter's objects",
    ("os", "_exit"): "ends the process from inside the candidate",
    ("os", "kill"): "signals other processes",
    ("os", "killpg"): "signals other processes",
    ("os", "fork"): "forks the process",
}
_TAMPER_MODULES = {
    "ctypes": "loads native code through ctypes",
    "threading": "starts threads (work outside the timed region)",
    "multiprocessing": "starts processes",
    "concurrent": "starts threads or processes",
    "subprocess": "starts programs",
    "socket": "opens network sockets",
    "signal": "installs signal handlers",
    "builtins": "touches Python's builtins",
}
_PATCHABLE_ROOTS = {"torch", "triton", "tl", "F", "nn", "np", "numpy", "time", "os", "sys"}


class CandidateFileError(ValueError):
    """The file is not a candidate (syntax error, no ModelNew)."""


@dataclass
class StaticReport:
    backend: str
    violations: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    kernels: list[str] = field(default_factory=list)


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _is_triton_jit(dec: ast.expr) -> bool:
    target = dec.func if isinstance(dec, ast.Call) else dec
    name = _dotted(target) or ""
    return name in {"triton.jit", "jit", "triton.autotune", "autotune", "triton.heuristics"}


def detect_backend(source: str) -> str:
    """`triton` if the file defines @triton.jit kernels, else `cuda` if it holds CUDA C."""
    if "@triton.jit" in source or "@triton.autotune" in source or "@jit" in source:
        return "triton"
    if "__global__" in source:
        return "cuda"
    return "triton"


def _string_constants(tree: ast.AST) -> list[str]:
    return [
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]


class _Visitor(ast.NodeVisitor):
    """Collects findings; `in_compute` is true inside code that runs at forward time."""

    def __init__(
        self, report: StaticReport, allow_torch_ops: bool, nn_layers: set[str], extensions: set[str]
    ) -> None:
        self.report = report
        self.allow_torch_ops = allow_torch_ops
        self.nn_layers = nn_layers
        self.extensions = extensions  # names bound to built CUDA extensions / cupy modules
        self.in_compute = False
        self.in_modelnew = False

    def _torch_op(self, what: str) -> None:
        msg = f"calls {what}: the core computation must be in custom kernels"
        (self.report.warnings if self.allow_torch_ops else self.report.violations).append(msg)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            root = alias.name.split(".")[0]
            if root in _TAMPER_MODULES:
                self.report.violations.append(f"imports {alias.name}: {_TAMPER_MODULES[root]}")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        root = (node.module or "").split(".")[0]
        if root in _TAMPER_MODULES:
            self.report.violations.append(f"imports from {node.module}: {_TAMPER_MODULES[root]}")
        if any(a.name == "Model" for a in node.names) or root in {"problem", "reference"}:
            self.report.violations.append(f"imports the reference (from {node.module} import ...)")

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._check_patch(target)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._check_patch(node.target)
        self.generic_visit(node)

    def _check_patch(self, target: ast.expr) -> None:
        name = _dotted(target)
        if name and "." in name and name.split(".")[0] in _PATCHABLE_ROOTS:
            self.report.violations.append(f"monkeypatches {name}")

    def visit_Try(self, node: ast.Try) -> None:
        if self.in_modelnew and node.handlers:
            self.report.violations.append(
                "try/except inside ModelNew (a fallback path can hide a failing kernel)"
            )
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if self.in_compute and isinstance(node.op, ast.MatMult):
            self._torch_op("the @ operator (torch matmul)")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = _dotted(node.func) or ""
        parts = name.split(".")
        if name in {"setattr", "delattr"} and node.args:
            target = _dotted(node.args[0]) or ""
            if target.split(".")[0] in _PATCHABLE_ROOTS:
                self.report.violations.append(f"monkeypatches {target} with {name}()")
        for (mod, fn), why in _TAMPER_CALLS.items():
            if len(parts) >= 2 and parts[-2] == mod and parts[-1] == fn:
                self.report.violations.append(f"calls {name}: {why}")
        if self.in_compute and isinstance(node.func, ast.Attribute):
            # A method or module function: torch.matmul(...), F.relu(...), x.softmax(...),
            # x.float().matmul(...). Plain names (a helper called `softmax`) are fine.
            head = parts[0] if name else ""
            own = {"tl", "triton", "math", "self", *self.extensions}
            if node.func.attr in TORCH_COMPUTE_OPS and head not in own:
                self._torch_op((name or f"<expr>.{node.func.attr}") + "()")
            elif head == "self" and len(parts) == 2 and parts[1] in self.nn_layers:
                self._torch_op(f"the torch layer self.{parts[1]}")
        self.generic_visit(node)


def _nn_layer_attrs(cls: ast.ClassDef) -> set[str]:
    """Attributes of ModelNew assigned a torch compute layer (nn.Linear, nn.Conv2d, ...)."""
    layers: set[str] = set()
    for node in ast.walk(cls):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            fn = _dotted(node.value.func) or ""
            parts = fn.split(".")
            if len(parts) >= 2 and parts[-2] == "nn" and parts[-1] not in NN_ALLOWED:
                for t in node.targets:
                    if isinstance(t, ast.Attribute) and _dotted(t.value) == "self":
                        layers.add(t.attr)
    return layers


_BUILDERS = {"load_inline", "load", "RawModule", "RawKernel", "compile_extension"}


def _extension_names(tree: ast.Module) -> set[str]:
    """Module-level names bound to a built extension (`ext = load_inline(...)`)."""
    names: set[str] = set()
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call):
            fn = (_dotted(stmt.value.func) or "").split(".")[-1]
            if fn in _BUILDERS:
                names.update(t.id for t in stmt.targets if isinstance(t, ast.Name))
    return names


def check_candidate(
    source: str, backend: str | None = None, *, allow_torch_ops: bool = False
) -> StaticReport:
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise CandidateFileError(f"syntax error at line {exc.lineno}: {exc.msg}") from exc
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    if "ModelNew" not in classes:
        raise CandidateFileError("no `class ModelNew(nn.Module)` at module level")
    backend = backend or detect_backend(source)
    report = StaticReport(backend=backend)
    model_new = classes["ModelNew"]
    for base in model_new.bases:
        if (_dotted(base) or "").split(".")[-1] == "Model":
            report.violations.append("ModelNew inherits from the reference Model")

    jit_fns = {
        n.name
        for n in tree.body
        if isinstance(n, ast.FunctionDef) and any(_is_triton_jit(d) for d in n.decorator_list)
    }
    report.kernels = sorted(jit_fns)
    if backend == "triton" and not jit_fns:
        report.violations.append("no @triton.jit kernel in the file")
    if backend == "cuda":
        strings = _string_constants(tree)
        if not any("__global__" in s for s in strings):
            report.violations.append("no __global__ CUDA kernel in the file's sources")
        if not any(k in source for k in ("load_inline", "RawKernel", "RawModule", "cpp_extension")):
            report.violations.append("CUDA source is never built (no load_inline/RawKernel)")
        report.kernels = sorted(
            {
                s.split("__global__")[1].split("(")[0].split()[-1]
                for s in strings
                if "__global__" in s
            }
        )

    visitor = _Visitor(report, allow_torch_ops, _nn_layer_attrs(model_new), _extension_names(tree))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in jit_fns:
            continue  # Triton code: tl.* calls are what we want there
        if isinstance(node, ast.ClassDef) and node.name == "ModelNew":
            visitor.in_modelnew = True
            for item in node.body:
                visitor.in_compute = isinstance(item, ast.FunctionDef) and item.name != "__init__"
                visitor.visit(item)
            visitor.in_modelnew = visitor.in_compute = False
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            visitor.in_compute = True  # module-level helpers run at forward time
            visitor.visit(node)
            visitor.in_compute = False
        else:
            visitor.visit(node)

    if backend == "triton":
        for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in jit_fns):
            for call in (c for c in ast.walk(fn) if isinstance(c, ast.Call)):
                if (_dotted(call.func) or "").endswith("dot") and not any(
                    k.arg in {"input_precision", "allow_tf32"} for k in call.keywords
                ):
                    report.warnings.append(
                        f"{fn.name}: tl.dot without input_precision: fp32 inputs use TF32 on a GPU "
                        "(pass input_precision='ieee' for fp32 accuracy)"
                    )
                    break
    report.violations = list(dict.fromkeys(report.violations))
    report.warnings = list(dict.fromkeys(report.warnings))
    return report
