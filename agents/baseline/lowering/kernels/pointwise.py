"""The elementwise kernel: a flat index over the group's space (pooling windows inline)."""

from __future__ import annotations

import contextlib
import math

from agents.baseline.lowering.ir import (
    Pool2d,
    Unsupported,
    Value,
)
from agents.baseline.lowering.kernels.base import (
    KernelWriter,
    Launch,
    Scope,
)

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
            raise Unsupported.internal("an elementwise kernel without tensor operands")
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
        dims = [f"{x}.shape[0]", f"{x}.shape[1]"]
        for d, (k, st, pd, dl) in enumerate(
            zip(p.kernel, p.stride, p.padding, p.dilation, strict=True)
        ):
            size = f"{x}.shape[{d + 2}]"
            if p.ceil_mode:  # as torch: the last window starts inside the input
                n = f"(({size} + {2 * pd - dl * (k - 1) - 1 + st - 1}) // {st} + 1)"
                dims.append(f"({n} - int(({n} - 1) * {st} >= {size} + {pd}))")
            else:
                dims.append(f"({size} + {2 * pd} - {dl * (k - 1)} - 1) // {st} + 1")
        return f"({', '.join(dims)})"

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
        rank = x.rank
        xs = [self.arg(f"win{i}_s{d}", f"{self.pyname(x)}.stride({d})") for d in range(rank)]
        extent = [self.arg(f"win{i}_e{d}", f"{self.pyname(x)}.shape[{d}]") for d in range(2, rank)]
        co = [self.coord(d, scope) for d in range(rank)]
        acc, cnt = self.fresh("acc"), self.fresh("cnt")
        c = self.code
        ninf = 'float("-inf")'
        if v.op == "max":
            c(f"{acc} = tl.full([BLOCK], {ninf}, {self.ct})")
        else:
            c(f"{acc} = tl.zeros([BLOCK], {self.ct})")
            c(f"{cnt} = tl.zeros([BLOCK], {self.ct})")
        loops = [c.block(f"for k{d} in tl.static_range({k}):") for d, k in enumerate(v.kernel)]
        with contextlib.ExitStack() as stack:
            for loop in loops:
                stack.enter_context(loop)
            inb = ["mask"]
            off = [f"{co[0]} * {xs[0]}", f"{co[1]} * {xs[1]}"]
            for d, (st, pd, dl) in enumerate(zip(v.stride, v.padding, v.dilation, strict=True)):
                c(f"i{d} = {co[d + 2]} * {st} - {pd} + k{d} * {dl}")
                inb.append(f"(i{d} >= 0) & (i{d} < {extent[d]})")
                off.append(f"i{d} * {xs[d + 2]}")
            c(f"inb = {' & '.join(inb)}")
            other = ninf if v.op == "max" else "0.0"
            load = f"tl.load({ptr} + {' + '.join(off)}, mask=inb, other={other})"
            c(f"xv = {self.load_cast(load, x.dtype)}")
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
            c(f"{name} = {acc} / {float(math.prod(v.kernel))}")
        else:
            c(f"{name} = {acc} / {cnt}")
        return name
