"""GPU only: turn the runner's timing into verdict fields, after checking that the timed
calls computed what they claim.

* The runner's sampled timed calls (inputs and outputs) must exist, their inputs must be
  permutations of the first trial's (what the runner was told to time), and a `recheck`
  step (the reference, in its own child) must agree with their outputs: an output cached
  by pointer or content, or work deferred past the timed span, fails here.
* A time below the roofline lower bound of the GPU it ran on is `rejected`.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any, Protocol

import torch

from kernelbench.harness.steps import StepRunner
from kernelbench.harness.verdict import below_roofline, timed_samples
from kernelbench.problems.problem import Problem
from kernelbench.protocol.compare import compare_outputs, precision_tolerance
from kernelbench.protocol.request import PROBLEM_FILE, RunnerReport, StepReport, StepRequest
from kernelbench.protocol.result import EvalResult, Status, TimingStats
from kernelbench.protocol.stepfiles import load_step_tensors
from profiler.gpus import UnknownGpu, gpu_spec
from profiler.roofline import roofline

log = logging.getLogger(__name__)

TOO_GOOD_SPEEDUP = 10.0

# A finding that ends the verdict: the status and its reason (None: timing accepted).
Finding = tuple[Status, str] | None


class TimedEvaluation(Protocol):
    """What the timing verdict reads of the evaluation in progress (the evaluator)."""

    workroot: Path
    problem: Problem
    device: str
    backend: str
    init_seed: int
    steps: StepRunner
    first_inputs: list[Any]
    result: EvalResult


def _recheck(
    ev: TimedEvaluation, ref: StepReport, pairs: list[tuple[list[Any], list[Any]]]
) -> str | None:
    workdir = ev.workroot / "recheck"
    workdir.mkdir()
    shutil.copyfile(ev.problem.path, workdir / PROBLEM_FILE)
    for j, (inputs, _) in enumerate(pairs):
        torch.save({"inputs": inputs}, workdir / f"timed_{j}.pt")
    req = StepRequest(
        step="recheck",
        problem_id=ev.problem.id,
        device=ev.device,
        backend=ev.backend,
        init_seed=ev.init_seed,
        precision=ev.steps.options.precision,
        defaults=ref.trials[0].sizes,
    )
    outcome, report = ev.steps.trusted(workdir, req, "recheck")
    if report is None or report.status != "ok":
        return f"the re-check of timed calls failed ({report.message if report else outcome.stderr[-200:]})"
    for j, (_, outputs) in enumerate(pairs):
        expected = load_step_tensors(workdir, f"recheck_{j}.pt")
        tolerance = precision_tolerance(ev.steps.options.precision, ev.problem.tolerance)
        ok, reason, _ = compare_outputs(outputs, expected, tolerance)
        if not ok:
            return f"timed call sample {j} is wrong on its own inputs (a cached or deferred output?): {reason}"
    return None


def judge_timing(
    ev: TimedEvaluation, ref: StepReport, cand: RunnerReport, cand_dir: Path
) -> Finding:
    """Fill `ev.result`'s timing fields; a finding that ends the verdict is returned."""
    timing = cand.timing or {}
    try:
        stats = TimingStats.model_validate(timing.get("stats"))
        samples = int(timing.get("samples", 0))
    except (ValueError, TypeError):
        return Status.RUNTIME_ERROR, "the runner's timing record is malformed"
    pairs, error = timed_samples(cand_dir, ev.first_inputs, samples)
    error = error or _recheck(ev, ref, pairs)
    if error:
        return Status.INCORRECT, error
    r = ev.result
    ref_stats = ref.ref_timing
    assert ref_stats is not None
    r.timing, r.ref_timing = stats, ref_stats
    r.runtime_ms, r.ref_runtime_ms = stats.mean_ms, ref_stats.mean_ms
    try:
        spec = gpu_spec(torch.cuda.get_device_name())
    except (UnknownGpu, RuntimeError, AssertionError):
        spec = None
        r.flags.append("roofline check skipped: this GPU is not in the profiler's table")
    if spec is not None:
        bound = roofline(ref.flops, ref.min_bytes, spec, dtype=ref.dtype).lower_bound_ms
        too_fast = below_roofline(stats.min_ms, bound)
        if too_fast:
            return Status.REJECTED, too_fast
    if stats.mean_ms > 0:
        r.speedup = ref_stats.mean_ms / stats.mean_ms
        if ref.ref_compile_timing is not None:
            r.ref_compile_runtime_ms = ref.ref_compile_timing.mean_ms
            r.speedup_vs_compile = ref.ref_compile_timing.mean_ms / stats.mean_ms
        if r.speedup > TOO_GOOD_SPEEDUP:
            r.flags.append(f"speedup over {TOO_GOOD_SPEEDUP:.0f}x: check for a shortcut")
    return None
