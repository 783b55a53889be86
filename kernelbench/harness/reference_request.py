"""What the caller asks of the reference step, and why a reference step failed: shared by an
evaluation (kernelbench.harness.evaluate) and `kwright problems --check` (kernelbench.harness.problem_check)."""

from __future__ import annotations

import random
import secrets

from kernelbench.harness.steps import crash_reason, messages
from kernelbench.problems.problem import Problem
from kernelbench.protocol.request import EvalOptions, StepReport, StepRequest, TimingSpec
from sandbox.base import SandboxOutcome

DEFAULT_TRIALS = {"cpu": 3, "cuda": 5}


def seeds(options: EvalOptions, count: int) -> list[int]:
    if options.seed is not None:
        rng = random.Random(options.seed)
        return [rng.randrange(2**31) for _ in range(count)]
    return [secrets.randbelow(2**31) for _ in range(count)]


def timing_spec(options: EvalOptions, device: str) -> TimingSpec:
    return TimingSpec(
        enabled=options.timing and device == "cuda",
        trials=options.timing_trials,
        warmup=options.timing_warmup,
        budget_s=options.timing_budget_s,
        torch_compile=options.compare_torch_compile,
    )


def reference_request(
    problem: Problem, options: EvalOptions, device: str, backend: str
) -> StepRequest:
    # At least two seeds on the first shape: the last one is run in the first one's
    # buffers (same pointers, new contents), so an output cached by pointer is stale.
    n_first = max(2, options.trials or DEFAULT_TRIALS[device])
    drawn = seeds(options, n_first + 9)
    init_seed = drawn.pop()
    random_seed = drawn.pop() if options.random_shape else None
    return StepRequest(
        step="reference",
        problem_id=problem.id,
        device=device,
        backend=backend,
        init_seed=init_seed,
        precision=options.precision,
        defaults=problem.sizes,
        check_sizes=problem.check_sizes,
        extra_shapes=options.extra_shapes,
        seeds_first_shape=drawn[:n_first],
        seed_per_extra_shape=drawn[n_first:],
        random_shape_seed=random_seed,
        arch=options.arch,
        timing=timing_spec(options, device),
    )


def reference_failure(
    problem: Problem, options: EvalOptions, outcome: SandboxOutcome, ref: StepReport | None
) -> tuple[str, str] | None:
    """(reason, messages) where the reference step did not succeed; None where it did."""
    if ref is None:
        limit = options.reference_timeout_s or options.timeout_s
        reason = (
            f"the reference timed out after {limit:.0f} s"
            if outcome.timed_out
            else crash_reason(outcome, "the reference")
        )
        return reason, messages(outcome)
    if ref.status != "ok":
        return f"{problem.path.name}: {ref.message}", messages(outcome, ref.details)
    return None
