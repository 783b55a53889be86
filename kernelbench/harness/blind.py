"""The trusted side of a blind evaluation (`EvalOptions.blind`, Triton candidates).

1. `write_decoys` hands the candidate's step stand-ins for the trial inputs and the
   reference weights: the same shapes, dtypes and strides, values from a seed of its own.
   The real files go to the replay's directory only.
2. The runner records the program its host code builds (`kernelbench.runner.program`).
3. `kernel_module` cuts the candidate file's kernels out of its source: imports of triton,
   triton.language and math, literal module constants, and the jit functions. Nothing
   else of the file reaches the replay.
4. The replay step (`kernelbench.runner.replay`, its own sandboxed process) runs the
   program on the real data; its outputs are the ones the verdict compares.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from kernelbench.harness.steps import StepRunner, crash_reason, messages
from kernelbench.protocol import runner_files as p
from kernelbench.protocol.stepfiles import MAX_OUTPUT_BYTES, read_step_file
from profiler.triton_aot import extract_kernels

MAX_PROGRAM_BYTES = 64 << 20


class KernelSourceError(ValueError):
    """The candidate file's kernels cannot be cut out of it cleanly."""


def kernel_module(source: str) -> str:
    """The kernels of a candidate file as a module of their own: the profiler's extraction
    (`profiler.triton_aot.extract_kernels`: imports of triton and math, literal constants,
    the jit functions with literal options; autotune and heuristics are left out, as the
    recorded launches carry the values they chose)."""
    try:
        return extract_kernels(source).text
    except SyntaxError as exc:
        raise KernelSourceError(f"syntax error at line {exc.lineno}") from exc


def decoy_like(value: Any, generator: torch.Generator) -> Any:
    """A stand-in of the same shape, dtype and strides, with values of its own."""
    if isinstance(value, list | tuple):
        return type(value)(decoy_like(v, generator) for v in value)
    if isinstance(value, dict):
        return {k: decoy_like(v, generator) for k, v in value.items()}
    if not isinstance(value, torch.Tensor):
        return value
    out = torch.empty_strided(value.size(), value.stride(), dtype=value.dtype, device=value.device)
    if value.is_floating_point() or value.is_complex():
        out.copy_(torch.randn(value.size(), generator=generator).to(value.dtype))
    elif value.dtype == torch.bool:
        out.copy_(torch.randint(0, 2, value.size(), generator=generator).bool())
    elif value.numel():
        low, high = int(value.min()), int(value.max())
        out.copy_(torch.randint(low, high + 1, value.size(), generator=generator))
    return out


def write_decoys(cand_dir: Path, replay_dir: Path, trials: list[int], shapes: list[int]) -> None:
    """Move the real input and init files to the replay's dir; leave stand-ins behind."""
    generator = torch.Generator().manual_seed(torch.seed())
    (replay_dir / p.IN_DIR).mkdir(parents=True)
    names = [p.trial_inputs_file(t) for t in trials] + [p.init_file(s) for s in shapes]
    for rel in names:
        shutil.copyfile(cand_dir / rel, replay_dir / rel)
        real = torch.load(cand_dir / rel, weights_only=True)
        torch.save(decoy_like(real, generator), cand_dir / rel)


def prepare_replay(source: str, cand_dir: Path, replay_dir: Path) -> None:
    """The replay's kernels and the candidate's recorded program (read as untrusted data)."""
    (replay_dir / p.KERNELS_FILE).write_text(kernel_module(source), encoding="utf-8")
    data = read_step_file(cand_dir, p.PROGRAM_FILE, min(MAX_PROGRAM_BYTES, MAX_OUTPUT_BYTES))
    (replay_dir / p.OUT_DIR).mkdir(exist_ok=True)
    (replay_dir / p.PROGRAM_FILE).write_bytes(data)


@dataclass
class ReplayRun:
    """The replay step's end: `failure` is None when its outputs are ready for the verdict,
    else (status name, reason, messages); `confinement` as the replay reported it."""

    failure: tuple[str, str, str] | None
    confinement: str | None = None


def run_replay(
    steps: StepRunner,
    source: str,
    cand_dir: Path,
    replay_dir: Path,
    trials: list[Any],
    init_seed: int | None = None,
    allowed: list[str] | None = None,
) -> ReplayRun:
    """Run the replay step. `init_seed`: the seed ModelNew was built under (the program's
    "seed" steps reseed the replay with it, so its own initial values repeat). `allowed`:
    the tokens of the launches and CUDA sources compiled for the target
    (`profiler.launches.verified_token`); the replay runs nothing else (None: no check)."""
    try:
        prepare_replay(source, cand_dir, replay_dir)
    except KernelSourceError as exc:
        return ReplayRun(
            ("rejected", f"the candidate's kernels cannot be cut out of its file: {exc}", "")
        )
    except ValueError as exc:
        return ReplayRun(("runtime_error", f"the candidate step left no usable program: {exc}", ""))
    outcome, report, malformed = steps.replay(
        replay_dir, {"trials": trials, "init_seed": init_seed, "allowed": allowed}
    )
    text = messages(outcome)
    if outcome.infra_error and not outcome.timed_out:
        return ReplayRun(
            ("error", f"sandbox failed during the replay step: {outcome.infra_error}", text)
        )
    if report is None:
        if outcome.timed_out:
            return ReplayRun(
                ("timeout", "the replay of the recorded program ran past its limit", text)
            )
        why = malformed or crash_reason(outcome, "the replay process")
        return ReplayRun(("runtime_error", why, text))
    if report.status != "ok":
        failure = report.status, f"replay: {report.message}", messages(outcome, report.details)
        return ReplayRun(failure, report.confinement)
    return ReplayRun(None, report.confinement)
