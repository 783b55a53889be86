"""A problem's *size sites*, and the problem re-executed with some of them overridden.

Setting a module attribute after import (`module.out_channels = 16`) changes what
`get_inputs()` reads, but not what the module computed from it when it was imported
(`bias_shape = (out_channels, 1, 1)`), nor sizes written as literals. So the problem's
source is rewritten once (an AST rewrite, never touching `Model`'s own body) so that each
size site reads an override, and the module is executed afresh for every set of sizes:
values derived from a size follow it. The sites (docs/evaluation.md, "Which shapes are checked"):

* a module-level int constant `NAME = <int expression>` (also `a, b = 1, 2` and
  `a = b = 3`): key `NAME`. One whose expression names other constants is *derived*: it
  follows them unless overridden itself, and is not a site.
* an int literal (or an expression of literals, `8192 * 2`) >= `LITERAL_MIN` inside a
  module-level tuple or list
  (`input_shape = (32768,)`, `layer_sizes = [16384, 16384]`): key `NAME[i]` (nested:
  `NAME[i][j]`).
* such a literal given as an argument, or inside a tuple or list given as an argument, to
  a call in `get_inputs()` or `get_init_inputs()`, or as an element of the list they
  return (`return [32, num_classes]`)
  (`torch.rand(batch_size, 3, 224, 224)`): keys `get_inputs[0]`, `get_inputs[1]`, ... in
  source order.
"""

from __future__ import annotations

import ast
import copy
import sys
import types
from pathlib import Path
from typing import Any

SIZE_HOOK = "__kw_size__"
LITERAL_MIN = 32  # smaller literals are axes, kernel sizes, channel counts of 3
SIZE_FUNCTIONS = ("get_inputs", "get_init_inputs")


