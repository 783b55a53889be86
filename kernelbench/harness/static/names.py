"""Name resolution for the static check: what a name in a candidate file refers to.

Flow-insensitive on purpose: every import and every plain alias assignment anywhere in the
file (`F = torch.nn.functional`, `mm = torch.matmul`, `from torch.nn.functional import
softmax as sm`, `tr = triton`) binds a name to a qualified path such as
`torch.nn.functional.softmax`; a name bound to several things resolves to all of them.
Functions and classes defined in the file resolve to `<local>.NAME`. Resolved `torch.*`
paths are then classified against the real torch module (imported here, in the caller;
nothing of the candidate is executed): a module, a dtype, a class, or a callable.
"""

from __future__ import annotations

import ast
import importlib
from collections import defaultdict
from typing import Any

from profiler.triton_aot import dotted

__all__ = ["LOCAL", "Names", "dotted", "lookup"]

LOCAL = "<local>"
EXTENSION_BUILDERS = frozenset({"load_inline", "load", "RawModule", "RawKernel"})


class Names:
    """name -> qualified paths, from imports, defs and alias assignments anywhere."""

    def __init__(self, tree: ast.Module) -> None:
        self.bindings: dict[str, set[str]] = defaultdict(set)
        pending: list[tuple[str, ast.expr]] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.bindings[alias.asname].add(alias.name)
                    else:
                        root = alias.name.split(".")[0]
                        self.bindings[root].add(root)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    self.bindings[alias.asname or alias.name].add(f"{node.module}.{alias.name}")
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                self.bindings[node.name].add(f"{LOCAL}.{node.name}")
            elif isinstance(node, ast.Assign | ast.AnnAssign | ast.NamedExpr):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                value = node.value
                if value is None:
                    continue
                for target in targets:
                    if isinstance(target, ast.Name):
                        pending.append((target.id, value))
        # Alias chains (a = torch; b = a.nn; c = b.functional.softmax) settle in a few passes.
        calls = [(name, value.func) for name, value in pending if isinstance(value, ast.Call)]
        for _ in range(4):
            changed = False
            for name, value in pending:
                for path in self.resolve(value):
                    if path not in self.bindings[name]:
                        self.bindings[name].add(path)
                        changed = True
            if not changed:
                break
        # A name bound to a built extension (`ext = load_inline(...)`) is the file's own code.
        for name, func in calls:
            if any(p.split(".")[-1] in EXTENSION_BUILDERS for p in self.resolve(func)):
                self.bindings[name].add(f"{LOCAL}.{name}")

    def resolve(self, node: ast.AST) -> set[str]:
        """Qualified paths an expression may denote (empty: unknown, e.g. a local variable)."""
        if isinstance(node, ast.Name):
            return set(self.bindings.get(node.id, ()))
        if isinstance(node, ast.Attribute):
            return {f"{base}.{node.attr}" for base in self.resolve(node.value)}
        if isinstance(node, ast.Call):
            fn = dotted(node.func)
            if fn == "getattr" and len(node.args) >= 2:
                name = node.args[1]
                if isinstance(name, ast.Constant) and isinstance(name.value, str):
                    return {f"{base}.{name.value}" for base in self.resolve(node.args[0])}
        return set()

    def is_module_alias(self, node: ast.AST) -> bool:
        """True if the expression resolves to an imported module (or something inside one)."""
        return any(not p.startswith(LOCAL) for p in self.resolve(node))


LOOKUP_ROOTS = ("torch", "triton")


def lookup(path: str) -> Any:
    """The real object at `path` (e.g. torch.nn.functional.softmax), or None. Only torch
    and triton are looked up, by attribute access: no module is imported because a
    candidate named it."""
    parts = path.split(".")
    if parts[0] not in LOOKUP_ROOTS:
        return None
    obj: Any = importlib.import_module(parts[0])
    for part in parts[1:]:
        try:
            obj = getattr(obj, part)
        except Exception:  # noqa: BLE001 - lazy submodules may raise anything on access
            return None
    return obj
