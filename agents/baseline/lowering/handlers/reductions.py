"""Reductions, scans, row normalizations and losses (decomposed into reductions)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from agents.baseline.lowering.build import Builder, is_tensor
from agents.baseline.lowering.handlers.reorder import flipped_along
from agents.baseline.lowering.ir import (
    PyOp,
    Scan,
    Unsupported,
    Value,
    broadcast,
    is_float,
    norm_axes,
)
from agents.baseline.lowering.registry import Call, op

# ---------------------------------------------------------------- reductions

# torch.finfo(dtype).eps: rms_norm's default epsilon
_EPS = {
    "float32": 1.1920928955078125e-07,
    "float64": 2.220446049250313e-16,
    "float16": 0.0009765625,
    "bfloat16": 0.0078125,
}


def _dims(b: Call, key: str = "dim") -> Any:
    d = b.get(key)
    if isinstance(d, list):
        return tuple(d)
    return d


@op("sum", "nansum", spec="input, dim=None, keepdim=False, *, dtype=None")
def _sum(lw: Builder, b: Call) -> Any:
    return lw.reduce("sum", b.tensor(), _dims(b), bool(b["keepdim"]))


@op("mean", "nanmean", spec="input, dim=None, keepdim=False, *, dtype=None")
def _mean(lw: Builder, b: Call) -> Any:
    return lw.mean(b.tensor(), _dims(b), bool(b["keepdim"]))


@op("prod", spec="input, dim=None, keepdim=False, *, dtype=None")
def _prod(lw: Builder, b: Call) -> Any:
    return lw.reduce("prod", b.tensor(), _dims(b), bool(b["keepdim"]))


@op("amax", "amin", spec="input, dim=(), keepdim=False")
def _amax(lw: Builder, b: Call) -> Any:
    which = "max" if b.name == "amax" else "min"
    return lw.reduce(which, b.tensor(), _dims(b), bool(b["keepdim"]))


@op("max", "min", spec="input, dim=None, keepdim=False")
def _max(lw: Builder, b: Call) -> Any:
    x, dim, which = b["input"], b["dim"], b.name
    if is_tensor(dim):  # torch.max(a, b): elementwise
        return lw.pw("maximum" if which == "max" else "minimum", x, dim)
    x = b.tensor()
    if dim is None:
        return lw.reduce(which, x, None, False)
    keep = bool(b["keepdim"])
    values = lw.reduce(which, x, dim, keep)
    indices = lw.reduce("arg" + which, x, dim, keep)
    return [values, indices]


@op("argmax", "argmin", spec="input, dim=None, keepdim=False")
def _argmax(lw: Builder, b: Call) -> Any:
    x = b.tensor()
    if b["dim"] is None and b["keepdim"]:
        raise Unsupported(f"{b.name} with dim=None and keepdim=True")
    return lw.reduce(b.name, x, b["dim"], bool(b["keepdim"]))


def _correction(b: Call) -> float:
    if b.get("correction") is not None:
        return float(b["correction"])
    unbiased = b.get("unbiased")
    return 0.0 if unbiased is False else 1.0


def _variance(lw: Builder, x: Value, dim: Any, keepdim: bool, correction: float) -> Value:
    m = lw.mean(x, dim, True)
    d = lw.pw("sub", x, m)
    return lw.mean(lw.pw("mul", d, d), dim, keepdim, correction)


@op("var", "std", spec="input, dim=None, unbiased=None, keepdim=False, *, correction=None")
def _var(lw: Builder, b: Call) -> Any:
    x = b.tensor()
    dim = b["dim"]
    if isinstance(dim, bool):  # var(x, unbiased) positional form
        b, dim = b.with_args(unbiased=dim), None
    v = _variance(lw, x, _dims(b.with_args(dim=dim)), bool(b["keepdim"]), _correction(b))
    return lw.pw("sqrt", v) if b.name == "std" else v


def vector_norm(lw: Builder, x: Value, p: Any, dim: Any, keepdim: bool) -> Value:
    if p in (2, 2.0, "fro", None):
        return lw.pw("sqrt", lw.reduce("sum", lw.pw("mul", x, x), dim, keepdim))
    if p in (1, 1.0):
        return lw.reduce("sum", lw.pw("abs", x), dim, keepdim)
    if p == float("inf"):
        return lw.reduce("max", lw.pw("abs", x), dim, keepdim)
    if isinstance(p, int | float) and p > 0:
        powered = lw.pw("pow_scalar", lw.pw("abs", x), float(p))
        return lw.pw("pow_scalar", lw.reduce("sum", powered, dim, keepdim), 1.0 / float(p))
    raise Unsupported.missing("norm", f"with p={p!r}")


@op("norm", spec="input, p='fro', dim=None, keepdim=False, dtype=None")
def _norm(lw: Builder, b: Call) -> Any:
    return vector_norm(lw, b.tensor(), b["p"], _dims(b), bool(b["keepdim"]))


@op("vector_norm", spec="x, ord=2, dim=None, keepdim=False, *, dtype=None")
def _vnorm(lw: Builder, b: Call) -> Any:
    return vector_norm(lw, b.tensor("x"), b["ord"], _dims(b), bool(b["keepdim"]))


@op("logsumexp", spec="input, dim, keepdim=False")
def _logsumexp(lw: Builder, b: Call) -> Any:
    x, dim, keep = b.tensor(), _dims(b), bool(b["keepdim"])
    m = lw.reduce("max", x, dim, True)
    s = lw.reduce("sum", lw.pw("exp", lw.pw("sub", x, m)), dim, keep)
    return lw.pw("add", lw.pw("log", s), lw.reduce("max", x, dim, keep))


@op("dot", "inner", "vdot", spec="input, other")
def _dot(lw: Builder, b: Call) -> Any:
    x, y = b.tensor(), b.tensor("other")
    if x.rank != 1 or y.rank != 1:
        raise Unsupported(f"{b.name} of tensors with more than one dimension")
    return lw.reduce("sum", lw.pw("mul", x, y), None, False)


@op("cumsum", "cumprod", spec="input, dim, *, dtype=None")
def _cumsum(lw: Builder, b: Call) -> Any:
    x = b.tensor()
    axis = norm_axes(b["dim"], x.rank)[0]
    dtype = x.dtype if is_float(x.dtype) else "int64"
    flipped = flipped_along(x)
    if b.name == "cumsum" and flipped is not None and flipped[1] == axis and is_float(dtype):
        # cumsum(flip(x)) = flip(reverse cumsum(x)), and reverse cumsum = total - cumsum + x:
        # no flipped copy of x is made; an outer flip (KernelBench's form) cancels this one
        src = flipped[0]
        forward = Scan(shape=src.shape, dtype=dtype, op="cumsum", src=src, axis=axis)
        total = lw.reduce("sum", src, axis, True)
        rev = lw.pw("add", lw.pw("sub", total, forward), src)
        return lw.view(rev, f"{{0}}.flip({axis})", rev.shape)
    return Scan(shape=x.shape, dtype=dtype, op=b.name, src=x, axis=axis)


# ---------------------------------------------------------------- normalizations


@op("softmax", "log_softmax", "softmin", spec="input, dim=None, _stacklevel=3, dtype=None")
def _softmax(lw: Builder, b: Call) -> Any:
    x = b.tensor()
    if b["dim"] is None:
        raise Unsupported(f"{b.name} without dim")
    if b.name == "softmin":
        x = lw.pw("neg", x)
    dim = b["dim"]
    m = lw.reduce("max", x, dim, True)
    z = lw.pw("sub", x, m)
    e = lw.pw("exp", z)
    s = lw.reduce("sum", e, dim, True)
    if b.name == "log_softmax":
        return lw.pw("sub", z, lw.pw("log", s))
    return lw.pw("div", e, s)


def _standardize(
    lw: Builder, xc: Any, var: Any, eps: Any, w: Any, bias: Any, view: Callable[[Any], Any]
) -> Any:
    """xc * rsqrt(var + eps), then the optional affine weight and bias, each seen through
    `view` so that it broadcasts over the normalized tensor."""
    y = lw.pw("mul", xc, lw.pw("rsqrt", lw.pw("add", var, eps)))
    if is_tensor(w):
        y = lw.pw("mul", y, view(w))
    if is_tensor(bias):
        y = lw.pw("add", y, view(bias))
    return y


def layer_norm(
    lw: Builder, x: Value, nshape: Any, w: Any, bias: Any, eps: float, rms: bool = False
) -> Value:
    k = 1 if isinstance(nshape, int) else len(nshape)
    axes = tuple(range(x.rank - k, x.rank))
    xc: Value = x if rms else lw.pw("sub", x, lw.mean(x, axes, True))
    var = lw.mean(lw.pw("mul", xc, xc), axes, True)  # the mean square for RMS norm
    return _standardize(lw, xc, var, eps, w, bias, lambda p: p)


@op("layer_norm", spec="input, normalized_shape, weight=None, bias=None, eps=1e-05")
def _ln(lw: Builder, b: Call) -> Any:
    x = b.tensor()
    return layer_norm(lw, x, b["normalized_shape"], b["weight"], b["bias"], b["eps"])


@op("rms_norm", spec="input, normalized_shape, weight=None, eps=None")
def _rms(lw: Builder, b: Call) -> Any:
    x = b.tensor()
    eps = b["eps"] if b["eps"] is not None else _EPS.get(x.dtype, _EPS["float32"])
    return layer_norm(lw, x, b["normalized_shape"], b["weight"], None, eps, rms=True)


@op("normalize", spec="input, p=2.0, dim=1, eps=1e-12")
def _normalize(lw: Builder, b: Call) -> Any:
    x = b.tensor()
    n = vector_norm(lw, x, b["p"], b["dim"], True)
    return lw.pw("div", x, lw.pw("clamp_min", n, b["eps"]))


def batch_norm(
    lw: Builder,
    x: Value,
    mean: Any,
    var: Any,
    w: Any,
    bias: Any,
    training: bool,
    eps: float,
) -> Value:
    if x.rank < 2:
        raise Unsupported("batch_norm of a 1-D tensor")
    axes = (0, *range(2, x.rank))
    if training or not is_tensor(mean) or not is_tensor(var):
        m = lw.mean(x, axes, True)
        xc = lw.pw("sub", x, m)
        v = lw.mean(lw.pw("mul", xc, xc), axes, True)
    else:
        xc = lw.pw("sub", x, lw.channel_view(mean, x.rank))
        v = lw.channel_view(var, x.rank)
    return _standardize(lw, xc, v, eps, w, bias, lambda p: lw.channel_view(p, x.rank))


@op(
    "batch_norm",
    spec="input, running_mean, running_var, weight=None, bias=None, "
    "training=False, momentum=0.1, eps=1e-05",
)
def _bn(lw: Builder, b: Call) -> Any:
    return batch_norm(
        lw,
        b.tensor(),
        b["running_mean"],
        b["running_var"],
        b["weight"],
        b["bias"],
        bool(b["training"]),
        b["eps"],
    )


def instance_norm(lw: Builder, x: Value, w: Any, bias: Any, eps: float) -> Value:
    if x.rank < 3:
        raise Unsupported("instance_norm of a tensor with fewer than 3 dims")
    axes = tuple(range(2, x.rank))
    m = lw.mean(x, axes, True)
    xc = lw.pw("sub", x, m)
    v = lw.mean(lw.pw("mul", xc, xc), axes, True)
    return _standardize(lw, xc, v, eps, w, bias, lambda p: lw.channel_view(p, x.rank))


@op(
    "instance_norm",
    spec="input, running_mean=None, running_var=None, weight=None, bias=None, "
    "use_input_stats=True, momentum=0.1, eps=1e-05",
)
def _in(lw: Builder, b: Call) -> Any:
    if not b["use_input_stats"]:
        raise Unsupported("instance_norm with running statistics")
    return instance_norm(lw, b.tensor(), b["weight"], b["bias"], b["eps"])


def group_norm(
    lw: Builder, x: Value, groups: int, w: Any, bias: Any, eps: float, source: str | None = None
) -> Value:
    """`source`: the group count as the kernel reads it at run time (a module's
    `num_groups`, which follows a size), else the traced literal."""
    if x.rank < 2 or not isinstance(groups, int) or x.shape[1] % groups:
        raise Unsupported("group_norm with this shape")
    n, c = x.shape[0], x.shape[1]
    rest = int(math.prod(x.shape[2:])) if x.rank > 2 else 1
    g = source or str(groups)
    xg = lw.view(
        x, "{0}.reshape({0}.shape[0], " + g + ", {0}.shape[1] // " + g + ", -1)",
        (n, groups, c // groups, rest),
    )  # fmt: skip
    axes = (2, 3)
    m = lw.mean(xg, axes, True)
    xc = lw.pw("sub", xg, m)
    v = lw.mean(lw.pw("mul", xc, xc), axes, True)
    fmt, shape = "{0}.view(" + g + ", -1, 1)", (groups, c // groups, 1)
    y = _standardize(lw, xc, v, eps, w, bias, lambda p: lw.view(p, fmt, shape))
    out = PyOp(shape=x.shape, dtype=x.dtype, fmt="{0}.view({1}.shape)", refs=[y, x], tensor=True)
    return out


@op("group_norm", spec="input, num_groups, weight=None, bias=None, eps=1e-05")
def _gn(lw: Builder, b: Call) -> Any:
    return group_norm(lw, b.tensor(), b["num_groups"], b["weight"], b["bias"], b["eps"])


@op("cosine_similarity", spec="x1, x2, dim=1, eps=1e-08")
def _cos(lw: Builder, b: Call) -> Any:
    x1, x2, dim, eps = b["x1"], b["x2"], b["dim"], b["eps"]
    shape = broadcast(x1.shape, x2.shape)
    dim = norm_axes(dim, len(shape))
    w12 = lw.reduce("sum", lw.pw("mul", x1, x2), dim, False)
    n1 = lw.reduce("sum", lw.pw("mul", x1, x1), dim, False)
    n2 = lw.reduce("sum", lw.pw("mul", x2, x2), dim, False)
    den = lw.pw(
        "mul",
        lw.pw("sqrt", lw.pw("clamp_min", n1, eps * eps)),
        lw.pw("sqrt", lw.pw("clamp_min", n2, eps * eps)),
    )
    return lw.pw("div", w12, den)


@op("pairwise_distance", spec="x1, x2, p=2.0, eps=1e-06, keepdim=False")
def _pdist(lw: Builder, b: Call) -> Any:
    d = lw.pw("add", lw.pw("sub", b["x1"], b["x2"]), b["eps"])
    return vector_norm(lw, d, b["p"], -1, bool(b["keepdim"]))
