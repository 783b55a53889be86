"""nn modules, lowered through the function handlers."""

from __future__ import annotations

from typing import Any

from agents.baseline.lowering.build import Builder
from agents.baseline.lowering.handlers.conv import conv, conv1d, conv_transpose, conv_transpose1d
from agents.baseline.lowering.handlers.pool import adaptive_pool, pool1d, pool2d
from agents.baseline.lowering.handlers.reductions import (
    batch_norm,
    group_norm,
    instance_norm,
    layer_norm,
)
from agents.baseline.lowering.ir import Unsupported
from agents.baseline.lowering.registry import ModuleCall, ModuleHandler, invoke, module

# ================================================================ module handlers


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
    def fn(lw: Builder, m: ModuleCall) -> Any:
        return lw.pw(_SIMPLE_MODULES[name], m.one())

    return fn


for _mname in _SIMPLE_MODULES:
    module(_mname)(_simple_module(_mname))


@module("Identity")
def _m_identity(lw: Builder, m: ModuleCall) -> Any:
    return m.args[0]


@module("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout")
def _m_dropout(lw: Builder, m: ModuleCall) -> Any:
    if m.attr("p", 0.5) == 0 or not m.training:
        return m.one()
    raise Unsupported.missing("nn.Dropout", "in training mode (random)")


@module("GELU")
def _m_gelu(lw: Builder, m: ModuleCall) -> Any:
    return lw.pw("gelu_tanh" if m.attr("approximate") == "tanh" else "gelu", m.one())


@module("LeakyReLU")
def _m_leaky(lw: Builder, m: ModuleCall) -> Any:
    return lw.pw("leaky_relu", m.one(), m.attr("negative_slope", 0.01))


@module("ELU", "CELU")
def _m_elu(lw: Builder, m: ModuleCall) -> Any:
    x = m.one()
    return lw.pw("celu" if m.type == "CELU" else "elu", x, m.attr("alpha", 1.0))


@module("Softplus")
def _m_softplus(lw: Builder, m: ModuleCall) -> Any:
    return lw.pw("softplus", m.one(), m.attr("beta", 1.0), m.attr("threshold", 20.0))


@module("Hardtanh")
def _m_hardtanh(lw: Builder, m: ModuleCall) -> Any:
    return lw.pw("hardtanh", m.one(), m.attr("min_val", -1.0), m.attr("max_val", 1.0))


@module("Hardshrink", "Softshrink")
def _m_shrink(lw: Builder, m: ModuleCall) -> Any:
    x = m.one()
    name = "hardshrink" if m.type == "Hardshrink" else "softshrink"
    return lw.pw(name, x, m.attr("lambd", 0.5))


@module("Threshold")
def _m_threshold(lw: Builder, m: ModuleCall) -> Any:
    return lw.pw("threshold", m.one(), m.attrs["threshold"], m.attrs["value"])


@module("PReLU")
def _m_prelu(lw: Builder, m: ModuleCall) -> Any:
    return invoke(lw, "prelu", [m.one(), m.param("weight")])


@module("Softmax", "LogSoftmax", "Softmin")
def _m_softmax(lw: Builder, m: ModuleCall) -> Any:
    name = {"Softmax": "softmax", "LogSoftmax": "log_softmax", "Softmin": "softmin"}[m.type]
    return invoke(lw, name, [m.one()], {"dim": m.attr("dim")})


@module("PixelShuffle", "PixelUnshuffle")
def _m_pixel_shuffle(lw: Builder, m: ModuleCall) -> Any:
    if m.type == "PixelShuffle":
        return invoke(lw, "pixel_shuffle", [m.one(), m.attr("upscale_factor")])
    return invoke(lw, "pixel_unshuffle", [m.one(), m.attr("downscale_factor")])


@module("Softmax2d")
def _m_softmax2d(lw: Builder, m: ModuleCall) -> Any:
    return invoke(lw, "softmax", [m.one()], {"dim": -3})  # over the channels of (N,)C,H,W


@module("Linear")
def _m_linear(lw: Builder, m: ModuleCall) -> Any:
    return invoke(lw, "linear", [m.one(), m.param("weight"), m.param("bias")])


@module("LayerNorm")
def _m_ln(lw: Builder, m: ModuleCall) -> Any:
    return layer_norm(
        lw,
        m.one(),
        m.attrs["normalized_shape"],
        m.param("weight"),
        m.param("bias"),
        m.attr("eps", 1e-5),
    )


@module("RMSNorm")
def _m_rms(lw: Builder, m: ModuleCall) -> Any:
    args = [m.one(), m.attrs["normalized_shape"], m.param("weight"), m.attr("eps")]
    return invoke(lw, "rms_norm", args)


@module("BatchNorm1d", "BatchNorm2d", "BatchNorm3d")
def _m_bn(lw: Builder, m: ModuleCall) -> Any:
    x = m.one()
    use_batch = m.training or not m.attr("track_running_stats", True)
    return batch_norm(
        lw,
        x,
        m.param("running_mean"),
        m.param("running_var"),
        m.param("weight"),
        m.param("bias"),
        use_batch,
        m.attr("eps", 1e-5),
    )


@module("InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d")
def _m_in(lw: Builder, m: ModuleCall) -> Any:
    if m.attr("track_running_stats") and not m.training:
        raise Unsupported("InstanceNorm with running statistics in eval mode")
    return instance_norm(lw, m.one(), m.param("weight"), m.param("bias"), m.attr("eps", 1e-5))


