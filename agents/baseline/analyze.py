"""Read a reference `Model` as a graph: the child-process side of the baseline Coder.

`python -m agents.baseline.analyze WORKDIR` imports the problem file named in
`WORKDIR/request.json`, builds `Model(*get_init_inputs())` at the problem's first CPU
check shape, traces `forward` with torch.fx, runs the traced graph once on seeded inputs
to record every node's result (tensor shape and dtype, or the Python value), and writes
`WORKDIR/analysis.json`. Importing and tracing execute problem code, which is user input:
the parent (`agents.baseline.reading`) runs this in a child process with a scrubbed
environment, CPU and wall-clock limits, so a reference that hangs or crashes cannot take
the worker down. Nothing here generates or runs candidate code.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import resource
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REQUEST = "request.json"
RESULT = "analysis.json"
# Module attributes worth recording (scalars and small tuples); tensors are listed apart.
_ATTR_TYPES = (bool, int, float, str, type(None))

log = logging.getLogger(__name__)


def _qualname(target: Any) -> str:
    from torch.fx.node import _get_qualified_name

    try:
        return str(_get_qualified_name(target))
    except Exception:  # noqa: BLE001 - exotic callables: fall back to a readable name
        mod = getattr(target, "__module__", None) or ""
        name = getattr(target, "__name__", None) or repr(target)
        return f"{mod}.{name}" if mod else name


def encode_arg(value: Any) -> Any:
    """An fx argument as JSON: node references, scalars, lists, dtypes, slices."""
    import torch
    import torch.fx

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
    import torch

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
    import torch
    import torch.fx

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


def analyze(
    problem_path: Path,
    defaults: dict[str, int],
    check_sizes: list[dict[str, int]] | None,
    seed: int,
) -> dict[str, Any]:
    import torch
    import torch.fx

    from kernelbench.loading import make_init_inputs, make_inputs, seed_all
    from kernelbench.resize import ResizableProblem
    from kernelbench.sizes import TooLargeForCpu, plan_shapes

    problem = ResizableProblem.from_path(problem_path, "kw_baseline_problem")
    try:
        plans = plan_shapes(problem.module, defaults, check_sizes, "cpu", extra_shapes=True)
    except TooLargeForCpu as exc:
        return {"ok": False, "error": str(exc)}
    sizes = plans[0][0]
    module = problem.module(sizes)
    init = make_init_inputs(module, sizes)
    seed_all(seed)
    model = module.Model(*init)
    inputs = make_inputs(module, sizes, seed, "cpu")
    try:
        with traceable_factories():
            graph_module = torch.fx.symbolic_trace(model)
    except Exception as exc:  # noqa: BLE001 - any tracing failure is reported, not raised
        first = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        return {"ok": False, "error": f"torch.fx cannot trace Model.forward ({first})"}

    results: dict[str, Any] = {}

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n: torch.fx.Node) -> Any:
            value = super().run_node(n)
            results[n.name] = value
            return value

    with torch.no_grad():
        Recorder(graph_module).run(*inputs)

    nodes: list[dict[str, Any]] = []
    for n in graph_module.graph.nodes:
        entry: dict[str, Any] = {
            "name": n.name,
            "op": n.op,
            "args": [encode_arg(a) for a in n.args],
            "kwargs": {k: encode_arg(v) for k, v in n.kwargs.items()},
        }
        if n.op in ("call_function",):
            entry["target"] = _qualname(n.target)
        else:
            entry["target"] = str(n.target)
        if n.op == "call_module":
            entry["module"] = describe_module(graph_module.get_submodule(str(n.target)))
        if n.op != "output":
            entry["meta"] = describe(results.get(n.name))
        nodes.append(entry)
    placeholders = [n for n in nodes if n["op"] == "placeholder"]
    symbols: list[dict[str, Any]] = []
    unresolved: list[str] = []
    if len(plans) > 1:
        symbols, unresolved = size_dependent_constants(
            problem.module(plans[1][0]), model, nodes, plans[1][0], seed
        )
    return {
        "ok": True,
        "sizes": sizes,
        "training": bool(model.training),
        "input_count": len(inputs),
        "placeholders": [p["target"] for p in placeholders],
        "params": {k: list(v.shape) for k, v in model.named_parameters()},
        "buffers": {k: list(v.shape) for k, v in model.named_buffers()},
        "dtypes": {
            k: str(v.dtype).removeprefix("torch.")
            for k, v in [*model.named_parameters(), *model.named_buffers()]
        },
        "nodes": nodes,
        "symbols": symbols,
        "unresolved": unresolved,
    }


# How a constant in the graph may derive from a module attribute (fx inlines attributes).
DERIVATIONS: list[tuple[str, Any]] = [
    ("{}", lambda a: a),
    ("math.sqrt({})", math.sqrt),
    ("(1.0 / math.sqrt({}))", lambda a: 1.0 / math.sqrt(a)),
    ("(1.0 / {})", lambda a: 1.0 / a),
]


def scalar_attributes(model: Any) -> dict[str, float]:
    """`self.x`-style paths of every int/float attribute of the model and its submodules."""
    out: dict[str, float] = {}
    for prefix, mod in model.named_modules():
        for key, val in vars(mod).items():
            if key.startswith("_") or isinstance(val, bool) or not isinstance(val, int | float):
                continue
            if prefix and not all(p.isidentifier() for p in prefix.split(".")):
                continue
            out[f"self.{prefix}.{key}" if prefix else f"self.{key}"] = val
    return out


def _differences(
    a: Any, b: Any, path: tuple[Any, ...]
) -> Iterator[tuple[tuple[Any, ...], Any, Any]]:
    """Number leaves of two encoded arguments that differ: (path, value here, value there)."""
    if isinstance(a, dict) and "list" in a and isinstance(b, dict) and "list" in b:
        for i, (x, y) in enumerate(zip(a["list"], b["list"], strict=False)):
            yield from _differences(x, y, (*path, i))
    elif (
        isinstance(a, int | float)
        and isinstance(b, int | float)
        and not isinstance(a, bool)
        and a != b
    ):
        yield path, a, b


def size_dependent_constants(
    module: Any, model: Any, nodes: list[dict[str, Any]], sizes: dict[str, int], seed: int
) -> tuple[list[dict[str, Any]], list[str]]:
    """Constants that change between two check shapes, and the attribute each comes from.

    A module attribute set from a size (`self.n_heads`) is inlined by fx as a literal; the
    candidate must read it from `self` at run time, or it is right for one shape only.
    """
    import torch.fx

    from kernelbench.loading import make_init_inputs, seed_all

    try:
        seed_all(seed)
        other = module.Model(*make_init_inputs(module, sizes))
        with traceable_factories():
            graph = torch.fx.symbolic_trace(other).graph
    except Exception as exc:  # noqa: BLE001 - the second shape is a cross-check only
        # e.g. GroupNorm rejects a varied channel count: the harness drops such a shape too
        log.debug("no second-size cross-check: %s", exc)
        return [], []
    second = list(graph.nodes)
    if len(second) != len(nodes):
        return [], ["the traced graph changes with the problem size"]
    attrs1, attrs2 = scalar_attributes(model), scalar_attributes(other)
    symbols: list[dict[str, Any]] = []
    unresolved: list[str] = []
    for entry, n in zip(nodes, second, strict=True):
        diffs = list(
            _differences(
                {"list": entry["args"]}, {"list": [encode_arg(a) for a in n.args]}, ("args",)
            )
        )
        for key, value in entry["kwargs"].items():
            if key in n.kwargs:
                diffs += _differences(value, encode_arg(n.kwargs[key]), ("kwargs", key))
        for path, v1, v2 in diffs:
            expr = next(
                (
                    fmt.format(name)
                    for name in attrs1
                    for fmt, fn in DERIVATIONS
                    if name in attrs2
                    and _close(fn(attrs1[name]), v1)
                    and _close(fn(attrs2[name]), v2)
                ),
                None,
            )
            if expr is None:
                unresolved.append(f"{entry['name']}: {v1!r} at one size, {v2!r} at another")
            else:
                symbols.append({"node": entry["name"], "path": list(path), "expr": expr})
    return symbols, unresolved


def _close(a: Any, b: Any) -> bool:
    try:
        return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(b)))
    except (TypeError, ValueError, ZeroDivisionError):
        return False


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python -m agents.baseline.analyze WORKDIR\n")
        return 2
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    workdir = Path(argv[1])
    request = json.loads((workdir / REQUEST).read_text())
    cpu = int(request.get("cpu_limit_s") or 0)
    if cpu > 0:  # before any problem code runs
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    try:
        result = analyze(
            Path(request["problem_path"]),
            request["defaults"],
            request.get("check_sizes"),
            request["seed"],
        )
    except Exception as exc:  # noqa: BLE001 - the problem's own fault, reported as data
        first = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        result = {"ok": False, "error": f"running the reference raised {first}"}
        log.debug("%s", traceback.format_exc())
    (workdir / RESULT).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
