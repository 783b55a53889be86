"""Evaluate one candidate: static check, reference step, candidate step, verdict.

Both steps run through a Sandbox; the verdict is computed here, in the caller, from the
output tensors the steps saved (read with `torch.load(weights_only=True)`), so candidate
code never computes or writes it. Reference outputs are read into memory and deleted
before the candidate step starts, so the candidate cannot read them. Seeds are drawn fresh
for every evaluation.
"""

from __future__ import annotations

import io
import logging
import os
import random
import secrets
import shutil
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from kernelbench.compare import compare_outputs
from kernelbench.cuda_emu.build import PCH_ENV, emulator_step_env
from kernelbench.cuda_emu.emulate import BUILD_FAILED, REFUSED_PREFIX
from kernelbench.cuda_source import NEEDS_GPU
from kernelbench.problem import Problem
from kernelbench.request import (
    CANDIDATE_FILE,
    NONCE_FILE,
    PROBLEM_FILE,
    REPORT_FILE,
    REQUEST_FILE,
    EvalOptions,
    StepReport,
    StepRequest,
    TimingSpec,
    TrialSpec,
)
from kernelbench.result import ErrorKind, EvalResult, Status, TrialResult
from kernelbench.static_check import CandidateFileError, check_candidate, detect_backend
from kernelbench.timing import CPU_TIMING_NOTE
from profiler.report import ProfileReport
from sandbox.base import Sandbox, SandboxJob, SandboxLimits, SandboxOutcome, safe_tag
from sandbox.profiling import CandidateProfiler

log = logging.getLogger(__name__)

TOO_GOOD_SPEEDUP = 10.0
SCRATCH_PREFIX = "kw-eval-"  # + run id tag + owner pid: `kwright sandbox cleanup` reads them
DEFAULT_TRIALS = {"cpu": 3, "cuda": 5}
_STEP_STATUS = {
    "compile_error": Status.COMPILE_ERROR,
    "runtime_error": Status.RUNTIME_ERROR,
    "not_run": Status.NOT_RUN,
    "rejected": Status.REJECTED,
}


MAX_REPORT_BYTES = 64 << 20
MAX_OUTPUT_BYTES = 8 << 30


class UnsafeStepFile(ValueError):
    """A file a step left is not a plain file inside its scratch dir (a symlink, a FIFO, a
    device, a path out of the dir) or is too large: the caller never reads it."""


def read_step_file(root: Path, rel: str, limit: int) -> bytes:
    """Bytes of a regular file a step wrote under `root`. The step's processes are gone by
    now (the sandbox guarantees it), so what is checked here stays true while we read."""
    rel_path = Path(rel)
    if rel_path.is_absolute() or ".." in rel_path.parts:
        raise UnsafeStepFile(f"{rel}: outside the scratch dir")
    target = root.resolve() / rel_path
    if target.resolve() != target:
        raise UnsafeStepFile(f"{rel}: a symbolic link")
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise UnsafeStepFile(f"{rel}: {exc.strerror}") from exc
    chunks: list[bytes] = []
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeStepFile(f"{rel}: not a regular file")
        if info.st_size > limit:
            raise UnsafeStepFile(f"{rel}: {info.st_size} bytes (limit {limit})")
        size = 0
        while size <= limit and (chunk := os.read(fd, 1 << 24)):
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > limit:
        raise UnsafeStepFile(f"{rel}: over {limit} bytes")
    return b"".join(chunks)


def load_step_tensors(root: Path, rel: str) -> Any:
    """Output tensors a step saved: plain data only (weights_only), from a checked file."""
    data = read_step_file(root, rel, MAX_OUTPUT_BYTES)
    return torch.load(io.BytesIO(data), weights_only=True)


class GpuUnavailable(RuntimeError):
    """--device cuda was asked for on a machine without a CUDA GPU."""


