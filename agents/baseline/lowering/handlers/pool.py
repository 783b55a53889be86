"""Pooling: max/avg (1-D, 2-D) and adaptive pooling."""

from __future__ import annotations

from typing import Any

from agents.baseline.lowering.build import Builder
from agents.baseline.lowering.handlers.spatial import window
from agents.baseline.lowering.ir import (
    Pool2d,
    PyOp,
    Unsupported,
    Value,
)
from agents.baseline.lowering.registry import Call, op


def pool2d(
    lw: Builder,
    op_name: str,
    x: Value,
    kernel: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
    count_include_pad: bool = True,
    divisor: Any = None,
    dims: int = 2,
) -> Value:
    """max/avg pooling over the `dims` (2 or 3) trailing dims, batched or not."""
    what = f"{op_name}pool{dims}d"
    if ceil_mode and op_name != "max":
        raise Unsupported(f"{what} with ceil_mode=True")
    if x.rank not in (dims + 1, dims + 2):
        raise Unsupported(f"{what} of a {x.rank}-D tensor")
    k = window(kernel, dims)
    st = window(stride, dims) if stride not in (None, []) else k
    pd, dl = window(padding, dims), window(dilation, dims)
    if x.rank == dims + 1:
        x = lw.view(x, "{0}.unsqueeze(0)", (1, *x.shape))
    out = [
        pooled_size(size, kk, s, p, d, bool(ceil_mode))
        for size, kk, s, p, d in zip(x.shape[2:], k, st, pd, dl, strict=True)
    ]
    return Pool2d(
        shape=(x.shape[0], x.shape[1], *out),
        dtype=x.dtype,
        op=op_name,
        x=x,
        kernel=k,
        stride=st,
        padding=pd,
        dilation=dl,
        count_include_pad=bool(count_include_pad),
        divisor=divisor,
        ceil_mode=bool(ceil_mode),
    )


def pooled_size(size: int, k: int, s: int, p: int, d: int, ceil: bool) -> int:
    """torch's output length; with ceil_mode the last window must start inside the input."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil else 0)) // s + 1
    return out - 1 if ceil and (out - 1) * s >= size + p else out


@op(
    "max_pool2d",
    "max_pool3d",
    spec="input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, "
    "return_indices=False",
)
def _maxpool(lw: Builder, b: Call) -> Any:
    if b["return_indices"]:
        raise Unsupported(f"{b.name} with return_indices")
    return pool2d(
        lw,
        "max",
        b["input"],
        b["kernel_size"],
        b["stride"],
        b["padding"],
        b["dilation"],
        b["ceil_mode"],
        dims=int(b.name[-2]),
    )


@op(
    "avg_pool2d",
    "avg_pool3d",
    spec="input, kernel_size, stride=None, padding=0, ceil_mode=False, "
    "count_include_pad=True, divisor_override=None",
)
def _avgpool(lw: Builder, b: Call) -> Any:
    return pool2d(
        lw,
        "avg",
        b["input"],
        b["kernel_size"],
        b["stride"],
        b["padding"],
        1,
        b["ceil_mode"],
        b["count_include_pad"],
        b["divisor_override"],
        dims=int(b.name[-2]),
    )


def pool1d(
    lw: Builder,
    op_name: str,
    x: Value,
    kernel: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
    count_include_pad: bool = True,
) -> Value:
    """1-D pooling as 2-D pooling over a (1, L) plane."""
    if x.rank != 3:
        raise Unsupported(f"{op_name}pool1d of a {x.rank}-D tensor")

    def one(v: Any) -> int:
        return int(v[0]) if isinstance(v, list | tuple) else int(v)

    x4 = lw.view(x, "{0}.unsqueeze(2)", (x.shape[0], x.shape[1], 1, x.shape[2]))
    k = one(kernel)
    st = one(stride) if stride not in (None, []) else k
    p = pool2d(
        lw,
        op_name,
        x4,
        (1, k),
        (1, st),
        (0, one(padding)),
        (1, one(dilation)),
        ceil_mode,
        count_include_pad,
    )
    return PyOp(
        shape=(p.shape[0], p.shape[1], p.shape[3]),
        dtype=p.dtype,
        fmt="{0}.squeeze(2)",
        refs=[p],
        tensor=True,
    )


@op(
    "max_pool1d",
    spec="input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, "
    "return_indices=False",
)
def _maxpool1d(lw: Builder, b: Call) -> Any:
    if b["return_indices"]:
        raise Unsupported("max_pool1d with return_indices")
    return pool1d(
        lw,
        "max",
        b["input"],
        b["kernel_size"],
        b["stride"],
        b["padding"],
        b["dilation"],
        b["ceil_mode"],
    )


@op(
    "avg_pool1d",
    spec="input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True",
)
def _avgpool1d(lw: Builder, b: Call) -> Any:
    return pool1d(
        lw,
        "avg",
        b["input"],
        b["kernel_size"],
        b["stride"],
        b["padding"],
        1,
        b["ceil_mode"],
        b["count_include_pad"],
    )


def adaptive_pool(lw: Builder, op_name: str, x: Value, size: Any, dims: int) -> Value:
    sizes = size if isinstance(size, list | tuple) else [size] * dims
    if all(s == 1 for s in sizes):
        axes = tuple(range(x.rank - dims, x.rank))
        return lw.reduce(op_name, x, axes, True)
    spatial = x.shape[x.rank - dims :]
    if all(s is None or s == d for s, d in zip(sizes, spatial, strict=True)):
        return lw.pw("identity", x)
    raise Unsupported.missing(f"adaptive_{op_name}_pool{dims}d", f"to size {list(sizes)}")


@op(
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
    spec="input, output_size, return_indices=False",
)
def _adaptive(lw: Builder, b: Call) -> Any:
    if b["return_indices"]:
        raise Unsupported(f"{b.name} with return_indices")
    how = "mean" if b.name.startswith("adaptive_avg") else "max"
    return adaptive_pool(lw, how, b.tensor(), b["output_size"], int(b.name[-2]))
