"""The elementwise op table: each op's operands, its Triton expression, its result kind.

Templates are Python format strings over the op's operand names; operands are kernel
variables (tensor values, already loaded and converted to the compute type) or scalars
(literals, or kernel arguments for scalars known only at run time). `_kw_*` helpers are
@triton.jit functions emitted into every candidate that uses them (HELPERS).

Result kinds: `same` (dtype follows torch's promotion of the operands), `float` (always a
floating result), `bool` (comparisons and logic).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PointwiseOp:
    args: tuple[str, ...]
    template: str
    kind: str = "same"  # same | float | bool


def _u(template: str, kind: str = "float") -> PointwiseOp:
    return PointwiseOp(("x",), template, kind)


POINTWISE: dict[str, PointwiseOp] = {
    # identity and sign-like
    "identity": _u("{x}", "same"),
    "neg": _u("(-{x})", "same"),
    "abs": _u("tl.abs({x})", "same"),
    "sign": _u("tl.where({x} > 0, 1.0, tl.where({x} < 0, -1.0, 0.0))", "same"),
    "relu": _u("tl.maximum({x}, 0.0)", "same"),
    "relu6": _u("tl.minimum(tl.maximum({x}, 0.0), 6.0)", "same"),
    # exponentials, logs, powers
    "exp": _u("tl.exp({x})"),
    "exp2": _u("tl.exp2({x})"),
    "expm1": _u("(tl.exp({x}) - 1.0)"),
    "log": _u("tl.log({x})"),
    "log2": _u("tl.log2({x})"),
    "log10": _u("(tl.log({x}) * 0.4342944819032518)"),
    "log1p": _u("tl.log(1.0 + {x})"),
    "sqrt": _u("tl.sqrt({x})"),
    "rsqrt": _u("(1.0 / tl.sqrt({x}))"),
    "reciprocal": _u("(1.0 / {x})"),
    "square": _u("({x} * {x})", "same"),
    "cube": _u("({x} * {x} * {x})", "same"),
    "pow_scalar": PointwiseOp(("x", "exponent"), "tl.exp({exponent} * tl.log({x}))", "float"),
    "rpow_scalar": PointwiseOp(("x", "base"), "tl.exp({x} * tl.log({base}))", "float"),
    # trigonometric and special
    "sin": _u("tl.sin({x})"),
    "cos": _u("tl.cos({x})"),
    "tanh": _u("_kw_tanh({x})"),
    "erf": _u("tl.erf({x})"),
    "erfc": _u("(1.0 - tl.erf({x}))"),
    # rounding
    "floor": _u("tl.floor({x})", "same"),
    "ceil": _u("tl.ceil({x})", "same"),
    "trunc": _u("_kw_trunc({x})", "same"),
    "frac": _u("({x} - _kw_trunc({x}))", "same"),
    "round": _u("_kw_round({x})", "same"),
    # activations
    "sigmoid": _u("tl.sigmoid({x})"),
    "logsigmoid": _u("(tl.minimum({x}, 0.0) - tl.log(1.0 + tl.exp(-tl.abs({x}))))"),
    "silu": _u("({x} * tl.sigmoid({x}))"),
    "gelu": _u("(0.5 * {x} * (1.0 + tl.erf({x} * 0.7071067811865476)))"),
    "gelu_tanh": _u(
        "(0.5 * {x} * (1.0 + _kw_tanh(0.7978845608028654 * ({x} + 0.044715 * {x} * {x} * {x}))))"
    ),
    "mish": _u("({x} * _kw_tanh(_kw_softplus({x}, 1.0, 20.0)))"),
    "softplus": PointwiseOp(
        ("x", "beta", "threshold"), "_kw_softplus({x}, {beta}, {threshold})", "float"
    ),
    "softsign": _u("({x} / (1.0 + tl.abs({x})))"),
    "elu": PointwiseOp(("x", "alpha"), "tl.where({x} > 0, {x}, {alpha} * (tl.exp({x}) - 1.0))"),
    "celu": PointwiseOp(
        ("x", "alpha"), "tl.where({x} > 0, {x}, {alpha} * (tl.exp({x} / {alpha}) - 1.0))"
    ),
    "selu": _u(
        "(1.0507009873554805 * tl.where({x} > 0, {x}, 1.6732632423543772 * (tl.exp({x}) - 1.0)))"
    ),
    "leaky_relu": PointwiseOp(
        ("x", "negative_slope"), "tl.where({x} >= 0, {x}, {x} * {negative_slope})", "same"
    ),
    "prelu": PointwiseOp(("x", "weight"), "tl.where({x} >= 0, {x}, {x} * {weight})", "same"),
    "hardtanh": PointwiseOp(
        ("x", "min_val", "max_val"), "tl.minimum(tl.maximum({x}, {min_val}), {max_val})", "same"
    ),
    "hardsigmoid": _u("tl.minimum(tl.maximum({x} / 6.0 + 0.5, 0.0), 1.0)"),
    "hardswish": _u("({x} * tl.minimum(tl.maximum({x} + 3.0, 0.0), 6.0) / 6.0)"),
    "hardshrink": PointwiseOp(("x", "lambd"), "tl.where(tl.abs({x}) > {lambd}, {x}, 0.0)", "same"),
    "softshrink": PointwiseOp(
        ("x", "lambd"),
        "tl.where({x} > {lambd}, {x} - {lambd}, tl.where({x} < -{lambd}, {x} + {lambd}, 0.0))",
        "same",
    ),
    "tanhshrink": _u("({x} - _kw_tanh({x}))"),
    "threshold": PointwiseOp(
        ("x", "threshold", "value"), "tl.where({x} > {threshold}, {x}, {value})", "same"
    ),
    "clamp_min": PointwiseOp(("x", "min"), "tl.maximum({x}, {min})", "same"),
    "clamp_max": PointwiseOp(("x", "max"), "tl.minimum({x}, {max})", "same"),
    # binary arithmetic
    "add": PointwiseOp(("x", "y"), "({x} + {y})", "same"),
    "sub": PointwiseOp(("x", "y"), "({x} - {y})", "same"),
    "mul": PointwiseOp(("x", "y"), "({x} * {y})", "same"),
    "div": PointwiseOp(("x", "y"), "({x} / {y})", "float"),
    "floor_divide": PointwiseOp(("x", "y"), "tl.floor({x} / {y})", "same"),
    "remainder": PointwiseOp(("x", "y"), "({x} - tl.floor({x} / {y}) * {y})", "same"),
    "fmod": PointwiseOp(("x", "y"), "({x} - _kw_trunc({x} / {y}) * {y})", "same"),
    "maximum": PointwiseOp(("x", "y"), "tl.maximum({x}, {y})", "same"),
    "minimum": PointwiseOp(("x", "y"), "tl.minimum({x}, {y})", "same"),
    "pow": PointwiseOp(("x", "y"), "tl.exp({y} * tl.log({x}))", "float"),
    "hypot": PointwiseOp(("x", "y"), "tl.sqrt({x} * {x} + {y} * {y})", "float"),
    "xlogy": PointwiseOp(("x", "y"), "tl.where({x} == 0, 0.0, {x} * tl.log({y}))", "float"),
    # comparisons and logic
    "eq": PointwiseOp(("x", "y"), "({x} == {y})", "bool"),
    "ne": PointwiseOp(("x", "y"), "({x} != {y})", "bool"),
    "lt": PointwiseOp(("x", "y"), "({x} < {y})", "bool"),
    "le": PointwiseOp(("x", "y"), "({x} <= {y})", "bool"),
    "gt": PointwiseOp(("x", "y"), "({x} > {y})", "bool"),
    "ge": PointwiseOp(("x", "y"), "({x} >= {y})", "bool"),
    "logical_not": _u("({x} == 0)", "bool"),
    "logical_and": PointwiseOp(("x", "y"), "(({x} != 0) & ({y} != 0))", "bool"),
    "logical_or": PointwiseOp(("x", "y"), "(({x} != 0) | ({y} != 0))", "bool"),
    "logical_xor": PointwiseOp(("x", "y"), "(({x} != 0) ^ ({y} != 0))", "bool"),
    "isnan": _u("({x} != {x})", "bool"),
    # ternary
    "where": PointwiseOp(("cond", "x", "y"), "tl.where({cond} != 0, {x}, {y})", "same"),
    "lerp": PointwiseOp(("x", "y", "w"), "({x} + {w} * ({y} - {x}))", "same"),
    "addcmul": PointwiseOp(("x", "y", "z", "value"), "({x} + {value} * {y} * {z})", "same"),
    "addcdiv": PointwiseOp(("x", "y", "z", "value"), "({x} + {value} * {y} / {z})", "float"),
    # special: handled by the code generator (a coordinate of the kernel's index space)
    "coord": _u("", "int"),
    "cast": _u("{x}", "same"),
}

HELPERS: dict[str, str] = {
    "_kw_tanh": """@triton.jit
