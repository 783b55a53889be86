"""Elementwise ops: activations, arithmetic with broadcasting, comparisons, casts."""

from __future__ import annotations

from typing import Any

from agents.baseline.lowering.build import Builder, DType, ShapeOf, is_tensor, render
from agents.baseline.lowering.ir import (
    Pointwise,
    Unsupported,
    Value,
)
from agents.baseline.lowering.registry import Call, Handler, op

# ================================================================ function handlers


def _unary(op_name: str) -> Handler:
    def fn(lw: Builder, b: Call) -> Any:
        return lw.pw(op_name, b.tensor())

    return fn


for _name in (
    "relu",
    "relu6",
    "abs",
    "exp",
    "exp2",
    "expm1",
    "log",
    "log2",
    "log10",
    "log1p",
    "sqrt",
    "rsqrt",
    "reciprocal",
    "square",
    "sin",
    "cos",
    "tanh",
    "erf",
    "erfc",
    "floor",
    "ceil",
    "trunc",
    "frac",
    "sigmoid",
    "logsigmoid",
    "silu",
    "mish",
    "softsign",
    "selu",
    "hardsigmoid",
    "hardswish",
    "tanhshrink",
    "sign",
    "sgn",
    "logical_not",
    "isnan",
    "neg",
):
    op(_name, spec="input, inplace=False")(_unary("sign" if _name == "sgn" else _name))


@op("positive", "clone", "detach", "contiguous_copy", spec="input, *, memory_format=None")
def _identity(lw: Builder, b: Call) -> Any:
    x = b["input"]
    if b.name == "detach" or not is_tensor(x):
        return x
    return lw.pw("identity", x)


@op("round", spec="input, decimals=0")
def _round(lw: Builder, b: Call) -> Any:
    if b["decimals"]:
        raise Unsupported("round with decimals")
    return lw.pw("round", b.tensor())


@op("gelu", spec="input, approximate='none'")
def _gelu(lw: Builder, b: Call) -> Any:
    return lw.pw("gelu_tanh" if b["approximate"] == "tanh" else "gelu", b.tensor())


@op("leaky_relu", spec="input, negative_slope=0.01, inplace=False")
def _leaky(lw: Builder, b: Call) -> Any:
    return lw.pw("leaky_relu", b.tensor(), b["negative_slope"])


@op("elu", spec="input, alpha=1.0, inplace=False")
def _elu(lw: Builder, b: Call) -> Any:
    return lw.pw("elu", b.tensor(), b["alpha"])


@op("celu", spec="input, alpha=1.0, inplace=False")
def _celu(lw: Builder, b: Call) -> Any:
    return lw.pw("celu", b.tensor(), b["alpha"])


@op("softplus", spec="input, beta=1.0, threshold=20.0")
def _softplus(lw: Builder, b: Call) -> Any:
    return lw.pw("softplus", b.tensor(), b["beta"], b["threshold"])


@op("hardtanh", spec="input, min_val=-1.0, max_val=1.0, inplace=False")
def _hardtanh(lw: Builder, b: Call) -> Any:
    return lw.pw("hardtanh", b.tensor(), b["min_val"], b["max_val"])


@op("hardshrink", "softshrink", spec="input, lambd=0.5")
def _shrink(lw: Builder, b: Call) -> Any:
    return lw.pw(b.name, b.tensor(), b["lambd"])


@op("threshold", spec="input, threshold, value, inplace=False")
def _threshold(lw: Builder, b: Call) -> Any:
    return lw.pw("threshold", b.tensor(), b["threshold"], b["value"])


@op("prelu", spec="input, weight")
def _prelu(lw: Builder, b: Call) -> Any:
    x, w = b.tensor(), b["weight"]
    if is_tensor(w) and w.rank == 1 and w.shape[0] != 1 and x.rank >= 2:
        w = lw.channel_view(w, x.rank)
    return lw.pw("prelu", x, w)


