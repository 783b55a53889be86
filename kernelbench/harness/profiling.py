"""Profile a candidate from the evaluation: the static profile step (through the same
Sandbox as the other steps), the roofline, and Nsight Compute on a GPU.

The caller's half lives here and in `profiler.static`: it never imports candidate code.
Compile-cache and profile-cache entries are written here, in the caller, from the
results of sandboxed steps that never see the cache (the trust rule in `profiler.cache`).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kernelbench.problems.problem import Problem
from kernelbench.protocol.request import (
    PROBLEM_FILE,
    EvalOptions,
    StepReport,
    StepRequest,
)
from kernelbench.protocol.runner_files import CANDIDATE_FILE
from profiler.cache import CompileCache, ProfileCache
from profiler.gpus import GpuSpec, UnknownGpu, default_gpu, gpu_spec, normalize_arch
from profiler.ncu import NEEDS_GPU, find_ncu, merge_into_report, parse_ncu_csv
from profiler.protocol import NcuJob, ProfileStepInput
from profiler.report import ProfileReport
from profiler.roofline import roofline
from profiler.static import StaticProfile, StepRun, static_profile
from sandbox.base import SandboxOutcome

log = logging.getLogger(__name__)


@dataclass
class Verification:
    """What compiling the candidate's kernels for the target showed, before the replay:
    `refused` (a kernel the target's compiler refused: compile_error), `allowed` (the
    tokens of what the replay may run; None: no check), `arch` (set when every launch and
    source compiled), `note` (why not)."""

    static: StaticProfile | None
    note: str | None
    refused: str | None = None
    allowed: list[str] | None = None
    arch: str | None = None


# (workdir, request, label, extra env) -> (outcome, report or None)
RunStep = Callable[
    [Path, StepRequest, str, dict[str, str]], tuple[SandboxOutcome, StepReport | None]
]


def _describe_failure(outcome: SandboxOutcome) -> str:
    if outcome.timed_out:
        return "timed out"
    if outcome.infra_error:
        return f"sandbox failed: {outcome.infra_error}"
    if outcome.signal:
        return f"killed by {outcome.signal}"
    tail = outcome.stderr.strip().splitlines()[-3:]
    return f"exited {outcome.returncode}: " + " ".join(tail)[:400]


class CandidateProfiler:
    """Static profile (+ ncu on a GPU) of one candidate, for one evaluation."""

    def __init__(
        self,
        run: RunStep,
        workroot: Path,
        problem: Problem,
        source: str,
        options: EvalOptions,
        device: str,
    ) -> None:
        self.run = run
        self.workroot = workroot
        self.problem = problem
        self.source = source
        self.options = options
        self.device = device
        self._steps = 0

    def _request(self, inp: ProfileStepInput) -> StepRequest:
        return StepRequest(
            step="profile",
            problem_id=self.problem.id,
            device=self.device,
            backend="triton",
            init_seed=0,
            arch=self.options.arch,
            profile=inp,
        )

    def _run_profile_step(self, inp: ProfileStepInput, files: dict[str, str]) -> StepRun:
        self._steps += 1
        workdir = self.workroot / f"profile_{self._steps}"
        workdir.mkdir(parents=True)
        for name, text in files.items():
            (workdir / name).write_text(text, encoding="utf-8")
        outcome, report = self.run(workdir, self._request(inp), "profile", {})
        if report is None:
            return StepRun(None, None, _describe_failure(outcome))
        if report.profile is None:
            return StepRun(None, None, report.message or "no profile in the step report")
        return StepRun(report.profile, workdir)

    def verify(self, cand: StepReport) -> Verification:
        """Compile every kernel the candidate launched for the target, before any of them
        runs on the evaluation's data (issue 28, point 2). The static profile is that
        compile (cached). A profiling fault is not the candidate's: it leaves kernels
        unverified (the result says so) and never changes the verdict. Off with profiling
        (--no-profile): nothing is compiled and the replay runs what the program launches."""
        arch = self.options.arch
        if not self.options.profile:
            return Verification(None, f"not compiled for {arch}: profiling is off")
        try:
            static = self.static(cand)
        except Exception as exc:
            log.exception("compiling the kernels for %s failed", arch)
            why = f"not compiled for {arch}: profiling failed: {type(exc).__name__}: {exc}"
            return Verification(None, why)
        if static.refusals:
            return Verification(static, None, refused=f"not valid for {arch}: {static.refusals[0]}")
        note = None
        if static.unverified:
            note = (
                f"{len(static.unverified)} launches or sources not compiled for {arch} "
                "(the profile's budget or a fault: see the profile's notes and errors)"
            )
        allowed = static.verified + static.unverified
        return Verification(static, note, allowed=allowed, arch=None if note else arch)

    def attach(
        self,
        static: StaticProfile | None,
        ref: StepReport,
        measured_ms: float | None,
        note: str | None,
    ) -> ProfileReport:
        """The profile of a judged candidate: the static facts (`note`: why there are none),
        the roofline, ncu on a GPU. A profiling fault lands in its errors."""
        if static is None:
            return ProfileReport(arch=self.options.arch, errors=[note or "no static profile"])
        try:
            return self.finish(static.report, ref, measured_ms)
        except Exception as exc:
            log.exception("profiling failed")
            return ProfileReport(
                arch=self.options.arch, errors=[f"profiling failed: {type(exc).__name__}: {exc}"]
            )

    def static(self, cand: StepReport) -> StaticProfile:
        return static_profile(
            self.source,
            cand.launches,
            cand.cuda_sources,
            self.options.arch,
            self._run_profile_step,
            candidate_file=CANDIDATE_FILE,
            compile_cache=CompileCache(),
            profile_cache=ProfileCache(),
        )

    def _roofline_gpu(self) -> tuple[GpuSpec | None, bool, str | None]:
        """(spec, whether it is the GPU the timing ran on, a note)."""
        if self.options.gpu:
            try:
                spec = gpu_spec(self.options.gpu)
            except UnknownGpu as exc:
                return None, False, str(exc)
            return spec, self.device == "cuda" and spec.name == self._device_gpu_name(), None
        if self.device == "cuda":
            name = self._device_gpu_name()
            if name:
                return gpu_spec(name), True, None
        try:
            return default_gpu(normalize_arch(self.options.arch)), False, None
        except (KeyError, ValueError) as exc:
            return None, False, str(exc)

    @staticmethod
    def _device_gpu_name() -> str | None:
        import torch  # noqa: PLC0415 - heavy library, imported where used

        try:
            return gpu_spec(torch.cuda.get_device_name()).name
        except (UnknownGpu, RuntimeError, AssertionError):
            return None

    def finish(
        self,
        report: ProfileReport,
        ref: StepReport,
        measured_ms: float | None,
    ) -> ProfileReport:
        spec, measured_here, note = self._roofline_gpu()
        if note:
            report.notes.append(f"roofline: {note}")
        if spec is not None:
            report.gpu = spec.name
            report.roofline = roofline(
                ref.flops,
                ref.min_bytes,
                spec,
                dtype=ref.dtype,
                measured_ms=measured_ms if measured_here else None,
            )
        if self.device == "cuda" and self.options.ncu:
            self._ncu(report)
        elif self.options.ncu:
            report.notes.append(NEEDS_GPU)
        return report

    def _ncu(self, report: ProfileReport) -> None:
        """GPU only: a separate profile step runs ncu around one forward of the candidate.
        Its results are measurements of this run and are never cached."""
        if find_ncu() is None:
            report.notes.append("ncu: Nsight Compute is not installed; static facts only")
            return
        self._steps += 1
        workdir = self.workroot / f"ncu_{self._steps}"
        workdir.mkdir(parents=True)
        shutil.copyfile(self.problem.path, workdir / PROBLEM_FILE)  # after the verdict
        (workdir / CANDIDATE_FILE).write_text(self.source, encoding="utf-8")
        names = sorted({k.name for k in report.kernels})
        inp = ProfileStepInput(
            arch=self.options.arch,
            ncu=NcuJob(kernel_names=names, timeout_s=self.options.timeout_s),
        )
        outcome, step = self.run(workdir, self._request(inp), "ncu", {})
        if step is None or step.profile is None:
            report.errors.append(f"ncu step failed: {_describe_failure(outcome)}")
            return
        if step.profile.ncu_error:
            report.errors.append(step.profile.ncu_error)
            return
        try:
            merge_into_report(report, parse_ncu_csv(step.profile.ncu_csv or ""))
        except ValueError as exc:
            report.errors.append(f"ncu output unreadable: {exc}")
