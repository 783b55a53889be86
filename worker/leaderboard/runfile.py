"""The leaderboard's reading of run.json: only the fields it ranks, extra fields ignored.

`agents.rundir.RunInfo` is the writer's model; reading through it would validate every
field of every run (the agent configuration, each attempt) for a report that needs a
few; token usage and the statuses are the writer's own (`agents.usage`, `agents.status`),
so a run with a status no enum names is skipped with a warning.
tests/test_leaderboard.py checks that a RunInfo written by the agents reads back here.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from agents.status import AttemptStatus, ProblemStatus
from agents.usage import Usage
from kernelbench.protocol.policy import Policy
from kernelbench.protocol.request import Precision


class AttemptRecord(BaseModel):
    attempt: int
    round: int
    status: AttemptStatus
    correct: bool = False
    coder_s: float = 0.0
    eval_s: float = 0.0
    judge_s: float | None = None


class BestRecord(BaseModel):
    attempt: int
    status: AttemptStatus
    correct: bool
    speedup: float | None = None
    runtime_ms: float | None = None
    candidate_path: str


class ProblemRecord(BaseModel):
    problem_id: str
    status: ProblemStatus = "done"
    best: BestRecord | None = None
    attempts: list[AttemptRecord] = Field(default_factory=list)
    rounds_run: int = 0
    usage: Usage = Field(default_factory=Usage)


class LLMRecord(BaseModel):
    model: str = "?"


class ConfigRecord(BaseModel):
    agent: str
    llm: LLMRecord = Field(default_factory=LLMRecord)
    target_gpu: str = "?"
    policy: Policy = "strict"  # runs written before policies were strict
    precision: Precision = "fp32"  # runs written before precisions were fp32


class RunRecord(BaseModel):
    run_id: str
    created_at: str = ""
    updated_at: str | None = None
    config: ConfigRecord
    device: str | None = None  # "cuda" (timed) or "cpu" (interpreter)
    problems: list[str] = Field(default_factory=list)
    results: dict[str, ProblemRecord] = Field(default_factory=dict)
