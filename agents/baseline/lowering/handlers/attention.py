"""Attention: F.scaled_dot_product_attention and nn.MultiheadAttention.

Both become `softmax(q @ k^T * scale [+ mask]) @ v`: two batched matmul kernels around a
row softmax kernel, the scale and mask fused into the first matmul's epilogue where the
scheduler can. Head splits and merges are views in `forward` that read the head count
from the module at run time.
"""

from __future__ import annotations

from typing import Any

from agents.baseline.lowering.build import Builder, is_tensor
from agents.baseline.lowering.handlers.elementwise import triangle
from agents.baseline.lowering.ir import PyOp, Unsupported, Value, is_float
from agents.baseline.lowering.registry import Call, ModuleCall, invoke, module, op


def _swap(lw: Builder, x: Value, a: int, b: int) -> Value:
    """`x.transpose(a, b)` as a view (method handlers take their shape from the fx node)."""
    shape = list(x.shape)
    shape[a], shape[b] = shape[b], shape[a]
    return lw.view(x, f"{{0}}.transpose({a}, {b})", tuple(shape))


def _causal(lw: Builder, s: Value) -> Value:
    """Scores with every key after its query set to -inf (torch's is_causal)."""
    return lw.pw("where", triangle(lw, s, 0, lower=True), s, float("-inf"))


def attention(
    lw: Builder, q: Value, k: Value, v: Value, scale: Any, causal: bool, mask: Any = None
) -> Value:
    kt = _swap(lw, k, -2, -1)
    s = lw.pw("mul", invoke(lw, "matmul", [q, kt]), scale)
    if mask is not None:
        if not is_tensor(mask):
            raise Unsupported("attention with a mask that is not a tensor")
        s = (
            lw.pw("where", mask, s, float("-inf"))
            if mask.dtype == "bool"
            else lw.pw("add", s, mask)
        )
    if causal:
        s = _causal(lw, s)
    return invoke(lw, "matmul", [invoke(lw, "softmax", [s], {"dim": -1}), v])


def _inverse_sqrt_last_dim(lw: Builder, x: Value) -> Value:
    return lw.scalar_py("(1.0 / math.sqrt({0}.shape[-1]))", [x], "float32")


@op(
    "scaled_dot_product_attention",
    spec="query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, "
    "enable_gqa=False",
)
def _sdpa(lw: Builder, b: Call) -> Any:
    q, k, v = b.tensor("query"), b.tensor("key"), b.tensor("value")
    if b["dropout_p"]:
        raise Unsupported.missing("scaled_dot_product_attention", "with dropout (random)")
    if b["enable_gqa"] or not all(is_float(t.dtype) for t in (q, k, v)):
        raise Unsupported("scaled_dot_product_attention with grouped heads or integer inputs")
    scale = b["scale"] if b["scale"] is not None else _inverse_sqrt_last_dim(lw, q)
    return attention(lw, q, k, v, scale, bool(b["is_causal"]), b["attn_mask"])


def _heads(lw: Builder, x: Value, mod: str, heads: int) -> Value:
    """(L, N, E) -> (N * heads, L, E / heads), the head count read from the module."""
    L, N, E = x.shape
    fmt = f"{{0}}.reshape({{0}}.shape[0], {{0}}.shape[1] * {mod}.num_heads, -1).transpose(0, 1)"
    return lw.view(x, fmt, (N * heads, L, E // heads))


@module("MultiheadAttention")
def _m_mha(lw: Builder, m: ModuleCall) -> Any:
    if len(m.args) != 3 or not all(map(is_tensor, m.args)):
        raise Unsupported("nn.MultiheadAttention called with other than (query, key, value)")
    if m.attr("dropout", 0.0) and m.training:
        raise Unsupported.missing("nn.MultiheadAttention", "with dropout in training mode")
    w, bias = m.param("in_proj_weight"), m.param("in_proj_bias")
    w_out, b_out = m.param("out_proj.weight"), m.param("out_proj.bias")
    if w is None or w_out is None or m.param("bias_k") is not None or m.attr("add_zero_attn"):
        raise Unsupported("nn.MultiheadAttention with separate q/k/v weights or extra biases")
    heads = int(m.attrs["num_heads"])
    mod = f"self.get_submodule({m.path!r})"
    q, k, v = m.args
    if m.attr("batch_first"):
        q, k, v = (_swap(lw, t, 0, 1) for t in (q, k, v))
    E = w.shape[1]
    parts = []
    for i, x in enumerate((q, k, v)):
        wi = lw.view(w, f"{{0}}.chunk(3)[{i}]", (E, E))
        bi = lw.view(bias, f"{{0}}.chunk(3)[{i}]", (E,)) if bias is not None else None
        parts.append(_heads(lw, invoke(lw, "linear", [x, wi, bi]), mod, heads))
    pq, pk, pv = parts
    ctx = attention(lw, pq, pk, pv, _inverse_sqrt_last_dim(lw, pq), False)
    L, N = q.shape[0], q.shape[1]
    merged = lw.view(
        ctx, "{0}.transpose(0, 1).reshape({1}.shape[0], {1}.shape[1], -1)", (L, N, E), q
    )
    out = invoke(lw, "linear", [merged, w_out, b_out])
    if m.attr("batch_first"):
        out = _swap(lw, out, 0, 1)
    # the averaged attention weights are the second result; nothing here computes them
    weights = PyOp(shape=(), dtype="none", fmt="None", refs=[], tensor=False)
    return [out, weights]