def detect_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def scratch_prefix(run_id: str) -> str:
    return f"{SCRATCH_PREFIX}{safe_tag(run_id)}-{os.getpid()}-"


def _seeds(options: EvalOptions, count: int) -> list[int]:
    if options.seed is not None:
        rng = random.Random(options.seed)
        return [rng.randrange(2**31) for _ in range(count)]
    return [secrets.randbelow(2**31) for _ in range(count)]


def _crash_reason(outcome: SandboxOutcome, what: str) -> str:
    if outcome.infra_error:
        return f"sandbox failed: {outcome.infra_error}"
    if outcome.oom_killed:
        return f"{what} was killed for exceeding its memory limit"
    if outcome.signal:
        hint = ""
        if outcome.signal == "SIGABRT":
            hint = " (an abort; in the Triton interpreter often an out-of-bounds access)"
        elif outcome.signal == "SIGSEGV":
            hint = " (a segmentation fault: an invalid memory access)"
        elif outcome.signal in {"SIGKILL", "SIGXCPU"}:
            hint = " (killed: a resource limit, or the process killed itself)"
        return f"{what} crashed: killed by {outcome.signal}{hint}"
    if outcome.returncode not in (0, None):
        return f"{what} exited with code {outcome.returncode} before the harness finished"
    return f"{what} exited before the harness finished (os._exit or sys.exit in candidate code?)"


