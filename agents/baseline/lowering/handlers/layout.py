"""Layout and Python-level ops: views, reshapes, sizes, allocations -- run in forward."""

from __future__ import annotations

from typing import Any

from agents.baseline.lowering.build import (
    Builder,
    DType,
    Ignored,
    ShapeOf,
    dim_expr,
    is_tensor,
    render,
    render_shape,
)
from agents.baseline.lowering.ir import (
    PyOp,
    Unsupported,
    Value,
)
from agents.baseline.lowering.registry import Call, Handler, op

# ---------------------------------------------------------------- layout and Python-level ops


def py_from_meta(fmt: str, refs: list[Value], meta: dict[str, Any]) -> Value:
    kind = meta.get("kind")
    if kind == "tensor":
        return PyOp(
            shape=tuple(meta["shape"]), dtype=meta["dtype"], fmt=fmt, refs=refs, tensor=True
        )
    if kind == "scalar":
        val = meta.get("value")
        dtype = "float32" if isinstance(val, float) else "int64"
        return PyOp(shape=(), dtype=dtype, fmt=fmt, refs=refs, tensor=False)
    if kind == "tuple":
        return PyOp(shape=(), dtype="tuple", fmt=fmt, refs=refs, tensor=False)
    raise Unsupported("a layout op with an unexpected result")


def method_or_fn(lw: Builder, b: Call, name: str, rest: list[str]) -> Value:
    """`x.name(rest...)` rendered as a PyOp (works for methods and torch.* functions alike)."""
    x = b["input"]
    if not is_tensor(x):
        raise Unsupported(f"{name} of a non-tensor")
    refs: list[Value] = []
    head = render(x, refs)
    parts: list[str] = []
    for r in rest:
        if r.startswith("*"):
            parts.extend(render(a, refs) for a in b[r[1:]])
        elif r.endswith("="):
            key = r[:-1]
            if b.get(key) is not None:
                parts.append(f"{key}={render(b[key], refs)}")
        else:
            parts.append(render(b[r], refs))
    return py_from_meta(f"{head}.{name}({', '.join(parts)})", refs, lw.meta.get(lw.current, {}))


def flatten_shape_args(args: list[Any]) -> list[Any]:
    if len(args) == 1 and isinstance(args[0], list | tuple | ShapeOf):
        return list(args[0]) if not isinstance(args[0], ShapeOf) else [args[0]]
    return args


def _shape_method(name: str) -> Handler:
    def fn(lw: Builder, b: Call) -> Any:
        b = b.with_args(args=flatten_shape_args(b["args"]))
        if len(b["args"]) == 1 and isinstance(b["args"][0], ShapeOf):
            refs: list[Value] = []
            head = render(b["input"], refs)
            shape = render_shape(b["args"][0], refs)
            return py_from_meta(f"{head}.{name}({shape})", refs, lw.meta.get(lw.current, {}))
        return method_or_fn(lw, b, name, ["*args"])

    return fn


for _name in ("view", "reshape", "expand"):
    op(_name, spec="input, *args")(_shape_method(_name))
op("permute", spec="input, *args")(
    lambda lw, b: method_or_fn(
        lw, b.with_args(args=flatten_shape_args(b["args"])), "permute", ["*args"]
    )
)
op("broadcast_to", spec="input, size")(
    lambda lw, b: method_or_fn(
        lw,
        b.with_args(args=list(b["size"]) if isinstance(b["size"], list) else [b["size"]]),
        "expand",
        ["*args"],
    )
)
op("transpose", spec="input, dim0, dim1")(
    lambda lw, b: method_or_fn(lw, b, "transpose", ["dim0", "dim1"])
)
op("movedim", spec="input, source, destination")(
    lambda lw, b: method_or_fn(lw, b, "movedim", ["source", "destination"])
)
op("t", spec="input")(lambda lw, b: method_or_fn(lw, b, "t", []))
op("contiguous", spec="input, memory_format=None")(
    lambda lw, b: method_or_fn(lw, b, "contiguous", [])
)
op("flatten", spec="input, start_dim=0, end_dim=-1")(
    lambda lw, b: method_or_fn(lw, b, "flatten", ["start_dim", "end_dim"])
)
op("unflatten", spec="input, dim, sizes")(
    lambda lw, b: method_or_fn(lw, b, "unflatten", ["dim", "sizes"])
)
op("squeeze", spec="input, dim=None")(lambda lw, b: method_or_fn(lw, b, "squeeze", ["dim="]))
op("unsqueeze", spec="input, dim")(lambda lw, b: method_or_fn(lw, b, "unsqueeze", ["dim"]))


