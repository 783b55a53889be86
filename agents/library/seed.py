"""`--seed baseline`, the library's side: the offline agent writes a kernel for the problem,
the harness judges it like any other candidate, and a correct one is recorded, so that the
LLM job's first prompt carries it as an exact-signature worked example.

The seed is never trusted for being the offline agent's: it is evaluated through the job's
own evaluator first, and only a `correct` verdict reaches the library.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from agents.baseline.coder import BaselineCoder
from agents.config import AgentConfig
from agents.library.hooks import guarded, record_verified
from agents.library.store import LibraryEntry
from agents.protocols import CoderContext
from kernelbench.problems.problem import Problem
from kernelbench.protocol.result import EvalResult

log = logging.getLogger(__name__)

SEED_LESSON = "written by the offline agent (rule-based lowering) as this job's seed"


def seed_from_baseline(
    problem: Problem,
    config: AgentConfig,
    evaluate: Callable[[Problem, str], EvalResult],
    *,
    home: Path,
    run_id: str | None = None,
) -> LibraryEntry | None:
    """Judge the offline agent's kernel for `problem`; record it if correct. None where the
    offline agent has no kernel for it or the kernel is not correct (logged)."""
    ctx = CoderContext(problem=problem, problem_source=problem.source(),
                       config=config.model_copy(update={"agent": "baseline"}), round=1)  # fmt: skip
    proposal = guarded("the offline agent's seed", None, lambda: BaselineCoder().propose(ctx))
    if proposal is None or proposal.source is None:
        why = proposal.failure if proposal is not None else "it failed"
        log.info("library: no seed for %s: %s", problem.id, why)
        return None
    result = evaluate(problem, proposal.source)
    if not result.correct:
        log.info("library: the seed for %s is not correct: %s", problem.id, result.one_line())
        return None
    seed_config = config.model_copy(update={"agent": "baseline"})
    return record_verified(problem, proposal.source, result, seed_config, home=home,
                           lessons=[SEED_LESSON], run_id=run_id)  # fmt: skip
