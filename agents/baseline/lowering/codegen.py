"""Assemble a candidate file: kernels, the reference's `__init__`, and a generated `forward`.

`ModelNew.__init__` is the reference's own `__init__` (copied from the problem source, with
whatever module-level definitions it uses), so parameters and buffers exist under the
same names and the harness copies the reference's values into them. `forward` runs the
schedule: torch views/allocations and kernel launches, nothing else.
"""

from __future__ import annotations

import ast
import copy
import textwrap
from typing import Any

from agents.baseline.lowering.ir import Input, Param, PyOp, Value
from agents.baseline.lowering.kernels import Launch, write_group
from agents.baseline.lowering.kernels.recurrent import RNN_HELPERS
from agents.baseline.lowering.ops import HELPERS
from agents.baseline.lowering.schedule import Group, Schedule
from agents.baseline.params import defaults_for, header_line, merge

PREAMBLE = """import math

import torch
import torch.nn as nn
import triton
import triton.language as tl
"""

STRIDES_HELPER = '''
def _kw_strides(t, shape):
    """Strides of `t` broadcast to `shape` (0 along broadcast dims)."""
    return t.expand(shape).stride()
'''


def _identifier_path(path: str) -> bool:
    return all(part.isidentifier() for part in path.split("."))


class Names:
    """Python expressions for values in forward."""

    def __init__(self, sched: Schedule, buffers: set[str]) -> None:
        self.sched = sched
        self.buffers = buffers

    def __call__(self, v: Value) -> str:
        if isinstance(v, Input):
            return v.name
        if isinstance(v, Param):
            if _identifier_path(v.path):
                return f"self.{v.path}"
            getter = "get_buffer" if v.path in self.buffers else "get_parameter"
            return f"self.{getter}({v.path!r})"
        if isinstance(v, PyOp):
            return f"v{v.id}"
        g = self.sched.group_of.get(v.id)
        if g is None or v.id not in g.stored:
            raise KeyError(f"value {v.id} is not available in forward")
        j = [m.id for m in self.sched.stored_values(g)].index(v.id)
        return f"out{j}_{g.name}"


def group_defaults(g: Group) -> dict[str, int]:
    rank = len(g.space)
    trailing = list(g.axes) == list(range(rank - len(g.axes), rank))
    return defaults_for(g.kind, trailing)


def kernel_params(sched: Schedule, overrides: dict[str, Any] | None) -> dict[str, dict[str, int]]:
    """Each kernel's knobs: its defaults, with the Judge's overrides for that kernel applied."""
    out: dict[str, dict[str, int]] = {}
    for g in sched.groups:
        wanted = (overrides or {}).get(g.name)
        out[g.name] = merge(g.kind, group_defaults(g), wanted if isinstance(wanted, dict) else None)
    return out


# ---------------------------------------------------------------- the reference's __init__


class _RenameModel(ast.NodeTransformer):
    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id == "Model":
            return ast.copy_location(ast.Name(id="ModelNew", ctx=node.ctx), node)
        return node


def _free_names(node: ast.AST) -> set[str]:
    """Names `node` reads that it does not bind itself (arguments, assignments)."""
    loads = {
        n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }
    bound = {
        n.id for n in ast.walk(node) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)
    }
    bound |= {a.arg for a in ast.walk(node) if isinstance(a, ast.arg)}
    return loads - bound


