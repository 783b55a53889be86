"""The two harness steps that run in a child process (inside a sandbox).

* reference step: imports the problem, plans the check shapes, runs `Model` on seeded
  inputs and saves its outputs and parameters. Faults here are the problem's
  (`bad_problem`).
* candidate step: imports the candidate with Triton launches recorded (and CUDA builds
  stood in for on a CPU), runs `ModelNew` on the same seeded inputs with the reference's
  parameters copied in, saves its outputs, input digests and aliasing facts, and on a GPU
  times candidate and reference.

Neither step decides correctness: the caller compares the saved outputs outside this
process, so nothing the candidate does here can write the verdict. The report is only
accepted with the nonce that the harness read (and deleted) before importing candidate
code.
"""

from __future__ import annotations

import functools
import logging
import os
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from kernelbench.compare import flatten_outputs
from kernelbench.cuda_emu.emulate import emulate_cuda_on_cpu
from kernelbench.cuda_source import CudaNotRun, record_cuda_sources
from kernelbench.loading import (
    aliased_input,
    arity_error,
    copy_matching_state,
    hash_values,
    load_module,
    make_init_inputs,
    make_inputs,
    seed_all,
)
from kernelbench.request import (
    CANDIDATE_FILE,
    PROBLEM_FILE,
    REQUEST_FILE,
    StepReport,
    StepRequest,
    StepStatus,
    TrialOutput,
    read_nonce,
    write_report,
)
from kernelbench.sizes import estimate_work, first_working, plan_shapes
from kernelbench.timing import time_gpu
from profiler.launches import record_triton_launches
from profiler.protocol import CudaSource

log = logging.getLogger(__name__)

OUT_DIR = "out"
MAX_DETAILS = 6000


