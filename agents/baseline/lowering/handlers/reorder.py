"""Reordering ops: flip, roll, repeat/tile and pixel (un)shuffle, lowered to views, narrows,
a cat or one copy."""

from __future__ import annotations

import re
from math import prod
from typing import Any

from agents.baseline.lowering.build import (
    Builder,
    ShapeOf,
    render,
)
from agents.baseline.lowering.handlers.layout import (
    as_ints,
    flatten_shape_args,
    method_or_fn,
    py_from_meta,
)
from agents.baseline.lowering.ir import PyOp, Unsupported, Value
from agents.baseline.lowering.registry import Call, op

_FLIP = re.compile(r"\{0\}\.flip\((-?\d+),?\)")


def flipped_along(v: Value) -> tuple[Value, int] | None:
    """(x, dim) where `v` is `x.flip(dim)` made by the flip handler, else None."""
    if not (isinstance(v, PyOp) and v.tensor and len(v.refs) == 1):
        return None
    m = _FLIP.fullmatch(v.fmt)
    return (v.refs[0], int(m.group(1)) % max(v.rank, 1)) if m else None


@op("flip", spec="input, *dims")
def _flip(lw: Builder, b: Call) -> Any:
    dims = flatten_shape_args(b["dims"])
    x = b.tensor()
    if len(dims) == 1 and isinstance(dims[0], int):
        dim = dims[0] % max(x.rank, 1)
        inner = flipped_along(x)
        if inner is not None and inner[1] == dim:
            return inner[0]  # flip(flip(y)) along one dim is y
        return lw.view(x, f"{{0}}.flip({dim})", x.shape)
    return method_or_fn(lw, b.with_args(dims=dims), "flip", ["*dims"])


# Data movement the compute guard refuses as an aten op (aten.roll, aten.repeat) is written
# with the views and the cat it allows; a flip has no such form (see host_copy_op).


@op("roll", spec="input, shifts, dims=None")
def _roll(lw: Builder, b: Call) -> Any:
    """roll(x, s, d) = cat(x[n - s % n:], x[:n - s % n]) along d, one dim at a time."""
    x = b.tensor()
    shifts = as_ints(b["shifts"], "a roll shift")
    if b["dims"] is None:
        if len(shifts) != 1:
            raise Unsupported("roll with several shifts and no dims")
        flat = lw.view(x, "{0}.flatten()", (prod(x.shape),))
        return lw.view(_roll_along(lw, flat, shifts[0], 0), "{0}.view({1}.shape)", x.shape, x)
    dims = as_ints(b["dims"], "a roll dim")
    if len(dims) != len(shifts):
        raise Unsupported("roll with as many shifts as dims")
    for s, d in zip(shifts, dims, strict=True):
        x = _roll_along(lw, x, s, d % max(x.rank, 1))
    return x


def _roll_along(lw: Builder, x: Value, shift: int, d: int) -> Value:
    n = f"{{0}}.shape[{d}]"
    keep = f"({n} - {shift} % {n})"
    fmt = f"torch.cat([{{0}}.narrow({d}, {keep}, {n} - {keep}), {{0}}.narrow({d}, 0, {keep})], dim={d})"
    return lw.view(x, fmt, x.shape)


def _repeat(lw: Builder, b: Call) -> Any:
    """x.repeat(r0, .., rn) as unsqueeze/expand/flatten: a view, then one copy (a clone)."""
    x = b.tensor()
    reps = flatten_shape_args(b["args"])
    if any(isinstance(r, ShapeOf) for r in reps):
        raise Unsupported("repeat by a tensor's shape")
    if b.name == "tile" and len(reps) < x.rank:
        reps = [1] * (x.rank - len(reps)) + list(reps)
    if len(reps) < x.rank:
        raise Unsupported("repeat with fewer counts than dims")
    n = len(reps)
    refs: list[Value] = [x]
    fmt = "{0}" if n == x.rank else f"{{0}}.reshape({'1, ' * (n - x.rank)}*{{0}}.shape)"
    fmt += "".join(f".unsqueeze({i})" for i in reversed(range(n)))
    fmt += f".expand({', '.join(f'{render(r, refs)}, -1' for r in reps)})"
    fmt += "".join(f".flatten({i}, {i + 1})" for i in range(n))
    return py_from_meta(fmt, refs, lw.meta.get(lw.current, {}))


op("repeat", "tile", spec="input, *args")(_repeat)


@op("pixel_shuffle", spec="input, upscale_factor")
def _pixel_shuffle(lw: Builder, b: Call) -> Any:
    return _shuffle(lw, b, b["upscale_factor"])


@op("pixel_unshuffle", spec="input, downscale_factor")
def _pixel_unshuffle(lw: Builder, b: Call) -> Any:
    return _shuffle(lw, b, b["downscale_factor"])


def _shuffle(lw: Builder, b: Call, r: Any) -> Value:
    """(*, C*r*r, H, W) <-> (*, C, H*r, W*r): unflatten, permute and flatten (one copy)."""
    x = b.tensor()
    if not isinstance(r, int) or x.rank < 3:
        raise Unsupported(f"{b.name} by a computed factor or of under 3 dims")
    k = x.rank - 3
    lead = "".join(f"{i}, " for i in range(k))
    *head, c, h, w = x.shape
    if b.name == "pixel_shuffle":
        fmt = (
            f"{{0}}.unflatten({k}, (-1, {r}, {r})).permute({lead}{k}, {k + 3}, {k + 1}, "
            f"{k + 4}, {k + 2}).flatten({k + 1}, {k + 2}).flatten({k + 2}, {k + 3})"
        )
        shape = (*head, c // (r * r), h * r, w * r)
    else:
        fmt = (
            f"{{0}}.unflatten({k + 2}, (-1, {r})).unflatten({k + 1}, (-1, {r})).permute("
            f"{lead}{k}, {k + 2}, {k + 4}, {k + 1}, {k + 3}).flatten({k}, {k + 2})"
        )
        shape = (*head, c * r * r, h // r, w // r)
    return lw.view(x, fmt, shape)
