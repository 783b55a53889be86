"""EvalResult: the verdict on one candidate (JSON, schema-versioned; contract in DESIGN.md)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from kernelbench.protocol.policy import Policy
from profiler.report import ProfileReport

EVAL_SCHEMA_VERSION = 1


class Status(StrEnum):
    CORRECT = "correct"
    INCORRECT = "incorrect"
    COMPILE_ERROR = "compile_error"
    RUNTIME_ERROR = "runtime_error"
    TIMEOUT = "timeout"
    REJECTED = "rejected"  # a cheating pattern was detected; `reason` says which
    NOT_RUN = "not_run"  # e.g. CUDA C without a GPU: compiled, not executed
    ERROR = "error"  # kernelwright itself (or the problem file) failed, not the candidate


class ErrorKind(StrEnum):
    """Who is at fault when status is `error`: separates bad input from infrastructure."""

    BAD_PROBLEM = "bad_problem"
    BAD_CANDIDATE_FILE = "bad_candidate_file"
    INFRA = "infra"


class TensorCheck(BaseModel):
    """How one output tensor compared with the reference's."""

    index: int
    shape: list[int] | None = None
    ref_shape: list[int] | None = None
    dtype: str | None = None
    ref_dtype: str | None = None
    shape_ok: bool = True
    dtype_ok: bool = True
    nonfinite_ok: bool = True  # NaN/Inf in the same places
    values_ok: bool = True
    max_abs_err: float | None = None
    max_rel_err: float | None = None
    mismatched: int = 0
    numel: int = 0
    atol: float | None = None  # effective, after scaling (see kernelbench.protocol.compare)
    noise_floor: float | None = None  # set where the reference's own error raised atol
    rtol: float | None = None
    first_mismatch: str | None = None
    # False where the reference's own error (noise: max |float32 - float64|) is at or above
    # its scale (RMS): its values are not judged (kernelbench.protocol.compare)
    judgeable: bool = True
    noise: float | None = None
    scale: float | None = None
    # "zeros" / "constant": such an output would pass this tolerance (compare._trivial)
    trivial: str | None = None


class TrialResult(BaseModel):
    trial: int
    seed: int
    sizes: dict[str, int] = Field(default_factory=dict)
    ok: bool
    reason: str | None = None
    outputs: list[TensorCheck] = Field(default_factory=list)


class NotJudgeable(BaseModel):
    """A shape's output that cannot tell right from wrong: the float32 reference's own
    error (`noise`) is at or above its scale (`scale`, the RMS of its values)."""

    trial: int
    sizes: dict[str, int] = Field(default_factory=dict)
    output: int
    noise: float
    scale: float


class TimingStats(BaseModel):
    mean_ms: float
    median_ms: float
    stdev_ms: float
    min_ms: float
    max_ms: float
    trials: int


class EvalResult(BaseModel):
    schema_version: int = EVAL_SCHEMA_VERSION
    status: Status
    correct: bool = False
    reason: str | None = None  # one line: why it is not correct (or what was not done)
    error_kind: ErrorKind | None = None
    problem_id: str | None = None
    backend: str | None = None
    device: str | None = None
    sandbox: str | None = None
    policy: Policy = "strict"  # the judging policy (kernelbench.protocol.policy)
    trials: list[TrialResult] = Field(default_factory=list)
    runtime_ms: float | None = None  # null where not measured — never 0
    ref_runtime_ms: float | None = None
    ref_compile_runtime_ms: float | None = None  # torch.compile reference, on request
    speedup: float | None = None
    speedup_vs_compile: float | None = None
    timing: TimingStats | None = None
    ref_timing: TimingStats | None = None
    timing_note: str | None = None  # why timing fields are null
    flags: list[str] = Field(default_factory=list)  # warnings, e.g. "speedup_over_10x"
    # the outputs compared came from the replay of the candidate's recorded program, run on
    # data its own process never held (kernelbench.harness.blind), not from its process
    blind: bool = False
    # every kernel compiled for this arch before any ran on the data the verdict rests on
    # (issue 28 point 2); None: not checked, `verify_note` says why (e.g. profiling off)
    verified_arch: str | None = None
    verify_note: str | None = None
    # the OS confinement of the steps that ran candidate code ("candidate: seccomp ...;
    # replay: seccomp ..."; kernelbench.runner.confine)
    confinement: str | None = None
    messages: str = ""  # compiler/runtime output, trimmed
    profile: ProfileReport | None = None
    kernel_launches: int | None = None
    random_shape: dict[str, int] | None = None  # the check shape drawn from a secret seed
    precision: str | None = None  # fp32 | fp16 | bf16: inputs and weights cast to it
    # the outputs whose values were not judged (the reference is its own noise there)
    not_judgeable: list[NotJudgeable] = Field(default_factory=list)
    duration_s: float | None = None

    def one_line(self) -> str:
        """A short human verdict, e.g. for the CLI and logs."""
        text = self.status.value
        if self.speedup is not None:
            text += f", speedup {self.speedup:.2f}x"
        if self.reason:
            text += f": {self.reason}"
        return text
