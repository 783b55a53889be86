"""Lower the traced reference (the analysis JSON) into the baseline IR.

Every fx node becomes IR values: elementwise ops map to `Pointwise`, composite ops are
decomposed (softmax = max, sub, exp, sum, div; layer norm = two means; linear = matmul of
the transposed weight plus a bias; ...), layout ops (views, reshapes, sizes) become `PyOp`s
that `forward` runs with torch, and anything else raises `Unsupported` naming the op.
Each lowered fx node is checked against the shape the reference produced, so a lowering
that disagrees with torch fails here, loudly, instead of producing a wrong kernel.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agents.baseline.ir import (
    Arg,
    Const,
    Conv2d,
    Graph,
    Input,
    Matmul,
    Param,
    Pointwise,
    Pool2d,
    PyOp,
    Reduce,
    Scan,
    Unsupported,
    Value,
    broadcast,
    is_float,
    matmul_shape,
    norm_axes,
    reduced_shape,
    walk_order,
)
from agents.baseline.ops import POINTWISE


@dataclass(frozen=True)
class DType:
    name: str


@dataclass(frozen=True)
class Ignored:
    what: str


class ShapeOf:
    """`t.shape` / `t.size()` of a tensor value, resolved lazily to per-dim expressions."""

    def __init__(self, value: Value) -> None:
        self.value = value


_FLOAT_RANK = {"float16": 1, "bfloat16": 1, "float32": 2, "float64": 3}
_EPS = {
    "float32": 1.1920928955078125e-07,
    "float64": 2.220446049250313e-16,
    "float16": 0.0009765625,
    "bfloat16": 0.0078125,
}


def promote(dtypes: list[str], has_float_scalar: bool = False) -> str:
    floats = [d for d in dtypes if is_float(d)]
    if floats:
        if len(set(floats)) == 1:
            return floats[0]
        top = max(floats, key=lambda d: _FLOAT_RANK[d])
        return "float32" if _FLOAT_RANK[top] == 1 else top
    if has_float_scalar:
        return "float32"
    if any(d not in ("bool",) for d in dtypes):
        return "int64"
    return "bool" if dtypes else "float32"


# ---------------------------------------------------------------- argument binding


def _parse_spec(spec: str) -> list[tuple[str, Any, bool]]:
    """'input, dim=None, *, keepdim=False' -> [(name, default, required)]."""
    out: list[tuple[str, Any, bool]] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part or part == "*":
            continue
        if part.startswith("*"):
            out.append((part, None, False))  # *args collector
            continue
        if "=" in part:
            name, default = part.split("=", 1)
            out.append((name.strip(), ast.literal_eval(default.strip()), False))
        else:
            out.append((part, None, True))
    return out


def bind(name: str, spec: str, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    params = _parse_spec(spec)
    bound: dict[str, Any] = {}
    rest = list(args)
    for pname, default, required in params:
        if pname.startswith("*"):
            bound[pname[1:]] = rest
            rest = []
            continue
        if rest:
            bound[pname] = rest.pop(0)
        elif pname in kwargs:
            bound[pname] = kwargs[pname]
        elif required:
            raise Unsupported(f"{name}: missing argument {pname!r}")
        else:
            bound[pname] = default
    if rest:
        raise Unsupported(f"{name}: unexpected extra arguments")
    extra = set(kwargs) - {p[0] for p in params}
    extra = {k for k in extra if k not in ("inplace", "out", "dtype", "layout", "device")}
    if extra:
        raise Unsupported(f"{name} with argument {sorted(extra)[0]!r}")
    return bound


# ---------------------------------------------------------------- helpers


def is_tensor(x: Any) -> bool:
    return isinstance(x, Value) and x.is_tensor()


def is_scalar(x: Any) -> bool:
    return (isinstance(x, Value) and not x.is_tensor()) or (
        isinstance(x, int | float | bool) and not isinstance(x, DType)
    )


def as_arg(x: Any, what: str) -> Arg:
    if isinstance(x, Value):
        return x
    if isinstance(x, bool | int | float):
        return Const(x)
    raise Unsupported(f"{what}: operand of type {type(x).__name__}")


def render(x: Any, refs: list[Value]) -> str:
    """Python source for a lowered argument inside a PyOp format string."""
    if isinstance(x, Value):
        refs.append(x)
        return f"{{{len(refs) - 1}}}"
    if isinstance(x, ShapeOf):
        return render_shape(x, refs)
    if isinstance(x, DType):
        return f"torch.{x.name}"
    if isinstance(x, slice):
        parts = ["" if p is None else render(p, refs) for p in (x.start, x.stop, x.step)]
        text = f"{parts[0]}:{parts[1]}"
        return text + (f":{parts[2]}" if parts[2] else "")
    if x is Ellipsis:
        return "..."
    if isinstance(x, list | tuple):
        inner = ", ".join(render(v, refs) for v in x)
        return f"({inner},)" if len(x) == 1 else f"({inner})"
    if isinstance(x, float) and (math.isinf(x) or math.isnan(x)):
        return f'float("{x}")'
    if isinstance(x, bool | int | float | str) or x is None:
        return repr(x)
    if isinstance(x, Ignored):
        raise Unsupported(f"argument {x.what}")
    raise Unsupported(f"argument of type {type(x).__name__}")


def render_shape(s: ShapeOf, refs: list[Value]) -> str:
    dims = [render(dim_expr(s.value, d), refs) for d in range(s.value.rank)]
    return "(" + "".join(f"{d}, " for d in dims) + ")"


def dim_expr(v: Value, d: int) -> Any:
    """A scalar PyOp (or int) giving `v.shape[d]` at run time without materializing `v`."""
    src = dim_source(v, d % max(v.rank, 1))
    if src is None:
        return PyOp(shape=(), dtype="int64", fmt=f"{{0}}.shape[{d}]", refs=[v], tensor=False)
    if isinstance(src, int):
        return src
    leaf, ld = src
    return PyOp(shape=(), dtype="int64", fmt=f"{{0}}.shape[{ld}]", refs=[leaf], tensor=False)


def dim_source(v: Value, d: int) -> tuple[Value, int] | int | None:
    if isinstance(v, Input | Param) or (isinstance(v, PyOp) and v.tensor):
        return (v, d)
    if isinstance(v, Pointwise):
        want = v.shape[d]
        offset = v.rank - d
        for a in v.operands():
            if not a.is_tensor() or a.rank < offset:
                continue
            ad = a.rank - offset
            if a.shape[ad] == want and (want != 1 or a.rank == v.rank):
                return dim_source(a, ad)
        return None
    if isinstance(v, Reduce) and v.src is not None:
        if v.keepdim:
            return 1 if d in v.axes else dim_source(v.src, d)
        kept = [i for i in range(v.src.rank) if i not in v.axes]
        return dim_source(v.src, kept[d])
    if isinstance(v, Scan) and v.src is not None:
        return dim_source(v.src, d)
    if isinstance(v, Matmul) and v.a is not None and v.b is not None:
        if d == v.rank - 1:
            return dim_source(v.b, v.b.rank - 1)
        if d == v.rank - 2:
            return dim_source(v.a, v.a.rank - 2)
        return None
    if isinstance(v, Conv2d | Pool2d) and d in (0, 1):
        x = v.x
        if isinstance(v, Conv2d) and d == 1 and v.w is not None:
            return dim_source(v.w, 0)
        return dim_source(x, d) if x is not None else None
    return None


# ---------------------------------------------------------------- the lowering

Handler = Callable[["Lowering", dict[str, Any]], Any]
_FUNCS: dict[str, tuple[str, Handler]] = {}


def op(*names: str, spec: str) -> Callable[[Handler], Handler]:
    def wrap(fn: Handler) -> Handler:
        for n in names:
            _FUNCS[n] = (spec, fn)
        return fn

    return wrap


_OPERATOR_NAMES = {
    "add": "add",
    "iadd": "add",
    "sub": "sub",
    "isub": "sub",
    "mul": "mul",
    "imul": "mul",
    "truediv": "div",
    "itruediv": "div",
    "floordiv": "floor_divide",
    "ifloordiv": "floor_divide",
    "mod": "remainder",
    "pow": "pow",
    "ipow": "pow",
    "neg": "neg",
    "pos": "positive",
    "abs": "abs",
    "matmul": "matmul",
    "imatmul": "matmul",
    "getitem": "getitem",
    "eq": "eq",
    "ne": "ne",
    "lt": "lt",
    "le": "le",
    "gt": "gt",
    "ge": "ge",
    "and_": "logical_and",
    "or_": "logical_or",
    "xor": "logical_xor",
    "invert": "logical_not",
    "iand": "logical_and",
    "ior": "logical_or",
}
_TORCH_PREFIXES = (
    "torch.nn.functional.",
    "torch._C._nn.",
    "torch._C._VariableFunctions.",
    "torch._C._linalg.",
    "torch._C._special.",
    "torch.special.",
    "torch.linalg.",
    "torch.functional.",
    "torch.Tensor.",
    "torch._VF.",
    "torch.",
)
_ALIASES = {
    "special_expit": "sigmoid",
    "expit": "sigmoid",
    "swish": "silu",
    "true_divide": "div",
    "divide": "div",
    "multiply": "mul",
    "subtract": "sub",
    "clip": "clamp",
    "greater": "gt",
    "less": "lt",
    "greater_equal": "ge",
    "less_equal": "le",
    "not_equal": "ne",
    "absolute": "abs",
    "negative": "neg",
    "special_erf": "erf",
    "special_erfc": "erfc",
    "concat": "cat",
    "concatenate": "cat",
    "swapaxes": "transpose",
    "swapdims": "transpose",
    "fix": "trunc",
    "arctan2": "atan2",
    "linalg_vector_norm": "vector_norm",
    "frobenius_norm": "norm",
    "special_logsumexp": "logsumexp",
    "moveaxis": "movedim",
}


def function_name(target: str) -> str:
    if target.startswith("_operator."):
        base = target.removeprefix("_operator.")
        if base not in _OPERATOR_NAMES:
            raise Unsupported(f"unsupported op operator.{base}")
        return _OPERATOR_NAMES[base]
    if target in ("getattr", "builtins.getattr"):
        return "getattr"
    if target.startswith("math."):
        return "math." + target.removeprefix("math.")
    for prefix in _TORCH_PREFIXES:
        if target.startswith(prefix):
            name = target.removeprefix(prefix)
            return _ALIASES.get(name, name)
    raise Unsupported(f"unsupported op {target}")


def method_name(name: str) -> str:
    if name.endswith("_") and not name.endswith("__"):
        name = name[:-1]
    return _ALIASES.get(name, name)


class Lowering:
    def __init__(self, analysis: dict[str, Any]) -> None:
        self.analysis = analysis
        self.training = bool(analysis.get("training", True))
        self.env: dict[str, Any] = {}
        self.meta: dict[str, Any] = {}
        self.params = analysis.get("params", {}) | analysis.get("buffers", {})
        self.current = ""
        self.needs_math = False
        self.diagonals: dict[int, Value] = {}  # id of a torch.diag(v) PyOp -> v

    # ------------------------------------------------------------ decoding
    def decode(self, arg: Any) -> Any:
        if isinstance(arg, dict):
            if "node" in arg:
                return self.env[arg["node"]]
            if "pyexpr" in arg:
                dtype = "float32" if arg.get("float") else "int64"
                return self.scalar_py(arg["pyexpr"], [], dtype)
            if "list" in arg:
                return [self.decode(a) for a in arg["list"]]
            if "dtype" in arg:
                return DType(arg["dtype"])
            if "slice" in arg:
                start, stop, step = (self.decode(a) for a in arg["slice"])
                return slice(start, stop, step)
            if "ellipsis" in arg:
                return Ellipsis
            if "float" in arg:
                return float(arg["float"])
            if "dict" in arg:
                return {k: self.decode(v) for k, v in arg["dict"].items()}
            if "device" in arg or "ignored" in arg:
                return Ignored(str(arg.get("device") or arg.get("ignored")))
            if "tensor_constant" in arg:
                raise Unsupported("a tensor constant created inside forward")
            raise Unsupported(f"an argument of type {arg.get('unsupported', '?')}")
        return arg

    # ------------------------------------------------------------ building blocks
    def pw(self, op_name: str, *args: Any, dtype: str | None = None) -> Value:
        spec = POINTWISE[op_name]
        if len(args) != len(spec.args):
            raise Unsupported(f"internal: {op_name} takes {len(spec.args)} operands")
        lowered = [as_arg(a, op_name) for a in args]
        tensors = [a for a in lowered if isinstance(a, Value) and a.is_tensor()]
        if not tensors:
            raise Unsupported(f"internal: {op_name} without a tensor operand")
        shape = broadcast(*(t.shape for t in tensors))
        if dtype is None:
            if spec.kind == "bool":
                dtype = "bool"
            else:
                has_float_scalar = any(
                    (isinstance(a, Const) and isinstance(a.value, float))
                    or (isinstance(a, Value) and not a.is_tensor() and is_float(a.dtype))
                    for a in lowered
                )
                dtype = promote([t.dtype for t in tensors], has_float_scalar)
                if spec.kind == "float" and not is_float(dtype):
                    dtype = "float32"
        return Pointwise(shape=shape, dtype=dtype, op=op_name, args=lowered)

    def reduce(
        self, op_name: str, x: Value, axes: Any, keepdim: bool, correction: float = 0.0
    ) -> Value:
        if not is_tensor(x):
            raise Unsupported(f"{op_name} of a non-tensor")
        ax = norm_axes(axes, x.rank)
        if x.rank == 0:
            ax = ()
        shape = reduced_shape(x.shape, ax, keepdim)
        if op_name in ("argmax", "argmin") or (
            op_name in ("sum", "prod") and not is_float(x.dtype)
        ):
            dtype = "int64"
        else:
            dtype = x.dtype if is_float(x.dtype) else "float32"
        return Reduce(
            shape=shape,
            dtype=dtype,
            op=op_name,
            src=x,
            axes=ax,
            keepdim=keepdim,
            correction=correction,
        )

    def mean(self, x: Value, axes: Any, keepdim: bool, correction: float = 0.0) -> Value:
        return self.reduce("mean", x, axes, keepdim, correction)

    def view(self, x: Value, fmt: str, shape: tuple[int, ...], *extra: Any) -> Value:
        refs: list[Value] = [x]
        rendered = [render(e, refs) for e in extra]
        return PyOp(
            shape=shape, dtype=x.dtype, fmt=fmt.format("{0}", *rendered), refs=refs, tensor=True
        )

    def channel_view(self, p: Value, rank: int) -> Value:
        """A (C,) parameter viewed as (C, 1, ..., 1) to broadcast along dim 1 of a rank-`rank` x."""
        ones = rank - 2
        if ones <= 0:
            return p
        return self.view(p, "{0}.view(-1" + ", 1" * ones + ")", (p.shape[0],) + (1,) * ones)

    def scalar_py(self, fmt: str, refs: list[Value], dtype: str) -> Value:
        return PyOp(shape=(), dtype=dtype, fmt=fmt, refs=refs, tensor=False)

    # ------------------------------------------------------------ nodes
    def bind_symbols(self) -> None:
        """Constants that follow the problem size become reads of the module attribute."""
        if self.analysis.get("unresolved"):
            raise Unsupported(
                "a constant in forward changes with the problem size and matches no module "
                f"attribute ({self.analysis['unresolved'][0]})"
            )
        by_name = {n["name"]: n for n in self.analysis["nodes"]}
        for sym in self.analysis.get("symbols", []):
            holder: Any = by_name[sym["node"]]
            path = list(sym["path"])
            last = path.pop()
            for step in path:
                holder = holder[step]
                if isinstance(holder, dict) and "list" in holder:
                    holder = holder["list"]
            value = holder[last]
            holder[last] = {"pyexpr": sym["expr"], "float": isinstance(value, float)}

    def run(self) -> Graph:
        self.bind_symbols()
        inputs: list[Input] = []
        names: list[str] = []
        outputs: Any = None
        for node in self.analysis["nodes"]:
            self.current = node["name"]
            meta = node.get("meta") or {}
            self.meta[node["name"]] = meta
            kind = node["op"]
            if kind == "placeholder":
                names.append(node["target"])
                if meta.get("kind") == "scalar" and isinstance(meta.get("value"), int | float):
                    # a Python number passed to forward: a run-time scalar for the kernels
                    dtype = "float32" if isinstance(meta["value"], float) else "int64"
                    self.env[node["name"]] = self.scalar_py(node["target"], [], dtype)
                    continue
                if meta.get("kind") != "tensor":
                    raise Unsupported(f"forward argument {node['target']!r} is not a tensor")
                v = Input(
                    shape=tuple(meta["shape"]),
                    dtype=meta["dtype"],
                    index=len(inputs),
                    name=node["target"],
                )
                inputs.append(v)
                self.env[node["name"]] = v
                continue
            if kind == "get_attr":
                path = node["target"]
                if path not in self.params or meta.get("kind") != "tensor":
                    raise Unsupported(f"attribute {path!r} is not a parameter or buffer")
                self.env[node["name"]] = Param(
                    shape=tuple(meta["shape"]), dtype=meta["dtype"], path=path
                )
                continue
            if kind == "output":
                outputs = self.decode(node["args"][0])
                continue
            args = [self.decode(a) for a in node["args"]]
            kwargs = {k: self.decode(v) for k, v in node["kwargs"].items()}
            if kind == "call_module":
                result = self.call_module(node, args, kwargs)
            elif kind == "call_method":
                result = self.call(method_name(node["target"]), args, kwargs, method=True)
            elif kind == "call_function":
                result = self.call(function_name(node["target"]), args, kwargs, method=False)
            else:
                raise Unsupported(f"fx node kind {kind}")
            self.env[node["name"]] = self.check(result, meta, node)
        flat = outputs if isinstance(outputs, list) else [outputs]
        outs: list[Value] = []
        for o in flat:
            if isinstance(o, ShapeOf) or not is_tensor(o):
                raise Unsupported("a forward that returns something other than tensors")
            outs.append(self.ensure_copy(o))
        values = walk_order(outs)
        return Graph(
            inputs=inputs,
            values=values,
            outputs=outs,
            output_is_tuple=isinstance(outputs, list),
            input_names=names,
        )

    def ensure_copy(self, v: Value) -> Value:
        """Outputs must be written by a kernel, never alias an input."""
        root = v
        while isinstance(root, PyOp) and root.refs:
            root = root.refs[0]
        if isinstance(root, Input | Param | PyOp):
            return self.pw("identity", v, dtype=v.dtype)
        return v

    def check(self, result: Any, meta: dict[str, Any], node: dict[str, Any]) -> Any:
        if isinstance(result, Value) and result.is_tensor():
            if meta.get("kind") != "tensor":
                raise Unsupported(
                    f"internal: {node['target']} lowered to a tensor, got a non-tensor"
                )
            want = tuple(meta["shape"])
            if result.shape != want:
                raise Unsupported(
                    f"internal: {node['target']} lowered to shape {list(result.shape)}, "
                    f"the reference gave {list(want)}"
                )
            result.dtype = meta["dtype"]
        elif (
            isinstance(result, Value)
            and meta.get("kind") == "scalar"
            and isinstance(meta.get("value"), float | int)
        ):
            result.dtype = "float32" if isinstance(meta["value"], float) else "int64"
        return result

    def call(self, name: str, args: list[Any], kwargs: dict[str, Any], method: bool) -> Any:
        if name.startswith("math."):
            return self.math_call(name, args)
        entry = _FUNCS.get(name)
        if entry is None:
            raise Unsupported(f"unsupported op {name}")
        spec, fn = entry
        if (method and spec.startswith("@")) or spec.startswith("@"):
            spec = spec[1:]
        bound = bind(name, spec, args, kwargs)
        bound["__name__"] = name
        bound["__method__"] = method
        return fn(self, bound)

    def math_call(self, name: str, args: list[Any]) -> Any:
        if any(is_tensor(a) for a in args):
            raise Unsupported(f"unsupported op {name} on a tensor")
        refs: list[Value] = []
        fmt = f"{name}(" + ", ".join(render(a, refs) for a in args) + ")"
        self.needs_math = True
        return self.scalar_py(fmt, refs, "float32")

    def call_module(self, node: dict[str, Any], args: list[Any], kwargs: dict[str, Any]) -> Any:
        mod = node["module"]
        handler = _MODULES.get(mod["type"])
        if handler is None:
            raise Unsupported(f"unsupported op nn.{mod['type']}")
        attrs = {k: self.decode(v) for k, v in mod["attrs"].items()}
        attrs["__type__"] = mod["type"]
        target = node["target"]

        def param(name: str) -> Value | None:
            shape = mod["params"].get(name, mod["buffers"].get(name))
            if shape is None:
                return None
            path = f"{target}.{name}"
            dtype = self.analysis.get("dtypes", {}).get(path, "float32")
            return Param(shape=tuple(shape), dtype=dtype, path=path)

        if kwargs:
            raise Unsupported(f"nn.{mod['type']} called with keyword arguments")
        return handler(self, args, attrs, param, bool(mod.get("training", self.training)))


# ================================================================ function handlers


def _need_tensor(b: dict[str, Any], key: str = "input") -> Value:
    v = b[key]
    if not is_tensor(v):
        raise Unsupported(f"{b['__name__']} of a non-tensor")
    return v


def _unary(op_name: str) -> Handler:
    def fn(lw: Lowering, b: dict[str, Any]) -> Any:
        return lw.pw(op_name, _need_tensor(b))

    return fn


for _name in (
    "relu",
    "relu6",
    "abs",
    "exp",
    "exp2",
    "expm1",
    "log",
    "log2",
    "log10",
    "log1p",
    "sqrt",
    "rsqrt",
    "reciprocal",
    "square",
    "sin",
    "cos",
    "tanh",
    "erf",
    "erfc",
    "floor",
    "ceil",
    "trunc",
    "frac",
    "sigmoid",
    "logsigmoid",
    "silu",
    "mish",
    "softsign",
    "selu",
    "hardsigmoid",
    "hardswish",
    "tanhshrink",
    "sign",
    "sgn",
    "logical_not",
    "isnan",
    "neg",
):
    op(_name, spec="input, inplace=False")(_unary("sign" if _name == "sgn" else _name))


@op("positive", "clone", "detach", "contiguous_copy", spec="input, *, memory_format=None")
def _identity(lw: Lowering, b: dict[str, Any]) -> Any:
    x = b["input"]
    if b["__name__"] == "detach" or not is_tensor(x):
        return x
    return lw.pw("identity", x)


@op("round", spec="input, decimals=0")
def _round(lw: Lowering, b: dict[str, Any]) -> Any:
    if b["decimals"]:
        raise Unsupported("round with decimals")
    return lw.pw("round", _need_tensor(b))


@op("gelu", spec="input, approximate='none'")
def _gelu(lw: Lowering, b: dict[str, Any]) -> Any:
    return lw.pw("gelu_tanh" if b["approximate"] == "tanh" else "gelu", _need_tensor(b))


@op("leaky_relu", spec="input, negative_slope=0.01, inplace=False")
def _leaky(lw: Lowering, b: dict[str, Any]) -> Any:
    return lw.pw("leaky_relu", _need_tensor(b), b["negative_slope"])


@op("elu", spec="input, alpha=1.0, inplace=False")
def _elu(lw: Lowering, b: dict[str, Any]) -> Any:
    return lw.pw("elu", _need_tensor(b), b["alpha"])


@op("celu", spec="input, alpha=1.0, inplace=False")
def _celu(lw: Lowering, b: dict[str, Any]) -> Any:
    return lw.pw("celu", _need_tensor(b), b["alpha"])


@op("softplus", spec="input, beta=1.0, threshold=20.0")
def _softplus(lw: Lowering, b: dict[str, Any]) -> Any:
    return lw.pw("softplus", _need_tensor(b), b["beta"], b["threshold"])


@op("hardtanh", spec="input, min_val=-1.0, max_val=1.0, inplace=False")
def _hardtanh(lw: Lowering, b: dict[str, Any]) -> Any:
    return lw.pw("hardtanh", _need_tensor(b), b["min_val"], b["max_val"])


@op("hardshrink", "softshrink", spec="input, lambd=0.5")
def _shrink(lw: Lowering, b: dict[str, Any]) -> Any:
    return lw.pw(b["__name__"], _need_tensor(b), b["lambd"])


@op("threshold", spec="input, threshold, value, inplace=False")
def _threshold(lw: Lowering, b: dict[str, Any]) -> Any:
    return lw.pw("threshold", _need_tensor(b), b["threshold"], b["value"])


@op("prelu", spec="input, weight")
def _prelu(lw: Lowering, b: dict[str, Any]) -> Any:
    x, w = _need_tensor(b), b["weight"]
    if is_tensor(w) and w.rank == 1 and w.shape[0] != 1 and x.rank >= 2:
        w = lw.channel_view(w, x.rank)
    return lw.pw("prelu", x, w)


@op("clamp", spec="input, min=None, max=None")
def _clamp(lw: Lowering, b: dict[str, Any]) -> Any:
    x = _need_tensor(b)
    lo, hi = b["min"], b["max"]
    if lo is None and hi is None:
        raise Unsupported("clamp without bounds")
    if lo is not None:
        x = lw.pw("clamp_min", x, lo)
    if hi is not None:
        x = lw.pw("clamp_max", x, hi)
    return x


@op("clamp_min", spec="input, min")
def _clamp_min(lw: Lowering, b: dict[str, Any]) -> Any:
    return lw.pw("clamp_min", _need_tensor(b), b["min"])


@op("clamp_max", spec="input, max")
def _clamp_max(lw: Lowering, b: dict[str, Any]) -> Any:
    return lw.pw("clamp_max", _need_tensor(b), b["max"])


def _scalar_binop(lw: Lowering, sym: str, x: Any, y: Any) -> Value:
    refs: list[Value] = []
    fmt = f"({render(x, refs)} {sym} {render(y, refs)})"
    dtype = "float32" if any(isinstance(v, float) for v in (x, y)) else "int64"
    return lw.scalar_py(fmt, refs, dtype)


_PY_SYMBOLS = {
    "add": "+",
    "sub": "-",
    "mul": "*",
    "div": "/",
    "floor_divide": "//",
    "remainder": "%",
    "pow": "**",
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "le": "<=",
    "gt": ">",
    "ge": ">=",
}


def _binary(op_name: str) -> Handler:
    def fn(lw: Lowering, b: dict[str, Any]) -> Any:
        x, y = b["input"], b["other"]
        if isinstance(x, ShapeOf) or isinstance(y, ShapeOf):
            raise Unsupported(f"{op_name} on a shape")
        if not is_tensor(x) and not is_tensor(y):
            return _scalar_binop(lw, _PY_SYMBOLS.get(op_name, "+"), x, y)
        alpha = b.get("alpha", 1)
        if op_name in ("add", "sub") and alpha != 1:
            y = lw.pw("mul", y, alpha) if is_tensor(y) else _scalar_binop(lw, "*", y, alpha)
        if not is_tensor(x):
            # scalar OP tensor: keep the order of operands
            return lw.pw(op_name, x, y) if op_name not in ("pow",) else lw.pw("rpow_scalar", y, x)
        if op_name == "pow" and not is_tensor(y):
            return _pow_scalar(lw, x, y)
        return lw.pw(op_name, x, y)

    return fn


def _pow_scalar(lw: Lowering, x: Value, e: Any) -> Value:
    if isinstance(e, int | float) and float(e).is_integer() and -4 <= e <= 4:
        n = int(e)
        if n == 0:
            return lw.pw("add", lw.pw("mul", x, 0.0), 1.0)
        base = x
        out = base
        for _ in range(abs(n) - 1):
            out = lw.pw("mul", out, base)
        return lw.pw("reciprocal", out) if n < 0 else out
    if e == 0.5:
        return lw.pw("sqrt", x)
    if e == -0.5:
        return lw.pw("rsqrt", x)
    return lw.pw("pow_scalar", x, e)


for _name in ("add", "sub"):
    op(_name, spec="input, other, *, alpha=1")(_binary(_name))
for _name in (
    "mul",
    "maximum",
    "minimum",
    "fmax",
    "fmin",
    "hypot",
    "xlogy",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "logical_and",
    "logical_or",
    "logical_xor",
    "floor_divide",
    "remainder",
    "fmod",
    "pow",
):
    _target = {"fmax": "maximum", "fmin": "minimum"}.get(_name, _name)
    op(_name, spec="input, other")(_binary(_target))
op("float_power", spec="input, exponent")(
    lambda lw, b: _binary("pow")(lw, {"input": b["input"], "other": b["exponent"]})
)


@op("rsub", spec="input, other, alpha=1")
def _rsub(lw: Lowering, b: dict[str, Any]) -> Any:
    x = b["input"] if b["alpha"] == 1 else lw.pw("mul", b["input"], b["alpha"])
    return lw.pw("sub", b["other"], x)


@op("div", spec="input, other, *, rounding_mode=None")
def _div(lw: Lowering, b: dict[str, Any]) -> Any:
    x, y = b["input"], b["other"]
    if not is_tensor(x) and not is_tensor(y):
        return _scalar_binop(lw, "/" if b["rounding_mode"] is None else "//", x, y)
    q = lw.pw("div", x, y)
    if b["rounding_mode"] == "floor":
        return lw.pw("floor", q)
    if b["rounding_mode"] == "trunc":
        return lw.pw("trunc", q)
    return q


@op("where", spec="condition, input=None, other=None")
def _where(lw: Lowering, b: dict[str, Any]) -> Any:
    if b["input"] is None:
        raise Unsupported("where(condition) without values (nonzero)")
    return lw.pw("where", b["condition"], b["input"], b["other"])


@op("masked_fill", spec="input, mask, value")
def _masked_fill(lw: Lowering, b: dict[str, Any]) -> Any:
    return lw.pw("where", b["mask"], b["value"], _need_tensor(b))


@op("lerp", spec="input, end, weight")
def _lerp(lw: Lowering, b: dict[str, Any]) -> Any:
    return lw.pw("lerp", _need_tensor(b), b["end"], b["weight"])


@op("addcmul", "addcdiv", spec="input, tensor1, tensor2, *, value=1")
def _addc(lw: Lowering, b: dict[str, Any]) -> Any:
    return lw.pw(b["__name__"], _need_tensor(b), b["tensor1"], b["tensor2"], b["value"])


@op("tril", "triu", spec="input, diagonal=0")
def _tri(lw: Lowering, b: dict[str, Any]) -> Any:
    x = _need_tensor(b)
    if x.rank < 2:
        raise Unsupported(f"{b['__name__']} of a 1-D tensor")
    row = Pointwise(shape=x.shape, dtype="int64", op="coord", args=[x])
    row.attrs["axis"] = x.rank - 2
    col = Pointwise(shape=x.shape, dtype="int64", op="coord", args=[x])
    col.attrs["axis"] = x.rank - 1
    diff = lw.pw("sub", col, row, dtype="int64")
    keep = lw.pw("le" if b["__name__"] == "tril" else "ge", diff, b["diagonal"])
    return lw.pw("where", keep, x, lw.pw("mul", x, 0))


def _cast(dtype: str) -> Handler:
    def fn(lw: Lowering, b: dict[str, Any]) -> Any:
        x = _need_tensor(b)
        if x.dtype == dtype:
            return x
        return lw.pw("cast", x, dtype=dtype)

    return fn


for _name, _dt in (
    ("float", "float32"),
    ("half", "float16"),
    ("bfloat16", "bfloat16"),
    ("double", "float64"),
    ("int", "int32"),
    ("long", "int64"),
    ("bool", "bool"),
):
    op(_name, spec="input, memory_format=None")(_cast(_dt))


@op("to", "type", spec="input, *args, non_blocking=False, copy=False")
def _to(lw: Lowering, b: dict[str, Any]) -> Any:
    x = _need_tensor(b)
    dtypes = [a for a in b["args"] if isinstance(a, DType)]
    others = [a for a in b["args"] if is_tensor(a)]
    if others:
        dtypes.append(DType(others[0].dtype))
    if not dtypes:
        return x  # .to(device)
    return _cast(dtypes[0].name)(lw, {"input": x, "__name__": "to"})


@op("type_as", spec="input, other")
def _type_as(lw: Lowering, b: dict[str, Any]) -> Any:
    return _cast(b["other"].dtype)(lw, {"input": b["input"], "__name__": "type_as"})


@op(
    "dropout",
    "alpha_dropout",
    "feature_alpha_dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    spec="input, p=0.5, training=True, inplace=False",
)
def _dropout(lw: Lowering, b: dict[str, Any]) -> Any:
    if b["p"] == 0 or not b["training"]:
        return _need_tensor(b)
    raise Unsupported("unsupported op dropout in training mode (random)")


# ---------------------------------------------------------------- reductions


def _dims(b: dict[str, Any], key: str = "dim") -> Any:
    d = b.get(key)
    if isinstance(d, list):
        return tuple(d)
    return d


@op("sum", "nansum", spec="input, dim=None, keepdim=False, *, dtype=None")
def _sum(lw: Lowering, b: dict[str, Any]) -> Any:
    return lw.reduce("sum", _need_tensor(b), _dims(b), bool(b["keepdim"]))


@op("mean", "nanmean", spec="input, dim=None, keepdim=False, *, dtype=None")
def _mean(lw: Lowering, b: dict[str, Any]) -> Any:
    return lw.mean(_need_tensor(b), _dims(b), bool(b["keepdim"]))


@op("prod", spec="input, dim=None, keepdim=False, *, dtype=None")
def _prod(lw: Lowering, b: dict[str, Any]) -> Any:
    return lw.reduce("prod", _need_tensor(b), _dims(b), bool(b["keepdim"]))


@op("amax", "amin", spec="input, dim=(), keepdim=False")
def _amax(lw: Lowering, b: dict[str, Any]) -> Any:
    which = "max" if b["__name__"] == "amax" else "min"
    return lw.reduce(which, _need_tensor(b), _dims(b), bool(b["keepdim"]))


@op("max", "min", spec="input, dim=None, keepdim=False")
def _max(lw: Lowering, b: dict[str, Any]) -> Any:
    x, dim, which = b["input"], b["dim"], b["__name__"]
    if is_tensor(dim):  # torch.max(a, b): elementwise
        return lw.pw("maximum" if which == "max" else "minimum", x, dim)
    x = _need_tensor(b)
    if dim is None:
        return lw.reduce(which, x, None, False)
    keep = bool(b["keepdim"])
    values = lw.reduce(which, x, dim, keep)
    indices = lw.reduce("arg" + which, x, dim, keep)
    return [values, indices]


@op("argmax", "argmin", spec="input, dim=None, keepdim=False")
def _argmax(lw: Lowering, b: dict[str, Any]) -> Any:
    x = _need_tensor(b)
    if b["dim"] is None and b["keepdim"]:
        raise Unsupported(f"{b['__name__']} with dim=None and keepdim=True")
    return lw.reduce(b["__name__"], x, b["dim"], bool(b["keepdim"]))


def _correction(b: dict[str, Any]) -> float:
    if b.get("correction") is not None:
        return float(b["correction"])
    unbiased = b.get("unbiased")
    return 0.0 if unbiased is False else 1.0


def _variance(lw: Lowering, x: Value, dim: Any, keepdim: bool, correction: float) -> Value:
    m = lw.mean(x, dim, True)
    d = lw.pw("sub", x, m)
    return lw.mean(lw.pw("mul", d, d), dim, keepdim, correction)


@op("var", "std", spec="input, dim=None, unbiased=None, keepdim=False, *, correction=None")
def _var(lw: Lowering, b: dict[str, Any]) -> Any:
    x = _need_tensor(b)
    dim = b["dim"]
    if isinstance(dim, bool):  # var(x, unbiased) positional form
        b["unbiased"], dim = dim, None
    v = _variance(lw, x, _dims({"dim": dim}), bool(b["keepdim"]), _correction(b))
    return lw.pw("sqrt", v) if b["__name__"] == "std" else v


def _vector_norm(lw: Lowering, x: Value, p: Any, dim: Any, keepdim: bool) -> Value:
    if p in (2, 2.0, "fro", None):
        return lw.pw("sqrt", lw.reduce("sum", lw.pw("mul", x, x), dim, keepdim))
    if p in (1, 1.0):
        return lw.reduce("sum", lw.pw("abs", x), dim, keepdim)
    if p == float("inf"):
        return lw.reduce("max", lw.pw("abs", x), dim, keepdim)
    if isinstance(p, int | float) and p > 0:
        powered = lw.pw("pow_scalar", lw.pw("abs", x), float(p))
        return lw.pw("pow_scalar", lw.reduce("sum", powered, dim, keepdim), 1.0 / float(p))
    raise Unsupported(f"unsupported op norm with p={p!r}")


@op("norm", spec="input, p='fro', dim=None, keepdim=False, dtype=None")
def _norm(lw: Lowering, b: dict[str, Any]) -> Any:
    return _vector_norm(lw, _need_tensor(b), b["p"], _dims(b), bool(b["keepdim"]))


@op("vector_norm", spec="x, ord=2, dim=None, keepdim=False, *, dtype=None")
def _vnorm(lw: Lowering, b: dict[str, Any]) -> Any:
    return _vector_norm(lw, _need_tensor(b, "x"), b["ord"], _dims(b), bool(b["keepdim"]))


@op("logsumexp", spec="input, dim, keepdim=False")
def _logsumexp(lw: Lowering, b: dict[str, Any]) -> Any:
    x, dim, keep = _need_tensor(b), _dims(b), bool(b["keepdim"])
    m = lw.reduce("max", x, dim, True)
    s = lw.reduce("sum", lw.pw("exp", lw.pw("sub", x, m)), dim, keep)
    return lw.pw("add", lw.pw("log", s), lw.reduce("max", x, dim, keep))


@op("dot", "inner", "vdot", spec="input, other")
def _dot(lw: Lowering, b: dict[str, Any]) -> Any:
    x, y = _need_tensor(b), _need_tensor(b, "other")
    if x.rank != 1 or y.rank != 1:
        raise Unsupported(f"{b['__name__']} of tensors with more than one dimension")
    return lw.reduce("sum", lw.pw("mul", x, y), None, False)


@op("cumsum", "cumprod", spec="input, dim, *, dtype=None")
def _cumsum(lw: Lowering, b: dict[str, Any]) -> Any:
    x = _need_tensor(b)
    axis = norm_axes(b["dim"], x.rank)[0]
    dtype = x.dtype if is_float(x.dtype) else "int64"
    return Scan(shape=x.shape, dtype=dtype, op=b["__name__"], src=x, axis=axis)


# ---------------------------------------------------------------- normalizations


@op("softmax", "log_softmax", "softmin", spec="input, dim=None, _stacklevel=3, dtype=None")
def _softmax(lw: Lowering, b: dict[str, Any]) -> Any:
    x = _need_tensor(b)
    if b["dim"] is None:
        raise Unsupported(f"{b['__name__']} without dim")
    if b["__name__"] == "softmin":
        x = lw.pw("neg", x)
    dim = b["dim"]
    m = lw.reduce("max", x, dim, True)
    z = lw.pw("sub", x, m)
    e = lw.pw("exp", z)
    s = lw.reduce("sum", e, dim, True)
    if b["__name__"] == "log_softmax":
        return lw.pw("sub", z, lw.pw("log", s))
    return lw.pw("div", e, s)


def _layer_norm(
    lw: Lowering, x: Value, nshape: Any, w: Any, bias: Any, eps: float, rms: bool = False
) -> Value:
    k = 1 if isinstance(nshape, int) else len(nshape)
    axes = tuple(range(x.rank - k, x.rank))
    if rms:
        ms = lw.mean(lw.pw("mul", x, x), axes, True)
        y = lw.pw("mul", x, lw.pw("rsqrt", lw.pw("add", ms, eps)))
    else:
        m = lw.mean(x, axes, True)
        xc = lw.pw("sub", x, m)
        var = lw.mean(lw.pw("mul", xc, xc), axes, True)
        y = lw.pw("mul", xc, lw.pw("rsqrt", lw.pw("add", var, eps)))
    if is_tensor(w):
        y = lw.pw("mul", y, w)
    if is_tensor(bias):
        y = lw.pw("add", y, bias)
    return y


@op("layer_norm", spec="input, normalized_shape, weight=None, bias=None, eps=1e-05")
def _ln(lw: Lowering, b: dict[str, Any]) -> Any:
    x = _need_tensor(b)
    return _layer_norm(lw, x, b["normalized_shape"], b["weight"], b["bias"], b["eps"])


@op("rms_norm", spec="input, normalized_shape, weight=None, eps=None")
def _rms(lw: Lowering, b: dict[str, Any]) -> Any:
    x = _need_tensor(b)
    eps = b["eps"] if b["eps"] is not None else _EPS.get(x.dtype, _EPS["float32"])
    return _layer_norm(lw, x, b["normalized_shape"], b["weight"], None, eps, rms=True)


@op("normalize", spec="input, p=2.0, dim=1, eps=1e-12")
def _normalize(lw: Lowering, b: dict[str, Any]) -> Any:
    x = _need_tensor(b)
    n = _vector_norm(lw, x, b["p"], b["dim"], True)
    return lw.pw("div", x, lw.pw("clamp_min", n, b["eps"]))


def _batch_norm(
    lw: Lowering,
    x: Value,
    mean: Any,
    var: Any,
    w: Any,
    bias: Any,
    training: bool,
    eps: float,
) -> Value:
    if x.rank < 2:
        raise Unsupported("batch_norm of a 1-D tensor")
    axes = (0, *range(2, x.rank))
    if training or not is_tensor(mean) or not is_tensor(var):
        m = lw.mean(x, axes, True)
        xc = lw.pw("sub", x, m)
        v = lw.mean(lw.pw("mul", xc, xc), axes, True)
    else:
        xc = lw.pw("sub", x, lw.channel_view(mean, x.rank))
        v = lw.channel_view(var, x.rank)
    y = lw.pw("mul", xc, lw.pw("rsqrt", lw.pw("add", v, eps)))
    if is_tensor(w):
        y = lw.pw("mul", y, lw.channel_view(w, x.rank))
    if is_tensor(bias):
        y = lw.pw("add", y, lw.channel_view(bias, x.rank))
    return y


@op(
    "batch_norm",
    spec="input, running_mean, running_var, weight=None, bias=None, "
    "training=False, momentum=0.1, eps=1e-05",
)
def _bn(lw: Lowering, b: dict[str, Any]) -> Any:
    return _batch_norm(
        lw,
        _need_tensor(b),
        b["running_mean"],
        b["running_var"],
        b["weight"],
        b["bias"],
        bool(b["training"]),
        b["eps"],
    )


def _instance_norm(lw: Lowering, x: Value, w: Any, bias: Any, eps: float) -> Value:
    if x.rank < 3:
        raise Unsupported("instance_norm of a tensor with fewer than 3 dims")
    axes = tuple(range(2, x.rank))
    m = lw.mean(x, axes, True)
    xc = lw.pw("sub", x, m)
    v = lw.mean(lw.pw("mul", xc, xc), axes, True)
    y = lw.pw("mul", xc, lw.pw("rsqrt", lw.pw("add", v, eps)))
    if is_tensor(w):
        y = lw.pw("mul", y, lw.channel_view(w, x.rank))
    if is_tensor(bias):
        y = lw.pw("add", y, lw.channel_view(bias, x.rank))
    return y


@op(
    "instance_norm",
    spec="input, running_mean=None, running_var=None, weight=None, bias=None, "
    "use_input_stats=True, momentum=0.1, eps=1e-05",
)
def _in(lw: Lowering, b: dict[str, Any]) -> Any:
    if not b["use_input_stats"]:
        raise Unsupported("instance_norm with running statistics")
    return _instance_norm(lw, _need_tensor(b), b["weight"], b["bias"], b["eps"])


def _group_norm(lw: Lowering, x: Value, groups: int, w: Any, bias: Any, eps: float) -> Value:
    if x.rank < 2 or not isinstance(groups, int) or x.shape[1] % groups:
        raise Unsupported("group_norm with this shape")
    n, c = x.shape[0], x.shape[1]
    rest = int(math.prod(x.shape[2:])) if x.rank > 2 else 1
    xg = lw.view(
        x,
        "{0}.reshape({0}.shape[0], " + str(groups) + ", {0}.shape[1] // " + str(groups) + ", -1)",
        (n, groups, c // groups, rest),
    )
    axes = (2, 3)
    m = lw.mean(xg, axes, True)
    xc = lw.pw("sub", xg, m)
    v = lw.mean(lw.pw("mul", xc, xc), axes, True)
    y = lw.pw("mul", xc, lw.pw("rsqrt", lw.pw("add", v, eps)))
    if is_tensor(w):
        y = lw.pw(
            "mul", y, lw.view(w, "{0}.view(" + str(groups) + ", -1, 1)", (groups, c // groups, 1))
        )
    if is_tensor(bias):
        y = lw.pw(
            "add",
            y,
            lw.view(bias, "{0}.view(" + str(groups) + ", -1, 1)", (groups, c // groups, 1)),
        )
    out = PyOp(shape=x.shape, dtype=x.dtype, fmt="{0}.view({1}.shape)", refs=[y, x], tensor=True)
    return out


@op("group_norm", spec="input, num_groups, weight=None, bias=None, eps=1e-05")
def _gn(lw: Lowering, b: dict[str, Any]) -> Any:
    return _group_norm(lw, _need_tensor(b), b["num_groups"], b["weight"], b["bias"], b["eps"])


@op("cosine_similarity", spec="x1, x2, dim=1, eps=1e-08")
def _cos(lw: Lowering, b: dict[str, Any]) -> Any:
    x1, x2, dim, eps = b["x1"], b["x2"], b["dim"], b["eps"]
    shape = broadcast(x1.shape, x2.shape)
    dim = norm_axes(dim, len(shape))
    w12 = lw.reduce("sum", lw.pw("mul", x1, x2), dim, False)
    n1 = lw.reduce("sum", lw.pw("mul", x1, x1), dim, False)
    n2 = lw.reduce("sum", lw.pw("mul", x2, x2), dim, False)
    den = lw.pw(
        "mul",
        lw.pw("sqrt", lw.pw("clamp_min", n1, eps * eps)),
        lw.pw("sqrt", lw.pw("clamp_min", n2, eps * eps)),
    )
    return lw.pw("div", w12, den)


@op("pairwise_distance", spec="x1, x2, p=2.0, eps=1e-06, keepdim=False")
def _pdist(lw: Lowering, b: dict[str, Any]) -> Any:
    d = lw.pw("add", lw.pw("sub", b["x1"], b["x2"]), b["eps"])
    return _vector_norm(lw, d, b["p"], -1, bool(b["keepdim"]))


# ---------------------------------------------------------------- losses


def _reduce_loss(lw: Lowering, loss: Value, reduction: str) -> Value:
    if reduction == "mean":
        return lw.mean(loss, None, False)
    if reduction == "sum":
        return lw.reduce("sum", loss, None, False)
    if reduction == "none":
        return loss
    raise Unsupported(f"loss reduction {reduction!r}")


_LOSS = "input, target, size_average=None, reduce=None, reduction='mean'"


@op("mse_loss", spec=_LOSS + ", weight=None")
def _mse(lw: Lowering, b: dict[str, Any]) -> Any:
    d = lw.pw("sub", b["input"], b["target"])
    return _reduce_loss(lw, lw.pw("mul", d, d), b["reduction"])


@op("l1_loss", spec=_LOSS)
def _l1(lw: Lowering, b: dict[str, Any]) -> Any:
    return _reduce_loss(lw, lw.pw("abs", lw.pw("sub", b["input"], b["target"])), b["reduction"])


@op("smooth_l1_loss", spec=_LOSS + ", beta=1.0")
def _smooth_l1(lw: Lowering, b: dict[str, Any]) -> Any:
    beta = b["beta"]
    d = lw.pw("abs", lw.pw("sub", b["input"], b["target"]))
    if beta == 0:
        return _reduce_loss(lw, d, b["reduction"])
    quad = lw.pw("div", lw.pw("mul", lw.pw("mul", d, d), 0.5), beta)
    lin = lw.pw("sub", d, 0.5 * beta)
    return _reduce_loss(lw, lw.pw("where", lw.pw("lt", d, beta), quad, lin), b["reduction"])


@op("huber_loss", spec="input, target, reduction='mean', delta=1.0, weight=None")
def _huber(lw: Lowering, b: dict[str, Any]) -> Any:
    delta = b["delta"]
    d = lw.pw("abs", lw.pw("sub", b["input"], b["target"]))
    quad = lw.pw("mul", lw.pw("mul", d, d), 0.5)
    lin = lw.pw("mul", lw.pw("sub", d, 0.5 * delta), delta)
    return _reduce_loss(lw, lw.pw("where", lw.pw("lt", d, delta), quad, lin), b["reduction"])


@op("kl_div", spec=_LOSS + ", log_target=False")
def _kl(lw: Lowering, b: dict[str, Any]) -> Any:
    x, t = b["input"], b["target"]
    if b["log_target"]:
        loss = lw.pw("mul", lw.pw("exp", t), lw.pw("sub", t, x))
    else:
        loss = lw.pw("sub", lw.pw("xlogy", t, t), lw.pw("mul", t, x))
    if b["reduction"] == "batchmean":
        total = lw.reduce("sum", loss, None, False)
        return lw.pw("div", total, dim_expr(x, 0))
    return _reduce_loss(lw, loss, b["reduction"])


def _nll_rows(lw: Lowering, logp: Value, target: Value) -> Value:
    """-logp[i, target[i]] per row of a (N, C) tensor, as a (N,) value."""
    if logp.rank != 2 or target.rank != 1:
        raise Unsupported("cross_entropy/nll_loss beyond (N, C) inputs with class-index targets")
    cls = Pointwise(shape=logp.shape, dtype="int64", op="coord", args=[logp])
    cls.attrs["axis"] = 1
    tcol = lw.view(target, "{0}.view(-1, 1)", (target.shape[0], 1))
    picked = lw.pw("where", lw.pw("eq", cls, tcol), logp, 0.0)
    return lw.pw("neg", lw.reduce("sum", picked, 1, False))


@op(
    "cross_entropy",
    spec="input, target, weight=None, size_average=None, ignore_index=-100, "
    "reduce=None, reduction='mean', label_smoothing=0.0",
)
def _ce(lw: Lowering, b: dict[str, Any]) -> Any:
    if b["weight"] is not None or b["label_smoothing"]:
        raise Unsupported("cross_entropy with class weights or label smoothing")
    x, t = b["input"], b["target"]
    if not is_tensor(t) or is_float(t.dtype):
        raise Unsupported("cross_entropy with probability targets")
    m = lw.reduce("max", x, 1, True)
    z = lw.pw("sub", x, m)
    logp = lw.pw("sub", z, lw.pw("log", lw.reduce("sum", lw.pw("exp", z), 1, True)))
    return _reduce_loss(lw, _nll_rows(lw, logp, t), b["reduction"])


@op(
    "nll_loss",
    spec="input, target, weight=None, size_average=None, ignore_index=-100, "
    "reduce=None, reduction='mean'",
)
def _nll(lw: Lowering, b: dict[str, Any]) -> Any:
    if b["weight"] is not None:
        raise Unsupported("nll_loss with class weights")
    return _reduce_loss(lw, _nll_rows(lw, b["input"], b["target"]), b["reduction"])


@op(
    "binary_cross_entropy",
    spec="input, target, weight=None, size_average=None, reduce=None, reduction='mean'",
)
def _bce(lw: Lowering, b: dict[str, Any]) -> Any:
    x, t = b["input"], b["target"]
    lx = lw.pw("clamp_min", lw.pw("log", x), -100.0)
    l1x = lw.pw("clamp_min", lw.pw("log", lw.pw("sub", 1.0, x)), -100.0)
    loss = lw.pw("neg", lw.pw("add", lw.pw("mul", t, lx), lw.pw("mul", lw.pw("sub", 1.0, t), l1x)))
    if is_tensor(b["weight"]):
        loss = lw.pw("mul", loss, b["weight"])
    return _reduce_loss(lw, loss, b["reduction"])


@op(
    "binary_cross_entropy_with_logits",
    spec="input, target, weight=None, size_average=None, "
    "reduce=None, reduction='mean', pos_weight=None",
)
def _bcel(lw: Lowering, b: dict[str, Any]) -> Any:
    if b["pos_weight"] is not None:
        raise Unsupported("binary_cross_entropy_with_logits with pos_weight")
    x, t = b["input"], b["target"]
    loss = lw.pw("sub", lw.pw("relu", x), lw.pw("mul", x, t))
    loss = lw.pw("add", loss, lw.pw("log1p", lw.pw("exp", lw.pw("neg", lw.pw("abs", x)))))
    if is_tensor(b["weight"]):
        loss = lw.pw("mul", loss, b["weight"])
    return _reduce_loss(lw, loss, b["reduction"])


@op(
    "triplet_margin_loss",
    spec="anchor, positive, negative, margin=1.0, p=2.0, eps=1e-06, "
    "swap=False, size_average=None, reduce=None, reduction='mean'",
)
def _triplet(lw: Lowering, b: dict[str, Any]) -> Any:
    if b["swap"]:
        raise Unsupported("triplet_margin_loss with swap")
    a, pos, neg = b["anchor"], b["positive"], b["negative"]

    def dist(u: Value, v: Value) -> Value:
        return _vector_norm(lw, lw.pw("add", lw.pw("sub", u, v), b["eps"]), b["p"], -1, False)

    loss = lw.pw(
        "clamp_min", lw.pw("add", lw.pw("sub", dist(a, pos), dist(a, neg)), b["margin"]), 0.0
    )
    return _reduce_loss(lw, loss, b["reduction"])


# ---------------------------------------------------------------- matmul family


def _matmul(lw: Lowering, a: Value, b: Value) -> Value:
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
def _diag(lw: Lowering, b: dict[str, Any]) -> Any:
    x = _need_tensor(b)
    if x.rank != 1 or b["diagonal"] != 0:
        raise Unsupported("unsupported op diag of a matrix")
    out = lw.view(x, "torch.diag({0})", (x.shape[0], x.shape[0]))
    lw.diagonals[out.id] = x
    return out


@op("matmul", "mm", "bmm", "mv", spec="input, other")
def _mm(lw: Lowering, b: dict[str, Any]) -> Any:
    return _matmul(lw, b["input"], b["other"])


@op("linear", spec="input, weight, bias=None")
def _linear(lw: Lowering, b: dict[str, Any]) -> Any:
    w = b["weight"]
    wt = lw.view(w, "{0}.t()", (w.shape[1], w.shape[0])) if w.rank == 2 else w
    y = _matmul(lw, b["input"], wt)
    if is_tensor(b["bias"]):
        y = lw.pw("add", y, b["bias"])
    return y


@op("addmm", "baddbmm", "addmv", spec="input, mat1, mat2, *, beta=1, alpha=1")
def _addmm(lw: Lowering, b: dict[str, Any]) -> Any:
    y = _matmul(lw, b["mat1"], b["mat2"])
    if b["alpha"] != 1:
        y = lw.pw("mul", y, b["alpha"])
    if b["beta"] == 0:
        return y
    inp = b["input"] if b["beta"] == 1 else lw.pw("mul", b["input"], b["beta"])
    return lw.pw("add", y, inp)


@op("outer", "ger", spec="input, vec2")
def _outer(lw: Lowering, b: dict[str, Any]) -> Any:
    x, y = b["input"], b["vec2"]
    xc = lw.view(x, "{0}.unsqueeze(1)", (x.shape[0], 1))
    yr = lw.view(y, "{0}.unsqueeze(0)", (1, y.shape[0]))
    return lw.pw("mul", xc, yr)


# ---------------------------------------------------------------- convolution and pooling


def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    if isinstance(v, list | tuple) and len(v) == 2 and all(isinstance(i, int) for i in v):
        return (int(v[0]), int(v[1]))
    if isinstance(v, list | tuple) and len(v) == 1 and isinstance(v[0], int):
        return (int(v[0]), int(v[0]))
    raise Unsupported(f"a 2-D window argument {v!r}")


def _conv2d(
    lw: Lowering,
    x: Value,
    w: Value,
    bias: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: int,
) -> Value:
    if x.rank != 4 or w.rank != 4:
        raise Unsupported("conv2d of non 4-D tensors (batched NCHW only)")
    if "float64" in (x.dtype, w.dtype):
        raise Unsupported("conv2d in float64")
    st, dl = _pair(stride), _pair(dilation)
    kh, kw = w.shape[2], w.shape[3]
    if isinstance(padding, str):
        if padding == "valid":
            pd = (0, 0)
        elif (
            padding == "same"
            and st == (1, 1)
            and (dl[0] * (kh - 1)) % 2 == 0
            and (dl[1] * (kw - 1)) % 2 == 0
        ):
            pd = (dl[0] * (kh - 1) // 2, dl[1] * (kw - 1) // 2)
        else:
            raise Unsupported(f"conv2d padding={padding!r}")
    else:
        pd = _pair(padding)
    n, _, h, wd = x.shape
    oh = (h + 2 * pd[0] - dl[0] * (kh - 1) - 1) // st[0] + 1
    ow = (wd + 2 * pd[1] - dl[1] * (kw - 1) - 1) // st[1] + 1
    out: Value = Conv2d(
        shape=(n, w.shape[0], oh, ow),
        dtype=promote([x.dtype, w.dtype]),
        x=x,
        w=w,
        stride=st,
        padding=pd,
        dilation=dl,
        groups=int(groups),
    )
    if is_tensor(bias):
        out = lw.pw("add", out, lw.channel_view(bias, 4))
    return out


@op("conv2d", spec="input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1")
def _conv(lw: Lowering, b: dict[str, Any]) -> Any:
    return _conv2d(
        lw,
        b["input"],
        b["weight"],
        b["bias"],
        b["stride"],
        b["padding"],
        b["dilation"],
        b["groups"],
    )


def _pool2d(
    lw: Lowering,
    op_name: str,
    x: Value,
    kernel: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
    count_include_pad: bool = True,
    divisor: Any = None,
) -> Value:
    if ceil_mode:
        raise Unsupported(f"{op_name}_pool2d with ceil_mode=True")
    if x.rank not in (3, 4):
        raise Unsupported(f"{op_name}_pool2d of a {x.rank}-D tensor")
    k = _pair(kernel)
    st = _pair(stride) if stride not in (None, []) else k
    pd, dl = _pair(padding), _pair(dilation)
    if x.rank == 3:
        x = lw.view(x, "{0}.unsqueeze(0)", (1, *x.shape))
    n, c, h, w = x.shape
    oh = (h + 2 * pd[0] - dl[0] * (k[0] - 1) - 1) // st[0] + 1
    ow = (w + 2 * pd[1] - dl[1] * (k[1] - 1) - 1) // st[1] + 1
    return Pool2d(
        shape=(n, c, oh, ow),
        dtype=x.dtype,
        op=op_name,
        x=x,
        kernel=k,
        stride=st,
        padding=pd,
        dilation=dl,
        count_include_pad=bool(count_include_pad),
        divisor=divisor,
    )


@op(
    "max_pool2d",
    spec="input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, "
    "return_indices=False",
)
def _maxpool(lw: Lowering, b: dict[str, Any]) -> Any:
    if b["return_indices"]:
        raise Unsupported("max_pool2d with return_indices")
    return _pool2d(
        lw,
        "max",
        b["input"],
        b["kernel_size"],
        b["stride"],
        b["padding"],
        b["dilation"],
        b["ceil_mode"],
    )


@op(
    "avg_pool2d",
    spec="input, kernel_size, stride=None, padding=0, ceil_mode=False, "
    "count_include_pad=True, divisor_override=None",
)
def _avgpool(lw: Lowering, b: dict[str, Any]) -> Any:
    return _pool2d(
        lw,
        "avg",
        b["input"],
        b["kernel_size"],
        b["stride"],
        b["padding"],
        1,
        b["ceil_mode"],
        b["count_include_pad"],
        b["divisor_override"],
    )


def _pool1d(
    lw: Lowering,
    op_name: str,
    x: Value,
    kernel: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
    count_include_pad: bool = True,
) -> Value:
    """1-D pooling as 2-D pooling over a (1, L) plane."""
    if x.rank != 3:
        raise Unsupported(f"{op_name}_pool1d of a {x.rank}-D tensor")

    def one(v: Any) -> int:
        return int(v[0]) if isinstance(v, list | tuple) else int(v)

    x4 = lw.view(x, "{0}.unsqueeze(2)", (x.shape[0], x.shape[1], 1, x.shape[2]))
    k = one(kernel)
    st = one(stride) if stride not in (None, []) else k
    p = _pool2d(
        lw,
        op_name,
        x4,
        (1, k),
        (1, st),
        (0, one(padding)),
        (1, one(dilation)),
        ceil_mode,
        count_include_pad,
    )
    return PyOp(
        shape=(p.shape[0], p.shape[1], p.shape[3]),
        dtype=p.dtype,
        fmt="{0}.squeeze(2)",
        refs=[p],
        tensor=True,
    )


@op(
    "max_pool1d",
    spec="input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, "
    "return_indices=False",
)
def _maxpool1d(lw: Lowering, b: dict[str, Any]) -> Any:
    if b["return_indices"]:
        raise Unsupported("max_pool1d with return_indices")
    return _pool1d(
        lw,
        "max",
        b["input"],
        b["kernel_size"],
        b["stride"],
        b["padding"],
        b["dilation"],
        b["ceil_mode"],
    )


@op(
    "avg_pool1d",
    spec="input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True",
)
def _avgpool1d(lw: Lowering, b: dict[str, Any]) -> Any:
    return _pool1d(
        lw,
        "avg",
        b["input"],
        b["kernel_size"],
        b["stride"],
        b["padding"],
        1,
        b["ceil_mode"],
        b["count_include_pad"],
    )


def _adaptive(lw: Lowering, op_name: str, x: Value, size: Any, dims: int) -> Value:
    sizes = size if isinstance(size, list | tuple) else [size] * dims
    if all(s == 1 for s in sizes):
        axes = tuple(range(x.rank - dims, x.rank))
        return lw.reduce(op_name, x, axes, True)
    spatial = x.shape[x.rank - dims :]
    if all(s is None or s == d for s, d in zip(sizes, spatial, strict=True)):
        return lw.pw("identity", x)
    raise Unsupported(f"unsupported op adaptive_{op_name}_pool{dims}d to size {list(sizes)}")


@op("adaptive_avg_pool2d", spec="input, output_size")
def _aap2(lw: Lowering, b: dict[str, Any]) -> Any:
    return _adaptive(lw, "mean", _need_tensor(b), b["output_size"], 2)


@op("adaptive_avg_pool1d", spec="input, output_size")
def _aap1(lw: Lowering, b: dict[str, Any]) -> Any:
    return _adaptive(lw, "mean", _need_tensor(b), b["output_size"], 1)


@op("adaptive_max_pool2d", spec="input, output_size, return_indices=False")
def _amp2(lw: Lowering, b: dict[str, Any]) -> Any:
    return _adaptive(lw, "max", _need_tensor(b), b["output_size"], 2)


@op("adaptive_max_pool1d", spec="input, output_size, return_indices=False")
def _amp1(lw: Lowering, b: dict[str, Any]) -> Any:
    return _adaptive(lw, "max", _need_tensor(b), b["output_size"], 1)


# ---------------------------------------------------------------- layout and Python-level ops


def _py_from_meta(fmt: str, refs: list[Value], meta: dict[str, Any]) -> Value:
    kind = meta.get("kind")
    if kind == "tensor":
        return PyOp(
            shape=tuple(meta["shape"]), dtype=meta["dtype"], fmt=fmt, refs=refs, tensor=True
        )
    if kind == "scalar":
        val = meta.get("value")
        dtype = "float32" if isinstance(val, float) else "int64"
        return PyOp(shape=(), dtype=dtype, fmt=fmt, refs=refs, tensor=False)
    if kind == "tuple":
        return PyOp(shape=(), dtype="tuple", fmt=fmt, refs=refs, tensor=False)
    raise Unsupported("a layout op with an unexpected result")


def _method_or_fn(lw: Lowering, b: dict[str, Any], name: str, rest: list[str]) -> Value:
    """`x.name(rest...)` rendered as a PyOp (works for methods and torch.* functions alike)."""
    x = b["input"]
    if not is_tensor(x):
        raise Unsupported(f"{name} of a non-tensor")
    refs: list[Value] = []
    head = render(x, refs)
    parts: list[str] = []
    for r in rest:
        if r.startswith("*"):
            parts.extend(render(a, refs) for a in b[r[1:]])
        elif r.endswith("="):
            key = r[:-1]
            if b.get(key) is not None:
                parts.append(f"{key}={render(b[key], refs)}")
        else:
            parts.append(render(b[r], refs))
    return _py_from_meta(f"{head}.{name}({', '.join(parts)})", refs, lw.meta.get(lw.current, {}))


def _flatten_shape_args(args: list[Any]) -> list[Any]:
    if len(args) == 1 and isinstance(args[0], list | tuple | ShapeOf):
        return list(args[0]) if not isinstance(args[0], ShapeOf) else [args[0]]
    return args


def _shape_method(name: str) -> Handler:
    def fn(lw: Lowering, b: dict[str, Any]) -> Any:
        b["args"] = _flatten_shape_args(b["args"])
        if len(b["args"]) == 1 and isinstance(b["args"][0], ShapeOf):
            refs: list[Value] = []
            head = render(b["input"], refs)
            shape = render_shape(b["args"][0], refs)
            return _py_from_meta(f"{head}.{name}({shape})", refs, lw.meta.get(lw.current, {}))
        return _method_or_fn(lw, b, name, ["*args"])

    return fn


for _name in ("view", "reshape", "expand", "repeat", "tile"):
    op(_name, spec="input, *args")(_shape_method(_name))
op("permute", spec="input, *args")(
    lambda lw, b: _method_or_fn(
        lw, {**b, "args": _flatten_shape_args(b["args"])}, "permute", ["*args"]
    )
)
op("broadcast_to", spec="input, size")(
    lambda lw, b: _method_or_fn(
        lw,
        {**b, "args": list(b["size"]) if isinstance(b["size"], list) else [b["size"]]},
        "expand",
        ["*args"],
    )
)
op("transpose", spec="input, dim0, dim1")(
    lambda lw, b: _method_or_fn(lw, b, "transpose", ["dim0", "dim1"])
)
op("movedim", spec="input, source, destination")(
    lambda lw, b: _method_or_fn(lw, b, "movedim", ["source", "destination"])
)
op("t", spec="input")(lambda lw, b: _method_or_fn(lw, b, "t", []))
op("contiguous", spec="input, memory_format=None")(
    lambda lw, b: _method_or_fn(lw, b, "contiguous", [])
)
op("flatten", spec="input, start_dim=0, end_dim=-1")(
    lambda lw, b: _method_or_fn(lw, b, "flatten", ["start_dim", "end_dim"])
)
op("unflatten", spec="input, dim, sizes")(
    lambda lw, b: _method_or_fn(lw, b, "unflatten", ["dim", "sizes"])
)
op("squeeze", spec="input, dim=None")(lambda lw, b: _method_or_fn(lw, b, "squeeze", ["dim="]))
op("unsqueeze", spec="input, dim")(lambda lw, b: _method_or_fn(lw, b, "unsqueeze", ["dim"]))
op("flip", spec="input, *dims")(
    lambda lw, b: _method_or_fn(
        lw, {**b, "dims": _flatten_shape_args(b["dims"])}, "flip", ["*dims"]
    )
)
op("roll", spec="input, shifts, dims=None")(
    lambda lw, b: _method_or_fn(lw, b, "roll", ["shifts", "dims="])
)
op("narrow", spec="input, dim, start, length")(
    lambda lw, b: _method_or_fn(lw, b, "narrow", ["dim", "start", "length"])
)
op("select", spec="input, dim, index")(
    lambda lw, b: _method_or_fn(lw, b, "select", ["dim", "index"])
)
op("chunk", spec="input, chunks, dim=0")(
    lambda lw, b: _method_or_fn(lw, b, "chunk", ["chunks", "dim"])
)
op("split", spec="input, split_size_or_sections, dim=0")(
    lambda lw, b: _method_or_fn(lw, b, "split", ["split_size_or_sections", "dim"])
)
op("unbind", spec="input, dim=0")(lambda lw, b: _method_or_fn(lw, b, "unbind", ["dim"]))
op("view_as", "reshape_as", "expand_as", spec="input, other")(
    lambda lw, b: _method_or_fn(lw, b, b["__name__"], ["other"])
)


def _like(lw: Lowering, b: dict[str, Any], name: str) -> Value:
    x = _need_tensor(b)
    refs: list[Value] = []
    fmt = f"torch.{name}({render(x, refs)}"
    if b.get("dtype") is not None:
        fmt += f", dtype={render(b['dtype'], refs)}"
    return _py_from_meta(fmt + ")", refs, lw.meta.get(lw.current, {}))


def _like_handler(name: str) -> Handler:
    return lambda lw, b: _like(lw, b, name)


for _name in ("zeros_like", "ones_like", "empty_like"):
    op(_name, spec="input, *, dtype=None, memory_format=None")(_like_handler(_name))


@op("full_like", spec="input, fill_value, *, dtype=None")
def _full_like(lw: Lowering, b: dict[str, Any]) -> Any:
    x = _need_tensor(b)
    refs: list[Value] = []
    fmt = f"torch.full_like({render(x, refs)}, {render(b['fill_value'], refs)}"
    if b.get("dtype") is not None:
        fmt += f", dtype={render(b['dtype'], refs)}"
    return _py_from_meta(fmt + ")", refs, lw.meta.get(lw.current, {}))


@op("ones", "zeros", "empty", spec="*size, dtype=None, layout=None, device=None, "
    "requires_grad=False, pin_memory=False")  # fmt: skip
def _factory(lw: Lowering, b: dict[str, Any]) -> Any:
    """An allocation in forward (torch.ones(T, T, device=x.device) and the like)."""
    size = _flatten_shape_args(b["size"])
    refs: list[Value] = []
    parts = [render(s, refs) for s in size]
    for key in ("dtype", "device"):
        if b.get(key) is not None and not isinstance(b[key], Ignored):
            parts.append(f"{key}={render(b[key], refs)}")
    return _py_from_meta(
        f"torch.{b['__name__']}({', '.join(parts)})", refs, lw.meta.get(lw.current, {})
    )


@op("cat", "stack", spec="tensors, dim=0")
def _cat(lw: Lowering, b: dict[str, Any]) -> Any:
    tensors = b["tensors"]
    if not isinstance(tensors, list) or not all(is_tensor(t) for t in tensors):
        raise Unsupported(f"{b['__name__']} of non-tensors")
    refs: list[Value] = []
    fmt = f"torch.{b['__name__']}({render(tensors, refs)}, dim={render(b['dim'], refs)})"
    return _py_from_meta(fmt, refs, lw.meta.get(lw.current, {}))


@op("size", spec="input, dim=None")
def _size(lw: Lowering, b: dict[str, Any]) -> Any:
    x = _need_tensor(b)
    if b["dim"] is None:
        return ShapeOf(x)
    if not isinstance(b["dim"], int):
        raise Unsupported("size() with a computed dim")
    return dim_expr(x, b["dim"])


@op("dim", "ndimension", spec="input")
def _ndim(lw: Lowering, b: dict[str, Any]) -> Any:
    return _need_tensor(b).rank


@op("numel", spec="input")
def _numel(lw: Lowering, b: dict[str, Any]) -> Any:
    x = _need_tensor(b)
    if x.rank == 0:
        return 1
    refs: list[Value] = []
    fmt = " * ".join(render(dim_expr(x, d), refs) for d in range(x.rank))
    return lw.scalar_py(f"({fmt})", refs, "int64")


@op("getattr", spec="obj, name")
def _getattr(lw: Lowering, b: dict[str, Any]) -> Any:
    obj, name = b["obj"], b["name"]
    if isinstance(obj, list) and len(obj) == 2 and name in ("values", "indices"):
        return obj[0 if name == "values" else 1]  # torch.max(x, dim) and friends
    if not is_tensor(obj):
        raise Unsupported(f"attribute {name!r} of a non-tensor")
    if name == "shape":
        return ShapeOf(obj)
    if name == "ndim":
        return obj.rank
    if name in ("T", "mT"):
        if obj.rank == 2 or name == "mT":
            shape = (*obj.shape[:-2], obj.shape[-1], obj.shape[-2])
            return lw.view(obj, "{0}.transpose(-2, -1)", shape)
        return lw.view(
            obj, "{0}.permute(*range({0}.dim() - 1, -1, -1))", tuple(reversed(obj.shape))
        )
    if name == "dtype":
        return DType(obj.dtype)
    if name == "device":
        return PyOp(shape=(), dtype="device", fmt="{0}.device", refs=[obj], tensor=False)
    raise Unsupported(f"tensor attribute .{name}")


@op("getitem", spec="obj, index")
def _getitem(lw: Lowering, b: dict[str, Any]) -> Any:
    obj, index = b["obj"], b["index"]
    if isinstance(obj, ShapeOf):
        if isinstance(index, int):
            return dim_expr(obj.value, index)
        if isinstance(index, slice):
            dims = range(obj.value.rank)[index]
            return [dim_expr(obj.value, d) for d in dims]
        raise Unsupported("indexing a shape with a computed index")
    if isinstance(obj, list):
        if isinstance(index, int | slice):
            return obj[index]
        raise Unsupported("indexing a sequence with a computed index")
    if isinstance(obj, PyOp) and not obj.tensor:
        refs: list[Value] = []
        fmt = f"{render(obj, refs)}[{render(index, refs)}]"
        return _py_from_meta(fmt, refs, lw.meta.get(lw.current, {}))
    if is_tensor(obj):
        if is_tensor(index) or (isinstance(index, list) and any(is_tensor(i) for i in index)):
            raise Unsupported("unsupported op indexing with a tensor (gather)")
        refs = []
        obj_s = render(obj, refs)
        idx = index if isinstance(index, list) else [index]
        idx_s = ", ".join(render(i, refs) for i in idx)
        return _py_from_meta(f"{obj_s}[{idx_s}]", refs, lw.meta.get(lw.current, {}))
    raise Unsupported(f"indexing a {type(obj).__name__}")


# ================================================================ module handlers

ModuleHandler = Callable[[Lowering, list[Any], dict[str, Any], Callable[[str], Any], bool], Any]
_MODULES: dict[str, ModuleHandler] = {}


def module(*names: str) -> Callable[[ModuleHandler], ModuleHandler]:
    def wrap(fn: ModuleHandler) -> ModuleHandler:
        for n in names:
            _MODULES[n] = fn
        return fn

    return wrap


def _one(args: list[Any], what: str) -> Value:
    if len(args) != 1 or not is_tensor(args[0]):
        raise Unsupported(f"nn.{what} called with {len(args)} arguments")
    return args[0]


_SIMPLE_MODULES = {
    "ReLU": "relu",
    "ReLU6": "relu6",
    "Sigmoid": "sigmoid",
    "Tanh": "tanh",
    "SiLU": "silu",
    "Mish": "mish",
    "SELU": "selu",
    "Softsign": "softsign",
    "Hardsigmoid": "hardsigmoid",
    "Hardswish": "hardswish",
    "LogSigmoid": "logsigmoid",
    "Tanhshrink": "tanhshrink",
}


def _simple_module(name: str) -> ModuleHandler:
    def fn(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, training: bool) -> Any:
        return lw.pw(_SIMPLE_MODULES[name], _one(args, name))

    return fn


for _mname in _SIMPLE_MODULES:
    module(_mname)(_simple_module(_mname))


@module("Identity")
def _m_identity(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    return args[0]


@module("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout")
def _m_dropout(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    if attrs.get("p", 0.5) == 0 or not t:
        return _one(args, "Dropout")
    raise Unsupported("unsupported op nn.Dropout in training mode (random)")


@module("GELU")
def _m_gelu(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    return lw.pw("gelu_tanh" if attrs.get("approximate") == "tanh" else "gelu", _one(args, "GELU"))


@module("LeakyReLU")
def _m_leaky(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    return lw.pw("leaky_relu", _one(args, "LeakyReLU"), attrs.get("negative_slope", 0.01))


@module("ELU", "CELU")
def _m_elu(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    x = _one(args, "ELU")
    return lw.pw("celu" if attrs["__type__"] == "CELU" else "elu", x, attrs.get("alpha", 1.0))


@module("Softplus")
def _m_softplus(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    return lw.pw(
        "softplus", _one(args, "Softplus"), attrs.get("beta", 1.0), attrs.get("threshold", 20.0)
    )


@module("Hardtanh")
def _m_hardtanh(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    return lw.pw(
        "hardtanh", _one(args, "Hardtanh"), attrs.get("min_val", -1.0), attrs.get("max_val", 1.0)
    )


@module("Hardshrink", "Softshrink")
def _m_shrink(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    x = _one(args, "Shrink")
    name = "hardshrink" if attrs["__type__"] == "Hardshrink" else "softshrink"
    return lw.pw(name, x, attrs.get("lambd", 0.5))


@module("Threshold")
def _m_threshold(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    return lw.pw("threshold", _one(args, "Threshold"), attrs["threshold"], attrs["value"])


@module("PReLU")
def _m_prelu(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    return _prelu(
        lw, {"input": _one(args, "PReLU"), "weight": param("weight"), "__name__": "prelu"}
    )


@module("Softmax", "LogSoftmax", "Softmin")
def _m_softmax(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    name = {"Softmax": "softmax", "LogSoftmax": "log_softmax", "Softmin": "softmin"}[
        attrs["__type__"]
    ]
    return _softmax(lw, {"input": _one(args, "Softmax"), "dim": attrs.get("dim"), "__name__": name})


@module("Linear")
def _m_linear(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    return _linear(
        lw, {"input": _one(args, "Linear"), "weight": param("weight"), "bias": param("bias")}
    )


@module("LayerNorm")
def _m_ln(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    return _layer_norm(
        lw,
        _one(args, "LayerNorm"),
        attrs["normalized_shape"],
        param("weight"),
        param("bias"),
        attrs.get("eps", 1e-5),
    )


@module("RMSNorm")
def _m_rms(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    return _rms(
        lw,
        {
            "input": _one(args, "RMSNorm"),
            "normalized_shape": attrs["normalized_shape"],
            "weight": param("weight"),
            "eps": attrs.get("eps"),
        },
    )


@module("BatchNorm1d", "BatchNorm2d", "BatchNorm3d")
def _m_bn(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    x = _one(args, "BatchNorm")
    use_batch = t or not attrs.get("track_running_stats", True)
    return _batch_norm(
        lw,
        x,
        param("running_mean"),
        param("running_var"),
        param("weight"),
        param("bias"),
        use_batch,
        attrs.get("eps", 1e-5),
    )


@module("InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d")
def _m_in(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    if attrs.get("track_running_stats") and not t:
        raise Unsupported("InstanceNorm with running statistics in eval mode")
    return _instance_norm(
        lw, _one(args, "InstanceNorm"), param("weight"), param("bias"), attrs.get("eps", 1e-5)
    )


@module("GroupNorm")
def _m_gn(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    return _group_norm(
        lw,
        _one(args, "GroupNorm"),
        attrs["num_groups"],
        param("weight"),
        param("bias"),
        attrs.get("eps", 1e-5),
    )


@module("Conv2d")
def _m_conv(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    if attrs.get("padding_mode", "zeros") != "zeros":
        raise Unsupported(f"nn.Conv2d with padding_mode={attrs.get('padding_mode')!r}")
    return _conv2d(
        lw,
        _one(args, "Conv2d"),
        param("weight"),
        param("bias"),
        attrs["stride"],
        attrs["padding"],
        attrs["dilation"],
        attrs.get("groups", 1),
    )


@module("MaxPool2d")
def _m_maxpool(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    if attrs.get("return_indices"):
        raise Unsupported("nn.MaxPool2d with return_indices")
    return _pool2d(
        lw,
        "max",
        _one(args, "MaxPool2d"),
        attrs["kernel_size"],
        attrs.get("stride"),
        attrs.get("padding", 0),
        attrs.get("dilation", 1),
        attrs.get("ceil_mode", False),
    )


@module("AvgPool2d")
def _m_avgpool(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    return _pool2d(
        lw,
        "avg",
        _one(args, "AvgPool2d"),
        attrs["kernel_size"],
        attrs.get("stride"),
        attrs.get("padding", 0),
        1,
        attrs.get("ceil_mode", False),
        attrs.get("count_include_pad", True),
        attrs.get("divisor_override"),
    )


@module("MaxPool1d")
def _m_maxpool1d(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    if attrs.get("return_indices"):
        raise Unsupported("nn.MaxPool1d with return_indices")
    return _pool1d(
        lw,
        "max",
        _one(args, "MaxPool1d"),
        attrs["kernel_size"],
        attrs.get("stride"),
        attrs.get("padding", 0),
        attrs.get("dilation", 1),
        attrs.get("ceil_mode", False),
    )


@module("AvgPool1d")
def _m_avgpool1d(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    return _pool1d(
        lw,
        "avg",
        _one(args, "AvgPool1d"),
        attrs["kernel_size"],
        attrs.get("stride"),
        attrs.get("padding", 0),
        1,
        attrs.get("ceil_mode", False),
        attrs.get("count_include_pad", True),
    )


@module("AdaptiveAvgPool2d", "AdaptiveAvgPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool1d")
def _m_adaptive(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    kind = attrs["__type__"]
    return _adaptive(
        lw,
        "mean" if "Avg" in kind else "max",
        _one(args, kind),
        attrs["output_size"],
        2 if kind.endswith("2d") else 1,
    )


@module("Flatten")
def _m_flatten(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    b = {
        "input": _one(args, "Flatten"),
        "start_dim": attrs.get("start_dim", 1),
        "end_dim": attrs.get("end_dim", -1),
    }
    return _method_or_fn(lw, b, "flatten", ["start_dim", "end_dim"])


@module("Unflatten")
def _m_unflatten(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
    b = {"input": _one(args, "Unflatten"), "dim": attrs["dim"], "sizes": attrs["unflattened_size"]}
    return _method_or_fn(lw, b, "unflatten", ["dim", "sizes"])


def _loss_module(fn_name: str, keys: tuple[str, ...]) -> ModuleHandler:
    def fn(lw: Lowering, args: list[Any], attrs: dict[str, Any], param: Any, t: bool) -> Any:
        spec, handler = _FUNCS[fn_name]
        names = [p[0] for p in _parse_spec(spec)]
        b: dict[str, Any] = {}
        for n, a in zip(names, args, strict=False):
            b[n] = a
        for n, default, _ in _parse_spec(spec):
            b.setdefault(n, default)
        for k in keys:
            if k in attrs:
                b["p" if k == "norm" else k] = attrs[k]
        if param("weight") is not None:
            b["weight"] = param("weight")
        b["__name__"] = fn_name
        return handler(lw, b)

    return fn


for _mname, _fname, _keys in (
    ("MSELoss", "mse_loss", ("reduction",)),
    ("L1Loss", "l1_loss", ("reduction",)),
    ("SmoothL1Loss", "smooth_l1_loss", ("reduction", "beta")),
    ("HuberLoss", "huber_loss", ("reduction", "delta")),
    ("KLDivLoss", "kl_div", ("reduction", "log_target")),
    ("CrossEntropyLoss", "cross_entropy", ("reduction", "label_smoothing")),
    ("NLLLoss", "nll_loss", ("reduction",)),
    ("BCELoss", "binary_cross_entropy", ("reduction",)),
    ("BCEWithLogitsLoss", "binary_cross_entropy_with_logits", ("reduction",)),
    ("TripletMarginLoss", "triplet_margin_loss", ("margin", "p", "eps", "swap", "reduction")),
    ("CosineSimilarity", "cosine_similarity", ("dim", "eps")),
    ("PairwiseDistance", "pairwise_distance", ("norm", "eps", "keepdim")),
):
    module(_mname)(_loss_module(_fname, _keys))


def lower(analysis: dict[str, Any]) -> Graph:
    """The IR graph of an analysis; raises Unsupported naming the first op it cannot handle."""
    return Lowering(analysis).run()
