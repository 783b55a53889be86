"""Write one Triton kernel (and the forward code that launches it) per fusion group.

Four kernel shapes:

* pointwise: a flat index over the group's space, BLOCK elements per program; operands of
  the same shape are read contiguously, broadcast operands through per-dim coordinates
  and strides (0 along broadcast dims); pooling windows are unrolled loops of loads.
* row: BLOCK_O rows per program (a row = one index of the non-reduced dims), the reduced
  dims walked in chunks of BLOCK_R. Reductions that depend on earlier ones (the variance
  after the mean, the sum of exp after the max) take one pass each; a last pass computes
  and stores the elementwise results (and scans, with a running carry). Nothing holds a
  whole row, so no row length makes the kernel spill.
* matmul: tiled (BLOCK_M x BLOCK_N, stepping BLOCK_K) with grouped program order, batch
  on grid axis 1, fp32 accumulation (`input_precision="ieee"` for fp32 operands), and
  the group's elementwise ops applied to the tile before the store.
* conv: implicit GEMM (NCHW), the same tiling over (N*OH*OW) x (OC / groups), groups on
  grid axis 1, with the same fused epilogue.

Every value is computed in fp32 (fp64 if the reference computes in fp64) and cast to its
dtype only when stored.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from agents.baseline.ir import (
    Const,
    Conv2d,
    Matmul,
    Pointwise,
    Pool2d,
    PyOp,
    Reduce,
    Scan,
    Unsupported,
    Value,
    broadcast,
    is_float,
    reduced_shape,
)
from agents.baseline.ops import POINTWISE
from agents.baseline.schedule import FULL, RED_KEEP, RED_NOKEEP, Group, Schedule

TL_DTYPES = {
    "float16": "tl.float16", "bfloat16": "tl.bfloat16", "float32": "tl.float32",
    "float64": "tl.float64", "int8": "tl.int8", "int16": "tl.int16", "int32": "tl.int32",
    "int64": "tl.int64", "uint8": "tl.uint8", "bool": "tl.int1",
}  # fmt: skip


def literal(value: float | int | bool) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isinf(value):
            return 'float("inf")' if value > 0 else 'float("-inf")'
        if math.isnan(value):
            return 'float("nan")'
        text = repr(value)
    else:
        text = str(value)
    return f"({text})" if text.startswith("-") else text


@dataclass
class Launch:
    """What forward needs to run one kernel: python lines before the launch, and the launch."""

    kernel_name: str
    kernel_source: str
    lines: list[str]
    helpers: set[str] = field(default_factory=set)


class Code:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 1

    def __call__(self, line: str) -> None:
        self.lines.append("    " * self.depth + line)

    @contextmanager
    def block(self, header: str) -> Iterator[None]:
        self(header)
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1


class Scope:
    """Names of values already computed at one point of a kernel."""

    def __init__(self, parent: Scope | None = None, tag: str = "") -> None:
        self.parent = parent
        self.tag = tag
        self.names: dict[Any, str] = {}

    def get(self, key: Any) -> str | None:
        scope: Scope | None = self
        while scope is not None:
            if key in scope.names:
                return scope.names[key]
            scope = scope.parent
        return None


class KernelWriter:
    """Shared machinery: arguments, operand loads, elementwise expressions, stores."""

    kind = "pointwise"

    def __init__(self, sched: Schedule, group: Group, params: dict[str, Any], names: Any) -> None:
        self.sched = sched
        self.g = group
        self.params = params
        self.pyname = names  # Value -> python expression in forward
        self.name = group.name
        self.code = Code()
        self.args: list[str] = []  # kernel parameter names, in order
        self.call: list[str] = []  # the matching forward expressions
        self.constexprs: list[tuple[str, str]] = []
        self.helpers: set[str] = set()
        self.py: list[str] = []  # forward lines before the launch
        self.operands = sched.operands_of(group)
        self.scalars = sched.scalars_of(group)
        self.stored = sched.stored_values(group)
        self.op_index = {v.id: i for i, v in enumerate(self.operands)}
        self.out_index = {v.id: i for i, v in enumerate(self.stored)}
        dtypes = [v.dtype for v in [*group.members, *self.operands]]
        self.ct = "tl.float64" if "float64" in dtypes else "tl.float32"
        self.tmp = 0

    # ------------------------------------------------------------ arguments
    def arg(self, name: str, expr: str) -> str:
        if name not in self.args:
            self.args.append(name)
            self.call.append(expr)
        return name

    def fresh(self, stem: str) -> str:
        self.tmp += 1
        return f"{stem}{self.tmp}"

    def scalar(self, v: Value) -> str:
        i = next(k for k, s in enumerate(self.scalars) if s.id == v.id)
        return self.arg(f"sc{i}", self.pyname(v))

    def operand_ptr(self, v: Value) -> str:
        i = self.op_index[v.id]
        return self.arg(f"in{i}", self.pyname(v))

    def out_ptr(self, v: Value) -> str:
        j = self.out_index[v.id]
        return self.arg(f"out{j}", f"out{j}_{self.name}")

    # ------------------------------------------------------------ values
    def load_cast(self, raw: str, dtype: str) -> str:
        if is_float(dtype) and TL_DTYPES[dtype] != self.ct:
            return f"{raw}.to({self.ct})"
        return raw

    def other(self, dtype: str) -> str:
        return "0.0" if is_float(dtype) else "0"

    def expr_arg(self, a: Any, scope: Scope, want_float: bool) -> str:
        if isinstance(a, Const):
            return literal(a.value)
        if isinstance(a, Value) and not a.is_tensor():
            return self.scalar(a)
        name = self.value(a, scope)
        if want_float and not is_float(a.dtype):
            return f"{name}.to({self.ct})"
        return name

    def pointwise(self, v: Pointwise, scope: Scope) -> str:
        spec = POINTWISE[v.op]
        if v.op == "coord":
            return self.coord(self.space_dim(v, int(v.attrs["axis"])), scope)
        tensor_args = [a for a in v.args if isinstance(a, Value) and a.is_tensor()]
        any_float = any(is_float(a.dtype) for a in tensor_args) or is_float(v.dtype)
        parts: dict[str, str] = {}
        for name, a in zip(spec.args, v.args, strict=True):
            want = any_float and not (v.op == "where" and name == "cond")
            parts[name] = self.expr_arg(a, scope, want)
        if v.op == "cast":
            x = parts["x"]
            if v.dtype in ("float16", "bfloat16"):
                rnd = ', fp_downcast_rounding="rtne"' if v.dtype == "bfloat16" else ""
                text = f"{x}.to({TL_DTYPES[v.dtype]}{rnd}).to({self.ct})"
            elif is_float(v.dtype):
                text = f"{x}.to({self.ct})"
            elif v.dtype == "bool":
                text = f"({x} != 0)"
            else:
                text = f"{x}.to({TL_DTYPES[v.dtype]})"
        else:
            text = spec.template.format(**parts)
        for helper in ("_kw_tanh", "_kw_softplus", "_kw_trunc", "_kw_round"):
            if helper in text:
                self.helpers.add(helper)
        name = self.fresh("t")
        self.code(f"{name} = {text}")
        return name

    def space_dim(self, v: Value, axis: int) -> int:
        """The dim of the group's space that `axis` of value `v` lines up with."""
        return len(self.g.space) - v.rank + axis

    def value(self, v: Value, scope: Scope) -> str:
        found = scope.get(v.id)
        if found is not None:
            return found
        if not self.g.has(v):
            name = self.load(v, scope)
        elif isinstance(v, Pointwise):
            name = self.pointwise(v, scope)
        else:
            name = self.special(v, scope)
        scope.names[v.id] = name
        return name

    # ------------------------------------------------------------ hooks
    def load(self, v: Value, scope: Scope) -> str:
        raise NotImplementedError

    def special(self, v: Value, scope: Scope) -> str:
        raise Unsupported(f"internal: {type(v).__name__} in a {self.kind} kernel")

    def coord(self, dim: int, scope: Scope) -> str:
        raise NotImplementedError

    # ------------------------------------------------------------ strides
    def varying_dims(self, v: Value, space: tuple[int, ...]) -> list[int]:
        """Dims of `space` along which operand `v` (broadcast into it) changes."""
        dims = []
        for d in range(len(space)):
            ad = d - (len(space) - v.rank)
            if ad < 0:
                continue
            if v.shape[ad] == 1 and space[d] != 1:
                continue
            dims.append(d)
        return dims

    def stride_args(self, v: Value, role: str, space_expr: str, dims: list[int]) -> list[str]:
        i = self.op_index[v.id]
        var = f"st_{role}{i}_{self.name}"
        self.py.append(f"{var} = _kw_strides({self.pyname(v)}, {space_expr})")
        return [self.arg(f"{role}{i}_s{d}", f"{var}[{d}]") for d in dims]

    def store_value(self, v: Value, name: str) -> str:
        rnd = ', fp_downcast_rounding="rtne"' if v.dtype == "bfloat16" else ""
        if v.dtype == "bool":
            return f"({name} != 0).to(tl.int1)"
        return f"{name}.to({TL_DTYPES.get(v.dtype, 'tl.float32')}{rnd})"

    # ------------------------------------------------------------ assembly
    def kernel_source(self) -> str:
        params = [*self.args, *(f"{c}: tl.constexpr" for c, _ in self.constexprs)]
        head = f"@triton.jit\ndef {self.name}(\n" + "".join(f"    {p},\n" for p in params) + "):"
        return head + "\n" + "\n".join(self.code.lines) + "\n"

    def launch_line(self, grid: str, meta: dict[str, Any]) -> str:
        call_args = [*self.call, *(f"{c}={e}" for c, e in self.constexprs)]
        call_args += [f"{k}={v}" for k, v in meta.items()]
        return f"{self.name}[{grid}](" + ", ".join(call_args) + ")"

    def first_device(self) -> str:
        tensors = [self.pyname(v) for v in self.operands]
        return f"{tensors[0]}.device" if tensors else "None"

    def alloc(self, v: Value, shape_expr: str) -> str:
        j = self.out_index[v.id]
        name = f"out{j}_{self.name}"
        self.py.append(
            f"{name} = torch.empty({shape_expr}, device={self.first_device()}, "
            f"dtype=torch.{v.dtype})"
        )
        return name


