"""A round's candidates evaluated across the fleet: each evaluation is its own Celery task.

The loop (agents/loop.py) evaluates a round's candidates in threads through one
`Evaluator`-shaped callable. On the fleet the job task hands it a `FleetEvaluator`
(through `agents.job.run_job(evaluators=...)`): each call records the evaluation in Redis
(worker/fleet/store_evals.py: the problem as the job carries it, the candidate's source,
the evaluation options and run id; never a key), publishes a message holding its id on the
evaluation queue of the job's queue (`gpu.h100` -> `gpu.h100.eval`), and waits for the
verdict; the round gathers its threads as before. The evaluating worker runs it through
its own configured sandbox exactly as an in-process evaluation would
(worker/fleet/eval_tasks.py). The embedded default keeps evaluating in the job's threads.

Why a separate evaluation queue, served by slots that never run jobs: a job task blocks
while its candidates are evaluated. Were evaluations on the job queue, every pool slot of
the fleet could be held by a job waiting for evaluations that no free slot is left to run
(Celery's warning against waiting on subtasks inside a task). `kwright worker` therefore
runs, beside its job pool, a second Celery worker process consuming only `<queue>.eval`
(`--eval-concurrency`, default 1: on a GPU machine one evaluation at a time keeps timings
clean, while the job slot mostly waits on the LLM). Evaluations never wait on anything, so
they always drain, and a waiting job always gets its verdicts. Two nets make a job never
hang on a fleet started otherwise: at its first evaluation the job asks the workers
whether anyone consumes its evaluation queue (a plain `celery ... -Q gpu.h100` fleet has
no such worker) and, if none does, evaluates in its own threads as the embedded worker
does; and an evaluation nobody has started after `KWRIGHT_EVAL_WAIT_S` is claimed and run
by the job itself.

Crash recovery: an evaluation holds a lease its worker renews. When the lease lapses by
the recovery grace (that worker was SIGKILLed, its machine lost), the waiting job puts the
evaluation back on its queue, once; lost a second time it is recorded as an `error`
verdict of kind `infra` for that candidate. Either way the round and the job go on, and
the other candidates' verdicts stand. A lost job (its own worker gone) is recovered as
before (worker/fleet/sweeper.py); a finished evaluation's verdict is then already on disk
in the run directory's attempt, and is not redone.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from kombu.exceptions import OperationalError

from agents.job import EvaluatorFactory
from agents.loop import Evaluator
from kernelbench.problems.problem import Problem
from kernelbench.protocol.request import EvalOptions
from kernelbench.protocol.result import EvalResult
from sandbox.base import Sandbox
from worker.config import Settings
from worker.fleet.celery_app import EVAL_TASK_NAME, make_app
from worker.fleet.execute import Renewal
from worker.fleet.jobs import ProblemRef
from worker.fleet.liveness import queue_workers
from worker.fleet.queues import eval_queue
from worker.fleet.store_evals import EvalNotFound, EvalRecord, EvalStore, new_eval_id
from worker.fleet.store_open import store_location
from worker.fleet.store_types import StoreUnavailable
from worker.fleet.transport import BrokerUnavailable

log = logging.getLogger(__name__)

EVAL_MAX_DELIVERIES = 2  # a lost evaluation is run once more, then recorded as an error
FIRST_PRIORITY, RETRY_PRIORITY = 6, 0  # a retried evaluation goes ahead (0 is highest)
POLL_S = 0.2
ASK_WORKERS_S = 2.0
Publish = Callable[[EvalRecord, int], None]


def eval_store_url(settings: Settings) -> str:
    """The job store's Redis, else the broker's."""
    url = store_location(settings)
    return (
        url if url.split(":", 1)[0] in ("redis", "rediss", "unix") else settings.broker_url or url
    )


_stores: dict[str, EvalStore] = {}
_publishers: dict[str, Publish] = {}


def eval_store(settings: Settings) -> EvalStore:
    """This process's client of the evaluation records."""
    url = eval_store_url(settings)
    store = _stores.get(url)
    if store is None:
        store = _stores[url] = EvalStore(url, connect_timeout_s=settings.connect_timeout_s)
    return store


