"""The Celery task that evaluates one candidate of a running job (worker/fleet/candidates.py).

A message carries only the evaluation id (also the Celery task id); the record in Redis
holds the problem as the job carries it, the candidate's source, the options and the run
id (worker/fleet/store_evals.py). A delivery claims the evaluation (a record already
running or done means a duplicate message: dropped), evaluates the candidate through this
worker's configured sandbox exactly as an in-process evaluation does, renewing a lease
meanwhile, and records the verdict, fenced by its delivery number. A delivery that dies
leaves the lease to lapse; the waiting job then puts the evaluation back (or records it as
an infrastructure error), so nothing here needs to recover anything.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

from celery import Task

from kernelbench.harness.evaluate import evaluate
from kernelbench.problems.problem import ProblemError
from kernelbench.protocol.result import ErrorKind, EvalResult, Status
from sandbox.base import SandboxUnavailable
from worker.config import get_settings
from worker.fleet.candidates import EvalLease, eval_store
from worker.fleet.celery_app import EVAL_TASK_NAME, app
from worker.fleet.jobs import MalformedJob, materialize_problem
from worker.fleet.store_evals import EvalNotFound
from worker.fleet.store_types import StoreUnavailable
from worker.fleet.tasks import STORE_RETRY_S, worker_context

log = logging.getLogger(__name__)

_EVAL_ID = re.compile(r"^ev-[0-9a-f]{6,32}$")


@app.task(bind=True, name=EVAL_TASK_NAME, max_retries=None)
def evaluate_candidate_task(self: Task, eval_id: Any = None, *args: Any, **kwargs: Any) -> str:
    """Evaluate the candidate of evaluation `eval_id`; returns what happened (for the log)."""
    if args or kwargs or not isinstance(eval_id, str) or not _EVAL_ID.match(eval_id):
        log.error(
            "malformed evaluation message %r (args=%r kwargs=%r): dropped", eval_id, args, kwargs
        )
        return "malformed"
    settings = get_settings()
    hostname = self.request.hostname or "celery"
    try:
        ctx = worker_context(hostname)
        store = eval_store(settings)
        delivery = store.claim(eval_id, hostname, os.getpid(), settings.lease_s)
        record = store.get(eval_id) if delivery is not None else None
    except EvalNotFound:
        log.error("evaluation %s: not in the store: message dropped", eval_id)
        return "missing"
    except (SandboxUnavailable, StoreUnavailable) as exc:
        log.warning("evaluation %s: %s; retrying in %g s", eval_id, exc, STORE_RETRY_S)
        raise self.retry(countdown=STORE_RETRY_S) from exc
    if delivery is None or record is None:
        log.info("evaluation %s: already started or done; duplicate delivery dropped", eval_id)
        return "duplicate"
    log.info("evaluation %s of job %s: delivery %d starts", eval_id, record.job_id, delivery)
    with EvalLease(store, eval_id, delivery, settings.lease_s):
        try:
            problem = materialize_problem(record.problem, ctx.home, record.job_id)
        except (ProblemError, MalformedJob, OSError) as exc:
            result = EvalResult(
                status=Status.ERROR,
                error_kind=ErrorKind.INFRA,
                problem_id=record.problem.id,
                reason=f"the evaluating worker {hostname} cannot load the problem: {exc}",
            )
        else:
            result = evaluate(
                problem, record.source, record.options, ctx.sandbox, run_id=record.run_id
            )
    try:
        recorded = store.finish(eval_id, delivery, result)
    except StoreUnavailable as exc:  # the lease lapses; the job has it evaluated again
        log.error("evaluation %s: verdict not recorded: %s", eval_id, exc)
        return "not recorded"
    log.info("evaluation %s: %s%s", eval_id, result.status, "" if recorded else " (superseded)")
    return str(result.status)
