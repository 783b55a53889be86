"""An fx tracer that knows the real value of every node, for forwards fx cannot trace.

`torch.fx.symbolic_trace` fails on forwards that compute with sizes in Python: slicing a
buffer with `T = x.size(1)` (`self.bias[:, :, :T, :T]`), `math.sqrt(k.size(-1))`, or
`if x.size(0) > 1`. This tracer runs the model on the problem's inputs while tracing: every
node also gets its real value, and calls whose result is a size (an int, float, bool or a
`torch.Size`) return that value instead of a Proxy, so Python sees plain numbers. Branches
on a tensor follow the branch these inputs take.

The graph is then specialized to the traced sizes; `agents.baseline.lowering.analyze` traces a
second size and turns every literal that changed into a run-time expression (a module
attribute or an input's dimension), or refuses the problem when it cannot.

Runs only in the analysis child process: the problem's own code executes here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
import torch.fx
from torch.fx.proxy import Attribute

# fx patches these two while it traces; real evaluation needs the originals back
_MODULE_CALL = torch.nn.Module.__call__
_MODULE_GETATTR = torch.nn.Module.__getattr__


@contextlib.contextmanager
def _unpatched_modules() -> Iterator[None]:
    patched = torch.nn.Module.__call__, torch.nn.Module.__getattr__
    torch.nn.Module.__call__, torch.nn.Module.__getattr__ = _MODULE_CALL, _MODULE_GETATTR  # type: ignore[method-assign]
    try:
        yield
    finally:
        torch.nn.Module.__call__, torch.nn.Module.__getattr__ = patched  # type: ignore[method-assign]


def _is_static(value: Any) -> bool:
    if isinstance(value, bool | int | float | torch.Size):
        return True
    return isinstance(value, tuple | list) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    )


class ConcreteTracer(torch.fx.Tracer):
    def __init__(self, inputs: list[Any]) -> None:
        super().__init__()
        # buffers become graph inputs too, so a slice of one (`self.bias[:, :, :T, :T]`)
        # stays a slice in the graph instead of a constant of the traced size
        self.proxy_buffer_attributes = True
        self._inputs = list(inputs)
        self._values: dict[torch.fx.Node, Any] = {}

    def real(self, arg: Any) -> Any:
        """`arg` with every Proxy replaced by the value its node had."""

        def one(a: Any) -> Any:
            if isinstance(a, Attribute):
                return getattr(self.real(a.root), a.attr)
            if isinstance(a, torch.fx.Proxy):
                return self._values[a.node]
            return a

        if isinstance(arg, tuple | list):
            return type(arg)(self.real(a) for a in arg)
        if isinstance(arg, dict):
            return {k: self.real(v) for k, v in arg.items()}
        if isinstance(arg, slice):
            return slice(self.real(arg.start), self.real(arg.stop), self.real(arg.step))
        return one(arg)

    def _evaluate(self, kind: str, target: Any, args: Any, kwargs: Any) -> Any:
        if kind == "placeholder":
            if self._inputs:
                return self._inputs.pop(0)
            return args[0] if args else None  # a forward argument left at its default
        if kind == "get_attr":
            value: Any = self.root
            for part in str(target).split("."):
                value = getattr(value, part)
            return value
        real_args, real_kwargs = self.real(args), self.real(kwargs)
        if kind == "call_function":
            return target(*real_args, **real_kwargs)
        if kind == "call_method":
            obj, *rest = real_args
            return getattr(obj, target)(*rest, **real_kwargs)
        if kind == "call_module":
            return self.root.get_submodule(str(target))(*real_args, **real_kwargs)
        return None

    def create_proxy(
        self,
        kind: str,
        target: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        name: str | None = None,
        type_expr: Any | None = None,
        proxy_factory_fn: Any = None,
    ) -> Any:
        if kind == "output":
            return super().create_proxy(kind, target, args, kwargs, name, type_expr)
        with torch.no_grad(), _unpatched_modules():
            value = self._evaluate(kind, target, args, kwargs)
        if kind in ("call_function", "call_method") and target is not getattr and _is_static(value):
            return value  # a size: Python computes with the number itself
        proxy = super().create_proxy(kind, target, args, kwargs, name, type_expr)
        self._values[proxy.node] = value
        return proxy

    def to_bool(self, obj: torch.fx.Proxy) -> bool:
        return bool(self.real(obj))

    def iter(self, obj: torch.fx.Proxy) -> Any:
        value = self.real(obj)
        if _is_static(value):
            return iter(value)
        return super().iter(obj)


def trace(model: torch.nn.Module, inputs: list[Any]) -> tuple[torch.fx.GraphModule, bool]:
    """The model's graph, and whether it had to be traced at concrete sizes."""
    try:
        return torch.fx.symbolic_trace(model), False
    except Exception:  # noqa: BLE001 - any fx failure: try again with real values
        return trace_concrete(model, inputs), True


def trace_concrete(model: torch.nn.Module, inputs: list[Any]) -> torch.fx.GraphModule:
    # the model runs for real while tracing: give it copies, so in-place ops leave the inputs
    copies = [x.clone() if isinstance(x, torch.Tensor) else x for x in inputs]
    tracer = ConcreteTracer(copies)
    graph = tracer.trace(model)
    return torch.fx.GraphModule(tracer.root, graph)
