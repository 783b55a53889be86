"""What the optimization loop asks of a Coder and a Judge, and what they answer.

Both the LLM agents and the rule-based baseline implement these two small protocols, so
the loop, the run directory and the fleet do not care which one runs.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field, model_validator

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


class Evidence(BaseModel):
    """One measured or static fact a bottleneck rests on (from the verdict or the profile)."""

    metric: str  # e.g. "spill_stores_bytes", "occupancy_pct", "dram__throughput.avg.pct"
    value: float | int | str | None = None


class Bottleneck(BaseModel):
    """One ranked finding of the Judge: what limits the kernel, the facts that say so, and
    the fix. `params`: machine-readable hints (the offline Judge's kernel knobs)."""

    category: str  # memory-bound, compute-bound, occupancy, spills, launch overhead, ...
    summary: str = ""
    evidence: list[Evidence] = Field(default_factory=list)
    fix: str = ""
    params: dict[str, Any] = Field(default_factory=dict)

    def label(self) -> str:
        return f"{self.category}: {self.summary}" if self.summary else self.category


class Feedback(BaseModel):
    """The Judge's advice for the next round.

    Optimize mode ranks `bottlenecks`, most important first; the single `bottleneck`,
    `method` and `plan` are the older shape (still read: `ranked()` turns them into one
    bottleneck). `done` (older files: `stop`) says the Judge has nothing further to suggest;
    both fields are kept equal so either spelling reads the same.
    """

    mode: FeedbackMode
    summary: str  # one line
    critical_issue: str | None = None  # repair: the one issue to fix
    why: str | None = None
    minimal_fix: str | None = None
    bottleneck: str | None = None  # optimize
    method: str | None = None
    plan: list[str] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)  # machine-readable hints (baseline)
    bottlenecks: list[Bottleneck] = Field(default_factory=list)  # ranked, first = most
    stop: bool = False  # the older spelling of `done`
    done: bool = False  # the Judge has nothing further to suggest (at the roofline, or empty)
    source: FeedbackSource = "llm"

    @model_validator(mode="after")
    def _done_is_stop(self) -> Feedback:
        if self.stop or self.done:
            self.stop = self.done = True
        return self

    def ranked(self) -> list[Bottleneck]:
        """The ranked bottlenecks; an old single-bottleneck reply gives one."""
        if self.bottlenecks:
            return list(self.bottlenecks)
        if self.mode == "optimize" and (self.bottleneck or self.method):
            fix = "; ".join(p for p in [self.method or "", *self.plan] if p)
            return [Bottleneck(category=self.bottleneck or "optimize", fix=fix)]
        return []


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


class LineageStep(BaseModel):
    """One earlier attempt of a candidate's lineage, as its history shows it."""

    attempt: int
    round: int
    tried: str  # the direction it took ("first version", a bottleneck, a repair)
    status: str
    runtime_ms: float | None = None
    speedup: float | None = None
    change: str = ""  # what changed in the numbers against its parent


class Numbers(BaseModel):
    """The numbers a Coder sees of its lineage: measured time (GPU) and static facts."""

    previous: list[str] = Field(default_factory=list)  # facts of the kernel it builds on
    best: str | None = None  # the best so far, in one line
    target: str | None = None  # the time to beat
    roofline: str | None = None  # the lower bound and the fraction reached, when known


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
    # The search's assignment for this candidate (agents.search): the bottleneck it works
    # on, or an angle of its own, so no two candidates of a round get the same prompt.
    candidates: int = 1  # the round's width
    direction: Bottleneck | None = None
    angle: str | None = None
    temperature: float | None = None  # None: the endpoint's configured temperature
    numbers: Numbers | None = None
    history: list[LineageStep] = Field(default_factory=list)  # the lineage, oldest first
    lessons: list[str] = Field(default_factory=list)  # what failed elsewhere, and why
    examples: str = ""  # round 1: verified kernels of similar problems (agents.library)


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
    ranked: int = 3  # how many ranked bottlenecks the search can use
    history: list[LineageStep] = Field(default_factory=list)  # the attempt's lineage


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
