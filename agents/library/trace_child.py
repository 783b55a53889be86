"""The tracer's child process: import one or more problem files, run each reference forward
once on PyTorch's meta device (nothing allocated, nothing computed) under a dispatch mode,
and print one JSON line per problem: the ATen ops in execution order, each with its tensor
arguments named by where they came from (a model input, a parameter, an earlier op) and its
outputs' ranks and dtypes. `agents.library.signature` turns that into a canonical signature.

A problem file is executed here, so this runs as a child (`python -m
agents.library.trace_child FILE...`, started by `agents.library.tracing`), never in the
caller's process, as the harness's reference step does.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from kernelbench.problems.loading import load_module

MAX_OPS = 2000  # a forward with more ops is cut here (level 3 networks)


def _trace(path: Path) -> dict[str, Any]:
    import torch  # noqa: PLC0415 - heavy library, imported where used
    from torch.utils._python_dispatch import TorchDispatchMode  # noqa: PLC0415 - heavy library, imported where used
    from torch.utils._pytree import tree_leaves  # noqa: PLC0415 - heavy library, imported where used

    refs: dict[int, str] = {}
    alive: list[Any] = []  # keeps traced tensors alive so their ids stay unique
    ops: list[dict[str, Any]] = []

    def ref(value: Any) -> str:
        if isinstance(value, torch.Tensor):
            return refs.get(id(value), "c")
        if isinstance(value, bool | int | float):
            return "s"
        return "-"

    class Recorder(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            out = func(*args, **(kwargs or {}))
            if len(ops) >= MAX_OPS:
                return out
            flat = tree_leaves([list(args), kwargs or {}])
            outs = [t for t in tree_leaves(out) if isinstance(t, torch.Tensor)]
            record: dict[str, Any] = {
                "op": func.overloadpacket.__name__,
                "args": [ref(a) for a in flat if ref(a) != "-"],
                "outs": [[t.dim(), str(t.dtype).removeprefix("torch.")] for t in outs],
            }
            if record["op"] == "convolution" and len(args) > 6:
                record["transposed"] = bool(args[6])
            index = len(ops)
            ops.append(record)
            for k, t in enumerate(outs):
                refs[id(t)] = f"n{index}" if k == 0 else f"n{index}.{k}"
                alive.append(t)
            return out

    module = load_module(path, f"kw_traced_{abs(hash(path))}")
    with torch.device("meta"), torch.no_grad():
        inputs = list(module.get_inputs())
        model = module.Model(*module.get_init_inputs())
        for t in [*model.parameters(), *model.buffers()]:
            refs[id(t)] = "p"
            alive.append(t)
        for k, t in enumerate(x for x in inputs if isinstance(x, torch.Tensor)):
            refs[id(t)] = f"x{k}"
        with Recorder():
            out = model(*inputs)
    outputs = [ref(t) for t in tree_leaves(out) if isinstance(t, torch.Tensor)]
    in_shapes = [
        [t.dim(), str(t.dtype).removeprefix("torch.")]
        for t in inputs
        if isinstance(t, torch.Tensor)
    ]
    return {"ops": ops, "inputs": in_shapes, "outputs": outputs}


def main(paths: list[str]) -> int:
    for raw in paths:
        path = Path(raw)
        try:
            line: dict[str, Any] = {"path": raw, **_trace(path)}
        except Exception as exc:  # noqa: BLE001 - any fault of the problem is reported, per file
            line = {"path": raw, "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
