"""Lower the traced reference (the analysis JSON) into the baseline IR.

Every fx node becomes IR values: elementwise ops map to `Pointwise`, composite ops are
decomposed (softmax = max, sub, exp, sum, div; layer norm = two means; linear = matmul of
the transposed weight plus a bias; ...), layout ops (views, reshapes, sizes) become `PyOp`s
that `forward` runs with torch, and anything else raises `Unsupported` naming the op.
Each lowered fx node is checked against the shape the reference produced, so a lowering
that disagrees with torch fails here, loudly, instead of producing a wrong kernel.
"""

from __future__ import annotations

from typing import Any

import agents.baseline.lowering.handlers  # noqa: F401 - registers the op and module handlers
from agents.baseline.lowering.build import Builder, DType, Ignored, ShapeOf, is_tensor, render
from agents.baseline.lowering.handlers.layout import host_copy_op
from agents.baseline.lowering.ir import Graph, Input, Param, PyOp, Unsupported, Value, walk_order
from agents.baseline.lowering.registry import ModuleCall, invoke, module_handler

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
    "log_sigmoid": "logsigmoid",
}


def function_name(target: str) -> str:
    if target.startswith("_operator."):
        base = target.removeprefix("_operator.")
        if base not in _OPERATOR_NAMES:
            raise Unsupported.missing(f"operator.{base}")
        return _OPERATOR_NAMES[base]
    if target in ("getattr", "builtins.getattr"):
        return "getattr"
    if target.startswith("math."):
        return "math." + target.removeprefix("math.")
    for prefix in _TORCH_PREFIXES:
        if target.startswith(prefix):
            name = target.removeprefix(prefix)
            return _ALIASES.get(name, name)
    raise Unsupported.missing(target)


def method_name(name: str) -> str:
    if name.endswith("_") and not name.endswith("__"):
        name = name[:-1]
    return _ALIASES.get(name, name)