# ================================================================ pointwise


class PointwiseWriter(KernelWriter):
    kind = "pointwise"

    def build(self) -> Launch:
        g = self.g
        rank = len(g.space)
        pools = [m for m in g.members if isinstance(m, Pool2d)]
        full_ops = [o for o in self.operands if self.used_full(o)]
        shapes = [f"{self.pyname(o)}.shape" for o in full_ops]
        for p in pools:
            shapes.append(self.pool_shape(p))
        if not shapes:
            raise Unsupported("internal: an elementwise kernel without tensor operands")
        S = f"S_{self.name}"
        self.py.append(f"{S} = torch.broadcast_shapes({', '.join(shapes)})")
        self.space_expr = S
        for o in full_ops:
            if o.shape == g.space:
                self.py.append(f"{self.pyname(o)}_c_{self.name} = {self.pyname(o)}.contiguous()")
        for v in self.stored:
            self.alloc(v, S)
        n = self.arg("n_elements", f"out0_{self.name}.numel()")
        block = int(self.params["BLOCK"])
        self.constexprs.append(("BLOCK", str(block)))
        c = self.code
        c("offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)")
        c(f"mask = offs < {n}")
        self.rank = rank
        scope = Scope()
        for v in self.stored:
            name = self.value(v, scope)
            c(f"tl.store({self.out_ptr(v)} + offs, {self.store_value(v, name)}, mask=mask)")
        grid = f"(triton.cdiv(out0_{self.name}.numel(), {block}),)"
        self.py.append(self.launch_line(grid, {"num_warps": int(self.params["num_warps"])}))
        return Launch(self.name, self.kernel_source(), self.py, self.helpers)

    def used_full(self, o: Value) -> bool:
        return any(o in m.operands() and not isinstance(m, Pool2d) for m in self.g.members)

    def pool_shape(self, p: Pool2d) -> str:
        assert p.x is not None
        x = self.pyname(p.x)
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = p.kernel, p.stride, p.padding, p.dilation
        oh = f"({x}.shape[2] + {2 * ph} - {dh * (kh - 1)} - 1) // {sh} + 1"
        ow = f"({x}.shape[3] + {2 * pw} - {dw * (kw - 1)} - 1) // {sw} + 1"
        return f"({x}.shape[0], {x}.shape[1], {oh}, {ow})"

    def coord(self, dim: int, scope: Scope) -> str:
        key = ("coord", dim)
        found = scope.get(key)
        if found is not None:
            return found
        size = self.arg(f"size{dim}", f"{self.space_expr}[{dim}]")
        name = f"c{dim}"
        if dim == self.rank - 1:
            self.code(f"{name} = offs % {size}")
        else:
            pitch = self.arg(f"pitch{dim}", f"math.prod({self.space_expr}[{dim + 1}:])")
            self.code(f"{name} = (offs // {pitch})" + (f" % {size}" if dim else ""))
        scope.names[key] = name
        return name

    def load(self, v: Value, scope: Scope) -> str:
        ptr = self.operand_ptr(v)
        if v.shape == self.g.space:
            self.call[self.args.index(ptr)] = f"{self.pyname(v)}_c_{self.name}"
            offset = "offs"
        else:
            dims = self.varying_dims(v, self.g.space)
            strides = self.stride_args(v, "in", self.space_expr, dims)
            terms = [f"{self.coord(d, scope)} * {s}" for d, s in zip(dims, strides, strict=True)]
            offset = " + ".join(terms) if terms else "offs * 0"
        name = self.fresh("x")
        raw = f"tl.load({ptr} + {offset}, mask=mask, other={self.other(v.dtype)})"
        self.code(f"{name} = {self.load_cast(raw, v.dtype)}")
        return name

    def special(self, v: Value, scope: Scope) -> str:
        if not isinstance(v, Pool2d) or v.x is None:
            return super().special(v, scope)
        x = v.x
        ptr = self.operand_ptr(x)
        i = self.op_index[x.id]
        xs = [self.arg(f"win{i}_s{d}", f"{self.pyname(x)}.stride({d})") for d in range(4)]
        h = self.arg(f"win{i}_h", f"{self.pyname(x)}.shape[2]")
        w = self.arg(f"win{i}_w", f"{self.pyname(x)}.shape[3]")
        c0, c1, c2, c3 = (self.coord(d, scope) for d in range(4))
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = v.kernel, v.stride, v.padding, v.dilation
        acc, cnt = self.fresh("acc"), self.fresh("cnt")
        c = self.code
        ninf = 'float("-inf")'
        if v.op == "max":
            c(f"{acc} = tl.full([BLOCK], {ninf}, {self.ct})")
        else:
            c(f"{acc} = tl.zeros([BLOCK], {self.ct})")
            c(f"{cnt} = tl.zeros([BLOCK], {self.ct})")
        with (
            c.block(f"for kh in tl.static_range({kh}):"),
            c.block(f"for kw in tl.static_range({kw}):"),
        ):
            c(f"ih = {c2} * {sh} - {ph} + kh * {dh}")
            c(f"iw = {c3} * {sw} - {pw} + kw * {dw}")
            c(f"inb = mask & (ih >= 0) & (ih < {h}) & (iw >= 0) & (iw < {w})")
            off = f"{c0} * {xs[0]} + {c1} * {xs[1]} + ih * {xs[2]} + iw * {xs[3]}"
            other = ninf if v.op == "max" else "0.0"
            c(f"xv = {self.load_cast(f'tl.load({ptr} + {off}, mask=inb, other={other})', x.dtype)}")
            if v.op == "max":
                c(f"{acc} = tl.maximum({acc}, xv)")
            else:
                c(f"{acc} = {acc} + xv")
                c(f"{cnt} = {cnt} + inb.to({self.ct})")
        if v.op == "max":
            return acc
        name = self.fresh("t")
        if v.divisor is not None:
            c(f"{name} = {acc} / {float(v.divisor)}")
        elif v.count_include_pad:
            c(f"{name} = {acc} / {float(kh * kw)}")
        else:
            c(f"{name} = {acc} / {cnt}")
        return name


