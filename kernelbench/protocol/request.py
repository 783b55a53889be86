"""What the caller asks for (EvalOptions) and what passes between the caller and the
harness steps that run in child processes (StepRequest in, StepReport out, as JSON files
in the step's scratch directory)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kernelbench.protocol.errors import StepStatus
from kernelbench.protocol.policy import Policy
from kernelbench.protocol.result import TimingStats
from profiler.gpus import normalize_arch
from profiler.launches import LaunchRecord
from profiler.protocol import CudaSource, ProfileStepInput, ProfileStepOutput

Backend = Literal["triton", "cuda"]
Device = Literal["cpu", "cuda"]
Precision = Literal["fp32", "fp16", "bf16"]  # KernelBench's: inputs and weights cast to it
StepName = Literal["reference", "candidate", "profile", "recheck"]

REQUEST_FILE = "request.json"
REPORT_FILE = "step.json"
NONCE_FILE = ".nonce"
PROBLEM_FILE = "problem.py"
# The thread budget of a torch step (the host setting `step_threads`): the harness puts it
# in every step's environment, the child sets torch's intra-op threads from it.
THREADS_VAR = "KWRIGHT_STEP_THREADS"


class EvalOptions(BaseModel):
    """Knobs of one evaluation; defaults are what `kwright eval` uses."""

    backend: Backend | None = None  # None: detect from the candidate's source
    device: Device | None = None  # None: cuda when a GPU is visible, else cpu
    trials: int | None = Field(default=None, ge=1)  # seeds on the first shape; None: 3 cpu / 5 gpu
    extra_shapes: bool = True  # also check other shapes (CHECK_SIZES or the generic rule)
    random_shape: bool = True  # and one shape drawn from a secret seed (kernelbench.problems.sizes)
    timeout_s: float = Field(default=300.0, gt=0)
    # The reference step's own limit (None: timeout_s). The reference is trusted code; a
    # cold sandbox spends seconds importing torch before it starts, so tests that give
    # candidates a short limit give the reference a longer one.
    reference_timeout_s: float | None = Field(default=None, gt=0)
    timing: bool = True  # GPU only; on the CPU timing is never measured
    timing_trials: int = Field(default=100, ge=1)
    timing_warmup: int = Field(default=10, ge=0)
    timing_budget_s: float = Field(default=10.0, gt=0)
    compare_torch_compile: bool = False
    # The judging policy (kernelbench.protocol.policy). `allow_torch_ops` is its old name:
    # either one set means the kernelbench policy (and each implies the other).
    policy: Policy = "strict"
    allow_torch_ops: bool = False
    profile: bool = True  # attach a static profile to a correct (or not_run CUDA) candidate
    profile_incorrect: bool = False  # also profile candidates that ran but were incorrect
    precision: Precision = "fp32"  # tolerances per precision (kernelbench.protocol.compare)
    arch: str = "sm_90"
    gpu: str | None = None  # roofline GPU; None: the one being used, else the arch's default
    ncu: bool = True  # on a GPU with Nsight Compute installed, add its counters
    seed: int | None = None  # fix the seeds (debugging only; default: fresh random seeds)
    memory_mb: int | None = None  # sandbox memory limit; None: the backend's default
    # Tests and debugging only: skip the static check so that code it would reject runs
    # (the sandbox conformance suite needs hostile candidates to reach the sandbox).
    static_check: bool = True
    # Blind host code (Triton): the candidate's process gets stand-in data and its program is
    # replayed on the real data in a clean process (kernelbench.harness.blind). On the CPU.
    blind: bool = True

    @model_validator(mode="after")
    def _policy_alias(self) -> EvalOptions:
        """allow_torch_ops is the kernelbench policy (and the kernelbench policy allows them)."""
        if self.allow_torch_ops:
            self.policy = "kernelbench"
        self.allow_torch_ops = self.policy == "kernelbench"
        return self

    @field_validator("arch")
    @classmethod
    def _known_arch(cls, value: str) -> str:
        """sm_80 / sm_89 / sm_90 / sm_100 (also spelled sm_90a, 90, ...)."""
        return normalize_arch(value)


class TimingSpec(BaseModel):
    enabled: bool = False
    trials: int = 100
    warmup: int = 10
    budget_s: float = 10.0
    torch_compile: bool = False


class StepRequest(BaseModel):
    step: StepName
    problem_id: str
    device: Device
    backend: Backend
    init_seed: int
    precision: Precision = "fp32"  # floating inputs, init arguments and weights cast to it
    # Reference step: plans the shapes itself (kernelbench.problems.sizes) from these.
    defaults: dict[str, int] = Field(default_factory=dict)
    check_sizes: list[dict[str, int]] | None = None
    extra_shapes: bool = True
    seeds_first_shape: list[int] = Field(default_factory=list)
    seed_per_extra_shape: list[int] = Field(default_factory=list)
    # Reference step: draws one more check shape from this secret seed (kernelbench.problems.sizes).
    random_shape_seed: int | None = None
    timing: TimingSpec = Field(default_factory=TimingSpec)
    arch: str = "sm_90"
    profile: ProfileStepInput | None = None  # profile step: what to compile


class TrialOutput(BaseModel):
    trial: int
    seed: int
    sizes: dict[str, int]
    shape_index: int
    output_file: str | None = None
    inputs_hash_before: str | None = None
    inputs_hash_after: str | None = None
    aliased_input: int | None = None  # index of an input an output shares memory with
    error: str | None = None
    # per flattened output: max |float32 reference - float64 reference| (the reference's
    # own rounding error; kernelbench.protocol.compare's noise floor), None where not measured
    noise: list[float | None] | None = None


class StepReport(BaseModel):
    """Written by the harness after the candidate's code has returned."""

    step: StepName
    nonce: str = ""
    status: StepStatus = "ok"
    message: str | None = None
    details: str = ""  # traceback or compiler output, trimmed
    trials: list[TrialOutput] = Field(default_factory=list)
    shapes_dropped: list[str] = Field(default_factory=list)
    random_shape: dict[str, int] | None = None  # the secretly drawn check shape, if it ran
    launches: list[LaunchRecord] = Field(default_factory=list)
    kernel_launches: int | None = None
    timing: TimingStats | None = None
    ref_timing: TimingStats | None = None
    ref_compile_timing: TimingStats | None = None
    flops: float | None = None  # reference FLOPs at default sizes (roofline)
    min_bytes: float | None = None
    dtype: str | None = None  # the reference's main floating dtype (roofline precision)
    cuda_sources: list[CudaSource] = Field(default_factory=list)  # CUDA C the candidate built
    profile: ProfileStepOutput | None = None  # profile step
    extra: dict[str, Any] = Field(default_factory=dict)