@op("clamp", spec="input, min=None, max=None")
def _clamp(lw: Builder, b: Call) -> Any:
    x = b.tensor()
    lo, hi = b["min"], b["max"]
    if lo is None and hi is None:
        raise Unsupported("clamp without bounds")
    if lo is not None:
        x = lw.pw("clamp_min", x, lo)
    if hi is not None:
        x = lw.pw("clamp_max", x, hi)
    return x


@op("clamp_min", spec="input, min")
def _clamp_min(lw: Builder, b: Call) -> Any:
    return lw.pw("clamp_min", b.tensor(), b["min"])


@op("clamp_max", spec="input, max")
def _clamp_max(lw: Builder, b: Call) -> Any:
    return lw.pw("clamp_max", b.tensor(), b["max"])


def _scalar_binop(lw: Builder, sym: str, x: Any, y: Any) -> Value:
    refs: list[Value] = []
    fmt = f"({render(x, refs)} {sym} {render(y, refs)})"
    dtype = "float32" if any(isinstance(v, float) for v in (x, y)) else "int64"
    return lw.scalar_py(fmt, refs, dtype)


_PY_SYMBOLS = {
    "add": "+",
    "sub": "-",
    "mul": "*",
    "div": "/",
    "floor_divide": "//",
    "remainder": "%",
    "pow": "**",
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "le": "<=",
    "gt": ">",
    "ge": ">=",
}


def _binary(op_name: str) -> Handler:
    def fn(lw: Builder, b: Call) -> Any:
        x, y = b["input"], b["other"]
        if isinstance(x, ShapeOf) or isinstance(y, ShapeOf):
            raise Unsupported(f"{op_name} on a shape")
        if not is_tensor(x) and not is_tensor(y):
            return _scalar_binop(lw, _PY_SYMBOLS.get(op_name, "+"), x, y)
        alpha = b.get("alpha", 1)
        if op_name in ("add", "sub") and alpha != 1:
            y = lw.pw("mul", y, alpha) if is_tensor(y) else _scalar_binop(lw, "*", y, alpha)
        if not is_tensor(x):
            # scalar OP tensor: keep the order of operands
            return lw.pw(op_name, x, y) if op_name not in ("pow",) else lw.pw("rpow_scalar", y, x)
        if op_name == "pow" and not is_tensor(y):
            return _pow_scalar(lw, x, y)
        return lw.pw(op_name, x, y)

    return fn


def _pow_scalar(lw: Builder, x: Value, e: Any) -> Value:
    if isinstance(e, int | float) and float(e).is_integer() and -4 <= e <= 4:
        n = int(e)
        if n == 0:
            return lw.pw("add", lw.pw("mul", x, 0.0), 1.0)
        base = x
        out = base
        for _ in range(abs(n) - 1):
            out = lw.pw("mul", out, base)
        return lw.pw("reciprocal", out) if n < 0 else out
    if e == 0.5:
        return lw.pw("sqrt", x)
    if e == -0.5:
        return lw.pw("rsqrt", x)
    return lw.pw("pow_scalar", x, e)


for _name in ("add", "sub"):
    op(_name, spec="input, other, *, alpha=1")(_binary(_name))
for _name in (
    "mul",
    "maximum",
    "minimum",
    "fmax",
    "fmin",
    "hypot",
    "xlogy",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "logical_and",
    "logical_or",
    "logical_xor",
    "floor_divide",
    "remainder",
    "fmod",
    "pow",
):
    _target = {"fmax": "maximum", "fmin": "minimum"}.get(_name, _name)
    op(_name, spec="input, other")(_binary(_target))
op("float_power", spec="input, exponent")(
    lambda lw, b: _binary("pow")(lw, Call("pow", {"input": b["input"], "other": b["exponent"]}))
)


@op("rsub", spec="input, other, alpha=1")
def _rsub(lw: Builder, b: Call) -> Any:
    x = b["input"] if b["alpha"] == 1 else lw.pw("mul", b["input"], b["alpha"])
    return lw.pw("sub", b["other"], x)


