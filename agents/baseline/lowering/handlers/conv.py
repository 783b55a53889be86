"""Convolutions (1-D/2-D/3-D, transposed) lowered to the implicit-GEMM `Conv2d` IR node."""

from __future__ import annotations

from typing import Any

from agents.baseline.lowering.build import Builder, is_tensor, promote
from agents.baseline.lowering.handlers.spatial import as_1d, conv_dims, one_d, plane, window
from agents.baseline.lowering.ir import (
    Conv2d,
    Unsupported,
    Value,
)
from agents.baseline.lowering.registry import Call, op


def conv(
    lw: Builder,
    x: Value,
    w: Value,
    bias: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: int,
) -> Value:
    """conv2d / conv3d as implicit GEMM."""
    nsp = conv_dims(x, w, f"conv{x.rank - 2}d")
    st, dl = window(stride, nsp), window(dilation, nsp)
    ks = w.shape[2:]
    if isinstance(padding, str):
        halves = [dl[i] * (ks[i] - 1) for i in range(nsp)]
        if padding == "valid":
            pd: tuple[int, ...] = (0,) * nsp
        elif padding == "same" and set(st) == {1} and all(h % 2 == 0 for h in halves):
            pd = tuple(h // 2 for h in halves)
        else:
            raise Unsupported(f"conv{nsp}d padding={padding!r}")
    else:
        pd = window(padding, nsp)
    spatial = tuple(
        (x.shape[2 + i] + 2 * pd[i] - dl[i] * (ks[i] - 1) - 1) // st[i] + 1 for i in range(nsp)
    )
    node = Conv2d(
        shape=(x.shape[0], w.shape[0], *spatial), dtype=promote([x.dtype, w.dtype]), x=x, w=w,
        stride=st, padding=pd, dilation=dl, groups=int(groups),
    )  # fmt: skip
    return _with_bias(lw, node, bias)


def _with_bias(lw: Builder, conv: Conv2d, bias: Any) -> Value:
    """The conv plus its bias, broadcast along the channels."""
    out: Value = conv
    if is_tensor(bias):
        out = lw.pw("add", out, lw.channel_view(bias, conv.rank))
    return out


@op(
    "conv2d",
    "conv3d",
    spec="input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1",
)
def _conv_op(lw: Builder, b: Call) -> Any:
    return conv(
        lw, b["input"], b["weight"], b["bias"], b["stride"], b["padding"], b["dilation"],
        b["groups"],
    )  # fmt: skip


def conv_transpose(
    lw: Builder,
    x: Value,
    w: Value,
    bias: Any,
    stride: Any,
    padding: Any,
    output_padding: Any,
    groups: int,
    dilation: Any,
) -> Value:
    """conv_transpose2d/3d as an implicit GEMM in gather form: each output pixel sums the
    input pixels whose strided scatter lands on it (no zero-inserted copy of the input)."""
    nsp = conv_dims(x, w, f"conv_transpose{x.rank - 2}d")
    if isinstance(padding, str):
        raise Unsupported(f"conv_transpose{nsp}d padding={padding!r}")
    st, pd, dl = window(stride, nsp), window(padding, nsp), window(dilation, nsp)
    op_ = window(output_padding, nsp)
    ks = w.shape[2:]
    spatial = tuple(
        (x.shape[2 + i] - 1) * st[i] - 2 * pd[i] + dl[i] * (ks[i] - 1) + op_[i] + 1
        for i in range(nsp)
    )
    node = Conv2d(
        shape=(x.shape[0], w.shape[1] * int(groups), *spatial),
        dtype=promote([x.dtype, w.dtype]), x=x, w=w, stride=st, padding=pd, dilation=dl,
        groups=int(groups), transposed=True, output_padding=op_,
    )  # fmt: skip
    return _with_bias(lw, node, bias)


def conv1d(
    lw: Builder, x: Value, w: Value, bias: Any, stride: Any, padding: Any, dilation: Any,
    groups: int,
) -> Value:  # fmt: skip
    """conv1d as conv2d over a (1, L) plane."""
    if isinstance(padding, str):
        if padding != "valid":
            raise Unsupported(f"conv1d padding={padding!r}")
        padding = 0
    out = conv(
        lw, plane(lw, x, "conv1d"), plane(lw, w, "conv1d"), bias, one_d(stride, 1),
        one_d(padding, 0), one_d(dilation, 1), groups,
    )  # fmt: skip
    return as_1d(lw, out)


def conv_transpose1d(
    lw: Builder, x: Value, w: Value, bias: Any, stride: Any, padding: Any,
    output_padding: Any, groups: int, dilation: Any,
) -> Value:  # fmt: skip
    out = conv_transpose(
        lw, plane(lw, x, "conv_transpose1d"), plane(lw, w, "conv_transpose1d"), bias,
        one_d(stride, 1), one_d(padding, 0), one_d(output_padding, 0), groups,
        one_d(dilation, 1),
    )  # fmt: skip
    return as_1d(lw, out)


@op("conv1d", spec="input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1")
def _conv1(lw: Builder, b: Call) -> Any:
    return conv1d(
        lw, b["input"], b["weight"], b["bias"], b["stride"], b["padding"], b["dilation"],
        b["groups"],
    )  # fmt: skip


_TRANSPOSED_SPEC = (
    "input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1"
)


@op("conv_transpose2d", "conv_transpose3d", spec=_TRANSPOSED_SPEC)
def _convt(lw: Builder, b: Call) -> Any:
    return conv_transpose(
        lw, b["input"], b["weight"], b["bias"], b["stride"], b["padding"],
        b["output_padding"], b["groups"], b["dilation"],
    )  # fmt: skip


@op("conv_transpose1d", spec=_TRANSPOSED_SPEC)
def _convt1(lw: Builder, b: Call) -> Any:
    return conv_transpose1d(
        lw, b["input"], b["weight"], b["bias"], b["stride"], b["padding"],
        b["output_padding"], b["groups"], b["dilation"],
    )  # fmt: skip
