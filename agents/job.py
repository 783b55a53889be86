"""Run a job in-process: one optimization loop per problem, recorded in one run directory.

`kwright run` calls `run_job` with its problems; the fleet (worker/) calls it with one
problem per job, the job id as the run id, so a redelivered job resumes its own run
directory. The budget applies per problem (each problem is one job in the fleet). A run
can be resumed by id: problems already finished are skipped, and finished attempts of the
others are never redone.

`evaluators` (optional) chooses how candidates are evaluated: a factory taking the
evaluation options and the run id. Without it each problem gets an in-process
`Evaluator` through `sandbox` (the loop runs a round's candidates in threads); the fleet
passes one that makes each evaluation a task of its own (worker/fleet/candidates.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from agents.config import AgentConfig
from agents.factory import make_agents
from agents.library.hooks import examples_for, guarded, prompt_section, record_problem
from agents.library.seed import seed_from_baseline
from agents.loop import (
    AttemptCallback,
    Evaluator,
    ProblemLoop,
    ProgressCallback,
    summarize_attempts,
)
from agents.rundir import ProblemResult, RunDir, RunInfo, new_run_id
from agents.usage import BudgetTracker, total
from kernelbench.harness.evaluate import detect_device
from kernelbench.problems.problem import Problem
from kernelbench.protocol.request import EvalOptions
from kernelbench.protocol.result import EvalResult
from sandbox.base import Sandbox

log = logging.getLogger(__name__)

# (evaluation options, run id) -> what evaluates a candidate of a problem (same call as
# agents.loop.Evaluator).
EvaluatorFactory = Callable[[EvalOptions, str], Callable[[Problem, str], EvalResult]]


def eval_options(config: AgentConfig, device: str | None) -> EvalOptions:
    """What each attempt's evaluation is asked for: the target arch and GPU reach the
    profiler (its occupancy and roofline), not only the prompts."""
    return EvalOptions(
        backend=config.backend,
        device=device,
        timeout_s=config.eval_timeout_s,
        arch=config.arch,
        gpu=config.target_gpu,
        policy=config.policy,
        precision=config.precision,
    )


def run_problem(
    problem: Problem,
    config: AgentConfig,
    rundir: RunDir,
    sandbox: Sandbox,
    *,
    api_key: str | None = None,
    device: str | None = None,
    progress: ProgressCallback | None = None,
    cancelled: Callable[[], bool] | None = None,
    on_attempt: AttemptCallback | None = None,
    evaluators: EvaluatorFactory | None = None,
) -> ProblemResult:
    pdir = rundir.problem(problem.id)
    previous = pdir.load()
    spent = total(f.record.usage for f in previous)  # a resumed problem keeps what it spent
    tracker = BudgetTracker(config.budget, spent=spent)
    coder, judge = make_agents(config, tracker, api_key)
    options = eval_options(config, device)
    evaluator = (
        evaluators(options, rundir.run_id)
        if evaluators is not None
        else Evaluator(sandbox, options, run_id=rundir.run_id)
    )
    loop = ProblemLoop(
        problem, config, coder, judge, evaluator, pdir, tracker, progress, cancelled, on_attempt
    )
    home = rundir.root.parents[1]  # the kernel library's: worked examples, then its kernels
    if config.agent == "llm" and not previous:
        if config.seed == "baseline":  # judged by this job's evaluator; recorded if correct
            guarded("the offline agent's seed", None, lambda: seed_from_baseline(
                problem, config, evaluator, home=home, run_id=rundir.run_id))  # fmt: skip
        loop.examples = prompt_section(examples_for(problem, home=home, config=config))
    result = loop.run()
    record_problem(problem, loop.finished, config, home=home, run_id=rundir.run_id)
    return result


def interrupted_result(
    problem: Problem, rundir: RunDir, reason: str, started: float | None = None
) -> ProblemResult:
    """A `failed` result for a problem whose loop was cut short from outside (a time
    limit): what its finished attempts achieved. Partial attempts are discarded."""
    finished = rundir.problem(problem.id).load()
    rounds = max((f.record.round for f in finished), default=0)
    return summarize_attempts(
        problem.id, finished, "failed", reason, rounds, started or time.perf_counter()
    )


def run_job(
    problems: list[Problem],
    config: AgentConfig,
    home: Path,
    sandbox: Sandbox,
    *,
    run_id: str | None = None,
    api_key: str | None = None,
    device: str | None = None,
    progress: ProgressCallback | None = None,
    cancelled: Callable[[], bool] | None = None,
    on_attempt: AttemptCallback | None = None,
    evaluators: EvaluatorFactory | None = None,
) -> tuple[RunDir, RunInfo]:
    device = device or detect_device()
    rundir = RunDir(home, run_id or new_run_id())
    if rundir.exists():
        info = rundir.load_info()
        info.status = "running"
    else:
        info = RunInfo(
            run_id=rundir.run_id, config=config, device=device, problems=[p.id for p in problems]
        )
    rundir.save_info(info)
    try:
        for problem in problems:
            done = info.results.get(problem.id)
            if done is not None and done.status == "done":
                log.info("%s: already finished in run %s", problem.id, rundir.run_id)
                continue
            result = run_problem(
                problem,
                info.config,
                rundir,
                sandbox,
                api_key=api_key,
                device=device,
                progress=progress,
                cancelled=cancelled,
                on_attempt=on_attempt,
                evaluators=evaluators,
            )
            info.results[problem.id] = result
            info.usage = total(r.usage for r in info.results.values())
            rundir.save_info(info)
            if result.status == "cancelled":
                break
    except KeyboardInterrupt:
        info.status = "interrupted"
        rundir.save_info(info)
        raise
    statuses = {r.status for r in info.results.values()}
    info.status = "failed" if "failed" in statuses else "done"
    if "cancelled" in statuses:
        info.status = "interrupted"
    rundir.save_info(info)
    return rundir, info