def const_int(node: ast.expr, known: dict[str, int]) -> int | None:
    """Evaluate an int constant expression (literals, known names, + - * // **)."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.Name) and node.id in known:
        return known[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = const_int(node.operand, known)
        return -inner if inner is not None else None
    if isinstance(node, ast.BinOp):
        left, right = const_int(node.left, known), const_int(node.right, known)
        if left is None or right is None:
            return None
        ops = {
            ast.Add: lambda a, b: a + b,
            ast.Sub: lambda a, b: a - b,
            ast.Mult: lambda a, b: a * b,
            ast.FloorDiv: lambda a, b: a // b if b else None,
            ast.Pow: lambda a, b: a**b if 0 <= b <= 64 else None,
        }
        op = ops.get(type(node.op))
        return op(left, right) if op else None
    return None


def _hook(key: str, default: ast.expr, like: ast.AST) -> ast.expr:
    call = ast.Call(
        func=ast.Name(id=SIZE_HOOK, ctx=ast.Load()),
        args=[ast.Constant(value=key), default],
        keywords=[],
    )
    return ast.copy_location(call, like)


def _size_literal(node: ast.expr) -> int | None:
    """The value of an int expression of literals only (`224`, `8192 * 2`) >= LITERAL_MIN."""
    if _names_in(node):
        return None
    value = const_int(node, {})
    return value if value is not None and value >= LITERAL_MIN else None


def _names_in(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Name) for n in ast.walk(node))


class _Rewriter:
    """Collects the sites of one module and rewrites their expressions into hook calls."""

    def __init__(self) -> None:
        self.sites: dict[str, int] = {}
        self.known: dict[str, int] = {}  # every int constant so far (derived ones too)

    def _int_constant(self, name: str, value: ast.expr) -> ast.expr | None:
        number = const_int(value, self.known)
        if number is None or name.startswith("_"):
            return None
        self.known[name] = number
        if not _names_in(value):
            self.sites[name] = number
        return _hook(name, value, value)

    def _sequence(self, key: str, value: ast.expr) -> ast.expr:
        number = _size_literal(value)
        if number is not None:
            self.sites[key] = number
            return _hook(key, value, value)
        if isinstance(value, ast.Tuple | ast.List):
            value.elts = [self._sequence(f"{key}[{i}]", e) for i, e in enumerate(value.elts)]
        return value

    def assignment(self, stmt: ast.Assign) -> list[ast.stmt]:
        if len(stmt.targets) > 1 and all(isinstance(t, ast.Name) for t in stmt.targets):
            # `height = width = 256`: one statement per name, so each is its own site
            split = [
                ast.copy_location(ast.Assign(targets=[t], value=copy.deepcopy(stmt.value)), stmt)
                for t in stmt.targets
            ]
            return [s for one in split for s in self.assignment(one)]
        if len(stmt.targets) != 1:
            return [stmt]
        target = stmt.targets[0]
        if isinstance(target, ast.Name):
            hooked = self._int_constant(target.id, stmt.value)
            if hooked is not None:
                stmt.value = hooked
            elif isinstance(stmt.value, ast.Tuple | ast.List) and not target.id.startswith("_"):
                stmt.value = self._sequence(target.id, stmt.value)
        elif (
            isinstance(target, ast.Tuple | ast.List)
            and isinstance(stmt.value, ast.Tuple | ast.List)
            and len(target.elts) == len(stmt.value.elts)
        ):
            elts = []
            for t, v in zip(target.elts, stmt.value.elts, strict=True):
                hooked = self._int_constant(t.id, v) if isinstance(t, ast.Name) else None
                elts.append(hooked if hooked is not None else v)
            stmt.value.elts = elts
        return [stmt]

    def size_function(self, fn: ast.FunctionDef) -> None:
        count = 0

        def site(node: ast.expr) -> ast.expr:
            nonlocal count
            number = _size_literal(node)
            if number is not None:
                key = f"{fn.name}[{count}]"
                count += 1
                self.sites[key] = number
                return _hook(key, node, node)
            if isinstance(node, ast.Tuple | ast.List):
                node.elts = [site(e) for e in node.elts]
            return node

        nodes = [n for n in ast.walk(fn) if isinstance(n, ast.Call | ast.Return)]
        nodes.sort(key=lambda n: (n.lineno, n.col_offset))
        for node in nodes:
            if isinstance(node, ast.Return):  # `return [32, num_classes]`
                if isinstance(node.value, ast.Tuple | ast.List):
                    node.value.elts = [site(e) for e in node.value.elts]
                continue
            node.args = [site(a) for a in node.args]
            for kw in node.keywords:
                kw.value = site(kw.value)


def rewrite(tree: ast.Module) -> tuple[ast.Module, dict[str, int]]:
    """(a rewritten copy of `tree`, its size sites and their values in source order)."""
    tree = copy.deepcopy(tree)
    rewriter = _Rewriter()
    body: list[ast.stmt] = []
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            body.extend(rewriter.assignment(stmt))
            continue
        if isinstance(stmt, ast.FunctionDef) and stmt.name in SIZE_FUNCTIONS:
            rewriter.size_function(stmt)
        body.append(stmt)
    tree.body = body
    return ast.fix_missing_locations(tree), rewriter.sites


def size_sites(tree: ast.Module) -> dict[str, int]:
    return rewrite(tree)[1]


class ResizableProblem:
    """A problem file compiled once with its size sites hooked; `module(sizes)` executes it
    afresh with those sizes (the others keep their values, derived ones follow)."""

    def __init__(self, source: str, filename: str, name: str = "kw_problem") -> None:
        tree, self.sites = rewrite(ast.parse(source, filename=filename))
        self.code = compile(tree, filename, "exec")
        self.filename = filename
        self.name = name

    @classmethod
    def from_path(cls, path: Path, name: str = "kw_problem") -> ResizableProblem:
        return cls(Path(path).read_text(encoding="utf-8"), str(path), name)

    def module(self, sizes: dict[str, int] | None = None) -> types.ModuleType:
        overrides = dict(sizes or {})

        def size(key: str, default: Any) -> Any:
            return overrides.get(key, default)

        module = types.ModuleType(self.name)
        module.__file__ = self.filename
        module.__dict__[SIZE_HOOK] = size
        sys.modules[self.name] = module  # dataclasses, pickling and the like look it up
        exec(self.code, module.__dict__)
        return module
