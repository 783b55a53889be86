"""The baseline lowering's handler registry and the call records handlers receive.

A *function handler* lowers one torch function or tensor method (`torch.relu`, `x.view`,
`F.conv2d`, `operator.add`): it is registered with `@op(name, spec=...)`, where the spec
is the Python signature its arguments are bound to ("input, dim=None, *, keepdim=False"),
and is called with the `Builder` and a `Call`. A *module handler* lowers one `nn.Module`
type: it is registered with `@module(TypeName)` and receives a `ModuleCall` (the call's
arguments, the module's attributes, its parameters by name and its training flag).

Handlers that reuse another op do it by name through `invoke`, binding the arguments the
way a call from the traced reference would, so no handler module imports another's
private functions.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agents.baseline.lowering.ir import Unsupported, Value

if TYPE_CHECKING:
    from agents.baseline.lowering.build import Builder

# Keyword arguments a torch call may carry that do not change what a kernel computes.
_HARMLESS_KWARGS = frozenset({"inplace", "out", "dtype", "layout", "device"})


@dataclass(frozen=True)
class Call:
    """One call of a torch function or method, its arguments bound to the op's spec."""

    name: str
    args: Mapping[str, Any]
    method: bool = False

    def __getitem__(self, key: str) -> Any:
        return self.args[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.args.get(key, default)

    def tensor(self, key: str = "input") -> Value:
        """The argument `key`, which must be a tensor."""
        v = self.args[key]
        if not (isinstance(v, Value) and v.is_tensor()):
            raise Unsupported(f"{self.name} of a non-tensor")
        return v

    def with_args(self, **args: Any) -> Call:
        """The same call with some arguments replaced."""
        return Call(self.name, {**self.args, **args}, self.method)


@dataclass(frozen=True)
class ModuleCall:
    """One call of an `nn.Module`: its type, positional arguments, attributes, parameters."""

    type: str
    args: list[Any]
    attrs: Mapping[str, Any]
    param: Callable[[str], Value | None]
    training: bool = False
    path: str = ""  # the module's path in the model (`encoder.rnn`)

    def one(self) -> Value:
        """The single tensor argument of a module called as `m(x)`."""
        if len(self.args) != 1 or not (
            isinstance(self.args[0], Value) and self.args[0].is_tensor()
        ):
            raise Unsupported(f"nn.{self.type} called with {len(self.args)} arguments")
        return self.args[0]

    def attr(self, name: str, default: Any = None) -> Any:
        return self.attrs.get(name, default)

    def weight(self) -> Value:
        """The module's `weight` parameter, which it must have."""
        w = self.param("weight")
        if w is None:
            raise Unsupported(f"nn.{self.type} without a weight")
        return w


Handler = Callable[["Builder", Call], Any]
ModuleHandler = Callable[["Builder", ModuleCall], Any]


@dataclass(frozen=True)
class OpEntry:
    spec: str
    fn: Handler
    params: list[tuple[str, Any, bool]] = field(default_factory=list)


_OPS: dict[str, OpEntry] = {}
_MODULES: dict[str, ModuleHandler] = {}


def parse_spec(spec: str) -> list[tuple[str, Any, bool]]:
    """'input, dim=None, *, keepdim=False' -> [(name, default, required)]."""
    out: list[tuple[str, Any, bool]] = []
    for part in (p.strip() for p in spec.removeprefix("@").split(",")):
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


def op(*names: str, spec: str) -> Callable[[Handler], Handler]:
    """Register a function handler under one or more torch names."""

    def wrap(fn: Handler) -> Handler:
        entry = OpEntry(spec, fn, parse_spec(spec))
        for n in names:
            _OPS[n] = entry
        return fn

    return wrap


def module(*names: str) -> Callable[[ModuleHandler], ModuleHandler]:
    """Register a module handler under one or more `nn.Module` type names."""

    def wrap(fn: ModuleHandler) -> ModuleHandler:
        for n in names:
            _MODULES[n] = fn
        return fn

    return wrap


def op_entry(name: str) -> OpEntry | None:
    return _OPS.get(name)


def module_handler(type_name: str) -> ModuleHandler | None:
    return _MODULES.get(type_name)


def op_names() -> frozenset[str]:
    return frozenset(_OPS)


def module_names() -> frozenset[str]:
    return frozenset(_MODULES)


def bind(name: str, entry: OpEntry, args: list[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The op's arguments by parameter name, as Python would bind them to its spec."""
    bound: dict[str, Any] = {}
    rest = list(args)
    for pname, default, required in entry.params:
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
    extra = set(kwargs) - {p[0] for p in entry.params} - _HARMLESS_KWARGS
    if extra:
        raise Unsupported(f"{name} with argument {sorted(extra)[0]!r}")
    return bound


def invoke(
    lw: Builder,
    name: str,
    args: list[Any],
    kwargs: Mapping[str, Any] | None = None,
    method: bool = False,
) -> Any:
    """Lower `name(*args, **kwargs)` through its registered handler."""
    entry = _OPS.get(name)
    if entry is None:
        raise Unsupported.missing(name)
    return entry.fn(lw, Call(name, bind(name, entry, args, kwargs or {}), method))