class StepFailed(Exception):
    def __init__(
        self,
        status: StepStatus,
        message: str,
        details: str = "",
        cuda_sources: list[CudaSource] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details
        self.cuda_sources = cuda_sources or []


def _trim(text: str, limit: int = MAX_DETAILS) -> str:
    if len(text) <= limit:
        return text
    return text[: limit // 3] + "\n...\n" + text[-(2 * limit) // 3 :]


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return first[:400]


def _traceback(exc: BaseException, workdir: Path) -> str:
    tb = "".join(traceback.format_exception(exc))
    return _trim(tb.replace(str(workdir) + "/", ""))


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _canonical_outputs(output: Any) -> list[Any]:
    """Outputs as a flat list of CPU tensors / plain scalars that torch.load(weights_only) reads."""
    flat: list[Any] = []
    for item in flatten_outputs(output):
        if isinstance(item, torch.Tensor):
            flat.append(item.detach().cpu().clone())
        elif item is None or isinstance(item, bool | int | float | str):
            flat.append(item)
        else:
            flat.append(f"<unsupported output type {type(item).__name__}>")
    return flat


def _is_compile_error(exc: BaseException) -> bool:
    module = type(exc).__module__ or ""
    return module.startswith("triton.compiler") or type(exc).__name__ == "CompilationError"


# ---------------------------------------------------------------- reference step


def _reference_forward(
    module: ModuleType, sizes: dict[str, int], seed: int, init_seed: int, device: str
) -> tuple[Any, list[Any], dict[str, torch.Tensor], str, str]:
    """Run Model once; returns (output, inputs, state, hash_before, hash_after)."""
    try:
        init = make_init_inputs(module, sizes)
    except Exception as exc:
        raise StepFailed("bad_problem", f"get_init_inputs() raised {_describe(exc)}") from exc
    bad = arity_error(module.Model.__init__, [None, *init], "Model.__init__")
    if bad:
        raise StepFailed("bad_problem", f"{bad} (from get_init_inputs())")
    try:
        seed_all(init_seed)
        model = module.Model(*init).to(device)
    except Exception as exc:
        raise StepFailed(
            "bad_problem", f"Model(*get_init_inputs()) raised {_describe(exc)}"
        ) from exc
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    try:
        inputs = make_inputs(module, sizes, seed, device)
    except Exception as exc:
        raise StepFailed("bad_problem", f"get_inputs() raised {_describe(exc)}") from exc
    bad = arity_error(model.forward, inputs, "Model.forward")
    if bad:
        raise StepFailed("bad_problem", f"{bad} (from get_inputs())")
    before = hash_values(inputs)
    try:
        with torch.no_grad():
            output = model(*inputs)
        _sync(device)
    except Exception as exc:
        raise StepFailed("bad_problem", f"Model.forward raised {_describe(exc)}") from exc
    return output, inputs, state, before, hash_values(inputs)


def _roofline_inputs(
    module: ModuleType, defaults: dict[str, int]
) -> tuple[float | None, float | None, str | None]:
    """(FLOPs, minimum bytes moved, main floating dtype) at the default sizes, on the meta
    device."""
    try:
        _, flops = estimate_work(module, defaults)
        with torch.device("meta"):
            inputs = list(module.get_inputs())
            model = module.Model(*module.get_init_inputs())
            with torch.no_grad():
                outputs = flatten_outputs(model(*inputs))
        tensors = [
            t for t in [*inputs, *outputs, *model.parameters()] if isinstance(t, torch.Tensor)
        ]
        floating = [t for t in tensors if t.is_floating_point()]
        dtype = str(max(floating, key=lambda t: t.numel()).dtype) if floating else None
        return flops, float(sum(t.numel() * t.element_size() for t in tensors)), dtype
    except Exception as exc:  # noqa: BLE001 - optional facts; many ops lack meta kernels
        log.debug("no roofline inputs: %s", exc)
        return None, None, None


def reference_step(workdir: Path, req: StepRequest) -> StepReport:
    report = StepReport(step="reference")
    out_dir = workdir / OUT_DIR
    out_dir.mkdir(exist_ok=True)
    try:
        module = load_module(workdir / PROBLEM_FILE, "kw_problem")
    except Exception as exc:
        raise StepFailed(
            "bad_problem",
            f"importing the problem raised {_describe(exc)}",
            _traceback(exc, workdir),
        ) from exc
    plans = plan_shapes(module, req.defaults, req.check_sizes, req.device, req.extra_shapes)
    trial_no = 0
    for shape_index, (primary, backoffs) in enumerate(plans):
        seeds = (
            req.seeds_first_shape
            if shape_index == 0
            else req.seed_per_extra_shape[shape_index - 1 : shape_index]
        )
        if not seeds:
            continue
        results: dict[str, Any] = {}

        def works(
            sizes: dict[str, int], seed: int = seeds[0], bag: dict[str, Any] = results
        ) -> str | None:
            try:
                bag["run"] = _reference_forward(module, sizes, seed, req.init_seed, req.device)
            except StepFailed as exc:
                return exc.message
            return None

        sizes, errors = first_working([primary, *backoffs], works)
        if sizes is None:
            if shape_index == 0:
                raise StepFailed("bad_problem", errors[-1] if errors else "no usable shape")
            report.shapes_dropped.append(errors[-1] if errors else str(primary))
            continue
        state_file = out_dir / f"state_{shape_index}.pt"
        torch.save(results["run"][2], state_file)
        for i, seed in enumerate(seeds):
            if i == 0:
                output, _, _, before, after = results["run"]
            else:
                try:
                    output, _, _, before, after = _reference_forward(
                        module, sizes, seed, req.init_seed, req.device
                    )
                except StepFailed as exc:
                    raise StepFailed("bad_problem", exc.message) from exc
            name = f"ref_{trial_no}.pt"
            torch.save(_canonical_outputs(output), out_dir / name)
            report.trials.append(
                TrialOutput(
                    trial=trial_no,
                    seed=seed,
                    sizes=sizes,
                    shape_index=shape_index,
                    output_file=f"{OUT_DIR}/{name}",
                    inputs_hash_before=before,
                    inputs_hash_after=after,
                )
            )
            trial_no += 1
    report.flops, report.min_bytes, report.dtype = _roofline_inputs(module, req.defaults)
    return report


# ---------------------------------------------------------------- candidate step


def _import_candidate(workdir: Path) -> ModuleType:
    try:
        module = load_module(workdir / CANDIDATE_FILE, "kw_candidate")
    except CudaNotRun:
        raise
    except SyntaxError as exc:
        raise StepFailed("compile_error", f"syntax error at line {exc.lineno}: {exc.msg}") from exc
    except Exception as exc:
        raise StepFailed(
            "compile_error",
            f"importing the candidate raised {_describe(exc)}",
            _traceback(exc, workdir),
        ) from exc
    if not hasattr(module, "ModelNew"):
        raise StepFailed("compile_error", "the candidate defines no ModelNew")
    return module


def _candidate_trials(
    workdir: Path,
    req: StepRequest,
    problem: ModuleType,
    cand: ModuleType,
    recorder: Any,
    report: StepReport,
) -> tuple[Any, list[Any], list[Any]] | None:
    """Run every trial; returns (model_new, first inputs, init inputs) for timing."""
    out_dir = workdir / OUT_DIR
    models: dict[int, Any] = {}
    first: tuple[Any, list[Any], list[Any]] | None = None
    launches_in_forward = 0
    for spec in req.trials:
        init = make_init_inputs(problem, spec.sizes)
        if spec.shape_index not in models:
            try:
                seed_all(req.init_seed)
                model_new = cand.ModelNew(*init)
            except CudaNotRun:
                raise
            except Exception as exc:
                if _is_compile_error(exc):
                    raise StepFailed(
                        "compile_error", _describe(exc), _traceback(exc, workdir)
                    ) from exc
                raise StepFailed(
                    "runtime_error",
                    f"ModelNew(*get_init_inputs()) raised {_describe(exc)}",
                    _traceback(exc, workdir),
                ) from exc
            state = torch.load(out_dir / f"state_{spec.shape_index}.pt", weights_only=True)
            copy_matching_state(model_new, state)
            models[spec.shape_index] = model_new.to(req.device)
        model_new = models[spec.shape_index]
        inputs = make_inputs(problem, spec.sizes, spec.seed, req.device)
        before = hash_values(inputs)
        launched = recorder.total_launches
        try:
            with torch.no_grad():
                output = model_new(*inputs)
            _sync(req.device)
        except CudaNotRun:
            raise
        except Exception as exc:
            status: StepStatus = "compile_error" if _is_compile_error(exc) else "runtime_error"
            raise StepFailed(
                status, f"ModelNew.forward raised {_describe(exc)}", _traceback(exc, workdir)
            ) from exc
        launches_in_forward += recorder.total_launches - launched
        if req.backend == "triton" and recorder.total_launches == launched:
            raise StepFailed(
                "rejected",
                "forward launched no Triton kernel (the core computation "
                "must run in custom kernels)",
            )
        flat = _canonical_outputs(output)
        name = f"cand_{spec.trial}.pt"
        torch.save(flat, out_dir / name)
        report.trials.append(
            TrialOutput(
                trial=spec.trial,
                seed=spec.seed,
                sizes=spec.sizes,
                shape_index=spec.shape_index,
                output_file=f"{OUT_DIR}/{name}",
                inputs_hash_before=before,
                inputs_hash_after=hash_values(inputs),
                aliased_input=aliased_input(flatten_outputs(output), inputs),
            )
        )
        if first is None:
            first = (model_new, inputs, init)
    report.kernel_launches = launches_in_forward
    return first


def _time_on_gpu(
    req: StepRequest,
    problem: ModuleType,
    model_new: Any,
    inputs: list[Any],
    init: list[Any],
    state: dict[str, torch.Tensor],
    report: StepReport,
) -> None:
    spec = req.timing
    timer = functools.partial(
        time_gpu, trials=spec.trials, warmup=spec.warmup, budget_s=spec.budget_s
    )
    seed_all(req.init_seed)
    ref_model = problem.Model(*init)
    copy_matching_state(ref_model, state)
    ref_model = ref_model.to(req.device)
    report.timing = timer(model_new, inputs)
    report.ref_timing = timer(ref_model, inputs)
    if spec.torch_compile:
        report.ref_compile_timing = timer(torch.compile(ref_model), inputs)


def candidate_step(workdir: Path, req: StepRequest) -> StepReport:
    report = StepReport(step="candidate")
    if req.backend == "triton" and req.device == "cpu":
        os.environ["TRITON_INTERPRET"] = "1"
    problem = load_module(workdir / PROBLEM_FILE, "kw_problem")
    with record_triton_launches() as recorder:
        try:
            if req.backend == "cuda" and req.device == "cpu":
                with emulate_cuda_on_cpu() as captured:  # CUDA C on the emulated device
                    cand = _import_candidate(workdir)
                    first = _candidate_trials(workdir, req, problem, cand, recorder, report)
                report.cuda_sources = captured.sources
            elif req.backend == "cuda":
                with record_cuda_sources() as recorded:
                    cand = _import_candidate(workdir)
                    first = _candidate_trials(workdir, req, problem, cand, recorder, report)
                report.cuda_sources = recorded.sources
            else:
                cand = _import_candidate(workdir)
                first = _candidate_trials(workdir, req, problem, cand, recorder, report)
        except CudaNotRun as exc:
            # Compiled (and judged compile_error / not_run) by the caller's profile step.
            log_text = getattr(exc, "log", "")  # the emulator's build log, if it failed
            raise StepFailed("not_run", str(exc), log_text, cuda_sources=exc.sources) from exc
        finally:
            report.launches = recorder.records
    if first is not None and req.timing.enabled and req.device == "cuda":
        state = torch.load(workdir / OUT_DIR / "state_0.pt", weights_only=True)
        try:
            _time_on_gpu(req, problem, *first, state, report)
        except Exception as exc:
            raise StepFailed(
                "runtime_error", f"timing raised {_describe(exc)}", _traceback(exc, workdir)
            ) from exc
    return report


# ---------------------------------------------------------------- entry


def _is_profile_request(workdir: Path) -> bool:
    text = (workdir / REQUEST_FILE).read_text(encoding="utf-8")
    return StepRequest.model_validate_json(text).step == "profile"


def run_step(workdir: Path) -> int:
    """Run the step described by workdir/request.json; the report goes to workdir/step.json."""
    if _is_profile_request(workdir):
        from kernelbench.profile_step import run_profile_step

        return run_profile_step(workdir)
    nonce = read_nonce(workdir)  # before any problem or candidate code runs
    req = StepRequest.model_validate_json((workdir / REQUEST_FILE).read_text(encoding="utf-8"))
    try:
        report = (
            reference_step(workdir, req)
            if req.step == "reference"
            else candidate_step(workdir, req)
        )
    except StepFailed as exc:
        report = StepReport(
            step=req.step,
            status=exc.status,
            message=exc.message,
            details=exc.details,
            cuda_sources=exc.cuda_sources,
        )
    report.nonce = nonce
    write_report(workdir, report)
    return 0
