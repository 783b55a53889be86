"""The replay step: run a recorded program on the real data, in a process that runs nothing
of the candidate's but its kernels (`python -m kernelbench.runner.child WORKDIR` with
`replay.json`).

Inputs (written by the caller): `replay.json` (the trials), `kernels.py` (the candidate
file's Triton kernels, cut out of its source by the harness: imports of triton and math,
literal constants and the decorated kernel functions, nothing else), `program.json` (the
blind pass's record, untrusted) and the real inputs and weights (`in/`, the runner's file
names). Each step of the program is either an aten op from the fixed data-movement table
(allocation, views, copies, casts, fills; `kernelbench.runner.guard.ALLOWED_OPS`) or a
launch of a kernel of `kernels.py`; anything else ends the step `rejected`. Outputs are
saved like the runner's (`out/trial_<t>.pt`), so the caller's verdict reads them the same
way. Fresh allocations are poisoned as in the runner: memory no kernel wrote is wrong.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from kernelbench.problems.loading import seed_all
from kernelbench.protocol import runner_files as p
from kernelbench.protocol.errors import StepFailed, describe, format_traceback
from kernelbench.runner.confine import confine
from kernelbench.runner.cuda_emu.replayer import CudaReplay
from kernelbench.runner.guard import ALLOWED_OPS, UNINITIALISED_OPS, poison
from kernelbench.runner.interpreter_shims import interpreter_shims
from kernelbench.runner.program import PROGRAM_VERSION, Taint, op_name
from profiler.launches import record_of, verified_token

MAX_PROGRAM_BYTES = 64 << 20
MAX_CONSTANT_BYTES = 8 << 20


def _resolve_op(name: str) -> Any:
    """`aten::view` / `aten::add.Tensor` -> the aten OpOverload (what it may touch is the
    taint rule's to decide, `kernelbench.runner.program.Taint`)."""
    ns, _, rest = name.partition("::")
    packet, _, overload = rest.partition(".")
    if ns != "aten":
        raise StepFailed("rejected", f"the program runs {name}, which is not an aten op")
    try:
        return getattr(getattr(torch.ops.aten, packet), overload or "default")
    except AttributeError as exc:
        raise StepFailed("rejected", f"the program names an unknown op {name}") from exc


class _KernelOnly(TorchDispatchMode):
    """While a kernel runs, torch may only move data (the interpreter's own argument
    handling); a torch op that computes came from the kernel body itself: Python that the
    interpreter runs and no GPU compiler accepts."""

    def __init__(self, kernel: str) -> None:
        super().__init__()
        self.kernel = kernel

    def __torch_dispatch__(
        self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None
    ) -> Any:
        name = op_name(func)
        if name not in ALLOWED_OPS:
            raise StepFailed(
                "rejected",
                f"kernel {self.kernel} ran torch op aten.{name} in its body (interpreter-only "
                "Python, not the Triton language: it would not compile for a GPU)",
            )
        return func(*args, **(kwargs or {}))


def _unwrap_kernel(obj: Any) -> Any:
    """The JITFunction (InterpretedFunction under the interpreter) under autotune/heuristics
    wrappers."""
    from triton.runtime.interpreter import InterpretedFunction  # noqa: PLC0415 - heavy library, imported where used
    from triton.runtime.jit import JITFunction  # noqa: PLC0415 - heavy library, imported where used

    for _ in range(8):
        if isinstance(obj, JITFunction | InterpretedFunction):
            return obj
        obj = getattr(obj, "fn", None)
    raise StepFailed("rejected", "the program launches something that is not a Triton kernel")


class Replay:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.refs: dict[int, torch.Tensor] = {}
        self.launches = 0
        self.sources: dict[str, torch.Tensor] = {}
        self.trial_inputs: dict[int, list[Any]] = {}
        self.taint = Taint()
        self.allowed: set[str] | None = None  # tokens compiled for the target (None: no check)
        self.confinement = "off: not reached"

    # -------------------------------------------------------------- values

    def decode(self, value: Any) -> Any:
        if isinstance(value, dict):
            if "t" in value:
                try:
                    return self.refs[int(value["t"])]
                except (KeyError, TypeError, ValueError) as exc:
                    raise StepFailed("rejected", "the program uses a value it never made") from exc
            if "list" in value:
                return [self.decode(v) for v in value["list"]]
            if "tuple" in value:
                return tuple(self.decode(v) for v in value["tuple"])
            if "f" in value:
                return float(value["f"])
            for key, kind in (
                ("dtype", torch.dtype),
                ("memory_format", torch.memory_format),
                ("layout", torch.layout),
            ):
                if key in value:
                    found = getattr(torch, str(value[key]), None)
                    if not isinstance(found, kind):
                        raise StepFailed("rejected", f"the program names an unknown {key}")
                    return found
            if "device" in value:
                return torch.device(str(value["device"]))
            raise StepFailed("rejected", "the program holds a value of an unknown kind")
        if value is None or isinstance(value, bool | int | float | str):
            return value
        raise StepFailed("rejected", "the program holds a value of an unknown kind")

    def bind(self, spec: Any, value: Any) -> None:
        """Name the tensors of an op's result as the program did."""
        if isinstance(spec, dict) and "t" in spec:
            if not isinstance(value, torch.Tensor):
                raise StepFailed("rejected", "the program expects a tensor where the op gave none")
            self.refs[int(spec["t"])] = value
        elif isinstance(spec, dict) and ("list" in spec or "tuple" in spec):
            items = spec.get("list", spec.get("tuple")) or []
            if not isinstance(value, list | tuple) or len(value) != len(items):
                raise StepFailed("rejected", "the program's op results do not match the op")
            for s, v in zip(items, value, strict=True):
                self.bind(s, v)

    # -------------------------------------------------------------- steps

    def load_sources(self, trials: list[dict[str, int]]) -> None:
        for spec in trials:
            t = int(spec["trial"])
            inputs = torch.load(self.workdir / p.trial_inputs_file(t), weights_only=True)
            self.trial_inputs[t] = inputs
            for i, x in enumerate(inputs):
                if isinstance(x, torch.Tensor):
                    self.sources[f"input:{t}:{i}"] = x
        for shape in sorted({int(s["shape"]) for s in trials}):
            init = torch.load(self.workdir / p.init_file(shape), weights_only=True)
            for key, value in init["state"].items():
                if isinstance(value, torch.Tensor):
                    self.sources[f"state:{shape}:{key}"] = value

    def op(self, step: dict[str, Any]) -> None:
        func = _resolve_op(str(step["op"]))
        args = self.decode(step.get("args", {"list": []}))
        kwargs = {str(k): self.decode(v) for k, v in dict(step.get("kwargs") or {}).items()}
        refusal = self.taint.check(op_name(func), [args, kwargs], "the program")
        if refusal is not None:
            raise StepFailed("rejected", refusal)
        with torch.no_grad():
            result = func(*args, **kwargs)
        self.taint.after(op_name(func), [args, kwargs], result)
        if str(step["op"]).partition("::")[2].split(".")[0] in UNINITIALISED_OPS:
            poison(result)
        if step.get("out") is not None:
            self.bind(step["out"], result)

    def launch(self, step: dict[str, Any], kernels: Any) -> None:
        name = str(step["kernel"])
        if name.startswith("_") and name.startswith("__"):
            raise StepFailed("rejected", f"the program launches {name!r}")
        jit = _unwrap_kernel(getattr(kernels, name, None))
        args = {str(k): self.decode(v) for k, v in dict(step["args"]).items()}
        options = {str(k): self.decode(v) for k, v in dict(step.get("options") or {}).items()}
        grid = tuple(int(g) for g in step["grid"])
        if not 1 <= len(grid) <= 3 or any(g < 0 for g in grid):
            raise StepFailed("rejected", f"the program launches {name} on a bad grid {grid}")
        self.check_verified(name, jit, args | options, grid)
        self.taint.mark([args, options])
        with _KernelOnly(name):
            jit[grid](**args, **options)
        self.launches += 1

    def check_verified(self, name: str, jit: Any, kwargs: dict[str, Any], grid: Any) -> None:
        """Only a launch the caller compiled for the target runs here: the same kernel,
        argument types and constexprs (profiler.launches.verified_token)."""
        if self.allowed is None:
            return
        try:
            token = verified_token(record_of(jit.fn, (), kwargs, grid))
        except (TypeError, ValueError, AttributeError) as exc:
            raise StepFailed(
                "rejected", f"the launch of {name} cannot be described: {exc}"
            ) from exc
        if token not in self.allowed:
            raise StepFailed(
                "rejected",
                f"the program launches {name} with argument types or constexprs that were "
                "never compiled for the target (the candidate's launch record differs)",
            )

    def cuda_step(self, cuda: CudaReplay, kind: str, step: dict[str, Any]) -> None:
        if kind == "cuda_launch":
            self.taint.mark(cuda.launch(step, self.decode))
            self.launches += 1
        elif kind == "cuda_alloc":
            self.refs[int(step["ref"])] = cuda.alloc(step)
        elif kind == "cuda_memset":
            cuda.memset(step, self.decode)
        elif kind == "cuda_memcpy":
            cuda.memcpy(step, self.decode)
        elif kind != "cuda_module":
            raise StepFailed("rejected", "the recorded program holds a step of no known kind")

    def outputs(self, step: dict[str, Any]) -> None:
        trial = int(step["trial"])
        flat = self.decode(step["values"])
        if not isinstance(flat, list):
            raise StepFailed("rejected", "the program's outputs are not a list")
        inputs = self.trial_inputs.get(trial)
        if inputs is None:
            raise StepFailed("rejected", f"the program returns outputs of an unknown trial {trial}")
        torch.save({"outputs": flat, "inputs": inputs}, self.workdir / p.trial_output_file(trial))

    def run(self) -> dict[str, Any]:
        req = json.loads((self.workdir / p.REPLAY_REQUEST).read_text(encoding="utf-8"))
        trials = list(req["trials"])
        raw = (self.workdir / p.PROGRAM_FILE).read_bytes()
        if len(raw) > MAX_PROGRAM_BYTES:
            raise StepFailed("rejected", "the recorded program is too large")
        program = json.loads(raw)
        if not isinstance(program, dict) or program.get("version") != PROGRAM_VERSION:
            raise StepFailed("rejected", "the recorded program is malformed")
        steps = program.get("steps", [])
        allowed = req.get("allowed")
        self.allowed = None if allowed is None else {str(t) for t in allowed}
        # CUDA C: the kernels are built here, before the data, without the host code.
        cuda = (
            CudaReplay(steps, self.allowed)
            if any(_kind(s) == "cuda_module" for s in steps)
            else None
        )
        if os.environ.get("TRITON_INTERPRET") == "1":
            interpreter_shims()
        kernels = _import_kernels(self.workdir / p.KERNELS_FILE)
        # The data arrives only once the process is confined (kernelbench.runner.confine).
        self.confinement = confine() if req.get("device", "cpu") == "cpu" else "off: GPU"
        self.load_sources(trials)
        (self.workdir / p.OUT_DIR).mkdir(exist_ok=True)
        done: list[int] = []
        for step in steps:
            kind = _kind(step)
            if kind == "source":
                value = self.sources.get(str(step["name"]))
                if value is None:
                    raise StepFailed(
                        "rejected", f"the program names an unknown source {step['name']!r}"
                    )
                self.refs[int(step["ref"])] = value
                self.taint.mark([value])
            elif kind == "const":
                self.refs[int(step["ref"])] = _constant(step)
            elif kind == "seed":  # ModelNew's construction (program.seeded)
                if req.get("init_seed") is not None:
                    seed_all(int(req["init_seed"]))
            elif kind == "op":
                self.op(step)
            elif kind == "launch":
                self.launch(step, kernels)
            elif kind is not None and kind.startswith("cuda_") and cuda is not None:
                self.cuda_step(cuda, kind, step)
            elif kind == "outputs":
                self.outputs(step)
                done.append(int(step["trial"]))
            else:
                raise StepFailed("rejected", "the recorded program holds a step of no known kind")
        return {
            "status": "ok",
            "trials_done": done,
            "kernel_launches": self.launches,
            "confinement": self.confinement,
        }


def _kind(step: Any) -> str | None:
    kind = step.get("kind") if isinstance(step, dict) else None
    return str(kind) if kind is not None else None


def _constant(step: dict[str, Any]) -> torch.Tensor:
    """A tensor literal of the host code (`torch.tensor(...)`), rebuilt from its bytes."""
    dtype = getattr(torch, str(step["dtype"]), None)
    if not isinstance(dtype, torch.dtype):
        raise StepFailed("rejected", "the program's literal has an unknown dtype")
    raw = bytearray(base64.b64decode(str(step["data"])))
    shape = [int(s) for s in step["shape"]]
    if len(raw) > MAX_CONSTANT_BYTES:
        raise StepFailed("rejected", "the program's literal is too large")
    flat = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
    return flat.reshape(shape).clone()


def _import_kernels(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location("kw_kernels", path)
    if spec is None or spec.loader is None:
        raise StepFailed("compile_error", "the candidate's kernels cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules["kw_kernels"] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise StepFailed(
            "compile_error", f"the candidate's kernels raised {describe(exc)}"
        ) from exc
    return module


def run_replay_step(workdir: Path) -> int:
    """Run the replay and write its report; any fault is the program's (the caller judges)."""
    replay = Replay(workdir)
    try:
        report = replay.run()
    except StepFailed as exc:
        report = {"status": exc.status, "message": exc.message, "details": exc.details}
    except Exception as exc:  # noqa: BLE001 - a kernel or a forged step failed: say which
        report = {
            "status": "runtime_error",
            "message": f"the replay raised {describe(exc)}",
            "details": format_traceback(exc, workdir),
        }
    tmp = workdir / (p.REPLAY_REPORT + ".tmp")
    tmp.write_text(json.dumps(report), encoding="utf-8")
    os.replace(tmp, workdir / p.REPLAY_REPORT)
    return 0
