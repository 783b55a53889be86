"""`kwright problems --check`: is each problem evaluable on this machine? Runs the problem's
reference step (the sandboxed child an evaluation runs: size planning on the meta device,
then the reference at every check shape) and reports, per problem, the shapes it would be
checked on, what was dropped, and how long the reference took."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from pydantic import BaseModel, Field

from kernelbench.harness.reference_request import reference_failure, reference_request
from kernelbench.harness.steps import StepRunner
from kernelbench.problems.problem import Problem
from kernelbench.protocol.request import PROBLEM_FILE, EvalOptions
from sandbox.base import Sandbox

log = logging.getLogger(__name__)

DEVICE, BACKEND = "cpu", "triton"


class ProblemCheck(BaseModel):
    id: str
    path: str
    evaluable: bool
    reason: str | None = None  # why not evaluable (one line)
    shapes: list[dict[str, int]] = Field(default_factory=list)  # in check order
    random_shape: dict[str, int] | None = None
    shapes_dropped: list[str] = Field(default_factory=list)
    reference_s: float | None = None  # wall seconds of the whole reference step


def check_problem(problem: Problem, sandbox: Sandbox, options: EvalOptions) -> ProblemCheck:
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="kw-check-"))
    try:
        shutil.copyfile(problem.path, workdir / PROBLEM_FILE)
        req = reference_request(problem, options, DEVICE, BACKEND)
        runner = StepRunner(sandbox, options, DEVICE, BACKEND, run_id="check")
        outcome, ref = runner.trusted(workdir, req, "reference")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    seconds = round(time.perf_counter() - started, 2)
    check = ProblemCheck(
        id=problem.id, path=str(problem.path), evaluable=False, reference_s=seconds
    )
    if outcome.infra_error:
        check.reason = f"sandbox failed: {outcome.infra_error}"
        return check
    failed = reference_failure(problem, options, outcome, ref)
    if failed is not None or ref is None:
        check.reason = (failed[0] if failed else "no reference report").splitlines()[0][:500]
        return check
    for trial in ref.trials:
        if trial.sizes not in check.shapes:
            check.shapes.append(trial.sizes)
    check.evaluable = True
    check.random_shape = ref.random_shape
    check.shapes_dropped = ref.shapes_dropped
    return check


def check_problems(
    problems: list[Problem],
    sandbox: Sandbox,
    options: EvalOptions,
    jobs: int,
    progress: Callable[[ProblemCheck], None] | None = None,
) -> list[ProblemCheck]:
    """Checks in parallel (`jobs` at a time), returned in the order of `problems`."""
    results: dict[str, ProblemCheck] = {}
    sandbox.allow_parallel(jobs)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(check_problem, p, sandbox, options): p for p in problems}
        for future in as_completed(futures):
            check = future.result()
            results[check.id] = check
            if progress is not None:
                progress(check)
    return [results[p.id] for p in problems]
