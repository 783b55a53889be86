"""Tiled kernels: matmul and implicit-GEMM conv2d, with a fused elementwise epilogue."""

from __future__ import annotations

from agents.baseline.lowering.ir import Conv2d, Matmul, Unsupported, Value
from agents.baseline.lowering.kernels.base import KernelWriter, Launch, Scope

# ================================================================ matmul and conv

# Tiles of a conv under the Triton interpreter (a CPU run): every program costs Python time
# there, not SM time, so fewer, larger tiles check the same kernel many times faster. On a
# GPU the kernel runs with the tuned (or Judge-chosen) tiles of its header. 256x128x128
# against 128x64x64, measured side by side in the interpreter: an AlexNet conv (M 6050,
# N 96, K 363) 2.0 s against 5.1 s, a 1024^3 matmul 3.1 s against 6.7 s, a 20x24x36 one
# 23 ms against 17 ms. A matmul launches its header's tiles on the CPU too (issue 29): the
# interpreter then checks, and the profile sees, the configuration a GPU would launch, a
# K loop of several iterations included (with the larger tiles the demo's profile showed a
# 128x128x128 kernel spilling that no GPU would run, and the same profile every round).
INTERPRETER_TILES = {"BLOCK_M": 256, "BLOCK_N": 128, "BLOCK_K": 128}


