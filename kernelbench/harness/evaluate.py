"""Evaluate one candidate: the trusted caller's side of the trust boundary.

Flow: static check -> reference step (a child running the problem: makes the inputs from
secret seeds, saves them and the reference's outputs) -> the reference outputs are read
into this process and the reference's scratch dir deleted -> the candidate step (the
runner, `kernelbench.runner`) gets only the candidate, the inputs and the init arguments
-> the verdict is computed here from the files it wrote (`kernelbench.harness.verdict`) -> on a
GPU the sampled timed calls are re-checked against the reference (a `recheck` step) ->
static profile (and ncu on a GPU). The threat model is in docs/threat-model.md ("How a verdict is
made").
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from kernelbench.harness import handover
from kernelbench.harness.blind import run_replay, write_decoys
from kernelbench.harness.profiling import CandidateProfiler, Verification
from kernelbench.harness.reference_request import reference_failure, reference_request, timing_spec
from kernelbench.harness.static.check import CandidateFileError, check_candidate, detect_backend
from kernelbench.harness.steps import StepRunner, crash_reason, messages
from kernelbench.harness.timed_verdict import judge_timing
from kernelbench.harness.verdict import guard_finding, judge_trials
from kernelbench.problems.problem import Problem
from kernelbench.protocol import runner_files as p
from kernelbench.protocol.compare import precision_tolerance
from kernelbench.protocol.cuda_source import NEEDS_GPU
from kernelbench.protocol.request import (
    PROBLEM_FILE,
    EvalOptions,
    RunnerReport,
    StepReport,
)
from kernelbench.protocol.result import ErrorKind, EvalResult, Status
from kernelbench.protocol.runner_files import CANDIDATE_FILE
from kernelbench.protocol.stepfiles import (
    MAX_OUTPUT_BYTES,
    UnsafeStepFile,
    load_step_tensors,
    read_step_file,
)
from kernelbench.protocol.timing import CPU_TIMING_NOTE
from kernelbench.runner.cuda_emu.emulate import BUILD_FAILED, REFUSED_PREFIX
from sandbox.base import Sandbox, SandboxOutcome, safe_tag
from sandbox.defaults import shared_sandbox

log = logging.getLogger(__name__)

SCRATCH_PREFIX = "kw-eval-"  # + run id tag + owner pid: `kwright sandbox cleanup` reads them
_STEP_STATUS = {
    "compile_error": Status.COMPILE_ERROR,
    "runtime_error": Status.RUNTIME_ERROR,
    "not_run": Status.NOT_RUN,
    "rejected": Status.REJECTED,
}
__all__ = ["GpuUnavailable", "UnsafeStepFile", "detect_device", "evaluate", "read_step_file"]


class GpuUnavailable(RuntimeError):
    """--device cuda was asked for on a machine without a CUDA GPU."""


def detect_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def scratch_prefix(run_id: str) -> str:

    return f"{SCRATCH_PREFIX}{safe_tag(run_id)}-{os.getpid()}-"


def _runner_trials(ref: StepReport) -> list[dict[str, int]]:
    """The runner's trial list; the first shape's last trial reuses trial 0's buffers."""
    specs = [{"trial": t.trial, "shape": t.shape_index} for t in ref.trials]
    first = [s for s in specs if s["shape"] == 0]
    if len(first) >= 2:
        first[-1]["into"] = first[0]["trial"]
    return specs


