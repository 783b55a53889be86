"""The optimization loop for one problem: propose, evaluate, judge, repeat; keep the best.

A search strategy (`agents.search`, `--search chain|beam`) plans each round: which attempt
each of the `candidates_per_round` candidates builds on, along which ranked bottleneck or
angle, at which temperature. The loop asks the Coder for every planned candidate (in
parallel threads), evaluates each through its evaluator, records it, has the Judge review
the attempts the strategy names (repair mode if failing, optimize mode if correct) and
writes a short reflection of the round. Every Coder prompt carries the numbers of the
kernel it builds on, its lineage's history and the lessons of earlier rounds
(`agents.search.memory`).

The loop stops after `rounds`; when the strategy says the search is over (chain: the
Judge's `done`; beam: every lineage retired, pruned or explored); when the best kernel's
measured time reaches `roofline_stop` of the roofline (GPU only); after `patience` rounds
without improvement; when the budget is spent; or when the Coder's LLM endpoint keeps
failing (the job then ends `failed`, keeping every finished attempt).

Failure policy by role: a Coder call that times out or fails with a 5xx/connection error
is retried once at the round level (after the provider's own retries) before the job
fails. The Judge is advisory: its call failing (after the same one retry) gives "no
advice this round", recorded in the attempt and the summary, and the loop goes on.

Every attempt is recorded in the run directory as it finishes; a resumed run reloads
finished attempts and redoes nothing that finished (the strategies plan from them alone).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

from agents.config import AgentConfig
from agents.errors import AgentError, AgentErrorKind
from agents.prompts import advice_status, no_advice
from agents.protocols import (
    AttemptView,
    Coder,
    CoderContext,
    Feedback,
    FeedbackMode,
    Judge,
    JudgeContext,
    Proposal,
    Review,
)
from agents.ranking import is_better
from agents.rundir import AttemptRecord, BestInfo, FinishedAttempt, ProblemDir, ProblemResult
from agents.search import CandidatePlan, SearchState, make_strategy
from agents.search.base import ranked_wanted, roofline_reached
from agents.search.memory import history, lessons, numbers, reflect
from agents.status import AttemptStatus, Phase, ProblemStatus, RoundProgress, Unevaluated
from agents.usage import BudgetExceeded, BudgetTracker, Usage, total
from kernelbench.harness.evaluate import evaluate
from kernelbench.problems.problem import Problem
from kernelbench.protocol.request import EvalOptions
from kernelbench.protocol.result import EvalResult
from sandbox.base import Sandbox

log = logging.getLogger(__name__)

# Failures worth one more try at the round level (after the provider's own retries).
ROUND_RETRY_KINDS = (AgentErrorKind.TIMEOUT, AgentErrorKind.SERVER, AgentErrorKind.CONNECTION)


class Progress(RoundProgress):
    """One update for a live view: where the loop is and how it is doing."""

    problem_id: str


ProgressCallback = Callable[[Progress], None]
# Called once per attempt as soon as its attempt.json is written (the fleet's ledger);
# may be called from the round's worker threads.
AttemptCallback = Callable[[AttemptRecord], None]


class Evaluator:
    """Evaluates candidate sources for one job through one sandbox."""

    def __init__(self, sandbox: Sandbox, options: EvalOptions, run_id: str = "adhoc") -> None:
        self.sandbox = sandbox
        self.options = options
        self.run_id = run_id

    def __call__(self, problem: Problem, source: str) -> EvalResult:
        return evaluate(problem, source, self.options, self.sandbox, run_id=self.run_id)


class _Stop(Exception):
    """Ends the loop early: cancelled from outside, or failed (an agent error it cannot
    go on after)."""

    def __init__(self, reason: str, status: Literal["failed", "cancelled"]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class ProblemLoop:
    def __init__(
        self,
        problem: Problem,
        config: AgentConfig,
        coder: Coder,
        judge: Judge,
        evaluator: Callable[[Problem, str], EvalResult],
        pdir: ProblemDir,
        tracker: BudgetTracker,
        progress: ProgressCallback | None = None,
        cancelled: Callable[[], bool] | None = None,
        on_attempt: AttemptCallback | None = None,
    ) -> None:
        self.problem = problem
        self.source = problem.source()
        self.config = config
        self.coder = coder
        self.judge = judge
        self.evaluator = evaluator
        self.pdir = pdir
        self.tracker = tracker
        self.progress = progress or (lambda p: None)
        self.cancelled = cancelled or (lambda: False)
        self.on_attempt = on_attempt or (lambda r: None)
        self.finished: list[FinishedAttempt] = []
        self.best: FinishedAttempt | None = None
        self.strategy = make_strategy(config.search)
        self.examples = ""  # the kernel library's section for round 1 (agents.job sets it)

    # ------------------------------------------------------------------ state
    def _usage(self) -> Usage:
        return total(f.record.usage for f in self.finished)

    def _emit(
        self, rnd: int, phase: Phase, last: AttemptStatus | None = None, message: str = ""
    ) -> None:
        best = self.best.record if self.best else None
        if last is None and self.finished:
            last = self.finished[-1].record.status
        self.progress(
            Progress(
                problem_id=self.problem.id,
                round=rnd,
                rounds=self.config.rounds,
                phase=phase,
                last_status=last,
                best_status=best.status if best else None,
                best_speedup=best.speedup if best else None,
                usage=self._usage(),
                message=message,
            )
        )

    def _round(self, rnd: int) -> list[FinishedAttempt]:
        return [f for f in self.finished if f.record.round == rnd]

    def _state(self) -> SearchState:
        return SearchState(self.config, self.finished)

    def _consider_best(self, f: FinishedAttempt) -> bool:
        if is_better(f.view, self.best.view if self.best else None):
            self.best = f
            return True
        return False

    # ------------------------------------------------------------------ attempts
    def _attempt_number(self, rnd: int, index: int) -> int:
        return (rnd - 1) * self.config.candidates_per_round + index + 1

    def _run_attempt(self, planned: tuple[CandidatePlan, CoderContext]) -> FinishedAttempt:
        plan, ctx = planned
        number = self._attempt_number(ctx.round, ctx.candidate_index)
        self.pdir.start_attempt(number)
        started = time.perf_counter()
        retried: str | None = None
        try:
            try:
                proposal = self.coder.propose(ctx)
            except AgentError as exc:
                if exc.kind not in ROUND_RETRY_KINDS:
                    raise
                retried = str(exc)
                log.warning("round %d: the Coder's call failed (%s); retrying once", ctx.round, exc)
                self.tracker.check()
                proposal = self.coder.propose(ctx)
        except AgentError as exc:
            if exc.kind.fatal:
                raise _Stop(str(exc), "failed") from exc
            proposal = Proposal(failure=str(exc), notes={"reply_kind": "no_candidate"})
        coder_s = time.perf_counter() - started
        path = self.pdir.write_proposal(number, proposal)
        record = AttemptRecord(
            attempt=number,
            round=ctx.round,
            index=ctx.candidate_index,
            status=Unevaluated.NO_CANDIDATE,
            reason=proposal.failure,
            coder_usage=proposal.usage,
            coder_s=round(coder_s, 3),
            prompt_chars=len(proposal.prompt),
            prompt_tokens=proposal.usage.prompt_tokens or None,
            reply_kind=_note(proposal, "reply_kind")
            or ("candidate" if proposal.source is not None else "no_candidate"),
            extraction=_note(proposal, "extraction"),
            coder_retry=retried,
            parent=plan.parent.record.attempt if plan.parent else None,
            direction=plan.direction_label(),
            temperature=plan.temperature,
        )
        result: EvalResult | None = None
        if proposal.source is not None and path is not None:
            self._emit(ctx.round, "eval")
            t0 = time.perf_counter()
            result = self.evaluator(self.problem, proposal.source)
            record.eval_s = round(time.perf_counter() - t0, 3)
            self.pdir.write_eval(number, result)
            record.status = result.status
            record.correct = result.correct
            record.speedup = result.speedup
            record.reason = result.reason
            record.candidate_path = str(path)
        self.pdir.finish_attempt(record)
        self.on_attempt(record)
        view = AttemptView(
            attempt=number,
            round=ctx.round,
            source=proposal.source,
            failure=proposal.failure,
            result=result,
        )
        return FinishedAttempt(record=record, view=view)

    def _review(self, pick: FinishedAttempt) -> Feedback:
        ctx = JudgeContext(
            problem=self.problem,
            problem_source=self.source,
            config=self.config,
            round=pick.record.round,
            attempt=pick.view,
            best=self.best.view if self.best else None,
            ranked=ranked_wanted(self.config),
            history=history(self._state(), pick)[:-1],
        )
        started = time.perf_counter()
        try:
            try:
                review = self.judge.review(ctx)
            except AgentError as exc:
                if exc.kind not in ROUND_RETRY_KINDS:
                    raise
                log.warning("round %d: the Judge's call failed (%s); retrying once", ctx.round, exc)
                self.tracker.check()
                review = self.judge.review(ctx)
        except AgentError as exc:
            # The Judge is advisory: its endpoint failing, whatever the kind, means no
            # advice this round, recorded as such; the loop goes on.
            log.warning("round %d: no advice from the Judge: %s", ctx.round, exc)
            mode: FeedbackMode = "optimize" if pick.view.correct else "repair"
            review = Review(feedback=no_advice(mode, f"the Judge's call failed: {exc}"))
        pick.record.advice = advice_status(review.feedback)
        self.pdir.write_review(pick.record, review, time.perf_counter() - started)
        pick.feedback = review.feedback
        return review.feedback

    # ------------------------------------------------------------------ rounds
    def _context_for(self, rnd: int, plan: CandidatePlan) -> CoderContext:
        state = self._state()
        parent = plan.parent
        best = self.best.view if self.best else None
        return CoderContext(
            problem=self.problem,
            problem_source=self.source,
            config=self.config,
            round=rnd,
            candidate_index=plan.index,
            previous=parent.view if parent else None,
            feedback=plan.feedback,
            best=best,
            reverted=plan.reverted,
            candidates=self.config.candidates_per_round,
            direction=plan.direction,
            angle=plan.angle,
            temperature=plan.temperature,
            numbers=numbers(self.config, parent.view if parent else None, best),
            history=history(state, parent),
            lessons=lessons(state, rnd),
            examples=self.examples if rnd == 1 else "",
        )

    def _play_round(self, rnd: int) -> bool:
        """Run the round's planned candidates not yet finished, then the reviews the
        strategy asks for. False: the strategy planned nothing (the search is over)."""
        plans = self.strategy.plan(self._state(), rnd)
        done = {f.record.index for f in self._round(rnd)}
        todo = [p for p in plans if p.index not in done]
        if not plans and not done:
            return False
        if todo:
            self.tracker.check()
            self._emit(rnd, "coder")
            planned = [(p, self._context_for(rnd, p)) for p in todo]
            if len(planned) == 1:
                results = [self._run_attempt(planned[0])]
            else:
                with ThreadPoolExecutor(max_workers=len(planned)) as pool:
                    results = list(pool.map(self._run_attempt, planned))
            self.finished.extend(results)
            self.finished.sort(key=lambda f: f.record.attempt)
        for f in self.strategy.to_review(self._state(), rnd):
            if f.record.judged:
                continue
            self._emit(rnd, "judge", f.record.status)
            self.tracker.check()
            self._review(f)
        return True

    def run(self) -> ProblemResult:
        started = time.perf_counter()
        self.finished = self.pdir.load()  # best-so-far is replayed round by round below
        status: ProblemStatus = "done"
        reason = f"finished {self.config.rounds} rounds"
        rounds_run, stale = 0, 0
        try:
            for rnd in range(1, self.config.rounds + 1):
                if self.cancelled():
                    raise _Stop("cancelled", "cancelled")
                if not self._play_round(rnd):
                    reason = "the search has nothing left to try"
                    break
                rounds_run = rnd
                improved = [self._consider_best(f) for f in self._round(rnd)]
                stale = 0 if any(improved) else stale + 1
                state = self._state()
                pick = state.pick(rnd)
                self._emit(rnd, "round done", pick.record.status if pick else None)
                stop = self.strategy.stop_reason(state, rnd) or roofline_reached(
                    self.config, self.best.view if self.best else None
                )
                if stop is None and stale >= self.config.patience and self.best is not None:
                    stop = f"no improvement in {stale} rounds"
                kept = self.strategy.kept(state, rnd)
                self.pdir.write_reflection(rnd, reflect(state, rnd, kept, self.best, stop))
                if stop is not None:
                    reason = stop
                    break
        except BudgetExceeded as exc:
            reason = str(exc)
        except _Stop as exc:
            reason, status = exc.reason, exc.status
        result = summarize_attempts(
            self.problem.id, self.finished, status, reason, rounds_run, started
        )
        self._emit(rounds_run, "done", message=reason)
        return result


def _note(proposal: Proposal, key: str) -> str | None:
    value = proposal.notes.get(key)
    return str(value) if value is not None else None


def summarize_attempts(
    problem_id: str,
    finished: list[FinishedAttempt],
    status: ProblemStatus,
    reason: str,
    rounds_run: int,
    started: float,
) -> ProblemResult:
    """The result of a problem from its finished attempts (also for a loop cut short)."""
    best: FinishedAttempt | None = None
    for f in finished:
        if is_better(f.view, best.view if best else None):
            best = f
    result = ProblemResult(
        problem_id=problem_id,
        status=status,
        stop_reason=reason,
        attempts=[f.record for f in finished],
        rounds_run=rounds_run,
        usage=total(f.record.usage for f in finished),  # cut-short rounds' attempts count too
        duration_s=round(time.perf_counter() - started, 3),
    )
    if best is not None and best.record.candidate_path:
        result.best = BestInfo(
            attempt=best.record.attempt,
            round=best.record.round,
            status=best.record.status,
            correct=best.record.correct,
            speedup=best.record.speedup,
            runtime_ms=best.view.result.runtime_ms if best.view.result else None,
            candidate_path=best.record.candidate_path,
        )
    return result
