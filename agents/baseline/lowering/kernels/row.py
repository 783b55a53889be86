"""The row kernel: reductions (and scans) over some dims, with the elementwise ops around them."""

from __future__ import annotations

from agents.baseline.lowering.ir import (
    Reduce,
    Scan,
    Unsupported,
    Value,
    broadcast,
    is_float,
    reduced_shape,
)
from agents.baseline.lowering.kernels.base import (
    Code,
    KernelWriter,
    Launch,
    Scope,
)
from agents.baseline.lowering.schedule import FULL, RED_KEEP, RED_NOKEEP

# ================================================================ row

INTERPRETER_ROW_TILE = 4096  # elements per program under the interpreter, short rows packed
INTERPRETER_MAX_ROWS = 256


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
            raise Unsupported.internal("the row kernel's operands do not span its space")
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
        py.append(f"BR_{n} = min({br}, triton.next_power_of_2(max(R_{n}, 1)))")
        # Under the interpreter every program costs Python time: short rows are packed
        # up to ~INTERPRETER_ROW_TILE elements per program (MobileNetV2's last batch norm,
        # 2560 rows of 2, was 2560 programs). On a GPU, the tuned BLOCK_O.
        py.append(
            f"BO_{n} = {bo} if {self.pyname(full_ops[0])}.is_cuda else max({bo}, min("
            f"{INTERPRETER_MAX_ROWS}, triton.next_power_of_2(max(rows_{n}, 1)), "
            f"{INTERPRETER_ROW_TILE} // BR_{n}))"
        )
        self.constexprs += [("BLOCK_O", f"BO_{n}"), ("BLOCK_R", f"BR_{n}")]
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
        grid = f"(triton.cdiv(max(rows_{n}, 1), BO_{n}),)"
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
