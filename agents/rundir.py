"""The run directory: everything a job did, on disk, resumable.

    $KWRIGHT_HOME/runs/<run_id>/run.json
    $KWRIGHT_HOME/runs/<run_id>/<problem id>/<attempt>/
        prompt.md  reply.md  candidate.py  eval.json  profile.json
        judge_prompt.md  judge_reply.md  feedback.json  attempt.json
    $KWRIGHT_HOME/runs/<run_id>/<problem id>/reflections/<round>.json

`attempt.json` is written last (atomically) and marks the attempt finished; a directory
without it is a partial attempt that is discarded and redone on resume. An attempt whose
`attempt.json` exists is never redone.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import shutil
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, Field, ValidationError, computed_field

from agents.config import AgentConfig
from agents.protocols import AttemptView, Feedback, FeedbackMode, Proposal, Review
from agents.status import AttemptStatus, ProblemStatus, RunStatus, Unevaluated
from agents.usage import Usage, total
from kernelbench.protocol.result import EvalResult

log = logging.getLogger(__name__)

RUN_SCHEMA_VERSION = 1
ATTEMPT_FILE = "attempt.json"


def new_run_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


M = TypeVar("M", bound=BaseModel)


class RunFileError(ValueError):
    """A file of a run directory that does not hold what its model says, e.g. a status
    no enum names; the message names the file and the first bad field."""


def read_model(cls: type[M], path: Path) -> M:
    try:
        return cls.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        message = first["msg"].removeprefix("Value error, ")
        raise RunFileError(f"{path}: bad {cls.__name__} at {where}: {message}") from exc


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class AttemptRecord(BaseModel):
    attempt: int
    round: int
    index: int = 0  # which of the round's parallel candidates
    status: AttemptStatus
    correct: bool = False
    speedup: float | None = None
    reason: str | None = None
    candidate_path: str | None = None
    coder_usage: Usage = Field(default_factory=Usage)
    judge_usage: Usage | None = None
    coder_s: float = 0.0
    eval_s: float = 0.0
    judge_s: float | None = None
    prompt_chars: int = 0
    prompt_tokens: int | None = None
    judged: bool = False
    feedback_mode: FeedbackMode | None = None
    # what the Coder's reply was judged to be: "candidate", "no_candidate" or "refusal"
    reply_kind: str | None = None
    extraction: str | None = None  # which block was taken and why (agents.llm.extract)
    coder_retry: str | None = None  # the round's Coder call failed once and was retried: why
    advice: str | None = None  # "advised (repair)", "no advice: <why>", ...
    # The search's assignment (agents.search): the attempt it builds on and its direction.
    parent: int | None = None
    direction: str | None = None
    temperature: float | None = None

    @property
    def usage(self) -> Usage:
        """What the attempt spent: its Coder call and its review."""
        return total([self.coder_usage, self.judge_usage])

    finished_at: str = Field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())


def role_usage(records: list[AttemptRecord]) -> dict[str, Usage]:
    """{"coder": ..., "judge": ...}: the attempts' spending split by role."""
    return {
        "coder": total(r.coder_usage for r in records),
        "judge": total(r.judge_usage for r in records),
    }


class BestInfo(BaseModel):
    attempt: int
    round: int
    status: AttemptStatus
    correct: bool
    speedup: float | None = None
    runtime_ms: float | None = None
    candidate_path: str


class ProblemResult(BaseModel):
    problem_id: str
    status: ProblemStatus = "done"
    stop_reason: str = ""
    best: BestInfo | None = None
    attempts: list[AttemptRecord] = Field(default_factory=list)
    rounds_run: int = 0
    usage: Usage = Field(default_factory=Usage)
    duration_s: float = 0.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def usage_by_role(self) -> dict[str, Usage]:
        """What the Coder and the Judge each spent (they may be different models)."""
        return role_usage(self.attempts)


class RunInfo(BaseModel):
    schema_version: int = RUN_SCHEMA_VERSION
    run_id: str
    created_at: str = Field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())
    updated_at: str | None = None
    status: RunStatus = "running"
    config: AgentConfig
    device: str | None = None  # where candidates ran: "cuda" (timed) or "cpu" (interpreter)
    problems: list[str] = Field(default_factory=list)
    results: dict[str, ProblemResult] = Field(default_factory=dict)
    usage: Usage = Field(default_factory=Usage)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def usage_by_role(self) -> dict[str, Usage]:
        """What the Coder and the Judge each spent over the run's problems."""
        roles: dict[str, Usage] = {}
        for result in self.results.values():
            for role, usage in result.usage_by_role.items():
                roles[role] = roles.get(role, Usage()).plus(usage)
        return roles


class FinishedAttempt(BaseModel):
    record: AttemptRecord
    view: AttemptView
    feedback: Feedback | None = None


