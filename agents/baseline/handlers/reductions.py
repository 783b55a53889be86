"""Reductions, scans, row normalizations and losses (decomposed into reductions)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from agents.baseline.ir import (
    Pointwise,
    PyOp,
    Scan,
    Unsupported,
    Value,
    broadcast,
    is_float,
    norm_axes,
)
from agents.baseline.lower import (
    _EPS,
    Lowering,
    _need_tensor,
    dim_expr,
    is_tensor,
    op,
)

# ---------------------------------------------------------------- reductions


def _dims(b: dict[str, Any], key: str = "dim") -> Any:
    d = b.get(key)
    if isinstance(d, list):
        return tuple(d)
    return d


@op("sum", "nansum", spec="input, dim=None, keepdim=False, *, dtype=None")
def _sum(lw: Lowering, b: dict[str, Any]) -> Any:
    return lw.reduce("sum", _need_tensor(b), _dims(b), bool(b["keepdim"]))


@op("mean", "nanmean", spec="input, dim=None, keepdim=False, *, dtype=None")
def _mean(lw: Lowering, b: dict[str, Any]) -> Any:
    return lw.mean(_need_tensor(b), _dims(b), bool(b["keepdim"]))


@op("prod", spec="input, dim=None, keepdim=False, *, dtype=None")
def _prod(lw: Lowering, b: dict[str, Any]) -> Any:
    return lw.reduce("prod", _need_tensor(b), _dims(b), bool(b["keepdim"]))


@op("amax", "amin", spec="input, dim=(), keepdim=False")
def _amax(lw: Lowering, b: dict[str, Any]) -> Any:
    which = "max" if b["__name__"] == "amax" else "min"
    return lw.reduce(which, _need_tensor(b), _dims(b), bool(b["keepdim"]))


@op("max", "min", spec="input, dim=None, keepdim=False")
def _max(lw: Lowering, b: dict[str, Any]) -> Any:
    x, dim, which = b["input"], b["dim"], b["__name__"]
    if is_tensor(dim):  # torch.max(a, b): elementwise
        return lw.pw("maximum" if which == "max" else "minimum", x, dim)
    x = _need_tensor(b)
    if dim is None:
        return lw.reduce(which, x, None, False)
    keep = bool(b["keepdim"])
    values = lw.reduce(which, x, dim, keep)
    indices = lw.reduce("arg" + which, x, dim, keep)
    return [values, indices]


@op("argmax", "argmin", spec="input, dim=None, keepdim=False")
def _argmax(lw: Lowering, b: dict[str, Any]) -> Any:
    x = _need_tensor(b)
    if b["dim"] is None and b["keepdim"]:
        raise Unsupported(f"{b['__name__']} with dim=None and keepdim=True")
    return lw.reduce(b["__name__"], x, b["dim"], bool(b["keepdim"]))


def _correction(b: dict[str, Any]) -> float:
    if b.get("correction") is not None:
        return float(b["correction"])
    unbiased = b.get("unbiased")
    return 0.0 if unbiased is False else 1.0


def _variance(lw: Lowering, x: Value, dim: Any, keepdim: bool, correction: float) -> Value:
    m = lw.mean(x, dim, True)
    d = lw.pw("sub", x, m)
    return lw.mean(lw.pw("mul", d, d), dim, keepdim, correction)


@op("var", "std", spec="input, dim=None, unbiased=None, keepdim=False, *, correction=None")
def _var(lw: Lowering, b: dict[str, Any]) -> Any:
    x = _need_tensor(b)
    dim = b["dim"]
    if isinstance(dim, bool):  # var(x, unbiased) positional form
        b["unbiased"], dim = dim, None
    v = _variance(lw, x, _dims({"dim": dim}), bool(b["keepdim"]), _correction(b))
    return lw.pw("sqrt", v) if b["__name__"] == "std" else v


def _vector_norm(lw: Lowering, x: Value, p: Any, dim: Any, keepdim: bool) -> Value:
    if p in (2, 2.0, "fro", None):
        return lw.pw("sqrt", lw.reduce("sum", lw.pw("mul", x, x), dim, keepdim))
    if p in (1, 1.0):
        return lw.reduce("sum", lw.pw("abs", x), dim, keepdim)
    if p == float("inf"):
        return lw.reduce("max", lw.pw("abs", x), dim, keepdim)
    if isinstance(p, int | float) and p > 0:
        powered = lw.pw("pow_scalar", lw.pw("abs", x), float(p))
        return lw.pw("pow_scalar", lw.reduce("sum", powered, dim, keepdim), 1.0 / float(p))
    raise Unsupported(f"unsupported op norm with p={p!r}")


@op("norm", spec="input, p='fro', dim=None, keepdim=False, dtype=None")
def _norm(lw: Lowering, b: dict[str, Any]) -> Any:
    return _vector_norm(lw, _need_tensor(b), b["p"], _dims(b), bool(b["keepdim"]))


@op("vector_norm", spec="x, ord=2, dim=None, keepdim=False, *, dtype=None")
def _vnorm(lw: Lowering, b: dict[str, Any]) -> Any:
    return _vector_norm(lw, _need_tensor(b, "x"), b["ord"], _dims(b), bool(b["keepdim"]))


@op("logsumexp", spec="input, dim, keepdim=False")
def _logsumexp(lw: Lowering, b: dict[str, Any]) -> Any:
    x, dim, keep = _need_tensor(b), _dims(b), bool(b["keepdim"])
    m = lw.reduce("max", x, dim, True)
    s = lw.reduce("sum", lw.pw("exp", lw.pw("sub", x, m)), dim, keep)
    return lw.pw("add", lw.pw("log", s), lw.reduce("max", x, dim, keep))


@op("dot", "inner", "vdot", spec="input, other")
def _dot(lw: Lowering, b: dict[str, Any]) -> Any:
    x, y = _need_tensor(b), _need_tensor(b, "other")
    if x.rank != 1 or y.rank != 1:
        raise Unsupported(f"{b['__name__']} of tensors with more than one dimension")
    return lw.reduce("sum", lw.pw("mul", x, y), None, False)


@op("cumsum", "cumprod", spec="input, dim, *, dtype=None")
def _cumsum(lw: Lowering, b: dict[str, Any]) -> Any:
    x = _need_tensor(b)
    axis = norm_axes(b["dim"], x.rank)[0]
    dtype = x.dtype if is_float(x.dtype) else "int64"
    return Scan(shape=x.shape, dtype=dtype, op=b["__name__"], src=x, axis=axis)


# ---------------------------------------------------------------- normalizations


@op("softmax", "log_softmax", "softmin", spec="input, dim=None, _stacklevel=3, dtype=None")
def _softmax(lw: Lowering, b: dict[str, Any]) -> Any:
    x = _need_tensor(b)
    if b["dim"] is None:
        raise Unsupported(f"{b['__name__']} without dim")
    if b["__name__"] == "softmin":
        x = lw.pw("neg", x)
    dim = b["dim"]
    m = lw.reduce("max", x, dim, True)
    z = lw.pw("sub", x, m)
    e = lw.pw("exp", z)
    s = lw.reduce("sum", e, dim, True)
    if b["__name__"] == "log_softmax":
        return lw.pw("sub", z, lw.pw("log", s))
    return lw.pw("div", e, s)


def _standardize(
    lw: Lowering, xc: Any, var: Any, eps: Any, w: Any, bias: Any, view: Callable[[Any], Any]
) -> Any:
    """xc * rsqrt(var + eps), then the optional affine weight and bias, each seen through
    `view` so that it broadcasts over the normalized tensor."""
    y = lw.pw("mul", xc, lw.pw("rsqrt", lw.pw("add", var, eps)))
    if is_tensor(w):
        y = lw.pw("mul", y, view(w))
    if is_tensor(bias):
        y = lw.pw("add", y, view(bias))
    return y


def _layer_norm(
    lw: Lowering, x: Value, nshape: Any, w: Any, bias: Any, eps: float, rms: bool = False
) -> Value:
    k = 1 if isinstance(nshape, int) else len(nshape)
    axes = tuple(range(x.rank - k, x.rank))
    xc: Value = x if rms else lw.pw("sub", x, lw.mean(x, axes, True))
    var = lw.mean(lw.pw("mul", xc, xc), axes, True)  # the mean square for RMS norm
    return _standardize(lw, xc, var, eps, w, bias, lambda p: p)


@op("layer_norm", spec="input, normalized_shape, weight=None, bias=None, eps=1e-05")
def _ln(lw: Lowering, b: dict[str, Any]) -> Any:
    x = _need_tensor(b)
    return _layer_norm(lw, x, b["normalized_shape"], b["weight"], b["bias"], b["eps"])


@op("rms_norm", spec="input, normalized_shape, weight=None, eps=None")
def _rms(lw: Lowering, b: dict[str, Any]) -> Any:
    x = _need_tensor(b)
    eps = b["eps"] if b["eps"] is not None else _EPS.get(x.dtype, _EPS["float32"])
    return _layer_norm(lw, x, b["normalized_shape"], b["weight"], None, eps, rms=True)


@op("normalize", spec="input, p=2.0, dim=1, eps=1e-12")
def _normalize(lw: Lowering, b: dict[str, Any]) -> Any:
    x = _need_tensor(b)
    n = _vector_norm(lw, x, b["p"], b["dim"], True)
    return lw.pw("div", x, lw.pw("clamp_min", n, b["eps"]))


def _batch_norm(
    lw: Lowering,
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
def _bn(lw: Lowering, b: dict[str, Any]) -> Any:
    return _batch_norm(
        lw,
        _need_tensor(b),
        b["running_mean"],
        b["running_var"],
        b["weight"],
        b["bias"],
        bool(b["training"]),
        b["eps"],
    )


def _instance_norm(lw: Lowering, x: Value, w: Any, bias: Any, eps: float) -> Value:
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
def _in(lw: Lowering, b: dict[str, Any]) -> Any:
    if not b["use_input_stats"]:
        raise Unsupported("instance_norm with running statistics")
    return _instance_norm(lw, _need_tensor(b), b["weight"], b["bias"], b["eps"])


def _group_norm(lw: Lowering, x: Value, groups: int, w: Any, bias: Any, eps: float) -> Value:
    if x.rank < 2 or not isinstance(groups, int) or x.shape[1] % groups:
        raise Unsupported("group_norm with this shape")
    n, c = x.shape[0], x.shape[1]
    rest = int(math.prod(x.shape[2:])) if x.rank > 2 else 1
    xg = lw.view(
        x,
        "{0}.reshape({0}.shape[0], " + str(groups) + ", {0}.shape[1] // " + str(groups) + ", -1)",
        (n, groups, c // groups, rest),
    )
    axes = (2, 3)
    m = lw.mean(xg, axes, True)
    xc = lw.pw("sub", xg, m)
    v = lw.mean(lw.pw("mul", xc, xc), axes, True)
    fmt, shape = "{0}.view(" + str(groups) + ", -1, 1)", (groups, c // groups, 1)
    y = _standardize(lw, xc, v, eps, w, bias, lambda p: lw.view(p, fmt, shape))
    out = PyOp(shape=x.shape, dtype=x.dtype, fmt="{0}.view({1}.shape)", refs=[y, x], tensor=True)
    return out


@op("group_norm", spec="input, num_groups, weight=None, bias=None, eps=1e-05")
def _gn(lw: Lowering, b: dict[str, Any]) -> Any:
    return _group_norm(lw, _need_tensor(b), b["num_groups"], b["weight"], b["bias"], b["eps"])


@op("cosine_similarity", spec="x1, x2, dim=1, eps=1e-08")
def _cos(lw: Lowering, b: dict[str, Any]) -> Any:
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
def _pdist(lw: Lowering, b: dict[str, Any]) -> Any:
    d = lw.pw("add", lw.pw("sub", b["x1"], b["x2"]), b["eps"])
    return _vector_norm(lw, d, b["p"], -1, bool(b["keepdim"]))


# ---------------------------------------------------------------- losses


def _reduce_loss(lw: Lowering, loss: Value, reduction: str) -> Value:
    if reduction == "mean":
        return lw.mean(loss, None, False)
    if reduction == "sum":
        return lw.reduce("sum", loss, None, False)
    if reduction == "none":
        return loss
    raise Unsupported(f"loss reduction {reduction!r}")


_LOSS = "input, target, size_average=None, reduce=None, reduction='mean'"


@op("mse_loss", spec=_LOSS + ", weight=None")
def _mse(lw: Lowering, b: dict[str, Any]) -> Any:
    d = lw.pw("sub", b["input"], b["target"])
    return _reduce_loss(lw, lw.pw("mul", d, d), b["reduction"])


@op("l1_loss", spec=_LOSS)
def _l1(lw: Lowering, b: dict[str, Any]) -> Any:
    return _reduce_loss(lw, lw.pw("abs", lw.pw("sub", b["input"], b["target"])), b["reduction"])


@op("smooth_l1_loss", spec=_LOSS + ", beta=1.0")
def _smooth_l1(lw: Lowering, b: dict[str, Any]) -> Any:
    beta = b["beta"]
    d = lw.pw("abs", lw.pw("sub", b["input"], b["target"]))
    if beta == 0:
        return _reduce_loss(lw, d, b["reduction"])
    quad = lw.pw("div", lw.pw("mul", lw.pw("mul", d, d), 0.5), beta)
    lin = lw.pw("sub", d, 0.5 * beta)
    return _reduce_loss(lw, lw.pw("where", lw.pw("lt", d, beta), quad, lin), b["reduction"])


@op("huber_loss", spec="input, target, reduction='mean', delta=1.0, weight=None")
def _huber(lw: Lowering, b: dict[str, Any]) -> Any:
    delta = b["delta"]
    d = lw.pw("abs", lw.pw("sub", b["input"], b["target"]))
    quad = lw.pw("mul", lw.pw("mul", d, d), 0.5)
    lin = lw.pw("mul", lw.pw("sub", d, 0.5 * delta), delta)
    return _reduce_loss(lw, lw.pw("where", lw.pw("lt", d, delta), quad, lin), b["reduction"])


@op("kl_div", spec=_LOSS + ", log_target=False")
def _kl(lw: Lowering, b: dict[str, Any]) -> Any:
    x, t = b["input"], b["target"]
    if b["log_target"]:
        loss = lw.pw("mul", lw.pw("exp", t), lw.pw("sub", t, x))
    else:
        loss = lw.pw("sub", lw.pw("xlogy", t, t), lw.pw("mul", t, x))
    if b["reduction"] == "batchmean":
        total = lw.reduce("sum", loss, None, False)
        return lw.pw("div", total, dim_expr(x, 0))
    return _reduce_loss(lw, loss, b["reduction"])


def _nll_rows(lw: Lowering, logp: Value, target: Value) -> Value:
    """-logp[i, target[i]] per row of a (N, C) tensor, as a (N,) value."""
    if logp.rank != 2 or target.rank != 1:
        raise Unsupported("cross_entropy/nll_loss beyond (N, C) inputs with class-index targets")
    cls = Pointwise(shape=logp.shape, dtype="int64", op="coord", args=[logp])
    cls.attrs["axis"] = 1
    tcol = lw.view(target, "{0}.view(-1, 1)", (target.shape[0], 1))
    picked = lw.pw("where", lw.pw("eq", cls, tcol), logp, 0.0)
    return lw.pw("neg", lw.reduce("sum", picked, 1, False))


@op(
    "cross_entropy",
    spec="input, target, weight=None, size_average=None, ignore_index=-100, "
    "reduce=None, reduction='mean', label_smoothing=0.0",
)
def _ce(lw: Lowering, b: dict[str, Any]) -> Any:
    if b["weight"] is not None or b["label_smoothing"]:
        raise Unsupported("cross_entropy with class weights or label smoothing")
    x, t = b["input"], b["target"]
    if not is_tensor(t) or is_float(t.dtype):
        raise Unsupported("cross_entropy with probability targets")
    m = lw.reduce("max", x, 1, True)
    z = lw.pw("sub", x, m)
    logp = lw.pw("sub", z, lw.pw("log", lw.reduce("sum", lw.pw("exp", z), 1, True)))
    return _reduce_loss(lw, _nll_rows(lw, logp, t), b["reduction"])


@op(
    "nll_loss",
    spec="input, target, weight=None, size_average=None, ignore_index=-100, "
    "reduce=None, reduction='mean'",
)
def _nll(lw: Lowering, b: dict[str, Any]) -> Any:
    if b["weight"] is not None:
        raise Unsupported("nll_loss with class weights")
    return _reduce_loss(lw, _nll_rows(lw, b["input"], b["target"]), b["reduction"])


@op(
    "binary_cross_entropy",
    spec="input, target, weight=None, size_average=None, reduce=None, reduction='mean'",
)
def _bce(lw: Lowering, b: dict[str, Any]) -> Any:
    x, t = b["input"], b["target"]
    lx = lw.pw("clamp_min", lw.pw("log", x), -100.0)
    l1x = lw.pw("clamp_min", lw.pw("log", lw.pw("sub", 1.0, x)), -100.0)
    loss = lw.pw("neg", lw.pw("add", lw.pw("mul", t, lx), lw.pw("mul", lw.pw("sub", 1.0, t), l1x)))
    if is_tensor(b["weight"]):
        loss = lw.pw("mul", loss, b["weight"])
    return _reduce_loss(lw, loss, b["reduction"])


@op(
    "binary_cross_entropy_with_logits",
    spec="input, target, weight=None, size_average=None, "
    "reduce=None, reduction='mean', pos_weight=None",
)
def _bcel(lw: Lowering, b: dict[str, Any]) -> Any:
    if b["pos_weight"] is not None:
        raise Unsupported("binary_cross_entropy_with_logits with pos_weight")
    x, t = b["input"], b["target"]
    loss = lw.pw("sub", lw.pw("relu", x), lw.pw("mul", x, t))
    loss = lw.pw("add", loss, lw.pw("log1p", lw.pw("exp", lw.pw("neg", lw.pw("abs", x)))))
    if is_tensor(b["weight"]):
        loss = lw.pw("mul", loss, b["weight"])
    return _reduce_loss(lw, loss, b["reduction"])


@op(
    "triplet_margin_loss",
    spec="anchor, positive, negative, margin=1.0, p=2.0, eps=1e-06, "
    "swap=False, size_average=None, reduce=None, reduction='mean'",
)
def _triplet(lw: Lowering, b: dict[str, Any]) -> Any:
    if b["swap"]:
        raise Unsupported("triplet_margin_loss with swap")
    a, pos, neg = b["anchor"], b["positive"], b["negative"]

    def dist(u: Value, v: Value) -> Value:
        return _vector_norm(lw, lw.pw("add", lw.pw("sub", u, v), b["eps"]), b["p"], -1, False)

    loss = lw.pw(
        "clamp_min", lw.pw("add", lw.pw("sub", dist(a, pos), dist(a, neg)), b["margin"]), 0.0
    )
    return _reduce_loss(lw, loss, b["reduction"])
