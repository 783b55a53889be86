"""What the optimization loop asks of a Coder and a Judge, and what they answer.

Both the LLM agents and the rule-based baseline implement these two small protocols, so
the loop, the run directory and the fleet do not care which one runs.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from agents.config import AgentConfig
from agents.usage import Usage
from kernelbench.problems.problem import Problem
from kernelbench.protocol.result import EvalResult


class AttemptView(BaseModel):
    """A finished attempt as the agents see it."""

    attempt: int
    round: int
    source: str | None = None  # None: the Coder produced no candidate
    failure: str | None = None  # why there was no candidate
    result: EvalResult | None = None

    @property
    def correct(self) -> bool:
        return self.result is not None and self.result.correct


FeedbackMode = Literal["repair", "optimize"]  # fix a failing kernel, or speed up a correct one
FeedbackSource = Literal["llm", "baseline", "fallback"]  # fallback: the Judge gave none usable


class Feedback(BaseModel):
    """The Judge's advice for the next round."""

    mode: FeedbackMode
    summary: str  # one line
    critical_issue: str | None = None  # repair: the one issue to fix
    why: str | None = None
    minimal_fix: str | None = None
    bottleneck: str | None = None  # optimize
    method: str | None = None
    plan: list[str] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)  # machine-readable hints (baseline)
    stop: bool = False  # the Judge has nothing further to suggest
    source: FeedbackSource = "llm"


def fallback_feedback(mode: FeedbackMode, why: str, attempt_failure: str | None = None) -> Feedback:
    """Generic advice where the Judge gave none usable (its reply, or its call, failed)."""
    if mode == "repair":
        issue = attempt_failure or "see the verdict above"
        return Feedback(
            mode="repair",
            summary=f"Fix the failure reported in the verdict ({why}).",
            critical_issue=issue,
            source="fallback",
        )
    return Feedback(
        mode="optimize",
        summary=f"Improve memory access and occupancy ({why}).",
        source="fallback",
    )


class CoderContext(BaseModel):
    problem: Problem
    problem_source: str
    config: AgentConfig
    round: int  # 1-based
    candidate_index: int = 0  # which of the round's parallel candidates
    previous: AttemptView | None = None  # the attempt this round builds on
    feedback: Feedback | None = None  # the Judge's advice on `previous`
    best: AttemptView | None = None  # best correct attempt so far
    reverted: bool = False  # repairs kept failing: `previous` is the best correct attempt


class Proposal(BaseModel):
    source: str | None = None
    failure: str | None = None  # no candidate, and why (fed back next round)
    prompt: str = ""
    reply: str = ""
    usage: Usage = Field(default_factory=Usage)
    notes: dict[str, Any] = Field(default_factory=dict)


class JudgeContext(BaseModel):
    problem: Problem
    problem_source: str
    config: AgentConfig
    round: int
    attempt: AttemptView
    best: AttemptView | None = None


class Review(BaseModel):
    feedback: Feedback
    prompt: str = ""
    reply: str = ""
    usage: Usage = Field(default_factory=Usage)


class Coder(Protocol):
    name: str

    def propose(self, ctx: CoderContext) -> Proposal: ...


class Judge(Protocol):
    name: str

    def review(self, ctx: JudgeContext) -> Review: ...