def reference_init(problem_source: str) -> tuple[str, list[str]]:
    """The Model's class body but `forward` (renamed to ModelNew) and the module-level
    code it needs."""
    tree = ast.parse(problem_source)
    model = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Model"), None)
    init = None
    if model is not None:
        init = next(
            (n for n in model.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"),
            None,
        )
    if init is None:
        return "def __init__(self):\n    super().__init__()\n", []
    assert model is not None
    # the class body but forward: __init__, the helpers it calls (ResNet's _make_layer) and
    # class attributes (`expansion = 1`); the candidate's forward is written here
    body = [
        _RenameModel().visit(stmt)
        for stmt in model.body
        if not (isinstance(stmt, ast.FunctionDef) and stmt.name == "forward")
        and not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))
    ]
    for stmt in body:
        ast.fix_missing_locations(stmt)
    init_src = "\n\n".join(ast.unparse(stmt) for stmt in body)
    defs: dict[str, ast.stmt] = {}
    imports: list[str] = []
    skip = {"Model", "get_inputs", "get_init_inputs", "CHECK_SIZES", "TOLERANCE"}
    for stmt in tree.body:
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            line = ast.unparse(stmt)
            if line not in PREAMBLE.splitlines():
                imports.append(line)
        elif isinstance(stmt, ast.FunctionDef | ast.ClassDef) and stmt.name not in skip:
            defs[stmt.name] = stmt
        elif isinstance(stmt, ast.Assign):
            for t in stmt.targets:
                if isinstance(t, ast.Name) and t.id not in skip:
                    defs[t.id] = stmt
    needed: list[str] = []
    todo = sorted(set().union(*(_free_names(stmt) for stmt in body)))
    while todo:
        name = todo.pop()
        if name in defs and name not in needed:
            needed.append(name)
            # a support class's forward is not kept, so what only it calls is not needed
            todo.extend(sorted(_free_names(_without_forward(defs[name]))))
    order = [s for s in tree.body if any(defs.get(n) is s for n in needed)]
    seen: list[ast.stmt] = []
    for s in order:
        if s not in seen:
            seen.append(s)
    return init_src + "\n", imports + [ast.unparse(_without_forward(s)) for s in seen]


def _without_forward(stmt: ast.stmt) -> ast.stmt:
    """A support class as the candidate needs it: its layers, not its forward (the kernels
    replace that, and a forward calling torch layers is not allowed in a candidate)."""
    if not isinstance(stmt, ast.ClassDef):
        return stmt
    kept = [s for s in stmt.body if not (isinstance(s, ast.FunctionDef) and s.name == "forward")]
    out = copy.copy(stmt)  # shallow: the kept statements are shared, not changed
    out.body = kept or [ast.Pass()]
    return out


# ---------------------------------------------------------------- the file


def generate(
    problem_id: str,
    problem_source: str,
    analysis: dict[str, Any],
    sched: Schedule,
    overrides: dict[str, Any] | None = None,
) -> tuple[str, dict[str, dict[str, Any]]]:
    """The candidate source and its header record {kernel: {"kind", "params"}}."""
    params = kernel_params(sched, overrides)
    names = Names(sched, set(analysis.get("buffers", {})))
    launches: dict[str, Launch] = {}
    for g in sched.groups:
        launches[g.name] = write_group(sched, g, params[g.name], names)
    record = {
        g.name: {"kind": g.kind, "params": params[g.name], "defaults": group_defaults(g)}
        for g in sched.groups
    }

    forward: list[str] = []
    for step in sched.steps:
        if isinstance(step, PyOp):
            forward.append(f"v{step.id} = " + step.fmt.format(*(names(r) for r in step.refs)))
        else:
            forward.extend(launches[step.name].lines)
    outs = [names(o) for o in sched.graph.outputs]
    if sched.graph.output_is_tuple:
        forward.append("return (" + "".join(f"{o}, " for o in outs) + ")")
    else:
        forward.append(f"return {outs[0]}")

    helpers: set[str] = set()
    for launch in launches.values():
        helpers |= launch.helpers
    for step in sched.steps:
        if isinstance(step, PyOp):
            helpers |= step.helpers
    init_src, support = reference_init(problem_source)
    args = ", ".join(["self", *sched.graph.input_names])
    parts = [
        f'"""Triton candidate for {problem_id}, written by the kernelwright baseline Coder."""',
        header_line(record),
        PREAMBLE,
        *support,
        "",
        *((HELPERS | RNN_HELPERS)[h] for h in sorted(helpers)),
        *(launches[g.name].kernel_source for g in sched.groups),
        STRIDES_HELPER,
        "",
        "class ModelNew(nn.Module):",
        textwrap.indent(init_src, "    "),
        f"    def forward({args}):",
        *(f"        {line}" for line in forward),
        "",
    ]
    return "\n".join(parts), record
