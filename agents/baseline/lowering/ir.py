"""The baseline Coder's intermediate representation: a small dataflow graph of tensor values.

The reference's fx graph is lowered (agents.baseline.lowering.lower) into these primitives:

* leaves: `Input` (a forward argument), `Param` (a parameter or buffer of the module),
  `PyOp` (Python run in `forward` itself: sizes, shape arithmetic, views, reshapes,
  allocations -- never arithmetic on tensor elements);
* compute: `Pointwise` (one elementwise op with broadcasting), `Reduce` (sum/mean/max/
  min/prod/argmax/argmin over some axes), `Scan` (cumsum/cumprod along one axis),
  `Matmul` (batched, broadcasting), `Conv2d`, `Pool2d`.

Every value carries the shape and dtype it had when the reference ran at its check size;
shapes decide structure only (ranks, which axes are reduced) -- generated code reads the
real shapes at run time, so one candidate serves every size.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

_ids = itertools.count(1)

FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


def is_float(dtype: str) -> bool:
    return dtype in FLOAT_DTYPES


class UnsupportedKind(StrEnum):
    """Why the baseline Coder has no kernel for a reference."""

    OP = "op"  # an op or module type it has no handler for
    USAGE = "usage"  # a handled op used in a way it cannot lower (arguments, dtypes, modes)
    INTERNAL = "internal"  # its lowering disagrees with the reference: a baseline bug


class Unsupported(Exception):
    """The reference uses something the baseline Coder cannot write a kernel for."""

    def __init__(
        self, message: str, kind: UnsupportedKind = UnsupportedKind.USAGE, op: str | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.op = op

    @classmethod
    def missing(cls, op: str, detail: str = "") -> Unsupported:
        """No handler for `op` (`detail` narrows it: "in training mode (random)")."""
        text = f"unsupported op {op}" + (f" {detail}" if detail else "")
        return cls(text, UnsupportedKind.OP, op)

    @classmethod
    def internal(cls, message: str) -> Unsupported:
        return cls(f"internal: {message}", UnsupportedKind.INTERNAL)


@dataclass(frozen=True)
class Const:
    """A literal scalar (inlined into kernels)."""

    value: float | int | bool


@dataclass(eq=False)
class Value:
    shape: tuple[int, ...]
    dtype: str
    id: int = field(default_factory=lambda: next(_ids), init=False)

    @property
    def rank(self) -> int:
        return len(self.shape)

    def operands(self) -> list[Value]:
        return []

    def is_tensor(self) -> bool:
        return True


@dataclass(eq=False)
class Input(Value):
    index: int = 0
    name: str = "x"


@dataclass(eq=False)
class Param(Value):
    path: str = ""


@dataclass(eq=False)
class PyOp(Value):
    """Python evaluated in forward: `fmt.format(*names of refs)`; a tensor view or a scalar."""

    fmt: str = ""
    refs: list[Value] = field(default_factory=list)
    tensor: bool = True
    helpers: frozenset[str] = frozenset()  # functions of the candidate module `fmt` calls

    def operands(self) -> list[Value]:
        return list(self.refs)

    def is_tensor(self) -> bool:
        return self.tensor


Arg = Value | Const


@dataclass(eq=False)
class Pointwise(Value):
    op: str = ""
    args: list[Arg] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)

    def operands(self) -> list[Value]:
        return [a for a in self.args if isinstance(a, Value)]


@dataclass(eq=False)
class Reduce(Value):
    op: str = "sum"  # sum | mean | max | min | prod | argmax | argmin
    src: Value | None = None
    axes: tuple[int, ...] = ()
    keepdim: bool = False
    correction: float = 0.0  # mean only: divide by (count - correction), e.g. 1 for var

    def operands(self) -> list[Value]:
        return [self.src] if self.src is not None else []


@dataclass(eq=False)
class Scan(Value):
    op: str = "cumsum"  # cumsum | cumprod
    src: Value | None = None
    axis: int = 0

    def operands(self) -> list[Value]:
        return [self.src] if self.src is not None else []


@dataclass(eq=False)
class Matmul(Value):
    a: Value | None = None  # (..., M, K)
    b: Value | None = None  # (..., K, N)

    def operands(self) -> list[Value]:
        return [v for v in (self.a, self.b) if v is not None]


@dataclass(eq=False)
class Conv2d(Value):
    """A 2-D or 3-D convolution (the window tuples have one entry per spatial dim)."""

    x: Value | None = None  # (N, C, H, W) or (N, C, D, H, W)
    w: Value | None = None  # (OC, C // groups, *K); transposed: (C, OC // groups, *K)
    stride: tuple[int, ...] = (1, 1)
    padding: tuple[int, ...] = (0, 0)
    dilation: tuple[int, ...] = (1, 1)
    groups: int = 1
    transposed: bool = False  # conv_transpose (the gradient of conv w.r.t. its input)
    output_padding: tuple[int, ...] = (0, 0)  # transposed only: extra planes at the end

    def operands(self) -> list[Value]:
        return [v for v in (self.x, self.w) if v is not None]


@dataclass(eq=False)
class Pool2d(Value):
    """Max or average pooling over the 2 or 3 trailing (spatial) dims of an N, C, ... tensor."""

    op: str = "max"  # max | avg
    x: Value | None = None
    kernel: tuple[int, ...] = (2, 2)  # one entry per spatial dim
    stride: tuple[int, ...] = (2, 2)
    padding: tuple[int, ...] = (0, 0)
    dilation: tuple[int, ...] = (1, 1)
    count_include_pad: bool = True
    divisor: int | None = None
    ceil_mode: bool = False  # max pooling only: a last, partial window

    def operands(self) -> list[Value]:
        return [self.x] if self.x is not None else []


COMPUTE = (Pointwise, Reduce, Scan, Matmul, Conv2d, Pool2d)


@dataclass
class Graph:
    inputs: list[Input]
    values: list[Value]  # every value in a valid evaluation order
    outputs: list[Value]
    output_is_tuple: bool = False
    input_names: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- shape rules


def broadcast(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    rank = max((len(s) for s in shapes), default=0)
    out: list[int] = []
    for i in range(rank):
        dims = {s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0}
        dims.discard(1)
        if len(dims) > 1:
            raise Unsupported(f"shapes {list(shapes)} do not broadcast")
        out.append(dims.pop() if dims else 1)
    return tuple(out)


def norm_axes(axes: Any, rank: int) -> tuple[int, ...]:
    """Axes as sorted non-negative ints; None or () means all."""
    if axes is None or (isinstance(axes, tuple | list) and not axes):
        return tuple(range(rank))
    if isinstance(axes, int):
        axes = (axes,)
    out = sorted({(a + rank) % rank if rank else 0 for a in axes})
    return tuple(out)


def reduced_shape(shape: tuple[int, ...], axes: tuple[int, ...], keepdim: bool) -> tuple[int, ...]:
    if keepdim:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def matmul_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    if a[-1] != b[-2]:
        raise Unsupported(f"matmul of {list(a)} and {list(b)}: inner sizes differ")
    return (*broadcast(a[:-2], b[:-2]), a[-2], b[-1])


def walk_order(outputs: list[Value]) -> list[Value]:
    """Every value reachable from `outputs`, operands first."""
    seen: set[int] = set()
    order: list[Value] = []
    stack: list[tuple[Value, bool]] = [(v, False) for v in reversed(outputs)]
    while stack:
        v, done = stack.pop()
        if done:
            if v.id not in seen:
                seen.add(v.id)
                order.append(v)
            continue
        if v.id in seen:
            continue
        stack.append((v, True))
        stack.extend((o, False) for o in reversed(v.operands()) if o.id not in seen)
    return order