@module("GroupNorm")
def _m_gn(lw: Builder, m: ModuleCall) -> Any:
    return group_norm(
        lw,
        m.one(),
        m.attrs["num_groups"],
        m.param("weight"),
        m.param("bias"),
        m.attr("eps", 1e-5),
        source=f"self.get_submodule({m.path!r}).num_groups",
    )


@module("Conv2d", "Conv3d")
def _m_conv(lw: Builder, m: ModuleCall) -> Any:
    if m.attr("padding_mode", "zeros") != "zeros":
        raise Unsupported(f"nn.Conv with padding_mode={m.attr('padding_mode')!r}")
    return conv(
        lw,
        m.one(),
        m.weight(),
        m.param("bias"),
        m.attrs["stride"],
        m.attrs["padding"],
        m.attrs["dilation"],
        m.attr("groups", 1),
    )


def _zero_padded(m: ModuleCall) -> None:
    if m.attr("padding_mode", "zeros") != "zeros":
        raise Unsupported(f"nn.{m.type} with padding_mode={m.attr('padding_mode')!r}")


@module("Conv1d")
def _m_conv1(lw: Builder, m: ModuleCall) -> Any:
    _zero_padded(m)
    return conv1d(
        lw, m.one(), m.weight(), m.param("bias"), m.attrs["stride"],
        m.attrs["padding"], m.attrs["dilation"], m.attr("groups", 1),
    )  # fmt: skip


@module("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")
def _m_convt(lw: Builder, m: ModuleCall) -> Any:
    x = m.one()
    _zero_padded(m)
    how = conv_transpose1d if x.rank == 3 else conv_transpose
    return how(
        lw, x, m.weight(), m.param("bias"), m.attrs["stride"], m.attrs["padding"],
        m.attr("output_padding", 0), m.attr("groups", 1), m.attrs["dilation"],
    )  # fmt: skip


@module("MaxPool2d", "MaxPool3d")
def _m_maxpool(lw: Builder, m: ModuleCall) -> Any:
    if m.attr("return_indices"):
        raise Unsupported(f"nn.{m.type} with return_indices")
    return pool2d(
        lw,
        "max",
        m.one(),
        m.attrs["kernel_size"],
        m.attr("stride"),
        m.attr("padding", 0),
        m.attr("dilation", 1),
        m.attr("ceil_mode", False),
        dims=int(m.type[-2]),
    )


@module("AvgPool2d", "AvgPool3d")
def _m_avgpool(lw: Builder, m: ModuleCall) -> Any:
    return pool2d(
        lw,
        "avg",
        m.one(),
        m.attrs["kernel_size"],
        m.attr("stride"),
        m.attr("padding", 0),
        1,
        m.attr("ceil_mode", False),
        m.attr("count_include_pad", True),
        m.attr("divisor_override"),
        dims=int(m.type[-2]),
    )


@module("MaxPool1d")
def _m_maxpool1d(lw: Builder, m: ModuleCall) -> Any:
    if m.attr("return_indices"):
        raise Unsupported("nn.MaxPool1d with return_indices")
    return pool1d(
        lw,
        "max",
        m.one(),
        m.attrs["kernel_size"],
        m.attr("stride"),
        m.attr("padding", 0),
        m.attr("dilation", 1),
        m.attr("ceil_mode", False),
    )


@module("AvgPool1d")
def _m_avgpool1d(lw: Builder, m: ModuleCall) -> Any:
    return pool1d(
        lw,
        "avg",
        m.one(),
        m.attrs["kernel_size"],
        m.attr("stride"),
        m.attr("padding", 0),
        1,
        m.attr("ceil_mode", False),
        m.attr("count_include_pad", True),
    )


@module(*(f"Adaptive{k}Pool{d}d" for k in ("Avg", "Max") for d in (1, 2, 3)))
def _m_adaptive(lw: Builder, m: ModuleCall) -> Any:
    if m.attr("return_indices"):
        raise Unsupported(f"nn.{m.type} with return_indices")
    how = "mean" if m.type.startswith("AdaptiveAvg") else "max"
    return adaptive_pool(lw, how, m.one(), m.attrs["output_size"], int(m.type[-2]))


@module("Flatten")
def _m_flatten(lw: Builder, m: ModuleCall) -> Any:
    dims = {"start_dim": m.attr("start_dim", 1), "end_dim": m.attr("end_dim", -1)}
    return invoke(lw, "flatten", [m.one()], dims, method=True)


@module("Unflatten")
def _m_unflatten(lw: Builder, m: ModuleCall) -> Any:
    sizes = {"dim": m.attrs["dim"], "sizes": m.attrs["unflattened_size"]}
    return invoke(lw, "unflatten", [m.one()], sizes, method=True)


def _loss_module(fn_name: str, keys: tuple[str, ...]) -> ModuleHandler:
    """A loss module as its functional form, its attributes passed as keyword arguments."""

    def fn(lw: Builder, m: ModuleCall) -> Any:
        kwargs = {"p" if k == "norm" else k: m.attrs[k] for k in keys if k in m.attrs}
        if m.param("weight") is not None:
            kwargs["weight"] = m.param("weight")
        return invoke(lw, fn_name, m.args, kwargs)

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