@op("div", spec="input, other, *, rounding_mode=None")
def _div(lw: Builder, b: Call) -> Any:
    x, y = b["input"], b["other"]
    if not is_tensor(x) and not is_tensor(y):
        return _scalar_binop(lw, "/" if b["rounding_mode"] is None else "//", x, y)
    q = lw.pw("div", x, y)
    if b["rounding_mode"] == "floor":
        return lw.pw("floor", q)
    if b["rounding_mode"] == "trunc":
        return lw.pw("trunc", q)
    return q


@op("where", spec="condition, input=None, other=None")
def _where(lw: Builder, b: Call) -> Any:
    if b["input"] is None:
        raise Unsupported("where(condition) without values (nonzero)")
    return lw.pw("where", b["condition"], b["input"], b["other"])


@op("masked_fill", spec="input, mask, value")
def _masked_fill(lw: Builder, b: Call) -> Any:
    return lw.pw("where", b["mask"], b["value"], b.tensor())


@op("lerp", spec="input, end, weight")
def _lerp(lw: Builder, b: Call) -> Any:
    return lw.pw("lerp", b.tensor(), b["end"], b["weight"])


@op("addcmul", "addcdiv", spec="input, tensor1, tensor2, *, value=1")
def _addc(lw: Builder, b: Call) -> Any:
    return lw.pw(b.name, b.tensor(), b["tensor1"], b["tensor2"], b["value"])


@op("tril", "triu", spec="input, diagonal=0")
def _tri(lw: Builder, b: Call) -> Any:
    x = b.tensor()
    if x.rank < 2:
        raise Unsupported(f"{b.name} of a 1-D tensor")
    keep = triangle(lw, x, b["diagonal"], lower=b.name == "tril")
    return lw.pw("where", keep, x, lw.pw("mul", x, 0))


def triangle(lw: Builder, x: Value, diagonal: Any, lower: bool) -> Value:
    """True where (row, col) of x's last two dims lies on or below (above) `diagonal`."""
    row = Pointwise(shape=x.shape, dtype="int64", op="coord", args=[x])
    row.attrs["axis"] = x.rank - 2
    col = Pointwise(shape=x.shape, dtype="int64", op="coord", args=[x])
    col.attrs["axis"] = x.rank - 1
    diff = lw.pw("sub", col, row, dtype="int64")
    return lw.pw("le" if lower else "ge", diff, diagonal)


def _cast(dtype: str) -> Handler:
    def fn(lw: Builder, b: Call) -> Any:
        x = b.tensor()
        if x.dtype == dtype:
            return x
        return lw.pw("cast", x, dtype=dtype)

    return fn


for _name, _dt in (
    ("float", "float32"),
    ("half", "float16"),
    ("bfloat16", "bfloat16"),
    ("double", "float64"),
    ("int", "int32"),
    ("long", "int64"),
    ("bool", "bool"),
):
    op(_name, spec="input, memory_format=None")(_cast(_dt))


@op("to", "type", spec="input, *args, non_blocking=False, copy=False")
def _to(lw: Builder, b: Call) -> Any:
    x = b.tensor()
    dtypes = [a for a in b["args"] if isinstance(a, DType)]
    others = [a for a in b["args"] if is_tensor(a)]
    if others:
        dtypes.append(DType(others[0].dtype))
    if not dtypes:
        return x  # .to(device)
    return _cast(dtypes[0].name)(lw, Call("to", {"input": x}))


@op("type_as", spec="input, other")
def _type_as(lw: Builder, b: Call) -> Any:
    return _cast(b["other"].dtype)(lw, Call("type_as", {"input": b["input"]}))


@op(
    "dropout",
    "alpha_dropout",
    "feature_alpha_dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    spec="input, p=0.5, training=True, inplace=False",
)
def _dropout(lw: Builder, b: Call) -> Any:
    if b["p"] == 0 or not b["training"]:
        return b.tensor()
    raise Unsupported.missing("dropout", "in training mode (random)")
