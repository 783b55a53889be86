"""A job: one problem optimized under one agent configuration, on one queue.

A job carries everything a worker on another machine needs: the problem's id and its
source text (so a problem from a local folder or file runs anywhere), and the agent
configuration (agent, model, endpoint, backend, target GPU, rounds, budget). It never
carries an API key: each worker reads its own from its environment.

`JobSpec` is fixed at submission; `JobState` is what the store updates as the job runs;
`JobOutcome` is what a finished job recorded (best kernel source included, so results can
be read on a machine that does not see the run directory).
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import logging
import secrets
import socket
import time
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, Field, ValidationError

from agents.config import AgentConfig
from agents.rundir import BestInfo, write_atomic
from agents.status import ProblemStatus, RoundProgress
from agents.usage import Usage
from kernelbench.problems.problem import Problem, ProblemError, load_problem
from kernelbench.problems.registry import resolve_problem

log = logging.getLogger(__name__)

JOB_SCHEMA_VERSION = 1
JobStatus = Literal["queued", "running"] | ProblemStatus  # a job ends as its problem did
TERMINAL: frozenset[JobStatus] = frozenset(get_args(ProblemStatus))


class MalformedJob(ValueError):
    """A job record or message that does not validate; the message says what is wrong."""


def new_job_id() -> str:
    return "j-" + secrets.token_hex(5)


def new_batch_id() -> str:
    return "b-" + secrets.token_hex(4)


def now() -> float:
    return time.time()


def iso(ts: float | None) -> str | None:
    return None if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()


class ProblemRef(BaseModel):
    """A problem as a job carries it: id, where it came from, and its source text."""

    id: str
    suite: str  # "builtin", the suite folder on the submitting machine, or "file"
    filename: str  # e.g. "2_ReLU.py"
    level: int | None = None
    source: str
    sha256: str

    @classmethod
    def of(cls, problem: Problem) -> ProblemRef:
        source = problem.source()
        return cls(
            id=problem.id,
            suite=problem.suite,
            filename=problem.path.name,
            level=problem.level,
            source=source,
            sha256=hashlib.sha256(source.encode()).hexdigest(),
        )


class JobSpec(BaseModel):
    schema_version: int = JOB_SCHEMA_VERSION
    id: str = Field(pattern=r"^j-[0-9a-f]{6,32}$")
    batch: str
    problem: ProblemRef
    config: AgentConfig
    queue: str
    submitted_at: float = Field(default_factory=now)
    submitted_by: str = ""


class JobOutcome(BaseModel):
    status: ProblemStatus
    stop_reason: str = ""
    best: BestInfo | None = None
    best_source: str | None = None
    attempts: int = 0
    rounds_run: int = 0
    usage: Usage = Field(default_factory=Usage)
    duration_s: float = 0.0
    device: str | None = None
    run_dir: str | None = None
    worker: str | None = None


class Delivery(BaseModel):
    """One start of a job by a worker, and how that start ended (None: still running)."""

    n: int
    worker: str
    started_at: float
    ended_at: float | None = None
    end: str | None = None

    def text(self) -> str:
        return f"#{self.n} {self.worker}: {self.end or 'running'}"


class JobState(BaseModel):
    status: JobStatus = "queued"
    deliveries: int = 0  # how many times a worker started it (the fencing token)
    owner: str | None = None  # host:pid of the process running it
    lease_until: float | None = None
    heartbeat_at: float | None = None  # the owner's last lease renewal
    recovered_at: float | None = None  # a sweeper last put it back after its worker was lost
    queued_at: float | None = None  # last put (back) on its queue; None: at submission
    orphaned: int = 0  # times a sweeper found its message lost and published it again
    history: list[Delivery] = Field(default_factory=list)
    started_at: float | None = None  # first start
    last_started_at: float | None = None
    finished_at: float | None = None
    cancel_requested: bool = False
    error: str | None = None
    outcome: JobOutcome | None = None
    completions: int = 0  # times a finish was recorded; 1 for every finished job
    duplicate_deliveries: int = 0  # deliveries that found it finished (or busy elsewhere)
    duplicate_attempts: int = 0  # attempts reported twice (a finished attempt redone)


class JobProgress(RoundProgress):
    """The latest `agents.loop.Progress` of a running job, and when it came."""

    at: float = Field(default_factory=now)

    @classmethod
    def of(cls, progress: RoundProgress) -> JobProgress:
        return cls.model_validate(progress.model_dump(include=set(RoundProgress.model_fields)))


class Job(BaseModel):
    spec: JobSpec
    state: JobState = Field(default_factory=JobState)
    progress: JobProgress | None = None

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def status(self) -> JobStatus:
        return self.state.status

    def lease_lapsed(self, at: float | None = None) -> bool:
        """Running, but nobody renewed the lease: its worker is probably gone."""
        return (
            self.state.status == "running"
            and self.state.lease_until is not None
            and self.state.lease_until < (at or now())
        )

    def recovery_due(self, grace_s: float) -> float | None:
        """When a stale job goes back on its queue: a sweeper requeues it once its lease
        has lapsed by `grace_s` (None: not stale)."""
        if not self.lease_lapsed() or self.state.lease_until is None:
            return None
        return self.state.lease_until + grace_s

    def summary(self, grace_s: float | None = None) -> dict[str, Any]:
        """The flat view `kwright status --json` prints; `grace_s` (the recovery grace)
        dates a stale job's recovery."""
        s, o, cfg = self.state, self.state.outcome, self.spec.config
        due = self.recovery_due(grace_s) if grace_s is not None else None
        usage = o.usage if o else (self.progress.usage if self.progress else Usage())
        best = o.best if o else None
        return {
            "job_id": self.id,
            "batch": self.spec.batch,
            "problem": self.spec.problem.id,
            "queue": self.spec.queue,
            "agent": cfg.agent,
            "model": cfg.llm.model if cfg.agent == "llm" else None,
            "backend": cfg.backend,
            "target_gpu": cfg.target_gpu,
            "status": s.status,
            "stale": self.lease_lapsed(),
            "stale_since": iso(s.lease_until) if self.lease_lapsed() else None,
            "recovery_due": iso(due),
            "recovered_at": iso(s.recovered_at),
            "cancel_requested": s.cancel_requested,
            "deliveries": s.deliveries,
            "round": self.progress.round if self.progress else None,
            "rounds": cfg.rounds,
            "phase": self.progress.phase if self.progress else None,
            "attempts": o.attempts if o else None,
            "best": best.model_dump() if best else None,
            "stop_reason": o.stop_reason if o else None,
            "error": s.error,
            "tokens": usage.total_tokens,
            "cost_usd": usage.cost_usd,
            "submitted_at": iso(self.spec.submitted_at),
            "started_at": iso(s.started_at),
            "finished_at": iso(s.finished_at),
            "worker": o.worker if o else s.owner,
        }


