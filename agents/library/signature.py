"""A problem's signature: the normalised op graph of its reference forward.

The tracer (`agents.library.trace_child`) records ATen ops, so `F.relu(x)`, `torch.relu(x)`,
`x.relu()` and `nn.ReLU()(x)` are all `relu` already, and module names and nesting never
appear. Here the trace is made canonical: in-place and private spellings fold into one
name (`relu_` -> `relu`, `_softmax` -> `softmax`, `native_group_norm` -> `group_norm`),
`addmm` splits into `mm` + `add` (so `nn.Linear` equals `x @ w.T + b`), `hardtanh` is a
`clamp`, pure data-movement ops (`view`, `t`, `expand`, casts ...) pass their source
through, tensors made inside the forward are constants, and ops that no output depends on
are dropped. A node keeps its op, its output's rank and dtype (the shape class: sizes are
not part of it, so one kernel serves every size) and where its tensor arguments come from.

Two signatures with the same `digest` compute the same graph. Nearer matches share fused
patterns: chains of 2-3 ops along data edges (`conv2d>relu>add`), see `patterns`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, Field

# Ops that only move or re-label data: their output is their first tensor argument.
PASS_THROUGH = frozenset(
    {
        "view", "_unsafe_view", "reshape", "_reshape_alias", "expand", "expand_as", "t",
        "transpose", "permute", "unsqueeze", "squeeze", "alias", "detach", "contiguous",
        "clone", "lift_fresh", "lift_fresh_copy", "as_strided", "view_as", "flatten",
        "unflatten", "_to_copy", "to", "type_as", "numpy_T", "dropout",
    }
)  # fmt: skip
# Ops that make a tensor from nothing the model was given: constants.
FACTORIES = frozenset(
    {
        "empty", "empty_like", "empty_strided", "zeros", "zeros_like", "ones", "ones_like",
        "full", "full_like", "scalar_tensor", "arange", "randn", "rand", "randn_like",
        "rand_like", "new_zeros", "new_ones", "new_empty", "new_full", "tensor", "eye",
    }
)  # fmt: skip
# One name per computation.
RENAMES = {
    "bmm": "mm", "matmul": "mm", "mv": "mm", "dot": "mm", "linear": "mm",
    "hardtanh": "clamp", "clamp_min": "clamp", "clamp_max": "clamp", "clip": "clamp",
    "rsub": "sub", "subtract": "sub", "true_divide": "div", "divide": "div",
    "multiply": "mul", "amax": "max", "amin": "min", "softmax": "softmax",
    "safe_softmax": "softmax", "batch_norm_legit": "batch_norm",
    "batch_norm_legit_no_training": "batch_norm", "batch_norm_legit_functional": "batch_norm",
    "cudnn_batch_norm": "batch_norm", "batch_norm_with_update": "batch_norm",
    "max_pool1d_with_indices": "max_pool1d", "max_pool2d_with_indices": "max_pool2d",
    "max_pool3d_with_indices": "max_pool3d", "adaptive_max_pool2d": "adaptive_max_pool2d",
    "scaled_dot_product_flash_attention_for_cpu": "attention",
    "scaled_dot_product_efficient_attention": "attention",
    "scaled_dot_product_flash_attention": "attention",
    "scaled_dot_product_attention": "attention",
}  # fmt: skip
# Ops with a bias folded in: (main op, then add of the first tensor argument).
FUSED_BIAS = frozenset({"addmm", "baddbmm", "addbmm", "addmv"})
PATTERN_LENGTHS = (2, 3)


class OpNode(BaseModel):
    op: str
    rank: int  # the output's rank (-1: no tensor output)
    dtype: str
    # where each tensor argument comes from: "x<k>" model input k, "p" a parameter or
    # buffer, "c" a constant, "n<i>" node i's (first) output, "n<i>.<j>" its j-th
    args: list[str] = Field(default_factory=list)

    def token(self) -> str:
        return f"{self.op}:{self.rank}:{self.dtype}"


class Signature(BaseModel):
    nodes: list[OpNode] = Field(default_factory=list)
    inputs: list[str] = Field(default_factory=list)  # "<rank>:<dtype>" per tensor input
    outputs: list[str] = Field(default_factory=list)  # refs, as in OpNode.args

    @property
    def digest(self) -> str:
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def ops(self) -> list[str]:
        return [n.op for n in self.nodes]

    def text(self) -> str:
        """One line, e.g. `conv2d > relu > add`, for listings and prompts."""
        return " > ".join(self.ops()) or "(no ops)"

    def patterns(self, length: int) -> set[str]:
        """Every chain of `length` ops along data edges, e.g. `mm>add>relu` for length 3."""
        chains: list[list[int]] = [[i] for i in range(len(self.nodes))]
        for _ in range(length - 1):
            chains = [[p, *c] for c in chains for p in self._producers(c[0])]
        return {">".join(self.nodes[i].op for i in c) for c in chains}

    def _producers(self, index: int) -> list[int]:
        found = [_node_index(a) for a in self.nodes[index].args]
        return sorted({i for i in found if i is not None})


def _node_index(ref: str) -> int | None:
    if not ref.startswith("n"):
        return None
    return int(ref[1:].split(".", maxsplit=1)[0])


def canonical_name(raw: str) -> str:
    name = raw
    if name.endswith("_") and not name.endswith("__"):
        name = name[:-1]  # in-place: relu_ -> relu
    name = name.lstrip("_").removeprefix("native_")
    return RENAMES.get(name, name)


class _Builder:
    """Turns raw trace records into canonical nodes (see the module docstring)."""

    def __init__(self) -> None:
        self.nodes: list[OpNode] = []
        self.remap: dict[str, str] = {}  # raw ref -> canonical ref

    def ref(self, raw: str) -> str:
        if raw.startswith("n"):
            return self.remap.get(raw, "c")
        return raw

    def add(self, op: str, rank: int, dtype: str, args: list[str]) -> str:
        self.nodes.append(OpNode(op=op, rank=rank, dtype=dtype, args=args))
        return f"n{len(self.nodes) - 1}"

    def record(self, index: int, rec: dict[str, Any]) -> None:
        raw_op = str(rec.get("op", "?"))
        outs = rec.get("outs") or [[-1, "none"]]
        args = [self.ref(str(a)) for a in rec.get("args", []) if a != "s"]
        name = canonical_name(raw_op)
        rank, dtype = int(outs[0][0]), str(outs[0][1])
        if name in FACTORIES or raw_op in FACTORIES:
            self._alias(index, outs, "c")
        elif name in PASS_THROUGH or raw_op in PASS_THROUGH:
            self._alias(index, outs, args[0] if args else "c")
        elif raw_op == "copy_" and len(args) > 1:
            self._alias(index, outs, args[1])
        elif raw_op.rstrip("_") in FUSED_BIAS and len(args) >= 3:
            main = self.add("mm", rank, dtype, args[1:3])
            self._alias(index, outs, self.add("add", rank, dtype, [main, args[0]]))
        elif name == "convolution":
            dims = max(rank - 2, 1)
            kind = "conv_transpose" if rec.get("transposed") else "conv"
            self._alias(index, outs, self.add(f"{kind}{dims}d", rank, dtype, args))
        else:
            first = self.add(name, rank, dtype, args)
            self._alias(index, outs, first)

    def _alias(self, index: int, outs: list[Any], target: str) -> None:
        self.remap[f"n{index}"] = target
        for k in range(1, len(outs)):
            self.remap[f"n{index}.{k}"] = f"{target}.{k}" if target.startswith("n") else target


def _live(nodes: list[OpNode], outputs: list[str]) -> list[OpNode] | None:
    """The nodes the outputs depend on, renumbered; None if none is left."""
    needed: set[int] = set()
    stack = [i for i in (_node_index(r) for r in outputs) if i is not None]
    while stack:
        i = stack.pop()
        if i not in needed:
            needed.add(i)
            stack += [j for j in (_node_index(a) for a in nodes[i].args) if j is not None]
    return [nodes[i] for i in sorted(needed)] if needed else None


def _renumber(ref: str, new: dict[int, int]) -> str:
    i = _node_index(ref)
    if i is None:
        return ref
    rest = ref[1:].partition(".")[2]
    return f"n{new[i]}" + (f".{rest}" if rest else "")


def from_trace(trace: dict[str, Any]) -> Signature:
    """The canonical signature of one raw trace (`trace_child`'s JSON line)."""
    builder = _Builder()
    for index, rec in enumerate(trace.get("ops", [])):
        builder.record(index, rec)
    outputs = [builder.ref(str(r)) for r in trace.get("outputs", [])]
    nodes = builder.nodes
    keep = _live(nodes, outputs) or []
    new = {id(n): k for k, n in enumerate(keep)}
    index_map = {i: new[id(n)] for i, n in enumerate(nodes) if id(n) in new}
    canonical = [
        n.model_copy(update={"args": [_renumber(a, index_map) for a in n.args]}) for n in keep
    ]
    return Signature(
        nodes=canonical,
        inputs=[f"{r}:{d}" for r, d in trace.get("inputs", [])],
        outputs=[_renumber(r, index_map) for r in outputs],
    )