def _messages(outcome: SandboxOutcome, details: str = "") -> str:
    parts = [details.strip()]
    if outcome.stderr.strip():
        tail = outcome.stderr.strip()[-3000:]
        parts.append(f"[stderr]\n{tail}")
    if outcome.output_truncated:
        parts.append("[output truncated at the sandbox's cap]")
    return "\n".join(p for p in parts if p)


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
        self.sandbox = sandbox
        self.workroot = workroot
        self.run_id = run_id
        self.readonly_paths = readonly_paths
        self.backend = options.backend or detect_backend(source)
        self.device = options.device or detect_device()
        self.result = EvalResult(
            status=Status.ERROR,
            problem_id=problem.id,
            backend=self.backend,
            device=self.device,
            sandbox=sandbox.name,
        )

    def _infra_failure(self, outcome: SandboxOutcome, step: str) -> EvalResult:
        """The sandbox failed (not the problem, not the candidate): status error, kind infra."""
        log.error("%s step: sandbox %s failed: %s", step, outcome.backend, outcome.infra_error)
        return self._finish(
            Status.ERROR,
            f"sandbox failed during the {step} step: {outcome.infra_error}",
            error_kind=ErrorKind.INFRA,
            messages=_messages(outcome),
        )

    def _finish(self, status: Status, reason: str | None = None, **fields: Any) -> EvalResult:
        self.result.status = status
        self.result.correct = status == Status.CORRECT
        self.result.reason = reason
        for key, value in fields.items():
            setattr(self.result, key, value)
        return self.result

    def _run(
        self, workdir: Path, req: StepRequest, label: str, env: dict[str, str] | None = None
    ) -> tuple[SandboxOutcome, StepReport | None]:
        nonce = secrets.token_hex(16)
        (workdir / REQUEST_FILE).write_text(req.model_dump_json(), encoding="utf-8")
        (workdir / NONCE_FILE).write_text(nonce, encoding="utf-8")
        if env is None:
            interpret = self.device == "cpu" and self.backend == "triton"
            env = {"TRITON_INTERPRET": "1"} if interpret else {}
            if self.device == "cpu" and self.backend == "cuda" and label == "candidate":
                env.update(emulator_step_env())  # the emulated device's precompiled header
        timeout_s = self.options.timeout_s
        if label == "reference" and self.options.reference_timeout_s is not None:
            timeout_s = self.options.reference_timeout_s
        limits = SandboxLimits(timeout_s=timeout_s)
        if self.options.memory_mb:
            limits.memory_mb = self.options.memory_mb
        job = SandboxJob(
            workdir=workdir,
            limits=limits,
            env=env,
            device=self.device,
            run_id=self.run_id,
            readonly_paths=self.readonly_paths + [Path(p) for k, p in env.items() if k == PCH_ENV],
            label=label,
        )
        outcome = self.sandbox.run_step(job)
        if outcome.timed_out:
            return outcome, None
        try:
            report = StepReport.model_validate_json(
                read_step_file(workdir, REPORT_FILE, MAX_REPORT_BYTES)
            )
        except ValueError:  # missing, unsafe or malformed: no report
            return outcome, None
        if report.nonce != nonce:
            log.warning("%s: step report without the harness nonce (forged?)", label)
            return outcome, None
        return outcome, report

    def run(self) -> EvalResult:
        if self.options.static_check:
            try:
                static = check_candidate(
                    self.source, self.options.backend, allow_torch_ops=self.options.allow_torch_ops
                )
            except CandidateFileError as exc:
                return self._finish(Status.COMPILE_ERROR, str(exc))
            self.result.flags.extend(static.warnings)
            if static.violations:
                return self._finish(
                    Status.REJECTED, static.violations[0], messages="\n".join(static.violations)
                )
        else:
            self.result.flags.append("static check skipped (tests/debugging only)")
        n_first = self.options.trials or DEFAULT_TRIALS[self.device]
        seeds = _seeds(self.options, n_first + 8)
        init_seed = seeds.pop()
        ref_dir = self.workroot / "reference"
        ref_dir.mkdir()
        shutil.copyfile(self.problem.path, ref_dir / PROBLEM_FILE)
        ref_req = StepRequest(
            step="reference",
            problem_id=self.problem.id,
            device=self.device,
            backend=self.backend,
            init_seed=init_seed,
            defaults=self.problem.sizes,
            check_sizes=self.problem.check_sizes,
            extra_shapes=self.options.extra_shapes,
            seeds_first_shape=seeds[:n_first],
            seed_per_extra_shape=seeds[n_first:],
            arch=self.options.arch,
        )
        outcome, ref = self._run(ref_dir, ref_req, "reference")
        if outcome.infra_error:
            return self._infra_failure(outcome, "reference")
        if ref is None:
            what = "the reference" + (" timed out" if outcome.timed_out else "")
            reason = (
                f"{what} after {self.options.reference_timeout_s or self.options.timeout_s:.0f} s"
                if outcome.timed_out
                else _crash_reason(outcome, "the reference")
            )
            return self._finish(
                Status.ERROR, reason, error_kind=ErrorKind.BAD_PROBLEM, messages=_messages(outcome)
            )
        if ref.status != "ok":
            return self._finish(
                Status.ERROR,
                f"{self.problem.path.name}: {ref.message}",
                error_kind=ErrorKind.BAD_PROBLEM,
                messages=_messages(outcome, ref.details),
            )
        # Reference outputs into memory; nothing of them stays on disk for the candidate.
        cand_dir = self.workroot / "candidate"
        (cand_dir / "out").mkdir(parents=True)
        try:
            ref_outputs = {
                t.trial: load_step_tensors(ref_dir, str(t.output_file)) for t in ref.trials
            }
            for state in (ref_dir / "out").glob("state_*.pt"):
                data = read_step_file(ref_dir, f"out/{state.name}", MAX_OUTPUT_BYTES)
                (cand_dir / "out" / state.name).write_bytes(data)
        except Exception as exc:  # noqa: BLE001 - whatever the reference step left
            return self._finish(
                Status.ERROR,
                f"the reference step's outputs are unreadable: {type(exc).__name__}: {exc}",
                error_kind=ErrorKind.BAD_PROBLEM,
            )
        shutil.rmtree(ref_dir)
        shutil.copyfile(self.problem.path, cand_dir / PROBLEM_FILE)
        (cand_dir / CANDIDATE_FILE).write_text(self.source, encoding="utf-8")
        cand_req = StepRequest(
            step="candidate",
            problem_id=self.problem.id,
            device=self.device,
            backend=self.backend,
            init_seed=init_seed,
            arch=self.options.arch,
            trials=[
                TrialSpec(trial=t.trial, seed=t.seed, sizes=t.sizes, shape_index=t.shape_index)
                for t in ref.trials
            ],
            timing=TimingSpec(
                enabled=self.options.timing and self.device == "cuda",
                trials=self.options.timing_trials,
                warmup=self.options.timing_warmup,
                budget_s=self.options.timing_budget_s,
                torch_compile=self.options.compare_torch_compile,
            ),
        )
        outcome, cand = self._run(cand_dir, cand_req, "candidate")
        if outcome.infra_error and not outcome.timed_out:
            return self._infra_failure(outcome, "candidate")
        if cand is None:
            if outcome.timed_out:
                return self._finish(
                    Status.TIMEOUT,
                    f"the candidate ran past its {self.options.timeout_s:.0f} s limit",
                    messages=_messages(outcome),
                )
            return self._finish(
                Status.RUNTIME_ERROR,
                _crash_reason(outcome, "the candidate process"),
                messages=_messages(outcome),
            )
        self.result.kernel_launches = cand.kernel_launches
        profiler = CandidateProfiler(
            self._run, self.workroot, self.problem, self.source, self.options, self.device
        )
        if cand.status == "not_run" and cand.cuda_sources:
            return self._cuda_without_gpu(profiler, ref, cand, cand_dir, outcome)
        if cand.status != "ok":
            return self._finish(
                _STEP_STATUS.get(cand.status, Status.ERROR),
                cand.message,
                messages=_messages(outcome, cand.details),
            )
        self._judge(ref, ref_outputs, cand, cand_dir, outcome)
        if ref.shapes_dropped:
            self.result.flags.append(
                "shapes dropped (the reference fails on them): " + "; ".join(ref.shapes_dropped)
            )
        self._timing(cand)
        wanted = {Status.CORRECT} | (
            {Status.INCORRECT} if self.options.profile_incorrect else set()
        )
        if self.options.profile and self.result.status in wanted:
            self._profile(profiler, ref, cand, cand_dir)
        return self.result

    def _profile(
        self, profiler: CandidateProfiler, ref: StepReport, cand: StepReport, cand_dir: Path
    ) -> None:
        """Attach a profile; a profiling fault lands in profile.errors, never in the verdict."""
        try:
            static = profiler.static(cand)
            self.result.profile = profiler.finish(
                static.report, ref, self.result.runtime_ms, cand_dir
            )
        except Exception as exc:
            log.exception("profiling failed")
            self.result.profile = ProfileReport(
                arch=self.options.arch, errors=[f"profiling failed: {type(exc).__name__}: {exc}"]
            )

    def _cuda_without_gpu(
        self,
        profiler: CandidateProfiler,
        ref: StepReport,
        cand: StepReport,
        cand_dir: Path,
        outcome: SandboxOutcome,
    ) -> EvalResult:
        """CUDA C on a CPU machine: the candidate step captured the sources; compile them
        in the profile step (cached) -> compile_error, or not_run with ptxas's facts."""
        static = profiler.static(cand)
        arch = self.options.arch
        failed = [r for r in static.cuda_results if not r.ok]
        if failed:
            return self._finish(
                Status.COMPILE_ERROR,
                f"nvcc reported errors compiling {failed[0].name} for {arch}",
                messages=_messages(outcome, failed[0].error or failed[0].log),
            )
        if len(static.cuda_results) < len(cand.cuda_sources):
            return self._finish(
                Status.ERROR,
                "compiling the CUDA sources failed: " + "; ".join(static.report.errors),
                error_kind=ErrorKind.INFRA,
                messages=_messages(outcome),
            )
        logs = "\n".join(r.log.strip() for r in static.cuda_results)
        if cand.message == BUILD_FAILED:  # nvcc accepts what the emulator could not build
            return self._finish(
                Status.ERROR, f"{BUILD_FAILED} (nvcc compiles it for {arch})",
                error_kind=ErrorKind.INFRA,
                messages=_messages(outcome, cand.details),
            )  # fmt: skip
        if self.options.profile:
            self.result.profile = profiler.finish(static.report, ref, None, cand_dir)
        self.result.timing_note = CPU_TIMING_NOTE
        refused = (cand.message or "").startswith(REFUSED_PREFIX)
        why = f"{cand.message}; {NEEDS_GPU}" if refused else NEEDS_GPU
        return self._finish(
            Status.NOT_RUN,
            f"compiled for {arch} with nvcc; not executed: {why}",
            messages=_messages(outcome, logs),
        )

    def _judge(
        self,
        ref: StepReport,
        ref_outputs: dict[int, Any],
        cand: StepReport,
        cand_dir: Path,
        outcome: SandboxOutcome,
    ) -> None:
        by_trial = {t.trial: t for t in cand.trials}
        trials: list[TrialResult] = []
        failure: str | None = None
        for r in ref.trials:
            c = by_trial.get(r.trial)
            tr = TrialResult(trial=r.trial, seed=r.seed, sizes=r.sizes, ok=False)
            if c is None or c.output_file is None:
                tr.reason = "no output recorded for this trial"
            elif c.inputs_hash_before != r.inputs_hash_before:
                # The candidate's process reports this digest, so it cannot be allowed to
                # turn its own failure into a "bad problem" error: a trial failure it is.
                tr.reason = (
                    "the inputs differ from the reference's under the same seed: "
                    "get_inputs() is not reproducible, or the step's report was tampered with"
                )
            elif c.inputs_hash_after != r.inputs_hash_after:
                tr.reason = "the candidate modified its inputs in place"
            elif c.aliased_input is not None:
                tr.reason = f"an output shares memory with input {c.aliased_input} (aliasing)"
            else:
                try:
                    out = load_step_tensors(cand_dir, c.output_file)
                except Exception as exc:  # noqa: BLE001 - untrusted file
                    tr.reason = f"outputs unreadable: {type(exc).__name__}: {str(exc)[:200]}"
                else:
                    tr.ok, tr.reason, tr.outputs = compare_outputs(
                        out, ref_outputs[r.trial], self.problem.tolerance
                    )
            trials.append(tr)
            if not tr.ok and failure is None:
                failure = f"trial {tr.trial} (seed {tr.seed}, sizes {tr.sizes}): {tr.reason}"
        self.result.trials = trials
        self.result.messages = _messages(outcome)
        if failure is None:
            self._finish(Status.CORRECT)
        else:
            self._finish(Status.INCORRECT, failure)

    def _timing(self, cand: StepReport) -> None:
        if self.device != "cuda" or cand.timing is None or cand.ref_timing is None:
            self.result.timing_note = (
                CPU_TIMING_NOTE if self.device == "cpu" else "not measured (timing disabled)"
            )
            return
        r = self.result
        r.timing, r.ref_timing = cand.timing, cand.ref_timing
        r.runtime_ms, r.ref_runtime_ms = cand.timing.mean_ms, cand.ref_timing.mean_ms
        if cand.timing.mean_ms > 0:
            r.speedup = cand.ref_timing.mean_ms / cand.timing.mean_ms
            if cand.ref_compile_timing is not None:
                r.ref_compile_runtime_ms = cand.ref_compile_timing.mean_ms
                r.speedup_vs_compile = cand.ref_compile_timing.mean_ms / cand.timing.mean_ms
            if r.speedup > TOO_GOOD_SPEEDUP:
                r.flags.append(f"speedup over {TOO_GOOD_SPEEDUP:.0f}x: check for a shortcut")


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
    from sandbox.defaults import shared_sandbox

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
