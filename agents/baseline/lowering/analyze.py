"""Read a reference `Model` as a graph: the child-process side of the baseline Coder.

`python -m agents.baseline.lowering.analyze WORKDIR` imports the problem file named in
`WORKDIR/request.json`, builds `Model(*get_init_inputs())` at the problem's first CPU
check shape, traces `forward` with torch.fx, runs the traced graph once on seeded inputs
to record every node's result (tensor shape and dtype, or the Python value), and writes
`WORKDIR/analysis.json`. Importing and tracing execute problem code, which is user input:
the parent (`agents.baseline.lowering.reading`) runs this in a child process with a scrubbed
environment, CPU and wall-clock limits, so a reference that hangs or crashes cannot take
the worker down. Nothing here generates or runs candidate code.
"""

from __future__ import annotations

import json
import logging
import resource
import sys
import traceback
from pathlib import Path
from typing import Any

from agents.baseline.lowering.describe import (
    describe,
    describe_module,
    encode_arg,
    qualname,
    traceable_factories,
)
from agents.baseline.lowering.size_symbols import moved_size, other_sizes, size_dependent_constants
from kernelbench.problems.resize import ResizableProblem
from kernelbench.problems.sizes import TooLargeForCpu, plan_shapes, random_varying

REQUEST = "request.json"
RESULT = "analysis.json"
log = logging.getLogger(__name__)


def analyze(
    problem_path: Path,
    defaults: dict[str, int],
    check_sizes: list[dict[str, int]] | None,
    seed: int,
) -> dict[str, Any]:
    import torch  # noqa: PLC0415 - heavy library, imported where used
    import torch.fx  # noqa: PLC0415 - heavy library, imported where used

    from kernelbench.problems.loading import make_init_inputs, make_inputs, seed_all  # noqa: PLC0415 - heavy library, imported where used

    problem = ResizableProblem.from_path(problem_path, "kw_baseline_problem")
    try:
        plans = plan_shapes(problem.module, defaults, check_sizes, "cpu", extra_shapes=True)
    except TooLargeForCpu as exc:
        return {"ok": False, "error": str(exc)}
    from agents.baseline.lowering.concrete_trace import trace  # noqa: PLC0415 - heavy library, imported where used

    class Recorder(torch.fx.Interpreter):
        def __init__(self, gm: torch.fx.GraphModule, results: dict[str, Any]) -> None:
            super().__init__(gm)
            self.results = results

        def run_node(self, n: torch.fx.Node) -> Any:
            value = super().run_node(n)
            self.results[n.name] = value
            return value

    # The first shape the reference runs at, falling back as the harness's reference step
    # does (two sizes the planner shrank apart, a class count below its labels' range).
    first, backoffs = plans[0]
    for attempt, sizes in enumerate([first, *backoffs]):
        module = problem.module(sizes)
        init = make_init_inputs(module, sizes)
        seed_all(seed)
        model = module.Model(*init)
        inputs = make_inputs(module, sizes, seed, "cpu")
        try:
            with traceable_factories():
                graph_module, concrete = trace(model, inputs)
        except Exception as exc:  # noqa: BLE001 - any tracing failure is reported, not raised
            text = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            return {"ok": False, "error": f"torch.fx cannot trace Model.forward ({text})"}

        results: dict[str, Any] = {}
        try:
            with torch.no_grad():
                Recorder(graph_module, results).run(*inputs)
        except Exception:
            if attempt == len(backoffs):
                raise
            log.info("the reference fails at %s; trying the next fallback", sizes)
            continue
        break

    nodes: list[dict[str, Any]] = []
    for n in graph_module.graph.nodes:
        entry: dict[str, Any] = {
            "name": n.name,
            "op": n.op,
            "args": [encode_arg(a) for a in n.args],
            "kwargs": {k: encode_arg(v) for k, v in n.kwargs.items()},
        }
        if n.op in ("call_function",):
            entry["target"] = qualname(n.target)
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
    baked: list[dict[str, str]] = []

    def runs(other: dict[str, int]) -> bool:
        try:
            mod = problem.module(other)
            seed_all(seed)
            with torch.no_grad():
                mod.Model(*make_init_inputs(mod, other))(*make_inputs(mod, other, seed, "cpu"))
        except Exception:  # noqa: BLE001 - the reference refuses this size
            return False
        return True

    # a graph traced at concrete sizes must be compared with a second size, or it bakes one
    seconds = [plans[1][0]] if len(plans) > 1 else []
    if concrete and not seconds:
        seconds = other_sizes(sizes, runs)
    elif seconds:  # a size the random shape redraws but the varied one keeps would be baked
        stuck = [
            k for k in random_varying(defaults, check_sizes) if seconds[0].get(k) == sizes.get(k)
        ]
        moved = seconds[0] | {k: moved_size(sizes[k]) for k in stuck if sizes[k] >= 4}
        if moved != seconds[0] and runs(moved):
            seconds.insert(0, moved)
    for second in seconds:
        found = size_dependent_constants(
            problem.module(second), model, nodes, second, seed, inputs if concrete else None
        )
        if found is not None:
            symbols, unresolved, baked = found
            break
    else:
        if concrete:
            unresolved = ["traced at concrete sizes, and no second size runs to compare with"]
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
        "baked": baked,
    }


# How a constant in the graph may derive from a module attribute (fx inlines attributes).
def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python -m agents.baseline.lowering.analyze WORKDIR\n")
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
