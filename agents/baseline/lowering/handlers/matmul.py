"""Matrix products: matmul, bmm, linear, addmm, outer, diag."""

from __future__ import annotations

from typing import Any

from agents.baseline.lowering.build import Builder, is_tensor, promote
from agents.baseline.lowering.ir import (
    Matmul,
    PyOp,
    Unsupported,
    Value,
    is_float,
    matmul_shape,
)
from agents.baseline.lowering.registry import Call, op

# ---------------------------------------------------------------- matmul family


def _matmul(lw: Builder, a: Value, b: Value) -> Value:
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
def _diag(lw: Builder, b: Call) -> Any:
    x = b.tensor()
    if x.rank != 1 or b["diagonal"] != 0:
        raise Unsupported.missing("diag", "of a matrix")
    out = lw.view(x, "torch.diag({0})", (x.shape[0], x.shape[0]))
    lw.diagonals[out.id] = x
    return out


@op("matmul", "mm", "bmm", "mv", spec="input, other")
def _mm(lw: Builder, b: Call) -> Any:
    return _matmul(lw, b["input"], b["other"])


@op("linear", spec="input, weight, bias=None")
def _linear(lw: Builder, b: Call) -> Any:
    w = b["weight"]
    wt = lw.view(w, "{0}.t()", (w.shape[1], w.shape[0])) if w.rank == 2 else w
    y = _matmul(lw, b["input"], wt)
    if is_tensor(b["bias"]):
        y = lw.pw("add", y, b["bias"])
    return y


@op("addmm", "baddbmm", "addmv", spec="input, mat1, mat2, *, beta=1, alpha=1")
def _addmm(lw: Builder, b: Call) -> Any:
    y = _matmul(lw, b["mat1"], b["mat2"])
    if b["alpha"] != 1:
        y = lw.pw("mul", y, b["alpha"])
    if b["beta"] == 0:
        return y
    inp = b["input"] if b["beta"] == 1 else lw.pw("mul", b["input"], b["beta"])
    return lw.pw("add", y, inp)


@op("outer", "ger", spec="input, vec2")
def _outer(lw: Builder, b: Call) -> Any:
    x, y = b["input"], b["vec2"]
    xc = lw.view(x, "{0}.unsqueeze(1)", (x.shape[0], 1))
    yr = lw.view(y, "{0}.unsqueeze(0)", (1, y.shape[0]))
    return lw.pw("mul", xc, yr)