class _Evaluation:
    """One evaluation's state; `run()` returns the EvalResult."""

    def __init__(
        self,
        problem: Problem,
        source: str,
        options: EvalOptions,
        sandbox: Sandbox,
        workroot: Path,
        run_id: str,
        readonly_paths: list[Path],
    ) -> None:
        self.problem = problem
        self.source = source
        self.options = options
        self.workroot = workroot
        self.backend = options.backend or detect_backend(source)
        self.device = options.device or detect_device()
        self.torch_ops = options.policy == "kernelbench" or options.allow_torch_ops
        self.steps = StepRunner(sandbox, options, self.device, self.backend, run_id, readonly_paths)
        self.result = EvalResult(
            status=Status.ERROR,
            problem_id=problem.id,
            backend=self.backend,
            device=self.device,
            sandbox=sandbox.name,
            precision=options.precision,
            policy="kernelbench" if self.torch_ops else "strict",
        )

    def _infra_failure(self, outcome: SandboxOutcome, step: str) -> EvalResult:
        """The sandbox failed (not the problem, not the candidate): status error, kind infra."""
        log.error("%s step: sandbox %s failed: %s", step, outcome.backend, outcome.infra_error)
        return self._finish(
            Status.ERROR,
            f"sandbox failed during the {step} step: {outcome.infra_error}",
            error_kind=ErrorKind.INFRA,
            messages=messages(outcome),
        )

    def _finish(self, status: Status, reason: str | None = None, **fields: Any) -> EvalResult:
        self.result.status = status
        self.result.correct = status == Status.CORRECT
        self.result.reason = reason
        for key, value in fields.items():
            setattr(self.result, key, value)
        return self.result

    def _static_check(self) -> EvalResult | None:
        if not self.options.static_check:
            self.result.flags.append("static check skipped (tests/debugging only)")
            return None
        try:
            static = check_candidate(
                self.source, self.options.backend, allow_torch_ops=self.torch_ops
            )
        except CandidateFileError as exc:
            return self._finish(Status.COMPILE_ERROR, str(exc))
        self.result.flags.extend(static.warnings)
        if static.violations:
            return self._finish(
                Status.REJECTED,
                f"static check: {static.violations[0]}",
                messages="\n".join(static.violations),
            )
        return None

    def _reference(self) -> tuple[StepReport, Path] | EvalResult:
        req = reference_request(self.problem, self.options, self.device, self.backend)
        self.init_seed = req.init_seed
        ref_dir = self.workroot / "reference"
        ref_dir.mkdir()
        shutil.copyfile(self.problem.path, ref_dir / PROBLEM_FILE)
        outcome, ref = self.steps.trusted(ref_dir, req, "reference")
        if outcome.infra_error:
            return self._infra_failure(outcome, "reference")
        failed = reference_failure(self.problem, self.options, outcome, ref)
        if failed is not None or ref is None:
            reason, text = failed or ("no reference report", "")
            return self._finish(
                Status.ERROR, reason, error_kind=ErrorKind.BAD_PROBLEM, messages=text
            )
        return ref, ref_dir

    def _hand_over(self, ref: StepReport, ref_dir: Path, cand_dir: Path) -> dict[int, Any]:
        """Reference outputs into memory; the inputs and init files into the candidate's dir;
        nothing else of the reference's survives."""
        (cand_dir / p.IN_DIR).mkdir(parents=True)
        ref_outputs = {t.trial: load_step_tensors(ref_dir, str(t.output_file)) for t in ref.trials}
        self.first_inputs = load_step_tensors(ref_dir, "out/inputs_0.pt")
        for t in ref.trials:
            data = read_step_file(ref_dir, f"out/inputs_{t.trial}.pt", MAX_OUTPUT_BYTES)
            (cand_dir / p.trial_inputs_file(t.trial)).write_bytes(data)
        for shape in {t.shape_index for t in ref.trials}:
            data = read_step_file(ref_dir, f"out/init_{shape}.pt", MAX_OUTPUT_BYTES)
            (cand_dir / p.init_file(shape)).write_bytes(data)
        self.digests = handover.state_digests(ref_dir, {t.shape_index for t in ref.trials})
        shutil.rmtree(ref_dir)
        return ref_outputs

    def run(self) -> EvalResult:
        rejected = self._static_check()
        if rejected is not None:
            return rejected
        got = self._reference()
        if isinstance(got, EvalResult):
            return got
        ref, ref_dir = got
        cand_dir = self.workroot / "candidate"
        try:
            ref_outputs = self._hand_over(ref, ref_dir, cand_dir)
        except Exception as exc:  # noqa: BLE001 - whatever the reference step left
            return self._finish(
                Status.ERROR,
                f"the reference step's outputs are unreadable: {type(exc).__name__}: {exc}",
                error_kind=ErrorKind.BAD_PROBLEM,
            )
        (cand_dir / CANDIDATE_FILE).write_text(self.source, encoding="utf-8")
        # Blind runs on the CPU for now (Triton under the interpreter, CUDA C on the emulated
        # device): on a GPU the timed calls still run in the candidate's process
        # (kernelbench.runner.timed), where launches must be real. Never under the
        # kernelbench policy: its torch ops on the data have no stand-in replay.
        on_cpu = self.device == "cpu"
        blind = self.options.blind and not self.torch_ops and on_cpu
        replay_dir = self.workroot / "replay"
        if blind:
            shapes = sorted({t.shape_index for t in ref.trials})
            write_decoys(cand_dir, replay_dir, [t.trial for t in ref.trials], shapes)
        request: dict[str, object] = {
            "blind": blind,
            "backend": self.backend,
            "device": self.device,
            "trials": _runner_trials(ref),
            "init_seed": self.init_seed,  # KernelBench's: the same seed before both constructors
            "precision": self.options.precision,
            "timing": timing_spec(self.options, self.device).model_dump(),
        }
        outcome, cand, malformed = self.steps.candidate(cand_dir, request)
        if outcome.infra_error and not outcome.timed_out:
            return self._infra_failure(outcome, "candidate")
        if cand is None:
            if outcome.timed_out:
                return self._finish(
                    Status.TIMEOUT,
                    f"the candidate ran past its {self.options.timeout_s:.0f} s limit",
                    messages=messages(outcome),
                )
            return self._finish(
                Status.RUNTIME_ERROR,
                malformed or crash_reason(outcome, "the candidate process"),
                messages=messages(outcome),
            )
        self.result.kernel_launches = cand.kernel_launches
        self.result.random_shape = ref.random_shape
        profiler = CandidateProfiler(
            self.steps.trusted, self.workroot, self.problem, self.source, self.options, self.device
        )
        finding = guard_finding(cand.model_dump(), self.torch_ops)
        if finding is not None:
            return self._finish(Status.REJECTED, finding, messages=messages(outcome, cand.details))
        if cand.status == "not_run" and cand.cuda_sources:
            return self._cuda_without_gpu(profiler, ref, cand, outcome)
        if cand.status != "ok":
            return self._finish(
                _STEP_STATUS.get(cand.status, Status.ERROR),
                cand.message,
                messages=messages(outcome, cand.details),
            )
        if self.torch_ops and (cand.guard or {}).get("violations"):
            self.result.flags.append(f"torch ops allowed: {cand.guard['violations'][0]}")  # type: ignore[index]
        self.result.confinement = f"candidate: {cand.confinement or 'not reported'}"
        check = self._verify(profiler, cand)
        if check.refused:
            return self.result
        if blind:
            plan = _runner_trials(ref)
            replay = run_replay(
                self.steps, self.source, cand_dir, replay_dir, plan, self.init_seed, check.allowed
            )
            self.result.confinement += f"; replay: {replay.confinement or 'not reported'}"
            if replay.failure is not None:
                status, reason, text = replay.failure
                return self._finish(_STEP_STATUS.get(status, Status(status)), reason, messages=text)
            self.result.blind = True
        verdict_dir = replay_dir if blind else cand_dir
        tolerance = precision_tolerance(self.options.precision, self.problem.tolerance)
        trials, failure = judge_trials(ref, ref_outputs, verdict_dir, tolerance)
        self.result.trials = trials
        self.result.messages = messages(outcome)
        self.result.flags.extend(handover.handover_flags(cand, self.digests))
        self._finish(Status.INCORRECT, failure) if failure else self._finish(Status.CORRECT)
        if not handover.note_checks(self.result) and not failure:
            self._finish(Status.ERROR, handover.NO_JUDGEABLE, error_kind=ErrorKind.BAD_PROBLEM)
        if ref.shapes_dropped:
            self.result.flags.append(
                "shapes dropped (the reference fails or is ill-conditioned on them): "
                + "; ".join(ref.shapes_dropped)
            )
        self._timing(ref, cand, cand_dir)
        wanted = {Status.CORRECT} | (
            {Status.INCORRECT} if self.options.profile_incorrect else set()
        )
        if self.options.profile and self.result.status in wanted:
            note = self.result.verify_note
            self.result.profile = profiler.attach(check.static, ref, self.result.runtime_ms, note)
        return self.result

    def _timing(self, ref: StepReport, cand: RunnerReport, cand_dir: Path) -> None:
        if self.device != "cuda" or cand.timing is None or ref.ref_timing is None:
            self.result.timing_note = (
                CPU_TIMING_NOTE if self.device == "cpu" else "not measured (timing disabled)"
            )
            return
        if self.result.status != Status.CORRECT:
            return
        finding = judge_timing(self, ref, cand, cand_dir)
        if finding is not None:
            self._finish(*finding)

    def _verify(self, profiler: CandidateProfiler, cand: RunnerReport) -> Verification:
        """Every kernel compiled for the target before any runs on the verdict's data
        (CandidateProfiler.verify). A refused kernel (interpreter-only Python in a jit body,
        host-only C++ in __global__ code) is a finding: `compile_error`, before the replay."""
        check = profiler.verify(cand.for_profiler())
        self.result.verify_note, self.result.verified_arch = check.note, check.arch
        if check.refused and check.static:
            cuda = check.static.cuda_results
            logs = check.static.report.errors + [r.error or "" for r in cuda if r.refused]
            self._finish(Status.COMPILE_ERROR, check.refused, messages="\n".join(logs)[-8000:])
            self.result.profile = check.static.report
        return check

    def _cuda_without_gpu(
        self,
        profiler: CandidateProfiler,
        ref: StepReport,
        cand: RunnerReport,
        outcome: SandboxOutcome,
    ) -> EvalResult:
        """CUDA C on a CPU machine: the candidate step captured the sources; compile them
        in the profile step (cached) -> compile_error, or not_run with ptxas's facts."""
        static = profiler.static(cand.for_profiler())
        arch = self.options.arch
        failed = [r for r in static.cuda_results if not r.ok]
        if failed:
            return self._finish(
                Status.COMPILE_ERROR,
                f"nvcc reported errors compiling {failed[0].name} for {arch}",
                messages=messages(outcome, failed[0].error or failed[0].log),
            )
        if len(static.cuda_results) < len(cand.cuda_sources):
            return self._finish(
                Status.ERROR,
                "compiling the CUDA sources failed: " + "; ".join(static.report.errors),
                error_kind=ErrorKind.INFRA,
                messages=messages(outcome),
            )
        logs = "\n".join(r.log.strip() for r in static.cuda_results)
        if cand.message == BUILD_FAILED:  # nvcc accepts what the emulator could not build
            return self._finish(
                Status.ERROR,
                f"{BUILD_FAILED} (nvcc compiles it for {arch})",
                error_kind=ErrorKind.INFRA,
                messages=messages(outcome, cand.details),
            )
        if self.options.profile:
            self.result.profile = profiler.finish(static.report, ref, None)
        self.result.timing_note = CPU_TIMING_NOTE
        refused = (cand.message or "").startswith(REFUSED_PREFIX)
        why = f"{cand.message}; {NEEDS_GPU}" if refused else NEEDS_GPU
        return self._finish(
            Status.NOT_RUN,
            f"compiled for {arch} with nvcc; not executed: {why}",
            messages=messages(outcome, logs),
        )


