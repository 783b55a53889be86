"""nn modules, lowered through the function handlers."""

from __future__ import annotations

from typing import Any

from agents.baseline.handlers.elementwise import _prelu
from agents.baseline.handlers.layout import _method_or_fn
from agents.baseline.handlers.nn import (
    _adaptive,
    _conv,
    _conv1d,
    _conv_transpose,
    _conv_transpose1d,
    _linear,
    _pool1d,
    _pool2d,
)
from agents.baseline.handlers.reductions import (
    _batch_norm,
    _group_norm,
    _instance_norm,
    _layer_norm,
    _rms,
    _softmax,
)
from agents.baseline.ir import (
    Unsupported,
    Value,
)
from agents.baseline.lower import (
    _FUNCS,
    Lowering,
    ModuleHandler,
    _parse_spec,
    is_tensor,
    module,
)

# ================================================================ module handlers


def _one(args: list[Any], what: str) -> Value:
    if len(args) != 1 or not is_tensor(args[0]):
        raise Unsupported(f"nn.{what} called with {len(args)} arguments")
    return args[0]


_SIMPLE_MODULES = {
    "ReLU": "relu",
    "ReLU6": "relu6",
    "Sigmoid": "sigmoid",
    "Tanh": "tanh",
    "SiLU": "silu",
    "Mish": "mish",
    "SELU": "selu",
    "Softsign": "softsign",
    "Hardsigmoid": "hardsigmoid",
    "Hardswish": "hardswish",
    "LogSigmoid": "logsigmoid",
    "Tanhshrink": "tanhshrink",
}


def _simple_module(name: str) -> ModuleHandler:
    def fn(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, training: bool) -> Any:
        return lw.pw(_SIMPLE_MODULES[name], _one(args, name))

    return fn


for _mname in _SIMPLE_MODULES:
    module(_mname)(_simple_module(_mname))


