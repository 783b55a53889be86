"""The Celery task that runs one job, and the worker-side handling of lost workers.

A message carries only the job id (also the Celery task id); the job itself is in the
store. A delivery:

* finds the job finished or cancelled: a duplicate, acknowledged and dropped;
* finds it held by a live worker (fresh lease; e.g. the message was restored while its
  worker kept running through a broker restart): retried after the lease would lapse,
  so a message stays alive until the job is finished;
* finds it started `max_deliveries` times already: the job is failed;
* otherwise runs it (resuming its run directory) and records the outcome once; each of
  its candidates is evaluated by a task of its own on the evaluation queue
  (worker/fleet/candidates.py, worker/fleet/eval_tasks.py).

A whole worker lost (main process and pool, or its machine) leaves its job running with a
lease nobody renews: every worker's main process runs a sweeper (worker/fleet/sweeper.py) that
puts such a job back on its queue once the lease has lapsed by a grace period.

When a pool process dies mid-job, Celery (in the worker's main process) requeues the
message (`task_reject_on_worker_lost`); `JobRequest` first releases that process's lease
so the redelivery need not wait for it to lapse. A cold shutdown (SIGQUIT) does the same
for every running job once its pool process is gone. A hard time limit kill marks the job
failed.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from typing import Any

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded, Terminated, WorkerLostError
from celery.signals import (
    worker_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
    worker_shutting_down,
)
from celery.worker.request import Request

from kernelbench.harness.evaluate import detect_device
from sandbox.base import SandboxUnavailable
from sandbox.cleanup import pid_alive
from sandbox.defaults import sandbox_for
from worker.config import ConfigError, Settings, api_key_from_env, get_settings
from worker.fleet.candidates import (
    broker_publisher,
    close_eval_stores,
    eval_store,
    fleet_evaluators,
)
from worker.fleet.celery_app import TASK_NAME, app
from worker.fleet.execute import WorkerContext, execute_job
from worker.fleet.jobs import Job, MalformedJob
from worker.fleet.orphans import broker_orphan_finder
from worker.fleet.store import JobNotFound, StoreUnavailable
from worker.fleet.store_open import open_store
from worker.fleet.submit import RECOVERED_PRIORITY, publish
from worker.fleet.sweeper import Sweeper

log = logging.getLogger(__name__)

_JOB_ID = re.compile(r"^j-[0-9a-f]{6,32}$")
STORE_RETRY_S = 10.0


_contexts: dict[str, WorkerContext] = {}


def worker_context(hostname: str) -> WorkerContext:
    """Per pool process: the store client, the sandbox (its warm pool is reused across
    jobs and evaluations), the device, and the API key from this worker's environment."""
    ctx = _contexts.get(hostname)
    if ctx is None:
        settings = get_settings()
        ctx = _contexts[hostname] = WorkerContext(
            store=open_store(settings, patient=True),
            home=settings.home,
            sandbox=sandbox_for(settings.sandbox),
            device=detect_device(),
            api_key=api_key_from_env(),
            name=hostname,
            lease_s=settings.lease_s,
        )
    return ctx


@worker_init.connect
def _check_worker(**_: Any) -> None:
    """Refuse to start a worker that could not run any job, rather than let it take jobs
    off the queue and fail them."""
    try:
        settings = get_settings()
        sandbox_for(settings.sandbox).close()
    except (ConfigError, SandboxUnavailable) as exc:
        raise SystemExit(f"kwright worker: {exc}") from exc


_sweepers: list[Sweeper] = []


@worker_ready.connect
def _start_sweeper(sender: Any = None, **_: Any) -> None:
    """In the worker's main process: recover the jobs of lost workers."""
    name = getattr(sender, "hostname", None) or "celery"
    try:
        _sweepers.append(fleet_sweeper(get_settings(), name).start())
    except (ConfigError, StoreUnavailable) as exc:
        log.error("no sweeper on this worker (%s): lost workers' jobs wait for others", exc)


@worker_shutdown.connect
def _stop_sweeper(**_: Any) -> None:
    while _sweepers:
        sweeper = _sweepers.pop()
        sweeper.stop()
        sweeper.store.close()


@worker_process_shutdown.connect
def _close_contexts(**_: Any) -> None:
    close_eval_stores()
    while _contexts:
        _host, ctx = _contexts.popitem()
        ctx.sandbox.close()
        ctx.store.close()


def _owner(hostname: str, pid: int) -> str:
    return f"{hostname}:{pid}"


def _job_id_of(request: Request) -> str | None:
    return request.id if isinstance(request.id, str) and _JOB_ID.match(request.id) else None