def close_eval_stores() -> None:
    while _stores:
        _stores.popitem()[1].close()


def broker_publisher(settings: Settings) -> Publish:
    """This process's publisher of evaluation messages (each holds only its id)."""
    key = settings.broker_url or ""
    if key not in _publishers:
        _publishers[key] = _make_publisher(settings)
    return _publishers[key]


def _make_publisher(settings: Settings) -> Publish:
    app = make_app(settings)
    policy = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}

    def publish(record: EvalRecord, priority: int) -> None:
        try:
            app.send_task(
                EVAL_TASK_NAME,
                args=[record.id],
                task_id=record.id,
                queue=record.queue,
                priority=priority,
                retry=True,
                retry_policy=policy,
            )
        except (OperationalError, OSError) as exc:
            raise BrokerUnavailable(f"cannot publish evaluation {record.id}: {exc}") from exc

    return publish


class EvalLease(Renewal):
    """Renews an evaluation's lease every lease_s/3 seconds in a daemon thread."""

    def __init__(self, store: EvalStore, eval_id: str, delivery: int, lease_s: float) -> None:
        super().__init__(f"lease-{eval_id}", lease_s / 3)
        self.store, self.eval_id, self.delivery, self.lease_s = store, eval_id, delivery, lease_s

    def beat(self) -> bool:
        try:
            if not self.store.heartbeat(self.eval_id, self.delivery, self.lease_s):
                log.warning("evaluation %s: this delivery lost it", self.eval_id)
                return False
        except StoreUnavailable as exc:
            log.warning("evaluation %s: lease not renewed: %s", self.eval_id, exc)
        return True


