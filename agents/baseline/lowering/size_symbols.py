"""Constants in a traced graph that follow the problem size, as run-time expressions.

fx inlines Python numbers: a module attribute set from a size (`self.n_heads`), and under
concrete tracing (agents.baseline.lowering.concrete_trace) the inputs' dimensions too. The reference
is traced again at a second size; every literal that changed is matched to an expression
over the module's scalar attributes and the inputs' dimensions that gives both values, or
reported as unresolved (the lowering then refuses the problem rather than bake one size).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from typing import Any

from agents.baseline.lowering.describe import describe_module, encode_arg, traceable_factories

log = logging.getLogger(__name__)

DERIVATIONS: list[tuple[str, Any]] = [
    ("{}", lambda a: a),
    ("math.sqrt({})", math.sqrt),
    ("(1.0 / math.sqrt({}))", lambda a: 1.0 / math.sqrt(a)),
    ("(1.0 / {})", lambda a: 1.0 / a),
]


# Module attributes the handlers bake into a kernel (a pooling window, a conv's stride): one
# that follows the problem size is right at one shape only, so the Coder refuses it.
BAKED_ATTRS: dict[str, tuple[str, ...]] = {
    "Pool": ("kernel_size", "stride", "padding", "dilation"),
    "Conv": ("stride", "padding", "dilation", "output_padding"),
}


def baked_changes(entry: dict[str, Any], other: Any) -> list[dict[str, str]]:
    """A call_module node's baked attributes that differ in `other` (the module traced at
    the second size), as Unsupported.missing arguments."""
    kind = entry["module"]["type"]
    keys = next((v for k, v in BAKED_ATTRS.items() if k in kind), ())
    if kind.startswith("Adaptive") or not keys:
        return []
    here, there = entry["module"]["attrs"], describe_module(other)["attrs"]
    return [
        {
            "op": f"nn.{kind}",
            "detail": f"with a {key} that follows the problem size ({_shown(here[key])} at one "
            f"size, {_shown(there.get(key))} at another)",
        }
        for key in keys
        if key in here and here[key] != there.get(key)
    ]


def _shown(encoded: Any) -> str:
    """An encoded attribute as its user wrote it: 16 for (16,), (2, 2) for a pair."""
    if isinstance(encoded, dict) and isinstance(encoded.get("list"), list):
        items = [_shown(v) for v in encoded["list"]]
        return items[0] if len(items) == 1 else f"({', '.join(items)})"
    return repr(encoded)


def _floordiv(a: float, b: float) -> float:
    return a // b if b else float("nan")


PAIR_DERIVATIONS: list[tuple[str, Any]] = [
    ("({} // {})", _floordiv),
    ("(1.0 / math.sqrt({} // {}))", lambda a, b: 1.0 / math.sqrt(_floordiv(a, b))),
    ("({} * {})", lambda a, b: a * b),
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
    for key in ("list", "slice"):  # a slice's bounds (`x[:, :T]`) follow sizes too
        if isinstance(a, dict) and key in a and isinstance(b, dict) and key in b:
            for i, (x, y) in enumerate(zip(a[key], b[key], strict=False)):
                yield from _differences(x, y, (*path, i))
            return
    if (
        isinstance(a, int | float)
        and isinstance(b, int | float)
        and not isinstance(a, bool)
        and a != b
    ):
        yield path, a, b


def size_dependent_constants(
    module: Any,
    model: Any,
    nodes: list[dict[str, Any]],
    sizes: dict[str, int],
    seed: int,
    concrete_inputs: list[Any] | None = None,
) -> tuple[list[dict[str, Any]], list[str], list[dict[str, str]]] | None:
    """Constants that change between two check shapes, and the attribute each comes from;
    what changes but matches none; and module attributes a kernel bakes that change.

    A module attribute set from a size (`self.n_heads`) is inlined by fx as a literal; the
    candidate must read it from `self` at run time, or it is right for one shape only.
    None where the reference cannot be traced at `sizes`.
    A graph traced at concrete sizes (`concrete_inputs`, the inputs it was traced with) also
    inlines the inputs' dimensions; those are read as `x.shape[d]` of the forward argument.
    """
    import torch.fx  # noqa: PLC0415 - heavy library, imported where used

    from agents.baseline.lowering.concrete_trace import trace_concrete  # noqa: PLC0415 - heavy library, imported where used
    from kernelbench.problems.loading import make_init_inputs, make_inputs, seed_all  # noqa: PLC0415 - heavy library, imported where used

    try:
        seed_all(seed)
        other = module.Model(*make_init_inputs(module, sizes))
        with traceable_factories():
            if concrete_inputs is None:
                graph = torch.fx.symbolic_trace(other).graph
            else:
                other_inputs = make_inputs(module, sizes, seed, "cpu")
                graph = trace_concrete(other, other_inputs).graph
    except Exception as exc:  # noqa: BLE001 - the second shape is a cross-check only
        # e.g. GroupNorm rejects a varied channel count: the harness drops such a shape too
        log.debug("no second-size cross-check: %s", exc)
        return None
    second = list(graph.nodes)
    if len(second) != len(nodes):
        return [], ["the traced graph changes with the problem size"], []
    attrs1, attrs2 = scalar_attributes(model), scalar_attributes(other)
    if concrete_inputs is not None:
        names = [e["target"] for e in nodes if e["op"] == "placeholder"]
        attrs1 |= input_dimensions(names, concrete_inputs)
        attrs2 |= input_dimensions(names, other_inputs)
    symbols: list[dict[str, Any]] = []
    unresolved: list[str] = []
    baked: list[dict[str, str]] = []
    for entry, n in zip(nodes, second, strict=True):
        if entry["op"] == "call_module" and "module" in entry:
            if n.op != "call_module" or str(n.target) != entry["target"]:
                return [], ["the traced graph changes with the problem size"], []
            baked += baked_changes(entry, other.get_submodule(str(n.target)))
        diffs = list(
            _differences(
                {"list": entry["args"]}, {"list": [encode_arg(a) for a in n.args]}, ("args",)
            )
        )
        for key, value in entry["kwargs"].items():
            if key in n.kwargs:
                diffs += _differences(value, encode_arg(n.kwargs[key]), ("kwargs", key))
        for path, v1, v2 in diffs:
            expr = derive(attrs1, attrs2, v1, v2)
            if expr is None:
                unresolved.append(f"{entry['name']}: {v1!r} at one size, {v2!r} at another")
            else:
                symbols.append({"node": entry["name"], "path": list(path), "expr": expr})
    return symbols, unresolved, baked


def input_dimensions(names: list[str], inputs: list[Any]) -> dict[str, float]:
    """`x.shape[d]` of every tensor forward argument, by the expression that reads it."""
    import torch  # noqa: PLC0415 - heavy library, imported where used

    out: dict[str, float] = {}
    for name, x in zip(names, inputs, strict=False):
        if isinstance(x, torch.Tensor) and name.isidentifier():
            out |= {f"{name}.shape[{d}]": n for d, n in enumerate(x.shape)}
    return out


def derive(attrs1: dict[str, float], attrs2: dict[str, float], v1: Any, v2: Any) -> str | None:
    """An expression over the named values that gives v1 at one size and v2 at the other."""
    shared = [n for n in attrs1 if n in attrs2]
    for name in shared:
        for fmt, fn in DERIVATIONS:
            if _gives(fn, (attrs1[name],), (attrs2[name],), v1, v2):
                return fmt.format(name)
    for a in shared:  # `C // self.n_head`, `1 / sqrt(C // n_head)`, `B * T`
        for b in shared:
            for fmt, fn in PAIR_DERIVATIONS:
                if _gives(fn, (attrs1[a], attrs1[b]), (attrs2[a], attrs2[b]), v1, v2):
                    return fmt.format(a, b)
    return None


def _gives(fn: Any, args1: tuple[float, ...], args2: tuple[float, ...], v1: Any, v2: Any) -> bool:
    try:
        return _close(fn(*args1), v1) and _close(fn(*args2), v2)
    except (ArithmeticError, ValueError, TypeError):
        return False


def _close(a: Any, b: Any) -> bool:
    try:
        return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(b)))
    except (TypeError, ValueError, ZeroDivisionError):
        return False


def moved_size(v: int) -> int:
    """A size's value at the second trace: a third larger, at least one more."""
    return v + max(1, v // 3)


def other_sizes(sizes: dict[str, int], runs: Any) -> list[dict[str, int]]:
    """A second size to trace at where the planner gave only one.

    Every extent moves (so each literal that follows one changes) while the relations the
    reference asserts hold: a size the reference refuses to change alone (`runs(sizes)` is
    False) is kept where it divides another size (a head count) and otherwise moves by a
    multiple of the kept sizes that divide it (`n_embd` by `n_head`)."""
    ints = {k: v for k, v in sizes.items() if isinstance(v, int) and not isinstance(v, bool)}
    moved = {k: moved_size(v) for k, v in ints.items() if v >= 2}
    free = {k for k, v in moved.items() if runs(sizes | {k: v})}
    bound = [k for k in moved if k not in free]
    kept = {k for k in bound if any(o != k and o_v % ints[k] == 0 for o, o_v in ints.items())}
    drawn = dict(sizes) | {k: moved[k] for k in free}
    for k in bound:
        if k in kept:
            continue
        step = max([ints[f] for f in kept if ints[k] % ints[f] == 0], default=0)
        if step:
            drawn[k] = ints[k] + step
    return [drawn] if drawn != sizes else []
