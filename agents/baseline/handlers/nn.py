"""Matmul family, convolution and pooling."""

from __future__ import annotations

from typing import Any

from agents.baseline.ir import (
    Conv2d,
    Matmul,
    Pool2d,
    PyOp,
    Unsupported,
    Value,
    is_float,
    matmul_shape,
)
from agents.baseline.lower import (
    Lowering,
    _need_tensor,
    is_tensor,
    op,
    promote,
)

# ---------------------------------------------------------------- matmul family


def _matmul(lw: Lowering, a: Value, b: Value) -> Value:
    if not (is_tensor(a) and is_tensor(b)):
        raise Unsupported("matmul of a non-tensor")
    diag = lw.diagonals.get(a.id)
    if diag is not None and b.rank == 2:
        # diag(v) @ B scales the rows of B: no matmul needed
        return lw.pw("mul", lw.view(diag, "{0}.unsqueeze(1)", (diag.shape[0], 1)), b)
    if a.rank == 1 and b.rank == 1:
        return lw.reduce("sum", lw.pw("mul", a, b), None, False)
    if not (is_float(a.dtype) and is_float(b.dtype)) or "float64" in (a.dtype, b.dtype):
        raise Unsupported(f"matmul of {a.dtype} and {b.dtype} tensors")
    squeeze: str | None = None
    if a.rank == 1:
        a = lw.view(a, "{0}.unsqueeze(0)", (1, a.shape[0]))
        squeeze = "{0}.squeeze(-2)"
    if b.rank == 1:
        b = lw.view(b, "{0}.unsqueeze(-1)", (b.shape[0], 1))
        squeeze = "{0}.squeeze(-1)"
    if squeeze is None and a.rank == 2 and b.rank == 2 and b.shape[1] == 1:
        # A (M, K) @ B (K, 1): one dot product per row, a row reduction (memory-bound)
        row = lw.view(b, "{0}.t()", (1, b.shape[0]))
        return lw.reduce("sum", lw.pw("mul", a, row), 1, True)
    shape = matmul_shape(a.shape, b.shape)
    dtype = promote([a.dtype, b.dtype])
    out: Value = Matmul(shape=shape, dtype=dtype, a=a, b=b)
    if squeeze is not None:
        # The squeeze is a view of the kernel's output: copy it so forward returns fresh memory.
        squeezed = list(shape)
        squeezed.pop(-2 if squeeze.endswith("(-2)") else -1)
        out = PyOp(shape=tuple(squeezed), dtype=dtype, fmt=squeeze, refs=[out], tensor=True)
    return out


@op("diag", "diagflat", spec="input, diagonal=0")
def _diag(lw: Lowering, b: dict[str, Any]) -> Any:
    x = _need_tensor(b)
    if x.rank != 1 or b["diagonal"] != 0:
        raise Unsupported("unsupported op diag of a matrix")
    out = lw.view(x, "torch.diag({0})", (x.shape[0], x.shape[0]))
    lw.diagonals[out.id] = x
    return out


@op("matmul", "mm", "bmm", "mv", spec="input, other")
def _mm(lw: Lowering, b: dict[str, Any]) -> Any:
    return _matmul(lw, b["input"], b["other"])


@op("linear", spec="input, weight, bias=None")
def _linear(lw: Lowering, b: dict[str, Any]) -> Any:
    w = b["weight"]
    wt = lw.view(w, "{0}.t()", (w.shape[1], w.shape[0])) if w.rank == 2 else w
    y = _matmul(lw, b["input"], wt)
    if is_tensor(b["bias"]):
        y = lw.pw("add", y, b["bias"])
    return y


@op("addmm", "baddbmm", "addmv", spec="input, mat1, mat2, *, beta=1, alpha=1")
def _addmm(lw: Lowering, b: dict[str, Any]) -> Any:
    y = _matmul(lw, b["mat1"], b["mat2"])
    if b["alpha"] != 1:
        y = lw.pw("mul", y, b["alpha"])
    if b["beta"] == 0:
        return y
    inp = b["input"] if b["beta"] == 1 else lw.pw("mul", b["input"], b["beta"])
    return lw.pw("add", y, inp)


