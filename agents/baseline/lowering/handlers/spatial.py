"""Window arguments and spatial layout helpers shared by convolution and pooling."""

from __future__ import annotations

from typing import Any

from agents.baseline.lowering.build import Builder
from agents.baseline.lowering.ir import PyOp, Unsupported, Value


def pair(v: Any) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    if isinstance(v, list | tuple) and len(v) == 2 and all(isinstance(i, int) for i in v):
        return (int(v[0]), int(v[1]))
    if isinstance(v, list | tuple) and len(v) == 1 and isinstance(v[0], int):
        return (int(v[0]), int(v[0]))
    raise Unsupported(f"a 2-D window argument {v!r}")


def window(v: Any, n: int) -> tuple[int, ...]:
    """A window argument (int, or a sequence of 1 or n ints) for n spatial dims."""
    if isinstance(v, int):
        return (v,) * n
    if isinstance(v, list | tuple) and all(isinstance(i, int) for i in v):
        if len(v) == n:
            return tuple(int(i) for i in v)
        if len(v) == 1:
            return (int(v[0]),) * n
    raise Unsupported(f"a {n}-D window argument {v!r}")


def conv_dims(x: Value, w: Value, what: str) -> int:
    """How many spatial dims a conv has (2 or 3), refusing what the kernel cannot do."""
    if x.rank not in (4, 5) or w.rank != x.rank:
        raise Unsupported(f"{what} of {x.rank}-D tensors (batched NCHW or NCDHW only)")
    if "float64" in (x.dtype, w.dtype):
        raise Unsupported(f"{what} in float64")
    return x.rank - 2


def one_d(v: Any, default: int) -> tuple[int, int]:
    """A 1-D window argument as the (1, k) pair of a 2-D one over a (1, L) plane."""
    if isinstance(v, list | tuple):
        if len(v) != 1:
            raise Unsupported(f"a 1-D window argument {v!r}")
        v = v[0]
    if not isinstance(v, int):
        raise Unsupported(f"a 1-D window argument {v!r}")
    return (default, int(v))


def as_1d(lw: Builder, out: Value) -> Value:
    return PyOp(
        shape=(out.shape[0], out.shape[1], out.shape[3]),
        dtype=out.dtype,
        fmt="{0}.squeeze(2)",
        refs=[out],
        tensor=True,
    )


def plane(lw: Builder, v: Value, what: str) -> Value:
    if v.rank != 3:
        raise Unsupported(f"{what} of a {v.rank}-D tensor (batched NCL only)")
    return lw.view(v, "{0}.unsqueeze(2)", (v.shape[0], v.shape[1], 1, v.shape[2]))
