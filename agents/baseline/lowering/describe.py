"""How the analysis describes what it traced: fx node arguments, values and modules as
JSON-able records, and the factory patch that lets traced sizes reach `torch.ones(...)`.

Shared by the analysis (`analyze`) and the size symbols (`size_symbols`)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

# Module attributes worth recording (scalars and small tuples); tensors are listed apart.
_ATTR_TYPES = (bool, int, float, str, type(None))


def qualname(target: Any) -> str:
    from torch.fx.node import _get_qualified_name  # noqa: PLC0415 - heavy library, imported where used

    try:
        return str(_get_qualified_name(target))
    except Exception:  # noqa: BLE001 - exotic callables: fall back to a readable name
        mod = getattr(target, "__module__", None) or ""
        name = getattr(target, "__name__", None) or repr(target)
        return f"{mod}.{name}" if mod else name


def encode_arg(value: Any) -> Any:
    """An fx argument as JSON: node references, scalars, lists, dtypes, slices."""
    import torch  # noqa: PLC0415 - heavy library, imported where used
    import torch.fx  # noqa: PLC0415 - heavy library, imported where used

    if isinstance(value, torch.fx.Node):
        return {"node": value.name}
    if isinstance(value, bool | int | float | str) or value is None:
        if isinstance(value, float) and math.isnan(value):
            return {"float": "nan"}
        if isinstance(value, float) and value in (float("inf"), float("-inf")):
            return {"float": "inf" if value > 0 else "-inf"}
        return value
    if isinstance(value, list | tuple):
        return {"list": [encode_arg(v) for v in value]}
    if isinstance(value, dict):
        return {"dict": {str(k): encode_arg(v) for k, v in value.items()}}
    if isinstance(value, torch.dtype):
        return {"dtype": str(value).removeprefix("torch.")}
    if isinstance(value, slice):
        return {"slice": [encode_arg(value.start), encode_arg(value.stop), encode_arg(value.step)]}
    if value is Ellipsis:
        return {"ellipsis": True}
    if isinstance(value, torch.device):
        return {"device": str(value)}
    if isinstance(value, torch.memory_format | torch.layout):
        return {"ignored": str(value)}
    if isinstance(value, torch.Tensor):
        return {"tensor_constant": list(value.shape)}
    return {"unsupported": type(value).__name__}


def describe(value: Any) -> dict[str, Any]:
    """What a node produced when the traced graph ran."""
    import torch  # noqa: PLC0415 - heavy library, imported where used

    if isinstance(value, torch.Tensor):
        out = {
            "kind": "tensor",
            "shape": list(value.shape),
            "dtype": str(value.dtype).removeprefix("torch."),
            "contiguous": bool(value.is_contiguous()),
        }
        if value.dim() == 0 and value.device.type != "meta":
            out["item"] = value.item()  # a 0-dim constant (`torch.tensor(c)` in forward)
        return out
    if isinstance(value, torch.Size):
        return {"kind": "scalar", "value": list(value)}
    if isinstance(value, bool | int | float) or value is None:
        return {"kind": "scalar", "value": encode_arg(value)}
    if isinstance(value, list | tuple):
        return {"kind": "tuple", "items": [describe(v) for v in value]}
    return {"kind": "other", "type": type(value).__name__}


def describe_module(module: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for key, val in vars(module).items():
        if key.startswith("_"):
            continue
        if isinstance(val, _ATTR_TYPES) or (
            isinstance(val, tuple) and all(isinstance(v, _ATTR_TYPES) for v in val)
        ):
            attrs[key] = encode_arg(val)
    params = {name: list(p.shape) for name, p in module.named_parameters(recurse=False)}
    buffers = {
        name: list(b.shape) for name, b in module.named_buffers(recurse=False) if b is not None
    }
    cls = type(module)
    return {
        "type": cls.__name__,
        "qualname": f"{cls.__module__}.{cls.__qualname__}",
        "attrs": attrs,
        "params": params,
        "buffers": buffers,
        "training": bool(module.training),
    }


FACTORIES = ("ones", "zeros", "full", "empty", "arange", "eye")


@contextlib.contextmanager
def traceable_factories() -> Iterator[None]:
    """Let `torch.ones(T, T, device=x.device)` with traced sizes become a graph node.

    fx only records calls on Proxies; a factory called with Proxy sizes would raise. During
    tracing (in this child process only) each factory records itself when given a Proxy.
    """
    import torch  # noqa: PLC0415 - heavy library, imported where used
    import torch.fx  # noqa: PLC0415 - heavy library, imported where used

    originals = {name: getattr(torch, name) for name in FACTORIES}

    def wrap(fn: Any) -> Any:
        def factory(*args: Any, **kwargs: Any) -> Any:
            found: list[torch.fx.Proxy] = []
            torch.fx.node.map_aggregate(
                (args, kwargs),
                lambda a: found.append(a) if isinstance(a, torch.fx.Proxy) else None,
            )
            if found:
                return found[0].tracer.create_proxy("call_function", fn, args, kwargs)
            return fn(*args, **kwargs)

        return factory

    for name, fn in originals.items():
        setattr(torch, name, wrap(fn))
    try:
        yield
    finally:
        for name, fn in originals.items():
            setattr(torch, name, fn)