class RunnerReport(BaseModel):
    """What the candidate's runner wrote about itself (kernelbench.runner.candidate_step): evidence
    that can only make a verdict worse (its guard record, its launches), never better."""

    model_config = ConfigDict(extra="ignore")

    status: StepStatus = "ok"
    message: str | None = None
    details: str = ""
    trials_done: list[int] = Field(default_factory=list)
    launches_per_trial: dict[str, int] = Field(default_factory=dict)
    # CUDA C on the emulated device: its kernel launches per trial (None: not emulated)
    cuda_launches_per_trial: dict[str, int] | None = None
    kernel_launches: int | None = None
    launches: list[LaunchRecord] = Field(default_factory=list)
    cuda_sources: list[CudaSource] = Field(default_factory=list)
    guard: dict[str, Any] | None = None
    timing: dict[str, Any] | None = None
    duration_s: float | None = None
    # per shape: [reference state names with no same-named slot in ModelNew, digests of
    # ModelNew's tensors nothing was copied into] (kernelbench.harness.handover)
    state_handover: dict[str, list[list[str]]] | None = None
    confinement: str | None = None  # the step's OS confinement (kernelbench.runner.confine)

    def for_profiler(self) -> StepReport:
        return StepReport(
            step="candidate",
            launches=self.launches,
            cuda_sources=self.cuda_sources,
            kernel_launches=self.kernel_launches,
        )


def read_nonce(workdir: Path) -> str:
    """Read and delete the step's nonce (before any problem or candidate code runs)."""
    path = workdir / NONCE_FILE
    try:
        nonce = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""
    path.unlink()
    return nonce


def write_report(workdir: Path, report: StepReport) -> None:
    tmp = workdir / (REPORT_FILE + ".tmp")
    tmp.write_text(report.model_dump_json(), encoding="utf-8")
    os.replace(tmp, workdir / REPORT_FILE)