@op("outer", "ger", spec="input, vec2")
def _outer(lw: Lowering, b: dict[str, Any]) -> Any:
    x, y = b["input"], b["vec2"]
    xc = lw.view(x, "{0}.unsqueeze(1)", (x.shape[0], 1))
    yr = lw.view(y, "{0}.unsqueeze(0)", (1, y.shape[0]))
    return lw.pw("mul", xc, yr)


# ---------------------------------------------------------------- convolution and pooling


def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    if isinstance(v, list | tuple) and len(v) == 2 and all(isinstance(i, int) for i in v):
        return (int(v[0]), int(v[1]))
    if isinstance(v, list | tuple) and len(v) == 1 and isinstance(v[0], int):
        return (int(v[0]), int(v[0]))
    raise Unsupported(f"a 2-D window argument {v!r}")


def _window(v: Any, n: int) -> tuple[int, ...]:
    """A window argument (int, or a sequence of 1 or n ints) for n spatial dims."""
    if isinstance(v, int):
        return (v,) * n
    if isinstance(v, list | tuple) and all(isinstance(i, int) for i in v):
        if len(v) == n:
            return tuple(int(i) for i in v)
        if len(v) == 1:
            return (int(v[0]),) * n
    raise Unsupported(f"a {n}-D window argument {v!r}")


def _spatial(x: Value, w: Value, what: str) -> int:
    """How many spatial dims a conv has (2 or 3), refusing what the kernel cannot do."""
    if x.rank not in (4, 5) or w.rank != x.rank:
        raise Unsupported(f"{what} of {x.rank}-D tensors (batched NCHW or NCDHW only)")
    if "float64" in (x.dtype, w.dtype):
        raise Unsupported(f"{what} in float64")
    return x.rank - 2


def _conv(
    lw: Lowering,
    x: Value,
    w: Value,
    bias: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: int,
) -> Value:
    """conv2d / conv3d as implicit GEMM."""
    nsp = _spatial(x, w, f"conv{x.rank - 2}d")
    st, dl = _window(stride, nsp), _window(dilation, nsp)
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
        pd = _window(padding, nsp)
    spatial = tuple(
        (x.shape[2 + i] + 2 * pd[i] - dl[i] * (ks[i] - 1) - 1) // st[i] + 1 for i in range(nsp)
    )
    conv = Conv2d(
        shape=(x.shape[0], w.shape[0], *spatial), dtype=promote([x.dtype, w.dtype]), x=x, w=w,
        stride=st, padding=pd, dilation=dl, groups=int(groups),
    )  # fmt: skip
    return _with_bias(lw, conv, bias)


def _with_bias(lw: Lowering, conv: Conv2d, bias: Any) -> Value:
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
def _conv_op(lw: Lowering, b: dict[str, Any]) -> Any:
    return _conv(
        lw, b["input"], b["weight"], b["bias"], b["stride"], b["padding"], b["dilation"],
        b["groups"],
    )  # fmt: skip