# ================================================================ row


class RowWriter(KernelWriter):
    kind = "row"

    def build(self) -> Launch:
        g, n = self.g, self.name
        rank = len(g.space)
        self.outer = [d for d in range(rank) if d not in g.axes]
        self.red = list(g.axes)
        self.trailing = self.red == list(range(rank - len(self.red), rank))
        self.levels = self.compute_levels()
        self.red_ctx = {o.id for o in self.operands if not self.used_full(o)}
        full_ops = [o for o in self.operands if o.id not in self.red_ctx]
        if not full_ops or broadcast(*(o.shape for o in full_ops)) != g.space:
            raise Unsupported("internal: the row kernel's operands do not span its space")
        S = self.space_expr = f"S_{n}"
        py = self.py
        py.append(
            f"{S} = torch.broadcast_shapes({', '.join(f'{self.pyname(o)}.shape' for o in full_ops)})"
        )
        py.append(f"rows_{n} = math.prod({S}[d] for d in {tuple(self.outer)!r})")
        py.append(f"R_{n} = math.prod({S}[d] for d in {tuple(self.red)!r})")
        for v in self.stored:
            space = g.space_of[v.id]
            if space == FULL:
                dims = [f"{S}[{d}]" for d in range(rank)]
            elif space == RED_KEEP:
                dims = ["1" if d in self.red else f"{S}[{d}]" for d in range(rank)]
            else:
                dims = [f"{S}[{d}]" for d in self.outer]
            self.alloc(v, "(" + "".join(f"{e}, " for e in dims) + ")")
        for o in full_ops:
            if o.shape == g.space and self.trailing:
                py.append(f"{self.pyname(o)}_c_{n} = {self.pyname(o)}.contiguous()")
        n_rows = self.arg("n_rows", f"rows_{n}")
        self.R = self.arg("R", f"R_{n}")
        bo, br = int(self.params["BLOCK_O"]), int(self.params["BLOCK_R"])
        self.constexprs += [
            ("BLOCK_O", str(bo)),
            ("BLOCK_R", f"min({br}, triton.next_power_of_2(max(R_{n}, 1)))"),
        ]
        self.pro = Code()
        self.pro("rows = tl.program_id(0) * BLOCK_O + tl.arange(0, BLOCK_O)[:, None]")
        self.pro(f"row_mask = rows < {n_rows}")
        self.prologue = Scope(tag="pro")
        max_level = max((self.levels[m.id] for m in g.members if isinstance(m, Reduce)), default=0)
        self.emit_red_values(0)
        for level in range(1, max_level + 1):
            self.reduction_pass(level)
            self.emit_red_values(level)
        full_out = [v for v in self.stored if g.space_of[v.id] == FULL]
        scans = [m for m in g.members if isinstance(m, Scan)]
        if full_out or scans:
            self.final_pass(full_out, scans)
        for v in self.stored:
            if g.space_of[v.id] != FULL:
                name = self.value(v, self.prologue)
                self.code(
                    f"tl.store({self.out_ptr(v)} + {self.red_offset(v)}, "
                    f"{self.store_value(v, name)}, mask=row_mask)"
                )
        grid = f"(triton.cdiv(max(rows_{n}, 1), {bo}),)"
        py.append(self.launch_line(grid, {"num_warps": int(self.params["num_warps"])}))
        return Launch(self.name, self.kernel_source(), self.py, self.helpers)

    def kernel_source(self) -> str:
        body = self.code.lines
        self.code.lines = self.pro.lines + body
        try:
            return super().kernel_source()
        finally:
            self.code.lines = body

    def used_full(self, o: Value) -> bool:
        """Read at every element of a row (by a full-size value, a reduction or a scan)."""
        return any(
            o in m.operands() and (self.g.space_of[m.id] == FULL or isinstance(m, Reduce | Scan))
            for m in self.g.members
        )

    def compute_levels(self) -> dict[int, int]:
        levels: dict[int, int] = {}
        for m in self.g.members:
            lv = max((levels[a.id] for a in m.operands() if self.g.has(a)), default=0)
            levels[m.id] = lv + 1 if isinstance(m, Reduce) else lv
        return levels

    def emit_red_values(self, level: int) -> None:
        for m in self.g.members:
            if (
                self.g.space_of[m.id] != FULL
                and not isinstance(m, Reduce)
                and self.levels[m.id] == level
            ):
                self.value(m, self.prologue)

    # ------------------------------------------------------------ passes
    def chunk_loop(self, tag: str) -> Scope:
        c = self.code
        c("rr = r0 + tl.arange(0, BLOCK_R)[None, :]")
        c(f"mask = row_mask & (rr < {self.R})")
        return Scope(self.prologue, tag=tag)

    def reduction_pass(self, level: int) -> None:
        c = self.code
        reds = [m for m in self.g.members if isinstance(m, Reduce) and self.levels[m.id] == level]
        for r in reds:
            self.init_acc(r)
        with c.block(f"for r0 in range(0, {self.R}, BLOCK_R):"):
            scope = self.chunk_loop(f"p{level}")
            for r in reds:
                assert r.src is not None
                src = self.value(r.src, scope)
                if not is_float(r.src.dtype):
                    src = f"{src}.to({self.ct})"
                self.update_acc(r, src)
        for r in reds:
            self.prologue.names[r.id] = self.finish_acc(r)

    def final_pass(self, outs: list[Value], scans: list[Scan]) -> None:
        c = self.code
        for s in scans:
            assert isinstance(s, Scan)
            fill = "1.0" if s.op == "cumprod" else "0.0"
            c(f"carry{s.id} = tl.full([BLOCK_O, 1], {fill}, {self.ct})")
        with c.block(f"for r0 in range(0, {self.R}, BLOCK_R):"):
            scope = self.chunk_loop("f")
            for v in outs:
                name = self.value(v, scope)
                off = self.full_offset(v, scope)
                c(f"tl.store({self.out_ptr(v)} + {off}, {self.store_value(v, name)}, mask=mask)")

    def special(self, v: Value, scope: Scope) -> str:
        if not isinstance(v, Scan) or v.src is None:
            return super().special(v, scope)
        src = self.value(v.src, scope)
        if not is_float(v.src.dtype):
            src = f"{src}.to({self.ct})"
        c = self.code
        name, sv, carry = self.fresh("t"), f"sv{v.id}", f"carry{v.id}"
        if v.op == "cumsum":
            c(f"{sv} = tl.where(mask, {src}, 0.0)")
            c(f"{name} = tl.cumsum({sv}, axis=1) + {carry}")
            c(f"{carry} = {carry} + tl.sum({sv}, axis=1, keep_dims=True)")
        else:
            self.helpers.add("_kw_mul")
            c(f"{sv} = tl.where(mask, {src}, 1.0)")
            c(f"{name} = tl.cumprod({sv}, axis=1) * {carry}")
            c(f"{carry} = {carry} * tl.reduce({sv}, 1, _kw_mul, keep_dims=True)")
        return name

    # ------------------------------------------------------------ accumulators
    def init_acc(self, r: Reduce) -> None:
        c, ct = self.code, self.ct
        fill = {"sum": "0.0", "mean": "0.0", "prod": "1.0", "max": 'float("-inf")',
                "argmax": 'float("-inf")', "min": 'float("inf")', "argmin": 'float("inf")'}[r.op]  # fmt: skip
        c(f"acc{r.id} = tl.full([BLOCK_O, BLOCK_R], {fill}, {ct})")
        if r.op in ("argmax", "argmin"):
            c(f"idx{r.id} = tl.zeros([BLOCK_O, BLOCK_R], tl.int32)")

    def update_acc(self, r: Reduce, src: str) -> None:
        c, a = self.code, f"acc{r.id}"
        if r.op in ("sum", "mean"):
            c(f"{a} = {a} + tl.where(mask, {src}, 0.0)")
        elif r.op == "prod":
            c(f"{a} = {a} * tl.where(mask, {src}, 1.0)")
        elif r.op == "max":
            c(f'{a} = tl.maximum({a}, tl.where(mask, {src}, float("-inf")))')
        elif r.op == "min":
            c(f'{a} = tl.minimum({a}, tl.where(mask, {src}, float("inf")))')
        else:
            cmp, fill = (">", '"-inf"') if r.op == "argmax" else ("<", '"inf"')
            c(f"upd{r.id} = tl.where(mask, {src}, float({fill})) {cmp} {a}")
            c(f"idx{r.id} = tl.where(upd{r.id}, rr, idx{r.id})")
            c(f"{a} = tl.where(upd{r.id}, {src}, {a})")

    def finish_acc(self, r: Reduce) -> str:
        c, a = self.code, f"acc{r.id}"
        name = self.fresh("t")
        if r.op == "sum":
            c(f"{name} = tl.sum({a}, axis=1, keep_dims=True)")
        elif r.op == "mean":
            corr = f" - {float(r.correction)}" if r.correction else ""
            c(f"{name} = tl.sum({a}, axis=1, keep_dims=True) / ({self.R}{corr})")
        elif r.op == "prod":
            self.helpers.add("_kw_mul")
            c(f"{name} = tl.reduce({a}, 1, _kw_mul, keep_dims=True)")
        elif r.op in ("max", "min"):
            c(f"{name} = tl.{r.op}({a}, axis=1, keep_dims=True)")
        else:
            best = "tl.max" if r.op == "argmax" else "tl.min"
            c(f"best{r.id} = {best}({a}, axis=1, keep_dims=True)")
            c(
                f"{name} = tl.min(tl.where({a} == best{r.id}, idx{r.id}, 2147483647), "
                "axis=1, keep_dims=True)"
            )
        return name

    # ------------------------------------------------------------ coordinates and loads
    def pitch(self, dim: int, dims: list[int]) -> str:
        later = tuple(dims[dims.index(dim) + 1 :])
        return self.arg(f"pitch{dim}", f"math.prod({self.space_expr}[d] for d in {later!r})")

    def coord(self, dim: int, scope: Scope) -> str:
        if dim in self.outer:
            return self.outer_coord(dim)
        key = ("coord", dim)
        found = scope.get(key)
        if found is not None:
            return found
        k = self.red.index(dim)
        name = f"cr{dim}_{scope.tag}"
        if len(self.red) == 1:
            text = "rr"
        else:
            size = self.arg(f"size{dim}", f"{self.space_expr}[{dim}]")
            text = "rr" if k == len(self.red) - 1 else f"(rr // {self.pitch(dim, self.red)})"
            text += f" % {size}" if k else ""
        self.code(f"{name} = {text}")
        scope.names[key] = name
        return name

    def outer_coord(self, dim: int) -> str:
        key = ("coord", dim)
        found = self.prologue.get(key)
        if found is not None:
            return found
        k = self.outer.index(dim)
        if len(self.outer) == 1:
            text = "rows"
        else:
            size = self.arg(f"size{dim}", f"{self.space_expr}[{dim}]")
            text = (
                "rows" if k == len(self.outer) - 1 else f"(rows // {self.pitch(dim, self.outer)})"
            )
            text += f" % {size}" if k else ""
        name = f"co{dim}"
        self.pro(f"{name} = {text}")
        self.prologue.names[key] = name
        return name

    def varies_in_red(self, v: Value) -> bool:
        return any(d in self.red for d in self.varying_dims(v, self.g.space))

    def load(self, v: Value, scope: Scope) -> str:
        ptr = self.operand_ptr(v)
        if v.id in self.red_ctx or not self.varies_in_red(v):
            return self.load_outer(v, ptr)
        if v.shape == self.g.space and self.trailing:
            self.call[self.args.index(ptr)] = f"{self.pyname(v)}_c_{self.name}"
            offset = f"rows * {self.R} + rr"
        else:
            dims = self.varying_dims(v, self.g.space)
            strides = self.stride_args(v, "in", self.space_expr, dims)
            offset = " + ".join(
                f"{self.coord(d, scope)} * {s}" for d, s in zip(dims, strides, strict=True)
            )
        name = self.fresh("x")
        raw = f"tl.load({ptr} + {offset}, mask=mask, other={self.other(v.dtype)})"
        self.code(f"{name} = {self.load_cast(raw, v.dtype)}")
        return name

    def load_outer(self, v: Value, ptr: str) -> str:
        """An operand constant along the reduced dims: one value per row, loaded up front."""
        key = ("outer", v.id)
        found = self.prologue.get(key)
        if found is not None:
            return found
        i = self.op_index[v.id]
        nokeep = reduced_shape(self.g.space, self.g.axes, False)
        if v.id in self.red_ctx and self.nokeep_only(v):
            # read as a per-row value without the reduced dims: align it to the outer dims
            var = f"st_red{i}_{self.name}"
            shape = "(" + "".join(f"{self.space_expr}[{d}], " for d in self.outer) + ")"
            self.py.append(f"{var} = _kw_strides({self.pyname(v)}, {shape})")
            pairs = []
            for k, d in enumerate(self.outer):
                ad = k - (len(nokeep) - v.rank)
                if ad < 0 or (v.shape[ad] == 1 and nokeep[k] != 1):
                    continue
                pairs.append((d, self.arg(f"red{i}_s{d}", f"{var}[{k}]")))
        else:
            dims = [d for d in self.varying_dims(v, self.g.space) if d in self.outer]
            strides = self.stride_args(v, "in", self.space_expr, dims) if dims else []
            pairs = list(zip(dims, strides, strict=True))
        offset = " + ".join(f"{self.outer_coord(d)} * {s}" for d, s in pairs) or "rows * 0"
        name = self.fresh("x")
        raw = f"tl.load({ptr} + {offset}, mask=row_mask, other={self.other(v.dtype)})"
        self.pro(f"{name} = {self.load_cast(raw, v.dtype)}")
        self.prologue.names[key] = name
        return name

    def nokeep_only(self, v: Value) -> bool:
        """True if every member reading `v` lives in the per-row space without reduced dims."""
        return all(
            self.g.space_of[m.id] == RED_NOKEEP for m in self.g.members if v in m.operands()
        ) and bool(self.red)

    def full_offset(self, v: Value, scope: Scope) -> str:
        if self.trailing:
            return f"rows * {self.R} + rr"
        j = self.out_index[v.id]
        strides = [
            self.arg(f"out{j}_s{d}", f"out{j}_{self.name}.stride({d})")
            for d in range(len(self.g.space))
        ]
        return " + ".join(f"{self.coord(d, scope)} * {s}" for d, s in enumerate(strides))

    def red_offset(self, v: Value) -> str:
        if self.trailing:
            return "rows"
        j = self.out_index[v.id]
        if self.g.space_of[v.id] == RED_KEEP:
            strides = {d: f"out{j}_{self.name}.stride({d})" for d in self.outer}
        else:
            strides = {d: f"out{j}_{self.name}.stride({k})" for k, d in enumerate(self.outer)}
        terms = [
            f"{self.outer_coord(d)} * {self.arg(f'out{j}_s{d}', e)}" for d, e in strides.items()
        ]
        return " + ".join(terms) or "rows * 0"


