"""The fleet's Celery app: `celery -A worker.fleet.celery_app worker -Q QUEUES -c N`.

`kwright worker --queues Q --concurrency N` runs exactly that. Configuration comes from
the KWRIGHT_ settings (worker/config.py):

* broker `KWRIGHT_BROKER_URL` (Redis); one queue per GPU kind (`gpu.h100`, ..., `cpu`),
  default `worker.fleet.queues.default_queue()` for both submitting and consuming;
* `task_acks_late` + `task_reject_on_worker_lost`: a job whose worker process dies goes
  back to the queue; the store caps how often a job may be started (max_deliveries);
* `worker_prefetch_multiplier=1`: a worker holds no job it is not running;
* soft/hard time limits (the soft one makes the job record a clean timeout), the Redis
  visibility timeout above the hard one (a backstop: a whole worker lost is found by the
  other workers' sweepers from its lapsed lease, worker/fleet/sweeper.py),
  `worker_max_tasks_per_child`;
* job messages carry a priority (worker/fleet/submit.py): a recovered job goes first;
* JSON messages only; no result backend (results live in the job store, a candidate's
  verdict in its evaluation record: worker/fleet/store_evals.py);
* a second task, `kernelwright.evaluate_candidate`, evaluates one candidate of a running job
  on the evaluation queue `<queue>.eval` (worker/fleet/candidates.py says why apart).

Importing this module is cheap (the submitting side needs only `send_task`); the task
module, which imports torch, is loaded by the worker.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, signals

from worker.config import Settings, get_settings
from worker.fleet.queues import default_queue

log = logging.getLogger(__name__)

TASK_NAME = "kernelwright.run_job"
EVAL_TASK_NAME = "kernelwright.evaluate_candidate"


def celery_config(settings: Settings) -> dict[str, Any]:
    transport = {
        "visibility_timeout": settings.visibility_timeout,
        "unacked_restore_interval": settings.unacked_restore_interval_s,
        "unacked_restore_throttle": settings.unacked_restore_throttle,
        "socket_connect_timeout": settings.connect_timeout_s,
        "socket_timeout": max(10.0, settings.connect_timeout_s),
        "health_check_interval": 25,
    }
    return {
        "broker_url": settings.broker_url,
        # kombu's Redis transport, hardened against non-JSON items in a queue.
        "broker_transport": "worker.fleet.transport:Transport",
        "broker_transport_options": transport,
        "broker_connection_timeout": settings.connect_timeout_s,
        "broker_connection_retry_on_startup": True,  # a worker waits for Redis to come up
        "broker_connection_max_retries": None,
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        "task_ignore_result": True,
        "result_backend": None,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        "task_soft_time_limit": settings.soft_time_limit_s,
        "task_time_limit": settings.hard_limit,
        "worker_max_tasks_per_child": settings.max_tasks_per_child,
        "task_default_queue": default_queue(settings.queue),
        "task_create_missing_queues": True,
        # A broker outage does not kill running jobs; a message restored meanwhile finds the
        # job leased by its live worker and waits (see worker.fleet.store.JobStore.claim).
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "worker_send_task_events": False,
        "include": ["worker.fleet.tasks", "worker.fleet.eval_tasks"],
    }


def make_app(settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    celery = Celery("kernelwright")
    celery.conf.update(celery_config(settings))
    return celery


app = make_app()


@signals.worker_init.connect
def _require_broker(**_: Any) -> None:
    if not app.conf.broker_url:
        raise SystemExit(
            "kwright worker: KWRIGHT_BROKER_URL is not set; a Celery worker needs a Redis "
            "broker (without one, `kwright worker` runs the embedded worker instead)"
        )
    scheme = str(app.conf.broker_url).split(":", 1)[0]
    if scheme not in ("redis", "rediss"):
        raise SystemExit(f"kwright worker: only Redis brokers are supported, not {scheme!r}")
