"""The job store: one API, two backends (Redis for the fleet, SQLite embedded).

Every state change is one atomic read-modify-write of a job's state, written once here
and run by each backend inside its own transaction (`_transact`). The rules that make
the fleet crash-safe live in these transitions:

* `claim` starts a delivery: it refuses a finished job (a duplicate delivery), a job a
  live worker still holds (its lease is fresh: the caller retries later), and a job
  started `max_deliveries` times already (it is failed: its worker keeps getting lost).
  Each start increments `deliveries`, which is the fencing token of that delivery.
* `heartbeat` renews the lease while the job runs and tells the runner whether it still
  owns the job and whether a cancel was requested.
* `finish` records the outcome once: only the current delivery of a job that is not
  finished may record it. A duplicate or superseded delivery cannot double-record.
* `recover_lapsed` is the sweepers' move: a running job whose lease lapsed more than a
  grace period ago lost its worker; it goes back to `queued` (or is failed once it used
  up its deliveries) in one transaction per job, so of several sweepers exactly one acts.
* `stale_queued` and `restamp_orphan` serve the sweepers' second move: a job queued so
  long that its message may be lost (worker/fleet/orphans.py) is stamped once and published again.
* Each delivery is kept in `history` with how it ended, for the record and for the
  reason of a job failed after `max_deliveries`.
* `record_attempt` keeps a ledger of attempts keyed by (job, attempt number); an attempt
  reported twice is not recorded again and is counted as a duplicate.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable

from agents.rundir import AttemptRecord
from agents.status import ProblemStatus
from worker.fleet.jobs import (
    TERMINAL,
    Delivery,
    Job,
    JobOutcome,
    JobProgress,
    JobSpec,
    JobState,
    now,
)
from worker.fleet.store_types import (
    CancelResult,
    Change,
    Claim,
    Heartbeat,
    JobNotFound,
    Recovery,
    StoreUnavailable,
    T,
    redact,
)

__all__ = [
    "CancelResult",
    "Change",
    "Claim",
    "Heartbeat",
    "JobNotFound",
    "JobStore",
    "Recovery",
    "StoreUnavailable",
    "T",
    "exhausted_reason",
    "queued_since",
    "redact",
]

log = logging.getLogger(__name__)


class JobStore(ABC):
    """Jobs by id: their spec, state, latest progress and attempt ledger."""

    location: str = ""

    # ------------------------------------------------------------ backend primitives
    @abstractmethod
    def add(self, jobs: list[Job]) -> None:
        """Record new jobs (status queued)."""

    @abstractmethod
    def get(self, job_id: str) -> Job | None: ...

    @abstractmethod
    def list_jobs(self, *, batch: str | None = None, limit: int = 50) -> list[Job]:
        """Newest first; a batch lists all its jobs in submission order."""

    @abstractmethod
    def _transact(self, job_id: str, change: Change[T]) -> T:
        """Apply `change` to the job's state atomically; raise JobNotFound."""

    @abstractmethod
    def queued_ids(self, queues: Iterable[str] | None) -> list[str]:
        """Ids of queued jobs on these queues (None: any), oldest first."""

    @abstractmethod
    def _running_ids(self) -> list[str]: ...

    @abstractmethod
    def set_progress(self, job_id: str, progress: JobProgress) -> None: ...

    @abstractmethod
    def _add_attempt(self, job_id: str, record: AttemptRecord) -> bool:
        """Insert unless present; True if it was new."""

    @abstractmethod
    def attempts(self, job_id: str) -> list[AttemptRecord]: ...

    def close(self) -> None:
        return None

    # ------------------------------------------------------------ transitions
    def claim(self, job_id: str, owner: str, lease_s: float, max_deliveries: int) -> Claim:
        def change(spec: JobSpec, st: JobState) -> tuple[JobState | None, Claim]:
            t = now()
            job = Job(spec=spec, state=st)
            if st.status in TERMINAL:
                st.duplicate_deliveries += 1
                return st, Claim("finished", job)
            if st.cancel_requested:
                _close(st, "cancelled", "cancelled before it could resume", t)
                return st, Claim("finished", job)
            held = st.status == "running" and st.owner != owner
            if held and st.lease_until is not None and st.lease_until > t:
                st.duplicate_deliveries += 1
                return st, Claim("busy", job, wait_s=st.lease_until - t)
            if st.deliveries >= max_deliveries:
                _end_delivery(st, "lost: its lease lapsed", t)
                _close(st, "failed", exhausted_reason(st, max_deliveries), t)
                return st, Claim("exhausted", job)
            if st.status == "running":  # a lapsed lease (the owner is gone), or a retry
                how = "lost: its lease lapsed" if held else "superseded: delivered again"
                _end_delivery(st, how, t)
            st.status = "running"
            st.deliveries += 1
            st.owner = owner
            st.lease_until = t + lease_s
            st.heartbeat_at = t
            st.started_at = st.started_at or t
            st.last_started_at = t
            st.history.append(Delivery(n=st.deliveries, worker=owner, started_at=t))
            return st, Claim("run", job, delivery=st.deliveries)

        return self._transact(job_id, change)

    def claim_next(
        self, queues: Iterable[str] | None, owner: str, lease_s: float, max_deliveries: int
    ) -> Claim | None:
        """The oldest queued job on `queues`, started (the embedded worker's pull)."""
        for job_id in self.queued_ids(list(queues) if queues is not None else None):

            def change(spec: JobSpec, st: JobState) -> tuple[JobState | None, bool]:
                return (None, False) if st.status != "queued" else (st, True)

            try:
                if self._transact(job_id, change):
                    claim = self.claim(job_id, owner, lease_s, max_deliveries)
                    if claim.outcome == "run":
                        return claim
            except JobNotFound:
                continue
        return None

    def heartbeat(self, job_id: str, delivery: int, lease_s: float) -> Heartbeat:
        def change(spec: JobSpec, st: JobState) -> tuple[JobState | None, Heartbeat]:
            if st.status != "running" or st.deliveries != delivery:
                return None, Heartbeat(owner=False, cancel=st.cancel_requested)
            st.heartbeat_at = now()
            st.lease_until = st.heartbeat_at + lease_s
            return st, Heartbeat(owner=True, cancel=st.cancel_requested)

        return self._transact(job_id, change)

    def release(self, job_id: str, owner: str) -> bool:
        """The owner process is known dead and its message requeued: the job is queued
        again, and the next delivery takes over at once."""

        def change(spec: JobSpec, st: JobState) -> tuple[JobState | None, bool]:
            if st.status != "running" or st.owner != owner:
                return None, False
            t = now()
            _end_delivery(st, "lost: its worker process died", t)
            _requeue(st, t)
            return st, True

        return self._transact(job_id, change)

    def recover_lapsed(
        self, grace_s: float, max_deliveries: int, by: str
    ) -> tuple[list[Recovery], float | None]:
        """Take back the running jobs whose lease lapsed over `grace_s` ago: queued again
        (the caller publishes a fresh message), or failed if their deliveries are used up.
        Returns what was recovered and when the next running job would fall due."""
        recovered: list[Recovery] = []
        next_due: float | None = None
        for job_id in self._running_ids():

            def change(
                spec: JobSpec, st: JobState
            ) -> tuple[JobState | None, Recovery | float | None]:
                t = now()
                if st.status != "running" or st.lease_until is None:
                    return None, None
                if st.lease_until + grace_s > t:
                    return None, st.lease_until + grace_s
                worker = st.owner or "?"
                silent = t - (st.heartbeat_at or st.last_started_at or st.lease_until)
                _end_delivery(st, f"lost: no heartbeat for {silent:.0f} s, recovered by {by}", t)
                if st.deliveries >= max_deliveries:
                    _close(st, "failed", exhausted_reason(st, max_deliveries), t)
                else:
                    _requeue(st, t)
                    st.recovered_at = t
                return st, Recovery(Job(spec=spec, state=st), worker, silent)

            try:
                got = self._transact(job_id, change)
            except JobNotFound:
                continue
            if isinstance(got, Recovery):
                recovered.append(got)
            elif got is not None:
                next_due = got if next_due is None else min(next_due, got)
        return recovered, next_due

    def stale_queued(self, older_than_s: float) -> list[Job]:
        """Queued jobs that have waited over `older_than_s` since they were last queued."""
        cutoff = now() - older_than_s
        return [j for j in self.queued_jobs(None) if queued_since(j) < cutoff]

    def queued_jobs(self, queues: Iterable[str] | None) -> list[Job]:
        """The queued jobs on these queues (None: any), oldest first."""
        jobs = (self.get(job_id) for job_id in self.queued_ids(queues))
        return [j for j in jobs if j is not None and j.status == "queued"]

    def restamp_orphan(self, job_id: str, since: float) -> Job | None:
        """A sweeper found no message for this queued job: stamp it queued now, once (of
        several sweepers that saw it queued `since`, one wins) and return it to publish."""

        def change(spec: JobSpec, st: JobState) -> tuple[JobState | None, Job | None]:
            job = Job(spec=spec, state=st)
            if st.status != "queued" or queued_since(job) != since:
                return None, None
            st.queued_at = now()
            st.orphaned += 1
            return st, job

        return self._transact(job_id, change)

    def finish(self, job_id: str, delivery: int, outcome: JobOutcome) -> bool:
        def change(spec: JobSpec, st: JobState) -> tuple[JobState | None, bool]:
            if st.status in TERMINAL or st.deliveries != delivery:
                return None, False
            st.outcome = outcome
            _close(st, outcome.status, None, now())
            return st, True

        done = self._transact(job_id, change)
        if not done:
            log.warning(
                "job %s: delivery %d is no longer current; result not recorded", job_id, delivery
            )
        return done

    def fail(self, job_id: str, reason: str, *, owner: str | None = None) -> bool:
        """Mark an unfinished job failed (if `owner` is given: only while it holds it)."""

        def change(spec: JobSpec, st: JobState) -> tuple[JobState | None, bool]:
            if st.status in TERMINAL or (owner is not None and st.owner != owner):
                return None, False
            _close(st, "failed", reason, now())
            return st, True

        return self._transact(job_id, change)

    def cancel(self, job_id: str) -> CancelResult:
        """Queued: cancelled now. Running: requested (the job stops between rounds)."""

        def change(spec: JobSpec, st: JobState) -> tuple[JobState | None, CancelResult]:
            if st.status in TERMINAL:
                return None, "finished"
            if st.status == "queued":
                _close(st, "cancelled", "cancelled while queued", now())
                return st, "cancelled"
            st.cancel_requested = True
            return st, "requested"

        return self._transact(job_id, change)

    def requeue_running(self, reason: str) -> list[str]:
        """Put every running job back in the queue (the embedded worker's recovery: it
        holds the only lock, so anything still running lost its worker)."""
        moved = []
        for job_id in self._running_ids():

            def change(spec: JobSpec, st: JobState) -> tuple[JobState | None, bool]:
                if st.status != "running":
                    return None, False
                t = now()
                _end_delivery(st, f"lost: {reason}", t)
                _requeue(st, t)
                st.error = reason
                return st, True

            if self._transact(job_id, change):
                moved.append(job_id)
        return moved

    def record_attempt(self, job_id: str, record: AttemptRecord, *, resumed: bool = False) -> bool:
        """Add a finished attempt to the ledger once. `resumed`: a replay of attempts
        found on disk, which may already be there; otherwise a repeat is a duplicate."""
        if self._add_attempt(job_id, record):
            return True
        if not resumed:
            log.warning("job %s: attempt %d reported twice; kept the first", job_id, record.attempt)

            def change(spec: JobSpec, st: JobState) -> tuple[JobState | None, None]:
                st.duplicate_attempts += 1
                return st, None

            self._transact(job_id, change)
        return False

    def require(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job is None:
            raise JobNotFound(job_id)
        return job


def exhausted_reason(st: JobState, max_deliveries: int) -> str:
    """Why a job was given up: each delivery's worker and how it ended."""
    each = "; ".join(d.text() for d in st.history) or "none recorded"
    return (
        f"gave up after {st.deliveries} deliveries (KWRIGHT_MAX_DELIVERIES={max_deliveries}): "
        f"the worker running it was lost each time: {each}"
    )


def queued_since(job: Job) -> float:
    return job.state.queued_at or job.spec.submitted_at


def _requeue(st: JobState, t: float) -> None:
    st.status, st.owner, st.lease_until, st.queued_at = "queued", None, None, t


def _end_delivery(st: JobState, how: str, t: float) -> None:
    """Close the current delivery's history entry (once: the first ending is the truth)."""
    if st.history and st.history[-1].ended_at is None:
        st.history[-1].ended_at = t
        st.history[-1].end = how


def _close(st: JobState, status: ProblemStatus, error: str | None, t: float) -> None:
    how = status if not error else f"{status}: {error}"
    _end_delivery(st, how if len(how) <= 120 else how[:117] + "...", t)
    st.status = status
    st.error = error if error is not None else st.error
    st.finished_at = t
    st.owner = None
    st.lease_until = None
    st.completions += 1
