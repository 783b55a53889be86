"""Submitting jobs: record them in the store, then hand them to a worker.

With a broker, each job is published to its queue (the message carries only the job id).
Without one, the jobs wait in the embedded SQLite store and a detached embedded worker is
started if none is running. Nothing here waits long on a dead broker or store: the
connection attempts are bounded by `KWRIGHT_CONNECT_TIMEOUT_S` and fail with one line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

from kombu.exceptions import OperationalError

from agents.config import AgentConfig
from kernelbench.problems.problem import Problem
from worker.config import Settings
from worker.fleet.celery_app import TASK_NAME, make_app
from worker.fleet.embedded import spawn_embedded_worker
from worker.fleet.jobs import Job, JobSpec, ProblemRef, new_batch_id, new_job_id, submitter
from worker.fleet.store import JobStore, redact
from worker.fleet.transport import BrokerUnavailable

log = logging.getLogger(__name__)


@dataclass
class Submission:
    batch: str
    queue: str
    mode: Literal["fleet", "embedded"]
    jobs: list[Job] = field(default_factory=list)
    worker_pid: int | None = None  # embedded: a worker started for these jobs


def make_jobs(
    problems: list[Problem], config: AgentConfig, queue: str, batch: str | None = None
) -> list[Job]:
    batch = batch or new_batch_id()
    by = submitter()
    return [
        Job(
            spec=JobSpec(
                id=new_job_id(),
                batch=batch,
                problem=ProblemRef.of(p),
                config=config,
                queue=queue,
                submitted_by=by,
            )
        )
        for p in problems
    ]


# Redis lists are popped highest priority first, and 0 is the highest: a job taken back
# from a lost worker goes ahead of the jobs that have not started yet.
JOB_PRIORITY = 6
RECOVERED_PRIORITY = 0


def publish(jobs: list[Job], settings: Settings, priority: int = JOB_PRIORITY) -> None:
    """Send one message per job to its queue; the task id is the job id."""
    app = make_app(settings)
    policy = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
    try:
        with app.producer_or_acquire() as producer:
            for job in jobs:
                app.send_task(
                    TASK_NAME,
                    args=[job.id],
                    task_id=job.id,
                    queue=job.spec.queue,
                    priority=priority,
                    producer=producer,
                    retry=True,
                    retry_policy=policy,
                )
    except (OperationalError, OSError) as exc:
        raise BrokerUnavailable(
            f"cannot reach the broker at {redact(settings.broker_url or '')}: {exc}"
        ) from exc


def submit(jobs: list[Job], settings: Settings, store: JobStore) -> Submission:
    """Record `jobs` (all of one batch and queue) and start them. Raises StoreUnavailable
    or BrokerUnavailable; jobs recorded but not published are marked failed."""
    first = jobs[0].spec
    sub = Submission(
        batch=first.batch, queue=first.queue, mode="fleet" if settings.broker_url else "embedded"
    )
    store.add(jobs)
    sub.jobs = jobs
    if settings.broker_url:
        try:
            publish(jobs, settings)
        except BrokerUnavailable as exc:
            for job in jobs:
                store.fail(job.id, f"not enqueued: {exc}")
            raise
    else:
        sub.worker_pid = spawn_embedded_worker(settings)
    return sub
