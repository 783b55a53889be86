"""The job store's vocabulary: its errors, what its transitions return, and `redact`
(shared by `worker.fleet.store` and its backends)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar
from urllib.parse import urlsplit

from worker.fleet.jobs import Job, JobSpec, JobState

T = TypeVar("T")
CancelResult = Literal["cancelled", "requested", "finished"]
Change = Callable[[JobSpec, JobState], tuple[JobState | None, T]]


class StoreUnavailable(RuntimeError):
    """The store cannot be reached or written; the message names it (no password)."""


class JobNotFound(KeyError):
    def __str__(self) -> str:
        return f"no such job: {self.args[0]}"


@dataclass
class Claim:
    """What a delivery of a job may do."""

    outcome: Literal["run", "finished", "busy", "exhausted"]
    job: Job
    delivery: int = 0  # the fencing token when outcome == "run"
    wait_s: float = 0.0  # when busy: until the holder's lease lapses


@dataclass
class Recovery:
    """A job a sweeper took back from a lost worker."""

    job: Job  # as it is now: queued again, or failed (deliveries used up)
    worker: str  # the lost owner
    silent_s: float  # from its last heartbeat to the recovery


@dataclass
class Heartbeat:
    owner: bool  # still the current delivery
    cancel: bool  # a cancel was requested


def redact(url: str) -> str:
    """A URL fit for messages: the password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()
