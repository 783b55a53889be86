"""What passes between the caller and the sandboxed profile step (JSON, inside StepRequest /
StepReport): compile jobs in, per-job results out. Kept free of heavy imports so the
harness request models can carry it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from profiler.launches import LaunchRecord
from profiler.report import KernelProfile

KERNELS_FILE = "kernels.py"  # the extracted Triton kernels, written by the caller


class CudaSource(BaseModel):
    """A CUDA C source the candidate handed to load_inline / load / cupy (captured, as data)."""

    name: str
    source: str


class TritonJob(BaseModel):
    key: str  # compile-cache key, computed by the caller
    launch: LaunchRecord


class CudaJob(BaseModel):
    key: str
    name: str
    source: str


class NcuJob(BaseModel):
    """GPU only: run Nsight Compute on one forward of the candidate."""

    kernel_names: list[str] = Field(default_factory=list)  # empty: every kernel
    launch_count: int = 20
    timeout_s: float = 300.0


class ProfileStepInput(BaseModel):
    arch: str
    kernels_file: str | None = None
    triton_jobs: list[TritonJob] = Field(default_factory=list)
    cuda_jobs: list[CudaJob] = Field(default_factory=list)
    ncu: NcuJob | None = None


class JobResult(BaseModel):
    key: str
    kind: Literal["triton", "cuda"]
    name: str  # kernel name (Triton) or source name (CUDA C)
    ok: bool
    error: str | None = None  # compiler errors (first lines for Triton, nvcc's log for CUDA)
    # The compiler itself refused the kernel's source for the target (Triton's front end, or
    # nvcc run to completion with errors): the kernel is not valid code for that GPU. Not
    # set for a missing tool, a timeout, or a launch the recording could not describe.
    refused: bool = False
    log: str = ""  # ptxas -v output
    kernels: list[KernelProfile] = Field(default_factory=list)
    cubin: str | None = None  # file name in the step's directory
    duration_s: float = 0.0


class ProfileStepOutput(BaseModel):
    results: list[JobResult] = Field(default_factory=list)
    ncu_csv: str | None = None  # raw `ncu --csv` output (parsed by the caller)
    ncu_error: str | None = None