def evaluate(
    problem: Problem,
    source: str,
    options: EvalOptions | None = None,
    sandbox: Sandbox | None = None,
    *,
    keep_dir: Path | None = None,
    run_id: str = "adhoc",
    readonly_paths: list[Path] | None = None,
) -> EvalResult:
    """Evaluate candidate `source` against `problem`. Never raises for candidate faults.

    `readonly_paths`: host paths both steps may read but never write (e.g. a shared
    compile cache: a candidate cannot poison it for the next one)."""

    options = options or EvalOptions()
    device = options.device or detect_device()
    if device == "cuda" and not torch.cuda.is_available():
        raise GpuUnavailable("--device cuda needs a CUDA GPU; none is visible (use --device cpu)")
    box = sandbox or shared_sandbox()  # long-lived: its warm pool serves every evaluation
    started = time.perf_counter()
    workroot = Path(tempfile.mkdtemp(prefix=scratch_prefix(run_id)))
    try:
        result = _Evaluation(
            problem, source, options, box, workroot, run_id, list(readonly_paths or [])
        ).run()
    finally:
        if keep_dir is not None:
            shutil.copytree(workroot, keep_dir, symlinks=True, dirs_exist_ok=True)
        shutil.rmtree(workroot, ignore_errors=True)
    result.duration_s = round(time.perf_counter() - started, 3)
    return result