class FleetEvaluator:
    """Evaluates a job's candidates as fleet tasks; same call as `agents.loop.Evaluator`."""

    def __init__(
        self,
        *,
        job_id: str,
        problem: ProblemRef,
        queue: str,
        options: EvalOptions,
        run_id: str,
        settings: Settings,
        local: Callable[[Problem, str], EvalResult],
        store: EvalStore,
        publish: Publish,
        worker: str,
        served: Callable[[str], bool] | None = None,
    ) -> None:
        self.job_id, self.problem, self.queue = job_id, problem, eval_queue(queue)
        self.options, self.run_id, self.settings = options, run_id, settings
        self.local, self.store, self.publish, self.worker = local, store, publish, worker
        self._served = served or (lambda q: eval_queue_served(settings, q))
        self._lock = threading.Lock()
        self._fleet: bool | None = None  # None: not asked yet

    def _use_fleet(self) -> bool:
        with self._lock:
            if self._fleet is None:
                self._fleet = self._served(self.queue)
                if not self._fleet:
                    log.warning(
                        "job %s: no live worker consumes %s; its candidates are evaluated by "
                        "the job's own worker (start `kwright worker`, which serves it)",
                        self.job_id,
                        self.queue,
                    )
            return self._fleet

    def __call__(self, problem: Problem, source: str) -> EvalResult:
        if not self._use_fleet():
            return self.local(problem, source)
        record = EvalRecord(
            id=new_eval_id(),
            job_id=self.job_id,
            run_id=self.run_id,
            problem=self.problem,
            source=source,
            options=self.options,
            queue=self.queue,
        )
        try:
            self.store.add(record)
            self.publish(record, FIRST_PRIORITY)
        except (StoreUnavailable, BrokerUnavailable) as exc:
            log.warning("job %s: %s; evaluating the candidate here", self.job_id, exc)
            here = self._evaluate_here(record, problem)
            return here if here is not None else self.local(problem, source)
        log.info("job %s: candidate evaluation %s on %s", self.job_id, record.id, self.queue)
        return self._wait(record, problem)

    def _wait(self, record: EvalRecord, problem: Problem) -> EvalResult:
        s = self.settings
        waiting_since = time.monotonic()
        while True:
            try:
                current = self.store.get(record.id)
            except StoreUnavailable as exc:
                log.warning("job %s: %s; still waiting for %s", self.job_id, exc, record.id)
                time.sleep(max(POLL_S, 1.0))
                continue
            if current is None:  # expired or removed by hand: nothing to wait for
                return self.local(problem, record.source)
            if current.status == "done" and current.result is not None:
                return current.result
            if current.status == "queued" and time.monotonic() - waiting_since > s.eval_wait_s:
                log.warning(
                    "job %s: evaluation %s not started by any worker in %.0f s; evaluating it here",
                    self.job_id,
                    record.id,
                    s.eval_wait_s,
                )
                here = self._evaluate_here(current, problem)
                if here is not None:
                    return here
            if current.lapsed(s.recovery_grace_s):
                self._recover(record.id)
                waiting_since = time.monotonic()
            time.sleep(POLL_S)

    def _recover(self, eval_id: str) -> None:
        s = self.settings
        try:
            changed = self.store.requeue_lapsed(eval_id, s.recovery_grace_s, EVAL_MAX_DELIVERIES)
        except (StoreUnavailable, EvalNotFound) as exc:
            log.warning("job %s: %s", self.job_id, exc)
            return
        if changed is None:
            return
        lost = changed.history[-1]
        if changed.status == "done":
            log.error(
                "job %s: evaluation %s: lost again; recorded as an error", self.job_id, eval_id
            )
            return
        log.warning(
            "job %s: evaluation %s lost with %s (pid %d); back on %s",
            self.job_id,
            eval_id,
            lost.worker,
            lost.pid,
            changed.queue,
        )
        try:
            self.publish(changed, RETRY_PRIORITY)
        except BrokerUnavailable as exc:  # nobody takes it: the wait above evaluates it here
            log.warning("job %s: %s", self.job_id, exc)

    def _evaluate_here(self, record: EvalRecord, problem: Problem) -> EvalResult | None:
        """Claim the evaluation and run it in this process; None if a worker has it."""
        s = self.settings
        try:
            delivery = self.store.claim(record.id, self.worker, os.getpid(), s.lease_s)
        except (StoreUnavailable, EvalNotFound):  # not recorded: evaluate without a record
            return self.local(problem, record.source)
        if delivery is None:
            return None
        with EvalLease(self.store, record.id, delivery, s.lease_s):
            result = self.local(problem, record.source)
        try:
            self.store.finish(record.id, delivery, result)
        except StoreUnavailable as exc:
            log.warning("job %s: evaluation %s not recorded: %s", self.job_id, record.id, exc)
        return result


def eval_queue_served(settings: Settings, queue: str) -> bool:
    """Whether a live worker consumes `queue` (asked by broadcast); True if they cannot be
    asked (the wait's own net then applies)."""
    found = queue_workers(settings, timeout_s=ASK_WORKERS_S)
    return found is None or bool(found.get(queue))


def fleet_evaluators(
    *,
    job_id: str,
    problem: ProblemRef,
    queue: str,
    settings: Settings,
    sandbox: Sandbox,
    store: EvalStore,
    publish: Publish,
    worker: str,
) -> EvaluatorFactory:
    """The factory `agents.job.run_job` takes: a FleetEvaluator per problem, falling back on
    an in-process `Evaluator` through this worker's sandbox."""

    def make(options: EvalOptions, run_id: str) -> Callable[[Problem, str], EvalResult]:
        return FleetEvaluator(
            job_id=job_id,
            problem=problem,
            queue=queue,
            options=options,
            run_id=run_id,
            settings=settings,
            local=Evaluator(sandbox, options, run_id=run_id),
            store=store,
            publish=publish,
            worker=worker,
        )

    return make