class Lowering(Builder):
    """Walks the traced reference's fx nodes, lowering each through its handler."""

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

    # ------------------------------------------------------------ nodes
    def bind_symbols(self) -> None:
        """Constants that follow the problem size become reads of the module attribute."""
        if baked := self.analysis.get("baked"):
            raise Unsupported.missing(baked[0]["op"], baked[0]["detail"])
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
                if isinstance(holder, dict) and ("list" in holder or "slice" in holder):
                    holder = holder.get("list", holder.get("slice"))
            value = holder[last]
            holder[last] = {"pyexpr": sym["expr"], "float": isinstance(value, float)}

    def run(self) -> Graph:
        self.bind_symbols()
        inputs: list[Input] = []
        names: list[str] = []
        outputs: Any = None
        nodes = self.analysis["nodes"]
        self.last_use: dict[str, int] = {}  # fx node name -> index of the last node reading it
        self.index = 0
        for i, node in enumerate(nodes):
            for name in _node_refs([node["args"], node["kwargs"]]):
                self.last_use[name] = i
        for self.index, node in enumerate(nodes):
            self.current = node["name"]
            meta = node.get("meta") or {}
            self.meta[node["name"]] = meta
            kind = node["op"]
            if kind == "placeholder":
                if len(names) >= self.analysis.get("input_count", len(names) + 1) and (
                    meta.get("kind") == "scalar" and meta.get("value") is None
                ):
                    # a forward argument get_inputs() leaves at its default None (`mask=None`)
                    names.append(f"{node['target']}=None")
                    self.env[node["name"]] = None
                    continue
                defaulted = len(names) >= self.analysis.get("input_count", len(names) + 1)
                value = meta.get("value")
                if meta.get("kind") == "scalar" and isinstance(value, int | float):
                    # a Python number passed to forward (or left at its default, `alpha=0.3`,
                    # which the signature keeps): a run-time scalar for the kernels
                    names.append(f"{node['target']}={value!r}" if defaulted else node["target"])
                    dtype = "float32" if isinstance(value, float) else "int64"
                    self.env[node["name"]] = self.scalar_py(node["target"], [], dtype)
                    continue
                names.append(node["target"])
                if meta.get("kind") != "tensor":
                    raise Unsupported(f"forward argument {node['target']!r} is not a tensor")
                v = Input(
                    shape=tuple(meta["shape"]),
                    dtype=meta["dtype"],
                    index=len(inputs),
                    name=node["target"],
                )
                inputs.append(v)
                self.first_input = self.first_input or v
                self.env[node["name"]] = v
                continue
            if kind == "get_attr":
                path = node["target"]
                if path not in self.params and "item" in meta:
                    # a constant tensor fx lifted out of forward (`torch.tensor(c)`)
                    self.env[node["name"]] = self.scalar_tensor(meta["item"], meta["dtype"])
                    continue
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
            self.rebind_mutated(node, kwargs, self.env[node["name"]])
        flat = outputs if isinstance(outputs, list) else [outputs]
        outs: list[Value] = []
        for o in flat:
            if isinstance(o, ShapeOf) or not is_tensor(o):
                raise Unsupported("a forward that returns something other than tensors")
            outs.append(self.ensure_copy(o))
        values = walk_order(outs)
        for value in values:
            if (copy_op := host_copy_op(value)) is not None:
                raise Unsupported.missing(copy_op, "left outside a kernel")
        return Graph(
            inputs=inputs,
            values=values,
            outputs=outs,
            output_is_tuple=isinstance(outputs, list),
            input_names=names,
        )

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
        return invoke(self, name, args, kwargs, method)

    def math_call(self, name: str, args: list[Any]) -> Any:
        if any(is_tensor(a) for a in args):
            raise Unsupported.missing(name, "on a tensor")
        refs: list[Value] = []
        fmt = f"{name}(" + ", ".join(render(a, refs) for a in args) + ")"
        return self.scalar_py(fmt, refs, "float32")

    def rebind_mutated(self, node: dict[str, Any], kwargs: dict[str, Any], result: Any) -> None:
        """After `y.mul_(s)` (or `F.relu(y, inplace=True)`, an inplace module) fx's later
        nodes still name `y`: they must read the op's result. A forward input or parameter
        (the caller would see the change), a view, or a tensor with views made before (the
        change would have to reach its aliases) is refused."""
        kind, target = node["op"], str(node["target"]).rsplit(".", 1)[-1]
        if kind == "call_method":
            inplace = target.endswith("_") and not target.endswith("__")
        elif kind == "call_module":
            inplace = node["module"]["attrs"].get("inplace") is True
            target = f"nn.{node['module']['type']}"
        else:
            inplace = kwargs.get("inplace") is True
        first = node["args"][0] if node["args"] else None
        if not (inplace and isinstance(first, dict) and "node" in first):
            return
        old = self.env[first["node"]]
        if not (is_tensor(old) and is_tensor(result)) or old is result:
            return
        if isinstance(old, Input | Param):
            # the reference changes its caller's tensor, which the harness holds a candidate to
            raise Unsupported(f"an in-place {target} on a forward input or parameter")
        later = [
            v
            for name, v in self.env.items()
            if self.last_use.get(name, -1) > self.index
            and (v is old or (isinstance(v, PyOp) and v.tensor and any(r is old for r in v.refs)))
        ]
        if not later:
            return  # nothing reads the old tensor or a view of it again
        if isinstance(old, PyOp) or any(v is not old for v in later):
            raise Unsupported(f"an in-place {target} on a tensor that is or has a view")
        self.env[first["node"]] = result

    def call_module(self, node: dict[str, Any], args: list[Any], kwargs: dict[str, Any]) -> Any:
        mod = node["module"]
        handler = module_handler(mod["type"])
        if handler is None:
            raise Unsupported.missing(f"nn.{mod['type']}")
        attrs = {k: self.decode(v) for k, v in mod["attrs"].items()}
        target = node["target"]

        def param(name: str) -> Value | None:
            path = f"{target}.{name}"  # a submodule's too: `out_proj.weight`
            shape = mod["params"].get(name, mod["buffers"].get(name, self.params.get(path)))
            if shape is None:
                return None
            dtype = self.analysis.get("dtypes", {}).get(path, "float32")
            return Param(shape=tuple(shape), dtype=dtype, path=path)

        if kwargs:
            raise Unsupported(f"nn.{mod['type']} called with keyword arguments")
        training = bool(mod.get("training", self.training))
        return handler(self, ModuleCall(mod["type"], args, attrs, param, training, target))


def _node_refs(arg: Any) -> list[str]:
    """The fx node names an encoded argument (nested lists and dicts) refers to."""
    if isinstance(arg, dict):
        if "node" in arg:
            return [arg["node"]]
        return [n for v in arg.values() for n in _node_refs(v)]
    if isinstance(arg, list | tuple):
        return [n for v in arg for n in _node_refs(v)]
    return []


def lower(analysis: dict[str, Any]) -> Graph:
    """The IR graph of an analysis; raises Unsupported naming the first op it cannot handle."""
    return Lowering(analysis).run()
