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
            if v.transposed:
                return dim_source(v.w, 1) if v.groups == 1 else None
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


def _need_tensor(b: dict[str, Any], key: str = "input") -> Value:
    v = b[key]
    if not is_tensor(v):
        raise Unsupported(f"{b['__name__']} of a non-tensor")
    return v


ModuleHandler = Callable[[Lowering, list[Any], dict[str, Any], Callable[[str], Any], bool], Any]
_MODULES: dict[str, ModuleHandler] = {}


def module(*names: str) -> Callable[[ModuleHandler], ModuleHandler]:
    def wrap(fn: ModuleHandler) -> ModuleHandler:
        for n in names:
            _MODULES[n] = fn
        return fn

    return wrap


def lower(analysis: dict[str, Any]) -> Graph:
    """The IR graph of an analysis; raises Unsupported naming the first op it cannot handle."""
    import agents.baseline.handlers  # noqa: F401 - registers the op and module handlers

    return Lowering(analysis).run()
