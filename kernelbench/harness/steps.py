"""Running one step of an evaluation through a Sandbox, and reading back what it left.

Trusted steps (reference, recheck, profile) talk through `request.json` / `step.json`
(kernelbench.protocol.request); the candidate step through the runner's files
(kernelbench.protocol.runner_files), whose report is untrusted evidence.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from kernelbench.protocol import runner_files as p
from kernelbench.protocol.request import (
    NONCE_FILE,
    REPORT_FILE,
    REQUEST_FILE,
    THREADS_VAR,
    EvalOptions,
    RunnerReport,
    StepReport,
    StepRequest,
)
from kernelbench.protocol.stepfiles import MAX_REPORT_BYTES, read_step_file
from kernelbench.runner.cuda_emu.build import (
    PCH_ENV,
    emulator_step_env,
)
from sandbox.base import Sandbox, SandboxJob, SandboxLimits, SandboxOutcome, StepProgram
from sandbox.settings import HostSettings, load_settings

# Every step of an evaluation runs the runner's child (it routes by the request it finds in
# its scratch dir); a warm zygote imports these first, so a step pays no import time.
STEP_PROGRAM = StepProgram(
    module="kernelbench.runner.child",
    preload=(
        "numpy",
        "numpy.random",
        "numpy.fft",
        "torch",
        "torch._dynamo",
        "torch.utils.flop_counter",
        "torch.utils.module_tracker",
        "torch.utils._device",
        "triton",
        "triton.language",
        "triton.language.extra.libdevice",
        "triton.runtime.interpreter",
        "triton.compiler.code_generator",
        "kernelbench.runner.candidate_step",
        "kernelbench.runner.guard",
        "kernelbench.runner.reference_step",
        "kernelbench.runner.child",
    ),
)

log = logging.getLogger(__name__)


def crash_reason(outcome: SandboxOutcome, what: str) -> str:
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
        return f"{what} exited with code {outcome.returncode} before the runner finished"
    return f"{what} exited before the runner finished (os._exit or sys.exit in candidate code?)"


def messages(outcome: SandboxOutcome, details: str = "") -> str:
    parts = [details.strip()]
    if outcome.stderr.strip():
        tail = outcome.stderr.strip()[-3000:]
        parts.append(f"[stderr]\n{tail}")
    if outcome.output_truncated:
        parts.append("[output truncated at the sandbox's cap]")
    return "\n".join(part for part in parts if part)


@dataclass
class StepRunner:
    """Runs steps of one evaluation with its sandbox, limits and environment."""

    sandbox: Sandbox
    options: EvalOptions
    device: str
    backend: str
    run_id: str
    readonly_paths: list[Path] = field(default_factory=list)

    def _env(self, label: str) -> dict[str, str]:
        if self.device == "cpu" and self.backend == "triton":
            return {"TRITON_INTERPRET": "1"}
        if self.device == "cpu" and self.backend == "cuda" and label in {"candidate", "replay"}:
            return emulator_step_env()  # the emulated device's precompiled header
        return {}

    def outcome(
        self, workdir: Path, label: str, env: dict[str, str] | None = None
    ) -> SandboxOutcome:
        timeout_s = self.options.timeout_s
        if label in {"reference", "recheck"} and self.options.reference_timeout_s is not None:
            timeout_s = self.options.reference_timeout_s
        limits = SandboxLimits(timeout_s=timeout_s)
        if self.options.memory_mb:
            limits.memory_mb = self.options.memory_mb
        env = self._env(label) if env is None else env
        env = {THREADS_VAR: str(load_settings(HostSettings).step_threads), **env}

        job = SandboxJob(
            program=STEP_PROGRAM,
            workdir=workdir,
            limits=limits,
            env=env,
            device=self.device,
            run_id=self.run_id,
            readonly_paths=self.readonly_paths + [Path(v) for k, v in env.items() if k == PCH_ENV],
            label=label,
        )
        return self.sandbox.run_step(job)

    def trusted(
        self, workdir: Path, req: StepRequest, label: str, env: dict[str, str] | None = None
    ) -> tuple[SandboxOutcome, StepReport | None]:
        """A step running only our code and the problem's: reference, recheck, profile."""
        nonce = secrets.token_hex(16)
        (workdir / REQUEST_FILE).write_text(req.model_dump_json(), encoding="utf-8")
        (workdir / NONCE_FILE).write_text(nonce, encoding="utf-8")
        outcome = self.outcome(workdir, label, env)
        if outcome.timed_out:
            return outcome, None
        try:
            report = StepReport.model_validate_json(
                read_step_file(workdir, REPORT_FILE, MAX_REPORT_BYTES)
            )
        except ValueError:  # missing, unsafe or malformed: no report
            return outcome, None
        if report.nonce != nonce:
            log.warning("%s: step report without the step's nonce", label)
            return outcome, None
        return outcome, report

    def candidate(
        self, workdir: Path, request: dict[str, object]
    ) -> tuple[SandboxOutcome, RunnerReport | None, str | None]:
        """The runner step: (outcome, its report or None, why the report is unusable)."""
        return self._untrusted(workdir, request, p.RUNNER_REQUEST, p.RUNNER_REPORT, "candidate")

    def replay(
        self, workdir: Path, request: dict[str, object]
    ) -> tuple[SandboxOutcome, RunnerReport | None, str | None]:
        """The replay step of a blind evaluation (kernelbench.runner.replay)."""
        return self._untrusted(workdir, request, p.REPLAY_REQUEST, p.REPLAY_REPORT, "replay")

    def _untrusted(
        self,
        workdir: Path,
        request: dict[str, object],
        request_file: str,
        report_file: str,
        label: str,
    ) -> tuple[SandboxOutcome, RunnerReport | None, str | None]:
        (workdir / request_file).write_text(json.dumps(request), encoding="utf-8")
        outcome = self.outcome(workdir, label)
        if outcome.timed_out:
            return outcome, None, None
        try:
            raw = read_step_file(workdir, report_file, MAX_REPORT_BYTES)
        except ValueError:
            return outcome, None, None
        try:
            return outcome, RunnerReport.model_validate_json(raw), None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first.get("loc", ()))
            return outcome, None, f"the runner's report is malformed ({where}: {first['msg']})"