def _conv_transpose(
    lw: Lowering,
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
    nsp = _spatial(x, w, f"conv_transpose{x.rank - 2}d")
    if isinstance(padding, str):
        raise Unsupported(f"conv_transpose{nsp}d padding={padding!r}")
    st, pd, dl = _window(stride, nsp), _window(padding, nsp), _window(dilation, nsp)
    op_ = _window(output_padding, nsp)
    ks = w.shape[2:]
    spatial = tuple(
        (x.shape[2 + i] - 1) * st[i] - 2 * pd[i] + dl[i] * (ks[i] - 1) + op_[i] + 1
        for i in range(nsp)
    )
    conv = Conv2d(
        shape=(x.shape[0], w.shape[1] * int(groups), *spatial),
        dtype=promote([x.dtype, w.dtype]), x=x, w=w, stride=st, padding=pd, dilation=dl,
        groups=int(groups), transposed=True, output_padding=op_,
    )  # fmt: skip
    return _with_bias(lw, conv, bias)


def _one_d(v: Any, default: int) -> tuple[int, int]:
    """A 1-D window argument as the (1, k) pair of a 2-D one over a (1, L) plane."""
    if isinstance(v, list | tuple):
        if len(v) != 1:
            raise Unsupported(f"a 1-D window argument {v!r}")
        v = v[0]
    if not isinstance(v, int):
        raise Unsupported(f"a 1-D window argument {v!r}")
    return (default, int(v))


def _as_1d(lw: Lowering, out: Value) -> Value:
    return PyOp(
        shape=(out.shape[0], out.shape[1], out.shape[3]),
        dtype=out.dtype,
        fmt="{0}.squeeze(2)",
        refs=[out],
        tensor=True,
    )


def _plane(lw: Lowering, v: Value, what: str) -> Value:
    if v.rank != 3:
        raise Unsupported(f"{what} of a {v.rank}-D tensor (batched NCL only)")
    return lw.view(v, "{0}.unsqueeze(2)", (v.shape[0], v.shape[1], 1, v.shape[2]))


def _conv1d(
    lw: Lowering, x: Value, w: Value, bias: Any, stride: Any, padding: Any, dilation: Any,
    groups: int,
) -> Value:  # fmt: skip
    """conv1d as conv2d over a (1, L) plane."""
    if isinstance(padding, str):
        if padding != "valid":
            raise Unsupported(f"conv1d padding={padding!r}")
        padding = 0
    out = _conv(
        lw, _plane(lw, x, "conv1d"), _plane(lw, w, "conv1d"), bias, _one_d(stride, 1),
        _one_d(padding, 0), _one_d(dilation, 1), groups,
    )  # fmt: skip
    return _as_1d(lw, out)


def _conv_transpose1d(
    lw: Lowering, x: Value, w: Value, bias: Any, stride: Any, padding: Any,
    output_padding: Any, groups: int, dilation: Any,
) -> Value:  # fmt: skip
    out = _conv_transpose(
        lw, _plane(lw, x, "conv_transpose1d"), _plane(lw, w, "conv_transpose1d"), bias,
        _one_d(stride, 1), _one_d(padding, 0), _one_d(output_padding, 0), groups,
        _one_d(dilation, 1),
    )  # fmt: skip
    return _as_1d(lw, out)


@op("conv1d", spec="input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1")
def _conv1(lw: Lowering, b: dict[str, Any]) -> Any:
    return _conv1d(
        lw, b["input"], b["weight"], b["bias"], b["stride"], b["padding"], b["dilation"],
        b["groups"],
    )  # fmt: skip


_TRANSPOSED_SPEC = (
    "input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1"
)


@op("conv_transpose2d", "conv_transpose3d", spec=_TRANSPOSED_SPEC)
def _convt(lw: Lowering, b: dict[str, Any]) -> Any:
    return _conv_transpose(
        lw, b["input"], b["weight"], b["bias"], b["stride"], b["padding"],
        b["output_padding"], b["groups"], b["dilation"],
    )  # fmt: skip


@op("conv_transpose1d", spec=_TRANSPOSED_SPEC)
def _convt1(lw: Lowering, b: dict[str, Any]) -> Any:
    return _conv_transpose1d(
        lw, b["input"], b["weight"], b["bias"], b["stride"], b["padding"],
        b["output_padding"], b["groups"], b["dilation"],
    )  # fmt: skip


def _pool2d(
    lw: Lowering,
    op_name: str,
    x: Value,
    kernel: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
    count_include_pad: bool = True,
    divisor: Any = None,
) -> Value:
    if ceil_mode:
        raise Unsupported(f"{op_name}_pool2d with ceil_mode=True")
    if x.rank not in (3, 4):
        raise Unsupported(f"{op_name}_pool2d of a {x.rank}-D tensor")
    k = _pair(kernel)
    st = _pair(stride) if stride not in (None, []) else k
    pd, dl = _pair(padding), _pair(dilation)
    if x.rank == 3:
        x = lw.view(x, "{0}.unsqueeze(0)", (1, *x.shape))
    n, c, h, w = x.shape
    oh = (h + 2 * pd[0] - dl[0] * (k[0] - 1) - 1) // st[0] + 1
    ow = (w + 2 * pd[1] - dl[1] * (k[1] - 1) - 1) // st[1] + 1
    return Pool2d(
        shape=(n, c, oh, ow),
        dtype=x.dtype,
        op=op_name,
        x=x,
        kernel=k,
        stride=st,
        padding=pd,
        dilation=dl,
        count_include_pad=bool(count_include_pad),
        divisor=divisor,
    )


@op(
    "max_pool2d",
    spec="input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, "
    "return_indices=False",
)
def _maxpool(lw: Lowering, b: dict[str, Any]) -> Any:
    if b["return_indices"]:
        raise Unsupported("max_pool2d with return_indices")
    return _pool2d(
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
    "avg_pool2d",
    spec="input, kernel_size, stride=None, padding=0, ceil_mode=False, "
    "count_include_pad=True, divisor_override=None",
)
def _avgpool(lw: Lowering, b: dict[str, Any]) -> Any:
    return _pool2d(
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
    )


def _pool1d(
    lw: Lowering,
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
        raise Unsupported(f"{op_name}_pool1d of a {x.rank}-D tensor")

    def one(v: Any) -> int:
        return int(v[0]) if isinstance(v, list | tuple) else int(v)

    x4 = lw.view(x, "{0}.unsqueeze(2)", (x.shape[0], x.shape[1], 1, x.shape[2]))
    k = one(kernel)
    st = one(stride) if stride not in (None, []) else k
    p = _pool2d(
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
def _maxpool1d(lw: Lowering, b: dict[str, Any]) -> Any:
    if b["return_indices"]:
        raise Unsupported("max_pool1d with return_indices")
    return _pool1d(
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
def _avgpool1d(lw: Lowering, b: dict[str, Any]) -> Any:
    return _pool1d(
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


def _adaptive(lw: Lowering, op_name: str, x: Value, size: Any, dims: int) -> Value:
    sizes = size if isinstance(size, list | tuple) else [size] * dims
    if all(s == 1 for s in sizes):
        axes = tuple(range(x.rank - dims, x.rank))
        return lw.reduce(op_name, x, axes, True)
    spatial = x.shape[x.rank - dims :]
    if all(s is None or s == d for s, d in zip(sizes, spatial, strict=True)):
        return lw.pw("identity", x)
    raise Unsupported(f"unsupported op adaptive_{op_name}_pool{dims}d to size {list(sizes)}")


@op("adaptive_avg_pool2d", spec="input, output_size")
def _aap2(lw: Lowering, b: dict[str, Any]) -> Any:
    return _adaptive(lw, "mean", _need_tensor(b), b["output_size"], 2)


@op("adaptive_avg_pool1d", spec="input, output_size")
def _aap1(lw: Lowering, b: dict[str, Any]) -> Any:
    return _adaptive(lw, "mean", _need_tensor(b), b["output_size"], 1)


@op("adaptive_max_pool2d", spec="input, output_size, return_indices=False")
def _amp2(lw: Lowering, b: dict[str, Any]) -> Any:
    return _adaptive(lw, "max", _need_tensor(b), b["output_size"], 2)


@op("adaptive_max_pool1d", spec="input, output_size, return_indices=False")
def _amp1(lw: Lowering, b: dict[str, Any]) -> Any:
    return _adaptive(lw, "max", _need_tensor(b), b["output_size"], 1)
