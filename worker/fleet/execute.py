"""Run one claimed job: the part the Celery task and the embedded worker share.

The job runs through `agents.job.run_job` with the job id as the run id, so a
redelivered job resumes its own run directory: finished attempts are reloaded, never
redone. While it runs, a lease thread renews the job's lease in the store and learns of
cancel requests and of losing the job to another delivery; the loop polls that between
rounds. Progress goes to the store as the loop reports it, each finished attempt to the
store's ledger, and the outcome is recorded once, fenced by the delivery number.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from agents.job import EvaluatorFactory, interrupted_result, run_job
from agents.loop import Progress
from agents.rundir import AttemptRecord, ProblemResult, RunDir
from kernelbench.problems.problem import Problem, ProblemError
from sandbox.base import Sandbox
from worker.fleet.jobs import JobOutcome, JobProgress, MalformedJob, materialize_problem
from worker.fleet.store import Claim, JobStore, StoreUnavailable

log = logging.getLogger(__name__)


@dataclass
class WorkerContext:
    """What a worker process brings to every job it runs."""

    store: JobStore
    home: Path
    sandbox: Sandbox
    device: str
    api_key: str | None
    name: str  # e.g. celery@host or embedded@host, for the record
    lease_s: float = 30.0


class Renewal:
    """Calls `beat` every `period_s` seconds in a daemon thread until it returns False or
    the context exits (a job's lease here, an evaluation's in worker/fleet/candidates.py)."""

    def __init__(self, name: str, period_s: float) -> None:
        self.period_s = period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            if not self.beat():
                return

    def beat(self) -> bool:
        raise NotImplementedError


class Lease(Renewal):
    """Renews a running job's lease every lease_s/3 seconds in a daemon thread."""

    def __init__(self, store: JobStore, job_id: str, delivery: int, lease_s: float) -> None:
        super().__init__(f"lease-{job_id}", lease_s / 3)
        self.store, self.job_id, self.delivery, self.lease_s = store, job_id, delivery, lease_s
        self.cancel = False
        self.lost = False
        self.deadline: float | None = None  # monotonic; past it the job stops between rounds

    def beat(self) -> bool:
        try:
            beat = self.store.heartbeat(self.job_id, self.delivery, self.lease_s)
        except StoreUnavailable as exc:
            log.warning("job %s: lease not renewed: %s", self.job_id, exc)
            return True
        self.cancel = self.cancel or beat.cancel
        if not beat.owner:
            log.warning("job %s: delivery %d lost the job; stopping", self.job_id, self.delivery)
            self.lost = True
            return False
        return True

    def timed_out(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline

    def should_stop(self) -> bool:
        return self.cancel or self.lost or self.timed_out()


def execute_job(
    ctx: WorkerContext,
    claim: Claim,
    *,
    soft_limit_s: float | None = None,
    interrupts: tuple[type[BaseException], ...] = (),
    evaluators: EvaluatorFactory | None = None,
) -> JobOutcome | None:
    """Run a claimed job to its outcome and record it; None if this delivery lost the
    job (another delivery owns it now) or the store could not record it.

    `soft_limit_s`: past it the job stops after the current round and records a timeout.
    `interrupts`: exceptions that cut the job short from outside (Celery's soft time
    limit); the job then records a timeout with what its finished attempts achieved.
    `evaluators`: how its candidates are evaluated (default: in this process's sandbox;
    the Celery task passes worker/fleet/candidates.py's, one fleet task each).
    StoreUnavailable propagates (the caller retries the delivery later); any other
    failure is recorded as the job's failure.
    """
    job = claim.job
    job_id = job.id
    started = time.perf_counter()
    store = ctx.store
    try:
        problem = materialize_problem(job.spec.problem, ctx.home, job_id)
    except (ProblemError, MalformedJob, OSError) as exc:
        log.error("job %s: cannot load its problem: %s", job_id, exc)
        store.fail(job_id, f"cannot load the problem: {exc}")
        return None
    rundir = RunDir(ctx.home, job_id)
    for found in rundir.problem(problem.id).load():  # a resumed delivery: replay the ledger
        store.record_attempt(job_id, found.record, resumed=True)

    def progress(p: Progress) -> None:
        try:
            store.set_progress(
                job_id,
                JobProgress.of(p),
            )
        except StoreUnavailable as exc:
            log.warning("job %s: progress not recorded: %s", job_id, exc)

    def on_attempt(record: AttemptRecord) -> None:
        try:
            store.record_attempt(job_id, record)
        except StoreUnavailable as exc:  # it is on disk; replayed before the finish
            log.warning("job %s: attempt %d not yet in the ledger: %s", job_id, record.attempt, exc)

    with Lease(store, job_id, claim.delivery, ctx.lease_s) as lease:
        if soft_limit_s is not None:
            lease.deadline = time.monotonic() + soft_limit_s
        try:
            _, info = run_job(
                [problem],
                job.spec.config,
                ctx.home,
                ctx.sandbox,
                run_id=job_id,
                api_key=ctx.api_key,
                device=ctx.device,
                progress=progress,
                cancelled=lease.should_stop,
                on_attempt=on_attempt,
                evaluators=evaluators,
            )
            result = info.results[problem.id]
        except interrupts:
            limit = f" ({soft_limit_s:g} s)" if soft_limit_s is not None else ""
            reason = f"timed out: the soft time limit{limit} was exceeded mid-round"
            result = _record_interrupted(problem, rundir, reason, started)
        except StoreUnavailable:
            raise
        except Exception as exc:  # the job failed; the worker goes on
            log.exception("job %s: failed", job_id)
            store.fail(job_id, f"{type(exc).__name__}: {exc}", owner=claim.job.state.owner)
            return None
    if lease.lost:
        return None
    if result.status != "done" and not lease.cancel and lease.timed_out():
        # Stopped between rounds at the deadline, or Celery's soft limit fired inside a call
        # that turned it into another error (the LLM SDK wraps exceptions): a timeout.
        reason = f"timed out: the soft time limit ({soft_limit_s:g} s) was exceeded"
        if result.stop_reason and not result.stop_reason.startswith("timed out"):
            reason += f" ({result.stop_reason})"
        result.status, result.stop_reason = "failed", reason
        _save_result(problem, rundir, result)
    outcome = _outcome(result, ctx, rundir, time.perf_counter() - started)
    for record in result.attempts:  # whatever the ledger missed during an outage
        store.record_attempt(job_id, record, resumed=True)
    if not store.finish(job_id, claim.delivery, outcome):
        return None
    log.info("job %s: %s (%s)", job_id, outcome.status, outcome.stop_reason)
    return outcome


def _record_interrupted(
    problem: Problem, rundir: RunDir, reason: str, started: float
) -> ProblemResult:
    result = interrupted_result(problem, rundir, reason, started)
    _save_result(problem, rundir, result)
    return result


def _save_result(problem: Problem, rundir: RunDir, result: ProblemResult) -> None:
    """Put a result the loop did not write itself into run.json (through its one writer)."""
    rundir.record_result(problem.id, result)


def _outcome(
    result: ProblemResult, ctx: WorkerContext, rundir: RunDir, seconds: float
) -> JobOutcome:
    source = None
    if result.best is not None:
        path = Path(result.best.candidate_path)
        try:
            source = path.read_text(encoding="utf-8")
        except OSError as exc:
            log.warning("best candidate %s unreadable: %s", path, exc)
    return JobOutcome(
        status=result.status,
        stop_reason=result.stop_reason,
        best=result.best,
        best_source=source,
        attempts=len(result.attempts),
        rounds_run=result.rounds_run,
        usage=result.usage,
        duration_s=round(seconds, 3),
        device=ctx.device,
        run_dir=str(rundir.root),
        worker=ctx.name,
    )
