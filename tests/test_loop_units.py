"""The optimization loop with a fake Coder, Judge and evaluator (no subprocess, no LLM):
every way a problem's loop can stop, and how agent errors are handled by their kind."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from agents.config import AgentConfig, Budget
from agents.errors import AgentError, AgentErrorKind
from agents.loop import ProblemLoop
from agents.protocols import CoderContext, Feedback, JudgeContext, Proposal, Review
from agents.rundir import ProblemDir
from agents.status import Unevaluated
from agents.usage import BudgetTracker, Usage
from kernelbench.problems.problem import Problem
from kernelbench.problems.registry import resolve_problem
from kernelbench.protocol.result import EvalResult, Status

RELU = resolve_problem("level1/2_ReLU")


@dataclass
class FakeCoder:
    """Proposes `class ModelNew` version N in round N; raises the errors it is given."""

    errors: dict[int, AgentError] = field(default_factory=dict)  # round -> error
    tokens: int = 0
    tracker: BudgetTracker | None = None  # spends on it, as a real provider does
    name: str = "fake"
    contexts: list[CoderContext] = field(default_factory=list)

    def propose(self, ctx: CoderContext) -> Proposal:
        self.contexts.append(ctx)
        if ctx.round in self.errors:
            raise self.errors[ctx.round]
        usage = Usage(calls=1, prompt_tokens=self.tokens, cost_usd=0.0)
        if self.tracker is not None:
            self.tracker.add(usage)
        return Proposal(source=f"# version {ctx.round}\nclass ModelNew: ...\n", usage=usage)


@dataclass
class FakeJudge:
    stop_after: int | None = None  # round after which the Judge has nothing to suggest
    error: AgentError | None = None
    name: str = "fake"

    def review(self, ctx: JudgeContext) -> Review:
        if self.error is not None:
            raise self.error
        stop = self.stop_after is not None and ctx.round >= self.stop_after
        return Review(feedback=Feedback(mode="optimize", summary="go on", stop=stop))


def speedups(*values: float | None):
    """An evaluator whose Nth call returns a correct result with the Nth speedup."""
    calls = iter(values)

    def evaluate(problem: Problem, source: str) -> EvalResult:
        return EvalResult(status=Status.CORRECT, correct=True, speedup=next(calls))

    return evaluate


def run(tmp_path, coder, judge, evaluator, budget=None, cancelled=None, **config):
    cfg = AgentConfig(budget=budget or Budget(), **config)
    tracker = coder.tracker or BudgetTracker(cfg.budget)
    loop = ProblemLoop(
        RELU,
        cfg,
        coder,
        judge,
        evaluator,
        ProblemDir(tmp_path / "p"),
        tracker,
        cancelled=cancelled,
    )
    return loop.run()


def test_all_rounds_run_and_the_best_is_kept(tmp_path):
    result = run(tmp_path, FakeCoder(), FakeJudge(), speedups(1.0, 3.0, 2.0), rounds=3)
    assert (result.status, result.stop_reason) == ("done", "finished 3 rounds")
    assert result.best is not None and result.best.round == 2 and result.best.speedup == 3.0


def test_the_judge_stopping_ends_the_loop(tmp_path):
    result = run(tmp_path, FakeCoder(), FakeJudge(stop_after=2), speedups(1.0, 2.0, 3.0))
    assert result.stop_reason == "the Judge has no further suggestion"
    assert result.rounds_run == 2


def test_patience_ends_a_loop_that_stopped_improving(tmp_path):
    result = run(tmp_path, FakeCoder(), FakeJudge(), speedups(2.0, 1.0, 1.0, 5.0), patience=2)
    assert result.stop_reason == "no improvement in 2 rounds" and result.rounds_run == 3


def test_a_spent_budget_ends_the_loop_keeping_what_finished(tmp_path):
    budget = Budget(max_tokens=1000)
    coder = FakeCoder(tokens=600, tracker=BudgetTracker(budget))
    result = run(tmp_path, coder, FakeJudge(), speedups(1.0, 2.0), budget=budget)
    assert result.status == "done" and "1200 of 1000 tokens" in result.stop_reason
    assert len(result.attempts) == 2 and result.usage.total_tokens == 1200


def test_cancellation_ends_the_loop_as_cancelled(tmp_path):
    calls = iter([False, True])
    result = run(tmp_path, FakeCoder(), FakeJudge(), speedups(1.0), cancelled=lambda: next(calls))
    assert (result.status, result.stop_reason, result.rounds_run) == ("cancelled", "cancelled", 1)


@pytest.mark.parametrize("kind", [k for k in AgentErrorKind if k.fatal])
def test_a_fatal_agent_error_fails_the_job(tmp_path, kind):
    coder = FakeCoder(errors={2: AgentError(kind, f"endpoint says {kind}")})
    result = run(tmp_path, coder, FakeJudge(), speedups(1.0, 2.0))
    assert (result.status, result.stop_reason) == ("failed", f"endpoint says {kind}")
    assert result.best is not None and result.best.round == 1  # finished work is kept


@pytest.mark.parametrize("kind", [k for k in AgentErrorKind if not k.fatal])
def test_other_agent_errors_are_fed_back_to_the_next_round(tmp_path, kind):
    coder = FakeCoder(errors={1: AgentError(kind, "the reply was garbage")})
    result = run(tmp_path, coder, FakeJudge(), speedups(1.0), rounds=2)
    assert result.status == "done"
    assert [a.status for a in result.attempts] == [Unevaluated.NO_CANDIDATE, Status.CORRECT]
    assert [type(a.status) for a in result.attempts] == [Unevaluated, Status]  # typed, not str
    assert coder.contexts[1].previous is not None
    assert coder.contexts[1].previous.failure == "the reply was garbage"


def test_a_judge_error_that_is_not_fatal_gives_fallback_feedback(tmp_path):
    judge = FakeJudge(error=AgentError(AgentErrorKind.BAD_REPLY, "no JSON"))
    coder = FakeCoder()
    result = run(tmp_path, coder, judge, speedups(1.0, 1.0), rounds=2)
    assert result.status == "done"
    feedback = coder.contexts[1].feedback
    assert feedback is not None and feedback.source == "fallback" and "no JSON" in feedback.summary