@module("Identity")
def _m_identity(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    return args[0]


@module("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout")
def _m_dropout(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    if attrs.get("p", 0.5) == 0 or not t:
        return _one(args, "Dropout")
    raise Unsupported("unsupported op nn.Dropout in training mode (random)")


@module("GELU")
def _m_gelu(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    return lw.pw("gelu_tanh" if attrs.get("approximate") == "tanh" else "gelu", _one(args, "GELU"))


@module("LeakyReLU")
def _m_leaky(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    return lw.pw("leaky_relu", _one(args, "LeakyReLU"), attrs.get("negative_slope", 0.01))


@module("ELU", "CELU")
def _m_elu(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    x = _one(args, "ELU")
    return lw.pw("celu" if attrs["__type__"] == "CELU" else "elu", x, attrs.get("alpha", 1.0))


@module("Softplus")
def _m_softplus(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    return lw.pw(
        "softplus", _one(args, "Softplus"), attrs.get("beta", 1.0), attrs.get("threshold", 20.0)
    )


@module("Hardtanh")
def _m_hardtanh(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    return lw.pw(
        "hardtanh", _one(args, "Hardtanh"), attrs.get("min_val", -1.0), attrs.get("max_val", 1.0)
    )


@module("Hardshrink", "Softshrink")
def _m_shrink(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    x = _one(args, "Shrink")
    name = "hardshrink" if attrs["__type__"] == "Hardshrink" else "softshrink"
    return lw.pw(name, x, attrs.get("lambd", 0.5))


@module("Threshold")
def _m_threshold(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    return lw.pw("threshold", _one(args, "Threshold"), attrs["threshold"], attrs["value"])


@module("PReLU")
def _m_prelu(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    return _prelu(
        lw, {"input": _one(args, "PReLU"), "weight": param("weight"), "__name__": "prelu"}
    )


@module("Softmax", "LogSoftmax", "Softmin")
def _m_softmax(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    name = {"Softmax": "softmax", "LogSoftmax": "log_softmax", "Softmin": "softmin"}[
        attrs["__type__"]
    ]
    return _softmax(lw, {"input": _one(args, "Softmax"), "dim": attrs.get("dim"), "__name__": name})


@module("Linear")
def _m_linear(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    return _linear(
        lw, {"input": _one(args, "Linear"), "weight": param("weight"), "bias": param("bias")}
    )


@module("LayerNorm")
def _m_ln(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    return _layer_norm(
        lw,
        _one(args, "LayerNorm"),
        attrs["normalized_shape"],
        param("weight"),
        param("bias"),
        attrs.get("eps", 1e-5),
    )


@module("RMSNorm")
def _m_rms(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    return _rms(
        lw,
        {
            "input": _one(args, "RMSNorm"),
            "normalized_shape": attrs["normalized_shape"],
            "weight": param("weight"),
            "eps": attrs.get("eps"),
        },
    )


@module("BatchNorm1d", "BatchNorm2d", "BatchNorm3d")
def _m_bn(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    x = _one(args, "BatchNorm")
    use_batch = t or not attrs.get("track_running_stats", True)
    return _batch_norm(
        lw,
        x,
        param("running_mean"),
        param("running_var"),
        param("weight"),
        param("bias"),
        use_batch,
        attrs.get("eps", 1e-5),
    )


@module("InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d")
def _m_in(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    if attrs.get("track_running_stats") and not t:
        raise Unsupported("InstanceNorm with running statistics in eval mode")
    return _instance_norm(
        lw, _one(args, "InstanceNorm"), param("weight"), param("bias"), attrs.get("eps", 1e-5)
    )


@module("GroupNorm")
def _m_gn(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    return _group_norm(
        lw,
        _one(args, "GroupNorm"),
        attrs["num_groups"],
        param("weight"),
        param("bias"),
        attrs.get("eps", 1e-5),
    )


@module("Conv2d", "Conv3d")
def _m_conv(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    if attrs.get("padding_mode", "zeros") != "zeros":
        raise Unsupported(f"nn.Conv with padding_mode={attrs.get('padding_mode')!r}")
    return _conv(
        lw,
        _one(args, "Conv"),
        param("weight"),
        param("bias"),
        attrs["stride"],
        attrs["padding"],
        attrs["dilation"],
        attrs.get("groups", 1),
    )


def _zero_padded(attrs: dict[str, Any], name: str) -> None:
    if attrs.get("padding_mode", "zeros") != "zeros":
        raise Unsupported(f"nn.{name} with padding_mode={attrs.get('padding_mode')!r}")


@module("Conv1d")
def _m_conv1(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    _zero_padded(attrs, "Conv1d")
    return _conv1d(
        lw, _one(args, "Conv1d"), param("weight"), param("bias"), attrs["stride"],
        attrs["padding"], attrs["dilation"], attrs.get("groups", 1),
    )  # fmt: skip


@module("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")
def _m_convt(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    x = _one(args, "ConvTranspose")
    _zero_padded(attrs, "ConvTranspose")
    how = _conv_transpose1d if x.rank == 3 else _conv_transpose
    return how(
        lw, x, param("weight"), param("bias"), attrs["stride"], attrs["padding"],
        attrs.get("output_padding", 0), attrs.get("groups", 1), attrs["dilation"],
    )  # fmt: skip


@module("MaxPool2d")
def _m_maxpool(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    if attrs.get("return_indices"):
        raise Unsupported("nn.MaxPool2d with return_indices")
    return _pool2d(
        lw,
        "max",
        _one(args, "MaxPool2d"),
        attrs["kernel_size"],
        attrs.get("stride"),
        attrs.get("padding", 0),
        attrs.get("dilation", 1),
        attrs.get("ceil_mode", False),
    )


@module("AvgPool2d")
def _m_avgpool(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    return _pool2d(
        lw,
        "avg",
        _one(args, "AvgPool2d"),
        attrs["kernel_size"],
        attrs.get("stride"),
        attrs.get("padding", 0),
        1,
        attrs.get("ceil_mode", False),
        attrs.get("count_include_pad", True),
        attrs.get("divisor_override"),
    )


@module("MaxPool1d")
def _m_maxpool1d(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    if attrs.get("return_indices"):
        raise Unsupported("nn.MaxPool1d with return_indices")
    return _pool1d(
        lw,
        "max",
        _one(args, "MaxPool1d"),
        attrs["kernel_size"],
        attrs.get("stride"),
        attrs.get("padding", 0),
        attrs.get("dilation", 1),
        attrs.get("ceil_mode", False),
    )


@module("AvgPool1d")
def _m_avgpool1d(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    return _pool1d(
        lw,
        "avg",
        _one(args, "AvgPool1d"),
        attrs["kernel_size"],
        attrs.get("stride"),
        attrs.get("padding", 0),
        1,
        attrs.get("ceil_mode", False),
        attrs.get("count_include_pad", True),
    )


@module("AdaptiveAvgPool2d", "AdaptiveAvgPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool1d")
def _m_adaptive(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    kind = attrs["__type__"]
    return _adaptive(
        lw,
        "mean" if "Avg" in kind else "max",
        _one(args, kind),
        attrs["output_size"],
        2 if kind.endswith("2d") else 1,
    )


@module("Flatten")
def _m_flatten(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    b = {
        "input": _one(args, "Flatten"),
        "start_dim": attrs.get("start_dim", 1),
        "end_dim": attrs.get("end_dim", -1),
    }
    return _method_or_fn(lw, b, "flatten", ["start_dim", "end_dim"])


@module("Unflatten")
def _m_unflatten(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    b = {"input": _one(args, "Unflatten"), "dim": attrs["dim"], "sizes": attrs["unflattened_size"]}
    return _method_or_fn(lw, b, "unflatten", ["dim", "sizes"])


def _loss_module(fn_name: str, keys: tuple[str, ...]) -> ModuleHandler:
    def fn(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
        spec, handler = _FUNCS[fn_name]
        names = [p[0] for p in _parse_spec(spec)]
        b: dict[str, Any] = {}
        for n, a in zip(names, args, strict=False):
            b[n] = a
        for n, default, _ in _parse_spec(spec):
            b.setdefault(n, default)
        for k in keys:
            if k in attrs:
                b["p" if k == "norm" else k] = attrs[k]
        if param("weight") is not None:
            b["weight"] = param("weight")
        b["__name__"] = fn_name
        return handler(lw, b)

    return fn


for _mname, _fname, _keys in (
    ("MSELoss", "mse_loss", ("reduction",)),
    ("L1Loss", "l1_loss", ("reduction",)),
    ("SmoothL1Loss", "smooth_l1_loss", ("reduction", "beta")),
    ("HuberLoss", "huber_loss", ("reduction", "delta")),
    ("KLDivLoss", "kl_div", ("reduction", "log_target")),
    ("CrossEntropyLoss", "cross_entropy", ("reduction", "label_smoothing")),
    ("NLLLoss", "nll_loss", ("reduction",)),
    ("BCELoss", "binary_cross_entropy", ("reduction",)),
    ("BCEWithLogitsLoss", "binary_cross_entropy_with_logits", ("reduction",)),
    ("TripletMarginLoss", "triplet_margin_loss", ("margin", "p", "eps", "swap", "reduction")),
    ("CosineSimilarity", "cosine_similarity", ("dim", "eps")),
    ("PairwiseDistance", "pairwise_distance", ("norm", "eps", "keepdim")),
):
    module(_mname)(_loss_module(_fname, _keys))
