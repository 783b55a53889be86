"""nn.LSTM and nn.GRU: the whole layer stack as one call of the candidate's `_kw_rnn`.

The module call becomes a `PyOp` (a tuple, like the module's own result) that runs the
recurrence in `forward`: a fused Triton cell kernel per step (agents.baseline.lowering.kernels.
recurrent). Its `output`, `h_n` and `c_n` are fresh tensors those kernels wrote.
"""

from __future__ import annotations

from typing import Any

from agents.baseline.lowering.build import Builder, is_tensor, render
from agents.baseline.lowering.ir import PyOp, Unsupported, Value
from agents.baseline.lowering.registry import ModuleCall, module

_HELPERS = frozenset({"_kw_rnn", "_kw_rnn_cell", "_kw_tanh"})


@module("LSTM", "GRU")
def _m_rnn(lw: Builder, m: ModuleCall) -> Any:
    lstm = m.type == "LSTM"
    if m.attr("proj_size", 0):
        raise Unsupported("nn.LSTM with proj_size")
    if m.attr("dropout", 0.0) and m.training and m.attr("num_layers", 1) > 1:
        raise Unsupported.missing(f"nn.{m.type}", "with dropout in training mode (random)")
    if not m.args or len(m.args) > 2 or not is_tensor(m.args[0]):
        raise Unsupported(f"nn.{m.type} called with {len(m.args)} arguments")
    x = m.args[0]
    if x.rank != 3:
        raise Unsupported(f"nn.{m.type} of a {x.rank}-D input (batched only)")
    if x.dtype not in ("float32", "float16", "bfloat16"):
        raise Unsupported(f"nn.{m.type} in {x.dtype}")
    refs: list[Value] = []
    x_s = render(x, refs)
    hx: Any = m.args[1] if len(m.args) == 2 else None
    if hx is None:
        hx_s = "None"
    elif lstm and isinstance(hx, list) and len(hx) == 2 and all(map(is_tensor, hx)):
        hx_s = f"({render(hx[0], refs)}, {render(hx[1], refs)})"
    elif not lstm and is_tensor(hx):
        hx_s = render(hx, refs)
    else:
        raise Unsupported(f"nn.{m.type} with an initial state of type {type(hx).__name__}")
    fmt = f"_kw_rnn(self.get_submodule({m.path!r}), {x_s}, {hx_s}, {lstm})"
    return PyOp(shape=(), dtype="tuple", fmt=fmt, refs=refs, tensor=False, helpers=_HELPERS)
