"""The import graph of the product packages, read from their source (nothing is imported).

Shared by the layout test (tests/test_layout.py). An edge is `module -> imported project
module`, from top-level and function-local imports alike (TYPE_CHECKING blocks excepted:
they never run). Heavy third-party libraries may be imported lazily (inside a function);
`LAZY_LIBRARIES` is the one list of them, and a project module that imports one of them
at its top level, directly or through other project modules, counts as heavy too.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("kernelbench", "sandbox", "profiler", "agents", "worker")
# Libraries slow to import (or absent where a command does not need them): the only
# imports that may sit inside a function.
LAZY_LIBRARIES = frozenset(
    {
        "torch",
        "triton",
        "numpy",
        "openai",
        "docker",
        "celery",
        "kombu",
        "redis",
        "matplotlib",
        "jinja2",
        "cupy",
        "selenium",
        "nvidia",  # the optional CUDA wheels (nvidia-cuda-nvcc...)
    }
)


@dataclass
class ModuleInfo:
    name: str
    path: Path
    top: set[str] = field(default_factory=set)  # project modules imported at top level
    local: dict[str, int] = field(default_factory=dict)  # function-local: module -> line
    top_libs: set[str] = field(default_factory=set)  # third-party roots at top level
    local_libs: dict[str, int] = field(default_factory=dict)


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(name: str, known: set[str]) -> str | None:
    """The project module an import names (`a.b.c` may be module a.b's attribute c)."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return [f"{node.module}.{a.name}" for a in node.names]
    return []


def read_module(info: ModuleInfo, source: str, known: set[str]) -> None:
    tree = ast.parse(source)

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    visit(sub, in_function)
                continue
            names = _imports(child)
            for name in names:
                target = _resolve(name, known)
                if target is not None and target != info.name:
                    if in_function:
                        info.local.setdefault(target, child.lineno)
                    else:
                        info.top.add(target)
                elif target is None and name.split(".")[0] not in PACKAGES:
                    lib = name.split(".")[0]
                    if in_function:
                        info.local_libs.setdefault(lib, child.lineno)
                    else:
                        info.top_libs.add(lib)
            nested = in_function or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            visit(child, nested)

    visit(tree, False)


def is_product_file(path: Path) -> bool:
    rel = path.relative_to(ROOT).as_posix()
    return not rel.startswith(("kernelbench/problems/level", "kernelbench/problems/solutions"))


def load_graph(root: Path = ROOT) -> dict[str, ModuleInfo]:
    files = [p for pkg in PACKAGES for p in sorted((root / pkg).rglob("*.py"))]
    files = [p for p in files if root != ROOT or is_product_file(p)]
    infos = {module_name(p, root): ModuleInfo(module_name(p, root), p) for p in files}
    known = set(infos)
    for info in infos.values():
        read_module(info, info.path.read_text(), known)
    return infos


def heavy_modules(infos: dict[str, ModuleInfo]) -> set[str]:
    """Project modules whose top-level imports reach a lazy library (or a package __init__
    on the way: importing a.b.c runs a and a.b first)."""
    heavy = {m for m, i in infos.items() if i.top_libs & LAZY_LIBRARIES}
    changed = True
    while changed:
        changed = False
        for m, info in infos.items():
            if m not in heavy and any(t in heavy for t in info.top):
                heavy.add(m)
                changed = True
    return heavy


def cycles(infos: dict[str, ModuleInfo]) -> list[list[str]]:
    """Every strongly connected group of more than one module (top-level and local edges)."""
    edges = {m: sorted(set(i.top) | set(i.local)) for m, i in infos.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, []):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            strong(v)
    return found