# ================================================================ matmul and conv


class TileWriter(KernelWriter):
    """Shared epilogue for matmul and conv: coordinates of the output tile, operand loads."""

    def epilogue(self) -> None:
        scope = Scope(tag="epi")
        scope.names[self.g.anchor.id] = "acc"  # type: ignore[union-attr]
        c = self.code
        for v in self.stored:
            name = self.value(v, scope)
            off = self.out_offset(v, scope)
            c(f"tl.store({self.out_ptr(v)} + {off}, {self.store_value(v, name)}, mask=omask)")

    def load(self, v: Value, scope: Scope) -> str:
        ptr = self.operand_ptr(v)
        dims = self.varying_dims(v, self.g.space)
        offset = self.operand_offset(v, dims, scope)
        name = self.fresh("x")
        raw = f"tl.load({ptr} + {offset}, mask=omask, other={self.other(v.dtype)})"
        self.code(f"{name} = {self.load_cast(raw, v.dtype)}")
        return name

    def operand_offset(self, v: Value, dims: list[int], scope: Scope) -> str:
        raise NotImplementedError

    def out_offset(self, v: Value, scope: Scope) -> str:
        raise NotImplementedError


class MatmulWriter(TileWriter):
    kind = "matmul"

    def build(self) -> Launch:
        mm = self.g.anchor
        assert isinstance(mm, Matmul) and mm.a is not None and mm.b is not None
        n = self.name
        a, b = self.pyname(mm.a), self.pyname(mm.b)
        py = self.py
        self.merge = mm.b.rank == 2 and mm.a.rank > 2
        if self.merge:
            py.append(f"a3_{n} = {a}.reshape(1, -1, {a}.shape[-1])")
            py.append(f"b3_{n} = {b}.unsqueeze(0)")
            py.append(f"O_{n} = (*{a}.shape[:-1], {b}.shape[-1])")
        else:
            py.append(f"bs_{n} = torch.broadcast_shapes({a}.shape[:-2], {b}.shape[:-2])")
            py.append(
                f"a3_{n} = {a}.expand(*bs_{n}, *{a}.shape[-2:]).reshape(-1, {a}.shape[-2], {a}.shape[-1])"
            )
            py.append(
                f"b3_{n} = {b}.expand(*bs_{n}, *{b}.shape[-2:]).reshape(-1, {b}.shape[-2], {b}.shape[-1])"
            )
            py.append(f"O_{n} = (*bs_{n}, {a}.shape[-2], {b}.shape[-1])")
        py.append(f"NB_{n}, M_{n}, K_{n} = a3_{n}.shape")
        py.append(f"N_{n} = b3_{n}.shape[2]")
        self.space_expr = f"O_{n}"
        for v in self.stored:
            self.alloc(v, f"O_{n}")
        A = self.arg("a_ptr", f"a3_{n}")
        B = self.arg("b_ptr", f"b3_{n}")
        M, N, K = (self.arg(x, f"{x}_{n}") for x in ("M", "N", "K"))
        sa = [self.arg(f"sa{d}", f"a3_{n}.stride({d})") for d in range(3)]
        sb = [self.arg(f"sb{d}", f"b3_{n}.stride({d})") for d in range(3)]
        p = self.params
        self.constexprs += [
            (k, str(int(p[k]))) for k in ("BLOCK_M", "BLOCK_N", "BLOCK_K", "GROUP_M")
        ]
        c = self.code
        c("pid = tl.program_id(0)")
        c("bid = tl.program_id(1)")
        c(f"num_m = tl.cdiv({M}, BLOCK_M)")
        c(f"num_n = tl.cdiv({N}, BLOCK_N)")
        c("width = GROUP_M * num_n")
        c("first_m = (pid // width) * GROUP_M")
        c("group_m = tl.minimum(num_m - first_m, GROUP_M)")
        c("pid_m = first_m + (pid % width) % group_m")
        c("pid_n = (pid % width) // group_m")
        c("rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)")
        c("rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)")
        c("rk = tl.arange(0, BLOCK_K)")
        c(f"a_ptrs = {A} + bid * {sa[0]} + rm[:, None] * {sa[1]} + rk[None, :] * {sa[2]}")
        c(f"b_ptrs = {B} + bid * {sb[0]} + rk[:, None] * {sb[1]} + rn[None, :] * {sb[2]}")
        c("acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)")
        dot = self.dot_expr(mm.a.dtype, mm.b.dtype)
        with c.block(f"for k0 in range(0, {K}, BLOCK_K):"):
            c(
                f"a = tl.load(a_ptrs, mask=(rm[:, None] < {M}) & (rk[None, :] < {K} - k0), other=0.0)"
            )
            c(
                f"b = tl.load(b_ptrs, mask=(rk[:, None] < {K} - k0) & (rn[None, :] < {N}), other=0.0)"
            )
            c(f"acc += {dot}")
            c(f"a_ptrs += BLOCK_K * {sa[2]}")
            c(f"b_ptrs += BLOCK_K * {sb[1]}")
        c("cm = rm[:, None]")
        c("cn = rn[None, :]")
        c(f"omask = (cm < {M}) & (cn < {N})")
        self.M, self.N = M, N
        self.epilogue()
        grid = f"(triton.cdiv(M_{n}, {int(p['BLOCK_M'])}) * triton.cdiv(N_{n}, {int(p['BLOCK_N'])}), NB_{n})"
        py.append(
            self.launch_line(
                grid, {"num_warps": int(p["num_warps"]), "num_stages": int(p["num_stages"])}
            )
        )
        return Launch(self.name, self.kernel_source(), self.py, self.helpers)

    def dot_expr(self, da: str, db: str) -> str:
        if da == db == "float16":
            return "tl.dot(a, b)"
        if "bfloat16" in (da, db) and "float32" not in (da, db):
            return 'tl.dot(a.to(tl.float32), b.to(tl.float32), input_precision="tf32")'
        return 'tl.dot(a.to(tl.float32), b.to(tl.float32), input_precision="ieee")'

    def view3(self, v: Value, role: str) -> str:
        n = self.name
        var = f"{role}{self.op_index.get(v.id, self.out_index.get(v.id))}_3_{n}"
        return var

    def operand_offset(self, v: Value, dims: list[int], scope: Scope) -> str:
        n = self.name
        i = self.op_index[v.id]
        var = f"e{i}_{n}"
        self.py.append(f"{var} = {self.pyname(v)}.expand(O_{n}).reshape(NB_{n}, M_{n}, N_{n})")
        self.call[self.args.index(self.operand_ptr(v))] = var
        s = [self.arg(f"e{i}_s{d}", f"{var}.stride({d})") for d in range(3)]
        return f"bid * {s[0]} + cm * {s[1]} + cn * {s[2]}"

    def out_offset(self, v: Value, scope: Scope) -> str:
        j = self.out_index[v.id]
        return f"bid * M_N_{j} + cm * {self.N} + cn".replace(
            f"M_N_{j}", self.arg(f"out{j}_sb", f"M_{self.name} * N_{self.name}")
        )

    def coord(self, dim: int, scope: Scope) -> str:
        rank = len(self.g.space)
        if dim == rank - 1:
            return "cn"
        if dim == rank - 2 and not (self.merge and rank > 2):
            return "cm"
        raise Unsupported("an index-dependent op on a batched matmul output")