class ProblemDir:
    """One problem's attempts inside a run directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def attempt_dir(self, attempt: int) -> Path:
        return self.root / f"{attempt:03d}"

    def start_attempt(self, attempt: int) -> Path:
        d = self.attempt_dir(attempt)
        if d.exists():
            shutil.rmtree(d)  # a partial attempt from an interrupted run
        d.mkdir(parents=True)
        return d

    def write_proposal(self, attempt: int, proposal: Proposal) -> Path | None:
        d = self.attempt_dir(attempt)
        write_atomic(d / "prompt.md", proposal.prompt)
        write_atomic(d / "reply.md", proposal.reply)
        if proposal.source is None:
            return None
        path = d / "candidate.py"
        write_atomic(path, proposal.source)
        return path

    def write_eval(self, attempt: int, result: EvalResult) -> None:
        d = self.attempt_dir(attempt)
        write_atomic(d / "eval.json", result.model_dump_json(indent=2))
        if result.profile is not None:
            write_atomic(d / "profile.json", result.profile.model_dump_json(indent=2))

    def finish_attempt(self, record: AttemptRecord) -> None:
        record.finished_at = dt.datetime.now(dt.UTC).isoformat()
        write_atomic(
            self.attempt_dir(record.attempt) / ATTEMPT_FILE, record.model_dump_json(indent=2)
        )

    def write_review(self, record: AttemptRecord, review: Review, seconds: float) -> None:
        d = self.attempt_dir(record.attempt)
        write_atomic(d / "feedback.json", review.feedback.model_dump_json(indent=2))
        if review.prompt:
            write_atomic(d / "judge_prompt.md", review.prompt)
            write_atomic(d / "judge_reply.md", review.reply)
        record.judged = True
        record.judge_usage = review.usage
        record.judge_s = round(seconds, 3)
        record.feedback_mode = review.feedback.mode
        self.finish_attempt(record)

    def write_reflection(self, rnd: int, reflection: BaseModel) -> Path:
        """reflections/<round>.json: what a round tried, what it taught, what is kept."""
        path = self.root / "reflections" / f"{rnd:03d}.json"
        write_atomic(path, reflection.model_dump_json(indent=2))
        return path

    def load(self) -> list[FinishedAttempt]:
        """Finished attempts in order; partial attempt directories are removed."""
        found: list[FinishedAttempt] = []
        if not self.root.is_dir():
            return found
        for d in sorted(p for p in self.root.iterdir() if p.is_dir() and p.name.isdigit()):
            marker = d / ATTEMPT_FILE
            if not marker.is_file():
                log.info("discarding partial attempt %s", d)
                shutil.rmtree(d)
                continue
            record = read_model(AttemptRecord, marker)
            cand = d / "candidate.py"
            eval_file, feedback_file = d / "eval.json", d / "feedback.json"
            result = read_model(EvalResult, eval_file) if eval_file.is_file() else None
            feedback = read_model(Feedback, feedback_file) if feedback_file.is_file() else None
            view = AttemptView(
                attempt=record.attempt,
                round=record.round,
                source=cand.read_text(encoding="utf-8") if cand.is_file() else None,
                failure=record.reason if record.status == Unevaluated.NO_CANDIDATE else None,
                result=result,
            )
            found.append(FinishedAttempt(record=record, view=view, feedback=feedback))
        return found


class RunDir:
    def __init__(self, home: Path, run_id: str) -> None:
        self.run_id = run_id
        self.root = home / "runs" / run_id

    @property
    def info_path(self) -> Path:
        return self.root / "run.json"

    def exists(self) -> bool:
        return self.info_path.is_file()

    def problem(self, problem_id: str) -> ProblemDir:
        return ProblemDir(self.root / problem_id)

    def load_info(self) -> RunInfo:
        """run.json; RunFileError where it does not validate."""
        return read_model(RunInfo, self.info_path)

    def record_result(self, problem_id: str, result: ProblemResult) -> None:
        """Put one problem's result into run.json (a result the loop did not write itself,
        e.g. a worker's interrupted or failed job); a failed result fails the run."""
        if not self.exists():
            return
        info = self.load_info()
        info.results[problem_id] = result
        info.status = "failed" if result.status == "failed" else info.status
        self.save_info(info)

    def extend_rounds(self, info: RunInfo, rounds: int) -> None:
        """Give a resumed run `rounds` rounds per problem: a problem that ran all of its old
        rounds runs again (its finished rounds are replayed from disk, never redone)."""
        old = info.config.rounds
        if rounds == old:
            return
        info.config = info.config.model_copy(update={"rounds": rounds})
        if rounds > old:
            for pid, result in list(info.results.items()):
                if result.status == "done" and result.rounds_run >= old:
                    del info.results[pid]
        self.save_info(info)

    def save_info(self, info: RunInfo) -> None:
        info.updated_at = dt.datetime.now(dt.UTC).isoformat()
        write_atomic(self.info_path, info.model_dump_json(indent=2))