def parse_spec(data: str | bytes | dict[str, Any]) -> JobSpec:
    try:
        if isinstance(data, dict):
            return JobSpec.model_validate(data)
        return JobSpec.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "job"
        raise MalformedJob(f"malformed job: {where}: {first['msg']}") from exc


def submitter() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "?"
    return f"{user}@{socket.gethostname()}"


def materialize_problem(ref: ProblemRef, home: Path, job_id: str) -> Problem:
    """The job's problem on this machine.

    A built-in problem whose local copy has the same text is used in place (so it keeps
    its built-in identity, e.g. for reference solutions). Anything else is written from
    the job's source text into the job's run directory and loaded from there.
    """
    if ref.suite == "builtin":
        try:
            local = resolve_problem(ref.id)
        except ProblemError:
            local = None
        if local is not None and local.source_sha256 == ref.sha256:
            return local
        log.info("%s: built-in copy differs on this worker; using the job's source", ref.id)
    if hashlib.sha256(ref.source.encode()).hexdigest() != ref.sha256:
        raise MalformedJob(f"job {job_id}: problem {ref.id}: source does not match its sha256")
    level_dir = f"level{ref.level}" if ref.level is not None else "problem"
    name = Path(ref.filename).name
    if not name.endswith(".py"):
        raise MalformedJob(f"job {job_id}: problem file name {ref.filename!r} is not a .py")
    path = home / "runs" / job_id / "_problem" / level_dir / name
    if not path.is_file() or path.read_text(encoding="utf-8") != ref.source:
        write_atomic(path, ref.source)
    return load_problem(path, problem_id=ref.id, suite=ref.suite)
