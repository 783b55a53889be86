"""Loss functions: mse, l1, smooth l1, huber, kl_div, cross entropy, nll, bce, triplet."""

from __future__ import annotations

from typing import Any

from agents.baseline.lowering.build import Builder, dim_expr, is_tensor
from agents.baseline.lowering.handlers.reductions import vector_norm
from agents.baseline.lowering.ir import (
    Pointwise,
    Unsupported,
    Value,
    is_float,
)
from agents.baseline.lowering.registry import Call, op

# ---------------------------------------------------------------- losses


def _reduce_loss(lw: Builder, loss: Value, reduction: str) -> Value:
    if reduction == "mean":
        return lw.mean(loss, None, False)
    if reduction == "sum":
        return lw.reduce("sum", loss, None, False)
    if reduction == "none":
        return loss
    raise Unsupported(f"loss reduction {reduction!r}")


_LOSS = "input, target, size_average=None, reduce=None, reduction='mean'"


@op("mse_loss", spec=_LOSS + ", weight=None")
def _mse(lw: Builder, b: Call) -> Any:
    d = lw.pw("sub", b["input"], b["target"])
    return _reduce_loss(lw, lw.pw("mul", d, d), b["reduction"])


@op("l1_loss", spec=_LOSS)
def _l1(lw: Builder, b: Call) -> Any:
    return _reduce_loss(lw, lw.pw("abs", lw.pw("sub", b["input"], b["target"])), b["reduction"])


@op("smooth_l1_loss", spec=_LOSS + ", beta=1.0")
def _smooth_l1(lw: Builder, b: Call) -> Any:
    beta = b["beta"]
    d = lw.pw("abs", lw.pw("sub", b["input"], b["target"]))
    if beta == 0:
        return _reduce_loss(lw, d, b["reduction"])
    quad = lw.pw("div", lw.pw("mul", lw.pw("mul", d, d), 0.5), beta)
    lin = lw.pw("sub", d, 0.5 * beta)
    return _reduce_loss(lw, lw.pw("where", lw.pw("lt", d, beta), quad, lin), b["reduction"])


@op("huber_loss", spec="input, target, reduction='mean', delta=1.0, weight=None")
def _huber(lw: Builder, b: Call) -> Any:
    delta = b["delta"]
    d = lw.pw("abs", lw.pw("sub", b["input"], b["target"]))
    quad = lw.pw("mul", lw.pw("mul", d, d), 0.5)
    lin = lw.pw("mul", lw.pw("sub", d, 0.5 * delta), delta)
    return _reduce_loss(lw, lw.pw("where", lw.pw("lt", d, delta), quad, lin), b["reduction"])


@op("kl_div", spec=_LOSS + ", log_target=False")
def _kl(lw: Builder, b: Call) -> Any:
    x, t = b["input"], b["target"]
    if b["log_target"]:
        loss = lw.pw("mul", lw.pw("exp", t), lw.pw("sub", t, x))
    else:
        loss = lw.pw("sub", lw.pw("xlogy", t, t), lw.pw("mul", t, x))
    if b["reduction"] == "batchmean":
        total = lw.reduce("sum", loss, None, False)
        return lw.pw("div", total, dim_expr(x, 0))
    return _reduce_loss(lw, loss, b["reduction"])


def _nll_rows(lw: Builder, logp: Value, target: Value) -> Value:
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
def _ce(lw: Builder, b: Call) -> Any:
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
def _nll(lw: Builder, b: Call) -> Any:
    if b["weight"] is not None:
        raise Unsupported("nll_loss with class weights")
    return _reduce_loss(lw, _nll_rows(lw, b["input"], b["target"]), b["reduction"])


@op(
    "binary_cross_entropy",
    spec="input, target, weight=None, size_average=None, reduce=None, reduction='mean'",
)
def _bce(lw: Builder, b: Call) -> Any:
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
def _bcel(lw: Builder, b: Call) -> Any:
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
def _triplet(lw: Builder, b: Call) -> Any:
    if b["swap"]:
        raise Unsupported("triplet_margin_loss with swap")
    a, pos, neg = b["anchor"], b["positive"], b["negative"]

    def dist(u: Value, v: Value) -> Value:
        return vector_norm(lw, lw.pw("add", lw.pw("sub", u, v), b["eps"]), b["p"], -1, False)

    loss = lw.pw(
        "clamp_min", lw.pw("add", lw.pw("sub", dist(a, pos), dist(a, neg)), b["margin"]), 0.0
    )
    return _reduce_loss(lw, loss, b["reduction"])
