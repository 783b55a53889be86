"""The library's two calls into a job, for the loop and the prompts to make.

- `record_verified(problem, source, result, config, ...)`: a finished correct attempt goes
  into the library (`record_problem` does it for every correct attempt of a problem, with
  lessons read from its trajectory).
- `examples_for(problem, budget_tokens, ...)`: the nearest verified kernels for a new
  problem, within the budget; each call is recorded for `kwright library stats`.
  `prompt_section(examples)` renders them for the first Coder prompt.

Neither call may fail a job: a problem that does not trace, or a library that cannot be
read, logs a warning and gives nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from agents.config import AgentConfig
from agents.library.retrieve import (
    Example,
    estimate_tokens,
    rank,
    render_section,
    within_budget,
)
from agents.library.store import LibraryEntry, RetrievalRecord, open_library
from agents.library.tracing import signature_of
from agents.rundir import FinishedAttempt
from kernelbench.problems.problem import Problem
from kernelbench.protocol.result import EvalResult
from sandbox.settings import host_settings

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_LESSONS = 5
LESSON_CHARS = 200
PROFILE_CHARS = 300


def guarded(what: str, default: T, call: Callable[[], T]) -> T:
    """`call()`, or `default` with a warning: the library is advisory and never fails a job
    (an unreachable Redis, an unreadable file, a problem the tracer cannot run)."""
    try:
        return call()
    except Exception as exc:  # noqa: BLE001 - any fault of the library, logged, never raised
        log.warning("library: %s failed (%s: %s)", what, type(exc).__name__, exc)
        return default


def record_verified(
    problem: Problem,
    source: str,
    result: EvalResult,
    config: AgentConfig,
    *,
    home: Path,
    lessons: list[str] | None = None,
    run_id: str | None = None,
) -> LibraryEntry | None:
    """Add a correct kernel to the library; None where it is not correct, the problem has
    no signature, or the same kernel is already in."""
    if not result.correct:
        return None
    signature = guarded("tracing", None, lambda: signature_of(problem.path, home))
    if signature is None:
        log.warning("library: %s has no signature; its kernel is not recorded", problem.id)
        return None
    entry = LibraryEntry(
        problem_id=problem.id,
        problem_name=problem.name,
        signature=signature,
        target_gpu=config.target_gpu,
        arch=config.arch,
        device=result.device,
        backend=result.backend or config.backend,
        policy=result.policy,
        precision=result.precision,
        speedup=result.speedup,
        runtime_ms=result.runtime_ms,
        ref_runtime_ms=result.ref_runtime_ms,
        profile=result.profile.summary(PROFILE_CHARS) if result.profile is not None else None,
        lessons=(lessons or [])[:MAX_LESSONS],
        agent=config.agent,
        model=config.llm.model if config.agent == "llm" else None,
        run_id=run_id,
        source=source,
    )
    added = guarded("recording a kernel", None, lambda: open_library(home).add(entry))
    if added is not None:
        log.info("library: recorded %s's kernel as %s", problem.id, added.id)
    return added


def _outcome(result: EvalResult | None) -> str:
    if result is None:
        return "no candidate"
    if result.correct:
        return "correct" + (f", {result.speedup:.2f}x" if result.speedup is not None else "")
    return f"{result.status.value}" + (f": {result.reason}" if result.reason else "")


def lessons_from(attempts: list[FinishedAttempt]) -> list[str]:
    """What the trajectory taught: each piece of advice and what the attempt built on it
    achieved, improvements first (`advice "..." -> correct, 1.40x`)."""
    by_number = {a.record.attempt: a for a in attempts}
    helped: list[str] = []
    failed: list[str] = []
    for k, attempt in enumerate(attempts):
        number = attempt.record.parent
        parent = by_number.get(number) if number is not None else (attempts[k - 1] if k else None)
        if parent is None or parent.feedback is None:
            continue
        advice = parent.feedback.summary.strip()
        result = attempt.view.result
        line = f'advice "{advice}" -> {_outcome(result)}'[:LESSON_CHARS]
        before = parent.view.result
        better = (
            result is not None
            and result.correct
            and (
                before is None
                or not before.correct
                or (result.speedup or 0) > (before.speedup or 0)
            )
        )
        (helped if better else failed).append(line)
    return [*helped, *failed][:MAX_LESSONS]


def record_problem(
    problem: Problem,
    attempts: list[FinishedAttempt],
    config: AgentConfig,
    *,
    home: Path,
    run_id: str | None = None,
) -> list[LibraryEntry]:
    """Record every correct kernel of a finished problem, with its trajectory's lessons."""
    lessons = lessons_from(attempts)
    added: list[LibraryEntry] = []
    for attempt in attempts:
        result, source = attempt.view.result, attempt.view.source
        if result is None or not result.correct or source is None:
            continue
        entry = record_verified(
            problem, source, result, config, home=home, lessons=lessons, run_id=run_id
        )
        if entry is not None:
            added.append(entry)
    return added


def examples_for(
    problem: Problem,
    budget_tokens: int | None = None,
    *,
    home: Path,
    config: AgentConfig | None = None,
) -> list[Example]:
    """The worked examples for `problem`'s first prompt, best first, within the budget
    (default `KWRIGHT_LIBRARY_TOKENS`); none where the library cannot be read."""
    return guarded("retrieval", [], lambda: _examples_for(problem, budget_tokens, home, config))


def _examples_for(
    problem: Problem,
    budget_tokens: int | None,
    home: Path,
    config: AgentConfig | None,
) -> list[Example]:
    store = open_library(home)
    entries = store.entries()
    if not entries:
        return []
    signature = signature_of(problem.path, home)
    if signature is None:
        log.warning("library: %s has no signature; no examples", problem.id)
        return []
    ranked = rank(
        signature,
        entries,
        backend=config.backend if config is not None else None,
        target_gpu=config.target_gpu if config is not None else None,
    )
    budget = host_settings().library_tokens if budget_tokens is None else budget_tokens
    chosen = within_budget(ranked, budget)
    store.record_retrieval(
        RetrievalRecord(
            problem_id=problem.id,
            signature_digest=signature.digest,
            offered=[e.entry.id for e in chosen],
            exact=any(e.exact for e in chosen),
            tokens=estimate_tokens(render_section(chosen)),
        )
    )
    return chosen


def prompt_section(examples: list[Example]) -> str:
    """The examples as a prompt section ("" for none)."""
    return render_section(examples)