class TileWriter(KernelWriter):
    """Shared epilogue for matmul and conv: coordinates of the output tile, operand loads."""

    def tiles(self, device_of: str, dims: dict[str, str] | None) -> dict[str, str]:
        """Each block size as a forward expression: the tuned one of the header, on a GPU
        and, with `dims` None, under the interpreter too; otherwise under the interpreter
        the larger INTERPRETER_TILES one, cut to the extent it tiles (`dims`: each block's
        extent as an expression; a power of two, at least tl.dot's 16): a depthwise conv
        has one output channel per group, and a 128-wide tile over it cost 128x the work
        per program."""
        out: dict[str, str] = {}
        for key, cpu in INTERPRETER_TILES.items():
            gpu = int(self.params[key])
            out[key] = f"{key}_{self.name}"
            if dims is None:
                self.py.append(f"{out[key]} = {gpu}")
                continue
            fit = f"min({cpu}, max(16, triton.next_power_of_2({dims[key]})))"
            self.py.append(f"{out[key]} = {gpu} if {device_of}.is_cuda else {fit}")
        return out

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
        t = self.tiles(a, None)  # the header's tiles on any device (see INTERPRETER_TILES)
        self.constexprs += [(k, t[k]) for k in ("BLOCK_M", "BLOCK_N", "BLOCK_K")]
        self.constexprs.append(("GROUP_M", str(int(p["GROUP_M"]))))
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
        grid = f"(triton.cdiv(M_{n}, {t['BLOCK_M']}) * triton.cdiv(N_{n}, {t['BLOCK_N']}), NB_{n})"
        py.append(
            self.launch_line(
                grid, {"num_warps": int(p["num_warps"]), "num_stages": int(p["num_stages"])}
            )
        )
        return Launch(self.name, self.kernel_source(), self.py, self.helpers)

    def dot_expr(self, da: str, db: str) -> str:
        if da == db == "float16":
            # fp16 operands take the tensor cores whatever input_precision says (it only
            # governs fp32 operands); saying it keeps the static checker's note away
            return 'tl.dot(a, b, input_precision="ieee")'
        if "bfloat16" in (da, db) and "float32" not in (da, db):
            return 'tl.dot(a.to(tl.float32), b.to(tl.float32), input_precision="tf32")'
        return 'tl.dot(a.to(tl.float32), b.to(tl.float32), input_precision="ieee")'

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
    """Implicit GEMM over (N * output pixels) x (OC / groups), for 2 or 3 spatial dims."""

    kind = "conv"

    def build(self) -> Launch:
        cv = self.g.anchor
        assert isinstance(cv, Conv2d) and cv.x is not None and cv.w is not None
        n = self.name
        x, w = self.pyname(cv.x), self.pyname(cv.w)
        nsp = cv.x.rank - 2
        sp = ["d", "h", "w"][-nsp:]  # spatial dims, outermost first
        up = [a.upper() for a in sp]
        groups: int | str = cv.groups
        py = self.py
        sizes = ", ".join(f"{u}_{n}" for u in up)
        ks = ", ".join(f"K{u}_{n}" for u in up)
        py.append(f"NB_{n}, C_{n}, {sizes} = {x}.shape")
        if cv.transposed:  # weight (C, OC // groups, *K)
            py.append(f"CI_{n}, OCW_{n}, {ks} = {w}.shape")
            py.append(f"OC_{n}, CG_{n} = OCW_{n} * {groups}, CI_{n} // {groups}")
        else:
            py.append(f"OC_{n}, CG_{n}, {ks} = {w}.shape")
            # read at run time: a depthwise conv's groups follow the channel count
            py.append(f"G_{n} = C_{n} // CG_{n}")
            groups = f"G_{n}"
        for i, u in enumerate(up):
            st, pd, dl = cv.stride[i], cv.padding[i], cv.dilation[i]
            if cv.transposed:
                extra = cv.output_padding[i] + 1
                py.append(
                    f"O{u}_{n} = ({u}_{n} - 1) * {st} - {2 * pd} + {dl} * (K{u}_{n} - 1) + {extra}"
                )
            else:
                py.append(
                    f"O{u}_{n} = ({u}_{n} + {2 * pd} - {dl} * (K{u}_{n} - 1) - 1) // {st} + 1"
                )
        out_sizes = ", ".join(f"O{u}_{n}" for u in up)
        py.append(f"O_{n} = (NB_{n}, OC_{n}, {out_sizes})")
        self.space_expr = f"O_{n}"
        for v in self.stored:
            self.alloc(v, f"O_{n}")
        X = self.arg("x_ptr", x)
        Wp = self.arg("w_ptr", w)
        pixels = " * ".join(f"O{u}_{n}" for u in up)
        M = self.arg("M", f"NB_{n} * {pixels}")
        OCG = self.arg("OCG", f"OC_{n} // {groups}")
        KT = self.arg("KT", f"CG_{n} * " + " * ".join(f"K{u}_{n}" for u in up))
        IN = [self.arg(u, f"{u}_{n}") for u in up]
        OUT = [self.arg(f"O{u}", f"O{u}_{n}") for u in up]
        CG = self.arg("CG", f"CG_{n}")
        sx = [self.arg(f"sx{d}", f"{x}.stride({d})") for d in range(nsp + 2)]
        swt = [self.arg(f"sw{d}", f"{w}.stride({d})") for d in range(nsp + 2)]
        p = self.params
        self.constexprs += [(f"K{u}", f"K{u}_{n}") for u in up]
        t = self.tiles(
            x,
            {
                "BLOCK_M": f"NB_{n} * {pixels}",
                "BLOCK_N": f"OC_{n}" if self.grouped_direct(cv) else f"OC_{n} // {groups}",
                "BLOCK_K": f"CG_{n} * " + " * ".join(f"K{u}_{n}" for u in up),
            },
        )
        self.constexprs += [(k, t[k]) for k in ("BLOCK_M", "BLOCK_N", "BLOCK_K")]
        c = self.code
        if self.grouped_direct(cv):
            return self.build_grouped(cv, sp, up, X, Wp, M, OCG, KT, IN, OUT, CG, sx, swt, t)
        c("pid = tl.program_id(0)")
        c("g = tl.program_id(1)")
        c(f"num_n = tl.cdiv({OCG}, BLOCK_N)")
        c("pid_m = pid // num_n")
        c("pid_n = pid % num_n")
        c("rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)")
        c("rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)")
        c(f"n_i = rm // ({' * '.join(OUT)})")
        for i, a in enumerate(sp):  # o<a>: the output coordinate along each spatial dim
            inner = " * ".join(OUT[i + 1 :])
            c(f"o{a} = (rm // ({inner})) % {OUT[i]}" if inner else f"o{a} = rm % {OUT[i]}")
        c("oc = g * " + OCG + " + rn")
        c("acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)")
        with c.block(f"for k0 in range(0, {KT}, BLOCK_K):"):
            c("rk = k0 + tl.arange(0, BLOCK_K)")
            c(f"ic = rk // ({' * '.join(f'K{u}' for u in up)})")
            for i, a in enumerate(sp):
                inner = " * ".join(f"K{u}" for u in up[i + 1 :])
                c(f"k{a} = (rk // ({inner})) % K{up[i]}" if inner else f"k{a} = rk % K{up[i]}")
            conds = [f"(rm[:, None] < {M})", f"(rk[None, :] < {KT})"]
            for i, a in enumerate(sp):
                st, pd, dl = cv.stride[i], cv.padding[i], cv.dilation[i]
                if cv.transposed:  # gather form: input pixels that land on this output pixel
                    c(f"t{a} = o{a}[:, None] + {pd} - k{a}[None, :] * {dl}")
                    c(f"i{a} = t{a} // {st}")
                    conds += [f"(t{a} >= 0)", f"(t{a} % {st} == 0)", f"(i{a} < {IN[i]})"]
                else:
                    c(f"i{a} = o{a}[:, None] * {st} - {pd} + k{a}[None, :] * {dl}")
                    conds += [f"(i{a} >= 0)", f"(i{a} < {IN[i]})"]
            c(f"a_mask = {' & '.join(conds)}")
            x_off = " + ".join(f"i{a} * {sx[i + 2]}" for i, a in enumerate(sp))
            c(
                f"a = tl.load({X} + n_i[:, None] * {sx[0]} + (g * {CG} + ic)[None, :] * {sx[1]} "
                f"+ {x_off}, mask=a_mask, other=0.0)"
            )
            if cv.transposed:  # w[g * CG + ic, oc within the group, *k]
                w_off = f"(g * {CG} + ic)[:, None] * {swt[0]} + rn[None, :] * {swt[1]}"
            else:
                w_off = f"oc[None, :] * {swt[0]} + ic[:, None] * {swt[1]}"
            k_off = " + ".join(f"k{a}[:, None] * {swt[i + 2]}" for i, a in enumerate(sp))
            c(
                f"b = tl.load({Wp} + {w_off} + {k_off}, "
                f"mask=(rk[:, None] < {KT}) & (rn[None, :] < {OCG}), other=0.0)"
            )
            dot = MatmulWriter.dot_expr(self, cv.x.dtype, cv.w.dtype)  # type: ignore[arg-type]
            c(f"acc += {dot}")
        c("c0 = n_i[:, None]")
        c("c1 = oc[None, :]")
        for i, a in enumerate(sp):
            c(f"c{i + 2} = o{a}[:, None]")
        c(f"omask = (rm[:, None] < {M}) & (rn[None, :] < {OCG})")
        self.epilogue()
        tiles_m = f"triton.cdiv(NB_{n} * {pixels}, {t['BLOCK_M']})"
        tiles_n = f"triton.cdiv(OC_{n} // {groups}, {t['BLOCK_N']})"
        grid = f"({tiles_m} * {tiles_n}, {groups})"
        py.append(
            self.launch_line(
                grid, {"num_warps": int(p["num_warps"]), "num_stages": int(p["num_stages"])}
            )
        )
        return Launch(self.name, self.kernel_source(), self.py, self.helpers)

    @staticmethod
    def grouped_direct(cv: Conv2d) -> bool:
        """A grouped conv with few output channels per group (depthwise: one) runs as a
        direct conv over all channels at once: per group, an implicit GEMM tile would be
        mostly padding, and one program per group is 960 programs for MobileNetV2's widest
        depthwise layer (minutes per forward under the interpreter)."""
        assert cv.w is not None
        return cv.groups > 1 and not cv.transposed and cv.w.shape[0] // cv.groups < 16

    def build_grouped(
        self,
        cv: Conv2d,
        sp: list[str],
        up: list[str],
        X: str,
        Wp: str,
        M: str,
        OCG: str,
        KT: str,
        IN: list[str],
        OUT: list[str],
        CG: str,
        sx: list[str],
        swt: list[str],
        t: dict[str, str],
    ) -> Launch:
        """acc[m, oc] = sum over k < CG * prod(K) of x[m's window, group(oc) * CG + ic] *
        w[oc, ic, k], a [BLOCK_M, BLOCK_N] tile of output pixels x channels per program,
        one multiply-add per step of k (no tl.dot: each channel has its own input)."""
        n, c, py, p = self.name, self.code, self.py, self.params
        OC = self.arg("OC", f"OC_{n}")
        c("pid = tl.program_id(0)")
        c(f"num_n = tl.cdiv({OC}, BLOCK_N)")
        c("pid_m = pid // num_n")
        c("pid_n = pid % num_n")
        c("rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)")
        c("oc = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)")
        c(f"g = oc // {OCG}")
        c(f"n_i = rm // ({' * '.join(OUT)})")
        for i, a in enumerate(sp):
            inner = " * ".join(OUT[i + 1 :])
            c(f"o{a} = (rm // ({inner})) % {OUT[i]}" if inner else f"o{a} = rm % {OUT[i]}")
        c("acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)")
        c(f"n_mask = oc < {OC}")
        with c.block(f"for k in range(0, {KT}):"):
            c(f"ic = k // ({' * '.join(f'K{u}' for u in up)})")
            for i, a in enumerate(sp):
                inner = " * ".join(f"K{u}" for u in up[i + 1 :])
                c(f"k{a} = (k // ({inner})) % K{up[i]}" if inner else f"k{a} = k % K{up[i]}")
            conds = [f"(rm[:, None] < {M})", "n_mask[None, :]"]
            for i, a in enumerate(sp):
                st, pd, dl = cv.stride[i], cv.padding[i], cv.dilation[i]
                c(f"i{a} = o{a} * {st} - {pd} + k{a} * {dl}")
                conds += [f"(i{a}[:, None] >= 0)", f"(i{a}[:, None] < {IN[i]})"]
            x_off = " + ".join(f"i{a}[:, None] * {sx[i + 2]}" for i, a in enumerate(sp))
            c(
                f"a = tl.load({X} + n_i[:, None] * {sx[0]} + (g * {CG} + ic)[None, :] * {sx[1]} "
                f"+ {x_off}, mask={' & '.join(conds)}, other=0.0)"
            )
            k_off = " + ".join(f"k{a} * {swt[i + 2]}" for i, a in enumerate(sp))
            c(
                f"b = tl.load({Wp} + oc * {swt[0]} + ic * {swt[1]} + {k_off}, mask=n_mask, other=0.0)"
            )
            c("acc += a.to(tl.float32) * b.to(tl.float32)[None, :]")
        c("c0 = n_i[:, None]")
        c("c1 = oc[None, :]")
        for i, a in enumerate(sp):
            c(f"c{i + 2} = o{a}[:, None]")
        c(f"omask = (rm[:, None] < {M}) & n_mask[None, :]")
        self.epilogue()
        pixels = " * ".join(f"O{u}_{n}" for u in up)
        grid = (
            f"(triton.cdiv(NB_{n} * {pixels}, {t['BLOCK_M']}) * "
            f"triton.cdiv(OC_{n}, {t['BLOCK_N']}),)"
        )
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
        rank = len(self.g.space)
        s = [self.arg(f"out{j}_s{d}", f"out{j}_{self.name}.stride({d})") for d in range(rank)]
        return " + ".join(f"c{d} * {s[d]}" for d in range(rank))
