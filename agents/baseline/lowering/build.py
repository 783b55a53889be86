"""The building blocks every baseline handler lowers with.

`Builder` makes IR values (`pw`, `reduce`, `view`, ...) and holds what handlers may read
about the node being lowered (`meta`, `current`, `diagonals`); the module-level helpers
render lowered arguments into the Python source of `PyOp`s and find where a dimension's
size comes from at run time. `agents.baseline.lowering.lower.Lowering` extends the builder with
the walk over the traced graph.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from agents.baseline.lowering.ir import (
    Arg,
    Const,
    Conv2d,
    Input,
    Matmul,
    Param,
    Pointwise,
    Pool2d,
    PyOp,
    Reduce,
    Scan,
    Unsupported,
    Value,
    broadcast,
    is_float,
    norm_axes,
    reduced_shape,
)
from agents.baseline.lowering.ops import POINTWISE


@dataclass(frozen=True)
class DType:
    name: str


@dataclass(frozen=True)
class Ignored:
    what: str


class ShapeOf:
    """`t.shape` / `t.size()` of a tensor value, resolved lazily to per-dim expressions."""

    def __init__(self, value: Value) -> None:
        self.value = value


_FLOAT_RANK = {"float16": 1, "bfloat16": 1, "float32": 2, "float64": 3}


def promote(dtypes: list[str], has_float_scalar: bool = False) -> str:
    floats = [d for d in dtypes if is_float(d)]
    if floats:
        if len(set(floats)) == 1:
            return floats[0]
        top = max(floats, key=lambda d: _FLOAT_RANK[d])
        return "float32" if _FLOAT_RANK[top] == 1 else top
    if has_float_scalar:
        return "float32"
    if any(d not in ("bool",) for d in dtypes):
        return "int64"
    return "bool" if dtypes else "float32"


# ---------------------------------------------------------------- helpers


def is_tensor(x: Any) -> bool:
    return isinstance(x, Value) and x.is_tensor()


def as_arg(x: Any, what: str) -> Arg:
    if isinstance(x, Value):
        return x
    if isinstance(x, bool | int | float):
        return Const(x)
    raise Unsupported(f"{what}: operand of type {type(x).__name__}")


def render(x: Any, refs: list[Value]) -> str:
    """Python source for a lowered argument inside a PyOp format string."""
    if isinstance(x, Value):
        refs.append(x)
        return f"{{{len(refs) - 1}}}"
    if isinstance(x, ShapeOf):
        return render_shape(x, refs)
    if isinstance(x, DType):
        return f"torch.{x.name}"
    if isinstance(x, slice):
        parts = ["" if p is None else render(p, refs) for p in (x.start, x.stop, x.step)]
        text = f"{parts[0]}:{parts[1]}"
        return text + (f":{parts[2]}" if parts[2] else "")
    if x is Ellipsis:
        return "..."
    if isinstance(x, list | tuple):
        inner = ", ".join(render(v, refs) for v in x)
        return f"({inner},)" if len(x) == 1 else f"({inner})"
    if isinstance(x, float) and (math.isinf(x) or math.isnan(x)):
        return f'float("{x}")'
    if isinstance(x, bool | int | float | str) or x is None:
        return repr(x)
    if isinstance(x, Ignored):
        raise Unsupported(f"argument {x.what}")
    raise Unsupported(f"argument of type {type(x).__name__}")


def render_shape(s: ShapeOf, refs: list[Value]) -> str:
    dims = [render(dim_expr(s.value, d), refs) for d in range(s.value.rank)]
    return "(" + "".join(f"{d}, " for d in dims) + ")"


def dim_expr(v: Value, d: int) -> Any:
    """A scalar PyOp (or int) giving `v.shape[d]` at run time without materializing `v`."""
    src = dim_source(v, d % max(v.rank, 1))
    if src is None:
        return PyOp(shape=(), dtype="int64", fmt=f"{{0}}.shape[{d}]", refs=[v], tensor=False)
    if isinstance(src, int):
        return src
    leaf, ld = src
    return PyOp(shape=(), dtype="int64", fmt=f"{{0}}.shape[{ld}]", refs=[leaf], tensor=False)


def dim_source(v: Value, d: int) -> tuple[Value, int] | int | None:
    if isinstance(v, Input | Param) or (isinstance(v, PyOp) and v.tensor):
        return (v, d)
    if isinstance(v, Pointwise):
        want = v.shape[d]
        offset = v.rank - d
        for a in v.operands():
            if not a.is_tensor() or a.rank < offset:
                continue
            ad = a.rank - offset
            if a.shape[ad] == want and (want != 1 or a.rank == v.rank):
                return dim_source(a, ad)
        return None
    if isinstance(v, Reduce) and v.src is not None:
        if v.keepdim:
            return 1 if d in v.axes else dim_source(v.src, d)
        kept = [i for i in range(v.src.rank) if i not in v.axes]
        return dim_source(v.src, kept[d])
    if isinstance(v, Scan) and v.src is not None:
        return dim_source(v.src, d)
    if isinstance(v, Matmul) and v.a is not None and v.b is not None:
        if d == v.rank - 1:
            return dim_source(v.b, v.b.rank - 1)
        if d == v.rank - 2:
            return dim_source(v.a, v.a.rank - 2)
        return None
    if isinstance(v, Conv2d | Pool2d) and d in (0, 1):
        x = v.x
        if isinstance(v, Conv2d) and d == 1 and v.w is not None:
            if v.transposed:
                return dim_source(v.w, 1) if v.groups == 1 else None
            return dim_source(v.w, 0)
        return dim_source(x, d) if x is not None else None
    return None


class Builder:
    """Makes the IR values handlers return; knows the node being lowered."""

    def __init__(self, analysis: dict[str, Any]) -> None:
        self.analysis = analysis
        self.training = bool(analysis.get("training", True))
        self.env: dict[str, Any] = {}
        self.meta: dict[str, Any] = {}
        self.params = analysis.get("params", {}) | analysis.get("buffers", {})
        self.current = ""
        self.diagonals: dict[int, Value] = {}  # id of a torch.diag(v) PyOp -> v
        self.first_input: Value | None = None  # whose device tensors made in forward go on

    def scalar_tensor(self, value: Any, dtype: str, device: Any = None) -> Value:
        """A 0-dim tensor made in forward (`torch.tensor(c)`), on the inputs' device."""
        if device is None or isinstance(device, Ignored):
            if self.first_input is None:
                raise Unsupported("a tensor constant in a forward without tensor inputs")
            device = PyOp(
                shape=(), dtype="device", fmt="{0}.device", refs=[self.first_input], tensor=False
            )
        refs: list[Value] = []
        fmt = f"torch.full((), {render(value, refs)}, dtype=torch.{dtype}, device={render(device, refs)})"
        return PyOp(shape=(), dtype=dtype, fmt=fmt, refs=refs, tensor=True)

    # ------------------------------------------------------------ building blocks
    def pw(self, op_name: str, *args: Any, dtype: str | None = None) -> Value:
        spec = POINTWISE[op_name]
        if len(args) != len(spec.args):
            raise Unsupported.internal(f"{op_name} takes {len(spec.args)} operands")
        lowered = [as_arg(a, op_name) for a in args]
        tensors = [a for a in lowered if isinstance(a, Value) and a.is_tensor()]
        if not tensors:
            raise Unsupported.internal(f"{op_name} without a tensor operand")
        shape = broadcast(*(t.shape for t in tensors))
        if dtype is None:
            if spec.kind == "bool":
                dtype = "bool"
            else:
                has_float_scalar = any(
                    (isinstance(a, Const) and isinstance(a.value, float))
                    or (isinstance(a, Value) and not a.is_tensor() and is_float(a.dtype))
                    for a in lowered
                )
                dtype = promote([t.dtype for t in tensors], has_float_scalar)
                if spec.kind == "float" and not is_float(dtype):
                    dtype = "float32"
        return Pointwise(shape=shape, dtype=dtype, op=op_name, args=lowered)

    def reduce(
        self, op_name: str, x: Value, axes: Any, keepdim: bool, correction: float = 0.0
    ) -> Value:
        if not is_tensor(x):
            raise Unsupported(f"{op_name} of a non-tensor")
        ax = norm_axes(axes, x.rank)
        if x.rank == 0:
            ax = ()
        shape = reduced_shape(x.shape, ax, keepdim)
        if op_name in ("argmax", "argmin") or (
            op_name in ("sum", "prod") and not is_float(x.dtype)
        ):
            dtype = "int64"
        else:
            dtype = x.dtype if is_float(x.dtype) else "float32"
        return Reduce(
            shape=shape,
            dtype=dtype,
            op=op_name,
            src=x,
            axes=ax,
            keepdim=keepdim,
            correction=correction,
        )

    def mean(self, x: Value, axes: Any, keepdim: bool, correction: float = 0.0) -> Value:
        return self.reduce("mean", x, axes, keepdim, correction)

    def view(self, x: Value, fmt: str, shape: tuple[int, ...], *extra: Any) -> Value:
        refs: list[Value] = [x]
        rendered = [render(e, refs) for e in extra]
        return PyOp(
            shape=shape, dtype=x.dtype, fmt=fmt.format("{0}", *rendered), refs=refs, tensor=True
        )

    def channel_view(self, p: Value, rank: int) -> Value:
        """A (C,) parameter viewed as (C, 1, ..., 1) to broadcast along dim 1 of a rank-`rank` x."""
        ones = rank - 2
        if ones <= 0:
            return p
        return self.view(p, "{0}.view(-1" + ", 1" * ones + ")", (p.shape[0],) + (1,) * ones)

    def scalar_py(self, fmt: str, refs: list[Value], dtype: str) -> Value:
        return PyOp(shape=(), dtype=dtype, fmt=fmt, refs=refs, tensor=False)

    def ensure_copy(self, v: Value) -> Value:
        """Outputs must be written by a kernel, never alias an input."""
        root = v
        while isinstance(root, PyOp) and root.refs:
            root = root.refs[0]
        if isinstance(root, Input | Param | PyOp):
            return self.pw("identity", v, dtype=v.dtype)
        return v