def as_ints(v: Any, what: str) -> list[int]:
    vals = list(v) if isinstance(v, list | tuple) else [v]
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in vals):
        raise Unsupported(f"{what} that is not a constant")
    return vals


def host_copy_op(v: Value) -> str | None:
    """The aten op a PyOp left in forward would run outside any kernel, where the compute
    guard refuses it (the reverse cumsum cancels its flips; a flip left over stays)."""
    if isinstance(v, PyOp) and v.tensor and ".flip(" in v.fmt:
        return "flip"
    return None


op("narrow", spec="input, dim, start, length")(
    lambda lw, b: method_or_fn(lw, b, "narrow", ["dim", "start", "length"])
)
op("select", spec="input, dim, index")(
    lambda lw, b: method_or_fn(lw, b, "select", ["dim", "index"])
)
op("chunk", spec="input, chunks, dim=0")(
    lambda lw, b: method_or_fn(lw, b, "chunk", ["chunks", "dim"])
)
op("split", spec="input, split_size_or_sections, dim=0")(
    lambda lw, b: method_or_fn(lw, b, "split", ["split_size_or_sections", "dim"])
)
op("unbind", spec="input, dim=0")(lambda lw, b: method_or_fn(lw, b, "unbind", ["dim"]))
op("view_as", "reshape_as", "expand_as", spec="input, other")(
    lambda lw, b: method_or_fn(lw, b, b.name, ["other"])
)


def _like(lw: Builder, b: Call, name: str) -> Value:
    x = b.tensor()
    refs: list[Value] = []
    fmt = f"torch.{name}({render(x, refs)}"
    if b.get("dtype") is not None:
        fmt += f", dtype={render(b['dtype'], refs)}"
    return py_from_meta(fmt + ")", refs, lw.meta.get(lw.current, {}))


def _like_handler(name: str) -> Handler:
    return lambda lw, b: _like(lw, b, name)


for _name in ("zeros_like", "ones_like", "empty_like"):
    op(_name, spec="input, *, dtype=None, memory_format=None")(_like_handler(_name))


@op("full_like", spec="input, fill_value, *, dtype=None")
def _full_like(lw: Builder, b: Call) -> Any:
    x = b.tensor()
    refs: list[Value] = []
    fmt = f"torch.full_like({render(x, refs)}, {render(b['fill_value'], refs)}"
    if b.get("dtype") is not None:
        fmt += f", dtype={render(b['dtype'], refs)}"
    return py_from_meta(fmt + ")", refs, lw.meta.get(lw.current, {}))


@op("ones", "zeros", "empty", spec="*size, dtype=None, layout=None, device=None, "
    "requires_grad=False, pin_memory=False")  # fmt: skip
def _factory(lw: Builder, b: Call) -> Any:
    """An allocation in forward (torch.ones(T, T, device=x.device) and the like)."""
    size = flatten_shape_args(b["size"])
    refs: list[Value] = []
    parts = [render(s, refs) for s in size]
    for key in ("dtype", "device"):
        if b.get(key) is not None and not isinstance(b[key], Ignored):
            parts.append(f"{key}={render(b[key], refs)}")
    return py_from_meta(f"torch.{b.name}({', '.join(parts)})", refs, lw.meta.get(lw.current, {}))


@op("tensor", "scalar_tensor", spec="data, *, dtype=None, device=None, requires_grad=False, "
    "pin_memory=False")  # fmt: skip
def _tensor(lw: Builder, b: Call) -> Any:
    """`torch.tensor(c, device=x.device)` of a Python number: a 0-dim tensor."""
    data = b["data"]
    if is_tensor(data) or not isinstance(data, bool | int | float | Value):
        raise Unsupported(f"torch.{b.name} of a {type(data).__name__}")
    meta = lw.meta.get(lw.current, {})
    if meta.get("kind") != "tensor" or meta.get("shape") != []:
        raise Unsupported(f"torch.{b.name} of something other than a number")
    return lw.scalar_tensor(data, meta["dtype"], b["device"])


@op("cat", "stack", spec="tensors, dim=0")
def _cat(lw: Builder, b: Call) -> Any:
    tensors = b["tensors"]
    if not isinstance(tensors, list) or not all(is_tensor(t) for t in tensors):
        raise Unsupported(f"{b.name} of non-tensors")
    refs: list[Value] = []
    fmt = f"torch.{b.name}({render(tensors, refs)}, dim={render(b['dim'], refs)})"
    return py_from_meta(fmt, refs, lw.meta.get(lw.current, {}))