class JobRequest(Request):
    """Runs in the worker's main process: reacts to a lost pool process or a hard kill."""

    def on_accepted(self, pid: int, time_accepted: float) -> None:
        super().on_accepted(pid, time_accepted)
        job_id = _job_id_of(self)
        if job_id is not None:
            _running[job_id] = _owner(self.hostname, pid)

    def on_success(self, failed__retval__runtime: Any, **kwargs: Any) -> None:
        _running.pop(self.id, None)
        super().on_success(failed__retval__runtime, **kwargs)

    def on_retry(self, exc_info: Any) -> None:
        _running.pop(self.id, None)
        super().on_retry(exc_info)

    def on_failure(
        self, exc_info: Any, send_failed_event: bool = True, return_ok: bool = False
    ) -> None:
        exc = getattr(exc_info.exception, "exc", exc_info.exception)
        if not isinstance(exc, Terminated):  # a cold shutdown terminates: see below
            _running.pop(self.id, None)
        job_id = _job_id_of(self)
        lost = isinstance(exc, WorkerLostError | SystemExit | KeyboardInterrupt)
        if lost and job_id is not None and self.worker_pid is not None:
            # Before Celery requeues the message, so the redelivery finds the lease free.
            self._release(job_id, _owner(self.hostname, self.worker_pid))
        super().on_failure(exc_info, send_failed_event=send_failed_event, return_ok=return_ok)

    @staticmethod
    def _release(job_id: str, owner: str) -> None:
        store = None
        try:
            store = open_store(get_settings())
            if store.release(job_id, owner):
                log.warning("job %s: its worker process died; it goes back to the queue", job_id)
        except (StoreUnavailable, JobNotFound, MalformedJob) as err:
            log.warning("job %s: lease not released (%s); it lapses by itself", job_id, err)
        finally:
            if store is not None:
                store.close()

    def on_timeout(self, soft: bool, timeout: float) -> None:
        super().on_timeout(soft, timeout)
        job_id = _job_id_of(self)
        if soft or job_id is None or self.worker_pid is None:
            return
        owner = _owner(self.hostname, self.worker_pid)
        reason = f"timed out: hard time limit ({timeout:g} s) exceeded; its process was killed"
        store = None
        try:
            store = open_store(get_settings())
            store.fail(job_id, reason, owner=owner)
        except (StoreUnavailable, JobNotFound, MalformedJob) as err:
            log.error("job %s: %s; could not record it: %s", job_id, reason, err)
        finally:
            if store is not None:
                store.close()


_running: dict[str, str] = {}  # main process: job id -> owner (host:pool pid)


@worker_shutting_down.connect
def _on_cold_shutdown(how: str = "", **_: Any) -> None:
    """A cold shutdown (SIGQUIT) cancels the running jobs and Celery restores their
    messages at once. Release their leases as soon as their pool processes are gone, so
    another worker resumes them without waiting for the leases to lapse."""
    if how != "Cold" or not _running:
        return
    held = dict(_running)
    threading.Thread(target=_release_when_gone, args=(held,), name="release-leases").start()


def _release_when_gone(held: dict[str, str], wait_s: float = 15.0) -> None:
    deadline = time.monotonic() + wait_s
    for job_id, owner in held.items():
        pid = int(owner.rsplit(":", 1)[1])
        while time.monotonic() < deadline and pid_alive(pid):
            time.sleep(0.05)
        if not pid_alive(pid):
            JobRequest._release(job_id, owner)


class JobTask(Task):
    Request = JobRequest
    max_retries = None  # retries (busy elsewhere, store unreachable) are not capped here


@app.task(bind=True, base=JobTask, name=TASK_NAME)
def run_job_task(self: JobTask, job_id: Any = None, *args: Any, **kwargs: Any) -> str:
    """Run the job `job_id` from the store; returns what happened (for the worker log)."""
    if args or kwargs or not isinstance(job_id, str) or not _JOB_ID.match(job_id):
        log.error("malformed job message %r (args=%r kwargs=%r): dropped", job_id, args, kwargs)
        return "malformed"
    settings = get_settings()
    hostname = self.request.hostname or "celery"
    try:
        ctx = worker_context(hostname)
    except (SandboxUnavailable, StoreUnavailable) as exc:
        log.error("job %s: this worker cannot run jobs now (%s); retrying in 60 s", job_id, exc)
        raise self.retry(countdown=60.0) from exc
    owner = _owner(hostname, os.getpid())
    try:
        claim = ctx.store.claim(job_id, owner, settings.lease_s, settings.max_deliveries)
    except JobNotFound:
        log.error("job %s: not in the job store %s: message dropped", job_id, ctx.store.location)
        return "missing"
    except MalformedJob as exc:
        log.error("job %s: %s: message dropped", job_id, exc)
        return "malformed"
    except StoreUnavailable as exc:
        log.warning("job %s: %s; retrying in %g s", job_id, exc, STORE_RETRY_S)
        raise self.retry(countdown=STORE_RETRY_S) from exc
    if claim.outcome == "finished":
        log.info("job %s: already %s; duplicate delivery dropped", job_id, claim.job.status)
        return "duplicate"
    if claim.outcome == "exhausted":
        log.error("job %s: %s", job_id, claim.job.state.error)
        return "exhausted"
    if claim.outcome == "busy":
        wait = min(max(claim.wait_s, 1.0) + 1.0, settings.lease_s + 1.0)
        log.info("job %s: running elsewhere; checking again in %.0f s", job_id, wait)
        raise self.retry(countdown=wait)
    log.info("job %s: delivery %d starts (%s)", job_id, claim.delivery, claim.job.spec.problem.id)
    try:
        outcome = execute_job(
            ctx,
            claim,
            soft_limit_s=settings.soft_time_limit_s,
            interrupts=(SoftTimeLimitExceeded,),
            evaluators=fleet_evaluators(
                job_id=job_id,
                problem=claim.job.spec.problem,
                queue=claim.job.spec.queue,
                settings=settings,
                sandbox=ctx.sandbox,
                store=eval_store(settings),
                publish=broker_publisher(settings),
                worker=hostname,
            ),
        )
    except StoreUnavailable as exc:
        log.warning("job %s: %s; retrying in %g s", job_id, exc, STORE_RETRY_S)
        raise self.retry(countdown=STORE_RETRY_S) from exc
    return outcome.status if outcome else "not recorded"


def fleet_sweeper(settings: Settings, name: str) -> Sweeper:
    """A Celery worker's sweeper: its own store client; recovered jobs are published."""

    def send(jobs: list[Job]) -> None:
        publish(jobs, settings, priority=RECOVERED_PRIORITY)

    store = open_store(settings)
    orphans = broker_orphan_finder(
        store, settings.broker_url or "", settings.orphan_after_s, settings.connect_timeout_s
    )
    return Sweeper(settings, store, name, send, orphans)
