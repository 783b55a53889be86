"""What every kernel writer shares: arguments, operand loads, elementwise code, stores.

The four kernel shapes (one module each):

* pointwise: a flat index over the group's space, BLOCK elements per program; operands of
  the same shape are read contiguously, broadcast operands through per-dim coordinates
  and strides (0 along broadcast dims); pooling windows are unrolled loops of loads.
* row: BLOCK_O rows per program (a row = one index of the non-reduced dims), the reduced
  dims walked in chunks of BLOCK_R. Reductions that depend on earlier ones (the variance
  after the mean, the sum of exp after the max) take one pass each; a last pass computes
  and stores the elementwise results (and scans, with a running carry). Nothing holds a
  whole row, so no row length makes the kernel spill.
* matmul: tiled (BLOCK_M x BLOCK_N, stepping BLOCK_K) with grouped program order, batch
  on grid axis 1, fp32 accumulation (`input_precision="ieee"` for fp32 operands), and
  the group's elementwise ops applied to the tile before the store.
* conv: implicit GEMM (NCHW), the same tiling over (N*OH*OW) x (OC / groups), groups on
  grid axis 1, with the same fused epilogue.

Every value is computed in fp32 (fp64 if the reference computes in fp64) and cast to its
dtype only when stored.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from agents.baseline.lowering.ir import (
    Const,
    Pointwise,
    Unsupported,
    Value,
    is_float,
)
from agents.baseline.lowering.ops import POINTWISE
from agents.baseline.lowering.schedule import Group, Schedule

TL_DTYPES = {
    "float16": "tl.float16", "bfloat16": "tl.bfloat16", "float32": "tl.float32",
    "float64": "tl.float64", "int8": "tl.int8", "int16": "tl.int16", "int32": "tl.int32",
    "int64": "tl.int64", "uint8": "tl.uint8", "bool": "tl.int1",
}  # fmt: skip


def literal(value: float | int | bool) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isinf(value):
            return 'float("inf")' if value > 0 else 'float("-inf")'
        if math.isnan(value):
            return 'float("nan")'
        text = repr(value)
    else:
        text = str(value)
    return f"({text})" if text.startswith("-") else text


@dataclass
class Launch:
    """What forward needs to run one kernel: python lines before the launch, and the launch."""

    kernel_name: str
    kernel_source: str
    lines: list[str]
    helpers: set[str] = field(default_factory=set)


class Code:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 1

    def __call__(self, line: str) -> None:
        self.lines.append("    " * self.depth + line)

    @contextmanager
    def block(self, header: str) -> Iterator[None]:
        self(header)
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1


class Scope:
    """Names of values already computed at one point of a kernel."""

    def __init__(self, parent: Scope | None = None, tag: str = "") -> None:
        self.parent = parent
        self.tag = tag
        self.names: dict[Any, str] = {}

    def get(self, key: Any) -> str | None:
        scope: Scope | None = self
        while scope is not None:
            if key in scope.names:
                return scope.names[key]
            scope = scope.parent
        return None


class KernelWriter:
    """Shared machinery: arguments, operand loads, elementwise expressions, stores."""

    kind = "pointwise"

    def __init__(self, sched: Schedule, group: Group, params: dict[str, Any], names: Any) -> None:
        self.sched = sched
        self.g = group
        self.params = params
        self.pyname = names  # Value -> python expression in forward
        self.name = group.name
        self.code = Code()
        self.args: list[str] = []  # kernel parameter names, in order
        self.call: list[str] = []  # the matching forward expressions
        self.constexprs: list[tuple[str, str]] = []
        self.helpers: set[str] = set()
        self.py: list[str] = []  # forward lines before the launch
        self.operands = sched.operands_of(group)
        self.scalars = sched.scalars_of(group)
        self.stored = sched.stored_values(group)
        self.op_index = {v.id: i for i, v in enumerate(self.operands)}
        self.out_index = {v.id: i for i, v in enumerate(self.stored)}
        dtypes = [v.dtype for v in [*group.members, *self.operands]]
        self.ct = "tl.float64" if "float64" in dtypes else "tl.float32"
        self.tmp = 0

    # ------------------------------------------------------------ arguments
    def arg(self, name: str, expr: str) -> str:
        if name not in self.args:
            self.args.append(name)
            self.call.append(expr)
        return name

    def fresh(self, stem: str) -> str:
        self.tmp += 1
        return f"{stem}{self.tmp}"

    def scalar(self, v: Value) -> str:
        i = next(k for k, s in enumerate(self.scalars) if s.id == v.id)
        return self.arg(f"sc{i}", self.pyname(v))

    def operand_ptr(self, v: Value) -> str:
        i = self.op_index[v.id]
        return self.arg(f"in{i}", self.pyname(v))

    def out_ptr(self, v: Value) -> str:
        j = self.out_index[v.id]
        return self.arg(f"out{j}", f"out{j}_{self.name}")

    # ------------------------------------------------------------ values
    def load_cast(self, raw: str, dtype: str) -> str:
        if is_float(dtype) and TL_DTYPES[dtype] != self.ct:
            return f"{raw}.to({self.ct})"
        return raw

    def other(self, dtype: str) -> str:
        return "0.0" if is_float(dtype) else "0"

    def expr_arg(self, a: Any, scope: Scope, want_float: bool) -> str:
        if isinstance(a, Const):
            return literal(a.value)
        if isinstance(a, Value) and not a.is_tensor():
            return self.scalar(a)
        name = self.value(a, scope)
        if want_float and not is_float(a.dtype):
            return f"{name}.to({self.ct})"
        return name

    def pointwise(self, v: Pointwise, scope: Scope) -> str:
        spec = POINTWISE[v.op]
        if v.op == "coord":
            return self.coord(self.space_dim(v, int(v.attrs["axis"])), scope)
        tensor_args = [a for a in v.args if isinstance(a, Value) and a.is_tensor()]
        any_float = any(is_float(a.dtype) for a in tensor_args) or is_float(v.dtype)
        parts: dict[str, str] = {}
        for name, a in zip(spec.args, v.args, strict=True):
            want = any_float and not (v.op == "where" and name == "cond")
            parts[name] = self.expr_arg(a, scope, want)
        if v.op == "cast":
            x = parts["x"]
            if v.dtype in ("float16", "bfloat16"):
                rnd = ', fp_downcast_rounding="rtne"' if v.dtype == "bfloat16" else ""
                text = f"{x}.to({TL_DTYPES[v.dtype]}{rnd}).to({self.ct})"
            elif is_float(v.dtype):
                text = f"{x}.to({self.ct})"
            elif v.dtype == "bool":
                text = f"({x} != 0)"
            else:
                text = f"{x}.to({TL_DTYPES[v.dtype]})"
        else:
            text = spec.template.format(**parts)
        for helper in ("_kw_tanh", "_kw_softplus", "_kw_trunc", "_kw_round"):
            if helper in text:
                self.helpers.add(helper)
        name = self.fresh("t")
        self.code(f"{name} = {text}")
        return name

    def space_dim(self, v: Value, axis: int) -> int:
        """The dim of the group's space that `axis` of value `v` lines up with."""
        return len(self.g.space) - v.rank + axis

    def value(self, v: Value, scope: Scope) -> str:
        found = scope.get(v.id)
        if found is not None:
            return found
        if not self.g.has(v):
            name = self.load(v, scope)
        elif isinstance(v, Pointwise):
            name = self.pointwise(v, scope)
        else:
            name = self.special(v, scope)
        scope.names[v.id] = name
        return name

    # ------------------------------------------------------------ hooks
    def load(self, v: Value, scope: Scope) -> str:
        raise NotImplementedError

    def special(self, v: Value, scope: Scope) -> str:
        raise Unsupported.internal(f"{type(v).__name__} in a {self.kind} kernel")

    def coord(self, dim: int, scope: Scope) -> str:
        raise NotImplementedError

    # ------------------------------------------------------------ strides
    def varying_dims(self, v: Value, space: tuple[int, ...]) -> list[int]:
        """Dims of `space` along which operand `v` (broadcast into it) changes."""
        dims = []
        for d in range(len(space)):
            ad = d - (len(space) - v.rank)
            if ad < 0:
                continue
            if v.shape[ad] == 1 and space[d] != 1:
                continue
            dims.append(d)
        return dims

    def stride_args(self, v: Value, role: str, space_expr: str, dims: list[int]) -> list[str]:
        i = self.op_index[v.id]
        var = f"st_{role}{i}_{self.name}"
        self.py.append(f"{var} = _kw_strides({self.pyname(v)}, {space_expr})")
        return [self.arg(f"{role}{i}_s{d}", f"{var}[{d}]") for d in dims]

    def store_value(self, v: Value, name: str) -> str:
        rnd = ', fp_downcast_rounding="rtne"' if v.dtype == "bfloat16" else ""
        if v.dtype == "bool":
            return f"({name} != 0).to(tl.int1)"
        return f"{name}.to({TL_DTYPES.get(v.dtype, 'tl.float32')}{rnd})"

    # ------------------------------------------------------------ assembly
    def kernel_source(self) -> str:
        params = [*self.args, *(f"{c}: tl.constexpr" for c, _ in self.constexprs)]
        head = f"@triton.jit\ndef {self.name}(\n" + "".join(f"    {p},\n" for p in params) + "):"
        return head + "\n" + "\n".join(self.code.lines) + "\n"

    def launch_line(self, grid: str, meta: dict[str, Any]) -> str:
        call_args = [*self.call, *(f"{c}={e}" for c, e in self.constexprs)]
        call_args += [f"{k}={v}" for k, v in meta.items()]
        return f"{self.name}[{grid}](" + ", ".join(call_args) + ")"

    def first_device(self) -> str:
        tensors = [self.pyname(v) for v in self.operands]
        return f"{tensors[0]}.device" if tensors else "None"

    def alloc(self, v: Value, shape_expr: str) -> str:
        j = self.out_index[v.id]
        name = f"out{j}_{self.name}"
        self.py.append(
            f"{name} = torch.empty({shape_expr}, device={self.first_device()}, "
            f"dtype=torch.{v.dtype})"
        )
        return name