class ConvWriter(TileWriter):
    kind = "conv"

    def build(self) -> Launch:
        cv = self.g.anchor
        assert isinstance(cv, Conv2d) and cv.x is not None and cv.w is not None
        n = self.name
        x, w = self.pyname(cv.x), self.pyname(cv.w)
        (sh, sw), (ph, pw), (dh, dw) = cv.stride, cv.padding, cv.dilation
        py = self.py
        py.append(f"NB_{n}, C_{n}, H_{n}, W_{n} = {x}.shape")
        py.append(f"OC_{n}, CG_{n}, KH_{n}, KW_{n} = {w}.shape")
        py.append(f"OH_{n} = (H_{n} + {2 * ph} - {dh} * (KH_{n} - 1) - 1) // {sh} + 1")
        py.append(f"OW_{n} = (W_{n} + {2 * pw} - {dw} * (KW_{n} - 1) - 1) // {sw} + 1")
        py.append(f"O_{n} = (NB_{n}, OC_{n}, OH_{n}, OW_{n})")
        self.space_expr = f"O_{n}"
        for v in self.stored:
            self.alloc(v, f"O_{n}")
        groups = cv.groups
        X = self.arg("x_ptr", x)
        Wp = self.arg("w_ptr", w)
        M = self.arg("M", f"NB_{n} * OH_{n} * OW_{n}")
        OCG = self.arg("OCG", f"OC_{n} // {groups}")
        KT = self.arg("KT", f"CG_{n} * KH_{n} * KW_{n}")
        H = self.arg("H", f"H_{n}")
        Wd = self.arg("W", f"W_{n}")
        OH = self.arg("OH", f"OH_{n}")
        OW = self.arg("OW", f"OW_{n}")
        CG = self.arg("CG", f"CG_{n}")
        sx = [self.arg(f"sx{d}", f"{x}.stride({d})") for d in range(4)]
        swt = [self.arg(f"sw{d}", f"{w}.stride({d})") for d in range(4)]
        p = self.params
        self.constexprs += [("KH", f"KH_{n}"), ("KW", f"KW_{n}")]
        self.constexprs += [(k, str(int(p[k]))) for k in ("BLOCK_M", "BLOCK_N", "BLOCK_K")]
        c = self.code
        c("pid = tl.program_id(0)")
        c("g = tl.program_id(1)")
        c(f"num_n = tl.cdiv({OCG}, BLOCK_N)")
        c("pid_m = pid // num_n")
        c("pid_n = pid % num_n")
        c("rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)")
        c("rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)")
        c(f"n_i = rm // ({OH} * {OW})")
        c(f"oh = (rm // {OW}) % {OH}")
        c(f"ow = rm % {OW}")
        c("oc = g * " + OCG + " + rn")
        c("acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)")
        with c.block(f"for k0 in range(0, {KT}, BLOCK_K):"):
            c("rk = k0 + tl.arange(0, BLOCK_K)")
            c("ic = rk // (KH * KW)")
            c("kh = (rk // KW) % KH")
            c("kw = rk % KW")
            c(f"ih = oh[:, None] * {sh} - {ph} + kh[None, :] * {dh}")
            c(f"iw = ow[:, None] * {sw} - {pw} + kw[None, :] * {dw}")
            c(
                f"a_mask = (rm[:, None] < {M}) & (rk[None, :] < {KT}) & (ih >= 0) & (ih < {H}) "
                f"& (iw >= 0) & (iw < {Wd})"
            )
            c(
                f"a = tl.load({X} + n_i[:, None] * {sx[0]} + (g * {CG} + ic)[None, :] * {sx[1]} "
                f"+ ih * {sx[2]} + iw * {sx[3]}, mask=a_mask, other=0.0)"
            )
            c(
                f"b = tl.load({Wp} + oc[None, :] * {swt[0]} + ic[:, None] * {swt[1]} "
                f"+ kh[:, None] * {swt[2]} + kw[:, None] * {swt[3]}, "
                f"mask=(rk[:, None] < {KT}) & (rn[None, :] < {OCG}), other=0.0)"
            )
            dot = MatmulWriter.dot_expr(self, cv.x.dtype, cv.w.dtype)  # type: ignore[arg-type]
            c(f"acc += {dot}")
        c("c0 = n_i[:, None]")
        c("c1 = oc[None, :]")
        c("c2 = oh[:, None]")
        c("c3 = ow[:, None]")
        c(f"omask = (rm[:, None] < {M}) & (rn[None, :] < {OCG})")
        self.epilogue()
        tiles_m = f"triton.cdiv(NB_{n} * OH_{n} * OW_{n}, {int(p['BLOCK_M'])})"
        tiles_n = f"triton.cdiv(OC_{n} // {groups}, {int(p['BLOCK_N'])})"
        grid = f"({tiles_m} * {tiles_n}, {groups})"
        py.append(
            self.launch_line(
                grid, {"num_warps": int(p["num_warps"]), "num_stages": int(p["num_stages"])}
            )
        )
        return Launch(self.name, self.kernel_source(), self.py, self.helpers)

    def coord(self, dim: int, scope: Scope) -> str:
        return f"c{dim}"

    def operand_offset(self, v: Value, dims: list[int], scope: Scope) -> str:
        strides = self.stride_args(v, "in", f"O_{self.name}", dims)
        return " + ".join(f"c{d} * {s}" for d, s in zip(dims, strides, strict=True)) or "c0 * 0"

    def out_offset(self, v: Value, scope: Scope) -> str:
        j = self.out_index[v.id]
        s = [self.arg(f"out{j}_s{d}", f"out{j}_{self.name}.stride({d})") for d in range(4)]
        return " + ".join(f"c{d} * {s[d]}" for d in range(4))


WRITERS: dict[str, type[KernelWriter]] = {
    "pointwise": PointwiseWriter,
    "row": RowWriter,
    "matmul": MatmulWriter,
    "conv": ConvWriter,
}


def write_group(sched: Schedule, group: Group, params: dict[str, Any], names: Any) -> Launch:
    writer = WRITERS[group.kind](sched, group, params, names)
    return writer.build()  # type: ignore[attr-defined]


__all__ = ["Launch", "PyOp", "write_group"]