def _kw_tanh(x):
    # tanh from exp(-2|x|): no overflow, and libdevice is not available everywhere.
    t = tl.exp(-2.0 * tl.abs(x))
    y = (1.0 - t) / (1.0 + t)
    return tl.where(x >= 0, y, -y)
""",
    "_kw_softplus": """@triton.jit
def _kw_softplus(x, beta, threshold):
    bx = x * beta
    soft = (tl.maximum(bx, 0.0) + tl.log(1.0 + tl.exp(-tl.abs(bx)))) / beta
    return tl.where(bx > threshold, x, soft)
""",
    "_kw_trunc": """@triton.jit
def _kw_trunc(x):
    return tl.where(x >= 0, tl.floor(x), tl.ceil(x))
""",
    "_kw_round": """@triton.jit
def _kw_round(x):
    # round half to even, as torch.round does
    f = tl.floor(x)
    d = x - f
    odd = (f - 2.0 * tl.floor(f * 0.5)) != 0
    return tl.where(d > 0.5, f + 1.0, tl.where(d < 0.5, f, tl.where(odd, f + 1.0, f)))
""",
    "_kw_mul": """@triton.jit
def _kw_mul(a, b):
    return a * b
""",
}

REDUCTIONS = ("sum", "mean", "max", "min", "prod", "argmax", "argmin")
SCANS = ("cumsum", "cumprod")

# The ops the baseline Coder understands, by family (rendered into the docs/baseline-agent.md).
SUPPORTED_TABLE: list[tuple[str, str]] = [
    (
        "elementwise (unary)",
        "relu, relu6, leaky_relu, prelu, elu, celu, selu, gelu (erf and tanh), silu/swish, "
        "mish, sigmoid, logsigmoid, tanh, softplus, softsign, hardtanh, hardsigmoid, "
        "hardswish, hardshrink, softshrink, tanhshrink, threshold, clamp/clip, abs, neg, sign, "
        "exp, exp2, expm1, log, log2, log10, log1p, sqrt, rsqrt, reciprocal, square, pow with a "
        "scalar, sin, cos, erf, erfc, floor, ceil, trunc, frac, round, casts, dropout (eval or "
        "p=0), identity/clone",
    ),
    (
        "elementwise (n-ary, broadcasting)",
        "add/sub (with alpha), mul, div (true/floor/trunc), floor_divide, remainder, fmod, "
        "maximum, minimum, pow, hypot, xlogy, comparisons, logical and/or/xor/not, where, "
        "masked_fill, lerp, addcmul, addcdiv, tril/triu; Python scalars and module attributes "
        "as operands",
    ),
    (
        "reductions over any dims",
        "sum, mean, max/amax, min/amin (with indices), prod, argmax, argmin, var, std, "
        "norm/linalg.vector_norm (p=1, 2, inf, fro), logsumexp, dot, global average pooling",
    ),
    ("scans", "cumsum, cumprod (any dim; flips for reverse scans run as views)"),
    (
        "row normalizations",
        "softmax (nn.Softmax2d too), log_softmax, softmin, layer_norm, rms_norm, F.normalize (L1/L2), batch_norm "
        "(training and eval), instance_norm, group_norm, cosine_similarity, pairwise_distance",
    ),
    (
        "losses",
        "mse, l1, smooth_l1, huber, kl_div, cross_entropy, nll, binary_cross_entropy (with "
        "logits), triplet_margin; hinge-style losses as compositions of the ops above",
    ),
    (
        "matmul",
        "matmul/@, mm, bmm, mv, addmm, baddbmm, linear (nn.Linear), transposed and broadcast "
        "batched operands, 1-D operands, `diag(v) @ B`, einsum (any number of operands, as "
        "permuted batched matmuls and sums; an ellipsis, no diagonals); fused epilogue of any "
        "elementwise ops above (bias, activation, scale, residual)",
    ),
    (
        "convolution, pooling",
        "conv2d (stride, padding, dilation, groups) with fused epilogue; a grouped conv with "
        "under 16 output channels per group (depthwise) as a direct conv over all channels at "
        "once (no `tl.dot`; one program per group was 960 programs for MobileNetV2's widest "
        "layer); conv1d (as conv2d over "
        "a (1, L) plane); conv3d; conv_transpose1d/2d/3d (`nn.ConvTranspose1d/2d/3d`: stride, "
        "padding, "
        "output_padding, groups, dilation) as implicit GEMM in gather form — each output pixel "
        "sums the input pixels whose strided scatter lands on it, no zero-inserted copy; "
        "max_pool1d/2d/3d (ceil_mode too) and avg_pool1d/2d/3d (no ceil_mode), global adaptive "
        "pooling in 1-3 D",
    ),
    (
        "attention",
        "F.scaled_dot_product_attention (scale, causal, bool or additive mask), "
        "nn.MultiheadAttention (packed in-projection, batch_first or not; the averaged weights "
        "are not computed) as q @ k^T with the scale and mask fused, a row softmax, @ v",
    ),
    (
        "recurrent layers",
        "nn.LSTM, nn.GRU (stacked, bidirectional, batch_first, given or zero initial state; no "
        "proj_size) as one fused cell kernel per time step: both gate matmuls and the update",
    ),
    (
        "layout (run as torch views in forward)",
        "view, reshape, flatten, unflatten, permute, transpose, t/T, squeeze, unsqueeze, expand, "
        "contiguous, narrow, select, slicing, chunk, split, cat, stack, roll (as narrows and a cat), "
        "repeat/tile (as expand and one copy), pixel (un)shuffle, constant F.pad (as full and cat), "
        "size/shape, ones/zeros/full and `*_like` allocations; a flip only where a reverse scan "
        "cancels it",
    ),
]