@op("pad", spec="input, pad, mode='constant', value=None")
def _pad(lw: Builder, b: Call) -> Any:
    """F.pad with a constant, one dim at a time as cat(full, x, full): factories and a cat
    (F.pad itself is torch compute to the static check)."""
    if b["mode"] != "constant":
        raise Unsupported.missing("pad", f"in mode {b['mode']!r}")
    x = b.tensor()
    widths = as_ints(b["pad"], "a pad width")
    value = 0.0 if b["value"] is None else b["value"]
    if len(widths) % 2 or len(widths) // 2 > x.rank or min(widths, default=0) < 0:
        raise Unsupported("pad by negative widths or past the tensor's dims")
    for i in range(len(widths) // 2):
        d = x.rank - 1 - i
        left, right = widths[2 * i], widths[2 * i + 1]
        if not (left or right):
            continue
        parts = []
        for w in (left, right):
            edge = f"(*{{0}}.shape[:{d}], {w}, *{{0}}.shape[{d + 1}:])"
            parts.append(
                f"torch.full({edge}, {{1}}, dtype={{0}}.dtype, device={{0}}.device)" if w else ""
            )
        body = ", ".join(p for p in (parts[0], "{0}", parts[1]) if p)
        shape = (*x.shape[:d], x.shape[d] + left + right, *x.shape[d + 1 :])
        x = lw.view(x, f"torch.cat([{body}], dim={d})", shape, value)
    return x


@op("size", spec="input, dim=None")
def _size(lw: Builder, b: Call) -> Any:
    x = b.tensor()
    if b["dim"] is None:
        return ShapeOf(x)
    if not isinstance(b["dim"], int):
        raise Unsupported("size() with a computed dim")
    return dim_expr(x, b["dim"])


@op("dim", "ndimension", spec="input")
def _ndim(lw: Builder, b: Call) -> Any:
    return b.tensor().rank


@op("numel", spec="input")
def _numel(lw: Builder, b: Call) -> Any:
    x = b.tensor()
    if x.rank == 0:
        return 1
    refs: list[Value] = []
    fmt = " * ".join(render(dim_expr(x, d), refs) for d in range(x.rank))
    return lw.scalar_py(f"({fmt})", refs, "int64")


@op("getattr", spec="obj, name")
def _getattr(lw: Builder, b: Call) -> Any:
    obj, name = b["obj"], b["name"]
    if isinstance(obj, list) and len(obj) == 2 and name in ("values", "indices"):
        return obj[0 if name == "values" else 1]  # torch.max(x, dim) and friends
    if not is_tensor(obj):
        raise Unsupported(f"attribute {name!r} of a non-tensor")
    if name == "shape":
        return ShapeOf(obj)
    if name == "ndim":
        return obj.rank
    if name in ("T", "mT"):
        if obj.rank == 2 or name == "mT":
            shape = (*obj.shape[:-2], obj.shape[-1], obj.shape[-2])
            return lw.view(obj, "{0}.transpose(-2, -1)", shape)
        return lw.view(
            obj, "{0}.permute(*range({0}.dim() - 1, -1, -1))", tuple(reversed(obj.shape))
        )
    if name == "dtype":
        return DType(obj.dtype)
    if name == "device":
        return PyOp(shape=(), dtype="device", fmt="{0}.device", refs=[obj], tensor=False)
    raise Unsupported(f"tensor attribute .{name}")


@op("getitem", spec="obj, index")
def _getitem(lw: Builder, b: Call) -> Any:
    obj, index = b["obj"], b["index"]
    if isinstance(obj, ShapeOf):
        if isinstance(index, int):
            return dim_expr(obj.value, index)
        if isinstance(index, slice):
            dims = range(obj.value.rank)[index]
            return [dim_expr(obj.value, d) for d in dims]
        raise Unsupported("indexing a shape with a computed index")
    if isinstance(obj, list):
        if isinstance(index, int | slice):
            return obj[index]
        raise Unsupported("indexing a sequence with a computed index")
    if isinstance(obj, PyOp) and not obj.tensor:
        refs: list[Value] = []
        fmt = f"{render(obj, refs)}[{render(index, refs)}]"
        return py_from_meta(fmt, refs, lw.meta.get(lw.current, {}))
    if is_tensor(obj):
        if is_tensor(index) or (isinstance(index, list) and any(is_tensor(i) for i in index)):
            raise Unsupported.missing("indexing with a tensor (gather)")
        refs = []
        obj_s = render(obj, refs)
        idx = index if isinstance(index, list) else [index]
        idx_s = ", ".join(render(i, refs) for i in idx)
        return py_from_meta(f"{obj_s}[{idx_s}]", refs, lw.meta.get(lw.current, {}))
    raise Unsupported(f"indexing a {type(obj).__name__}")
