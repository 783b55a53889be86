"""The candidate step: host the candidate, run it on the inputs it was handed, save what it
produced. It decides nothing: the caller compares the saved outputs and inputs with the
reference's, outside this process (protocol in `kernelbench.protocol.runner_files`).

Order matters. Before any candidate code runs, the runner reads and unlinks its request
and the input files, reseeds every RNG from `os.urandom` (nothing the candidate can draw
repeats a trial's seed), and installs the compute guard. The class that runs is the
class that was checked: `ModelNew` must be a plain class defined in the candidate file,
and its own `forward` function is called directly (no instance attribute, hook, or
`__call__` override can stand in for it).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import random
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from kernelbench.problems.loading import copy_matching_state, hash_values, seed_all
from kernelbench.protocol import runner_files as p
from kernelbench.protocol.cuda_source import CudaNotRun, record_cuda_sources
from kernelbench.protocol.errors import (
    StepFailed,
    StepStatus,
    describe,
    format_traceback,
    is_compile_error,
)
from kernelbench.runner.confine import confine
from kernelbench.runner.cuda_emu.loader import emulated_launches
from kernelbench.runner.cuda_emu.record import CudaRecording
from kernelbench.runner.guard import ComputeGuard
from kernelbench.runner.program import Recorder, intercept_launches
from profiler.launches import record_triton_launches


def no_cuda_launch(trial: int) -> str:
    return (
        f"forward launched no CUDA kernel in trial {trial} (a CUDA C forward must launch at "
        "least one custom kernel; host code or torch ops computing the output are not one)"
    )


def _reseed() -> None:
    seed = int.from_bytes(os.urandom(8), "little") & (2**63 - 1)
    random.seed(os.urandom(32))
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(seed % 2**32)


def _take(workdir: Path, rel: str, device: str) -> Any:
    """Load a file the caller handed over, then unlink it."""
    path = workdir / rel
    value = torch.load(path, weights_only=True, map_location=device)
    path.unlink()
    return value


@contextlib.contextmanager
def _paused(guard: ComputeGuard) -> Iterator[None]:
    guard.paused += 1
    try:
        yield
    finally:
        guard.paused -= 1


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _import_candidate(workdir: Path) -> ModuleType:

    path = workdir / p.CANDIDATE_FILE
    spec = importlib.util.spec_from_file_location("kw_candidate", path)
    if spec is None or spec.loader is None:
        raise StepFailed("compile_error", "the candidate file cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules["kw_candidate"] = module
    try:
        spec.loader.exec_module(module)
    except (CudaNotRun, StepFailed):
        raise
    except SyntaxError as exc:
        raise StepFailed("compile_error", f"syntax error at line {exc.lineno}: {exc.msg}") from exc
    except Exception as exc:
        raise StepFailed(
            "compile_error",
            f"importing the candidate raised {describe(exc)}",
            format_traceback(exc, workdir),
        ) from exc
    return module


def checked_class(module: ModuleType, path: Path) -> type[torch.nn.Module]:
    """ModelNew as defined by `class ModelNew` in the file, with its own `def forward`."""
    cls = module.__dict__.get("ModelNew")
    if cls is None:
        raise StepFailed("compile_error", "the candidate defines no ModelNew")
    if not isinstance(cls, type) or not issubclass(cls, torch.nn.Module):
        raise StepFailed("rejected", "ModelNew is not an nn.Module class")
    if type(cls) is not type(torch.nn.Module):
        raise StepFailed(
            "rejected", "ModelNew has a metaclass (the class that runs must be checked)"
        )
    if cls.__module__ != module.__name__ or cls.__qualname__ != "ModelNew":
        raise StepFailed("rejected", "ModelNew is bound to a class that is not `class ModelNew`")
    forward = cls.__dict__.get("forward")
    # @torch.no_grad() / @torch.inference_mode() wrap forward in torch's own function
    while forward is not None and hasattr(forward, "__wrapped__"):
        wrapper = getattr(forward, "__code__", None)
        if wrapper is None or not wrapper.co_filename.endswith(TORCH_DECORATOR_FILE):
            raise StepFailed("rejected", "ModelNew.forward is wrapped by a decorator not torch's")
        forward = forward.__wrapped__
    code = getattr(forward, "__code__", None)
    if (
        forward is None
        or code is None
        or type(forward).__name__ != "function"
        or Path(code.co_filename).resolve() != path.resolve()
        or forward.__qualname__ != "ModelNew.forward"
    ):
        raise StepFailed("rejected", "ModelNew.forward is not the `def forward` of class ModelNew")
    return cls


TORCH_DECORATOR_FILE = str(Path("torch") / "utils" / "_contextlib.py")


def _check_outputs(flat: list[Any]) -> None:
    for item in flat:
        if isinstance(item, torch.Tensor) and type(item) is not torch.Tensor:
            raise StepFailed(
                "rejected", f"forward returned a tensor subclass ({type(item).__name__})"
            )


class Runner:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        req_path = workdir / p.RUNNER_REQUEST
        self.req = json.loads(req_path.read_text(encoding="utf-8"))
        req_path.unlink()
        self.device: str = self.req["device"]
        self.backend: str = self.req["backend"]
        self.trials: list[dict[str, int]] = self.req["trials"]
        self.inputs = {t["trial"]: _take(workdir, p.trial_inputs_file(t["trial"]), self.device)
                       for t in self.trials}  # fmt: skip
        self.inits = {s: _take(workdir, p.init_file(s), "cpu")
                      for s in sorted({t["shape"] for t in self.trials})}  # fmt: skip
        shutil.rmtree(workdir / p.IN_DIR, ignore_errors=True)
        (workdir / p.OUT_DIR).mkdir(exist_ok=True)
        self.report: dict[str, Any] = {"status": "ok", "trials_done": [], "launches_per_trial": {}}
        self.emulated = self.backend == "cuda" and self.device == "cpu"  # CUDA C, emulated
        if self.emulated:
            self.report["cuda_launches_per_trial"] = {}
        self.guard = ComputeGuard()
        # Blind: the inputs and weights handed over are stand-ins; the program the host code
        # builds is recorded (kernelbench.runner.program) and replayed elsewhere on the data.
        self.blind = bool(self.req.get("blind"))
        self.program = Recorder()

    def _recording(self, in_forward: bool) -> contextlib.AbstractContextManager[Any]:
        if not self.blind:
            return contextlib.nullcontext()
        self.program.in_forward = in_forward
        return self.program

    def _model(self, cls: type[torch.nn.Module], shape: int) -> torch.nn.Module:

        init = self.inits[shape]
        try:
            with self._recording(in_forward=False):
                # KernelBench's handover: the reference's init seed before both constructors
                if self.req.get("init_seed") is not None:
                    seed_all(int(self.req["init_seed"]))
                    if self.blind:
                        self.program.seeded()
                model = cls(*init["init"])
                _reseed()
        except (CudaNotRun, StepFailed):
            raise
        except Exception as exc:
            if is_compile_error(exc):
                raise StepFailed(
                    "compile_error", describe(exc), format_traceback(exc, self.workdir)
                ) from exc
            raise StepFailed(
                "runtime_error",
                f"ModelNew(*get_init_inputs()) raised {describe(exc)}",
                format_traceback(exc, self.workdir),
            ) from exc
        if type(model) is not cls:
            raise StepFailed("rejected", "ModelNew(...) returned an object of another class")
        if self.program.failure is not None:
            raise self.program.failure
        with _paused(self.guard), self._recording(in_forward=False):
            for key, value in init["state"].items():
                if self.blind and isinstance(value, torch.Tensor):
                    self.program.source(value, f"state:{shape}:{key}")
            dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(self.req.get("precision"))
            if dtype is not None:  # KernelBench casts ModelNew too (fp32: as built)
                model = model.to(dtype=dtype)
            unmatched, own = copy_matching_state(model, init["state"])
        if unmatched:  # the caller tells which of them ModelNew holds anyway (by value)
            with _paused(self.guard):
                mine = model.state_dict()
                digests = [hash_values([mine[n]]) for n in own]
            self.report.setdefault("state_handover", {})[str(shape)] = [unmatched, digests]
        with _paused(self.guard), self._recording(in_forward=False):
            model = model.to(self.device)
        return model

    def _forward(
        self, cls: type[torch.nn.Module], model: torch.nn.Module, inputs: list[Any]
    ) -> Any:

        self.guard.begin_forward()
        try:
            with torch.no_grad(), self._recording(in_forward=True):
                output = cls.forward(model, *inputs)
            _sync(self.device)
        except (CudaNotRun, StepFailed):
            raise
        except Exception as exc:
            status: StepStatus = "compile_error" if is_compile_error(exc) else "runtime_error"
            raise StepFailed(
                status,
                f"ModelNew.forward raised {describe(exc)}",
                format_traceback(exc, self.workdir),
            ) from exc
        finally:
            self.guard.end_forward()
        return output

    def run_trials(self, cls: type[torch.nn.Module], recorder: Any) -> None:
        models: dict[int, torch.nn.Module] = {}
        total = 0
        for spec in self.trials:
            trial, shape = spec["trial"], spec["shape"]
            if shape not in models:
                models[shape] = self._model(cls, shape)
            inputs = self.inputs[trial]
            if "into" in spec:  # same buffers as an earlier trial, new contents
                with _paused(self.guard), torch.no_grad():
                    target = self.inputs[spec["into"]]
                    for dst, src in zip(target, inputs, strict=True):
                        if isinstance(dst, torch.Tensor):
                            dst.copy_(src)
                    inputs = target
            launched, cuda_launched = recorder.total_launches, emulated_launches()
            if self.blind:
                for i, x in enumerate(inputs):
                    if isinstance(x, torch.Tensor):
                        self.program.source(x, f"input:{trial}:{i}")
            output = self._forward(cls, models[shape], inputs)
            if self.program.failure is not None:
                raise self.program.failure
            cuda_count = emulated_launches() - cuda_launched
            count = recorder.total_launches - launched + cuda_count
            if self.emulated:
                self.report["cuda_launches_per_trial"][str(trial)] = cuda_count
            total += count
            self.report["launches_per_trial"][str(trial)] = count
            if self.backend == "triton" and count == 0:
                raise StepFailed(
                    "rejected",
                    "forward launched no Triton kernel (the core computation must run in custom kernels)",
                )
            if self.emulated and cuda_count == 0:
                raise StepFailed("rejected", no_cuda_launch(trial))
            with _paused(self.guard):
                flat = p.flatten_outputs(output)
                _check_outputs(flat)
                if self.blind:
                    self.program.outputs(trial, flat)
                torch.save(
                    {"outputs": flat, "inputs": inputs}, self.workdir / p.trial_output_file(trial)
                )
            self.report["trials_done"].append(trial)
        self.report["kernel_launches"] = total
        if self.blind:
            with _paused(self.guard):
                (self.workdir / p.PROGRAM_FILE).write_text(
                    json.dumps(self.program.program()), encoding="utf-8"
                )
        if self.req.get("timing", {}).get("enabled") and self.device == "cuda" and self.trials:
            first = self.trials[0]
            from kernelbench.runner.timed import time_candidate  # noqa: PLC0415 - heavy library, imported where used

            with _paused(self.guard):
                self.report["timing"] = time_candidate(
                    lambda *a: self._forward(cls, models[first["shape"]], list(a)),
                    self.inputs[first["trial"]],
                    self.req["timing"],
                    self.workdir,
                )

    def run(self) -> None:

        _reseed()
        self.guard.install()
        self.guard.protect([x for xs in self.inputs.values() for x in xs])
        recorder_ctx = record_triton_launches()
        recorder = recorder_ctx.__enter__()
        cuda_ctx: Any = contextlib.nullcontext(None)
        if self.backend == "cuda" and self.device == "cpu":
            from kernelbench.runner.cuda_emu.emulate import emulate_cuda_on_cpu  # noqa: PLC0415 - heavy library, imported where used

            blind_cuda = CudaRecording(self.program) if self.blind else None
            cuda_ctx = emulate_cuda_on_cpu(blind_cuda)  # CUDA C on the emulated device
        elif self.backend == "cuda":
            cuda_ctx = record_cuda_sources()
        try:
            blind_ctx: Any = (
                intercept_launches(self.program, recorder)
                if self.blind
                else contextlib.nullcontext()
            )
            with cuda_ctx as captured, blind_ctx:
                module = _import_candidate(self.workdir)
                self._confine()  # after the import: a load_inline there ran ninja and g++
                cls = checked_class(module, self.workdir / p.CANDIDATE_FILE)
                self.run_trials(cls, recorder)
                if captured is not None:
                    self.report["cuda_sources"] = [s.model_dump() for s in captured.sources]
        except CudaNotRun as exc:
            # Refused by the emulator (or cupy): compiled and judged by the caller's profile
            # step; the emulator's build log, if it failed, goes with it.
            log_text = getattr(exc, "log", "")
            self._fail(StepFailed("not_run", str(exc), log_text), cuda_sources=exc.sources)
        except StepFailed as exc:
            self._fail(exc)
        finally:
            self.guard.paused += 1
            self.report["launches"] = [r.model_dump() for r in recorder.records]
            self.report["guard"] = self.guard.summary()

    def _confine(self) -> None:
        """No new processes or threads, exec, ptrace or process_vm_* from here on
        (`kernelbench.runner.confine`); a GPU step runs unconfined (its compilers exec)."""
        if self.device != "cpu":
            self.report["confinement"] = "off: a GPU step compiles with ptxas/nvcc in-process"
            return
        with _paused(self.guard):
            self.report["confinement"] = confine()

    def _fail(self, exc: StepFailed, cuda_sources: list[Any] | None = None) -> None:
        self.report.update(status=exc.status, message=exc.message, details=exc.details)
        if cuda_sources:
            self.report["cuda_sources"] = [s.model_dump() for s in cuda_sources]

    def write_report(self) -> None:
        tmp = self.workdir / (p.RUNNER_REPORT + ".tmp")
        tmp.write_text(json.dumps(self.report), encoding="utf-8")
        os.replace(tmp, self.workdir / p.RUNNER_REPORT)


def run_candidate_step(workdir: Path, *, in_process: bool = False) -> int:
    """Run the step and end the process at once: no candidate code (an atexit hook, a
    replaced stream's flush, a finalizer) may run after the report is written. The guard
    stays installed to the end. `in_process` (benchmarks) uninstalls it and returns."""
    started = time.perf_counter()
    runner = Runner(workdir)
    runner.run()
    runner.report["duration_s"] = round(time.perf_counter() - started, 3)
    runner.write_report()
    if in_process:
        runner.guard.uninstall()
        return 0
    for stream in (sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()  # type: ignore[union-attr]
    os._exit(0)
